//! One database: keys -> entries, plus the set of keys that carry a deadline.
//! (Skeleton: the keyspace helper fills in the bodies; the signatures are the contract.)

use bytes::Bytes;

use super::value::Value;

/// A value and its deadline in ms since the epoch (0 = no deadline).
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub value: Value,
    pub expire_at: u64,
}

pub struct Db {}

impl Db {
    pub fn new() -> Self {
        todo!()
    }
    /// Number of keys, counting expired keys not yet reclaimed (as Redis's DBSIZE does).
    pub fn len(&self) -> usize {
        todo!()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Keys that carry a deadline.
    pub fn expires_len(&self) -> usize {
        todo!()
    }
    /// Average remaining TTL in ms over keys with a deadline (INFO keyspace `avg_ttl`), 0 if none.
    pub fn avg_ttl(&self, now_ms: u64) -> u64 {
        todo!()
    }
    pub fn clear(&mut self) {
        todo!()
    }
    /// The live entry under `key`; an expired one is removed first and `None` returned.
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        todo!()
    }
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        todo!()
    }
    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }
    /// Inserts or replaces; `key` and the value are stored as given (the caller copies them out of
    /// any network buffer first).
    pub fn insert(&mut self, key: Bytes, entry: Entry) {
        todo!()
    }
    /// Removes and returns the live entry.
    pub fn remove(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        todo!()
    }
    /// Sets or clears (0) the deadline of an existing key; returns false if the key is absent.
    pub fn set_expire(&mut self, key: &[u8], expire_at: u64, now_ms: u64) -> bool {
        todo!()
    }
    /// Live keys matching a glob pattern (KEYS).
    pub fn keys_matching(&mut self, pattern: &[u8], now_ms: u64) -> Vec<Bytes> {
        todo!()
    }
    /// One SCAN step from `cursor` (0 = start): returns the next cursor (0 = done) and live keys.
    pub fn scan(&mut self, cursor: u64, count: usize, pattern: Option<&[u8]>, type_filter: Option<&[u8]>, now_ms: u64) -> (u64, Vec<Bytes>) {
        todo!()
    }
    pub fn random_key(&mut self, now_ms: u64) -> Option<Bytes> {
        todo!()
    }
    /// Samples keys with deadlines and removes expired ones, looking at no more than `budget`
    /// keys; returns how many were removed.
    pub fn active_expire(&mut self, now_ms: u64, budget: usize) -> usize {
        todo!()
    }
}
