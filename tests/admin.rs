//! The admin HTTP port over a real socket: /health/live, /health/ready, /metrics, the stall
//! watchdog (DEBUG SLEEP on one shard) and the disk probe's failpoint.

mod common;

use std::time::{Duration, Instant};

use common::*;

/// The shard that owns a connection: client ids from core `i` are `i + 1 + k * shards`.
fn shard_of(con: &mut redis::Connection, shards: usize) -> usize {
    let id: u64 = query(con, &["CLIENT", "ID"]);
    ((id - 1) % shards as u64) as usize
}

/// One connection per shard (connections land on shards as the kernel spreads them).
fn connection_per_shard(server: &TestServer, shards: usize) -> Vec<redis::Connection> {
    let mut found: Vec<Option<redis::Connection>> = (0..shards).map(|_| None).collect();
    for _ in 0..500 {
        let mut con = server.connection();
        let shard = shard_of(&mut con, shards);
        if found[shard].is_none() {
            found[shard] = Some(con);
        }
        if found.iter().all(Option::is_some) {
            return found.into_iter().flatten().collect();
        }
    }
    panic!("could not get a connection on every shard");
}

fn wait_ready(server: &TestServer) {
    assert!(
        TestServer::eventually(Duration::from_secs(5), || server
            .admin_get("/health/ready")
            .0
            == 200),
        "never ready: {:?}",
        server.admin_get("/health/ready")
    );
}

/// The value of one sample line (`name{labels} value`) in a /metrics body.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|line| {
        line.strip_prefix(series)
            .and_then(|rest| rest.strip_prefix(' '))
            .and_then(|value| value.parse().ok())
    })
}

/// Runs `DEBUG SLEEP seconds` on `con` in a thread; returns when the reply came.
fn sleep_on(mut con: redis::Connection, seconds: f64) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        con.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        query(&mut con, &["DEBUG", "SLEEP", &seconds.to_string()])
    })
}

#[test]
fn live_ready_and_unknown_paths() {
    let server = TestServer::start_with_admin(2, &[]);
    assert_eq!(
        server.admin_get("/health/live"),
        (200, "{\"status\":\"ok\"}\n".to_string())
    );
    wait_ready(&server);
    assert_eq!(server.admin_get("/health/ready").1, "{\"status\":\"ok\"}\n");
    assert_eq!(server.admin_get("/nope").0, 404);
    let mut con = server.connection();
    let port: Vec<String> = query(&mut con, &["CONFIG", "GET", "admin-port"]);
    assert_eq!(port[1], server.admin_port.unwrap().to_string());
    let threshold: Vec<String> = query(&mut con, &["CONFIG", "GET", "shard-stall-threshold"]);
    assert_eq!(threshold, vec!["shard-stall-threshold", "100"]);
}

#[test]
fn ready_fails_within_the_threshold_while_one_shard_sleeps_and_names_it() {
    // The threshold leaves room for a busy 2-core test machine, where a shard thread that waits
    // 100+ ms for a CPU is seen (rightly) as stalled; the DEBUG SLEEP is far longer.
    let shards = 2;
    let threshold = Duration::from_millis(250);
    let server = TestServer::start_with_admin(shards, &[("shard-stall-threshold", "250")]);
    wait_ready(&server);
    let mut connections = connection_per_shard(&server, shards);
    let sleeper = connections.remove(1);
    let sleeping_shard = 1;

    let sent = Instant::now();
    let sleeping = sleep_on(sleeper, 0.8);
    let (code, body) = loop {
        let (code, body) = server.admin_get("/health/ready");
        if code == 503 {
            break (code, body);
        }
        assert!(
            sent.elapsed() < Duration::from_millis(750),
            "still {code} {body} {:?} after DEBUG SLEEP was sent",
            sent.elapsed()
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    let turned_after = sent.elapsed();
    assert_eq!(code, 503);
    // The threshold, plus this loop's polling and scheduling slack.
    assert!(
        turned_after < threshold + Duration::from_millis(150),
        "503 only after {turned_after:?}"
    );
    assert!(
        body.contains(&format!(
            "\"reason\":\"shard_stalled\",\"shard\":{sleeping_shard},"
        )),
        "{body}"
    );
    assert!(body.contains("\"command\":\"debug\""), "{body}");
    assert!(
        body.contains(&format!("shard {sleeping_shard} running DEBUG for ")),
        "{body}"
    );
    // The command is attributed to the sleeping shard only: the other keeps serving.
    assert_eq!(body.matches("\"command\":\"debug\"").count(), 1, "{body}");
    let mut other = connections.remove(0);
    assert_eq!(query::<String>(&mut other, &["PING"]), "PONG");

    assert_eq!(sleeping.join().expect("sleeper"), "OK");
    assert!(
        TestServer::eventually(Duration::from_secs(2), || server
            .admin_get("/health/ready")
            .0
            == 200),
        "not ready again after the sleep: {:?}",
        server.admin_get("/health/ready")
    );
    assert!(TestServer::eventually(Duration::from_secs(2), || {
        let metrics = server.admin_get("/metrics").1;
        sample(
            &metrics,
            &format!("shardis_shard_stalls_total{{shard=\"{sleeping_shard}\"}}"),
        ) == Some(1.0)
            && sample(&metrics, "shardis_shard_stalls_total{shard=\"0\"}") == Some(0.0)
    }));
}

#[test]
fn metrics_answer_in_under_10ms_while_every_shard_sleeps() {
    let shards = 2;
    let server = TestServer::start_with_admin(shards, &[]);
    wait_ready(&server);
    let sleepers: Vec<_> = connection_per_shard(&server, shards)
        .into_iter()
        .map(|con| sleep_on(con, 1.5))
        .collect();
    // Both shards are asleep once readiness names both.
    assert!(TestServer::eventually(Duration::from_secs(1), || {
        let body = server.admin_get("/health/ready").1;
        body.contains("\"shard\":0,") && body.contains("\"shard\":1,")
    }));
    let mut timings = Vec::new();
    for _ in 0..5 {
        let started = Instant::now();
        let (code, body) = server.admin_get("/metrics");
        timings.push(started.elapsed());
        assert_eq!(code, 200);
        assert!(
            body.contains("shardis_shard_stalled{shard=\"0\"} 1"),
            "{body}"
        );
        assert!(
            body.contains("shardis_shard_stalled{shard=\"1\"} 1"),
            "{body}"
        );
    }
    timings.sort();
    assert!(
        timings[2] < Duration::from_millis(10),
        "/metrics took {timings:?} while the shards slept"
    );
    for sleeper in sleepers {
        assert_eq!(sleeper.join().expect("sleeper"), "OK");
    }
}

#[test]
fn metrics_count_commands_per_shard() {
    let server = TestServer::start_with_admin(2, &[]);
    let mut con = server.connection();
    for key in numbered("m", 20) {
        let _: () = query(&mut con, &["SET", &key, "v"]);
    }
    let _: redis::Value = query(&mut con, &["GET", "m0"]);
    let _ = error_of(&mut con, &["INCR", "m1"]);
    assert!(
        TestServer::eventually(Duration::from_secs(2), || {
            let metrics = server.admin_get("/metrics").1;
            // The sum over every line of a family whose labels start as given.
            let total = |prefix: &str| {
                metrics
                    .lines()
                    .filter(|line| line.starts_with(prefix))
                    .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
                    .sum::<f64>()
            };
            total("shardis_commands_total{cmd=\"set\"") == 20.0
                && total("shardis_command_errors_total{cmd=\"incr\"") == 1.0
                && total("shardis_command_duration_seconds_count{cmd=\"set\"") == 20.0
                && total("shardis_keys{db=\"0\"") == 20.0
        }),
        "{}",
        server.admin_get("/metrics").1
    );
    let metrics = server.admin_get("/metrics").1;
    assert!(metrics.contains("# TYPE shardis_command_duration_seconds histogram\n"));
    assert!(metrics.contains("le=\"+Inf\"}"));
    assert!(metrics.contains("# TYPE shardis_connected_clients gauge\n"));
    assert!(metrics.contains("shardis_disk_healthy 1\n"));
}

#[test]
fn failing_and_slow_fsync_mark_the_disk_unhealthy_then_it_recovers() {
    // A real fsync on a busy test machine can take tens of milliseconds, and a busy machine can
    // delay a shard's tick: the thresholds leave room for both, so only the failpoint trips them.
    let server = TestServer::start_with_admin(
        1,
        &[
            ("disk-probe-interval", "10"),
            ("disk-latency-threshold", "300"),
            ("shard-stall-threshold", "5000"),
        ],
    );
    wait_ready(&server);
    let mut con = server.connection();
    let ready = || server.admin_get("/health/ready");
    let disk_reason = |needle: &str| {
        let (code, body) = ready();
        code == 503 && body.contains("\"reason\":\"disk_unhealthy\"") && body.contains(needle)
    };

    let _: () = query(&mut con, &["DEBUG", "DISK-FAILPOINT", "EIO"]);
    assert!(
        TestServer::eventually(Duration::from_secs(2), || disk_reason("Input/output error")),
        "{:?}",
        ready()
    );
    assert!(server
        .admin_get("/metrics")
        .1
        .contains("shardis_disk_healthy 0\n"));
    let info: String = query(&mut con, &["INFO", "health"]);
    assert!(info.contains("disk_healthy:0\r\n"), "{info}");

    let _: () = query(&mut con, &["DEBUG", "DISK-FAILPOINT", "OFF"]);
    assert!(
        TestServer::eventually(Duration::from_secs(5), || ready().0 == 200),
        "{:?}",
        ready()
    );
    let info: String = query(&mut con, &["INFO"]);
    assert!(info.contains("disk_healthy:1\r\n"), "{info}");

    // A probe stuck in a slow fsync is reported once it is past the threshold, before it ends.
    let _: () = query(&mut con, &["DEBUG", "DISK-FAILPOINT", "SLOW", "1500"]);
    assert!(
        TestServer::eventually(Duration::from_secs(2), || disk_reason(
            "still running after"
        )),
        "{:?}",
        ready()
    );
    assert!(ready().1.contains("(threshold 300 ms)"));
    let _: () = query(&mut con, &["DEBUG", "DISK-FAILPOINT", "OFF"]);
    assert!(
        TestServer::eventually(Duration::from_secs(5), || ready().0 == 200),
        "{:?}",
        ready()
    );
    assert!(error_of(&mut con, &["DEBUG", "DISK-FAILPOINT", "MAYBE"])
        .starts_with("ERR DEBUG DISK-FAILPOINT takes"));
}

#[test]
fn config_set_reaches_the_watchdog() {
    let server = TestServer::start_with_admin(1, &[]);
    wait_ready(&server);
    let mut con = server.connection();
    let _: () = query(
        &mut con,
        &["CONFIG", "SET", "shard-stall-threshold", "5000"],
    );
    let sleeping = sleep_on(server.connection(), 0.4);
    let started = Instant::now();
    while started.elapsed() < Duration::from_millis(300) {
        let (code, body) = server.admin_get("/health/ready");
        assert_eq!(code, 200, "{body}: a 0.4 s sleep is no stall at 5000 ms");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(sleeping.join().expect("sleeper"), "OK");
    assert_eq!(
        error_of(&mut con, &["CONFIG", "SET", "admin-port", "1"]),
        "ERR CONFIG SET failed (possibly related to argument 'admin-port') - can't set immutable config"
    );
}

#[test]
fn admin_port_zero_disables_the_listener() {
    let server = TestServer::start(1);
    assert_eq!(server.admin_port, None);
    let mut con = server.connection();
    let port: Vec<String> = query(&mut con, &["CONFIG", "GET", "admin-port"]);
    assert_eq!(port, vec!["admin-port", "0"]);
}
