//! The multi-key sorted-set commands: ZUNION, ZINTER, ZDIFF, their STORE forms and ZINTERCARD
//! (Redis's `zunionInterDiffGenericCommand`), and ZMPOP.
//!
//! Their keys follow a `numkeys` argument, so each has a key finder for the server layer; the
//! handlers themselves see every key locally (across shards the coordinator gathers them).
//! Inputs may be sorted sets or, as in Redis, plain sets, whose members all score 1.

use ahash::AHashMap;
use bytes::Bytes;

use super::sample::pop;
use super::{answer, store_set, wrongtype_error, Outcome};
use crate::command::util::{eq_ignore_case, integer_arg, parse_f64, parse_i64, syntax_error};
use crate::command::ExecContext;
use crate::keyspace::set::Set;
use crate::keyspace::zset::ZSet;
use crate::keyspace::{Entry, Value};
use crate::protocol::reply::Reply;
use crate::protocol::scored::{PairShape, ScoredList};

// ---- key finders -----------------------------------------------------------------------------

/// `numkeys` at `index` and that many keys after it; empty when malformed (the handler then
/// replies with the error).
fn numkeys_keys(args: &[Bytes], index: usize) -> Vec<usize> {
    let Some(count) = args.get(index).and_then(|arg| parse_i64(arg)) else {
        return Vec::new();
    };
    let Ok(count) = usize::try_from(count) else {
        return Vec::new();
    };
    if count == 0 || count > args.len() - index - 1 {
        return Vec::new();
    }
    (index + 1..index + 1 + count).collect()
}

/// ZUNIONSTORE/ZINTERSTORE/ZDIFFSTORE destination numkeys key ...
pub fn destination_and_numkeys(args: &[Bytes]) -> Vec<usize> {
    let keys = numkeys_keys(args, 2);
    if keys.is_empty() {
        return keys;
    }
    std::iter::once(1).chain(keys).collect()
}

/// ZUNION/ZINTER/ZDIFF/ZINTERCARD/ZMPOP numkeys key ...
pub fn numkeys_first(args: &[Bytes]) -> Vec<usize> {
    numkeys_keys(args, 1)
}

// ---- ZUNION, ZINTER, ZDIFF -------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq)]
enum SetOp {
    Union,
    Inter,
    Diff,
}

#[derive(Debug, Clone, Copy)]
enum Aggregate {
    Sum,
    Min,
    Max,
}

impl Aggregate {
    /// `zunionInterAggregate`: a sum of +inf and -inf is 0, not NaN.
    fn apply(self, target: &mut f64, value: f64) {
        match self {
            Aggregate::Sum => {
                *target += value;
                if target.is_nan() {
                    *target = 0.0;
                }
            }
            Aggregate::Min => *target = target.min(value),
            Aggregate::Max => *target = target.max(value),
        }
    }
}

pub fn zunionstore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(set_op(ctx, args, Some(&args[1]), SetOp::Union, false))
}

pub fn zinterstore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(set_op(ctx, args, Some(&args[1]), SetOp::Inter, false))
}

pub fn zdiffstore(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(set_op(ctx, args, Some(&args[1]), SetOp::Diff, false))
}

pub fn zunion(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(set_op(ctx, args, None, SetOp::Union, false))
}

pub fn zinter(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(set_op(ctx, args, None, SetOp::Inter, false))
}

pub fn zdiff(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(set_op(ctx, args, None, SetOp::Diff, false))
}

pub fn zintercard(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer(set_op(ctx, args, None, SetOp::Inter, true))
}

/// Parses `numkeys` at `index` as Redis's set operations do; returns the key count.
fn parse_numkeys(args: &[Bytes], index: usize) -> Result<usize, Reply> {
    let count = integer_arg(&args[index])?;
    if count < 1 {
        return Err(Reply::error(format!(
            "ERR at least 1 input key is needed for '{}' command",
            String::from_utf8_lossy(&args[0]).to_lowercase()
        )));
    }
    if count as u64 > (args.len() - index - 1) as u64 {
        return Err(syntax_error());
    }
    Ok(count as usize)
}

/// The options after the keys.
struct SetOpOptions {
    weights: Vec<f64>,
    aggregate: Aggregate,
    with_scores: bool,
    /// ZINTERCARD's LIMIT; 0 = none.
    limit: usize,
}

fn parse_set_op_options(
    args: &[Bytes],
    first: usize,
    numkeys: usize,
    op: SetOp,
    store: bool,
    cardinality_only: bool,
) -> Result<SetOpOptions, Reply> {
    let mut options = SetOpOptions {
        weights: vec![1.0; numkeys],
        aggregate: Aggregate::Sum,
        with_scores: false,
        limit: 0,
    };
    let mut i = first;
    while i < args.len() {
        let left = args.len() - i;
        let arg = &args[i];
        let weighable = op != SetOp::Diff && !cardinality_only;
        if weighable && left > numkeys && eq_ignore_case(arg, "weights") {
            for (n, weight) in options.weights.iter_mut().enumerate() {
                *weight = parse_f64(&args[i + 1 + n])
                    .ok_or_else(|| Reply::error_static("ERR weight value is not a float"))?;
            }
            i += 1 + numkeys;
        } else if weighable && left >= 2 && eq_ignore_case(arg, "aggregate") {
            let name = &args[i + 1];
            options.aggregate = if eq_ignore_case(name, "sum") {
                Aggregate::Sum
            } else if eq_ignore_case(name, "min") {
                Aggregate::Min
            } else if eq_ignore_case(name, "max") {
                Aggregate::Max
            } else {
                return Err(syntax_error());
            };
            i += 2;
        } else if !store && !cardinality_only && eq_ignore_case(arg, "withscores") {
            options.with_scores = true;
            i += 1;
        } else if cardinality_only && left >= 2 && eq_ignore_case(arg, "limit") {
            let limit = integer_arg(&args[i + 1])
                .ok()
                .filter(|limit| *limit >= 0)
                .ok_or_else(|| Reply::error_static("ERR LIMIT can't be negative"))?;
            options.limit = limit as usize;
            i += 2;
        } else {
            return Err(syntax_error());
        }
    }
    Ok(options)
}

/// ZUNION/ZINTER/ZDIFF[STORE] and ZINTERCARD: `destination` for the STORE forms.
fn set_op(
    ctx: &mut ExecContext<'_>,
    args: &[Bytes],
    destination: Option<&Bytes>,
    op: SetOp,
    cardinality_only: bool,
) -> Outcome {
    let numkeys_index = if destination.is_some() { 2 } else { 1 };
    let numkeys = parse_numkeys(args, numkeys_index)?;
    let keys = &args[numkeys_index + 1..numkeys_index + 1 + numkeys];
    // Reclaim expired inputs and check types first (Redis looks the keys up before reading the
    // options), then read them all at once.
    let (db_index, now_ms) = (ctx.db_index, ctx.now_ms);
    for key in keys {
        let entry = if destination.is_some() {
            ctx.db().get(key, now_ms)
        } else {
            ctx.keyspace.lookup_read(db_index, key, now_ms)
        };
        if let Some(entry) = entry {
            if !matches!(entry.value, Value::ZSet(_) | Value::Set(_)) {
                return Err(wrongtype_error());
            }
        }
    }
    let options = parse_set_op_options(
        args,
        numkeys_index + 1 + numkeys,
        numkeys,
        op,
        destination.is_some(),
        cardinality_only,
    )?;
    let db = ctx.keyspace.db_ref(db_index);
    let inputs: Vec<Option<Input<'_>>> = keys
        .iter()
        .map(|key| match db.peek(key, now_ms) {
            Some(Entry {
                value: Value::ZSet(set),
                ..
            }) => Some(Input::Sorted(set)),
            Some(Entry {
                value: Value::Set(set),
                ..
            }) => Some(Input::Plain(set)),
            _ => None,
        })
        .collect();

    if cardinality_only {
        return Ok(Reply::Integer(inter_count(&inputs, options.limit) as i64));
    }
    let mut result: Vec<(Vec<u8>, f64)> = match op {
        SetOp::Union => union(&inputs, &options),
        SetOp::Inter => inter(&inputs, &options),
        SetOp::Diff => diff(&inputs),
    };
    match destination {
        Some(destination) => {
            let count = result.len();
            let limits = ctx.limits.zset;
            let set = ZSet::from_pairs(result, &limits);
            store_set(ctx, destination, set);
            Ok(Reply::Integer(count as i64))
        }
        None => {
            result.sort_by(|(m1, s1), (m2, s2)| {
                s1.partial_cmp(s2)
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then_with(|| m1.cmp(m2))
            });
            let mut list = ScoredList::new(options.with_scores, PairShape::NestedInResp3);
            for (member, score) in &result {
                list.push(member, *score);
            }
            Ok(Reply::Scored(Box::new(list)))
        }
    }
}

/// One input of a set operation: a sorted set, or a plain set whose members all score 1.
#[derive(Clone, Copy)]
enum Input<'a> {
    Sorted(&'a ZSet),
    Plain(&'a Set),
}

impl Input<'_> {
    fn len(&self) -> usize {
        match self {
            Input::Sorted(set) => set.len(),
            Input::Plain(set) => set.len(),
        }
    }

    fn score(&self, member: &[u8]) -> Option<f64> {
        match self {
            Input::Sorted(set) => set.score(member),
            Input::Plain(set) => set.contains(member).then_some(1.0),
        }
    }

    /// Calls `visit` for each member and score until it returns false.
    fn visit(&self, mut visit: impl FnMut(&[u8], f64) -> bool) {
        match self {
            Input::Sorted(set) => {
                for (member, score) in set.iter() {
                    if !visit(member, score) {
                        return;
                    }
                }
            }
            Input::Plain(set) => {
                for member in set.iter() {
                    if !visit(&member, 1.0) {
                        return;
                    }
                }
            }
        }
    }
}

/// `weight * score`, with NaN (0 * inf) read as 0, as Redis does.
fn weighted(weight: f64, score: f64) -> f64 {
    let value = weight * score;
    if value.is_nan() {
        0.0
    } else {
        value
    }
}

fn union(inputs: &[Option<Input<'_>>], options: &SetOpOptions) -> Vec<(Vec<u8>, f64)> {
    let mut scores: AHashMap<Vec<u8>, f64> = AHashMap::new();
    for (input, weight) in inputs.iter().zip(&options.weights) {
        let Some(input) = input else { continue };
        input.visit(|member, score| {
            let value = weighted(*weight, score);
            match scores.get_mut(member) {
                Some(total) => options.aggregate.apply(total, value),
                None => {
                    scores.insert(member.to_vec(), value);
                }
            }
            true
        });
    }
    scores.into_iter().collect()
}

/// The inputs with their weights, smallest first (Redis's `zuiCompareByCardinality`); `None` if
/// any input is missing, which makes the intersection empty.
fn by_size<'a>(inputs: &[Option<Input<'a>>], weights: &[f64]) -> Option<Vec<(Input<'a>, f64)>> {
    let mut sets = inputs
        .iter()
        .zip(weights)
        .map(|(input, weight)| input.map(|input| (input, *weight)))
        .collect::<Option<Vec<_>>>()?;
    sets.sort_by_key(|(input, _)| input.len());
    Some(sets)
}

fn inter(inputs: &[Option<Input<'_>>], options: &SetOpOptions) -> Vec<(Vec<u8>, f64)> {
    let Some(sets) = by_size(inputs, &options.weights) else {
        return Vec::new();
    };
    let (first, first_weight) = sets[0];
    let mut result = Vec::new();
    first.visit(|member, score| {
        let mut total = weighted(first_weight, score);
        for (other, weight) in &sets[1..] {
            let Some(score) = other.score(member) else {
                return true;
            };
            options
                .aggregate
                .apply(&mut total, weighted(*weight, score));
        }
        result.push((member.to_vec(), total));
        true
    });
    result
}

fn inter_count(inputs: &[Option<Input<'_>>], limit: usize) -> usize {
    let Some(sets) = by_size(inputs, &vec![1.0; inputs.len()]) else {
        return 0;
    };
    let mut count = 0;
    sets[0].0.visit(|member, _| {
        if sets[1..]
            .iter()
            .all(|(other, _)| other.score(member).is_some())
        {
            count += 1;
        }
        limit == 0 || count < limit
    });
    count
}

fn diff(inputs: &[Option<Input<'_>>]) -> Vec<(Vec<u8>, f64)> {
    let Some(Some(first)) = inputs.first() else {
        return Vec::new();
    };
    let mut result = Vec::new();
    first.visit(|member, score| {
        if inputs[1..]
            .iter()
            .flatten()
            .all(|other| other.score(member).is_none())
        {
            result.push((member.to_vec(), score));
        }
        true
    });
    result
}

// ---- ZMPOP -----------------------------------------------------------------------------------

/// ZMPOP numkeys key ... MIN|MAX [COUNT count]: pops from the first non-empty key; the reply is
/// `[key, [[member, score], ...]]` in both protocols, or a null array when every key is empty.
pub fn zmpop(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    answer((|| {
        let numkeys = integer_arg(&args[1])
            .ok()
            .filter(|count| *count >= 1)
            .ok_or_else(|| Reply::error_static("ERR numkeys should be greater than 0"))?;
        let where_index = (numkeys as u64).saturating_add(2);
        let Some(where_arg) = args.get(where_index as usize) else {
            return Err(syntax_error());
        };
        let max = if eq_ignore_case(where_arg, "min") {
            false
        } else if eq_ignore_case(where_arg, "max") {
            true
        } else {
            return Err(syntax_error());
        };
        let mut count = None;
        let mut i = where_index as usize + 1;
        while i < args.len() {
            if count.is_none() && eq_ignore_case(&args[i], "count") && i + 1 < args.len() {
                let value = integer_arg(&args[i + 1])
                    .ok()
                    .filter(|count| *count >= 1)
                    .ok_or_else(|| Reply::error_static("ERR count should be greater than 0"))?;
                count = Some(value as usize);
                i += 2;
            } else {
                return Err(syntax_error());
            }
        }
        let count = count.unwrap_or(1);
        for key in &args[2..where_index as usize] {
            if let Some(list) = pop(ctx, key, count, max, PairShape::Nested)? {
                if !list.is_empty() {
                    return Ok(Reply::Array(vec![
                        Reply::bulk_from_slice(key),
                        Reply::Scored(Box::new(list)),
                    ]));
                }
            }
        }
        Ok(Reply::NullArray)
    })())
}
