//! The table of fault kinds: what each acts on and which settings it takes. This is the one
//! place a fault kind is registered with the checker; its runtime lives in `src/faults/`.

use super::values::Quantity;
use crate::plan::TargetFamily::{self, *};

/// The type of a setting's value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueType {
    /// A duration that may be random (`120ms`, `normal(120ms, 40ms)`).
    DurationDist,
    Quantity(Quantity),
    Probability,
    Integer(i64, i64),
    Word(&'static [&'static str]),
    Text,
}

#[derive(Debug, Clone, Copy)]
pub struct SettingSpec {
    pub name: &'static str,
    pub ty: ValueType,
    pub required: bool,
}

#[derive(Debug)]
pub struct FaultKindSpec {
    pub name: &'static str,
    pub summary: &'static str,
    pub targets: &'static [TargetFamily],
    pub settings: &'static [SettingSpec],
}

const fn req(name: &'static str, ty: ValueType) -> SettingSpec {
    SettingSpec {
        name,
        ty,
        required: true,
    }
}

const fn opt(name: &'static str, ty: ValueType) -> SettingSpec {
    SettingSpec {
        name,
        ty,
        required: false,
    }
}

const DIRECTION: SettingSpec = opt(
    "direction",
    ValueType::Word(&["upstream", "downstream", "both"]),
);
const TOXICITY: SettingSpec = opt("toxicity", ValueType::Probability);
const METHOD: SettingSpec = opt("method", ValueType::Text);
const PATH: SettingSpec = opt("path", ValueType::Text);
const HEADER: SettingSpec = opt("header", ValueType::Text);
const LINKS: &[TargetFamily] = &[TcpLink, HttpLink];
const PROCESSES: &[TargetFamily] = &[Process, Container];
const DURATION: ValueType = ValueType::Quantity(Quantity::Duration);
const SIZE: ValueType = ValueType::Quantity(Quantity::Size);
const BANDWIDTH: ValueType = ValueType::Quantity(Quantity::Bandwidth);

/// Every fault kind.
pub const FAULT_KINDS: &[FaultKindSpec] = &[
    FaultKindSpec {
        name: "latency",
        summary: "delay data (tcp) or requests (http) by a distribution",
        targets: LINKS,
        settings: &[
            req("delay", ValueType::DurationDist),
            DIRECTION,
            TOXICITY,
            METHOD,
            PATH,
            HEADER,
        ],
    },
    FaultKindSpec {
        name: "jitter",
        summary: "delay data by a base delay plus a uniform random jitter",
        targets: LINKS,
        settings: &[
            opt("delay", DURATION),
            req("jitter", DURATION),
            DIRECTION,
            TOXICITY,
        ],
    },
    FaultKindSpec {
        name: "bandwidth",
        summary: "limit throughput per connection (or per link with `per link`)",
        targets: LINKS,
        settings: &[
            req("rate", BANDWIDTH),
            opt("per", ValueType::Word(&["connection", "link"])),
            DIRECTION,
            TOXICITY,
        ],
    },
    FaultKindSpec {
        name: "slow_close",
        summary: "delay the closing of connections",
        targets: LINKS,
        settings: &[req("delay", DURATION), DIRECTION, TOXICITY],
    },
    FaultKindSpec {
        name: "timeout",
        summary: "stop all data and close the connection after a timeout (0 = never)",
        targets: LINKS,
        settings: &[opt("timeout", DURATION), DIRECTION, TOXICITY],
    },
    FaultKindSpec {
        name: "blackhole",
        summary: "swallow all data; connections stay open and silent",
        targets: LINKS,
        settings: &[DIRECTION, TOXICITY],
    },
    FaultKindSpec {
        name: "reset",
        summary: "reset connections (TCP RST) after a timeout",
        targets: LINKS,
        settings: &[opt("timeout", DURATION), DIRECTION, TOXICITY],
    },
    FaultKindSpec {
        name: "slicer",
        summary: "slice data into small packets with delays between them",
        targets: LINKS,
        settings: &[
            req("size", SIZE),
            opt("variation", SIZE),
            opt("delay", DURATION),
            DIRECTION,
            TOXICITY,
        ],
    },
    FaultKindSpec {
        name: "limit_data",
        summary: "close connections after a number of bytes",
        targets: LINKS,
        settings: &[req("bytes", SIZE), DIRECTION, TOXICITY],
    },
    FaultKindSpec {
        name: "down",
        summary: "refuse new connections and close open ones",
        targets: LINKS,
        settings: &[],
    },
    FaultKindSpec {
        name: "http_error",
        summary: "answer requests with an HTTP status at a rate",
        targets: &[HttpLink],
        settings: &[
            req("status", ValueType::Integer(100, 599)),
            opt("rate", ValueType::Probability),
            opt("body", ValueType::Text),
            METHOD,
            PATH,
            HEADER,
        ],
    },
    FaultKindSpec {
        name: "abort",
        summary: "abort HTTP requests (close the connection without a response) at a rate",
        targets: &[HttpLink],
        settings: &[opt("rate", ValueType::Probability), METHOD, PATH, HEADER],
    },
    FaultKindSpec {
        name: "kill",
        summary: "send a signal (SIGKILL by default)",
        targets: PROCESSES,
        settings: &[opt(
            "signal",
            ValueType::Word(&[
                "SIGKILL", "SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1", "SIGUSR2",
                "SIGABRT",
            ]),
        )],
    },
    FaultKindSpec {
        name: "stop",
        summary: "stop gracefully (SIGTERM, then SIGKILL after the grace period); revert starts it again",
        targets: PROCESSES,
        settings: &[opt("grace", DURATION)],
    },
    FaultKindSpec {
        name: "pause",
        summary: "freeze (SIGSTOP / docker pause); revert resumes",
        targets: PROCESSES,
        settings: &[],
    },
    FaultKindSpec {
        name: "restart",
        summary: "stop and start again",
        targets: PROCESSES,
        settings: &[opt("grace", DURATION)],
    },
    FaultKindSpec {
        name: "cpu_limit",
        summary: "limit CPU to a number of cores (cgroups / docker update)",
        targets: PROCESSES,
        settings: &[req("cores", ValueType::Quantity(Quantity::Number))],
    },
    FaultKindSpec {
        name: "memory_limit",
        summary: "limit memory (cgroups / docker update)",
        targets: PROCESSES,
        settings: &[req("limit", SIZE)],
    },
    FaultKindSpec {
        name: "io_limit",
        summary: "limit block IO bandwidth or weight (cgroups / docker update)",
        targets: PROCESSES,
        settings: &[
            opt("read", BANDWIDTH),
            opt("write", BANDWIDTH),
            opt("weight", ValueType::Integer(10, 1000)),
        ],
    },
    FaultKindSpec {
        name: "partition",
        summary: "cut a dependency: disconnect a container from a network, or drop a link",
        targets: &[Container, TcpLink, HttpLink],
        settings: &[opt("network", ValueType::Text)],
    },
];

/// Settings every fault takes: when it starts, how long it lasts, how likely it fires.
pub const SCHEDULE_SETTINGS: &[&str] = &[
    "at",
    "every",
    "poisson",
    "after",
    "from",
    "until",
    "lasting",
    "probability",
];

pub fn fault_kind(name: &str) -> Option<&'static FaultKindSpec> {
    FAULT_KINDS.iter().find(|k| k.name == name)
}

pub fn kinds_for(family: TargetFamily) -> Vec<&'static str> {
    FAULT_KINDS
        .iter()
        .filter(|k| k.targets.contains(&family))
        .map(|k| k.name)
        .collect()
}
