//! Pub/Sub over real sockets: SUBSCRIBE/PSUBSCRIBE/SSUBSCRIBE and PUBLISH across cores, exact
//! RESP2 and RESP3 frames, subscribed-mode refusals, PUBSUB subcommands, keyspace notifications,
//! and a subscriber that stops reading being closed at its output limit.

mod common;

use std::time::{Duration, Instant};

use common::{RawClient, TestServer};

/// A request in RESP.
fn command(args: &[&str]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend(format!("${}\r\n{}\r\n", arg.len(), arg).into_bytes());
    }
    out
}

/// A frame of bulk strings and a trailing integer, as (un)subscribe confirmations are.
fn confirmation(word: &str, name: Option<&str>, count: i64, resp3: bool) -> Vec<u8> {
    let mut out = format!(
        "{}3\r\n${}\r\n{}\r\n",
        if resp3 { '>' } else { '*' },
        word.len(),
        word
    )
    .into_bytes();
    match name {
        Some(name) => out.extend(format!("${}\r\n{}\r\n", name.len(), name).into_bytes()),
        None => out.extend_from_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
    }
    out.extend(format!(":{count}\r\n").into_bytes());
    out
}

fn frame(parts: &[&str], resp3: bool) -> Vec<u8> {
    let mut out = format!("{}{}\r\n", if resp3 { '>' } else { '*' }, parts.len()).into_bytes();
    for part in parts {
        out.extend(format!("${}\r\n{}\r\n", part.len(), part).into_bytes());
    }
    out
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Subscribes to `names`, checking each confirmation; `already`: the count before.
fn subscribe_more(client: &mut RawClient, word: &str, names: &[&str], already: i64, resp3: bool) {
    let mut args = vec![word];
    args.extend_from_slice(names);
    client.send(&command(&args));
    for (i, name) in names.iter().enumerate() {
        let got = client.read_reply().expect("confirmation");
        assert_eq!(
            text(&got),
            text(&confirmation(
                word,
                Some(name),
                already + i as i64 + 1,
                resp3
            ))
        );
    }
}

fn subscribe(client: &mut RawClient, word: &str, names: &[&str], resp3: bool) {
    subscribe_more(client, word, names, 0, resp3)
}

fn publish(client: &mut RawClient, word: &str, channel: &str, message: &str) -> i64 {
    client.send(&command(&[word, channel, message]));
    let reply = text(&client.read_reply().expect("publish reply"));
    reply
        .trim_start_matches(':')
        .trim_end()
        .parse()
        .unwrap_or_else(|_| panic!("not an integer: {reply:?}"))
}

#[test]
fn publish_reaches_subscribers_on_every_core() {
    let server = TestServer::start(2);
    // Several connections, so that the kernel spreads them over both cores.
    let mut subscribers: Vec<RawClient> = (0..6).map(|_| server.raw()).collect();
    for subscriber in &mut subscribers {
        subscribe(subscriber, "subscribe", &["news"], false);
    }
    let mut watcher = server.raw();
    subscribe(&mut watcher, "psubscribe", &["n?ws*"], false);
    let mut publishers: Vec<RawClient> = (0..4).map(|_| server.raw()).collect();
    for (round, publisher) in publishers.iter_mut().enumerate() {
        let message = format!("hello {round}");
        assert_eq!(publish(publisher, "publish", "news", &message), 7);
        for subscriber in &mut subscribers {
            let got = subscriber.read_reply().expect("message");
            assert_eq!(
                text(&got),
                text(&frame(&["message", "news", &message], false))
            );
        }
        let got = watcher.read_reply().expect("pmessage");
        assert_eq!(
            text(&got),
            text(&frame(&["pmessage", "n?ws*", "news", &message], false))
        );
    }
    assert_eq!(publish(&mut publishers[0], "publish", "nobody", "x"), 0);
    // A closed subscriber stops counting.
    drop(subscribers.pop());
    assert!(TestServer::eventually(Duration::from_secs(5), || {
        publish(&mut publishers[1], "publish", "other", "x") == 0
            && publish(&mut publishers[1], "publish", "news", "y") == 6
    }));
}

#[test]
fn unsubscribe_replies_per_channel_and_for_none() {
    let server = TestServer::start(2);
    let mut client = server.raw();
    subscribe(&mut client, "subscribe", &["a", "b"], false);
    // Subscribing again to a channel already subscribed keeps the count.
    client.roundtrip(
        &command(&["SUBSCRIBE", "a"]),
        &confirmation("subscribe", Some("a"), 2, false),
    );
    client.send(&command(&["UNSUBSCRIBE"]));
    assert_eq!(
        text(&client.read_reply().expect("a")),
        text(&confirmation("unsubscribe", Some("a"), 1, false))
    );
    assert_eq!(
        text(&client.read_reply().expect("b")),
        text(&confirmation("unsubscribe", Some("b"), 0, false))
    );
    client.roundtrip(
        &command(&["UNSUBSCRIBE"]),
        &confirmation("unsubscribe", None, 0, false),
    );
    client.roundtrip(
        &command(&["PUNSUBSCRIBE", "p*"]),
        &confirmation("punsubscribe", Some("p*"), 0, false),
    );
    // Out of subscribed mode: any command again.
    client.roundtrip(&command(&["SET", "k", "v"]), b"+OK\r\n");
}

#[test]
fn resp2_subscribed_mode_allows_only_pubsub_commands_and_ping() {
    let server = TestServer::start(1);
    let mut client = server.raw();
    subscribe(&mut client, "subscribe", &["ch"], false);
    client.roundtrip(
        &command(&["GET", "k"]),
        b"-ERR Can't execute 'get': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    client.roundtrip(
        &command(&["CLIENT", "LIST"]),
        b"-ERR Can't execute 'client|list': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context\r\n",
    );
    client.roundtrip(&command(&["PING"]), b"*2\r\n$4\r\npong\r\n$0\r\n\r\n");
    client.roundtrip(
        &command(&["PING", "hi"]),
        b"*2\r\n$4\r\npong\r\n$2\r\nhi\r\n",
    );
    subscribe(&mut client, "ssubscribe", &["s1"], false);
    client.roundtrip(
        &command(&["SUNSUBSCRIBE"]),
        &confirmation("sunsubscribe", Some("s1"), 0, false),
    );
    client.roundtrip(
        &command(&["UNSUBSCRIBE", "ch"]),
        &confirmation("unsubscribe", Some("ch"), 0, false),
    );
    client.roundtrip(&command(&["PING"]), b"+PONG\r\n");
    client.roundtrip(&command(&["QUIT"]), b"+OK\r\n");
}

#[test]
fn resp3_pushes_and_any_command_while_subscribed() {
    let server = TestServer::start(2);
    let mut client = server.raw();
    client.send(&command(&["HELLO", "3"]));
    client.read_reply().expect("hello");
    subscribe(&mut client, "subscribe", &["ch"], true);
    client.roundtrip(&command(&["SET", "k", "v"]), b"+OK\r\n");
    client.roundtrip(&command(&["GET", "k"]), b"$1\r\nv\r\n");
    client.roundtrip(&command(&["PING"]), b"+PONG\r\n");
    let mut publisher = server.raw();
    assert_eq!(publish(&mut publisher, "publish", "ch", "pushed"), 1);
    assert_eq!(
        text(&client.read_reply().expect("push")),
        text(&frame(&["message", "ch", "pushed"], true))
    );
    // A RESP2 subscriber and a RESP3 one get the same message in their own framing.
    let mut old = server.raw();
    subscribe(&mut old, "subscribe", &["ch"], false);
    assert_eq!(publish(&mut publisher, "publish", "ch", "both"), 2);
    assert_eq!(
        text(&client.read_reply().expect("push")),
        text(&frame(&["message", "ch", "both"], true))
    );
    assert_eq!(
        text(&old.read_reply().expect("message")),
        text(&frame(&["message", "ch", "both"], false))
    );
}

#[test]
fn redis_crate_pubsub_connection() {
    let server = TestServer::start(2);
    let mut subscriber = server.connection();
    let mut pubsub = subscriber.as_pubsub();
    pubsub.subscribe("crate").expect("subscribe");
    pubsub.psubscribe("cr*").expect("psubscribe");
    let mut publisher = server.connection();
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg("crate")
        .arg("payload")
        .query(&mut publisher)
        .expect("publish");
    assert_eq!(receivers, 2);
    let mut got = Vec::new();
    for _ in 0..2 {
        let message = pubsub.get_message().expect("message");
        let payload: String = message.get_payload().expect("payload");
        got.push((
            message.get_channel_name().to_string(),
            payload,
            message.from_pattern(),
        ));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            ("crate".to_string(), "payload".to_string(), false),
            ("crate".to_string(), "payload".to_string(), true),
        ]
    );
}

#[test]
fn pubsub_subcommands_count_over_every_core() {
    let server = TestServer::start(2);
    let mut subscribers: Vec<RawClient> = (0..4).map(|_| server.raw()).collect();
    for (i, subscriber) in subscribers.iter_mut().enumerate() {
        subscribe(
            subscriber,
            "subscribe",
            &["news", &format!("own{i}")],
            false,
        );
    }
    subscribe_more(&mut subscribers[0], "psubscribe", &["a*"], 2, false);
    subscribe_more(&mut subscribers[1], "psubscribe", &["a*"], 2, false);
    subscribe_more(&mut subscribers[2], "psubscribe", &["b*"], 2, false);
    // The shard-channel count is separate.
    subscribe(&mut subscribers[3], "ssubscribe", &["shard1"], false);
    let mut con = server.connection();
    let mut channels: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .query(&mut con)
        .expect("channels");
    channels.sort();
    assert_eq!(channels, vec!["news", "own0", "own1", "own2", "own3"]);
    let channels: Vec<String> = redis::cmd("PUBSUB")
        .arg("CHANNELS")
        .arg("own[12]")
        .query(&mut con)
        .expect("channels");
    assert_eq!(channels.len(), 2);
    let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("NUMSUB")
        .arg("news")
        .arg("own2")
        .arg("none")
        .query(&mut con)
        .expect("numsub");
    assert_eq!(
        numsub,
        vec![
            redis::Value::BulkString(b"news".to_vec()),
            redis::Value::Int(4),
            redis::Value::BulkString(b"own2".to_vec()),
            redis::Value::Int(1),
            redis::Value::BulkString(b"none".to_vec()),
            redis::Value::Int(0),
        ]
    );
    let numpat: i64 = redis::cmd("PUBSUB")
        .arg("NUMPAT")
        .query(&mut con)
        .expect("numpat");
    assert_eq!(numpat, 2, "distinct patterns");
    let shard: Vec<String> = redis::cmd("PUBSUB")
        .arg("SHARDCHANNELS")
        .query(&mut con)
        .expect("shardchannels");
    assert_eq!(shard, vec!["shard1"]);
    let shard: Vec<redis::Value> = redis::cmd("PUBSUB")
        .arg("SHARDNUMSUB")
        .arg("shard1")
        .query(&mut con)
        .expect("shardnumsub");
    assert_eq!(
        shard,
        vec![
            redis::Value::BulkString(b"shard1".to_vec()),
            redis::Value::Int(1)
        ]
    );
    // Shard channels and plain channels are separate namespaces.
    let mut publisher = server.raw();
    assert_eq!(publish(&mut publisher, "spublish", "news", "x"), 0);
    assert_eq!(publish(&mut publisher, "spublish", "shard1", "s"), 1);
    assert_eq!(
        text(&subscribers[3].read_reply().expect("smessage")),
        text(&frame(&["smessage", "shard1", "s"], false))
    );
    publisher.roundtrip(
        &command(&["PUBSUB", "NOPE"]),
        b"-ERR unknown subcommand 'NOPE'. Try PUBSUB HELP.\r\n",
    );
    publisher.roundtrip(
        &command(&["PUBSUB", "NUMPAT", "x"]),
        b"-ERR wrong number of arguments for 'pubsub|numpat' command\r\n",
    );
    // RESP3: NUMSUB is a map.
    publisher.send(&command(&["HELLO", "3"]));
    publisher.read_reply().expect("hello");
    publisher.roundtrip(
        &command(&["PUBSUB", "NUMSUB", "own0"]),
        b"%1\r\n$4\r\nown0\r\n:1\r\n",
    );
    // INFO and CLIENT LIST.
    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut con)
        .expect("info");
    assert!(info.contains("pubsub_channels:5\r\n"), "{info}");
    assert!(info.contains("pubsub_patterns:2\r\n"), "{info}");
    assert!(info.contains("pubsub_shardchannels:1\r\n"), "{info}");
    let list: String = redis::cmd("CLIENT")
        .arg("LIST")
        .query(&mut con)
        .expect("list");
    assert_eq!(list.matches("flags=P").count(), 4, "{list}");
    assert!(list.contains("sub=2 psub=0 ssub=1"), "{list}");
    assert!(list.contains("sub=2 psub=1 ssub=0"), "{list}");
    // CLIENT KILL TYPE pubsub closes the subscribed clients only.
    let killed: i64 = redis::cmd("CLIENT")
        .arg("KILL")
        .arg("TYPE")
        .arg("pubsub")
        .query(&mut con)
        .expect("kill");
    assert_eq!(killed, 4);
    assert!(TestServer::eventually(Duration::from_secs(5), || {
        let numsub: Vec<redis::Value> = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg("news")
            .query(&mut con)
            .expect("numsub");
        numsub.get(1) == Some(&redis::Value::Int(0))
    }));
}

/// Reads one message from a RESP2 (p)subscriber and returns its last two parts: channel and
/// payload.
fn next_message(client: &mut RawClient) -> (String, String) {
    let raw = text(&client.read_reply().expect("notification"));
    let lines: Vec<&str> = raw.split("\r\n").collect();
    // *4 $8 pmessage $n pattern $n channel $n payload
    let payload = lines[lines.len() - 2].to_string();
    let channel = lines[lines.len() - 4].to_string();
    (channel, payload)
}

/// A request and the (key, event) notifications it raises, in order.
type Step = (
    &'static [&'static str],
    &'static [(&'static str, &'static str)],
);

#[test]
fn keyspace_notifications_for_writes_on_every_shard() {
    let server = TestServer::start(2);
    let mut con = server.connection();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("notify-keyspace-events")
        .arg("KEA")
        .query(&mut con)
        .expect("config set");
    let flags: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("notify-keyspace-events")
        .query(&mut con)
        .expect("config get");
    assert_eq!(flags, vec!["notify-keyspace-events", "AKE"]);
    let mut keyspace = server.raw();
    subscribe(&mut keyspace, "psubscribe", &["__keyspace@0__:*"], false);
    let mut keyevent = server.raw();
    subscribe(&mut keyevent, "psubscribe", &["__keyevent@0__:*"], false);

    // Keys without a hashtag: with two shards they land on both.
    let steps: &[Step] = &[
        (&["SET", "alpha", "1"], &[("alpha", "set")]),
        (&["INCRBY", "alpha", "2"], &[("alpha", "incrby")]),
        (&["APPEND", "beta", "x"], &[("beta", "append")]),
        (&["RPUSH", "gamma", "a"], &[("gamma", "rpush")]),
        (&["LPOP", "gamma"], &[("gamma", "lpop"), ("gamma", "del")]),
        (&["HSET", "delta", "f", "v"], &[("delta", "hset")]),
        (&["SADD", "eps", "m"], &[("eps", "sadd")]),
        (&["ZADD", "zeta", "1", "m"], &[("zeta", "zadd")]),
        (&["ZINCRBY", "zeta", "1", "m"], &[("zeta", "zincr")]),
        (&["EXPIRE", "alpha", "100"], &[("alpha", "expire")]),
        (&["DEL", "beta"], &[("beta", "del")]),
    ];
    for (request, events) in steps {
        let _: redis::Value = redis::cmd(request[0])
            .arg(&request[1..])
            .query(&mut con)
            .expect("write");
        for (key, event) in *events {
            assert_eq!(
                next_message(&mut keyspace),
                (format!("__keyspace@0__:{key}"), event.to_string()),
                "{request:?}"
            );
            assert_eq!(
                next_message(&mut keyevent),
                (format!("__keyevent@0__:{event}"), key.to_string()),
                "{request:?}"
            );
        }
    }
    // A read raises nothing, a write that changes nothing neither: the next event is the SET.
    let _: redis::Value = redis::cmd("GET").arg("alpha").query(&mut con).expect("get");
    let _: redis::Value = redis::cmd("DEL")
        .arg("nothere")
        .query(&mut con)
        .expect("del");
    let _: () = redis::cmd("SET")
        .arg("omega")
        .arg("1")
        .query(&mut con)
        .expect("set");
    assert_eq!(
        next_message(&mut keyevent),
        ("__keyevent@0__:set".to_string(), "omega".to_string())
    );
}

/// A key that lands on `shard` of `shards`.
fn key_on(shards: usize, shard: usize, prefix: &str) -> String {
    let table = shardis::slot::SlotTable::new(shards);
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| table.shard_of_key(k.as_bytes()) == shard)
        .expect("some key lands on every shard")
}

/// The commands that move data between shards (RENAME, COPY, SMOVE, SUNIONSTORE, LMOVE, ...)
/// raise the events they raise when their keys share a shard.
#[test]
fn keyspace_notifications_for_commands_across_shards() {
    let server = TestServer::start_with(2, &[("notify-keyspace-events", "KEAn")]);
    let mut con = server.connection();
    let mut keyevent = server.raw();
    subscribe(&mut keyevent, "psubscribe", &["__keyevent@0__:*"], false);
    let (a, b) = (key_on(2, 0, "a"), key_on(2, 1, "b"));
    let (c, d) = (key_on(2, 0, "c"), key_on(2, 1, "d"));
    let run = |con: &mut redis::Connection, args: &[&str]| {
        let _: redis::Value = redis::cmd(args[0])
            .arg(&args[1..])
            .query(con)
            .expect("write");
    };
    let mut expect = |events: &[(&str, &str)]| {
        for (event, key) in events {
            assert_eq!(
                next_message(&mut keyevent),
                (format!("__keyevent@0__:{event}"), key.to_string())
            );
        }
    };
    run(&mut con, &["SET", &a, "1"]);
    expect(&[("new", &a), ("set", &a)]);
    run(&mut con, &["RENAME", &a, &b]);
    expect(&[("rename_from", &a), ("new", &b), ("rename_to", &b)]);
    run(&mut con, &["COPY", &b, &c]);
    expect(&[("new", &c), ("copy_to", &c)]);
    run(&mut con, &["SADD", &a, "m", "n"]);
    expect(&[("new", &a), ("sadd", &a)]);
    run(&mut con, &["SMOVE", &a, &d, "m"]);
    expect(&[("srem", &a), ("new", &d), ("sadd", &d)]);
    run(&mut con, &["SUNIONSTORE", &b, &a, &d]);
    expect(&[("sunionstore", &b)]);
    run(&mut con, &["DEL", &c]);
    expect(&[("del", &c)]);
    run(&mut con, &["RPUSH", &c, "x"]);
    expect(&[("new", &c), ("rpush", &c)]);
    let refused: redis::RedisResult<redis::Value> = redis::cmd("LMOVE")
        .arg(&[&c, &d, "LEFT", "RIGHT"])
        .query(&mut con);
    assert!(refused.is_err(), "{refused:?}");
    // d holds a set: WRONGTYPE, nothing changed, nothing raised; the next event is this SET.
    run(&mut con, &["SET", "omega", "1"]);
    expect(&[("new", "omega"), ("set", "omega")]);
}

#[test]
fn expired_keys_raise_expired() {
    let server = TestServer::start_with(2, &[("notify-keyspace-events", "Ex")]);
    let mut watcher = server.raw();
    subscribe(
        &mut watcher,
        "subscribe",
        &["__keyevent@0__:expired"],
        false,
    );
    let mut con = server.connection();
    let _: () = redis::cmd("SET")
        .arg("short")
        .arg("v")
        .arg("PX")
        .arg("20")
        .query(&mut con)
        .expect("set");
    // Active expiry finds it without anyone touching the key.
    assert_eq!(
        next_message(&mut watcher),
        ("__keyevent@0__:expired".to_string(), "short".to_string())
    );
}

fn rss_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[test]
fn subscriber_that_stops_reading_is_closed_at_the_output_limit() {
    let server =
        TestServer::start_with(2, &[("client-output-buffer-limit", "pubsub 1mb 256kb 60")]);
    let mut con = server.connection();
    let limits: Vec<String> = redis::cmd("CONFIG")
        .arg("GET")
        .arg("client-output-buffer-limit")
        .query(&mut con)
        .expect("config get");
    assert_eq!(
        limits[1],
        "normal 0 0 0 slave 268435456 67108864 60 pubsub 1048576 262144 60"
    );
    let mut slow = server.raw();
    subscribe(&mut slow, "subscribe", &["firehose"], false);
    let mut fast = server.raw();
    subscribe(&mut fast, "subscribe", &["other"], false);

    let rss_before = rss_bytes();
    let message = "x".repeat(256 * 1024);
    let mut publisher = server.raw();
    let mut published = 0u64;
    let started = Instant::now();
    // The slow subscriber never reads: once the kernel's socket buffers are full, its queue
    // reaches 1mb and the server closes it; PUBLISH then reaches nobody.
    loop {
        let receivers = publish(&mut publisher, "publish", "firehose", &message);
        if receivers == 0 {
            break;
        }
        published += message.len() as u64;
        assert!(
            published < 512 * 1024 * 1024 && started.elapsed() < Duration::from_secs(60),
            "never disconnected after {published} bytes"
        );
    }
    // The server kept at most the limit plus what the sockets hold, not what was published.
    let growth = rss_bytes().saturating_sub(rss_before);
    assert!(growth < 64 * 1024 * 1024, "RSS grew by {growth} bytes");
    // Go on publishing large messages: nothing piles up anywhere.
    for _ in 0..200 {
        assert_eq!(publish(&mut publisher, "publish", "firehose", &message), 0);
    }
    let growth = rss_bytes().saturating_sub(rss_before);
    assert!(growth < 64 * 1024 * 1024, "RSS grew by {growth} bytes");

    let info: String = redis::cmd("INFO")
        .arg("stats")
        .query(&mut con)
        .expect("info");
    assert!(
        info.contains("client_output_buffer_limit_disconnections:1\r\n"),
        "{info}"
    );
    // The slow client finds its connection closed after whatever was already sent.
    slow.stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    let _ = slow.read_until_eof();
    // The other subscriber is untouched.
    assert_eq!(publish(&mut publisher, "publish", "other", "still"), 1);
    assert_eq!(
        text(&fast.read_reply().expect("message")),
        text(&frame(&["message", "other", "still"], false))
    );
}
