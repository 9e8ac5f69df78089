//! The checker: one pass per kind of declaration, all diagnostics collected.

use super::graph::Graph;
use super::loader::LoadedFile;
use super::values::{Quantity, Values, suggest};
use crate::diagnostic::{Code, Diagnostic, Diagnostics, SourceMap, Span};
use crate::plan::container_rules::{container_name_problem, label_key_problem};
use crate::plan::*;
use crate::syntax::ast::{self, Item, Setting, Spanned, Term};
use rustc_hash::FxHashMap as HashMap;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

/// What a declared name refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SymbolKind {
    Resource,
    Link,
    Fault,
    Probe,
    Telemetry,
    Profile,
}

impl SymbolKind {
    pub(super) fn describe(self) -> &'static str {
        match self {
            SymbolKind::Resource => "resource",
            SymbolKind::Link => "link",
            SymbolKind::Fault => "fault",
            SymbolKind::Probe => "probe",
            SymbolKind::Telemetry => "telemetry source",
            SymbolKind::Profile => "profile",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub(super) struct Symbol {
    pub kind: SymbolKind,
    pub span: Span,
    /// Declaration order, for deterministic suggestions.
    pub index: u32,
}

/// `'a` is the lifetime of the sources, the syntax trees and the diagnostics being collected:
/// the name tables borrow their keys from the trees instead of copying every name.
pub struct Checker<'a> {
    pub(super) sources: &'a SourceMap,
    pub(super) diagnostics: &'a mut Diagnostics,
    pub(super) root: PathBuf,
    /// Shared (not copied) with the helper thread of the fault pass.
    pub(super) symbols: Arc<HashMap<&'a str, Symbol>>,
    pub(super) history: Option<PathBuf>,
    /// The span of the experiment's `history` setting, for diagnostics about the file.
    pub(super) history_span: Option<Span>,
    /// The target family of each resource and link that checked, by symbol index.
    pub(super) families: Arc<Vec<Option<TargetFamily>>>,
    /// What was read from disk for the plan (history rows, script sources).
    pub(super) loaded: LoadedInputs,
}

/// `iter` collected into a vector with room for `upper` items reserved up front: collecting a
/// filtered iterator grows the vector by doubling, copying every item each time.
fn sized<T>(upper: usize, iter: impl Iterator<Item = T>) -> Vec<T> {
    let mut v = Vec::with_capacity(upper);
    v.extend(iter);
    v
}

/// From this many faults on, the fault pass runs on two threads
/// (`Checker::faults_alongside`), in chunks of `FAULT_CHUNK`.
const PARALLEL_FAULTS: usize = 2_000;
const FAULT_CHUNK: usize = 256;

/// What the threads of the fault pass share: the chunks, the next one to take, and the
/// context every fault is checked in.
#[derive(Clone, Copy)]
struct Shared<'s> {
    chunks: &'s [&'s [&'s ast::Fault]],
    next: &'s AtomicUsize,
    profiles: &'s HashMap<String, &'s ast::Profile>,
    experiment: Option<&'s ExperimentPlan>,
}

impl Shared<'_> {
    /// Takes chunks until none is left: (chunk index, its plans, its diagnostics).
    fn work(self, base: &Checker<'_>) -> Vec<(usize, Vec<FaultPlan>, Diagnostics)> {
        let mut done = Vec::new();
        loop {
            let index = self.next.fetch_add(1, Ordering::Relaxed);
            let Some(chunk) = self.chunks.get(index) else {
                return done;
            };
            let mut diagnostics = Diagnostics::new();
            let mut checker = base.fork(&mut diagnostics);
            let plans = sized(
                chunk.len(),
                chunk
                    .iter()
                    .filter_map(|f| checker.fault(f, self.profiles, self.experiment)),
            );
            done.push((index, plans, diagnostics));
        }
    }
}

impl<'a> Checker<'a> {
    pub fn new(sources: &'a SourceMap, diagnostics: &'a mut Diagnostics, root: &Path) -> Self {
        Checker {
            sources,
            diagnostics,
            root: root.to_path_buf(),
            symbols: Arc::default(),
            history: None,
            history_span: None,
            families: Arc::default(),
            loaded: LoadedInputs::default(),
        }
    }

    /// A checker for another thread: the same tables, its own diagnostics.
    fn fork<'b>(&self, diagnostics: &'b mut Diagnostics) -> Checker<'b>
    where
        'a: 'b,
    {
        Checker {
            sources: self.sources,
            diagnostics,
            root: self.root.clone(),
            symbols: Arc::clone(&self.symbols),
            history: self.history.clone(),
            history_span: self.history_span,
            families: Arc::clone(&self.families),
            loaded: LoadedInputs::default(),
        }
    }

    pub(super) fn error(&mut self, d: Diagnostic) {
        self.diagnostics.push(d);
    }

    pub(super) fn values(&mut self) -> Values<'_> {
        Values {
            diagnostics: self.diagnostics,
        }
    }

    pub(super) fn location(&self, span: Span) -> Location {
        let (line, column) = self.sources.line_col(span.file, span.start);
        Location {
            file: self.sources.path(span.file).to_path_buf(),
            line,
            column,
            start: span.start,
            end: span.end,
        }
    }

    /// Folder that relative paths in `span`'s file are resolved against.
    pub(super) fn base_dir(&self, span: Span) -> PathBuf {
        let path = self.sources.path(span.file);
        if path.to_string_lossy().starts_with('<') {
            return self
                .root
                .parent()
                .map(Path::to_path_buf)
                .unwrap_or_default();
        }
        path.parent().map(Path::to_path_buf).unwrap_or_default()
    }

    pub fn check(mut self, files: &'a [LoadedFile]) -> Option<Plan> {
        let items: Vec<&'a Item> = files.iter().flat_map(|f| f.ast.items.iter()).collect();
        let root_items: Vec<&Item> = files
            .iter()
            .filter(|f| f.is_root)
            .flat_map(|f| f.ast.items.iter())
            .collect();

        // Names first, so that every later pass can resolve forward references.
        Arc::make_mut(&mut self.symbols).reserve(items.len());
        // Each item's symbol index, so that later passes need not look their own names up.
        let mut item_symbols = vec![u32::MAX; items.len()];
        for (item, symbol) in items.iter().zip(&mut item_symbols) {
            let (name, kind) = match item {
                Item::Resource(r) => (&r.name, SymbolKind::Resource),
                Item::Link(l) => (&l.name, SymbolKind::Link),
                Item::Fault(f) => (&f.name, SymbolKind::Fault),
                Item::Probe(p) => (&p.name, SymbolKind::Probe),
                Item::Telemetry(t) => (&t.name, SymbolKind::Telemetry),
                Item::Profile(p) => (&p.name, SymbolKind::Profile),
                _ => continue,
            };
            if let Some(index) = self.declare(name, kind) {
                *symbol = index;
            }
        }
        self.families = Arc::new(vec![None; self.symbols.len()]);

        let experiment = self.experiment(&items, &root_items);
        let count = |kind: fn(&Item) -> bool| items.iter().filter(|i| kind(i)).count();
        let resources: Vec<(ResourcePlan, Span)> = sized(
            count(|i| matches!(i, Item::Resource(_))),
            items
                .iter()
                .zip(&item_symbols)
                .filter_map(|(i, &symbol)| match i {
                    Item::Resource(r) => self.resource(r).map(|p| {
                        self.set_family(symbol, p.target.family());
                        (p, r.name.span)
                    }),
                    _ => None,
                }),
        );
        self.incidents(&resources);
        let links: Vec<LinkPlan> = sized(
            count(|i| matches!(i, Item::Link(_))),
            items
                .iter()
                .zip(&item_symbols)
                .filter_map(|(i, &symbol)| match i {
                    Item::Link(l) => {
                        let http = l.kind.node == ast::LinkKind::Http;
                        self.set_family(
                            symbol,
                            if http {
                                TargetFamily::HttpLink
                            } else {
                                TargetFamily::TcpLink
                            },
                        );
                        self.link(l)
                    }
                    _ => None,
                }),
        );
        let profiles: HashMap<String, &ast::Profile> = items
            .iter()
            .filter_map(|i| match i {
                Item::Profile(p) => Some((p.name.node.clone(), &**p)),
                _ => None,
            })
            .collect();
        let fault_items: Vec<&ast::Fault> = sized(
            count(|i| matches!(i, Item::Fault(_))),
            items.iter().filter_map(|i| match i {
                Item::Fault(f) => Some(&**f),
                _ => None,
            }),
        );
        let (faults, (dependencies, resources)) =
            self.faults_alongside(&fault_items, &profiles, experiment.as_ref(), |this| {
                this.dependencies(&items, resources)
            });
        self.check_events(&items, &faults);
        let probes: Vec<ProbePlan> = items
            .iter()
            .filter_map(|i| match i {
                Item::Probe(p) => self.probe(p),
                _ => None,
            })
            .collect();
        let telemetry: Vec<TelemetryPlan> = items
            .iter()
            .filter_map(|i| match i {
                Item::Telemetry(t) => self.telemetry(t),
                _ => None,
            })
            .collect();
        let thresholds: Vec<ThresholdPlan> = items
            .iter()
            .filter_map(|i| match i {
                Item::Threshold(t) => self.threshold(t),
                _ => None,
            })
            .collect();
        let mut patterns = Vec::new();
        for item in &items {
            match item {
                Item::Pattern(p) => patterns.extend(self.pattern(p)),
                Item::Predict(p) => {
                    for pat in &p.patterns {
                        patterns.extend(self.pattern(pat));
                    }
                }
                _ => {}
            }
        }
        let mut pattern_names: Vec<&str> = Vec::new();
        for p in &patterns {
            if pattern_names.contains(&p.name.as_str()) {
                continue;
            }
            pattern_names.push(&p.name);
        }
        let predicts: Vec<&ast::Predict> = root_items
            .iter()
            .filter_map(|i| match i {
                Item::Predict(p) => Some(&**p),
                _ => None,
            })
            .collect();
        for extra in predicts.iter().skip(1) {
            self.error(
                Diagnostic::error(Code::DuplicateSetting, "a scenario has one `predict` block")
                    .at(extra.span, "second predict block")
                    .with_label(predicts[0].span, "first one here")
                    .help("merge the two blocks"),
            );
        }
        let predict = predicts.first().and_then(|p| self.predict(p, &patterns));
        let mitigations: Vec<MitigationPlan> = items
            .iter()
            .filter_map(|i| match i {
                Item::Mitigate(m) => self.mitigation(m, &patterns, &faults),
                _ => None,
            })
            .collect();
        let remediations: Vec<RemediationPlan> = items
            .iter()
            .filter_map(|i| match i {
                Item::Remediation(r) => self.remediation(r),
                _ => None,
            })
            .collect();
        self.unused_profiles(files, &items);
        let analysis = self.analysis(&items, &resources);

        if self.diagnostics.has_errors() {
            return None;
        }
        Some(Plan {
            experiment: experiment?,
            resources,
            links,
            dependencies,
            faults,
            probes,
            telemetry,
            thresholds,
            predict,
            patterns,
            mitigations,
            remediations,
            loaded: LoadedInputs {
                stdlib_remediations: super::loader::stdlib_remediations(),
                ..self.loaded
            },
            analysis,
        })
    }

    /// Checks every fault, and runs `meanwhile` (a pass the faults do not depend on).
    ///
    /// A big scenario's faults are shared out in chunks between a helper thread, which starts
    /// on them at once, and this thread once `meanwhile` is done. Each chunk collects its own
    /// diagnostics; plans and diagnostics are put back in source order.
    fn faults_alongside<R>(
        &mut self,
        faults: &[&ast::Fault],
        profiles: &HashMap<String, &ast::Profile>,
        experiment: Option<&ExperimentPlan>,
        meanwhile: impl FnOnce(&mut Self) -> R,
    ) -> (Vec<FaultPlan>, R) {
        if faults.len() < PARALLEL_FAULTS {
            let other = meanwhile(self);
            let plans = faults
                .iter()
                .filter_map(|f| self.fault(f, profiles, experiment))
                .collect();
            return (plans, other);
        }
        let chunks: Vec<&[&ast::Fault]> = faults.chunks(FAULT_CHUNK).collect();
        let next = AtomicUsize::new(0);
        let shared = Shared {
            chunks: &chunks,
            next: &next,
            profiles,
            experiment,
        };
        // The helper forks a checker per chunk from this one, so its own diagnostics stay empty.
        let mut unused = Diagnostics::new();
        let helper_base = self.fork(&mut unused);
        let (mut done, other) = std::thread::scope(|scope| {
            let helper = scope.spawn(move || shared.work(&helper_base));
            let other = meanwhile(self);
            let mut done = shared.work(self);
            done.extend(
                helper
                    .join()
                    .unwrap_or_else(|panic| std::panic::resume_unwind(panic)),
            );
            (done, other)
        });
        done.sort_unstable_by_key(|(index, _, _)| *index);
        let mut plans = Vec::with_capacity(faults.len());
        for (_, chunk_plans, diagnostics) in done {
            plans.extend(chunk_plans);
            self.diagnostics.extend(diagnostics);
        }
        (plans, other)
    }

    fn set_family(&mut self, symbol: u32, family: TargetFamily) {
        if let Some(slot) = Arc::make_mut(&mut self.families).get_mut(symbol as usize) {
            *slot = Some(family);
        }
    }

    /// Declares `name`; its symbol index, or `None` (and a diagnostic) if it is taken.
    fn declare(&mut self, name: &'a ast::Ident, kind: SymbolKind) -> Option<u32> {
        if let Some(previous) = self.symbols.get(name.node.as_str()) {
            let d = Diagnostic::error(
                Code::DuplicateName,
                format!(
                    "`{}` is declared twice (as a {} and as a {})",
                    name.node,
                    previous.kind.describe(),
                    kind.describe()
                ),
            )
            .at(name.span, "declared again here")
            .with_label(previous.span, "first declared here")
            .help("rename one of them: resources, links, faults, probes and profiles share one namespace");
            self.error(d);
            return None;
        }
        let symbols = Arc::make_mut(&mut self.symbols);
        let index = symbols.len() as u32;
        symbols.insert(
            &name.node,
            Symbol {
                kind,
                span: name.span,
                index,
            },
        );
        Some(index)
    }

    /// Resolves a name that must be one of `kinds`; reports unknown names with a suggestion.
    pub(super) fn resolve(
        &mut self,
        name: &ast::Ident,
        kinds: &[SymbolKind],
    ) -> Option<SymbolKind> {
        self.lookup(name, kinds).map(|s| s.kind)
    }

    /// `resolve`, giving the whole symbol.
    pub(super) fn lookup(&mut self, name: &ast::Ident, kinds: &[SymbolKind]) -> Option<Symbol> {
        match self.symbols.get(name.node.as_str()) {
            Some(s) if kinds.contains(&s.kind) => Some(*s),
            Some(s) => {
                let s = *s;
                let wanted: Vec<&str> = kinds.iter().map(|k| k.describe()).collect();
                self.error(
                    Diagnostic::error(
                        Code::UnknownName,
                        format!(
                            "`{}` is a {}, but a {} is expected here",
                            name.node,
                            s.kind.describe(),
                            wanted.join(" or ")
                        ),
                    )
                    .at(name.span, format!("expected a {}", wanted.join(" or ")))
                    .with_label(s.span, format!("`{}` is declared here", name.node)),
                );
                None
            }
            None => {
                let mut declared: Vec<(u32, &str)> = self
                    .symbols
                    .iter()
                    .filter(|(_, s)| kinds.contains(&s.kind))
                    .map(|(n, s)| (s.index, *n))
                    .collect();
                declared.sort_unstable();
                let candidates: Vec<&str> = declared.into_iter().map(|(_, n)| n).collect();
                let wanted: Vec<&str> = kinds.iter().map(|k| k.describe()).collect();
                let help = match suggest(&name.node, candidates.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None if candidates.is_empty() => {
                        format!("declare a {} named `{}`", wanted.join(" or "), name.node)
                    }
                    None => format!("declared: {}", candidates.join(", ")),
                };
                self.error(
                    Diagnostic::error(
                        Code::UnknownName,
                        format!("unknown {} `{}`", wanted.join(" or "), name.node),
                    )
                    .at(name.span, "not declared")
                    .help(help),
                );
                None
            }
        }
    }

    /// Indexes a block's settings by key, reporting unknown and repeated keys.
    pub(super) fn settings<'b>(
        &mut self,
        block: &'b ast::Block,
        allowed: &[&str],
        what: impl std::fmt::Display,
    ) -> BTreeMap<&'b str, &'b Setting> {
        self.settings_in(&block.settings, allowed, what)
    }

    /// `settings` over any list of settings (a fault merges its profile's and its own).
    pub(super) fn settings_in<'b>(
        &mut self,
        settings: impl IntoIterator<Item = &'b Setting>,
        allowed: &[&str],
        what: impl std::fmt::Display,
    ) -> BTreeMap<&'b str, &'b Setting> {
        let mut out: BTreeMap<&'b str, &'b Setting> = BTreeMap::new();
        for setting in settings {
            let key = setting.key.node.as_str();
            if !allowed.contains(&key) {
                let mut d = Diagnostic::error(
                    Code::UnknownSetting,
                    format!("`{key}` is not a setting of {what}"),
                )
                .at(setting.key.span, "unknown setting");
                d = match suggest(key, allowed.iter().copied()) {
                    Some(s) => d.help(format!("did you mean `{s}`?")),
                    None if allowed.is_empty() => d.help(format!("{what} takes no settings")),
                    None => d.help(format!("{what} takes: {}", allowed.join(", "))),
                };
                self.error(d);
                continue;
            }
            if let Some(first) = out.get(key) {
                let d = Diagnostic::error(Code::DuplicateSetting, format!("`{key}` is set twice"))
                    .at(setting.key.span, "set again here")
                    .with_label(first.key.span, "first set here")
                    .help("remove one of them");
                self.error(d);
                continue;
            }
            out.insert(key, setting);
        }
        out
    }

    /// The single value of a setting; reports a missing value or extra values.
    pub(super) fn one<'b>(&mut self, setting: &'b Setting) -> Option<&'b Spanned<Term>> {
        match setting.terms.as_slice() {
            [one] => Some(one),
            [] => {
                self.error(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("`{}` needs a value", setting.key.node),
                    )
                    .at(setting.key.span, "no value")
                    .help(format!("write `{} <value>` on one line", setting.key.node)),
                );
                None
            }
            [_, extra, ..] => {
                let span = extra.span.to(setting.terms[setting.terms.len() - 1].span);
                self.error(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!(
                            "`{}` takes one value, found {}",
                            setting.key.node,
                            setting.terms.len()
                        ),
                    )
                    .at(span, "unexpected")
                    .help("put each setting on its own line, or separate settings with `;`"),
                );
                None
            }
        }
    }

    pub(super) fn missing(&mut self, span: Span, what: &str, setting: &str, example: &str) {
        self.error(
            Diagnostic::error(
                Code::MissingSetting,
                format!("{what} needs a `{setting}` setting"),
            )
            .at(span, format!("no `{setting}` here"))
            .help(format!("add `{example}`")),
        );
    }

    fn experiment(&mut self, items: &[&Item], root_items: &[&Item]) -> Option<ExperimentPlan> {
        let all: Vec<&ast::Experiment> = items
            .iter()
            .filter_map(|i| match i {
                Item::Experiment(e) => Some(&**e),
                _ => None,
            })
            .collect();
        let in_root: Vec<&ast::Experiment> = root_items
            .iter()
            .filter_map(|i| match i {
                Item::Experiment(e) => Some(&**e),
                _ => None,
            })
            .collect();
        for e in &all {
            if !in_root.iter().any(|r| std::ptr::eq(*r, *e)) {
                self.error(
                    Diagnostic::error(
                        Code::EmptyScenario,
                        "an imported module declares an experiment",
                    )
                    .at(
                        e.span,
                        "only the scenario itself may declare the experiment",
                    )
                    .help("move this block into the scenario file, or remove it from the module"),
                );
            }
        }
        for extra in in_root.iter().skip(1) {
            self.error(
                Diagnostic::error(Code::EmptyScenario, "a scenario has exactly one experiment")
                    .at(extra.span, "second experiment")
                    .with_label(in_root[0].span, "first one here")
                    .help("merge the two experiment blocks, or split the file in two"),
            );
        }
        let Some(e) = in_root.first() else {
            let span = root_items.first().map(|i| i.span()).unwrap_or_default();
            self.error(
                Diagnostic::error(
                    Code::EmptyScenario,
                    "this scenario has no `experiment` block",
                )
                .at(
                    Span::new(span.file, 0, 0),
                    "expected an experiment in this file",
                )
                .help("add `experiment \"name\" { duration 30s }`"),
            );
            return None;
        };
        let settings = self.settings(
            &e.settings,
            &["duration", "seed", "history", "baseline"],
            "an experiment",
        );
        if e.name.node.trim().is_empty() {
            self.error(
                Diagnostic::error(Code::InvalidValue, "the experiment name is empty")
                    .at(e.name.span, "empty name")
                    .help("name the experiment after the hypothesis it tests"),
            );
        }
        let duration = match settings.get("duration") {
            Some(s) => self.one(s).and_then(|t| {
                let d = self.values().non_negative(t, Quantity::Duration)?;
                if d <= 0.0 {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "the duration must be positive")
                            .at(t.span, "zero")
                            .help("for example `duration 30s`"),
                    );
                    return None;
                }
                Some(d)
            }),
            None => {
                self.missing(e.span, "the experiment", "duration", "duration 30s");
                None
            }
        };
        let seed = match settings.get("seed") {
            Some(s) => self.one(s).and_then(|t| {
                let text = self.sources.slice(t.span).to_string();
                self.values().seed(t, &text)
            }),
            None => Some(0),
        };
        let history = settings.get("history").and_then(|s| {
            let t = self.one(s)?;
            let rel = self.values().string(t, "the history file")?;
            let path = self.base_dir(t.span).join(&rel);
            self.history_span = Some(t.span);
            if !path.is_file() {
                self.error(
                    Diagnostic::error(
                        Code::History,
                        format!("history file `{}` not found", path.display()),
                    )
                    .at(t.span, "no such file")
                    .help("history paths are relative to the scenario's folder"),
                );
                return None;
            }
            Some(path)
        });
        self.history = history.clone();
        let baseline = settings
            .get("baseline")
            .and_then(|s| self.one(s))
            .map(|t| self.values().non_negative(t, Quantity::Duration));
        Some(ExperimentPlan {
            name: e.name.node.clone(),
            duration_ms: duration?,
            seed: seed?,
            history,
            source: self.root.clone(),
            baseline_ms: match baseline {
                Some(b) => b?,
                None => 0.0,
            },
        })
    }

    fn resource(&mut self, r: &ast::Resource) -> Option<ResourcePlan> {
        let mut allowed = vec![
            "type",
            "criticality",
            "ready",
            "health",
            "standby",
            "may_exit",
        ];
        match &r.kind.node {
            ast::ResourceKind::Process { .. } => allowed.extend(["env", "cwd", "stop_grace"]),
            ast::ResourceKind::ContainerLabel { .. } => allowed.extend(["pick", "agent"]),
            ast::ResourceKind::Service { .. } | ast::ResourceKind::ServiceLabel { .. } => {
                allowed.extend(["pick", "agent", "agent_service"])
            }
            ast::ResourceKind::Image { .. } => allowed.extend(["cmd", "env", "ports"]),
            ast::ResourceKind::Container { .. } => {}
        }
        let what = format!("resource `{}`", r.name.node);
        let settings = self.settings(&r.settings, &allowed, &what);
        let mut ok = true;
        let env = self.env(&r.settings);
        let target = match &r.kind.node {
            ast::ResourceKind::Process { argv } => {
                if argv.is_empty() || argv[0].node.is_empty() {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "a process needs a program to run")
                            .at(r.kind.span, "empty argv")
                            .help("write the program and its arguments: process [\"./api\", \"--port\", \"8080\"]"),
                    );
                    ok = false;
                }
                let cwd = settings.get("cwd").and_then(|s| {
                    let t = self.one(s)?;
                    let dir = self.values().string(t, "the working directory")?;
                    Some(self.base_dir(t.span).join(dir))
                });
                let grace = settings
                    .get("stop_grace")
                    .and_then(|s| self.one(s))
                    .and_then(|t| self.values().non_negative(t, Quantity::Duration))
                    .unwrap_or(2000.0);
                ResourceTarget::Process {
                    argv: argv.iter().map(|a| a.node.clone()).collect(),
                    env,
                    cwd,
                    stop_grace_ms: grace,
                }
            }
            ast::ResourceKind::Container { name } => {
                if name.node.trim().is_empty() {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "the container name is empty")
                            .at(name.span, "empty")
                            .help("name the container by its name or id"),
                    );
                    ok = false;
                } else if let Some(reason) = container_name_problem(&name.node) {
                    self.error(
                        Diagnostic::error(
                            Code::InvalidValue,
                            format!("`{}` cannot name a container", name.node),
                        )
                        .at(name.span, "not a container name")
                        .help(reason),
                    );
                    ok = false;
                }
                ResourceTarget::Container {
                    name: name.node.clone(),
                }
            }
            ast::ResourceKind::ContainerLabel { selector } => {
                ok &= self.label_selector(
                    selector,
                    "select containers by a label: container label \"app=shop\"",
                );
                let pick = settings
                    .get("pick")
                    .map(|s| self.pick(s))
                    .unwrap_or(Some(Pick::All));
                ResourceTarget::ContainerLabel {
                    selector: selector.node.clone(),
                    pick: pick?,
                }
            }
            ast::ResourceKind::Service { name } => {
                if name.node.trim().is_empty() {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "the service name is empty")
                            .at(name.span, "empty")
                            .help("name the Swarm service: service \"shop_api\""),
                    );
                    ok = false;
                } else if let Some(reason) = container_name_problem(&name.node) {
                    self.error(
                        Diagnostic::error(
                            Code::InvalidValue,
                            format!("`{}` cannot name a service", name.node),
                        )
                        .at(name.span, "not a service name")
                        .help(reason),
                    );
                    ok = false;
                }
                let pick = settings
                    .get("pick")
                    .map(|s| self.pick(s))
                    .unwrap_or(Some(Pick::All));
                ResourceTarget::Service {
                    name: name.node.clone(),
                    pick: pick?,
                }
            }
            ast::ResourceKind::ServiceLabel { selector } => {
                ok &= self.label_selector(
                    selector,
                    "select Swarm services by a label: service label \"tier=shop\"",
                );
                let pick = settings
                    .get("pick")
                    .map(|s| self.pick(s))
                    .unwrap_or(Some(Pick::All));
                ResourceTarget::ServiceLabel {
                    selector: selector.node.clone(),
                    pick: pick?,
                }
            }
            ast::ResourceKind::Image { image } => {
                let cmd = settings
                    .get("cmd")
                    .and_then(|s| self.string_list(s))
                    .unwrap_or_default();
                let ports = settings
                    .get("ports")
                    .and_then(|s| self.string_list(s))
                    .unwrap_or_default();
                ResourceTarget::Image {
                    image: image.node.clone(),
                    cmd,
                    env,
                    ports,
                }
            }
        };
        let resource_type = settings.get("type").and_then(|s| {
            let t = self.one(s)?;
            self.values().word(t, &[])
        });
        let criticality = match settings.get("criticality") {
            Some(s) => self.one(s).and_then(|t| {
                let w = self
                    .values()
                    .word(t, &["low", "medium", "high", "critical"])?;
                Criticality::parse(&w)
            }),
            None => Some(Criticality::Medium),
        };
        let ready = settings.get("ready").map(|s| self.check_spec(s, true));
        let health = settings.get("health").map(|s| self.check_spec(s, false));
        let standby = match settings.get("standby") {
            Some(s) if !s.terms.is_empty() => {
                self.error(
                    Diagnostic::error(Code::InvalidValue, "`standby` takes no value")
                        .at(s.terms[0].span, "unexpected")
                        .help("write `standby` alone on its line"),
                );
                false
            }
            Some(_) => true,
            None => false,
        };
        let may_exit = match settings.get("may_exit") {
            Some(s) if !s.terms.is_empty() => {
                self.error(
                    Diagnostic::error(Code::InvalidValue, "`may_exit` takes no value")
                        .at(s.terms[0].span, "unexpected")
                        .help("write `may_exit` alone on its line"),
                );
                false
            }
            Some(_) => true,
            None => false,
        };
        let agent = settings.get("agent").and_then(|s| {
            let t = self.one(s)?;
            self.values().string(t, "the agent's address (host:port)")
        });
        let agent_service = settings.get("agent_service").and_then(|s| {
            let t = self.one(s)?;
            self.values()
                .string(t, "the name of the agents' Swarm global service")
        });
        let ready = match ready {
            Some(r) => Some(r?),
            None => None,
        };
        let health = match health {
            Some(h) => Some(h?),
            None => None,
        };
        if !ok {
            return None;
        }
        Some(ResourcePlan {
            name: r.name.node.clone(),
            target,
            resource_type,
            criticality: criticality?,
            ready,
            health,
            standby,
            may_exit,
            agent,
            agent_service,
            at: self.location(r.name.span),
        })
    }

    fn env(&mut self, block: &ast::Block) -> BTreeMap<String, String> {
        let mut env = BTreeMap::new();
        for s in block.settings.iter().filter(|s| s.key.node == "env") {
            match s.terms.as_slice() {
                [name, eq, value] if matches!(&eq.node, Term::Op(o) if o == "=") => {
                    let key = match &name.node {
                        Term::Ident(n) => Some(n.clone()),
                        Term::String(n) => Some(n.clone()),
                        _ => None,
                    };
                    let value = self.values().string(value, "the variable's value");
                    if let (Some(k), Some(v)) = (key, value) {
                        env.insert(k, v);
                    }
                }
                _ => self.error(
                    Diagnostic::error(Code::InvalidValue, "expected `env NAME = \"value\"`")
                        .at(s.span, "malformed env setting")
                        .help("for example `env RUST_LOG = \"info\"`, one variable per line"),
                ),
            }
        }
        env
    }

    /// Checks a `label "k=v"` (or `label "k"`) selector; `help` shows the form for its
    /// resource (`container label …`, `service label …`). False when it was refused.
    fn label_selector(&mut self, selector: &Spanned<String>, help: &str) -> bool {
        if selector.node.trim().is_empty() {
            self.error(
                Diagnostic::error(Code::InvalidValue, "the label selector is empty")
                    .at(selector.span, "empty")
                    .help(help),
            );
            return false;
        }
        let key = selector.node.split('=').next().unwrap_or_default();
        if let Some(reason) = label_key_problem(key) {
            self.error(
                Diagnostic::error(
                    Code::InvalidValue,
                    format!("`{}` is not a label selector", selector.node),
                )
                .at(selector.span, reason)
                .help(format!("{help} or \"tier\"")),
            );
            return false;
        }
        true
    }

    fn pick(&mut self, s: &Setting) -> Option<Pick> {
        let t = self.one(s)?;
        match &t.node {
            Term::Ident(w) if w == "all" => Some(Pick::All),
            Term::Ident(w) if w == "one" => Some(Pick::Count(1)),
            Term::Quantity { unit: Some(u), .. } if u == "%" => {
                let f = self.values().probability(t)?;
                if f <= 0.0 {
                    self.error(
                        Diagnostic::error(Code::InvalidValue, "`pick 0%` selects no container")
                            .at(t.span, "nothing picked")
                            .help("pick a share above 0%, a count, `one` or `all`"),
                    );
                    return None;
                }
                Some(Pick::Fraction(f))
            }
            _ => {
                let n = self.values().integer(t, 1, 1_000_000)?;
                Some(Pick::Count(n as u32))
            }
        }
    }

    fn string_list(&mut self, s: &Setting) -> Option<Vec<String>> {
        let t = self.one(s)?;
        match &t.node {
            Term::List(items) => items
                .iter()
                .map(|i| self.values().string(i, "each item"))
                .collect(),
            other => {
                self.error(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("expected a list of strings, found {}", other.describe()),
                    )
                    .at(t.span, "expected [\"...\", ...]")
                    .help("write a list of strings: [\"a\", \"b\"]"),
                );
                None
            }
        }
    }

    /// `ready tcp 127.0.0.1:8080 within 5s`, `health http "url" every 1s timeout 500ms`.
    fn check_spec(&mut self, s: &Setting, readiness: bool) -> Option<CheckPlan> {
        let example = if readiness {
            "ready http \"http://127.0.0.1:8080/health\" within 10s"
        } else {
            "health http \"http://127.0.0.1:8080/health\" every 1s"
        };
        let bad = |this: &mut Self, span: Span, msg: &str| {
            this.error(
                Diagnostic::error(Code::InvalidValue, msg.to_string())
                    .at(span, "here")
                    .help(format!("for example `{example}`")),
            );
        };
        let terms = &s.terms;
        let Some(kind) = terms.first() else {
            bad(
                self,
                s.key.span,
                "expected `http \"url\"` or `tcp host:port`",
            );
            return None;
        };
        let check = match (&kind.node, terms.get(1).map(|t| &t.node)) {
            (Term::Ident(k), Some(Term::String(url))) if k == "http" => {
                if !url.starts_with("http://") {
                    bad(self, terms[1].span, "the URL must start with http://");
                    return None;
                }
                CheckKind::Http { url: url.clone() }
            }
            (Term::Ident(k), Some(Term::Address(a))) if k == "tcp" => CheckKind::Tcp {
                address: a.to_string(),
            },
            _ => {
                bad(
                    self,
                    kind.span,
                    "expected `http \"url\"` or `tcp host:port`",
                );
                return None;
            }
        };
        let mut interval = if readiness { 10_000.0 } else { 1000.0 };
        let mut timeout = 1000.0;
        let mut rest = terms[2..].iter();
        while let Some(word) = rest.next() {
            let key = match &word.node {
                Term::Ident(w) => w.as_str(),
                _ => "",
            };
            let Some(value) = rest.next() else {
                bad(self, word.span, "expected a duration after this");
                return None;
            };
            let v = self.values().non_negative(value, Quantity::Duration)?;
            match key {
                "within" if readiness => interval = v,
                "every" if !readiness => interval = v,
                "timeout" => timeout = v,
                _ => {
                    bad(
                        self,
                        word.span,
                        if readiness {
                            "expected `within` or `timeout`"
                        } else {
                            "expected `every` or `timeout`"
                        },
                    );
                    return None;
                }
            }
        }
        Some(CheckPlan {
            check,
            interval_ms: interval,
            timeout_ms: timeout,
        })
    }

    fn link(&mut self, l: &'a ast::Link) -> Option<LinkPlan> {
        let what = format!("link `{}`", l.name.node);
        self.settings(&l.settings, &[], &what);
        let http = l.kind.node == ast::LinkKind::Http;
        let listen_ok = self.port(&l.listen);
        let upstream_ok = self.port(&l.upstream);
        let upstream_resource = match self.symbols.get(l.upstream.host.as_str()) {
            Some(s) if s.kind == SymbolKind::Resource => Some(l.upstream.host.clone()),
            _ => None,
        };
        if !listen_ok || !upstream_ok {
            return None;
        }
        Some(LinkPlan {
            name: l.name.node.clone(),
            http,
            listen: l.listen.node.to_string(),
            upstream: l.upstream.node.to_string(),
            upstream_resource,
            at: self.location(l.name.span),
        })
    }

    fn port(&mut self, address: &Spanned<ast::Address>) -> bool {
        match address.port.node.parse::<u32>() {
            Ok(p) if (1..=65535).contains(&p) => true,
            _ => {
                self.error(
                    Diagnostic::error(
                        Code::InvalidValue,
                        format!("`{}` is not a port (1-65535)", address.port.node),
                    )
                    .at(address.port.span, "not a valid port")
                    .help("use a port from 1 to 65535"),
                );
                false
            }
        }
    }

    fn dependencies(
        &mut self,
        items: &[&Item],
        resources: Vec<(ResourcePlan, Span)>,
    ) -> (Vec<DependencyPlan>, Vec<ResourcePlan>) {
        // Symbol index -> position in `resources`, for the resources that checked.
        let mut position = vec![usize::MAX; self.symbols.len()];
        for (i, (r, _)) in resources.iter().enumerate() {
            if let Some(symbol) = self.symbols.get(r.name.as_str()) {
                position[symbol.index as usize] = i;
            }
        }
        let mut graph = Graph::new(resources.len());
        let mut edges = Vec::with_capacity(
            items
                .iter()
                .map(|i| match i {
                    Item::Dependency(d) => d.to.len(),
                    _ => 0,
                })
                .sum(),
        );
        // The span of each edge, by its `from` node: a map keyed by (from, to) pairs of small
        // integers sent FxHash's probes into long chains (a tenth of checking 10,000 edges).
        let mut edge_spans: Vec<Vec<(usize, Span)>> = vec![Vec::new(); resources.len()];
        let edge_span = |spans: &[Vec<(usize, Span)>], from: usize, to: usize| {
            spans[from]
                .iter()
                .find(|(t, _)| *t == to)
                .map(|(_, span)| *span)
        };
        for item in items {
            let Item::Dependency(d) = item else { continue };
            let from = self.lookup(&d.from, &[SymbolKind::Resource]);
            let via = d.via.as_ref().and_then(|v| {
                self.resolve(v, &[SymbolKind::Link])?;
                Some(v.node.clone())
            });
            for to in &d.to {
                let (Some(from), Some(to_symbol)) =
                    (from, self.lookup(to, &[SymbolKind::Resource]))
                else {
                    continue;
                };
                if to.node == d.from.node {
                    self.error(
                        Diagnostic::error(
                            Code::DependencyCycle,
                            format!("`{}` depends on itself", to.node),
                        )
                        .at(to.span, "a resource cannot depend on itself")
                        .help("remove this dependency"),
                    );
                    continue;
                }
                let (f, t) = (
                    position[from.index as usize],
                    position[to_symbol.index as usize],
                );
                if f != usize::MAX && t != usize::MAX {
                    graph.add(f, t);
                    match edge_spans[f].iter_mut().find(|(to, _)| *to == t) {
                        Some(edge) => edge.1 = d.span,
                        None => edge_spans[f].push((t, d.span)),
                    }
                }
                edges.push(DependencyPlan {
                    from: d.from.node.clone(),
                    to: to.node.clone(),
                    via: via.clone(),
                });
            }
        }
        for cycle in graph.cycles() {
            let names: Vec<&str> = cycle
                .iter()
                .map(|&i| resources[i].0.name.as_str())
                .collect();
            let first_edge =
                edge_span(&edge_spans, cycle[0], cycle[1]).unwrap_or(resources[cycle[0]].1);
            let mut d = Diagnostic::error(
                Code::DependencyCycle,
                format!("dependency cycle: {}", names.join(" -> ")),
            )
            .at(first_edge, format!("{} depends on {}", names[0], names[1]));
            for w in cycle.windows(2).skip(1) {
                if let Some(span) = edge_span(&edge_spans, w[0], w[1]) {
                    d = d.with_label(
                        span,
                        format!(
                            "{} depends on {}",
                            resources[w[0]].0.name, resources[w[1]].0.name
                        ),
                    );
                }
            }
            self.error(d.help("remove one of these dependencies to break the cycle"));
        }
        let order = graph.start_order();
        let mut slots: Vec<Option<ResourcePlan>> =
            resources.into_iter().map(|(r, _)| Some(r)).collect();
        let ordered = order.into_iter().filter_map(|i| slots[i].take()).collect();
        (edges, ordered)
    }

    fn unused_profiles(&mut self, files: &[LoadedFile], items: &[&Item]) {
        let declares_profiles = files
            .iter()
            .any(|f| f.is_root && f.ast.items.iter().any(|i| matches!(i, Item::Profile(_))));
        if !declares_profiles {
            // Reading every fault's kind touches every fault again: skip it when it is not needed.
            return;
        }
        let used: Vec<&str> = items
            .iter()
            .filter_map(|i| match i {
                Item::Fault(f) => Some(f.kind.node.as_str()),
                _ => None,
            })
            .collect();
        for f in files.iter().filter(|f| f.is_root) {
            for item in &f.ast.items {
                if let Item::Profile(p) = item
                    && !used.contains(&p.name.node.as_str())
                {
                    self.diagnostics.push(
                        Diagnostic::warning(
                            Code::Unused,
                            format!("profile `{}` is never used", p.name.node),
                        )
                        .at(p.name.span, "declared here")
                        .help(format!(
                            "use it as a fault kind: `fault f: {} on <target>`, or remove it",
                            p.name.node
                        )),
                    );
                }
            }
        }
    }

    pub(super) fn history_column(
        &self,
        path: &[String],
        span: Span,
    ) -> Result<Vec<f64>, Diagnostic> {
        let Some(file) = &self.history else {
            return Err(Diagnostic::error(
                Code::History,
                "`empirical` needs a history file, and the experiment declares none",
            )
            .at(span, "no history to sample from")
            .help("add `history \"path/to/incidents.csv\"` to the experiment block"));
        };
        let column = match path {
            [h, column] if h == "history" => column,
            _ => {
                return Err(Diagnostic::error(
                    Code::History,
                    format!("`{}` is not a history column", path.join(".")),
                )
                .at(span, "expected `history.<column>`")
                .help("for example `empirical(history.duration)`"));
            }
        };
        super::history::duration_column(file, column).map_err(|message| {
            Diagnostic::error(Code::History, message)
                .at(span, "this column")
                .help("see examples/history/README.md for the format")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::PARALLEL_FAULTS;
    use crate::diagnostic::Code;
    use std::fmt::Write as _;
    use std::path::Path;

    /// A scenario with enough faults for the two-thread fault pass, and `bad` faults that
    /// target an undeclared resource.
    fn scenario(faults: usize, bad: &[usize]) -> String {
        let mut s = String::from("experiment \"x\" {\n  duration 10m\n}\n");
        for i in 0..10 {
            writeln!(s, "resource r{i}: process [\"./svc\"]").unwrap();
        }
        for i in 0..faults {
            let target = if bad.contains(&i) { "nowhere" } else { "r1" };
            writeln!(s, "fault f{i}: pause on {target} {{ at {}s }}", i % 600).unwrap();
        }
        s
    }

    #[test]
    fn the_two_thread_fault_pass_keeps_source_order() {
        let n = PARALLEL_FAULTS + 501;
        let checked = crate::check::check_text(Path::new("big.pfi"), &scenario(n, &[]));
        assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
        let plan = checked.plan.expect("checks");
        let names: Vec<String> = plan.faults.iter().map(|f| f.name.clone()).collect();
        let expected: Vec<String> = (0..n).map(|i| format!("f{i}")).collect();
        assert_eq!(names, expected);
        assert_eq!(plan.faults[n - 1].at.line, 13 + n);
    }

    #[test]
    fn the_two_thread_fault_pass_reports_errors_from_both_halves() {
        let n = PARALLEL_FAULTS + 501;
        let bad = [3, n / 2 + 7, n - 1];
        let checked = crate::check::check_text(Path::new("big.pfi"), &scenario(n, &bad));
        assert!(checked.plan.is_none());
        let lines: Vec<usize> = checked
            .diagnostics
            .iter()
            .filter(|d| d.code == Code::UnknownName)
            .map(|d| {
                checked
                    .sources
                    .line_col(
                        d.primary_span().unwrap().file,
                        d.primary_span().unwrap().start,
                    )
                    .0
            })
            .collect();
        assert_eq!(lines, bad.iter().map(|i| 14 + i).collect::<Vec<_>>());
    }
}
