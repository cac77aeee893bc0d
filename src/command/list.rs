//! List commands, Redis's `t_list.c`: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX
//! LSET LINSERT LREM LTRIM LPOS LMOVE RPOPLPUSH LMPOP.
//!
//! Replies and error texts are Redis 7's. The value lives in `keyspace::list` (a quicklist of
//! listpack nodes). Indexes follow Redis: negative counts from the tail, ranges are clamped.
//! LMOVE/RPOPLPUSH/LMPOP run with all their keys local (one shard, or the coordinator's gathered
//! scratch keyspace). Blocking variants (BLPOP, BLMOVE, ...) are not here.

use bytes::Bytes;

use super::collection::{
    bulk_array, keys_after_numkeys, or_reply, positive_arg, range_arg, read, remove_if_empty,
    shared_bulks, write, write_or_create,
};
use super::util::{self, eq_ignore_case, integer_arg};
use super::{arity_error, CommandSpec, ExecContext, Routing};
use crate::keyspace::list::List;
use crate::keyspace::EncodingLimits;
use crate::protocol::reply::Reply;

const LIST: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &[],
    first_key: 1,
    last_key: 1,
    step: 1,
    key_finder: None,
    routing: Routing::SingleKey,
    handler: None,
    group: "list",
    summary: "",
    since: "",
};

/// Arity, flags and key positions as Redis 7's `COMMAND INFO` reports them (LMPOP's keys follow
/// its numkeys argument: `key_finder`).
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "lpush",
        arity: -3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(lpush),
        summary: "Prepends one or more elements to a list. Creates the key if it doesn't exist.",
        since: "1.0.0",
        ..LIST
    },
    CommandSpec {
        name: "rpush",
        arity: -3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(rpush),
        summary: "Appends one or more elements to a list. Creates the key if it doesn't exist.",
        since: "1.0.0",
        ..LIST
    },
    CommandSpec {
        name: "lpushx",
        arity: -3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(lpushx),
        summary: "Prepends one or more elements to a list only when the list exists.",
        since: "2.2.0",
        ..LIST
    },
    CommandSpec {
        name: "rpushx",
        arity: -3,
        flags: &["write", "denyoom", "fast"],
        handler: Some(rpushx),
        summary: "Appends an element to a list only when the list exists.",
        since: "2.2.0",
        ..LIST
    },
    CommandSpec {
        name: "lpop",
        arity: -2,
        flags: &["write", "fast"],
        handler: Some(lpop),
        summary: "Returns the first elements in a list after removing it. Deletes the list if the last element was popped.",
        since: "1.0.0",
        ..LIST
    },
    CommandSpec {
        name: "rpop",
        arity: -2,
        flags: &["write", "fast"],
        handler: Some(rpop),
        summary: "Returns and removes the last elements of a list. Deletes the list if the last element was popped.",
        since: "1.0.0",
        ..LIST
    },
    CommandSpec {
        name: "llen",
        arity: 2,
        flags: &["readonly", "fast"],
        handler: Some(llen),
        summary: "Returns the length of a list.",
        since: "1.0.0",
        ..LIST
    },
    CommandSpec {
        name: "lrange",
        arity: 4,
        flags: &["readonly"],
        handler: Some(lrange),
        summary: "Returns a range of elements from a list.",
        since: "1.0.0",
        ..LIST
    },
    CommandSpec {
        name: "lindex",
        arity: 3,
        flags: &["readonly"],
        handler: Some(lindex),
        summary: "Returns an element from a list by its index.",
        since: "1.0.0",
        ..LIST
    },
    CommandSpec {
        name: "lset",
        arity: 4,
        flags: &["write", "denyoom"],
        handler: Some(lset),
        summary: "Sets the value of an element in a list by its index.",
        since: "1.0.0",
        ..LIST
    },
    CommandSpec {
        name: "linsert",
        arity: 5,
        flags: &["write", "denyoom"],
        handler: Some(linsert),
        summary: "Inserts an element before or after another element in a list.",
        since: "2.2.0",
        ..LIST
    },
    CommandSpec {
        name: "lrem",
        arity: 4,
        flags: &["write"],
        handler: Some(lrem),
        summary: "Removes elements from a list. Deletes the list if the last element was removed.",
        since: "1.0.0",
        ..LIST
    },
    CommandSpec {
        name: "ltrim",
        arity: 4,
        flags: &["write"],
        handler: Some(ltrim),
        summary: "Removes elements from both ends a list. Deletes the list if all elements were trimmed.",
        since: "1.0.0",
        ..LIST
    },
    CommandSpec {
        name: "lpos",
        arity: -3,
        flags: &["readonly"],
        handler: Some(lpos),
        summary: "Returns the index of matching elements in a list.",
        since: "6.0.6",
        ..LIST
    },
    CommandSpec {
        name: "lmove",
        arity: 5,
        flags: &["write", "denyoom"],
        last_key: 2,
        routing: Routing::MultiKey,
        handler: Some(lmove),
        summary: "Returns an element after popping it from one list and pushing it to another. Deletes the list if the last element was moved.",
        since: "6.2.0",
        ..LIST
    },
    CommandSpec {
        name: "rpoplpush",
        arity: 3,
        flags: &["write", "denyoom"],
        last_key: 2,
        routing: Routing::MultiKey,
        handler: Some(rpoplpush),
        summary: "Returns the last element of a list after removing and pushing it to another list. Deletes the list if the last element was popped.",
        since: "1.2.0",
        ..LIST
    },
    CommandSpec {
        name: "lmpop",
        arity: -4,
        flags: &["write"],
        first_key: 2,
        last_key: 2,
        key_finder: Some(keys_after_numkeys),
        routing: Routing::MultiKey,
        handler: Some(lmpop),
        summary: "Returns multiple elements from a list after removing them. Deletes the list if the last element was popped.",
        since: "7.0.0",
        ..LIST
    },
];

const ERR_INDEX_RANGE: &str = "ERR index out of range";

#[derive(Clone, Copy, PartialEq)]
enum End {
    Left,
    Right,
}

/// LEFT or RIGHT, any case; a syntax error otherwise.
fn parse_end(arg: &[u8]) -> Result<End, Reply> {
    if eq_ignore_case(arg, "left") {
        Ok(End::Left)
    } else if eq_ignore_case(arg, "right") {
        Ok(End::Right)
    } else {
        Err(util::syntax_error())
    }
}

fn push(list: &mut List, end: End, item: &[u8], limits: &EncodingLimits) {
    match end {
        End::Left => list.push_front(item, limits),
        End::Right => list.push_back(item, limits),
    }
}

fn pop(list: &mut List, end: End, limits: &EncodingLimits) -> Option<Bytes> {
    match end {
        End::Left => list.pop_front(limits),
        End::Right => list.pop_back(limits),
    }
}

/// LPUSH/RPUSH (`create`) and LPUSHX/RPUSHX: the length after the pushes.
fn push_generic(ctx: &mut ExecContext<'_>, args: &[Bytes], end: End, create: bool) -> Reply {
    let limits = ctx.limits.encoding.clone();
    let list = if create {
        or_reply!(write_or_create(ctx, &args[1], List::new))
    } else {
        match or_reply!(write::<List>(ctx, &args[1])) {
            Some(list) => list,
            None => return Reply::Integer(0),
        }
    };
    for item in &args[2..] {
        push(list, end, item, &limits);
    }
    Reply::Integer(list.len() as i64)
}

fn lpush(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Left, true)
}

fn rpush(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Right, true)
}

fn lpushx(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Left, false)
}

fn rpushx(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    push_generic(ctx, args, End::Right, false)
}

/// Pops up to `count` items from one end of the list under `key`, deleting the key when it
/// empties; `None` when there is no key.
fn pop_items(
    ctx: &mut ExecContext<'_>,
    key: &[u8],
    end: End,
    count: usize,
) -> Result<Option<Vec<Bytes>>, Reply> {
    let limits = ctx.limits.encoding.clone();
    let Some(list) = write::<List>(ctx, key)? else {
        return Ok(None);
    };
    let mut items = Vec::with_capacity(count.min(list.len()));
    while items.len() < count {
        match pop(list, end, &limits) {
            Some(item) => items.push(item),
            None => break,
        }
    }
    remove_if_empty::<List>(ctx, key);
    Ok(Some(items))
}

/// LPOP/RPOP key [count]: one item (or null), or with a count an array (null array for no key).
fn pop_generic(ctx: &mut ExecContext<'_>, args: &[Bytes], end: End) -> Reply {
    if args.len() > 3 {
        return arity_error(&args[0]);
    }
    let Some(count_arg) = args.get(2) else {
        let items = or_reply!(pop_items(ctx, &args[1], end, 1));
        return items
            .and_then(|items| items.into_iter().next())
            .map_or(Reply::Null, Reply::Bulk);
    };
    let count = or_reply!(positive_arg(count_arg, None));
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    match or_reply!(pop_items(ctx, &args[1], end, count)) {
        Some(items) => bulk_array(items),
        None => Reply::NullArray,
    }
}

fn lpop(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    pop_generic(ctx, args, End::Left)
}

fn rpop(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    pop_generic(ctx, args, End::Right)
}

fn llen(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let list = or_reply!(read::<List>(ctx, &args[1]));
    Reply::Integer(list.map_or(0, List::len) as i64)
}

/// Redis's index arithmetic: a negative index counts from the tail.
fn absolute(index: i64, len: usize) -> Option<usize> {
    let len = len as i64;
    let index = if index < 0 { index + len } else { index };
    (0..len).contains(&index).then_some(index as usize)
}

/// Redis's clamping of a start/stop range over `len` items; `None` when it selects nothing.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 {
        (start + len).max(0)
    } else {
        start
    };
    let stop = if stop < 0 {
        stop + len
    } else {
        stop.min(len - 1)
    };
    (start <= stop && start < len).then_some((start as usize, stop as usize))
}

fn lrange(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let start = or_reply!(integer_arg(&args[2]));
    let stop = or_reply!(integer_arg(&args[3]));
    let Some(list) = or_reply!(read::<List>(ctx, &args[1])) else {
        return Reply::Array(Vec::new());
    };
    let Some((start, stop)) = clamp_range(start, stop, list.len()) else {
        return Reply::Array(Vec::new());
    };
    Reply::Array(shared_bulks(list.iter_from(start).take(stop - start + 1)))
}

/// LINDEX key index; Redis looks the key up before reading the index.
fn lindex(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let Some(list) = or_reply!(read::<List>(ctx, &args[1])) else {
        return Reply::Null;
    };
    let index = or_reply!(integer_arg(&args[2]));
    absolute(index, list.len())
        .and_then(|index| list.get(index))
        .map_or(Reply::Null, Reply::bulk_from_slice)
}

/// LSET key index element; Redis looks the key up before reading the index.
fn lset(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let limits = ctx.limits.encoding.clone();
    let Some(list) = or_reply!(write::<List>(ctx, &args[1])) else {
        return Reply::error_static(util::ERR_NO_SUCH_KEY);
    };
    let index = or_reply!(integer_arg(&args[2]));
    match absolute(index, list.len()) {
        Some(index) if list.set(index, &args[3], &limits) => Reply::ok(),
        _ => Reply::error_static(ERR_INDEX_RANGE),
    }
}

/// LINSERT key BEFORE|AFTER pivot element: the new length, -1 without the pivot, 0 without key.
fn linsert(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let after = if eq_ignore_case(&args[2], "after") {
        true
    } else if eq_ignore_case(&args[2], "before") {
        false
    } else {
        return util::syntax_error();
    };
    let limits = ctx.limits.encoding.clone();
    let Some(list) = or_reply!(write::<List>(ctx, &args[1])) else {
        return Reply::Integer(0);
    };
    let Some(pivot) = list.iter().position(|item| item == &args[3][..]) else {
        return Reply::Integer(-1);
    };
    list.insert(pivot + after as usize, &args[4], &limits);
    Reply::Integer(list.len() as i64)
}

fn lrem(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let count = or_reply!(integer_arg(&args[2]));
    let limits = ctx.limits.encoding.clone();
    let Some(list) = or_reply!(write::<List>(ctx, &args[1])) else {
        return Reply::Integer(0);
    };
    let removed = list.remove_matching(&args[3], count, &limits);
    remove_if_empty::<List>(ctx, &args[1]);
    Reply::Integer(removed as i64)
}

fn ltrim(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let start = or_reply!(integer_arg(&args[2]));
    let stop = or_reply!(integer_arg(&args[3]));
    let limits = ctx.limits.encoding.clone();
    let Some(list) = or_reply!(write::<List>(ctx, &args[1])) else {
        return Reply::ok();
    };
    let len = list.len();
    match clamp_range(start, stop, len) {
        Some((start, stop)) => {
            list.remove_back(len - 1 - stop, &limits);
            list.remove_front(start, &limits);
        }
        None => list.remove_front(len, &limits),
    }
    remove_if_empty::<List>(ctx, &args[1]);
    Reply::ok()
}

/// LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len].
fn lpos(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let (mut rank, mut count, mut maxlen) = (1i64, None, 0i64);
    let mut index = 3;
    while index < args.len() {
        let has_value = index + 1 < args.len();
        let option = &args[index];
        if eq_ignore_case(option, "rank") && has_value {
            rank = or_reply!(range_arg(&args[index + 1], -i64::MAX, i64::MAX, None));
            if rank == 0 {
                return Reply::error_static(
                    "ERR RANK can't be zero: use 1 to start from the first match, 2 from the \
                     second ... or use negative to start from the end of the list",
                );
            }
        } else if eq_ignore_case(option, "count") && has_value {
            count = Some(or_reply!(positive_arg(
                &args[index + 1],
                Some("COUNT can't be negative")
            )));
        } else if eq_ignore_case(option, "maxlen") && has_value {
            maxlen = or_reply!(positive_arg(
                &args[index + 1],
                Some("MAXLEN can't be negative")
            ));
        } else {
            return util::syntax_error();
        }
        index += 2;
    }
    let Some(list) = or_reply!(read::<List>(ctx, &args[1])) else {
        return if count.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Null
        };
    };
    let element = &args[2][..];
    let len = list.len();
    let scanned = if maxlen == 0 {
        len
    } else {
        (maxlen as u64).min(len as u64) as usize
    };
    let wanted = match count {
        Some(0) => usize::MAX,
        Some(count) => usize::try_from(count).unwrap_or(usize::MAX),
        None => 1,
    };
    let skip = usize::try_from(rank.unsigned_abs() - 1).unwrap_or(usize::MAX);
    let positions: Box<dyn Iterator<Item = (usize, &[u8])>> = if rank > 0 {
        Box::new(list.iter().enumerate().take(scanned))
    } else {
        Box::new(
            list.iter()
                .rev()
                .enumerate()
                .take(scanned)
                .map(|(back, item)| (len - 1 - back, item)),
        )
    };
    let matches: Vec<i64> = positions
        .filter(|(_, item)| *item == element)
        .skip(skip)
        .take(wanted)
        .map(|(position, _)| position as i64)
        .collect();
    match count {
        Some(_) => Reply::Array(matches.into_iter().map(Reply::Integer).collect()),
        None => matches
            .first()
            .map_or(Reply::Null, |&at| Reply::Integer(at)),
    }
}

/// Pops from one end of `source` and pushes onto one end of `destination` (which may be the
/// same list). Redis's order: no source gives null before the destination's type is checked.
fn move_item(
    ctx: &mut ExecContext<'_>,
    source: &[u8],
    destination: &[u8],
    from: End,
    to: End,
) -> Reply {
    let limits = ctx.limits.encoding.clone();
    if or_reply!(write::<List>(ctx, source)).is_none() {
        return Reply::Null;
    }
    or_reply!(write::<List>(ctx, destination));
    let Some(item) =
        or_reply!(write::<List>(ctx, source)).and_then(|list| pop(list, from, &limits))
    else {
        return Reply::Null;
    };
    if source != destination {
        remove_if_empty::<List>(ctx, source);
    }
    let target = or_reply!(write_or_create(ctx, destination, List::new));
    push(target, to, &item, &limits);
    Reply::Bulk(item)
}

/// LMOVE source destination LEFT|RIGHT LEFT|RIGHT.
fn lmove(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let from = or_reply!(parse_end(&args[3]));
    let to = or_reply!(parse_end(&args[4]));
    move_item(ctx, &args[1], &args[2], from, to)
}

fn rpoplpush(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    move_item(ctx, &args[1], &args[2], End::Right, End::Left)
}

/// LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]: pops from the first non-empty list,
/// replying `[key, [items]]`, or a null array when every list is empty.
fn lmpop(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let numkeys = or_reply!(range_arg(
        &args[1],
        1,
        i64::MAX,
        Some("numkeys should be greater than 0")
    )) as u64;
    let where_index = 2u64.saturating_add(numkeys);
    if where_index >= args.len() as u64 {
        return util::syntax_error();
    }
    let where_index = where_index as usize;
    let end = or_reply!(parse_end(&args[where_index]));
    let mut count = None;
    let mut index = where_index + 1;
    while index < args.len() {
        if count.is_none() && eq_ignore_case(&args[index], "count") && index + 1 < args.len() {
            count = Some(or_reply!(range_arg(
                &args[index + 1],
                1,
                i64::MAX,
                Some("count should be greater than 0")
            )));
            index += 2;
        } else {
            return util::syntax_error();
        }
    }
    let count = usize::try_from(count.unwrap_or(1)).unwrap_or(usize::MAX);
    for key in &args[2..where_index] {
        if let Some(items) = or_reply!(pop_items(ctx, key, end, count)) {
            if !items.is_empty() {
                return Reply::Array(vec![Reply::Bulk(key.clone()), bulk_array(items)]);
            }
        }
    }
    Reply::NullArray
}

#[cfg(test)]
mod tests;
