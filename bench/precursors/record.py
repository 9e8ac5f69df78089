#!/usr/bin/env python3
"""Records the early-warning corpus in bench/precursors/recorded/ from real `pfi run`s.

Each recording is one `pfi run` of a scenario below (real processes: pfi-demo's api and
backend, pfi's proxy links, cgroups for cpu_limit): the series is one metric from the run's
journal (a telemetry series, or a probe's p99 over its last 2 s of checks every 250 ms, as
the run computes it), and the labels come from the run's ledger (.pfi/runs/<id>/ledger.jsonl):

  onset  when the cause began: the ledger's `applying` entry of the first fault (for the demo's
         leak, which is the API's own code path and not a pfi fault: the ledger's
         `process_started` of the API plus its `--leak-after`);
  fault  when it failed: the first sample at or over the limit (the scenario's threshold) at or
         after the onset, or the ledger's `process_stopped` of the API if that comes first
         (the leaking API dies at its memory limit).

Healthy runs (the same scenarios with no fault and no leak) have neither: any alarm on them is
a false alarm. Times are seconds on the run's clock (the journal's; the ledger's unix
milliseconds are put on it with the ledger's `run_started`, and the offset is checked against
the journal's fault times). The predictions the runs made are kept too (confidence, and
whether they came true), to measure the run's prediction confidence.

Usage (from the repository root, after `cargo build`):
    python3 bench/precursors/record.py [--bin target/debug] [--out bench/precursors/recorded]
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

HEADER = 'import "std/patterns"\n\n'

LEAK = """experiment "recorded: memory leak" {{
  duration 30s
  seed {seed}
  baseline 6s
}}
resource backend: process ["pfi-demo", "backend", "--port", "17431"] {{
  ready tcp 127.0.0.1:17431 within 10s
}}
resource api: process ["pfi-demo", "api", "--port", "17432", "--backend", "127.0.0.1:17431"{leak}] {{
  ready http "http://127.0.0.1:17432/health" within 10s
  type api
  may_exit
}}
api depends_on backend
probe checkout: http get "http://127.0.0.1:17432/checkout" every 200ms timeout 1s
predict {{
  watch api.memory, api.cpu
  use memory_leak
  confidence >= 0.7
  every 250ms
}}
threshold api.memory < 90MiB
"""

CPU = """experiment "recorded: cpu starvation" {{
  duration 30s
  seed {seed}
  baseline 6s
}}
resource backend: process ["pfi-demo", "backend", "--port", "17441"] {{
  ready tcp 127.0.0.1:17441 within 10s
}}
resource api: process ["pfi-demo", "api", "--port", "17442", "--backend", "127.0.0.1:17441", "--cpu-work", "10ms"] {{
  ready http "http://127.0.0.1:17442/health" within 10s
  env RUST_LOG = "warn"
}}
api depends_on backend
{fault}
probe checkout: http get "http://127.0.0.1:17442/checkout" every 100ms timeout 3s
predict {{
  watch api.cpu, checkout.p99
  use cpu_starvation
  confidence >= 0.6
  every 250ms
}}
threshold checkout.p99 < 1s
"""
CPU_FAULT = """fault starve: cpu_limit on api {{
  cores {cores}
  at 10s
  lasting 18s
}}"""

CONNECTIONS = """experiment "recorded: connection exhaustion" {{
  duration 30s
  seed {seed}
  baseline 6s
}}
resource backend: process ["pfi-demo", "backend", "--port", "17451"] {{
  ready tcp 127.0.0.1:17451 within 10s
}}
resource api: process ["pfi-demo", "api", "--port", "17452", "--backend", "127.0.0.1:17551"] {{
  ready http "http://127.0.0.1:17452/health" within 10s
}}
link api_backend: tcp 127.0.0.1:17551 -> backend:17451
api depends_on backend via api_backend
{fault}
probe checkout: http get "http://127.0.0.1:17452/checkout" every {every}ms timeout 2s
predict {{
  watch api_backend.connections
  use connection_exhaustion
  confidence >= 0.6
  every 250ms
}}
threshold api_backend.connections < 150
"""
CONNECTIONS_FAULT = """fault linger: slow_close on api_backend {{
  delay 60s
  at 10s
  lasting 18s
}}"""

LATENCY = """experiment "recorded: latency through a link" {{
  duration 30s
  seed {seed}
  baseline 6s
}}
resource backend: process ["pfi-demo", "backend", "--port", "17461"] {{
  ready tcp 127.0.0.1:17461 within 10s
}}
resource api: process ["pfi-demo", "api", "--port", "17462", "--backend", "127.0.0.1:17561"] {{
  ready http "http://127.0.0.1:17462/health" within 10s
}}
link api_backend: tcp 127.0.0.1:17561 -> backend:17461
api depends_on backend via api_backend
{fault}
probe checkout: http get "http://127.0.0.1:17462/checkout" every 100ms timeout 3s
predict {{
  watch checkout.p99
  use dependency_degradation
  confidence >= 0.6
  every 250ms
}}
threshold checkout.p99 < 400ms
"""
# The latency creeps: three toxics, each adding its delay, 4 s apart.
LATENCY_FAULT = """fault slow1: latency on api_backend {{
  delay {d}ms
  at 10s
  lasting 18s
  direction downstream
}}
fault slow2: latency on api_backend {{
  delay {d}ms
  at 14s
  lasting 14s
  direction downstream
}}
fault slow3: latency on api_backend {{
  delay {d}ms
  at 18s
  lasting 10s
  direction downstream
}}"""

# (name, shape, scenario, metric, limit, leak_after_s or None)
MIB = 1024 * 1024


def recordings():
    out = []
    for i, rate in enumerate(["3MiB/s", "4MiB/s", "6MiB/s"]):
        leak = f', "--leak-rate", "{rate}", "--leak-after", "10s", "--memory-limit", "64MiB", "--exit-at-limit"'
        out.append((f"leak-{i + 1}", "leak", LEAK.format(seed=i + 1, leak=leak), "api.memory", 90 * MIB, 10.0))
    out.append(("healthy-leak", "healthy", LEAK.format(seed=9, leak=""), "api.memory", 90 * MIB, None))
    for i, cores in enumerate(["0.08", "0.06", "0.05"]):
        scen = CPU.format(seed=i + 1, fault=CPU_FAULT.format(cores=cores))
        out.append((f"cpu-{i + 1}", "cpu_starvation", scen, "checkout.p99", 1000.0, None))
    out.append(("healthy-cpu", "healthy", CPU.format(seed=9, fault=""), "checkout.p99", 1000.0, None))
    for i, every in enumerate([50, 70, 100]):
        scen = CONNECTIONS.format(seed=i + 1, every=every, fault=CONNECTIONS_FAULT.format())
        out.append((f"connections-{i + 1}", "connection_exhaustion", scen, "api_backend.connections", 150.0, None))
    out.append(("healthy-connections", "healthy", CONNECTIONS.format(seed=9, every=50, fault=""), "api_backend.connections", 150.0, None))
    for i, d in enumerate([120, 150, 200]):
        scen = LATENCY.format(seed=i + 1, fault=LATENCY_FAULT.format(d=d))
        out.append((f"latency-{i + 1}", "link_latency", scen, "checkout.p99", 400.0, None))
    out.append(("healthy-latency", "healthy", LATENCY.format(seed=9, fault=""), "checkout.p99", 400.0, None))
    return out


def probe_p99(checks, end_ms):
    """The p99 of each probe's checks sent in the last 2 s, every 250 ms (nearest rank)."""
    points = []
    t = 250.0
    while t <= end_ms:
        window = sorted(c["latency_ms"] for c in checks if t - 2000.0 < c["at_ms"] <= t)
        if len(window) >= 3:
            rank = max(1, -(-99 * len(window) // 100))
            points.append((t, window[rank - 1]))
        t += 250.0
    return points


def series_of(journal, metric):
    source, name = metric.split(".", 1)
    for s in journal.get("telemetry", []):
        if s["series"] == metric:
            return [(p[0], p[1]) for p in s["points"]]
    for p in journal.get("probes", []):
        if p["probe"] == source and name == "p99":
            return probe_p99(p["checks"], journal["duration_ms"] + journal.get("warmup_ms", 0))
    names = [s["series"] for s in journal.get("telemetry", [])]
    raise SystemExit(f"no series {metric} in the journal (it has {names})")


def record(pfi, name, shape, scenario, metric, limit, leak_after, work):
    path = os.path.join(work, f"{name}.pfi")
    with open(path, "w") as f:
        f.write(HEADER + scenario)
    journal_path = os.path.join(work, f"{name}.json")
    state = os.path.join(work, "state")
    cmd = [pfi, "run", path, "--journal", journal_path, "--state-dir", state]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode not in (0, 1):
        sys.stderr.write(run.stdout + run.stderr)
        raise SystemExit(f"{name}: pfi run exited {run.returncode}")
    with open(journal_path) as f:
        journal = json.load(f)
    with open(journal["ledger"]) as f:
        ledger = [json.loads(line) for line in f if line.strip()]
    zero = next(e["at"] for e in ledger if e["event"] == "run_started")
    on_clock = lambda at: (at - zero) / 1000.0
    applying = [e for e in ledger if e["event"] == "applying"]
    # Check the ledger's clock against the journal's fault times.
    for f in journal.get("faults", []):
        if f.get("applied_ms") is None:
            continue
        entry = next((e for e in applying if e["fault"] == f["fault"]), None)
        if entry is not None and abs(on_clock(entry["at"]) - f["applied_ms"] / 1000.0) > 0.5:
            raise SystemExit(f"{name}: ledger and journal clocks differ for {f['fault']}")
    points = series_of(journal, metric)
    samples = [(round(t / 1000.0, 3), v) for t, v in points if v is not None]
    onset = fault = None
    if shape == "leak":
        started = next(e for e in ledger if e["event"] == "process_started" and e["resource"] == "api")
        onset = on_clock(started["at"]) + leak_after
        stopped = [e for e in ledger if e["event"] == "process_stopped" and e["resource"] == "api"]
        died = on_clock(stopped[0]["at"]) if stopped and "signal" not in stopped[0]["exit"] else None
    elif applying:
        onset = on_clock(applying[0]["at"])
        died = None
    if onset is not None:
        over = [t for t, v in samples if t >= onset and v >= limit]
        ends = [x for x in [over[0] if over else None, died] if x is not None]
        fault = min(ends) if ends else None
        if fault is None:
            print(f"  {name}: the limit was not reached: labelled as not failing", file=sys.stderr)
            onset = None
        else:
            onset = round(min(onset, fault), 3)
            fault = round(fault, 3)
    if samples and fault is not None:
        # Keep the run up to a few seconds after the fault (what happens later is not judged).
        samples = [(t, v) for t, v in samples if t <= fault + 3.0]
    predictions = [
        {
            "series": name,
            "at": round(p["at_ms"] / 1000.0, 3),
            "kind": p["kind"],
            "confidence": p["confidence"],
            # By the corpus' label: the run failed after the prediction (the run's own verdict
            # knows only faults of the predicted kind, and none of these is one).
            "came_true": fault is not None and fault >= p["at_ms"] / 1000.0,
        }
        for p in journal.get("predictions", [])
    ]
    label = {
        "file": f"{name}.csv",
        "shape": shape,
        "limit": limit,
        "onset": onset,
        "fault": fault,
        "source": f"{journal['experiment']}, seed {journal['seed']}, run {journal['run_id']}, {metric}",
    }
    return label, samples, predictions


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", default="target/debug")
    parser.add_argument("--out", default="bench/precursors/recorded")
    parser.add_argument("--only", default=None, help="record only names containing this")
    args = parser.parse_args()
    bin_dir = os.path.abspath(args.bin)
    pfi = os.path.join(bin_dir, "pfi")
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ["PATH"]
    os.makedirs(args.out, exist_ok=True)
    previous = None
    if args.only and os.path.exists(os.path.join(args.out, "labels.json")):
        with open(os.path.join(args.out, "labels.json")) as f:
            previous = json.load(f)
    labels = {
        "format": "pfi-precursors",
        "version": 1,
        "warmup_secs": 5.0,
        "quiet_secs": 5.0,
        "horizon_secs": 10.0,
        "baseline_window_secs": 10.0,
        # What a run gives its forecasts (src/predict/live.rs: FORECAST_TAU_SECS, min_samples).
        "detector_params": {"forecast": {"tau": 10.0, "min_samples": 6.0}},
        "series": [],
        "predictions": [],
    }
    work = tempfile.mkdtemp(prefix="pfi-record-")
    try:
        for name, shape, scenario, metric, limit, leak_after in recordings():
            if args.only and args.only not in name:
                continue
            print(f"recording {name} ...", file=sys.stderr)
            label, samples, predictions = record(pfi, name, shape, scenario, metric, limit, leak_after, work)
            with open(os.path.join(args.out, label["file"]), "w") as f:
                f.write("timestamp,value\n")
                for t, v in samples:
                    f.write(f"{t},{v}\n")
            labels["series"].append(label)
            labels["predictions"].extend(predictions)
            print(f"  {len(samples)} samples, onset {label['onset']}, fault {label['fault']}, "
                  f"{len(predictions)} prediction(s)", file=sys.stderr)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if previous is not None:
        # Re-recorded some: keep the others, in the order of `recordings()`.
        fresh = {s["file"]: s for s in labels["series"]}
        kept = [s for s in previous["series"] if s["file"] not in fresh]
        order = [f"{r[0]}.csv" for r in recordings()]
        labels["series"] = sorted(kept + list(fresh.values()), key=lambda s: order.index(s["file"]))
        stems = {f[:-4] for f in fresh}
        kept = [p for p in previous["predictions"] if p["series"] not in stems]
        labels["predictions"] = kept + labels["predictions"]
    with open(os.path.join(args.out, "labels.json"), "w") as f:
        json.dump(labels, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
