//! EVAL, EVALSHA, SCRIPT over real sockets: conversions, errors, the script cache across cores,
//! scripts touching undeclared keys on other shards (and their atomicity), BUSY and SCRIPT KILL.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{error_of, query, TestServer};
use redis::Value;
use shardis::slot::SlotTable;

/// Keys `prefix0`, `prefix1`, ... until one lands on `shard` of `shards`.
fn key_on(shard: usize, shards: usize, prefix: &str) -> String {
    let table = SlotTable::new(shards);
    (0..)
        .map(|i| format!("{prefix}{i}"))
        .find(|key| table.shard_of_key(key.as_bytes()) == shard)
        .expect("some key lands on every shard")
}

/// The core a connection lives on: client ids from core `i` are `i + 1 + k * shards`.
fn core_of(con: &mut redis::Connection, shards: usize) -> usize {
    let id: u64 = query(con, &["CLIENT", "ID"]);
    ((id - 1) % shards as u64) as usize
}

/// A connection on `core` (opening connections until one lands there).
fn connection_on(server: &TestServer, core: usize, shards: usize) -> redis::Connection {
    for _ in 0..200 {
        let mut con = server.connection();
        if core_of(&mut con, shards) == core {
            return con;
        }
    }
    panic!("no connection landed on core {core}");
}

fn eval(
    con: &mut redis::Connection,
    body: &str,
    keys: &[&str],
    argv: &[&str],
) -> redis::RedisResult<Value> {
    let mut cmd = redis::cmd("EVAL");
    cmd.arg(body).arg(keys.len()).arg(keys).arg(argv);
    cmd.query(con)
}

fn eval_err(con: &mut redis::Connection, body: &str) -> String {
    error_of(con, &["EVAL", body, "0"])
}

fn sha1(text: &str) -> String {
    // The server's own SHA1 (SCRIPT LOAD) is checked against this in `script_cache`.
    shardis::script::sha1_hex(text.as_bytes())
}

fn bulk(text: &str) -> Value {
    Value::BulkString(text.as_bytes().to_vec())
}

#[test]
fn conversions_both_ways() {
    let server = TestServer::start(1);
    let mut con = server.connection();
    let _: () = query(&mut con, &["SET", "s", "hello"]);
    let _: () = query(&mut con, &["RPUSH", "l", "a", "b"]);
    let cases: Vec<(&str, Value)> = vec![
        // Lua -> reply
        ("return 1", Value::Int(1)),
        ("return 3.99", Value::Int(3)),
        ("return 'x'", bulk("x")),
        ("return true", Value::Int(1)),
        ("return false", Value::Nil),
        ("return nil", Value::Nil),
        (
            "return {1, 2, nil, 4}",
            Value::Array(vec![Value::Int(1), Value::Int(2)]),
        ),
        ("return {ok='FINE'}", Value::SimpleString("FINE".into())),
        (
            "return redis.call('PING')",
            Value::SimpleString("PONG".into()),
        ),
        (
            "return redis.status_reply('GOOD')",
            Value::SimpleString("GOOD".into()),
        ),
        // reply -> Lua -> reply
        ("return redis.call('GET', 's')", bulk("hello")),
        ("return redis.call('INCR', 'n')", Value::Int(1)),
        (
            "return redis.call('GET', 'missing') == false",
            Value::Int(1),
        ),
        ("return type(redis.call('GET', 'missing'))", bulk("boolean")),
        (
            "return redis.call('LRANGE', 'l', 0, -1)",
            Value::Array(vec![bulk("a"), bulk("b")]),
        ),
        ("return redis.call('SET', 'k', 'v')", Value::Okay),
        ("return redis.call('SET', 'k', 'v').ok", bulk("OK")),
        ("return type(redis.call('INCR', 'n'))", bulk("number")),
        (
            "return redis.pcall('INCR', 's').err",
            bulk("ERR value is not an integer or out of range"),
        ),
        (
            "return redis.sha1hex('')",
            bulk("da39a3ee5e6b4b0d3255bfef95601890afd80709"),
        ),
        (
            "return {KEYS[1], ARGV[1]}",
            Value::Array(vec![bulk("k1"), bulk("a1")]),
        ),
        (
            "return redis.call('SET', 'f', 1.5) and redis.call('GET', 'f')",
            bulk("1.5"),
        ),
    ];
    for (body, expected) in cases {
        let got = eval(&mut con, body, &["k1"], &["a1"]).unwrap_or_else(|e| panic!("{body}: {e}"));
        assert_eq!(got, expected, "{body}");
    }
    assert_eq!(
        error_of(&mut con, &["EVAL", "return {err='MY error'}", "0"]),
        "MY error"
    );
    assert_eq!(
        error_of(&mut con, &["EVAL", "return redis.error_reply('oops')", "0"]),
        "ERR oops"
    );
}

#[test]
fn errors_as_redis_7() {
    let server = TestServer::start(1);
    let mut con = server.connection();
    let _: () = query(&mut con, &["SET", "s", "text"]);
    let body = "return redis.call('INCR', 's')";
    assert_eq!(
        eval_err(&mut con, body),
        format!(
            "ERR value is not an integer or out of range script: {}, on @user_script:1.",
            sha1(body)
        )
    );
    let body = "return nosuch";
    assert_eq!(
        eval_err(&mut con, body),
        format!("ERR user_script:1: Script attempted to access nonexistent global variable 'nosuch' script: {}, on @user_script:1.", sha1(body))
    );
    let body = "x = 1";
    assert_eq!(
        eval_err(&mut con, body),
        format!(
            "ERR user_script:1: Attempt to modify a readonly table script: {}, on @user_script:1.",
            sha1(body)
        )
    );
    let body = "return redis.call('EVAL', 'return 1', 0)";
    assert_eq!(
        eval_err(&mut con, body),
        format!(
            "ERR This Redis command is not allowed from script script: {}, on @user_script:1.",
            sha1(body)
        )
    );
    let body = "return loadfile('/etc/passwd')";
    assert!(eval_err(&mut con, body).contains("nonexistent global variable 'loadfile'"));
    assert!(eval_err(&mut con, "return +")
        .starts_with("ERR Error compiling script (new function): user_script:1:"));
    // pcall keeps the script going.
    let got = eval(
        &mut con,
        "local r = redis.pcall('INCR', 's') return r.err",
        &[],
        &[],
    )
    .expect("pcall");
    assert_eq!(got, bulk("ERR value is not an integer or out of range"));
    assert_eq!(
        error_of(&mut con, &["EVAL", "return 1", "2", "a"]),
        "ERR Number of keys can't be greater than number of args"
    );
    assert_eq!(
        error_of(&mut con, &["EVAL", "return 1", "-1"]),
        "ERR Number of keys can't be negative"
    );
    assert_eq!(
        error_of(
            &mut con,
            &["EVALSHA", "ffffffffffffffffffffffffffffffffffffffff", "0"]
        ),
        "NOSCRIPT No matching script. Please use EVAL."
    );
}

#[test]
fn read_only_variants() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let _: () = query(&mut con, &["SET", "k", "v"]);
    let got: String = query(
        &mut con,
        &["EVAL_RO", "return redis.call('GET', KEYS[1])", "1", "k"],
    );
    assert_eq!(got, "v");
    let body = "return redis.call('SET', KEYS[1], 'x')";
    assert_eq!(
        error_of(&mut con, &["EVAL_RO", body, "1", "k"]),
        format!("ERR Write commands are not allowed from read-only scripts. script: {}, on @user_script:1.", sha1(body))
    );
    let sha: String = query(
        &mut con,
        &["SCRIPT", "LOAD", "return redis.call('GET', KEYS[1])"],
    );
    let got: String = query(&mut con, &["EVALSHA_RO", &sha, "1", "k"]);
    assert_eq!(got, "v");
}

#[test]
fn script_cache_across_cores() {
    let server = TestServer::start(2);
    let mut loader = server.connection();
    let body = "return 'hi ' .. ARGV[1]";
    let sha: String = query(&mut loader, &["SCRIPT", "LOAD", body]);
    assert_eq!(sha, sha1(body));
    // Connections on both cores run it.
    for core in 0..2 {
        let mut con = connection_on(&server, core, 2);
        let got: String = query(&mut con, &["EVALSHA", &sha, "0", "there"]);
        assert_eq!(got, "hi there");
        let got: String = query(&mut con, &["EVALSHA", &sha.to_uppercase(), "0", "you"]);
        assert_eq!(got, "hi you");
    }
    // EVAL caches too; redis::Script uses EVALSHA first, then EVAL on NOSCRIPT.
    let script = redis::Script::new("return KEYS[1] .. ARGV[1]");
    let got: String = script
        .key("a")
        .arg("b")
        .invoke(&mut loader)
        .expect("script");
    assert_eq!(got, "ab");
    let exists: Vec<i64> = query(
        &mut loader,
        &["SCRIPT", "EXISTS", &sha, script.get_hash(), "0000"],
    );
    assert_eq!(exists, vec![1, 1, 0]);
    let _: () = query(&mut loader, &["SCRIPT", "FLUSH"]);
    let exists: Vec<i64> = query(&mut loader, &["SCRIPT", "EXISTS", &sha]);
    assert_eq!(exists, vec![0]);
    let mut other = connection_on(&server, 1, 2);
    assert_eq!(
        error_of(&mut other, &["EVALSHA", &sha, "0"]),
        "NOSCRIPT No matching script. Please use EVAL."
    );
    let _: () = query(&mut loader, &["SCRIPT", "FLUSH", "ASYNC"]);
    assert_eq!(
        error_of(&mut loader, &["SCRIPT", "FLUSH", "LATER"]),
        "ERR SCRIPT FLUSH only support SYNC|ASYNC option"
    );
    assert_eq!(
        error_of(&mut loader, &["SCRIPT", "KILL"]),
        "NOTBUSY No scripts in execution right now."
    );
}

#[test]
fn undeclared_keys_on_other_shards() {
    let server = TestServer::start(2);
    let (a, b) = (key_on(0, 2, "a"), key_on(1, 2, "b"));
    for core in 0..2 {
        let mut con = connection_on(&server, core, 2);
        let body = "redis.call('SET', ARGV[1], 'one') redis.call('SET', ARGV[2], 'two') \
                    redis.call('INCR', ARGV[1] .. 'n') \
                    return {redis.call('GET', ARGV[1]), redis.call('GET', ARGV[2]), redis.call('MGET', ARGV[1], ARGV[2])}";
        let got = eval(&mut con, body, &[], &[&a, &b]).expect("script");
        assert_eq!(
            got,
            Value::Array(vec![
                bulk("one"),
                bulk("two"),
                Value::Array(vec![bulk("one"), bulk("two")])
            ])
        );
        // Declared keys on one shard, undeclared on the other.
        let body =
            "redis.call('DEL', KEYS[1], ARGV[1]) return redis.call('EXISTS', KEYS[1], ARGV[1])";
        let got = eval(&mut con, body, &[&a], &[&b]).expect("script");
        assert_eq!(got, Value::Int(0));
        let body = "redis.call('MSET', KEYS[1], 'x', KEYS[2], 'y') return redis.call('DBSIZE')";
        let got = eval(&mut con, body, &[&a, &b], &[]).expect("script");
        assert!(matches!(got, Value::Int(n) if n >= 2), "{got:?}");
        let values: Vec<String> = query(&mut con, &["MGET", &a, &b]);
        assert_eq!(values, vec!["x", "y"]);
        // A script that wrote locally and then met a foreign key is re-run: its first write
        // happens once, not twice.
        let _: () = query(&mut con, &["SET", &a, "0"]);
        let body = "redis.call('INCR', KEYS[1]) redis.call('SET', ARGV[1], 'z') return redis.call('GET', KEYS[1])";
        let got = eval(&mut con, body, &[&a], &[&b]).expect("script");
        assert_eq!(got, bulk("1"));
    }
}

#[test]
fn multi_shard_script_is_atomic() {
    let server = TestServer::start(2);
    let (a, b) = (key_on(0, 2, "ca"), key_on(1, 2, "cb"));
    let body = "redis.call('INCR', ARGV[1]) redis.call('INCR', ARGV[2]) return 1";
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for _ in 0..3 {
        let mut con = server.connection();
        let (a, b) = (a.clone(), b.clone());
        writers.push(std::thread::spawn(move || {
            for _ in 0..150 {
                eval(&mut con, body, &[], &[&a, &b]).expect("script");
            }
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..2 {
        let mut con = server.connection();
        let (a, b, stop) = (a.clone(), b.clone(), stop.clone());
        readers.push(std::thread::spawn(move || {
            let mut rounds = 0;
            while !stop.load(Ordering::Relaxed) || rounds < 10 {
                let values: Vec<Option<i64>> = query(&mut con, &["MGET", &a, &b]);
                assert_eq!(values[0], values[1], "a script's two writes seen apart");
                let in_script = eval(
                    &mut con,
                    "return redis.call('GET', ARGV[1]) == redis.call('GET', ARGV[2])",
                    &[],
                    &[&a, &b],
                )
                .expect("script");
                assert_eq!(in_script, Value::Int(1));
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
    assert_eq!(values, vec![450, 450]);
}

/// 100,000 rounds: writers run a script that increments two keys on different shards (declared
/// or not), readers read both with MGET, with a script, and in a transaction: no reader ever
/// sees them differ. Mirrors `readers_never_see_half_a_transaction` in tests/transactions.rs.
#[test]
fn readers_never_see_half_a_cross_shard_script() {
    const ROUNDS: u64 = 100_000;
    let server = TestServer::start(2);
    let (a, b) = (key_on(0, 2, "ra"), key_on(1, 2, "rb"));
    let done = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    // A safety net against a hang, far beyond the seconds the rounds take.
    let deadline = Instant::now() + Duration::from_secs(120);
    let write = "redis.call('INCR', KEYS[1]) redis.call('INCR', KEYS[2]) return 1";
    let write_undeclared = "redis.call('INCR', ARGV[1]) redis.call('INCR', ARGV[2]) return 1";
    let read = "return {redis.call('GET', ARGV[1]), redis.call('GET', ARGV[2])}";
    let read_declared = "return {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2])}";
    let mut threads = Vec::new();
    for role in 0..6 {
        let (client, a, b) = (server.client(), a.clone(), b.clone());
        let (done, rounds) = (done.clone(), rounds.clone());
        threads.push(std::thread::spawn(move || {
            let mut con = client.get_connection().expect("connection");
            while !done.load(Ordering::Relaxed) {
                let (x, y): (Option<i64>, Option<i64>) = match role {
                    0 => {
                        eval(&mut con, write, &[&a, &b], &[]).expect("writer");
                        (None, None)
                    }
                    1 => {
                        eval(&mut con, write_undeclared, &[], &[&a, &b]).expect("writer");
                        (None, None)
                    }
                    2 => redis::cmd("MGET")
                        .arg(&a)
                        .arg(&b)
                        .query(&mut con)
                        .expect("mget"),
                    3 => {
                        let mut cmd = redis::cmd("EVAL");
                        cmd.arg(read).arg(0).arg(&a).arg(&b);
                        cmd.query(&mut con).expect("reading script")
                    }
                    4 => {
                        let mut cmd = redis::cmd("EVAL_RO");
                        cmd.arg(read_declared).arg(2).arg(&a).arg(&b);
                        cmd.query(&mut con).expect("reading script")
                    }
                    _ => redis::pipe()
                        .atomic()
                        .cmd("GET")
                        .arg(&a)
                        .cmd("GET")
                        .arg(&b)
                        .query(&mut con)
                        .expect("reader exec"),
                };
                assert_eq!(x, y, "reader {role} saw half a script");
                if rounds.fetch_add(1, Ordering::Relaxed) + 1 >= ROUNDS || Instant::now() > deadline
                {
                    done.store(true, Ordering::Relaxed);
                }
            }
        }));
    }
    for thread in threads {
        thread.join().expect("no reader saw half a script");
    }
    let mut con = server.connection();
    let values: Vec<i64> = query(&mut con, &["MGET", &a, &b]);
    assert_eq!(values[0], values[1]);
    assert!(values[0] > 0, "the writers ran");
    let rounds = rounds.load(Ordering::Relaxed);
    assert!(rounds >= ROUNDS, "only {rounds} rounds before the deadline");
    server.stop();
}

/// Waits out `busy-reply-threshold` (100 ms here) after a script was sent. BUSY is defined by
/// elapsed time, so this wait is the behaviour under test, not a stand-in for a signal: a
/// command for the script's shard sent earlier would simply wait for the script (the shard's
/// thread is running it), as Redis's clients wait until the threshold.
fn past_the_limit() {
    std::thread::sleep(Duration::from_millis(400));
}

#[test]
fn busy_and_script_kill() {
    let server = TestServer::start(2);
    let mut admin = connection_on(&server, 1, 2);
    let _: () = query(&mut admin, &["CONFIG", "SET", "lua-time-limit", "100"]);
    let limit: Vec<String> = query(&mut admin, &["CONFIG", "GET", "busy-reply-threshold"]);
    assert_eq!(limit, vec!["busy-reply-threshold", "100"]);
    let busy_key = key_on(0, 2, "busy");
    let free_key = key_on(1, 2, "free");

    // A script that never writes: SCRIPT KILL ends it.
    let mut runner = connection_on(&server, 0, 2);
    let looping = std::thread::spawn(move || {
        error_of(
            &mut runner,
            &["EVAL", "local i = 0 while true do i = i + 1 end", "0"],
        )
    });
    past_the_limit();
    assert_eq!(
        error_of(&mut admin, &["GET", &busy_key]),
        "BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE."
    );
    // Keys of the other shard are served meanwhile.
    let _: () = query(&mut admin, &["SET", &free_key, "1"]);
    let _: () = query(&mut admin, &["SCRIPT", "KILL"]);
    let killed = looping.join().expect("runner");
    assert!(
        killed.starts_with("ERR Script killed by user with SCRIPT KILL..."),
        "{killed}"
    );
    let _: Option<String> = query(&mut admin, &["GET", &busy_key]);

    // A script that wrote cannot be killed: it runs on (for about two seconds) and ends.
    let mut runner = connection_on(&server, 0, 2);
    let key = busy_key.clone();
    let writing = std::thread::spawn(move || {
        let body = "redis.call('SET', KEYS[1], 'w') \
                    local start = tonumber(redis.call('TIME')[1]) \
                    while tonumber(redis.call('TIME')[1]) < start + 2 do end return 1";
        common::command(&["EVAL", body, "1", &key]).query::<i64>(&mut runner)
    });
    past_the_limit();
    assert!(error_of(&mut admin, &["SCRIPT", "KILL"])
        .starts_with("UNKILLABLE Sorry the script already executed write commands"));
    assert_eq!(writing.join().expect("runner").expect("script"), 1);
    let value: String = query(&mut admin, &["GET", &busy_key]);
    assert_eq!(value, "w");
}

// ---- crash recovery -----------------------------------------------------------------------------
// (`newest_segment` and `record_offsets` as in tests/durability.rs.)

fn newest_segment(dir: &std::path::Path, shard: usize) -> std::path::PathBuf {
    use shardis::binlog::segment;
    segment::list_segments(&segment::shard_dir(dir, shard))
        .expect("segments")
        .into_iter()
        .rev()
        .find(|(_, path)| std::fs::metadata(path).is_ok_and(|m| m.len() > 0))
        .map(|(_, path)| path)
        .expect("a non-empty segment")
}

fn record_offsets(path: &std::path::Path) -> Vec<usize> {
    let bytes = std::fs::read(path).expect("segment");
    let mut offsets = Vec::new();
    let mut at = 0;
    while let Ok((_, len)) = shardis::binlog::record::decode(&bytes[at..]) {
        offsets.push(at);
        at += len;
    }
    offsets
}

#[test]
fn a_multi_shard_script_is_never_half_recovered() {
    let dir = common::temp_data_dir();
    let server = TestServer::start_in(&dir, 2, &[]);
    let (a, b) = (key_on(0, 2, "ra"), key_on(1, 2, "rb"));
    let mut con = server.connection();
    let body = "redis.call('SET', ARGV[1], ARGV[3]) redis.call('SET', ARGV[2], ARGV[3]) return 1";
    eval(&mut con, body, &[], &[&a, &b, "old"]).expect("script");
    eval(&mut con, body, &[], &[&a, &b, "new"]).expect("script");
    let values: Vec<String> = query(&mut con, &["MGET", &a, &b]);
    assert_eq!(values, vec!["new", "new"]);
    drop(con);
    server.stop();
    // The crash lost shard 1's part of the second script: drop its last record.
    let path = newest_segment(&dir, 1);
    let last = *record_offsets(&path).last().expect("records");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&path)
        .expect("segment");
    file.set_len(last as u64).expect("truncate");
    drop(file);
    let server = TestServer::start_in(&dir, 2, &[]);
    let mut con = server.connection();
    let values: Vec<String> = query(&mut con, &["MGET", &a, &b]);
    assert_eq!(
        values,
        vec!["old", "old"],
        "all of the script or none of it"
    );
    drop(con);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn resp3_shapes_exact_bytes() {
    use common::resp;
    let server = TestServer::start(1);
    let mut raw = server.raw();
    raw.roundtrip(&resp(&["HSET", "h", "f", "v"]), b":1\r\n");
    // RESP2 client, RESP2 script: a hash is a flat array; true is 1, false is nil.
    raw.roundtrip(
        &resp(&["EVAL", "return redis.call('HGETALL', 'h')", "0"]),
        b"*2\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    raw.roundtrip(&resp(&["EVAL", "return false", "0"]), b"$-1\r\n");
    raw.send(&resp(&["HELLO", "3"]));
    raw.read_reply().expect("hello");
    // RESP3 script: the map, doubles and booleans keep their shapes.
    raw.roundtrip(
        &resp(&[
            "EVAL",
            "redis.setresp(3) return redis.call('HGETALL', 'h')",
            "0",
        ]),
        b"%1\r\n$1\r\nf\r\n$1\r\nv\r\n",
    );
    raw.roundtrip(
        &resp(&[
            "EVAL",
            "redis.setresp(3) return redis.call('HGETALL', 'h').map.f",
            "0",
        ]),
        b"$1\r\nv\r\n",
    );
    raw.roundtrip(&resp(&["EVAL", "return {double=1.5}", "0"]), b",1.5\r\n");
    raw.roundtrip(
        &resp(&["EVAL", "redis.setresp(3) return true", "0"]),
        b"#t\r\n",
    );
    raw.roundtrip(&resp(&["EVAL", "return true", "0"]), b":1\r\n");
    raw.roundtrip(&resp(&["EVAL", "return nil", "0"]), b"_\r\n");
    raw.roundtrip(
        &resp(&[
            "EVAL",
            "redis.setresp(3) return redis.call('GET', 'nosuch') == nil",
            "0",
        ]),
        b"#t\r\n",
    );
    raw.roundtrip(
        &resp(&["EVAL", "return redis.setresp(4)", "0"]),
        format!(
            "-ERR RESP version must be 2 or 3. script: {}, on @user_script:1.\r\n",
            sha1("return redis.setresp(4)")
        )
        .as_bytes(),
    );
}
