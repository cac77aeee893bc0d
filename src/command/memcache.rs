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
//! | `__mc.get` | key [u] | Value, Miss (`u`: leave the fetched bit and access time alone) |
//! | `__mc.gat` | key ttl_at vivify_at recache_at cas | Value, Miss (mg T/N/R, gat) |
//! | `__mc.touch` | key expire_at | Touched, NotFound |
//! | `__mc.store` | key mode data flags expire_at cas compare_cas | Stored, NotStored, Exists, NotFound |
//! | `__mc.delete` | key compare_cas [stale_ttl_at cas] | Deleted, NotFound, Exists |
//! | `__mc.arith` | key incr/decr delta cas compare_cas vivify_at initial ttl_at | Value (the number), NotFound, NonNumeric, Exists |
//!
//! Times are ms since the epoch (0 = never, 1 = already past); an empty argument means "not
//! given" (no CAS to compare, no TTL to set, no item to create). A CAS compare against a missing
//! key is NotFound, as in memcached, except for append/prepend, which are NotStored.

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
    /// Meta `W`: this request won the recache token.
    pub won: bool,
    /// Meta `Z`: a token was already handed out.
    pub token_sent: bool,
    /// Meta `X`: the item is stale.
    pub stale: bool,
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
                Reply::Integer(
                    view.fetched as i64
                        | (view.won as i64) << 1
                        | (view.token_sent as i64) << 2
                        | (view.stale as i64) << 3,
                ),
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
                fetched: int(6) & 1 != 0,
                won: int(6) & 2 != 0,
                token_sent: int(6) & 4 != 0,
                stale: int(6) & 8 != 0,
            }),
            MISS => Outcome::Miss,
            STORED => Outcome::Stored(int(1) as u64),
            NOT_STORED => Outcome::NotStored,
            EXISTS => Outcome::Exists,
            NOT_FOUND => Outcome::NotFound,
            DELETED => Outcome::Deleted,
            TOUCHED => Outcome::Touched,
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
    arity: -2,
    flags: &["readonly", "fast"],
    handler: Some(get),
    summary: "memcached get: the item, stamping a CAS on a plain string.",
    ..INTERNAL
};
pub static GAT: CommandSpec = CommandSpec {
    name: "__mc.gat",
    arity: 6,
    flags: &["write", "fast"],
    handler: Some(gat),
    summary: "memcached gat and mg T/N/R: the item, after setting its deadline or creating it.",
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
    arity: -3,
    flags: &["write", "fast"],
    handler: Some(delete),
    summary: "memcached delete, optionally compared with a CAS.",
    ..INTERNAL
};
pub static ARITH: CommandSpec = CommandSpec {
    name: "__mc.arith",
    arity: 9,
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
    compare_cas: Option<u64>,
) -> Vec<Bytes> {
    vec![
        Bytes::from_static(STORE.name.as_bytes()),
        key,
        Bytes::from_static(mode.name().as_bytes()),
        data,
        number(flags as u64),
        number(expire_at),
        number(cas),
        optional(compare_cas),
    ]
}

/// Decimal text of `n` as an argument.
pub fn number(n: u64) -> Bytes {
    Bytes::from(n.to_string())
}

/// An optional number as an argument: empty when absent.
pub fn optional(n: Option<u64>) -> Bytes {
    n.map_or_else(Bytes::new, number)
}

fn arg_u64(args: &[Bytes], index: usize) -> Result<u64, Reply> {
    arg_optional(args, index)?
        .ok_or_else(|| Reply::error(format!("ERR internal memcached argument {index}")))
}

fn arg_optional(args: &[Bytes], index: usize) -> Result<Option<u64>, Reply> {
    match args.get(index) {
        Some(arg) if arg.is_empty() => Ok(None),
        Some(arg) => std::str::from_utf8(arg)
            .ok()
            .and_then(|text| text.parse().ok())
            .map(Some)
            .ok_or_else(|| Reply::error(format!("ERR internal memcached argument {index}"))),
        None => Ok(None),
    }
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
        let cas = ctx.keyspace.cas.draw();
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

/// What a read returns of an entry, and the read's effect on it: the fetched bit and access time
/// (unless `no_update`), and the recache token a stale item hands to its first reader.
fn view_and_mark(entry: &mut Entry, now_ms: u64, no_update: bool) -> Option<ItemView> {
    let expire_at = entry.expire_at;
    let Value::Item(item) = &mut entry.value else {
        return None;
    };
    let won = item.stale && !item.token_sent;
    let view = ItemView {
        data: item.data.clone(),
        flags: item.flags,
        cas: item.cas,
        expire_at,
        last_access: item.last_access,
        fetched: item.fetched,
        won,
        token_sent: item.token_sent,
        stale: item.stale,
    };
    if won {
        item.token_sent = true;
    }
    if !no_update {
        item.fetched = true;
        item.last_access = seconds(now_ms);
    }
    Some(view)
}

/// Counts a keyspace hit or miss, as RESP reads do.
fn count_read(ctx: &mut ExecContext<'_>, hit: bool) {
    let stats = &mut ctx.keyspace.stats;
    if hit {
        stats.keyspace_hits += 1;
    } else {
        stats.keyspace_misses += 1;
    }
}

fn get(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let no_update = args.get(2).is_some_and(|arg| &arg[..] == b"u");
    let now_ms = ctx.now_ms;
    let view = item_mut(ctx, &args[1]).and_then(|entry| view_and_mark(entry, now_ms, no_update));
    count_read(ctx, view.is_some());
    view.map_or(Outcome::Miss, Outcome::Value).into_reply()
}

/// gat, and mg with T (new TTL), N (create on a miss: an empty item, whose creator wins the
/// token) or R (win the token when less TTL than this is left).
fn gat(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let ttl_at = or_reply!(arg_optional(args, 2));
    let vivify_at = or_reply!(arg_optional(args, 3));
    let recache_at = or_reply!(arg_optional(args, 4));
    let cas = or_reply!(arg_u64(args, 5));
    let (key, now_ms) = (&args[1], ctx.now_ms);
    ctx.keyspace.cas.observe(cas);
    let exists = item_mut(ctx, key).is_some();
    count_read(ctx, exists);
    if !exists {
        let Some(vivify_at) = vivify_at else {
            return Outcome::Miss.into_reply();
        };
        let expire_at = ttl_at.unwrap_or(vivify_at);
        let item = Item {
            cas,
            last_access: seconds(now_ms),
            token_sent: true,
            ..Item::default()
        };
        let view = ItemView {
            cas,
            expire_at,
            last_access: item.last_access,
            won: true,
            ..ItemView::default()
        };
        if !is_past(expire_at, now_ms) {
            let entry = Entry {
                value: Value::Item(Box::new(item)),
                expire_at,
            };
            ctx.db().insert(Bytes::copy_from_slice(key), entry);
        }
        return Outcome::Value(view).into_reply();
    }
    if let Some(ttl_at) = ttl_at {
        ctx.db().set_expire(key, ttl_at, now_ms);
        if is_past(ttl_at, now_ms) {
            return Outcome::Miss.into_reply();
        }
    }
    let Some(entry) = ctx.db().get_mut(key, now_ms) else {
        return Outcome::Miss.into_reply();
    };
    let recache = recache_at.is_some_and(|threshold| {
        matches!(&entry.value, Value::Item(item) if !item.token_sent)
            && entry.expire_at != 0
            && entry.expire_at < threshold
    });
    let Some(mut view) = view_and_mark(entry, now_ms, false) else {
        return Outcome::Miss.into_reply();
    };
    if recache {
        if let Value::Item(item) = &mut entry.value {
            item.token_sent = true;
        }
        view.won = true;
    }
    Outcome::Value(view).into_reply()
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
    let compare_cas = or_reply!(arg_optional(args, 7));
    let (key, data) = (&args[1], &args[3]);
    ctx.keyspace.cas.observe(cas);

    let current = item_mut(ctx, key).map(|entry| match &entry.value {
        Value::Item(item) => (item.data.clone(), item.flags, item.cas, entry.expire_at),
        _ => (Bytes::new(), 0, 0, entry.expire_at),
    });
    let Some((old_data, old_flags, old_cas, old_expire)) = current else {
        return match (mode, compare_cas) {
            (StoreMode::Append | StoreMode::Prepend, _) | (StoreMode::Replace, None) => {
                Outcome::NotStored.into_reply()
            }
            (_, Some(_)) => Outcome::NotFound.into_reply(),
            _ => put(
                ctx,
                key,
                Bytes::copy_from_slice(data),
                flags,
                expire_at,
                cas,
            ),
        };
    };
    if mode == StoreMode::Add {
        return Outcome::NotStored.into_reply();
    }
    if compare_cas.is_some_and(|compare| compare != old_cas) {
        return Outcome::Exists.into_reply();
    }
    // Append and prepend keep the item's flags and deadline (memcached ignores theirs).
    match mode {
        StoreMode::Append => put(
            ctx,
            key,
            concat(&old_data, data),
            old_flags,
            old_expire,
            cas,
        ),
        StoreMode::Prepend => put(
            ctx,
            key,
            concat(data, &old_data),
            old_flags,
            old_expire,
            cas,
        ),
        _ => put(
            ctx,
            key,
            Bytes::copy_from_slice(data),
            flags,
            expire_at,
            cas,
        ),
    }
}

/// Stores an item; one whose deadline has passed is stored and gone at once (memcached's answer
/// to a negative or past exptime), which here means the key is removed.
fn put(
    ctx: &mut ExecContext<'_>,
    key: &[u8],
    data: Bytes,
    flags: u32,
    expire_at: u64,
    cas: u64,
) -> Reply {
    let now_ms = ctx.now_ms;
    if is_past(expire_at, now_ms) {
        ctx.db().remove(key, now_ms);
        return Outcome::Stored(cas).into_reply();
    }
    let entry = Entry {
        value: Value::Item(Box::new(Item {
            data,
            flags,
            cas,
            last_access: seconds(now_ms),
            ..Item::default()
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

/// delete and md; with a stale TTL and a CAS (md's `I`), marks the item stale instead: it keeps
/// its data, gets the new CAS (and the TTL, when one is given) and hands its next reader a token.
fn delete(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let compare_cas = or_reply!(arg_optional(args, 2));
    let stale = args.len() >= 5;
    let stale_ttl = or_reply!(arg_optional(args, 3));
    let new_cas = or_reply!(arg_optional(args, 4));
    let (key, now_ms) = (&args[1], ctx.now_ms);
    let Some(entry) = item_mut(ctx, key) else {
        return Outcome::NotFound.into_reply();
    };
    let Value::Item(item) = &mut entry.value else {
        return Outcome::NotFound.into_reply();
    };
    if compare_cas.is_some_and(|compare| compare != item.cas) {
        return Outcome::Exists.into_reply();
    }
    if stale {
        item.stale = true;
        item.token_sent = false;
        if let Some(cas) = new_cas {
            item.cas = cas;
        }
        if let Some(cas) = new_cas {
            ctx.keyspace.cas.observe(cas);
        }
        if let Some(ttl_at) = stale_ttl {
            ctx.db().set_expire(key, ttl_at, now_ms);
        }
        return Outcome::Deleted.into_reply();
    }
    ctx.db().remove(key, now_ms);
    Outcome::Deleted.into_reply()
}

/// Parses a counter the way memcached's `safe_strtoull` does: optional leading whitespace,
/// decimal digits, then nothing but whitespace (memcached pads a shrunk counter with spaces).
pub fn parse_counter(data: &[u8]) -> Option<u64> {
    let text = std::str::from_utf8(data).ok()?;
    let digits = text
        .trim_start()
        .trim_end_matches(|c: char| c.is_ascii_whitespace());
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

fn arith(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let incr = match &args[2][..] {
        b"incr" => true,
        b"decr" => false,
        _ => return Reply::error_static("ERR internal memcached arith mode"),
    };
    let delta = or_reply!(arg_u64(args, 3));
    let cas = or_reply!(arg_u64(args, 4));
    let compare_cas = or_reply!(arg_optional(args, 5));
    let vivify_at = or_reply!(arg_optional(args, 6));
    let initial = or_reply!(arg_optional(args, 7)).unwrap_or(0);
    let ttl_at = or_reply!(arg_optional(args, 8));
    let (key, now_ms) = (&args[1], ctx.now_ms);
    ctx.keyspace.cas.observe(cas);
    let Some(entry) = item_mut(ctx, key) else {
        let Some(vivify_at) = vivify_at else {
            return Outcome::NotFound.into_reply();
        };
        let expire_at = ttl_at.unwrap_or(vivify_at);
        let text = number(initial);
        put(ctx, key, text.clone(), 0, expire_at, cas);
        return Outcome::Value(ItemView {
            data: text,
            cas,
            expire_at,
            ..ItemView::default()
        })
        .into_reply();
    };
    let Value::Item(item) = &mut entry.value else {
        return Outcome::NotFound.into_reply();
    };
    if compare_cas.is_some_and(|compare| compare != item.cas) {
        return Outcome::Exists.into_reply();
    }
    // Memcached refuses empty values, and values too long to be a number, as non-numeric.
    let Some(current) = parse_counter(&item.data).filter(|_| item.data.len() <= 20) else {
        return Outcome::NonNumeric.into_reply();
    };
    // Memcached: incr wraps around at 2^64, decr stops at 0.
    let value = if incr {
        current.wrapping_add(delta)
    } else {
        current.saturating_sub(delta)
    };
    let text = number(value);
    // Memcached rewrites a counter in place when the new number fits, padding it with spaces to
    // the old length (so `get` after a decr from 10 to 9 returns "9 ").
    item.data = if text.len() < item.data.len() {
        let mut padded = text.to_vec();
        padded.resize(item.data.len(), b' ');
        Bytes::from(padded)
    } else {
        text.clone()
    };
    item.cas = cas;
    item.last_access = seconds(now_ms);
    let view = ItemView {
        data: text,
        flags: item.flags,
        cas,
        expire_at: entry.expire_at,
        ..ItemView::default()
    };
    if let Some(ttl_at) = ttl_at {
        ctx.db().set_expire(key, ttl_at, now_ms);
        return Outcome::Value(ItemView {
            expire_at: ttl_at,
            ..view
        })
        .into_reply();
    }
    Outcome::Value(view).into_reply()
}

#[cfg(test)]
mod tests;
