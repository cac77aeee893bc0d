//! The binlog record: what one write looks like on disk, byte by byte. Pure encoding, no I/O.
//!
//! A segment file is a sequence of records, nothing else (no file header: a segment's name says
//! which position it starts at, see `segment`). Every integer is little-endian.
//!
//! ```text
//! offset size  field
//! 0      4     payload length N (bytes from offset 8 to the end of the payload)
//! 4      4     CRC32C (Castagnoli) of the N payload bytes
//! 8      2     shard id
//! 10     8     position: per shard, starts at 1, +1 per record, never reused
//! 18     8     timestamp: ms since the Unix epoch the command ran at (replay runs it "at" this time)
//! 26     4     database index
//! 30     1     kind: 0 = command, 1 = whole entry (a cross-shard RENAME/COPY's destination)
//! 31     8     transaction id, 0 = not part of a cross-shard transaction
//! 39     2     participants: shards that wrote a part of that transaction (0 when tx id is 0)
//! 41     ...   body
//! ```
//!
//! Body of a command (kind 0): `argc: u32`, then per argument `len: u32` and the bytes: the write in
//! deterministic form (`SET k v PXAT <abs>`, never `SET k v EX 10`; see `effect`).
//! Body of an entry (kind 1): `key_len: u32`, key, `expire_at: u64` (0 = none), then the value as
//! `snapshot::encode_value` writes it (a type byte and its payload).
//!
//! Reading a segment ([`scan`]) stops at the first record that is not whole and valid. When that
//! record runs to the end of the file (too short for its length, or its CRC fails and nothing
//! follows it) it is a *torn tail*: a write the crash interrupted, safe to truncate. A bad record
//! with more bytes after it is *corruption*: something damaged data that had been written, and
//! start-up stops rather than guess.

use bytes::Bytes;

/// Bytes before the payload: length and CRC.
pub const FRAME_HEADER: usize = 8;
/// Fixed payload bytes before the body.
pub const PAYLOAD_HEADER: usize = 33;
/// No record may claim more than this (a garbage length is corruption, not a 4 GB allocation).
pub const MAX_PAYLOAD: usize = 1 << 30;

#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    /// A command's arguments, name first.
    Command(Vec<Bytes>),
    /// A whole entry: key, deadline and the value encoded by `snapshot::encode_value`.
    Entry {
        key: Bytes,
        expire_at: u64,
        value: Bytes,
    },
}

/// One decoded record.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub shard: u16,
    pub position: u64,
    pub timestamp_ms: u64,
    pub db: u32,
    /// Cross-shard transaction id (0 = none) and how many shards wrote a part of it.
    pub tx: u64,
    pub participants: u16,
    pub body: Body,
}

/// Appends the encoded record to `out`.
pub fn encode(record: &Record, out: &mut Vec<u8>) {
    let start = out.len();
    out.extend_from_slice(&[0; FRAME_HEADER]);
    out.extend_from_slice(&record.shard.to_le_bytes());
    out.extend_from_slice(&record.position.to_le_bytes());
    out.extend_from_slice(&record.timestamp_ms.to_le_bytes());
    out.extend_from_slice(&record.db.to_le_bytes());
    match &record.body {
        Body::Command(_) => out.push(0),
        Body::Entry { .. } => out.push(1),
    }
    out.extend_from_slice(&record.tx.to_le_bytes());
    out.extend_from_slice(&record.participants.to_le_bytes());
    match &record.body {
        Body::Command(args) => {
            out.extend_from_slice(&(args.len() as u32).to_le_bytes());
            for arg in args {
                out.extend_from_slice(&(arg.len() as u32).to_le_bytes());
                out.extend_from_slice(arg);
            }
        }
        Body::Entry {
            key,
            expire_at,
            value,
        } => {
            out.extend_from_slice(&(key.len() as u32).to_le_bytes());
            out.extend_from_slice(key);
            out.extend_from_slice(&expire_at.to_le_bytes());
            out.extend_from_slice(value);
        }
    }
    let payload = &out[start + FRAME_HEADER..];
    let (len, crc) = (payload.len() as u32, crc32c::crc32c(payload));
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Damage {
    /// The file ends inside the record.
    Truncated,
    /// The CRC does not match (or the length field is impossible).
    BadChecksum,
    /// The CRC matches but the fields do not parse: written by something else.
    Malformed,
}

/// What [`scan`] found in a segment.
#[derive(Debug)]
pub struct ScanEnd {
    /// Bytes of whole valid records from the start of the file.
    pub valid_len: usize,
    /// The first bad record, if any: its offset, what is wrong, and whether it reaches the end of
    /// the file (a torn tail) or has bytes after it (corruption).
    pub damage: Option<(usize, Damage, bool)>,
}

/// Decodes the record at the start of `bytes`: the record and its encoded length.
pub fn decode(bytes: &[u8]) -> Result<(Record, usize), Damage> {
    if bytes.len() < FRAME_HEADER {
        return Err(Damage::Truncated);
    }
    let len = u32_at(bytes, 0) as usize;
    let crc = u32_at(bytes, 4);
    if !(PAYLOAD_HEADER..=MAX_PAYLOAD).contains(&len) {
        return Err(Damage::BadChecksum);
    }
    if bytes.len() < FRAME_HEADER + len {
        return Err(Damage::Truncated);
    }
    let payload = &bytes[FRAME_HEADER..FRAME_HEADER + len];
    if crc32c::crc32c(payload) != crc {
        return Err(Damage::BadChecksum);
    }
    let record = decode_payload(payload).ok_or(Damage::Malformed)?;
    Ok((record, FRAME_HEADER + len))
}

fn decode_payload(p: &[u8]) -> Option<Record> {
    let mut reader = Reader { bytes: p, at: 0 };
    let shard = u16::from_le_bytes(reader.take(2)?.try_into().ok()?);
    let position = reader.u64()?;
    let timestamp_ms = reader.u64()?;
    let db = reader.u32()?;
    let kind = reader.take(1)?[0];
    let tx = reader.u64()?;
    let participants = u16::from_le_bytes(reader.take(2)?.try_into().ok()?);
    let body = match kind {
        0 => {
            let argc = reader.u32()? as usize;
            let mut args = Vec::with_capacity(argc.min(1024));
            for _ in 0..argc {
                let len = reader.u32()? as usize;
                args.push(Bytes::copy_from_slice(reader.take(len)?));
            }
            Body::Command(args)
        }
        1 => {
            let len = reader.u32()? as usize;
            let key = Bytes::copy_from_slice(reader.take(len)?);
            let expire_at = reader.u64()?;
            let value = Bytes::copy_from_slice(reader.rest());
            Body::Entry {
                key,
                expire_at,
                value,
            }
        }
        _ => return None,
    };
    if reader.at != p.len() && matches!(body, Body::Command(_)) {
        return None;
    }
    Some(Record {
        shard,
        position,
        timestamp_ms,
        db,
        tx,
        participants,
        body,
    })
}

/// Walks the records of one segment's bytes, calling `each` for every valid one in order, and
/// reports where the valid part ends and what stopped it.
pub fn scan(bytes: &[u8], mut each: impl FnMut(Record)) -> ScanEnd {
    let mut at = 0;
    while at < bytes.len() {
        match decode(&bytes[at..]) {
            Ok((record, len)) => {
                each(record);
                at += len;
            }
            Err(damage) => {
                let reaches_end = match damage {
                    Damage::Truncated => true,
                    // A bad record is a torn tail when it is the last thing in the file: its
                    // claimed length reaches (or passes) the end, or everything after it is the
                    // zeros a filesystem leaves in a block allocated but never written.
                    _ => {
                        let claimed = FRAME_HEADER + u32_at(&bytes[at..], 0) as usize;
                        at.saturating_add(claimed) >= bytes.len()
                            || bytes[at..].iter().all(|&b| b == 0)
                    }
                };
                return ScanEnd {
                    valid_len: at,
                    damage: Some((at, damage, reaches_end)),
                };
            }
        }
    }
    ScanEnd {
        valid_len: at,
        damage: None,
    }
}

fn u32_at(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    let end = (at + 4).min(bytes.len());
    word[..end.saturating_sub(at)].copy_from_slice(&bytes[at.min(end)..end]);
    u32::from_le_bytes(word)
}

/// A cursor over a payload; every read is bounds-checked (the bytes came from disk).
pub struct Reader<'a> {
    pub bytes: &'a [u8],
    pub at: usize,
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, len: usize) -> Option<&'a [u8]> {
        let end = self.at.checked_add(len)?;
        let slice = self.bytes.get(self.at..end)?;
        self.at = end;
        Some(slice)
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn u64(&mut self) -> Option<u64> {
        Some(u64::from_le_bytes(self.take(8)?.try_into().ok()?))
    }

    pub fn rest(&mut self) -> &'a [u8] {
        let rest = &self.bytes[self.at.min(self.bytes.len())..];
        self.at = self.bytes.len();
        rest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(position: u64, args: &[&str]) -> Record {
        Record {
            shard: 3,
            position,
            timestamp_ms: 1_700_000_000_123,
            db: 2,
            tx: 0,
            participants: 0,
            body: Body::Command(
                args.iter()
                    .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                    .collect(),
            ),
        }
    }

    fn encoded(records: &[Record]) -> Vec<u8> {
        let mut out = Vec::new();
        for record in records {
            encode(record, &mut out);
        }
        out
    }

    #[test]
    fn round_trip_command_and_entry() {
        let entry = Record {
            tx: 77,
            participants: 2,
            body: Body::Entry {
                key: Bytes::from_static(b"k"),
                expire_at: 99,
                value: Bytes::from_static(b"\x00\x03abc"),
            },
            ..command(2, &[])
        };
        let records = vec![command(1, &["SET", "k", "", "PXAT", "5"]), entry];
        let bytes = encoded(&records);
        let mut seen = Vec::new();
        let end = scan(&bytes, |r| seen.push(r));
        assert_eq!(seen, records);
        assert_eq!(end.valid_len, bytes.len());
        assert!(end.damage.is_none());
    }

    #[test]
    fn layout_matches_the_module_doc() {
        let bytes = encoded(&[command(5, &["DEL", "k"])]);
        let len = u32::from_le_bytes(bytes[0..4].try_into().unwrap()) as usize;
        assert_eq!(bytes.len(), FRAME_HEADER + len);
        assert_eq!(&bytes[8..10], &3u16.to_le_bytes());
        assert_eq!(&bytes[10..18], &5u64.to_le_bytes());
        assert_eq!(&bytes[26..30], &2u32.to_le_bytes());
        assert_eq!(bytes[30], 0);
        assert_eq!(&bytes[41..45], &2u32.to_le_bytes());
    }

    #[test]
    fn torn_tail_at_every_cut_is_truncated_to_the_whole_records() {
        let records = vec![
            command(1, &["SET", "a", "1"]),
            command(2, &["SET", "b", "2"]),
        ];
        let bytes = encoded(&records);
        let first_len = encoded(&records[..1]).len();
        for cut in first_len + 1..bytes.len() {
            let mut count = 0;
            let end = scan(&bytes[..cut], |_| count += 1);
            assert_eq!(count, 1, "cut at {cut}");
            assert_eq!(end.valid_len, first_len);
            let (offset, _, reaches_end) = end.damage.expect("damage");
            assert_eq!(offset, first_len);
            assert!(reaches_end, "cut at {cut} must be a torn tail");
        }
    }

    #[test]
    fn bad_crc_in_the_last_record_is_a_torn_tail() {
        let mut bytes = encoded(&[
            command(1, &["SET", "a", "1"]),
            command(2, &["SET", "b", "2"]),
        ]);
        let last = bytes.len() - 1;
        bytes[last] ^= 0xff;
        let end = scan(&bytes, |_| {});
        let (_, damage, reaches_end) = end.damage.expect("damage");
        assert_eq!(damage, Damage::BadChecksum);
        assert!(reaches_end);
    }

    #[test]
    fn zeros_after_the_last_record_are_a_torn_tail() {
        let mut bytes = encoded(&[command(1, &["SET", "a", "1"])]);
        let valid = bytes.len();
        bytes.extend_from_slice(&[0; 100]);
        let end = scan(&bytes, |_| {});
        assert_eq!(end.valid_len, valid);
        assert!(end.damage.expect("damage").2);
    }

    #[test]
    fn damage_before_the_tail_is_corruption() {
        let mut bytes = encoded(&[
            command(1, &["SET", "a", "1"]),
            command(2, &["SET", "b", "2"]),
            command(3, &["SET", "c", "3"]),
        ]);
        bytes[FRAME_HEADER + 12] ^= 0x01;
        let mut count = 0;
        let end = scan(&bytes, |_| count += 1);
        assert_eq!(count, 0);
        let (offset, damage, reaches_end) = end.damage.expect("damage");
        assert_eq!(
            (offset, damage, reaches_end),
            (0, Damage::BadChecksum, false)
        );
    }

    #[test]
    fn garbage_length_is_not_an_allocation() {
        let mut bytes = vec![0xff; 16];
        bytes[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        let end = scan(&bytes, |_| {});
        assert_eq!(end.valid_len, 0);
        assert!(end.damage.is_some());
    }
}
