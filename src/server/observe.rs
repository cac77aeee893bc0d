//! The server side of observability: publishing a core's counters on its tick, the per-shard
//! requests SLOWLOG and LATENCY gather, and the DEBUG and MONITOR commands.
//!
//! Formats live in `admin::slowlog`, `admin::latency` and `command::observe`; the watchdog and
//! the HTTP side in `admin`. Nothing here is on the per-command path except [`feed_monitors`],
//! which costs one relaxed load while nobody runs MONITOR.

use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use bytes::Bytes;

use crate::admin::latency::{self, Series};
use crate::admin::slowlog::{self, SlowEntry};
use crate::admin::{disk, stats, Observability};
use crate::command::observe::{DEBUG_HELP, DEBUG_OBJECT};
use crate::command::server as render;
use crate::command::util::eq_ignore_case;
use crate::command::CommandSpec;
use crate::protocol::reply::Reply;

use super::commands::gather;
use super::connection::Connection;
use super::router::{Op, Response};
use super::runtime::Runtime;

/// A request for one shard's slow log or latency monitor.
#[derive(Debug, Clone)]
pub enum ObserveOp {
    SlowlogGet(Option<usize>),
    SlowlogLen,
    SlowlogReset,
    LatencySeries,
    LatencyReset(Vec<String>),
    ErrorStats,
}

/// One shard's answer.
#[derive(Debug)]
pub enum Observed {
    Slowlog(Vec<SlowEntry>),
    Count(u64),
    Latency(Vec<(String, Series)>),
    Reset(Vec<String>),
    Errors(Vec<(String, u64)>),
}

/// Answers an [`ObserveOp`] on the shard that owns the data.
pub fn handle(rt: &Runtime, op: ObserveOp) -> Observed {
    let mut shard = rt.shard.borrow_mut();
    let observe = &mut shard.observe;
    match op {
        ObserveOp::SlowlogGet(count) => Observed::Slowlog(observe.slowlog.newest(count)),
        ObserveOp::SlowlogLen => Observed::Count(observe.slowlog.len() as u64),
        ObserveOp::SlowlogReset => {
            observe.slowlog.reset();
            Observed::Count(0)
        }
        ObserveOp::LatencySeries => Observed::Latency(observe.latency.series()),
        ObserveOp::LatencyReset(names) => Observed::Reset(observe.latency.reset(&names)),
        ObserveOp::ErrorStats => Observed::Errors(
            observe
                .error_codes
                .iter()
                .map(|(code, count)| (code.clone(), *count))
                .collect(),
        ),
    }
}

/// Copies this core's counters into its published stats; called on every tick.
pub fn publish(rt: &Runtime, tick: Duration, full: bool) {
    let counters = rt.counters.borrow().clone();
    let clients = rt.clients.borrow().len() as u64;
    let mut shard = rt.shard.borrow_mut();
    shard.observe.tick(tick);
    shard.observe.publish_commands();
    let shared = shard.observe.published.clone();
    shared.connected_clients.store(clients, Relaxed);
    shared
        .connections_received
        .store(counters.total_connections_received, Relaxed);
    shared
        .connections_rejected
        .store(counters.rejected_connections, Relaxed);
    shared
        .commands_processed
        .store(counters.total_commands_processed, Relaxed);
    shared
        .error_replies
        .store(counters.total_error_replies, Relaxed);
    shared
        .net_input_bytes
        .store(counters.total_net_input_bytes, Relaxed);
    shared
        .net_output_bytes
        .store(counters.total_net_output_bytes, Relaxed);
    let stats = &shard.keyspace.stats;
    shared.keyspace_hits.store(stats.keyspace_hits, Relaxed);
    shared.keyspace_misses.store(stats.keyspace_misses, Relaxed);
    shared.expired_keys.store(stats.expired_keys, Relaxed);
    shared.remote_commands.store(shard.remote_commands, Relaxed);
    let databases = shard.keyspace.databases();
    let keys = shared.keys.get_or_init(|| {
        (0..databases)
            .map(|_| Default::default())
            .collect::<Vec<_>>()
    });
    for (index, (count, volatile)) in keys.iter().enumerate().take(databases) {
        let db = shard.keyspace.db_ref(index);
        count.store(db.len() as u64, Relaxed);
        volatile.store(db.expires_len() as u64, Relaxed);
    }
    let persistence = &shared.persistence;
    if let Some(binlog) = shard.binlog.as_ref() {
        let (segments, bytes) = binlog.segment_stats();
        persistence.binlog_enabled.store(1, Relaxed);
        persistence.position.store(binlog.last_position(), Relaxed);
        persistence
            .written_position
            .store(binlog.written_position(), Relaxed);
        persistence
            .durable_position
            .store(binlog.durable_position(), Relaxed);
        persistence.segments.store(segments, Relaxed);
        persistence.size_bytes.store(bytes, Relaxed);
        persistence
            .write_failing
            .store(binlog.failure().is_some() as u64, Relaxed);
        let (fsyncs, total_ns, last_ns) = binlog.fsync_stats();
        persistence.fsyncs.store(fsyncs, Relaxed);
        persistence.fsync_total_ns.store(total_ns, Relaxed);
        persistence.fsync_last_ns.store(last_ns, Relaxed);
    }
    let snapshots = &shard.snapshots;
    persistence
        .snapshot_in_progress
        .store(snapshots.job.is_some() as u64, Relaxed);
    persistence
        .snapshot_failing
        .store(snapshots.failure.is_some() as u64, Relaxed);
    persistence
        .snapshot_last_save_unix
        .store(snapshots.last_save_unix, Relaxed);
    persistence
        .snapshot_last_position
        .store(snapshots.last_position, Relaxed);
    persistence
        .snapshots_completed
        .store(snapshots.completed, Relaxed);
    if full {
        // The memory estimate samples keys: every tenth tick is often enough for a gauge.
        let memory: u64 = (0..databases)
            .map(|i| shard.keyspace.db_ref(i).memory_estimate() as u64)
            .sum();
        shared.memory_bytes.store(memory, Relaxed);
    }
}

/// Runs DEBUG, SLOWLOG, LATENCY or MONITOR for `conn`.
pub async fn run(conn: &mut Connection, spec: &'static CommandSpec, args: Vec<Bytes>) -> Reply {
    match spec.name {
        "debug" => debug(conn, args).await,
        "slowlog" => slowlog(conn, &args).await,
        "latency" => latency(conn, &args).await,
        "monitor" => monitor(conn),
        _ => crate::command::unknown_command_error(&args),
    }
}

async fn debug(conn: &mut Connection, args: Vec<Bytes>) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("sleep", 3) => {
            // As in Redis, DEBUG SLEEP blocks the server: here, exactly this connection's shard,
            // which the stall watchdog then reports.
            let seconds = crate::command::util::parse_f64(&args[2]).unwrap_or(0.0);
            if seconds.is_finite() && seconds > 0.0 {
                std::thread::sleep(Duration::from_secs_f64(seconds.min(1e9)));
            }
            Reply::ok()
        }
        ("panic", 2) => {
            // Redis's DEBUG PANIC: a deliberate crash, to test what a shard failure does (the
            // server logs it, stops the other shards and exits with an error, see `server`).
            panic!(
                "DEBUG PANIC called at Unix time {}",
                super::runtime::now_ms() / 1000
            );
        }
        ("object", 3) => {
            conn.drain().await;
            let target = conn.rt.shard_of_key(&args[2]);
            let seq = conn.rt.submit(
                target,
                &conn.client,
                Op::Command {
                    spec: &DEBUG_OBJECT,
                    db: conn.db,
                    args,
                },
            );
            conn.client.inbox.wait_all().await;
            let reply = conn.client.inbox.take(seq).into_reply();
            conn.client.inbox.reset();
            reply
        }
        ("disk-failpoint", _) => match disk::parse_failpoint(&args) {
            Ok(failpoint) => {
                conn.rt.obs.disk.set_failpoint(failpoint);
                Reply::ok()
            }
            Err(error) => Reply::error(error),
        },
        ("help", 2) => render::help_reply("DEBUG", DEBUG_HELP),
        _ => render::unknown_subcommand_error("debug", &args[1]),
    }
}

async fn gather_observed(conn: &mut Connection, op: ObserveOp) -> Vec<Observed> {
    gather(conn, || Op::Observe(op.clone()))
        .await
        .into_iter()
        .filter_map(|response| match response {
            Response::Observed(observed) => Some(*observed),
            _ => None,
        })
        .collect()
}

async fn slowlog(conn: &mut Connection, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("get", 2 | 3) => {
            let count = match slowlog::parse_count(args) {
                Ok(count) => count,
                Err(reply) => return reply,
            };
            let mut entries = Vec::new();
            for observed in gather_observed(conn, ObserveOp::SlowlogGet(count)).await {
                if let Observed::Slowlog(list) = observed {
                    entries.extend(list);
                }
            }
            let entries = slowlog::merge(entries, count);
            // Addresses and names of the clients, wherever they live.
            let mut clients = Vec::new();
            if !entries.is_empty() {
                for response in gather(conn, || Op::ClientList).await {
                    if let Response::Clients(list) = response {
                        clients.extend(list);
                    }
                }
            }
            slowlog::render(&entries, |id| {
                clients
                    .iter()
                    .find(|c| c.id == id)
                    .map(|c| (c.addr.clone(), c.name.clone()))
                    .unwrap_or_default()
            })
        }
        ("len", 2) => {
            let total: u64 = gather_observed(conn, ObserveOp::SlowlogLen)
                .await
                .into_iter()
                .map(|o| if let Observed::Count(n) = o { n } else { 0 })
                .sum();
            Reply::Integer(total as i64)
        }
        ("reset", 2) => {
            gather_observed(conn, ObserveOp::SlowlogReset).await;
            Reply::ok()
        }
        ("help", 2) => render::help_reply("SLOWLOG", slowlog::HELP),
        ("get" | "len" | "reset" | "help", _) => render::subcommand_arity_error("slowlog", &sub),
        _ => render::unknown_subcommand_error("slowlog", &args[1]),
    }
}

async fn latency_events(conn: &mut Connection) -> std::collections::BTreeMap<String, Series> {
    let series = gather_observed(conn, ObserveOp::LatencySeries)
        .await
        .into_iter()
        .filter_map(|o| match o {
            Observed::Latency(series) => Some(series),
            _ => None,
        })
        .collect();
    latency::merge(series)
}

/// The published command counters, this core's own made current first.
fn command_totals(conn: &Connection) -> Vec<stats::CommandTotals> {
    conn.rt.shard.borrow_mut().observe.publish_commands();
    stats::command_totals(&conn.rt.obs.shards)
}

async fn latency(conn: &mut Connection, args: &[Bytes]) -> Reply {
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    match (sub.as_str(), args.len()) {
        ("latest", 2) => latency::latest_reply(&latency_events(conn).await),
        ("history", 3) => {
            let event = String::from_utf8_lossy(&args[2]).to_string();
            let events = latency_events(conn).await;
            latency::history_reply(events.get(&event))
        }
        ("reset", _) => {
            let names: Vec<String> = args[2..]
                .iter()
                .map(|a| String::from_utf8_lossy(a).to_string())
                .collect();
            let mut reset: Vec<String> = Vec::new();
            for observed in gather_observed(conn, ObserveOp::LatencyReset(names)).await {
                if let Observed::Reset(list) = observed {
                    reset.extend(list);
                }
            }
            reset.sort();
            reset.dedup();
            Reply::Integer(reset.len() as i64)
        }
        ("histogram", _) => latency::histogram_reply(&command_totals(conn), &args[2..]),
        ("doctor", 2) => {
            let text = latency::doctor_text(&latency_events(conn).await);
            if conn.protocol >= 3 {
                Reply::Verbatim("txt", Bytes::from(text))
            } else {
                Reply::Bulk(Bytes::from(text))
            }
        }
        ("help", 2) => render::help_reply("LATENCY", latency::HELP),
        ("latest" | "history" | "doctor" | "help", _) => {
            render::subcommand_arity_error("latency", &sub)
        }
        _ => render::unknown_subcommand_error("latency", &args[1]),
    }
}

/// INFO sections shardis adds: `errorstats` (a default section in Redis), `commandstats` and
/// `latencystats` (Redis's formats, on request or with "all"/"everything") and `health` (with
/// the defaults). `before` is the INFO text they follow.
pub async fn info_sections(conn: &mut Connection, requested: &[Bytes], before: &str) -> String {
    let wants = |name: &str, default: bool| {
        if requested.is_empty() {
            return default;
        }
        requested.iter().any(|r| {
            eq_ignore_case(r, name)
                || eq_ignore_case(r, "all")
                || eq_ignore_case(r, "everything")
                || (default && eq_ignore_case(r, "default"))
        })
    };
    let errors = if wants("errorstats", true) {
        let mut merged: std::collections::BTreeMap<String, u64> = Default::default();
        for observed in gather_observed(conn, ObserveOp::ErrorStats).await {
            if let Observed::Errors(list) = observed {
                for (code, count) in list {
                    *merged.entry(code).or_default() += count;
                }
            }
        }
        Some(merged)
    } else {
        None
    };
    let mut text = String::new();
    let mut section = |header: &str, lines: Vec<String>| {
        if !text.is_empty() || !before.is_empty() {
            text.push_str("\r\n");
        }
        text.push_str("# ");
        text.push_str(header);
        text.push_str("\r\n");
        for line in lines {
            text.push_str(&line);
            text.push_str("\r\n");
        }
    };
    if let Some(errors) = errors {
        section(
            "Errorstats",
            errors
                .iter()
                .map(|(code, count)| format!("errorstat_{code}:count={count}"))
                .collect(),
        );
    }
    if wants("commandstats", false) || wants("latencystats", false) {
        let totals = command_totals(conn);
        if wants("commandstats", false) {
            section(
                "Commandstats",
                totals
                    .iter()
                    .map(|t| {
                        let usec = t.duration_ns / 1000;
                        format!(
                            "cmdstat_{}:calls={},usec={},usec_per_call={:.2},rejected_calls=0,failed_calls={}",
                            t.name,
                            t.calls,
                            usec,
                            usec as f64 / t.calls as f64,
                            t.failed
                        )
                    })
                    .collect(),
            );
        }
        if wants("latencystats", false) {
            section(
                "Latencystats",
                totals
                    .iter()
                    .map(|t| {
                        format!(
                            "latency_percentiles_usec_{}:p50={:.3},p99={:.3},p99.9={:.3}",
                            t.name,
                            stats::quantile_us(&t.buckets, 0.5),
                            stats::quantile_us(&t.buckets, 0.99),
                            stats::quantile_us(&t.buckets, 0.999)
                        )
                    })
                    .collect(),
            );
        }
    }
    if wants("health", true) {
        section("Health", health_lines(&conn.rt.obs));
    }
    text
}

fn health_lines(obs: &Observability) -> Vec<String> {
    let threshold = Duration::from_millis(obs.settings.disk_latency_threshold_ms.load(Relaxed));
    let disk = obs.disk.status(obs.now_ns(), threshold);
    let stalled = crate::admin::health::stalled_shards(obs);
    let stalls: u64 = obs
        .shards
        .iter()
        .map(|s| s.stalls_total.load(Relaxed))
        .sum();
    vec![
        format!("disk_healthy:{}", disk.healthy as u8),
        format!(
            "disk_probe_last_fsync_usec:{}",
            disk.last_latency.as_micros()
        ),
        format!(
            "disk_probe_failures:{}",
            obs.disk.failures_total.load(Relaxed)
        ),
        format!(
            "disk_probe_error:{}",
            disk.reason.replace(['\r', '\n'], " ")
        ),
        format!("shards_stalled:{}", stalled.len()),
        format!("shard_stalls_total:{}", stalls),
    ]
}

// ---- MONITOR -----------------------------------------------------------------------------------

/// MONITOR mode: streams the commands every shard feeds to this client until it goes away (a
/// failed write), the server closes it, or it sends a command: `Ok(true)` then, and the
/// connection reads and runs it (RESET leaves MONITOR mode, as in Redis 6.2; `Ok(false)` ends
/// the connection).
pub async fn stream_monitor(
    conn: &mut Connection,
    stream: &super::net::Connection,
) -> std::io::Result<bool> {
    let Some(lines) = conn.monitor.clone() else {
        return Ok(true);
    };
    let mut out = Vec::new();
    loop {
        out.clear();
        while let Ok(line) = lines.try_recv() {
            out.extend_from_slice(&line);
        }
        if !out.is_empty() {
            stream.write_all(&out).await?;
            conn.rt.counters.borrow_mut().total_net_output_bytes += out.len() as u64;
        }
        if conn.client.meta.borrow().closing || conn.rt.shutting_down.get() {
            return Ok(false);
        }
        if stream.is_readable() {
            return Ok(true);
        }
        glommio::timer::sleep(MONITOR_POLL).await;
    }
}

/// Leaves MONITOR mode (RESET).
pub fn stop_monitor(conn: &mut Connection) {
    if conn.monitor.take().is_some() {
        conn.rt.obs.monitors.remove(conn.client.id);
        conn.client.meta.borrow_mut().monitor = false;
    }
}

/// How often a MONITOR connection looks for new lines.
const MONITOR_POLL: Duration = Duration::from_millis(2);

/// Registers the connection as a monitor; the connection streams what it receives from then on.
fn monitor(conn: &mut Connection) -> Reply {
    let (sender, receiver) = crossbeam_channel::unbounded();
    conn.rt.obs.monitors.add(conn.client.id, sender);
    conn.client.meta.borrow_mut().monitor = true;
    conn.monitor = Some(receiver);
    Reply::ok()
}

/// Sends a command about to run to every MONITOR client, in Redis's format:
/// `+1339518083.107412 [0 127.0.0.1:60866] "keys" "*"`. Free while nobody monitors.
#[inline]
pub fn feed_monitors(
    rt: &Runtime,
    client: &super::runtime::Client,
    db: usize,
    spec: &CommandSpec,
    args: &[Bytes],
) {
    if !rt.obs.monitors.active() {
        return;
    }
    let line = monitor_line(db, &client.addresses().0, spec, args);
    rt.obs.monitors.send(client.id, line);
}

/// The MONITOR line of a command a script runs, with `lua` for the address as Redis shows it
/// (`+1339518083.107412 [0 lua] "set" "k" "v"`); `None` while nobody monitors. The caller
/// sends it ([`send_script_lines`]) once the script's run is kept: a local run that stops and
/// runs again holding every shard must not show its calls twice.
pub fn script_line(rt: &Runtime, db: usize, spec: &CommandSpec, args: &[Bytes]) -> Option<Bytes> {
    rt.obs
        .monitors
        .active()
        .then(|| monitor_line(db, "lua", spec, args))
}

/// Sends the lines of a script run by client `caller` to every MONITOR client.
pub fn send_script_lines(rt: &Runtime, caller: u64, lines: Vec<Bytes>) {
    for line in lines {
        rt.obs.monitors.send(caller, line);
    }
}

fn monitor_line(db: usize, address: &str, spec: &CommandSpec, args: &[Bytes]) -> Bytes {
    let args = crate::command::observe::loggable(spec, args);
    let micros = stats::unix_micros();
    let mut line = format!(
        "+{}.{:06} [{} {}]",
        micros / 1_000_000,
        micros % 1_000_000,
        db,
        address
    );
    for arg in &args {
        line.push_str(" \"");
        line.push_str(&crate::admin::monitor::quote(arg));
        line.push('"');
    }
    line.push_str("\r\n");
    Bytes::from(line)
}
