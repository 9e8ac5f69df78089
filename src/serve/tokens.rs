//! `Tokens`: the bearer tokens a server accepts, read from a file that holds only their
//! SHA-256 hashes. One token a line: `ROLE sha256:HEX [NAME]` where ROLE is `read` (GET
//! requests) or `operator` (everything); `#` starts a comment. Make a line with
//! `printf %s "$TOKEN" | sha256sum`.

use sha2::{Digest, Sha256};
use std::fmt;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// GET requests only.
    Read,
    /// Submit, abort, check, plan, trigger.
    Operator,
}

#[derive(Debug, Clone)]
struct Entry {
    hash: [u8; 32],
    role: Role,
    name: String,
}

#[derive(Debug, Clone, Default)]
pub struct Tokens {
    entries: Vec<Entry>,
}

/// A tokens file with a bad line: `path:line: message`.
#[derive(Debug)]
pub struct TokensError(pub String);

impl fmt::Display for TokensError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TokensError {}

impl Tokens {
    pub fn read(path: &Path) -> Result<Tokens, TokensError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| TokensError(format!("cannot read {}: {e}", path.display())))?;
        Tokens::parse(&text)
            .map_err(|(line, message)| TokensError(format!("{}:{line}: {message}", path.display())))
    }

    /// Parses a tokens file; an error names its line.
    pub fn parse(text: &str) -> Result<Tokens, (usize, String)> {
        let mut entries = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut words = line.split_whitespace();
            let role = match words.next() {
                Some("read") => Role::Read,
                Some("operator") => Role::Operator,
                other => {
                    return Err((
                        index + 1,
                        format!(
                            "`{}` is not a role; write `read` or `operator`",
                            other.unwrap_or("")
                        ),
                    ));
                }
            };
            let hash = words
                .next()
                .and_then(|word| word.strip_prefix("sha256:"))
                .and_then(parse_hex)
                .ok_or_else(|| {
                    (
                        index + 1,
                        "expected `sha256:` and 64 hex digits (printf %s \"$TOKEN\" | sha256sum)"
                            .to_string(),
                    )
                })?;
            let name = words.collect::<Vec<_>>().join(" ");
            entries.push(Entry { hash, role, name });
        }
        if entries.is_empty() {
            return Err((0, "the file names no token".to_string()));
        }
        Ok(Tokens { entries })
    }

    /// The role of a presented token, if it is one of ours; with its name for the logs.
    pub fn role_of(&self, token: &str) -> Option<(Role, &str)> {
        let presented = hash(token);
        self.entries
            .iter()
            .find(|entry| constant_time_eq(&entry.hash, &presented))
            .map(|entry| (entry.role, entry.name.as_str()))
    }
}

/// The SHA-256 of a token.
pub fn hash(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// `sha256:HEX` for a token: the line's second word.
pub fn hashed_line(token: &str) -> String {
    let digest = hash(token);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}")
}

fn parse_hex(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, chunk) in text.as_bytes().chunks(2).enumerate() {
        let pair = std::str::from_utf8(chunk).ok()?;
        out[i] = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

fn constant_time_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_known_by_its_hash_only() {
        let text = format!(
            "# ci\nread {} dashboards\noperator {} ci\n",
            hashed_line("r-secret"),
            hashed_line("o-secret")
        );
        assert!(!text.contains("secret"));
        let tokens = Tokens::parse(&text).unwrap();
        assert_eq!(tokens.role_of("r-secret"), Some((Role::Read, "dashboards")));
        assert_eq!(tokens.role_of("o-secret"), Some((Role::Operator, "ci")));
        assert_eq!(tokens.role_of("guess"), None);
    }

    #[test]
    fn a_bad_line_is_named() {
        assert_eq!(Tokens::parse("admin sha256:00").unwrap_err().0, 1);
        let err = Tokens::parse("\nread sha256:zz").unwrap_err();
        assert_eq!(err.0, 2);
        assert!(Tokens::parse("# nothing\n").is_err());
    }
}
