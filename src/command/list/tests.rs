//! Unit tests of `list`: every command in-process, and a model test against a `VecDeque`.

use std::collections::{HashMap, VecDeque};

use super::*;
use crate::command::lookup;
use crate::command::test_support::{bulk, bulks, err, int, ints, Harness, WRONGTYPE};

#[test]
fn table_rows() {
    let keys = |name: &str| {
        let spec = lookup(name.as_bytes()).unwrap();
        assert_eq!(spec.group, "list");
        (spec.first_key, spec.last_key, spec.step, spec.routing)
    };
    assert_eq!(keys("lpush"), (1, 1, 1, Routing::SingleKey));
    assert_eq!(keys("lmove"), (1, 2, 1, Routing::MultiKey));
    assert_eq!(keys("rpoplpush"), (1, 2, 1, Routing::MultiKey));
    assert_eq!(keys("lmpop").3, Routing::MultiKey);
    assert_eq!(COMMANDS.len(), 17);
}

#[test]
fn push_pop_range() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["RPUSH", "l", "a", "b", "c"]), int(3));
    assert_eq!(h.run(&["LPUSH", "l", "x", "y"]), int(5));
    assert_eq!(
        h.run(&["LRANGE", "l", "0", "-1"]),
        bulks(&["y", "x", "a", "b", "c"])
    );
    assert_eq!(h.run(&["LRANGE", "l", "-2", "100"]), bulks(&["b", "c"]));
    assert_eq!(h.run(&["LRANGE", "l", "3", "1"]), bulks(&[]));
    assert_eq!(h.run(&["LRANGE", "l", "-100", "0"]), bulks(&["y"]));
    assert_eq!(h.run(&["LRANGE", "l", "5", "10"]), bulks(&[]));
    assert_eq!(h.run(&["LRANGE", "nokey", "0", "-1"]), bulks(&[]));
    assert_eq!(
        h.run(&["LRANGE", "l", "a", "1"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(h.run(&["LLEN", "l"]), int(5));
    assert_eq!(h.run(&["LLEN", "nokey"]), int(0));
    assert_eq!(h.run(&["LPUSHX", "nokey", "a"]), int(0));
    assert_eq!(h.run(&["RPUSHX", "nokey", "a"]), int(0));
    assert_eq!(h.run(&["EXISTS", "nokey"]), int(0));
    assert_eq!(h.run(&["RPUSHX", "l", "z"]), int(6));
    assert_eq!(h.run(&["LPUSHX", "l", "w"]), int(7));
    assert_eq!(h.run(&["LPOP", "l"]), bulk("w"));
    assert_eq!(h.run(&["RPOP", "l"]), bulk("z"));
    assert_eq!(h.run(&["LPOP", "l", "2"]), bulks(&["y", "x"]));
    assert_eq!(h.run(&["RPOP", "l", "2"]), bulks(&["c", "b"]));
    assert_eq!(h.run(&["LPOP", "l", "0"]), bulks(&[]));
    assert_eq!(h.run(&["RPOP", "l", "10"]), bulks(&["a"]));
    assert_eq!(h.run(&["EXISTS", "l"]), int(0));
    assert_eq!(h.run(&["LPOP", "l"]), Reply::Null);
    assert_eq!(h.run(&["LPOP", "l", "1"]), Reply::NullArray);
    assert_eq!(
        h.run(&["LPOP", "l", "-1"]),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        h.run(&["LPOP", "l", "1", "2"]),
        err("ERR wrong number of arguments for 'lpop' command")
    );
}

#[test]
fn index_set_insert() {
    let mut h = Harness::new();
    h.run(&["RPUSH", "l", "a", "b", "c"]);
    assert_eq!(h.run(&["LINDEX", "l", "0"]), bulk("a"));
    assert_eq!(h.run(&["LINDEX", "l", "-1"]), bulk("c"));
    assert_eq!(h.run(&["LINDEX", "l", "3"]), Reply::Null);
    assert_eq!(h.run(&["LINDEX", "l", "-4"]), Reply::Null);
    assert_eq!(h.run(&["LINDEX", "nokey", "0"]), Reply::Null);
    assert_eq!(h.run(&["LSET", "l", "1", "B"]), Reply::ok());
    assert_eq!(h.run(&["LSET", "l", "-1", "C"]), Reply::ok());
    assert_eq!(
        h.run(&["LSET", "l", "3", "x"]),
        err("ERR index out of range")
    );
    assert_eq!(h.run(&["LSET", "nokey", "0", "x"]), err("ERR no such key"));
    assert_eq!(h.run(&["LSET", "nokey", "x", "x"]), err("ERR no such key"));
    assert_eq!(h.run(&["LINDEX", "nokey", "x"]), Reply::Null);
    assert_eq!(
        h.run(&["LINDEX", "l", "x"]),
        err("ERR value is not an integer or out of range")
    );
    assert_eq!(h.run(&["LINSERT", "l", "BEFORE", "B", "1"]), int(4));
    assert_eq!(h.run(&["LINSERT", "l", "after", "C", "2"]), int(5));
    assert_eq!(h.run(&["LINSERT", "l", "AFTER", "zz", "2"]), int(-1));
    assert_eq!(h.run(&["LINSERT", "nokey", "AFTER", "zz", "2"]), int(0));
    assert_eq!(
        h.run(&["LINSERT", "l", "MIDDLE", "B", "2"]),
        err("ERR syntax error")
    );
    assert_eq!(
        h.run(&["LRANGE", "l", "0", "-1"]),
        bulks(&["a", "1", "B", "C", "2"])
    );
}

#[test]
fn lrem_and_ltrim() {
    let mut h = Harness::new();
    h.run(&["RPUSH", "l", "x", "a", "x", "b", "x", "c", "x"]);
    assert_eq!(h.run(&["LREM", "l", "1", "x"]), int(1));
    assert_eq!(h.run(&["LREM", "l", "-2", "x"]), int(2));
    assert_eq!(
        h.run(&["LRANGE", "l", "0", "-1"]),
        bulks(&["a", "x", "b", "c"])
    );
    assert_eq!(h.run(&["LREM", "l", "0", "x"]), int(1));
    assert_eq!(h.run(&["LREM", "nokey", "0", "x"]), int(0));
    assert_eq!(h.run(&["LTRIM", "l", "1", "-1"]), Reply::ok());
    assert_eq!(h.run(&["LRANGE", "l", "0", "-1"]), bulks(&["b", "c"]));
    assert_eq!(h.run(&["LTRIM", "l", "0", "0"]), Reply::ok());
    assert_eq!(h.run(&["LRANGE", "l", "0", "-1"]), bulks(&["b"]));
    assert_eq!(h.run(&["LTRIM", "l", "5", "10"]), Reply::ok());
    assert_eq!(h.run(&["EXISTS", "l"]), int(0));
    assert_eq!(h.run(&["LTRIM", "nokey", "0", "1"]), Reply::ok());
    h.run(&["RPUSH", "l", "a", "b"]);
    assert_eq!(h.run(&["LREM", "l", "0", "a"]), int(1));
    assert_eq!(h.run(&["LREM", "l", "0", "b"]), int(1));
    assert_eq!(h.run(&["EXISTS", "l"]), int(0));
}

#[test]
fn lpos() {
    let mut h = Harness::new();
    h.run(&["RPUSH", "l", "a", "b", "c", "1", "2", "3", "c", "c"]);
    assert_eq!(h.run(&["LPOS", "l", "c"]), int(2));
    assert_eq!(h.run(&["LPOS", "l", "zz"]), Reply::Null);
    assert_eq!(h.run(&["LPOS", "l", "c", "RANK", "2"]), int(6));
    assert_eq!(h.run(&["LPOS", "l", "c", "RANK", "-1"]), int(7));
    assert_eq!(h.run(&["LPOS", "l", "c", "COUNT", "2"]), ints(&[2, 6]));
    assert_eq!(h.run(&["LPOS", "l", "c", "COUNT", "0"]), ints(&[2, 6, 7]));
    assert_eq!(
        h.run(&["LPOS", "l", "c", "RANK", "-2", "COUNT", "0"]),
        ints(&[6, 2])
    );
    assert_eq!(
        h.run(&["LPOS", "l", "c", "COUNT", "0", "MAXLEN", "7"]),
        ints(&[2, 6])
    );
    assert_eq!(h.run(&["LPOS", "l", "zz", "COUNT", "0"]), ints(&[]));
    assert_eq!(h.run(&["LPOS", "nokey", "c"]), Reply::Null);
    assert_eq!(h.run(&["LPOS", "nokey", "c", "COUNT", "1"]), ints(&[]));
    assert_eq!(
        h.run(&["LPOS", "l", "c", "RANK", "0"]),
        err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list")
    );
    assert_eq!(
        h.run(&["LPOS", "l", "c", "COUNT", "-1"]),
        err("ERR COUNT can't be negative")
    );
    assert_eq!(
        h.run(&["LPOS", "l", "c", "MAXLEN", "-1"]),
        err("ERR MAXLEN can't be negative")
    );
    assert_eq!(h.run(&["LPOS", "l", "c", "RANK"]), err("ERR syntax error"));
    assert_eq!(
        h.run(&["LPOS", "l", "c", "FOO", "1"]),
        err("ERR syntax error")
    );
}

#[test]
fn lmove_rpoplpush_lmpop() {
    let mut h = Harness::new();
    h.run(&["RPUSH", "src", "a", "b", "c"]);
    assert_eq!(h.run(&["LMOVE", "src", "dst", "LEFT", "RIGHT"]), bulk("a"));
    assert_eq!(h.run(&["LMOVE", "src", "dst", "right", "left"]), bulk("c"));
    assert_eq!(h.run(&["LRANGE", "dst", "0", "-1"]), bulks(&["c", "a"]));
    assert_eq!(h.run(&["RPOPLPUSH", "dst", "dst"]), bulk("a"));
    assert_eq!(h.run(&["LRANGE", "dst", "0", "-1"]), bulks(&["a", "c"]));
    assert_eq!(h.run(&["RPOPLPUSH", "src", "dst"]), bulk("b"));
    assert_eq!(h.run(&["EXISTS", "src"]), int(0));
    assert_eq!(h.run(&["RPOPLPUSH", "src", "dst"]), Reply::Null);
    assert_eq!(
        h.run(&["LMOVE", "dst", "dst", "UP", "LEFT"]),
        err("ERR syntax error")
    );
    h.run(&["SET", "str", "v"]);
    assert_eq!(
        h.run(&["LMOVE", "dst", "str", "LEFT", "LEFT"]),
        err(WRONGTYPE)
    );
    assert_eq!(
        h.run(&["LMOVE", "nokey", "str", "LEFT", "LEFT"]),
        Reply::Null
    );
    assert_eq!(
        h.run(&["LLEN", "dst"]),
        int(3),
        "nothing popped on WRONGTYPE"
    );
    h.run(&["RPUSH", "one", "x"]);
    assert_eq!(h.run(&["RPOPLPUSH", "one", "one"]), bulk("x"));
    assert_eq!(h.run(&["LRANGE", "one", "0", "-1"]), bulks(&["x"]));

    assert_eq!(
        h.run(&["LMPOP", "2", "nokey", "dst", "LEFT"]),
        Reply::Array(vec![bulk("dst"), bulks(&["b"])])
    );
    assert_eq!(
        h.run(&["LMPOP", "2", "nokey", "dst", "RIGHT", "COUNT", "5"]),
        Reply::Array(vec![bulk("dst"), bulks(&["c", "a"])])
    );
    assert_eq!(h.run(&["LMPOP", "1", "dst", "LEFT"]), Reply::NullArray);
    assert_eq!(h.run(&["LMPOP", "1", "str", "LEFT"]), err(WRONGTYPE));
    assert_eq!(
        h.run(&["LMPOP", "0", "dst", "LEFT"]),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        h.run(&["LMPOP", "2", "dst", "LEFT"]),
        err("ERR syntax error")
    );
    assert_eq!(h.run(&["LMPOP", "1", "dst", "UP"]), err("ERR syntax error"));
    assert_eq!(
        h.run(&["LMPOP", "1", "dst", "LEFT", "COUNT", "0"]),
        err("ERR count should be greater than 0")
    );
    assert_eq!(
        h.run(&["LMPOP", "1", "dst", "LEFT", "COUNT", "1", "COUNT", "1"]),
        err("ERR syntax error")
    );
}

#[test]
fn wrong_type_everywhere() {
    let mut h = Harness::new();
    h.run(&["SET", "s", "v"]);
    for command in [
        &["LPUSH", "s", "a"][..],
        &["RPUSH", "s", "a"],
        &["LPUSHX", "s", "a"],
        &["RPUSHX", "s", "a"],
        &["LPOP", "s"],
        &["RPOP", "s", "1"],
        &["LLEN", "s"],
        &["LRANGE", "s", "0", "1"],
        &["LINDEX", "s", "0"],
        &["LSET", "s", "0", "a"],
        &["LINSERT", "s", "BEFORE", "a", "b"],
        &["LREM", "s", "0", "a"],
        &["LTRIM", "s", "0", "1"],
        &["LPOS", "s", "a"],
        &["LMOVE", "s", "d", "LEFT", "LEFT"],
        &["RPOPLPUSH", "s", "d"],
    ] {
        assert_eq!(h.run(command), err(WRONGTYPE), "{command:?}");
    }
}

#[test]
fn encodings_follow_the_limits() {
    let mut h = Harness::new();
    h.limits.encoding.list_max_listpack_size = 4;
    h.run(&["RPUSH", "l", "1", "2", "3", "4"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "l"]), bulk("listpack"));
    h.run(&["RPUSH", "l", "5"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "l"]), bulk("quicklist"));
    h.run(&["LTRIM", "l", "0", "1"]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "l"]), bulk("listpack"));
    h.limits.encoding = Default::default();
    let big = "x".repeat(9000);
    h.run(&["RPUSH", "big", &big]);
    assert_eq!(h.run(&["OBJECT", "ENCODING", "big"]), bulk("quicklist"));
    assert_eq!(h.run(&["LINDEX", "big", "0"]), bulk(&big));
}

/// Random pushes, pops, LSET, LINSERT, LREM, LTRIM and LMOVE against `VecDeque`s, with node
/// limits small enough that lists span many nodes and change encodings, checked after every step.
#[test]
fn model_test() {
    for seed in 0..6 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut h = Harness::new();
        h.limits.encoding.list_max_listpack_size = [3, 5, -1][seed as usize % 3];
        let mut model: HashMap<String, VecDeque<String>> = HashMap::new();
        for _ in 0..2000 {
            let key = format!("{{t}}k{}", rng.usize(..2));
            let item = if rng.bool() {
                format!("v{}", rng.usize(..6))
            } else {
                "w".repeat(rng.usize(..200))
            };
            let len = model.get(&key).map_or(0, |l| l.len()) as i64;
            let index = rng.i64(-len - 2..len + 2);
            match rng.usize(..9) {
                0 | 1 => {
                    let list = model.entry(key.clone()).or_default();
                    list.push_front(item.clone());
                    assert_eq!(h.run(&["LPUSH", &key, &item]), int(list.len() as i64));
                }
                2 => {
                    let list = model.entry(key.clone()).or_default();
                    list.push_back(item.clone());
                    assert_eq!(h.run(&["RPUSH", &key, &item]), int(list.len() as i64));
                }
                3 => {
                    let popped = model.get_mut(&key).and_then(|l| l.pop_back());
                    let expected = popped.map_or(Reply::Null, |item| bulk(&item));
                    assert_eq!(h.run(&["RPOP", &key]), expected);
                }
                4 => {
                    let position = if index < 0 { index + len } else { index };
                    let expected = match model.get_mut(&key) {
                        None => err("ERR no such key"),
                        Some(list) if (0..len).contains(&position) => {
                            list[position as usize] = item.clone();
                            Reply::ok()
                        }
                        Some(_) => err("ERR index out of range"),
                    };
                    assert_eq!(h.run(&["LSET", &key, &index.to_string(), &item]), expected);
                }
                5 => {
                    let pivot = format!("v{}", rng.usize(..6));
                    let expected = match model.get_mut(&key) {
                        None => 0,
                        Some(list) => match list.iter().position(|x| *x == pivot) {
                            Some(at) => {
                                list.insert(at + 1, item.clone());
                                list.len() as i64
                            }
                            None => -1,
                        },
                    };
                    assert_eq!(
                        h.run(&["LINSERT", &key, "AFTER", &pivot, &item]),
                        int(expected)
                    );
                }
                6 => {
                    let count = rng.i64(-2..3);
                    let target = format!("v{}", rng.usize(..6));
                    let mut removed = 0;
                    if let Some(list) = model.get_mut(&key) {
                        let most = if count == 0 {
                            usize::MAX
                        } else {
                            count.unsigned_abs() as usize
                        };
                        let mut kept: Vec<String> = list.iter().cloned().collect();
                        if count < 0 {
                            kept.reverse();
                        }
                        kept.retain(|x| {
                            if *x == target && removed < most {
                                removed += 1;
                                false
                            } else {
                                true
                            }
                        });
                        if count < 0 {
                            kept.reverse();
                        }
                        *list = kept.into();
                    }
                    assert_eq!(
                        h.run(&["LREM", &key, &count.to_string(), &target]),
                        int(removed as i64)
                    );
                }
                7 => {
                    let stop = rng.i64(-len - 2..len + 2);
                    if let Some(list) = model.get_mut(&key) {
                        let start = if index < 0 {
                            (index + len).max(0)
                        } else {
                            index
                        };
                        let end = if stop < 0 {
                            stop + len
                        } else {
                            stop.min(len - 1)
                        };
                        *list = if start > end || start >= len {
                            VecDeque::new()
                        } else {
                            list.range(start as usize..=end as usize).cloned().collect()
                        };
                    }
                    h.run(&["LTRIM", &key, &index.to_string(), &stop.to_string()]);
                }
                _ => {
                    let other = format!("{{t}}k{}", rng.usize(..2));
                    let moved = model.get_mut(&key).and_then(|l| l.pop_front());
                    if let Some(item) = &moved {
                        model.retain(|_, list| !list.is_empty());
                        model
                            .entry(other.clone())
                            .or_default()
                            .push_back(item.clone());
                    }
                    let expected = moved.map_or(Reply::Null, |item| bulk(&item));
                    assert_eq!(h.run(&["LMOVE", &key, &other, "LEFT", "RIGHT"]), expected);
                }
            }
            model.retain(|_, list| !list.is_empty());
            for (key, list) in &model {
                let expected: Vec<&str> = list.iter().map(String::as_str).collect();
                assert_eq!(
                    h.run(&["LRANGE", key, "0", "-1"]),
                    bulks(&expected),
                    "seed {seed}"
                );
                let probe = rng.usize(..list.len());
                assert_eq!(
                    h.run(&["LINDEX", key, &probe.to_string()]),
                    bulk(&list[probe])
                );
            }
            assert_eq!(h.keyspace.total_keys(), model.len());
        }
    }
}
