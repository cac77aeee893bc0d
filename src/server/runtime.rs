//! One core's runtime: its shard, its clients, its outboxes to the other cores, and the handling
//! of every request another core (or one of its own connections) sends it.
//!
//! Lives in an `Rc` on its executor and is never shared with another thread; other cores reach it
//! only through the request mesh (see `router`).

use std::cell::{Cell, RefCell};
use std::os::fd::{FromRawFd, RawFd};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Poll, Waker};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use ahash::AHashMap;

use crate::admin::stats::ShardObserver;
use crate::admin::Observability;
use crate::binlog::{snapshot, TxTag, WriterOptions};
use crate::command::server::{ClientInfo, PersistenceFacts, ShardSnapshot};
use crate::command::CommandLimits;
use crate::config::Config;
use crate::protocol::reply::Reply;
use crate::shard::blocking::{Served, Unblock};
use crate::shard::locks::TxId;
use crate::shard::{ReplyTo, Shard};
use crate::slot::SlotTable;

use super::router::{Inbox, Op, Outbox, ReplyMessage, Request, Response};
use super::{ControlEvent, StaticFacts};

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// The state of one connection that other parts of its core can see: the registry (CLIENT LIST,
/// KILL) and the reply dispatcher (its inbox).
pub struct Client {
    pub id: u64,
    pub fd: RawFd,
    pub inbox: Inbox,
    pub meta: RefCell<ClientMeta>,
    /// The highest binlog position of this core that a write of the connection's current batch
    /// reached: its replies leave once the binlog acknowledges it (0 = the batch logged nothing
    /// here, so nothing to wait for, whatever other connections wrote meanwhile).
    pub ack_position: Cell<u64>,
    /// Set on the first SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE: subscriptions and pushes queued.
    pub subscriber: RefCell<Option<Rc<super::pubsub::Subscriber>>>,
}

impl Client {
    /// `(addr, laddr)` as CLIENT LIST shows them, looked up once.
    pub fn addresses(&self) -> (String, String) {
        if let Some(addresses) = &self.meta.borrow().addresses {
            return addresses.clone();
        }
        // Borrow the descriptor as a socket2 socket without taking ownership of it.
        // SAFETY: the connection owns `fd` and outlives this call; ManuallyDrop never closes it.
        let socket = std::mem::ManuallyDrop::new(unsafe { socket2::Socket::from_raw_fd(self.fd) });
        let text = |addr: std::io::Result<socket2::SockAddr>| {
            addr.ok()
                .and_then(|a| a.as_socket())
                .map(|a| a.to_string())
                .unwrap_or_default()
        };
        let addresses = (text(socket.peer_addr()), text(socket.local_addr()));
        self.meta.borrow_mut().addresses = Some(addresses.clone());
        addresses
    }
}

/// What CLIENT LIST reports about a connection, kept up to date by the connection task.
#[derive(Debug, Clone)]
pub struct ClientMeta {
    /// Peer and local address, looked up on first use (CLIENT LIST/KILL): most connections,
    /// short ones above all, are never listed, so accept does not pay two syscalls for them.
    pub addresses: Option<(String, String)>,
    pub name: String,
    pub lib_name: String,
    pub lib_version: String,
    pub db: usize,
    pub resp: u8,
    pub created: Instant,
    /// Milliseconds since the epoch of the last request.
    pub last_interaction_ms: u64,
    pub last_command: &'static str,
    pub query_buffer: usize,
    pub query_buffer_free: usize,
    pub output_memory: usize,
    /// Set when CLIENT KILL, idle timeout or shutdown asks the connection to end.
    pub closing: bool,
    /// Set by MONITOR (CLIENT LIST shows `flags=O`).
    pub monitor: bool,
    /// Commands queued since MULTI, `None` outside MULTI (CLIENT LIST's `multi=` and `flags=x`).
    pub queued: Option<usize>,
    /// The shards a blocking command of this client waits on; empty when not blocked (CLIENT
    /// LIST `flags=b`, INFO `blocked_clients`, CLIENT UNBLOCK).
    pub blocked_on: Vec<usize>,
}

/// Connection counters of one core.
#[derive(Debug, Default, Clone)]
pub struct Counters {
    pub total_connections_received: u64,
    pub rejected_connections: u64,
    pub total_commands_processed: u64,
    pub total_error_replies: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
}

pub struct Runtime {
    pub id: usize,
    pub nshards: usize,
    pub shard: RefCell<Shard>,
    pub config: RefCell<Arc<Config>>,
    pub slots: Arc<SlotTable>,
    pub facts: Arc<StaticFacts>,
    pub requests_out: Vec<Rc<Outbox<Request>>>,
    pub replies_out: Vec<Rc<Outbox<ReplyMessage>>>,
    pub clients: RefCell<AHashMap<u64, Rc<Client>>>,
    pub counters: RefCell<Counters>,
    pub control: crossbeam_channel::Sender<ControlEvent>,
    pub shutting_down: Cell<bool>,
    /// What this core publishes and the admin side (monitors, disk failpoint) it reaches.
    pub obs: Arc<Observability>,
    next_client: Cell<u64>,
    next_tx: Cell<u64>,
    /// Tasks waiting for the binlog to reach a position (replies held for durability).
    binlog_waiters: RefCell<Vec<Waker>>,
    /// Replies to other cores' writes waiting for their binlog position to be acknowledged:
    /// (position, destination core, reply). Replies to reads never wait here, so reads are
    /// served while a failing disk holds the writes.
    held_replies: RefCell<Vec<(u64, usize, ReplyMessage)>>,
    /// The binlog position when the request being handled started, while one is.
    handling_from: Cell<Option<u64>>,
    /// Minute of the day (UTC, with the day) of the last `save-schedule` snapshot started.
    pub last_scheduled_save: Cell<u64>,
    /// Read buffers lent to connections while they have input (see `buffers`).
    pub read_buffers: super::buffers::ReadBuffers,
    /// This core's subscribers (see `server::pubsub`).
    pub pubsub: super::pubsub::PubSub,
}

/// What a persistence command asks of a shard.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PersistOp {
    /// BGSAVE: start a snapshot in the background.
    BackgroundSave,
    /// SAVE: take a snapshot now, replying when it is on disk.
    Save,
    /// BGREWRITEAOF: rotate the binlog, then snapshot in the background.
    Rewrite,
    /// LASTSAVE: unix seconds of the last successful snapshot.
    LastSave,
}

impl Runtime {
    pub fn new(
        id: usize,
        nshards: usize,
        config: Arc<Config>,
        slots: Arc<SlotTable>,
        facts: Arc<StaticFacts>,
        control: crossbeam_channel::Sender<ControlEvent>,
        obs: Arc<Observability>,
    ) -> Self {
        let limits = CommandLimits::from_config(&config);
        let mut shard = Shard::new(id, config.databases, limits);
        shard.observe = ShardObserver::new(obs.shards[id].clone(), obs.clock.clone(), id, nshards);
        shard.observe.configure(&config);
        shard.observe.tick(super::TICK);
        shard.set_notify_flags(config.notify_keyspace_events);
        Runtime {
            id,
            nshards,
            shard: RefCell::new(shard),
            config: RefCell::new(config),
            slots,
            facts,
            requests_out: (0..nshards).map(|_| Rc::new(Outbox::default())).collect(),
            replies_out: (0..nshards).map(|_| Rc::new(Outbox::default())).collect(),
            clients: RefCell::new(AHashMap::new()),
            counters: RefCell::new(Counters::default()),
            control,
            shutting_down: Cell::new(false),
            obs,
            next_client: Cell::new(0),
            next_tx: Cell::new(0),
            binlog_waiters: RefCell::new(Vec::new()),
            held_replies: RefCell::new(Vec::new()),
            handling_from: Cell::new(None),
            last_scheduled_save: Cell::new(0),
            read_buffers: Default::default(),
            pubsub: Default::default(),
        }
    }

    /// Binlog writer settings from a configuration.
    pub fn writer_options(config: &Config) -> WriterOptions {
        WriterOptions {
            fsync: config.appendfsync,
            segment_size: config.binlog_segment_size,
            segment_seconds: config.binlog_segment_seconds,
            failpoint: config.binlog_failpoint,
        }
    }

    /// Wakes every task waiting on the binlog (after a flush or an fsync).
    pub fn wake_binlog_waiters(&self) {
        for waker in self.binlog_waiters.borrow_mut().drain(..) {
            waker.wake();
        }
        if self.held_replies.borrow().is_empty() {
            return;
        }
        let held = std::mem::take(&mut *self.held_replies.borrow_mut());
        let shard = self.shard.borrow();
        let mut still = Vec::new();
        for (position, peer, message) in held {
            if shard
                .binlog
                .as_ref()
                .is_none_or(|w| w.acknowledged(position))
            {
                self.replies_out[peer].push(message);
            } else {
                still.push((position, peer, message));
            }
        }
        drop(shard);
        self.held_replies.borrow_mut().extend(still);
    }

    /// Waits until a reply for a write at `position` may leave: the record is written (or, with
    /// `appendfsync always`, durable). Returns at once without a binlog.
    pub async fn wait_acknowledged(&self, position: u64) {
        std::future::poll_fn(|cx| {
            let shard = self.shard.borrow();
            match &shard.binlog {
                Some(writer) if !writer.acknowledged(position) => {
                    self.binlog_waiters.borrow_mut().push(cx.waker().clone());
                    Poll::Pending
                }
                _ => Poll::Ready(()),
            }
        })
        .await
    }

    /// Runs a persistence command on this shard.
    pub fn persist(&self, op: PersistOp) -> Reply {
        let mut shard = self.shard.borrow_mut();
        if op == PersistOp::LastSave {
            return Reply::Integer(shard.snapshots.last_save_unix as i64);
        }
        if shard.snapshots.in_progress() {
            if op == PersistOp::Save {
                // Redis refuses SAVE during BGSAVE; here SAVE finishes the one in progress.
                return match shard.finish_snapshot() {
                    Ok(()) => Reply::ok(),
                    Err(_) => Reply::error_static("ERR"),
                };
            }
            return match op {
                PersistOp::Rewrite => {
                    Reply::status("Background append only file rewriting scheduled")
                }
                _ => Reply::error_static("ERR Background save already in progress"),
            };
        }
        if op == PersistOp::Rewrite {
            if let Some(writer) = shard.binlog.as_mut() {
                writer.rotate_now();
            }
        }
        let dir = self.config().dir.clone();
        if let Err(error) = shard.start_snapshot(&dir, now_ms()) {
            return Reply::error(format!("ERR {error}"));
        }
        match op {
            PersistOp::Save => match shard.finish_snapshot() {
                Ok(()) => Reply::ok(),
                Err(_) => Reply::error_static("ERR"),
            },
            PersistOp::Rewrite => Reply::status("Background append only file rewriting started"),
            _ => Reply::status("Background saving started"),
        }
    }

    pub fn config(&self) -> Arc<Config> {
        self.config.borrow().clone()
    }

    pub fn shard_of_key(&self, key: &[u8]) -> usize {
        if self.nshards == 1 {
            0
        } else {
            self.slots.shard_of_key(key)
        }
    }

    /// A client id unique over the whole server: ids from core `i` are `i + 1 + k * shards`.
    pub fn new_client_id(&self) -> u64 {
        let seq = self.next_client.get();
        self.next_client.set(seq + 1);
        seq * self.nshards as u64 + self.id as u64 + 1
    }

    /// A transaction id unique over the whole server.
    pub fn new_tx_id(&self) -> TxId {
        let seq = self.next_tx.get();
        self.next_tx.set(seq + 1);
        seq * self.nshards as u64 + self.id as u64
    }

    /// Sends `op` to shard `target` (handled in place when it is this core) with the reply going
    /// to a fresh slot of `client`'s inbox; returns the slot.
    pub fn submit(&self, target: usize, client: &Client, op: Op) -> u32 {
        let seq = client.inbox.reserve();
        let reply_to = ReplyTo {
            shard: self.id,
            conn: client.id,
            seq,
        };
        let request = Request { reply_to, op };
        if target == self.id {
            self.handle(request);
        } else {
            self.requests_out[target].push(request);
        }
        seq
    }

    /// Delivers a response to whoever asked: in place for this core's connections, else through
    /// the reply outbox of the asking core.
    pub fn respond(&self, reply_to: ReplyTo, response: Response) {
        if reply_to.shard == self.id {
            let client = self.clients.borrow().get(&reply_to.conn).cloned();
            if let Some(client) = client {
                let position = self.shard.borrow().binlog_position();
                if self.handling_from.get().is_some_and(|from| position > from) {
                    client
                        .ack_position
                        .set(client.ack_position.get().max(position));
                }
                client.inbox.deliver(reply_to.seq, response);
            }
        } else {
            let message = ReplyMessage {
                conn: reply_to.conn,
                seq: reply_to.seq,
                response,
            };
            // A reply to a request that logged something leaves once the binlog acknowledges it.
            let shard = self.shard.borrow();
            let position = shard.binlog_position();
            let wrote = self.handling_from.get().is_some_and(|from| position > from);
            let waits = wrote
                && shard
                    .binlog
                    .as_ref()
                    .is_some_and(|w| !w.acknowledged(position));
            drop(shard);
            if waits {
                self.held_replies
                    .borrow_mut()
                    .push((position, reply_to.shard, message));
            } else {
                self.replies_out[reply_to.shard].push(message);
            }
        }
    }

    /// A reply that arrived from another core.
    pub fn deliver_remote(&self, message: ReplyMessage) {
        let client = self.clients.borrow().get(&message.conn).cloned();
        if let Some(client) = client {
            client.inbox.deliver(message.seq, message.response);
        }
    }

    fn respond_all(&self, replies: Vec<(ReplyTo, Reply)>) {
        for (reply_to, reply) in replies {
            self.respond(reply_to, Response::Reply(reply));
        }
    }

    fn unlock(&self, tx: TxId) {
        let released = self.shard.borrow_mut().unlock(tx, now_ms());
        self.respond_all(released);
    }

    /// Handles one request addressed to this shard.
    pub fn handle(&self, request: Request) {
        let from = self.shard.borrow().binlog_position();
        self.handling_from.set(Some(from));
        self.handle_op(request);
        self.serve_blocked();
        self.handling_from.set(None);
    }

    /// Sends blocked clients what this shard owes them.
    fn answer_blocked(&self, answers: Vec<(ReplyTo, Served)>) {
        for (reply_to, answer) in answers {
            let response = match answer {
                Served::Reply(reply) => Response::Reply(reply),
                Served::Wake(wake) => Response::Woken(wake),
            };
            self.respond(reply_to, response);
        }
    }

    /// Serves the clients blocked on keys that writes made ready (`shard::blocking`): after every
    /// request, after a connection's local command, and on the tick. Not while a script or a
    /// transaction holding every shard is between its calls here (its records are held back):
    /// as in Redis, blocked clients are served once it ended (`Op::ScriptEnd`), in order, so
    /// the script itself never sees an item it pushed taken away.
    pub fn serve_blocked(&self) {
        let shard = self.shard.borrow();
        if !shard.blocking.has_ready() || shard.capturing() {
            return;
        }
        drop(shard);
        let outer = self.handling_from.get();
        if outer.is_none() {
            // Replies to the pops logged here wait for the binlog like any write's.
            let from = self.shard.borrow().binlog_position();
            self.handling_from.set(Some(from));
        }
        let answers = self.shard.borrow_mut().serve_blocked(now_ms());
        self.answer_blocked(answers);
        self.handling_from.set(outer);
    }

    /// Times out blocked clients whose deadline passed (from the tick).
    pub fn expire_blocked(&self) {
        if self.shard.borrow().blocking.is_empty() {
            return;
        }
        let answers = self.shard.borrow_mut().expire_blocked(now_ms());
        self.answer_blocked(answers);
        self.serve_blocked();
    }

    /// Asks shard `target` to remove client `conn` of this core from its blocked clients.
    pub fn send_unblock(&self, target: usize, conn: u64, reason: Unblock) {
        // Client ids start at 1: a reply to connection 0 is dropped.
        let reply_to = ReplyTo {
            shard: self.id,
            conn: 0,
            seq: 0,
        };
        let op = Op::Unblock {
            shard: self.id,
            conn,
            reason,
        };
        let request = Request { reply_to, op };
        if target == self.id {
            self.handle(request);
        } else {
            self.requests_out[target].push(request);
        }
    }

    /// CLIENT UNBLOCK for a client of this core: whether it was blocked.
    fn unblock_client(&self, id: u64, reason: Unblock) -> bool {
        let client = self.clients.borrow().get(&id).cloned();
        let Some(client) = client else {
            return false;
        };
        let shards = client.meta.borrow().blocked_on.clone();
        for &shard in &shards {
            self.send_unblock(shard, id, reason);
        }
        !shards.is_empty()
    }

    fn handle_op(&self, request: Request) {
        let Request { reply_to, op } = request;
        if reply_to.shard != self.id {
            self.shard.borrow_mut().remote_commands += 1;
        }
        match op {
            Op::Command { spec, db, args } => {
                let done = self
                    .shard
                    .borrow_mut()
                    .submit(spec, db, args, reply_to, now_ms());
                if let Some(reply) = done {
                    self.respond(reply_to, Response::Reply(reply));
                }
            }
            Op::Lock { tx, keys } => {
                if self.shard.borrow_mut().lock(tx, keys, reply_to) {
                    let grant = self.shard.borrow().grant_reply();
                    self.respond(reply_to, Response::Reply(grant));
                }
            }
            Op::LockAll { tx } => {
                if self.shard.borrow_mut().lock_all(tx, reply_to) {
                    let grant = self.shard.borrow().grant_reply();
                    self.respond(reply_to, Response::Reply(grant));
                }
            }
            Op::TxCommand {
                tx,
                participants,
                spec,
                db,
                args,
                unlock,
            } => {
                let tag = TxTag {
                    id: tx,
                    participants,
                };
                let mut shard = self.shard.borrow_mut();
                shard.observe.caller = reply_to.conn;
                let reply = shard.execute_part(spec, db, &args, now_ms(), Some(tag));
                drop(shard);
                self.respond(reply_to, Response::Reply(reply));
                if unlock {
                    self.unlock(tx);
                }
            }
            Op::TxGetEntries { tx: _, db, keys } => {
                let entries = self.shard.borrow_mut().get_entries(db, &keys, now_ms());
                self.respond(reply_to, Response::Entries(entries));
            }
            Op::TxPutEntries {
                tx,
                participants,
                db,
                entries,
            } => {
                let tag = TxTag {
                    id: tx,
                    participants,
                };
                let stored = self
                    .shard
                    .borrow_mut()
                    .put_entries(db, entries, now_ms(), tag);
                let reply = stored.err().unwrap_or_else(Reply::ok);
                self.respond(reply_to, Response::Reply(reply));
                self.unlock(tx);
            }
            Op::Unlock { tx } => {
                self.respond(reply_to, Response::Reply(Reply::ok()));
                self.unlock(tx);
            }
            Op::Watch { keys } => {
                let stamps = self.shard.borrow_mut().watch_keys(keys, now_ms());
                self.respond(reply_to, Response::Watched(stamps));
            }
            Op::Unwatch { keys } => {
                self.shard.borrow_mut().unwatch_keys(&keys);
                self.respond(reply_to, Response::Reply(Reply::ok()));
            }
            Op::WatchCheck { watched } => {
                let intact = self.shard.borrow_mut().check_watches(&watched, now_ms());
                self.respond(reply_to, Response::Reply(Reply::Integer(intact as i64)));
            }
            Op::TxExec {
                tx,
                participants,
                items,
            } => {
                let tag = TxTag {
                    id: tx,
                    participants,
                };
                let mut shard = self.shard.borrow_mut();
                shard.observe.caller = reply_to.conn;
                let replies = shard.execute_batch(&items, now_ms(), Some(tag));
                drop(shard);
                self.respond(reply_to, Response::Reply(Reply::Array(replies)));
                self.unlock(tx);
            }
            Op::TxStore {
                tx,
                participants,
                entries,
            } => {
                let tag = TxTag {
                    id: tx,
                    participants,
                };
                let now = now_ms();
                let mut shard = self.shard.borrow_mut();
                let mut stored = Ok(());
                for (db, key, entry) in entries {
                    stored =
                        stored.and_then(|()| shard.put_entries(db, vec![(key, entry)], now, tag));
                }
                drop(shard);
                let reply = stored.err().unwrap_or_else(Reply::ok);
                self.respond(reply_to, Response::Reply(reply));
                self.unlock(tx);
            }
            Op::Scan {
                db,
                cursor,
                count,
                pattern,
                type_filter,
            } => {
                let (next, keys) = self.shard.borrow_mut().keyspace.db(db).scan(
                    cursor,
                    count,
                    pattern.as_deref(),
                    type_filter.as_deref(),
                    now_ms(),
                );
                self.respond(reply_to, Response::Scan(next, keys));
            }
            Op::Snapshot => {
                let snapshot = self.snapshot();
                self.respond(reply_to, Response::Snapshot(Box::new(snapshot)));
            }
            Op::ClientList => {
                let list = self.client_list();
                self.respond(reply_to, Response::Clients(list));
            }
            Op::ClientKill { filter, caller } => {
                let mut killed = 0;
                let clients: Vec<Rc<Client>> = self.clients.borrow().values().cloned().collect();
                for client in clients {
                    if filter.matches(&self.client_info(&client), caller) {
                        self.close_client(&client);
                        killed += 1;
                    }
                }
                self.respond(reply_to, Response::Count(killed));
            }
            Op::Observe(op) => {
                let observed = super::observe::handle(self, op);
                self.respond(reply_to, Response::Observed(Box::new(observed)));
            }
            Op::ResetStats => {
                *self.counters.borrow_mut() = Counters::default();
                let mut shard = self.shard.borrow_mut();
                shard.keyspace.stats = Default::default();
                shard.remote_commands = 0;
                shard.observe.reset_commands();
                drop(shard);
                self.respond(reply_to, Response::Reply(Reply::ok()));
            }
            Op::Persist(op) => {
                let reply = self.persist(op);
                self.respond(reply_to, Response::Reply(reply));
            }
            Op::Configure(config) => {
                let mut shard = self.shard.borrow_mut();
                shard.limits = CommandLimits::from_config(&config);
                shard.observe.configure(&config);
                shard.set_notify_flags(config.notify_keyspace_events);
                if let Some(writer) = shard.binlog.as_mut() {
                    writer.set_options(Self::writer_options(&config));
                }
                drop(shard);
                self.obs.configure(&config);
                *self.config.borrow_mut() = config;
                self.respond(reply_to, Response::Reply(Reply::ok()));
            }
            Op::PubSub(op) => {
                if let Some(response) = super::pubsub::handle(self, op) {
                    self.respond(reply_to, response);
                }
            }
            Op::Block {
                spec,
                db,
                args,
                info,
            } => {
                let done = self
                    .shard
                    .borrow_mut()
                    .block(spec, db, args, reply_to, info, now_ms());
                if let Some(reply) = done {
                    self.respond(reply_to, Response::Reply(reply));
                }
            }
            Op::BlockWatch {
                db,
                keys,
                kind,
                info,
            } => {
                let woken = self
                    .shard
                    .borrow_mut()
                    .watch(db, keys, kind, reply_to, info, now_ms());
                if let Some(wake) = woken {
                    self.respond(reply_to, Response::Woken(wake));
                }
            }
            Op::Unblock {
                shard,
                conn,
                reason,
            } => {
                let answer = self.shard.borrow_mut().unblock(shard, conn, reason);
                self.answer_blocked(answer.into_iter().collect());
            }
            Op::ClientUnblock { id, reason } => {
                let unblocked = self.unblock_client(id, reason);
                self.respond(reply_to, Response::Count(unblocked as u64));
            }
            Op::Script(run) => {
                let response = super::script::run_here(self, &run.run(), run.db, reply_to.conn);
                self.respond(reply_to, response);
            }
            Op::ScriptCall { call, reply } => {
                let _ = reply.send(super::script::handle_call(self, call));
            }
            Op::ScriptEnd {
                tx,
                participants,
                wrote,
            } => {
                super::script::end_here(self, tx, participants, wrote);
                self.respond(reply_to, Response::Reply(Reply::ok()));
                self.unlock(tx);
            }
            Op::MemcacheStats { reset } => {
                let report = super::memcache::stats::report(self);
                if reset {
                    super::memcache::stats::reset();
                }
                self.respond(reply_to, Response::MemcacheStats(Box::new(report)));
            }
        }
    }

    /// Ends a connection from outside its task: its next read sees end-of-file, so the replies it
    /// is working on still go out.
    pub fn close_client(&self, client: &Client) {
        client.meta.borrow_mut().closing = true;
        // SAFETY-free: shutdown(2) on a descriptor this core owns; errors (already closed) are moot.
        unsafe {
            libc::shutdown(client.fd, libc::SHUT_RD);
        }
    }

    pub fn client_info(&self, client: &Client) -> ClientInfo {
        let addresses = client.addresses();
        let (subscriptions, pushes_pending) = client
            .subscriber
            .borrow()
            .as_ref()
            .map_or(((0, 0, 0), 0), |s| (s.counts(), s.pending_bytes()));
        let meta = client.meta.borrow();
        let now = Instant::now();
        ClientInfo {
            id: client.id,
            addr: addresses.0,
            laddr: addresses.1,
            fd: client.fd,
            name: meta.name.clone(),
            age_seconds: now.duration_since(meta.created).as_secs(),
            idle_seconds: now_ms().saturating_sub(meta.last_interaction_ms) / 1000,
            db: meta.db,
            query_buffer: meta.query_buffer,
            query_buffer_free: meta.query_buffer_free,
            output_memory: meta.output_memory + pushes_pending,
            subscriptions,
            reply_buffer_size: 16 * 1024,
            monitor: meta.monitor,
            queued: meta.queued,
            blocked: !meta.blocked_on.is_empty(),
            last_command: meta.last_command.to_string(),
            resp: meta.resp,
            lib_name: meta.lib_name.clone(),
            lib_version: meta.lib_version.clone(),
            shard: self.id,
        }
    }

    pub fn client_list(&self) -> Vec<ClientInfo> {
        let mut list: Vec<ClientInfo> = self
            .clients
            .borrow()
            .values()
            .map(|c| self.client_info(c))
            .collect();
        list.sort_by_key(|c| c.id);
        list
    }

    pub fn snapshot(&self) -> ShardSnapshot {
        let counters = self.counters.borrow().clone();
        let shard = self.shard.borrow();
        let now = now_ms();
        let keyspace = (0..shard.keyspace.databases())
            .filter_map(|i| {
                let db = shard.keyspace.db_ref(i);
                (!db.is_empty())
                    .then(|| (i, db.len() as u64, db.expires_len() as u64, db.avg_ttl(now)))
            })
            .collect();
        let memory_estimate = (0..shard.keyspace.databases())
            .map(|i| shard.keyspace.db_ref(i).memory_estimate() as u64)
            .sum();
        ShardSnapshot {
            shard: self.id,
            connected_clients: self.clients.borrow().len() as u64,
            total_connections_received: counters.total_connections_received,
            rejected_connections: counters.rejected_connections,
            total_commands_processed: counters.total_commands_processed,
            total_error_replies: counters.total_error_replies,
            total_net_input_bytes: counters.total_net_input_bytes,
            total_net_output_bytes: counters.total_net_output_bytes,
            keyspace_hits: shard.keyspace.stats.keyspace_hits,
            keyspace_misses: shard.keyspace.stats.keyspace_misses,
            expired_keys: shard.keyspace.stats.expired_keys,
            memory_estimate,
            remote_commands: shard.remote_commands,
            blocked_clients: self
                .clients
                .borrow()
                .values()
                .filter(|c| !c.meta.borrow().blocked_on.is_empty())
                .count() as u64,
            blocking_keys: shard.blocking.keys_len() as u64,
            keyspace,
            persistence: self.persistence_facts(&shard),
        }
    }

    fn persistence_facts(&self, shard: &Shard) -> PersistenceFacts {
        let snapshots: &snapshot::Snapshots = &shard.snapshots;
        let mut facts = PersistenceFacts {
            snapshot_in_progress: snapshots.in_progress(),
            last_save_unix: snapshots.last_save_unix,
            last_snapshot_position: snapshots.last_position,
            last_snapshot_duration_ms: (snapshots.completed > 0)
                .then_some(snapshots.last_duration_ms),
            snapshot_failure: snapshots.failure.clone(),
            snapshots_completed: snapshots.completed,
            ..Default::default()
        };
        if let Some(writer) = &shard.binlog {
            let (segments, bytes) = writer.segment_stats();
            facts.aof_enabled = true;
            facts.appendfsync = writer.options().fsync.name();
            facts.binlog_position = writer.last_position();
            facts.binlog_written_position = writer.written_position();
            facts.binlog_durable_position = writer.durable_position();
            facts.binlog_segments = segments;
            facts.binlog_bytes = bytes;
            facts.write_failure = writer.failure().map(str::to_string);
        }
        facts
    }

    /// Registers a new connection; returns `None` when the server already has `maxclients`
    /// clients (counted over every shard).
    pub fn register_client(&self, fd: RawFd) -> Option<Rc<Client>> {
        let config = self.config();
        let mut counters = self.counters.borrow_mut();
        counters.total_connections_received += 1;
        let connected = &self.obs.connected_clients;
        if connected.fetch_add(1, Ordering::Relaxed) >= config.maxclients as usize {
            connected.fetch_sub(1, Ordering::Relaxed);
            counters.rejected_connections += 1;
            return None;
        }
        let now = Instant::now();
        let client = Rc::new(Client {
            id: self.new_client_id(),
            fd,
            inbox: Inbox::default(),
            ack_position: Cell::new(0),
            subscriber: RefCell::new(None),
            meta: RefCell::new(ClientMeta {
                addresses: None,
                name: String::new(),
                lib_name: String::new(),
                lib_version: String::new(),
                db: 0,
                resp: 2,
                created: now,
                last_interaction_ms: now_ms(),
                last_command: "NULL",
                query_buffer: 0,
                query_buffer_free: 0,
                output_memory: 0,
                closing: false,
                monitor: false,
                queued: None,
                blocked_on: Vec::new(),
            }),
        });
        self.clients.borrow_mut().insert(client.id, client.clone());
        Some(client)
    }

    pub fn unregister_client(&self, id: u64) {
        if self.clients.borrow_mut().remove(&id).is_some() {
            self.obs.connected_clients.fetch_sub(1, Ordering::Relaxed);
        }
    }
}
