//! Unit tests of `db`.

use std::collections::{HashMap, HashSet};

use super::*;

fn string(value: &str) -> Value {
    Value::String(Bytes::copy_from_slice(value.as_bytes()))
}

fn entry(value: &str, expire_at: u64) -> Entry {
    Entry {
        value: string(value),
        expire_at,
    }
}

fn key(n: usize) -> Bytes {
    Bytes::from(format!("key:{n}"))
}

#[test]
fn lazy_expiry_and_counting() {
    let mut db = Db::new();
    db.insert(Bytes::from_static(b"a"), entry("1", 100));
    db.insert(Bytes::from_static(b"b"), entry("2", 0));
    assert_eq!(db.expires_len(), 1);
    assert_eq!(db.get(b"a", 99).map(|e| e.value.clone()), Some(string("1")));
    assert_eq!(db.len(), 2);
    assert!(db.get(b"a", 100).is_none());
    assert_eq!(db.len(), 1);
    assert_eq!(db.expires_len(), 0);
    assert_eq!(db.take_expired_count(), 1);
    assert_eq!(db.take_expired_count(), 0);
    // remove / set_expire / contains on a dead key: absent, reclaimed and counted.
    db.insert(Bytes::from_static(b"c"), entry("3", 50));
    assert!(db.remove(b"c", 60).is_none());
    db.insert(Bytes::from_static(b"c"), entry("3", 50));
    assert!(!db.set_expire(b"c", 500, 60));
    db.insert(Bytes::from_static(b"c"), entry("3", 50));
    assert!(!db.contains(b"c", 60));
    assert_eq!(db.take_expired_count(), 3);
    db.check_invariants();
}

#[test]
fn set_expire_sets_clears_and_deletes() {
    let mut db = Db::new();
    db.insert(Bytes::from_static(b"k"), entry("v", 0));
    assert!(db.set_expire(b"k", 1_000, 10));
    assert_eq!(db.get(b"k", 10).map(|e| e.expire_at), Some(1_000));
    assert_eq!(db.expires_len(), 1);
    assert!(db.set_expire(b"k", 0, 10)); // PERSIST
    assert_eq!(db.get(b"k", 10).map(|e| e.expire_at), Some(0));
    assert_eq!(db.expires_len(), 0);
    assert!(db.set_expire(b"k", 10, 10)); // a deadline not in the future deletes
    assert!(db.is_empty());
    assert_eq!(db.take_expired_count(), 0, "a deletion, not an expiry");
    assert!(!db.set_expire(b"missing", 1_000, 10));
    db.check_invariants();
}

#[test]
fn insert_keeps_volatile_set_consistent() {
    let mut db = Db::new();
    db.insert(Bytes::from_static(b"k"), entry("v", 100));
    db.insert(Bytes::from_static(b"k"), entry("w", 0));
    assert_eq!(db.expires_len(), 0);
    db.insert(Bytes::from_static(b"k"), entry("x", 200));
    db.insert(Bytes::from_static(b"k"), entry("y", 300));
    assert_eq!(db.expires_len(), 1);
    assert_eq!(db.len(), 1);
    db.check_invariants();
}

/// Db against a HashMap model over random operation sequences, with time moving forward.
#[test]
fn model_test() {
    let mut rng = fastrand::Rng::with_seed(0x5eed);
    for _round in 0..20 {
        let mut db = Db::new();
        let mut model: HashMap<Vec<u8>, (Vec<u8>, u64)> = HashMap::new();
        let mut now = 1_000u64;
        let mut expired_seen = 0u64;
        for step in 0..3_000 {
            let name = format!("k{}", rng.usize(..64)).into_bytes();
            let model_live = |model: &mut HashMap<Vec<u8>, (Vec<u8>, u64)>, now: u64| {
                if let Some(&(_, at)) = model.get(&name) {
                    if at != 0 && at <= now {
                        model.remove(&name);
                        return (None, true);
                    }
                }
                (model.get(&name).cloned(), false)
            };
            match rng.u8(..6) {
                0 => {
                    let value = format!("v{step}").into_bytes();
                    let expire_at = if rng.bool() { 0 } else { now + rng.u64(1..50) };
                    db.insert(
                        Bytes::from(name.clone()),
                        Entry {
                            value: Value::String(Bytes::from(value.clone())),
                            expire_at,
                        },
                    );
                    model.insert(name.clone(), (value, expire_at));
                }
                1 => {
                    let (expected, expired) = model_live(&mut model, now);
                    expired_seen += expired as u64;
                    model.remove(&name);
                    let got = db.remove(&name, now);
                    assert_eq!(
                        got.map(|e| (e.value, e.expire_at)),
                        expected.map(|(v, at)| (Value::String(Bytes::from(v)), at))
                    );
                }
                2 => {
                    let (expected, expired) = model_live(&mut model, now);
                    expired_seen += expired as u64;
                    let got = db.get(&name, now).cloned();
                    assert_eq!(
                        got.map(|e| (e.value, e.expire_at)),
                        expected.map(|(v, at)| (Value::String(Bytes::from(v)), at))
                    );
                }
                3 => {
                    let (expected, expired) = model_live(&mut model, now);
                    expired_seen += expired as u64;
                    let expire_at = match rng.u8(..3) {
                        0 => 0,
                        1 => now.saturating_sub(rng.u64(0..5)),
                        _ => now + rng.u64(1..50),
                    };
                    assert_eq!(db.set_expire(&name, expire_at, now), expected.is_some());
                    if expected.is_some() {
                        if expire_at != 0 && expire_at <= now {
                            model.remove(&name);
                        } else if let Some(slot) = model.get_mut(&name) {
                            slot.1 = expire_at;
                        }
                    }
                }
                4 => now += rng.u64(0..10),
                _ => {
                    let removed = db.active_expire(now, 10);
                    let dead: Vec<Vec<u8>> = model
                        .iter()
                        .filter(|(_, &(_, at))| at != 0 && at <= now)
                        .map(|(k, _)| k.clone())
                        .collect();
                    assert!(removed <= dead.len());
                    // Sync the model with whichever dead keys the sample reclaimed.
                    for k in dead {
                        if db.entries.get(k.as_slice()).is_none() {
                            model.remove(&k);
                            expired_seen += 1;
                        }
                    }
                }
            }
            let mut live: Vec<Bytes> = db
                .iter_live(now)
                .map(|(k, _)| Bytes::copy_from_slice(k))
                .collect();
            live.sort();
            let mut expected: Vec<Bytes> = model
                .iter()
                .filter(|(_, &(_, at))| at == 0 || at > now)
                .map(|(k, _)| Bytes::from(k.clone()))
                .collect();
            expected.sort();
            assert_eq!(live, expected, "live keys at step {step}");
            assert_eq!(
                db.len(),
                model.len(),
                "len counts dead keys not yet reclaimed"
            );
            db.check_invariants();
        }
        assert_eq!(db.take_expired_count(), expired_seen);
    }
}

#[test]
fn scan_returns_every_key_present_throughout() {
    let mut rng = fastrand::Rng::with_seed(42);
    for round in 0..30 {
        let mut db = Db::new();
        let now = 1_000;
        // Stable and churn keys interleaved, so deleting churn keys moves stable keys from the
        // top into holes further down.
        let mut stable: Vec<Bytes> = Vec::new();
        let mut churn: Vec<Bytes> = Vec::new();
        for n in 0..800 {
            let k = key(n);
            if rng.u8(..8) < 5 {
                db.insert(k.clone(), entry("v", 0));
                stable.push(k);
            } else {
                // Some churn keys carry deadlines that pass during the scan.
                db.insert(
                    k.clone(),
                    entry("c", if rng.bool() { 0 } else { now + rng.u64(1..30) }),
                );
                churn.push(k);
            }
        }
        let mut next = 10_000;
        let mut seen: HashSet<Bytes> = HashSet::new();
        let mut cursor = 0;
        let mut clock = now;
        let mut steps = 0;
        loop {
            let (next_cursor, keys) = db.scan(cursor, 1 + round % 13, None, None, clock);
            seen.extend(keys);
            steps += 1;
            if next_cursor == 0 {
                break;
            }
            cursor = next_cursor;
            // Churn: delete some, insert some, let time pass.
            for _ in 0..rng.usize(0..8) {
                if !churn.is_empty() {
                    let victim = churn.swap_remove(rng.usize(..churn.len()));
                    db.remove(&victim, clock);
                }
            }
            for _ in 0..rng.usize(0..8) {
                let k = key(next);
                next += 1;
                db.insert(k.clone(), entry("n", 0));
                churn.push(k);
            }
            clock += rng.u64(0..3);
            assert!(steps < 10_000, "scan must terminate");
        }
        for k in &stable {
            assert!(seen.contains(k), "round {round}: {k:?} missed");
        }
        db.check_invariants();
    }
}

#[test]
fn scan_cursor_bounds_filters_and_expired_keys() {
    let mut db = Db::new();
    assert_eq!(db.scan(0, 10, None, None, 0), (0, vec![]));
    for n in 0..10 {
        db.insert(key(n), entry("v", if n < 3 { 50 } else { 0 }));
    }
    // Count 4 from the top visits positions 9..=6.
    let (cursor, keys) = db.scan(0, 4, None, None, 10);
    assert_eq!(cursor, 6);
    assert_eq!(keys.len(), 4);
    // A cursor beyond len is clamped; count 0 still visits one slot.
    assert_eq!(db.scan(1 << 40, 0, None, None, 10).0, 9);
    // Pattern and type filters.
    let (cursor, keys) = db.scan(0, 100, Some(b"key:[12]"), None, 10);
    assert_eq!(cursor, 0);
    assert_eq!(keys.len(), 2);
    assert_eq!(db.scan(0, 100, None, Some(b"STRING"), 10).1.len(), 10);
    assert_eq!(db.scan(0, 100, None, Some(b"hash"), 10).1.len(), 0);
    // After the deadline the three volatile keys are reclaimed as the scan passes them.
    let (_, keys) = db.scan(0, 100, Some(b"*"), None, 60);
    assert_eq!(keys.len(), 7);
    assert_eq!(db.len(), 7);
    assert_eq!(db.take_expired_count(), 3);
    db.check_invariants();
}

#[test]
fn keys_matching_skips_dead_keys() {
    let mut db = Db::new();
    db.insert(Bytes::from_static(b""), entry("empty key", 0));
    db.insert(Bytes::from_static(b"user:1"), entry("v", 0));
    db.insert(Bytes::from_static(b"user:2"), entry("v", 5));
    db.insert(Bytes::from_static(b"other"), entry("v", 0));
    let mut keys = db.keys_matching(b"user:*", 10);
    keys.sort();
    assert_eq!(keys, vec![Bytes::from_static(b"user:1")]);
    assert_eq!(
        db.keys_matching(b"*", 10).len(),
        3,
        "\"*\" also returns the empty key"
    );
}

#[test]
fn active_expire_respects_budget() {
    let mut db = Db::new();
    for n in 0..10_000 {
        db.insert(key(n), entry("v", 100));
    }
    let cycle = db.active_expire_counted(200, 100);
    assert!(cycle.looked <= 100);
    assert_eq!(cycle.removed, 100, "every sampled key is dead");
    assert_eq!(db.len(), 9_900);
    // Nothing dead: one sample of 20, then stop.
    let mut fresh = Db::new();
    for n in 0..1_000 {
        fresh.insert(key(n), entry("v", 10_000));
    }
    let cycle = fresh.active_expire_counted(200, 1_000);
    assert_eq!(
        cycle,
        ExpireCycle {
            looked: EXPIRE_SAMPLE,
            removed: 0
        }
    );
    // A budget smaller than a sample is still respected.
    assert!(db.active_expire_counted(200, 7).looked <= 7);
    assert_eq!(db.active_expire_counted(200, 0), ExpireCycle::default());
    // Eventually everything dead is reclaimed.
    while db.active_expire(200, 1_000) > 0 {}
    assert!(db.is_empty());
    db.check_invariants();
}

#[test]
fn active_expire_drops_stray_volatile_members() {
    let mut db = Db::new();
    db.insert(Bytes::from_static(b"k"), entry("v", 500));
    // A caller wrongly clears the deadline through get_mut.
    db.get_mut(b"k", 0).expect("live").expire_at = 0;
    db.active_expire(0, 100);
    assert_eq!(db.expires_len(), 0);
    assert_eq!(db.len(), 1);
}

#[test]
fn random_key_never_returns_dead_keys() {
    let mut db = Db::new();
    assert_eq!(db.random_key(0), None);
    for n in 0..1_000 {
        db.insert(key(n), entry("v", if n % 50 == 0 { 0 } else { 10 }));
    }
    let mut seen = HashSet::new();
    for _ in 0..200 {
        let k = db.random_key(20).expect("20 live keys remain");
        assert!(db.get(&k, 20).is_some());
        seen.insert(k);
    }
    assert!(seen.len() > 10, "picks spread over the live keys");
    db.check_invariants();
    // All dead: None, and the dead keys are reclaimed.
    let mut dead = Db::new();
    for n in 0..100 {
        dead.insert(key(n), entry("v", 10));
    }
    assert_eq!(dead.random_key(20), None);
    assert!(dead.is_empty());
    assert_eq!(dead.take_expired_count(), 100);
}

#[test]
fn avg_ttl_and_memory_estimate() {
    let mut db = Db::new();
    assert_eq!(db.avg_ttl(0), 0);
    db.insert(Bytes::from_static(b"a"), entry("v", 1_100));
    db.insert(Bytes::from_static(b"b"), entry("v", 1_300));
    db.insert(Bytes::from_static(b"c"), entry("v", 0));
    assert_eq!(db.avg_ttl(1_000), 200);
    let small = db.memory_estimate();
    assert!(small >= 3 + 3);
    for n in 0..5_000 {
        db.insert(key(n), entry("some value", 2_000));
    }
    let avg = db.avg_ttl(1_000);
    assert!((900..=1_000).contains(&avg), "{avg}");
    assert!(db.memory_estimate() > small + 5_000 * 16);
    db.clear();
    assert!(db.is_empty());
    assert_eq!(db.expires_len(), 0);
}

#[test]
fn insert_item_writes_into_the_old_items_box() {
    use crate::keyspace::item::ItemData;
    let item = |data: &[u8], cas: u64| Item {
        data: ItemData::new(data),
        cas,
        ..Item::default()
    };
    let boxed = |db: &mut Db| match &db.get(b"k", 0).expect("present").value {
        Value::Item(item) => (&**item as *const Item, item.cas, item.data.to_vec()),
        other => panic!("not an item: {other:?}"),
    };
    let mut db = Db::new();
    // Absent: a new item, volatile.
    db.insert_item(b"k", item(b"one", 1), 500);
    assert_eq!(db.expires_len(), 1);
    let (first, cas, data) = boxed(&mut db);
    assert_eq!((cas, &data[..]), (1, &b"one"[..]));
    // Over an item: the same box, the new data, deadline and CAS; no longer volatile.
    let before = db.mutations();
    db.insert_item(b"k", item(b"two", 2), 0);
    assert!(db.mutations() > before);
    let (second, cas, data) = boxed(&mut db);
    assert_eq!(second, first, "the old box is reused");
    assert_eq!((cas, &data[..]), (2, &b"two"[..]));
    assert_eq!(db.get(b"k", 0).expect("present").expire_at, 0);
    assert_eq!(db.expires_len(), 0);
    // Volatile again, through the reuse path.
    db.insert_item(b"k", item(b"three", 3), 900);
    assert_eq!(db.expires_len(), 1);
    assert_eq!(db.get(b"k", 0).expect("present").expire_at, 900);
    // Over a plain string (or another type): replaced by an item.
    db.insert(Bytes::from_static(b"s"), entry("plain", 0));
    db.insert_item(b"s", item(b"x", 4), 0);
    assert!(matches!(&db.get(b"s", 0).expect("present").value, Value::Item(item) if item.cas == 4));
    assert_eq!(db.len(), 2);
    db.check_invariants();
}
