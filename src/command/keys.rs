//! The generic key commands (Redis's `db.c`, `expire.c` and `object.c`): DEL, UNLINK, EXISTS,
//! TOUCH, TYPE, the EXPIRE and TTL families, PERSIST, OBJECT, MOVE, RENAME, RENAMENX, COPY, and the
//! whole-database commands KEYS, DBSIZE, FLUSHDB, FLUSHALL, SWAPDB, RANDOMKEY and SCAN.
//!
//! Replies and error texts are Redis 7's, byte for byte. Whole-database commands are
//! [`Routing::AllShards`]: each handler here answers for this shard alone and the server layer
//! merges the answers (concatenates KEYS, sums DBSIZE, picks one RANDOMKEY). SCAN has no handler:
//! the server layer drives [`Db::scan`](crate::keyspace::Db::scan) across shards with the options
//! from [`parse_scan_options`].
//!
//! Read commands (EXISTS, TOUCH, TYPE, the TTL family, OBJECT, COPY's source) count keyspace
//! hits and misses through [`Keyspace::lookup_read`](crate::keyspace::Keyspace::lookup_read), as
//! Redis's `lookupKeyRead*` does; write lookups do not.

use bytes::Bytes;

use super::util::{
    eq_ignore_case, integer_arg, not_integer_error, parse_i64, syntax_error, ERR_DB_INDEX,
    ERR_NO_SUCH_KEY,
};
use super::{CommandSpec, ExecContext, Routing};
use crate::keyspace::Value;
use crate::protocol::reply::Reply;

const ERR_SAME_OBJECT: &str = "ERR source and destination objects are the same";
const ERR_INT_RANGE: &str =
    "ERR value is out of range, value must between -2147483648 and 2147483647";
const ERR_NOT_LFU: &str = "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
     Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.";

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "del",
        arity: -2,
        flags: &["write"],
        first_key: 1,
        last_key: -1,
        step: 1,
        key_finder: None,
        routing: Routing::MultiKey,
        handler: Some(del),
        group: "generic",
        summary: "Deletes one or more keys.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "unlink",
        arity: -2,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        key_finder: None,
        routing: Routing::MultiKey,
        // Values are freed when their last reference drops; there is nothing to defer.
        handler: Some(del),
        group: "generic",
        summary: "Asynchronously deletes one or more keys.",
        since: "4.0.0",
    },
    CommandSpec {
        name: "exists",
        arity: -2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        key_finder: None,
        routing: Routing::MultiKey,
        handler: Some(exists),
        group: "generic",
        summary: "Determines whether one or more keys exist.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "touch",
        arity: -2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: -1,
        step: 1,
        key_finder: None,
        routing: Routing::MultiKey,
        // No LRU clock to update, so TOUCH is EXISTS.
        handler: Some(exists),
        group: "generic",
        summary: "Returns the number of existing keys out of those specified after updating the time they were last accessed.",
        since: "3.2.1",
    },
    CommandSpec {
        name: "type",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(type_),
        group: "generic",
        summary: "Determines the type of value stored at a key.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "expire",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(expire),
        group: "generic",
        summary: "Sets the expiration time of a key in seconds.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "pexpire",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(pexpire),
        group: "generic",
        summary: "Sets the expiration time of a key in milliseconds.",
        since: "2.6.0",
    },
    CommandSpec {
        name: "expireat",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(expireat),
        group: "generic",
        summary: "Sets the expiration time of a key to a Unix timestamp.",
        since: "1.2.0",
    },
    CommandSpec {
        name: "pexpireat",
        arity: -3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(pexpireat),
        group: "generic",
        summary: "Sets the expiration time of a key to a Unix milliseconds timestamp.",
        since: "2.6.0",
    },
    CommandSpec {
        name: "ttl",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(ttl),
        group: "generic",
        summary: "Returns the expiration time in seconds of a key.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "pttl",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(pttl),
        group: "generic",
        summary: "Returns the expiration time in milliseconds of a key.",
        since: "2.6.0",
    },
    CommandSpec {
        name: "expiretime",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(expiretime),
        group: "generic",
        summary: "Returns the expiration time of a key as a Unix timestamp.",
        since: "7.0.0",
    },
    CommandSpec {
        name: "pexpiretime",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(pexpiretime),
        group: "generic",
        summary: "Returns the expiration time of a key as a Unix milliseconds timestamp.",
        since: "7.0.0",
    },
    CommandSpec {
        name: "persist",
        arity: 2,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(persist),
        group: "generic",
        summary: "Removes the expiration time of a key.",
        since: "2.2.0",
    },
    CommandSpec {
        name: "object",
        arity: -2,
        // Redis reports no flags and no keys for the OBJECT container (its subcommands carry
        // them); the key of OBJECT <sub> <key> is argument 2, which is what routing needs.
        flags: &[],
        first_key: 2,
        last_key: 2,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(object),
        group: "generic",
        summary: "A container for object introspection commands.",
        since: "2.2.3",
    },
    CommandSpec {
        name: "move",
        arity: 3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        key_finder: None,
        routing: Routing::SingleKey,
        handler: Some(move_),
        group: "generic",
        summary: "Moves a key to another database.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "rename",
        arity: 3,
        flags: &["write"],
        first_key: 1,
        last_key: 2,
        step: 1,
        key_finder: None,
        routing: Routing::MultiKey,
        handler: Some(rename),
        group: "generic",
        summary: "Renames a key and overwrites the destination.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "renamenx",
        arity: 3,
        flags: &["write", "fast"],
        first_key: 1,
        last_key: 2,
        step: 1,
        key_finder: None,
        routing: Routing::MultiKey,
        handler: Some(renamenx),
        group: "generic",
        summary: "Renames a key only when the target key name doesn't exist.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "copy",
        arity: -3,
        flags: &["write", "denyoom"],
        first_key: 1,
        last_key: 2,
        step: 1,
        key_finder: None,
        routing: Routing::MultiKey,
        handler: Some(copy),
        group: "generic",
        summary: "Copies the value of a key to a new key.",
        since: "6.2.0",
    },
    CommandSpec {
        name: "keys",
        arity: 2,
        flags: &["readonly"],
        first_key: 0,
        last_key: 0,
        step: 0,
        key_finder: None,
        routing: Routing::AllShards,
        handler: Some(keys),
        group: "generic",
        summary: "Returns all key names that match a pattern.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "scan",
        arity: -2,
        flags: &["readonly"],
        first_key: 0,
        last_key: 0,
        step: 0,
        key_finder: None,
        routing: Routing::AllShards,
        handler: None,
        group: "generic",
        summary: "Iterates over the key names in the database.",
        since: "2.8.0",
    },
    CommandSpec {
        name: "randomkey",
        arity: 1,
        flags: &["readonly"],
        first_key: 0,
        last_key: 0,
        step: 0,
        key_finder: None,
        routing: Routing::AllShards,
        handler: Some(randomkey),
        group: "generic",
        summary: "Returns a random key name from the database.",
        since: "1.0.0",
    },
    // DBSIZE, FLUSHDB, FLUSHALL and SWAPDB are in Redis's "server" group.
    CommandSpec {
        name: "dbsize",
        arity: 1,
        flags: &["readonly", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        key_finder: None,
        routing: Routing::AllShards,
        handler: Some(dbsize),
        group: "server",
        summary: "Returns the number of keys in the database.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "flushdb",
        arity: -1,
        flags: &["write"],
        first_key: 0,
        last_key: 0,
        step: 0,
        key_finder: None,
        routing: Routing::AllShards,
        handler: Some(flushdb),
        group: "server",
        summary: "Remove all keys from the current database.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "flushall",
        arity: -1,
        flags: &["write"],
        first_key: 0,
        last_key: 0,
        step: 0,
        key_finder: None,
        routing: Routing::AllShards,
        handler: Some(flushall),
        group: "server",
        summary: "Removes all keys from all databases.",
        since: "1.0.0",
    },
    CommandSpec {
        name: "swapdb",
        arity: 3,
        flags: &["write", "fast"],
        first_key: 0,
        last_key: 0,
        step: 0,
        key_finder: None,
        routing: Routing::AllShards,
        handler: Some(swapdb),
        group: "server",
        summary: "Swaps two Redis databases.",
        since: "4.0.0",
    },
];

// ---- DEL, EXISTS, TYPE -------------------------------------------------------------------------

/// DEL and UNLINK: the number of keys removed (a key named twice counts once).
fn del(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    let removed = args[1..]
        .iter()
        .filter(|key| ctx.db().remove(key, now).is_some())
        .count();
    Reply::Integer(removed as i64)
}

/// EXISTS and TOUCH: the number of live keys, a key named twice counting twice.
fn exists(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let (db, now) = (ctx.db_index, ctx.now_ms);
    let found = args[1..]
        .iter()
        .filter(|key| ctx.keyspace.lookup_read(db, key, now).is_some())
        .count();
    Reply::Integer(found as i64)
}

fn type_(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    match ctx.keyspace.lookup_read(ctx.db_index, &args[1], ctx.now_ms) {
        Some(entry) => Reply::status(entry.value.type_name()),
        None => Reply::status("none"),
    }
}

// ---- EXPIRE family -----------------------------------------------------------------------------

#[derive(Clone, Copy)]
enum TimeUnit {
    Seconds,
    Milliseconds,
}

fn expire(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms as i64;
    set_deadline(ctx, args, "expire", now, TimeUnit::Seconds)
}

fn pexpire(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms as i64;
    set_deadline(ctx, args, "pexpire", now, TimeUnit::Milliseconds)
}

fn expireat(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    set_deadline(ctx, args, "expireat", 0, TimeUnit::Seconds)
}

fn pexpireat(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    set_deadline(ctx, args, "pexpireat", 0, TimeUnit::Milliseconds)
}

/// The NX / XX / GT / LT conditions of the EXPIRE family.
#[derive(Default)]
struct ExpireCondition {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireCondition {
    /// Redis's `parseExtendedExpireArgumentsOrReply`.
    fn parse(options: &[Bytes]) -> Result<Self, Reply> {
        let mut condition = ExpireCondition::default();
        for option in options {
            if eq_ignore_case(option, "nx") {
                condition.nx = true;
            } else if eq_ignore_case(option, "xx") {
                condition.xx = true;
            } else if eq_ignore_case(option, "gt") {
                condition.gt = true;
            } else if eq_ignore_case(option, "lt") {
                condition.lt = true;
            } else {
                return Err(Reply::error(format!(
                    "ERR Unsupported option {}",
                    String::from_utf8_lossy(option)
                )));
            }
        }
        if condition.nx && (condition.xx || condition.gt || condition.lt) {
            return Err(Reply::error_static(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if condition.gt && condition.lt {
            return Err(Reply::error_static(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(condition)
    }

    /// Whether a new deadline `when` may replace `current` (None = no deadline, an infinite TTL).
    fn allows(&self, when: i64, current: Option<i64>) -> bool {
        if self.nx && current.is_some() {
            return false;
        }
        if self.xx && current.is_none() {
            return false;
        }
        if self.gt && current.is_none_or(|current| when <= current) {
            return false;
        }
        if self.lt && current.is_some_and(|current| when >= current) {
            return false;
        }
        true
    }
}

/// Redis's `expireGenericCommand`: `args[2]` in `unit`, relative to `basetime` ms (0 for the
/// absolute *AT forms). A deadline not in the future deletes the key and still replies 1.
fn set_deadline(
    ctx: &mut ExecContext<'_>,
    args: &[Bytes],
    name: &str,
    basetime: i64,
    unit: TimeUnit,
) -> Reply {
    let condition = match ExpireCondition::parse(&args[3..]) {
        Ok(condition) => condition,
        Err(reply) => return reply,
    };
    let Some(when) = parse_i64(&args[2]) else {
        return not_integer_error();
    };
    let when = match unit {
        TimeUnit::Seconds => when.checked_mul(1000),
        TimeUnit::Milliseconds => Some(when),
    };
    let Some(when) = when.and_then(|when| when.checked_add(basetime)) else {
        return Reply::error(format!("ERR invalid expire time in '{name}' command"));
    };
    let (key, now) = (&args[1], ctx.now_ms);
    let Some(entry) = ctx.db().get(key, now) else {
        return Reply::Integer(0);
    };
    let current = (entry.expire_at != 0).then_some(entry.expire_at as i64);
    if !condition.allows(when, current) {
        return Reply::Integer(0);
    }
    if when <= now as i64 {
        ctx.db().remove(key, now);
    } else {
        ctx.db().set_expire(key, when as u64, now);
    }
    Reply::Integer(1)
}

fn ttl(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    remaining_time(ctx, args, TimeUnit::Seconds, false)
}

fn pttl(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    remaining_time(ctx, args, TimeUnit::Milliseconds, false)
}

fn expiretime(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    remaining_time(ctx, args, TimeUnit::Seconds, true)
}

fn pexpiretime(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    remaining_time(ctx, args, TimeUnit::Milliseconds, true)
}

/// Redis's `ttlGenericCommand`: -2 for a missing key, -1 without a deadline, otherwise the time
/// left (or the deadline itself when `absolute`), seconds rounded to nearest.
fn remaining_time(
    ctx: &mut ExecContext<'_>,
    args: &[Bytes],
    unit: TimeUnit,
    absolute: bool,
) -> Reply {
    let now = ctx.now_ms;
    let Some(expire_at) = ctx
        .keyspace
        .lookup_read(ctx.db_index, &args[1], now)
        .map(|entry| entry.expire_at)
    else {
        return Reply::Integer(-2);
    };
    if expire_at == 0 {
        return Reply::Integer(-1);
    }
    let millis = if absolute {
        expire_at
    } else {
        expire_at.saturating_sub(now)
    };
    let millis = i64::try_from(millis).unwrap_or(i64::MAX);
    Reply::Integer(match unit {
        TimeUnit::Milliseconds => millis,
        // (ms + 500) / 1000 without overflowing near i64::MAX.
        TimeUnit::Seconds => millis / 1000 + i64::from(millis % 1000 >= 500),
    })
}

fn persist(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let (key, now) = (&args[1], ctx.now_ms);
    match ctx.db().get(key, now) {
        Some(entry) if entry.expire_at != 0 => {
            ctx.db().set_expire(key, 0, now);
            Reply::Integer(1)
        }
        _ => Reply::Integer(0),
    }
}

// ---- OBJECT ------------------------------------------------------------------------------------

const OBJECT_HELP: &[&str] = &[
    "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
    "ENCODING <key>",
    "    Return the kind of internal representation used in order to store the value",
    "    associated with a <key>.",
    "FREQ <key>",
    "    Return the access frequency index of the <key>. The returned integer is",
    "    proportional to the logarithm of the recent access frequency of the key.",
    "IDLETIME <key>",
    "    Return the idle time of the <key>, that is the approximated number of",
    "    seconds elapsed since the last access to the key.",
    "REFCOUNT <key>",
    "    Return the number of references of the value associated with the specified",
    "    <key>.",
    "HELP",
    "    Print this help.",
];

/// OBJECT ENCODING | REFCOUNT | IDLETIME | FREQ <key>, OBJECT HELP. Redis 7 treats these as
/// subcommands with their own arity, so the errors name `object|<sub>`.
fn object(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    const SUBCOMMANDS: &[(&str, usize)] = &[
        ("help", 2),
        ("encoding", 3),
        ("refcount", 3),
        ("idletime", 3),
        ("freq", 3),
    ];
    let Some(&(sub, arity)) = SUBCOMMANDS
        .iter()
        .find(|(name, _)| eq_ignore_case(&args[1], name))
    else {
        let shown = String::from_utf8_lossy(&args[1][..args[1].len().min(128)]);
        return Reply::error(format!(
            "ERR unknown subcommand '{shown}'. Try OBJECT HELP."
        ));
    };
    if args.len() != arity {
        return Reply::error(format!(
            "ERR wrong number of arguments for 'object|{sub}' command"
        ));
    }
    if sub == "help" {
        return Reply::Array(OBJECT_HELP.iter().map(|line| Reply::status(line)).collect());
    }
    let Some(entry) = ctx.keyspace.lookup_read(ctx.db_index, &args[2], ctx.now_ms) else {
        return Reply::Null;
    };
    match sub {
        "encoding" => Reply::bulk(Bytes::from_static(object_encoding(&entry.value).as_bytes())),
        // Values are not shared and there is no LRU/LFU clock (no eviction policy).
        "refcount" => Reply::Integer(1),
        "idletime" => Reply::Integer(0),
        _ => Reply::error_static(ERR_NOT_LFU),
    }
}

/// The encoding Redis would report: strings that read back as a 64-bit integer are "int", short
/// ones (<= 44 bytes, Redis's `OBJ_ENCODING_EMBSTR_SIZE_LIMIT`) "embstr", the rest "raw".
pub fn object_encoding(value: &Value) -> &'static str {
    match value {
        Value::Hash(hash) => hash.encoding_name(),
        Value::Set(set) => set.encoding_name(),
        Value::List(list) => list.encoding_name(),
        Value::ZSet(zset) => zset.encoding(),
        Value::Short(_) | Value::String(_) | Value::Item(_) => match value.as_string() {
            Some(bytes) if parse_i64(bytes).is_some() => "int",
            Some(bytes) if bytes.len() <= 44 => "embstr",
            _ => "raw",
        },
    }
}

// ---- MOVE, RENAME, COPY ------------------------------------------------------------------------

/// A database index argument as MOVE and COPY read it (`getIntFromObjectOrReply` + `selectDb`).
pub fn parse_db_index(arg: &[u8], databases: usize) -> Result<usize, Reply> {
    let index = parse_i64(arg).ok_or_else(not_integer_error)?;
    let index = i32::try_from(index).map_err(|_| Reply::error_static(ERR_INT_RANGE))?;
    usize::try_from(index)
        .ok()
        .filter(|&index| index < databases)
        .ok_or_else(|| Reply::error_static(ERR_DB_INDEX))
}

/// MOVE key db: within this shard, to another of its databases; 0 if the key is missing here or
/// already exists there.
fn move_(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let target = match parse_db_index(&args[2], ctx.keyspace.databases()) {
        Ok(target) => target,
        Err(reply) => return reply,
    };
    if target == ctx.db_index {
        return Reply::error_static(ERR_SAME_OBJECT);
    }
    let (key, now) = (&args[1], ctx.now_ms);
    // Check both sides before removing, so a refused MOVE leaves the key where it was.
    if !ctx.db().contains(key, now) || ctx.keyspace.db(target).contains(key, now) {
        return Reply::Integer(0);
    }
    let Some(entry) = ctx.db().remove(key, now) else {
        return Reply::Integer(0);
    };
    ctx.keyspace.db(target).insert(key, entry);
    Reply::Integer(1)
}

fn rename(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, false)
}

fn renamenx(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    rename_generic(ctx, args, true)
}

/// Redis's `renameGenericCommand`: the value and its deadline move to the new name.
fn rename_generic(ctx: &mut ExecContext<'_>, args: &[Bytes], nx: bool) -> Reply {
    let (source, destination, now) = (&args[1], &args[2], ctx.now_ms);
    if !ctx.db().contains(source, now) {
        return Reply::error_static(ERR_NO_SUCH_KEY);
    }
    if source == destination {
        return if nx { Reply::Integer(0) } else { Reply::ok() };
    }
    if nx && ctx.db().contains(destination, now) {
        return Reply::Integer(0);
    }
    let Some(entry) = ctx.db().remove(source, now) else {
        return Reply::error_static(ERR_NO_SUCH_KEY);
    };
    // Replacing keeps the destination's position, so a SCAN in progress still finds it.
    ctx.db().insert(destination, entry);
    if nx {
        Reply::Integer(1)
    } else {
        Reply::ok()
    }
}

/// Reads COPY's options after `source destination`: `(destination db, REPLACE given)`. Shared by
/// the handler and the cross-shard coordinator so both accept and refuse the same things.
pub fn parse_copy_options(
    args: &[Bytes],
    current_db: usize,
    databases: usize,
) -> Result<(usize, bool), Reply> {
    let mut target = current_db;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if eq_ignore_case(&args[i], "replace") {
            replace = true;
            i += 1;
        } else if eq_ignore_case(&args[i], "db") && i + 1 < args.len() {
            target = parse_db_index(&args[i + 1], databases)?;
            i += 2;
        } else {
            return Err(syntax_error());
        }
    }
    Ok((target, replace))
}

/// COPY source destination [DB index] [REPLACE].
fn copy(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let (target, replace) = match parse_copy_options(args, ctx.db_index, ctx.keyspace.databases()) {
        Ok(options) => options,
        Err(reply) => return reply,
    };
    let (source, destination, now) = (&args[1], &args[2], ctx.now_ms);
    if target == ctx.db_index && source == destination {
        return Reply::error_static(ERR_SAME_OBJECT);
    }
    // Values are immutable `Bytes`; a clone shares the buffer, which is Redis's copy semantics.
    let Some(entry) = ctx.keyspace.lookup_read(ctx.db_index, source, now).cloned() else {
        return Reply::Integer(0);
    };
    let target_db = ctx.keyspace.db(target);
    if !replace && target_db.contains(destination, now) {
        return Reply::Integer(0);
    }
    target_db.insert(destination, entry);
    Reply::Integer(1)
}

// ---- Whole-database commands (run on every shard; the server layer merges) ---------------------

fn keys(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    Reply::Array(
        ctx.db()
            .keys_matching(&args[1], now)
            .into_iter()
            .map(Reply::Bulk)
            .collect(),
    )
}

fn dbsize(ctx: &mut ExecContext<'_>, _args: &[Bytes]) -> Reply {
    Reply::Integer(ctx.db().len() as i64)
}

fn randomkey(ctx: &mut ExecContext<'_>, _args: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    ctx.db().random_key(now).map_or(Reply::Null, Reply::Bulk)
}

/// FLUSHDB / FLUSHALL take nothing, or one of ASYNC / SYNC (both flush at once here).
fn flush_options_ok(args: &[Bytes]) -> bool {
    match args {
        [_] => true,
        [_, mode] => eq_ignore_case(mode, "sync") || eq_ignore_case(mode, "async"),
        _ => false,
    }
}

fn flushdb(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    if !flush_options_ok(args) {
        return syntax_error();
    }
    ctx.db().clear();
    Reply::ok()
}

fn flushall(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    if !flush_options_ok(args) {
        return syntax_error();
    }
    ctx.keyspace.flush_all();
    Reply::ok()
}

fn swapdb(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    // Redis reads both as C ints with its own messages, before checking the range.
    let read = |arg: &Bytes, message: &'static str| {
        parse_i64(arg)
            .and_then(|index| i32::try_from(index).ok())
            .ok_or_else(|| Reply::error_static(message))
    };
    let (first, second) = match (
        read(&args[1], "ERR invalid first DB index"),
        read(&args[2], "ERR invalid second DB index"),
    ) {
        (Ok(first), Ok(second)) => (first, second),
        (Err(reply), _) | (_, Err(reply)) => return reply,
    };
    let databases = ctx.keyspace.databases();
    let in_range = |index: i32| {
        usize::try_from(index)
            .ok()
            .filter(|&index| index < databases)
    };
    match (in_range(first), in_range(second)) {
        (Some(first), Some(second)) => {
            ctx.keyspace.swap_db(first, second);
            Reply::ok()
        }
        _ => Reply::error_static(ERR_DB_INDEX),
    }
}

// ---- SCAN options ------------------------------------------------------------------------------

/// SCAN's options, parsed by [`parse_scan_options`] for the server layer.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanOptions {
    /// Positions to visit per step (Redis's COUNT hint; default 10).
    pub count: usize,
    /// MATCH pattern; `None` when absent or `*`.
    pub pattern: Option<Bytes>,
    /// TYPE filter, compared with the value's type name case-insensitively.
    pub type_filter: Option<Bytes>,
}

impl Default for ScanOptions {
    fn default() -> Self {
        ScanOptions {
            count: 10,
            pattern: None,
            type_filter: None,
        }
    }
}

/// Parses `[MATCH pattern] [COUNT count] [TYPE type]` starting at `args[first_option]`, as
/// Redis's `scanGenericCommand` does (a later option of the same kind wins).
pub fn parse_scan_options(args: &[Bytes], first_option: usize) -> Result<ScanOptions, Reply> {
    let mut options = ScanOptions::default();
    let mut i = first_option;
    while i < args.len() {
        let has_value = i + 1 < args.len();
        if eq_ignore_case(&args[i], "count") && has_value {
            let count = integer_arg(&args[i + 1])?;
            if count < 1 {
                return Err(syntax_error());
            }
            options.count = usize::try_from(count).unwrap_or(usize::MAX);
        } else if eq_ignore_case(&args[i], "match") && has_value {
            options.pattern = Some(args[i + 1].clone()).filter(|pattern| pattern.as_ref() != b"*");
        } else if eq_ignore_case(&args[i], "type") && has_value {
            options.type_filter = Some(args[i + 1].clone());
        } else {
            return Err(syntax_error());
        }
        i += 2;
    }
    Ok(options)
}

#[cfg(test)]
mod tests;
