//! One database: keys -> entries, plus the set of keys that carry a deadline.
//!
//! # Layout
//!
//! `entries` is a [`Table`] (see `table`, laid out for memory): a hash index over a dense sequence
//! of `(key, entry)` slots. Lookups are hash lookups; the dense positions give O(1) uniform random
//! picks (RANDOMKEY) and a cursor for SCAN. `volatile` is an [`IndexSet`] of the keys whose entry
//! has a deadline (Redis's `db->expires`, a second copy of those keys only), so the active expiry
//! cycle samples only keys that can expire. Every removal is a `swap_remove`: O(1), the last
//! element moves into the hole. Nothing here ever uses `shift_remove` or reorders entries in any
//! other way — the SCAN cursor below depends on it.
//!
//! Invariant: a key is in `volatile` exactly when its entry has `expire_at != 0`. Deadlines
//! therefore change only through [`Db::insert`] and [`Db::set_expire`], never by writing
//! `expire_at` through [`Db::get_mut`]. (A stray member left by such a write is harmless: the
//! active expiry cycle drops members whose entry is gone or has no deadline.)
//!
//! # Expiry
//!
//! An entry whose `expire_at != 0 && expire_at <= now` is dead. No accessor returns a dead entry:
//! `get`, `get_mut`, `remove`, `set_expire`, `contains`, `random_key` and `scan` remove one they
//! touch; `keys_matching` and `iter_live` skip them. [`Db::active_expire`] is Redis's active expiry
//! cycle (`activeExpireCycle`): sample 20 random volatile keys, remove the dead ones, repeat while
//! more than a quarter of the sample was dead, never looking at more than a given budget of keys.
//!
//! Each dead key reclaimed (lazily or actively) adds one to a counter that
//! [`Db::take_expired_count`] reads and resets; the [`Keyspace`](super::Keyspace) folds it into
//! `stats.expired_keys`. A key deleted because a command set a deadline in the past (EXPIRE with a
//! negative TTL) is a deletion, not an expiry, and is not counted — as in Redis.
//!
//! # SCAN cursor
//!
//! Redis's guarantee is that a full iteration returns every key present for its whole duration at
//! least once (duplicates allowed). Redis gets it from reverse-binary cursors over its hash buckets;
//! here the cursor is a position in the dense vector, and the scan walks positions *downward*:
//!
//! - cursor 0 starts at the top (`len`); a returned cursor `c != 0` means "continue with positions
//!   below `c`"; 0 is returned once position 0 has been visited. A cursor above `len` (the database
//!   shrank meanwhile) is clamped to `len`.
//! - Between steps, `swap_remove` moves the *last* element into the hole. The last element sits at
//!   or above every unvisited position, so it is either already visited (then it may be returned
//!   twice: allowed) or was appended during the scan (may or may not be returned: allowed). An
//!   unvisited element never moves up, and an element present throughout is never removed, so each
//!   one is still below the cursor when the scan reaches it.
//! - New keys are appended at the top, above the cursor: allowed to be missed.
//!
//! A cursor is at most `len`, so it fits in 48 bits and the server layer can pack a shard number in
//! the upper bits.

use std::mem::size_of;

use ahash::RandomState;
use bytes::Bytes;
use indexmap::IndexSet;

use super::cut::Cut;
use super::glob::glob_match;
use super::item::Item;
use super::value::Value;

mod table;
pub use table::{Key, Table};

/// A value and its deadline in ms since the epoch (0 = no deadline).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    pub expire_at: u64,
}

impl Entry {
    /// Whether the deadline has passed at `now_ms`.
    pub fn is_expired(&self, now_ms: u64) -> bool {
        self.expire_at != 0 && self.expire_at <= now_ms
    }
}

/// Keys sampled per round of the active expiry cycle (Redis's `ACTIVE_EXPIRE_CYCLE_KEYS_PER_LOOP`).
const EXPIRE_SAMPLE: usize = 20;
/// Random picks RANDOMKEY tries before sweeping the dead keys out of a mostly-expired database.
const RANDOM_KEY_TRIES: usize = 16;
/// Up to this many keys, `avg_ttl` and `memory_estimate` look at every key; above, a sample.
const ESTIMATE_SAMPLE: usize = 256;

pub struct Db {
    entries: Table,
    /// Keys of `entries` whose `expire_at != 0`.
    volatile: IndexSet<Key, RandomState>,
    /// Dead keys reclaimed since the last `take_expired_count`.
    expired: u64,
    /// Changes made (Redis's `server.dirty`): the shard logs a write only when this moved.
    mutations: u64,
    /// A snapshot in progress (see `cut`); `None` almost always.
    cut: Option<Box<Cut>>,
    /// Keys reclaimed by expiry, kept when the binlog wants them.
    expired_keys: Option<Vec<Bytes>>,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

impl Db {
    pub fn new() -> Self {
        Db {
            entries: Table::new(),
            volatile: IndexSet::with_hasher(RandomState::new()),
            expired: 0,
            mutations: 0,
            cut: None,
            expired_keys: None,
        }
    }

    /// Number of keys, counting expired keys not yet reclaimed (as Redis's DBSIZE does).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Keys that carry a deadline.
    pub fn expires_len(&self) -> usize {
        self.volatile.len()
    }

    /// Dead keys reclaimed (lazily or by the active cycle) since the last call; resets the count.
    pub fn take_expired_count(&mut self) -> u64 {
        std::mem::take(&mut self.expired)
    }

    /// Average remaining TTL in ms over keys with a deadline (INFO keyspace `avg_ttl`), 0 if none.
    /// Exact for small databases, estimated from a random sample of volatile keys otherwise.
    pub fn avg_ttl(&self, now_ms: u64) -> u64 {
        let (mut total, mut counted) = (0u128, 0u128);
        for index in sample_indices(self.volatile.len()) {
            let Some(entry) = self
                .volatile
                .get_index(index)
                .and_then(|key| self.entries.get(key.as_bytes()))
            else {
                continue;
            };
            if entry.expire_at > now_ms {
                total += (entry.expire_at - now_ms) as u128;
                counted += 1;
            }
        }
        total
            .checked_div(counted)
            .map_or(0, |average| average as u64)
    }

    /// Rough bytes held by this database: key and value bytes plus the tables' per-entry overhead.
    /// Exact over the payload for small databases, extrapolated from a sample otherwise.
    pub fn memory_estimate(&self) -> usize {
        const PER_VOLATILE: usize = size_of::<Key>() + 2 * size_of::<usize>();
        let len = self.entries.len();
        let (mut payload, mut counted) = (0usize, 0usize);
        for index in sample_indices(len) {
            if let Some((_, entry)) = self.entries.get_index(index) {
                payload += self.entries.key_heap_size(index) + entry.value.heap_size();
                counted += 1;
            }
        }
        let payload = (payload as u128 * len as u128)
            .checked_div(counted as u128)
            .map_or(0, |bytes| bytes as usize);
        let (slots, buckets) = self.entries.capacity();
        payload
            + slots * Table::SLOT_SIZE
            + buckets * Table::BUCKET_SIZE
            + self.volatile.capacity() * PER_VOLATILE
    }

    pub fn clear(&mut self) {
        self.mutations += 1;
        // Fresh tables rather than `clear()`, so FLUSHDB gives the memory back.
        let old = std::mem::take(&mut self.entries);
        if let Some(cut) = self.cut.as_mut().filter(|cut| cut.frozen.is_none()) {
            cut.frozen = Some(old);
        }
        self.volatile = IndexSet::with_hasher(RandomState::new());
    }

    /// The live entry under `key`; an expired one is removed first and `None` returned.
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        let index = self.position(key, now_ms)?;
        self.at(index)
    }

    /// Like [`Db::get`]. Change the value through it, not `expire_at` (use [`Db::set_expire`]).
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let index = self.position(key, now_ms)?;
        self.at_mut(index)
    }

    /// Where a live key sits, for [`Db::at`] and [`Db::at_mut`]: one lookup for a read followed
    /// by a change. Valid until the next insert or removal.
    pub fn position(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        self.live_index(key, now_ms)
    }

    /// The entry at a [`Db::position`].
    pub fn at(&self, index: usize) -> Option<&Entry> {
        self.entries.get_index(index).map(|(_, entry)| entry)
    }

    /// The entry at a [`Db::position`], to change as through [`Db::get_mut`].
    pub fn at_mut(&mut self, index: usize) -> Option<&mut Entry> {
        self.before_change(index);
        self.entries.get_index_mut(index).map(|(_, entry)| entry)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Inserts or replaces; the key's bytes are copied into the table, the value stored as given
    /// (the caller copies it out of any network buffer first). A replaced key keeps its position
    /// (and its stored key).
    pub fn insert(&mut self, key: impl AsRef<[u8]>, entry: Entry) {
        let key = key.as_ref();
        self.mutations += 1;
        if self.cut.is_some() {
            if let Some(index) = self.entries.get_index_of(key) {
                self.before_change(index);
            }
        }
        let volatile_now = entry.expire_at != 0;
        let (index, old) = self.entries.insert_full(key, entry);
        let volatile_before = old.is_some_and(|old| old.expire_at != 0);
        if volatile_now != volatile_before {
            let (stored_key, _) = self
                .entries
                .get_index(index)
                .expect("index just returned by insert_full");
            if volatile_now {
                self.volatile.insert(Key::new(stored_key));
            } else {
                self.volatile.swap_remove(stored_key);
            }
        }
    }

    /// [`Db::insert`] of an item, written into the box of the item the key holds, if it holds
    /// one (live or not): a memcached overwrite then allocates and frees nothing.
    pub fn insert_item(&mut self, key: &[u8], item: Item, expire_at: u64) {
        let hash = self.entries.hash(key);
        let Some(index) = self.entries.find(hash, key) else {
            // Absent: added with the hash just computed (no second lookup).
            self.mutations += 1;
            let value = Value::Item(Box::new(item));
            self.entries
                .insert_absent(hash, key, Entry { value, expire_at });
            if expire_at != 0 {
                self.volatile.insert(Key::new(key));
            }
            return;
        };
        if !matches!(
            self.at(index),
            Some(Entry {
                value: Value::Item(_),
                ..
            })
        ) {
            let value = Value::Item(Box::new(item));
            return self.insert(key, Entry { value, expire_at });
        }
        self.before_change(index);
        let Some((_, entry)) = self.entries.get_index_mut(index) else {
            return;
        };
        let volatile_before = entry.expire_at != 0;
        entry.expire_at = expire_at;
        if let Value::Item(old) = &mut entry.value {
            **old = item;
        }
        let volatile_now = expire_at != 0;
        if volatile_now != volatile_before {
            if volatile_now {
                self.volatile.insert(Key::new(key));
            } else {
                self.volatile.swap_remove(key);
            }
        }
    }

    /// Removes and returns the live entry.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        let index = self.live_index(key, now_ms)?;
        Some(self.remove_index(index).1)
    }

    /// Sets or clears (0) the deadline of an existing key; returns false if the key is absent.
    /// A deadline at or before `now_ms` deletes the key (Redis's EXPIRE with a time in the past)
    /// and still returns true.
    pub fn set_expire(&mut self, key: &[u8], expire_at: u64, now_ms: u64) -> bool {
        let Some(index) = self.live_index(key, now_ms) else {
            return false;
        };
        if expire_at != 0 && expire_at <= now_ms {
            self.remove_index(index);
            return true;
        }
        self.before_change(index);
        let (stored_key, entry) = self.entries.get_index_mut(index).expect("live index");
        let was_volatile = entry.expire_at != 0;
        entry.expire_at = expire_at;
        match (was_volatile, expire_at != 0) {
            (false, true) => {
                self.volatile.insert(Key::new(stored_key));
            }
            (true, false) => {
                self.volatile.swap_remove(stored_key);
            }
            _ => {}
        }
        true
    }

    /// Live keys matching a glob pattern (KEYS).
    pub fn keys_matching(&mut self, pattern: &[u8], now_ms: u64) -> Vec<Bytes> {
        // Redis skips matching for the pattern "*" (which also makes it match the empty key).
        let all = pattern == b"*";
        self.iter_live(now_ms)
            .filter(|(key, _)| all || glob_match(pattern, key, false))
            .map(|(key, _)| Bytes::copy_from_slice(key))
            .collect()
    }

    /// One SCAN step from `cursor` (0 = start): returns the next cursor (0 = done) and live keys.
    /// Visits `count` positions (at least one) downward from the cursor; see the module docs for
    /// why that keeps Redis's guarantee. `type_filter` is compared with [`Value::type_name`]
    /// case-insensitively.
    pub fn scan(
        &mut self,
        cursor: u64,
        count: usize,
        pattern: Option<&[u8]>,
        type_filter: Option<&[u8]>,
        now_ms: u64,
    ) -> (u64, Vec<Bytes>) {
        let pattern = pattern.filter(|pattern| *pattern != b"*");
        let len = self.entries.len();
        let mut position = match usize::try_from(cursor) {
            Ok(cursor) if cursor != 0 && cursor <= len => cursor,
            _ => len,
        };
        let mut keys = Vec::new();
        for _ in 0..count.max(1) {
            if position == 0 {
                break;
            }
            position -= 1;
            let Some((key, entry)) = self.entries.get_index(position) else {
                break;
            };
            if entry.is_expired(now_ms) {
                // The last element moves into `position`; it is at or above the cursor, so already
                // visited or new — nothing below is disturbed.
                self.remove_expired_index(position);
                continue;
            }
            let type_ok = type_filter.is_none_or(|wanted| {
                wanted.eq_ignore_ascii_case(entry.value.type_name().as_bytes())
            });
            if type_ok && pattern.is_none_or(|pattern| glob_match(pattern, key, false)) {
                keys.push(Bytes::copy_from_slice(key));
            }
        }
        (position as u64, keys)
    }

    /// A uniformly random live key; `None` when there is none.
    pub fn random_key(&mut self, now_ms: u64) -> Option<Bytes> {
        for _ in 0..RANDOM_KEY_TRIES {
            if self.entries.is_empty() {
                return None;
            }
            let index = fastrand::usize(..self.entries.len());
            let (key, entry) = self.entries.get_index(index)?;
            if !entry.is_expired(now_ms) {
                return Some(Bytes::copy_from_slice(key));
            }
            self.remove_expired_index(index);
        }
        // Every pick was dead: the database is mostly expired. Reclaim all dead keys in one sweep
        // (amortised against the keys it frees), then pick among the survivors.
        self.remove_all_expired(now_ms);
        if self.entries.is_empty() {
            return None;
        }
        let index = fastrand::usize(..self.entries.len());
        self.entries
            .get_index(index)
            .map(|(key, _)| Bytes::copy_from_slice(key))
    }

    /// Samples keys with deadlines and removes expired ones, looking at no more than `budget`
    /// keys; returns how many were removed.
    pub fn active_expire(&mut self, now_ms: u64, budget: usize) -> usize {
        self.active_expire_counted(now_ms, budget).removed
    }

    /// [`Db::active_expire`], also reporting how many keys it looked at.
    pub fn active_expire_counted(&mut self, now_ms: u64, budget: usize) -> ExpireCycle {
        let mut cycle = ExpireCycle::default();
        while cycle.looked < budget && !self.volatile.is_empty() {
            let sample = EXPIRE_SAMPLE.min(budget - cycle.looked);
            let (mut sampled, mut expired) = (0, 0);
            while sampled < sample && !self.volatile.is_empty() {
                sampled += 1;
                let volatile_index = fastrand::usize(..self.volatile.len());
                let key = self.volatile[volatile_index].as_bytes();
                match self.entries.get_full(key) {
                    Some((index, entry)) if entry.is_expired(now_ms) => {
                        self.remove_expired_index(index);
                        expired += 1;
                    }
                    Some((_, entry)) if entry.expire_at != 0 => {}
                    // A stray member (see the module docs): drop it.
                    _ => {
                        self.volatile.swap_remove_index(volatile_index);
                    }
                }
            }
            cycle.looked += sampled;
            cycle.removed += expired;
            // Redis goes on only while the sample suggests more than 25% of the keys are dead.
            if expired * 4 <= sampled {
                break;
            }
        }
        cycle
    }

    /// Live entries in storage order (for snapshots and KEYS).
    pub fn iter_live(&self, now_ms: u64) -> impl Iterator<Item = (&[u8], &Entry)> + '_ {
        self.entries
            .iter()
            .filter(move |(_, entry)| !entry.is_expired(now_ms))
    }

    /// The live entry under `key` without reclaiming a dead one: for commands that hold several
    /// values at once (ZUNION's inputs), after [`Db::get`] has reclaimed each.
    pub fn peek(&self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.entries
            .get(key)
            .filter(|entry| !entry.is_expired(now_ms))
    }

    /// Index of the live entry under `key`, reclaiming it first if it is dead.
    fn live_index(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        let (index, entry) = self.entries.get_full(key)?;
        if entry.is_expired(now_ms) {
            self.remove_expired_index(index);
            return None;
        }
        Some(index)
    }

    fn remove_index(&mut self, index: usize) -> (Key, Entry) {
        self.mutations += 1;
        let last = self.entries.len() - 1;
        let (key, entry) = self
            .entries
            .swap_remove_index(index)
            .expect("index in range");
        if entry.expire_at != 0 {
            self.volatile.swap_remove(key.as_bytes());
        }
        if let Some(cut) = self.cut.as_mut().filter(|cut| cut.frozen.is_none()) {
            // See `cut`: emit the removed entry if the walk has not, and keep the element that
            // moved down into the hole from being emitted (again, or at all when it is new).
            if index < cut.cursor {
                if !cut.skip.remove(&key) {
                    cut.early.push((key.clone(), entry.clone()));
                }
                if last >= cut.cursor && last != index {
                    if let Some((moved, _)) = self.entries.get_index(index) {
                        cut.skip.insert(Key::new(moved));
                    }
                }
            }
            cut.cursor = cut.cursor.min(self.entries.len());
        }
        (key, entry)
    }

    /// Counts a change to the entry at `index` and, during a snapshot, emits its value as of the
    /// cut first if the walk has not reached it.
    fn before_change(&mut self, index: usize) {
        self.mutations += 1;
        let Some(cut) = self.cut.as_mut().filter(|cut| cut.frozen.is_none()) else {
            return;
        };
        if index >= cut.cursor {
            return;
        }
        if let Some((key, entry)) = self.entries.get_index(index) {
            if !cut.skip.contains(key) {
                cut.skip.insert(Key::new(key));
                cut.early.push((Key::new(key), entry.clone()));
            }
        }
    }

    /// Changes made so far (only differences mean anything).
    pub fn mutations(&self) -> u64 {
        self.mutations
    }

    /// Starts a snapshot cut: the entries present now are what [`Db::cut_step`] will emit.
    pub fn start_cut(&mut self, db_index: usize) {
        self.cut = Some(Box::new(Cut::new(db_index, self.entries.len())));
    }

    pub fn cut_in_progress(&self) -> bool {
        self.cut.is_some()
    }

    /// Abandons a cut (a failed snapshot).
    pub fn drop_cut(&mut self) {
        self.cut = None;
    }

    /// Emits up to `budget` entries of the cut, as of the cut, labelled with the cut's database
    /// index; returns true once everything was emitted (the cut is then over).
    pub fn cut_step(&mut self, budget: usize, emit: &mut dyn FnMut(usize, &[u8], &Entry)) -> bool {
        let Some(cut) = self.cut.as_mut() else {
            return true;
        };
        let db = cut.db_index;
        let mut done = 0;
        for (key, entry) in cut.early.drain(..) {
            emit(db, key.as_bytes(), &entry);
            done += 1;
        }
        let source = cut.frozen.as_ref().unwrap_or(&self.entries);
        while done < budget && cut.cursor > 0 {
            cut.cursor -= 1;
            let Some((key, entry)) = source.get_index(cut.cursor) else {
                continue;
            };
            if !cut.skip.remove(key) {
                emit(db, key, entry);
            }
            done += 1;
        }
        if cut.is_done() {
            self.cut = None;
            return true;
        }
        false
    }

    fn remove_expired_index(&mut self, index: usize) {
        let (key, _) = self.remove_index(index);
        self.expired += 1;
        if let Some(keys) = self.expired_keys.as_mut() {
            keys.push(Bytes::copy_from_slice(key.as_bytes()));
        }
    }

    /// Keeps the keys reclaimed by expiry for [`Db::take_expired_keys`] (the binlog logs each as
    /// a DEL, as Redis propagates expired deletions).
    pub fn keep_expired_keys(&mut self) {
        self.expired_keys.get_or_insert_with(Vec::new);
    }

    /// Keys reclaimed by expiry since the last call (only with [`Db::keep_expired_keys`]).
    pub fn take_expired_keys(&mut self) -> Vec<Bytes> {
        match self.expired_keys.as_mut() {
            Some(keys) if !keys.is_empty() => std::mem::take(keys),
            _ => Vec::new(),
        }
    }

    /// Reclaims every dead key, walking downward so each swap_remove moves an already-checked
    /// element into the hole.
    fn remove_all_expired(&mut self, now_ms: u64) {
        for index in (0..self.entries.len()).rev() {
            if self
                .entries
                .get_index(index)
                .is_some_and(|(_, entry)| entry.is_expired(now_ms))
            {
                self.remove_expired_index(index);
            }
        }
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        let with_deadline = self
            .entries
            .iter()
            .filter(|(_, entry)| entry.expire_at != 0)
            .count();
        assert_eq!(with_deadline, self.volatile.len(), "volatile set size");
        for (key, entry) in self.entries.iter() {
            assert_eq!(
                entry.expire_at != 0,
                self.volatile.contains(key),
                "volatile membership of {key:?}"
            );
        }
    }
}

/// What one active expiry call did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct ExpireCycle {
    /// Volatile keys looked at (never more than the budget).
    pub looked: usize,
    /// Dead keys removed.
    pub removed: usize,
}

/// All of `0..len` when small, otherwise `ESTIMATE_SAMPLE` random indices.
fn sample_indices(len: usize) -> Box<dyn Iterator<Item = usize>> {
    if len <= ESTIMATE_SAMPLE {
        Box::new(0..len)
    } else {
        Box::new((0..ESTIMATE_SAMPLE).map(move |_| fastrand::usize(..len)))
    }
}

#[cfg(test)]
mod tests;
