//! Unit tests of `server`.

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
        pubsub: Default::default(),
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
            blocked_clients: 1,
            blocking_keys: 2,
            keyspace: vec![(0, 20, 1, 6000)],
            persistence: Default::default(),
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
            blocked_clients: 0,
            blocking_keys: 0,
            keyspace: vec![(0, 10, 4, 1000), (3, 5, 0, 0)],
            persistence: Default::default(),
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
         client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\nblocked_clients:1\r\n\
         tracking_clients:0\r\nclients_in_timeout_table:0\r\ntotal_blocking_keys:2\r\n\
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
        monitor: false,
        subscriptions: (0, 0, 0),
        queued: None,
        blocked: false,
    };
    assert_eq!(
        client_list_line(&client),
        "id=7 addr=127.0.0.1:50000 laddr=127.0.0.1:6379 fd=9 name=worker age=12 idle=3 flags=N db=2 \
         sub=0 psub=0 ssub=0 multi=-1 qbuf=26 qbuf-free=20448 argv-mem=0 multi-mem=0 rbs=1024 rbp=0 \
         obl=0 oll=0 omem=0 tot-mem=21498 events=r cmd=client|list user=default redir=-1 resp=3 \
         lib-name=redis-py lib-ver=5.0.1"
    );
    let queueing = ClientInfo {
        queued: Some(3),
        ..client.clone()
    };
    assert!(client_list_line(&queueing).contains(" flags=x db=2 sub=0 psub=0 ssub=0 multi=3 "));
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

    let categories =
        |name: &str| -> Vec<&str> { acl_categories(lookup(name.as_bytes()).unwrap()).collect() };
    assert_eq!(categories("client"), ["slow"]);
    assert_eq!(categories("config"), ["slow"]);
    assert_eq!(categories("command"), ["slow", "connection"]);
    assert_eq!(categories("info"), ["slow", "dangerous"]);
    assert_eq!(categories("shutdown"), ["admin", "slow", "dangerous"]);
    assert_eq!(categories("time"), ["fast"]);
    assert_eq!(categories("hello"), ["fast", "connection"]);
}

/// A row of the real command table.
fn row(name: &str) -> &'static CommandSpec {
    lookup(name.as_bytes()).unwrap_or_else(|| panic!("{name} is in the table"))
}

#[test]
fn command_info_for_key_commands() {
    assert_eq!(
        encoded(&command_info_entry(row("get")), 2),
        "*10\r\n$3\r\nget\r\n:2\r\n*2\r\n+readonly\r\n+fast\r\n:1\r\n:1\r\n:1\r\n\
         *3\r\n+@read\r\n+@string\r\n+@fast\r\n*0\r\n*0\r\n*0\r\n"
    );
    assert_eq!(
        encoded(&command_info_entry(row("set")), 2),
        "*10\r\n$3\r\nset\r\n:-3\r\n*2\r\n+write\r\n+denyoom\r\n:1\r\n:1\r\n:1\r\n\
         *3\r\n+@write\r\n+@string\r\n+@slow\r\n*0\r\n*0\r\n*0\r\n"
    );
    assert_eq!(
        acl_categories(row("keys")).collect::<Vec<_>>(),
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
    let Reply::Array(connection) = list(&["COMMAND", "LIST", "FILTERBY", "ACLCAT", "Connection"])
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

    let keys = super::command_getkeys(row("mset"), &args(&["MSET", "a", "1", "b", "2"]));
    assert_eq!(keys, Reply::Array(vec![Reply::bulk("a"), Reply::bulk("b")]));
    let keys = super::command_getkeys(row("get"), &args(&["get", "k"]));
    assert_eq!(keys, Reply::Array(vec![Reply::bulk("k")]));
    assert_eq!(
        error_text(super::command_getkeys(
            row("get"),
            &args(&["get", "k", "extra"])
        )),
        "ERR Invalid number of arguments specified for command"
    );
    assert_eq!(
        error_text(super::command_getkeys(row("keys"), &args(&["keys", "*"]))),
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
