#!/usr/bin/env bash
# Connect-per-request load (issue 7): redis-server 7 and shardis side by side, alternating
# rounds, under the PHP-style generator (perf/loadgen) and `redis-benchmark -k 0`; optionally
# memcached 1.6 against shardis's memcached port with the generator's memcache mode.
#
#   perf/short_connections.sh [pinned] [unpinned] > perf/last-short.md
#
# Markdown report on stdout, progress on stderr. For each scenario: the server's CPU time per
# request (utime+stime of the whole process from /proc/PID/stat over the run, divided by the
# requests served), requests/s and p99 connect-to-reply latency, medians over ROUNDS, and the
# ratios. Why it measures this way: /work/shared/PERF-METHOD.md (sections 2 and 3 above all).
#
# Knobs (environment): ROUNDS (5), DURATION (10 s per generator run), WORKERS (32), COMMANDS
# (set+get; or get, set, incr), HOSTS (127.0.0.1-127.0.0.8), KEYSPACE (100000), VALUE_SIZE (16),
# N_BENCH (20000 requests per redis-benchmark test), BENCH_CLIENTS (50), MEMCACHED (auto: run the
# memcached section when memcached is installed; yes or no), CONFIGS (pinned unpinned), SHARDIS_BIN
# (target/release/shardis), REDIS_BIN, MEMCACHED_BIN, LOADGEN_BIN (built when missing), ports
# PORT_REDIS 16379, PORT_SHARDIS 16380, PORT_MEMCACHED 16381, PORT_SHARDIS_MC 16382, KEEP_TMP.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")

ROUNDS=${ROUNDS:-5}
DURATION=${DURATION:-10}
WORKERS=${WORKERS:-32}
COMMANDS=${COMMANDS:-set+get}
HOSTS=${HOSTS:-127.0.0.1-127.0.0.8}
KEYSPACE=${KEYSPACE:-100000}
VALUE_SIZE=${VALUE_SIZE:-16}
N_BENCH=${N_BENCH:-20000}
BENCH_CLIENTS=${BENCH_CLIENTS:-50}
MEMCACHED=${MEMCACHED:-auto}
PORT_REDIS=${PORT_REDIS:-16379}
PORT_SHARDIS=${PORT_SHARDIS:-16380}
PORT_MEMCACHED=${PORT_MEMCACHED:-16381}
PORT_SHARDIS_MC=${PORT_SHARDIS_MC:-16382}
SHARDIS_BIN=${SHARDIS_BIN:-$repo/target/release/shardis}
REDIS_BIN=${REDIS_BIN:-/usr/bin/redis-server}
MEMCACHED_BIN=${MEMCACHED_BIN:-/usr/bin/memcached}
LOADGEN_BIN=${LOADGEN_BIN:-$here/loadgen/target/release/shardis-loadgen}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}
MAXCLIENTS=30000

die() {
    printf 'short_connections.sh: %s\n' "$*" >&2
    exit 1
}
progress() { printf '%s\n' "$*" >&2; }

configs=("$@")
if ((${#configs[@]} == 0)); then
    read -r -a configs <<<"${CONFIGS:-pinned unpinned}"
fi
for config in "${configs[@]}"; do
    [[ $config == pinned || $config == unpinned ]] || die "unknown configuration '$config'"
done
for var in ROUNDS WORKERS KEYSPACE N_BENCH BENCH_CLIENTS; do
    [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, got '${!var}'"
done
[[ $DURATION =~ ^[0-9]+(\.[0-9]+)?$ ]] || die "DURATION must be a number of seconds"
for tool in redis-benchmark redis-cli taskset timeout python3 ss; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x $REDIS_BIN ]] || die "$REDIS_BIN not found"
[[ -x $SHARDIS_BIN ]] || die "$SHARDIS_BIN not found: run 'cargo build --release' first"
case $MEMCACHED in
    auto) [[ -x $MEMCACHED_BIN ]] && MEMCACHED=yes || MEMCACHED=no ;;
    yes) [[ -x $MEMCACHED_BIN ]] || die "$MEMCACHED_BIN not found" ;;
    no) ;;
    *) die "MEMCACHED must be auto, yes or no" ;;
esac
if [[ ! -x $LOADGEN_BIN ]]; then
    progress "building the load generator"
    cargo build --release --quiet --manifest-path "$here/loadgen/Cargo.toml" ||
        die "cannot build perf/loadgen"
fi
for port in "$PORT_REDIS" "$PORT_SHARDIS" "$PORT_MEMCACHED" "$PORT_SHARDIS_MC"; do
    if ss -Hltn "sport = :$port" | grep -q .; then
        die "port $port is in use; set the PORT_* variables"
    fi
done
# maxclients 30000 needs as many descriptors; servers inherit this shell's soft limit.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
fd_limit=$(ulimit -n)
if [[ $fd_limit != unlimited ]] && ((fd_limit < MAXCLIENTS + 64)); then
    # memcached refuses to start when it cannot get -c descriptors; redis would shrink its own.
    MAXCLIENTS=$((fd_limit - 64))
    progress "open-file limit $fd_limit: maxclients $MAXCLIENTS for every server"
fi

clk_tck=$(getconf CLK_TCK)
workdir=$(mktemp -d "${TMPDIR:-/tmp}/shardis-short.XXXXXX")
raw=$workdir/raw.jsonl
pids=()

cleanup() {
    local pid
    set +e
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do
            process_alive "$pid" || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [[ -n ${KEEP_TMP:-} ]]; then progress "kept $workdir"; else rm -rf "$workdir"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cp "$SHARDIS_BIN" "$workdir/shardis" # a rebuild mid-run cannot mix binaries
SHARDIS_BIN=$workdir/shardis

# utime + stime of the whole process (all threads), in clock ticks (fields 14 and 15).
# shellcheck source=perf/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# start LABEL PIN CHECK_PORT CHECK_PROTOCOL COMMAND...; sets started_pid.
start() {
    local label=$1 pin=$2 port=$3 protocol=$4
    shift 4
    local -a cmd=("$@")
    [[ $pin == yes ]] && cmd=(taskset -c 0 "${cmd[@]}")
    printf '%q ' "${cmd[@]}" >"$workdir/$label.cmdline"
    "${cmd[@]}" >"$workdir/$label.log" 2>&1 &
    started_pid=$!
    pids+=("$started_pid")
    local ok=
    for _ in $(seq 100); do
        process_alive "$started_pid" || { cat "$workdir/$label.log" >&2; die "$label exited at start-up"; }
        if [[ $protocol == resp ]]; then
            [[ $(redis-cli -p "$port" ping 2>/dev/null) == PONG ]] && ok=1
        else
            python3 - "$port" <<'EOF' 2>/dev/null && ok=1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=1)
s.sendall(b"version\r\n")
sys.exit(0 if s.recv(100).startswith(b"VERSION") else 1)
EOF
        fi
        [[ -n $ok ]] && break
        sleep 0.1
    done
    [[ -n $ok ]] || die "$label did not answer within 10 s: $(cat "$workdir/$label.cmdline")"
    progress "started $label (pid $started_pid): $(cat "$workdir/$label.cmdline")"
}

stop() {
    kill "$1" 2>/dev/null || true
    for _ in $(seq 50); do
        process_alive "$1" || break
        sleep 0.1
    done
    kill -9 "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# record CONFIG SCENARIO SERVER ROUND TICKS OTHER_TICKS WALL REQUESTS RPS P99_US ERRORS
record() {
    printf '{"config":"%s","scenario":"%s","server":"%s","round":%s,"ticks":%s,"other_ticks":%s,"wall":%s,"requests":%s,"rps":%s,"p99_us":%s,"errors":%s}\n' \
        "$@" >>"$raw"
}

# measure CONFIG SCENARIO SERVER ROUND PID OTHER_PID KIND PORT PROTOCOL
# One measured run: KIND loadgen or benchmark.
measure() {
    local config=$1 scenario=$2 server=$3 round=$4 pid=$5 other=$6 kind=$7 port=$8 protocol=$9
    local -a prefix=()
    [[ $config == pinned ]] && prefix=(taskset -c 1)
    local out=$workdir/run.out err=$workdir/run.err t0 o0 s0 t1 o1 s1 rc=0
    t0=$(cpu_ticks "$pid") o0=$(cpu_ticks "$other") s0=$EPOCHREALTIME
    if [[ $kind == loadgen ]]; then
        timeout $((${DURATION%.*} + 60)) "${prefix[@]}" "$LOADGEN_BIN" --host-range "$HOSTS" \
            --port "$port" --workers "$WORKERS" --duration "$DURATION" --commands "$COMMANDS" \
            --protocol "$protocol" --keyspace "$KEYSPACE" --value-size "$VALUE_SIZE" \
            >"$out" 2>"$err" || rc=$?
    else
        timeout "$BENCH_TIMEOUT" "${prefix[@]}" redis-benchmark -h 127.0.0.1 -p "$port" -k 0 \
            -c "$BENCH_CLIENTS" -n "$N_BENCH" -r "$KEYSPACE" -t get,set -q --csv \
            >"$out" 2>"$err" || rc=$?
    fi
    s1=$EPOCHREALTIME t1=$(cpu_ticks "$pid") o1=$(cpu_ticks "$other")
    process_alive "$pid" || die "$server died during $scenario"
    if ((rc != 0)); then
        cat "$out" "$err" >&2
        die "$server: $kind exited with status $rc"
    fi
    local fields
    fields=$(python3 - "$kind" "$out" "$N_BENCH" <<'EOF'
import csv, json, sys
kind, path, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
if kind == "loadgen":
    r = json.loads(next(l for l in open(path) if l.startswith("{")))
    print(r["requests"], r["rps"], r["p99_us"], r["errors"])
else:
    rows = [row for row in csv.DictReader(open(path)) if row.get("test")]
    if len(rows) != 2:
        sys.exit("unexpected redis-benchmark output: %r" % open(path).read())
    # Both tests ran N requests each: the combined rate is 2N over the summed times.
    rps = 2 * n / sum(n / float(row["rps"]) for row in rows)
    p99 = max(float(row["p99_latency_ms"]) for row in rows) * 1000
    print(2 * n, round(rps, 1), round(p99), 0)
EOF
    ) || die "$server: cannot read $kind output"
    local requests rps p99 errors
    read -r requests rps p99 errors <<<"$fields"
    record "$config" "$scenario" "$server" "$round" $((t1 - t0)) $((o1 - o0)) \
        "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" "$requests" "$rps" "$p99" "$errors"
    progress "  $config $scenario $server round $round: $rps req/s, p99 ${p99} us, $(awk -v t=$((t1 - t0)) -v r="$requests" -v c="$clk_tck" 'BEGIN { printf "%.2f", t / c * 1e6 / r }') us CPU/request, $errors errors"
}

redis_cmd=("$REDIS_BIN" --port "$PORT_REDIS" --bind 0.0.0.0 --save '' --appendonly no
    --daemonize no --maxclients "$MAXCLIENTS" --dir "$workdir")
shardis_cmd() { # THREADS REDIS_PORT MEMCACHED_PORT
    printf '%s\0' "$SHARDIS_BIN" --port "$2" --bind 0.0.0.0 --threads "$1" --cpu-affinity no \
        --appendonly no --save '' --memcached-port "$3" --admin-port 0 \
        --maxclients "$MAXCLIENTS" --dir "$workdir" --loglevel warning
}

for config in "${configs[@]}"; do
    pin=no threads=2
    [[ $config == pinned ]] && pin=yes threads=1
    start redis "$pin" "$PORT_REDIS" resp "${redis_cmd[@]}"
    redis_pid=$started_pid
    mapfile -d '' -t cmd < <(shardis_cmd "$threads" "$PORT_SHARDIS" 0)
    start shardis "$pin" "$PORT_SHARDIS" resp "${cmd[@]}"
    shardis_pid=$started_pid
    for round in $(seq "$ROUNDS"); do
        for scenario in loadgen benchmark; do
            measure "$config" "$scenario" redis "$round" "$redis_pid" "$shardis_pid" \
                "$scenario" "$PORT_REDIS" resp
            measure "$config" "$scenario" shardis "$round" "$shardis_pid" "$redis_pid" \
                "$scenario" "$PORT_SHARDIS" resp
        done
    done
    stop "$shardis_pid"
    stop "$redis_pid"

    if [[ $MEMCACHED == yes ]]; then
        start memcached "$pin" "$PORT_MEMCACHED" memcache "$MEMCACHED_BIN" -t "$threads" \
            -p "$PORT_MEMCACHED" -l 0.0.0.0 -U 0 -c "$MAXCLIENTS" -m 1024 -u "$(id -un)"
        memcached_pid=$started_pid
        mapfile -d '' -t cmd < <(shardis_cmd "$threads" "$PORT_SHARDIS" "$PORT_SHARDIS_MC")
        start shardis-mc "$pin" "$PORT_SHARDIS_MC" memcache "${cmd[@]}"
        shardis_mc_pid=$started_pid
        for round in $(seq "$ROUNDS"); do
            measure "$config" memcache memcached "$round" "$memcached_pid" "$shardis_mc_pid" \
                loadgen "$PORT_MEMCACHED" memcache
            measure "$config" memcache shardis "$round" "$shardis_mc_pid" "$memcached_pid" \
                loadgen "$PORT_SHARDIS_MC" memcache
        done
        stop "$shardis_mc_pid"
        stop "$memcached_pid"
    fi
done

# ---- report ----------------------------------------------------------------------------------

printf '# Connect-per-request load, side by side\n\n'
printf 'Command: `'
printf '%s=%q ' ROUNDS "$ROUNDS" DURATION "$DURATION" WORKERS "$WORKERS" COMMANDS "$COMMANDS" \
    HOSTS "$HOSTS" KEYSPACE "$KEYSPACE" VALUE_SIZE "$VALUE_SIZE" N_BENCH "$N_BENCH" \
    BENCH_CLIENTS "$BENCH_CLIENTS" MEMCACHED "$MEMCACHED" | sed 's/ $//'
printf ' perf/short_connections.sh %s`\n\n' "${configs[*]}"
printf -- '- date: %s; host: nproc %s, kernel %s\n' "$(date -u '+%Y-%m-%d %H:%M UTC')" "$(nproc)" "$(uname -r)"
printf -- '- %s; shardis %s (checkout %s)\n' "$("$REDIS_BIN" --version | cut -d' ' -f1-3)" \
    "$(sha256sum "$SHARDIS_BIN" | cut -c1-12)" "$(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?')"
[[ $MEMCACHED == yes ]] && printf -- '- %s\n' "$("$MEMCACHED_BIN" -V)"
printf -- '- pinned: servers `taskset -c 0` (shardis `--threads 1`), generators `taskset -c 1`; unpinned: no taskset, shardis `--threads 2`, memcached `-t 2`\n'
printf -- '- loadgen: `perf/loadgen --host-range %s --workers %s --duration %s --commands %s`; redis-benchmark: `-h 127.0.0.1 -k 0 -c %s -n %s -t get,set` (one address: capped near 14-17k conn/s, PERF-METHOD section 3)\n' \
    "$HOSTS" "$WORKERS" "$DURATION" "$COMMANDS" "$BENCH_CLIENTS" "$N_BENCH"
printf -- '- maxclients (memcached -c) %s for every server; open-file limit %s\n' "$MAXCLIENTS" "$fd_limit"
printf -- '- busy others at start: %s\n\n' "$(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 >= 20 { printf "%s %s%%, ", $2, $1 }' | sed 's/, $//')"

python3 - "$raw" "$clk_tck" <<'EOF'
import collections, json, statistics, sys
raw, clk = sys.argv[1], int(sys.argv[2])
runs = [json.loads(l) for l in open(raw)]
groups = collections.defaultdict(list)
for r in runs:
    groups[(r["config"], r["scenario"], r["server"])].append(r)
def med(rs, f):
    return statistics.median(f(r) for r in rs)
cpu = lambda r: r["ticks"] / clk * 1e6 / r["requests"] if r["requests"] else float("nan")
names = {"loadgen": "PHP-style loadgen (RESP)", "benchmark": "redis-benchmark -k 0",
         "memcache": "PHP-style loadgen (memcached text)"}
print("| config | scenario | reference | ref CPU us/req | shardis CPU us/req | **ref/shardis CPU** "
      "| ref req/s | shardis req/s | shardis/ref req/s | ref p99 us | shardis p99 us | errors ref/shardis | rounds |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for config in ("pinned", "unpinned"):
    for scenario in ("loadgen", "benchmark", "memcache"):
        ref = "memcached" if scenario == "memcache" else "redis"
        a, b = groups.get((config, scenario, ref)), groups.get((config, scenario, "shardis"))
        if not a or not b:
            continue
        ca, cb = med(a, cpu), med(b, cpu)
        ra, rb = med(a, lambda r: r["rps"]), med(b, lambda r: r["rps"])
        pa, pb = med(a, lambda r: r["p99_us"]), med(b, lambda r: r["p99_us"])
        ea, eb = sum(r["errors"] for r in a), sum(r["errors"] for r in b)
        print(f"| {config} | {names[scenario]} | {ref} | {ca:.2f} | {cb:.2f} | **{ca / cb:.2f}** "
              f"| {ra:.0f} | {rb:.0f} | {rb / ra:.2f} | {pa:.0f} | {pb:.0f} | {ea}/{eb} | {len(a)}/{len(b)} |")
print()
print("CPU per request: the server's utime+stime (all threads) over the run divided by the "
      "requests it served, median over rounds; above 1 in the ratio column means shardis is "
      "cheaper. p99: connect-to-reply for the loadgen, the worse of the SET and GET tests for "
      "redis-benchmark. A ratio inside 0.8-1.25 from one run is within noise (PERF-METHOD section 1).")
# The other server sits idle during each run; one that busy-polls while idle steals the
# measured one's core (PERF-METHOD section 4), so show the most it used.
print()
print("Idle neighbour: the most CPU the *other* server used while this one was measured "
      "(should be near 0%): " + "; ".join(
          f"{config} {scenario} while {server} ran: {max(r['other_ticks'] / clk / r['wall'] * 100 for r in rs):.1f}%"
          for (config, scenario, server), rs in sorted(groups.items())))
EOF
