//! The disk probe: a small write and fsync in the data directory every `disk-probe-interval` ms.
//!
//! An error (EIO, ENOSPC, a missing directory, ...) or an fsync slower than
//! `disk-latency-threshold` marks the disk unhealthy; the next probe that succeeds in time clears
//! it. The probe runs on its own thread, so a hung fsync stalls only the probe: readers call
//! [`DiskHealth::status`], which also counts a probe in flight past the threshold as slow.
//!
//! The failpoint ([`Failpoint`], set by `DEBUG DISK-FAILPOINT`) replaces the real outcome with an
//! error or adds a delay before the fsync; only this thread reads it, never the data path.

use std::io::Write;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::Observability;

/// What the failpoint makes the probe do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failpoint {
    Off,
    /// Fail with this errno (EIO, ENOSPC).
    Error(i32),
    /// Sleep this long before the fsync.
    Slow(Duration),
}

/// The disk's health as the probe last saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskStatus {
    pub healthy: bool,
    /// Why not, when not healthy.
    pub reason: String,
    /// Duration of the last finished probe's write + fsync.
    pub last_latency: Duration,
}

#[derive(Default)]
pub struct DiskHealth {
    /// The last probe's error, "" when it succeeded in time. A Mutex is fine here: only the probe
    /// thread and the admin readers touch it, never a shard.
    error: Mutex<String>,
    pub probes_total: AtomicU64,
    pub failures_total: AtomicU64,
    pub last_latency_ns: AtomicU64,
    /// ns since the epoch when the probe in flight started; 0 when none is.
    pub in_flight_since_ns: AtomicU64,
    /// Unix seconds of the last finished probe.
    pub last_probe_unix: AtomicU64,
    failpoint: Mutex<Option<Failpoint>>,
}

impl DiskHealth {
    pub fn set_failpoint(&self, failpoint: Failpoint) {
        if let Ok(mut slot) = self.failpoint.lock() {
            *slot = (failpoint != Failpoint::Off).then_some(failpoint);
        }
    }

    fn failpoint(&self) -> Option<Failpoint> {
        self.failpoint.lock().ok().and_then(|slot| *slot)
    }

    /// The health now: the last probe's verdict, or slow if the one in flight is overdue.
    pub fn status(&self, now_ns: u64, threshold: Duration) -> DiskStatus {
        let last_latency = Duration::from_nanos(self.last_latency_ns.load(Relaxed));
        let in_flight = self.in_flight_since_ns.load(Relaxed);
        if in_flight != 0 {
            let running = Duration::from_nanos(now_ns.saturating_sub(in_flight));
            if running > threshold {
                return DiskStatus {
                    healthy: false,
                    reason: format!(
                        "disk probe write+fsync still running after {} ms (threshold {} ms)",
                        running.as_millis(),
                        threshold.as_millis()
                    ),
                    last_latency,
                };
            }
        }
        let error = self.error.lock().map(|e| e.clone()).unwrap_or_default();
        DiskStatus {
            healthy: error.is_empty(),
            reason: error,
            last_latency,
        }
    }
}

const PROBE_FILE: &str = ".shardis-disk-probe";

/// One probe: write a small block, fsync it. Returns how long it took.
fn probe_once(dir: &std::path::Path, failpoint: Option<Failpoint>) -> std::io::Result<Duration> {
    let started = Instant::now();
    if let Some(Failpoint::Error(errno)) = failpoint {
        return Err(std::io::Error::from_raw_os_error(errno));
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .open(dir.join(PROBE_FILE))?;
    file.write_all(&[0x5a; 512])?;
    if let Some(Failpoint::Slow(delay)) = failpoint {
        std::thread::sleep(delay);
    }
    file.sync_all()?;
    Ok(started.elapsed())
}

/// The probe thread's loop; returns when the server stops.
pub fn probe_loop(obs: Arc<Observability>, dir: PathBuf) {
    let disk = &obs.disk;
    let mut was_healthy = true;
    loop {
        let interval = obs.settings.disk_probe_interval_ms.load(Relaxed);
        let threshold = Duration::from_millis(obs.settings.disk_latency_threshold_ms.load(Relaxed));
        if interval > 0 {
            disk.in_flight_since_ns.store(obs.now_ns().max(1), Relaxed);
            let outcome = probe_once(&dir, disk.failpoint());
            disk.in_flight_since_ns.store(0, Relaxed);
            disk.probes_total.fetch_add(1, Relaxed);
            disk.last_probe_unix
                .store(super::stats::unix_micros() / 1_000_000, Relaxed);
            let error = match outcome {
                Ok(took) => {
                    disk.last_latency_ns.store(took.as_nanos() as u64, Relaxed);
                    if took > threshold {
                        format!(
                            "disk probe write+fsync took {} ms (threshold {} ms)",
                            took.as_millis(),
                            threshold.as_millis()
                        )
                    } else {
                        String::new()
                    }
                }
                Err(error) => format!("disk probe in {} failed: {}", dir.display(), error),
            };
            if !error.is_empty() {
                disk.failures_total.fetch_add(1, Relaxed);
            }
            let healthy = error.is_empty();
            if healthy != was_healthy {
                if healthy {
                    info!("disk is healthy again");
                } else {
                    warn!(%error, "disk unhealthy");
                }
                was_healthy = healthy;
            }
            if let Ok(mut slot) = disk.error.lock() {
                *slot = error;
            }
        }
        // Sleep in short steps so shutdown and a shorter interval set by CONFIG SET are seen.
        let deadline = Instant::now() + Duration::from_millis(interval.max(100));
        while Instant::now() < deadline {
            if obs.stopping.load(Relaxed) {
                return;
            }
            let step = deadline.saturating_duration_since(Instant::now());
            std::thread::sleep(
                step.min(Duration::from_millis(
                    obs.settings
                        .disk_probe_interval_ms
                        .load(Relaxed)
                        .clamp(1, 100),
                )),
            );
            if obs.settings.disk_probe_interval_ms.load(Relaxed) != interval {
                break;
            }
        }
    }
}

/// `DEBUG DISK-FAILPOINT OFF | EIO | ENOSPC | SLOW <ms>`.
pub fn parse_failpoint(args: &[bytes::Bytes]) -> Result<Failpoint, String> {
    let word = |i: usize| {
        args.get(i)
            .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
    };
    match (word(2).as_deref(), args.len()) {
        (Some("off"), 3) => Ok(Failpoint::Off),
        (Some("eio"), 3) => Ok(Failpoint::Error(libc::EIO)),
        (Some("enospc"), 3) => Ok(Failpoint::Error(libc::ENOSPC)),
        (Some("slow"), 4) => word(3)
            .and_then(|ms| ms.parse::<u64>().ok())
            .map(|ms| Failpoint::Slow(Duration::from_millis(ms)))
            .ok_or_else(|| "ERR value is not an integer or out of range".to_string()),
        _ => Err("ERR DEBUG DISK-FAILPOINT takes OFF, EIO, ENOSPC or SLOW <ms>".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probe_writes_and_fails_on_request() {
        let dir = std::env::temp_dir().join(format!("shardis-probe-{}", fastrand::u64(..)));
        std::fs::create_dir_all(&dir).unwrap();
        assert!(probe_once(&dir, None).is_ok());
        let error = probe_once(&dir, Some(Failpoint::Error(libc::ENOSPC))).unwrap_err();
        assert_eq!(error.raw_os_error(), Some(libc::ENOSPC));
        let slow = probe_once(&dir, Some(Failpoint::Slow(Duration::from_millis(30)))).unwrap();
        assert!(slow >= Duration::from_millis(30));
        assert!(probe_once(&dir.join("missing"), None).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_probe_in_flight_past_the_threshold_is_slow() {
        let disk = DiskHealth::default();
        assert!(disk.status(10, Duration::from_millis(5)).healthy);
        disk.in_flight_since_ns.store(1, Relaxed);
        let status = disk.status(20_000_000, Duration::from_millis(5));
        assert!(!status.healthy);
        assert!(status.reason.contains("still running"));
    }
}
