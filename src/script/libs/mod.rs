//! The Lua libraries Redis bundles for scripts, as Rust functions registered into an
//! `mlua::Lua` state: `cjson` (lua-cjson 2.1.0), `cmsgpack` (lua-cmsgpack 0.4.0), `bit`
//! (LuaBitOp 1.0.2) and `struct` (Roberto Ierusalimschy's struct, as patched by Redis).
//!
//! Each library matches its C original as Redis 7 ships it: the same results, the same
//! encodings byte for byte, and the same error messages, raised as plain Lua strings (see
//! `support`). `string`, `table` and `math` are Lua's own standard libraries; the engine opens
//! those, this module adds only the four globals.

pub mod bit;
pub mod cjson;
mod cjson_decode;
mod cjson_encode;
pub mod cmsgpack;
pub mod lua_struct;
mod support;

use mlua::Lua;

/// Sets the globals `cjson`, `cmsgpack`, `bit` and `struct` in `lua`.
pub fn register_all(lua: &Lua) -> mlua::Result<()> {
    let globals = lua.globals();
    globals.set("cjson", cjson::create(lua)?)?;
    globals.set("cmsgpack", cmsgpack::create(lua)?)?;
    globals.set("bit", bit::create(lua)?)?;
    globals.set("struct", lua_struct::create(lua)?)?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Evaluating expressions in a state with the libraries, for the table-driven tests.

    use mlua::{Lua, Value};

    pub fn lua_with_libs() -> Lua {
        let lua = Lua::new();
        super::register_all(&lua).expect("register libraries");
        lua
    }

    /// Runs `chunk`, which must return a string; panics with the error otherwise.
    pub fn eval_string(lua: &Lua, chunk: &str) -> String {
        match lua.load(chunk).eval::<Value>() {
            Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            other => panic!("{chunk}: expected a string, got {other:?}"),
        }
    }

    /// Runs `chunk`, which must return a string; the raw bytes.
    pub fn eval_bytes(lua: &Lua, chunk: &str) -> Vec<u8> {
        match lua.load(chunk).eval::<Value>() {
            Ok(Value::String(s)) => s.as_bytes().to_vec(),
            other => panic!("{chunk}: expected a string, got {other:?}"),
        }
    }

    /// Runs `chunk` (named `user_script`, as Redis names scripts) under pcall and returns the
    /// error, which must be a plain string: `user_script:1: ` and the message for errors a
    /// library raises with `luaL_error`, exactly what a Redis script's pcall sees.
    pub fn eval_error(lua: &Lua, chunk: &str) -> String {
        let wrapped = format!("return select(2, pcall(function() {chunk} end))");
        match lua
            .load(wrapped.as_str())
            .set_name("=user_script")
            .eval::<Value>()
        {
            Ok(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
            other => panic!("{chunk}: expected a string error, got {other:?}"),
        }
    }

    #[test]
    fn register_all_sets_the_four_globals() {
        let lua = lua_with_libs();
        let kinds = eval_string(
            &lua,
            "return type(cjson)..type(cmsgpack)..type(bit)..type(struct)",
        );
        assert_eq!(kinds, "tabletabletabletable");
    }
}

#[cfg(test)]
mod redis_outputs {
    //! Every snippet in `testdata/redis7_outputs.txt`, run here, must give what redis-server 7.0
    //! gave for it, byte for byte.

    use mlua::Value;

    const FIXTURE: &str = include_str!("testdata/redis7_outputs.txt");

    /// The fixture's escaping: printable ASCII as is, backslash doubled, other bytes as \xNN.
    fn escape(bytes: &[u8]) -> String {
        let mut out = String::new();
        for &b in bytes {
            match b {
                b'\\' => out.push_str("\\\\"),
                0x20..=0x7e => out.push(b as char),
                _ => out.push_str(&format!("\\x{b:02x}")),
            }
        }
        out
    }

    #[test]
    fn snippets_give_what_redis_gave() {
        let records: Vec<&str> = FIXTURE
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .collect();
        assert!(records.len() > 150, "fixture has {} lines", records.len());
        for pair in records.chunks(2) {
            let [chunk, expected] = pair else {
                panic!("odd record count")
            };
            let lua = super::test_support::lua_with_libs();
            let wrapped = format!(
                "local function HEX(s) return (s:gsub('.', function(c) \
                 return string.format('%02x', c:byte()) end)) end \
                 local ok, r = pcall(function() {chunk} end) \
                 return (ok and 'OK:' or 'ERR:') .. tostring(r)"
            );
            let got = match lua
                .load(wrapped.as_str())
                .set_name("=user_script")
                .eval::<Value>()
            {
                Ok(Value::String(s)) => escape(&s.as_bytes()),
                other => panic!("{chunk}: {other:?}"),
            };
            assert_eq!(got, *expected, "{chunk}");
        }
    }
}
