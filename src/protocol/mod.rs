//! Bytes to requests and replies to bytes: no I/O, no runtime, no keyspace.

pub mod memcache;
pub mod reply;
pub mod resp;
pub mod scored;
