//! Hash commands over real sockets with the `redis` crate: every command of `t_hash`, Redis 7's
//! replies and error texts, encodings and their CONFIG directives, on one, two and four shards
//! with keys spread over all of them.

mod common;

use std::collections::{BTreeMap, HashMap};

use common::{arity, error_of, for_each_topology, numbered, query};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

#[test]
fn set_get_delete_on_every_shard() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for key in numbered("hash", 12) {
            assert_eq!(
                query::<i64>(&mut con, &["HSET", &key, "a", "1", "b", "2"]),
                2
            );
            assert_eq!(
                query::<i64>(&mut con, &["HSET", &key, "a", "x", "c", "3"]),
                1
            );
            assert_eq!(query::<String>(&mut con, &["HMSET", &key, "d", "4"]), "OK");
            assert_eq!(query::<i64>(&mut con, &["HSETNX", &key, "d", "no"]), 0);
            assert_eq!(query::<i64>(&mut con, &["HSETNX", &key, "e", "5"]), 1);
            assert_eq!(
                query::<Option<String>>(&mut con, &["HGET", &key, "a"]).as_deref(),
                Some("x")
            );
            assert_eq!(
                query::<Option<String>>(&mut con, &["HGET", &key, "zz"]),
                None
            );
            assert_eq!(
                query::<Vec<Option<String>>>(&mut con, &["HMGET", &key, "b", "zz"]),
                vec![Some("2".to_string()), None]
            );
            assert_eq!(query::<i64>(&mut con, &["HLEN", &key]), 5);
            assert_eq!(query::<i64>(&mut con, &["HSTRLEN", &key, "a"]), 1);
            assert_eq!(query::<i64>(&mut con, &["HEXISTS", &key, "a"]), 1);
            assert_eq!(query::<i64>(&mut con, &["HEXISTS", &key, "zz"]), 0);
            let mut keys: Vec<String> = query(&mut con, &["HKEYS", &key]);
            keys.sort();
            assert_eq!(keys, ["a", "b", "c", "d", "e"]);
            let mut values: Vec<String> = query(&mut con, &["HVALS", &key]);
            values.sort();
            assert_eq!(values, ["2", "3", "4", "5", "x"]);
            let all: BTreeMap<String, String> = query(&mut con, &["HGETALL", &key]);
            assert_eq!(all.len(), 5);
            assert_eq!(all["a"], "x");
            assert_eq!(query::<String>(&mut con, &["TYPE", &key]), "hash");
            assert_eq!(query::<i64>(&mut con, &["HDEL", &key, "a", "b", "zz"]), 2);
            assert_eq!(query::<i64>(&mut con, &["HDEL", &key, "c", "d", "e"]), 3);
            assert_eq!(query::<i64>(&mut con, &["EXISTS", &key]), 0);
        }
        assert_eq!(query::<i64>(&mut con, &["HLEN", "missing"]), 0);
        assert_eq!(
            query::<HashMap<String, String>>(&mut con, &["HGETALL", "missing"]).len(),
            0
        );
        assert_eq!(error_of(&mut con, &["HSET", "h", "a"]), arity("hset"));
        assert_eq!(
            error_of(&mut con, &["HSET", "h", "a", "1", "b"]),
            arity("hset")
        );
        assert_eq!(error_of(&mut con, &["HGET", "h"]), arity("hget"));
        assert_eq!(error_of(&mut con, &["HGETALL"]), arity("hgetall"));
    });
}

#[test]
fn increments_and_errors() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for key in numbered("counter", 8) {
            assert_eq!(query::<i64>(&mut con, &["HINCRBY", &key, "n", "5"]), 5);
            assert_eq!(query::<i64>(&mut con, &["HINCRBY", &key, "n", "-8"]), -3);
            assert_eq!(
                query::<String>(&mut con, &["HINCRBYFLOAT", &key, "f", "10.5"]),
                "10.5"
            );
            assert_eq!(
                query::<String>(&mut con, &["HINCRBYFLOAT", &key, "f", "0.1"]),
                "10.6"
            );
        }
        query::<i64>(
            &mut con,
            &["HSET", "h", "s", "abc", "big", "9223372036854775807"],
        );
        assert_eq!(
            error_of(&mut con, &["HINCRBY", "h", "s", "1"]),
            "ERR hash value is not an integer"
        );
        assert_eq!(
            error_of(&mut con, &["HINCRBY", "h", "big", "1"]),
            "ERR increment or decrement would overflow"
        );
        assert_eq!(
            error_of(&mut con, &["HINCRBY", "h", "n", "1.5"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            error_of(&mut con, &["HINCRBYFLOAT", "h", "s", "1"]),
            "ERR hash value is not a float"
        );
        assert_eq!(
            error_of(&mut con, &["HINCRBYFLOAT", "h", "f", "x"]),
            "ERR value is not a valid float"
        );
        query::<String>(&mut con, &["SET", "str", "v"]);
        for args in [
            &["HSET", "str", "a", "1"][..],
            &["HGET", "str", "a"],
            &["HGETALL", "str"],
            &["HINCRBY", "str", "a", "1"],
            &["HSCAN", "str", "0"],
            &["HRANDFIELD", "str"],
        ] {
            assert_eq!(error_of(&mut con, args), WRONGTYPE, "{args:?}");
        }
    });
}

#[test]
fn hscan_and_hrandfield() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for n in 0..200 {
            query::<i64>(&mut con, &["HSET", "big", &format!("f{n}"), &n.to_string()]);
        }
        query::<i64>(&mut con, &["HSET", "small", "a", "1", "b", "2"]);
        let (cursor, items): (String, Vec<String>) =
            query(&mut con, &["HSCAN", "small", "0", "COUNT", "1"]);
        assert_eq!((cursor.as_str(), items.len()), ("0", 4));
        let (mut cursor, mut seen) = ("0".to_string(), HashMap::new());
        loop {
            let (next, items): (String, Vec<String>) = query(
                &mut con,
                &["HSCAN", "big", &cursor, "MATCH", "f1*", "COUNT", "20"],
            );
            for pair in items.chunks(2) {
                seen.insert(pair[0].clone(), pair[1].clone());
            }
            cursor = next;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 111, "f1, f10-f19, f100-f199");
        assert_eq!(seen["f150"], "150");
        assert_eq!(
            error_of(&mut con, &["HSCAN", "big", "abc"]),
            "ERR invalid cursor"
        );

        let field: String = query(&mut con, &["HRANDFIELD", "small"]);
        assert!(field == "a" || field == "b");
        assert_eq!(
            query::<Vec<String>>(&mut con, &["HRANDFIELD", "big", "50"]).len(),
            50
        );
        assert_eq!(
            query::<Vec<String>>(&mut con, &["HRANDFIELD", "small", "-5"]).len(),
            5
        );
        let pairs: Vec<String> = query(&mut con, &["HRANDFIELD", "small", "9", "WITHVALUES"]);
        assert_eq!(pairs.len(), 4);
        assert_eq!(
            query::<Option<String>>(&mut con, &["HRANDFIELD", "missing"]),
            None
        );
        assert_eq!(
            error_of(&mut con, &["HRANDFIELD", "small", "1", "WITHSCORES"]),
            "ERR syntax error"
        );
    });
}

#[test]
fn encodings_and_their_config() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let keys = numbered("enc", 8);
        for key in &keys {
            query::<i64>(&mut con, &["HSET", key, "a", "1"]);
            assert_eq!(
                query::<String>(&mut con, &["OBJECT", "ENCODING", key]),
                "listpack"
            );
        }
        assert_eq!(
            query::<Vec<String>>(&mut con, &["CONFIG", "GET", "hash-max-listpack-*"]),
            [
                "hash-max-listpack-entries",
                "128",
                "hash-max-listpack-value",
                "64"
            ]
        );
        query::<String>(
            &mut con,
            &["CONFIG", "SET", "hash-max-listpack-entries", "2"],
        );
        for key in &keys {
            query::<i64>(&mut con, &["HSET", key, "b", "2"]);
            assert_eq!(
                query::<String>(&mut con, &["OBJECT", "ENCODING", key]),
                "listpack"
            );
            query::<i64>(&mut con, &["HSET", key, "c", "3"]);
            assert_eq!(
                query::<String>(&mut con, &["OBJECT", "ENCODING", key]),
                "hashtable"
            );
            assert_eq!(query::<i64>(&mut con, &["HLEN", key]), 3);
        }
        query::<String>(&mut con, &["CONFIG", "SET", "hash-max-listpack-value", "3"]);
        query::<i64>(&mut con, &["HSET", "long", "f", "abcd"]);
        assert_eq!(
            query::<String>(&mut con, &["OBJECT", "ENCODING", "long"]),
            "hashtable"
        );
    });
}

/// The generic key commands work on collections like on strings: TYPE, SCAN's TYPE filter,
/// EXPIRE, RENAME and COPY (also across shards), DEL.
#[test]
fn key_commands_on_collections() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let keys = numbered("coll", 8);
        query::<i64>(&mut con, &["HSET", &keys[0], "f", "v"]);
        query::<i64>(&mut con, &["SADD", &keys[1], "1", "2"]);
        query::<i64>(&mut con, &["RPUSH", &keys[2], "a", "b"]);
        for (key, kind) in [(&keys[0], "hash"), (&keys[1], "set"), (&keys[2], "list")] {
            assert_eq!(query::<String>(&mut con, &["TYPE", key]), kind);
            let mut found = Vec::new();
            let mut cursor = "0".to_string();
            loop {
                let (next, page): (String, Vec<String>) =
                    query(&mut con, &["SCAN", &cursor, "TYPE", kind, "COUNT", "100"]);
                found.extend(page);
                cursor = next;
                if cursor == "0" {
                    break;
                }
            }
            assert_eq!(found, std::slice::from_ref(key), "SCAN TYPE {kind}");
        }
        assert_eq!(query::<i64>(&mut con, &["COPY", &keys[0], &keys[3]]), 1);
        assert_eq!(
            query::<Option<String>>(&mut con, &["HGET", &keys[3], "f"]).as_deref(),
            Some("v")
        );
        query::<String>(&mut con, &["RENAME", &keys[2], &keys[4]]);
        assert_eq!(
            query::<Vec<String>>(&mut con, &["LRANGE", &keys[4], "0", "-1"]),
            ["a", "b"]
        );
        assert_eq!(query::<i64>(&mut con, &["EXPIRE", &keys[1], "100"]), 1);
        assert!(query::<i64>(&mut con, &["TTL", &keys[1]]) > 0);
        assert_eq!(query::<i64>(&mut con, &["SADD", &keys[1], "3"]), 1);
        assert!(
            query::<i64>(&mut con, &["TTL", &keys[1]]) > 0,
            "writes keep the deadline"
        );
        assert_eq!(
            query::<i64>(&mut con, &["DEL", &keys[0], &keys[1], &keys[4]]),
            3
        );
    });
}
