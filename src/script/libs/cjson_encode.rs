//! `cjson.encode`: Lua values to JSON text, as lua-cjson 2.1.0 writes it (rules in `cjson`).
//!
//! The encoder walks nested tables with its own stack of open containers rather than recursion,
//! and reads each object one entry at a time (`lua_next`, as the C code), so it holds only a few
//! Lua references per level: nothing a script builds can exhaust the Rust stack or mlua's
//! reference slots. Depth is limited by `encode_max_depth` and never past `NESTING_CEILING`.

use mlua::{Function, Table, Value};

use super::cjson::{Config, NESTING_CEILING};
use super::support::{format_g, lua_typename, Raised};

/// An array or object whose members are being written.
enum Open {
    Array {
        table: Table,
        length: i64,
        next: i64,
        depth: i64,
    },
    /// `key`: the last key written (nil before the first).
    Object {
        table: Table,
        key: Value,
        first: bool,
        depth: i64,
    },
}

/// A value waiting to be written, and the depth of its container.
struct Pending {
    value: Value,
    depth: i64,
}

/// `cjson.encode(value)`: the JSON text, or the message lua-cjson raises. `next` is
/// `support::raw_next_function`.
pub(crate) fn encode(
    config: &Config,
    next: &Function,
    value: &Value,
) -> mlua::Result<Raised<Vec<u8>>> {
    let mut out = Vec::new();
    let mut open: Vec<Open> = Vec::new();
    let mut pending = Some(Pending {
        value: value.clone(),
        depth: 0,
    });
    loop {
        if let Some(Pending { value, depth }) = pending.take() {
            let written = match value {
                Value::Table(table) => {
                    open_table(config, &mut out, table, depth + 1)?.map(|frame| open.push(frame))
                }
                scalar => append_scalar(config, &mut out, &scalar),
            };
            if let Err(message) = written {
                return Ok(Err(message));
            }
        }
        let Some(top) = open.last_mut() else { break };
        match top {
            Open::Array {
                table,
                length,
                next,
                depth,
            } => {
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
                pending = Some(Pending {
                    value,
                    depth: *depth,
                });
            }
            Open::Object {
                table,
                key,
                first,
                depth,
            } => {
                let (next_key, value): (Value, Value) = next.call((table.clone(), key.clone()))?;
                if next_key.is_nil() {
                    out.push(b'}');
                    open.pop();
                    continue;
                }
                if !*first {
                    out.push(b',');
                }
                *first = false;
                if let Err(message) = append_key(config, &mut out, &next_key) {
                    return Ok(Err(message));
                }
                *key = next_key;
                pending = Some(Pending {
                    value,
                    depth: *depth,
                });
            }
        }
    }
    Ok(Ok(out))
}

/// Starts writing a table: checks the depth, decides array or object, writes the bracket.
fn open_table(
    config: &Config,
    out: &mut Vec<u8>,
    table: Table,
    depth: i64,
) -> mlua::Result<Raised<Open>> {
    // json_check_encode_depth. (The C code's lua_checkstack would stop it near 8000 levels when
    // the setting is raised that far; the ceiling here stops it sooner.)
    if depth > config.encode_max_depth.min(NESTING_CEILING) {
        return Ok(Err(format!(
            "Cannot serialise, excessive nesting ({depth})"
        )));
    }
    let length = match array_length(config, &table)? {
        Ok(length) => length,
        Err(message) => return Ok(Err(message)),
    };
    Ok(Ok(match length {
        Some(length) if length > 0 => {
            out.push(b'[');
            Open::Array {
                table,
                length,
                next: 1,
                depth,
            }
        }
        _ => {
            out.push(b'{');
            Open::Object {
                table,
                key: Value::Nil,
                first: true,
                depth,
            }
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
        other => {
            return Err(format!(
                "Cannot serialise {}: type not supported",
                lua_typename(other)
            ))
        }
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
fn array_length(config: &Config, table: &Table) -> mlua::Result<Raised<Option<i64>>> {
    let mut max: i64 = 0;
    let mut items: i64 = 0;
    for pair in table.pairs::<Value, Value>() {
        let (key, _) = pair?;
        let k = match key {
            Value::Integer(i) => i as f64,
            Value::Number(n) => n,
            _ => return Ok(Ok(None)),
        };
        if k == 0.0 || k.floor() != k || k < 1.0 {
            return Ok(Ok(None));
        }
        // The C code keeps the maximum in an int, converted as x86 does (out of range: INT_MIN),
        // so a huge key can make the table an object.
        if k > max as f64 {
            max = x86_double_to_int(k) as i64;
        }
        items += 1;
    }
    if config.encode_sparse_ratio > 0
        && max > items * config.encode_sparse_ratio
        && max > config.encode_sparse_safe
    {
        if !config.encode_sparse_convert {
            return Ok(Err(
                "Cannot serialise table: excessively sparse array".to_string()
            ));
        }
        return Ok(Ok(None));
    }
    Ok(Ok(Some(max)))
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

/// C's `(int)d` on x86-64 (cvttsd2si): truncation, and INT_MIN for NaN or out of range.
fn x86_double_to_int(d: f64) -> i32 {
    if d.is_nan() || d >= 2_147_483_648.0 || d <= -2_147_483_649.0 {
        i32::MIN
    } else {
        d as i32
    }
}
