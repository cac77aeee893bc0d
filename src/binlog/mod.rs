//! Durability: a per-shard binlog of every write, snapshots, recovery and point-in-time restore.
//!
//! ```text
//!  Shard::execute ──write ran──▶ effect (deterministic form) ──▶ writer.append (turn buffer)
//!  end of loop turn ──▶ writer.flush: one write(2) ──▶ fsync thread (always: now; everysec: 1/s)
//!  replies of writes leave once their position is written (everysec/no) or durable (always)
//!  start-up ──▶ recovery: every shard in parallel: newest snapshot, then replay its segments
//! ```
//!
//! Files: `record` (the format, byte by byte), `segment` (names and directories), `writer`
//! (buffer, rotation, fsync, failures), `effect` (what is logged for a command), `recovery`
//! (start-up replay, torn tails, cross-shard transactions), `snapshot` (value encoding and snapshot
//! files), `restore` (`shardis restore`, point-in-time), `check` (`shardis check-binlog`).
//!
//! # Cross-shard atomicity after a crash
//!
//! A command the coordinator splits over several shards (MSET, MSETNX, DEL, RENAME, COPY, FLUSHALL
//! ...) runs as one transaction; every part a shard logs carries the transaction id and the number
//! of shards that log a part (`participants`). A shard logs its part even when the part changed
//! nothing, so the count is exact. Recovery first reads every shard's records to count, for each
//! transaction id, the shards that have a part of it, and then replays a part only when all its
//! participants' parts are present: a crash between the parts' writes loses the whole command,
//! never half of it. Transaction ids include the server's start time, so ids from different runs
//! never meet.

pub mod check;
pub mod effect;
pub mod record;
pub mod recovery;
pub mod restore;
pub mod segment;
pub mod snapshot;
pub mod writer;

pub use writer::{Fsync, TxTag, Writer, WriterOptions};

/// `io::Error` text without Rust's " (os error N)" suffix, as Redis prints `strerror`.
pub fn strerror(error: &std::io::Error) -> String {
    let text = error.to_string();
    match text.find(" (os error") {
        Some(end) => text[..end].to_string(),
        None => text,
    }
}

/// Seconds since the Unix epoch.
pub fn unix_seconds() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
