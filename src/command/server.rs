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
        .key_positions(command.len())
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
}

/// One `CLIENT LIST` line in Redis 7.2's field order, without the trailing newline.
///
/// Fields shardis has no counterpart for are reported as an idle Redis client shows them
/// (`flags=N`, `sub=0`, `multi=-1`, `events=r`, `user=default`, ...). `tot-mem` is the sum of the
/// buffers shardis tracks.
pub fn client_list_line(c: &ClientInfo) -> String {
    let total_memory = c.query_buffer + c.query_buffer_free + c.reply_buffer_size + c.output_memory;
    let command = if c.last_command.is_empty() {
        "NULL"
    } else {
        c.last_command.as_str()
    };
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags=N db={} sub=0 psub=0 ssub=0 multi=-1 \
         qbuf={} qbuf-free={} argv-mem=0 multi-mem=0 rbs={} rbp=0 obl=0 oll=0 omem={} tot-mem={} events=r \
         cmd={} user=default redir=-1 resp={} lib-name={} lib-ver={}",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        c.name,
        c.age_seconds,
        c.idle_seconds,
        c.db,
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
        // Every shardis client is a normal one: no replicas, masters or pub/sub connections yet.
        if self
            .client_type
            .is_some_and(|wanted| wanted != ClientType::Normal)
        {
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
    /// Per database (index, keys, keys with a deadline, avg_ttl ms) for non-empty databases.
    pub keyspace: Vec<(usize, u64, u64, u64)>,
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
            "persistence" => persistence_section(&mut info, facts),
            "stats" => stats_section(&mut info, shards),
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
    info.field("blocked_clients", 0);
    info.field("tracking_clients", 0);
    info.field("clients_in_timeout_table", 0);
    info.field("total_blocking_keys", 0);
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

fn persistence_section(info: &mut InfoText, facts: &ServerFacts) {
    // Nothing has been saved since the start, which is when Redis says the last save was.
    let started_at = (facts.server_time_usec / 1_000_000).saturating_sub(facts.uptime_seconds);
    info.field("loading", 0);
    info.field("async_loading", 0);
    info.field("current_cow_peak", 0);
    info.field("rdb_changes_since_last_save", 0);
    info.field("rdb_bgsave_in_progress", 0);
    info.field("rdb_last_save_time", started_at);
    info.field("rdb_last_bgsave_status", "ok");
    info.field("rdb_last_bgsave_time_sec", -1);
    info.field("rdb_saves", 0);
    info.field("aof_enabled", 0);
    info.field("aof_rewrite_in_progress", 0);
    info.field("aof_rewrite_scheduled", 0);
    info.field("aof_last_rewrite_time_sec", -1);
    info.field("aof_last_bgrewrite_status", "ok");
    info.field("aof_last_write_status", "ok");
}

fn stats_section(info: &mut InfoText, shards: &[ShardSnapshot]) {
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
    info.field("pubsub_channels", 0);
    info.field("pubsub_patterns", 0);
    info.field("latest_fork_usec", 0);
    info.field("total_forks", 0);
    info.field(
        "total_error_replies",
        sum(shards, |s| s.total_error_replies),
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
mod tests {
    use bytes::BytesMut;

    use super::*;

    fn args(parts: &[&str]) -> Vec<Bytes> {
        parts
            .iter()
            .map(|part| Bytes::copy_from_slice(part.as_bytes()))
            .collect()
    }

    fn encoded(reply: &Reply, protocol: u8) -> String {
        let mut out = BytesMut::new();
        reply.encode(&mut out, protocol);
        String::from_utf8(out.to_vec()).unwrap()
    }

    fn error_text(reply: Reply) -> String {
        match reply {
            Reply::Error(text) => String::from_utf8(text.to_vec()).unwrap(),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    fn facts() -> ServerFacts {
        ServerFacts {
            version: "0.1.0",
            process_id: 4242,
            run_id: "a".repeat(40),
            tcp_port: 6379,
            uptime_seconds: 90_061,
            hz: 10,
            executable: "/usr/bin/shardis".to_string(),
            config_file: String::new(),
            shards: 2,
            maxclients: 10_000,
            used_memory_rss: 3 * 1_048_576,
            used_cpu_sys: 1.5,
            used_cpu_user: 0.25,
            server_time_usec: 1_700_000_000_123_456,
            configured_hz: 10,
        }
    }

    /// Two shards, deliberately listed out of order.
    fn shards() -> Vec<ShardSnapshot> {
        vec![
            ShardSnapshot {
                shard: 1,
                connected_clients: 2,
                total_connections_received: 5,
                rejected_connections: 1,
                total_commands_processed: 50,
                total_error_replies: 2,
                total_net_input_bytes: 1000,
                total_net_output_bytes: 2000,
                keyspace_hits: 10,
                keyspace_misses: 3,
                expired_keys: 1,
                memory_estimate: 524_288,
                remote_commands: 3,
                keyspace: vec![(0, 20, 1, 6000)],
            },
            ShardSnapshot {
                shard: 0,
                connected_clients: 1,
                total_connections_received: 4,
                rejected_connections: 0,
                total_commands_processed: 100,
                total_error_replies: 1,
                total_net_input_bytes: 500,
                total_net_output_bytes: 700,
                keyspace_hits: 20,
                keyspace_misses: 4,
                expired_keys: 2,
                memory_estimate: 1_048_576,
                remote_commands: 7,
                keyspace: vec![(0, 10, 4, 1000), (3, 5, 0, 0)],
            },
        ]
    }

    fn info(sections: &[&str]) -> String {
        render_info(&args(sections), &facts(), &shards())
    }

    #[test]
    fn info_one_section_exactly() {
        assert_eq!(
            info(&["clients"]),
            "# Clients\r\nconnected_clients:3\r\ncluster_connections:0\r\nmaxclients:10000\r\n\
             client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:0\r\n\
             tracking_clients:0\r\nclients_in_timeout_table:0\r\ntotal_blocking_keys:0\r\n\
             total_blocking_keys_on_nokey:0\r\n"
        );
        assert_eq!(
            info(&["keyspace"]),
            "# Keyspace\r\ndb0:keys=30,expires=5,avg_ttl=2000\r\ndb3:keys=5,expires=0,avg_ttl=0\r\n"
        );
        assert_eq!(
            info(&["shards"]),
            "# Shards\r\n\
             shard0:clients=1,keys=15,commands=100,remote_commands=7,expired_keys=2,memory=1048576\r\n\
             shard1:clients=2,keys=20,commands=50,remote_commands=3,expired_keys=1,memory=524288\r\n"
        );
    }

    #[test]
    fn info_sections_in_redis_order_separated_by_blank_lines() {
        let expected = "# CPU\r\nused_cpu_sys:1.500000\r\nused_cpu_user:0.250000\r\nused_cpu_sys_children:0.000000\r\n\
                        used_cpu_user_children:0.000000\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n";
        assert_eq!(info(&["Cluster", "CPU"]), expected);
        assert_eq!(info(&["cpu", "CPU", "nosuch", "cluster"]), expected);
        assert_eq!(info(&["nosuch"]), "");
        assert_eq!(info(&["module_list"]), "# Modules\r\n");
    }

    #[test]
    fn info_as_the_server_sends_it() {
        let text = Bytes::from(info(&["cluster"]));
        assert_eq!(
            encoded(&Reply::Bulk(text.clone()), 2),
            "$30\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n"
        );
        assert_eq!(
            encoded(&Reply::Verbatim("txt", text), 3),
            "=34\r\ntxt:# Cluster\r\ncluster_enabled:0\r\n\r\n"
        );
    }

    #[test]
    fn info_default_sections() {
        let default = info(&[]);
        assert_eq!(info(&["default"]), default);
        assert_eq!(info(&["ALL"]), default);
        assert_eq!(info(&["everything"]), default);
        let headers: Vec<&str> = default
            .split("\r\n")
            .filter(|line| line.starts_with('#'))
            .collect();
        assert_eq!(
            headers,
            [
                "# Server",
                "# Clients",
                "# Memory",
                "# Persistence",
                "# Stats",
                "# Replication",
                "# CPU",
                "# Modules",
                "# Cluster",
                "# Keyspace",
                "# Shards"
            ]
        );
        assert!(default.contains("\r\n\r\n# Cluster\r\ncluster_enabled:0\r\n\r\n# Keyspace\r\n"));
        assert!(default.ends_with("memory=524288\r\n"));
    }

    #[test]
    fn info_fields() {
        let server = info(&["server"]);
        assert!(server.starts_with(
            "# Server\r\nredis_version:7.2.4\r\nshardis_version:0.1.0\r\nredis_git_sha1:00000000\r\n\
             redis_git_dirty:0\r\nredis_build_id:0\r\nredis_mode:standalone\r\nos:"
        ));
        for line in [
            "\r\narch_bits:64\r\nmonotonic_clock:POSIX clock_gettime\r\nmultiplexing_api:io_uring\r\n",
            "\r\nprocess_id:4242\r\nprocess_supervised:no\r\nrun_id:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n",
            "\r\nuptime_in_seconds:90061\r\nuptime_in_days:1\r\nhz:10\r\nconfigured_hz:10\r\nlru_clock:0\r\n",
            "\r\nexecutable:/usr/bin/shardis\r\nconfig_file:\r\nio_threads_active:0\r\nshards:2\r\n",
        ] {
            assert!(server.contains(line), "{line:?} in {server}");
        }
        assert!(!server.contains("os:\r\n"));

        let memory = info(&["memory"]);
        for line in [
            "# Memory\r\nused_memory:1572864\r\nused_memory_human:1.50M\r\nused_memory_rss:3145728\r\n",
            "\r\nused_memory_rss_human:3.00M\r\nused_memory_peak:1572864\r\nused_memory_peak_human:1.50M\r\n",
            "\r\nmaxmemory:0\r\nmaxmemory_human:0B\r\nmaxmemory_policy:noeviction\r\nmem_fragmentation_ratio:2.00\r\n",
        ] {
            assert!(memory.contains(line), "{line:?} in {memory}");
        }

        assert!(info(&["persistence"]).contains("\r\nrdb_last_save_time:1699909939\r\n"));
        let stats = info(&["stats"]);
        for line in [
            "# Stats\r\ntotal_connections_received:9\r\ntotal_commands_processed:150\r\n",
            "\r\ntotal_net_input_bytes:1500\r\ntotal_net_output_bytes:2700\r\n",
            "\r\nrejected_connections:1\r\n",
            "\r\nexpired_keys:3\r\n",
            "\r\nkeyspace_hits:30\r\nkeyspace_misses:7\r\n",
            "\r\ntotal_error_replies:3\r\n",
        ] {
            assert!(stats.contains(line), "{line:?} in {stats}");
        }
        assert!(info(&["replication"]).contains(
            "\r\nmaster_replid:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\
             master_replid2:0000000000000000000000000000000000000000\r\n"
        ));
    }

    #[test]
    fn info_without_shards_or_keys() {
        let empty = render_info(&args(&["keyspace", "memory"]), &ServerFacts::default(), &[]);
        assert!(empty.contains("\r\nused_memory_human:0B\r\n"));
        assert!(empty.contains("\r\nmem_fragmentation_ratio:0.00\r\n"));
        assert!(empty.ends_with("\r\n\r\n# Keyspace\r\n"));
    }

    #[test]
    fn bytes_to_human_as_redis() {
        for (bytes, human) in [
            (0, "0B"),
            (512, "512B"),
            (1023, "1023B"),
            (1024, "1.00K"),
            (1536, "1.50K"),
            (1_048_575, "1024.00K"),
            (1_048_576, "1.00M"),
            (1_073_741_824, "1.00G"),
            (1 << 40, "1.00T"),
            (1 << 50, "1.00P"),
            (1 << 60, "1152921504606846976B"),
        ] {
            assert_eq!(bytes_to_human(bytes), human, "{bytes}");
        }
    }

    #[test]
    fn client_list_line_in_redis_field_order() {
        let client = ClientInfo {
            id: 7,
            addr: "127.0.0.1:50000".to_string(),
            laddr: "127.0.0.1:6379".to_string(),
            fd: 9,
            name: "worker".to_string(),
            age_seconds: 12,
            idle_seconds: 3,
            db: 2,
            query_buffer: 26,
            query_buffer_free: 20_448,
            output_memory: 0,
            last_command: "client|list".to_string(),
            resp: 3,
            lib_name: "redis-py".to_string(),
            lib_version: "5.0.1".to_string(),
            shard: 1,
            reply_buffer_size: 1024,
        };
        assert_eq!(
            client_list_line(&client),
            "id=7 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=9 name=worker age=12 idle=3 flags=N db=2 \
             sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 \
             obl=0 oll=0 omem=0 tot-mem=21498 events=r cmd=client|list user=default redir=-1 resp=3 \
             lib-name=redis-py lib-ver=5.0.1"
        );
        let fresh = client_list_line(&ClientInfo::default());
        assert!(fresh.contains(" name= age=0 "));
        assert!(fresh.contains(" cmd=NULL "));
        assert!(fresh.ends_with(" lib-name= lib-ver="));
    }

    #[test]
    fn rows_are_connection_commands_found_by_lookup() {
        for spec in COMMANDS {
            assert_eq!(spec.routing, Routing::Connection, "{}", spec.name);
            assert!(spec.handler.is_none());
            assert_eq!(
                lookup(spec.name.to_uppercase().as_bytes()).unwrap().name,
                spec.name
            );
        }
        for spec in all_commands() {
            let categories: Vec<&str> = acl_categories(spec).collect();
            assert!(
                categories.contains(&"fast") != categories.contains(&"slow"),
                "{}",
                spec.name
            );
        }
    }

    #[test]
    fn command_count_and_listing_agree_with_the_table() {
        assert_eq!(
            command_command(&args(&["COMMAND", "COUNT"])),
            Reply::Integer(command_count() as i64)
        );
        let Reply::Array(all) = command_command(&args(&["command"])) else {
            panic!()
        };
        assert_eq!(all.len(), command_count());
        let Reply::Array(all) = command_command(&args(&["command", "info"])) else {
            panic!()
        };
        assert_eq!(all.len(), command_count());
        let Reply::Array(names) = command_command(&args(&["command", "list"])) else {
            panic!()
        };
        assert_eq!(names.len(), command_count());
        assert!(names.contains(&Reply::bulk("ping")));
    }

    #[test]
    fn command_info_entries() {
        let ping = "*10\r\n$4\r\nping\r\n:-1\r\n*1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n*2\r\n+@fast\r\n+@connection\r\n\
                    *0\r\n*0\r\n*0\r\n";
        let reply = command_command(&args(&["COMMAND", "INFO", "PING", "nosuch"]));
        assert_eq!(encoded(&reply, 2), format!("*2\r\n{ping}$-1\r\n"));
        let reply = command_command(&args(&["COMMAND", "INFO", "ping"]));
        assert_eq!(
            encoded(&reply, 3),
            "*1\r\n*10\r\n$4\r\nping\r\n:-1\r\n~1\r\n+fast\r\n:0\r\n:0\r\n:0\r\n~2\r\n+@fast\r\n+@connection\r\n\
             ~0\r\n*0\r\n*0\r\n"
        );

        let categories = |name: &str| -> Vec<&str> {
            acl_categories(lookup(name.as_bytes()).unwrap()).collect()
        };
        assert_eq!(categories("client"), ["slow"]);
        assert_eq!(categories("config"), ["slow"]);
        assert_eq!(categories("command"), ["slow", "connection"]);
        assert_eq!(categories("info"), ["slow", "dangerous"]);
        assert_eq!(categories("shutdown"), ["admin", "slow", "dangerous"]);
        assert_eq!(categories("time"), ["fast"]);
        assert_eq!(categories("hello"), ["fast", "connection"]);
    }

    static GET: CommandSpec = CommandSpec {
        name: "get",
        arity: 2,
        flags: &["readonly", "fast"],
        first_key: 1,
        last_key: 1,
        step: 1,
        routing: Routing::SingleKey,
        handler: None,
        group: "string",
        summary: "Returns the string value of a key.",
        since: "1.0.0",
    };

    static SET: CommandSpec = CommandSpec {
        name: "set",
        arity: -3,
        flags: &["write", "denyoom"],
        group: "string",
        ..GET
    };

    static MSET: CommandSpec = CommandSpec {
        name: "mset",
        arity: -3,
        flags: &["write", "denyoom"],
        last_key: -1,
        step: 2,
        routing: Routing::MultiKey,
        ..GET
    };

    static KEYS: CommandSpec = CommandSpec {
        name: "keys",
        flags: &["readonly"],
        first_key: 0,
        last_key: 0,
        step: 0,
        routing: Routing::AllShards,
        group: "generic",
        ..GET
    };

    #[test]
    fn command_info_for_key_commands() {
        assert_eq!(
            encoded(&command_info_entry(&GET), 2),
            "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
             *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n"
        );
        assert_eq!(
            encoded(&command_info_entry(&SET), 2),
            "*10\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n\
             *3\r\n+@write\r\n+@string\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n"
        );
        assert_eq!(
            acl_categories(&KEYS).collect::<Vec<_>>(),
            ["keyspace", "read", "slow", "dangerous"]
        );
    }

    #[test]
    fn command_docs() {
        assert_eq!(
            encoded(&command_command(&args(&["COMMAND", "DOCS", "ping", "nosuch"])), 2),
            "*2\r\n$4\r\nping\r\n*6\r\n$7\r\nsummary\r\n$41\r\nReturns the server's liveliness response.\r\n\
             $5\r\nsince\r\n$5\r\n1.0.0\r\n$5\r\ngroup\r\n$10\r\nconnection\r\n"
        );
        assert_eq!(
            encoded(&command_command(&args(&["COMMAND", "DOCS", "nosuch"])), 3),
            "%0\r\n"
        );
        let Reply::Map(all) = command_command(&args(&["COMMAND", "DOCS"])) else {
            panic!()
        };
        assert_eq!(all.len(), command_count());
    }

    #[test]
    fn command_list_filters() {
        let list = |parts: &[&str]| command_command(&args(parts));
        let Reply::Array(connection) =
            list(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "Connection"])
        else {
            panic!()
        };
        assert!(connection.contains(&Reply::bulk("ping")));
        assert!(!connection.contains(&Reply::bulk("time")));
        assert_eq!(
            list(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "nosuch"]),
            Reply::Array(vec![])
        );
        assert_eq!(
            list(&["COMMAND", "LIST", "FILTERBY", "MODULE", "json"]),
            Reply::Array(vec![])
        );
        assert_eq!(
            error_text(list(&["COMMAND", "LIST", "FILTERBY", "NAME", "x"])),
            "ERR syntax error"
        );
        assert_eq!(
            error_text(list(&["COMMAND", "LIST", "FILTERBY", "ACLCAT"])),
            "ERR syntax error"
        );
        assert_eq!(
            error_text(list(&["COMMAND", "LIST", "x"])),
            "ERR syntax error"
        );
    }

    #[test]
    fn command_getkeys() {
        let getkeys = |parts: &[&str]| error_text(command_command(&args(parts)));
        assert_eq!(
            getkeys(&["COMMAND", "GETKEYS", "nosuch", "a"]),
            "ERR Invalid command specified"
        );
        assert_eq!(
            getkeys(&["COMMAND", "GETKEYS", "ping"]),
            "ERR The command has no key arguments"
        );
        assert_eq!(
            getkeys(&["COMMAND", "GETKEYS"]),
            "ERR wrong number of arguments for 'command|getkeys' command"
        );

        let keys = super::command_getkeys(&MSET, &args(&["MSET", "a", "1", "b", "2"]));
        assert_eq!(keys, Reply::Array(vec![Reply::bulk("a"), Reply::bulk("b")]));
        let keys = super::command_getkeys(&GET, &args(&["get", "k"]));
        assert_eq!(keys, Reply::Array(vec![Reply::bulk("k")]));
        assert_eq!(
            error_text(super::command_getkeys(&GET, &args(&["get", "k", "extra"]))),
            "ERR Invalid number of arguments specified for command"
        );
        assert_eq!(
            error_text(super::command_getkeys(&KEYS, &args(&["keys", "*"]))),
            "ERR The command has no key arguments"
        );
    }

    #[test]
    fn command_errors_and_help() {
        assert_eq!(
            error_text(command_command(&args(&["COMMAND", "Foo"]))),
            "ERR unknown subcommand 'Foo'. Try COMMAND HELP."
        );
        assert_eq!(
            error_text(command_command(&args(&["COMMAND", "COUNT", "x"]))),
            "ERR wrong number of arguments for 'command|count' command"
        );
        let Reply::Array(help) = command_command(&args(&["command", "help"])) else {
            panic!()
        };
        assert_eq!(help.len(), COMMAND_HELP.len() + 3);
        assert_eq!(
            help[0],
            Reply::status("COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:")
        );
        assert_eq!(help[1], Reply::status("(no subcommand)"));
        assert_eq!(help[help.len() - 2], Reply::status("HELP"));
        assert_eq!(help[help.len() - 1], Reply::status("    Print this help."));
        assert_eq!(
            encoded(
                &help_reply(
                    "client",
                    &["ID", "    Return the ID of the current connection."]
                ),
                2
            ),
            "*5\r\n+CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:\r\n+ID\r\n\
             +    Return the ID of the current connection.\r\n+HELP\r\n+    Print this help.\r\n"
        );
    }

    fn client(id: u64, addr: &str, age_seconds: u64) -> ClientInfo {
        ClientInfo {
            id,
            addr: addr.to_string(),
            laddr: "127.0.0.1:6379".to_string(),
            age_seconds,
            ..ClientInfo::default()
        }
    }

    #[test]
    fn client_kill_parse_errors() {
        let kill = |parts: &[&str]| error_text(parse_client_kill(&args(parts)).unwrap_err());
        assert_eq!(
            kill(&["CLIENT", "KILL", "ID", "0"]),
            "ERR client-id should be greater than 0"
        );
        assert_eq!(
            kill(&["CLIENT", "KILL", "ID", "x"]),
            "ERR client-id should be greater than 0"
        );
        assert_eq!(
            kill(&["CLIENT", "KILL", "TYPE", "bogus"]),
            "ERR Unknown client type 'bogus'"
        );
        assert_eq!(
            kill(&["CLIENT", "KILL", "SKIPME", "maybe"]),
            "ERR syntax error"
        );
        assert_eq!(
            kill(&["CLIENT", "KILL", "ID", "5", "SKIPME"]),
            "ERR syntax error"
        );
        assert_eq!(kill(&["CLIENT", "KILL", "FOO", "bar"]), "ERR syntax error");
        assert_eq!(
            kill(&["CLIENT", "KILL", "USER", "bob"]),
            "ERR No such user 'bob'"
        );
        assert_eq!(
            kill(&["CLIENT", "KILL", "MAXAGE", "old"]),
            "ERR maxage is not an integer or out of range"
        );
    }

    #[test]
    fn client_kill_old_form() {
        let filter = parse_client_kill(&args(&["CLIENT", "KILL", "10.0.0.1:5000"])).unwrap();
        assert!(filter.is_old_form());
        // The old form may kill the caller itself.
        assert!(filter.matches(&client(3, "10.0.0.1:5000", 0), 3));
        assert!(!filter.matches(&client(4, "10.0.0.1:5001", 0), 3));
    }

    #[test]
    fn client_kill_new_form_matching() {
        let filter = |parts: &[&str]| parse_client_kill(&args(parts)).unwrap();
        let me = client(1, "10.0.0.1:5000", 100);
        let young = client(2, "10.0.0.2:5000", 5);

        let by_id = filter(&["CLIENT", "KILL", "id", "2"]);
        assert!(!by_id.is_old_form());
        assert!(by_id.matches(&young, 1));
        assert!(!by_id.matches(&me, 2));

        let by_addr = filter(&["CLIENT", "KILL", "ADDR", "10.0.0.1:5000"]);
        assert!(!by_addr.matches(&me, 1), "SKIPME defaults to yes");
        assert!(by_addr.matches(&me, 9));
        let by_addr = filter(&["CLIENT", "KILL", "ADDR", "10.0.0.1:5000", "SKIPME", "no"]);
        assert!(by_addr.matches(&me, 1));

        let by_laddr = filter(&["CLIENT", "KILL", "LADDR", "127.0.0.1:6379"]);
        assert!(by_laddr.matches(&me, 9) && by_laddr.matches(&young, 9));
        assert!(!filter(&["CLIENT", "KILL", "LADDR", "127.0.0.1:7000"]).matches(&me, 9));

        assert!(filter(&["CLIENT", "KILL", "TYPE", "normal"]).matches(&young, 1));
        assert!(!filter(&["CLIENT", "KILL", "TYPE", "PubSub"]).matches(&young, 1));
        assert!(!filter(&["CLIENT", "KILL", "TYPE", "slave"]).matches(&young, 1));
        assert!(filter(&["CLIENT", "KILL", "USER", "default"]).matches(&young, 1));

        let old_only = filter(&["CLIENT", "KILL", "MAXAGE", "10", "SKIPME", "no"]);
        assert!(old_only.matches(&me, 1));
        assert!(!old_only.matches(&young, 1));

        let both = filter(&["CLIENT", "KILL", "ID", "2", "MAXAGE", "10"]);
        assert!(!both.matches(&young, 1));
    }

    #[test]
    fn client_names() {
        assert!(validate_client_name(b"worker-1").is_ok());
        assert!(validate_client_name(b"").is_ok());
        for bad in [&b"a b"[..], b"a\n", b"\x7f", "é".as_bytes(), b"\0"] {
            assert_eq!(
                error_text(validate_client_name(bad).unwrap_err()),
                "ERR Client names cannot contain spaces, newlines or special characters."
            );
        }
    }

    #[test]
    fn hello_parsing() {
        let hello = |parts: &[&str]| parse_hello(&args(parts));
        assert_eq!(hello(&["HELLO"]).unwrap(), HelloRequest::default());
        assert_eq!(hello(&["HELLO", "3"]).unwrap().protocol, Some(3));
        let full = hello(&["hello", "2", "setname", "app", "AUTH", "default", "secret"]).unwrap();
        assert_eq!(
            full,
            HelloRequest {
                protocol: Some(2),
                auth: Some((Bytes::from("default"), Bytes::from("secret"))),
                client_name: Some(Bytes::from("app")),
            }
        );

        let error = |parts: &[&str]| error_text(hello(parts).unwrap_err());
        assert_eq!(
            error(&["HELLO", "three"]),
            "ERR Protocol version is not an integer or out of range"
        );
        assert_eq!(
            error(&["HELLO", "4"]),
            "NOPROTO unsupported protocol version"
        );
        assert_eq!(
            error(&["HELLO", "1"]),
            "NOPROTO unsupported protocol version"
        );
        assert_eq!(
            error(&["HELLO", "3", "AUTH", "user"]),
            "ERR Syntax error in HELLO option 'AUTH'"
        );
        assert_eq!(
            error(&["HELLO", "3", "SETNAME"]),
            "ERR Syntax error in HELLO option 'SETNAME'"
        );
        assert_eq!(
            error(&["HELLO", "2", "foo"]),
            "ERR Syntax error in HELLO option 'foo'"
        );
    }

    #[test]
    fn hello_reply_as_redis() {
        assert_eq!(
            encoded(&hello_reply(42, 3, 4), 3),
            "%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n$7\r\nversion\r\n$5\r\n7.2.4\r\n$5\r\nproto\r\n:3\r\n\
             $2\r\nid\r\n:42\r\n$4\r\nmode\r\n$10\r\nstandalone\r\n$4\r\nrole\r\n$6\r\nmaster\r\n\
             $7\r\nmodules\r\n*0\r\n"
        );
        assert!(encoded(&hello_reply(42, 2, 4), 2).starts_with("*14\r\n$6\r\nserver\r\n"));
    }
}
