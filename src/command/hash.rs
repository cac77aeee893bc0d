//! Hash commands, Redis's `t_hash.c`: HSET HSETNX HMSET HGET HMGET HDEL HLEN HSTRLEN HEXISTS
//! HKEYS HVALS HGETALL HINCRBY HINCRBYFLOAT HSCAN HRANDFIELD.
//!
//! Replies and error texts are Redis 7's; arguments are checked before the key's type, as in
//! Redis. The value lives in `keyspace::hash` (listpack or table, Redis's thresholds). Known
//! difference: in RESP3, HRANDFIELD with a negative count and WITHVALUES replies with a flat
//! list of fields and values (RESP2's form) instead of Redis's array of pairs, because handlers
//! do not know the protocol; with a positive count it replies with a map.

use bytes::Bytes;

use super::collection::{
    or_reply, random_indices, range_arg, read, remove_if_empty, scan_args, scan_matches,
    shared_bulks, write, write_or_create,
};
use super::string::format_float_human;
use super::util::{self, integer_arg};
use super::{arity_error, CommandSpec, ExecContext, Routing};
use crate::keyspace::hash::Hash;
use crate::protocol::reply::Reply;

const HASH: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &[],
    first_key: 1,
    last_key: 1,
    step: 1,
    key_finder: None,
    routing: Routing::SingleKey,
    handler: None,
    group: "hash",
    summary: "",
    since: "",
};

/// Arity, flags and key positions as Redis 7's `COMMAND INFO` reports them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "hset",
        arity: -4,
        flags: &["write", "denyoom", "fast"],
        handler: Some(hset),
        summary: "Creates or modifies the value of a field in a hash.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hmset",
        arity: -4,
        flags: &["write", "denyoom", "fast"],
        handler: Some(hset),
        summary: "Sets the values of multiple fields.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hsetnx",
        arity: 4,
        flags: &["write", "denyoom", "fast"],
        handler: Some(hsetnx),
        summary: "Sets the value of a field in a hash only when the field doesn't exist.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hget",
        arity: 3,
        flags: &["readonly", "fast"],
        handler: Some(hget),
        summary: "Returns the value of a field in a hash.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hmget",
        arity: -3,
        flags: &["readonly", "fast"],
        handler: Some(hmget),
        summary: "Returns the values of all fields in a hash.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hdel",
        arity: -3,
        flags: &["write", "fast"],
        handler: Some(hdel),
        summary: "Deletes one or more fields and their values from a hash. Deletes the hash if no fields remain.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hlen",
        arity: 2,
        flags: &["readonly", "fast"],
        handler: Some(hlen),
        summary: "Returns the number of fields in a hash.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hstrlen",
        arity: 3,
        flags: &["readonly", "fast"],
        handler: Some(hstrlen),
        summary: "Returns the length of the value of a field.",
        since: "3.2.0",
        ..HASH
    },
    CommandSpec {
        name: "hexists",
        arity: 3,
        flags: &["readonly", "fast"],
        handler: Some(hexists),
        summary: "Determines whether a field exists in a hash.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hkeys",
        arity: 2,
        flags: &["readonly"],
        handler: Some(hkeys),
        summary: "Returns all fields in a hash.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hvals",
        arity: 2,
        flags: &["readonly"],
        handler: Some(hvals),
        summary: "Returns all values in a hash.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hgetall",
        arity: 2,
        flags: &["readonly"],
        handler: Some(hgetall),
        summary: "Returns all fields and values in a hash.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hincrby",
        arity: 4,
        flags: &["write", "denyoom", "fast"],
        handler: Some(hincrby),
        summary: "Increments the integer value of a field in a hash by a number. Uses 0 as initial value if the field doesn't exist.",
        since: "2.0.0",
        ..HASH
    },
    CommandSpec {
        name: "hincrbyfloat",
        arity: 4,
        flags: &["write", "denyoom", "fast"],
        handler: Some(hincrbyfloat),
        summary: "Increments the floating point value of a field by a number. Uses 0 as initial value if the field doesn't exist.",
        since: "2.6.0",
        ..HASH
    },
    CommandSpec {
        name: "hscan",
        arity: -3,
        flags: &["readonly"],
        handler: Some(hscan),
        summary: "Iterates over fields and values of a hash.",
        since: "2.8.0",
        ..HASH
    },
    CommandSpec {
        name: "hrandfield",
        arity: -2,
        flags: &["readonly"],
        handler: Some(hrandfield),
        summary: "Returns one or more random fields from a hash.",
        since: "6.2.0",
        ..HASH
    },
];

const ERR_HASH_NOT_INTEGER: &str = "ERR hash value is not an integer";
const ERR_HASH_NOT_FLOAT: &str = "ERR hash value is not a float";
const ERR_FLOAT_OVERFLOW: &str = "ERR increment would produce NaN or Infinity";

fn bulk(data: &[u8]) -> Reply {
    Reply::Bulk(Bytes::copy_from_slice(data))
}

/// HSET / HMSET key field value [field value ...]: the number of new fields (HMSET: OK).
fn hset(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    if !args.len().is_multiple_of(2) {
        return arity_error(&args[0]);
    }
    let limits = ctx.limits.encoding.clone();
    let hash = or_reply!(write_or_create(ctx, &args[1], Hash::default));
    let pairs = args[2..].chunks_exact(2);
    hash.reserve(pairs.clone().map(|pair| (&pair[0][..], &pair[1][..])));
    let added = pairs
        .filter(|pair| hash.set(&pair[0], &pair[1], &limits))
        .count();
    hash.shrink_to_fit();
    if util::eq_ignore_case(&args[0], "hmset") {
        Reply::ok()
    } else {
        Reply::Integer(added as i64)
    }
}

fn hsetnx(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let limits = ctx.limits.encoding.clone();
    let hash = or_reply!(write_or_create(ctx, &args[1], Hash::default));
    if hash.contains(&args[2]) {
        return Reply::Integer(0);
    }
    hash.set(&args[2], &args[3], &limits);
    Reply::Integer(1)
}

fn hget(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    match or_reply!(read::<Hash>(ctx, &args[1])).and_then(|hash| hash.get(&args[2])) {
        Some(value) => bulk(value),
        None => Reply::Null,
    }
}

fn hmget(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let hash = or_reply!(read::<Hash>(ctx, &args[1]));
    Reply::Array(
        args[2..]
            .iter()
            .map(|field| {
                hash.and_then(|hash| hash.get(field))
                    .map_or(Reply::Null, bulk)
            })
            .collect(),
    )
}

fn hdel(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let Some(hash) = or_reply!(write::<Hash>(ctx, &args[1])) else {
        return Reply::Integer(0);
    };
    let removed = args[2..].iter().filter(|field| hash.remove(field)).count();
    remove_if_empty::<Hash>(ctx, &args[1]);
    Reply::Integer(removed as i64)
}

fn hlen(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let hash = or_reply!(read::<Hash>(ctx, &args[1]));
    Reply::Integer(hash.map_or(0, Hash::len) as i64)
}

fn hstrlen(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let hash = or_reply!(read::<Hash>(ctx, &args[1]));
    let value = hash.and_then(|hash| hash.get(&args[2]));
    Reply::Integer(value.map_or(0, <[u8]>::len) as i64)
}

fn hexists(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let hash = or_reply!(read::<Hash>(ctx, &args[1]));
    Reply::Integer(hash.is_some_and(|hash| hash.contains(&args[2])) as i64)
}

fn hkeys(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let hash = or_reply!(read::<Hash>(ctx, &args[1]));
    Reply::Array(hash.map_or_else(Vec::new, |hash| {
        shared_bulks(hash.iter().map(|(field, _)| field))
    }))
}

fn hvals(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let hash = or_reply!(read::<Hash>(ctx, &args[1]));
    Reply::Array(hash.map_or_else(Vec::new, |hash| {
        shared_bulks(hash.iter().map(|(_, value)| value))
    }))
}

fn hgetall(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let hash = or_reply!(read::<Hash>(ctx, &args[1]));
    Reply::Map(hash.map_or_else(Vec::new, |hash| {
        let flat = hash.iter().flat_map(|(field, value)| [field, value]);
        let mut items = shared_bulks(flat).into_iter();
        std::iter::from_fn(|| Some((items.next()?, items.next()?))).collect()
    }))
}

fn hincrby(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let increment = or_reply!(integer_arg(&args[3]));
    let limits = ctx.limits.encoding.clone();
    let hash = or_reply!(write_or_create(ctx, &args[1], Hash::default));
    let current = match hash.get(&args[2]) {
        Some(value) => match util::parse_i64(value) {
            Some(current) => current,
            None => return Reply::error_static(ERR_HASH_NOT_INTEGER),
        },
        None => 0,
    };
    let Some(updated) = current.checked_add(increment) else {
        return Reply::error_static(util::ERR_OVERFLOW);
    };
    hash.set(&args[2], updated.to_string().as_bytes(), &limits);
    Reply::Integer(updated)
}

fn hincrbyfloat(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let Some(increment) = util::parse_f64(&args[3]) else {
        return Reply::error_static(util::ERR_NOT_FLOAT);
    };
    if !increment.is_finite() {
        return Reply::error_static("ERR value is NaN or Infinity");
    }
    let limits = ctx.limits.encoding.clone();
    let hash = or_reply!(write_or_create(ctx, &args[1], Hash::default));
    let current = match hash.get(&args[2]) {
        Some(value) => match util::parse_f64(value) {
            Some(current) => current,
            None => return Reply::error_static(ERR_HASH_NOT_FLOAT),
        },
        None => 0.0,
    };
    let updated = current + increment;
    if !updated.is_finite() {
        remove_if_empty::<Hash>(ctx, &args[1]);
        return Reply::error_static(ERR_FLOAT_OVERFLOW);
    }
    let text = Bytes::from(format_float_human(updated));
    hash.set(&args[2], &text, &limits);
    Reply::Bulk(text)
}

/// HSCAN key cursor [MATCH pattern] [COUNT count].
fn hscan(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let (cursor, options) = or_reply!(scan_args(args));
    let Some(hash) = or_reply!(read::<Hash>(ctx, &args[1])) else {
        return Reply::Array(vec![Reply::bulk("0"), Reply::Array(Vec::new())]);
    };
    let (next, pairs) = hash.scan(cursor, options.count);
    let mut items = Vec::with_capacity(pairs.len() * 2);
    for (field, value) in pairs {
        if scan_matches(&options, field) {
            items.push(bulk(field));
            items.push(bulk(value));
        }
    }
    Reply::Array(vec![Reply::bulk(next.to_string()), Reply::Array(items)])
}

/// HRANDFIELD key [count [WITHVALUES]], Redis's `hrandfieldWithCountCommand`: a positive count
/// gives distinct fields (at most the whole hash), a negative one `-count` independent picks.
fn hrandfield(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    // Redis's order: the count, then the rest of the syntax, then WITHVALUES's tighter range.
    let count = match args.get(2) {
        Some(arg) => Some(or_reply!(range_arg(arg, -i64::MAX, i64::MAX, None))),
        None => None,
    };
    if args.len() > 4 || (args.len() == 4 && !util::eq_ignore_case(&args[3], "withvalues")) {
        return util::syntax_error();
    }
    let with_values = args.len() == 4;
    if with_values && count.is_some_and(|count| count.unsigned_abs() > (i64::MAX / 2) as u64) {
        return Reply::error_static("ERR value is out of range");
    }
    let hash = or_reply!(read::<Hash>(ctx, &args[1]));
    let Some(count) = count else {
        let field = hash.and_then(|hash| hash.pair_at(fastrand::usize(..hash.len().max(1))));
        return field.map_or(Reply::Null, |(field, _)| bulk(field));
    };
    let Some(hash) = hash else {
        return Reply::Array(Vec::new());
    };
    let picks = random_indices(hash.len(), count);
    let pairs = picks.into_iter().filter_map(|index| hash.pair_at(index));
    if !with_values {
        return Reply::Array(pairs.map(|(field, _)| bulk(field)).collect());
    }
    if count > 0 {
        Reply::Map(pairs.map(|(f, v)| (bulk(f), bulk(v))).collect())
    } else {
        Reply::Array(pairs.flat_map(|(f, v)| [bulk(f), bulk(v)]).collect())
    }
}

#[cfg(test)]
mod tests;
