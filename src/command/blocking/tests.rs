use super::*;
use crate::command::test_support::*;

#[test]
fn timeouts_parse_as_redis_reads_them() {
    assert_eq!(parse_timeout(b"0"), Ok(None));
    assert_eq!(parse_timeout(b"1.5"), Ok(Some(1500)));
    assert_eq!(parse_timeout(b"0.0001"), Ok(Some(1)));
    assert_eq!(parse_timeout(b"-0.0001"), Ok(None));
    assert_eq!(parse_timeout(b"-1"), Err(err("ERR timeout is negative")));
    assert_eq!(
        parse_timeout(b"abc"),
        Err(err("ERR timeout is not a float or out of range"))
    );
    assert_eq!(
        parse_timeout(b"inf"),
        Err(err("ERR timeout is out of range"))
    );
}

#[test]
fn blocking_handlers_run_as_their_non_blocking_forms() {
    let mut h = Harness::new();
    assert_eq!(h.run(&["BLPOP", "a", "b", "0"]), Reply::NullArray);
    assert_eq!(
        h.run(&["BLMOVE", "a", "b", "LEFT", "RIGHT", "0"]),
        Reply::Null
    );
    assert_eq!(h.run(&["BLPOP", "a", "-1"]), err("ERR timeout is negative"));
    h.run(&["RPUSH", "b", "1", "2"]);
    assert_eq!(h.run(&["BLPOP", "a", "b", "0"]), bulks(&["b", "1"]));
    assert_eq!(h.run(&["BRPOP", "a", "b", "0"]), bulks(&["b", "2"]));
    h.run(&["SET", "s", "x"]);
    assert_eq!(h.run(&["BLPOP", "s", "b", "0"]), err(WRONGTYPE));
    h.run(&["RPUSH", "a", "1", "2", "3"]);
    assert_eq!(h.run(&["BRPOPLPUSH", "a", "c", "0"]), bulk("3"));
    assert_eq!(h.run(&["BLMOVE", "a", "c", "LEFT", "LEFT", "0"]), bulk("1"));
    assert_eq!(h.run(&["LRANGE", "c", "0", "-1"]), bulks(&["1", "3"]));
    assert_eq!(
        h.run(&["BLMPOP", "0", "2", "x", "c", "RIGHT", "COUNT", "5"]),
        Reply::Array(vec![bulk("c"), bulks(&["3", "1"])])
    );
    assert_eq!(
        h.run(&["BLMPOP", "0", "0", "x", "LEFT"]),
        err("ERR numkeys should be greater than 0")
    );
    h.run(&["ZADD", "z", "1", "one", "2", "two", "3", "three"]);
    assert_eq!(
        h.run(&["BZPOPMIN", "y", "z", "0"]),
        Reply::Array(vec![bulk("z"), bulk("one"), Reply::Double(1.0)])
    );
    assert_eq!(
        h.run(&["BZPOPMAX", "z", "0"]),
        Reply::Array(vec![bulk("z"), bulk("three"), Reply::Double(3.0)])
    );
    assert_eq!(h.run(&["BZPOPMIN", "y", "0.1"]), Reply::NullArray);
    assert!(matches!(
        h.run(&["BZMPOP", "1", "1", "z", "MIN"]),
        Reply::Array(items) if items.len() == 2
    ));
    assert_eq!(h.run(&["BZMPOP", "1", "1", "z", "MIN"]), Reply::NullArray);
}

/// The binlog records what the command did as the plain pop, never the blocking command.
#[test]
fn effects_are_logged_as_plain_pops() {
    let mut h = Harness::new();
    h.run(&["RPUSH", "l", "1", "2", "3"]);
    h.run(&["ZADD", "z", "1", "a", "2", "b"]);
    let cases: &[(&[&str], &[&str])] = &[
        (&["BLPOP", "x", "l", "0"], &["LPOP", "l"]),
        (&["BRPOP", "l", "0"], &["RPOP", "l"]),
        (
            &["BLMOVE", "l", "m", "LEFT", "RIGHT", "0"],
            &["LMOVE", "l", "m", "LEFT", "RIGHT"],
        ),
        (
            &["BRPOPLPUSH", "m", "l", "0"],
            &["LMOVE", "m", "l", "RIGHT", "LEFT"],
        ),
        (
            &["BLMPOP", "0", "1", "l", "RIGHT", "COUNT", "9"],
            &["RPOP", "l", "1"],
        ),
        (&["BZPOPMAX", "z", "0"], &["ZPOPMAX", "z"]),
        (
            &["BZMPOP", "0", "2", "q", "z", "MIN"],
            &["ZPOPMIN", "z", "1"],
        ),
    ];
    for (command, logged) in cases {
        let args: Vec<Bytes> = command.iter().map(|a| Bytes::from(a.to_string())).collect();
        let mut ctx = ExecContext {
            keyspace: &mut h.keyspace,
            db_index: 0,
            now_ms: h.now_ms,
            limits: &h.limits,
            propagate: None,
        };
        let reply = crate::command::run(&mut ctx, &args);
        assert!(!would_block(&reply), "{command:?} served: {reply:?}");
        let expected: Vec<Bytes> = logged.iter().map(|a| Bytes::from(a.to_string())).collect();
        assert_eq!(ctx.propagate, Some(vec![expected]), "{command:?}");
    }
}

#[test]
fn every_row_is_recognised_as_blocking_and_nothing_else_is() {
    for spec in crate::command::all_commands() {
        let listed = COMMANDS.iter().any(|row| row.name == spec.name);
        assert_eq!(is_blocking(spec), listed, "{}", spec.name);
        assert_eq!(spec.flags.contains(&"blocking"), listed, "{}", spec.name);
    }
}
