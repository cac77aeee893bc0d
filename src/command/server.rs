//! Connection and server commands: their table rows and the pure rendering of what they report.
//!
//! These commands need state only the server layer has (clients on every core, per-shard counters,
//! the process), so the server layer gathers that state into the plain structs below and the
//! functions here turn it into Redis 7.2's exact reply formats. Nothing here touches the network,
//! a shard or the runtime.
//!
//! What lives here: the `COMMANDS` rows (all [`Routing::Connection`]), `COMMAND` and its
//! subcommands ([`command_command`]), the `INFO` text ([`render_info`]), a `CLIENT LIST` line
//! ([`client_list_line`]), `CLIENT KILL` filters ([`parse_client_kill`]), client name checks,
//! `HELLO` parsing and its reply, and Redis's `HELP` reply shape ([`help_reply`]).

use std::collections::{BTreeMap, HashSet};
use std::fmt::{Display, Write as _};
use std::sync::OnceLock;

use bytes::Bytes;

use super::util::{eq_ignore_case, parse_i64, syntax_error};
use super::{all_commands, arity_error, command_count, lookup, CommandSpec, Routing};
use crate::keyspace::glob::glob_match;
use crate::protocol::reply::Reply;

/// The Redis version shardis speaks and reports (INFO, HELLO): clients gate features on it.
pub const REDIS_VERSION: &str = "7.2.4";

/// What every row here shares: no keys, served by the connection's own core.
const CONNECTION_COMMAND: CommandSpec = CommandSpec {
    name: "",
    arity: 0,
    flags: &[],
    first_key: 0,
    last_key: 0,
    step: 0,
    key_finder: None,
    routing: Routing::Connection,
    handler: None,
    group: "connection",
    summary: "",
    since: "",
};

/// Flags as Redis 7.2's command table has them, listed in the order `COMMAND INFO` prints them.
pub const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "ping",
        arity: -1,
        flags: &["fast"],
        summary: "Returns the server's liveliness response.",
        since: "1.0.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "echo",
        arity: 2,
        flags: &["fast"],
        summary: "Returns the given string.",
        since: "1.0.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "quit",
        arity: -1,
        flags: &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        summary: "Closes the connection.",
        since: "1.0.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "reset",
        arity: 1,
        flags: &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        summary: "Resets the connection.",
        since: "6.2.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "hello",
        arity: -1,
        flags: &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        summary: "Handshakes with the Redis server.",
        since: "6.0.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "auth",
        arity: -2,
        flags: &[
            "noscript",
            "loading",
            "stale",
            "fast",
            "no_auth",
            "allow_busy",
        ],
        summary: "Authenticates the connection.",
        since: "1.0.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "select",
        arity: 2,
        flags: &["loading", "stale", "fast"],
        summary: "Changes the selected database.",
        since: "1.0.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "client",
        arity: -2,
        flags: &[],
        summary: "A container for client connection commands.",
        since: "2.4.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "time",
        arity: 1,
        flags: &["loading", "stale", "fast"],
        group: "server",
        summary: "Returns the server time.",
        since: "2.6.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "info",
        arity: -1,
        flags: &["loading", "stale"],
        group: "server",
        summary: "Returns information and statistics about the server.",
        since: "1.0.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "command",
        arity: -1,
        flags: &["loading", "stale"],
        group: "server",
        summary: "Returns detailed information about all commands.",
        since: "2.8.13",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "config",
        arity: -2,
        flags: &[],
        group: "server",
        summary: "A container for server configuration commands.",
        since: "2.0.0",
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "shutdown",
        arity: -1,
        flags: &[
            "admin",
            "noscript",
            "loading",
            "stale",
            "no_multi",
            "allow_busy",
        ],
        group: "server",
        summary: "Synchronously saves the database(s) to disk and shuts down the Redis server.",
        since: "1.0.0",
        ..CONNECTION_COMMAND
    },
];

// ---------------------------------------------------------------------------------------------
// Shared reply shapes
// ---------------------------------------------------------------------------------------------

/// Redis's `addReplyHelp`: a header naming the command, the given lines, then the HELP entry, all
/// as status replies.
pub fn help_reply(command: &str, lines: &[&str]) -> Reply {
    let mut items = Vec::with_capacity(lines.len() + 3);
    items.push(status_line(format!(
        "{} <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        command.to_ascii_uppercase()
    )));
    items.extend(lines.iter().map(|line| status_line(line.to_string())));
    items.push(Reply::status("HELP"));
    items.push(Reply::status("    Print this help."));
    Reply::Array(items)
}

/// Redis 7's reply for a container command given a subcommand it lacks.
pub fn unknown_subcommand_error(command: &str, subcommand: &[u8]) -> Reply {
    let subcommand: String = String::from_utf8_lossy(subcommand)
        .chars()
        .take(128)
        .collect();
    Reply::error(format!(
        "ERR unknown subcommand '{subcommand}'. Try {} HELP.",
        command.to_ascii_uppercase()
    ))
}

/// Redis 7's arity error for a subcommand names it `container|subcommand`.
pub fn subcommand_arity_error(command: &str, subcommand: &str) -> Reply {
    arity_error(format!("{command}|{subcommand}").as_bytes())
}

fn status_line(text: String) -> Reply {
    Reply::Status(Bytes::from(text))
}

// ---------------------------------------------------------------------------------------------
// COMMAND
// ---------------------------------------------------------------------------------------------

const COMMAND_HELP: &[&str] = &[
    "(no subcommand)",
    "    Return details about all Redis commands.",
    "COUNT",
    "    Return the total number of commands in this Redis server.",
    "LIST",
    "    Return a list of all commands in this Redis server.",
    "INFO [<command-name> ...]",
    "    Return details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "DOCS [<command-name> ...]",
    "    Return documentation details about multiple Redis commands.",
    "    If no command names are given, documentation details for all",
    "    commands are returned.",
    "GETKEYS <full-command>",
    "    Return the keys from a full Redis command.",
];

/// `COMMAND`'s subcommands with Redis's arity for each (counting "COMMAND" itself).
const COMMAND_SUBCOMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "count",
        arity: 2,
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "info",
        arity: -2,
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "docs",
        arity: -2,
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "list",
        arity: -2,
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "getkeys",
        arity: -3,
        ..CONNECTION_COMMAND
    },
    CommandSpec {
        name: "help",
        arity: 2,
        ..CONNECTION_COMMAND
    },
];

/// `COMMAND [COUNT | INFO | DOCS | LIST | GETKEYS | HELP ...]`; `args[0]` is "COMMAND".
pub fn command_command(args: &[Bytes]) -> Reply {
    let Some(subcommand) = args.get(1) else {
        return Reply::Array(commands().map(command_info_entry).collect());
    };
    let Some(found) = COMMAND_SUBCOMMANDS
        .iter()
        .find(|known| eq_ignore_case(subcommand, known.name))
    else {
        return unknown_subcommand_error("command", subcommand);
    };
    let name = found.name;
    if !found.arity_ok(args.len()) {
        return subcommand_arity_error("command", name);
    }
    match name {
        "count" => Reply::Integer(command_count() as i64),
        "info" if args.len() == 2 => Reply::Array(commands().map(command_info_entry).collect()),
        "info" => Reply::Array(
            args[2..]
                .iter()
                .map(|name| lookup(name).map_or(Reply::Null, command_info_entry))
                .collect(),
        ),
        "docs" if args.len() == 2 => Reply::Map(
            commands()
                .map(|spec| (Reply::bulk(spec.name), command_docs(spec)))
                .collect(),
        ),
        "docs" => Reply::Map(
            args[2..]
                .iter()
                .filter_map(|name| lookup(name))
                .map(|spec| (Reply::bulk(spec.name), command_docs(spec)))
                .collect(),
        ),
        "list" => command_list(&args[2..]),
        "getkeys" => match lookup(&args[2]) {
            Some(spec) => command_getkeys(spec, &args[2..]),
            None => Reply::error_static("ERR Invalid command specified"),
        },
        _ => help_reply("command", COMMAND_HELP),
    }
}

/// Every row once, as `COMMAND COUNT` counts them: a name defined twice is reported as the row
/// `lookup` finds for it.
fn commands() -> impl Iterator<Item = &'static CommandSpec> {
    let mut seen = HashSet::new();
    all_commands()
        .filter(move |spec| seen.insert(spec.name))
        .map(|spec| lookup(spec.name.as_bytes()).unwrap_or(spec))
}

/// One `COMMAND INFO` entry in Redis 7's ten-element shape. Tips, key specifications and
/// subcommands are reported empty: the table does not carry them.
fn command_info_entry(spec: &'static CommandSpec) -> Reply {
    Reply::Array(vec![
        Reply::bulk(spec.name),
        Reply::Integer(spec.arity as i64),
        Reply::Set(spec.flags.iter().copied().map(Reply::status).collect()),
        Reply::Integer(spec.first_key as i64),
        Reply::Integer(spec.last_key as i64),
        Reply::Integer(spec.step as i64),
        Reply::Set(
            acl_categories(spec)
                .map(|category| status_line(format!("@{category}")))
                .collect(),
        ),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        Reply::Array(Vec::new()),
    ])
}

/// One `COMMAND DOCS` value: Redis's map, in its key order, of the fields the table carries.
fn command_docs(spec: &CommandSpec) -> Reply {
    let mut fields = Vec::with_capacity(3);
    if !spec.summary.is_empty() {
        fields.push((Reply::bulk("summary"), Reply::bulk(spec.summary)));
    }
    if !spec.since.is_empty() {
        fields.push((Reply::bulk("since"), Reply::bulk(spec.since)));
    }
    fields.push((Reply::bulk("group"), Reply::bulk(spec.group)));
    Reply::Map(fields)
}

/// `COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]`.
fn command_list(options: &[Bytes]) -> Reply {
    enum Filter<'a> {
        None,
        Module,
        AclCategory(&'a [u8]),
        Pattern(&'a [u8]),
    }
    let mut filter = Filter::None;
    let mut i = 0;
    while i < options.len() {
        // Redis only accepts FILTERBY as the last three arguments.
        if !(eq_ignore_case(&options[i], "filterby") && options.len() - i == 3) {
            return syntax_error();
        }
        let (kind, value) = (&options[i + 1], &options[i + 2]);
        filter = if eq_ignore_case(kind, "module") {
            Filter::Module
        } else if eq_ignore_case(kind, "aclcat") {
            Filter::AclCategory(value)
        } else if eq_ignore_case(kind, "pattern") {
            Filter::Pattern(value)
        } else {
            return syntax_error();
        };
        i += 3;
    }
    let names = commands()
        .filter(|spec| match filter {
            Filter::None => true,
            // shardis loads no modules.
            Filter::Module => false,
            Filter::AclCategory(wanted) => {
                acl_categories(spec).any(|category| eq_ignore_case(wanted, category))
            }
            Filter::Pattern(pattern) => glob_match(pattern, spec.name.as_bytes(), true),
        })
        .map(|spec| Reply::bulk(spec.name))
        .collect();
    Reply::Array(names)
}

/// `COMMAND GETKEYS`; `command` is the full command whose keys are wanted, name first.
fn command_getkeys(spec: &CommandSpec, command: &[Bytes]) -> Reply {
    // Redis checks in this order: known command, has keys at all, argument count.
    if spec.first_key <= 0 {
        return Reply::error_static("ERR The command has no key arguments");
    }
    if !spec.arity_ok(command.len()) {
        return Reply::error_static("ERR Invalid number of arguments specified for command");
    }
    let keys: Vec<Reply> = spec
        .key_positions(command)
        .map(|at| Reply::Bulk(command[at].clone()))
        .collect();
    if keys.is_empty() {
        return Reply::error_static("ERR Invalid arguments specified for command");
    }
    Reply::Array(keys)
}

/// Redis's ACL categories in the order `COMMAND INFO` lists them (`ACLCommandCategories`).
const ACL_CATEGORIES: [&str; 21] = [
    "keyspace",
    "read",
    "write",
    "set",
    "sortedset",
    "list",
    "hash",
    "string",
    "bitmap",
    "hyperloglog",
    "geo",
    "stream",
    "pubsub",
    "admin",
    "fast",
    "slow",
    "blocking",
    "dangerous",
    "connection",
    "transaction",
    "scripting",
];

/// Commands that only group subcommands; like Redis's containers they get no family category.
const CONTAINERS: &[&str] = &[
    "acl", "client", "cluster", "config", "function", "latency", "memory", "module", "object",
    "pubsub", "script", "slowlog", "xgroup", "xinfo",
];

/// Commands Redis marks `@dangerous` without the `admin` flag.
const DANGEROUS: &[&str] = &[
    "keys", "flushdb", "flushall", "swapdb", "info", "sort", "sort_ro", "migrate", "restore",
    "role", "lastsave",
];

/// A command's ACL categories, in Redis's order.
///
/// The table has no category column, so this rebuilds Redis's: the family category from the
/// group ("string" -> @string, "generic" -> @keyspace, ...), the few explicit ones Redis gives by
/// name, then `setImplicitACLCategories`: write -> @write, readonly -> @read, admin -> @admin
/// @dangerous, pubsub, fast, blocking, and @slow for everything not @fast.
fn acl_categories(spec: &CommandSpec) -> impl Iterator<Item = &'static str> {
    let mut wanted = [false; ACL_CATEGORIES.len()];
    let mut add = |category: &str| {
        if let Some(index) = ACL_CATEGORIES.iter().position(|known| *known == category) {
            wanted[index] = true;
        }
    };
    match spec.group {
        _ if CONTAINERS.contains(&spec.name) => {}
        "generic" => add("keyspace"),
        "sorted-set" => add("sortedset"),
        "transactions" => add("transaction"),
        "string" | "bitmap" | "hyperloglog" | "list" | "hash" | "set" | "geo" | "stream"
        | "pubsub" | "scripting" | "connection" => add(spec.group),
        _ => {}
    }
    match spec.name {
        "command" => add("connection"),
        "dbsize" | "flushdb" | "flushall" | "swapdb" => add("keyspace"),
        _ => {}
    }
    if DANGEROUS.contains(&spec.name) {
        add("dangerous");
    }
    for flag in spec.flags {
        match *flag {
            "write" => add("write"),
            "readonly" if spec.group != "scripting" => add("read"),
            "admin" => {
                add("admin");
                add("dangerous");
            }
            "pubsub" => add("pubsub"),
            "fast" => add("fast"),
            "blocking" => add("blocking"),
            _ => {}
        }
    }
    if !spec.flags.contains(&"fast") {
        add("slow");
    }
    ACL_CATEGORIES
        .into_iter()
        .zip(wanted)
        .filter(|(_, on)| *on)
        .map(|(category, _)| category)
}

// ---------------------------------------------------------------------------------------------
// CLIENT
// ---------------------------------------------------------------------------------------------

/// One client as `CLIENT LIST` / `CLIENT INFO` show it.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: i32,
    pub name: String,
    pub age_seconds: u64,
    pub idle_seconds: u64,
    pub db: usize,
    /// Bytes waiting in the query buffer, and its free capacity.
    pub query_buffer: usize,
    pub query_buffer_free: usize,
    /// Bytes of replies not yet written.
    pub output_memory: usize,
    /// Last command run, lower-case, subcommand joined with '|' ("client|list").
    pub last_command: String,
    pub resp: u8,
    pub lib_name: String,
    pub lib_version: String,
    /// The shard (core) that owns the connection.
    pub shard: usize,
    /// Capacity of the connection's reply buffer (`rbs`).
    pub reply_buffer_size: usize,
    /// A MONITOR client (`flags=O`).
    pub monitor: bool,
    /// Channels, patterns and shard channels subscribed (`sub`, `psub`, `ssub`; `flags=P`).
    pub subscriptions: (usize, usize, usize),
    /// Commands queued since MULTI (`multi=`, `flags=x`); `None` outside MULTI (`multi=-1`).
    pub queued: Option<usize>,
    /// Waiting in a blocking command (`flags=b`).
    pub blocked: bool,
}

/// One `CLIENT LIST` line in Redis 7.2's field order, without the trailing newline.
///
/// Fields shardis has no counterpart for are reported as an idle Redis client shows them
/// (`flags=N`, `sub=0`, `multi=-1`, `events=r`, `user=default`, ...). `tot-mem` is the sum of the
/// buffers shardis tracks.
pub fn client_list_line(c: &ClientInfo) -> String {
    let total_memory = c.query_buffer + c.query_buffer_free + c.reply_buffer_size + c.output_memory;
    let (sub, psub, ssub) = c.subscriptions;
    let flags = if c.monitor {
        "O"
    } else if c.blocked {
        "b"
    } else if c.queued.is_some() {
        "x"
    } else if sub + psub + ssub > 0 {
        "P"
    } else {
        "N"
    };
    let multi = c.queued.map_or(-1, |n| n as i64);
    let command = if c.last_command.is_empty() {
        "NULL"
    } else {
        c.last_command.as_str()
    };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi={} \
         qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r \
         cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        c.name,
        c.age_seconds,
        c.idle_seconds,
        flags,
        c.db,
        sub,
        psub,
        ssub,
        multi,
        c.query_buffer,
        c.query_buffer_free,
        c.reply_buffer_size,
        c.output_memory,
        total_memory,
        command,
        c.resp,
        c.lib_name,
        c.lib_version,
    )
}

/// Redis's `validateClientAttr`, for `CLIENT SETNAME`, `HELLO SETNAME` and `CLIENT SETINFO`:
/// the name must survive being split on spaces in `CLIENT LIST`.
pub fn validate_client_name(name: &[u8]) -> Result<(), Reply> {
    if name.iter().any(|&byte| !(b'!'..=b'~').contains(&byte)) {
        return Err(Reply::error_static(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ));
    }
    Ok(())
}

/// The client types `CLIENT KILL TYPE` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientType {
    Normal,
    Master,
    Replica,
    PubSub,
}

/// Which clients a `CLIENT KILL` selects; every set condition must hold.
#[derive(Debug, Clone, PartialEq)]
pub struct KillFilter {
    /// `CLIENT KILL ip:port`: the reply is +OK or "ERR No such client" rather than a count, and
    /// the caller may kill itself.
    old_form: bool,
    pub id: Option<u64>,
    pub addr: Option<Bytes>,
    pub laddr: Option<Bytes>,
    pub client_type: Option<ClientType>,
    /// Spare the calling client (`SKIPME`, yes unless said otherwise in the new form).
    pub skip_me: bool,
    /// Only clients connected at least this many seconds; 0 for any age.
    pub max_age: i64,
}

impl KillFilter {
    /// Whether `client` is selected; `caller_id` is the client running `CLIENT KILL`.
    pub fn matches(&self, client: &ClientInfo, caller_id: u64) -> bool {
        if self
            .addr
            .as_ref()
            .is_some_and(|addr| &addr[..] != client.addr.as_bytes())
        {
            return false;
        }
        if self
            .laddr
            .as_ref()
            .is_some_and(|laddr| &laddr[..] != client.laddr.as_bytes())
        {
            return false;
        }
        // No replicas or masters yet: a client is a pub/sub one while it subscribes to
        // anything (Redis's CLIENT_PUBSUB), a normal one otherwise.
        let (sub, psub, ssub) = client.subscriptions;
        let actual = if sub + psub + ssub > 0 {
            ClientType::PubSub
        } else {
            ClientType::Normal
        };
        if self.client_type.is_some_and(|wanted| wanted != actual) {
            return false;
        }
        if self.id.is_some_and(|id| id != client.id) {
            return false;
        }
        if self.skip_me && client.id == caller_id {
            return false;
        }
        if self.max_age != 0 && (client.age_seconds as i64) < self.max_age {
            return false;
        }
        true
    }

    pub fn is_old_form(&self) -> bool {
        self.old_form
    }
}

/// Parses `CLIENT KILL ...`; `args` is the whole command ("CLIENT", "KILL", ...).
pub fn parse_client_kill(args: &[Bytes]) -> Result<KillFilter, Reply> {
    let mut filter = KillFilter {
        old_form: false,
        id: None,
        addr: None,
        laddr: None,
        client_type: None,
        skip_me: true,
        max_age: 0,
    };
    if args.len() == 3 {
        filter.old_form = true;
        filter.addr = Some(args[2].clone());
        filter.skip_me = false;
        return Ok(filter);
    }
    if args.len() < 3 {
        return Err(syntax_error());
    }
    let mut i = 2;
    while i < args.len() {
        let (option, Some(value)) = (&args[i], args.get(i + 1)) else {
            return Err(syntax_error());
        };
        if eq_ignore_case(option, "id") {
            match parse_i64(value) {
                Some(id) if id > 0 => filter.id = Some(id as u64),
                _ => {
                    return Err(Reply::error_static(
                        "ERR client-id should be greater than 0",
                    ))
                }
            }
        } else if eq_ignore_case(option, "type") {
            filter.client_type = Some(client_type_by_name(value).ok_or_else(|| {
                Reply::error(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(value)
                ))
            })?);
        } else if eq_ignore_case(option, "addr") {
            filter.addr = Some(value.clone());
        } else if eq_ignore_case(option, "laddr") {
            filter.laddr = Some(value.clone());
        } else if eq_ignore_case(option, "user") {
            // "default" is the only user shardis has; ACL user names are case-sensitive.
            if &value[..] != b"default" {
                return Err(Reply::error(format!(
                    "ERR No such user '{}'",
                    String::from_utf8_lossy(value)
                )));
            }
        } else if eq_ignore_case(option, "skipme") {
            filter.skip_me = if eq_ignore_case(value, "yes") {
                true
            } else if eq_ignore_case(value, "no") {
                false
            } else {
                return Err(syntax_error());
            };
        } else if eq_ignore_case(option, "maxage") {
            filter.max_age = parse_i64(value).ok_or_else(|| {
                Reply::error_static("ERR maxage is not an integer or out of range")
            })?;
        } else {
            return Err(syntax_error());
        }
        i += 2;
    }
    Ok(filter)
}

/// Redis's `getClientTypeByName`.
fn client_type_by_name(name: &[u8]) -> Option<ClientType> {
    if eq_ignore_case(name, "normal") {
        Some(ClientType::Normal)
    } else if eq_ignore_case(name, "master") {
        Some(ClientType::Master)
    } else if eq_ignore_case(name, "replica") || eq_ignore_case(name, "slave") {
        Some(ClientType::Replica)
    } else if eq_ignore_case(name, "pubsub") {
        Some(ClientType::PubSub)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// HELLO
// ---------------------------------------------------------------------------------------------

/// A parsed `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
///
/// The server layer applies it in Redis's order: authenticate, then check the name with
/// [`validate_client_name`] and set it, then switch protocol and reply with [`hello_reply`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HelloRequest {
    pub protocol: Option<u8>,
    pub auth: Option<(Bytes, Bytes)>,
    pub client_name: Option<Bytes>,
}

/// Parses `HELLO`; `args[0]` is "HELLO".
pub fn parse_hello(args: &[Bytes]) -> Result<HelloRequest, Reply> {
    let mut request = HelloRequest::default();
    if let Some(version) = args.get(1) {
        let version = parse_i64(version).ok_or_else(|| {
            Reply::error_static("ERR Protocol version is not an integer or out of range")
        })?;
        if !(2..=3).contains(&version) {
            return Err(Reply::error_static("NOPROTO unsupported protocol version"));
        }
        request.protocol = Some(version as u8);
    }
    let mut i = 2;
    while i < args.len() {
        let more = args.len() - 1 - i;
        if eq_ignore_case(&args[i], "auth") && more >= 2 {
            request.auth = Some((args[i + 1].clone(), args[i + 2].clone()));
            i += 3;
        } else if eq_ignore_case(&args[i], "setname") && more >= 1 {
            request.client_name = Some(args[i + 1].clone());
            i += 2;
        } else {
            return Err(Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&args[i])
            )));
        }
    }
    Ok(request)
}

/// Redis 7's `HELLO` map. `protocol` is the version now in effect for the connection. The
/// shard count is not part of it: the map stays exactly Redis's so clients read it unchanged.
pub fn hello_reply(client_id: u64, protocol: u8, _shards: usize) -> Reply {
    Reply::Map(vec![
        (Reply::bulk("server"), Reply::bulk("redis")),
        (Reply::bulk("version"), Reply::bulk(REDIS_VERSION)),
        (Reply::bulk("proto"), Reply::Integer(protocol as i64)),
        (Reply::bulk("id"), Reply::Integer(client_id as i64)),
        (Reply::bulk("mode"), Reply::bulk("standalone")),
        (Reply::bulk("role"), Reply::bulk("master")),
        (Reply::bulk("modules"), Reply::Array(Vec::new())),
    ])
}

// ---------------------------------------------------------------------------------------------
// INFO
// ---------------------------------------------------------------------------------------------

/// Counters of one shard, gathered for INFO.
#[derive(Debug, Clone, Default)]
pub struct ShardSnapshot {
    pub shard: usize,
    pub connected_clients: u64,
    pub total_connections_received: u64,
    pub rejected_connections: u64,
    pub total_commands_processed: u64,
    pub total_error_replies: u64,
    pub total_net_input_bytes: u64,
    pub total_net_output_bytes: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub memory_estimate: u64,
    /// Commands this shard ran for connections on other shards.
    pub remote_commands: u64,
    /// Clients of this core waiting in a blocking command, and keys clients wait on here.
    pub blocked_clients: u64,
    pub blocking_keys: u64,
    /// Per database (index, keys, keys with a deadline, avg_ttl ms) for non-empty databases.
    pub keyspace: Vec<(usize, u64, u64, u64)>,
    /// Binlog and snapshot state (INFO persistence).
    pub persistence: PersistenceFacts,
}

/// One shard's binlog and snapshot state, for INFO persistence.
#[derive(Debug, Clone, Default)]
pub struct PersistenceFacts {
    pub aof_enabled: bool,
    pub appendfsync: &'static str,
    /// Last position appended, written, and durable (fsynced).
    pub binlog_position: u64,
    pub binlog_written_position: u64,
    pub binlog_durable_position: u64,
    pub binlog_segments: u64,
    pub binlog_bytes: u64,
    /// The cause while binlog writes fail (MISCONF), if any.
    pub write_failure: Option<String>,
    pub snapshot_in_progress: bool,
    /// Unix seconds of the last successful snapshot; 0 = none since start.
    pub last_save_unix: u64,
    pub last_snapshot_position: u64,
    pub last_snapshot_duration_ms: Option<u64>,
    pub snapshot_failure: Option<String>,
    pub snapshots_completed: u64,
}

/// Process-wide facts INFO shows, gathered by the server layer.
#[derive(Debug, Clone, Default)]
pub struct ServerFacts {
    pub version: &'static str,
    pub process_id: u32,
    pub run_id: String,
    pub tcp_port: u16,
    pub uptime_seconds: u64,
    /// The frequency the server currently runs its periodic work at (`hz`).
    pub hz: u32,
    pub executable: String,
    pub config_file: String,
    pub shards: usize,
    pub maxclients: u64,
    pub used_memory_rss: u64,
    pub used_cpu_sys: f64,
    pub used_cpu_user: f64,
    pub server_time_usec: u64,
    /// The `hz` the configuration asks for (`configured_hz`).
    pub configured_hz: u32,
    pub pubsub: PubSubFacts,
}

/// INFO's pub/sub figures, over every core.
#[derive(Debug, Clone, Default)]
pub struct PubSubFacts {
    /// Distinct channels, patterns and shard channels with at least one subscriber.
    pub channels: u64,
    pub patterns: u64,
    pub shard_channels: u64,
    /// Clients closed for passing `client-output-buffer-limit`.
    pub output_limit_disconnections: u64,
}

/// INFO's sections in the order Redis prints them, each with its header. Every one is also a
/// default section. Redis's commandstats, errorstats and latencystats are not tracked, so asking
/// for them yields nothing, as any unknown section does.
const INFO_SECTIONS: &[(&str, &str)] = &[
    ("server", "Server"),
    ("clients", "Clients"),
    ("memory", "Memory"),
    ("persistence", "Persistence"),
    ("stats", "Stats"),
    ("replication", "Replication"),
    ("cpu", "CPU"),
    ("modules", "Modules"),
    ("cluster", "Cluster"),
    ("keyspace", "Keyspace"),
    ("shards", "Shards"),
];

/// The text of `INFO [section ...]`, exactly as Redis 7.2 lays it out: `# Header` lines, then
/// `field:value` lines, all ending in CRLF, sections separated by an empty line. Section names
/// are case-insensitive; "default", "all" and "everything" select every section; a section
/// nobody knows selects nothing, so only unknown names give an empty string. The server layer
/// sends it as a bulk string (RESP2) or a `txt` verbatim string (RESP3).
pub fn render_info(sections: &[Bytes], facts: &ServerFacts, shards: &[ShardSnapshot]) -> String {
    let wanted = wanted_sections(sections);
    let mut info = InfoText(String::new());
    for (name, header) in INFO_SECTIONS {
        if !wanted.contains(name) {
            continue;
        }
        if !info.0.is_empty() {
            info.0.push_str("\r\n");
        }
        info.0.push_str("# ");
        info.0.push_str(header);
        info.0.push_str("\r\n");
        match *name {
            "server" => server_section(&mut info, facts),
            "clients" => clients_section(&mut info, facts, shards),
            "memory" => memory_section(&mut info, facts, shards),
            "persistence" => persistence_section(&mut info, facts, shards),
            "stats" => stats_section(&mut info, facts, shards),
            "replication" => replication_section(&mut info, facts),
            "cpu" => cpu_section(&mut info, facts),
            "cluster" => info.field("cluster_enabled", 0),
            "keyspace" => keyspace_section(&mut info, shards),
            "shards" => shards_section(&mut info, shards),
            // "modules": shardis loads none, so the section is its header alone.
            _ => {}
        }
    }
    info.0
}

fn wanted_sections(requested: &[Bytes]) -> Vec<&'static str> {
    let every = || INFO_SECTIONS.iter().map(|(name, _)| *name);
    if requested.is_empty() {
        return every().collect();
    }
    let mut wanted = Vec::new();
    for section in requested {
        let section = section.to_ascii_lowercase();
        match section.as_slice() {
            b"default" | b"all" | b"everything" => wanted.extend(every()),
            // Redis calls the list of loaded modules "module_list".
            b"module_list" => wanted.push("modules"),
            name => wanted.extend(every().filter(|known| known.as_bytes() == name)),
        }
    }
    wanted
}

/// INFO text under construction.
struct InfoText(String);

impl InfoText {
    fn field(&mut self, name: &str, value: impl Display) {
        // Writing to a String cannot fail.
        let _ = write!(self.0, "{name}:{value}\r\n");
    }
}

fn sum(shards: &[ShardSnapshot], counter: impl Fn(&ShardSnapshot) -> u64) -> u64 {
    shards.iter().map(counter).sum()
}

fn server_section(info: &mut InfoText, facts: &ServerFacts) {
    info.field("redis_version", REDIS_VERSION);
    info.field("shardis_version", facts.version);
    info.field("redis_git_sha1", "00000000");
    info.field("redis_git_dirty", 0);
    info.field("redis_build_id", 0);
    info.field("redis_mode", "standalone");
    info.field("os", os_description());
    info.field("arch_bits", usize::BITS);
    info.field("monotonic_clock", "POSIX clock_gettime");
    info.field("multiplexing_api", "io_uring");
    info.field("atomicvar_api", "c11-builtin");
    info.field("gcc_version", "0.0.0");
    info.field("process_id", facts.process_id);
    info.field("process_supervised", "no");
    info.field("run_id", &facts.run_id);
    info.field("tcp_port", facts.tcp_port);
    info.field("server_time_usec", facts.server_time_usec);
    info.field("uptime_in_seconds", facts.uptime_seconds);
    info.field("uptime_in_days", facts.uptime_seconds / 86_400);
    info.field("hz", facts.hz);
    info.field("configured_hz", facts.configured_hz);
    info.field("lru_clock", 0);
    info.field("executable", &facts.executable);
    info.field("config_file", &facts.config_file);
    info.field("io_threads_active", 0);
    info.field("shards", facts.shards);
}

/// `uname -s -r -m`, as Redis prints it in `os:`; read once.
fn os_description() -> &'static str {
    static OS: OnceLock<String> = OnceLock::new();
    OS.get_or_init(|| {
        // SAFETY: utsname is plain bytes, so all-zero is a valid value, and uname only writes
        // NUL-terminated strings into the struct it is given.
        let mut name: libc::utsname = unsafe { std::mem::zeroed() };
        if unsafe { libc::uname(&mut name) } != 0 {
            return format!("{} {}", std::env::consts::OS, std::env::consts::ARCH);
        }
        let text = |field: &[libc::c_char]| {
            let bytes: Vec<u8> = field
                .iter()
                .take_while(|&&c| c != 0)
                .map(|&c| c as u8)
                .collect();
            String::from_utf8_lossy(&bytes).into_owned()
        };
        format!(
            "{} {} {}",
            text(&name.sysname),
            text(&name.release),
            text(&name.machine)
        )
    })
}

fn clients_section(info: &mut InfoText, facts: &ServerFacts, shards: &[ShardSnapshot]) {
    info.field("connected_clients", sum(shards, |s| s.connected_clients));
    info.field("cluster_connections", 0);
    info.field("maxclients", facts.maxclients);
    info.field("client_recent_max_input_buffer", 0);
    info.field("client_recent_max_output_buffer", 0);
    info.field("blocked_clients", sum(shards, |s| s.blocked_clients));
    info.field("tracking_clients", 0);
    info.field("clients_in_timeout_table", 0);
    info.field("total_blocking_keys", sum(shards, |s| s.blocking_keys));
    info.field("total_blocking_keys_on_nokey", 0);
}

fn memory_section(info: &mut InfoText, facts: &ServerFacts, shards: &[ShardSnapshot]) {
    let used = sum(shards, |s| s.memory_estimate);
    let rss = facts.used_memory_rss;
    let fragmentation = if used == 0 {
        0.0
    } else {
        rss as f64 / used as f64
    };
    info.field("used_memory", used);
    info.field("used_memory_human", bytes_to_human(used));
    info.field("used_memory_rss", rss);
    info.field("used_memory_rss_human", bytes_to_human(rss));
    // No peak is tracked yet: the current figure stands in for it.
    info.field("used_memory_peak", used);
    info.field("used_memory_peak_human", bytes_to_human(used));
    info.field("used_memory_dataset", used);
    info.field("maxmemory", 0);
    info.field("maxmemory_human", "0B");
    info.field("maxmemory_policy", "noeviction");
    info.field(
        "mem_fragmentation_ratio",
        format_args!("{fragmentation:.2}"),
    );
    info.field("mem_allocator", "libc");
    info.field("lazyfree_pending_objects", 0);
}

/// Redis's `bytesToHuman`: "512B", "1.50K", "1.00M", ... with two decimals from 1024 up.
pub fn bytes_to_human(bytes: u64) -> String {
    const UNITS: [(u32, char); 5] = [(1, 'K'), (2, 'M'), (3, 'G'), (4, 'T'), (5, 'P')];
    if bytes >= 1024 {
        for (power, unit) in UNITS {
            if bytes < 1024u64.pow(power + 1) {
                return format!("{:.2}{unit}", bytes as f64 / 1024u64.pow(power) as f64);
            }
        }
    }
    // Below 1K, and (as in Redis) from 1024P up.
    format!("{bytes}B")
}

fn persistence_section(info: &mut InfoText, facts: &ServerFacts, shards: &[ShardSnapshot]) {
    // Until a snapshot succeeds Redis reports the start time as the last save.
    let started_at = (facts.server_time_usec / 1_000_000).saturating_sub(facts.uptime_seconds);
    let all = || shards.iter().map(|s| &s.persistence);
    let last_save = all()
        .map(|p| p.last_save_unix)
        .min()
        .filter(|t| *t > 0)
        .unwrap_or(started_at);
    let changes: u64 = all()
        .map(|p| p.binlog_position.saturating_sub(p.last_snapshot_position))
        .sum();
    let in_progress = all().any(|p| p.snapshot_in_progress) as u8;
    let status = |failed: bool| if failed { "err" } else { "ok" };
    let aof_enabled = all().any(|p| p.aof_enabled);
    info.field("loading", 0);
    info.field("async_loading", 0);
    info.field("current_cow_peak", 0);
    info.field("rdb_changes_since_last_save", changes);
    info.field("rdb_bgsave_in_progress", in_progress);
    info.field("rdb_last_save_time", last_save);
    info.field(
        "rdb_last_bgsave_status",
        status(all().any(|p| p.snapshot_failure.is_some())),
    );
    let duration = all().filter_map(|p| p.last_snapshot_duration_ms).max();
    info.field(
        "rdb_last_bgsave_time_sec",
        duration.map_or(-1, |ms| (ms / 1000) as i64),
    );
    info.field(
        "rdb_saves",
        all().map(|p| p.snapshots_completed).min().unwrap_or(0),
    );
    info.field("aof_enabled", aof_enabled as u8);
    info.field("aof_rewrite_in_progress", in_progress);
    info.field("aof_rewrite_scheduled", 0);
    info.field("aof_last_rewrite_time_sec", -1);
    info.field("aof_last_bgrewrite_status", "ok");
    info.field(
        "aof_last_write_status",
        status(all().any(|p| p.write_failure.is_some())),
    );
    if !aof_enabled {
        return;
    }
    let fsync = all().map(|p| p.appendfsync).next().unwrap_or("");
    info.field("binlog_appendfsync", fsync);
    info.field(
        "binlog_segments",
        all().map(|p| p.binlog_segments).sum::<u64>(),
    );
    info.field("binlog_bytes", all().map(|p| p.binlog_bytes).sum::<u64>());
    for shard in shards {
        let p = &shard.persistence;
        info.field(
            &format!("binlog_shard{}", shard.shard),
            format_args!(
                "position={},written={},durable={},segments={},bytes={},snapshot_position={},write_status={}",
                p.binlog_position,
                p.binlog_written_position,
                p.binlog_durable_position,
                p.binlog_segments,
                p.binlog_bytes,
                p.last_snapshot_position,
                status(p.write_failure.is_some()),
            ),
        );
    }
}

fn stats_section(info: &mut InfoText, facts: &ServerFacts, shards: &[ShardSnapshot]) {
    info.field(
        "total_connections_received",
        sum(shards, |s| s.total_connections_received),
    );
    info.field(
        "total_commands_processed",
        sum(shards, |s| s.total_commands_processed),
    );
    info.field("instantaneous_ops_per_sec", 0);
    info.field(
        "total_net_input_bytes",
        sum(shards, |s| s.total_net_input_bytes),
    );
    info.field(
        "total_net_output_bytes",
        sum(shards, |s| s.total_net_output_bytes),
    );
    info.field("instantaneous_input_kbps", "0.00");
    info.field("instantaneous_output_kbps", "0.00");
    info.field(
        "rejected_connections",
        sum(shards, |s| s.rejected_connections),
    );
    info.field("sync_full", 0);
    info.field("sync_partial_ok", 0);
    info.field("sync_partial_err", 0);
    info.field("expired_keys", sum(shards, |s| s.expired_keys));
    info.field("expired_stale_perc", "0.00");
    info.field("expired_time_cap_reached_count", 0);
    info.field("evicted_keys", 0);
    info.field("keyspace_hits", sum(shards, |s| s.keyspace_hits));
    info.field("keyspace_misses", sum(shards, |s| s.keyspace_misses));
    info.field("pubsub_channels", facts.pubsub.channels);
    info.field("pubsub_patterns", facts.pubsub.patterns);
    info.field("pubsub_shardchannels", facts.pubsub.shard_channels);
    info.field("latest_fork_usec", 0);
    info.field("total_forks", 0);
    info.field(
        "total_error_replies",
        sum(shards, |s| s.total_error_replies),
    );
    info.field(
        "client_output_buffer_limit_disconnections",
        facts.pubsub.output_limit_disconnections,
    );
    info.field("total_reads_processed", 0);
    info.field("total_writes_processed", 0);
}

fn replication_section(info: &mut InfoText, facts: &ServerFacts) {
    info.field("role", "master");
    info.field("connected_slaves", 0);
    info.field("master_failover_state", "no-failover");
    info.field("master_replid", &facts.run_id);
    info.field("master_replid2", "0000000000000000000000000000000000000000");
    info.field("master_repl_offset", 0);
    info.field("second_repl_offset", -1);
    info.field("repl_backlog_active", 0);
    info.field("repl_backlog_size", 1_048_576);
    info.field("repl_backlog_first_byte_offset", 0);
    info.field("repl_backlog_histlen", 0);
}

fn cpu_section(info: &mut InfoText, facts: &ServerFacts) {
    info.field("used_cpu_sys", format_args!("{:.6}", facts.used_cpu_sys));
    info.field("used_cpu_user", format_args!("{:.6}", facts.used_cpu_user));
    info.field("used_cpu_sys_children", "0.000000");
    info.field("used_cpu_user_children", "0.000000");
}

/// `dbN:keys=..,expires=..,avg_ttl=..` per non-empty database, summed over shards. A database's
/// avg_ttl is the shards' avg_ttl weighted by how many keys with a deadline each holds.
fn keyspace_section(info: &mut InfoText, shards: &[ShardSnapshot]) {
    // db -> (keys, expires, sum of avg_ttl * expires)
    let mut dbs: BTreeMap<usize, (u64, u64, u128)> = BTreeMap::new();
    for &(db, keys, expires, avg_ttl) in shards.iter().flat_map(|shard| &shard.keyspace) {
        let totals = dbs.entry(db).or_default();
        totals.0 += keys;
        totals.1 += expires;
        totals.2 += avg_ttl as u128 * expires as u128;
    }
    for (db, (keys, expires, weighted_ttl)) in dbs {
        if keys == 0 && expires == 0 {
            continue;
        }
        let avg_ttl = if expires == 0 {
            0
        } else {
            weighted_ttl / expires as u128
        };
        let _ = write!(
            info.0,
            "db{db}:keys={keys},expires={expires},avg_ttl={avg_ttl}\r\n"
        );
    }
}

/// shardis's own section: one line per shard.
fn shards_section(info: &mut InfoText, shards: &[ShardSnapshot]) {
    let mut ordered: Vec<&ShardSnapshot> = shards.iter().collect();
    ordered.sort_by_key(|shard| shard.shard);
    for shard in ordered {
        let keys: u64 = shard.keyspace.iter().map(|&(_, keys, _, _)| keys).sum();
        let _ = write!(
            info.0,
            "shard{}:clients={},keys={},commands={},remote_commands={},expired_keys={},memory={}\r\n",
            shard.shard,
            shard.connected_clients,
            keys,
            shard.total_commands_processed,
            shard.remote_commands,
            shard.expired_keys,
            shard.memory_estimate,
        );
    }
}

#[cfg(test)]
mod tests;
