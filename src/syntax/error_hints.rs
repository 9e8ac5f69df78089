//! Better syntax errors for the two mistakes pest's "expected ..." describes worst: a misspelt
//! declaration keyword (pest reads the word as the name in `a depends_on b` and asks for
//! `depends_on`), and a block whose `}` is missing (pest reports the next declaration, as a
//! setting that goes wrong, far from the brace).

use super::comments::code_brackets;
use crate::diagnostic::suggest;
use crate::diagnostic::{Code, Diagnostic, FileId, Span};

/// The keywords that start a declaration.
pub const DECLARATIONS: &[&str] = &[
    "import",
    "analysis",
    "experiment",
    "resource",
    "link",
    "fault",
    "profile",
    "probe",
    "telemetry",
    "threshold",
    "predict",
    "pattern",
    "mitigate",
    "remediation",
];

const DEPENDS_ON: &str = "depends_on";

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// The identifier that ends right before `at` (blanks skipped), as a byte range.
fn word_before(text: &str, at: usize) -> Option<(usize, usize)> {
    let before = text.get(..at)?.trim_end();
    let end = before.len();
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| !is_ident_char(*c))
        .map_or(0, |(i, c)| i + c.len_utf8());
    (start < end).then_some((start, end))
}

/// The identifier that starts at `at`, as a byte range.
fn word_at(text: &str, at: usize) -> Option<(usize, usize)> {
    let rest = text.get(at..)?;
    let len = rest.find(|c: char| !is_ident_char(c)).unwrap_or(rest.len());
    (len > 0).then_some((at, at + len))
}

/// The first identifier of the line that holds `at`, as a byte range.
fn first_word_of_line(text: &str, at: usize) -> Option<(usize, usize)> {
    let head = text.get(..at)?;
    let line_start = head.rfind('\n').map_or(0, |i| i + 1);
    let line = &text[line_start..];
    let indent = line.len() - line.trim_start_matches([' ', '\t']).len();
    word_at(text, line_start + indent)
}

/// A misspelt declaration keyword or `depends_on`, when pest stopped at `at` expecting
/// `depends_on` (it took the word before for the first name of a dependency).
pub fn misspelt_keyword(file: FileId, text: &str, at: usize) -> Option<Diagnostic> {
    // `a depend_on b`: the word at the error is the misspelt `depends_on`.
    if let Some((start, end)) = word_at(text, at)
        && suggest(&text[start..end], [DEPENDS_ON]).is_some()
    {
        let word = &text[start..end];
        return Some(
            Diagnostic::error(Code::Syntax, format!("`{word}` is not a keyword"))
                .at(Span::new(file, start, end), "did you mean `depends_on`?")
                .help("a dependency is written `api depends_on db, cache via api_db`"),
        );
    }
    let (start, end) = word_before(text, at)?;
    let word = &text[start..end];
    // The word must start its line or the file: otherwise it is a name, not a keyword.
    if first_word_of_line(text, start) != Some((start, end)) {
        return None;
    }
    let declarations = DECLARATIONS.join(", ");
    let d = match suggest(word, DECLARATIONS.iter().copied()) {
        Some(keyword) => Diagnostic::error(
            Code::Syntax,
            format!("unknown declaration `{word}`: did you mean `{keyword}`?"),
        )
        .at(
            Span::new(file, start, end),
            format!("did you mean `{keyword}`?"),
        ),
        None => Diagnostic::error(
            Code::Syntax,
            format!("`{word}` does not start a declaration"),
        )
        .at(Span::new(file, start, end), "not a declaration keyword"),
    };
    Some(d.help(format!(
        "a declaration starts with one of: {declarations}; or it is a dependency, `{word} depends_on other`"
    )))
}

/// A block left open before the next declaration: pest fails on the declaration's line (read
/// as a setting) while a `{` opened on an earlier line is still open. Reported at that `{`.
pub fn unclosed_block(file: FileId, text: &str, at: usize) -> Option<Diagnostic> {
    let mut stack = Vec::new();
    for (i, b) in code_brackets(text) {
        if i >= at {
            break;
        }
        match b {
            b'(' | b'[' | b'{' => stack.push((i, b)),
            _ => {
                stack.pop();
            }
        }
    }
    let &(open, b'{') = stack.last()? else {
        return None;
    };
    let (start, end) = first_word_of_line(text, at)?;
    let keyword = &text[start..end];
    let declaration_line = DECLARATIONS.contains(&keyword)
        || text[end..]
            .lines()
            .next()
            .is_some_and(|rest| rest.split_whitespace().nth(1) == Some(DEPENDS_ON));
    // On a later line than the `{`, and indented no deeper than the line of the `{` (a setting
    // of the block would be indented deeper).
    if !declaration_line || start <= open || !text[open..start].contains('\n') {
        return None;
    }
    let indent = |at: usize| {
        let line_start = text[..at].rfind('\n').map_or(0, |i| i + 1);
        let line = &text[line_start..];
        line.len() - line.trim_start_matches([' ', '\t']).len()
    };
    if indent(start) > indent(open) {
        return None;
    }
    // A pattern is a declaration inside `predict { }` too.
    if keyword == "pattern" && text[..open].trim_end().ends_with("predict") {
        return None;
    }
    let line = text[..open].matches('\n').count() + 1;
    Some(
        Diagnostic::error(
            Code::Syntax,
            format!("missing `}}`: the block opened on line {line} is not closed"),
        )
        .at(Span::new(file, open, open + 1), "this `{` is never closed")
        .with_label(
            Span::new(file, start, end),
            "the next declaration starts here, inside the block",
        )
        .help("close the block with `}` before the next declaration"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(d: Option<Diagnostic>) -> String {
        d.map(|d| d.message).unwrap_or_default()
    }

    #[test]
    fn words_around_a_place() {
        let text = "é resorce api: x\n  b";
        assert_eq!(word_before(text, 14), Some((11, 14)));
        assert_eq!(word_at(text, 3), Some((3, 10)));
        assert_eq!(first_word_of_line(text, 20), Some((20, 21)));
        assert_eq!(first_word_of_line(text, 5), None);
    }

    #[test]
    fn a_misspelt_keyword_is_named() {
        let f = FileId(0);
        let at = |text: &str, token: &str| text.find(token).unwrap();
        let t = "resorce api: process [\"x\"]";
        assert!(message(misspelt_keyword(f, t, at(t, "api"))).contains("`resource`"));
        let t = "x {}\nthreshhold a.p99 < 5ms";
        assert!(message(misspelt_keyword(f, t, at(t, "a.p99"))).contains("`threshold`"));
        let t = "a depend_on b";
        let d = misspelt_keyword(f, t, at(t, "depend_on")).unwrap();
        assert_eq!(d.labels[0].message, "did you mean `depends_on`?");
        let t = "zzzzzz q";
        assert!(message(misspelt_keyword(f, t, at(t, "q"))).contains("does not start"));
    }

    #[test]
    fn an_open_block_is_named_at_its_brace() {
        let f = FileId(0);
        let t = "resource api: process [\"x\"] {\n  ready 1s\n\nfault f: kill on api {}\n";
        let at = t.find(": kill").unwrap();
        let d = unclosed_block(f, t, at).unwrap();
        assert_eq!(d.primary_span().unwrap().start, t.find('{').unwrap());
        assert!(d.message.contains("line 1"));
        // A closed block, or an error on the line of the brace, is something else.
        assert!(unclosed_block(f, "a {}\nfault f: x", 12).is_none());
        assert!(unclosed_block(f, "fault f: x { y", 13).is_none());
        // A setting of the block is indented deeper than its declaration.
        assert!(unclosed_block(f, "mitigate when x {\n  probe p: y", 25).is_none());
    }
}
