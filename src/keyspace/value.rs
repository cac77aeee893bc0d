//! Value types stored under a key.

use bytes::Bytes;

pub use super::item::Item;

/// A stored value. More types arrive with the data-types issue.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Bytes),
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
            Value::String(_) | Value::Item(_) => "string",
        }
    }

    /// Bytes of payload the value holds (for memory estimates; excludes fixed overhead).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::String(bytes) => bytes.len(),
            Value::Item(item) => item.data.len() + std::mem::size_of::<Item>(),
        }
    }

    /// The string's bytes, whether plain or a memcached item.
    pub fn as_string(&self) -> Option<&Bytes> {
        match self {
            Value::String(bytes) => Some(bytes),
            Value::Item(item) => Some(&item.data),
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
    fn memcached_items_cost_plain_keys_nothing() {
        assert_eq!(std::mem::size_of::<Value>(), std::mem::size_of::<Bytes>());
    }
}
