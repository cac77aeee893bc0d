//! Connection and server commands: the ones that need the connection's own state or facts from
//! every core (PING, SELECT, HELLO, CLIENT, CONFIG, INFO, COMMAND, SHUTDOWN, ...).
//!
//! Gathering from other cores goes through the request mesh like any command, so these never
//! block a shard; formats come from `command::server`.

use std::sync::Arc;

use bytes::Bytes;

use crate::command::keys::parse_db_index;
use crate::command::server::{self as render, ServerFacts, ShardSnapshot};
use crate::command::util::{self, eq_ignore_case};
use crate::command::{arity_error, CommandSpec};
use crate::config::Config;
use crate::protocol::reply::Reply;
use crate::shard::blocking::Unblock;

use super::connection::Connection;
use super::router::{Op, Response};
use super::runtime::{now_ms, PersistOp};
use super::{ControlEvent, VERSION};

/// Runs a connection-level command. `None` means no reply (SHUTDOWN closes the connection).
pub async fn run(
    conn: &mut Connection,
    spec: &'static CommandSpec,
    args: Vec<Bytes>,
) -> Option<Reply> {
    let reply = match spec.name {
        "ping" => match args.len() {
            1 => Reply::status("PONG"),
            2 => Reply::Bulk(args[1].clone()),
            _ => arity_error(&args[0]),
        },
        "echo" => Reply::Bulk(args[1].clone()),
        "quit" => {
            conn.quit = true;
            Reply::ok()
        }
        "select" => select(conn, &args[1]),
        "reset" => reset(conn).await,
        "hello" => hello(conn, &args),
        "auth" => auth(conn, &args),
        "time" => {
            let micros = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_micros() as u64)
                .unwrap_or(0);
            Reply::Array(vec![
                Reply::bulk_integer((micros / 1_000_000) as i64),
                Reply::bulk_integer((micros % 1_000_000) as i64),
            ])
        }
        "info" => info(conn, &args).await,
        "debug" | "slowlog" | "latency" | "monitor" => super::observe::run(conn, spec, args).await,
        "save" | "bgsave" | "bgrewriteaof" | "lastsave" => persist(conn, spec.name, &args).await,
        "command" => render::command_command(&args),
        "multi" | "exec" | "discard" | "watch" | "unwatch" => {
            super::transaction::run(conn, spec, args).await
        }
        "eval" | "evalsha" | "eval_ro" | "evalsha_ro" => {
            super::script::eval(conn, spec, &args).await
        }
        "script" => super::script::script_command(&conn.rt, &args),
        "client" => client(conn, &args).await,
        "config" => config(conn, &args).await,
        "subscribe" | "unsubscribe" | "psubscribe" | "punsubscribe" | "ssubscribe"
        | "sunsubscribe" | "publish" | "spublish" | "pubsub" => {
            return super::pubsub::run(conn, spec, args).await;
        }
        "shutdown" => {
            let abort = args.iter().skip(1).any(|a| eq_ignore_case(a, "abort"));
            if abort {
                Reply::error_static("ERR No shutdown in progress.")
            } else {
                let _ = conn.rt.control.send(ControlEvent::Shutdown);
                conn.quit = true;
                return None;
            }
        }
        _ => crate::command::unknown_command_error(&args),
    };
    Some(reply)
}

/// SELECT reads its index as MOVE and COPY do (Redis's `getIntFromObjectOrReply`), so an index
/// beyond a C int gets the int range error rather than "DB index is out of range".
fn select(conn: &mut Connection, arg: &Bytes) -> Reply {
    match parse_db_index(arg, conn.rt.config().databases) {
        Ok(index) => {
            conn.db = index;
            conn.client.meta.borrow_mut().db = conn.db;
            Reply::ok()
        }
        Err(reply) => reply,
    }
}

/// RESET (Redis 6.2's `clearClientConnectionState`): leaves MULTI and forgets the watched keys,
/// leaves every subscription without confirmations, leaves MONITOR, selects database 0, speaks
/// RESP2 and drops the client's name. (Redis also deauthenticates the client; shardis keeps no
/// authenticated state: `requirepass` is checked by AUTH and HELLO only.)
async fn reset(conn: &mut Connection) -> Reply {
    super::transaction::reset(conn).await;
    super::pubsub::forget(&conn.rt, &conn.client);
    super::observe::stop_monitor(conn);
    conn.db = 0;
    conn.protocol = 2;
    conn.authenticated = conn.rt.config().requirepass.is_empty();
    let mut meta = conn.client.meta.borrow_mut();
    meta.db = 0;
    meta.resp = 2;
    meta.name.clear();
    Reply::status("RESET")
}

fn check_password(conn: &Connection, user: Option<&Bytes>, password: &Bytes) -> Result<(), Reply> {
    let config = conn.rt.config();
    let user_ok = user.map_or(true, |u| u.as_ref() == b"default");
    let password_ok =
        config.requirepass.is_empty() || config.requirepass.as_bytes() == password.as_ref();
    if user_ok && password_ok {
        Ok(())
    } else {
        Err(Reply::error_static(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ))
    }
}

fn auth(conn: &mut Connection, args: &[Bytes]) -> Reply {
    match args.len() {
        2 if conn.rt.config().requirepass.is_empty() => Reply::error_static(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        ),
        2 | 3 => {
            let user = (args.len() == 3).then(|| &args[1]);
            match check_password(conn, user, &args[args.len() - 1]) {
                Ok(()) => {
                    conn.authenticated = true;
                    Reply::ok()
                }
                Err(reply) => reply,
            }
        }
        _ => util::syntax_error(),
    }
}

fn hello(conn: &mut Connection, args: &[Bytes]) -> Reply {
    let request = match render::parse_hello(args) {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    if let Some((user, password)) = &request.auth {
        if let Err(reply) = check_password(conn, Some(user), password) {
            return reply;
        }
        conn.authenticated = true;
    } else if !conn.authenticated && !conn.rt.config().requirepass.is_empty() {
        return Reply::error_static(
            "NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time",
        );
    }
    if let Some(name) = &request.client_name {
        if let Err(reply) = render::validate_client_name(name) {
            return reply;
        }
        conn.client.meta.borrow_mut().name = String::from_utf8_lossy(name).into_owned();
    }
    if let Some(protocol) = request.protocol {
        conn.protocol = protocol;
        conn.client.meta.borrow_mut().resp = protocol;
        super::pubsub::protocol_changed(conn);
    }
    render::hello_reply(conn.client.id, conn.protocol, conn.rt.nshards)
}

/// Asks every shard for `op` (built per shard) and returns the responses in shard order.
pub(super) async fn gather(conn: &mut Connection, mut op: impl FnMut() -> Op) -> Vec<Response> {
    conn.drain().await;
    let seqs: Vec<u32> = (0..conn.rt.nshards)
        .map(|shard| conn.rt.submit(shard, &conn.client, op()))
        .collect();
    conn.client.inbox.wait_all().await;
    let responses = seqs
        .into_iter()
        .map(|seq| conn.client.inbox.take(seq))
        .collect();
    conn.client.inbox.reset();
    responses
}

/// SAVE, BGSAVE [SCHEDULE], BGREWRITEAOF, LASTSAVE: every shard snapshots its own keyspace.
async fn persist(conn: &mut Connection, name: &str, args: &[Bytes]) -> Reply {
    let op = match name {
        "save" => PersistOp::Save,
        "bgsave" => match args.get(1) {
            None => PersistOp::BackgroundSave,
            Some(word) if args.len() == 2 && eq_ignore_case(word, "schedule") => {
                PersistOp::BackgroundSave
            }
            Some(_) => return util::syntax_error(),
        },
        "bgrewriteaof" => PersistOp::Rewrite,
        _ => PersistOp::LastSave,
    };
    let replies: Vec<Reply> = gather(conn, || Op::Persist(op))
        .await
        .into_iter()
        .map(Response::into_reply)
        .collect();
    if let Some(error) = replies.iter().find(|r| r.is_error()) {
        return error.clone();
    }
    match op {
        // The last time every shard had saved: the oldest of their last saves.
        PersistOp::LastSave => replies
            .into_iter()
            .filter_map(|r| {
                if let Reply::Integer(n) = r {
                    Some(n)
                } else {
                    None
                }
            })
            .min()
            .map_or(Reply::Integer(0), Reply::Integer),
        _ => replies.into_iter().next().unwrap_or_else(Reply::ok),
    }
}

fn process_facts(conn: &Connection, config: &Config) -> ServerFacts {
    let facts = &conn.rt.facts;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe {
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
    }
    let seconds = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let rss_pages: u64 = std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0);
    ServerFacts {
        version: VERSION,
        process_id: std::process::id(),
        run_id: facts.run_id.clone(),
        tcp_port: facts.port,
        uptime_seconds: facts.started.elapsed().as_secs(),
        hz: config.hz,
        configured_hz: config.hz,
        executable: facts.executable.clone(),
        config_file: facts.config_file.clone(),
        shards: conn.rt.nshards,
        maxclients: config.maxclients,
        used_memory_rss: rss_pages * 4096,
        used_cpu_sys: seconds(usage.ru_stime),
        used_cpu_user: seconds(usage.ru_utime),
        server_time_usec: now_ms() * 1000,
        pubsub: Default::default(),
    }
}

async fn info(conn: &mut Connection, args: &[Bytes]) -> Reply {
    let snapshots: Vec<ShardSnapshot> = gather(conn, || Op::Snapshot)
        .await
        .into_iter()
        .filter_map(|r| {
            if let Response::Snapshot(s) = r {
                Some(*s)
            } else {
                None
            }
        })
        .collect();
    let mut facts = process_facts(conn, &conn.rt.config());
    facts.pubsub = super::pubsub::info_figures(conn).await;
    let mut text = render::render_info(&args[1..], &facts, &snapshots);
    let extra = super::observe::info_sections(conn, &args[1..], &text).await;
    text.push_str(&extra);
    if conn.protocol >= 3 {
        Reply::Verbatim("txt", Bytes::from(text))
    } else {
        Reply::Bulk(Bytes::from(text))
    }
}

fn verbatim(conn: &Connection, text: String) -> Reply {
    if conn.protocol >= 3 {
        Reply::Verbatim("txt", Bytes::from(text))
    } else {
        Reply::Bulk(Bytes::from(text))
    }
}

/// CLIENT's subcommands, with Redis 7.2's arity for each (counting "CLIENT").
const CLIENT_SUBCOMMANDS: &[(&str, i32)] = &[
    ("id", 2),
    ("getname", 2),
    ("setname", 3),
    ("setinfo", 4),
    ("info", 2),
    ("list", -2),
    ("kill", -3),
    ("unblock", -3),
    ("no-evict", 3),
    ("no-touch", 3),
    ("help", 2),
];

/// CONFIG's subcommands, with Redis 7.2's arity for each (counting "CONFIG").
const CONFIG_SUBCOMMANDS: &[(&str, i32)] = &[
    ("get", -3),
    ("set", -4),
    ("resetstat", 2),
    ("rewrite", 2),
    ("help", 2),
];

/// Finds the subcommand in `args[1]` of `container`, and checks its arity, with Redis 7's
/// errors: "unknown subcommand 'x'. Try CLIENT HELP." and "wrong number of arguments for
/// 'client|id' command".
pub(super) fn subcommand(
    container: &str,
    table: &[(&'static str, i32)],
    args: &[Bytes],
) -> Result<&'static str, Reply> {
    let Some(&(name, arity)) = table
        .iter()
        .find(|(name, _)| eq_ignore_case(&args[1], name))
    else {
        return Err(render::unknown_subcommand_error(container, &args[1]));
    };
    let arity_ok = if arity >= 0 {
        args.len() == arity as usize
    } else {
        args.len() >= arity.unsigned_abs() as usize
    };
    if arity_ok {
        Ok(name)
    } else {
        Err(render::subcommand_arity_error(container, name))
    }
}

async fn client(conn: &mut Connection, args: &[Bytes]) -> Reply {
    let name = match subcommand("client", CLIENT_SUBCOMMANDS, args) {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    match name {
        "id" => Reply::Integer(conn.client.id as i64),
        "getname" => {
            let name = conn.client.meta.borrow().name.clone();
            if name.is_empty() {
                Reply::Null
            } else {
                Reply::Bulk(Bytes::from(name))
            }
        }
        "setname" => match render::validate_client_name(&args[2]) {
            Ok(()) => {
                conn.client.meta.borrow_mut().name = String::from_utf8_lossy(&args[2]).into_owned();
                Reply::ok()
            }
            Err(reply) => reply,
        },
        "setinfo" => {
            let value = String::from_utf8_lossy(&args[3]).into_owned();
            if value.bytes().any(|b| !(b'!'..=b'~').contains(&b)) {
                return Reply::error(format!(
                    "ERR {} cannot contain spaces, newlines or special characters.",
                    String::from_utf8_lossy(&args[2]).to_ascii_lowercase()
                ));
            }
            let mut meta = conn.client.meta.borrow_mut();
            if eq_ignore_case(&args[2], "lib-name") {
                meta.lib_name = value;
            } else if eq_ignore_case(&args[2], "lib-ver") {
                meta.lib_version = value;
            } else {
                return Reply::error(format!(
                    "ERR Unrecognized option '{}'",
                    String::from_utf8_lossy(&args[2])
                ));
            }
            Reply::ok()
        }
        "info" => verbatim(
            conn,
            render::client_list_line(&conn.rt.client_info(&conn.client)) + "\n",
        ),
        "list" => {
            let ids: Option<Vec<u64>> = if args.len() > 3 && eq_ignore_case(&args[2], "id") {
                let parsed: Option<Vec<u64>> = args[3..]
                    .iter()
                    .map(|a| util::parse_i64(a).filter(|n| *n > 0).map(|n| n as u64))
                    .collect();
                match parsed {
                    Some(ids) => Some(ids),
                    None => return Reply::error_static("ERR Invalid client ID"),
                }
            } else if args.len() == 4 && eq_ignore_case(&args[2], "type") {
                None
            } else if args.len() != 2 {
                return util::syntax_error();
            } else {
                None
            };
            let mut clients = Vec::new();
            for response in gather(conn, || Op::ClientList).await {
                if let Response::Clients(list) = response {
                    clients.extend(list);
                }
            }
            clients.sort_by_key(|c| c.id);
            let mut text = String::new();
            for info in clients
                .iter()
                .filter(|c| ids.as_ref().map_or(true, |ids| ids.contains(&c.id)))
            {
                text.push_str(&render::client_list_line(info));
                text.push('\n');
            }
            verbatim(conn, text)
        }
        "kill" => {
            let filter = match render::parse_client_kill(args) {
                Ok(filter) => filter,
                Err(reply) => return reply,
            };
            let caller = conn.client.id;
            let old_form = filter.is_old_form();
            let killed: u64 = gather(conn, || Op::ClientKill {
                filter: filter.clone(),
                caller,
            })
            .await
            .into_iter()
            .map(|r| if let Response::Count(n) = r { n } else { 0 })
            .sum();
            if old_form {
                if killed == 0 {
                    Reply::error_static("ERR No such client")
                } else {
                    Reply::ok()
                }
            } else {
                Reply::Integer(killed as i64)
            }
        }
        "unblock" => client_unblock(conn, args).await,
        "no-evict" | "no-touch" => {
            if eq_ignore_case(&args[2], "on") || eq_ignore_case(&args[2], "off") {
                Reply::ok()
            } else {
                util::syntax_error()
            }
        }
        "help" => render::help_reply(
            "CLIENT",
            &[
                "GETNAME",
                "    Return the name of the current connection.",
                "ID",
                "    Return the ID of the current connection.",
                "INFO",
                "    Return information about the current client connection.",
                "KILL <ip:port>",
                "    Kill connection made from <ip:port>.",
                "KILL <option> <value> [<option> <value> [...]]",
                "    Kill connections. Options are: ID, ADDR, LADDR, USER, SKIPME, TYPE, MAXAGE.",
                "LIST [options ...]",
                "    Return information about client connections. Options: TYPE, ID.",
                "UNBLOCK <clientid> [TIMEOUT|ERROR]",
                "    Unblock the specified blocked client.",
                "SETNAME <name>",
                "    Assign the name <name> to the current connection.",
                "SETINFO <option> <value>",
                "    Set client meta attr. Options are: LIB-NAME, LIB-VER.",
            ],
        ),
        _ => render::unknown_subcommand_error("client", &args[1]),
    }
}

/// CLIENT UNBLOCK id [TIMEOUT|ERROR]: 1 when the client was blocked (its command then answers a
/// null array, or `-UNBLOCKED` with ERROR), 0 otherwise. Redis checks the reason before the id.
async fn client_unblock(conn: &mut Connection, args: &[Bytes]) -> Reply {
    if args.len() > 4 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try CLIENT HELP.",
            String::from_utf8_lossy(&args[1])
        ));
    }
    let reason = match args.get(3) {
        None => Unblock::Timeout,
        Some(reason) if eq_ignore_case(reason, "timeout") => Unblock::Timeout,
        Some(reason) if eq_ignore_case(reason, "error") => Unblock::Error,
        Some(_) => {
            return Reply::error_static("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR")
        }
    };
    let Some(id) = util::parse_i64(&args[2]) else {
        return util::not_integer_error();
    };
    let id = id.max(0) as u64;
    let unblocked: u64 = gather(conn, || Op::ClientUnblock { id, reason })
        .await
        .into_iter()
        .map(|r| if let Response::Count(n) = r { n } else { 0 })
        .sum();
    Reply::Integer(unblocked.min(1) as i64)
}

async fn config(conn: &mut Connection, args: &[Bytes]) -> Reply {
    let name = match subcommand("config", CONFIG_SUBCOMMANDS, args) {
        Ok(name) => name,
        Err(reply) => return reply,
    };
    match name {
        "get" => {
            let config = conn.rt.config();
            let mut pairs: Vec<(String, String)> = Vec::new();
            for pattern in &args[2..] {
                for pair in config.get(&String::from_utf8_lossy(pattern)) {
                    if !pairs.iter().any(|(name, _)| *name == pair.0) {
                        pairs.push(pair);
                    }
                }
            }
            Reply::Map(
                pairs
                    .into_iter()
                    .map(|(k, v)| (Reply::Bulk(Bytes::from(k)), Reply::Bulk(Bytes::from(v))))
                    .collect(),
            )
        }
        // Redis answers an odd number of arguments as a wrong count too.
        "set" if !args.len().is_multiple_of(2) => render::subcommand_arity_error("config", "set"),
        "set" => {
            let mut config = (*conn.rt.config()).clone();
            for pair in args[2..].chunks(2) {
                let name = String::from_utf8_lossy(&pair[0]).to_ascii_lowercase();
                let value = String::from_utf8_lossy(&pair[1]).into_owned();
                if let Err(error) = config.apply(&name, &[value], false) {
                    return Reply::error(error.redis_message(&name));
                }
            }
            if config.loglevel != conn.rt.config().loglevel {
                crate::logging::apply_level(config.loglevel.tracing_filter());
            }
            let config = Arc::new(config);
            for response in gather(conn, || Op::Configure(config.clone())).await {
                if let Response::Reply(reply @ Reply::Error(_)) = response {
                    return reply;
                }
            }
            Reply::ok()
        }
        "resetstat" => {
            gather(conn, || Op::ResetStats).await;
            Reply::ok()
        }
        "rewrite" => Reply::error_static("ERR The server is running without a config file"),
        "help" => render::help_reply(
            "CONFIG",
            &[
                "GET <pattern>",
                "    Return parameters matching the glob-like <pattern> and their values.",
                "SET <directive> <value>",
                "    Set the configuration <directive> to <value>.",
                "RESETSTAT",
                "    Reset statistics reported by the INFO command.",
            ],
        ),
        _ => render::unknown_subcommand_error("config", &args[1]),
    }
}
