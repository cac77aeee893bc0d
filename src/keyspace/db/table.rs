//! The key table of one database: a dense sequence of `(key, entry)` slots and a hash index of
//! slot positions, laid out for memory (issue 5: at most redis-server's RSS per key).
//!
//! It behaves like the `IndexMap` it replaced: positions are dense (`0..len`), lookups go through
//! the hash index, and the only removal is `swap_remove_index` (the last slot moves into the
//! hole), which the SCAN cursor and the snapshot cut rely on (see the `db` module doc).
//!
//! Where a key's bytes go (about 64 + 6 bytes a key, against IndexMap's 88 + 32-byte `Bytes`
//! handle + its heap copy + 9-13 bytes of index):
//!
//! - a slot is a [`Key`] (16 bytes: keys up to [`INLINE`] bytes stored in it, longer ones in one
//!   heap block of their size) and the [`Entry`] (48 bytes). No hash is stored: a slot's hash is computed again from
//!   its key when the index grows or a slot moves, as Redis does.
//! - slots live in chunks of [`CHUNK`] (64 KiB) rather than one vector, so a big table never
//!   holds more than a chunk or two of unused slots (a doubling vector keeps up to half its size
//!   spare) and never copies itself whole to grow. The first chunk grows by doubling, so a small
//!   database stays small.
//! - the index is a `hashbrown::HashTable<u32>` of positions (5 bytes a bucket), hashed and
//!   compared through the slots, so the key is stored once. A database holds at most 2^32 keys.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};
use std::ptr::NonNull;

use ahash::RandomState;
use hashbrown::HashTable;

use super::Entry;

/// Longest key kept inside its slot.
pub const INLINE: usize = 14;

/// A key as the table stores it, in 16 bytes: inline up to [`INLINE`] bytes, else its length
/// here and its bytes in one heap block of exactly that size (a `Box<[u8]>` taken apart, so the
/// length does not cost a second word: 22-byte keys took 130 bytes of RSS a key with the bytes
/// boxed twice, against Redis's 118).
pub enum Key {
    Inline {
        len: u8,
        bytes: [u8; INLINE],
    },
    /// Owns the `Box<[u8]>` of `len` bytes at `data` (see `Drop`).
    Heap {
        len: u32,
        data: NonNull<u8>,
    },
    /// Keys of 4 GiB and more (a `proto-max-bulk-len` raised that far), boxed twice.
    Huge(Box<Box<[u8]>>),
}

// SAFETY: a `Key` owns its heap bytes exclusively, as a `Box<[u8]>` does, and never shares them.
unsafe impl Send for Key {}
// SAFETY: `&Key` only gives out `&[u8]` to the bytes it owns.
unsafe impl Sync for Key {}

impl Key {
    pub fn new(key: &[u8]) -> Key {
        if key.len() <= INLINE {
            let mut bytes = [0; INLINE];
            bytes[..key.len()].copy_from_slice(key);
            return Key::Inline {
                len: key.len() as u8,
                bytes,
            };
        }
        let Ok(len) = u32::try_from(key.len()) else {
            return Key::Huge(Box::new(key.into()));
        };
        let boxed: Box<[u8]> = key.into();
        // A non-empty slice (len > INLINE): the pointer is a real allocation, never dangling.
        let data = NonNull::new(Box::into_raw(boxed).cast::<u8>()).expect("Box is non-null");
        Key::Heap { len, data }
    }

    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Key::Inline { len, bytes } => &bytes[..*len as usize],
            // SAFETY: `data` points to the `len` bytes this key owns (made in `Key::new`, freed
            // only in `Drop`), alive as long as `self`.
            Key::Heap { len, data } => unsafe {
                std::slice::from_raw_parts(data.as_ptr(), *len as usize)
            },
            Key::Huge(bytes) => bytes,
        }
    }

    /// Heap bytes held outside the slot (for memory estimates).
    pub fn heap_size(&self) -> usize {
        match self {
            Key::Inline { .. } => 0,
            Key::Heap { len, .. } => *len as usize,
            Key::Huge(bytes) => size_of::<Box<[u8]>>() + bytes.len(),
        }
    }
}

impl Drop for Key {
    fn drop(&mut self) {
        if let Key::Heap { len, data } = *self {
            let slice = std::ptr::slice_from_raw_parts_mut(data.as_ptr(), len as usize);
            // SAFETY: `data` and `len` are the parts of the `Box<[u8]>` taken apart in
            // `Key::new`; this is the only place that puts it together again, once.
            drop(unsafe { Box::from_raw(slice) });
        }
    }
}

impl Clone for Key {
    fn clone(&self) -> Key {
        Key::new(self.as_bytes())
    }
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", String::from_utf8_lossy(self.as_bytes()))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for Key {}

// Hashes as the bytes do, so that a `Key` set can be probed with a `&[u8]` (`Borrow`).
impl Hash for Key {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state)
    }
}

impl Borrow<[u8]> for Key {
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

/// Slots per chunk: 64 KiB of 64-byte slots.
pub const CHUNK: usize = 1024;

#[derive(Clone)]
struct Slot {
    key: Key,
    entry: Entry,
}

#[derive(Clone)]
pub struct Table {
    /// Position `p` is `chunks[p / CHUNK][p % CHUNK]`. Every chunk before the one holding the
    /// last slot is full; at most one empty chunk follows it (kept so that a table going up and
    /// down around a chunk boundary does not allocate and free a chunk each time).
    chunks: Vec<Vec<Slot>>,
    len: usize,
    index: HashTable<u32>,
    hasher: RandomState,
}

impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

impl Table {
    pub fn new() -> Table {
        Table {
            chunks: Vec::new(),
            len: 0,
            index: HashTable::new(),
            hasher: RandomState::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Slots allocated and index buckets, for memory estimates.
    pub fn capacity(&self) -> (usize, usize) {
        let slots = self.chunks.iter().map(Vec::capacity).sum();
        (slots, self.index.capacity())
    }

    /// Bytes one allocated slot and one index bucket take.
    pub const SLOT_SIZE: usize = size_of::<Slot>();
    pub const BUCKET_SIZE: usize = size_of::<u32>() + 1;

    pub(super) fn hash(&self, key: &[u8]) -> u64 {
        self.hasher.hash_one(key)
    }

    fn slot(&self, position: usize) -> &Slot {
        &self.chunks[position / CHUNK][position % CHUNK]
    }

    fn slot_mut(&mut self, position: usize) -> &mut Slot {
        &mut self.chunks[position / CHUNK][position % CHUNK]
    }

    /// Position of `key`.
    pub fn get_index_of(&self, key: &[u8]) -> Option<usize> {
        self.find(self.hash(key), key)
    }

    /// Position of `key`, whose hash is `hash`.
    pub(super) fn find(&self, hash: u64, key: &[u8]) -> Option<usize> {
        let chunks = &self.chunks;
        self.index
            .find(hash, |&position| {
                let position = position as usize;
                chunks[position / CHUNK][position % CHUNK].key.as_bytes() == key
            })
            .map(|&position| position as usize)
    }

    pub fn get(&self, key: &[u8]) -> Option<&Entry> {
        self.get_index_of(key)
            .map(|position| &self.slot(position).entry)
    }

    /// Position and entry of `key`.
    pub fn get_full(&self, key: &[u8]) -> Option<(usize, &Entry)> {
        let position = self.get_index_of(key)?;
        Some((position, &self.slot(position).entry))
    }

    pub fn get_index(&self, position: usize) -> Option<(&[u8], &Entry)> {
        if position >= self.len {
            return None;
        }
        let slot = self.slot(position);
        Some((slot.key.as_bytes(), &slot.entry))
    }

    pub fn get_index_mut(&mut self, position: usize) -> Option<(&[u8], &mut Entry)> {
        if position >= self.len {
            return None;
        }
        let slot = self.slot_mut(position);
        Some((slot.key.as_bytes(), &mut slot.entry))
    }

    /// Inserts or replaces; returns the position and the replaced entry. A replaced key keeps
    /// its position and its stored key.
    pub fn insert_full(&mut self, key: &[u8], entry: Entry) -> (usize, Option<Entry>) {
        let hash = self.hash(key);
        if let Some(position) = self.find(hash, key) {
            let old = std::mem::replace(&mut self.slot_mut(position).entry, entry);
            return (position, Some(old));
        }
        (self.insert_absent(hash, key, entry), None)
    }

    /// Adds `key`, known absent, whose hash is `hash`; returns its position.
    pub(super) fn insert_absent(&mut self, hash: u64, key: &[u8], entry: Entry) -> usize {
        let position = self.len;
        assert!(
            position < u32::MAX as usize,
            "more than 2^32 keys in one database"
        );
        self.push_slot(Slot {
            key: Key::new(key),
            entry,
        });
        let (chunks, hasher) = (&self.chunks, &self.hasher);
        self.index
            .insert_unique(hash, position as u32, |&position| {
                let position = position as usize;
                hasher.hash_one(chunks[position / CHUNK][position % CHUNK].key.as_bytes())
            });
        position
    }

    fn push_slot(&mut self, slot: Slot) {
        let number = self.len / CHUNK;
        if number == self.chunks.len() {
            // A chunk after a full one is allocated whole; the first grows by doubling.
            let capacity = if number == 0 { 4 } else { CHUNK };
            self.chunks.push(Vec::with_capacity(capacity));
        }
        let chunk = &mut self.chunks[number];
        if chunk.len() == chunk.capacity() {
            let grown = (chunk.capacity() * 2).clamp(4, CHUNK);
            chunk.reserve_exact(grown - chunk.len());
        }
        chunk.push(slot);
        self.len += 1;
    }

    /// Removes the slot at `position`; the last slot moves into it.
    pub fn swap_remove_index(&mut self, position: usize) -> Option<(Key, Entry)> {
        if position >= self.len {
            return None;
        }
        let last = self.len - 1;
        let hash = self.hash(self.slot(position).key.as_bytes());
        if let Ok(found) = self
            .index
            .find_entry(hash, |&stored| stored as usize == position)
        {
            found.remove();
        }
        if position != last {
            let hash = self.hash(self.slot(last).key.as_bytes());
            if let Some(stored) = self.index.find_mut(hash, |&stored| stored as usize == last) {
                *stored = position as u32;
            }
        }
        let number = last / CHUNK;
        let mut removed = self.chunks[number].pop().expect("the last slot");
        if position != last {
            std::mem::swap(self.slot_mut(position), &mut removed);
        }
        self.len = last;
        // Keep at most one empty chunk after the last used one.
        let used = self.len.div_ceil(CHUNK);
        if self.chunks.len() > used + 1 {
            self.chunks.truncate(used + 1);
        }
        Some((removed.key, removed.entry))
    }

    /// Slots in position order.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], &Entry)> + '_ {
        self.chunks
            .iter()
            .flatten()
            .map(|slot| (slot.key.as_bytes(), &slot.entry))
    }

    /// Heap bytes of the long keys, for memory estimates: sampled by the caller.
    pub fn key_heap_size(&self, position: usize) -> usize {
        self.slot(position).key.heap_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keyspace::Value;
    use bytes::Bytes;

    fn entry(n: usize) -> Entry {
        Entry {
            value: Value::String(Bytes::from(n.to_string())),
            expire_at: 0,
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(size_of::<Key>(), 16);
        assert_eq!(size_of::<Slot>(), 64);
    }

    #[test]
    fn keys_inline_and_on_the_heap() {
        for len in [0, 1, INLINE, INLINE + 1, 300] {
            let bytes = vec![b'k'; len];
            let key = Key::new(&bytes);
            assert_eq!(key.as_bytes(), &bytes[..]);
            assert_eq!(key.heap_size() == 0, len <= INLINE);
            let copy = key.clone();
            drop(key);
            assert_eq!(copy.as_bytes(), &bytes[..]);
        }
    }

    /// The table against a HashMap model and a Vec of positions, across chunk boundaries.
    #[test]
    fn model() {
        let mut table = Table::new();
        let mut order: Vec<Vec<u8>> = Vec::new();
        let mut rng = fastrand::Rng::with_seed(7);
        for round in 0..20_000 {
            let n = rng.usize(..3000);
            let key = if n % 3 == 0 {
                format!("a much longer key number {n}").into_bytes()
            } else {
                format!("k{n}").into_bytes()
            };
            if rng.usize(..10) < 6 || round < 2500 {
                let (position, old) = table.insert_full(&key, entry(round));
                match order.iter().position(|k| *k == key) {
                    Some(at) => {
                        assert_eq!(at, position);
                        assert!(old.is_some());
                    }
                    None => {
                        assert!(old.is_none());
                        assert_eq!(position, order.len());
                        order.push(key);
                    }
                }
            } else if let Some(at) = order.iter().position(|k| *k == key) {
                let (removed, _) = table.swap_remove_index(at).unwrap();
                assert_eq!(removed.as_bytes(), &key[..]);
                order.swap_remove(at);
            } else {
                assert_eq!(table.get_index_of(&key), None);
            }
            assert_eq!(table.len(), order.len());
        }
        for (at, key) in order.iter().enumerate() {
            assert_eq!(table.get_index_of(key), Some(at));
            assert_eq!(table.get_index(at).unwrap().0, &key[..]);
        }
        let walked: Vec<&[u8]> = table.iter().map(|(key, _)| key).collect();
        assert_eq!(walked, order.iter().map(Vec::as_slice).collect::<Vec<_>>());
        while !order.is_empty() {
            table.swap_remove_index(0);
            order.swap_remove(0);
            if let Some(key) = order.first() {
                assert_eq!(table.get_index_of(key), Some(0));
            }
        }
        assert!(table.is_empty());
        assert!(table.capacity().0 <= CHUNK, "at most one chunk kept");
    }
}
