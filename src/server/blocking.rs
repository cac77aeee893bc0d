//! The connection side of blocking commands (BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN
//! BZPOPMAX BZMPOP); the shard side, where clients wait per key, is `shard::blocking`.
//!
//! A blocking command is a barrier in its connection's pipeline: earlier replies are drained
//! first, and later commands wait until it is answered (Redis does not read a blocked client's
//! further commands either). Then:
//!
//! - **Keys on one shard** (always so with one thread, or with a `{hashtag}`): one `Op::Block` to
//!   the owner, which replies at once when a key has data and otherwise parks the client and
//!   replies when a write makes a key ready (exact FIFO among the clients blocked on a key) or on
//!   the deadline.
//! - **Keys on several shards**: the non-blocking form runs through the coordinator (the gathered
//!   path, which writes the effect back as entries); if it found nothing, the client watches its
//!   keys on every involved shard (`Op::BlockWatch`). The first shard where a key becomes ready
//!   (or the deadline passes) answers; the connection withdraws the other watches, waits for
//!   their answers, and retries through the coordinator until served or timed out. Fairness
//!   among such clients is approximate: a retry can lose the item to another client.
//!
//! While it waits, the connection also watches its socket without reading it: a client that
//! disconnects (or is killed, or the server shuts down) raises its `gone` flag, which every shard
//! checks before serving it, so no item is popped for a client that left; a cancel message then
//! removes it from the waiter lists. The client's `blocked_on` (the shards it waits on) feeds
//! INFO `blocked_clients`, CLIENT LIST's `b` flag and CLIENT UNBLOCK.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;

use crate::command::blocking::{timeout_ms, timeout_reply, wait_kind, would_block};
use crate::command::CommandSpec;
use crate::protocol::reply::Reply;
use crate::shard::blocking::{BlockInfo, Unblock, Wake};

use super::connection::Connection;
use super::coordinator;
use super::router::{Op, Response};
use super::runtime::now_ms;

/// Runs one blocking command for `conn`; `None` when the client went away while blocked (the
/// connection is then ending).
pub(super) async fn run(
    conn: &mut Connection,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
) -> Option<Reply> {
    let timeout = match timeout_ms(spec, &args) {
        Ok(timeout) => timeout,
        Err(error) => return Some(error),
    };
    let deadline = timeout.map_or(0, |ms| now_ms().saturating_add(ms));
    // From here on the inbox holds only this command's slots.
    conn.drain().await;
    let mut shards: Vec<usize> = spec
        .key_positions(&args)
        .map(|i| conn.rt.shard_of_key(&args[i]))
        .collect();
    shards.sort_unstable();
    shards.dedup();
    if shards.len() > 1 {
        return across_shards(conn, spec, args, deadline).await;
    }
    // Malformed arguments (BLMPOP with a bad numkeys) have no keys: the handler replies here.
    let target = shards.first().copied().unwrap_or(conn.rt.id);
    let info = BlockInfo {
        deadline,
        gone: Arc::new(AtomicBool::new(false)),
    };
    let gone = info.gone.clone();
    let op = Op::Block {
        spec,
        db: conn.db,
        args,
        info,
    };
    let seq = conn.rt.submit(target, &conn.client, op);
    if !wait_first(conn, &[target], &gone, 1).await {
        return None;
    }
    let reply = conn.client.inbox.take(seq).into_reply();
    conn.client.inbox.reset();
    Some(reply)
}

/// Waits until fewer than `outstanding` of the inbox's slots are unanswered, the client being
/// marked blocked on `shards` meanwhile. False when the client went away first: its waiters are
/// then withdrawn and the connection ends.
async fn wait_first(
    conn: &mut Connection,
    shards: &[usize],
    gone: &Arc<AtomicBool>,
    outstanding: usize,
) -> bool {
    if conn.client.inbox.outstanding() < outstanding {
        return true;
    }
    conn.client.meta.borrow_mut().blocked_on = shards.to_vec();
    let answered = futures_lite::future::or(
        async {
            conn.client.inbox.wait_below(outstanding).await;
            true
        },
        async {
            conn.socket.closed().await;
            false
        },
    )
    .await;
    conn.client.meta.borrow_mut().blocked_on.clear();
    if !answered {
        gone.store(true, Ordering::Release);
        for &shard in shards {
            conn.rt.send_unblock(shard, conn.client.id, Unblock::Cancel);
        }
        conn.quit = true;
    }
    answered
}

/// A blocking command whose keys span shards (see the module doc).
async fn across_shards(
    conn: &mut Connection,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
    deadline: u64,
) -> Option<Reply> {
    let rt = conn.rt.clone();
    let client = conn.client.clone();
    let kind = wait_kind(spec);
    let mut by_shard: BTreeMap<usize, Vec<Bytes>> = BTreeMap::new();
    for position in spec.key_positions(&args) {
        let key = &args[position];
        let keys = by_shard.entry(rt.shard_of_key(key)).or_default();
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    let mut first = true;
    loop {
        // The first attempt is recorded as the command's call (counters, slow log), as a
        // coordinated command on the connection's core is; the retries are not.
        let running = first.then(|| rt.shard.borrow_mut().observe.begin(spec));
        let reply = coordinator::run(&rt, &client, conn.db, spec, args.clone()).await;
        if let Some(running) = running {
            conn.record(running, &args, &reply);
            first = false;
        }
        if !would_block(&reply) {
            return Some(reply);
        }
        if deadline != 0 && now_ms() >= deadline {
            return Some(timeout_reply());
        }
        let gone = Arc::new(AtomicBool::new(false));
        let watches: Vec<(usize, u32)> = by_shard
            .iter()
            .map(|(&shard, keys)| {
                let op = Op::BlockWatch {
                    db: conn.db,
                    keys: keys.clone(),
                    kind,
                    info: BlockInfo {
                        deadline,
                        gone: gone.clone(),
                    },
                };
                (shard, rt.submit(shard, &client, op))
            })
            .collect();
        let shards: Vec<usize> = watches.iter().map(|(shard, _)| *shard).collect();
        if !wait_first(conn, &shards, &gone, watches.len()).await {
            return None;
        }
        // Withdraw the other watches; each shard answers its watch exactly once (woken,
        // timed out, or cancelled), so waiting for all of them leaves nothing in flight.
        for (shard, seq) in &watches {
            if !client.inbox.is_filled(*seq) {
                rt.send_unblock(*shard, client.id, Unblock::Cancel);
            }
        }
        client.inbox.wait_all().await;
        let wakes: Vec<Wake> = watches
            .iter()
            .map(|(_, seq)| match client.inbox.take(*seq) {
                Response::Woken(wake) => wake,
                _ => Wake::Cancelled,
            })
            .collect();
        client.inbox.reset();
        let unblocked = wakes.iter().find_map(|wake| match wake {
            Wake::Unblocked { error } => Some(*error),
            _ => None,
        });
        match unblocked {
            Some(true) => return Some(unblocked_error()),
            Some(false) => return Some(timeout_reply()),
            None => {}
        }
        if !wakes.contains(&Wake::Ready) && wakes.contains(&Wake::Timeout) {
            return Some(timeout_reply());
        }
    }
}

fn unblocked_error() -> Reply {
    Reply::error_static("UNBLOCKED client unblocked via CLIENT UNBLOCK")
}
