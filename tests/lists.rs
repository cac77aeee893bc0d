//! List commands over real sockets with the `redis` crate: every command of `t_list`, Redis 7's
//! replies and error texts, encodings and their CONFIG directives, on one, two and four shards.
//! Multi-key commands use keys sharing a `{hashtag}`, so they run on one shard in every topology.

mod common;

use common::{arity, error_of, for_each_topology, numbered, query};

const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn range(con: &mut redis::Connection, key: &str) -> Vec<String> {
    query(con, &["LRANGE", key, "0", "-1"])
}

#[test]
fn push_pop_index_on_every_shard() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for key in numbered("list", 12) {
            assert_eq!(query::<i64>(&mut con, &["RPUSH", &key, "a", "b", "c"]), 3);
            assert_eq!(query::<i64>(&mut con, &["LPUSH", &key, "x", "y"]), 5);
            assert_eq!(query::<i64>(&mut con, &["RPUSHX", &key, "z"]), 6);
            assert_eq!(query::<i64>(&mut con, &["LPUSHX", &key, "w"]), 7);
            assert_eq!(range(&mut con, &key), ["w", "y", "x", "a", "b", "c", "z"]);
            assert_eq!(
                query::<Vec<String>>(&mut con, &["LRANGE", &key, "-2", "99"]),
                ["c", "z"]
            );
            assert_eq!(query::<i64>(&mut con, &["LLEN", &key]), 7);
            assert_eq!(query::<String>(&mut con, &["LINDEX", &key, "-1"]), "z");
            assert_eq!(
                query::<Option<String>>(&mut con, &["LINDEX", &key, "7"]),
                None
            );
            assert_eq!(query::<String>(&mut con, &["LSET", &key, "0", "W"]), "OK");
            assert_eq!(query::<String>(&mut con, &["LPOP", &key]), "W");
            assert_eq!(query::<String>(&mut con, &["RPOP", &key]), "z");
            assert_eq!(
                query::<Vec<String>>(&mut con, &["LPOP", &key, "2"]),
                ["y", "x"]
            );
            assert_eq!(
                query::<Vec<String>>(&mut con, &["RPOP", &key, "5"]),
                ["c", "b", "a"]
            );
            assert_eq!(query::<i64>(&mut con, &["EXISTS", &key]), 0);
            assert_eq!(query::<String>(&mut con, &["TYPE", &key]), "none");
        }
        assert_eq!(query::<i64>(&mut con, &["LPUSHX", "missing", "a"]), 0);
        assert_eq!(
            query::<Option<String>>(&mut con, &["LPOP", "missing"]),
            None
        );
        assert_eq!(
            query::<Option<Vec<String>>>(&mut con, &["LPOP", "missing", "2"]),
            None
        );
        assert_eq!(
            error_of(&mut con, &["LSET", "missing", "0", "a"]),
            "ERR no such key"
        );
        query::<i64>(&mut con, &["RPUSH", "l", "a"]);
        assert_eq!(
            error_of(&mut con, &["LSET", "l", "5", "a"]),
            "ERR index out of range"
        );
        assert_eq!(
            error_of(&mut con, &["LPOP", "l", "-1"]),
            "ERR value is out of range, must be positive"
        );
        assert_eq!(error_of(&mut con, &["LPOP", "l", "1", "2"]), arity("lpop"));
        assert_eq!(error_of(&mut con, &["RPUSH", "l"]), arity("rpush"));
        query::<String>(&mut con, &["SET", "str", "v"]);
        for args in [
            &["LPUSH", "str", "a"][..],
            &["LRANGE", "str", "0", "1"],
            &["LPOP", "str"],
            &["LPOS", "str", "a"],
        ] {
            assert_eq!(error_of(&mut con, args), WRONGTYPE, "{args:?}");
        }
    });
}

#[test]
fn insert_remove_trim_pos() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for key in numbered("edit", 6) {
            query::<i64>(
                &mut con,
                &["RPUSH", &key, "x", "a", "x", "b", "x", "c", "x"],
            );
            assert_eq!(
                query::<i64>(&mut con, &["LINSERT", &key, "BEFORE", "b", "B"]),
                8
            );
            assert_eq!(
                query::<i64>(&mut con, &["LINSERT", &key, "AFTER", "nope", "B"]),
                -1
            );
            assert_eq!(
                error_of(&mut con, &["LINSERT", &key, "NEAR", "b", "B"]),
                "ERR syntax error"
            );
            assert_eq!(query::<i64>(&mut con, &["LPOS", &key, "x"]), 0);
            assert_eq!(
                query::<i64>(&mut con, &["LPOS", &key, "x", "RANK", "-1"]),
                7
            );
            assert_eq!(
                query::<Vec<i64>>(&mut con, &["LPOS", &key, "x", "COUNT", "0"]),
                [0, 2, 5, 7]
            );
            assert_eq!(
                query::<Option<i64>>(&mut con, &["LPOS", &key, "nope"]),
                None
            );
            assert_eq!(
                error_of(&mut con, &["LPOS", &key, "x", "RANK", "0"]),
                "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list"
            );
            assert_eq!(query::<i64>(&mut con, &["LREM", &key, "-1", "x"]), 1);
            assert_eq!(query::<i64>(&mut con, &["LREM", &key, "0", "x"]), 3);
            assert_eq!(range(&mut con, &key), ["a", "B", "b", "c"]);
            assert_eq!(query::<String>(&mut con, &["LTRIM", &key, "1", "-2"]), "OK");
            assert_eq!(range(&mut con, &key), ["B", "b"]);
            assert_eq!(query::<String>(&mut con, &["LTRIM", &key, "5", "1"]), "OK");
            assert_eq!(query::<i64>(&mut con, &["EXISTS", &key]), 0);
        }
    });
}

#[test]
fn moves_with_hashtags() {
    for_each_topology(|server| {
        let mut con = server.connection();
        query::<i64>(&mut con, &["RPUSH", "{t}src", "a", "b", "c"]);
        assert_eq!(
            query::<String>(&mut con, &["LMOVE", "{t}src", "{t}dst", "LEFT", "RIGHT"]),
            "a"
        );
        assert_eq!(
            query::<String>(&mut con, &["RPOPLPUSH", "{t}src", "{t}dst"]),
            "c"
        );
        assert_eq!(range(&mut con, "{t}dst"), ["c", "a"]);
        assert_eq!(
            query::<String>(&mut con, &["LMOVE", "{t}dst", "{t}dst", "LEFT", "RIGHT"]),
            "c"
        );
        assert_eq!(range(&mut con, "{t}dst"), ["a", "c"]);
        assert_eq!(
            query::<Option<String>>(&mut con, &["RPOPLPUSH", "{t}none", "{t}dst"]),
            None
        );
        assert_eq!(
            error_of(&mut con, &["LMOVE", "{t}src", "{t}dst", "UP", "LEFT"]),
            "ERR syntax error"
        );
        query::<String>(&mut con, &["SET", "{t}str", "v"]);
        assert_eq!(
            error_of(&mut con, &["LMOVE", "{t}src", "{t}str", "LEFT", "LEFT"]),
            WRONGTYPE
        );
        let (key, items): (String, Vec<String>) = query(
            &mut con,
            &[
                "LMPOP", "3", "{t}none", "{t}src", "{t}dst", "LEFT", "COUNT", "5",
            ],
        );
        assert_eq!((key.as_str(), items), ("{t}src", vec!["b".to_string()]));
        let (key, items): (String, Vec<String>) =
            query(&mut con, &["LMPOP", "2", "{t}src", "{t}dst", "RIGHT"]);
        assert_eq!((key.as_str(), items), ("{t}dst", vec!["c".to_string()]));
        assert_eq!(
            query::<Option<(String, Vec<String>)>>(&mut con, &["LMPOP", "1", "{t}none", "LEFT"]),
            None
        );
        assert_eq!(
            error_of(&mut con, &["LMPOP", "0", "{t}src", "LEFT"]),
            "ERR numkeys should be greater than 0"
        );
        assert_eq!(
            error_of(&mut con, &["LMPOP", "1", "{t}dst", "LEFT", "COUNT", "0"]),
            "ERR count should be greater than 0"
        );
    });
}

#[test]
fn encodings_and_their_config() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let keys = numbered("enc", 8);
        assert_eq!(
            query::<Vec<String>>(&mut con, &["CONFIG", "GET", "list-*"]),
            [
                "list-max-listpack-size",
                "-2",
                "list-compress-depth",
                "0",
                "list-max-ziplist-size",
                "-2"
            ]
        );
        query::<String>(&mut con, &["CONFIG", "SET", "list-max-listpack-size", "3"]);
        query::<String>(&mut con, &["CONFIG", "SET", "list-compress-depth", "1"]);
        for key in &keys {
            query::<i64>(&mut con, &["RPUSH", key, "1", "2", "3"]);
            assert_eq!(
                query::<String>(&mut con, &["OBJECT", "ENCODING", key]),
                "listpack"
            );
            query::<i64>(&mut con, &["RPUSH", key, "4"]);
            assert_eq!(
                query::<String>(&mut con, &["OBJECT", "ENCODING", key]),
                "quicklist"
            );
            query::<String>(&mut con, &["LTRIM", key, "0", "0"]);
            assert_eq!(
                query::<String>(&mut con, &["OBJECT", "ENCODING", key]),
                "listpack"
            );
        }
        query::<String>(&mut con, &["CONFIG", "SET", "list-max-listpack-size", "-2"]);
        let items: Vec<String> = (0..5000).map(|n| format!("item-{n}")).collect();
        let mut push = redis::cmd("RPUSH");
        push.arg("long").arg(&items);
        assert_eq!(push.query::<i64>(&mut con).unwrap(), 5000);
        assert_eq!(
            query::<String>(&mut con, &["OBJECT", "ENCODING", "long"]),
            "quicklist"
        );
        assert_eq!(
            query::<String>(&mut con, &["LINDEX", "long", "4321"]),
            "item-4321"
        );
        assert_eq!(range(&mut con, "long"), items);
    });
}

#[test]
fn multi_key_commands_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        // Keys without a hashtag: with several shards they land on different ones.
        let keys = numbered("cross", 5);
        let (src, dst, other) = (&keys[0], &keys[1], &keys[2]);
        query::<i64>(&mut con, &["RPUSH", src, "a", "b", "c"]);
        assert_eq!(
            query::<String>(&mut con, &["LMOVE", src, dst, "LEFT", "RIGHT"]),
            "a"
        );
        assert_eq!(query::<String>(&mut con, &["RPOPLPUSH", src, dst]), "c");
        assert_eq!(range(&mut con, dst), ["c", "a"]);
        assert_eq!(range(&mut con, src), ["b"]);
        assert_eq!(
            query::<String>(&mut con, &["LMOVE", src, other, "RIGHT", "LEFT"]),
            "b"
        );
        assert_eq!(query::<i64>(&mut con, &["EXISTS", src]), 0);
        assert_eq!(
            query::<Option<String>>(&mut con, &["RPOPLPUSH", src, dst]),
            None
        );
        let (key, items): (String, Vec<String>) = query(
            &mut con,
            &["LMPOP", "3", src, dst, other, "LEFT", "COUNT", "5"],
        );
        assert_eq!((&key, items), (dst, vec!["c".to_string(), "a".to_string()]));
        assert_eq!(query::<i64>(&mut con, &["EXISTS", dst]), 0);
        assert_eq!(
            query::<Vec<String>>(
                &mut con,
                &["COMMAND", "GETKEYS", "LMPOP", "2", src, dst, "LEFT"]
            ),
            [src.as_str(), dst.as_str()]
        );
        query::<String>(&mut con, &["SET", &keys[3], "v"]);
        assert_eq!(
            error_of(&mut con, &["LMOVE", other, &keys[3], "LEFT", "LEFT"]),
            WRONGTYPE
        );
        assert_eq!(range(&mut con, other), ["b"], "nothing moved on WRONGTYPE");
    });
}
