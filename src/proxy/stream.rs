//! Which way data flows, and which ways a toxic acts on.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One direction of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to upstream server (requests).
    Upstream,
    /// Upstream server to client (responses).
    Downstream,
}

impl Direction {
    /// Both directions, upstream first.
    pub const ALL: [Direction; 2] = [Direction::Upstream, Direction::Downstream];

    /// The lower-case name used in JSON, metrics and seed streams.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Upstream => "upstream",
            Direction::Downstream => "downstream",
        }
    }

    /// 0 for upstream, 1 for downstream (for per-direction arrays).
    pub fn index(self) -> usize {
        match self {
            Direction::Upstream => 0,
            Direction::Downstream => 1,
        }
    }
}

/// The directions a toxic acts on: Toxiproxy's `stream` field, plus `both`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    /// Client to upstream only.
    Upstream,
    /// Upstream to client only (Toxiproxy's default).
    #[default]
    Downstream,
    /// Both directions.
    Both,
}

impl Stream {
    /// Whether the toxic acts on `direction`.
    pub fn covers(self, direction: Direction) -> bool {
        matches!(
            (self, direction),
            (Stream::Both, _)
                | (Stream::Upstream, Direction::Upstream)
                | (Stream::Downstream, Direction::Downstream)
        )
    }

    /// The lower-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Upstream => "upstream",
            Stream::Downstream => "downstream",
            Stream::Both => "both",
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The error for a stream name that is none of upstream, downstream, both.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidStream(pub String);

impl fmt::Display for InvalidStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "stream was invalid, can be either upstream or downstream (or both): got {:?}",
            self.0
        )
    }
}

impl FromStr for Stream {
    type Err = InvalidStream;

    /// Case-insensitive, like Toxiproxy.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.to_ascii_lowercase().as_str() {
            "upstream" => Ok(Stream::Upstream),
            "downstream" => Ok(Stream::Downstream),
            "both" => Ok(Stream::Both),
            _ => Err(InvalidStream(s.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_cover_their_directions() {
        assert!(Stream::Both.covers(Direction::Upstream));
        assert!(Stream::Both.covers(Direction::Downstream));
        assert!(Stream::Upstream.covers(Direction::Upstream));
        assert!(!Stream::Upstream.covers(Direction::Downstream));
        assert!(!Stream::Downstream.covers(Direction::Upstream));
    }

    #[test]
    fn parsing_is_case_insensitive_and_rejects_others() {
        assert_eq!("UpStream".parse::<Stream>(), Ok(Stream::Upstream));
        assert_eq!("both".parse::<Stream>(), Ok(Stream::Both));
        let err = "sideways".parse::<Stream>().unwrap_err();
        assert!(err.to_string().contains("sideways"));
    }
}
