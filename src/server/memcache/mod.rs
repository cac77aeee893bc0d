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
}

/// What to write for one request once its answers are in.
enum Plan {
    Text(protocol::text::Command, Range<usize>),
    Meta(Box<protocol::meta::Command>, Range<usize>),
    Binary(protocol::binary::Request, Range<usize>),
    /// Bytes known when the request was read (errors, version, stats).
    Bytes(Bytes),
}

pub struct McConnection {
    rt: Rc<Runtime>,
    client: Rc<Client>,
    answers: Vec<Answer>,
    plans: Vec<Plan>,
    /// The batch's answers once all are in (kept between batches for its capacity).
    outcomes: Vec<Option<Outcome>>,
    out: BytesMut,
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
        answers: Vec::new(),
        plans: Vec::new(),
        outcomes: Vec::new(),
        out: BytesMut::new(),
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
        let mut input = BytesMut::new();
        let mut parser = MemcacheParser::new();
        loop {
            if input.is_empty() {
                if !stream.is_readable() {
                    // Nothing to parse and nothing to read: wait holding no read buffer, so that
                    // idle connections cost little memory (see `buffers`).
                    self.rt.read_buffers.give_back(std::mem::take(&mut input));
                    stream.readable().await;
                }
                if input.capacity() == 0 {
                    input = self.rt.read_buffers.take();
                }
            }
            let want = parser.wanted().clamp(READ_CHUNK, MAX_READ_CHUNK);
            let read = stream.read(spare_capacity(&mut input, want)).await?;
            if read == 0 {
                self.rt.read_buffers.give_back(input);
                return Ok(());
            }
            // SAFETY: the socket read initialised the first `read` bytes of the spare capacity.
            unsafe { input.set_len(input.len() + read) };
            stats::with(|counters| counters.bytes_read += read as u64);
            let limits = Limits {
                item_size_max: self.rt.config.borrow().item_size_max as usize,
            };
            self.now_ms = now_ms();
            {
                let mut meta = self.client.meta.borrow_mut();
                meta.last_interaction_ms = self.now_ms;
                meta.query_buffer = input.len();
            }
            let mut commands = 0;
            while !self.quit {
                match parser.parse(&mut input, &limits) {
                    Ok(Some(parsed)) => {
                        commands += 1;
                        self.request(parsed).await;
                    }
                    Ok(None) => break,
                    Err(Close) => {
                        self.quit = true;
                        break;
                    }
                }
            }
            self.finish().await;
            self.rt.counters.borrow_mut().total_commands_processed += commands;
            if !self.out.is_empty() {
                stream.write_all(&self.out).await?;
                stats::with(|counters| counters.bytes_written += self.out.len() as u64);
                self.out.clear();
                if self.out.capacity() > KEEP_BUFFER {
                    self.out = BytesMut::new();
                }
            }
            if self.quit {
                return Ok(());
            }
        }
    }

    async fn request(&mut self, parsed: Parsed) {
        match parsed {
            Parsed::Error(line) => self.line(line),
            Parsed::Text(command) => text::request(self, command).await,
            Parsed::Meta(command) => meta::request(self, command),
            Parsed::Binary(request) => binary::request(self, request).await,
        }
    }

    /// Queues a reply line (CRLF added).
    fn line(&mut self, line: &str) {
        let mut bytes = Vec::with_capacity(line.len() + 2);
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
        self.plans.push(Plan::Bytes(Bytes::from(bytes)));
    }

    /// Routes an internal command to the shard owning its key (`args[1]`); returns the index of
    /// its answer.
    fn submit(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> usize {
        let target = self.rt.shard_of_key(&args[1]);
        let answer = if target == self.rt.id {
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
        self.answers.push(answer);
        self.answers.len() - 1
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

    /// Waits for every answer in flight and turns them into ready ones (a barrier before requests
    /// over every shard).
    async fn settle(&mut self) {
        if self.answers.iter().any(|a| matches!(a, Answer::Waiting(_))) {
            self.client.inbox.wait_all().await;
            for answer in &mut self.answers {
                if let Answer::Waiting(seq) = *answer {
                    *answer = Answer::Ready(Outcome::from_reply(
                        self.client.inbox.take(seq).into_reply(),
                    ));
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

    /// Writes every plan of the batch, in order.
    async fn finish(&mut self) {
        self.settle().await;
        let outcomes = &mut self.outcomes;
        outcomes.clear();
        outcomes.extend(self.answers.drain(..).map(|answer| match answer {
            Answer::Ready(outcome) => Some(outcome),
            Answer::Waiting(_) => None,
        }));
        let mut plans = std::mem::take(&mut self.plans);
        for plan in plans.drain(..) {
            match plan {
                Plan::Bytes(bytes) => self.out.extend_from_slice(&bytes),
                Plan::Text(command, range) => {
                    text::write(&mut self.out, command, &mut outcomes[range], self.now_ms)
                }
                Plan::Meta(command, range) => {
                    meta::write(&mut self.out, &command, &mut outcomes[range], self.now_ms)
                }
                Plan::Binary(request, range) => {
                    binary::write(&mut self.out, &request, &mut outcomes[range])
                }
            }
        }
        self.plans = plans;
    }
}

/// Takes the outcome at `index` of a plan's answers.
fn take(outcomes: &mut [Option<Outcome>], index: usize) -> Outcome {
    outcomes
        .get_mut(index)
        .and_then(Option::take)
        .unwrap_or_else(|| Outcome::Failed("missing answer".into()))
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
    conn: &McConnection,
    key: Bytes,
    mode: semantics::StoreMode,
    data: Bytes,
    flags: u32,
    exptime: i32,
    compare_cas: Option<u64>,
    new_cas: Option<u64>,
) -> Vec<Bytes> {
    let cas = new_cas.unwrap_or_else(|| conn.draw_cas());
    semantics::store_args(
        key,
        mode,
        data,
        flags,
        conn.expire_at(exptime),
        cas,
        compare_cas,
    )
}
