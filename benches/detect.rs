//! Throughput of every detector, in samples per second on one core, next to two baselines
//! measured in the same run over the same data: a plain running mean (the cheapest streaming
//! statistic there is) and a rolling z-score over the last 288 samples (the classic streaming
//! anomaly detector, kept as running sums over a ring buffer). Then the time to score the whole
//! NAB corpus with the default detector (read from `PFI_NAB_DATA`, default
//! `../shared/bench/nab/data` or `../../shared/…`; skipped when absent), parsing excluded, beside the rolling
//! z-score over the same files. Run with `cargo bench --bench detect`.

use pfi::predict::registry::DEFAULT_DETECTOR;
use pfi::predict::{DETECTORS, Series, build, probation};
use std::collections::VecDeque;
use std::hint::black_box;
use std::path::{Path, PathBuf};
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

/// A z-score of each value against the mean and standard deviation of the last `window` values.
fn rolling_z(data: &[(f64, f64)], window: usize) -> f64 {
    let mut ring: VecDeque<f64> = VecDeque::with_capacity(window + 1);
    let (mut sum, mut sum_sq, mut acc) = (0.0, 0.0, 0.0);
    for (_, v) in data {
        let n = ring.len() as f64;
        if n >= 2.0 {
            let mean = sum / n;
            let sd = (sum_sq / n - mean * mean).max(0.0).sqrt();
            let z = if sd > 0.0 { (v - mean).abs() / sd } else { 0.0 };
            acc += black_box(z / (z + 4.0));
        }
        ring.push_back(*v);
        sum += v;
        sum_sq += v * v;
        if ring.len() > window
            && let Some(old) = ring.pop_front()
        {
            sum -= old;
            sum_sq -= old * old;
        }
    }
    acc
}

fn csv_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for p in paths {
        if p.is_dir() {
            csv_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "csv") {
            out.push(p);
        }
    }
}

/// Scores the NAB corpus with the default detector and with the rolling z-score; prints both.
fn nab_corpus() {
    let dir = std::env::var("PFI_NAB_DATA").map_or_else(
        |_| {
            ["../shared/bench/nab/data", "../../shared/bench/nab/data"]
                .iter()
                .map(PathBuf::from)
                .find(|p| p.is_dir())
                .unwrap_or_default()
        },
        PathBuf::from,
    );
    let mut files = Vec::new();
    csv_files(&dir, &mut files);
    let corpus: Vec<Vec<(f64, f64)>> = files
        .iter()
        .filter_map(|f| Series::read(f).ok())
        .map(|s| s.rows.iter().map(|r| (r.timestamp, r.value)).collect())
        .collect();
    if corpus.is_empty() {
        println!(
            "\nNAB corpus: no CSV files under {} (set PFI_NAB_DATA)",
            dir.display()
        );
        return;
    }
    let samples: usize = corpus.iter().map(Vec::len).sum();
    let start = Instant::now();
    let mut sink = 0.0;
    for data in &corpus {
        let warmup = probation(data.len()) as f64;
        let Ok(mut d) = build(DEFAULT_DETECTOR, &[("warmup".to_string(), warmup)]) else {
            return;
        };
        sink += data.iter().map(|(t, v)| d.update(*t, *v)).sum::<f64>();
    }
    let default_time = start.elapsed();
    let start = Instant::now();
    for data in &corpus {
        sink += rolling_z(data, 288);
    }
    let baseline_time = start.elapsed();
    black_box(sink);
    println!(
        "\nNAB corpus ({} files, {samples} samples, parsing excluded):\n  {:<24} {:>9.3} s\n  {:<24} {:>9.3} s",
        corpus.len(),
        format!("{DEFAULT_DETECTOR} (default)"),
        default_time.as_secs_f64(),
        "rolling z (288)",
        baseline_time.as_secs_f64()
    );
}

fn main() {
    let data = series(1_000_000);
    let budget = Duration::from_secs(2);
    let baseline = rate(&data, budget, running_mean);
    let z_rate = rate(&data, budget, |d| rolling_z(d, 288));
    println!("{:<18} {:>14} {:>10}", "detector", "samples/s", "vs mean");
    println!("{:<18} {:>14.0} {:>10}", "running mean", baseline, "1.00x");
    println!(
        "{:<18} {:>14.0} {:>9.3}x",
        "rolling z (288)",
        z_rate,
        z_rate / baseline
    );
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
    nab_corpus();
}
