//! MULTI / EXEC / DISCARD / WATCH / UNWATCH: a connection's transaction state and its commands.
//!
//! While a connection is in MULTI, [`queue`] takes every command before routing: it is checked
//! (unknown command, arity, `no_multi`) and queued with `+QUEUED`; a refusal replies its error and
//! dooms the transaction (EXEC then answers `-EXECABORT`). EXEC, DISCARD, MULTI, WATCH and QUIT
//! run at once, as in Redis. Outside MULTI nothing here is on the path of a command.
//!
//! WATCH registers each key on its owning shard (`shard::watch`) and keeps the stamp it got back
//! (version, and whether the key existed); EXEC, DISCARD, UNWATCH and the connection's end forget
//! them there. EXEC itself is `exec`: how it keeps a transaction atomic and isolated across shards
//! is described there.

mod exec;

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::command::{self, CommandSpec};
use crate::protocol::reply::Reply;
use crate::shard::transaction::WatchStamp;
use crate::shard::watch::WatchKey;

use super::connection::Connection;
use super::coordinator::wait;
use super::observe;
use super::router::{Op, Response};

/// A connection's transaction state: the commands queued since MULTI, and the keys it watches.
#[derive(Default)]
pub struct State {
    multi: Option<Queued>,
    watched: Vec<Watched>,
}

#[derive(Default)]
struct Queued {
    commands: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    /// A command was refused while queueing: EXEC answers EXECABORT.
    aborted: bool,
}

/// One watched key: its shard, and the stamp that shard gave it at WATCH time.
#[derive(Debug, Clone)]
struct Watched {
    shard: usize,
    key: WatchKey,
    stamp: WatchStamp,
}

impl State {
    /// Whether the connection is between MULTI and EXEC/DISCARD.
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    pub fn watching(&self) -> bool {
        !self.watched.is_empty()
    }
}

/// Commands that run at once inside MULTI instead of being queued (Redis's `processCommand`).
const RUN_IN_MULTI: &[&str] = &["exec", "discard", "multi", "watch", "quit", "reset"];

/// Inside MULTI: queues `args` (or refuses it, dooming the transaction) and returns `None`; returns
/// the arguments back when the command must run now (outside MULTI, or EXEC, DISCARD, ...).
pub fn queue(conn: &mut Connection, args: Vec<Bytes>) -> Option<Vec<Bytes>> {
    if !conn.transaction.in_multi() {
        return Some(args);
    }
    let refusal = match command::lookup(&args[0]) {
        None => command::unknown_command_error(&args),
        Some(spec) if !spec.arity_ok(args.len()) => command::arity_error(&args[0]),
        Some(spec) if RUN_IN_MULTI.contains(&spec.name) => return Some(args),
        Some(spec) if spec.flags.contains(&"no_multi") => {
            Reply::error_static("ERR Command not allowed inside a transaction")
        }
        Some(spec) => {
            // MONITOR shows a queued command when EXEC runs it, as Redis 7 does.
            conn.client.meta.borrow_mut().last_command = command::observe::full_name(spec, &args);
            if let Some(queued) = conn.transaction.multi.as_mut() {
                queued.commands.push((spec, args));
                conn.client.meta.borrow_mut().queued = Some(queued.commands.len());
            }
            conn.push_reply(Reply::status("QUEUED"));
            return None;
        }
    };
    if let Some(queued) = conn.transaction.multi.as_mut() {
        queued.aborted = true;
    }
    conn.push_reply(refusal);
    None
}

/// Runs MULTI, EXEC, DISCARD, WATCH or UNWATCH.
pub async fn run(conn: &mut Connection, spec: &'static CommandSpec, args: Vec<Bytes>) -> Reply {
    match spec.name {
        "multi" => {
            if conn.transaction.in_multi() {
                return Reply::error_static("ERR MULTI calls can not be nested");
            }
            conn.transaction.multi = Some(Queued {
                // Room for a typical transaction without growing as it is queued.
                commands: Vec::with_capacity(8),
                aborted: false,
            });
            conn.client.meta.borrow_mut().queued = Some(0);
            Reply::ok()
        }
        "discard" => {
            if conn.transaction.multi.take().is_none() {
                return Reply::error_static("ERR DISCARD without MULTI");
            }
            conn.client.meta.borrow_mut().queued = None;
            forget_watches(conn).await;
            Reply::ok()
        }
        "exec" => {
            let reply = exec(conn).await;
            // After the commands it ran, as Redis 7 shows MULTI ... EXEC in MONITOR.
            observe::feed_monitors(&conn.rt, &conn.client, conn.db, spec, &args);
            reply
        }
        "watch" => {
            if conn.transaction.in_multi() {
                return Reply::error_static("ERR WATCH inside MULTI is not allowed");
            }
            watch(conn, &args[1..]).await;
            Reply::ok()
        }
        "unwatch" => {
            forget_watches(conn).await;
            Reply::ok()
        }
        _ => command::unknown_command_error(&args),
    }
}

/// EXEC: runs the queue (`exec`) unless a queueing error doomed it, and forgets the watches.
async fn exec(conn: &mut Connection) -> Reply {
    let Some(queued) = conn.transaction.multi.take() else {
        return Reply::error_static("ERR EXEC without MULTI");
    };
    conn.client.meta.borrow_mut().queued = None;
    let reply = if queued.aborted {
        Reply::error_static("EXECABORT Transaction discarded because of previous errors.")
    } else {
        let watched = conn.transaction.watched.clone();
        exec::run(conn, queued.commands, &watched).await
    };
    forget_watches(conn).await;
    reply
}

/// RESET: leaves MULTI, dropping the queue, and forgets the watched keys.
pub async fn reset(conn: &mut Connection) {
    conn.transaction.multi = None;
    conn.client.meta.borrow_mut().queued = None;
    forget_watches(conn).await;
}

/// WATCH: registers the keys not yet watched on their shards and keeps their stamps.
async fn watch(conn: &mut Connection, keys: &[Bytes]) {
    conn.drain().await;
    let db = conn.db as u16;
    let mut by_shard: BTreeMap<usize, Vec<WatchKey>> = BTreeMap::new();
    for key in keys {
        let key = (db, key.clone());
        let known = conn.transaction.watched.iter().any(|w| w.key == key)
            || by_shard.values().any(|keys| keys.contains(&key));
        if !known {
            let shard = conn.rt.shard_of_key(&key.1);
            by_shard.entry(shard).or_default().push(key);
        }
    }
    let (rt, client) = (conn.rt.clone(), conn.client.clone());
    let sent: Vec<(usize, Vec<WatchKey>, u32)> = by_shard
        .into_iter()
        .map(|(shard, keys)| {
            let seq = rt.submit(shard, &client, Op::Watch { keys: keys.clone() });
            (shard, keys, seq)
        })
        .collect();
    wait(&client).await;
    for (shard, keys, seq) in sent {
        if let Response::Watched(stamps) = client.inbox.take(seq) {
            for (key, stamp) in keys.into_iter().zip(stamps) {
                conn.transaction.watched.push(Watched { shard, key, stamp });
            }
        }
    }
    client.inbox.reset();
}

/// Forgets every watched key on its shard (EXEC, DISCARD, UNWATCH, the connection's end).
pub async fn forget_watches(conn: &mut Connection) {
    if conn.transaction.watched.is_empty() {
        return;
    }
    conn.drain().await;
    let mut by_shard: BTreeMap<usize, Vec<WatchKey>> = BTreeMap::new();
    for watched in std::mem::take(&mut conn.transaction.watched) {
        by_shard.entry(watched.shard).or_default().push(watched.key);
    }
    for (shard, keys) in by_shard {
        conn.rt.submit(shard, &conn.client, Op::Unwatch { keys });
    }
    wait(&conn.client).await;
    conn.client.inbox.reset();
}
