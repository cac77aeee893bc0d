//! One shard's side of MULTI/EXEC and WATCH: registering watched keys, checking them at EXEC,
//! touching them on writes, and running a transaction's commands for this shard back to back.
//!
//! The connection side (queueing, planning, locking across shards) is `server::transaction`; it
//! holds this shard's intent locks on every key involved before it calls [`Shard::check_watches`]
//! or [`Shard::execute_batch`], so nothing runs between the check and the commands.

use bytes::Bytes;

use crate::binlog::TxTag;
use crate::command::CommandSpec;
use crate::protocol::reply::Reply;

use super::watch::{self, Touch, WatchKey};
use super::Shard;

/// What a connection keeps about one watched key: its version, and whether it existed then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchStamp {
    pub version: u64,
    pub existed: bool,
}

/// One queued command of a transaction, as its shard runs it.
#[derive(Debug)]
pub struct BatchItem {
    pub spec: &'static CommandSpec,
    pub db: usize,
    pub args: Vec<Bytes>,
}

impl Shard {
    /// WATCH: registers `keys` and returns each one's stamp.
    pub fn watch_keys(&mut self, keys: Vec<WatchKey>, now_ms: u64) -> Vec<WatchStamp> {
        keys.into_iter()
            .map(|(db, key)| {
                let existed = self.keyspace.db(db as usize).contains(&key, now_ms);
                let version = self.watches.watch(db as usize, key);
                WatchStamp { version, existed }
            })
            .collect()
    }

    /// Forgets one watcher of each of `keys` (EXEC, DISCARD, UNWATCH, a closed connection).
    pub fn unwatch_keys(&mut self, keys: &[WatchKey]) {
        for (db, key) in keys {
            self.watches.unwatch(*db as usize, key);
        }
    }

    /// Whether every watched key is as it was at WATCH: same version, and still there if it was
    /// (a key that expired since counts as modified, as in Redis 7).
    pub fn check_watches(&mut self, watched: &[(WatchKey, WatchStamp)], now_ms: u64) -> bool {
        watched.iter().all(|((db, key), stamp)| {
            let db = *db as usize;
            self.watches.version(db, key) == Some(stamp.version)
                && (!stamp.existed || self.keyspace.db(db).contains(key, now_ms))
        })
    }

    /// Runs a transaction's commands for this shard, in order, through the choke point; one
    /// reply each. They are appended to the binlog in this one call, so one write carries them.
    pub fn execute_batch(
        &mut self,
        items: &[BatchItem],
        now_ms: u64,
        tx: Option<TxTag>,
    ) -> Vec<Reply> {
        items
            .iter()
            .map(|item| self.execute_in(item.spec, item.db, &item.args, now_ms, tx))
            .collect()
    }

    /// Before a FLUSHDB/FLUSHALL/SWAPDB: the watched keys that exist in the databases it empties
    /// or swaps (Redis touches only those). Empty for every other command.
    pub(super) fn watched_before(
        &mut self,
        spec: &CommandSpec,
        db: usize,
        args: &[Bytes],
        now_ms: u64,
    ) -> Vec<WatchKey> {
        let databases = self.keyspace.databases();
        let Touch::Databases(dbs) = watch::touched_by(spec, db, args, databases) else {
            return Vec::new();
        };
        let mut existing = Vec::new();
        for db in dbs {
            for key in self.watches.watched_in(db) {
                if self.keyspace.db(db).contains(&key, now_ms) {
                    existing.push((db as u16, key));
                }
            }
        }
        // SWAPDB also touches a key watched in one database that exists in the other.
        if spec.name == "swapdb" {
            if let Touch::Databases(dbs) = watch::touched_by(spec, db, args, databases) {
                if let [first, second] = dbs[..] {
                    for (from, to) in [(first, second), (second, first)] {
                        for key in self.watches.watched_in(to) {
                            if self.keyspace.db(from).contains(&key, now_ms) {
                                existing.push((to as u16, key));
                            }
                        }
                    }
                }
            }
        }
        existing
    }

    /// After a write that changed something: touches its watched keys (see `watch`).
    pub(super) fn touch_watched(
        &mut self,
        spec: &CommandSpec,
        db: usize,
        args: &[Bytes],
        flushed: Vec<WatchKey>,
    ) {
        for position in spec.key_positions(args) {
            self.watches.touch(db, &args[position]);
        }
        if let Touch::Keys(extra) = watch::touched_by(spec, db, args, self.keyspace.databases()) {
            for (other_db, key) in extra {
                self.watches.touch(other_db as usize, &key);
            }
        }
        for (flushed_db, key) in flushed {
            self.watches.touch(flushed_db as usize, &key);
        }
    }
}
