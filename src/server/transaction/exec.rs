//! EXEC: runs a queued transaction atomically and isolated, whichever shards its keys live on.
//!
//! # How
//!
//! 1. **Plan.** Walk the queue once, following SELECTs, to know each command's database and where
//!    it runs: on the connection (PING, ECHO, SELECT, TIME, ...: they touch no key), on one shard
//!    (every key there: the common case, and always with one thread), split over shards (MGET,
//!    MSET, DEL, ... whose parts each touch only their own shard), over every shard (FLUSHALL,
//!    KEYS, DBSIZE, ...), or gathered (a multi-key command such as SMOVE or RENAME whose keys span
//!    shards and whose result depends on all of them).
//! 2. **Lock** the keys of every command and every watched key on their owning shards, shards in
//!    ascending order (`shard::locks`, the same protocol as every cross-shard command, so no
//!    deadlock); with a command over every shard, the whole-keyspace lock of every shard instead.
//!    A shard that refuses writes (MISCONF) aborts a transaction that writes, before anything ran.
//! 3. **Check the watches** on their shards while the locks are held: if one changed, unlock and
//!    answer a null array. Nothing can touch a locked key between this check and step 4.
//! 4. **Run.** Without a gathered command, each shard gets one message (`Op::TxExec`) with its
//!    share of the queue in order: the one-shard commands it owns, its part of each split command,
//!    its part of each command over every shard. That equals running the queue in order, because
//!    what each command reads and writes on a shard depends only on that shard's earlier commands.
//!    Each shard runs its share back to back through `Shard::execute` and releases its locks; its
//!    records reach the binlog in one write, tagged with the transaction id and the number of
//!    shards that write (`binlog` module doc), so recovery after a crash keeps all of the
//!    transaction or none of it. With a gathered command (and no command over every shard), the
//!    path of `coordinator::gather` is taken for the whole queue: fetch a copy of every key
//!    involved, run every handler in order over a scratch keyspace, and send each shard its
//!    changed entries in one message (`Op::TxStore`), which stores them and releases the locks.
//!    With a script (EVAL, EVALSHA, EVAL_RO, EVALSHA_RO) in the queue, whose keys are not known
//!    before it runs, step 2 takes every shard's whole-keyspace lock instead, and the queue runs
//!    in order from this core the way a script holding every shard runs its calls
//!    (`script::Holding`): each command on its keys' owner, each script with its calls on any
//!    shard. Each shard's records reach the binlog as one part of the transaction when it ends,
//!    and only then are the clients blocked on what it wrote served, as Redis serves them after
//!    EXEC.
//! 5. **Connection commands** run last, in queue order, on the connection (their replies take
//!    their places in the array): they touch no key, so running them after the keyed ones changes
//!    nothing a client can see, and SELECT's effect on the queue was already followed in step 1.
//!
//! Locks are all taken before any is released (two-phase locking), so no client sees a
//! transaction half applied: a reader that needs a key of a running transaction waits for it.
//!
//! # Limits
//!
//! - A gathered command together with a command over every shard in one transaction is refused
//!   (`-ERR`), rather than run without atomicity.
//! - SCAN inside a transaction runs in step 5, after the keyed commands and without their locks
//!   (SCAN promises no point-in-time view anyway).
//! - On the gathered path commands are not counted in INFO commandstats and keyspace hits.
//! - A queue with a script in it holds every shard whole while it runs, as a script whose keys
//!   span shards does: other clients' commands wait for it on every shard.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;

use crate::command::keys::parse_db_index;
use crate::command::{self, CommandSpec, ExecContext, Routing};
use crate::keyspace::{Entry, Keyspace};
use crate::protocol::reply::Reply;
use crate::shard::locks::{LockKey, TxId};
use crate::shard::transaction::BatchItem;
use crate::shard::watch::{self, Touch};

use super::super::connection::Connection;
use super::super::coordinator::{
    self, combine, combine_parts, complete_key_groups, lock_in_order, split, unlock_all, wait,
    Part, FAN_OUT,
};
use super::super::router::{Op, Response};
use super::super::runtime::{now_ms, Client, Runtime};
use super::super::{commands, observe, script};
use super::Watched;

/// Where one queued command runs (see the module doc).
enum Step {
    Connection,
    Refused(Reply),
    Shard(usize),
    Split(BTreeMap<usize, Part>),
    Gathered,
    Everywhere,
    /// EVAL, EVALSHA, EVAL_RO, EVALSHA_RO.
    Script,
}

struct Planned {
    spec: &'static CommandSpec,
    db: usize,
    args: Vec<Bytes>,
    /// Every key the command reads or writes, with its database (filled by [`plan_locks`]).
    keys: Vec<LockKey>,
    step: Step,
}

#[derive(Default)]
struct Plan {
    commands: Vec<Planned>,
    /// Keys to lock on each shard (the commands' and the watched ones), filled by
    /// [`plan_locks`] for the general path only: [`run_in_place`] needs none.
    locks: BTreeMap<usize, BTreeSet<LockKey>>,
    /// The first command over every shard, if any.
    everywhere: Option<&'static str>,
    /// The first gathered command, if any.
    gathered: Option<&'static str>,
    /// Whether the queue holds a script.
    scripts: bool,
    writes: bool,
}

/// Runs the queued `commands` if none of `watched` changed (see the module doc).
pub(super) async fn run(
    conn: &mut Connection,
    commands: Vec<(&'static CommandSpec, Vec<Bytes>)>,
    watched: &[Watched],
) -> Reply {
    conn.drain().await;
    let mut plan = plan(conn, commands);
    if let (Some(gathered), Some(everywhere), false) =
        (plan.gathered, plan.everywhere, plan.scripts)
    {
        return Reply::error(format!(
            "ERR shardis cannot run {} across shards and {} in one transaction",
            gathered.to_uppercase(),
            everywhere.to_uppercase()
        ));
    }
    let (rt, client) = (conn.rt.clone(), conn.client.clone());
    if let Some(replies) = run_in_place(conn, &plan, watched) {
        return finish(conn, plan, replies).await;
    }
    plan_locks(&rt, &mut plan, watched);
    let tx = rt.new_tx_id();
    let shards: Vec<usize> = if plan.everywhere.is_some() || plan.scripts {
        (0..rt.nshards).collect()
    } else {
        plan.locks.keys().copied().collect()
    };
    if let Some(refusal) = lock(&rt, &client, tx, &plan).await.filter(|_| plan.writes) {
        unlock_all(&rt, &client, tx, shards.into_iter()).await;
        client.inbox.reset();
        let text = match refusal {
            Reply::Error(text) => String::from_utf8_lossy(&text).into_owned(),
            _ => String::new(),
        };
        return Reply::error(format!(
            "EXECABORT Transaction discarded because of: {text}"
        ));
    }
    if !watches_intact(&rt, &client, watched).await {
        unlock_all(&rt, &client, tx, shards.into_iter()).await;
        client.inbox.reset();
        return Reply::NullArray;
    }
    let outcome = if plan.scripts {
        Ok(run_holding(conn, tx, &plan).await)
    } else if plan.gathered.is_some() {
        feed_monitors(conn, &plan);
        run_gathered(&rt, &client, tx, &plan).await
    } else {
        feed_monitors(conn, &plan);
        Ok(run_batches(&rt, &client, tx, &plan, &shards).await)
    };
    client.inbox.reset();
    match outcome {
        Ok(replies) => finish(conn, plan, Ok(replies)).await,
        Err(error) => error,
    }
}

/// Step 5, and the reply: the connection commands in queue order, then EXEC's array (or, from
/// [`run_in_place`], its abort).
async fn finish(
    conn: &mut Connection,
    plan: Plan,
    replies: Result<Vec<Option<Reply>>, Reply>,
) -> Reply {
    let mut replies = match replies {
        Ok(replies) => replies,
        Err(abort) => return abort,
    };
    for (planned, slot) in plan.commands.into_iter().zip(replies.iter_mut()) {
        if slot.is_none() {
            *slot = Some(run_on_connection(conn, planned.spec, planned.args).await);
        }
    }
    Reply::Array(
        replies
            .into_iter()
            .map(|r| r.unwrap_or_else(Reply::ok))
            .collect(),
    )
}

/// Steps 2 to 4 without messages, when every key of the queue and every watched key lives on
/// this core and no cross-shard transaction holds a lock here (always so with one thread): the
/// commands run back to back in place, which nothing on this core can interleave with, so the
/// transaction is atomic and isolated without locks. `None` when the general path is needed.
fn run_in_place(
    conn: &Connection,
    plan: &Plan,
    watched: &[Watched],
) -> Option<Result<Vec<Option<Reply>>, Reply>> {
    let rt = &conn.rt;
    let local = plan.everywhere.is_none()
        && plan.gathered.is_none()
        && watched.iter().all(|w| w.shard == rt.id)
        && plan.commands.iter().all(|planned| match planned.step {
            Step::Connection | Step::Refused(_) => true,
            Step::Shard(shard) => shard == rt.id,
            _ => false,
        });
    if !local {
        return None;
    }
    let now = now_ms();
    let mut shard = rt.shard.borrow_mut();
    if !shard.locks_idle() {
        return None;
    }
    if plan.writes {
        if let Reply::Error(text) = shard.grant_reply() {
            let text = String::from_utf8_lossy(&text).into_owned();
            return Some(Err(Reply::error(format!(
                "EXECABORT Transaction discarded because of: {text}"
            ))));
        }
    }
    if !watched.is_empty() {
        let stamps: Vec<_> = watched
            .iter()
            .map(|w| (w.key.clone(), w.stamp.clone()))
            .collect();
        if !shard.check_watches(&stamps, now) {
            return Some(Err(Reply::NullArray));
        }
    }
    feed_monitors(conn, plan);
    shard.observe.caller = conn.client.id;
    let before = shard.binlog_position();
    let replies = plan
        .commands
        .iter()
        .map(|planned| match &planned.step {
            Step::Shard(_) => {
                Some(shard.execute_in(planned.spec, planned.db, &planned.args, now, None))
            }
            Step::Refused(reply) => Some(reply.clone()),
            _ => None,
        })
        .collect();
    let after = shard.binlog_position();
    drop(shard);
    // Clients blocked on what the transaction wrote are served before the next command runs.
    rt.serve_blocked();
    if after > before {
        let ack = &conn.client.ack_position;
        ack.set(ack.get().max(after));
    }
    Some(Ok(replies))
}

/// Step 1: each command's database and where it runs. Its keys' owners are found without
/// copying the keys; what to lock waits for [`plan_locks`], which only the general path needs.
fn plan(conn: &Connection, commands: Vec<(&'static CommandSpec, Vec<Bytes>)>) -> Plan {
    let rt = &conn.rt;
    let databases = rt.config().databases;
    let mut plan = Plan {
        commands: Vec::with_capacity(commands.len()),
        ..Plan::default()
    };
    let mut db = conn.db;
    for (spec, args) in commands {
        let this_db = db;
        if spec.name == "select" {
            if let Ok(index) = parse_db_index(&args[1], databases) {
                db = index;
            }
        }
        plan.writes |= spec.is_write();
        let step = match spec.routing {
            Routing::Connection if script::is_script(spec) => {
                plan.scripts = true;
                Step::Script
            }
            Routing::Connection => Step::Connection,
            Routing::AllShards if spec.handler.is_none() => Step::Connection,
            Routing::AllShards => {
                plan.everywhere.get_or_insert(spec.name);
                Step::Everywhere
            }
            Routing::SingleKey | Routing::MultiKey => {
                // The owning shard when there is one, and whether there are several. MOVE's
                // and COPY's key in the other database (see `keys_of`) has the same owner.
                let (mut owner, mut several) = (None, false);
                for position in spec.key_positions(&args) {
                    let shard = rt.shard_of_key(&args[position]);
                    several |= owner.is_some_and(|first| first != shard);
                    owner.get_or_insert(shard);
                }
                match (owner, several) {
                    (None, _) => Step::Shard(rt.id),
                    (Some(shard), false) => Step::Shard(shard),
                    _ if !complete_key_groups(spec, args.len()) => {
                        Step::Refused(command::arity_error(&args[0]))
                    }
                    _ if FAN_OUT.contains(&spec.name) => {
                        Step::Split(split(rt, this_db, spec, &args))
                    }
                    _ => {
                        plan.gathered.get_or_insert(spec.name);
                        Step::Gathered
                    }
                }
            }
        };
        plan.commands.push(Planned {
            spec,
            db: this_db,
            args,
            keys: Vec::new(),
            step,
        });
    }
    plan
}

/// Step 2's input: every keyed command's keys, and the watched keys, by owning shard (a keyed
/// command without keys locks nothing, but this shard takes part).
fn plan_locks(rt: &Runtime, plan: &mut Plan, watched: &[Watched]) {
    let databases = rt.config().databases;
    for watched in watched {
        plan.locks
            .entry(watched.shard)
            .or_default()
            .insert(watched.key.clone());
    }
    for planned in &mut plan.commands {
        if !matches!(planned.spec.routing, Routing::SingleKey | Routing::MultiKey) {
            continue;
        }
        planned.keys = keys_of(planned.spec, planned.db, &planned.args, databases);
        if planned.keys.is_empty() {
            plan.locks.entry(rt.id).or_default();
        }
        for key in &planned.keys {
            let shard = rt.shard_of_key(&key.1);
            plan.locks.entry(shard).or_default().insert(key.clone());
        }
    }
}

/// A keyed command's keys with their database, MOVE's and COPY's key in the other one included.
fn keys_of(spec: &CommandSpec, db: usize, args: &[Bytes], databases: usize) -> Vec<LockKey> {
    let mut keys: Vec<LockKey> = spec
        .key_positions(args)
        .map(|position| (db as u16, args[position].clone()))
        .collect();
    if let Touch::Keys(extra) = watch::touched_by(spec, db, args, databases) {
        keys.extend(extra);
    }
    keys
}

/// Step 2: every shard's keys in ascending shard order, or every shard's whole keyspace. Returns
/// the first refusal (MISCONF), if any.
async fn lock(rt: &Runtime, client: &Client, tx: TxId, plan: &Plan) -> Option<Reply> {
    if plan.everywhere.is_none() && !plan.scripts {
        let locks = plan
            .locks
            .iter()
            .map(|(shard, keys)| (*shard, keys.iter().cloned().collect()))
            .collect();
        return lock_in_order(rt, client, tx, locks).await;
    }
    let mut refusal = None;
    for shard in 0..rt.nshards {
        let seq = rt.submit(shard, client, Op::LockAll { tx });
        wait(client).await;
        if let error @ Reply::Error(_) = client.inbox.take(seq).into_reply() {
            refusal.get_or_insert(error);
        }
    }
    refusal
}

/// Step 3: whether every watched key is as it was at WATCH, asked of each shard in parallel.
async fn watches_intact(rt: &Runtime, client: &Client, watched: &[Watched]) -> bool {
    if watched.is_empty() {
        return true;
    }
    let mut by_shard: BTreeMap<usize, Vec<_>> = BTreeMap::new();
    for w in watched {
        by_shard
            .entry(w.shard)
            .or_default()
            .push((w.key.clone(), w.stamp.clone()));
    }
    let seqs: Vec<u32> = by_shard
        .into_iter()
        .map(|(shard, watched)| rt.submit(shard, client, Op::WatchCheck { watched }))
        .collect();
    wait(client).await;
    seqs.into_iter()
        .map(|seq| client.inbox.take(seq).into_reply())
        .all(|reply| reply == Reply::Integer(1))
}

/// Step 4 without a gathered command: each locked shard runs its share of the queue in one
/// message and releases its locks. `None` marks the commands left for the connection.
async fn run_batches(
    rt: &Runtime,
    client: &Client,
    tx: TxId,
    plan: &Plan,
    shards: &[usize],
) -> Vec<Option<Reply>> {
    let mut replies: Vec<Option<Reply>> = vec![None; plan.commands.len()];
    let mut items: BTreeMap<usize, Vec<(usize, BatchItem)>> =
        shards.iter().map(|shard| (*shard, Vec::new())).collect();
    let mut push = |shard: usize, index: usize, planned: &Planned, args: Vec<Bytes>| {
        let item = BatchItem {
            spec: planned.spec,
            db: planned.db,
            args,
        };
        items.entry(shard).or_default().push((index, item));
    };
    for (index, planned) in plan.commands.iter().enumerate() {
        match &planned.step {
            Step::Connection => {}
            Step::Refused(reply) => replies[index] = Some(reply.clone()),
            Step::Shard(shard) => push(*shard, index, planned, planned.args.clone()),
            Step::Split(parts) => {
                for (shard, part) in parts {
                    push(*shard, index, planned, part.args.clone());
                }
            }
            Step::Everywhere => {
                for shard in shards {
                    push(*shard, index, planned, planned.args.clone());
                }
            }
            Step::Gathered | Step::Script => {
                replies[index] = Some(Reply::error_static("ERR internal: not a batch step"))
            }
        }
    }
    let participants = items
        .values()
        .filter(|items| items.iter().any(|(_, item)| item.spec.is_write()))
        .count() as u16;
    let mut sent = Vec::with_capacity(items.len());
    for (shard, items) in items {
        let (indices, items): (Vec<usize>, Vec<BatchItem>) = items.into_iter().unzip();
        let op = Op::TxExec {
            tx,
            participants,
            items,
        };
        sent.push((shard, indices, rt.submit(shard, client, op)));
    }
    wait(client).await;

    // Each command's replies from its shards, in ascending shard order.
    let mut parts: Vec<Vec<Reply>> = vec![Vec::new(); plan.commands.len()];
    for (_, indices, seq) in sent {
        let batch = match client.inbox.take(seq).into_reply() {
            Reply::Array(batch) => batch,
            other => vec![other; indices.len()],
        };
        for (index, reply) in indices.into_iter().zip(batch) {
            parts[index].push(reply);
        }
    }
    for ((planned, part), slot) in plan.commands.iter().zip(parts).zip(replies.iter_mut()) {
        *slot = match &planned.step {
            Step::Shard(_) => part.into_iter().next(),
            Step::Split(split_parts) => {
                let key_count = planned.spec.key_positions(&planned.args).count();
                let combined = part
                    .into_iter()
                    .zip(split_parts.values())
                    .map(|(reply, p)| (reply, p.key_indices.clone()));
                Some(combine_parts(planned.spec.name, key_count, combined))
            }
            Step::Everywhere => Some(combine(planned.spec.name, part)),
            _ => slot.take(),
        };
    }
    replies
}

/// Step 4 with a gathered command: the whole queue runs over copies of its keys' entries on this
/// core, and each shard stores its changed entries in one message (see `coordinator::gather`).
async fn run_gathered(
    rt: &Runtime,
    client: &Client,
    tx: TxId,
    plan: &Plan,
) -> Result<Vec<Option<Reply>>, Reply> {
    let mut wanted: BTreeMap<(usize, usize), Vec<Bytes>> = BTreeMap::new();
    for planned in &plan.commands {
        for (db, key) in &planned.keys {
            let keys = wanted
                .entry((rt.shard_of_key(key), *db as usize))
                .or_default();
            if !keys.contains(key) {
                keys.push(key.clone());
            }
        }
    }
    let fetches: Vec<(usize, usize, u32)> = wanted
        .iter()
        .map(|(&(shard, db), keys)| {
            let op = Op::TxGetEntries {
                tx,
                db,
                keys: keys.clone(),
            };
            (shard, db, rt.submit(shard, client, op))
        })
        .collect();
    wait(client).await;

    let now_ms = now_ms();
    let mut scratch = Keyspace::new(rt.config().databases);
    let mut originals: Vec<(usize, usize, Bytes, Option<Entry>)> = Vec::new();
    for (shard, db, seq) in fetches {
        let Response::Entries(entries) = client.inbox.take(seq) else {
            continue;
        };
        for (key, entry) in wanted[&(shard, db)].iter().zip(entries) {
            if let Some(entry) = &entry {
                scratch.db(db).insert(key.clone(), entry.clone());
            }
            originals.push((shard, db, key.clone(), entry));
        }
    }

    let limits = rt.shard.borrow().limits.clone();
    let mut replies = Vec::with_capacity(plan.commands.len());
    for planned in &plan.commands {
        replies.push(match (&planned.step, planned.spec.handler) {
            (Step::Connection, _) => None,
            (Step::Refused(reply), _) => Some(reply.clone()),
            (_, None) => Some(command::unknown_command_error(&planned.args)),
            (_, Some(handler)) => {
                let mut ctx = ExecContext {
                    keyspace: &mut scratch,
                    db_index: planned.db,
                    now_ms,
                    limits: &limits,
                    propagate: None,
                };
                Some(handler(&mut ctx, &planned.args))
            }
        });
    }

    let mut changes: BTreeMap<usize, Vec<(usize, Bytes, Option<Entry>)>> = BTreeMap::new();
    for (shard, db, key, original) in originals {
        let outcome = scratch.db(db).remove(&key, now_ms);
        if outcome != original {
            changes.entry(shard).or_default().push((db, key, outcome));
        }
    }
    let participants = changes.len() as u16;
    let mut stores = Vec::new();
    for shard in plan.locks.keys() {
        match changes.remove(shard) {
            Some(entries) => {
                let op = Op::TxStore {
                    tx,
                    participants,
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
    for seq in stores {
        if let error @ Reply::Error(_) = client.inbox.take(seq).into_reply() {
            return Err(error);
        }
    }
    Ok(replies)
}

/// Step 4 with a script in the queue: every shard is held whole (step 2), and the queue runs in
/// order from this core as a global script's calls do (`script::Holding`: each command on its
/// keys' owner, a command over several shards gathered there, each script with its calls
/// anywhere). Each shard's records reach the binlog as one part of the transaction, and the
/// clients blocked on what it wrote are served, when it ends.
async fn run_holding(conn: &Connection, tx: TxId, plan: &Plan) -> Vec<Option<Reply>> {
    let (rt, client) = (&conn.rt, &conn.client);
    let mut holding = script::Holding::begin(rt, client.id);
    let replies = plan
        .commands
        .iter()
        .map(|planned| {
            observe::feed_monitors(rt, client, planned.db, planned.spec, &planned.args);
            match &planned.step {
                // In order with the scripts: SCRIPT LOAD or FLUSH before EVALSHA matters.
                Step::Connection if planned.spec.name == "script" => {
                    Some(script::script_command(rt, &planned.args))
                }
                Step::Connection => None,
                Step::Refused(reply) => Some(reply.clone()),
                Step::Script => Some(
                    match script::prepare(rt, planned.spec, &planned.args, planned.db) {
                        Ok(run) => holding.script(&run),
                        Err(reply) => reply,
                    },
                ),
                _ => Some(holding.command(planned.spec, planned.db, planned.args.clone())),
            }
        })
        .collect();
    holding.end(client, tx).await;
    replies
}

/// MONITOR's lines for the queued commands, in queue order, once they are sure to run (Redis 7
/// shows them when EXEC runs them, between MULTI and EXEC, and not at all when EXEC aborts).
fn feed_monitors(conn: &Connection, plan: &Plan) {
    for planned in &plan.commands {
        observe::feed_monitors(
            &conn.rt,
            &conn.client,
            planned.db,
            planned.spec,
            &planned.args,
        );
    }
}

/// Step 5: a command that runs on the connection (boxed: `commands::run` leads back to EXEC).
fn run_on_connection<'a>(
    conn: &'a mut Connection,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
) -> Pin<Box<dyn Future<Output = Reply> + 'a>> {
    Box::pin(async move {
        if spec.routing == Routing::AllShards {
            let (rt, client) = (conn.rt.clone(), conn.client.clone());
            return coordinator::run_everywhere(&rt, &client, conn.db, spec, args).await;
        }
        commands::run(conn, spec, args)
            .await
            .unwrap_or_else(Reply::ok)
    })
}
