//! Turning a planned fault into what the runtime applies: a process or container fault from
//! the fault tables (`faults::process_fault`, `faults::container_fault`), or a toxic
//! installed on a proxied link.

use crate::faults::{Fault, FaultKind, container_fault, process_fault};
use crate::plan::{FaultPlan, TargetFamily, Value};
use crate::proxy::toxics;
use crate::proxy::{Stream, ToxicConfig};
use serde_json::{Map, json};

/// What one planned fault does when it is applied.
#[derive(Debug)]
pub enum FaultAction {
    Process(Box<dyn Fault>),
    /// Applied to every container the resource selected.
    Container(Box<dyn Fault>),
    Toxic(ToxicConfig),
}

/// Builds the action of `fault`; `toxic_name` names the toxic on its link.
pub fn build(fault: &FaultPlan, toxic_name: &str) -> Result<FaultAction, String> {
    match fault.target_family {
        TargetFamily::Process => {
            let kind = process_fault(&fault.kind);
            from_table(fault, kind, "a process").map(FaultAction::Process)
        }
        TargetFamily::Container => {
            let kind = container_fault(&fault.kind);
            from_table(fault, kind, "a container").map(FaultAction::Container)
        }
        TargetFamily::TcpLink | TargetFamily::HttpLink => {
            let http = fault.target_family == TargetFamily::HttpLink;
            toxic(fault, toxic_name, http).map(FaultAction::Toxic)
        }
    }
}

fn from_table(
    fault: &FaultPlan,
    kind: Option<&'static FaultKind>,
    family: &str,
) -> Result<Box<dyn Fault>, String> {
    let kind = kind.ok_or_else(|| {
        format!(
            "fault `{}`: `{}` cannot act on {family}",
            fault.name, fault.kind
        )
    })?;
    let params = match fault.kind.as_str() {
        "kill" => match fault.params.get("signal") {
            Some(Value::Word(signal)) => json!({ "signal": signal }),
            _ => json!({}),
        },
        "cpu_limit" => json!({ "cores": number(fault, "cores")? }),
        "memory_limit" => json!({ "bytes": number(fault, "limit")?.round() as u64 }),
        "io_limit" => {
            let mut map = Map::new();
            for (from, to) in [
                ("read", "read_bps"),
                ("write", "write_bps"),
                ("weight", "weight"),
            ] {
                if let Some(value) = optional_number(fault, from) {
                    map.insert(to.to_string(), json!(value.round() as u64));
                }
            }
            serde_json::Value::Object(map)
        }
        "partition" => match fault.params.get("network") {
            Some(Value::Text(network)) | Some(Value::Word(network)) => {
                json!({ "network": network })
            }
            _ => json!({}),
        },
        // pause, stop and restart take no settings (their grace is the resource's).
        _ => json!({}),
    };
    (kind.build)(params).map_err(|err| format!("fault `{}`: {err}", fault.name))
}

fn toxic(fault: &FaultPlan, name: &str, http: bool) -> Result<ToxicConfig, String> {
    let mut attributes = Map::new();
    let mut toxicity = optional_number(fault, "toxicity").unwrap_or(1.0);
    let type_name = match fault.kind.as_str() {
        "latency" => {
            let Some(Value::Duration(delay)) = fault.params.get("delay") else {
                return Err(format!("fault `{}`: latency needs a `delay`", fault.name));
            };
            attributes.insert("distribution".into(), json!(delay));
            if http {
                "http_delay"
            } else {
                "latency_distribution"
            }
        }
        "jitter" => {
            attributes.insert("latency".into(), json!(millis(fault, "delay")));
            attributes.insert("jitter".into(), json!(millis(fault, "jitter")));
            "latency"
        }
        "bandwidth" => {
            let rate = number(fault, "rate")?;
            // Toxiproxy's unit: KB/s of 1000 bytes; at least 1.
            attributes.insert(
                "rate".into(),
                json!(((rate / 1000.0).round() as u64).max(1)),
            );
            if matches!(fault.params.get("per"), Some(Value::Word(per)) if per == "link") {
                attributes.insert("scope".into(), json!("link"));
            }
            "bandwidth"
        }
        "slow_close" => {
            attributes.insert("delay".into(), json!(millis(fault, "delay")));
            "slow_close"
        }
        "timeout" => {
            attributes.insert("timeout".into(), json!(millis(fault, "timeout")));
            "timeout"
        }
        "blackhole" => {
            attributes.insert("timeout".into(), json!(0));
            "timeout"
        }
        "reset" => {
            attributes.insert("timeout".into(), json!(millis(fault, "timeout")));
            "reset_peer"
        }
        "slicer" => {
            attributes.insert("average_size".into(), json!(number(fault, "size")? as u64));
            let variation = optional_number(fault, "variation").unwrap_or(0.0);
            attributes.insert("size_variation".into(), json!(variation as u64));
            attributes.insert("delay".into(), json!(millis(fault, "delay") * 1000));
            "slicer"
        }
        "limit_data" => {
            attributes.insert("bytes".into(), json!(number(fault, "bytes")? as u64));
            "limit_data"
        }
        "down" | "partition" => "down",
        "http_error" => {
            attributes.insert("status".into(), json!(number(fault, "status")? as u64));
            if let Some(Value::Text(body)) = fault.params.get("body") {
                attributes.insert("body".into(), json!(body));
            }
            toxicity = optional_number(fault, "rate").unwrap_or(toxicity);
            "http_error"
        }
        "abort" => {
            toxicity = optional_number(fault, "rate").unwrap_or(toxicity);
            "http_abort"
        }
        other => {
            return Err(format!(
                "fault `{}`: `{other}` cannot act on a link",
                fault.name
            ));
        }
    };
    for (from, to) in [
        ("method", "method"),
        ("path", "path_prefix"),
        ("header", "header"),
    ] {
        if let Some(Value::Text(text)) = fault.params.get(from) {
            attributes.insert(to.into(), json!(text));
        }
    }
    let toxic = toxics::build(type_name, &serde_json::Value::Object(attributes))
        .map_err(|err| format!("fault `{}`: {err}", fault.name))?;
    let stream = match fault.params.get("direction") {
        Some(Value::Word(direction)) => direction
            .parse::<Stream>()
            .map_err(|err| format!("fault `{}`: {}", fault.name, err.0))?,
        _ if http => Stream::Upstream,
        _ => Stream::Downstream,
    };
    Ok(ToxicConfig {
        name: name.to_string(),
        stream,
        toxicity,
        toxic,
    })
}

fn optional_number(fault: &FaultPlan, name: &str) -> Option<f64> {
    match fault.params.get(name)? {
        Value::Size(x) | Value::Bandwidth(x) | Value::Fraction(x) | Value::Number(x) => Some(*x),
        Value::Integer(i) => Some(*i as f64),
        Value::Duration(d) => Some(d.mean()),
        Value::Text(_) | Value::Word(_) => None,
    }
}

fn number(fault: &FaultPlan, name: &str) -> Result<f64, String> {
    optional_number(fault, name)
        .ok_or_else(|| format!("fault `{}` needs a numeric `{name}`", fault.name))
}

/// A duration setting in whole milliseconds (0 when absent).
fn millis(fault: &FaultPlan, name: &str) -> u64 {
    optional_number(fault, name).unwrap_or(0.0).max(0.0).round() as u64
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Arrival, Distribution, Location};

    fn fault(kind: &str, family: TargetFamily, params: &[(&str, Value)]) -> FaultPlan {
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

    fn toxic_of(action: FaultAction) -> ToxicConfig {
        match action {
            FaultAction::Toxic(config) => config,
            FaultAction::Process(fault) | FaultAction::Container(fault) => {
                panic!("not a toxic: {fault:?}")
            }
        }
    }

    #[test]
    fn latency_keeps_its_distribution() {
        let delay = Distribution::Normal {
            mean: 40.0,
            sd: 10.0,
        };
        let plan = fault(
            "latency",
            TargetFamily::TcpLink,
            &[("delay", Value::Duration(delay))],
        );
        let config = toxic_of(build(&plan, "f-1").unwrap());
        assert_eq!(config.name, "f-1");
        assert_eq!(config.toxic.type_name(), "latency_distribution");
        assert_eq!(config.stream, Stream::Downstream);
    }

    #[test]
    fn link_kinds_map_to_toxics() {
        let cases = [
            ("reset", TargetFamily::TcpLink, "reset_peer"),
            ("blackhole", TargetFamily::TcpLink, "timeout"),
            ("partition", TargetFamily::TcpLink, "down"),
            ("abort", TargetFamily::HttpLink, "http_abort"),
        ];
        for (kind, family, toxic) in cases {
            let config = toxic_of(build(&fault(kind, family, &[]), "x").unwrap());
            assert_eq!(config.toxic.type_name(), toxic, "{kind}");
        }
        let error = fault(
            "http_error",
            TargetFamily::HttpLink,
            &[
                ("status", Value::Integer(503)),
                ("rate", Value::Fraction(0.5)),
            ],
        );
        let config = toxic_of(build(&error, "x").unwrap());
        assert_eq!(config.toxic.type_name(), "http_error");
        assert_eq!(config.toxicity, 0.5);
    }

    #[test]
    fn process_kinds_come_from_the_fault_table() {
        let pause = build(&fault("pause", TargetFamily::Process, &[]), "x").unwrap();
        assert!(matches!(pause, FaultAction::Process(f) if f.keyword() == "pause"));
        let cpu = fault(
            "cpu_limit",
            TargetFamily::Process,
            &[("cores", Value::Number(0.5))],
        );
        assert!(
            matches!(build(&cpu, "x").unwrap(), FaultAction::Process(f) if f.keyword() == "cpu_limit")
        );
        let err = build(&fault("latency", TargetFamily::Process, &[]), "x").unwrap_err();
        assert!(err.contains("cannot act on a process"), "{err}");
    }

    #[test]
    fn container_kinds_come_from_the_container_table() {
        let partition = fault(
            "partition",
            TargetFamily::Container,
            &[("network", Value::Text("shop".into()))],
        );
        match build(&partition, "x").unwrap() {
            FaultAction::Container(f) => {
                assert_eq!(f.keyword(), "partition");
                assert!(f.describe().contains("shop"), "{}", f.describe());
            }
            other => panic!("not a container fault: {other:?}"),
        }
        let kill = fault(
            "kill",
            TargetFamily::Container,
            &[("signal", Value::Word("SIGTERM".into()))],
        );
        assert!(
            matches!(build(&kill, "x").unwrap(), FaultAction::Container(f) if f.describe() == "kill with SIGTERM")
        );
        let err = build(&fault("latency", TargetFamily::Container, &[]), "x").unwrap_err();
        assert!(err.contains("cannot act on a container"), "{err}");
    }
}
