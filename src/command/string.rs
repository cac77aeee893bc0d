//! String commands, Redis's `t_string.c`: GET, SET and its variants, MGET/MSET/MSETNX, APPEND,
//! STRLEN, the INCR family, INCRBYFLOAT, GETRANGE/SUBSTR and SETRANGE.
//!
//! Contracts every handler keeps:
//! - Replies and error texts are Redis 7's, byte for byte, and errors come in Redis's order
//!   (argument syntax first, then the key's type, then its value).
//! - Keys and values stored in the keyspace are copied out of `args`, which are slices of the
//!   connection's read buffer; storing them would pin that whole buffer. Replies may share the
//!   stored value's storage (`Bytes::clone`).
//! - Read lookups (GET, MGET, GETEX, GETDEL, GETSET, SET .. GET, GETRANGE, STRLEN) count a
//!   keyspace hit or miss as Redis's `lookupKeyRead` does: a hit whenever the key exists, whatever
//!   its type. Write lookups (INCR, APPEND, SETRANGE, ...) count nothing, as `lookupKeyWrite`.
//! - MGET, MSET and MSETNX work on any subset of their keys: the server layer splits them across
//!   shards by calling the same handlers with per-shard argument lists.
//! - A value that is not a string gives WRONGTYPE (MGET: a null), whatever types exist later.

use bytes::{Bytes, BytesMut};

use super::util::{self, eq_ignore_case};
use super::{arity_error, CommandSpec, ExecContext, Routing};
use crate::keyspace::{Entry, Value};
use crate::protocol::reply::Reply;

/// `?` for handlers: unwraps an `Ok` or returns the error reply.
macro_rules! or_reply {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(reply) => return reply,
        }
    };
}

/// The fields every single-key string command shares.
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
    group: "string",
    summary: "",
    since: "",
};

/// Arity, flags and key positions as Redis 7's `COMMAND INFO` reports them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "get",
        arity: 2,
        flags: &["readonly", "fast"],
        handler: Some(get),
        summary: "Returns the string value of a key.",
        since: "1.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "set",
        arity: -3,
        flags: &["write", "denyoom"],
        handler: Some(set),
        summary: "Sets the string value of a key, ignoring its type. The key is created if it doesn't exist.",
        since: "1.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "setnx",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(setnx),
        summary: "Set the string value of a key only when the key doesn't exist.",
        since: "1.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "setex",
        arity: 4,
        flags: &["write", "denyoom"],
        handler: Some(setex),
        summary: "Sets the string value and expiration time of a key. Creates the key if it doesn't exist.",
        since: "2.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "psetex",
        arity: 4,
        flags: &["write", "denyoom"],
        handler: Some(psetex),
        summary: "Sets both string value and expiration time in milliseconds of a key. The key is created if it doesn't exist.",
        since: "2.6.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "getset",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(getset),
        summary: "Returns the previous string value of a key after setting it to a new value.",
        since: "1.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "getdel",
        arity: 2,
        flags: &["write", "fast"],
        handler: Some(getdel),
        summary: "Returns the string value of a key after deleting the key.",
        since: "6.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "getex",
        arity: -2,
        flags: &["write", "fast"],
        handler: Some(getex),
        summary: "Returns the string value of a key after setting its expiration time.",
        since: "6.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "mget",
        arity: -2,
        flags: &["readonly", "fast"],
        last_key: -1,
        routing: Routing::MultiKey,
        handler: Some(mget),
        summary: "Atomically returns the string values of one or more keys.",
        since: "1.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "mset",
        arity: -3,
        flags: &["write", "denyoom"],
        last_key: -1,
        step: 2,
        key_finder: None,
        routing: Routing::MultiKey,
        handler: Some(mset),
        summary: "Atomically creates or modifies the string values of one or more keys.",
        since: "1.0.1",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "msetnx",
        arity: -3,
        flags: &["write", "denyoom"],
        last_key: -1,
        step: 2,
        key_finder: None,
        routing: Routing::MultiKey,
        handler: Some(msetnx),
        summary: "Atomically modifies the string values of one or more keys only when all keys don't exist.",
        since: "1.0.1",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "append",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(append),
        summary: "Appends a string to the value of a key. Creates the key if it doesn't exist.",
        since: "2.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "strlen",
        arity: 2,
        flags: &["readonly", "fast"],
        handler: Some(strlen),
        summary: "Returns the length of a string value.",
        since: "2.2.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "incr",
        arity: 2,
        flags: &["write", "denyoom", "fast"],
        handler: Some(incr),
        summary: "Increments the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        since: "1.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "decr",
        arity: 2,
        flags: &["write", "denyoom", "fast"],
        handler: Some(decr),
        summary: "Decrements the integer value of a key by one. Uses 0 as initial value if the key doesn't exist.",
        since: "1.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "incrby",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(incrby),
        summary: "Increments the integer value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        since: "1.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "decrby",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(decrby),
        summary: "Decrements a number from the integer value of a key. Uses 0 as initial value if the key doesn't exist.",
        since: "1.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "incrbyfloat",
        arity: 3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(incrbyfloat),
        summary: "Increment the floating point value of a key by a number. Uses 0 as initial value if the key doesn't exist.",
        since: "2.6.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "getrange",
        arity: 4,
        flags: &["readonly"],
        handler: Some(getrange),
        summary: "Returns a substring of the string stored at a key.",
        since: "2.4.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "substr",
        arity: 4,
        flags: &["readonly"],
        handler: Some(getrange),
        summary: "Returns a substring from string stored at a key.",
        since: "1.0.0",
        ..SINGLE_KEY
    },
    CommandSpec {
        name: "setrange",
        arity: 4,
        flags: &["write", "denyoom"],
        handler: Some(setrange),
        summary: "Overwrites a part of a string value with another by an offset. Creates the key if it doesn't exist.",
        since: "2.2.0",
        ..SINGLE_KEY
    },
];

const ERR_OFFSET_RANGE: &str = "ERR offset is out of range";
const ERR_STRING_TOO_LONG: &str = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
const ERR_DECREMENT_OVERFLOW: &str = "ERR decrement would overflow";
const ERR_FLOAT_OVERFLOW: &str = "ERR increment would produce NaN or Infinity";

// ---------------------------------------------------------------------------------------------
// Shared pieces
// ---------------------------------------------------------------------------------------------

/// The string inside an entry, or WRONGTYPE for any other kind of value.
fn string_value(entry: &Entry) -> Result<&[u8], Reply> {
    entry.value.as_string().ok_or_else(util::wrongtype_error)
}

/// The string inside an entry, for changing in place. A memcached item loses its flags and CAS
/// first, so memcached clients see the change as a new CAS.
fn string_value_mut(entry: &mut Entry) -> Result<&mut Bytes, Reply> {
    entry.value.string_mut().ok_or_else(util::wrongtype_error)
}

/// A read lookup (`lookupKeyRead`): the live string under `key` (`None` if absent), counting a
/// keyspace hit or miss. A value of another type counts as a hit and gives WRONGTYPE.
fn read_string(ctx: &mut ExecContext<'_>, key: &[u8]) -> Result<Option<Bytes>, Reply> {
    let now_ms = ctx.now_ms;
    let found = ctx
        .db()
        .get(key, now_ms)
        .map(|entry| entry.value.string_bytes().ok_or_else(util::wrongtype_error));
    let stats = &mut ctx.keyspace.stats;
    match found {
        Some(value) => {
            stats.keyspace_hits += 1;
            value.map(Some)
        }
        None => {
            stats.keyspace_misses += 1;
            Ok(None)
        }
    }
}

/// Stores a string under `key`, replacing any value; both are copied out of the request.
fn store_string(ctx: &mut ExecContext<'_>, key: &[u8], value: &[u8], expire_at: u64) {
    let entry = Entry {
        value: Value::string(value),
        expire_at,
    };
    ctx.db().insert(key, entry);
}

fn bulk_or_null(value: Option<Bytes>) -> Reply {
    value.map_or(Reply::Null, Reply::Bulk)
}

/// Redis's `checkStringLength`: a string may not grow past `proto-max-bulk-len`.
fn check_string_length(size: usize, append: usize, max: usize) -> Result<(), Reply> {
    match size.checked_add(append) {
        Some(total) if total <= max => Ok(()),
        _ => Err(Reply::error_static(ERR_STRING_TOO_LONG)),
    }
}

/// Takes a stored string out for in-place editing. When the entry is its only owner the buffer is
/// reused, so repeated APPEND/SETRANGE grow one allocation with amortized doubling (as Redis's sds
/// does) instead of copying the whole string each time. A value still shared (a reply not yet
/// written out holds a clone) is copied once, with room for `additional` more bytes.
fn take_for_edit(stored: &mut Bytes, additional: usize) -> BytesMut {
    match std::mem::take(stored).try_into_mut() {
        Ok(buffer) => buffer,
        Err(shared) => {
            let mut buffer = BytesMut::with_capacity(shared.len().saturating_add(additional));
            buffer.extend_from_slice(&shared);
            buffer
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SET / GETEX options (Redis's `parseExtendedStringArgumentsOrReply`)
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    /// Seconds from now.
    Ex,
    /// Milliseconds from now.
    Px,
    /// Unix time in seconds.
    ExAt,
    /// Unix time in milliseconds.
    PxAt,
}

/// Which command's options are being parsed: SET takes NX/XX/GET/KEEPTTL, GETEX takes PERSIST.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OptionsFor {
    Set,
    GetEx,
}

#[derive(Debug, Default)]
struct StringOptions<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keep_ttl: bool,
    persist: bool,
    expire: Option<(ExpireKind, &'a Bytes)>,
}

/// Parses the options after the key (GETEX) or value (SET), refusing the combinations Redis
/// refuses with a syntax error: NX with XX, two different expiry forms, KEEPTTL or PERSIST with
/// an expiry. Repeating the same option is accepted (the last expiry wins), as in Redis.
fn parse_options(options: &[Bytes], command: OptionsFor) -> Result<StringOptions<'_>, Reply> {
    let mut parsed = StringOptions::default();
    let set = command == OptionsFor::Set;
    let mut index = 0;
    while index < options.len() {
        let option = &options[index][..];
        let next = options.get(index + 1);
        let expire_kind = parsed.expire.map(|(kind, _)| kind);
        // An expiry form may repeat itself but not follow another form, KEEPTTL or PERSIST.
        let expiry_allowed = |kind: ExpireKind| {
            !parsed.keep_ttl && !parsed.persist && expire_kind.is_none_or(|seen| seen == kind)
        };
        let kind = if eq_ignore_case(option, "EX") {
            Some(ExpireKind::Ex)
        } else if eq_ignore_case(option, "PX") {
            Some(ExpireKind::Px)
        } else if eq_ignore_case(option, "EXAT") {
            Some(ExpireKind::ExAt)
        } else if eq_ignore_case(option, "PXAT") {
            Some(ExpireKind::PxAt)
        } else {
            None
        };
        match (kind, next) {
            (Some(kind), Some(value)) if expiry_allowed(kind) => {
                parsed.expire = Some((kind, value));
                index += 1;
            }
            (Some(_), _) => return Err(util::syntax_error()),
            (None, _) if set && eq_ignore_case(option, "NX") && !parsed.xx => parsed.nx = true,
            (None, _) if set && eq_ignore_case(option, "XX") && !parsed.nx => parsed.xx = true,
            (None, _) if set && eq_ignore_case(option, "GET") => parsed.get = true,
            (None, _) if set && eq_ignore_case(option, "KEEPTTL") && expire_kind.is_none() => {
                parsed.keep_ttl = true
            }
            (None, _)
                if !set
                    && eq_ignore_case(option, "PERSIST")
                    && expire_kind.is_none()
                    && !parsed.keep_ttl =>
            {
                parsed.persist = true
            }
            (None, _) => return Err(util::syntax_error()),
        }
        index += 1;
    }
    Ok(parsed)
}

/// Redis's `getExpireMillisecondsOrReply`: the absolute deadline in ms for an expiry option.
/// Zero, negative or overflowing times give "invalid expire time in '<command>' command".
fn expire_deadline(
    kind: ExpireKind,
    arg: &Bytes,
    now_ms: u64,
    command: &str,
) -> Result<u64, Reply> {
    let amount = util::integer_arg(arg)?;
    let invalid = || Reply::error(format!("ERR invalid expire time in '{command}' command"));
    if amount <= 0 {
        return Err(invalid());
    }
    let milliseconds = match kind {
        ExpireKind::Ex | ExpireKind::ExAt => amount.checked_mul(1000).ok_or_else(invalid)?,
        ExpireKind::Px | ExpireKind::PxAt => amount,
    };
    let deadline = match kind {
        ExpireKind::Ex | ExpireKind::Px => milliseconds
            .checked_add(now_ms as i64)
            .ok_or_else(invalid)?,
        ExpireKind::ExAt | ExpireKind::PxAt => milliseconds,
    };
    Ok(deadline as u64)
}

/// What a SET-family write did.
struct SetOutcome {
    /// False when NX/XX stopped it.
    written: bool,
    /// The previous value, read only when the GET option was given.
    old: Option<Bytes>,
}

/// Redis's `setGenericCommand`: validates the expiry, reads the old value for GET (which may
/// fail with WRONGTYPE before anything is written), applies NX/XX, then stores. The TTL is
/// cleared unless KEEPTTL keeps it or an expiry replaces it.
fn set_generic(
    ctx: &mut ExecContext<'_>,
    key: &[u8],
    value: &[u8],
    options: &StringOptions<'_>,
    command: &str,
) -> Result<SetOutcome, Reply> {
    let deadline = match options.expire {
        Some((kind, arg)) => Some(expire_deadline(kind, arg, ctx.now_ms, command)?),
        None => None,
    };
    let old = if options.get {
        read_string(ctx, key)?
    } else {
        None
    };
    let now_ms = ctx.now_ms;
    let existing_deadline = ctx.db().get(key, now_ms).map(|entry| entry.expire_at);
    let found = existing_deadline.is_some();
    if (options.nx && found) || (options.xx && !found) {
        return Ok(SetOutcome {
            written: false,
            old,
        });
    }
    let expire_at = match deadline {
        Some(deadline) => deadline,
        None if options.keep_ttl => existing_deadline.unwrap_or(0),
        None => 0,
    };
    store_string(ctx, key, value, expire_at);
    Ok(SetOutcome { written: true, old })
}

// ---------------------------------------------------------------------------------------------
// GET and SET families
// ---------------------------------------------------------------------------------------------

/// GET key
fn get(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    bulk_or_null(or_reply!(read_string(ctx, &args[1])))
}

/// SET key value [NX | XX] [GET] [EX s | PX ms | EXAT ts | PXAT ms-ts | KEEPTTL]
fn set(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let options = or_reply!(parse_options(&args[3..], OptionsFor::Set));
    let outcome = or_reply!(set_generic(ctx, &args[1], &args[2], &options, "set"));
    if options.get {
        bulk_or_null(outcome.old)
    } else if outcome.written {
        Reply::ok()
    } else {
        Reply::Null
    }
}

/// SETNX key value: 1 if set, 0 if the key existed.
fn setnx(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let options = StringOptions {
        nx: true,
        ..StringOptions::default()
    };
    let outcome = or_reply!(set_generic(ctx, &args[1], &args[2], &options, "setnx"));
    Reply::Integer(outcome.written as i64)
}

/// SETEX key seconds value
fn setex(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    set_with_expire(ctx, args, ExpireKind::Ex, "setex")
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    set_with_expire(ctx, args, ExpireKind::Px, "psetex")
}

fn set_with_expire(
    ctx: &mut ExecContext<'_>,
    args: &[Bytes],
    kind: ExpireKind,
    command: &str,
) -> Reply {
    let options = StringOptions {
        expire: Some((kind, &args[2])),
        ..StringOptions::default()
    };
    or_reply!(set_generic(ctx, &args[1], &args[3], &options, command));
    Reply::ok()
}

/// GETSET key value: the old value; the new one is stored without a TTL.
fn getset(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let old = or_reply!(read_string(ctx, &args[1]));
    store_string(ctx, &args[1], &args[2], 0);
    bulk_or_null(old)
}

/// GETDEL key
fn getdel(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let value = or_reply!(read_string(ctx, &args[1]));
    if value.is_some() {
        let now_ms = ctx.now_ms;
        ctx.db().remove(&args[1], now_ms);
    }
    bulk_or_null(value)
}

/// GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
///
/// As in Redis, a missing key answers null before the expiry is validated, and a deadline that
/// has already passed (EXAT/PXAT) deletes the key after returning its value.
fn getex(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let options = or_reply!(parse_options(&args[2..], OptionsFor::GetEx));
    let Some(value) = or_reply!(read_string(ctx, &args[1])) else {
        return Reply::Null;
    };
    let now_ms = ctx.now_ms;
    let deadline = match options.expire {
        Some((kind, arg)) => Some(or_reply!(expire_deadline(kind, arg, now_ms, "getex"))),
        None => None,
    };
    let db = ctx.db();
    match deadline {
        Some(deadline) if deadline <= now_ms => {
            db.remove(&args[1], now_ms);
        }
        Some(deadline) => {
            db.set_expire(&args[1], deadline, now_ms);
        }
        None if options.persist => {
            db.set_expire(&args[1], 0, now_ms);
        }
        None => {}
    }
    Reply::Bulk(value)
}

// ---------------------------------------------------------------------------------------------
// Multi-key
// ---------------------------------------------------------------------------------------------

/// MGET key [key ...]: a null for each missing key or non-string value.
fn mget(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let values = args[1..].iter().map(|key| match read_string(ctx, key) {
        Ok(value) => bulk_or_null(value),
        Err(_) => Reply::Null,
    });
    Reply::Array(values.collect())
}

/// MSET key value [key value ...]: every key loses its TTL.
fn mset(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    for pair in or_reply!(key_value_pairs(args)) {
        store_string(ctx, &pair[0], &pair[1], 0);
    }
    Reply::ok()
}

/// MSETNX key value [key value ...]: sets all keys (1) only if none exists, else nothing (0).
fn msetnx(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let pairs = or_reply!(key_value_pairs(args));
    let now_ms = ctx.now_ms;
    let db = ctx.db();
    if pairs.clone().any(|pair| db.contains(&pair[0], now_ms)) {
        return Reply::Integer(0);
    }
    for pair in pairs {
        store_string(ctx, &pair[0], &pair[1], 0);
    }
    Reply::Integer(1)
}

/// The key/value pairs of MSET/MSETNX; an odd count is Redis's arity error.
fn key_value_pairs(args: &[Bytes]) -> Result<std::slice::ChunksExact<'_, Bytes>, Reply> {
    if args.len().is_multiple_of(2) {
        return Err(arity_error(&args[0]));
    }
    Ok(args[1..].chunks_exact(2))
}

// ---------------------------------------------------------------------------------------------
// In-place edits: APPEND, SETRANGE, GETRANGE, STRLEN
// ---------------------------------------------------------------------------------------------

/// APPEND key value: the new length. Keeps the TTL.
fn append(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let (now_ms, max_len) = (ctx.now_ms, ctx.limits.proto_max_bulk_len);
    let (key, suffix) = (&args[1], &args[2]);
    let db = ctx.db();
    match db.get_mut(key, now_ms) {
        None => {
            let entry = Entry {
                value: Value::string(suffix),
                expire_at: 0,
            };
            db.insert(key, entry);
            Reply::Integer(suffix.len() as i64)
        }
        Some(entry) => {
            let stored = or_reply!(string_value_mut(entry));
            or_reply!(check_string_length(stored.len(), suffix.len(), max_len));
            let mut buffer = take_for_edit(stored, suffix.len());
            buffer.extend_from_slice(suffix);
            *stored = buffer.freeze();
            Reply::Integer(stored.len() as i64)
        }
    }
}

/// SETRANGE key offset value: overwrites from `offset`, zero-padding a shorter string; the new
/// length. An empty value changes nothing (and creates no key). Keeps the TTL.
fn setrange(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let offset = or_reply!(util::integer_arg(&args[2]));
    let Ok(offset) = usize::try_from(offset) else {
        return Reply::error_static(ERR_OFFSET_RANGE);
    };
    let (now_ms, max_len) = (ctx.now_ms, ctx.limits.proto_max_bulk_len);
    let (key, patch) = (&args[1], &args[3]);
    let db = ctx.db();
    match db.get_mut(key, now_ms) {
        None => {
            if patch.is_empty() {
                return Reply::Integer(0);
            }
            or_reply!(check_string_length(offset, patch.len(), max_len));
            let mut buffer = BytesMut::zeroed(offset + patch.len());
            buffer[offset..].copy_from_slice(patch);
            let length = buffer.len();
            let entry = Entry {
                value: Value::from_bytes(buffer.freeze()),
                expire_at: 0,
            };
            db.insert(key, entry);
            Reply::Integer(length as i64)
        }
        Some(entry) => {
            let stored = or_reply!(string_value_mut(entry));
            if patch.is_empty() {
                return Reply::Integer(stored.len() as i64);
            }
            or_reply!(check_string_length(offset, patch.len(), max_len));
            let end = offset + patch.len();
            let mut buffer = take_for_edit(stored, end.saturating_sub(stored.len()));
            if buffer.len() < end {
                buffer.resize(end, 0);
            }
            buffer[offset..end].copy_from_slice(patch);
            *stored = buffer.freeze();
            Reply::Integer(stored.len() as i64)
        }
    }
}

/// GETRANGE key start end (and SUBSTR): inclusive, negative indices count from the end, clamped
/// to the string; an empty string for a missing key or an empty range.
fn getrange(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let start = or_reply!(util::integer_arg(&args[2]));
    let end = or_reply!(util::integer_arg(&args[3]));
    let Some(value) = or_reply!(read_string(ctx, &args[1])) else {
        return Reply::Bulk(Bytes::new());
    };
    match substring_range(start, end, value.len()) {
        Some((first, last)) => Reply::Bulk(value.slice(first..=last)),
        None => Reply::Bulk(Bytes::new()),
    }
}

/// Redis 7's `getrangeCommand` index arithmetic: the inclusive byte range, or `None` if empty.
fn substring_range(start: i64, end: i64, length: usize) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let length = length as i128;
    let resolve = |index: i64| {
        let index = index as i128;
        (if index < 0 { length + index } else { index }).max(0)
    };
    let start = resolve(start);
    let end = resolve(end).min(length - 1);
    if start > end || length == 0 {
        return None;
    }
    Some((start as usize, end as usize))
}

/// STRLEN key: 0 for a missing key.
fn strlen(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let value = or_reply!(read_string(ctx, &args[1]));
    Reply::Integer(value.map_or(0, |value| value.len() as i64))
}

// ---------------------------------------------------------------------------------------------
// Counters: INCR, DECR, INCRBY, DECRBY, INCRBYFLOAT
// ---------------------------------------------------------------------------------------------

/// INCR key
fn incr(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    increment_by(ctx, &args[1], 1)
}

/// DECR key
fn decr(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    increment_by(ctx, &args[1], -1)
}

/// INCRBY key increment
fn incrby(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let increment = or_reply!(util::integer_arg(&args[2]));
    increment_by(ctx, &args[1], increment)
}

/// DECRBY key decrement; `i64::MIN` cannot be negated, so Redis refuses it up front.
fn decrby(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let decrement = or_reply!(util::integer_arg(&args[2]));
    match decrement.checked_neg() {
        Some(increment) => increment_by(ctx, &args[1], increment),
        None => Reply::error_static(ERR_DECREMENT_OVERFLOW),
    }
}

/// Redis's `incrDecrCommand`: a missing key counts from 0; the stored text must be an integer as
/// `string2ll` reads it; the TTL is kept.
fn increment_by(ctx: &mut ExecContext<'_>, key: &[u8], increment: i64) -> Reply {
    let now_ms = ctx.now_ms;
    let db = ctx.db();
    let entry = db.get_mut(key, now_ms);
    let current = match &entry {
        Some(entry) => {
            let stored = or_reply!(string_value(entry));
            or_reply!(util::parse_i64(stored).ok_or_else(util::not_integer_error))
        }
        None => 0,
    };
    let Some(updated) = current.checked_add(increment) else {
        return Reply::error_static(util::ERR_OVERFLOW);
    };
    let text = util::integer_text(updated);
    match entry {
        Some(entry) => entry.value = Value::from_bytes(text),
        None => {
            let entry = Entry {
                value: Value::from_bytes(text),
                expire_at: 0,
            };
            db.insert(key, entry);
        }
    }
    Reply::Integer(updated)
}

/// INCRBYFLOAT key increment: the new value as a bulk string, stored as that same text. Keeps
/// the TTL. Errors in Redis's order: type, stored value, increment, then a non-finite result.
fn incrbyfloat(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let (key, now_ms) = (&args[1], ctx.now_ms);
    let not_float = || Reply::error_static(util::ERR_NOT_FLOAT);
    let db = ctx.db();
    let entry = db.get_mut(key, now_ms);
    let current = match &entry {
        Some(entry) => {
            let stored = or_reply!(string_value(entry));
            or_reply!(util::parse_f64(stored).ok_or_else(not_float))
        }
        None => 0.0,
    };
    let increment = or_reply!(util::parse_f64(&args[2]).ok_or_else(not_float));
    let updated = current + increment;
    if !updated.is_finite() {
        return Reply::error_static(ERR_FLOAT_OVERFLOW);
    }
    let text = Bytes::from(format_float_human(updated));
    match entry {
        Some(entry) => entry.value = Value::string(&text),
        None => {
            let entry = Entry {
                value: Value::string(&text),
                expire_at: 0,
            };
            db.insert(key, entry);
        }
    }
    Reply::Bulk(text)
}

/// Redis's `ld2string(.., LD_STR_HUMAN)`: `%.17Lf` with trailing zeros and a trailing '.' cut,
/// and "-0" shown as "0". Redis adds in 80-bit long double; we add in f64 and print the shortest
/// text that reads back to the same f64, which is what the long double shows for ordinary decimal
/// input (10.5 + 0.1 = "10.6", where `%.17f` of the f64 would give "10.59999999999999964"). A
/// number needing more than 17 decimals is rounded to 17, as `%.17Lf` does. Known differences:
/// results beyond f64's range are refused (long double would hold them), and integers above
/// 2^53 show f64's shortest digits rather than the long double's exact ones.
pub(crate) fn format_float_human(value: f64) -> String {
    let shortest = format!("{value}");
    let text = match shortest.split_once('.') {
        Some((_, decimals)) if decimals.len() > 17 => {
            let rounded = format!("{value:.17}");
            rounded
                .trim_end_matches('0')
                .trim_end_matches('.')
                .to_string()
        }
        _ => shortest,
    };
    if text == "-0" {
        "0".to_string()
    } else {
        text
    }
}

#[cfg(test)]
mod tests;
