//! Snapshots: per shard, point-in-time consistent at a binlog position, written by the shard
//! itself in the background, without fork and without copying the keyspace.
//!
//! # How
//!
//! BGSAVE takes a *cut* of every database (`keyspace::cut`): the binlog position and timestamp of
//! that instant are the snapshot's. Then every tick the shard emits entries for about a millisecond
//! and writes them to `snapshot-<position>.snap.tmp`; a write after the cut to an entry the walk
//! has not reached first emits the entry's value as of the cut. Memory grows only by the values
//! written during the snapshot. When the walk is done, a thread fsyncs the file, renames it to
//! `snapshot-<position, 20 digits>.snap` and syncs the directory, so the shard never waits for the
//! disk; only then does the snapshot count (LASTSAVE, recovery, retention).
//!
//! # File format
//!
//! A header: `SHARDSNP`, version `u32` (1), shard `u16`, position `u64`, timestamp `u64` (ms). Then
//! frames `len: u32, crc32c: u32, payload`, each payload a kind byte and its fields: 0 = entry
//! (`db: u32, key_len: u32, key, expire_at: u64, value`), 1 = end (`entries: u64`). A file without
//! its end frame, or with a bad CRC, is refused (it never replaced a good one: the rename is last).
//!
//! # Values
//!
//! [`encode_value`] and [`decode_value`] are the one place a [`Value`] becomes bytes and back (for
//! snapshots and whole-entry binlog records): a type byte, then the type's payload. New value types
//! add one arm to each (and a type byte).
//!
//! Lengths and counts are `u32`, numbers little-endian. Collections are rebuilt with the default
//! encoding limits (a set past them converts as it would have when written).
//!
//! | type byte | value          | payload                                                   |
//! |-----------|----------------|-----------------------------------------------------------|
//! | 0         | string         | the bytes, to the end                                     |
//! | 1         | hash           | count, then (field len, field, value len, value) each      |
//! | 2         | set            | count, then (member len, member) each                      |
//! | 3         | list           | count, then (item len, item) each, head first              |
//! | 4         | sorted set     | count, then (member len, member, score as f64 bits) each   |
//! | 5         | memcached item | flags `u32`, CAS `u64`, then the bytes to the end          |

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tracing::{info, warn};

use super::record::Reader;
use super::recovery::RecoveryError;
use super::segment;
use crate::keyspace::{Entry, Keyspace, Value};

const TYPE_STRING: u8 = 0;
const TYPE_HASH: u8 = 1;
const TYPE_SET: u8 = 2;
const TYPE_LIST: u8 = 3;
const TYPE_ZSET: u8 = 4;
const TYPE_ITEM: u8 = 5;

fn put_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
    out.extend_from_slice(bytes);
}

/// Appends the value's encoding.
pub fn encode_value(value: &Value, out: &mut Vec<u8>) {
    match value {
        Value::Short(_) | Value::String(_) => {
            out.push(TYPE_STRING);
            out.extend_from_slice(value.as_string().unwrap_or_default());
        }
        Value::Item(item) => {
            out.push(TYPE_ITEM);
            out.extend_from_slice(&item.flags.to_le_bytes());
            out.extend_from_slice(&item.cas.to_le_bytes());
            out.extend_from_slice(&item.data);
        }
        Value::Hash(hash) => {
            out.push(TYPE_HASH);
            out.extend_from_slice(&(hash.len() as u32).to_le_bytes());
            for (field, value) in hash.iter() {
                put_bytes(out, field);
                put_bytes(out, value);
            }
        }
        Value::Set(set) => {
            out.push(TYPE_SET);
            out.extend_from_slice(&(set.len() as u32).to_le_bytes());
            for member in set.iter() {
                put_bytes(out, &member);
            }
        }
        Value::List(list) => {
            out.push(TYPE_LIST);
            out.extend_from_slice(&(list.len() as u32).to_le_bytes());
            for item in list.iter() {
                put_bytes(out, item);
            }
        }
        Value::ZSet(zset) => {
            out.push(TYPE_ZSET);
            out.extend_from_slice(&(zset.len() as u32).to_le_bytes());
            for (member, score) in zset.iter() {
                put_bytes(out, member);
                out.extend_from_slice(&score.to_bits().to_le_bytes());
            }
        }
    }
}

/// Reads an encoded value's fields, front to back.
struct Fields<'a>(&'a [u8]);

impl<'a> Fields<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        if self.0.len() < n {
            return None;
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Some(head)
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    fn bytes(&mut self) -> Option<&'a [u8]> {
        let len = self.u32()? as usize;
        self.take(len)
    }

    /// `count` length-prefixed fields; `None` if the payload is shorter than it says.
    fn list(&mut self, count: usize) -> Option<Vec<&'a [u8]>> {
        let mut items = Vec::with_capacity(count.min(self.0.len() / 4));
        for _ in 0..count {
            items.push(self.bytes()?);
        }
        Some(items)
    }
}

/// Decodes a value written by [`encode_value`]; `None` if the bytes are not one.
pub fn decode_value(bytes: &[u8]) -> Option<Value> {
    use crate::keyspace::hash::Hash;
    use crate::keyspace::list::List;
    use crate::keyspace::set::Set;
    use crate::keyspace::zset::{ZSet, ZSetLimits};
    use crate::keyspace::{EncodingLimits, Item, ItemData};

    let (&kind, payload) = bytes.split_first()?;
    let mut fields = Fields(payload);
    let limits = EncodingLimits::default();
    let value = match kind {
        TYPE_STRING => return Some(Value::string(payload)),
        TYPE_ITEM => {
            let flags = fields.u32()?;
            let cas = fields.u64()?;
            let item = Item {
                data: ItemData::new(fields.0),
                flags,
                cas,
                ..Item::default()
            };
            return Some(Value::Item(Box::new(item)));
        }
        TYPE_HASH => {
            let count = fields.u32()? as usize;
            let flat = fields.list(count * 2)?;
            let pairs = flat.chunks(2).map(|pair| (pair[0], pair[1]));
            Value::Hash(Hash::from_pairs(pairs, &limits))
        }
        TYPE_SET => {
            let count = fields.u32()? as usize;
            let members = fields.list(count)?;
            Value::Set(Set::from_members(members, count, &limits))
        }
        TYPE_LIST => {
            let count = fields.u32()? as usize;
            let items = fields.list(count)?;
            Value::List(Box::new(List::from_items(items, &limits)))
        }
        TYPE_ZSET => {
            let count = fields.u32()? as usize;
            let mut pairs = Vec::with_capacity(count.min(payload.len() / 12));
            for _ in 0..count {
                let member = fields.bytes()?;
                let score = f64::from_bits(fields.u64()?);
                pairs.push((member, score));
            }
            Value::ZSet(ZSet::from_pairs(pairs, &ZSetLimits::default()))
        }
        _ => return None,
    };
    // Trailing bytes mean the value is not what it claims.
    fields.0.is_empty().then_some(value)
}

const MAGIC: &[u8; 8] = b"SHARDSNP";
const VERSION: u32 = 1;
const HEADER: usize = 8 + 4 + 2 + 8 + 8;
/// Entries emitted per cut step between clock checks.
const STEP_ENTRIES: usize = 256;
/// How long one step of a background snapshot may work: what a command arriving meanwhile waits
/// at most (plus one write of at most [`WRITE_AT`] bytes to the page cache).
const STEP_TIME: Duration = Duration::from_micros(250);
/// Buffered snapshot bytes are written once there are this many (and at the end).
const WRITE_AT: usize = 256 << 10;

pub fn snapshot_name(position: u64) -> String {
    format!("snapshot-{position:020}.snap")
}

fn parse_snapshot_name(name: &str) -> Option<u64> {
    name.strip_prefix("snapshot-")?
        .strip_suffix(".snap")?
        .parse()
        .ok()
}

/// A finished snapshot on disk.
#[derive(Debug, Clone)]
pub struct SnapshotInfo {
    pub position: u64,
    pub timestamp_ms: u64,
    pub path: PathBuf,
}

/// A shard's snapshots, oldest first, with their headers read.
pub fn list_snapshots(shard_dir: &Path) -> std::io::Result<Vec<SnapshotInfo>> {
    let mut found = Vec::new();
    let entries = match std::fs::read_dir(shard_dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(found),
        Err(error) => return Err(error),
    };
    for entry in entries {
        let entry = entry?;
        let Some(position) = entry.file_name().to_str().and_then(parse_snapshot_name) else {
            continue;
        };
        let mut header = [0u8; HEADER];
        let read = File::open(entry.path())
            .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut header));
        let timestamp_ms = if read.is_ok() {
            u64::from_le_bytes(header[22..30].try_into().unwrap_or_default())
        } else {
            0
        };
        found.push(SnapshotInfo {
            position,
            timestamp_ms,
            path: entry.path(),
        });
    }
    found.sort_by_key(|s| s.position);
    Ok(found)
}

/// Loads the newest snapshot (taken no later than `up_to_ms`, when given) into a fresh keyspace.
pub fn load_newest(
    shard_dir: &Path,
    databases: usize,
    up_to_ms: Option<u64>,
) -> Result<(Keyspace, Option<SnapshotInfo>), RecoveryError> {
    let mut keyspace = Keyspace::new(databases);
    let snapshots = list_snapshots(shard_dir).map_err(|source| RecoveryError::Io {
        path: shard_dir.display().to_string(),
        source,
    })?;
    let Some(newest) = snapshots
        .into_iter()
        .rev()
        .find(|s| up_to_ms.is_none_or(|limit| s.timestamp_ms <= limit))
    else {
        return Ok((keyspace, None));
    };
    let bad = |reason: String| RecoveryError::BadSnapshot {
        file: newest.path.display().to_string(),
        reason,
    };
    let bytes = std::fs::read(&newest.path).map_err(|source| RecoveryError::Io {
        path: newest.path.display().to_string(),
        source,
    })?;
    load_into(&bytes, &mut keyspace).map_err(bad)?;
    Ok((keyspace, Some(newest)))
}

fn load_into(bytes: &[u8], keyspace: &mut Keyspace) -> Result<(), String> {
    if bytes.len() < HEADER || &bytes[..8] != MAGIC {
        return Err("not a shardis snapshot".into());
    }
    let mut at = HEADER;
    let mut loaded = 0u64;
    loop {
        let mut frame = Reader { bytes, at };
        let (Some(len), Some(crc)) = (frame.u32(), frame.u32()) else {
            return Err(format!("ends at offset {at} without its end marker"));
        };
        let payload = frame
            .take(len as usize)
            .ok_or_else(|| format!("ends inside the frame at offset {at}"))?;
        if crc32c::crc32c(payload) != crc {
            return Err(format!("CRC mismatch at offset {at}"));
        }
        let mut reader = Reader {
            bytes: payload,
            at: 0,
        };
        let malformed = || format!("malformed frame at offset {at}");
        match reader.take(1).ok_or_else(malformed)?[0] {
            0 => {
                let db = reader.u32().ok_or_else(malformed)? as usize;
                let key_len = reader.u32().ok_or_else(malformed)? as usize;
                let key = Bytes::copy_from_slice(reader.take(key_len).ok_or_else(malformed)?);
                let expire_at = reader.u64().ok_or_else(malformed)?;
                let value = decode_value(reader.rest()).ok_or_else(malformed)?;
                if db >= keyspace.databases() {
                    return Err(format!("entry in database {db}, beyond 'databases'"));
                }
                if let Value::Item(item) = &value {
                    // CAS values are never handed out again after a restart.
                    keyspace.cas.observe(item.cas);
                }
                keyspace.db(db).insert(key, Entry { value, expire_at });
                loaded += 1;
            }
            1 => {
                let count = reader.u64().ok_or_else(malformed)?;
                if count != loaded {
                    return Err(format!(
                        "holds {loaded} entries, its end marker says {count}"
                    ));
                }
                return Ok(());
            }
            _ => return Err(malformed()),
        }
        at = frame.at;
    }
}

fn frame(payload_start: usize, out: &mut [u8]) {
    let payload = &out[payload_start..];
    let (len, crc) = (payload.len() as u32, crc32c::crc32c(payload));
    out[payload_start - 8..payload_start - 4].copy_from_slice(&len.to_le_bytes());
    out[payload_start - 4..payload_start].copy_from_slice(&crc.to_le_bytes());
}

fn encode_entry(db: usize, key: &[u8], entry: &Entry, out: &mut Vec<u8>) {
    out.extend_from_slice(&[0; 8]);
    let start = out.len();
    out.push(0);
    out.extend_from_slice(&(db as u32).to_le_bytes());
    out.extend_from_slice(&(key.len() as u32).to_le_bytes());
    out.extend_from_slice(key);
    out.extend_from_slice(&entry.expire_at.to_le_bytes());
    encode_value(&entry.value, out);
    frame(start, out);
}

/// A snapshot being written.
pub struct Job {
    pub position: u64,
    pub timestamp_ms: u64,
    pub started: Instant,
    pub started_unix: u64,
    tmp_path: PathBuf,
    final_path: PathBuf,
    file: Option<File>,
    buffer: Vec<u8>,
    entries: u64,
    /// Set once the walk is done: the thread syncing and renaming the file reports here.
    finishing: Option<crossbeam_channel::Receiver<std::io::Result<()>>>,
}

/// A shard's snapshot state: the job in progress and what the last one did.
#[derive(Default)]
pub struct Snapshots {
    pub job: Option<Job>,
    /// LASTSAVE: unix seconds of the last successful snapshot (or of start-up).
    pub last_save_unix: u64,
    pub last_position: u64,
    pub last_timestamp_ms: u64,
    pub last_duration_ms: u64,
    /// The last snapshot failed with this; writes are refused (MISCONF) until one succeeds.
    pub failure: Option<String>,
    pub failed_at: Option<Instant>,
    /// Snapshots finished (successful) since start.
    pub completed: u64,
}

/// How a finished job ended.
pub enum Outcome {
    Saved(SnapshotInfo),
    Failed(String),
}

impl Snapshots {
    pub fn misconf(&self) -> Option<crate::protocol::reply::Reply> {
        self.failure.as_ref().map(|_| {
            crate::protocol::reply::Reply::error_static(
                "MISCONF Redis is configured to save RDB snapshots, but it's currently unable to persist to disk. Commands that may modify the data set are disabled, because this instance is configured to report errors during writes if RDB snapshotting fails (stop-writes-on-bgsave-error option). Please check the Redis logs for details about the RDB error.",
            )
        })
    }

    pub fn in_progress(&self) -> bool {
        self.job.is_some()
    }

    /// Takes the cut and opens the file. The caller passes the binlog position and timestamp of
    /// this instant.
    pub fn start(
        &mut self,
        keyspace: &mut Keyspace,
        shard_dir: &Path,
        shard: usize,
        position: u64,
        timestamp_ms: u64,
        failpoint: Option<i32>,
    ) -> std::io::Result<()> {
        std::fs::create_dir_all(shard_dir)?;
        let final_path = shard_dir.join(snapshot_name(position));
        let tmp_path = shard_dir.join(format!("{}.tmp", snapshot_name(position)));
        if let Some(errno) = failpoint {
            return Err(std::io::Error::from_raw_os_error(errno));
        }
        let file = File::create(&tmp_path)?;
        let mut buffer = Vec::with_capacity(1 << 20);
        buffer.extend_from_slice(MAGIC);
        buffer.extend_from_slice(&VERSION.to_le_bytes());
        buffer.extend_from_slice(&(shard as u16).to_le_bytes());
        buffer.extend_from_slice(&position.to_le_bytes());
        buffer.extend_from_slice(&timestamp_ms.to_le_bytes());
        keyspace.start_cut();
        self.job = Some(Job {
            position,
            timestamp_ms,
            started: Instant::now(),
            started_unix: timestamp_ms / 1000,
            tmp_path,
            final_path,
            file: Some(file),
            buffer,
            entries: 0,
            finishing: None,
        });
        Ok(())
    }

    /// One bounded step of the job ([`STEP_TIME`] of work, or everything with `to_the_end`).
    /// Returns the outcome once the job is over.
    pub fn step(
        &mut self,
        keyspace: &mut Keyspace,
        to_the_end: bool,
        failpoint: Option<i32>,
    ) -> Option<Outcome> {
        let job = self.job.as_mut()?;
        let started = Instant::now();
        // SAVE (`to_the_end`) goes round until the walk is over, writing every WRITE_AT bytes.
        while job.finishing.is_none() {
            let mut walked = false;
            while !walked && (to_the_end || started.elapsed() < STEP_TIME) {
                let buffer = &mut job.buffer;
                let entries = &mut job.entries;
                walked = keyspace.cut_step(STEP_ENTRIES, &mut |db, key, entry| {
                    encode_entry(db, key, entry, buffer);
                    *entries += 1;
                });
                if job.buffer.len() >= WRITE_AT {
                    break;
                }
            }
            if walked {
                job.buffer.extend_from_slice(&[0; 8]);
                let start = job.buffer.len();
                job.buffer.push(1);
                job.buffer.extend_from_slice(&job.entries.to_le_bytes());
                frame(start, &mut job.buffer);
            }
            let written = match (failpoint, job.file.as_mut()) {
                (Some(errno), _) => Err(std::io::Error::from_raw_os_error(errno)),
                (None, Some(file)) => file.write_all(&job.buffer),
                (None, None) => Err(std::io::Error::other("snapshot file closed")),
            };
            job.buffer.clear();
            if let Err(error) = written {
                keyspace.drop_cut();
                return Some(self.fail(super::strerror(&error)));
            }
            if walked {
                let (file, tmp, target) = (
                    job.file.take(),
                    job.tmp_path.clone(),
                    job.final_path.clone(),
                );
                let (done_tx, done_rx) = crossbeam_channel::bounded(1);
                let spawned = std::thread::Builder::new()
                    .name("snapshot-sync".into())
                    .spawn(move || {
                        let result = (|| {
                            if let Some(file) = file {
                                file.sync_all()?;
                            }
                            std::fs::rename(&tmp, &target)?;
                            match target.parent() {
                                Some(dir) => segment::sync_dir(dir),
                                None => Ok(()),
                            }
                        })();
                        let _ = done_tx.send(result);
                    });
                if let Err(error) = spawned {
                    return Some(self.fail(super::strerror(&error)));
                }
                job.finishing = Some(done_rx);
            }
            if !to_the_end {
                break;
            }
        }
        let job = self.job.as_ref()?;
        let finishing = job.finishing.as_ref()?;
        let result = if to_the_end {
            finishing.recv().ok()?
        } else {
            finishing.try_recv().ok()?
        };
        Some(match result {
            Ok(()) => self.succeed(),
            Err(error) => self.fail(super::strerror(&error)),
        })
    }

    fn succeed(&mut self) -> Outcome {
        let job = self.job.take().expect("a job is finishing");
        self.last_save_unix = crate::binlog::unix_seconds();
        self.last_position = job.position;
        self.last_timestamp_ms = job.timestamp_ms;
        self.last_duration_ms = job.started.elapsed().as_millis() as u64;
        self.completed += 1;
        if self.failure.take().is_some() {
            info!("a snapshot succeeded again; accepting writes");
        }
        self.failed_at = None;
        info!(
            entries = job.entries,
            position = job.position,
            "DB saved on disk in {} ms",
            self.last_duration_ms
        );
        Outcome::Saved(SnapshotInfo {
            position: job.position,
            timestamp_ms: job.timestamp_ms,
            path: job.final_path,
        })
    }

    /// Records a snapshot that could not even start.
    pub fn record_failure(&mut self, cause: String) {
        self.fail(cause);
    }

    fn fail(&mut self, cause: String) -> Outcome {
        if let Some(job) = self.job.take() {
            let _ = std::fs::remove_file(&job.tmp_path);
        }
        if self.failure.is_none() {
            warn!("Background saving error: {cause}; refusing writes (MISCONF) until a snapshot succeeds");
        }
        self.failure = Some(cause.clone());
        self.failed_at = Some(Instant::now());
        Outcome::Failed(cause)
    }
}

#[cfg(test)]
mod tests;
