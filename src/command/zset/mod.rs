//! Sorted-set commands, Redis's `t_zset.c`. The structure itself is `keyspace::zset`.
//!
//! - `mod.rs` (here): the command table and the lookups every handler shares.
//! - `members.rs`: commands naming their members: ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE,
//!   ZRANK, ZREVRANK (ZADD INCR and ZINCRBY set what the binlog records: their resulting score).
//! - `sample.rs`: commands taking members by position: ZPOPMIN, ZPOPMAX, ZRANDMEMBER, ZSCAN.
//! - `range.rs`: score, lex and rank ranges: the ZRANGE family, ZRANGESTORE, ZCOUNT, ZLEXCOUNT,
//!   ZREMRANGEBY*.
//! - `store.rs`: the multi-key commands: ZUNION, ZINTER, ZDIFF and their STORE forms, ZINTERCARD,
//!   ZMPOP, with the key finders that locate their `numkeys` keys.
//!
//! Contracts every handler keeps, as in the other families:
//! - Replies and error texts are Redis 7's, and errors come in Redis's order: argument syntax
//!   and options first, then the key's type, then values (a NaN produced by ZINCRBY).
//! - Keys and members stored are copied out of `args`. A sorted set left empty is deleted; one is
//!   never stored empty.
//! - Multi-key handlers are written as if every key were local: across shards the server layer
//!   gathers the entries and runs the same handler (see `server::coordinator::gather`).
//! - Scores in replies are doubles (RESP3 `,`; bulk strings in RESP2); member/score lists use
//!   `Reply::Scored`, which shapes them per protocol as Redis does and costs no allocation per
//!   element.

mod members;
mod range;
mod sample;
mod store;

#[cfg(test)]
mod tests;

use bytes::Bytes;

use super::util::wrongtype_error;
use super::{CommandSpec, ExecContext, Routing};
use crate::keyspace::zset::ZSet;
use crate::keyspace::{Entry, Value};
use crate::protocol::reply::Reply;

/// The fields every single-key sorted-set command shares.
const SINGLE_KEY: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &[],
    first_key: 1,
    last_key: 1,
    step: 1,
    key_finder: None,
    routing: Routing::SingleKey,
    handler: None,
    group: "sorted-set",
    summary: "",
    since: "",
};

/// A command whose keys are `numkeys` keys (first/last/step as Redis 7's COMMAND INFO shows).
const NUMKEYS: CommandSpec = CommandSpec {
    first_key: 0,
    last_key: 0,
    step: 0,
    routing: Routing::MultiKey,
    ..SINGLE_KEY
};

/// Arity, flags and key positions as Redis 7's `COMMAND INFO` reports them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "zadd",
        arity: -4,
        flags: &["write", "denyoom", "fast"],
        handler: Some(members::zadd),
        summary: "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zincrby",
        arity: 4,
        flags: &["write", "denyoom", "fast"],
        handler: Some(members::zincrby),
        summary: "Increments the score of a member in a sorted set.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrem",
        arity: -3,
        flags: &["write", "fast"],
        handler: Some(members::zrem),
        summary: "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zcard",
        arity: 2,
        flags: &["readonly", "fast"],
        handler: Some(members::zcard),
        summary: "Returns the number of members in a sorted set.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zscore",
        arity: 3,
        flags: &["readonly", "fast"],
        handler: Some(members::zscore),
        summary: "Returns the score of a member in a sorted set.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zmscore",
        arity: -3,
        flags: &["readonly", "fast"],
        handler: Some(members::zmscore),
        summary: "Returns the score of one or more members in a sorted set.",
        since: "6.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrank",
        arity: -3,
        flags: &["readonly", "fast"],
        handler: Some(members::zrank),
        summary: "Returns the index of a member in a sorted set ordered by ascending scores.",
        since: "2.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrevrank",
        arity: -3,
        flags: &["readonly", "fast"],
        handler: Some(members::zrevrank),
        summary: "Returns the index of a member in a sorted set ordered by descending scores.",
        since: "2.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zpopmin",
        arity: -2,
        flags: &["write", "fast"],
        handler: Some(sample::zpopmin),
        summary: "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        since: "5.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zpopmax",
        arity: -2,
        flags: &["write", "fast"],
        handler: Some(sample::zpopmax),
        summary: "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        since: "5.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrandmember",
        arity: -2,
        flags: &["readonly"],
        handler: Some(sample::zrandmember),
        summary: "Returns one or more random members from a sorted set.",
        since: "6.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zscan",
        arity: -3,
        flags: &["readonly"],
        handler: Some(sample::zscan),
        summary: "Iterates over members and scores of a sorted set.",
        since: "2.8.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrange",
        arity: -4,
        flags: &["readonly"],
        handler: Some(range::zrange),
        summary: "Returns members in a sorted set within a range of indexes.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrangestore",
        arity: -5,
        flags: &["write", "denyoom"],
        last_key: 2,
        routing: Routing::MultiKey,
        handler: Some(range::zrangestore),
        summary: "Stores a range of members from sorted set in a key.",
        since: "6.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrevrange",
        arity: -4,
        flags: &["readonly"],
        handler: Some(range::zrevrange),
        summary: "Returns members in a sorted set within a range of indexes in reverse order.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrangebyscore",
        arity: -4,
        flags: &["readonly"],
        handler: Some(range::zrangebyscore),
        summary: "Returns members in a sorted set within a range of scores.",
        since: "1.0.5",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrevrangebyscore",
        arity: -4,
        flags: &["readonly"],
        handler: Some(range::zrevrangebyscore),
        summary: "Returns members in a sorted set within a range of scores in reverse order.",
        since: "2.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrangebylex",
        arity: -4,
        flags: &["readonly"],
        handler: Some(range::zrangebylex),
        summary: "Returns members in a sorted set within a lexicographical range.",
        since: "2.8.9",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrevrangebylex",
        arity: -4,
        flags: &["readonly"],
        handler: Some(range::zrevrangebylex),
        summary: "Returns members in a sorted set within a lexicographical range in reverse order.",
        since: "2.8.9",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zcount",
        arity: 4,
        flags: &["readonly", "fast"],
        handler: Some(range::zcount),
        summary: "Returns the count of members in a sorted set that have scores within a range.",
        since: "2.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zlexcount",
        arity: 4,
        flags: &["readonly", "fast"],
        handler: Some(range::zlexcount),
        summary: "Returns the number of members in a sorted set within a lexicographical range.",
        since: "2.8.9",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zremrangebyrank",
        arity: 4,
        flags: &["write"],
        handler: Some(range::zremrangebyrank),
        summary: "Removes members in a sorted set within a range of indexes. Deletes the sorted set if all members were removed.",
        since: "2.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zremrangebyscore",
        arity: 4,
        flags: &["write"],
        handler: Some(range::zremrangebyscore),
        summary: "Removes members in a sorted set within a range of scores. Deletes the sorted set if all members were removed.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zremrangebylex",
        arity: 4,
        flags: &["write"],
        handler: Some(range::zremrangebylex),
        summary: "Removes members in a sorted set within a lexicographical range. Deletes the sorted set if all members were removed.",
        since: "2.8.9",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zunionstore",
        arity: -4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: Some(store::destination_and_numkeys),
        handler: Some(store::zunionstore),
        summary: "Stores the union of multiple sorted sets in a key.",
        since: "2.0.0",
        ..NUMKEYS
    },
    CommandSpec {
        name: "zinterstore",
        arity: -4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: Some(store::destination_and_numkeys),
        handler: Some(store::zinterstore),
        summary: "Stores the intersect of multiple sorted sets in a key.",
        since: "2.0.0",
        ..NUMKEYS
    },
    CommandSpec {
        name: "zdiffstore",
        arity: -4,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: Some(store::destination_and_numkeys),
        handler: Some(store::zdiffstore),
        summary: "Stores the difference of multiple sorted sets in a key.",
        since: "6.2.0",
        ..NUMKEYS
    },
    CommandSpec {
        name: "zunion",
        arity: -3,
        flags: &["readonly"],
        key_finder: Some(store::numkeys_first),
        handler: Some(store::zunion),
        summary: "Returns the union of multiple sorted sets.",
        since: "6.2.0",
        ..NUMKEYS
    },
    CommandSpec {
        name: "zinter",
        arity: -3,
        flags: &["readonly"],
        key_finder: Some(store::numkeys_first),
        handler: Some(store::zinter),
        summary: "Returns the intersect of multiple sorted sets.",
        since: "6.2.0",
        ..NUMKEYS
    },
    CommandSpec {
        name: "zdiff",
        arity: -3,
        flags: &["readonly"],
        key_finder: Some(store::numkeys_first),
        handler: Some(store::zdiff),
        summary: "Returns the difference between multiple sorted sets.",
        since: "6.2.0",
        ..NUMKEYS
    },
    CommandSpec {
        name: "zintercard",
        arity: -3,
        flags: &["readonly"],
        key_finder: Some(store::numkeys_first),
        handler: Some(store::zintercard),
        summary: "Returns the number of members of the intersect of multiple sorted sets.",
        since: "7.0.0",
        ..NUMKEYS
    },
    CommandSpec {
        name: "zmpop",
        arity: -4,
        flags: &["write"],
        key_finder: Some(store::numkeys_first),
        handler: Some(store::zmpop),
        summary: "Returns the highest- or lowest-scoring members from one or more sorted sets after removing them. Deletes the sorted set if the last member was popped.",
        since: "7.0.0",
        ..NUMKEYS
    },
];

/// A handler body's result: the reply, or an error reply to send instead.
pub(super) type Outcome = Result<Reply, Reply>;

pub(super) fn answer(outcome: Outcome) -> Reply {
    outcome.unwrap_or_else(|error| error)
}

/// The sorted set under `key` for reading, counting a keyspace hit or miss: `None` when the key
/// is missing, WRONGTYPE when it holds another type.
pub(super) fn read<'a>(
    ctx: &'a mut ExecContext<'_>,
    key: &[u8],
) -> Result<Option<&'a ZSet>, Reply> {
    match ctx.keyspace.lookup_read(ctx.db_index, key, ctx.now_ms) {
        None => Ok(None),
        Some(Entry {
            value: Value::ZSet(set),
            ..
        }) => Ok(Some(set)),
        Some(_) => Err(wrongtype_error()),
    }
}

/// The sorted set under `key` as a store command's source (ZRANGESTORE): like Redis's
/// `lookupKeyWrite` no hit/miss is counted, and unlike [`write`] it is not marked changed (which
/// would copy it for a snapshot in progress and log nothing useful).
pub(super) fn source<'a>(
    ctx: &'a mut ExecContext<'_>,
    key: &[u8],
) -> Result<Option<&'a ZSet>, Reply> {
    let now_ms = ctx.now_ms;
    match ctx.db().get(key, now_ms) {
        None => Ok(None),
        Some(Entry {
            value: Value::ZSet(set),
            ..
        }) => Ok(Some(set)),
        Some(_) => Err(wrongtype_error()),
    }
}

/// The sorted set under `key` for writing (no hit/miss counted, as Redis's `lookupKeyWrite`).
pub(super) fn write<'a>(
    ctx: &'a mut ExecContext<'_>,
    key: &[u8],
) -> Result<Option<&'a mut ZSet>, Reply> {
    let now_ms = ctx.now_ms;
    match ctx.db().get_mut(key, now_ms) {
        None => Ok(None),
        Some(Entry {
            value: Value::ZSet(set),
            ..
        }) => Ok(Some(set)),
        Some(_) => Err(wrongtype_error()),
    }
}

/// Deletes `key` if its sorted set was left empty by a removal.
pub(super) fn delete_if_empty(ctx: &mut ExecContext<'_>, key: &[u8]) {
    let now_ms = ctx.now_ms;
    let db = ctx.db();
    if matches!(db.get(key, now_ms), Some(Entry { value: Value::ZSet(set), .. }) if set.is_empty())
    {
        db.remove(key, now_ms);
    }
}

/// Stores `set` under `key` (replacing any value and deadline), or deletes `key` when `set` is
/// empty: what the STORE commands do with their result.
pub(super) fn store_set(ctx: &mut ExecContext<'_>, key: &[u8], set: ZSet) {
    let now_ms = ctx.now_ms;
    if set.is_empty() {
        ctx.db().remove(key, now_ms);
    } else {
        ctx.db().insert(
            Bytes::copy_from_slice(key),
            Entry {
                value: Value::ZSet(set),
                expire_at: 0,
            },
        );
    }
}
