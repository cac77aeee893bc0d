//! The list value: a quicklist, a deque of listpack nodes (Redis's `quicklist.c`), reported as
//! Redis 7.2 does: "listpack" while it is one node within `list-max-listpack-size`, "quicklist"
//! once it outgrew that, and "listpack" again only after shrinking to half the limit (Redis's
//! hysteresis in `listTypeTryConvertQuicklist`).
//!
//! A node is full when adding an entry would exceed `list-max-listpack-size` (bytes for the
//! negative settings, entries for the positive ones, Redis's `quicklistNodeExceedsLimit`). Pushes
//! at either end fill the end node or start a new one; an insert in the middle that overfills a
//! node splits it in two. Nodes are never empty. `list-compress-depth` is accepted by the
//! configuration but nodes are not compressed.

use std::collections::VecDeque;

use bytes::Bytes;

use super::limits::EncodingLimits;
use super::listpack::{entry_size, Listpack};

/// Redis's listpack has a 6-byte header and a 1-byte terminator, ours neither: sizes are
/// compared with Redis's limits as Redis would count them.
const REDIS_HEADER_EXTRA: usize = 7;

#[derive(Debug, Clone, PartialEq)]
pub struct List {
    nodes: VecDeque<Listpack>,
    len: usize,
    /// Whether OBJECT ENCODING says "listpack" (else "quicklist").
    packed: bool,
}

impl Default for List {
    fn default() -> Self {
        List {
            nodes: VecDeque::new(),
            len: 0,
            packed: true,
        }
    }
}

impl List {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a list from its items, head first (for snapshots).
    pub fn from_items<'a>(
        items: impl IntoIterator<Item = &'a [u8]>,
        limits: &EncodingLimits,
    ) -> List {
        let mut list = List::new();
        for item in items {
            list.push_back(item, limits);
        }
        list
    }

    /// Redis's OBJECT ENCODING name.
    pub fn encoding_name(&self) -> &'static str {
        if self.packed {
            "listpack"
        } else {
            "quicklist"
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Bytes held (for memory estimates).
    pub fn heap_size(&self) -> usize {
        self.nodes.iter().map(Listpack::capacity).sum::<usize>()
            + self.nodes.capacity() * size_of::<Listpack>()
    }

    fn node_exceeds(node: &Listpack, limits: &EncodingLimits) -> bool {
        limits.list_node_exceeds(node.bytes() + REDIS_HEADER_EXTRA, node.len())
    }

    fn fits(node: &Listpack, item: &[u8], limits: &EncodingLimits) -> bool {
        !limits.list_node_exceeds(
            node.bytes() + REDIS_HEADER_EXTRA + entry_size(item.len()),
            node.len() + 1,
        )
    }

    /// Redis's listpack <-> quicklist conversions: grown past one node's limit, it is a quicklist;
    /// shrunk (`shrinking`) to one node within half the limit, a listpack again.
    fn update_encoding(&mut self, shrinking: bool, limits: &EncodingLimits) {
        if self.packed {
            let over = self.nodes.len() > 1
                || self
                    .nodes
                    .front()
                    .is_some_and(|node| Self::node_exceeds(node, limits));
            if over {
                self.packed = false;
            }
        } else if shrinking && self.nodes.len() <= 1 {
            let (size_limit, count_limit) = limits.list_node_limit();
            let (bytes, count) = self.nodes.front().map_or((0, 0), |node| {
                (node.bytes() + REDIS_HEADER_EXTRA, node.len())
            });
            if bytes <= size_limit / 2 && count <= count_limit / 2 {
                self.packed = true;
            }
        }
    }

    /// A small list holds one node: its deque gets room for exactly that one (VecDeque would
    /// start at four), and grows by doubling from there.
    fn reserve_node(&mut self) {
        if self.nodes.capacity() == 0 {
            self.nodes.reserve_exact(1);
        }
    }

    pub fn push_back(&mut self, item: &[u8], limits: &EncodingLimits) {
        match self.nodes.back_mut() {
            Some(node) if Self::fits(node, item, limits) => {
                node.reserve(entry_size(item.len()));
                node.push_back(item);
            }
            full => {
                // The end node is done growing: give back its spare capacity.
                if let Some(node) = full {
                    node.shrink_to_fit();
                }
                self.reserve_node();
                self.nodes.push_back(Listpack::from_items([item]));
            }
        }
        self.len += 1;
        self.update_encoding(false, limits);
    }

    pub fn push_front(&mut self, item: &[u8], limits: &EncodingLimits) {
        match self.nodes.front_mut() {
            Some(node) if Self::fits(node, item, limits) => {
                node.reserve(entry_size(item.len()));
                node.push_front(item);
            }
            full => {
                // The end node is done growing: give back its spare capacity.
                if let Some(node) = full {
                    node.shrink_to_fit();
                }
                self.reserve_node();
                self.nodes.push_front(Listpack::from_items([item]));
            }
        }
        self.len += 1;
        self.update_encoding(false, limits);
    }

    pub fn pop_front(&mut self, limits: &EncodingLimits) -> Option<Bytes> {
        let node = self.nodes.front_mut()?;
        let item = node.pop_front()?;
        if node.is_empty() {
            self.nodes.pop_front();
        }
        self.len -= 1;
        self.update_encoding(true, limits);
        Some(Bytes::from(item))
    }

    pub fn pop_back(&mut self, limits: &EncodingLimits) -> Option<Bytes> {
        let node = self.nodes.back_mut()?;
        let item = node.pop_back()?;
        if node.is_empty() {
            self.nodes.pop_back();
        }
        self.len -= 1;
        self.update_encoding(true, limits);
        Some(Bytes::from(item))
    }

    /// (node number, index inside that node) of item `index`, walking from the nearer end.
    fn locate(&self, index: usize) -> Option<(usize, usize)> {
        if index >= self.len {
            return None;
        }
        if index < self.len / 2 {
            let mut skipped = 0;
            for (number, node) in self.nodes.iter().enumerate() {
                if index < skipped + node.len() {
                    return Some((number, index - skipped));
                }
                skipped += node.len();
            }
        } else {
            let mut first = self.len;
            for (number, node) in self.nodes.iter().enumerate().rev() {
                first -= node.len();
                if index >= first {
                    return Some((number, index - first));
                }
            }
        }
        None
    }

    pub fn get(&self, index: usize) -> Option<&[u8]> {
        let (number, local) = self.locate(index)?;
        self.nodes[number].get(local)
    }

    /// Replaces item `index`; false if out of range.
    pub fn set(&mut self, index: usize, item: &[u8], limits: &EncodingLimits) -> bool {
        let Some((number, local)) = self.locate(index) else {
            return false;
        };
        let node = &mut self.nodes[number];
        let Some(offset) = node.offset_of(local) else {
            return false;
        };
        node.replace_at(offset, item);
        self.split_if_full(number, limits);
        self.update_encoding(false, limits);
        self.update_encoding(true, limits);
        true
    }

    /// Inserts `item` so that it becomes item `index` (`index == len` appends).
    pub fn insert(&mut self, index: usize, item: &[u8], limits: &EncodingLimits) {
        if index >= self.len {
            self.push_back(item, limits);
            return;
        }
        let Some((number, local)) = self.locate(index) else {
            return;
        };
        let node = &mut self.nodes[number];
        let offset = node.offset_of(local).unwrap_or(node.end());
        node.insert_at(offset, item);
        self.len += 1;
        self.split_if_full(number, limits);
        self.update_encoding(false, limits);
    }

    /// Splits node `number` in two halves when it is over the limit and has more than one entry.
    fn split_if_full(&mut self, number: usize, limits: &EncodingLimits) {
        let node = &self.nodes[number];
        if node.len() < 2 || !Self::node_exceeds(node, limits) {
            return;
        }
        let half = node.len() / 2;
        let head = Listpack::from_items(node.iter().take(half));
        let tail = Listpack::from_items(node.iter().skip(half));
        self.nodes[number] = head;
        self.nodes.insert(number + 1, tail);
    }

    /// Removes the first `count` items (LTRIM), whole nodes at a time where it can.
    pub fn remove_front(&mut self, count: usize, limits: &EncodingLimits) {
        let mut left = count.min(self.len);
        self.len -= left;
        while left > 0 {
            let Some(node) = self.nodes.front_mut() else {
                break;
            };
            if node.len() <= left {
                left -= node.len();
                self.nodes.pop_front();
            } else {
                let start = node.start();
                node.remove_at(start, left);
                left = 0;
            }
        }
        self.update_encoding(true, limits);
    }

    /// Removes the last `count` items (LTRIM).
    pub fn remove_back(&mut self, count: usize, limits: &EncodingLimits) {
        let mut left = count.min(self.len);
        self.len -= left;
        while left > 0 {
            let Some(node) = self.nodes.back_mut() else {
                break;
            };
            if node.len() <= left {
                left -= node.len();
                self.nodes.pop_back();
            } else {
                let keep = node.len() - left;
                if let Some(offset) = node.offset_of(keep) {
                    node.remove_at(offset, left);
                }
                left = 0;
            }
        }
        self.update_encoding(true, limits);
    }

    /// LREM: removes up to `count` items equal to `item` from the head (`count > 0`), from the
    /// tail (`count < 0`), or all of them (0); returns how many went.
    pub fn remove_matching(&mut self, item: &[u8], count: i64, limits: &EncodingLimits) -> usize {
        let most = if count == 0 {
            usize::MAX
        } else {
            count.unsigned_abs().try_into().unwrap_or(usize::MAX)
        };
        let mut removed = 0;
        if count >= 0 {
            for node in self.nodes.iter_mut() {
                let mut offset = node.start();
                while removed < most && offset < node.end() {
                    let (data, next) = node.entry(offset);
                    if data == item {
                        node.remove_at(offset, 1);
                        removed += 1;
                    } else {
                        offset = next;
                    }
                }
            }
        } else {
            for node in self.nodes.iter_mut().rev() {
                let mut end = node.end();
                while removed < most && !node.is_empty() {
                    let Some(offset) = node.prev(end) else {
                        break;
                    };
                    if node.entry(offset).0 == item {
                        node.remove_at(offset, 1);
                        removed += 1;
                    }
                    end = offset;
                }
            }
        }
        self.nodes.retain(|node| !node.is_empty());
        self.len -= removed;
        self.update_encoding(true, limits);
        removed
    }

    /// Items from the head.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &[u8]> + '_ {
        self.nodes.iter().flat_map(|node| node.iter())
    }

    /// Items from `index` on toward the tail.
    pub fn iter_from(&self, index: usize) -> impl Iterator<Item = &[u8]> + '_ {
        let (number, local) = self.locate(index).unwrap_or((self.nodes.len(), 0));
        self.nodes
            .range(number..)
            .flat_map(|node| node.iter())
            .skip(local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn items(list: &List) -> Vec<String> {
        list.iter()
            .map(|item| String::from_utf8_lossy(item).into_owned())
            .collect()
    }

    #[test]
    fn grows_into_nodes_and_back_to_a_listpack() {
        let limits = EncodingLimits {
            list_max_listpack_size: 4,
            ..EncodingLimits::default()
        };
        let mut list = List::new();
        for n in 0..4 {
            list.push_back(n.to_string().as_bytes(), &limits);
        }
        assert_eq!(list.encoding_name(), "listpack");
        list.push_front(b"x", &limits);
        assert_eq!(list.encoding_name(), "quicklist");
        assert_eq!(items(&list), vec!["x", "0", "1", "2", "3"]);
        assert_eq!(list.pop_back(&limits).as_deref(), Some(&b"3"[..]));
        assert_eq!(list.encoding_name(), "quicklist", "two nodes still");
        list.pop_front(&limits);
        assert_eq!(list.encoding_name(), "quicklist", "3 entries > half of 4");
        list.pop_front(&limits);
        assert_eq!(list.encoding_name(), "listpack");
        assert_eq!(items(&list), vec!["1", "2"]);
    }

    #[test]
    fn index_insert_set_trim_remove_across_nodes() {
        let limits = EncodingLimits {
            list_max_listpack_size: 3,
            ..EncodingLimits::default()
        };
        let mut list = List::from_items((0..10).map(|_| &b"a"[..]), &limits);
        for index in 0..10 {
            list.set(index, index.to_string().as_bytes(), &limits);
        }
        assert_eq!(list.get(7), Some(&b"7"[..]));
        list.insert(5, b"five", &limits);
        list.insert(11, b"end", &limits);
        assert_eq!(
            items(&list),
            vec!["0", "1", "2", "3", "4", "five", "5", "6", "7", "8", "9", "end"]
        );
        assert_eq!(
            list.iter_from(10).collect::<Vec<_>>(),
            vec![&b"9"[..], b"end"]
        );
        list.remove_front(4, &limits);
        list.remove_back(2, &limits);
        assert_eq!(items(&list), vec!["4", "five", "5", "6", "7", "8"]);
        list.push_back(b"5", &limits);
        list.push_front(b"5", &limits);
        assert_eq!(list.remove_matching(b"5", -2, &limits), 2);
        assert_eq!(items(&list), vec!["5", "4", "five", "6", "7", "8"]);
        assert_eq!(list.remove_matching(b"5", 0, &limits), 1);
        assert_eq!(list.len(), 5);
        assert_eq!(list.iter().next_back(), Some(&b"8"[..]));
    }

    #[test]
    fn byte_limited_nodes_hold_about_8kb() {
        let limits = EncodingLimits::default();
        let item = [b'x'; 100];
        let list = List::from_items((0..1000).map(|_| &item[..]), &limits);
        assert_eq!(list.encoding_name(), "quicklist");
        assert!(list.nodes.iter().all(|node| node.bytes() <= 8192));
        assert!(list.nodes.len() <= 14, "{} nodes", list.nodes.len());
    }
}
