//! The admin HTTP listener: a blocking std listener on its own thread, HTTP/1.1, one request per
//! connection (`Connection: close`).
//!
//! `GET /metrics` (Prometheus text format 0.0.4), `GET /health/live` (200 while the process
//! serves), `GET /health/ready` (200, or 503 with a JSON body saying why). Everything it reads is
//! published state, so it answers in well under a millisecond of work whatever the shards do.
//! HEAD is answered like GET without the body; other methods get 405, other paths 404.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Duration;

use tracing::debug;

use super::{health, metrics, Observability, STOP_POLL};

/// The most request head (request line and headers) read.
const MAX_HEAD: usize = 8 * 1024;
/// How long a client may take to send its request.
const READ_TIMEOUT: Duration = Duration::from_millis(500);

/// Serves until the server stops.
pub fn serve(listener: TcpListener, obs: Arc<Observability>) {
    let fd = listener.as_raw_fd();
    while !obs.stopping.load(Relaxed) {
        // Wait for a connection at most STOP_POLL, so a stop is seen without a wake-up connection.
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd for the listener's open descriptor.
        let ready = unsafe { libc::poll(&mut poll, 1, STOP_POLL.as_millis() as libc::c_int) };
        if ready <= 0 {
            continue;
        }
        match listener.accept() {
            Ok((stream, _)) => {
                if let Err(error) = answer(stream, &obs) {
                    debug!(%error, "admin request failed");
                }
            }
            Err(error) => debug!(%error, "admin accept failed"),
        }
    }
}

/// Reads one request head and answers it.
fn answer(mut stream: TcpStream, obs: &Observability) -> std::io::Result<()> {
    stream.set_read_timeout(Some(READ_TIMEOUT))?;
    stream.set_write_timeout(Some(READ_TIMEOUT))?;
    let _ = stream.set_nodelay(true);
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
        if head.len() >= MAX_HEAD {
            return respond(
                &mut stream,
                431,
                "text/plain",
                "request header too large\n",
                true,
            );
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            break;
        }
        head.extend_from_slice(&chunk[..n]);
    }
    let line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let line = String::from_utf8_lossy(line);
    let mut words = line.split_whitespace();
    let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or(""));
    let path = target.split('?').next().unwrap_or("");
    let with_body = method != "HEAD";
    if method != "GET" && method != "HEAD" {
        return respond(&mut stream, 405, "text/plain", "method not allowed\n", true);
    }
    match path {
        "/metrics" => {
            let text = metrics::render(obs);
            respond(
                &mut stream,
                200,
                "text/plain; version=0.0.4; charset=utf-8",
                &text,
                with_body,
            )
        }
        "/health/live" => respond(
            &mut stream,
            200,
            "application/json",
            "{\"status\":\"ok\"}\n",
            with_body,
        ),
        "/health/ready" => {
            let problems = health::problems(obs);
            let code = if problems.is_empty() { 200 } else { 503 };
            respond(
                &mut stream,
                code,
                "application/json",
                &health::ready_json(&problems),
                with_body,
            )
        }
        _ => respond(&mut stream, 404, "text/plain", "not found\n", with_body),
    }
}

fn respond(
    stream: &mut TcpStream,
    code: u16,
    content_type: &str,
    body: &str,
    with_body: bool,
) -> std::io::Result<()> {
    let reason = match code {
        200 => "OK",
        404 => "Not Found",
        405 => "Method Not Allowed",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut out = format!(
        "HTTP/1.1 {code} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if with_body {
        out.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&out)?;
    stream.flush()
}
