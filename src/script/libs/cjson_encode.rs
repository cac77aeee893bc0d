//! `cjson.encode`: Lua values to JSON text, as lua-cjson 2.1.0 writes it (rules in `cjson`).
//!
//! The encoder walks nested tables with its own stack of open containers rather than recursion,
//! so a script that raises `encode_max_depth` cannot exhaust the Rust stack; it fails where the C
//! encoder's `lua_checkstack` would (Lua 5.1's 8000 slots per C call).

use mlua::{Table, Value};

use super::cjson::{Config, MAX_C_STACK};
use super::support::{format_g, lua_typename, Raised};

/// An array or object whose members are being written.
enum Open {
    Array { table: Table, length: i64, next: i64, depth: i64, slots: usize },
    Object { entries: Vec<(Value, Value)>, next: usize, depth: i64, slots: usize },
}

/// A value waiting to be written: the depth of its container and the C stack slots held.
struct Pending {
    value: Value,
    depth: i64,
    slots: usize,
}

/// `cjson.encode(value)`: the JSON text, or the message lua-cjson raises.
pub(crate) fn encode(config: &Config, value: &Value) -> mlua::Result<Raised<Vec<u8>>> {
    let mut out = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    // The C encoder holds the argument, then 2 slots per open object (key and value) and
    // 1 per open array (the element).
    let mut pending = Some(Pending { value: value.clone(), depth: 0, slots: 1 });
    loop {
        if let Some(Pending { value, depth, slots }) = pending.take() {
            let written = match value {
                Value::Table(table) => {
                    open_table(config, &mut out, table, depth + 1, slots)?.map(|frame| open.push(frame))
                }
                scalar => append_scalar(config, &mut out, &scalar),
            };
            if let Err(message) = written {
                return Ok(Err(message));
            }
        }
        let Some(top) = open.last_mut() else { break };
        match top {
            Open::Array { table, length, next, depth, slots } => {
                if *next > *length {
                    out.push(b']');
                    open.pop();
                    continue;
                }
                if *next > 1 {
                    out.push(b',');
                }
                let value: Value = table.raw_get(*next)?;
                *next += 1;
                pending = Some(Pending { value, depth: *depth, slots: *slots + 1 });
            }
            Open::Object { entries, next, depth, slots } => {
                let Some((key, value)) = entries.get(*next) else {
                    out.push(b'}');
                    open.pop();
                    continue;
                };
                if *next > 0 {
                    out.push(b',');
                }
                *next += 1;
                if let Err(message) = append_key(config, &mut out, key) {
                    return Ok(Err(message));
                }
                pending = Some(Pending { value: value.clone(), depth: *depth, slots: *slots + 2 });
            }
        }
    }
    Ok(Ok(out))
}

/// Starts writing a table: checks the depth, decides array or object, writes the bracket.
fn open_table(config: &Config, out: &mut Vec<u8>, table: Table, depth: i64, slots: usize) -> mlua::Result<Raised<Open>> {
    // json_check_encode_depth: the configured limit, or lua_checkstack(3) failing first.
    if depth > config.encode_max_depth || slots + 3 > MAX_C_STACK {
        return Ok(Err(format!("Cannot serialise, excessive nesting ({depth})")));
    }
    let entries: Vec<(Value, Value)> = table.pairs::<Value, Value>().collect::<mlua::Result<_>>()?;
    let length = match array_length(config, &entries) {
        Ok(length) => length,
        Err(message) => return Ok(Err(message)),
    };
    Ok(Ok(match length {
        Some(length) if length > 0 => {
            out.push(b'[');
            Open::Array { table, length, next: 1, depth, slots }
        }
        _ => {
            out.push(b'{');
            Open::Object { entries, next: 0, depth, slots }
        }
    }))
}

/// Everything but tables.
fn append_scalar(config: &Config, out: &mut Vec<u8>, value: &Value) -> Raised<()> {
    match value {
        Value::String(s) => append_string(out, &s.as_bytes()),
        Value::Integer(i) => return append_number(config, out, *i as f64),
        Value::Number(n) => return append_number(config, out, *n),
        Value::Boolean(true) => out.extend_from_slice(b"true"),
        Value::Boolean(false) => out.extend_from_slice(b"false"),
        Value::Nil => out.extend_from_slice(b"null"),
        Value::LightUserData(ud) if ud.0.is_null() => out.extend_from_slice(b"null"),
        other => return Err(format!("Cannot serialise {}: type not supported", lua_typename(other))),
    }
    Ok(())
}

/// An object key and its colon: strings as strings, numbers formatted and quoted.
fn append_key(config: &Config, out: &mut Vec<u8>, key: &Value) -> Raised<()> {
    let n = match key {
        Value::String(s) => {
            append_string(out, &s.as_bytes());
            out.push(b':');
            return Ok(());
        }
        Value::Integer(i) => *i as f64,
        Value::Number(n) => *n,
        other => {
            return Err(format!(
                "Cannot serialise {}: table key must be a number or string",
                lua_typename(other)
            ))
        }
    };
    out.push(b'"');
    append_number(config, out, n)?;
    out.extend_from_slice(b"\":");
    Ok(())
}

/// `lua_array_length`: `Some(max)` when every key is an integer >= 1 (and the table is not too
/// sparse), `None` for an object; an error for a too sparse array when conversion is off.
fn array_length(config: &Config, entries: &[(Value, Value)]) -> Raised<Option<i64>> {
    let mut max: i64 = 0;
    let mut items: i64 = 0;
    for (key, _) in entries {
        let k = match key {
            Value::Integer(i) => *i as f64,
            Value::Number(n) => *n,
            _ => return Ok(None),
        };
        if k == 0.0 || k.floor() != k || k < 1.0 {
            return Ok(None);
        }
        // The C code keeps the maximum in an int.
        max = max.max(k as i32 as i64);
        items += 1;
    }
    if config.encode_sparse_ratio > 0
        && max > items * config.encode_sparse_ratio
        && max > config.encode_sparse_safe
    {
        if !config.encode_sparse_convert {
            return Err("Cannot serialise table: excessively sparse array".to_string());
        }
        return Ok(None);
    }
    Ok(Some(max))
}

fn append_number(config: &Config, out: &mut Vec<u8>, n: f64) -> Raised<()> {
    if n.is_infinite() || n.is_nan() {
        match config.encode_invalid_numbers {
            0 => return Err("Cannot serialise number: must not be NaN or Inf".to_string()),
            1 if n.is_nan() => {
                out.extend_from_slice(b"nan");
                return Ok(());
            }
            1 => {}
            _ => {
                out.extend_from_slice(b"null");
                return Ok(());
            }
        }
    }
    let precision = config.encode_number_precision.clamp(1, 14) as usize;
    out.extend_from_slice(format_g(n, precision).as_bytes());
    Ok(())
}

/// lua-cjson's `char2escape` table.
fn append_string(out: &mut Vec<u8>, bytes: &[u8]) {
    out.push(b'"');
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'/' => out.extend_from_slice(b"\\/"),
            b'\x08' => out.extend_from_slice(b"\\b"),
            b'\t' => out.extend_from_slice(b"\\t"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\x0c' => out.extend_from_slice(b"\\f"),
            b'\r' => out.extend_from_slice(b"\\r"),
            0..=0x1f | 0x7f => out.extend_from_slice(format!("\\u{:04x}", b).as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

