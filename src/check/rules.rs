//! Metrics, conditions, thresholds, prediction, mitigation and remediation rules.

use super::checker::{Checker, SymbolKind};
use super::values::{Quantity, suggest};
use crate::diagnostic::{Code, Diagnostic, Span};
use crate::plan::*;
use crate::syntax::ast::{self, Condition, Spanned, Term, TrendWord};

/// What a pattern's parameter may read: it is bound to every watched resource and link, and a
/// binding is kept only where the source has every metric the pattern reads.
static PARAM_METRICS: std::sync::LazyLock<Vec<(&'static str, MetricUnit)>> =
    std::sync::LazyLock::new(|| [RESOURCE_METRICS, LINK_METRICS].concat());

impl Checker<'_> {
    /// Resolves `source.metric`; `params` are the names a reusable pattern binds.
    fn metric(
        &mut self,
        metric: &Spanned<Vec<String>>,
        params: &[String],
    ) -> Option<(MetricRef, MetricUnit)> {
        let [source, name] = metric.node.as_slice() else {
            self.error(
                Diagnostic::error(
                    Code::UnknownMetric,
                    format!("`{}` is not a metric", metric.node.join(".")),
                )
                .at(metric.span, "expected `source.metric`")
                .help("for example `checkout.p99`, `db.cpu`, `api_db.latency`"),
            );
            return None;
        };
        let (kind, table): (SourceKind, Option<&[(&str, MetricUnit)]>) = if params.contains(source)
        {
            (SourceKind::Param, Some(PARAM_METRICS.as_slice()))
        } else {
            let ident = Spanned::new(source.clone(), metric.span);
            let k = self.resolve(
                &ident,
                &[
                    SymbolKind::Probe,
                    SymbolKind::Resource,
                    SymbolKind::Link,
                    SymbolKind::Telemetry,
                ],
            )?;
            match k {
                SymbolKind::Probe => (SourceKind::Probe, Some(PROBE_METRICS)),
                SymbolKind::Resource => (SourceKind::Resource, Some(RESOURCE_METRICS)),
                SymbolKind::Link => (SourceKind::Link, Some(LINK_METRICS)),
                _ => (SourceKind::Telemetry, None),
            }
        };
        let unit = match table {
            None => MetricUnit::Number,
            Some(table) => match table.iter().find(|(n, _)| n == name) {
                Some((_, u)) => *u,
                None => {
                    let names: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
                    let mut d = Diagnostic::error(
                        Code::UnknownMetric,
                        format!("`{source}` has no metric `{name}`"),
                    )
                    .at(metric.span, "unknown metric");
                    d = match suggest(name, names.iter().copied()) {
                        Some(s) => d.help(format!("did you mean `{source}.{s}`?")),
                        None => d.help(format!("metrics of `{source}`: {}", names.join(", "))),
                    };
                    self.error(d);
                    return None;
                }
            },
        };
        Some((
            MetricRef {
                source: source.clone(),
                source_kind: kind,
                metric: name.clone(),
            },
            unit,
        ))
    }

    fn metric_value(&mut self, term: &Spanned<Term>, unit: MetricUnit) -> Option<f64> {
        match unit {
            MetricUnit::Milliseconds => self.values().non_negative(term, Quantity::Duration),
            MetricUnit::Fraction => self.values().non_negative(term, Quantity::Fraction),
            MetricUnit::Bytes => self.values().non_negative(term, Quantity::Size),
            MetricUnit::Count | MetricUnit::Number => {
                self.values().quantity(term, Quantity::Number)
            }
        }
    }

    fn comparison(
        &mut self,
        c: &ast::Comparison,
        params: &[String],
    ) -> Option<(MetricRef, MetricUnit, Comparator, f64)> {
        let (metric, unit) = self.metric(&c.metric, params)?;
        let value = self.metric_value(&c.value, unit)?;
        if matches!(metric.metric.as_str(), "error_rate" | "availability") && value > 1.0 {
            self.fraction_above_one(&metric, &c.value, value);
            return None;
        }
        let op = match c.op.node {
            ast::CmpOp::Lt => Comparator::Lt,
            ast::CmpOp::Le => Comparator::Le,
            ast::CmpOp::Gt => Comparator::Gt,
            ast::CmpOp::Ge => Comparator::Ge,
            ast::CmpOp::Eq => Comparator::Eq,
            ast::CmpOp::Ne => Comparator::Ne,
        };
        Some((metric, unit, op, value))
    }

    /// `p.error_rate < 5` reads as 500%: always true, a silent trap. A rate or availability
    /// is at most 1 (100%).
    fn fraction_above_one(&mut self, metric: &MetricRef, term: &Spanned<Term>, value: f64) {
        let bare = matches!(&term.node, Term::Quantity { unit: None, .. });
        let help = if bare && value <= 100.0 {
            format!(
                "did you mean {}%? a bare number is a fraction: 0.05 is 5%",
                crate::plan::trim(value)
            )
        } else {
            "write a percentage up to 100% or a fraction up to 1, for example 5% or 0.05"
                .to_string()
        };
        self.error(
            Diagnostic::error(
                Code::UnitMismatch,
                format!(
                    "`{}.{}` is a fraction between 0 and 1; {} is {}%",
                    metric.source,
                    metric.metric,
                    if bare {
                        crate::plan::trim(value)
                    } else {
                        format!("{}%", crate::plan::trim(value * 100.0))
                    },
                    crate::plan::trim(value * 100.0)
                ),
            )
            .at(term.span, "more than 100%")
            .help(help),
        );
    }

    fn condition(&mut self, c: &Spanned<Condition>, params: &[String]) -> Option<ConditionPlan> {
        Some(match &c.node {
            Condition::Compare(cmp) => {
                let (metric, _, op, value) = self.comparison(cmp, params)?;
                ConditionPlan::Compare { metric, op, value }
            }
            Condition::Trend { metric, trend } => {
                let (metric, _) = self.metric(metric, params)?;
                let trend = match trend.node {
                    TrendWord::Rising => Trend::Rising,
                    TrendWord::Falling => Trend::Falling,
                    TrendWord::Flat => Trend::Flat,
                    TrendWord::Anomalous => Trend::Anomalous,
                };
                ConditionPlan::Trend { metric, trend }
            }
            Condition::Not(inner) => ConditionPlan::Not {
                inner: Box::new(self.condition(inner, params)?),
            },
            Condition::And(parts) | Condition::Or(parts) => {
                let mut out = Vec::new();
                let mut ok = true;
                for p in parts {
                    match self.condition(p, params) {
                        Some(c) => out.push(c),
                        None => ok = false,
                    }
                }
                if !ok {
                    return None;
                }
                if matches!(c.node, Condition::And(_)) {
                    ConditionPlan::All { all: out }
                } else {
                    ConditionPlan::Any { any: out }
                }
            }
        })
    }

    pub(super) fn threshold(&mut self, t: &ast::Threshold) -> Option<ThresholdPlan> {
        let comparison = self.comparison(&t.comparison.node, &[]);
        let window = match &t.over {
            Some(w) => Some(
                self.values()
                    .non_negative(w, Quantity::Duration)
                    .filter(|v| *v > 0.0)?,
            ),
            None => None,
        };
        if let Some(d) = &t.during {
            self.resolve(d, &[SymbolKind::Fault])?;
        }
        let abort_predicted_ms = match &t.abort_predicted {
            Some(w) => Some(
                self.values()
                    .non_negative(w, Quantity::Duration)
                    .filter(|v| *v > 0.0)?,
            ),
            None => None,
        };
        let (metric, unit, op, value) = comparison?;
        Some(ThresholdPlan {
            text: self.sources.slice(t.comparison.span).to_string(),
            metric,
            unit,
            op,
            value,
            window_ms: window,
            during: t.during.as_ref().map(|d| d.node.clone()),
            abort: t.abort,
            abort_predicted_ms,
            at: self.location(t.span),
        })
    }

    pub(super) fn pattern(&mut self, p: &ast::Pattern) -> Option<PatternPlan> {
        let what = format!("pattern `{}`", p.name.node);
        self.settings(&p.settings, &[], &what);
        let params: Vec<String> = p.params.iter().map(|i| i.node.clone()).collect();
        let condition = self.condition(&p.condition, &params)?;
        Some(PatternPlan {
            name: p.name.node.clone(),
            params,
            condition,
            predicts: p
                .predicts
                .as_ref()
                .map(|i| i.node.clone())
                .unwrap_or_else(|| p.name.node.clone()),
            at: self.location(p.name.span),
        })
    }

    pub(super) fn predict(
        &mut self,
        p: &ast::Predict,
        patterns: &[PatternPlan],
    ) -> Option<PredictPlan> {
        let map = self.settings(
            &p.settings,
            &["watch", "detector", "confidence", "use", "every", "horizon"],
            "a predict block",
        );
        let mut watch = Vec::new();
        if let Some(s) = map.get("watch") {
            for t in &s.terms {
                match &t.node {
                    Term::Path(path) => {
                        let m = Spanned::new(path.clone(), t.span);
                        if let Some((r, _)) = self.metric(&m, &[]) {
                            watch.push(r);
                        }
                    }
                    other => self.error(
                        Diagnostic::error(
                            Code::UnknownMetric,
                            format!("expected a metric, found {}", other.describe()),
                        )
                        .at(t.span, "not a metric")
                        .help("watch takes metrics: `watch db.cpu, api.memory`"),
                    ),
                }
            }
        }
        let detector = match map.get("detector") {
            Some(s) => {
                let d = self.detector(s)?;
                if let Err(e) = crate::predict::registry::resolve(&d.name, &d.params) {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, e.to_string())
                            .at(s.terms[0].span, "invalid detector")
                            .help("`pfi detect --list` lists every detector with its parameters"),
                    );
                    return None;
                }
                d
            }
            None => DetectorPlan {
                name: crate::predict::registry::DEFAULT_DETECTOR.into(),
                params: Vec::new(),
            },
        };
        let confidence = match map.get("confidence") {
            Some(s) => {
                let value = match s.terms.as_slice() {
                    [op, v] if matches!(&op.node, Term::Op(o) if o == ">=" || o == ">") => v,
                    [v] => v,
                    _ => {
                        self.error(
                            Diagnostic::error(
                                Code::InvalidValue,
                                "expected `confidence >= 0.8` or `confidence 80%`",
                            )
                            .at(s.span, "malformed")
                            .help("the minimum confidence for a prediction to count, from 0 to 1"),
                        );
                        return None;
                    }
                };
                self.values().probability(value)?
            }
            None => 0.8,
        };
        let mut names: Vec<String> = p.patterns.iter().map(|x| x.name.node.clone()).collect();
        if let Some(s) = map.get("use") {
            for t in &s.terms {
                let Term::Ident(name) = &t.node else {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "`use` takes pattern names")
                            .at(t.span, "not a name")
                            .help("for example `use memory_leak, disk_contention`"),
                    );
                    continue;
                };
                if !patterns.iter().any(|x| &x.name == name) {
                    let candidates: Vec<&str> = patterns.iter().map(|x| x.name.as_str()).collect();
                    let mut d =
                        Diagnostic::error(Code::UnknownName, format!("unknown pattern `{name}`"))
                            .at(t.span, "not declared");
                    d = match suggest(name, candidates.iter().copied()) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(
                            "declare it, or `import \"std/patterns\"` for the stock knowledge base",
                        ),
                    };
                    self.error(d);
                    continue;
                }
                if !names.contains(name) {
                    names.push(name.clone());
                }
            }
        }
        let interval = match map.get("every") {
            Some(s) => self
                .one(s)
                .and_then(|t| self.values().non_negative(t, Quantity::Duration))?,
            None => 250.0,
        };
        let horizon_ms = match map.get("horizon") {
            Some(s) => Some(
                self.one(s)
                    .and_then(|t| self.values().non_negative(t, Quantity::Duration))?,
            ),
            None => None,
        };
        Some(PredictPlan {
            watch,
            detector,
            confidence,
            patterns: names,
            interval_ms: interval,
            horizon_ms,
            at: self.location(p.span),
        })
    }

    /// `detector ewma(alpha 0.3)` or `detector robust_z`.
    fn detector(&mut self, s: &ast::Setting) -> Option<DetectorPlan> {
        let t = self.one(s)?;
        match &t.node {
            Term::Ident(name) => Some(DetectorPlan {
                name: name.clone(),
                params: Vec::new(),
            }),
            Term::Call { name, args } => {
                let mut params = Vec::new();
                for arg in args {
                    match arg.node.as_slice() {
                        [key, value] => {
                            let Term::Ident(k) = &key.node else {
                                self.bad_detector_arg(arg.span);
                                return None;
                            };
                            let v = self.values().quantity(value, Quantity::Number)?;
                            params.push((k.clone(), v));
                        }
                        _ => {
                            self.bad_detector_arg(arg.span);
                            return None;
                        }
                    }
                }
                Some(DetectorPlan {
                    name: name.node.clone(),
                    params,
                })
            }
            other => {
                self.error(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("expected a detector, found {}", other.describe()),
                    )
                    .at(t.span, "not a detector")
                    .help("for example `detector ewma(alpha 0.3)`"),
                );
                None
            }
        }
    }

    fn bad_detector_arg(&mut self, span: Span) {
        self.error(
            Diagnostic::error(Code::InvalidValue, "detector parameters are `name value`")
                .at(span, "expected `name value`")
                .help("for example `detector ewma(alpha 0.3, threshold 4)`"),
        );
    }

    pub(super) fn mitigation(
        &mut self,
        m: &ast::Mitigate,
        patterns: &[PatternPlan],
        faults: &[FaultPlan],
    ) -> Option<MitigationPlan> {
        let trigger = match &m.trigger.node {
            ast::Trigger::Predicted(kind) => {
                let known = kind.node == "any"
                    || patterns
                        .iter()
                        .any(|p| p.predicts == kind.node || p.name == kind.node);
                if !known {
                    let mut candidates: Vec<&str> =
                        patterns.iter().map(|p| p.predicts.as_str()).collect();
                    candidates.push("any");
                    let mut d = Diagnostic::error(
                        Code::UnknownName,
                        format!("no pattern predicts `{}`", kind.node),
                    )
                    .at(kind.span, "never predicted");
                    d = match suggest(&kind.node, candidates.iter().copied()) {
                        Some(s) => d.help(format!("did you mean `{s}`?")),
                        None => d.help(
                            "declare a pattern that predicts it, import \"std/patterns\", or use `predicted(any)`",
                        ),
                    };
                    self.error(d);
                    return None;
                }
                TriggerPlan::Predicted {
                    fault_kind: kind.node.clone(),
                }
            }
            ast::Trigger::When(c) => TriggerPlan::When {
                condition: self.condition(c, &[])?,
            },
        };
        let mut actions = Vec::new();
        let mut cooldown = 30_000.0;
        let mut ok = true;
        for s in &m.actions.settings {
            if s.key.node == "cooldown" {
                match self
                    .one(s)
                    .and_then(|t| self.values().non_negative(t, Quantity::Duration))
                {
                    Some(c) => cooldown = c,
                    None => ok = false,
                }
                continue;
            }
            match self.action(s, faults) {
                Some(a) => actions.push(a),
                None => ok = false,
            }
        }
        if actions.is_empty() && ok {
            self.error(
                Diagnostic::error(Code::MissingSetting, "this mitigation has no action")
                    .at(m.trigger.span, "nothing to do")
                    .help("actions: scale, activate, shift, rehearse, restart, alert, script"),
            );
            return None;
        }
        if !ok {
            return None;
        }
        Some(MitigationPlan {
            trigger,
            actions,
            cooldown_ms: cooldown,
            at: self.location(m.span),
        })
    }

    fn action(&mut self, s: &ast::Setting, faults: &[FaultPlan]) -> Option<ActionPlan> {
        const ACTIONS: &[&str] = &[
            "scale", "activate", "shift", "rehearse", "restart", "alert", "script", "cooldown",
        ];
        let usage = |key: &str| -> &'static str {
            match key {
                "scale" => "scale db cpu +1   or   scale db memory 512MiB",
                "activate" => "activate standby_api",
                "shift" => "shift api_db to 127.0.0.1:15433",
                "rehearse" => "rehearse less_severe   or   rehearse slow_db at 50%",
                "restart" => "restart api",
                "alert" => "alert \"message\" webhook \"http://127.0.0.1:9000/hook\"",
                _ => "script \"examples/remediate/restart.rhai\" timeout 1s",
            }
        };
        let key = s.key.node.as_str();
        let bad = |this: &mut Self, span: Span| {
            this.error(
                Diagnostic::error(Code::InvalidValue, format!("malformed `{key}` action"))
                    .at(span, "here")
                    .help(format!("for example `{}`", usage(key))),
            );
        };
        let resource = |this: &mut Self, t: &Spanned<Term>| -> Option<String> {
            let Term::Ident(name) = &t.node else {
                bad(this, t.span);
                return None;
            };
            this.resolve(&Spanned::new(name.clone(), t.span), &[SymbolKind::Resource])?;
            Some(name.clone())
        };
        let terms = s.terms.as_slice();
        Some(match key {
            "scale" => {
                let [res, what, amount] = terms else {
                    bad(self, s.span);
                    return None;
                };
                let resource = resource(self, res)?;
                let what = self.values().word(what, &["cpu", "memory"])?;
                let relative = self.sources.slice(amount.span).starts_with('+');
                let amount = if what == "cpu" {
                    self.values().quantity(amount, Quantity::Number)?
                } else {
                    self.values().quantity(amount, Quantity::Size)?
                };
                ActionPlan::Scale {
                    resource,
                    what,
                    amount,
                    relative,
                }
            }
            "activate" | "restart" => {
                let [res] = terms else {
                    bad(self, s.span);
                    return None;
                };
                let resource = resource(self, res)?;
                if key == "activate" {
                    ActionPlan::Activate { resource }
                } else {
                    ActionPlan::Restart { resource }
                }
            }
            "shift" => {
                let [link, to, address] = terms else {
                    bad(self, s.span);
                    return None;
                };
                let (Term::Ident(link_name), Term::Ident(word), Term::Address(a)) =
                    (&link.node, &to.node, &address.node)
                else {
                    bad(self, s.span);
                    return None;
                };
                if word != "to" {
                    bad(self, to.span);
                    return None;
                }
                self.resolve(
                    &Spanned::new(link_name.clone(), link.span),
                    &[SymbolKind::Link],
                )?;
                ActionPlan::Shift {
                    link: link_name.clone(),
                    to: a.to_string(),
                }
            }
            "rehearse" => {
                let (what, severity) = match terms {
                    [what] => (what, None),
                    [what, at, sev] if matches!(&at.node, Term::Ident(w) if w == "at") => {
                        (what, Some(sev))
                    }
                    _ => {
                        bad(self, s.span);
                        return None;
                    }
                };
                let fault = match &what.node {
                    Term::Ident(w) if w == "less_severe" => None,
                    Term::Ident(w) => {
                        self.resolve(&Spanned::new(w.clone(), what.span), &[SymbolKind::Fault])?;
                        if !faults.iter().any(|f| &f.name == w) {
                            return None;
                        }
                        Some(w.clone())
                    }
                    _ => {
                        bad(self, what.span);
                        return None;
                    }
                };
                let severity = match severity {
                    Some(t) => self.values().probability(t)?,
                    None => 0.5,
                };
                ActionPlan::Rehearse { fault, severity }
            }
            "alert" => {
                let (message, webhook) = match terms {
                    [m] => (m, None),
                    [m, w, url] if matches!(&w.node, Term::Ident(x) if x == "webhook") => {
                        (m, Some(url))
                    }
                    _ => {
                        bad(self, s.span);
                        return None;
                    }
                };
                let message = self.values().string(message, "the alert message")?;
                let webhook = match webhook {
                    Some(u) => {
                        let url = self.values().string(u, "the webhook URL")?;
                        if !url.starts_with("http://") {
                            self.error(
                                Diagnostic::error(
                                    Code::InvalidValue,
                                    "a webhook URL must start with http://",
                                )
                                .at(u.span, "not an http:// URL")
                                .help("for example webhook \"http://127.0.0.1:9000/hook\""),
                            );
                            return None;
                        }
                        Some(url)
                    }
                    None => None,
                };
                ActionPlan::Alert { message, webhook }
            }
            "script" => {
                let (path, timeout) = match terms {
                    [p] => (p, None),
                    [p, w, t] if matches!(&w.node, Term::Ident(x) if x == "timeout") => {
                        (p, Some(t))
                    }
                    _ => {
                        bad(self, s.span);
                        return None;
                    }
                };
                let rel = self.values().string(path, "the script path")?;
                let full = self.base_dir(path.span).join(&rel);
                if !full.is_file() {
                    self.error(
                        Diagnostic::error(
                            Code::Script,
                            format!("script `{}` not found", full.display()),
                        )
                        .at(path.span, "no such file")
                        .help("script paths are relative to the scenario's folder"),
                    );
                    return None;
                }
                self.compile_script(&full, path.span)?;
                let timeout_ms = match timeout {
                    Some(t) => self.values().non_negative(t, Quantity::Duration)?,
                    None => 1000.0,
                };
                ActionPlan::Script {
                    path: full,
                    timeout_ms,
                }
            }
            _ => {
                let mut d = Diagnostic::error(
                    Code::UnknownSetting,
                    format!("`{key}` is not a mitigation action"),
                )
                .at(s.key.span, "unknown action");
                d = match suggest(key, ACTIONS.iter().copied()) {
                    Some(x) => d.help(format!("did you mean `{x}`?")),
                    None => d.help(format!("actions: {}", ACTIONS.join(", "))),
                };
                self.error(d);
                return None;
            }
        })
    }

    pub(super) fn remediation(&mut self, r: &ast::Remediation) -> Option<RemediationPlan> {
        let map = self.settings(&r.settings, &["script"], "a remediation");
        let script = match map.get("script") {
            Some(s) => {
                let t = self.one(s)?;
                let rel = self.values().string(t, "the script path")?;
                let full = self.base_dir(t.span).join(rel);
                if !full.is_file() {
                    self.error(
                        Diagnostic::error(
                            Code::Script,
                            format!("script `{}` not found", full.display()),
                        )
                        .at(t.span, "no such file")
                        .help("script paths are relative to the scenario's folder"),
                    );
                    return None;
                }
                self.compile_script(&full, t.span)?;
                Some(full)
            }
            None => None,
        };
        Some(RemediationPlan {
            mode: r.mode.node.clone(),
            text: r.text.node.clone(),
            script,
        })
    }

    /// Compiles a rhai script in the sandbox: a syntax error is reported with the script's
    /// line and column, at check time.
    fn compile_script(&mut self, path: &std::path::Path, span: Span) -> Option<()> {
        match crate::mitigate::compile_check(path) {
            Ok(source) => {
                self.loaded.scripts.insert(path.to_path_buf(), source);
                Some(())
            }
            Err(err) => {
                self.error(
                    Diagnostic::error(Code::Script, format!("script does not compile: {err}"))
                        .at(span, "this script")
                        .help("scripts are rhai, without `eval`, `import` or file access; see README, Scripts"),
                );
                None
            }
        }
    }
}
