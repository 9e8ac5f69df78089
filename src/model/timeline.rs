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
use std::sync::Arc;

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
///
/// The fault's name, kind, target and strength are shared by all its arrivals (a timeline can
/// have hundreds of thousands of them).
pub struct Activation {
    pub fault: Arc<str>,
    pub kind: Arc<str>,
    pub target: Arc<str>,
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
    pub strength: Arc<str>,
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
    let activations: Vec<Activation> = plan
        .faults
        .iter()
        .flat_map(|f| done.remove(f.name.as_str()).unwrap_or_default())
        .collect();
    // Sort small keys, not the activations themselves (moving 300,000 large structs through a
    // stable sort costs more than sampling them).
    let mut order: Vec<(f64, u32)> = activations
        .iter()
        .enumerate()
        .map(|(i, a)| (a.start_ms, i as u32))
        .collect();
    order.sort_by(|(sa, ia), (sb, ib)| {
        let (a, b) = (&activations[*ia as usize], &activations[*ib as usize]);
        sa.total_cmp(sb)
            .then_with(|| a.fault.cmp(&b.fault))
            .then(a.index.cmp(&b.index))
    });
    let mut slots: Vec<Option<Activation>> = activations.into_iter().map(Some).collect();
    let activations = order
        .into_iter()
        .filter_map(|(_, i)| slots[i as usize].take())
        .collect();
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
    let mut every_rule: Option<String> = None;
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
                // The text `{rule} (arrival #n)` is written straight into each `why` below.
                starts.push((t, String::new()));
            }
            every_rule = Some(rule);
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
    let strength: Arc<str> = fault
        .params
        .iter()
        .map(|(k, v)| format!("{k} {}", v.describe()))
        .collect::<Vec<_>>()
        .join(", ")
        .into();
    let (name, kind, target): (Arc<str>, Arc<str>, Arc<str>) = (
        fault.name.as_str().into(),
        fault.kind.as_str().into(),
        fault.target.as_str().into(),
    );
    let probability = trim(fault.probability);
    let mut out = Vec::with_capacity(starts.len());
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
        // One allocation per activation; the draw is printed like `{:.3}` without going
        // through the general float formatter (the slowest part of a big timeline).
        let mut why = String::with_capacity(rule.len() + 96);
        match &every_rule {
            Some(every) => {
                why.push_str(every);
                why.push_str(" (arrival #");
                push_integer(&mut why, index as u64 + 1);
                why.push(')');
            }
            None => why.push_str(&rule),
        }
        why.push_str("; ");
        if overlapping && chosen {
            why.push_str("skipped: the previous activation is still active");
        } else if fault.probability >= 1.0 {
            why.push_str("always fires");
        } else {
            why.push_str(if chosen {
                "fires: draw "
            } else {
                "skipped: draw "
            });
            push_fixed3(&mut why, draw);
            why.push_str(if chosen {
                " < probability "
            } else {
                " >= probability "
            });
            why.push_str(&probability);
        }
        if fired {
            active_until = start + duration;
        }
        out.push(Activation {
            fault: name.clone(),
            kind: kind.clone(),
            target: target.clone(),
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

/// Appends `ms` formatted exactly as `crate::plan::format_duration` does, without allocating.
pub fn push_duration(out: &mut String, ms: f64) {
    fn push_trimmed(out: &mut String, x: f64) {
        let start = out.len();
        push_fixed3(out, x);
        let kept = out[start..]
            .trim_end_matches('0')
            .trim_end_matches('.')
            .len();
        out.truncate(start + kept);
        if &out[start..] == "-0" {
            out.truncate(start);
            out.push('0');
        }
    }
    if ms < 1000.0 {
        push_trimmed(out, ms);
        out.push_str("ms");
        return;
    }
    let s = ms / 1000.0;
    if s < 60.0 || (s.fract() != 0.0 && s < 600.0) {
        push_trimmed(out, s);
        out.push('s');
        return;
    }
    out.push_str(&crate::plan::format_duration(ms));
}

/// Appends `x` formatted exactly as `format!("{:.3}", x)` does (round half to even on the
/// exact binary value), with integer arithmetic.
pub fn push_fixed3(out: &mut String, x: f64) {
    use std::fmt::Write as _;
    if !x.is_finite() || x.abs() >= 1e15 {
        let _ = write!(out, "{x:.3}");
        return;
    }
    let bits = x.to_bits();
    let negative = bits >> 63 == 1;
    let exponent = ((bits >> 52) & 0x7ff) as i32;
    let fraction = bits & ((1u64 << 52) - 1);
    let (mantissa, exp) = if exponent == 0 {
        (fraction, -1074)
    } else {
        (fraction | (1u64 << 52), exponent - 1075)
    };
    // x * 1000 = mantissa * 1000 * 2^exp, with |x| < 1e15 so exp < 0 whenever mantissa != 0.
    let scaled = u128::from(mantissa) * 1000;
    // (The quotient below is below 1e18, so it is printed as a u64.)
    let thousandths: u128 = if exp >= 0 {
        scaled << exp
    } else {
        let shift = (-exp) as u32;
        if shift >= 127 {
            0
        } else {
            let q = scaled >> shift;
            let r = scaled & ((1u128 << shift) - 1);
            let half = 1u128 << (shift - 1);
            if r > half || (r == half && q % 2 == 1) {
                q + 1
            } else {
                q
            }
        }
    };
    if negative {
        out.push('-');
    }
    let thousandths = thousandths as u64;
    push_integer(out, thousandths / 1000);
    out.push('.');
    let fraction = thousandths % 1000;
    out.push(char::from(b'0' + (fraction / 100) as u8));
    out.push(char::from(b'0' + (fraction / 10 % 10) as u8));
    out.push(char::from(b'0' + (fraction % 10) as u8));
}

/// Appends `n` in decimal, as `{}` writes it, without the formatting machinery.
fn push_integer(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut at = digits.len();
    loop {
        at -= 1;
        digits[at] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits[at..].iter().map(|d| char::from(*d)));
}

#[cfg(test)]
mod tests {
    use super::{push_duration, push_fixed3};
    use rand::{Rng, SeedableRng};

    #[test]
    fn fixed3_matches_the_standard_formatter() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let mut values = vec![
            0.0,
            -0.0,
            0.0625,
            0.1875,
            0.0005,
            0.0015,
            0.25,
            -0.0001,
            1.0005,
            2.5e-4,
            0.9999,
            0.99951,
            1e-300,
            5e-324,
            123456.0625,
            -7.5,
            999999999999.9995,
            1e15,
            f64::NAN,
        ];
        values.extend((0..20_000).map(|_| rng.random::<f64>()));
        values.extend((0..20_000).map(|_| (rng.random::<f64>() - 0.5) * 1e6));
        values.extend((0..2_000).map(|i| f64::from(i) / 16.0));
        for x in values {
            let mut fast = String::new();
            push_fixed3(&mut fast, x);
            assert_eq!(fast, format!("{x:.3}"), "{x:e}");
        }
    }

    #[test]
    fn durations_match_format_duration() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(4);
        let mut values = vec![
            0.0, -0.0, 999.9996, 999.9994, 1000.0, 59_999.9, 60_000.0, 61_500.0,
        ];
        values.extend((0..20_000).map(|_| rng.random::<f64>() * 700_000.0));
        values.extend((0..2_000).map(|i| f64::from(i) * 250.0));
        for ms in values {
            let mut fast = String::new();
            push_duration(&mut fast, ms);
            assert_eq!(fast, crate::plan::format_duration(ms), "{ms}");
        }
    }
}
