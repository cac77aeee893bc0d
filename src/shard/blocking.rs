//! Clients blocked on this shard's keys (BLPOP and friends), Redis's `blocking.c` back half.
//!
//! A waiter is parked per key in FIFO order ((db, key) -> waiter ids, ids increasing), with an
//! optional deadline. Two kinds:
//! - **run**: all of the command's keys live here. When one of them becomes ready the shard runs
//!   the command again through [`Shard::execute`] (so the binlog records its effect, e.g. LPOP) and
//!   replies; this is exact FIFO, as Redis's `handleClientsBlockedOnKeys`.
//! - **watch**: the command's keys span shards. The client is registered on each shard holding
//!   some of them and the first shard where one becomes ready wakes the client's core
//!   ([`Wake::Ready`]), which cancels the other registrations and retries through the coordinator
//!   (`server::blocking`). Fairness among such clients is approximate: several may be woken for
//!   one item, and the one whose retry arrives first wins.
//!
//! Readiness: the choke point ([`Shard::execute_in`], [`Shard::put_entry`]) marks the keys a write
//! touched ([`BlockedClients::signal`]); the server then calls [`Shard::serve_blocked`] after the
//! request, which serves the ready keys' waiters in order while the key has data of the awaited
//! type (a wrong-type value wakes nobody, as in Redis). Writes that move data between databases
//! (MOVE, SWAPDB, COPY ... DB) mark every awaited key.
//!
//! A client that disconnects sets its waiter's `gone` flag before anything else, so a shard never
//! pops for it afterwards; the cancel message that follows removes the waiter. Deadlines are
//! checked on the shard's tick ([`Shard::expire_blocked`]).

use std::collections::{BTreeSet, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use ahash::AHashMap;
use bytes::Bytes;

use super::{Parked, ReplyTo, Shard};
use crate::command::blocking::{timeout_reply, would_block, WaitKind};
use crate::command::CommandSpec;
use crate::keyspace::Value;
use crate::protocol::reply::Reply;

/// What a watching client (keys on several shards) is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// One of its keys here has data: retry.
    Ready,
    /// Its deadline passed.
    Timeout,
    /// CLIENT UNBLOCK: with `error`, reply `-UNBLOCKED`; otherwise as a timeout.
    Unblocked { error: bool },
    /// Its registration here was withdrawn (another shard woke it, or it went away).
    Cancelled,
}

/// Why a waiter is removed from outside (CLIENT UNBLOCK, disconnect, another shard's wake-up).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unblock {
    /// CLIENT UNBLOCK id [TIMEOUT]: reply as if timed out.
    Timeout,
    /// CLIENT UNBLOCK id ERROR.
    Error,
    /// Withdraw silently (the client is gone or was served elsewhere).
    Cancel,
}

/// An answer owed to a blocked client: a command's reply (run waiters) or a wake-up (watchers).
#[derive(Debug)]
pub enum Served {
    Reply(Reply),
    Wake(Wake),
}

/// How the client waits: the command to run here, or a watch for a cross-shard command.
#[derive(Debug)]
pub enum Task {
    Run {
        spec: &'static CommandSpec,
        args: Vec<Bytes>,
    },
    Watch,
}

/// What a blocking request brings along besides its command: when it gives up (ms since the
/// epoch, 0 = never) and the flag its connection raises when it goes away.
#[derive(Debug, Clone)]
pub struct BlockInfo {
    pub deadline: u64,
    pub gone: Arc<AtomicBool>,
}

#[derive(Debug)]
pub struct Waiter {
    pub reply_to: ReplyTo,
    pub db: usize,
    pub keys: Vec<Bytes>,
    pub kind: WaitKind,
    pub info: BlockInfo,
    pub task: Task,
}

/// This shard's blocked clients. Only the owning core touches it.
#[derive(Debug, Default)]
pub struct BlockedClients {
    next_id: u64,
    waiters: AHashMap<u64, Waiter>,
    by_key: AHashMap<(usize, Bytes), VecDeque<u64>>,
    /// (client's core, client id) -> its waiter here; a client blocks on one command at a time.
    by_client: AHashMap<(usize, u64), u64>,
    deadlines: BTreeSet<(u64, u64)>,
    /// Awaited keys a write touched since the last serve, in order, without repeats.
    ready: Vec<(usize, Bytes)>,
}

impl BlockedClients {
    pub fn is_empty(&self) -> bool {
        self.waiters.is_empty()
    }

    /// Blocked clients here (INFO `blocked_clients` counts them on their own core instead).
    pub fn len(&self) -> usize {
        self.waiters.len()
    }

    /// Distinct keys clients are blocked on (INFO `total_blocking_keys`).
    pub fn keys_len(&self) -> usize {
        self.by_key.len()
    }

    pub fn has_ready(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Parks a waiter behind those already waiting on its keys.
    pub fn park(&mut self, waiter: Waiter) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        for key in &waiter.keys {
            let queue = self.by_key.entry((waiter.db, key.clone())).or_default();
            if queue.back() != Some(&id) {
                queue.push_back(id);
            }
        }
        if waiter.info.deadline != 0 {
            self.deadlines.insert((waiter.info.deadline, id));
        }
        let client = (waiter.reply_to.shard, waiter.reply_to.conn);
        self.by_client.insert(client, id);
        self.waiters.insert(id, waiter);
        id
    }

    /// Removes a waiter from every list.
    pub fn remove(&mut self, id: u64) -> Option<Waiter> {
        let waiter = self.waiters.remove(&id)?;
        for key in &waiter.keys {
            let slot = (waiter.db, key.clone());
            if let Some(queue) = self.by_key.get_mut(&slot) {
                queue.retain(|other| *other != id);
                if queue.is_empty() {
                    self.by_key.remove(&slot);
                }
            }
        }
        self.deadlines.remove(&(waiter.info.deadline, id));
        let client = (waiter.reply_to.shard, waiter.reply_to.conn);
        if self.by_client.get(&client) == Some(&id) {
            self.by_client.remove(&client);
        }
        Some(waiter)
    }

    /// The waiter of a client, if it is blocked here.
    pub fn of_client(&self, shard: usize, conn: u64) -> Option<u64> {
        self.by_client.get(&(shard, conn)).copied()
    }

    /// The first waiter on a key.
    pub fn front(&self, db: usize, key: &Bytes) -> Option<u64> {
        self.by_key
            .get(&(db, key.clone()))
            .and_then(|queue| queue.front().copied())
    }

    pub fn get(&self, id: u64) -> Option<&Waiter> {
        self.waiters.get(&id)
    }

    /// Marks a key a write touched; ignored unless someone waits on it.
    pub fn signal(&mut self, db: usize, key: &Bytes) {
        let slot = (db, key.clone());
        if self.by_key.contains_key(&slot) && !self.ready.contains(&slot) {
            self.ready.push(slot);
        }
    }

    /// Marks every awaited key (after writes that move data between databases).
    pub fn signal_all(&mut self) {
        let all: Vec<(usize, Bytes)> = self.by_key.keys().cloned().collect();
        for slot in all {
            if !self.ready.contains(&slot) {
                self.ready.push(slot);
            }
        }
    }

    pub fn take_ready(&mut self) -> Vec<(usize, Bytes)> {
        std::mem::take(&mut self.ready)
    }

    /// Removes and returns the waiters whose deadline is at or before `now_ms`, soonest first.
    pub fn take_expired(&mut self, now_ms: u64) -> Vec<Waiter> {
        let due: Vec<u64> = self
            .deadlines
            .iter()
            .take_while(|(deadline, _)| *deadline <= now_ms)
            .map(|(_, id)| *id)
            .collect();
        due.into_iter().filter_map(|id| self.remove(id)).collect()
    }
}

/// Whether `key` holds a value that wakes a client waiting for `kind`.
fn holds(shard: &mut Shard, db: usize, key: &[u8], kind: WaitKind, now_ms: u64) -> bool {
    matches!(
        (
            shard.keyspace.db(db).get(key, now_ms).map(|e| &e.value),
            kind
        ),
        (Some(Value::List(_)), WaitKind::List) | (Some(Value::ZSet(_)), WaitKind::ZSet)
    )
}

/// What a waiter removed from outside is owed.
fn unblocked_answer(waiter: &Waiter, reason: Unblock) -> Option<Served> {
    let error = Reply::error_static("UNBLOCKED client unblocked via CLIENT UNBLOCK");
    match (&waiter.task, reason) {
        (_, Unblock::Cancel) => match waiter.task {
            Task::Watch => Some(Served::Wake(Wake::Cancelled)),
            Task::Run { .. } => None,
        },
        (Task::Watch, reason) => Some(Served::Wake(Wake::Unblocked {
            error: reason == Unblock::Error,
        })),
        (Task::Run { .. }, Unblock::Error) => Some(Served::Reply(error)),
        (Task::Run { .. }, Unblock::Timeout) => Some(Served::Reply(timeout_reply())),
    }
}

impl Shard {
    /// A blocking command whose keys all live here: runs it now when it can pop, else parks the
    /// client (`None`: the reply comes later out of [`Shard::serve_blocked`] or a timeout).
    /// Keys locked by a cross-shard transaction park it on the locks first.
    pub fn block(
        &mut self,
        spec: &'static CommandSpec,
        db: usize,
        args: Vec<Bytes>,
        reply_to: ReplyTo,
        info: BlockInfo,
        now_ms: u64,
    ) -> Option<Reply> {
        self.observe.caller = reply_to.conn;
        if !self.locks.is_idle() {
            let keys: Vec<_> = spec
                .key_positions(&args)
                .map(|i| (db as u16, args[i].clone()))
                .collect();
            if !self.locks.may_run(&keys) {
                let parked = Parked {
                    spec: Some(spec),
                    db,
                    args,
                    reply_to,
                    block: Some(info),
                };
                self.locks.enqueue_command(keys, parked);
                return None;
            }
        }
        let reply = self.execute(spec, db, &args, now_ms);
        self.block_unless_served(spec, db, args, reply_to, info, reply)
    }

    /// Parks the client when `reply` says the command found nothing to pop.
    pub(super) fn block_unless_served(
        &mut self,
        spec: &'static CommandSpec,
        db: usize,
        args: Vec<Bytes>,
        reply_to: ReplyTo,
        info: BlockInfo,
        reply: Reply,
    ) -> Option<Reply> {
        if !would_block(&reply) || info.gone.load(Ordering::Acquire) {
            return Some(reply);
        }
        let keys: Vec<Bytes> = spec.key_positions(&args).map(|i| args[i].clone()).collect();
        self.blocking.park(Waiter {
            reply_to,
            db,
            keys,
            kind: crate::command::blocking::wait_kind(spec),
            info,
            task: Task::Run { spec, args },
        });
        None
    }

    /// Registers a watch for a cross-shard blocking command; `Some(Ready)` at once when one of
    /// the keys already has data (it arrived after the client's non-blocking attempt).
    pub fn watch(
        &mut self,
        db: usize,
        keys: Vec<Bytes>,
        kind: WaitKind,
        reply_to: ReplyTo,
        info: BlockInfo,
        now_ms: u64,
    ) -> Option<Wake> {
        if info.gone.load(Ordering::Acquire) {
            return Some(Wake::Cancelled);
        }
        if keys.iter().any(|key| holds(self, db, key, kind, now_ms)) {
            return Some(Wake::Ready);
        }
        self.blocking.park(Waiter {
            reply_to,
            db,
            keys,
            kind,
            info,
            task: Task::Watch,
        });
        None
    }

    /// Removes the waiter of client `conn` of core `shard`, if any; returns what it is owed.
    pub fn unblock(
        &mut self,
        shard: usize,
        conn: u64,
        reason: Unblock,
    ) -> Option<(ReplyTo, Served)> {
        let id = self.blocking.of_client(shard, conn)?;
        let waiter = self.blocking.remove(id)?;
        unblocked_answer(&waiter, reason).map(|answer| (waiter.reply_to, answer))
    }

    /// Serves the waiters of the keys writes made ready, in FIFO order per key, while each key
    /// has data (Redis's `handleClientsBlockedOnKeys`). Serving may make more keys ready (BLMOVE's
    /// destination); those are served in the same call.
    pub fn serve_blocked(&mut self, now_ms: u64) -> Vec<(ReplyTo, Served)> {
        let mut answers = Vec::new();
        while self.blocking.has_ready() {
            for (db, key) in self.blocking.take_ready() {
                self.serve_key(db, &key, now_ms, &mut answers);
            }
        }
        answers
    }

    fn serve_key(
        &mut self,
        db: usize,
        key: &Bytes,
        now_ms: u64,
        answers: &mut Vec<(ReplyTo, Served)>,
    ) {
        while let Some(id) = self.blocking.front(db, key) {
            let Some(waiter) = self.blocking.get(id) else {
                break;
            };
            if waiter.info.gone.load(Ordering::Acquire) {
                self.blocking.remove(id);
                continue;
            }
            let (kind, reply_to) = (waiter.kind, waiter.reply_to);
            let run = match &waiter.task {
                Task::Run { spec, args } => Some((*spec, args.clone())),
                Task::Watch => None,
            };
            if !holds(self, db, key, kind, now_ms) {
                break;
            }
            match run {
                None => {
                    self.blocking.remove(id);
                    answers.push((reply_to, Served::Wake(Wake::Ready)));
                }
                Some((spec, args)) => {
                    // Counted once per client command, at its first attempt (Redis counts a
                    // blocked command once too).
                    self.observe.caller = reply_to.conn;
                    self.observe.quiet = true;
                    let reply = self.execute(spec, db, &args, now_ms);
                    self.observe.quiet = false;
                    if would_block(&reply) {
                        break;
                    }
                    self.blocking.remove(id);
                    answers.push((reply_to, Served::Reply(reply)));
                }
            }
        }
    }

    /// Times out the waiters whose deadline passed (called from the shard's tick).
    pub fn expire_blocked(&mut self, now_ms: u64) -> Vec<(ReplyTo, Served)> {
        self.blocking
            .take_expired(now_ms)
            .into_iter()
            .filter(|waiter| !waiter.info.gone.load(Ordering::Acquire))
            .map(|waiter| {
                let answer = match waiter.task {
                    Task::Watch => Served::Wake(Wake::Timeout),
                    Task::Run { .. } => Served::Reply(timeout_reply()),
                };
                (waiter.reply_to, answer)
            })
            .collect()
    }

    /// Marks the keys a write touched as ready for the clients blocked on them.
    pub(super) fn signal_written(&mut self, spec: &CommandSpec, db: usize, args: &[Bytes]) {
        if spec.first_key <= 0 || matches!(spec.name, "move" | "swapdb" | "copy") {
            self.blocking.signal_all();
            return;
        }
        for position in spec.key_positions(args) {
            self.blocking.signal(db, &args[position]);
        }
    }
}

#[cfg(test)]
mod tests;
