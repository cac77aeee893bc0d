//! Pipelines over keys on every shard checked against a `HashMap` model, and the atomicity of
//! cross-shard commands under concurrency: MSET/MGET, RENAME and MSETNX across shards.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Instant;

use common::{bulk_array, resp, TestServer};
use shardis::slot::SlotTable;

/// Keys named `{prefix}{n}` that live on `shard` of `shards`.
fn keys_on_shard(shards: usize, shard: usize, prefix: &str, count: usize) -> Vec<String> {
    let table = SlotTable::new(shards);
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .filter(|key| table.shard_of_key(key.as_bytes()) == shard)
        .take(count)
        .collect()
}

fn bulk(value: Option<&String>) -> String {
    match value {
        Some(v) => format!("${}\r\n{v}\r\n", v.len()),
        None => "$-1\r\n".to_string(),
    }
}

/// One pipeline of `count` random commands over 100 keys on every shard, written at once; the
/// replies must be exactly what the model says, in order.
fn model_checked_pipeline(
    client: &mut common::RawClient,
    model: &mut HashMap<String, String>,
    rng: &mut fastrand::Rng,
    count: usize,
) {
    let keys: Vec<String> = (0..100).map(|i| format!("model:{i}")).collect();
    let mut request = Vec::new();
    let mut expected = String::new();
    let pick = |rng: &mut fastrand::Rng| keys[rng.usize(..keys.len())].clone();
    for n in 0..count {
        // The middle of the pipeline mixes in commands that span shards.
        let spanning = n > count / 3 && n < 2 * count / 3;
        let choice = rng.usize(..if spanning { 10 } else { 7 });
        match choice {
            0 | 1 => {
                let key = pick(rng);
                let value = if rng.bool() {
                    rng.i64(-1000..1000).to_string()
                } else {
                    format!("v{}", rng.u32(..))
                };
                request.extend(resp(&["SET", &key, &value]));
                expected.push_str("+OK\r\n");
                model.insert(key, value);
            }
            2 => {
                let key = pick(rng);
                request.extend(resp(&["GET", &key]));
                expected.push_str(&bulk(model.get(&key)));
            }
            3 => {
                let key = pick(rng);
                request.extend(resp(&["INCR", &key]));
                let current = model.get(&key).map(|v| v.parse::<i64>());
                match current {
                    None => {
                        model.insert(key, "1".into());
                        expected.push_str(":1\r\n");
                    }
                    Some(Ok(n)) => {
                        model.insert(key, (n + 1).to_string());
                        expected.push_str(&format!(":{}\r\n", n + 1));
                    }
                    Some(Err(_)) => {
                        expected.push_str("-ERR value is not an integer or out of range\r\n")
                    }
                }
            }
            4 => {
                let key = pick(rng);
                request.extend(resp(&["DEL", &key]));
                let deleted = model.remove(&key).is_some() as i64;
                expected.push_str(&format!(":{deleted}\r\n"));
            }
            5 => {
                request.extend(resp(&["PING"]));
                expected.push_str("+PONG\r\n");
            }
            6 => {
                let text = format!("echo {n}");
                request.extend(resp(&["ECHO", &text]));
                expected.push_str(&bulk(Some(&text)));
            }
            7 => {
                // MSET over several shards; a key may repeat, the last value wins.
                let mut args = vec!["MSET".to_string()];
                for _ in 0..rng.usize(2..12) {
                    let key = pick(rng);
                    let value = rng.i64(0..100).to_string();
                    args.push(key.clone());
                    args.push(value.clone());
                    model.insert(key, value);
                }
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                request.extend(resp(&args));
                expected.push_str("+OK\r\n");
            }
            8 => {
                let picked: Vec<String> = (0..rng.usize(2..15)).map(|_| pick(rng)).collect();
                let mut args = vec!["MGET"];
                args.extend(picked.iter().map(String::as_str));
                request.extend(resp(&args));
                expected.push_str(&format!("*{}\r\n", picked.len()));
                for key in &picked {
                    expected.push_str(&bulk(model.get(key)));
                }
            }
            _ => {
                // DEL or EXISTS over several shards; repeated keys count as Redis counts them.
                let picked: Vec<String> = (0..rng.usize(2..8)).map(|_| pick(rng)).collect();
                let exists = rng.bool();
                let mut args = vec![if exists { "EXISTS" } else { "DEL" }];
                args.extend(picked.iter().map(String::as_str));
                request.extend(resp(&args));
                let counted = picked
                    .iter()
                    .filter(|key| {
                        if exists {
                            model.contains_key(*key)
                        } else {
                            model.remove(*key).is_some()
                        }
                    })
                    .count();
                expected.push_str(&format!(":{counted}\r\n"));
            }
        }
    }
    client.roundtrip(&request, expected.as_bytes());
}

fn model_checked_pipelines(shards: usize) {
    let server = TestServer::start(shards);
    let table = SlotTable::new(shards);
    let on_shards: std::collections::HashSet<usize> = (0..100)
        .map(|i| table.shard_of_key(format!("model:{i}").as_bytes()))
        .collect();
    assert_eq!(on_shards.len(), shards, "the 100 keys cover every shard");
    let mut client = server.raw();
    let mut model = HashMap::new();
    let mut rng = fastrand::Rng::with_seed(shards as u64 * 7919);
    for _ in 0..6 {
        model_checked_pipeline(&mut client, &mut model, &mut rng, 500);
    }
    // The final state, read back key by key on a second connection.
    let mut other = server.raw();
    for i in 0..100 {
        let key = format!("model:{i}");
        other.roundtrip(&resp(&["GET", &key]), bulk(model.get(&key)).as_bytes());
    }
}

#[test]
fn model_checked_pipeline_2_shards() {
    model_checked_pipelines(2);
}

#[test]
fn model_checked_pipeline_4_shards() {
    model_checked_pipelines(4);
}

/// Writers MSET groups of keys on different shards to one value per round while readers MGET
/// the same groups: a reader must never see two values in one group.
fn mset_mget_atomicity(
    shards: usize,
    groups: Vec<Vec<String>>,
    threads_per_side: usize,
    rounds_per_thread: usize,
) {
    let server = TestServer::start(shards);
    let table = SlotTable::new(shards);
    for group in &groups {
        let mut owners: Vec<usize> = group
            .iter()
            .map(|k| table.shard_of_key(k.as_bytes()))
            .collect();
        owners.sort();
        owners.dedup();
        assert_eq!(owners.len(), group.len(), "{group:?} on distinct shards");
    }
    let groups = Arc::new(groups);
    {
        let mut con = server.connection();
        for group in groups.iter() {
            let mut cmd = redis::cmd("MSET");
            for key in group {
                cmd.arg(key).arg("init");
            }
            cmd.query::<()>(&mut con).unwrap();
        }
    }
    let started = Instant::now();
    let mut threads = Vec::new();
    for writer in 0..threads_per_side {
        let (client, groups) = (server.client(), groups.clone());
        threads.push(thread::spawn(move || {
            let mut con = client.get_connection().unwrap();
            for round in 0..rounds_per_thread {
                let group = &groups[round % groups.len()];
                let value = format!("w{writer}:{round}");
                let mut cmd = redis::cmd("MSET");
                for key in group {
                    cmd.arg(key).arg(&value);
                }
                cmd.query::<()>(&mut con).unwrap();
            }
            0
        }));
    }
    for reader in 0..threads_per_side {
        let (client, groups) = (server.client(), groups.clone());
        threads.push(thread::spawn(move || {
            let mut con = client.get_connection().unwrap();
            let mut torn = 0;
            for round in 0..rounds_per_thread {
                let group = &groups[(round + reader) % groups.len()];
                let values: Vec<Option<String>> =
                    redis::cmd("MGET").arg(group).query(&mut con).unwrap();
                if values.iter().any(|v| v != &values[0]) {
                    if torn < 5 {
                        eprintln!("torn read of {group:?}: {values:?}");
                    }
                    torn += 1;
                }
            }
            torn
        }));
    }
    let torn: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    eprintln!(
        "{} MSET/MGET rounds on {shards} shards in {:?}",
        2 * threads_per_side * rounds_per_thread,
        started.elapsed()
    );
    assert_eq!(torn, 0, "MGETs saw a cross-shard MSET in part");
    // Two MSETs of one group never interleaved either: each group ends with one value.
    let mut con = server.connection();
    for group in groups.iter() {
        let values: Vec<String> = redis::cmd("MGET").arg(group).query(&mut con).unwrap();
        assert!(
            values.iter().all(|v| v == &values[0]),
            "{group:?} ended as {values:?}"
        );
    }
}

/// Pairs `a{i}`, `b{j}` on different shards (the scenario).
fn pairs_across_shards(shards: usize, count: usize) -> Vec<Vec<String>> {
    let table = SlotTable::new(shards);
    let mut pairs = Vec::new();
    let mut j = 0;
    for i in 0.. {
        if pairs.len() == count {
            break;
        }
        let a = format!("a{i}");
        let shard_a = table.shard_of_key(a.as_bytes());
        loop {
            let b = format!("b{j}");
            j += 1;
            if table.shard_of_key(b.as_bytes()) != shard_a {
                pairs.push(vec![a, b]);
                break;
            }
        }
    }
    pairs
}

/// 4 writers x 12,500 MSETs and 4 readers x 12,500 MGETs: 100,000 rounds.
#[test]
fn mset_is_atomic_for_mget_across_2_shards() {
    mset_mget_atomicity(2, pairs_across_shards(2, 4), 4, 12_500);
}

#[test]
fn mset_is_atomic_for_mget_across_4_shards() {
    let mut groups = pairs_across_shards(4, 2);
    // And one key on each of the four shards.
    groups.push(
        (0..4)
            .map(|s| keys_on_shard(4, s, "q", 1).remove(0))
            .collect(),
    );
    mset_mget_atomicity(4, groups, 2, 2_500);
}

/// One key moves back and forth between two shards with RENAME while readers look at both:
/// they must always find exactly one of them.
fn rename_is_atomic(shards: usize, renames: usize) {
    let server = TestServer::start(shards);
    let x = keys_on_shard(shards, 0, "x", 1).remove(0);
    let y = keys_on_shard(shards, shards - 1, "y", 1).remove(0);
    let mut con = server.connection();
    redis::cmd("SET")
        .arg(&x)
        .arg("payload")
        .query::<()>(&mut con)
        .unwrap();
    let done = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for reader in 0..2 {
        let (client, done, x, y) = (server.client(), done.clone(), x.clone(), y.clone());
        readers.push(thread::spawn(move || {
            let mut con = client.get_connection().unwrap();
            let (mut reads, mut bad) = (0, 0);
            while !done.load(Ordering::Relaxed) {
                let keys = if reads % 2 == 0 { [&x, &y] } else { [&y, &x] };
                let found = if reader == 0 {
                    let values: Vec<Option<String>> =
                        redis::cmd("MGET").arg(&keys[..]).query(&mut con).unwrap();
                    values.iter().filter(|v| v.is_some()).count()
                } else {
                    redis::cmd("EXISTS")
                        .arg(&keys[..])
                        .query::<usize>(&mut con)
                        .unwrap()
                };
                if found != 1 {
                    if bad < 5 {
                        eprintln!("reader {reader} found {found} of {x} and {y}");
                    }
                    bad += 1;
                }
                reads += 1;
            }
            (reads, bad)
        }));
    }
    let (mut from, mut to) = (x.clone(), y.clone());
    for _ in 0..renames {
        let ok: String = redis::cmd("RENAME")
            .arg(&from)
            .arg(&to)
            .query(&mut con)
            .unwrap();
        assert_eq!(ok, "OK");
        std::mem::swap(&mut from, &mut to);
    }
    done.store(true, Ordering::Relaxed);
    let mut bad = 0;
    for reader in readers {
        let (reads, reader_bad) = reader.join().unwrap();
        assert!(reads > 0);
        bad += reader_bad;
    }
    assert_eq!(bad, 0, "readers saw both keys or neither during RENAME");
    let value: String = redis::cmd("GET").arg(&from).query(&mut con).unwrap();
    assert_eq!(value, "payload");
}

#[test]
fn rename_across_shards_is_atomic_2_shards() {
    rename_is_atomic(2, 5_000);
}

#[test]
fn rename_across_shards_is_atomic_4_shards() {
    rename_is_atomic(4, 2_000);
}

/// Contenders MSETNX overlapping key sets across shards at the same moment: exactly one wins,
/// and what is stored is exactly the winner's.
fn msetnx_race(shards: usize, rounds: usize) {
    let server = TestServer::start(shards);
    let contenders = 3;
    let barrier = Arc::new(Barrier::new(contenders));
    let mut threads = Vec::new();
    for contender in 0..contenders {
        let (client, barrier) = (server.client(), barrier.clone());
        threads.push(thread::spawn(move || {
            let mut con = client.get_connection().unwrap();
            let mut wins = Vec::new();
            for round in 0..rounds {
                // Contender c writes keys c and c+1 of the round (mod 3): every two contenders
                // share one key. With 2 shards one contender's keys share a shard, so a
                // single-shard MSETNX races cross-shard ones.
                let keys = round_keys(shards, round);
                let mine = [&keys[contender], &keys[(contender + 1) % 3]];
                barrier.wait();
                let won: i64 = redis::cmd("MSETNX")
                    .arg(mine[0])
                    .arg(contender)
                    .arg(mine[1])
                    .arg(contender)
                    .query(&mut con)
                    .unwrap();
                wins.push(won);
            }
            wins
        }));
    }
    let wins: Vec<Vec<i64>> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let mut con = server.connection();
    for round in 0..rounds {
        let winners: Vec<usize> = (0..contenders)
            .filter(|&c| wins[c].get(round) == Some(&1))
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let winner = winners[0];
        let keys = round_keys(shards, round);
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query(&mut con).unwrap();
        let expected: Vec<Option<String>> = (0..3)
            .map(|k| (k == winner || k == (winner + 1) % 3).then(|| winner.to_string()))
            .collect();
        assert_eq!(values, expected, "round {round}, winner {winner}");
    }
}

/// Three keys for one MSETNX round, on three different shards where there are that many.
fn round_keys(shards: usize, round: usize) -> Vec<String> {
    (0..3)
        .map(|k| keys_on_shard(shards, k % shards, &format!("nx{round}:{k}:"), 1).remove(0))
        .collect()
}

#[test]
fn msetnx_race_has_one_winner_2_shards() {
    msetnx_race(2, 400);
}

#[test]
fn msetnx_race_has_one_winner_4_shards() {
    msetnx_race(4, 200);
}

/// The same groups through raw pipelines: MSETs and MGETs of one connection keep their order,
/// and every MGET of a group written whole sees one value.
#[test]
fn pipelined_cross_shard_commands_keep_their_order() {
    let server = TestServer::start(2);
    let pairs = pairs_across_shards(2, 3);
    let mut client = server.raw();
    let mut request = Vec::new();
    let mut expected = String::new();
    for round in 0..300 {
        let pair = &pairs[round % pairs.len()];
        let value = round.to_string();
        request.extend(resp(&["MSET", &pair[0], &value, &pair[1], &value]));
        expected.push_str("+OK\r\n");
        request.extend(resp(&["MGET", &pair[0], &pair[1]]));
        expected.push_str(&format!(
            "*2\r\n{}{}",
            bulk(Some(&value)),
            bulk(Some(&value))
        ));
        request.extend(resp(&["GET", &pair[1]]));
        expected.push_str(&bulk(Some(&value)));
    }
    client.roundtrip(&request, expected.as_bytes());
    client.send(&resp(&["MGET", &pairs[0][0], &pairs[0][1]]));
    let values = bulk_array(&client.read_reply().unwrap());
    assert_eq!(values[0], values[1]);
}
