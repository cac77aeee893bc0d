//! Connection and server commands through the `redis` crate: PING, ECHO, QUIT, SELECT, DBSIZE,
//! FLUSHDB, FLUSHALL, TIME, INFO, COMMAND, CLIENT, CONFIG and SHUTDOWN, with state that lives on
//! every shard (clients, configuration, keys) seen from connections on each of them.

mod common;

use std::collections::HashMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{resp, TestServer};
use redis::{Connection, Value};
use shardis::slot::SlotTable;

/// The shard serving a connection. Client ids encode it: ids from shard `i` are
/// `i + 1 + k * shards` (see `Runtime::new_client_id`).
fn shard_of(con: &mut Connection, shards: usize) -> usize {
    let id: u64 = redis::cmd("CLIENT").arg("ID").query(con).unwrap();
    ((id - 1) % shards as u64) as usize
}

/// Opens connections until every shard serves at least `per_shard` of them; returns them grouped
/// by shard. SO_REUSEPORT spreads connections by a hash of their addresses.
fn connections_on_every_shard(
    server: &TestServer,
    shards: usize,
    per_shard: usize,
) -> Vec<Vec<Connection>> {
    let mut by_shard: Vec<Vec<Connection>> = (0..shards).map(|_| Vec::new()).collect();
    for _ in 0..500 {
        if by_shard.iter().all(|c| c.len() >= per_shard) {
            return by_shard;
        }
        let mut con = server.connection();
        let shard = shard_of(&mut con, shards);
        by_shard[shard].push(con);
    }
    panic!(
        "500 connections did not reach every shard: {:?}",
        by_shard.iter().map(Vec::len).collect::<Vec<_>>()
    );
}

/// The exact bytes of the reply to one command, sent over a raw socket.
fn raw_reply(server: &TestServer, args: &[&str]) -> String {
    let mut client = server.raw();
    client.send(&resp(args));
    String::from_utf8_lossy(&client.read_reply().expect("reply")).into_owned()
}

/// `field:value` lines of an INFO text.
fn info_fields(info: &str) -> HashMap<String, String> {
    info.lines()
        .filter_map(|line| line.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim_end().to_string()))
        .collect()
}

fn info(con: &mut Connection, section: &str) -> String {
    redis::cmd("INFO").arg(section).query(con).unwrap()
}

/// Keys named `{prefix}{n}` that the slot table puts on `shard`.
fn keys_on_shard(shards: usize, shard: usize, prefix: &str, count: usize) -> Vec<String> {
    let table = SlotTable::new(shards);
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .filter(|key| table.shard_of_key(key.as_bytes()) == shard)
        .take(count)
        .collect()
}

#[test]
fn ping_and_echo() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let pong: String = redis::cmd("PING").query(&mut con).unwrap();
    assert_eq!(pong, "PONG");
    let hello: String = redis::cmd("PING").arg("hello").query(&mut con).unwrap();
    assert_eq!(hello, "hello");
    let echoed: Vec<u8> = redis::cmd("ECHO")
        .arg(&b"bin\0ary\r\n"[..])
        .query(&mut con)
        .unwrap();
    assert_eq!(echoed, b"bin\0ary\r\n");
    assert_eq!(
        raw_reply(&server, &["PING", "a", "b"]),
        "-ERR wrong number of arguments for 'ping' command\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["ECHO", "a", "b"]),
        "-ERR wrong number of arguments for 'echo' command\r\n"
    );
    assert_eq!(raw_reply(&server, &["PING"]), "+PONG\r\n");
}

#[test]
fn quit_replies_then_closes() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let ok: String = redis::cmd("QUIT").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    assert!(redis::cmd("PING").query::<String>(&mut con).is_err());

    // Byte-exact: +OK, then end of file; what follows QUIT in the pipeline is not run.
    let mut client = server.raw();
    let mut request = resp(&["SET", "q", "1"]);
    request.extend(resp(&["QUIT"]));
    request.extend(resp(&["SET", "q", "2"]));
    client.send(&request);
    assert_eq!(client.read_to_close(), b"+OK\r\n+OK\r\n");
    let mut con = server.connection();
    let value: String = redis::cmd("GET").arg("q").query(&mut con).unwrap();
    assert_eq!(value, "1");
}

#[test]
fn select_keeps_databases_apart() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    for i in 0..20 {
        redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("db0")
            .query::<()>(&mut con)
            .unwrap();
    }
    redis::cmd("SELECT").arg(3).query::<()>(&mut con).unwrap();
    let missing: Option<String> = redis::cmd("GET").arg("k1").query(&mut con).unwrap();
    assert_eq!(missing, None);
    for i in 0..5 {
        redis::cmd("SET")
            .arg(format!("k{i}"))
            .arg("db3")
            .query::<()>(&mut con)
            .unwrap();
    }
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 5);
    // A cross-shard command runs in the selected database too.
    let values: Vec<String> = redis::cmd("MGET")
        .arg(&["k0", "k1", "k2", "k3", "k4"])
        .query(&mut con)
        .unwrap();
    assert_eq!(values, vec!["db3"; 5]);
    redis::cmd("SELECT").arg(0).query::<()>(&mut con).unwrap();
    let value: String = redis::cmd("GET").arg("k1").query(&mut con).unwrap();
    assert_eq!(value, "db0");
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 20);

    assert_eq!(
        raw_reply(&server, &["SELECT", "16"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["SELECT", "-1"]),
        "-ERR DB index is out of range\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["SELECT", "x"]),
        "-ERR value is not an integer or out of range\r\n"
    );
}

#[test]
fn dbsize_flushdb_flushall() {
    let server = TestServer::start(4);
    let mut con = server.connection();
    for i in 0..100 {
        redis::cmd("SET")
            .arg(format!("key:{i}"))
            .arg(i)
            .query::<()>(&mut con)
            .unwrap();
    }
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 100);
    redis::cmd("SELECT").arg(2).query::<()>(&mut con).unwrap();
    for i in 0..10 {
        redis::cmd("SET")
            .arg(format!("other:{i}"))
            .arg(i)
            .query::<()>(&mut con)
            .unwrap();
    }
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 10);

    redis::cmd("SELECT").arg(0).query::<()>(&mut con).unwrap();
    let ok: String = redis::cmd("FLUSHDB").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 0);
    redis::cmd("SELECT").arg(2).query::<()>(&mut con).unwrap();
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 10, "FLUSHDB emptied only the selected database");

    let ok: String = redis::cmd("FLUSHALL").query(&mut con).unwrap();
    assert_eq!(ok, "OK");
    let size: i64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(size, 0);
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    assert!(keys.is_empty());
}

#[test]
fn time_is_now() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let before = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let time: Vec<String> = redis::cmd("TIME").query(&mut con).unwrap();
    let after = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    assert_eq!(time.len(), 2);
    let seconds: u64 = time[0].parse().unwrap();
    let micros: u64 = time[1].parse().unwrap();
    assert!(micros < 1_000_000);
    let server_time = Duration::from_secs(seconds) + Duration::from_micros(micros);
    assert!(
        server_time + Duration::from_millis(1) >= before && server_time <= after,
        "{server_time:?} not within {before:?}..{after:?}"
    );
    assert_eq!(
        raw_reply(&server, &["TIME", "x"]),
        "-ERR wrong number of arguments for 'time' command\r\n"
    );
}

#[test]
fn info_sections() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let all = info(&mut con, "default");
    let headers: Vec<&str> = all.lines().filter(|l| l.starts_with('#')).collect();
    for header in [
        "# Server",
        "# Clients",
        "# Memory",
        "# Persistence",
        "# Stats",
        "# Replication",
        "# CPU",
        "# Keyspace",
        "# Shards",
    ] {
        assert!(headers.contains(&header), "{header} in {headers:?}");
    }
    let no_args: String = redis::cmd("INFO").query(&mut con).unwrap();
    assert_eq!(
        no_args.lines().filter(|l| l.starts_with('#')).count(),
        headers.len()
    );

    let server_section = info(&mut con, "server");
    assert!(server_section.starts_with("# Server\r\n"));
    let fields = info_fields(&server_section);
    assert_eq!(fields["redis_version"], "7.2.4");
    assert_eq!(fields["tcp_port"], server.port.to_string());
    assert_eq!(fields["process_id"], std::process::id().to_string());
    assert_eq!(fields["shards"], "2");
    assert_eq!(fields["run_id"].len(), 40);

    let _others: Vec<Connection> = (0..3).map(|_| server.connection()).collect();
    let fields = info_fields(&info(&mut con, "clients"));
    assert_eq!(fields["connected_clients"], "4");
    assert_eq!(fields["maxclients"], "10000");

    for section in ["memory", "stats", "persistence", "replication", "cpu"] {
        let text = info(&mut con, section);
        assert!(text.starts_with("# "), "{section}: {text}");
        assert_eq!(
            text.lines().filter(|l| l.starts_with('#')).count(),
            1,
            "{section} alone"
        );
    }
    let fields = info_fields(&info(&mut con, "memory"));
    assert!(fields["used_memory"].parse::<u64>().is_ok());
    let fields = info_fields(&info(&mut con, "replication"));
    assert_eq!(fields["role"], "master");
    let fields = info_fields(&info(&mut con, "cpu"));
    assert!(fields["used_cpu_user"].parse::<f64>().is_ok());
    let fields = info_fields(&info(&mut con, "persistence"));
    assert_eq!(fields["loading"], "0");
    let fields = info_fields(&info(&mut con, "stats"));
    assert!(fields["total_commands_processed"].parse::<u64>().unwrap() > 0);

    // Several sections at once, in Redis's order whatever the order asked.
    let both: String = redis::cmd("INFO")
        .arg("keyspace")
        .arg("CPU")
        .query(&mut con)
        .unwrap();
    assert!(both.starts_with("# CPU\r\n"));
    assert!(both.contains("\r\n\r\n# Keyspace\r\n"));
    let unknown: String = redis::cmd("INFO").arg("nosuch").query(&mut con).unwrap();
    assert_eq!(unknown, "");
}

#[test]
fn info_keyspace_counts_keys_of_every_shard() {
    let server = TestServer::start(4);
    let mut con = server.connection();
    assert_eq!(info(&mut con, "keyspace"), "# Keyspace\r\n");
    // 40 keys on each of the 4 shards, 5 of each shard's with a TTL; and 3 keys in db 5.
    for shard in 0..4 {
        for (i, key) in keys_on_shard(4, shard, "ks:", 40).iter().enumerate() {
            if i < 5 {
                redis::cmd("SET")
                    .arg(key)
                    .arg("v")
                    .arg("EX")
                    .arg(1000)
                    .query::<()>(&mut con)
                    .unwrap();
            } else {
                redis::cmd("SET")
                    .arg(key)
                    .arg("v")
                    .query::<()>(&mut con)
                    .unwrap();
            }
        }
    }
    redis::cmd("SELECT").arg(5).query::<()>(&mut con).unwrap();
    redis::cmd("MSET")
        .arg(&["x1", "1", "x2", "2", "x3", "3"])
        .query::<()>(&mut con)
        .unwrap();
    redis::cmd("SELECT").arg(0).query::<()>(&mut con).unwrap();

    let text = info(&mut con, "keyspace");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert_eq!(lines[0], "# Keyspace");
    let db0 = lines[1]
        .strip_prefix("db0:keys=160,expires=20,avg_ttl=")
        .unwrap_or_else(|| panic!("db0 line: {:?}", lines[1]));
    let avg_ttl: u64 = db0.parse().expect("avg_ttl is an integer");
    assert!(avg_ttl <= 1_000_000, "avg_ttl {avg_ttl}");
    assert_eq!(lines[2], "db5:keys=3,expires=0,avg_ttl=0");

    // The shards section: one line per shard, whose keys add up.
    let shards = info(&mut con, "shards");
    let lines: Vec<&str> = shards.lines().skip(1).collect();
    assert_eq!(lines.len(), 4, "{shards}");
    let mut total_keys = 0;
    for (i, line) in lines.iter().enumerate() {
        assert!(line.starts_with(&format!("shard{i}:clients=")), "{line}");
        let keys: u64 = line
            .split(',')
            .find_map(|f| f.strip_prefix("keys="))
            .unwrap()
            .parse()
            .unwrap();
        assert!(keys >= 40, "{line}");
        total_keys += keys;
    }
    assert_eq!(total_keys, 163);

    // Deleting updates it; an emptied database disappears.
    redis::cmd("DEL")
        .arg(keys_on_shard(4, 2, "ks:", 40))
        .query::<()>(&mut con)
        .unwrap();
    let text = info(&mut con, "keyspace");
    assert!(
        text.contains("\r\ndb0:keys=120,expires=15,avg_ttl="),
        "{text}"
    );
    redis::cmd("FLUSHALL").query::<()>(&mut con).unwrap();
    assert_eq!(info(&mut con, "keyspace"), "# Keyspace\r\n");
}

#[test]
fn command_introspection() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let count: i64 = redis::cmd("COMMAND").arg("COUNT").query(&mut con).unwrap();
    let all: Vec<Value> = redis::cmd("COMMAND").query(&mut con).unwrap();
    assert_eq!(count as usize, all.len());
    assert!(count > 50, "{count} commands");

    // COMMAND INFO GET: Redis 7's ten fields.
    let info: Vec<Value> = redis::cmd("COMMAND")
        .arg("INFO")
        .arg("get")
        .arg("nosuchcommand")
        .query(&mut con)
        .unwrap();
    assert_eq!(info.len(), 2);
    assert_eq!(info[1], Value::Nil);
    let Value::Array(get) = &info[0] else {
        panic!("{:?}", info[0]);
    };
    assert_eq!(get.len(), 10, "{get:?}");
    assert_eq!(get[0], Value::BulkString(b"get".to_vec()));
    assert_eq!(get[1], Value::Int(2));
    let flags: Vec<String> = redis::from_redis_value(&get[2]).unwrap();
    assert_eq!(flags, ["readonly", "fast"]);
    assert_eq!(&get[3..6], &[Value::Int(1), Value::Int(1), Value::Int(1)]);
    let categories: Vec<String> = redis::from_redis_value(&get[6]).unwrap();
    assert_eq!(categories, ["@read", "@string", "@fast"]);
    let mset = raw_reply(&server, &["COMMAND", "INFO", "MSET"]);
    assert!(
        mset.starts_with("*1\r\n*10\r\n$4\r\nmset\r\n:-3\r\n"),
        "{mset}"
    );
    assert!(
        mset.contains(":1\r\n:-1\r\n:2\r\n"),
        "first, last, step of MSET: {mset}"
    );

    // COMMAND DOCS GET: a map from the name to its documentation.
    let docs: Value = redis::cmd("COMMAND")
        .arg("DOCS")
        .arg("get")
        .query(&mut con)
        .unwrap();
    let docs: Vec<Value> = match docs {
        Value::Array(items) => items,
        other => panic!("{other:?}"),
    };
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0], Value::BulkString(b"get".to_vec()));
    let fields: HashMap<String, Value> = match &docs[1] {
        Value::Array(items) => items
            .chunks(2)
            .map(|pair| (redis::from_redis_value(&pair[0]).unwrap(), pair[1].clone()))
            .collect(),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        fields["summary"],
        Value::BulkString(b"Returns the string value of a key.".to_vec())
    );
    assert_eq!(fields["since"], Value::BulkString(b"1.0.0".to_vec()));
    assert_eq!(fields["group"], Value::BulkString(b"string".to_vec()));

    // COMMAND GETKEYS.
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg(&["GETKEYS", "MSET", "a", "1", "b", "2"])
        .query(&mut con)
        .unwrap();
    assert_eq!(keys, ["a", "b"]);
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg(&["GETKEYS", "set", "k", "v", "EX", "10"])
        .query(&mut con)
        .unwrap();
    assert_eq!(keys, ["k"]);
    let keys: Vec<String> = redis::cmd("COMMAND")
        .arg(&["GETKEYS", "RENAME", "src", "dst"])
        .query(&mut con)
        .unwrap();
    assert_eq!(keys, ["src", "dst"]);
    assert_eq!(
        raw_reply(&server, &["COMMAND", "GETKEYS", "PING"]),
        "-ERR The command has no key arguments\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["COMMAND", "GETKEYS", "GET"]),
        "-ERR Invalid number of arguments specified for command\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["COMMAND", "GETKEYS", "NOSUCH", "x"]),
        "-ERR Invalid command specified\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["COMMAND", "COUNT", "x"]),
        "-ERR wrong number of arguments for 'command|count' command\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["COMMAND", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try COMMAND HELP.\r\n"
    );
}

#[test]
fn client_id_and_names() {
    let server = TestServer::start(2);
    let mut a = server.connection();
    let mut b = server.connection();
    let id_a: i64 = redis::cmd("CLIENT").arg("ID").query(&mut a).unwrap();
    let id_b: i64 = redis::cmd("CLIENT").arg("ID").query(&mut b).unwrap();
    assert!(id_a > 0 && id_b > 0 && id_a != id_b);

    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut a).unwrap();
    assert_eq!(name, None);
    let ok: String = redis::cmd("CLIENT")
        .arg(&["SETNAME", "alpha"])
        .query(&mut a)
        .unwrap();
    assert_eq!(ok, "OK");
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut a).unwrap();
    assert_eq!(name.as_deref(), Some("alpha"));
    let name: Option<String> = redis::cmd("CLIENT").arg("GETNAME").query(&mut b).unwrap();
    assert_eq!(name, None);
    assert_eq!(
        raw_reply(&server, &["CLIENT", "SETNAME", "has space"]),
        "-ERR Client names cannot contain spaces, newlines or special characters.\r\n"
    );

    // CLIENT INFO describes the caller; SETINFO sets the library fields it shows.
    let line: String = redis::cmd("CLIENT").arg("INFO").query(&mut a).unwrap();
    assert!(line.starts_with(&format!("id={id_a} addr=")), "{line}");
    assert!(line.contains(" name=alpha "), "{line}");
    assert!(line.ends_with('\n'));
    for (option, value) in [("LIB-NAME", "mylib"), ("lib-ver", "1.2.3")] {
        let ok: String = redis::cmd("CLIENT")
            .arg(&["SETINFO", option, value])
            .query(&mut a)
            .unwrap();
        assert_eq!(ok, "OK");
    }
    let line: String = redis::cmd("CLIENT").arg("INFO").query(&mut a).unwrap();
    assert!(
        line.trim_end().ends_with(" lib-name=mylib lib-ver=1.2.3"),
        "{line}"
    );
    assert_eq!(
        raw_reply(&server, &["CLIENT", "SETINFO", "FOO", "bar"]),
        "-ERR Unrecognized option 'FOO'\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CLIENT", "SETINFO", "lib-name", "a b"]),
        "-ERR lib-name cannot contain spaces, newlines or special characters.\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CLIENT", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try CLIENT HELP.\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CLIENT", "ID", "extra"]),
        "-ERR wrong number of arguments for 'client|id' command\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CLIENT"]),
        "-ERR wrong number of arguments for 'client' command\r\n"
    );
}

#[test]
fn client_list_shows_clients_of_every_shard() {
    let server = TestServer::start(2);
    let mut by_shard = connections_on_every_shard(&server, 2, 2);
    let mut names = HashMap::new();
    for (shard, cons) in by_shard.iter_mut().enumerate() {
        for (i, con) in cons.iter_mut().enumerate() {
            let name = format!("s{shard}c{i}");
            redis::cmd("CLIENT")
                .arg(&["SETNAME", &name])
                .query::<()>(con)
                .unwrap();
            let id: u64 = redis::cmd("CLIENT").arg("ID").query(con).unwrap();
            names.insert(id, name);
        }
    }
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut by_shard[0][0])
        .unwrap();
    let listed: HashMap<u64, String> = list
        .lines()
        .map(|line| {
            let field = |name: &str| {
                line.split(' ')
                    .find_map(|f| f.strip_prefix(&format!("{name}=")))
                    .unwrap_or_else(|| panic!("{name} in {line}"))
                    .to_string()
            };
            (field("id").parse().unwrap(), field("name"))
        })
        .collect();
    for (id, name) in &names {
        assert_eq!(listed.get(id), Some(name), "client {id} in\n{list}");
    }
    // Every listed client is one of ours (the helper connections have closed or are ours).
    let ids: Vec<u64> = list
        .lines()
        .map(|l| l[3..l.find(' ').unwrap()].parse().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "CLIENT LIST is ordered by id");

    // CLIENT LIST ID picks clients on any shard.
    let wanted: Vec<String> = names.keys().take(2).map(|id| id.to_string()).collect();
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .arg("ID")
        .arg(&wanted)
        .query(&mut by_shard[1][0])
        .unwrap();
    assert_eq!(list.lines().count(), 2, "{list}");
}

#[test]
fn client_kill_closes_a_connection_on_any_shard() {
    let server = TestServer::start(2);
    let mut by_shard = connections_on_every_shard(&server, 2, 2);
    // The killer on shard 0; victims on both shards.
    let mut killer = by_shard[0].pop().unwrap();
    for (shard, victims) in by_shard.iter_mut().enumerate() {
        let mut victim = victims.pop().unwrap();
        let id: i64 = redis::cmd("CLIENT").arg("ID").query(&mut victim).unwrap();
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("ID")
            .arg(id)
            .query(&mut killer)
            .unwrap();
        assert_eq!(killed, 1, "victim on shard {shard}");
        assert!(
            redis::cmd("PING").query::<String>(&mut victim).is_err(),
            "the killed client on shard {shard} still gets replies"
        );
        assert!(
            TestServer::eventually(Duration::from_secs(5), || {
                let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut killer).unwrap();
                !list.lines().any(|l| l.starts_with(&format!("id={id} ")))
            }),
            "killed client {id} still listed"
        );
    }
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "ID", "999999"])
        .query(&mut killer)
        .unwrap();
    assert_eq!(killed, 0);
    // The caller is skipped unless SKIPME no.
    let own: i64 = redis::cmd("CLIENT").arg("ID").query(&mut killer).unwrap();
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("ID")
        .arg(own)
        .query(&mut killer)
        .unwrap();
    assert_eq!(killed, 0);
    let pong: String = redis::cmd("PING").query(&mut killer).unwrap();
    assert_eq!(pong, "PONG");
    // The old form by address.
    let mut victim = by_shard[1].pop().unwrap();
    let line: String = redis::cmd("CLIENT").arg("INFO").query(&mut victim).unwrap();
    let addr = line
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    let ok: String = redis::cmd("CLIENT")
        .arg("KILL")
        .arg(&addr)
        .query(&mut killer)
        .unwrap();
    assert_eq!(ok, "OK");
    assert!(redis::cmd("PING").query::<String>(&mut victim).is_err());
    assert_eq!(
        raw_reply(&server, &["CLIENT", "KILL", "127.0.0.1:1"]),
        "-ERR No such client\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CLIENT", "KILL", "ID", "0"]),
        "-ERR client-id should be greater than 0\r\n"
    );
}

#[test]
fn config_get_and_set_reach_every_shard() {
    let server = TestServer::start(2);
    let mut by_shard = connections_on_every_shard(&server, 2, 2);
    let con = &mut by_shard[0][0];

    let port: HashMap<String, String> = redis::cmd("CONFIG")
        .arg(&["GET", "port"])
        .query(con)
        .unwrap();
    assert_eq!(port["port"], server.port.to_string());

    let max: HashMap<String, String> = redis::cmd("CONFIG")
        .arg(&["GET", "*max*"])
        .query(con)
        .unwrap();
    assert_eq!(max["maxclients"], "10000");
    assert_eq!(max["proto-max-bulk-len"], "536870912");
    assert!(max.keys().all(|name| name.contains("max")), "{max:?}");
    let several: HashMap<String, String> = redis::cmd("CONFIG")
        .arg(&["GET", "timeout", "MAXCLIENTS", "timeout"])
        .query(con)
        .unwrap();
    assert_eq!(several.len(), 2);

    let ok: String = redis::cmd("CONFIG")
        .arg(&["SET", "maxclients", "500", "timeout", "300"])
        .query(con)
        .unwrap();
    assert_eq!(ok, "OK");
    for (shard, cons) in by_shard.iter_mut().enumerate() {
        for con in cons.iter_mut() {
            let got: HashMap<String, String> = redis::cmd("CONFIG")
                .arg(&["GET", "maxclients", "timeout"])
                .query(con)
                .unwrap();
            assert_eq!(got["maxclients"], "500", "seen from shard {shard}");
            assert_eq!(got["timeout"], "300", "seen from shard {shard}");
            let clients = info_fields(&info(con, "clients"));
            assert_eq!(clients["maxclients"], "500", "INFO on shard {shard}");
        }
    }

    assert_eq!(
        raw_reply(&server, &["CONFIG", "SET", "maxclients", "abc"]),
        "-ERR CONFIG SET failed (possibly related to argument 'maxclients') - argument couldn't be parsed into an integer\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CONFIG", "SET", "port", "1"]),
        "-ERR CONFIG SET failed (possibly related to argument 'port') - can't set immutable config\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CONFIG", "SET", "nosuch", "1"]),
        "-ERR Unknown option or number of arguments for CONFIG SET - 'nosuch'\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CONFIG", "GET"]),
        "-ERR wrong number of arguments for 'config|get' command\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CONFIG", "SET", "timeout"]),
        "-ERR wrong number of arguments for 'config|set' command\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CONFIG", "SET", "timeout", "1", "hz"]),
        "-ERR wrong number of arguments for 'config|set' command\r\n"
    );
    assert_eq!(
        raw_reply(&server, &["CONFIG", "FOO"]),
        "-ERR unknown subcommand 'FOO'. Try CONFIG HELP.\r\n"
    );
    // A failed SET changes nothing.
    let got: HashMap<String, String> = redis::cmd("CONFIG")
        .arg(&["GET", "maxclients"])
        .query(&mut by_shard[1][0])
        .unwrap();
    assert_eq!(got["maxclients"], "500");
}

#[test]
fn config_resetstat_zeroes_every_shard() {
    let server = TestServer::start(2);
    let mut by_shard = connections_on_every_shard(&server, 2, 1);
    for (shard, cons) in by_shard.iter_mut().enumerate() {
        let con = &mut cons[0];
        for i in 0..20 {
            redis::cmd("SET")
                .arg(format!("k{shard}:{i}"))
                .arg(i)
                .query::<()>(con)
                .unwrap();
            let _: Option<String> = redis::cmd("GET")
                .arg(format!("k{shard}:{i}"))
                .query(con)
                .unwrap();
            let _: Option<String> = redis::cmd("GET").arg("missing").query(con).unwrap();
        }
        let _ = redis::cmd("INCR").arg("k0:0").arg("x").query::<i64>(con);
    }
    let con = &mut by_shard[0][0];
    let before = info_fields(&info(con, "stats"));
    assert!(before["total_commands_processed"].parse::<u64>().unwrap() >= 120);
    assert!(before["keyspace_hits"].parse::<u64>().unwrap() >= 40);
    assert!(before["keyspace_misses"].parse::<u64>().unwrap() >= 40);
    assert!(before["total_error_replies"].parse::<u64>().unwrap() >= 2);

    let ok: String = redis::cmd("CONFIG").arg("RESETSTAT").query(con).unwrap();
    assert_eq!(ok, "OK");
    let after = info_fields(&info(con, "stats"));
    // As in Redis: only the RESETSTAT itself has been counted since.
    assert_eq!(after["total_commands_processed"], "1");
    assert_eq!(after["keyspace_hits"], "0");
    assert_eq!(after["keyspace_misses"], "0");
    assert_eq!(after["total_error_replies"], "0");
    assert_eq!(after["total_connections_received"], "0");
    assert_eq!(after["expired_keys"], "0");
    // Keys are not statistics.
    let size: i64 = redis::cmd("DBSIZE").query(con).unwrap();
    assert_eq!(size, 40);
}

#[test]
fn shutdown_stops_the_server() {
    let server = TestServer::start(2);
    let mut by_shard = connections_on_every_shard(&server, 2, 1);
    let port = server.port;
    let mut idle = by_shard.pop().unwrap().pop().unwrap();
    let mut con = by_shard.pop().unwrap().pop().unwrap();
    // SHUTDOWN does not reply: the connection just ends.
    let result = redis::cmd("SHUTDOWN").query::<Value>(&mut con);
    assert!(result.is_err(), "SHUTDOWN replied {result:?}");
    assert!(
        server.exits_within(Duration::from_secs(10)),
        "the server did not exit after SHUTDOWN"
    );
    assert!(redis::cmd("PING").query::<String>(&mut idle).is_err());
    let refused = std::net::TcpStream::connect(("127.0.0.1", port));
    assert!(
        refused.is_err(),
        "a new connection was accepted after SHUTDOWN"
    );
}

#[test]
fn client_kill_of_the_caller_replies_then_closes() {
    let server = TestServer::start(2);
    let mut client = server.raw();
    client.send(&resp(&["CLIENT", "INFO"]));
    let info = String::from_utf8(client.read_reply().unwrap()).unwrap();
    let addr = info
        .split(' ')
        .find_map(|f| f.strip_prefix("addr="))
        .unwrap()
        .to_string();
    client.send(&resp(&["CLIENT", "KILL", &addr]));
    assert_eq!(
        client.read_until_eof().expect("clean end of file"),
        b"+OK\r\n"
    );

    let mut client = server.raw();
    client.send(&resp(&["CLIENT", "ID"]));
    let id = String::from_utf8(client.read_reply().unwrap()).unwrap();
    let id = id.trim_start_matches(':').trim_end();
    client.send(&resp(&["CLIENT", "KILL", "ID", id, "SKIPME", "no"]));
    assert_eq!(
        client.read_until_eof().expect("clean end of file"),
        b":1\r\n"
    );
}

#[test]
fn config_set_timeout_closes_idle_clients_on_every_shard() {
    let server = TestServer::start(2);
    // Raw clients until each shard serves a few.
    let mut idle = Vec::new();
    let mut per_shard = [0; 2];
    while per_shard.iter().any(|&n| n < 3) {
        assert!(idle.len() < 200, "connections did not reach every shard");
        let mut client = server.raw();
        client.send(&resp(&["CLIENT", "ID"]));
        let id = String::from_utf8(client.read_reply().unwrap()).unwrap();
        let id: u64 = id.trim_start_matches(':').trim_end().parse().unwrap();
        per_shard[((id - 1) % 2) as usize] += 1;
        idle.push(client);
    }
    let mut admin = server.connection();
    let ok: String = redis::cmd("CONFIG")
        .arg(&["SET", "timeout", "1"])
        .query(&mut admin)
        .unwrap();
    assert_eq!(ok, "OK");
    // Idle for more than a second: closed without a word, as Redis does.
    for client in &mut idle {
        assert_eq!(client.read_until_eof().expect("clean end of file"), b"");
    }
    let mut fresh = server.raw();
    fresh.roundtrip(&resp(&["PING"]), b"+PONG\r\n");
}

#[test]
fn maxclients_refuses_clients_over_the_limit() {
    // The limit is server-wide, whichever shards the connections land on.
    for threads in [1, 2, 4] {
        maxclients_over_the_limit(TestServer::start(threads));
    }
}

fn maxclients_over_the_limit(server: TestServer) {
    let mut admin = server.raw();
    admin.roundtrip(&resp(&["CONFIG", "SET", "maxclients", "3"]), b"+OK\r\n");
    let mut second = server.raw();
    second.roundtrip(&resp(&["PING"]), b"+PONG\r\n");
    let mut third = server.raw();
    third.roundtrip(&resp(&["PING"]), b"+PONG\r\n");
    let mut fourth = server.raw();
    assert_eq!(
        fourth.read_until_eof().expect("clean end of file"),
        b"-ERR max number of clients reached\r\n"
    );
    admin.send(&resp(&["INFO", "stats"]));
    let stats = String::from_utf8(admin.read_reply().unwrap()).unwrap();
    assert!(stats.contains("\r\nrejected_connections:1\r\n"), "{stats}");
    drop(third);
    assert!(TestServer::eventually(Duration::from_secs(5), || {
        let mut client = server.raw();
        client.send(&resp(&["PING"]));
        client.read_reply().as_deref() == Some(&b"+PONG\r\n"[..])
    }));
}

/// CONFIG SET loglevel takes effect at once in the running binary, as in Redis.
#[test]
fn config_set_loglevel_applies_at_once() {
    let dir = std::env::temp_dir().join(format!("shardis-loglevel-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("shardis.log");
    let server = common::ChildServer::start(
        &dir,
        1,
        &[("logfile", log.to_str().unwrap()), ("appendonly", "no")],
    );
    let protocol_error = || {
        let mut client = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
        std::io::Write::write_all(&mut client, b"*1\r\n$x\r\n").unwrap();
        let mut reply = Vec::new();
        let _ = std::io::Read::read_to_end(&mut client, &mut reply);
        assert!(reply.starts_with(b"-ERR Protocol error"), "{reply:?}");
    };
    let logged = || std::fs::read_to_string(&log).unwrap_or_default();
    // At `warning` (the test servers' level) a protocol error is a debug line: not logged.
    protocol_error();
    assert!(!logged().contains("protocol error"), "{}", logged());

    let client = redis::Client::open(format!("redis://127.0.0.1:{}/", server.port)).unwrap();
    let mut con = client.get_connection().unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "loglevel", "debug"])
        .query(&mut con)
        .unwrap();
    protocol_error();
    assert!(
        TestServer::eventually(Duration::from_secs(5), || logged()
            .contains("protocol error")),
        "{}",
        logged()
    );
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}

/// With `tcp-defer-accept`, the kernel hands over a connection once its first request arrived:
/// a client that connects and stays silent is not a client yet; once it speaks it is served.
#[test]
fn tcp_defer_accept_hands_over_connections_with_their_first_request() {
    let server = TestServer::start_with(1, &[("tcp-defer-accept", "30")]);
    let mut admin = server.connection();
    let clients = |admin: &mut Connection| -> usize {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(admin).unwrap();
        list.lines().count()
    };
    assert_eq!(clients(&mut admin), 1);
    let mut silent = std::net::TcpStream::connect(("127.0.0.1", server.port)).unwrap();
    silent
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    // Give the handshake time to complete; the connection must still not be accepted.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(clients(&mut admin), 1, "a silent connection was accepted");
    std::io::Write::write_all(&mut silent, b"PING\r\n").unwrap();
    let mut reply = [0u8; 7];
    std::io::Read::read_exact(&mut silent, &mut reply).unwrap();
    assert_eq!(&reply, b"+PONG\r\n");
    assert_eq!(clients(&mut admin), 2);
    let value: Vec<String> = redis::cmd("CONFIG")
        .arg(&["GET", "tcp-defer-accept"])
        .query(&mut admin)
        .unwrap();
    assert_eq!(value, ["tcp-defer-accept", "30"]);
}
