//! Observability and health: what an operator or an HA controller asks of a running shardis, and
//! the Redis-side introspection commands' data (SLOWLOG, LATENCY).
//!
//! ```text
//!  shard i (glommio thread)                       admin threads (plain std threads)
//!  ─────────────────────────                      ─────────────────────────────────
//!  Shard::execute ─▶ ShardObserver (plain u64s)   shardis-admin:    GET /metrics, /health/*
//!     every tick ──publish──▶ ShardStats ◀──read── shardis-watchdog: stall log + count
//!     (relaxed stores)        (Arc of atomics)    shardis-diskprobe: write + fsync in `dir`
//! ```
//!
//! **Publishing, not sharing.** Each shard owns its counters as plain integers
//! ([`stats::ShardObserver`]) and bumps them on the data path at the cost of an add. Once per
//! housekeeping tick (every 10 ms) the shard copies them into its own [`stats::ShardStats`], an
//! `Arc` of atomics, with relaxed stores. Every atomic has exactly one writer (the shard; the
//! watchdog for the stall fields; the probe thread for the disk's); readers (the admin threads)
//! only load, so they never wait for a shard and a shard never waits for them. The only
//! per-command stores are the "running" marker (command and start time, then cleared): three
//! relaxed stores the watchdog needs to say what a stuck shard is doing. Timing a command costs
//! two reads of the TSC (`clock`); the rest is plain adds to the shard's own counters (measured:
//! about 75 ns per command in all on the 2-core development VM, of which
//! about 45 ns are the two TSC reads, which this VM makes slow).
//!
//! **Progress.** The shard stores a heartbeat (ns since [`Observability::epoch`]) on every tick. A
//! tick runs between loop turns, so a heartbeat older than `shard-stall-threshold` means one turn
//! has held the shard that long: readiness fails at once (computed on each request from the
//! heartbeat, not from the watchdog), and the watchdog logs the stall once and counts it.
//!
//! **Disk.** A probe thread writes and fsyncs a small file in `dir` every `disk-probe-interval`
//! ms; an error (EIO, ENOSPC, ...) or an fsync slower than `disk-latency-threshold` marks the disk
//! unhealthy until a probe succeeds in time. A probe still in flight past the threshold counts as
//! slow, so a hung fsync is seen without waiting for it. A failpoint (`DEBUG DISK-FAILPOINT`)
//! makes the probe fail or slow down for tests; it is read only by the probe thread.
//!
//! Binlog and snapshot metrics arrive with the durability issue: see `metrics::binlog_metrics`.

pub mod clock;
pub mod disk;
pub mod health;
pub mod http;
pub mod latency;
pub mod metrics;
pub mod monitor;
pub mod slowlog;
pub mod stats;

use std::net::TcpListener;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::config::Config;
use stats::ShardStats;

/// Settings the admin threads read; CONFIG SET updates them through [`Observability::configure`].
#[derive(Debug, Default)]
pub struct Settings {
    pub shard_stall_threshold_ms: AtomicU64,
    pub disk_probe_interval_ms: AtomicU64,
    pub disk_latency_threshold_ms: AtomicU64,
}

/// The read side of every shard's published state, plus the disk probe's, shared by the server,
/// the shards and the admin threads.
pub struct Observability {
    /// Time zero for every `*_ns` field (a monotonic clock); `clock.epoch`.
    pub epoch: Instant,
    /// The command-timing clock every shard shares (read-only for them).
    pub clock: Arc<clock::Clock>,
    pub shards: Vec<Arc<ShardStats>>,
    pub disk: disk::DiskHealth,
    pub settings: Settings,
    /// Set when shutdown begins: readiness fails from then on.
    pub shutting_down: AtomicBool,
    /// Set when the server has stopped; the admin threads exit.
    pub stopping: AtomicBool,
    /// MONITOR subscribers.
    pub monitors: monitor::MonitorHub,
    /// The Unix time the process started, for `process_start_time_seconds`.
    pub started_unix: u64,
    /// Clients connected to any shard. `maxclients` is a server-wide limit, as in Redis, so
    /// each shard adds its clients here on accept (one atomic add) and removes them on close.
    pub connected_clients: std::sync::atomic::AtomicUsize,
}

impl Observability {
    pub fn new(shards: usize, config: &Config, started_unix: u64) -> Arc<Observability> {
        let clock = Arc::new(clock::Clock::new());
        let obs = Observability {
            epoch: clock.epoch,
            clock,
            shards: (0..shards)
                .map(|_| Arc::new(ShardStats::default()))
                .collect(),
            disk: disk::DiskHealth::default(),
            settings: Settings::default(),
            shutting_down: AtomicBool::new(false),
            stopping: AtomicBool::new(false),
            monitors: monitor::MonitorHub::default(),
            started_unix,
            connected_clients: std::sync::atomic::AtomicUsize::new(0),
        };
        obs.configure(config);
        Arc::new(obs)
    }

    /// Takes the admin-side settings from `config` (start-up and CONFIG SET).
    pub fn configure(&self, config: &Config) {
        let s = &self.settings;
        s.shard_stall_threshold_ms
            .store(config.shard_stall_threshold, Relaxed);
        s.disk_probe_interval_ms
            .store(config.disk_probe_interval, Relaxed);
        s.disk_latency_threshold_ms
            .store(config.disk_latency_threshold, Relaxed);
    }

    /// Nanoseconds since [`Observability::epoch`].
    pub fn now_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    /// Nanoseconds from the epoch to `at`.
    pub fn ns_at(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.epoch).as_nanos() as u64
    }
}

/// The admin threads of a running server; stopping the server stops them.
pub struct AdminThreads {
    /// The admin HTTP port actually bound, `None` when `admin-port` is 0.
    pub port: Option<u16>,
    obs: Arc<Observability>,
    threads: Vec<JoinHandle<()>>,
}

impl AdminThreads {
    /// Readiness fails from now on (shutdown has begun).
    pub fn shutting_down(&self) {
        self.obs.shutting_down.store(true, Relaxed);
    }

    /// Asks every admin thread to exit and waits for them (each looks at the flag at least
    /// every 100 ms).
    pub fn stop(&mut self) {
        self.obs.stopping.store(true, Relaxed);
        for thread in self.threads.drain(..) {
            let _ = thread.join();
        }
    }
}

impl Drop for AdminThreads {
    fn drop(&mut self) {
        self.stop();
    }
}

/// How long an admin thread sleeps at most before looking at the stop flag again.
const STOP_POLL: Duration = Duration::from_millis(100);

/// Binds the admin listener (unless `admin-port` is 0) and starts the admin, watchdog and disk
/// probe threads. A bind failure is returned, like the main port's, so a misconfigured instance
/// does not run without the health endpoint its orchestrator expects.
pub fn start(obs: Arc<Observability>, config: &Config) -> std::io::Result<AdminThreads> {
    let mut threads = Vec::new();
    let mut port = None;
    if config.admin_port != 0 {
        let bind = if config.admin_bind.is_empty() {
            config
                .bind
                .first()
                .map(|b| b.trim_start_matches('-').to_string())
                .unwrap_or_else(|| "127.0.0.1".into())
        } else {
            config.admin_bind.clone()
        };
        let host = match bind.as_str() {
            "*" => "0.0.0.0".to_string(),
            "::*" => "::".to_string(),
            other => other.to_string(),
        };
        let listener = TcpListener::bind((host.as_str(), config.admin_port)).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!("admin listener {host}:{}: {e}", config.admin_port),
            )
        })?;
        port = Some(listener.local_addr()?.port());
        let obs = obs.clone();
        threads.push(
            std::thread::Builder::new()
                .name("shardis-admin".into())
                .spawn(move || http::serve(listener, obs))?,
        );
    }
    let watchdog_obs = obs.clone();
    threads.push(
        std::thread::Builder::new()
            .name("shardis-watchdog".into())
            .spawn(move || health::watchdog(watchdog_obs))?,
    );
    let dir = config.dir.clone();
    let probe_obs = obs.clone();
    threads.push(
        std::thread::Builder::new()
            .name("shardis-diskprobe".into())
            .spawn(move || disk::probe_loop(probe_obs, dir))?,
    );
    Ok(AdminThreads { port, obs, threads })
}
