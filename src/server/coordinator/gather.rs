//! The general cross-shard path: gather the entries, run the ordinary handler, scatter the changes.
//!
//! A multi-key command with no special-purpose coordination of its own (SMOVE, SINTERSTORE, LMOVE,
//! ZUNIONSTORE, ...) whose keys span shards runs like this, inside one transaction:
//!
//! 1. lock every key on its owning shard, shards in ascending order (as every transaction does);
//! 2. fetch a copy of each key's entry (`TxGetEntries`, one message per shard, in parallel);
//! 3. run the command's own handler, the same function that runs when the keys share a shard,
//!    over a scratch keyspace holding just those entries;
//! 4. for a write command, send each shard the keys whose entries changed (`TxPutEntries`, which
//!    stores or deletes them and releases the locks); every other shard is just unlocked.
//!
//! The locks are held from step 1 to step 4, so no client observes the command half applied, and
//! the handler needs no cross-shard code at all. The price is copying the entries involved (and
//! comparing them afterwards to find what changed), which is why commands whose keys share a shard,
//! or a `{hashtag}`, never come here.

use std::collections::BTreeMap;

use bytes::Bytes;

use crate::command::{CommandSpec, ExecContext};
use crate::keyspace::{Entry, Keyspace};
use crate::protocol::reply::Reply;
use crate::shard::locks::LockKey;

use super::super::router::{Op, Response};
use super::super::runtime::{now_ms, Client, Runtime};
use super::{lock_in_order, wait};

/// Runs `spec`'s handler over the gathered entries of its keys (see the module doc).
pub(super) async fn run(
    rt: &Runtime,
    client: &Client,
    db: usize,
    spec: &'static CommandSpec,
    args: &[Bytes],
) -> Reply {
    let Some(handler) = spec.handler else {
        return Reply::error_static("CROSSSLOT Keys in request don't hash to the same slot");
    };
    // Each shard's distinct keys, shards ascending.
    let mut keys_by_shard: BTreeMap<usize, Vec<Bytes>> = BTreeMap::new();
    for position in spec.key_positions(args) {
        let key = &args[position];
        let keys = keys_by_shard.entry(rt.shard_of_key(key)).or_default();
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    let tx = rt.new_tx_id();
    let locks = keys_by_shard
        .iter()
        .map(|(shard, keys)| {
            let keys: Vec<LockKey> = keys.iter().map(|key| (db as u16, key.clone())).collect();
            (*shard, keys)
        })
        .collect();
    let refusal = lock_in_order(rt, client, tx, locks).await;
    if let Some(refusal) = refusal.filter(|_| spec.is_write()) {
        // A shard refuses writes (MISCONF): the whole command is refused before any part runs.
        for shard in keys_by_shard.keys() {
            rt.submit(*shard, client, Op::Unlock { tx });
        }
        wait(client).await;
        return refusal;
    }

    let fetches: Vec<(usize, u32)> = keys_by_shard
        .iter()
        .map(|(shard, keys)| {
            let op = Op::TxGetEntries {
                tx,
                db,
                keys: keys.clone(),
            };
            (*shard, rt.submit(*shard, client, op))
        })
        .collect();
    wait(client).await;

    let now_ms = now_ms();
    let mut scratch = Keyspace::new(rt.config().databases);
    let mut originals: Vec<(usize, Bytes, Option<Entry>)> = Vec::new();
    for (shard, seq) in fetches {
        let Response::Entries(entries) = client.inbox.take(seq) else {
            continue;
        };
        for (key, entry) in keys_by_shard[&shard].iter().zip(entries) {
            if let Some(entry) = &entry {
                scratch.db(db).insert(key.clone(), entry.clone());
            }
            originals.push((shard, key.clone(), entry));
        }
    }

    let limits = rt.shard.borrow().limits.clone();
    let mut ctx = ExecContext {
        keyspace: &mut scratch,
        db_index: db,
        now_ms,
        limits: &limits,
        propagate: None,
    };
    let reply = handler(&mut ctx, args);

    let mut changes: BTreeMap<usize, Vec<(Bytes, Option<Entry>)>> = BTreeMap::new();
    // Each key's existence before and after, for the keyspace notifications.
    let mut existence: Vec<(Bytes, bool, bool)> = Vec::new();
    if spec.is_write() {
        for (shard, key, original) in originals {
            let outcome = scratch.db(db).remove(&key, now_ms);
            existence.push((key.clone(), original.is_some(), outcome.is_some()));
            if outcome != original {
                changes.entry(shard).or_default().push((key, outcome));
            }
        }
    }
    let changed = !changes.is_empty();
    // Only the shards that store something log a part of the transaction.
    let participants = changes.len() as u16;
    let mut stores = Vec::new();
    for shard in keys_by_shard.keys() {
        match changes.remove(shard) {
            Some(entries) => {
                let op = Op::TxPutEntries {
                    tx,
                    participants,
                    db,
                    entries,
                };
                stores.push(rt.submit(*shard, client, op));
            }
            None => {
                rt.submit(*shard, client, Op::Unlock { tx });
            }
        }
    }
    wait(client).await;
    // A shard whose disk fails refuses its part (MISCONF); say so rather than the reply.
    for seq in stores {
        if let error @ Reply::Error(_) = client.inbox.take(seq).into_reply() {
            return error;
        }
    }
    if changed {
        notify(rt, spec.name, args, db, &existence);
    }
    reply
}

/// The keyspace events the command raises when its keys share a shard (`shard::notify`), queued
/// on this core's shard, which publishes them on every core as it does its own.
fn notify(rt: &Runtime, name: &str, args: &[Bytes], db: usize, existence: &[(Bytes, bool, bool)]) {
    let mut shard = rt.shard.borrow_mut();
    if !shard.notify.is_on() {
        return;
    }
    let state = |key: &[u8]| existence.iter().find(|(k, ..)| k[..] == *key);
    let Some(watch) = shard
        .notify
        .watch_with(name, args, |key| state(key).is_some_and(|s| s.1))
    else {
        return;
    };
    shard
        .notify
        .raise_with(watch, args, db, |key| state(key).is_some_and(|s| s.2));
}
