//! A real shardis server for tests: in-process, on an ephemeral port, with its own temp data dir.
//! `start` returns once every shard listens, so tests need no sleeps.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use shardis::config::Config;
use shardis::server::{self, ServerHandle};

/// How long a server may take to start before the test fails.
const START_TIMEOUT: Duration = Duration::from_secs(20);

pub struct TestServer {
    pub port: u16,
    pub dir: PathBuf,
    handle: Option<ServerHandle>,
}

impl TestServer {
    /// A server with `threads` shards and otherwise default settings.
    pub fn start(threads: usize) -> TestServer {
        Self::start_with(threads, &[])
    }

    /// A server with `threads` shards and extra directives (`[("timeout", "1")]`).
    pub fn start_with(threads: usize, directives: &[(&str, &str)]) -> TestServer {
        let dir = std::env::temp_dir().join(format!(
            "shardis-test-{}-{}",
            std::process::id(),
            fastrand::u64(..)
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut config = Config::default();
        let mut apply = |name: &str, value: &str| {
            config
                .apply(name, &[value.to_string()], true)
                .unwrap_or_else(|e| panic!("{} {}: {}", name, value, e))
        };
        apply("port", "0");
        apply("threads", &threads.to_string());
        apply("cpu-affinity", "no");
        apply("dir", dir.to_str().expect("utf-8 temp dir"));
        for (name, value) in directives {
            apply(name, value);
        }
        // Started on a helper thread so that a start that never finishes fails the test instead of
        // hanging it (shards have been seen stuck joining the cross-core channel meshes).
        let (started, start_result) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = started.send(server::start(config));
        });
        let handle = start_result
            .recv_timeout(START_TIMEOUT)
            .unwrap_or_else(|_| {
                panic!("server with {threads} shards did not start within {START_TIMEOUT:?}")
            })
            .expect("server starts");
        TestServer {
            port: handle.port,
            dir,
            handle: Some(handle),
        }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("client")
    }

    /// A connection whose reads time out like [`TestServer::raw`]'s, so a reply that never comes
    /// fails the test instead of hanging it.
    pub fn connection(&self) -> redis::Connection {
        let con = self.client().get_connection().expect("connect");
        con.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        con
    }

    /// A raw socket for byte-exact exchanges.
    pub fn raw(&self) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        RawClient { stream }
    }

    /// Shuts the server down and waits for every shard to exit.
    pub fn stop(mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
            handle.wait();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(handle) = self.handle.take() {
            handle.shutdown();
            if std::thread::panicking() {
                // The test already failed, possibly because a shard died, and a dead shard never
                // reports that it drained: waiting would turn the failure into a hang.
                std::mem::forget(handle);
            } else {
                handle.wait();
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

pub struct RawClient {
    pub stream: TcpStream,
}

impl RawClient {
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads until exactly `expected.len()` bytes arrived and returns them.
    pub fn read_exact_len(&mut self, len: usize) -> Vec<u8> {
        let mut buf = vec![0u8; len];
        self.stream.read_exact(&mut buf).expect("read");
        buf
    }

    /// Sends `request` and asserts the reply is exactly `expected`.
    pub fn roundtrip(&mut self, request: &[u8], expected: &[u8]) {
        self.send(request);
        let got = self.read_exact_len(expected.len());
        assert_eq!(
            String::from_utf8_lossy(&got),
            String::from_utf8_lossy(expected),
            "reply to {:?}",
            String::from_utf8_lossy(request)
        );
    }

    /// Reads until the server closes; returns everything read.
    pub fn read_to_close(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let _ = self.stream.read_to_end(&mut out);
        out
    }
}

/// Encodes a command as a RESP multibulk.
pub fn resp(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n{}\r\n", arg.len(), arg).into_bytes());
    }
    out
}

// ---- Command helpers shared by the per-family test files ---------------------------------------

/// Shard counts the multi-key tests run against: one shard (everything local), two, and more
/// shards than the test machine has cores.
pub const TOPOLOGIES: [usize; 3] = [1, 2, 4];

/// Runs `f` against a fresh server of each size in [`TOPOLOGIES`].
pub fn for_each_topology(f: impl Fn(&TestServer)) {
    for threads in TOPOLOGIES {
        // Shown with the failure, so a broken assertion names its topology.
        eprintln!("--- topology: {threads} shard(s)");
        let server = TestServer::start(threads);
        f(&server);
    }
}

/// A `redis::Cmd` from its words: `command(&["SET", "k", "v"])`.
pub fn command(args: &[&str]) -> redis::Cmd {
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd
}

/// Runs a command that must succeed and converts its reply.
pub fn query<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&str]) -> T {
    command(args)
        .query(con)
        .unwrap_or_else(|error| panic!("{args:?} failed: {error}"))
}

/// Runs a command that must fail and returns the error line as Redis sent it, without the `-`:
/// `"ERR syntax error"`.
pub fn error_of(con: &mut redis::Connection, args: &[&str]) -> String {
    match command(args).query::<redis::Value>(con) {
        Ok(value) => panic!("{args:?} succeeded with {value:?}"),
        Err(error) => match (error.code(), error.detail()) {
            (Some(code), Some(detail)) => format!("{code} {detail}"),
            (Some(code), None) => code.to_string(),
            _ => panic!("{args:?}: not a server error: {error:?}"),
        },
    }
}

/// Redis's error for a wrong argument count (`command` in lower case, as Redis prints it).
pub fn arity(command: &str) -> String {
    format!("ERR wrong number of arguments for '{command}' command")
}

/// GET as text; `None` for nil.
pub fn get(con: &mut redis::Connection, key: &str) -> Option<String> {
    query(con, &["GET", key])
}

/// PTTL: -2 for a missing key, -1 without a deadline.
pub fn pttl(con: &mut redis::Connection, key: &str) -> i64 {
    query(con, &["PTTL", key])
}

/// The wall clock in ms since the Unix epoch, for EXPIREAT-style arguments.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as i64
}

/// `prefix0`, `prefix1`, ... : enough distinct keys to land on every shard.
pub fn numbered(prefix: &str, count: usize) -> Vec<String> {
    (0..count).map(|n| format!("{prefix}{n}")).collect()
}

/// Asserts that `key` has a positive PTTL now and is gone within two seconds (polling, no fixed
/// sleep); for keys given a short deadline.
pub fn assert_expires_soon(con: &mut redis::Connection, key: &str) {
    let pttl: i64 = query(con, &["PTTL", key]);
    assert!(pttl > 0, "PTTL {key} = {pttl}, expected a pending deadline");
    let deadline = Instant::now() + Duration::from_secs(2);
    while query::<Option<Vec<u8>>>(con, &["GET", key]).is_some() {
        assert!(Instant::now() < deadline, "{key} still exists 2 s later");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(query::<i64>(con, &["EXISTS", key]), 0);
    assert_eq!(query::<i64>(con, &["PTTL", key]), -2);
}
