//! Unit tests of `set`: every command in-process, and a model test against a `HashSet`.

use std::collections::{HashMap, HashSet};

use super::*;
use crate::command::lookup;
use crate::command::test_support::{bulk, err, int, Harness, WRONGTYPE};

/// The texts of an array or set reply, sorted.
fn sorted(reply: Reply) -> Vec<String> {
    let mut items: Vec<String> = match reply {
        Reply::Array(items) | Reply::Set(items) => items
            .into_iter()
            .map(|item| match item {
                Reply::Bulk(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
                other => panic!("not a bulk: {other:?}"),
            })
            .collect(),
        other => panic!("not an array: {other:?}"),
    };
    items.sort();
    items
}

#[test]
fn table_rows() {
    let keys = |name: &str| {
        let spec = lookup(name.as_bytes()).unwrap();
        assert_eq!(spec.group, "set");
        (spec.first_key, spec.last_key, spec.step, spec.routing)
    };
    assert_eq!(keys("sadd"), (1, 1, 1, Routing::SingleKey));
    assert_eq!(keys("smove"), (1, 2, 1, Routing::MultiKey));
    assert_eq!(keys("sinter"), (1, -1, 1, Routing::MultiKey));
    assert_eq!(keys("sunionstore"), (1, -1, 1, Routing::MultiKey));
    assert_eq!(keys("sintercard").3, Routing::MultiKey);
    assert_eq!(COMMANDS.len(), 17);
}

#[test]
fn add_remove_members() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SADD", "s", "a", "b", "a"]), int(2));
    assert_eq!(h.run(&["SADD", "s", "b", "c"]), int(1));
    assert_eq!(h.run(&["SCARD", "s"]), int(3));
    assert_eq!(h.run(&["SCARD", "nokey"]), int(0));
    assert_eq!(sorted(h.run(&["SMEMBERS", "s"])), ["a", "b", "c"]);
    assert_eq!(h.run(&["SMEMBERS", "nokey"]), Reply::Set(vec![]));
    assert_eq!(h.run(&["SISMEMBER", "s", "a"]), int(1));
    assert_eq!(h.run(&["SISMEMBER", "s", "z"]), int(0));
    assert_eq!(h.run(&["SISMEMBER", "nokey", "z"]), int(0));
    assert_eq!(
        h.run(&["SMISMEMBER", "s", "a", "z", "c"]),
        Reply::Array(vec![int(1), int(0), int(1)])
    );
    assert_eq!(h.run(&["SREM", "s", "a", "z"]), int(1));
    assert_eq!(h.run(&["SREM", "nokey", "a"]), int(0));
    assert_eq!(h.run(&["SREM", "s", "b", "c"]), int(2));
    assert_eq!(h.run(&["EXISTS", "s"]), int(0));
    assert_eq!(h.run(&["TYPE", "nokey"]), Reply::status("none"));
    h.run(&["SADD", "s", "x"]);
    assert_eq!(h.run(&["TYPE", "s"]), Reply::status("set"));
}

#[test]
fn wrong_type_everywhere() {
    let mut h = Harness::new();
    h.run(&["SET", "str", "v"]);
    h.run(&["SADD", "s", "a"]);
    for command in [
        &["SADD", "str", "a"][..],
        &["SREM", "str", "a"],
        &["SMEMBERS", "str"],
        &["SISMEMBER", "str", "a"],
        &["SMISMEMBER", "str", "a"],
        &["SCARD", "str"],
        &["SPOP", "str"],
        &["SPOP", "str", "0"],
        &["SRANDMEMBER", "str"],
        &["SMOVE", "str", "s", "a"],
        &["SMOVE", "s", "str", "a"],
        &["SINTER", "s", "str"],
        &["SINTER", "nokey", "str"],
        &["SUNION", "s", "str"],
        &["SDIFF", "s", "str"],
        &["SINTERSTORE", "d", "s", "str"],
        &["SUNIONSTORE", "d", "str"],
        &["SDIFFSTORE", "d", "str", "s"],
        &["SINTERCARD", "2", "s", "str"],
        &["SSCAN", "str", "0"],
    ] {
        assert_eq!(h.run(command), err(WRONGTYPE), "{command:?}");
    }
    assert_eq!(h.run(&["EXISTS", "d"]), int(0));
    assert_eq!(
        h.run(&["SMOVE", "nokey", "str", "a"]),
        int(0),
        "no source: 0 first"
    );
}

#[test]
fn encodings_follow_the_limits() {
    let mut h = Harness::new();
    h.limits.encoding.set_max_intset_entries = 3;
    h.limits.encoding.set_max_listpack_entries = 4;
    h.limits.encoding.set_max_listpack_value = 5;
    let encoding = |h: &mut Harness, key: &str| h.run(&["OBJECT", "ENCODING", key]);
    h.run(&["SADD", "i", "1", "2", "3"]);
    assert_eq!(encoding(&mut h, "i"), bulk("intset"));
    h.run(&["SADD", "i", "4"]);
    assert_eq!(encoding(&mut h, "i"), bulk("hashtable"));
    h.run(&["SADD", "l", "1", "a"]);
    assert_eq!(encoding(&mut h, "l"), bulk("listpack"));
    h.run(&["SADD", "l", "b", "c"]);
    assert_eq!(encoding(&mut h, "l"), bulk("listpack"));
    h.run(&["SADD", "l", "d"]);
    assert_eq!(encoding(&mut h, "l"), bulk("hashtable"));
    h.run(&["SADD", "v", "abcdef"]);
    assert_eq!(encoding(&mut h, "v"), bulk("hashtable"));
    h.run(&["SADD", "many", "a", "b", "c", "d", "e"]);
    assert_eq!(encoding(&mut h, "many"), bulk("hashtable"));
    h.limits.encoding = Default::default();
    h.run(&["SADD", "ints", "1", "-5", "100000", "9223372036854775807"]);
    assert_eq!(encoding(&mut h, "ints"), bulk("intset"));
    assert_eq!(
        sorted(h.run(&["SMEMBERS", "ints"])),
        ["-5", "1", "100000", "9223372036854775807"]
    );
}

#[test]
fn spop_and_srandmember() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["SPOP", "nokey"]), Reply::Null);
    assert_eq!(h.run(&["SPOP", "nokey", "2"]), Reply::Set(vec![]));
    assert_eq!(h.run(&["SRANDMEMBER", "nokey"]), Reply::Null);
    assert_eq!(h.run(&["SRANDMEMBER", "nokey", "2"]), Reply::Array(vec![]));
    h.run(&["SADD", "s", "a", "b", "c", "d", "1"]);
    assert_eq!(
        sorted(h.run(&["SRANDMEMBER", "s", "10"])),
        ["1", "a", "b", "c", "d"]
    );
    let three = sorted(h.run(&["SRANDMEMBER", "s", "3"]));
    assert_eq!(three.len(), 3);
    assert!(three.windows(2).all(|pair| pair[0] != pair[1]));
    assert_eq!(sorted(h.run(&["SRANDMEMBER", "s", "-12"])).len(), 12);
    assert_eq!(h.run(&["SRANDMEMBER", "s", "0"]), Reply::Array(vec![]));
    assert_eq!(
        h.run(&["SRANDMEMBER", "s", "1", "2"]),
        err("ERR syntax error")
    );
    assert_eq!(
        h.run(&["SRANDMEMBER", "s", "x"]),
        err("ERR value is not an integer or out of range")
    );
    let Reply::Bulk(one) = h.run(&["SPOP", "s"]) else {
        panic!("not a bulk");
    };
    assert_eq!(
        h.run(&["SISMEMBER", "s", std::str::from_utf8(&one).unwrap()]),
        int(0)
    );
    let two = sorted(h.run(&["SPOP", "s", "2"]));
    assert_eq!(two.len(), 2);
    assert_eq!(h.run(&["SCARD", "s"]), int(2));
    assert_eq!(h.run(&["SPOP", "s", "0"]), Reply::Set(vec![]));
    assert_eq!(
        h.run(&["SPOP", "s", "-1"]),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(
        h.run(&["SPOP", "s", "x"]),
        err("ERR value is out of range, must be positive")
    );
    assert_eq!(h.run(&["SPOP", "s", "1", "2"]), err("ERR syntax error"));
    assert_eq!(sorted(h.run(&["SPOP", "s", "5"])).len(), 2);
    assert_eq!(h.run(&["EXISTS", "s"]), int(0));
}

#[test]
fn smove() {
    let mut h = Harness::new();
    h.run(&["SADD", "src", "a", "b"]);
    assert_eq!(h.run(&["SMOVE", "src", "dst", "a"]), int(1));
    assert_eq!(h.run(&["SMOVE", "src", "dst", "z"]), int(0));
    assert_eq!(h.run(&["SMOVE", "src", "src", "b"]), int(1));
    assert_eq!(h.run(&["SMOVE", "src", "src", "z"]), int(0));
    assert_eq!(h.run(&["SMOVE", "src", "dst", "b"]), int(1));
    assert_eq!(h.run(&["EXISTS", "src"]), int(0));
    assert_eq!(sorted(h.run(&["SMEMBERS", "dst"])), ["a", "b"]);
}

#[test]
fn algebra() {
    let mut h = Harness::new();
    h.run(&["SADD", "a", "1", "2", "3", "x"]);
    h.run(&["SADD", "b", "2", "3", "4"]);
    h.run(&["SADD", "c", "3", "x", "y"]);
    assert_eq!(sorted(h.run(&["SINTER", "a", "b"])), ["2", "3"]);
    assert_eq!(sorted(h.run(&["SINTER", "a", "b", "c"])), ["3"]);
    assert_eq!(
        sorted(h.run(&["SINTER", "a", "nokey"])),
        Vec::<String>::new()
    );
    assert_eq!(
        sorted(h.run(&["SUNION", "a", "b", "nokey"])),
        ["1", "2", "3", "4", "x"]
    );
    assert_eq!(sorted(h.run(&["SDIFF", "a", "b", "nokey"])), ["1", "x"]);
    assert_eq!(
        sorted(h.run(&["SDIFF", "nokey", "a"])),
        Vec::<String>::new()
    );
    assert_eq!(h.run(&["SINTERSTORE", "d", "a", "c"]), int(2));
    assert_eq!(sorted(h.run(&["SMEMBERS", "d"])), ["3", "x"]);
    assert_eq!(h.run(&["SUNIONSTORE", "d", "b"]), int(3));
    assert_eq!(h.run(&["OBJECT", "ENCODING", "d"]), bulk("intset"));
    assert_eq!(h.run(&["SDIFFSTORE", "d", "a", "a"]), int(0));
    assert_eq!(
        h.run(&["EXISTS", "d"]),
        int(0),
        "an empty result deletes the destination"
    );
    h.run(&["SET", "str", "v"]);
    h.run(&["EXPIRE", "str", "100"]);
    assert_eq!(h.run(&["SUNIONSTORE", "str", "a"]), int(4));
    assert_eq!(h.run(&["TYPE", "str"]), Reply::status("set"));
    assert_eq!(h.run(&["TTL", "str"]), int(-1));
    assert_eq!(
        h.run(&["SINTERSTORE", "a", "a", "b"]),
        int(2),
        "destination among sources"
    );
    assert_eq!(sorted(h.run(&["SMEMBERS", "a"])), ["2", "3"]);
}

#[test]
fn sintercard() {
    let mut h = Harness::new();
    h.run(&["SADD", "a", "1", "2", "3", "4"]);
    h.run(&["SADD", "b", "2", "3", "4", "5"]);
    assert_eq!(h.run(&["SINTERCARD", "2", "a", "b"]), int(3));
    assert_eq!(h.run(&["SINTERCARD", "2", "a", "b", "LIMIT", "2"]), int(2));
    assert_eq!(h.run(&["SINTERCARD", "2", "a", "b", "limit", "0"]), int(3));
    assert_eq!(h.run(&["SINTERCARD", "1", "a"]), int(4));
    assert_eq!(h.run(&["SINTERCARD", "2", "a", "nokey"]), int(0));
    assert_eq!(
        h.run(&["SINTERCARD", "0", "a"]),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        h.run(&["SINTERCARD", "x", "a"]),
        err("ERR numkeys should be greater than 0")
    );
    assert_eq!(
        h.run(&["SINTERCARD", "3", "a", "b"]),
        err("ERR Number of keys can't be greater than number of args")
    );
    assert_eq!(
        h.run(&["SINTERCARD", "2", "a", "b", "LIMIT", "-1"]),
        err("ERR LIMIT can't be negative")
    );
    assert_eq!(
        h.run(&["SINTERCARD", "2", "a", "b", "LIMIT"]),
        err("ERR syntax error")
    );
    assert_eq!(
        h.run(&["SINTERCARD", "1", "a", "b"]),
        err("ERR syntax error")
    );
}

#[test]
fn sscan() {
    let mut h = Harness::new();
    h.run(&["SADD", "small", "a", "b", "c"]);
    let reply = h.run(&["SSCAN", "small", "0", "MATCH", "[ab]"]);
    let Reply::Array(parts) = reply else {
        panic!("not an array");
    };
    assert_eq!(parts[0], bulk("0"));
    assert_eq!(sorted(parts[1].clone()), ["a", "b"]);
    for n in 0..1000 {
        h.run(&["SADD", "big", &n.to_string()]);
    }
    assert_eq!(h.run(&["OBJECT", "ENCODING", "big"]), bulk("hashtable"));
    let (mut cursor, mut seen) = ("0".to_string(), HashSet::new());
    loop {
        let Reply::Array(parts) = h.run(&["SSCAN", "big", &cursor, "COUNT", "50"]) else {
            panic!("not an array");
        };
        let Reply::Bulk(next) = &parts[0] else {
            panic!("no cursor");
        };
        seen.extend(sorted(parts[1].clone()));
        // Members removed mid-scan must not hide the others.
        h.run(&["SREM", "big", &format!("{}", seen.len() % 1000)]);
        cursor = String::from_utf8_lossy(next).into_owned();
        if cursor == "0" {
            break;
        }
    }
    let remaining = sorted(h.run(&["SMEMBERS", "big"]));
    assert!(remaining.iter().all(|member| seen.contains(member)));
}

/// Random SADD/SREM/SPOP/SMOVE/SINTERSTORE against `HashSet`s, with thresholds low enough that
/// the sets cross from intset and listpack to table, checked after every step.
#[test]
fn model_test() {
    for seed in 0..6 {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut h = Harness::new();
        if seed % 2 == 0 {
            h.limits.encoding.set_max_intset_entries = 6;
            h.limits.encoding.set_max_listpack_entries = 10;
            h.limits.encoding.set_max_listpack_value = 3;
        }
        let mut model: HashMap<String, HashSet<String>> = HashMap::new();
        let member = |rng: &mut fastrand::Rng| match rng.usize(..3) {
            0 => rng.i64(-40..40).to_string(),
            1 => format!("m{}", rng.usize(..30)),
            _ => format!("long-{}", rng.usize(..5)),
        };
        for _ in 0..1500 {
            let key = format!("{{t}}k{}", rng.usize(..3));
            let other = format!("{{t}}k{}", rng.usize(..3));
            let item = member(&mut rng);
            match rng.usize(..6) {
                0 | 1 => {
                    let new = model.entry(key.clone()).or_default().insert(item.clone());
                    assert_eq!(h.run(&["SADD", &key, &item]), int(new as i64));
                }
                2 => {
                    let removed = model.get_mut(&key).is_some_and(|s| s.remove(&item));
                    assert_eq!(h.run(&["SREM", &key, &item]), int(removed as i64));
                }
                3 => {
                    let Reply::Set(popped) = h.run(&["SPOP", &key, "2"]) else {
                        panic!("spop reply");
                    };
                    for reply in popped {
                        let Reply::Bulk(bytes) = reply else {
                            panic!("bulk")
                        };
                        let text = String::from_utf8_lossy(&bytes).into_owned();
                        assert!(model.get_mut(&key).unwrap().remove(&text));
                    }
                }
                4 => {
                    let moved = model.get(&key).is_some_and(|s| s.contains(&item));
                    if moved && key != other {
                        model.get_mut(&key).unwrap().remove(&item);
                        model.entry(other.clone()).or_default().insert(item.clone());
                    }
                    assert_eq!(h.run(&["SMOVE", &key, &other, &item]), int(moved as i64));
                }
                _ => {
                    let a = model.get(&key).cloned().unwrap_or_default();
                    let b = model.get(&other).cloned().unwrap_or_default();
                    let union: HashSet<String> = a.union(&b).cloned().collect();
                    let target = format!("{{t}}k{}", rng.usize(..3));
                    assert_eq!(
                        h.run(&["SUNIONSTORE", &target, &key, &other]),
                        int(union.len() as i64)
                    );
                    model.insert(target, union);
                }
            }
            model.retain(|_, set| !set.is_empty());
            for (key, members) in &model {
                let mut expected: Vec<String> = members.iter().cloned().collect();
                expected.sort();
                assert_eq!(sorted(h.run(&["SMEMBERS", key])), expected, "seed {seed}");
            }
            assert_eq!(h.keyspace.total_keys(), model.len());
        }
    }
}
