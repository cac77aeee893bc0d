//! Binlog retention: once a snapshot is on disk, the segments wholly before it are needed only for
//! point-in-time restore (and, later, replicas catching up); they are kept for `binlog-retention`
//! (an age and a total size), oldest deleted first, and older snapshots go with them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::segment;
use super::snapshot::list_snapshots;

/// Retention after a snapshot at `keep_from`: segments wholly before it are kept while younger
/// than `max_age` and while their total stays under `max_bytes` (oldest go first); older snapshots
/// are kept only as long as the segments after them are (point-in-time restore needs both).
/// Returns (segments deleted, bytes deleted).
pub fn apply_retention(
    shard_dir: &Path,
    keep_from: u64,
    max_age: Duration,
    max_bytes: u64,
) -> (u64, u64) {
    let Ok(segments) = segment::list_segments(shard_dir) else {
        return (0, 0);
    };
    // A segment is wholly before the snapshot when the next one starts at or before keep_from+1.
    let mut old: Vec<(u64, PathBuf, u64, Option<std::time::SystemTime>)> = Vec::new();
    for (index, (first, path)) in segments.iter().enumerate() {
        let Some((next_first, _)) = segments.get(index + 1) else {
            break;
        };
        if *next_first > keep_from + 1 {
            break;
        }
        let meta = std::fs::metadata(path).ok();
        let size = meta.as_ref().map_or(0, |m| m.len());
        old.push((
            *first,
            path.clone(),
            size,
            meta.and_then(|m| m.modified().ok()),
        ));
    }
    let mut total: u64 = old.iter().map(|s| s.2).sum();
    let (mut deleted, mut deleted_bytes) = (0, 0);
    let mut oldest_kept = keep_from;
    for (first, path, size, modified) in old {
        let too_old = modified
            .and_then(|m| m.elapsed().ok())
            .is_some_and(|age| age > max_age);
        if too_old || total > max_bytes {
            if std::fs::remove_file(&path).is_ok() {
                deleted += 1;
                deleted_bytes += size;
                total -= size;
            }
        } else {
            oldest_kept = oldest_kept.min(first.saturating_sub(1));
        }
    }
    // Snapshots older than the newest are useful only with the segments after them.
    if let Ok(snapshots) = list_snapshots(shard_dir) {
        for snapshot in snapshots {
            if snapshot.position < keep_from && snapshot.position < oldest_kept {
                let _ = std::fs::remove_file(&snapshot.path);
            }
        }
    }
    (deleted, deleted_bytes)
}
