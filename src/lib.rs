//! shardis: a thread-per-core, shared-nothing in-memory data server speaking RESP.
//!
//! ```text
//!  client ──TCP──▶ core i (accepted here via SO_REUSEPORT, lives here)
//!                   server::connection: read → protocol::resp parse → route each command
//!                     │ key owned by core i ──────────▶ shard::Shard::execute (in place)
//!                     │ key owned by core j ──outbox──▶ core j: server::runtime::handle
//!                     │                                   └▶ shard::Shard::execute ──reply mesh──┐
//!                     │ keys on several cores ─▶ server::coordinator (ordered intent locks)     │
//!                   replies gathered in request order ◀────────────────────────────────────────┘
//!                   one write per batch (replies to writes once the binlog has them)
//!
//!  write path: Shard::execute ─▶ binlog::effect (deterministic form) ─▶ binlog::Writer buffer
//!              ─▶ one write(2) per loop turn ─▶ fsync thread (always: group commit; everysec)
//! ```
//!
//! The memcached port (`server::memcache`) runs the same path: `protocol::memcache` parses text,
//! meta and binary requests, each key's work becomes an internal command (`command::memcache`)
//! routed and executed like the above, and replies are worded in the client's protocol.
//!
//! Layers, bottom up: `protocol`, `keyspace`, `config`, `slot` (plain data and parsing);
//! `command` (semantics, one file per family); `binlog` (record format, writer, snapshots, recovery;
//! plain synchronous Rust and std threads); `shard` (one core's state and the single place a
//! command touches it); `server` (glommio executors, sockets, cross-core messages). Only `server`
//! knows glommio. `admin` sits beside them: the counters a shard publishes (plain atomics) and
//! the admin threads that read them (/metrics, /health, the stall watchdog, the disk probe).

pub mod admin;
pub mod binlog;
pub mod command;
pub mod config;
pub mod keyspace;
pub mod logging;
pub mod protocol;
pub mod script;
pub mod server;
pub mod shard;
pub mod slot;
