//! `cmsgpack`: MessagePack for scripts, as lua-cmsgpack 0.4.0 encodes and decodes it.
//!
//! Encoding (`pack(v1, v2, ...)`, one message per argument, concatenated): numbers that are
//! integral and fit an int64 become the smallest MessagePack integer (unsigned forms for
//! non-negative values), others a float32 when that is exact, else a float64; strings are str (fixstr, str8,
//! str16, str32); a table whose keys are exactly the integers 1..n is an array (the empty table
//! too), any other table a map; tables nested 16 deep, and every other type (functions,
//! `cjson.null`, ...) become nil.
//!
//! Decoding (`unpack(s)` returns every value; `unpack_one(s [, offset])` and
//! `unpack_limit(s, limit [, offset])` return the next offset first, -1 at the end) accepts the
//! types lua-cmsgpack knows: bin and ext types are "Bad data format in input.". The decoder keeps
//! its own stack of open containers, so hostile nesting cannot exhaust the Rust stack; it stops
//! where the C code's `luaL_checkstack` would (Lua 5.1's 8000-slot limit per C call).

use mlua::{Lua, MultiValue, Table, Value};
use rmp::encode;
use rmp::Marker;

use super::support::{lib_function, number, without_position, Args, Raised};

/// lua-cmsgpack's `LUACMSGPACK_MAX_NESTING`: tables deeper than this encode as nil.
const MAX_NESTING: usize = 16;
/// Lua 5.1's `LUAI_MAXCSTACK`: the most stack slots one C function call may hold.
const MAX_C_STACK: usize = 8000;
/// mlua keeps every string and table held from Rust in a helper thread whose stack has the same
/// 8000-slot limit, shared with the rest of the state; past this many held at once (top-level
/// strings and tables, plus open containers) the decoder answers as the C stack check would.
const MAX_HELD_REFERENCES: usize = 6000;

const TOO_MANY_VALUES: &str =
    "stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)";

/// The `cmsgpack` table.
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.raw_set("pack", lib_function(lua, "pack", pack)?)?;
    table.raw_set(
        "unpack",
        lib_function(lua, "unpack", |lua, args| {
            Ok(args
                .check_bytes(lua, 1)
                .and_then(|s| unpack_full(lua, &s, 0, 0)))
        })?,
    )?;
    table.raw_set(
        "unpack_one",
        lib_function(lua, "unpack_one", |lua, args| {
            let run = || {
                let offset = args.opt_integer(lua, 2, 0)?;
                unpack_full(lua, &args.check_bytes(lua, 1)?, 1, offset)
            };
            Ok(run())
        })?,
    )?;
    table.raw_set(
        "unpack_limit",
        lib_function(lua, "unpack_limit", |lua, args| {
            let run = || {
                let limit = args.check_integer(lua, 2)?;
                let offset = args.opt_integer(lua, 3, 0)?;
                unpack_full(lua, &args.check_bytes(lua, 1)?, limit, offset)
            };
            Ok(run())
        })?,
    )?;
    table.raw_set("_NAME", "cmsgpack")?;
    table.raw_set("_VERSION", "lua-cmsgpack 0.4.0")?;
    table.raw_set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    table.raw_set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    Ok(table)
}

// ----- encoding -----

fn pack(_lua: &Lua, args: &Args) -> mlua::Result<Raised<MultiValue>> {
    if args.len() == 0 {
        return Ok(Err(args.arg_error(0, "MessagePack pack needs input.")));
    }
    let mut out = Vec::new();
    for index in 1..=args.len() {
        encode_value(&mut out, &args.value(index), 0)?;
    }
    let packed = _lua.create_string(out)?;
    Ok(Ok(MultiValue::from_vec(vec![Value::String(packed)])))
}

// Writes into a Vec cannot fail, so the encoders' results are ignored below.
fn encode_value(out: &mut Vec<u8>, value: &Value, level: usize) -> mlua::Result<()> {
    match value {
        Value::String(s) => {
            let bytes = s.as_bytes();
            let _ = encode::write_str_len(out, bytes.len() as u32);
            out.extend_from_slice(&bytes);
        }
        Value::Boolean(b) => {
            let _ = encode::write_bool(out, *b);
        }
        Value::Integer(i) => encode_number(out, *i as f64),
        Value::Number(n) => encode_number(out, *n),
        Value::Table(table) if level < MAX_NESTING => encode_table(out, table, level)?,
        _ => {
            let _ = encode::write_nil(out);
        }
    }
    Ok(())
}

fn encode_number(out: &mut Vec<u8>, n: f64) {
    // IS_INT64_EQUIVALENT: finite and unchanged by a round trip through int64.
    let as_int = n as i64;
    if n.is_finite() && as_int as f64 == n && n < 9_223_372_036_854_775_808.0 {
        let _ = encode::write_sint(out, as_int);
    } else if (n as f32) as f64 == n {
        let _ = encode::write_f32(out, n as f32);
    } else {
        let _ = encode::write_f64(out, n);
    }
}

fn encode_table(out: &mut Vec<u8>, table: &Table, level: usize) -> mlua::Result<()> {
    if table_is_an_array(table)? {
        // lua_objlen, then lua_gettable for 1..n (metamethods apply, as in the C code).
        let len = table.raw_len();
        let _ = encode::write_array_len(out, len as u32);
        for index in 1..=len {
            let value: Value = table.get(index)?;
            encode_value(out, &value, level + 1)?;
        }
    } else {
        let entries: Vec<(Value, Value)> =
            table.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
        let _ = encode::write_map_len(out, entries.len() as u32);
        for (key, value) in &entries {
            encode_value(out, key, level + 1)?;
            encode_value(out, value, level + 1)?;
        }
    }
    Ok(())
}

/// True when every key is a positive number equal to an int and the largest equals the count.
fn table_is_an_array(table: &Table) -> mlua::Result<bool> {
    let mut count: i64 = 0;
    let mut max: i64 = 0;
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        let n = match key {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(false),
        };
        // IS_INT_EQUIVALENT: the key survives a round trip through a C int.
        if n <= 0.0 || n > i32::MAX as f64 || (n as i32) as f64 != n {
            return Ok(false);
        }
        max = max.max(n as i64);
        count += 1;
    }
    Ok(max == count)
}

// ----- decoding -----

/// Why decoding stopped early, in lua-cmsgpack's words.
enum DecodeError {
    MissingBytes,
    BadFormat,
    Raise(String),
    Lua(mlua::Error),
}

impl From<mlua::Error> for DecodeError {
    fn from(e: mlua::Error) -> Self {
        DecodeError::Lua(e)
    }
}

/// `mp_unpack_full`: decode up to `limit` values from `offset` (both 0: everything, and no
/// offset in the results).
fn unpack_full(lua: &Lua, data: &[u8], limit: i64, offset: i64) -> Raised<MultiValue> {
    let decode_all = limit == 0 && offset == 0;
    if offset < 0 || limit < 0 {
        // The C code prints the input length where it means the limit; so does this.
        return Err(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32,
            data.len() as i32
        ));
    }
    if offset as u64 > data.len() as u64 {
        return Err(format!(
            "Start offset {} greater than input length {}.",
            offset as i32,
            data.len() as i32
        ));
    }
    let limit = if decode_all { i32::MAX as i64 } else { limit };
    let mut cursor = Cursor {
        data,
        at: offset as usize,
    };
    let mut values: Vec<Value> = Vec::new();
    let mut held = 0;
    while cursor.at < data.len() && (values.len() as i64) < limit {
        // The C code returns up to 7999 values; mlua's callback machinery needs some of those
        // slots (the wrapper's status, a preallocated error, rotations), so 7900 here.
        if values.len() + 100 >= MAX_C_STACK {
            return Err(TOO_MANY_VALUES.to_string());
        }
        // Slots already held in the C frame: the input string and the values decoded so far.
        match decode_one(lua, &mut cursor, 1 + values.len(), held) {
            Ok(value) => {
                held += matches!(value, Value::String(_) | Value::Table(_)) as usize;
                values.push(value);
            }
            Err(DecodeError::MissingBytes) => return Err("Missing bytes in input.".to_string()),
            Err(DecodeError::BadFormat) => return Err("Bad data format in input.".to_string()),
            Err(DecodeError::Raise(message)) => return Err(message),
            Err(DecodeError::Lua(e)) => return Err(e.to_string()),
        }
    }
    if !decode_all {
        let next = if cursor.at == data.len() {
            -1.0
        } else {
            cursor.at as f64
        };
        values.insert(0, number(next));
    }
    Ok(MultiValue::from_vec(values))
}

struct Cursor<'a> {
    data: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn take(&mut self, n: usize) -> Result<&[u8], DecodeError> {
        let end = self.at.checked_add(n).filter(|&end| end <= self.data.len());
        let end = end.ok_or(DecodeError::MissingBytes)?;
        let bytes = &self.data[self.at..end];
        self.at = end;
        Ok(bytes)
    }

    fn be(&mut self, n: usize) -> Result<u64, DecodeError> {
        Ok(self
            .take(n)?
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | b as u64))
    }
}

/// A container being filled.
struct Open {
    table: Table,
    remaining: u64,
    /// Arrays: the next index. Maps: unused.
    next_index: i64,
    is_map: bool,
    /// Maps: the key read, waiting for its value.
    key: Option<Value>,
}

/// What one marker turned out to be.
enum Item {
    Value(Value),
    Container { is_map: bool, len: u64 },
}

/// Decodes one complete value; `base_slots` is the C frame's stack use before it, `held` the
/// strings and tables already decoded and held.
fn decode_one(
    lua: &Lua,
    cursor: &mut Cursor,
    base_slots: usize,
    held: usize,
) -> Result<Value, DecodeError> {
    let mut open: Vec<Open> = Vec::new();
    loop {
        // Stack use in the C code at this mp_decode_to_lua_type call: 2 slots per open container
        // (the table, and the index or key), 1 only for a map awaiting its key.
        let slots = base_slots
            + open
                .iter()
                .map(|o| if o.is_map && o.key.is_none() { 1 } else { 2 })
                .sum::<usize>();
        if cursor.at >= cursor.data.len() {
            return Err(DecodeError::MissingBytes);
        }
        if slots + 1 > MAX_C_STACK || held + open.len() >= MAX_HELD_REFERENCES {
            return Err(DecodeError::Raise(TOO_MANY_VALUES.to_string()));
        }
        let mut done = match read_item(lua, cursor)? {
            Item::Value(value) => value,
            Item::Container { is_map, len } => {
                let table = lua.create_table()?;
                if !is_map && slots + 2 > MAX_C_STACK {
                    return Err(DecodeError::Raise(
                        "stack overflow (in function mp_decode_to_lua_array)".to_string(),
                    ));
                }
                if len > 0 {
                    open.push(Open {
                        table,
                        remaining: len,
                        next_index: 1,
                        is_map,
                        key: None,
                    });
                    continue;
                }
                Value::Table(table)
            }
        };
        // Deliver the finished value to its container, closing containers that are full.
        loop {
            let Some(top) = open.last_mut() else {
                return Ok(done);
            };
            if top.is_map {
                match top.key.take() {
                    None => {
                        top.key = Some(done);
                        break;
                    }
                    Some(key) => {
                        match &key {
                            Value::Nil => {
                                return Err(DecodeError::Raise(without_position(
                                    "table index is nil",
                                )))
                            }
                            Value::Number(n) if n.is_nan() => {
                                return Err(DecodeError::Raise(without_position(
                                    "table index is NaN",
                                )))
                            }
                            _ => {}
                        }
                        top.table.set(key, done)?;
                    }
                }
            } else {
                top.table.set(top.next_index, done)?;
                top.next_index += 1;
            }
            top.remaining -= 1;
            if top.remaining > 0 {
                break;
            }
            let Some(finished) = open.pop() else {
                return Err(DecodeError::BadFormat);
            };
            done = Value::Table(finished.table);
        }
    }
}

/// Reads one marker and, for scalars, the value it introduces.
fn read_item(lua: &Lua, cursor: &mut Cursor) -> Result<Item, DecodeError> {
    let first = cursor.take(1)?[0];
    let value = match Marker::from_u8(first) {
        Marker::FixPos(n) => number(n as f64),
        Marker::FixNeg(n) => number(n as f64),
        Marker::Null => Value::Nil,
        Marker::True => Value::Boolean(true),
        Marker::False => Value::Boolean(false),
        Marker::U8 => number(cursor.be(1)? as f64),
        Marker::U16 => number(cursor.be(2)? as f64),
        Marker::U32 => number(cursor.be(4)? as f64),
        // Pushed through a signed lua_Integer: values past 2^63 come out negative.
        Marker::U64 => number(cursor.be(8)? as i64 as f64),
        Marker::I8 => number(cursor.be(1)? as u8 as i8 as f64),
        Marker::I16 => number(cursor.be(2)? as u16 as i16 as f64),
        Marker::I32 => number(cursor.be(4)? as u32 as i32 as f64),
        Marker::I64 => number(cursor.be(8)? as i64 as f64),
        Marker::F32 => number(f32::from_bits(cursor.be(4)? as u32) as f64),
        Marker::F64 => number(f64::from_bits(cursor.be(8)?)),
        Marker::FixStr(len) => string(lua, cursor, len as u64)?,
        Marker::Str8 => {
            let len = cursor.be(1)?;
            string(lua, cursor, len)?
        }
        Marker::Str16 => {
            let len = cursor.be(2)?;
            string(lua, cursor, len)?
        }
        Marker::Str32 => {
            let len = cursor.be(4)?;
            string(lua, cursor, len)?
        }
        Marker::FixArray(len) => {
            return Ok(Item::Container {
                is_map: false,
                len: len as u64,
            })
        }
        Marker::Array16 => {
            return Ok(Item::Container {
                is_map: false,
                len: cursor.be(2)?,
            })
        }
        Marker::Array32 => {
            return Ok(Item::Container {
                is_map: false,
                len: cursor.be(4)?,
            })
        }
        Marker::FixMap(len) => {
            return Ok(Item::Container {
                is_map: true,
                len: len as u64,
            })
        }
        Marker::Map16 => {
            return Ok(Item::Container {
                is_map: true,
                len: cursor.be(2)?,
            })
        }
        Marker::Map32 => {
            return Ok(Item::Container {
                is_map: true,
                len: cursor.be(4)?,
            })
        }
        _ => return Err(DecodeError::BadFormat),
    };
    Ok(Item::Value(value))
}

fn string(lua: &Lua, cursor: &mut Cursor, len: u64) -> Result<Value, DecodeError> {
    let len = usize::try_from(len).map_err(|_| DecodeError::MissingBytes)?;
    let bytes = cursor.take(len)?;
    Ok(Value::String(lua.create_string(bytes)?))
}

#[cfg(test)]
mod tests {
    use crate::script::libs::test_support::{eval_bytes, eval_error, eval_string, lua_with_libs};

    #[test]
    fn pack_produces_redis_bytes() {
        let lua = lua_with_libs();
        let cases: &[(&str, &[u8])] = &[
            ("cmsgpack.pack(1)", &[0x01]),
            ("cmsgpack.pack(-1)", &[0xff]),
            ("cmsgpack.pack(-33)", &[0xd0, 0xdf]),
            ("cmsgpack.pack(200)", &[0xcc, 200]),
            ("cmsgpack.pack(65535)", &[0xcd, 0xff, 0xff]),
            ("cmsgpack.pack(65536)", &[0xce, 0, 1, 0, 0]),
            ("cmsgpack.pack(-40000)", &[0xd2, 0xff, 0xff, 0x63, 0xc0]),
            ("cmsgpack.pack(2^32)", &[0xcf, 0, 0, 0, 1, 0, 0, 0, 0]),
            (
                "cmsgpack.pack(-2^32)",
                &[0xd3, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0],
            ),
            ("cmsgpack.pack(1.5)", &[0xca, 0x3f, 0xc0, 0, 0]),
            (
                "cmsgpack.pack(0.1)",
                &[0xcb, 0x3f, 0xb9, 0x99, 0x99, 0x99, 0x99, 0x99, 0x9a],
            ),
            ("cmsgpack.pack(2^63)", &[0xca, 0x5f, 0, 0, 0]),
            ("cmsgpack.pack(1/0)", &[0xca, 0x7f, 0x80, 0, 0]),
            ("cmsgpack.pack('abc')", &[0xa3, b'a', b'b', b'c']),
            ("cmsgpack.pack(true, false, nil)", &[0xc3, 0xc2, 0xc0]),
            ("cmsgpack.pack({})", &[0x90]),
            ("cmsgpack.pack({1, 2})", &[0x92, 1, 2]),
            ("cmsgpack.pack({a = 1})", &[0x81, 0xa1, b'a', 1]),
            ("cmsgpack.pack({[2] = 1})", &[0x81, 2, 1]),
            (
                "cmsgpack.pack({[1.5] = 1})",
                &[0x81, 0xca, 0x3f, 0xc0, 0, 0, 1],
            ),
            ("cmsgpack.pack(print)", &[0xc0]),
            ("cmsgpack.pack(cjson.null)", &[0xc0]),
            ("cmsgpack.pack(string.rep('x', 32)):sub(1, 2)", &[0xd9, 32]),
            (
                "cmsgpack.pack(string.rep('x', 256)):sub(1, 3)",
                &[0xda, 1, 0],
            ),
            (
                "cmsgpack.pack(string.rep('x', 65536)):sub(1, 5)",
                &[0xdb, 0, 1, 0, 0],
            ),
        ];
        for (expr, expected) in cases {
            assert_eq!(
                eval_bytes(&lua, &format!("return {expr}")),
                *expected,
                "{expr}"
            );
        }
    }

    #[test]
    fn nesting_past_16_packs_nil() {
        let lua = lua_with_libs();
        let packed = eval_bytes(&lua, "local t = {} t[1] = t return cmsgpack.pack(t)");
        let mut expected = vec![0x91; 16];
        expected.push(0xc0);
        assert_eq!(packed, expected);
    }

    #[test]
    fn unpack_round_trips_and_matches_redis() {
        let lua = lua_with_libs();
        // Each chunk returns a string built from the decoded values.
        let cases: &[(&str, &str)] = &[
            (
                "return cjson.encode({cmsgpack.unpack(cmsgpack.pack(1, 'a', {1,2,{x=3}}))})",
                r#"[1,"a",[1,2,{"x":3}]]"#,
            ),
            (
                "return tostring(cmsgpack.unpack(cmsgpack.pack(-2^40)))",
                "-1099511627776",
            ),
            (
                "return tostring(cmsgpack.unpack(cmsgpack.pack(0.1)))",
                "0.1",
            ),
            (
                "return tostring(cmsgpack.unpack('\\207\\255\\255\\255\\255\\255\\255\\255\\255'))",
                "-1",
            ),
            ("return tostring(select('#', cmsgpack.unpack('')))", "0"),
            (
                "return cjson.encode({cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))})",
                "[1,1]",
            ),
            (
                "return cjson.encode({cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)})",
                "[-1,3]",
            ),
            (
                "return cjson.encode({cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)})",
                "[2,1,2]",
            ),
            (
                "return cjson.encode({cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)})",
                "[1,2,3]",
            ),
            (
                "return cjson.encode({cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)})",
                "[1]",
            ),
            (
                "return cjson.encode(cmsgpack.unpack('\\147\\1\\192\\3'))",
                "[1,null,3]",
            ),
            (
                "return cjson.encode(cmsgpack.unpack('\\130\\161a\\192\\161b\\2'))",
                r#"{"b":2}"#,
            ),
        ];
        for (chunk, expected) in cases {
            assert_eq!(eval_string(&lua, chunk), *expected, "{chunk}");
        }
    }

    #[test]
    fn unpack_errors_match_redis() {
        let lua = lua_with_libs();
        let cases: &[(&str, &str)] = &[
            (
                "cmsgpack.pack()",
                "bad argument #0 to 'pack' (MessagePack pack needs input.)",
            ),
            ("cmsgpack.unpack('\\146\\1')", "Missing bytes in input."),
            ("cmsgpack.unpack('\\196\\1x')", "Bad data format in input."),
            ("cmsgpack.unpack('\\193')", "Bad data format in input."),
            (
                "cmsgpack.unpack()",
                "bad argument #1 to 'unpack' (string expected, got no value)",
            ),
            (
                "cmsgpack.unpack_one('\\1', 5)",
                "Start offset 5 greater than input length 1.",
            ),
            (
                "cmsgpack.unpack_one('\\1\\2\\3', -1)",
                "Invalid request to unpack with offset of -1 and limit of 3.",
            ),
            (
                "cmsgpack.unpack_limit('\\1')",
                "bad argument #2 to 'unpack_limit' (number expected, got no value)",
            ),
            (
                "cmsgpack.unpack(string.rep('\\1', 9000))",
                super::TOO_MANY_VALUES,
            ),
            (
                "cmsgpack.unpack(string.rep('\\145', 100000))",
                "stack overflow (in function mp_decode_to_lua_array)",
            ),
        ];
        for (expr, expected) in cases {
            let error = eval_error(&lua, &format!("return {expr}"));
            assert_eq!(error, format!("user_script:1: {expected}"), "{expr}");
        }
        // Raised by lua_settable, not luaL_error: no position.
        assert_eq!(
            eval_error(&lua, "return cmsgpack.unpack('\\129\\192\\1')"),
            "table index is nil"
        );
    }

    #[test]
    fn unpack_limits_match_redis() {
        let lua = lua_with_libs();
        // Redis returns up to 7999 values; mlua's callbacks need some slots, leaving 7900.
        let most = "return tostring(select('#', cmsgpack.unpack(string.rep('\\1', 7900))))";
        assert_eq!(eval_string(&lua, most), "7900");
        let too_many = eval_error(&lua, "return cmsgpack.unpack(string.rep('\\1', 7901))");
        assert_eq!(
            too_many,
            format!("user_script:1: {}", super::TOO_MANY_VALUES)
        );
        // As in Redis: 3999 nested arrays decode, 4000 do not.
        let deepest = "local n = 0 for i = 3990, 4010 do \
                       if pcall(cmsgpack.unpack, string.rep('\\145', i) .. '\\1') then n = i end end \
                       return tostring(n)";
        assert_eq!(eval_string(&lua, deepest), "3999");
        // Strings are held as mlua references, which run out before the C stack would.
        let strings = eval_error(&lua, "return cmsgpack.unpack(string.rep('\\161x', 7000))");
        assert_eq!(
            strings,
            format!("user_script:1: {}", super::TOO_MANY_VALUES)
        );
    }
}
