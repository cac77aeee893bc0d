//! Set commands, Redis's `t_set.c`: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP
//! SRANDMEMBER SMOVE SINTER SUNION SDIFF SINTERSTORE SUNIONSTORE SDIFFSTORE SINTERCARD SSCAN.
//!
//! Replies and error texts are Redis 7's. The value lives in `keyspace::set` (intset, listpack or
//! table at Redis's thresholds). Multi-key commands run with all their keys local: on one shard
//! directly, across shards inside the coordinator's gathered scratch keyspace. A missing key is
//! an empty set; any key of another type is WRONGTYPE, even when another key is missing.
//!
//! SPOP picks its victims first and then removes exactly those ([`pop_members`]), so the binlog
//! can log the removal (SREM of those members) instead of the random command.

use ahash::RandomState;
use bytes::Bytes;
use indexmap::IndexSet;

use super::collection::{
    check_type, keys_after_numkeys, or_reply, positive_arg, random_indices, range_arg, read,
    remove_if_empty, scan_args, scan_matches, store, write, write_or_create,
};
use super::util::{self, eq_ignore_case};
use super::{CommandSpec, ExecContext, Routing};
use crate::keyspace::set::Set;
use crate::keyspace::EncodingLimits;
use crate::protocol::reply::Reply;

const SET: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &[],
    first_key: 1,
    last_key: 1,
    step: 1,
    key_finder: None,
    routing: Routing::SingleKey,
    handler: None,
    group: "set",
    summary: "",
    since: "",
};

/// Arity, flags and key positions as Redis 7's `COMMAND INFO` reports them (SINTERCARD's keys
/// follow its numkeys argument: `key_finder`).
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "sadd",
        arity: -3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(sadd),
        summary: "Adds one or more members to a set. Creates the key if it doesn't exist.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "srem",
        arity: -3,
        flags: &["write", "fast"],
        handler: Some(srem),
        summary: "Removes one or more members from a set. Deletes the set if the last member was removed.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "smembers",
        arity: 2,
        flags: &["readonly"],
        handler: Some(smembers),
        summary: "Returns all members of a set.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "sismember",
        arity: 3,
        flags: &["readonly", "fast"],
        handler: Some(sismember),
        summary: "Determines whether a member belongs to a set.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "smismember",
        arity: -3,
        flags: &["readonly", "fast"],
        handler: Some(smismember),
        summary: "Determines whether multiple members belong to a set.",
        since: "6.2.0",
        ..SET
    },
    CommandSpec {
        name: "scard",
        arity: 2,
        flags: &["readonly", "fast"],
        handler: Some(scard),
        summary: "Returns the number of members in a set.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "spop",
        arity: -2,
        flags: &["write", "fast"],
        handler: Some(spop),
        summary: "Returns one or more random members from a set after removing them. Deletes the set if the last member was popped.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "srandmember",
        arity: -2,
        flags: &["readonly"],
        handler: Some(srandmember),
        summary: "Get one or multiple random members from a set",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "smove",
        arity: 4,
        flags: &["write", "fast"],
        last_key: 2,
        routing: Routing::MultiKey,
        handler: Some(smove),
        summary: "Moves a member from one set to another.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "sinter",
        arity: -2,
        flags: &["readonly"],
        last_key: -1,
        routing: Routing::MultiKey,
        handler: Some(sinter),
        summary: "Returns the intersect of multiple sets.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "sunion",
        arity: -2,
        flags: &["readonly"],
        last_key: -1,
        routing: Routing::MultiKey,
        handler: Some(sunion),
        summary: "Returns the union of multiple sets.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "sdiff",
        arity: -2,
        flags: &["readonly"],
        last_key: -1,
        routing: Routing::MultiKey,
        handler: Some(sdiff),
        summary: "Returns the difference of multiple sets.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "sinterstore",
        arity: -3,
        flags: &["write", "denyoom"],
        last_key: -1,
        routing: Routing::MultiKey,
        handler: Some(sinterstore),
        summary: "Stores the intersect of multiple sets in a key.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "sunionstore",
        arity: -3,
        flags: &["write", "denyoom"],
        last_key: -1,
        routing: Routing::MultiKey,
        handler: Some(sunionstore),
        summary: "Stores the union of multiple sets in a key.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "sdiffstore",
        arity: -3,
        flags: &["write", "denyoom"],
        last_key: -1,
        routing: Routing::MultiKey,
        handler: Some(sdiffstore),
        summary: "Stores the difference of multiple sets in a key.",
        since: "1.0.0",
        ..SET
    },
    CommandSpec {
        name: "sintercard",
        arity: -3,
        flags: &["readonly"],
        first_key: 2,
        last_key: 2,
        key_finder: Some(keys_after_numkeys),
        routing: Routing::MultiKey,
        handler: Some(sintercard),
        summary: "Returns the number of members of the intersect of multiple sets.",
        since: "7.0.0",
        ..SET
    },
    CommandSpec {
        name: "sscan",
        arity: -3,
        flags: &["readonly"],
        handler: Some(sscan),
        summary: "Iterates over members of a set.",
        since: "2.8.0",
        ..SET
    },
];

fn sadd(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let limits = ctx.limits.encoding.clone();
    let members = &args[2..];
    let set = or_reply!(write_or_create(ctx, &args[1], || {
        Set::for_members(&members[0], members.len(), &limits)
    }));
    set.reserve(members.iter().map(|member| &member[..]));
    let added = members
        .iter()
        .filter(|member| set.insert(member, &limits))
        .count();
    set.shrink_to_fit();
    Reply::Integer(added as i64)
}

fn srem(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let Some(set) = or_reply!(write::<Set>(ctx, &args[1])) else {
        return Reply::Integer(0);
    };
    let removed = args[2..].iter().filter(|member| set.remove(member)).count();
    remove_if_empty::<Set>(ctx, &args[1]);
    Reply::Integer(removed as i64)
}

fn set_reply(members: impl IntoIterator<Item = Bytes>) -> Reply {
    Reply::Set(members.into_iter().map(Reply::Bulk).collect())
}

fn smembers(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let set = or_reply!(read::<Set>(ctx, &args[1]));
    set_reply(set.map_or_else(Vec::new, |set| set.iter().collect()))
}

fn sismember(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let set = or_reply!(read::<Set>(ctx, &args[1]));
    Reply::Integer(set.is_some_and(|set| set.contains(&args[2])) as i64)
}

fn smismember(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let set = or_reply!(read::<Set>(ctx, &args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(|member| Reply::Integer(set.is_some_and(|set| set.contains(member)) as i64))
            .collect(),
    )
}

fn scard(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let set = or_reply!(read::<Set>(ctx, &args[1]));
    Reply::Integer(set.map_or(0, Set::len) as i64)
}

/// Picks up to `count` distinct random members of the set under `key`, removes exactly those
/// and returns them (deleting the key when it empties). The returned members are the command's
/// whole effect: what the binlog records for SPOP.
pub fn pop_members(
    ctx: &mut ExecContext<'_>,
    key: &[u8],
    count: usize,
) -> Result<Vec<Bytes>, Reply> {
    let Some(set) = write::<Set>(ctx, key)? else {
        return Ok(Vec::new());
    };
    let victims: Vec<Bytes> = if count >= set.len() {
        set.iter().collect()
    } else {
        random_indices(set.len(), count as i64)
            .into_iter()
            .filter_map(|index| set.member_at(index))
            .collect()
    };
    for member in &victims {
        set.remove(member);
    }
    remove_if_empty::<Set>(ctx, key);
    Ok(victims)
}

/// SPOP key [count].
fn spop(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    match args.len() {
        2 => {
            let popped = or_reply!(pop_members(ctx, &args[1], 1));
            log_as_srem(ctx, &args[1], &popped);
            popped.into_iter().next().map_or(Reply::Null, Reply::Bulk)
        }
        3 => {
            let count = or_reply!(positive_arg(&args[2], None));
            if count == 0 {
                or_reply!(check_type::<Set>(ctx, &args[1]));
                return Reply::Set(Vec::new());
            }
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            let popped = or_reply!(pop_members(ctx, &args[1], count));
            log_as_srem(ctx, &args[1], &popped);
            set_reply(popped)
        }
        _ => util::syntax_error(),
    }
}

/// SPOP picks at random: the binlog records what it removed, as Redis propagates an SREM.
fn log_as_srem(ctx: &mut ExecContext<'_>, key: &Bytes, popped: &[Bytes]) {
    if popped.is_empty() {
        return;
    }
    let mut record = Vec::with_capacity(popped.len() + 2);
    record.push(Bytes::from_static(b"SREM"));
    record.push(key.clone());
    record.extend(popped.iter().cloned());
    ctx.propagate = Some(vec![record]);
}

/// SRANDMEMBER key [count]: as HRANDFIELD, distinct members for a positive count, independent
/// picks for a negative one.
fn srandmember(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    if args.len() > 3 {
        return util::syntax_error();
    }
    let count = match args.get(2) {
        Some(arg) => Some(or_reply!(range_arg(arg, -i64::MAX, i64::MAX, None))),
        None => None,
    };
    let set = or_reply!(read::<Set>(ctx, &args[1]));
    let Some(count) = count else {
        return set
            .and_then(Set::random_member)
            .map_or(Reply::Null, Reply::Bulk);
    };
    let Some(set) = set else {
        return Reply::Array(Vec::new());
    };
    Reply::Array(
        random_indices(set.len(), count)
            .into_iter()
            .filter_map(|index| set.member_at(index))
            .map(Reply::Bulk)
            .collect(),
    )
}

/// SMOVE source destination member, Redis's order of checks: a missing source gives 0 before
/// the types are looked at.
fn smove(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let (source, destination, member) = (&args[1], &args[2], &args[3]);
    let limits = ctx.limits.encoding.clone();
    let now_ms = ctx.now_ms;
    if !ctx.db().contains(source, now_ms) {
        return Reply::Integer(0);
    }
    or_reply!(check_type::<Set>(ctx, source));
    or_reply!(check_type::<Set>(ctx, destination));
    if source == destination {
        let set = or_reply!(read::<Set>(ctx, source));
        return Reply::Integer(set.is_some_and(|set| set.contains(member)) as i64);
    }
    let Some(set) = or_reply!(write::<Set>(ctx, source)) else {
        return Reply::Integer(0);
    };
    if !set.remove(member) {
        return Reply::Integer(0);
    }
    remove_if_empty::<Set>(ctx, source);
    let target = or_reply!(write_or_create(ctx, destination, || {
        Set::for_members(member, 1, &limits)
    }));
    target.insert(member, &limits);
    Reply::Integer(1)
}

/// The sets under `keys` in order, `None` for a missing key; WRONGTYPE if any key holds another
/// type. Copies, because the operations below need them all at once.
fn gather(ctx: &mut ExecContext<'_>, keys: &[Bytes]) -> Result<Vec<Option<Set>>, Reply> {
    keys.iter()
        .map(|key| read::<Set>(ctx, key).map(|set| set.cloned()))
        .collect()
}

type Members = IndexSet<Bytes, RandomState>;

/// Members of every set, stopping after `limit` (0 = no limit).
fn intersection(sets: &[Option<Set>], limit: usize) -> Vec<Bytes> {
    let mut present: Vec<&Set> = Vec::with_capacity(sets.len());
    for set in sets {
        match set {
            Some(set) => present.push(set),
            None => return Vec::new(),
        }
    }
    present.sort_by_key(|set| set.len());
    let Some((smallest, others)) = present.split_first() else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for member in smallest.iter() {
        if others.iter().all(|set| set.contains(&member)) {
            found.push(member);
            if found.len() == limit {
                break;
            }
        }
    }
    found
}

fn union(sets: &[Option<Set>]) -> Vec<Bytes> {
    let mut members = Members::default();
    for set in sets.iter().flatten() {
        members.extend(set.iter());
    }
    members.into_iter().collect()
}

/// Members of the first set in none of the others.
fn difference(sets: &[Option<Set>]) -> Vec<Bytes> {
    let Some(Some(first)) = sets.first() else {
        return Vec::new();
    };
    first
        .iter()
        .filter(|member| sets[1..].iter().flatten().all(|set| !set.contains(member)))
        .collect()
}

fn sinter(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let sets = or_reply!(gather(ctx, &args[1..]));
    set_reply(intersection(&sets, 0))
}

fn sunion(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let sets = or_reply!(gather(ctx, &args[1..]));
    set_reply(union(&sets))
}

fn sdiff(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let sets = or_reply!(gather(ctx, &args[1..]));
    set_reply(difference(&sets))
}

/// Stores `members` as a set under `destination` (deleting it when empty); replies the count.
fn store_members(ctx: &mut ExecContext<'_>, destination: &[u8], members: Vec<Bytes>) -> Reply {
    let limits: EncodingLimits = ctx.limits.encoding.clone();
    let count = members.len();
    let set = Set::from_members(members.iter().map(|m| &m[..]), count, &limits);
    store(ctx, destination, set);
    Reply::Integer(count as i64)
}

fn sinterstore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let sets = or_reply!(gather(ctx, &args[2..]));
    store_members(ctx, &args[1], intersection(&sets, 0))
}

fn sunionstore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let sets = or_reply!(gather(ctx, &args[2..]));
    store_members(ctx, &args[1], union(&sets))
}

fn sdiffstore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let sets = or_reply!(gather(ctx, &args[2..]));
    store_members(ctx, &args[1], difference(&sets))
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit].
fn sintercard(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let numkeys = or_reply!(range_arg(
        &args[1],
        1,
        i64::MAX,
        Some("numkeys should be greater than 0")
    )) as u64;
    if numkeys > (args.len() - 2) as u64 {
        return Reply::error_static("ERR Number of keys can't be greater than number of args");
    }
    let keys_end = 2 + numkeys as usize;
    let mut limit = 0;
    let mut index = keys_end;
    while index < args.len() {
        if eq_ignore_case(&args[index], "limit") && index + 1 < args.len() {
            limit = or_reply!(positive_arg(
                &args[index + 1],
                Some("LIMIT can't be negative")
            ));
            index += 2;
        } else {
            return util::syntax_error();
        }
    }
    let sets = or_reply!(gather(ctx, &args[2..keys_end]));
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    Reply::Integer(intersection(&sets, limit).len() as i64)
}

/// SSCAN key cursor [MATCH pattern] [COUNT count].
fn sscan(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let (cursor, options) = or_reply!(scan_args(args));
    let Some(set) = or_reply!(read::<Set>(ctx, &args[1])) else {
        return Reply::Array(vec![Reply::bulk("0"), Reply::Array(Vec::new())]);
    };
    let (next, members) = set.scan(cursor, options.count);
    let members = members
        .into_iter()
        .filter(|member| scan_matches(&options, member))
        .map(Reply::Bulk)
        .collect();
    Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(members)])
}

#[cfg(test)]
mod tests;
