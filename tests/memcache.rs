//! The memcached port over real sockets: the text protocol byte for byte (replies checked against
//! memcached 1.6.18's), the `memcache` client crate in both protocols, and one keyspace shared
//! with RESP. Meta commands are in `memcache_meta.rs`, the binary protocol in `memcache_binary.rs`.

mod common;

use std::collections::HashMap;
use std::time::Duration;

use common::*;

fn client(server: &TestServer, protocol: &str) -> memcache::Client {
    let url = format!(
        "memcache://127.0.0.1:{}?timeout=10&protocol={protocol}",
        server.memcached_port
    );
    memcache::Client::connect(url).expect("memcache client")
}

#[test]
fn client_crate_covers_every_command_in_both_protocols() {
    for_each_memcached_topology(|server| {
        for protocol in ["ascii", "binary"] {
            let mc = client(server, protocol);
            mc.flush().unwrap();
            mc.set("k", "v", 0).unwrap();
            assert_eq!(mc.get::<String>("k").unwrap().as_deref(), Some("v"));
            // (The crate reports a refused add or replace as an error in binary only.)
            let _ = mc.add("k", "w", 0);
            assert_eq!(mc.get::<String>("k").unwrap().as_deref(), Some("v"));
            mc.add("fresh", "a", 0).unwrap();
            mc.replace("fresh", "b", 0).unwrap();
            let _ = mc.replace("absent", "b", 0);
            assert_eq!(mc.get::<String>("absent").unwrap(), None);
            mc.append("fresh", "c").unwrap();
            mc.prepend("fresh", "_").unwrap();
            assert_eq!(mc.get::<String>("fresh").unwrap().as_deref(), Some("_bc"));
            mc.set("n", 41u64, 0).unwrap();
            assert_eq!(mc.increment("n", 1).unwrap(), 42);
            assert_eq!(mc.decrement("n", 50).unwrap(), 0);
            assert!(mc.touch("n", 100).unwrap());
            assert!(!mc.touch("absent", 100).unwrap());
            let found: HashMap<String, (Vec<u8>, u32, Option<u64>)> =
                mc.gets(&["k", "fresh", "absent"]).unwrap();
            assert_eq!(found.len(), 2);
            let cas = found["k"].2.expect("cas");
            assert!(!mc.cas("k", "x", 0, cas + 1).unwrap());
            assert!(mc.cas("k", "x", 0, cas).unwrap());
            assert!(!mc.cas("k", "y", 0, cas).unwrap());
            assert!(mc.delete("k").unwrap());
            assert!(!mc.delete("k").unwrap());
            assert!(!mc.version().unwrap()[0].1.is_empty());
            assert!(!mc.stats().unwrap().is_empty());
            mc.flush().unwrap();
            assert_eq!(mc.get::<String>("fresh").unwrap(), None);
        }
    });
}

#[test]
fn storage_commands_byte_for_byte() {
    for_each_memcached_topology(|server| {
        let mut mc = server.memcached_raw();
        mc.roundtrip(b"set k 5 0 3\r\nabc\r\n", b"STORED\r\n");
        mc.roundtrip(b"get k\r\n", b"VALUE k 5 3\r\nabc\r\nEND\r\n");
        mc.roundtrip(b"add k 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
        mc.roundtrip(b"replace nope 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
        mc.roundtrip(b"append nope 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
        mc.roundtrip(b"prepend nope 0 0 1\r\nx\r\n", b"NOT_STORED\r\n");
        mc.roundtrip(b"append k 9 9 2\r\nde\r\n", b"STORED\r\n");
        mc.roundtrip(b"prepend k 0 0 1\r\n_\r\n", b"STORED\r\n");
        // Append and prepend keep the item's flags.
        mc.roundtrip(b"get k\r\n", b"VALUE k 5 6\r\n_abcde\r\nEND\r\n");
        mc.roundtrip(b"cas nope 0 0 1 1\r\nx\r\n", b"NOT_FOUND\r\n");
        mc.roundtrip(b"cas k 0 0 1 1\r\nx\r\n", b"EXISTS\r\n");
        mc.send(b"gets k\r\n");
        let reply = String::from_utf8(mc.read_exact_len(b"VALUE k 5 6 ".len())).unwrap();
        assert_eq!(reply, "VALUE k 5 6 ");
        let mut cas = String::new();
        loop {
            let byte = mc.read_exact_len(1)[0];
            if byte == b'\r' {
                break;
            }
            cas.push(byte as char);
        }
        assert_eq!(
            mc.read_exact_len(b"\n_abcde\r\nEND\r\n".len()),
            b"\n_abcde\r\nEND\r\n"
        );
        let request = format!("cas k 1 0 1 {cas}\r\nz\r\n");
        mc.roundtrip(request.as_bytes(), b"STORED\r\n");
        mc.roundtrip(request.as_bytes(), b"EXISTS\r\n");
        mc.roundtrip(b"get k\r\n", b"VALUE k 1 1\r\nz\r\nEND\r\n");
        // Flags are an unsigned 32-bit number.
        mc.roundtrip(b"set f 4294967295 0 1\r\nx\r\n", b"STORED\r\n");
        mc.roundtrip(b"get f\r\n", b"VALUE f 4294967295 1\r\nx\r\nEND\r\n");
        // noreply everywhere it is allowed: nothing comes back.
        mc.send(b"set q 0 0 1 noreply\r\n1\r\nadd q 0 0 1 noreply\r\n2\r\n");
        mc.send(b"replace q 0 0 1 noreply\r\n3\r\nappend q 0 0 1 noreply\r\n4\r\n");
        mc.send(b"prepend q 0 0 1 noreply\r\n5\r\ncas q 0 0 1 1 noreply\r\n6\r\n");
        mc.send(b"incr q 1 noreply\r\ndecr q 1 noreply\r\ntouch q 100 noreply\r\n");
        mc.send(b"verbosity 1 noreply\r\n");
        mc.roundtrip(b"get q\r\n", b"VALUE q 0 3\r\n534\r\nEND\r\n");
        mc.send(b"delete q noreply\r\nflush_all noreply\r\n");
        mc.roundtrip(b"get q k\r\n", b"END\r\n");
    });
}

#[test]
fn retrieval_arithmetic_and_expiry_byte_for_byte() {
    for_each_memcached_topology(|server| {
        let mut mc = server.memcached_raw();
        // A multi-key get across shards answers in request order, misses left out.
        let keys = numbered("key", 40);
        for (i, key) in keys.iter().enumerate() {
            let request = format!("set {key} {i} 0 {}\r\n{key}\r\n", key.len());
            mc.roundtrip(request.as_bytes(), b"STORED\r\n");
        }
        let mut request = String::from("get");
        let mut expected = String::new();
        for (i, key) in keys.iter().enumerate() {
            request.push_str(&format!(" {key} missing{i}"));
            expected.push_str(&format!("VALUE {key} {i} {}\r\n{key}\r\n", key.len()));
        }
        expected.push_str("END\r\n");
        mc.roundtrip(format!("{request}\r\n").as_bytes(), expected.as_bytes());

        mc.roundtrip(b"set n 0 0 2\r\n10\r\n", b"STORED\r\n");
        mc.roundtrip(b"decr n 1\r\n", b"9\r\n");
        // Memcached rewrites a shrunk counter in place, padded with spaces.
        mc.roundtrip(b"get n\r\n", b"VALUE n 0 2\r\n9 \r\nEND\r\n");
        mc.roundtrip(b"incr n 18446744073709551615\r\n", b"8\r\n");
        mc.roundtrip(b"decr n 100\r\n", b"0\r\n");
        mc.roundtrip(b"incr nope 1\r\n", b"NOT_FOUND\r\n");
        mc.roundtrip(b"set t 0 0 2\r\nab\r\n", b"STORED\r\n");
        mc.roundtrip(
            b"incr t 1\r\n",
            b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        );
        mc.roundtrip(
            b"incr t x\r\n",
            b"CLIENT_ERROR invalid numeric delta argument\r\n",
        );
        mc.roundtrip(b"delete t\r\n", b"DELETED\r\n");
        mc.roundtrip(b"delete t\r\n", b"NOT_FOUND\r\n");
        mc.roundtrip(b"delete n 0\r\n", b"DELETED\r\n");

        // Expiry: negative at once, relative seconds, touch, gat.
        mc.roundtrip(b"set gone 0 -1 1\r\nx\r\n", b"STORED\r\n");
        mc.roundtrip(b"get gone\r\n", b"END\r\n");
        mc.roundtrip(b"set e 3 1 1\r\nx\r\n", b"STORED\r\n");
        mc.roundtrip(b"touch e 100\r\n", b"TOUCHED\r\n");
        mc.roundtrip(b"touch nope 100\r\n", b"NOT_FOUND\r\n");
        mc.roundtrip(b"gat 100 e nope\r\n", b"VALUE e 3 1\r\nx\r\nEND\r\n");
        mc.roundtrip(b"touch e -1\r\n", b"TOUCHED\r\n");
        mc.roundtrip(b"gat 100 e\r\n", b"END\r\n");
        mc.roundtrip(b"set s 0 1 1\r\nx\r\n", b"STORED\r\n");
        assert!(TestServer::eventually(Duration::from_secs(5), || {
            mc.send(b"get s\r\n");
            mc.read_exact_len(5) == b"END\r\n" || {
                let _ = mc.read_exact_len(b"VALUE s 0 1\r\nx\r\nEND\r\n".len() - 5);
                false
            }
        }));
        // An exptime beyond 30 days is a Unix time; one in the past expires at once.
        mc.roundtrip(b"set old 0 2592001 1\r\nx\r\n", b"STORED\r\n");
        mc.roundtrip(b"get old\r\n", b"END\r\n");
        let future = now_ms() / 1000 + 3600;
        let request = format!("set new 0 {future} 1\r\nx\r\n");
        mc.roundtrip(request.as_bytes(), b"STORED\r\n");
        mc.roundtrip(b"get new\r\n", b"VALUE new 0 1\r\nx\r\nEND\r\n");
    });
}

#[test]
fn other_commands_byte_for_byte() {
    let server = TestServer::start_memcached(2);
    let mut mc = server.memcached_raw();
    mc.send(b"version\r\n");
    let mut line = Vec::new();
    while !line.ends_with(b"\r\n") {
        line.extend(mc.read_exact_len(1));
    }
    assert!(line.starts_with(b"VERSION 1.6."), "{line:?}");
    mc.roundtrip(b"verbosity 1\r\n", b"OK\r\n");
    mc.roundtrip(b"verbosity\r\n", b"ERROR\r\n");
    mc.roundtrip(b"flush_all\r\n", b"OK\r\n");
    mc.roundtrip(b"flush_all 0\r\n", b"OK\r\n");
    mc.roundtrip(
        b"flush_all x\r\n",
        b"CLIENT_ERROR invalid exptime argument\r\n",
    );
    mc.roundtrip(b"stats reset\r\n", b"RESET\r\n");
    mc.roundtrip(b"stats nonsense\r\n", b"ERROR\r\n");
    mc.roundtrip(
        b"stats detail\r\n",
        b"CLIENT_ERROR usage: stats detail on|off|dump\r\n",
    );
    mc.roundtrip(b"set a 0 0 1\r\n1\r\n", b"STORED\r\n");
    mc.roundtrip(b"get a b\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n");
    for (section, wanted) in [
        ("", "STAT curr_items 1\r\n"),
        ("", "STAT get_hits 1\r\n"),
        ("", "STAT get_misses 1\r\n"),
        ("", "STAT cmd_set 1\r\n"),
        ("", "STAT threads 2\r\n"),
        (" settings", "STAT item_size_max 1048576\r\n"),
        (" items", "STAT items:1:number 1\r\n"),
        (" slabs", "STAT active_slabs 1\r\n"),
    ] {
        mc.send(format!("stats{section}\r\n").as_bytes());
        let mut text = Vec::new();
        while !text.ends_with(b"END\r\n") {
            text.extend(mc.read_exact_len(1));
        }
        let text = String::from_utf8(text).unwrap();
        assert!(
            text.contains(wanted),
            "stats{section}: no {wanted:?} in {text}"
        );
    }
    // A delayed flush_all empties the cache once the delay is over.
    mc.roundtrip(b"flush_all 1\r\n", b"OK\r\n");
    mc.roundtrip(b"get a\r\n", b"VALUE a 0 1\r\n1\r\nEND\r\n");
    assert!(TestServer::eventually(Duration::from_secs(5), || {
        mc.send(b"get a\r\n");
        mc.read_exact_len(5) == b"END\r\n" || {
            let _ = mc.read_exact_len(b"VALUE a 0 1\r\n1\r\nEND\r\n".len() - 5);
            false
        }
    }));
    mc.send(b"quit\r\n");
    assert_eq!(mc.read_to_close(), b"");
}

#[test]
fn bad_input_gets_memcacheds_answers() {
    let server = TestServer::start_memcached_with(1, &[("item-size-max", "2kb")]);
    let mut mc = server.memcached_raw();
    // A block longer than announced, and one ending early: the rest is read as commands.
    mc.roundtrip(
        b"set k 0 0 3\r\nabcde\r\nget k\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\nEND\r\n",
    );
    mc.roundtrip(
        b"set k 0 0 3\r\nabc\nget k\r\n",
        b"CLIENT_ERROR bad data chunk\r\nERROR\r\n",
    );
    mc.roundtrip(
        b"set k 0 0 -1\r\nabc\r\n",
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    let long_key = "k".repeat(251);
    mc.roundtrip(
        format!("get {long_key}\r\nget k\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\nEND\r\n",
    );
    mc.roundtrip(
        format!("set {long_key} 0 0 1\r\nx\r\n").as_bytes(),
        b"CLIENT_ERROR bad command line format\r\nERROR\r\n",
    );
    mc.roundtrip(
        b"garbage\r\n\r\nset\r\nset k\r\nGET k\r\n",
        b"ERROR\r\nERROR\r\nERROR\r\nERROR\r\nERROR\r\n",
    );
    mc.roundtrip(
        b"delete k 1\r\n",
        b"CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n",
    );
    // Too large for item-size-max: refused, its block swallowed, and a set drops the old item.
    mc.roundtrip(b"set big 0 0 1\r\nx\r\n", b"STORED\r\n");
    let mut request = b"set big 0 0 3000\r\n".to_vec();
    request.extend(vec![b'x'; 3000]);
    request.extend_from_slice(b"\r\nget big\r\n");
    mc.roundtrip(
        &request,
        b"SERVER_ERROR object too large for cache\r\nEND\r\n",
    );
    // No newline in the first 2048 bytes of something that is not a get: closed, no reply.
    mc.send(&[b'x'; 3000]);
    assert_eq!(mc.read_to_close(), b"");
    // A long multiget is fine.
    let mut mc = server.memcached_raw();
    let keys: Vec<String> = (0..600).map(|i| format!("key{i}")).collect();
    mc.roundtrip(format!("get {}\r\n", keys.join(" ")).as_bytes(), b"END\r\n");
}

#[test]
fn one_keyspace_for_memcached_and_resp() {
    for_each_memcached_topology(|server| {
        let mut mc = server.memcached_raw();
        let mut con = server.connection();
        // Written through memcached, seen by RESP as a plain string.
        mc.roundtrip(b"set shared 7 100 5\r\nhello\r\n", b"STORED\r\n");
        assert_eq!(get(&mut con, "shared").as_deref(), Some("hello"));
        assert_eq!(query::<String>(&mut con, &["TYPE", "shared"]), "string");
        let ttl: i64 = query(&mut con, &["TTL", "shared"]);
        assert!((98..=100).contains(&ttl), "{ttl}");
        assert_eq!(query::<Vec<String>>(&mut con, &["KEYS", "sh*"]), ["shared"]);
        let (_, scanned): (String, Vec<String>) =
            query(&mut con, &["SCAN", "0", "MATCH", "shared", "COUNT", "1000"]);
        let mut cursor_keys = scanned;
        cursor_keys.dedup();
        assert!(
            cursor_keys.contains(&"shared".to_string())
                || query::<i64>(&mut con, &["EXISTS", "shared"]) == 1
        );
        assert_eq!(query::<i64>(&mut con, &["STRLEN", "shared"]), 5);
        assert_eq!(query::<i64>(&mut con, &["DEL", "shared"]), 1);
        mc.roundtrip(b"get shared\r\n", b"END\r\n");

        // Written through RESP, seen by memcached with flags 0; RESP deletes reach it too.
        let _: () = query(&mut con, &["SET", "resp", "world"]);
        mc.roundtrip(b"get resp\r\n", b"VALUE resp 0 5\r\nworld\r\nEND\r\n");
        mc.roundtrip(
            b"incr resp 1\r\n",
            b"CLIENT_ERROR cannot increment or decrement non-numeric value\r\n",
        );
        let _: () = query(&mut con, &["SET", "count", "10"]);
        mc.roundtrip(b"incr count 5\r\n", b"15\r\n");
        assert_eq!(get(&mut con, "count").as_deref(), Some("15"));
        mc.roundtrip(b"delete resp\r\n", b"DELETED\r\n");
        assert_eq!(query::<i64>(&mut con, &["EXISTS", "resp"]), 0);
        // RESP EXPIRE shows in memcached's view of the TTL.
        mc.roundtrip(b"set ttl 0 0 1\r\nx\r\n", b"STORED\r\n");
        let _: i64 = query(&mut con, &["EXPIRE", "ttl", "50"]);
        mc.roundtrip(b"mg ttl t\r\n", b"HD t50\r\n");
    });
}

#[test]
fn keys_of_other_types_are_absent_to_memcached_and_only_set_replaces_them() {
    for_each_memcached_topology(|server| {
        let mut mc = server.memcached_raw();
        let mut con = server.connection();
        let list = |con: &mut redis::Connection| {
            let _: i64 = query(con, &["DEL", "l"]);
            let _: i64 = query(con, &["RPUSH", "l", "a", "b"]);
        };
        let is_list = |con: &mut redis::Connection| query::<String>(con, &["TYPE", "l"]) == "list";
        // Reads and conditional writes see no item, and leave the list alone.
        for (request, reply) in [
            (&b"get l\r\n"[..], &b"END\r\n"[..]),
            (b"gets l\r\n", b"END\r\n"),
            (b"add l 0 0 1\r\nx\r\n", b"NOT_STORED\r\n"),
            (b"replace l 0 0 1\r\nx\r\n", b"NOT_STORED\r\n"),
            (b"append l 0 0 1\r\nx\r\n", b"NOT_STORED\r\n"),
            (b"prepend l 0 0 1\r\nx\r\n", b"NOT_STORED\r\n"),
            (b"cas l 0 0 1 5\r\nx\r\n", b"NOT_FOUND\r\n"),
            (b"incr l 1\r\n", b"NOT_FOUND\r\n"),
            (b"touch l 10\r\n", b"NOT_FOUND\r\n"),
            (b"mg l v\r\n", b"EN\r\n"),
            (b"ms l 1 ME\r\nx\r\n", b"NS\r\n"),
            (b"delete l\r\n", b"NOT_FOUND\r\n"),
        ] {
            list(&mut con);
            mc.roundtrip(request, reply);
            assert!(is_list(&mut con), "{}", String::from_utf8_lossy(request));
        }
        // Only an unconditional set replaces it, as Redis's SET does.
        list(&mut con);
        mc.roundtrip(b"set l 3 0 1\r\nx\r\n", b"STORED\r\n");
        assert_eq!(get(&mut con, "l").as_deref(), Some("x"));
    });
}

/// The CAS a `gets` reports for `key`.
fn cas_of(mc: &memcache::Client, key: &str) -> u64 {
    let found: HashMap<String, (Vec<u8>, u32, Option<u64>)> = mc.gets(&[key]).unwrap();
    found[key].2.expect("cas")
}

#[test]
fn any_resp_write_changes_the_cas() {
    for_each_memcached_topology(|server| {
        let mc = client(server, "ascii");
        let mut con = server.connection();
        mc.set("k", "1", 0).unwrap();
        let mut seen = vec![cas_of(&mc, "k")];
        assert_eq!(cas_of(&mc, "k"), seen[0], "a read keeps the CAS");
        for write in [
            &["SET", "k", "2"][..],
            &["APPEND", "k", "3"],
            &["INCR", "k"],
            &["SETRANGE", "k", "0", "9"],
            &["INCRBYFLOAT", "k", "1.5"],
        ] {
            let _: redis::Value = query(&mut con, write);
            let cas = cas_of(&mc, "k");
            assert!(!seen.contains(&cas), "{write:?} kept CAS {cas}");
            seen.push(cas);
        }
        // A client holding an old CAS loses.
        assert!(!mc.cas("k", "x", 0, seen[0]).unwrap());
        // CAS values are never reused after delete and re-add.
        mc.delete("k").unwrap();
        mc.set("k", "again", 0).unwrap();
        assert!(!seen.contains(&cas_of(&mc, "k")));
    });
}

#[test]
fn internal_commands_are_invisible_to_resp() {
    let server = TestServer::start_memcached(1);
    let mut con = server.connection();
    for name in [
        "__mc.get",
        "__mc.store",
        "__mc.delete",
        "__mc.arith",
        "__mc.gat",
        "__mc.touch",
    ] {
        let error = error_of(&mut con, &[name, "k", "v", "0", "0", "1", "0", "0"]);
        assert!(error.contains("unknown command"), "{name}: {error}");
        let info: redis::Value = query(&mut con, &["COMMAND", "INFO", name]);
        assert_eq!(info, redis::Value::Array(vec![redis::Value::Nil]), "{name}");
    }
    let names: Vec<String> = query(&mut con, &["COMMAND", "LIST"]);
    assert!(names.iter().all(|name| !name.starts_with("__mc")));
}

#[test]
fn items_survive_restart_with_flags_and_cas() {
    // A data directory of the test's own: a TestServer removes the one it made when it stops.
    let dir = common::temp_data_dir();
    let directives = [("appendonly", "yes"), ("dir", dir.to_str().unwrap())];
    let server = TestServer::start_memcached_with(1, &directives);
    let mut raw = server.memcached_raw();
    raw.roundtrip(b"set k 42 0 1\r\nv\r\n", b"STORED\r\n");
    let mc = client(&server, "ascii");
    let cas = cas_of(&mc, "k");
    server.stop();
    let server = TestServer::start_memcached_with(1, &directives);
    let mc = client(&server, "ascii");
    let found: HashMap<String, (Vec<u8>, u32, Option<u64>)> = mc.gets(&["k"]).unwrap();
    assert_eq!(found["k"], (b"v".to_vec(), 42, Some(cas)));
    mc.set("k", "w", 0).unwrap();
    assert!(cas_of(&mc, "k") > cas, "no CAS reuse after restart");
    // And from a snapshot: BGSAVE, then restart again.
    let mut con = server.connection();
    let _: String = redis::cmd("BGSAVE").query(&mut con).unwrap();
    let new_cas = cas_of(&mc, "k");
    assert!(TestServer::eventually(Duration::from_secs(10), || {
        let info: String = redis::cmd("INFO")
            .arg("persistence")
            .query(&mut con)
            .unwrap();
        info.contains("rdb_bgsave_in_progress:0") && info.contains("rdb_last_bgsave_status:ok")
    }));
    server.stop();
    let server = TestServer::start_memcached_with(1, &directives);
    let mc = client(&server, "ascii");
    let found: HashMap<String, (Vec<u8>, u32, Option<u64>)> = mc.gets(&["k"]).unwrap();
    assert_eq!(found["k"], (b"w".to_vec(), 0, Some(new_cas)));
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
