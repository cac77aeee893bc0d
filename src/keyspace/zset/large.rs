//! The large encoding of a sorted set (what Redis calls "skiplist"): members stored once, a hash
//! index from member to its slot, and an order-statistic index of `(score, slot)` pairs.
//!
//! - `slots` holds each member once (`Box<[u8]>`, 16 bytes plus the bytes) with its score; a slot
//!   keeps its number for as long as its member stays in the set, and freed numbers are reused.
//!   ZSCAN's cursor is a slot number, which is what makes it stable under concurrent writes.
//!   For the same reason the slot table never shrinks or renumbers while the set lives (freed
//!   slots are reused first): a set that shrank a lot keeps 24 bytes per freed slot until it is
//!   deleted or rebuilt (the STORE commands build fresh sets).
//! - `index` is a hash table of slot numbers (4 bytes an entry) hashed and compared through the
//!   slots, so the member bytes are not stored a second time.
//! - `order` (see `order.rs`) keeps the pairs sorted, for rank, range and search in O(log n).
//!
//! About 24 (slot) + 16 (member allocation for short members) + 5-9 (hash) + 12-24 (order) bytes
//! a member, against about 110 for Redis's skiplist node, dict entry and sds.

use ahash::RandomState;
use hashbrown::HashTable;

use super::order::{Loc, Order};

#[derive(Debug, Clone)]
struct Slot {
    member: Box<[u8]>,
    /// NaN marks a free slot (a stored score is never NaN).
    score: f64,
}

#[derive(Clone)]
pub struct Large {
    slots: Vec<Slot>,
    free: Vec<u32>,
    index: HashTable<u32>,
    hasher: RandomState,
    order: Order,
    /// Bytes of all members, kept for memory estimates.
    member_bytes: usize,
}

impl std::fmt::Debug for Large {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Large").field("len", &self.len()).finish()
    }
}

impl Default for Large {
    fn default() -> Self {
        Large::new()
    }
}

impl Large {
    pub fn new() -> Large {
        Large {
            slots: Vec::new(),
            free: Vec::new(),
            index: HashTable::new(),
            hasher: RandomState::new(),
            order: Order::default(),
            member_bytes: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rough bytes held (for memory estimates).
    pub fn heap_size(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.member_bytes
            + self.index.capacity() * 5
            + self.order.heap_size()
    }

    fn hash(&self, member: &[u8]) -> u64 {
        self.hasher.hash_one(member)
    }

    fn slot_of(&self, member: &[u8]) -> Option<u32> {
        let slots = &self.slots;
        self.index
            .find(self.hash(member), |&id| {
                &*slots[id as usize].member == member
            })
            .copied()
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        self.slot_of(member).map(|id| self.slots[id as usize].score)
    }

    pub fn member(&self, id: u32) -> &[u8] {
        &self.slots[id as usize].member
    }

    /// Where `(score, member)` sits (or would sit) in the order, and its rank.
    fn locate(&self, score: f64, member: &[u8]) -> (Loc, usize) {
        let slots = &self.slots;
        self.order.partition_point(|s, id| {
            s < score || (s == score && &*slots[id as usize].member < member)
        })
    }

    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        let score = self.score(member)?;
        Some(self.locate(score, member).1)
    }

    /// Sets `member`'s score; returns the previous score (None when the member is new).
    pub fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        if let Some(id) = self.slot_of(member) {
            let old = self.slots[id as usize].score;
            if old.to_bits() != score.to_bits() {
                let (loc, _) = self.locate(old, member);
                self.order.remove(loc);
                self.slots[id as usize].score = score;
                let (loc, _) = self.locate(score, member);
                self.order.insert(loc, score, id);
            }
            return Some(old);
        }
        let slot = Slot {
            member: member.into(),
            score,
        };
        self.member_bytes += member.len();
        let id = match self.free.pop() {
            Some(id) => {
                self.slots[id as usize] = slot;
                id
            }
            None => {
                self.slots.push(slot);
                (self.slots.len() - 1) as u32
            }
        };
        let (slots, hasher) = (&self.slots, &self.hasher);
        self.index.insert_unique(self.hash(member), id, |&id| {
            hasher.hash_one(&*slots[id as usize].member)
        });
        let (loc, _) = self.locate(score, member);
        self.order.insert(loc, score, id);
        None
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let id = self.slot_of(member)?;
        let score = self.slots[id as usize].score;
        let (loc, _) = self.locate(score, member);
        self.order.remove(loc);
        self.free_slot(id);
        Some(score)
    }

    /// Drops slot `id` from the hash index and frees it.
    fn free_slot(&mut self, id: u32) {
        let hash = self.hash(&self.slots[id as usize].member);
        self.member_bytes -= self.slots[id as usize].member.len();
        if let Ok(entry) = self.index.find_entry(hash, |&other| other == id) {
            entry.remove();
        }
        self.slots[id as usize] = Slot {
            member: Box::default(),
            score: f64::NAN,
        };
        self.free.push(id);
        if self.free.len() == self.slots.len() {
            // Empty: give the tables back.
            *self = Large::new();
        }
    }

    /// Removes ranks `start..end` (in range); returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let ids = self.order.remove_ranks(start, end);
        for &id in &ids {
            self.free_slot(id);
        }
        ids.len()
    }

    /// The first rank whose entry fails `pred` (which holds for a prefix of the order).
    pub fn partition_point(&self, mut pred: impl FnMut(&[u8], f64) -> bool) -> usize {
        let slots = &self.slots;
        self.order
            .partition_point(|score, id| pred(&slots[id as usize].member, score))
            .1
    }

    /// The entry of rank `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        if rank >= self.len() {
            return None;
        }
        let (score, id) = self.order.get(self.order.select(rank));
        Some((self.member(id), score))
    }

    /// Entries forward from rank `start`.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        self.order
            .iter_from(start)
            .map(|(score, id)| (self.member(id), score))
    }

    /// Entries backward from rank `start` (inclusive) to rank 0.
    pub fn iter_back_from(&self, start: usize) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        self.order
            .iter_back_from(start)
            .map(|(score, id)| (self.member(id), score))
    }

    /// One ZSCAN step: visits `count` slots from `cursor`, calling `found` for each live one;
    /// returns the next cursor (0 when the walk is over).
    pub fn scan(&self, cursor: u64, count: usize, mut found: impl FnMut(&[u8], f64)) -> u64 {
        let start = usize::try_from(cursor).unwrap_or(usize::MAX);
        let end = start.saturating_add(count.max(1)).min(self.slots.len());
        for slot in self.slots.get(start..end).unwrap_or(&[]) {
            if !slot.score.is_nan() {
                found(&slot.member, slot.score);
            }
        }
        if end >= self.slots.len() {
            0
        } else {
            end as u64
        }
    }

    #[cfg(test)]
    pub fn check_invariants(&self) {
        self.order.check_invariants();
        assert_eq!(self.index.len(), self.order.len());
        assert_eq!(self.slots.len() - self.free.len(), self.order.len());
        let bytes: usize = self.slots.iter().map(|slot| slot.member.len()).sum();
        assert_eq!(bytes, self.member_bytes);
        let mut previous: Option<(f64, &[u8])> = None;
        for (member, score) in self.iter_from(0) {
            if let Some(previous) = previous {
                assert!(previous < (score, member), "order");
            }
            assert_eq!(self.score(member), Some(score));
            previous = Some((score, member));
        }
    }
}
