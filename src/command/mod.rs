//! Command semantics: plain synchronous functions over one shard's [`Keyspace`].
//!
//! Every command is described by a [`CommandSpec`] row in its family's file (`string.rs`,
//! `keys.rs`, `server.rs`, ...). A row says how the server layer routes the command
//! ([`Routing`]), where its keys are (Redis's first/last/step convention, also reported by
//! `COMMAND INFO`) and, for commands that run inside one shard, the [`Handler`] that runs it.
//!
//! Handlers never see the network, other shards or the runtime: they take an [`ExecContext`] and
//! the arguments (`args[0]` is the command name as the client sent it) and return a [`Reply`].
//! A multi-key command whose keys all live on one shard runs its handler there directly; when the
//! keys span shards the server layer splits and coordinates it (see `server::coordinator`).

pub mod blocking;
pub mod collection;
pub mod hash;
pub mod keys;
pub mod list;
pub mod memcache;
pub mod notify;
pub mod observe;
pub mod persistence;
pub mod pubsub;
pub mod scripting;
pub mod server;
pub mod set;
pub mod string;
pub mod transaction;
pub mod util;
pub mod zset;

use ahash::AHashMap;
use std::sync::OnceLock;

use bytes::Bytes;

use crate::config::Config;
use crate::keyspace::zset::ZSetLimits;
use crate::keyspace::{Db, EncodingLimits, Keyspace};
use crate::protocol::reply::Reply;

/// Runs one command inside the shard that owns its keys.
pub type Handler = fn(&mut ExecContext<'_>, &[Bytes]) -> Reply;

/// How the server layer routes a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Routing {
    /// Runs on the connection's own core and needs no key (PING, ECHO, HELLO, CLIENT, INFO, ...).
    /// The server layer implements these; `handler` is `None`.
    Connection,
    /// The key at `first_key` decides the owning shard; `handler` runs there.
    SingleKey,
    /// Several keys (`first_key..=last_key` by `step`); on one shard `handler` runs there, across
    /// shards the server layer coordinates it.
    MultiKey,
    /// Runs over every shard and combines the results (KEYS, SCAN, DBSIZE, FLUSHALL, ...);
    /// implemented by the server layer.
    AllShards,
}

/// One row of the command table.
#[derive(Debug)]
pub struct CommandSpec {
    /// Lower-case name.
    pub name: &'static str,
    /// Redis's arity: positive = exact argument count including the name, negative = at least.
    pub arity: i32,
    /// Redis command flags as `COMMAND INFO` reports them: "write", "readonly", "denyoom",
    /// "fast", "admin", "noscript", "loading", "stale", "pubsub", ...
    pub flags: &'static [&'static str],
    /// Position of the first key (0 = no keys), of the last (-1 = last argument), and the step.
    pub first_key: i32,
    pub last_key: i32,
    pub step: i32,
    /// For commands whose keys do not follow first/last/step (a `numkeys` argument, as in
    /// ZUNIONSTORE, SINTERCARD, LMPOP; Redis's `getkeys_proc`): returns the key positions in
    /// `args`, or an empty list when the arguments are malformed (the handler then replies with
    /// the error). `first_key`/`last_key`/`step` still describe the command for `COMMAND INFO`.
    pub key_finder: Option<fn(&[Bytes]) -> Vec<usize>>,
    pub routing: Routing,
    pub handler: Option<Handler>,
    /// For `COMMAND DOCS`: the command group ("string", "generic", "server", "connection") and
    /// a one-line summary and the Redis version that introduced it.
    pub group: &'static str,
    pub summary: &'static str,
    pub since: &'static str,
}

impl CommandSpec {
    pub fn is_write(&self) -> bool {
        self.flags.contains(&"write")
    }

    /// Checks the argument count against `arity`.
    pub fn arity_ok(&self, argc: usize) -> bool {
        if self.arity >= 0 {
            argc == self.arity as usize
        } else {
            argc >= (-self.arity) as usize
        }
    }

    /// Indices of the key arguments in `args`: from `key_finder` when the command has one,
    /// otherwise following first/last/step.
    pub fn key_positions(&self, args: &[Bytes]) -> KeyPositions {
        if let Some(find) = self.key_finder {
            return KeyPositions::Listed(find(args).into_iter());
        }
        let argc = args.len();
        let (first, last, step) = if self.first_key <= 0 || argc <= self.first_key as usize {
            (1usize, 0usize, 1usize)
        } else {
            let last = if self.last_key < 0 {
                (argc as i64 + self.last_key as i64).max(0) as usize
            } else {
                (self.last_key as usize).min(argc - 1)
            };
            (self.first_key as usize, last, self.step.max(1) as usize)
        };
        KeyPositions::Range((first..=last).step_by(step))
    }
}

/// Iterator over a command's key positions (see [`CommandSpec::key_positions`]).
pub enum KeyPositions {
    Range(std::iter::StepBy<std::ops::RangeInclusive<usize>>),
    Listed(std::vec::IntoIter<usize>),
}

impl Iterator for KeyPositions {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        match self {
            KeyPositions::Range(range) => range.next(),
            KeyPositions::Listed(list) => list.next(),
        }
    }
}

/// What a handler may touch: the shard's keyspace, the client's selected database, the clock.
pub struct ExecContext<'a> {
    pub keyspace: &'a mut Keyspace,
    pub db_index: usize,
    /// Milliseconds since the Unix epoch, read once per command batch.
    pub now_ms: u64,
    pub limits: &'a CommandLimits,
    /// What the binlog records for this command instead of its arguments, when a handler's effect
    /// is random or computed (Redis's `rewriteClientCommandVector`/`alsoPropagate`): one argument
    /// vector per record, name first. `None` logs the command as `binlog::effect` derives it.
    pub propagate: Option<Vec<Vec<Bytes>>>,
}

impl ExecContext<'_> {
    /// Replaces what the binlog records for this command (see [`ExecContext::propagate`]).
    pub fn propagate_as(&mut self, records: Vec<Vec<Bytes>>) {
        self.propagate = Some(records);
    }

    /// The client's selected database.
    pub fn db(&mut self) -> &mut Db {
        self.keyspace.db(self.db_index)
    }
}

/// Limits from the configuration that command semantics enforce.
#[derive(Debug, Clone)]
pub struct CommandLimits {
    /// `proto-max-bulk-len`: the largest string a command may create (APPEND, SETRANGE).
    pub proto_max_bulk_len: usize,
    /// When hashes, sets and lists leave their compact encodings.
    pub encoding: EncodingLimits,
    /// `zset-max-listpack-entries` / `zset-max-listpack-value`: when a sorted set leaves its
    /// compact encoding.
    pub zset: ZSetLimits,
}

impl Default for CommandLimits {
    fn default() -> Self {
        CommandLimits {
            proto_max_bulk_len: 512 * 1024 * 1024,
            encoding: EncodingLimits::default(),
            zset: ZSetLimits::default(),
        }
    }
}

impl CommandLimits {
    /// The limits a configuration sets (at start-up and after CONFIG SET).
    pub fn from_config(config: &Config) -> Self {
        CommandLimits {
            proto_max_bulk_len: config.proto_max_bulk_len as usize,
            encoding: config.encoding.clone(),
            zset: ZSetLimits {
                max_listpack_entries: config.zset_max_listpack_entries as usize,
                max_listpack_value: config.zset_max_listpack_value as usize,
            },
        }
    }
}

/// Every command family's rows.
pub fn all_commands() -> impl Iterator<Item = &'static CommandSpec> {
    string::COMMANDS
        .iter()
        .chain(keys::COMMANDS.iter())
        .chain(server::COMMANDS.iter())
        .chain(hash::COMMANDS.iter())
        .chain(list::COMMANDS.iter())
        .chain(blocking::COMMANDS.iter())
        .chain(set::COMMANDS.iter())
        .chain(zset::COMMANDS.iter())
        .chain(observe::COMMANDS.iter())
        .chain(persistence::COMMANDS.iter())
        .chain(pubsub::COMMANDS.iter())
        .chain(transaction::COMMANDS.iter())
        .chain(scripting::COMMANDS.iter())
}

/// Commands by name as bytes: looking up needs no UTF-8 check of what the client sent (which
/// cost a quarter of a look-up, and every command is looked up at least once).
fn table() -> &'static AHashMap<&'static [u8], &'static CommandSpec> {
    static TABLE: OnceLock<AHashMap<&'static [u8], &'static CommandSpec>> = OnceLock::new();
    TABLE.get_or_init(|| {
        all_commands()
            .map(|spec| (spec.name.as_bytes(), spec))
            .collect()
    })
}

/// Finds a command by name, case-insensitively.
pub fn lookup(name: &[u8]) -> Option<&'static CommandSpec> {
    let mut lower = [0u8; 32];
    if name.len() > lower.len() {
        return None;
    }
    for (dst, src) in lower.iter_mut().zip(name) {
        *dst = src.to_ascii_lowercase();
    }
    table().get(&lower[..name.len()]).copied()
}

/// Number of commands in the table (`COMMAND COUNT`).
pub fn command_count() -> usize {
    table().len()
}

/// Redis's reply for an unknown command (`processCommand`): the name cut to 128 bytes, then the
/// arguments quoted one after another while fewer than 128 bytes of them have been shown, each
/// cut to what is left of those 128. Like C's `%.*s`, a NUL byte ends an argument early.
pub fn unknown_command_error(args: &[Bytes]) -> Reply {
    const SHOWN: usize = 128;
    let c_string = |bytes: &[u8], max: usize| {
        let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
        bytes[..end.min(max)].to_vec()
    };
    let mut quoted: Vec<u8> = Vec::new();
    for arg in &args[1..] {
        if quoted.len() >= SHOWN {
            break;
        }
        quoted.push(b'\'');
        quoted.extend(c_string(arg, SHOWN - quoted.len() + 1));
        quoted.extend_from_slice(b"' ");
    }
    let mut text = b"ERR unknown command '".to_vec();
    text.extend(c_string(&args[0], SHOWN));
    text.extend_from_slice(b"', with args beginning with: ");
    text.extend(quoted);
    Reply::Error(Bytes::from(text))
}

/// Redis's reply for a wrong argument count.
pub fn arity_error(name: &[u8]) -> Reply {
    Reply::error(format!(
        "ERR wrong number of arguments for '{}' command",
        String::from_utf8_lossy(name).to_lowercase()
    ))
}

/// Runs a command that has a handler, after checking its arity.
pub fn run(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    run_spec(ctx, lookup(&args[0]), args)
}

/// Runs a write read back from the binlog: like [`run`], but also finds the internal commands
/// (the memcached port's `__mc.*`) that no client can call over RESP.
pub fn run_logged(ctx: &mut ExecContext<'_>, args: &[Bytes]) -> Reply {
    let spec = lookup(&args[0]).or_else(|| memcache::lookup_internal(&args[0]));
    run_spec(ctx, spec, args)
}

fn run_spec(
    ctx: &mut ExecContext<'_>,
    spec: Option<&'static CommandSpec>,
    args: &[Bytes],
) -> Reply {
    let Some(spec) = spec else {
        return unknown_command_error(args);
    };
    if !spec.arity_ok(args.len()) {
        return arity_error(&args[0]);
    }
    match spec.handler {
        Some(handler) => handler(ctx, args),
        None => unknown_command_error(args),
    }
}

#[cfg(test)]
pub mod test_support {
    //! In-process command runner: `run(&mut ks, ["SET", "k", "v"])`, and the expected replies
    //! the families' tests compare with.
    use super::*;

    pub use super::util::ERR_WRONGTYPE as WRONGTYPE;

    pub fn bulk(text: &str) -> Reply {
        Reply::bulk_from_slice(text.as_bytes())
    }

    pub fn err(text: &str) -> Reply {
        Reply::error(text.to_string())
    }

    pub fn int(n: i64) -> Reply {
        Reply::Integer(n)
    }

    pub fn bulks(items: &[&str]) -> Reply {
        Reply::Array(items.iter().map(|item| bulk(item)).collect())
    }

    pub fn ints(items: &[i64]) -> Reply {
        Reply::Array(items.iter().map(|&n| int(n)).collect())
    }

    pub struct Harness {
        pub keyspace: Keyspace,
        pub db_index: usize,
        pub now_ms: u64,
        pub limits: CommandLimits,
    }

    impl Harness {
        pub fn new() -> Self {
            Harness {
                keyspace: Keyspace::new(16),
                db_index: 0,
                now_ms: 1_700_000_000_000,
                limits: CommandLimits::default(),
            }
        }

        pub fn run(&mut self, args: &[&str]) -> Reply {
            let args: Vec<Bytes> = args
                .iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect();
            let mut ctx = ExecContext {
                keyspace: &mut self.keyspace,
                db_index: self.db_index,
                now_ms: self.now_ms,
                limits: &self.limits,
                propagate: None,
            };
            run(&mut ctx, &args)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `numkeys` command's keys, as ZUNIONSTORE's: destination, then numkeys keys.
    fn numkeys_finder(args: &[Bytes]) -> Vec<usize> {
        let count = std::str::from_utf8(args.get(2).map_or(&b""[..], |a| a))
            .ok()
            .and_then(|n| n.parse::<usize>().ok())
            .unwrap_or(0);
        if args.len() < 3 + count {
            return Vec::new();
        }
        std::iter::once(1).chain(3..3 + count).collect()
    }

    #[test]
    fn key_finder_overrides_first_last_step() {
        let spec = CommandSpec {
            name: "zunionstore",
            arity: -4,
            flags: &["write"],
            first_key: 1,
            last_key: 1,
            step: 1,
            key_finder: Some(numkeys_finder),
            routing: Routing::MultiKey,
            handler: None,
            group: "sorted-set",
            summary: "",
            since: "2.0.0",
        };
        let args: Vec<Bytes> = ["ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        assert_eq!(spec.key_positions(&args).collect::<Vec<_>>(), vec![1, 3, 4]);
        assert_eq!(
            spec.key_positions(&args[..4]).count(),
            0,
            "malformed: no keys"
        );
        let plain = CommandSpec {
            key_finder: None,
            ..spec
        };
        assert_eq!(plain.key_positions(&args).collect::<Vec<_>>(), vec![1]);
    }
}
