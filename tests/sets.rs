//! Set commands over real sockets with the `redis` crate: every command of `t_set`, Redis 7's
//! replies and error texts, encodings and their CONFIG directives, on one, two and four shards.
//! Multi-key commands use keys sharing a `{hashtag}`, so they run on one shard in every topology.

mod common;

use std::collections::BTreeSet;

use common::{arity, error_of, for_each_topology, numbered, query};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn members(con: &mut redis::Connection, key: &str) -> BTreeSet<String> {
    query(con, &["SMEMBERS", key])
}

fn set_of(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|item| item.to_string()).collect()
}

#[test]
fn add_remove_query_on_every_shard() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for key in numbered("set", 12) {
            assert_eq!(
                query::<i64>(&mut con, &["SADD", &key, "a", "b", "a", "1"]),
                3
            );
            assert_eq!(query::<i64>(&mut con, &["SCARD", &key]), 3);
            assert_eq!(members(&mut con, &key), set_of(&["1", "a", "b"]));
            assert_eq!(query::<i64>(&mut con, &["SISMEMBER", &key, "a"]), 1);
            assert_eq!(query::<i64>(&mut con, &["SISMEMBER", &key, "z"]), 0);
            assert_eq!(
                query::<Vec<i64>>(&mut con, &["SMISMEMBER", &key, "a", "z", "1"]),
                [1, 0, 1]
            );
            assert_eq!(query::<String>(&mut con, &["TYPE", &key]), "set");
            assert_eq!(query::<i64>(&mut con, &["SREM", &key, "a", "z"]), 1);
            assert_eq!(query::<i64>(&mut con, &["SREM", &key, "b", "1"]), 2);
            assert_eq!(query::<i64>(&mut con, &["EXISTS", &key]), 0);
        }
        assert_eq!(members(&mut con, "missing"), BTreeSet::new());
        assert_eq!(error_of(&mut con, &["SADD", "s"]), arity("sadd"));
        assert_eq!(error_of(&mut con, &["SCARD"]), arity("scard"));
        query::<String>(&mut con, &["SET", "str", "v"]);
        for args in [
            &["SADD", "str", "a"][..],
            &["SMEMBERS", "str"],
            &["SPOP", "str"],
            &["SSCAN", "str", "0"],
        ] {
            assert_eq!(error_of(&mut con, args), WRONGTYPE, "{args:?}");
        }
    });
}

#[test]
fn spop_srandmember_sscan() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for key in numbered("pop", 6) {
            query::<i64>(&mut con, &["SADD", &key, "a", "b", "c", "d", "e"]);
            let one: String = query(&mut con, &["SPOP", &key]);
            assert_eq!(query::<i64>(&mut con, &["SISMEMBER", &key, &one]), 0);
            let two: BTreeSet<String> = query(&mut con, &["SPOP", &key, "2"]);
            assert_eq!(two.len(), 2);
            assert_eq!(query::<i64>(&mut con, &["SCARD", &key]), 2);
            let random: Vec<String> = query(&mut con, &["SRANDMEMBER", &key, "-6"]);
            assert_eq!(random.len(), 6);
            let distinct: BTreeSet<String> = query(&mut con, &["SRANDMEMBER", &key, "6"]);
            assert_eq!(distinct, members(&mut con, &key));
            let rest: BTreeSet<String> = query(&mut con, &["SPOP", &key, "10"]);
            assert_eq!(rest.len(), 2);
            assert_eq!(query::<i64>(&mut con, &["EXISTS", &key]), 0);
        }
        assert_eq!(
            query::<Option<String>>(&mut con, &["SPOP", "missing"]),
            None
        );
        assert_eq!(
            query::<Option<String>>(&mut con, &["SRANDMEMBER", "missing"]),
            None
        );
        assert_eq!(
            error_of(&mut con, &["SPOP", "k", "-1"]),
            "ERR value is out of range, must be positive"
        );
        for n in 0..600 {
            query::<i64>(&mut con, &["SADD", "big", &n.to_string()]);
        }
        assert_eq!(
            query::<String>(&mut con, &["OBJECT", "ENCODING", "big"]),
            "hashtable"
        );
        let (mut cursor, mut seen) = ("0".to_string(), BTreeSet::new());
        loop {
            let (next, items): (String, Vec<String>) =
                query(&mut con, &["SSCAN", "big", &cursor, "COUNT", "33"]);
            seen.extend(items);
            cursor = next;
            if cursor == "0" {
                break;
            }
        }
        assert_eq!(seen.len(), 600);
    });
}

#[test]
fn algebra_and_moves_with_hashtags() {
    for_each_topology(|server| {
        let mut con = server.connection();
        query::<i64>(&mut con, &["SADD", "{t}a", "1", "2", "3", "x"]);
        query::<i64>(&mut con, &["SADD", "{t}b", "2", "3", "4"]);
        query::<i64>(&mut con, &["SADD", "{t}c", "3", "x", "y"]);
        let inter: BTreeSet<String> = query(&mut con, &["SINTER", "{t}a", "{t}b", "{t}c"]);
        assert_eq!(inter, set_of(&["3"]));
        let union: BTreeSet<String> = query(&mut con, &["SUNION", "{t}a", "{t}b", "{t}none"]);
        assert_eq!(union, set_of(&["1", "2", "3", "4", "x"]));
        let diff: BTreeSet<String> = query(&mut con, &["SDIFF", "{t}a", "{t}b"]);
        assert_eq!(diff, set_of(&["1", "x"]));
        assert_eq!(
            query::<i64>(&mut con, &["SINTERSTORE", "{t}d", "{t}a", "{t}c"]),
            2
        );
        assert_eq!(members(&mut con, "{t}d"), set_of(&["3", "x"]));
        assert_eq!(
            query::<i64>(&mut con, &["SUNIONSTORE", "{t}d", "{t}b", "{t}c"]),
            5
        );
        assert_eq!(
            query::<i64>(&mut con, &["SDIFFSTORE", "{t}d", "{t}b", "{t}a"]),
            1
        );
        assert_eq!(members(&mut con, "{t}d"), set_of(&["4"]));
        assert_eq!(
            query::<i64>(&mut con, &["SDIFFSTORE", "{t}d", "{t}a", "{t}a"]),
            0
        );
        assert_eq!(query::<i64>(&mut con, &["EXISTS", "{t}d"]), 0);
        assert_eq!(
            query::<i64>(&mut con, &["SINTERCARD", "2", "{t}a", "{t}b"]),
            2
        );
        assert_eq!(
            query::<i64>(&mut con, &["SINTERCARD", "2", "{t}a", "{t}b", "LIMIT", "1"]),
            1
        );
        assert_eq!(
            error_of(&mut con, &["SINTERCARD", "0", "{t}a"]),
            "ERR numkeys should be greater than 0"
        );
        assert_eq!(
            error_of(&mut con, &["SINTERCARD", "3", "{t}a"]),
            "ERR Number of keys can't be greater than number of args"
        );
        assert_eq!(query::<i64>(&mut con, &["SMOVE", "{t}a", "{t}new", "1"]), 1);
        assert_eq!(query::<i64>(&mut con, &["SMOVE", "{t}a", "{t}new", "1"]), 0);
        assert_eq!(members(&mut con, "{t}new"), set_of(&["1"]));
        query::<String>(&mut con, &["SET", "{t}str", "v"]);
        assert_eq!(
            error_of(&mut con, &["SMOVE", "{t}a", "{t}str", "2"]),
            WRONGTYPE
        );
        assert_eq!(error_of(&mut con, &["SINTER", "{t}a", "{t}str"]), WRONGTYPE);
        assert_eq!(
            error_of(&mut con, &["SUNIONSTORE", "{t}d", "{t}str"]),
            WRONGTYPE
        );
    });
}

#[test]
fn encodings_and_their_config() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let keys = numbered("enc", 8);
        for key in &keys {
            query::<i64>(&mut con, &["SADD", key, "1", "2"]);
            assert_eq!(
                query::<String>(&mut con, &["OBJECT", "ENCODING", key]),
                "intset"
            );
        }
        assert_eq!(
            query::<Vec<String>>(&mut con, &["CONFIG", "GET", "set-max-*"]),
            [
                "set-max-intset-entries",
                "512",
                "set-max-listpack-entries",
                "128",
                "set-max-listpack-value",
                "64"
            ]
        );
        query::<String>(&mut con, &["CONFIG", "SET", "set-max-intset-entries", "2"]);
        for key in &keys {
            query::<i64>(&mut con, &["SADD", key, "3"]);
            assert_eq!(
                query::<String>(&mut con, &["OBJECT", "ENCODING", key]),
                "hashtable"
            );
        }
        query::<i64>(&mut con, &["SADD", "mixed", "1", "a"]);
        assert_eq!(
            query::<String>(&mut con, &["OBJECT", "ENCODING", "mixed"]),
            "listpack"
        );
        query::<String>(
            &mut con,
            &["CONFIG", "SET", "set-max-listpack-entries", "2"],
        );
        query::<i64>(&mut con, &["SADD", "mixed", "b"]);
        assert_eq!(
            query::<String>(&mut con, &["OBJECT", "ENCODING", "mixed"]),
            "hashtable"
        );
    });
}

#[test]
fn multi_key_commands_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        // Keys without a hashtag: with several shards they land on different ones.
        let keys = numbered("cross", 6);
        let (a, b, c, d) = (&keys[0], &keys[1], &keys[2], &keys[3]);
        query::<i64>(&mut con, &["SADD", a, "1", "2", "3", "x"]);
        query::<i64>(&mut con, &["SADD", b, "2", "3", "4"]);
        query::<i64>(&mut con, &["SADD", c, "3", "x", "y"]);
        let inter: BTreeSet<String> = query(&mut con, &["SINTER", a, b, c]);
        assert_eq!(inter, set_of(&["3"]));
        let union: BTreeSet<String> = query(&mut con, &["SUNION", a, b, &keys[5]]);
        assert_eq!(union, set_of(&["1", "2", "3", "4", "x"]));
        let diff: BTreeSet<String> = query(&mut con, &["SDIFF", a, b, c]);
        assert_eq!(diff, set_of(&["1"]));
        assert_eq!(query::<i64>(&mut con, &["SINTERSTORE", d, a, b]), 2);
        assert_eq!(members(&mut con, d), set_of(&["2", "3"]));
        assert_eq!(query::<i64>(&mut con, &["SUNIONSTORE", d, b, c]), 5);
        assert_eq!(query::<i64>(&mut con, &["SDIFFSTORE", d, a, b]), 2);
        assert_eq!(members(&mut con, d), set_of(&["1", "x"]));
        assert_eq!(query::<i64>(&mut con, &["SDIFFSTORE", d, a, a]), 0);
        assert_eq!(query::<i64>(&mut con, &["EXISTS", d]), 0);
        assert_eq!(query::<i64>(&mut con, &["SINTERCARD", "3", a, b, c]), 1);
        assert_eq!(
            query::<i64>(&mut con, &["SINTERCARD", "2", a, b, "LIMIT", "1"]),
            1
        );
        assert_eq!(
            query::<Vec<String>>(
                &mut con,
                &["COMMAND", "GETKEYS", "SINTERCARD", "2", a, b, "LIMIT", "1"]
            ),
            [a.as_str(), b.as_str()]
        );
        assert_eq!(query::<i64>(&mut con, &["SMOVE", a, b, "1"]), 1);
        assert_eq!(query::<i64>(&mut con, &["SMOVE", a, b, "1"]), 0);
        assert_eq!(members(&mut con, b), set_of(&["1", "2", "3", "4"]));
        query::<i64>(&mut con, &["SREM", a, "2", "3"]);
        assert_eq!(query::<i64>(&mut con, &["SMOVE", a, c, "x"]), 1);
        assert_eq!(
            query::<i64>(&mut con, &["EXISTS", a]),
            0,
            "the last member took the key"
        );
        query::<String>(&mut con, &["SET", &keys[4], "v"]);
        assert_eq!(error_of(&mut con, &["SMOVE", b, &keys[4], "2"]), WRONGTYPE);
        assert_eq!(error_of(&mut con, &["SINTER", b, &keys[4]]), WRONGTYPE);
        assert_eq!(
            error_of(&mut con, &["SUNIONSTORE", d, b, &keys[4]]),
            WRONGTYPE
        );
        assert_eq!(members(&mut con, b), set_of(&["1", "2", "3", "4"]));
    });
}

/// RESP3 reply types, byte for byte: sets for SMEMBERS/SINTER/SPOP with a count, a map for
/// HGETALL, nulls for missing lists, as Redis 7 sends them after `HELLO 3`.
#[test]
fn resp3_reply_types() {
    let server = common::TestServer::start(2);
    let mut raw = server.raw();
    raw.send(&common::resp(&["HELLO", "3"]));
    raw.read_reply().expect("hello reply");
    raw.roundtrip(&common::resp(&["SADD", "s", "a"]), b":1\r\n");
    raw.roundtrip(&common::resp(&["SMEMBERS", "s"]), b"~1\r\n$1\r\na\r\n");
    raw.roundtrip(&common::resp(&["SINTER", "s"]), b"~1\r\n$1\r\na\r\n");
    raw.roundtrip(&common::resp(&["SMEMBERS", "none"]), b"~0\r\n");
    raw.roundtrip(&common::resp(&["SPOP", "none", "1"]), b"~0\r\n");
    raw.roundtrip(&common::resp(&["SPOP", "none"]), b"_\r\n");
    raw.roundtrip(&common::resp(&["HSET", "h", "f", "v"]), b":1\r\n");
    raw.roundtrip(
        &common::resp(&["HGETALL", "h"]),
        b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    raw.roundtrip(&common::resp(&["HGETALL", "none"]), b"%0\r\n");
    raw.roundtrip(&common::resp(&["LPOP", "none", "2"]), b"_\r\n");
    raw.roundtrip(&common::resp(&["LMPOP", "1", "none", "LEFT"]), b"_\r\n");
    raw.roundtrip(&common::resp(&["LINDEX", "none", "0"]), b"_\r\n");
}
