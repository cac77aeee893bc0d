//! `cjson`: JSON for scripts, as lua-cjson 2.1.0 (the copy Redis 7 bundles) encodes it, plus
//! the module table and its settings. Decoding lives in `cjson_decode`.
//!
//! Encoding rules: strings are written byte for byte with `"`, `\`, `/`, control characters and
//! DEL escaped (other bytes, UTF-8 or not, pass through); numbers as `%.14g` (the precision is a
//! setting); a table is an array when every key is a positive integer and it is not "excessively
//! sparse" (see `encode_sparse_array`), written 1..max with holes as `null`; any other table,
//! the empty one included, is an object whose keys must be strings or numbers; nil and
//! `cjson.null` are `null`; other types are errors. Objects keep Lua's `next` order.
//!
//! These are hand-written rather than serde_json: lua-cjson's output and errors (the escaping of
//! `/`, byte-transparent strings, `%.14g`, hex/inf/nan input, offsets in messages) are what
//! scripts depend on, and no JSON crate reproduces them.

use std::cell::RefCell;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::support::{lib_function, raw_next_function, Args, Raised};
use super::{cjson_decode, cjson_encode};

/// Lua 5.1's `LUAI_MAXCSTACK`: `lua_checkstack` refuses to grow one C call's frame past it.
pub(crate) const MAX_C_STACK: usize = 8000;

/// The deepest nesting encode and decode follow, whatever `encode_max_depth`/`decode_max_depth`
/// say (their default is this). Redis lets a script raise them until Lua's C stack stops it
/// (~8000 levels); here each level holds mlua references, which share one 8000-slot stack.
pub(crate) const NESTING_CEILING: i64 = 1000;

/// One cjson module's settings (`cjson.new()` makes a module with its own).
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub encode_sparse_convert: bool,
    pub encode_sparse_ratio: i64,
    pub encode_sparse_safe: i64,
    pub encode_max_depth: i64,
    /// 0: error, 1: write `inf`/`nan`, 2: write `null`.
    pub encode_invalid_numbers: u8,
    pub encode_number_precision: i64,
    pub encode_keep_buffer: bool,
    pub decode_invalid_numbers: bool,
    pub decode_max_depth: i64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            encode_sparse_convert: false,
            encode_sparse_ratio: 2,
            encode_sparse_safe: 10,
            encode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: true,
            decode_invalid_numbers: true,
            decode_max_depth: 1000,
        }
    }
}

type Shared = Rc<RefCell<Config>>;

/// The `cjson` table, with fresh default settings.
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let config: Shared = Rc::new(RefCell::new(Config::default()));
    let table = lua.create_table()?;
    let c = config.clone();
    let next = raw_next_function(lua)?;
    table.raw_set(
        "encode",
        lib_function(lua, "encode", move |lua, args| {
            if args.len() != 1 {
                return Ok(Err(args.arg_error(1, "expected 1 argument")));
            }
            let config = c.borrow().clone();
            Ok(
                match cjson_encode::encode(&config, &next, &args.value(1))? {
                    Ok(json) => Ok(MultiValue::from_vec(vec![Value::String(
                        lua.create_string(json)?,
                    )])),
                    Err(message) => Err(message),
                },
            )
        })?,
    )?;
    let c = config.clone();
    table.raw_set(
        "decode",
        lib_function(lua, "decode", move |lua, args| {
            if args.len() != 1 {
                return Ok(Err(args.arg_error(1, "expected 1 argument")));
            }
            let text = match args.check_bytes(lua, 1) {
                Ok(text) => text,
                Err(message) => return Ok(Err(message)),
            };
            let config = c.borrow().clone();
            Ok(cjson_decode::decode(lua, &config, &text)
                .map(|value| MultiValue::from_vec(vec![value])))
        })?,
    )?;
    register_settings(lua, &table, &config)?;
    table.raw_set(
        "new",
        lib_function(lua, "new", |lua, _| {
            Ok(Ok(MultiValue::from_vec(vec![Value::Table(create(lua)?)])))
        })?,
    )?;
    table.raw_set(
        "null",
        Value::LightUserData(LightUserData(std::ptr::null_mut())),
    )?;
    table.raw_set("_NAME", "cjson")?;
    table.raw_set("_VERSION", "2.1.0")?;
    Ok(table)
}

/// The setting functions: each takes optional new values and returns the current ones.
fn register_settings(lua: &Lua, table: &Table, config: &Shared) -> mlua::Result<()> {
    let c = config.clone();
    table.raw_set(
        "encode_sparse_array",
        lib_function(lua, "encode_sparse_array", move |lua, args| {
            let mut cfg = c.borrow_mut();
            let run = |cfg: &mut Config| -> Raised<MultiValue> {
                check_arg_count(args, 3)?;
                let convert = bool_option(lua, args, 1, cfg.encode_sparse_convert)?;
                cfg.encode_sparse_convert = convert;
                let ratio =
                    integer_option(lua, args, 2, cfg.encode_sparse_ratio, 0, i32::MAX as i64)?;
                cfg.encode_sparse_ratio = ratio;
                let safe =
                    integer_option(lua, args, 3, cfg.encode_sparse_safe, 0, i32::MAX as i64)?;
                cfg.encode_sparse_safe = safe;
                Ok(MultiValue::from_vec(vec![
                    Value::Boolean(convert),
                    Value::Integer(ratio),
                    Value::Integer(safe),
                ]))
            };
            Ok(run(&mut cfg))
        })?,
    )?;
    integer_setting(
        lua,
        table,
        config,
        "encode_max_depth",
        1,
        i32::MAX as i64,
        |c| &mut c.encode_max_depth,
    )?;
    integer_setting(
        lua,
        table,
        config,
        "decode_max_depth",
        1,
        i32::MAX as i64,
        |c| &mut c.decode_max_depth,
    )?;
    integer_setting(lua, table, config, "encode_number_precision", 1, 14, |c| {
        &mut c.encode_number_precision
    })?;
    bool_setting(lua, table, config, "encode_keep_buffer", |c| {
        &mut c.encode_keep_buffer
    })?;
    bool_setting(lua, table, config, "decode_invalid_numbers", |c| {
        &mut c.decode_invalid_numbers
    })?;
    let c = config.clone();
    table.raw_set(
        "encode_invalid_numbers",
        lib_function(lua, "encode_invalid_numbers", move |lua, args| {
            let mut cfg = c.borrow_mut();
            let run = |cfg: &mut Config| -> Raised<MultiValue> {
                check_arg_count(args, 1)?;
                if !args.is_none_or_nil(1) {
                    cfg.encode_invalid_numbers = match args.get(1) {
                        Some(Value::Boolean(b)) => *b as u8,
                        _ => checkoption(lua, args, 1, &["off", "on", "null"])? as u8,
                    };
                }
                Ok(MultiValue::from_vec(vec![
                    match cfg.encode_invalid_numbers {
                        0 => Value::Boolean(false),
                        1 => Value::Boolean(true),
                        _ => Value::String(lua.create_string("null").map_err(|e| e.to_string())?),
                    },
                ]))
            };
            Ok(run(&mut cfg))
        })?,
    )?;
    Ok(())
}

fn integer_setting(
    lua: &Lua,
    table: &Table,
    config: &Shared,
    name: &'static str,
    min: i64,
    max: i64,
    field: fn(&mut Config) -> &mut i64,
) -> mlua::Result<()> {
    let c = config.clone();
    let f = lib_function(lua, name, move |lua, args| {
        let mut cfg = c.borrow_mut();
        let slot = field(&mut cfg);
        let mut run = || -> Raised<MultiValue> {
            check_arg_count(args, 1)?;
            *slot = integer_option(lua, args, 1, *slot, min, max)?;
            Ok(MultiValue::from_vec(vec![Value::Integer(*slot)]))
        };
        Ok(run())
    })?;
    table.raw_set(name, f)
}

fn bool_setting(
    lua: &Lua,
    table: &Table,
    config: &Shared,
    name: &'static str,
    field: fn(&mut Config) -> &mut bool,
) -> mlua::Result<()> {
    let c = config.clone();
    let f = lib_function(lua, name, move |lua, args| {
        let mut cfg = c.borrow_mut();
        let slot = field(&mut cfg);
        let mut run = || -> Raised<MultiValue> {
            check_arg_count(args, 1)?;
            *slot = bool_option(lua, args, 1, *slot)?;
            Ok(MultiValue::from_vec(vec![Value::Boolean(*slot)]))
        };
        Ok(run())
    })?;
    table.raw_set(name, f)
}

/// `json_arg_init`: no more than `max` arguments.
fn check_arg_count(args: &Args, max: usize) -> Raised<()> {
    if args.len() > max {
        return Err(args.arg_error(max + 1, "found too many arguments"));
    }
    Ok(())
}

/// `json_integer_option`: nil keeps `current`; the range error always names argument 1.
fn integer_option(
    lua: &Lua,
    args: &Args,
    index: usize,
    current: i64,
    min: i64,
    max: i64,
) -> Raised<i64> {
    if args.is_none_or_nil(index) {
        return Ok(current);
    }
    let value = args.check_integer(lua, index)? as i32 as i64;
    if value < min || value > max {
        return Err(args.arg_error(1, &format!("expected integer between {min} and {max}")));
    }
    Ok(value)
}

/// `json_enum_option` with the default `off`/`on` options: a boolean or one of those words.
fn bool_option(lua: &Lua, args: &Args, index: usize, current: bool) -> Raised<bool> {
    match args.get(index) {
        None | Some(Value::Nil) => Ok(current),
        Some(Value::Boolean(b)) => Ok(*b),
        Some(_) => Ok(checkoption(lua, args, index, &["off", "on"])? == 1),
    }
}

/// `luaL_checkoption` without a default.
fn checkoption(lua: &Lua, args: &Args, index: usize, options: &[&str]) -> Raised<usize> {
    let name = args.check_bytes(lua, index)?;
    options
        .iter()
        .position(|o| o.as_bytes() == name.as_slice())
        .ok_or_else(|| {
            args.arg_error(
                index,
                &format!("invalid option '{}'", String::from_utf8_lossy(&name)),
            )
        })
}

#[cfg(test)]
mod tests {
    use crate::script::libs::test_support::{eval_error, eval_string, lua_with_libs};

    #[test]
    fn encode_matches_redis() {
        let lua = lua_with_libs();
        // Expected: `redis-cli eval "return cjson.encode(<expr>)" 0` on redis-server 7.0.
        let cases: &[(&str, &str)] = &[
            ("{a=1}", r#"{"a":1}"#),
            ("{1,2,3}", "[1,2,3]"),
            ("{}", "{}"),
            ("'x/y\"z\\\\'", r#""x\/y\"z\\""#),
            (
                "'\\1\\8\\9\\10\\12\\13\\31\\127\\128'",
                "\"\\u0001\\b\\t\\n\\f\\r\\u001f\\u007f\u{fffd}\"",
            ),
            ("0.1", "0.1"),
            ("1/3", "0.33333333333333"),
            ("1e14", "1e+14"),
            ("-0.5", "-0.5"),
            ("12345678901234", "12345678901234"),
            ("true", "true"),
            ("nil", "null"),
            ("cjson.null", "null"),
            ("{1, nil, 3}", "[1,null,3]"),
            ("{[1]=1, [3]=3}", "[1,null,3]"),
            (
                "{[10]=1}",
                "[null,null,null,null,null,null,null,null,null,1]",
            ),
            ("{[1.5]=1}", r#"{"1.5":1}"#),
            ("{[0]=1}", r#"{"0":1}"#),
            ("{[-1]=1}", r#"{"-1":1}"#),
            ("{{}, {{}}}", "[{},[{}]]"),
            ("{a={b={c={}}}}", r#"{"a":{"b":{"c":{}}}}"#),
            ("{'a', x=1}", r#"{"1":"a","x":1}"#),
            ("{[2^31]=1}", r#"{"2147483648":1}"#),
            ("{[1e10]=1, [1]=2}", "[2]"),
        ];
        for (expr, expected) in cases {
            assert_eq!(
                eval_string(&lua, &format!("return cjson.encode({expr})")),
                *expected,
                "{expr}"
            );
        }
    }

    #[test]
    fn encode_errors_match_redis() {
        let lua = lua_with_libs();
        let cases: &[(&str, &str)] = &[
            (
                "cjson.encode(print)",
                "Cannot serialise function: type not supported",
            ),
            (
                "cjson.encode({[true]=1})",
                "Cannot serialise boolean: table key must be a number or string",
            ),
            (
                "cjson.encode(1/0)",
                "Cannot serialise number: must not be NaN or Inf",
            ),
            (
                "cjson.encode({[20]=1, [1]=1})",
                "Cannot serialise table: excessively sparse array",
            ),
            (
                "cjson.encode()",
                "bad argument #1 to 'encode' (expected 1 argument)",
            ),
            (
                "cjson.encode(1, 2)",
                "bad argument #1 to 'encode' (expected 1 argument)",
            ),
            (
                "local t = {} t[1] = t return cjson.encode(t)",
                "Cannot serialise, excessive nesting (1001)",
            ),
            // Redis: 7998 (Lua's C stack); here the nesting ceiling, 1000.
            (
                "cjson.encode_max_depth(100000) local t = {} t[1] = t return cjson.encode(t)",
                "Cannot serialise, excessive nesting (1001)",
            ),
            (
                "cjson.encode_max_depth(0)",
                "bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)",
            ),
            (
                "cjson.encode_max_depth(1, 2)",
                "bad argument #2 to 'encode_max_depth' (found too many arguments)",
            ),
            (
                "cjson.encode_keep_buffer('x')",
                "bad argument #1 to 'encode_keep_buffer' (invalid option 'x')",
            ),
        ];
        for (chunk, expected) in cases {
            let chunk = if chunk.contains("return") {
                chunk.to_string()
            } else {
                format!("return {chunk}")
            };
            assert_eq!(
                eval_error(&lua, &chunk),
                format!("user_script:1: {expected}"),
                "{chunk}"
            );
        }
    }

    #[test]
    fn settings_return_current_values_like_redis() {
        let lua = lua_with_libs();
        let cases: &[(&str, &str)] = &[
            ("tostring(cjson.encode_max_depth())", "1000"),
            ("tostring(cjson.decode_max_depth(5))", "5"),
            ("tostring(cjson.encode_number_precision())", "14"),
            ("tostring(cjson.encode_keep_buffer())", "true"),
            ("tostring(cjson.encode_keep_buffer('off'))", "false"),
            ("tostring(cjson.encode_invalid_numbers())", "false"),
            ("tostring(cjson.encode_invalid_numbers('null'))", "null"),
            ("tostring(cjson.decode_invalid_numbers())", "true"),
            (
                "table.concat({tostring(cjson.encode_sparse_array())}, ' ')",
                "false",
            ),
            ("cjson._NAME .. ' ' .. cjson._VERSION", "cjson 2.1.0"),
            ("tostring(cjson.null == cjson.decode('null'))", "true"),
        ];
        for (expr, expected) in cases {
            assert_eq!(
                eval_string(&lua, &format!("return {expr}")),
                *expected,
                "{expr}"
            );
        }
        let sparse = eval_string(
            &lua,
            "local a, b, c = cjson.encode_sparse_array() return tostring(a)..' '..b..' '..c",
        );
        assert_eq!(sparse, "false 2 10");
    }

    #[test]
    fn settings_change_encoding() {
        let lua = lua_with_libs();
        let cases: &[(&str, &str)] = &[
            (
                "cjson.encode_number_precision(3) return cjson.encode(3.14159)",
                "3.14",
            ),
            (
                "cjson.encode_invalid_numbers(true) return cjson.encode({1/0, -1/0})",
                "[inf,-inf]",
            ),
            (
                "cjson.encode_invalid_numbers('null') return cjson.encode(0/0)",
                "null",
            ),
            (
                "cjson.encode_sparse_array(true) return cjson.encode({[20]=1})",
                r#"{"20":1}"#,
            ),
            (
                "cjson.encode_sparse_array(false, 0) return cjson.encode({[12]=1})",
                "[null,null,null,null,null,null,null,null,null,null,null,1]",
            ),
            (
                "local j = cjson.new() j.encode_number_precision(2) \
              return j.encode(1.234) .. cjson.encode(1.234)",
                "1.21.234",
            ),
        ];
        for (chunk, expected) in cases {
            let lua = lua_with_libs();
            assert_eq!(eval_string(&lua, chunk), *expected, "{chunk}");
        }
        drop(lua);
    }
}
