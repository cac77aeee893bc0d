//! One memcached connection (text, meta or binary protocol), on the core that accepted it.
//!
//! The loop is the RESP connection's: read what the socket has, parse every complete request,
//! route, wait for the replies that travel, write all replies of the batch with one write. Each
//! request becomes zero or more internal commands (`command::memcache`), one per key, routed to
//! the key's owning shard exactly like a RESP command (in place, or through the outbox, with the
//! answer landing in this connection's inbox), so every memcached write passes `Shard::execute`.
//! A request also leaves a [`Plan`]: what to write once its commands' outcomes are in. Plans are
//! written in request order after the batch's answers have all arrived, so a multi-key `get`
//! across shards, or a pipeline of requests on several shards, replies in order.
//!
//! Requests that concern every shard (`flush_all`, `stats`) first wait for the answers in flight,
//! then run through the coordinator like FLUSHDB and INFO.
//!
//! The memcached port works on database 0, the one RESP clients see unless they SELECT another.
//! Writes draw their CAS from this core's CAS source before routing (see `keyspace::item`).

mod binary;
mod meta;
pub mod stats;
mod text;

use std::cell::RefCell;
use std::ops::Range;
use std::rc::Rc;

use bytes::{Bytes, BytesMut};
use tracing::debug;

use crate::command::memcache::{self as semantics, Outcome};
use crate::command::{self, CommandSpec};
use crate::protocol::memcache::{self as protocol, Close, Limits, MemcacheParser, Parsed};
use crate::shard::ReplyTo;

use super::buffers::READ_CHUNK;
use super::connection::{close_gracefully, spare_capacity};
use super::router::{Op, Response};
use super::runtime::{now_ms, Client, Runtime};
use super::{coordinator, net};

const MAX_READ_CHUNK: usize = 1024 * 1024;
const KEEP_BUFFER: usize = 64 * 1024;
/// The memcached port's database.
const DB: usize = 0;
/// What `version` reports: the memcached release whose behaviour shardis follows, and its own.
pub const VERSION: &str = concat!("1.6.18-shardis-", env!("CARGO_PKG_VERSION"));

/// The answer of one internal command: here already, or travelling to an inbox slot.
enum Answer {
    Ready(Outcome),
    Waiting(u32),
    /// Written out already.
    Taken,
}

/// A request that waits on every shard (flush_all, stats), handled apart from the others.
enum Slow {
    Text(protocol::text::Command),
    Binary(protocol::binary::Request),
}

/// What to write for one request once its answers are in.
enum Plan {
    Text(protocol::text::Command, Range<usize>),
    Meta(Box<protocol::meta::Command>, Range<usize>),
    Binary(protocol::binary::Request, Range<usize>),
    /// Bytes known when the request was read (errors, version, stats).
    Bytes(Bytes),
}

/// The buffers of one batch of requests: held while a connection has a batch in hand, lent to
/// this core's [`Spare`] while it waits for its socket.
#[derive(Default)]
struct Batch {
    answers: Vec<Answer>,
    plans: Vec<Plan>,
    out: BytesMut,
    /// The arguments of a command run in place come back here for the next one.
    args: Vec<Bytes>,
}

/// How many spare batches a core keeps: about one per connection busy at once.
const MAX_SPARE: usize = 64;

/// This core's spare batch buffers, last in first out: the connection served next takes the ones
/// just given back, still in the CPU cache. With a buffer per connection, 50 busy connections
/// touched 50 sets of cold lines (callgrind's simulated first-level cache: 42 data misses a
/// request, 11 for memcached).
#[derive(Default)]
struct Spare {
    free: RefCell<Vec<Box<Batch>>>,
}

impl Spare {
    fn take(&self) -> Box<Batch> {
        self.free.borrow_mut().pop().unwrap_or_default()
    }

    fn give_back(&self, mut batch: Box<Batch>) {
        batch.answers.clear();
        batch.plans.clear();
        batch.out.clear();
        batch.args.clear();
        let mut free = self.free.borrow_mut();
        if batch.out.capacity() <= KEEP_BUFFER && free.len() < MAX_SPARE {
            free.push(batch);
        }
    }
}

thread_local! {
    static SPARE: Spare = Spare::default();
}

pub struct McConnection {
    rt: Rc<Runtime>,
    client: Rc<Client>,
    /// Taken from [`SPARE`] when the connection has requests in hand (see [`McConnection::batch`]).
    batch: Option<Box<Batch>>,
    input: BytesMut,
    parser: MemcacheParser,
    /// Set by quit (reply, then close) and by protocol errors that close.
    quit: bool,
    now_ms: u64,
}

pub async fn serve(rt: Rc<Runtime>, stream: net::Connection, client: Rc<Client>) {
    let id = client.id;
    stats::with(|counters| {
        counters.curr_connections += 1;
        counters.total_connections += 1;
    });
    let mut conn = McConnection {
        rt: rt.clone(),
        client,
        batch: None,
        input: BytesMut::new(),
        parser: MemcacheParser::new(),
        quit: false,
        now_ms: now_ms(),
    };
    match conn.run(&stream).await {
        Ok(()) => {
            if conn.quit || conn.client.meta.borrow().closing {
                close_gracefully(conn.client.fd).await;
            }
        }
        Err(error) => debug!(client = id, %error, "memcached connection ended"),
    }
    stats::with(|counters| counters.curr_connections -= 1);
    rt.unregister_client(id);
}

impl McConnection {
    async fn run(&mut self, stream: &net::Connection) -> std::io::Result<()> {
        loop {
            if self.input.is_empty() {
                if !stream.is_readable() {
                    // Nothing to parse and nothing to read: wait holding no read buffer and no
                    // batch buffers, so that idle connections cost little memory (see `buffers`),
                    // and the next connection served reuses buffers still in the cache.
                    self.rt
                        .read_buffers
                        .give_back(std::mem::take(&mut self.input));
                    if let Some(batch) = self.batch.take() {
                        SPARE.with(|spare| spare.give_back(batch));
                    }
                    stream.readable().await;
                }
                if self.input.capacity() == 0 {
                    self.input = self.rt.read_buffers.take();
                }
            }
            let want = self.parser.wanted().clamp(READ_CHUNK, MAX_READ_CHUNK);
            let read = stream.read(spare_capacity(&mut self.input, want)).await?;
            if read == 0 {
                self.rt
                    .read_buffers
                    .give_back(std::mem::take(&mut self.input));
                return Ok(());
            }
            // SAFETY: the socket read initialised the first `read` bytes of the spare capacity.
            unsafe { self.input.set_len(self.input.len() + read) };
            stats::with(|counters| counters.bytes_read += read as u64);
            let limits = Limits {
                item_size_max: self.rt.config.borrow().item_size_max as usize,
            };
            self.now_ms = now_ms();
            {
                let mut meta = self.client.meta.borrow_mut();
                meta.last_interaction_ms = self.now_ms;
                meta.query_buffer = self.input.len();
            }
            let mut commands = 0;
            while !self.quit {
                match self.parser.parse(&mut self.input, &limits) {
                    Ok(Some(parsed)) => {
                        commands += 1;
                        // Most requests are handled here without waiting, on the stack: only the
                        // few that wait on other shards build the (large) state of one that does.
                        if let Some(slow) = self.request(parsed) {
                            self.request_slow(slow).await;
                        }
                    }
                    Ok(None) => break,
                    Err(Close) => {
                        self.quit = true;
                        break;
                    }
                }
            }
            if self.answers_waiting() {
                self.settle().await;
            } else {
                self.client.inbox.reset();
            }
            self.write_plans();
            self.rt.counters.borrow_mut().total_commands_processed += commands;
            let out = &mut self.batch().out;
            if !out.is_empty() {
                stream.write_all(out).await?;
                stats::with(|counters| counters.bytes_written += out.len() as u64);
                out.clear();
                if out.capacity() > KEEP_BUFFER {
                    *out = BytesMut::new();
                }
            }
            if self.quit {
                return Ok(());
            }
        }
    }

    /// Routes a request's commands and leaves its plan; a request that must wait on every shard
    /// (flush_all, stats) is handed back for [`McConnection::request_slow`].
    fn request(&mut self, parsed: Parsed) -> Option<Slow> {
        match parsed {
            Parsed::Error(line) => self.line(line),
            Parsed::Text(command) => return text::request(self, command).map(Slow::Text),
            Parsed::Meta(command) => meta::request(self, command),
            Parsed::Binary(request) => return binary::request(self, request).map(Slow::Binary),
        }
        None
    }

    async fn request_slow(&mut self, slow: Slow) {
        match slow {
            Slow::Text(command) => text::request_slow(self, command).await,
            Slow::Binary(request) => binary::request_slow(self, request).await,
        }
    }

    /// Queues a reply line (CRLF added).
    fn line(&mut self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.batch().plans.push(Plan::Bytes(Bytes::from(bytes)));
    }

    /// Routes an internal command to the shard owning its key (`args[1]`); returns the index of
    /// its answer.
    fn submit(&mut self, spec: &'static CommandSpec, mut args: Vec<Bytes>) -> usize {
        let target = self.rt.shard_of_key(&args[1]);
        let now = if target == self.rt.id {
            self.rt
                .shard
                .borrow_mut()
                .run_now(spec, DB, &args, self.client.id, self.now_ms)
        } else {
            None
        };
        let answer = if let Some(reply) = now {
            // Run here and now: the argument buffer serves the next request.
            args.clear();
            self.batch().args = args;
            Answer::Ready(Outcome::from_reply(reply))
        } else if target == self.rt.id {
            let reply_to = ReplyTo {
                shard: self.rt.id,
                conn: self.client.id,
                seq: self.client.inbox.next_seq(),
            };
            let done = self
                .rt
                .shard
                .borrow_mut()
                .submit(spec, DB, args, reply_to, self.now_ms);
            match done {
                Some(reply) => Answer::Ready(Outcome::from_reply(reply)),
                None => Answer::Waiting(self.client.inbox.reserve()),
            }
        } else {
            let seq = self
                .rt
                .submit(target, &self.client, Op::Command { spec, db: DB, args });
            Answer::Waiting(seq)
        };
        self.batch().answers.push(answer);
        self.batch().answers.len() - 1
    }

    /// An internal command's arguments, in the batch's reused buffer.
    fn args<const N: usize>(&mut self, args: [Bytes; N]) -> Vec<Bytes> {
        let mut buffer = std::mem::take(&mut self.batch().args);
        buffer.extend(args);
        buffer
    }

    /// A CAS value for a write, drawn from this core's source.
    fn draw_cas(&self) -> u64 {
        self.rt.shard.borrow_mut().keyspace.cas.draw()
    }

    /// Memcached's exptime as an absolute deadline in ms: 0 never; negative already past; up to
    /// 30 days relative; beyond that a Unix time (one in the past is already past).
    fn expire_at(&self, exptime: i32) -> u64 {
        const RELATIVE_MAX: i64 = 60 * 60 * 24 * 30;
        let exptime = exptime as i64;
        match exptime {
            0 => 0,
            e if e < 0 => 1,
            e if e <= RELATIVE_MAX => self.now_ms + e as u64 * 1000,
            e => {
                let at = e as u64 * 1000;
                if at <= self.now_ms {
                    1
                } else {
                    at
                }
            }
        }
    }

    /// The batch buffers, taken from this core's spares when the connection has none.
    #[inline]
    fn batch(&mut self) -> &mut Batch {
        self.batch.get_or_insert_with(|| SPARE.with(Spare::take))
    }

    fn answers_waiting(&self) -> bool {
        self.batch.as_ref().is_some_and(|batch| {
            batch
                .answers
                .iter()
                .any(|a| matches!(a, Answer::Waiting(_)))
        })
    }

    /// Waits for every answer in flight and turns them into ready ones (a barrier before requests
    /// over every shard, and before the batch's replies are written).
    async fn settle(&mut self) {
        if self.answers_waiting() {
            self.client.inbox.wait_all().await;
            let inbox = &self.client.inbox;
            let answers = self
                .batch
                .iter_mut()
                .flat_map(|batch| batch.answers.iter_mut());
            for answer in answers {
                if let Answer::Waiting(seq) = *answer {
                    *answer = Answer::Ready(Outcome::from_reply(inbox.take(seq).into_reply()));
                }
            }
        }
        self.client.inbox.reset();
    }

    /// Runs a command over every shard (FLUSHDB for flush_all), after the answers in flight.
    async fn run_everywhere(&mut self, name: &str, args: Vec<Bytes>) {
        self.settle().await;
        if let Some(spec) = command::lookup(name.as_bytes()) {
            let _ = coordinator::run_everywhere(&self.rt, &self.client, DB, spec, args).await;
        }
        self.client.inbox.reset();
    }

    /// Every core's stats report (zeroing the counters with `reset`), after the answers in flight.
    async fn gather_stats(&mut self, reset: bool) -> Vec<stats::Report> {
        self.settle().await;
        let seqs: Vec<u32> = (0..self.rt.nshards)
            .map(|shard| {
                self.rt
                    .submit(shard, &self.client, Op::MemcacheStats { reset })
            })
            .collect();
        self.client.inbox.wait_all().await;
        let reports = seqs
            .into_iter()
            .filter_map(|seq| match self.client.inbox.take(seq) {
                Response::MemcacheStats(report) => Some(*report),
                _ => None,
            })
            .collect();
        self.client.inbox.reset();
        reports
    }

    /// A `stats` section as `name value` pairs; `None` for an unknown section.
    async fn stats_section(&mut self, name: Option<&[u8]>) -> Option<Vec<(String, String)>> {
        let reports = self.gather_stats(false).await;
        let facts = stats::Facts {
            uptime: self.rt.facts.started.elapsed().as_secs(),
            now_seconds: self.now_ms / 1000,
            threads: self.rt.nshards,
        };
        stats::section(name, &reports, &self.rt.config(), &facts)
    }

    /// Writes every plan of the batch, in order, once its answers are all in (see `settle`).
    fn write_plans(&mut self) {
        let now_ms = self.now_ms;
        let Batch {
            answers,
            plans,
            out,
            ..
        } = self.batch();
        for plan in plans.drain(..) {
            match plan {
                Plan::Bytes(bytes) => out.extend_from_slice(&bytes),
                Plan::Text(command, range) => {
                    text::write(out, command, &mut answers[range], now_ms)
                }
                Plan::Meta(command, range) => {
                    meta::write(out, &command, &mut answers[range], now_ms)
                }
                Plan::Binary(request, range) => binary::write(out, &request, &mut answers[range]),
            }
        }
        answers.clear();
    }
}

/// Takes the outcome at `index` of a plan's answers (all in, see `settle`).
fn take(answers: &mut [Answer], index: usize) -> Outcome {
    match answers
        .get_mut(index)
        .map(|a| std::mem::replace(a, Answer::Taken))
    {
        Some(Answer::Ready(outcome)) => outcome,
        _ => Outcome::Failed("missing answer".into()),
    }
}

/// Remaining TTL in whole seconds (rounded up, as memcached's second clock shows it); -1 for none.
fn ttl_seconds(expire_at: u64, now_ms: u64) -> i64 {
    if expire_at == 0 {
        -1
    } else {
        expire_at.saturating_sub(now_ms).div_ceil(1000) as i64
    }
}

/// Memcached's size of an item (`ITEM_ntotal`): header, CAS, key and NUL, data and CRLF, flags.
fn item_size(key_len: usize, data_len: usize, flags: u32) -> usize {
    48 + 8 + key_len + 1 + data_len + 2 + if flags == 0 { 0 } else { 4 }
}

/// `__mc.store` arguments for a store request, drawing its CAS unless it brings one (meta `E`).
#[allow(clippy::too_many_arguments)]
fn store_args(
    conn: &mut McConnection,
    key: Bytes,
    mode: semantics::StoreMode,
    data: Bytes,
    flags: u32,
    exptime: i32,
    compare_cas: Option<u64>,
    new_cas: Option<u64>,
) -> Vec<Bytes> {
    let cas = new_cas.unwrap_or_else(|| conn.draw_cas());
    let expire_at = conn.expire_at(exptime);
    let mut args = conn.args([]);
    semantics::store_args(
        &mut args,
        key,
        mode,
        data,
        flags,
        expire_at,
        cas,
        compare_cas,
    );
    args
}
