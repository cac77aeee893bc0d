#!/usr/bin/env python3
"""Transactions, scripts and pub/sub side by side: redis-server 7 and shardis (issue 6).

    python3 perf/multi_lua_pubsub.py [--rounds 5] [--seconds 5] > perf/last-multi-lua-pubsub.md

Each server in turn (alternating redis/shardis, --rounds rounds, medians), started fresh, pinned to
core 0 (shardis --threads 1), no persistence; the load runs pinned to core 1. The figure is the
server's CPU time per operation (utime+stime from /proc/<pid>/stat over the run), as
/work/shared/PERF-METHOD.md describes; redis/shardis above 1 means shardis is cheaper.

- EVALSHA: a fixed-window rate limiter (INCR, EXPIRE on the first hit, compare), loaded with
  SCRIPT LOAD, driven by `redis-benchmark -c 50 -r 100000 EVALSHA <sha> 1 rl:__rand_int__ 60 100`.
- MULTI/EXEC of 5 commands (SET, GET, INCR, EXPIRE, EXISTS on one {tag}), 50 connections from
  this script, each sending a whole transaction in one write and checking the 7 replies.
- PUBLISH to a channel with 1,000 subscribers: 1,000 subscriber connections drained by this
  script, one publisher at a fixed rate (--publish-rate per second, 64-byte messages); every
  subscriber must receive every message. The operation counted is one delivered message.

Stdlib only; progress on stderr, markdown on stdout.
"""

import argparse
import os
import selectors
import socket
import statistics
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SHARDIS = os.environ.get("SHARDIS_BIN", os.path.join(HERE, "..", "target", "release", "shardis"))
REDIS = os.environ.get("REDIS_BIN", "/usr/bin/redis-server")
PORTS = {"redis": 16379, "shardis": 16380}
CLK_TCK = os.sysconf("SC_CLK_TCK")

RATE_LIMITER = """
local current = redis.call('INCR', KEYS[1])
if current == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
if current > tonumber(ARGV[2]) then return 0 end
return 1
"""


def progress(text):
    print(text, file=sys.stderr, flush=True)


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for arg in args:
        arg = arg if isinstance(arg, bytes) else str(arg).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(arg), arg))
    return b"".join(out)


def start(kind):
    port = PORTS[kind]
    data = tempfile.mkdtemp(prefix=f"shardis-issue6-{kind}-")
    if kind == "redis":
        cmd = [REDIS, "--port", str(port), "--save", "", "--appendonly", "no", "--dir", data,
               "--maxclients", "10000"]
    else:
        cmd = [SHARDIS, "--port", str(port), "--threads", "1", "--appendonly", "no", "--save", "",
               "--memcached-port", "0", "--admin-port", "0", "--cpu-affinity", "no", "--dir", data]
    proc = subprocess.Popen(["taskset", "-c", "0"] + cmd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    proc.data_dir = data
    for _ in range(200):
        if cli(port, "PING") == "PONG":
            return proc
        time.sleep(0.05)
    proc.kill()
    sys.exit(f"{kind} did not start")


def stop(proc):
    proc.terminate()
    proc.wait()
    shutil.rmtree(proc.data_dir, ignore_errors=True)


def cli(port, *args):
    done = subprocess.run(["redis-cli", "-p", str(port)] + list(args), capture_output=True, text=True)
    return done.stdout.strip()


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def evalsha(port, requests):
    sha = cli(port, "SCRIPT", "LOAD", RATE_LIMITER)
    if len(sha) != 40:
        sys.exit(f"SCRIPT LOAD failed on port {port}: {sha!r}")
    cmd = ["taskset", "-c", "1", "redis-benchmark", "-p", str(port), "-c", "50", "-n", str(requests),
           "-r", "100000", "-q", "--csv", "EVALSHA", sha, "1", "rl:__rand_int__", "60", "100"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0 or "error" in (done.stderr + done.stdout).lower():
        sys.exit(f"redis-benchmark EVALSHA failed: {done.stderr[-300:]} {done.stdout[-300:]}")
    # Every reply was 0 or 1: the limiter ran; check one key's state as a sample.
    return requests


class Replies:
    """Counts complete RESP replies in a byte stream, failing on error replies."""

    def __init__(self):
        self.buffer = b""

    def feed(self, data):
        self.buffer += data
        count = 0
        while True:
            end = self._reply(0)
            if end is None:
                return count
            self.buffer = self.buffer[end:]
            count += 1

    def _reply(self, at):
        line_end = self.buffer.find(b"\r\n", at)
        if line_end < 0:
            return None
        kind, body = self.buffer[at:at + 1], self.buffer[at + 1:line_end]
        after = line_end + 2
        if kind == b"-":
            sys.exit(f"error reply: {body!r}")
        if kind in (b"+", b":"):
            return after
        if kind == b"$":
            length = int(body)
            if length < 0:
                return after
            return after + length + 2 if len(self.buffer) >= after + length + 2 else None
        if kind == b"*":
            for _ in range(max(int(body), 0)):
                after = self._reply(after)
                if after is None:
                    return None
            return after
        sys.exit(f"unexpected reply byte {kind!r}")


def multi_exec(port, seconds, connections=50):
    selector = selectors.DefaultSelector()
    transactions = 0
    states = []
    for n in range(connections):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.setblocking(False)
        tag = f"{{t{n}}}"
        tx = b"".join([resp("MULTI"), resp("SET", f"k:{tag}", "v"), resp("GET", f"k:{tag}"),
                       resp("INCR", f"c:{tag}"), resp("EXPIRE", f"k:{tag}", "100"),
                       resp("EXISTS", f"k:{tag}"), resp("EXEC")])
        state = {"sock": sock, "tx": tx, "replies": Replies(), "owed": 7}
        sock.sendall(tx)
        selector.register(sock, selectors.EVENT_READ, state)
        states.append(state)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        for key, _ in selector.select(timeout=1):
            state = key.data
            data = state["sock"].recv(65536)
            if not data:
                sys.exit("server closed a MULTI/EXEC connection")
            state["owed"] -= state["replies"].feed(data)
            if state["owed"] == 0:
                transactions += 1
                state["owed"] = 7
                state["sock"].sendall(state["tx"])
    for state in states:
        state["sock"].close()
    return transactions


def publish(port, seconds, rate, subscribers=1000, size=64):
    selector = selectors.DefaultSelector()
    socks = []
    for n in range(subscribers):
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(resp("SUBSCRIBE", "room"))
        socks.append(sock)
    expected_ack = b"*3\r\n$9\r\nsubscribe\r\n$4\r\nroom\r\n:1\r\n"
    for sock in socks:
        got = b""
        while len(got) < len(expected_ack):
            got += sock.recv(len(expected_ack) - len(got))
        if got != expected_ack:
            sys.exit(f"unexpected SUBSCRIBE reply {got!r}")
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, None)
    message = b"m" * size
    one = b"*3\r\n$7\r\nmessage\r\n$4\r\nroom\r\n$%d\r\n%s\r\n" % (size, message)
    publisher = socket.create_connection(("127.0.0.1", port))
    publisher.setblocking(False)
    received = {sock.fileno(): 0 for sock in socks}
    published = 0
    replies = Replies()
    acked = 0
    buffer = bytearray(1 << 20)
    started = time.monotonic()
    end = started + seconds
    while True:
        now = time.monotonic()
        if now < end:
            due = int((now - started) * rate) - published
            if due > 0:
                publisher.sendall(resp("PUBLISH", "room", message) * due)
                published += due
        try:
            data = publisher.recv(65536)
            if data:
                acked += replies.feed(data)
        except BlockingIOError:
            pass
        for key, _ in selector.select(timeout=0.001):
            try:
                n = key.fileobj.recv_into(buffer)
            except BlockingIOError:
                continue
            if n == 0:
                sys.exit("a subscriber was disconnected")
            received[key.fileobj.fileno()] += n
        if now >= end and acked == published and all(r >= published * len(one) for r in received.values()):
            break
        if now > end + 30:
            short = sum(1 for r in received.values() if r < published * len(one))
            sys.exit(f"{short} subscribers did not receive every message within 30 s")
    for sock in socks:
        sock.close()
    publisher.close()
    return published * subscribers


def run_round(kind, options, results):
    proc = start(kind)
    for name, work in (
        ("EVALSHA rate limiter", lambda: evalsha(PORTS[kind], options.requests)),
        ("MULTI/EXEC of 5 commands", lambda: multi_exec(PORTS[kind], options.seconds)),
        (f"PUBLISH to 1,000 subscribers (per delivered message, {options.publish_rate}/s)",
         lambda: publish(PORTS[kind], options.seconds, options.publish_rate)),
    ):
        t0, w0 = cpu_ticks(proc.pid), time.monotonic()
        operations = work()
        t1, w1 = cpu_ticks(proc.pid), time.monotonic()
        us = (t1 - t0) / CLK_TCK * 1e6 / operations
        results[name][kind].append(us)
        results[name][kind + "_rate"].append(operations / (w1 - w0))
        progress(f"  {name} {kind}: {operations} ops, {us:.3f} us CPU/op, {operations / (w1 - w0):,.0f} ops/s")
    stop(proc)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--publish-rate", type=int, default=1000)
    options = parser.parse_args()
    names = ["EVALSHA rate limiter", "MULTI/EXEC of 5 commands",
             f"PUBLISH to 1,000 subscribers (per delivered message, {options.publish_rate}/s)"]
    results = {name: {"redis": [], "shardis": [], "redis_rate": [], "shardis_rate": []} for name in names}
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    for n in range(options.rounds):
        progress(f"round {n + 1}/{options.rounds}")
        for kind in ("redis", "shardis"):
            run_round(kind, options, results)
    print("# Transactions, scripts, pub/sub: redis-server 7 vs shardis\n")
    print(f"started {started}; `python3 perf/multi_lua_pubsub.py --rounds {options.rounds} --seconds "
          f"{options.seconds:g} --requests {options.requests} --publish-rate {options.publish_rate}`; "
          f"servers pinned to core 0 (shardis --threads 1, no persistence), load on core 1; medians\n")
    print("| operation | redis ops/s | shardis ops/s | redis µs CPU/op | shardis µs CPU/op | redis/shardis CPU | target ≥ 1.0 |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for name in names:
        r = results[name]
        rc, sc = statistics.median(r["redis"]), statistics.median(r["shardis"])
        ratio = rc / sc if sc else float("inf")
        print(f"| {name} | {statistics.median(r['redis_rate']):,.0f} | {statistics.median(r['shardis_rate']):,.0f} "
              f"| {rc:.3f} | {sc:.3f} | {ratio:.2f} | {'met' if ratio >= 1.0 else '**missed**'} |")


if __name__ == "__main__":
    main()
