//! Unit tests of `hash`: every command in-process, and a model test against a `HashMap`.

use std::collections::HashMap;

use super::*;
use crate::command::lookup;
use crate::command::test_support::{bulk, bulks, err, int, Harness, WRONGTYPE};

/// The texts of an array (or map, flattened) reply, sorted.
fn sorted(reply: Reply) -> Vec<String> {
    let text = |reply: Reply| match reply {
        Reply::Bulk(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
        other => panic!("not a bulk: {other:?}"),
    };
    let mut items: Vec<String> = match reply {
        Reply::Array(items) | Reply::Set(items) => items.into_iter().map(text).collect(),
        Reply::Map(pairs) => pairs
            .into_iter()
            .map(|(field, value)| format!("{}={}", text(field), text(value)))
            .collect(),
        other => panic!("not an array: {other:?}"),
    };
    items.sort();
    items
}

#[test]
fn table_rows() {
    for name in ["hset", "hmset", "hsetnx", "hincrby", "hincrbyfloat", "hdel"] {
        let spec = lookup(name.as_bytes()).unwrap();
        assert!(spec.is_write(), "{name}");
        assert_eq!((spec.first_key, spec.last_key, spec.step), (1, 1, 1));
        assert_eq!(spec.group, "hash");
    }
    assert_eq!(lookup(b"hscan").unwrap().arity, -3);
    assert_eq!(lookup(b"hrandfield").unwrap().arity, -2);
    assert_eq!(COMMANDS.len(), 16);
}

#[test]
fn set_get_delete() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["HSET", "h", "a", "1", "b", "2"]), int(2));
    assert_eq!(h.run(&["HSET", "h", "a", "x", "c", "3"]), int(1));
    assert_eq!(
        h.run(&["HSET", "h", "a"]),
        err("ERR wrong number of arguments for 'hset' command")
    );
    assert_eq!(
        h.run(&["HMSET", "h", "a", "1", "b"]),
        err("ERR wrong number of arguments for 'hmset' command")
    );
    assert_eq!(h.run(&["HMSET", "h", "d", "4"]), Reply::ok());
    assert_eq!(h.run(&["HGET", "h", "a"]), bulk("x"));
    assert_eq!(h.run(&["HGET", "h", "zz"]), Reply::Null);
    assert_eq!(h.run(&["HGET", "nokey", "a"]), Reply::Null);
    assert_eq!(
        h.run(&["HMGET", "h", "a", "zz", "d"]),
        Reply::Array(vec![bulk("x"), Reply::Null, bulk("4")])
    );
    assert_eq!(
        h.run(&["HMGET", "nokey", "a"]),
        Reply::Array(vec![Reply::Null])
    );
    assert_eq!(h.run(&["HLEN", "h"]), int(4));
    assert_eq!(h.run(&["HLEN", "nokey"]), int(0));
    assert_eq!(h.run(&["HSTRLEN", "h", "a"]), int(1));
    assert_eq!(h.run(&["HSTRLEN", "h", "zz"]), int(0));
    assert_eq!(h.run(&["HEXISTS", "h", "a"]), int(1));
    assert_eq!(h.run(&["HEXISTS", "h", "zz"]), int(0));
    assert_eq!(h.run(&["HSETNX", "h", "a", "no"]), int(0));
    assert_eq!(h.run(&["HSETNX", "h", "e", "5"]), int(1));
    assert_eq!(h.run(&["HSETNX", "new", "f", "v"]), int(1));
    assert_eq!(sorted(h.run(&["HKEYS", "h"])), ["a", "b", "c", "d", "e"]);
    assert_eq!(sorted(h.run(&["HVALS", "h"])), ["2", "3", "4", "5", "x"]);
    assert_eq!(
        sorted(h.run(&["HGETALL", "h"])),
        ["a=x", "b=2", "c=3", "d=4", "e=5"]
    );
    assert_eq!(h.run(&["HGETALL", "nokey"]), Reply::Map(vec![]));
    assert_eq!(h.run(&["HKEYS", "nokey"]), bulks(&[]));
    assert_eq!(h.run(&["HDEL", "h", "a", "b", "zz"]), int(2));
    assert_eq!(h.run(&["HDEL", "nokey", "a"]), int(0));
    assert_eq!(h.run(&["HDEL", "h", "c", "d", "e"]), int(3));
    assert_eq!(
        h.run(&["EXISTS", "h"]),
        int(0),
        "the last field takes the key"
    );
    assert_eq!(h.run(&["TYPE", "new"]), Reply::status("hash"));
}

#[test]
fn wrong_type_everywhere() {
    let mut h = Harness::new();
    h.run(&["SET", "s", "v"]);
    for command in [
        &["HSET", "s", "a", "1"][..],
        &["HSETNX", "s", "a", "1"],
        &["HGET", "s", "a"],
        &["HMGET", "s", "a"],
        &["HDEL", "s", "a"],
        &["HLEN", "s"],
        &["HSTRLEN", "s", "a"],
        &["HEXISTS", "s", "a"],
        &["HKEYS", "s"],
        &["HVALS", "s"],
        &["HGETALL", "s"],
        &["HINCRBY", "s", "a", "1"],
        &["HINCRBYFLOAT", "s", "a", "1"],
        &["HSCAN", "s", "0"],
        &["HRANDFIELD", "s"],
    ] {
        assert_eq!(h.run(command), err(WRONGTYPE), "{command:?}");
    }
    h.run(&["HSET", "h", "a", "1"]);
    assert_eq!(h.run(&["GET", "h"]), err(WRONGTYPE));
}

#[test]
fn increments() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["HINCRBY", "h", "n", "5"]), int(5));
    assert_eq!(h.run(&["HINCRBY", "h", "n", "-7"]), int(-2));
    assert_eq!(
        h.run(&["HINCRBY", "h", "n", "x"]),
        err("ERR value is not an integer or out of range")
    );
    h.run(&["HSET", "h", "s", "abc", "big", "9223372036854775807"]);
    assert_eq!(
        h.run(&["HINCRBY", "h", "s", "1"]),
        err("ERR hash value is not an integer")
    );
    assert_eq!(
        h.run(&["HINCRBY", "h", "big", "1"]),
        err("ERR increment or decrement would overflow")
    );
    assert_eq!(h.run(&["HINCRBYFLOAT", "h", "f", "10.5"]), bulk("10.5"));
    assert_eq!(h.run(&["HINCRBYFLOAT", "h", "f", "0.1"]), bulk("10.6"));
    assert_eq!(h.run(&["HINCRBYFLOAT", "h", "n", "2"]), bulk("0"));
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "s", "1"]),
        err("ERR hash value is not a float")
    );
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "f", "abc"]),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "f", "inf"]),
        err("ERR value is NaN or Infinity")
    );
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "fresh", "f", "-inf"]),
        err("ERR value is NaN or Infinity")
    );
    h.run(&["HSET", "h", "huge", "1.7e308"]);
    assert_eq!(
        h.run(&["HINCRBYFLOAT", "h", "huge", "1.7e308"]),
        err("ERR increment would produce NaN or Infinity")
    );
    assert_eq!(
        h.run(&["EXISTS", "fresh"]),
        int(0),
        "no empty hash left behind"
    );
    assert_eq!(h.run(&["HGET", "h", "f"]), bulk("10.6"));
}

#[test]
fn encodings_follow_the_limits() {
    let mut h = Harness::new();
    h.limits.encoding.hash_max_listpack_entries = 3;
    h.limits.encoding.hash_max_listpack_value = 5;
    h.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "h"]), bulk("listpack"));
    h.run(&["HSET", "h", "d", "4"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "h"]), bulk("hashtable"));
    h.run(&["HDEL", "h", "a", "b", "c"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "h"]), bulk("hashtable"));
    h.run(&["HSET", "long", "a", "123456"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "long"]), bulk("hashtable"));
    h.run(&["HSET", "longfield", "abcdef", "1"]);
    assert_eq!(
        h.run(&["OBJECT", "ENCODING", "longfield"]),
        bulk("hashtable")
    );
}

#[test]
fn hscan_returns_everything_once() {
    let mut h = Harness::new();
    assert_eq!(
        h.run(&["HSCAN", "nokey", "0"]),
        Reply::Array(vec![bulk("0"), bulks(&[])])
    );
    h.run(&["HSET", "small", "a", "1", "b", "2"]);
    assert_eq!(
        h.run(&["HSCAN", "small", "0", "COUNT", "1"]),
        Reply::Array(vec![bulk("0"), bulks(&["a", "1", "b", "2"])])
    );
    assert_eq!(
        h.run(&["HSCAN", "small", "0", "MATCH", "b*"]),
        Reply::Array(vec![bulk("0"), bulks(&["b", "2"])])
    );
    assert_eq!(h.run(&["HSCAN", "small", "x"]), err("ERR invalid cursor"));
    assert_eq!(
        h.run(&["HSCAN", "small", "0", "TYPE", "hash"]),
        err("ERR syntax error")
    );
    assert_eq!(
        h.run(&["HSCAN", "small", "0", "COUNT", "0"]),
        err("ERR syntax error")
    );
    for n in 0..300 {
        h.run(&["HSET", "big", &format!("f{n}"), "v"]);
    }
    let mut cursor = "0".to_string();
    let mut fields = Vec::new();
    loop {
        let Reply::Array(parts) = h.run(&["HSCAN", "big", &cursor, "COUNT", "7"]) else {
            panic!("not an array");
        };
        let [Reply::Bulk(next), Reply::Array(items)] = &parts[..] else {
            panic!("bad reply {parts:?}");
        };
        fields.extend(items.iter().step_by(2).cloned());
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(sorted(Reply::Array(fields)).len(), 300);
}

#[test]
fn hrandfield_counts() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["HRANDFIELD", "nokey"]), Reply::Null);
    assert_eq!(h.run(&["HRANDFIELD", "nokey", "3"]), bulks(&[]));
    h.run(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    let Reply::Bulk(field) = h.run(&["HRANDFIELD", "h"]) else {
        panic!("not a bulk");
    };
    assert!([&b"a"[..], b"b", b"c"].contains(&&field[..]));
    assert_eq!(sorted(h.run(&["HRANDFIELD", "h", "10"])), ["a", "b", "c"]);
    assert_eq!(sorted(h.run(&["HRANDFIELD", "h", "2"])).len(), 2);
    let distinct = sorted(h.run(&["HRANDFIELD", "h", "2"]));
    assert_ne!(distinct[0], distinct[1]);
    assert_eq!(sorted(h.run(&["HRANDFIELD", "h", "-7"])).len(), 7);
    assert_eq!(h.run(&["HRANDFIELD", "h", "0"]), bulks(&[]));
    assert_eq!(
        sorted(h.run(&["HRANDFIELD", "h", "5", "WITHVALUES"])),
        ["a=1", "b=2", "c=3"]
    );
    let Reply::Array(pairs) = h.run(&["HRANDFIELD", "h", "-4", "withvalues"]) else {
        panic!("not an array");
    };
    assert_eq!(pairs.len(), 8);
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "1", "x"]),
        err("ERR syntax error")
    );
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "x", "y"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"]),
        err("ERR value is out of range")
    );
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "-9223372036854775808"]),
        err("ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        h.run(&["HRANDFIELD", "h", "-9223372036854775807", "WITHVALUES"]),
        err("ERR value is out of range")
    );
}

/// Random HSET/HDEL/HINCRBY/HSETNX against a `HashMap`, with thresholds low enough that the
/// hashes cross from listpack to table, checked after every step.
#[test]
fn model_test() {
    for seed in 0..6 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut h = Harness::new();
        if seed % 2 == 0 {
            h.limits.encoding.hash_max_listpack_entries = 8;
            h.limits.encoding.hash_max_listpack_value = 6;
        }
        let mut model: HashMap<String, HashMap<String, String>> = HashMap::new();
        for _ in 0..1500 {
            let key = format!("k{}", rng.usize(..3));
            let field = format!("f{}", rng.usize(..20));
            let value = "v".repeat(rng.usize(..10));
            match rng.usize(..5) {
                0 | 1 => {
                    let new = !model.get(&key).is_some_and(|h| h.contains_key(&field));
                    assert_eq!(h.run(&["HSET", &key, &field, &value]), int(new as i64));
                    model.entry(key.clone()).or_default().insert(field, value);
                }
                2 => {
                    let removed = model
                        .get_mut(&key)
                        .is_some_and(|h| h.remove(&field).is_some());
                    if model.get(&key).is_some_and(|h| h.is_empty()) {
                        model.remove(&key);
                    }
                    assert_eq!(h.run(&["HDEL", &key, &field]), int(removed as i64));
                }
                3 => {
                    let numeric = format!("n{}", rng.usize(..3));
                    let by = rng.i64(-5..5);
                    let entry = model.entry(key.clone()).or_default();
                    let now = entry.get(&numeric).map_or(0, |v| v.parse::<i64>().unwrap()) + by;
                    entry.insert(numeric.clone(), now.to_string());
                    assert_eq!(
                        h.run(&["HINCRBY", &key, &numeric, &by.to_string()]),
                        int(now)
                    );
                }
                _ => {
                    let exists = model.get(&key).is_some_and(|h| h.contains_key(&field));
                    assert_eq!(
                        h.run(&["HSETNX", &key, &field, &value]),
                        int(!exists as i64)
                    );
                    model
                        .entry(key.clone())
                        .or_default()
                        .entry(field)
                        .or_insert(value);
                }
            }
            let expected = model.get(&key).map_or(0, |h| h.len()) as i64;
            assert_eq!(h.run(&["HLEN", &key]), int(expected));
        }
        for (key, fields) in &model {
            let mut expected: Vec<String> =
                fields.iter().map(|(f, v)| format!("{f}={v}")).collect();
            expected.sort();
            assert_eq!(sorted(h.run(&["HGETALL", key])), expected, "seed {seed}");
        }
    }
}
