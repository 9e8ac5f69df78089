//! The live view of a run on a terminal: an indicatif bar on stderr that the journal lines
//! print above, so they are never garbled.

use crate::plan::format_duration;
use crate::run::progress::{ProgressView, Status};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::time::Duration;

/// An indicatif bar on stderr. Journal lines must go through [`TerminalProgress::print`] so
/// the bar is cleared while they are written and redrawn under them.
pub struct TerminalProgress {
    bar: ProgressBar,
}

impl TerminalProgress {
    pub fn new() -> TerminalProgress {
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        let style =
            ProgressStyle::with_template("{spinner} [{bar:24.cyan/blue}] {prefix} {wide_msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar())
                .progress_chars("=> ");
        bar.set_style(style);
        bar.set_message("starting resources");
        bar.enable_steady_tick(Duration::from_millis(120));
        TerminalProgress { bar }
    }

    /// Writes one line to stderr above the bar.
    pub fn print(&self, line: &str) {
        self.bar.suspend(|| eprintln!("{line}"));
    }
}

impl Default for TerminalProgress {
    fn default() -> Self {
        TerminalProgress::new()
    }
}

impl ProgressView for TerminalProgress {
    fn show(&self, status: &Status) {
        self.bar.set_length(status.total.as_millis() as u64);
        self.bar.set_position(status.elapsed.as_millis() as u64);
        self.bar.set_prefix(format!(
            "{:>6.1}s/{}",
            status.elapsed.as_secs_f64(),
            format_duration(status.total.as_secs_f64() * 1000.0)
        ));
        self.bar.set_message(status.describe());
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
