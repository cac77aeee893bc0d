//! One client connection, on the core that accepted it.
//!
//! The loop: read what the socket has, parse every complete request in it, route each one, wait for
//! the replies that had to travel, and write all replies of the batch with one write. Routing:
//! - a command whose keys this core owns runs at once, in place;
//! - a command whose keys another core owns goes into that core's outbox (sent once per loop turn)
//!   and its reply lands in this connection's inbox slot;
//! - a multi-key command over several cores, and a command over all cores, first waits for the
//!   replies in flight (a barrier), then runs through the coordinator.
//!
//! Replies leave in request order: a reply computed while earlier ones are still travelling waits
//! in `pending` behind them. With a binlog, a batch whose writes were logged on this core is
//! written out only once the binlog acknowledges them (written; fsynced under `appendfsync
//! always`); replies to writes run on other cores are held on those cores (`Runtime::respond`). Commands on different cores in one pipeline may execute concurrently,
//! but each is atomic and two commands on the same key always run in the order sent.

use std::mem::MaybeUninit;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use tracing::{debug, warn};

use crate::command::{self, CommandSpec, Routing};
use crate::protocol::reply::Reply;
use crate::protocol::resp::{ParserLimits, RespParser};
use crate::shard::ReplyTo;

use super::buffers::READ_CHUNK;
use super::router::Op;
use super::runtime::{now_ms, Client, Runtime};
use super::{blocking, commands, coordinator, net, observe, pubsub, transaction};

const MAX_READ_CHUNK: usize = 1024 * 1024;
const KEEP_BUFFER: usize = 64 * 1024;

enum Slot {
    Ready(Reply),
    Waiting(u32),
}

pub struct Connection {
    pub rt: Rc<Runtime>,
    pub client: Rc<Client>,
    /// Selected database.
    pub db: usize,
    /// RESP protocol version (2, or 3 after `HELLO 3`).
    pub protocol: u8,
    /// Set by QUIT (reply, then close) or SHUTDOWN (close without reply).
    pub quit: bool,
    /// Set by MONITOR: the commands of every shard arrive here and are streamed to the client.
    pub monitor: Option<crossbeam_channel::Receiver<Bytes>>,
    /// MULTI's queue and the WATCHed keys (`server::transaction`).
    pub transaction: transaction::State,
    /// The socket, for a blocked command to notice the client going away (`blocking`).
    pub socket: Rc<net::Connection>,
    /// Whether the client may run commands: true from the start when `requirepass` is empty
    /// (Redis's default user without a password), else after AUTH or HELLO ... AUTH; RESET
    /// takes it back.
    pub authenticated: bool,
    pending: Vec<Slot>,
    out: BytesMut,
    errors: u64,
}

pub async fn serve(rt: Rc<Runtime>, stream: net::Connection, client: Rc<Client>) {
    let id = client.id;
    let stream = Rc::new(stream);
    let mut conn = Connection {
        rt: rt.clone(),
        client,
        db: 0,
        protocol: 2,
        quit: false,
        monitor: None,
        transaction: transaction::State::default(),
        socket: stream.clone(),
        authenticated: rt.config().requirepass.is_empty(),
        pending: Vec::new(),
        out: BytesMut::new(),
        errors: 0,
    };
    let outcome = conn.run(&stream).await;
    pubsub::forget(&rt, &conn.client);
    if conn.monitor.is_some() {
        rt.obs.monitors.remove(id);
    }
    if conn.transaction.watching() {
        transaction::forget_watches(&mut conn).await;
    }
    match outcome {
        Ok(()) => {
            // The server ended it (QUIT, protocol error, CLIENT KILL, idle timeout, shutdown)
            // rather than the client: make sure the client gets its replies and a clean end.
            let server_closed = conn.quit || conn.client.meta.borrow().closing;
            if server_closed {
                close_gracefully(conn.client.fd).await;
            }
        }
        Err(error) => debug!(client = id, %error, "connection ended"),
    }
    rt.unregister_client(id);
}

/// How long a connection the server closes waits for the client to acknowledge its last replies.
const CLOSE_LINGER: Duration = Duration::from_secs(1);

/// Ends a connection the server chose to close so that the client reads every reply written and
/// then end of file. Closing a socket whose input was not all read makes the kernel send a reset
/// at once and throw away whatever replies it had not sent yet; and a client still writing (the
/// rest of a pipeline) always leaves input unread. So: send FIN behind the replies, then wait,
/// briefly, until the client has acknowledged all of it. Whatever reset the close then causes
/// reaches a client that already holds every reply and the end of file.
pub(super) async fn close_gracefully(fd: RawFd) {
    // SAFETY: shutdown(2) and ioctl(TIOCOUTQ) on the connection's own open descriptor, with a
    // valid pointer to an int for the ioctl's answer.
    unsafe {
        libc::shutdown(fd, libc::SHUT_WR);
    }
    let deadline = Instant::now() + CLOSE_LINGER;
    loop {
        // TIOCOUTQ (SIOCOUTQ) on TCP: bytes sent but not yet acknowledged, plus unsent ones.
        let mut unacknowledged: libc::c_int = 0;
        let answered = unsafe { libc::ioctl(fd, libc::TIOCOUTQ, &mut unacknowledged) } == 0;
        if !answered || unacknowledged == 0 || Instant::now() >= deadline {
            return;
        }
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
}

impl Connection {
    async fn run(&mut self, stream: &net::Connection) -> std::io::Result<()> {
        let mut input = BytesMut::new();
        let mut parser = RespParser::new();
        let mut batch: Vec<Vec<Bytes>> = Vec::new();
        loop {
            let subscriber = self.client.subscriber.borrow().clone();
            if input.is_empty() {
                // Nothing to parse and nothing to read: wait holding no read buffer, so that
                // idle connections cost little memory (see `buffers`). A subscriber also wakes
                // for its messages, below, so it keeps its buffer.
                if !stream.is_readable() && subscriber.is_none() {
                    self.rt.read_buffers.give_back(std::mem::take(&mut input));
                    stream.readable().await;
                }
                if input.capacity() == 0 {
                    input = self.rt.read_buffers.take();
                }
            }
            let want = parser.wanted().clamp(READ_CHUNK, MAX_READ_CHUNK);
            let read = match subscriber {
                None => stream.read(spare_capacity(&mut input, want)).await?,
                // A connection that subscribed also wakes for messages queued for it.
                Some(subscriber) => {
                    let buf = spare_capacity(&mut input, want);
                    match pubsub::read_or_pushes(stream, buf, &subscriber).await? {
                        Some(read) => read,
                        None => {
                            pubsub::write_pushes(&self.rt, stream, &subscriber).await?;
                            continue;
                        }
                    }
                }
            };
            // A client killed (CLIENT KILL, timeout) while this task waited may still have input
            // queued: shutdown(SHUT_RD) does not stop Linux from queueing what arrives later.
            if read == 0 || self.client.meta.borrow().closing {
                self.rt.read_buffers.give_back(input);
                return Ok(());
            }
            // SAFETY: the socket read initialised the first `read` bytes of the spare capacity.
            unsafe { input.set_len(input.len() + read) };
            self.rt.counters.borrow_mut().total_net_input_bytes += read as u64;

            let (limits, query_buffer_limit) = {
                let config = self.rt.config.borrow();
                let limits = ParserLimits {
                    proto_max_bulk_len: config.proto_max_bulk_len as usize,
                };
                (limits, config.client_query_buffer_limit)
            };
            let mut protocol_error = None;
            loop {
                match parser.parse(&mut input, &limits) {
                    Ok(Some(args)) => batch.push(args),
                    Ok(None) => break,
                    Err(error) => {
                        protocol_error = Some(error);
                        break;
                    }
                }
            }
            if !batch.is_empty() {
                let now = now_ms();
                self.touch(&input, now);
                self.execute_batch(&mut batch, now).await;
                // Replies to writes this batch logged on this core leave once the binlog
                // acknowledges them (written; durable with `appendfsync always`): one wait for
                // the whole batch. Writes on other cores are held there (`Runtime::respond`).
                let ack = self.client.ack_position.replace(0);
                if ack > 0 {
                    self.rt.wait_acknowledged(ack).await;
                }
            }
            if let Some(error) = &protocol_error {
                debug!(client = self.client.id, %error, "protocol error");
                self.push_reply(Reply::error(format!("ERR Protocol error: {}", error)));
                self.quit = true;
            }
            if input.len() as u64 > query_buffer_limit {
                warn!(
                    client = self.client.id,
                    "closing client that reached max query buffer length"
                );
                self.quit = true;
            }
            if !self.out.is_empty() {
                // Let the other connections that are ready in this loop turn run their
                // commands first, so that the replies leave together, as redis-server writes
                // them all before it sleeps: a client then wakes once for many replies rather
                // than once per connection (on a pipelined load those wake-ups were most of
                // the kernel's cost per request).
                if glommio::net::other_tasks_ready() {
                    futures_lite::future::yield_now().await;
                }
                stream.write_all(&self.out).await?;
                self.rt.counters.borrow_mut().total_net_output_bytes += self.out.len() as u64;
                self.out.clear();
                if self.out.capacity() > KEEP_BUFFER {
                    self.out = BytesMut::new();
                }
            }
            let subscriber = self.client.subscriber.borrow().clone();
            if let Some(subscriber) = subscriber {
                pubsub::write_pushes(&self.rt, stream, &subscriber).await?;
            }
            if self.quit {
                return Ok(());
            }
            if self.monitor.is_some() && !observe::stream_monitor(self, stream).await? {
                return Ok(());
            }
        }
    }

    fn touch(&self, input: &BytesMut, now_ms: u64) {
        let mut meta = self.client.meta.borrow_mut();
        meta.last_interaction_ms = now_ms;
        meta.query_buffer = input.len();
        meta.query_buffer_free = input.capacity() - input.len();
    }

    async fn execute_batch(&mut self, batch: &mut Vec<Vec<Bytes>>, now_ms: u64) {
        let count = batch.len() as u64;
        for args in batch.drain(..) {
            if self.quit {
                break;
            }
            self.execute(args, now_ms).await;
        }
        self.drain().await;
        let mut counters = self.rt.counters.borrow_mut();
        counters.total_commands_processed += count;
        counters.total_error_replies += std::mem::take(&mut self.errors);
    }

    /// As Redis: only AUTH, HELLO, QUIT and RESET run before the client has authenticated; and
    /// once `requirepass` is emptied (CONFIG SET) every client may run anything.
    fn may_run_unauthenticated(&mut self, spec: &CommandSpec) -> bool {
        if matches!(spec.name, "auth" | "hello" | "quit" | "reset") {
            return true;
        }
        self.authenticated = self.rt.config().requirepass.is_empty();
        self.authenticated
    }

    async fn execute(&mut self, args: Vec<Bytes>, now_ms: u64) {
        // Inside MULTI, commands are queued instead (one branch otherwise).
        let Some(args) = transaction::queue(self, args) else {
            return;
        };
        let Some(spec) = command::lookup(&args[0]) else {
            self.push_reply(command::unknown_command_error(&args));
            return;
        };
        if !spec.arity_ok(args.len()) {
            self.push_reply(command::arity_error(&args[0]));
            return;
        }
        if !self.authenticated && !self.may_run_unauthenticated(spec) {
            self.push_reply(Reply::error_static("NOAUTH Authentication required."));
            return;
        }
        if let Some(busy) = super::script::busy_refusal(&self.rt, spec, &args) {
            self.push_reply(busy);
            return;
        }
        self.client.meta.borrow_mut().last_command = command::observe::full_name(spec, &args);
        if let Some(reply) = pubsub::subscribed_mode_reply(self, spec, &args) {
            self.push_reply(reply);
            return;
        }
        // EXEC shows after the commands it runs (`transaction`).
        if self.rt.obs.monitors.active() && spec.name != "exec" {
            observe::feed_monitors(&self.rt, &self.client, self.db, spec, &args);
        }
        if command::blocking::is_blocking(spec) {
            if let Some(reply) = blocking::run(self, spec, args).await {
                self.push_reply(reply);
            }
            return;
        }
        match spec.routing {
            Routing::SingleKey => {
                // The arity check does not guarantee the key is there: OBJECT's key is argument
                // 2, and OBJECT HELP (or a bad subcommand) has none. Keyless, it runs here.
                let target = args
                    .get(spec.first_key as usize)
                    .map_or(self.rt.id, |key| self.rt.shard_of_key(key));
                self.run_on(target, spec, args, now_ms);
            }
            Routing::MultiKey => {
                let mut positions = spec.key_positions(&args);
                let first = positions
                    .next()
                    .map(|i| self.rt.shard_of_key(&args[i]))
                    .unwrap_or(self.rt.id);
                if positions.all(|i| self.rt.shard_of_key(&args[i]) == first) {
                    self.run_on(first, spec, args, now_ms);
                } else {
                    self.drain().await;
                    let running = self.rt.shard.borrow_mut().observe.begin(spec);
                    let reply =
                        coordinator::run(&self.rt, &self.client, self.db, spec, args.clone()).await;
                    self.record(running, &args, &reply);
                    self.push_reply(reply);
                }
            }
            Routing::AllShards => {
                self.drain().await;
                // On one shard these run as a plain command there (recorded by Shard::execute),
                // except SCAN, which never goes through it.
                let coordinated = self.rt.nshards > 1 || spec.name == "scan";
                let running = self.rt.shard.borrow_mut().observe.begin(spec);
                let reply = coordinator::run_everywhere(
                    &self.rt,
                    &self.client,
                    self.db,
                    spec,
                    args.clone(),
                )
                .await;
                if coordinated {
                    self.record(running, &args, &reply);
                } else {
                    self.rt.shard.borrow_mut().observe.quiet_end(running);
                }
                self.push_reply(reply);
            }
            Routing::Connection => {
                // Timed here, as Shard::execute times the commands that run inside a shard.
                let running = self.rt.shard.borrow_mut().observe.begin(spec);
                // Kept for the slow log (AUTH's password redacted, as Redis does); inline, with
                // no allocation, for the short commands here.
                let logged = command::observe::loggable(spec, &args);
                let reply = commands::run(self, spec, args).await;
                match &reply {
                    Some(reply) => self.record(running, &logged, reply),
                    None => self.record(running, &logged, &Reply::ok()),
                }
                if let Some(reply) = reply {
                    self.push_reply(reply);
                }
            }
        }
    }

    /// Records a command this connection coordinated (its parts on the shards record nothing).
    pub(super) fn record(
        &self,
        running: crate::admin::stats::Running,
        args: &[Bytes],
        reply: &Reply,
    ) {
        let mut shard = self.rt.shard.borrow_mut();
        shard.observe.caller = self.client.id;
        shard
            .observe
            .end_with_client(running, args, reply.is_error(), || {
                let (addr, _) = self.client.addresses();
                Some((addr, self.client.meta.borrow().name.clone()))
            });
    }

    /// Runs a command on the shard that owns its keys: in place here, or through the outbox.
    fn run_on(&mut self, target: usize, spec: &'static CommandSpec, args: Vec<Bytes>, now_ms: u64) {
        if target == self.rt.id {
            let next_seq = self.client.inbox.next_seq();
            let reply_to = ReplyTo {
                shard: self.rt.id,
                conn: self.client.id,
                seq: next_seq,
            };
            let mut shard = self.rt.shard.borrow_mut();
            let before = shard.binlog_position();
            let done = shard.submit(spec, self.db, args, reply_to, now_ms);
            let after = shard.binlog_position();
            drop(shard);
            // Clients blocked on what this wrote are served before the next command runs.
            self.rt.serve_blocked();
            if after > before {
                let ack = &self.client.ack_position;
                ack.set(ack.get().max(after));
            }
            match done {
                Some(reply) => self.push_reply(reply),
                None => {
                    let seq = self.client.inbox.reserve();
                    debug_assert_eq!(seq, next_seq);
                    self.pending.push(Slot::Waiting(seq));
                }
            }
        } else {
            let seq = self.rt.submit(
                target,
                &self.client,
                Op::Command {
                    spec,
                    db: self.db,
                    args,
                },
            );
            self.pending.push(Slot::Waiting(seq));
        }
    }

    /// Queues a reply behind those still travelling, or encodes it at once if none are.
    pub fn push_reply(&mut self, reply: Reply) {
        if self.pending.is_empty() {
            self.encode(&reply);
        } else {
            self.pending.push(Slot::Ready(reply));
        }
    }

    fn encode(&mut self, reply: &Reply) {
        if let Reply::Error(text) = reply {
            self.errors += 1;
            self.rt.shard.borrow_mut().observe.count_error(text);
        }
        reply.encode(&mut self.out, self.protocol);
    }

    /// Waits for every reply in flight and encodes the queue in order.
    pub async fn drain(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        self.client.inbox.wait_all().await;
        let pending = std::mem::take(&mut self.pending);
        for slot in pending {
            let reply = match slot {
                Slot::Ready(reply) => reply,
                Slot::Waiting(seq) => self.client.inbox.take(seq).into_reply(),
            };
            self.encode(&reply);
        }
        self.client.inbox.reset();
    }
}

/// The free space at the end of `input`, at least `want` bytes, as a slice a socket read can fill.
/// Not zeroed: zeroing 16 KiB before every small read cost measurable CPU per request.
pub(super) fn spare_capacity(input: &mut BytesMut, want: usize) -> &mut [u8] {
    input.reserve(want);
    let spare: &mut [MaybeUninit<u8>] = input.spare_capacity_mut();
    // SAFETY: u8 has no invalid values, the slice is only written by the recv(2) into it, and the
    // caller commits exactly the number of bytes the read reports (`set_len`).
    unsafe { &mut *(spare as *mut [MaybeUninit<u8>] as *mut [u8]) }
}
