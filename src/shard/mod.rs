//! The per-core owner of state: one shard's keyspace, its intent locks and its counters.
//!
//! Everything here is synchronous; the server layer owns the runtime and calls in. [`Shard::execute`]
//! is the one place a command runs against the keyspace (Redis's `call()`): the binlog will hook in
//! here so that commands never journal themselves. Only the owning core ever touches a `Shard`.

pub mod locks;

use bytes::Bytes;

use crate::admin::stats::ShardObserver;
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
}

impl Parked {
    /// A lock request: nothing to run, just an `OK` owed to `reply_to` once granted.
    fn grant_to(reply_to: ReplyTo) -> Parked {
        Parked {
            spec: None,
            db: 0,
            args: Vec::new(),
            reply_to,
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
        }
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
        let Some(handler) = spec.handler else {
            return command::unknown_command_error(args);
        };
        let mut ctx = ExecContext {
            keyspace: &mut self.keyspace,
            db_index: db,
            now_ms,
            limits: &self.limits,
        };
        let running = self.observe.begin(spec);
        let reply = handler(&mut ctx, args);
        self.observe.end(running, args, reply.is_error());
        reply
    }

    /// Runs one shard's part of a command coordinated across shards (`server::coordinator`):
    /// `execute`, except that the command's counters, slow log and latency are recorded once, by
    /// the coordinating connection, rather than once per part.
    pub fn execute_part(
        &mut self,
        spec: &'static CommandSpec,
        db: usize,
        args: &[Bytes],
        now_ms: u64,
    ) -> Reply {
        self.observe.quiet = true;
        let reply = self.execute(spec, db, args, now_ms);
        self.observe.quiet = false;
        reply
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
        self.observe.caller = reply_to.conn;
        if self.locks.is_idle() {
            return Some(self.execute(spec, db, &args, now_ms));
        }
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
                    replies.push((token.reply_to, Reply::ok()))
                }
                Waiter::Command { token, .. } => {
                    self.observe.caller = token.reply_to.conn;
                    let reply = match token.spec {
                        Some(spec) => self.execute(spec, token.db, &token.args, now_ms),
                        None => Reply::ok(),
                    };
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

    /// Stores the outcome of a gathered cross-shard command: each key gets its new entry, or is
    /// deleted when `None`. The caller holds the keys' locks. Like [`Shard::execute`], a place
    /// where writes reach the keyspace (and so the binlog).
    pub fn put_entries(&mut self, db: usize, entries: Vec<(Bytes, Option<Entry>)>, now_ms: u64) {
        let db = self.keyspace.db(db);
        for (key, entry) in entries {
            match entry {
                Some(entry) => db.insert(key, entry),
                None => {
                    db.remove(&key, now_ms);
                }
            }
        }
    }

    /// Runs bounded active expiry (called from the shard's tick).
    pub fn active_expire(&mut self, now_ms: u64, budget: usize) -> usize {
        self.keyspace.active_expire(now_ms, budget)
    }
}
