//! Ranges over a sorted set: by rank, by score and by member (lex), as Redis's
//! `zrangeGenericCommand`, `zslParseRange` and `zslParseLexRange` read them.
//!
//! Every range becomes a rank interval `start..end` of the ascending order, found with two
//! binary searches ([`ZSet::partition_point`]); reading it is then O(log n + m) and removing it
//! one call. LIMIT and REV are applied to that interval, not by walking elements.

use bytes::Bytes;

use super::{answer, delete_if_empty, read, source, store_set, write, Outcome};
use crate::command::util::{eq_ignore_case, integer_arg, parse_f64, syntax_error};
use crate::command::ExecContext;
use crate::keyspace::zset::ZSet;
use crate::protocol::reply::Reply;
use crate::protocol::scored::{PairShape, ScoredList};

const ERR_SCORE_RANGE: &str = "ERR min or max is not a float";
const ERR_LEX_RANGE: &str = "ERR min or max not valid string range item";
const ERR_LIMIT_RANK: &str =
    "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX";
const ERR_WITHSCORES_LEX: &str =
    "ERR syntax error, WITHSCORES not supported in combination with BYLEX";

// ---- range types -----------------------------------------------------------------------------

/// A score bound: `(5` is exclusive, `5`, `inf`, `-inf` inclusive.
#[derive(Debug, Clone, Copy)]
struct ScoreBound {
    value: f64,
    exclusive: bool,
}

impl ScoreBound {
    fn parse(arg: &[u8]) -> Option<ScoreBound> {
        let (exclusive, text) = match arg.first() {
            Some(b'(') => (true, &arg[1..]),
            _ => (false, arg),
        };
        parse_f64(text).map(|value| ScoreBound { value, exclusive })
    }
}

/// `min max` as scores.
#[derive(Debug, Clone, Copy)]
pub struct ScoreRange {
    min: ScoreBound,
    max: ScoreBound,
}

impl ScoreRange {
    pub fn parse(min: &[u8], max: &[u8]) -> Result<ScoreRange, Reply> {
        match (ScoreBound::parse(min), ScoreBound::parse(max)) {
            (Some(min), Some(max)) => Ok(ScoreRange { min, max }),
            _ => Err(Reply::error_static(ERR_SCORE_RANGE)),
        }
    }

    /// The ranks `start..end` whose scores are in the range.
    pub fn ranks(&self, set: &ZSet) -> (usize, usize) {
        let ScoreRange { min, max } = *self;
        let start = set
            .partition_point(|_, score| score < min.value || (min.exclusive && score == min.value));
        let end = set.partition_point(|_, score| {
            score < max.value || (!max.exclusive && score == max.value)
        });
        (start, end.max(start))
    }
}

/// A lex bound: `-`, `+`, `[member` (inclusive) or `(member` (exclusive).
#[derive(Debug, Clone)]
enum LexBound {
    NegativeInfinity,
    PositiveInfinity,
    Inclusive(Bytes),
    Exclusive(Bytes),
}

impl LexBound {
    fn parse(arg: &Bytes) -> Option<LexBound> {
        match arg.first()? {
            b'-' if arg.len() == 1 => Some(LexBound::NegativeInfinity),
            b'+' if arg.len() == 1 => Some(LexBound::PositiveInfinity),
            b'[' => Some(LexBound::Inclusive(arg.slice(1..))),
            b'(' => Some(LexBound::Exclusive(arg.slice(1..))),
            _ => None,
        }
    }

    /// Whether `member` sorts before this bound taken as a minimum.
    fn below_min(&self, member: &[u8]) -> bool {
        match self {
            LexBound::NegativeInfinity => false,
            LexBound::PositiveInfinity => true,
            LexBound::Inclusive(bound) => member < &bound[..],
            LexBound::Exclusive(bound) => member <= &bound[..],
        }
    }

    /// Whether `member` is within this bound taken as a maximum.
    fn within_max(&self, member: &[u8]) -> bool {
        match self {
            LexBound::NegativeInfinity => false,
            LexBound::PositiveInfinity => true,
            LexBound::Inclusive(bound) => member <= &bound[..],
            LexBound::Exclusive(bound) => member < &bound[..],
        }
    }
}

/// `min max` as members. Like Redis, meaningful when every score is equal (the set is then
/// ordered by member alone).
#[derive(Debug, Clone)]
pub struct LexRange {
    min: LexBound,
    max: LexBound,
}

impl LexRange {
    pub fn parse(min: &Bytes, max: &Bytes) -> Result<LexRange, Reply> {
        match (LexBound::parse(min), LexBound::parse(max)) {
            (Some(min), Some(max)) => Ok(LexRange { min, max }),
            _ => Err(Reply::error_static(ERR_LEX_RANGE)),
        }
    }

    pub fn ranks(&self, set: &ZSet) -> (usize, usize) {
        let start = set.partition_point(|member, _| self.min.below_min(member));
        let end = set.partition_point(|member, _| self.max.within_max(member));
        (start, end.max(start))
    }
}

/// Redis's rank arithmetic (`start`/`end` inclusive, negative from the end) as a rank interval
/// `start..end` of a set of `len`.
pub fn rank_interval(start: i64, end: i64, len: usize) -> (usize, usize) {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let end = if end < 0 { len + end } else { end };
    if start > end || start >= len {
        return (0, 0);
    }
    (start as usize, (end.min(len - 1) + 1) as usize)
}

// ---- ZRANGE and friends ----------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum RangeKind {
    Rank,
    Score,
    Lex,
}

/// What a ZRANGE-family call asks for, after parsing.
struct RangeQuery {
    kind: RangeKind,
    reverse: bool,
    with_scores: bool,
    /// LIMIT offset count.
    limit: Option<(i64, i64)>,
    /// The range as given: ranks, scores or lex bounds (already in min, max order).
    min: Bytes,
    max: Bytes,
}

pub fn zrange(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(range_generic(ctx, args, 1, None, None, None))
}

pub fn zrangestore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(range_generic(ctx, args, 2, Some(&args[1]), None, None))
}

pub fn zrevrange(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(range_generic(
        ctx,
        args,
        1,
        None,
        Some(RangeKind::Rank),
        Some(true),
    ))
}

pub fn zrangebyscore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(range_generic(
        ctx,
        args,
        1,
        None,
        Some(RangeKind::Score),
        Some(false),
    ))
}

pub fn zrevrangebyscore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(range_generic(
        ctx,
        args,
        1,
        None,
        Some(RangeKind::Score),
        Some(true),
    ))
}

pub fn zrangebylex(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(range_generic(
        ctx,
        args,
        1,
        None,
        Some(RangeKind::Lex),
        Some(false),
    ))
}

pub fn zrevrangebylex(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(range_generic(
        ctx,
        args,
        1,
        None,
        Some(RangeKind::Lex),
        Some(true),
    ))
}

/// Parses the options after `<key> <min> <max>` (Redis's step 1), where `kind`/`reverse` are
/// fixed by the older commands (ZREVRANGE, ZRANGEBYSCORE, ...) and chosen by options in ZRANGE.
fn parse_query(
    args: &[Bytes],
    key_index: usize,
    store: bool,
    kind: Option<RangeKind>,
    reverse: Option<bool>,
) -> Result<RangeQuery, Reply> {
    let (mut kind_option, mut reverse_option) = (None, None);
    let (mut with_scores, mut limit) = (false, None);
    let mut i = key_index + 3;
    while i < args.len() {
        let arg = &args[i];
        let left = args.len() - i - 1;
        if !store && eq_ignore_case(arg, "withscores") {
            with_scores = true;
        } else if eq_ignore_case(arg, "limit") && left >= 2 {
            limit = Some((integer_arg(&args[i + 1])?, integer_arg(&args[i + 2])?));
            i += 2;
        } else if reverse.is_none() && reverse_option.is_none() && eq_ignore_case(arg, "rev") {
            reverse_option = Some(true);
        } else if kind.is_none() && kind_option.is_none() && eq_ignore_case(arg, "bylex") {
            kind_option = Some(RangeKind::Lex);
        } else if kind.is_none() && kind_option.is_none() && eq_ignore_case(arg, "byscore") {
            kind_option = Some(RangeKind::Score);
        } else {
            return Err(syntax_error());
        }
        i += 1;
    }
    let kind = kind.or(kind_option).unwrap_or(RangeKind::Rank);
    let reverse = reverse.or(reverse_option).unwrap_or(false);
    if limit.is_some() && kind == RangeKind::Rank {
        return Err(Reply::error_static(ERR_LIMIT_RANK));
    }
    if with_scores && kind == RangeKind::Lex {
        return Err(Reply::error_static(ERR_WITHSCORES_LEX));
    }
    let (mut min, mut max) = (args[key_index + 1].clone(), args[key_index + 2].clone());
    if reverse && kind != RangeKind::Rank {
        // Given as max, min.
        std::mem::swap(&mut min, &mut max);
    }
    Ok(RangeQuery {
        kind,
        reverse,
        with_scores,
        limit,
        min,
        max,
    })
}

/// The ranks a parsed range covers, before LIMIT and REV.
enum ParsedRange {
    Rank(i64, i64),
    Score(ScoreRange),
    Lex(LexRange),
}

impl ParsedRange {
    fn parse(query: &RangeQuery) -> Result<ParsedRange, Reply> {
        Ok(match query.kind {
            RangeKind::Rank => {
                ParsedRange::Rank(integer_arg(&query.min)?, integer_arg(&query.max)?)
            }
            RangeKind::Score => ParsedRange::Score(ScoreRange::parse(&query.min, &query.max)?),
            RangeKind::Lex => ParsedRange::Lex(LexRange::parse(&query.min, &query.max)?),
        })
    }

    /// The ascending ranks `start..end` to emit and whether to emit them descending.
    fn select(&self, query: &RangeQuery, set: &ZSet) -> (usize, usize) {
        let len = set.len();
        match self {
            ParsedRange::Rank(start, end) => {
                let (start, end) = rank_interval(*start, *end, len);
                if query.reverse {
                    // Ranks counted from the top.
                    (len - end.max(start), len - start)
                } else {
                    (start, end)
                }
            }
            ParsedRange::Score(range) => apply_limit(range.ranks(set), query),
            ParsedRange::Lex(range) => apply_limit(range.ranks(set), query),
        }
    }
}

/// LIMIT offset count over the interval, counted from its far end when reversed. A negative
/// offset selects nothing and a negative count everything, as Redis's loops do.
fn apply_limit((start, end): (usize, usize), query: &RangeQuery) -> (usize, usize) {
    let Some((offset, count)) = query.limit else {
        return (start, end);
    };
    if offset < 0 {
        return (start, start);
    }
    let available = end - start;
    let offset = (offset as u64).min(available as u64) as usize;
    let take = if count < 0 {
        available - offset
    } else {
        (count as u64).min((available - offset) as u64) as usize
    };
    if query.reverse {
        (end - offset - take, end - offset)
    } else {
        (start + offset, start + offset + take)
    }
}

/// Z[REV]RANGE[BYSCORE|BYLEX] and ZRANGESTORE (`zrangeGenericCommand`): `key_index` is where the
/// source key is, `store` the destination for ZRANGESTORE.
fn range_generic(
    ctx: &mut ExecContext<'_>,
    args: &[Bytes],
    key_index: usize,
    store: Option<&Bytes>,
    kind: Option<RangeKind>,
    reverse: Option<bool>,
) -> Outcome {
    if args.len() < key_index + 3 {
        return Err(syntax_error());
    }
    let query = parse_query(args, key_index, store.is_some(), kind, reverse)?;
    let range = ParsedRange::parse(&query)?;
    let key = &args[key_index];
    let mut list = ScoredList::new(
        query.with_scores || store.is_some(),
        PairShape::NestedInResp3,
    );
    let found = match store {
        // ZRANGESTORE reads its source as a write lookup does (no hit/miss counted).
        Some(_) => source(ctx, key)?,
        None => read(ctx, key)?,
    };
    if let Some(set) = found {
        let (start, end) = range.select(&query, set);
        set.range(start, end, query.reverse, |member, score| {
            list.push(member, score)
        });
    }
    match store {
        Some(destination) => {
            let count = list.len();
            let limits = ctx.limits.zset;
            let set = ZSet::from_pairs(list.pairs(), &limits);
            store_set(ctx, destination, set);
            Ok(Reply::Integer(count as i64))
        }
        None => Ok(Reply::Scored(Box::new(list))),
    }
}

// ---- ZCOUNT, ZLEXCOUNT -----------------------------------------------------------------------

pub fn zcount(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let range = ScoreRange::parse(&args[2], &args[3])?;
        Ok(Reply::Integer(read(ctx, &args[1])?.map_or(0, |set| {
            let (start, end) = range.ranks(set);
            (end - start) as i64
        })))
    })())
}

pub fn zlexcount(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let range = LexRange::parse(&args[2], &args[3])?;
        Ok(Reply::Integer(read(ctx, &args[1])?.map_or(0, |set| {
            let (start, end) = range.ranks(set);
            (end - start) as i64
        })))
    })())
}

// ---- ZREMRANGEBY* ----------------------------------------------------------------------------

pub fn zremrangebyrank(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let (start, end) = (integer_arg(&args[2])?, integer_arg(&args[3])?);
        remove_range(ctx, &args[1], |set| rank_interval(start, end, set.len()))
    })())
}

pub fn zremrangebyscore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let range = ScoreRange::parse(&args[2], &args[3])?;
        remove_range(ctx, &args[1], |set| range.ranks(set))
    })())
}

pub fn zremrangebylex(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let range = LexRange::parse(&args[2], &args[3])?;
        remove_range(ctx, &args[1], |set| range.ranks(set))
    })())
}

fn remove_range(
    ctx: &mut ExecContext<'_>,
    key: &[u8],
    ranks: impl FnOnce(&ZSet) -> (usize, usize),
) -> Outcome {
    let Some(set) = write(ctx, key)? else {
        return Ok(Reply::Integer(0));
    };
    let (start, end) = ranks(set);
    let removed = set.remove_ranks(start, end);
    delete_if_empty(ctx, key);
    Ok(Reply::Integer(removed as i64))
}
