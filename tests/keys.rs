//! Generic key commands over real sockets with the `redis` crate: DEL, EXISTS, TYPE, the EXPIRE and
//! TTL families, OBJECT, MOVE, RENAME, COPY, SELECT and the whole-database commands, with Redis 7's
//! exact replies and error texts. Commands that touch several keys or every shard run against one,
//! two and four shards with keys spread over all of them.

mod common;

use std::collections::HashSet;

use common::{
    arity, assert_expires_soon, error_of, for_each_topology, get, now_ms, numbered, pttl, query,
    resp, TestServer,
};
use redis::Connection;

const SYNTAX: &str = "ERR syntax error";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const DB_RANGE: &str = "ERR DB index is out of range";
const INT_RANGE: &str = "ERR value is out of range, value must between -2147483648 and 2147483647";
const SAME_OBJECT: &str = "ERR source and destination objects are the same";
const NO_SUCH_KEY: &str = "ERR no such key";

fn set(con: &mut Connection, key: &str, value: &str) {
    assert_eq!(query::<String>(con, &["SET", key, value]), "OK");
}

fn select(con: &mut Connection, db: usize) {
    assert_eq!(query::<String>(con, &["SELECT", &db.to_string()]), "OK");
}

/// `[name, keys...]`
fn with_keys<'a>(name: &'a str, keys: &'a [String]) -> Vec<&'a str> {
    let mut args = vec![name];
    args.extend(keys.iter().map(String::as_str));
    args
}

/// Sets each key to `v-<key>` with one MSET.
fn fill(con: &mut Connection, keys: &[String]) {
    let values: Vec<String> = keys.iter().map(|key| format!("v-{key}")).collect();
    let mut args = vec!["MSET"];
    for (key, value) in keys.iter().zip(&values) {
        args.push(key);
        args.push(value);
    }
    assert_eq!(query::<String>(con, &args), "OK");
}

fn as_set<I: IntoIterator<Item = S>, S: AsRef<str>>(items: I) -> HashSet<String> {
    items.into_iter().map(|s| s.as_ref().to_string()).collect()
}

// ---- DEL / UNLINK / EXISTS / TOUCH / TYPE -------------------------------------------------------

#[test]
fn del_unlink_exists_touch_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let keys = numbered("k", 50);
        fill(&mut con, &keys);
        assert_eq!(query::<i64>(&mut con, &with_keys("EXISTS", &keys)), 50);
        // EXISTS counts a key each time it is named; TOUCH counts existing keys.
        assert_eq!(
            query::<i64>(&mut con, &["EXISTS", "k0", "k0", "missing", "k49"]),
            3
        );
        let mut touch = with_keys("TOUCH", &keys);
        touch.push("missing");
        assert_eq!(query::<i64>(&mut con, &touch), 50);

        // DEL counts keys removed; a key named twice counts once.
        let mut del = with_keys("DEL", &keys[..10]);
        del.extend(["k0", "missing", "k5"]);
        assert_eq!(query::<i64>(&mut con, &del), 10);
        assert_eq!(query::<i64>(&mut con, &with_keys("EXISTS", &keys[..10])), 0);
        assert_eq!(
            query::<i64>(&mut con, &with_keys("UNLINK", &keys[10..20])),
            10
        );
        assert_eq!(
            query::<i64>(&mut con, &with_keys("UNLINK", &keys[10..20])),
            0
        );
        assert_eq!(query::<i64>(&mut con, &with_keys("EXISTS", &keys)), 30);
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 30);
        assert_eq!(query::<i64>(&mut con, &with_keys("DEL", &keys)), 30);
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);

        // An expired key is not there to count or delete.
        query::<String>(&mut con, &["SET", "dead", "v", "PXAT", "1"]);
        assert_eq!(query::<i64>(&mut con, &["EXISTS", "dead"]), 0);
        assert_eq!(query::<i64>(&mut con, &["TOUCH", "dead"]), 0);
        assert_eq!(query::<i64>(&mut con, &["DEL", "dead"]), 0);

        for name in ["DEL", "UNLINK", "EXISTS", "TOUCH"] {
            assert_eq!(error_of(&mut con, &[name]), arity(&name.to_lowercase()));
        }
        let mut raw = server.raw();
        raw.roundtrip(&resp(&["DEL", "nothing", "here"]), b":0\r\n");
    });
}

#[test]
fn type_command() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    set(&mut con, "s", "v");
    assert_eq!(query::<String>(&mut con, &["TYPE", "s"]), "string");
    assert_eq!(query::<String>(&mut con, &["TYPE", "missing"]), "none");
    assert_eq!(error_of(&mut con, &["TYPE"]), arity("type"));
    // Status replies, not bulk strings.
    let mut raw = server.raw();
    raw.roundtrip(&resp(&["TYPE", "s"]), b"+string\r\n");
    raw.roundtrip(&resp(&["TYPE", "missing"]), b"+none\r\n");
}

// ---- EXPIRE family, TTL family, PERSIST ---------------------------------------------------------

#[test]
fn expire_pexpire_expireat_pexpireat() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    for name in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        assert_eq!(
            query::<i64>(&mut con, &[name, "missing", "100"]),
            0,
            "{name}"
        );
    }
    set(&mut con, "k", "v");
    assert_eq!(query::<i64>(&mut con, &["EXPIRE", "k", "100"]), 1);
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), 100);
    assert_eq!(query::<i64>(&mut con, &["PEXPIRE", "k", "200000"]), 1);
    let ttl = pttl(&mut con, "k");
    assert!(ttl > 199_000 && ttl <= 200_000, "{ttl}");
    let at = now_ms() / 1000 + 300;
    assert_eq!(
        query::<i64>(&mut con, &["EXPIREAT", "k", &at.to_string()]),
        1
    );
    assert_eq!(query::<i64>(&mut con, &["EXPIRETIME", "k"]), at);
    assert_eq!(query::<i64>(&mut con, &["PEXPIRETIME", "k"]), at * 1000);
    let at_ms = now_ms() + 400_000;
    assert_eq!(
        query::<i64>(&mut con, &["PEXPIREAT", "k", &at_ms.to_string()]),
        1
    );
    assert_eq!(query::<i64>(&mut con, &["PEXPIRETIME", "k"]), at_ms);
    assert_eq!(get(&mut con, "k").as_deref(), Some("v"));

    // A deadline not in the future deletes the key and still answers 1.
    for args in [
        &["EXPIRE", "gone", "0"][..],
        &["EXPIRE", "gone", "-10"],
        &["PEXPIRE", "gone", "-1"],
        &["EXPIREAT", "gone", "1"],
        &["PEXPIREAT", "gone", "1"],
        &["PEXPIRE", "gone", "-9223372036854775808"],
    ] {
        set(&mut con, "gone", "v");
        assert_eq!(query::<i64>(&mut con, args), 1, "{args:?}");
        assert_eq!(query::<i64>(&mut con, &["EXISTS", "gone"]), 0, "{args:?}");
    }
    // The largest absolute deadline is accepted as is.
    assert_eq!(
        query::<i64>(&mut con, &["PEXPIREAT", "k", "9223372036854775807"]),
        1
    );
    assert_eq!(
        query::<i64>(&mut con, &["PEXPIRETIME", "k"]),
        9223372036854775807
    );

    for (name, amount) in [
        ("EXPIRE", "9223372036854775807"),
        ("EXPIRE", "-9223372036854775808"),
        ("PEXPIRE", "9223372036854775807"),
        ("EXPIREAT", "9223372036854775807"),
    ] {
        assert_eq!(
            error_of(&mut con, &[name, "k", amount]),
            format!(
                "ERR invalid expire time in '{}' command",
                name.to_lowercase()
            )
        );
    }
    for amount in ["abc", "1.5", "", " 1"] {
        assert_eq!(error_of(&mut con, &["EXPIRE", "k", amount]), NOT_INTEGER);
        assert_eq!(error_of(&mut con, &["PEXPIREAT", "k", amount]), NOT_INTEGER);
    }
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "k"]), 1);
    assert_eq!(error_of(&mut con, &["EXPIRE", "k"]), arity("expire"));
    assert_eq!(error_of(&mut con, &["PEXPIREAT", "k"]), arity("pexpireat"));

    // A short PEXPIRE really expires.
    set(&mut con, "short", "v");
    assert_eq!(query::<i64>(&mut con, &["PEXPIRE", "short", "50"]), 1);
    assert_expires_soon(&mut con, "short");
}

#[test]
fn expire_conditions() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let expire = |con: &mut Connection, key: &str, seconds: &str, options: &[&str]| -> i64 {
        let mut args = vec!["EXPIRE", key, seconds];
        args.extend_from_slice(options);
        query(con, &args)
    };
    // Without a TTL: NX sets, XX and GT refuse (no TTL counts as infinite), LT sets.
    for (options, result) in [
        (&["NX"][..], 1),
        (&["XX"], 0),
        (&["GT"], 0),
        (&["LT"], 1),
        (&["xx", "gt"], 0),
    ] {
        set(&mut con, "k", "v");
        assert_eq!(expire(&mut con, "k", "100", options), result, "{options:?}");
        let expected_ttl = if result == 1 { 100 } else { -1 };
        assert_eq!(
            query::<i64>(&mut con, &["TTL", "k"]),
            expected_ttl,
            "{options:?}"
        );
    }
    // With a TTL of 100 s.
    for (seconds, options, result, ttl_after) in [
        ("200", &["NX"][..], 0, 100),
        ("200", &["XX"], 1, 200),
        ("50", &["GT"], 0, 100),
        ("200", &["GT"], 1, 200),
        ("200", &["LT"], 0, 100),
        ("100", &["LT"], 0, 100),
        ("50", &["LT"], 1, 50),
        ("200", &["XX", "GT"], 1, 200),
        ("50", &["Lt", "xX"], 1, 50),
    ] {
        set(&mut con, "k", "v");
        assert_eq!(expire(&mut con, "k", "100", &[]), 1);
        assert_eq!(
            expire(&mut con, "k", seconds, options),
            result,
            "{seconds} {options:?}"
        );
        assert_eq!(
            query::<i64>(&mut con, &["TTL", "k"]),
            ttl_after,
            "{seconds} {options:?}"
        );
    }
    // The same conditions on the other three commands.
    set(&mut con, "p", "v");
    assert_eq!(query::<i64>(&mut con, &["PEXPIRE", "p", "100000", "NX"]), 1);
    assert_eq!(query::<i64>(&mut con, &["PEXPIRE", "p", "50000", "GT"]), 0);
    let later = now_ms() + 500_000;
    assert_eq!(
        query::<i64>(&mut con, &["PEXPIREAT", "p", &later.to_string(), "GT"]),
        1
    );
    assert_eq!(query::<i64>(&mut con, &["PEXPIRETIME", "p"]), later);
    let sooner = now_ms() / 1000 + 10;
    assert_eq!(
        query::<i64>(&mut con, &["EXPIREAT", "p", &sooner.to_string(), "NX"]),
        0
    );
    assert_eq!(
        query::<i64>(&mut con, &["EXPIREAT", "p", &sooner.to_string(), "LT"]),
        1
    );
    assert_eq!(query::<i64>(&mut con, &["EXPIRETIME", "p"]), sooner);

    // Option errors come before the number is read.
    let incompatible = "ERR NX and XX, GT or LT options at the same time are not compatible";
    for name in ["EXPIRE", "PEXPIRE", "EXPIREAT", "PEXPIREAT"] {
        for options in [&["NX", "XX"][..], &["NX", "GT"], &["LT", "NX"]] {
            let mut args = vec![name, "k", "100"];
            args.extend_from_slice(options);
            assert_eq!(error_of(&mut con, &args), incompatible, "{args:?}");
        }
        assert_eq!(
            error_of(&mut con, &[name, "k", "100", "GT", "LT"]),
            "ERR GT and LT options at the same time are not compatible"
        );
        assert_eq!(
            error_of(&mut con, &[name, "k", "100", "FOO"]),
            "ERR Unsupported option FOO"
        );
        assert_eq!(
            error_of(&mut con, &[name, "k", "abc", "bar"]),
            "ERR Unsupported option bar"
        );
    }
    let mut raw = server.raw();
    raw.roundtrip(
        &resp(&["EXPIRE", "k", "1", "NX", "XX"]),
        b"-ERR NX and XX, GT or LT options at the same time are not compatible\r\n",
    );
}

#[test]
fn ttl_family_and_persist() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    for name in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(query::<i64>(&mut con, &[name, "missing"]), -2, "{name}");
    }
    set(&mut con, "k", "v");
    for name in ["TTL", "PTTL", "EXPIRETIME", "PEXPIRETIME"] {
        assert_eq!(query::<i64>(&mut con, &[name, "k"]), -1, "{name}");
        assert_eq!(error_of(&mut con, &[name]), arity(&name.to_lowercase()));
    }
    // TTL rounds to the nearest second.
    assert_eq!(query::<i64>(&mut con, &["PEXPIRE", "k", "100400"]), 1);
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), 100);
    assert_eq!(query::<i64>(&mut con, &["PEXPIRE", "k", "100900"]), 1);
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), 101);
    let at_ms = now_ms() + 123_456;
    assert_eq!(
        query::<i64>(&mut con, &["PEXPIREAT", "k", &at_ms.to_string()]),
        1
    );
    assert_eq!(query::<i64>(&mut con, &["PEXPIRETIME", "k"]), at_ms);
    assert_eq!(
        query::<i64>(&mut con, &["EXPIRETIME", "k"]),
        (at_ms + 500) / 1000
    );

    assert_eq!(query::<i64>(&mut con, &["PERSIST", "k"]), 1);
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), -1);
    assert_eq!(query::<i64>(&mut con, &["PERSIST", "k"]), 0);
    assert_eq!(query::<i64>(&mut con, &["PERSIST", "missing"]), 0);
    assert_eq!(get(&mut con, "k").as_deref(), Some("v"));
    assert_eq!(error_of(&mut con, &["PERSIST"]), arity("persist"));
    // PERSIST really keeps the key.
    assert_eq!(query::<i64>(&mut con, &["PEXPIRE", "k", "100"]), 1);
    assert_eq!(query::<i64>(&mut con, &["PERSIST", "k"]), 1);
    std::thread::sleep(std::time::Duration::from_millis(150));
    assert_eq!(get(&mut con, "k").as_deref(), Some("v"));
}

// ---- OBJECT --------------------------------------------------------------------------------------

#[test]
fn object_command() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let encoding = |con: &mut Connection, key: &str| -> Option<String> {
        query(con, &["OBJECT", "ENCODING", key])
    };
    let forty_four = "x".repeat(44);
    let forty_five = "x".repeat(45);
    for (value, expected) in [
        ("12345", "int"),
        ("-1", "int"),
        ("9223372036854775807", "int"),
        ("hello", "embstr"),
        ("1.5", "embstr"),
        (" 1", "embstr"),
        ("01", "embstr"),
        ("12345678901234567890", "embstr"),
        (forty_four.as_str(), "embstr"),
        (forty_five.as_str(), "raw"),
    ] {
        set(&mut con, "k", value);
        assert_eq!(
            encoding(&mut con, "k").as_deref(),
            Some(expected),
            "{value:?}"
        );
    }
    assert_eq!(encoding(&mut con, "missing"), None);
    assert_eq!(query::<i64>(&mut con, &["INCR", "counter"]), 1);
    assert_eq!(encoding(&mut con, "counter").as_deref(), Some("int"));

    set(&mut con, "s", "hello");
    assert_eq!(query::<i64>(&mut con, &["OBJECT", "REFCOUNT", "s"]), 1);
    assert_eq!(query::<i64>(&mut con, &["object", "idletime", "s"]), 0);
    assert_eq!(
        query::<Option<i64>>(&mut con, &["OBJECT", "REFCOUNT", "missing"]),
        None
    );
    assert_eq!(
        query::<Option<i64>>(&mut con, &["OBJECT", "IDLETIME", "missing"]),
        None
    );
    assert_eq!(
        error_of(&mut con, &["OBJECT", "FREQ", "s"]),
        "ERR An LFU maxmemory policy is not selected, access frequency not tracked. \
         Please note that when switching between policies at runtime LRU and LFU data will \
         take some time to adjust."
    );

    let help: Vec<String> = query(&mut con, &["OBJECT", "HELP"]);
    assert_eq!(help.len(), 15, "{help:?}");
    assert_eq!(
        help[0],
        "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:"
    );
    assert!(help.contains(&"ENCODING <key>".to_string()), "{help:?}");
    assert_eq!(&help[13..], ["HELP", "    Print this help."]);
    let help_lower: Vec<String> = query(&mut con, &["object", "help"]);
    assert_eq!(help_lower, help);

    assert_eq!(
        error_of(&mut con, &["OBJECT", "FOO", "s"]),
        "ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    );
    assert_eq!(
        error_of(&mut con, &["OBJECT", "FOO"]),
        "ERR unknown subcommand 'FOO'. Try OBJECT HELP."
    );
    assert_eq!(
        error_of(&mut con, &["OBJECT", "ENCODING"]),
        arity("object|encoding")
    );
    assert_eq!(
        error_of(&mut con, &["OBJECT", "ENCODING", "a", "b"]),
        arity("object|encoding")
    );
    assert_eq!(
        error_of(&mut con, &["OBJECT", "HELP", "x"]),
        arity("object|help")
    );
    assert_eq!(error_of(&mut con, &["OBJECT"]), arity("object"));

    let mut raw = server.raw();
    raw.roundtrip(&resp(&["OBJECT", "ENCODING", "s"]), b"$6\r\nembstr\r\n");
    raw.roundtrip(&resp(&["OBJECT", "ENCODING", "missing"]), b"$-1\r\n");
    raw.roundtrip(
        &resp(&["OBJECT", "HELP"]),
        b"*15\r\n+OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n",
    );
}

// ---- SELECT, MOVE --------------------------------------------------------------------------------

#[test]
fn select_isolates_databases() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    set(&mut con, "k", "zero");
    select(&mut con, 1);
    assert_eq!(get(&mut con, "k"), None);
    set(&mut con, "k", "one");
    select(&mut con, 15);
    assert_eq!(get(&mut con, "k"), None);
    select(&mut con, 0);
    assert_eq!(get(&mut con, "k").as_deref(), Some("zero"));
    // Another connection starts in database 0.
    let mut other = server.connection();
    assert_eq!(get(&mut other, "k").as_deref(), Some("zero"));

    assert_eq!(error_of(&mut con, &["SELECT", "16"]), DB_RANGE);
    assert_eq!(error_of(&mut con, &["SELECT", "-1"]), DB_RANGE);
    assert_eq!(error_of(&mut con, &["SELECT", "abc"]), NOT_INTEGER);
    assert_eq!(error_of(&mut con, &["SELECT", "4294967296"]), INT_RANGE);
    assert_eq!(error_of(&mut con, &["SELECT"]), arity("select"));
    // A refused SELECT leaves the database as it was.
    assert_eq!(get(&mut con, "k").as_deref(), Some("zero"));
}

#[test]
fn move_command() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    for key in numbered("m", 10) {
        query::<String>(&mut con, &["SET", &key, "v", "PX", "100000"]);
        assert_eq!(query::<i64>(&mut con, &["MOVE", &key, "1"]), 1);
        assert_eq!(query::<i64>(&mut con, &["EXISTS", &key]), 0);
    }
    select(&mut con, 1);
    for key in numbered("m", 10) {
        assert_eq!(get(&mut con, &key).as_deref(), Some("v"));
        assert!(pttl(&mut con, &key) > 99_000, "MOVE keeps the TTL of {key}");
    }
    // The target already has the key: nothing moves.
    select(&mut con, 0);
    set(&mut con, "m0", "here");
    assert_eq!(query::<i64>(&mut con, &["MOVE", "m0", "1"]), 0);
    assert_eq!(get(&mut con, "m0").as_deref(), Some("here"));
    assert_eq!(query::<i64>(&mut con, &["MOVE", "missing", "1"]), 0);

    assert_eq!(error_of(&mut con, &["MOVE", "m0", "0"]), SAME_OBJECT);
    assert_eq!(error_of(&mut con, &["MOVE", "m0", "16"]), DB_RANGE);
    assert_eq!(error_of(&mut con, &["MOVE", "m0", "-1"]), DB_RANGE);
    assert_eq!(error_of(&mut con, &["MOVE", "m0", "abc"]), NOT_INTEGER);
    assert_eq!(error_of(&mut con, &["MOVE", "m0", "4294967296"]), INT_RANGE);
    assert_eq!(error_of(&mut con, &["MOVE", "m0"]), arity("move"));
    assert_eq!(get(&mut con, "m0").as_deref(), Some("here"));
}

// ---- RENAME / RENAMENX / COPY across shards -----------------------------------------------------

#[test]
fn rename_and_renamenx_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for i in 0..20 {
            let (src, dst) = pair(i);
            let value = format!("value{i}");
            if i % 2 == 0 {
                query::<String>(&mut con, &["SET", &src, &value, "PX", "100000"]);
            } else {
                set(&mut con, &src, &value);
            }
            assert_eq!(query::<String>(&mut con, &["RENAME", &src, &dst]), "OK");
            assert_eq!(query::<i64>(&mut con, &["EXISTS", &src]), 0, "{src}");
            assert_eq!(get(&mut con, &dst), Some(value), "{dst}");
            let ttl = pttl(&mut con, &dst);
            if i % 2 == 0 {
                assert!(ttl > 99_000, "RENAME keeps the TTL: {dst} {ttl}");
            } else {
                assert_eq!(ttl, -1, "{dst}");
            }
        }
        // Overwriting a destination replaces its value and its TTL.
        for i in 0..10 {
            let (src, dst) = (format!("a{i}"), format!("b{i}"));
            set(&mut con, &src, "new");
            query::<String>(&mut con, &["SET", &dst, "old", "EX", "100"]);
            assert_eq!(query::<String>(&mut con, &["RENAME", &src, &dst]), "OK");
            assert_eq!(get(&mut con, &dst).as_deref(), Some("new"));
            assert_eq!(pttl(&mut con, &dst), -1, "{dst}");
            assert_eq!(query::<i64>(&mut con, &["EXISTS", &src]), 0);
        }
        assert_eq!(error_of(&mut con, &["RENAME", "missing", "x"]), NO_SUCH_KEY);
        assert_eq!(
            error_of(&mut con, &["RENAME", "missing", "missing"]),
            NO_SUCH_KEY
        );
        assert_eq!(query::<String>(&mut con, &["RENAME", "b0", "b0"]), "OK");
        assert_eq!(get(&mut con, "b0").as_deref(), Some("new"));
        query::<String>(&mut con, &["SET", "dead", "v", "PXAT", "1"]);
        assert_eq!(error_of(&mut con, &["RENAME", "dead", "x"]), NO_SUCH_KEY);
        assert_eq!(query::<i64>(&mut con, &["EXISTS", "x"]), 0);

        // RENAMENX: only onto a free name.
        for i in 0..10 {
            let (src, dst, taken) = (format!("n{i}"), format!("nn{i}"), format!("b{i}"));
            set(&mut con, &src, "v");
            assert_eq!(query::<i64>(&mut con, &["RENAMENX", &src, &taken]), 0);
            assert_eq!(get(&mut con, &src).as_deref(), Some("v"));
            assert_eq!(get(&mut con, &taken).as_deref(), Some("new"));
            assert_eq!(query::<i64>(&mut con, &["RENAMENX", &src, &dst]), 1);
            assert_eq!(query::<i64>(&mut con, &["EXISTS", &src, &dst]), 1);
        }
        assert_eq!(query::<i64>(&mut con, &["RENAMENX", "b1", "b1"]), 0);
        assert_eq!(
            error_of(&mut con, &["RENAMENX", "missing", "x"]),
            NO_SUCH_KEY
        );
        assert_eq!(error_of(&mut con, &["RENAME", "a"]), arity("rename"));
        assert_eq!(
            error_of(&mut con, &["RENAMENX", "a", "b", "c"]),
            arity("renamenx")
        );

        // In another database the names are independent.
        select(&mut con, 3);
        set(&mut con, "src0", "three");
        assert_eq!(query::<String>(&mut con, &["RENAME", "src0", "dst1"]), "OK");
        assert_eq!(get(&mut con, "dst1").as_deref(), Some("three"));
        select(&mut con, 0);
        assert_eq!(get(&mut con, "dst1").as_deref(), Some("value1"));
    });
}

/// Source and destination names for pair `i`: every fifth pair shares a `{tag}` (one shard),
/// the others spread over the shards.
fn pair(i: usize) -> (String, String) {
    if i.is_multiple_of(5) {
        (format!("{{p{i}}}src"), format!("{{p{i}}}dst"))
    } else {
        (format!("src{i}"), format!("dst{i}"))
    }
}

#[test]
fn copy_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for i in 0..20 {
            let (src, dst) = pair(i);
            let value = format!("value{i}");
            let length = value.len() as i64;
            if i % 2 == 0 {
                query::<String>(&mut con, &["SET", &src, &value, "PX", "100000"]);
            } else {
                set(&mut con, &src, &value);
            }
            assert_eq!(query::<i64>(&mut con, &["COPY", &src, &dst]), 1);
            assert_eq!(get(&mut con, &src).as_deref(), Some(value.as_str()));
            assert_eq!(get(&mut con, &dst), Some(value), "{dst}");
            let ttl = pttl(&mut con, &dst);
            if i % 2 == 0 {
                assert!(ttl > 99_000, "COPY keeps the TTL: {dst} {ttl}");
            } else {
                assert_eq!(ttl, -1, "{dst}");
            }
            // The copy is independent of the source.
            query::<i64>(&mut con, &["APPEND", &src, "+"]);
            assert_eq!(query::<i64>(&mut con, &["STRLEN", &dst]), length);
        }
        // An existing destination blocks unless REPLACE; REPLACE also takes the source's TTL.
        for i in 1..10 {
            let (src, dst) = pair(i);
            query::<String>(&mut con, &["SET", &dst, "old", "EX", "100"]);
            assert_eq!(query::<i64>(&mut con, &["COPY", &src, &dst]), 0);
            assert_eq!(get(&mut con, &dst).as_deref(), Some("old"));
            assert_eq!(query::<i64>(&mut con, &["COPY", &src, &dst, "REPLACE"]), 1);
            assert_eq!(get(&mut con, &dst), get(&mut con, &src));
            let ttl = pttl(&mut con, &dst);
            if i % 2 == 0 {
                assert!(ttl > 90_000, "{dst} {ttl}");
            } else {
                assert_eq!(ttl, -1, "{dst}");
            }
        }
        assert_eq!(query::<i64>(&mut con, &["COPY", "missing", "x"]), 0);
        assert_eq!(query::<i64>(&mut con, &["EXISTS", "x"]), 0);
        assert_eq!(error_of(&mut con, &["COPY", "src1", "src1"]), SAME_OBJECT);

        // Into another database, same name or not.
        assert_eq!(
            query::<i64>(&mut con, &["COPY", "src1", "src1", "DB", "1"]),
            1
        );
        for i in 2..10 {
            let (src, dst) = (pair(i).0, format!("other{i}"));
            assert_eq!(query::<i64>(&mut con, &["COPY", &src, &dst, "db", "2"]), 1);
        }
        set(&mut con, "other2", "in db 0");
        select(&mut con, 2);
        set(&mut con, "other3", "taken");
        select(&mut con, 0);
        assert_eq!(
            query::<i64>(&mut con, &["COPY", "src3", "other3", "DB", "2"]),
            0
        );
        assert_eq!(
            query::<i64>(&mut con, &["COPY", "src3", "other3", "REPLACE", "DB", "2"]),
            1
        );
        assert_eq!(get(&mut con, "other2").as_deref(), Some("in db 0"));
        let expected_src1 = get(&mut con, "src1");
        select(&mut con, 1);
        assert_eq!(get(&mut con, "src1"), expected_src1);
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 1);
        select(&mut con, 2);
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 8);
        assert_eq!(get(&mut con, "other3").as_deref(), Some("value3+"));
        assert!(pttl(&mut con, "other4") > 90_000);
        select(&mut con, 0);

        // Errors, for pairs on one shard ({tag}) and pairs that may cross shards.
        for (src, dst) in [("{e}a", "{e}b"), ("src1", "dst1"), ("src2", "dst9")] {
            assert_eq!(
                error_of(&mut con, &["COPY", src, dst, "DB", "16"]),
                DB_RANGE
            );
            assert_eq!(
                error_of(&mut con, &["COPY", src, dst, "DB", "-1"]),
                DB_RANGE
            );
            assert_eq!(
                error_of(&mut con, &["COPY", src, dst, "DB", "x"]),
                NOT_INTEGER
            );
            assert_eq!(
                error_of(&mut con, &["COPY", src, dst, "DB", "4294967296"]),
                INT_RANGE,
                "{src} {dst}"
            );
            assert_eq!(error_of(&mut con, &["COPY", src, dst, "DB"]), SYNTAX);
            assert_eq!(error_of(&mut con, &["COPY", src, dst, "FOO"]), SYNTAX);
            assert_eq!(
                error_of(&mut con, &["COPY", src, dst, "REPLACE", "x"]),
                SYNTAX
            );
        }
        assert_eq!(error_of(&mut con, &["COPY", "a"]), arity("copy"));
    });
}

// ---- KEYS / SCAN / RANDOMKEY / DBSIZE / FLUSHDB / FLUSHALL / SWAPDB --------------------------------

#[test]
fn keys_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        assert_eq!(
            query::<Vec<String>>(&mut con, &["KEYS", "*"]),
            Vec::<String>::new()
        );
        let words = ["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo"];
        let numbers = numbered("k", 30);
        for key in words.iter().map(|w| w.to_string()).chain(numbers.clone()) {
            set(&mut con, &key, "v");
        }
        query::<String>(&mut con, &["SET", "dead", "v", "PXAT", "1"]);
        let keys = |con: &mut Connection, pattern: &str| -> HashSet<String> {
            let found: Vec<String> = query(con, &["KEYS", pattern]);
            let unique = as_set(&found);
            assert_eq!(unique.len(), found.len(), "KEYS {pattern} repeated a key");
            unique
        };
        let mut everything = as_set(words);
        everything.extend(numbers.iter().cloned());
        assert_eq!(keys(&mut con, "*"), everything);
        assert_eq!(
            keys(&mut con, "h?llo"),
            as_set(["hello", "hallo", "hxllo", "h*llo"])
        );
        assert_eq!(
            keys(&mut con, "h*llo"),
            as_set(["hello", "hallo", "hxllo", "hllo", "heeeello", "h*llo"])
        );
        assert_eq!(keys(&mut con, "h[ae]llo"), as_set(["hello", "hallo"]));
        assert_eq!(
            keys(&mut con, "h[^e]llo"),
            as_set(["hallo", "hxllo", "h*llo"])
        );
        assert_eq!(keys(&mut con, "h[a-b]llo"), as_set(["hallo"]));
        assert_eq!(keys(&mut con, "h\\*llo"), as_set(["h*llo"]));
        let mut teens = as_set(["k1"]);
        teens.extend((10..20).map(|n| format!("k{n}")));
        assert_eq!(keys(&mut con, "k1*"), teens);
        assert_eq!(keys(&mut con, "nomatch*"), HashSet::new());
        assert_eq!(keys(&mut con, "dead"), HashSet::new());
        // Only the selected database.
        select(&mut con, 1);
        assert_eq!(keys(&mut con, "*"), HashSet::new());
        assert_eq!(error_of(&mut con, &["KEYS"]), arity("keys"));
        assert_eq!(error_of(&mut con, &["KEYS", "a", "b"]), arity("keys"));
    });
}

/// Runs a whole SCAN iteration with extra `options`; returns every key returned, in order, and
/// checks that the iteration ends with cursor "0" within a sane number of calls.
fn scan_all(con: &mut Connection, options: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut found = Vec::new();
    for _ in 0..10_000 {
        let mut args = vec!["SCAN", cursor.as_str()];
        args.extend_from_slice(options);
        let (next, keys): (String, Vec<String>) = query(con, &args);
        found.extend(keys);
        if next == "0" {
            return found;
        }
        cursor = next;
    }
    panic!("SCAN {options:?} did not finish");
}

#[test]
fn scan_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        assert_eq!(
            query::<(String, Vec<String>)>(&mut con, &["SCAN", "0"]),
            ("0".to_string(), vec![])
        );
        let keys = numbered("key:", 200);
        let others = numbered("other:", 20);
        fill(&mut con, &keys);
        fill(&mut con, &others);
        let mut everything = as_set(&keys);
        everything.extend(others.iter().cloned());

        // A full iteration returns every key (Redis allows repeats, so compare as sets).
        for options in [
            &[][..],
            &["COUNT", "1"],
            &["COUNT", "7"],
            &["COUNT", "1000"],
        ] {
            assert_eq!(
                as_set(scan_all(&mut con, options)),
                everything,
                "{options:?}"
            );
        }
        assert_eq!(
            as_set(scan_all(&mut con, &["MATCH", "other:*"])),
            as_set(&others)
        );
        assert_eq!(
            as_set(scan_all(&mut con, &["MATCH", "other:1*", "COUNT", "3"])),
            as_set(
                ["other:1"]
                    .into_iter()
                    .map(String::from)
                    .chain(numbered("other:1", 10))
            )
        );
        assert_eq!(as_set(scan_all(&mut con, &["TYPE", "string"])), everything);
        assert_eq!(as_set(scan_all(&mut con, &["type", "STRING"])), everything);
        assert_eq!(scan_all(&mut con, &["TYPE", "hash"]), Vec::<String>::new());
        assert_eq!(
            as_set(scan_all(
                &mut con,
                &["MATCH", "key:19?", "TYPE", "string", "COUNT", "50"]
            )),
            as_set(numbered("key:19", 10))
        );
        // Keys present for the whole iteration are returned even while others come and go.
        let mut cursor = "0".to_string();
        let mut found = HashSet::new();
        let mut round = 0;
        loop {
            let (next, step): (String, Vec<String>) =
                query(&mut con, &["SCAN", &cursor, "COUNT", "5"]);
            found.extend(step);
            // Churn: delete the transient keys one by one and add new ones.
            if round < others.len() {
                query::<i64>(&mut con, &["DEL", &others[round]]);
            }
            set(&mut con, &format!("new:{round}"), "v");
            round += 1;
            if next == "0" {
                break;
            }
            cursor = next;
            assert!(round < 10_000, "SCAN did not finish under churn");
        }
        let missing: Vec<&String> = keys.iter().filter(|k| !found.contains(*k)).collect();
        assert!(missing.is_empty(), "SCAN under churn missed {missing:?}");

        // Only the selected database.
        select(&mut con, 1);
        assert_eq!(scan_all(&mut con, &[]), Vec::<String>::new());
        set(&mut con, "db1", "v");
        assert_eq!(scan_all(&mut con, &[]), vec!["db1".to_string()]);
        select(&mut con, 0);

        assert_eq!(error_of(&mut con, &["SCAN", "abc"]), "ERR invalid cursor");
        assert_eq!(error_of(&mut con, &["SCAN", "1.5"]), "ERR invalid cursor");
        assert_eq!(error_of(&mut con, &["SCAN", "0", "COUNT", "0"]), SYNTAX);
        assert_eq!(error_of(&mut con, &["SCAN", "0", "COUNT", "-1"]), SYNTAX);
        assert_eq!(
            error_of(&mut con, &["SCAN", "0", "COUNT", "x"]),
            NOT_INTEGER
        );
        assert_eq!(error_of(&mut con, &["SCAN", "0", "MATCH"]), SYNTAX);
        assert_eq!(error_of(&mut con, &["SCAN", "0", "FOO", "bar"]), SYNTAX);
        assert_eq!(error_of(&mut con, &["SCAN"]), arity("scan"));

        let mut raw = server.raw();
        select_raw(&mut raw, 5);
        raw.roundtrip(&resp(&["SCAN", "0"]), b"*2\r\n$1\r\n0\r\n*0\r\n");
    });
}

fn select_raw(raw: &mut common::RawClient, db: usize) {
    raw.roundtrip(&resp(&["SELECT", &db.to_string()]), b"+OK\r\n");
}

#[test]
fn randomkey_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        assert_eq!(query::<Option<String>>(&mut con, &["RANDOMKEY"]), None);
        // Only dead keys: still nothing.
        for key in numbered("dead", 5) {
            query::<String>(&mut con, &["SET", &key, "v", "PXAT", "1"]);
        }
        assert_eq!(query::<Option<String>>(&mut con, &["RANDOMKEY"]), None);
        set(&mut con, "only", "v");
        assert_eq!(
            query::<Option<String>>(&mut con, &["RANDOMKEY"]).as_deref(),
            Some("only")
        );

        let keys = numbered("r", 8);
        fill(&mut con, &keys);
        let mut expected = as_set(&keys);
        expected.insert("only".to_string());
        // Every answer is a live key, and every key comes up sooner or later.
        let mut seen = HashSet::new();
        for _ in 0..2_000 {
            let key: String = query(&mut con, &["RANDOMKEY"]);
            assert!(expected.contains(&key), "RANDOMKEY gave {key}");
            seen.insert(key);
            if seen.len() == expected.len() {
                break;
            }
        }
        assert_eq!(seen, expected);
        select(&mut con, 1);
        assert_eq!(query::<Option<String>>(&mut con, &["RANDOMKEY"]), None);
        assert_eq!(error_of(&mut con, &["RANDOMKEY", "x"]), arity("randomkey"));
    });
}

#[test]
fn dbsize_flushdb_flushall_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
        fill(&mut con, &numbered("k", 50));
        select(&mut con, 1);
        fill(&mut con, &numbered("k", 10));
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 10);
        select(&mut con, 0);
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 50);

        // FLUSHDB empties the selected database only.
        select(&mut con, 1);
        assert_eq!(query::<String>(&mut con, &["FLUSHDB"]), "OK");
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
        select(&mut con, 0);
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 50);
        assert_eq!(query::<String>(&mut con, &["FLUSHDB", "ASYNC"]), "OK");
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
        fill(&mut con, &numbered("k", 20));
        assert_eq!(query::<String>(&mut con, &["flushdb", "sync"]), "OK");
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);

        // FLUSHALL empties every database.
        for db in [0, 1, 7] {
            select(&mut con, db);
            fill(&mut con, &numbered("k", 30));
        }
        assert_eq!(query::<String>(&mut con, &["FLUSHALL"]), "OK");
        for db in [0, 1, 7] {
            select(&mut con, db);
            assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0, "db {db}");
            assert_eq!(
                query::<Vec<String>>(&mut con, &["KEYS", "*"]),
                Vec::<String>::new()
            );
        }
        fill(&mut con, &numbered("k", 5));
        assert_eq!(query::<String>(&mut con, &["FLUSHALL", "ASYNC"]), "OK");
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
        assert_eq!(query::<String>(&mut con, &["FLUSHALL", "SYNC"]), "OK");

        for name in ["FLUSHDB", "FLUSHALL"] {
            assert_eq!(error_of(&mut con, &[name, "FOO"]), SYNTAX);
            assert_eq!(error_of(&mut con, &[name, "ASYNC", "SYNC"]), SYNTAX);
        }
        assert_eq!(error_of(&mut con, &["DBSIZE", "x"]), arity("dbsize"));
    });
}

#[test]
fn swapdb_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let mut watcher = server.connection();
        select(&mut watcher, 1);
        let zeros = numbered("k", 20);
        fill(&mut con, &zeros);
        query::<String>(&mut con, &["SET", "volatile", "zero", "EX", "100"]);
        select(&mut con, 1);
        for key in numbered("k", 10) {
            set(&mut con, &key, "one");
        }
        set(&mut con, "only-in-one", "one");
        select(&mut con, 0);

        assert_eq!(query::<String>(&mut con, &["SWAPDB", "0", "1"]), "OK");
        // Connections stay on their database number and see the other contents.
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 11);
        assert_eq!(get(&mut con, "k0").as_deref(), Some("one"));
        assert_eq!(get(&mut con, "k15"), None);
        assert_eq!(get(&mut con, "only-in-one").as_deref(), Some("one"));
        assert_eq!(query::<i64>(&mut watcher, &["DBSIZE"]), 21);
        assert_eq!(get(&mut watcher, "k15").as_deref(), Some("v-k15"));
        assert!(
            pttl(&mut watcher, "volatile") > 99_000,
            "TTLs move with the data"
        );

        assert_eq!(query::<String>(&mut con, &["SWAPDB", "1", "0"]), "OK");
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 21);
        assert_eq!(query::<String>(&mut con, &["SWAPDB", "0", "0"]), "OK");
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 21);
        assert_eq!(query::<String>(&mut con, &["SWAPDB", "0", "15"]), "OK");
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 0);
        assert_eq!(query::<String>(&mut con, &["SWAPDB", "15", "0"]), "OK");

        assert_eq!(error_of(&mut con, &["SWAPDB", "0", "16"]), DB_RANGE);
        assert_eq!(error_of(&mut con, &["SWAPDB", "-1", "0"]), DB_RANGE);
        assert_eq!(
            error_of(&mut con, &["SWAPDB", "a", "0"]),
            "ERR invalid first DB index"
        );
        assert_eq!(
            error_of(&mut con, &["SWAPDB", "0", "b"]),
            "ERR invalid second DB index"
        );
        assert_eq!(
            error_of(&mut con, &["SWAPDB", "4294967296", "0"]),
            "ERR invalid first DB index"
        );
        assert_eq!(error_of(&mut con, &["SWAPDB", "0"]), arity("swapdb"));
        assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 21);
    });
}

// ---- Concurrency ---------------------------------------------------------------------------------

/// One client's share of a concurrency test, called with the round number.
type Work = Box<dyn Fn(&mut Connection, usize) + Send>;

#[test]
fn concurrent_multi_key_commands_neither_deadlock_nor_lose_writes() {
    for_each_topology(|server| {
        const ROUNDS: usize = 150;
        let keys = numbered("c", 12);
        // Two writers take overlapping key sets in opposite orders, a third renames and copies
        // among them, and a fourth increments counters that live next to them, all at once.
        let spawn = |work: Work| {
            let mut con = server.connection();
            std::thread::spawn(move || {
                for round in 0..ROUNDS {
                    work(&mut con, round);
                }
            })
        };
        let forward = keys.clone();
        let backward: Vec<String> = keys.iter().rev().cloned().collect();
        let workers = vec![
            spawn(Box::new(move |con, _| {
                fill(con, &forward);
                query::<i64>(con, &with_keys("EXISTS", &forward));
            })),
            spawn(Box::new(move |con, _| {
                fill(con, &backward);
                query::<i64>(con, &with_keys("DEL", &backward[..4]));
            })),
            spawn(Box::new(|con, round| {
                let (a, b) = (format!("c{}", round % 12), format!("moved{}", round % 5));
                // The source may be gone (renamed earlier, or deleted by the second writer).
                match common::command(&["RENAME", &a, &b]).query::<String>(con) {
                    Ok(reply) => assert_eq!(reply, "OK"),
                    Err(error) => assert_eq!(error.detail(), Some("no such key"), "{error}"),
                }
                query::<i64>(con, &["COPY", &b, "copied", "REPLACE"]);
            })),
            spawn(Box::new(|con, _| {
                for counter in 0..6 {
                    let counter = format!("counter{counter}");
                    query::<i64>(con, &["INCR", &counter]);
                }
            })),
        ];
        for worker in workers {
            worker.join().expect("worker");
        }
        let mut con = server.connection();
        let counters: Vec<i64> = query(
            &mut con,
            &[
                "MGET", "counter0", "counter1", "counter2", "counter3", "counter4", "counter5",
            ],
        );
        assert_eq!(counters, vec![ROUNDS as i64; 6]);
    });
}

/// In Redis every command is atomic, FLUSHALL included: a reader sees all of an MSET or none of it,
/// whatever FLUSHALLs run meanwhile.
#[test]
fn flushall_never_leaves_part_of_an_mset() {
    for_each_topology(|server| {
        let keys = numbered("f", 20);
        let writer = {
            let mut con = server.connection();
            let keys = keys.clone();
            std::thread::spawn(move || {
                for round in 0..200 {
                    let mut mset = redis::cmd("MSET");
                    for key in &keys {
                        mset.arg(key).arg(round);
                    }
                    assert_eq!(mset.query::<String>(&mut con).unwrap(), "OK");
                }
            })
        };
        let flusher = {
            let mut con = server.connection();
            std::thread::spawn(move || {
                for _ in 0..200 {
                    assert_eq!(query::<String>(&mut con, &["FLUSHALL"]), "OK");
                }
            })
        };
        let mut con = server.connection();
        while !writer.is_finished() {
            let values: Vec<Option<i64>> = query(&mut con, &with_keys("MGET", &keys));
            assert!(
                values.iter().all(|value| *value == values[0]),
                "FLUSHALL removed part of an MSET: {values:?}"
            );
        }
        writer.join().unwrap();
        flusher.join().unwrap();
    });
}
