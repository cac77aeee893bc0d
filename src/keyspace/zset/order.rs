//! The ordered index of a large sorted set: `(score, id)` pairs in (score, member) order, with
//! O(log n) search, rank and select.
//!
//! A counted B-tree of height two: the pairs sit in blocks of at most [`MAX_BLOCK`] entries, each
//! block a pair of parallel arrays (scores and ids, 12 bytes an entry, no per-entry allocation), and
//! a Fenwick tree over the block lengths turns "rank of block b" and "block holding rank r" into
//! O(log n) walks. Searching is a binary search over the blocks' last entries, then inside one
//! block. Inserting or removing shifts at most one block's entries (a bounded memmove, as a B-tree
//! node does) and updates the Fenwick tree in O(log n); a block split or an emptied block rebuilds
//! the Fenwick tree, once per about [`MAX_BLOCK`] / 2 inserts, a few microseconds even for millions
//! of entries.
//!
//! Ids are indices into the owner's member table (`large.rs`); comparing two entries with equal
//! scores needs their members, so every search takes a predicate that the owner answers.

/// Most entries in one block; a fuller block splits in two.
const MAX_BLOCK: usize = 512;
/// A block shorter than this merges with a neighbour when the two fit in one.
const MIN_BLOCK: usize = MAX_BLOCK / 8;

#[derive(Debug, Clone, Default)]
struct Block {
    scores: Vec<f64>,
    ids: Vec<u32>,
}

impl Block {
    fn len(&self) -> usize {
        self.ids.len()
    }
}

/// A position: block index and offset inside it.
pub type Loc = (usize, usize);

#[derive(Debug, Clone, Default)]
pub struct Order {
    blocks: Vec<Block>,
    /// Fenwick tree (1-based inside, `fenwick[i]` for block `i`) over the block lengths.
    fenwick: Vec<usize>,
    len: usize,
}

impl Order {
    pub fn len(&self) -> usize {
        self.len
    }

    /// Bytes held by the blocks (for memory estimates).
    pub fn heap_size(&self) -> usize {
        self.blocks
            .iter()
            .map(|block| block.scores.capacity() * 8 + block.ids.capacity() * 4)
            .sum::<usize>()
            + self.blocks.capacity() * std::mem::size_of::<Block>()
            + self.fenwick.capacity() * 8
    }

    /// The first position whose entry fails `pred`, given that `pred` holds for a prefix of the
    /// order (and fails for the rest). Returns the position and its rank; the position is one past
    /// the last entry when `pred` holds everywhere.
    pub fn partition_point(&self, mut pred: impl FnMut(f64, u32) -> bool) -> (Loc, usize) {
        let block = self.blocks.partition_point(|block| {
            let last = block.len() - 1;
            pred(block.scores[last], block.ids[last])
        });
        if block == self.blocks.len() {
            return (self.end_loc(), self.len);
        }
        let entries = &self.blocks[block];
        let (mut low, mut high) = (0, entries.len());
        while low < high {
            let mid = (low + high) / 2;
            if pred(entries.scores[mid], entries.ids[mid]) {
                low = mid + 1;
            } else {
                high = mid;
            }
        }
        let offset = low;
        ((block, offset), self.prefix(block) + offset)
    }

    /// The position just past the last entry.
    fn end_loc(&self) -> Loc {
        match self.blocks.len() {
            0 => (0, 0),
            n => (n - 1, self.blocks[n - 1].len()),
        }
    }

    /// The position of rank `rank` (`rank < len`).
    pub fn select(&self, rank: usize) -> Loc {
        // Fenwick descent: the largest prefix of whole blocks holding at most `rank` entries.
        let n = self.blocks.len();
        let (mut index, mut remaining) = (0usize, rank);
        let mut step = n.next_power_of_two();
        while step > 0 {
            let next = index + step;
            if next <= n && self.fenwick[next - 1] <= remaining {
                index = next;
                remaining -= self.fenwick[next - 1];
            }
            step >>= 1;
        }
        (index, remaining)
    }

    /// The entry at `loc`.
    pub fn get(&self, (block, offset): Loc) -> (f64, u32) {
        let block = &self.blocks[block];
        (block.scores[offset], block.ids[offset])
    }

    /// Entries forward from rank `start`, at most `count` of them.
    pub fn iter_from(&self, start: usize) -> impl Iterator<Item = (f64, u32)> + '_ {
        let (first_block, first_offset) = if start >= self.len {
            (self.blocks.len(), 0)
        } else {
            self.select(start)
        };
        self.blocks[first_block.min(self.blocks.len())..]
            .iter()
            .enumerate()
            .flat_map(move |(i, block)| {
                let skip = if i == 0 { first_offset } else { 0 };
                block.scores[skip..]
                    .iter()
                    .copied()
                    .zip(block.ids[skip..].iter().copied())
            })
    }

    /// Entries backward from rank `start` (inclusive, `start < len`) down to rank 0.
    pub fn iter_back_from(&self, start: usize) -> impl Iterator<Item = (f64, u32)> + '_ {
        let (last_block, last_offset) = if self.len == 0 {
            (0, 0)
        } else {
            let (block, offset) = self.select(start.min(self.len - 1));
            (block + 1, offset + 1)
        };
        let count = self.blocks.len();
        self.blocks[..last_block.min(count)]
            .iter()
            .rev()
            .enumerate()
            .flat_map(move |(i, block)| {
                let end = if i == 0 { last_offset } else { block.len() };
                block.scores[..end]
                    .iter()
                    .copied()
                    .zip(block.ids[..end].iter().copied())
                    .rev()
            })
    }

    /// Inserts an entry at `loc` (from [`Order::partition_point`]).
    pub fn insert(&mut self, (block, offset): Loc, score: f64, id: u32) {
        self.len += 1;
        if self.blocks.is_empty() {
            self.blocks.push(Block {
                scores: vec![score],
                ids: vec![id],
            });
            self.rebuild_fenwick();
            return;
        }
        let entries = &mut self.blocks[block];
        entries.scores.insert(offset, score);
        entries.ids.insert(offset, id);
        if entries.len() > MAX_BLOCK {
            let half = entries.len() / 2;
            let upper = Block {
                scores: entries.scores.split_off(half),
                ids: entries.ids.split_off(half),
            };
            entries.scores.shrink_to_fit();
            entries.ids.shrink_to_fit();
            self.blocks.insert(block + 1, upper);
            self.rebuild_fenwick();
        } else {
            self.fenwick_add(block, 1);
        }
    }

    /// Removes the entry at `loc` and returns its id.
    pub fn remove(&mut self, (block, offset): Loc) -> u32 {
        self.len -= 1;
        let entries = &mut self.blocks[block];
        entries.scores.remove(offset);
        let id = entries.ids.remove(offset);
        if entries.len() == 0 {
            self.blocks.remove(block);
            self.rebuild_fenwick();
        } else if entries.len() < MIN_BLOCK && self.merge_around(block) {
            self.rebuild_fenwick();
        } else {
            self.fenwick_add(block, 1usize.wrapping_neg());
        }
        id
    }

    /// Removes ranks `start..end` (in range) and returns their ids in order.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> Vec<u32> {
        let mut removed = Vec::with_capacity(end.saturating_sub(start));
        if start >= end {
            return removed;
        }
        let (mut block, mut offset) = self.select(start);
        let entries = &mut self.blocks[block];
        if offset + (end - start) < entries.len() {
            // Inside one block, which keeps entries (ZPOPMIN, short ZREMRANGEBYRANK): no
            // block disappears, so the Fenwick tree is updated in place.
            entries.scores.drain(offset..offset + (end - start));
            removed.extend(entries.ids.drain(offset..offset + (end - start)));
            self.len -= removed.len();
            self.fenwick_add(block, removed.len().wrapping_neg());
            return removed;
        }
        let mut left = end - start;
        while left > 0 {
            let entries = &mut self.blocks[block];
            let take = left.min(entries.len() - offset);
            entries.scores.drain(offset..offset + take);
            removed.extend(entries.ids.drain(offset..offset + take));
            left -= take;
            block += 1;
            offset = 0;
        }
        self.len -= removed.len();
        self.blocks.retain(|block| block.len() > 0);
        self.rebuild_fenwick();
        removed
    }

    /// Merges the short block `block` into a neighbour if they fit in one; true if it did.
    fn merge_around(&mut self, block: usize) -> bool {
        let len = self.blocks[block].len();
        let into = if block > 0 && self.blocks[block - 1].len() + len <= MAX_BLOCK / 2 {
            block - 1
        } else if block + 1 < self.blocks.len()
            && self.blocks[block + 1].len() + len <= MAX_BLOCK / 2
        {
            block
        } else {
            return false;
        };
        let next = self.blocks.remove(into + 1);
        let target = &mut self.blocks[into];
        target.scores.extend_from_slice(&next.scores);
        target.ids.extend_from_slice(&next.ids);
        true
    }

    /// Entries in blocks before `block`.
    pub fn prefix(&self, block: usize) -> usize {
        let (mut index, mut sum) = (block, 0);
        while index > 0 {
            sum += self.fenwick[index - 1];
            index &= index - 1;
        }
        sum
    }

    fn fenwick_add(&mut self, block: usize, delta: usize) {
        let mut index = block + 1;
        while index <= self.fenwick.len() {
            self.fenwick[index - 1] = self.fenwick[index - 1].wrapping_add(delta);
            index += index & index.wrapping_neg();
        }
    }

    fn rebuild_fenwick(&mut self) {
        let n = self.blocks.len();
        self.fenwick.clear();
        self.fenwick.extend(self.blocks.iter().map(Block::len));
        for i in 1..=n {
            let parent = i + (i & i.wrapping_neg());
            if parent <= n {
                self.fenwick[parent - 1] += self.fenwick[i - 1];
            }
        }
    }

    #[cfg(test)]
    pub fn check_invariants(&self) {
        let mut total = 0;
        for (i, block) in self.blocks.iter().enumerate() {
            assert!(
                block.len() > 0 && block.len() <= MAX_BLOCK,
                "block {i} size"
            );
            assert_eq!(block.scores.len(), block.ids.len());
            assert_eq!(self.prefix(i), total, "prefix of block {i}");
            total += block.len();
        }
        assert_eq!(total, self.len);
    }
}
