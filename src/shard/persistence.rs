//! A shard's side of snapshots: starting one at a cut, stepping it, the `save` rules
//! and `save-schedule`, and binlog retention once a snapshot is on disk (see `binlog::snapshot`).

use std::path::Path;
use std::time::Duration;

use crate::binlog::segment;
use crate::binlog::snapshot::{self, Outcome};
use crate::config::Config;

use super::Shard;

/// Redis's CONFIG_BGSAVE_RETRY_DELAY: after a failed snapshot, the save rules wait this long.
const RETRY_DELAY: Duration = Duration::from_secs(5);

impl Shard {
    fn failpoint(&self) -> Option<i32> {
        self.binlog.as_ref().and_then(|w| w.options().failpoint)
    }

    /// Takes a snapshot cut now, at the binlog's last position.
    pub fn start_snapshot(&mut self, dir: &Path, now_ms: u64) -> Result<(), String> {
        // A script's writes are in memory but their records are held back until it ends: a cut
        // now would hold them and replay them again after it. Try again once it ended.
        if self.capturing() {
            return Err("a script is running on this shard, try again".into());
        }
        let position = self.binlog_position();
        let timestamp = self.last_timestamp_ms.max(now_ms);
        let failpoint = self.failpoint();
        let shard_dir = segment::shard_dir(dir, self.id);
        let started = self.snapshots.start(
            &mut self.keyspace,
            &shard_dir,
            self.id,
            position,
            timestamp,
            failpoint,
        );
        if let Err(error) = started {
            let cause = crate::binlog::strerror(&error);
            self.snapshots.record_failure(cause.clone());
            return Err(cause);
        }
        Ok(())
    }

    /// Runs the snapshot in progress to its end (SAVE), waiting for it to be on disk.
    pub fn finish_snapshot(&mut self) -> Result<(), String> {
        let failpoint = self.failpoint();
        match self.snapshots.step(&mut self.keyspace, true, failpoint) {
            Some(Outcome::Saved(info)) => {
                self.after_snapshot(&info, None);
                Ok(())
            }
            Some(Outcome::Failed(cause)) => Err(cause),
            None => Err("the snapshot did not finish".into()),
        }
    }

    /// One bounded step of the snapshot in progress (see [`snapshot::Snapshots::step`]); false
    /// when none is in progress any more.
    pub fn snapshot_step(&mut self, config: &Config) -> bool {
        if !self.snapshots.in_progress() {
            return false;
        }
        let failpoint = self.failpoint();
        if let Some(Outcome::Saved(info)) =
            self.snapshots.step(&mut self.keyspace, false, failpoint)
        {
            self.after_snapshot(&info, Some(config));
        }
        self.snapshots.in_progress()
    }

    /// Starts a snapshot when a `save` rule or the `save-schedule` says so. The steps of one in
    /// progress are driven by the server (every millisecond, see `server::snapshot_driver`).
    pub fn snapshot_tick(&mut self, config: &Config, now_ms: u64, scheduled: bool) {
        if self.snapshots.in_progress() {
            return;
        }
        if scheduled || self.save_rule_due(config, now_ms) {
            let _ = self.start_snapshot(&config.dir, now_ms);
        }
    }

    /// Redis's `save <seconds> <changes>`: any rule whose both conditions hold. After a failure,
    /// wait [`RETRY_DELAY`] before trying again.
    fn save_rule_due(&self, config: &Config, now_ms: u64) -> bool {
        if self
            .snapshots
            .failed_at
            .is_some_and(|at| at.elapsed() < RETRY_DELAY)
        {
            return false;
        }
        let changes = self
            .binlog_position()
            .saturating_sub(self.snapshots.last_position);
        if changes == 0 {
            return false;
        }
        let since = (now_ms / 1000).saturating_sub(self.snapshots.last_save_unix);
        config
            .save_rules()
            .iter()
            .any(|&(seconds, min_changes)| since >= seconds && changes >= min_changes)
            || self.snapshots.failure.is_some()
    }

    fn after_snapshot(&mut self, info: &snapshot::SnapshotInfo, config: Option<&Config>) {
        let Some(writer) = self.binlog.as_mut() else {
            return;
        };
        let (max_age, max_bytes) = config.map_or((86_400, 1 << 30), |c| {
            (c.binlog_retention_seconds, c.binlog_retention_bytes)
        });
        let dir = writer.dir().to_path_buf();
        let (segments, bytes) = crate::binlog::retention::apply_retention(
            &dir,
            info.position,
            Duration::from_secs(max_age),
            max_bytes,
        );
        writer.forget_segments(segments, bytes);
    }
}
