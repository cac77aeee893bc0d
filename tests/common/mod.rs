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
    /// The memcached port, 0 unless started with [`TestServer::start_memcached`].
    pub memcached_port: u16,
    /// The admin HTTP port, when the test asked for one (see [`TestServer::start_with_admin`]).
    pub admin_port: Option<u16>,
    pub dir: PathBuf,
    handle: Option<ServerHandle>,
    /// Whether dropping the server deletes `dir` (not for a dir a test reuses across restarts).
    owns_dir: bool,
}

impl TestServer {
    /// A server with `threads` shards and otherwise default settings.
    pub fn start(threads: usize) -> TestServer {
        Self::start_with(threads, &[])
    }

    /// A server with `threads` shards and extra directives (`[("timeout", "1")]`).
    pub fn start_with(threads: usize, directives: &[(&str, &str)]) -> TestServer {
        let mut server = Self::start_in(&temp_data_dir(), threads, directives);
        server.owns_dir = true;
        server
    }

    /// A server on an existing data directory (a restart); the directory outlives the server.
    pub fn start_in(
        dir: &std::path::Path,
        threads: usize,
        directives: &[(&str, &str)],
    ) -> TestServer {
        Self::try_start_in(dir, threads, directives).expect("server starts")
    }

    /// Like [`TestServer::start_in`], returning the start-up error (a refused recovery).
    pub fn try_start_in(
        dir: &std::path::Path,
        threads: usize,
        directives: &[(&str, &str)],
    ) -> Result<TestServer, server::ServerError> {
        let dir = dir.to_path_buf();
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut config = Config::default();
        let mut apply = |name: &str, value: &str| {
            config
                .apply(name, &[value.to_string()], true)
                .unwrap_or_else(|e| panic!("{} {}: {}", name, value, e))
        };
        apply("port", "0");
        // Off unless asked for: parallel tests cannot all listen on 11211.
        apply("memcached-port", "0");
        apply("threads", &threads.to_string());
        apply("cpu-affinity", "no");
        apply("dir", dir.to_str().expect("utf-8 temp dir"));
        // No admin listener unless a test asks for one: parallel servers would all want 9379.
        apply("admin-port", "0");
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
            })?;
        Ok(TestServer {
            port: handle.port,
            memcached_port: 0,
            admin_port: handle.admin_port,
            dir,
            handle: Some(handle),
            owns_dir: false,
        })
    }

    /// A server that also speaks memcached, on a port found free just before; tried again on
    /// another port if a parallel test took that one first.
    pub fn start_memcached(threads: usize) -> TestServer {
        Self::start_memcached_with(threads, &[])
    }

    pub fn start_memcached_with(threads: usize, directives: &[(&str, &str)]) -> TestServer {
        let mut attempts = 0;
        loop {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|listener| listener.local_addr())
                .expect("free port")
                .port()
                .to_string();
            let mut all = vec![("memcached-port", port.as_str())];
            all.extend_from_slice(directives);
            let started = std::panic::catch_unwind(|| TestServer::start_with(threads, &all));
            match started {
                Ok(mut server) => {
                    server.memcached_port = port.parse().expect("port");
                    return server;
                }
                Err(panic) if attempts >= 5 => std::panic::resume_unwind(panic),
                Err(_) => attempts += 1,
            }
        }
    }

    /// A raw socket to the memcached port.
    pub fn memcached_raw(&self) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", self.memcached_port)).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        RawClient {
            stream,
            buffered: Vec::new(),
        }
    }

    /// A server with an admin HTTP listener on a free port. `admin-port 0` means "no listener",
    /// so the port is picked here: a free one found by binding port 0, retried if another
    /// process takes it before the server binds it.
    pub fn start_with_admin(threads: usize, directives: &[(&str, &str)]) -> TestServer {
        for _ in 0..20 {
            let port = std::net::TcpListener::bind("127.0.0.1:0")
                .and_then(|l| l.local_addr())
                .expect("free port")
                .port()
                .to_string();
            let mut all: Vec<(&str, &str)> = directives.to_vec();
            all.push(("admin-port", &port));
            let attempt = std::panic::catch_unwind(|| Self::start_with(threads, &all));
            if let Ok(server) = attempt {
                return server;
            }
        }
        panic!("no free admin port found in 20 tries");
    }

    /// `GET path` on the admin port: (status code, body), with a 5 s timeout.
    pub fn admin_get(&self, path: &str) -> (u16, String) {
        let port = self.admin_port.expect("server started with an admin port");
        http_get(port, path)
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
        RawClient {
            stream,
            buffered: Vec::new(),
        }
    }

    /// The server's handle, for shutting it down from the test.
    pub fn handle(&self) -> &ServerHandle {
        self.handle.as_ref().expect("server running")
    }

    /// Waits for the server to exit on its own (SHUTDOWN, `handle().shutdown()`), without asking
    /// it to; false if it has not exited within `limit`.
    pub fn exits_within(mut self, limit: Duration) -> bool {
        let Some(handle) = self.handle.take() else {
            return true;
        };
        let (done_tx, done_rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            handle.wait();
            let _ = done_tx.send(());
        });
        done_rx.recv_timeout(limit).is_ok()
    }

    /// Polls `condition` every few milliseconds until it holds; false if it never did in `limit`.
    /// For state that changes asynchronously inside the server (a dropped client going away).
    pub fn eventually(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + limit;
        loop {
            if condition() {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
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
        if self.owns_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

/// A fresh, empty directory under the system temp dir, for one test's data.
pub fn temp_data_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "shardis-test-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

/// The shardis binary run as a child process, for tests that must kill it (kill -9): it cannot
/// report an ephemeral port, so a free one is found by binding port 0 first; readiness is a
/// successful connection.
pub struct ChildServer {
    pub port: u16,
    pub dir: PathBuf,
    child: std::process::Child,
}

impl ChildServer {
    pub fn start(
        dir: &std::path::Path,
        threads: usize,
        directives: &[(&str, &str)],
    ) -> ChildServer {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_shardis"));
        command.args([
            "--port",
            &port.to_string(),
            "--threads",
            &threads.to_string(),
        ]);
        command.args([
            "--cpu-affinity",
            "no",
            "--dir",
            dir.to_str().expect("utf-8 dir"),
        ]);
        command.args(["--loglevel", "warning"]);
        // Parallel tests cannot all listen on 11211 and 9379; a test that wants them says so.
        command.args(["--memcached-port", "0", "--admin-port", "0"]);
        for (name, value) in directives {
            command.arg(format!("--{name}")).arg(value);
        }
        let mut child = command.spawn().expect("run shardis");
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("shardis exited during start-up: {status}");
            }
            assert!(Instant::now() < deadline, "shardis did not start listening");
            std::thread::sleep(Duration::from_millis(10));
        }
        ChildServer {
            port,
            dir: dir.to_path_buf(),
            child,
        }
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port)).expect("client")
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL, and wait for the process to be gone.
    pub fn kill9(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Waits up to `limit` for the process to exit by itself; its exit status, if it did.
    pub fn exit_status_within(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SHUTDOWN-like stop (SIGTERM) and wait.
    pub fn stop(mut self) {
        // SAFETY: signalling our own child process by its pid.
        unsafe {
            libc::kill(self.child.id() as i32, libc::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

impl Drop for ChildServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.1 GET over a std socket: (status code, body).
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect admin port");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("write request");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("read response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {response:?}"));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| panic!("no status code in {head:?}"));
    (code, body.to_string())
}

pub struct RawClient {
    pub stream: TcpStream,
    /// Bytes read from the socket but not yet handed out.
    buffered: Vec<u8>,
}

impl RawClient {
    pub fn send(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    /// Reads until exactly `len` bytes arrived and returns them.
    pub fn read_exact_len(&mut self, len: usize) -> Vec<u8> {
        while self.buffered.len() < len {
            self.fill().expect("read");
        }
        self.buffered.drain(..len).collect()
    }

    /// One more read from the socket into the buffer; an `UnexpectedEof` error at end of stream.
    fn fill(&mut self) -> std::io::Result<usize> {
        let mut chunk = [0u8; 64 * 1024];
        let n = self.stream.read(&mut chunk)?;
        if n == 0 {
            return Err(std::io::Error::new(
                std::io::ErrorKind::UnexpectedEof,
                "server closed",
            ));
        }
        self.buffered.extend_from_slice(&chunk[..n]);
        Ok(n)
    }

    /// Reads one complete RESP2/RESP3 reply and returns its exact bytes; `None` if the server
    /// closed (or the read failed) before a whole reply arrived.
    pub fn read_reply(&mut self) -> Option<Vec<u8>> {
        loop {
            if let Some(len) = reply_len(&self.buffered) {
                return Some(self.buffered.drain(..len).collect());
            }
            if self.fill().is_err() {
                return None;
            }
        }
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
        let mut out = std::mem::take(&mut self.buffered);
        let _ = self.stream.read_to_end(&mut out);
        out
    }

    /// Reads until the server closes and reports how the stream ended: `Ok(rest)` for a clean
    /// end of file, `Err` for a reset or a timeout.
    pub fn read_until_eof(&mut self) -> std::io::Result<Vec<u8>> {
        let mut out = std::mem::take(&mut self.buffered);
        self.stream.read_to_end(&mut out)?;
        Ok(out)
    }
}

/// Length of the complete RESP reply at the front of `buf`, or `None` if it is incomplete.
pub fn reply_len(buf: &[u8]) -> Option<usize> {
    let line_end = buf.windows(2).position(|w| w == b"\r\n")?;
    let header = std::str::from_utf8(&buf[1..line_end]).ok()?;
    let after = line_end + 2;
    match buf.first()? {
        b'+' | b'-' | b':' | b'_' | b',' | b'#' | b'(' => Some(after),
        b'$' | b'=' | b'!' => {
            let len: i64 = header.parse().ok()?;
            if len < 0 {
                return Some(after);
            }
            let end = after + len as usize + 2;
            (buf.len() >= end).then_some(end)
        }
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let count: i64 = header.parse().ok()?;
            let items = match buf[0] {
                b'%' | b'|' => count.max(0) * 2,
                _ => count.max(0),
            };
            let mut at = after;
            for _ in 0..items {
                at += reply_len(&buf[at..])?;
            }
            Some(at)
        }
        _ => panic!(
            "not a RESP reply: {:?}",
            String::from_utf8_lossy(&buf[..buf.len().min(80)])
        ),
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

/// The items of a RESP2 array of bulk strings (`None` for a null), as MGET replies.
pub fn bulk_array(reply: &[u8]) -> Vec<Option<Vec<u8>>> {
    let text_end = |from: usize| {
        from + reply[from..]
            .windows(2)
            .position(|w| w == b"\r\n")
            .expect("line")
    };
    assert_eq!(
        reply[0],
        b'*',
        "not an array: {:?}",
        String::from_utf8_lossy(reply)
    );
    let end = text_end(0);
    let count: usize = std::str::from_utf8(&reply[1..end])
        .unwrap()
        .parse()
        .unwrap();
    let mut at = end + 2;
    let mut items = Vec::with_capacity(count);
    for _ in 0..count {
        assert_eq!(
            reply[at],
            b'$',
            "not a bulk: {:?}",
            String::from_utf8_lossy(&reply[at..])
        );
        let end = text_end(at);
        let len: i64 = std::str::from_utf8(&reply[at + 1..end])
            .unwrap()
            .parse()
            .unwrap();
        if len < 0 {
            items.push(None);
            at = end + 2;
        } else {
            let start = end + 2;
            items.push(Some(reply[start..start + len as usize].to_vec()));
            at = start + len as usize + 2;
        }
    }
    items
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

/// Runs `f` against a server with 1, 2 and 4 shards that also listens for memcached.
pub fn for_each_memcached_topology(f: impl Fn(&TestServer)) {
    for threads in TOPOLOGIES {
        eprintln!("--- topology: {threads} shard(s), memcached port");
        let server = TestServer::start_memcached(threads);
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

/// A numeric field of `INFO clients` (`blocked_clients`, `connected_clients`, ...).
pub fn info_field(con: &mut redis::Connection, name: &str) -> u64 {
    let info: String = query(con, &["INFO", "clients"]);
    info.lines()
        .find_map(|line| line.strip_prefix(&format!("{name}:")))
        .and_then(|value| value.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {info}"))
}

/// Waits until INFO reports `count` blocked clients.
pub fn wait_blocked(con: &mut redis::Connection, count: u64) {
    assert!(
        TestServer::eventually(Duration::from_secs(10), || info_field(
            con,
            "blocked_clients"
        ) == count),
        "blocked_clients never reached {count}"
    );
}
