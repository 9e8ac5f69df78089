//! Looking kinds up in the table ([`super::KINDS`]): by keyword, by target family, and their
//! failure modes. The checker reads a kind's settings and targets through these, the run
//! builds its action, the risk model reads its failure mode.

use super::KINDS;
use super::fault_action::FaultAction;
use super::fault_kind::{FailureMode, FaultKind};
use super::settings::Settings;
use crate::plan::{FaultPlan, TargetFamily};

/// The kind with this keyword.
pub fn kind(keyword: &str) -> Option<&'static dyn FaultKind> {
    KINDS.iter().copied().find(|kind| kind.keyword() == keyword)
}

/// The keywords of the kinds that act on a target family.
pub fn kinds_for(family: TargetFamily) -> Vec<&'static str> {
    KINDS
        .iter()
        .filter(|kind| kind.targets().contains(&family))
        .map(|kind| kind.keyword())
        .collect()
}

/// The failure mode of a kind (an unknown keyword: a dependency failure).
pub fn failure_mode(keyword: &str) -> FailureMode {
    kind(keyword).map_or(FailureMode::DependencyFailure, |kind| kind.failure_mode())
}

impl FaultAction {
    /// Builds the action of `fault` through its kind; `toxic_name` names the toxic on its
    /// link.
    pub fn build(fault: &FaultPlan, toxic_name: &str) -> Result<FaultAction, String> {
        let kind = kind(&fault.kind)
            .ok_or_else(|| format!("fault `{}`: unknown kind `{}`", fault.name, fault.kind))?;
        if !kind.targets().contains(&fault.target_family) {
            return Err(format!(
                "fault `{}`: `{}` cannot act on {}",
                fault.name,
                fault.kind,
                fault.target_family.describe()
            ));
        }
        kind.build(&Settings::new(fault, toxic_name))
            .map_err(|err| format!("fault `{}`: {err}", fault.name))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::faults::{Fault, FaultAction};
    use crate::plan::{Arrival, Distribution, FaultPlan, Location, Value};
    use crate::proxy::{Stream, ToxicConfig};

    pub(crate) fn plan(kind: &str, family: TargetFamily, params: &[(&str, Value)]) -> FaultPlan {
        FaultPlan {
            name: "f".into(),
            kind: kind.into(),
            profile: None,
            target: "t".into(),
            target_family: family,
            params: params
                .iter()
                .map(|(k, v)| (k.to_string(), v.clone()))
                .collect(),
            arrival: Arrival::At {
                times_ms: vec![0.0],
            },
            lasting: None,
            probability: 1.0,
            at: Location {
                file: "x.pfi".into(),
                line: 1,
                column: 1,
                start: 0,
                end: 0,
            },
        }
    }

    fn build(kind: &str, family: TargetFamily, params: &[(&str, Value)]) -> FaultAction {
        FaultAction::build(&plan(kind, family, params), "f-1")
            .unwrap_or_else(|err| panic!("{kind}: {err}"))
    }

    fn toxic(action: FaultAction) -> ToxicConfig {
        match action {
            FaultAction::Toxic(config) => config,
            other => panic!("not a toxic: {other:?}"),
        }
    }

    fn fault(action: FaultAction) -> Box<dyn Fault> {
        match action {
            FaultAction::Process(fault) | FaultAction::Container(fault) => fault,
            other => panic!("not a process or container fault: {other:?}"),
        }
    }

    #[test]
    fn one_entry_per_keyword_with_targets_and_a_summary() {
        let mut keywords: Vec<&str> = KINDS.iter().map(|kind| kind.keyword()).collect();
        keywords.sort();
        keywords.dedup();
        assert_eq!(keywords.len(), KINDS.len());
        for kind in KINDS {
            assert!(!kind.targets().is_empty(), "{}", kind.keyword());
            assert!(!kind.summary().is_empty(), "{}", kind.keyword());
        }
        assert!(kinds_for(TargetFamily::Process).contains(&"pause"));
        assert!(!kinds_for(TargetFamily::Process).contains(&"partition"));
        assert!(kinds_for(TargetFamily::Container).contains(&"partition"));
        assert!(kinds_for(TargetFamily::HttpLink).contains(&"http_error"));
        assert!(!kinds_for(TargetFamily::TcpLink).contains(&"http_error"));
    }

    #[test]
    fn failure_modes_come_from_the_kinds() {
        assert_eq!(failure_mode("cpu_limit"), FailureMode::Starvation);
        assert_eq!(failure_mode("pause"), FailureMode::Crash);
        assert_eq!(failure_mode("jitter"), FailureMode::Latency);
        assert_eq!(failure_mode("http_error"), FailureMode::HttpError);
        assert_eq!(failure_mode("partition"), FailureMode::DependencyFailure);
        assert_eq!(failure_mode("nope"), FailureMode::DependencyFailure);
    }

    #[test]
    fn limit_kinds_soften_their_settings_and_others_leave_it_to_the_caller() {
        let mut params = plan(
            "cpu_limit",
            TargetFamily::Process,
            &[("cores", Value::Number(0.2))],
        )
        .params;
        let how = kind("cpu_limit").unwrap().soften(&mut params, 0.5);
        assert_eq!(how.as_deref(), Some("50% severity: 0.40 cores"));
        assert_eq!(params.get("cores"), Some(&Value::Number(0.4)));
        let mut params = plan("pause", TargetFamily::Process, &[]).params;
        assert_eq!(kind("pause").unwrap().soften(&mut params, 0.5), None);
        assert_eq!(kind("latency").unwrap().soften(&mut params, 0.5), None);
    }

    #[test]
    fn latency_keeps_its_distribution_and_direction() {
        let delay = Distribution::Normal {
            mean: 40.0,
            sd: 10.0,
        };
        let config = toxic(build(
            "latency",
            TargetFamily::TcpLink,
            &[("delay", Value::Duration(delay.clone()))],
        ));
        assert_eq!(config.name, "f-1");
        assert_eq!(config.toxic.type_name(), "latency_distribution");
        assert_eq!(config.stream, Stream::Downstream);
        let http = toxic(build(
            "latency",
            TargetFamily::HttpLink,
            &[
                ("delay", Value::Duration(delay)),
                ("path", Value::Text("/api".into())),
            ],
        ));
        assert_eq!(http.toxic.type_name(), "http_delay");
        assert_eq!(http.stream, Stream::Upstream);
        assert_eq!(http.toxic.attributes()["path_prefix"], "/api");
    }

    #[test]
    fn link_kinds_install_their_toxics_typed() {
        let cases = [
            ("reset", TargetFamily::TcpLink, "reset_peer"),
            ("blackhole", TargetFamily::TcpLink, "timeout"),
            ("down", TargetFamily::TcpLink, "down"),
            ("partition", TargetFamily::TcpLink, "down"),
            ("abort", TargetFamily::HttpLink, "http_abort"),
        ];
        for (kind, family, type_name) in cases {
            assert_eq!(toxic(build(kind, family, &[])).toxic.type_name(), type_name);
        }
        let error = toxic(build(
            "http_error",
            TargetFamily::HttpLink,
            &[
                ("status", Value::Integer(503)),
                ("rate", Value::Fraction(0.5)),
            ],
        ));
        assert_eq!(error.toxic.type_name(), "http_error");
        assert_eq!(error.toxicity, 0.5);
        assert_eq!(error.toxic.attributes()["status"], 503);
        let slicer = toxic(build(
            "slicer",
            TargetFamily::TcpLink,
            &[
                ("size", Value::Size(64.0)),
                ("delay", Value::Duration(Distribution::Fixed { value: 2.0 })),
                ("direction", Value::Word("both".into())),
                ("toxicity", Value::Fraction(0.25)),
            ],
        ));
        assert_eq!(slicer.toxic.attributes()["average_size"], 64);
        assert_eq!(slicer.toxic.attributes()["delay"], 2000);
        assert_eq!(slicer.stream, Stream::Both);
        assert_eq!(slicer.toxicity, 0.25);
        let bandwidth = toxic(build(
            "bandwidth",
            TargetFamily::TcpLink,
            &[
                ("rate", Value::Bandwidth(100.0)),
                ("per", Value::Word("link".into())),
            ],
        ));
        assert_eq!(bandwidth.toxic.attributes()["rate"], 1);
        assert_eq!(bandwidth.toxic.attributes()["scope"], "link");
    }

    #[test]
    fn process_and_container_kinds_build_their_faults() {
        let cases = [
            (
                "kill",
                vec![("signal", Value::Word("SIGTERM".into()))],
                "kill with SIGTERM",
            ),
            ("kill", vec![], "kill with SIGKILL"),
            ("pause", vec![], "pause (SIGSTOP)"),
            ("stop", vec![], "stop (graceful)"),
            (
                "stop",
                vec![(
                    "grace",
                    Value::Duration(Distribution::Fixed { value: 250.0 }),
                )],
                "stop (graceful, 250 ms)",
            ),
            ("restart", vec![], "restart"),
            (
                "cpu_limit",
                vec![("cores", Value::Number(0.2))],
                "cpu_limit 0.2 cores",
            ),
            (
                "memory_limit",
                vec![("limit", Value::Size(67108864.0))],
                "memory_limit 64 MiB",
            ),
            (
                "io_limit",
                vec![
                    ("read", Value::Bandwidth(1048576.0)),
                    ("weight", Value::Integer(50)),
                ],
                "io_limit read 1048576 B/s, weight 50",
            ),
        ];
        for (kind, params, described) in cases {
            let action = build(kind, TargetFamily::Process, &params);
            assert!(matches!(action, FaultAction::Process(_)), "{kind}");
            let built = fault(action);
            assert_eq!(built.keyword(), kind);
            assert_eq!(built.describe(), described);
            let action = build(kind, TargetFamily::Container, &params);
            assert!(matches!(action, FaultAction::Container(_)), "{kind}");
        }
        let partition = fault(build(
            "partition",
            TargetFamily::Container,
            &[("network", Value::Text("shop".into()))],
        ));
        assert!(partition.describe().contains("shop"));
    }

    #[test]
    fn refuses_what_the_kind_cannot_do() {
        let err = |kind: &str, family, params: &[(&str, Value)]| {
            FaultAction::build(&plan(kind, family, params), "x").unwrap_err()
        };
        let e = err("latency", TargetFamily::Process, &[]);
        assert!(e.contains("cannot act on a process"), "{e}");
        let e = err("partition", TargetFamily::Process, &[]);
        assert!(e.contains("cannot act on a process"), "{e}");
        let e = err("nope", TargetFamily::Process, &[]);
        assert!(e.contains("unknown kind"), "{e}");
        let e = err(
            "memory_limit",
            TargetFamily::Process,
            &[("limit", Value::Size(10.0))],
        );
        assert!(e.contains("at least"), "{e}");
        let e = err("io_limit", TargetFamily::Process, &[]);
        assert!(e.contains("read_bps, write_bps or weight"), "{e}");
        let e = err(
            "kill",
            TargetFamily::Process,
            &[("signal", Value::Word("SIGNOPE".into()))],
        );
        assert!(e.contains("signal"), "{e}");
    }
}
