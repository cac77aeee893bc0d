//! In-process tests of the sorted-set commands, and a property test of random command sequences
//! against a `BTreeMap` model, crossing the encoding threshold.

use std::collections::BTreeMap;

use bytes::BytesMut;

use crate::command::test_support::Harness;
use crate::protocol::reply::Reply;

/// The reply as RESP2 (or RESP3) text.
fn encoded(reply: &Reply, protocol: u8) -> String {
    let mut out = BytesMut::new();
    reply.encode(&mut out, protocol);
    String::from_utf8_lossy(&out).into_owned()
}

fn run(h: &mut Harness, args: &[&str]) -> String {
    encoded(&h.run(args), 2)
}

fn run3(h: &mut Harness, args: &[&str]) -> String {
    encoded(&h.run(args), 3)
}

/// RESP2 array of bulk strings.
fn bulks(items: &[&str]) -> String {
    let mut out = format!("*{}\r\n", items.len());
    for item in items {
        out.push_str(&format!("${}\r\n{}\r\n", item.len(), item));
    }
    out
}

fn bulk(item: &str) -> String {
    format!("${}\r\n{}\r\n", item.len(), item)
}

fn int(n: i64) -> String {
    format!(":{n}\r\n")
}

fn err(text: &str) -> String {
    format!("-{text}\r\n")
}

const NIL: &str = "$-1\r\n";
const SYNTAX: &str = "ERR syntax error";

fn with_set(h: &mut Harness) {
    assert_eq!(
        run(h, &["ZADD", "z", "1", "a", "2", "b", "3", "c", "4", "d"]),
        int(4)
    );
}

#[test]
fn zadd_options() {
    let mut h = Harness::new();
    with_set(&mut h);
    assert_eq!(
        run(&mut h, &["ZADD", "z", "NX", "10", "a", "5", "e"]),
        int(1)
    );
    assert_eq!(run(&mut h, &["ZSCORE", "z", "a"]), bulk("1"));
    assert_eq!(
        run(&mut h, &["ZADD", "z", "XX", "10", "a", "6", "f"]),
        int(0)
    );
    assert_eq!(run(&mut h, &["ZSCORE", "z", "a"]), bulk("10"));
    assert_eq!(run(&mut h, &["ZSCORE", "z", "f"]), NIL);
    assert_eq!(
        run(&mut h, &["ZADD", "z", "CH", "11", "a", "7", "g"]),
        int(2)
    );
    assert_eq!(
        run(&mut h, &["ZADD", "z", "GT", "CH", "1", "a", "20", "b"]),
        int(1)
    );
    assert_eq!(
        run(&mut h, &["ZMSCORE", "z", "a", "b"]),
        bulks(&["11", "20"])
    );
    assert_eq!(
        run(&mut h, &["ZADD", "z", "LT", "CH", "30", "a", "1", "b"]),
        int(1)
    );
    assert_eq!(
        run(&mut h, &["ZMSCORE", "z", "a", "b", "nope"]),
        format!("*3\r\n{}{}{NIL}", bulk("11"), bulk("1"))
    );
    assert_eq!(
        run(&mut h, &["ZADD", "z", "INCR", "2.5", "a"]),
        bulk("13.5")
    );
    assert_eq!(run3(&mut h, &["ZADD", "z", "INCR", "1", "a"]), ",14.5\r\n");
    assert_eq!(run(&mut h, &["ZADD", "z", "NX", "INCR", "1", "a"]), NIL);
    assert_eq!(run(&mut h, &["ZADD", "z", "GT", "INCR", "-1", "a"]), NIL);
    assert_eq!(run(&mut h, &["ZADD", "nokey", "XX", "1", "a"]), int(0));
    assert_eq!(run(&mut h, &["ZADD", "nokey", "XX", "INCR", "1", "a"]), NIL);
    assert_eq!(run(&mut h, &["EXISTS", "nokey"]), int(0));
    // Errors, in Redis's order.
    assert_eq!(
        run(&mut h, &["ZADD", "z", "1"]),
        err("ERR wrong number of arguments for 'zadd' command")
    );
    assert_eq!(run(&mut h, &["ZADD", "z", "NX", "1"]), err(SYNTAX));
    assert_eq!(run(&mut h, &["ZADD", "z", "1", "a", "2"]), err(SYNTAX));
    assert_eq!(
        run(&mut h, &["ZADD", "z", "NX", "XX", "1", "a"]),
        err("ERR XX and NX options at the same time are not compatible")
    );
    for flags in [["GT", "LT"], ["NX", "GT"], ["LT", "NX"]] {
        assert_eq!(
            run(&mut h, &["ZADD", "z", flags[0], flags[1], "1", "a"]),
            err("ERR GT, LT, and/or NX options at the same time are not compatible")
        );
    }
    assert_eq!(
        run(&mut h, &["ZADD", "z", "INCR", "1", "a", "2", "b"]),
        err("ERR INCR option supports a single increment-element pair")
    );
    assert_eq!(
        run(&mut h, &["ZADD", "z", "x", "a"]),
        err("ERR value is not a valid float")
    );
    assert_eq!(
        run(&mut h, &["ZADD", "z", "nan", "a"]),
        err("ERR value is not a valid float")
    );
    run(&mut h, &["SET", "s", "v"]);
    assert_eq!(
        run(&mut h, &["ZADD", "s", "1", "a"]),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
}

#[test]
fn zincrby_and_nan() {
    let mut h = Harness::new();
    assert_eq!(run(&mut h, &["ZINCRBY", "z", "5", "a"]), bulk("5"));
    assert_eq!(run(&mut h, &["ZINCRBY", "z", "-2.5", "a"]), bulk("2.5"));
    assert_eq!(run3(&mut h, &["ZINCRBY", "z", "1", "a"]), ",3.5\r\n");
    assert_eq!(run(&mut h, &["ZADD", "z", "inf", "b"]), int(1));
    assert_eq!(
        run(&mut h, &["ZINCRBY", "z", "-inf", "b"]),
        err("ERR resulting score is not a number (NaN)")
    );
    assert_eq!(run(&mut h, &["ZSCORE", "z", "b"]), bulk("inf"));
    assert_eq!(
        run(&mut h, &["ZINCRBY", "z", "x", "a"]),
        err("ERR value is not a valid float")
    );
}

#[test]
fn zrem_zcard_and_deletion_when_empty() {
    let mut h = Harness::new();
    with_set(&mut h);
    assert_eq!(run(&mut h, &["ZCARD", "z"]), int(4));
    assert_eq!(run(&mut h, &["ZREM", "z", "a", "x", "b"]), int(2));
    assert_eq!(run(&mut h, &["ZREM", "z", "c", "d"]), int(2));
    assert_eq!(run(&mut h, &["EXISTS", "z"]), int(0));
    assert_eq!(run(&mut h, &["ZCARD", "z"]), int(0));
    assert_eq!(run(&mut h, &["ZREM", "z", "a"]), int(0));
    assert_eq!(run(&mut h, &["TYPE", "z"]), "+none\r\n");
    with_set(&mut h);
    assert_eq!(run(&mut h, &["TYPE", "z"]), "+zset\r\n");
}

#[test]
fn ranks_with_and_without_score() {
    let mut h = Harness::new();
    with_set(&mut h);
    assert_eq!(run(&mut h, &["ZRANK", "z", "c"]), int(2));
    assert_eq!(run(&mut h, &["ZREVRANK", "z", "c"]), int(1));
    assert_eq!(run(&mut h, &["ZRANK", "z", "x"]), NIL);
    assert_eq!(
        run(&mut h, &["ZRANK", "z", "c", "WITHSCORE"]),
        format!("*2\r\n{}{}", int(2), bulk("3"))
    );
    assert_eq!(
        run3(&mut h, &["ZREVRANK", "z", "a", "withscore"]),
        "*2\r\n:3\r\n,1\r\n"
    );
    assert_eq!(run(&mut h, &["ZRANK", "z", "x", "WITHSCORE"]), "*-1\r\n");
    assert_eq!(run(&mut h, &["ZRANK", "z", "c", "bad"]), err(SYNTAX));
    assert_eq!(
        run(&mut h, &["ZRANK", "z", "c", "WITHSCORE", "x"]),
        err("ERR wrong number of arguments for 'zrank' command")
    );
}

#[test]
fn zrange_by_rank_score_and_lex() {
    let mut h = Harness::new();
    with_set(&mut h);
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "0", "-1"]),
        bulks(&["a", "b", "c", "d"])
    );
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "1", "2", "WITHSCORES"]),
        bulks(&["b", "2", "c", "3"])
    );
    assert_eq!(
        run3(&mut h, &["ZRANGE", "z", "1", "2", "WITHSCORES"]),
        "*2\r\n*2\r\n$1\r\nb\r\n,2\r\n*2\r\n$1\r\nc\r\n,3\r\n"
    );
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "-2", "100"]),
        bulks(&["c", "d"])
    );
    assert_eq!(run(&mut h, &["ZRANGE", "z", "3", "1"]), bulks(&[]));
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "0", "1", "REV"]),
        bulks(&["d", "c"])
    );
    assert_eq!(
        run(&mut h, &["ZREVRANGE", "z", "0", "1", "WITHSCORES"]),
        bulks(&["d", "4", "c", "3"])
    );
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "(1", "3", "BYSCORE"]),
        bulks(&["b", "c"])
    );
    assert_eq!(
        run(
            &mut h,
            &["ZRANGE", "z", "3", "(1", "BYSCORE", "REV", "LIMIT", "1", "5"]
        ),
        bulks(&["b"])
    );
    assert_eq!(
        run(
            &mut h,
            &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "1", "2"]
        ),
        bulks(&["b", "c"])
    );
    assert_eq!(
        run(
            &mut h,
            &["ZRANGEBYSCORE", "z", "-inf", "+inf", "LIMIT", "-1", "2"]
        ),
        bulks(&[])
    );
    assert_eq!(
        run(
            &mut h,
            &["ZRANGEBYSCORE", "z", "2", "inf", "LIMIT", "1", "-1"]
        ),
        bulks(&["c", "d"])
    );
    assert_eq!(
        run(
            &mut h,
            &[
                "ZREVRANGEBYSCORE",
                "z",
                "4",
                "2",
                "WITHSCORES",
                "LIMIT",
                "0",
                "2"
            ]
        ),
        bulks(&["d", "4", "c", "3"])
    );
    assert_eq!(run(&mut h, &["ZRANGEBYSCORE", "z", "(2", "(2"]), bulks(&[]));

    let mut lex = Harness::new();
    run(
        &mut lex,
        &[
            "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e",
        ],
    );
    assert_eq!(
        run(&mut lex, &["ZRANGEBYLEX", "l", "-", "+"]),
        bulks(&["a", "b", "c", "d", "e"])
    );
    assert_eq!(
        run(&mut lex, &["ZRANGEBYLEX", "l", "[b", "(d"]),
        bulks(&["b", "c"])
    );
    assert_eq!(
        run(
            &mut lex,
            &["ZREVRANGEBYLEX", "l", "+", "(c", "LIMIT", "1", "1"]
        ),
        bulks(&["d"])
    );
    assert_eq!(
        run(&mut lex, &["ZRANGE", "l", "[c", "+", "BYLEX"]),
        bulks(&["c", "d", "e"])
    );
    assert_eq!(run(&mut lex, &["ZLEXCOUNT", "l", "(a", "[d"]), int(3));
    assert_eq!(run(&mut lex, &["ZLEXCOUNT", "l", "+", "-"]), int(0));
    assert_eq!(
        run(&mut lex, &["ZRANGEBYLEX", "l", "b", "+"]),
        err("ERR min or max not valid string range item")
    );
    assert_eq!(run(&mut lex, &["ZREMRANGEBYLEX", "l", "[b", "[c"]), int(2));
    assert_eq!(
        run(&mut lex, &["ZRANGE", "l", "0", "-1"]),
        bulks(&["a", "d", "e"])
    );
}

#[test]
fn zrange_errors() {
    let mut h = Harness::new();
    with_set(&mut h);
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(
        run(&mut h, &["ZREVRANGE", "z", "0", "1", "LIMIT", "0", "1"]),
        err(
            "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX"
        )
    );
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "-", "+", "BYLEX", "WITHSCORES"]),
        err("ERR syntax error, WITHSCORES not supported in combination with BYLEX")
    );
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "a", "1", "BYSCORE"]),
        err("ERR min or max is not a float")
    );
    assert_eq!(
        run(&mut h, &["ZCOUNT", "z", "1", "x"]),
        err("ERR min or max is not a float")
    );
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "a", "1"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "0", "1", "BYSCORE", "BYLEX"]),
        err(SYNTAX)
    );
    assert_eq!(
        run(&mut h, &["ZRANGEBYSCORE", "z", "0", "1", "REV"]),
        err(SYNTAX)
    );
    assert_eq!(
        run(&mut h, &["ZRANGE", "z", "0", "1", "LIMIT", "0"]),
        err(SYNTAX)
    );
    assert_eq!(run(&mut h, &["ZRANGE", "nokey", "0", "1"]), bulks(&[]));
    run(&mut h, &["SET", "s", "v"]);
    assert_eq!(
        run(&mut h, &["ZRANGE", "s", "0", "1"]),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
}

#[test]
fn zcount_and_zremrange() {
    let mut h = Harness::new();
    with_set(&mut h);
    assert_eq!(run(&mut h, &["ZCOUNT", "z", "2", "3"]), int(2));
    assert_eq!(run(&mut h, &["ZCOUNT", "z", "(2", "+inf"]), int(2));
    assert_eq!(run(&mut h, &["ZCOUNT", "nokey", "0", "1"]), int(0));
    assert_eq!(run(&mut h, &["ZREMRANGEBYSCORE", "z", "(1", "2"]), int(1));
    assert_eq!(run(&mut h, &["ZREMRANGEBYRANK", "z", "-1", "-1"]), int(1));
    assert_eq!(run(&mut h, &["ZRANGE", "z", "0", "-1"]), bulks(&["a", "c"]));
    assert_eq!(run(&mut h, &["ZREMRANGEBYRANK", "z", "5", "10"]), int(0));
    assert_eq!(run(&mut h, &["ZREMRANGEBYRANK", "z", "0", "-1"]), int(2));
    assert_eq!(run(&mut h, &["EXISTS", "z"]), int(0));
    assert_eq!(
        run(&mut h, &["ZREMRANGEBYRANK", "z", "x", "1"]),
        err("ERR value is not an integer or out of range")
    );
}

#[test]
fn zrangestore() {
    let mut h = Harness::new();
    with_set(&mut h);
    assert_eq!(run(&mut h, &["ZRANGESTORE", "d", "z", "1", "2"]), int(2));
    assert_eq!(
        run(&mut h, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        bulks(&["b", "2", "c", "3"])
    );
    assert_eq!(
        run(
            &mut h,
            &["ZRANGESTORE", "d", "z", "+inf", "3", "BYSCORE", "REV"]
        ),
        int(2)
    );
    assert_eq!(run(&mut h, &["ZRANGE", "d", "0", "-1"]), bulks(&["c", "d"]));
    assert_eq!(run(&mut h, &["ZRANGESTORE", "d", "z", "5", "6"]), int(0));
    assert_eq!(run(&mut h, &["EXISTS", "d"]), int(0));
    assert_eq!(
        run(&mut h, &["ZRANGESTORE", "d", "z", "0", "1", "WITHSCORES"]),
        err(SYNTAX)
    );
    run(&mut h, &["SET", "d", "string"]);
    assert_eq!(run(&mut h, &["ZRANGESTORE", "d", "z", "0", "0"]), int(1));
    assert_eq!(run(&mut h, &["TYPE", "d"]), "+zset\r\n");
}

#[test]
fn zpop_shapes() {
    let mut h = Harness::new();
    with_set(&mut h);
    assert_eq!(run(&mut h, &["ZPOPMIN", "z"]), bulks(&["a", "1"]));
    assert_eq!(run3(&mut h, &["ZPOPMAX", "z"]), "*2\r\n$1\r\nd\r\n,4\r\n");
    assert_eq!(
        run3(&mut h, &["ZPOPMIN", "z", "1"]),
        "*1\r\n*2\r\n$1\r\nb\r\n,2\r\n"
    );
    assert_eq!(run(&mut h, &["ZPOPMAX", "z", "10"]), bulks(&["c", "3"]));
    assert_eq!(run(&mut h, &["EXISTS", "z"]), int(0));
    assert_eq!(run(&mut h, &["ZPOPMIN", "z"]), bulks(&[]));
    assert_eq!(
        run(&mut h, &["ZPOPMIN", "z", "-1"]),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(run(&mut h, &["ZPOPMIN", "z", "1", "2"]), err(SYNTAX));
}

#[test]
fn zrandmember_counts() {
    let mut h = Harness::new();
    with_set(&mut h);
    let one = run(&mut h, &["ZRANDMEMBER", "z"]);
    assert!(["a", "b", "c", "d"].iter().any(|m| one == bulk(m)), "{one}");
    assert_eq!(run(&mut h, &["ZRANDMEMBER", "nokey"]), NIL);
    assert_eq!(run(&mut h, &["ZRANDMEMBER", "nokey", "3"]), bulks(&[]));
    assert_eq!(run(&mut h, &["ZRANDMEMBER", "z", "0"]), bulks(&[]));
    assert_eq!(
        run(&mut h, &["ZRANDMEMBER", "z", "10"]),
        bulks(&["a", "b", "c", "d"])
    );
    assert!(run(&mut h, &["ZRANDMEMBER", "z", "-10"]).starts_with("*10\r\n"));
    assert!(run(&mut h, &["ZRANDMEMBER", "z", "-3", "WITHSCORES"]).starts_with("*6\r\n"));
    assert!(run3(&mut h, &["ZRANDMEMBER", "z", "3", "WITHSCORES"]).starts_with("*3\r\n*2\r\n"));
    // Distinct members for a positive count.
    for _ in 0..20 {
        let Reply::Scored(list) = h.run(&["ZRANDMEMBER", "z", "3"]) else {
            panic!("not a member list");
        };
        let mut members: Vec<_> = list.pairs().map(|(m, _)| m.to_vec()).collect();
        members.sort();
        members.dedup();
        assert_eq!(members.len(), 3);
    }
    assert_eq!(run(&mut h, &["ZRANDMEMBER", "z", "1", "bad"]), err(SYNTAX));
    assert_eq!(
        run(&mut h, &["ZRANDMEMBER", "z", "-9223372036854775808"]),
        err("ERR value is out of range, must be between -9223372036854775807 and 9223372036854775807")
    );
    assert_eq!(
        run(
            &mut h,
            &["ZRANDMEMBER", "z", "-9223372036854775807", "WITHSCORES"]
        ),
        err("ERR value is out of range")
    );
}

#[test]
fn zscan_small_and_large() {
    let mut h = Harness::new();
    with_set(&mut h);
    assert_eq!(
        run(&mut h, &["ZSCAN", "z", "0"]),
        format!(
            "*2\r\n{}{}",
            bulk("0"),
            bulks(&["a", "1", "b", "2", "c", "3", "d", "4"])
        )
    );
    assert_eq!(
        run(&mut h, &["ZSCAN", "z", "0", "MATCH", "[bc]"]),
        format!("*2\r\n{}{}", bulk("0"), bulks(&["b", "2", "c", "3"]))
    );
    assert_eq!(run(&mut h, &["ZSCAN", "z", "x"]), err("ERR invalid cursor"));
    assert_eq!(
        run(&mut h, &["ZSCAN", "z", "0", "TYPE", "zset"]),
        err(SYNTAX)
    );
    assert_eq!(run(&mut h, &["ZSCAN", "z", "0", "COUNT", "0"]), err(SYNTAX));
    for n in 0..300 {
        run(&mut h, &["ZADD", "big", &n.to_string(), &format!("m{n}")]);
    }
    let mut cursor = "0".to_string();
    let mut seen = std::collections::HashSet::new();
    loop {
        let Reply::Array(parts) = h.run(&["ZSCAN", "big", &cursor, "COUNT", "50"]) else {
            panic!("not an array");
        };
        let Reply::Bulk(next) = &parts[0] else {
            panic!()
        };
        let Reply::Array(items) = &parts[1] else {
            panic!()
        };
        for pair in items.chunks(2) {
            let Reply::Bulk(member) = &pair[0] else {
                panic!()
            };
            seen.insert(member.clone());
        }
        cursor = String::from_utf8(next.to_vec()).unwrap();
        if cursor == "0" {
            break;
        }
    }
    assert_eq!(seen.len(), 300);
}

#[test]
fn set_operations() {
    let mut h = Harness::new();
    run(&mut h, &["ZADD", "{t}a", "1", "x", "2", "y", "3", "z"]);
    run(&mut h, &["ZADD", "{t}b", "10", "y", "20", "z", "30", "w"]);
    assert_eq!(
        run(&mut h, &["ZUNION", "2", "{t}a", "{t}b", "WITHSCORES"]),
        bulks(&["x", "1", "y", "12", "z", "23", "w", "30"])
    );
    assert_eq!(
        run(
            &mut h,
            &[
                "ZINTER",
                "2",
                "{t}a",
                "{t}b",
                "WEIGHTS",
                "2",
                "1",
                "AGGREGATE",
                "MAX",
                "WITHSCORES"
            ]
        ),
        bulks(&["y", "10", "z", "20"])
    );
    assert_eq!(
        run(&mut h, &["ZINTER", "2", "{t}a", "{t}b", "AGGREGATE", "min"]),
        bulks(&["y", "z"])
    );
    assert_eq!(
        run(&mut h, &["ZDIFF", "2", "{t}a", "{t}b", "WITHSCORES"]),
        bulks(&["x", "1"])
    );
    assert_eq!(run(&mut h, &["ZDIFF", "2", "{t}nokey", "{t}b"]), bulks(&[]));
    assert_eq!(run(&mut h, &["ZINTERCARD", "2", "{t}a", "{t}b"]), int(2));
    assert_eq!(
        run(&mut h, &["ZINTERCARD", "2", "{t}a", "{t}b", "LIMIT", "1"]),
        int(1)
    );
    assert_eq!(
        run(&mut h, &["ZINTERCARD", "2", "{t}a", "{t}nokey"]),
        int(0)
    );
    assert_eq!(
        run(
            &mut h,
            &[
                "ZUNIONSTORE",
                "{t}d",
                "2",
                "{t}a",
                "{t}b",
                "WEIGHTS",
                "1",
                "0.5"
            ]
        ),
        int(4)
    );
    assert_eq!(
        run(&mut h, &["ZRANGE", "{t}d", "0", "-1", "WITHSCORES"]),
        bulks(&["x", "1", "y", "7", "z", "13", "w", "15"])
    );
    assert_eq!(
        run(&mut h, &["ZINTERSTORE", "{t}d", "2", "{t}a", "{t}nokey"]),
        int(0)
    );
    assert_eq!(run(&mut h, &["EXISTS", "{t}d"]), int(0));
    assert_eq!(
        run(&mut h, &["ZDIFFSTORE", "{t}a", "2", "{t}a", "{t}b"]),
        int(1)
    );
    assert_eq!(run(&mut h, &["ZRANGE", "{t}a", "0", "-1"]), bulks(&["x"]));
    // inf + -inf sums to 0 rather than NaN; 0 * inf weighs 0.
    run(&mut h, &["ZADD", "{t}p", "inf", "m"]);
    run(&mut h, &["ZADD", "{t}n", "-inf", "m"]);
    assert_eq!(
        run(&mut h, &["ZUNION", "2", "{t}p", "{t}n", "WITHSCORES"]),
        bulks(&["m", "0"])
    );
    assert_eq!(
        run(
            &mut h,
            &["ZUNION", "1", "{t}p", "WEIGHTS", "0", "WITHSCORES"]
        ),
        bulks(&["m", "0"])
    );
}

#[test]
fn set_operation_errors() {
    let mut h = Harness::new();
    run(&mut h, &["ZADD", "a", "1", "x"]);
    assert_eq!(
        run(&mut h, &["ZUNIONSTORE", "d", "0", "a"]),
        err("ERR at least 1 input key is needed for 'zunionstore' command")
    );
    assert_eq!(
        run(&mut h, &["ZINTER", "0", "a"]),
        err("ERR at least 1 input key is needed for 'zinter' command")
    );
    assert_eq!(
        run(&mut h, &["ZUNION", "x", "a"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(run(&mut h, &["ZUNION", "3", "a"]), err(SYNTAX));
    assert_eq!(run(&mut h, &["ZUNION", "1", "a", "WEIGHTS"]), err(SYNTAX));
    assert_eq!(
        run(&mut h, &["ZUNION", "1", "a", "WEIGHTS", "x"]),
        err("ERR weight value is not a float")
    );
    assert_eq!(
        run(&mut h, &["ZUNION", "1", "a", "AGGREGATE", "avg"]),
        err(SYNTAX)
    );
    assert_eq!(
        run(&mut h, &["ZDIFF", "1", "a", "WEIGHTS", "1"]),
        err(SYNTAX)
    );
    assert_eq!(
        run(&mut h, &["ZUNIONSTORE", "d", "1", "a", "WITHSCORES"]),
        err(SYNTAX)
    );
    assert_eq!(
        run(&mut h, &["ZINTERCARD", "1", "a", "WITHSCORES"]),
        err(SYNTAX)
    );
    assert_eq!(
        run(&mut h, &["ZINTERCARD", "1", "a", "LIMIT", "-1"]),
        err("ERR LIMIT can't be negative")
    );
    run(&mut h, &["SET", "s", "v"]);
    assert_eq!(
        run(&mut h, &["ZUNION", "2", "a", "s", "AGGREGATE", "bad"]),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
}

#[test]
fn zmpop() {
    let mut h = Harness::new();
    run(&mut h, &["ZADD", "b", "1", "x", "2", "y", "3", "z"]);
    assert_eq!(
        run(&mut h, &["ZMPOP", "2", "a", "b", "MIN"]),
        format!("*2\r\n{}*1\r\n{}", bulk("b"), bulks(&["x", "1"]))
    );
    assert_eq!(
        run3(&mut h, &["ZMPOP", "1", "b", "MAX", "COUNT", "5"]),
        "*2\r\n$1\r\nb\r\n*2\r\n*2\r\n$1\r\nz\r\n,3\r\n*2\r\n$1\r\ny\r\n,2\r\n"
    );
    assert_eq!(run(&mut h, &["EXISTS", "b"]), int(0));
    assert_eq!(run(&mut h, &["ZMPOP", "2", "a", "b", "MIN"]), "*-1\r\n");
    assert_eq!(
        run(&mut h, &["ZMPOP", "0", "a", "MIN"]),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(run(&mut h, &["ZMPOP", "3", "a", "MIN"]), err(SYNTAX));
    assert_eq!(run(&mut h, &["ZMPOP", "1", "a", "MIDDLE"]), err(SYNTAX));
    assert_eq!(
        run(&mut h, &["ZMPOP", "1", "a", "MIN", "COUNT", "0"]),
        err("ERR count should be greater than 0")
    );
    assert_eq!(
        run(
            &mut h,
            &["ZMPOP", "1", "a", "MIN", "COUNT", "1", "COUNT", "2"]
        ),
        err(SYNTAX)
    );
}

#[test]
fn encodings_follow_the_limits() {
    let mut h = Harness::new();
    for n in 0..128 {
        run(&mut h, &["ZADD", "z", &n.to_string(), &format!("m{n}")]);
    }
    assert_eq!(run(&mut h, &["OBJECT", "ENCODING", "z"]), bulk("listpack"));
    run(&mut h, &["ZADD", "z", "1", "one-more"]);
    assert_eq!(run(&mut h, &["OBJECT", "ENCODING", "z"]), bulk("skiplist"));
    run(&mut h, &["ZADD", "long", "1", &"x".repeat(65)]);
    assert_eq!(
        run(&mut h, &["OBJECT", "ENCODING", "long"]),
        bulk("skiplist")
    );
    // A store result takes the compact encoding when it fits.
    assert_eq!(
        run(&mut h, &["ZRANGESTORE", "small", "z", "0", "9"]),
        int(10)
    );
    assert_eq!(
        run(&mut h, &["OBJECT", "ENCODING", "small"]),
        bulk("listpack")
    );
    h.limits.zset.max_listpack_entries = 4;
    run(
        &mut h,
        &["ZADD", "t", "1", "a", "2", "b", "3", "c", "4", "d"],
    );
    assert_eq!(run(&mut h, &["OBJECT", "ENCODING", "t"]), bulk("listpack"));
    run(&mut h, &["ZADD", "t", "5", "e"]);
    assert_eq!(run(&mut h, &["OBJECT", "ENCODING", "t"]), bulk("skiplist"));
}

/// The model: member -> score.
type Model = BTreeMap<String, f64>;

fn sorted(model: &Model) -> Vec<(String, f64)> {
    let mut pairs: Vec<(String, f64)> = model.iter().map(|(m, s)| (m.clone(), *s)).collect();
    pairs.sort_by(|(m1, s1), (m2, s2)| s1.partial_cmp(s2).unwrap().then_with(|| m1.cmp(m2)));
    pairs
}

fn text(score: f64) -> String {
    crate::protocol::reply::format_double(score)
}

fn flat(pairs: &[(String, f64)], with_scores: bool) -> String {
    let mut items = Vec::new();
    for (member, score) in pairs {
        items.push(member.clone());
        if with_scores {
            items.push(text(*score));
        }
    }
    bulks(&items.iter().map(String::as_str).collect::<Vec<_>>())
}

/// Random command sequences against the model; small limits so that sets cross the encoding
/// threshold both ways (compact store results, large sets built by ZADD).
#[test]
fn random_commands_match_the_model() {
    for seed in [1u64, 2, 3, 4] {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut h = Harness::new();
        h.limits.zset.max_listpack_entries = 24;
        h.limits.zset.max_listpack_value = 6;
        let mut model = Model::new();
        for step in 0..3_000 {
            let member = if rng.u8(0..20) == 0 {
                format!("long-member-{}", rng.u8(0..5))
            } else {
                format!("m{}", rng.u8(0..60))
            };
            let score = (rng.i32(-20..20) as f64) / 2.0;
            let len = model.len() as i64;
            let context = format!("seed {seed} step {step}");
            match rng.u8(0..12) {
                0..=3 => {
                    let reply = run(&mut h, &["ZADD", "k", &text(score), &member]);
                    let added = model.insert(member, score).is_none();
                    assert_eq!(reply, int(added as i64), "{context}");
                }
                4 => {
                    let reply = run(&mut h, &["ZINCRBY", "k", &text(score), &member]);
                    let total = model.get(&member).copied().unwrap_or(0.0) + score;
                    model.insert(member, total);
                    assert_eq!(reply, bulk(&text(total)), "{context}");
                }
                5 => {
                    let reply = run(&mut h, &["ZREM", "k", &member]);
                    assert_eq!(
                        reply,
                        int(model.remove(&member).is_some() as i64),
                        "{context}"
                    );
                }
                6 => {
                    let (start, stop) = (rng.i64(-len - 2..len + 2), rng.i64(-len - 2..len + 2));
                    let reply = run(
                        &mut h,
                        &[
                            "ZRANGE",
                            "k",
                            &start.to_string(),
                            &stop.to_string(),
                            "WITHSCORES",
                        ],
                    );
                    let pairs = sorted(&model);
                    let norm = |i: i64| if i < 0 { len + i } else { i };
                    let (s, e) = (norm(start).max(0), norm(stop).min(len - 1));
                    let expect = if s > e || s >= len {
                        Vec::new()
                    } else {
                        pairs[s as usize..=e as usize].to_vec()
                    };
                    assert_eq!(reply, flat(&expect, true), "{context} {start} {stop}");
                }
                7 => {
                    let (min, max) = (score, score + rng.u8(0..10) as f64);
                    let reply = run(
                        &mut h,
                        &[
                            "ZREVRANGEBYSCORE",
                            "k",
                            &text(max),
                            &format!("({}", text(min)),
                            "LIMIT",
                            "1",
                            "5",
                        ],
                    );
                    let mut expect: Vec<_> = sorted(&model)
                        .into_iter()
                        .filter(|(_, s)| *s > min && *s <= max)
                        .collect();
                    expect.reverse();
                    let expect: Vec<_> = expect.into_iter().skip(1).take(5).collect();
                    assert_eq!(reply, flat(&expect, false), "{context}");
                    let count = run(
                        &mut h,
                        &["ZCOUNT", "k", &format!("({}", text(min)), &text(max)],
                    );
                    let expect_count = model.values().filter(|s| **s > min && **s <= max).count();
                    assert_eq!(count, int(expect_count as i64), "{context}");
                }
                8 => {
                    let reply = run(&mut h, &["ZRANK", "k", &member]);
                    let expect = sorted(&model).iter().position(|(m, _)| *m == member);
                    assert_eq!(
                        reply,
                        expect.map_or(NIL.to_string(), |r| int(r as i64)),
                        "{context}"
                    );
                    let reply = run(&mut h, &["ZREVRANK", "k", &member]);
                    let expect = expect.map(|r| len - 1 - r as i64);
                    assert_eq!(reply, expect.map_or(NIL.to_string(), int), "{context}");
                }
                9 => {
                    let (min, max) = (score, score + rng.u8(0..3) as f64);
                    let reply = run(&mut h, &["ZREMRANGEBYSCORE", "k", &text(min), &text(max)]);
                    let before = model.len();
                    model.retain(|_, s| !(*s >= min && *s <= max));
                    assert_eq!(reply, int((before - model.len()) as i64), "{context}");
                }
                10 => {
                    let count = rng.usize(1..4);
                    let reply = run(&mut h, &["ZPOPMAX", "k", &count.to_string()]);
                    let mut pairs = sorted(&model);
                    pairs.reverse();
                    pairs.truncate(count);
                    for (m, _) in &pairs {
                        model.remove(m);
                    }
                    assert_eq!(reply, flat(&pairs, true), "{context}");
                }
                _ => {
                    // A store round trip: the copy equals the original, in whichever encoding.
                    let reply = run(&mut h, &["ZUNIONSTORE", "copy", "1", "k"]);
                    assert_eq!(reply, int(model.len() as i64), "{context}");
                    let copy = run(&mut h, &["ZRANGE", "copy", "0", "-1", "WITHSCORES"]);
                    assert_eq!(copy, flat(&sorted(&model), true), "{context}");
                }
            }
            assert_eq!(
                run(&mut h, &["ZCARD", "k"]),
                int(model.len() as i64),
                "{context}"
            );
            if model.is_empty() {
                assert_eq!(run(&mut h, &["EXISTS", "k"]), int(0), "{context}");
            }
        }
    }
}

/// Runs a command and returns what it asked the binlog to record instead of itself.
fn propagated(h: &mut Harness, args: &[&str]) -> (Reply, Option<Vec<String>>) {
    let args: Vec<bytes::Bytes> = args
        .iter()
        .map(|a| bytes::Bytes::copy_from_slice(a.as_bytes()))
        .collect();
    let mut ctx = crate::command::ExecContext {
        keyspace: &mut h.keyspace,
        db_index: h.db_index,
        now_ms: h.now_ms,
        limits: &h.limits,
        propagate: None,
    };
    let reply = crate::command::run(&mut ctx, &args);
    let records = ctx.propagate.map(|records| {
        records
            .iter()
            .map(|record| {
                record
                    .iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    });
    (reply, records)
}

#[test]
fn incr_writes_are_logged_as_their_effect() {
    let mut h = Harness::new();
    h.run(&["ZADD", "k", "0.2", "m"]);
    let (_, logged) = propagated(&mut h, &["ZINCRBY", "k", "0.1", "m"]);
    // 0.2 + 0.1 is not 0.3 in binary; the record carries the exact result.
    assert_eq!(
        logged,
        Some(vec!["ZADD k 0.30000000000000004 m".to_string()])
    );
    let (_, logged) = propagated(&mut h, &["ZADD", "k", "XX", "CH", "INCR", "1", "m"]);
    assert_eq!(logged, Some(vec!["ZADD k 1.3 m".to_string()]));
    // Skipped (NX on an existing member): nothing to record instead.
    let (reply, logged) = propagated(&mut h, &["ZADD", "k", "NX", "INCR", "1", "m"]);
    assert_eq!((reply, logged), (Reply::Null, None));
    // Plain writes are deterministic and logged as sent.
    assert_eq!(propagated(&mut h, &["ZADD", "k", "1", "x"]).1, None);
    assert_eq!(propagated(&mut h, &["ZPOPMIN", "k"]).1, None);
}

#[test]
fn plain_sets_are_inputs_scoring_one() {
    let mut h = Harness::new();
    run(&mut h, &["ZADD", "z", "5", "a", "7", "b"]);
    run(&mut h, &["SADD", "s", "a", "c"]);
    run(&mut h, &["SADD", "ints", "1", "2"]);
    assert_eq!(
        run(&mut h, &["ZUNION", "2", "z", "s", "WITHSCORES"]),
        bulks(&["c", "1", "a", "6", "b", "7"])
    );
    assert_eq!(
        run(
            &mut h,
            &["ZINTER", "2", "s", "z", "WEIGHTS", "3", "1", "WITHSCORES"]
        ),
        bulks(&["a", "8"])
    );
    assert_eq!(
        run(&mut h, &["ZDIFF", "2", "s", "z", "WITHSCORES"]),
        bulks(&["c", "1"])
    );
    assert_eq!(run(&mut h, &["ZINTERCARD", "2", "z", "s"]), int(1));
    assert_eq!(run(&mut h, &["ZUNIONSTORE", "d", "2", "ints", "s"]), int(4));
    assert_eq!(
        run(&mut h, &["ZRANGE", "d", "0", "-1", "WITHSCORES"]),
        bulks(&["1", "1", "2", "1", "a", "1", "c", "1"])
    );
    run(&mut h, &["LPUSH", "l", "x"]);
    assert_eq!(
        run(&mut h, &["ZUNION", "2", "z", "l"]),
        err("WRONGTYPE Operation against a key holding the wrong kind of value")
    );
}

/// Random argument lists for every sorted-set command: whatever a client sends, a command answers
/// (an error is fine) and never panics, on missing keys, small and large sets and other types.
#[test]
fn random_arguments_never_panic() {
    const WORDS: &[&str] = &[
        "k",
        "big",
        "str",
        "nokey",
        "0",
        "1",
        "-1",
        "2",
        "3",
        "-3",
        "100",
        "-100",
        "9223372036854775807",
        "-9223372036854775808",
        "99999999999999999999",
        "1.5",
        "-inf",
        "+inf",
        "inf",
        "nan",
        "(1",
        "(",
        "[",
        "[a",
        "(a",
        "+",
        "-",
        "",
        "a",
        "m1",
        "m50",
        "WITHSCORES",
        "WITHSCORE",
        "LIMIT",
        "BYSCORE",
        "BYLEX",
        "REV",
        "NX",
        "XX",
        "GT",
        "LT",
        "CH",
        "INCR",
        "WEIGHTS",
        "AGGREGATE",
        "SUM",
        "MIN",
        "MAX",
        "COUNT",
        "MATCH",
        "*",
        "TYPE",
    ];
    let names: Vec<&str> = super::COMMANDS.iter().map(|spec| spec.name).collect();
    for seed in [5, 6, 7] {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut h = Harness::new();
        h.limits.zset.max_listpack_entries = 8;
        for step in 0..20_000 {
            if step % 500 == 0 {
                run(&mut h, &["ZADD", "k", "1", "a", "2", "b"]);
                for n in 0..20 {
                    run(&mut h, &["ZADD", "big", &n.to_string(), &format!("m{n}")]);
                }
                run(&mut h, &["SET", "str", "v"]);
            }
            let name = names[rng.usize(..names.len())];
            let mut args = vec![name];
            for _ in 0..rng.usize(0..8) {
                args.push(WORDS[rng.usize(..WORDS.len())]);
            }
            let reply = h.run(&args);
            let _ = encoded(&reply, 2);
            let _ = encoded(&reply, 3);
            for key in ["k", "big"] {
                if let Some(crate::keyspace::Entry {
                    value: crate::keyspace::Value::ZSet(set),
                    ..
                }) = h.keyspace.db(0).get(key.as_bytes(), h.now_ms)
                {
                    assert!(!set.is_empty(), "{args:?} left {key} empty");
                    set.check_invariants();
                }
            }
        }
    }
}
