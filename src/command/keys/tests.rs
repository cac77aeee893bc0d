//! Unit tests of `keys`.

use bytes::Bytes;

use super::*;
use crate::command::test_support::{bulk, err, int, Harness};
use crate::command::{lookup, util::ERR_NOT_INTEGER, util::ERR_SYNTAX};
use crate::keyspace::Entry;

const NOW: u64 = 1_700_000_000_000;

fn harness() -> Harness {
    let h = Harness::new();
    assert_eq!(h.now_ms, NOW);
    h
}

/// Stores a string straight into the keyspace (string.rs's SET is written elsewhere).
fn set_in(h: &mut Harness, db: usize, key: &str, value: &str, expire_at: u64) {
    let entry = Entry {
        value: Value::String(Bytes::copy_from_slice(value.as_bytes())),
        expire_at,
    };
    h.keyspace
        .db(db)
        .insert(Bytes::copy_from_slice(key.as_bytes()), entry);
}

fn set(h: &mut Harness, key: &str, value: &str) {
    set_in(h, 0, key, value, 0);
}

fn deadline_of(h: &mut Harness, db: usize, key: &str) -> Option<u64> {
    let now = h.now_ms;
    h.keyspace
        .db(db)
        .get(key.as_bytes(), now)
        .map(|entry| entry.expire_at)
}

fn sorted_bulks(reply: Reply) -> Vec<Bytes> {
    let Reply::Array(items) = reply else {
        panic!("not an array: {reply:?}")
    };
    let mut keys: Vec<Bytes> = items
        .into_iter()
        .map(|item| match item {
            Reply::Bulk(bytes) => bytes,
            other => panic!("not a bulk: {other:?}"),
        })
        .collect();
    keys.sort();
    keys
}

#[test]
fn table_is_consistent() {
    for spec in COMMANDS {
        assert_eq!(
            lookup(spec.name.to_uppercase().as_bytes()).map(|found| found.name),
            Some(spec.name)
        );
        assert_eq!(spec.handler.is_none(), spec.name == "scan", "{}", spec.name);
        assert_eq!(
            spec.first_key == 0,
            spec.routing == Routing::AllShards,
            "{}",
            spec.name
        );
    }
    let object_spec = lookup(b"object").expect("object");
    assert_eq!(
        object_spec
            .key_positions(&vec![bytes::Bytes::new(); 3])
            .collect::<Vec<_>>(),
        vec![2]
    );
    assert_eq!(
        object_spec
            .key_positions(&vec![bytes::Bytes::new(); 2])
            .count(),
        0,
        "OBJECT HELP has no key"
    );
    assert!(lookup(b"del").expect("del").is_write());
    assert!(!lookup(b"ttl").expect("ttl").is_write());
    assert_eq!(
        lookup(b"copy")
            .expect("copy")
            .key_positions(&vec![bytes::Bytes::new(); 6])
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
}

#[test]
fn del_and_unlink() {
    let mut h = harness();
    set(&mut h, "a", "1");
    set(&mut h, "b", "2");
    set_in(&mut h, 0, "dead", "x", NOW - 1);
    assert_eq!(h.run(&["DEL", "a", "a", "missing", "dead"]), int(1));
    assert_eq!(h.run(&["unlink", "b", "a"]), int(1));
    assert_eq!(h.keyspace.total_keys(), 0);
    assert_eq!(
        h.run(&["DEL"]),
        err("ERR wrong number of arguments for 'del' command")
    );
}

#[test]
fn exists_and_touch_count_duplicates_and_stats() {
    let mut h = harness();
    set(&mut h, "a", "1");
    set_in(&mut h, 0, "dead", "x", NOW);
    assert_eq!(h.run(&["EXISTS", "a", "a", "missing", "dead"]), int(2));
    assert_eq!(
        (
            h.keyspace.stats.keyspace_hits,
            h.keyspace.stats.keyspace_misses
        ),
        (2, 2)
    );
    assert_eq!(h.run(&["TOUCH", "a", "missing"]), int(1));
}

#[test]
fn type_reports_string_or_none() {
    let mut h = harness();
    set(&mut h, "s", "v");
    set_in(&mut h, 0, "dead", "x", NOW - 5);
    assert_eq!(h.run(&["TYPE", "s"]), Reply::status("string"));
    assert_eq!(h.run(&["type", "missing"]), Reply::status("none"));
    assert_eq!(h.run(&["TYPE", "dead"]), Reply::status("none"));
    assert_eq!(h.keyspace.stats.keyspace_misses, 2);
}

#[test]
fn expire_relative_and_absolute() {
    let mut h = harness();
    set(&mut h, "k", "v");
    assert_eq!(h.run(&["EXPIRE", "k", "10"]), int(1));
    assert_eq!(deadline_of(&mut h, 0, "k"), Some(NOW + 10_000));
    assert_eq!(h.run(&["PEXPIRE", "k", "1500"]), int(1));
    assert_eq!(deadline_of(&mut h, 0, "k"), Some(NOW + 1_500));
    let at = (NOW / 1000 + 100).to_string();
    assert_eq!(h.run(&["EXPIREAT", "k", &at]), int(1));
    assert_eq!(deadline_of(&mut h, 0, "k"), Some((NOW / 1000 + 100) * 1000));
    let at = (NOW + 777).to_string();
    assert_eq!(h.run(&["PEXPIREAT", "k", &at]), int(1));
    assert_eq!(deadline_of(&mut h, 0, "k"), Some(NOW + 777));
    assert_eq!(h.run(&["EXPIRE", "missing", "10"]), int(0));
}

#[test]
fn expire_in_the_past_deletes() {
    let mut h = harness();
    for (command, argument) in [
        ("EXPIRE", "-1"),
        ("PEXPIRE", "0"),
        ("EXPIREAT", "1"),
        ("PEXPIREAT", "-5"),
    ] {
        set(&mut h, "k", "v");
        assert_eq!(h.run(&[command, "k", argument]), int(1), "{command}");
        assert_eq!(h.run(&["EXISTS", "k"]), int(0), "{command}");
    }
    let at = NOW.to_string(); // exactly now is already past
    set(&mut h, "k", "v");
    assert_eq!(h.run(&["PEXPIREAT", "k", &at]), int(1));
    assert_eq!(h.run(&["EXISTS", "k"]), int(0));
    h.keyspace.sync_stats();
    assert_eq!(
        h.keyspace.stats.expired_keys, 0,
        "a deletion, not an expiry"
    );
}

#[test]
fn expire_errors() {
    let mut h = harness();
    set(&mut h, "k", "v");
    assert_eq!(h.run(&["EXPIRE", "k", "ten"]), err(ERR_NOT_INTEGER));
    assert_eq!(h.run(&["EXPIRE", "k", "1.5"]), err(ERR_NOT_INTEGER));
    assert_eq!(
        h.run(&["EXPIRE", "k", "9223372036854775"]),
        err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(
        h.run(&["EXPIRE", "k", "-9223372036854776"]),
        err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(
        h.run(&["pexpire", "k", "9223372036854775807"]),
        err("ERR invalid expire time in 'pexpire' command")
    );
    assert_eq!(
        h.run(&["EXPIREAT", "k", "9223372036854776"]),
        err("ERR invalid expire time in 'expireat' command")
    );
    // PEXPIREAT adds nothing, so any i64 is fine.
    assert_eq!(h.run(&["PEXPIREAT", "k", "9223372036854775807"]), int(1));
    // Overflow is reported even for a missing key (Redis checks before the lookup).
    assert_eq!(
        h.run(&["EXPIRE", "nope", "9223372036854775"]),
        err("ERR invalid expire time in 'expire' command")
    );
    assert_eq!(
        h.run(&["EXPIRE", "k"]),
        err("ERR wrong number of arguments for 'expire' command")
    );
}

#[test]
fn expire_options() {
    let mut h = harness();
    set(&mut h, "k", "v");
    // NX: only without a deadline.
    assert_eq!(h.run(&["EXPIRE", "k", "100", "NX"]), int(1));
    assert_eq!(h.run(&["EXPIRE", "k", "200", "nx"]), int(0));
    assert_eq!(deadline_of(&mut h, 0, "k"), Some(NOW + 100_000));
    // XX: only with one.
    assert_eq!(h.run(&["EXPIRE", "k", "200", "XX"]), int(1));
    set(&mut h, "p", "v");
    assert_eq!(h.run(&["EXPIRE", "p", "200", "XX"]), int(0));
    // GT: only a later deadline; no deadline counts as infinite.
    assert_eq!(h.run(&["EXPIRE", "k", "100", "GT"]), int(0));
    assert_eq!(h.run(&["EXPIRE", "k", "200", "GT"]), int(0));
    assert_eq!(h.run(&["EXPIRE", "k", "300", "GT"]), int(1));
    assert_eq!(h.run(&["EXPIRE", "p", "300", "GT"]), int(0));
    // LT: only an earlier deadline; without one, any deadline is earlier.
    assert_eq!(h.run(&["EXPIRE", "k", "400", "LT"]), int(0));
    assert_eq!(h.run(&["EXPIRE", "k", "250", "LT"]), int(1));
    assert_eq!(h.run(&["EXPIRE", "p", "50", "LT"]), int(1));
    assert_eq!(deadline_of(&mut h, 0, "p"), Some(NOW + 50_000));
    // XX with GT combine.
    assert_eq!(h.run(&["PEXPIRE", "k", "999999", "XX", "GT"]), int(1));
    // A refused condition does not delete even with a past time.
    assert_eq!(h.run(&["EXPIRE", "k", "-1", "GT"]), int(0));
    assert_eq!(h.run(&["EXISTS", "k"]), int(1));
    assert_eq!(h.run(&["EXPIRE", "k", "-1", "LT"]), int(1));
    assert_eq!(h.run(&["EXISTS", "k"]), int(0));
}

#[test]
fn expire_option_errors() {
    let mut h = harness();
    set(&mut h, "k", "v");
    let nx_error = "ERR NX and XX, GT or LT options at the same time are not compatible";
    assert_eq!(h.run(&["EXPIRE", "k", "10", "NX", "XX"]), err(nx_error));
    assert_eq!(h.run(&["EXPIRE", "k", "10", "GT", "NX"]), err(nx_error));
    assert_eq!(h.run(&["EXPIRE", "k", "10", "NX", "LT"]), err(nx_error));
    assert_eq!(
        h.run(&["PEXPIRE", "k", "10", "GT", "LT"]),
        err("ERR GT and LT options at the same time are not compatible")
    );
    assert_eq!(
        h.run(&["EXPIRE", "k", "10", "FOO"]),
        err("ERR Unsupported option FOO")
    );
    // Options are checked before the time argument.
    assert_eq!(
        h.run(&["EXPIRE", "k", "abc", "bar"]),
        err("ERR Unsupported option bar")
    );
    assert_eq!(deadline_of(&mut h, 0, "k"), Some(0));
}

#[test]
fn ttl_family() {
    let mut h = harness();
    set(&mut h, "plain", "v");
    set_in(&mut h, 0, "v", "x", NOW + 10_499);
    for command in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(h.run(&[command, "missing"]), int(-2), "{command}");
        assert_eq!(h.run(&[command, "plain"]), int(-1), "{command}");
    }
    assert_eq!(h.run(&["TTL", "v"]), int(10));
    assert_eq!(h.run(&["PTTL", "v"]), int(10_499));
    assert_eq!(h.run(&["PEXPIRETIME", "v"]), int((NOW + 10_499) as i64));
    assert_eq!(
        h.run(&["EXPIRETIME", "v"]),
        int(((NOW + 10_499 + 500) / 1000) as i64)
    );
    set_in(&mut h, 0, "v", "x", NOW + 10_500);
    assert_eq!(h.run(&["TTL", "v"]), int(11), "rounded to nearest second");
    // Far deadlines do not overflow the rounding.
    assert_eq!(h.run(&["PEXPIREAT", "v", "9223372036854775807"]), int(1));
    assert_eq!(h.run(&["EXPIRETIME", "v"]), int(9_223_372_036_854_776));
    // Past the deadline the key is gone.
    h.now_ms = NOW + 10_500;
    set_in(&mut h, 0, "v", "x", NOW + 10_500);
    assert_eq!(h.run(&["TTL", "v"]), int(-2));
}

#[test]
fn persist() {
    let mut h = harness();
    set(&mut h, "plain", "v");
    set_in(&mut h, 0, "v", "x", NOW + 1_000);
    assert_eq!(h.run(&["PERSIST", "missing"]), int(0));
    assert_eq!(h.run(&["PERSIST", "plain"]), int(0));
    assert_eq!(h.run(&["PERSIST", "v"]), int(1));
    assert_eq!(h.run(&["TTL", "v"]), int(-1));
    assert_eq!(h.keyspace.db(0).expires_len(), 0);
}

#[test]
fn object_encoding_follows_redis_rules() {
    let mut h = harness();
    let cases = [
        ("12345", "int"),
        ("-12", "int"),
        ("9223372036854775807", "int"),
        ("9223372036854775808", "embstr"),
        ("012", "embstr"),
        ("-0", "embstr"),
        ("+1", "embstr"),
        ("1.5", "embstr"),
        ("", "embstr"),
        ("hello", "embstr"),
    ];
    for (value, encoding) in cases {
        set(&mut h, "k", value);
        assert_eq!(
            h.run(&["OBJECT", "ENCODING", "k"]),
            bulk(encoding),
            "{value:?}"
        );
    }
    set(&mut h, "k", &"x".repeat(44));
    assert_eq!(h.run(&["object", "encoding", "k"]), bulk("embstr"));
    set(&mut h, "k", &"x".repeat(45));
    assert_eq!(h.run(&["OBJECT", "Encoding", "k"]), bulk("raw"));
    assert_eq!(h.run(&["OBJECT", "ENCODING", "missing"]), Reply::Null);
}

#[test]
fn object_other_subcommands() {
    let mut h = harness();
    set(&mut h, "k", "v");
    assert_eq!(h.run(&["OBJECT", "REFCOUNT", "k"]), int(1));
    assert_eq!(h.run(&["OBJECT", "IDLETIME", "k"]), int(0));
    assert_eq!(
        h.run(&["OBJECT", "FREQ", "k"]),
        err("ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that when switching between policies at runtime LRU and LFU data will take some time to adjust.")
    );
    for sub in ["REFCOUNT", "IDLETIME", "FREQ"] {
        assert_eq!(h.run(&["OBJECT", sub, "missing"]), Reply::Null, "{sub}");
    }
    let Reply::Array(lines) = h.run(&["OBJECT", "help"]) else {
        panic!("help is an array")
    };
    assert_eq!(lines.len(), 15);
    assert_eq!(
        lines[0],
        Reply::status("OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
    );
    assert_eq!(lines[14], Reply::status("    Print this help."));
    assert_eq!(
        h.run(&["OBJECT", "nope", "k"]),
        err("ERR unknown subcommand 'nope'. Try OBJECT HELP.")
    );
    assert_eq!(
        h.run(&["OBJECT", "ENCODING"]),
        err("ERR wrong number of arguments for 'object|encoding' command")
    );
    assert_eq!(
        h.run(&["OBJECT", "HELP", "x"]),
        err("ERR wrong number of arguments for 'object|help' command")
    );
    assert_eq!(
        h.run(&["OBJECT"]),
        err("ERR wrong number of arguments for 'object' command")
    );
}

#[test]
fn move_between_databases() {
    let mut h = harness();
    set_in(&mut h, 0, "k", "v", NOW + 5_000);
    assert_eq!(h.run(&["MOVE", "k", "3"]), int(1));
    assert_eq!(h.run(&["EXISTS", "k"]), int(0));
    assert_eq!(
        deadline_of(&mut h, 3, "k"),
        Some(NOW + 5_000),
        "the deadline moves too"
    );
    assert_eq!(h.keyspace.db(3).expires_len(), 1);
    // Missing here, or already there: 0, nothing changes.
    assert_eq!(h.run(&["MOVE", "k", "3"]), int(0));
    set(&mut h, "k", "other");
    assert_eq!(h.run(&["MOVE", "k", "3"]), int(0));
    assert_eq!(h.run(&["EXISTS", "k"]), int(1));
    // Errors, in Redis's order.
    assert_eq!(
        h.run(&["MOVE", "k", "0"]),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(
        h.run(&["MOVE", "k", "16"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        h.run(&["MOVE", "k", "-1"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(h.run(&["MOVE", "k", "x"]), err(ERR_NOT_INTEGER));
    assert_eq!(
        h.run(&["MOVE", "missing", "2147483648"]),
        err("ERR value is out of range, value must between -2147483648 and 2147483647")
    );
}

#[test]
fn rename_and_renamenx() {
    let mut h = harness();
    assert_eq!(h.run(&["RENAME", "missing", "x"]), err("ERR no such key"));
    assert_eq!(h.run(&["RENAMENX", "missing", "x"]), err("ERR no such key"));
    assert_eq!(
        h.run(&["RENAME", "missing", "missing"]),
        err("ERR no such key")
    );
    set_in(&mut h, 0, "a", "1", NOW + 9_000);
    assert_eq!(h.run(&["RENAME", "a", "a"]), Reply::ok());
    assert_eq!(h.run(&["RENAMENX", "a", "a"]), int(0));
    assert_eq!(h.run(&["RENAME", "a", "b"]), Reply::ok());
    assert_eq!(h.run(&["EXISTS", "a"]), int(0));
    assert_eq!(
        deadline_of(&mut h, 0, "b"),
        Some(NOW + 9_000),
        "the TTL moves with the value"
    );
    // Overwriting a destination that had a deadline with a value that has none.
    set(&mut h, "c", "3");
    assert_eq!(h.run(&["RENAME", "c", "b"]), Reply::ok());
    assert_eq!(h.run(&["TTL", "b"]), int(-1));
    assert_eq!(h.keyspace.db(0).expires_len(), 0);
    set(&mut h, "d", "4");
    assert_eq!(h.run(&["RENAMENX", "d", "b"]), int(0));
    assert_eq!(h.run(&["RENAMENX", "d", "e"]), int(1));
    assert_eq!(h.run(&["EXISTS", "d", "e"]), int(1));
}

#[test]
fn copy_command() {
    let mut h = harness();
    set_in(&mut h, 0, "src", "value", NOW + 3_000);
    assert_eq!(h.run(&["COPY", "src", "dst"]), int(1));
    assert_eq!(
        deadline_of(&mut h, 0, "dst"),
        Some(NOW + 3_000),
        "the TTL is copied"
    );
    assert_eq!(h.run(&["COPY", "src", "dst"]), int(0), "destination exists");
    set(&mut h, "src", "new");
    assert_eq!(h.run(&["COPY", "src", "dst", "REPLACE"]), int(1));
    assert_eq!(h.run(&["TTL", "dst"]), int(-1));
    assert_eq!(h.run(&["COPY", "src", "src", "DB", "5"]), int(1));
    assert!(h.keyspace.db(5).contains(b"src", NOW));
    assert_eq!(h.run(&["COPY", "src", "src", "db", "5"]), int(0));
    assert_eq!(h.run(&["COPY", "src", "src", "replace", "DB", "5"]), int(1));
    assert_eq!(h.run(&["COPY", "missing", "x"]), int(0));
    // Errors.
    assert_eq!(
        h.run(&["COPY", "src", "src"]),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(
        h.run(&["COPY", "src", "src", "DB", "0"]),
        err("ERR source and destination objects are the same")
    );
    assert_eq!(h.run(&["COPY", "src", "x", "DB"]), err(ERR_SYNTAX));
    assert_eq!(h.run(&["COPY", "src", "x", "FOO"]), err(ERR_SYNTAX));
    assert_eq!(
        h.run(&["COPY", "src", "x", "DB", "99"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        h.run(&["COPY", "src", "x", "DB", "y"]),
        err(ERR_NOT_INTEGER)
    );
    assert_eq!(
        h.run(&["COPY", "src"]),
        err("ERR wrong number of arguments for 'copy' command")
    );
}

#[test]
fn keys_dbsize_randomkey() {
    let mut h = harness();
    assert_eq!(h.run(&["RANDOMKEY"]), Reply::Null);
    set(&mut h, "user:1", "a");
    set(&mut h, "user:2", "b");
    set(&mut h, "other", "c");
    set_in(&mut h, 0, "user:dead", "d", NOW - 1);
    assert_eq!(
        sorted_bulks(h.run(&["KEYS", "user:*"])),
        vec![Bytes::from("user:1"), Bytes::from("user:2")]
    );
    assert_eq!(sorted_bulks(h.run(&["KEYS", "*"])).len(), 3);
    assert_eq!(sorted_bulks(h.run(&["KEYS", "nothing*"])).len(), 0);
    assert_eq!(
        h.run(&["DBSIZE"]),
        int(4),
        "DBSIZE counts keys not yet reclaimed, as Redis does"
    );
    for _ in 0..20 {
        let Reply::Bulk(key) = h.run(&["RANDOMKEY"]) else {
            panic!("a key")
        };
        assert_ne!(key.as_ref(), b"user:dead");
    }
}

#[test]
fn flushdb_and_flushall() {
    let mut h = harness();
    set_in(&mut h, 0, "a", "1", 0);
    set_in(&mut h, 1, "b", "2", 0);
    assert_eq!(h.run(&["FLUSHDB", "now"]), err(ERR_SYNTAX));
    assert_eq!(h.run(&["FLUSHDB", "ASYNC", "SYNC"]), err(ERR_SYNTAX));
    assert_eq!(h.run(&["FLUSHDB", "async"]), Reply::ok());
    assert_eq!(h.keyspace.total_keys(), 1);
    set_in(&mut h, 0, "a", "1", 0);
    assert_eq!(h.run(&["FLUSHDB"]), Reply::ok());
    assert_eq!(h.keyspace.total_keys(), 1);
    assert_eq!(h.run(&["FLUSHALL", "x"]), err(ERR_SYNTAX));
    assert_eq!(h.run(&["FLUSHALL", "SYNC"]), Reply::ok());
    assert_eq!(h.keyspace.total_keys(), 0);
    assert_eq!(h.run(&["FLUSHALL"]), Reply::ok());
}

#[test]
fn swapdb() {
    let mut h = harness();
    set_in(&mut h, 0, "zero", "0", 0);
    set_in(&mut h, 1, "one", "1", 0);
    assert_eq!(h.run(&["SWAPDB", "0", "1"]), Reply::ok());
    assert_eq!(h.run(&["EXISTS", "one"]), int(1));
    assert_eq!(h.run(&["EXISTS", "zero"]), int(0));
    assert_eq!(h.run(&["SWAPDB", "2", "2"]), Reply::ok());
    assert_eq!(
        h.run(&["SWAPDB", "x", "1"]),
        err("ERR invalid first DB index")
    );
    assert_eq!(
        h.run(&["SWAPDB", "0", "1.0"]),
        err("ERR invalid second DB index")
    );
    assert_eq!(
        h.run(&["SWAPDB", "x", "y"]),
        err("ERR invalid first DB index")
    );
    assert_eq!(
        h.run(&["SWAPDB", "4294967296", "0"]),
        err("ERR invalid first DB index")
    );
    assert_eq!(
        h.run(&["SWAPDB", "0", "16"]),
        err("ERR DB index is out of range")
    );
    assert_eq!(
        h.run(&["SWAPDB", "-1", "0"]),
        err("ERR DB index is out of range")
    );
}

#[test]
fn scan_has_no_handler_here() {
    let mut h = harness();
    assert_eq!(
        h.run(&["SCAN", "0"]),
        err("ERR unknown command 'SCAN', with args beginning with: '0' ")
    );
}

fn scan_args(args: &[&str]) -> Vec<Bytes> {
    args.iter()
        .map(|arg| Bytes::copy_from_slice(arg.as_bytes()))
        .collect()
}

#[test]
fn scan_options() {
    let parse = |args: &[&str]| parse_scan_options(&scan_args(args), 2);
    assert_eq!(parse(&["SCAN", "0"]), Ok(ScanOptions::default()));
    assert_eq!(
        parse(&["SCAN", "0", "match", "user:*", "COUNT", "100", "type", "STRING"]),
        Ok(ScanOptions {
            count: 100,
            pattern: Some(Bytes::from("user:*")),
            type_filter: Some(Bytes::from("STRING")),
        })
    );
    assert_eq!(
        parse(&["SCAN", "0", "MATCH", "*"]).map(|options| options.pattern),
        Ok(None)
    );
    assert_eq!(
        parse(&["SCAN", "0", "MATCH", "a", "MATCH", "*"]).map(|options| options.pattern),
        Ok(None)
    );
    assert_eq!(parse(&["SCAN", "0", "COUNT", "0"]), Err(err(ERR_SYNTAX)));
    assert_eq!(parse(&["SCAN", "0", "COUNT", "-3"]), Err(err(ERR_SYNTAX)));
    assert_eq!(
        parse(&["SCAN", "0", "COUNT", "ten"]),
        Err(err(ERR_NOT_INTEGER))
    );
    assert_eq!(parse(&["SCAN", "0", "COUNT"]), Err(err(ERR_SYNTAX)));
    assert_eq!(parse(&["SCAN", "0", "MATCH"]), Err(err(ERR_SYNTAX)));
    assert_eq!(parse(&["SCAN", "0", "NOVALUES"]), Err(err(ERR_SYNTAX)));
    // HSCAN-style callers start later.
    assert_eq!(
        parse_scan_options(&scan_args(&["HSCAN", "key", "0", "COUNT", "5"]), 3).map(|o| o.count),
        Ok(5)
    );
}
