//! Reply values and their RESP2/RESP3 encoding.
//!
//! Commands return a [`Reply`]; only the connection turns it into bytes, in the protocol version the
//! client chose with `HELLO`. RESP3-only types degrade to their RESP2 forms exactly as Redis does:
//! a map becomes a flat array, a set an array, a double a bulk string, a boolean an integer, a null
//! `$-1` (or `*-1` for a null array).

use bytes::{BufMut, Bytes, BytesMut};

use super::scored::ScoredList;

/// A reply to one command, independent of the protocol version.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+OK`-style status line. Must not contain CR or LF.
    Status(Bytes),
    /// Error line, without the leading `-`: `"ERR syntax error"`, `"WRONGTYPE ..."`.
    Error(Bytes),
    Integer(i64),
    Bulk(Bytes),
    /// Null bulk string (`$-1` in RESP2, `_` in RESP3).
    Null,
    /// Null array (`*-1` in RESP2, `_` in RESP3).
    NullArray,
    Array(Vec<Reply>),
    /// RESP3 map; a flat array of alternating keys and values in RESP2.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 set; an array in RESP2.
    Set(Vec<Reply>),
    /// RESP3 double; a bulk string in RESP2.
    Double(f64),
    /// RESP3 boolean; the integer 1 or 0 in RESP2.
    Boolean(bool),
    /// RESP3 verbatim string with its three-letter format (`txt`); a bulk string in RESP2.
    Verbatim(&'static str, Bytes),
    /// RESP3 push message (pub/sub); an array in RESP2.
    Push(Vec<Reply>),
    /// Sorted-set members and scores, shaped per protocol as Redis does (see `scored.rs`).
    Scored(Box<ScoredList>),
}

impl Reply {
    pub fn ok() -> Reply {
        Reply::Status(Bytes::from_static(b"OK"))
    }

    pub fn status(text: &'static str) -> Reply {
        Reply::Status(Bytes::from_static(text.as_bytes()))
    }

    /// An error reply; `text` starts with its code (`ERR`, `WRONGTYPE`, ...).
    pub fn error(text: impl Into<String>) -> Reply {
        Reply::Error(Bytes::from(text.into()))
    }

    pub fn error_static(text: &'static str) -> Reply {
        Reply::Error(Bytes::from_static(text.as_bytes()))
    }

    pub fn bulk(data: impl Into<Bytes>) -> Reply {
        Reply::Bulk(data.into())
    }

    pub fn bulk_from_slice(data: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(data))
    }

    /// A bulk string holding the decimal text of `n`.
    pub fn bulk_integer(n: i64) -> Reply {
        Reply::Bulk(Bytes::from(n.to_string()))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// Appends the encoding of this reply for protocol version `protocol` (2 or 3) to `out`.
    pub fn encode(&self, out: &mut BytesMut, protocol: u8) {
        let resp3 = protocol >= 3;
        match self {
            Reply::Status(text) => {
                out.put_u8(b'+');
                out.put_slice(text);
                out.put_slice(b"\r\n");
            }
            Reply::Error(text) => {
                out.put_u8(b'-');
                // Error texts may quote what a client sent. Like Redis's addReplyErrorFormat,
                // turn CR and LF into spaces so the error stays one protocol line.
                let start = out.len();
                out.put_slice(text);
                for byte in &mut out[start..] {
                    if *byte == b'\r' || *byte == b'\n' {
                        *byte = b' ';
                    }
                }
                out.put_slice(b"\r\n");
            }
            Reply::Integer(n) => {
                out.put_u8(b':');
                put_decimal(out, *n);
                out.put_slice(b"\r\n");
            }
            Reply::Bulk(data) => put_bulk(out, data),
            Reply::Null => out.put_slice(if resp3 { b"_\r\n" } else { b"$-1\r\n" }),
            Reply::NullArray => out.put_slice(if resp3 { b"_\r\n" } else { b"*-1\r\n" }),
            Reply::Array(items) => put_aggregate(out, b'*', items, protocol),
            Reply::Set(items) => {
                put_aggregate(out, if resp3 { b'~' } else { b'*' }, items, protocol)
            }
            Reply::Push(items) => {
                put_aggregate(out, if resp3 { b'>' } else { b'*' }, items, protocol)
            }
            Reply::Map(pairs) => {
                if resp3 {
                    out.put_u8(b'%');
                    put_decimal(out, pairs.len() as i64);
                } else {
                    out.put_u8(b'*');
                    put_decimal(out, pairs.len() as i64 * 2);
                }
                out.put_slice(b"\r\n");
                for (key, value) in pairs {
                    key.encode(out, protocol);
                    value.encode(out, protocol);
                }
            }
            Reply::Double(value) => {
                let text = format_double(*value);
                if resp3 {
                    out.put_u8(b',');
                    out.put_slice(text.as_bytes());
                    out.put_slice(b"\r\n");
                } else {
                    put_bulk(out, text.as_bytes());
                }
            }
            Reply::Boolean(value) => {
                if resp3 {
                    out.put_slice(if *value { b"#t\r\n" } else { b"#f\r\n" });
                } else {
                    out.put_slice(if *value { b":1\r\n" } else { b":0\r\n" });
                }
            }
            Reply::Scored(list) => list.encode(out, protocol),
            Reply::Verbatim(format, data) => {
                if resp3 {
                    out.put_u8(b'=');
                    put_decimal(out, data.len() as i64 + 4);
                    out.put_slice(b"\r\n");
                    out.put_slice(format.as_bytes());
                    out.put_u8(b':');
                    out.put_slice(data);
                    out.put_slice(b"\r\n");
                } else {
                    put_bulk(out, data);
                }
            }
        }
    }
}

fn put_aggregate(out: &mut BytesMut, marker: u8, items: &[Reply], protocol: u8) {
    out.put_u8(marker);
    put_decimal(out, items.len() as i64);
    out.put_slice(b"\r\n");
    for item in items {
        item.encode(out, protocol);
    }
}

fn put_bulk(out: &mut BytesMut, data: &[u8]) {
    out.reserve(data.len() + 16);
    out.put_u8(b'$');
    put_decimal(out, data.len() as i64);
    out.put_slice(b"\r\n");
    out.put_slice(data);
    out.put_slice(b"\r\n");
}

/// Writes the decimal text of `n` without allocating.
pub fn put_decimal(out: &mut BytesMut, n: i64) {
    out.put_slice(decimal(n, &mut [0u8; 20]));
}

/// The decimal text of `n` (sign included), formatted into the end of `buf` without `fmt`.
pub fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    let mut pos = digits_into(n.unsigned_abs(), buf);
    if n < 0 {
        pos -= 1;
        buf[pos] = b'-';
    }
    &buf[pos..]
}

/// [`decimal`] for an unsigned number (all 20 digits of `u64::MAX` fit).
pub fn decimal_u64(n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let pos = digits_into(n, buf);
    &buf[pos..]
}

/// Writes the digits of `value` at the end of `buf`; returns where they start. `u64::MAX` has 20
/// digits and `i64::MIN`'s magnitude 19, so the sign of a negative `i64` still fits before them.
fn digits_into(mut value: u64, buf: &mut [u8; 20]) -> usize {
    let mut pos = buf.len();
    loop {
        pos -= 1;
        buf[pos] = b'0' + (value % 10) as u8;
        value /= 10;
        if value == 0 {
            return pos;
        }
    }
}

/// Formats a double the way Redis replies with one: `inf`, `-inf`, `nan`, integers without a
/// fraction, otherwise the shortest text that reads back to the same value (Redis uses `%.17g`,
/// which reads back identically; the shortest form is what RESP3 clients and INCRBYFLOAT show).
pub fn format_double(value: f64) -> String {
    if value.is_nan() {
        "nan".to_string()
    } else if value.is_infinite() {
        if value > 0.0 { "inf" } else { "-inf" }.to_string()
    } else if value == value.trunc() && value.abs() < 1e17 {
        format!("{}", value as i64)
    } else {
        format!("{}", value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(reply: &Reply, protocol: u8) -> Vec<u8> {
        let mut out = BytesMut::new();
        reply.encode(&mut out, protocol);
        out.to_vec()
    }

    #[test]
    fn decimals_at_the_edges() {
        for n in [0, 7, -7, 10, -10, i64::MAX, i64::MIN] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string().as_bytes());
        }
        for n in [0, 9, 10, 1_000_000_007, i64::MAX as u64 + 1, u64::MAX] {
            assert_eq!(decimal_u64(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }

    #[test]
    fn resp2_forms() {
        assert_eq!(encoded(&Reply::ok(), 2), b"+OK\r\n");
        assert_eq!(encoded(&Reply::error_static("ERR x"), 2), b"-ERR x\r\n");
        assert_eq!(
            encoded(&Reply::error("ERR 'a\r\nb'"), 2),
            b"-ERR 'a  b'\r\n"
        );
        assert_eq!(encoded(&Reply::Integer(-42), 2), b":-42\r\n");
        assert_eq!(
            encoded(&Reply::Integer(i64::MIN), 2),
            b":-9223372036854775808\r\n"
        );
        assert_eq!(encoded(&Reply::bulk("ab"), 2), b"$2\r\nab\r\n");
        assert_eq!(encoded(&Reply::Null, 2), b"$-1\r\n");
        assert_eq!(encoded(&Reply::NullArray, 2), b"*-1\r\n");
        assert_eq!(encoded(&Reply::Boolean(true), 2), b":1\r\n");
        assert_eq!(encoded(&Reply::Double(1.5), 2), b"$3\r\n1.5\r\n");
        let map = Reply::Map(vec![(Reply::bulk("a"), Reply::Integer(1))]);
        assert_eq!(encoded(&map, 2), b"*2\r\n$1\r\na\r\n:1\r\n");
    }

    #[test]
    fn resp3_forms() {
        assert_eq!(encoded(&Reply::Null, 3), b"_\r\n");
        assert_eq!(encoded(&Reply::Boolean(false), 3), b"#f\r\n");
        assert_eq!(encoded(&Reply::Double(2.0), 3), b",2\r\n");
        assert_eq!(encoded(&Reply::Double(f64::INFINITY), 3), b",inf\r\n");
        let map = Reply::Map(vec![(Reply::bulk("a"), Reply::Integer(1))]);
        assert_eq!(encoded(&map, 3), b"%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(
            encoded(&Reply::Set(vec![Reply::Integer(1)]), 3),
            b"~1\r\n:1\r\n"
        );
        assert_eq!(
            encoded(&Reply::Verbatim("txt", Bytes::from_static(b"hi")), 3),
            b"=6\r\ntxt:hi\r\n"
        );
    }
}
