//! Redis's conversions between replies and Lua values, both ways (Redis 7's `script_lua.c`).
//!
//! Reply -> Lua (what `redis.call` returns), with `redis.setresp(2)` (the default): integer ->
//! number, bulk -> string, null -> false, array -> table, status -> `{ok=...}`, error ->
//! `{err=...}`. With `redis.setresp(3)` also: null -> nil, map -> `{map={...}}`, set ->
//! `{set={member=true}}`, double -> `{double=n}`, boolean -> true/false, verbatim ->
//! `{verbatim_string={format=..., string=...}}`.
//!
//! A reply is first encoded in the script's protocol and read back as a [`Resp`] tree: that
//! degrades RESP3-only shapes (and the sorted-set families' `Scored` replies) exactly as a client
//! of that protocol would see them, with no second copy of the degradation rules.
//!
//! Lua -> reply (what a script returns): number -> integer (truncated), string -> bulk, table ->
//! array up to the first nil, `{ok=}` -> status, `{err=}` -> error, `{double=}`, `{map=}`,
//! `{set=}` -> RESP3 shapes, true -> 1 (RESP2 scripts) or true, false/nil -> null.

use bytes::{Bytes, BytesMut};
use mlua::{Lua, Table, Value};

use crate::protocol::reply::Reply;

/// A reply as the client of one protocol version reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Resp {
    Status(Bytes),
    Error(Bytes),
    Integer(i64),
    Bulk(Bytes),
    Null,
    Array(Vec<Resp>),
    Map(Vec<(Resp, Resp)>),
    Set(Vec<Resp>),
    Double(f64),
    Boolean(bool),
    BigNumber(Bytes),
    Verbatim(Bytes, Bytes),
}

/// `reply` as a client speaking `protocol` reads it.
pub fn as_client_reads(reply: &Reply, protocol: u8) -> Resp {
    let mut out = BytesMut::new();
    reply.encode(&mut out, protocol);
    let mut pos = 0;
    parse(&out, &mut pos).unwrap_or(Resp::Error(Bytes::from_static(b"ERR bad reply")))
}

fn line<'a>(buf: &'a [u8], pos: &mut usize) -> Option<&'a [u8]> {
    let start = *pos;
    let end = start + buf[start..].windows(2).position(|w| w == b"\r\n")?;
    *pos = end + 2;
    Some(&buf[start..end])
}

fn number(text: &[u8]) -> Option<i64> {
    std::str::from_utf8(text).ok()?.parse().ok()
}

fn parse(buf: &[u8], pos: &mut usize) -> Option<Resp> {
    let kind = *buf.get(*pos)?;
    *pos += 1;
    let head = line(buf, pos)?;
    let text = || Bytes::copy_from_slice(head);
    let items = |buf: &[u8], pos: &mut usize, n: i64| -> Option<Vec<Resp>> {
        (0..n.max(0)).map(|_| parse(buf, pos)).collect()
    };
    Some(match kind {
        b'+' => Resp::Status(text()),
        b'-' => Resp::Error(text()),
        b':' => Resp::Integer(number(head)?),
        b'_' => Resp::Null,
        b'#' => Resp::Boolean(head == b"t"),
        b',' => Resp::Double(std::str::from_utf8(head).ok()?.parse().ok()?),
        b'(' => Resp::BigNumber(text()),
        b'$' | b'=' => {
            let len = number(head)?;
            if len < 0 {
                return Some(Resp::Null);
            }
            let data = buf.get(*pos..*pos + len as usize)?;
            *pos += len as usize + 2;
            if kind == b'=' && data.len() >= 4 {
                Resp::Verbatim(
                    Bytes::copy_from_slice(&data[..3]),
                    Bytes::copy_from_slice(&data[4..]),
                )
            } else {
                Resp::Bulk(Bytes::copy_from_slice(data))
            }
        }
        b'*' | b'>' => {
            let n = number(head)?;
            if n < 0 {
                return Some(Resp::Null);
            }
            Resp::Array(items(buf, pos, n)?)
        }
        b'~' => Resp::Set(items(buf, pos, number(head)?)?),
        b'%' => {
            let flat = items(buf, pos, number(head)? * 2)?;
            let mut pairs = Vec::with_capacity(flat.len() / 2);
            let mut flat = flat.into_iter();
            while let (Some(key), Some(value)) = (flat.next(), flat.next()) {
                pairs.push((key, value));
            }
            Resp::Map(pairs)
        }
        _ => return None,
    })
}

/// A table with one field `name` set to `value` (`{ok=...}`, `{err=...}`, ...).
fn tagged(lua: &Lua, name: &str, value: impl mlua::IntoLua) -> mlua::Result<Value> {
    let table = lua.create_table()?;
    table.raw_set(name, value)?;
    Ok(Value::Table(table))
}

/// What `redis.call` returns for `reply`, for a script in protocol `resp` (2 or 3).
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp: u8) -> mlua::Result<Value> {
    resp_to_lua(lua, &as_client_reads(reply, resp))
}

fn resp_to_lua(lua: &Lua, resp: &Resp) -> mlua::Result<Value> {
    Ok(match resp {
        Resp::Status(text) => tagged(lua, "ok", lua.create_string(text)?)?,
        Resp::Error(text) => tagged(lua, "err", lua.create_string(text)?)?,
        Resp::Integer(n) => Value::Number(*n as f64),
        Resp::Bulk(data) => Value::String(lua.create_string(data)?),
        // A RESP2 null is `false`; a RESP3 null (`_`) is nil. `parse` gives Null for both, and
        // only RESP3 encodes `_`, so the caller's protocol decides (see `null_value`).
        Resp::Null => Value::Boolean(false),
        Resp::Array(items) => {
            let table = lua.create_table_with_capacity(items.len(), 0)?;
            for (i, item) in items.iter().enumerate() {
                table.raw_set(i + 1, resp_to_lua(lua, item)?)?;
            }
            Value::Table(table)
        }
        Resp::Map(pairs) => {
            let map = lua.create_table()?;
            for (key, value) in pairs {
                map.raw_set(resp_to_lua(lua, key)?, resp_to_lua(lua, value)?)?;
            }
            tagged(lua, "map", map)?
        }
        Resp::Set(items) => {
            let set = lua.create_table()?;
            for item in items {
                set.raw_set(resp_to_lua(lua, item)?, true)?;
            }
            tagged(lua, "set", set)?
        }
        Resp::Double(value) => tagged(lua, "double", *value)?,
        Resp::Boolean(value) => Value::Boolean(*value),
        Resp::BigNumber(text) => tagged(lua, "big_number", lua.create_string(text)?)?,
        Resp::Verbatim(format, text) => {
            let inner = lua.create_table()?;
            inner.raw_set("format", lua.create_string(format)?)?;
            inner.raw_set("string", lua.create_string(text)?)?;
            tagged(lua, "verbatim_string", inner)?
        }
    })
}

/// [`reply_to_lua`], with RESP3's null as Lua nil.
pub fn call_result(lua: &Lua, reply: &Reply, resp: u8) -> mlua::Result<Value> {
    if resp >= 3 && matches!(reply, Reply::Null | Reply::NullArray) {
        return Ok(Value::Nil);
    }
    reply_to_lua(lua, reply, resp)
}

fn lua_number(value: &Value) -> Option<f64> {
    match value {
        Value::Integer(n) => Some(*n as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// Lua's number -> integer as Redis does it (a C cast: truncation towards zero).
fn truncate(n: f64) -> i64 {
    n as i64
}

/// The reply for a script's return value `value`; `resp` is the script's `redis.setresp`.
pub fn lua_to_reply(value: &Value, resp: u8) -> Reply {
    match value {
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Boolean(true) if resp >= 3 => Reply::Boolean(true),
        Value::Boolean(false) if resp >= 3 => Reply::Boolean(false),
        Value::Boolean(true) => Reply::Integer(1),
        Value::Integer(_) | Value::Number(_) => {
            Reply::Integer(truncate(lua_number(value).unwrap_or(0.0)))
        }
        Value::Table(table) => table_to_reply(table, resp),
        _ => Reply::Null,
    }
}

fn string_field(table: &Table, name: &str) -> Option<Bytes> {
    match table.raw_get::<Value>(name).ok()? {
        Value::String(s) => Some(Bytes::copy_from_slice(&s.as_bytes())),
        _ => None,
    }
}

fn table_to_reply(table: &Table, resp: u8) -> Reply {
    if let Some(text) = string_field(table, "err") {
        return Reply::Error(text);
    }
    if let Some(text) = string_field(table, "ok") {
        return Reply::Status(text);
    }
    if let Ok(value) = table.raw_get::<Value>("double") {
        if let Some(n) = lua_number(&value) {
            return Reply::Double(n);
        }
    }
    if let Some(text) = string_field(table, "big_number") {
        // No big-number reply type here: its RESP2 form, a bulk string.
        return Reply::Bulk(text);
    }
    if let Ok(Value::Table(map)) = table.raw_get::<Value>("map") {
        let pairs = map
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, v)| (lua_to_reply(&k, resp), lua_to_reply(&v, resp)))
            .collect();
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(set)) = table.raw_get::<Value>("set") {
        let members = set
            .pairs::<Value, Value>()
            .filter_map(Result::ok)
            .map(|(k, _)| lua_to_reply(&k, resp))
            .collect();
        return Reply::Set(members);
    }
    let mut items = Vec::new();
    for i in 1.. {
        match table.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(value) => items.push(lua_to_reply(&value, resp)),
        }
    }
    Reply::Array(items)
}

/// A number passed to `redis.call`, as Redis 7 writes it: `%.17g` (Lua's own `%.14g` loses
/// precision).
pub fn number_argument(n: f64) -> String {
    if n.is_nan() {
        return "nan".into();
    }
    if n.is_infinite() {
        return if n > 0.0 { "inf" } else { "-inf" }.into();
    }
    if n == n.trunc() && n.abs() < 1e17 {
        return format!("{}", n as i64);
    }
    // %.17g: 17 significant digits, exponent form when exp < -4 or exp >= 17, zeros trimmed.
    let scientific = format!("{:.16e}", n);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    let trim = |s: &str| -> String {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s.to_string()
        }
    };
    if !(-4..17).contains(&exponent) {
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{}e{}{:02}", trim(mantissa), sign, exponent.abs())
    } else {
        let decimals = (16 - exponent).max(0) as usize;
        trim(&format!("{:.*}", decimals, n))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::scored::{PairShape, ScoredList};

    fn eval(lua: &Lua, code: &str) -> Value {
        lua.load(code).eval().expect("lua evaluates")
    }

    #[test]
    fn replies_become_lua_values() {
        let lua = Lua::new();
        let globals = lua.globals();
        let cases: Vec<(Reply, &str)> = vec![
            (Reply::Integer(42), "return v == 42"),
            (Reply::bulk_from_slice(b"hi"), "return v == 'hi'"),
            (Reply::Null, "return v == false"),
            (Reply::NullArray, "return v == false"),
            (Reply::ok(), "return v.ok == 'OK'"),
            (Reply::error_static("ERR bad"), "return v.err == 'ERR bad'"),
            (
                Reply::Array(vec![
                    Reply::Integer(1),
                    Reply::bulk_from_slice(b"a"),
                    Reply::Null,
                ]),
                "return #v == 3 and v[1] == 1 and v[2] == 'a' and v[3] == false",
            ),
            // RESP2 scripts see RESP3 shapes degraded: a map is a flat array, a double a string.
            (
                Reply::Map(vec![(Reply::bulk_from_slice(b"k"), Reply::Integer(1))]),
                "return v[1] == 'k' and v[2] == 1",
            ),
            (Reply::Double(1.5), "return v == '1.5'"),
            (Reply::Boolean(true), "return v == 1"),
        ];
        for (reply, check) in cases {
            globals
                .set("v", call_result(&lua, &reply, 2).expect("converts"))
                .expect("set");
            assert_eq!(
                eval(&lua, check),
                Value::Boolean(true),
                "{reply:?}: {check}"
            );
        }
    }

    #[test]
    fn resp3_replies_become_lua_values() {
        let lua = Lua::new();
        let globals = lua.globals();
        let cases: Vec<(Reply, &str)> = vec![
            (Reply::Null, "return v == nil"),
            (Reply::Double(2.5), "return v.double == 2.5"),
            (Reply::Boolean(false), "return v == false"),
            (
                Reply::Map(vec![(Reply::bulk_from_slice(b"k"), Reply::Integer(1))]),
                "return v.map.k == 1",
            ),
            (
                Reply::Set(vec![Reply::bulk_from_slice(b"m")]),
                "return v.set.m == true",
            ),
        ];
        for (reply, check) in cases {
            globals
                .set("v", call_result(&lua, &reply, 3).expect("converts"))
                .expect("set");
            assert_eq!(
                eval(&lua, check),
                Value::Boolean(true),
                "{reply:?}: {check}"
            );
        }
    }

    #[test]
    fn scored_replies_follow_the_protocol() {
        let lua = Lua::new();
        let mut list = ScoredList::new(true, PairShape::Flat);
        list.push(b"a", 1.0);
        let value = call_result(&lua, &Reply::Scored(Box::new(list)), 2).expect("converts");
        lua.globals().set("v", value).expect("set");
        assert_eq!(
            eval(&lua, "return v[1] == 'a' and v[2] == '1'"),
            Value::Boolean(true)
        );
    }

    #[test]
    fn lua_values_become_replies() {
        let lua = Lua::new();
        let cases: Vec<(&str, Reply)> = vec![
            ("return 3.99", Reply::Integer(3)),
            ("return -3.99", Reply::Integer(-3)),
            ("return 'x'", Reply::bulk_from_slice(b"x")),
            ("return true", Reply::Integer(1)),
            ("return false", Reply::Null),
            ("return nil", Reply::Null),
            ("return {ok='fine'}", Reply::status("fine")),
            ("return {err='MY bad'}", Reply::error_static("MY bad")),
            (
                "return {1, 'a', nil, 3}",
                Reply::Array(vec![Reply::Integer(1), Reply::bulk_from_slice(b"a")]),
            ),
            (
                "return {1, {2, {err='E x'}}}",
                Reply::Array(vec![
                    Reply::Integer(1),
                    Reply::Array(vec![Reply::Integer(2), Reply::error_static("E x")]),
                ]),
            ),
            ("return {double=1.5}", Reply::Double(1.5)),
        ];
        for (code, expected) in cases {
            assert_eq!(lua_to_reply(&eval(&lua, code), 2), expected, "{code}");
        }
        assert_eq!(
            lua_to_reply(&eval(&lua, "return true"), 3),
            Reply::Boolean(true)
        );
    }

    #[test]
    fn numbers_as_arguments_keep_their_precision() {
        assert_eq!(number_argument(3.0), "3");
        assert_eq!(number_argument(-7.0), "-7");
        assert_eq!(number_argument(0.1), "0.10000000000000001");
        assert_eq!(number_argument(1.5), "1.5");
        assert_eq!(number_argument(1e20), "1e+20");
        assert_eq!(number_argument(1.5e-7), "1.4999999999999999e-07");
    }
}
