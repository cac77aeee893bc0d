//! Where transactions, scripts, pub/sub, blocking commands and MONITOR meet, over real sockets:
//! scripts queued in MULTI and run by EXEC, WATCH against a script's writes, PUBLISH from a
//! script, blocked clients woken by EXEC and by scripts, RESET, MONITOR's view of EXEC and
//! scripts, and an EXEC with a script across kill -9.

mod common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
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

/// The core a connection lives on: client ids from core `i` are `i + 1 + k * shards`.
fn core_of(con: &mut redis::Connection) -> usize {
    let id: u64 = query(con, &["CLIENT", "ID"]);
    ((id - 1) % SHARDS as u64) as usize
}

/// A connection on `core` (opening connections until one lands there).
fn connection_on(server: &TestServer, core: usize) -> redis::Connection {
    for _ in 0..200 {
        let mut con = server.connection();
        if core_of(&mut con) == core {
            return con;
        }
    }
    panic!("no connection landed on core {core}");
}

fn bulk(text: &str) -> Value {
    Value::BulkString(text.as_bytes().to_vec())
}

fn ok() -> Value {
    Value::Okay
}

fn queued(con: &mut redis::Connection, args: &[&str]) {
    let reply: Value = query(con, args);
    assert_eq!(
        reply,
        Value::SimpleString("QUEUED".into()),
        "queueing {args:?}"
    );
}

/// MULTI, each command queued, then EXEC's reply.
fn transaction(con: &mut redis::Connection, commands: &[&[&str]]) -> Value {
    let _: () = query(con, &["MULTI"]);
    for args in commands {
        queued(con, args);
    }
    query(con, &["EXEC"])
}

// ---- 1. scripts queued in MULTI ------------------------------------------------------------

const INCR: &str = "return redis.call('INCR', KEYS[1])";
const INCR_UNDECLARED: &str = "return redis.call('INCR', ARGV[1])";
const GET: &str = "return redis.call('GET', KEYS[1])";

#[test]
fn scripts_queued_in_multi_run_in_order_at_exec() {
    for threads in TOPOLOGIES {
        eprintln!("--- topology: {threads} shard(s)");
        let server = TestServer::start(threads);
        let mut con = server.connection();
        let sha_incr: String = query(&mut con, &["SCRIPT", "LOAD", INCR]);
        let sha_get: String = query(&mut con, &["SCRIPT", "LOAD", GET]);
        let (a, b) = (key_on(0, "qa"), key_on(1, "qb"));
        let _: () = query(&mut con, &["SET", &b, "100"]);
        let exec = transaction(
            &mut con,
            &[
                &["EVAL", INCR, "1", &a],
                &["SET", &a, "10"],
                &["EVALSHA", &sha_incr, "1", &a],
                &["EVAL", INCR_UNDECLARED, "0", &b],
                &["EVAL_RO", GET, "1", &a],
                &["EVALSHA_RO", &sha_get, "1", &b],
                &["INCR", &b],
                &["MGET", &a, &b],
                &["PING"],
            ],
        );
        assert_eq!(
            exec,
            Value::Array(vec![
                Value::Int(1),
                ok(),
                Value::Int(11),
                Value::Int(101),
                bulk("11"),
                bulk("101"),
                Value::Int(102),
                Value::Array(vec![bulk("11"), bulk("102")]),
                Value::SimpleString("PONG".into()),
            ])
        );
    }
}

#[test]
fn script_load_and_flush_in_multi_run_in_order_with_the_scripts() {
    let server = TestServer::start(SHARDS);
    let mut con = server.connection();
    let body = "return 'loaded'";
    let sha: String = query(&mut con, &["SCRIPT", "LOAD", body]);
    let _: () = query(&mut con, &["SCRIPT", "FLUSH"]);
    let exec = transaction(
        &mut con,
        &[
            &["SCRIPT", "LOAD", body],
            &["EVALSHA", &sha, "0"],
            &["SCRIPT", "FLUSH"],
            &["SCRIPT", "EXISTS", &sha],
        ],
    );
    assert_eq!(
        exec,
        Value::Array(vec![
            bulk(&sha),
            bulk("loaded"),
            ok(),
            Value::Array(vec![Value::Int(0)])
        ])
    );
}

#[test]
fn a_failing_script_in_exec_is_one_error_and_the_rest_run() {
    let server = TestServer::start(SHARDS);
    let (a, b) = (key_on(0, "fa"), key_on(1, "fb"));
    let missing = "0123456789012345678901234567890123456789";
    let mut raw = server.raw();
    raw.roundtrip(&resp(&["SET", &b, "text"]), b"+OK\r\n");
    raw.roundtrip(&resp(&["MULTI"]), b"+OK\r\n");
    let queue: [&[&str]; 5] = [
        &["SET", &a, "1"],
        &["EVALSHA", missing, "0"],
        &["EVAL", INCR_UNDECLARED, "0", &b],
        &["EVAL_RO", "return redis.call('SET', KEYS[1], 'x')", "1", &a],
        &["INCR", &a],
    ];
    for args in queue {
        raw.roundtrip(&resp(args), b"+QUEUED\r\n");
    }
    raw.send(&resp(&["EXEC"]));
    let exec = String::from_utf8(raw.read_reply().expect("EXEC")).expect("text");
    let lines: Vec<&str> = exec.split("\r\n").collect();
    assert_eq!(lines[0], "*5", "{exec}");
    assert_eq!(lines[1], "+OK", "{exec}");
    assert_eq!(lines[2], "-NOSCRIPT No matching script. Please use EVAL.");
    assert!(
        lines[3].starts_with("-ERR value is not an integer or out of range"),
        "{exec}"
    );
    assert!(
        lines[4].starts_with("-ERR Write commands are not allowed from read-only scripts"),
        "{exec}"
    );
    assert_eq!(lines[5], ":2", "{exec}");
}

/// Writers run MULTI { INCR a; EVAL (INCR b) } with a and b on different shards, the script on
/// either side, while readers read both with MGET, inside a transaction and from a script: no
/// reader sees them differ.
#[test]
fn exec_with_a_script_is_atomic_across_shards() {
    let server = TestServer::start(SHARDS);
    let (a, b) = (key_on(0, "xa"), key_on(1, "xb"));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..2 {
        let mut con = server.connection();
        let (a, b) = (a.clone(), b.clone());
        writers.push(std::thread::spawn(move || {
            for _ in 0..300 {
                let (plain, scripted) = if writer == 0 { (&a, &b) } else { (&b, &a) };
                let exec = transaction(
                    &mut con,
                    &[&["INCR", plain], &["EVAL", INCR_UNDECLARED, "0", scripted]],
                );
                assert!(
                    matches!(exec, Value::Array(ref r) if r.len() == 2),
                    "{exec:?}"
                );
            }
        }));
    }
    let mut readers = Vec::new();
    for reader in 0..3 {
        let mut con = server.connection();
        let (a, b, stop) = (a.clone(), b.clone(), stop.clone());
        readers.push(std::thread::spawn(move || {
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) || rounds < 10 {
                let (x, y): (Option<i64>, Option<i64>) = match reader {
                    0 => query(&mut con, &["MGET", &a, &b]),
                    1 => {
                        let exec = transaction(&mut con, &[&["GET", &a], &["GET", &b]]);
                        redis::from_redis_value(&exec).expect("two values")
                    }
                    _ => query(
                        &mut con,
                        &[
                            "EVAL",
                            "return {redis.call('GET', ARGV[1]), redis.call('GET', ARGV[2])}",
                            "0",
                            &a,
                            &b,
                        ],
                    ),
                };
                assert_eq!(x, y, "reader {reader} saw half a transaction");
                rounds += 1;
            }
        }));
    }
    for writer in writers {
        writer.join().expect("writer");
    }
    stop.store(true, Ordering::Relaxed);
    for reader in readers {
        reader.join().expect("reader");
    }
    let mut con = server.connection();
    let values: Vec<i64> = query(&mut con, &["MGET", &a, &b]);
    assert_eq!(values, vec![600, 600]);
}

// ---- 2. WATCH and scripts --------------------------------------------------------------------

#[test]
fn a_script_writing_a_watched_key_aborts_exec() {
    let server = TestServer::start(SHARDS);
    let (near, far) = (key_on(0, "wn"), key_on(1, "wf"));
    let scripts: [(&str, &[&str], &[&str]); 4] = [
        // Local run on the key's shard (declared).
        ("return redis.call('SET', KEYS[1], 'x')", &["K"], &[]),
        // Undeclared key.
        ("return redis.call('SET', ARGV[1], 'x')", &[], &["K"]),
        // Keys on both shards in one command (gathered in a script holding every shard).
        (
            "return redis.call('MSET', ARGV[1], 'x', ARGV[2], 'y')",
            &[],
            &["K", "O"],
        ),
        // A write that leaves the value as it was still counts.
        (
            "return redis.call('SET', ARGV[1], redis.call('GET', ARGV[1]))",
            &[],
            &["K"],
        ),
    ];
    for watched in [&near, &far] {
        let other = if watched == &near { &far } else { &near };
        for (body, keys, argv) in scripts {
            let mut watcher = server.connection();
            let mut writer = server.connection();
            let _: () = query(&mut writer, &["SET", watched, "before"]);
            let _: () = query(&mut watcher, &["WATCH", watched]);
            let fill = |names: &[&str]| -> Vec<String> {
                names
                    .iter()
                    .map(|n| {
                        if *n == "K" {
                            watched.clone()
                        } else {
                            other.clone()
                        }
                    })
                    .collect()
            };
            let (keys, argv) = (fill(keys), fill(argv));
            let mut cmd = redis::cmd("EVAL");
            cmd.arg(body).arg(keys.len()).arg(&keys).arg(&argv);
            let _: Value = cmd.query(&mut writer).expect("script");
            let exec = transaction(&mut watcher, &[&["SET", "elsewhere", "1"]]);
            assert_eq!(exec, Value::Nil, "{body} on {watched}");
        }
        // A script that only reads the watched key does not abort.
        let mut watcher = server.connection();
        let mut reader = server.connection();
        let _: () = query(&mut watcher, &["WATCH", watched]);
        let _: Value = query(
            &mut reader,
            &["EVAL", "return redis.call('GET', ARGV[1])", "0", watched],
        );
        let exec = transaction(&mut watcher, &[&["SET", "elsewhere", "1"]]);
        assert_eq!(exec, Value::Array(vec![ok()]));
    }
}

#[test]
fn a_transaction_with_a_script_checks_its_watches() {
    let server = TestServer::start(SHARDS);
    let (a, b) = (key_on(0, "ta"), key_on(1, "tb"));
    let mut watcher = server.connection();
    let mut writer = server.connection();
    let _: () = query(&mut watcher, &["WATCH", &a]);
    let _: () = query(&mut writer, &["SET", &a, "changed"]);
    let exec = transaction(&mut watcher, &[&["EVAL", INCR_UNDECLARED, "0", &b]]);
    assert_eq!(exec, Value::Nil);
    assert_eq!(get(&mut watcher, &b), None, "the script did not run");
    let _: () = query(&mut watcher, &["WATCH", &a]);
    let exec = transaction(&mut watcher, &[&["EVAL", INCR_UNDECLARED, "0", &b]]);
    assert_eq!(exec, Value::Array(vec![Value::Int(1)]));
    // The watching connection's own script counts too, as its own writes do in Redis.
    let _: () = query(&mut watcher, &["WATCH", &a, &b]);
    let _: i64 = query(&mut watcher, &["EVAL", INCR_UNDECLARED, "0", &b]);
    let exec = transaction(&mut watcher, &[&["SET", &a, "never"]]);
    assert_eq!(exec, Value::Nil);
    assert_eq!(get(&mut watcher, &a).as_deref(), Some("changed"));
}

// ---- 3. PUBLISH from scripts -----------------------------------------------------------------

/// Subscribes to one more channel; `count`: the subscriptions after it.
fn subscribe(raw: &mut RawClient, word: &str, name: &str, count: usize) {
    raw.send(&resp(&[word, name]));
    let got = raw.read_reply().expect("confirmation");
    let expected = format!(
        "*3\r\n${}\r\n{word}\r\n${}\r\n{name}\r\n:{count}\r\n",
        word.len(),
        name.len()
    );
    assert_eq!(String::from_utf8_lossy(&got), expected);
}

fn message(word: &str, channel: &str, text: &str) -> String {
    format!(
        "*3\r\n${}\r\n{word}\r\n${}\r\n{channel}\r\n${}\r\n{text}\r\n",
        word.len(),
        channel.len(),
        text.len()
    )
}

#[test]
fn publish_and_spublish_from_a_script_reach_every_core() {
    let server = TestServer::start(SHARDS);
    // Several connections, so that they land on both cores.
    let mut subscribers: Vec<RawClient> = (0..6).map(|_| server.raw()).collect();
    for subscriber in &mut subscribers {
        subscribe(subscriber, "subscribe", "news", 1);
    }
    let mut shard_subscribers: Vec<RawClient> = (0..4).map(|_| server.raw()).collect();
    for subscriber in &mut shard_subscribers {
        subscribe(subscriber, "ssubscribe", "local", 1);
    }
    let key = key_on(1, "pk");
    for core in 0..SHARDS {
        let mut con = connection_on(&server, core);
        let text = format!("from core {core}");
        let count: i64 = query(
            &mut con,
            &[
                "EVAL",
                "return redis.call('PUBLISH', ARGV[1], ARGV[2])",
                "0",
                "news",
                &text,
            ],
        );
        assert_eq!(count, 6);
        for subscriber in &mut subscribers {
            let got = subscriber.read_reply().expect("message");
            assert_eq!(
                String::from_utf8_lossy(&got),
                message("message", "news", &text)
            );
        }
        // A script that also writes a key (declared, maybe on another shard), then publishes.
        let count: i64 = query(
            &mut con,
            &[
                "EVAL",
                "redis.call('SET', KEYS[1], ARGV[2]) return redis.pcall('SPUBLISH', ARGV[1], ARGV[2])",
                "1",
                &key,
                "local",
                &text,
            ],
        );
        assert_eq!(count, 4);
        for subscriber in &mut shard_subscribers {
            let got = subscriber.read_reply().expect("smessage");
            assert_eq!(
                String::from_utf8_lossy(&got),
                message("smessage", "local", &text)
            );
        }
        let nobody: i64 = query(
            &mut con,
            &["EVAL", "return redis.call('PUBLISH', 'nobody', 'x')", "0"],
        );
        assert_eq!(nobody, 0);
        // Published before a call on another shard: still delivered once.
        let other_key = key_on(1 - core, "po");
        let body = "local n = redis.call('PUBLISH', 'news', ARGV[2]) redis.call('SET', ARGV[1], 'x') return n";
        let count: i64 = query(&mut con, &["EVAL", body, "0", &other_key, "once"]);
        assert_eq!(count, 6);
        let count: i64 = query(&mut con, &["PUBLISH", "news", "marker"]);
        assert_eq!(count, 6);
        for subscriber in &mut subscribers {
            for text in ["once", "marker"] {
                let got = subscriber.read_reply().expect("message");
                assert_eq!(
                    String::from_utf8_lossy(&got),
                    message("message", "news", text)
                );
            }
        }
    }
}

// ---- 4. blocked clients woken by EXEC and scripts --------------------------------------------

/// Runs a blocking command on its own connection in a thread, once it is seen blocked.
fn spawn_blocked(
    server: &TestServer,
    observer: &mut redis::Connection,
    args: &[&str],
) -> JoinHandle<Value> {
    let before = info_field(observer, "blocked_clients");
    let mut con = server.connection();
    let cmd = command(args);
    let handle = std::thread::spawn(move || cmd.query::<Value>(&mut con).expect("blocked reply"));
    wait_blocked(observer, before + 1);
    handle
}

/// Sends `commands` as one pipeline and returns their replies.
fn pipeline(con: &mut redis::Connection, commands: &[&[&str]]) -> Vec<Value> {
    let mut pipe = redis::pipe();
    for args in commands {
        pipe.add_command(command(args));
    }
    pipe.query(con).expect("pipeline")
}

fn pair(key: &str, item: &str) -> Value {
    Value::Array(vec![bulk(key), bulk(item)])
}

#[test]
fn exec_serves_blocked_clients_after_the_transaction_in_order() {
    let server = TestServer::start(SHARDS);
    let mut con = server.connection();
    for shard in 0..SHARDS {
        let k = key_on(shard, "el");
        let first = spawn_blocked(&server, &mut con, &["BLPOP", &k, "0"]);
        let second = spawn_blocked(&server, &mut con, &["BLPOP", &k, "0"]);
        // The pops wait for the end of the transaction, and are done before the next command.
        let replies = pipeline(
            &mut con,
            &[
                &["MULTI"],
                &["RPUSH", &k, "x", "y", "z"],
                &["LLEN", &k],
                &["SET", "other", "1"],
                &["EXEC"],
                &["LRANGE", &k, "0", "-1"],
            ],
        );
        assert_eq!(
            replies[4..],
            [
                Value::Array(vec![Value::Int(3), Value::Int(3), ok()]),
                Value::Array(vec![bulk("z")])
            ]
        );
        assert_eq!(first.join().expect("first"), pair(&k, "x"));
        assert_eq!(second.join().expect("second"), pair(&k, "y"));

        let z = key_on(shard, "ez");
        let waiter = spawn_blocked(&server, &mut con, &["BZPOPMIN", &z, "0"]);
        let exec = transaction(
            &mut con,
            &[&["ZADD", &z, "2", "b", "1", "a"], &["ZCARD", &z]],
        );
        assert_eq!(exec, Value::Array(vec![Value::Int(2), Value::Int(2)]));
        assert_eq!(
            waiter.join().expect("bzpopmin"),
            Value::Array(vec![bulk(&z), bulk("a"), bulk("1")])
        );
    }
}

#[test]
fn scripts_serve_blocked_clients_after_the_script_in_order() {
    let server = TestServer::start(SHARDS);
    for core in 0..SHARDS {
        let mut con = connection_on(&server, core);
        for shard in 0..SHARDS {
            let k = key_on(shard, &format!("sl{core}-"));
            let first = spawn_blocked(&server, &mut con, &["BLPOP", &k, "0"]);
            let second = spawn_blocked(&server, &mut con, &["BLPOP", &k, "0"]);
            let body =
                "redis.call('RPUSH', ARGV[1], 'x', 'y', 'z') return redis.call('LLEN', ARGV[1])";
            // Undeclared: the script runs on the connection's core, wherever the key is. The
            // pops wait for the end of the script, and are done before the next command.
            let replies = pipeline(
                &mut con,
                &[&["EVAL", body, "0", &k], &["LRANGE", &k, "0", "-1"]],
            );
            assert_eq!(replies, [Value::Int(3), Value::Array(vec![bulk("z")])]);
            assert_eq!(first.join().expect("first"), pair(&k, "x"));
            assert_eq!(second.join().expect("second"), pair(&k, "y"));

            // Declared.
            let _: () = query(&mut con, &["DEL", &k]);
            let waiter = spawn_blocked(&server, &mut con, &["BLPOP", &k, "0"]);
            let body = "redis.call('LPUSH', KEYS[1], 'a') return redis.call('LLEN', KEYS[1])";
            let replies = pipeline(&mut con, &[&["EVAL", body, "1", &k], &["LLEN", &k]]);
            assert_eq!(replies, [Value::Int(1), Value::Int(0)]);
            assert_eq!(waiter.join().expect("declared"), pair(&k, "a"));

            let z = key_on(shard, &format!("sz{core}-"));
            let waiter = spawn_blocked(&server, &mut con, &["BZPOPMIN", &z, "0"]);
            let body = "redis.call('ZADD', ARGV[1], 1, 'a') return redis.call('ZCARD', ARGV[1])";
            let count: i64 = query(&mut con, &["EVAL", body, "0", &z]);
            assert_eq!(count, 1);
            assert_eq!(
                waiter.join().expect("bzpopmin"),
                Value::Array(vec![bulk(&z), bulk("a"), bulk("1")])
            );

            // BLMOVE to a key on the other shard.
            let destination = key_on(1 - shard, &format!("sd{core}-"));
            let waiter = spawn_blocked(
                &server,
                &mut con,
                &["BLMOVE", &k, &destination, "LEFT", "RIGHT", "0"],
            );
            let count: i64 = query(
                &mut con,
                &["EVAL", "return redis.call('LPUSH', ARGV[1], 'm')", "0", &k],
            );
            assert_eq!(count, 1);
            assert_eq!(waiter.join().expect("blmove"), bulk("m"));
            assert_eq!(
                query::<Vec<String>>(&mut con, &["LRANGE", &destination, "0", "-1"]),
                ["m"]
            );
        }
    }
}

// ---- 5. RESET --------------------------------------------------------------------------------

#[test]
fn reset_leaves_multi_watch_and_the_selected_database() {
    let server = TestServer::start(SHARDS);
    let mut con = server.connection();
    let mut other = server.connection();
    let _: () = query(&mut con, &["SELECT", "1"]);
    let _: () = query(&mut con, &["SET", "db1", "v"]);
    let _: () = query(&mut con, &["WATCH", "w"]);
    let _: () = query(&mut con, &["MULTI"]);
    queued(&mut con, &["SET", "queued", "1"]);
    let reset: Value = query(&mut con, &["RESET"]);
    assert_eq!(reset, Value::SimpleString("RESET".into()));
    assert_eq!(error_of(&mut con, &["EXEC"]), "ERR EXEC without MULTI");
    assert_eq!(get(&mut con, "db1"), None, "back on database 0");
    assert_eq!(get(&mut con, "queued"), None);
    // No longer watching: a write to the key no longer aborts.
    let _: () = query(&mut other, &["SET", "w", "changed"]);
    let exec = transaction(&mut con, &[&["SET", "after", "1"]]);
    assert_eq!(exec, Value::Array(vec![ok()]));
    assert_eq!(error_of(&mut con, &["RESET", "x"]), arity("reset"));
    // The client's name goes too.
    let _: () = query(&mut con, &["CLIENT", "SETNAME", "named"]);
    let _: Value = query(&mut con, &["RESET"]);
    assert_eq!(
        query::<Option<String>>(&mut con, &["CLIENT", "GETNAME"]),
        None
    );
}

#[test]
fn reset_goes_back_to_resp2_and_leaves_subscriptions() {
    let server = TestServer::start(SHARDS);
    let mut raw = server.raw();
    raw.send(&resp(&["HELLO", "3"]));
    raw.read_reply().expect("hello");
    raw.roundtrip(&resp(&["HSET", "h", "f", "v"]), b":1\r\n");
    raw.roundtrip(&resp(&["HGETALL", "h"]), b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n");
    raw.roundtrip(&resp(&["RESET"]), b"+RESET\r\n");
    raw.roundtrip(&resp(&["HGETALL", "h"]), b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n");

    subscribe(&mut raw, "subscribe", "ch", 1);
    subscribe(&mut raw, "psubscribe", "c*", 2);
    subscribe(&mut raw, "ssubscribe", "sh", 1);
    // Allowed in subscribed mode, and no unsubscribe confirmations, as in Redis.
    raw.roundtrip(&resp(&["RESET"]), b"+RESET\r\n");
    raw.roundtrip(&resp(&["GET", "nothing"]), b"$-1\r\n");
    let mut publisher = server.connection();
    let count: i64 = query(&mut publisher, &["PUBLISH", "ch", "x"]);
    assert_eq!(count, 0);
    let count: i64 = query(&mut publisher, &["SPUBLISH", "sh", "x"]);
    assert_eq!(count, 0);
    raw.roundtrip(&resp(&["PING"]), b"+PONG\r\n");
}

#[test]
fn reset_ends_monitor() {
    let server = TestServer::start(SHARDS);
    let mut raw = server.raw();
    raw.roundtrip(&resp(&["MONITOR"]), b"+OK\r\n");
    raw.roundtrip(&resp(&["RESET"]), b"+RESET\r\n");
    let mut other = server.connection();
    let _: () = query(&mut other, &["SET", "seen", "1"]);
    // Nothing of the SET reaches the former monitor: its next reply is PING's.
    raw.roundtrip(&resp(&["PING"]), b"+PONG\r\n");
}

// ---- 6. MONITOR ------------------------------------------------------------------------------

/// Reads MONITOR lines until one ends with `last`; returns each without its timestamp.
fn monitor_lines_until(monitor: &mut RawClient, last: &str) -> Vec<String> {
    let mut lines = Vec::new();
    loop {
        let line = monitor.read_reply().expect("monitor line");
        let line = String::from_utf8_lossy(&line).trim_end().to_string();
        let (_, rest) = line.split_once(' ').expect("a timestamp, then the rest");
        lines.push(rest.to_string());
        if rest.ends_with(last) {
            return lines;
        }
    }
}

#[test]
fn monitor_shows_exec_and_script_commands_as_redis_7() {
    let server = TestServer::start(SHARDS);
    let mut monitor = server.raw();
    monitor.roundtrip(&resp(&["MONITOR"]), b"+OK\r\n");
    let mut con = connection_on(&server, 0);
    let mut other = server.connection();
    let info: String = query(&mut con, &["CLIENT", "INFO"]);
    let addr = info
        .split(' ')
        .find_map(|field| field.strip_prefix("addr="))
        .expect("addr field")
        .to_string();
    let (a, b) = (key_on(0, "ma"), key_on(1, "mb"));
    let me = |text: &str| format!("[0 {addr}] {text}");
    let lua = |text: &str| format!("[0 lua] {text}");
    let set_a = "redis.call('set', KEYS[1], 'x') return 1";
    let exec = transaction(
        &mut con,
        &[&["SET", &b, "v"], &["EVAL", set_a, "1", &a], &["GET", &b]],
    );
    assert_eq!(exec, Value::Array(vec![ok(), Value::Int(1), bulk("v")]));
    // A local run that stops at the key of the other shard and runs again holding every shard
    // shows its calls once.
    let both = "redis.call('set', ARGV[1], 'l') redis.call('set', ARGV[2], 'r') return 1";
    let _: i64 = query(&mut con, &["EVAL", both, "0", &a, &b]);
    // Without a script: in place on the connection's core, and over both shards.
    let exec = transaction(&mut con, &[&["SET", &a, "1"], &["PING"]]);
    assert_eq!(
        exec,
        Value::Array(vec![ok(), Value::SimpleString("PONG".into())])
    );
    let exec = transaction(&mut con, &[&["DEL", &a, &b], &["SET", &b, "2"]]);
    assert_eq!(exec, Value::Array(vec![Value::Int(2), ok()]));
    // An aborted EXEC shows MULTI and EXEC only.
    let _: () = query(&mut con, &["WATCH", &a]);
    let _: () = query(&mut other, &["SET", &a, "changed"]);
    assert_eq!(transaction(&mut con, &[&["SET", &b, "never"]]), Value::Nil);
    // So does one a queueing error doomed, and an EXEC without MULTI.
    let _: () = query(&mut con, &["MULTI"]);
    let _ = error_of(&mut con, &["NOSUCHCOMMAND"]);
    assert!(error_of(&mut con, &["EXEC"]).starts_with("EXECABORT"));
    assert_eq!(error_of(&mut con, &["EXEC"]), "ERR EXEC without MULTI");
    let _: String = query(&mut con, &["PING", "end"]);
    let lines = monitor_lines_until(&mut monitor, "\"PING\" \"end\"");
    let other_addr = {
        let info: String = query(&mut other, &["CLIENT", "INFO"]);
        info.split(' ')
            .find_map(|field| field.strip_prefix("addr="))
            .expect("addr field")
            .to_string()
    };
    let expected = vec![
        me("\"CLIENT\" \"INFO\""),
        me("\"MULTI\""),
        me(&format!("\"SET\" \"{b}\" \"v\"")),
        me(&format!("\"EVAL\" \"{set_a}\" \"1\" \"{a}\"")),
        lua(&format!("\"set\" \"{a}\" \"x\"")),
        me(&format!("\"GET\" \"{b}\"")),
        me("\"EXEC\""),
        me(&format!("\"EVAL\" \"{both}\" \"0\" \"{a}\" \"{b}\"")),
        lua(&format!("\"set\" \"{a}\" \"l\"")),
        lua(&format!("\"set\" \"{b}\" \"r\"")),
        me("\"MULTI\""),
        me(&format!("\"SET\" \"{a}\" \"1\"")),
        me("\"PING\""),
        me("\"EXEC\""),
        me("\"MULTI\""),
        me(&format!("\"DEL\" \"{a}\" \"{b}\"")),
        me(&format!("\"SET\" \"{b}\" \"2\"")),
        me("\"EXEC\""),
        me(&format!("\"WATCH\" \"{a}\"")),
        format!("[0 {other_addr}] \"SET\" \"{a}\" \"changed\""),
        me("\"MULTI\""),
        me("\"EXEC\""),
        me("\"MULTI\""),
        me("\"EXEC\""),
        me("\"EXEC\""),
        me("\"PING\" \"end\""),
    ];
    // Lines from the connections' set-up come first; everything from `con`'s CLIENT INFO on is
    // exact.
    let start = lines
        .iter()
        .position(|line| line == &expected[0])
        .unwrap_or_else(|| panic!("no CLIENT INFO line in {lines:#?}"));
    assert_eq!(lines[start..], expected[..], "{lines:#?}");
}

// ---- durability --------------------------------------------------------------------------

/// A writer runs transactions with a script, over both shards, against a server with a binlog
/// until it is killed: after the restart every key holds the same value, so each transaction is
/// there whole or not at all.
#[test]
fn an_exec_with_a_script_survives_kill_9_whole_or_not_at_all() {
    use std::sync::atomic::AtomicU64;
    let dir = temp_data_dir();
    let keys = [
        key_on(0, "ka"),
        key_on(1, "kb"),
        key_on(0, "kc"),
        key_on(1, "kd"),
    ];
    let body = "redis.call('SET', ARGV[1], ARGV[3]) redis.call('SET', ARGV[2], ARGV[3]) return 1";
    // Four rounds: with the records' transaction tags removed, about half the runs of two
    // rounds caught half a transaction.
    for round in 0..4 {
        let server = ChildServer::start(&dir, SHARDS, &[("appendonly", "yes")]);
        let client = server.client();
        let stop = Arc::new(AtomicBool::new(false));
        let done = Arc::new(AtomicU64::new(0));
        let writer = {
            let (stop, done, keys) = (stop.clone(), done.clone(), keys.clone());
            std::thread::spawn(move || {
                let Ok(mut con) = client.get_connection() else {
                    return;
                };
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let value = format!("{round}-{n}");
                    let ran: redis::RedisResult<()> = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(&keys[0])
                        .arg(&value)
                        .cmd("EVAL")
                        .arg(body)
                        .arg(0)
                        .arg(&keys[1])
                        .arg(&keys[2])
                        .arg(&value)
                        .cmd("SET")
                        .arg(&keys[3])
                        .arg(&value)
                        .ignore()
                        .query(&mut con);
                    if ran.is_err() {
                        return;
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        assert!(
            TestServer::eventually(Duration::from_secs(20), || done.load(Ordering::Relaxed)
                >= 20),
            "the writer never got going"
        );
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        writer.join().expect("writer");

        let server = ChildServer::start(&dir, SHARDS, &[("appendonly", "yes")]);
        let mut con = server.client().get_connection().expect("connection");
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&keys[..])
            .query(&mut con)
            .expect("mget");
        assert!(
            values.iter().all(|v| *v == values[0]),
            "round {round}: half a transaction after recovery: {values:?}"
        );
        assert!(values[0].is_some(), "round {round}: the writes were kept");
        server.stop();
    }
    let _ = std::fs::remove_dir_all(dir);
}
