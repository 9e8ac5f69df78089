//! Comments are not part of the syntax tree; `pfi fmt` re-attaches them by position.

use std::ops::Range;

/// A comment and its byte range (including the `//` or `/* */`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comment {
    pub range: Range<usize>,
    pub text: String,
}

/// Every comment in `text`, in order, skipping anything inside string literals.
pub fn comments(text: &str) -> Vec<Comment> {
    Tokens::new(text)
        .filter(|t| t.kind == Kind::Comment)
        .map(|t| Comment {
            range: t.range.clone(),
            text: text[t.range].to_string(),
        })
        .collect()
}

/// The bytes of `text` that are code (outside strings and comments), with their offsets.
#[cfg(test)]
pub fn code_bytes(text: &str) -> impl Iterator<Item = (usize, u8)> + '_ {
    Tokens::new(text)
        .filter(|t| t.kind == Kind::Code)
        .map(move |t| (t.range.start, text.as_bytes()[t.range.start]))
}

/// The brackets `()[]{}` of `text` that are code (outside strings and comments), with their
/// offsets: the same bytes as `code_bytes` filtered to brackets, in one tight loop (the nesting
/// check runs it over every file before parsing).
pub fn code_brackets(text: &str) -> Brackets<'_> {
    Brackets {
        bytes: text.as_bytes(),
        i: 0,
    }
}

pub struct Brackets<'a> {
    bytes: &'a [u8],
    i: usize,
}

impl Iterator for Brackets<'_> {
    type Item = (usize, u8);

    fn next(&mut self) -> Option<(usize, u8)> {
        let bytes = self.bytes;
        let mut i = self.i;
        while i < bytes.len() {
            match bytes[i] {
                b'"' => {
                    i += 1;
                    while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                        i += if bytes[i] == b'\\' { 2 } else { 1 };
                    }
                    i += 1;
                }
                b'/' if bytes.get(i + 1) == Some(&b'/') => {
                    while i < bytes.len() && bytes[i] != b'\n' {
                        i += 1;
                    }
                }
                b'/' if bytes.get(i + 1) == Some(&b'*') => {
                    i += 2;
                    while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/'))
                    {
                        i += 1;
                    }
                    i += 2;
                }
                b @ (b'(' | b'[' | b'{' | b')' | b']' | b'}') => {
                    self.i = i + 1;
                    return Some((i, b));
                }
                _ => i += 1,
            }
        }
        self.i = i;
        None
    }
}

#[derive(PartialEq)]
enum Kind {
    Code,
    String,
    Comment,
}

struct Token {
    kind: Kind,
    range: Range<usize>,
}

/// Splits text into single code bytes, string literals and comments.
struct Tokens<'a> {
    bytes: &'a [u8],
    i: usize,
}

impl<'a> Tokens<'a> {
    fn new(text: &'a str) -> Self {
        Tokens {
            bytes: text.as_bytes(),
            i: 0,
        }
    }
}

impl Iterator for Tokens<'_> {
    type Item = Token;

    fn next(&mut self) -> Option<Token> {
        let bytes = self.bytes;
        let start = self.i;
        if start >= bytes.len() {
            return None;
        }
        let mut i = start;
        let kind = match (bytes[i], bytes.get(i + 1)) {
            (b'"', _) => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' && bytes[i] != b'\n' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i = (i + 1).min(bytes.len());
                Kind::String
            }
            (b'/', Some(b'/')) => {
                while i < bytes.len() && bytes[i] != b'\n' {
                    i += 1;
                }
                if i > start && bytes[i - 1] == b'\r' {
                    i -= 1;
                }
                Kind::Comment
            }
            (b'/', Some(b'*')) => {
                i += 2;
                while i < bytes.len() && !(bytes[i] == b'*' && bytes.get(i + 1) == Some(&b'/')) {
                    i += 1;
                }
                i = (i + 2).min(bytes.len());
                Kind::Comment
            }
            _ => {
                i += 1;
                Kind::Code
            }
        };
        // A `//` comment ending in `\r` leaves the `\r` as code.
        self.i = i.max(start + 1);
        Some(Token {
            kind,
            range: start..i.max(start + 1).min(bytes.len()),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_comments_outside_strings() {
        let text = "a \"// not\" // yes\n/* block */ b";
        let found: Vec<_> = comments(text).into_iter().map(|c| c.text).collect();
        assert_eq!(found, ["// yes", "/* block */"]);
    }

    #[test]
    fn brackets_are_the_bracket_code_bytes() {
        let texts = [
            "a \"(\" // (\n/* [ */ b { c [ d ( \"\\\"(\" ) ] }",
            "x \"unterminated (\n ( /* never closed [",
            "\"ends with escape \\",
            "//",
            "/*",
            "({[]})\r\n// )\r\n)",
        ];
        for text in texts {
            let slow: Vec<(usize, u8)> = code_bytes(text)
                .filter(|(_, b)| b"()[]{}".contains(b))
                .collect();
            let fast: Vec<(usize, u8)> = code_brackets(text).collect();
            assert_eq!(fast, slow, "{text:?}");
        }
    }
}
