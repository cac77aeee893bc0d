//! EVAL, EVALSHA, SCRIPT: where a script runs and how it stays atomic across shards.
//!
//! # Execution model
//!
//! Every core has its own Lua state (`script::engine`, one per thread). Script bodies live in the
//! server-wide [`crate::script::Shared`], so EVALSHA finds a script loaded through any core.
//!
//! **Local mode.** A script first runs on one shard, on that shard's thread, synchronously: the
//! shard of its declared KEYS (all on one shard), or the connection's own core when it declares
//! none. Each `redis.call` runs through the shard choke point (`Shard::execute`), so each write is
//! logged as its effect. Nothing else runs on that shard meanwhile, so the script is atomic. The
//! binlog records it produces are held back (`Shard::begin_capture`) and appended together when it
//! ends.
//!
//! A `redis.call` the shard cannot run by itself — a key owned by another shard (declared or not),
//! a key a cross-shard transaction has locked, a command over every shard (FLUSHALL, KEYS, ...)
//! or one whose effect crosses databases (MOVE, COPY, SWAPDB) — stops the local run *before* that
//! call: the entries the script wrote are put back from an undo log (each key's entry is copied
//! before the script's first write to it) and its held-back records are dropped. No other client
//! saw any of it, since the run never yielded the thread.
//!
//! **Global mode.** The script then runs again, from scratch, on the connection's core, holding
//! the whole-keyspace lock of every shard (`Op::LockAll`, taken in ascending shard order like
//! every transaction, as FLUSHALL does). Each `redis.call` runs on its keys' owner: in place for
//! this core, otherwise as an `Op::ScriptCall` posted straight to the owner's mailbox while this
//! thread waits for the answer on a channel. That wait cannot deadlock: every other shard is
//! locked by this transaction, so no other global script runs, and a core only ever blocks like
//! this while it holds every lock. Commands whose keys span shards inside a global script gather
//! the entries, run the ordinary handler over them and write back what changed (as
//! `coordinator::gather` does). At the end, `Op::ScriptEnd` makes each shard append its held-back
//! records as one part of a binlog transaction (id, participants: see `binlog`), so that recovery
//! keeps all of a multi-shard script or none of it, and releases the locks.
//!
//! EXEC of a queue holding a script runs the same way (`transaction::exec`): it holds every
//! shard, and the queued commands and scripts run in order through one [`Holding`].
//!
//! **PUBLISH and SPUBLISH** reach subscribers on every core, and the script gets the number
//! reached: a local run that could still stop (always, with several cores) stops before them,
//! since a message sent cannot be taken back, and the global run delivers on each core in turn
//! (`ScriptCall::Publish`).
//!
//! **Blocked clients** (BLPOP, ...) waiting on keys a global run wrote are served when it ends:
//! a shard holding back a script's records serves none (`Runtime::serve_blocked`), as Redis
//! serves them after the script.
//!
//! **BUSY and SCRIPT KILL.** While a script runs, its core publishes "running since" in
//! `Shared`. Once that is older than `busy-reply-threshold`, other cores refuse commands that
//! would run on that shard (every shard, for a global script) with `-BUSY`. SCRIPT KILL sets the
//! core's kill flag, which the engine's instruction hook reads. Connections owned by the busy core
//! itself cannot even be read until the script ends (the thread is running it): they wait, and
//! SCRIPT KILL must come through a connection on another core.

use std::borrow::Cow;
use std::cell::{OnceCell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use crate::binlog::TxTag;
use crate::command::keys::parse_db_index;
use crate::command::scripting::parse_numkeys;
use crate::command::util::eq_ignore_case;
use crate::command::{CommandSpec, ExecContext, Routing};
use crate::keyspace::{Entry, Keyspace};
use crate::protocol::reply::Reply;
use crate::pubsub::Kind;
use crate::script::engine::{Engine, Host, Outcome, Run, Stop, KILLED};
use crate::shard::locks::{LockKey, TxId};
use crate::shard::ReplyTo;

use super::connection::Connection;
use super::observe;
use super::router::{Address, Mail, Op, Request, Response};
use super::runtime::{now_ms, Client, Runtime};

const BUSY: &str =
    "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.";
const NOT_ALLOWED: &str = "ERR This Redis command is not allowed from script";
const NOSCRIPT: &str = "NOSCRIPT No matching script. Please use EVAL.";

thread_local! {
    /// This core's Lua state, made on first use.
    static ENGINE: RefCell<Option<Engine>> = const { RefCell::new(None) };
    /// Every core's mailbox, for the calls of a global script.
    static ADDRESSES: OnceCell<Arc<Vec<Address>>> = const { OnceCell::new() };
}

/// Gives this core's thread the other cores' addresses (at start-up).
pub fn install(addresses: Arc<Vec<Address>>) {
    ADDRESSES.with(|cell| {
        let _ = cell.set(addresses);
    });
}

/// Runs `f` with this core's engine, made on first use.
fn with_engine<R>(rt: &Runtime, f: impl FnOnce(&mut Engine) -> R) -> Result<R, Reply> {
    ENGINE.with(|cell| {
        let Ok(mut slot) = cell.try_borrow_mut() else {
            return Err(Reply::error_static("ERR script engine busy"));
        };
        if slot.is_none() {
            let kill = rt.facts.scripts.cores[rt.id].kill.clone();
            let engine = Engine::new(kill).map_err(|e| Reply::error(format!("ERR Lua: {e}")))?;
            *slot = Some(engine);
        }
        let engine = slot
            .as_mut()
            .ok_or_else(|| Reply::error_static("ERR no engine"))?;
        engine.sync_generation(rt.facts.scripts.generation());
        Ok(f(engine))
    })
}

/// A script to run: what EVAL named and the connection's database.
#[derive(Debug, Clone)]
pub struct ScriptRun {
    pub sha: String,
    pub body: Bytes,
    pub keys: Vec<Bytes>,
    pub argv: Vec<Bytes>,
    pub db: usize,
    pub read_only: bool,
}

impl ScriptRun {
    pub fn run(&self) -> Run<'_> {
        Run {
            sha: &self.sha,
            body: &self.body,
            keys: &self.keys,
            argv: &self.argv,
            read_only: self.read_only,
        }
    }
}

/// One step of a global script on a shard it holds.
#[derive(Debug)]
pub enum ScriptCall {
    Execute {
        spec: &'static CommandSpec,
        db: usize,
        args: Vec<Bytes>,
    },
    GetEntries {
        db: usize,
        keys: Vec<Bytes>,
    },
    PutEntries {
        db: usize,
        entries: Vec<(Bytes, Option<Entry>)>,
    },
    /// PUBLISH or SPUBLISH to this core's subscribers.
    Publish {
        kind: Kind,
        channel: Bytes,
        message: Bytes,
    },
}

/// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO.
pub async fn eval(conn: &mut Connection, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
    let numkeys = match parse_numkeys(args) {
        Ok(n) => n,
        Err(reply) => return reply,
    };
    let rt = conn.rt.clone();
    let shared = &rt.facts.scripts;
    let (sha, body) = if spec.name.starts_with("evalsha") {
        // Clients send the name in lowercase: no copy then.
        let sha = match std::str::from_utf8(&args[1]) {
            Ok(sha) if !sha.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Borrowed(sha),
            _ => Cow::Owned(String::from_utf8_lossy(&args[1]).to_ascii_lowercase()),
        };
        // A script this core compiled since the last SCRIPT FLUSH is loaded: running it here
        // needs no body (and no look-up in the shared table).
        if with_engine(&rt, |e| e.is_compiled(&sha)).unwrap_or(false) {
            (sha, None)
        } else {
            match shared.body(sha.as_bytes()) {
                Some(body) => (sha, Some(body)),
                None => return Reply::error_static(NOSCRIPT),
            }
        }
    } else {
        let body = args[1].clone();
        let sha = crate::script::sha1_hex(&body);
        if let Err(reply) = with_engine(&rt, |e| e.compile(&sha, &body)).and_then(|r| r) {
            return reply;
        }
        shared.store(body.clone());
        (Cow::Owned(sha), Some(body))
    };
    let (keys, argv) = args[3..].split_at(numkeys);
    let (db, read_only) = (conn.db, spec.name.ends_with("_ro"));
    let run = Run {
        sha: &sha,
        body: body.as_deref().unwrap_or_default(),
        keys,
        argv,
        read_only,
    };
    // Another shard's run, or a global one, needs its own copy, body included.
    let owned = || {
        let body = match &body {
            Some(body) => body.clone(),
            None => shared.body(sha.as_bytes())?,
        };
        Some(ScriptRun {
            sha: sha.to_string(),
            body,
            keys: keys.to_vec(),
            argv: argv.to_vec(),
            db,
            read_only,
        })
    };
    let mut shards = keys.iter().map(|key| rt.shard_of_key(key));
    let first = shards.next().unwrap_or(rt.id);
    if shards.all(|shard| shard == first) {
        let response = if first == rt.id {
            let before = rt.shard.borrow().binlog_position();
            let response = run_here(&rt, &run, db, conn.client.id);
            // Clients blocked on what the script wrote are served before the next command runs.
            rt.serve_blocked();
            let after = rt.shard.borrow().binlog_position();
            if after > before {
                let ack = &conn.client.ack_position;
                ack.set(ack.get().max(after));
            }
            response
        } else {
            let Some(script) = owned() else {
                return Reply::error_static(NOSCRIPT);
            };
            let script = Box::new(script);
            conn.drain().await;
            let seq = rt.submit(first, &conn.client, Op::Script(script));
            conn.client.inbox.wait_all().await;
            let response = conn.client.inbox.take(seq);
            conn.client.inbox.reset();
            response
        };
        if !matches!(response, Response::ScriptNeedsGlobal) {
            return response.into_reply();
        }
    }
    let Some(script) = owned() else {
        return Reply::error_static(NOSCRIPT);
    };
    run_global(conn, script).await
}

/// The script an EVAL, EVALSHA, EVAL_RO or EVALSHA_RO names, with its keys and arguments: the
/// body found by its SHA1, or compiled and stored in the script cache; or the error to reply.
pub fn prepare(
    rt: &Runtime,
    spec: &'static CommandSpec,
    args: &[Bytes],
    db: usize,
) -> Result<ScriptRun, Reply> {
    let numkeys = parse_numkeys(args)?;
    let shared = &rt.facts.scripts;
    let (sha, body) = if spec.name.starts_with("evalsha") {
        match shared.body(&args[1]) {
            Some(body) => (String::from_utf8_lossy(&args[1]).to_ascii_lowercase(), body),
            None => {
                return Err(Reply::error_static(
                    "NOSCRIPT No matching script. Please use EVAL.",
                ))
            }
        }
    } else {
        let body = args[1].clone();
        let sha = crate::script::sha1_hex(&body);
        with_engine(rt, |e| e.compile(&sha, &body)).and_then(|r| r)?;
        shared.store(body.clone());
        (sha, body)
    };
    Ok(ScriptRun {
        sha,
        body,
        keys: args[3..3 + numkeys].to_vec(),
        argv: args[3 + numkeys..].to_vec(),
        db,
        read_only: spec.name.ends_with("_ro"),
    })
}

/// Whether `spec` is EVAL, EVALSHA, EVAL_RO or EVALSHA_RO.
pub fn is_script(spec: &CommandSpec) -> bool {
    spec.name.starts_with("eval")
}

/// Runs a script in local mode on this core (see the module doc): its reply, or
/// `ScriptNeedsGlobal` when it must run again holding every shard.
pub fn run_here(rt: &Runtime, run: &Run<'_>, db: usize, caller: u64) -> Response {
    // A global script holds this shard between its calls: wait for it (globally).
    if rt.shard.borrow().capturing() {
        return Response::ScriptNeedsGlobal;
    }
    let shared = &rt.facts.scripts;
    let now = now_ms();
    shared.begin(rt.id, now, false);
    rt.shard.borrow_mut().begin_capture();
    let locks_idle = rt.shard.borrow().locks_idle();
    let mut host = LocalHost {
        rt,
        db,
        caller,
        now,
        undo: Vec::new(),
        saved: HashSet::new(),
        // With one shard and no locks held, nothing can stop the run: no undo log needed.
        undoable: rt.nshards > 1 || !locks_idle,
        monitor: Vec::new(),
    };
    let outcome = with_engine(rt, |engine| engine.run(run, &mut host));
    shared.end(rt.id);
    let mut shard = rt.shard.borrow_mut();
    match outcome {
        Ok(Outcome::Stopped) => {
            for (db, key, entry) in host.undo.into_iter().rev() {
                let db = shard.keyspace.db(db);
                db.remove(&key, now);
                if let Some(entry) = entry {
                    db.insert(key, entry);
                }
            }
            shard.discard_capture();
            Response::ScriptNeedsGlobal
        }
        Ok(Outcome::Reply(reply)) | Err(reply) => {
            shard.commit_capture(TxTag::default());
            drop(shard);
            observe::send_script_lines(rt, caller, host.monitor);
            Response::Reply(reply)
        }
    }
}

/// Commands a script runs on the connection's behalf without a shard (PING, ECHO, TIME, SELECT);
/// every other connection-level command is refused, as Redis refuses `noscript` ones.
fn connection_command(
    rt: &Runtime,
    spec: &CommandSpec,
    args: &[Bytes],
    db: &mut usize,
) -> Option<Reply> {
    if spec.routing != Routing::Connection {
        return None;
    }
    Some(match spec.name {
        "ping" if args.len() == 1 => Reply::status("PONG"),
        "ping" if args.len() == 2 => Reply::Bulk(args[1].clone()),
        "echo" => Reply::Bulk(args[1].clone()),
        "time" => {
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_micros() as u64);
            Reply::Array(vec![
                Reply::bulk_integer((micros / 1_000_000) as i64),
                Reply::bulk_integer((micros % 1_000_000) as i64),
            ])
        }
        "select" => match parse_db_index(&args[1], rt.config().databases) {
            Ok(index) => {
                *db = index;
                Reply::ok()
            }
            Err(reply) => reply,
        },
        _ => Reply::error_static(NOT_ALLOWED),
    })
}

/// PUBLISH's and SPUBLISH's kind of channel; `None` for every other command.
fn publish_kind(spec: &CommandSpec) -> Option<Kind> {
    match spec.name {
        "publish" => Some(Kind::Channel),
        "spublish" => Some(Kind::Shard),
        _ => None,
    }
}

/// Commands whose effect reaches beyond their keys' entries in one database: the undo log could
/// not put them back, so a local run stops before them unless it cannot be stopped at all.
const BEYOND_UNDO: &[&str] = &["move", "copy", "swapdb", "flushdb", "flushall"];

struct LocalHost<'a> {
    rt: &'a Runtime,
    db: usize,
    caller: u64,
    /// The script's start: the time every command of a local run sees, as Redis freezes the
    /// clock while a script runs (one clock read per run, too).
    now: u64,
    /// (db, key, entry before the script's first write to it), in write order.
    undo: Vec<(usize, Bytes, Option<Entry>)>,
    saved: HashSet<(usize, Bytes)>,
    undoable: bool,
    /// MONITOR lines of the calls, sent once the run is kept.
    monitor: Vec<Bytes>,
}

impl Host for LocalHost<'_> {
    fn call(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Result<Reply, Stop> {
        let rt = self.rt;
        self.monitor
            .extend(observe::script_line(rt, self.db, spec, &args));
        if let Some(kind) = publish_kind(spec) {
            // Subscribers live on every core: with several, the script holds them all to count
            // its receivers (a local run cannot wait for another core). And a message cannot be
            // taken back: a run that could still stop later (and run again) does not send one.
            if self.undoable {
                return Err(Stop);
            }
            return Ok(Reply::Integer(
                super::pubsub::deliver(rt, kind, &args[1], &args[2]) as i64,
            ));
        }
        if let Some(reply) = connection_command(rt, spec, &args, &mut self.db) {
            return Ok(reply);
        }
        if self.undoable {
            if spec.routing == Routing::AllShards || BEYOND_UNDO.contains(&spec.name) {
                return Err(Stop);
            }
            let keys: Vec<LockKey> = spec
                .key_positions(&args)
                .map(|i| (self.db as u16, args[i].clone()))
                .collect();
            if keys.iter().any(|(_, key)| rt.shard_of_key(key) != rt.id) {
                return Err(Stop);
            }
            if !rt.shard.borrow().keys_free(&keys) {
                return Err(Stop);
            }
            if spec.is_write() {
                let mut shard = rt.shard.borrow_mut();
                for (_, key) in keys {
                    if self.saved.insert((self.db, key.clone())) {
                        let entry = shard.keyspace.db(self.db).get(&key, self.now).cloned();
                        self.undo.push((self.db, key, entry));
                    }
                }
            }
        }
        if spec.is_write() {
            rt.facts.scripts.cores[rt.id]
                .wrote
                .store(true, Ordering::Release);
        }
        let mut shard = rt.shard.borrow_mut();
        shard.observe.caller = self.caller;
        Ok(shard.execute(spec, self.db, &args, self.now))
    }
}

/// Runs a script holding every shard (global mode; see the module doc).
async fn run_global(conn: &mut Connection, run: ScriptRun) -> Reply {
    let rt = conn.rt.clone();
    let client = conn.client.clone();
    conn.drain().await;
    let tx = rt.new_tx_id();
    for shard in 0..rt.nshards {
        let seq = rt.submit(shard, &client, Op::LockAll { tx });
        client.inbox.wait_all().await;
        // A MISCONF grant still holds the lock; the script's writes are refused one by one.
        let _ = client.inbox.take(seq);
    }
    client.inbox.reset();
    let mut holding = Holding::begin(&rt, client.id);
    let reply = holding.script(&run);
    holding.end(&client, tx).await;
    reply
}

/// Commands and scripts run by a core that holds every shard's whole-keyspace lock (a global
/// script, or EXEC of a queue with a script in it): each call runs on its keys' owner, in place
/// or on the owner's thread while this one waits (see the module doc), and each shard holds
/// its records back until [`Holding::end`].
pub struct Holding<'a> {
    host: GlobalHost<'a>,
}

impl<'a> Holding<'a> {
    /// Starts holding back this shard's records; the caller holds every shard's lock under one
    /// transaction id.
    pub fn begin(rt: &'a Rc<Runtime>, caller: u64) -> Holding<'a> {
        rt.shard.borrow_mut().begin_capture();
        Holding {
            host: GlobalHost {
                rt,
                db: 0,
                caller,
                written: BTreeSet::new(),
                scripting: false,
            },
        }
    }

    /// Runs one command as a script's `redis.call` would, in database `db`.
    pub fn command(&mut self, spec: &'static CommandSpec, db: usize, args: Vec<Bytes>) -> Reply {
        self.host.db = db;
        self.host
            .call(spec, args)
            .unwrap_or_else(|Stop| Reply::error_static(KILLED))
    }

    /// Runs a script; its reply (an error reply when it failed or was killed).
    pub fn script(&mut self, run: &ScriptRun) -> Reply {
        let rt = self.host.rt;
        self.host.db = run.db;
        let shared = &rt.facts.scripts;
        shared.begin(rt.id, now_ms(), true);
        self.host.scripting = true;
        let outcome = with_engine(rt, |engine| engine.run(&run.run(), &mut self.host));
        self.host.scripting = false;
        shared.end(rt.id);
        match outcome {
            Ok(Outcome::Reply(reply)) | Err(reply) => reply,
            Ok(Outcome::Stopped) => Reply::error_static(KILLED),
        }
    }

    /// Ends the run: every shard appends its held-back records as one part of transaction `tx`
    /// and releases its lock; then the clients blocked on what was written are served
    /// (`Op::ScriptEnd`).
    pub async fn end(self, client: &Client, tx: TxId) {
        let rt = self.host.rt;
        let written = self.host.written;
        let participants = written.len() as u16;
        for shard in 0..rt.nshards {
            let wrote = written.contains(&shard);
            rt.submit(
                shard,
                client,
                Op::ScriptEnd {
                    tx,
                    participants,
                    wrote,
                },
            );
        }
        client.inbox.wait_all().await;
        client.inbox.reset();
    }
}

struct GlobalHost<'a> {
    rt: &'a Rc<Runtime>,
    db: usize,
    caller: u64,
    /// Shards that ran a write of the script (the participants of its binlog transaction).
    written: BTreeSet<usize>,
    /// Whether the calls are a script's (MONITOR shows them as `lua`), not EXEC's.
    scripting: bool,
}

impl GlobalHost<'_> {
    /// Runs `call` on `shard`: in place here, else on its thread while this one waits.
    fn on(&self, shard: usize, call: ScriptCall) -> Response {
        if shard == self.rt.id {
            self.rt.shard.borrow_mut().observe.caller = self.caller;
            return handle_call(self.rt, call);
        }
        let (sender, receiver) = crossbeam_channel::bounded(1);
        let request = Request {
            reply_to: ReplyTo {
                shard: self.rt.id,
                conn: self.caller,
                seq: 0,
            },
            op: Op::ScriptCall {
                call,
                reply: sender,
            },
        };
        let posted = ADDRESSES.with(|cell| match cell.get().and_then(|a| a.get(shard)) {
            Some(address) => {
                address.post(Mail::Requests(vec![request]));
                true
            }
            None => false,
        });
        let lost = || Response::Reply(Reply::error_static("ERR script call lost"));
        if !posted {
            return lost();
        }
        receiver.recv().unwrap_or_else(|_| lost())
    }

    /// A command whose keys span shards: gather, run the handler, write back what changed.
    fn gather(&mut self, spec: &'static CommandSpec, args: &[Bytes]) -> Reply {
        let Some(handler) = spec.handler else {
            return Reply::error_static(NOT_ALLOWED);
        };
        let db = self.db;
        let mut keys_by_shard: BTreeMap<usize, Vec<Bytes>> = BTreeMap::new();
        for position in spec.key_positions(args) {
            let keys = keys_by_shard
                .entry(self.rt.shard_of_key(&args[position]))
                .or_default();
            if !keys.contains(&args[position]) {
                keys.push(args[position].clone());
            }
        }
        let now = now_ms();
        let mut scratch = Keyspace::new(self.rt.config().databases);
        let mut originals = Vec::new();
        for (shard, keys) in &keys_by_shard {
            let call = ScriptCall::GetEntries {
                db,
                keys: keys.clone(),
            };
            let Response::Entries(entries) = self.on(*shard, call) else {
                return Reply::error_static("ERR script call lost");
            };
            for (key, entry) in keys.iter().zip(entries) {
                if let Some(entry) = &entry {
                    scratch.db(db).insert(key.clone(), entry.clone());
                }
                originals.push((*shard, key.clone(), entry));
            }
        }
        let limits = self.rt.shard.borrow().limits.clone();
        let mut ctx = ExecContext {
            keyspace: &mut scratch,
            db_index: db,
            now_ms: now,
            limits: &limits,
            propagate: None,
        };
        let reply = handler(&mut ctx, args);
        if !spec.is_write() {
            return reply;
        }
        let mut changes: BTreeMap<usize, Vec<(Bytes, Option<Entry>)>> = BTreeMap::new();
        for (shard, key, original) in originals {
            let outcome = scratch.db(db).remove(&key, now);
            if outcome != original {
                changes.entry(shard).or_default().push((key, outcome));
            }
        }
        for (shard, entries) in changes {
            self.written.insert(shard);
            if let error @ Reply::Error(_) = self
                .on(shard, ScriptCall::PutEntries { db, entries })
                .into_reply()
            {
                return error;
            }
        }
        reply
    }
}

impl Host for GlobalHost<'_> {
    fn call(&mut self, spec: &'static CommandSpec, args: Vec<Bytes>) -> Result<Reply, Stop> {
        let rt = self.rt;
        if self.scripting {
            if let Some(line) = observe::script_line(rt, self.db, spec, &args) {
                observe::send_script_lines(rt, self.caller, vec![line]);
            }
        }
        if let Some(kind) = publish_kind(spec) {
            // Delivered on every core now, as Redis delivers a script's messages at once.
            let mut receivers = 0;
            for shard in 0..rt.nshards {
                let call = ScriptCall::Publish {
                    kind,
                    channel: args[1].clone(),
                    message: args[2].clone(),
                };
                match self.on(shard, call) {
                    Response::Count(count) => receivers += count,
                    other => return Ok(other.into_reply()),
                }
            }
            return Ok(Reply::Integer(receivers as i64));
        }
        if let Some(reply) = connection_command(rt, spec, &args, &mut self.db) {
            return Ok(reply);
        }
        if spec.is_write() {
            rt.facts.scripts.cores[rt.id]
                .wrote
                .store(true, Ordering::Release);
        }
        let db = self.db;
        if spec.routing == Routing::AllShards {
            if spec.handler.is_none() {
                return Ok(Reply::error_static(NOT_ALLOWED));
            }
            let mut replies = Vec::with_capacity(rt.nshards);
            for shard in 0..rt.nshards {
                if spec.is_write() {
                    self.written.insert(shard);
                }
                let call = ScriptCall::Execute {
                    spec,
                    db,
                    args: args.clone(),
                };
                replies.push(self.on(shard, call).into_reply());
            }
            return Ok(super::coordinator::combine(spec.name, replies));
        }
        let shards: BTreeSet<usize> = spec
            .key_positions(&args)
            .map(|i| rt.shard_of_key(&args[i]))
            .collect();
        if shards.len() > 1 {
            return Ok(self.gather(spec, &args));
        }
        let shard = shards.first().copied().unwrap_or(rt.id);
        if spec.is_write() {
            self.written.insert(shard);
        }
        Ok(self
            .on(shard, ScriptCall::Execute { spec, db, args })
            .into_reply())
    }
}

/// Runs one step of a global script on this shard, holding its records back until the end.
pub fn handle_call(rt: &Runtime, call: ScriptCall) -> Response {
    let now = now_ms();
    let capture = || {
        let mut shard = rt.shard.borrow_mut();
        shard.begin_capture();
        shard
    };
    match call {
        ScriptCall::Execute { spec, db, args } => {
            Response::Reply(capture().execute(spec, db, &args, now))
        }
        ScriptCall::GetEntries { db, keys } => {
            Response::Entries(capture().get_entries(db, &keys, now))
        }
        ScriptCall::PutEntries { db, entries } => Response::Reply(
            capture()
                .put_entries(db, entries, now, TxTag::default())
                .err()
                .unwrap_or_else(Reply::ok),
        ),
        ScriptCall::Publish {
            kind,
            channel,
            message,
        } => Response::Count(super::pubsub::deliver(rt, kind, &channel, &message)),
    }
}

/// The end of a global script on this shard: its records go to the binlog as one part of `tx`.
pub fn end_here(rt: &Runtime, tx: TxId, participants: u16, wrote: bool) {
    let tag = if wrote && participants > 1 {
        TxTag {
            id: tx,
            participants,
        }
    } else {
        TxTag::default()
    };
    rt.shard.borrow_mut().commit_capture(tag);
}

/// `-BUSY` for a command that would run on a shard whose script has run past
/// `busy-reply-threshold` (see the module doc); `None` to go on.
pub fn busy_refusal(rt: &Runtime, spec: &CommandSpec, args: &[Bytes]) -> Option<Reply> {
    let shared = &rt.facts.scripts;
    if shared.running.load(Ordering::Acquire) == 0 {
        return None;
    }
    let exempt = match spec.name {
        "script" => args.get(1).is_some_and(|a| eq_ignore_case(a, "kill")),
        "shutdown" => args.iter().any(|a| eq_ignore_case(a, "nosave")),
        _ => false,
    };
    if exempt {
        return None;
    }
    let (now, limit) = (now_ms(), rt.config().busy_reply_threshold);
    let busy = |shard: usize| shared.busy(shard, now, limit);
    let refused = match spec.routing {
        Routing::AllShards => (0..rt.nshards).any(busy),
        Routing::Connection if spec.name.starts_with("eval") => {
            busy(rt.id)
                || spec
                    .key_positions(args)
                    .any(|i| busy(rt.shard_of_key(&args[i])))
        }
        Routing::Connection => false,
        _ => {
            let mut positions = spec.key_positions(args).peekable();
            if positions.peek().is_none() {
                busy(rt.id)
            } else {
                positions.any(|i| busy(rt.shard_of_key(&args[i])))
            }
        }
    };
    refused.then(|| Reply::error_static(BUSY))
}

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP.
pub fn script_command(rt: &Runtime, args: &[Bytes]) -> Reply {
    let shared = &rt.facts.scripts;
    let sub = String::from_utf8_lossy(&args[1]).to_ascii_lowercase();
    let arity = |ok: bool| {
        (!ok).then(|| {
            Reply::error(format!(
                "ERR wrong number of arguments for 'script|{sub}' command"
            ))
        })
    };
    match sub.as_str() {
        "load" => {
            if let Some(reply) = arity(args.len() == 3) {
                return reply;
            }
            let sha = crate::script::sha1_hex(&args[2]);
            if let Err(reply) = with_engine(rt, |e| e.compile(&sha, &args[2])).and_then(|r| r) {
                return reply;
            }
            shared.store(args[2].clone());
            Reply::Bulk(Bytes::from(sha))
        }
        "exists" => {
            if let Some(reply) = arity(args.len() >= 3) {
                return reply;
            }
            Reply::Array(
                args[2..]
                    .iter()
                    .map(|sha| Reply::Integer(shared.exists(sha) as i64))
                    .collect(),
            )
        }
        "flush" => {
            if let Some(reply) = arity(args.len() <= 3) {
                return reply;
            }
            if let Some(mode) = args.get(2) {
                if !eq_ignore_case(mode, "sync") && !eq_ignore_case(mode, "async") {
                    return Reply::error_static("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
                }
            }
            shared.flush();
            Reply::ok()
        }
        "kill" => {
            if let Some(reply) = arity(args.len() == 2) {
                return reply;
            }
            let running: Vec<_> = shared
                .cores
                .iter()
                .filter(|core| core.running_since.load(Ordering::Acquire) != 0)
                .collect();
            if running.is_empty() {
                return Reply::error_static("NOTBUSY No scripts in execution right now.");
            }
            if running
                .iter()
                .any(|core| core.wrote.load(Ordering::Acquire))
            {
                return Reply::error_static(
                    "UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.",
                );
            }
            for core in running {
                core.kill.store(true, Ordering::Release);
            }
            Reply::ok()
        }
        "help" => Reply::Array(
            [
                "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
                "EXISTS <sha1> [<sha1> ...]",
                "    Return information about the existence of the scripts in the script cache.",
                "FLUSH [ASYNC|SYNC]",
                "    Flush the Lua scripts cache. Very dangerous on replicas.",
                "KILL",
                "    Kill the currently executing Lua script.",
                "LOAD <script>",
                "    Load a script into the scripts cache without executing it.",
                "HELP",
                "    Print this help.",
            ]
            .iter()
            .map(|line| Reply::Status(Bytes::from_static(line.as_bytes())))
            .collect(),
        ),
        _ => Reply::error(format!(
            "ERR unknown subcommand '{}'. Try SCRIPT HELP.",
            String::from_utf8_lossy(&args[1])
        )),
    }
}
