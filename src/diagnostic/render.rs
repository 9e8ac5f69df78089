//! Rendering diagnostics: for people (ariadne) and for tools (JSON lines).

use super::{Diagnostic, FileId, Severity, SourceMap};
use ariadne::{Color, Config, IndexType, Label, Report, ReportKind};
use serde_json::json;
use std::collections::HashMap;
use std::fmt;

/// Renders one diagnostic as ariadne does: `error[PFI0010]: ...`, the file, line and column,
/// the source with the span underlined and labelled, and the help and notes.
pub fn render_human(diagnostic: &Diagnostic, sources: &SourceMap, color: bool) -> String {
    let kind = match diagnostic.severity {
        Severity::Error => ReportKind::Error,
        Severity::Warning => ReportKind::Warning,
    };
    // Every span on character boundaries inside its file: ariadne slices the text with them.
    let labels: Vec<super::Label> = diagnostic
        .labels
        .iter()
        .filter(|l| sources.contains(l.span.file))
        .map(|l| super::Label {
            span: sources.clamp(l.span),
            ..l.clone()
        })
        .collect();
    let primary = labels
        .iter()
        .find(|l| l.primary)
        .or(labels.first())
        .map(|l| l.span);
    let Some(primary) = primary else {
        let mut out = format!(
            "{}[{}]: {}\n",
            severity_word(diagnostic.severity),
            diagnostic.code,
            diagnostic.message
        );
        if let Some(help) = &diagnostic.help {
            out.push_str(&format!("  help: {help}\n"));
        }
        for note in &diagnostic.notes {
            out.push_str(&format!("  note: {note}\n"));
        }
        return out;
    };
    let name = |file: FileId| sources.path(file).display().to_string();
    // Spans in character offsets: with byte offsets, ariadne 0.6 reads a label's character
    // offset as a byte offset where the label is in another file than the report's primary
    // span (an import cycle's second file), and slices inside a multi-byte character.
    let chars = |span: super::Span| {
        let text = sources.text(span.file);
        let start = text[..span.start].chars().count();
        start..start + text[span.start..span.end].chars().count()
    };
    let mut report = Report::build(kind, (name(primary.file), chars(primary)))
        .with_config(
            Config::default()
                .with_color(color)
                .with_index_type(IndexType::Char),
        )
        .with_code(diagnostic.code.as_str())
        .with_message(&diagnostic.message);
    for (i, label) in labels.iter().enumerate() {
        let colour = if label.primary {
            Color::Red
        } else {
            Color::Blue
        };
        let mut l = Label::new((name(label.span.file), chars(label.span)))
            .with_message(&label.message)
            .with_order(i as i32);
        if color {
            l = l.with_color(colour);
        }
        report = report.with_label(l);
    }
    if let Some(help) = &diagnostic.help {
        report = report.with_help(help);
    }
    for note in &diagnostic.notes {
        report = report.with_note(note);
    }
    let mut cache: HashMap<String, ariadne::Source<String>> = HashMap::new();
    for label in &labels {
        cache
            .entry(name(label.span.file))
            .or_insert_with(|| ariadne::Source::from(sources.text(label.span.file).to_string()));
    }
    let mut out = Vec::new();
    let cache = MapCache(cache);
    if report.finish().write(cache, &mut out).is_err() {
        let (line, column) = sources.line_col(primary.file, primary.start);
        return format!(
            "{}[{}]: {}\n  --> {}:{line}:{column}\n",
            severity_word(diagnostic.severity),
            diagnostic.code,
            diagnostic.message,
            name(primary.file)
        );
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One JSON object on one line, for editors and CI.
pub fn render_json(diagnostic: &Diagnostic, sources: &SourceMap) -> String {
    let place = |span: super::Span| {
        let span = sources.clamp(span);
        let (line, column) = sources.line_col(span.file, span.start);
        let (end_line, end_column) = sources.line_col(span.file, span.end);
        json!({
            "file": sources.path(span.file).display().to_string(),
            "line": line,
            "column": column,
            "end_line": end_line,
            "end_column": end_column,
            "start": span.start,
            "end": span.end,
        })
    };
    let primary = diagnostic
        .primary_span()
        .filter(|s| sources.contains(s.file))
        .map(place);
    let labels: Vec<_> = diagnostic
        .labels
        .iter()
        .filter(|l| sources.contains(l.span.file))
        .map(|l| {
            let mut v = place(l.span);
            v["message"] = json!(l.message);
            v["primary"] = json!(l.primary);
            v
        })
        .collect();
    let value = json!({
        "severity": diagnostic.severity,
        "code": diagnostic.code,
        "message": diagnostic.message,
        "location": primary,
        "labels": labels,
        "help": diagnostic.help,
        "notes": diagnostic.notes,
    });
    value.to_string()
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

struct MapCache(HashMap<String, ariadne::Source<String>>);

impl ariadne::Cache<String> for MapCache {
    type Storage = String;

    fn fetch(&mut self, id: &String) -> Result<&ariadne::Source<String>, impl fmt::Debug> {
        self.0.get(id).ok_or_else(|| format!("no source for {id}"))
    }

    fn display<'a>(&self, id: &'a String) -> Option<impl fmt::Display + 'a> {
        Some(id.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::{Code, Span};

    #[test]
    fn a_label_after_a_multibyte_character_in_a_second_file_renders() {
        // An import cycle: the primary span in one file, a label in another whose line has a
        // byte-order mark before the label (a fuzzer found ariadne slicing inside it).
        let mut sources = SourceMap::new();
        let b = sources.add("b.pfi", "import \"a.pfi\"\n");
        let a = sources.add("a.pfi", "import\u{feff} \"b\"\n");
        let diagnostic = Diagnostic::error(Code::ImportCycle, "import cycle")
            .at(Span::new(b, 7, 14), "this import closes the cycle")
            .with_label(Span::new(a, 10, 13), "imported here");
        let text = render_human(&diagnostic, &sources, false);
        assert!(text.contains("a.pfi:1:9"), "{text}");
        assert!(text.contains("b.pfi:1:8"), "{text}");
        assert!(text.contains("imported here"), "{text}");
    }
}
