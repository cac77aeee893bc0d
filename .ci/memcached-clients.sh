#!/usr/bin/env bash
# Starts the release shardis and checks libmemcached's conformance tester (memccapable, ascii and
# binary) and command-line clients against its memcached port. Every test must pass.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-16398}
MEMCACHED_PORT=${MEMCACHED_PORT:-16397}
DATA=$(mktemp -d)
LOG="$DATA/shardis.log"
# Two shards, so that requests cross cores.
target/release/shardis --port "$PORT" --memcached-port "$MEMCACHED_PORT" --threads 2 \
  --dir "$DATA" >"$LOG" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

fail() { echo "FAIL: $*"; echo "--- server log"; cat "$LOG"; exit 1; }

# The binary is memccapable on Debian (memcapable elsewhere).
CAPABLE=$(command -v memccapable || command -v memcapable) || fail "no memccapable"
SERVERS="--servers=127.0.0.1:$MEMCACHED_PORT"

ready=""
for _ in $(seq 1 100); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$MEMCACHED_PORT") 2>/dev/null; then ready=yes; break; fi
  kill -0 "$PID" 2>/dev/null || fail "server exited during start-up"
  sleep 0.1
done
[ -n "$ready" ] || fail "memcached port never opened"

for mode in -a -b; do
  echo "--- $CAPABLE $mode"
  OUT="$DATA/capable$mode.txt"
  "$CAPABLE" -h 127.0.0.1 -p "$MEMCACHED_PORT" -t 5 "$mode" >"$OUT" 2>&1 || true
  cat "$OUT"
  grep -q '^All tests passed' "$OUT" || fail "memccapable $mode: $(grep -v '\[pass\]' "$OUT" | head -5)"
  if grep -q '\[fail\]' "$OUT"; then fail "memccapable $mode reported failures"; fi
done

echo "--- libmemcached clients"
echo "hello from a file" >"$DATA/payload.txt"
memccp "$SERVERS" "$DATA/payload.txt" || fail "memccp"
[ "$(memccat "$SERVERS" payload.txt)" = "hello from a file" ] || fail "memccat"
memcexist "$SERVERS" payload.txt || fail "memcexist"
memcrm "$SERVERS" payload.txt || fail "memcrm"
if memcexist "$SERVERS" payload.txt 2>/dev/null; then fail "memcrm did not remove the item"; fi
memcstat "$SERVERS" | grep -q 'curr_connections' || fail "memcstat"
memcflush "$SERVERS" || fail "memcflush"
echo "memccp, memccat, memcexist, memcrm, memcstat and memcflush work"

echo "--- shutdown"
kill -TERM "$PID"
for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then fail "server still running after SIGTERM"; fi
wait "$PID" || fail "server exited with status $?"
echo "memcached client checks: memccapable ascii and binary passed"
