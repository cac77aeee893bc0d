//! `ServerHandle::shutdown` with clients connected: replies to what the server already read still
//! arrive whole, then the connection ends cleanly, every shard exits, and the port closes.

mod common;

use std::io::Write;
use std::thread;
use std::time::Duration;

use common::{reply_len, resp, temp_data_dir, ChildServer, TestServer};

/// Splits `bytes` into integer replies; panics on anything else, including a cut-off reply.
fn integer_replies(bytes: &[u8]) -> Vec<i64> {
    let mut values = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let len = reply_len(&bytes[at..]).unwrap_or_else(|| {
            panic!(
                "a reply cut off at the end: {:?}",
                String::from_utf8_lossy(&bytes[at..])
            )
        });
        let reply = &bytes[at..at + len];
        assert_eq!(reply[0], b':', "{:?}", String::from_utf8_lossy(reply));
        values.push(
            std::str::from_utf8(&reply[1..len - 2])
                .unwrap()
                .parse()
                .unwrap(),
        );
        at += len;
    }
    values
}

fn counter(server: &TestServer, key: &str) -> i64 {
    let mut con = server.connection();
    redis::cmd("GET")
        .arg(key)
        .query::<Option<i64>>(&mut con)
        .unwrap()
        .unwrap_or(0)
}

/// A client streams a long pipeline of INCRs (ending in half a command) while another watches
/// the counter; once it has moved, the server is shut down. The streaming client must get a
/// reply for at least every INCR executed by then, all whole and in order, then end of file.
fn shutdown_mid_pipeline(shards: usize, key: &str) {
    const INCRS: usize = 400_000;
    let server = TestServer::start(shards);
    let mut client = server.raw();
    client
        .stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = client.stream.try_clone().unwrap();
    let command = resp(&["INCR", key]);
    let write = thread::spawn(move || {
        for _ in 0..INCRS / 100 {
            let chunk: Vec<u8> = command
                .iter()
                .copied()
                .cycle()
                .take(command.len() * 100)
                .collect();
            if writer.write_all(&chunk).is_err() {
                return;
            }
            thread::sleep(Duration::from_micros(500));
        }
        // Half a command: the server never gets the rest.
        let _ = writer.write_all(b"*2\r\n$4\r\nINCR\r\n$3\r\nab");
        // Keep the socket open for writing; the server is the one to end the connection.
        thread::sleep(Duration::from_secs(20));
    });
    let read = thread::spawn(move || client.read_until_eof());

    assert!(
        TestServer::eventually(Duration::from_secs(20), || counter(&server, key) >= 2_000),
        "the pipeline never got going"
    );
    let executed_before = counter(&server, key);
    server.handle().shutdown();

    let received = read
        .join()
        .unwrap()
        .expect("the connection ends with end of file, not an error");
    let replies = integer_replies(&received);
    let expected: Vec<i64> = (1..=replies.len() as i64).collect();
    assert_eq!(replies, expected, "replies in order, none missing");
    assert!(
        replies.len() as i64 >= executed_before,
        "{} replies, but {executed_before} INCRs had run before shutdown",
        replies.len()
    );
    assert!(replies.len() <= INCRS);
    eprintln!(
        "{executed_before} INCRs had run at shutdown; {} replies arrived",
        replies.len()
    );
    let port = server.port;
    assert!(
        server.exits_within(Duration::from_secs(10)),
        "the server did not exit"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    drop(write);
}

/// A key that shard `shard` of two owns.
fn key_on_shard(shard: usize) -> String {
    let table = shardis::slot::SlotTable::new(2);
    (0..)
        .map(|n| format!("counter{n}"))
        .find(|key| table.shard_of_key(key.as_bytes()) == shard)
        .unwrap()
}

// Between the two, the INCRs run on the client's own core in one and travel in the other. Each
// runs a few times: where the stream gets cut depends on timing.
#[test]
fn shutdown_mid_pipeline_key_on_first_shard() {
    for _ in 0..4 {
        shutdown_mid_pipeline(2, &key_on_shard(0));
    }
}

#[test]
fn shutdown_mid_pipeline_key_on_second_shard() {
    for _ in 0..4 {
        shutdown_mid_pipeline(2, &key_on_shard(1));
    }
}

/// Idle clients on every shard, one with half a command, and one that has read nothing of a big
/// reply yet: all see their replies and then end of file, and the server exits.
#[test]
fn shutdown_closes_every_client() {
    let server = TestServer::start(4);
    let mut idle: Vec<_> = (0..12).map(|_| server.raw()).collect();
    for client in &mut idle {
        client.roundtrip(&resp(&["PING"]), b"+PONG\r\n");
    }
    let mut partial = server.raw();
    partial.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nab");
    let value = "v".repeat(1 << 20);
    let mut big = server.raw();
    big.roundtrip(&resp(&["SET", "big", &value]), b"+OK\r\n");
    big.send(&resp(&["CLIENT", "ID"]));
    let id_reply = big.read_reply().unwrap();
    let id = String::from_utf8_lossy(&id_reply[1..id_reply.len() - 2]).into_owned();
    // Eight 1 MiB replies in one pipeline, more than the socket buffers hold.
    let mut request = Vec::new();
    for _ in 0..8 {
        request.extend(resp(&["GET", "big"]));
    }
    big.send(&request);
    // Shut down only once the server has read and run the GETs.
    assert!(TestServer::eventually(Duration::from_secs(10), || {
        let mut con = server.connection();
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut con).unwrap();
        list.lines()
            .any(|l| l.starts_with(&format!("id={id} ")) && l.contains(" cmd=get "))
    }));
    let port = server.port;
    server.handle().shutdown();

    for client in &mut idle {
        assert_eq!(client.read_until_eof().expect("clean end of file"), b"");
    }
    assert_eq!(partial.read_until_eof().expect("clean end of file"), b"");
    let received = big.read_until_eof().expect("clean end of file");
    let one = format!("$1048576\r\n{value}\r\n");
    assert_eq!(received.len(), 8 * one.len(), "all eight replies, whole");
    assert!(received.chunks(one.len()).all(|r| r == one.as_bytes()));

    assert!(
        server.exits_within(Duration::from_secs(10)),
        "the server did not exit"
    );
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// Shutting down an idle server: `wait` returns promptly.
#[test]
fn shutdown_without_clients() {
    let server = TestServer::start(2);
    let port = server.port;
    server.handle().shutdown();
    assert!(server.exits_within(Duration::from_secs(10)));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}

/// A shard whose thread panics (a bug; DEBUG PANIC does it on purpose) takes the server down with
/// an error exit status instead of leaving it running without that shard's keys or hanging in
/// shutdown: the other shards stop accepting, cut their clients off and exit.
#[test]
fn a_shard_that_panics_stops_the_server_with_an_error() {
    let dir = temp_data_dir();
    let mut server = ChildServer::start(&dir, 2, &[("appendonly", "no")]);
    // Clients on both shards (connections spread over the shards as they are accepted).
    let mut others: Vec<redis::Connection> = (0..4)
        .map(|_| server.client().get_connection().expect("connect"))
        .collect();
    for con in &mut others {
        let pong: String = redis::cmd("PING").query(con).expect("PING");
        assert_eq!(pong, "PONG");
    }
    let mut panicking = std::net::TcpStream::connect(("127.0.0.1", server.port)).expect("connect");
    panicking
        .write_all(&resp(&["DEBUG", "PANIC"]))
        .expect("send DEBUG PANIC");
    let status = server
        .exit_status_within(Duration::from_secs(20))
        .expect("the server exits after a shard panicked");
    assert!(
        !status.success(),
        "exit status {status} should report the failure"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
