//! A real shardis server for tests: in-process, on an ephemeral port, with its own temp data dir.
//! `start` returns once every shard listens, so tests need no sleeps.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::Duration;

use shardis::config::Config;
use shardis::server::{self, ServerHandle};

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
        let dir = std::env::temp_dir().join(format!("shardis-test-{}-{}", std::process::id(), fastrand::u64(..)));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let mut config = Config::default();
        let mut apply = |name: &str, value: &str| {
            config.apply(name, &[value.to_string()], true).unwrap_or_else(|e| panic!("{} {}: {}", name, value, e))
        };
        apply("port", "0");
        apply("threads", &threads.to_string());
        apply("cpu-affinity", "no");
        apply("dir", dir.to_str().expect("utf-8 temp dir"));
        for (name, value) in directives {
            apply(name, value);
        }
        let handle = server::start(config).expect("server starts");
        TestServer { port: handle.port, dir, handle: Some(handle) }
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    pub fn client(&self) -> redis::Client {
        redis::Client::open(self.url()).expect("client")
    }

    pub fn connection(&self) -> redis::Connection {
        self.client().get_connection().expect("connect")
    }

    /// A raw socket for byte-exact exchanges.
    pub fn raw(&self) -> RawClient {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).expect("connect");
        stream.set_read_timeout(Some(Duration::from_secs(10))).expect("timeout");
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
            handle.wait();
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
        assert_eq!(String::from_utf8_lossy(&got), String::from_utf8_lossy(expected), "reply to {:?}", String::from_utf8_lossy(request));
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
