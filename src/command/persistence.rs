//! Persistence commands: SAVE, BGSAVE, BGREWRITEAOF, LASTSAVE. Their rows only; the server layer
//! runs them on every shard (`server::commands`), since each shard snapshots its own keyspace.

use super::{CommandSpec, Routing};

const PERSISTENCE_COMMAND: CommandSpec = CommandSpec {
    name: "",
    arity: 1,
    flags: &["admin", "noscript", "no_async_loading", "no_multi"],
    first_key: 0,
    last_key: 0,
    step: 0,
    key_finder: None,
    routing: Routing::Connection,
    handler: None,
    group: "server",
    summary: "",
    since: "1.0.0",
};

/// Flags and arities as in Redis 7.2.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "save",
        summary: "Synchronously saves the database(s) to disk.",
        ..PERSISTENCE_COMMAND
    },
    CommandSpec {
        name: "bgsave",
        arity: -1,
        summary: "Asynchronously saves the database(s) to disk.",
        ..PERSISTENCE_COMMAND
    },
    CommandSpec {
        name: "bgrewriteaof",
        summary: "Asynchronously rewrites the append-only file to disk.",
        ..PERSISTENCE_COMMAND
    },
    CommandSpec {
        name: "lastsave",
        flags: &["loading", "stale", "fast"],
        summary: "Returns the Unix timestamp of the last successful save to disk.",
        ..PERSISTENCE_COMMAND
    },
];
