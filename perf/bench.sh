#!/usr/bin/env bash
# redis-server 7 and shardis side by side under redis-benchmark, alternating, as ratios.
#
#   perf/bench.sh [pinned] [unpinned] > perf/last-run.md
#
# Markdown report on stdout, progress on stderr. See perf/README.md for the scenarios and the
# knobs (ROUNDS, N, N_PIPELINED, N_CONNECT, CANDIDATE=redis for a redis-vs-redis calibration, ...)
# and /work/shared/PERF-METHOD.md for why it measures this way.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
helper=(python3 "$here/side_by_side.py")

ROUNDS=${ROUNDS:-5}
N=${N:-100000}                            # requests per test, 50 clients
N_PIPELINED=${N_PIPELINED:-$((N * 5))}    # requests per test, -P 16
N_CONNECT=${N_CONNECT:-$((N / 5))}        # requests per test, -k 0
CLIENTS=${CLIENTS:-50}
KEYSPACE=${KEYSPACE:-1000000}
PORT_REDIS=${PORT_REDIS:-16379}
PORT_CANDIDATE=${PORT_CANDIDATE:-16380}
CANDIDATE=${CANDIDATE:-shardis}           # shardis, or redis to calibrate redis against itself
SHARDIS_BIN=${SHARDIS_BIN:-$repo/target/release/shardis}
REDIS_BIN=${REDIS_BIN:-/usr/bin/redis-server}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-300}       # seconds; redis-benchmark can hang if a server dies
IDLE_SECONDS=${IDLE_SECONDS:-2}
# off: both servers without persistence (shardis's default is a binlog, so it is turned off
# explicitly); everysec or always: both with their append-only log and that appendfsync, no
# snapshots (redis: AOF, shardis: binlog).
PERSISTENCE=${PERSISTENCE:-off}
TESTS=${TESTS:-set,get}
# Which scenarios to run: any of clients pipelined connect.
SCENARIOS=${SCENARIOS:-clients pipelined connect}

die() {
    printf 'bench.sh: %s\n' "$*" >&2
    exit 1
}
progress() { printf '%s\n' "$*" >&2; }

# ---- arguments and preconditions -------------------------------------------------------------

configs=("$@")
if ((${#configs[@]} == 0)); then
    read -r -a configs <<<"${CONFIGS:-pinned unpinned}"
fi
for config in "${configs[@]}"; do
    [[ $config == pinned || $config == unpinned ]] ||
        die "unknown configuration '$config' (want pinned and/or unpinned)"
done
for var in ROUNDS N N_PIPELINED N_CONNECT CLIENTS KEYSPACE; do
    [[ ${!var} =~ ^[1-9][0-9]*$ ]] || die "$var must be a positive integer, got '${!var}'"
done
case $PERSISTENCE in
    off) persist_args=(--appendonly no --save '') ;;
    everysec | always) persist_args=(--appendonly yes --appendfsync "$PERSISTENCE" --save '') ;;
    *) die "PERSISTENCE must be off, everysec or always, got '$PERSISTENCE'" ;;
esac
case $CANDIDATE in
    shardis) candidate_label=shardis ;;
    redis) candidate_label=redis-b ;;
    *) die "CANDIDATE must be shardis or redis, got '$CANDIDATE'" ;;
esac
reference_label=redis

for tool in redis-benchmark redis-cli taskset timeout python3 ss; do
    command -v "$tool" >/dev/null || die "$tool not found"
done
[[ -x $REDIS_BIN ]] || die "$REDIS_BIN not found"
if [[ $CANDIDATE == shardis && ! -x $SHARDIS_BIN ]]; then
    die "$SHARDIS_BIN not found: run 'cargo build --release' first (or CANDIDATE=redis to calibrate)"
fi
for port in "$PORT_REDIS" "$PORT_CANDIDATE"; do
    if ss -Hltn "sport = :$port" | grep -q .; then
        die "port $port is in use; set PORT_REDIS / PORT_CANDIDATE"
    fi
done

clk_tck=$(getconf CLK_TCK)
workdir=$(mktemp -d "${TMPDIR:-/tmp}/shardis-bench.XXXXXX")
raw=$workdir/raw.jsonl
pids=()
bench_pid=

cleanup() {
    local pid
    set +e # clean up as much as possible, whatever fails
    [[ -n $bench_pid ]] && kill "$bench_pid" 2>/dev/null
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        for _ in $(seq 50); do
            process_alive "$pid" || break
            sleep 0.1
        done
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
    done
    if [[ -n ${RAW_OUT:-} && -s ${raw:-} ]]; then
        cp "$raw" "$RAW_OUT" && progress "raw records in $RAW_OUT"
    fi
    if [[ -n ${KEEP_TMP:-} ]]; then
        progress "kept $workdir"
    else
        rm -rf "$workdir"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Run a private copy: target/ is shared, and a rebuild halfway through would otherwise put two
# different binaries in one report.
if [[ $CANDIDATE == shardis ]]; then
    cp "$SHARDIS_BIN" "$workdir/shardis"
    shardis_built=$(date -u -r "$SHARDIS_BIN" '+%Y-%m-%d %H:%M:%S UTC')
    shardis_sha=$(sha256sum "$workdir/shardis" | cut -c1-12)
    SHARDIS_BIN=$workdir/shardis
    candidate_version="shardis binary built $shardis_built, sha256 $shardis_sha; checkout at $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?') when the run started"
    if [[ -n $(git -C "$repo" status --porcelain -- src Cargo.toml Cargo.lock 2>/dev/null) ]]; then
        candidate_version+=", with uncommitted changes in src/ or Cargo.* (the binary may include them)"
    fi
else
    candidate_version="a second redis-server (calibration: both columns are redis)"
fi

# ---- servers ---------------------------------------------------------------------------------

# shellcheck source=perf/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

# start_server LABEL KIND PORT THREADS PIN; sets started_pid.
start_server() {
    local label=$1 kind=$2 port=$3 threads=$4 pin=$5
    local dir cmd
    dir=$(mktemp -d "$workdir/$label.XXXX")
    if [[ $kind == redis ]]; then
        cmd=("$REDIS_BIN" --port "$port" "${persist_args[@]}" --daemonize no --dir "$dir")
    else
        # The memcached port is off (memcached may run on 11211 beside); the admin thread and its
        # disk probe stay on, as by default, and count in shardis's CPU time.
        cmd=("$SHARDIS_BIN" --port "$port" --threads "$threads" --cpu-affinity no --dir "$dir"
            --memcached-port 0 "${persist_args[@]}")
    fi
    [[ $pin == yes ]] && cmd=(taskset -c 0 "${cmd[@]}")
    printf '%q ' "${cmd[@]}" >"$dir/cmdline"
    "${cmd[@]}" >"$dir/log" 2>&1 &
    started_pid=$!
    pids+=("$started_pid")
    local reply=
    for _ in $(seq 100); do
        if ! process_alive "$started_pid"; then
            cat "$dir/log" >&2
            die "$label exited during startup: $(cat "$dir/cmdline")"
        fi
        reply=$(redis-cli -p "$port" ping 2>/dev/null || true)
        [[ $reply == PONG ]] && break
        sleep 0.1
    done
    [[ $reply == PONG ]] || {
        cat "$dir/log" >&2
        die "$label did not answer PING within 10 s: $(cat "$dir/cmdline")"
    }
    # One checked round trip before any load, so a server that answers PING but not SET/GET
    # fails here with its reply rather than inside redis-benchmark.
    reply=$(redis-cli -p "$port" set perf:probe hello 2>&1)
    [[ $reply == OK ]] || die "$label: SET perf:probe hello replied '$reply'"
    reply=$(redis-cli -p "$port" get perf:probe 2>&1)
    [[ $reply == hello ]] || die "$label: GET perf:probe replied '$reply'"
    progress "started $label (pid $started_pid): $(cat "$dir/cmdline")"
}

stop_server() {
    local pid=$1
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do
        process_alive "$pid" || break
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# ---- one redis-benchmark run -----------------------------------------------------------------

# bench CONFIG SCENARIO LABEL PID PORT OTHER_PID ROUND N EXTRA_ARGS...
# One measured redis-benchmark run. A run killed by a signal from outside (this machine is
# shared, and other people's clean-ups have been seen to pkill redis-benchmark) is repeated, up
# to twice, and the report says so; anything else aborts.
bench() {
    local config=$1 scenario=$2 label=$3 pid=$4 port=$5 other_pid=$6 round=$7 n=$8
    shift 8
    local out=$workdir/run.csv err=$workdir/run.err
    local -a prefix=()
    [[ $config == pinned ]] && prefix=(taskset -c 1)
    local -a cmd=("${prefix[@]}" redis-benchmark -p "$port" -c "$CLIENTS" -n "$n"
        -r "$KEYSPACE" -t "$TESTS" -q --csv "$@")
    local t0 o0 s0 t1 o1 s1 rc attempt note=
    for attempt in 1 2 3; do
        rc=0
        t0=$(cpu_ticks "$pid")
        o0=$(cpu_ticks "$other_pid")
        s0=$EPOCHREALTIME
        # redis-benchmark spins forever once its server is gone, so watch the server meanwhile.
        timeout "$BENCH_TIMEOUT" "${cmd[@]}" >"$out" 2>"$err" &
        bench_pid=$!
        while kill -0 "$bench_pid" 2>/dev/null; do
            process_alive "$pid" || break
            sleep 0.25
        done
        if ! process_alive "$pid"; then
            kill "$bench_pid" 2>/dev/null || true
            wait "$bench_pid" || true
            cat "$err" >&2
            die "$label (pid $pid) died during: ${cmd[*]}"
        fi
        wait "$bench_pid" || rc=$?
        bench_pid=
        s1=$EPOCHREALTIME
        t1=$(cpu_ticks "$pid")
        o1=$(cpu_ticks "$other_pid")
        if ((rc > 128 && attempt < 3)); then
            note="run repeated: redis-benchmark was killed by signal $((rc - 128)) from outside this script"
            progress "  $label round $round: redis-benchmark killed by signal $((rc - 128)) from outside; repeating the run"
            continue
        fi
        break
    done
    if ((rc != 0)); then
        progress "--- stdout"; cat "$out" >&2
        progress "--- stderr"; cat "$err" >&2
        ((rc == 124)) && die "$label: redis-benchmark ran past ${BENCH_TIMEOUT}s: ${cmd[*]}"
        ((rc > 128)) && die "$label: redis-benchmark was killed by signal $((rc - 128)) from outside this script, three times: ${cmd[*]}"
        die "$label: redis-benchmark exited with status $rc: ${cmd[*]}"
    fi
    "${helper[@]}" record --raw "$raw" --config "$config" --scenario "$scenario" \
        --server "$label" --round "$round" --csv "$out" --stderr "$err" --tests "$TESTS" \
        --n "$n" --ticks $((t1 - t0)) --other-ticks $((o1 - o0)) \
        --wall "$(awk -v a="$s0" -v b="$s1" 'BEGIN { print b - a }')" \
        --clk-tck "$clk_tck" --note "$note" || die "$label: bad redis-benchmark output from: ${cmd[*]}"
}

# ---- configurations --------------------------------------------------------------------------

scenario_clients="$CLIENTS clients"
scenario_pipelined="pipelined"
scenario_connect="connect-per-request"

run_config() {
    local config=$1 pin threads
    if [[ $config == pinned ]]; then
        pin=yes threads=1
    else
        pin=no threads=2
    fi
    progress "== $config"
    start_server "$reference_label" redis "$PORT_REDIS" "$threads" "$pin"
    local reference_pid=$started_pid
    start_server "$candidate_label" "$CANDIDATE" "$PORT_CANDIDATE" "$threads" "$pin"
    local candidate_pid=$started_pid

    # Idle CPU (PERF-METHOD.md §4): a server that polls while idle takes CPU from the other's turn.
    sleep 0.5
    local r0 c0 r1 c1
    r0=$(cpu_ticks "$reference_pid")
    c0=$(cpu_ticks "$candidate_pid")
    sleep "$IDLE_SECONDS"
    r1=$(cpu_ticks "$reference_pid")
    c1=$(cpu_ticks "$candidate_pid")
    "${helper[@]}" idle --raw "$raw" --config "$config" --server "$reference_label" \
        --ticks $((r1 - r0)) --seconds "$IDLE_SECONDS" --clk-tck "$clk_tck"
    "${helper[@]}" idle --raw "$raw" --config "$config" --server "$candidate_label" \
        --ticks $((c1 - c0)) --seconds "$IDLE_SECONDS" --clk-tck "$clk_tck"
    progress "idle CPU ticks over ${IDLE_SECONDS}s: $reference_label $((r1 - r0)), $candidate_label $((c1 - c0)) (CLK_TCK $clk_tck)"

    local round
    for scenario in "$scenario_clients" "$scenario_pipelined" "$scenario_connect"; do
        local n extra=()
        case $scenario in
            "$scenario_clients") n=$N ;;
            "$scenario_pipelined") n=$N_PIPELINED extra=(-P 16) ;;
            "$scenario_connect") n=$N_CONNECT extra=(-k 0) ;;
        esac
        local short=${scenario%% *}
        [[ $scenario == "$scenario_clients" ]] && short=clients
        [[ $scenario == "$scenario_connect" ]] && short=connect
        [[ " $SCENARIOS " == *" $short "* ]] || continue
        for round in $(seq "$ROUNDS"); do
            bench "$config" "$scenario" "$reference_label" "$reference_pid" "$PORT_REDIS" \
                "$candidate_pid" "$round" "$n" "${extra[@]}"
            bench "$config" "$scenario" "$candidate_label" "$candidate_pid" "$PORT_CANDIDATE" \
                "$reference_pid" "$round" "$n" "${extra[@]}"
        done
    done
    stop_server "$candidate_pid"
    stop_server "$reference_pid"
}

# ---- report ----------------------------------------------------------------------------------

command_line="ROUNDS=$ROUNDS N=$N N_PIPELINED=$N_PIPELINED N_CONNECT=$N_CONNECT CANDIDATE=$CANDIDATE PERSISTENCE=$PERSISTENCE perf/bench.sh ${configs[*]}"
started_at=$(date -u '+%Y-%m-%d %H:%M:%S UTC')
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
busy_before=$(ps -eo pcpu=,pid=,args= --sort=-pcpu | awk '$1 >= 20 { $1 = $1 "%"; print }' | cut -c1-120)
start_seconds=$SECONDS

for config in "${configs[@]}"; do
    run_config "$config"
done


cat <<EOF
## redis-server vs $candidate_label, $(date -u '+%Y-%m-%d')

- command: \`$command_line\` (from the repository root)
- started: $started_at, took $((SECONDS - start_seconds)) s
- machine: nproc $(nproc), kernel $(uname -r), load average before: $load_before
- reference: $("$REDIS_BIN" --version)
- candidate: $candidate_version
- $(redis-benchmark --version); $ROUNDS rounds, alternating $reference_label then $candidate_label; $CLIENTS clients, -r $KEYSPACE, -t $TESTS
- requests per test: $scenario_clients $N, $scenario_pipelined (-P 16) $N_PIPELINED, $scenario_connect (-k 0) $N_CONNECT
EOF
pinned_threads= unpinned_threads=
if [[ $CANDIDATE == shardis ]]; then
    pinned_threads=", shardis with --threads 1" unpinned_threads=", shardis with --threads 2"
fi
if [[ -n $busy_before ]]; then
    echo "- **other processes using ≥20% CPU when the run started** (figures are noisier):"
    while IFS= read -r line; do echo "  - \`$line\`"; done <<<"$busy_before"
fi
echo

"${helper[@]}" report --raw "$raw" --reference "$reference_label" --candidate "$candidate_label" \
    --scenario-names "$scenario_clients" "$scenario_pipelined" "$scenario_connect" \
    --describe "pinned=Both servers under \`taskset -c 0\`$pinned_threads, redis-benchmark under \`taskset -c 1\`." \
    --describe "unpinned=No taskset$unpinned_threads; servers and redis-benchmark share both cores."

cat <<EOF
$scenario_connect: redis-benchmark -k 0 opens one connection per request from 127.0.0.1 to
127.0.0.1:port. One address pair tops out near 14-17k new connections per second here
(PERF-METHOD.md §3), and both servers listen on 127.0.0.1, so both meet the same ceiling: its
throughput ratio says little, the CPU per request is the figure to read.
EOF
