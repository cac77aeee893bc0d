//! `cjson.decode`: JSON text to Lua values, as lua-cjson 2.1.0 reads it.
//!
//! A token at a time, like the C parser, so the errors are the same: `Expected value but found
//! invalid token at character 1`. As in C (which reads a NUL-terminated buffer), a NUL byte ends
//! the input; numbers are read with `strtod` semantics, so with `decode_invalid_numbers` on (the
//! default) hex, `inf`, `nan` and a leading `+` are accepted; JSON null becomes `cjson.null`
//! (the NULL light userdata); strings are bytes (invalid UTF-8 passes through). Nesting is
//! followed with an explicit stack, limited by `decode_max_depth` and never past
//! `NESTING_CEILING`.

use mlua::{LightUserData, Lua, Table, Value};

use super::cjson::{Config, MAX_C_STACK, NESTING_CEILING};
use super::support::Raised;

#[derive(Debug)]
enum Token {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String(Vec<u8>),
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    Error(&'static str),
}

impl Token {
    /// lua-cjson's name for the token in "but found ..." messages.
    fn found(&self) -> &'static str {
        match self {
            Token::ObjBegin => "T_OBJ_BEGIN",
            Token::ObjEnd => "T_OBJ_END",
            Token::ArrBegin => "T_ARR_BEGIN",
            Token::ArrEnd => "T_ARR_END",
            Token::String(_) => "T_STRING",
            Token::Number(_) => "T_NUMBER",
            Token::Boolean(_) => "T_BOOLEAN",
            Token::Null => "T_NULL",
            Token::Colon => "T_COLON",
            Token::Comma => "T_COMMA",
            Token::End => "T_END",
            Token::Error(what) => what,
        }
    }
}

struct Parser<'a> {
    data: &'a [u8],
    at: usize,
    decode_invalid_numbers: bool,
}

impl Parser<'_> {
    /// The byte at `i`; past the end, the terminating NUL the C code sees.
    fn byte(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    fn starts_with(&self, word: &[u8]) -> bool {
        self.data
            .get(self.at..)
            .is_some_and(|rest| rest.starts_with(word))
    }

    /// `json_next_token`: the token and the 0-based offset its errors are reported at.
    fn next_token(&mut self) -> (Token, usize) {
        while matches!(self.byte(self.at), b' ' | b'\t' | b'\n' | b'\r') {
            self.at += 1;
        }
        let start = self.at;
        let single = match self.byte(start) {
            b'{' => Some(Token::ObjBegin),
            b'}' => Some(Token::ObjEnd),
            b'[' => Some(Token::ArrBegin),
            b']' => Some(Token::ArrEnd),
            b',' => Some(Token::Comma),
            b':' => Some(Token::Colon),
            0 => return (Token::End, start),
            _ => None,
        };
        if let Some(token) = single {
            self.at += 1;
            return (token, start);
        }
        match self.byte(start) {
            b'"' => self.string_token(start),
            b'-' | b'0'..=b'9' => {
                if !self.decode_invalid_numbers && self.is_invalid_number() {
                    return (Token::Error("invalid number"), start);
                }
                self.number_token()
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                if self.starts_with(b"true") {
                    self.at += 4;
                    (Token::Boolean(true), start)
                } else if self.starts_with(b"false") {
                    self.at += 5;
                    (Token::Boolean(false), start)
                } else if self.starts_with(b"null") {
                    self.at += 4;
                    (Token::Null, start)
                } else if self.decode_invalid_numbers && self.is_invalid_number() {
                    self.number_token()
                } else {
                    (Token::Error("invalid token"), start)
                }
            }
            _ => (Token::Error("invalid token"), start),
        }
    }

    /// `json_is_invalid_number`: forms strtod takes but JSON does not (+, hex, leading zeros,
    /// inf, nan).
    fn is_invalid_number(&self) -> bool {
        let mut p = self.at;
        if self.byte(p) == b'+' {
            return true;
        }
        if self.byte(p) == b'-' {
            p += 1;
        }
        if self.byte(p) == b'0' {
            let next = self.byte(p + 1);
            return (next | 0x20) == b'x' || next.is_ascii_digit();
        } else if self.byte(p) <= b'9' {
            return false;
        }
        let word: Vec<u8> = (0..3)
            .map(|i| self.byte(p + i).to_ascii_lowercase())
            .collect();
        word == b"inf" || word == b"nan"
    }

    fn number_token(&mut self) -> (Token, usize) {
        let start = self.at;
        match strtod(self.data, start) {
            Some((n, end)) => {
                self.at = end;
                (Token::Number(n), start)
            }
            None => (Token::Error("invalid number"), start),
        }
    }

    /// `json_next_string_token`: errors are reported where the parser stopped inside the string.
    fn string_token(&mut self, start: usize) -> (Token, usize) {
        self.at += 1;
        let mut out = Vec::new();
        loop {
            let ch = self.byte(self.at);
            match ch {
                b'"' => break,
                0 => return (Token::Error("unexpected end of string"), self.at),
                b'\\' => {
                    let translated = match self.byte(self.at + 1) {
                        b'"' => b'"',
                        b'\\' => b'\\',
                        b'/' => b'/',
                        b'b' => 0x08,
                        b't' => b'\t',
                        b'n' => b'\n',
                        b'f' => 0x0c,
                        b'r' => b'\r',
                        b'u' => {
                            if self.unicode_escape(&mut out) {
                                continue;
                            }
                            return (Token::Error("invalid unicode escape code"), self.at);
                        }
                        _ => return (Token::Error("invalid escape code"), self.at),
                    };
                    out.push(translated);
                    self.at += 2;
                }
                _ => {
                    out.push(ch);
                    self.at += 1;
                }
            }
        }
        self.at += 1;
        (Token::String(out), start)
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        (0..4).try_fold(0u32, |acc, i| {
            let digit = (self.byte(at + i) as char).to_digit(16)?;
            Some(acc << 4 | digit)
        })
    }

    /// `json_append_unicode_escape`: `\uXXXX`, or a surrogate pair, as UTF-8.
    fn unicode_escape(&mut self, out: &mut Vec<u8>) -> bool {
        let Some(mut codepoint) = self.hex4(self.at + 2) else {
            return false;
        };
        let mut escape_len = 6;
        if codepoint & 0xF800 == 0xD800 {
            if codepoint & 0x400 != 0 {
                return false;
            }
            if self.byte(self.at + 6) != b'\\' || self.byte(self.at + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.at + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            codepoint = (((codepoint & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            escape_len = 12;
        }
        // Every code point here is a valid scalar value: surrogates were paired or refused.
        let Some(c) = char::from_u32(codepoint) else {
            return false;
        };
        let mut buf = [0u8; 4];
        out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
        self.at += escape_len;
        true
    }
}

/// C's `strtod` at `start`: the value and where it stopped, `None` when nothing converts.
fn strtod(data: &[u8], start: usize) -> Option<(f64, usize)> {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let mut p = start;
    let negative = byte(p) == b'-';
    if matches!(byte(p), b'+' | b'-') {
        p += 1;
    }
    let sign = if negative { -1.0 } else { 1.0 };
    let word_at = |i: usize, word: &[u8]| {
        (0..word.len()).all(|k| byte(i + k).to_ascii_lowercase() == word[k])
    };
    if word_at(p, b"inf") {
        let end = if word_at(p, b"infinity") {
            p + 8
        } else {
            p + 3
        };
        return Some((sign * f64::INFINITY, end));
    }
    if word_at(p, b"nan") {
        let mut end = p + 3;
        if byte(end) == b'(' {
            let mut q = end + 1;
            while byte(q).is_ascii_alphanumeric() || byte(q) == b'_' {
                q += 1;
            }
            if byte(q) == b')' {
                end = q + 1;
            }
        }
        return Some((sign * f64::NAN, end));
    }
    if byte(p) == b'0' && (byte(p + 1) | 0x20) == b'x' {
        if let Some((value, end)) = hex_float(data, p + 2) {
            return Some((sign * value, end));
        }
        // "0x" with no hex digit after it: just the 0.
        return Some((sign * 0.0, p + 1));
    }
    let digits_from = |mut i: usize| {
        while byte(i).is_ascii_digit() {
            i += 1;
        }
        i
    };
    let int_end = digits_from(p);
    let mut end = int_end;
    let mut digits = int_end - p;
    if byte(end) == b'.' {
        let frac_end = digits_from(end + 1);
        digits += frac_end - (end + 1);
        end = frac_end;
    }
    if digits == 0 {
        return None;
    }
    if byte(end) | 0x20 == b'e' {
        let mut q = end + 1;
        if matches!(byte(q), b'+' | b'-') {
            q += 1;
        }
        let exp_end = digits_from(q);
        if exp_end > q {
            end = exp_end;
        }
    }
    let text = std::str::from_utf8(&data[start..end]).ok()?;
    text.parse::<f64>().ok().map(|n| (n, end))
}

/// The part of a hex float after `0x`: digits, optional fraction, optional `p` exponent.
fn hex_float(data: &[u8], start: usize) -> Option<(f64, usize)> {
    let byte = |i: usize| data.get(i).copied().unwrap_or(0);
    let mut p = start;
    let mut mantissa = 0.0f64;
    let mut exponent: i64 = 0;
    let mut any = false;
    while let Some(d) = (byte(p) as char).to_digit(16) {
        mantissa = mantissa * 16.0 + d as f64;
        any = true;
        p += 1;
    }
    if byte(p) == b'.' {
        let mut q = p + 1;
        while let Some(d) = (byte(q) as char).to_digit(16) {
            mantissa = mantissa * 16.0 + d as f64;
            exponent -= 4;
            any = true;
            q += 1;
        }
        if any {
            p = q;
        }
    }
    if !any {
        return None;
    }
    if byte(p) | 0x20 == b'p' {
        let mut q = p + 1;
        let negative = byte(q) == b'-';
        if matches!(byte(q), b'+' | b'-') {
            q += 1;
        }
        let mut value: i64 = 0;
        let digits_start = q;
        while byte(q).is_ascii_digit() {
            value = (value * 10 + (byte(q) - b'0') as i64).min(100_000);
            q += 1;
        }
        if q > digits_start {
            exponent += if negative { -value } else { value };
            p = q;
        }
    }
    Some((
        mantissa * 2f64.powi(exponent.clamp(-100_000, 100_000) as i32),
        p,
    ))
}

/// A container being filled.
struct Open {
    table: Table,
    /// Objects: the key whose value is being read. Arrays: `None`.
    key: Option<Vec<u8>>,
    is_object: bool,
    next_index: i64,
}

/// `cjson.decode(text)`.
pub(crate) fn decode(lua: &Lua, config: &Config, data: &[u8]) -> Raised<Value> {
    match decode_value(lua, config, data) {
        Ok(result) => result,
        Err(e) => Err(e.to_string()),
    }
}

fn expected(what: &str, token: &Token, at: usize) -> String {
    format!(
        "Expected {what} but found {} at character {}",
        token.found(),
        at + 1
    )
}

fn decode_value(lua: &Lua, config: &Config, data: &[u8]) -> mlua::Result<Raised<Value>> {
    if data.len() >= 2 && (data[0] == 0 || data[1] == 0) {
        return Ok(Err(
            "JSON parser does not support UTF-16 or UTF-32".to_string()
        ));
    }
    let mut parser = Parser {
        data,
        at: 0,
        decode_invalid_numbers: config.decode_invalid_numbers,
    };
    let mut open: Vec<Open> = Vec::new();
    let (mut token, mut at) = parser.next_token();
    loop {
        // `token` starts a value.
        let mut value = match std::mem::replace(&mut token, Token::End) {
            Token::String(bytes) => Value::String(lua.create_string(bytes)?),
            Token::Number(n) => Value::Number(n),
            Token::Boolean(b) => Value::Boolean(b),
            Token::Null => Value::LightUserData(LightUserData(std::ptr::null_mut())),
            start @ (Token::ObjBegin | Token::ArrBegin) => {
                let is_object = matches!(start, Token::ObjBegin);
                // json_decode_descend: the depth limit, or lua_checkstack failing first. The C
                // frame holds the input, 2 slots per open object (table, key) and 1 per array.
                let depth = open.len() + 1;
                let slots = 1 + open
                    .iter()
                    .map(|o| if o.is_object { 2 } else { 1 })
                    .sum::<usize>();
                let needed = if is_object { 3 } else { 2 };
                if depth as i64 > config.decode_max_depth.min(NESTING_CEILING)
                    || slots + needed > MAX_C_STACK
                {
                    return Ok(Err(format!(
                        "Found too many nested data structures ({depth}) at character {}",
                        parser.at
                    )));
                }
                let table = lua.create_table()?;
                let (next, next_at) = parser.next_token();
                let closes = if is_object {
                    Token::ObjEnd
                } else {
                    Token::ArrEnd
                };
                if std::mem::discriminant(&next) == std::mem::discriminant(&closes) {
                    Value::Table(table)
                } else {
                    open.push(Open {
                        table,
                        key: None,
                        is_object,
                        next_index: 1,
                    });
                    if is_object {
                        match read_key(&mut parser, next, next_at) {
                            Ok((key, value_token, value_at)) => {
                                if let Some(top) = open.last_mut() {
                                    top.key = Some(key);
                                }
                                token = value_token;
                                at = value_at;
                            }
                            Err(message) => return Ok(Err(message)),
                        }
                    } else {
                        token = next;
                        at = next_at;
                    }
                    continue;
                }
            }
            other => return Ok(Err(expected("value", &other, at))),
        };
        // Store the finished value in its container; close containers that end here.
        loop {
            let Some(top) = open.last_mut() else {
                let (last, last_at) = parser.next_token();
                if !matches!(last, Token::End) {
                    return Ok(Err(expected("the end", &last, last_at)));
                }
                return Ok(Ok(value));
            };
            let (next, next_at) = parser.next_token();
            if top.is_object {
                let key = top.key.take().unwrap_or_default();
                top.table.raw_set(lua.create_string(key)?, value)?;
                match next {
                    Token::ObjEnd => {}
                    Token::Comma => {
                        let (key_token, key_at) = parser.next_token();
                        match read_key(&mut parser, key_token, key_at) {
                            Ok((key, value_token, value_at)) => {
                                top.key = Some(key);
                                token = value_token;
                                at = value_at;
                                break;
                            }
                            Err(message) => return Ok(Err(message)),
                        }
                    }
                    other => return Ok(Err(expected("comma or object end", &other, next_at))),
                }
            } else {
                top.table.raw_set(top.next_index, value)?;
                top.next_index += 1;
                match next {
                    Token::ArrEnd => {}
                    Token::Comma => {
                        (token, at) = parser.next_token();
                        break;
                    }
                    other => return Ok(Err(expected("comma or array end", &other, next_at))),
                }
            }
            let Some(closed) = open.pop() else { break };
            value = Value::Table(closed.table);
        }
    }
}

/// An object key, its colon, and the token that starts its value.
fn read_key(parser: &mut Parser, token: Token, at: usize) -> Raised<(Vec<u8>, Token, usize)> {
    let Token::String(key) = token else {
        return Err(expected("object key string", &token, at));
    };
    let (colon, colon_at) = parser.next_token();
    if !matches!(colon, Token::Colon) {
        return Err(expected("colon", &colon, colon_at));
    }
    let (value, value_at) = parser.next_token();
    Ok((key, value, value_at))
}

#[cfg(test)]
mod tests {
    use crate::script::libs::test_support::{eval_error, eval_string, lua_with_libs};

    #[test]
    fn decode_round_trips_like_redis() {
        let lua = lua_with_libs();
        // Each JSON text is decoded then encoded again: what Redis returns for
        // `return cjson.encode(cjson.decode(<text>))`.
        let cases: &[(&str, &str)] = &[
            (r#"'{"a":1}'"#, r#"{"a":1}"#),
            ("'[1,2,3]'", "[1,2,3]"),
            (
                "' [ 1 , \"x\" , true , false , null ] '",
                r#"[1,"x",true,false,null]"#,
            ),
            ("'{}'", "{}"),
            ("'[]'", "{}"),
            ("'\"\\\\u00e9\\\\ud83d\\\\ude00\"'", "\"\u{e9}\u{1f600}\""),
            ("'\"a\\\\/b\\\\n\"'", r#""a\/b\n""#),
            ("'1e2'", "100"),
            ("'-0.5'", "-0.5"),
            ("'0x10'", "16"),
            ("'+1'", "1"),
            ("'[1]\\0garbage'", "[1]"),
            (
                "'{\"a\":{\"b\":[1,{\"c\":null}]}}'",
                r#"{"a":{"b":[1,{"c":null}]}}"#,
            ),
            ("'12345678901234567890'", "1.2345678901235e+19"),
        ];
        for (text, expected) in cases {
            let chunk = format!("return cjson.encode(cjson.decode({text}))");
            assert_eq!(eval_string(&lua, &chunk), *expected, "{text}");
        }
        let null = eval_string(&lua, "return tostring(cjson.decode('null') == cjson.null)");
        assert_eq!(null, "true");
        let nan = eval_string(
            &lua,
            "local n = cjson.decode('nan') return tostring(n ~= n)",
        );
        assert_eq!(nan, "true");
        let inf = eval_string(&lua, "return tostring(cjson.decode('-Infinity'))");
        assert_eq!(inf, "-inf");
    }

    #[test]
    fn decode_errors_match_redis() {
        let lua = lua_with_libs();
        let cases: &[(&str, &str)] = &[
            (
                "'x'",
                "Expected value but found invalid token at character 1",
            ),
            ("''", "Expected value but found T_END at character 1"),
            (
                "'[1,]'",
                "Expected value but found T_ARR_END at character 4",
            ),
            (
                "'[1 2]'",
                "Expected comma or array end but found T_NUMBER at character 4",
            ),
            (
                "'{\"a\" 1}'",
                "Expected colon but found T_NUMBER at character 6",
            ),
            (
                "'{1:2}'",
                "Expected object key string but found T_NUMBER at character 2",
            ),
            (
                "'{\"a\":1 \"b\"}'",
                "Expected comma or object end but found T_STRING at character 8",
            ),
            (
                "'[1] x'",
                "Expected the end but found invalid token at character 5",
            ),
            (
                "'\"abc'",
                "Expected value but found unexpected end of string at character 5",
            ),
            (
                "'\"a\\\\qb\"'",
                "Expected value but found invalid escape code at character 3",
            ),
            (
                "'\"\\\\ud800\"'",
                "Expected value but found invalid unicode escape code at character 2",
            ),
            (
                "'-'",
                "Expected value but found invalid number at character 1",
            ),
            (
                "'nil'",
                "Expected value but found invalid token at character 1",
            ),
            (
                "'tru'",
                "Expected value but found invalid token at character 1",
            ),
            ("'a\\0'", "JSON parser does not support UTF-16 or UTF-32"),
            (
                "string.rep('[', 1001)",
                "Found too many nested data structures (1001) at character 1001",
            ),
            (
                "nil",
                "bad argument #1 to 'decode' (string expected, got nil)",
            ),
        ];
        for (text, expected) in cases {
            let error = eval_error(&lua, &format!("return cjson.decode({text})"));
            assert_eq!(error, format!("user_script:1: {expected}"), "{text}");
        }
        let strict = "cjson.decode_invalid_numbers(false) return cjson.decode('0x10')";
        let expected = "user_script:1: Expected value but found invalid number at character 1";
        assert_eq!(eval_error(&lua, strict), expected);
        // Redis follows a raised limit to 7999 levels; the ceiling here is 1000.
        let deep = "cjson.decode_max_depth(100000) return cjson.decode(string.rep('[', 9000))";
        let expected =
            "user_script:1: Found too many nested data structures (1001) at character 1001";
        assert_eq!(eval_error(&lua, deep), expected);
    }
}
