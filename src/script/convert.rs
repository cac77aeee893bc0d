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

use std::os::raw::{c_char, c_int};

use bytes::{Bytes, BytesMut};
use mlua::ffi::{self, lua_State};

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

// The conversions work on the Lua stack through the C API, as Redis's do: going through mlua's
// `Value`s (a reference per value, a protected call per table access) cost more than the
// script itself for a small script (issue 6).
//
// Stack space: each function below uses at most 3 slots above what it was given and checks for
// more before it recurses (`lua_checkstack`), as Redis does.

/// Pushes `text` as a Lua string.
pub(super) unsafe fn push_bytes(state: *mut lua_State, text: &[u8]) {
    ffi::lua_pushlstring_(state, text.as_ptr() as *const c_char, text.len());
}

/// Pushes a table with one field `name` set to the value on top of the stack (`{ok=...}`,
/// `{err=...}`, ...), which it replaces.
unsafe fn tag_top(state: *mut lua_State, name: &[u8]) {
    ffi::lua_createtable(state, 0, 1);
    push_bytes(state, name);
    ffi::lua_pushvalue(state, -3);
    ffi::lua_rawset(state, -3);
    ffi::lua_replace(state, -2);
}

/// Pushes `{err=text}`: an error reply as a script sees it.
pub(super) unsafe fn push_error_table(state: *mut lua_State, text: &[u8]) {
    push_bytes(state, text);
    tag_top(state, b"err");
}

/// Pushes what `redis.call` returns for `reply`, for a script in protocol `resp` (2 or 3).
pub(super) unsafe fn push_call_result(state: *mut lua_State, reply: &Reply, resp: u8) {
    match reply {
        // The shapes every protocol reads alike go straight onto the stack; the others are
        // read as a client of the script's protocol reads them (see the module doc).
        Reply::Integer(n) => ffi::lua_pushnumber(state, *n as f64),
        Reply::Bulk(data) => push_bytes(state, data),
        Reply::Status(text) => {
            push_bytes(state, text);
            tag_top(state, b"ok");
        }
        // A RESP2 null is `false`; a RESP3 null (`_`) is nil.
        Reply::Null | Reply::NullArray if resp >= 3 => ffi::lua_pushnil(state),
        Reply::Null | Reply::NullArray => ffi::lua_pushboolean(state, 0),
        _ => push_resp(state, &as_client_reads(reply, resp)),
    }
}

unsafe fn push_resp(state: *mut lua_State, resp: &Resp) {
    if ffi::lua_checkstack(state, 4) == 0 {
        // Deeper than Lua's C stack allows: nothing any command replies.
        ffi::lua_pushboolean(state, 0);
        return;
    }
    match resp {
        Resp::Status(text) => {
            push_bytes(state, text);
            tag_top(state, b"ok");
        }
        Resp::Error(text) => push_error_table(state, text),
        Resp::Integer(n) => ffi::lua_pushnumber(state, *n as f64),
        Resp::Bulk(data) => push_bytes(state, data),
        // `parse` gives Null for RESP2's and RESP3's nulls alike; `push_call_result` makes a
        // top-level RESP3 null nil, as Redis does; nested ones stay false.
        Resp::Null => ffi::lua_pushboolean(state, 0),
        Resp::Array(items) => {
            ffi::lua_createtable(state, items.len().min(c_int::MAX as usize) as c_int, 0);
            for (i, item) in items.iter().enumerate() {
                push_resp(state, item);
                ffi::lua_rawseti_(state, -2, (i + 1) as c_int);
            }
        }
        Resp::Map(pairs) => {
            ffi::lua_createtable(state, 0, pairs.len().min(c_int::MAX as usize) as c_int);
            for (key, value) in pairs {
                push_resp(state, key);
                push_resp(state, value);
                ffi::lua_rawset(state, -3);
            }
            tag_top(state, b"map");
        }
        Resp::Set(items) => {
            ffi::lua_createtable(state, 0, items.len().min(c_int::MAX as usize) as c_int);
            for item in items {
                push_resp(state, item);
                ffi::lua_pushboolean(state, 1);
                ffi::lua_rawset(state, -3);
            }
            tag_top(state, b"set");
        }
        Resp::Double(value) => {
            ffi::lua_pushnumber(state, *value);
            tag_top(state, b"double");
        }
        Resp::Boolean(value) => ffi::lua_pushboolean(state, *value as c_int),
        Resp::BigNumber(text) => {
            push_bytes(state, text);
            tag_top(state, b"big_number");
        }
        Resp::Verbatim(format, text) => {
            ffi::lua_createtable(state, 0, 2);
            push_bytes(state, b"format");
            push_bytes(state, format);
            ffi::lua_rawset(state, -3);
            push_bytes(state, b"string");
            push_bytes(state, text);
            ffi::lua_rawset(state, -3);
            tag_top(state, b"verbatim_string");
        }
    }
}

/// The bytes of the string at `index` (which must be a string: `lua_tolstring` would turn a
/// number into one in place).
pub(super) unsafe fn string_at<'a>(state: *mut lua_State, index: c_int) -> &'a [u8] {
    let mut len = 0usize;
    let data = ffi::lua_tolstring(state, index, &mut len);
    if data.is_null() {
        return &[];
    }
    std::slice::from_raw_parts(data as *const u8, len)
}

/// Pushes `table[name]` (raw), `table` at the absolute `index`; returns its type.
pub(super) unsafe fn field(state: *mut lua_State, index: c_int, name: &[u8]) -> c_int {
    push_bytes(state, name);
    ffi::lua_rawget_(state, index);
    ffi::lua_type(state, -1)
}

/// `table[name]` as bytes when it is a string, `table` at the absolute `index`.
pub(super) unsafe fn string_field(
    state: *mut lua_State,
    index: c_int,
    name: &[u8],
) -> Option<Bytes> {
    let text = (field(state, index, name) == ffi::LUA_TSTRING)
        .then(|| Bytes::copy_from_slice(string_at(state, -1)));
    ffi::lua_pop(state, 1);
    text
}

/// Lua's number -> integer as Redis does it (a C cast: truncation towards zero).
fn truncate(n: f64) -> i64 {
    n as i64
}

/// The reply for a script's return value, the value at `index` of the stack; `resp` is the
/// script's `redis.setresp`.
pub(super) unsafe fn stack_to_reply(state: *mut lua_State, index: c_int, resp: u8) -> Reply {
    let index = if index < 0 {
        ffi::lua_gettop(state) + index + 1
    } else {
        index
    };
    match ffi::lua_type(state, index) {
        ffi::LUA_TSTRING => Reply::Bulk(Bytes::copy_from_slice(string_at(state, index))),
        ffi::LUA_TBOOLEAN => match ffi::lua_toboolean(state, index) != 0 {
            value if resp >= 3 => Reply::Boolean(value),
            true => Reply::Integer(1),
            false => Reply::Null,
        },
        ffi::LUA_TNUMBER => Reply::Integer(truncate(ffi::lua_tonumber(state, index))),
        ffi::LUA_TTABLE => table_to_reply(state, index, resp),
        _ => Reply::Null,
    }
}

unsafe fn table_to_reply(state: *mut lua_State, index: c_int, resp: u8) -> Reply {
    // Redis's luaReplyToRedisReply: a table too deep for the C stack is an error reply.
    if ffi::lua_checkstack(state, 4) == 0 {
        return Reply::error_static("ERR reached lua stack limit");
    }
    if let Some(text) = string_field(state, index, b"err") {
        return Reply::Error(text);
    }
    if let Some(text) = string_field(state, index, b"ok") {
        return Reply::Status(text);
    }
    if field(state, index, b"double") == ffi::LUA_TNUMBER {
        let n = ffi::lua_tonumber(state, -1);
        ffi::lua_pop(state, 1);
        return Reply::Double(n);
    }
    ffi::lua_pop(state, 1);
    if let Some(text) = string_field(state, index, b"big_number") {
        // No big-number reply type here: its RESP2 form, a bulk string.
        return Reply::Bulk(text);
    }
    for (name, is_map) in [(&b"map"[..], true), (&b"set"[..], false)] {
        if field(state, index, name) == ffi::LUA_TTABLE {
            let inner = ffi::lua_gettop(state);
            let mut pairs = Vec::new();
            ffi::lua_pushnil(state);
            while ffi::lua_next(state, inner) != 0 {
                let key = stack_to_reply(state, -2, resp);
                let value = is_map.then(|| stack_to_reply(state, -1, resp));
                pairs.push((key, value));
                ffi::lua_pop(state, 1);
            }
            ffi::lua_pop(state, 1);
            return if is_map {
                Reply::Map(
                    pairs
                        .into_iter()
                        .map(|(k, v)| (k, v.unwrap_or(Reply::Null)))
                        .collect(),
                )
            } else {
                Reply::Set(pairs.into_iter().map(|(k, _)| k).collect())
            };
        }
        ffi::lua_pop(state, 1);
    }
    let mut items = Vec::new();
    for i in 1..c_int::MAX {
        ffi::lua_rawgeti_(state, index, i);
        if ffi::lua_type(state, -1) == ffi::LUA_TNIL {
            ffi::lua_pop(state, 1);
            break;
        }
        items.push(stack_to_reply(state, -1, resp));
        ffi::lua_pop(state, 1);
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
    use mlua::{Lua, Value};

    fn eval(lua: &Lua, code: &str) -> Value {
        lua.load(code).eval().expect("lua evaluates")
    }

    /// What `redis.call` returns for `reply`.
    fn call_result(lua: &Lua, reply: &Reply, resp: u8) -> mlua::Result<Value> {
        // SAFETY: push_call_result pushes one value and keeps within the stack it checks.
        unsafe { lua.exec_raw::<Value>((), |state| push_call_result(state, reply, resp)) }
    }

    /// The reply for a script that returns `value`.
    fn lua_to_reply(lua: &Lua, value: Value, resp: u8) -> Reply {
        let mut reply = Reply::Null;
        // SAFETY: the value is the one argument on the stack; stack_to_reply only reads it.
        unsafe { lua.exec_raw::<()>(value, |state| reply = stack_to_reply(state, 1, resp)) }
            .expect("converts");
        reply
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
            assert_eq!(lua_to_reply(&lua, eval(&lua, code), 2), expected, "{code}");
        }
        assert_eq!(
            lua_to_reply(&lua, eval(&lua, "return true"), 3),
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
