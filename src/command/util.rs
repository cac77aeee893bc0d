//! Argument parsing and the error replies Redis uses for them.

use bytes::Bytes;

use crate::protocol::reply::Reply;

pub const ERR_SYNTAX: &str = "ERR syntax error";
pub const ERR_NOT_INTEGER: &str = "ERR value is not an integer or out of range";
pub const ERR_NOT_FLOAT: &str = "ERR value is not a valid float";
pub const ERR_WRONGTYPE: &str = "WRONGTYPE Operation against a key holding the wrong kind of value";
pub const ERR_NO_SUCH_KEY: &str = "ERR no such key";
pub const ERR_OVERFLOW: &str = "ERR increment or decrement would overflow";
pub const ERR_DB_INDEX: &str = "ERR DB index is out of range";

pub fn syntax_error() -> Reply {
    Reply::error_static(ERR_SYNTAX)
}

pub fn wrongtype_error() -> Reply {
    Reply::error_static(ERR_WRONGTYPE)
}

pub fn not_integer_error() -> Reply {
    Reply::error_static(ERR_NOT_INTEGER)
}

/// Parses a signed 64-bit integer with Redis's strictness (`string2ll`); the keyspace owns the
/// rule because it also decides which set members an intset can hold.
pub fn parse_i64(arg: &[u8]) -> Option<i64> {
    crate::keyspace::intset::parse_integer(arg)
}

/// `n` in decimal, as INCR stores it: without `fmt`, in one allocation of the exact size
/// (`to_string` then `Bytes::from` took two and showed in INCR's profile).
pub fn integer_text(n: i64) -> Bytes {
    Bytes::copy_from_slice(crate::protocol::reply::decimal(n, &mut [0u8; 20]))
}

/// Parses an integer argument or returns Redis's "not an integer" error reply.
pub fn integer_arg(arg: &Bytes) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(not_integer_error)
}

/// Parses a float the way Redis's `string2ld`/`strtold` accepts it: no spaces, not empty,
/// `inf`/`-inf` accepted, NaN refused.
pub fn parse_f64(arg: &[u8]) -> Option<f64> {
    let text = std::str::from_utf8(arg).ok()?;
    if text.is_empty()
        || text.starts_with(char::is_whitespace)
        || text.ends_with(char::is_whitespace)
    {
        return None;
    }
    let value: f64 = match text.to_ascii_lowercase().as_str() {
        "inf" | "+inf" | "infinity" | "+infinity" => f64::INFINITY,
        "-inf" | "-infinity" => f64::NEG_INFINITY,
        _ => text.parse().ok()?,
    };
    if value.is_nan() {
        None
    } else {
        Some(value)
    }
}

/// Case-insensitive comparison of an argument with an ASCII option name.
pub fn eq_ignore_case(arg: &[u8], option: &str) -> bool {
    arg.eq_ignore_ascii_case(option.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_as_redis_reads_them() {
        assert_eq!(parse_i64(b"0"), Some(0));
        assert_eq!(parse_i64(b"-12"), Some(-12));
        assert_eq!(parse_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_i64(b"-9223372036854775808"), Some(i64::MIN));
        assert_eq!(parse_i64(b"9223372036854775808"), None);
        for bad in [
            &b""[..],
            b"+1",
            b" 1",
            b"1 ",
            b"01",
            b"-0",
            b"1.0",
            b"abc",
            b"-",
        ] {
            assert_eq!(parse_i64(bad), None, "{:?}", bad);
        }
    }

    #[test]
    fn integer_text_matches_to_string() {
        for n in [
            0,
            7,
            -7,
            10,
            -10,
            99,
            1_000_000,
            i64::MAX,
            i64::MIN,
            i64::MIN + 1,
        ] {
            assert_eq!(integer_text(n), Bytes::from(n.to_string()), "{n}");
            assert_eq!(parse_i64(&integer_text(n)), Some(n));
        }
    }

    #[test]
    fn floats_as_redis_reads_them() {
        assert_eq!(parse_f64(b"1.5"), Some(1.5));
        assert_eq!(parse_f64(b"-inf"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_f64(b"5e3"), Some(5000.0));
        assert_eq!(parse_f64(b"nan"), None);
        assert_eq!(parse_f64(b" 1"), None);
        assert_eq!(parse_f64(b""), None);
    }
}
