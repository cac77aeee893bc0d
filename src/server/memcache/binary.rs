//! The binary protocol: which internal commands a packet runs, and memcached 1.6's responses
//! (`proto_bin.c`): quiet variants answer only failures (GETQ/GETKQ/GATQ/GATKQ only hits), a
//! malformed packet gets "Invalid arguments" and the connection closes, an unknown opcode gets
//! "Unknown command" and the connection carries on.

use bytes::{Bytes, BytesMut};

use crate::command::memcache::{self as semantics, number, optional, Outcome, StoreMode};
use crate::protocol::memcache::binary::{encode_error, encode_response, opcode, Request, Status};
use crate::protocol::memcache::{item_too_large, Limits, KEY_MAX_LENGTH};

use super::{stats, store_args, take, McConnection, Plan};

fn name(spec: &crate::command::CommandSpec) -> Bytes {
    Bytes::from_static(spec.name.as_bytes())
}

/// Whether the opcode is a quiet variant.
fn quiet(op: u8) -> bool {
    matches!(
        op,
        opcode::GETQ
            | opcode::GETKQ
            | opcode::SETQ
            | opcode::ADDQ
            | opcode::REPLACEQ
            | opcode::DELETEQ
            | opcode::INCREMENTQ
            | opcode::DECREMENTQ
            | opcode::QUITQ
            | opcode::FLUSHQ
            | opcode::APPENDQ
            | opcode::PREPENDQ
            | opcode::GATQ
            | opcode::GATKQ
    )
}

/// Memcached's per-opcode packet checks (`dispatch_bin_command`): extras length, key presence,
/// no value where none belongs.
fn valid(request: &Request) -> bool {
    let (extras, key, value) = (request.extras.len(), request.key.len(), request.value.len());
    if key > KEY_MAX_LENGTH {
        return false;
    }
    match request.opcode {
        opcode::GET
        | opcode::GETQ
        | opcode::GETK
        | opcode::GETKQ
        | opcode::DELETE
        | opcode::DELETEQ => extras == 0 && key > 0 && value == 0,
        opcode::SET
        | opcode::SETQ
        | opcode::ADD
        | opcode::ADDQ
        | opcode::REPLACE
        | opcode::REPLACEQ => extras == 8 && key > 0,
        opcode::APPEND | opcode::APPENDQ | opcode::PREPEND | opcode::PREPENDQ => {
            extras == 0 && key > 0
        }
        opcode::INCREMENT | opcode::INCREMENTQ | opcode::DECREMENT | opcode::DECREMENTQ => {
            extras == 20 && key > 0 && value == 0
        }
        opcode::TOUCH | opcode::GAT | opcode::GATQ | opcode::GATK | opcode::GATKQ => {
            extras == 4 && key > 0 && value == 0
        }
        opcode::QUIT | opcode::QUITQ | opcode::NOOP | opcode::VERSION => {
            extras == 0 && key == 0 && value == 0
        }
        opcode::FLUSH | opcode::FLUSHQ => (extras == 0 || extras == 4) && key == 0 && value == 0,
        opcode::STAT => extras == 0 && value == 0,
        _ => true,
    }
}

/// Routes a request's commands and leaves its plan; hands flush and stat back, for
/// [`request_slow`].
pub(super) fn request(conn: &mut McConnection, request: Request) -> Option<Request> {
    let start = conn.batch().answers.len();
    let op = request.opcode;
    if request.too_large {
        stats::with(|c| c.store_too_large += 1);
        let mut out = BytesMut::new();
        encode_error(&mut out, op, Status::TooLarge, request.opaque);
        conn.batch().plans.push(Plan::Bytes(out.freeze()));
        return None;
    }
    if !valid(&request) {
        let mut out = BytesMut::new();
        encode_error(&mut out, op, Status::InvalidArguments, request.opaque);
        conn.batch().plans.push(Plan::Bytes(out.freeze()));
        conn.quit = true;
        return None;
    }
    if matches!(op, opcode::FLUSH | opcode::FLUSHQ | opcode::STAT) {
        return Some(request);
    }
    let key = request.key.clone();
    match op {
        opcode::GET | opcode::GETQ | opcode::GETK | opcode::GETKQ => {
            stats::with(|c| c.cmd_get += 1);
            let args = conn.args([name(&semantics::GET), key]);
            conn.submit(&semantics::GET, args);
        }
        opcode::TOUCH | opcode::GAT | opcode::GATQ | opcode::GATK | opcode::GATKQ => {
            stats::with(|c| c.cmd_touch += 1);
            let exptime = request.extra_u32(0).unwrap_or(0) as i32;
            let args = vec![
                name(&semantics::GAT),
                key,
                number(conn.expire_at(exptime)),
                Bytes::new(),
                Bytes::new(),
                number(conn.draw_cas()),
            ];
            conn.submit(&semantics::GAT, args);
        }
        opcode::SET
        | opcode::SETQ
        | opcode::ADD
        | opcode::ADDQ
        | opcode::REPLACE
        | opcode::REPLACEQ => {
            stats::with(|c| c.cmd_set += 1);
            let flags = request.extra_u32(0).unwrap_or(0);
            let exptime = request.extra_u32(4).unwrap_or(0) as i32;
            let limits = Limits {
                item_size_max: conn.rt.config.borrow().item_size_max as usize,
            };
            if item_too_large(&limits, key.len(), request.value.len(), flags) {
                // Memcached drops the stored item when a set of it fails this way.
                if matches!(op, opcode::SET | opcode::SETQ) {
                    let args = vec![name(&semantics::DELETE), key, Bytes::new()];
                    conn.submit(&semantics::DELETE, args);
                }
                stats::with(|c| c.store_too_large += 1);
                let mut out = BytesMut::new();
                encode_error(&mut out, op, Status::TooLarge, request.opaque);
                conn.batch().plans.push(Plan::Bytes(out.freeze()));
                return None;
            }
            // With a CAS, memcached turns every one of them into a compare-and-swap.
            let (mode, compare) = match (op, request.cas) {
                (_, cas) if cas != 0 => (StoreMode::Set, Some(cas)),
                (opcode::ADD | opcode::ADDQ, _) => (StoreMode::Add, None),
                (opcode::REPLACE | opcode::REPLACEQ, _) => (StoreMode::Replace, None),
                _ => (StoreMode::Set, None),
            };
            let args = store_args(
                conn,
                key,
                mode,
                request.value.clone(),
                flags,
                exptime,
                compare,
                None,
            );
            conn.submit(&semantics::STORE, args);
        }
        opcode::APPEND | opcode::APPENDQ | opcode::PREPEND | opcode::PREPENDQ => {
            stats::with(|c| c.cmd_set += 1);
            let mode = if matches!(op, opcode::APPEND | opcode::APPENDQ) {
                StoreMode::Append
            } else {
                StoreMode::Prepend
            };
            let compare = (request.cas != 0).then_some(request.cas);
            let args = store_args(conn, key, mode, request.value.clone(), 0, 0, compare, None);
            conn.submit(&semantics::STORE, args);
        }
        opcode::DELETE | opcode::DELETEQ => {
            let compare = (request.cas != 0).then_some(request.cas);
            let args = vec![name(&semantics::DELETE), key, optional(compare)];
            conn.submit(&semantics::DELETE, args);
        }
        opcode::INCREMENT | opcode::INCREMENTQ | opcode::DECREMENT | opcode::DECREMENTQ => {
            let incr = matches!(op, opcode::INCREMENT | opcode::INCREMENTQ);
            let delta = request.extra_u64(0).unwrap_or(0);
            let initial = request.extra_u64(8).unwrap_or(0);
            let exptime = request.extra_u32(16).unwrap_or(0);
            // An expiration of all ones means "do not create".
            let vivify = (exptime != u32::MAX).then(|| conn.expire_at(exptime as i32));
            let compare = (request.cas != 0).then_some(request.cas);
            let args = vec![
                name(&semantics::ARITH),
                key,
                Bytes::from_static(if incr { b"incr" } else { b"decr" }),
                number(delta),
                number(conn.draw_cas()),
                optional(compare),
                optional(vivify),
                number(initial),
                Bytes::new(),
            ];
            conn.submit(&semantics::ARITH, args);
        }
        opcode::QUIT | opcode::QUITQ => conn.quit = true,
        _ => {}
    }
    let end = conn.batch().answers.len();
    conn.batch().plans.push(Plan::Binary(request, start..end));
    None
}

/// flush and stat, which wait for every shard.
pub(super) async fn request_slow(conn: &mut McConnection, request: Request) {
    let op = request.opcode;
    match op {
        opcode::FLUSH | opcode::FLUSHQ => {
            stats::with(|c| c.cmd_flush += 1);
            let delay = request.extra_u32(0).unwrap_or(0) as i32;
            super::text::flush_all(conn, delay).await;
        }
        opcode::STAT => {
            let section = (!request.key.is_empty()).then_some(&request.key[..]);
            let mut out = BytesMut::new();
            if section == Some(&b"reset"[..]) {
                conn.gather_stats(true).await;
                encode_response(
                    &mut out,
                    op,
                    Status::Success,
                    request.opaque,
                    0,
                    &[],
                    &[],
                    &[],
                );
            } else {
                match conn.stats_section(section).await {
                    Some(pairs) => {
                        for (name, value) in pairs {
                            encode_response(
                                &mut out,
                                op,
                                Status::Success,
                                request.opaque,
                                0,
                                &[],
                                name.as_bytes(),
                                value.as_bytes(),
                            );
                        }
                        encode_response(
                            &mut out,
                            op,
                            Status::Success,
                            request.opaque,
                            0,
                            &[],
                            &[],
                            &[],
                        );
                    }
                    None => encode_error(&mut out, op, Status::KeyNotFound, request.opaque),
                }
            }
            conn.batch().plans.push(Plan::Bytes(out.freeze()));
            return;
        }
        _ => {}
    }
    let range = conn.batch().answers.len()..conn.batch().answers.len();
    conn.batch().plans.push(Plan::Binary(request, range));
}

pub(super) fn write(out: &mut BytesMut, request: &Request, answers: &mut [super::Answer]) {
    let op = request.opcode;
    let opaque = request.opaque;
    let is_quiet = quiet(op);
    let success = |out: &mut BytesMut, cas: u64| {
        if !is_quiet {
            encode_response(out, op, Status::Success, opaque, cas, &[], &[], &[]);
        }
    };
    match op {
        opcode::GET
        | opcode::GETQ
        | opcode::GETK
        | opcode::GETKQ
        | opcode::GAT
        | opcode::GATQ
        | opcode::GATK
        | opcode::GATKQ
        | opcode::TOUCH => {
            let with_key = matches!(
                op,
                opcode::GETK | opcode::GETKQ | opcode::GATK | opcode::GATKQ
            );
            let touching = matches!(
                op,
                opcode::GAT | opcode::GATQ | opcode::GATK | opcode::GATKQ | opcode::TOUCH
            );
            match take(answers, 0) {
                Outcome::Value(view) => {
                    stats::with(|c| match touching {
                        true => c.touch_hits += 1,
                        false => c.get_hits += 1,
                    });
                    let key: &[u8] = if with_key { &request.key } else { &[] };
                    // TOUCH answers with the flags but not the value.
                    let value: &[u8] = if op == opcode::TOUCH { &[] } else { &view.data };
                    let flags = view.flags.to_be_bytes();
                    encode_response(
                        out,
                        op,
                        Status::Success,
                        opaque,
                        view.cas,
                        &flags,
                        key,
                        value,
                    );
                }
                _ => {
                    stats::with(|c| match touching {
                        true => c.touch_misses += 1,
                        false => c.get_misses += 1,
                    });
                    if matches!(
                        op,
                        opcode::GETQ | opcode::GETKQ | opcode::GATQ | opcode::GATKQ
                    ) {
                        return;
                    }
                    if with_key {
                        // GETK's miss carries the key and no text.
                        encode_response(
                            out,
                            op,
                            Status::KeyNotFound,
                            opaque,
                            0,
                            &[],
                            &request.key,
                            &[],
                        );
                    } else {
                        encode_error(out, op, Status::KeyNotFound, opaque);
                    }
                }
            }
        }
        opcode::SET
        | opcode::SETQ
        | opcode::ADD
        | opcode::ADDQ
        | opcode::REPLACE
        | opcode::REPLACEQ
        | opcode::APPEND
        | opcode::APPENDQ
        | opcode::PREPEND
        | opcode::PREPENDQ => match take(answers, 0) {
            Outcome::Stored(cas) => {
                stats::with(|c| c.total_items += 1);
                success(out, cas)
            }
            Outcome::Exists => encode_error(out, op, Status::KeyExists, opaque),
            Outcome::NotFound => encode_error(out, op, Status::KeyNotFound, opaque),
            Outcome::NotStored => {
                let status = match op {
                    opcode::ADD | opcode::ADDQ => Status::KeyExists,
                    opcode::REPLACE | opcode::REPLACEQ => Status::KeyNotFound,
                    _ => Status::NotStored,
                };
                encode_error(out, op, status, opaque)
            }
            _ => encode_error(out, op, Status::OutOfMemory, opaque),
        },
        opcode::DELETE | opcode::DELETEQ => match take(answers, 0) {
            Outcome::Deleted => {
                stats::with(|c| c.delete_hits += 1);
                success(out, 0)
            }
            Outcome::Exists => encode_error(out, op, Status::KeyExists, opaque),
            _ => {
                stats::with(|c| c.delete_misses += 1);
                encode_error(out, op, Status::KeyNotFound, opaque)
            }
        },
        opcode::INCREMENT | opcode::INCREMENTQ | opcode::DECREMENT | opcode::DECREMENTQ => {
            let incr = matches!(op, opcode::INCREMENT | opcode::INCREMENTQ);
            match take(answers, 0) {
                Outcome::Value(view) => {
                    stats::with(|c| match incr {
                        true => c.incr_hits += 1,
                        false => c.decr_hits += 1,
                    });
                    if !is_quiet {
                        let value = semantics::parse_counter(&view.data).unwrap_or(0);
                        let body = value.to_be_bytes();
                        encode_response(
                            out,
                            op,
                            Status::Success,
                            opaque,
                            view.cas,
                            &[],
                            &[],
                            &body,
                        );
                    }
                }
                Outcome::NonNumeric => encode_error(out, op, Status::NonNumeric, opaque),
                Outcome::Exists => encode_error(out, op, Status::KeyExists, opaque),
                _ => {
                    stats::with(|c| match incr {
                        true => c.incr_misses += 1,
                        false => c.decr_misses += 1,
                    });
                    encode_error(out, op, Status::KeyNotFound, opaque)
                }
            }
        }
        // Memcached 1.6 answers VERBOSITY "Unknown command", like any opcode it lacks.
        opcode::QUIT | opcode::FLUSH | opcode::FLUSHQ | opcode::NOOP => success(out, 0),
        opcode::QUITQ => {}
        opcode::VERSION => encode_response(
            out,
            op,
            Status::Success,
            opaque,
            0,
            &[],
            &[],
            super::VERSION.as_bytes(),
        ),
        _ => encode_error(out, op, Status::UnknownCommand, opaque),
    }
}
