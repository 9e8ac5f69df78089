//! The scheduler: applies each fired activation of the timeline at its start and reverts it
//! at its end, on tokio's clock, while checking the abort conditions every
//! [`ABORT_CHECK_INTERVAL`] and listening for a shutdown request.
//!
//! Time zero is the moment [`Schedule::run`] is called (every resource is ready); the faults
//! start after the experiment's baseline, so activation `start_ms` happens at
//! `baseline_ms + start_ms`, and the run ends at `baseline_ms + duration_ms`.

use crate::model::Activation;
use std::future::Future;
use std::time::Duration;
use tokio::time::{Instant, MissedTickBehavior};

/// How often abort thresholds are evaluated during the run.
pub const ABORT_CHECK_INTERVAL: Duration = Duration::from_millis(250);

/// How far ahead of an activation the actuator is asked to prepare it (build the fault, read
/// the target's state, write and fsync the ledger record), so that at the activation's time
/// only the change itself remains to be made.
pub const PREPARE_LEAD: Duration = Duration::from_millis(20);

pub use crate::BoxFuture;

/// The `Actuator` role: what the scheduler drives.
pub trait Actuator: Send {
    /// Prepares one activation ahead of its time (by [`PREPARE_LEAD`]), when no other step on
    /// the same target comes in between; `apply` follows. Preparing may do nothing.
    fn prepare<'a>(&'a mut self, _activation: &'a Activation) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    /// Applies one activation (prepared or not).
    fn apply<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()>;
    /// Reverts one activation applied earlier.
    fn revert<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()>;
    /// Why the run must stop now, if it must (a failed abort threshold).
    fn abort_reason(&mut self) -> Option<String>;
}

/// How the scheduled part of a run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// The experiment ran its full duration.
    Completed,
    /// An abort threshold failed.
    Aborted(String),
    /// A shutdown was requested (Ctrl-C, SIGTERM).
    Interrupted(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum StepKind {
    Revert,
    Prepare,
    Apply,
}

/// The fired activations, as apply and revert steps in time order.
#[derive(Debug, Clone)]
pub struct Schedule {
    activations: Vec<Activation>,
    /// (time from zero, step, index into `activations`), sorted; reverts first at a tie.
    steps: Vec<(Duration, StepKind, usize)>,
    end: Duration,
}

impl Schedule {
    /// Builds the schedule of the fired activations; activations still active at the end are
    /// left to the caller's teardown.
    pub fn new(activations: &[Activation], baseline_ms: f64, duration_ms: f64) -> Schedule {
        let activations: Vec<Activation> =
            activations.iter().filter(|a| a.fired).cloned().collect();
        let at = |ms: f64| Duration::from_secs_f64((baseline_ms + ms).max(0.0) / 1000.0);
        let end = at(duration_ms);
        let mut steps = Vec::new();
        for (index, activation) in activations.iter().enumerate() {
            let start = at(activation.start_ms);
            if start > end {
                continue;
            }
            steps.push((start, StepKind::Apply, index));
            let stop = at(activation.end_ms());
            if stop < end {
                steps.push((stop, StepKind::Revert, index));
            }
        }
        // Prepare ahead only where nothing else happens to the same target in between: what a
        // fault reads at preparation (a process's cgroup, a container's limits) must still be
        // true when it is applied.
        let mut prepares = Vec::new();
        for &(start, kind, index) in &steps {
            if kind != StepKind::Apply {
                continue;
            }
            let early = start.saturating_sub(PREPARE_LEAD);
            let target = &activations[index].target;
            let clear = steps.iter().all(|&(time, _, other)| {
                other == index
                    || activations[other].target != *target
                    || time < early
                    || time > start
            });
            if clear && early < start {
                prepares.push((early, StepKind::Prepare, index));
            }
        }
        steps.extend(prepares);
        steps.sort_by_key(|&(time, kind, index)| (time, kind, index));
        Schedule {
            activations,
            steps,
            end,
        }
    }

    /// The whole length of the run: baseline plus duration.
    pub fn end(&self) -> Duration {
        self.end
    }

    /// Runs the steps until the end, an abort, or `shutdown` completes (its output names the
    /// reason).
    pub async fn run(
        &self,
        actuator: &mut dyn Actuator,
        shutdown: impl Future<Output = String>,
    ) -> Ending {
        let zero = Instant::now();
        let mut checks = tokio::time::interval(ABORT_CHECK_INTERVAL);
        checks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        tokio::pin!(shutdown);
        let mut next = 0;
        loop {
            let due = self.steps.get(next).map_or(self.end, |step| step.0);
            tokio::select! {
                biased;
                reason = &mut shutdown => return Ending::Interrupted(reason),
                _ = tokio::time::sleep_until(zero + due) => {
                    let Some(&(_, kind, index)) = self.steps.get(next) else {
                        return Ending::Completed;
                    };
                    next += 1;
                    let activation = &self.activations[index];
                    match kind {
                        StepKind::Prepare => actuator.prepare(activation).await,
                        StepKind::Apply => actuator.apply(activation).await,
                        StepKind::Revert => actuator.revert(activation).await,
                    }
                }
                _ = checks.tick() => {
                    if let Some(reason) = actuator.abort_reason() {
                        return Ending::Aborted(reason);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn activation(fault: &str, start_ms: f64, duration_ms: f64, fired: bool) -> Activation {
        Activation {
            fault: fault.into(),
            kind: "pause".into(),
            target: "api".into(),
            index: 0,
            start_ms,
            duration_ms,
            fired,
            draw: 0.0,
            probability: 1.0,
            strength: "".into(),
            why: String::new(),
        }
    }

    /// Records what happened when, on the paused clock.
    struct Recorder {
        zero: Instant,
        log: Vec<(u128, String)>,
        abort_after: Option<Duration>,
    }

    impl Recorder {
        fn new(abort_after: Option<Duration>) -> Recorder {
            Recorder {
                zero: Instant::now(),
                log: Vec::new(),
                abort_after,
            }
        }

        fn note(&mut self, what: String) {
            self.log.push((self.zero.elapsed().as_millis(), what));
        }
    }

    impl Actuator for Recorder {
        fn prepare<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
            Box::pin(async move {
                if activation.fault.starts_with("prep") {
                    self.note(format!("prepare {}", activation.fault))
                }
            })
        }

        fn apply<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
            Box::pin(async move { self.note(format!("apply {}", activation.fault)) })
        }

        fn revert<'a>(&'a mut self, activation: &'a Activation) -> BoxFuture<'a, ()> {
            Box::pin(async move { self.note(format!("revert {}", activation.fault)) })
        }

        fn abort_reason(&mut self) -> Option<String> {
            let limit = self.abort_after?;
            (self.zero.elapsed() >= limit).then(|| "availability fell".to_string())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn applies_and_reverts_fired_activations_after_the_baseline() {
        let timeline = [
            activation("a", 1000.0, 500.0, true),
            activation("skipped", 1200.0, 100.0, false),
            activation("b", 1500.0, 10_000.0, true),
        ];
        let schedule = Schedule::new(&timeline, 2000.0, 4000.0);
        assert_eq!(schedule.end(), Duration::from_secs(6));
        let mut recorder = Recorder::new(None);
        let ending = schedule
            .run(&mut recorder, std::future::pending::<String>())
            .await;
        assert_eq!(ending, Ending::Completed);
        assert_eq!(
            recorder.log,
            vec![
                (3000, "apply a".to_string()),
                (3500, "revert a".to_string()),
                (3500, "apply b".to_string()),
            ]
        );
        assert_eq!(recorder.zero.elapsed(), Duration::from_secs(6));
    }

    #[tokio::test(start_paused = true)]
    async fn an_abort_condition_ends_the_run_within_a_check_interval() {
        let timeline = [activation("a", 0.0, 100_000.0, true)];
        let schedule = Schedule::new(&timeline, 0.0, 60_000.0);
        let mut recorder = Recorder::new(Some(Duration::from_millis(1100)));
        let ending = schedule
            .run(&mut recorder, std::future::pending::<String>())
            .await;
        assert_eq!(ending, Ending::Aborted("availability fell".into()));
        assert_eq!(recorder.zero.elapsed(), Duration::from_millis(1250));
        assert_eq!(recorder.log, vec![(0, "apply a".to_string())]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_shutdown_request_interrupts_at_once() {
        let timeline = [activation("a", 5000.0, 100.0, true)];
        let schedule = Schedule::new(&timeline, 0.0, 60_000.0);
        let mut recorder = Recorder::new(None);
        let shutdown = async {
            tokio::time::sleep(Duration::from_millis(700)).await;
            "SIGINT".to_string()
        };
        let ending = schedule.run(&mut recorder, shutdown).await;
        assert_eq!(ending, Ending::Interrupted("SIGINT".into()));
        assert_eq!(recorder.zero.elapsed(), Duration::from_millis(700));
        assert!(recorder.log.is_empty());
    }

    #[tokio::test(start_paused = true)]
    async fn activations_are_prepared_ahead_unless_their_target_changes_in_between() {
        let mut other = activation("prep-other", 1000.0, 1000.0, true);
        other.target = "db".into();
        let timeline = [
            // api: paused 0.5-0.99 s, so the next api fault at 1 s cannot be prepared early.
            activation("prep-a", 500.0, 490.0, true),
            activation("prep-b", 1000.0, 500.0, true),
            other,
        ];
        let schedule = Schedule::new(&timeline, 0.0, 3000.0);
        let mut recorder = Recorder::new(None);
        schedule
            .run(&mut recorder, std::future::pending::<String>())
            .await;
        assert_eq!(
            recorder.log,
            vec![
                (480, "prepare prep-a".to_string()),
                (500, "apply prep-a".to_string()),
                (980, "prepare prep-other".to_string()),
                (990, "revert prep-a".to_string()),
                (1000, "apply prep-b".to_string()),
                (1000, "apply prep-other".to_string()),
                (1500, "revert prep-b".to_string()),
                (2000, "revert prep-other".to_string()),
            ]
        );
    }
}
