//! Pub/Sub on the server side: subscribers' push queues, delivery on every core, the pub/sub
//! commands, and the publishing of keyspace notifications.
//!
//! Design:
//! - A subscription lives on the core that owns the subscriber's connection, in that core's
//!   [`PubSub`] registry (`crate::pubsub::Registry`). Nothing about it is shared between cores.
//! - PUBLISH (and SPUBLISH) sends one [`PubSubOp::Publish`] to every core (through the request
//!   mesh, batched per loop turn like any request); each core delivers to its own subscribers
//!   and answers how many it reached, and the publisher replies with the sum.
//! - Delivery appends the encoded message to the subscriber's [`Subscriber`] queue and wakes its
//!   connection task, which waits on "socket readable or pushes queued" at once
//!   ([`read_or_pushes`]) and writes the queue out ([`write_pushes`]). A connection that never
//!   subscribed never takes that path.
//! - Output limit (`client-output-buffer-limit pubsub`): the bytes queued for a subscriber, plus
//!   those its task is writing, are counted at every delivery. Past the hard limit, or over the
//!   soft limit for longer than soft-seconds, the client is closed at once (its queue is
//!   dropped, the socket shut down both ways, which also ends a write blocked on a client that
//!   does not read), so the memory a slow subscriber holds stays bounded by the limit.
//! - Keyspace notifications are raised by the shard that owns the key (`shard::notify`) and
//!   published by [`notification_loop`], one per core, as a batch to every core.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::task::{Poll, Waker};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use indexmap::IndexSet;
use tracing::info;

use crate::command::server as render;
use crate::command::CommandSpec;
use crate::config::ClassLimit;
use crate::protocol::reply::Reply;
use crate::pubsub::{frame, Frames, Kind, Registry};
use crate::shard::ReplyTo;

use super::commands::{gather, subcommand};
use super::connection::Connection;
use super::net;
use super::router::{Op, Request, Response};
use super::runtime::{Client, Runtime};

/// One core's pub/sub state.
#[derive(Default)]
pub struct PubSub {
    registry: RefCell<Registry<Rc<Subscriber>>>,
    /// Clients closed for passing their output limit (INFO
    /// `client_output_buffer_limit_disconnections`).
    disconnections: Cell<u64>,
}

/// A connection that subscribed at least once: what it listens to and the messages waiting to
/// be written to it.
pub struct Subscriber {
    client_id: u64,
    fd: RawFd,
    protocol: Cell<u8>,
    queue: RefCell<BytesMut>,
    /// Bytes queued plus bytes the connection task is writing.
    pending: Cell<usize>,
    over_soft_since: Cell<Option<Instant>>,
    waker: Cell<Option<Waker>>,
    /// Closed for passing its output limit: takes no more messages.
    closed: Cell<bool>,
    channels: RefCell<IndexSet<Bytes>>,
    patterns: RefCell<IndexSet<Bytes>>,
    shard_channels: RefCell<IndexSet<Bytes>>,
}

impl Subscriber {
    fn new(client: &Client, protocol: u8) -> Subscriber {
        Subscriber {
            client_id: client.id,
            fd: client.fd,
            protocol: Cell::new(protocol),
            queue: RefCell::new(BytesMut::new()),
            pending: Cell::new(0),
            over_soft_since: Cell::new(None),
            waker: Cell::new(None),
            closed: Cell::new(false),
            channels: RefCell::default(),
            patterns: RefCell::default(),
            shard_channels: RefCell::default(),
        }
    }

    fn names(&self, kind: Kind) -> &RefCell<IndexSet<Bytes>> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    /// Channels, patterns and shard channels subscribed (CLIENT LIST `sub`, `psub`, `ssub`).
    pub fn counts(&self) -> (usize, usize, usize) {
        (
            self.channels.borrow().len(),
            self.patterns.borrow().len(),
            self.shard_channels.borrow().len(),
        )
    }

    /// Whether the connection is in subscribed mode.
    pub fn subscribed(&self) -> bool {
        self.counts() != (0, 0, 0)
    }

    /// Bytes of messages not yet written (CLIENT LIST `omem`).
    pub fn pending_bytes(&self) -> usize {
        self.pending.get()
    }

    /// The count a (un)subscribe confirmation reports: shard channels for the shard kind,
    /// channels and patterns otherwise (Redis's `clientSubscriptionsCount`).
    fn count_for(&self, kind: Kind) -> i64 {
        let (channels, patterns, shard) = self.counts();
        match kind {
            Kind::Shard => shard as i64,
            _ => (channels + patterns) as i64,
        }
    }

    /// Queues one message; false when the client is closed (now or before) for its limit.
    fn push(&self, frame: Bytes, limit: ClassLimit, pubsub: &PubSub) -> bool {
        if self.closed.get() {
            return false;
        }
        let pending = self.pending.get() + frame.len();
        let over_hard = limit.hard > 0 && pending as u64 > limit.hard;
        let soft_expired = if limit.soft > 0 && pending as u64 > limit.soft {
            match self.over_soft_since.get() {
                Some(since) => since.elapsed().as_secs() > limit.soft_seconds,
                None => {
                    self.over_soft_since.set(Some(Instant::now()));
                    false
                }
            }
        } else {
            self.over_soft_since.set(None);
            false
        };
        if over_hard || soft_expired {
            self.close_for_limit(pubsub);
            return false;
        }
        self.queue.borrow_mut().extend_from_slice(&frame);
        self.pending.set(pending);
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
        true
    }

    /// Redis's "scheduled to be closed ASAP for overcoming of output buffer limits".
    fn close_for_limit(&self, pubsub: &PubSub) {
        self.closed.set(true);
        *self.queue.borrow_mut() = BytesMut::new();
        self.pending.set(0);
        pubsub.disconnections.set(pubsub.disconnections.get() + 1);
        info!(
            client = self.client_id,
            "Client id={} scheduled to be closed ASAP for overcoming of output buffer limits.",
            self.client_id
        );
        // SAFETY: shutdown(2) on the connection's own descriptor, still open: the subscriber
        // leaves the registry before its connection closes (`forget`). Both directions, so a
        // read sees the end and a write blocked on a full socket fails at once.
        unsafe {
            libc::shutdown(self.fd, libc::SHUT_RDWR);
        }
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }
}

/// The connection's subscriber, made on its first subscription.
fn subscriber_of(conn: &Connection) -> Rc<Subscriber> {
    if let Some(existing) = conn.client.subscriber.borrow().as_ref() {
        existing.protocol.set(conn.protocol);
        return existing.clone();
    }
    let created = Rc::new(Subscriber::new(&conn.client, conn.protocol));
    *conn.client.subscriber.borrow_mut() = Some(created.clone());
    created
}

// ---- the connection side ------------------------------------------------------------------

/// Reads from the socket, or returns `None` as soon as messages are queued for the subscriber
/// (or it was closed for its output limit). A read cut short loses nothing: `net::Connection::read`
/// takes no bytes until it completes.
pub async fn read_or_pushes(
    stream: &net::Connection,
    buf: &mut [u8],
    subscriber: &Subscriber,
) -> io::Result<Option<usize>> {
    let mut read = std::pin::pin!(stream.read(buf));
    std::future::poll_fn(|cx| {
        if subscriber.closed.get() || !subscriber.queue.borrow().is_empty() {
            return Poll::Ready(Ok(None));
        }
        if let Poll::Ready(result) = read.as_mut().poll(cx) {
            return Poll::Ready(result.map(Some));
        }
        subscriber.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    })
    .await
}

/// Writes every queued message; an error once the client was closed for its output limit.
pub async fn write_pushes(
    rt: &Runtime,
    stream: &net::Connection,
    subscriber: &Subscriber,
) -> io::Result<()> {
    loop {
        if subscriber.closed.get() {
            return Err(io::Error::other(
                "closed for overcoming of output buffer limits",
            ));
        }
        let data = std::mem::take(&mut *subscriber.queue.borrow_mut());
        if data.is_empty() {
            return Ok(());
        }
        stream.write_all(&data).await?;
        rt.counters.borrow_mut().total_net_output_bytes += data.len() as u64;
        let left = subscriber.pending.get().saturating_sub(data.len());
        subscriber.pending.set(left);
        if left == 0 {
            subscriber.over_soft_since.set(None);
        }
    }
}

/// In RESP2 subscribed mode, Redis allows only (P|S)SUBSCRIBE, (P|S)UNSUBSCRIBE, PING, QUIT and
/// RESET; PING answers `["pong", arg]`. `None`: run the command as usual.
pub fn subscribed_mode_reply(
    conn: &Connection,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Option<Reply> {
    if conn.protocol >= 3 {
        return None;
    }
    if !conn
        .client
        .subscriber
        .borrow()
        .as_ref()
        .is_some_and(|s| s.subscribed())
    {
        return None;
    }
    match spec.name {
        "subscribe" | "psubscribe" | "ssubscribe" | "unsubscribe" | "punsubscribe"
        | "sunsubscribe" | "quit" | "reset" => None,
        "ping" if args.len() > 2 => Some(crate::command::arity_error(&args[0])),
        "ping" => Some(Reply::Push(vec![
            Reply::Bulk(Bytes::from_static(b"pong")),
            Reply::Bulk(args.get(1).cloned().unwrap_or_default()),
        ])),
        _ => Some(Reply::error(format!(
            "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
            crate::command::observe::full_name(spec, args)
        ))),
    }
}

/// HELLO switched protocols: messages from now on are framed in the new one.
pub fn protocol_changed(conn: &Connection) {
    if let Some(subscriber) = conn.client.subscriber.borrow().as_ref() {
        subscriber.protocol.set(conn.protocol);
    }
}

/// Drops a closing connection's subscriptions. Called before its socket closes.
pub fn forget(rt: &Runtime, client: &Client) {
    let Some(subscriber) = client.subscriber.borrow_mut().take() else {
        return;
    };
    let mut registry = rt.pubsub.registry.borrow_mut();
    for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
        for name in subscriber.names(kind).borrow().iter() {
            registry.unsubscribe(kind, name, client.id);
        }
    }
}

// ---- commands -----------------------------------------------------------------------------

/// Runs a pub/sub command. `None`: the replies were already queued (one per channel).
pub async fn run(
    conn: &mut Connection,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
) -> Option<Reply> {
    match spec.name {
        "subscribe" => subscribe(conn, Kind::Channel, &args[1..]),
        "psubscribe" => subscribe(conn, Kind::Pattern, &args[1..]),
        "ssubscribe" => subscribe(conn, Kind::Shard, &args[1..]),
        "unsubscribe" => unsubscribe(conn, Kind::Channel, &args[1..]),
        "punsubscribe" => unsubscribe(conn, Kind::Pattern, &args[1..]),
        "sunsubscribe" => unsubscribe(conn, Kind::Shard, &args[1..]),
        "publish" => return Some(publish(conn, Kind::Channel, &args).await),
        "spublish" => return Some(publish(conn, Kind::Shard, &args).await),
        "pubsub" => return Some(pubsub_command(conn, &args).await),
        _ => return Some(crate::command::unknown_command_error(&args)),
    }
    None
}

fn confirmation(word: &'static str, name: Option<Bytes>, count: i64) -> Reply {
    Reply::Push(vec![
        Reply::Bulk(Bytes::from_static(word.as_bytes())),
        name.map_or(Reply::Null, Reply::Bulk),
        Reply::Integer(count),
    ])
}

fn subscribe(conn: &mut Connection, kind: Kind, names: &[Bytes]) {
    let subscriber = subscriber_of(conn);
    for name in names {
        if subscriber.names(kind).borrow_mut().insert(name.clone()) {
            conn.rt.pubsub.registry.borrow_mut().subscribe(
                kind,
                name.clone(),
                conn.client.id,
                subscriber.clone(),
            );
        }
        let count = subscriber.count_for(kind);
        conn.push_reply(confirmation(
            kind.subscribe_word(),
            Some(name.clone()),
            count,
        ));
    }
}

fn unsubscribe(conn: &mut Connection, kind: Kind, names: &[Bytes]) {
    let subscriber = subscriber_of(conn);
    let names: Vec<Bytes> = if names.is_empty() {
        subscriber.names(kind).borrow().iter().cloned().collect()
    } else {
        names.to_vec()
    };
    if names.is_empty() {
        let count = subscriber.count_for(kind);
        conn.push_reply(confirmation(kind.unsubscribe_word(), None, count));
        return;
    }
    for name in names {
        if subscriber.names(kind).borrow_mut().shift_remove(&name) {
            conn.rt
                .pubsub
                .registry
                .borrow_mut()
                .unsubscribe(kind, &name, conn.client.id);
        }
        let count = subscriber.count_for(kind);
        conn.push_reply(confirmation(kind.unsubscribe_word(), Some(name), count));
    }
}

async fn publish(conn: &mut Connection, kind: Kind, args: &[Bytes]) -> Reply {
    let (channel, message) = (args[1].clone(), args[2].clone());
    let receivers: u64 = gather(conn, || {
        Op::PubSub(PubSubOp::Publish {
            kind,
            channel: channel.clone(),
            message: message.clone(),
        })
    })
    .await
    .into_iter()
    .map(|response| match response {
        Response::Count(n) => n,
        _ => 0,
    })
    .sum();
    Reply::Integer(receivers as i64)
}

/// PUBSUB's subcommands, with Redis 7.2's arity for each (counting "PUBSUB").
const PUBSUB_SUBCOMMANDS: &[(&str, i32)] = &[
    ("channels", -2),
    ("numpat", 2),
    ("numsub", -2),
    ("shardchannels", -2),
    ("shardnumsub", -2),
    ("help", 2),
];

async fn answers(conn: &mut Connection, op: impl Fn() -> PubSubOp) -> Vec<Answer> {
    gather(conn, || Op::PubSub(op()))
        .await
        .into_iter()
        .filter_map(|response| match response {
            Response::PubSub(answer) => Some(*answer),
            _ => None,
        })
        .collect()
}

/// The distinct names every core reports.
async fn distinct_names(conn: &mut Connection, kind: Kind, pattern: Option<Bytes>) -> Vec<Bytes> {
    let mut names: Vec<Bytes> = answers(conn, || PubSubOp::Names {
        kind,
        pattern: pattern.clone(),
    })
    .await
    .into_iter()
    .flat_map(|answer| match answer {
        Answer::Names(names) => names,
        _ => Vec::new(),
    })
    .collect();
    names.sort();
    names.dedup();
    names
}

async fn numsub(conn: &mut Connection, kind: Kind, channels: &[Bytes]) -> Reply {
    let mut totals = vec![0u64; channels.len()];
    let list = channels.to_vec();
    for answer in answers(conn, || PubSubOp::NumSub {
        kind,
        channels: list.clone(),
    })
    .await
    {
        if let Answer::Counts(counts) = answer {
            for (total, count) in totals.iter_mut().zip(counts) {
                *total += count;
            }
        }
    }
    Reply::Map(
        channels
            .iter()
            .zip(totals)
            .map(|(channel, n)| (Reply::Bulk(channel.clone()), Reply::Integer(n as i64)))
            .collect(),
    )
}

async fn pubsub_command(conn: &mut Connection, args: &[Bytes]) -> Reply {
    let name = match subcommand("pubsub", PUBSUB_SUBCOMMANDS, args) {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    let names_reply =
        |names: Vec<Bytes>| Reply::Array(names.into_iter().map(Reply::Bulk).collect());
    match name {
        "channels" => names_reply(distinct_names(conn, Kind::Channel, args.get(2).cloned()).await),
        "shardchannels" => {
            names_reply(distinct_names(conn, Kind::Shard, args.get(2).cloned()).await)
        }
        "numpat" => Reply::Integer(distinct_names(conn, Kind::Pattern, None).await.len() as i64),
        "numsub" => numsub(conn, Kind::Channel, &args[2..]).await,
        "shardnumsub" => numsub(conn, Kind::Shard, &args[2..]).await,
        _ => render::help_reply(
            "PUBSUB",
            &[
                "CHANNELS [<pattern>]",
                "    Return the currently active channels matching a <pattern> (default: '*').",
                "NUMPAT",
                "    Return number of subscriptions to patterns.",
                "NUMSUB [<channel> ...]",
                "    Return the number of subscribers for the specified channels, excluding",
                "    pattern subscriptions(default: no channels).",
                "SHARDCHANNELS [<pattern>]",
                "    Return the currently active shard level channels matching a <pattern> (default: '*').",
                "SHARDNUMSUB [<shardchannel> ...]",
                "    Return the number of subscribers for the specified shard level channel(s)",
            ],
        ),
    }
}

/// INFO's pub/sub figures over every core: distinct channels, patterns and shard channels, and
/// clients closed for their output limit.
pub async fn info_figures(conn: &mut Connection) -> render::PubSubFacts {
    let mut channels = Vec::new();
    let mut patterns = Vec::new();
    let mut shard_channels = Vec::new();
    let mut facts = render::PubSubFacts::default();
    for answer in answers(conn, || PubSubOp::Stats).await {
        if let Answer::Stats {
            channels: c,
            patterns: p,
            shard_channels: s,
            disconnections,
        } = answer
        {
            channels.extend(c);
            patterns.extend(p);
            shard_channels.extend(s);
            facts.output_limit_disconnections += disconnections;
        }
    }
    let distinct = |mut names: Vec<Bytes>| {
        names.sort();
        names.dedup();
        names.len() as u64
    };
    facts.channels = distinct(channels);
    facts.patterns = distinct(patterns);
    facts.shard_channels = distinct(shard_channels);
    facts
}

// ---- the core side ------------------------------------------------------------------------

/// What one core is asked about pub/sub.
#[derive(Debug)]
pub enum PubSubOp {
    /// Deliver a message to this core's subscribers; answers the count reached.
    Publish {
        kind: Kind,
        channel: Bytes,
        message: Bytes,
    },
    /// Deliver keyspace notifications (channel, message); no answer.
    Notify(Vec<(Bytes, Bytes)>),
    /// Channels (or patterns, shard channels) with subscribers here, matching `pattern`.
    Names { kind: Kind, pattern: Option<Bytes> },
    /// Subscribers here of each channel.
    NumSub { kind: Kind, channels: Vec<Bytes> },
    /// INFO's figures.
    Stats,
}

/// One core's answer to a [`PubSubOp`] query.
#[derive(Debug)]
pub enum Answer {
    Names(Vec<Bytes>),
    Counts(Vec<u64>),
    Stats {
        channels: Vec<Bytes>,
        patterns: Vec<Bytes>,
        shard_channels: Vec<Bytes>,
        disconnections: u64,
    },
}

/// Handles a [`PubSubOp`] on this core; `None` when nothing is owed back.
pub fn handle(rt: &Runtime, op: PubSubOp) -> Option<Response> {
    let response = match op {
        PubSubOp::Publish {
            kind,
            channel,
            message,
        } => Response::Count(deliver(rt, kind, &channel, &message)),
        PubSubOp::Notify(batch) => {
            for (channel, message) in batch.iter() {
                deliver(rt, Kind::Channel, channel, message);
            }
            return None;
        }
        PubSubOp::Names { kind, pattern } => {
            let registry = rt.pubsub.registry.borrow();
            Response::PubSub(Box::new(Answer::Names(
                registry.names(kind, pattern.as_deref()),
            )))
        }
        PubSubOp::NumSub { kind, channels } => {
            let registry = rt.pubsub.registry.borrow();
            let counts = channels
                .iter()
                .map(|c| registry.count(kind, c) as u64)
                .collect();
            Response::PubSub(Box::new(Answer::Counts(counts)))
        }
        PubSubOp::Stats => {
            let registry = rt.pubsub.registry.borrow();
            Response::PubSub(Box::new(Answer::Stats {
                channels: registry.names(Kind::Channel, None),
                patterns: registry.names(Kind::Pattern, None),
                shard_channels: registry.names(Kind::Shard, None),
                disconnections: rt.pubsub.disconnections.get(),
            }))
        }
    };
    Some(response)
}

/// Delivers a message to this core's subscribers of `channel` (and, for a plain channel, of
/// the patterns matching it); returns how many it reached.
pub(super) fn deliver(rt: &Runtime, kind: Kind, channel: &Bytes, message: &Bytes) -> u64 {
    let registry = rt.pubsub.registry.borrow();
    if registry.is_empty() {
        return 0;
    }
    let limit = rt.config.borrow().client_output_buffer_limit.pubsub;
    let word: &[u8] = if kind == Kind::Shard {
        b"smessage"
    } else {
        b"message"
    };
    let mut frames = Frames::default();
    let mut reached = 0;
    for subscriber in registry.subscribers(kind, channel) {
        let frame = frames.get(subscriber.protocol.get(), &[word, channel, message]);
        reached += subscriber.push(frame, limit, &rt.pubsub) as u64;
    }
    if kind == Kind::Channel {
        for (pattern, subscriber) in registry.pattern_subscribers(channel) {
            let parts: [&[u8]; 4] = [b"pmessage", pattern, channel, message];
            let frame = frame(subscriber.protocol.get(), &parts);
            reached += subscriber.push(frame, limit, &rt.pubsub) as u64;
        }
    }
    reached
}

/// Publishes the keyspace notifications this core's shard raises: to this core's subscribers
/// at once, and as one batch per loop turn to every other core.
pub async fn notification_loop(rt: Rc<Runtime>) {
    loop {
        let batch: Vec<(Bytes, Bytes)> = std::future::poll_fn(|cx| {
            let mut shard = rt.shard.borrow_mut();
            if shard.notify.pending.is_empty() {
                shard.notify.waker = Some(cx.waker().clone());
                Poll::Pending
            } else {
                Poll::Ready(std::mem::take(&mut shard.notify.pending))
            }
        })
        .await;
        for peer in (0..rt.nshards).filter(|&peer| peer != rt.id) {
            rt.requests_out[peer].push(Request {
                // Connection ids start at 1: nobody waits for an answer.
                reply_to: ReplyTo {
                    shard: rt.id,
                    conn: 0,
                    seq: 0,
                },
                op: Op::PubSub(PubSubOp::Notify(batch.clone())),
            });
        }
        for (channel, message) in &batch {
            deliver(&rt, Kind::Channel, channel, message);
        }
    }
}
