//! Value types stored under a key.

use bytes::Bytes;

use super::zset::ZSet;
use super::{hash::Hash, list::List, set::Set};

/// A stored value. More types arrive with the data-types issue.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Bytes),
    // Collections (hash.rs, set.rs, list.rs); a list is boxed, being bigger than a string.
    Hash(Hash),
    Set(Set),
    List(Box<List>),
    ZSet(ZSet),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
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
}
