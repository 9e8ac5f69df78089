//! Reading back a process's log files: the tail for error messages, the announce line.

use std::io::{self, Read, Seek, SeekFrom};
use std::net::SocketAddr;
use std::path::Path;

/// At most this many bytes are read from the end of a log for a tail.
const TAIL_BYTES: u64 = 8 * 1024;

/// The last `lines` lines written to `path` after byte `from` (the size at spawn, so an
/// earlier run's output is left out). A missing file reads as empty.
pub fn tail(path: &Path, from: u64, lines: usize) -> io::Result<Vec<String>> {
    let text = read_since(path, from, TAIL_BYTES)?;
    let all: Vec<&str> = text
        .lines()
        .filter(|line| !line.trim().is_empty())
        .collect();
    let skip = all.len().saturating_sub(lines);
    Ok(all[skip..].iter().map(|line| line.to_string()).collect())
}

/// The address from the first `listening on ADDRESS` line written after byte `from`.
pub fn announced_address(path: &Path, from: u64) -> io::Result<Option<SocketAddr>> {
    let text = read_since(path, from, 64 * 1024)?;
    Ok(text.lines().find_map(parse_announce))
}

/// Parses `listening on 127.0.0.1:8080` anywhere in a line.
pub fn parse_announce(line: &str) -> Option<SocketAddr> {
    let (_, rest) = line.split_once("listening on ")?;
    rest.split_whitespace().next()?.parse().ok()
}

/// The text after byte `from`, at most the last `limit` bytes of it.
fn read_since(path: &Path, from: u64, limit: u64) -> io::Result<String> {
    let mut file = match std::fs::File::open(path) {
        Ok(file) => file,
        Err(err) if err.kind() == io::ErrorKind::NotFound => return Ok(String::new()),
        Err(err) => return Err(err),
    };
    let len = file.metadata()?.len();
    let start = from.max(len.saturating_sub(limit)).min(len);
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = Vec::new();
    file.take(limit).read_to_end(&mut bytes)?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_only_what_was_written_after_the_offset() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("x.log");
        std::fs::write(&path, "old 1\nold 2\n").unwrap();
        let offset = std::fs::metadata(&path).unwrap().len();
        std::fs::write(&path, "old 1\nold 2\nnew 1\n\nnew 2\nnew 3\n").unwrap();
        assert_eq!(tail(&path, offset, 2).unwrap(), vec!["new 2", "new 3"]);
        assert_eq!(tail(&path, offset, 10).unwrap().len(), 3);
        assert!(tail(&dir.path().join("missing"), 0, 5).unwrap().is_empty());
    }

    #[test]
    fn finds_the_announced_address() {
        assert_eq!(
            parse_announce("listening on 127.0.0.1:8080"),
            Some("127.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(
            parse_announce("INFO api listening on [::1]:99 (http)"),
            Some("[::1]:99".parse().unwrap())
        );
        assert_eq!(parse_announce("listening on nowhere"), None);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out.log");
        std::fs::write(&path, "starting\nlistening on 127.0.0.1:4000\n").unwrap();
        assert_eq!(
            announced_address(&path, 0).unwrap(),
            Some("127.0.0.1:4000".parse().unwrap())
        );
    }
}
