//! Sorted-set commands that take members by position rather than by name: ZPOPMIN, ZPOPMAX
//! (and the pop ZMPOP shares), ZRANDMEMBER and ZSCAN.

use bytes::Bytes;

use super::{answer, delete_if_empty, read, write, Outcome};
use crate::command::util::{eq_ignore_case, integer_arg, syntax_error};
use crate::command::ExecContext;
use crate::protocol::reply::Reply;
use crate::protocol::scored::{PairShape, ScoredList};

const ERR_POSITIVE: &str = "ERR value is out of range, must be positive";

// ---- ZPOPMIN, ZPOPMAX ------------------------------------------------------------------------

pub(super) fn zpopmin(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(zpop_command(ctx, args, false))
}

pub(super) fn zpopmax(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(zpop_command(ctx, args, true))
}

/// ZPOPMIN/ZPOPMAX key [count]. Without a count the reply is one flat pair in both protocols;
/// with one, pairs nested in RESP3 (Redis's `genericZpopCommand`).
fn zpop_command(ctx: &mut ExecContext<'_>, args: &[Bytes], max: bool) -> Outcome {
    if args.len() > 3 {
        return Err(syntax_error());
    }
    let (count, shape) = match args.get(2) {
        Some(arg) => {
            let count = integer_arg(arg)?;
            if count < 0 {
                return Err(Reply::error_static(ERR_POSITIVE));
            }
            (count as usize, PairShape::NestedInResp3)
        }
        None => (1, PairShape::Flat),
    };
    let popped = pop(ctx, &args[1], count, max, shape)?;
    Ok(Reply::Scored(Box::new(
        popped.unwrap_or_else(|| ScoredList::new(true, shape)),
    )))
}

/// Removes up to `count` members from the low (or high, `max`) end of the set under `key`;
/// `None` when there is no such key. Shared with ZMPOP.
pub(super) fn pop(
    ctx: &mut ExecContext<'_>,
    key: &[u8],
    count: usize,
    max: bool,
    shape: PairShape,
) -> Result<Option<ScoredList>, Reply> {
    let Some(set) = write(ctx, key)? else {
        return Ok(None);
    };
    let take = count.min(set.len());
    let mut list = ScoredList::new(true, shape);
    let (start, end) = if max {
        (set.len() - take, set.len())
    } else {
        (0, take)
    };
    set.range(start, end, max, |member, score| list.push(member, score));
    set.remove_ranks(start, end);
    delete_if_empty(ctx, key);
    Ok(Some(list))
}

// ---- ZRANDMEMBER -----------------------------------------------------------------------------

/// ZRANDMEMBER key [count [WITHSCORES]] (`zrandmemberCommand`): a positive count gives distinct
/// members, a negative one allows repeats.
pub(super) fn zrandmember(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let Some(count_arg) = args.get(2) else {
            let Some(set) = read(ctx, &args[1])?.filter(|set| !set.is_empty()) else {
                return Ok(Reply::Null);
            };
            let rank = fastrand::usize(..set.len());
            return Ok(set
                .get(rank)
                .map_or(Reply::Null, |(member, _)| Reply::bulk_from_slice(member)));
        };
        let count = integer_arg(count_arg)?;
        if count == i64::MIN {
            return Err(Reply::error(format!(
                "ERR value is out of range, must be between {} and {}",
                -i64::MAX,
                i64::MAX
            )));
        }
        let with_scores = match args.len() {
            3 => false,
            4 if eq_ignore_case(&args[3], "withscores") => true,
            _ => return Err(syntax_error()),
        };
        if with_scores && !(-(i64::MAX / 2)..=i64::MAX / 2).contains(&count) {
            return Err(Reply::error_static("ERR value is out of range"));
        }
        let mut list = ScoredList::new(with_scores, PairShape::NestedInResp3);
        let Some(set) = read(ctx, &args[1])?.filter(|set| !set.is_empty()) else {
            return Ok(Reply::Scored(Box::new(list)));
        };
        let len = set.len();
        let mut push_rank = |rank: usize| {
            if let Some((member, score)) = set.get(rank) {
                list.push(member, score);
            }
        };
        if count < 0 {
            for _ in 0..count.unsigned_abs() {
                push_rank(fastrand::usize(..len));
            }
        } else if count as usize >= len {
            set.range(0, len, false, |member, score| list.push(member, score));
        } else {
            for rank in distinct_ranks(count as usize, len) {
                push_rank(rank);
            }
        }
        Ok(Reply::Scored(Box::new(list)))
    })())
}

/// `count` distinct random ranks below `len` (`count < len`), in random order.
fn distinct_ranks(count: usize, len: usize) -> Vec<usize> {
    if count * 2 > len {
        // Many of them: a partial Fisher-Yates shuffle of every rank.
        let mut ranks: Vec<usize> = (0..len).collect();
        for i in 0..count {
            let j = fastrand::usize(i..len);
            ranks.swap(i, j);
        }
        ranks.truncate(count);
        ranks
    } else {
        let mut seen = ahash::AHashSet::with_capacity(count);
        let mut ranks = Vec::with_capacity(count);
        while ranks.len() < count {
            let rank = fastrand::usize(..len);
            if seen.insert(rank) {
                ranks.push(rank);
            }
        }
        ranks
    }
}

// ---- ZSCAN -----------------------------------------------------------------------------------

/// ZSCAN key cursor [MATCH pattern] [COUNT count]. Scores come back as bulk strings in both
/// protocols, as in Redis.
pub(super) fn zscan(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let cursor = std::str::from_utf8(&args[2])
            .ok()
            .and_then(|text| text.parse::<u64>().ok())
            .ok_or_else(|| Reply::error_static("ERR invalid cursor"))?;
        let options = crate::command::keys::parse_scan_options(args, 3)?;
        if options.type_filter.is_some() {
            return Err(syntax_error());
        }
        let Some(set) = read(ctx, &args[1])? else {
            return Ok(scan_reply(0, Vec::new()));
        };
        let mut items = Vec::new();
        let next = set.scan(cursor, options.count, |member, score| {
            let matches = options
                .pattern
                .as_ref()
                .is_none_or(|pattern| crate::keyspace::glob::glob_match(pattern, member, false));
            if matches {
                items.push(Reply::bulk_from_slice(member));
                items.push(Reply::bulk(crate::protocol::reply::format_double(score)));
            }
        });
        Ok(scan_reply(next, items))
    })())
}

fn scan_reply(cursor: u64, items: Vec<Reply>) -> Reply {
    Reply::Array(vec![Reply::bulk(cursor.to_string()), Reply::Array(items)])
}
