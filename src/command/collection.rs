//! What the hash, set and list families share: typed lookups of a collection under a key (with
//! WRONGTYPE for any other kind of value), creating one on first write, deleting the key when a
//! write empties it (Redis never keeps an empty collection), and the arguments of the SCAN family.
//!
//! Read lookups count a keyspace hit or miss as Redis's `lookupKeyRead` does; write lookups count
//! nothing (`lookupKeyWrite`).

use bytes::{Bytes, BytesMut};

use super::keys::{parse_scan_options, ScanOptions};
use super::util::{syntax_error, wrongtype_error};
use super::ExecContext;
use crate::keyspace::glob::glob_match;
use crate::keyspace::hash::Hash;
use crate::keyspace::list::List;
use crate::keyspace::set::Set;
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
pub(crate) use or_reply;

/// A collection type stored in a [`Value`] variant.
pub trait Collection: Sized {
    fn of(value: &Value) -> Option<&Self>;
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
    fn into_value(self) -> Value;
    fn is_empty(&self) -> bool;
}

impl Collection for Hash {
    fn of(value: &Value) -> Option<&Self> {
        match value {
            Value::Hash(hash) => Some(hash),
            _ => None,
        }
    }
    fn of_mut(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Hash(hash) => Some(hash),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Hash(self)
    }
    fn is_empty(&self) -> bool {
        Hash::is_empty(self)
    }
}

impl Collection for Set {
    fn of(value: &Value) -> Option<&Self> {
        match value {
            Value::Set(set) => Some(set),
            _ => None,
        }
    }
    fn of_mut(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::Set(set) => Some(set),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::Set(self)
    }
    fn is_empty(&self) -> bool {
        Set::is_empty(self)
    }
}

impl Collection for List {
    fn of(value: &Value) -> Option<&Self> {
        match value {
            Value::List(list) => Some(list),
            _ => None,
        }
    }
    fn of_mut(value: &mut Value) -> Option<&mut Self> {
        match value {
            Value::List(list) => Some(list),
            _ => None,
        }
    }
    fn into_value(self) -> Value {
        Value::List(Box::new(self))
    }
    fn is_empty(&self) -> bool {
        List::is_empty(self)
    }
}

/// A read lookup: the collection under `key`, `None` if there is no key, WRONGTYPE for another
/// type. Counts a keyspace hit or miss.
pub fn read<'a, T: Collection>(
    ctx: &'a mut ExecContext<'_>,
    key: &[u8],
) -> Result<Option<&'a T>, Reply> {
    match ctx.keyspace.lookup_read(ctx.db_index, key, ctx.now_ms) {
        Some(entry) => T::of(&entry.value).map(Some).ok_or_else(wrongtype_error),
        None => Ok(None),
    }
}

/// A write lookup: like [`read`] but mutable and counting nothing.
pub fn write<'a, T: Collection>(
    ctx: &'a mut ExecContext<'_>,
    key: &[u8],
) -> Result<Option<&'a mut T>, Reply> {
    let now_ms = ctx.now_ms;
    match ctx.db().get_mut(key, now_ms) {
        Some(entry) => T::of_mut(&mut entry.value)
            .map(Some)
            .ok_or_else(wrongtype_error),
        None => Ok(None),
    }
}

/// Whether `key` holds something other than a `T` (WRONGTYPE), without changing anything.
pub fn check_type<T: Collection>(ctx: &mut ExecContext<'_>, key: &[u8]) -> Result<(), Reply> {
    write::<T>(ctx, key).map(|_| ())
}

/// The collection under `key`, created by `make` when the key is absent. The caller either adds
/// to it or calls [`remove_if_empty`].
pub fn write_or_create<'a, T: Collection>(
    ctx: &'a mut ExecContext<'_>,
    key: &[u8],
    make: impl FnOnce() -> T,
) -> Result<&'a mut T, Reply> {
    let now_ms = ctx.now_ms;
    let db = ctx.db();
    if !db.contains(key, now_ms) {
        let entry = Entry {
            value: make().into_value(),
            expire_at: 0,
        };
        db.insert(key, entry);
    }
    match db.get_mut(key, now_ms) {
        Some(entry) => T::of_mut(&mut entry.value).ok_or_else(wrongtype_error),
        None => Err(wrongtype_error()),
    }
}

/// Deletes `key` if it holds an empty `T`: Redis deletes a collection with its last element.
pub fn remove_if_empty<T: Collection>(ctx: &mut ExecContext<'_>, key: &[u8]) {
    let now_ms = ctx.now_ms;
    let db = ctx.db();
    let empty = db
        .get(key, now_ms)
        .and_then(|entry| T::of(&entry.value))
        .is_some_and(T::is_empty);
    if empty {
        db.remove(key, now_ms);
    }
}

/// Replaces whatever is under `key` with `value` (the *STORE commands), or deletes the key when
/// the value is empty; the key loses any deadline, as Redis's `setKey` does.
pub fn store<T: Collection>(ctx: &mut ExecContext<'_>, key: &[u8], value: T) {
    let now_ms = ctx.now_ms;
    let db = ctx.db();
    if value.is_empty() {
        db.remove(key, now_ms);
    } else {
        let entry = Entry {
            value: value.into_value(),
            expire_at: 0,
        };
        db.remove(key, now_ms);
        db.insert(key, entry);
    }
}

/// The arguments of HSCAN/SSCAN after the key: the cursor, then MATCH and COUNT (TYPE is SCAN's
/// alone: a syntax error here, as in Redis).
pub fn scan_args(args: &[Bytes]) -> Result<(u64, ScanOptions), Reply> {
    let cursor = std::str::from_utf8(&args[2])
        .ok()
        .and_then(|text| text.parse::<u64>().ok())
        .ok_or_else(|| Reply::error_static("ERR invalid cursor"))?;
    let options = parse_scan_options(args, 3)?;
    if options.type_filter.is_some() {
        return Err(syntax_error());
    }
    Ok((cursor, options))
}

/// Whether `item` passes a SCAN-family MATCH pattern.
pub fn scan_matches(options: &ScanOptions, item: &[u8]) -> bool {
    options
        .pattern
        .as_ref()
        .is_none_or(|pattern| glob_match(pattern, item, false))
}

/// A Redis array of bulk strings.
pub fn bulk_array(items: impl IntoIterator<Item = Bytes>) -> Reply {
    Reply::Array(items.into_iter().map(Reply::Bulk).collect())
}

/// Redis's `getRangeLongFromObjectOrReply`: an integer in `min..=max`. `message` (without the
/// "ERR ") replaces both the not-an-integer and the out-of-range errors when given.
pub fn range_arg(arg: &[u8], min: i64, max: i64, message: Option<&str>) -> Result<i64, Reply> {
    let error =
        |default: String| Reply::error(format!("ERR {}", message.map_or(default, str::to_string)));
    let value = super::util::parse_i64(arg)
        .ok_or_else(|| error("value is not an integer or out of range".to_string()))?;
    if value < min || value > max {
        return Err(error(format!(
            "value is out of range, value must between {min} and {max}"
        )));
    }
    Ok(value)
}

/// Redis's `getPositiveLongFromObjectOrReply`: an integer >= 0, with `message` (or "value is out
/// of range, must be positive") for anything else.
pub fn positive_arg(arg: &[u8], message: Option<&str>) -> Result<i64, Reply> {
    range_arg(
        arg,
        0,
        i64::MAX,
        Some(message.unwrap_or("value is out of range, must be positive")),
    )
}

/// The most repeated picks one HRANDFIELD/SRANDMEMBER with a negative count returns.
pub const MAX_RANDOM_PICKS: usize = 16 * 1024 * 1024;

/// Positions for a random pick of `count` among `len` (SRANDMEMBER/HRANDFIELD semantics):
/// `count >= 0` gives distinct positions, all of them when `count >= len`; a negative count gives
/// `-count` independent uniform picks.
pub fn random_indices(len: usize, count: i64) -> Vec<usize> {
    if len == 0 || count == 0 {
        return Vec::new();
    }
    if count < 0 {
        // Redis would stream any number of picks; we build the reply in memory, so a count no
        // client could take in is refused rather than exhausting memory.
        let picks = (count.unsigned_abs() as usize).min(MAX_RANDOM_PICKS);
        return (0..picks).map(|_| fastrand::usize(..len)).collect();
    }
    let wanted = (count as u64).min(len as u64) as usize;
    if wanted == len {
        return (0..len).collect();
    }
    // A partial Fisher-Yates over the positions: `wanted` distinct picks, uniform.
    let mut positions: Vec<usize> = (0..len).collect();
    for slot in 0..wanted {
        let pick = fastrand::usize(slot..len);
        positions.swap(slot, pick);
    }
    positions.truncate(wanted);
    positions
}

/// The `key_finder` of commands whose argument 1 is `numkeys` followed by that many keys
/// (SINTERCARD, LMPOP): their positions, or none when `numkeys` is malformed or larger than the
/// arguments (the handler then replies with Redis's error).
pub fn keys_after_numkeys(args: &[Bytes]) -> Vec<usize> {
    let available = args.len().saturating_sub(2);
    match args.get(1).and_then(|arg| super::util::parse_i64(arg)) {
        Some(count) if count > 0 && (count as u64) <= available as u64 => {
            (2..2 + count as usize).collect()
        }
        _ => Vec::new(),
    }
}

/// Bulk replies for many items borrowed from a collection, copied into one buffer that each
/// reply slices: a long reply (LRANGE, HGETALL) costs one allocation instead of one per item.
pub fn shared_bulks<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Vec<Reply> {
    let items: Vec<&[u8]> = items.into_iter().collect();
    let mut buffer = BytesMut::with_capacity(items.iter().map(|item| item.len()).sum());
    for item in &items {
        buffer.extend_from_slice(item);
    }
    let buffer = buffer.freeze();
    let mut at = 0;
    items
        .iter()
        .map(|item| {
            let reply = Reply::Bulk(buffer.slice(at..at + item.len()));
            at += item.len();
            reply
        })
        .collect()
}
