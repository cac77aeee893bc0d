//! Commands whose keys live on several shards, and commands over every shard.
//!
//! # Atomicity across shards
//!
//! A multi-key command (MSET, MGET, DEL, RENAME, ...) whose keys span shards runs as a small
//! transaction coordinated by the connection's core, using the per-shard intent locks of
//! `shard::locks` (a VLL-style scheme; there is no global lock and single-key commands on other
//! keys never wait):
//!
//! 1. Split the arguments by owning shard. Take exclusive locks on the keys in each shard, one shard
//!    after the other in ascending shard order, waiting for each grant. Ordered acquisition makes
//!    deadlock impossible (see `shard::locks`).
//! 2. Once every lock is granted, run each shard's part with `TxCommand`, which bypasses the locks
//!    this transaction holds and releases them right after. No lock is taken after one is
//!    released (two-phase locking), so all parts take effect as of one instant: no client ever sees
//!    half an MSET, and an MGET sees all of one MSET or none of it.
//!
//! Every involved shard is locked, the highest included. Sending the highest shard's part as an
//! ordinary, unlocked command is not enough: the other parts release their locks as soon as they
//! run, and the highest part, travelling on another core's channel, may run before or after a
//! second transaction that took those locks next — an MGET then sees half of an MSET.
//!
//! A command with keys on two shards therefore costs two lock round trips plus one parallel round
//! trip; on one shard it costs nothing extra (it runs in place like any single-key command).
//!
//! COPY (whose keys may sit in two databases) locks both keys, checks them, then copies the entry
//! across. Every other multi-key command (MSETNX, RENAME, RENAMENX, and the data-type families'
//! SMOVE, SINTERSTORE, ...) takes the general path of [`gather`]: lock, copy the entries to this
//! core, run the command's ordinary handler over them, write back what changed.

mod gather;

use std::collections::BTreeMap;
use std::rc::Rc;

use bytes::Bytes;

use crate::command::keys::{parse_copy_options, parse_scan_options};
use crate::command::{self, CommandSpec};
use crate::config::NotifyFlags;
use crate::protocol::reply::Reply;
use crate::shard::locks::{LockKey, TxId};

use super::router::{Op, Response};
use super::runtime::{Client, Runtime};

/// One shard's share of a multi-key command.
pub(super) struct Part {
    /// The command name followed by this shard's key groups.
    pub(super) args: Vec<Bytes>,
    pub(super) keys: Vec<LockKey>,
    /// Index of each of this part's keys among the command's keys (for MGET's reply order).
    pub(super) key_indices: Vec<usize>,
}

/// Splits a multi-key command's arguments by owning shard (ascending).
pub(super) fn split(
    rt: &Runtime,
    db: usize,
    spec: &CommandSpec,
    args: &[Bytes],
) -> BTreeMap<usize, Part> {
    let step = spec.step.max(1) as usize;
    let mut parts: BTreeMap<usize, Part> = BTreeMap::new();
    for (key_index, position) in spec.key_positions(&args).enumerate() {
        let shard = rt.shard_of_key(&args[position]);
        let part = parts.entry(shard).or_insert_with(|| Part {
            args: vec![args[0].clone()],
            keys: Vec::new(),
            key_indices: Vec::new(),
        });
        let end = (position + step).min(args.len());
        part.args.extend(args[position..end].iter().cloned());
        part.keys.push((db as u16, args[position].clone()));
        part.key_indices.push(key_index);
    }
    parts
}

pub(super) async fn wait(client: &Client) {
    client.inbox.wait_all().await;
}

/// Takes locks for `tx` on each (shard, keys), in the given (ascending) order. A shard whose
/// binlog cannot be written grants with its `-MISCONF` refusal instead of OK; the first such
/// refusal is returned, so that a write refuses as a whole before any shard runs a part of it.
pub(super) async fn lock_in_order(
    rt: &Runtime,
    client: &Client,
    tx: TxId,
    locks: Vec<(usize, Vec<LockKey>)>,
) -> Option<Reply> {
    let mut refusal = None;
    for (shard, keys) in locks {
        let seq = rt.submit(shard, client, Op::Lock { tx, keys });
        wait(client).await;
        if let error @ Reply::Error(_) = client.inbox.take(seq).into_reply() {
            refusal.get_or_insert(error);
        }
    }
    refusal
}

/// Runs a multi-key command whose keys span shards.
pub async fn run(
    rt: &Rc<Runtime>,
    client: &Rc<Client>,
    db: usize,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
) -> Reply {
    // A last key group cut short (MSET k1 v1 k2) is the handler's arity error in Redis, and
    // nothing is written. Split by shard, only the part holding the short group would see it
    // and the other shards would write their parts, so refuse the whole command here.
    if !complete_key_groups(spec, args.len()) {
        return command::arity_error(&args[0]);
    }
    let reply = match spec.name {
        name if FAN_OUT.contains(&name) => fan_out(rt, client, db, spec, &args).await,
        "copy" => copy(rt, client, db, &args).await,
        _ => gather::run(rt, client, db, spec, &args).await,
    };
    client.inbox.reset();
    reply
}

/// The multi-key commands whose parts each shard runs on its own keys, combined by [`fan_out`].
pub(super) const FAN_OUT: &[&str] = &["mget", "mset", "del", "unlink", "exists", "touch"];

/// Whether the arguments after the first key form whole groups of `step` (key and values).
pub(super) fn complete_key_groups(spec: &CommandSpec, argc: usize) -> bool {
    let (first, step) = (spec.first_key.max(1) as usize, spec.step.max(1) as usize);
    spec.last_key != -1 || argc < first || (argc - first).is_multiple_of(step)
}

async fn fan_out(
    rt: &Runtime,
    client: &Client,
    db: usize,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Reply {
    let parts = split(rt, db, spec, args);
    let parts_count = parts.len() as u16;
    let tx = rt.new_tx_id();
    let locks = parts.iter().map(|(s, p)| (*s, p.keys.clone())).collect();
    let refusal = lock_in_order(rt, client, tx, locks).await;
    if let Some(refusal) = refusal.filter(|_| spec.is_write()) {
        unlock_all(rt, client, tx, parts.keys().copied()).await;
        return refusal;
    }

    let mut sent = Vec::with_capacity(parts.len());
    for (shard, part) in parts {
        let op = Op::TxCommand {
            participants: parts_count,
            tx,
            spec,
            db,
            args: part.args,
            unlock: true,
        };
        sent.push((rt.submit(shard, client, op), part.key_indices));
    }
    wait(client).await;

    let key_count = spec.key_positions(&args).count();
    let replies = sent
        .into_iter()
        .map(|(seq, key_indices)| (client.inbox.take(seq).into_reply(), key_indices));
    combine_parts(spec.name, key_count, replies)
}

/// The reply of a [`FAN_OUT`] command from its parts' replies, each with the indices of its keys
/// among the command's `key_count` keys: MGET's values in key order, MSET's OK, the others' sum.
pub(super) fn combine_parts(
    name: &str,
    key_count: usize,
    parts: impl Iterator<Item = (Reply, Vec<usize>)>,
) -> Reply {
    let mut values = if name == "mget" {
        vec![Reply::Null; key_count]
    } else {
        Vec::new()
    };
    let mut total = 0i64;
    for (reply, key_indices) in parts {
        match reply {
            Reply::Array(items) => {
                for (item, index) in items.into_iter().zip(key_indices) {
                    if let Some(slot) = values.get_mut(index) {
                        *slot = item;
                    }
                }
            }
            Reply::Integer(n) => total += n,
            error @ Reply::Error(_) => return error,
            _ => {}
        }
    }
    match name {
        "mget" => Reply::Array(values),
        "mset" => Reply::ok(),
        _ => Reply::Integer(total),
    }
}

/// Locks every part, runs `check` on each (inside the transaction), and returns the replies.
async fn lock_all_and_run(
    rt: &Runtime,
    client: &Client,
    tx: TxId,
    locks: Vec<(usize, Vec<LockKey>)>,
    checks: Vec<(usize, usize, Vec<Bytes>)>,
) -> Result<Vec<Reply>, Reply> {
    let shards: Vec<usize> = locks.iter().map(|(shard, _)| *shard).collect();
    if let Some(refusal) = lock_in_order(rt, client, tx, locks).await {
        unlock_all(rt, client, tx, shards.into_iter()).await;
        return Err(refusal);
    }
    let mut seqs = Vec::new();
    for (shard, db, check_args) in checks {
        let Some(spec) = command::lookup(&check_args[0]) else {
            continue;
        };
        seqs.push(rt.submit(
            shard,
            client,
            Op::TxCommand {
                participants: 0,
                tx,
                spec,
                db,
                args: check_args,
                unlock: false,
            },
        ));
    }
    wait(client).await;
    Ok(seqs
        .into_iter()
        .map(|seq| client.inbox.take(seq).into_reply())
        .collect())
}

pub(super) async fn unlock_all(
    rt: &Runtime,
    client: &Client,
    tx: TxId,
    shards: impl Iterator<Item = usize>,
) {
    for shard in shards {
        rt.submit(shard, client, Op::Unlock { tx });
    }
    wait(client).await;
}

fn exists_args(keys: &[LockKey]) -> Vec<Bytes> {
    let mut args = vec![Bytes::from_static(b"EXISTS")];
    args.extend(keys.iter().map(|(_, key)| key.clone()));
    args
}

fn ordered_locks(a: (usize, LockKey), b: (usize, LockKey)) -> Vec<(usize, Vec<LockKey>)> {
    if a.0 < b.0 {
        vec![(a.0, vec![a.1]), (b.0, vec![b.1])]
    } else {
        vec![(b.0, vec![b.1]), (a.0, vec![a.1])]
    }
}

async fn copy(rt: &Runtime, client: &Client, db: usize, args: &[Bytes]) -> Reply {
    let (dst_db, replace) = match parse_copy_options(args, db, rt.config().databases) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    let (src, dst) = (args[1].clone(), args[2].clone());
    let (src_shard, dst_shard) = (rt.shard_of_key(&src), rt.shard_of_key(&dst));
    let tx = rt.new_tx_id();
    let locks = ordered_locks(
        (src_shard, (db as u16, src.clone())),
        (dst_shard, (dst_db as u16, dst.clone())),
    );
    let checks = vec![
        (src_shard, db, exists_args(&[(db as u16, src.clone())])),
        (
            dst_shard,
            dst_db,
            exists_args(&[(dst_db as u16, dst.clone())]),
        ),
    ];
    let found = match lock_all_and_run(rt, client, tx, locks, checks).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let dst_existed = found.get(1) != Some(&Reply::Integer(0));
    let blocked = !replace && dst_existed;
    if found.first() != Some(&Reply::Integer(1)) || blocked {
        unlock_all(rt, client, tx, [src_shard, dst_shard].into_iter()).await;
        return Reply::Integer(0);
    }
    let seq = rt.submit(
        src_shard,
        client,
        Op::TxGetEntries {
            tx,
            db,
            keys: vec![src],
        },
    );
    wait(client).await;
    let entry = match client.inbox.take(seq) {
        Response::Entries(mut entries) => entries.pop().flatten(),
        _ => None,
    };
    let Some(entry) = entry else {
        unlock_all(rt, client, tx, [src_shard, dst_shard].into_iter()).await;
        return Reply::Integer(0);
    };
    let entries = vec![(dst.clone(), Some(entry))];
    rt.submit(
        dst_shard,
        client,
        Op::TxPutEntries {
            tx,
            participants: 1,
            db: dst_db,
            entries,
        },
    );
    rt.submit(src_shard, client, Op::Unlock { tx });
    wait(client).await;
    // The events COPY raises when its keys share a shard (`shard::notify`), queued on this
    // core's shard, which publishes them on every core.
    let mut shard = rt.shard.borrow_mut();
    if shard.notify.is_on() {
        if !dst_existed {
            shard.notify.notify(NotifyFlags::NEW, "new", &dst, dst_db);
        }
        shard
            .notify
            .notify(NotifyFlags::GENERIC, "copy_to", &dst, dst_db);
    }
    Reply::Integer(1)
}

/// Runs a command on every shard and combines the replies (KEYS, DBSIZE, FLUSHALL, SCAN, ...).
pub async fn run_everywhere(
    rt: &Rc<Runtime>,
    client: &Rc<Client>,
    db: usize,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
) -> Reply {
    let reply = if spec.name == "scan" {
        scan(rt, client, db, &args).await
    } else {
        // Over several shards the command holds every shard's whole-keyspace lock (taken in shard
        // order, like any transaction's) while its parts run, so it never lands between the parts
        // of a cross-shard command: FLUSHALL cannot leave half an MSET, KEYS never lists one.
        let tx = rt.new_tx_id();
        let mut refusal = None;
        if rt.nshards > 1 {
            for shard in 0..rt.nshards {
                let seq = rt.submit(shard, client, Op::LockAll { tx });
                wait(client).await;
                if let error @ Reply::Error(_) = client.inbox.take(seq).into_reply() {
                    refusal.get_or_insert(error);
                }
            }
        }
        if let Some(refusal) = refusal.filter(|_| spec.is_write()) {
            unlock_all(rt, client, tx, 0..rt.nshards).await;
            client.inbox.reset();
            return refusal;
        }
        let seqs: Vec<u32> = (0..rt.nshards)
            .map(|shard| {
                let op = if rt.nshards > 1 {
                    Op::TxCommand {
                        participants: rt.nshards as u16,
                        tx,
                        spec,
                        db,
                        args: args.clone(),
                        unlock: true,
                    }
                } else {
                    Op::Command {
                        spec,
                        db,
                        args: args.clone(),
                    }
                };
                rt.submit(shard, client, op)
            })
            .collect();
        wait(client).await;
        let replies: Vec<Reply> = seqs
            .into_iter()
            .map(|seq| client.inbox.take(seq).into_reply())
            .collect();
        combine(spec.name, replies)
    };
    client.inbox.reset();
    reply
}

pub(super) fn combine(name: &str, replies: Vec<Reply>) -> Reply {
    if let Some(error) = replies.iter().find(|r| r.is_error()) {
        return error.clone();
    }
    match name {
        "keys" => Reply::Array(
            replies
                .into_iter()
                .flat_map(|r| {
                    if let Reply::Array(items) = r {
                        items
                    } else {
                        Vec::new()
                    }
                })
                .collect(),
        ),
        "dbsize" => Reply::Integer(
            replies
                .iter()
                .map(|r| if let Reply::Integer(n) = r { *n } else { 0 })
                .sum(),
        ),
        "randomkey" => {
            let keys: Vec<Reply> = replies
                .into_iter()
                .filter(|r| matches!(r, Reply::Bulk(_)))
                .collect();
            if keys.is_empty() {
                Reply::Null
            } else {
                keys[fastrand::usize(..keys.len())].clone()
            }
        }
        _ => replies.into_iter().next().unwrap_or_else(Reply::ok),
    }
}

/// Bits of a SCAN cursor that hold the shard number; the rest is that shard's own cursor.
const SHARD_BITS: u32 = 10;

async fn scan(rt: &Runtime, client: &Client, db: usize, args: &[Bytes]) -> Reply {
    let Some(mut cursor) = std::str::from_utf8(&args[1])
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    else {
        return Reply::error_static("ERR invalid cursor");
    };
    let options = match parse_scan_options(args, 2) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    let mut keys = Vec::new();
    for _ in 0..rt.nshards {
        let shard = (cursor & ((1 << SHARD_BITS) - 1)) as usize;
        if shard >= rt.nshards {
            cursor = 0;
            break;
        }
        let op = Op::Scan {
            db,
            cursor: cursor >> SHARD_BITS,
            count: options.count,
            pattern: options.pattern.clone(),
            type_filter: options.type_filter.clone(),
        };
        let seq = rt.submit(shard, client, op);
        wait(client).await;
        let Response::Scan(next, found) = client.inbox.take(seq) else {
            return Reply::error_static("ERR internal: bad scan reply");
        };
        keys.extend(found.into_iter().map(Reply::Bulk));
        if next != 0 {
            cursor = (next << SHARD_BITS) | shard as u64;
            break;
        }
        cursor = if shard + 1 >= rt.nshards {
            0
        } else {
            (shard + 1) as u64
        };
        if cursor == 0 || keys.len() >= options.count {
            break;
        }
    }
    Reply::Array(vec![
        Reply::Bulk(Bytes::from(cursor.to_string())),
        Reply::Array(keys),
    ])
}
