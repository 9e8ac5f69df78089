//! The view of a run's progress in logs and CI: one plain line every few seconds.

use crate::run::progress::{ProgressView, Status};
use std::sync::Mutex;
use std::time::Duration;

/// One plain `progress:` line every `every` of the run, through `out`.
pub struct PlainProgress {
    every: Duration,
    next: Mutex<Duration>,
    out: Box<dyn Fn(&str) + Send + Sync>,
}

impl PlainProgress {
    pub fn new(every: Duration, out: impl Fn(&str) + Send + Sync + 'static) -> PlainProgress {
        PlainProgress {
            every,
            next: Mutex::new(every),
            out: Box::new(out),
        }
    }
}

impl ProgressView for PlainProgress {
    fn show(&self, status: &Status) {
        let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
        if status.elapsed < *next || status.elapsed >= status.total {
            return;
        }
        while *next <= status.elapsed {
            *next += self.every;
        }
        (self.out)(&format!("progress: {}", status.line()));
    }

    fn finish(&self) {}
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn plain_progress_prints_one_line_per_period() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let seen = lines.clone();
        let view = PlainProgress::new(Duration::from_secs(5), move |line| {
            seen.lock().unwrap().push(line.to_string())
        });
        for ms in [0, 200, 4800, 5000, 5200, 9000, 12_100, 30_000] {
            view.show(&Status {
                elapsed: Duration::from_millis(ms),
                total: Duration::from_secs(30),
                phase: "faults",
                active_faults: Vec::new(),
                probes: Vec::new(),
            });
        }
        assert_eq!(
            *lines.lock().unwrap(),
            vec![
                "progress: 5s/30s faults | no fault active".to_string(),
                "progress: 12.1s/30s faults | no fault active".to_string(),
            ]
        );
    }
}
