//! The deterministic form of a write: what the binlog records for a command that ran.
//!
//! Redis rewrites a command before propagating it when replaying it as sent would not give the same
//! result (`rewriteClientCommandVector`, `alsoPropagate`): relative expiry becomes absolute, and
//! INCRBYFLOAT becomes a SET of its result. Here that happens in two ways:
//!
//! - a handler may put the records itself in [`ExecContext::propagate`](crate::command::ExecContext)
//!   (for random or computed effects such as SPOP or ZADD INCR, as the data-type families need);
//! - otherwise [`deterministic`] derives them after the fact from the command and the key's new
//!   state, for the string and key commands that have relative times or computed results.
//!
//! Replay also runs every record "at" its timestamp (the time the command ran), so lazy expiry
//! decides the same way during replay as it did live.

use bytes::Bytes;

use crate::keyspace::{Keyspace, Value};

/// The records to log for a write command that changed the keyspace.
pub fn deterministic(
    name: &str,
    db: usize,
    args: &[Bytes],
    keyspace: &mut Keyspace,
    now_ms: u64,
) -> Vec<Vec<Bytes>> {
    match name {
        // Without a relative expiry SET and GETEX are deterministic as sent: skip the lookup.
        "set" | "getex" if !has_relative_expiry(&args[2.min(args.len())..]) => vec![args.to_vec()],
        "set" | "setex" | "psetex" | "getex" | "incrbyfloat" => {
            vec![string_state(&args[1], keyspace, db, now_ms).unwrap_or_else(|| args.to_vec())]
        }
        "expire" | "pexpire" | "expireat" => vec![deadline_state(&args[1], keyspace, db, now_ms)],
        _ => vec![args.to_vec()],
    }
}

fn has_relative_expiry(options: &[Bytes]) -> bool {
    options
        .iter()
        .any(|o| o.eq_ignore_ascii_case(b"EX") || o.eq_ignore_ascii_case(b"PX"))
}

/// `SET key value [PXAT t]`, or `DEL key` when the command left no key.
fn string_state(
    key: &Bytes,
    keyspace: &mut Keyspace,
    db: usize,
    now_ms: u64,
) -> Option<Vec<Bytes>> {
    let Some(entry) = keyspace.db(db).get(key, now_ms) else {
        return Some(vec![Bytes::from_static(b"DEL"), key.clone()]);
    };
    let value = match &entry.value {
        Value::Short(_) | Value::String(_) => entry.value.string_bytes()?,
        _ => return None,
    };
    let mut record = vec![Bytes::from_static(b"SET"), key.clone(), value];
    if entry.expire_at != 0 {
        record.push(Bytes::from_static(b"PXAT"));
        record.push(Bytes::from(entry.expire_at.to_string()));
    }
    Some(record)
}

/// `PEXPIREAT key t`, or `DEL key` when the deadline was in the past and deleted it.
fn deadline_state(key: &Bytes, keyspace: &mut Keyspace, db: usize, now_ms: u64) -> Vec<Bytes> {
    match keyspace.db(db).get(key, now_ms) {
        Some(entry) if entry.expire_at != 0 => vec![
            Bytes::from_static(b"PEXPIREAT"),
            key.clone(),
            Bytes::from(entry.expire_at.to_string()),
        ],
        Some(_) => vec![Bytes::from_static(b"PERSIST"), key.clone()],
        None => vec![Bytes::from_static(b"DEL"), key.clone()],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::test_support::Harness;

    fn words(records: Vec<Vec<Bytes>>) -> Vec<String> {
        records
            .into_iter()
            .map(|r| {
                r.iter()
                    .map(|a| String::from_utf8_lossy(a).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .collect()
    }

    fn logged(h: &mut Harness, args: &[&str]) -> Vec<String> {
        h.run(args);
        let args: Vec<Bytes> = args.iter().map(|a| Bytes::from(a.to_string())).collect();
        let name = args[0].to_ascii_lowercase();
        let name = std::str::from_utf8(&name).unwrap();
        words(deterministic(name, 0, &args, &mut h.keyspace, h.now_ms))
    }

    #[test]
    fn relative_times_become_absolute_and_floats_their_result() {
        let mut h = Harness::new();
        let now = h.now_ms;
        assert_eq!(
            logged(&mut h, &["SET", "k", "v", "EX", "10"]),
            [format!("SET k v PXAT {}", now + 10_000)]
        );
        assert_eq!(
            logged(&mut h, &["SET", "k", "v", "KEEPTTL"]),
            ["SET k v KEEPTTL"]
        );
        assert_eq!(
            logged(&mut h, &["PSETEX", "p", "500", "x"]),
            [format!("SET p x PXAT {}", now + 500)]
        );
        assert_eq!(
            logged(&mut h, &["EXPIRE", "p", "20"]),
            [format!("PEXPIREAT p {}", now + 20_000)]
        );
        assert_eq!(logged(&mut h, &["EXPIRE", "p", "-1"]), ["DEL p"]);
        assert_eq!(logged(&mut h, &["INCRBYFLOAT", "f", "0.5"]), ["SET f 0.5"]);
        assert_eq!(
            logged(&mut h, &["GETEX", "k", "PERSIST"]),
            ["GETEX k PERSIST"]
        );
        assert_eq!(
            logged(&mut h, &["GETEX", "k", "PX", "7"]),
            [format!("SET k v PXAT {}", now + 7)]
        );
    }
}
