//! The hash value: field -> value, as a listpack of alternating fields and values while small
//! (Redis's "listpack" encoding), as a hash table once it has more than
//! `hash-max-listpack-entries` fields or any field or value longer than `hash-max-listpack-value`
//! (Redis's "hashtable"). A hash never goes back to the listpack.
//!
//! The table is an [`IndexMap`] removed from only with `swap_remove`, so HSCAN can use the same
//! downward-position cursor as SCAN (see `db.rs`) and HRANDFIELD can pick by index in O(1).

use ahash::RandomState;
use indexmap::IndexMap;

use super::db::Key;
use super::limits::EncodingLimits;
use super::listpack::{entry_size, Listpack};

/// Fields and values as the key table stores keys ([`Key`]: up to 14 bytes inline, longer ones
/// in one heap block of their size): a 40-byte entry, and no allocation at all for a short
/// field or value, where two `Bytes` took 72 bytes and an allocation each.
pub type HashTable = IndexMap<Key, Key, RandomState>;

/// A field and its value, borrowed from the hash.
pub type Pair<'a> = (&'a [u8], &'a [u8]);

#[derive(Debug, Clone, PartialEq)]
pub enum Hash {
    Listpack(Listpack),
    Table(Box<HashTable>),
}

impl Default for Hash {
    fn default() -> Self {
        Hash::Listpack(Listpack::new())
    }
}

impl Hash {
    /// Builds a hash from field/value pairs (for snapshots), choosing the encoding as a sequence
    /// of HSETs would.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
        limits: &EncodingLimits,
    ) -> Hash {
        let mut hash = Hash::default();
        for (field, value) in pairs {
            hash.set(field, value, limits);
        }
        hash
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Hash::Listpack(_) => "listpack",
            Hash::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Hash::Listpack(listpack) => listpack.len() / 2,
            Hash::Table(table) => table.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of payload held (for memory estimates).
    pub fn heap_size(&self) -> usize {
        match self {
            Hash::Listpack(listpack) => listpack.capacity(),
            Hash::Table(table) => {
                estimate_payload(
                    table.len(),
                    table
                        .iter()
                        .map(|(field, value)| field.heap_size() + value.heap_size()),
                ) + table.capacity() * (2 * size_of::<Key>() + 3 * size_of::<usize>())
            }
        }
    }

    pub fn get(&self, field: &[u8]) -> Option<&[u8]> {
        match self {
            Hash::Listpack(listpack) => {
                let at = listpack.find(field, 2)?;
                let value_at = listpack.entry(at).1;
                Some(listpack.entry(value_at).0)
            }
            Hash::Table(table) => table.get(field).map(Key::as_bytes),
        }
    }

    pub fn contains(&self, field: &[u8]) -> bool {
        self.get(field).is_some()
    }

    /// Sets `field` to `value`; true if the field is new.
    pub fn set(&mut self, field: &[u8], value: &[u8], limits: &EncodingLimits) -> bool {
        if let Hash::Listpack(_) = self {
            if field.len() > limits.hash_max_listpack_value
                || value.len() > limits.hash_max_listpack_value
            {
                self.convert_to_table();
            }
        }
        let added = match self {
            Hash::Listpack(listpack) => match listpack.find(field, 2) {
                Some(at) => {
                    let value_at = listpack.entry(at).1;
                    listpack.replace_at(value_at, value);
                    false
                }
                None => {
                    listpack.push_back(field);
                    listpack.push_back(value);
                    true
                }
            },
            Hash::Table(table) => match table.get_mut(field) {
                // An existing field keeps its stored name: only the value is copied.
                Some(stored) => {
                    *stored = Key::new(value);
                    false
                }
                None => {
                    table.insert(Key::new(field), Key::new(value));
                    true
                }
            },
        };
        if matches!(self, Hash::Listpack(_)) && self.len() > limits.hash_max_listpack_entries {
            self.convert_to_table();
        }
        added
    }

    /// Before a batch of [`Hash::set`]s: room for these pairs in a listpack, so the batch costs
    /// one allocation. Call [`Hash::shrink_to_fit`] after it (some fields may have existed).
    pub fn reserve<'a>(&mut self, pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) {
        if let Hash::Listpack(listpack) = self {
            let bytes = pairs
                .map(|(field, value)| entry_size(field.len()) + entry_size(value.len()))
                .sum();
            listpack.reserve_exact(bytes);
        }
    }

    /// Drops spare capacity left by [`Hash::reserve`].
    pub fn shrink_to_fit(&mut self) {
        if let Hash::Listpack(listpack) = self {
            listpack.shrink_to_fit();
        }
    }

    /// Removes `field`; true if it was there.
    pub fn remove(&mut self, field: &[u8]) -> bool {
        match self {
            Hash::Listpack(listpack) => match listpack.find(field, 2) {
                Some(at) => {
                    listpack.remove_at(at, 2);
                    true
                }
                None => false,
            },
            Hash::Table(table) => table.swap_remove(field).is_some(),
        }
    }

    fn convert_to_table(&mut self) {
        if let Hash::Listpack(listpack) = self {
            let mut table =
                HashTable::with_capacity_and_hasher(listpack.len() / 2 + 1, RandomState::new());
            let mut items = listpack.iter();
            while let (Some(field), Some(value)) = (items.next(), items.next()) {
                table.insert(Key::new(field), Key::new(value));
            }
            *self = Hash::Table(Box::new(table));
        }
    }

    /// Every field and value, in storage order.
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], &[u8])> + '_> {
        match self {
            Hash::Listpack(listpack) => {
                let mut items = listpack.iter();
                Box::new(std::iter::from_fn(move || {
                    Some((items.next()?, items.next()?))
                }))
            }
            Hash::Table(table) => Box::new(
                table
                    .iter()
                    .map(|(field, value)| (field.as_bytes(), value.as_bytes())),
            ),
        }
    }

    /// Pair number `index` in storage order (HRANDFIELD's uniform picks).
    pub fn pair_at(&self, index: usize) -> Option<(&[u8], &[u8])> {
        match self {
            Hash::Listpack(listpack) => {
                let at = listpack.offset_of(index * 2)?;
                let (field, value_at) = listpack.entry(at);
                Some((field, listpack.entry(value_at).0))
            }
            Hash::Table(table) => table
                .get_index(index)
                .map(|(field, value)| (field.as_bytes(), value.as_bytes())),
        }
    }

    /// One HSCAN step: the next cursor (0 = done) and the pairs visited. A listpack returns
    /// everything at once with cursor 0, as Redis does; the table walks positions downward from
    /// `cursor` (0 = the top), which keeps SCAN's guarantee because only `swap_remove` reorders
    /// it (see `db.rs`).
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Pair<'_>>) {
        match self {
            Hash::Listpack(_) => (0, self.iter().collect()),
            Hash::Table(table) => {
                let (next, positions) = scan_positions(table.len(), cursor, count);
                let pairs = positions
                    .filter_map(|index| table.get_index(index))
                    .map(|(field, value)| (field.as_bytes(), value.as_bytes()))
                    .collect();
                (next, pairs)
            }
        }
    }
}

/// Payload bytes of `len` items extrapolated from the sizes of the first few, so that memory
/// estimates (INFO, sampled over many keys) stay cheap however big a collection is.
pub fn estimate_payload(len: usize, sizes: impl Iterator<Item = usize>) -> usize {
    const SAMPLE: usize = 32;
    let (total, counted) = sizes
        .take(SAMPLE)
        .fold((0usize, 0usize), |(total, counted), size| {
            (total + size, counted + 1)
        });
    (total.saturating_mul(len))
        .checked_div(counted)
        .unwrap_or(0)
}

/// The positions one downward scan step visits in a table of `len` slots from `cursor`, and the
/// cursor to return (0 once position 0 has been visited).
pub fn scan_positions(len: usize, cursor: u64, count: usize) -> (u64, std::ops::Range<usize>) {
    let top = match usize::try_from(cursor) {
        Ok(cursor) if cursor != 0 && cursor <= len => cursor,
        _ => len,
    };
    let bottom = top.saturating_sub(count.max(1));
    (bottom as u64, bottom..top)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listpack_until_a_threshold_then_table() {
        let limits = EncodingLimits {
            hash_max_listpack_entries: 4,
            hash_max_listpack_value: 8,
            ..EncodingLimits::default()
        };
        let mut hash = Hash::default();
        for n in 0..4 {
            assert!(hash.set(format!("f{n}").as_bytes(), b"v", &limits));
        }
        assert!(!hash.set(b"f0", b"new", &limits));
        assert_eq!(hash.encoding_name(), "listpack");
        assert_eq!(hash.get(b"f0"), Some(&b"new"[..]));
        assert!(hash.set(b"f4", b"v", &limits));
        assert_eq!(hash.encoding_name(), "hashtable");
        assert_eq!(hash.len(), 5);
        assert_eq!(hash.get(b"f0"), Some(&b"new"[..]));

        let mut long = Hash::default();
        long.set(b"f", b"123456789", &limits);
        assert_eq!(long.encoding_name(), "hashtable");
        assert!(long.remove(b"f") && long.is_empty());
    }

    #[test]
    fn rebuilds_from_its_pairs() {
        let limits = EncodingLimits::default();
        let mut hash = Hash::default();
        hash.set(b"a", b"1", &limits);
        hash.set(b"b", b"2", &limits);
        let copy = Hash::from_pairs(hash.iter(), &limits);
        assert_eq!(copy, hash);
        assert_eq!(copy.pair_at(1), Some((&b"b"[..], &b"2"[..])));
        assert_eq!(
            copy.scan(0, 1),
            (0, vec![(&b"a"[..], &b"1"[..]), (&b"b"[..], &b"2"[..])])
        );
    }

    #[test]
    fn table_scan_walks_down_to_zero() {
        let limits = EncodingLimits {
            hash_max_listpack_entries: 0,
            ..EncodingLimits::default()
        };
        let mut hash = Hash::default();
        for n in 0..25 {
            hash.set(format!("f{n}").as_bytes(), b"v", &limits);
        }
        let (mut cursor, mut seen) = (0, 0);
        loop {
            let (next, pairs) = hash.scan(cursor, 10);
            seen += pairs.len();
            cursor = next;
            if cursor == 0 {
                break;
            }
        }
        assert_eq!(seen, 25);
    }
}
