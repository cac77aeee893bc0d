#!/usr/bin/env bash
# Where a server's CPU goes under connect-per-request load: `perf record -g` of redis-server and
# shardis (or memcached and shardis's memcached port), one after the other, each pinned to core 0
# with the PHP-style generator on core 1, and for each the share of samples in the kernel, in the
# server binary and in libc, plus the kernel's share by system call (children included).
#
#   perf/kernel_share.sh > perf/last-kernel-share.md              # RESP: redis vs shardis
#   PROTOCOL=memcache perf/kernel_share.sh                        # memcached vs shardis
#
# Why: the short-connection targets compare CPU per request, and this tells how much of it any
# user-space change could touch at all (issue 7). Needs perf (linux-perf), redis-server or
# memcached, taskset and target/release/shardis; builds perf/loadgen when missing.
# Knobs: PROTOCOL (resp), DURATION (5 s recorded per server), WORKERS (32), COMMANDS (set+get),
# HOSTS (127.0.0.1-127.0.0.8), PORT_REF (16479), PORT_SHARDIS (16480), SHARDIS_BIN, KEEP_TMP.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
die() { echo "kernel_share.sh: $*" >&2; exit 1; }

PROTOCOL=${PROTOCOL:-resp}
DURATION=${DURATION:-5}
WORKERS=${WORKERS:-32}
COMMANDS=${COMMANDS:-set+get}
HOSTS=${HOSTS:-127.0.0.1-127.0.0.8}
PORT_REF=${PORT_REF:-16479}
PORT_SHARDIS=${PORT_SHARDIS:-16480}
SHARDIS_BIN=${SHARDIS_BIN:-$repo/target/release/shardis}
LOADGEN_BIN=${LOADGEN_BIN:-$here/loadgen/target/release/shardis-loadgen}

command -v perf >/dev/null || die "perf not found (apt-get install linux-perf)"
[[ -x $SHARDIS_BIN ]] || die "$SHARDIS_BIN not found: run 'cargo build --release' first"
if [[ ! -x $LOADGEN_BIN ]]; then
    cargo build --release --quiet --manifest-path "$here/loadgen/Cargo.toml" || die "cannot build perf/loadgen"
fi
workdir=$(mktemp -d /tmp/shardis-kshare.XXXXXX)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [[ -n ${KEEP_TMP:-} ]] || rm -rf "$workdir"
}
trap cleanup EXIT

case $PROTOCOL in
    resp)
        ref_name=redis
        ref_cmd=(redis-server --port "$PORT_REF" --bind 0.0.0.0 --save '' --appendonly no --dir "$workdir")
        shardis_ports=(--port "$PORT_SHARDIS" --memcached-port 0)
        ;;
    memcache)
        ref_name=memcached
        ref_cmd=(memcached -p "$PORT_REF" -U 0 -t 1 -l 0.0.0.0 -c 4096 -m 1024)
        [[ $(id -u) == 0 ]] && ref_cmd+=(-u root)
        shardis_ports=(--port 0 --memcached-port "$PORT_SHARDIS")
        ;;
    *) die "PROTOCOL must be resp or memcache" ;;
esac

wait_port() {
    for _ in $(seq 100); do
        ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.1
    done
    die "port $1 never opened"
}

load() { # PORT SECONDS
    taskset -c 1 "$LOADGEN_BIN" --host-range "$HOSTS" --port "$1" --workers "$WORKERS" \
        --duration "$2" --commands "$COMMANDS" --protocol "$PROTOCOL" 2>/dev/null | tail -1
}

echo "# Kernel share of connect-per-request CPU ($PROTOCOL)"
echo
echo "\`PROTOCOL=$PROTOCOL DURATION=$DURATION WORKERS=$WORKERS perf/kernel_share.sh\` on $(date -u '+%Y-%m-%d %H:%M UTC'), kernel $(uname -r), shardis $(git -C "$repo" rev-parse --short HEAD)"
echo
for server in "$ref_name" shardis; do
    if [[ $server == shardis ]]; then
        cmd=("$SHARDIS_BIN" "${shardis_ports[@]}" --bind 0.0.0.0 --threads 1 --cpu-affinity no
            --appendonly no --save '' --admin-port 0 --dir "$workdir" --loglevel warning)
        port=$PORT_SHARDIS
    else
        cmd=("${ref_cmd[@]}")
        port=$PORT_REF
    fi
    taskset -c 0 "${cmd[@]}" >"$workdir/$server.log" 2>&1 &
    pid=$!
    pids+=("$pid")
    wait_port "$port"
    load "$port" 2 >/dev/null # warm-up
    perf record -q -g -o "$workdir/$server.data" -p "$pid" -- sleep "$DURATION" >/dev/null 2>&1 &
    recorder=$!
    echo "## $server"
    echo
    echo "load: $(load "$port" "$DURATION")"
    wait "$recorder" || true
    kill "$pid"
    wait "$pid" 2>/dev/null || true
    echo
    echo "share of samples by object:"
    echo
    echo '```'
    perf report -i "$workdir/$server.data" --no-children --sort dso -g none 2>/dev/null | grep '%' | head -5
    echo '```'
    echo
    echo "kernel entry points (with children):"
    echo
    echo '```'
    perf report -i "$workdir/$server.data" --children --sort sym -g none 2>/dev/null |
        grep -E '\[k\] (__x64_sys_[a-z0-9_]+|handle_softirqs)$' | head -12
    echo '```'
    echo
done
