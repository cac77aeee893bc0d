//! Blocking pops, Redis's `blocking.c` front half: BLPOP BRPOP BLMOVE BRPOPLPUSH BLMPOP BZPOPMIN
//! BZPOPMAX BZMPOP.
//!
//! The handlers in this table are the commands' *non-blocking* forms, as Redis runs them inside
//! MULTI/EXEC and scripts (`CLIENT_DENY_BLOCKING`): they pop when a key has data and otherwise
//! reply with a null (a null bulk for BLMOVE/BRPOPLPUSH, a null array for the rest). Anything that
//! runs a handler without a connection to park (transactions, scripts, the coordinator's gathered
//! scratch keyspace) therefore gets the right behaviour for free. Blocking itself is the server's
//! business: a connection sends the command to the owning shard as a blocking request, the shard
//! runs this same handler, and a null ([`would_block`]) parks the client in `shard::blocking` until
//! a write makes one of the keys ready, when the shard runs the handler again (Redis 7.2 also
//! re-executes the whole command on wake-up, so the first non-empty key in argument order wins).
//!
//! Each handler reuses the plain command (LPOP, LMOVE, LMPOP, ZPOPMIN, ZMPOP) through the command
//! table and records what it did as that plain command (`ExecContext::propagate_as`): the binlog
//! never holds a blocking command.

use bytes::Bytes;

use super::collection::keys_after_numkeys;
use super::util::parse_f64;
use super::{lookup, CommandSpec, ExecContext, Routing};
use crate::protocol::reply::Reply;

/// Which value type wakes a client blocked on a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    List,
    ZSet,
}

const BLOCKING: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &["write", "blocking"],
    first_key: 1,
    last_key: -2,
    step: 1,
    key_finder: None,
    routing: Routing::MultiKey,
    handler: None,
    group: "list",
    summary: "",
    since: "",
};

/// Keys of BLMPOP/BZMPOP: `timeout numkeys key ...`.
fn keys_after_timeout(args: &[Bytes]) -> Vec<usize> {
    if args.len() < 2 {
        return Vec::new();
    }
    keys_after_numkeys(&args[1..])
        .into_iter()
        .map(|i| i + 1)
        .collect()
}

/// Arity, flags and key positions as Redis 7's `COMMAND INFO` reports them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "blpop",
        arity: -3,
        handler: Some(blpop),
        summary: "Removes and returns the first element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        since: "2.0.0",
        ..BLOCKING
    },
    CommandSpec {
        name: "brpop",
        arity: -3,
        handler: Some(brpop),
        summary: "Removes and returns the last element in a list. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        since: "2.0.0",
        ..BLOCKING
    },
    CommandSpec {
        name: "brpoplpush",
        arity: 4,
        flags: &["write", "denyoom", "blocking"],
        last_key: 2,
        handler: Some(brpoplpush),
        summary: "Pops an element from a list, pushes it to another list and returns it. Block until an element is available otherwise. Deletes the list if the last element was popped.",
        since: "2.2.0",
        ..BLOCKING
    },
    CommandSpec {
        name: "blmove",
        arity: 6,
        flags: &["write", "denyoom", "blocking"],
        last_key: 2,
        handler: Some(blmove),
        summary: "Pops an element from a list, pushes it to another list and returns it. Blocks until an element is available otherwise. Deletes the list if the last element was moved.",
        since: "6.2.0",
        ..BLOCKING
    },
    CommandSpec {
        name: "blmpop",
        arity: -5,
        first_key: 3,
        last_key: 3,
        key_finder: Some(keys_after_timeout),
        handler: Some(blmpop),
        summary: "Pops the first element from one of multiple lists. Blocks until an element is available otherwise. Deletes the list if the last element was popped.",
        since: "7.0.0",
        ..BLOCKING
    },
    CommandSpec {
        name: "bzpopmin",
        arity: -3,
        flags: &["write", "fast", "blocking"],
        handler: Some(bzpopmin),
        group: "sorted-set",
        summary: "Removes and returns the member with the lowest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        since: "5.0.0",
        ..BLOCKING
    },
    CommandSpec {
        name: "bzpopmax",
        arity: -3,
        flags: &["write", "fast", "blocking"],
        handler: Some(bzpopmax),
        group: "sorted-set",
        summary: "Removes and returns the member with the highest score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        since: "5.0.0",
        ..BLOCKING
    },
    CommandSpec {
        name: "bzmpop",
        arity: -5,
        first_key: 3,
        last_key: 3,
        key_finder: Some(keys_after_timeout),
        handler: Some(bzmpop),
        group: "sorted-set",
        summary: "Removes and returns a member by score from one or more sorted sets. Blocks until a member is available otherwise. Deletes the sorted set if the last element was popped.",
        since: "7.0.0",
        ..BLOCKING
    },
];

/// Whether a spec is one of the blocking commands above. Every command asks on its way in, so
/// this looks only at the last flag, where every row of this table has "blocking".
pub fn is_blocking(spec: &CommandSpec) -> bool {
    spec.flags.last() == Some(&"blocking")
}

/// Which value type the blocking command waits for.
pub fn wait_kind(spec: &CommandSpec) -> WaitKind {
    if spec.group == "sorted-set" {
        WaitKind::ZSet
    } else {
        WaitKind::List
    }
}

/// Whether a reply of a blocking command's handler means "nothing to pop yet": the client blocks.
/// Served replies are never null.
pub fn would_block(reply: &Reply) -> bool {
    matches!(reply, Reply::Null | Reply::NullArray)
}

/// What a blocked client gets on timeout (and on CLIENT UNBLOCK ... TIMEOUT): a null array for
/// every blocking command, BLMOVE/BRPOPLPUSH included, as in Redis (`replyToBlockedClientTimedOut`).
pub fn timeout_reply() -> Reply {
    Reply::NullArray
}

/// Where the timeout argument is: last, or first for BLMPOP/BZMPOP.
fn timeout_arg<'a>(spec: &CommandSpec, args: &'a [Bytes]) -> &'a [u8] {
    if spec.name == "blmpop" || spec.name == "bzmpop" {
        &args[1]
    } else {
        &args[args.len() - 1]
    }
}

/// The command's timeout in milliseconds (`None` = block forever), with Redis's errors
/// (`getTimeoutFromObjectOrReply`: seconds as a long double, rounded up to milliseconds).
pub fn timeout_ms(spec: &CommandSpec, args: &[Bytes]) -> Result<Option<u64>, Reply> {
    parse_timeout(timeout_arg(spec, args))
}

fn parse_timeout(arg: &[u8]) -> Result<Option<u64>, Reply> {
    let seconds = parse_f64(arg)
        .ok_or_else(|| Reply::error_static("ERR timeout is not a float or out of range"))?;
    let millis = (seconds * 1000.0).ceil();
    if millis > i64::MAX as f64 {
        return Err(Reply::error_static("ERR timeout is out of range"));
    }
    if millis < 0.0 {
        return Err(Reply::error_static("ERR timeout is negative"));
    }
    Ok((millis > 0.0).then_some(millis as u64))
}

fn name(text: &'static str) -> Bytes {
    Bytes::from_static(text.as_bytes())
}

/// Runs the plain command `args` (name first) through the table in this context.
fn plain(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    match lookup(&args[0]).and_then(|spec| spec.handler) {
        Some(handler) => handler(ctx, args),
        None => super::unknown_command_error(args),
    }
}

/// BLPOP/BRPOP key [key ...] timeout: `[key, item]` from the first non-empty list.
fn pop_first(ctx: &mut ExecContext<'_>, args: &[Bytes], pop: &'static str) -> Reply {
    if let Err(error) = parse_timeout(&args[args.len() - 1]) {
        return error;
    }
    for key in &args[1..args.len() - 1] {
        let record = vec![name(pop), key.clone()];
        match plain(ctx, &record) {
            Reply::Bulk(item) => {
                ctx.propagate_as(vec![record]);
                return Reply::Array(vec![Reply::Bulk(key.clone()), Reply::Bulk(item)]);
            }
            error @ Reply::Error(_) => return error,
            _ => {}
        }
    }
    Reply::NullArray
}

fn blpop(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    pop_first(ctx, args, "LPOP")
}

fn brpop(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    pop_first(ctx, args, "RPOP")
}

/// BLMOVE/BRPOPLPUSH as LMOVE: the moved item, or a null bulk when the source is empty.
fn move_item(ctx: &mut ExecContext<'_>, record: Vec<Bytes>, timeout: &[u8]) -> Reply {
    if let Err(error) = parse_timeout(timeout) {
        return error;
    }
    let reply = plain(ctx, &record);
    if matches!(reply, Reply::Bulk(_)) {
        ctx.propagate_as(vec![record]);
    }
    reply
}

fn blmove(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let record = vec![
        name("LMOVE"),
        args[1].clone(),
        args[2].clone(),
        args[3].clone(),
        args[4].clone(),
    ];
    move_item(ctx, record, &args[5])
}

fn brpoplpush(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let record = vec![
        name("LMOVE"),
        args[1].clone(),
        args[2].clone(),
        name("RIGHT"),
        name("LEFT"),
    ];
    move_item(ctx, record, &args[3])
}

/// BLMPOP/BZMPOP timeout numkeys ...: LMPOP/ZMPOP over the rest, logged as the pop of the one
/// key served (`LPOP key n`, `ZPOPMIN key n`), as Redis propagates them.
fn multi_pop(ctx: &mut ExecContext<'_>, args: &[Bytes], plain_name: &'static str) -> Reply {
    if let Err(error) = parse_timeout(&args[1]) {
        return error;
    }
    let mut forwarded = Vec::with_capacity(args.len() - 1);
    forwarded.push(name(plain_name));
    forwarded.extend(args[2..].iter().cloned());
    let reply = plain(ctx, &forwarded);
    if let Reply::Array(items) = &reply {
        if let (Some(Reply::Bulk(key)), Some(popped)) = (items.first(), items.get(1)) {
            let count = match popped {
                Reply::Array(items) => items.len(),
                Reply::Scored(list) => list.len(),
                _ => 1,
            };
            // The direction argument follows the keys; the handler validated it.
            let at = keys_after_timeout(args).last().map_or(0, |last| last + 1);
            let direction = args.get(at).map_or(&b""[..], |a| &a[..]);
            let pop = match (plain_name, direction.eq_ignore_ascii_case(b"left")) {
                ("LMPOP", true) => "LPOP",
                ("LMPOP", false) => "RPOP",
                _ if direction.eq_ignore_ascii_case(b"min") => "ZPOPMIN",
                _ => "ZPOPMAX",
            };
            ctx.propagate_as(vec![vec![
                name(pop),
                key.clone(),
                Bytes::from(count.to_string()),
            ]]);
        }
    }
    reply
}

fn blmpop(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    multi_pop(ctx, args, "LMPOP")
}

fn bzmpop(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    multi_pop(ctx, args, "ZMPOP")
}

/// BZPOPMIN/BZPOPMAX key [key ...] timeout: `[key, member, score]` from the first non-empty set.
fn zpop_first(ctx: &mut ExecContext<'_>, args: &[Bytes], pop: &'static str) -> Reply {
    if let Err(error) = parse_timeout(&args[args.len() - 1]) {
        return error;
    }
    for key in &args[1..args.len() - 1] {
        let record = vec![name(pop), key.clone()];
        match plain(ctx, &record) {
            Reply::Scored(list) => {
                if let Some((member, score)) = list.pairs().next() {
                    let reply = Reply::Array(vec![
                        Reply::Bulk(key.clone()),
                        Reply::bulk_from_slice(member),
                        Reply::Double(score),
                    ]);
                    ctx.propagate_as(vec![record]);
                    return reply;
                }
            }
            error @ Reply::Error(_) => return error,
            _ => {}
        }
    }
    Reply::NullArray
}

fn bzpopmin(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    zpop_first(ctx, args, "ZPOPMIN")
}

fn bzpopmax(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    zpop_first(ctx, args, "ZPOPMAX")
}

#[cfg(test)]
mod tests;
