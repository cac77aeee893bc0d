//! Messages between shards, and where replies land.
//!
//! Every core has one mailbox: an unbounded crossbeam channel plus an eventfd "doorbell" in that
//! core's own epoll set. A core posts a batch into another's channel and rings its doorbell only if
//! nobody rang since the receiver last emptied it. The mailboxes are made before the executors start,
//! so no core waits for another to connect. Each connection waits for its replies before reading
//! more requests, so what is in flight is bounded by the connections' pipelines.
//!
//! Sending is batched per destination within a loop turn: a connection pushes its request into the
//! [`Outbox`] of the destination shard and carries on; one flusher task per destination, woken by
//! the first push, runs after the tasks already runnable in this turn and sends everything queued as
//! one message. The same holds for replies. One channel per receiving core keeps messages from one
//! shard to another in FIFO order, which the per-key ordering of commands relies on.
//!
//! Replies land in the [`Inbox`] of the connection that asked, in the slot of the command's
//! position in its batch; the connection wakes once when every slot is filled.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use crate::command::blocking::WaitKind;
use crate::command::server::{ClientInfo, KillFilter, ShardSnapshot};
use crate::command::CommandSpec;
use crate::config::Config;
use crate::keyspace::Entry;
use crate::protocol::reply::Reply;
use crate::shard::blocking::{BlockInfo, Unblock, Wake};
use crate::shard::locks::{LockKey, TxId};
use crate::shard::transaction::{BatchItem, WatchStamp};
use crate::shard::watch::WatchKey;
use crate::shard::ReplyTo;

/// What one shard asks of another.
#[derive(Debug)]
pub enum Op {
    /// Run a command, waiting if its keys are locked.
    Command {
        spec: &'static CommandSpec,
        db: usize,
        args: Vec<Bytes>,
    },
    /// Take intent locks for a cross-shard transaction.
    Lock { tx: TxId, keys: Vec<LockKey> },
    /// Take the whole-keyspace lock for a transaction over every shard.
    LockAll { tx: TxId },
    /// Run a command inside transaction `tx`, which holds its keys; release afterwards if `unlock`.
    TxCommand {
        tx: TxId,
        /// Shards that run a write part of `tx` (recorded in the binlog; see `binlog`).
        participants: u16,
        spec: &'static CommandSpec,
        db: usize,
        args: Vec<Bytes>,
        unlock: bool,
    },
    /// Copies of several entries inside `tx` (for a gathered cross-shard command).
    TxGetEntries {
        tx: TxId,
        db: usize,
        keys: Vec<Bytes>,
    },
    /// Store (or delete, for `None`) several entries inside `tx`, then release its locks;
    /// `participants`: the shards that store a part of `tx` (recorded in the binlog).
    TxPutEntries {
        tx: TxId,
        participants: u16,
        db: usize,
        entries: Vec<(Bytes, Option<Entry>)>,
    },
    /// Release `tx`'s locks.
    Unlock { tx: TxId },
    /// WATCH: register keys of this shard; answers `Response::Watched`, a stamp per key.
    Watch { keys: Vec<WatchKey> },
    /// Forget one watcher of each key (EXEC, DISCARD, UNWATCH, a closed connection).
    Unwatch { keys: Vec<WatchKey> },
    /// EXEC, holding the keys' locks: are these watched keys unchanged? Answers 1 or 0.
    WatchCheck {
        watched: Vec<(WatchKey, WatchStamp)>,
    },
    /// Run a transaction's commands for this shard in order inside `tx` (which holds their keys),
    /// then release `tx`'s locks; answers an array with one reply per command (`server::transaction`).
    TxExec {
        tx: TxId,
        /// Shards that run a write part of `tx` (recorded in the binlog).
        participants: u16,
        items: Vec<BatchItem>,
    },
    /// Store (or delete, for `None`) entries of several databases inside `tx`, then release its
    /// locks (a transaction run over gathered entries).
    TxStore {
        tx: TxId,
        participants: u16,
        entries: Vec<(usize, Bytes, Option<Entry>)>,
    },
    /// One SCAN step over this shard's database.
    Scan {
        db: usize,
        cursor: u64,
        count: usize,
        pattern: Option<Bytes>,
        type_filter: Option<Bytes>,
    },
    /// Counters for INFO.
    Snapshot,
    /// Clients for CLIENT LIST.
    ClientList,
    /// Close matching clients (CLIENT KILL); replies with the number closed.
    ClientKill { filter: KillFilter, caller: u64 },
    /// Zero the counters INFO reports (CONFIG RESETSTAT).
    ResetStats,
    /// BGSAVE, SAVE, BGREWRITEAOF, LASTSAVE on this shard.
    Persist(super::runtime::PersistOp),
    /// Install a new configuration (CONFIG SET).
    Configure(Arc<Config>),
    /// This core's memcached counters and item count (memcached `stats`); zeroes the counters
    /// afterwards with `reset` (`stats reset`).
    MemcacheStats { reset: bool },
    /// Read or reset this shard's slow log or latency monitor (SLOWLOG, LATENCY).
    Observe(super::observe::ObserveOp),
    /// Deliver a published message or keyspace notifications here, or answer PUBSUB/INFO
    /// questions about this core's subscriptions (see `server::pubsub`).
    PubSub(super::pubsub::PubSubOp),
    /// A blocking command (BLPOP ...) whose keys all live here: reply now, or park the client
    /// and reply when a key gets data or the deadline passes (`shard::blocking`).
    Block {
        spec: &'static CommandSpec,
        db: usize,
        args: Vec<Bytes>,
        info: BlockInfo,
    },
    /// Watch keys of a cross-shard blocking command; answered with `Response::Woken`.
    BlockWatch {
        db: usize,
        keys: Vec<Bytes>,
        kind: WaitKind,
        info: BlockInfo,
    },
    /// Remove client `conn` of core `shard` from this shard's blocked clients (its watch or
    /// command gets the answer `reason` calls for); the request's own reply goes nowhere.
    Unblock {
        shard: usize,
        conn: u64,
        reason: Unblock,
    },
    /// CLIENT UNBLOCK on the core of client `id`; replies with 1 if it was blocked, else 0.
    ClientUnblock { id: u64, reason: Unblock },
    /// Run a script on this shard (its declared keys live here); replies with its reply, or
    /// `ScriptNeedsGlobal` when it met a key it cannot run here (see `server::script`).
    Script(Box<super::script::ScriptRun>),
    /// One command of a script that holds every shard, answered on `reply` at once (the caller's
    /// thread waits on it; see `server::script`).
    ScriptCall {
        call: super::script::ScriptCall,
        reply: crossbeam_channel::Sender<Response>,
    },
    /// The end of a script that held every shard: log its records here as part `tx` (when
    /// `wrote`), then release `tx`'s locks.
    ScriptEnd {
        tx: TxId,
        participants: u16,
        wrote: bool,
    },
}

/// A request travelling between shards.
#[derive(Debug)]
pub struct Request {
    pub reply_to: ReplyTo,
    pub op: Op,
}

/// What comes back.
#[derive(Debug)]
pub enum Response {
    Reply(Reply),
    Entries(Vec<Option<Entry>>),
    Scan(u64, Vec<Bytes>),
    Snapshot(Box<ShardSnapshot>),
    Clients(Vec<ClientInfo>),
    Count(u64),
    MemcacheStats(Box<super::memcache::stats::Report>),
    Observed(Box<super::observe::Observed>),
    PubSub(Box<super::pubsub::Answer>),
    Watched(Vec<WatchStamp>),
    /// What a cross-shard blocked client's watch on one shard says.
    Woken(Wake),
    /// A script must be re-run holding every shard (see `server::script`).
    ScriptNeedsGlobal,
}

impl Response {
    pub fn into_reply(self) -> Reply {
        match self {
            Response::Reply(reply) => reply,
            Response::Count(n) => Reply::Integer(n as i64),
            other => Reply::error(format!(
                "ERR internal: unexpected response {:?}",
                std::mem::discriminant(&other)
            )),
        }
    }
}

/// A reply travelling back.
#[derive(Debug)]
pub struct ReplyMessage {
    pub conn: u64,
    pub seq: u32,
    pub response: Response,
}

/// The reply slots of one connection's batch.
pub struct Inbox {
    slots: RefCell<Vec<Option<Response>>>,
    outstanding: Cell<usize>,
    waker: RefCell<Option<Waker>>,
    /// The waiting task is woken once `outstanding` drops below this (1: all filled).
    wake_below: Cell<usize>,
}

impl Default for Inbox {
    fn default() -> Self {
        Inbox {
            slots: RefCell::new(Vec::new()),
            outstanding: Cell::new(0),
            waker: RefCell::new(None),
            wake_below: Cell::new(1),
        }
    }
}

impl Inbox {
    /// Reserves a slot for a response that will arrive later; returns its sequence number.
    pub fn reserve(&self) -> u32 {
        let mut slots = self.slots.borrow_mut();
        slots.push(None);
        self.outstanding.set(self.outstanding.get() + 1);
        (slots.len() - 1) as u32
    }

    /// The sequence number the next `reserve` will return.
    pub fn next_seq(&self) -> u32 {
        self.slots.borrow().len() as u32
    }

    pub fn deliver(&self, seq: u32, response: Response) {
        let mut slots = self.slots.borrow_mut();
        if let Some(slot) = slots.get_mut(seq as usize) {
            if slot.is_none() {
                *slot = Some(response);
                let left = self.outstanding.get().saturating_sub(1);
                self.outstanding.set(left);
                if left < self.wake_below.get() {
                    if let Some(waker) = self.waker.borrow_mut().take() {
                        waker.wake();
                    }
                }
            }
        }
    }

    pub fn outstanding(&self) -> usize {
        self.outstanding.get()
    }

    /// Waits until every reserved slot is filled.
    pub fn wait_all(&self) -> WaitAll<'_> {
        WaitAll {
            inbox: self,
            below: 1,
        }
    }

    /// Waits until fewer than `below` slots are outstanding (a blocked client watching several
    /// shards waits for the first answer).
    pub fn wait_below(&self, below: usize) -> WaitAll<'_> {
        WaitAll { inbox: self, below }
    }

    /// Whether slot `seq` holds its response.
    pub fn is_filled(&self, seq: u32) -> bool {
        self.slots
            .borrow()
            .get(seq as usize)
            .is_some_and(Option::is_some)
    }

    /// Takes the response in slot `seq` (after `wait_all`).
    pub fn take(&self, seq: u32) -> Response {
        self.slots
            .borrow_mut()
            .get_mut(seq as usize)
            .and_then(Option::take)
            .unwrap_or_else(|| Response::Reply(Reply::error_static("ERR internal: missing reply")))
    }

    /// Forgets all slots; only valid when nothing is outstanding.
    pub fn reset(&self) {
        if self.outstanding.get() == 0 {
            self.slots.borrow_mut().clear();
        }
    }
}

pub struct WaitAll<'a> {
    inbox: &'a Inbox,
    below: usize,
}

impl Future for WaitAll<'_> {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.inbox.outstanding.get() < self.below {
            Poll::Ready(())
        } else {
            self.inbox.wake_below.set(self.below);
            *self.inbox.waker.borrow_mut() = Some(cx.waker().clone());
            Poll::Pending
        }
    }
}

/// Messages queued for one destination shard until its flusher sends them.
pub struct Outbox<T> {
    queue: RefCell<Vec<T>>,
    waker: RefCell<Option<Waker>>,
}

impl<T> Default for Outbox<T> {
    fn default() -> Self {
        Outbox {
            queue: RefCell::new(Vec::new()),
            waker: RefCell::new(None),
        }
    }
}

impl<T> Outbox<T> {
    pub fn push(&self, item: T) {
        self.queue.borrow_mut().push(item);
        if let Some(waker) = self.waker.borrow_mut().take() {
            waker.wake();
        }
    }

    /// Waits for queued messages and takes them all.
    pub async fn next_batch(&self) -> Vec<T> {
        std::future::poll_fn(|cx| {
            let mut queue = self.queue.borrow_mut();
            if queue.is_empty() {
                *self.waker.borrow_mut() = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(std::mem::take(&mut *queue))
            }
        })
        .await
    }
}

/// What one core posts to another: a batch of requests or a batch of replies.
#[derive(Debug)]
pub enum Mail {
    Requests(Vec<Request>),
    Replies(Vec<ReplyMessage>),
}

/// Where to post mail for one core: its channel and its doorbell. Held by every core.
#[derive(Clone)]
pub struct Address {
    sender: crossbeam_channel::Sender<Mail>,
    ringer: super::net::Ringer,
    /// Set by the first sender after the receiver last emptied its mailbox; only that sender rings.
    rung: Arc<std::sync::atomic::AtomicBool>,
}

impl Address {
    pub fn post(&self, mail: Mail) {
        if self.sender.send(mail).is_ok()
            && !self.rung.swap(true, std::sync::atomic::Ordering::AcqRel)
        {
            self.ringer.ring();
        }
    }
}

/// One core's incoming mail, taken by that core at start-up.
pub struct Mailbox {
    receiver: crossbeam_channel::Receiver<Mail>,
    pub doorbell: std::os::fd::OwnedFd,
    rung: Arc<std::sync::atomic::AtomicBool>,
}

impl Mailbox {
    /// Everything posted so far. Clears the rung flag first, so a sender that posts after this
    /// drain started either is drained now or rings again.
    pub fn drain(&self) -> impl Iterator<Item = Mail> + '_ {
        self.rung.store(false, std::sync::atomic::Ordering::SeqCst);
        self.receiver.try_iter()
    }
}

/// The addresses of `shards` cores and their mailboxes, made before the executors start so that
/// no core has to wait for another to connect.
pub fn post_offices(shards: usize) -> std::io::Result<(Vec<Address>, Vec<Mailbox>)> {
    let mut addresses = Vec::with_capacity(shards);
    let mut mailboxes = Vec::with_capacity(shards);
    for _ in 0..shards {
        let (doorbell, ringer) = super::net::doorbell_pair()?;
        let (sender, receiver) = crossbeam_channel::unbounded();
        let rung = Arc::new(std::sync::atomic::AtomicBool::new(false));
        addresses.push(Address {
            sender,
            ringer,
            rung: rung.clone(),
        });
        mailboxes.push(Mailbox {
            receiver,
            doorbell,
            rung,
        });
    }
    Ok((addresses, mailboxes))
}
