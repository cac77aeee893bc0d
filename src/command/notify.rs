//! Which keyspace events a write command raises, by command name: Redis's `notifyKeyspaceEvent`
//! calls in `t_string.c`, `t_list.c`, `t_hash.c`, `t_set.c`, `t_zset.c`, `db.c` and `expire.c`,
//! written as a table the shard consults after a command changed something.
//!
//! Each [`KeyEvent`] names the key argument, the class (a `NotifyFlags` bit) and the event, and
//! when it applies given whether the key exists after the command ([`When`]). The shard
//! (`shard::notify`) adds the two events Redis raises as side effects: `new` when a key is
//! created and `del` when a collection command empties its key.

use bytes::Bytes;

use crate::config::NotifyFlags as F;

use super::util::eq_ignore_case;

/// When an event applies, given the key before and after the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// Whenever the command changed something.
    Changed,
    /// Only if the key existed before and is gone now (DEL of keys that existed; EXPIRE in the
    /// past).
    Removed,
    /// Only if the key exists after the command (EXPIRE in the future).
    Kept,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyEvent {
    /// Position of the key in the arguments.
    pub arg: usize,
    pub class: u16,
    pub event: &'static str,
    pub when: When,
}

const fn on(arg: usize, class: u16, event: &'static str) -> KeyEvent {
    KeyEvent {
        arg,
        class,
        event,
        when: When::Changed,
    }
}

/// An expiry set by a command: `expire` while the key lives on, `del` if it was due already.
fn expiry(arg: usize, events: &mut Vec<KeyEvent>) {
    events.push(KeyEvent {
        arg,
        class: F::GENERIC,
        event: "expire",
        when: When::Kept,
    });
    events.push(KeyEvent {
        arg,
        class: F::GENERIC,
        event: "del",
        when: When::Removed,
    });
}

fn has_option(args: &[Bytes], from: usize, options: &[&str]) -> bool {
    args.iter()
        .skip(from)
        .any(|a| options.iter().any(|o| eq_ignore_case(a, o)))
}

/// The events of write command `name` (lower case) over `args`, for when it changed something.
/// Empty for commands that raise none (or that shardis does not notify yet).
pub fn key_events(name: &str, args: &[Bytes]) -> Vec<KeyEvent> {
    let mut events = Vec::new();
    let every_key = |from: usize, step: usize, class: u16, event: &'static str, when: When| {
        (from..args.len()).step_by(step).map(move |arg| KeyEvent {
            arg,
            class,
            event,
            when,
        })
    };
    match name {
        "set" => {
            events.push(on(1, F::STRING, "set"));
            if has_option(args, 3, &["ex", "px", "exat", "pxat"]) {
                expiry(1, &mut events);
            }
        }
        "setnx" | "getset" => events.push(on(1, F::STRING, "set")),
        "setex" | "psetex" => {
            events.push(on(1, F::STRING, "set"));
            expiry(1, &mut events);
        }
        "mset" | "msetnx" => events.extend(every_key(1, 2, F::STRING, "set", When::Changed)),
        "setrange" => events.push(on(1, F::STRING, "setrange")),
        "incr" | "decr" | "incrby" | "decrby" => events.push(on(1, F::STRING, "incrby")),
        "incrbyfloat" => events.push(on(1, F::STRING, "incrbyfloat")),
        "append" => events.push(on(1, F::STRING, "append")),
        "getdel" => events.extend(every_key(1, 1, F::GENERIC, "del", When::Removed).take(1)),
        "getex" => {
            if has_option(args, 2, &["persist"]) {
                events.push(on(1, F::GENERIC, "persist"));
            } else if has_option(args, 2, &["ex", "px", "exat", "pxat"]) {
                expiry(1, &mut events);
            }
        }
        "del" | "unlink" => events.extend(every_key(1, 1, F::GENERIC, "del", When::Removed)),
        "expire" | "pexpire" | "expireat" | "pexpireat" => expiry(1, &mut events),
        "persist" => events.push(on(1, F::GENERIC, "persist")),
        "rename" | "renamenx" => {
            events.push(on(1, F::GENERIC, "rename_from"));
            events.push(on(2, F::GENERIC, "rename_to"));
        }
        "copy" => events.push(on(2, F::GENERIC, "copy_to")),
        "lpush" | "lpushx" => events.push(on(1, F::LIST, "lpush")),
        "rpush" | "rpushx" => events.push(on(1, F::LIST, "rpush")),
        "lpop" => events.push(on(1, F::LIST, "lpop")),
        "rpop" => events.push(on(1, F::LIST, "rpop")),
        "linsert" => events.push(on(1, F::LIST, "linsert")),
        "lset" => events.push(on(1, F::LIST, "lset")),
        "ltrim" => events.push(on(1, F::LIST, "ltrim")),
        "lrem" => events.push(on(1, F::LIST, "lrem")),
        "rpoplpush" => {
            events.push(on(1, F::LIST, "rpop"));
            events.push(on(2, F::LIST, "lpush"));
        }
        "lmove" => {
            let side = |i: usize, left: &'static str, right: &'static str| {
                if args.get(i).is_some_and(|a| eq_ignore_case(a, "left")) {
                    left
                } else {
                    right
                }
            };
            events.push(on(1, F::LIST, side(3, "lpop", "rpop")));
            events.push(on(2, F::LIST, side(4, "lpush", "rpush")));
        }
        "hset" | "hmset" | "hsetnx" => events.push(on(1, F::HASH, "hset")),
        "hdel" => events.push(on(1, F::HASH, "hdel")),
        "hincrby" => events.push(on(1, F::HASH, "hincrby")),
        "hincrbyfloat" => events.push(on(1, F::HASH, "hincrbyfloat")),
        "sadd" => events.push(on(1, F::SET, "sadd")),
        "srem" => events.push(on(1, F::SET, "srem")),
        "spop" => events.push(on(1, F::SET, "spop")),
        "smove" => {
            events.push(on(1, F::SET, "srem"));
            events.push(on(2, F::SET, "sadd"));
        }
        "sinterstore" | "sunionstore" | "sdiffstore" => events.push(KeyEvent {
            when: When::Kept,
            ..on(1, F::SET, static_name(name))
        }),
        "zadd" => {
            let event = if has_option(args, 2, &["incr"]) {
                "zincr"
            } else {
                "zadd"
            };
            events.push(on(1, F::ZSET, event));
        }
        "zincrby" => events.push(on(1, F::ZSET, "zincr")),
        "zrem" => events.push(on(1, F::ZSET, "zrem")),
        "zremrangebyscore" | "zremrangebyrank" | "zremrangebylex" | "zpopmin" | "zpopmax" => {
            events.push(on(1, F::ZSET, static_name(name)))
        }
        "zunionstore" | "zinterstore" | "zdiffstore" | "zrangestore" => events.push(KeyEvent {
            when: When::Kept,
            ..on(1, F::ZSET, static_name(name))
        }),
        _ => {}
    }
    events
}

/// The event names that are the command's own name, as `&'static str`.
fn static_name(name: &str) -> &'static str {
    const NAMES: &[&str] = &[
        "sinterstore",
        "sunionstore",
        "sdiffstore",
        "zremrangebyscore",
        "zremrangebyrank",
        "zremrangebylex",
        "zpopmin",
        "zpopmax",
        "zunionstore",
        "zinterstore",
        "zdiffstore",
        "zrangestore",
    ];
    NAMES.iter().find(|n| **n == name).copied().unwrap_or("")
}

/// Whether `class` is one of the collection classes whose commands delete a key they empty.
pub fn empties_key(class: u16) -> bool {
    class & (F::LIST | F::SET | F::HASH | F::ZSET) != 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<Bytes> {
        text.split(' ')
            .map(|w| Bytes::copy_from_slice(w.as_bytes()))
            .collect()
    }

    fn names(command: &str) -> Vec<(usize, &'static str)> {
        let args = args(command);
        let name = String::from_utf8_lossy(&args[0]).to_ascii_lowercase();
        key_events(&name, &args)
            .iter()
            .map(|e| (e.arg, e.event))
            .collect()
    }

    #[test]
    fn events_follow_redis_names() {
        assert_eq!(names("SET k v"), vec![(1, "set")]);
        assert_eq!(
            names("SET k v EX 10"),
            vec![(1, "set"), (1, "expire"), (1, "del")]
        );
        assert_eq!(names("MSET a 1 b 2"), vec![(1, "set"), (3, "set")]);
        assert_eq!(names("INCRBY k 2"), vec![(1, "incrby")]);
        assert_eq!(names("DEL a b"), vec![(1, "del"), (2, "del")]);
        assert_eq!(
            names("RENAME a b"),
            vec![(1, "rename_from"), (2, "rename_to")]
        );
        assert_eq!(
            names("LMOVE a b LEFT RIGHT"),
            vec![(1, "lpop"), (2, "rpush")]
        );
        assert_eq!(names("ZADD z INCR 1 m"), vec![(1, "zincr")]);
        assert_eq!(names("ZINCRBY z 1 m"), vec![(1, "zincr")]);
        assert_eq!(names("SUNIONSTORE d a b"), vec![(1, "sunionstore")]);
        assert_eq!(names("GET k"), vec![]);
    }
}
