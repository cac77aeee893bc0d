#!/usr/bin/env python3
"""Memory per idle connection (issue 7): redis-server 7 and shardis each hold N idle clients.

    perf/idle_connections.py [--connections 20000] [--threads 1] > perf/last-idle.md

For each server in turn: start it fresh (bound to 0.0.0.0, maxclients 30000, no persistence),
read VmRSS, open N connections spread over 127.0.0.1-127.0.0.8, send PING on each and read its
PONG (so every client is fully set up on the server's side), wait until INFO clients counts them
all, read VmRSS again, check every connection still answers, close them, stop the server.
Reports RSS growth per connection. Stdlib only; progress on stderr, markdown on stdout.

The process's soft open-file limit is raised to the hard limit (servers started from here inherit
it); when even the hard limit is below what N connections need, N is lowered and the report
says so.
"""

import argparse
import datetime
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
HOSTS = [f"127.0.0.{i}" for i in range(1, 9)]
PING = b"*1\r\n$4\r\nPING\r\n"
# Descriptors the server needs besides its clients (listeners, logs, epoll, io_uring, ...).
SPARE_FDS = 200


def progress(text):
    print(text, file=sys.stderr, flush=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError(f"no VmRSS for {pid}")


def command(port, *args, timeout=5.0):
    """One RESP command on a fresh connection; the raw reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a.encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        s.sendall(out)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
            if data.startswith(b"$"):
                head, _, body = data.partition(b"\r\n")
                if len(body) >= int(head[1:]) + 2:
                    return data
            elif data.endswith(b"\r\n"):
                return data


def connected_clients(port):
    reply = command(port, "INFO", "clients").decode()
    for line in reply.splitlines():
        if line.startswith("connected_clients:"):
            return int(line.split(":")[1])
    raise RuntimeError(f"no connected_clients in {reply!r}")


def read_pong(s):
    got = b""
    while len(got) < 7:
        chunk = s.recv(7 - len(got))
        if not chunk:
            raise RuntimeError("server closed an idle connection")
        got += chunk
    if got != b"+PONG\r\n":
        raise RuntimeError(f"PING replied {got!r}")


def measure(label, cmd, port, n, pin):
    if pin:
        cmd = ["taskset", "-c", "0"] + cmd
    log = tempfile.TemporaryFile()
    server = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    conns = []
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if command(port, "PING", timeout=1) == b"+PONG\r\n":
                    break
            except OSError:
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                sys.stderr.write(log.read().decode(errors="replace"))
                raise RuntimeError(f"{label} did not start: {' '.join(cmd)}")
            time.sleep(0.05)
        progress(f"started {label} (pid {server.pid}): {' '.join(cmd)}")
        before = rss_kib(server.pid)
        started = time.monotonic()
        batch = 500
        for first in range(0, n, batch):
            fresh = []
            for i in range(first, min(first + batch, n)):
                s = socket.create_connection((HOSTS[i % len(HOSTS)], port), timeout=10)
                s.sendall(PING)
                fresh.append(s)
            for s in fresh:
                read_pong(s)
            conns.extend(fresh)
        opened = time.monotonic() - started
        # Closed connections or a probe client may still be counted for a moment: wait for the
        # server's own count to settle at N (+1 for the probe that asks).
        deadline = time.monotonic() + 20
        while connected_clients(port) != n + 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{label}: connected_clients is {connected_clients(port)}, want {n + 1}")
            time.sleep(0.05)
        after = rss_kib(server.pid)
        for s in conns:  # all still held, and answering
            s.sendall(PING)
        for s in conns:
            read_pong(s)
        after_ping = rss_kib(server.pid)
        progress(f"  {label}: {n} connections in {opened:.1f} s; RSS {before} -> {after} KiB "
                 f"({(after - before) * 1024 / n:.0f} B/conn), {after_ping} KiB after a second PING each")
        return before, after, after_ping, opened
    finally:
        for s in conns:
            s.close()
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=20000)
    parser.add_argument("--threads", type=int, default=1, help="shardis --threads")
    parser.add_argument("--no-pin", action="store_true", help="no taskset -c 0 for the servers")
    parser.add_argument("--shardis-bin", default=os.path.join(REPO, "target/release/shardis"))
    parser.add_argument("--redis-bin", default="/usr/bin/redis-server")
    parser.add_argument("--port-redis", type=int, default=16379)
    parser.add_argument("--port-shardis", type=int, default=16380)
    args = parser.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    n = args.connections
    note = ""
    if hard != resource.RLIM_INFINITY and hard < n + SPARE_FDS:
        n = hard - SPARE_FDS
        note = (f"the hard open-file limit here is {hard}, so {n} connections were opened "
                f"instead of {args.connections}")
        progress("note: " + note)
    maxclients = "30000"
    workdir = tempfile.mkdtemp(prefix="shardis-idle.")
    try:
        redis = [args.redis_bin, "--port", str(args.port_redis), "--bind", "0.0.0.0",
                 "--save", "", "--appendonly", "no", "--daemonize", "no",
                 "--maxclients", maxclients, "--dir", workdir]
        shardis = [args.shardis_bin, "--port", str(args.port_shardis), "--bind", "0.0.0.0",
                   "--threads", str(args.threads), "--cpu-affinity", "no",
                   "--appendonly", "no", "--save", "", "--memcached-port", "0",
                   "--admin-port", "0", "--maxclients", maxclients, "--dir", workdir,
                   "--loglevel", "warning"]
        pin = not args.no_pin
        results = [("redis", measure("redis", redis, args.port_redis, n, pin)),
                   ("shardis", measure("shardis", shardis, args.port_shardis, n, pin))]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    print("# Idle connections: memory per connection\n")
    print(f"Command: `{' '.join(['perf/idle_connections.py'] + sys.argv[1:])}`\n")
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M UTC}; "
          f"nproc {os.cpu_count()}, kernel {os.uname().release}")
    print(f"- {n} connections over {HOSTS[0]}-{HOSTS[-1]}, each sent one PING; servers "
          f"{'pinned to core 0' if pin else 'unpinned'}, shardis --threads {args.threads}, "
          f"maxclients {maxclients}")
    if note:
        print(f"- **{note}**")
    print()
    print("| server | RSS before (KiB) | RSS with the connections (KiB) | bytes per connection "
          "| after a 2nd PING each (KiB) | time to open them (s) |")
    print("|---|---|---|---|---|---|")
    per = {}
    for label, (before, after, after_ping, opened) in results:
        per[label] = (after - before) * 1024 / n
        print(f"| {label} | {before} | {after} | {per[label]:.0f} | {after_ping} | {opened:.1f} |")
    print()
    ratio = per["redis"] / per["shardis"] if per["shardis"] > 0 else float("inf")
    print(f"redis/shardis bytes per connection: **{ratio:.2f}** (above 1: shardis uses less). "
          "RSS growth is VmRSS from /proc/PID/status.")


if __name__ == "__main__":
    main()
