#!/usr/bin/env bash
# Starts the release shardis and checks that redis-cli and redis-benchmark work against it.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-16399}
DATA=$(mktemp -d)
LOG="$DATA/shardis.log"
target/release/shardis --port "$PORT" --admin-port 0 --dir "$DATA" >"$LOG" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

fail() { echo "FAIL: $*"; echo "--- server log"; cat "$LOG"; exit 1; }

for _ in $(seq 1 100); do
  [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = "PONG" ] && break
  kill -0 "$PID" 2>/dev/null || fail "server exited during start-up"
  sleep 0.1
done

echo "--- redis-cli"
[ "$(redis-cli -p "$PORT" PING)" = "PONG" ] || fail "PING"
[ "$(redis-cli -p "$PORT" SET ci:key hello)" = "OK" ] || fail "SET"
[ "$(redis-cli -p "$PORT" GET ci:key)" = "hello" ] || fail "GET"
[ "$(redis-cli -p "$PORT" MSET a 1 b 2 c 3 d 4)" = "OK" ] || fail "MSET"
[ "$(redis-cli -p "$PORT" MGET a b c d | tr '\n' ' ')" = "1 2 3 4 " ] || fail "MGET"
redis-cli -p "$PORT" INFO | grep -q '^redis_version:' || fail "INFO has no redis_version"
redis-cli -p "$PORT" INFO keyspace | grep -q '^db0:keys=5,' || fail "INFO keyspace does not count 5 keys"
echo "PING, SET/GET, MSET/MGET and INFO work"

echo "--- redis-benchmark"
OUT="$DATA/bench.txt"
redis-benchmark -p "$PORT" -t ping,set,get,incr,mset -n 100000 -q >"$OUT" 2>&1 || fail "redis-benchmark exited non-zero"
tr '\r' '\n' <"$OUT" | grep 'requests per second' | tee "$DATA/rates.txt"
if tr '\r' '\n' <"$OUT" | grep -qi 'error'; then fail "redis-benchmark reported errors: $(grep -i error "$OUT" | head -3)"; fi
[ "$(wc -l <"$DATA/rates.txt")" -ge 6 ] || fail "redis-benchmark did not finish every test"

echo "--- shutdown"
redis-cli -p "$PORT" SHUTDOWN >/dev/null 2>&1 || true
for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then fail "server still running after SHUTDOWN"; fi
wait "$PID" || fail "server exited with status $?"
echo "redis client checks: 3 passed, 0 failed"
