//! The handlers of the internal memcached commands (see the table in the parent module): plain
//! functions over one shard's keyspace, like every other command family's.

use bytes::Bytes;

use super::{number, ItemView, Outcome, StoreMode};
use crate::command::ExecContext;
use crate::keyspace::{Entry, Item, ItemData, Value};
use crate::protocol::reply::Reply;

fn arg_u64(args: &[Bytes], index: usize) -> Result<u64, Reply> {
    arg_optional(args, index)?
        .ok_or_else(|| Reply::error(format!("ERR internal memcached argument {index}")))
}

fn arg_optional(args: &[Bytes], index: usize) -> Result<Option<u64>, Reply> {
    match args.get(index) {
        Some(arg) if arg.is_empty() => Ok(None),
        Some(arg) => crate::protocol::memcache::parse_u64(arg)
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
    let index = ctx.db().position(key, now_ms)?;
    let plain = match &ctx.db().at(index)?.value {
        Value::Item(_) => None,
        Value::Short(short) => Some(ItemData::new(short.as_bytes())),
        Value::String(data) => Some(ItemData::from_bytes(data.clone())),
        _ => return None,
    };
    if let Some(data) = plain {
        let cas = ctx.keyspace.cas.draw();
        ctx.db().at_mut(index)?.value = Value::Item(Box::new(Item {
            data,
            cas,
            last_access: seconds(now_ms),
            ..Item::default()
        }));
    }
    ctx.db().at_mut(index)
}

/// The reply of a read that found `entry` (a [`Outcome::Value`]), and the read's effect on it:
/// the fetched bit and access time (unless `no_update`), and the recache token, which a stale
/// item hands to its first reader, and `recache` hands to this one if nobody holds it.
fn read_and_mark(entry: &mut Entry, now_ms: u64, no_update: bool, recache: bool) -> Option<Reply> {
    let expire_at = entry.expire_at;
    let Value::Item(item) = &mut entry.value else {
        return None;
    };
    let won = !item.token_sent && (item.stale || recache);
    let view = ItemView {
        // The item's data goes straight into the reply (below): no copy of it in between.
        data: Bytes::new(),
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
    Some(Outcome::value_reply(&view, &item.data))
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

pub(super) fn get(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let no_update = args.get(2).is_some_and(|arg| &arg[..] == b"u");
    let now_ms = ctx.now_ms;
    let reply =
        item_mut(ctx, &args[1]).and_then(|entry| read_and_mark(entry, now_ms, no_update, false));
    count_read(ctx, reply.is_some());
    reply.unwrap_or_else(|| Outcome::Miss.into_reply())
}

/// gat, and mg with T (new TTL), N (create on a miss: an empty item, whose creator wins the
/// token) or R (win the token when less TTL than this is left).
pub(super) fn gat(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
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
            ctx.db().insert(key, entry);
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
    let recache =
        recache_at.is_some_and(|threshold| entry.expire_at != 0 && entry.expire_at < threshold);
    read_and_mark(entry, now_ms, false, recache).unwrap_or_else(|| Outcome::Miss.into_reply())
}

pub(super) fn touch(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
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

pub(super) fn store(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let Some(mode) = StoreMode::parse(&args[2]) else {
        return Reply::error_static("ERR internal memcached store mode");
    };
    let flags = or_reply!(arg_u64(args, 4)) as u32;
    let expire_at = or_reply!(arg_u64(args, 5));
    let cas = or_reply!(arg_u64(args, 6));
    let compare_cas = or_reply!(arg_optional(args, 7));
    let (key, data) = (&args[1], &args[3]);
    ctx.keyspace.cas.observe(cas);
    // The client's data, flags and deadline as the new item.
    let store_new =
        |ctx: &mut ExecContext<'_>| put(ctx, key, ItemData::new(data), flags, expire_at, cas);
    // `add` stores only where no key exists at all, like SET NX: an item, a plain string or a key
    // of another type (a RESP list, hash, ...) all refuse it, and none is touched.
    let now_ms = ctx.now_ms;
    if mode == StoreMode::Add && ctx.db().contains(key, now_ms) {
        return Outcome::NotStored.into_reply();
    }
    if matches!(mode, StoreMode::Set | StoreMode::Add) && compare_cas.is_none() {
        // A plain set stores whatever the key held, an add what is now known absent: nothing to
        // look at first.
        return store_new(ctx);
    }

    let current = item_mut(ctx, key).map(|entry| match &entry.value {
        Value::Item(item) => (item.data.clone(), item.flags, item.cas, entry.expire_at),
        _ => (ItemData::default(), 0, 0, entry.expire_at),
    });
    let Some((old_data, old_flags, old_cas, old_expire)) = current else {
        return match (mode, compare_cas) {
            (StoreMode::Append | StoreMode::Prepend, _) | (StoreMode::Replace, None) => {
                Outcome::NotStored.into_reply()
            }
            (_, Some(_)) => Outcome::NotFound.into_reply(),
            _ => store_new(ctx),
        };
    };
    if let Some(compare) = compare_cas.filter(|&compare| compare != old_cas) {
        // ms .. I: a CAS older than the item's still stores, as a stale value keeping the
        // item's deadline and token (memcached's `set_stale`).
        let invalidate = args.get(8).is_some_and(|arg| &arg[..] == b"I");
        if !(invalidate && compare < old_cas && mode == StoreMode::Set) {
            return Outcome::Exists.into_reply();
        }
        let token_sent = matches!(item_mut(ctx, key), Some(Entry { value: Value::Item(item), .. }) if item.token_sent);
        let reply = put(ctx, key, ItemData::new(data), flags, old_expire, cas);
        if let Some(Entry {
            value: Value::Item(item),
            ..
        }) = ctx.db().get_mut(key, now_ms)
        {
            item.stale = true;
            item.token_sent = token_sent;
        }
        return reply;
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
        _ => store_new(ctx),
    }
}

/// Stores an item; one whose deadline has passed is stored and gone at once (memcached's answer
/// to a negative or past exptime), which here means the key is removed.
fn put(
    ctx: &mut ExecContext<'_>,
    key: &[u8],
    data: ItemData,
    flags: u32,
    expire_at: u64,
    cas: u64,
) -> Reply {
    let now_ms = ctx.now_ms;
    if is_past(expire_at, now_ms) {
        ctx.db().remove(key, now_ms);
        return Outcome::Stored(cas).into_reply();
    }
    let item = Item {
        data,
        flags,
        cas,
        last_access: seconds(now_ms),
        ..Item::default()
    };
    ctx.db().insert_item(key, item, expire_at);
    Outcome::Stored(cas).into_reply()
}

fn concat(first: &[u8], second: &[u8]) -> ItemData {
    let mut joined = Vec::with_capacity(first.len() + second.len());
    joined.extend_from_slice(first);
    joined.extend_from_slice(second);
    ItemData::from_bytes(Bytes::from(joined))
}

/// delete and md; with a stale TTL and a CAS (md's `I`), marks the item stale instead: it keeps
/// its data, gets the new CAS (and the TTL, when one is given) and hands its next reader a token.
pub(super) fn delete(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
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

pub(super) fn arith(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
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
        put(ctx, key, ItemData::new(&text), 0, expire_at, cas);
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
        ItemData::new(&padded)
    } else {
        ItemData::new(&text)
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
