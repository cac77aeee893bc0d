//! Sorted-set commands over real sockets with the `redis` crate, against one, two and four
//! shards: replies, Redis 7's error texts, RESP3 shapes, encodings and their directives, and the
//! multi-key commands with keys spread over different shards (no hashtags), which take the
//! server's cross-shard path.

mod common;

use common::{
    arity, error_of, for_each_topology, numbered, query, resp, temp_data_dir, TestServer,
    TOPOLOGIES,
};
use redis::Connection;

const SYNTAX: &str = "ERR syntax error";
const WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";

fn members(con: &mut Connection, args: &[&str]) -> Vec<String> {
    query(con, args)
}

fn zrange_all(con: &mut Connection, key: &str) -> Vec<String> {
    members(con, &["ZRANGE", key, "0", "-1", "WITHSCORES"])
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| item.to_string()).collect()
}

#[test]
fn zadd_options_scores_and_removal() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for key in numbered("board", 8) {
            assert_eq!(
                query::<i64>(&mut con, &["ZADD", &key, "1", "a", "2", "b", "3", "c"]),
                3
            );
            assert_eq!(
                query::<i64>(&mut con, &["ZADD", &key, "NX", "9", "a", "4", "d"]),
                1
            );
            assert_eq!(
                query::<i64>(&mut con, &["ZADD", &key, "XX", "CH", "5", "a", "9", "z"]),
                1
            );
            assert_eq!(
                query::<i64>(&mut con, &["ZADD", &key, "GT", "CH", "1", "a", "7", "b"]),
                1
            );
            assert_eq!(
                query::<i64>(&mut con, &["ZADD", &key, "LT", "CH", "6", "c"]),
                0
            );
            assert_eq!(
                query::<Option<String>>(&mut con, &["ZADD", &key, "INCR", "0.5", "a"]).as_deref(),
                Some("5.5")
            );
            assert_eq!(
                query::<Option<String>>(&mut con, &["ZADD", &key, "NX", "INCR", "1", "a"]),
                None
            );
            assert_eq!(
                query::<String>(&mut con, &["ZINCRBY", &key, "-1.5", "a"]),
                "4"
            );
            assert_eq!(query::<i64>(&mut con, &["ZCARD", &key]), 4);
            assert_eq!(
                query::<Option<String>>(&mut con, &["ZSCORE", &key, "b"]).as_deref(),
                Some("7")
            );
            assert_eq!(
                query::<Vec<Option<String>>>(&mut con, &["ZMSCORE", &key, "a", "nope", "d"]),
                vec![Some("4".to_string()), None, Some("4".to_string())]
            );
            assert_eq!(query::<i64>(&mut con, &["ZRANK", &key, "b"]), 3);
            assert_eq!(query::<i64>(&mut con, &["ZREVRANK", &key, "b"]), 0);
            assert_eq!(
                query::<(i64, String)>(&mut con, &["ZRANK", &key, "c", "WITHSCORE"]),
                (0, "3".to_string())
            );
            assert_eq!(
                query::<Option<i64>>(&mut con, &["ZRANK", &key, "nope"]),
                None
            );
            assert_eq!(query::<i64>(&mut con, &["ZREM", &key, "a", "b", "x"]), 2);
            assert_eq!(query::<i64>(&mut con, &["ZREM", &key, "c", "d"]), 2);
            assert_eq!(query::<i64>(&mut con, &["EXISTS", &key]), 0);
        }
        assert_eq!(error_of(&mut con, &["ZADD", "k", "1"]), arity("zadd"));
        assert_eq!(error_of(&mut con, &["ZADD", "k", "XX", "1"]), SYNTAX);
        assert_eq!(
            error_of(&mut con, &["ZADD", "k", "NX", "XX", "1", "a"]),
            "ERR XX and NX options at the same time are not compatible"
        );
        assert_eq!(
            error_of(&mut con, &["ZADD", "k", "GT", "LT", "1", "a"]),
            "ERR GT, LT, and/or NX options at the same time are not compatible"
        );
        assert_eq!(
            error_of(&mut con, &["ZADD", "k", "INCR", "1", "a", "2", "b"]),
            "ERR INCR option supports a single increment-element pair"
        );
        assert_eq!(
            error_of(&mut con, &["ZADD", "k", "one", "a"]),
            "ERR value is not a valid float"
        );
        query::<i64>(&mut con, &["ZADD", "inf", "inf", "a"]);
        assert_eq!(
            error_of(&mut con, &["ZINCRBY", "inf", "-inf", "a"]),
            "ERR resulting score is not a number (NaN)"
        );
        query::<String>(&mut con, &["SET", "str", "v"]);
        for args in [
            &["ZADD", "str", "1", "a"][..],
            &["ZSCORE", "str", "a"],
            &["ZRANGE", "str", "0", "1"],
            &["ZCARD", "str"],
        ] {
            assert_eq!(error_of(&mut con, args), WRONGTYPE, "{args:?}");
        }
        assert_eq!(query::<String>(&mut con, &["TYPE", "inf"]), "zset");
    });
}

#[test]
fn ranges_by_rank_score_and_lex() {
    for_each_topology(|server| {
        let mut con = server.connection();
        query::<i64>(
            &mut con,
            &[
                "ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e",
            ],
        );
        assert_eq!(
            members(&mut con, &["ZRANGE", "z", "1", "-2"]),
            strings(&["b", "c", "d"])
        );
        assert_eq!(
            members(&mut con, &["ZREVRANGE", "z", "0", "1", "WITHSCORES"]),
            strings(&["e", "5", "d", "4"])
        );
        assert_eq!(
            members(
                &mut con,
                &["ZRANGE", "z", "(1", "4", "BYSCORE", "LIMIT", "1", "2"]
            ),
            strings(&["c", "d"])
        );
        assert_eq!(
            members(
                &mut con,
                &["ZRANGE", "z", "+inf", "-inf", "BYSCORE", "REV", "LIMIT", "0", "2"]
            ),
            strings(&["e", "d"])
        );
        assert_eq!(
            members(&mut con, &["ZRANGEBYSCORE", "z", "2", "(4", "WITHSCORES"]),
            strings(&["b", "2", "c", "3"])
        );
        assert_eq!(
            members(&mut con, &["ZREVRANGEBYSCORE", "z", "(5", "-inf"]),
            strings(&["d", "c", "b", "a"])
        );
        assert_eq!(query::<i64>(&mut con, &["ZCOUNT", "z", "(1", "+inf"]), 4);
        query::<i64>(
            &mut con,
            &[
                "ZADD", "lex", "0", "alpha", "0", "beta", "0", "gamma", "0", "delta",
            ],
        );
        assert_eq!(
            members(&mut con, &["ZRANGEBYLEX", "lex", "[beta", "(gamma"]),
            strings(&["beta", "delta"])
        );
        assert_eq!(
            members(
                &mut con,
                &["ZREVRANGEBYLEX", "lex", "+", "-", "LIMIT", "1", "2"]
            ),
            strings(&["delta", "beta"])
        );
        assert_eq!(
            members(&mut con, &["ZRANGE", "lex", "-", "(beta", "BYLEX"]),
            strings(&["alpha"])
        );
        assert_eq!(query::<i64>(&mut con, &["ZLEXCOUNT", "lex", "-", "+"]), 4);
        assert_eq!(
            query::<i64>(&mut con, &["ZREMRANGEBYLEX", "lex", "[alpha", "[beta"]),
            2
        );
        assert_eq!(
            query::<i64>(&mut con, &["ZREMRANGEBYSCORE", "z", "-inf", "(2"]),
            1
        );
        assert_eq!(
            query::<i64>(&mut con, &["ZREMRANGEBYRANK", "z", "0", "1"]),
            2
        );
        assert_eq!(zrange_all(&mut con, "z"), strings(&["d", "4", "e", "5"]));
        assert_eq!(
            members(&mut con, &["ZRANGE", "missing", "0", "-1"]),
            Vec::<String>::new()
        );

        assert_eq!(
            error_of(&mut con, &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        );
        assert_eq!(
            error_of(&mut con, &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"]),
            "ERR syntax error, WITHSCORES not supported in combination with BYLEX"
        );
        assert_eq!(
            error_of(&mut con, &["ZRANGEBYSCORE", "z", "x", "1"]),
            "ERR min or max is not a float"
        );
        assert_eq!(
            error_of(&mut con, &["ZLEXCOUNT", "lex", "a", "+"]),
            "ERR min or max not valid string range item"
        );
        assert_eq!(
            error_of(&mut con, &["ZRANGE", "z", "x", "1"]),
            "ERR value is not an integer or out of range"
        );
        assert_eq!(
            error_of(&mut con, &["ZRANGE", "z", "0", "1", "BOGUS"]),
            SYNTAX
        );
    });
}

#[test]
fn pops_random_members_and_scan() {
    for_each_topology(|server| {
        let mut con = server.connection();
        query::<i64>(
            &mut con,
            &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
        );
        assert_eq!(members(&mut con, &["ZPOPMIN", "z"]), strings(&["a", "1"]));
        assert_eq!(
            members(&mut con, &["ZPOPMAX", "z", "2"]),
            strings(&["d", "4", "c", "3"])
        );
        assert_eq!(
            members(&mut con, &["ZPOPMAX", "z", "5"]),
            strings(&["b", "2"])
        );
        assert_eq!(query::<i64>(&mut con, &["EXISTS", "z"]), 0);
        assert_eq!(members(&mut con, &["ZPOPMIN", "z"]), Vec::<String>::new());
        assert_eq!(
            error_of(&mut con, &["ZPOPMIN", "z", "-2"]),
            "ERR value is out of range, must be positive"
        );

        query::<i64>(&mut con, &["ZADD", "r", "1", "a", "2", "b", "3", "c"]);
        let one: String = query(&mut con, &["ZRANDMEMBER", "r"]);
        assert!(["a", "b", "c"].contains(&one.as_str()));
        let mut distinct = members(&mut con, &["ZRANDMEMBER", "r", "2"]);
        distinct.sort();
        distinct.dedup();
        assert_eq!(distinct.len(), 2);
        assert_eq!(members(&mut con, &["ZRANDMEMBER", "r", "-7"]).len(), 7);
        assert_eq!(
            members(&mut con, &["ZRANDMEMBER", "r", "5", "WITHSCORES"]).len(),
            6
        );
        assert_eq!(
            query::<Option<String>>(&mut con, &["ZRANDMEMBER", "nokey"]),
            None
        );

        // A large set, scanned to the end while members come and go.
        let mut pipe = redis::pipe();
        for n in 0..2_000 {
            pipe.cmd("ZADD")
                .arg("big")
                .arg(n)
                .arg(format!("member:{n}"));
        }
        pipe.query::<()>(&mut con).unwrap();
        assert_eq!(
            query::<String>(&mut con, &["OBJECT", "ENCODING", "big"]),
            "skiplist"
        );
        let mut seen = std::collections::HashSet::new();
        let mut cursor = "0".to_string();
        let mut churn = 0;
        loop {
            let (next, items): (String, Vec<String>) =
                query(&mut con, &["ZSCAN", "big", &cursor, "COUNT", "100"]);
            for pair in items.chunks(2) {
                seen.insert(pair[0].clone());
            }
            query::<i64>(&mut con, &["ZADD", "big", "0", &format!("new:{churn}")]);
            churn += 1;
            cursor = next;
            if cursor == "0" {
                break;
            }
        }
        for n in 0..2_000 {
            assert!(seen.contains(&format!("member:{n}")), "member:{n} missed");
        }
        let (cursor, items): (String, Vec<String>) =
            query(&mut con, &["ZSCAN", "r", "0", "MATCH", "[ab]"]);
        assert_eq!(
            (cursor.as_str(), items),
            ("0", strings(&["a", "1", "b", "2"]))
        );
        assert_eq!(
            error_of(&mut con, &["ZSCAN", "r", "nope"]),
            "ERR invalid cursor"
        );
    });
}

/// Keys that land on different shards of a multi-shard server (no hashtags).
fn spread_keys() -> (String, String, String) {
    (
        "zleft".to_string(),
        "zright".to_string(),
        "zdest".to_string(),
    )
}

#[test]
fn set_operations_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let (a, b, dest) = spread_keys();
        for n in 0..20 {
            let key = format!("{a}{n}");
            query::<i64>(&mut con, &["ZADD", &key, "1", "x", "2", "y", "3", "z"]);
            let other = format!("{b}{n}");
            query::<i64>(&mut con, &["ZADD", &other, "10", "y", "20", "z", "30", "w"]);
            let dst = format!("{dest}{n}");
            assert_eq!(
                query::<i64>(
                    &mut con,
                    &["ZUNIONSTORE", &dst, "2", &key, &other, "WEIGHTS", "2", "1"]
                ),
                4
            );
            assert_eq!(
                zrange_all(&mut con, &dst),
                strings(&["x", "2", "y", "14", "z", "26", "w", "30"])
            );
            assert_eq!(
                query::<i64>(
                    &mut con,
                    &["ZINTERSTORE", &dst, "2", &key, &other, "AGGREGATE", "MIN"]
                ),
                2
            );
            assert_eq!(zrange_all(&mut con, &dst), strings(&["y", "2", "z", "3"]));
            assert_eq!(
                query::<i64>(&mut con, &["ZDIFFSTORE", &dst, "2", &key, &other]),
                1
            );
            assert_eq!(zrange_all(&mut con, &dst), strings(&["x", "1"]));
            assert_eq!(
                members(&mut con, &["ZUNION", "2", &key, &other]),
                strings(&["x", "y", "z", "w"])
            );
            assert_eq!(
                members(&mut con, &["ZINTER", "2", &key, &other, "WITHSCORES"]),
                strings(&["y", "12", "z", "23"])
            );
            assert_eq!(
                members(&mut con, &["ZDIFF", "2", &other, &key]),
                strings(&["w"])
            );
            assert_eq!(
                query::<i64>(&mut con, &["ZINTERCARD", "2", &key, &other]),
                2
            );
            assert_eq!(
                query::<i64>(&mut con, &["ZINTERCARD", "2", &key, &other, "LIMIT", "1"]),
                1
            );
            assert_eq!(
                query::<i64>(&mut con, &["ZRANGESTORE", &dst, &other, "1", "-1"]),
                2
            );
            assert_eq!(zrange_all(&mut con, &dst), strings(&["z", "20", "w", "30"]));
            assert_eq!(
                query::<i64>(&mut con, &["ZINTERSTORE", &dst, "2", &key, "nokey"]),
                0
            );
            assert_eq!(query::<i64>(&mut con, &["EXISTS", &dst]), 0);
        }
        assert_eq!(
            error_of(&mut con, &["ZUNIONSTORE", "d", "0", "a"]),
            "ERR at least 1 input key is needed for 'zunionstore' command"
        );
        assert_eq!(error_of(&mut con, &["ZINTER", "3", "a", "b"]), SYNTAX);
        assert_eq!(
            error_of(&mut con, &["ZUNION", "2", "a", "b", "WEIGHTS", "1", "x"]),
            "ERR weight value is not a float"
        );
        // Plain sets take part with every member scoring 1.
        for n in 0..6 {
            let (set, key) = (format!("plain{n}"), format!("{a}{n}"));
            query::<i64>(&mut con, &["SADD", &set, "x", "v"]);
            assert_eq!(
                members(&mut con, &["ZUNION", "2", &set, &key, "WITHSCORES"]),
                strings(&["v", "1", "x", "2", "y", "2", "z", "3"])
            );
            assert_eq!(query::<i64>(&mut con, &["ZINTERCARD", "2", &key, &set]), 1);
        }
        query::<String>(&mut con, &["SET", "str", "v"]);
        assert_eq!(
            error_of(&mut con, &["ZUNION", "2", "zleft0", "str"]),
            WRONGTYPE
        );
    });
}

#[test]
fn zmpop_across_shards() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let keys = numbered("queue", 6);
        query::<i64>(&mut con, &["ZADD", &keys[4], "1", "a", "2", "b", "3", "c"]);
        let mut args = vec!["ZMPOP", "6"];
        args.extend(keys.iter().map(String::as_str));
        args.push("MAX");
        let (key, popped): (String, Vec<(String, String)>) = query(&mut con, &args);
        assert_eq!(key, keys[4]);
        assert_eq!(popped, vec![("c".to_string(), "3".to_string())]);
        args.extend(["COUNT", "10"]);
        let (_, popped): (String, Vec<(String, String)>) = query(&mut con, &args);
        assert_eq!(popped.len(), 2);
        assert_eq!(query::<i64>(&mut con, &["EXISTS", &keys[4]]), 0);
        assert_eq!(
            query::<Option<(String, Vec<(String, String)>)>>(&mut con, &args),
            None
        );
        assert_eq!(
            error_of(&mut con, &["ZMPOP", "0", "a", "MIN"]),
            "ERR numkeys should be greater than 0"
        );
        assert_eq!(
            error_of(&mut con, &["ZMPOP", "1", "a", "MIN", "COUNT", "0"]),
            "ERR count should be greater than 0"
        );
    });
}

#[test]
fn resp3_shapes() {
    let server = TestServer::start(2);
    let mut raw = server.raw();
    raw.send(&resp(&["HELLO", "3"]));
    raw.read_reply().expect("HELLO reply");
    raw.roundtrip(&resp(&["ZADD", "z", "1", "a", "2.5", "b"]), b":2\r\n");
    raw.roundtrip(&resp(&["ZSCORE", "z", "b"]), b",2.5\r\n");
    raw.roundtrip(&resp(&["ZSCORE", "z", "x"]), b"_\r\n");
    raw.roundtrip(
        &resp(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n",
    );
    raw.roundtrip(&resp(&["ZRANGE", "z", "0", "0"]), b"*1\r\n$1\r\na\r\n");
    raw.roundtrip(&resp(&["ZINCRBY", "z", "1", "a"]), b",2\r\n");
    raw.roundtrip(
        &resp(&["ZRANK", "z", "b", "WITHSCORE"]),
        b"*2\r\n:1\r\n,2.5\r\n",
    );
    raw.roundtrip(&resp(&["ZPOPMIN", "z"]), b"*2\r\n$1\r\na\r\n,2\r\n");
    raw.roundtrip(
        &resp(&["ZPOPMIN", "z", "1"]),
        b"*1\r\n*2\r\n$1\r\nb\r\n,2.5\r\n",
    );
}

#[test]
fn encodings_and_their_directives() {
    let server = TestServer::start_with(2, &[("zset-max-listpack-entries", "4")]);
    let mut con = server.connection();
    let config: Vec<String> = query(&mut con, &["CONFIG", "GET", "zset-max-*"]);
    assert_eq!(
        config,
        strings(&[
            "zset-max-listpack-entries",
            "4",
            "zset-max-listpack-value",
            "64",
            "zset-max-ziplist-entries",
            "4",
            "zset-max-ziplist-value",
            "64"
        ])
    );
    query::<i64>(
        &mut con,
        &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"],
    );
    assert_eq!(
        query::<String>(&mut con, &["OBJECT", "ENCODING", "z"]),
        "listpack"
    );
    query::<i64>(&mut con, &["ZADD", "z", "5", "e"]);
    assert_eq!(
        query::<String>(&mut con, &["OBJECT", "ENCODING", "z"]),
        "skiplist"
    );
    assert_eq!(
        query::<String>(
            &mut con,
            &["CONFIG", "SET", "zset-max-ziplist-entries", "128"]
        ),
        "OK"
    );
    assert_eq!(
        query::<Vec<String>>(&mut con, &["CONFIG", "GET", "zset-max-listpack-entries"]),
        strings(&["zset-max-listpack-entries", "128"])
    );
    assert_eq!(
        query::<String>(&mut con, &["CONFIG", "SET", "zset-max-listpack-value", "8"]),
        "OK"
    );
    for key in numbered("k", 10) {
        query::<i64>(&mut con, &["ZADD", &key, "1", "short"]);
        assert_eq!(
            query::<String>(&mut con, &["OBJECT", "ENCODING", &key]),
            "listpack"
        );
        query::<i64>(&mut con, &["ZADD", &key, "1", "longer than eight"]);
        assert_eq!(
            query::<String>(&mut con, &["OBJECT", "ENCODING", &key]),
            "skiplist"
        );
    }
}

#[test]
fn large_set_ranks_and_ranges() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let mut pipe = redis::pipe();
    for n in 0..5_000 {
        pipe.cmd("ZADD")
            .arg("lb")
            .arg(n * 2)
            .arg(format!("player:{n}"));
    }
    pipe.query::<()>(&mut con).unwrap();
    assert_eq!(query::<i64>(&mut con, &["ZCARD", "lb"]), 5_000);
    assert_eq!(
        query::<i64>(&mut con, &["ZRANK", "lb", "player:1234"]),
        1_234
    );
    assert_eq!(
        query::<i64>(&mut con, &["ZREVRANK", "lb", "player:1234"]),
        3_765
    );
    let top: Vec<String> = query(&mut con, &["ZREVRANGE", "lb", "0", "99", "WITHSCORES"]);
    assert_eq!(top.len(), 200);
    assert_eq!((top[0].as_str(), top[1].as_str()), ("player:4999", "9998"));
    assert_eq!(
        (top[198].as_str(), top[199].as_str()),
        ("player:4900", "9800")
    );
    assert_eq!(query::<i64>(&mut con, &["ZCOUNT", "lb", "100", "(200"]), 50);
    assert_eq!(
        members(
            &mut con,
            &["ZRANGEBYSCORE", "lb", "(5000", "+inf", "LIMIT", "0", "2"]
        ),
        strings(&["player:2501", "player:2502"])
    );
    assert_eq!(
        query::<i64>(&mut con, &["ZREMRANGEBYRANK", "lb", "0", "999"]),
        1_000
    );
    assert_eq!(query::<i64>(&mut con, &["ZRANK", "lb", "player:1000"]), 0);
    assert_eq!(
        query::<i64>(&mut con, &["ZADD", "lb", "-1", "player:4999"]),
        0
    );
    assert_eq!(query::<i64>(&mut con, &["ZRANK", "lb", "player:4999"]), 0);
}

#[test]
fn generic_key_commands_on_sorted_sets() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for (n, key) in numbered("src", 6).iter().enumerate() {
            query::<i64>(&mut con, &["ZADD", key, "1", "a", "2", "b"]);
            assert_eq!(query::<String>(&mut con, &["TYPE", key]), "zset");
            let copy = format!("copy{n}");
            assert_eq!(query::<i64>(&mut con, &["COPY", key, &copy]), 1);
            query::<i64>(&mut con, &["ZADD", key, "3", "c"]);
            assert_eq!(zrange_all(&mut con, &copy), strings(&["a", "1", "b", "2"]));
            let renamed = format!("renamed{n}");
            assert_eq!(query::<String>(&mut con, &["RENAME", key, &renamed]), "OK");
            assert_eq!(query::<i64>(&mut con, &["ZCARD", &renamed]), 3);
            assert_eq!(query::<i64>(&mut con, &["EXISTS", key]), 0);
            // A write keeps the deadline; a STORE result replaces the key and drops it.
            assert_eq!(query::<i64>(&mut con, &["EXPIRE", &renamed, "100"]), 1);
            query::<i64>(&mut con, &["ZADD", &renamed, "4", "d"]);
            assert!(query::<i64>(&mut con, &["TTL", &renamed]) > 0);
            query::<i64>(&mut con, &["ZUNIONSTORE", &renamed, "1", &copy]);
            assert_eq!(query::<i64>(&mut con, &["TTL", &renamed]), -1);
            assert_eq!(query::<i64>(&mut con, &["DEL", &renamed, &copy]), 2);
        }
        query::<i64>(&mut con, &["ZADD", "scanned", "1", "a"]);
        query::<String>(&mut con, &["SET", "plain", "v"]);
        let (_, keys): (String, Vec<String>) =
            query(&mut con, &["SCAN", "0", "TYPE", "zset", "COUNT", "1000"]);
        assert_eq!(keys, strings(&["scanned"]));
    });
}

/// Every sorted set with its members and scores, as text.
fn dump_zsets(con: &mut Connection) -> Vec<(String, String, Vec<String>)> {
    let mut keys: Vec<String> = query(con, &["KEYS", "*"]);
    keys.sort();
    keys.into_iter()
        .map(|key| {
            let encoding: String = query(con, &["OBJECT", "ENCODING", &key]);
            let pairs = zrange_all(con, &key);
            (key, encoding, pairs)
        })
        .collect()
}

#[test]
fn sorted_sets_survive_restarts_from_the_binlog_and_a_snapshot() {
    for threads in TOPOLOGIES {
        let dir = temp_data_dir();
        let server = TestServer::start_in(&dir, threads, &[]);
        let mut con = server.connection();
        for key in numbered("board", 8) {
            query::<i64>(&mut con, &["ZADD", &key, "1", "a", "2.5", "b", "-inf", "c"]);
            // Float increments are logged as their exact result.
            query::<String>(&mut con, &["ZINCRBY", &key, "0.1", "a"]);
            query::<String>(&mut con, &["ZINCRBY", &key, "0.2", "a"]);
            query::<Option<String>>(&mut con, &["ZADD", &key, "XX", "INCR", "1e-9", "b"]);
            query::<Vec<String>>(&mut con, &["ZPOPMIN", &key]);
        }
        let mut pipe = redis::pipe();
        for n in 0..300 {
            pipe.cmd("ZADD")
                .arg("big")
                .arg(n as f64 / 3.0)
                .arg(format!("m{n}"));
        }
        pipe.query::<()>(&mut con).unwrap();
        query::<i64>(&mut con, &["ZREMRANGEBYSCORE", "big", "10", "20"]);
        query::<i64>(
            &mut con,
            &["ZUNIONSTORE", "union", "3", "board0", "board5", "big"],
        );
        query::<i64>(&mut con, &["ZRANGESTORE", "top", "big", "0", "9", "REV"]);
        query::<redis::Value>(&mut con, &["ZMPOP", "2", "nokey", "board7", "MAX"]);
        let before = dump_zsets(&mut con);
        assert!(before.iter().any(|(_, encoding, _)| encoding == "skiplist"));
        drop(con);
        server.stop();

        // Recovered from the binlog.
        let server = TestServer::start_in(&dir, threads, &[]);
        let mut con = server.connection();
        assert_eq!(dump_zsets(&mut con), before, "{threads} shard(s), binlog");
        assert_eq!(query::<String>(&mut con, &["SAVE"]), "OK");
        drop(con);
        server.stop();

        // Recovered from the snapshot.
        let server = TestServer::start_in(&dir, threads, &[]);
        let mut con = server.connection();
        assert_eq!(dump_zsets(&mut con), before, "{threads} shard(s), snapshot");
        drop(con);
        server.stop();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
