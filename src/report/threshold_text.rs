//! A threshold exactly as the scenario writes it: the comparison, then `over W`, `during F`
//! and `abort`, so two `web.p99` lines with different scopes never look alike.

use crate::plan::{ThresholdPlan, format_duration};

/// `checkout.p99 < 250ms during slow_backend`, `web.error_rate < 1% over 5s abort`.
pub fn written_text(t: &ThresholdPlan) -> String {
    let mut text = t.text.clone();
    if let Some(window) = t.window_ms {
        text.push_str(&format!(" over {}", format_duration(window)));
    }
    if let Some(fault) = &t.during {
        text.push_str(&format!(" during {fault}"));
    }
    if t.abort {
        text.push_str(" abort");
    }
    text
}
