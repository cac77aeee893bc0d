//! The set value, in Redis 7.2's three encodings:
//!
//! - "intset" while every member is an integer (as `string2ll` reads it) and there are at most
//!   `set-max-intset-entries` of them;
//! - "listpack" while there are at most `set-max-listpack-entries` members of at most
//!   `set-max-listpack-value` bytes;
//! - "hashtable" otherwise. A set never goes back to a smaller encoding.
//!
//! The table is an [`IndexSet`] removed from only with `swap_remove`, so SSCAN uses the same
//! downward-position cursor as SCAN and SPOP/SRANDMEMBER pick by index in O(1).

use ahash::RandomState;
use bytes::Bytes;

use super::db::Key;
use indexmap::IndexSet;

use super::hash::{estimate_payload, scan_positions};
use super::intset::{parse_integer, Intset};
use super::limits::EncodingLimits;
use super::listpack::{entry_size, Listpack};

/// Members as the key table stores keys ([`Key`]: up to 14 bytes inline, longer ones in one
/// heap block of their size), as the hash table stores its fields.
pub type SetTable = IndexSet<Key, RandomState>;

#[derive(Debug, Clone, PartialEq)]
pub enum Set {
    Intset(Intset),
    Listpack(Listpack),
    Table(Box<SetTable>),
}

fn integer_text(value: i64) -> Bytes {
    Bytes::from(value.to_string())
}

impl Set {
    /// An empty set in the encoding Redis's `setTypeCreate` picks for a first member `first`
    /// when about `size_hint` members are coming.
    pub fn for_members(first: &[u8], size_hint: usize, limits: &EncodingLimits) -> Set {
        if parse_integer(first).is_some() && size_hint <= limits.set_max_intset_entries {
            Set::Intset(Intset::new())
        } else if size_hint <= limits.set_max_listpack_entries {
            Set::Listpack(Listpack::new())
        } else {
            Set::Table(Box::new(SetTable::with_capacity_and_hasher(
                size_hint,
                RandomState::new(),
            )))
        }
    }

    /// Builds a set from its members (for snapshots and the *STORE commands).
    pub fn from_members<'a>(
        members: impl IntoIterator<Item = &'a [u8]>,
        size_hint: usize,
        limits: &EncodingLimits,
    ) -> Set {
        let mut members = members.into_iter().peekable();
        let mut set = match members.peek() {
            Some(first) => Set::for_members(first, size_hint, limits),
            None => Set::Intset(Intset::new()),
        };
        for member in members {
            set.insert(member, limits);
        }
        set
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        match self {
            Set::Intset(_) => "intset",
            Set::Listpack(_) => "listpack",
            Set::Table(_) => "hashtable",
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Set::Intset(intset) => intset.len(),
            Set::Listpack(listpack) => listpack.len(),
            Set::Table(table) => table.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes of payload held (for memory estimates).
    pub fn heap_size(&self) -> usize {
        match self {
            Set::Intset(intset) => intset.capacity(),
            Set::Listpack(listpack) => listpack.capacity(),
            Set::Table(table) => {
                estimate_payload(table.len(), table.iter().map(Key::heap_size))
                    + table.capacity() * (size_of::<Key>() + 3 * size_of::<usize>())
            }
        }
    }

    pub fn contains(&self, member: &[u8]) -> bool {
        match self {
            Set::Intset(intset) => {
                parse_integer(member).is_some_and(|value| intset.contains(value))
            }
            Set::Listpack(listpack) => listpack.find(member, 1).is_some(),
            Set::Table(table) => table.contains(member),
        }
    }

    /// Adds `member`; true if it is new. Converts first when the member would break the current
    /// encoding's limits (Redis's `setTypeAddAux`).
    pub fn insert(&mut self, member: &[u8], limits: &EncodingLimits) -> bool {
        match self {
            Set::Intset(intset) => match parse_integer(member) {
                Some(value) => {
                    if !intset.insert(value) {
                        return false;
                    }
                    if intset.len() > limits.set_max_intset_entries.min(1 << 30) {
                        self.convert(false);
                    }
                    true
                }
                None => {
                    // The longest member text comes from the smallest or the largest value.
                    let longest = [intset.iter().next(), intset.iter().next_back()]
                        .into_iter()
                        .flatten()
                        .map(|value| integer_text(value).len())
                        .max()
                        .unwrap_or(0);
                    let to_listpack = intset.len() < limits.set_max_listpack_entries
                        && member.len() <= limits.set_max_listpack_value
                        && longest <= limits.set_max_listpack_value;
                    self.convert(to_listpack);
                    self.insert(member, limits)
                }
            },
            Set::Listpack(listpack) => {
                if listpack.find(member, 1).is_some() {
                    return false;
                }
                if listpack.len() < limits.set_max_listpack_entries
                    && member.len() <= limits.set_max_listpack_value
                {
                    listpack.push_back(member);
                    return true;
                }
                self.convert(false);
                self.insert(member, limits)
            }
            Set::Table(table) => {
                if table.contains(member) {
                    return false;
                }
                table.insert(Key::new(member))
            }
        }
    }

    /// Before a batch of [`Set::insert`]s (SADD with many members): room for them in an intset
    /// or listpack, so the batch costs one allocation. Call [`Set::shrink_to_fit`] after it.
    pub fn reserve<'a>(&mut self, members: impl ExactSizeIterator<Item = &'a [u8]>) {
        match self {
            Set::Intset(intset) => intset.reserve(members.len()),
            Set::Listpack(listpack) => {
                listpack.reserve_exact(members.map(|member| entry_size(member.len())).sum())
            }
            Set::Table(table) => table.reserve(members.len()),
        }
    }

    /// Drops spare capacity left by [`Set::reserve`] in a compact encoding.
    pub fn shrink_to_fit(&mut self) {
        match self {
            Set::Intset(intset) => intset.shrink_to_fit(),
            Set::Listpack(listpack) => listpack.shrink_to_fit(),
            Set::Table(_) => {}
        }
    }

    /// Removes `member`; true if it was there.
    pub fn remove(&mut self, member: &[u8]) -> bool {
        match self {
            Set::Intset(intset) => parse_integer(member).is_some_and(|value| intset.remove(value)),
            Set::Listpack(listpack) => match listpack.find(member, 1) {
                Some(at) => {
                    listpack.remove_at(at, 1);
                    true
                }
                None => false,
            },
            Set::Table(table) => table.swap_remove(member),
        }
    }

    /// Rewrites an intset or listpack as a listpack (`to_listpack`) or a table.
    fn convert(&mut self, to_listpack: bool) {
        let members: Vec<Bytes> = self.iter().collect();
        *self = if to_listpack {
            Set::Listpack(Listpack::from_items(members.iter().map(|m| &m[..])))
        } else {
            let mut table =
                SetTable::with_capacity_and_hasher(members.len() + 1, RandomState::new());
            table.extend(members.iter().map(|member| Key::new(member)));
            Set::Table(Box::new(table))
        };
    }

    /// Every member, in storage order (an intset's ascending).
    pub fn iter(&self) -> Box<dyn Iterator<Item = Bytes> + '_> {
        match self {
            Set::Intset(intset) => Box::new(intset.iter().map(integer_text)),
            Set::Listpack(listpack) => Box::new(listpack.iter().map(Bytes::copy_from_slice)),
            Set::Table(table) => {
                Box::new(table.iter().map(|m| Bytes::copy_from_slice(m.as_bytes())))
            }
        }
    }

    /// Member number `index` in storage order (uniform random picks).
    pub fn member_at(&self, index: usize) -> Option<Bytes> {
        if index >= self.len() {
            return None;
        }
        match self {
            Set::Intset(intset) => Some(integer_text(intset.get(index))),
            Set::Listpack(listpack) => listpack.get(index).map(Bytes::copy_from_slice),
            Set::Table(table) => table
                .get_index(index)
                .map(|m| Bytes::copy_from_slice(m.as_bytes())),
        }
    }

    /// A uniformly random member.
    pub fn random_member(&self) -> Option<Bytes> {
        match self.len() {
            0 => None,
            len => self.member_at(fastrand::usize(..len)),
        }
    }

    /// One SSCAN step, as [`Hash::scan`](super::hash::Hash::scan): compact encodings return
    /// everything with cursor 0; the table walks positions downward.
    pub fn scan(&self, cursor: u64, count: usize) -> (u64, Vec<Bytes>) {
        match self {
            Set::Table(table) => {
                let (next, positions) = scan_positions(table.len(), cursor, count);
                (
                    next,
                    positions
                        .filter_map(|index| table.get_index(index))
                        .map(|m| Bytes::copy_from_slice(m.as_bytes()))
                        .collect(),
                )
            }
            _ => (0, self.iter().collect()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(set: &Set) -> Vec<Bytes> {
        let mut members: Vec<Bytes> = set.iter().collect();
        members.sort();
        members
    }

    #[test]
    fn encodings_follow_redis_thresholds() {
        let limits = EncodingLimits {
            set_max_intset_entries: 3,
            set_max_listpack_entries: 4,
            set_max_listpack_value: 5,
            ..EncodingLimits::default()
        };
        let mut set = Set::for_members(b"1", 1, &limits);
        for member in ["1", "2", "3"] {
            assert!(set.insert(member.as_bytes(), &limits));
        }
        assert!(!set.insert(b"2", &limits));
        assert_eq!(set.encoding_name(), "intset");
        assert!(set.insert(b"4", &limits));
        assert_eq!(set.encoding_name(), "hashtable", "intset over its entries");

        let mut set = Set::for_members(b"1", 1, &limits);
        set.insert(b"1", &limits);
        set.insert(b"abc", &limits);
        assert_eq!(set.encoding_name(), "listpack");
        assert!(set.contains(b"1") && set.contains(b"abc") && !set.contains(b"2"));
        set.insert(b"toolong", &limits);
        assert_eq!(
            set.encoding_name(),
            "hashtable",
            "listpack over its value size"
        );
        assert_eq!(members(&set), vec!["1", "abc", "toolong"]);

        let set = Set::from_members([&b"a"[..], b"b", b"c", b"d", b"e"], 5, &limits);
        assert_eq!(
            set.encoding_name(),
            "hashtable",
            "listpack over its entries"
        );
        assert_eq!(set.len(), 5);
    }

    #[test]
    fn integer_forms_that_are_not_canonical_are_strings() {
        let limits = EncodingLimits::default();
        let mut set = Set::for_members(b"1", 1, &limits);
        set.insert(b"1", &limits);
        set.insert(b"01", &limits);
        assert_eq!(set.encoding_name(), "listpack");
        assert_eq!(members(&set), vec!["01", "1"]);
        assert!(set.remove(b"1") && !set.contains(b"1") && set.contains(b"01"));
    }
}
