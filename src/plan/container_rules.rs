//! What Docker accepts as a container name and a label key: pure rules shared by the checker
//! (diagnostics at check time) and the Docker target (errors at run time).

/// Why `name` (optionally with Docker's leading `/`) cannot name a container; `None` if it can.
/// An id is a name by these rules too (hexadecimal digits).
pub fn container_name_problem(name: &str) -> Option<&'static str> {
    let name = name.strip_prefix('/').unwrap_or(name);
    if name.is_empty() {
        return Some("the name is empty");
    }
    let valid_first = name.starts_with(|c: char| c.is_ascii_alphanumeric());
    let valid_rest = name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if !valid_first || !valid_rest {
        return Some(
            "container names are letters, digits, `_`, `.` and `-`, starting with a letter or digit",
        );
    }
    None
}

/// Why `key` cannot be a label key in a selector; `None` if it can.
pub fn label_key_problem(key: &str) -> Option<&'static str> {
    if key.trim().is_empty() {
        return Some("the label key is empty");
    }
    if key.chars().any(char::is_whitespace) {
        return Some("a label key has no spaces");
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_keys() {
        assert_eq!(container_name_problem("/web-1.a_b"), None);
        assert_eq!(container_name_problem("0abc"), None);
        assert!(container_name_problem("").is_some());
        assert!(container_name_problem("-web").is_some());
        assert!(container_name_problem("shop db").is_some());
        assert_eq!(label_key_problem("app"), None);
        assert!(label_key_problem(" ").is_some());
        assert!(label_key_problem("app tier").is_some());
    }
}
