#!/usr/bin/env python3
"""The verdict spread: the same scenario run N times against a real third-party server, each
run's risk verdict, failure interval and degradation printed, then the spread.

  python3 docs/tools/verdicts.py [--pfi target/debug/pfi] [--runs 10] [--delay 40ms]
                                 [--server python|nginx] [--pause]

The scenario: the server (`python3 -m http.server`, or `nginx` with a config of its own)
behind a TCP link, a probe through the link every 100 ms, and a `latency` fault of `--delay`
on the link for 10 s after a 3 s warm-up. `--pause` instead freezes the server (`pause`, 3 s)
and reports how many checks fell under the pause and the availability measured there (the
open-loop probe's figure for the notes). The machine's load average is printed with each
run: the point is that the verdicts agree whatever the load.
"""

import argparse
import collections
import json
import os
import socket
import subprocess
import sys
import tempfile
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def nginx_resource(port, workdir):
    conf = os.path.join(workdir, "nginx.conf")
    root = os.path.join(workdir, "www")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "index.html"), "w") as f:
        f.write("<h1>pfi verdicts</h1>\n")
    with open(conf, "w") as f:
        f.write(
            f"""daemon off;
master_process off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log;
events {{ worker_connections 256; }}
http {{
  access_log off;
  client_body_temp_path {workdir}/body;
  proxy_temp_path {workdir}/proxy;
  fastcgi_temp_path {workdir}/fastcgi;
  uwsgi_temp_path {workdir}/uwsgi;
  scgi_temp_path {workdir}/scgi;
  server {{ listen 127.0.0.1:{port}; root {root}; }}
}}
"""
        )
    return f'["/usr/sbin/nginx", "-c", "{conf}", "-p", "{workdir}"]'


def scenario(server, port, link, delay, pause, workdir):
    if server == "nginx":
        command = nginx_resource(port, workdir)
    else:
        command = f'["python3", "-m", "http.server", "{port}", "--bind", "127.0.0.1", "--directory", "{workdir}"]'
    if pause:
        fault = """fault freeze: pause on web {
  at 0s
  lasting 3s
}"""
        probe_at = port
    else:
        fault = f"""fault slow: latency on edge {{
  delay {delay}
  at 0s
  lasting 10s
}}"""
        probe_at = link
    # Latency incidents on `web` every month or so: a probability of about 60% within the
    # 30-day horizon, so that the verdict turns on the measured failure.
    with open(os.path.join(workdir, "incidents.csv"), "w") as f:
        f.write("timestamp,resource,resource_type,fault_kind,duration,root_cause,severity\n")
        for month in range(1, 7):
            f.write(f"2026-{month:02}-10T12:00:00Z,web,web,latency,60s,slow upstream,minor\n")
    return f"""experiment "verdicts" {{
  duration 18s
  seed 7
  baseline 3s
  history "incidents.csv"
}}

resource web: process {command} {{
  ready tcp 127.0.0.1:{port} within 10s
  criticality high
}}

link edge: tcp 127.0.0.1:{link} -> web:{port}

{fault}

probe home: http get "http://127.0.0.1:{probe_at}/" every 100ms timeout 1s
"""


def run_once(pfi, server, delay, pause):
    with tempfile.TemporaryDirectory(prefix="pfi-verdicts-") as workdir:
        port, link = free_port(), free_port()
        path = os.path.join(workdir, "verdicts.pfi")
        with open(path, "w") as f:
            f.write(scenario(server, port, link, delay, pause, workdir))
        journal = os.path.join(workdir, "journal.json")
        before = load()
        started = time.monotonic()
        out = subprocess.run(
            [pfi, "run", path, "--state-dir", os.path.join(workdir, "state"), "--journal", journal],
            capture_output=True,
            text=True,
        )
        wall = time.monotonic() - started
        if not os.path.exists(journal):
            sys.exit(f"pfi exited {out.returncode} without a journal:\n{out.stdout}\n{out.stderr}")
        with open(journal) as f:
            record = json.load(f)
        return record, out.returncode, before, wall


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--pfi", default="target/debug/pfi")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--delay", default="40ms")
    parser.add_argument("--server", choices=["python", "nginx"], default="python")
    parser.add_argument("--pause", action="store_true")
    args = parser.parse_args()
    what = "a 3 s pause" if args.pause else f"a {args.delay} latency"
    print(f"{args.runs} runs of {what} on {args.server} (probe every 100 ms)")
    verdicts = collections.Counter()
    for i in range(args.runs):
        record, code, before, wall = run_once(args.pfi, args.server, args.delay, args.pause)
        fault = "freeze" if args.pause else "slow"
        probe = next(p for p in record["probes"] if p["probe"] == "home")
        under = dict(probe.get("under", [])).get(fault)
        base = probe.get("baseline")
        if args.pause:
            # Checks attributed (by their scheduled time) to the pause, and their availability.
            n = under["count"] if under else 0
            avail = (1 - under["error_rate"]) * 100 if under else float("nan")
            key = f"{n} checks, availability {avail:.0f}%"
            verdicts[key] += 1
            print(
                f"  run {i + 1}: exit {code}, {key} under the pause; baseline p50 "
                f"{base['p50_ms']:.1f} ms; load {before}; {wall:.0f} s"
            )
            continue
        scenario = next(s for s in record["risk"]["scenarios"] if s["fault"] == fault)
        verdict = scenario["verdict"]
        verdicts[verdict.split(":")[0]] += 1
        print(
            f"  run {i + 1}: exit {code}, {verdict}; failure {scenario['failure']:.2f} "
            f"[{scenario['failure_low']:.2f}, {scenario['failure_high']:.2f}], risk "
            f"{scenario['risk'] * 100:.2f}% (tolerance {scenario['tolerance'] * 100:.1f}%); "
            f"p50 {base['p50_ms']:.1f} → {under['p50_ms']:.1f} ms, p99 {base['p99_ms']:.1f} → "
            f"{under['p99_ms']:.1f} ms, {under['count']} checks under; load {before}"
        )
    print("spread: " + ", ".join(f"{v} × {n}" for v, n in verdicts.most_common()))


if __name__ == "__main__":
    main()
