use bytes::Bytes;

use super::*;
use crate::command::{CommandLimits, ExecContext};
use crate::keyspace::{Entry, Keyspace, Value};

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
        propagate: None,
    };
    let handler = spec.handler.expect("handler");
    Outcome::from_reply(handler(&mut ctx, &full))
}

fn set(
    ks: &mut Keyspace,
    key: &[u8],
    mode: &[u8],
    data: &[u8],
    cas: u64,
    compare: &[u8],
) -> Outcome {
    let cas = cas.to_string();
    run(
        ks,
        &STORE,
        &[key, mode, data, b"7", b"0", cas.as_bytes(), compare],
    )
}

fn view(outcome: Outcome) -> ItemView {
    match outcome {
        Outcome::Value(view) => view,
        other => panic!("{other:?}"),
    }
}

#[test]
fn store_modes_follow_memcached() {
    let mut ks = Keyspace::new(1);
    assert_eq!(
        set(&mut ks, b"k", b"replace", b"x", 10, b""),
        Outcome::NotStored
    );
    assert_eq!(
        set(&mut ks, b"k", b"append", b"x", 11, b""),
        Outcome::NotStored
    );
    assert_eq!(
        set(&mut ks, b"k", b"add", b"a", 12, b""),
        Outcome::Stored(12)
    );
    assert_eq!(
        set(&mut ks, b"k", b"add", b"b", 13, b""),
        Outcome::NotStored
    );
    assert_eq!(
        set(&mut ks, b"k", b"append", b"c", 14, b""),
        Outcome::Stored(14)
    );
    assert_eq!(
        set(&mut ks, b"k", b"prepend", b"p", 15, b""),
        Outcome::Stored(15)
    );
    let item = view(run(&mut ks, &GET, &[b"k"]));
    assert_eq!(&item.data[..], b"pac");
    assert_eq!((item.flags, item.cas, item.fetched), (7, 15, false));
    assert_eq!(set(&mut ks, b"k", b"set", b"z", 16, b"99"), Outcome::Exists);
    // A CAS of 0 is compared like any other (memcached's `cas k 0 0 1 0` is EXISTS).
    assert_eq!(set(&mut ks, b"k", b"set", b"z", 16, b"0"), Outcome::Exists);
    assert_eq!(
        set(&mut ks, b"k", b"set", b"z", 16, b"15"),
        Outcome::Stored(16)
    );
    assert_eq!(
        set(&mut ks, b"nope", b"set", b"z", 17, b"5"),
        Outcome::NotFound
    );
    assert_eq!(
        set(&mut ks, b"nope", b"append", b"z", 18, b"5"),
        Outcome::NotStored
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
    let first = view(run(&mut ks, &GET, &[b"k"])).cas;
    assert_ne!(first, 0);
    let again = view(run(&mut ks, &GET, &[b"k"]));
    assert_eq!((again.cas, again.fetched), (first, true));
    ks.db(0).get_mut(b"k", NOW).unwrap().value.forget_item();
    assert!(view(run(&mut ks, &GET, &[b"k"])).cas > first);
}

#[test]
fn arith_wraps_floors_pads_and_refuses_text() {
    let mut ks = Keyspace::new(1);
    let arith = |ks: &mut Keyspace, args: &[&[u8]]| {
        let mut full: Vec<&[u8]> = args.to_vec();
        full.resize(8, b"");
        run(ks, &ARITH, &full)
    };
    assert_eq!(
        arith(&mut ks, &[b"n", b"incr", b"1", b"5"]),
        Outcome::NotFound
    );
    set(&mut ks, b"n", b"set", b"18446744073709551615", 6, b"");
    assert_eq!(
        &view(arith(&mut ks, &[b"n", b"incr", b"2", b"7"])).data[..],
        b"1"
    );
    assert_eq!(
        &view(run(&mut ks, &GET, &[b"n"])).data[..],
        b"1                   "
    );
    set(&mut ks, b"n", b"set", b"10", 8, b"");
    let decr = view(arith(&mut ks, &[b"n", b"decr", b"1", b"9"]));
    assert_eq!((&decr.data[..], decr.cas), (&b"9"[..], 9));
    assert_eq!(&view(run(&mut ks, &GET, &[b"n"])).data[..], b"9 ");
    assert_eq!(
        &view(arith(&mut ks, &[b"n", b"decr", b"99", b"10"])).data[..],
        b"0"
    );
    set(&mut ks, b"t", b"set", b"abc", 11, b"");
    assert_eq!(
        arith(&mut ks, &[b"t", b"incr", b"1", b"12"]),
        Outcome::NonNumeric
    );
    let created = view(arith(
        &mut ks,
        &[b"v", b"incr", b"1", b"13", b"", b"0", b"42"],
    ));
    assert_eq!((&created.data[..], created.cas), (&b"42"[..], 13));
    assert_eq!(
        arith(&mut ks, &[b"v", b"incr", b"1", b"14", b"1"]),
        Outcome::Exists
    );
    assert_eq!(parse_counter(b"12  "), Some(12));
    assert_eq!(parse_counter(b" 12"), Some(12));
    assert_eq!(parse_counter(b"12a"), None);
    assert_eq!(parse_counter(b""), None);
}

#[test]
fn delete_touch_and_past_deadlines() {
    let mut ks = Keyspace::new(1);
    set(&mut ks, b"k", b"set", b"v", 5, b"");
    assert_eq!(run(&mut ks, &DELETE, &[b"k", b"4"]), Outcome::Exists);
    assert_eq!(run(&mut ks, &TOUCH, &[b"k", b"1"]), Outcome::Touched);
    assert_eq!(run(&mut ks, &GET, &[b"k"]), Outcome::Miss);
    assert_eq!(run(&mut ks, &DELETE, &[b"k", b""]), Outcome::NotFound);
    let past = run(
        &mut ks,
        &STORE,
        &[b"k", b"set", b"v", b"0", b"1", b"6", b""],
    );
    assert_eq!(past, Outcome::Stored(6));
    assert_eq!(run(&mut ks, &GET, &[b"k"]), Outcome::Miss);
    let later = (NOW + 10_000).to_string();
    set(&mut ks, b"k", b"set", b"v", 7, b"");
    let touched = view(run(
        &mut ks,
        &GAT,
        &[b"k", later.as_bytes(), b"", b"", b"8"],
    ));
    assert_eq!(touched.expire_at, NOW + 10_000);
    assert_eq!(ks.db(0).get(b"k", NOW).unwrap().expire_at, NOW + 10_000);
}

#[test]
fn meta_tokens_vivify_stale_and_recache() {
    let mut ks = Keyspace::new(1);
    let ttl = (NOW + 30_000).to_string();
    // N on a miss creates an empty item and wins; the next reader sees the token taken.
    let created = view(run(&mut ks, &GAT, &[b"k", b"", ttl.as_bytes(), b"", b"9"]));
    assert!(created.won && created.data.is_empty() && created.cas == 9);
    let next = view(run(&mut ks, &GAT, &[b"k", b"", ttl.as_bytes(), b"", b"10"]));
    assert!(!next.won && next.token_sent);
    // md .. I marks stale with a new CAS; the next reader wins, later ones see Z.
    assert_eq!(
        run(&mut ks, &DELETE, &[b"k", b"", b"", b"11"]),
        Outcome::Deleted
    );
    let stale = view(run(&mut ks, &GET, &[b"k"]));
    assert!(stale.stale && stale.won && stale.cas == 11);
    let after = view(run(&mut ks, &GET, &[b"k"]));
    assert!(after.stale && !after.won && after.token_sent);
    // R wins once when less TTL than asked is left.
    set(&mut ks, b"r", b"set", b"v", 12, b"");
    run(&mut ks, &TOUCH, &[b"r", ttl.as_bytes()]);
    let far = (NOW + 60_000).to_string();
    assert!(view(run(&mut ks, &GAT, &[b"r", b"", b"", far.as_bytes(), b"13"])).won);
    assert!(!view(run(&mut ks, &GAT, &[b"r", b"", b"", far.as_bytes(), b"14"])).won);
}

#[test]
fn internal_commands_are_not_resp_commands() {
    for spec in COMMANDS {
        assert!(crate::command::lookup(spec.name.as_bytes()).is_none());
        assert!(lookup_internal(spec.name.as_bytes()).is_some());
    }
}

#[test]
fn outcomes_survive_their_packing() {
    let view = ItemView {
        data: Bytes::from_static(b"value"),
        flags: 7,
        cas: 99,
        expire_at: NOW,
        last_access: 12,
        fetched: true,
        won: false,
        token_sent: true,
        stale: false,
    };
    for outcome in [
        Outcome::Value(view),
        Outcome::Miss,
        Outcome::Stored(0),
        Outcome::Stored(1),
        Outcome::Stored(i64::MAX as u64),
        Outcome::Stored(i64::MAX as u64 + 1),
        Outcome::Stored(u64::MAX),
        Outcome::NotStored,
        Outcome::Exists,
        Outcome::NotFound,
        Outcome::Deleted,
        Outcome::Touched,
        Outcome::NonNumeric,
    ] {
        assert_eq!(Outcome::from_reply(outcome.clone().into_reply()), outcome);
    }
}
