//! Start-up recovery: every shard's keyspace rebuilt from its newest snapshot and its binlog.
//!
//! Two passes, each over all shards in parallel (one thread per shard):
//!
//! 1. **Check and count.** Read every segment, verify every record's CRC, truncate a torn tail of a
//!    shard's last segment (with a warning, as Redis's `aof-load-truncated yes`; refused when it is
//!    `no`), and stop with [`RecoveryError::Corrupt`] at damage anywhere else, naming the file, the
//!    offset and the repair command. Count, for each cross-shard transaction id, the shards holding a
//!    part of it (see the module doc of `binlog`).
//! 2. **Replay.** Load the newest snapshot, then run every record after its position against the
//!    keyspace "at" the record's timestamp, skipping the parts of transactions that are not complete.
//!
//! [`RecoverOptions::up_to_ms`] stops each shard's replay before its first record later than that
//! moment, and keeps only transactions whose every part is that old: what `shardis restore` uses.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use tracing::{info, warn};

use super::record::{self, Body, Damage, Record};
use super::segment;
use super::snapshot;
use crate::command::{self, CommandLimits, ExecContext};
use crate::keyspace::{Entry, Keyspace};

#[derive(Debug, thiserror::Error)]
pub enum RecoveryError {
    #[error("can't read '{path}': {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("Bad file format reading the binlog '{file}' at offset {offset}: {reason}. The records from there on can't be trusted; to drop them and start, run: shardis check-binlog --fix {file}")]
    Corrupt {
        file: String,
        offset: usize,
        reason: String,
    },
    #[error("The binlog '{file}' ends with a partial record at offset {offset} and aof-load-truncated is no. To drop it and start, run: shardis check-binlog --fix {file} (or set aof-load-truncated yes)")]
    Truncated { file: String, offset: usize },
    #[error("Bad snapshot '{file}': {reason}. Move it away to recover from the binlog alone.")]
    BadSnapshot { file: String, reason: String },
}

#[derive(Debug, Clone)]
pub struct RecoverOptions {
    pub shards: usize,
    pub databases: usize,
    /// Truncate a torn tail (true) or refuse to start (false).
    pub load_truncated: bool,
    /// Point-in-time: replay nothing later than this (ms since the epoch).
    pub up_to_ms: Option<u64>,
    /// Change nothing on disk (restore reads a source it must not modify).
    pub read_only: bool,
}

/// One shard after recovery.
pub struct ShardState {
    pub keyspace: Keyspace,
    /// Position for the next record.
    pub next_position: u64,
    /// Timestamp of the last record replayed (the writer keeps timestamps monotonic from it).
    pub last_timestamp_ms: u64,
    /// Segments on disk and their bytes.
    pub segments: u64,
    pub segment_bytes: u64,
    /// The snapshot loaded, if any: its position and when it was written.
    pub snapshot: Option<snapshot::SnapshotInfo>,
    pub replayed: u64,
}

/// What pass 1 learnt about one shard.
#[derive(Default)]
struct Census {
    /// Transaction id -> (participants, newest timestamp of this shard's parts).
    transactions: HashMap<u64, (u16, u64)>,
    segments: Vec<(u64, PathBuf)>,
    bytes: u64,
}

/// Rebuilds every shard. Fails on corruption, with a message naming the file and the fix.
pub fn recover(dir: &Path, options: &RecoverOptions) -> Result<Vec<ShardState>, RecoveryError> {
    let started = std::time::Instant::now();
    let censuses: Vec<Result<Census, RecoveryError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..options.shards)
            .map(|shard| scope.spawn(move || census(dir, shard, options)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(panicked())))
            .collect()
    });
    let censuses = censuses.into_iter().collect::<Result<Vec<_>, _>>()?;
    let complete = complete_transactions(&censuses, options.up_to_ms);
    let complete = &complete;
    let states: Vec<Result<ShardState, RecoveryError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = censuses
            .into_iter()
            .enumerate()
            .map(|(shard, census)| {
                scope.spawn(move || replay_shard(dir, shard, census, complete, options))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|_| Err(panicked())))
            .collect()
    });
    let states = states.into_iter().collect::<Result<Vec<_>, _>>()?;
    let keys: usize = states.iter().map(|s| s.keyspace.total_keys()).sum();
    let replayed: u64 = states.iter().map(|s| s.replayed).sum();
    if replayed > 0 || keys > 0 {
        info!(
            keys,
            records = replayed,
            "DB loaded from the binlog: {:.3} seconds",
            started.elapsed().as_secs_f64()
        );
    }
    Ok(states)
}

fn panicked() -> RecoveryError {
    RecoveryError::Io {
        path: "recovery thread".into(),
        source: std::io::Error::other("panicked"),
    }
}

fn read(path: &Path) -> Result<Vec<u8>, RecoveryError> {
    std::fs::read(path).map_err(|source| RecoveryError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn census(dir: &Path, shard: usize, options: &RecoverOptions) -> Result<Census, RecoveryError> {
    let shard_dir = segment::shard_dir(dir, shard);
    let segments = segment::list_segments(&shard_dir).map_err(|source| RecoveryError::Io {
        path: shard_dir.display().to_string(),
        source,
    })?;
    let mut census = Census::default();
    // A torn tail can only be in the newest segment that holds anything (a start-up or a
    // rotation may have created empty segments after it).
    let last = segments
        .iter()
        .rposition(|(_, path)| std::fs::metadata(path).is_ok_and(|m| m.len() > 0))
        .unwrap_or(0);
    for (index, (_, path)) in segments.iter().enumerate() {
        let bytes = read(path)?;
        let end = record::scan(&bytes, |record| {
            if record.tx != 0 {
                let slot = census
                    .transactions
                    .entry(record.tx)
                    .or_insert((record.participants, 0));
                slot.1 = slot.1.max(record.timestamp_ms);
            }
        });
        let file = path.display().to_string();
        if let Some((offset, damage, reaches_end)) = end.damage {
            if !reaches_end || index != last || damage == Damage::Malformed {
                return Err(RecoveryError::Corrupt {
                    file,
                    offset,
                    reason: describe(&damage).into(),
                });
            }
            if !options.load_truncated {
                return Err(RecoveryError::Truncated { file, offset });
            }
            warn!(
                "!!! Warning: short read while loading the binlog '{file}'; truncating it at offset {offset} (the last write was interrupted) !!!"
            );
            if !options.read_only {
                truncate(path, offset as u64).map_err(|source| RecoveryError::Io {
                    path: file.clone(),
                    source,
                })?;
            }
        }
        census.bytes += end.valid_len as u64;
    }
    census.segments = segments;
    Ok(census)
}

pub fn describe(damage: &Damage) -> &'static str {
    match damage {
        Damage::Truncated => "the file ends inside a record",
        Damage::BadChecksum => "CRC mismatch",
        Damage::Malformed => "malformed record",
    }
}

/// Cuts a segment at `len` bytes and syncs it.
pub fn truncate(path: &Path, len: u64) -> std::io::Result<()> {
    let file = std::fs::OpenOptions::new().write(true).open(path)?;
    file.set_len(len)?;
    file.sync_all()
}

/// Transactions every participant of which logged its part (no later than `up_to_ms`).
fn complete_transactions(censuses: &[Census], up_to_ms: Option<u64>) -> HashSet<u64> {
    let mut seen: HashMap<u64, (u16, u16, u64)> = HashMap::new();
    for census in censuses {
        for (&tx, &(participants, newest)) in &census.transactions {
            let slot = seen.entry(tx).or_insert((participants, 0, 0));
            slot.1 += 1;
            slot.2 = slot.2.max(newest);
        }
    }
    seen.into_iter()
        .filter(|(_, (participants, present, newest))| {
            present >= participants && up_to_ms.is_none_or(|limit| *newest <= limit)
        })
        .map(|(tx, _)| tx)
        .collect()
}

fn replay_shard(
    dir: &Path,
    shard: usize,
    census: Census,
    complete: &HashSet<u64>,
    options: &RecoverOptions,
) -> Result<ShardState, RecoveryError> {
    let shard_dir = segment::shard_dir(dir, shard);
    let (mut keyspace, snapshot) =
        snapshot::load_newest(&shard_dir, options.databases, options.up_to_ms)?;
    let from = snapshot.as_ref().map_or(0, |s| s.position);
    let mut state = Replay {
        keyspace: &mut keyspace,
        limits: CommandLimits::default(),
        last_position: from,
        last_timestamp: snapshot.as_ref().map_or(0, |s| s.timestamp_ms),
        replayed: 0,
        stopped: false,
        error: None,
    };
    for (index, (first, path)) in census.segments.iter().enumerate() {
        // Skip segments wholly before the snapshot: the next one starts at or before `from + 1`.
        let next_first = census.segments.get(index + 1).map(|(f, _)| *f);
        if next_first.is_some_and(|next| next <= from + 1) && *first <= from {
            continue;
        }
        if state.stopped {
            break;
        }
        let bytes = read(path)?;
        record::scan(&bytes, |record| {
            if state.stopped || state.error.is_some() || record.position <= from {
                return;
            }
            if options
                .up_to_ms
                .is_some_and(|limit| record.timestamp_ms > limit)
            {
                state.stopped = true;
                return;
            }
            state.last_position = record.position;
            state.last_timestamp = state.last_timestamp.max(record.timestamp_ms);
            if record.tx != 0 && !complete.contains(&record.tx) {
                return;
            }
            if let Err(reason) = state.apply(record) {
                state.error = Some(reason);
            }
        });
        if let Some(reason) = state.error.take() {
            return Err(RecoveryError::Corrupt {
                file: path.display().to_string(),
                offset: 0,
                reason,
            });
        }
    }
    // Positions never go back, even past records a point-in-time replay left out.
    let last_on_disk = last_position_on_disk(&census).max(state.last_position);
    let (last_timestamp, replayed) = (state.last_timestamp, state.replayed);
    Ok(ShardState {
        keyspace,
        next_position: last_on_disk + 1,
        last_timestamp_ms: last_timestamp,
        segments: census.segments.len() as u64,
        segment_bytes: census.bytes,
        snapshot,
        replayed,
    })
}

/// The last position recorded in the newest non-empty segment.
fn last_position_on_disk(census: &Census) -> u64 {
    for (_, path) in census.segments.iter().rev() {
        let Ok(bytes) = std::fs::read(path) else {
            continue;
        };
        let mut last = None;
        record::scan(&bytes, |record| last = Some(record.position));
        if let Some(last) = last {
            return last;
        }
    }
    0
}

struct Replay<'a> {
    keyspace: &'a mut Keyspace,
    limits: CommandLimits,
    last_position: u64,
    last_timestamp: u64,
    replayed: u64,
    stopped: bool,
    error: Option<String>,
}

impl Replay<'_> {
    fn apply(&mut self, record: Record) -> Result<(), String> {
        let db = record.db as usize;
        if db >= self.keyspace.databases() {
            return Err(format!(
                "record {} names database {db}, but only {} are configured",
                record.position,
                self.keyspace.databases()
            ));
        }
        self.replayed += 1;
        apply_record(self.keyspace, &self.limits, record)
    }
}

/// Applies one record to a keyspace (replay and restore).
pub fn apply_record(
    keyspace: &mut Keyspace,
    limits: &CommandLimits,
    record: Record,
) -> Result<(), String> {
    let db = record.db as usize;
    match record.body {
        // A transaction part that changed nothing is logged empty, only to be counted.
        Body::Command(args) if args.is_empty() => Ok(()),
        Body::Command(args) => {
            let mut ctx = ExecContext {
                keyspace,
                db_index: db,
                now_ms: record.timestamp_ms,
                limits,
                propagate: None,
            };
            let reply = command::run_logged(&mut ctx, &args);
            if let crate::protocol::reply::Reply::Error(text) = &reply {
                // A logged write that fails on replay means the log and the code disagree; the
                // write changed nothing live either (it would not have been logged), so go on.
                tracing::debug!(position = record.position, error = %String::from_utf8_lossy(text), "replayed write answered an error");
            }
            Ok(())
        }
        Body::Entry {
            key,
            expire_at,
            value,
        } => {
            let value = snapshot::decode_value(&value)
                .ok_or_else(|| format!("record {} holds an unknown value", record.position))?;
            keyspace.db(db).insert(&key, Entry { value, expire_at });
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn census(transactions: &[(u64, u16, u64)]) -> Census {
        Census {
            transactions: transactions
                .iter()
                .map(|&(tx, participants, newest)| (tx, (participants, newest)))
                .collect(),
            ..Census::default()
        }
    }

    #[test]
    fn a_transaction_is_complete_only_with_every_part() {
        let shards = [
            census(&[(1, 2, 100), (2, 2, 100), (3, 3, 100)]),
            census(&[(1, 2, 105), (3, 3, 101)]),
            census(&[(3, 3, 300)]),
        ];
        let complete = complete_transactions(&shards, None);
        assert!(complete.contains(&1) && complete.contains(&3));
        assert!(!complete.contains(&2), "shard 1's part of tx 2 is missing");
        // Point in time: a transaction counts only when every part is that old.
        let at_200 = complete_transactions(&shards, Some(200));
        assert!(at_200.contains(&1) && !at_200.contains(&3));
    }
}
