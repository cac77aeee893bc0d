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
//! | `__mc.store` | key mode data flags expire_at cas compare_cas [I] | Stored, NotStored, Exists, NotFound (`I`: an older CAS stores a stale value) |
//! | `__mc.delete` | key compare_cas [stale_ttl_at cas] | Deleted, NotFound, Exists |
//! | `__mc.arith` | key incr/decr delta cas compare_cas vivify_at initial ttl_at | Value (the number), NotFound, NonNumeric, Exists |
//!
//! Times are ms since the epoch (0 = never, 1 = already past); an empty argument means "not
//! given" (no CAS to compare, no TTL to set, no item to create). A CAS compare against a missing
//! key is NotFound, as in memcached, except for append/prepend, which are NotStored.

mod handlers;
mod outcome;

use bytes::Bytes;

use super::{CommandSpec, Routing};
pub use handlers::parse_counter;
use handlers::{arith, delete, gat, get, store, touch};
pub use outcome::{ItemView, Outcome};

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

    pub(crate) fn parse(text: &[u8]) -> Option<StoreMode> {
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

/// The fields every internal command shares: one key, at argument 1.
const INTERNAL: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &[],
    first_key: 1,
    last_key: 1,
    step: 1,
    key_finder: None,
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
    arity: -8,
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

/// `__mc.store` arguments in order, pushed onto `args`.
#[allow(clippy::too_many_arguments)]
pub fn store_args(
    args: &mut Vec<Bytes>,
    key: Bytes,
    mode: StoreMode,
    data: Bytes,
    flags: u32,
    expire_at: u64,
    cas: u64,
    compare_cas: Option<u64>,
) {
    args.push(Bytes::from_static(STORE.name.as_bytes()));
    args.push(key);
    args.push(Bytes::from_static(mode.name().as_bytes()));
    args.push(data);
    args.push(number(flags as u64));
    args.push(number(expire_at));
    args.push(number(cas));
    args.push(optional(compare_cas));
}

/// Decimal text of `n` as an argument.
pub fn number(n: u64) -> Bytes {
    if n == 0 {
        // Flags and exptime are mostly 0: no allocation for them.
        return Bytes::from_static(b"0");
    }
    Bytes::copy_from_slice(crate::protocol::reply::decimal_u64(n, &mut [0u8; 20]))
}

/// An optional number as an argument: empty when absent.
pub fn optional(n: Option<u64>) -> Bytes {
    n.map_or_else(Bytes::new, number)
}

#[cfg(test)]
mod tests;
