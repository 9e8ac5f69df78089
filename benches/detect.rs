//! Throughput of every detector, in samples per second on one core, next to a baseline measured
//! in the same run over the same data: a plain running mean (the cheapest streaming statistic
//! there is). Run with `cargo bench --bench detect`.

use pfi::predict::{DETECTORS, build};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// Five-minute samples: a daily rhythm, noise, a spike now and then.
fn series(n: usize) -> Vec<(f64, f64)> {
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    (0..n)
        .map(|i| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let noise = (state >> 11) as f64 / (1u64 << 53) as f64 - 0.5;
            let phase = (i % 288) as f64 / 288.0 * std::f64::consts::TAU;
            let spike = if i % 5000 == 4999 { 80.0 } else { 0.0 };
            (
                i as f64 * 300.0,
                100.0 + 20.0 * phase.sin() + 5.0 * noise + spike,
            )
        })
        .collect()
}

/// Runs `f` over the data repeatedly for at least `budget`; returns samples per second.
fn rate(data: &[(f64, f64)], budget: Duration, mut f: impl FnMut(&[(f64, f64)]) -> f64) -> f64 {
    let start = Instant::now();
    let mut samples = 0usize;
    while start.elapsed() < budget {
        black_box(f(black_box(data)));
        samples += data.len();
    }
    samples as f64 / start.elapsed().as_secs_f64()
}

fn running_mean(data: &[(f64, f64)]) -> f64 {
    let mut mean = 0.0;
    let mut acc = 0.0;
    for (n, (_, v)) in data.iter().enumerate() {
        mean += (v - mean) / (n as f64 + 1.0);
        acc += black_box((v - mean).abs());
    }
    acc
}

/// The binaries' allocator (see `src/main.rs`), so the benchmark measures what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    let data = series(1_000_000);
    let budget = Duration::from_secs(2);
    let baseline = rate(&data, budget, running_mean);
    println!("{:<18} {:>14} {:>10}", "detector", "samples/s", "vs mean");
    println!("{:<18} {:>14.0} {:>10}", "running mean", baseline, "1.00x");
    let filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    for spec in DETECTORS {
        if !filters.is_empty() && !filters.iter().any(|f| spec.name.contains(f.as_str())) {
            continue;
        }
        // The forest is ~50x slower than the rest: a shorter series keeps the run short.
        let slice = if spec.name == "isolation_forest" {
            &data[..100_000]
        } else {
            &data[..]
        };
        let per_second = rate(slice, budget, |d| {
            let Ok(mut detector) = build(spec.name, &[]) else {
                return 0.0;
            };
            d.iter().map(|(t, v)| detector.update(*t, *v)).sum()
        });
        println!(
            "{:<18} {:>14.0} {:>9.3}x",
            spec.name,
            per_second,
            per_second / baseline
        );
    }
}
