//! The compact encoding of a small sorted set (Redis's listpack): one flat byte buffer.
//!
//! Layout: a 2-byte little-endian entry count (so at most [`Listpack::MAX_ENTRIES`] entries, as in
//! Redis), then the entries in (score, member) order, each
//!
//! ```text
//! member length (LEB128) | member bytes | score
//! ```
//!
//! where the score's first byte says how it is stored: `0x00..=0x7f` is an integer score 0..127 in
//! that one byte; `0x80..=0xbf` starts a 14-bit signed integer (-8192..8191) in two bytes; `0xc0`
//! is followed by an i32 (4 bytes, little-endian) and `0xc1` by any other double (8 bytes). Most
//! leaderboards use small integer scores, so a 10-byte member costs 12 or 13 bytes, a byte or two
//! less than in Redis's listpack. Every operation walks the buffer (at most
//! `zset-max-listpack-entries` entries, 128 by default); the sorted set switches to the large
//! encoding before that walk could grow long.

use smallvec::SmallVec;

/// Bytes of the entry-count header.
const HEADER: usize = 2;

const TAG_I32: u8 = 0xc0;
const TAG_F64: u8 = 0xc1;

/// A small sorted set in one buffer; see the module docs.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Listpack {
    /// Empty for an empty set, otherwise header and entries.
    buf: Vec<u8>,
}

/// One decoded entry and where its bytes are.
#[derive(Debug, Clone, Copy)]
pub struct LpEntry<'a> {
    pub member: &'a [u8],
    pub score: f64,
    pub start: usize,
    pub end: usize,
}

impl Listpack {
    /// The most entries the 2-byte count can hold; a set converts before it grows past this,
    /// whatever `zset-max-listpack-entries` says.
    pub const MAX_ENTRIES: usize = u16::MAX as usize;

    pub fn len(&self) -> usize {
        match self.buf.get(..HEADER) {
            Some(header) => u16::from_le_bytes([header[0], header[1]]) as usize,
            None => 0,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Bytes held (for memory estimates).
    pub fn heap_size(&self) -> usize {
        self.buf.capacity()
    }

    fn set_len(&mut self, len: usize) {
        if self.buf.len() < HEADER {
            self.buf.resize(HEADER, 0);
        }
        self.buf[..HEADER].copy_from_slice(&(len as u16).to_le_bytes());
    }

    /// The entries in order.
    pub fn iter(&self) -> LpIter<'_> {
        LpIter {
            buf: &self.buf,
            pos: HEADER.min(self.buf.len()),
        }
    }

    /// The entry for `member`, with its rank.
    pub fn find(&self, member: &[u8]) -> Option<(usize, LpEntry<'_>)> {
        self.iter()
            .enumerate()
            .find(|(_, entry)| entry.member == member)
    }

    /// Inserts `member` with `score`; the caller has checked that it is not present.
    pub fn insert_new(&mut self, member: &[u8], score: f64) {
        let at = self
            .iter()
            .find(|entry| (entry.score, entry.member) > (score, member))
            .map_or(self.buf.len().max(HEADER), |entry| entry.start);
        let len = self.len();
        self.set_len(len + 1);
        let mut encoded: SmallVec<[u8; 96]> = SmallVec::new();
        put_varint(&mut encoded, member.len());
        encoded.extend_from_slice(member);
        put_score(&mut encoded, score);
        // Grow to fit exactly, as Redis's listpack does: a doubling Vec would leave up to half of
        // every small set's buffer unused.
        self.buf.reserve_exact(encoded.len());
        self.buf.splice(at..at, encoded);
    }

    /// Removes the entry occupying `start..end` (from [`Listpack::find`] or [`Listpack::iter`]).
    pub fn remove_span(&mut self, start: usize, end: usize) {
        let len = self.len();
        self.buf.drain(start..end);
        if len <= 1 {
            self.buf = Vec::new();
        } else {
            self.set_len(len - 1);
            self.give_back_spare();
        }
    }

    /// Shrinks the buffer after removals left much of it unused (Redis's listpack reallocates
    /// on every delete; this does so only when it frees a useful amount).
    fn give_back_spare(&mut self) {
        if self.buf.capacity() > self.buf.len() + self.buf.len() / 4 + 16 {
            self.buf.shrink_to_fit();
        }
    }

    /// Removes the entries of ranks `start..end` (in range); returns how many.
    pub fn remove_ranks(&mut self, start: usize, end: usize) -> usize {
        if start >= end {
            return 0;
        }
        let mut span = None;
        for (rank, entry) in self.iter().enumerate() {
            if rank == start {
                span = Some((entry.start, entry.end));
            }
            if rank + 1 == end {
                span = span.map(|(from, _)| (from, entry.end));
                break;
            }
        }
        let Some((from, to)) = span else {
            return 0;
        };
        let len = self.len();
        self.buf.drain(from..to);
        if len <= end - start {
            self.buf = Vec::new();
        } else {
            self.set_len(len - (end - start));
            self.give_back_spare();
        }
        end - start
    }
}

/// Walks a listpack's entries in order.
pub struct LpIter<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for LpIter<'a> {
    type Item = LpEntry<'a>;

    fn next(&mut self) -> Option<LpEntry<'a>> {
        if self.pos >= self.buf.len() {
            return None;
        }
        let start = self.pos;
        let (member_len, after_len) = get_varint(self.buf, start);
        let member_end = after_len + member_len;
        let member = &self.buf[after_len..member_end];
        let (score, end) = get_score(self.buf, member_end);
        self.pos = end;
        Some(LpEntry {
            member,
            score,
            start,
            end,
        })
    }
}

fn put_varint(out: &mut SmallVec<[u8; 96]>, mut value: usize) {
    loop {
        let byte = (value & 0x7f) as u8;
        value >>= 7;
        if value == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// Reads a LEB128 value at `pos`; returns it and the position after it. The buffer is only ever
/// written by this module, so it is well formed.
fn get_varint(buf: &[u8], mut pos: usize) -> (usize, usize) {
    let (mut value, mut shift) = (0usize, 0);
    loop {
        let byte = buf[pos];
        pos += 1;
        value |= ((byte & 0x7f) as usize) << shift;
        if byte & 0x80 == 0 {
            return (value, pos);
        }
        shift += 7;
    }
}

fn put_score(out: &mut SmallVec<[u8; 96]>, score: f64) {
    let integral = score.fract() == 0.0
        && score.abs() <= i32::MAX as f64
        && !(score == 0.0 && score.is_sign_negative());
    if !integral {
        out.push(TAG_F64);
        out.extend_from_slice(&score.to_le_bytes());
        return;
    }
    let value = score as i32;
    if (0..=0x7f).contains(&value) {
        out.push(value as u8);
    } else if (-0x2000..0x2000).contains(&value) {
        let bits = (value as u16) & 0x3fff;
        out.push(0x80 | (bits >> 8) as u8);
        out.push(bits as u8);
    } else {
        out.push(TAG_I32);
        out.extend_from_slice(&value.to_le_bytes());
    }
}

fn get_score(buf: &[u8], pos: usize) -> (f64, usize) {
    let first = buf[pos];
    let body = pos + 1;
    match first {
        0x00..=0x7f => (first as f64, body),
        0x80..=0xbf => {
            let bits = (((first & 0x3f) as u16) << 8) | buf[body] as u16;
            // Sign-extend the 14-bit value.
            let value = ((bits << 2) as i16) >> 2;
            (value as f64, body + 1)
        }
        TAG_I32 => {
            let mut bytes = [0u8; 4];
            bytes.copy_from_slice(&buf[body..body + 4]);
            (i32::from_le_bytes(bytes) as f64, body + 4)
        }
        _ => {
            let mut bytes = [0u8; 8];
            bytes.copy_from_slice(&buf[body..body + 8]);
            (f64::from_le_bytes(bytes), body + 8)
        }
    }
}
