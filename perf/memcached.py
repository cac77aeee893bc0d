#!/usr/bin/env python3
"""memcached 1.6 (the Debian package) and shardis's memcached port side by side, alternating.

    python3 perf/memcached.py [--rounds 5] [--requests 200000] [--connects 20000] > perf/last-memcached.md
    python3 perf/memcached.py --scenarios long-lived --baseline /tmp/shardis-old   # A/B two binaries

Scenarios, each run against memcached then shardis, round after round:
  long-lived   CONNECTIONS connections kept open, each doing set/get request-response (no pipelining)
  connect      connect, one set or get, close; spread over 127.0.0.1-127.0.0.8 (the ephemeral-port
               ceiling of one address pair is ~15k connections/s, see PERF-METHOD.md section 3)

Both servers get one core (taskset core 0, memcached -t 1, shardis --threads 1) and the load
generator another (core 1). The figure that matters is the server's CPU time per request: the time
its threads ran, from /proc/<pid>/task/*/schedstat (nanoseconds, user and kernel; utime+stime in
/proc/<pid>/stat counts 10 ms ticks, steps of 0.7% on a 300,000-request run) before and after each
run. Throughput is reported too, but this generator (Python, one process) sets the pace on
non-pipelined load. The servers take turns within a round, in reverse order every other round.
Reports medians over rounds, the ratio of the median CPU per request (memcached/shardis: above 1,
shardis is cheaper), and the median of the rounds' own ratios (each round's servers ran minutes
apart at most, so this pairs them under the same load from the machine's other tenants). Every
reply is checked. With --baseline, a second shardis binary runs in each round too (its own columns
and ratios), so a change is judged against memcached and the binary before it in the same run.
Standard library only; needs memcached, taskset and target/release/shardis.
"""

import argparse
import os
import selectors
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
TICKS = os.sysconf("SC_CLK_TCK")
VALUE = b"x" * 32
ADDRESSES = [f"127.0.0.{i}" for i in range(1, 9)]


def progress(text):
    print(text, file=sys.stderr, flush=True)


def cpu_seconds(pid):
    """The time every thread of `pid` has run (user and kernel), in seconds."""
    total, seen = 0, False
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{task}/schedstat") as stat:
                total += int(stat.read().split()[0])
                seen = True
        except (FileNotFoundError, ProcessLookupError):
            pass  # a thread that just ended
    if seen:
        return total / 1e9
    return stat_seconds(pid)


def stat_seconds(pid):
    """utime + stime of every thread of `pid`, in seconds (in clock ticks)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def wait_port(port, proc):
    for _ in range(200):
        if proc.poll() is not None:
            sys.exit(f"server exited during start-up: {proc.args}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    sys.exit(f"port {port} never opened")


def start(name, args):
    binary, port = (args.baseline if name == "baseline" else args.shardis), args.port
    if name == "memcached":
        command = ["memcached", "-p", str(port), "-U", "0", "-t", "1", "-l", "0.0.0.0",
                   "-c", "4096", "-m", "1024"]
        if os.getuid() == 0:
            command += ["-u", "root"]
    else:
        data = tempfile.mkdtemp(prefix="shardis-perf-")
        command = [binary, "--threads", "1", "--port", "0", "--bind", "0.0.0.0",
                   "--memcached-port", str(port), "--dir", data, "--maxclients", "4096",
                   "--loglevel", "warning", "--admin-port", "0"]
        if name == "shardis" and args.shardis_args:
            command += args.shardis_args.split()
        if not args.persistence:
            # memcached keeps nothing on disk: compare like with like unless asked.
            command += ["--appendonly", "no", "--save", ""]
    proc = subprocess.Popen(["taskset", "-c", "0"] + command,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_port(port, proc)
    return proc


def read_reply(sock, buf, want_value):
    """Reads one reply; returns (ok, rest of buffer)."""
    while True:
        if want_value:
            end = buf.find(b"END\r\n")
            if end >= 0:
                return buf.startswith(b"VALUE ") or end == 0, buf[end + 5:]
        else:
            end = buf.find(b"\r\n")
            if end >= 0:
                return buf[:end] == b"STORED", buf[end + 2:]
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("server closed")
        buf += chunk


def long_lived(port, connections, requests, keys):
    """`connections` sockets, each alternating set and get; returns requests served."""
    selector = selectors.DefaultSelector()
    per_connection = requests // connections
    states = []
    for i in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setblocking(False)
        state = {"sock": sock, "left": per_connection, "buf": b"", "n": i, "get": False}
        states.append(state)
        selector.register(sock, selectors.EVENT_READ, state)

    def send(state):
        key = b"key:%d" % ((state["n"] * 7919 + state["left"]) % keys)
        state["get"] = state["left"] % 2 == 0
        if state["get"]:
            state["sock"].send(b"get " + key + b"\r\n")
        else:
            state["sock"].send(b"set " + key + b" 0 0 %d\r\n" % len(VALUE) + VALUE + b"\r\n")

    for state in states:
        send(state)
    active, served, errors = connections, 0, 0
    while active:
        for key, _ in selector.select():
            state = key.data
            state["buf"] += state["sock"].recv(65536)
            want_value = state["get"]
            marker = b"END\r\n" if want_value else b"\r\n"
            if marker not in state["buf"]:
                continue
            end = state["buf"].find(marker)
            reply = state["buf"][:end]
            state["buf"] = state["buf"][end + len(marker):]
            ok = (reply == b"" or reply.startswith(b"VALUE ")) if want_value else reply == b"STORED"
            errors += not ok
            served += 1
            state["left"] -= 1
            if state["left"] > 0:
                send(state)
            else:
                selector.unregister(state["sock"])
                state["sock"].close()
                active -= 1
    if errors:
        sys.exit(f"{errors} bad replies on the long-lived run")
    return served


def connect_per_request(port, requests, keys):
    served = 0
    for i in range(requests):
        sock = socket.create_connection((ADDRESSES[i % len(ADDRESSES)], port))
        key = b"key:%d" % (i % keys)
        if i % 2:
            sock.sendall(b"get " + key + b"\r\n")
            ok, _ = read_reply(sock, b"", True)
        else:
            sock.sendall(b"set " + key + b" 0 0 %d\r\n" % len(VALUE) + VALUE + b"\r\n")
            ok, _ = read_reply(sock, b"", False)
        sock.close()
        if not ok:
            sys.exit("bad reply on the connect-per-request run")
        served += 1
    return served


def measure(name, scenario, args):
    proc = start(name, args)
    try:
        os.sched_setaffinity(0, {1})
        cpu_before, t_before = cpu_seconds(proc.pid), time.perf_counter()
        if scenario == "long-lived":
            served = long_lived(args.port, args.connections, args.requests, args.keys)
        else:
            served = connect_per_request(args.port, args.connects, args.keys)
        elapsed = time.perf_counter() - t_before
        cpu = cpu_seconds(proc.pid) - cpu_before
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    return {"rps": served / elapsed, "cpu_us": cpu * 1e6 / served}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200000, help="per long-lived run")
    parser.add_argument("--connects", type=int, default=20000, help="per connect-per-request run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--keys", type=int, default=100000)
    parser.add_argument("--port", type=int, default=16411)
    parser.add_argument("--persistence", action="store_true",
                        help="run shardis with its default binlog (memcached has none)")
    parser.add_argument("--shardis", default=os.path.join(REPO, "target/release/shardis"))
    parser.add_argument("--baseline", help="another shardis binary to run in every round")
    parser.add_argument("--scenarios", default="long-lived,connect")
    parser.add_argument("--shardis-args", default="",
                        help="extra options for the shardis under test (not the baseline)")
    args = parser.parse_args()
    names = ["memcached", "shardis"] + (["baseline"] if args.baseline else [])
    for tool in ("memcached", "taskset"):
        if not shutil.which(tool):
            sys.exit(f"{tool} not found")
    if not os.access(args.shardis, os.X_OK):
        sys.exit(f"{args.shardis} not found: cargo build --release")
    version = subprocess.run(["memcached", "-V"], capture_output=True, text=True).stdout.strip()
    print("# memcached vs shardis (memcached port)\n")
    print(f"`{' '.join(sys.argv)}` on {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
          f"nproc {os.cpu_count()}, {version}, servers on core 0, generator on core 1.\n")
    extra = (" baseline req/s | baseline us CPU/req | CPU ratio memcached/baseline | "
             "median of rounds' ratios, baseline |") if args.baseline else ""
    print("| scenario | memcached req/s | shardis req/s | memcached us CPU/req | "
          "shardis us CPU/req | CPU ratio memcached/shardis | median of rounds' ratios |" + extra)
    print("|---|---|---|---|---|---|---|" + ("---|---|---|---|" if args.baseline else ""))
    for scenario in args.scenarios.split(","):
        results = {name: [] for name in names}
        for round_ in range(args.rounds):
            for name in (names if round_ % 2 == 0 else names[::-1]):
                result = measure(name, scenario, args)
                results[name].append(result)
                progress(f"{scenario} round {round_ + 1} {name}: {result['rps']:.0f} req/s, "
                         f"{result['cpu_us']:.3f} us CPU/req")
        med = {name: {field: statistics.median(r[field] for r in runs)
                      for field in ("rps", "cpu_us")} for name, runs in results.items()}
        ratio = med["memcached"]["cpu_us"] / med["shardis"]["cpu_us"]

        def paired(name):
            return statistics.median(m["cpu_us"] / r["cpu_us"]
                                     for m, r in zip(results["memcached"], results[name]))

        row = (f"| {scenario} | {med['memcached']['rps']:.0f} | {med['shardis']['rps']:.0f} | "
               f"{med['memcached']['cpu_us']:.3f} | {med['shardis']['cpu_us']:.3f} | {ratio:.3f} | "
               f"{paired('shardis'):.3f} |")
        if args.baseline:
            base = med["baseline"]
            row += (f" {base['rps']:.0f} | {base['cpu_us']:.3f} | "
                    f"{med['memcached']['cpu_us'] / base['cpu_us']:.3f} | {paired('baseline'):.3f} |")
        print(row, flush=True)


if __name__ == "__main__":
    main()
