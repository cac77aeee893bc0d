//! Sorted sets: members with scores, ordered by (score, member bytes) as Redis orders them.
//!
//! Two encodings, switched at Redis's thresholds (`zset-max-listpack-entries`, 128, and
//! `zset-max-listpack-value`, 64 bytes), and reported by OBJECT ENCODING under Redis's names:
//!
//! - `listpack` ([`Listpack`]): one flat buffer of (member, score) entries in order; every
//!   operation walks it. Used while the set has at most the entry limit and every member is at most
//!   the value limit.
//! - `skiplist` ([`Large`]): members stored once with their scores, a hash index from member to
//!   score, and an order-statistic index giving rank, select and range search in O(log n).
//!
//! As in Redis, a set converts to the large encoding when an insert crosses a limit and never
//! converts back on removal; sets built whole (the STORE commands, [`ZSet::from_pairs`]) take
//! the compact encoding when they fit.
//!
//! Everything a command needs is expressed over ranks: a score or lex range is turned into a
//! rank range with [`ZSet::partition_point`], then read with [`ZSet::range`] or removed with
//! [`ZSet::remove_ranks`].

mod large;
mod listpack;
mod order;

#[cfg(test)]
mod tests;

pub use large::Large;
pub use listpack::Listpack;

/// The encoding thresholds (`zset-max-listpack-entries`, `zset-max-listpack-value`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZSetLimits {
    pub max_listpack_entries: usize,
    pub max_listpack_value: usize,
}

impl Default for ZSetLimits {
    fn default() -> Self {
        ZSetLimits {
            max_listpack_entries: 128,
            max_listpack_value: 64,
        }
    }
}

/// A sorted set in one of its two encodings (see the module docs).
#[derive(Debug, Clone)]
pub enum ZSet {
    Listpack(Listpack),
    Skiplist(Box<Large>),
}

impl Default for ZSet {
    fn default() -> Self {
        ZSet::Listpack(Listpack::default())
    }
}

impl PartialEq for ZSet {
    /// Same members with the same scores, whatever the encodings.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len()
            && self
                .iter()
                .zip(other.iter())
                .all(|((m1, s1), (m2, s2))| m1 == m2 && s1.to_bits() == s2.to_bits())
    }
}

impl ZSet {
    pub fn new() -> ZSet {
        ZSet::default()
    }

    /// A set holding `pairs`, whose members are distinct (of duplicates only one is kept), in the
    /// compact encoding when it fits `limits`. For the STORE commands and snapshot loading. A NaN score, which no command can
    /// store, is dropped rather than trusted (it could only come from a damaged file).
    pub fn from_pairs<M: AsRef<[u8]>>(
        pairs: impl IntoIterator<Item = (M, f64)>,
        limits: &ZSetLimits,
    ) -> ZSet {
        let mut pairs: Vec<(M, f64)> = pairs
            .into_iter()
            .filter(|(_, score)| !score.is_nan())
            .collect();
        let fits = pairs.len() <= limits.max_listpack_entries.min(Listpack::MAX_ENTRIES)
            && pairs
                .iter()
                .all(|(member, _)| member.as_ref().len() <= limits.max_listpack_value);
        let mut set = if fits {
            ZSet::Listpack(Listpack::default())
        } else {
            ZSet::Skiplist(Box::default())
        };
        // In order, so that each insert lands at the end: cheap for both encodings.
        pairs.sort_by(|(m1, s1), (m2, s2)| {
            s1.total_cmp(s2).then_with(|| m1.as_ref().cmp(m2.as_ref()))
        });
        for (member, score) in &pairs {
            set.insert(member.as_ref(), *score, limits);
        }
        set
    }

    pub fn len(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.len(),
            ZSet::Skiplist(large) => large.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// OBJECT ENCODING's name.
    pub fn encoding(&self) -> &'static str {
        match self {
            ZSet::Listpack(_) => "listpack",
            ZSet::Skiplist(_) => "skiplist",
        }
    }

    /// Rough bytes held (for memory estimates).
    pub fn heap_size(&self) -> usize {
        match self {
            ZSet::Listpack(lp) => lp.heap_size(),
            ZSet::Skiplist(large) => large.heap_size(),
        }
    }

    pub fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => lp.find(member).map(|(_, entry)| entry.score),
            ZSet::Skiplist(large) => large.score(member),
        }
    }

    /// Rank of `member` in ascending order.
    pub fn rank(&self, member: &[u8]) -> Option<usize> {
        match self {
            ZSet::Listpack(lp) => lp.find(member).map(|(rank, _)| rank),
            ZSet::Skiplist(large) => large.rank(member),
        }
    }

    /// Sets `member`'s score (never NaN), converting to the large encoding when a limit is
    /// crossed; returns the previous score (None when the member is new).
    pub fn insert(&mut self, member: &[u8], score: f64, limits: &ZSetLimits) -> Option<f64> {
        debug_assert!(!score.is_nan());
        if let ZSet::Listpack(lp) = self {
            let found = lp.find(member).map(|(_, e)| (e.start, e.end, e.score));
            match found {
                Some((start, end, old)) => {
                    if old.to_bits() != score.to_bits() {
                        lp.remove_span(start, end);
                        lp.insert_new(member, score);
                    }
                    return Some(old);
                }
                None if lp.len() < limits.max_listpack_entries.min(Listpack::MAX_ENTRIES)
                    && member.len() <= limits.max_listpack_value =>
                {
                    lp.insert_new(member, score);
                    return None;
                }
                None => self.convert_to_large(),
            }
        }
        match self {
            ZSet::Skiplist(large) => large.insert(member, score),
            ZSet::Listpack(_) => unreachable!("converted above"),
        }
    }

    fn convert_to_large(&mut self) {
        if let ZSet::Listpack(lp) = self {
            let mut large = Large::new();
            for entry in lp.iter() {
                large.insert(entry.member, entry.score);
            }
            *self = ZSet::Skiplist(Box::new(large));
        }
    }

    /// Removes `member`; returns its score.
    pub fn remove(&mut self, member: &[u8]) -> Option<f64> {
        match self {
            ZSet::Listpack(lp) => {
                let (_, entry) = lp.find(member)?;
                let (start, end, score) = (entry.start, entry.end, entry.score);
                lp.remove_span(start, end);
                Some(score)
            }
            ZSet::Skiplist(large) => large.remove(member),
        }
    }

    /// Removes the entries of ranks `start..end` (clamped to the set); returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        let end = end.min(self.len());
        if start >= end {
            return 0;
        }
        match self {
            ZSet::Listpack(lp) => lp.remove_ranks(start, end),
            ZSet::Skiplist(large) => large.remove_ranks(start, end),
        }
    }

    /// The first rank whose entry fails `pred`, given that `pred` holds for a prefix of the
    /// order: with `|m, s| s < min` the first rank with a score of at least `min`.
    pub fn partition_point(&self, mut pred: impl FnMut(&[u8], f64) -> bool) -> usize {
        match self {
            ZSet::Listpack(lp) => lp
                .iter()
                .position(|entry| !pred(entry.member, entry.score))
                .unwrap_or(lp.len()),
            ZSet::Skiplist(large) => large.partition_point(pred),
        }
    }

    /// The entry of rank `rank`.
    pub fn get(&self, rank: usize) -> Option<(&[u8], f64)> {
        match self {
            ZSet::Listpack(lp) => lp.iter().nth(rank).map(|e| (e.member, e.score)),
            ZSet::Skiplist(large) => large.get(rank),
        }
    }

    /// Calls `visit` for ranks `start..end` (clamped to the set), ascending, or descending from
    /// rank `end - 1` down to `start` when `reverse`.
    pub fn range(
        &self,
        start: usize,
        end: usize,
        reverse: bool,
        mut visit: impl FnMut(&[u8], f64),
    ) {
        let end = end.min(self.len());
        if start >= end {
            return;
        }
        let count = end - start;
        match (self, reverse) {
            (ZSet::Listpack(lp), false) => lp
                .iter()
                .skip(start)
                .take(count)
                .for_each(|e| visit(e.member, e.score)),
            (ZSet::Listpack(lp), true) => {
                let entries: Vec<_> = lp.iter().skip(start).take(count).collect();
                entries.iter().rev().for_each(|e| visit(e.member, e.score));
            }
            (ZSet::Skiplist(large), false) => large
                .iter_from(start)
                .take(count)
                .for_each(|(m, s)| visit(m, s)),
            (ZSet::Skiplist(large), true) => large
                .iter_back_from(end - 1)
                .take(count)
                .for_each(|(m, s)| visit(m, s)),
        }
    }

    /// Every (member, score) in ascending order (for snapshots, STORE commands, comparisons).
    pub fn iter(&self) -> Box<dyn Iterator<Item = (&[u8], f64)> + '_> {
        match self {
            ZSet::Listpack(lp) => Box::new(lp.iter().map(|e| (e.member, e.score))),
            ZSet::Skiplist(large) => Box::new(large.iter_from(0)),
        }
    }

    /// One ZSCAN step from `cursor` visiting about `count` entries; returns the next cursor (0 =
    /// done). The compact encoding returns everything at once, as Redis does; the large one walks
    /// member slots, which stay put while their member is in the set, so every member present for
    /// a whole scan is returned (see `large.rs`).
    pub fn scan(&self, cursor: u64, count: usize, mut found: impl FnMut(&[u8], f64)) -> u64 {
        match self {
            ZSet::Listpack(lp) => {
                lp.iter().for_each(|e| found(e.member, e.score));
                0
            }
            ZSet::Skiplist(large) => large.scan(cursor, count, found),
        }
    }

    #[cfg(test)]
    pub fn check_invariants(&self) {
        if let ZSet::Skiplist(large) = self {
            large.check_invariants();
        }
        let pairs: Vec<_> = self.iter().collect();
        assert_eq!(pairs.len(), self.len());
        for window in pairs.windows(2) {
            assert!((window[0].1, window[0].0) < (window[1].1, window[1].0));
        }
    }
}
