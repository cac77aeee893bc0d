//! A snapshot cut of one database: which entries still have to be emitted with their value as of
//! the cut, while commands keep changing the database. No I/O; `binlog::snapshot` drives it.
//!
//! At the cut, positions `0..len` of the database's dense vector hold exactly the keys of the
//! snapshot. The walk emits them from the top position downward, a bounded number per step, like
//! SCAN (see the `db` module doc). `cursor` is the boundary: positions below it are not visited yet.
//! Three things can disturb the walk, and `Db` tells the cut about each *before* it happens:
//!
//! - **An in-place change** (insert over an existing key, `get_mut`, `set_expire`) of an entry below
//!   the cursor: its old value is emitted first (into `early`) and its key goes into `skip`, so the
//!   walk passes over it later. Only such a value is copied; memory grows with the writes during
//!   the snapshot, never with the database.
//! - **A removal** (`swap_remove`) at a position below the cursor: the removed entry is emitted
//!   (moved, not copied) unless it was already, and the last element moves into the hole. The last
//!   element is either at or above the cursor (already visited, or created after the cut: either
//!   way it must not be emitted again, so it goes into `skip`) or below it (not visited: it stays
//!   below and is emitted when the walk gets there).
//! - **FLUSHDB/FLUSHALL**: the old tables are handed to the cut (`frozen`) and the walk goes on
//!   over them, untouched from then on; the live tables start empty and all-new.
//!
//! Keys created after the cut are appended above the cursor and never visited. A key in `skip` is
//! dropped from it when the walk passes it, so `skip` stays as small as the writes it records.

use std::collections::HashSet;

use ahash::RandomState;

use super::db::{Entry, Key, Table};

pub struct Cut {
    /// The database's index at the cut (SWAPDB afterwards moves the `Db`, cut and all).
    pub db_index: usize,
    /// Positions below are not visited yet.
    pub cursor: usize,
    /// Keys below the cursor not to emit: emitted early, or moved down from the visited region.
    pub skip: HashSet<Key, RandomState>,
    /// The tables a FLUSHDB replaced during the cut; the walk goes on over them.
    pub frozen: Option<Table>,
    /// Entries emitted ahead of the walk (their value as of the cut), waiting to be written.
    pub early: Vec<(Key, Entry)>,
}

impl Cut {
    pub fn new(db_index: usize, len: usize) -> Cut {
        Cut {
            db_index,
            cursor: len,
            skip: HashSet::with_hasher(RandomState::new()),
            frozen: None,
            early: Vec::new(),
        }
    }

    /// Whether the walk is over (nothing below the cursor, nothing early left).
    pub fn is_done(&self) -> bool {
        self.cursor == 0 && self.early.is_empty()
    }
}
