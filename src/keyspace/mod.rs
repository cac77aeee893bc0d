//! One shard's data: its databases, their keys, values and expiry. No I/O, no runtime.
//!
//! Only the owning shard touches a `Keyspace`; nothing here is shared between threads.
//!
//! Expiry follows Redis: a key with a deadline (`expire_at`, ms since the epoch) is removed lazily
//! when a command touches it after the deadline, and actively by [`Keyspace::active_expire`], which
//! the shard calls every tick with a bounded budget so it can never stall the shard. An expired key
//! is never returned by any accessor here.
//!
//! Each [`Db`] counts the dead keys it reclaims; [`Keyspace::active_expire`] (every tick) and
//! [`Keyspace::sync_stats`] fold those counts into `stats.expired_keys`.

pub mod cut;
pub mod db;
pub mod glob;
pub mod hash;
pub mod intset;
pub mod item;
pub mod limits;
pub mod list;
pub mod listpack;
pub mod set;
pub mod value;
pub mod zset;

use bytes::Bytes;

pub use db::{Db, Entry};
pub use item::{CasSource, Item, ItemData};
pub use limits::EncodingLimits;
pub use value::Value;

/// Counters kept by the keyspace, reported by `INFO stats`.
#[derive(Debug, Default, Clone)]
pub struct KeyspaceStats {
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    /// Dead keys reclaimed, lazily or actively. Lags by at most one expiry tick; call
    /// [`Keyspace::sync_stats`] for the exact figure.
    pub expired_keys: u64,
}

/// All databases of one shard.
pub struct Keyspace {
    dbs: Vec<Db>,
    pub stats: KeyspaceStats,
    /// Where the next active expiry call starts, so one big database cannot starve the others.
    next_expire_db: usize,
    /// Memcached CAS values drawn on this shard (see [`item`]).
    pub cas: CasSource,
}

impl Keyspace {
    pub fn new(databases: usize) -> Self {
        Keyspace {
            dbs: (0..databases).map(|_| Db::new()).collect(),
            stats: KeyspaceStats::default(),
            next_expire_db: 0,
            cas: CasSource::new(0),
        }
    }

    /// A keyspace for shard `shard`, whose CAS values carry its number.
    pub fn for_shard(databases: usize, shard: usize) -> Self {
        Keyspace {
            cas: CasSource::new(shard),
            ..Keyspace::new(databases)
        }
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

    /// A read lookup that counts a keyspace hit or miss (Redis's `lookupKeyRead`).
    pub fn lookup_read(&mut self, db: usize, key: &[u8], now_ms: u64) -> Option<&Entry> {
        let entry = self.dbs[db].get(key, now_ms);
        if entry.is_some() {
            self.stats.keyspace_hits += 1;
        } else {
            self.stats.keyspace_misses += 1;
        }
        entry
    }

    pub fn swap_db(&mut self, a: usize, b: usize) {
        self.dbs.swap(a, b);
    }

    pub fn flush_all(&mut self) {
        for db in &mut self.dbs {
            db.clear();
        }
    }

    /// Changes made so far over every database (Redis's `server.dirty`; compare two readings).
    pub fn mutations(&self) -> u64 {
        self.dbs.iter().map(|db| db.mutations()).sum()
    }

    /// Keep the keys expiry reclaims in every database, for [`Keyspace::take_expired_keys`].
    pub fn keep_expired_keys(&mut self) {
        self.dbs.iter_mut().for_each(Db::keep_expired_keys);
    }

    /// Keys reclaimed by expiry in database `db` since the last call.
    pub fn take_expired_keys(&mut self, db: usize) -> Vec<Bytes> {
        self.dbs[db].take_expired_keys()
    }

    /// Starts a snapshot cut of every database (see `cut`).
    pub fn start_cut(&mut self) {
        for (index, db) in self.dbs.iter_mut().enumerate() {
            db.start_cut(index);
        }
    }

    pub fn cut_in_progress(&self) -> bool {
        self.dbs.iter().any(|db| db.cut_in_progress())
    }

    pub fn drop_cut(&mut self) {
        self.dbs.iter_mut().for_each(Db::drop_cut);
    }

    /// Emits up to about `budget` entries of the cut; true once the whole cut was emitted.
    pub fn cut_step(&mut self, budget: usize, emit: &mut dyn FnMut(usize, &[u8], &Entry)) -> bool {
        let mut all_done = true;
        for db in &mut self.dbs {
            if db.cut_in_progress() && !db.cut_step(budget, emit) {
                all_done = false;
                break;
            }
        }
        all_done && !self.cut_in_progress()
    }

    /// Total keys over all databases.
    pub fn total_keys(&self) -> usize {
        self.dbs.iter().map(|db| db.len()).sum()
    }

    /// Runs Redis's active expiry cycle over the databases, looking at no more than `budget`
    /// keys in all; returns how many dead keys were removed. Each call starts one database past
    /// where the previous call's budget ran out, round-robin.
    pub fn active_expire(&mut self, now_ms: u64, budget: usize) -> usize {
        let count = self.dbs.len();
        if count == 0 {
            return 0;
        }
        let start = self.next_expire_db % count;
        let mut next_start = (start + 1) % count;
        let (mut remaining, mut removed) = (budget, 0);
        for offset in 0..count {
            if remaining == 0 {
                break;
            }
            let index = (start + offset) % count;
            let cycle = self.dbs[index].active_expire_counted(now_ms, remaining);
            remaining -= cycle.looked;
            removed += cycle.removed;
            if remaining == 0 {
                next_start = (index + 1) % count;
            }
        }
        self.next_expire_db = next_start;
        self.sync_stats();
        removed
    }

    /// Folds each database's count of reclaimed dead keys into `stats.expired_keys` and returns
    /// the stats (INFO calls this).
    pub fn sync_stats(&mut self) -> &KeyspaceStats {
        for db in &mut self.dbs {
            self.stats.expired_keys += db.take_expired_count();
        }
        &self.stats
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volatile(value: &str, expire_at: u64) -> Entry {
        Entry {
            value: Value::String(Bytes::copy_from_slice(value.as_bytes())),
            expire_at,
        }
    }

    #[test]
    fn expired_keys_land_in_stats() {
        let mut keyspace = Keyspace::new(4);
        keyspace
            .db(0)
            .insert(Bytes::from_static(b"a"), volatile("1", 10));
        keyspace
            .db(2)
            .insert(Bytes::from_static(b"b"), volatile("2", 10));
        assert!(keyspace.db(0).get(b"a", 20).is_none());
        assert_eq!(keyspace.sync_stats().expired_keys, 1);
        assert_eq!(keyspace.active_expire(20, 100), 1);
        assert_eq!(keyspace.stats.expired_keys, 2);
        assert_eq!(keyspace.total_keys(), 0);
    }

    #[test]
    fn lookup_read_counts_hits_and_misses() {
        let mut keyspace = Keyspace::new(1);
        keyspace
            .db(0)
            .insert(Bytes::from_static(b"k"), volatile("v", 0));
        assert!(keyspace.lookup_read(0, b"k", 0).is_some());
        assert!(keyspace.lookup_read(0, b"nope", 0).is_none());
        assert_eq!(
            (keyspace.stats.keyspace_hits, keyspace.stats.keyspace_misses),
            (1, 1)
        );
    }

    #[test]
    fn active_expire_round_robins_databases() {
        let mut keyspace = Keyspace::new(3);
        for db in 0..3 {
            for n in 0..1_000 {
                keyspace
                    .db(db)
                    .insert(Bytes::from(format!("{db}:{n}")), volatile("v", 5));
            }
        }
        // A budget of 20 is spent inside whichever database comes first; three calls must each
        // start in a different database.
        for _ in 0..3 {
            keyspace.active_expire(10, 20);
        }
        for db in 0..3 {
            assert!(
                keyspace.db_ref(db).len() < 1_000,
                "db {db} was never visited"
            );
        }
        assert_eq!(keyspace.stats.expired_keys, 60);
    }
}
