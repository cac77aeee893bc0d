//! Memcached semantics over the shared keyspace, as internal commands.
//!
//! The memcached port turns every request into one of the commands below and routes it like any
//! RESP command, so each runs through `Shard::execute` on the key's owning shard and reaches the
//! binlog without special cases. Writes are deterministic: expiry is absolute (ms since the epoch,
//! `1` = already expired), and the new item's flags and CAS are arguments (the connection draws the
//! CAS from its core's [`CasSource`](crate::keyspace::CasSource) before routing). Replaying a write
//! therefore rebuilds the same item with the same CAS, and storing it raises the replaying
//! shard's CAS source above it.
//!
//! The names start with `__mc.`, which no Redis command can have. They are not in the RESP command
//! table (`command::lookup` does not find them, COMMAND does not list them, a RESP client calling
//! one gets "unknown command"); [`lookup_internal`] finds them for binlog replay.
//!
//! Handlers reply with an [`Outcome`] packed into a [`Reply`] (it travels between cores in the
//! existing reply mesh); the memcached connection unpacks it with [`Outcome::from_reply`] and
//! words it in the client's protocol.
//!
//! | command | arguments | outcome |
//! |---|---|---|
//! | `__mc.get` | key | Value, Miss |
//! | `__mc.gat` | key expire_at | Value, Miss (sets the deadline) |
//! | `__mc.touch` | key expire_at | Touched, NotFound |
//! | `__mc.store` | key mode data flags expire_at cas compare_cas | Stored, NotStored, Exists, NotFound |
//! | `__mc.delete` | key compare_cas | Deleted, NotFound, Exists |
//! | `__mc.arith` | key incr/decr delta cas compare_cas [vivify_expire_at initial] | Number, NotFound, NonNumeric, Exists |
//!
//! `compare_cas` 0 means "no comparison". A CAS compare against a missing key is NotFound, as in
//! memcached.

use bytes::Bytes;

use super::{CommandSpec, ExecContext, Routing};
use crate::keyspace::{Entry, Item, Value};
use crate::protocol::reply::Reply;

/// How `__mc.store` combines the new data with what is stored (memcached's store commands).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
}

impl StoreMode {
    pub fn name(self) -> &'static str {
        match self {
            StoreMode::Set => "set",
            StoreMode::Add => "add",
            StoreMode::Replace => "replace",
            StoreMode::Append => "append",
            StoreMode::Prepend => "prepend",
        }
    }

    fn parse(text: &[u8]) -> Option<StoreMode> {
        Some(match text {
            b"set" => StoreMode::Set,
            b"add" => StoreMode::Add,
            b"replace" => StoreMode::Replace,
            b"append" => StoreMode::Append,
            b"prepend" => StoreMode::Prepend,
            _ => return None,
        })
    }
}

/// An item as a read returns it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemView {
    pub data: Bytes,
    pub flags: u32,
    pub cas: u64,
    /// ms since the epoch, 0 = never.
    pub expire_at: u64,
    /// Seconds since the epoch of the access before this one.
    pub last_access: u32,
    /// Whether it had been read before this read.
    pub fetched: bool,
}

/// What a memcached command did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Value(ItemView),
    Miss,
    Stored(u64),
    NotStored,
    Exists,
    NotFound,
    Deleted,
    Touched,
    /// New counter value and the item's new CAS.
    Number(u64, u64),
    NonNumeric,
    /// An internal failure (bad internal arguments, or an unexpected reply); never from a client.
    Failed(String),
}

const VALUE: i64 = 0;
const MISS: i64 = 1;
const STORED: i64 = 2;
const NOT_STORED: i64 = 3;
const EXISTS: i64 = 4;
const NOT_FOUND: i64 = 5;
const DELETED: i64 = 6;
const TOUCHED: i64 = 7;
const NUMBER: i64 = 8;
const NON_NUMERIC: i64 = 9;

impl Outcome {
    pub fn into_reply(self) -> Reply {
        let code = |code: i64| Reply::Array(vec![Reply::Integer(code)]);
        match self {
            Outcome::Value(view) => Reply::Array(vec![
                Reply::Integer(VALUE),
                Reply::Bulk(view.data),
                Reply::Integer(view.flags as i64),
                Reply::Integer(view.cas as i64),
                Reply::Integer(view.expire_at as i64),
                Reply::Integer(view.last_access as i64),
                Reply::Integer(view.fetched as i64),
            ]),
            Outcome::Miss => code(MISS),
            Outcome::Stored(cas) => {
                Reply::Array(vec![Reply::Integer(STORED), Reply::Integer(cas as i64)])
            }
            Outcome::NotStored => code(NOT_STORED),
            Outcome::Exists => code(EXISTS),
            Outcome::NotFound => code(NOT_FOUND),
            Outcome::Deleted => code(DELETED),
            Outcome::Touched => code(TOUCHED),
            Outcome::Number(value, cas) => Reply::Array(vec![
                Reply::Integer(NUMBER),
                Reply::Integer(value as i64),
                Reply::Integer(cas as i64),
            ]),
            Outcome::NonNumeric => code(NON_NUMERIC),
            Outcome::Failed(text) => Reply::error(text),
        }
    }

    pub fn from_reply(reply: Reply) -> Outcome {
        let fields = match reply {
            Reply::Array(fields) => fields,
            Reply::Error(text) => return Outcome::Failed(String::from_utf8_lossy(&text).into()),
            other => return Outcome::Failed(format!("unexpected reply {other:?}")),
        };
        let int = |i: usize| match fields.get(i) {
            Some(Reply::Integer(n)) => *n,
            _ => 0,
        };
        match int(0) {
            VALUE => Outcome::Value(ItemView {
                data: match fields.get(1) {
                    Some(Reply::Bulk(data)) => data.clone(),
                    _ => Bytes::new(),
                },
                flags: int(2) as u32,
                cas: int(3) as u64,
                expire_at: int(4) as u64,
                last_access: int(5) as u32,
                fetched: int(6) != 0,
            }),
            MISS => Outcome::Miss,
            STORED => Outcome::Stored(int(1) as u64),
            NOT_STORED => Outcome::NotStored,
            EXISTS => Outcome::Exists,
            NOT_FOUND => Outcome::NotFound,
            DELETED => Outcome::Deleted,
            TOUCHED => Outcome::Touched,
            NUMBER => Outcome::Number(int(1) as u64, int(2) as u64),
            NON_NUMERIC => Outcome::NonNumeric,
            other => Outcome::Failed(format!("unknown outcome {other}")),
        }
    }
}

/// The fields every internal command shares: one key, at argument 1.
const INTERNAL: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &[],
    first_key: 1,
    last_key: 1,
    step: 1,
    routing: Routing::SingleKey,
    handler: None,
    group: "memcache",
    summary: "",
    since: "",
};

pub static GET: CommandSpec = CommandSpec {
    name: "__mc.get",
    arity: 2,
    flags: &["readonly", "fast"],
    handler: Some(get),
    summary: "memcached get: the item, stamping a CAS on a plain string.",
    ..INTERNAL
};
pub static GAT: CommandSpec = CommandSpec {
    name: "__mc.gat",
    arity: 3,
    flags: &["write", "fast"],
    handler: Some(gat),
    summary: "memcached gat: the item, after setting its deadline.",
    ..INTERNAL
};
pub static TOUCH: CommandSpec = CommandSpec {
    name: "__mc.touch",
    arity: 3,
    flags: &["write", "fast"],
    handler: Some(touch),
    summary: "memcached touch: sets the deadline.",
    ..INTERNAL
};
pub static STORE: CommandSpec = CommandSpec {
    name: "__mc.store",
    arity: 8,
    flags: &["write", "denyoom"],
    handler: Some(store),
    summary: "memcached set/add/replace/append/prepend/cas.",
    ..INTERNAL
};
pub static DELETE: CommandSpec = CommandSpec {
    name: "__mc.delete",
    arity: 3,
    flags: &["write", "fast"],
    handler: Some(delete),
    summary: "memcached delete, optionally compared with a CAS.",
    ..INTERNAL
};
pub static ARITH: CommandSpec = CommandSpec {
    name: "__mc.arith",
    arity: -6,
    flags: &["write", "denyoom"],
    handler: Some(arith),
    summary: "memcached incr/decr, optionally creating the counter.",
    ..INTERNAL
};

/// Every internal command, for binlog replay.
pub static COMMANDS: [&CommandSpec; 6] = [&GET, &GAT, &TOUCH, &STORE, &DELETE, &ARITH];

/// Finds an internal memcached command by its exact name (binlog replay; never RESP).
pub fn lookup_internal(name: &[u8]) -> Option<&'static CommandSpec> {
    COMMANDS
        .iter()
        .copied()
        .find(|spec| spec.name.as_bytes() == name)
}

/// `__mc.store` arguments in order.
pub fn store_args(
    key: Bytes,
    mode: StoreMode,
    data: Bytes,
    flags: u32,
    expire_at: u64,
    cas: u64,
    compare_cas: u64,
) -> Vec<Bytes> {
    vec![
        Bytes::from_static(STORE.name.as_bytes()),
        key,
        Bytes::from_static(mode.name().as_bytes()),
        data,
        number(flags as u64),
        number(expire_at),
        number(cas),
        number(compare_cas),
    ]
}

/// Decimal text of `n` as an argument.
pub fn number(n: u64) -> Bytes {
    Bytes::from(n.to_string())
}

fn arg_u64(args: &[Bytes], index: usize) -> Result<u64, Reply> {
    args.get(index)
        .and_then(|arg| std::str::from_utf8(arg).ok())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| Reply::error(format!("ERR internal memcached argument {index}")))
}

macro_rules! or_reply {
    ($result:expr) => {
        match $result {
            Ok(value) => value,
            Err(reply) => return reply,
        }
    };
}

fn seconds(now_ms: u64) -> u32 {
    (now_ms / 1000) as u32
}

fn is_past(expire_at: u64, now_ms: u64) -> bool {
    expire_at != 0 && expire_at <= now_ms
}

/// The live string under `key` as an item, converting a plain string into one with flags 0 and a
/// fresh CAS from this shard. `None` for a missing key or a value that is not a string.
fn item_mut<'a>(ctx: &'a mut ExecContext<'_>, key: &[u8]) -> Option<&'a mut Entry> {
    let now_ms = ctx.now_ms;
    let plain = match &ctx.db().get(key, now_ms)?.value {
        Value::String(data) => Some(data.clone()),
        _ => None,
    };
    if let Some(data) = plain {
        let cas = ctx.keyspace.cas.next();
        let entry = ctx.db().get_mut(key, now_ms)?;
        entry.value = Value::Item(Box::new(Item {
            data,
            cas,
            last_access: seconds(now_ms),
            ..Item::default()
        }));
    }
    let entry = ctx.db().get_mut(key, now_ms)?;
    matches!(entry.value, Value::Item(_)).then_some(entry)
}

/// Reads the item, marking it fetched and accessed; counts a keyspace hit or miss.
fn read(ctx: &mut ExecContext<'_>, key: &[u8]) -> Outcome {
    let now_ms = ctx.now_ms;
    let view = item_mut(ctx, key).and_then(|entry| {
        let expire_at = entry.expire_at;
        let Value::Item(item) = &mut entry.value else {
            return None;
        };
        let view = ItemView {
            data: item.data.clone(),
            flags: item.flags,
            cas: item.cas,
            expire_at,
            last_access: item.last_access,
            fetched: item.fetched,
        };
        item.fetched = true;
        item.last_access = seconds(now_ms);
        Some(view)
    });
    let stats = &mut ctx.keyspace.stats;
    match view {
        Some(view) => {
            stats.keyspace_hits += 1;
            Outcome::Value(view)
        }
        None => {
            stats.keyspace_misses += 1;
            Outcome::Miss
        }
    }
}

fn get(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    read(ctx, &args[1]).into_reply()
}

fn gat(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let expire_at = or_reply!(arg_u64(args, 2));
    let now_ms = ctx.now_ms;
    let outcome = read(ctx, &args[1]);
    if let Outcome::Value(view) = outcome {
        ctx.db().set_expire(&args[1], expire_at, now_ms);
        return Outcome::Value(ItemView { expire_at, ..view }).into_reply();
    }
    outcome.into_reply()
}

fn touch(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let expire_at = or_reply!(arg_u64(args, 2));
    let now_ms = ctx.now_ms;
    let found = ctx
        .db()
        .get(&args[1], now_ms)
        .is_some_and(|entry| entry.value.as_string().is_some());
    if !found {
        return Outcome::NotFound.into_reply();
    }
    ctx.db().set_expire(&args[1], expire_at, now_ms);
    Outcome::Touched.into_reply()
}

fn store(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let Some(mode) = StoreMode::parse(&args[2]) else {
        return Reply::error_static("ERR internal memcached store mode");
    };
    let flags = or_reply!(arg_u64(args, 4)) as u32;
    let expire_at = or_reply!(arg_u64(args, 5));
    let cas = or_reply!(arg_u64(args, 6));
    let compare_cas = or_reply!(arg_u64(args, 7));
    let (key, data, now_ms) = (&args[1], &args[3], ctx.now_ms);
    ctx.keyspace.cas.observe(cas);

    let current = item_mut(ctx, key).map(|entry| {
        let Value::Item(item) = &entry.value else {
            unreachable!("item_mut returns items only")
        };
        (item.data.clone(), item.flags, item.cas, entry.expire_at)
    });
    let exists = current.is_some();
    let refused = match (mode, exists) {
        (StoreMode::Add, true) => Some(Outcome::NotStored),
        (StoreMode::Set | StoreMode::Add, false) if compare_cas != 0 => Some(Outcome::NotFound),
        (StoreMode::Replace | StoreMode::Append | StoreMode::Prepend, false) => {
            Some(if compare_cas != 0 {
                Outcome::NotFound
            } else {
                Outcome::NotStored
            })
        }
        _ => None,
    };
    if let Some(outcome) = refused {
        return outcome.into_reply();
    }
    if let Some((_, _, current_cas, _)) = &current {
        if compare_cas != 0 && compare_cas != *current_cas {
            return Outcome::Exists.into_reply();
        }
    }
    // Append and prepend keep the item's flags and deadline (memcached ignores theirs).
    let (data, flags, expire_at) = match (mode, current) {
        (StoreMode::Append, Some((old, old_flags, _, old_expire))) => {
            (concat(&old, data), old_flags, old_expire)
        }
        (StoreMode::Prepend, Some((old, old_flags, _, old_expire))) => {
            (concat(data, &old), old_flags, old_expire)
        }
        _ => (Bytes::copy_from_slice(data), flags, expire_at),
    };
    if is_past(expire_at, now_ms) {
        // Memcached stores it and it is gone at once (a negative or past exptime).
        ctx.db().remove(key, now_ms);
        return Outcome::Stored(cas).into_reply();
    }
    let entry = Entry {
        value: Value::Item(Box::new(Item {
            data,
            flags,
            cas,
            last_access: seconds(now_ms),
            fetched: false,
        })),
        expire_at,
    };
    ctx.db().insert(Bytes::copy_from_slice(key), entry);
    Outcome::Stored(cas).into_reply()
}

fn concat(first: &[u8], second: &[u8]) -> Bytes {
    let mut joined = Vec::with_capacity(first.len() + second.len());
    joined.extend_from_slice(first);
    joined.extend_from_slice(second);
    Bytes::from(joined)
}

fn delete(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let compare_cas = or_reply!(arg_u64(args, 2));
    let (key, now_ms) = (&args[1], ctx.now_ms);
    let current_cas = match item_mut(ctx, key) {
        None => return Outcome::NotFound.into_reply(),
        Some(entry) => match &entry.value {
            Value::Item(item) => item.cas,
            _ => 0,
        },
    };
    if compare_cas != 0 && compare_cas != current_cas {
        return Outcome::Exists.into_reply();
    }
    ctx.db().remove(key, now_ms);
    Outcome::Deleted.into_reply()
}

/// Parses a counter the way memcached's `safe_strtoull` does: decimal digits, trailing spaces
/// allowed (memcached pads a shrunk counter with spaces), nothing else.
pub fn parse_counter(data: &[u8]) -> Option<u64> {
    let end = data
        .iter()
        .rposition(|&b| !b.is_ascii_whitespace())
        .map_or(0, |i| i + 1);
    let digits = &data[..end];
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

fn arith(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let incr = match &args[2][..] {
        b"incr" => true,
        b"decr" => false,
        _ => return Reply::error_static("ERR internal memcached arith mode"),
    };
    let delta = or_reply!(arg_u64(args, 3));
    let cas = or_reply!(arg_u64(args, 4));
    let compare_cas = or_reply!(arg_u64(args, 5));
    let vivify = match args.len() {
        8 => Some((or_reply!(arg_u64(args, 6)), or_reply!(arg_u64(args, 7)))),
        _ => None,
    };
    let (key, now_ms) = (&args[1], ctx.now_ms);
    ctx.keyspace.cas.observe(cas);
    let Some(entry) = item_mut(ctx, key) else {
        let Some((expire_at, initial)) = vivify else {
            return Outcome::NotFound.into_reply();
        };
        if !is_past(expire_at, now_ms) {
            let entry = Entry {
                value: Value::Item(Box::new(Item {
                    data: number(initial),
                    cas,
                    last_access: seconds(now_ms),
                    ..Item::default()
                })),
                expire_at,
            };
            ctx.db().insert(Bytes::copy_from_slice(key), entry);
        }
        return Outcome::Number(initial, cas).into_reply();
    };
    let Value::Item(item) = &mut entry.value else {
        return Outcome::NotFound.into_reply();
    };
    if compare_cas != 0 && compare_cas != item.cas {
        return Outcome::Exists.into_reply();
    }
    let Some(current) = parse_counter(&item.data) else {
        return Outcome::NonNumeric.into_reply();
    };
    // Memcached: incr wraps around at 2^64, decr stops at 0.
    let value = if incr {
        current.wrapping_add(delta)
    } else {
        current.saturating_sub(delta)
    };
    item.data = number(value);
    item.cas = cas;
    item.last_access = seconds(now_ms);
    Outcome::Number(value, cas).into_reply()
}

#[cfg(test)]
mod tests;
