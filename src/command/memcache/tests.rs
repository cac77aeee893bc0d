use bytes::Bytes;

use super::*;
use crate::command::{CommandLimits, ExecContext};
use crate::keyspace::Keyspace;

const NOW: u64 = 1_700_000_000_000;

fn run(keyspace: &mut Keyspace, spec: &CommandSpec, args: &[&[u8]]) -> Outcome {
    let mut full = vec![Bytes::from_static(spec.name.as_bytes())];
    full.extend(args.iter().map(|a| Bytes::copy_from_slice(a)));
    assert!(spec.arity_ok(full.len()), "{} arity", spec.name);
    let limits = CommandLimits::default();
    let mut ctx = ExecContext {
        keyspace,
        db_index: 0,
        now_ms: NOW,
        limits: &limits,
    };
    let handler = spec.handler.expect("handler");
    Outcome::from_reply(handler(&mut ctx, &full))
}

fn set(ks: &mut Keyspace, key: &[u8], mode: &[u8], data: &[u8], cas: u64, compare: u64) -> Outcome {
    let cas = cas.to_string();
    let compare = compare.to_string();
    run(
        ks,
        &STORE,
        &[
            key,
            mode,
            data,
            b"7",
            b"0",
            cas.as_bytes(),
            compare.as_bytes(),
        ],
    )
}

#[test]
fn store_modes_follow_memcached() {
    let mut ks = Keyspace::new(1);
    assert_eq!(
        set(&mut ks, b"k", b"replace", b"x", 10, 0),
        Outcome::NotStored
    );
    assert_eq!(
        set(&mut ks, b"k", b"append", b"x", 11, 0),
        Outcome::NotStored
    );
    assert_eq!(set(&mut ks, b"k", b"add", b"a", 12, 0), Outcome::Stored(12));
    assert_eq!(set(&mut ks, b"k", b"add", b"b", 13, 0), Outcome::NotStored);
    assert_eq!(
        set(&mut ks, b"k", b"append", b"c", 14, 0),
        Outcome::Stored(14)
    );
    assert_eq!(
        set(&mut ks, b"k", b"prepend", b"p", 15, 0),
        Outcome::Stored(15)
    );
    match run(&mut ks, &GET, &[b"k"]) {
        Outcome::Value(view) => {
            assert_eq!(&view.data[..], b"pac");
            assert_eq!((view.flags, view.cas, view.fetched), (7, 15, false));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(set(&mut ks, b"k", b"set", b"z", 16, 99), Outcome::Exists);
    assert_eq!(
        set(&mut ks, b"k", b"set", b"z", 16, 15),
        Outcome::Stored(16)
    );
    assert_eq!(
        set(&mut ks, b"nope", b"set", b"z", 17, 5),
        Outcome::NotFound
    );
    assert!(ks.cas.high_water() >= 17);
}

#[test]
fn plain_strings_get_a_cas_stamped_and_lose_it_on_resp_writes() {
    let mut ks = Keyspace::new(1);
    ks.db(0).insert(
        Bytes::from_static(b"k"),
        Entry {
            value: Value::String(Bytes::from_static(b"v")),
            expire_at: 0,
        },
    );
    let first = match run(&mut ks, &GET, &[b"k"]) {
        Outcome::Value(view) => view.cas,
        other => panic!("{other:?}"),
    };
    assert_ne!(first, 0);
    let again = match run(&mut ks, &GET, &[b"k"]) {
        Outcome::Value(view) => (view.cas, view.fetched),
        other => panic!("{other:?}"),
    };
    assert_eq!(again, (first, true));
    ks.db(0).get_mut(b"k", NOW).unwrap().value.forget_item();
    let after = match run(&mut ks, &GET, &[b"k"]) {
        Outcome::Value(view) => view.cas,
        other => panic!("{other:?}"),
    };
    assert!(after > first);
}

#[test]
fn arith_wraps_floors_and_refuses_text() {
    let mut ks = Keyspace::new(1);
    assert_eq!(
        run(&mut ks, &ARITH, &[b"n", b"incr", b"1", b"5", b"0"]),
        Outcome::NotFound
    );
    set(&mut ks, b"n", b"set", b"18446744073709551615", 6, 0);
    assert_eq!(
        run(&mut ks, &ARITH, &[b"n", b"incr", b"2", b"7", b"0"]),
        Outcome::Number(1, 7)
    );
    assert_eq!(
        run(&mut ks, &ARITH, &[b"n", b"decr", b"9", b"8", b"0"]),
        Outcome::Number(0, 8)
    );
    set(&mut ks, b"t", b"set", b"abc", 9, 0);
    assert_eq!(
        run(&mut ks, &ARITH, &[b"t", b"incr", b"1", b"10", b"0"]),
        Outcome::NonNumeric
    );
    assert_eq!(
        run(
            &mut ks,
            &ARITH,
            &[b"v", b"incr", b"1", b"11", b"0", b"0", b"42"]
        ),
        Outcome::Number(42, 11)
    );
    assert_eq!(parse_counter(b"12  "), Some(12));
    assert_eq!(parse_counter(b" 12"), None);
}

#[test]
fn delete_touch_and_past_deadlines() {
    let mut ks = Keyspace::new(1);
    set(&mut ks, b"k", b"set", b"v", 5, 0);
    assert_eq!(run(&mut ks, &DELETE, &[b"k", b"4"]), Outcome::Exists);
    assert_eq!(run(&mut ks, &TOUCH, &[b"k", b"1"]), Outcome::Touched);
    assert_eq!(run(&mut ks, &GET, &[b"k"]), Outcome::Miss);
    assert_eq!(run(&mut ks, &DELETE, &[b"k", b"0"]), Outcome::NotFound);
    let past = run(
        &mut ks,
        &STORE,
        &[b"k", b"set", b"v", b"0", b"1", b"6", b"0"],
    );
    assert_eq!(past, Outcome::Stored(6));
    assert_eq!(run(&mut ks, &GET, &[b"k"]), Outcome::Miss);
    let later = (NOW + 10_000).to_string();
    set(&mut ks, b"k", b"set", b"v", 7, 0);
    match run(&mut ks, &GAT, &[b"k", later.as_bytes()]) {
        Outcome::Value(view) => assert_eq!(view.expire_at, NOW + 10_000),
        other => panic!("{other:?}"),
    }
    assert_eq!(ks.db(0).get(b"k", NOW).unwrap().expire_at, NOW + 10_000);
}

#[test]
fn internal_commands_are_not_resp_commands() {
    for spec in COMMANDS {
        assert!(crate::command::lookup(spec.name.as_bytes()).is_none());
        assert!(lookup_internal(spec.name.as_bytes()).is_some());
    }
}
