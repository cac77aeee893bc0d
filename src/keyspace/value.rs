//! Value types stored under a key.

use bytes::Bytes;

pub use super::item::Item;
use super::item::ItemData;
use super::zset::ZSet;
use super::{hash::Hash, list::List, set::Set};

/// A stored value: a string (or a memcached item, a string with flags and CAS) or a collection.
///
/// A string is [`Value::Short`] when it fits in the value itself (up to [`SHORT`] bytes, as
/// Redis's embstr keeps a short string in its object) and [`Value::String`] otherwise; code
/// that makes strings goes through [`Value::string`] / [`Value::from_bytes`], code that reads
/// them through [`Value::as_string`], and both forms of the same bytes are equal. A short value
/// costs no allocation and no second cache miss to read (issue 2: pipelined GET and SET spent
/// about 6% of their CPU on that miss).
#[derive(Debug, Clone)]
pub enum Value {
    Short(ShortStr),
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

/// A stored buffer to hand to a reply: up to 128 bytes are copied. Cloning a `Bytes` made from
/// a `Vec` allocates a shared header the first time (kept as long as the value lives), and every
/// clone and drop after that updates it atomically, somewhere else in memory; copying a few
/// dozen bytes is cheaper.
pub fn reply_bytes(stored: &Bytes) -> Bytes {
    if stored.len() <= 128 {
        Bytes::copy_from_slice(stored)
    } else {
        stored.clone()
    }
}

/// Longest string kept inside the value: with its length byte it takes the 32 bytes a `Bytes`
/// does, so `Value` stays 40 bytes (a longer one would not leave `Set`'s niche free for the
/// enum's tag, and every value would grow to 48).
pub const SHORT: usize = 31;

/// A string of at most [`SHORT`] bytes, stored inline.
#[derive(Clone, Copy)]
pub struct ShortStr {
    len: u8,
    bytes: [u8; SHORT],
}

impl ShortStr {
    pub fn new(data: &[u8]) -> Option<ShortStr> {
        if data.len() > SHORT {
            return None;
        }
        let mut bytes = [0; SHORT];
        bytes[..data.len()].copy_from_slice(data);
        Some(ShortStr {
            len: data.len() as u8,
            bytes,
        })
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

impl std::fmt::Debug for ShortStr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self.as_bytes()))
    }
}

/// Strings equal by their bytes whatever their form (short, heap or memcached item's data is
/// compared as the item, with its flags and CAS).
impl PartialEq for Value {
    fn eq(&self, other: &Value) -> bool {
        match (self, other) {
            (Value::Short(_) | Value::String(_), Value::Short(_) | Value::String(_)) => {
                self.as_string() == other.as_string()
            }
            (Value::Hash(a), Value::Hash(b)) => a == b,
            (Value::Set(a), Value::Set(b)) => a == b,
            (Value::List(a), Value::List(b)) => a == b,
            (Value::ZSet(a), Value::ZSet(b)) => a == b,
            (Value::Item(a), Value::Item(b)) => a == b,
            _ => false,
        }
    }
}

impl Value {
    /// A string value holding a copy of `data`.
    pub fn string(data: &[u8]) -> Value {
        match ShortStr::new(data) {
            Some(short) => Value::Short(short),
            None => Value::String(Bytes::copy_from_slice(data)),
        }
    }

    /// A string value holding `data` (copied in when short, kept as it is otherwise).
    pub fn from_bytes(data: Bytes) -> Value {
        match ShortStr::new(&data) {
            Some(short) => Value::Short(short),
            None => Value::String(data),
        }
    }

    /// The name `TYPE` reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Hash(_) => "hash",
            Value::Set(_) => "set",
            Value::List(_) => "list",
            Value::ZSet(_) => "zset",
            Value::Short(_) | Value::String(_) | Value::Item(_) => "string",
        }
    }

    /// Bytes of payload the value holds (for memory estimates; excludes fixed overhead).
    pub fn heap_size(&self) -> usize {
        match self {
            Value::Short(_) => 0,
            Value::String(bytes) => bytes.len(),
            Value::Hash(hash) => hash.heap_size(),
            Value::Set(set) => set.heap_size(),
            Value::List(list) => list.heap_size(),
            Value::ZSet(zset) => zset.heap_size(),
            Value::Item(item) => item.data.heap_size() + std::mem::size_of::<Item>(),
        }
    }

    /// The string's bytes, whether short, plain or a memcached item.
    pub fn as_string(&self) -> Option<&[u8]> {
        match self {
            Value::Short(short) => Some(short.as_bytes()),
            Value::String(bytes) => Some(bytes),
            Value::Item(item) => Some(&item.data[..]),
            _ => None,
        }
    }

    /// The string's bytes as a `Bytes` to send or log: a copy of a short string, the stored
    /// buffer otherwise (see [`reply_bytes`]).
    pub fn string_bytes(&self) -> Option<Bytes> {
        match self {
            Value::Short(short) => Some(Bytes::copy_from_slice(short.as_bytes())),
            Value::String(bytes) => Some(reply_bytes(bytes)),
            Value::Item(item) => Some(item.data.to_bytes()),
            _ => None,
        }
    }

    /// The string as a heap `Bytes` for editing in place (APPEND, SETRANGE): a short string is
    /// moved to the heap first, a memcached item loses its flags and CAS. `None` for any other
    /// type.
    pub fn string_mut(&mut self) -> Option<&mut Bytes> {
        self.forget_item();
        if let Value::Short(short) = self {
            *self = Value::String(Bytes::copy_from_slice(short.as_bytes()));
        }
        match self {
            Value::String(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// Drops a memcached item's flags and CAS, keeping its data as a plain string. Every RESP
    /// command that changes a string in place calls this first, so that memcached clients see a
    /// new CAS after any modification (the next `gets` stamps a fresh one).
    pub fn forget_item(&mut self) {
        if let Value::Item(item) = self {
            *self = match std::mem::take(&mut item.data) {
                ItemData::Heap(data) => Value::from_bytes(data),
                inline => Value::string(&inline),
            };
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
    fn short_strings_inline_and_equal_to_their_heap_form() {
        for len in [0, 1, SHORT, SHORT + 1, 200] {
            let data = vec![b'v'; len];
            let value = Value::string(&data);
            assert_eq!(matches!(value, Value::Short(_)), len <= SHORT);
            assert_eq!(value.as_string(), Some(&data[..]));
            assert_eq!(value.string_bytes().as_deref(), Some(&data[..]));
            assert_eq!(value, Value::String(Bytes::from(data.clone())));
            assert_eq!(Value::from_bytes(Bytes::from(data.clone())), value);
            let mut edited = value.clone();
            edited.string_mut().unwrap().truncate(0);
            assert_eq!(edited.as_string(), Some(&b""[..]));
        }
        assert_ne!(Value::string(b"a"), Value::string(b"b"));
    }

    #[test]
    fn memcached_items_cost_plain_keys_nothing() {
        // An item is boxed: it makes no variant, and so no key, larger.
        assert_eq!(size_of::<Box<Item>>(), size_of::<usize>());
    }
}
