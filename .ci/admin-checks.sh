#!/usr/bin/env bash
# Starts the release shardis with its admin port and checks: /metrics passes Prometheus's own
# checker (promtool check metrics), /health/live and /health/ready answer, readiness names a shard
# stalled by DEBUG SLEEP, and redis-cli --latency and redis-cli INFO work against it.
set -euo pipefail
cd "$(dirname "$0")/.."

PORT=${PORT:-16401}
ADMIN_PORT=${ADMIN_PORT:-16402}
DATA=$(mktemp -d)
LOG="$DATA/shardis.log"
# A 250 ms stall threshold: on a busy 2-core CI machine a shard thread can wait 100+ ms for a CPU,
# which the default 100 ms threshold (rightly) reports as a stall.
target/release/shardis --port "$PORT" --admin-port "$ADMIN_PORT" --threads 2 \
  --shard-stall-threshold 250 --dir "$DATA" >"$LOG" 2>&1 &
PID=$!
cleanup() { kill "$PID" 2>/dev/null || true; rm -rf "$DATA"; }
trap cleanup EXIT

fail() { echo "FAIL: $*"; echo "--- server log"; cat "$LOG"; exit 1; }
http() { curl -s -o "$DATA/body" -w '%{http_code}' --max-time 5 "http://127.0.0.1:$ADMIN_PORT$1"; }

for _ in $(seq 1 100); do
  [ "$(redis-cli -p "$PORT" ping 2>/dev/null)" = "PONG" ] && break
  kill -0 "$PID" 2>/dev/null || fail "server exited during start-up"
  sleep 0.1
done

echo "--- some traffic"
for i in $(seq 1 50); do echo "SET key:$i $i"; echo "GET key:$i"; done | redis-cli -p "$PORT" >/dev/null
redis-cli -p "$PORT" INCR key:missing-is-fine >/dev/null
redis-cli -p "$PORT" SET text abc >/dev/null
redis-cli -p "$PORT" INCR text >/dev/null 2>&1 || true
sleep 0.1

echo "--- /metrics through promtool check metrics"
[ "$(http /metrics)" = "200" ] || fail "/metrics did not answer 200"
cp "$DATA/body" "$DATA/metrics.txt"
grep -q '^shardis_commands_total{cmd="set",shard="[01]"} ' "$DATA/metrics.txt" || fail "no SET counter in /metrics"
if ! promtool check metrics <"$DATA/metrics.txt" >"$DATA/promtool.txt" 2>&1; then
  cat "$DATA/promtool.txt"; fail "promtool check metrics found problems"
fi
echo "promtool check metrics: no problems in $(grep -c '^# TYPE' "$DATA/metrics.txt") metric families"

echo "--- /health"
[ "$(http /health/live)" = "200" ] || fail "/health/live"
ready=""
for _ in $(seq 1 300); do [ "$(http /health/ready)" = "200" ] && { ready=yes; break; }; sleep 0.01; done
[ -n "$ready" ] || fail "/health/ready never 200: $(cat "$DATA/body")"
redis-cli -p "$PORT" DEBUG SLEEP 0.8 >/dev/null &
SLEEPER=$!
stalled=""
for _ in $(seq 1 60); do
  if [ "$(http /health/ready)" = "503" ]; then stalled=$(cat "$DATA/body"); break; fi
  sleep 0.01
done
[ -n "$stalled" ] || fail "/health/ready never turned 503 while a shard ran DEBUG SLEEP"
echo "$stalled" | grep -q '"reason":"shard_stalled"' || fail "503 without the stalled shard: $stalled"
echo "$stalled" | grep -q '"command":"debug"' || fail "503 does not name DEBUG: $stalled"
echo "during DEBUG SLEEP: $stalled"
wait "$SLEEPER"
ready=""
for _ in $(seq 1 300); do [ "$(http /health/ready)" = "200" ] && { ready=yes; break; }; sleep 0.01; done
[ -n "$ready" ] || fail "/health/ready not 200 after the sleep: $(cat "$DATA/body")"

echo "--- redis-cli --latency (1 s sample; not a TTY, so it prints one line and exits)"
LATENCY=$(timeout 20 redis-cli -p "$PORT" --latency --raw) || fail "redis-cli --latency failed"
echo "min max avg samples: $LATENCY"
[ "$(echo "$LATENCY" | wc -w)" -eq 4 ] || fail "unexpected --latency output: $LATENCY"
[ "$(echo "$LATENCY" | awk '{print $4}')" -gt 0 ] || fail "--latency took no samples"

echo "--- redis-cli INFO"
redis-cli -p "$PORT" INFO >"$DATA/info.txt" || fail "INFO"
for field in redis_version connected_clients total_commands_processed keyspace_hits used_memory disk_healthy; do
  grep -q "^$field:" "$DATA/info.txt" || fail "INFO has no $field"
done
redis-cli -p "$PORT" INFO commandstats | grep -q '^cmdstat_set:calls=' || fail "INFO commandstats has no SET"
# Not just the newest entry: on a loaded machine a later INFO may also pass the 10 ms threshold.
redis-cli -p "$PORT" SLOWLOG GET 128 | grep -q -i 'debug' || fail "SLOWLOG has no DEBUG SLEEP"
echo "INFO (with commandstats), SLOWLOG work"

redis-cli -p "$PORT" SHUTDOWN >/dev/null 2>&1 || true
for _ in $(seq 1 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
if kill -0 "$PID" 2>/dev/null; then fail "server still running after SHUTDOWN"; fi
echo "admin checks: passed"
