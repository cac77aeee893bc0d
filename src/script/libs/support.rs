//! What every library function shares: how it raises an error the way a C library function does,
//! and the lauxlib-style argument checks whose messages scripts see.
//!
//! Redis's libraries are C functions that fail with `luaL_error`: the script sees a plain string
//! (no position, since a C frame has no line) and an error handler looking up the stack finds a
//! frame of kind "C". An mlua callback that returns `Err` instead raises a userdata, which
//! `pcall(cjson.decode, s)` in a script would see as the error value. So each library function is
//! a plain Rust function returning `Raised<MultiValue>`, and [`lib_function`] wraps it in a small C
//! closure ([`trampoline`]) that calls it and, when it answers `Err(message)`, raises `message`
//! as a Lua string with `lua_error`, prefixed like `luaL_error` with the caller's position
//! (`user_script:1: ...`) unless the message came from [`without_position`] (errors the Lua core
//! raises, such as "table index is nil"). Internal failures (out of memory) stay mlua errors.

use std::os::raw::c_int;

use mlua::{ffi, Function, Lua, MultiValue, Value};

/// A library function's own outcome: the values it returns, or the message of the Lua error it
/// raises (exactly what `luaL_error` would have raised).
pub(crate) type Raised<T> = Result<T, String>;

/// Marks an error message that the Lua core, not `luaL_error`, raises: no position prefix.
pub(crate) fn without_position(message: &str) -> String {
    format!("{NO_POSITION}{message}")
}

const NO_POSITION: char = '\0';

/// The arguments of one call, with the function's name for `bad argument #n to 'name'` messages.
pub(crate) struct Args {
    name: &'static str,
    values: MultiValue,
}

impl Args {
    pub(crate) fn new(name: &'static str, values: MultiValue) -> Args {
        Args { name, values }
    }

    /// How many arguments were passed (`lua_gettop`).
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// Argument `index` (1-based), `None` when absent.
    pub(crate) fn get(&self, index: usize) -> Option<&Value> {
        index.checked_sub(1).and_then(|i| self.values.get(i))
    }

    /// Argument `index`, nil when absent.
    pub(crate) fn value(&self, index: usize) -> Value {
        self.get(index).cloned().unwrap_or(Value::Nil)
    }

    /// True when argument `index` is absent or nil (`lua_isnoneornil`).
    pub(crate) fn is_none_or_nil(&self, index: usize) -> bool {
        matches!(self.get(index), None | Some(Value::Nil))
    }

    /// `luaL_argerror`: `bad argument #index to 'name' (message)`.
    pub(crate) fn arg_error(&self, index: usize, message: &str) -> String {
        format!("bad argument #{index} to '{}' ({message})", self.name)
    }

    /// `luaL_typerror`: `bad argument #index to 'name' (expected expected, got type)`.
    pub(crate) fn type_error(&self, index: usize, expected: &str) -> String {
        let got = self.get(index).map_or("no value", lua_typename);
        self.arg_error(index, &format!("{expected} expected, got {got}"))
    }

    /// `lua_tonumber`: numbers, and strings that read as numbers.
    pub(crate) fn to_number(&self, lua: &Lua, index: usize) -> Option<f64> {
        match self.get(index)? {
            Value::Integer(i) => Some(*i as f64),
            Value::Number(n) => Some(*n),
            value @ Value::String(_) => lua.coerce_number(value.clone()).ok().flatten(),
            _ => None,
        }
    }

    /// `luaL_checknumber`.
    pub(crate) fn check_number(&self, lua: &Lua, index: usize) -> Raised<f64> {
        self.to_number(lua, index)
            .ok_or_else(|| self.type_error(index, "number"))
    }

    /// `luaL_checkinteger`: a number truncated toward zero, as Lua 5.1 does on x86-64.
    pub(crate) fn check_integer(&self, lua: &Lua, index: usize) -> Raised<i64> {
        self.check_number(lua, index).map(|n| n as i64)
    }

    /// `luaL_optinteger`.
    pub(crate) fn opt_integer(&self, lua: &Lua, index: usize, default: i64) -> Raised<i64> {
        if self.is_none_or_nil(index) {
            Ok(default)
        } else {
            self.check_integer(lua, index)
        }
    }

    /// `luaL_checklstring`: strings, and numbers converted to their string form.
    pub(crate) fn check_bytes(&self, lua: &Lua, index: usize) -> Raised<Vec<u8>> {
        match self.get(index) {
            Some(Value::String(s)) => Ok(s.as_bytes().to_vec()),
            Some(value @ (Value::Integer(_) | Value::Number(_))) => lua
                .coerce_string(value.clone())
                .ok()
                .flatten()
                .map(|s| s.as_bytes().to_vec())
                .ok_or_else(|| self.type_error(index, "string")),
            _ => Err(self.type_error(index, "string")),
        }
    }
}

/// Lua 5.1's `lua_typename` for a value: light userdata is plain "userdata".
pub(crate) fn lua_typename(value: &Value) -> &'static str {
    match value {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::LightUserData(_) | Value::UserData(_) => "userdata",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        _ => "userdata",
    }
}

/// A Lua number value from an `f64` (Lua 5.1 has only doubles; mlua shows integral ones as
/// `Value::Integer`, which pushes back as the same double).
pub(crate) fn number(n: f64) -> Value {
    Value::Number(n)
}

/// Registers `body` as a Lua function named `name` (the name is only for argument errors) that
/// raises `Err(message)` as a plain Lua string error, like a C library function.
pub(crate) fn lib_function<F>(lua: &Lua, name: &'static str, body: F) -> mlua::Result<Function>
where
    F: Fn(&Lua, &Args) -> mlua::Result<Raised<MultiValue>> + 'static,
{
    let raw = lua.create_function(move |lua, values: MultiValue| {
        let args = Args::new(name, values);
        let mut out = MultiValue::new();
        match body(lua, &args)? {
            Ok(values) => {
                out.push_back(Value::Boolean(true));
                out.extend(values);
            }
            Err(message) => match message.strip_prefix(NO_POSITION) {
                Some(bare) => {
                    out.push_back(Value::Nil);
                    out.push_back(Value::String(lua.create_string(bare)?));
                }
                None => {
                    out.push_back(Value::Boolean(false));
                    out.push_back(Value::String(lua.create_string(message)?));
                }
            },
        }
        Ok(out)
    })?;
    // SAFETY: exec_raw runs the closure in protected mode with `raw` pushed on the stack;
    // lua_pushcclosure pops it as the closure's one upvalue and leaves the closure as the result.
    unsafe {
        lua.exec_raw(raw, |state| {
            ffi::lua_pushcclosure(state, trampoline, 1);
        })
    }
}

/// The C closure around a library function: calls upvalue 1 (the mlua callback) with all the
/// arguments; its first result says how it went: true, the rest are the results; false, the
/// second is an error message to raise with the caller's position (as `luaL_error` does: level 1
/// is the function that called this one); nil, a message to raise as it is. No Rust value with a
/// destructor lives in this frame, so `lua_error`'s longjmp out of it is sound.
unsafe extern "C-unwind" fn trampoline(state: *mut ffi::lua_State) -> c_int {
    let nargs = ffi::lua_gettop(state);
    ffi::lua_pushvalue(state, ffi::lua_upvalueindex(1));
    ffi::lua_insert(state, 1);
    ffi::lua_call(state, nargs, ffi::LUA_MULTRET);
    let nresults = ffi::lua_gettop(state);
    if nresults > 0 && ffi::lua_toboolean(state, 1) != 0 {
        return nresults - 1;
    }
    let with_position = nresults > 0 && ffi::lua_isnil(state, 1) == 0;
    ffi::lua_settop(state, 2);
    if with_position {
        ffi::luaL_where(state, 1);
        ffi::lua_insert(state, 2);
        ffi::lua_concat(state, 2);
    }
    ffi::lua_error(state)
}

/// A C function with `lua_next`'s contract (`next(t, k)` without the base library's checks),
/// so encoders can walk a table one entry at a time without holding all its entries.
pub(crate) fn raw_next_function(lua: &Lua) -> mlua::Result<Function> {
    unsafe extern "C-unwind" fn raw_next(state: *mut ffi::lua_State) -> c_int {
        ffi::lua_settop(state, 2);
        if ffi::lua_next(state, 1) != 0 {
            2
        } else {
            ffi::lua_pushnil(state);
            1
        }
    }
    // SAFETY: raw_next only calls lua_next on its own arguments; mlua calls it protected, so a
    // bad key's error comes back as an mlua error.
    unsafe { lua.create_c_function(raw_next) }
}

/// Formats `n` as C's `printf("%.{precision}g", n)` does (glibc): the number lua-cjson writes.
pub(crate) fn format_g(n: f64, precision: usize) -> String {
    if n.is_nan() {
        return if n.is_sign_negative() { "-nan" } else { "nan" }.to_string();
    }
    if n.is_infinite() {
        return if n < 0.0 { "-inf" } else { "inf" }.to_string();
    }
    let precision = precision.max(1);
    if n == 0.0 {
        return if n.is_sign_negative() { "-0" } else { "0" }.to_string();
    }
    // The exponent after rounding to `precision` significant digits decides the style.
    let scientific = format!("{:.*e}", precision - 1, n);
    let (mantissa, exponent) = scientific.split_once('e').unwrap_or((&scientific, "0"));
    let exponent: i32 = exponent.parse().unwrap_or(0);
    if exponent < -4 || exponent >= precision as i32 {
        let mantissa = strip_fraction_zeros(mantissa);
        let sign = if exponent < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exponent.unsigned_abs())
    } else {
        let decimals = (precision as i32 - 1 - exponent).max(0) as usize;
        strip_fraction_zeros(&format!("{n:.decimals$}")).to_string()
    }
}

/// `%g` drops trailing zeros of the fraction, and the point when nothing is left after it.
fn strip_fraction_zeros(text: &str) -> &str {
    if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.')
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_g_matches_printf() {
        let cases: &[(f64, usize, &str)] = &[
            (1.0, 14, "1"),
            (0.5, 14, "0.5"),
            (-2.25, 14, "-2.25"),
            (0.1, 14, "0.1"),
            (1.0 / 3.0, 14, "0.33333333333333"),
            (1e14, 14, "1e+14"),
            (12345678901234.0, 14, "12345678901234"),
            (123456789012345.0, 14, "1.2345678901234e+14"),
            (1e-4, 14, "0.0001"),
            (1e-5, 14, "1e-05"),
            (1.5e300, 14, "1.5e+300"),
            (1.23456, 3, "1.23"),
            (100.0, 1, "1e+02"),
            (0.0, 14, "0"),
            (-0.0, 14, "-0"),
            (f64::INFINITY, 14, "inf"),
            (f64::NEG_INFINITY, 14, "-inf"),
            (1e23, 14, "1e+23"),
        ];
        for (n, precision, expected) in cases {
            assert_eq!(format_g(*n, *precision), *expected, "{n} %.{precision}g");
        }
    }

    #[test]
    fn errors_are_plain_strings_without_position() {
        let lua = Lua::new();
        let f = lib_function(&lua, "fails", |_, args| {
            Ok(Err(args.type_error(1, "number")))
        })
        .expect("register");
        let g = lib_function(&lua, "echo", |_, args| {
            Ok(Ok(MultiValue::from_vec(
                (1..=args.len()).map(|i| args.value(i)).collect(),
            )))
        })
        .expect("register");
        lua.globals().set("fails", f).expect("set");
        lua.globals().set("echo", g).expect("set");
        let bare = lib_function(&lua, "bare", |_, _| {
            Ok(Err(without_position("table index is nil")))
        })
        .expect("register");
        lua.globals().set("bare", bare).expect("set");
        let cases: &[(&str, &str)] = &[
            // Called from pcall (a C function): no position, as luaL_error does.
            (
                "return pcall(fails)",
                "bad argument #1 to 'fails' (number expected, got no value)",
            ),
            (
                "return pcall(function() return fails() end)",
                "user_script:1: bad argument #1 to 'fails' (number expected, got no value)",
            ),
            (
                "return pcall(function() return bare() end)",
                "table index is nil",
            ),
        ];
        for (chunk, expected) in cases {
            let (ok, message): (bool, Value) = lua
                .load(*chunk)
                .set_name("=user_script")
                .eval()
                .expect("eval");
            assert!(!ok);
            let Value::String(message) = message else {
                panic!("not a string: {message:?}")
            };
            assert_eq!(message.to_str().expect("utf8"), *expected);
        }
        let count: i64 = lua
            .load("return select('#', echo(1, nil, 3))")
            .eval()
            .expect("eval");
        assert_eq!(count, 3);
        let count: i64 = lua.load("return select('#', echo())").eval().expect("eval");
        assert_eq!(count, 0);
    }

    #[test]
    fn pcall_of_many_results_does_not_trip_lua_api_checks() {
        // Lua 5.1's pcall asserts under LUA_USE_APICHECK when the callee returns ~20+ values;
        // Cargo.toml builds Lua without it (profile.dev.build-override), as release does.
        let lua = Lua::new();
        let count: i64 = lua
            .load(
                "local t = {} for i = 1, 300 do t[i] = i end return select('#', pcall(unpack, t))",
            )
            .eval()
            .expect("eval");
        assert_eq!(count, 301);
    }
}
