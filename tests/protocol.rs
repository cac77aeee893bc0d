//! The wire protocol over real sockets, byte for byte: inline and multibulk requests, RESP3 after
//! `HELLO 3`, Redis 7's error texts, protocol errors (reply, then close), limits, huge and hostile
//! input, and long pipelines.

mod common;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use common::{resp, TestServer};

/// Asserts that `client` gets exactly `expected` and then end of file.
fn assert_reply_then_close(client: &mut common::RawClient, expected: &[u8]) {
    let got = client.read_to_close();
    assert_eq!(
        String::from_utf8_lossy(&got),
        String::from_utf8_lossy(expected),
        "reply before the server closes"
    );
}

/// A fresh connection still gets PONG: the server survived whatever came before.
fn assert_server_healthy(server: &TestServer) {
    server
        .raw()
        .roundtrip(b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
}

fn connected_clients(server: &TestServer) -> u64 {
    let info: String = redis::cmd("INFO")
        .arg("clients")
        .query(&mut server.connection())
        .expect("INFO");
    info.lines()
        .find_map(|line| line.strip_prefix("connected_clients:"))
        .and_then(|n| n.trim().parse().ok())
        .expect("connected_clients")
}

#[test]
fn inline_commands() {
    let server = TestServer::start(2);
    let mut client = server.raw();
    client.roundtrip(b"PING\r\n", b"+PONG\r\n");
    client.roundtrip(b"PING\n", b"+PONG\r\n");
    client.roundtrip(b"ping hello\r\n", b"$5\r\nhello\r\n");
    client.roundtrip(b"SET a \"b c\"\r\n", b"+OK\r\n");
    client.roundtrip(b"GET a\r\n", b"$3\r\nb c\r\n");
    client.roundtrip(&resp(&["GET", "a"]), b"$3\r\nb c\r\n");
    // Single quotes take only \' as an escape; double quotes take \n, \t, \xHH and friends.
    client.roundtrip(b"SET 'k 2' 'it\\'s \\n'\r\n", b"+OK\r\n");
    client.roundtrip(&resp(&["GET", "k 2"]), b"$7\r\nit's \\n\r\n");
    client.roundtrip(b"ECHO \"\\x41\\tb\\n\"\r\n", b"$4\r\nA\tb\n\r\n");
    client.roundtrip(b"ECHO \"\"\r\n", b"$0\r\n\r\n");
    // Blanks around and between words, and empty lines, are skipped.
    client.roundtrip(b"  \t ECHO    x   \r\n", b"$1\r\nx\r\n");
    client.roundtrip(b"\r\n\n\r\nPING\r\n", b"+PONG\r\n");
    // Inline and multibulk mixed in one write; replies in order.
    client.roundtrip(
        b"PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO yo\nGET a\r\n",
        b"+PONG\r\n$2\r\nhi\r\n$2\r\nyo\r\n$3\r\nb c\r\n",
    );
    // Inline commands reach keys on every shard.
    for i in 0..20 {
        client.roundtrip(format!("SET inline:{i} {i}\r\n").as_bytes(), b"+OK\r\n");
    }
    for i in 0..20 {
        let expected = format!("${}\r\n{i}\r\n", i.to_string().len());
        client.roundtrip(
            format!("GET inline:{i}\r\n").as_bytes(),
            expected.as_bytes(),
        );
    }
}

#[test]
fn resp3_after_hello_3() {
    let server = TestServer::start(2);
    let mut client = server.raw();
    client.send(&resp(&["CLIENT", "ID"]));
    let id_reply = client.read_reply().expect("CLIENT ID");
    let id = String::from_utf8(id_reply[1..id_reply.len() - 2].to_vec()).unwrap();

    let hello = |proto: u8| {
        format!(
            "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n\
             $5\r\nproto\r\n:{proto}\r\n$2\r\nid\r\n:{id}\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n\
             $4\r\nrole\r\n$6\r\nmaster\r\n$7\r\nmodules\r\n*0\r\n"
        )
    };
    // In RESP2 the same map is a flat array of 14.
    let hello2 = hello(2).replacen("%7\r\n", "*14\r\n", 1).into_bytes();
    client.roundtrip(&resp(&["HELLO"]), &hello2);
    client.roundtrip(&resp(&["GET", "missing"]), b"$-1\r\n");

    client.roundtrip(&resp(&["HELLO", "3"]), hello(3).as_bytes());
    // Nulls are `_`, maps are `%`, INFO is a verbatim string.
    client.roundtrip(&resp(&["GET", "missing"]), b"_\r\n");
    client.roundtrip(&resp(&["MGET", "missing", "x"]), b"*2\r\n_\r\n_\r\n");
    client.roundtrip(
        &resp(&["CONFIG", "GET", "maxclients"]),
        b"%1\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
    );
    client.roundtrip(&resp(&["CONFIG", "GET", "nosuchdirective"]), b"%0\r\n");
    client.roundtrip(&resp(&["SET", "k", "v"]), b"+OK\r\n");
    client.roundtrip(&resp(&["GET", "k"]), b"$1\r\nv\r\n");
    client.roundtrip(&resp(&["INCR", "n"]), b":1\r\n");
    client.roundtrip(
        &resp(&["INFO", "cluster"]),
        b"=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n",
    );
    // HELLO without a version keeps RESP3 and says so.
    client.roundtrip(&resp(&["HELLO"]), hello(3).as_bytes());
    // HELLO 3 with SETNAME names the connection.
    client.roundtrip(
        &resp(&["HELLO", "3", "SETNAME", "resp3-client"]),
        hello(3).as_bytes(),
    );
    client.roundtrip(&resp(&["CLIENT", "GETNAME"]), b"$12\r\nresp3-client\r\n");

    // Back to RESP2.
    client.roundtrip(&resp(&["HELLO", "2"]), &hello2);
    client.roundtrip(&resp(&["GET", "missing"]), b"$-1\r\n");
    client.roundtrip(
        &resp(&["CONFIG", "GET", "maxclients"]),
        b"*2\r\n$10\r\nmaxclients\r\n$5\r\n10000\r\n",
    );
}

#[test]
fn hello_errors() {
    let server = TestServer::start(2);
    let mut client = server.raw();
    for version in ["4", "1", "0", "-3", "300"] {
        client.roundtrip(
            &resp(&["HELLO", version]),
            b"-NOPROTO unsupported protocol version\r\n",
        );
    }
    for version in ["abc", "3.0", ""] {
        client.roundtrip(
            &resp(&["HELLO", version]),
            b"-ERR Protocol version is not an integer or out of range\r\n",
        );
    }
    client.roundtrip(
        &resp(&["HELLO", "3", "FOO"]),
        b"-ERR Syntax error in HELLO option 'FOO'\r\n",
    );
    client.roundtrip(
        &resp(&["HELLO", "3", "AUTH", "default"]),
        b"-ERR Syntax error in HELLO option 'AUTH'\r\n",
    );
    client.roundtrip(
        &resp(&["HELLO", "3", "SETNAME", "bad name"]),
        b"-ERR Client names cannot contain spaces, newlines or special characters.\r\n",
    );
    // None of the failed HELLOs switched the protocol.
    client.roundtrip(&resp(&["GET", "missing"]), b"$-1\r\n");
}

#[test]
fn unknown_command_and_arity_errors() {
    let server = TestServer::start(2);
    let mut client = server.raw();
    client.roundtrip(
        &resp(&["FOO", "a", "b"]),
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n",
    );
    client.roundtrip(
        &resp(&["foo"]),
        b"-ERR unknown command 'foo', with args beginning with: \r\n",
    );
    client.roundtrip(
        b"FOO a b\r\n",
        b"-ERR unknown command 'FOO', with args beginning with: 'a' 'b' \r\n",
    );
    // Redis quotes arguments only until 128 bytes of them are shown: each one is cut to what is
    // left of that budget, and none is started once it is spent.
    let long_a = "a".repeat(100);
    let long_b = "b".repeat(100);
    let expected = format!(
        "-ERR unknown command 'FOO', with args beginning with: '{}' '{}' \r\n",
        long_a,
        "b".repeat(25)
    );
    client.roundtrip(&resp(&["FOO", &long_a, &long_b, "c"]), expected.as_bytes());
    let expected = format!(
        "-ERR unknown command '{}', with args beginning with: \r\n",
        "n".repeat(128)
    );
    client.roundtrip(&resp(&[&"n".repeat(200)]), expected.as_bytes());
    // CR and LF from the client become spaces, so the error stays one line.
    client.roundtrip(
        &resp(&["FOO\r\nBA", "a\nb"]),
        b"-ERR unknown command 'FOO  BA', with args beginning with: 'a b' \r\n",
    );

    client.roundtrip(
        &resp(&["GET"]),
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    client.roundtrip(
        &resp(&["get", "a", "b"]),
        b"-ERR wrong number of arguments for 'get' command\r\n",
    );
    client.roundtrip(
        &resp(&["MSET", "a", "1", "b"]),
        b"-ERR wrong number of arguments for 'mset' command\r\n",
    );
    client.roundtrip(
        &resp(&["ECHO"]),
        b"-ERR wrong number of arguments for 'echo' command\r\n",
    );
    client.roundtrip(
        b"SET k\r\n",
        b"-ERR wrong number of arguments for 'set' command\r\n",
    );
    // Errors end nothing: the connection carries on.
    client.roundtrip(&resp(&["PING"]), b"+PONG\r\n");
}

#[test]
fn protocol_errors_reply_then_close() {
    let server = TestServer::start(2);
    let cases: &[(&[u8], &[u8])] = &[
        (
            b"*1\r\n$x\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*2\r\n$3\r\nGET\r\n$-1\r\n",
            b"-ERR Protocol error: invalid bulk length\r\n",
        ),
        (
            b"*x\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*2147483648\r\n",
            b"-ERR Protocol error: invalid multibulk length\r\n",
        ),
        (
            b"*1\r\nxyz\r\n",
            b"-ERR Protocol error: expected '$', got 'x'\r\n",
        ),
        (
            b"SET a \"b\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        (
            b"SET a 'b'c\r\n",
            b"-ERR Protocol error: unbalanced quotes in request\r\n",
        ),
        // Commands before the bad one in the same read are answered first.
        (
            b"PING\r\n*1\r\n$4\r\nPING\r\n*1\r\n:1\r\n",
            b"+PONG\r\n+PONG\r\n-ERR Protocol error: expected '$', got ':'\r\n",
        ),
    ];
    for (request, expected) in cases {
        let mut client = server.raw();
        client.send(request);
        assert_reply_then_close(&mut client, expected);
    }
    assert_server_healthy(&server);
}

#[test]
fn too_big_inline_request() {
    let server = TestServer::start(2);
    let mut client = server.raw();
    // 65 KiB on one line and no newline.
    client.send(&vec![b'a'; 65 * 1024]);
    assert_reply_then_close(
        &mut client,
        b"-ERR Protocol error: too big inline request\r\n",
    );
    // Just under the limit is a (very long, unknown) command.
    let mut client = server.raw();
    let mut line = vec![b'x'; 60 * 1024];
    line.extend_from_slice(b"\r\n");
    client.send(&line);
    let expected = format!(
        "-ERR unknown command '{}', with args beginning with: \r\n",
        "x".repeat(128)
    );
    client.roundtrip(b"", expected.as_bytes());
    assert_server_healthy(&server);
}

#[test]
fn bulk_longer_than_proto_max_bulk_len() {
    let server = TestServer::start_with(2, &[("proto-max-bulk-len", "1mb")]);
    let mut client = server.raw();
    client.send(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2000000\r\n");
    assert_reply_then_close(&mut client, b"-ERR Protocol error: invalid bulk length\r\n");
    // Exactly the limit is fine.
    let mut client = server.raw();
    let value = "v".repeat(1024 * 1024);
    client.roundtrip(&resp(&["SET", "k", &value]), b"+OK\r\n");
    client.roundtrip(&resp(&["STRLEN", "k"]), b":1048576\r\n");
    let mut over = b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n".to_vec();
    over.extend_from_slice(value.as_bytes());
    client.send(&over);
    assert_reply_then_close(&mut client, b"-ERR Protocol error: invalid bulk length\r\n");
    assert_server_healthy(&server);
}

/// A million-argument DEL arriving slowly: other clients are served meanwhile, and the answer
/// counts exactly the keys that existed.
#[test]
fn million_argument_multibulk() {
    const KEYS: usize = 1_000_000;
    let server = TestServer::start(2);
    let mut setup = server.raw();
    for key in ["key:0", "key:500000", "key:999999"] {
        setup.roundtrip(&resp(&["SET", key, "x"]), b"+OK\r\n");
    }
    let mut request = format!("*{}\r\n$3\r\nDEL\r\n", KEYS + 1).into_bytes();
    for i in 0..KEYS {
        let key = format!("key:{i}");
        request.extend_from_slice(format!("${}\r\n{key}\r\n", key.len()).as_bytes());
    }

    let mut big = server.raw();
    big.stream
        .set_read_timeout(Some(Duration::from_secs(120)))
        .unwrap();
    // Several other clients, so some are served by each shard.
    let mut others: Vec<_> = (0..6).map(|_| server.raw()).collect();
    let chunks: Vec<&[u8]> = request.chunks(request.len() / 4 + 1).collect();
    for (n, chunk) in chunks.iter().enumerate() {
        big.stream.write_all(chunk).expect("write");
        if n + 1 < chunks.len() {
            for other in &mut others {
                let started = Instant::now();
                other.roundtrip(b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
                assert!(
                    started.elapsed() < Duration::from_secs(2),
                    "a PING took {:?} while a huge request was arriving",
                    started.elapsed()
                );
            }
        }
    }
    big.roundtrip(b"", b":3\r\n");
    big.roundtrip(&resp(&["EXISTS", "key:0", "key:999999"]), b":0\r\n");
    big.roundtrip(&resp(&["DBSIZE"]), b":0\r\n");
    for other in &mut others {
        other.roundtrip(b"*1\r\n$4\r\nPING\r\n", b"+PONG\r\n");
    }
}

/// Pieces of the grammar, harmless commands among them, for structured garbage.
const PIECES: &[&[u8]] = &[
    b"*",
    b"$",
    b"\r\n",
    b"\r",
    b"\n",
    b"0",
    b"1",
    b"2",
    b"3",
    b"-1",
    b"10",
    b"2147483648",
    b"\0",
    b" ",
    b"\t",
    b"\"",
    b"'",
    b"\\",
    b"\\x4",
    b"PING",
    b"GET",
    b"SET",
    b"ECHO",
    b"a",
    b"\xff",
    b"*2\r\n",
    b"$3\r\n",
    b"foo",
    b"$20\r\n",
    b"*0\r\n",
    b"*1\r\n$4\r\nPING\r\n",
];

#[test]
fn binary_garbage_never_crashes_the_server() {
    let server = TestServer::start(2);
    let mut random = fastrand::Rng::with_seed(0x5eed_1234);
    for round in 0..300 {
        let mut garbage = Vec::new();
        match round % 3 {
            0 => garbage.extend((0..random.usize(1..4096)).map(|_| random.u8(..))),
            1 => {
                for _ in 0..random.usize(1..200) {
                    garbage.extend_from_slice(PIECES[random.usize(..PIECES.len())]);
                }
            }
            _ => {
                // Well-formed requests with a few bytes changed.
                for _ in 0..random.usize(1..5) {
                    garbage.extend_from_slice(&resp(&["SET", "g", "value"]));
                    garbage.extend_from_slice(&resp(&["GET", "g"]));
                }
                for _ in 0..random.usize(1..4) {
                    let at = random.usize(..garbage.len());
                    garbage[at] = random.u8(..);
                }
            }
        }
        let mut client = server.raw();
        // The server may answer, close, or wait for more: all fine, as long as it lives.
        let _ = client.stream.write_all(&garbage);
        if round % 10 == 0 {
            let _ = client.stream.shutdown(std::net::Shutdown::Write);
            client
                .stream
                .set_read_timeout(Some(Duration::from_secs(5)))
                .unwrap();
            let _ = client.read_to_close();
        }
    }
    assert_server_healthy(&server);
    let mut client = server.raw();
    client.roundtrip(&resp(&["SET", "after", "ok"]), b"+OK\r\n");
    client.roundtrip(&resp(&["GET", "after"]), b"$2\r\nok\r\n");
    assert!(
        TestServer::eventually(Duration::from_secs(10), || connected_clients(&server) == 2),
        "garbage connections were not all cleaned up: {} clients",
        connected_clients(&server)
    );
}

#[test]
fn client_disconnecting_mid_command_leaves_the_server_healthy() {
    let server = TestServer::start(2);
    let partials: &[&[u8]] = &[
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc",
        b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10",
        b"*3\r\n$3\r\nSET\r\n",
        b"*3\r",
        b"SET k \"abc",
        b"*1000000\r\n$3\r\nDEL\r\n$1\r\na\r\n",
    ];
    for partial in partials {
        let mut client = server.raw();
        client.send(partial);
        drop(client);
    }
    // A pipeline of cross-shard commands sent and abandoned before any reply is read.
    let mut abandoned = server.raw();
    let mut pipeline = Vec::new();
    for i in 0..200 {
        let v = i.to_string();
        pipeline.extend(resp(&["MSET", "p:a", &v, "p:b", &v, "p:c", &v, "p:d", &v]));
        pipeline.extend(resp(&["MGET", "p:a", "p:b", "p:c", "p:d"]));
    }
    abandoned.send(&pipeline);
    abandoned.send(b"*3\r\n$4\r\nMSET\r\n$3\r\np:a");
    drop(abandoned);

    assert_server_healthy(&server);
    let mut client = server.raw();
    client.roundtrip(&resp(&["EXISTS", "k"]), b":0\r\n");
    // Every MSET the server read ran whole: the four keys agree.
    client.send(&resp(&["MGET", "p:a", "p:b", "p:c", "p:d"]));
    let reply = client.read_reply().expect("MGET");
    let values = common::bulk_array(&reply);
    assert!(
        values.windows(2).all(|w| w[0] == w[1]),
        "MSET seen in part: {:?}",
        String::from_utf8_lossy(&reply)
    );
    assert!(
        TestServer::eventually(Duration::from_secs(10), || connected_clients(&server) == 2),
        "dropped clients were not cleaned up: {} clients:\n{}",
        connected_clients(&server),
        redis::cmd("CLIENT")
            .arg("LIST")
            .query::<String>(&mut server.connection())
            .unwrap_or_default()
    );
}

/// A model-checked pipeline of 1,000 commands written at once: 1,000 replies, in order.
#[test]
fn pipeline_of_a_thousand_commands_in_one_write() {
    let server = TestServer::start(2);
    let mut client = server.raw();
    let mut request = Vec::new();
    let mut expected = Vec::new();
    let mut counters = [0i64; 13];
    for i in 0..1000usize {
        match i % 4 {
            0 => {
                let key = format!("pipe:{}", i % 13);
                counters[i % 13] += 1;
                request.extend(resp(&["INCR", &key]));
                expected.extend(format!(":{}\r\n", counters[i % 13]).into_bytes());
            }
            1 => {
                let key = format!("pipe:{}", i % 13);
                let value = counters[i % 13].to_string();
                request.extend(resp(&["GET", &key]));
                if counters[i % 13] == 0 {
                    expected.extend_from_slice(b"$-1\r\n");
                } else {
                    expected.extend(format!("${}\r\n{value}\r\n", value.len()).into_bytes());
                }
            }
            2 => {
                let text = format!("echo-{i}");
                request.extend(resp(&["ECHO", &text]));
                expected.extend(format!("${}\r\n{text}\r\n", text.len()).into_bytes());
            }
            _ => {
                request.extend(resp(&["PING"]));
                expected.extend_from_slice(b"+PONG\r\n");
            }
        }
    }
    client.roundtrip(&request, &expected);
    // And again, split at an awkward place.
    let (head, tail) = request.split_at(request.len() / 2 + 3);
    client.send(head);
    client.send(tail);
    let mut replies = 0;
    while replies < 1000 {
        client.read_reply().expect("reply");
        replies += 1;
    }
    client.roundtrip(&resp(&["PING"]), b"+PONG\r\n");
}

/// A client that sends part of a command and closes at once: the data and the FIN often reach the
/// server in one readiness event, and the server must still see the end of file and drop the
/// connection (an edge-triggered reader that stops at the short read would wait forever).
#[test]
fn data_followed_at_once_by_close_ends_the_connection() {
    let server = TestServer::start(2);
    for _ in 0..50 {
        let mut client = server.raw();
        client.send(b"*2\r\n$3\r\nGET\r\n$1\r\n");
        client
            .stream
            .shutdown(std::net::Shutdown::Write)
            .expect("shutdown");
        client
            .stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("timeout");
        let mut rest = Vec::new();
        let ended = client.stream.read_to_end(&mut rest);
        assert!(
            ended.is_ok(),
            "server did not close the half-closed connection: {:?}",
            ended
        );
    }
    assert!(
        TestServer::eventually(Duration::from_secs(5), || connected_clients(&server) == 1),
        "half-closed clients were not cleaned up: {} clients",
        connected_clients(&server)
    );
}

/// With `requirepass`, a client runs nothing but AUTH, HELLO, QUIT and RESET until it has
/// authenticated (Redis's NOAUTH); RESET takes the authentication back; CONFIG SET requirepass ""
/// opens the server to every client; the `redis` crate's password in the URL works.
#[test]
fn requirepass_refuses_commands_until_auth() {
    let server = TestServer::start_with(2, &[("requirepass", "s3cret")]);
    let mut client = server.raw();
    let noauth = b"-NOAUTH Authentication required.\r\n";
    client.roundtrip(&resp(&["GET", "k"]), noauth);
    client.roundtrip(&resp(&["PING"]), noauth);
    client.roundtrip(&resp(&["MULTI"]), noauth);
    client.roundtrip(&resp(&["SUBSCRIBE", "c"]), noauth);
    // Unknown commands and bad arity are reported first, as Redis does.
    client.roundtrip(
        &resp(&["NOSUCH"]),
        b"-ERR unknown command 'NOSUCH', with args beginning with: \r\n",
    );
    client.roundtrip(
        &resp(&["HELLO", "3"]),
        b"-NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time\r\n",
    );
    client.roundtrip(
        &resp(&["AUTH", "wrong"]),
        b"-WRONGPASS invalid username-password pair or user is disabled.\r\n",
    );
    client.roundtrip(&resp(&["GET", "k"]), noauth);
    client.roundtrip(&resp(&["AUTH", "s3cret"]), b"+OK\r\n");
    client.roundtrip(&resp(&["SET", "k", "v"]), b"+OK\r\n");
    client.roundtrip(&resp(&["GET", "k"]), b"$1\r\nv\r\n");
    client.roundtrip(&resp(&["RESET"]), b"+RESET\r\n");
    client.roundtrip(&resp(&["GET", "k"]), noauth);
    client.roundtrip(&resp(&["AUTH", "default", "s3cret"]), b"+OK\r\n");
    client.roundtrip(&resp(&["GET", "k"]), b"$1\r\nv\r\n");

    // HELLO ... AUTH authenticates a fresh connection.
    let mut hello = server.raw();
    hello.send(&resp(&["HELLO", "2", "AUTH", "default", "s3cret"]));
    assert!(hello.read_reply().is_some());
    hello.roundtrip(&resp(&["GET", "k"]), b"$1\r\nv\r\n");

    // The redis crate with the password in its URL.
    let url = format!("redis://:s3cret@127.0.0.1:{}/", server.port);
    let mut con = redis::Client::open(url)
        .expect("client")
        .get_connection()
        .expect("authenticated connection");
    let value: String = redis::cmd("GET").arg("k").query(&mut con).expect("get");
    assert_eq!(value, "v");

    // Emptying requirepass opens the server to clients that never authenticated.
    let mut fresh = server.raw();
    fresh.roundtrip(&resp(&["GET", "k"]), noauth);
    client.roundtrip(&resp(&["CONFIG", "SET", "requirepass", ""]), b"+OK\r\n");
    fresh.roundtrip(&resp(&["GET", "k"]), b"$1\r\nv\r\n");
}
