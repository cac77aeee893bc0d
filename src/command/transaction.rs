//! MULTI, EXEC, DISCARD, WATCH, UNWATCH: their rows only. They act on the connection's state and
//! coordinate shards, so the server layer runs them (`server::transaction`).

use super::{CommandSpec, Routing};

const TRANSACTION_COMMAND: CommandSpec = CommandSpec {
    name: "",
    arity: 1,
    flags: &[],
    first_key: 0,
    last_key: 0,
    step: 0,
    key_finder: None,
    routing: Routing::Connection,
    handler: None,
    group: "transactions",
    summary: "",
    since: "",
};

/// Flags and arities as in Redis 7.2.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "multi",
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        summary: "Starts a transaction.",
        since: "1.2.0",
        ..TRANSACTION_COMMAND
    },
    CommandSpec {
        name: "exec",
        flags: &["noscript", "loading", "stale", "skip_slowlog"],
        summary: "Executes all commands in a transaction.",
        since: "1.2.0",
        ..TRANSACTION_COMMAND
    },
    CommandSpec {
        name: "discard",
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        summary: "Discards a transaction.",
        since: "2.0.0",
        ..TRANSACTION_COMMAND
    },
    CommandSpec {
        name: "watch",
        arity: -2,
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        first_key: 1,
        last_key: -1,
        step: 1,
        summary: "Monitors changes to keys to determine the execution of a transaction.",
        since: "2.2.0",
        ..TRANSACTION_COMMAND
    },
    CommandSpec {
        name: "unwatch",
        flags: &["noscript", "loading", "stale", "fast", "allow_busy"],
        summary: "Forgets about watched keys of a transaction.",
        since: "2.2.0",
        ..TRANSACTION_COMMAND
    },
];
