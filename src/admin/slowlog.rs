//! SLOWLOG: commands that ran longer than `slowlog-log-slower-than` microseconds.
//!
//! Each shard keeps the entries of the commands it ran (Redis's `slowlogPushEntryIfNeeded`, with
//! Redis's argument trimming); SLOWLOG GET merges the shards' newest entries by start time. Entry
//! ids are unique over the server (`seq * shards + shard`), so they grow with time on each shard
//! but are not dense across shards. A command the client's own connection recorded (DEBUG, INFO,
//! CONFIG, a command coordinated over shards, ...) keeps the client's address and name as Redis
//! does; for one a shard ran (it may run commands for connections another core owns) they are
//! looked up when the log is read, and a client gone by then shows empty strings.

use std::collections::VecDeque;

use bytes::Bytes;

use crate::protocol::reply::Reply;

/// Redis's SLOWLOG_ENTRY_MAX_ARGC and SLOWLOG_ENTRY_MAX_STRING.
const MAX_ARGC: usize = 32;
const MAX_STRING: usize = 128;

/// One slow command.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowEntry {
    pub id: u64,
    /// When it finished, in microseconds since the Unix epoch (Redis reports seconds).
    pub unix_us: u64,
    pub duration_us: u64,
    /// The arguments, trimmed as Redis trims them.
    pub args: Vec<Bytes>,
    pub client_id: u64,
    /// The client's address and name when known at the time.
    pub client: Option<(String, String)>,
}

/// One shard's slow log, newest entry first.
#[derive(Debug)]
pub struct SlowLog {
    entries: VecDeque<SlowEntry>,
    next_seq: u64,
    shard: usize,
    nshards: usize,
}

impl SlowLog {
    pub fn new(shard: usize, nshards: usize) -> Self {
        SlowLog {
            entries: VecDeque::new(),
            next_seq: 0,
            shard,
            nshards: nshards.max(1),
        }
    }

    /// Adds an entry, dropping the oldest beyond `max_len`.
    pub fn push(
        &mut self,
        args: &[Bytes],
        duration_us: u64,
        unix_us: u64,
        client_id: u64,
        client: Option<(String, String)>,
        max_len: usize,
    ) {
        let id = self.next_seq * self.nshards as u64 + self.shard as u64;
        self.next_seq += 1;
        self.entries.push_front(SlowEntry {
            id,
            unix_us,
            duration_us,
            args: trim_args(args),
            client_id,
            client,
        });
        self.entries.truncate(max_len);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn reset(&mut self) {
        self.entries.clear();
    }

    /// The newest `count` entries (all for `None`).
    pub fn newest(&self, count: Option<usize>) -> Vec<SlowEntry> {
        let count = count.unwrap_or(usize::MAX);
        self.entries.iter().take(count).cloned().collect()
    }
}

/// Redis's `slowlogCreateEntry` trimming: at most 32 arguments, the last of them saying how many
/// more there were, and each string cut to 128 bytes with a note of how many more it had.
fn trim_args(args: &[Bytes]) -> Vec<Bytes> {
    let shown = args.len().min(MAX_ARGC);
    let mut out = Vec::with_capacity(shown);
    for (i, arg) in args.iter().take(shown).enumerate() {
        if shown != args.len() && i == shown - 1 {
            out.push(Bytes::from(format!(
                "... ({} more arguments)",
                args.len() - shown + 1
            )));
        } else if arg.len() > MAX_STRING {
            let mut cut = arg[..MAX_STRING].to_vec();
            cut.extend_from_slice(
                format!("... ({} more bytes)", arg.len() - MAX_STRING).as_bytes(),
            );
            out.push(Bytes::from(cut));
        } else {
            out.push(arg.clone());
        }
    }
    out
}

/// Merges the shards' entries: newest first, at most `count`.
pub fn merge(mut entries: Vec<SlowEntry>, count: Option<usize>) -> Vec<SlowEntry> {
    entries.sort_by(|a, b| b.unix_us.cmp(&a.unix_us).then(b.id.cmp(&a.id)));
    entries.truncate(count.unwrap_or(usize::MAX));
    entries
}

/// SLOWLOG GET's count argument: 10 when absent, -1 for all (Redis 7).
pub fn parse_count(args: &[Bytes]) -> Result<Option<usize>, Reply> {
    let Some(arg) = args.get(2) else {
        return Ok(Some(10));
    };
    let count = crate::command::util::parse_i64(arg)
        .ok_or_else(|| Reply::error_static("ERR value is not an integer or out of range"))?;
    match count {
        -1 => Ok(None),
        n if n < -1 => Err(Reply::error_static(
            "ERR count should be greater than or equal to -1",
        )),
        n => Ok(Some(n as usize)),
    }
}

/// SLOWLOG GET's reply: per entry id, time (s), duration (us), arguments, client address, name.
/// `client` gives a client id's address and name.
pub fn render(entries: &[SlowEntry], client: impl Fn(u64) -> (String, String)) -> Reply {
    Reply::Array(
        entries
            .iter()
            .map(|entry| {
                let (addr, name) = entry
                    .client
                    .clone()
                    .unwrap_or_else(|| client(entry.client_id));
                Reply::Array(vec![
                    Reply::Integer(entry.id as i64),
                    Reply::Integer((entry.unix_us / 1_000_000) as i64),
                    Reply::Integer(entry.duration_us as i64),
                    Reply::Array(entry.args.iter().cloned().map(Reply::Bulk).collect()),
                    Reply::Bulk(Bytes::from(addr)),
                    Reply::Bulk(Bytes::from(name)),
                ])
            })
            .collect(),
    )
}

pub const HELP: &[&str] = &[
    "GET [<count>]",
    "    Return top <count> entries from the slowlog (default: 10, -1 mean all).",
    "    Entries are made of:",
    "    id, timestamp, time in microseconds, arguments array, client IP and port,",
    "    client name",
    "LEN",
    "    Return the length of the slowlog.",
    "RESET",
    "    Reset the slowlog.",
];

#[cfg(test)]
mod tests {
    use super::*;

    fn args(words: &[&str]) -> Vec<Bytes> {
        words
            .iter()
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    #[test]
    fn keeps_the_newest_max_len_entries() {
        let mut log = SlowLog::new(1, 4);
        for i in 0..5 {
            log.push(&args(&["SET", "k", "v"]), 10 + i, 1000 + i, 7, None, 3);
        }
        assert_eq!(log.len(), 3);
        let newest = log.newest(Some(2));
        assert_eq!(newest[0].duration_us, 14);
        assert_eq!(newest[1].duration_us, 13);
        // Ids are unique over shards: shard 1 of 4.
        assert_eq!(newest[0].id, 4 * 4 + 1);
        log.reset();
        assert!(log.is_empty());
    }

    #[test]
    fn trims_arguments_like_redis() {
        let many: Vec<String> = (0..40).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        let trimmed = trim_args(&args(&many));
        assert_eq!(trimmed.len(), 32);
        assert_eq!(&trimmed[31][..], b"... (9 more arguments)");
        let long = "x".repeat(130);
        let trimmed = trim_args(&args(&["SET", "k", &long]));
        assert_eq!(trimmed[2].len(), 128 + "... (2 more bytes)".len());
        assert!(trimmed[2].ends_with(b"... (2 more bytes)"));
    }

    #[test]
    fn merge_orders_newest_first() {
        let entry = |id, unix_us| SlowEntry {
            id,
            unix_us,
            duration_us: 1,
            args: Vec::new(),
            client_id: 0,
            client: None,
        };
        let merged = merge(vec![entry(0, 5), entry(1, 9), entry(2, 7)], Some(2));
        assert_eq!(merged.iter().map(|e| e.id).collect::<Vec<_>>(), vec![1, 2]);
    }

    #[test]
    fn count_argument() {
        assert_eq!(parse_count(&args(&["SLOWLOG", "GET"])).unwrap(), Some(10));
        assert_eq!(parse_count(&args(&["SLOWLOG", "GET", "-1"])).unwrap(), None);
        assert!(parse_count(&args(&["SLOWLOG", "GET", "-2"])).is_err());
    }
}
