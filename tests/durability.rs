//! Durability over real restarts: the binlog, recovery, torn tails and corruption, cross-shard
//! atomicity after a crash, snapshots, point-in-time restore, failing disks, and kill -9.

mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::*;
use shardis::binlog::{record, segment};
use shardis::slot::SlotTable;

/// Every key and its value, over the first `databases` databases.
fn dump(con: &mut redis::Connection, databases: usize) -> Vec<(usize, String, String, bool)> {
    let mut all = Vec::new();
    for db in 0..databases {
        query::<()>(con, &["SELECT", &db.to_string()]);
        let keys: Vec<String> = query(con, &["KEYS", "*"]);
        for key in keys {
            let value: Option<String> = query(con, &["GET", &key]);
            let volatile = pttl(con, &key) > 0;
            if let Some(value) = value {
                all.push((db, key, value, volatile));
            }
        }
    }
    query::<()>(con, &["SELECT", "0"]);
    all.sort();
    all
}

/// A server on a new data directory that outlives it (the tests restart on it, then delete it).
fn fresh(threads: usize) -> TestServer {
    TestServer::start_in(&temp_data_dir(), threads, &[])
}

fn stop_and_restart(server: TestServer, threads: usize) -> TestServer {
    let dir = server.dir.clone();
    server.stop();
    TestServer::start_in(&dir, threads, &[])
}

/// A key that lands on `shard` of `shards`.
fn key_on(shard: usize, shards: usize, prefix: &str) -> String {
    let table = SlotTable::new(shards);
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| table.shard_of_key(k.as_bytes()) == shard)
        .expect("some key lands on every shard")
}

fn newest_segment(dir: &Path, shard: usize) -> PathBuf {
    segment::list_segments(&segment::shard_dir(dir, shard))
        .expect("segments")
        .into_iter()
        .rev()
        .find(|(_, path)| std::fs::metadata(path).is_ok_and(|m| m.len() > 0))
        .map(|(_, path)| path)
        .expect("a non-empty segment")
}

/// Offsets at which each record of a segment starts.
fn record_offsets(path: &Path) -> Vec<usize> {
    let bytes = std::fs::read(path).expect("segment");
    let mut offsets = Vec::new();
    let mut at = 0;
    while let Ok((_, len)) = record::decode(&bytes[at..]) {
        offsets.push(at);
        at += len;
    }
    offsets
}

#[test]
fn every_write_survives_a_restart() {
    for threads in TOPOLOGIES {
        let server = fresh(threads);
        let dir = server.dir.clone();
        let mut con = server.connection();
        for n in 0..200 {
            query::<()>(&mut con, &["SET", &format!("k{n}"), &n.to_string()]);
        }
        query::<()>(&mut con, &["MSET", "m1", "a", "m2", "b", "m3", "c"]);
        query::<i64>(&mut con, &["INCR", "counter"]);
        query::<i64>(&mut con, &["INCRBY", "counter", "41"]);
        query::<String>(&mut con, &["INCRBYFLOAT", "float", "1.5"]);
        query::<()>(&mut con, &["SET", "ttl", "v", "EX", "1000"]);
        query::<i64>(&mut con, &["EXPIRE", "k1", "500"]);
        query::<i64>(&mut con, &["DEL", "k2", "k3", "k4"]);
        query::<()>(&mut con, &["RENAME", "k5", "renamed"]);
        query::<i64>(&mut con, &["APPEND", "k6", "-tail"]);
        query::<()>(&mut con, &["SELECT", "3"]);
        query::<()>(&mut con, &["SET", "in-db-3", "x"]);
        query::<i64>(&mut con, &["MOVE", "in-db-3", "4"]);
        query::<()>(&mut con, &["SELECT", "0"]);
        // A failed conditional write changes nothing and is not logged.
        query::<Option<String>>(&mut con, &["SET", "k7", "no", "NX"]);
        let before = dump(&mut con, 5);
        drop(con);
        let server = stop_and_restart(server, threads);
        let mut con = server.connection();
        assert_eq!(dump(&mut con, 5), before, "{threads} shard(s)");
        assert_eq!(get(&mut con, "counter").as_deref(), Some("42"));
        assert!(pttl(&mut con, "ttl") > 990_000);
        drop(con);
        server.stop();
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn relative_expiry_is_logged_as_absolute() {
    let server = fresh(1);
    let mut con = server.connection();
    query::<()>(&mut con, &["SET", "a", "1", "PX", "100000"]);
    query::<i64>(&mut con, &["PEXPIRE", "a", "200000"]);
    query::<String>(&mut con, &["INCRBYFLOAT", "f", "2.5"]);
    query::<()>(&mut con, &["FLUSHALL"]);
    let dir = server.dir.clone();
    server.stop();
    let bytes = std::fs::read(newest_segment(&dir, 0)).expect("segment");
    let mut logged = Vec::new();
    record::scan(&bytes, |r| {
        if let record::Body::Command(args) = r.body {
            let words: Vec<String> = args
                .iter()
                .map(|a| String::from_utf8_lossy(a).to_string())
                .collect();
            logged.push(words.join(" "));
        }
    });
    assert_eq!(logged.len(), 4, "{logged:?}");
    assert!(logged[0].starts_with("SET a 1 PXAT "), "{logged:?}");
    assert!(logged[1].starts_with("PEXPIREAT a "), "{logged:?}");
    assert_eq!(logged[2], "SET f 2.5");
    assert_eq!(logged[3], "FLUSHALL");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn torn_tail_is_truncated_with_a_warning() {
    let server = fresh(1);
    let dir = server.dir.clone();
    let mut con = server.connection();
    for n in 0..50 {
        query::<()>(&mut con, &["SET", &format!("k{n}"), "v"]);
    }
    drop(con);
    server.stop();
    let path = newest_segment(&dir, 0);
    let offsets = record_offsets(&path);
    let last = *offsets.last().unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    // Cut the last record in half, as a crash in the middle of its write would.
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len((last as u64 + len) / 2).unwrap();
    drop(file);

    let refused = TestServer::try_start_in(&dir, 1, &[("aof-load-truncated", "no")]);
    let error = refused
        .err()
        .expect("aof-load-truncated no refuses")
        .to_string();
    assert!(error.contains("check-binlog --fix"), "{error}");

    let server = TestServer::start_in(&dir, 1, &[]);
    let mut con = server.connection();
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 49);
    assert_eq!(get(&mut con, "k49"), None);
    // The server goes on appending after the truncated tail.
    query::<()>(&mut con, &["SET", "after", "1"]);
    drop(con);
    let server = stop_and_restart(server, 1);
    let mut con = server.connection();
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 50);
    drop(con);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn corruption_before_the_tail_stops_start_up_until_repaired() {
    let server = fresh(1);
    let dir = server.dir.clone();
    let mut con = server.connection();
    for n in 0..50 {
        query::<()>(&mut con, &["SET", &format!("k{n}"), "value"]);
    }
    drop(con);
    server.stop();
    let path = newest_segment(&dir, 0);
    let offsets = record_offsets(&path);
    let damaged_at = offsets[20];
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[damaged_at + 20] ^= 0xff;
    std::fs::write(&path, &bytes).unwrap();

    let error = TestServer::try_start_in(&dir, 1, &[])
        .err()
        .expect("corruption refuses to start")
        .to_string();
    assert!(error.contains(&path.display().to_string()), "{error}");
    assert!(error.contains(&format!("offset {damaged_at}")), "{error}");
    assert!(error.contains("shardis check-binlog --fix"), "{error}");

    let status = std::process::Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["check-binlog", "--fix", path.to_str().unwrap()])
        .output()
        .expect("check-binlog runs");
    assert!(status.status.success(), "{status:?}");
    let server = TestServer::start_in(&dir, 1, &[]);
    let mut con = server.connection();
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 20);
    drop(con);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn a_cross_shard_mset_is_never_half_recovered() {
    let server = fresh(2);
    let dir = server.dir.clone();
    let (a, b) = (key_on(0, 2, "a"), key_on(1, 2, "b"));
    let mut con = server.connection();
    query::<()>(&mut con, &["MSET", &a, "old", &b, "old"]);
    query::<()>(&mut con, &["MSET", &a, "new", &b, "new"]);
    drop(con);
    server.stop();
    // The crash lost shard 1's part of the second MSET: drop its last record.
    let path = newest_segment(&dir, 1);
    let last = *record_offsets(&path).last().unwrap();
    let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
    file.set_len(last as u64).unwrap();
    drop(file);
    let server = TestServer::start_in(&dir, 2, &[]);
    let mut con = server.connection();
    assert_eq!(get(&mut con, &a).as_deref(), Some("old"), "shard 0's part");
    assert_eq!(get(&mut con, &b).as_deref(), Some("old"));
    drop(con);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn cross_shard_rename_and_copy_survive_a_restart() {
    let server = fresh(2);
    let dir = server.dir.clone();
    let (a, b, c) = (key_on(0, 2, "a"), key_on(1, 2, "b"), key_on(1, 2, "c"));
    let mut con = server.connection();
    query::<()>(&mut con, &["SET", &a, "moved", "PX", "500000"]);
    query::<()>(&mut con, &["RENAME", &a, &b]);
    query::<()>(&mut con, &["SET", &a, "copied"]);
    query::<i64>(&mut con, &["COPY", &a, &c]);
    let before = dump(&mut con, 1);
    drop(con);
    let server = stop_and_restart(server, 2);
    let mut con = server.connection();
    assert_eq!(dump(&mut con, 1), before);
    assert_eq!(get(&mut con, &b).as_deref(), Some("moved"));
    assert!(pttl(&mut con, &b) > 0);
    drop(con);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

fn info_field(con: &mut redis::Connection, name: &str) -> String {
    let info: String = query(con, &["INFO", "persistence"]);
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .unwrap_or_else(|| panic!("{name} in {info}"))
        .to_string()
}

#[test]
fn snapshot_under_concurrent_writes_then_restart() {
    for threads in [1, 2] {
        let server = fresh(threads);
        let dir = server.dir.clone();
        let mut con = server.connection();
        let mut pipe = redis::pipe();
        for n in 0..20_000 {
            pipe.cmd("SET").arg(format!("k{n}")).arg(n).ignore();
        }
        pipe.query::<()>(&mut con).unwrap();
        let before_save: i64 = query(&mut con, &["LASTSAVE"]);
        assert_eq!(
            query::<String>(&mut con, &["BGSAVE"]),
            "Background saving started"
        );
        // Writes during the snapshot: overwrite, delete, create.
        for n in 0..500 {
            query::<()>(&mut con, &["SET", &format!("k{}", n * 7), "changed"]);
            query::<i64>(&mut con, &["DEL", &format!("k{}", n * 5 + 1)]);
            query::<()>(&mut con, &["SET", &format!("new{n}"), "x"]);
        }
        assert!(TestServer::eventually(Duration::from_secs(30), || {
            info_field(&mut con, "rdb_bgsave_in_progress") == "0"
        }));
        assert_eq!(info_field(&mut con, "rdb_last_bgsave_status"), "ok");
        let after_save: i64 = query(&mut con, &["LASTSAVE"]);
        assert!(after_save >= before_save);
        let snapshots: usize = (0..threads)
            .map(|s| {
                std::fs::read_dir(segment::shard_dir(&dir, s))
                    .unwrap()
                    .filter(|e| {
                        e.as_ref()
                            .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".snap"))
                    })
                    .count()
            })
            .sum();
        assert_eq!(snapshots, threads, "one snapshot per shard");
        let before = dump(&mut con, 1);
        drop(con);
        let server = stop_and_restart(server, threads);
        let mut con = server.connection();
        assert_eq!(dump(&mut con, 1), before, "{threads} shard(s)");
        // SAVE and BGREWRITEAOF also work, and a snapshot alone (binlog gone) restores.
        assert_eq!(query::<String>(&mut con, &["SAVE"]), "OK");
        let rewrite: String = query(&mut con, &["BGREWRITEAOF"]);
        assert!(rewrite.starts_with("Background append only file rewriting"));
        assert!(TestServer::eventually(Duration::from_secs(30), || {
            info_field(&mut con, "rdb_bgsave_in_progress") == "0"
        }));
        drop(con);
        server.stop();
        for shard in 0..threads {
            for (_, path) in segment::list_segments(&segment::shard_dir(&dir, shard)).unwrap() {
                std::fs::remove_file(path).unwrap();
            }
        }
        let server = TestServer::start_in(&dir, threads, &[]);
        let mut con = server.connection();
        assert_eq!(dump(&mut con, 1), before, "from snapshots alone");
        drop(con);
        server.stop();
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn point_in_time_restore_returns_the_earlier_state() {
    let server = fresh(2);
    let dir = server.dir.clone();
    let (a, b) = (key_on(0, 2, "a"), key_on(1, 2, "b"));
    let mut con = server.connection();
    query::<()>(&mut con, &["MSET", &a, "1", &b, "1"]);
    query::<()>(&mut con, &["SET", "gone-later", "here"]);
    std::thread::sleep(Duration::from_millis(20));
    let between = now_ms();
    std::thread::sleep(Duration::from_millis(20));
    query::<()>(&mut con, &["MSET", &a, "2", &b, "2"]);
    query::<i64>(&mut con, &["DEL", "gone-later"]);
    query::<()>(&mut con, &["SET", "created-later", "x"]);
    drop(con);
    server.stop();

    let out = temp_data_dir().join("restored");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["restore", "--from", dir.to_str().unwrap(), "--to"])
        .arg(between.to_string())
        .args(["--out", out.to_str().unwrap()])
        .output()
        .expect("restore runs");
    assert!(status.status.success(), "{status:?}");
    let server = TestServer::start_in(&out, 2, &[]);
    let mut con = server.connection();
    assert_eq!(get(&mut con, &a).as_deref(), Some("1"));
    assert_eq!(get(&mut con, &b).as_deref(), Some("1"));
    assert_eq!(get(&mut con, "gone-later").as_deref(), Some("here"));
    assert_eq!(get(&mut con, "created-later"), None);
    drop(con);
    server.stop();
    // The source is untouched and still starts with the latest state.
    let server = TestServer::start_in(&dir, 2, &[]);
    let mut con = server.connection();
    assert_eq!(get(&mut con, &a).as_deref(), Some("2"));
    drop(con);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(out.parent().unwrap());
}

#[test]
fn failing_disk_refuses_writes_serves_reads_and_resumes() {
    for threads in [1, 2] {
        let server = fresh(threads);
        let dir = server.dir.clone();
        let mut con = server.connection();
        query::<()>(&mut con, &["SET", "before", "1"]);
        let (held, refused) = (key_on(0, threads, "held"), key_on(0, threads, "refused"));
        query::<()>(&mut con, &["CONFIG", "SET", "binlog-failpoint", "enospc"]);
        // The first write after the disk fails runs, but its reply waits until it is written.
        let writer = {
            let (client, held) = (server.client(), held.clone());
            std::thread::spawn(move || {
                let mut con = client.get_connection().unwrap();
                redis::cmd("SET")
                    .arg(held)
                    .arg("1")
                    .query::<String>(&mut con)
            })
        };
        assert!(TestServer::eventually(Duration::from_secs(10), || {
            info_field(&mut con, "aof_last_write_status") == "err"
        }));
        let misconf = error_of(&mut con, &["SET", &refused, "1"]);
        assert_eq!(
            misconf,
            "MISCONF Errors writing to the AOF file: No space left on device"
        );
        assert_eq!(get(&mut con, "before").as_deref(), Some("1"), "reads go on");
        if threads > 1 {
            // A cross-shard write touching the failing shard refuses as a whole.
            let other = key_on(1, threads, "other");
            let error = error_of(&mut con, &["MSET", &refused, "x", &other, "x"]);
            assert!(error.starts_with("MISCONF "), "{error}");
            assert_eq!(get(&mut con, &other), None, "no part of the MSET ran");
        }
        let info: String = query(&mut con, &["INFO", "persistence"]);
        assert!(info.contains("aof_last_write_status:err"), "{info}");
        query::<()>(&mut con, &["CONFIG", "SET", "binlog-failpoint", "off"]);
        assert_eq!(writer.join().unwrap().unwrap(), "OK");
        assert!(TestServer::eventually(Duration::from_secs(5), || {
            redis::cmd("SET")
                .arg("after")
                .arg("1")
                .query::<()>(&mut con)
                .is_ok()
        }));
        drop(con);
        let server = stop_and_restart(server, threads);
        let mut con = server.connection();
        for key in ["before", held.as_str(), "after"] {
            assert_eq!(get(&mut con, key).as_deref(), Some("1"), "{key}");
        }
        assert_eq!(get(&mut con, &refused), None);
        drop(con);
        server.stop();
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn failing_snapshot_refuses_writes_until_one_succeeds() {
    let server = fresh(1);
    let mut con = server.connection();
    query::<()>(&mut con, &["SET", "k", "v"]);
    query::<()>(&mut con, &["CONFIG", "SET", "binlog-failpoint", "eio"]);
    let error = error_of(&mut con, &["BGSAVE"]);
    assert!(error.starts_with("ERR Input/output error"), "{error}");
    query::<()>(&mut con, &["CONFIG", "SET", "binlog-failpoint", "off"]);
    let refused = error_of(&mut con, &["SET", "k", "w"]);
    assert!(refused.starts_with("MISCONF "), "{refused}");
    assert_eq!(get(&mut con, "k").as_deref(), Some("v"));
    assert_eq!(query::<String>(&mut con, &["SAVE"]), "OK");
    query::<()>(&mut con, &["SET", "k", "w"]);
}

/// Writers that pipeline SETs of unique keys and record each pipeline the server acknowledged.
fn write_until_killed(
    port: u16,
    clients: usize,
    stop: Arc<AtomicBool>,
    acked: Arc<AtomicUsize>,
) -> Vec<std::thread::JoinHandle<Vec<(String, String)>>> {
    (0..clients)
        .map(|client| {
            let (stop, acked) = (stop.clone(), acked.clone());
            std::thread::spawn(move || {
                let url = format!("redis://127.0.0.1:{port}/");
                let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
                let mut done = Vec::new();
                let mut n = 0usize;
                while !stop.load(Ordering::Relaxed) {
                    let mut pipe = redis::pipe();
                    let batch: Vec<(String, String)> = (0..50)
                        .map(|i| (format!("c{client}:{}", n + i), format!("{}", n + i)))
                        .collect();
                    for (key, value) in &batch {
                        pipe.cmd("SET").arg(key).arg(value).ignore();
                    }
                    if pipe.query::<()>(&mut con).is_err() {
                        break;
                    }
                    n += batch.len();
                    acked.fetch_add(batch.len(), Ordering::Relaxed);
                    done.extend(batch);
                }
                done
            })
        })
        .collect()
}

fn kill9_loses_no_acknowledged_write(fsync: &str, writes: usize) {
    let dir = temp_data_dir();
    let threads = 4;
    let server = ChildServer::start(&dir, threads, &[("appendfsync", fsync)]);
    let (stop, acked) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicUsize::new(0)),
    );
    let writers = write_until_killed(server.port, 8, stop.clone(), acked.clone());
    while acked.load(Ordering::Relaxed) < writes {
        std::thread::sleep(Duration::from_millis(5));
    }
    // Kill while the writers are still going: some writes are in flight, unacknowledged.
    server.kill9();
    stop.store(true, Ordering::Relaxed);
    let acknowledged: Vec<(String, String)> = writers
        .into_iter()
        .flat_map(|w| w.join().unwrap())
        .collect();
    assert!(acknowledged.len() >= writes);

    let server = ChildServer::start(&dir, threads, &[("appendfsync", fsync)]);
    let mut con = server.client().get_connection().unwrap();
    let missing = Mutex::new(HashMap::new());
    for chunk in acknowledged.chunks(1000) {
        let keys: Vec<&str> = chunk.iter().map(|(k, _)| k.as_str()).collect();
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
        for ((key, expected), got) in chunk.iter().zip(values) {
            if got.as_deref() != Some(expected.as_str()) {
                missing.lock().unwrap().insert(key.clone(), got);
            }
        }
    }
    let missing = missing.into_inner().unwrap();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged writes lost after kill -9 (appendfsync {fsync}), e.g. {:?}",
        missing.len(),
        acknowledged.len(),
        missing.iter().take(3).collect::<Vec<_>>()
    );
    drop(con);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn kill9_with_appendfsync_always_loses_no_acknowledged_write() {
    kill9_loses_no_acknowledged_write("always", 100_000);
}

/// With `everysec` a write is acknowledged once written to the file (not yet fsynced): a crash of
/// the process loses nothing acknowledged; only a crash of the machine could lose up to a second.
#[test]
fn kill9_with_appendfsync_everysec_loses_no_acknowledged_write() {
    kill9_loses_no_acknowledged_write("everysec", 50_000);
}

#[test]
fn segments_rotate_and_retention_deletes_them_after_a_snapshot() {
    let dir = temp_data_dir();
    let directives = [("binlog-segment-size", "4096"), ("binlog-retention", "0 0")];
    let server = TestServer::start_in(&dir, 1, &directives);
    let mut con = server.connection();
    let value = "x".repeat(100);
    for n in 0..500 {
        query::<()>(&mut con, &["SET", &format!("k{n}"), &value]);
    }
    let shard_dir = segment::shard_dir(&dir, 0);
    let rotated = segment::list_segments(&shard_dir).unwrap().len();
    assert!(rotated >= 5, "{rotated} segments for ~60 KB at 4 KB each");
    assert_eq!(info_field(&mut con, "binlog_segments"), rotated.to_string());
    query::<String>(&mut con, &["BGSAVE"]);
    assert!(TestServer::eventually(Duration::from_secs(30), || {
        info_field(&mut con, "rdb_bgsave_in_progress") == "0"
    }));
    let kept = segment::list_segments(&shard_dir).unwrap().len();
    assert!(kept <= 2, "{kept} segments kept after the snapshot");
    assert_eq!(info_field(&mut con, "binlog_segments"), kept.to_string());
    query::<()>(&mut con, &["SET", "after-snapshot", "1"]);
    drop(con);
    server.stop();
    let server = TestServer::start_in(&dir, 1, &directives);
    let mut con = server.connection();
    assert_eq!(query::<i64>(&mut con, &["DBSIZE"]), 501);
    assert_eq!(get(&mut con, "k499").as_deref(), Some(value.as_str()));
    drop(con);
    server.stop();
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn expired_keys_are_logged_as_del() {
    let server = fresh(1);
    let dir = server.dir.clone();
    let mut con = server.connection();
    query::<()>(&mut con, &["SET", "lazy", "1", "PX", "30"]);
    query::<()>(&mut con, &["SET", "active", "1", "PX", "30"]);
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(get(&mut con, "lazy"), None);
    // Active expiry reclaims the other one within a few ticks.
    assert!(TestServer::eventually(Duration::from_secs(5), || {
        query::<i64>(&mut con, &["DBSIZE"]) == 0
    }));
    drop(con);
    server.stop();
    let bytes = std::fs::read(newest_segment(&dir, 0)).expect("segment");
    let mut dels = Vec::new();
    record::scan(&bytes, |r| {
        if let record::Body::Command(args) = r.body {
            if args[0].as_ref() == b"DEL" {
                dels.push(String::from_utf8_lossy(&args[1]).to_string());
            }
        }
    });
    dels.sort();
    assert_eq!(dels, ["active", "lazy"]);
    let _ = std::fs::remove_dir_all(dir);
}
