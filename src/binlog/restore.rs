//! `shardis restore --from <data dir> --to <datetime | unix ms> --out <new dir>`: point-in-time
//! recovery.
//!
//! Rebuilds every shard of the source as of the given moment, to the millisecond: the newest
//! snapshot taken no later than it, then the binlog records up to it (recovery with
//! `up_to_ms`), keeping a cross-shard transaction only when every part of it is that old, so the
//! result is consistent across shards. Each shard's state is written to the new directory as a
//! snapshot at the position it reached; starting shardis on the new directory serves that state.
//! The source is only read (a torn tail is skipped, not truncated).

use std::path::{Path, PathBuf};

use super::recovery::{self, RecoverOptions};
use super::segment;
use super::snapshot::{Outcome, Snapshots};

/// Runs the subcommand; returns the process exit code.
pub fn run(args: &[String]) -> i32 {
    match parse(args).and_then(|request| restore(&request)) {
        Ok(summary) => {
            println!("{summary}");
            0
        }
        Err(message) => {
            eprintln!("shardis restore: {message}");
            eprintln!("Usage: shardis restore --from <data dir> --to <YYYY-MM-DD HH:MM:SS[.mmm] (UTC) | unix ms> --out <new dir> [--databases N]");
            1
        }
    }
}

struct Request {
    from: PathBuf,
    to_ms: u64,
    out: PathBuf,
    databases: usize,
}

fn parse(args: &[String]) -> Result<Request, String> {
    let value = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let from = value("--from").ok_or("--from is required")?;
    let to = value("--to").ok_or("--to is required")?;
    let out = value("--out").ok_or("--out is required")?;
    let databases = match value("--databases") {
        Some(n) => n.parse().map_err(|_| format!("bad --databases '{n}'"))?,
        None => 16,
    };
    let to_ms = parse_moment(&to).ok_or_else(|| format!("can't read the moment '{to}'"))?;
    Ok(Request {
        from: from.into(),
        to_ms,
        out: out.into(),
        databases,
    })
}

/// Unix milliseconds, or a UTC date and time: `2026-11-22 07:15:00`, `2026-11-22T07:15:00.250Z`.
pub fn parse_moment(text: &str) -> Option<u64> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text.parse().ok();
    }
    let text = text.trim_end_matches('Z');
    let (date, time) = text.split_once([' ', 'T'])?;
    let mut date = date.split('-').map(|p| p.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let (clock, millis) = match time.split_once('.') {
        Some((clock, fraction)) => {
            let digits: String = fraction.chars().chain("000".chars()).take(3).collect();
            (clock, digits.parse::<u64>().ok()?)
        }
        None => (time, 0),
    };
    let mut clock = clock.split(':').map(|p| p.parse::<u64>().ok());
    let (hour, minute) = (clock.next()??, clock.next()??);
    let second = clock.next().flatten().unwrap_or(0);
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    let seconds = u64::try_from(days).ok()? * 86_400 + hour * 3600 + minute * 60 + second;
    Some(seconds * 1000 + millis)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn restore(request: &Request) -> Result<String, String> {
    let shards = segment::list_shards(&request.from)
        .map_err(|e| format!("can't read '{}': {e}", request.from.display()))?;
    let count = shards.iter().map(|(id, _)| id + 1).max().unwrap_or(0);
    if count == 0 {
        return Err(format!(
            "'{}' holds no shard-<n> directories",
            request.from.display()
        ));
    }
    let out_used = std::fs::read_dir(&request.out).is_ok_and(|mut e| e.next().is_some());
    if out_used {
        return Err(format!(
            "'{}' is not empty; restore writes a new data directory",
            request.out.display()
        ));
    }
    if same_dir(&request.from, &request.out) {
        return Err("--out must differ from --from".into());
    }
    let options = RecoverOptions {
        shards: count,
        databases: request.databases,
        load_truncated: true,
        up_to_ms: Some(request.to_ms),
        read_only: true,
    };
    let states = recovery::recover(&request.from, &options).map_err(|e| e.to_string())?;
    let mut keys = 0;
    for (shard, mut state) in states.into_iter().enumerate() {
        keys += state.keyspace.total_keys();
        let shard_dir = segment::shard_dir(&request.out, shard);
        let mut snapshots = Snapshots::default();
        snapshots
            .start(
                &mut state.keyspace,
                &shard_dir,
                shard,
                state.next_position - 1,
                request.to_ms,
                None,
            )
            .map_err(|e| format!("can't write '{}': {e}", shard_dir.display()))?;
        match snapshots.step(&mut state.keyspace, true, None) {
            Some(Outcome::Saved(_)) => {}
            Some(Outcome::Failed(cause)) => return Err(cause),
            None => return Err("the snapshot did not finish".into()),
        }
    }
    Ok(format!(
        "Restored {count} shard(s), {keys} keys, as of {} ms since the epoch, into '{}'",
        request.to_ms,
        request.out.display()
    ))
}

fn same_dir(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments() {
        assert_eq!(parse_moment("1700000000123"), Some(1_700_000_000_123));
        assert_eq!(parse_moment("1970-01-01 00:00:00"), Some(0));
        assert_eq!(
            parse_moment("2023-11-14T22:13:20.5Z"),
            Some(1_700_000_000_500)
        );
        assert_eq!(parse_moment("2024-02-29 12:00"), Some(1_709_208_000_000));
        assert_eq!(parse_moment("yesterday"), None);
        assert_eq!(parse_moment("2024-13-01 00:00:00"), None);
    }
}
