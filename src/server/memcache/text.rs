//! The classic text commands: which internal commands a request runs, and memcached 1.6's
//! reply lines for their outcomes.

use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::memcache::{self as semantics, number, Outcome, StoreMode};
use crate::command::{self};
use crate::protocol::memcache::text::{Command, StoreKind, TOO_LARGE};
use crate::protocol::reply::decimal_u64;

use super::{stats, store_args, take, McConnection, Plan, DB};
use crate::server::coordinator;

const NON_NUMERIC: &str = "CLIENT_ERROR cannot increment or decrement non-numeric value";

fn name(spec: &command::CommandSpec) -> Bytes {
    Bytes::from_static(spec.name.as_bytes())
}

/// Routes a request's commands and leaves its plan; hands flush_all and stats back, for
/// [`request_slow`].
pub(super) fn request(conn: &mut McConnection, command: Command) -> Option<Command> {
    if matches!(command, Command::FlushAll { .. } | Command::Stats(_)) {
        return Some(command);
    }
    let start = conn.batch().answers.len();
    match &command {
        Command::Get { keys, touch, .. } => {
            stats::with(|c| match touch {
                Some(_) => c.cmd_touch += keys.len() as u64,
                None => c.cmd_get += keys.len() as u64,
            });
            for key in keys {
                let args = match touch {
                    None => conn.args([name(&semantics::GET), key.clone()]),
                    Some(exptime) => {
                        let args = [
                            name(&semantics::GAT),
                            key.clone(),
                            number(conn.expire_at(*exptime)),
                            Bytes::new(),
                            Bytes::new(),
                            number(conn.draw_cas()),
                        ];
                        conn.args(args)
                    }
                };
                let spec = if touch.is_some() {
                    &semantics::GAT
                } else {
                    &semantics::GET
                };
                conn.submit(spec, args);
            }
        }
        Command::Store {
            kind,
            key,
            flags,
            exptime,
            data,
            cas_unique,
            ..
        } => {
            stats::with(|c| c.cmd_set += 1);
            let (mode, compare) = match kind {
                StoreKind::Set => (StoreMode::Set, None),
                StoreKind::Add => (StoreMode::Add, None),
                StoreKind::Replace => (StoreMode::Replace, None),
                StoreKind::Append => (StoreMode::Append, None),
                StoreKind::Prepend => (StoreMode::Prepend, None),
                StoreKind::Cas => (StoreMode::Set, Some(*cas_unique)),
            };
            let args = store_args(
                conn,
                key.clone(),
                mode,
                data.clone(),
                *flags,
                *exptime,
                compare,
                None,
            );
            conn.submit(&semantics::STORE, args);
        }
        Command::TooLarge {
            key, drop_existing, ..
        } => {
            stats::with(|c| {
                c.cmd_set += 1;
                c.store_too_large += 1;
            });
            if *drop_existing {
                let args = vec![name(&semantics::DELETE), key.clone(), Bytes::new()];
                conn.submit(&semantics::DELETE, args);
            }
        }
        Command::Delete { key, .. } => {
            let args = vec![name(&semantics::DELETE), key.clone(), Bytes::new()];
            conn.submit(&semantics::DELETE, args);
        }
        Command::Arith {
            key, incr, delta, ..
        } => {
            let args = vec![
                name(&semantics::ARITH),
                key.clone(),
                Bytes::from_static(if *incr { b"incr" } else { b"decr" }),
                number(*delta),
                number(conn.draw_cas()),
                Bytes::new(),
                Bytes::new(),
                Bytes::new(),
                Bytes::new(),
            ];
            conn.submit(&semantics::ARITH, args);
        }
        Command::Touch { key, exptime, .. } => {
            stats::with(|c| c.cmd_touch += 1);
            let args = vec![
                name(&semantics::TOUCH),
                key.clone(),
                number(conn.expire_at(*exptime)),
            ];
            conn.submit(&semantics::TOUCH, args);
        }
        Command::Version => conn.line(&format!("VERSION {}", super::VERSION)),
        Command::Quit => conn.quit = true,
        Command::Verbosity { .. } | Command::FlushAll { .. } | Command::Stats(_) => {}
    }
    let end = conn.batch().answers.len();
    conn.batch().plans.push(Plan::Text(command, start..end));
    None
}

/// flush_all and stats, which wait for every shard.
pub(super) async fn request_slow(conn: &mut McConnection, command: Command) {
    match &command {
        Command::FlushAll { delay, .. } => {
            stats::with(|c| c.cmd_flush += 1);
            flush_all(conn, *delay).await;
        }
        Command::Stats(args) => {
            stats_command(conn, args).await;
            return;
        }
        _ => {}
    }
    let range = conn.batch().answers.len()..conn.batch().answers.len();
    conn.batch().plans.push(Plan::Text(command, range));
}

/// flush_all: FLUSHDB over every shard now, or after `delay` seconds (memcached's delayed flush
/// invalidates what exists when the delay ends; a timer on this core runs it then).
pub(super) async fn flush_all(conn: &mut McConnection, delay: i32) {
    if delay <= 0 {
        conn.run_everywhere("flushdb", vec![Bytes::from_static(b"FLUSHDB")])
            .await;
        return;
    }
    let wait_ms = conn.expire_at(delay).saturating_sub(conn.now_ms);
    let rt = conn.rt.clone();
    glommio::spawn_local(async move {
        glommio::timer::sleep(Duration::from_millis(wait_ms)).await;
        // The flush runs on behalf of no connection: a short-lived internal client receives the
        // coordinator's replies.
        let (Some(client), Some(spec)) = (rt.register_client(-1), command::lookup(b"flushdb"))
        else {
            return;
        };
        let args = vec![Bytes::from_static(b"FLUSHDB")];
        let _ = coordinator::run_everywhere(&rt, &client, DB, spec, args).await;
        rt.unregister_client(client.id);
    })
    .detach();
}

async fn stats_command(conn: &mut McConnection, args: &[Bytes]) {
    let first = args.first().map(|arg| &arg[..]);
    match first {
        Some(b"reset") => {
            conn.gather_stats(true).await;
            conn.line("RESET");
        }
        Some(b"detail") => match args.get(1).map(|arg| &arg[..]) {
            Some(b"on") | Some(b"off") => conn.line("OK"),
            Some(b"dump") => conn.line("END"),
            _ => conn.line("CLIENT_ERROR usage: stats detail on|off|dump"),
        },
        _ => match conn.stats_section(first).await {
            Some(pairs) => {
                let mut text = String::new();
                for (name, value) in pairs {
                    text.push_str(&format!("STAT {name} {value}\r\n"));
                }
                text.push_str("END\r\n");
                conn.batch().plans.push(Plan::Bytes(Bytes::from(text)));
            }
            None => conn.line("ERROR"),
        },
    }
}

fn line(out: &mut BytesMut, text: &str) {
    out.put_slice(text.as_bytes());
    out.put_slice(b"\r\n");
}

/// The error line for an internal failure (never expected).
fn failed(out: &mut BytesMut, text: &str) {
    line(out, &format!("SERVER_ERROR {text}"));
}

pub(super) fn write(
    out: &mut BytesMut,
    command: Command,
    answers: &mut [super::Answer],
    _now_ms: u64,
) {
    match command {
        Command::Get { keys, cas, touch } => {
            for (index, key) in keys.iter().enumerate() {
                match take(answers, index) {
                    Outcome::Value(view) => {
                        stats::with(|c| match touch {
                            Some(_) => c.touch_hits += 1,
                            None => c.get_hits += 1,
                        });
                        out.put_slice(b"VALUE ");
                        out.put_slice(key);
                        let mut digits = [0u8; 20];
                        out.put_u8(b' ');
                        out.put_slice(decimal_u64(view.flags as u64, &mut digits));
                        out.put_u8(b' ');
                        out.put_slice(decimal_u64(view.data.len() as u64, &mut digits));
                        if cas {
                            out.put_u8(b' ');
                            out.put_slice(decimal_u64(view.cas, &mut digits));
                        }
                        out.put_slice(b"\r\n");
                        out.put_slice(&view.data);
                        out.put_slice(b"\r\n");
                    }
                    _ => stats::with(|c| match touch {
                        Some(_) => c.touch_misses += 1,
                        None => c.get_misses += 1,
                    }),
                }
            }
            out.put_slice(b"END\r\n");
        }
        Command::Store { kind, noreply, .. } => {
            let outcome = take(answers, 0);
            if kind == StoreKind::Cas {
                stats::with(|c| match outcome {
                    Outcome::Stored(_) => c.cas_hits += 1,
                    Outcome::Exists => c.cas_badval += 1,
                    _ => c.cas_misses += 1,
                });
            }
            if matches!(outcome, Outcome::Stored(_)) {
                stats::with(|c| c.total_items += 1);
            }
            if noreply {
                return;
            }
            match outcome {
                Outcome::Stored(_) => line(out, "STORED"),
                Outcome::NotStored => line(out, "NOT_STORED"),
                Outcome::Exists => line(out, "EXISTS"),
                Outcome::NotFound => line(out, "NOT_FOUND"),
                other => failed(out, &format!("{other:?}")),
            }
        }
        Command::TooLarge { noreply, .. } => {
            if !noreply {
                line(out, TOO_LARGE);
            }
        }
        Command::Delete { noreply, .. } => {
            let outcome = take(answers, 0);
            stats::with(|c| match outcome {
                Outcome::Deleted => c.delete_hits += 1,
                _ => c.delete_misses += 1,
            });
            if noreply {
                return;
            }
            match outcome {
                Outcome::Deleted => line(out, "DELETED"),
                Outcome::NotFound => line(out, "NOT_FOUND"),
                other => failed(out, &format!("{other:?}")),
            }
        }
        Command::Arith { incr, noreply, .. } => {
            let outcome = take(answers, 0);
            let hit = matches!(outcome, Outcome::Value(_));
            stats::with(|c| match (incr, hit) {
                (true, true) => c.incr_hits += 1,
                (true, false) => c.incr_misses += 1,
                (false, true) => c.decr_hits += 1,
                (false, false) => c.decr_misses += 1,
            });
            if noreply {
                return;
            }
            match outcome {
                Outcome::Value(view) => {
                    out.put_slice(&view.data);
                    out.put_slice(b"\r\n");
                }
                Outcome::NotFound => line(out, "NOT_FOUND"),
                Outcome::NonNumeric => line(out, NON_NUMERIC),
                other => failed(out, &format!("{other:?}")),
            }
        }
        Command::Touch { noreply, .. } => {
            let outcome = take(answers, 0);
            stats::with(|c| match outcome {
                Outcome::Touched => c.touch_hits += 1,
                _ => c.touch_misses += 1,
            });
            if noreply {
                return;
            }
            match outcome {
                Outcome::Touched => line(out, "TOUCHED"),
                Outcome::NotFound => line(out, "NOT_FOUND"),
                other => failed(out, &format!("{other:?}")),
            }
        }
        Command::FlushAll { noreply, .. } | Command::Verbosity { noreply } => {
            if !noreply {
                line(out, "OK");
            }
        }
        Command::Version | Command::Quit | Command::Stats(_) => {}
    }
}
