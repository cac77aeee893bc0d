//! SLOWLOG, LATENCY, DEBUG, MONITOR and INFO commandstats/latencystats against the real server.

mod common;

use std::io::Read;
use std::time::Duration;

use common::*;
use redis::Value;

fn text(value: &Value) -> String {
    match value {
        Value::BulkString(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        Value::SimpleString(s) => s.clone(),
        Value::Int(n) => n.to_string(),
        other => panic!("not text: {other:?}"),
    }
}

fn items(value: &Value) -> &Vec<Value> {
    match value {
        Value::Array(items) => items,
        other => panic!("not an array: {other:?}"),
    }
}

fn int(value: &Value) -> i64 {
    match value {
        Value::Int(n) => *n,
        other => panic!("not an integer: {other:?}"),
    }
}

#[test]
fn slowlog_records_a_slow_command_with_client_address_and_name() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let _: () = query(&mut con, &["CLIENT", "SETNAME", "sleepy"]);
        // Well above what a busy test machine makes an ordinary command take.
        let _: () = query(
            &mut con,
            &["CONFIG", "SET", "slowlog-log-slower-than", "150000"],
        );
        let _: () = query(&mut con, &["SLOWLOG", "RESET"]);
        let _: () = query(&mut con, &["DEBUG", "SLEEP", "0.2"]);
        assert_eq!(query::<i64>(&mut con, &["SLOWLOG", "LEN"]), 1);
        let log: Value = query(&mut con, &["SLOWLOG", "GET"]);
        let entries = items(&log);
        assert_eq!(entries.len(), 1, "{log:?}");
        let entry = items(&entries[0]);
        assert_eq!(entry.len(), 6);
        let unix_now = now_ms() / 1000;
        assert!((int(&entry[1]) - unix_now).abs() <= 2, "{entry:?}");
        assert!(int(&entry[2]) >= 200_000, "duration {entry:?}");
        let args: Vec<String> = items(&entry[3]).iter().map(text).collect();
        assert_eq!(args, vec!["DEBUG", "SLEEP", "0.2"]);
        let info: String = query(&mut con, &["CLIENT", "INFO"]);
        let addr = info
            .split(' ')
            .find_map(|field| field.strip_prefix("addr="))
            .expect("addr field");
        assert_eq!(text(&entry[4]), addr);
        assert_eq!(text(&entry[5]), "sleepy");
        let _: () = query(&mut con, &["SLOWLOG", "RESET"]);
        assert_eq!(query::<i64>(&mut con, &["SLOWLOG", "LEN"]), 0);
    });
}

#[test]
fn slowlog_merges_every_shard_newest_first_and_honours_its_settings() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let _: () = query(&mut con, &["CONFIG", "SET", "slowlog-log-slower-than", "0"]);
        let _: () = query(&mut con, &["SLOWLOG", "RESET"]);
        let keys = numbered("slow", 12);
        for key in &keys {
            let _: () = query(&mut con, &["SET", key, "v"]);
        }
        let log: Value = query(&mut con, &["SLOWLOG", "GET", "-1"]);
        let sets: Vec<String> = items(&log)
            .iter()
            .map(items)
            .filter(|e| text(&items(&e[3])[0]) == "SET")
            .map(|e| text(&items(&e[3])[1]))
            .collect();
        let mut newest_first = keys.clone();
        newest_first.reverse();
        assert_eq!(sets, newest_first, "{log:?}");
        let ids: Vec<i64> = items(&log).iter().map(|e| int(&items(e)[0])).collect();
        let mut unique = ids.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), ids.len(), "ids {ids:?}");
        // Default count is 10.
        let log: Value = query(&mut con, &["SLOWLOG", "GET"]);
        assert_eq!(items(&log).len(), 10);
        let _: () = query(&mut con, &["CONFIG", "SET", "slowlog-max-len", "2"]);
        let _: () = query(&mut con, &["SLOWLOG", "RESET"]);
        for key in &keys {
            let _: () = query(&mut con, &["SET", key, "w"]);
        }
        // At most two per shard are kept; CONFIG SET itself may be one of them.
        let len: i64 = query(&mut con, &["SLOWLOG", "LEN"]);
        assert!((2..=2 * 4).contains(&len), "len {len}");
        let _: () = query(
            &mut con,
            &["CONFIG", "SET", "slowlog-log-slower-than", "-1"],
        );
        let _: () = query(&mut con, &["SLOWLOG", "RESET"]);
        let _: () = query(&mut con, &["SET", "x", "y"]);
        assert_eq!(query::<i64>(&mut con, &["SLOWLOG", "LEN"]), 0);
        assert_eq!(
            error_of(&mut con, &["SLOWLOG", "GET", "-2"]),
            "ERR count should be greater than or equal to -1"
        );
        assert_eq!(
            error_of(&mut con, &["SLOWLOG", "NOPE"]),
            "ERR unknown subcommand 'NOPE'. Try SLOWLOG HELP."
        );
    });
}

#[test]
fn latency_monitor_records_a_slow_command() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let latest: Value = query(&mut con, &["LATENCY", "LATEST"]);
    assert_eq!(items(&latest).len(), 0);
    let _: () = query(
        &mut con,
        &["CONFIG", "SET", "latency-monitor-threshold", "10"],
    );
    let _: () = query(&mut con, &["DEBUG", "SLEEP", "0.05"]);
    let latest: Value = query(&mut con, &["LATENCY", "LATEST"]);
    let events = items(&latest);
    assert_eq!(events.len(), 1, "{latest:?}");
    let event = items(&events[0]);
    assert_eq!(text(&event[0]), "command");
    assert!((int(&event[1]) - now_ms() / 1000).abs() <= 2);
    assert!(int(&event[2]) >= 50, "{event:?}");
    assert!(int(&event[3]) >= int(&event[2]));
    // One sample per second: the DEBUG's second is the last one (CONFIG SET, had it been slow
    // on a busy machine, could add an earlier one).
    let history: Value = query(&mut con, &["LATENCY", "HISTORY", "command"]);
    let last = items(items(&history).last().expect("a sample"));
    assert!(int(&last[1]) >= 50, "{history:?}");

    // The histogram of DEBUG: one call, in a bucket of at least 50 ms.
    let histogram: Value = query(&mut con, &["LATENCY", "HISTOGRAM", "debug"]);
    let Value::Array(flat) = &histogram else {
        panic!("{histogram:?}")
    };
    assert_eq!(text(&flat[0]), "debug");
    let details = items(&flat[1]);
    assert_eq!(text(&details[0]), "calls");
    assert_eq!(int(&details[1]), 1);
    assert_eq!(text(&details[2]), "histogram_usec");
    let buckets = items(&details[3]);
    assert_eq!(buckets.len(), 2, "{buckets:?}");
    assert!(int(&buckets[0]) >= 50_000 && int(&buckets[1]) == 1);

    assert_eq!(query::<i64>(&mut con, &["LATENCY", "RESET"]), 1);
    let latest: Value = query(&mut con, &["LATENCY", "LATEST"]);
    assert_eq!(items(&latest).len(), 0);
    let doctor: String = query(&mut con, &["LATENCY", "DOCTOR"]);
    assert!(doctor.contains("no latency spike"), "{doctor}");
}

#[test]
fn debug_object_runs_on_the_keys_shard() {
    for_each_topology(|server| {
        let mut con = server.connection();
        for key in numbered("obj", 8) {
            let _: () = query(&mut con, &["SET", &key, "12345"]);
            let line: String = query(&mut con, &["DEBUG", "OBJECT", &key]);
            assert!(line.starts_with("Value at:0x"), "{line}");
            assert!(
                line.ends_with(
                    " refcount:1 encoding:int serializedlength:3 lru:0 lru_seconds_idle:0"
                ),
                "{line}"
            );
        }
        assert_eq!(
            error_of(&mut con, &["DEBUG", "OBJECT", "missing"]),
            "ERR no such key"
        );
        assert_eq!(
            error_of(&mut con, &["DEBUG", "NOPE"]),
            "ERR unknown subcommand 'NOPE'. Try DEBUG HELP."
        );
    });
}

#[test]
fn monitor_streams_commands_from_every_shard() {
    for_each_topology(|server| {
        let mut monitor = server.raw();
        monitor.roundtrip(&resp(&["MONITOR"]), b"+OK\r\n");
        let mut con = server.connection();
        let _: () = query(&mut con, &["SELECT", "3"]);
        let keys = numbered("mon", 6);
        for key in &keys {
            let _: () = query(&mut con, &["SET", key, "a \"b\""]);
        }
        let info: String = query(&mut con, &["CLIENT", "INFO"]);
        let addr = info
            .split(' ')
            .find_map(|field| field.strip_prefix("addr="))
            .expect("addr field")
            .to_string();
        let mut seen = String::new();
        let wanted = format!("[3 {addr}] \"SET\" \"{}\" \"a \\\"b\\\"\"\r\n", keys[5]);
        let mut chunk = [0u8; 4096];
        while !seen.contains(&wanted) {
            let n = monitor.stream.read(&mut chunk).expect("monitor output");
            assert!(n > 0, "monitor closed; got {seen:?}");
            seen.push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
        for (i, key) in keys.iter().enumerate() {
            let line = format!("[3 {addr}] \"SET\" \"{key}\" ");
            assert!(seen.contains(&line), "line {i} missing in {seen:?}");
        }
        let first = seen
            .lines()
            .find(|line| line.contains("\"SELECT\""))
            .expect("the SELECT line");
        let stamp = first.trim_start_matches('+').split(' ').next().unwrap();
        let (seconds, micros) = stamp.split_once('.').expect("seconds.micros");
        assert_eq!(micros.len(), 6, "{first}");
        assert!((seconds.parse::<i64>().unwrap() - now_ms() / 1000).abs() <= 2);
        assert!(first.contains("\"SELECT\" \"3\""), "{first}");
        let list: String = query(&mut con, &["CLIENT", "LIST"]);
        assert!(
            list.lines()
                .any(|l| l.contains(" flags=O ") && l.contains(" cmd=monitor ")),
            "{list}"
        );
    });
}

#[test]
fn info_has_commandstats_latencystats_and_health() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    for key in numbered("i", 10) {
        let _: () = query(&mut con, &["SET", &key, "v"]);
    }
    let _ = error_of(&mut con, &["INCR", "i0"]);
    // Other shards publish every 10 ms.
    assert!(TestServer::eventually(Duration::from_secs(2), || {
        let info: String = query(&mut con, &["INFO", "commandstats"]);
        info.starts_with("# Commandstats\r\n")
            && info.contains("cmdstat_set:calls=10,usec=")
            && info.contains("cmdstat_incr:calls=1,")
            && info.contains(",rejected_calls=0,failed_calls=1\r\n")
    }));
    let info: String = query(&mut con, &["INFO", "latencystats"]);
    assert!(info.starts_with("# Latencystats\r\n"), "{info}");
    assert!(info.contains("latency_percentiles_usec_set:p50="), "{info}");
    let info: String = query(&mut con, &["INFO"]);
    assert!(!info.contains("# Commandstats"), "not a default section");
    assert!(
        info.contains(
            "\r\n\r\n# Errorstats\r\nerrorstat_ERR:count=1\r\n\r\n# Health\r\ndisk_healthy:1\r\n"
        ),
        "{info}"
    );
    let errors: String = query(&mut con, &["INFO", "errorstats"]);
    assert_eq!(errors, "# Errorstats\r\nerrorstat_ERR:count=1\r\n");
    assert!(info.contains("shards_stalled:0\r\n"), "{info}");
    let everything: String = query(&mut con, &["INFO", "everything"]);
    assert!(everything.contains("# Commandstats\r\n"));
    let _: () = query(&mut con, &["CONFIG", "RESETSTAT"]);
    assert!(TestServer::eventually(Duration::from_secs(2), || {
        let info: String = query(&mut con, &["INFO", "commandstats"]);
        !info.contains("cmdstat_set:")
    }));
    let errors: String = query(&mut con, &["INFO", "errorstats"]);
    assert_eq!(errors, "# Errorstats\r\n");
}

#[test]
fn a_command_split_over_shards_counts_once() {
    for_each_topology(|server| {
        let mut con = server.connection();
        let _: () = query(&mut con, &["CONFIG", "RESETSTAT"]);
        let keys = numbered("split", 8);
        let mut mset = vec!["MSET"];
        for key in &keys {
            mset.push(key);
            mset.push("v");
        }
        let _: () = query(&mut con, &mset);
        let _: Value = query(&mut con, &["SCAN", "0"]);
        let _: Value = query(&mut con, &["KEYS", "*"]);
        let _: i64 = query(&mut con, &["DBSIZE"]);
        let _: () = query(&mut con, &["RENAME", &keys[0], "renamed"]);
        let wanted = [
            "cmdstat_mset:calls=1,",
            "cmdstat_scan:calls=1,",
            "cmdstat_keys:calls=1,",
            "cmdstat_dbsize:calls=1,",
            "cmdstat_rename:calls=1,",
        ];
        let mut last = String::new();
        assert!(
            TestServer::eventually(Duration::from_secs(2), || {
                last = query(&mut con, &["INFO", "commandstats"]);
                wanted.iter().all(|w| last.contains(w))
            }),
            "{last}"
        );
    });
}

#[test]
fn client_list_names_subcommands_as_redis_7() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let list: String = query(&mut con, &["CLIENT", "LIST"]);
    assert!(list.contains(" cmd=client|list "), "{list}");
    let _: Value = query(&mut con, &["CONFIG", "GET", "maxclients"]);
    let info: String = query(&mut con, &["CLIENT", "INFO"]);
    assert!(info.contains(" cmd=client|info "), "{info}");
    let list: String = query(&mut con, &["CLIENT", "LIST"]);
    let mut other = server.connection();
    let _: Value = query(&mut other, &["SLOWLOG", "LEN"]);
    let list_after: String = query(&mut con, &["CLIENT", "LIST"]);
    assert!(
        list_after.contains(" cmd=slowlog|len "),
        "{list} / {list_after}"
    );
}

#[test]
fn slowlog_keeps_the_address_of_a_client_that_left() {
    let server = TestServer::start_with(2, &[("slowlog-log-slower-than", "150000")]);
    let mut gone = server.connection();
    let _: () = query(&mut gone, &["CLIENT", "SETNAME", "gone"]);
    let info: String = query(&mut gone, &["CLIENT", "INFO"]);
    let addr = info
        .split(' ')
        .find_map(|field| field.strip_prefix("addr="))
        .expect("addr field")
        .to_string();
    let _: () = query(&mut gone, &["DEBUG", "SLEEP", "0.2"]);
    drop(gone);
    let mut con = server.connection();
    let log: Value = query(&mut con, &["SLOWLOG", "GET", "1"]);
    let entry = items(&items(&log)[0]);
    assert_eq!(text(&entry[4]), addr);
    assert_eq!(text(&entry[5]), "gone");
}
