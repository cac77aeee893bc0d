//! Value types stored under a key.

use bytes::Bytes;

pub use super::item::Item;
use super::zset::ZSet;
use super::{hash::Hash, list::List, set::Set};

/// A stored value: a string (or a memcached item, a string with flags and CAS) or a collection.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Bytes),
    // Collections (hash.rs, set.rs, list.rs); a list is boxed, being bigger than a string.
    Hash(Hash),
    Set(Set),
    List(Box<List>),
    ZSet(ZSet),
    /// A string written through the memcached port, carrying memcached's flags and CAS. It is a
    /// string to every RESP command; a RESP write turns it back into [`Value::String`] (see
    /// [`Value::forget_item`]). Boxed so that `Value` stays the size of `Bytes`: keys that never
    /// saw memcached pay nothing for it.
    Item(Box<Item>),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
            Value::String(_) | Value::Item(_) => "string",
        }
    }

    /// Bytes of payload the value holds (for memory estimates; excludes fixed overhead).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::String(bytes) => bytes.len(),
            Value::Hash(hash) => hash.heap_size(),
            Value::Set(set) => set.heap_size(),
            Value::List(list) => list.heap_size(),
            Value::ZSet(zset) => zset.heap_size(),
            Value::Item(item) => item.data.len() + std::mem::size_of::<Item>(),
        }
    }

    /// The string's bytes, whether plain or a memcached item.
    pub fn as_string(&self) -> Option<&Bytes> {
        match self {
            Value::String(bytes) => Some(bytes),
            Value::Item(item) => Some(&item.data),
            _ => None,
        }
    }

    /// Drops a memcached item's flags and CAS, keeping its data as a plain string. Every RESP
    /// command that changes a string in place calls this first, so that memcached clients see a
    /// new CAS after any modification (the next `gets` stamps a fresh one).
    pub fn forget_item(&mut self) {
        if let Value::Item(item) = self {
            let data = std::mem::take(&mut item.data);
            *self = Value::String(data);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_stay_small() {
        // Every key pays for the largest variant: keep collections to one word more than a string
        // (a list is boxed; a hash or set inline holds only its compact encoding's buffer).
        assert!(size_of::<Value>() <= 40, "{}", size_of::<Value>());
    }

    #[test]
    fn memcached_items_cost_plain_keys_nothing() {
        // An item is boxed: it makes no variant, and so no key, larger.
        assert_eq!(size_of::<Box<Item>>(), size_of::<usize>());
    }
}
