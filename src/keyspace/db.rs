//! One database: keys -> entries, plus the set of keys that carry a deadline.
//!
//! # Layout
//!
//! `entries` is an [`IndexMap`]: a hash index over a dense vector of `(key, entry)` pairs. Lookups
//! are hash lookups; the dense vector gives O(1) uniform random picks (RANDOMKEY) and a cursor for
//! SCAN. `volatile` is an [`IndexSet`] of the keys whose entry has a deadline (Redis's
//! `db->expires`), holding the same `Bytes` as the map (a refcount, not a copy), so the active
//! expiry cycle samples only keys that can expire. Every removal is a `swap_remove`: O(1), the last
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
use indexmap::{IndexMap, IndexSet};

use super::glob::glob_match;
use super::value::Value;

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
    entries: IndexMap<Bytes, Entry, RandomState>,
    /// Keys of `entries` whose `expire_at != 0`.
    volatile: IndexSet<Bytes, RandomState>,
    /// Dead keys reclaimed since the last `take_expired_count`.
    expired: u64,
}

impl Default for Db {
    fn default() -> Self {
        Self::new()
    }
}

impl Db {
    pub fn new() -> Self {
        Db {
            entries: IndexMap::with_hasher(RandomState::new()),
            volatile: IndexSet::with_hasher(RandomState::new()),
            expired: 0,
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
                .and_then(|key| self.entries.get(key))
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
        const PER_ENTRY: usize = size_of::<Bytes>() + size_of::<Entry>() + 2 * size_of::<usize>();
        const PER_VOLATILE: usize = size_of::<Bytes>() + 2 * size_of::<usize>();
        let len = self.entries.len();
        let (mut payload, mut counted) = (0usize, 0usize);
        for index in sample_indices(len) {
            if let Some((key, entry)) = self.entries.get_index(index) {
                payload += key.len() + entry.value.heap_size();
                counted += 1;
            }
        }
        let payload = (payload as u128 * len as u128)
            .checked_div(counted as u128)
            .map_or(0, |bytes| bytes as usize);
        payload + self.entries.capacity() * PER_ENTRY + self.volatile.capacity() * PER_VOLATILE
    }

    pub fn clear(&mut self) {
        // Fresh tables rather than `clear()`, so FLUSHDB gives the memory back.
        self.entries = IndexMap::with_hasher(RandomState::new());
        self.volatile = IndexSet::with_hasher(RandomState::new());
    }

    /// The live entry under `key`; an expired one is removed first and `None` returned.
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        let index = self.live_index(key, now_ms)?;
        self.entries.get_index(index).map(|(_, entry)| entry)
    }

    /// Like [`Db::get`]. Change the value through it, not `expire_at` (use [`Db::set_expire`]).
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        let index = self.live_index(key, now_ms)?;
        self.entries.get_index_mut(index).map(|(_, entry)| entry)
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Inserts or replaces; `key` and the value are stored as given (the caller copies them out of
    /// any network buffer first). A replaced key keeps its position (and its stored key bytes).
    pub fn insert(&mut self, key: Bytes, entry: Entry) {
        let volatile_now = entry.expire_at != 0;
        let (index, old) = self.entries.insert_full(key, entry);
        let volatile_before = old.is_some_and(|old| old.expire_at != 0);
        if volatile_now != volatile_before {
            let (stored_key, _) = self
                .entries
                .get_index(index)
                .expect("index just returned by insert_full");
            if volatile_now {
                self.volatile.insert(stored_key.clone());
            } else {
                self.volatile.swap_remove(stored_key);
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
        let (stored_key, entry) = self.entries.get_index_mut(index).expect("live index");
        let was_volatile = entry.expire_at != 0;
        entry.expire_at = expire_at;
        match (was_volatile, expire_at != 0) {
            (false, true) => {
                self.volatile.insert(stored_key.clone());
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
            .map(|(key, _)| key.clone())
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
                keys.push(key.clone());
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
                return Some(key.clone());
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
        self.entries.get_index(index).map(|(key, _)| key.clone())
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
                let key = &self.volatile[volatile_index];
                match self.entries.get_full(key) {
                    Some((index, _, entry)) if entry.is_expired(now_ms) => {
                        self.remove_expired_index(index);
                        expired += 1;
                    }
                    Some((_, _, entry)) if entry.expire_at != 0 => {}
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
    pub fn iter_live(&self, now_ms: u64) -> impl Iterator<Item = (&Bytes, &Entry)> + '_ {
        self.entries
            .iter()
            .filter(move |(_, entry)| !entry.is_expired(now_ms))
    }

    /// Index of the live entry under `key`, reclaiming it first if it is dead.
    fn live_index(&mut self, key: &[u8], now_ms: u64) -> Option<usize> {
        let (index, _, entry) = self.entries.get_full(key)?;
        if entry.is_expired(now_ms) {
            self.remove_expired_index(index);
            return None;
        }
        Some(index)
    }

    fn remove_index(&mut self, index: usize) -> (Bytes, Entry) {
        let (key, entry) = self
            .entries
            .swap_remove_index(index)
            .expect("index in range");
        if entry.expire_at != 0 {
            self.volatile.swap_remove(&key);
        }
        (key, entry)
    }

    fn remove_expired_index(&mut self, index: usize) {
        self.remove_index(index);
        self.expired += 1;
    }

    /// Reclaims every dead key, walking downward so each swap_remove moves an already-checked
    /// element into the hole.
    fn remove_all_expired(&mut self, now_ms: u64) {
        for index in (0..self.entries.len()).rev() {
            if self.entries[index].is_expired(now_ms) {
                self.remove_expired_index(index);
            }
        }
    }

    #[cfg(test)]
    fn check_invariants(&self) {
        let with_deadline = self
            .entries
            .values()
            .filter(|entry| entry.expire_at != 0)
            .count();
        assert_eq!(with_deadline, self.volatile.len(), "volatile set size");
        for (key, entry) in &self.entries {
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
mod tests {
    use std::collections::{HashMap, HashSet};

    use super::*;

    fn string(value: &str) -> Value {
        Value::String(Bytes::copy_from_slice(value.as_bytes()))
    }

    fn entry(value: &str, expire_at: u64) -> Entry {
        Entry {
            value: string(value),
            expire_at,
        }
    }

    fn key(n: usize) -> Bytes {
        Bytes::from(format!("key:{n}"))
    }

    #[test]
    fn lazy_expiry_and_counting() {
        let mut db = Db::new();
        db.insert(Bytes::from_static(b"a"), entry("1", 100));
        db.insert(Bytes::from_static(b"b"), entry("2", 0));
        assert_eq!(db.expires_len(), 1);
        assert_eq!(db.get(b"a", 99).map(|e| e.value.clone()), Some(string("1")));
        assert_eq!(db.len(), 2);
        assert!(db.get(b"a", 100).is_none());
        assert_eq!(db.len(), 1);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.take_expired_count(), 1);
        assert_eq!(db.take_expired_count(), 0);
        // remove / set_expire / contains on a dead key: absent, reclaimed and counted.
        db.insert(Bytes::from_static(b"c"), entry("3", 50));
        assert!(db.remove(b"c", 60).is_none());
        db.insert(Bytes::from_static(b"c"), entry("3", 50));
        assert!(!db.set_expire(b"c", 500, 60));
        db.insert(Bytes::from_static(b"c"), entry("3", 50));
        assert!(!db.contains(b"c", 60));
        assert_eq!(db.take_expired_count(), 3);
        db.check_invariants();
    }

    #[test]
    fn set_expire_sets_clears_and_deletes() {
        let mut db = Db::new();
        db.insert(Bytes::from_static(b"k"), entry("v", 0));
        assert!(db.set_expire(b"k", 1_000, 10));
        assert_eq!(db.get(b"k", 10).map(|e| e.expire_at), Some(1_000));
        assert_eq!(db.expires_len(), 1);
        assert!(db.set_expire(b"k", 0, 10)); // PERSIST
        assert_eq!(db.get(b"k", 10).map(|e| e.expire_at), Some(0));
        assert_eq!(db.expires_len(), 0);
        assert!(db.set_expire(b"k", 10, 10)); // a deadline not in the future deletes
        assert!(db.is_empty());
        assert_eq!(db.take_expired_count(), 0, "a deletion, not an expiry");
        assert!(!db.set_expire(b"missing", 1_000, 10));
        db.check_invariants();
    }

    #[test]
    fn insert_keeps_volatile_set_consistent() {
        let mut db = Db::new();
        db.insert(Bytes::from_static(b"k"), entry("v", 100));
        db.insert(Bytes::from_static(b"k"), entry("w", 0));
        assert_eq!(db.expires_len(), 0);
        db.insert(Bytes::from_static(b"k"), entry("x", 200));
        db.insert(Bytes::from_static(b"k"), entry("y", 300));
        assert_eq!(db.expires_len(), 1);
        assert_eq!(db.len(), 1);
        db.check_invariants();
    }

    /// Db against a HashMap model over random operation sequences, with time moving forward.
    #[test]
    fn model_test() {
        let mut rng = fastrand::Rng::with_seed(0x5eed);
        for _round in 0..20 {
            let mut db = Db::new();
            let mut model: HashMap<Vec<u8>, (Vec<u8>, u64)> = HashMap::new();
            let mut now = 1_000u64;
            let mut expired_seen = 0u64;
            for step in 0..3_000 {
                let name = format!("k{}", rng.usize(..64)).into_bytes();
                let model_live = |model: &mut HashMap<Vec<u8>, (Vec<u8>, u64)>, now: u64| {
                    if let Some(&(_, at)) = model.get(&name) {
                        if at != 0 && at <= now {
                            model.remove(&name);
                            return (None, true);
                        }
                    }
                    (model.get(&name).cloned(), false)
                };
                match rng.u8(..6) {
                    0 => {
                        let value = format!("v{step}").into_bytes();
                        let expire_at = if rng.bool() { 0 } else { now + rng.u64(1..50) };
                        db.insert(
                            Bytes::from(name.clone()),
                            Entry {
                                value: Value::String(Bytes::from(value.clone())),
                                expire_at,
                            },
                        );
                        model.insert(name.clone(), (value, expire_at));
                    }
                    1 => {
                        let (expected, expired) = model_live(&mut model, now);
                        expired_seen += expired as u64;
                        model.remove(&name);
                        let got = db.remove(&name, now);
                        assert_eq!(
                            got.map(|e| (e.value, e.expire_at)),
                            expected.map(|(v, at)| (Value::String(Bytes::from(v)), at))
                        );
                    }
                    2 => {
                        let (expected, expired) = model_live(&mut model, now);
                        expired_seen += expired as u64;
                        let got = db.get(&name, now).cloned();
                        assert_eq!(
                            got.map(|e| (e.value, e.expire_at)),
                            expected.map(|(v, at)| (Value::String(Bytes::from(v)), at))
                        );
                    }
                    3 => {
                        let (expected, expired) = model_live(&mut model, now);
                        expired_seen += expired as u64;
                        let expire_at = match rng.u8(..3) {
                            0 => 0,
                            1 => now.saturating_sub(rng.u64(0..5)),
                            _ => now + rng.u64(1..50),
                        };
                        assert_eq!(db.set_expire(&name, expire_at, now), expected.is_some());
                        if expected.is_some() {
                            if expire_at != 0 && expire_at <= now {
                                model.remove(&name);
                            } else if let Some(slot) = model.get_mut(&name) {
                                slot.1 = expire_at;
                            }
                        }
                    }
                    4 => now += rng.u64(0..10),
                    _ => {
                        let removed = db.active_expire(now, 10);
                        let dead: Vec<Vec<u8>> = model
                            .iter()
                            .filter(|(_, &(_, at))| at != 0 && at <= now)
                            .map(|(k, _)| k.clone())
                            .collect();
                        assert!(removed <= dead.len());
                        // Sync the model with whichever dead keys the sample reclaimed.
                        for k in dead {
                            if db.entries.get(k.as_slice()).is_none() {
                                model.remove(&k);
                                expired_seen += 1;
                            }
                        }
                    }
                }
                let mut live: Vec<Bytes> = db.iter_live(now).map(|(k, _)| k.clone()).collect();
                live.sort();
                let mut expected: Vec<Bytes> = model
                    .iter()
                    .filter(|(_, &(_, at))| at == 0 || at > now)
                    .map(|(k, _)| Bytes::from(k.clone()))
                    .collect();
                expected.sort();
                assert_eq!(live, expected, "live keys at step {step}");
                assert_eq!(
                    db.len(),
                    model.len(),
                    "len counts dead keys not yet reclaimed"
                );
                db.check_invariants();
            }
            assert_eq!(db.take_expired_count(), expired_seen);
        }
    }

    #[test]
    fn scan_returns_every_key_present_throughout() {
        let mut rng = fastrand::Rng::with_seed(42);
        for round in 0..30 {
            let mut db = Db::new();
            let now = 1_000;
            // Stable and churn keys interleaved, so deleting churn keys moves stable keys from the
            // top into holes further down.
            let mut stable: Vec<Bytes> = Vec::new();
            let mut churn: Vec<Bytes> = Vec::new();
            for n in 0..800 {
                let k = key(n);
                if rng.u8(..8) < 5 {
                    db.insert(k.clone(), entry("v", 0));
                    stable.push(k);
                } else {
                    // Some churn keys carry deadlines that pass during the scan.
                    db.insert(
                        k.clone(),
                        entry("c", if rng.bool() { 0 } else { now + rng.u64(1..30) }),
                    );
                    churn.push(k);
                }
            }
            let mut next = 10_000;
            let mut seen: HashSet<Bytes> = HashSet::new();
            let mut cursor = 0;
            let mut clock = now;
            let mut steps = 0;
            loop {
                let (next_cursor, keys) = db.scan(cursor, 1 + round % 13, None, None, clock);
                seen.extend(keys);
                steps += 1;
                if next_cursor == 0 {
                    break;
                }
                cursor = next_cursor;
                // Churn: delete some, insert some, let time pass.
                for _ in 0..rng.usize(0..8) {
                    if !churn.is_empty() {
                        let victim = churn.swap_remove(rng.usize(..churn.len()));
                        db.remove(&victim, clock);
                    }
                }
                for _ in 0..rng.usize(0..8) {
                    let k = key(next);
                    next += 1;
                    db.insert(k.clone(), entry("n", 0));
                    churn.push(k);
                }
                clock += rng.u64(0..3);
                assert!(steps < 10_000, "scan must terminate");
            }
            for k in &stable {
                assert!(seen.contains(k), "round {round}: {k:?} missed");
            }
            db.check_invariants();
        }
    }

    #[test]
    fn scan_cursor_bounds_filters_and_expired_keys() {
        let mut db = Db::new();
        assert_eq!(db.scan(0, 10, None, None, 0), (0, vec![]));
        for n in 0..10 {
            db.insert(key(n), entry("v", if n < 3 { 50 } else { 0 }));
        }
        // Count 4 from the top visits positions 9..=6.
        let (cursor, keys) = db.scan(0, 4, None, None, 10);
        assert_eq!(cursor, 6);
        assert_eq!(keys.len(), 4);
        // A cursor beyond len is clamped; count 0 still visits one slot.
        assert_eq!(db.scan(1 << 40, 0, None, None, 10).0, 9);
        // Pattern and type filters.
        let (cursor, keys) = db.scan(0, 100, Some(b"key:[12]"), None, 10);
        assert_eq!(cursor, 0);
        assert_eq!(keys.len(), 2);
        assert_eq!(db.scan(0, 100, None, Some(b"STRING"), 10).1.len(), 10);
        assert_eq!(db.scan(0, 100, None, Some(b"hash"), 10).1.len(), 0);
        // After the deadline the three volatile keys are reclaimed as the scan passes them.
        let (_, keys) = db.scan(0, 100, Some(b"*"), None, 60);
        assert_eq!(keys.len(), 7);
        assert_eq!(db.len(), 7);
        assert_eq!(db.take_expired_count(), 3);
        db.check_invariants();
    }

    #[test]
    fn keys_matching_skips_dead_keys() {
        let mut db = Db::new();
        db.insert(Bytes::from_static(b""), entry("empty key", 0));
        db.insert(Bytes::from_static(b"user:1"), entry("v", 0));
        db.insert(Bytes::from_static(b"user:2"), entry("v", 5));
        db.insert(Bytes::from_static(b"other"), entry("v", 0));
        let mut keys = db.keys_matching(b"user:*", 10);
        keys.sort();
        assert_eq!(keys, vec![Bytes::from_static(b"user:1")]);
        assert_eq!(
            db.keys_matching(b"*", 10).len(),
            3,
            "\"*\" also returns the empty key"
        );
    }

    #[test]
    fn active_expire_respects_budget() {
        let mut db = Db::new();
        for n in 0..10_000 {
            db.insert(key(n), entry("v", 100));
        }
        let cycle = db.active_expire_counted(200, 100);
        assert!(cycle.looked <= 100);
        assert_eq!(cycle.removed, 100, "every sampled key is dead");
        assert_eq!(db.len(), 9_900);
        // Nothing dead: one sample of 20, then stop.
        let mut fresh = Db::new();
        for n in 0..1_000 {
            fresh.insert(key(n), entry("v", 10_000));
        }
        let cycle = fresh.active_expire_counted(200, 1_000);
        assert_eq!(
            cycle,
            ExpireCycle {
                looked: EXPIRE_SAMPLE,
                removed: 0
            }
        );
        // A budget smaller than a sample is still respected.
        assert!(db.active_expire_counted(200, 7).looked <= 7);
        assert_eq!(db.active_expire_counted(200, 0), ExpireCycle::default());
        // Eventually everything dead is reclaimed.
        while db.active_expire(200, 1_000) > 0 {}
        assert!(db.is_empty());
        db.check_invariants();
    }

    #[test]
    fn active_expire_drops_stray_volatile_members() {
        let mut db = Db::new();
        db.insert(Bytes::from_static(b"k"), entry("v", 500));
        // A caller wrongly clears the deadline through get_mut.
        db.get_mut(b"k", 0).expect("live").expire_at = 0;
        db.active_expire(0, 100);
        assert_eq!(db.expires_len(), 0);
        assert_eq!(db.len(), 1);
    }

    #[test]
    fn random_key_never_returns_dead_keys() {
        let mut db = Db::new();
        assert_eq!(db.random_key(0), None);
        for n in 0..1_000 {
            db.insert(key(n), entry("v", if n % 50 == 0 { 0 } else { 10 }));
        }
        let mut seen = HashSet::new();
        for _ in 0..200 {
            let k = db.random_key(20).expect("20 live keys remain");
            assert!(db.get(&k, 20).is_some());
            seen.insert(k);
        }
        assert!(seen.len() > 10, "picks spread over the live keys");
        db.check_invariants();
        // All dead: None, and the dead keys are reclaimed.
        let mut dead = Db::new();
        for n in 0..100 {
            dead.insert(key(n), entry("v", 10));
        }
        assert_eq!(dead.random_key(20), None);
        assert!(dead.is_empty());
        assert_eq!(dead.take_expired_count(), 100);
    }

    #[test]
    fn avg_ttl_and_memory_estimate() {
        let mut db = Db::new();
        assert_eq!(db.avg_ttl(0), 0);
        db.insert(Bytes::from_static(b"a"), entry("v", 1_100));
        db.insert(Bytes::from_static(b"b"), entry("v", 1_300));
        db.insert(Bytes::from_static(b"c"), entry("v", 0));
        assert_eq!(db.avg_ttl(1_000), 200);
        let small = db.memory_estimate();
        assert!(small >= 3 + 3);
        for n in 0..5_000 {
            db.insert(key(n), entry("some value", 2_000));
        }
        let avg = db.avg_ttl(1_000);
        assert!((900..=1_000).contains(&avg), "{avg}");
        assert!(db.memory_estimate() > small + 5_000 * 16);
        db.clear();
        assert!(db.is_empty());
        assert_eq!(db.expires_len(), 0);
    }
}
