//! Builds the typed AST from pest's parse tree, and turns pest errors into diagnostics.

use super::ast::*;
use super::comments::code_brackets;
use super::error_hints;
use super::grammar::{PfiParser, Rule};
use crate::diagnostic::{Code, Diagnostic, FileId, Span};
use pest::Parser as _;
use pest::error::{ErrorVariant, InputLocation};
use pest::iterators::{Pair, Pairs};

/// The largest file pfi reads (larger inputs get a diagnostic, not a parse).
pub const MAX_FILE_BYTES: usize = 16 * 1024 * 1024;
pub use super::literal::MAX_NESTING;
use super::literal::{not_a_string, number_value, string_value};

/// Parses one file. On a syntax error, returns the diagnostics. Problems found while building
/// the tree (a number too large, a bad escape) do not stop it: they come back beside the tree.
pub fn parse(file: FileId, text: &str) -> Result<(File, Vec<Diagnostic>), Vec<Diagnostic>> {
    if text.len() > MAX_FILE_BYTES {
        return Err(vec![
            Diagnostic::error(
                Code::TooLarge,
                format!(
                    "the file is {} bytes; pfi reads files up to {} bytes",
                    text.len(),
                    MAX_FILE_BYTES
                ),
            )
            .at(Span::new(file, 0, 0), "file starts here")
            .help("split the scenario into several files joined with `import`"),
        ]);
    }
    // The fast path gives up past `MAX_NESTING`, so it needs no nesting check of its own.
    if let Some(parsed) = super::fast::parse(file, text) {
        return Ok(parsed);
    }
    if let Some(d) = check_nesting(file, text) {
        return Err(vec![d]);
    }
    parse_with_pest(file, text)
}

/// Parses `text` with the pest parser only (no size or nesting checks): what `parse` falls
/// back to when the fast path gives up, and the reference the fast path is tested against.
#[doc(hidden)]
pub fn parse_with_pest(
    file: FileId,
    text: &str,
) -> Result<(File, Vec<Diagnostic>), Vec<Diagnostic>> {
    let pairs =
        PfiParser::parse(Rule::file, text).map_err(|e| vec![syntax_error(file, text, e)])?;
    Ok(build(file, 0, pairs))
}

/// The typed tree of a parse of `text[offset..]` (spans are shifted by `offset`).
fn build(file: FileId, offset: usize, pairs: Pairs<Rule>) -> (File, Vec<Diagnostic>) {
    let mut builder = Builder {
        file,
        offset,
        errors: Vec::new(),
    };
    let mut items = Vec::new();
    for pair in pairs.filter(|p| p.as_rule() == Rule::file) {
        for item in pair.into_inner() {
            if let Some(item) = builder.item(item) {
                items.push(item);
            }
        }
    }
    (File { items }, builder.errors)
}

/// Runs only the pest parser over `text` and counts the pairs it produces, without building the
/// AST. For the benchmark that splits `pfi check` into phases; not part of the API.
#[doc(hidden)]
pub fn pest_pairs(text: &str) -> Option<usize> {
    PfiParser::parse(Rule::file, text)
        .ok()
        .map(|pairs| pairs.count())
}

/// The offset of the last bracket that is never closed, if any.
fn last_unclosed(text: &str) -> Option<usize> {
    let mut stack = Vec::new();
    for (i, b) in code_brackets(text) {
        match b {
            b'(' | b'[' | b'{' => stack.push(i),
            b')' | b']' | b'}' => {
                stack.pop();
            }
            _ => {}
        }
    }
    stack.last().copied()
}

/// Rejects nesting deeper than `MAX_NESTING` before pest recurses into it.
pub(super) fn check_nesting(file: FileId, text: &str) -> Option<Diagnostic> {
    let mut depth = 0usize;
    for (i, b) in code_brackets(text) {
        match b {
            b'(' | b'[' | b'{' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(
                        Diagnostic::error(
                            Code::TooLarge,
                            format!("brackets nest deeper than {MAX_NESTING} levels"),
                        )
                        .at(Span::new(file, i, i + 1), "this one is too deep")
                        .help("flatten the nesting; no construct of the language needs this depth"),
                    );
                }
            }
            b')' | b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn syntax_error(file: FileId, text: &str, error: pest::error::Error<Rule>) -> Diagnostic {
    let (start, end) = match error.location {
        InputLocation::Pos(p) => (p, p),
        InputLocation::Span((s, e)) => (s, e),
    };
    if let ErrorVariant::ParsingError { positives, .. } = &error.variant
        && positives.contains(&Rule::kw_depends_on)
        && let Some(d) = error_hints::misspelt_keyword(file, text, start)
    {
        return d;
    }
    if let Some(d) = error_hints::unclosed_block(file, text, start) {
        return d;
    }
    // Underline the token at the error, not an empty point.
    let token_end = if end > start {
        end
    } else {
        text[start..]
            .char_indices()
            .find(|(_, c)| c.is_whitespace())
            .map(|(i, _)| start + i)
            .unwrap_or(text.len())
            .max(start + text[start..].chars().next().map_or(0, char::len_utf8))
    };
    let found = text
        .get(start..token_end)
        .map(|t| t.chars().take(30).collect::<String>())
        .filter(|t| !t.is_empty());
    let (expected, help) = match &error.variant {
        ErrorVariant::ParsingError { positives, .. } => describe_expected(positives),
        ErrorVariant::CustomError { message } => (message.clone(), None),
    };
    let found_text = match &found {
        Some(t) => format!("found `{}`", t.escape_debug()),
        None => "found the end of the file".to_string(),
    };
    let mut d = Diagnostic::error(Code::Syntax, format!("expected {expected}, {found_text}")).at(
        Span::new(file, start, token_end),
        format!("expected {expected} here"),
    );
    if found.is_none()
        && let Some(open) = last_unclosed(text)
    {
        d = d.with_label(
            Span::new(file, open, open + 1),
            "this bracket is never closed",
        );
    }
    d = d.help(help.unwrap_or_else(|| {
        "see the language tour in README.md; `pfi explain PFI0001` has examples".to_string()
    }));
    d
}

/// Friendly names for what the parser expected, and a hint for the most common mistakes.
fn describe_expected(rules: &[Rule]) -> (String, Option<String>) {
    let mut names: Vec<&str> = Vec::new();
    let mut help = None;
    for rule in rules {
        let name = match rule {
            Rule::EOI => "a declaration",
            Rule::kw_import
            | Rule::kw_analysis
            | Rule::kw_experiment
            | Rule::kw_resource
            | Rule::kw_link
            | Rule::kw_fault
            | Rule::kw_profile
            | Rule::kw_probe
            | Rule::kw_telemetry
            | Rule::kw_threshold
            | Rule::kw_predict
            | Rule::kw_pattern
            | Rule::kw_mitigate
            | Rule::kw_remediation
            | Rule::dependency
            | Rule::item => {
                help = Some(
                    "a file is a list of declarations: import, analysis, experiment, resource, link, \
                     fault, profile, probe, telemetry, threshold, predict, pattern, mitigate, \
                     remediation, or `a depends_on b`"
                        .to_string(),
                );
                "a declaration"
            }
            Rule::ident => "a name",
            Rule::key | Rule::rbrace => {
                help = Some(
                    "inside `{ }` each setting is `key value` on its own line (or separated by `;`); close the block with `}`"
                        .to_string(),
                );
                "a setting or `}`"
            }
            Rule::colon => "`:`",
            Rule::arrow => "`->`",
            Rule::string => "a string in double quotes",
            Rule::list => "a list like [\"a\", \"b\"]",
            Rule::block | Rule::predict_block => "`{`",
            Rule::setting => {
                help = Some(
                    "inside `{ }` each setting is `key value` on its own line (or separated by `;`)"
                        .to_string(),
                );
                "a setting or `}`"
            }
            Rule::term | Rule::arg => "a value",
            Rule::quantity | Rule::number => "a number",
            Rule::address => "an address like 127.0.0.1:8080",
            Rule::resource_kind | Rule::kw_process | Rule::kw_container | Rule::kw_image => {
                help = Some(
                    "a resource is `process [argv...]`, `container \"name\"`, \
                     `container label \"k=v\"` or `image \"name:tag\"`"
                        .to_string(),
                );
                "a resource kind"
            }
            Rule::link_kind | Rule::kw_tcp | Rule::kw_http | Rule::kw_proxy => "`tcp` or `http`",
            Rule::probe_kind | Rule::kw_command => "`http`, `tcp` or `command`",
            Rule::kw_on => "`on`",
            Rule::kw_when => "`when`",
            Rule::kw_depends_on => "`depends_on`",
            Rule::condition | Rule::compare | Rule::trend | Rule::metric | Rule::negation => {
                "a condition like `checkout.p99 < 400ms`"
            }
            Rule::cmp_op => "a comparison (<, <=, >, >=, ==, !=)",
            Rule::trend_word => "`rising`, `falling`, `flat` or `anomalous`",
            Rule::comparison => "a comparison like `checkout.p99 < 400ms`",
            Rule::mitigate_trigger | Rule::on_predicted | Rule::when_condition => {
                "`on predicted(kind)` or `when <condition>`"
            }
            Rule::kw_for => "`for`",
            _ => continue,
        };
        if !names.contains(&name) {
            names.push(name);
        }
    }
    let text = match names.len() {
        0 => "something else".to_string(),
        1 => names[0].to_string(),
        n => format!("{} or {}", names[..n - 1].join(", "), names[n - 1]),
    };
    (text, help)
}

struct Builder {
    file: FileId,
    /// Where the parsed text starts in the file (spans are shifted by it).
    offset: usize,
    errors: Vec<Diagnostic>,
}

impl Builder {
    fn span(&self, pair: &Pair<Rule>) -> Span {
        let s = pair.as_span();
        Span::new(self.file, self.offset + s.start(), self.offset + s.end())
    }

    fn ident(&self, pair: &Pair<Rule>) -> Ident {
        Spanned::new(pair.as_str().to_string(), self.span(pair))
    }

    fn item(&mut self, pair: Pair<Rule>) -> Option<Item> {
        let span = self.span(&pair);
        let rule = pair.as_rule();
        let mut inner = pair.into_inner().filter(|p| !is_keyword(p.as_rule()));
        Some(match rule {
            Rule::import => {
                let path = self.string(inner.next()?);
                Item::Import(Box::new(Import { path, span }))
            }
            Rule::analysis => {
                let path = self.string(inner.next()?);
                Item::Analysis(Box::new(Analysis { path, span }))
            }
            Rule::experiment => {
                let name = self.string(inner.next()?);
                let settings = self.block(inner.next());
                Item::Experiment(Box::new(Experiment {
                    name,
                    settings,
                    span,
                }))
            }
            Rule::resource => {
                let name = self.ident(&inner.next()?);
                let kind = self.resource_kind(inner.next()?)?;
                let settings = self.block(inner.next());
                Item::Resource(Box::new(Resource {
                    name,
                    kind,
                    settings,
                    span,
                }))
            }
            Rule::link => {
                let name = self.ident(&inner.next()?);
                let kind_pair = inner.next()?;
                let kind_span = self.span(&kind_pair);
                let kind = if kind_pair.as_str() == "http" {
                    LinkKind::Http
                } else {
                    LinkKind::Tcp
                };
                let listen = self.address(inner.next()?);
                let upstream = self.address(inner.next()?);
                let settings = self.block(inner.next());
                Item::Link(Box::new(Link {
                    name,
                    kind: Spanned::new(kind, kind_span),
                    listen,
                    upstream,
                    settings,
                    span,
                }))
            }
            Rule::dependency => {
                let mut from = None;
                let mut to = Vec::new();
                let mut via = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::ident if from.is_none() => from = Some(self.ident(&p)),
                        Rule::ident => to.push(self.ident(&p)),
                        Rule::via => {
                            let id = p.into_inner().find(|i| i.as_rule() == Rule::ident)?;
                            via = Some(self.ident(&id));
                        }
                        _ => {}
                    }
                }
                Item::Dependency(Box::new(Dependency {
                    from: from?,
                    to,
                    via,
                    span,
                }))
            }
            Rule::fault => {
                let name = self.ident(&inner.next()?);
                let kind = self.ident(&inner.next()?);
                let target = self.ident(&inner.next()?);
                let settings = self.block(inner.next());
                Item::Fault(Box::new(Fault {
                    name,
                    kind,
                    target,
                    settings,
                    span,
                }))
            }
            Rule::profile => {
                let name = self.ident(&inner.next()?);
                let kind = self.ident(&inner.next()?);
                let settings = self.block(inner.next());
                Item::Profile(Box::new(Profile {
                    name,
                    kind,
                    settings,
                    span,
                }))
            }
            Rule::probe => {
                let name = self.ident(&inner.next()?);
                let kind = self.probe_kind(inner.next()?)?;
                let settings = self.inline_then_block(inner);
                Item::Probe(Box::new(Probe {
                    name,
                    kind,
                    settings,
                    span,
                }))
            }
            Rule::telemetry => {
                let name = self.ident(&inner.next()?);
                let kind = self.ident(&inner.next()?);
                let url = self.string(inner.next()?);
                let settings = self.inline_then_block(inner);
                Item::Telemetry(Box::new(Telemetry {
                    name,
                    kind,
                    url,
                    settings,
                    span,
                }))
            }
            Rule::threshold => {
                let comparison = self.comparison(inner.next()?)?;
                let mut threshold = Threshold {
                    comparison,
                    over: None,
                    during: None,
                    abort: false,
                    abort_predicted: None,
                    span,
                };
                for modifier in inner.flat_map(|m| m.into_inner()) {
                    match modifier.as_rule() {
                        Rule::over => {
                            let q = modifier
                                .into_inner()
                                .find(|p| p.as_rule() == Rule::quantity)?;
                            threshold.over = Some(self.quantity(q));
                        }
                        Rule::during => {
                            let id = modifier.into_inner().find(|p| p.as_rule() == Rule::ident)?;
                            threshold.during = Some(self.ident(&id));
                        }
                        Rule::abort => threshold.abort = true,
                        Rule::abort_predicted => {
                            let q = modifier
                                .into_inner()
                                .find(|p| p.as_rule() == Rule::quantity)?;
                            threshold.abort_predicted = Some(self.quantity(q));
                        }
                        _ => {}
                    }
                }
                Item::Threshold(Box::new(threshold))
            }
            Rule::predict => {
                let block = inner.next()?;
                let block_span = self.span(&block);
                let mut settings = Block {
                    settings: Vec::new(),
                    span: Some(block_span),
                };
                let mut patterns = Vec::new();
                for p in block.into_inner() {
                    match p.as_rule() {
                        Rule::setting => settings.settings.push(self.setting(p)),
                        Rule::pattern => {
                            if let Some(Item::Pattern(pat)) = self.item(p) {
                                patterns.push(*pat);
                            }
                        }
                        _ => {}
                    }
                }
                Item::Predict(Box::new(Predict {
                    settings,
                    patterns,
                    span,
                }))
            }
            Rule::pattern => {
                let name = self.ident(&inner.next()?);
                let mut params = Vec::new();
                let mut condition = None;
                let mut predicts = None;
                let mut settings = Block::default();
                for p in inner {
                    match p.as_rule() {
                        Rule::pattern_params => {
                            params = p.into_inner().map(|i| self.ident(&i)).collect();
                        }
                        Rule::condition => condition = Some(self.condition(p)?),
                        Rule::predicts => {
                            let id = p.into_inner().find(|i| i.as_rule() == Rule::ident)?;
                            predicts = Some(self.ident(&id));
                        }
                        Rule::block => settings = self.block(Some(p)),
                        _ => {}
                    }
                }
                Item::Pattern(Box::new(Pattern {
                    name,
                    params,
                    condition: condition?,
                    predicts,
                    settings,
                    span,
                }))
            }
            Rule::mitigate => {
                let trigger_pair = inner.next()?;
                let trigger_span = self.span(&trigger_pair);
                let t = trigger_pair.into_inner().next()?;
                let trigger = match t.as_rule() {
                    Rule::on_predicted => {
                        let id = t.into_inner().find(|i| i.as_rule() == Rule::ident)?;
                        Trigger::Predicted(self.ident(&id))
                    }
                    _ => {
                        let c = t.into_inner().find(|i| i.as_rule() == Rule::condition)?;
                        Trigger::When(self.condition(c)?)
                    }
                };
                let actions = self.block(inner.next());
                Item::Mitigate(Box::new(Mitigate {
                    trigger: Spanned::new(trigger, trigger_span),
                    actions,
                    span,
                }))
            }
            Rule::remediation => {
                let mode = self.ident(&inner.next()?);
                let text = self.string(inner.next()?);
                let settings = self.block(inner.next());
                Item::Remediation(Box::new(Remediation {
                    mode,
                    text,
                    settings,
                    span,
                }))
            }
            _ => return None,
        })
    }

    /// Inline settings (`every 250ms timeout 1s`) followed by an optional block, as one block.
    fn inline_then_block<'i>(&mut self, pairs: impl Iterator<Item = Pair<'i, Rule>>) -> Block {
        let mut settings = Block::default();
        for p in pairs {
            match p.as_rule() {
                Rule::probe_inline => settings.settings.push(self.inline_setting(p)),
                Rule::block => {
                    let b = self.block(Some(p));
                    settings.span = b.span;
                    settings.settings.extend(b.settings);
                }
                _ => {}
            }
        }
        settings
    }

    fn resource_kind(&mut self, pair: Pair<Rule>) -> Option<Spanned<ResourceKind>> {
        let span = self.span(&pair);
        let kind = pair.into_inner().next()?;
        let rule = kind.as_rule();
        let mut inner = kind.into_inner().filter(|p| !is_keyword(p.as_rule()));
        let node = match rule {
            Rule::process_kind => ResourceKind::Process {
                argv: self.string_list(inner.next()?),
            },
            Rule::container_label => ResourceKind::ContainerLabel {
                selector: self.string(inner.next()?),
            },
            Rule::container_kind => ResourceKind::Container {
                name: self.string(inner.next()?),
            },
            Rule::image_kind => ResourceKind::Image {
                image: self.string(inner.next()?),
            },
            Rule::service_label => ResourceKind::ServiceLabel {
                selector: self.string(inner.next()?),
            },
            Rule::service_kind => ResourceKind::Service {
                name: self.string(inner.next()?),
            },
            _ => return None,
        };
        Some(Spanned::new(node, span))
    }

    fn probe_kind(&mut self, pair: Pair<Rule>) -> Option<Spanned<ProbeKind>> {
        let span = self.span(&pair);
        let kind = pair.into_inner().next()?;
        let rule = kind.as_rule();
        let mut inner = kind.into_inner().filter(|p| !is_keyword(p.as_rule()));
        let node = match rule {
            Rule::http_probe => {
                let mut method = None;
                let mut url = None;
                for p in inner {
                    match p.as_rule() {
                        Rule::http_method => {
                            method =
                                Some(Spanned::new(p.as_str().to_ascii_uppercase(), self.span(&p)))
                        }
                        Rule::string => url = Some(self.string(p)),
                        _ => {}
                    }
                }
                ProbeKind::Http { method, url: url? }
            }
            Rule::tcp_probe => ProbeKind::Tcp {
                address: self.address(inner.next()?),
            },
            Rule::command_probe => ProbeKind::Command {
                argv: self.string_list(inner.next()?),
            },
            _ => return None,
        };
        Some(Spanned::new(node, span))
    }

    fn string_list(&mut self, list: Pair<Rule>) -> Vec<Spanned<String>> {
        let mut out = Vec::new();
        for term in list.into_inner() {
            let span = self.span(&term);
            match self.term(term).node {
                Term::String(s) => out.push(Spanned::new(s, span)),
                other => self.errors.push(not_a_string(&other, span)),
            }
        }
        out
    }

    fn block(&mut self, pair: Option<Pair<Rule>>) -> Block {
        let Some(pair) = pair else {
            return Block::default();
        };
        let span = self.span(&pair);
        let settings = pair
            .into_inner()
            .filter(|p| p.as_rule() == Rule::setting)
            .map(|p| self.setting(p))
            .collect();
        Block {
            settings,
            span: Some(span),
        }
    }

    fn setting(&mut self, pair: Pair<Rule>) -> Setting {
        let span = self.span(&pair);
        let mut key = None;
        let mut terms = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::key => key = Some(self.ident(&p)),
                Rule::term => terms.push(self.term(p)),
                _ => {}
            }
        }
        Setting {
            key: key.unwrap_or_else(|| Spanned::new(String::new(), span)),
            terms,
            span,
        }
    }

    fn inline_setting(&mut self, pair: Pair<Rule>) -> Setting {
        let span = self.span(&pair);
        let mut key = Spanned::new(String::new(), span);
        let mut terms = Vec::new();
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::probe_inline_key => key = self.ident(&p),
                Rule::expect_word => {
                    let word = self.ident(&p);
                    terms.push(Spanned::new(Term::Ident(word.node), word.span));
                }
                Rule::term => terms.push(self.term(p)),
                _ => {}
            }
        }
        Setting { key, terms, span }
    }

    fn term(&mut self, pair: Pair<Rule>) -> Spanned<Term> {
        let span = self.span(&pair);
        // `term` wraps one alternative; unwrap it.
        let pair = if pair.as_rule() == Rule::term {
            match pair.into_inner().next() {
                Some(p) => p,
                None => return Spanned::new(Term::Ident(String::new()), span),
            }
        } else {
            pair
        };
        let node = match pair.as_rule() {
            Rule::string => Term::String(self.string(pair).node),
            Rule::list => Term::List(pair.into_inner().map(|t| self.term(t)).collect()),
            Rule::call => {
                let mut inner = pair.into_inner();
                let name = inner
                    .next()
                    .map(|p| self.ident(&p))
                    .unwrap_or_else(|| Spanned::new(String::new(), span));
                let mut args = Vec::new();
                if let Some(call_args) = inner.next() {
                    for arg in call_args.into_inner() {
                        let arg_span = self.span(&arg);
                        let terms = arg.into_inner().map(|t| self.term(t)).collect();
                        args.push(Spanned::new(terms, arg_span));
                    }
                }
                Term::Call { name, args }
            }
            Rule::address => self.address(pair).node.into_term(),
            Rule::quantity => self.quantity(pair).node,
            Rule::path => Term::Path(pair.as_str().split('.').map(str::to_string).collect()),
            Rule::op => Term::Op(pair.as_str().to_string()),
            _ => Term::Ident(pair.as_str().to_string()),
        };
        Spanned::new(node, span)
    }

    fn quantity(&mut self, pair: Pair<Rule>) -> Spanned<Term> {
        let span = self.span(&pair);
        let mut value = 0.0;
        let mut unit = None;
        let text = pair.as_str();
        let start = pair.as_span().start();
        // `unit` is silent in the grammar: it is whatever follows the number.
        for p in pair.into_inner().filter(|p| p.as_rule() == Rule::number) {
            let rest = &text[p.as_span().end() - start..];
            if !rest.is_empty() {
                unit = Some(rest.to_string());
            }
            let span = self.span(&p);
            value = number_value(&mut self.errors, p.as_str(), span);
        }
        Spanned::new(Term::Quantity { value, unit }, span)
    }

    fn address(&mut self, pair: Pair<Rule>) -> Spanned<Address> {
        let span = self.span(&pair);
        let mut host = String::new();
        let mut port = Spanned::new(String::new(), span);
        for p in pair.into_inner() {
            match p.as_rule() {
                Rule::host => host = p.as_str().to_string(),
                Rule::port => port = Spanned::new(p.as_str().to_string(), self.span(&p)),
                _ => {}
            }
        }
        Spanned::new(Address { host, port }, span)
    }

    fn string(&mut self, pair: Pair<Rule>) -> Spanned<String> {
        let span = self.span(&pair);
        let raw = pair
            .into_inner()
            .next()
            .map(|p| p.as_str())
            .unwrap_or_default();
        string_value(&mut self.errors, raw, span)
    }

    fn comparison(&mut self, pair: Pair<Rule>) -> Option<Spanned<Comparison>> {
        let span = self.span(&pair);
        let mut inner = pair.into_inner();
        let metric = self.metric(inner.next()?);
        let op_pair = inner.next()?;
        let op = Spanned::new(CmpOp::parse(op_pair.as_str())?, self.span(&op_pair));
        let value = self.term(inner.next()?);
        Some(Spanned::new(Comparison { metric, op, value }, span))
    }

    fn metric(&self, pair: Pair<Rule>) -> Spanned<Vec<String>> {
        Spanned::new(
            pair.as_str().split('.').map(str::to_string).collect(),
            self.span(&pair),
        )
    }

    fn condition(&mut self, pair: Pair<Rule>) -> Option<Spanned<Condition>> {
        let span = self.span(&pair);
        match pair.as_rule() {
            Rule::condition => self.condition(pair.into_inner().next()?),
            Rule::or_cond | Rule::and_cond => {
                let is_or = pair.as_rule() == Rule::or_cond;
                let mut parts = Vec::new();
                for p in pair.into_inner().filter(|p| !is_keyword(p.as_rule())) {
                    parts.push(self.condition(p)?);
                }
                if parts.len() == 1 {
                    parts.pop()
                } else if is_or {
                    Some(Spanned::new(Condition::Or(parts), span))
                } else {
                    Some(Spanned::new(Condition::And(parts), span))
                }
            }
            Rule::not_cond => {
                let mut negated = false;
                let mut inner = None;
                for p in pair.into_inner() {
                    match p.as_rule() {
                        Rule::negation => negated = true,
                        _ => inner = Some(self.condition(p)?),
                    }
                }
                let inner = inner?;
                if negated {
                    Some(Spanned::new(Condition::Not(Box::new(inner)), span))
                } else {
                    Some(inner)
                }
            }
            Rule::compare => {
                let c = self.comparison(pair)?;
                Some(Spanned::new(Condition::Compare(c.node), span))
            }
            Rule::trend => {
                let mut inner = pair.into_inner();
                let metric = self.metric(inner.next()?);
                let word = inner.next()?;
                let trend = match word.as_str() {
                    "rising" => TrendWord::Rising,
                    "falling" => TrendWord::Falling,
                    "flat" => TrendWord::Flat,
                    _ => TrendWord::Anomalous,
                };
                Some(Spanned::new(
                    Condition::Trend {
                        metric,
                        trend: Spanned::new(trend, self.span(&word)),
                    },
                    span,
                ))
            }
            _ => None,
        }
    }
}

impl Address {
    fn into_term(self) -> Term {
        Term::Address(self)
    }
}

fn is_keyword(rule: Rule) -> bool {
    matches!(
        rule,
        Rule::colon
            | Rule::arrow
            | Rule::rbrace
            | Rule::kw_import
            | Rule::kw_analysis
            | Rule::kw_experiment
            | Rule::kw_resource
            | Rule::kw_process
            | Rule::kw_container
            | Rule::kw_service
            | Rule::kw_label
            | Rule::kw_image
            | Rule::kw_link
            | Rule::kw_tcp
            | Rule::kw_http
            | Rule::kw_proxy
            | Rule::kw_depends_on
            | Rule::kw_via
            | Rule::kw_fault
            | Rule::kw_on
            | Rule::kw_profile
            | Rule::kw_probe
            | Rule::kw_command
            | Rule::kw_telemetry
            | Rule::kw_threshold
            | Rule::kw_over
            | Rule::kw_during
            | Rule::kw_predict
            | Rule::kw_pattern
            | Rule::kw_when
            | Rule::kw_predicts
            | Rule::kw_mitigate
            | Rule::kw_predicted
            | Rule::kw_remediation
            | Rule::kw_for
            | Rule::kw_and
            | Rule::kw_or
            | Rule::kw_not
    )
}
