//! String commands over real sockets with the `redis` crate: replies and Redis 7's exact error
//! texts for every command of `t_string`. Single-key commands run on a two-shard server (so some
//! keys live on the connection's core and some travel); MGET, MSET and MSETNX run against one, two
//! and four shards with keys spread over all of them.

mod common;

use common::{
    arity, assert_expires_soon, error_of, for_each_topology, get, now_ms, numbered, pttl, query,
    resp, TestServer,
};
use redis::Connection;

const SYNTAX: &str = "ERR syntax error";
const NOT_INTEGER: &str = "ERR value is not an integer or out of range";
const NOT_FLOAT: &str = "ERR value is not a valid float";

// ---- GET / SET -----------------------------------------------------------------------------------

#[test]
fn get_and_plain_set() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    assert_eq!(get(&mut con, "missing"), None);
    for key in numbered("key", 20) {
        let value = format!("value of {key}");
        assert_eq!(query::<String>(&mut con, &["SET", &key, &value]), "OK");
        assert_eq!(get(&mut con, &key), Some(value));
    }
    // Overwrite; binary-safe values, the empty string and the empty key.
    assert_eq!(query::<String>(&mut con, &["SET", "key0", "new"]), "OK");
    assert_eq!(get(&mut con, "key0").as_deref(), Some("new"));
    assert_eq!(query::<String>(&mut con, &["SET", "empty", ""]), "OK");
    assert_eq!(get(&mut con, "empty").as_deref(), Some(""));
    assert_eq!(query::<String>(&mut con, &["SET", "", "empty key"]), "OK");
    assert_eq!(get(&mut con, "").as_deref(), Some("empty key"));
    let binary: Vec<u8> = (0..=255).collect();
    let stored: String = redis::cmd("SET")
        .arg("bin")
        .arg(&binary)
        .query(&mut con)
        .unwrap();
    assert_eq!(stored, "OK");
    assert_eq!(query::<Vec<u8>>(&mut con, &["GET", "bin"]), binary);

    assert_eq!(error_of(&mut con, &["GET"]), arity("get"));
    assert_eq!(error_of(&mut con, &["GET", "a", "b"]), arity("get"));
    assert_eq!(error_of(&mut con, &["SET", "k"]), arity("set"));
}

#[test]
fn set_nx_xx_get() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    // NX: only when absent (nil otherwise); XX: only when present.
    assert_eq!(
        query::<Option<String>>(&mut con, &["SET", "k", "1", "NX"]).as_deref(),
        Some("OK")
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["SET", "k", "2", "NX"]),
        None
    );
    assert_eq!(get(&mut con, "k").as_deref(), Some("1"));
    assert_eq!(
        query::<Option<String>>(&mut con, &["SET", "k", "3", "xx"]).as_deref(),
        Some("OK")
    );
    assert_eq!(get(&mut con, "k").as_deref(), Some("3"));
    assert_eq!(
        query::<Option<String>>(&mut con, &["SET", "absent", "1", "XX"]),
        None
    );
    assert_eq!(get(&mut con, "absent"), None);

    // GET returns the old value (nil when there was none) and still sets.
    assert_eq!(
        query::<Option<String>>(&mut con, &["SET", "g", "a", "GET"]),
        None
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["SET", "g", "b", "get"]).as_deref(),
        Some("a")
    );
    assert_eq!(get(&mut con, "g").as_deref(), Some("b"));
    // With NX/XX (allowed since 7.0) GET reports the old value whether or not the write happened.
    assert_eq!(
        query::<Option<String>>(&mut con, &["SET", "g", "c", "NX", "GET"]).as_deref(),
        Some("b")
    );
    assert_eq!(get(&mut con, "g").as_deref(), Some("b"));
    assert_eq!(
        query::<Option<String>>(&mut con, &["SET", "g", "d", "XX", "GET"]).as_deref(),
        Some("b")
    );
    assert_eq!(get(&mut con, "g").as_deref(), Some("d"));
    assert_eq!(
        query::<Option<String>>(&mut con, &["SET", "h", "x", "XX", "GET"]),
        None
    );
    assert_eq!(get(&mut con, "h"), None);

    // Byte-exact: the refused write is a null bulk.
    let mut raw = server.raw();
    raw.roundtrip(&resp(&["SET", "k", "v", "NX"]), b"$-1\r\n");
    raw.roundtrip(&resp(&["SET", "k", "v", "XX"]), b"+OK\r\n");
    raw.roundtrip(&resp(&["SET", "k", "w", "GET"]), b"$1\r\nv\r\n");
}

#[test]
fn set_expiry_options() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    assert_eq!(
        query::<String>(&mut con, &["SET", "ex", "v", "EX", "100"]),
        "OK"
    );
    let ttl = pttl(&mut con, "ex");
    assert!(ttl > 99_000 && ttl <= 100_000, "{ttl}");
    assert_eq!(query::<i64>(&mut con, &["TTL", "ex"]), 100);
    assert_eq!(
        query::<String>(&mut con, &["SET", "px", "v", "px", "100000"]),
        "OK"
    );
    let ttl = pttl(&mut con, "px");
    assert!(ttl > 99_000 && ttl <= 100_000, "{ttl}");

    let at_seconds = now_ms() / 1000 + 1000;
    assert_eq!(
        query::<String>(
            &mut con,
            &["SET", "exat", "v", "EXAT", &at_seconds.to_string()]
        ),
        "OK"
    );
    assert_eq!(query::<i64>(&mut con, &["EXPIRETIME", "exat"]), at_seconds);
    let at_ms = now_ms() + 1_000_000;
    assert_eq!(
        query::<String>(&mut con, &["SET", "pxat", "v", "PXAT", &at_ms.to_string()]),
        "OK"
    );
    assert_eq!(query::<i64>(&mut con, &["PEXPIRETIME", "pxat"]), at_ms);

    // A deadline already past: the reply is OK and the key is gone.
    assert_eq!(
        query::<String>(&mut con, &["SET", "past", "v", "PXAT", "1"]),
        "OK"
    );
    assert_eq!(get(&mut con, "past"), None);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "past"]), 0);

    // A plain SET clears the TTL; KEEPTTL keeps it.
    assert_eq!(
        query::<String>(&mut con, &["SET", "ex", "w", "KEEPTTL"]),
        "OK"
    );
    assert!(pttl(&mut con, "ex") > 99_000);
    assert_eq!(get(&mut con, "ex").as_deref(), Some("w"));
    assert_eq!(query::<String>(&mut con, &["SET", "ex", "x"]), "OK");
    assert_eq!(pttl(&mut con, "ex"), -1);
    assert_eq!(
        query::<String>(&mut con, &["SET", "fresh", "v", "KEEPTTL"]),
        "OK"
    );
    assert_eq!(pttl(&mut con, "fresh"), -1);

    // A short PX really expires.
    assert_eq!(
        query::<String>(&mut con, &["SET", "short", "v", "PX", "50"]),
        "OK"
    );
    assert_expires_soon(&mut con, "short");
}

#[test]
fn set_option_errors() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let invalid = "ERR invalid expire time in 'set' command";
    for options in [
        &["NX", "XX"][..],
        &["XX", "NX"],
        &["EX", "10", "PX", "100"],
        &["PX", "100", "EXAT", "10"],
        &["EX", "10", "KEEPTTL"],
        &["KEEPTTL", "PX", "10"],
        &["EX"],
        &["PX"],
        &["FOO"],
        &["EX", "10", "FOO"],
        &["PERSIST"],
    ] {
        let mut args = vec!["SET", "k", "v"];
        args.extend_from_slice(options);
        assert_eq!(error_of(&mut con, &args), SYNTAX, "{args:?}");
    }
    for (option, amount) in [
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "0"),
        ("PX", "-5"),
        ("EXAT", "0"),
        ("PXAT", "-1"),
        ("EX", "9223372036854775807"),
        ("PX", "9223372036854775807"),
    ] {
        assert_eq!(
            error_of(&mut con, &["SET", "k", "v", option, amount]),
            invalid,
            "{option} {amount}"
        );
    }
    for amount in ["abc", "1.5", "", "10 "] {
        assert_eq!(
            error_of(&mut con, &["SET", "k", "v", "EX", amount]),
            NOT_INTEGER
        );
    }
    // None of the refused SETs wrote anything.
    assert_eq!(get(&mut con, "k"), None);
    let mut raw = server.raw();
    raw.roundtrip(
        &resp(&["SET", "k", "v", "NX", "XX"]),
        b"-ERR syntax error\r\n",
    );
    raw.roundtrip(
        &resp(&["SET", "k", "v", "EX", "0"]),
        b"-ERR invalid expire time in 'set' command\r\n",
    );
}

// ---- SETNX / SETEX / PSETEX / GETSET / GETDEL / GETEX ---------------------------------------------

#[test]
fn setnx_setex_psetex() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    assert_eq!(query::<i64>(&mut con, &["SETNX", "k", "1"]), 1);
    assert_eq!(query::<i64>(&mut con, &["SETNX", "k", "2"]), 0);
    assert_eq!(get(&mut con, "k").as_deref(), Some("1"));
    assert_eq!(error_of(&mut con, &["SETNX", "k"]), arity("setnx"));

    assert_eq!(
        query::<String>(&mut con, &["SETEX", "se", "100", "v"]),
        "OK"
    );
    assert_eq!(get(&mut con, "se").as_deref(), Some("v"));
    assert_eq!(query::<i64>(&mut con, &["TTL", "se"]), 100);
    assert_eq!(
        query::<String>(&mut con, &["PSETEX", "pse", "100000", "v"]),
        "OK"
    );
    let ttl = pttl(&mut con, "pse");
    assert!(ttl > 99_000 && ttl <= 100_000, "{ttl}");
    // SETEX replaces an existing value and its TTL.
    assert_eq!(
        query::<String>(&mut con, &["SETEX", "k", "50", "new"]),
        "OK"
    );
    assert_eq!(get(&mut con, "k").as_deref(), Some("new"));
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), 50);

    for amount in ["0", "-10"] {
        assert_eq!(
            error_of(&mut con, &["SETEX", "x", amount, "v"]),
            "ERR invalid expire time in 'setex' command"
        );
        assert_eq!(
            error_of(&mut con, &["PSETEX", "x", amount, "v"]),
            "ERR invalid expire time in 'psetex' command"
        );
    }
    assert_eq!(error_of(&mut con, &["SETEX", "x", "ten", "v"]), NOT_INTEGER);
    assert_eq!(
        error_of(&mut con, &["PSETEX", "x", "1.5", "v"]),
        NOT_INTEGER
    );
    assert_eq!(get(&mut con, "x"), None);
    assert_eq!(error_of(&mut con, &["SETEX", "x", "10"]), arity("setex"));
    assert_eq!(
        error_of(&mut con, &["PSETEX", "x", "10", "v", "w"]),
        arity("psetex")
    );

    assert_eq!(
        query::<String>(&mut con, &["PSETEX", "short", "50", "v"]),
        "OK"
    );
    assert_expires_soon(&mut con, "short");
}

#[test]
fn getset_and_getdel() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETSET", "k", "1"]),
        None
    );
    assert_eq!(get(&mut con, "k").as_deref(), Some("1"));
    // GETSET drops the TTL.
    query::<String>(&mut con, &["SET", "k", "2", "EX", "100"]);
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETSET", "k", "3"]).as_deref(),
        Some("2")
    );
    assert_eq!(pttl(&mut con, "k"), -1);
    assert_eq!(get(&mut con, "k").as_deref(), Some("3"));
    assert_eq!(error_of(&mut con, &["GETSET", "k"]), arity("getset"));

    assert_eq!(
        query::<Option<String>>(&mut con, &["GETDEL", "k"]).as_deref(),
        Some("3")
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "k"]), 0);
    assert_eq!(query::<Option<String>>(&mut con, &["GETDEL", "k"]), None);
    assert_eq!(error_of(&mut con, &["GETDEL", "k", "x"]), arity("getdel"));
}

#[test]
fn getex() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETEX", "missing"]),
        None
    );
    // A missing key answers nil before the expiry is validated, as in Redis.
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETEX", "missing", "EX", "0"]),
        None
    );

    query::<String>(&mut con, &["SET", "k", "v"]);
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETEX", "k"]).as_deref(),
        Some("v")
    );
    assert_eq!(pttl(&mut con, "k"), -1);
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETEX", "k", "EX", "100"]).as_deref(),
        Some("v")
    );
    assert_eq!(query::<i64>(&mut con, &["TTL", "k"]), 100);
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETEX", "k", "px", "200000"]).as_deref(),
        Some("v")
    );
    assert!(pttl(&mut con, "k") > 199_000);
    let at = now_ms() / 1000 + 500;
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETEX", "k", "EXAT", &at.to_string()]).as_deref(),
        Some("v")
    );
    assert_eq!(query::<i64>(&mut con, &["EXPIRETIME", "k"]), at);
    let at_ms = now_ms() + 600_000;
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETEX", "k", "PXAT", &at_ms.to_string()]).as_deref(),
        Some("v")
    );
    assert_eq!(query::<i64>(&mut con, &["PEXPIRETIME", "k"]), at_ms);
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETEX", "k", "PERSIST"]).as_deref(),
        Some("v")
    );
    assert_eq!(pttl(&mut con, "k"), -1);

    // A deadline in the past returns the value, then the key is gone.
    assert_eq!(
        query::<Option<String>>(&mut con, &["GETEX", "k", "PXAT", "1"]).as_deref(),
        Some("v")
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "k"]), 0);

    query::<String>(&mut con, &["SET", "k", "v"]);
    for options in [
        &["EX", "10", "PX", "100"][..],
        &["PERSIST", "EX", "10"],
        &["EX", "10", "PERSIST"],
        &["EX"],
        &["NX"],
        &["KEEPTTL"],
        &["GET"],
        &["FOO"],
    ] {
        let mut args = vec!["GETEX", "k"];
        args.extend_from_slice(options);
        assert_eq!(error_of(&mut con, &args), SYNTAX, "{args:?}");
    }
    assert_eq!(
        error_of(&mut con, &["GETEX", "k", "EX", "0"]),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(
        error_of(&mut con, &["GETEX", "k", "PX", "-1"]),
        "ERR invalid expire time in 'getex' command"
    );
    assert_eq!(error_of(&mut con, &["GETEX", "k", "EX", "x"]), NOT_INTEGER);
    assert_eq!(pttl(&mut con, "k"), -1);
    assert_eq!(error_of(&mut con, &["GETEX"]), arity("getex"));

    assert_eq!(
        query::<Option<String>>(&mut con, &["GETEX", "k", "PX", "50"]).as_deref(),
        Some("v")
    );
    assert_expires_soon(&mut con, "k");
}

// ---- MGET / MSET / MSETNX across shards ---------------------------------------------------------

/// `[name, k0, v0, k1, v1, ...]`
fn pairs_command<'a>(name: &'a str, pairs: &'a [(String, String)]) -> Vec<&'a str> {
    let mut args = vec![name];
    for (key, value) in pairs {
        args.push(key);
        args.push(value);
    }
    args
}

#[test]
fn mget_and_mset_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let pairs: Vec<(String, String)> = numbered("k", 50)
            .into_iter()
            .map(|key| (key.clone(), format!("v-{key}")))
            .collect();
        assert_eq!(
            query::<String>(&mut con, &pairs_command("MSET", &pairs)),
            "OK"
        );

        // MGET keeps the request order, with nil for missing keys, and repeats repeated keys.
        let mut args = vec!["MGET"];
        let mut expected = Vec::new();
        for (index, (key, value)) in pairs.iter().enumerate() {
            args.push(key);
            expected.push(Some(value.clone()));
            if index % 7 == 0 {
                args.push("missing");
                expected.push(None);
            }
        }
        args.push("k3");
        expected.push(Some("v-k3".to_string()));
        assert_eq!(query::<Vec<Option<String>>>(&mut con, &args), expected);
        assert_eq!(
            query::<Vec<Option<String>>>(&mut con, &["MGET", "nope"]),
            vec![None]
        );

        // MSET overwrites and clears TTLs; a key given twice takes the last value.
        query::<String>(&mut con, &["SET", "k0", "old", "EX", "100"]);
        assert_eq!(
            query::<String>(
                &mut con,
                &["MSET", "k0", "a", "k1", "b", "k2", "x", "k2", "c"]
            ),
            "OK"
        );
        assert_eq!(
            query::<Vec<Option<String>>>(&mut con, &["MGET", "k0", "k1", "k2"]),
            vec![Some("a".into()), Some("b".into()), Some("c".into())]
        );
        assert_eq!(pttl(&mut con, "k0"), -1);

        // An odd number of arguments is an arity error and writes nothing.
        let mut odd: Vec<&str> = vec!["MSET"];
        let fresh = numbered("fresh", 20);
        for key in &fresh {
            odd.push(key);
            odd.push("1");
        }
        odd.push("dangling");
        assert_eq!(error_of(&mut con, &odd), arity("mset"));
        let mut exists = vec!["EXISTS"];
        exists.extend(fresh.iter().map(String::as_str));
        exists.push("dangling");
        assert_eq!(query::<i64>(&mut con, &exists), 0);
        assert_eq!(error_of(&mut con, &["MSET", "a"]), arity("mset"));
        assert_eq!(error_of(&mut con, &["MGET"]), arity("mget"));

        // Byte-exact MGET.
        let mut raw = server.raw();
        raw.roundtrip(
            &resp(&["MGET", "k1", "missing", "k9"]),
            b"*3\r\n$1\r\nb\r\n$-1\r\n$4\r\nv-k9\r\n",
        );
    });
}

#[test]
fn msetnx_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let pairs: Vec<(String, String)> = numbered("n", 40)
            .into_iter()
            .map(|key| (key.clone(), format!("v-{key}")))
            .collect();
        assert_eq!(query::<i64>(&mut con, &pairs_command("MSETNX", &pairs)), 1);
        let mut mget = vec!["MGET"];
        mget.extend(pairs.iter().map(|(key, _)| key.as_str()));
        let values: Vec<Option<String>> = query(&mut con, &mget);
        assert_eq!(
            values,
            pairs
                .iter()
                .map(|(_, v)| Some(v.clone()))
                .collect::<Vec<_>>()
        );

        // One existing key among many new ones: nothing is written.
        let mut blocked: Vec<(String, String)> = numbered("m", 40)
            .into_iter()
            .map(|key| (key, "new".to_string()))
            .collect();
        blocked.push(("n17".to_string(), "overwritten?".to_string()));
        assert_eq!(
            query::<i64>(&mut con, &pairs_command("MSETNX", &blocked)),
            0
        );
        let mut exists = vec!["EXISTS"];
        exists.extend(blocked[..40].iter().map(|(key, _)| key.as_str()));
        assert_eq!(query::<i64>(&mut con, &exists), 0);
        assert_eq!(get(&mut con, "n17").as_deref(), Some("v-n17"));

        // An expired key does not block.
        query::<String>(&mut con, &["SET", "dead", "old", "PXAT", "1"]);
        assert_eq!(
            query::<i64>(
                &mut con,
                &["MSETNX", "dead", "new", "alive0", "a", "alive1", "b"]
            ),
            1
        );
        assert_eq!(get(&mut con, "dead").as_deref(), Some("new"));
        assert_eq!(pttl(&mut con, "dead"), -1);

        // Odd argument count: arity error, nothing written.
        let mut odd = pairs_command("MSETNX", &blocked[..40]);
        odd.push("dangling");
        assert_eq!(error_of(&mut con, &odd), arity("msetnx"));
        assert_eq!(query::<i64>(&mut con, &exists), 0);
        assert_eq!(error_of(&mut con, &["MSETNX", "a"]), arity("msetnx"));
    });
}

// ---- APPEND / STRLEN / GETRANGE / SETRANGE ------------------------------------------------------

#[test]
fn append_and_strlen() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "k"]), 0);
    assert_eq!(query::<i64>(&mut con, &["APPEND", "k", "Hello"]), 5);
    assert_eq!(query::<i64>(&mut con, &["APPEND", "k", " World"]), 11);
    assert_eq!(query::<i64>(&mut con, &["APPEND", "k", ""]), 11);
    assert_eq!(get(&mut con, "k").as_deref(), Some("Hello World"));
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "k"]), 11);
    // APPEND keeps the TTL.
    query::<String>(&mut con, &["SET", "t", "a", "EX", "100"]);
    assert_eq!(query::<i64>(&mut con, &["APPEND", "t", "bc"]), 3);
    assert!(pttl(&mut con, "t") > 99_000);
    // A key created empty by APPEND exists.
    assert_eq!(query::<i64>(&mut con, &["APPEND", "e", ""]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "e"]), 1);
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "e"]), 0);
    // Many appends on one key, the way counters/logs use it.
    for _ in 0..200 {
        query::<i64>(&mut con, &["APPEND", "log", "0123456789"]);
    }
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "log"]), 2000);
    assert_eq!(error_of(&mut con, &["APPEND", "k"]), arity("append"));
    assert_eq!(error_of(&mut con, &["STRLEN"]), arity("strlen"));
}

#[test]
fn getrange() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let range = |con: &mut Connection, start: &str, end: &str| -> String {
        query(con, &["GETRANGE", "k", start, end])
    };
    assert_eq!(range(&mut con, "0", "-1"), "");
    query::<String>(&mut con, &["SET", "k", "This is a string"]);
    for (start, end, expected) in [
        ("0", "3", "This"),
        ("-3", "-1", "ing"),
        ("0", "-1", "This is a string"),
        ("10", "100", "string"),
        ("-100", "3", "This"),
        ("-100", "-50", "T"),
        ("5", "3", ""),
        ("-1", "-5", ""),
        ("16", "20", ""),
        (
            "-9223372036854775808",
            "9223372036854775807",
            "This is a string",
        ),
    ] {
        assert_eq!(range(&mut con, start, end), expected, "{start} {end}");
    }
    assert_eq!(
        query::<String>(&mut con, &["SUBSTR", "k", "0", "3"]),
        "This"
    );
    assert_eq!(
        error_of(&mut con, &["GETRANGE", "k", "a", "1"]),
        NOT_INTEGER
    );
    assert_eq!(
        error_of(&mut con, &["GETRANGE", "k", "0", "1.0"]),
        NOT_INTEGER
    );
    assert_eq!(
        error_of(&mut con, &["GETRANGE", "k", "0"]),
        arity("getrange")
    );
    let mut raw = server.raw();
    raw.roundtrip(&resp(&["GETRANGE", "missing", "0", "10"]), b"$0\r\n\r\n");
}

#[test]
fn setrange() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    query::<String>(&mut con, &["SET", "k", "Hello World", "EX", "100"]);
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "k", "6", "Redis"]), 11);
    assert_eq!(get(&mut con, "k").as_deref(), Some("Hello Redis"));
    assert_eq!(
        query::<i64>(&mut con, &["SETRANGE", "k", "9", "Redis!"]),
        15
    );
    assert_eq!(get(&mut con, "k").as_deref(), Some("Hello RedRedis!"));
    assert!(pttl(&mut con, "k") > 99_000, "SETRANGE keeps the TTL");
    // Past the end of a string or of nothing: zero padding.
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "pad", "3", "ab"]), 5);
    assert_eq!(query::<Vec<u8>>(&mut con, &["GET", "pad"]), b"\0\0\0ab");
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "pad", "7", "z"]), 8);
    assert_eq!(
        query::<Vec<u8>>(&mut con, &["GET", "pad"]),
        b"\0\0\0ab\0\0z"
    );
    // An empty value changes nothing and creates no key.
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "k", "100", ""]), 15);
    assert_eq!(query::<i64>(&mut con, &["SETRANGE", "none", "5", ""]), 0);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "none"]), 0);

    assert_eq!(
        error_of(&mut con, &["SETRANGE", "k", "-1", "x"]),
        "ERR offset is out of range"
    );
    assert_eq!(
        error_of(&mut con, &["SETRANGE", "k", "one", "x"]),
        NOT_INTEGER
    );
    let too_long = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    assert_eq!(
        error_of(&mut con, &["SETRANGE", "big", "536870912", "x"]),
        too_long
    );
    assert_eq!(
        error_of(&mut con, &["SETRANGE", "k", "536870911", "xy"]),
        too_long
    );
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "big"]), 0);
    assert_eq!(get(&mut con, "k").as_deref(), Some("Hello RedRedis!"));
    assert_eq!(
        error_of(&mut con, &["SETRANGE", "k", "1"]),
        arity("setrange")
    );
}

#[test]
fn string_limit_follows_proto_max_bulk_len() {
    let server = TestServer::start_with(2, &[("proto-max-bulk-len", "1mb")]);
    let mut con = server.connection();
    let too_long = "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
    let mb = 1024 * 1024;
    assert_eq!(
        error_of(&mut con, &["SETRANGE", "k", &mb.to_string(), "x"]),
        too_long
    );
    assert_eq!(
        query::<i64>(&mut con, &["SETRANGE", "k", &(mb - 1).to_string(), "x"]),
        mb
    );
    assert_eq!(error_of(&mut con, &["APPEND", "k", "x"]), too_long);
    assert_eq!(query::<i64>(&mut con, &["STRLEN", "k"]), mb);
}

// ---- Counters ------------------------------------------------------------------------------------

#[test]
fn incr_decr_family() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    assert_eq!(query::<i64>(&mut con, &["INCR", "n"]), 1);
    assert_eq!(query::<i64>(&mut con, &["INCR", "n"]), 2);
    assert_eq!(get(&mut con, "n").as_deref(), Some("2"));
    assert_eq!(query::<i64>(&mut con, &["DECR", "n"]), 1);
    assert_eq!(query::<i64>(&mut con, &["DECR", "fresh"]), -1);
    assert_eq!(query::<i64>(&mut con, &["INCRBY", "n", "10"]), 11);
    assert_eq!(query::<i64>(&mut con, &["INCRBY", "n", "-20"]), -9);
    assert_eq!(query::<i64>(&mut con, &["DECRBY", "n", "-9"]), 0);
    assert_eq!(query::<i64>(&mut con, &["DECRBY", "n", "5"]), -5);
    assert_eq!(query::<i64>(&mut con, &["INCRBY", "other", "7"]), 7);
    assert_eq!(query::<i64>(&mut con, &["DECRBY", "another", "7"]), -7);
    // The TTL survives.
    query::<String>(&mut con, &["SET", "t", "5", "EX", "100"]);
    assert_eq!(query::<i64>(&mut con, &["INCR", "t"]), 6);
    assert!(pttl(&mut con, "t") > 99_000);
    // Values as Redis's string2ll reads them.
    query::<String>(&mut con, &["SET", "min", "-9223372036854775808"]);
    assert_eq!(query::<i64>(&mut con, &["INCR", "min"]), i64::MIN + 1);

    for stored in [
        "abc",
        "1.5",
        " 1",
        "1 ",
        "01",
        "+1",
        "",
        "9223372036854775808",
    ] {
        query::<String>(&mut con, &["SET", "bad", stored]);
        for args in [
            &["INCR", "bad"][..],
            &["DECR", "bad"],
            &["INCRBY", "bad", "1"],
            &["DECRBY", "bad", "1"],
        ] {
            assert_eq!(
                error_of(&mut con, args),
                NOT_INTEGER,
                "{args:?} on {stored:?}"
            );
        }
        assert_eq!(get(&mut con, "bad").as_deref(), Some(stored));
    }
    for increment in ["x", "1.0", "", "99999999999999999999"] {
        assert_eq!(error_of(&mut con, &["INCRBY", "n", increment]), NOT_INTEGER);
        assert_eq!(error_of(&mut con, &["DECRBY", "n", increment]), NOT_INTEGER);
    }

    let overflow = "ERR increment or decrement would overflow";
    query::<String>(&mut con, &["SET", "max", "9223372036854775807"]);
    assert_eq!(error_of(&mut con, &["INCR", "max"]), overflow);
    assert_eq!(error_of(&mut con, &["INCRBY", "max", "1"]), overflow);
    assert_eq!(error_of(&mut con, &["DECRBY", "max", "-1"]), overflow);
    assert_eq!(get(&mut con, "max").as_deref(), Some("9223372036854775807"));
    query::<String>(&mut con, &["SET", "min", "-9223372036854775808"]);
    assert_eq!(error_of(&mut con, &["DECR", "min"]), overflow);
    assert_eq!(error_of(&mut con, &["INCRBY", "min", "-1"]), overflow);
    // DECRBY cannot negate i64::MIN, whatever the stored value.
    assert_eq!(
        error_of(&mut con, &["DECRBY", "n", "-9223372036854775808"]),
        "ERR decrement would overflow"
    );
    assert_eq!(error_of(&mut con, &["INCR"]), arity("incr"));
    assert_eq!(error_of(&mut con, &["DECR", "a", "b"]), arity("decr"));
    assert_eq!(error_of(&mut con, &["INCRBY", "a"]), arity("incrby"));
    assert_eq!(error_of(&mut con, &["DECRBY", "a"]), arity("decrby"));

    let mut raw = server.raw();
    raw.roundtrip(&resp(&["INCR", "raw"]), b":1\r\n");
    raw.roundtrip(&resp(&["DECRBY", "raw", "3"]), b":-2\r\n");
    raw.roundtrip(
        &resp(&["INCR", "bad"]),
        b"-ERR value is not an integer or out of range\r\n",
    );
}

#[test]
fn incrbyfloat() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let add = |con: &mut Connection, key: &str, increment: &str| -> String {
        query(con, &["INCRBYFLOAT", key, increment])
    };
    assert_eq!(add(&mut con, "f", "1"), "1");
    assert_eq!(add(&mut con, "f", "0.25"), "1.25");
    query::<String>(&mut con, &["SET", "f", "10.50"]);
    assert_eq!(add(&mut con, "f", "0.1"), "10.6");
    assert_eq!(get(&mut con, "f").as_deref(), Some("10.6"));
    query::<String>(&mut con, &["SET", "f", "5.0e3"]);
    assert_eq!(add(&mut con, "f", "2.0e2"), "5200");
    query::<String>(&mut con, &["SET", "f", "5.0e3"]);
    assert_eq!(add(&mut con, "f", "-1.1"), "4998.9");
    query::<String>(&mut con, &["SET", "f", "3"]);
    assert_eq!(add(&mut con, "f", "-3"), "0");
    assert_eq!(add(&mut con, "neg", "-2.5"), "-2.5");
    // An integer value takes a float increment; the TTL survives.
    query::<String>(&mut con, &["SET", "t", "1", "EX", "100"]);
    assert_eq!(add(&mut con, "t", "1.5"), "2.5");
    assert!(pttl(&mut con, "t") > 99_000);

    query::<String>(&mut con, &["SET", "s", "abc"]);
    assert_eq!(error_of(&mut con, &["INCRBYFLOAT", "s", "1"]), NOT_FLOAT);
    for increment in ["x", "", " 1", "1 ", "nan", "1.5.5"] {
        assert_eq!(
            error_of(&mut con, &["INCRBYFLOAT", "f", increment]),
            NOT_FLOAT,
            "{increment:?}"
        );
    }
    let non_finite = "ERR increment would produce NaN or Infinity";
    assert_eq!(
        error_of(&mut con, &["INCRBYFLOAT", "f", "+inf"]),
        non_finite
    );
    query::<String>(&mut con, &["SET", "inf", "-inf"]);
    assert_eq!(error_of(&mut con, &["INCRBYFLOAT", "inf", "1"]), non_finite);
    assert_eq!(get(&mut con, "inf").as_deref(), Some("-inf"));
    assert_eq!(
        error_of(&mut con, &["INCRBYFLOAT", "f"]),
        arity("incrbyfloat")
    );

    // The reply is a bulk string, not a double.
    let mut raw = server.raw();
    raw.roundtrip(&resp(&["INCRBYFLOAT", "rawf", "1.5"]), b"$3\r\n1.5\r\n");
}

#[test]
fn commands_are_case_insensitive() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    assert_eq!(
        query::<String>(&mut con, &["set", "k", "1", "px", "100000", "nx"]),
        "OK"
    );
    assert_eq!(query::<i64>(&mut con, &["iNcR", "k"]), 2);
    assert_eq!(
        query::<Option<String>>(&mut con, &["Get", "k"]).as_deref(),
        Some("2")
    );
    assert_eq!(
        query::<Option<String>>(&mut con, &["getex", "k", "persist"]).as_deref(),
        Some("2")
    );
    assert_eq!(pttl(&mut con, "k"), -1);
}

// ---- Pipelines and concurrency across shards ----------------------------------------------------

#[test]
fn pipelined_commands_reply_in_order() {
    use redis::Value;
    for_each_topology(|server| {
        let mut con = server.connection();
        let keys = numbered("p", 30);
        let bulk = |text: &str| Value::BulkString(text.as_bytes().to_vec());
        let mut pipe = redis::pipe();
        let mut expected = Vec::new();
        for key in &keys {
            pipe.cmd("SET").arg(key).arg(key);
            expected.push(Value::Okay);
            pipe.cmd("APPEND").arg(key).arg("!");
            expected.push(Value::Int(key.len() as i64 + 1));
        }
        // Multi-key commands in the middle of the batch see every write before them and none after.
        pipe.cmd("MGET").arg(&keys);
        expected.push(Value::Array(
            keys.iter().map(|key| bulk(&format!("{key}!"))).collect(),
        ));
        let mut mset = redis::cmd("MSET");
        for key in &keys {
            mset.arg(key).arg("7");
        }
        pipe.add_command(mset);
        expected.push(Value::Okay);
        for key in &keys {
            pipe.cmd("INCR").arg(key);
            expected.push(Value::Int(8));
        }
        pipe.cmd("DEL").arg(&keys[..10]);
        expected.push(Value::Int(10));
        pipe.cmd("EXISTS").arg(&keys);
        expected.push(Value::Int(20));
        pipe.cmd("MGET").arg(&keys[8..12]);
        expected.push(Value::Array(vec![
            Value::Nil,
            Value::Nil,
            bulk("8"),
            bulk("8"),
        ]));
        pipe.cmd("GET").arg(&keys[29]);
        expected.push(bulk("8"));
        let replies: Vec<Value> = pipe.query(&mut con).unwrap();
        assert_eq!(replies, expected);

        // A large MSET/MGET: many keys per shard in one message.
        let many = numbered("many", 2000);
        let mut mset = redis::cmd("MSET");
        for key in &many {
            mset.arg(key).arg(key);
        }
        assert_eq!(mset.query::<String>(&mut con).unwrap(), "OK");
        let values: Vec<String> = redis::cmd("MGET").arg(&many).query(&mut con).unwrap();
        assert_eq!(values, many);
    });
}

#[test]
fn concurrent_mget_sees_all_or_nothing_of_each_mset() {
    for_each_topology(|server| {
        let keys = numbered("atomic", 20);
        let writer = {
            let mut con = server.connection();
            let keys = keys.clone();
            std::thread::spawn(move || {
                for round in 0..300 {
                    let mut mset = redis::cmd("MSET");
                    for key in &keys {
                        mset.arg(key).arg(round);
                    }
                    assert_eq!(mset.query::<String>(&mut con).unwrap(), "OK");
                }
            })
        };
        let mut con = server.connection();
        let mut last = None;
        while !writer.is_finished() {
            let values: Vec<Option<i64>> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
            assert!(
                values.iter().all(|value| *value == values[0]),
                "MGET saw part of an MSET: {values:?}"
            );
            // And never goes back in time.
            assert!(values[0] >= last, "{:?} after {last:?}", values[0]);
            last = values[0];
        }
        writer.join().unwrap();
        let values: Vec<i64> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
        assert_eq!(values, vec![299; 20]);
    });
}
