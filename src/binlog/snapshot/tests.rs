use super::*;
use crate::keyspace::Keyspace;

#[test]
fn snapshot_under_writes_equals_the_state_at_the_cut() {
    let dir = std::env::temp_dir().join(format!("shardis-snap-{}", fastrand::u64(..)));
    let mut keyspace = Keyspace::new(2);
    for n in 0..2_000 {
        let entry = Entry {
            value: Value::String(Bytes::from(format!("v{n}"))),
            expire_at: 0,
        };
        keyspace
            .db(n % 2)
            .insert(Bytes::from(format!("k{n}")), entry);
    }
    let expected: Vec<Vec<(Bytes, Entry)>> = (0..2)
        .map(|db| {
            let mut all: Vec<_> = keyspace
                .db_ref(db)
                .iter_live(0)
                .map(|(k, e)| (Bytes::copy_from_slice(k), e.clone()))
                .collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all
        })
        .collect();
    let mut snapshots = Snapshots::default();
    snapshots
        .start(&mut keyspace, &dir, 0, 42, 1_000, None)
        .expect("start");
    // Interleave small steps with writes, deletions (moving elements) and a FLUSHDB.
    let mut round = 0;
    let outcome = loop {
        round += 1;
        for n in 0..20 {
            let key = Bytes::from(format!("k{}", fastrand::usize(..2_500)));
            match fastrand::u8(..4) {
                0 => {
                    keyspace.db(n % 2).remove(&key, 0);
                }
                1 => keyspace.db(n % 2).insert(
                    key,
                    Entry {
                        value: Value::String(Bytes::from_static(b"new")),
                        expire_at: 0,
                    },
                ),
                2 => {
                    if let Some(entry) = keyspace.db(n % 2).get_mut(&key, 0) {
                        entry.value = Value::String(Bytes::from_static(b"changed"));
                    }
                }
                _ => {
                    keyspace.db(n % 2).set_expire(&key, 5_000, 0);
                }
            }
        }
        if round == 30 {
            keyspace.db(1).clear();
        }
        keyspace.swap_db(0, 1);
        // A tiny budget per step: many steps, many disturbances.
        let job = snapshots.job.as_mut().unwrap();
        if job.finishing.is_none() {
            let buffer = &mut job.buffer;
            let entries = &mut job.entries;
            let walked = keyspace.cut_step(7, &mut |db, key, entry| {
                encode_entry(db, key, entry, buffer);
                *entries += 1;
            });
            if !walked {
                continue;
            }
        }
        if let Some(outcome) = snapshots.step(&mut keyspace, true, None) {
            break outcome;
        }
    };
    let Outcome::Saved(info) = outcome else {
        panic!("snapshot failed")
    };
    let bytes = std::fs::read(&info.path).expect("snapshot file");
    let mut loaded = Keyspace::new(2);
    load_into(&bytes, &mut loaded).expect("loads");
    for (db, expected) in expected.iter().enumerate() {
        let mut got: Vec<_> = loaded
            .db_ref(db)
            .iter_live(0)
            .map(|(k, e)| (Bytes::copy_from_slice(k), e.clone()))
            .collect();
        got.sort_by(|a, b| a.0.cmp(&b.0));
        assert_eq!(&got, expected, "db {db}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_snapshot_without_its_end_marker_is_refused() {
    let mut keyspace = Keyspace::new(1);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&[0; HEADER - 8]);
    encode_entry(
        0,
        b"k",
        &Entry {
            value: Value::String(Bytes::from_static(b"v")),
            expire_at: 0,
        },
        &mut bytes,
    );
    assert!(load_into(&bytes, &mut keyspace).is_err());
}

#[test]
fn string_round_trip() {
    let value = Value::String(Bytes::from_static(b"\x00hello"));
    let mut out = Vec::new();
    encode_value(&value, &mut out);
    assert_eq!(decode_value(&out), Some(value));
    assert_eq!(decode_value(&[]), None);
    assert_eq!(decode_value(&[200]), None);
}

#[test]
fn every_value_type_round_trips() {
    use crate::keyspace::hash::Hash;
    use crate::keyspace::list::List;
    use crate::keyspace::set::Set;
    use crate::keyspace::zset::{ZSet, ZSetLimits};
    use crate::keyspace::{EncodingLimits, Item, ItemData};
    let limits = EncodingLimits::default();
    let many: Vec<Vec<u8>> = (0..300).map(|i| format!("m{i}").into_bytes()).collect();
    let numbers: Vec<Vec<u8>> = (0..20).map(|i| i.to_string().into_bytes()).collect();
    let values = vec![
        Value::Hash(Hash::from_pairs(
            [(&b"f"[..], &b"v"[..]), (b"g", b"")],
            &limits,
        )),
        Value::Hash(Hash::from_pairs(
            many.iter().map(|m| (&m[..], &m[..])),
            &limits,
        )),
        Value::Set(Set::from_members(
            numbers.iter().map(|m| &m[..]),
            20,
            &limits,
        )),
        Value::Set(Set::from_members(many.iter().map(|m| &m[..]), 300, &limits)),
        Value::List(Box::new(List::from_items(
            many.iter().map(|m| &m[..]),
            &limits,
        ))),
        Value::ZSet(ZSet::from_pairs(
            [(&b"a"[..], 1.5), (b"b", f64::NEG_INFINITY)],
            &ZSetLimits::default(),
        )),
        Value::ZSet(ZSet::from_pairs(
            many.iter().enumerate().map(|(i, m)| (&m[..], i as f64)),
            &ZSetLimits::default(),
        )),
        Value::Item(Box::new(Item {
            data: ItemData::new(b"data"),
            flags: 7,
            cas: 1 << 40,
            ..Item::default()
        })),
        Value::Item(Box::new(Item {
            data: ItemData::new(&[b'l'; 300]),
            flags: 7,
            cas: 1 << 40,
            ..Item::default()
        })),
    ];
    for value in values {
        let mut out = Vec::new();
        encode_value(&value, &mut out);
        let decoded = decode_value(&out).expect("decodes");
        assert_eq!(decoded.type_name(), value.type_name());
        let mut again = Vec::new();
        encode_value(&decoded, &mut again);
        assert_eq!(again, out, "{}", value.type_name());
        // Cut short, it is refused rather than misread.
        assert!(
            out.len() < 2
                || decode_value(&out[..out.len() - 1]).is_none()
                || value.type_name() == "string"
        );
    }
}

/// SAVE steps `to_the_end`: with many times `WRITE_AT` bytes of data one call must write them all
/// and finish, not stop after the first flush.
#[test]
fn a_step_to_the_end_saves_more_than_one_write_of_data() {
    let dir = std::env::temp_dir().join(format!("shardis-snap-{}", fastrand::u64(..)));
    let mut keyspace = Keyspace::new(1);
    let value = Bytes::from(vec![b'x'; 1000]);
    let count = 4 * WRITE_AT / 1000 + 100;
    for n in 0..count {
        let entry = Entry {
            value: Value::String(value.clone()),
            expire_at: 0,
        };
        keyspace.db(0).insert(Bytes::from(format!("k{n}")), entry);
    }
    let mut snapshots = Snapshots::default();
    snapshots
        .start(&mut keyspace, &dir, 0, 7, 1_000, None)
        .expect("start");
    let Some(Outcome::Saved(info)) = snapshots.step(&mut keyspace, true, None) else {
        panic!("one step to the end did not finish the snapshot")
    };
    let bytes = std::fs::read(&info.path).expect("snapshot file");
    assert!(bytes.len() > 4 * WRITE_AT);
    let mut loaded = Keyspace::new(1);
    load_into(&bytes, &mut loaded).expect("loads");
    assert_eq!(loaded.db_ref(0).iter_live(0).count(), count);
    let _ = std::fs::remove_dir_all(&dir);
}
