//! Liveness, readiness and the stall watchdog.
//!
//! Readiness is computed on every request from the published heartbeats and the disk probe, so it
//! is exact to the moment it is asked and never waits on a shard. A shard whose heartbeat is older
//! than `shard-stall-threshold` is stalled: one loop turn (one command, usually) has held it that
//! long. The watchdog thread watches the same heartbeats to log each stall once, with the command
//! running and for how long, and to count it.

use std::fmt::Write as _;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::Observability;

/// Why the instance is not ready.
#[derive(Debug, Clone, PartialEq)]
pub enum Problem {
    ShardStalled {
        shard: usize,
        stalled_for: Duration,
        /// The command running on it and for how long, when one is.
        command: Option<(&'static str, Duration)>,
    },
    DiskUnhealthy {
        reason: String,
    },
    ShuttingDown,
}

/// Shards stalled now: `(shard, no progress for, command running)`.
pub fn stalled_shards(obs: &Observability) -> Vec<Problem> {
    let now = obs.now_ns();
    let threshold = Duration::from_millis(obs.settings.shard_stall_threshold_ms.load(Relaxed));
    obs.shards
        .iter()
        .enumerate()
        .filter_map(|(shard, stats)| {
            let heartbeat = stats.heartbeat_ns.load(Relaxed);
            let stalled_for = Duration::from_nanos(now.saturating_sub(heartbeat));
            (stalled_for > threshold).then(|| Problem::ShardStalled {
                shard,
                stalled_for,
                command: stats.running(now),
            })
        })
        .collect()
}

/// Everything that keeps the instance from being ready; empty when ready.
pub fn problems(obs: &Observability) -> Vec<Problem> {
    if obs.shutting_down.load(Relaxed) || obs.stopping.load(Relaxed) {
        return vec![Problem::ShuttingDown];
    }
    let mut problems = stalled_shards(obs);
    let threshold = Duration::from_millis(obs.settings.disk_latency_threshold_ms.load(Relaxed));
    let disk = obs.disk.status(obs.now_ns(), threshold);
    if !disk.healthy {
        problems.push(Problem::DiskUnhealthy {
            reason: disk.reason,
        });
    }
    problems
}

/// A JSON string literal.
fn json_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The body of `/health/ready`: `{"status":"ok"}` or `{"status":"unavailable","reasons":[...]}`,
/// each reason naming what is wrong (`shard_stalled` with the shard, the command and how long,
/// `disk_unhealthy` with the probe's error, `shutting_down`).
pub fn ready_json(problems: &[Problem]) -> String {
    if problems.is_empty() {
        return "{\"status\":\"ok\"}\n".to_string();
    }
    let reasons: Vec<String> = problems
        .iter()
        .map(|problem| match problem {
            Problem::ShardStalled {
                shard,
                stalled_for,
                command,
            } => {
                let mut text = format!(
                    "{{\"reason\":\"shard_stalled\",\"shard\":{},\"stalled_ms\":{}",
                    shard,
                    stalled_for.as_millis()
                );
                if let Some((name, running)) = command {
                    let _ = write!(
                        text,
                        ",\"command\":{},\"running_ms\":{}",
                        json_string(name),
                        running.as_millis()
                    );
                }
                let _ = write!(
                    text,
                    ",\"message\":{}}}",
                    json_string(&describe(*shard, *stalled_for, *command))
                );
                text
            }
            Problem::DiskUnhealthy { reason } => format!(
                "{{\"reason\":\"disk_unhealthy\",\"message\":{}}}",
                json_string(reason)
            ),
            Problem::ShuttingDown => {
                "{\"reason\":\"shutting_down\",\"message\":\"the server is shutting down\"}"
                    .to_string()
            }
        })
        .collect();
    format!(
        "{{\"status\":\"unavailable\",\"reasons\":[{}]}}\n",
        reasons.join(",")
    )
}

/// "shard 2 running DEBUG for 350 ms" (or "shard 2 made no progress for 350 ms").
pub fn describe(
    shard: usize,
    stalled_for: Duration,
    command: Option<(&'static str, Duration)>,
) -> String {
    match command {
        Some((name, running)) => format!(
            "shard {} running {} for {} ms",
            shard,
            name.to_ascii_uppercase(),
            running.as_millis()
        ),
        None => format!(
            "shard {} made no progress for {} ms",
            shard,
            stalled_for.as_millis()
        ),
    }
}

/// The watchdog thread: logs each stall once when it starts and once when it ends, and counts it.
pub fn watchdog(obs: Arc<Observability>) {
    // When each shard's current stall was first seen.
    let mut since: Vec<Option<std::time::Instant>> = vec![None; obs.shards.len()];
    while !obs.stopping.load(Relaxed) {
        obs.clock.calibrate();
        let threshold = obs.settings.shard_stall_threshold_ms.load(Relaxed).max(1);
        let stalled = stalled_shards(&obs);
        for (shard, stats) in obs.shards.iter().enumerate() {
            let now_stalled = stalled
                .iter()
                .find(|p| matches!(p, Problem::ShardStalled { shard: s, .. } if *s == shard));
            let was_stalled = stats.stalled.load(Relaxed) == 1;
            match (was_stalled, now_stalled) {
                (
                    false,
                    Some(Problem::ShardStalled {
                        stalled_for,
                        command,
                        ..
                    }),
                ) => {
                    stats.stalled.store(1, Relaxed);
                    since[shard] = std::time::Instant::now().checked_sub(*stalled_for);
                    stats
                        .stalls_total
                        .store(stats.stalls_total.load(Relaxed) + 1, Relaxed);
                    warn!(
                        shard,
                        threshold_ms = threshold,
                        "shard stalled: {}",
                        describe(shard, *stalled_for, *command)
                    );
                }
                (true, None) => {
                    stats.stalled.store(0, Relaxed);
                    let lasted = since[shard].take().map(|s| s.elapsed().as_millis());
                    info!(
                        shard,
                        "shard making progress again after a stall of about {} ms",
                        lasted.unwrap_or(0)
                    );
                }
                _ => {}
            }
        }
        // A tenth of the threshold keeps the log and the count within 10% of the stall's start.
        std::thread::sleep(Duration::from_millis((threshold / 10).clamp(1, 10)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ready_json_names_the_stalled_shard_and_command() {
        assert_eq!(ready_json(&[]), "{\"status\":\"ok\"}\n");
        let body = ready_json(&[
            Problem::ShardStalled {
                shard: 2,
                stalled_for: Duration::from_millis(352),
                command: Some(("debug", Duration::from_millis(350))),
            },
            Problem::DiskUnhealthy {
                reason: "disk probe failed: \"EIO\"".into(),
            },
        ]);
        assert!(body.starts_with("{\"status\":\"unavailable\",\"reasons\":[{\"reason\":\"shard_stalled\",\"shard\":2,\"stalled_ms\":352,\"command\":\"debug\",\"running_ms\":350,\"message\":\"shard 2 running DEBUG for 350 ms\"}"), "{body}");
        assert!(body.contains("\\\"EIO\\\""), "{body}");
    }
}
