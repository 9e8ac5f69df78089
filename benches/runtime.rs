//! Costs of the run engine's hot paths, each printed next to a baseline measured in the same
//! run: recording into the metrics store vs pushing to a plain Vec; a probe summary vs sorting
//! the same latencies; a ledger append (fsync) vs a raw write + fsync of the same bytes.

use pfi::faults::RevertAction;
use pfi::monitor::{MetricsStore, Observation, Selection};
use pfi::run::ledger::Ledger;
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

const OBSERVATIONS: u64 = 60_000;
const APPENDS: u32 = 200;

fn observation(i: u64) -> Observation {
    Observation {
        at: Duration::from_millis(i * 100),
        latency: Duration::from_micros(500 + (i * 7919) % 20_000),
        success: i % 50 != 0,
        detail: "200 OK".to_string(),
    }
}

fn per_op(elapsed: Duration, ops: u64) -> f64 {
    elapsed.as_secs_f64() * 1e9 / ops as f64
}

fn report(name: &str, unit: &str, value: f64, baseline_name: &str, baseline: f64) {
    println!(
        "{name:<34} {value:>12.0} {unit}   baseline {baseline_name:<26} {baseline:>12.0} {unit}   ratio {:.2}",
        value / baseline
    );
}

/// The binaries' allocator (see `src/main.rs`), so the benchmark measures what they run.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    // Recording observations.
    let store = MetricsStore::new();
    let started = Instant::now();
    for i in 0..OBSERVATIONS {
        if i == OBSERVATIONS / 2 {
            store.fault_started("pause-api");
        }
        store.record_observation("checkout", observation(i));
    }
    let record = per_op(started.elapsed(), OBSERVATIONS);
    let started = Instant::now();
    let mut plain = Vec::new();
    for i in 0..OBSERVATIONS {
        plain.push(observation(i));
    }
    black_box(&plain);
    let push = per_op(started.elapsed(), OBSERVATIONS);
    report("record_observation", "ns/op", record, "Vec::push", push);

    // Summaries over everything recorded.
    let rounds = 20;
    let started = Instant::now();
    for _ in 0..rounds {
        black_box(store.probe_summary("checkout", &Selection::all()));
        black_box(store.probe_summary("checkout", &Selection::all().under("pause-api")));
    }
    let summary = per_op(started.elapsed(), rounds * 2);
    let started = Instant::now();
    for _ in 0..rounds * 2 {
        let mut latencies: Vec<f64> = plain.iter().map(|o| o.latency.as_secs_f64()).collect();
        latencies.sort_by(f64::total_cmp);
        black_box(latencies);
    }
    let sort = per_op(started.elapsed(), rounds * 2);
    report(
        "probe_summary (60k samples)",
        "ns/op",
        summary,
        "collect + sort",
        sort,
    );

    // Ledger appends, each synced to disk.
    let dir = match tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")) {
        Ok(dir) => dir,
        Err(err) => {
            eprintln!("cannot create a temporary folder: {err}");
            return;
        }
    };
    let ledger = match Ledger::create(dir.path(), "bench") {
        Ok(ledger) => ledger,
        Err(err) => {
            eprintln!("{err}");
            return;
        }
    };
    let revert = RevertAction::Resume {
        pid: 4242,
        start_time: 123_456,
        pgid: 4242,
    };
    let started = Instant::now();
    for i in 0..APPENDS {
        if let Err(err) = ledger.applying(&format!("f{i}"), "pause", "api", &revert) {
            eprintln!("{err}");
            return;
        }
    }
    let append = per_op(started.elapsed(), u64::from(APPENDS)) / 1000.0;
    let line =
        serde_json::json!({"event": "applying", "id": "f0", "fault": "pause", "target": "api",
        "revert": {"action": "resume", "pid": 4242, "start_time": 123456, "pgid": 4242}, "at": 0})
        .to_string()
            + "\n";
    let raw_path = dir.path().join("raw.jsonl");
    let mut raw = match std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&raw_path)
    {
        Ok(file) => file,
        Err(err) => {
            eprintln!("cannot open {}: {err}", raw_path.display());
            return;
        }
    };
    let started = Instant::now();
    for _ in 0..APPENDS {
        if let Err(err) = raw
            .write_all(line.as_bytes())
            .and_then(|()| raw.sync_data())
        {
            eprintln!("{err}");
            return;
        }
    }
    let write = per_op(started.elapsed(), u64::from(APPENDS)) / 1000.0;
    report(
        "ledger append (fsync)",
        "µs/op",
        append,
        "write_all + sync_data",
        write,
    );
}
