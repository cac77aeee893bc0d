//! Where a shard's binlog lives: `<dir>/shard-<n>/binlog-<first position, 20 digits>.log`.
//!
//! Segments are named after the position of their first record, so sorting names sorts them by
//! position and finding where a position lives needs no file opened. A segment is only ever
//! appended to; rotation closes it and starts the next one. Snapshots sit beside them as
//! `snapshot-<position, 20 digits>.snap` (see `snapshot`).

use std::path::{Path, PathBuf};

/// The directory of shard `shard` under the data directory.
pub fn shard_dir(dir: &Path, shard: usize) -> PathBuf {
    dir.join(format!("shard-{shard}"))
}

pub fn segment_name(first_position: u64) -> String {
    format!("binlog-{first_position:020}.log")
}

/// The first position a segment file name announces.
pub fn parse_segment_name(name: &str) -> Option<u64> {
    name.strip_prefix("binlog-")?
        .strip_suffix(".log")?
        .parse()
        .ok()
}

/// A shard's segments, oldest first: (first position, path).
pub fn list_segments(shard_dir: &Path) -> std::io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    let entries = match std::fs::read_dir(shard_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(segments),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        if let Some(first) = entry.file_name().to_str().and_then(parse_segment_name) {
            segments.push((first, entry.path()));
        }
    }
    segments.sort();
    Ok(segments)
}

/// The shard directories present under `dir`: (shard id, path), by id.
pub fn list_shards(dir: &Path) -> std::io::Result<Vec<(usize, PathBuf)>> {
    let mut shards = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(shards),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let id = entry
            .file_name()
            .to_str()
            .and_then(|n| n.strip_prefix("shard-").and_then(|n| n.parse().ok()));
        if let Some(id) = id {
            shards.push((id, entry.path()));
        }
    }
    shards.sort();
    Ok(shards)
}

/// fsync of a directory, so a file created or renamed in it survives a crash.
pub fn sync_dir(dir: &Path) -> std::io::Result<()> {
    std::fs::File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_sort_by_position() {
        let a = segment_name(9);
        let b = segment_name(10);
        assert!(a < b);
        assert_eq!(parse_segment_name(&b), Some(10));
        assert_eq!(parse_segment_name("binlog-x.log"), None);
    }
}
