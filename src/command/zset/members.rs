//! Sorted-set commands that name their members: ZADD, ZINCRBY, ZREM, ZCARD, ZSCORE, ZMSCORE,
//! ZRANK, ZREVRANK (Redis's `zaddGenericCommand`, `zremCommand`, `zrankGenericCommand`, ...).
//!
//! Binlog: ZADD INCR and ZINCRBY are logged as their effect, `ZADD key <resulting score>
//! member`, so that a replay never re-does float arithmetic (as Redis logs INCRBYFLOAT as a SET).
//! Every other sorted-set write is deterministic given the keyspace and is logged as sent.

use bytes::Bytes;

use super::{answer, delete_if_empty, read, write, Outcome};
use crate::command::util::{eq_ignore_case, parse_f64, syntax_error};
use crate::command::{arity_error, ExecContext};
use crate::keyspace::zset::ZSet;
use crate::keyspace::{Entry, Value};
use crate::protocol::reply::{format_double, Reply};

const ERR_NOT_FLOAT: &str = "ERR value is not a valid float";
const ERR_NAN: &str = "ERR resulting score is not a number (NaN)";
const ERR_XX_NX: &str = "ERR XX and NX options at the same time are not compatible";
const ERR_GT_LT_NX: &str = "ERR GT, LT, and/or NX options at the same time are not compatible";
const ERR_INCR_PAIR: &str = "ERR INCR option supports a single increment-element pair";

/// A score argument (ZADD, ZINCRBY): Redis's "not a valid float" when it is not one.
fn score_arg(arg: &[u8]) -> Result<f64, Reply> {
    parse_f64(arg).ok_or_else(|| Reply::error_static(ERR_NOT_FLOAT))
}

// ---- ZADD, ZINCRBY ---------------------------------------------------------------------------

/// ZADD's options (`zaddGenericCommand`).
#[derive(Default)]
struct AddFlags {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
    ch: bool,
    incr: bool,
}

pub(super) fn zadd(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(zadd_generic(ctx, args, false))
}

pub(super) fn zincrby(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(zadd_generic(ctx, args, true))
}

/// ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ..., and ZINCRBY key increment member (which
/// Redis runs through the same code with INCR set).
fn zadd_generic(ctx: &mut ExecContext<'_>, args: &[Bytes], incr: bool) -> Outcome {
    let mut flags = AddFlags {
        incr,
        ..AddFlags::default()
    };
    let mut first = 2;
    while let Some(arg) = args.get(first) {
        let flag = if eq_ignore_case(arg, "nx") {
            &mut flags.nx
        } else if eq_ignore_case(arg, "xx") {
            &mut flags.xx
        } else if eq_ignore_case(arg, "gt") {
            &mut flags.gt
        } else if eq_ignore_case(arg, "lt") {
            &mut flags.lt
        } else if eq_ignore_case(arg, "ch") {
            &mut flags.ch
        } else if eq_ignore_case(arg, "incr") {
            &mut flags.incr
        } else {
            break;
        };
        *flag = true;
        first += 1;
    }
    let elements = &args[first..];
    if elements.is_empty() || !elements.len().is_multiple_of(2) {
        return Err(syntax_error());
    }
    if flags.nx && flags.xx {
        return Err(Reply::error_static(ERR_XX_NX));
    }
    if (flags.nx && (flags.gt || flags.lt)) || (flags.gt && flags.lt) {
        return Err(Reply::error_static(ERR_GT_LT_NX));
    }
    if flags.incr && elements.len() > 2 {
        return Err(Reply::error_static(ERR_INCR_PAIR));
    }
    let pairs = elements
        .chunks(2)
        .map(|pair| Ok((score_arg(&pair[0])?, &pair[1])))
        .collect::<Result<Vec<_>, Reply>>()?;

    let key = &args[1];
    let limits = ctx.limits.zset;
    if write(ctx, key)?.is_none() {
        if flags.xx {
            return Ok(if flags.incr {
                Reply::Null
            } else {
                Reply::Integer(0)
            });
        }
        store_placeholder(ctx, key);
    }
    let set = write(ctx, key)?.expect("present: found or just created");
    let (mut added, mut updated, mut processed) = (0, 0, 0);
    let mut last_score = 0.0;
    let mut failure = None;
    for (score, member) in pairs {
        let mut score = score;
        match set.score(member) {
            Some(current) => {
                if flags.nx {
                    continue;
                }
                if flags.incr {
                    score += current;
                    if score.is_nan() {
                        failure = Some(Reply::error_static(ERR_NAN));
                        break;
                    }
                }
                if (flags.lt && score >= current) || (flags.gt && score <= current) {
                    continue;
                }
                last_score = score;
                processed += 1;
                if score != current {
                    set.insert(member, score, &limits);
                    updated += 1;
                }
            }
            None if !flags.xx => {
                set.insert(member, score, &limits);
                last_score = score;
                added += 1;
                processed += 1;
            }
            None => {}
        }
    }
    // A new key that nothing was added to (NX/GT/LT skipped every member can't happen on a new
    // key, but an XX-free INCR that failed could): never leave it empty.
    delete_if_empty(ctx, key);
    if let Some(error) = failure {
        return Err(error);
    }
    Ok(if flags.incr {
        if processed > 0 {
            let member = args.last().cloned().unwrap_or_default();
            ctx.propagate_as(vec![vec![
                Bytes::from_static(b"ZADD"),
                key.clone(),
                Bytes::from(format_double(last_score)),
                member,
            ]]);
            Reply::Double(last_score)
        } else {
            Reply::Null
        }
    } else if flags.ch {
        Reply::Integer(added + updated)
    } else {
        Reply::Integer(added)
    })
}

/// Creates an empty sorted set under `key` for ZADD to fill (removed again if left empty).
fn store_placeholder(ctx: &mut ExecContext<'_>, key: &[u8]) {
    ctx.db().insert(
        Bytes::copy_from_slice(key),
        Entry {
            value: Value::ZSet(ZSet::new()),
            expire_at: 0,
        },
    );
}

// ---- ZREM, ZCARD, ZSCORE, ZMSCORE, ZRANK ----------------------------------------------------

pub(super) fn zrem(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let Some(set) = write(ctx, &args[1])? else {
            return Ok(Reply::Integer(0));
        };
        let removed = args[2..]
            .iter()
            .filter(|member| set.remove(member).is_some())
            .count();
        delete_if_empty(ctx, &args[1]);
        Ok(Reply::Integer(removed as i64))
    })())
}

pub(super) fn zcard(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(read(ctx, &args[1]).map(|set| Reply::Integer(set.map_or(0, |set| set.len() as i64))))
}

pub(super) fn zscore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(read(ctx, &args[1]).map(|set| {
        set.and_then(|set| set.score(&args[2]))
            .map_or(Reply::Null, Reply::Double)
    }))
}

pub(super) fn zmscore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(read(ctx, &args[1]).map(|set| {
        Reply::Array(
            args[2..]
                .iter()
                .map(|member| {
                    set.and_then(|set| set.score(member))
                        .map_or(Reply::Null, Reply::Double)
                })
                .collect(),
        )
    }))
}

pub(super) fn zrank(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(rank_generic(ctx, args, false))
}

pub(super) fn zrevrank(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(rank_generic(ctx, args, true))
}

/// Z[REV]RANK key member [WITHSCORE].
fn rank_generic(ctx: &mut ExecContext<'_>, args: &[Bytes], reverse: bool) -> Outcome {
    if args.len() > 4 {
        return Err(arity_error(&args[0]));
    }
    let with_score = match args.get(3) {
        Some(arg) if eq_ignore_case(arg, "withscore") => true,
        Some(_) => return Err(syntax_error()),
        None => false,
    };
    let missing = if with_score {
        Reply::NullArray
    } else {
        Reply::Null
    };
    let Some(set) = read(ctx, &args[1])? else {
        return Ok(missing);
    };
    let Some(rank) = set.rank(&args[2]) else {
        return Ok(missing);
    };
    let rank = if reverse { set.len() - 1 - rank } else { rank };
    Ok(if with_score {
        let score = set.score(&args[2]).unwrap_or(0.0);
        Reply::Array(vec![Reply::Integer(rank as i64), Reply::Double(score)])
    } else {
        Reply::Integer(rank as i64)
    })
}
