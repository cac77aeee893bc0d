#!/usr/bin/env bash
# Persistence side by side: redis-server 7 (AOF + RDB) and shardis (binlog + snapshots).
#
#   perf/persistence.sh > perf/last-persistence.md
#
# For each server, alternating, ROUNDS times:
#   1. load KEYS keys (redis-benchmark SET, sequential key numbers, pipelined) with the log on;
#   2. restart on the same data dir and time until the data is served (redis: INFO loading:0
#      after PING answers; shardis: PING answers, it listens only once recovered);
#   3. RSS before a snapshot and its peak while BGSAVE runs (polled every 10 ms from /proc);
#   4. GET p99 latency (redis-benchmark --csv, 50 clients) without and during a snapshot.
# Both servers pinned to core 0 and redis-benchmark to core 1, one shard for shardis (per core).
# Needs redis-server, redis-benchmark, redis-cli, taskset, python3. Ports 16379/16380.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
ROUNDS=${ROUNDS:-3}
KEYS=${KEYS:-1000000}
APPENDFSYNC=${APPENDFSYNC:-everysec}
SHARDIS_BIN=${SHARDIS_BIN:-$repo/target/release/shardis}
REDIS_BIN=${REDIS_BIN:-/usr/bin/redis-server}
PORT=${PORT:-16380}

workdir=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$workdir"' EXIT
cp "$SHARDIS_BIN" "$workdir/shardis"

start() { # start KIND DIR; sets pid
    local kind=$1 dir=$2
    if [[ $kind == redis ]]; then
        taskset -c 0 "$REDIS_BIN" --port "$PORT" --dir "$dir" --appendonly yes \
            --appendfsync "$APPENDFSYNC" --save '' --daemonize no >"$dir/log" 2>&1 &
    else
        taskset -c 0 "$workdir/shardis" --port "$PORT" --dir "$dir" --threads 1 \
            --cpu-affinity no --appendfsync "$APPENDFSYNC" --save '' >"$dir/log" 2>&1 &
    fi
    pid=$!
}

wait_served() { # until the server answers and is not loading
    while ! redis-cli -p "$PORT" ping >/dev/null 2>&1; do sleep 0.01; done
    while redis-cli -p "$PORT" info persistence | grep -q '^loading:1'; do sleep 0.01; done
}

rss_kb() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

get_p99() {
    taskset -c 1 redis-benchmark -p "$PORT" -t get -n 200000 -c 50 -r "$KEYS" --csv -q |
        python3 -c 'import csv,sys; rows=list(csv.reader(sys.stdin)); h=rows[0]; r=rows[1]; print(r[h.index("p99_latency_ms")])'
}

echo "| server | round | restart s | RSS before BGSAVE MB | RSS peak during MB | ratio | GET p99 ms | GET p99 during snapshot ms |"
echo "|---|---|---|---|---|---|---|---|"
for round in $(seq "$ROUNDS"); do
    for kind in redis shardis; do
        dir=$(mktemp -d "$workdir/$kind.XXXX")
        start "$kind" "$dir"
        wait_served
        taskset -c 1 redis-benchmark -p "$PORT" -t set -n "$KEYS" -r "$KEYS" -P 64 -q >/dev/null
        redis-cli -p "$PORT" shutdown >/dev/null 2>&1 || true
        wait "$pid" || true
        begin=$(date +%s.%N)
        start "$kind" "$dir"
        wait_served
        restart=$(python3 -c "print(round($(date +%s.%N) - $begin, 3))")
        p99=$(get_p99)
        before=$(rss_kb "$pid")
        redis-cli -p "$PORT" bgsave >/dev/null
        peak=$before
        # Redis forks: its child's RSS counts too (copy-on-write pages are shared, so this is
        # an upper bound, as redis's own current_cow_peak is the honest figure).
        get_p99 >"$dir/p99-during" &
        bench=$!
        while redis-cli -p "$PORT" info persistence | grep -q 'rdb_bgsave_in_progress:1'; do
            now=$(rss_kb "$pid")
            for child in $(pgrep -P "$pid" || true); do
                # A fork that just exited has no status file any more.
                child_kb=$(rss_kb "$child" 2>/dev/null || true)
                now=$((now + ${child_kb:-0}))
            done
            ((now > peak)) && peak=$now
            sleep 0.01
        done
        wait "$bench"
        ratio=$(python3 -c "print(round($peak / $before, 3))")
        echo "| $kind | $round | $restart | $((before / 1024)) | $((peak / 1024)) | $ratio | $p99 | $(cat "$dir/p99-during") |"
        redis-cli -p "$PORT" shutdown nosave >/dev/null 2>&1 || redis-cli -p "$PORT" shutdown >/dev/null 2>&1 || true
        wait "$pid" || true
    done
done
