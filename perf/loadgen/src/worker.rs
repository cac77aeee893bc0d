//! One worker thread: connect-per-request cycles with blocking std sockets until told to stop,
//! counting successes, failures and each request's connect-to-last-reply latency.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::args::Args;
use crate::proto;

/// No single socket operation may block a worker past this: the run stays bounded in time even
/// if a server stops answering.
const SOCKET_TIMEOUT: Duration = Duration::from_secs(5);
/// Errors printed per worker; the rest are only counted.
const ERRORS_SHOWN: u64 = 3;

#[derive(Default)]
pub struct Tally {
    pub requests: u64,
    pub connect_errors: u64,
    pub io_errors: u64,
    pub bad_replies: u64,
    pub latencies_us: Vec<u64>,
}

impl Tally {
    pub fn merge(&mut self, other: Tally) {
        self.requests += other.requests;
        self.connect_errors += other.connect_errors;
        self.io_errors += other.io_errors;
        self.bad_replies += other.bad_replies;
        self.latencies_us.extend(other.latencies_us);
    }
}

enum Failure {
    Connect(std::io::Error),
    Io(std::io::Error),
    Reply(String),
}

pub fn run(id: usize, args: &Args, stop: &AtomicBool) -> Tally {
    let mut tally = Tally::default();
    // xorshift64*, seeded per worker: no crate needed, and uniform enough to spread keys.
    let mut seed = 0x9E37_79B9_7F4A_7C15u64 ^ ((id as u64 + 1) * 0x2545_F491_4F6C_DD1D);
    let mut buf = Vec::with_capacity(4096);
    let mut turn = id;
    let mut shown = 0;
    while !stop.load(Ordering::Relaxed) {
        seed ^= seed >> 12;
        seed ^= seed << 25;
        seed ^= seed >> 27;
        let n = seed.wrapping_mul(0x2545_F491_4F6C_DD1D) % args.keyspace;
        let addr = SocketAddr::from((args.hosts[turn % args.hosts.len()], args.port));
        turn += 1;
        let steps = proto::request(args, n);
        let started = Instant::now();
        match one_request(addr, &steps, &mut buf) {
            Ok(()) => {
                tally.requests += 1;
                tally
                    .latencies_us
                    .push(started.elapsed().as_micros() as u64);
            }
            Err(failure) => {
                let text = match failure {
                    Failure::Connect(e) => {
                        tally.connect_errors += 1;
                        format!("connect {addr}: {e}")
                    }
                    Failure::Io(e) => {
                        tally.io_errors += 1;
                        format!("{addr}: {e}")
                    }
                    Failure::Reply(e) => {
                        tally.bad_replies += 1;
                        format!("{addr}: {e}")
                    }
                };
                if shown < ERRORS_SHOWN {
                    shown += 1;
                    eprintln!("worker {id}: {text}");
                }
            }
        }
    }
    tally
}

/// Connect, each command and its checked reply in turn, close (by dropping the socket).
fn one_request(addr: SocketAddr, steps: &[proto::Step], buf: &mut Vec<u8>) -> Result<(), Failure> {
    let mut stream = TcpStream::connect_timeout(&addr, SOCKET_TIMEOUT).map_err(Failure::Connect)?;
    let _ = stream.set_nodelay(true);
    stream
        .set_read_timeout(Some(SOCKET_TIMEOUT))
        .and_then(|()| stream.set_write_timeout(Some(SOCKET_TIMEOUT)))
        .map_err(Failure::Io)?;
    for step in steps {
        stream.write_all(&step.bytes).map_err(Failure::Io)?;
        buf.clear();
        loop {
            if let Some((len, verdict)) = proto::check(&step.expect, buf) {
                verdict.map_err(Failure::Reply)?;
                if len != buf.len() {
                    return Err(Failure::Reply(format!(
                        "{} unexpected bytes after a reply",
                        buf.len() - len
                    )));
                }
                break;
            }
            let mut chunk = [0u8; 4096];
            let read = stream.read(&mut chunk).map_err(Failure::Io)?;
            if read == 0 {
                return Err(Failure::Io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "server closed the connection",
                )));
            }
            buf.extend_from_slice(&chunk[..read]);
        }
    }
    Ok(())
}
