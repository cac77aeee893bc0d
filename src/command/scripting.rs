//! Scripting commands: EVAL, EVALSHA, EVAL_RO, EVALSHA_RO, SCRIPT. Their rows and argument
//! parsing only; the server layer runs them (`server::script`), since a script may touch any
//! shard.

use bytes::Bytes;

use super::util::{parse_i64, ERR_NOT_INTEGER};
use super::{CommandSpec, Routing};
use crate::protocol::reply::Reply;

const SCRIPT_COMMAND: CommandSpec = CommandSpec {
    name: "",
    arity: -3,
    flags: &[
        "noscript",
        "stale",
        "skip_monitor",
        "may_replicate",
        "no_mandatory_keys",
        "movablekeys",
    ],
    first_key: 0,
    last_key: 0,
    step: 0,
    key_finder: Some(declared_key_positions),
    routing: Routing::Connection,
    handler: None,
    group: "scripting",
    summary: "",
    since: "2.6.0",
};

/// Flags and arities as in Redis 7.2.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "eval",
        summary: "Executes a server-side Lua script.",
        ..SCRIPT_COMMAND
    },
    CommandSpec {
        name: "evalsha",
        summary: "Executes a server-side Lua script by SHA1 digest.",
        ..SCRIPT_COMMAND
    },
    CommandSpec {
        name: "eval_ro",
        flags: &[
            "readonly",
            "noscript",
            "stale",
            "skip_monitor",
            "no_mandatory_keys",
            "movablekeys",
        ],
        summary: "Executes a read-only server-side Lua script.",
        since: "7.0.0",
        ..SCRIPT_COMMAND
    },
    CommandSpec {
        name: "evalsha_ro",
        flags: &[
            "readonly",
            "noscript",
            "stale",
            "skip_monitor",
            "no_mandatory_keys",
            "movablekeys",
        ],
        summary: "Executes a read-only server-side Lua script by SHA1 digest.",
        since: "7.0.0",
        ..SCRIPT_COMMAND
    },
    CommandSpec {
        name: "script",
        arity: -2,
        flags: &["noscript"],
        key_finder: None,
        summary: "A container for Lua scripts management commands.",
        ..SCRIPT_COMMAND
    },
];

/// The positions of EVAL's declared keys (`numkeys` keys after it); empty when malformed.
fn declared_key_positions(args: &[Bytes]) -> Vec<usize> {
    match parse_numkeys(args) {
        Ok(count) => (3..3 + count).collect(),
        Err(_) => Vec::new(),
    }
}

/// EVAL's `numkeys`, checked against the arguments as Redis's `evalGetKeys` does.
pub fn parse_numkeys(args: &[Bytes]) -> Result<usize, Reply> {
    let Some(count) = args.get(2).and_then(|a| parse_i64(a)) else {
        return Err(Reply::error_static(ERR_NOT_INTEGER));
    };
    if count < 0 {
        return Err(Reply::error_static("ERR Number of keys can't be negative"));
    }
    if count as usize > args.len() - 3 {
        return Err(Reply::error_static(
            "ERR Number of keys can't be greater than number of args",
        ));
    }
    Ok(count as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(items: &[&str]) -> Vec<Bytes> {
        items.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn numkeys_errors() {
        assert_eq!(parse_numkeys(&args(&["EVAL", "s", "2", "a", "b"])), Ok(2));
        assert_eq!(
            parse_numkeys(&args(&["EVAL", "s", "3", "a", "b"])),
            Err(Reply::error_static(
                "ERR Number of keys can't be greater than number of args"
            ))
        );
        assert_eq!(
            parse_numkeys(&args(&["EVAL", "s", "-1"])),
            Err(Reply::error_static("ERR Number of keys can't be negative"))
        );
        assert_eq!(
            parse_numkeys(&args(&["EVAL", "s", "x"])),
            Err(Reply::error_static(ERR_NOT_INTEGER))
        );
        assert_eq!(
            declared_key_positions(&args(&["EVAL", "s", "1", "k", "v"])),
            vec![3]
        );
    }
}
