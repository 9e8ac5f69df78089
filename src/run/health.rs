//! Health checks during a run: each resource that declares `health` is checked every
//! interval (each check bounded by its timeout). Every check records `<resource>.healthy`
//! (1 or 0) in the run's metrics store; each change between healthy and unhealthy is
//! journaled, and the unhealthy periods are kept for the report.
//!
//! A single failed check makes a resource unhealthy and a single passing one healthy again:
//! a run is short, and the point is to see exactly when a fault hurt.

use super::journal::{EventKind, Journal};
use crate::monitor::{Check, ExpectedStatus, HttpProbe, MetricsStore, Probe, TcpProbe};
use crate::plan::{CheckKind, CheckPlan, ResourcePlan};
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};

/// One stretch of time a resource failed its health check; times in ms after every resource
/// was ready (the clock of the fault records).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct UnhealthyPeriod {
    pub from_ms: f64,
    /// `None`: still unhealthy when the run ended.
    pub until_ms: Option<f64>,
    /// What the first failed check said.
    pub detail: String,
}

/// A resource's health over the run.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthReport {
    pub resource: String,
    /// What is checked (`GET http://... expecting 2xx`).
    pub check: String,
    pub checks: usize,
    pub failures: usize,
    pub unhealthy: Vec<UnhealthyPeriod>,
}

impl HealthReport {
    /// Total unhealthy time in ms, an open period counted up to `end_ms`.
    pub fn unhealthy_ms(&self, end_ms: f64) -> f64 {
        self.unhealthy
            .iter()
            .map(|p| (p.until_ms.unwrap_or(end_ms) - p.from_ms).max(0.0))
            .sum()
    }
}

/// The health of every watched resource, shared by the check tasks and the report.
#[derive(Debug, Clone, Default)]
pub struct HealthBoard {
    reports: Arc<Mutex<Vec<HealthReport>>>,
}

impl HealthBoard {
    pub fn new() -> HealthBoard {
        HealthBoard::default()
    }

    /// What was seen so far, in the order the resources were watched.
    pub fn reports(&self) -> Vec<HealthReport> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<HealthReport>> {
        self.reports
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Notes one check's outcome at `at_ms`; returns the transition to journal, if any.
    fn note(&self, index: usize, at_ms: f64, check: &Check) -> Option<EventKind> {
        let mut reports = self.lock();
        let report = &mut reports[index];
        report.checks += 1;
        let open = report
            .unhealthy
            .last()
            .is_some_and(|p| p.until_ms.is_none());
        if check.success {
            if !open {
                return None;
            }
            let period = report.unhealthy.last_mut()?;
            period.until_ms = Some(at_ms);
            return Some(EventKind::ResourceHealthy {
                resource: report.resource.clone(),
                unhealthy_ms: at_ms - period.from_ms,
            });
        }
        report.failures += 1;
        if open {
            return None;
        }
        report.unhealthy.push(UnhealthyPeriod {
            from_ms: at_ms,
            until_ms: None,
            detail: check.detail.clone(),
        });
        Some(EventKind::ResourceUnhealthy {
            resource: report.resource.clone(),
            check: report.check.clone(),
            detail: check.detail.clone(),
        })
    }
}

/// A built health check of one resource.
pub struct HealthWatch {
    resource: String,
    probe: Box<dyn Probe>,
    interval: Duration,
}

impl HealthWatch {
    /// The watch of `resource`'s `health` check, `None` when it declares none.
    pub fn of(resource: &ResourcePlan) -> Option<Result<HealthWatch, String>> {
        let health = resource.health.as_ref()?;
        Some(HealthWatch::new(&resource.name, health))
    }

    pub fn new(resource: &str, health: &CheckPlan) -> Result<HealthWatch, String> {
        let timeout = Duration::from_secs_f64(health.timeout_ms.max(1.0) / 1000.0);
        let probe: Box<dyn Probe> = match &health.check {
            CheckKind::Http { url } => Box::new(HttpProbe::new(
                "GET",
                url,
                ExpectedStatus::Success,
                timeout,
            )?),
            CheckKind::Tcp { address } => Box::new(TcpProbe::new(address.clone(), timeout)),
        };
        Ok(HealthWatch {
            resource: resource.to_string(),
            probe,
            interval: Duration::from_secs_f64(health.interval_ms.max(1.0) / 1000.0),
        })
    }

    /// Checks until dropped: the first check at once, then every interval (a check slower
    /// than the interval delays the next). `zero` is the clock of the reported times.
    pub fn watch(
        self,
        board: &HealthBoard,
        store: MetricsStore,
        journal: Journal,
        zero: Instant,
    ) -> impl std::future::Future<Output = ()> + Send + 'static {
        let index = {
            let mut reports = board.lock();
            reports.push(HealthReport {
                resource: self.resource.clone(),
                check: self.probe.describe(),
                checks: 0,
                failures: 0,
                unhealthy: Vec::new(),
            });
            reports.len() - 1
        };
        let board = board.clone();
        let series = format!("{}.healthy", self.resource);
        async move {
            let mut ticks = tokio::time::interval(self.interval);
            ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let started = Instant::now();
                let at = store.now();
                let check = self.probe.check().await;
                store.record(&series, at, if check.success { 1.0 } else { 0.0 });
                // A failed check dates the trouble from when it was sent; a passing one dates
                // the recovery from its answer (a check sent while the resource was frozen
                // can pass once it resumes).
                let seen = if check.success {
                    Instant::now()
                } else {
                    started
                };
                let at_ms = seen.duration_since(zero).as_secs_f64() * 1000.0;
                if let Some(change) = board.note(index, at_ms, &check) {
                    journal.record(change);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitor::Selection;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn board_with(resource: &str) -> HealthBoard {
        let board = HealthBoard::new();
        board.lock().push(HealthReport {
            resource: resource.into(),
            check: "tcp".into(),
            checks: 0,
            failures: 0,
            unhealthy: Vec::new(),
        });
        board
    }

    #[test]
    fn transitions_open_and_close_periods() {
        let board = board_with("api");
        assert_eq!(board.note(0, 0.0, &Check::success("ok")), None);
        let down = board.note(0, 100.0, &Check::failure("refused")).unwrap();
        assert_eq!(
            down,
            EventKind::ResourceUnhealthy {
                resource: "api".into(),
                check: "tcp".into(),
                detail: "refused".into()
            }
        );
        assert!(
            down.to_string().starts_with("api unhealthy: refused"),
            "{down}"
        );
        assert_eq!(board.note(0, 200.0, &Check::failure("refused")), None);
        let up = board.note(0, 350.0, &Check::success("ok")).unwrap();
        assert_eq!(up.to_string(), "api healthy again after 250ms unhealthy");
        board.note(0, 900.0, &Check::failure("timed out"));
        let report = &board.reports()[0];
        assert_eq!((report.checks, report.failures), (5, 3));
        assert_eq!(
            report.unhealthy,
            vec![
                UnhealthyPeriod {
                    from_ms: 100.0,
                    until_ms: Some(350.0),
                    detail: "refused".into()
                },
                UnhealthyPeriod {
                    from_ms: 900.0,
                    until_ms: None,
                    detail: "timed out".into()
                },
            ]
        );
        assert_eq!(report.unhealthy_ms(1000.0), 350.0);
    }

    #[tokio::test]
    async fn a_watch_records_the_series_against_a_real_listener() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let health = CheckPlan {
            check: CheckKind::Tcp {
                address: address.to_string(),
            },
            interval_ms: 20.0,
            timeout_ms: 500.0,
        };
        let store = MetricsStore::new();
        let events = Arc::new(AtomicUsize::new(0));
        let counter = events.clone();
        let journal = Journal::new(Arc::new(move |_| {
            counter.fetch_add(1, Ordering::SeqCst);
        }));
        let board = HealthBoard::new();
        let watch = HealthWatch::new("db", &health).unwrap();
        let task = tokio::spawn(watch.watch(&board, store.clone(), journal, Instant::now()));
        tokio::time::sleep(Duration::from_millis(150)).await;
        drop(listener);
        tokio::time::sleep(Duration::from_millis(150)).await;
        task.abort();
        let points = store.points("db.healthy", &Selection::all());
        assert!(points.len() >= 5, "{points:?}");
        assert_eq!(points[0].value, 1.0);
        assert_eq!(points.last().unwrap().value, 0.0);
        let report = &board.reports()[0];
        assert_eq!(report.unhealthy.len(), 1, "{report:?}");
        assert!(report.unhealthy[0].until_ms.is_none());
        assert_eq!(events.load(Ordering::SeqCst), 1);
    }
}
