use super::*;
use crate::command::{lookup, CommandLimits};

const NOW: u64 = 1_700_000_000_000;

fn args(parts: &[&str]) -> Vec<Bytes> {
    parts.iter().map(|p| Bytes::from(p.to_string())).collect()
}

fn to(conn: u64) -> ReplyTo {
    ReplyTo {
        shard: 0,
        conn,
        seq: 0,
    }
}

fn info(deadline: u64) -> BlockInfo {
    BlockInfo {
        deadline,
        gone: Arc::new(AtomicBool::new(false)),
    }
}

fn run(shard: &mut Shard, parts: &[&str]) -> Reply {
    let args = args(parts);
    let spec = lookup(&args[0]).expect("known command");
    shard.execute(spec, 0, &args, NOW)
}

fn block(shard: &mut Shard, conn: u64, parts: &[&str], info: BlockInfo) -> Option<Reply> {
    let args = args(parts);
    let spec = lookup(&args[0]).expect("known command");
    shard.block(spec, 0, args, to(conn), info, NOW)
}

fn replies(answers: Vec<(ReplyTo, Served)>) -> Vec<(u64, Reply)> {
    answers
        .into_iter()
        .map(|(to, served)| match served {
            Served::Reply(reply) => (to.conn, reply),
            Served::Wake(wake) => (to.conn, Reply::error(format!("{wake:?}"))),
        })
        .collect()
}

fn pair(key: &str, item: &str) -> Reply {
    Reply::Array(vec![
        Reply::bulk_from_slice(key.as_bytes()),
        Reply::bulk_from_slice(item.as_bytes()),
    ])
}

#[test]
fn waiters_are_served_in_fifo_order_while_the_key_has_data() {
    let mut shard = Shard::new(0, 16, CommandLimits::default());
    for conn in 1..=3 {
        assert_eq!(block(&mut shard, conn, &["BLPOP", "k", "0"], info(0)), None);
    }
    assert_eq!(shard.blocking.len(), 3);
    assert_eq!(shard.blocking.keys_len(), 1);
    run(&mut shard, &["RPUSH", "k", "a", "b"]);
    assert_eq!(
        replies(shard.serve_blocked(NOW)),
        vec![(1, pair("k", "a")), (2, pair("k", "b"))]
    );
    assert_eq!(shard.blocking.len(), 1);
    run(&mut shard, &["LPUSH", "k", "c"]);
    assert_eq!(replies(shard.serve_blocked(NOW)), vec![(3, pair("k", "c"))]);
    assert!(shard.blocking.is_empty());
    assert_eq!(shard.blocking.keys_len(), 0);
    assert_eq!(run(&mut shard, &["EXISTS", "k"]), Reply::Integer(0));
}

#[test]
fn data_at_once_is_served_without_blocking() {
    let mut shard = Shard::new(0, 16, CommandLimits::default());
    run(&mut shard, &["RPUSH", "k", "a"]);
    assert_eq!(
        block(&mut shard, 1, &["BLPOP", "none", "k", "0"], info(0)),
        Some(pair("k", "a"))
    );
    assert!(shard.blocking.is_empty());
}

#[test]
fn wrong_type_wakes_nobody_and_a_gone_client_is_skipped() {
    let mut shard = Shard::new(0, 16, CommandLimits::default());
    let left = info(0);
    assert_eq!(
        block(&mut shard, 1, &["BLPOP", "k", "0"], left.clone()),
        None
    );
    assert_eq!(block(&mut shard, 2, &["BLPOP", "k", "0"], info(0)), None);
    run(&mut shard, &["ZADD", "k", "1", "m"]);
    assert!(shard.serve_blocked(NOW).is_empty());
    run(&mut shard, &["DEL", "k"]);
    left.gone.store(true, Ordering::Release);
    run(&mut shard, &["RPUSH", "k", "x"]);
    assert_eq!(replies(shard.serve_blocked(NOW)), vec![(2, pair("k", "x"))]);
    assert!(shard.blocking.is_empty());
}

#[test]
fn blmove_chains_wake_the_destination_waiters() {
    let mut shard = Shard::new(0, 16, CommandLimits::default());
    assert_eq!(
        block(
            &mut shard,
            1,
            &["BLMOVE", "a", "b", "LEFT", "LEFT", "0"],
            info(0)
        ),
        None
    );
    assert_eq!(block(&mut shard, 2, &["BRPOP", "b", "0"], info(0)), None);
    run(&mut shard, &["RPUSH", "a", "x"]);
    assert_eq!(
        replies(shard.serve_blocked(NOW)),
        vec![(1, Reply::bulk_from_slice(b"x")), (2, pair("b", "x"))]
    );
}

#[test]
fn deadlines_and_unblock() {
    let mut shard = Shard::new(0, 16, CommandLimits::default());
    assert_eq!(
        block(&mut shard, 1, &["BLPOP", "k", "1"], info(NOW + 1000)),
        None
    );
    assert_eq!(block(&mut shard, 2, &["BLPOP", "k", "0"], info(0)), None);
    assert_eq!(block(&mut shard, 3, &["BZPOPMIN", "z", "0"], info(0)), None);
    assert!(shard.expire_blocked(NOW + 999).is_empty());
    assert_eq!(
        replies(shard.expire_blocked(NOW + 1000)),
        vec![(1, Reply::NullArray)]
    );
    let (reply_to, answer) = shard.unblock(0, 2, Unblock::Error).expect("blocked");
    assert_eq!(reply_to.conn, 2);
    assert!(matches!(answer, Served::Reply(Reply::Error(text)) if text.starts_with(b"UNBLOCKED")));
    assert!(shard.unblock(0, 2, Unblock::Error).is_none());
    assert!(shard.unblock(0, 3, Unblock::Cancel).is_none());
    assert!(shard.blocking.is_empty());
}

#[test]
fn watchers_are_woken_by_data_of_their_type() {
    let mut shard = Shard::new(0, 16, CommandLimits::default());
    let keys = args(&["a", "b"]);
    assert_eq!(
        shard.watch(0, keys.clone(), WaitKind::List, to(1), info(0), NOW),
        None
    );
    run(&mut shard, &["SET", "b", "x"]);
    assert!(shard.serve_blocked(NOW).is_empty());
    run(&mut shard, &["DEL", "b"]);
    run(&mut shard, &["RPUSH", "b", "x"]);
    assert_eq!(
        replies(shard.serve_blocked(NOW)),
        vec![(1, Reply::error("Ready"))]
    );
    // Data already there: woken at once.
    assert_eq!(
        shard.watch(0, keys.clone(), WaitKind::List, to(1), info(0), NOW),
        Some(Wake::Ready)
    );
    assert_eq!(
        shard.watch(0, args(&["z"]), WaitKind::ZSet, to(2), info(0), NOW),
        None
    );
    let (_, answer) = shard.unblock(0, 2, Unblock::Cancel).expect("watching");
    assert!(matches!(answer, Served::Wake(Wake::Cancelled)));
}

#[test]
fn move_and_entries_from_other_shards_signal_waiters() {
    let mut shard = Shard::new(0, 16, CommandLimits::default());
    assert_eq!(block(&mut shard, 1, &["BLPOP", "k", "0"], info(0)), None);
    let args = args(&["MOVE", "k", "0"]);
    let spec = lookup(b"move").expect("move");
    // Put a list into db 1, move it into db 0.
    shard.execute(
        lookup(b"rpush").expect("rpush"),
        1,
        &self::args(&["RPUSH", "k", "v"]),
        NOW,
    );
    assert_eq!(shard.execute(spec, 1, &args, NOW), Reply::Integer(1));
    assert_eq!(replies(shard.serve_blocked(NOW)), vec![(1, pair("k", "v"))]);
}

/// A blocking command that waited for a cross-shard transaction's lock blocks once it runs and
/// still finds nothing; one that finds data is answered by the unlock.
#[test]
fn a_blocking_command_parked_on_a_lock_blocks_after_the_unlock() {
    let mut shard = Shard::new(0, 16, CommandLimits::default());
    assert!(shard.lock(7, vec![(0, Bytes::from("k"))], to(99)));
    assert_eq!(block(&mut shard, 1, &["BLPOP", "k", "0"], info(0)), None);
    assert_eq!(block(&mut shard, 2, &["BLPOP", "k", "0"], info(0)), None);
    assert!(
        shard.blocking.is_empty(),
        "waiting for the lock, not for data"
    );
    assert!(shard.unlock(7, NOW).is_empty());
    assert_eq!(shard.blocking.len(), 2);
    run(&mut shard, &["RPUSH", "k", "x"]);
    assert_eq!(replies(shard.serve_blocked(NOW)), vec![(1, pair("k", "x"))]);

    run(&mut shard, &["RPUSH", "j", "y"]);
    assert!(shard.lock(8, vec![(0, Bytes::from("j"))], to(99)));
    assert_eq!(block(&mut shard, 3, &["BLPOP", "j", "0"], info(0)), None);
    let released = shard.unlock(8, NOW);
    assert_eq!(released.len(), 1);
    assert_eq!(released[0].0.conn, 3);
    assert_eq!(released[0].1, pair("j", "y"));
}
