//! Blocking commands over sockets: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN BZPOPMAX BZMPOP,
//! served at once, woken by writes from other connections and cores, FIFO among blocked clients,
//! timeouts (RESP2 and RESP3), CLIENT UNBLOCK, disconnects and restarts.

mod common;

use std::thread::JoinHandle;
use std::time::Duration;

use common::*;
use redis::Value;
use shardis::slot::SlotTable;

const SHARDS: usize = 2;

/// A key that lands on `shard` of [`SHARDS`].
fn key_on(shard: usize, prefix: &str) -> String {
    let table = SlotTable::new(SHARDS);
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| table.shard_of_key(k.as_bytes()) == shard)
        .expect("some key lands on every shard")
}

fn start() -> TestServer {
    TestServer::start_with(SHARDS, &[])
}

/// A connection and the core that owns it (client ids from core i are i + 1 + k * shards).
fn connection_with_core(server: &TestServer) -> (redis::Connection, usize, u64) {
    let mut con = server.connection();
    let id: u64 = query(&mut con, &["CLIENT", "ID"]);
    (con, ((id - 1) % SHARDS as u64) as usize, id)
}

/// Runs a command on its own connection in a thread (it blocks); returns the connection's id.
fn spawn_blocked(
    server: &TestServer,
    args: &[&str],
) -> (u64, usize, JoinHandle<redis::RedisResult<Value>>) {
    let (mut con, core, id) = connection_with_core(server);
    let cmd = command(args);
    let handle = std::thread::spawn(move || cmd.query::<Value>(&mut con));
    (id, core, handle)
}

fn bulk(text: &str) -> Value {
    Value::BulkString(text.as_bytes().to_vec())
}

fn pair(key: &str, item: &str) -> Value {
    Value::Array(vec![bulk(key), bulk(item)])
}

fn result(handle: JoinHandle<redis::RedisResult<Value>>) -> redis::RedisResult<Value> {
    handle.join().expect("client thread")
}

#[test]
fn blpop_is_served_at_once_when_a_key_has_data() {
    let server = start();
    let mut con = server.connection();
    let (a, b) = (key_on(0, "a"), key_on(1, "b"));
    query::<()>(&mut con, &["RPUSH", &b, "1", "2"]);
    let got: Value = query(&mut con, &["BLPOP", &a, &b, "0"]);
    assert_eq!(got, pair(&b, "1"));
    let got: Value = query(&mut con, &["BRPOP", &b, "0"]);
    assert_eq!(got, pair(&b, "2"));
    query::<()>(&mut con, &["SET", &a, "x"]);
    assert!(error_of(&mut con, &["BLPOP", &a, "0"]).starts_with("WRONGTYPE"));
    assert_eq!(
        error_of(&mut con, &["BLPOP", &b, "-1"]),
        "ERR timeout is negative"
    );
    assert_eq!(
        error_of(&mut con, &["BLPOP", &b, "soon"]),
        "ERR timeout is not a float or out of range"
    );
    assert_eq!(info_field(&mut con, "blocked_clients"), 0);
}

#[test]
fn blocked_client_is_woken_by_a_push_on_another_core() {
    let server = start();
    let mut other = server.connection();
    for _ in 0..2 {
        // The blocked client's core never owns the key.
        let (mut con, core, _) = connection_with_core(&server);
        let key = key_on(1 - core, "wake");
        let handle = std::thread::spawn(move || query::<Value>(&mut con, &["BLPOP", &key, "0"]));
        wait_blocked(&mut other, 1);
        let key = key_on(1 - core, "wake");
        query::<()>(&mut other, &["RPUSH", &key, "x"]);
        assert_eq!(handle.join().expect("client"), pair(&key, "x"));
        wait_blocked(&mut other, 0);
        assert_eq!(query::<i64>(&mut other, &["EXISTS", &key]), 0);
    }
}

#[test]
fn clients_blocked_on_a_key_are_served_in_fifo_order() {
    let server = start();
    let mut con = server.connection();
    let key = key_on(1, "fifo");
    let mut waiting = Vec::new();
    for n in 1..=3 {
        waiting.push(spawn_blocked(&server, &["BLPOP", &key, "0"]).2);
        wait_blocked(&mut con, n);
    }
    query::<()>(&mut con, &["RPUSH", &key, "first", "second", "third"]);
    let got: Vec<Value> = waiting
        .into_iter()
        .map(|h| result(h).expect("served"))
        .collect();
    assert_eq!(
        got,
        vec![
            pair(&key, "first"),
            pair(&key, "second"),
            pair(&key, "third")
        ]
    );
}

#[test]
fn timeouts_reply_a_null_array_in_resp2_and_resp3() {
    let server = start();
    let key = key_on(0, "t");
    let mut raw = server.raw();
    raw.roundtrip(&resp(&["BLPOP", &key, "0.05"]), b"*-1\r\n");
    raw.roundtrip(
        &resp(&["BLMOVE", &key, "dst", "LEFT", "LEFT", "0.01"]),
        b"*-1\r\n",
    );
    raw.roundtrip(&resp(&["BZPOPMIN", &key, "0.01"]), b"*-1\r\n");
    raw.send(&resp(&["HELLO", "3"]));
    raw.read_reply().expect("hello");
    raw.roundtrip(&resp(&["BRPOP", &key, "0.05"]), b"_\r\n");
    raw.roundtrip(&resp(&["BLMPOP", "0.01", "1", &key, "LEFT"]), b"_\r\n");
    // Keys on both shards: the watch path times out too.
    let other = key_on(1, "t");
    raw.roundtrip(&resp(&["BLPOP", &key, &other, "0.05"]), b"_\r\n");
    raw.send(&resp(&["HELLO", "2"]));
    raw.read_reply().expect("hello");
    raw.roundtrip(&resp(&["BLPOP", &key, &other, "0.05"]), b"*-1\r\n");
}

#[test]
fn blmove_and_brpoplpush_on_one_shard_and_across_shards() {
    let server = start();
    let mut con = server.connection();
    let (src, same) = ("{m}src".to_string(), "{m}dst".to_string());
    let src_shard = SlotTable::new(SHARDS).shard_of_key(src.as_bytes());
    let far = key_on(1 - src_shard, "far");

    // At once, then blocked and woken, on one shard.
    query::<()>(&mut con, &["RPUSH", &src, "a"]);
    let got: String = query(&mut con, &["BRPOPLPUSH", &src, &same, "0"]);
    assert_eq!(got, "a");
    let (_, _, handle) = spawn_blocked(&server, &["BLMOVE", &src, &same, "RIGHT", "LEFT", "0"]);
    wait_blocked(&mut con, 1);
    query::<()>(&mut con, &["RPUSH", &src, "b"]);
    assert_eq!(result(handle).expect("served"), bulk("b"));
    let list: Vec<String> = query(&mut con, &["LRANGE", &same, "0", "-1"]);
    assert_eq!(list, vec!["b", "a"]);

    // Across shards: the destination lives on the other core.
    let (_, _, handle) = spawn_blocked(&server, &["BRPOPLPUSH", &src, &far, "0"]);
    wait_blocked(&mut con, 1);
    query::<()>(&mut con, &["RPUSH", &src, "c"]);
    assert_eq!(result(handle).expect("served"), bulk("c"));
    let list: Vec<String> = query(&mut con, &["LRANGE", &far, "0", "-1"]);
    assert_eq!(list, vec!["c"]);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", &src]), 0);
    query::<()>(&mut con, &["RPUSH", &src, "d"]);
    let got: String = query(&mut con, &["BLMOVE", &src, &far, "LEFT", "RIGHT", "0"]);
    assert_eq!(got, "d");
    let list: Vec<String> = query(&mut con, &["LRANGE", &far, "0", "-1"]);
    assert_eq!(list, vec!["c", "d"]);
}

#[test]
fn blmpop_and_bzmpop() {
    let server = start();
    let mut con = server.connection();
    let (a, b) = ("{p}a".to_string(), "{p}b".to_string());
    query::<()>(&mut con, &["RPUSH", &b, "1", "2", "3"]);
    let got: Value = query(
        &mut con,
        &["BLMPOP", "0", "2", &a, &b, "RIGHT", "COUNT", "2"],
    );
    assert_eq!(
        got,
        Value::Array(vec![bulk(&b), Value::Array(vec![bulk("3"), bulk("2")])])
    );
    let (_, _, handle) = spawn_blocked(&server, &["BLMPOP", "0", "1", &a, "LEFT"]);
    wait_blocked(&mut con, 1);
    query::<()>(&mut con, &["RPUSH", &a, "x", "y"]);
    assert_eq!(
        result(handle).expect("served"),
        Value::Array(vec![bulk(&a), Value::Array(vec![bulk("x")])])
    );

    let (z1, z2) = (key_on(0, "z"), key_on(1, "z"));
    let (_, _, handle) = spawn_blocked(
        &server,
        &["BZMPOP", "0", "2", &z1, &z2, "MAX", "COUNT", "5"],
    );
    wait_blocked(&mut con, 1);
    query::<()>(&mut con, &["ZADD", &z2, "1", "one", "2", "two"]);
    assert_eq!(
        result(handle).expect("served"),
        Value::Array(vec![
            bulk(&z2),
            Value::Array(vec![
                Value::Array(vec![bulk("two"), bulk("2")]),
                Value::Array(vec![bulk("one"), bulk("1")]),
            ])
        ])
    );
    assert_eq!(
        error_of(&mut con, &["BZMPOP", "0", "0", &z1, "MIN"]),
        "ERR numkeys should be greater than 0"
    );
}

#[test]
fn bzpopmin_and_bzpopmax() {
    let server = start();
    let mut con = server.connection();
    let key = key_on(1, "zs");
    query::<()>(&mut con, &["ZADD", &key, "1", "a", "2", "b", "3", "c"]);
    let got: Value = query(&mut con, &["BZPOPMIN", &key, "0"]);
    assert_eq!(got, Value::Array(vec![bulk(&key), bulk("a"), bulk("1")]));
    let got: Value = query(&mut con, &["BZPOPMAX", &key, "0"]);
    assert_eq!(got, Value::Array(vec![bulk(&key), bulk("c"), bulk("3")]));
    query::<()>(&mut con, &["DEL", &key]);
    let (_, _, handle) = spawn_blocked(&server, &["BZPOPMAX", &key, "0"]);
    wait_blocked(&mut con, 1);
    // A list under the key wakes nobody; the sorted set does.
    query::<()>(&mut con, &["RPUSH", &key, "x"]);
    query::<()>(&mut con, &["DEL", &key]);
    query::<()>(&mut con, &["ZADD", &key, "5", "e", "1.5", "f"]);
    assert_eq!(
        result(handle).expect("served"),
        Value::Array(vec![bulk(&key), bulk("e"), bulk("5")])
    );
    let mut raw = server.raw();
    raw.send(&resp(&["HELLO", "3"]));
    raw.read_reply().expect("hello");
    let expected = format!("*3\r\n${}\r\n{key}\r\n$1\r\nf\r\n,1.5\r\n", key.len());
    raw.roundtrip(&resp(&["BZPOPMIN", &key, "0"]), expected.as_bytes());
}

#[test]
fn the_second_key_getting_data_wakes_the_client() {
    let server = start();
    let mut con = server.connection();
    // Both keys on one shard, then on two.
    for (a, b) in [
        ("{s}a".to_string(), "{s}b".to_string()),
        (key_on(0, "a"), key_on(1, "b")),
    ] {
        let (_, _, handle) = spawn_blocked(&server, &["BLPOP", &a, &b, "0"]);
        wait_blocked(&mut con, 1);
        query::<()>(&mut con, &["LPUSH", &b, "v"]);
        assert_eq!(result(handle).expect("served"), pair(&b, "v"));
        assert_eq!(query::<i64>(&mut con, &["EXISTS", &b]), 0);
    }
}

#[test]
fn client_unblock_with_timeout_and_error() {
    let server = start();
    let mut con = server.connection();
    let own: u64 = query(&mut con, &["CLIENT", "ID"]);
    assert_eq!(
        query::<i64>(&mut con, &["CLIENT", "UNBLOCK", &own.to_string()]),
        0
    );
    assert_eq!(
        error_of(&mut con, &["CLIENT", "UNBLOCK", "1", "MAYBE"]),
        "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR"
    );
    for keys in [vec![key_on(1, "u")], vec![key_on(0, "u"), key_on(1, "u")]] {
        let mut args = vec!["BLPOP"];
        args.extend(keys.iter().map(String::as_str));
        args.push("0");
        let (id, _, handle) = spawn_blocked(&server, &args);
        wait_blocked(&mut con, 1);
        let list: String = query(&mut con, &["CLIENT", "LIST"]);
        let line = list
            .lines()
            .find(|l| l.starts_with(&format!("id={id} ")))
            .expect("listed");
        assert!(line.contains(" flags=b "), "{line}");
        assert!(info_field(&mut con, "total_blocking_keys") >= 1);
        assert_eq!(
            query::<i64>(&mut con, &["CLIENT", "UNBLOCK", &id.to_string()]),
            1
        );
        assert_eq!(result(handle).expect("unblocked"), Value::Nil);

        let (id, _, handle) = spawn_blocked(&server, &args);
        wait_blocked(&mut con, 1);
        let unblocked: i64 = query(&mut con, &["CLIENT", "UNBLOCK", &id.to_string(), "ERROR"]);
        assert_eq!(unblocked, 1);
        let error = result(handle).expect_err("unblocked with an error");
        assert_eq!(error.code(), Some("UNBLOCKED"));
        assert_eq!(error.detail(), Some("client unblocked via CLIENT UNBLOCK"));
        wait_blocked(&mut con, 0);
        assert_eq!(info_field(&mut con, "total_blocking_keys"), 0);
    }
}

#[test]
fn a_blocked_client_that_disconnects_loses_nothing() {
    let server = start();
    let mut con = server.connection();
    for keys in [vec![key_on(0, "d")], vec![key_on(0, "d"), key_on(1, "d")]] {
        let mut args = vec!["BLPOP"];
        args.extend(keys.iter().map(String::as_str));
        args.push("0");
        let mut raw = server.raw();
        raw.send(&resp(&args));
        wait_blocked(&mut con, 1);
        drop(raw);
        wait_blocked(&mut con, 0);
        assert!(TestServer::eventually(Duration::from_secs(10), || {
            info_field(&mut con, "total_blocking_keys") == 0
        }));
        query::<()>(&mut con, &["RPUSH", &keys[0], "kept"]);
        let list: Vec<String> = query(&mut con, &["LRANGE", &keys[0], "0", "-1"]);
        assert_eq!(list, vec!["kept"]);
        query::<()>(&mut con, &["DEL", &keys[0]]);
    }
}

#[test]
fn a_pipeline_behind_a_blocked_command_waits_for_it() {
    let server = start();
    let mut con = server.connection();
    let key = key_on(1, "pipe");
    let mut raw = server.raw();
    let mut pipeline = resp(&["BLPOP", &key, "0"]);
    pipeline.extend(resp(&["LLEN", &key]));
    raw.send(&pipeline);
    wait_blocked(&mut con, 1);
    query::<()>(&mut con, &["RPUSH", &key, "a", "b"]);
    let expected = format!(
        "*2\r\n${len}\r\n{key}\r\n$1\r\na\r\n:1\r\n",
        len = key.len()
    );
    raw.roundtrip(b"", expected.as_bytes());
}

#[test]
fn served_pops_survive_a_restart() {
    let dir = temp_data_dir();
    let server = TestServer::start_in(&dir, SHARDS, &[]);
    let mut con = server.connection();
    let key = key_on(1, "durable");
    let (_, _, handle) = spawn_blocked(&server, &["BLPOP", &key, "0"]);
    wait_blocked(&mut con, 1);
    query::<()>(&mut con, &["RPUSH", &key, "a", "b"]);
    assert_eq!(result(handle).expect("served"), pair(&key, "a"));
    query::<()>(&mut con, &["RPUSH", "{z}src", "x"]);
    let moved: String = query(
        &mut con,
        &["BLMOVE", "{z}src", "{z}dst", "LEFT", "LEFT", "0"],
    );
    assert_eq!(moved, "x");
    drop(con);
    server.stop();
    let server = TestServer::start_in(&dir, SHARDS, &[]);
    let mut con = server.connection();
    let list: Vec<String> = query(&mut con, &["LRANGE", &key, "0", "-1"]);
    assert_eq!(list, vec!["b"]);
    assert_eq!(query::<i64>(&mut con, &["EXISTS", "{z}src"]), 0);
    let list: Vec<String> = query(&mut con, &["LRANGE", "{z}dst", "0", "-1"]);
    assert_eq!(list, vec!["x"]);
    drop(con);
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn shutdown_does_not_wait_for_blocked_clients() {
    let server = start();
    let mut con = server.connection();
    let mut raw = server.raw();
    raw.send(&resp(&["BLPOP", &key_on(0, "s"), &key_on(1, "s"), "0"]));
    let mut other = server.raw();
    other.send(&resp(&["BZPOPMIN", "z", "0"]));
    wait_blocked(&mut con, 2);
    drop(con);
    server.handle().shutdown();
    assert!(server.exits_within(Duration::from_secs(10)));
}

#[test]
fn a_blocked_then_served_command_counts_as_one_call() {
    let server = start();
    let mut con = server.connection();
    let (a, b) = (key_on(0, "c"), key_on(1, "c"));
    for args in [vec!["BLPOP", &a, "0"], vec!["BLPOP", &a, &b, "0"]] {
        let (_, _, handle) = spawn_blocked(&server, &args);
        wait_blocked(&mut con, 1);
        query::<()>(&mut con, &["RPUSH", &a, "x"]);
        assert_eq!(result(handle).expect("served"), pair(&a, "x"));
    }
    let calls = |con: &mut redis::Connection| {
        let info: String = query(con, &["INFO", "commandstats"]);
        info.lines()
            .find_map(|line| line.strip_prefix("cmdstat_blpop:calls="))
            .and_then(|rest| rest.split(',').next())
            .and_then(|n| n.parse::<u64>().ok())
    };
    assert!(
        TestServer::eventually(Duration::from_secs(10), || calls(&mut con) == Some(2)),
        "calls: {:?}",
        calls(&mut con)
    );
}

/// Consumers blocked on keys of both shards (some on one key, some on both) while producers push:
/// every item is popped exactly once.
#[test]
fn concurrent_consumers_pop_every_item_exactly_once() {
    const ITEMS: usize = 300;
    let server = start();
    let (a, b) = (key_on(0, "q"), key_on(1, "q"));
    let consumers: Vec<_> = (0..4)
        .map(|n| {
            let mut con = server.connection();
            let keys = match n {
                0 => vec![a.clone()],
                1 => vec![b.clone()],
                _ => vec![a.clone(), b.clone()],
            };
            std::thread::spawn(move || {
                let mut got = Vec::new();
                loop {
                    let mut cmd = redis::cmd("BLPOP");
                    cmd.arg(&keys).arg("0.5");
                    match cmd
                        .query::<Option<(String, String)>>(&mut con)
                        .expect("BLPOP")
                    {
                        Some((_, item)) => got.push(item),
                        None => return got,
                    }
                }
            })
        })
        .collect();
    let producers: Vec<_> = (0..2)
        .map(|p| {
            let mut con = server.connection();
            let key = if p == 0 { a.clone() } else { b.clone() };
            std::thread::spawn(move || {
                for i in 0..ITEMS / 2 {
                    query::<()>(&mut con, &["RPUSH", &key, &format!("{p}-{i}")]);
                }
            })
        })
        .collect();
    for producer in producers {
        producer.join().expect("producer");
    }
    let mut all: Vec<String> = consumers
        .into_iter()
        .flat_map(|c| c.join().expect("consumer"))
        .collect();
    let mut con = server.connection();
    for key in [&a, &b] {
        let left: Vec<String> = query(&mut con, &["LRANGE", key, "0", "-1"]);
        all.extend(left);
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!(before, all.len(), "an item was popped twice");
    assert_eq!(all.len(), ITEMS, "an item was lost");
}
