#!/usr/bin/env python3
"""User-space instructions per operation of a server, counted by valgrind's callgrind (issue 6).

    python3 perf/callgrind_per_op.py evalsha|multi|memcache|memcache-connect|idle [--server redis|memcached|PATH] [--amount N] [--keep FILE] [--cache-sim]

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
  after 5,000 requests (N = --amount, default 20,000); shardis or `--server memcached` (the
  Debian package, `-t 1`: its counts include its listener and background threads);
- memcache-connect: perf/memcached.py's connect-per-request (connect, set or get, close, one
  connection at a time) on the memcached port, after 1,000 (N = --amount, default 5,000);
- idle: nothing for --amount seconds: the background cost per second, to judge the others by.
--cache-sim adds callgrind's simulated caches (the host's first level, a 2 MiB last level as one
core's L2; valgrind's model, not the hardware's): data misses per operation at each level, where
instruction counts miss what a change to data layout did.
Stdlib only; prints one line.
"""

import argparse
import glob
import importlib.util
import os
import shutil
import socket
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
# The simulated last level: one core's 2 MiB L2 (this machine's L3 is 480 MiB, shared by every
# tenant of the host, so misses to it are what a request pays for and a simulation of it shows none).
LAST_LEVEL = 2 * 1024 * 1024


def server_command(server, data):
    if server == "memcached":
        command = ["memcached", "-p", str(MC_PORT), "-U", "0", "-t", "1", "-l", "0.0.0.0", "-m", "1024"]
        return command + (["-u", "root"] if os.getuid() == 0 else [])
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
    parser.add_argument("--cache-sim", action="store_true", help="also count simulated data cache misses")
    options = parser.parse_args()
    if options.server == "memcached" and not options.workload.startswith("memcache"):
        raise SystemExit("memcached runs the memcache workloads only")
    data = tempfile.mkdtemp(prefix="shardis-callgrind-")
    out = os.path.join(data, "callgrind.out")
    proc = subprocess.Popen(["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p"]
                            + (["--cache-sim=yes", f"--LL={LAST_LEVEL},16,64"] if options.cache_sim else [])
                            + server_command(options.server, data),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            preexec_fn=descriptor_limit if options.server == "memcached" else None)
    try:
        for _ in range(600):
            if options.server == "memcached" and memcached_ready():
                break
            if options.server != "memcached" and side.cli(PORT, "PING") == "PONG":
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
        instructions, counts = 0, {}
        for _ in range(100):
            for dump in glob.glob(out + ".*"):
                with open(dump) as f:
                    events = []
                    for line in f:
                        if line.startswith("events:"):
                            events = line.split()[1:]
                        if line.startswith(("summary:", "totals:")) and int(line.split()[1]) > instructions:
                            instructions = int(line.split()[1])
                            counts = dict(zip(events, map(int, line.split()[1:])))
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
    if options.cache_sim:
        d1 = counts.get("D1mr", 0) + counts.get("D1mw", 0)
        ll = counts.get("DLmr", 0) + counts.get("DLmw", 0)
        print(f"  simulated data misses per operation: first level {d1 / operations:,.1f}, "
              f"last level {ll / operations:,.1f}")


def descriptor_limit():
    """memcached raises its descriptor limit to its 1024 connections; valgrind refuses any change
    of the hard limit, so the soft one must already be 1024."""
    import resource
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (1024, hard))


def memcached_ready():
    try:
        with socket.create_connection(("127.0.0.1", MC_PORT), timeout=1) as sock:
            sock.sendall(b"version\r\n")
            return sock.recv(100).startswith(b"VERSION")
    except OSError:
        return False


if __name__ == "__main__":
    main()
