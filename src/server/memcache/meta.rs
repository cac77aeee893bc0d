//! Meta commands: which internal commands a request runs, and memcached 1.6's reply lines
//! (`VA HD EN NF NS EX MN ME`) with the return flags in the order the request gave them.

use bytes::{BufMut, Bytes, BytesMut};

use crate::command::memcache::{self as semantics, number, optional, ItemView, Outcome, StoreMode};
use crate::protocol::memcache::base64;
use crate::protocol::memcache::meta::{Command, Kind};
use crate::protocol::memcache::text::TOO_LARGE;

use super::{item_size, stats, store_args, take, ttl_seconds, McConnection, Plan};

fn name(spec: &crate::command::CommandSpec) -> Bytes {
    Bytes::from_static(spec.name.as_bytes())
}

pub(super) fn request(conn: &mut McConnection, command: Command) {
    let start = conn.batch().answers.len();
    stats::with(|c| c.cmd_meta += 1);
    let options = &command.options;
    let key = command.key.clone();
    let expire = |exptime: Option<i32>| exptime.map(|e| conn.expire_at(e));
    match command.kind {
        Kind::Noop => {}
        Kind::Debug => {
            let args = vec![name(&semantics::GET), key, Bytes::from_static(b"u")];
            conn.submit(&semantics::GET, args);
        }
        Kind::Get => {
            let touching =
                options.ttl.is_some() || options.vivify.is_some() || options.recache.is_some();
            if touching {
                let args = vec![
                    name(&semantics::GAT),
                    key,
                    optional(expire(options.ttl)),
                    optional(expire(options.vivify)),
                    optional(expire(options.recache)),
                    number(options.new_cas.unwrap_or_else(|| conn.draw_cas())),
                ];
                conn.submit(&semantics::GAT, args);
            } else {
                let mut args = vec![name(&semantics::GET), key];
                if options.no_update {
                    args.push(Bytes::from_static(b"u"));
                }
                conn.submit(&semantics::GET, args);
            }
        }
        Kind::Set => {
            stats::with(|c| c.cmd_set += 1);
            let mode = match options.mode {
                Some(b'E') => StoreMode::Add,
                Some(b'A') => StoreMode::Append,
                Some(b'P') => StoreMode::Prepend,
                Some(b'R') => StoreMode::Replace,
                _ => StoreMode::Set,
            };
            // Memcached: add ignores a CAS; the others compare it.
            let compare = options.compare_cas.filter(|_| mode != StoreMode::Add);
            let mut args = store_args(
                conn,
                key,
                mode,
                command.data.clone(),
                options.client_flags,
                options.ttl.unwrap_or(0),
                compare,
                options.new_cas,
            );
            if options.invalidate && compare.is_some() {
                args.push(Bytes::from_static(b"I"));
            }
            conn.submit(&semantics::STORE, args);
        }
        Kind::SetTooLarge => {
            stats::with(|c| c.store_too_large += 1);
            let args = vec![name(&semantics::DELETE), key, Bytes::new()];
            conn.submit(&semantics::DELETE, args);
        }
        Kind::Delete => {
            let mut args = vec![name(&semantics::DELETE), key, optional(options.compare_cas)];
            if options.invalidate {
                args.push(optional(expire(options.ttl)));
                args.push(number(options.new_cas.unwrap_or_else(|| conn.draw_cas())));
            }
            conn.submit(&semantics::DELETE, args);
        }
        Kind::Arith => {
            let decr = matches!(options.mode, Some(b'D') | Some(b'-'));
            let args = vec![
                name(&semantics::ARITH),
                key,
                Bytes::from_static(if decr { b"decr" } else { b"incr" }),
                number(options.delta),
                number(options.new_cas.unwrap_or_else(|| conn.draw_cas())),
                optional(options.compare_cas),
                optional(expire(options.vivify)),
                number(options.initial),
                optional(expire(options.ttl)),
            ];
            conn.submit(&semantics::ARITH, args);
        }
    }
    let end = conn.batch().answers.len();
    conn.batch()
        .plans
        .push(Plan::Meta(Box::new(command), start..end));
}

/// ` k<key>`, base64 and followed by ` b` for a binary key (memcached's `META_KEY`).
fn put_key(out: &mut BytesMut, command: &Command) {
    out.put_slice(b" k");
    if command.key_binary {
        out.put_slice(&base64::encode(&command.key));
        out.put_slice(b" b");
    } else {
        out.put_slice(&command.key);
    }
}

/// The opaque and key flags, which every reply echoes.
fn put_opaque_and_key(out: &mut BytesMut, command: &Command) {
    for flag in &command.flags {
        match flag[0] {
            b'O' => {
                out.put_u8(b' ');
                out.put_slice(flag);
            }
            b'k' => put_key(out, command),
            _ => {}
        }
    }
}

fn status(out: &mut BytesMut, code: &str, command: &Command) {
    out.put_slice(code.as_bytes());
    put_opaque_and_key(out, command);
    out.put_slice(b"\r\n");
}

pub(super) fn write(
    out: &mut BytesMut,
    command: &Command,
    answers: &mut [super::Answer],
    now_ms: u64,
) {
    let quiet = command.options.quiet;
    match command.kind {
        Kind::Noop => out.put_slice(b"MN\r\n"),
        Kind::Debug => match take(answers, 0) {
            Outcome::Value(view) => {
                out.put_slice(b"ME ");
                if command.key_binary {
                    out.put_slice(&base64::encode(&command.key));
                } else {
                    out.put_slice(&command.key);
                }
                // Memcached prints the deadline as now minus it (negative while alive).
                let exp = match ttl_seconds(view.expire_at, now_ms) {
                    -1 => -1,
                    ttl => -ttl,
                };
                let line = format!(
                    " exp={} la={} cas={} fetch={} cls=1 size={}\r\n",
                    exp,
                    (now_ms / 1000).saturating_sub(view.last_access as u64),
                    view.cas,
                    if view.fetched { "yes" } else { "no" },
                    item_size(command.key.len(), view.data.len(), view.flags)
                );
                out.put_slice(line.as_bytes());
            }
            _ => out.put_slice(b"EN\r\n"),
        },
        Kind::Get => {
            let touching = command.options.ttl.is_some();
            match take(answers, 0) {
                Outcome::Value(view) => {
                    stats::with(|c| match touching {
                        true => c.touch_hits += 1,
                        false => c.get_hits += 1,
                    });
                    get_hit(out, command, &view, now_ms);
                }
                _ => {
                    stats::with(|c| match touching {
                        true => c.touch_misses += 1,
                        false => c.get_misses += 1,
                    });
                    if !quiet {
                        status(out, "EN", command);
                    }
                }
            }
        }
        Kind::Set => {
            let outcome = take(answers, 0);
            let (code, cas) = match outcome {
                Outcome::Stored(cas) => ("HD", cas),
                Outcome::NotStored => ("NS", 0),
                Outcome::Exists => ("EX", 0),
                Outcome::NotFound => ("NF", 0),
                other => {
                    out.put_slice(format!("SERVER_ERROR {other:?}\r\n").as_bytes());
                    return;
                }
            };
            if code == "HD" {
                stats::with(|c| c.total_items += 1);
                if quiet {
                    return;
                }
            }
            out.put_slice(code.as_bytes());
            for flag in &command.flags {
                match flag[0] {
                    b'O' => {
                        out.put_u8(b' ');
                        out.put_slice(flag);
                    }
                    b'k' => put_key(out, command),
                    b'c' => out.put_slice(format!(" c{cas}").as_bytes()),
                    _ => {}
                }
            }
            out.put_slice(b"\r\n");
        }
        Kind::SetTooLarge => out.put_slice(format!("{TOO_LARGE}\r\n").as_bytes()),
        Kind::Delete => match take(answers, 0) {
            Outcome::Deleted => {
                stats::with(|c| c.delete_hits += 1);
                if !quiet {
                    status(out, "HD", command);
                }
            }
            Outcome::Exists => status(out, "EX", command),
            other => {
                stats::with(|c| c.delete_misses += 1);
                match other {
                    Outcome::NotFound => status(out, "NF", command),
                    other => out.put_slice(format!("SERVER_ERROR {other:?}\r\n").as_bytes()),
                }
            }
        },
        Kind::Arith => match take(answers, 0) {
            Outcome::Value(view) => {
                if quiet {
                    return;
                }
                if command.options.value {
                    out.put_slice(format!("VA {}", view.data.len()).as_bytes());
                } else {
                    out.put_slice(b"HD");
                }
                for flag in &command.flags {
                    match flag[0] {
                        b'c' => out.put_slice(format!(" c{}", view.cas).as_bytes()),
                        b't' => out.put_slice(
                            format!(" t{}", ttl_seconds(view.expire_at, now_ms)).as_bytes(),
                        ),
                        b'O' => {
                            out.put_u8(b' ');
                            out.put_slice(flag);
                        }
                        b'k' => put_key(out, command),
                        _ => {}
                    }
                }
                out.put_slice(b"\r\n");
                if command.options.value {
                    out.put_slice(&view.data);
                    out.put_slice(b"\r\n");
                }
            }
            Outcome::NotFound => status(out, "NF", command),
            Outcome::Exists => status(out, "EX", command),
            Outcome::NotStored => status(out, "NS", command),
            Outcome::NonNumeric => {
                out.put_slice(b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n")
            }
            other => out.put_slice(format!("SERVER_ERROR {other:?}\r\n").as_bytes()),
        },
    }
}

/// An mg hit: `VA <len>` or `HD`, the return flags in request order, then Z, X and W.
fn get_hit(out: &mut BytesMut, command: &Command, view: &ItemView, now_ms: u64) {
    if command.options.value {
        out.put_slice(format!("VA {}", view.data.len()).as_bytes());
    } else {
        out.put_slice(b"HD");
    }
    for flag in &command.flags {
        let text = match flag[0] {
            b's' => format!(" s{}", view.data.len()),
            b't' => format!(" t{}", ttl_seconds(view.expire_at, now_ms)),
            b'c' => format!(" c{}", view.cas),
            b'f' => format!(" f{}", view.flags),
            b'l' => format!(
                " l{}",
                (now_ms / 1000).saturating_sub(view.last_access as u64)
            ),
            b'h' => format!(" h{}", view.fetched as u8),
            b'O' => {
                out.put_u8(b' ');
                out.put_slice(flag);
                continue;
            }
            b'k' => {
                put_key(out, command);
                continue;
            }
            _ => continue,
        };
        out.put_slice(text.as_bytes());
    }
    if view.token_sent {
        out.put_slice(b" Z");
    }
    if view.stale {
        out.put_slice(b" X");
    }
    if view.won {
        out.put_slice(b" W");
    }
    out.put_slice(b"\r\n");
    if command.options.value {
        out.put_slice(&view.data);
        out.put_slice(b"\r\n");
    }
}
