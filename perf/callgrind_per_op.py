#!/usr/bin/env python3
"""User-space instructions per operation of a server, counted by valgrind's callgrind (issue 6).

    python3 perf/callgrind_per_op.py evalsha|multi|memcache|memcache-connect|idle [--server redis|PATH] [--amount N] [--keep FILE]

CPU time on the shared 2-core machine moves by ±20% from run to run (PERF-METHOD.md §1), and for
these workloads more than half of it is the kernel's socket work, the same syscalls per request
for both servers. The instructions a server executes in user space per request are
deterministic to about 1%, so they show what a change to the request path did. They are not
CPU time: cache misses and the kernel's share are not in them.

The server runs under callgrind (unpinned, slow); the counters are zeroed after a warm-up and
dumped after the measured load:
- evalsha: `redis-benchmark -c 50 -n N` EVALSHA of perf/multi_lua_pubsub.py's rate limiter,
  after 3,000 of them (N = --amount, default 20,000);
- multi: perf/multi_lua_pubsub.py's MULTI/EXEC of 5 commands on 50 connections for --amount
  seconds (default 10), after 3 s;
- memcache: perf/memcached.py's long-lived set/get mix (50 connections) on the memcached port,
  after 5,000 requests (N = --amount, default 20,000); shardis only (issue 4);
- memcache-connect: perf/memcached.py's connect-per-request (connect, set or get, close, one
  connection at a time) on the memcached port, after 1,000 (N = --amount, default 5,000);
- idle: nothing for --amount seconds: the background cost per second, to judge the others by.
Stdlib only; prints one line.
"""

import argparse
import glob
import importlib.util
import os
import shutil
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = importlib.util.spec_from_file_location("side_by_side", os.path.join(HERE, "multi_lua_pubsub.py"))
side = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(side)
MC_SPEC = importlib.util.spec_from_file_location("memcached_perf", os.path.join(HERE, "memcached.py"))
mc = importlib.util.module_from_spec(MC_SPEC)
MC_SPEC.loader.exec_module(mc)
PORT = 16396
MC_PORT = 16397


def server_command(server, data):
    if server == "redis":
        return [side.REDIS, "--port", str(PORT), "--save", "", "--appendonly", "no", "--dir", data]
    return [server, "--port", str(PORT), "--bind", "0.0.0.0", "--threads", "1", "--appendonly", "no", "--save", "",
            "--memcached-port", str(MC_PORT), "--admin-port", "0", "--cpu-affinity", "no", "--dir", data]


def evalsha(requests):
    sha = side.cli(PORT, "SCRIPT", "LOAD", side.RATE_LIMITER)
    if len(sha) != 40:
        raise SystemExit(f"SCRIPT LOAD failed: {sha!r}")
    done = subprocess.run(["redis-benchmark", "-p", str(PORT), "-c", "50", "-n", str(requests),
                           "-r", "100000", "-q", "--csv", "EVALSHA", sha, "1", "rl:__rand_int__",
                           "60", "100"], capture_output=True, text=True)
    if done.returncode != 0 or "error" in (done.stdout + done.stderr).lower():
        raise SystemExit(f"redis-benchmark failed: {done.stdout[-300:]} {done.stderr[-300:]}")
    return requests


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("workload", choices=["evalsha", "multi", "memcache", "memcache-connect", "idle"])
    parser.add_argument("--server", default=side.SHARDIS)
    parser.add_argument("--amount", type=float)
    parser.add_argument("--keep", metavar="FILE", help="copy the callgrind dump here, for callgrind_annotate")
    options = parser.parse_args()
    data = tempfile.mkdtemp(prefix="shardis-callgrind-")
    out = os.path.join(data, "callgrind.out")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p"]
                            + server_command(options.server, data),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(600):
            if side.cli(PORT, "PING") == "PONG":
                break
            time.sleep(0.1)
        else:
            raise SystemExit("the server did not start under valgrind")
        if options.workload == "evalsha":
            evalsha(3000)
        elif options.workload == "multi":
            side.multi_exec(PORT, 3)
        elif options.workload.startswith("memcache"):
            if options.server == "redis":
                raise SystemExit("the memcache workloads run against shardis only")
            if options.workload == "memcache":
                mc.long_lived(MC_PORT, 50, 5000, 100_000)
            else:
                mc.connect_per_request(MC_PORT, 1000, 100_000)
        subprocess.run(["callgrind_control", "-z", str(proc.pid)], capture_output=True, check=True)
        for stale in glob.glob(out + ".*"):
            os.remove(stale)
        started = time.monotonic()
        if options.workload == "evalsha":
            operations = evalsha(int(options.amount or 20_000))
        elif options.workload == "multi":
            operations = side.multi_exec(PORT, options.amount or 10)
        elif options.workload == "memcache":
            operations = mc.long_lived(MC_PORT, 50, int(options.amount or 20_000), 100_000)
        elif options.workload == "memcache-connect":
            operations = mc.connect_per_request(MC_PORT, int(options.amount or 5_000), 100_000)
        else:
            time.sleep(options.amount or 10)
            operations = 1
        seconds = time.monotonic() - started
        subprocess.run(["callgrind_control", "-d", str(proc.pid)], capture_output=True, check=True)
        instructions = 0
        for _ in range(100):
            for dump in glob.glob(out + ".*"):
                with open(dump) as f:
                    for line in f:
                        if line.startswith(("summary:", "totals:")) and int(line.split()[1]) > instructions:
                            instructions = int(line.split()[1])
                            if options.keep:
                                shutil.copy(dump, options.keep)
            if instructions:
                break
            time.sleep(0.1)
    finally:
        proc.terminate()
        proc.wait()
        shutil.rmtree(data, ignore_errors=True)
    name = "redis" if options.server == "redis" else os.path.basename(options.server)
    print(f"{options.workload} {name}: {operations} operations in {seconds:.1f} s, "
          f"{instructions:,} instructions, {instructions / operations:,.0f} per operation, "
          f"{instructions / seconds:,.0f} per second")


if __name__ == "__main__":
    main()
