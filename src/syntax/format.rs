//! `pfi fmt`: the canonical layout of a .pfi file. Comments are kept (re-attached by position),
//! at most one blank line separates declarations, blocks are indented by two spaces, and every
//! setting stands on its own line. The result is checked: it must parse to the same tree and
//! keep every comment, or formatting is refused.

use super::ast::*;
use super::comments::{Comment, comments};
use crate::diagnostic::{Code, Diagnostic, FileId, Span};

/// Formats `text`; returns the canonical text, or the diagnostics that prevent formatting.
pub fn format(file: FileId, text: &str) -> Result<String, Vec<Diagnostic>> {
    let (ast, problems) = super::parse(file, text)?;
    if !problems.is_empty() {
        return Err(problems);
    }
    let mut f = Formatter {
        text,
        comments: comments(text),
        next: 0,
        out: String::new(),
    };
    for item in &ast.items {
        let span = item.span();
        f.leading_comments(span.start, 0);
        f.keep_blank_line(span.start);
        f.item(item);
    }
    f.leading_comments(text.len(), 0);
    let out = f.out.trim_end().to_string() + "\n";
    let out = if ast.items.is_empty() && f.comments.is_empty() {
        String::new()
    } else {
        out
    };
    verify(file, text, &ast, &out)?;
    Ok(out)
}

fn verify(
    file: FileId,
    original: &str,
    ast: &File,
    formatted: &str,
) -> Result<(), Vec<Diagnostic>> {
    let refuse = |message: &str| {
        vec![
            Diagnostic::error(Code::Syntax, format!("cannot format this file: {message}"))
                .at(Span::new(file, 0, 0), "file starts here")
                .help(
                    "move comments out of declaration headers and lists, then run `pfi fmt` again",
                ),
        ]
    };
    match super::parse(file, formatted) {
        // Compare the trees without their spans (serialisation skips them).
        Ok((again, _)) if serde_json::to_value(&again).ok() == serde_json::to_value(ast).ok() => {}
        _ => return Err(refuse("the formatted text would not mean the same")),
    }
    let before: Vec<String> = comments(original).into_iter().map(|c| c.text).collect();
    let after: Vec<String> = comments(formatted).into_iter().map(|c| c.text).collect();
    if before != after {
        return Err(refuse(
            "a comment inside a declaration header would be lost",
        ));
    }
    Ok(())
}

struct Formatter<'a> {
    text: &'a str,
    comments: Vec<Comment>,
    next: usize,
    out: String,
}

impl Formatter<'_> {
    fn slice(&self, span: Span) -> &str {
        self.text.get(span.start..span.end).unwrap_or("")
    }

    /// Whether the source has a blank line right before `offset`.
    fn blank_before(&self, offset: usize) -> bool {
        let before = &self.text[..offset.min(self.text.len())];
        let trailing = before.len() - before.trim_end().len();
        before[before.len() - trailing..].matches('\n').count() >= 2
    }

    /// Emits a blank line if the source had one before `offset` (never at the start of the
    /// output or of a block, never two in a row).
    fn keep_blank_line(&mut self, offset: usize) {
        if self.blank_before(offset)
            && !self.out.is_empty()
            && !self.out.ends_with("\n\n")
            && !self.out.ends_with("{\n")
        {
            self.out.push('\n');
        }
    }

    /// Emits every comment that starts before `offset`, each on its own line.
    fn leading_comments(&mut self, offset: usize, indent: usize) {
        while let Some(c) = self.comments.get(self.next).cloned() {
            if c.range.start >= offset {
                break;
            }
            self.keep_blank_line(c.range.start);
            self.out.push_str(&" ".repeat(indent));
            self.out.push_str(c.text.trim_end());
            self.out.push('\n');
            self.next += 1;
        }
    }

    /// Where the code of a declaration that the parser ended at `end` really ends: a parser's
    /// span may run on over the whitespace and comments after the last token (pest skips them
    /// looking for an optional modifier), and a comment on the next line must not count as
    /// trailing this declaration.
    fn code_end(&self, end: usize) -> usize {
        let mut end = end.min(self.text.len());
        loop {
            let trimmed = self.text[..end].trim_end().len();
            match self
                .comments
                .binary_search_by_key(&trimmed, |c| c.range.end)
            {
                Ok(i) if trimmed > 0 => end = self.comments[i].range.start,
                _ => return trimmed,
            }
        }
    }

    /// A comment that starts on the same line after `end`, appended to the current line.
    fn trailing_comment(&mut self, end: usize) {
        let end = self.code_end(end);
        if let Some(c) = self.comments.get(self.next).cloned() {
            let between = &self.text[end.min(c.range.start)..c.range.start];
            // Only blanks (or the `;` that ended a setting) between: a comment after more code
            // on the line (`{ at 12s; lasting 1s }  // c`) belongs to what ends the line.
            let blank = between
                .chars()
                .all(|ch| ch == ';' || (ch.is_whitespace() && ch != '\n'));
            if c.range.start >= end && blank {
                self.out.push(' ');
                self.out.push_str(c.text.trim_end());
                self.next += 1;
            }
        }
    }

    fn item(&mut self, item: &Item) {
        let span = item.span();
        match item {
            Item::Import(i) => self.line(format!("import {}", self.slice(i.path.span)), span.end),
            Item::Analysis(a) => {
                self.line(format!("analysis {}", self.slice(a.path.span)), span.end)
            }
            Item::Experiment(e) => {
                self.out
                    .push_str(&format!("experiment {}", self.slice(e.name.span)));
                self.block(&e.settings, 0, span.end);
            }
            Item::Resource(r) => {
                let kind = match &r.kind.node {
                    ResourceKind::Process { argv } => {
                        let items: Vec<&str> = argv.iter().map(|a| self.slice(a.span)).collect();
                        format!("process [{}]", items.join(", "))
                    }
                    ResourceKind::Container { name } => {
                        format!("container {}", self.slice(name.span))
                    }
                    ResourceKind::ContainerLabel { selector } => {
                        format!("container label {}", self.slice(selector.span))
                    }
                    ResourceKind::Image { image } => format!("image {}", self.slice(image.span)),
                    ResourceKind::Service { name } => {
                        format!("service {}", self.slice(name.span))
                    }
                    ResourceKind::ServiceLabel { selector } => {
                        format!("service label {}", self.slice(selector.span))
                    }
                };
                self.out
                    .push_str(&format!("resource {}: {kind}", r.name.node));
                self.block(&r.settings, 0, span.end);
            }
            Item::Link(l) => {
                let kind = match l.kind.node {
                    LinkKind::Http => "http",
                    LinkKind::Tcp => "tcp",
                };
                self.out.push_str(&format!(
                    "link {}: {kind} {} -> {}",
                    l.name.node,
                    self.slice(l.listen.span),
                    self.slice(l.upstream.span)
                ));
                self.block(&l.settings, 0, span.end);
            }
            Item::Dependency(d) => {
                let to: Vec<&str> = d.to.iter().map(|t| t.node.as_str()).collect();
                let via = d
                    .via
                    .as_ref()
                    .map(|v| format!(" via {}", v.node))
                    .unwrap_or_default();
                self.line(
                    format!("{} depends_on {}{via}", d.from.node, to.join(", ")),
                    span.end,
                );
            }
            Item::Fault(f) => {
                self.out.push_str(&format!(
                    "fault {}: {} on {}",
                    f.name.node, f.kind.node, f.target.node
                ));
                self.block(&f.settings, 0, span.end);
            }
            Item::Profile(p) => {
                self.out
                    .push_str(&format!("profile {}: {}", p.name.node, p.kind.node));
                self.block(&p.settings, 0, span.end);
            }
            Item::Probe(p) => {
                let kind = match &p.kind.node {
                    ProbeKind::Http { method, url } => match method {
                        Some(m) => format!(
                            "http {} {}",
                            m.node.to_ascii_lowercase(),
                            self.slice(url.span)
                        ),
                        None => format!("http {}", self.slice(url.span)),
                    },
                    ProbeKind::Tcp { address } => format!("tcp {}", self.slice(address.span)),
                    ProbeKind::Command { argv } => {
                        let items: Vec<&str> = argv.iter().map(|a| self.slice(a.span)).collect();
                        format!("command [{}]", items.join(", "))
                    }
                };
                self.out.push_str(&format!("probe {}: {kind}", p.name.node));
                self.inline_then_block(&p.settings, span.end);
            }
            Item::Telemetry(t) => {
                self.out.push_str(&format!(
                    "telemetry {}: {} {}",
                    t.name.node,
                    t.kind.node,
                    self.slice(t.url.span)
                ));
                self.inline_then_block(&t.settings, span.end);
            }
            Item::Threshold(t) => {
                let mut s = format!("threshold {}", self.comparison(&t.comparison.node));
                if let Some(o) = &t.over {
                    s.push_str(&format!(" over {}", self.slice(o.span)));
                }
                if let Some(d) = &t.during {
                    s.push_str(&format!(" during {}", d.node));
                }
                if t.abort {
                    s.push_str(" abort");
                }
                if let Some(w) = &t.abort_predicted {
                    s.push_str(&format!(" abort predicted within {}", self.slice(w.span)));
                }
                self.line(s, span.end);
            }
            Item::Predict(p) => {
                self.out.push_str("predict {\n");
                let mut entries: Vec<(usize, Option<&Setting>, Option<&Pattern>)> = p
                    .settings
                    .settings
                    .iter()
                    .map(|s| (s.span.start, Some(s), None))
                    .chain(p.patterns.iter().map(|x| (x.span.start, None, Some(x))))
                    .collect();
                entries.sort_by_key(|e| e.0);
                for (start, setting, pattern) in entries {
                    self.leading_comments(start, 2);
                    self.keep_blank_line(start);
                    if let Some(s) = setting {
                        self.setting(s, 2);
                    }
                    if let Some(x) = pattern {
                        self.out.push_str("  ");
                        self.pattern(x, 2);
                    }
                }
                self.leading_comments(span.end, 2);
                self.out.push_str("}\n");
            }
            Item::Pattern(p) => self.pattern(p, 0),
            Item::Mitigate(m) => {
                let trigger = match &m.trigger.node {
                    Trigger::Predicted(k) => format!("on predicted({})", k.node),
                    Trigger::When(c) => format!("when {}", self.condition(&c.node, false)),
                };
                self.out.push_str(&format!("mitigate {trigger}"));
                self.block(&m.actions, 0, span.end);
            }
            Item::Remediation(r) => {
                self.out.push_str(&format!(
                    "remediation for {} {}",
                    r.mode.node,
                    self.slice(r.text.span)
                ));
                self.block(&r.settings, 0, span.end);
            }
        }
    }

    fn line(&mut self, text: String, end: usize) {
        self.out.push_str(&text);
        self.trailing_comment(end);
        self.out.push('\n');
    }

    fn pattern(&mut self, p: &Pattern, indent: usize) {
        let params = if p.params.is_empty() {
            String::new()
        } else {
            let names: Vec<&str> = p.params.iter().map(|x| x.node.as_str()).collect();
            format!("({})", names.join(", "))
        };
        let predicts = p
            .predicts
            .as_ref()
            .map(|x| format!(" predicts {}", x.node))
            .unwrap_or_default();
        self.out.push_str(&format!(
            "pattern {}{params} when {}{predicts}",
            p.name.node,
            self.condition(&p.condition.node, false)
        ));
        if p.settings.span.is_some() {
            self.block(&p.settings, indent, p.span.end);
        } else {
            self.trailing_comment(p.span.end);
            self.out.push('\n');
        }
    }

    /// Probe and telemetry settings: those written inline stay inline, the rest go in a block.
    fn inline_then_block(&mut self, settings: &Block, end: usize) {
        let block_start = settings.span.map(|s| s.start).unwrap_or(usize::MAX);
        let (inline, block): (Vec<&Setting>, Vec<&Setting>) = settings
            .settings
            .iter()
            .partition(|s| s.span.start < block_start);
        for s in inline {
            self.out.push(' ');
            self.out.push_str(&self.setting_text(s));
        }
        if settings.span.is_some() {
            let b = Block {
                settings: block.into_iter().cloned().collect(),
                span: settings.span,
            };
            self.block(&b, 0, end);
        } else {
            self.trailing_comment(end);
            self.out.push('\n');
        }
    }

    fn block(&mut self, block: &Block, indent: usize, end: usize) {
        let Some(span) = block.span else {
            self.trailing_comment(end);
            self.out.push('\n');
            return;
        };
        let has_comments = self
            .comments
            .get(self.next)
            .is_some_and(|c| c.range.start < span.end);
        if block.settings.is_empty() && !has_comments {
            self.out.push_str(" {}");
            self.trailing_comment(end);
            self.out.push('\n');
            return;
        }
        self.out.push_str(" {");
        // A comment right after `{` (before the first setting) stays on that line.
        let first = block.settings.first().map_or(span.end, |s| s.span.start);
        if self
            .comments
            .get(self.next)
            .is_some_and(|c| c.range.start < first)
        {
            self.trailing_comment(span.start + 1);
        }
        self.out.push('\n');
        for s in &block.settings {
            self.leading_comments(s.span.start, indent + 2);
            self.keep_blank_line(s.span.start);
            self.setting(s, indent + 2);
        }
        self.leading_comments(span.end, indent + 2);
        self.out.push_str(&" ".repeat(indent));
        self.out.push('}');
        self.trailing_comment(end);
        self.out.push('\n');
    }

    fn setting(&mut self, s: &Setting, indent: usize) {
        self.out.push_str(&" ".repeat(indent));
        let text = self.setting_text(s);
        self.out.push_str(&text);
        self.trailing_comment(s.span.end);
        self.out.push('\n');
    }

    fn setting_text(&self, s: &Setting) -> String {
        let mut out = s.key.node.clone();
        for (i, t) in s.terms.iter().enumerate() {
            let separator = if i == 0 {
                " "
            } else {
                let between = &self.text[s.terms[i - 1].span.end..t.span.start];
                if between.contains(',') { ", " } else { " " }
            };
            out.push_str(separator);
            out.push_str(&self.term(t));
        }
        out
    }

    fn term(&self, t: &Spanned<Term>) -> String {
        let source = self.slice(t.span);
        if source.contains("//") || source.contains("/*") {
            // A comment inside a list or call: keep the text as written.
            if self
                .comments
                .iter()
                .any(|c| c.range.start >= t.span.start && c.range.end <= t.span.end)
            {
                return source.to_string();
            }
        }
        match &t.node {
            Term::List(items) => {
                let items: Vec<String> = items.iter().map(|i| self.term(i)).collect();
                format!("[{}]", items.join(", "))
            }
            Term::Call { name, args } => {
                let args: Vec<String> = args
                    .iter()
                    .map(|a| {
                        a.node
                            .iter()
                            .map(|t| self.term(t))
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .collect();
                format!("{}({})", name.node, args.join(", "))
            }
            _ => source.to_string(),
        }
    }

    fn comparison(&self, c: &Comparison) -> String {
        format!(
            "{} {} {}",
            c.metric.node.join("."),
            c.op.node.as_str(),
            self.term(&c.value)
        )
    }

    fn condition(&self, c: &Condition, nested: bool) -> String {
        match c {
            Condition::Compare(cmp) => self.comparison(cmp),
            Condition::Trend { metric, trend } => {
                format!("{} {}", metric.node.join("."), trend.node.as_str())
            }
            Condition::Not(inner) => format!("not {}", self.condition(&inner.node, true)),
            Condition::And(parts) => {
                let parts: Vec<String> = parts
                    .iter()
                    .map(|p| {
                        let group = matches!(p.node, Condition::Or(_) | Condition::And(_));
                        self.condition(&p.node, group)
                    })
                    .collect();
                let s = parts.join(" and ");
                if nested { format!("({s})") } else { s }
            }
            Condition::Or(parts) => {
                let parts: Vec<String> = parts
                    .iter()
                    .map(|p| self.condition(&p.node, matches!(p.node, Condition::Or(_))))
                    .collect();
                let s = parts.join(" or ");
                if nested { format!("({s})") } else { s }
            }
        }
    }
}
