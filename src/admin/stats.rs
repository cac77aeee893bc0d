//! Per-shard counters: the shard's own plain copy ([`ShardObserver`]) and the published,
//! atomic copy the admin threads read ([`ShardStats`]).
//!
//! Only the owning shard writes a `ShardStats` field (the stall fields excepted: the watchdog
//! owns those); all stores and loads are relaxed, because each field is an independent figure and
//! nobody needs two of them to agree. A reader may see a tick-old value, never a torn one.

use std::sync::atomic::{AtomicU32, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use ahash::AHashMap;
use bytes::Bytes;

use super::clock::Clock;
use super::latency::LatencyMonitor;
use super::slowlog::SlowLog;
use crate::command::{self, CommandSpec};
use crate::config::Config;

/// Latency histograms have power-of-two buckets: bucket `i` counts durations of at most `2^i`
/// microseconds (Redis's LATENCY HISTOGRAM reports the same boundaries); the last bucket holds
/// everything above `2^(BUCKETS-2)` us (about 16.8 s).
pub const BUCKETS: usize = 26;

/// The histogram bucket of a duration in microseconds: one leading-zero count.
pub fn bucket_of(micros: u64) -> usize {
    if micros <= 1 {
        0
    } else {
        ((64 - (micros - 1).leading_zeros()) as usize).min(BUCKETS - 1)
    }
}

/// The upper bound of bucket `i` in microseconds (`None` for the overflow bucket).
pub fn bucket_bound_us(i: usize) -> Option<u64> {
    (i < BUCKETS - 1).then(|| 1u64 << i)
}

/// Every command's name, in a fixed order, and the index of each: counters are kept in vectors
/// indexed by it.
fn command_names() -> &'static (Vec<&'static str>, AHashMap<&'static str, usize>) {
    static NAMES: OnceLock<(Vec<&'static str>, AHashMap<&'static str, usize>)> = OnceLock::new();
    NAMES.get_or_init(|| {
        let mut names: Vec<&'static str> = command::all_commands().map(|spec| spec.name).collect();
        names.sort_unstable();
        names.dedup();
        let index = names.iter().enumerate().map(|(i, n)| (*n, i)).collect();
        (names, index)
    })
}

/// The index of a command's counters.
pub fn command_index(name: &str) -> Option<usize> {
    command_names().1.get(name).copied()
}

/// The command with counters at `index`.
pub fn command_name(index: usize) -> &'static str {
    command_names().0.get(index).copied().unwrap_or("unknown")
}

/// How many commands have counters.
pub fn command_slots() -> usize {
    command_names().0.len()
}

/// One command's published counters on one shard.
#[derive(Default)]
pub struct CommandStats {
    pub calls: AtomicU64,
    pub failed: AtomicU64,
    pub duration_ns: AtomicU64,
    pub buckets: [AtomicU64; BUCKETS],
}

/// A histogram published as atomics.
#[derive(Default)]
pub struct AtomicHistogram {
    pub count: AtomicU64,
    pub sum_ns: AtomicU64,
    pub buckets: [AtomicU64; BUCKETS],
}

/// One shard's published state. See the module docs of `admin` for who writes what.
pub struct ShardStats {
    /// ns since the epoch of the shard's last tick (progress).
    pub heartbeat_ns: AtomicU64,
    pub ticks: AtomicU64,
    /// How late each tick ran: the time one loop turn held the shard beyond the tick period.
    pub tick_delay: AtomicHistogram,
    /// Index + 1 of the command running now (0: none), and since when (ns since the epoch).
    pub running_command: AtomicU32,
    pub running_since_ns: AtomicU64,
    /// Written by the watchdog: 1 while this shard is stalled, and stalls seen so far.
    pub stalled: AtomicU64,
    pub stalls_total: AtomicU64,
    pub connected_clients: AtomicU64,
    pub connections_received: AtomicU64,
    pub connections_rejected: AtomicU64,
    pub commands_processed: AtomicU64,
    pub error_replies: AtomicU64,
    pub net_input_bytes: AtomicU64,
    pub net_output_bytes: AtomicU64,
    pub keyspace_hits: AtomicU64,
    pub keyspace_misses: AtomicU64,
    pub expired_keys: AtomicU64,
    pub remote_commands: AtomicU64,
    pub memory_bytes: AtomicU64,
    /// The binlog and snapshots of this shard (all zero with `appendonly no`).
    pub persistence: PersistenceStats,
    /// Keys and keys with a deadline, per database (sized on the first publish).
    pub keys: OnceLock<Vec<(AtomicU64, AtomicU64)>>,
    pub commands: Vec<CommandStats>,
}

/// What a shard publishes about its binlog and snapshots each tick.
#[derive(Default)]
pub struct PersistenceStats {
    pub binlog_enabled: AtomicU64,
    /// Position of the last record appended, written to the file, and known to be on disk.
    pub position: AtomicU64,
    pub written_position: AtomicU64,
    pub durable_position: AtomicU64,
    pub segments: AtomicU64,
    pub size_bytes: AtomicU64,
    /// 1 while the binlog cannot be written (writes get MISCONF).
    pub write_failing: AtomicU64,
    pub snapshot_in_progress: AtomicU64,
    /// 1 while the last snapshot failed (writes get MISCONF until one succeeds).
    pub snapshot_failing: AtomicU64,
    pub snapshot_last_save_unix: AtomicU64,
    pub snapshot_last_position: AtomicU64,
    pub snapshots_completed: AtomicU64,
    /// The binlog's fsyncs: how many, their total and the latest one's duration (ns).
    pub fsyncs: AtomicU64,
    pub fsync_total_ns: AtomicU64,
    pub fsync_last_ns: AtomicU64,
}

impl Default for ShardStats {
    fn default() -> Self {
        ShardStats {
            heartbeat_ns: AtomicU64::new(0),
            ticks: AtomicU64::new(0),
            tick_delay: AtomicHistogram::default(),
            running_command: AtomicU32::new(0),
            running_since_ns: AtomicU64::new(0),
            stalled: AtomicU64::new(0),
            stalls_total: AtomicU64::new(0),
            connected_clients: AtomicU64::new(0),
            connections_received: AtomicU64::new(0),
            connections_rejected: AtomicU64::new(0),
            commands_processed: AtomicU64::new(0),
            error_replies: AtomicU64::new(0),
            net_input_bytes: AtomicU64::new(0),
            net_output_bytes: AtomicU64::new(0),
            keyspace_hits: AtomicU64::new(0),
            keyspace_misses: AtomicU64::new(0),
            expired_keys: AtomicU64::new(0),
            remote_commands: AtomicU64::new(0),
            memory_bytes: AtomicU64::new(0),
            persistence: PersistenceStats::default(),
            keys: OnceLock::new(),
            commands: (0..command_slots())
                .map(|_| CommandStats::default())
                .collect(),
        }
    }
}

impl ShardStats {
    /// The command running now and for how long, if any.
    pub fn running(&self, now_ns: u64) -> Option<(&'static str, Duration)> {
        let index = self.running_command.load(Relaxed);
        if index == 0 {
            return None;
        }
        let since = self.running_since_ns.load(Relaxed);
        Some((
            command_name(index as usize - 1),
            Duration::from_nanos(now_ns.saturating_sub(since)),
        ))
    }
}

/// A command between [`ShardObserver::begin`] and [`ShardObserver::end`].
pub struct Running {
    spec: &'static CommandSpec,
    index: Option<usize>,
    /// Clock reading at the start.
    started: u64,
}

/// One command's counters as the shard keeps them (plain integers).
#[derive(Clone, Default)]
struct LocalCommand {
    calls: u64,
    failed: u64,
    duration_ns: u64,
    buckets: [u64; BUCKETS],
    /// Changed since the last publish.
    dirty: bool,
}

/// What a shard knows about its own commands: counters, the slow log, the latency monitor, and
/// the published copy. Owned by [`crate::shard::Shard`]; only its core touches it.
pub struct ShardObserver {
    pub published: Arc<ShardStats>,
    clock: Arc<Clock>,
    local: Vec<LocalCommand>,
    dirty: Vec<usize>,
    pub slowlog: SlowLog,
    pub latency: LatencyMonitor,
    /// The client whose command is running (for slow log entries); set by the callers of
    /// `Shard::execute`.
    pub caller: u64,
    /// Set while a shard runs its part of a command coordinated across shards: the coordinating
    /// connection records that command once, so its parts only set the running marker.
    pub quiet: bool,
    slowlog_log_slower_than: i64,
    slowlog_max_len: usize,
    latency_monitor_threshold_ms: u64,
    last_tick: Option<Instant>,
    /// Error replies by their first word ("ERR", "WRONGTYPE"), for INFO errorstats.
    pub error_codes: AHashMap<String, u64>,
    index_cache: [(usize, u32); INDEX_CACHE],
}

/// Slots of [`ShardObserver::index_of`]'s cache.
const INDEX_CACHE: usize = 64;
/// An index-cache entry for a command that has no counters.
const NO_COUNTERS: u32 = u32::MAX;

impl ShardObserver {
    /// An observer publishing to `published`, ids unique over `nshards` shards.
    pub fn new(
        published: Arc<ShardStats>,
        clock: Arc<Clock>,
        shard: usize,
        nshards: usize,
    ) -> Self {
        let defaults = Config::default();
        let mut observer = ShardObserver {
            published,
            clock,
            local: vec![LocalCommand::default(); command_slots()],
            dirty: Vec::new(),
            slowlog: SlowLog::new(shard, nshards),
            latency: LatencyMonitor::default(),
            caller: 0,
            quiet: false,
            slowlog_log_slower_than: 0,
            slowlog_max_len: 0,
            latency_monitor_threshold_ms: 0,
            last_tick: None,
            error_codes: AHashMap::new(),
            index_cache: [(0, 0); INDEX_CACHE],
        };
        observer.configure(&defaults);
        observer
    }

    /// An observer nobody reads (unit tests, a shard built outside a server).
    pub fn detached() -> Self {
        static CLOCK: OnceLock<Arc<Clock>> = OnceLock::new();
        let clock = CLOCK.get_or_init(|| Arc::new(Clock::new())).clone();
        Self::new(Arc::new(ShardStats::default()), clock, 0, 1)
    }

    pub fn configure(&mut self, config: &Config) {
        self.slowlog_log_slower_than = config.slowlog_log_slower_than;
        self.slowlog_max_len = config.slowlog_max_len.min(usize::MAX as u64) as usize;
        self.latency_monitor_threshold_ms = config.latency_monitor_threshold;
    }

    /// Marks `spec` as running (for the watchdog) and starts its clock.
    #[inline]
    pub fn begin(&mut self, spec: &'static CommandSpec) -> Running {
        let started = self.clock.ticks();
        let index = self.index_of(spec);
        if let Some(index) = index {
            let since = self.clock.nanos_since_epoch(started);
            self.published.running_since_ns.store(since, Relaxed);
            self.published
                .running_command
                .store(index as u32 + 1, Relaxed);
        }
        Running {
            spec,
            index,
            started,
        }
    }

    /// The counters' index of `spec`: a direct-mapped cache keyed by the row's address in front
    /// of the name lookup, since hashing the name cost more than the rest of the bookkeeping.
    #[inline]
    fn index_of(&mut self, spec: &'static CommandSpec) -> Option<usize> {
        let address = spec as *const CommandSpec as usize;
        let slot = (address / std::mem::size_of::<CommandSpec>().max(1)) % INDEX_CACHE;
        let (cached_address, cached_index) = self.index_cache[slot];
        if cached_address == address {
            return (cached_index != NO_COUNTERS).then_some(cached_index as usize);
        }
        // A command without counters (the memcached port's internal ones) is cached as such too.
        let index = command_index(spec.name);
        self.index_cache[slot] = (address, index.map_or(NO_COUNTERS, |index| index as u32));
        index
    }

    /// Records a finished command: counters, histogram, slow log, latency monitor.
    pub fn end(&mut self, running: Running, args: &[Bytes], failed: bool) {
        self.end_with_client(running, args, failed, || None)
    }

    /// [`ShardObserver::end`] for a caller that knows the client: `client` gives its address
    /// and name, asked only if the command goes into the slow log.
    pub fn end_with_client(
        &mut self,
        running: Running,
        args: &[Bytes],
        failed: bool,
        client: impl FnOnce() -> Option<(String, String)>,
    ) {
        self.published.running_command.store(0, Relaxed);
        if self.quiet {
            return;
        }
        let Running {
            spec,
            index,
            started,
        } = running;
        let elapsed_ns = self.clock.nanos_between(started, self.clock.ticks());
        let micros = elapsed_ns / 1000;
        if let Some(index) = index {
            let counters = &mut self.local[index];
            counters.calls += 1;
            counters.failed += failed as u64;
            counters.duration_ns += elapsed_ns;
            counters.buckets[bucket_of(micros)] += 1;
            if !counters.dirty {
                counters.dirty = true;
                self.dirty.push(index);
            }
        }
        if self.slowlog_log_slower_than >= 0 && micros >= self.slowlog_log_slower_than as u64 {
            self.slowlog.push(
                args,
                micros,
                unix_micros(),
                self.caller,
                client(),
                self.slowlog_max_len,
            );
        }
        let millis = micros / 1000;
        if self.latency_monitor_threshold_ms > 0 && millis >= self.latency_monitor_threshold_ms {
            let event = if spec.flags.contains(&"fast") {
                "fast-command"
            } else {
                "command"
            };
            self.latency
                .add_sample(event, unix_micros() / 1_000_000, millis);
        }
    }

    /// Counts an error reply under its code, as Redis's errorstats do: the first word of the
    /// message, at most 128 distinct codes (Redis's ERROR_STATS_NUMBER) after which new ones
    /// are no longer tracked.
    pub fn count_error(&mut self, message: &[u8]) {
        let code = message.split(|&b| b == b' ').next().unwrap_or_default();
        let code = String::from_utf8_lossy(&code[..code.len().min(64)]);
        if let Some(count) = self.error_codes.get_mut(code.as_ref()) {
            *count += 1;
        } else if self.error_codes.len() < 128 {
            self.error_codes.insert(code.into_owned(), 1);
        }
    }

    /// Ends a command without recording it (another place records it).
    pub fn quiet_end(&mut self, _running: Running) {
        self.published.running_command.store(0, Relaxed);
    }

    /// Copies the command counters that changed into the published stats.
    pub fn publish_commands(&mut self) {
        for index in self.dirty.drain(..) {
            let local = &mut self.local[index];
            local.dirty = false;
            let shared = &self.published.commands[index];
            shared.calls.store(local.calls, Relaxed);
            shared.failed.store(local.failed, Relaxed);
            shared.duration_ns.store(local.duration_ns, Relaxed);
            for (to, from) in shared.buckets.iter().zip(local.buckets) {
                to.store(from, Relaxed);
            }
        }
    }

    /// Zeroes the command counters (CONFIG RESETSTAT).
    pub fn reset_commands(&mut self) {
        self.error_codes.clear();
        for (index, local) in self.local.iter_mut().enumerate() {
            if local.calls != 0 {
                *local = LocalCommand::default();
                local.dirty = true;
                self.dirty.push(index);
            }
        }
        self.publish_commands();
    }

    /// The tick's heartbeat: progress for the watchdog, and how late this tick ran.
    pub fn tick(&mut self, period: Duration) {
        let now = Instant::now();
        let published = &self.published;
        published.heartbeat_ns.store(
            now.saturating_duration_since(self.clock.epoch).as_nanos() as u64,
            Relaxed,
        );
        published
            .ticks
            .store(published.ticks.load(Relaxed) + 1, Relaxed);
        if let Some(last) = self.last_tick.replace(now) {
            let delay = now.saturating_duration_since(last).saturating_sub(period);
            let histogram = &published.tick_delay;
            let bucket = &histogram.buckets[bucket_of(delay.as_micros() as u64)];
            bucket.store(bucket.load(Relaxed) + 1, Relaxed);
            histogram
                .count
                .store(histogram.count.load(Relaxed) + 1, Relaxed);
            histogram.sum_ns.store(
                histogram.sum_ns.load(Relaxed) + delay.as_nanos() as u64,
                Relaxed,
            );
        }
    }
}

/// Microseconds since the Unix epoch.
pub fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as u64)
        .unwrap_or(0)
}

/// A command's counters summed over shards, read from the published stats.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandTotals {
    pub name: &'static str,
    pub calls: u64,
    pub failed: u64,
    pub duration_ns: u64,
    pub buckets: [u64; BUCKETS],
}

/// Every command called at least once, summed over `shards`, in name order.
pub fn command_totals(shards: &[Arc<ShardStats>]) -> Vec<CommandTotals> {
    let mut totals = Vec::new();
    for index in 0..command_slots() {
        let mut total = CommandTotals {
            name: command_name(index),
            ..Default::default()
        };
        for shard in shards {
            let stats = &shard.commands[index];
            total.calls += stats.calls.load(Relaxed);
            total.failed += stats.failed.load(Relaxed);
            total.duration_ns += stats.duration_ns.load(Relaxed);
            for (to, from) in total.buckets.iter_mut().zip(&stats.buckets) {
                *to += from.load(Relaxed);
            }
        }
        if total.calls > 0 {
            totals.push(total);
        }
    }
    totals
}

/// The smallest bucket bound (us) under which `quantile` of the samples fall.
pub fn quantile_us(buckets: &[u64; BUCKETS], quantile: f64) -> f64 {
    let total: u64 = buckets.iter().sum();
    if total == 0 {
        return 0.0;
    }
    let wanted = (total as f64 * quantile).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, count) in buckets.iter().enumerate() {
        seen += count;
        if seen >= wanted {
            return bucket_bound_us(i).unwrap_or(1 << (BUCKETS - 1)) as f64;
        }
    }
    (1u64 << (BUCKETS - 1)) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_microseconds() {
        assert_eq!(bucket_of(0), 0);
        assert_eq!(bucket_of(1), 0);
        assert_eq!(bucket_of(2), 1);
        assert_eq!(bucket_of(3), 2);
        assert_eq!(bucket_of(4), 2);
        assert_eq!(bucket_of(5), 3);
        assert_eq!(bucket_of(1 << 24), 24);
        assert_eq!(bucket_of((1 << 24) + 1), BUCKETS - 1);
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
    }

    #[test]
    fn every_command_has_counters() {
        for spec in command::all_commands() {
            let index = command_index(spec.name).expect("indexed");
            assert_eq!(command_name(index), spec.name);
        }
    }

    #[test]
    fn observer_publishes_counts_and_running_marker() {
        let mut observer = ShardObserver::detached();
        let spec = command::lookup(b"get").expect("get");
        let running = observer.begin(spec);
        assert_eq!(
            observer.published.running(u64::MAX).map(|r| r.0),
            Some("get")
        );
        observer.end(running, &[Bytes::from_static(b"GET")], true);
        assert!(observer.published.running(0).is_none());
        let index = command_index("get").unwrap();
        assert_eq!(observer.published.commands[index].calls.load(Relaxed), 0);
        observer.publish_commands();
        assert_eq!(observer.published.commands[index].calls.load(Relaxed), 1);
        assert_eq!(observer.published.commands[index].failed.load(Relaxed), 1);
        let totals = command_totals(&[observer.published.clone()]);
        assert_eq!(totals.len(), 1);
        assert_eq!(totals[0].name, "get");
    }

    /// The per-command cost of the timing and counting: `cargo test --release --lib
    /// observer_overhead -- --ignored --nocapture`.
    #[test]
    #[ignore]
    fn observer_overhead() {
        let mut observer = ShardObserver::detached();
        let spec = command::lookup(b"get").expect("get");
        let args = [Bytes::from_static(b"GET"), Bytes::from_static(b"k")];
        let rounds = 5_000_000;
        let started = Instant::now();
        for _ in 0..rounds {
            let running = observer.begin(spec);
            observer.end(running, &args, false);
        }
        let per = started.elapsed().as_nanos() as f64 / rounds as f64;
        println!("begin + end: {per:.1} ns per command");
    }

    #[test]
    fn quantiles_come_from_bucket_bounds() {
        let mut buckets = [0u64; BUCKETS];
        buckets[0] = 98;
        buckets[10] = 2;
        assert_eq!(quantile_us(&buckets, 0.5), 1.0);
        assert_eq!(quantile_us(&buckets, 0.99), 1024.0);
    }
}
