//! Listpack: a sequence of byte strings packed into one flat allocation, the compact encoding of
//! small hashes and sets and the node of a quicklist (Redis's `listpack.c`, simplified).
//!
//! Layout of `buf`: the entries back to back, with no header (the count is a field beside the
//! buffer, so a listpack of 80 bytes of entries takes an 80-byte block rather than the next size
//! class up: 16 bytes a key for a 10-field hash of short strings). An entry
//! is `varint(len) data reverse(varint(len))`: the length as LEB128 before the data so a forward
//! walk can skip it, and the same bytes mirrored after it so a backward walk can too (reading the
//! trailing bytes from the end gives the LEB128 bytes in order). A string under 128 bytes costs two
//! bytes of overhead, as in Redis. An empty listpack holds no allocation at all.
//!
//! Positions are byte offsets of an entry's first byte; `end()` is the offset one past the last
//! entry. The buffer grows with `reserve_exact`, as Redis reallocates a listpack to its exact size
//! on every insert: small collections waste no capacity.

use std::fmt;

#[derive(Clone, Default, PartialEq, Eq)]
pub struct Listpack {
    buf: Vec<u8>,
    /// Number of entries.
    count: u32,
}

impl fmt::Debug for Listpack {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(String::from_utf8_lossy))
            .finish()
    }
}

/// Bytes of a LEB128 varint holding `len`.
fn varint_size(len: usize) -> usize {
    let mut size = 1;
    let mut rest = len >> 7;
    while rest != 0 {
        size += 1;
        rest >>= 7;
    }
    size
}

fn write_varint(out: &mut [u8], mut len: usize) {
    let mut index = 0;
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        if len == 0 {
            out[index] = byte;
            return;
        }
        out[index] = byte | 0x80;
        index += 1;
    }
}

/// Bytes an entry holding `len` bytes of data takes.
pub fn entry_size(len: usize) -> usize {
    len + 2 * varint_size(len)
}

impl Listpack {
    pub fn new() -> Self {
        Listpack {
            buf: Vec::new(),
            count: 0,
        }
    }

    /// A listpack holding `items` in order.
    pub fn from_items<'a>(items: impl IntoIterator<Item = &'a [u8]>) -> Self {
        let mut listpack = Listpack::new();
        for item in items {
            listpack.push_back(item);
        }
        listpack
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes used (Redis's `lpBytes`, which the list size limits are measured against).
    pub fn bytes(&self) -> usize {
        self.buf.len()
    }

    /// Allocated bytes (for memory estimates).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    fn set_len(&mut self, len: usize) {
        if len == 0 {
            self.buf = Vec::new();
        }
        self.count = u32::try_from(len).expect("a listpack holds fewer than 2^32 entries");
    }

    /// Offset of the first entry (equal to `end()` when empty).
    pub fn start(&self) -> usize {
        0
    }

    /// Offset one past the last entry.
    pub fn end(&self) -> usize {
        self.buf.len()
    }

    /// The entry at `offset` and the offset of the next one.
    pub fn entry(&self, offset: usize) -> (&[u8], usize) {
        let (mut len, mut shift, mut at) = (0usize, 0, offset);
        loop {
            let byte = self.buf[at];
            at += 1;
            len |= ((byte & 0x7f) as usize) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let data = &self.buf[at..at + len];
        (data, at + len + (at - offset))
    }

    /// Offset of the entry that ends at `end` (the previous entry), if any.
    pub fn prev(&self, end: usize) -> Option<usize> {
        if end == 0 {
            return None;
        }
        let (mut len, mut shift, mut at) = (0usize, 0, end);
        loop {
            at -= 1;
            let byte = self.buf[at];
            len |= ((byte & 0x7f) as usize) << shift;
            shift += 7;
            if byte & 0x80 == 0 {
                break;
            }
        }
        let width = end - at;
        Some(at - len - width)
    }

    /// Offset of entry number `index` (0-based from the head), walking from the nearer end.
    pub fn offset_of(&self, index: usize) -> Option<usize> {
        let len = self.len();
        if index >= len {
            return None;
        }
        if index <= len / 2 {
            let mut offset = self.start();
            for _ in 0..index {
                offset = self.entry(offset).1;
            }
            Some(offset)
        } else {
            let mut offset = self.end();
            for _ in index..len {
                offset = self.prev(offset)?;
            }
            Some(offset)
        }
    }

    /// Entry number `index`.
    pub fn get(&self, index: usize) -> Option<&[u8]> {
        self.offset_of(index).map(|offset| self.entry(offset).0)
    }

    /// Entries from the head.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            listpack: self,
            front: self.start(),
            back: self.end(),
        }
    }

    /// Offset of the first entry equal to `item` at or after `offset`, stepping `step` entries
    /// at a time (2 searches the fields of a field/value listpack).
    pub fn find(&self, item: &[u8], step: usize) -> Option<usize> {
        let mut offset = self.start();
        let end = self.end();
        while offset < end {
            let (data, mut next) = self.entry(offset);
            if data == item {
                return Some(offset);
            }
            for _ in 1..step {
                if next < end {
                    next = self.entry(next).1;
                }
            }
            offset = next;
        }
        None
    }

    /// Inserts `item` as a new entry starting at `offset` (an entry boundary or `end()`).
    pub fn insert_at(&mut self, offset: usize, item: &[u8]) {
        let width = varint_size(item.len());
        let size = item.len() + 2 * width;
        let old_end = self.buf.len();
        self.buf.reserve_exact(size);
        self.buf.resize(old_end + size, 0);
        self.buf.copy_within(offset..old_end, offset + size);
        let slot = &mut self.buf[offset..offset + size];
        write_varint(&mut slot[..width], item.len());
        slot[width..width + item.len()].copy_from_slice(item);
        let (head, tail) = slot.split_at_mut(width + item.len());
        for (dst, src) in tail.iter_mut().zip(head[..width].iter().rev()) {
            *dst = *src;
        }
        let len = self.len() + 1;
        self.set_len(len);
    }

    pub fn push_back(&mut self, item: &[u8]) {
        self.insert_at(self.end(), item);
    }

    pub fn push_front(&mut self, item: &[u8]) {
        self.insert_at(self.start(), item);
    }

    /// Removes `count` entries starting at `offset`; the entry after them now starts at `offset`.
    pub fn remove_at(&mut self, offset: usize, count: usize) {
        let mut end = offset;
        let mut removed = 0;
        while removed < count && end < self.buf.len() {
            end = self.entry(end).1;
            removed += 1;
        }
        self.buf.drain(offset..end);
        let len = self.len() - removed;
        self.set_len(len);
        // Give back what a big removal freed, as Redis reallocates to the exact size.
        if self.buf.capacity() > self.buf.len() * 2 {
            self.buf.shrink_to_fit();
        }
    }

    /// Replaces the entry at `offset` with `item`.
    pub fn replace_at(&mut self, offset: usize, item: &[u8]) {
        let (old, next) = self.entry(offset);
        if old.len() == item.len() {
            let width = varint_size(item.len());
            self.buf[offset + width..offset + width + item.len()].copy_from_slice(item);
            return;
        }
        let count = self.len();
        self.buf.drain(offset..next);
        self.set_len(count - 1);
        self.insert_at(offset, item);
    }

    /// Removes and returns the first entry.
    pub fn pop_front(&mut self) -> Option<Vec<u8>> {
        if self.is_empty() {
            return None;
        }
        let offset = self.start();
        let item = self.entry(offset).0.to_vec();
        self.remove_at(offset, 1);
        Some(item)
    }

    /// Removes and returns the last entry.
    pub fn pop_back(&mut self) -> Option<Vec<u8>> {
        let offset = self.prev(self.end())?;
        let item = self.entry(offset).0.to_vec();
        self.remove_at(offset, 1);
        Some(item)
    }

    /// Makes room for `additional` more bytes with amortized growth to the next power of two, for
    /// a quicklist node that is pushed to many times; `insert_at` alone grows to the exact size.
    /// Powers of two are allocator size classes, and a full node of Redis's default 8 KiB
    /// (`list-max-listpack-size -2`) then sits in an 8 KiB block: `Vec`'s doubling from an odd
    /// first size ended at 8,704 bytes, in a 10 KiB block (25% of a long list's memory).
    pub fn reserve(&mut self, additional: usize) {
        let needed = self.buf.len() + additional;
        if needed > self.buf.capacity() {
            self.buf
                .reserve_exact(needed.next_power_of_two() - self.buf.len());
        }
    }

    /// Makes room for `additional` more bytes exactly, before a batch of inserts (HSET or SADD
    /// with many arguments), so the batch reallocates once instead of once per entry.
    pub fn reserve_exact(&mut self, additional: usize) {
        self.buf.reserve_exact(additional);
    }

    /// Drops spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }
}

/// Entries of a listpack, from either end.
pub struct Iter<'a> {
    listpack: &'a Listpack,
    front: usize,
    back: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.front >= self.back {
            return None;
        }
        let (data, next) = self.listpack.entry(self.front);
        self.front = next;
        Some(data)
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        if self.front >= self.back {
            return None;
        }
        let offset = self.listpack.prev(self.back)?;
        self.back = offset;
        Some(self.listpack.entry(offset).0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(listpack: &Listpack) -> Vec<Vec<u8>> {
        listpack.iter().map(<[u8]>::to_vec).collect()
    }

    #[test]
    fn push_pop_both_ends_and_long_entries() {
        let long = vec![b'x'; 300];
        let mut listpack = Listpack::new();
        assert_eq!(listpack.capacity(), 0);
        listpack.push_back(b"b");
        listpack.push_front(b"a");
        listpack.push_back(&long);
        listpack.push_back(b"");
        assert_eq!(listpack.len(), 4);
        assert_eq!(
            items(&listpack),
            vec![b"a".to_vec(), b"b".to_vec(), long.clone(), vec![]]
        );
        let backward: Vec<&[u8]> = listpack.iter().rev().collect();
        assert_eq!(backward, vec![&b""[..], &long[..], b"b", b"a"]);
        assert_eq!(listpack.get(2), Some(&long[..]));
        assert_eq!(listpack.get(4), None);
        assert_eq!(listpack.pop_back(), Some(vec![]));
        assert_eq!(listpack.pop_front(), Some(b"a".to_vec()));
        assert_eq!(listpack.pop_back(), Some(long));
        assert_eq!(listpack.pop_back(), Some(b"b".to_vec()));
        assert_eq!(listpack.pop_back(), None);
        assert_eq!(listpack.capacity(), 0, "an empty listpack holds no memory");
    }

    #[test]
    fn exact_size_and_two_byte_overhead() {
        let listpack = Listpack::from_items([&b"field"[..], b"value"]);
        assert_eq!(listpack.bytes(), 2 * (5 + 2));
        assert_eq!(listpack.capacity(), listpack.bytes());
    }

    #[test]
    fn find_replace_insert_remove() {
        let mut listpack = Listpack::from_items([&b"f1"[..], b"v1", b"f2", b"v2"]);
        assert_eq!(listpack.find(b"v1", 2), None, "values are not fields");
        let at = listpack.find(b"f2", 2).unwrap();
        let value_at = listpack.entry(at).1;
        listpack.replace_at(value_at, b"a much longer value");
        assert_eq!(listpack.get(3), Some(&b"a much longer value"[..]));
        listpack.replace_at(value_at, b"v9");
        listpack.remove_at(listpack.start(), 2);
        assert_eq!(items(&listpack), vec![b"f2".to_vec(), b"v9".to_vec()]);
        let middle = listpack.offset_of(1).unwrap();
        listpack.insert_at(middle, b"mid");
        assert_eq!(
            items(&listpack),
            vec![b"f2".to_vec(), b"mid".to_vec(), b"v9".to_vec()]
        );
        assert_eq!(listpack.offset_of(2), listpack.prev(listpack.end()));
    }
}
