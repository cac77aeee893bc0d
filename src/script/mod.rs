//! Lua scripting (EVAL, EVALSHA, SCRIPT): the engine and what every core shares about scripts.
//!
//! `engine` holds one core's Lua state and the `redis.*` API; `convert` the reply <-> Lua
//! conversions; `libs` the libraries Redis preloads. How a script runs against the shards — on
//! one shard, or over all of them — is the server layer's business: see `server::script`, whose
//! module doc describes the execution model.
//!
//! [`Shared`] is the one piece of script state every core reads: the script bodies (so that a
//! script loaded through one core runs from a connection on any other), the generation SCRIPT
//! FLUSH moves (each core then drops its compiled scripts), and the per-core "running since"
//! clock and SCRIPT KILL flags that BUSY and SCRIPT KILL need. Only the core that runs a script
//! writes its own clock; other cores only read it.

pub mod convert;
pub mod engine;
pub mod libs;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use ahash::AHashMap;
use bytes::Bytes;

/// The lowercase hex SHA1 of `data` (script names, `redis.sha1hex`).
pub fn sha1_hex(data: &[u8]) -> String {
    sha1_smol::Sha1::from(data).digest().to_string()
}

/// One core's script status, readable by every core.
#[derive(Debug, Default)]
pub struct CoreScript {
    /// Milliseconds since the epoch when the running script started; 0 when none runs.
    pub running_since: AtomicU64,
    /// Whether the running script wrote (SCRIPT KILL then answers UNKILLABLE).
    pub wrote: AtomicBool,
    /// Set by SCRIPT KILL; the running script's instruction hook takes it.
    pub kill: Arc<AtomicBool>,
    /// Whether the running script holds every shard (global mode): then every shard is busy.
    pub global: AtomicBool,
}

/// Script state shared by every core of one server.
#[derive(Debug)]
pub struct Shared {
    bodies: RwLock<AHashMap<String, Bytes>>,
    generation: AtomicU64,
    pub cores: Vec<CoreScript>,
    /// How many cores are running a script now: the fast path of the BUSY check reads only this.
    pub running: AtomicU64,
}

impl Shared {
    pub fn new(cores: usize) -> Shared {
        Shared {
            bodies: RwLock::new(AHashMap::new()),
            generation: AtomicU64::new(0),
            cores: (0..cores).map(|_| CoreScript::default()).collect(),
            running: AtomicU64::new(0),
        }
    }

    /// Stores a script body; returns its SHA1.
    pub fn store(&self, body: Bytes) -> String {
        let sha = sha1_hex(&body);
        if let Ok(mut bodies) = self.bodies.write() {
            bodies.entry(sha.clone()).or_insert(body);
        }
        sha
    }

    /// The body of the script named `sha` (any case), if loaded.
    pub fn body(&self, sha: &[u8]) -> Option<Bytes> {
        let sha = std::str::from_utf8(sha).ok()?;
        let lowercase;
        let sha = if sha.bytes().any(|b| b.is_ascii_uppercase()) {
            lowercase = sha.to_ascii_lowercase();
            &lowercase
        } else {
            sha
        };
        self.bodies.read().ok()?.get(sha).cloned()
    }

    pub fn exists(&self, sha: &[u8]) -> bool {
        self.body(sha).is_some()
    }

    /// SCRIPT FLUSH: forgets every body; cores drop their compiled scripts on their next run.
    pub fn flush(&self) {
        if let Ok(mut bodies) = self.bodies.write() {
            bodies.clear();
        }
        self.generation.fetch_add(1, Ordering::AcqRel);
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// Marks the start of a script on `core`.
    pub fn begin(&self, core: usize, now_ms: u64, global: bool) {
        let status = &self.cores[core];
        status.wrote.store(false, Ordering::Release);
        status.kill.store(false, Ordering::Release);
        status.global.store(global, Ordering::Release);
        status.running_since.store(now_ms.max(1), Ordering::Release);
        self.running.fetch_add(1, Ordering::AcqRel);
    }

    /// Marks the end of the script on `core`.
    pub fn end(&self, core: usize) {
        let status = &self.cores[core];
        status.running_since.store(0, Ordering::Release);
        status.global.store(false, Ordering::Release);
        status.kill.store(false, Ordering::Release);
        self.running.fetch_sub(1, Ordering::AcqRel);
    }

    /// Whether a command for `shard` must be refused with BUSY: a script has run on it (or over
    /// every shard) for longer than `limit_ms`.
    pub fn busy(&self, shard: usize, now_ms: u64, limit_ms: u64) -> bool {
        if self.running.load(Ordering::Acquire) == 0 {
            return false;
        }
        let overdue = |status: &CoreScript| {
            let since = status.running_since.load(Ordering::Acquire);
            since != 0 && now_ms.saturating_sub(since) >= limit_ms
        };
        self.cores.get(shard).is_some_and(overdue)
            || self
                .cores
                .iter()
                .any(|s| s.global.load(Ordering::Acquire) && overdue(s))
    }
}

#[cfg(test)]
mod tests;
