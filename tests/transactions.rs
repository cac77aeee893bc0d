//! MULTI / EXEC / DISCARD / WATCH / UNWATCH over sockets: exact replies (RESP2 and RESP3),
//! queueing errors, WATCH aborts by writes, expiry and flushes, transactions whose keys span
//! shards (one-shard, split, gathered and whole-keyspace commands), atomicity under concurrent
//! readers, and all-or-nothing recovery of a cross-shard EXEC after kill -9.

mod common;

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use shardis::slot::SlotTable;

/// A key that lands on `shard` of `shards`.
fn key_on(shard: usize, shards: usize, prefix: &str) -> String {
    let table = SlotTable::new(shards);
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| table.shard_of_key(k.as_bytes()) == shard)
        .expect("some key lands on every shard")
}

/// Two keys on different shards of a two-shard server.
fn apart(prefix: &str) -> (String, String) {
    (
        key_on(0, 2, &format!("{prefix}a")),
        key_on(1, 2, &format!("{prefix}b")),
    )
}

fn exchange(raw: &mut RawClient, args: &[&str]) -> String {
    raw.send(&resp(args));
    String::from_utf8(raw.read_reply().expect("reply")).expect("utf-8")
}

#[test]
fn queued_commands_run_in_order_at_exec() {
    for threads in TOPOLOGIES {
        let server = TestServer::start(threads);
        let mut raw = server.raw();
        let (a, b) = apart("q");
        assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
        assert_eq!(exchange(&mut raw, &["SET", &a, "1"]), "+QUEUED\r\n");
        assert_eq!(exchange(&mut raw, &["INCR", &b]), "+QUEUED\r\n");
        assert_eq!(exchange(&mut raw, &["PING"]), "+QUEUED\r\n");
        assert_eq!(exchange(&mut raw, &["GET", &a]), "+QUEUED\r\n");
        assert_eq!(exchange(&mut raw, &["MGET", &a, &b]), "+QUEUED\r\n");
        assert_eq!(
            exchange(&mut raw, &["EXEC"]),
            "*5\r\n+OK\r\n:1\r\n+PONG\r\n$1\r\n1\r\n*2\r\n$1\r\n1\r\n$1\r\n1\r\n",
            "{threads} shard(s)"
        );
        // The connection is out of MULTI again.
        assert_eq!(exchange(&mut raw, &["GET", &a]), "$1\r\n1\r\n");
        assert_eq!(exchange(&mut raw, &["EXEC"]), "-ERR EXEC without MULTI\r\n");
        server.stop();
    }
}

#[test]
fn misuse_errors_match_redis() {
    let server = TestServer::start(2);
    let mut raw = server.raw();
    assert_eq!(exchange(&mut raw, &["EXEC"]), "-ERR EXEC without MULTI\r\n");
    assert_eq!(
        exchange(&mut raw, &["DISCARD"]),
        "-ERR DISCARD without MULTI\r\n"
    );
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(
        exchange(&mut raw, &["MULTI"]),
        "-ERR MULTI calls can not be nested\r\n"
    );
    assert_eq!(
        exchange(&mut raw, &["WATCH", "k"]),
        "-ERR WATCH inside MULTI is not allowed\r\n"
    );
    // Neither error dooms the transaction.
    assert_eq!(exchange(&mut raw, &["SET", "k", "v"]), "+QUEUED\r\n");
    assert_eq!(exchange(&mut raw, &["EXEC"]), "*1\r\n+OK\r\n");
    // SAVE is not allowed inside a transaction, and dooms it.
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(
        exchange(&mut raw, &["SAVE"]),
        "-ERR Command not allowed inside a transaction\r\n"
    );
    assert!(exchange(&mut raw, &["EXEC"]).starts_with("-EXECABORT"));
    server.stop();
}

#[test]
fn client_list_shows_the_queue() {
    let server = TestServer::start(2);
    let mut raw = server.raw();
    let mut other = server.connection();
    let id: i64 = {
        raw.send(&resp(&["CLIENT", "ID"]));
        let reply = String::from_utf8(raw.read_reply().expect("id")).expect("utf-8");
        reply.trim_start_matches(':').trim().parse().expect("id")
    };
    let line = |other: &mut redis::Connection| -> String {
        query(other, &["CLIENT", "LIST", "ID", &id.to_string()])
    };
    assert!(line(&mut other).contains(" flags=N db=0 sub=0 psub=0 ssub=0 multi=-1 "));
    exchange(&mut raw, &["MULTI"]);
    exchange(&mut raw, &["SET", "k", "v"]);
    exchange(&mut raw, &["GET", "k"]);
    assert!(line(&mut other).contains(" flags=x db=0 sub=0 psub=0 ssub=0 multi=2 "));
    exchange(&mut raw, &["EXEC"]);
    assert!(line(&mut other).contains(" multi=-1 "));
    server.stop();
}

#[test]
fn a_queueing_error_aborts_exec() {
    let server = TestServer::start(2);
    let mut raw = server.raw();
    let (a, b) = apart("abort");
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    assert_eq!(exchange(&mut raw, &["SET", &a, "1"]), "+QUEUED\r\n");
    assert!(exchange(&mut raw, &["NOSUCHCOMMAND", "x"]).starts_with("-ERR unknown command"));
    assert_eq!(
        exchange(&mut raw, &["GET"]),
        "-ERR wrong number of arguments for 'get' command\r\n"
    );
    assert_eq!(exchange(&mut raw, &["SET", &b, "1"]), "+QUEUED\r\n");
    assert_eq!(
        exchange(&mut raw, &["EXEC"]),
        "-EXECABORT Transaction discarded because of previous errors.\r\n"
    );
    assert_eq!(exchange(&mut raw, &["EXISTS", &a, &b]), ":0\r\n");
    server.stop();
}

#[test]
fn a_runtime_error_is_one_element_and_the_rest_run() {
    let server = TestServer::start(2);
    let mut raw = server.raw();
    let (a, b) = apart("rt");
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    exchange(&mut raw, &["SET", &a, "text"]);
    exchange(&mut raw, &["INCR", &a]);
    exchange(&mut raw, &["LPUSH", &a, "x"]);
    exchange(&mut raw, &["SET", &b, "2"]);
    assert_eq!(
        exchange(&mut raw, &["EXEC"]),
        "*4\r\n+OK\r\n-ERR value is not an integer or out of range\r\n\
         -WRONGTYPE Operation against a key holding the wrong kind of value\r\n+OK\r\n"
    );
    assert_eq!(exchange(&mut raw, &["GET", &b]), "$1\r\n2\r\n");
    server.stop();
}

#[test]
fn discard_drops_the_queue_and_the_watches() {
    let server = TestServer::start(2);
    let mut raw = server.raw();
    let mut other = server.connection();
    let (a, b) = apart("discard");
    assert_eq!(exchange(&mut raw, &["WATCH", &a]), "+OK\r\n");
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    exchange(&mut raw, &["SET", &b, "1"]);
    assert_eq!(exchange(&mut raw, &["DISCARD"]), "+OK\r\n");
    assert_eq!(exchange(&mut raw, &["EXISTS", &b]), ":0\r\n");
    // The watch went with DISCARD: a later write to `a` does not abort the next transaction.
    query::<()>(&mut other, &["SET", &a, "changed"]);
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    exchange(&mut raw, &["SET", &b, "1"]);
    assert_eq!(exchange(&mut raw, &["EXEC"]), "*1\r\n+OK\r\n");
    server.stop();
}

#[test]
fn a_write_by_another_connection_aborts_on_either_shard() {
    let server = TestServer::start(2);
    let mut raw = server.raw();
    let mut other = server.connection();
    let (a, b) = apart("watch");
    for touched in [&a, &b] {
        query::<()>(&mut other, &["SET", &a, "0"]);
        assert_eq!(exchange(&mut raw, &["WATCH", &a, &b]), "+OK\r\n");
        query::<()>(&mut other, &["SET", touched, "other"]);
        assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
        exchange(&mut raw, &["SET", &a, "mine"]);
        assert_eq!(
            exchange(&mut raw, &["EXEC"]),
            "*-1\r\n",
            "touched {touched}"
        );
        assert_ne!(get(&mut other, &a).as_deref(), Some("mine"));
    }
    // Untouched watches let it run; so does a write by the client itself before WATCH.
    query::<()>(&mut other, &["SET", &b, "x"]);
    assert_eq!(exchange(&mut raw, &["WATCH", &a, &b]), "+OK\r\n");
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    exchange(&mut raw, &["SET", &a, "mine"]);
    assert_eq!(exchange(&mut raw, &["EXEC"]), "*1\r\n+OK\r\n");
    // A write by the same client after WATCH counts too.
    assert_eq!(exchange(&mut raw, &["WATCH", &b]), "+OK\r\n");
    assert_eq!(exchange(&mut raw, &["SET", &b, "self"]), "+OK\r\n");
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    exchange(&mut raw, &["SET", &a, "again"]);
    assert_eq!(exchange(&mut raw, &["EXEC"]), "*-1\r\n");
    // UNWATCH forgets.
    assert_eq!(exchange(&mut raw, &["WATCH", &b]), "+OK\r\n");
    query::<()>(&mut other, &["SET", &b, "y"]);
    assert_eq!(exchange(&mut raw, &["UNWATCH"]), "+OK\r\n");
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    exchange(&mut raw, &["SET", &a, "again"]);
    assert_eq!(exchange(&mut raw, &["EXEC"]), "*1\r\n+OK\r\n");
    server.stop();
}

#[test]
fn a_watched_key_that_expires_aborts() {
    let server = TestServer::start(2);
    let mut raw = server.raw();
    let mut other = server.connection();
    let (a, b) = apart("expire");
    query::<()>(&mut other, &["SET", &a, "v", "PX", "100"]);
    assert_eq!(exchange(&mut raw, &["WATCH", &a]), "+OK\r\n");
    assert!(TestServer::eventually(Duration::from_secs(5), || {
        query::<i64>(&mut other, &["PTTL", &a]) == -2
    }));
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    exchange(&mut raw, &["SET", &b, "1"]);
    assert_eq!(exchange(&mut raw, &["EXEC"]), "*-1\r\n");
    assert_eq!(exchange(&mut raw, &["EXISTS", &b]), ":0\r\n");
    // A key missing at WATCH and still missing at EXEC is unchanged.
    assert_eq!(exchange(&mut raw, &["WATCH", &a]), "+OK\r\n");
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    exchange(&mut raw, &["SET", &b, "1"]);
    assert_eq!(exchange(&mut raw, &["EXEC"]), "*1\r\n+OK\r\n");
    server.stop();
}

#[test]
fn flushall_flushdb_and_swapdb_touch_watched_keys() {
    let server = TestServer::start(2);
    let mut raw = server.raw();
    let mut other = server.connection();
    let (a, b) = apart("flush");
    for flush in [&["FLUSHALL"][..], &["FLUSHDB"], &["SWAPDB", "0", "1"]] {
        query::<()>(&mut other, &["SET", &b, "v"]);
        assert_eq!(exchange(&mut raw, &["WATCH", &b]), "+OK\r\n");
        query::<()>(&mut other, flush);
        assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
        exchange(&mut raw, &["SET", &a, "1"]);
        assert_eq!(exchange(&mut raw, &["EXEC"]), "*-1\r\n", "{flush:?}");
        query::<()>(&mut other, &["FLUSHALL"]);
    }
    // A flush of another database leaves the watch alone.
    query::<()>(&mut other, &["SET", &b, "v"]);
    assert_eq!(exchange(&mut raw, &["WATCH", &b]), "+OK\r\n");
    query::<()>(&mut other, &["SELECT", "3"]);
    query::<()>(&mut other, &["FLUSHDB"]);
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    exchange(&mut raw, &["SET", &a, "1"]);
    assert_eq!(exchange(&mut raw, &["EXEC"]), "*1\r\n+OK\r\n");
    server.stop();
}

#[test]
fn select_inside_multi_moves_later_commands() {
    for threads in [1, 2] {
        let server = TestServer::start(threads);
        let mut raw = server.raw();
        let (a, b) = apart("select");
        assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
        exchange(&mut raw, &["SET", &a, "db0"]);
        exchange(&mut raw, &["SELECT", "5"]);
        exchange(&mut raw, &["SET", &a, "db5"]);
        exchange(&mut raw, &["MSET", &b, "x", &a, "db5-again"]);
        exchange(&mut raw, &["SELECT", "99"]);
        exchange(&mut raw, &["GET", &a]);
        assert_eq!(
            exchange(&mut raw, &["EXEC"]),
            "*6\r\n+OK\r\n+OK\r\n+OK\r\n+OK\r\n-ERR DB index is out of range\r\n\
             $9\r\ndb5-again\r\n"
        );
        // The connection stays in the database the transaction selected.
        assert_eq!(exchange(&mut raw, &["GET", &b]), "$1\r\nx\r\n");
        exchange(&mut raw, &["SELECT", "0"]);
        assert_eq!(exchange(&mut raw, &["GET", &a]), "$3\r\ndb0\r\n");
        assert_eq!(exchange(&mut raw, &["EXISTS", &b]), ":0\r\n");
        server.stop();
    }
}

#[test]
fn resp3_abort_is_a_null() {
    let server = TestServer::start(2);
    let mut raw = server.raw();
    let mut other = server.connection();
    let (a, b) = apart("resp3");
    raw.send(&resp(&["HELLO", "3"]));
    raw.read_reply().expect("hello");
    assert_eq!(exchange(&mut raw, &["WATCH", &a, &b]), "+OK\r\n");
    query::<()>(&mut other, &["SET", &b, "x"]);
    assert_eq!(exchange(&mut raw, &["MULTI"]), "+OK\r\n");
    exchange(&mut raw, &["SET", &a, "1"]);
    assert_eq!(exchange(&mut raw, &["EXEC"]), "_\r\n");
    server.stop();
}

#[test]
fn atomic_pipelines_across_shards_with_every_kind_of_command() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let (a, b) = apart("pipe");
    let (s1, s2) = apart("set");
    // One-shard, split (MSET, MGET, DEL), gathered (SMOVE, RENAME) and connection commands.
    type Replies = ((), Vec<String>, i64, i64, i64, (), i64);
    let ((), got, added, moved, members, (), deleted): Replies = redis::pipe()
        .atomic()
        .cmd("MSET")
        .arg(&a)
        .arg("1")
        .arg(&b)
        .arg("2")
        .cmd("MGET")
        .arg(&a)
        .arg(&b)
        .cmd("SADD")
        .arg(&s1)
        .arg("m1")
        .arg("m2")
        .cmd("SMOVE")
        .arg(&s1)
        .arg(&s2)
        .arg("m1")
        .cmd("SCARD")
        .arg(&s2)
        .cmd("RENAME")
        .arg(&a)
        .arg(format!("{b}-renamed"))
        .cmd("DEL")
        .arg(&b)
        .arg(&s1)
        .query(&mut con)
        .expect("exec");
    assert_eq!(got, vec!["1", "2"]);
    assert_eq!((added, moved, members, deleted), (2, 1, 1, 2));
    assert_eq!(get(&mut con, &format!("{b}-renamed")).as_deref(), Some("1"));
    assert_eq!(query::<i64>(&mut con, &["EXISTS", &a, &b, &s1]), 0);
    assert_eq!(
        query::<Vec<String>>(&mut con, &["SMEMBERS", &s2]),
        vec!["m1"]
    );

    // Commands over every shard among keyed ones.
    let (sizes_before, (), sizes_after, ()): (i64, (), i64, ()) = redis::pipe()
        .atomic()
        .cmd("DBSIZE")
        .cmd("FLUSHALL")
        .cmd("DBSIZE")
        .cmd("SET")
        .arg(&a)
        .arg("after")
        .query(&mut con)
        .expect("exec");
    assert_eq!((sizes_before, sizes_after), (2, 0));
    assert_eq!(
        query::<Vec<String>>(&mut con, &["KEYS", "*"]),
        vec![a.clone()]
    );
    server.stop();
}

/// Writers increment two keys on different shards in one transaction while readers read both in
/// a transaction, or with MGET: no reader ever sees them differ.
#[test]
fn readers_never_see_half_a_transaction() {
    const ROUNDS: u64 = 100_000;
    let server = TestServer::start(2);
    let (a, b) = apart("atomic");
    let done = Arc::new(AtomicBool::new(false));
    let rounds = Arc::new(AtomicU64::new(0));
    // A safety net against a hang, far beyond the few seconds the rounds take.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut threads = Vec::new();
    for role in 0..6 {
        let (client, a, b) = (server.client(), a.clone(), b.clone());
        let (done, rounds) = (done.clone(), rounds.clone());
        threads.push(std::thread::spawn(move || {
            let mut con = client.get_connection().expect("connection");
            let mut seen = 0u64;
            while !done.load(Ordering::Relaxed) {
                match role {
                    0 | 1 => {
                        let _: (i64, i64) = redis::pipe()
                            .atomic()
                            .cmd("INCR")
                            .arg(&a)
                            .cmd("INCR")
                            .arg(&b)
                            .query(&mut con)
                            .expect("writer exec");
                    }
                    2 | 3 => {
                        let (x, y): (Option<i64>, Option<i64>) = redis::pipe()
                            .atomic()
                            .cmd("GET")
                            .arg(&a)
                            .cmd("GET")
                            .arg(&b)
                            .query(&mut con)
                            .expect("reader exec");
                        assert_eq!(x, y, "EXEC saw half a transaction");
                        seen = seen.max(x.unwrap_or(0) as u64);
                    }
                    _ => {
                        let (x, y): (Option<i64>, Option<i64>) = redis::cmd("MGET")
                            .arg(&a)
                            .arg(&b)
                            .query(&mut con)
                            .expect("mget");
                        assert_eq!(x, y, "MGET saw half a transaction");
                    }
                }
                if rounds.fetch_add(1, Ordering::Relaxed) + 1 >= ROUNDS || Instant::now() > deadline
                {
                    done.store(true, Ordering::Relaxed);
                }
            }
            seen
        }));
    }
    for thread in threads {
        thread.join().expect("no reader saw half a transaction");
    }
    let mut con = server.connection();
    let (x, y): (i64, i64) = redis::cmd("MGET")
        .arg(&a)
        .arg(&b)
        .query(&mut con)
        .expect("mget");
    assert_eq!(x, y);
    assert!(x > 0, "the writers ran");
    let rounds = rounds.load(Ordering::Relaxed);
    assert!(rounds >= ROUNDS, "only {rounds} rounds before the deadline");
    server.stop();
}

/// A writer runs cross-shard transactions against a server with a binlog until it is killed:
/// after the restart both keys hold the same value, so every transaction is there whole or not
/// at all.
#[test]
fn a_cross_shard_exec_survives_kill_9_whole_or_not_at_all() {
    let dir = temp_data_dir();
    let (a, b) = apart("crash");
    let (c, d) = (key_on(0, 2, "crashc"), key_on(1, 2, "crashd"));
    for round in 0..3 {
        let server = ChildServer::start(&dir, 2, &[("appendonly", "yes")]);
        let client = server.client();
        let stop = Arc::new(AtomicBool::new(false));
        let writer = {
            let (stop, a, b, c, d) = (stop.clone(), a.clone(), b.clone(), c.clone(), d.clone());
            std::thread::spawn(move || {
                let Ok(mut con) = client.get_connection() else {
                    return 0u64;
                };
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let value = format!("{round}-{n}");
                    let ran: redis::RedisResult<()> = redis::pipe()
                        .atomic()
                        .cmd("SET")
                        .arg(&a)
                        .arg(&value)
                        .cmd("MSET")
                        .arg(&b)
                        .arg(&value)
                        .arg(&c)
                        .arg(&value)
                        .cmd("SET")
                        .arg(&d)
                        .arg(&value)
                        .ignore()
                        .query(&mut con);
                    if ran.is_err() {
                        break;
                    }
                }
                n
            })
        };
        // Let it run a while (and at least until this round's first EXEC is in), then kill the
        // server mid-stream.
        let started = Instant::now();
        let mut probe = server.client().get_connection().expect("probe");
        loop {
            let value: Option<String> = redis::cmd("GET").arg(&a).query(&mut probe).expect("get");
            let this_round = value.is_some_and(|v| v.starts_with(&format!("{round}-")));
            if this_round && started.elapsed() >= Duration::from_millis(300) {
                break;
            }
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "round {round}: the writer's EXEC never landed"
            );
        }
        server.kill9();
        stop.store(true, Ordering::Relaxed);
        let written = writer.join().expect("writer");
        assert!(written > 0);

        let server = ChildServer::start(&dir, 2, &[("appendonly", "yes")]);
        let mut con = server.client().get_connection().expect("connection");
        let values: Vec<Option<String>> = redis::cmd("MGET")
            .arg(&a)
            .arg(&b)
            .arg(&c)
            .arg(&d)
            .query(&mut con)
            .expect("mget");
        assert!(
            values.iter().all(|v| *v == values[0]),
            "round {round}: half a transaction after recovery: {values:?}"
        );
        assert!(
            values[0].is_some(),
            "round {round}: the writes before the kill were kept"
        );
        server.stop();
    }
    let _ = std::fs::remove_dir_all(dir);
}
