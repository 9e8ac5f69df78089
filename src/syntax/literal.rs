//! Literal helpers shared by the pest parser (`parser`) and the fast path (`fast`): number
//! and string values with their diagnostics, the nesting limit. Both parsers import this
//! file; neither imports the other's helpers.

use super::ast::*;
use crate::diagnostic::{Code, Diagnostic, Span};

/// The deepest nesting of brackets, parentheses and braces.
pub const MAX_NESTING: usize = 64;

/// The value of a number as written (0 and a diagnostic when it does not fit in an f64).
pub(super) fn number_value(errors: &mut Vec<Diagnostic>, text: &str, span: Span) -> f64 {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => v,
        _ => {
            errors.push(
                Diagnostic::error(
                    Code::NumberOutOfRange,
                    format!("the number `{text}` is too large"),
                )
                .at(span, "does not fit in a 64-bit float")
                .help("use a number below 1e300"),
            );
            0.0
        }
    }
}

/// A string literal's value from its inner text `raw` (the escapes resolved); on a bad escape
/// the raw text and a diagnostic. `span` covers the quotes.
pub(super) fn string_value(errors: &mut Vec<Diagnostic>, raw: &str, span: Span) -> Spanned<String> {
    match unescape(raw) {
        Ok(s) => Spanned::new(s, span),
        Err((offset, message)) => {
            let at = span.start + 1 + offset;
            errors.push(
                Diagnostic::error(Code::Syntax, message)
                    .at(Span::new(span.file, at, (at + 2).min(span.end)), "here")
                    .help("escapes are \\\" \\\\ \\n \\r \\t and \\u{hex}"),
            );
            Spanned::new(raw.to_string(), span)
        }
    }
}

/// The diagnostic for a non-string item in a string list (`process [...]`, `command [...]`).
pub(super) fn not_a_string(term: &Term, span: Span) -> Diagnostic {
    Diagnostic::error(
        Code::Syntax,
        format!("expected a string in this list, found {}", term.describe()),
    )
    .at(span, "not a string")
    .help("write each argument in double quotes: [\"./api\", \"--port\", \"8080\"]")
}

/// Resolves the escapes of a string literal's inner text. On error: (byte offset, message).
fn unescape(raw: &str) -> Result<String, (usize, String)> {
    let mut out = String::with_capacity(raw.len());
    let mut chars = raw.char_indices();
    while let Some((i, c)) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some((_, '"')) => out.push('"'),
            Some((_, '\\')) => out.push('\\'),
            Some((_, 'n')) => out.push('\n'),
            Some((_, 'r')) => out.push('\r'),
            Some((_, 't')) => out.push('\t'),
            Some((_, '0')) => out.push('\0'),
            Some((_, 'u')) => {
                let rest = &raw[i + 2..];
                let close = rest.find('}');
                let hex = rest
                    .strip_prefix('{')
                    .and_then(|r| close.map(|c| &r[..c.saturating_sub(1)]));
                let ch = hex
                    .and_then(|h| u32::from_str_radix(h, 16).ok())
                    .and_then(char::from_u32);
                match (ch, close) {
                    (Some(ch), Some(close)) => {
                        out.push(ch);
                        for _ in 0..close + 1 {
                            chars.next();
                        }
                    }
                    _ => {
                        return Err((i, "invalid unicode escape".to_string()));
                    }
                }
            }
            Some((_, other)) => {
                return Err((i, format!("unknown escape `\\{other}` in a string")));
            }
            None => return Err((i, "a string cannot end with a lone `\\`".to_string())),
        }
    }
    Ok(out)
}
