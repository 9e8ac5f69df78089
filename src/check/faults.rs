//! Faults (with profiles and schedules), probes and telemetry sources.

use super::checker::{Checker, SymbolKind};
use super::values::{Quantity, suggest};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::faults::setting_spec::ValueType;
use crate::faults::{KINDS, kind, kinds_for};
use crate::plan::*;
use crate::syntax::ast::{self, Item, Setting, Term};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;

/// Settings every fault takes: when it starts, how long it lasts, how likely it fires.
pub const SCHEDULE_SETTINGS: &[&str] = &[
    "at",
    "every",
    "poisson",
    "after",
    "from",
    "until",
    "lasting",
    "probability",
];

impl Checker<'_> {
    pub(super) fn fault(
        &mut self,
        f: &ast::Fault,
        profiles: &HashMap<String, &ast::Profile>,
        experiment: Option<&ExperimentPlan>,
    ) -> Option<FaultPlan> {
        // A profile supplies the kind and default settings; the fault's own settings win.
        let (kind_name, profile, mut settings): (String, Option<String>, Vec<&Setting>) =
            match profiles.get(&f.kind.node) {
                Some(p) => (
                    p.kind.node.clone(),
                    Some(p.name.node.clone()),
                    p.settings.settings.iter().collect(),
                ),
                None => (f.kind.node.clone(), None, Vec::new()),
            };
        let Some(spec) = kind(&kind_name) else {
            let names: Vec<&str> = KINDS.iter().map(|k| k.keyword()).collect();
            let span = match profiles.get(&f.kind.node) {
                Some(p) => p.kind.span,
                None => f.kind.span,
            };
            let mut d = Diagnostic::error(
                Code::UnknownName,
                format!("unknown fault kind `{kind_name}`"),
            )
            .at(span, "not a fault kind or profile");
            d = match suggest(&kind_name, names.iter().copied()) {
                Some(s) => d.help(format!("did you mean `{s}`?")),
                None => d.help(format!("fault kinds: {}", names.join(", "))),
            };
            self.error(d);
            return None;
        };
        let target = self.lookup(&f.target, &[SymbolKind::Resource, SymbolKind::Link]);
        let family = target.and_then(|s| self.families.get(s.index as usize).copied().flatten());
        if let Some(family) = family
            && !spec.targets().contains(&family)
        {
            let supported = kinds_for(family);
            self.error(
                Diagnostic::error(
                    Code::UnsupportedFault,
                    format!(
                        "`{}` faults cannot act on {} (`{}`)",
                        spec.keyword(),
                        family.describe(),
                        f.target.node
                    ),
                )
                .at(
                    f.kind.span,
                    format!("`{}` is not supported here", spec.keyword()),
                )
                .with_label(
                    f.target.span,
                    format!("`{}` is {}", f.target.node, family.describe()),
                )
                .help(format!(
                    "{} supports: {}",
                    family.describe(),
                    supported.join(", ")
                )),
            );
            return None;
        }

        // Merge: profile settings first, then the fault's, overriding by key.
        let own = &f.settings.settings;
        settings.retain(|s| !own.iter().any(|o| o.key.node == s.key.node));
        settings.extend(own);
        let mut allowed: Vec<&str> =
            Vec::with_capacity(spec.settings().len() + SCHEDULE_SETTINGS.len());
        allowed.extend(spec.settings().iter().map(|s| s.name));
        allowed.extend(SCHEDULE_SETTINGS);
        let map = self.settings_in(
            settings,
            &allowed,
            format_args!("a `{}` fault", spec.keyword()),
        );

        let mut params = Params::default();
        let mut ok = true;
        for s in spec.settings() {
            let Some(setting) = map.get(s.name) else {
                if s.required {
                    self.missing(
                        f.name.span.to(f.kind.span),
                        &format!("fault `{}`", f.name.node),
                        s.name,
                        &example_setting(s.name, s.ty),
                    );
                    ok = false;
                }
                continue;
            };
            match self.fault_value(setting, s.ty) {
                Some(v) => {
                    params.insert(s.name.to_string(), v);
                }
                None => ok = false,
            }
        }
        let duration_ms = experiment.map(|e| e.duration_ms);
        let arrival = self.arrival(f, &map, duration_ms);
        let lasting = map.get("lasting").and_then(|s| {
            let t = self.one(s)?;
            self.duration_distribution(t)
        });
        if map.contains_key("lasting") && lasting.is_none() {
            ok = false;
        }
        let probability = match map.get("probability") {
            Some(s) => self.one(s).and_then(|t| self.values().probability(t)),
            None => Some(1.0),
        };
        if !ok {
            return None;
        }
        Some(FaultPlan {
            name: f.name.node.clone(),
            kind: spec.keyword().to_string(),
            profile,
            target: f.target.node.clone(),
            target_family: family?,
            params,
            arrival: arrival?,
            lasting,
            probability: probability?,
            at: self.location(f.name.span),
        })
    }

    /// A duration distribution, which may sample a history column (`empirical`).
    fn duration_distribution(&mut self, t: &ast::Spanned<Term>) -> Option<Distribution> {
        let mut scratch = Diagnostics::new();
        let history = |path: &[String], span| self.history_column(path, span);
        let result = super::values::Values {
            diagnostics: &mut scratch,
        }
        .distribution(t, Quantity::Duration, &history);
        self.diagnostics.extend(scratch);
        result
    }

    fn fault_value(&mut self, setting: &Setting, ty: ValueType) -> Option<Value> {
        let t = self.one(setting)?;
        match ty {
            ValueType::DurationDist => self.duration_distribution(t).map(Value::Duration),
            ValueType::Duration => self
                .values()
                .non_negative(t, Quantity::Duration)
                .map(|v| Value::Duration(Distribution::Fixed { value: v })),
            ValueType::Size => self
                .values()
                .non_negative(t, Quantity::Size)
                .map(Value::Size),
            ValueType::Bandwidth => self
                .values()
                .non_negative(t, Quantity::Bandwidth)
                .map(Value::Bandwidth),
            ValueType::Positive => {
                let v = self.values().quantity(t, Quantity::Number)?;
                if v <= 0.0 {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "this value must be greater than 0")
                            .at(t.span, "must be > 0")
                            .help("use a value above 0, for example `cores 0.5`"),
                    );
                    return None;
                }
                Some(Value::Number(v))
            }
            ValueType::Probability => self.values().probability(t).map(Value::Fraction),
            ValueType::Integer(min, max) => self.values().integer(t, min, max).map(Value::Integer),
            ValueType::Word(choices) => self.values().word(t, choices).map(Value::Word),
            ValueType::Text => self.values().string(t, "the value").map(Value::Text),
        }
    }

    fn arrival(
        &mut self,
        f: &ast::Fault,
        map: &BTreeMap<&str, &Setting>,
        duration_ms: Option<f64>,
    ) -> Option<Arrival> {
        let given: Vec<&str> = ["at", "every", "poisson", "after"]
            .into_iter()
            .filter(|k| map.contains_key(*k))
            .collect();
        if given.len() > 1 {
            let second = map[given[1]];
            self.error(
                Diagnostic::error(
                    Code::DuplicateSetting,
                    format!(
                        "a fault has one schedule; found `{}` and `{}`",
                        given[0], given[1]
                    ),
                )
                .at(second.key.span, "second schedule")
                .with_label(map[given[0]].key.span, "first schedule")
                .help("keep one of at, every, poisson, after"),
            );
            return None;
        }
        let from = match map.get("from") {
            Some(s) => self
                .one(s)
                .and_then(|t| self.values().non_negative(t, Quantity::Duration)),
            None => Some(0.0),
        };
        let until = map.get("until").map(|s| {
            self.one(s)
                .and_then(|t| self.values().non_negative(t, Quantity::Duration))
        });
        let until = match until {
            Some(u) => Some(u?),
            None => None,
        };
        let arrival = match given.first().copied() {
            None => Arrival::At {
                times_ms: vec![from?],
            },
            Some("at") => {
                let s = map["at"];
                let mut times = Vec::new();
                for t in &s.terms {
                    let v = self.values().non_negative(t, Quantity::Duration)?;
                    if let Some(d) = duration_ms
                        && v >= d
                    {
                        self.error(
                            Diagnostic::error(
                                Code::NumberOutOfRange,
                                "this time is after the end of the experiment",
                            )
                            .at(t.span, "never reached")
                            .help(format!(
                                "the experiment lasts {}; use an earlier time or a longer duration",
                                describe_distribution(&Distribution::Fixed { value: d }, "ms")
                            )),
                        );
                        return None;
                    }
                    times.push(v);
                }
                if times.is_empty() {
                    self.one(s);
                    return None;
                }
                Arrival::At { times_ms: times }
            }
            Some("every") => {
                let s = map["every"];
                let t = self.one(s)?;
                let interval = self
                    .values()
                    .distribution(t, Quantity::Duration, &|_, span| {
                        Err(
                            Diagnostic::error(Code::History, "`every` cannot sample from history")
                                .at(span, "here")
                                .help("use a fixed or random interval, for example `every 20s`"),
                        )
                    })?;
                if interval.mean() <= 0.0 {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "the interval must be positive")
                            .at(t.span, "zero interval")
                            .help("for example `every 20s`"),
                    );
                    return None;
                }
                Arrival::Every {
                    interval,
                    from_ms: from?,
                    until_ms: until,
                }
            }
            Some("poisson") => {
                let s = map["poisson"];
                let t = self.one(s)?;
                // `poisson 3/m` (a rate) or `poisson 20s` (the mean interval).
                let mean = match &t.node {
                    Term::Quantity { unit: Some(u), .. } if u.starts_with('/') => {
                        let rate = self.values().non_negative(t, Quantity::Rate)?;
                        if rate <= 0.0 {
                            None
                        } else {
                            Some(1000.0 / rate)
                        }
                    }
                    _ => self
                        .values()
                        .non_negative(t, Quantity::Duration)
                        .filter(|m| *m > 0.0),
                };
                let Some(mean) = mean else {
                    self.error(
                        Diagnostic::error(
                            Code::InvalidValue,
                            "poisson needs a positive rate or mean interval",
                        )
                        .at(t.span, "here")
                        .help("for example `poisson 3/m` or `poisson 20s`"),
                    );
                    return None;
                };
                Arrival::Every {
                    interval: Distribution::Exponential { mean },
                    from_ms: from?,
                    until_ms: until,
                }
            }
            Some(_) => {
                let s = map["after"];
                self.after(f, s)?
            }
        };
        Some(arrival)
    }

    /// `after slow_db.end`, `after slow_db.start + 5s`, `after api.ready`.
    fn after(&mut self, f: &ast::Fault, s: &Setting) -> Option<Arrival> {
        let bad = |this: &mut Self, span| {
            this.error(
                Diagnostic::error(
                    Code::InvalidValue,
                    "expected an event: `<fault>.start`, `<fault>.end` or `<resource>.ready`, optionally `+ <duration>`",
                )
                .at(span, "not an event")
                .help("for example `after slow_db.end + 5s`"),
            );
        };
        let (event, delay) = match s.terms.as_slice() {
            [event] => (event, None),
            [event, plus, delay] if matches!(&plus.node, Term::Op(o) if o == "+") => {
                (event, Some(delay))
            }
            _ => {
                bad(self, s.span);
                return None;
            }
        };
        let Term::Path(path) = &event.node else {
            bad(self, event.span);
            return None;
        };
        let [name, what] = path.as_slice() else {
            bad(self, event.span);
            return None;
        };
        let ident = ast::Spanned::new(name.clone(), event.span);
        let kind = match what.as_str() {
            "start" | "end" => {
                self.resolve(&ident, &[SymbolKind::Fault])?;
                if *name == f.name.node {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "a fault cannot start after itself")
                            .at(event.span, "refers to this fault")
                            .help("use `every` to repeat a fault"),
                    );
                    return None;
                }
                if what == "start" {
                    EventKind::Start
                } else {
                    EventKind::End
                }
            }
            "ready" => {
                self.resolve(&ident, &[SymbolKind::Resource])?;
                EventKind::Ready
            }
            _ => {
                bad(self, event.span);
                return None;
            }
        };
        let delay_ms = match delay {
            Some(d) => self.values().non_negative(d, Quantity::Duration)?,
            None => 0.0,
        };
        Some(Arrival::After {
            event: EventRef {
                name: name.clone(),
                event: kind,
            },
            delay_ms,
        })
    }

    /// `after` chains between faults must not loop.
    pub(super) fn check_events(&mut self, items: &[&Item], faults: &[FaultPlan]) {
        let index: HashMap<&str, usize> = faults
            .iter()
            .enumerate()
            .map(|(i, f)| (f.name.as_str(), i))
            .collect();
        let mut graph = super::graph::Graph::new(faults.len());
        for (i, f) in faults.iter().enumerate() {
            if let Arrival::After { event, .. } = &f.arrival
                && let Some(&j) = index.get(event.name.as_str())
            {
                graph.add(i, j);
            }
        }
        for cycle in graph.cycles() {
            let names: Vec<&str> = cycle.iter().map(|&i| faults[i].name.as_str()).collect();
            let span = items.iter().find_map(|item| match item {
                Item::Fault(f) if f.name.node == names[0] => Some(f.name.span),
                _ => None,
            });
            let mut d = Diagnostic::error(
                Code::DependencyCycle,
                format!(
                    "faults wait for each other in a cycle: {}",
                    names.join(" -> ")
                ),
            )
            .help("one fault of the cycle needs a schedule of its own (`at`, `every`, `poisson`)");
            if let Some(span) = span {
                d = d.at(span, "starts after a fault that waits for it");
            }
            self.error(d);
        }
    }

    pub(super) fn probe(&mut self, p: &ast::Probe) -> Option<ProbePlan> {
        let allowed: &[&str] = match &p.kind.node {
            ast::ProbeKind::Http { .. } => &["every", "timeout", "expect", "header", "body"],
            ast::ProbeKind::Tcp { .. } => &["every", "timeout"],
            ast::ProbeKind::Command { .. } => &["every", "timeout", "expect"],
        };
        let what = format!("probe `{}`", p.name.node);
        // `expect` may be given more than once (`expect status 200`, `expect body contains`).
        let repeatable = allowed.contains(&"expect");
        let map = self.settings_in(
            p.settings
                .settings
                .iter()
                .filter(|s| !(repeatable && s.key.node == "expect")),
            allowed,
            &what,
        );
        let expectations = if repeatable {
            self.expectations(p)?
        } else {
            Expectations::default()
        };
        let duration = |this: &mut Self, key: &str, default: f64| -> Option<f64> {
            match map.get(key) {
                Some(s) => {
                    let t = this.one(s)?;
                    let v = this.values().non_negative(t, Quantity::Duration)?;
                    if v <= 0.0 {
                        this.error(
                            Diagnostic::error(
                                Code::InvalidValue,
                                format!("`{key}` must be positive"),
                            )
                            .at(t.span, "zero")
                            .help("use a positive duration, for example `every 1s`"),
                        );
                        return None;
                    }
                    Some(v)
                }
                None => Some(default),
            }
        };
        let interval = duration(self, "every", 1000.0);
        let timeout = duration(self, "timeout", 1000.0);
        let check = match &p.kind.node {
            ast::ProbeKind::Http { method, url } => {
                if !url.node.starts_with("http://") && !url.node.starts_with("https://") {
                    self.error(
                        Diagnostic::error(
                            Code::InvalidValue,
                            "a probe URL must start with http:// or https://",
                        )
                        .at(url.span, "not an http(s):// URL")
                        .help("for example \"http://127.0.0.1:8080/health\""),
                    );
                    return None;
                }
                if let Some(stdout) = &expectations.stdout {
                    self.error(
                        Diagnostic::error(
                            Code::InvalidValue,
                            "an http probe has no stdout to expect",
                        )
                        .at(stdout.1, "stdout is for command probes")
                        .help("expect body contains \"...\""),
                    );
                    return None;
                }
                let expect = match expectations.status {
                    Some((status, span)) => {
                        if !(100..=599).contains(&status) {
                            self.error(
                                Diagnostic::error(
                                    Code::InvalidValue,
                                    format!("{status} is not an HTTP status"),
                                )
                                .at(span, "not in 100..=599")
                                .help("for example expect status 200"),
                            );
                            return None;
                        }
                        Some(status as u16)
                    }
                    None => None,
                };
                let mut headers = Vec::new();
                for s in p
                    .settings
                    .settings
                    .iter()
                    .filter(|s| s.key.node == "header")
                {
                    let t = self.one(s)?;
                    let h = self.values().string(t, "the header")?;
                    match h.split_once(':') {
                        Some((k, v)) => headers.push((k.trim().to_string(), v.trim().to_string())),
                        None => {
                            self.error(
                                Diagnostic::error(
                                    Code::InvalidValue,
                                    "a header is \"Name: value\"",
                                )
                                .at(t.span, "no `:`")
                                .help("for example header \"Authorization: Bearer x\""),
                            );
                            return None;
                        }
                    }
                }
                let body = match map.get("body") {
                    Some(s) => Some(
                        self.one(s)
                            .and_then(|t| self.values().string(t, "the body"))?,
                    ),
                    None => None,
                };
                ProbeCheck::Http {
                    method: method
                        .as_ref()
                        .map(|m| m.node.clone())
                        .unwrap_or_else(|| "GET".into()),
                    url: url.node.clone(),
                    expect_status: expect,
                    expect_body: expectations.body.map(|(text, _)| text),
                    headers,
                    body,
                }
            }
            ast::ProbeKind::Tcp { address } => ProbeCheck::Tcp {
                address: address.node.to_string(),
            },
            ast::ProbeKind::Command { argv } => {
                if argv.is_empty() {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "a command probe needs a program")
                            .at(p.kind.span, "empty argv")
                            .help("for example command [\"./check.sh\", \"--quick\"]"),
                    );
                    return None;
                }
                if let Some(body) = &expectations.body {
                    self.error(
                        Diagnostic::error(
                            Code::InvalidValue,
                            "a command probe has no body to expect",
                        )
                        .at(body.1, "body is for http probes")
                        .help("expect stdout contains \"...\""),
                    );
                    return None;
                }
                let expect = match expectations.status {
                    Some((status, span)) => {
                        if !(0..=255).contains(&status) {
                            self.error(
                                Diagnostic::error(
                                    Code::InvalidValue,
                                    format!("{status} is not an exit status"),
                                )
                                .at(span, "not in 0..=255")
                                .help("for example expect status 0"),
                            );
                            return None;
                        }
                        status as i32
                    }
                    None => 0,
                };
                ProbeCheck::Command {
                    argv: argv.iter().map(|a| a.node.clone()).collect(),
                    expect_exit: expect,
                    expect_stdout: expectations.stdout.map(|(text, _)| text),
                }
            }
        };
        Some(ProbePlan {
            name: p.name.node.clone(),
            check,
            interval_ms: interval?,
            timeout_ms: timeout?,
            at: self.location(p.name.span),
        })
    }

    /// A probe's `expect` settings: `expect 200` or `expect status 200` (an HTTP status or an
    /// exit status), `expect body contains "..."`, `expect stdout contains "..."`; each at
    /// most once.
    fn expectations(&mut self, p: &ast::Probe) -> Option<Expectations> {
        let mut out = Expectations::default();
        let mut ok = true;
        for setting in p
            .settings
            .settings
            .iter()
            .filter(|s| s.key.node == "expect")
        {
            let words: Vec<&str> = setting
                .terms
                .iter()
                .map_while(|t| match &t.node {
                    Term::Ident(word) => Some(word.as_str()),
                    _ => None,
                })
                .collect();
            let value = setting.terms.get(words.len());
            let extra = setting.terms.get(words.len() + 1);
            let (slot, taken) = match (words.as_slice(), value, extra) {
                ([] | ["status"], Some(v), None) => {
                    let Some(code) = self.values().integer(v, 0, 999) else {
                        ok = false;
                        continue;
                    };
                    ("status", out.status.replace((code, v.span)).is_some())
                }
                (["body" | "stdout", "contains"], Some(v), None) => {
                    let Some(text) = self.values().string(v, "the expected text") else {
                        ok = false;
                        continue;
                    };
                    if words[0] == "body" {
                        ("body", out.body.replace((text, v.span)).is_some())
                    } else {
                        ("stdout", out.stdout.replace((text, v.span)).is_some())
                    }
                }
                _ => {
                    self.error(
                        Diagnostic::error(
                            Code::InvalidValue,
                            "an expectation is `expect status N`, `expect body contains \"...\"` \
                             or `expect stdout contains \"...\"`",
                        )
                        .at(setting.span, "not an expectation")
                        .help("for example expect body contains \"ok\""),
                    );
                    ok = false;
                    continue;
                }
            };
            if taken {
                self.error(
                    Diagnostic::error(
                        Code::DuplicateSetting,
                        format!("`expect {slot}` is set twice"),
                    )
                    .at(setting.span, "set again here")
                    .help("remove one of them"),
                );
                ok = false;
            }
        }
        ok.then_some(out)
    }

    pub(super) fn telemetry(&mut self, t: &ast::Telemetry) -> Option<TelemetryPlan> {
        let what = format!("telemetry `{}`", t.name.node);
        let promql = t.kind.node == "promql";
        let allowed: &[&str] = if promql {
            &["every", "timeout", "query"]
        } else {
            &["every", "timeout"]
        };
        let map = self.settings(&t.settings, allowed, &what);
        if t.kind.node != "prometheus" && !promql {
            self.error(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("unknown telemetry source `{}`", t.kind.node),
                )
                .at(t.kind.span, "not a telemetry kind")
                .help("telemetry sources: prometheus \"http://host:port/metrics\" (a metrics page), promql \"http://host:9090\" every 15s { query \"PROMQL\" } (a Prometheus server)"),
            );
            return None;
        }
        if !t.url.node.starts_with("http://") {
            self.error(
                Diagnostic::error(Code::InvalidValue, "a scrape URL must start with http://")
                    .at(t.url.span, "not an http:// URL")
                    .help(if promql {
                        "for example promql \"http://127.0.0.1:9090\" (the Prometheus server)"
                    } else {
                        "for example prometheus \"http://127.0.0.1:9100/metrics\""
                    }),
            );
            return None;
        }
        let query = match (promql, map.get("query")) {
            (false, _) => None,
            (true, Some(s)) => {
                let term = self.one(s)?;
                let query = self.values().string(term, "the PromQL query")?;
                if query.trim().is_empty() {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "the PromQL query is empty")
                            .at(term.span, "empty")
                            .help("for example query \"sum(rate(http_requests_total[1m]))\""),
                    );
                    return None;
                }
                Some(query)
            }
            (true, None) => {
                self.error(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("{what} needs a `query`: the PromQL expression it reads"),
                    )
                    .at(t.name.span, "no query")
                    .help(format!(
                        "telemetry {}: promql \"{}\" every 15s {{ query \"sum(rate(http_requests_total[1m]))\" }}",
                        t.name.node, t.url.node
                    )),
                );
                return None;
            }
        };
        let interval = match map.get("every") {
            Some(s) => self
                .one(s)
                .and_then(|v| self.values().non_negative(v, Quantity::Duration))?,
            None => 5000.0,
        };
        Some(TelemetryPlan {
            name: t.name.node.clone(),
            kind: t.kind.node.clone(),
            url: t.url.node.clone(),
            interval_ms: interval,
            query,
            at: self.location(t.name.span),
        })
    }
}

use crate::diagnostic::Diagnostics;

/// What a probe's `expect` settings ask for, with where each was written.
#[derive(Default)]
struct Expectations {
    status: Option<(i64, Span)>,
    body: Option<(String, Span)>,
    stdout: Option<(String, Span)>,
}

fn example_setting(name: &str, ty: ValueType) -> String {
    format!("{name} {}", ty.example())
}
