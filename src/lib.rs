//! shardis: a thread-per-core, shared-nothing in-memory data server speaking RESP.

pub mod command;
pub mod config;
pub mod keyspace;
pub mod protocol;
