//! Introspection commands: DEBUG, SLOWLOG, LATENCY, MONITOR.
//!
//! They are served by the connection's own core (`server::observe` gathers the per-shard slow
//! logs and latency series and renders them with `admin::slowlog` / `admin::latency`). The one
//! piece that runs inside a shard is DEBUG OBJECT, which must run where its key lives: the server
//! layer sends it there as [`DEBUG_OBJECT`].

use bytes::Bytes;

use super::{CommandSpec, ExecContext, Routing};
use crate::protocol::reply::Reply;

const INTROSPECTION: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &[],
    first_key: 0,
    last_key: 0,
    step: 0,
    key_finder: None,
    routing: Routing::Connection,
    handler: None,
    group: "server",
    summary: "",
    since: "",
};

/// Flags as Redis 7.2's command table has them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "debug",
        arity: -2,
        flags: &["admin", "noscript", "loading", "stale", "protected"],
        summary: "A container for debugging commands.",
        since: "1.0.0",
        ..INTROSPECTION
    },
    CommandSpec {
        name: "slowlog",
        arity: -2,
        flags: &[],
        summary: "A container for slow log commands.",
        since: "2.2.12",
        ..INTROSPECTION
    },
    CommandSpec {
        name: "latency",
        arity: -2,
        flags: &[],
        summary: "A container for latency diagnostics commands.",
        since: "2.8.13",
        ..INTROSPECTION
    },
    CommandSpec {
        name: "monitor",
        arity: 1,
        flags: &["admin", "noscript", "loading", "stale"],
        summary: "Listens for all requests received by the server in real-time.",
        since: "1.0.0",
        ..INTROSPECTION
    },
];

/// `DEBUG OBJECT <key>`, as the key's shard runs it (not in the command table: DEBUG itself is
/// served by the connection, which forwards this one subcommand).
pub const DEBUG_OBJECT: CommandSpec = CommandSpec {
    name: "debug",
    arity: 3,
    flags: &["admin", "noscript", "loading", "stale", "protected"],
    first_key: 2,
    last_key: 2,
    step: 1,
    routing: Routing::SingleKey,
    handler: Some(debug_object),
    ..INTROSPECTION
};

/// Redis's `DEBUG OBJECT` status line: "Value at:<address> refcount:1 encoding:<enc>
/// serializedlength:<n> lru:0 lru_seconds_idle:0". shardis keeps no LRU clock, so both LRU
/// fields are 0; serializedlength is the RDB length without LZF compression.
fn debug_object(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    let Some(entry) = ctx.db().get(&args[2], now) else {
        return Reply::error_static("ERR no such key");
    };
    let encoding = super::keys::object_encoding(&entry.value);
    // Collections: their payload bytes, an estimate of what RDB would spend on them.
    let serialized = match entry.value.as_string() {
        Some(bytes) => serialized_length(bytes),
        None => entry.value.heap_size(),
    };
    let line = format!(
        "Value at:{:p} refcount:1 encoding:{} serializedlength:{} lru:0 lru_seconds_idle:0",
        entry as *const _, encoding, serialized
    );
    Reply::Status(Bytes::from(line))
}

/// The bytes Redis's RDB format spends on a string: an integer that fits 8, 16 or 32 bits is
/// stored as one type byte plus the integer, anything else as a length prefix (1, 2, 5 or 9
/// bytes) plus the bytes.
fn serialized_length(bytes: &[u8]) -> usize {
    if let Some(n) = super::util::parse_i64(bytes) {
        if i8::try_from(n).is_ok() {
            return 2;
        }
        if i16::try_from(n).is_ok() {
            return 3;
        }
        if i32::try_from(n).is_ok() {
            return 5;
        }
    }
    let prefix = match bytes.len() {
        0..=63 => 1,
        64..=16383 => 2,
        n if n <= u32::MAX as usize => 5,
        _ => 9,
    };
    prefix + bytes.len()
}

/// The name CLIENT LIST shows in `cmd=`: Redis 7 names a container's subcommand as
/// `container|sub` ("client|list", "config|get"); an unknown subcommand shows the container.
pub fn full_name(spec: &'static CommandSpec, args: &[Bytes]) -> &'static str {
    if !matches!(
        spec.name,
        "client" | "config" | "object" | "command" | "slowlog" | "latency"
    ) {
        return spec.name;
    }
    static NAMES: std::sync::OnceLock<ahash::AHashMap<String, &'static str>> =
        std::sync::OnceLock::new();
    let names = NAMES.get_or_init(|| {
        const SUBCOMMANDS: &[&str] = &[
            "client|id",
            "client|getname",
            "client|setname",
            "client|setinfo",
            "client|info",
            "client|list",
            "client|kill",
            "client|no-evict",
            "client|no-touch",
            "client|help",
            "config|get",
            "config|set",
            "config|resetstat",
            "config|rewrite",
            "config|help",
            "object|encoding",
            "object|refcount",
            "object|idletime",
            "object|freq",
            "object|help",
            "command|count",
            "command|info",
            "command|docs",
            "command|list",
            "command|getkeys",
            "command|help",
            "slowlog|get",
            "slowlog|len",
            "slowlog|reset",
            "slowlog|help",
            "latency|latest",
            "latency|history",
            "latency|reset",
            "latency|histogram",
            "latency|doctor",
            "latency|help",
        ];
        SUBCOMMANDS
            .iter()
            .map(|name| (name.to_string(), *name))
            .collect()
    });
    let Some(sub) = args.get(1) else {
        return spec.name;
    };
    let key = format!(
        "{}|{}",
        spec.name,
        String::from_utf8_lossy(sub).to_ascii_lowercase()
    );
    names.get(&key).copied().unwrap_or(spec.name)
}

/// A command's arguments as SLOWLOG and MONITOR show them: Redis's `redactClientCommandArgument`
/// replaces AUTH's arguments and HELLO's AUTH username and password with "(redacted)".
pub fn loggable(spec: &CommandSpec, args: &[Bytes]) -> smallvec::SmallVec<[Bytes; 8]> {
    const REDACTED: Bytes = Bytes::from_static(b"(redacted)");
    // Inline up to 8 arguments: EVALSHA with a key and two arguments has 6.
    let mut shown: smallvec::SmallVec<[Bytes; 8]> = args.iter().cloned().collect();
    match spec.name {
        "auth" => shown.iter_mut().skip(1).for_each(|arg| *arg = REDACTED),
        "hello" => {
            if let Some(at) = shown
                .iter()
                .position(|arg| super::util::eq_ignore_case(arg, "auth"))
            {
                shown
                    .iter_mut()
                    .skip(at + 1)
                    .take(2)
                    .for_each(|arg| *arg = REDACTED);
            }
        }
        _ => {}
    }
    shown
}

pub const DEBUG_HELP: &[&str] = &[
    "OBJECT <key>",
    "    Show low level info about the `key` and associated value.",
    "SLEEP <seconds>",
    "    Stop the server for <seconds>. Decimals allowed.",
    "DISK-FAILPOINT OFF|EIO|ENOSPC|SLOW <ms>",
    "    (shardis) Make the disk probe fail with EIO or ENOSPC, or fsync <ms> late; OFF restores it.",
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::test_support::Harness;
    use crate::command::ExecContext;

    fn run_debug_object(h: &mut Harness, key: &str) -> Reply {
        let args: Vec<Bytes> = ["DEBUG", "OBJECT", key]
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let mut ctx = ExecContext {
            keyspace: &mut h.keyspace,
            db_index: 0,
            now_ms: h.now_ms,
            limits: &h.limits,
            propagate: None,
        };
        debug_object(&mut ctx, &args)
    }

    #[test]
    fn full_names_of_subcommands() {
        let args = |words: &[&str]| -> Vec<Bytes> {
            words
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect()
        };
        let spec = |name: &str| crate::command::lookup(name.as_bytes()).unwrap();
        assert_eq!(
            full_name(spec("client"), &args(&["CLIENT", "LIST"])),
            "client|list"
        );
        assert_eq!(
            full_name(spec("config"), &args(&["config", "Get", "x"])),
            "config|get"
        );
        assert_eq!(
            full_name(spec("client"), &args(&["CLIENT", "NOPE"])),
            "client"
        );
        assert_eq!(full_name(spec("get"), &args(&["GET", "k"])), "get");
        assert_eq!(full_name(spec("ping"), &args(&["PING"])), "ping");
    }

    #[test]
    fn auth_arguments_are_redacted() {
        let args = |words: &[&str]| -> Vec<Bytes> {
            words
                .iter()
                .map(|w| Bytes::copy_from_slice(w.as_bytes()))
                .collect()
        };
        let spec = |name: &str| crate::command::lookup(name.as_bytes()).unwrap();
        let shown = loggable(spec("auth"), &args(&["AUTH", "user", "secret"]));
        assert_eq!(&shown[1][..], b"(redacted)");
        assert_eq!(&shown[2][..], b"(redacted)");
        let shown = loggable(
            spec("hello"),
            &args(&["HELLO", "3", "AUTH", "u", "p", "SETNAME", "n"]),
        );
        assert_eq!(
            shown
                .iter()
                .map(|a| String::from_utf8_lossy(a).to_string())
                .collect::<Vec<_>>(),
            vec![
                "HELLO",
                "3",
                "AUTH",
                "(redacted)",
                "(redacted)",
                "SETNAME",
                "n"
            ]
        );
        assert_eq!(loggable(spec("set"), &args(&["SET", "k", "v"])).len(), 3);
    }

    #[test]
    fn debug_object_line() {
        let mut h = Harness::new();
        h.run(&["SET", "n", "12"]);
        h.run(&["SET", "s", "hello"]);
        let Reply::Status(line) = run_debug_object(&mut h, "n") else {
            panic!("not a status");
        };
        let line = String::from_utf8_lossy(&line).to_string();
        assert!(line.starts_with("Value at:0x"), "{line}");
        assert!(
            line.ends_with(" refcount:1 encoding:int serializedlength:2 lru:0 lru_seconds_idle:0"),
            "{line}"
        );
        let Reply::Status(line) = run_debug_object(&mut h, "s") else {
            panic!("not a status");
        };
        assert!(String::from_utf8_lossy(&line).contains("encoding:embstr serializedlength:6 "));
        assert_eq!(
            run_debug_object(&mut h, "missing"),
            Reply::error_static("ERR no such key")
        );
    }
}
