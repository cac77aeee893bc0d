//! Sorted-set replies (ZRANGE ... WITHSCORES, ZPOPMIN, ZMPOP, ...) built without one allocation per
//! element: members are copied into one buffer and scores kept as numbers until encoding.
//!
//! Redis shapes these replies by protocol: a member/score list is flat in RESP2 and an array of
//! `[member, score]` pairs in RESP3, with scores as RESP3 doubles (bulk strings in RESP2). ZMPOP
//! nests the pairs in both protocols, and ZPOPMIN/ZPOPMAX without a count reply one flat pair in
//! both. [`PairShape`] says which.

use std::fmt::Write as _;

use bytes::{BufMut, BytesMut};

use super::reply::put_decimal;

/// How members and scores are grouped (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PairShape {
    /// `[m1, s1, m2, s2, ...]` in both protocols.
    Flat,
    /// Flat in RESP2, `[[m1, s1], [m2, s2], ...]` in RESP3 (WITHSCORES replies).
    NestedInResp3,
    /// `[[m1, s1], ...]` in both protocols (ZMPOP).
    Nested,
}

/// Members, and scores when the reply carries them.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoredList {
    members: Vec<u8>,
    ends: Vec<usize>,
    scores: Option<Vec<f64>>,
    shape: PairShape,
}

impl ScoredList {
    /// An empty list; `with_scores` says whether [`ScoredList::push`] records scores.
    pub fn new(with_scores: bool, shape: PairShape) -> ScoredList {
        ScoredList {
            members: Vec::new(),
            ends: Vec::new(),
            scores: with_scores.then(Vec::new),
            shape,
        }
    }

    pub fn push(&mut self, member: &[u8], score: f64) {
        self.members.extend_from_slice(member);
        self.ends.push(self.members.len());
        if let Some(scores) = &mut self.scores {
            scores.push(score);
        }
    }

    pub fn len(&self) -> usize {
        self.ends.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The (member, score) pairs; the score is 0 when the list carries none.
    pub fn pairs(&self) -> impl Iterator<Item = (&[u8], f64)> + '_ {
        (0..self.len()).map(move |i| {
            let start = if i == 0 { 0 } else { self.ends[i - 1] };
            let score = self.scores.as_ref().map_or(0.0, |scores| scores[i]);
            (&self.members[start..self.ends[i]], score)
        })
    }

    pub fn encode(&self, out: &mut BytesMut, protocol: u8) {
        let resp3 = protocol >= 3;
        let Some(scores) = &self.scores else {
            put_header(out, b'*', self.len());
            for (member, _) in self.pairs() {
                put_bulk(out, member);
            }
            return;
        };
        let nested = match self.shape {
            PairShape::Flat => false,
            PairShape::NestedInResp3 => resp3,
            PairShape::Nested => true,
        };
        put_header(out, b'*', if nested { self.len() } else { self.len() * 2 });
        for ((member, _), score) in self.pairs().zip(scores) {
            if nested {
                put_header(out, b'*', 2);
            }
            put_bulk(out, member);
            put_double(out, *score, resp3);
        }
    }
}

fn put_header(out: &mut BytesMut, marker: u8, len: usize) {
    out.put_u8(marker);
    put_decimal(out, len as i64);
    out.put_slice(b"\r\n");
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 16);
    put_header(out, b'$', data.len());
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// A double as `Reply::Double` encodes it (`format_double`'s text), without allocating.
pub fn put_double(out: &mut BytesMut, value: f64, resp3: bool) {
    let mut text = TextBuf::default();
    write_double(&mut text, value);
    let text = &text.bytes[..text.len];
    if resp3 {
        out.put_u8(b',');
        out.put_slice(text);
        out.put_slice(b"\r\n");
    } else {
        put_bulk(out, text);
    }
}

/// The same text as `reply::format_double`.
fn write_double(out: &mut TextBuf, value: f64) {
    if value.is_nan() {
        out.push(b"nan");
    } else if value.is_infinite() {
        out.push(if value > 0.0 { b"inf" } else { b"-inf" });
    } else if value == value.trunc() && value.abs() < 1e17 {
        let mut digits = BytesMut::new();
        put_decimal(&mut digits, value as i64);
        out.push(&digits);
    } else {
        let _ = write!(out, "{value}");
    }
}

/// A stack buffer for one number's text (the longest f64 `Display` text is under 400 bytes;
/// anything longer is cut, which the shortest-round-trip form never needs).
struct TextBuf {
    bytes: [u8; 400],
    len: usize,
}

impl Default for TextBuf {
    fn default() -> Self {
        TextBuf {
            bytes: [0; 400],
            len: 0,
        }
    }
}

impl TextBuf {
    fn push(&mut self, data: &[u8]) {
        let take = data.len().min(self.bytes.len() - self.len);
        self.bytes[self.len..self.len + take].copy_from_slice(&data[..take]);
        self.len += take;
    }
}

impl std::fmt::Write for TextBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.push(s.as_bytes());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::reply::{format_double, Reply};
    use super::*;

    fn encoded(list: &ScoredList, protocol: u8) -> Vec<u8> {
        let mut out = BytesMut::new();
        list.encode(&mut out, protocol);
        out.to_vec()
    }

    #[test]
    fn shapes_by_protocol() {
        let mut list = ScoredList::new(true, PairShape::NestedInResp3);
        list.push(b"a", 1.0);
        list.push(b"bc", 2.5);
        assert_eq!(
            encoded(&list, 2),
            b"*4\r\n$1\r\na\r\n$1\r\n1\r\n$2\r\nbc\r\n$3\r\n2.5\r\n"
        );
        assert_eq!(
            encoded(&list, 3),
            b"*2\r\n*2\r\n$1\r\na\r\n,1\r\n*2\r\n$2\r\nbc\r\n,2.5\r\n"
        );
        let mut nested = ScoredList::new(true, PairShape::Nested);
        nested.push(b"a", 1.0);
        assert_eq!(encoded(&nested, 2), b"*1\r\n*2\r\n$1\r\na\r\n$1\r\n1\r\n");
        let mut flat = ScoredList::new(true, PairShape::Flat);
        flat.push(b"a", -1.0);
        assert_eq!(encoded(&flat, 3), b"*2\r\n$1\r\na\r\n,-1\r\n");
        let mut members = ScoredList::new(false, PairShape::NestedInResp3);
        members.push(b"a", 1.0);
        assert_eq!(encoded(&members, 3), b"*1\r\n$1\r\na\r\n");
    }

    #[test]
    fn doubles_match_reply_double() {
        for value in [
            0.0,
            -3.0,
            1.5,
            1e20,
            1e-7,
            0.1,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e300,
        ] {
            for protocol in [2, 3] {
                let mut ours = BytesMut::new();
                put_double(&mut ours, value, protocol == 3);
                let mut reference = BytesMut::new();
                Reply::Double(value).encode(&mut reference, protocol);
                assert_eq!(ours, reference, "{value} {}", format_double(value));
            }
        }
    }
}
