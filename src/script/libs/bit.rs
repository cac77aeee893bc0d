//! `bit`: LuaBitOp 1.0.2, the bitwise operations Redis gives scripts.
//!
//! Every argument is normalised to a 32-bit integer the way LuaBitOp does it on a double build:
//! add 2^52 + 2^51 and keep the low 32 bits of the result's representation (round to nearest,
//! ties to even, then wrap modulo 2^32). Every result is that integer read as signed.

use mlua::{Lua, MultiValue, Table};

use super::support::{lib_function, number, Args, Raised};

/// `barg`: argument `index` as LuaBitOp's 32-bit integer; "number expected" if it is not one.
fn bit_arg(lua: &Lua, args: &Args, index: usize) -> Raised<u32> {
    let n = args.to_number(lua, index).unwrap_or(0.0);
    let bits = (n + 6_755_399_441_055_744.0).to_bits() as u32;
    if bits == 0 && args.to_number(lua, index).is_none() {
        return Err(args.type_error(index, "number"));
    }
    Ok(bits)
}

fn result(bits: u32) -> Raised<MultiValue> {
    Ok(MultiValue::from_vec(vec![number(bits as i32 as f64)]))
}

type Unary = fn(u32) -> u32;
type Binary = fn(u32, u32) -> u32;

/// One-operand functions.
const UNARY: &[(&str, Unary)] = &[
    ("tobit", |b| b),
    ("bnot", |b| !b),
    ("bswap", u32::swap_bytes),
];

/// Shifts and rotations: the count is taken modulo 32.
const SHIFTS: &[(&str, Binary)] = &[
    ("lshift", |b, n| b << (n & 31)),
    ("rshift", |b, n| b >> (n & 31)),
    ("arshift", |b, n| ((b as i32) >> (n & 31)) as u32),
    ("rol", |b, n| b.rotate_left(n & 31)),
    ("ror", |b, n| b.rotate_right(n & 31)),
];

/// Folds over one or more operands.
const FOLDS: &[(&str, Binary)] = &[
    ("band", |a, b| a & b),
    ("bor", |a, b| a | b),
    ("bxor", |a, b| a ^ b),
];

/// The `bit` table.
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    for &(name, op) in UNARY {
        let f = lib_function(lua, name, move |lua, args| {
            Ok(bit_arg(lua, args, 1).and_then(|b| result(op(b))))
        })?;
        table.raw_set(name, f)?;
    }
    for &(name, op) in SHIFTS {
        let f = lib_function(lua, name, move |lua, args| {
            Ok(bit_arg(lua, args, 1)
                .and_then(|b| Ok(op(b, bit_arg(lua, args, 2)?)))
                .and_then(result))
        })?;
        table.raw_set(name, f)?;
    }
    for &(name, op) in FOLDS {
        let f = lib_function(lua, name, move |lua, args| {
            let fold = || -> Raised<u32> {
                let mut acc = bit_arg(lua, args, 1)?;
                for index in 2..=args.len() {
                    acc = op(acc, bit_arg(lua, args, index)?);
                }
                Ok(acc)
            };
            Ok(fold().and_then(result))
        })?;
        table.raw_set(name, f)?;
    }
    let tohex = lib_function(lua, "tohex", |lua, args| Ok(tohex(lua, args)))?;
    table.raw_set("tohex", tohex)?;
    Ok(table)
}

/// `bit.tohex(x [, n])`: the low `|n|` hex digits of x (default 8, at most 8), upper case when
/// n is negative.
fn tohex(lua: &Lua, args: &Args) -> Raised<MultiValue> {
    let mut bits = bit_arg(lua, args, 1)?;
    let mut digits = if args.get(2).is_none() {
        8
    } else {
        bit_arg(lua, args, 2)? as i32
    };
    let alphabet: &[u8; 16] = if digits < 0 {
        digits = digits.wrapping_neg();
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    // -(-2^31) stays negative, as in C; LuaBitOp then prints nothing.
    let digits = digits.clamp(0, 8) as usize;
    let mut out = vec![0u8; digits];
    for slot in out.iter_mut().rev() {
        *slot = alphabet[(bits & 15) as usize];
        bits >>= 4;
    }
    Ok(MultiValue::from_vec(vec![mlua::Value::String(
        lua.create_string(out).map_err(|e| e.to_string())?,
    )]))
}

#[cfg(test)]
mod tests {
    use crate::script::libs::test_support::{eval_error, eval_string, lua_with_libs};

    #[test]
    fn bit_operations_match_redis() {
        let lua = lua_with_libs();
        // Expected values are what redis-server 7.0 returns for `return tostring(<expr>)`.
        let cases: &[(&str, &str)] = &[
            ("bit.tobit(0xffffffff)", "-1"),
            ("bit.tobit(0xffffffff + 1)", "0"),
            ("bit.tobit(2^40 + 1234)", "1234"),
            ("bit.tobit(1.5)", "2"),
            ("bit.tobit(2.5)", "2"),
            ("bit.tobit(-1.5)", "-2"),
            ("bit.tobit('12')", "12"),
            ("bit.bnot(0)", "-1"),
            ("bit.band(0x12345678, 0xff)", "120"),
            ("bit.band(-1)", "-1"),
            ("bit.bor(1, 2, 4, 8)", "15"),
            ("bit.bxor(7, 2)", "5"),
            ("bit.lshift(1, 31)", "-2147483648"),
            ("bit.lshift(1, 32)", "1"),
            ("bit.rshift(-1, 28)", "15"),
            ("bit.arshift(-256, 4)", "-16"),
            ("bit.rol(0x12345678, 12)", "1164411171"),
            ("bit.ror(0x12345678, 12)", "1736516421"),
            ("bit.bswap(0x12345678)", "2018915346"),
            ("bit.tohex(1)", "00000001"),
            ("bit.tohex(-1)", "ffffffff"),
            ("bit.tohex(0xabcdef, -4)", "CDEF"),
            ("bit.tohex(0x1234, 2)", "34"),
            ("bit.tohex(0x1234, 12)", "00001234"),
            ("bit.tohex(255, 0)", ""),
        ];
        for (expr, expected) in cases {
            assert_eq!(
                eval_string(&lua, &format!("return tostring({expr})")),
                *expected,
                "{expr}"
            );
        }
    }

    #[test]
    fn bit_argument_errors_match_redis() {
        let lua = lua_with_libs();
        let cases: &[(&str, &str)] = &[
            (
                "bit.tobit()",
                "bad argument #1 to 'tobit' (number expected, got no value)",
            ),
            (
                "bit.band(1, 'x')",
                "bad argument #2 to 'band' (number expected, got string)",
            ),
            (
                "bit.lshift(1)",
                "bad argument #2 to 'lshift' (number expected, got no value)",
            ),
            (
                "bit.tohex({})",
                "bad argument #1 to 'tohex' (number expected, got table)",
            ),
        ];
        for (expr, expected) in cases {
            let error = eval_error(&lua, &format!("return {expr}"));
            assert_eq!(error, format!("user_script:1: {expected}"), "{expr}");
        }
    }
}
