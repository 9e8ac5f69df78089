//! The fault timeline: every activation of every fault, sampled from the plan and a seed.
//!
//! Each fault draws from its own random stream (`fault:<name>` under the seed), so the same
//! file and seed always give the same timeline, and adding or removing one fault leaves the
//! others' activations unchanged. `pfi plan` prints this timeline; `pfi run` executes it.

use crate::plan::seed::rng_for;
use crate::plan::{Arrival, EventKind, FaultPlan, Plan, describe_distribution, trim};
use rand::Rng;
use serde::Serialize;
use std::collections::HashMap;

/// No fault is activated more often than this in one experiment.
pub const MAX_ACTIVATIONS_PER_FAULT: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Timeline {
    pub seed: u64,
    pub duration_ms: f64,
    pub activations: Vec<Activation>,
}

/// One arrival of a fault: when, for how long, how strong, and whether it fires.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Activation {
    pub fault: String,
    pub kind: String,
    pub target: String,
    /// Index of this arrival among the fault's arrivals.
    pub index: usize,
    pub start_ms: f64,
    pub duration_ms: f64,
    /// Whether the arrival fires: its probability draw succeeded and the fault was not
    /// still active from an earlier arrival.
    pub fired: bool,
    /// The uniform draw compared with the fault's probability.
    pub draw: f64,
    pub probability: f64,
    /// The fault's settings, as applied.
    pub strength: String,
    /// Why it happens then: the arrival rule and the probability decision.
    pub why: String,
}

impl Activation {
    pub fn end_ms(&self) -> f64 {
        self.start_ms + self.duration_ms
    }
}

/// Samples the timeline of `plan` under `seed`.
pub fn timeline(plan: &Plan, seed: u64) -> Timeline {
    let end = plan.experiment.duration_ms;
    let mut done: HashMap<&str, Vec<Activation>> = HashMap::new();
    // Faults that start after other faults are sampled after them; the checker rejected
    // cycles, and the pass count bounds the loop in any case.
    let names: std::collections::HashSet<&str> =
        plan.faults.iter().map(|f| f.name.as_str()).collect();
    let mut pending: Vec<&FaultPlan> = plan.faults.iter().collect();
    for _ in 0..=plan.faults.len() {
        pending.retain(|fault| {
            if let Arrival::After { event, .. } = &fault.arrival
                && event.event != EventKind::Ready
                && names.contains(event.name.as_str())
                && !done.contains_key(event.name.as_str())
            {
                return true;
            }
            let activations = sample_fault(fault, seed, end, &done);
            done.insert(fault.name.as_str(), activations);
            false
        });
        if pending.is_empty() {
            break;
        }
    }
    let mut activations: Vec<Activation> = plan
        .faults
        .iter()
        .flat_map(|f| done.remove(f.name.as_str()).unwrap_or_default())
        .collect();
    activations.sort_by(|a, b| {
        a.start_ms
            .total_cmp(&b.start_ms)
            .then_with(|| a.fault.cmp(&b.fault))
            .then(a.index.cmp(&b.index))
    });
    Timeline {
        seed,
        duration_ms: end,
        activations,
    }
}

fn sample_fault(
    fault: &FaultPlan,
    seed: u64,
    end: f64,
    done: &HashMap<&str, Vec<Activation>>,
) -> Vec<Activation> {
    let mut rng = rng_for(seed, &format!("fault:{}", fault.name));
    let mut starts: Vec<(f64, String)> = Vec::new();
    match &fault.arrival {
        Arrival::At { times_ms } => {
            for t in times_ms {
                starts.push((*t, format!("at {}", ms(*t))));
            }
        }
        Arrival::Every {
            interval,
            from_ms,
            until_ms,
        } => {
            let stop = until_ms.unwrap_or(end).min(end);
            let rule = match interval {
                crate::plan::Distribution::Exponential { mean } => {
                    format!("poisson, mean interval {}", ms(*mean))
                }
                other => format!("every {}", describe_distribution(other, "ms")),
            };
            let mut t = *from_ms;
            loop {
                let step = interval.sample(&mut rng).max(1.0);
                t += step;
                if t >= stop || starts.len() >= MAX_ACTIVATIONS_PER_FAULT {
                    break;
                }
                starts.push((t, format!("{rule} (arrival #{})", starts.len() + 1)));
            }
        }
        Arrival::After { event, delay_ms } => {
            let suffix = if *delay_ms > 0.0 {
                format!(" + {}", ms(*delay_ms))
            } else {
                String::new()
            };
            match event.event {
                EventKind::Ready => starts.push((
                    *delay_ms,
                    format!(
                        "after {}.ready{suffix} (the clock starts when every resource is ready)",
                        event.name
                    ),
                )),
                EventKind::Start | EventKind::End => {
                    for a in done
                        .get(event.name.as_str())
                        .into_iter()
                        .flatten()
                        .filter(|a| a.fired)
                    {
                        let (base, word) = if event.event == EventKind::Start {
                            (a.start_ms, "start")
                        } else {
                            (a.end_ms(), "end")
                        };
                        starts.push((
                            base + delay_ms,
                            format!(
                                "after {}.{word}{suffix} (its activation #{})",
                                event.name,
                                a.index + 1
                            ),
                        ));
                    }
                }
            }
        }
    }
    let strength = fault
        .params
        .iter()
        .map(|(k, v)| format!("{k} {}", v.describe()))
        .collect::<Vec<_>>()
        .join(", ");
    let mut out = Vec::new();
    let mut active_until = f64::NEG_INFINITY;
    for (index, (start, rule)) in starts.into_iter().enumerate() {
        if start >= end {
            continue;
        }
        // Draw in a fixed order for every arrival, fired or not, so that one decision never
        // shifts the next.
        let draw: f64 = rng.random();
        let lasting = match &fault.lasting {
            Some(d) => d.sample(&mut rng),
            None => end - start,
        };
        let duration = lasting.min(end - start).max(0.0);
        let chosen = draw < fault.probability;
        let overlapping = start < active_until;
        let fired = chosen && !overlapping;
        let decision = if fault.probability >= 1.0 {
            "always fires".to_string()
        } else if chosen {
            format!(
                "fires: draw {:.3} < probability {}",
                draw,
                trim(fault.probability)
            )
        } else {
            format!(
                "skipped: draw {:.3} >= probability {}",
                draw,
                trim(fault.probability)
            )
        };
        let why = if overlapping && chosen {
            format!("{rule}; skipped: the previous activation is still active")
        } else {
            format!("{rule}; {decision}")
        };
        if fired {
            active_until = start + duration;
        }
        out.push(Activation {
            fault: fault.name.clone(),
            kind: fault.kind.clone(),
            target: fault.target.clone(),
            index,
            start_ms: start,
            duration_ms: duration,
            fired,
            draw,
            probability: fault.probability,
            strength: strength.clone(),
            why,
        });
    }
    out
}

fn ms(v: f64) -> String {
    crate::plan::format_duration(v)
}
