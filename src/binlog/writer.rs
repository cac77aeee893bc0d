//! One shard's binlog writer: positions, the turn buffer, segments, rotation and fsync.
//!
//! Owned by the shard (only its thread touches it). [`Writer::append`] encodes a record into an
//! in-memory buffer and returns its position; it does no I/O. Once per loop turn the server layer
//! calls [`Writer::flush`], which writes the whole buffer with one `write(2)` (small: one turn's
//! writes) and rotates the segment when it is full or old.
//!
//! fsync never runs on the shard thread. Each writer has an fsync thread fed by a channel: with
//! `appendfsync always` every flush asks it to sync up to the flushed position, and it coalesces
//! the requests that queued while it was syncing, so one fsync covers every write of one or more
//! loop turns (group commit) while the shard goes on serving; with `everysec` the shard's tick asks
//! once a second. The thread publishes the durable position in an atomic and calls a notifier (the
//! server layer rings the shard's doorbell) so replies held for durability can go. A rotated
//! segment is synced before any position in the next one is reported durable, because the thread
//! handles requests in order.
//!
//! Failing disks: a write or fsync error keeps the unwritten bytes, marks the writer failed (the
//! shard then answers writes with `-MISCONF`), and every tick retries; the first success clears it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::record::{self, Body, Record};
use super::segment;

pub use crate::config::Fsync;

/// Settings the writer follows; changeable while it runs.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    pub fsync: Fsync,
    pub segment_size: u64,
    /// 0 = rotate by size only.
    pub segment_seconds: u64,
    /// Test-only fault injection: make every write fail with this errno (ENOSPC, EIO).
    pub failpoint: Option<i32>,
}

/// Cross-shard transaction tag of a record: id and participant count.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TxTag {
    pub id: u64,
    pub participants: u16,
}

struct FsyncRequest {
    file: Arc<File>,
    position: u64,
    /// Sync this directory too (a segment was just created in it).
    dir: Option<PathBuf>,
}

/// What the fsync thread shares with the shard.
struct Synced {
    durable: AtomicU64,
    failed: AtomicBool,
}

pub struct Writer {
    shard: u16,
    dir: PathBuf,
    options: WriterOptions,
    next_position: u64,
    buffer: Vec<u8>,
    /// Position of the last record in `buffer`'s bytes (or written, when the buffer is empty).
    buffered_position: u64,
    written_position: u64,
    file: Arc<File>,
    file_len: u64,
    file_opened: Instant,
    /// Size of the segments closed so far, and how many.
    closed_segments: u64,
    closed_bytes: u64,
    requested_position: u64,
    last_fsync_request: Instant,
    fsync_tx: Option<crossbeam_channel::Sender<FsyncRequest>>,
    fsync_thread: Option<std::thread::JoinHandle<()>>,
    synced: Arc<Synced>,
    /// Set while writes fail; the cause, already logged once.
    failure: Option<String>,
    pending_dir_sync: bool,
}

impl Writer {
    /// Opens a new segment in `<dir>/shard-<shard>/` starting at `next_position`. `notify` is called
    /// from the fsync thread each time the durable position advances.
    pub fn open(
        dir: &Path,
        shard: usize,
        next_position: u64,
        existing: (u64, u64),
        options: WriterOptions,
        notify: Box<dyn Fn() + Send>,
    ) -> std::io::Result<Writer> {
        let dir = segment::shard_dir(dir, shard);
        std::fs::create_dir_all(&dir)?;
        let file = open_segment(&dir, next_position)?;
        let synced = Arc::new(Synced {
            durable: AtomicU64::new(next_position - 1),
            failed: AtomicBool::new(false),
        });
        let (fsync_tx, fsync_rx) = crossbeam_channel::unbounded::<FsyncRequest>();
        let thread_synced = synced.clone();
        let fsync_thread = std::thread::Builder::new()
            .name(format!("binlog-fsync-{shard}"))
            .spawn(move || fsync_loop(fsync_rx, thread_synced, notify))?;
        Ok(Writer {
            shard: shard as u16,
            dir,
            options,
            next_position,
            buffer: Vec::with_capacity(64 * 1024),
            buffered_position: next_position - 1,
            written_position: next_position - 1,
            file: Arc::new(file),
            file_len: 0,
            file_opened: Instant::now(),
            closed_segments: existing.0,
            closed_bytes: existing.1,
            requested_position: next_position - 1,
            last_fsync_request: Instant::now(),
            fsync_tx: Some(fsync_tx),
            fsync_thread: Some(fsync_thread),
            synced,
            failure: None,
            pending_dir_sync: true,
        })
    }

    pub fn set_options(&mut self, options: WriterOptions) {
        self.options = options;
    }

    pub fn options(&self) -> &WriterOptions {
        &self.options
    }

    /// Encodes a record into the turn buffer; returns its position. No I/O.
    pub fn append(&mut self, timestamp_ms: u64, db: usize, tx: TxTag, body: Body) -> u64 {
        let position = self.next_position;
        self.next_position += 1;
        let record = Record {
            shard: self.shard,
            position,
            timestamp_ms,
            db: db as u32,
            tx: tx.id,
            participants: tx.participants,
            body,
        };
        record::encode(&record, &mut self.buffer);
        self.buffered_position = position;
        position
    }

    /// Position of the last record appended (0 before the first ever).
    pub fn last_position(&self) -> u64 {
        self.next_position - 1
    }

    pub fn written_position(&self) -> u64 {
        self.written_position
    }

    /// Position up to which records are on disk (fsync done); with `appendfsync no`, written.
    pub fn durable_position(&self) -> u64 {
        match self.options.fsync {
            Fsync::No => self.written_position,
            _ => self.synced.durable.load(Ordering::Acquire),
        }
    }

    /// Position a reply for a write at `position` must wait for before it may leave: durable
    /// with `always`, written (in the page cache, safe from a process crash) otherwise.
    pub fn acknowledged(&self, position: u64) -> bool {
        match self.options.fsync {
            Fsync::Always => self.durable_position() >= position,
            _ => self.written_position >= position,
        }
    }

    pub fn has_buffered(&self) -> bool {
        !self.buffer.is_empty()
    }

    /// The cause of the current write failure (MISCONF), if any.
    pub fn failure(&self) -> Option<&str> {
        self.failure.as_deref()
    }

    /// Writes the turn buffer, rotates if due, and asks for an fsync under `always`.
    pub fn flush(&mut self) {
        if !self.buffer.is_empty() {
            if let Err(error) = self.write_buffer() {
                self.fail(format!(
                    "Errors writing to the AOF file: {}",
                    super::strerror(&error)
                ));
                return;
            }
            self.written_position = self.buffered_position;
        }
        if self.synced.failed.swap(false, Ordering::AcqRel) {
            // The fsync thread failed: ask again from here (its failure is already recorded).
            self.requested_position = self.synced.durable.load(Ordering::Acquire);
            if self.failure.is_none() {
                self.fail("Errors fsyncing the AOF file".to_string());
            }
            return;
        }
        if self.failure.take().is_some() {
            info!(
                shard = self.shard,
                "binlog writes succeed again; accepting writes"
            );
        }
        if self.options.fsync == Fsync::Always {
            self.request_fsync();
        }
        let full = self.file_len >= self.options.segment_size;
        let old = self.options.segment_seconds > 0
            && self.file_opened.elapsed() >= Duration::from_secs(self.options.segment_seconds);
        if (full || old) && self.file_len > 0 {
            if let Err(error) = self.rotate() {
                self.fail(format!(
                    "Errors rotating the AOF file: {}",
                    super::strerror(&error)
                ));
            }
        }
    }

    /// The tick: `everysec` fsync, retry after failures, time-based rotation.
    pub fn tick(&mut self) {
        if self.failure.is_some() || self.has_buffered() {
            self.flush();
        }
        let every_second = self.last_fsync_request.elapsed() >= Duration::from_secs(1);
        if self.options.fsync == Fsync::EverySec && every_second {
            self.request_fsync();
        }
        if self.options.segment_seconds > 0 && !self.has_buffered() {
            self.flush();
        }
    }

    fn fail(&mut self, cause: String) {
        if self.failure.is_none() {
            warn!(
                shard = self.shard,
                "{cause}; refusing writes (MISCONF) until the disk accepts them again"
            );
        }
        self.failure = Some(cause);
    }

    fn write_buffer(&mut self) -> std::io::Result<()> {
        if let Some(errno) = self.options.failpoint {
            return Err(std::io::Error::from_raw_os_error(errno));
        }
        let mut done = 0;
        let result = loop {
            if done == self.buffer.len() {
                break Ok(());
            }
            match (&*self.file).write(&self.buffer[done..]) {
                Ok(0) => break Err(std::io::Error::from(std::io::ErrorKind::WriteZero)),
                Ok(n) => done += n,
                Err(error) if error.kind() == std::io::ErrorKind::Interrupted => {}
                Err(error) => break Err(error),
            }
        };
        // Whatever reached the file stays there; only the rest is retried.
        self.buffer.drain(..done);
        self.file_len += done as u64;
        if result.is_ok() && self.buffer.capacity() > 4 << 20 {
            self.buffer = Vec::with_capacity(64 * 1024);
        }
        result
    }

    fn request_fsync(&mut self) {
        self.last_fsync_request = Instant::now();
        if self.written_position <= self.requested_position && !self.pending_dir_sync {
            return;
        }
        self.requested_position = self.written_position;
        let dir = std::mem::take(&mut self.pending_dir_sync).then(|| self.dir.clone());
        if let Some(tx) = &self.fsync_tx {
            let _ = tx.send(FsyncRequest {
                file: self.file.clone(),
                position: self.written_position,
                dir,
            });
        }
    }

    fn rotate(&mut self) -> std::io::Result<()> {
        // The closing segment is synced before anything later is reported durable.
        if self.options.fsync != Fsync::No {
            self.request_fsync();
        }
        let file = open_segment(&self.dir, self.next_position)?;
        self.closed_segments += 1;
        self.closed_bytes += self.file_len;
        self.file = Arc::new(file);
        self.file_len = 0;
        self.file_opened = Instant::now();
        self.pending_dir_sync = true;
        Ok(())
    }

    /// Segment count and total bytes (INFO).
    pub fn segment_stats(&self) -> (u64, u64) {
        (
            self.closed_segments + 1,
            self.closed_bytes + self.file_len + self.buffer.len() as u64,
        )
    }

    /// Starts a new segment now (BGREWRITEAOF: snapshot + rotate). Flushes first.
    pub fn rotate_now(&mut self) {
        self.flush();
        if self.file_len > 0 {
            if let Err(error) = self.rotate() {
                self.fail(format!(
                    "Errors rotating the AOF file: {}",
                    super::strerror(&error)
                ));
            }
        }
    }

    /// Forgets segments deleted by retention (INFO counts).
    pub fn forget_segments(&mut self, count: u64, bytes: u64) {
        self.closed_segments = self.closed_segments.saturating_sub(count);
        self.closed_bytes = self.closed_bytes.saturating_sub(bytes);
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Writer {
    /// Shutdown: write what is buffered and sync it, whatever the policy.
    fn drop(&mut self) {
        if self.failure.is_none() {
            let _ = self.write_buffer();
        }
        let _ = self.file.sync_data();
        self.fsync_tx = None;
        if let Some(thread) = self.fsync_thread.take() {
            let _ = thread.join();
        }
    }
}

fn open_segment(dir: &Path, first_position: u64) -> std::io::Result<File> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(segment::segment_name(first_position)))
}

fn fsync_loop(
    requests: crossbeam_channel::Receiver<FsyncRequest>,
    synced: Arc<Synced>,
    notify: Box<dyn Fn() + Send>,
) {
    while let Ok(first) = requests.recv() {
        // Everything that queued meanwhile is covered by the syncs below: group commit.
        let mut batch = vec![first];
        batch.extend(requests.try_iter());
        let mut ok = true;
        for (index, request) in batch.iter().enumerate() {
            if let Some(dir) = &request.dir {
                ok &= segment::sync_dir(dir).is_ok();
            }
            // A later request for the same file covers this one: one fsync per file per batch.
            let covered_later = batch
                .get(index + 1)
                .is_some_and(|next| Arc::ptr_eq(&next.file, &request.file));
            if !covered_later {
                ok &= request.file.sync_data().is_ok();
            }
        }
        if ok {
            let position = batch.iter().map(|r| r.position).max().unwrap_or(0);
            synced.durable.fetch_max(position, Ordering::AcqRel);
        } else {
            synced.failed.store(true, Ordering::Release);
        }
        notify();
    }
}
