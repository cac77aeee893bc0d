//! Value types stored under a key.

use bytes::Bytes;

use super::zset::ZSet;

/// A stored value. More types arrive with the data-types issue.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    String(Bytes),
    ZSet(ZSet),
}

impl Value {
    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::String(_) => "string",
            Value::ZSet(_) => "zset",
        }
    }

    /// Bytes of payload the value holds (for memory estimates; excludes fixed overhead).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::String(bytes) => bytes.len(),
            Value::ZSet(zset) => zset.heap_size(),
        }
    }
}
