#!/usr/bin/env python3
"""Data types side by side: redis-server 7 and shardis, memory and CPU per request.

    python3 perf/types.py [--rounds 3] > perf/last-types.md

Memory (the data-types issue's datasets), each loaded with `redis-cli --pipe` into a freshly started
server; the figure is VmRSS growth divided by the elements loaded (PERF-METHOD.md section 5):
  100k hashes of 10 fields, 100k sets of 20 integers, 100k sorted sets of 20 members,
  one list of 1M items, one sorted set of 1M members; and, beyond the issue's list, one hash of
  500k fields and one set of 500k members (the hashtable encodings).
CPU per request (server pinned to core 0, redis-benchmark to core 1, 50 clients, alternating
redis/shardis for --rounds rounds, medians): HSET, LPUSH, SADD, ZADD (redis-benchmark -t, random
keys) and `ZREVRANGE lb 0 99 WITHSCORES` on a 1M-member sorted set. utime+stime of the server
from /proc/<pid>/stat over the run, divided by the requests.
Both servers without persistence (shardis: --appendonly no --save ''). Ports 16379/16380, or
$REDIS_PORT/$SHARDIS_PORT.
"""

import argparse
import os
import statistics
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARDIS = os.environ.get("SHARDIS_BIN", os.path.join(HERE, "..", "target", "release", "shardis"))
REDIS = os.environ.get("REDIS_BIN", "/usr/bin/redis-server")
PORTS = {"redis": int(os.environ.get("REDIS_PORT", 16379)), "shardis": int(os.environ.get("SHARDIS_PORT", 16380))}
CLK_TCK = os.sysconf("SC_CLK_TCK")


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def datasets():
    """(name, elements, RESP bytes) for each memory dataset."""
    hashes = b"".join(
        resp("HSET", f"h:{i}", *[x for j in range(10) for x in (f"f{j}", f"v{j}")])
        for i in range(100_000)
    )
    sets = b"".join(
        resp("SADD", f"s:{i}", *[str(i * 20 + j) for j in range(20)]) for i in range(100_000)
    )
    zsets = b"".join(
        resp("ZADD", f"z:{i}", *[x for j in range(20) for x in (str(j), f"m{j}")])
        for i in range(100_000)
    )
    items = [f"item:{n}" for n in range(1_000_000)]
    lst = b"".join(resp("RPUSH", "biglist", *items[k : k + 1000]) for k in range(0, len(items), 1000))
    leaderboard = leaderboard_load()
    strings = b"".join(resp("SET", f"k:{i}", "v") for i in range(100_000))
    # One big hash and one big set (hashtable encoding), 1,000 elements per command.
    big_hash = b"".join(
        resp("HSET", "bighash", *[x for n in range(k, k + 1000) for x in (f"field:{n}", f"v{n}")])
        for k in range(0, 500_000, 1000)
    )
    big_set = b"".join(
        resp("SADD", "bigset", *[f"member:{n}" for n in range(k, k + 1000)])
        for k in range(0, 500_000, 1000)
    )
    return [
        ("100k strings (per-key cost)", 100_000, strings),
        ("100k hashes x 10 fields", 1_000_000, hashes),
        ("100k sets x 20 integers", 2_000_000, sets),
        ("100k sorted sets x 20 members", 2_000_000, zsets),
        ("1 list x 1M items", 1_000_000, lst),
        ("1 sorted set x 1M members", 1_000_000, leaderboard),
        ("1 hash x 500k fields", 500_000, big_hash),
        ("1 set x 500k members", 500_000, big_set),
    ]


def leaderboard_load():
    return b"".join(
        resp("ZADD", "lb", *[x for n in range(k, k + 1000) for x in (str((n * 7919) % 1_000_003), f"player:{n}")])
        for k in range(0, 1_000_000, 1000)
    )


def start(kind, pin):
    port = PORTS[kind]
    if subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True).stdout.strip() == b"PONG":
        sys.exit(f"port {port} is already in use: set REDIS_PORT/SHARDIS_PORT")
    data = tempfile.mkdtemp(prefix=f"shardis-types-{kind}-")
    if kind == "redis":
        cmd = [REDIS, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", data]
    else:
        cmd = [SHARDIS, "--port", str(port), "--threads", "1", "--appendonly", "no", "--save", "",
               "--memcached-port", "0", "--cpu-affinity", "no", "--dir", data]
    if pin:
        cmd = ["taskset", "-c", "0"] + cmd
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proc.data_dir = data
    for _ in range(200):
        if subprocess.run(["redis-cli", "-p", str(port), "PING"], capture_output=True).stdout.strip() == b"PONG":
            return proc
        time.sleep(0.05)
    proc.kill()
    sys.exit(f"{kind} did not start")


def stop(proc):
    proc.terminate()
    proc.wait()
    shutil.rmtree(proc.data_dir, ignore_errors=True)


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def load(port, payload):
    done = subprocess.run(["redis-cli", "-p", str(port), "--pipe"], input=payload, capture_output=True)
    if b"errors: 0" not in done.stdout:
        sys.exit(f"load into port {port} failed: {done.stdout[-300:]!r}")


def memory(rounds, only=None):
    rows = []
    for name, elements, payload in datasets():
        if only and only not in name:
            continue
        per = {"redis": [], "shardis": []}
        for _ in range(rounds):
            for kind in ("redis", "shardis"):
                proc = start(kind, pin=False)
                before = rss_kb(proc.pid)
                load(PORTS[kind], payload)
                time.sleep(1)
                per[kind].append((rss_kb(proc.pid) - before) * 1024 / elements)
                stop(proc)
        r, s = statistics.median(per["redis"]), statistics.median(per["shardis"])
        rows.append((name, r, s))
        print(f"  memory {name}: redis {r:.1f} B/element, shardis {s:.1f}", file=sys.stderr)
    return rows


def bench(port, args, n):
    cmd = ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-c", "50", "-n", str(n), "-q", "--csv"] + args
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or "error" in done.stderr.lower():
        sys.exit(f"redis-benchmark failed: {done.stderr[-300:]}")
    rps = [float(line.split(",")[1].strip('"')) for line in done.stdout.splitlines()[1:] if line]
    return rps


def cpu(rounds, n):
    tests = [("HSET", ["-t", "hset", "-r", "1000000"]), ("LPUSH", ["-t", "lpush", "-r", "1000000"]),
             ("SADD", ["-t", "sadd", "-r", "1000000"]), ("ZADD", ["-t", "zadd", "-r", "1000000"]),
             ("ZREVRANGE lb 0 99 WITHSCORES", ["ZREVRANGE", "lb", "0", "99", "WITHSCORES"])]
    results = {name: {"redis": [], "shardis": [], "rps_redis": [], "rps_shardis": []} for name, _ in tests}
    board = leaderboard_load()
    for _ in range(rounds):
        for kind in ("redis", "shardis"):
            proc = start(kind, pin=True)
            load(PORTS[kind], board)
            for name, args in tests:
                requests = n if name != "ZREVRANGE lb 0 99 WITHSCORES" else n // 5
                t0 = cpu_ticks(proc.pid)
                rps = bench(PORTS[kind], args, requests)
                t1 = cpu_ticks(proc.pid)
                us = (t1 - t0) / CLK_TCK * 1e6 / requests
                results[name][kind].append(us)
                results[name]["rps_" + kind].append(rps[0] if rps else 0)
                print(f"  cpu {name} {kind}: {us:.2f} us/req, {rps[0] if rps else 0:,.0f}/s", file=sys.stderr)
            stop(proc)
    return [(name, statistics.median(r["redis"]), statistics.median(r["shardis"]),
             statistics.median(r["rps_redis"]), statistics.median(r["rps_shardis"]))
            for name, r in results.items()]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--memory-rounds", type=int, default=1)
    parser.add_argument("--requests", type=int, default=100_000)
    parser.add_argument("--memory-only", action="store_true", help="skip the CPU benchmarks")
    parser.add_argument("--only", help="memory datasets whose name contains this text")
    options = parser.parse_args()
    started = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())
    mem = memory(options.memory_rounds, options.only)
    cpus = [] if options.memory_only else cpu(options.rounds, options.requests)
    flags = " ".join(sys.argv[1:])
    print(f"# Data types: redis-server 7 vs shardis\n\nstarted {started}; `python3 perf/types.py {flags}`"
          f" (shardis with one shard, --threads 1)\n")
    print("## Memory (VmRSS growth after loading, per element)\n")
    print("| dataset | redis B/element | shardis B/element | shardis/redis | target ≤ 1.0 |")
    print("|---|---:|---:|---:|---|")
    for name, r, s in mem:
        print(f"| {name} | {r:.1f} | {s:.1f} | {s / r:.2f} | {'met' if s <= r else '**missed**'} |")
    if not cpus:
        return
    print("\n## CPU per request, pinned (server core 0, redis-benchmark core 1), medians\n")
    print("| command | redis rps | shardis rps | redis µs CPU/req | shardis µs CPU/req | redis/shardis | target ≥ 1.0 |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name, r, s, rr, sr in cpus:
        ratio = r / s if s else float("inf")
        print(f"| {name} | {rr:,.0f} | {sr:,.0f} | {r:.2f} | {s:.2f} | {ratio:.2f} | {'met' if ratio >= 1.0 else '**missed**'} |")


if __name__ == "__main__":
    main()
