//! Unit tests of the sorted set structure against a sorted `Vec` model, in both encodings and
//! across the conversion between them.

use super::*;

/// The model: (score, member) pairs kept sorted.
#[derive(Default)]
struct Model {
    pairs: Vec<(f64, Vec<u8>)>,
}

impl Model {
    fn position(&self, member: &[u8]) -> Option<usize> {
        self.pairs.iter().position(|(_, m)| m == member)
    }

    fn insert(&mut self, member: &[u8], score: f64) -> Option<f64> {
        let old = self.remove(member);
        let at = self
            .pairs
            .partition_point(|(s, m)| (*s, m.as_slice()) < (score, member));
        self.pairs.insert(at, (score, member.to_vec()));
        old
    }

    fn remove(&mut self, member: &[u8]) -> Option<f64> {
        let at = self.position(member)?;
        Some(self.pairs.remove(at).0)
    }
}

fn member(n: u64) -> Vec<u8> {
    format!("m{n}").into_bytes()
}

fn assert_same(set: &ZSet, model: &Model) {
    set.check_invariants();
    assert_eq!(set.len(), model.pairs.len());
    let got: Vec<(f64, Vec<u8>)> = set.iter().map(|(m, s)| (s, m.to_vec())).collect();
    assert_eq!(got, model.pairs);
}

fn small_limits() -> ZSetLimits {
    ZSetLimits {
        max_listpack_entries: 16,
        max_listpack_value: 8,
    }
}

#[test]
fn scores_round_trip_in_the_compact_encoding() {
    let limits = ZSetLimits::default();
    let mut set = ZSet::new();
    let scores = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        127.0,
        128.0,
        -129.0,
        8191.0,
        8192.0,
        -8192.0,
        -8193.0,
        -64.0,
        40_000.0,
        -2_147_483_648.0,
        2_147_483_647.0,
        4_294_967_296.0,
        1.5,
        f64::INFINITY,
        f64::NEG_INFINITY,
        1e300,
    ];
    for (i, score) in scores.iter().enumerate() {
        set.insert(&member(i as u64), *score, &limits);
    }
    assert_eq!(set.encoding(), "listpack");
    for (i, score) in scores.iter().enumerate() {
        let got = set.score(&member(i as u64)).unwrap();
        assert_eq!(got.to_bits(), score.to_bits(), "score {score}");
    }
}

#[test]
fn converts_at_the_thresholds() {
    let limits = small_limits();
    let mut set = ZSet::new();
    for n in 0..16 {
        set.insert(&member(n), n as f64, &limits);
    }
    assert_eq!(set.encoding(), "listpack");
    // An update of an existing member does not convert.
    set.insert(&member(3), 100.0, &limits);
    assert_eq!(set.encoding(), "listpack");
    set.insert(&member(16), 16.0, &limits);
    assert_eq!(set.encoding(), "skiplist");
    assert_eq!(set.len(), 17);
    set.check_invariants();

    let mut long = ZSet::new();
    long.insert(b"12345678", 1.0, &limits);
    assert_eq!(long.encoding(), "listpack");
    long.insert(b"123456789", 1.0, &limits);
    assert_eq!(long.encoding(), "skiplist");

    // Built whole: compact when it fits.
    let built = ZSet::from_pairs((0..16).map(|n| (member(n), n as f64)), &limits);
    assert_eq!(built.encoding(), "listpack");
    let built = ZSet::from_pairs((0..17).map(|n| (member(n), n as f64)), &limits);
    assert_eq!(built.encoding(), "skiplist");
}

#[test]
fn rank_select_and_ranges_match_the_model() {
    for limits in [ZSetLimits::default(), small_limits()] {
        let mut rng = fastrand::Rng::with_seed(7);
        let mut set = ZSet::new();
        let mut model = Model::default();
        for step in 0..5_000u64 {
            let m = member(rng.u64(0..600));
            // Few distinct scores, so that ties (ordered by member) are common.
            let score = rng.u64(0..50) as f64 - 25.0;
            match rng.u8(0..20) {
                0..=11 => assert_eq!(set.insert(&m, score, &limits), model.insert(&m, score)),
                12..=18 => assert_eq!(set.remove(&m), model.remove(&m)),
                _ => {
                    let len = model.pairs.len();
                    let start = rng.usize(0..=len);
                    let end = (start + rng.usize(0..8)).min(len);
                    assert_eq!(set.remove_ranks(start, end), end.saturating_sub(start));
                    model.pairs.drain(start..end.max(start));
                }
            }
            if step % 97 == 0 {
                assert_same(&set, &model);
            }
        }
        assert_same(&set, &model);
        assert!(set.len() > 100);
        for (rank, (score, m)) in model.pairs.iter().enumerate() {
            assert_eq!(set.rank(m), Some(rank));
            assert_eq!(set.score(m), Some(*score));
            assert_eq!(set.get(rank), Some((m.as_slice(), *score)));
        }
        assert_eq!(set.rank(b"absent"), None);
        let len = model.pairs.len();
        for (start, end) in [(0, len), (3, 17), (len - 5, len + 10), (len, len + 1)] {
            let expect: Vec<_> = model.pairs[start.min(len)..end.min(len)].to_vec();
            let mut forward = Vec::new();
            set.range(start, end, false, |m, s| forward.push((s, m.to_vec())));
            assert_eq!(forward, expect);
            let mut backward = Vec::new();
            set.range(start, end, true, |m, s| backward.push((s, m.to_vec())));
            let reversed: Vec<_> = expect.into_iter().rev().collect();
            assert_eq!(backward, reversed);
        }
        for bound in [-30.0, -25.0, -3.0, 0.0, 24.0, 30.0] {
            let expect = model.pairs.iter().filter(|(s, _)| *s < bound).count();
            assert_eq!(set.partition_point(|_, s| s < bound), expect);
        }
    }
}

#[test]
fn large_set_with_many_blocks() {
    let limits = ZSetLimits::default();
    let mut set = ZSet::new();
    let mut model = Model::default();
    let mut rng = fastrand::Rng::with_seed(11);
    for _ in 0..20_000 {
        let m = member(rng.u64(0..15_000));
        let score = rng.f64() * 1000.0;
        assert_eq!(set.insert(&m, score, &limits), model.insert(&m, score));
    }
    assert_same(&set, &model);
    for _ in 0..8_000 {
        let m = member(rng.u64(0..15_000));
        assert_eq!(set.remove(&m), model.remove(&m));
    }
    assert_same(&set, &model);
    // Short removals inside one block, as ZPOPMIN and ZPOPMAX make them.
    for _ in 0..300 {
        assert_eq!(set.remove_ranks(0, 2), 2);
        model.pairs.drain(0..2);
        let len = model.pairs.len();
        assert_eq!(set.remove_ranks(len - 1, len), 1);
        model.pairs.pop();
    }
    assert_same(&set, &model);
    let len = model.pairs.len();
    assert_eq!(set.remove_ranks(100, 3_000), 2_900);
    model.pairs.drain(100..3_000);
    assert_same(&set, &model);
    assert!(len > 3_000);
}

#[test]
fn scan_returns_every_member_present_throughout() {
    let limits = small_limits();
    let mut set = ZSet::new();
    for n in 0..200 {
        set.insert(&member(n), n as f64, &limits);
    }
    let mut seen = std::collections::HashSet::new();
    let mut cursor = 0;
    let mut next_new = 1_000;
    loop {
        cursor = set.scan(cursor, 7, |m, _| {
            seen.insert(m.to_vec());
        });
        // Churn between steps: remove and add members that are not in the stable range 0..100.
        set.remove(&member(100 + next_new % 100));
        set.insert(&member(next_new), 1.0, &limits);
        next_new += 1;
        if cursor == 0 {
            break;
        }
    }
    for n in 0..100 {
        assert!(seen.contains(&member(n)), "member {n} missed");
    }
}

#[test]
fn equality_ignores_the_encoding() {
    let pairs: Vec<_> = (0..10).map(|n| (member(n), n as f64)).collect();
    let compact = ZSet::from_pairs(pairs.clone(), &ZSetLimits::default());
    let large = ZSet::from_pairs(
        pairs,
        &ZSetLimits {
            max_listpack_entries: 0,
            max_listpack_value: 0,
        },
    );
    assert_eq!(compact.encoding(), "listpack");
    assert_eq!(large.encoding(), "skiplist");
    assert_eq!(compact, large);
}

#[test]
fn from_pairs_drops_nan_and_keeps_one_of_duplicates() {
    let set = ZSet::from_pairs(
        vec![
            (b"a".to_vec(), 1.0),
            (b"b".to_vec(), f64::NAN),
            (b"a".to_vec(), 2.0),
        ],
        &ZSetLimits::default(),
    );
    set.check_invariants();
    assert_eq!(set.len(), 1);
    assert_eq!(set.score(b"b"), None);
    assert!(set.score(b"a").is_some());
}
