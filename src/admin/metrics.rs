//! `/metrics`: the published per-shard state in the Prometheus text exposition format (0.0.4).
//!
//! Every per-shard series carries a `shard` label; totals are a `sum without (shard)` away, as
//! Prometheus prefers to aggregating in the exporter. Command series appear once a command has
//! run on that shard. Durations are in seconds, sizes in bytes, counters end in `_total`.

use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

use super::stats::{bucket_bound_us, command_name, AtomicHistogram, ShardStats, BUCKETS};
use super::{health, Observability};

/// The bucket bounds exposed for duration histograms: every other power of two from 2 us to
/// about 8.4 s (the shard keeps every power of two; the cumulative counts allow any subset).
const EXPOSED_BUCKETS: [usize; 12] = [1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23];

struct Exposition(String);

impl Exposition {
    fn header(&mut self, name: &str, kind: &str, help: &str) {
        let _ = write!(self.0, "# HELP {name} {help}\n# TYPE {name} {kind}\n");
    }

    fn sample(&mut self, name: &str, labels: &str, value: impl std::fmt::Display) {
        if labels.is_empty() {
            let _ = writeln!(self.0, "{name} {value}");
        } else {
            let _ = writeln!(self.0, "{name}{{{labels}}} {value}");
        }
    }

    /// One family with one sample per shard, labelled `shard`.
    fn per_shard(
        &mut self,
        obs: &Observability,
        name: &str,
        kind: &str,
        help: &str,
        value: impl Fn(&ShardStats) -> u64,
    ) {
        self.header(name, kind, help);
        for (shard, stats) in obs.shards.iter().enumerate() {
            self.sample(name, &format!("shard=\"{shard}\""), value(stats));
        }
    }

    /// The `_bucket`, `_sum` and `_count` lines of one histogram series.
    fn histogram(&mut self, name: &str, labels: &str, buckets: &[u64; BUCKETS], sum: Duration) {
        let mut cumulative = 0;
        let mut upto = 0;
        for bound_index in EXPOSED_BUCKETS {
            while upto <= bound_index {
                cumulative += buckets[upto];
                upto += 1;
            }
            let bound = bucket_bound_us(bound_index).unwrap_or(0) as f64 / 1e6;
            self.sample(
                &format!("{name}_bucket"),
                &format!("{labels},le=\"{bound}\""),
                cumulative,
            );
        }
        let count: u64 = buckets.iter().sum();
        self.sample(
            &format!("{name}_bucket"),
            &format!("{labels},le=\"+Inf\""),
            count,
        );
        self.sample(&format!("{name}_sum"), labels, sum.as_secs_f64());
        self.sample(&format!("{name}_count"), labels, count);
    }
}

fn load(counter: &AtomicU64) -> u64 {
    counter.load(Relaxed)
}

fn loaded(histogram: &AtomicHistogram) -> ([u64; BUCKETS], Duration) {
    let mut buckets = [0u64; BUCKETS];
    for (to, from) in buckets.iter_mut().zip(&histogram.buckets) {
        *to = from.load(Relaxed);
    }
    (
        buckets,
        Duration::from_nanos(histogram.sum_ns.load(Relaxed)),
    )
}

/// The whole exposition.
pub fn render(obs: &Observability) -> String {
    let mut out = Exposition(String::with_capacity(16 * 1024));
    commands(&mut out, obs);
    clients(&mut out, obs);
    keyspace(&mut out, obs);
    shard_health(&mut out, obs);
    disk(&mut out, obs);
    binlog_metrics(&mut out, obs);
    process(&mut out, obs);
    out.0
}

fn commands(out: &mut Exposition, obs: &Observability) {
    let series = |f: &mut dyn FnMut(&str, &super::stats::CommandStats)| {
        for (shard, stats) in obs.shards.iter().enumerate() {
            for (index, command) in stats.commands.iter().enumerate() {
                if command.calls.load(Relaxed) > 0 {
                    let labels = format!("cmd=\"{}\",shard=\"{shard}\"", command_name(index));
                    f(&labels, command);
                }
            }
        }
    };
    out.header(
        "shardis_commands_total",
        "counter",
        "Commands run, by command and by the shard that ran them.",
    );
    series(&mut |labels, c| out.sample("shardis_commands_total", labels, load(&c.calls)));
    out.header(
        "shardis_command_errors_total",
        "counter",
        "Commands that replied with an error, by command and shard.",
    );
    series(&mut |labels, c| out.sample("shardis_command_errors_total", labels, load(&c.failed)));
    out.header(
        "shardis_command_duration_seconds",
        "histogram",
        "Time commands took to run on their shard, excluding network and queueing.",
    );
    series(&mut |labels, c| {
        let mut buckets = [0u64; BUCKETS];
        for (to, from) in buckets.iter_mut().zip(&c.buckets) {
            *to = from.load(Relaxed);
        }
        let sum = Duration::from_nanos(load(&c.duration_ns));
        out.histogram("shardis_command_duration_seconds", labels, &buckets, sum);
    });
    out.per_shard(
        obs,
        "shardis_commands_processed_total",
        "counter",
        "Requests processed by the connections of each shard (Redis's total_commands_processed).",
        |s| load(&s.commands_processed),
    );
    out.per_shard(
        obs,
        "shardis_error_replies_total",
        "counter",
        "Error replies sent to the connections of each shard (Redis's total_error_replies).",
        |s| load(&s.error_replies),
    );
    out.per_shard(
        obs,
        "shardis_remote_commands_total",
        "counter",
        "Commands a shard ran for connections owned by other shards.",
        |s| load(&s.remote_commands),
    );
}

fn clients(out: &mut Exposition, obs: &Observability) {
    out.per_shard(
        obs,
        "shardis_connected_clients",
        "gauge",
        "Client connections open, by the shard that owns them.",
        |s| load(&s.connected_clients),
    );
    out.per_shard(
        obs,
        "shardis_connections_received_total",
        "counter",
        "Connections accepted.",
        |s| load(&s.connections_received),
    );
    out.per_shard(
        obs,
        "shardis_connections_rejected_total",
        "counter",
        "Connections refused because of maxclients.",
        |s| load(&s.connections_rejected),
    );
    out.per_shard(
        obs,
        "shardis_net_input_bytes_total",
        "counter",
        "Bytes read from clients.",
        |s| load(&s.net_input_bytes),
    );
    out.per_shard(
        obs,
        "shardis_net_output_bytes_total",
        "counter",
        "Bytes written to clients.",
        |s| load(&s.net_output_bytes),
    );
}

fn keyspace(out: &mut Exposition, obs: &Observability) {
    for (name, help, expires) in [
        ("shardis_keys", "Keys per database and shard.", false),
        (
            "shardis_expiring_keys",
            "Keys with a deadline per database and shard.",
            true,
        ),
    ] {
        out.header(name, "gauge", help);
        for (shard, stats) in obs.shards.iter().enumerate() {
            for (db, (keys, volatile)) in stats.keys.get().into_iter().flatten().enumerate() {
                let value = if expires { load(volatile) } else { load(keys) };
                if value > 0 || db == 0 {
                    out.sample(name, &format!("db=\"{db}\",shard=\"{shard}\""), value);
                }
            }
        }
    }
    out.per_shard(
        obs,
        "shardis_keyspace_hits_total",
        "counter",
        "Key lookups that found the key.",
        |s| load(&s.keyspace_hits),
    );
    out.per_shard(
        obs,
        "shardis_keyspace_misses_total",
        "counter",
        "Key lookups that did not find the key.",
        |s| load(&s.keyspace_misses),
    );
    out.per_shard(
        obs,
        "shardis_expired_keys_total",
        "counter",
        "Keys removed because their deadline passed.",
        |s| load(&s.expired_keys),
    );
    out.per_shard(
        obs,
        "shardis_memory_used_bytes",
        "gauge",
        "Estimated memory held by each shard's data.",
        |s| load(&s.memory_bytes),
    );
}

fn shard_health(out: &mut Exposition, obs: &Observability) {
    let stalled = health::stalled_shards(obs);
    out.per_shard(
        obs,
        "shardis_shard_ticks_total",
        "counter",
        "Housekeeping ticks (every 10 ms) a shard ran: its progress signal.",
        |s| load(&s.ticks),
    );
    out.header(
        "shardis_shard_tick_delay_seconds",
        "histogram",
        "How late each housekeeping tick ran: the loop turn that held the shard beyond the tick period.",
    );
    for (shard, stats) in obs.shards.iter().enumerate() {
        let (buckets, sum) = loaded(&stats.tick_delay);
        out.histogram(
            "shardis_shard_tick_delay_seconds",
            &format!("shard=\"{shard}\""),
            &buckets,
            sum,
        );
    }
    out.header(
        "shardis_shard_stalled",
        "gauge",
        "1 while a shard has made no progress for longer than shard-stall-threshold.",
    );
    for shard in 0..obs.shards.len() {
        let is_stalled = stalled
            .iter()
            .any(|p| matches!(p, health::Problem::ShardStalled { shard: s, .. } if *s == shard));
        out.sample(
            "shardis_shard_stalled",
            &format!("shard=\"{shard}\""),
            is_stalled as u8,
        );
    }
    out.per_shard(
        obs,
        "shardis_shard_stalls_total",
        "counter",
        "Stalls longer than shard-stall-threshold seen by the watchdog.",
        |s| load(&s.stalls_total),
    );
    let now = obs.now_ns();
    out.header(
        "shardis_shard_heartbeat_age_seconds",
        "gauge",
        "Time since the shard's last tick.",
    );
    for (shard, stats) in obs.shards.iter().enumerate() {
        let age = Duration::from_nanos(now.saturating_sub(load(&stats.heartbeat_ns)));
        out.sample(
            "shardis_shard_heartbeat_age_seconds",
            &format!("shard=\"{shard}\""),
            age.as_secs_f64(),
        );
    }
}

fn disk(out: &mut Exposition, obs: &Observability) {
    let threshold = Duration::from_millis(obs.settings.disk_latency_threshold_ms.load(Relaxed));
    let status = obs.disk.status(obs.now_ns(), threshold);
    out.header(
        "shardis_disk_healthy",
        "gauge",
        "1 while the disk probe succeeds within disk-latency-threshold, else 0.",
    );
    out.sample("shardis_disk_healthy", "", status.healthy as u8);
    out.header(
        "shardis_disk_probe_duration_seconds",
        "gauge",
        "Write + fsync time of the last disk probe.",
    );
    out.sample(
        "shardis_disk_probe_duration_seconds",
        "",
        status.last_latency.as_secs_f64(),
    );
    out.header("shardis_disk_probes_total", "counter", "Disk probes run.");
    out.sample(
        "shardis_disk_probes_total",
        "",
        load(&obs.disk.probes_total),
    );
    out.header(
        "shardis_disk_probe_failures_total",
        "counter",
        "Disk probes that failed or were slower than disk-latency-threshold.",
    );
    out.sample(
        "shardis_disk_probe_failures_total",
        "",
        load(&obs.disk.failures_total),
    );
}

/// Each shard's binlog and snapshots, as the shard published them on its last tick.
fn binlog_metrics(out: &mut Exposition, obs: &Observability) {
    let gauges: [(&str, &str, &str, fn(&ShardStats) -> u64); 12] = [
        (
            "shardis_binlog_enabled",
            "gauge",
            "1 when the shard keeps a binlog (appendonly yes).",
            |s| load(&s.persistence.binlog_enabled),
        ),
        (
            "shardis_binlog_position",
            "gauge",
            "Position of the last record appended to the binlog.",
            |s| load(&s.persistence.position),
        ),
        (
            "shardis_binlog_written_position",
            "gauge",
            "Position of the last record written to the segment file.",
            |s| load(&s.persistence.written_position),
        ),
        (
            "shardis_binlog_durable_position",
            "gauge",
            "Position of the last record known to be on disk (fsynced).",
            |s| load(&s.persistence.durable_position),
        ),
        (
            "shardis_binlog_segments",
            "gauge",
            "Binlog segment files kept.",
            |s| load(&s.persistence.segments),
        ),
        (
            "shardis_binlog_size_bytes",
            "gauge",
            "Bytes in the binlog segment files kept.",
            |s| load(&s.persistence.size_bytes),
        ),
        (
            "shardis_binlog_write_failing",
            "gauge",
            "1 while the binlog cannot be written (writes are refused with MISCONF).",
            |s| load(&s.persistence.write_failing),
        ),
        (
            "shardis_snapshot_in_progress",
            "gauge",
            "1 while a background snapshot is written.",
            |s| load(&s.persistence.snapshot_in_progress),
        ),
        (
            "shardis_snapshot_failing",
            "gauge",
            "1 while the last snapshot failed (writes are refused with MISCONF).",
            |s| load(&s.persistence.snapshot_failing),
        ),
        (
            "shardis_snapshot_last_success_timestamp_seconds",
            "gauge",
            "Unix time of the last successful snapshot (or of start-up), as LASTSAVE.",
            |s| load(&s.persistence.snapshot_last_save_unix),
        ),
        (
            "shardis_snapshot_last_position",
            "gauge",
            "Binlog position the last successful snapshot was cut at.",
            |s| load(&s.persistence.snapshot_last_position),
        ),
        (
            "shardis_snapshots_completed_total",
            "counter",
            "Snapshots completed since start-up.",
            |s| load(&s.persistence.snapshots_completed),
        ),
    ];
    for (name, kind, help, value) in gauges {
        out.per_shard(obs, name, kind, help, value);
    }
    // fsync latency: rate(..._seconds_total) / rate(shardis_binlog_fsyncs_total) is the mean.
    out.per_shard(
        obs,
        "shardis_binlog_fsyncs_total",
        "counter",
        "fsyncs of the binlog.",
        |s| load(&s.persistence.fsyncs),
    );
    let seconds = |ns: u64| ns as f64 / 1e9;
    out.header(
        "shardis_binlog_fsync_seconds_total",
        "counter",
        "Time spent in binlog fsyncs.",
    );
    for (shard, stats) in obs.shards.iter().enumerate() {
        let total = seconds(load(&stats.persistence.fsync_total_ns));
        out.sample(
            "shardis_binlog_fsync_seconds_total",
            &format!("shard=\"{shard}\""),
            total,
        );
    }
    out.header(
        "shardis_binlog_last_fsync_seconds",
        "gauge",
        "Duration of the latest binlog fsync.",
    );
    for (shard, stats) in obs.shards.iter().enumerate() {
        let last = seconds(load(&stats.persistence.fsync_last_ns));
        out.sample(
            "shardis_binlog_last_fsync_seconds",
            &format!("shard=\"{shard}\""),
            last,
        );
    }
}

fn process(out: &mut Exposition, obs: &Observability) {
    // SAFETY: getrusage fills the zeroed struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let rss_pages: u64 = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0);
    // SAFETY: sysconf has no memory-safety preconditions.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) }.max(1) as u64;
    out.header(
        "process_cpu_seconds_total",
        "counter",
        "Total user and system CPU time spent in seconds.",
    );
    out.sample(
        "process_cpu_seconds_total",
        "",
        seconds(usage.ru_utime) + seconds(usage.ru_stime),
    );
    out.header(
        "process_resident_memory_bytes",
        "gauge",
        "Resident memory size in bytes.",
    );
    out.sample("process_resident_memory_bytes", "", rss_pages * page);
    out.header(
        "process_start_time_seconds",
        "gauge",
        "Start time of the process since unix epoch in seconds.",
    );
    out.sample("process_start_time_seconds", "", obs.started_unix);
    out.header(
        "shardis_shards",
        "gauge",
        "Shards (one per core) this server runs.",
    );
    out.sample("shardis_shards", "", obs.shards.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn histogram_lines_are_cumulative() {
        let mut out = Exposition(String::new());
        let mut buckets = [0u64; BUCKETS];
        buckets[0] = 3; // <= 1 us
        buckets[2] = 2; // <= 4 us
        buckets[BUCKETS - 1] = 1; // overflow
        out.histogram(
            "x_seconds",
            "shard=\"0\"",
            &buckets,
            Duration::from_micros(20),
        );
        assert!(
            out.0
                .contains("x_seconds_bucket{shard=\"0\",le=\"0.000002\"} 3\n"),
            "{}",
            out.0
        );
        assert!(out
            .0
            .contains("x_seconds_bucket{shard=\"0\",le=\"0.000008\"} 5\n"));
        assert!(out
            .0
            .contains("x_seconds_bucket{shard=\"0\",le=\"+Inf\"} 6\n"));
        assert!(out.0.contains("x_seconds_count{shard=\"0\"} 6\n"));
        assert!(out.0.contains("x_seconds_sum{shard=\"0\"} 0.00002\n"));
    }

    #[test]
    fn every_family_has_help_and_type() {
        let obs = Observability::new(2, &Config::default(), 0);
        let text = render(&obs);
        let mut families = 0;
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                families += 1;
                let name = rest.split(' ').next().unwrap();
                assert!(text.contains(&format!("# HELP {name} ")), "{name}");
            }
        }
        assert!(families > 15);
        assert!(text.contains("shardis_shard_stalled{shard=\"1\"}"));
        assert!(text.contains("shardis_disk_healthy 1\n"));
    }
}
