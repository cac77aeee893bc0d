//! WATCH's per-shard table: which keys of this shard some connection watches, and a version per
//! watched key that every write to it moves.
//!
//! A connection's WATCH registers each key on its owning shard and keeps the version it got back
//! (and whether the key existed then). EXEC, holding the locks of its keys and of its watched keys,
//! asks each shard whether every version is unchanged and every key that existed at WATCH time
//! still exists (Redis 7: a watched key that expires counts as modified); if not, the transaction
//! is not run. Only keys somebody watches are in the table, and a write checks the table only
//! when it is not empty, so the write path pays one branch while nobody watches.
//!
//! What touches a watched key (Redis's `signalModifiedKey`/`touchWatchedKey`): a write command that
//! changed the keyspace touches its key arguments (and MOVE's/COPY's key in the other database);
//! FLUSHDB, FLUSHALL and SWAPDB touch the watched keys that exist in the databases they empty or
//! swap; entries stored or removed by a cross-shard transaction touch their keys. Expiry needs no
//! hook: EXEC checks that a key that existed at WATCH time still does.
//!
//! Only the owning core touches a shard's table.

use ahash::AHashMap;
use bytes::Bytes;

use crate::command::keys::{parse_copy_options, parse_db_index};
use crate::command::CommandSpec;

/// A watched key in a database.
pub type WatchKey = (u16, Bytes);

#[derive(Debug)]
struct Watched {
    version: u64,
    watchers: u32,
}

/// The watched keys of one shard.
#[derive(Debug, Default)]
pub struct WatchTable {
    keys: AHashMap<WatchKey, Watched>,
    /// Source of versions: a touched key takes the next one, so a version never comes back.
    next_version: u64,
}

/// The keys a write touches beyond what its key arguments say (see [`touched_by`]).
#[derive(Debug, PartialEq, Eq)]
pub enum Touch {
    /// The key arguments, plus these (database, key) pairs.
    Keys(Vec<WatchKey>),
    /// Every watched key that exists in one of these databases (FLUSHDB, SWAPDB, FLUSHALL).
    Databases(Vec<usize>),
}

impl WatchTable {
    /// True when no key of this shard is watched: the write path's one check.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// Registers one more watcher of `key` in `db`; returns the key's current version.
    pub fn watch(&mut self, db: usize, key: Bytes) -> u64 {
        let next = &mut self.next_version;
        let watched = self.keys.entry((db as u16, key)).or_insert_with(|| {
            *next += 1;
            Watched {
                version: *next,
                watchers: 0,
            }
        });
        watched.watchers += 1;
        watched.version
    }

    /// Forgets one watcher of `key` in `db` (the key leaves the table with its last watcher).
    pub fn unwatch(&mut self, db: usize, key: &Bytes) {
        let lookup = (db as u16, key.clone());
        if let Some(watched) = self.keys.get_mut(&lookup) {
            watched.watchers = watched.watchers.saturating_sub(1);
            if watched.watchers == 0 {
                self.keys.remove(&lookup);
            }
        }
    }

    /// Marks `key` in `db` modified if anyone watches it.
    pub fn touch(&mut self, db: usize, key: &[u8]) {
        if self.keys.is_empty() {
            return;
        }
        let lookup = (db as u16, Bytes::copy_from_slice(key));
        if let Some(watched) = self.keys.get_mut(&lookup) {
            self.next_version += 1;
            watched.version = self.next_version;
        }
    }

    /// The watched keys of `db` (for FLUSHDB and SWAPDB, which touch the ones that exist).
    pub fn watched_in(&self, db: usize) -> Vec<Bytes> {
        self.keys
            .keys()
            .filter(|(watched_db, _)| *watched_db as usize == db)
            .map(|(_, key)| key.clone())
            .collect()
    }

    /// The current version of `key` in `db`, if watched.
    pub fn version(&self, db: usize, key: &Bytes) -> Option<u64> {
        self.keys.get(&(db as u16, key.clone())).map(|w| w.version)
    }

    /// How many keys are watched (INFO's `watching_clients`-like figures, tests).
    pub fn len(&self) -> usize {
        self.keys.len()
    }
}

/// What a write command touches besides its key arguments, for the commands whose effect reaches
/// other keys or databases. `databases` bounds the index arguments (already validated by the
/// handler when it succeeded).
pub fn touched_by(spec: &CommandSpec, db: usize, args: &[Bytes], databases: usize) -> Touch {
    match spec.name {
        "flushdb" => Touch::Databases(vec![db]),
        "flushall" => Touch::Databases((0..databases).collect()),
        "swapdb" => {
            let index = |arg: Option<&Bytes>| arg.and_then(|a| parse_db_index(a, databases).ok());
            Touch::Databases(
                [index(args.get(1)), index(args.get(2))]
                    .into_iter()
                    .flatten()
                    .collect(),
            )
        }
        "move" => {
            let other = args.get(2).and_then(|a| parse_db_index(a, databases).ok());
            Touch::Keys(
                other
                    .zip(args.get(1))
                    .map(|(other, key)| (other as u16, key.clone()))
                    .into_iter()
                    .collect(),
            )
        }
        "copy" => match parse_copy_options(args, db, databases) {
            Ok((dst_db, _)) if dst_db != db => Touch::Keys(vec![(dst_db as u16, args[2].clone())]),
            _ => Touch::Keys(Vec::new()),
        },
        _ => Touch::Keys(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> Bytes {
        Bytes::copy_from_slice(text.as_bytes())
    }

    #[test]
    fn a_touch_moves_the_version_of_a_watched_key_only() {
        let mut table = WatchTable::default();
        assert!(table.is_empty());
        let version = table.watch(0, key("a"));
        table.touch(0, b"b");
        table.touch(1, b"a");
        assert_eq!(table.version(0, &key("a")), Some(version));
        table.touch(0, b"a");
        assert_ne!(table.version(0, &key("a")), Some(version));
        assert_eq!(table.version(0, &key("b")), None, "unwatched keys stay out");
    }

    #[test]
    fn the_key_leaves_with_its_last_watcher() {
        let mut table = WatchTable::default();
        let first = table.watch(3, key("k"));
        let second = table.watch(3, key("k"));
        assert_eq!(
            first, second,
            "watchers of an untouched key share its version"
        );
        table.unwatch(3, &key("k"));
        assert_eq!(table.len(), 1);
        table.unwatch(3, &key("k"));
        assert!(table.is_empty());
        table.unwatch(3, &key("k"));
        assert!(table.is_empty(), "unwatching an unknown key is harmless");
    }

    #[test]
    fn versions_never_come_back() {
        let mut table = WatchTable::default();
        let old = table.watch(0, key("k"));
        table.touch(0, b"k");
        table.unwatch(0, &key("k"));
        let new = table.watch(0, key("k"));
        assert!(new > old, "a rewatched key gets a fresh version");
    }

    #[test]
    fn watched_in_lists_one_database() {
        let mut table = WatchTable::default();
        table.watch(0, key("a"));
        table.watch(1, key("b"));
        table.watch(1, key("c"));
        let mut keys = table.watched_in(1);
        keys.sort();
        assert_eq!(keys, vec![key("b"), key("c")]);
    }

    #[test]
    fn touched_by_names_other_databases() {
        let spec = |name: &str| crate::command::lookup(name.as_bytes()).unwrap();
        let args = |words: &[&str]| words.iter().map(|w| key(w)).collect::<Vec<_>>();
        assert_eq!(
            touched_by(spec("move"), 0, &args(&["MOVE", "k", "5"]), 16),
            Touch::Keys(vec![(5, key("k"))])
        );
        assert_eq!(
            touched_by(spec("copy"), 2, &args(&["COPY", "a", "b", "DB", "7"]), 16),
            Touch::Keys(vec![(7, key("b"))])
        );
        assert_eq!(
            touched_by(spec("flushdb"), 4, &args(&["FLUSHDB"]), 16),
            Touch::Databases(vec![4])
        );
        assert_eq!(
            touched_by(spec("swapdb"), 0, &args(&["SWAPDB", "1", "2"]), 16),
            Touch::Databases(vec![1, 2])
        );
        assert_eq!(
            touched_by(spec("set"), 0, &args(&["SET", "k", "v"]), 16),
            Touch::Keys(Vec::new())
        );
    }
}
