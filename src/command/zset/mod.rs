//! Sorted-set commands, Redis's `t_zset.c`. The structure itself is `keyspace::zset`.
//!
//! - `mod.rs` (here): the command table, shared lookups, and the member commands: ZADD, ZINCRBY,
//!   ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK, ZREVRANK, ZPOPMIN, ZPOPMAX, ZRANDMEMBER, ZSCAN.
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
//!
//! Logging: ZADD INCR and ZINCRBY are to be logged as their effect, the resulting score, so that
//! a replay never re-does float arithmetic; [`logged_effect`] gives that form for the binlog.
//! Every other sorted-set write is deterministic given the keyspace and can be logged as sent.

mod range;
mod store;

#[cfg(test)]
mod tests;

use bytes::Bytes;

use super::util::{eq_ignore_case, integer_arg, parse_f64, syntax_error, wrongtype_error};
use super::{arity_error, CommandSpec, ExecContext, Routing};
use crate::keyspace::zset::ZSet;
use crate::keyspace::{Entry, Value};
use crate::protocol::reply::Reply;
use crate::protocol::scored::{PairShape, ScoredList};

pub const ERR_NOT_FLOAT: &str = "ERR value is not a valid float";
const ERR_NAN: &str = "ERR resulting score is not a number (NaN)";
const ERR_XX_NX: &str = "ERR XX and NX options at the same time are not compatible";
const ERR_GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
const ERR_INCR_PAIR: &str = "ERR INCR option supports a single increment-element pair";
const ERR_POSITIVE: &str = "ERR value is out of range, must be positive";

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
        handler: Some(zadd),
        summary: "Adds one or more members to a sorted set, or updates their scores. Creates the key if it doesn't exist.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zincrby",
        arity: 4,
        flags: &["write", "denyoom", "fast"],
        handler: Some(zincrby),
        summary: "Increments the score of a member in a sorted set.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrem",
        arity: -3,
        flags: &["write", "fast"],
        handler: Some(zrem),
        summary: "Removes one or more members from a sorted set. Deletes the sorted set if all members were removed.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zcard",
        arity: 2,
        flags: &["readonly", "fast"],
        handler: Some(zcard),
        summary: "Returns the number of members in a sorted set.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zscore",
        arity: 3,
        flags: &["readonly", "fast"],
        handler: Some(zscore),
        summary: "Returns the score of a member in a sorted set.",
        since: "1.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zmscore",
        arity: -3,
        flags: &["readonly", "fast"],
        handler: Some(zmscore),
        summary: "Returns the score of one or more members in a sorted set.",
        since: "6.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrank",
        arity: -3,
        flags: &["readonly", "fast"],
        handler: Some(zrank),
        summary: "Returns the index of a member in a sorted set ordered by ascending scores.",
        since: "2.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrevrank",
        arity: -3,
        flags: &["readonly", "fast"],
        handler: Some(zrevrank),
        summary: "Returns the index of a member in a sorted set ordered by descending scores.",
        since: "2.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zpopmin",
        arity: -2,
        flags: &["write", "fast"],
        handler: Some(zpopmin),
        summary: "Returns the lowest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        since: "5.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zpopmax",
        arity: -2,
        flags: &["write", "fast"],
        handler: Some(zpopmax),
        summary: "Returns the highest-scoring members from a sorted set after removing them. Deletes the sorted set if the last member was popped.",
        since: "5.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zrandmember",
        arity: -2,
        flags: &["readonly"],
        handler: Some(zrandmember),
        summary: "Returns one or more random members from a sorted set.",
        since: "6.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "zscan",
        arity: -3,
        flags: &["readonly"],
        handler: Some(zscan),
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

/// How a sorted-set write that ran and answered `reply` is to be logged.
#[derive(Debug, Clone, PartialEq)]
pub enum LoggedEffect {
    /// Log the command as the client sent it (if it wrote anything).
    AsSent,
    /// Log this command instead: `ZADD key score member` for ZINCRBY and ZADD ... INCR.
    Rewritten(Vec<Bytes>),
    /// Nothing changed (an INCR that NX, XX, GT or LT skipped, or an error): log nothing.
    Nothing,
}

/// The binlog form of a sorted-set command (see [`LoggedEffect`]).
pub fn logged_effect(args: &[Bytes], reply: &Reply) -> LoggedEffect {
    let incr = eq_ignore_case(&args[0], "zincrby")
        || (eq_ignore_case(&args[0], "zadd")
            && args[2..].iter().any(|arg| eq_ignore_case(arg, "incr")));
    if !incr {
        return LoggedEffect::AsSent;
    }
    match (reply, args.last()) {
        (Reply::Double(score), Some(member)) => LoggedEffect::Rewritten(vec![
            Bytes::from_static(b"ZADD"),
            args[1].clone(),
            Bytes::from(crate::protocol::reply::format_double(*score)),
            member.clone(),
        ]),
        _ => LoggedEffect::Nothing,
    }
}

/// A handler body's result: the reply, or an error reply to send instead.
type Outcome = Result<Reply, Reply>;

fn answer(outcome: Outcome) -> Reply {
    outcome.unwrap_or_else(|error| error)
}

/// The sorted set under `key` for reading, counting a keyspace hit or miss: `None` when the key
/// is missing, WRONGTYPE when it holds another type.
fn read<'a>(ctx: &'a mut ExecContext<'_>, key: &[u8]) -> Result<Option<&'a ZSet>, Reply> {
    match ctx.keyspace.lookup_read(ctx.db_index, key, ctx.now_ms) {
        None => Ok(None),
        Some(Entry {
            value: Value::ZSet(set),
            ..
        }) => Ok(Some(set)),
        Some(_) => Err(wrongtype_error()),
    }
}

/// The sorted set under `key` for writing (no hit/miss counted, as Redis's `lookupKeyWrite`).
fn write<'a>(ctx: &'a mut ExecContext<'_>, key: &[u8]) -> Result<Option<&'a mut ZSet>, Reply> {
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
fn delete_if_empty(ctx: &mut ExecContext<'_>, key: &[u8]) {
    let now_ms = ctx.now_ms;
    let db = ctx.db();
    if matches!(db.get(key, now_ms), Some(Entry { value: Value::ZSet(set), .. }) if set.is_empty())
    {
        db.remove(key, now_ms);
    }
}

/// Stores `set` under `key` (replacing any value and deadline), or deletes `key` when `set` is
/// empty: what the STORE commands do with their result.
fn store_set(ctx: &mut ExecContext<'_>, key: &[u8], set: ZSet) {
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

/// A score argument (ZADD, ZINCRBY): Redis's "not a valid float" when it is not one.
fn score_arg(arg: &[u8]) -> Result<f64, Reply> {
    parse_f64(arg).ok_or_else(|| Reply::error_static(ERR_NOT_FLOAT))
}

// ---- ZADD, ZINCRBY ---------------------------------------------------------------------------

/// ZADD's options (`zaddGenericCommand`).
#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

fn zadd(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(zadd_generic(ctx, args, false))
}

fn zincrby(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(zadd_generic(ctx, args, true))
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ..., and ZINCRBY key increment member (which
/// Redis runs through the same code with INCR set).
fn zadd_generic(ctx: &mut ExecContext<'_>, args: &[Bytes], incr: bool) -> Outcome {
    let mut flags = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut first = 2;
    while let Some(arg) = args.get(first) {
        let flag = if eq_ignore_case(arg, "nx") {
            &mut flags.nx
        } else if eq_ignore_case(arg, "xx") {
            &mut flags.xx
        } else if eq_ignore_case(arg, "gt") {
            &mut flags.gt
        } else if eq_ignore_case(arg, "lt") {
            &mut flags.lt
        } else if eq_ignore_case(arg, "ch") {
            &mut flags.ch
        } else if eq_ignore_case(arg, "incr") {
            &mut flags.incr
        } else {
            break;
        };
        *flag = true;
        first += 1;
    }
    let elements = &args[first..];
    if elements.is_empty() || !elements.len().is_multiple_of(2) {
        return Err(syntax_error());
    }
    if flags.nx && flags.xx {
        return Err(Reply::error_static(ERR_XX_NX));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(Reply::error_static(ERR_GT_LT_NX));
    }
    if flags.incr && elements.len() > 2 {
        return Err(Reply::error_static(ERR_INCR_PAIR));
    }
    let pairs = elements
        .chunks(2)
        .map(|pair| Ok((score_arg(&pair[0])?, &pair[1])))
        .collect::<Result<Vec<_>, Reply>>()?;

    let key = &args[1];
    let limits = ctx.limits.zset;
    if write(ctx, key)?.is_none() {
        if flags.xx {
            return Ok(if flags.incr {
                Reply::Null
            } else {
                Reply::Integer(0)
            });
        }
        store_placeholder(ctx, key);
    }
    let set = write(ctx, key)?.expect("present: found or just created");
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last_score = 0.0;
    let mut failure = None;
    for (score, member) in pairs {
        let mut score = score;
        match set.score(member) {
            Some(current) => {
                if flags.nx {
                    continue;
                }
                if flags.incr {
                    score += current;
                    if score.is_nan() {
                        failure = Some(Reply::error_static(ERR_NAN));
                        break;
                    }
                }
                if (flags.lt && score >= current) || (flags.gt && score <= current) {
                    continue;
                }
                last_score = score;
                processed += 1;
                if score != current {
                    set.insert(member, score, &limits);
                    updated += 1;
                }
            }
            None if !flags.xx => {
                set.insert(member, score, &limits);
                last_score = score;
                added += 1;
                processed += 1;
            }
            None => {}
        }
    }
    // A new key that nothing was added to (NX/GT/LT skipped every member can't happen on a new
    // key, but an XX-free INCR that failed could): never leave it empty.
    delete_if_empty(ctx, key);
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(if flags.incr {
        if processed > 0 {
            Reply::Double(last_score)
        } else {
            Reply::Null
        }
    } else if flags.ch {
        Reply::Integer(added + updated)
    } else {
        Reply::Integer(added)
    })
}

/// Creates an empty sorted set under `key` for ZADD to fill (removed again if left empty).
fn store_placeholder(ctx: &mut ExecContext<'_>, key: &[u8]) {
    ctx.db().insert(
        Bytes::copy_from_slice(key),
        Entry {
            value: Value::ZSet(ZSet::new()),
            expire_at: 0,
        },
    );
}

// ---- ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK ----------------------------------------------------

fn zrem(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let Some(set) = write(ctx, &args[1])? else {
            return Ok(Reply::Integer(0));
        };
        let removed = args[2..]
            .iter()
            .filter(|member| set.remove(member).is_some())
            .count();
        delete_if_empty(ctx, &args[1]);
        Ok(Reply::Integer(removed as i64))
    })())
}

fn zcard(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(read(ctx, &args[1]).map(|set| Reply::Integer(set.map_or(0, |set| set.len() as i64))))
}

fn zscore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(read(ctx, &args[1]).map(|set| {
        set.and_then(|set| set.score(&args[2]))
            .map_or(Reply::Null, Reply::Double)
    }))
}

fn zmscore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(read(ctx, &args[1]).map(|set| {
        Reply::Array(
            args[2..]
                .iter()
                .map(|member| {
                    set.and_then(|set| set.score(member))
                        .map_or(Reply::Null, Reply::Double)
                })
                .collect(),
        )
    }))
}

fn zrank(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(rank_generic(ctx, args, false))
}

fn zrevrank(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(rank_generic(ctx, args, true))
}

/// Z[REV]RANK key member [WITHSCORE].
fn rank_generic(ctx: &mut ExecContext<'_>, args: &[Bytes], reverse: bool) -> Outcome {
    if args.len() > 4 {
        return Err(arity_error(&args[0]));
    }
    let with_score = match args.get(3) {
        Some(arg) if eq_ignore_case(arg, "withscore") => true,
        Some(_) => return Err(syntax_error()),
        None => false,
    };
    let missing = if with_score {
        Reply::NullArray
    } else {
        Reply::Null
    };
    let Some(set) = read(ctx, &args[1])? else {
        return Ok(missing);
    };
    let Some(rank) = set.rank(&args[2]) else {
        return Ok(missing);
    };
    let rank = if reverse { set.len() - 1 - rank } else { rank };
    Ok(if with_score {
        let score = set.score(&args[2]).unwrap_or(0.0);
        Reply::Array(vec![Reply::Integer(rank as i64), Reply::Double(score)])
    } else {
        Reply::Integer(rank as i64)
    })
}

// ---- ZPOPMIN, ZPOPMAX ------------------------------------------------------------------------

fn zpopmin(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(zpop_command(ctx, args, false))
}

fn zpopmax(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(zpop_command(ctx, args, true))
}

/// ZPOPMIN/ZPOPMAX key [count]. Without a count the reply is one flat pair in both protocols;
/// with one, pairs nested in RESP3 (Redis's `genericZpopCommand`).
fn zpop_command(ctx: &mut ExecContext<'_>, args: &[Bytes], max: bool) -> Outcome {
    if args.len() > 3 {
        return Err(syntax_error());
    }
    let (count, shape) = match args.get(2) {
        Some(arg) => {
            let count = integer_arg(arg)?;
            if count < 0 {
                return Err(Reply::error_static(ERR_POSITIVE));
            }
            (count as usize, PairShape::NestedInResp3)
        }
        None => (1, PairShape::Flat),
    };
    let popped = pop(ctx, &args[1], count, max, shape)?;
    Ok(Reply::Scored(Box::new(
        popped.unwrap_or_else(|| ScoredList::new(true, shape)),
    )))
}

/// Removes up to `count` members from the low (or high, `max`) end of the set under `key`;
/// `None` when there is no such key. Shared with ZMPOP.
fn pop(
    ctx: &mut ExecContext<'_>,
    key: &[u8],
    count: usize,
    max: bool,
    shape: PairShape,
) -> Result<Option<ScoredList>, Reply> {
    let Some(set) = write(ctx, key)? else {
        return Ok(None);
    };
    let take = count.min(set.len());
    let mut list = ScoredList::new(true, shape);
    let (start, end) = if max {
        (set.len() - take, set.len())
    } else {
        (0, take)
    };
    set.range(start, end, max, |member, score| list.push(member, score));
    set.remove_ranks(start, end);
    delete_if_empty(ctx, key);
    Ok(Some(list))
}

// ---- ZRANDMEMBER -----------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]] (`zrandmemberCommand`): a positive count gives distinct
/// members, a negative one allows repeats.
fn zrandmember(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let Some(count_arg) = args.get(2) else {
            let Some(set) = read(ctx, &args[1])? else {
                return Ok(Reply::Null);
            };
            let rank = fastrand::usize(..set.len());
            return Ok(set
                .get(rank)
                .map_or(Reply::Null, |(member, _)| Reply::bulk_from_slice(member)));
        };
        let count = integer_arg(count_arg)?;
        if count == i64::MIN {
            return Err(Reply::error(format!(
                "ERR value is out of range, must be between {} and {}",
                -i64::MAX,
                i64::MAX
            )));
        }
        let with_scores = match args.len() {
            3 => false,
            4 if eq_ignore_case(&args[3], "withscores") => true,
            _ => return Err(syntax_error()),
        };
        if with_scores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
            return Err(Reply::error_static("ERR value is out of range"));
        }
        let mut list = ScoredList::new(with_scores, PairShape::NestedInResp3);
        let Some(set) = read(ctx, &args[1])? else {
            return Ok(Reply::Scored(Box::new(list)));
        };
        let len = set.len();
        let mut push_rank = |rank: usize| {
            if let Some((member, score)) = set.get(rank) {
                list.push(member, score);
            }
        };
        if count < 0 {
            for _ in 0..count.unsigned_abs() {
                push_rank(fastrand::usize(..len));
            }
        } else if count as usize >= len {
            set.range(0, len, false, |member, score| list.push(member, score));
        } else {
            for rank in distinct_ranks(count as usize, len) {
                push_rank(rank);
            }
        }
        Ok(Reply::Scored(Box::new(list)))
    })())
}

/// `count` distinct random ranks below `len` (`count < len`), in random order.
fn distinct_ranks(count: usize, len: usize) -> Vec<usize> {
    if count * 2 > len {
        // Many of them: a partial Fisher-Yates shuffle of every rank.
        let mut ranks: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = fastrand::usize(i..len);
            ranks.swap(i, j);
        }
        ranks.truncate(count);
        ranks
    } else {
        let mut seen = ahash::AHashSet::with_capacity(count);
        let mut ranks = Vec::with_capacity(count);
        while ranks.len() < count {
            let rank = fastrand::usize(..len);
            if seen.insert(rank) {
                ranks.push(rank);
            }
        }
        ranks
    }
}

// ---- ZSCAN -----------------------------------------------------------------------------------

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. Scores come back as bulk strings in both
/// protocols, as in Redis.
fn zscan(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let cursor = std::str::from_utf8(&args[2])
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| Reply::error_static("ERR invalid cursor"))?;
        let options = super::keys::parse_scan_options(args, 3)?;
        if options.type_filter.is_some() {
            return Err(syntax_error());
        }
        let Some(set) = read(ctx, &args[1])? else {
            return Ok(scan_reply(0, Vec::new()));
        };
        let mut items = Vec::new();
        let next = set.scan(cursor, options.count, |member, score| {
            let matches = options
                .pattern
                .as_ref()
                .is_none_or(|pattern| crate::keyspace::glob::glob_match(pattern, member, false));
            if matches {
                items.push(Reply::bulk_from_slice(member));
                items.push(Reply::bulk(crate::protocol::reply::format_double(score)));
            }
        });
        Ok(scan_reply(next, items))
    })())
}

fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(cursor.to_string()), Reply::Array(items)])
}
