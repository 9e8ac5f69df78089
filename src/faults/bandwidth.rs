//! `bandwidth`: limits the rate data goes through a link, per connection or shared by
//! the whole link (`per link`).

use super::setting_spec::*;
use super::{FailureMode, FaultAction, FaultKind, Settings};
use crate::plan::TargetFamily::{self, *};
use crate::proxy::toxics::{Bandwidth, BandwidthScope};

const SETTINGS: &[SettingSpec] = &[
    req("rate", ValueType::Bandwidth),
    opt("per", ValueType::Word(&["connection", "link"])),
    DIRECTION,
    TOXICITY,
];

pub(super) struct Kind;

impl FaultKind for Kind {
    fn keyword(&self) -> &'static str {
        "bandwidth"
    }

    fn summary(&self) -> &'static str {
        "limit throughput per connection (or per link with `per link`)"
    }

    fn targets(&self) -> &'static [TargetFamily] {
        &[TcpLink, HttpLink]
    }

    fn settings(&self) -> &'static [SettingSpec] {
        SETTINGS
    }

    fn failure_mode(&self) -> FailureMode {
        FailureMode::Latency
    }

    fn build(&self, settings: &Settings) -> Result<FaultAction, String> {
        let rate = settings.required("rate")?;
        // Toxiproxy's unit: KB/s of 1000 bytes; at least 1.
        let rate_kb = ((rate / 1000.0).round() as u64).max(1);
        let scope = match settings.text("per") {
            Some("link") => BandwidthScope::Link,
            _ => BandwidthScope::Connection,
        };
        settings.toxic(Bandwidth::new(rate_kb, scope).map_err(|err| err.0)?)
    }
}
