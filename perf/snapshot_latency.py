#!/usr/bin/env python3
"""GET p99 while a snapshot runs, against the same server without one (issue 3), redis-server 7
and shardis alternating.

    python3 perf/snapshot_latency.py [--rounds 3] [--keys 1000000] > perf/last-snapshot-latency.md

One p99 per run of 200k GETs (perf/persistence.sh) mixes the snapshot's seconds with the time
after it and moves by 2x between runs on this machine, so this takes many short samples instead:
each server (pinned to core 0, shardis `--threads 1`, no append-only log) is loaded with --keys
keys (SET, 100-byte values), then `redis-benchmark -t get -c 50 -n --sample` runs back to back on
core 1, each giving one p99: --baseline samples with no snapshot, then BGSAVE and samples until
INFO says it is over. Only samples that ended while the snapshot was still running count as
"during". The report gives each server's median p99 without and during, and their ratio (target:
under 2x). Redis's fork child runs on core 0 too (it inherits the pinning), as shardis's
snapshot steps run on its shard. Standard library only.
"""

import argparse
import csv
import io
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARDIS = os.environ.get("SHARDIS_BIN", os.path.join(HERE, "..", "target", "release", "shardis"))
REDIS = os.environ.get("REDIS_BIN", "/usr/bin/redis-server")
PORT = int(os.environ.get("PORT", 16388))


def cli(*args):
    done = subprocess.run(["redis-cli", "-p", str(PORT), *args], capture_output=True, text=True)
    return done.stdout.strip()


def info_field(section, name):
    for line in cli("INFO", section).splitlines():
        if line.startswith(name + ":"):
            return line.split(":", 1)[1].strip()
    return None


def start(kind, data):
    if kind == "redis":
        command = [REDIS, "--port", str(PORT), "--save", "", "--appendonly", "no", "--dir", data]
    else:
        command = [SHARDIS, "--port", str(PORT), "--threads", "1", "--appendonly", "no", "--save", "",
                   "--dir", data, "--memcached-port", "0", "--admin-port", "0", "--loglevel", "warning"]
    proc = subprocess.Popen(["taskset", "-c", "0", *command], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    for _ in range(500):
        if cli("PING") == "PONG":
            return proc
        time.sleep(0.02)
    proc.kill()
    sys.exit(f"{kind} did not start on port {PORT}")


def stop(proc):
    cli("SHUTDOWN", "NOSAVE")
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def benchmark(args):
    done = subprocess.run(["taskset", "-c", "1", "redis-benchmark", "-p", str(PORT), "-q", "--csv", *args],
                          capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"redis-benchmark failed: {done.stderr[-300:]}")
    return list(csv.DictReader(io.StringIO(done.stdout)))


def get_p99(keys, requests):
    rows = benchmark(["-t", "get", "-c", "50", "-n", str(requests), "-r", str(keys)])
    return float(rows[0]["p99_latency_ms"])


def measure(kind, keys, baseline, sample):
    data = tempfile.mkdtemp(prefix=f"snapshot-latency-{kind}-")
    proc = start(kind, data)
    try:
        benchmark(["-t", "set", "-c", "50", "-P", "64", "-n", str(keys), "-r", str(keys), "-d", "100"])
        before = [get_p99(keys, sample) for _ in range(baseline)]
        if "Background saving started" not in cli("BGSAVE"):
            sys.exit(f"{kind}: BGSAVE refused")
        began = time.monotonic()
        during = []
        while True:
            p99 = get_p99(keys, sample)
            if info_field("persistence", "rdb_bgsave_in_progress") != "1":
                break
            during.append(p99)
        # The sample that saw the end is not counted; wait for the end if it came later.
        while info_field("persistence", "rdb_bgsave_in_progress") == "1":
            time.sleep(0.01)
        seconds = time.monotonic() - began
        return before, during, seconds
    finally:
        stop(proc)
        shutil.rmtree(data, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--keys", type=int, default=1_000_000)
    parser.add_argument("--baseline", type=int, default=8, help="samples without a snapshot")
    parser.add_argument("--sample", type=int, default=10_000, help="GETs per p99 sample")
    options = parser.parse_args()
    if cli("PING") == "PONG":
        sys.exit(f"port {PORT} already answers; set PORT")
    results = {"redis": ([], [], []), "shardis": ([], [], [])}
    rows = []
    for round_ in range(1, options.rounds + 1):
        for kind in ("redis", "shardis"):
            before, during, seconds = measure(kind, options.keys, options.baseline, options.sample)
            results[kind][0].extend(before)
            results[kind][1].extend(during)
            results[kind][2].append(seconds)
            line = (f"{kind} round {round_}: p99 without {statistics.median(before):.3f} ms, during "
                    f"{statistics.median(during) if during else float('nan'):.3f} ms "
                    f"({len(during)} samples, snapshot {seconds:.2f} s)")
            print("  " + line, file=sys.stderr)
            rows.append((kind, round_, before, during, seconds))
    print("# GET p99 during a snapshot: redis-server 7 vs shardis\n")
    print(f"started {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; `python3 perf/snapshot_latency.py "
          f"--rounds {options.rounds} --keys {options.keys} --baseline {options.baseline} --sample {options.sample}`; "
          "servers pinned to core 0, redis-benchmark (50 clients, GET) on core 1\n")
    print("| server | p99 without, median ms | p99 during, median ms | samples during | during/without | snapshot s (median) | target < 2x |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for kind, (before, during, seconds) in results.items():
        if not during:
            print(f"| {kind} | {statistics.median(before):.3f} | - | 0 | - | {statistics.median(seconds):.2f} | no sample ended during the snapshot |")
            continue
        ratio = statistics.median(during) / statistics.median(before)
        print(f"| {kind} | {statistics.median(before):.3f} | {statistics.median(during):.3f} | {len(during)} | "
              f"{ratio:.2f} | {statistics.median(seconds):.2f} | {'met' if ratio < 2 else '**missed**'} |")
    print("\nPer round (p99 samples in ms):\n")
    for kind, round_, before, during, seconds in rows:
        print(f"- {kind} {round_}: without {' '.join(f'{x:.2f}' for x in before)}; during "
              f"{' '.join(f'{x:.2f}' for x in during)} ({seconds:.2f} s)")


if __name__ == "__main__":
    main()
