//! One shard's data: its databases, their keys, values and expiry. No I/O, no runtime.
//!
//! Only the owning shard touches a `Keyspace`; nothing here is shared between threads.
//!
//! Expiry follows Redis: a key with a deadline (`expire_at`, ms since the epoch) is removed lazily
//! when a command touches it after the deadline, and actively by [`Keyspace::active_expire`], which
//! the shard calls every tick with a bounded budget so it can never stall the shard. An expired key
//! is never returned by any accessor here.

pub mod db;
pub mod glob;
pub mod value;

pub use db::{Db, Entry};
pub use value::Value;

/// Counters kept by the keyspace, reported by `INFO stats`.
#[derive(Debug, Default, Clone)]
pub struct KeyspaceStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
}

/// All databases of one shard.
pub struct Keyspace {
    dbs: Vec<Db>,
    pub stats: KeyspaceStats,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        Keyspace { dbs: (0..databases).map(|_| Db::new()).collect(), stats: KeyspaceStats::default() }
    }

    pub fn databases(&self) -> usize {
        self.dbs.len()
    }

    /// Database `index`; the caller has validated it against [`Keyspace::databases`].
    pub fn db(&mut self, index: usize) -> &mut Db {
        &mut self.dbs[index]
    }

    pub fn db_ref(&self, index: usize) -> &Db {
        &self.dbs[index]
    }

    pub fn swap_db(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
    }

    pub fn flush_all(&mut self) {
        for db in &mut self.dbs {
            db.clear();
        }
    }

    /// Total keys over all databases.
    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|db| db.len()).sum()
    }
}
