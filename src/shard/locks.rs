//! Key intent locks for cross-shard commands (VLL-style), one table per shard.
//!
//! A command whose keys span several shards runs as a transaction: its coordinator takes an
//! exclusive intent lock on its keys in each shard, in ascending shard order, then runs its parts
//! and releases. Single-key commands take no lock; they only check, in O(1) when no lock is held at
//! all, that none of their keys is locked. A command or lock request that conflicts waits in this
//! shard's FIFO queue, and the queue keeps per-key order: a waiting entry also blocks every later
//! entry that shares a key with it, so two commands on the same key from one connection never
//! pass each other.
//!
//! A command over the whole keyspace (FLUSHALL, FLUSHDB, SWAPDB, KEYS, DBSIZE, RANDOMKEY) takes
//! the whole-keyspace lock of every shard, in the same ascending order; it conflicts with every
//! key, so it is never seen between the parts of a cross-shard command.
//!
//! Deadlock freedom: a transaction only waits in shard `s` while holding locks in shards below
//! `s`, and any holder in `s` already owns everything it needs below `s`; the wait-for graph always
//! points upward in shard order and cannot form a cycle.

use std::collections::VecDeque;

use ahash::{AHashMap, AHashSet};
use bytes::Bytes;

/// Identifies one cross-shard transaction: unique per server (the coordinating shard is encoded).
pub type TxId = u64;

/// A key in a given database.
pub type LockKey = (u16, Bytes);

/// Something waiting for keys to become free.
#[derive(Debug)]
pub enum Waiter<T> {
    /// A lock request of transaction `tx`; granted as a whole.
    Lock {
        tx: TxId,
        keys: Vec<LockKey>,
        token: T,
    },
    /// A command that only needs its keys to be free for the instant it runs.
    Command { keys: Vec<LockKey>, token: T },
    /// A lock of transaction `tx` on the whole keyspace of the shard (FLUSHALL, KEYS, ...): it
    /// conflicts with every key.
    LockAll { tx: TxId, token: T },
}

impl<T> Waiter<T> {
    fn keys(&self) -> &[LockKey] {
        match self {
            Waiter::Lock { keys, .. } | Waiter::Command { keys, .. } => keys,
            Waiter::LockAll { .. } => &[],
        }
    }
}

/// The lock table of one shard. `T` is what the caller needs to resume a waiter (the command and
/// where to send its reply); the table never looks inside it.
#[derive(Debug)]
pub struct LockTable<T> {
    held: AHashMap<LockKey, TxId>,
    held_by_tx: AHashMap<TxId, Vec<LockKey>>,
    queue: VecDeque<Waiter<T>>,
    /// How many queued waiters mention each key.
    queued_keys: AHashMap<LockKey, usize>,
    /// The transaction holding the whole keyspace, if any.
    held_all: Option<TxId>,
    /// How many whole-keyspace lock requests are queued.
    queued_all: usize,
}

impl<T> Default for LockTable<T> {
    fn default() -> Self {
        LockTable {
            held: AHashMap::new(),
            held_by_tx: AHashMap::new(),
            queue: VecDeque::new(),
            queued_keys: AHashMap::new(),
            held_all: None,
            queued_all: 0,
        }
    }
}

impl<T> LockTable<T> {
    /// True when nothing is locked or waiting: the common case, checked first on every command.
    pub fn is_idle(&self) -> bool {
        self.held.is_empty() && self.queue.is_empty() && self.held_all.is_none()
    }

    fn key_busy(&self, key: &LockKey) -> bool {
        self.held_all.is_some()
            || self.queued_all > 0
            || self.held.contains_key(key)
            || self.queued_keys.contains_key(key)
    }

    /// Whether a command on `keys` may run now; if not, the caller queues it with [`Self::enqueue_command`].
    pub fn may_run(&self, keys: &[LockKey]) -> bool {
        self.is_idle() || !keys.iter().any(|key| self.key_busy(key))
    }

    pub fn enqueue_command(&mut self, keys: Vec<LockKey>, token: T) {
        self.push(Waiter::Command { keys, token });
    }

    /// Asks for `keys` on behalf of `tx`. Returns the token back if granted at once; otherwise the
    /// request waits and comes out of a later [`Self::release`].
    pub fn lock(&mut self, tx: TxId, keys: Vec<LockKey>, token: T) -> Option<T> {
        if keys.iter().any(|key| self.key_busy(key)) {
            self.push(Waiter::Lock { tx, keys, token });
            None
        } else {
            self.grant(tx, keys);
            Some(token)
        }
    }

    /// Asks for the whole keyspace on behalf of `tx`: granted when no key is locked and nothing
    /// waits; otherwise it queues like any other request (FIFO), and everything after it waits too.
    pub fn lock_all(&mut self, tx: TxId, token: T) -> Option<T> {
        if self.is_idle() {
            self.held_all = Some(tx);
            Some(token)
        } else {
            self.queued_all += 1;
            self.queue.push_back(Waiter::LockAll { tx, token });
            None
        }
    }

    /// Releases everything `tx` holds and returns the waiters that may now go ahead, in queue
    /// order: granted lock requests (now holding their keys) and runnable commands.
    pub fn release(&mut self, tx: TxId) -> Vec<Waiter<T>> {
        if self.held_all == Some(tx) {
            self.held_all = None;
        }
        if let Some(keys) = self.held_by_tx.remove(&tx) {
            for key in keys {
                self.held.remove(&key);
            }
        }
        self.drain_ready()
    }

    fn grant(&mut self, tx: TxId, keys: Vec<LockKey>) {
        for key in &keys {
            self.held.insert(key.clone(), tx);
        }
        self.held_by_tx.entry(tx).or_default().extend(keys);
    }

    fn push(&mut self, waiter: Waiter<T>) {
        for key in waiter.keys() {
            *self.queued_keys.entry(key.clone()).or_insert(0) += 1;
        }
        self.queue.push_back(waiter);
    }

    fn forget_queued(&mut self, keys: &[LockKey]) {
        for key in keys {
            if let Some(count) = self.queued_keys.get_mut(key) {
                *count -= 1;
                if *count == 0 {
                    self.queued_keys.remove(key);
                }
            }
        }
    }

    /// One pass over the queue in order: a waiter goes ahead when none of its keys is held and
    /// none is wanted by an earlier waiter that stays queued.
    fn drain_ready(&mut self) -> Vec<Waiter<T>> {
        let mut ready = Vec::new();
        let mut blocked: AHashSet<LockKey> = AHashSet::new();
        let mut remaining = VecDeque::with_capacity(self.queue.len());
        // Set once a waiter stays queued: a whole-keyspace request may not pass it.
        let mut any_blocked = false;
        // Set once a whole-keyspace request stays queued: nothing behind it may pass it.
        let mut all_blocked = false;
        let queue = std::mem::take(&mut self.queue);
        for waiter in queue {
            let free = if let Waiter::LockAll { .. } = waiter {
                !any_blocked && self.held.is_empty() && self.held_all.is_none()
            } else {
                !all_blocked
                    && self.held_all.is_none()
                    && waiter
                        .keys()
                        .iter()
                        .all(|key| !self.held.contains_key(key) && !blocked.contains(key))
            };
            if free {
                self.forget_queued(waiter.keys());
                match &waiter {
                    Waiter::Lock { tx, keys, .. } => self.grant(*tx, keys.clone()),
                    Waiter::LockAll { tx, .. } => {
                        self.queued_all -= 1;
                        self.held_all = Some(*tx);
                    }
                    Waiter::Command { .. } => {}
                }
                ready.push(waiter);
            } else {
                any_blocked = true;
                if let Waiter::LockAll { .. } = waiter {
                    all_blocked = true;
                }
                blocked.extend(waiter.keys().iter().cloned());
                remaining.push_back(waiter);
            }
        }
        self.queue = remaining;
        ready
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &'static str) -> LockKey {
        (0, Bytes::from_static(name.as_bytes()))
    }

    #[test]
    fn idle_table_lets_everything_run() {
        let table: LockTable<u32> = LockTable::default();
        assert!(table.is_idle());
        assert!(table.may_run(&[key("a")]));
    }

    #[test]
    fn commands_wait_behind_a_lock_and_keep_their_order() {
        let mut table = LockTable::default();
        assert_eq!(table.lock(1, vec![key("a"), key("b")], 10), Some(10));
        assert!(!table.may_run(&[key("a")]));
        assert!(table.may_run(&[key("c")]));
        table.enqueue_command(vec![key("a")], 11);
        // A later command on the same key must queue behind, even though no new lock appeared.
        assert!(!table.may_run(&[key("a")]));
        table.enqueue_command(vec![key("a")], 12);
        let ready: Vec<u32> = table.release(1).into_iter().map(token_of).collect();
        assert_eq!(ready, vec![11, 12]);
        assert!(table.is_idle());
    }

    #[test]
    fn queued_lock_is_granted_on_release_and_blocks_later_commands() {
        let mut table = LockTable::default();
        assert!(table.lock(1, vec![key("a")], 1).is_some());
        assert!(table.lock(2, vec![key("a"), key("b")], 2).is_none());
        table.enqueue_command(vec![key("b")], 3);
        let ready = table.release(1);
        assert_eq!(
            ready.len(),
            1,
            "only tx 2's lock; the command on b waits behind it"
        );
        assert!(matches!(ready[0], Waiter::Lock { tx: 2, .. }));
        let ready = table.release(2);
        assert!(matches!(ready[..], [Waiter::Command { token: 3, .. }]));
        assert!(table.is_idle());
    }

    fn token_of(waiter: Waiter<u32>) -> u32 {
        match waiter {
            Waiter::Command { token, .. }
            | Waiter::Lock { token, .. }
            | Waiter::LockAll { token, .. } => token,
        }
    }

    #[test]
    fn whole_keyspace_lock_waits_for_key_locks_and_blocks_everything_after_it() {
        let mut table = LockTable::default();
        assert!(table.lock(1, vec![key("a")], 1).is_some());
        assert!(table.lock_all(2, 2).is_none(), "a key is held");
        // Everything after the queued whole-keyspace request waits, even on unrelated keys.
        assert!(!table.may_run(&[key("z")]));
        assert!(table.lock(3, vec![key("z")], 3).is_none());
        table.enqueue_command(vec![key("y")], 4);
        let ready: Vec<u32> = table.release(1).into_iter().map(token_of).collect();
        assert_eq!(ready, vec![2], "only the whole-keyspace lock goes ahead");
        assert!(!table.may_run(&[key("q")]), "the whole keyspace is held");
        let ready: Vec<u32> = table.release(2).into_iter().map(token_of).collect();
        assert_eq!(ready, vec![3, 4]);
        table.release(3);
        assert!(table.is_idle());
    }

    #[test]
    fn whole_keyspace_lock_is_granted_at_once_when_idle() {
        let mut table = LockTable::default();
        assert_eq!(table.lock_all(7, 7), Some(7));
        assert!(table.lock(8, vec![key("a")], 8).is_none());
        let ready: Vec<u32> = table.release(7).into_iter().map(token_of).collect();
        assert_eq!(ready, vec![8]);
    }
}
