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
fn object_encoding(value: &Value) -> &'static str {
    match value {
        Value::String(bytes) if parse_i64(bytes).is_some() => "int",
        Value::String(bytes) if bytes.len() <= 44 => "embstr",
        Value::String(_) => "raw",
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
    ctx.keyspace
        .db(target)
        .insert(Bytes::copy_from_slice(key), entry);
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
    ctx.db().insert(Bytes::copy_from_slice(destination), entry);
    if nx {
        Reply::Integer(1)
    } else {
        Reply::ok()
    }
}

/// COPY source destination [DB index] [REPLACE].
fn copy(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let mut target = ctx.db_index;
    let mut replace = false;
    let mut i = 3;
    while i < args.len() {
        if eq_ignore_case(&args[i], "replace") {
            replace = true;
            i += 1;
        } else if eq_ignore_case(&args[i], "db") && i + 1 < args.len() {
            target = match parse_db_index(&args[i + 1], ctx.keyspace.databases()) {
                Ok(target) => target,
                Err(reply) => return reply,
            };
            i += 2;
        } else {
            return syntax_error();
        }
    }
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
    target_db.insert(Bytes::copy_from_slice(destination), entry);
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
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::command::test_support::Harness;
    use crate::command::{lookup, util::ERR_NOT_INTEGER, util::ERR_SYNTAX};
    use crate::keyspace::Entry;

    const NOW: u64 = 1_700_000_000_000;

    fn harness() -> Harness {
        let h = Harness::new();
        assert_eq!(h.now_ms, NOW);
        h
    }

    /// Stores a string straight into the keyspace (string.rs's SET is written elsewhere).
    fn set_in(h: &mut Harness, db: usize, key: &str, value: &str, expire_at: u64) {
        let entry = Entry {
            value: Value::String(Bytes::copy_from_slice(value.as_bytes())),
            expire_at,
        };
        h.keyspace
            .db(db)
            .insert(Bytes::copy_from_slice(key.as_bytes()), entry);
    }

    fn set(h: &mut Harness, key: &str, value: &str) {
        set_in(h, 0, key, value, 0);
    }

    fn deadline_of(h: &mut Harness, db: usize, key: &str) -> Option<u64> {
        let now = h.now_ms;
        h.keyspace
            .db(db)
            .get(key.as_bytes(), now)
            .map(|entry| entry.expire_at)
    }

    fn int(n: i64) -> Reply {
        Reply::Integer(n)
    }

    fn err(text: &str) -> Reply {
        Reply::error(text.to_string())
    }

    fn bulk(text: &str) -> Reply {
        Reply::bulk_from_slice(text.as_bytes())
    }

    fn sorted_bulks(reply: Reply) -> Vec<Bytes> {
        let Reply::Array(items) = reply else {
            panic!("not an array: {reply:?}")
        };
        let mut keys: Vec<Bytes> = items
            .into_iter()
            .map(|item| match item {
                Reply::Bulk(bytes) => bytes,
                other => panic!("not a bulk: {other:?}"),
            })
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn table_is_consistent() {
        for spec in COMMANDS {
            assert_eq!(
                lookup(spec.name.to_uppercase().as_bytes()).map(|found| found.name),
                Some(spec.name)
            );
            assert_eq!(spec.handler.is_none(), spec.name == "scan", "{}", spec.name);
            assert_eq!(
                spec.first_key == 0,
                spec.routing == Routing::AllShards,
                "{}",
                spec.name
            );
        }
        let object_spec = lookup(b"object").expect("object");
        assert_eq!(object_spec.key_positions(3).collect::<Vec<_>>(), vec![2]);
        assert_eq!(
            object_spec.key_positions(2).count(),
            0,
            "OBJECT HELP has no key"
        );
        assert!(lookup(b"del").expect("del").is_write());
        assert!(!lookup(b"ttl").expect("ttl").is_write());
        assert_eq!(
            lookup(b"copy")
                .expect("copy")
                .key_positions(6)
                .collect::<Vec<_>>(),
            vec![1, 2]
        );
    }

    #[test]
    fn del_and_unlink() {
        let mut h = harness();
        set(&mut h, "a", "1");
        set(&mut h, "b", "2");
        set_in(&mut h, 0, "dead", "x", NOW - 1);
        assert_eq!(h.run(&["DEL", "a", "a", "missing", "dead"]), int(1));
        assert_eq!(h.run(&["unlink", "b", "a"]), int(1));
        assert_eq!(h.keyspace.total_keys(), 0);
        assert_eq!(
            h.run(&["DEL"]),
            err("ERR wrong number of arguments for 'del' command")
        );
    }

    #[test]
    fn exists_and_touch_count_duplicates_and_stats() {
        let mut h = harness();
        set(&mut h, "a", "1");
        set_in(&mut h, 0, "dead", "x", NOW);
        assert_eq!(h.run(&["EXISTS", "a", "a", "missing", "dead"]), int(2));
        assert_eq!(
            (
                h.keyspace.stats.keyspace_hits,
                h.keyspace.stats.keyspace_misses
            ),
            (2, 2)
        );
        assert_eq!(h.run(&["TOUCH", "a", "missing"]), int(1));
    }

    #[test]
    fn type_reports_string_or_none() {
        let mut h = harness();
        set(&mut h, "s", "v");
        set_in(&mut h, 0, "dead", "x", NOW - 5);
        assert_eq!(h.run(&["TYPE", "s"]), Reply::status("string"));
        assert_eq!(h.run(&["type", "missing"]), Reply::status("none"));
        assert_eq!(h.run(&["TYPE", "dead"]), Reply::status("none"));
        assert_eq!(h.keyspace.stats.keyspace_misses, 2);
    }

    #[test]
    fn expire_relative_and_absolute() {
        let mut h = harness();
        set(&mut h, "k", "v");
        assert_eq!(h.run(&["EXPIRE", "k", "10"]), int(1));
        assert_eq!(deadline_of(&mut h, 0, "k"), Some(NOW + 10_000));
        assert_eq!(h.run(&["PEXPIRE", "k", "1500"]), int(1));
        assert_eq!(deadline_of(&mut h, 0, "k"), Some(NOW + 1_500));
        let at = (NOW / 1000 + 100).to_string();
        assert_eq!(h.run(&["EXPIREAT", "k", &at]), int(1));
        assert_eq!(deadline_of(&mut h, 0, "k"), Some((NOW / 1000 + 100) * 1000));
        let at = (NOW + 777).to_string();
        assert_eq!(h.run(&["PEXPIREAT", "k", &at]), int(1));
        assert_eq!(deadline_of(&mut h, 0, "k"), Some(NOW + 777));
        assert_eq!(h.run(&["EXPIRE", "missing", "10"]), int(0));
    }

    #[test]
    fn expire_in_the_past_deletes() {
        let mut h = harness();
        for (command, argument) in [
            ("EXPIRE", "-1"),
            ("PEXPIRE", "0"),
            ("EXPIREAT", "1"),
            ("PEXPIREAT", "-5"),
        ] {
            set(&mut h, "k", "v");
            assert_eq!(h.run(&[command, "k", argument]), int(1), "{command}");
            assert_eq!(h.run(&["EXISTS", "k"]), int(0), "{command}");
        }
        let at = NOW.to_string(); // exactly now is already past
        set(&mut h, "k", "v");
        assert_eq!(h.run(&["PEXPIREAT", "k", &at]), int(1));
        assert_eq!(h.run(&["EXISTS", "k"]), int(0));
        h.keyspace.sync_stats();
        assert_eq!(
            h.keyspace.stats.expired_keys, 0,
            "a deletion, not an expiry"
        );
    }

    #[test]
    fn expire_errors() {
        let mut h = harness();
        set(&mut h, "k", "v");
        assert_eq!(h.run(&["EXPIRE", "k", "ten"]), err(ERR_NOT_INTEGER));
        assert_eq!(h.run(&["EXPIRE", "k", "1.5"]), err(ERR_NOT_INTEGER));
        assert_eq!(
            h.run(&["EXPIRE", "k", "9223372036854775"]),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            h.run(&["EXPIRE", "k", "-9223372036854776"]),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            h.run(&["pexpire", "k", "9223372036854775807"]),
            err("ERR invalid expire time in 'pexpire' command")
        );
        assert_eq!(
            h.run(&["EXPIREAT", "k", "9223372036854776"]),
            err("ERR invalid expire time in 'expireat' command")
        );
        // PEXPIREAT adds nothing, so any i64 is fine.
        assert_eq!(h.run(&["PEXPIREAT", "k", "9223372036854775807"]), int(1));
        // Overflow is reported even for a missing key (Redis checks before the lookup).
        assert_eq!(
            h.run(&["EXPIRE", "nope", "9223372036854775"]),
            err("ERR invalid expire time in 'expire' command")
        );
        assert_eq!(
            h.run(&["EXPIRE", "k"]),
            err("ERR wrong number of arguments for 'expire' command")
        );
    }

    #[test]
    fn expire_options() {
        let mut h = harness();
        set(&mut h, "k", "v");
        // NX: only without a deadline.
        assert_eq!(h.run(&["EXPIRE", "k", "100", "NX"]), int(1));
        assert_eq!(h.run(&["EXPIRE", "k", "200", "nx"]), int(0));
        assert_eq!(deadline_of(&mut h, 0, "k"), Some(NOW + 100_000));
        // XX: only with one.
        assert_eq!(h.run(&["EXPIRE", "k", "200", "XX"]), int(1));
        set(&mut h, "p", "v");
        assert_eq!(h.run(&["EXPIRE", "p", "200", "XX"]), int(0));
        // GT: only a later deadline; no deadline counts as infinite.
        assert_eq!(h.run(&["EXPIRE", "k", "100", "GT"]), int(0));
        assert_eq!(h.run(&["EXPIRE", "k", "200", "GT"]), int(0));
        assert_eq!(h.run(&["EXPIRE", "k", "300", "GT"]), int(1));
        assert_eq!(h.run(&["EXPIRE", "p", "300", "GT"]), int(0));
        // LT: only an earlier deadline; without one, any deadline is earlier.
        assert_eq!(h.run(&["EXPIRE", "k", "400", "LT"]), int(0));
        assert_eq!(h.run(&["EXPIRE", "k", "250", "LT"]), int(1));
        assert_eq!(h.run(&["EXPIRE", "p", "50", "LT"]), int(1));
        assert_eq!(deadline_of(&mut h, 0, "p"), Some(NOW + 50_000));
        // XX with GT combine.
        assert_eq!(h.run(&["PEXPIRE", "k", "999999", "XX", "GT"]), int(1));
        // A refused condition does not delete even with a past time.
        assert_eq!(h.run(&["EXPIRE", "k", "-1", "GT"]), int(0));
        assert_eq!(h.run(&["EXISTS", "k"]), int(1));
        assert_eq!(h.run(&["EXPIRE", "k", "-1", "LT"]), int(1));
        assert_eq!(h.run(&["EXISTS", "k"]), int(0));
    }

    #[test]
    fn expire_option_errors() {
        let mut h = harness();
        set(&mut h, "k", "v");
        let nx_error = "ERR NX and XX, GT or LT options at the same time are not compatible";
        assert_eq!(h.run(&["EXPIRE", "k", "10", "NX", "XX"]), err(nx_error));
        assert_eq!(h.run(&["EXPIRE", "k", "10", "GT", "NX"]), err(nx_error));
        assert_eq!(h.run(&["EXPIRE", "k", "10", "NX", "LT"]), err(nx_error));
        assert_eq!(
            h.run(&["PEXPIRE", "k", "10", "GT", "LT"]),
            err("ERR GT and LT options at the same time are not compatible")
        );
        assert_eq!(
            h.run(&["EXPIRE", "k", "10", "FOO"]),
            err("ERR Unsupported option FOO")
        );
        // Options are checked before the time argument.
        assert_eq!(
            h.run(&["EXPIRE", "k", "abc", "bar"]),
            err("ERR Unsupported option bar")
        );
        assert_eq!(deadline_of(&mut h, 0, "k"), Some(0));
    }

    #[test]
    fn ttl_family() {
        let mut h = harness();
        set(&mut h, "plain", "v");
        set_in(&mut h, 0, "v", "x", NOW + 10_499);
        for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
            assert_eq!(h.run(&[command, "missing"]), int(-2), "{command}");
            assert_eq!(h.run(&[command, "plain"]), int(-1), "{command}");
        }
        assert_eq!(h.run(&["TTL", "v"]), int(10));
        assert_eq!(h.run(&["PTTL", "v"]), int(10_499));
        assert_eq!(h.run(&["PEXPIRETIME", "v"]), int((NOW + 10_499) as i64));
        assert_eq!(
            h.run(&["EXPIRETIME", "v"]),
            int(((NOW + 10_499 + 500) / 1000) as i64)
        );
        set_in(&mut h, 0, "v", "x", NOW + 10_500);
        assert_eq!(h.run(&["TTL", "v"]), int(11), "rounded to nearest second");
        // Far deadlines do not overflow the rounding.
        assert_eq!(h.run(&["PEXPIREAT", "v", "9223372036854775807"]), int(1));
        assert_eq!(h.run(&["EXPIRETIME", "v"]), int(9_223_372_036_854_776));
        // Past the deadline the key is gone.
        h.now_ms = NOW + 10_500;
        set_in(&mut h, 0, "v", "x", NOW + 10_500);
        assert_eq!(h.run(&["TTL", "v"]), int(-2));
    }

    #[test]
    fn persist() {
        let mut h = harness();
        set(&mut h, "plain", "v");
        set_in(&mut h, 0, "v", "x", NOW + 1_000);
        assert_eq!(h.run(&["PERSIST", "missing"]), int(0));
        assert_eq!(h.run(&["PERSIST", "plain"]), int(0));
        assert_eq!(h.run(&["PERSIST", "v"]), int(1));
        assert_eq!(h.run(&["TTL", "v"]), int(-1));
        assert_eq!(h.keyspace.db(0).expires_len(), 0);
    }

    #[test]
    fn object_encoding_follows_redis_rules() {
        let mut h = harness();
        let cases = [
            ("12345", "int"),
            ("-12", "int"),
            ("9223372036854775807", "int"),
            ("9223372036854775808", "embstr"),
            ("012", "embstr"),
            ("-0", "embstr"),
            ("+1", "embstr"),
            ("1.5", "embstr"),
            ("", "embstr"),
            ("hello", "embstr"),
        ];
        for (value, encoding) in cases {
            set(&mut h, "k", value);
            assert_eq!(
                h.run(&["OBJECT", "ENCODING", "k"]),
                bulk(encoding),
                "{value:?}"
            );
        }
        set(&mut h, "k", &"x".repeat(44));
        assert_eq!(h.run(&["object", "encoding", "k"]), bulk("embstr"));
        set(&mut h, "k", &"x".repeat(45));
        assert_eq!(h.run(&["OBJECT", "Encoding", "k"]), bulk("raw"));
        assert_eq!(h.run(&["OBJECT", "ENCODING", "missing"]), Reply::Null);
    }

    #[test]
    fn object_other_subcommands() {
        let mut h = harness();
        set(&mut h, "k", "v");
        assert_eq!(h.run(&["OBJECT", "REFCOUNT", "k"]), int(1));
        assert_eq!(h.run(&["OBJECT", "IDLETIME", "k"]), int(0));
        assert_eq!(
            h.run(&["OBJECT", "FREQ", "k"]),
            err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
        );
        for sub in ["REFCOUNT", "IDLETIME", "FREQ"] {
            assert_eq!(h.run(&["OBJECT", sub, "missing"]), Reply::Null, "{sub}");
        }
        let Reply::Array(lines) = h.run(&["OBJECT", "help"]) else {
            panic!("help is an array")
        };
        assert_eq!(lines.len(), 15);
        assert_eq!(
            lines[0],
            Reply::status("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        );
        assert_eq!(lines[14], Reply::status("    Print this help."));
        assert_eq!(
            h.run(&["OBJECT", "nope", "k"]),
            err("ERR unknown subcommand 'nope'. Try OBJECT HELP.")
        );
        assert_eq!(
            h.run(&["OBJECT", "ENCODING"]),
            err("ERR wrong number of arguments for 'object|encoding' command")
        );
        assert_eq!(
            h.run(&["OBJECT", "HELP", "x"]),
            err("ERR wrong number of arguments for 'object|help' command")
        );
        assert_eq!(
            h.run(&["OBJECT"]),
            err("ERR wrong number of arguments for 'object' command")
        );
    }

    #[test]
    fn move_between_databases() {
        let mut h = harness();
        set_in(&mut h, 0, "k", "v", NOW + 5_000);
        assert_eq!(h.run(&["MOVE", "k", "3"]), int(1));
        assert_eq!(h.run(&["EXISTS", "k"]), int(0));
        assert_eq!(
            deadline_of(&mut h, 3, "k"),
            Some(NOW + 5_000),
            "the deadline moves too"
        );
        assert_eq!(h.keyspace.db(3).expires_len(), 1);
        // Missing here, or already there: 0, nothing changes.
        assert_eq!(h.run(&["MOVE", "k", "3"]), int(0));
        set(&mut h, "k", "other");
        assert_eq!(h.run(&["MOVE", "k", "3"]), int(0));
        assert_eq!(h.run(&["EXISTS", "k"]), int(1));
        // Errors, in Redis's order.
        assert_eq!(
            h.run(&["MOVE", "k", "0"]),
            err("ERR source and destination objects are the same")
        );
        assert_eq!(
            h.run(&["MOVE", "k", "16"]),
            err("ERR DB index is out of range")
        );
        assert_eq!(
            h.run(&["MOVE", "k", "-1"]),
            err("ERR DB index is out of range")
        );
        assert_eq!(h.run(&["MOVE", "k", "x"]), err(ERR_NOT_INTEGER));
        assert_eq!(
            h.run(&["MOVE", "missing", "2147483648"]),
            err("ERR value is out of range, value must between -2147483648 and 2147483647")
        );
    }

    #[test]
    fn rename_and_renamenx() {
        let mut h = harness();
        assert_eq!(h.run(&["RENAME", "missing", "x"]), err("ERR no such key"));
        assert_eq!(h.run(&["RENAMENX", "missing", "x"]), err("ERR no such key"));
        assert_eq!(
            h.run(&["RENAME", "missing", "missing"]),
            err("ERR no such key")
        );
        set_in(&mut h, 0, "a", "1", NOW + 9_000);
        assert_eq!(h.run(&["RENAME", "a", "a"]), Reply::ok());
        assert_eq!(h.run(&["RENAMENX", "a", "a"]), int(0));
        assert_eq!(h.run(&["RENAME", "a", "b"]), Reply::ok());
        assert_eq!(h.run(&["EXISTS", "a"]), int(0));
        assert_eq!(
            deadline_of(&mut h, 0, "b"),
            Some(NOW + 9_000),
            "the TTL moves with the value"
        );
        // Overwriting a destination that had a deadline with a value that has none.
        set(&mut h, "c", "3");
        assert_eq!(h.run(&["RENAME", "c", "b"]), Reply::ok());
        assert_eq!(h.run(&["TTL", "b"]), int(-1));
        assert_eq!(h.keyspace.db(0).expires_len(), 0);
        set(&mut h, "d", "4");
        assert_eq!(h.run(&["RENAMENX", "d", "b"]), int(0));
        assert_eq!(h.run(&["RENAMENX", "d", "e"]), int(1));
        assert_eq!(h.run(&["EXISTS", "d", "e"]), int(1));
    }

    #[test]
    fn copy_command() {
        let mut h = harness();
        set_in(&mut h, 0, "src", "value", NOW + 3_000);
        assert_eq!(h.run(&["COPY", "src", "dst"]), int(1));
        assert_eq!(
            deadline_of(&mut h, 0, "dst"),
            Some(NOW + 3_000),
            "the TTL is copied"
        );
        assert_eq!(h.run(&["COPY", "src", "dst"]), int(0), "destination exists");
        set(&mut h, "src", "new");
        assert_eq!(h.run(&["COPY", "src", "dst", "REPLACE"]), int(1));
        assert_eq!(h.run(&["TTL", "dst"]), int(-1));
        assert_eq!(h.run(&["COPY", "src", "src", "DB", "5"]), int(1));
        assert!(h.keyspace.db(5).contains(b"src", NOW));
        assert_eq!(h.run(&["COPY", "src", "src", "db", "5"]), int(0));
        assert_eq!(h.run(&["COPY", "src", "src", "replace", "DB", "5"]), int(1));
        assert_eq!(h.run(&["COPY", "missing", "x"]), int(0));
        // Errors.
        assert_eq!(
            h.run(&["COPY", "src", "src"]),
            err("ERR source and destination objects are the same")
        );
        assert_eq!(
            h.run(&["COPY", "src", "src", "DB", "0"]),
            err("ERR source and destination objects are the same")
        );
        assert_eq!(h.run(&["COPY", "src", "x", "DB"]), err(ERR_SYNTAX));
        assert_eq!(h.run(&["COPY", "src", "x", "FOO"]), err(ERR_SYNTAX));
        assert_eq!(
            h.run(&["COPY", "src", "x", "DB", "99"]),
            err("ERR DB index is out of range")
        );
        assert_eq!(
            h.run(&["COPY", "src", "x", "DB", "y"]),
            err(ERR_NOT_INTEGER)
        );
        assert_eq!(
            h.run(&["COPY", "src"]),
            err("ERR wrong number of arguments for 'copy' command")
        );
    }

    #[test]
    fn keys_dbsize_randomkey() {
        let mut h = harness();
        assert_eq!(h.run(&["RANDOMKEY"]), Reply::Null);
        set(&mut h, "user:1", "a");
        set(&mut h, "user:2", "b");
        set(&mut h, "other", "c");
        set_in(&mut h, 0, "user:dead", "d", NOW - 1);
        assert_eq!(
            sorted_bulks(h.run(&["KEYS", "user:*"])),
            vec![Bytes::from("user:1"), Bytes::from("user:2")]
        );
        assert_eq!(sorted_bulks(h.run(&["KEYS", "*"])).len(), 3);
        assert_eq!(sorted_bulks(h.run(&["KEYS", "nothing*"])).len(), 0);
        assert_eq!(
            h.run(&["DBSIZE"]),
            int(4),
            "DBSIZE counts keys not yet reclaimed, as Redis does"
        );
        for _ in 0..20 {
            let Reply::Bulk(key) = h.run(&["RANDOMKEY"]) else {
                panic!("a key")
            };
            assert_ne!(key.as_ref(), b"user:dead");
        }
    }

    #[test]
    fn flushdb_and_flushall() {
        let mut h = harness();
        set_in(&mut h, 0, "a", "1", 0);
        set_in(&mut h, 1, "b", "2", 0);
        assert_eq!(h.run(&["FLUSHDB", "now"]), err(ERR_SYNTAX));
        assert_eq!(h.run(&["FLUSHDB", "ASYNC", "SYNC"]), err(ERR_SYNTAX));
        assert_eq!(h.run(&["FLUSHDB", "async"]), Reply::ok());
        assert_eq!(h.keyspace.total_keys(), 1);
        set_in(&mut h, 0, "a", "1", 0);
        assert_eq!(h.run(&["FLUSHDB"]), Reply::ok());
        assert_eq!(h.keyspace.total_keys(), 1);
        assert_eq!(h.run(&["FLUSHALL", "x"]), err(ERR_SYNTAX));
        assert_eq!(h.run(&["FLUSHALL", "SYNC"]), Reply::ok());
        assert_eq!(h.keyspace.total_keys(), 0);
        assert_eq!(h.run(&["FLUSHALL"]), Reply::ok());
    }

    #[test]
    fn swapdb() {
        let mut h = harness();
        set_in(&mut h, 0, "zero", "0", 0);
        set_in(&mut h, 1, "one", "1", 0);
        assert_eq!(h.run(&["SWAPDB", "0", "1"]), Reply::ok());
        assert_eq!(h.run(&["EXISTS", "one"]), int(1));
        assert_eq!(h.run(&["EXISTS", "zero"]), int(0));
        assert_eq!(h.run(&["SWAPDB", "2", "2"]), Reply::ok());
        assert_eq!(
            h.run(&["SWAPDB", "x", "1"]),
            err("ERR invalid first DB index")
        );
        assert_eq!(
            h.run(&["SWAPDB", "0", "1.0"]),
            err("ERR invalid second DB index")
        );
        assert_eq!(
            h.run(&["SWAPDB", "x", "y"]),
            err("ERR invalid first DB index")
        );
        assert_eq!(
            h.run(&["SWAPDB", "4294967296", "0"]),
            err("ERR invalid first DB index")
        );
        assert_eq!(
            h.run(&["SWAPDB", "0", "16"]),
            err("ERR DB index is out of range")
        );
        assert_eq!(
            h.run(&["SWAPDB", "-1", "0"]),
            err("ERR DB index is out of range")
        );
    }

    #[test]
    fn scan_has_no_handler_here() {
        let mut h = harness();
        assert_eq!(
            h.run(&["SCAN", "0"]),
            err("ERR unknown command 'SCAN', with args beginning with: '0' ")
        );
    }

    fn scan_args(args: &[&str]) -> Vec<Bytes> {
        args.iter()
            .map(|arg| Bytes::copy_from_slice(arg.as_bytes()))
            .collect()
    }

    #[test]
    fn scan_options() {
        let parse = |args: &[&str]| parse_scan_options(&scan_args(args), 2);
        assert_eq!(parse(&["SCAN", "0"]), Ok(ScanOptions::default()));
        assert_eq!(
            parse(&["SCAN", "0", "match", "user:*", "COUNT", "100", "type", "STRING"]),
            Ok(ScanOptions {
                count: 100,
                pattern: Some(Bytes::from("user:*")),
                type_filter: Some(Bytes::from("STRING")),
            })
        );
        assert_eq!(
            parse(&["SCAN", "0", "MATCH", "*"]).map(|options| options.pattern),
            Ok(None)
        );
        assert_eq!(
            parse(&["SCAN", "0", "MATCH", "a", "MATCH", "*"]).map(|options| options.pattern),
            Ok(None)
        );
        assert_eq!(parse(&["SCAN", "0", "COUNT", "0"]), Err(err(ERR_SYNTAX)));
        assert_eq!(parse(&["SCAN", "0", "COUNT", "-3"]), Err(err(ERR_SYNTAX)));
        assert_eq!(
            parse(&["SCAN", "0", "COUNT", "ten"]),
            Err(err(ERR_NOT_INTEGER))
        );
        assert_eq!(parse(&["SCAN", "0", "COUNT"]), Err(err(ERR_SYNTAX)));
        assert_eq!(parse(&["SCAN", "0", "MATCH"]), Err(err(ERR_SYNTAX)));
        assert_eq!(parse(&["SCAN", "0", "NOVALUES"]), Err(err(ERR_SYNTAX)));
        // HSCAN-style callers start later.
        assert_eq!(
            parse_scan_options(&scan_args(&["HSCAN", "key", "0", "COUNT", "5"]), 3)
                .map(|o| o.count),
            Ok(5)
        );
    }
}
