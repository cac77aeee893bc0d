//! The per-core owner of state: one shard's keyspace, its intent locks and its counters.
//!
//! Everything here is synchronous; the server layer owns the runtime and calls in. [`Shard::execute`]
//! is the one place a command runs against the keyspace (Redis's `call()`) and the one place a
//! write reaches the binlog: after a write command changed something (the keyspace's mutation
//! count moved), its deterministic form is appended (`binlog::effect`); commands never journal
//! themselves. While the binlog cannot be written, writes are refused with `-MISCONF` and reads go
//! on. Only the owning core ever touches a `Shard`.

pub mod blocking;
pub mod locks;
pub mod notify;
mod persistence;
pub mod transaction;
pub mod watch;

use std::task::Waker;

use bytes::Bytes;

use crate::admin::stats::ShardObserver;
use crate::binlog::record::Body;
use crate::binlog::{effect, snapshot, TxTag, Writer};
use crate::command::{self, CommandLimits, CommandSpec, ExecContext};
use crate::keyspace::{Entry, Keyspace};
use crate::protocol::reply::Reply;
use locks::{LockKey, LockTable, TxId, Waiter};

/// Where a reply must go: the shard of the connection that asked, the connection, and the
/// position of the command in that connection's current batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReplyTo {
    pub shard: usize,
    pub conn: u64,
    pub seq: u32,
}

/// A command or lock request waiting for its keys.
#[derive(Debug)]
pub struct Parked {
    pub spec: Option<&'static CommandSpec>,
    pub db: usize,
    pub args: Vec<Bytes>,
    pub reply_to: ReplyTo,
    /// Set for a blocking command (BLPOP ...) that waits for its keys' locks: once it runs, it
    /// blocks if there is nothing to pop (`blocking`).
    pub block: Option<blocking::BlockInfo>,
}

impl Parked {
    /// A lock request: nothing to run, just an `OK` owed to `reply_to` once granted.
    fn grant_to(reply_to: ReplyTo) -> Parked {
        Parked {
            spec: None,
            db: 0,
            args: Vec::new(),
            reply_to,
            block: None,
        }
    }
}

pub struct Shard {
    pub id: usize,
    pub keyspace: Keyspace,
    pub limits: CommandLimits,
    locks: LockTable<Parked>,
    /// Commands run here on behalf of connections owned by other shards.
    pub remote_commands: u64,
    /// Per-command counters, slow log and latency monitor, and what this shard publishes.
    pub observe: ShardObserver,
    /// The binlog (`appendonly yes`); `None` when persistence is off.
    pub binlog: Option<Writer>,
    /// Woken when the first record of a loop turn is appended: the server's binlog flusher.
    pub flush_waker: Option<Waker>,
    /// Added to coordinator transaction ids in records, so ids of different runs never meet.
    pub tx_epoch: u64,
    /// Timestamps in records never go backwards (point-in-time restore cuts on them).
    pub(crate) last_timestamp_ms: u64,
    /// The snapshot being written, if any, and what the last one did (INFO, LASTSAVE).
    pub snapshots: snapshot::Snapshots,
    /// Keyspace notifications (`notify-keyspace-events`) waiting to be published.
    pub notify: notify::Notifier,
    /// The keys of this shard that connections WATCH, and their versions.
    pub watches: watch::WatchTable,
    /// Clients blocked on this shard's keys (BLPOP and friends).
    pub blocking: blocking::BlockedClients,
    /// While a script runs here, the records it logs wait here (timestamp, db, body) until it
    /// ends: committed as one group, or dropped when the run is undone (see `server::script`).
    capture: Option<Vec<(u64, usize, Body)>>,
}

impl Shard {
    pub fn new(id: usize, databases: usize, limits: CommandLimits) -> Self {
        Shard {
            id,
            keyspace: Keyspace::for_shard(databases, id),
            limits,
            locks: LockTable::default(),
            remote_commands: 0,
            observe: ShardObserver::detached(),
            binlog: None,
            flush_waker: None,
            tx_epoch: 0,
            last_timestamp_ms: 0,
            snapshots: snapshot::Snapshots::default(),
            notify: notify::Notifier::default(),
            watches: watch::WatchTable::default(),
            blocking: blocking::BlockedClients::default(),
            capture: None,
        }
    }

    /// Installs `notify-keyspace-events`; with `x`, expiry keeps the keys it reclaims so that
    /// they can be announced as `expired`.
    pub fn set_notify_flags(&mut self, flags: crate::config::NotifyFlags) {
        self.notify.flags = flags;
        if flags.wants(crate::config::NotifyFlags::EXPIRED) {
            self.keyspace.keep_expired_keys();
        }
    }

    /// Position of the last record appended to the binlog (0 without one).
    pub fn binlog_position(&self) -> u64 {
        self.binlog.as_ref().map_or(0, Writer::last_position)
    }

    /// Redis's `-MISCONF` while the binlog (or a snapshot) cannot be written.
    fn misconf(&self) -> Option<Reply> {
        if let Some(cause) = self.binlog.as_ref().and_then(Writer::failure) {
            return Some(Reply::error(format!("MISCONF {cause}")));
        }
        self.snapshots.misconf()
    }

    fn log(&mut self, now_ms: u64, db: usize, tx: TxTag, body: Body) {
        let Some(writer) = self.binlog.as_mut() else {
            return;
        };
        self.last_timestamp_ms = self.last_timestamp_ms.max(now_ms);
        if let Some(captured) = self.capture.as_mut() {
            captured.push((self.last_timestamp_ms, db, body));
            return;
        }
        let tx = if tx.id == 0 && tx.participants == 0 {
            tx
        } else {
            TxTag {
                id: self.tx_epoch.wrapping_add(tx.id),
                participants: tx.participants,
            }
        };
        writer.append(self.last_timestamp_ms, db, tx, body);
        if let Some(waker) = self.flush_waker.take() {
            waker.wake();
        }
    }

    /// Starts holding back the records of a script's writes (no-op if already holding).
    pub fn begin_capture(&mut self) {
        self.capture.get_or_insert_with(Vec::new);
    }

    /// Whether a script's records are being held back.
    pub fn capturing(&self) -> bool {
        self.capture.is_some()
    }

    /// Appends the held-back records under `tx` (a part of a transaction over several shards when
    /// `tx.participants > 1`: then a part is logged even when it is empty, so recovery can count
    /// the parts, as [`Shard::execute_in`] does).
    pub fn commit_capture(&mut self, tx: TxTag) {
        let Some(records) = self.capture.take() else {
            return;
        };
        if records.is_empty() && tx.participants > 1 {
            let at = self.last_timestamp_ms;
            self.log(at, 0, tx, Body::Command(Vec::new()));
        }
        for (timestamp, db, body) in records {
            self.log(timestamp, db, tx, body);
        }
    }

    /// Drops the held-back records (the script's writes were undone).
    pub fn discard_capture(&mut self) {
        self.capture = None;
    }

    /// Whether no cross-shard transaction holds or waits for a lock here.
    pub fn locks_idle(&self) -> bool {
        self.locks.is_idle()
    }

    /// Whether a command on `keys` may run now (no cross-shard transaction holds any of them).
    pub fn keys_free(&self, keys: &[LockKey]) -> bool {
        self.locks.is_idle() || self.locks.may_run(keys)
    }

    /// Sets the timestamp floor after recovery.
    pub fn set_last_timestamp(&mut self, timestamp_ms: u64) {
        self.last_timestamp_ms = timestamp_ms;
    }

    /// Runs one command whose arity was checked. The single choke point for every command that
    /// touches this shard's keyspace.
    pub fn execute(
        &mut self,
        spec: &'static CommandSpec,
        db: usize,
        args: &[Bytes],
        now_ms: u64,
    ) -> Reply {
        self.execute_in(spec, db, args, now_ms, None)
    }

    /// [`Shard::execute`] for a part of a cross-shard transaction (`tx`: its id and how many shards
    /// run a part; see the `binlog` module doc). A write part is logged even when it changed
    /// nothing, so that recovery can count the parts.
    pub fn execute_in(
        &mut self,
        spec: &'static CommandSpec,
        db: usize,
        args: &[Bytes],
        now_ms: u64,
        tx: Option<TxTag>,
    ) -> Reply {
        let Some(handler) = spec.handler else {
            return command::unknown_command_error(args);
        };
        let write = spec.is_write();
        let logged = write && self.binlog.is_some();
        if write {
            if let Some(refusal) = self.misconf() {
                return refusal;
            }
        }
        // Notifications cost nothing while `notify-keyspace-events` is empty (the default).
        let watch = if self.notify.is_on() && spec.is_write() {
            self.notify
                .watch(spec.name, args, self.keyspace.db(db), now_ms)
        } else {
            None
        };
        // WATCH: only a write that changed something touches keys, and only while any is watched.
        let watched = !self.watches.is_empty() && spec.is_write();
        // With clients blocked here, a write that changed something may wake them.
        let wakes = write && !self.blocking.is_empty();
        let before = if logged || watched || wakes || watch.is_some() {
            self.keyspace.mutations()
        } else {
            0
        };
        let flushed = if watched {
            self.watched_before(spec, db, args, now_ms)
        } else {
            Vec::new()
        };
        let mut ctx = ExecContext {
            keyspace: &mut self.keyspace,
            db_index: db,
            now_ms,
            limits: &self.limits,
            propagate: None,
        };
        let running = self.observe.begin(spec);
        let reply = handler(&mut ctx, args);
        let propagate = ctx.propagate.take();
        self.observe.end(running, args, reply.is_error());
        if watched && self.keyspace.mutations() != before {
            self.touch_watched(spec, db, args, flushed);
        }
        // Expired keys the command reclaimed are logged as DELs before it, as Redis does.
        self.log_expired(db, now_ms);
        if let Some(watch) = watch {
            if self.keyspace.mutations() != before {
                self.notify
                    .raise(watch, args, self.keyspace.db(db), db, now_ms);
            }
        }
        if wakes && self.keyspace.mutations() != before {
            self.signal_written(spec, db, args);
        }
        if logged {
            let changed = self.keyspace.mutations() != before;
            let tx = tx.filter(|tx| tx.participants > 1);
            if changed {
                let records = propagate.unwrap_or_else(|| {
                    effect::deterministic(spec.name, db, args, &mut self.keyspace, now_ms)
                });
                for record in records {
                    self.log(now_ms, db, tx.unwrap_or_default(), Body::Command(record));
                }
            } else if let Some(tx) = tx {
                self.log(now_ms, db, tx, Body::Command(Vec::new()));
            }
        }
        reply
    }

    /// Reads (and with `remove`, deletes, logged as DEL) a whole entry inside a cross-shard
    /// transaction (RENAME/MOVE of a key to another shard).
    pub fn take_entry(
        &mut self,
        db: usize,
        key: &[u8],
        remove: bool,
        now_ms: u64,
        tx: TxTag,
    ) -> Option<Entry> {
        if !remove {
            return self.keyspace.db(db).get(key, now_ms).cloned();
        }
        let entry = self.keyspace.db(db).remove(key, now_ms);
        self.watches.touch(db, key);
        let body = if entry.is_some() {
            vec![Bytes::from_static(b"DEL"), Bytes::copy_from_slice(key)]
        } else {
            Vec::new()
        };
        self.log(now_ms, db, tx, Body::Command(body));
        entry
    }

    /// Stores a whole entry inside a cross-shard transaction (the destination of RENAME/COPY),
    /// logged as an entry record. `Err` is the MISCONF refusal.
    pub fn put_entry(
        &mut self,
        db: usize,
        key: Bytes,
        entry: Entry,
        now_ms: u64,
        tx: TxTag,
    ) -> Result<(), Reply> {
        if let Some(refusal) = self.misconf() {
            return Err(refusal);
        }
        if self.binlog.is_some() {
            let mut value = Vec::new();
            snapshot::encode_value(&entry.value, &mut value);
            let body = Body::Entry {
                key: key.clone(),
                expire_at: entry.expire_at,
                value: value.into(),
            };
            self.log(now_ms, db, tx, body);
        }
        self.watches.touch(db, &key);
        self.blocking.signal(db, &key);
        self.keyspace.db(db).insert(key, entry);
        Ok(())
    }

    /// Runs one shard's part of a command coordinated across shards (`server::coordinator`):
    /// [`Shard::execute_in`], except that the command's counters, slow log and latency are
    /// recorded once, by the coordinating connection, rather than once per part.
    pub fn execute_part(
        &mut self,
        spec: &'static CommandSpec,
        db: usize,
        args: &[Bytes],
        now_ms: u64,
        tx: Option<TxTag>,
    ) -> Reply {
        self.observe.quiet = true;
        let reply = self.execute_in(spec, db, args, now_ms, tx);
        self.observe.quiet = false;
        reply
    }

    /// What a granted lock answers: OK, or the MISCONF refusal while writes are refused, so
    /// that a cross-shard write refuses as a whole before any part runs (see the coordinator).
    pub fn grant_reply(&self) -> Reply {
        self.misconf().unwrap_or_else(Reply::ok)
    }

    /// Runs a command for connection `conn` now, its arguments staying with the caller (who may
    /// reuse their buffer); `None` while any key is locked here: then [`Shard::submit`] it.
    pub fn run_now(
        &mut self,
        spec: &'static CommandSpec,
        db: usize,
        args: &[Bytes],
        conn: u64,
        now_ms: u64,
    ) -> Option<Reply> {
        if !self.locks.is_idle() {
            return None;
        }
        self.observe.caller = conn;
        Some(self.execute(spec, db, args, now_ms))
    }

    /// Runs a command now unless one of its keys is locked by a cross-shard transaction (or an
    /// earlier command on the same key is still waiting). `None` means it was parked and its reply
    /// will come out of [`Shard::unlock`].
    pub fn submit(
        &mut self,
        spec: &'static CommandSpec,
        db: usize,
        args: Vec<Bytes>,
        reply_to: ReplyTo,
        now_ms: u64,
    ) -> Option<Reply> {
        if let Some(reply) = self.run_now(spec, db, &args, reply_to.conn, now_ms) {
            return Some(reply);
        }
        self.observe.caller = reply_to.conn;
        let keys: Vec<LockKey> = spec
            .key_positions(&args)
            .map(|i| (db as u16, args[i].clone()))
            .collect();
        if self.locks.may_run(&keys) {
            Some(self.execute(spec, db, &args, now_ms))
        } else {
            self.locks.enqueue_command(
                keys,
                Parked {
                    spec: Some(spec),
                    db,
                    args,
                    reply_to,
                    block: None,
                },
            );
            None
        }
    }

    /// Takes intent locks on `keys` for `tx`. Returns true when granted at once; otherwise the
    /// grant comes out of a later [`Shard::unlock`] with an `OK` reply to `reply_to`.
    pub fn lock(&mut self, tx: TxId, keys: Vec<LockKey>, reply_to: ReplyTo) -> bool {
        self.locks
            .lock(tx, keys, Parked::grant_to(reply_to))
            .is_some()
    }

    /// Takes the whole-keyspace lock for `tx`, like [`Shard::lock`] for every key at once.
    pub fn lock_all(&mut self, tx: TxId, reply_to: ReplyTo) -> bool {
        self.locks
            .lock_all(tx, Parked::grant_to(reply_to))
            .is_some()
    }

    /// Releases `tx`'s locks; runs the commands that were waiting for them and grants waiting
    /// lock requests. Returns the replies owed, in the order they were produced.
    pub fn unlock(&mut self, tx: TxId, now_ms: u64) -> Vec<(ReplyTo, Reply)> {
        let ready = self.locks.release(tx);
        let mut replies = Vec::with_capacity(ready.len());
        for waiter in ready {
            match waiter {
                Waiter::Lock { token, .. } | Waiter::LockAll { token, .. } => {
                    replies.push((token.reply_to, self.grant_reply()))
                }
                Waiter::Command { token, .. } => {
                    self.observe.caller = token.reply_to.conn;
                    let reply = match token.spec {
                        Some(spec) => self.execute(spec, token.db, &token.args, now_ms),
                        None => Reply::ok(),
                    };
                    if let (Some(spec), Some(info)) = (token.spec, token.block) {
                        // A blocking command that still finds nothing blocks now.
                        let (db, args, reply_to) = (token.db, token.args, token.reply_to);
                        if let Some(reply) =
                            self.block_unless_served(spec, db, args, reply_to, info, reply)
                        {
                            replies.push((reply_to, reply));
                        }
                        continue;
                    }
                    replies.push((token.reply_to, reply));
                }
            }
        }
        replies
    }

    /// Copies of the live entries under `keys` in `db` (None for a missing or expired key), for a
    /// cross-shard command that runs its handler elsewhere over gathered entries. The caller holds
    /// the keys' locks.
    pub fn get_entries(&mut self, db: usize, keys: &[Bytes], now_ms: u64) -> Vec<Option<Entry>> {
        let db = self.keyspace.db(db);
        keys.iter()
            .map(|key| db.get(key, now_ms).cloned())
            .collect()
    }

    /// Stores the outcome of a gathered cross-shard command: each key gets its new entry (logged
    /// as an entry record), or is deleted when `None` (logged as DEL), all under `tx`'s tag. The
    /// caller holds the keys' locks. `Err` is the MISCONF refusal, before anything changed.
    pub fn put_entries(
        &mut self,
        db: usize,
        entries: Vec<(Bytes, Option<Entry>)>,
        now_ms: u64,
        tx: TxTag,
    ) -> Result<(), Reply> {
        if let Some(refusal) = self.misconf() {
            return Err(refusal);
        }
        for (key, entry) in entries {
            match entry {
                Some(entry) => self.put_entry(db, key, entry, now_ms, tx)?,
                None => {
                    self.take_entry(db, &key, true, now_ms, tx);
                }
            }
        }
        Ok(())
    }

    /// Runs bounded active expiry (called from the shard's tick).
    pub fn active_expire(&mut self, now_ms: u64, budget: usize) -> usize {
        let removed = self.keyspace.active_expire(now_ms, budget);
        if removed > 0 {
            for db in 0..self.keyspace.databases() {
                self.log_expired(db, now_ms);
            }
        }
        removed
    }

    /// Logs a DEL for each key expiry reclaimed in `db` (Redis's propagation of expired keys), so
    /// that the binlog alone says when a key went, for replicas as for replay; and announces each
    /// as `expired` when notifications want it. Free when expiry keeps no keys.
    fn log_expired(&mut self, db: usize, now_ms: u64) {
        for key in self.keyspace.take_expired_keys(db) {
            self.notify
                .notify(crate::config::NotifyFlags::EXPIRED, "expired", &key, db);
            if self.binlog.is_some() {
                let body = Body::Command(vec![Bytes::from_static(b"DEL"), key]);
                self.log(now_ms, db, TxTag::default(), body);
            }
        }
    }
}
