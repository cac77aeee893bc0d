//! Unit tests of `string`.

use super::*;
use crate::command::lookup;
use crate::command::test_support::{bulk, err, Harness};

fn ttl_ms(h: &mut Harness, key: &str) -> Option<u64> {
    let now_ms = h.now_ms;
    h.keyspace
        .db(0)
        .get(key.as_bytes(), now_ms)
        .map(|entry| entry.expire_at)
}

const SYNTAX: &str = "ERR syntax error";
const NOT_INT: &str = "ERR value is not an integer or out of range";

#[test]
fn table_matches_redis_command_info() {
    let expect = |name: &str, arity: i32, flags: &[&str], keys: (i32, i32, i32), routing| {
        let spec = lookup(name.as_bytes()).unwrap_or_else(|| panic!("{name} missing"));
        assert_eq!(spec.arity, arity, "{name}");
        assert_eq!(spec.flags, flags, "{name}");
        assert_eq!((spec.first_key, spec.last_key, spec.step), keys, "{name}");
        assert_eq!(spec.routing, routing, "{name}");
        assert_eq!(spec.group, "string");
        assert!(spec.handler.is_some() && !spec.summary.is_empty() && !spec.since.is_empty());
    };
    let single = Routing::SingleKey;
    expect("get", 2, &["readonly", "fast"], (1, 1, 1), single);
    expect("set", -3, &["write", "denyoom"], (1, 1, 1), single);
    expect("getex", -2, &["write", "fast"], (1, 1, 1), single);
    expect("getrange", 4, &["readonly"], (1, 1, 1), single);
    expect("substr", 4, &["readonly"], (1, 1, 1), single);
    expect(
        "incrbyfloat",
        3,
        &["write", "denyoom", "fast"],
        (1, 1, 1),
        single,
    );
    expect(
        "mget",
        -2,
        &["readonly", "fast"],
        (1, -1, 1),
        Routing::MultiKey,
    );
    expect(
        "mset",
        -3,
        &["write", "denyoom"],
        (1, -1, 2),
        Routing::MultiKey,
    );
    expect(
        "msetnx",
        -3,
        &["write", "denyoom"],
        (1, -1, 2),
        Routing::MultiKey,
    );
    assert_eq!(COMMANDS.len(), 21);
    let mset = lookup(b"MSET").unwrap();
    assert_eq!(
        mset.key_positions(&vec![bytes::Bytes::new(); 5])
            .collect::<Vec<_>>(),
        vec![1, 3]
    );
}

#[test]
fn get_and_set() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["GET", "k"]), Reply::Null);
    assert_eq!(h.run(&["SET", "k", "v"]), Reply::ok());
    assert_eq!(h.run(&["GET", "k"]), bulk("v"));
    assert_eq!(h.run(&["set", "k", ""]), Reply::ok());
    assert_eq!(h.run(&["get", "k"]), bulk(""));
    assert_eq!(
        h.run(&["GET"]),
        err("ERR wrong number of arguments for 'get' command")
    );
    assert_eq!(
        h.run(&["SET", "k"]),
        err("ERR wrong number of arguments for 'set' command")
    );
}

#[test]
fn get_counts_hits_and_misses() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v"]);
    h.run(&["GET", "k"]);
    h.run(&["GET", "nope"]);
    h.run(&["MGET", "k", "k", "nope"]);
    h.run(&["STRLEN", "k"]);
    h.run(&["GETRANGE", "nope", "0", "1"]);
    h.run(&["INCR", "counter"]); // a write lookup counts nothing
    h.run(&["APPEND", "k", "w"]);
    assert_eq!(h.keyspace.stats.keyspace_hits, 4);
    assert_eq!(h.keyspace.stats.keyspace_misses, 3);
    h.run(&["GETEX", "k", "PERSIST"]);
    h.run(&["GETDEL", "k"]);
    h.run(&["GETDEL", "k"]);
    h.run(&["GETSET", "k", "v"]);
    h.run(&["SET", "k", "v", "GET"]);
    assert_eq!(h.keyspace.stats.keyspace_hits, 7);
    assert_eq!(h.keyspace.stats.keyspace_misses, 5);
}

#[test]
fn set_nx_xx() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SET", "k", "1", "XX"]), Reply::Null);
    assert_eq!(h.run(&["GET", "k"]), Reply::Null);
    assert_eq!(h.run(&["SET", "k", "1", "NX"]), Reply::ok());
    assert_eq!(h.run(&["SET", "k", "2", "nx"]), Reply::Null);
    assert_eq!(h.run(&["GET", "k"]), bulk("1"));
    assert_eq!(h.run(&["SET", "k", "3", "xx"]), Reply::ok());
    assert_eq!(h.run(&["GET", "k"]), bulk("3"));
    assert_eq!(h.run(&["SET", "k", "4", "NX", "XX"]), err(SYNTAX));
    assert_eq!(h.run(&["SET", "k", "4", "XX", "NX"]), err(SYNTAX));
    assert_eq!(h.run(&["SET", "k", "4", "NX", "NX"]), Reply::Null);
}

#[test]
fn set_get_option() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SET", "k", "1", "GET"]), Reply::Null);
    assert_eq!(h.run(&["SET", "k", "2", "GET"]), bulk("1"));
    // NX with GET is allowed since Redis 7: the old value comes back, nothing is written.
    assert_eq!(h.run(&["SET", "k", "3", "NX", "GET"]), bulk("2"));
    assert_eq!(h.run(&["GET", "k"]), bulk("2"));
    assert_eq!(h.run(&["SET", "other", "3", "XX", "GET"]), Reply::Null);
    assert_eq!(h.run(&["GET", "other"]), Reply::Null);
}

#[test]
fn set_expiry_options() {
    let mut h = Harness::new();
    let now = h.now_ms;
    assert_eq!(h.run(&["SET", "k", "v", "EX", "10"]), Reply::ok());
    assert_eq!(ttl_ms(&mut h, "k"), Some(now + 10_000));
    assert_eq!(h.run(&["SET", "k", "v", "px", "1500"]), Reply::ok());
    assert_eq!(ttl_ms(&mut h, "k"), Some(now + 1_500));
    let at = (now / 1000 + 100).to_string();
    assert_eq!(h.run(&["SET", "k", "v", "EXAT", &at]), Reply::ok());
    assert_eq!(ttl_ms(&mut h, "k"), Some((now / 1000 + 100) * 1000));
    let at = (now + 5).to_string();
    assert_eq!(h.run(&["SET", "k", "v", "PXAT", &at]), Reply::ok());
    assert_eq!(ttl_ms(&mut h, "k"), Some(now + 5));
    // The same form repeated: the last wins.
    assert_eq!(h.run(&["SET", "k", "v", "EX", "1", "EX", "2"]), Reply::ok());
    assert_eq!(ttl_ms(&mut h, "k"), Some(now + 2_000));
    // A plain SET clears the TTL.
    assert_eq!(h.run(&["SET", "k", "v"]), Reply::ok());
    assert_eq!(ttl_ms(&mut h, "k"), Some(0));
}

#[test]
fn set_expires() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v", "EX", "10"]);
    h.now_ms += 9_999;
    assert_eq!(h.run(&["GET", "k"]), bulk("v"));
    h.now_ms += 2_000;
    assert_eq!(h.run(&["GET", "k"]), Reply::Null);
    // An expired key counts as absent for NX and XX.
    h.run(&["SET", "k", "v", "PX", "1"]);
    h.now_ms += 1;
    assert_eq!(h.run(&["SET", "k", "w", "XX"]), Reply::Null);
    assert_eq!(h.run(&["SET", "k", "w", "NX"]), Reply::ok());
    // A deadline already passed leaves no visible key.
    let past = (h.now_ms - 1).to_string();
    assert_eq!(h.run(&["SET", "k", "v", "PXAT", &past]), Reply::ok());
    assert_eq!(h.run(&["GET", "k"]), Reply::Null);
}

#[test]
fn set_keepttl() {
    let mut h = Harness::new();
    let now = h.now_ms;
    h.run(&["SET", "k", "v", "EX", "10"]);
    assert_eq!(h.run(&["SET", "k", "w", "KEEPTTL"]), Reply::ok());
    assert_eq!(ttl_ms(&mut h, "k"), Some(now + 10_000));
    assert_eq!(h.run(&["GET", "k"]), bulk("w"));
    h.now_ms += 10_000;
    assert_eq!(h.run(&["GET", "k"]), Reply::Null);
    assert_eq!(h.run(&["SET", "new", "v", "KEEPTTL"]), Reply::ok());
    assert_eq!(ttl_ms(&mut h, "new"), Some(0));
}

#[test]
fn set_syntax_errors() {
    let mut h = Harness::new();
    for args in [
        &["SET", "k", "v", "EX", "10", "PX", "100"][..],
        &["SET", "k", "v", "PX", "100", "EX", "10"],
        &["SET", "k", "v", "EX", "10", "EXAT", "10"],
        &["SET", "k", "v", "PXAT", "10", "PX", "10"],
        &["SET", "k", "v", "EX", "10", "KEEPTTL"],
        &["SET", "k", "v", "KEEPTTL", "EX", "10"],
        &["SET", "k", "v", "EX"],
        &["SET", "k", "v", "PERSIST"],
        &["SET", "k", "v", "BOGUS"],
        &["SET", "k", "v", "NX", "10"],
    ] {
        assert_eq!(h.run(args), err(SYNTAX), "{args:?}");
    }
    assert_eq!(h.keyspace.db(0).len(), 0);
}

#[test]
fn set_invalid_expire_times() {
    let mut h = Harness::new();
    let invalid = err("ERR invalid expire time in 'set' command");
    for (option, amount) in [
        ("EX", "0"),
        ("EX", "-1"),
        ("PX", "0"),
        ("EXAT", "-5"),
        ("PXAT", "0"),
        ("EX", "9223372036854776"),
        ("EXAT", "9223372036854776"),
        ("PX", "9223372036854775807"),
    ] {
        assert_eq!(
            h.run(&["SET", "k", "v", option, amount]),
            invalid,
            "{option} {amount}"
        );
    }
    assert_eq!(h.run(&["SET", "k", "v", "EX", "ten"]), err(NOT_INT));
    assert_eq!(h.run(&["SET", "k", "v", "EX", "1.5"]), err(NOT_INT));
    assert_eq!(h.keyspace.db(0).len(), 0);
    // The largest seconds that still fit.
    assert_eq!(
        h.run(&["SET", "k", "v", "EXAT", "9223372036854775"]),
        Reply::ok()
    );
}

#[test]
fn setnx_command() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SETNX", "k", "1"]), Reply::Integer(1));
    assert_eq!(h.run(&["SETNX", "k", "2"]), Reply::Integer(0));
    assert_eq!(h.run(&["GET", "k"]), bulk("1"));
    assert_eq!(
        h.run(&["SETNX", "k"]),
        err("ERR wrong number of arguments for 'setnx' command")
    );
}

#[test]
fn setex_and_psetex() {
    let mut h = Harness::new();
    let now = h.now_ms;
    assert_eq!(h.run(&["SETEX", "k", "10", "v"]), Reply::ok());
    assert_eq!(ttl_ms(&mut h, "k"), Some(now + 10_000));
    assert_eq!(h.run(&["PSETEX", "p", "1500", "v"]), Reply::ok());
    assert_eq!(ttl_ms(&mut h, "p"), Some(now + 1_500));
    assert_eq!(
        h.run(&["SETEX", "k", "0", "v"]),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        h.run(&["SETEX", "k", "-10", "v"]),
        err("ERR invalid expire time in 'setex' command")
    );
    assert_eq!(
        h.run(&["PSETEX", "k", "0", "v"]),
        err("ERR invalid expire time in 'psetex' command")
    );
    assert_eq!(h.run(&["SETEX", "k", "x", "v"]), err(NOT_INT));
    assert_eq!(
        h.run(&["SETEX", "k", "10"]),
        err("ERR wrong number of arguments for 'setex' command")
    );
    h.now_ms += 1_500;
    assert_eq!(h.run(&["GET", "p"]), Reply::Null);
    assert_eq!(h.run(&["GET", "k"]), bulk("v"));
}

#[test]
fn getset_command() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["GETSET", "k", "1"]), Reply::Null);
    h.run(&["SET", "k", "1", "EX", "10"]);
    assert_eq!(h.run(&["GETSET", "k", "2"]), bulk("1"));
    assert_eq!(ttl_ms(&mut h, "k"), Some(0));
    assert_eq!(h.run(&["GET", "k"]), bulk("2"));
}

#[test]
fn getdel_command() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["GETDEL", "k"]), Reply::Null);
    h.run(&["SET", "k", "v"]);
    assert_eq!(h.run(&["GETDEL", "k"]), bulk("v"));
    assert_eq!(h.run(&["GET", "k"]), Reply::Null);
    assert_eq!(h.keyspace.db(0).len(), 0);
}

#[test]
fn getex_command() {
    let mut h = Harness::new();
    let now = h.now_ms;
    assert_eq!(h.run(&["GETEX", "k"]), Reply::Null);
    assert_eq!(h.run(&["GETEX", "k", "EX", "0"]), Reply::Null); // missing key: checked first
    h.run(&["SET", "k", "v"]);
    assert_eq!(h.run(&["GETEX", "k"]), bulk("v"));
    assert_eq!(ttl_ms(&mut h, "k"), Some(0));
    assert_eq!(h.run(&["GETEX", "k", "EX", "10"]), bulk("v"));
    assert_eq!(ttl_ms(&mut h, "k"), Some(now + 10_000));
    assert_eq!(h.run(&["GETEX", "k", "PX", "500"]), bulk("v"));
    assert_eq!(ttl_ms(&mut h, "k"), Some(now + 500));
    let at = (now / 1000 + 60).to_string();
    assert_eq!(h.run(&["GETEX", "k", "EXAT", &at]), bulk("v"));
    assert_eq!(ttl_ms(&mut h, "k"), Some((now / 1000 + 60) * 1000));
    let at = (now + 700).to_string();
    assert_eq!(h.run(&["GETEX", "k", "pxat", &at]), bulk("v"));
    assert_eq!(ttl_ms(&mut h, "k"), Some(now + 700));
    assert_eq!(h.run(&["GETEX", "k", "PERSIST"]), bulk("v"));
    assert_eq!(ttl_ms(&mut h, "k"), Some(0));
    h.now_ms += 1_000;
    assert_eq!(h.run(&["GET", "k"]), bulk("v"));
    // A deadline in the past returns the value, then the key is gone.
    assert_eq!(h.run(&["GETEX", "k", "PXAT", "1"]), bulk("v"));
    assert_eq!(h.run(&["GET", "k"]), Reply::Null);
    assert_eq!(h.keyspace.db(0).len(), 0);
}

#[test]
fn getex_errors() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "v", "EX", "10"]);
    for args in [
        &["GETEX", "k", "EX", "10", "PERSIST"][..],
        &["GETEX", "k", "PERSIST", "EX", "10"],
        &["GETEX", "k", "EX", "10", "PX", "10"],
        &["GETEX", "k", "KEEPTTL"],
        &["GETEX", "k", "NX"],
        &["GETEX", "k", "GET"],
        &["GETEX", "k", "EX"],
    ] {
        assert_eq!(h.run(args), err(SYNTAX), "{args:?}");
    }
    assert_eq!(
        h.run(&["GETEX", "k", "EX", "0"]),
        err("ERR invalid expire time in 'getex' command")
    );
    assert_eq!(
        h.run(&["GETEX", "k", "PX", "-1"]),
        err("ERR invalid expire time in 'getex' command")
    );
    assert_eq!(h.run(&["GETEX", "k", "EX", "x"]), err(NOT_INT));
    h.now_ms += 10_000;
    assert_eq!(h.run(&["GETEX", "k", "PERSIST"]), Reply::Null);
}

#[test]
fn mget_command() {
    let mut h = Harness::new();
    h.run(&["SET", "a", "1"]);
    h.run(&["SET", "c", "3", "PX", "10"]);
    h.now_ms += 10;
    assert_eq!(
        h.run(&["MGET", "a", "b", "c", "a"]),
        Reply::Array(vec![bulk("1"), Reply::Null, Reply::Null, bulk("1")])
    );
    assert_eq!(
        h.run(&["MGET"]),
        err("ERR wrong number of arguments for 'mget' command")
    );
}

#[test]
fn mset_command() {
    let mut h = Harness::new();
    h.run(&["SET", "a", "old", "EX", "10"]);
    assert_eq!(h.run(&["MSET", "a", "1", "b", "2"]), Reply::ok());
    assert_eq!(
        h.run(&["MGET", "a", "b"]),
        Reply::Array(vec![bulk("1"), bulk("2")])
    );
    assert_eq!(ttl_ms(&mut h, "a"), Some(0));
    assert_eq!(
        h.run(&["MSET", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'mset' command")
    );
    assert_eq!(
        h.run(&["MSET", "a"]),
        err("ERR wrong number of arguments for 'mset' command")
    );
    // Duplicate keys: the last value wins.
    assert_eq!(h.run(&["MSET", "d", "1", "d", "2"]), Reply::ok());
    assert_eq!(h.run(&["GET", "d"]), bulk("2"));
}

#[test]
fn msetnx_is_all_or_nothing() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["MSETNX", "a", "1", "b", "2"]), Reply::Integer(1));
    assert_eq!(h.run(&["MSETNX", "c", "3", "b", "x"]), Reply::Integer(0));
    assert_eq!(
        h.run(&["MGET", "a", "b", "c"]),
        Reply::Array(vec![bulk("1"), bulk("2"), Reply::Null])
    );
    assert_eq!(
        h.run(&["MSETNX", "c", "3", "d"]),
        err("ERR wrong number of arguments for 'msetnx' command")
    );
    // An expired key no longer blocks.
    h.run(&["SET", "e", "old", "PX", "5"]);
    h.now_ms += 5;
    assert_eq!(h.run(&["MSETNX", "e", "new", "f", "6"]), Reply::Integer(1));
    assert_eq!(h.run(&["GET", "e"]), bulk("new"));
}

#[test]
fn append_command() {
    let mut h = Harness::new();
    let now = h.now_ms;
    assert_eq!(h.run(&["APPEND", "k", "Hello"]), Reply::Integer(5));
    assert_eq!(h.run(&["APPEND", "k", " World"]), Reply::Integer(11));
    assert_eq!(h.run(&["GET", "k"]), bulk("Hello World"));
    assert_eq!(h.run(&["APPEND", "k", ""]), Reply::Integer(11));
    h.run(&["SET", "t", "a", "EX", "10"]);
    assert_eq!(h.run(&["APPEND", "t", "b"]), Reply::Integer(2));
    assert_eq!(ttl_ms(&mut h, "t"), Some(now + 10_000));
    h.limits.proto_max_bulk_len = 12;
    assert_eq!(h.run(&["APPEND", "k", "!"]), Reply::Integer(12));
    assert_eq!(
        h.run(&["APPEND", "k", "!"]),
        err("ERR string exceeds maximum allowed size (proto-max-bulk-len)")
    );
    assert_eq!(h.run(&["GET", "k"]), bulk("Hello World!"));
}

#[test]
fn append_grows_in_place() {
    let mut h = Harness::new();
    h.run(&["APPEND", "k", "a"]);
    h.run(&["APPEND", "k", "b"]); // reallocates with spare room
    let stored_ptr = |h: &mut Harness| {
        let now_ms = h.now_ms;
        match &h.keyspace.db(0).get(b"k", now_ms).unwrap().value {
            Value::String(data) => data.as_ptr(),
            #[allow(unreachable_patterns)]
            _ => unreachable!(),
        }
    };
    let before = stored_ptr(&mut h);
    h.run(&["APPEND", "k", "c"]);
    assert_eq!(
        stored_ptr(&mut h),
        before,
        "a uniquely owned value is extended in place"
    );
    // A value shared with a reply is copied, and the reply keeps the old text.
    let Reply::Bulk(held) = h.run(&["GET", "k"]) else {
        panic!()
    };
    assert_eq!(h.run(&["APPEND", "k", "d"]), Reply::Integer(4));
    assert_eq!(&held[..], b"abc");
    assert_eq!(h.run(&["GET", "k"]), bulk("abcd"));
    for _ in 0..10_000 {
        h.run(&["APPEND", "k", "x"]);
    }
    assert_eq!(h.run(&["STRLEN", "k"]), Reply::Integer(10_004));
}

#[test]
fn strlen_command() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["STRLEN", "k"]), Reply::Integer(0));
    h.run(&["SET", "k", "hello"]);
    assert_eq!(h.run(&["STRLEN", "k"]), Reply::Integer(5));
}

#[test]
fn incr_and_decr() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["INCR", "n"]), Reply::Integer(1));
    assert_eq!(h.run(&["INCR", "n"]), Reply::Integer(2));
    assert_eq!(h.run(&["GET", "n"]), bulk("2"));
    assert_eq!(h.run(&["DECR", "n"]), Reply::Integer(1));
    assert_eq!(h.run(&["DECR", "m"]), Reply::Integer(-1));
    assert_eq!(h.run(&["INCRBY", "n", "10"]), Reply::Integer(11));
    assert_eq!(h.run(&["INCRBY", "n", "-20"]), Reply::Integer(-9));
    assert_eq!(h.run(&["DECRBY", "n", "-9"]), Reply::Integer(0));
    assert_eq!(h.run(&["DECRBY", "n", "5"]), Reply::Integer(-5));
    h.run(&["SET", "big", "-9223372036854775808"]);
    assert_eq!(h.run(&["INCR", "big"]), Reply::Integer(i64::MIN + 1));
}

#[test]
fn incr_keeps_ttl() {
    let mut h = Harness::new();
    let now = h.now_ms;
    h.run(&["SET", "n", "5", "EX", "10"]);
    assert_eq!(h.run(&["INCR", "n"]), Reply::Integer(6));
    assert_eq!(ttl_ms(&mut h, "n"), Some(now + 10_000));
    h.now_ms += 10_000;
    assert_eq!(h.run(&["INCR", "n"]), Reply::Integer(1));
    assert_eq!(ttl_ms(&mut h, "n"), Some(0));
}

#[test]
fn incr_rejects_non_integers() {
    let mut h = Harness::new();
    for stored in [
        "abc",
        "1.5",
        " 1",
        "1 ",
        "01",
        "+1",
        "-0",
        "",
        "9223372036854775808",
    ] {
        h.run(&["SET", "n", stored]);
        assert_eq!(h.run(&["INCR", "n"]), err(NOT_INT), "{stored:?}");
        assert_eq!(h.run(&["GET", "n"]), bulk(stored));
    }
    assert_eq!(h.run(&["INCRBY", "m", "x"]), err(NOT_INT));
    assert_eq!(h.run(&["INCRBY", "m", "1.0"]), err(NOT_INT));
    assert_eq!(h.run(&["DECRBY", "m", ""]), err(NOT_INT));
    assert_eq!(h.run(&["GET", "m"]), Reply::Null);
}

#[test]
fn incr_overflow() {
    let mut h = Harness::new();
    let overflow = err("ERR increment or decrement would overflow");
    h.run(&["SET", "n", "9223372036854775807"]);
    assert_eq!(h.run(&["INCR", "n"]), overflow);
    assert_eq!(h.run(&["INCRBY", "n", "1"]), overflow);
    assert_eq!(h.run(&["GET", "n"]), bulk("9223372036854775807"));
    h.run(&["SET", "n", "-9223372036854775808"]);
    assert_eq!(h.run(&["DECR", "n"]), overflow);
    assert_eq!(h.run(&["DECRBY", "n", "1"]), overflow);
    h.run(&["SET", "n", "-1"]);
    assert_eq!(h.run(&["INCRBY", "n", "-9223372036854775808"]), overflow);
    assert_eq!(
        h.run(&["DECRBY", "n", "-9223372036854775808"]),
        err("ERR decrement would overflow")
    );
    h.run(&["SET", "n", "0"]);
    assert_eq!(
        h.run(&["INCRBY", "n", "-9223372036854775808"]),
        Reply::Integer(i64::MIN)
    );
    assert_eq!(
        h.run(&["DECRBY", "n", "-9223372036854775807"]),
        Reply::Integer(-1)
    );
}

#[test]
fn incrbyfloat_command() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "1"]), bulk("1"));
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "0.25"]), bulk("1.25"));
    h.run(&["SET", "f", "10.50"]);
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "0.1"]), bulk("10.6"));
    assert_eq!(h.run(&["GET", "f"]), bulk("10.6"));
    h.run(&["SET", "f", "5.0e3"]);
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "2.0e2"]), bulk("5200"));
    h.run(&["SET", "f", "5.0e3"]);
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "-1.1"]), bulk("4998.9"));
    h.run(&["SET", "f", "1.5e3"]);
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "0"]), bulk("1500"));
    h.run(&["SET", "f", "1"]);
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "2"]), bulk("3"));
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "-3"]), bulk("0"));
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "-0.0"]), bulk("0"));
    h.run(&["SET", "f", "1", "EX", "10"]);
    let now = h.now_ms;
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "1.5"]), bulk("2.5"));
    assert_eq!(ttl_ms(&mut h, "f"), Some(now + 10_000));
}

#[test]
fn incrbyfloat_errors() {
    let mut h = Harness::new();
    let not_float = err("ERR value is not a valid float");
    h.run(&["SET", "f", "abc"]);
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "1"]), not_float);
    h.run(&["SET", "f", "1"]);
    for increment in ["x", "", " 1", "1 ", "nan", "1.5.5"] {
        assert_eq!(
            h.run(&["INCRBYFLOAT", "f", increment]),
            not_float,
            "{increment:?}"
        );
    }
    let non_finite = err("ERR increment would produce NaN or Infinity");
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "+inf"]), non_finite);
    h.run(&["SET", "f", "1.7e308"]);
    assert_eq!(h.run(&["INCRBYFLOAT", "f", "1.7e308"]), non_finite);
    assert_eq!(h.run(&["GET", "f"]), bulk("1.7e308"));
    assert_eq!(
        h.run(&["INCRBYFLOAT", "f"]),
        err("ERR wrong number of arguments for 'incrbyfloat' command")
    );
}

#[test]
fn float_formatting_like_redis() {
    assert_eq!(format_float_human(10.6), "10.6");
    assert_eq!(format_float_human(5000.0), "5000");
    assert_eq!(format_float_human(3.0), "3");
    assert_eq!(format_float_human(-2.5), "-2.5");
    assert_eq!(format_float_human(-0.0), "0");
    assert_eq!(format_float_human(1e20), "100000000000000000000");
    assert_eq!(format_float_human(0.0001), "0.0001");
    // Beyond 17 decimals `%.17Lf` rounds.
    assert_eq!(
        format_float_human(1.2345678901234567e-5),
        "0.00001234567890123"
    );
    assert_eq!(format_float_human(1e-20), "0");
    assert_eq!(format_float_human(-1e-20), "0");
}

#[test]
fn getrange_command() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["GETRANGE", "k", "0", "-1"]), bulk(""));
    h.run(&["SET", "k", "This is a string"]);
    let range = |h: &mut Harness, start: &str, end: &str| h.run(&["GETRANGE", "k", start, end]);
    assert_eq!(range(&mut h, "0", "3"), bulk("This"));
    assert_eq!(range(&mut h, "-3", "-1"), bulk("ing"));
    assert_eq!(range(&mut h, "0", "-1"), bulk("This is a string"));
    assert_eq!(range(&mut h, "10", "100"), bulk("string"));
    assert_eq!(range(&mut h, "-100", "3"), bulk("This"));
    assert_eq!(range(&mut h, "-100", "-50"), bulk("T"));
    assert_eq!(range(&mut h, "-1", "-5"), bulk(""));
    assert_eq!(range(&mut h, "5", "3"), bulk(""));
    assert_eq!(range(&mut h, "16", "20"), bulk(""));
    assert_eq!(
        range(&mut h, "-9223372036854775808", "9223372036854775807"),
        bulk("This is a string")
    );
    assert_eq!(range(&mut h, "a", "1"), err(NOT_INT));
    assert_eq!(range(&mut h, "0", "b"), err(NOT_INT));
    assert_eq!(h.run(&["SUBSTR", "k", "0", "3"]), bulk("This"));
    h.run(&["SET", "e", ""]);
    assert_eq!(h.run(&["GETRANGE", "e", "0", "-1"]), bulk(""));
    assert_eq!(
        h.run(&["GETRANGE", "k", "0"]),
        err("ERR wrong number of arguments for 'getrange' command")
    );
}

#[test]
fn setrange_command() {
    let mut h = Harness::new();
    h.run(&["SET", "k", "Hello World"]);
    assert_eq!(h.run(&["SETRANGE", "k", "6", "Redis"]), Reply::Integer(11));
    assert_eq!(h.run(&["GET", "k"]), bulk("Hello Redis"));
    assert_eq!(h.run(&["SETRANGE", "k", "9", "Redis!"]), Reply::Integer(15));
    assert_eq!(h.run(&["GET", "k"]), bulk("Hello RedRedis!"));
    // Empty value: nothing changes, the length comes back, no key is created.
    assert_eq!(h.run(&["SETRANGE", "k", "100", ""]), Reply::Integer(15));
    assert_eq!(h.run(&["SETRANGE", "missing", "5", ""]), Reply::Integer(0));
    assert_eq!(h.run(&["GET", "missing"]), Reply::Null);
    assert_eq!(
        h.run(&["SETRANGE", "k", "-1", "x"]),
        err("ERR offset is out of range")
    );
    assert_eq!(h.run(&["SETRANGE", "k", "x", "x"]), err(NOT_INT));
}

#[test]
fn setrange_pads_with_zeros() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SETRANGE", "k", "3", "ab"]), Reply::Integer(5));
    assert_eq!(h.run(&["GET", "k"]), Reply::bulk_from_slice(b"\0\0\0ab"));
    h.run(&["SET", "s", "xy", "EX", "10"]);
    let now = h.now_ms;
    assert_eq!(h.run(&["SETRANGE", "s", "4", "z"]), Reply::Integer(5));
    assert_eq!(h.run(&["GET", "s"]), Reply::bulk_from_slice(b"xy\0\0z"));
    assert_eq!(ttl_ms(&mut h, "s"), Some(now + 10_000));
    assert_eq!(h.run(&["SETRANGE", "s", "0", "A"]), Reply::Integer(5));
    assert_eq!(h.run(&["GET", "s"]), Reply::bulk_from_slice(b"Ay\0\0z"));
}

#[test]
fn setrange_respects_max_size() {
    let mut h = Harness::new();
    let too_long = err("ERR string exceeds maximum allowed size (proto-max-bulk-len)");
    h.limits.proto_max_bulk_len = 10;
    assert_eq!(h.run(&["SETRANGE", "k", "10", "x"]), too_long);
    assert_eq!(h.run(&["GET", "k"]), Reply::Null);
    assert_eq!(h.run(&["SETRANGE", "k", "9", "x"]), Reply::Integer(10));
    assert_eq!(h.run(&["SETRANGE", "k", "9", "xy"]), too_long);
    assert_eq!(
        h.run(&["SETRANGE", "k", "9223372036854775807", "x"]),
        too_long
    );
    assert_eq!(h.run(&["STRLEN", "k"]), Reply::Integer(10));
}

#[test]
fn stored_values_do_not_share_the_request_buffer() {
    let mut h = Harness::new();
    let request = Bytes::from_static(b"SETkeyvalue");
    let args = vec![
        request.slice(0..3),
        request.slice(3..6),
        request.slice(6..11),
    ];
    let mut ctx = ExecContext {
        keyspace: &mut h.keyspace,
        db_index: 0,
        now_ms: h.now_ms,
        limits: &h.limits,
        propagate: None,
    };
    assert_eq!(crate::command::run(&mut ctx, &args), Reply::ok());
    let now_ms = h.now_ms;
    let entry = h.keyspace.db(0).get(b"key", now_ms).unwrap();
    let Ok(stored) = string_value(entry) else {
        panic!()
    };
    let request_range = request.as_ptr_range();
    assert!(!request_range.contains(&stored.as_ptr()));
}
