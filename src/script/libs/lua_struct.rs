//! `struct`: packing Lua values into binary strings and back, as Roberto Ierusalimschy's struct
//! library (struct.c 1.4, with Redis's overflow fixes) does on x86-64.
//!
//! Formats: `>` big endian, `<` little endian, `![n]` alignment (default 8), `x` a zero byte,
//! `b/B` char, `h/H` short, `l/L` long (8), `T` size_t (8), `i/I[n]` int of n bytes (default 4,
//! at most 32), `f` float, `d` double, `c[n]` n chars (`c0`: the whole string when packing, the
//! previous number as length when unpacking), `s` zero-terminated string, space ignored.
//! (No `z`: struct has none; it is an invalid option, as in Redis.)
//! Lower case integer options are signed. Anything else is "invalid format option".

use mlua::{Lua, MultiValue, Table, Value};

use super::support::{lib_function, number, Args, Raised};

/// Largest integral size, in bytes.
const MAX_INT_SIZE: usize = 32;
/// Default `!` alignment: that of a double on x86-64.
const MAX_ALIGN: usize = 8;

#[derive(Clone, Copy, PartialEq)]
enum Endian {
    Big,
    Little,
}

/// Byte order and maximum alignment, changed by control options as the format is read.
struct Header {
    endian: Endian,
    align: usize,
}

impl Header {
    fn new() -> Header {
        Header {
            endian: Endian::Little,
            align: 1,
        }
    }
}

/// A format string being read one option at a time.
struct Format<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Format<'_> {
    fn next_option(&mut self) -> Option<u8> {
        let opt = *self.bytes.get(self.at)?;
        self.at += 1;
        Some(opt)
    }

    /// `getnum`: the decimal number that follows, or `default` when none does.
    fn number(&mut self, default: usize) -> Raised<usize> {
        let mut value: usize = 0;
        let mut any = false;
        while let Some(digit) = self.bytes.get(self.at).filter(|b| b.is_ascii_digit()) {
            let digit = (digit - b'0') as usize;
            if value > (i32::MAX as usize) / 10 || value * 10 > i32::MAX as usize - digit {
                return Err("integral size overflow".to_string());
            }
            value = value * 10 + digit;
            self.at += 1;
            any = true;
        }
        Ok(if any { value } else { default })
    }

    /// `optsize`: the size in bytes of option `opt` (0 for the ones with no fixed size).
    fn size_of(&mut self, opt: u8) -> Raised<usize> {
        Ok(match opt {
            b'b' | b'B' => 1,
            b'h' | b'H' => 2,
            b'l' | b'L' | b'T' | b'd' => 8,
            b'f' => 4,
            b'x' => 1,
            b'c' => self.number(1)?,
            b'i' | b'I' => {
                let size = self.number(4)?;
                if size > MAX_INT_SIZE {
                    return Err(format!(
                        "integral size {size} is larger than limit of {MAX_INT_SIZE}"
                    ));
                }
                size
            }
            _ => 0,
        })
    }

    /// `controloptions`: endianness, alignment, spaces; anything else is an invalid option.
    fn control(&mut self, args: &Args, opt: u8, header: &mut Header) -> Raised<()> {
        match opt {
            b' ' => {}
            b'>' => header.endian = Endian::Big,
            b'<' => header.endian = Endian::Little,
            b'!' => {
                let align = self.number(MAX_ALIGN)?;
                if !align.is_power_of_two() {
                    return Err(format!("alignment {align} is not a power of 2"));
                }
                header.align = align;
            }
            other => {
                let shown = String::from_utf8_lossy(&[other]).into_owned();
                return Err(args.arg_error(1, &format!("invalid format option '{shown}'")));
            }
        }
        Ok(())
    }
}

/// `gettoalign`: padding needed before an item of `size` bytes at offset `len`.
fn padding(len: usize, header: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(header.align);
    // As the C code, which assumes `size` is a power of 2 (an `i3` item breaks that there too).
    (size.wrapping_sub(len & (size - 1))) & (size - 1)
}

fn format_arg(lua: &Lua, args: &Args) -> Raised<Vec<u8>> {
    args.check_bytes(lua, 1)
}

/// `struct.pack(fmt, v1, v2, ...)`.
fn pack(lua: &Lua, args: &Args) -> Raised<MultiValue> {
    let fmt_bytes = format_arg(lua, args)?;
    let mut fmt = Format {
        bytes: &fmt_bytes,
        at: 0,
    };
    let mut header = Header::new();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next_option() {
        let mut size = fmt.size_of(opt)?;
        let pad = padding(out.len(), &header, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = args.check_number(lua, arg)?;
                arg += 1;
                // Negative numbers go through a signed long, others straight to unsigned long;
                // bytes past the 8 of a long are zero.
                let mut value: u64 = if n < 0.0 { n as i64 as u64 } else { n as u64 };
                let mut bytes = vec![0u8; size];
                for byte in bytes.iter_mut() {
                    *byte = (value & 0xff) as u8;
                    value = value.checked_shr(8).unwrap_or(0);
                }
                if header.endian == Endian::Big {
                    bytes.reverse();
                }
                out.extend_from_slice(&bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = args.check_number(lua, arg)? as f32;
                arg += 1;
                out.extend_from_slice(&match header.endian {
                    Endian::Little => f.to_le_bytes(),
                    Endian::Big => f.to_be_bytes(),
                });
            }
            b'd' => {
                let d = args.check_number(lua, arg)?;
                arg += 1;
                out.extend_from_slice(&match header.endian {
                    Endian::Little => d.to_le_bytes(),
                    Endian::Big => d.to_be_bytes(),
                });
            }
            b'c' | b's' => {
                let s = args.check_bytes(lua, arg)?;
                arg += 1;
                if size == 0 {
                    size = s.len();
                }
                if s.len() < size {
                    // The C code reports the argument after the string (it already advanced).
                    return Err(args.arg_error(arg, "string too short"));
                }
                out.extend_from_slice(&s[..size]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => fmt.control(args, opt, &mut header)?,
        }
    }
    let packed = lua.create_string(out).map_err(|e| e.to_string())?;
    Ok(MultiValue::from_vec(vec![Value::String(packed)]))
}

/// Reads an integer of `bytes.len()` bytes as struct.c does, in an unsigned long.
fn read_integer(bytes: &[u8], endian: Endian, signed: bool) -> f64 {
    let mut value: u64 = 0;
    let mut push = |b: u8| value = (value << 8) | b as u64;
    match endian {
        Endian::Big => bytes.iter().for_each(|&b| push(b)),
        Endian::Little => bytes.iter().rev().for_each(|&b| push(b)),
    }
    if !signed {
        return value as f64;
    }
    // x86 masks the shift count to 6 bits, which is what C's undefined wide shift does there.
    let shift = ((bytes.len() * 8).wrapping_sub(1) & 63) as u32;
    let mask = u64::MAX << shift;
    if value & mask != 0 {
        value |= mask;
    }
    value as i64 as f64
}

/// `struct.unpack(fmt, s [, pos])`: the values, then the position after the last one read.
fn unpack(lua: &Lua, args: &Args) -> Raised<MultiValue> {
    let fmt_bytes = format_arg(lua, args)?;
    let data = args.check_bytes(lua, 2)?;
    let start = args.opt_integer(lua, 3, 1)?;
    let mut fmt = Format {
        bytes: &fmt_bytes,
        at: 0,
    };
    let mut header = Header::new();
    let mut values: Vec<Value> = Vec::new();
    let too_short = || args.arg_error(2, "data string too short");
    if start == 0 {
        return Err(args.arg_error(3, "offset must be 1 or greater"));
    }
    // A negative position is a huge offset in C's size_t: too short for anything.
    let mut pos: usize = usize::try_from(start.wrapping_sub(1)).unwrap_or(usize::MAX);
    while let Some(opt) = fmt.next_option() {
        let mut size = fmt.size_of(opt)?;
        pos = pos.saturating_add(padding(pos, &header, opt, size));
        let fits =
            |pos: usize, size: usize| pos.checked_add(size).is_some_and(|end| end <= data.len());
        if !fits(pos, size) {
            return Err(too_short());
        }
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                values.push(number(read_integer(
                    &data[pos..pos + size],
                    header.endian,
                    signed,
                )));
            }
            b'x' => {}
            b'f' => {
                let raw: [u8; 4] = data[pos..pos + 4].try_into().map_err(|_| too_short())?;
                let f = match header.endian {
                    Endian::Little => f32::from_le_bytes(raw),
                    Endian::Big => f32::from_be_bytes(raw),
                };
                values.push(number(f as f64));
            }
            b'd' => {
                let raw: [u8; 8] = data[pos..pos + 8].try_into().map_err(|_| too_short())?;
                values.push(number(match header.endian {
                    Endian::Little => f64::from_le_bytes(raw),
                    Endian::Big => f64::from_be_bytes(raw),
                }));
            }
            b'c' => {
                if size == 0 {
                    // `lua_isnumber` on the last value read: numeric strings count too.
                    let previous = match values.last() {
                        Some(value @ Value::String(_)) => {
                            lua.coerce_number(value.clone()).ok().flatten()
                        }
                        Some(Value::Integer(i)) => Some(*i as f64),
                        Some(Value::Number(n)) => Some(*n),
                        _ => None,
                    };
                    let Some(length) = previous else {
                        return Err("format 'c0' needs a previous size".to_string());
                    };
                    values.pop();
                    size = if length < 0.0 {
                        usize::MAX
                    } else {
                        length as usize
                    };
                    if !fits(pos, size) {
                        return Err(too_short());
                    }
                }
                let s = lua
                    .create_string(&data[pos..pos + size])
                    .map_err(|e| e.to_string())?;
                values.push(Value::String(s));
            }
            b's' => {
                let Some(nul) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err("unfinished string in data".to_string());
                };
                let s = lua
                    .create_string(&data[pos..pos + nul])
                    .map_err(|e| e.to_string())?;
                values.push(Value::String(s));
                size = nul + 1;
            }
            _ => fmt.control(args, opt, &mut header)?,
        }
        pos += size;
    }
    values.push(number((pos as i64).wrapping_add(1) as f64));
    Ok(MultiValue::from_vec(values))
}

/// `struct.size(fmt)`: the packed size of a format with only fixed-size items.
fn size(lua: &Lua, args: &Args) -> Raised<MultiValue> {
    let fmt_bytes = format_arg(lua, args)?;
    let mut fmt = Format {
        bytes: &fmt_bytes,
        at: 0,
    };
    let mut header = Header::new();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next_option() {
        let size = fmt.size_of(opt)?;
        pos += padding(pos, &header, opt, size);
        if opt == b's' {
            return Err(args.arg_error(1, "option 's' has no fixed size"));
        } else if opt == b'c' && size == 0 {
            return Err(args.arg_error(1, "option 'c0' has no fixed size"));
        }
        // Unknown letters and digits count as size 0 here, as in the C code.
        if !opt.is_ascii_alphanumeric() {
            fmt.control(args, opt, &mut header)?;
        }
        pos += size;
    }
    Ok(MultiValue::from_vec(vec![number(pos as f64)]))
}

/// The `struct` table.
pub fn create(lua: &Lua) -> mlua::Result<Table> {
    let table = lua.create_table()?;
    table.raw_set(
        "pack",
        lib_function(lua, "pack", |lua, args| Ok(pack(lua, args)))?,
    )?;
    table.raw_set(
        "unpack",
        lib_function(lua, "unpack", |lua, args| Ok(unpack(lua, args)))?,
    )?;
    table.raw_set(
        "size",
        lib_function(lua, "size", |lua, args| Ok(size(lua, args)))?,
    )?;
    Ok(table)
}

#[cfg(test)]
mod tests {
    use crate::script::libs::test_support::{eval_bytes, eval_error, eval_string, lua_with_libs};

    #[test]
    fn pack_produces_redis_bytes() {
        let lua = lua_with_libs();
        let cases: &[(&str, &[u8])] = &[
            ("struct.pack('>I2', 258)", &[1, 2]),
            ("struct.pack('<I2', 258)", &[2, 1]),
            ("struct.pack('b', -1)", &[0xff]),
            ("struct.pack('>h', -2)", &[0xff, 0xfe]),
            ("struct.pack('>i', 1)", &[0, 0, 0, 1]),
            ("struct.pack('>l', 1)", &[0, 0, 0, 0, 0, 0, 0, 1]),
            ("struct.pack('>T', 1)", &[0, 0, 0, 0, 0, 0, 0, 1]),
            ("struct.pack('>i3', 0x010203)", &[1, 2, 3]),
            (
                "struct.pack('<i10', -1)",
                &[255, 255, 255, 255, 255, 255, 255, 255, 0, 0],
            ),
            ("struct.pack('>f', 1.5)", &[0x3f, 0xc0, 0, 0]),
            ("struct.pack('>d', 1.5)", &[0x3f, 0xf8, 0, 0, 0, 0, 0, 0]),
            ("struct.pack('c3', 'abcdef')", b"abc"),
            ("struct.pack('c0', 'abcdef')", b"abcdef"),
            ("struct.pack('s', 'ab')", b"ab\0"),
            ("struct.pack('bxb', 1, 2)", &[1, 0, 2]),
            ("struct.pack('!4 b i', 1, 2)", &[1, 0, 0, 0, 2, 0, 0, 0]),
            (
                "struct.pack('!b d', 1, 0)",
                &[1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            ),
            ("struct.pack('b c2', 1, 'xy')", &[1, b'x', b'y']),
            ("struct.pack('B', '65')", &[65]),
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
    fn unpack_and_size_match_redis() {
        let lua = lua_with_libs();
        let cases: &[(&str, &str)] = &[
            ("struct.unpack('>I2', '\\1\\2')", "258 3"),
            ("struct.unpack('<i2', '\\254\\255')", "-2 3"),
            ("struct.unpack('b', '\\255')", "-1 2"),
            ("struct.unpack('B', '\\255')", "255 2"),
            ("struct.unpack('>I2', 'xx\\1\\2', 3)", "258 5"),
            ("struct.unpack('s', 'ab\\0cd')", "ab 4"),
            ("struct.unpack('c2 c2', 'abcd')", "ab cd 5"),
            ("struct.unpack('b c0', '\\3abcd')", "abc 5"),
            ("struct.unpack('c1 c0', '2abcd')", "ab 4"),
            ("struct.unpack('>d', struct.pack('>d', 0.1))", "0.1 9"),
            ("struct.unpack('<f', struct.pack('<f', 0.5))", "0.5 5"),
            ("struct.unpack('>l', struct.pack('>l', -5))", "-5 9"),
            (
                "struct.unpack('!4 b i', struct.pack('!4 b i', 7, 9))",
                "7 9 9",
            ),
            ("struct.unpack('', 'abc')", "1"),
            ("struct.size('>i2 d')", "10"),
            ("struct.size('!b d')", "16"),
            ("struct.size('c10 b')", "11"),
            ("struct.size('z')", "0"),
        ];
        for (expr, expected) in cases {
            let chunk = format!(
                "local t = {{{expr}}} for i = 1, #t do t[i] = tostring(t[i]) end \
                 return table.concat(t, ' ')"
            );
            assert_eq!(eval_string(&lua, &chunk), *expected, "{expr}");
        }
    }

    #[test]
    fn struct_errors_match_redis() {
        let lua = lua_with_libs();
        let cases: &[(&str, &str)] = &[
            (
                "struct.pack('z', 1)",
                "bad argument #1 to 'pack' (invalid format option 'z')",
            ),
            (
                "struct.pack('i', 'x')",
                "bad argument #2 to 'pack' (number expected, got string)",
            ),
            (
                "struct.pack('i')",
                "bad argument #2 to 'pack' (number expected, got no value)",
            ),
            (
                "struct.pack('c5', 'ab')",
                "bad argument #3 to 'pack' (string too short)",
            ),
            (
                "struct.pack('i33', 1)",
                "integral size 33 is larger than limit of 32",
            ),
            ("struct.pack('!3 i', 1)", "alignment 3 is not a power of 2"),
            ("struct.pack('i99999999999', 1)", "integral size overflow"),
            (
                "struct.pack()",
                "bad argument #1 to 'pack' (string expected, got no value)",
            ),
            (
                "struct.unpack('i', 'ab')",
                "bad argument #2 to 'unpack' (data string too short)",
            ),
            ("struct.unpack('s', 'ab')", "unfinished string in data"),
            (
                "struct.unpack('c0', 'ab')",
                "format 'c0' needs a previous size",
            ),
            (
                "struct.unpack('b', 'a', 0)",
                "bad argument #3 to 'unpack' (offset must be 1 or greater)",
            ),
            (
                "struct.unpack('b', 'a', -1)",
                "bad argument #2 to 'unpack' (data string too short)",
            ),
            (
                "struct.size('s')",
                "bad argument #1 to 'size' (option 's' has no fixed size)",
            ),
            (
                "struct.size('c0')",
                "bad argument #1 to 'size' (option 'c0' has no fixed size)",
            ),
        ];
        for (expr, expected) in cases {
            let error = eval_error(&lua, &format!("return {expr}"));
            assert_eq!(error, format!("user_script:1: {expected}"), "{expr}");
        }
    }
}
