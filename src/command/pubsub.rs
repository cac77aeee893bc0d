//! The pub/sub commands' table rows: SUBSCRIBE, UNSUBSCRIBE, PSUBSCRIBE, PUNSUBSCRIBE, PUBLISH,
//! SSUBSCRIBE, SUNSUBSCRIBE, SPUBLISH and PUBSUB, with Redis 7.2's arity, flags and key specs.
//!
//! They need the connection (its subscriptions, its push queue) and every core (PUBLISH reaches
//! subscribers wherever their connections live), so the server layer runs them
//! (`server::pubsub`); the registry itself is `crate::pubsub`.

use super::{CommandSpec, Routing};

const PUBSUB_COMMAND: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &["pubsub", "noscript", "loading", "stale"],
    first_key: 0,
    last_key: 0,
    step: 0,
    key_finder: None,
    routing: Routing::Connection,
    handler: None,
    group: "pubsub",
    summary: "",
    since: "2.0.0",
};

pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "subscribe",
        arity: -2,
        summary: "Listens for messages published to channels.",
        ..PUBSUB_COMMAND
    },
    CommandSpec {
        name: "unsubscribe",
        arity: -1,
        summary: "Stops listening to messages posted to channels.",
        ..PUBSUB_COMMAND
    },
    CommandSpec {
        name: "psubscribe",
        arity: -2,
        summary: "Listens for messages published to channels that match one or more patterns.",
        ..PUBSUB_COMMAND
    },
    CommandSpec {
        name: "punsubscribe",
        arity: -1,
        summary:
            "Stops listening to messages published to channels that match one or more patterns.",
        ..PUBSUB_COMMAND
    },
    CommandSpec {
        name: "publish",
        arity: 3,
        flags: &["pubsub", "loading", "stale", "fast"],
        summary: "Posts a message to a channel.",
        ..PUBSUB_COMMAND
    },
    CommandSpec {
        name: "ssubscribe",
        arity: -2,
        first_key: 1,
        last_key: -1,
        step: 1,
        summary: "Listens for messages published to shard channels.",
        since: "7.0.0",
        ..PUBSUB_COMMAND
    },
    CommandSpec {
        name: "sunsubscribe",
        arity: -1,
        first_key: 1,
        last_key: -1,
        step: 1,
        summary: "Stops listening to messages posted to shard channels.",
        since: "7.0.0",
        ..PUBSUB_COMMAND
    },
    CommandSpec {
        name: "spublish",
        arity: 3,
        flags: &["pubsub", "loading", "stale", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        summary: "Post a message to a shard channel",
        since: "7.0.0",
        ..PUBSUB_COMMAND
    },
    CommandSpec {
        name: "pubsub",
        arity: -2,
        flags: &[],
        summary: "A container for Pub/Sub commands.",
        ..PUBSUB_COMMAND
    },
];
