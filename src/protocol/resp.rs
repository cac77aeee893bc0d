//! RESP request parsing: the bytes a client sends become argument vectors, exactly as Redis 7's
//! `processMultibulkBuffer` and `processInlineBuffer` (networking.c) make them, errors included.
//!
//! Two request forms, told apart by the first byte:
//! - multibulk, `*<count>\r\n` then `count` times `$<len>\r\n<len bytes>\r\n`: what every client
//!   library sends. The arguments come back as slices of one `Bytes` holding the whole request, so
//!   argument data is never copied.
//! - inline, any other first byte: one line ending in `\n`, split into words the way `sdssplitargs`
//!   does (quotes and escapes): what a person types into telnet.
//!
//! The parser is incremental. While a request is incomplete it keeps in `self` how far it has
//! validated it (the argument count, the offsets of complete arguments, the length of the bulk being
//! read, how far the current line was searched for its end), so a request that arrives over many
//! reads costs time linear in its size, never a re-scan from its start.
//!
//! Redis quirks kept on purpose, so that malformed input gets the answer Redis gives:
//! - Header lines end at `\r`; the byte after it is skipped unchecked, and so are the two bytes
//!   after bulk data.
//! - Line ends are found with C `strchr`, which stops at a NUL byte: a NUL before the terminator
//!   hides it, and the request waits for bytes that cannot help until the 64 KiB limit trips.
//! - The 64 KiB limit (`PROTO_INLINE_MAX_SIZE`): Redis checks it only when a read leaves no
//!   terminator anywhere in its buffer, so how lenient it is depends on read sizes. We apply it
//!   the way Redis does when bytes arrive one at a time, the strictest case and the only one that
//!   does not depend on timing: the terminator must be among the first 65,537 bytes of the line.
//!
//! Not done here: Redis's limits for unauthenticated clients (`unauthenticated multibulk length`
//! above 10 arguments, `unauthenticated bulk length` above 16 KiB) need to know whether the
//! connection has authenticated; the connection can check the count and lengths it sees.

use bytes::{Buf, Bytes, BytesMut};

/// `PROTO_INLINE_MAX_SIZE`: how long an inline request or a header line may grow without its
/// terminator.
const INLINE_MAX_SIZE: usize = 64 * 1024;

/// Most argument slots reserved up front from a client's count, as Redis caps `argv_len`; the
/// vector grows as arguments actually arrive.
const MAX_PREALLOCATED_ARGUMENTS: usize = 1024;

/// `LONG_STR_SIZE`: `string2ll` rejects strings this long or longer.
const MAX_INTEGER_LENGTH: usize = 21;

/// Limits the parser enforces, from the configuration.
#[derive(Debug, Clone)]
pub struct ParserLimits {
    /// `proto-max-bulk-len`: the largest bulk argument accepted.
    pub proto_max_bulk_len: usize,
}

impl Default for ParserLimits {
    fn default() -> Self {
        ParserLimits {
            proto_max_bulk_len: 512 * 1024 * 1024,
        }
    }
}

/// A malformed request. Displays as the text after `ERR Protocol error: `; the connection replies
/// `-ERR Protocol error: <text>` and closes, as Redis does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

impl ProtocolError {
    fn new(text: &str) -> Self {
        ProtocolError(text.to_owned())
    }
}

/// Incremental parser for RESP multibulk and inline requests; keeps its progress between calls so
/// a large request is not re-scanned on every read.
///
/// Contract with the caller: between calls the buffer only grows at its back; its front changes
/// only through `parse` itself. A caller that discards or replaces the buffer calls
/// [`RespParser::reset`]. After an `Err` the parser has reset itself and the connection is meant to
/// close, as Redis closes it after the error reply.
#[derive(Debug, Default)]
pub struct RespParser {
    /// Arguments still to read in the multibulk in progress. Zero between requests, and while an
    /// inline request or a multibulk count line is incomplete; then `position` is 0, `bulk_len`
    /// is `None` and `arguments` is empty.
    multibulk_remaining: usize,
    /// Offset in the buffer just past the part of the request in progress already validated.
    position: usize,
    /// Length of the bulk whose `$<len>` line was read, while its data has not all arrived.
    bulk_len: Option<usize>,
    /// `(offset, length)` in the buffer of each complete argument of the multibulk in progress.
    arguments: Vec<(usize, usize)>,
    /// Offset in the buffer up to which the current line was searched for its end, so that a
    /// line arriving a byte at a time is not searched again from its start.
    line_searched: usize,
    /// See [`RespParser::wanted`]; set by the last call to `parse`.
    wanted: usize,
}

/// Where the search for the end of the current line stands.
enum LineEnd {
    /// The terminator is at this offset in the buffer.
    At(usize),
    /// Not there yet; more bytes may bring it.
    Incomplete,
    /// More than `INLINE_MAX_SIZE` bytes without the terminator.
    TooLong,
}

impl RespParser {
    pub fn new() -> Self {
        RespParser::default()
    }

    /// Parses the next complete request from the front of `buf`, removing its bytes. `Ok(None)`
    /// means more bytes are needed. Requests that hold no command (`*0`, `*-1`, an empty inline
    /// line) are removed and skipped, as Redis skips them.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParserLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        self.wanted = 0;
        let result = self.parse_next(buf, limits);
        if result.is_err() {
            self.reset();
        }
        result
    }

    /// How many more bytes the request in progress certainly needs, as of the last `parse`: the
    /// rest of a bulk whose length line was read, and its `\r\n`. The connection may reserve that
    /// much buffer before reading. 0 when unknown (a line still arriving, or no request in progress).
    /// Only lengths already checked against `proto-max-bulk-len` count, never a client's argument
    /// count, so a client cannot make the server reserve more than that limit by announcing it.
    pub fn wanted(&self) -> usize {
        self.wanted
    }

    /// Drops the progress on the request in progress; the next `parse` starts at the front of the
    /// buffer it is given.
    pub fn reset(&mut self) {
        *self = RespParser::default();
    }

    fn parse_next(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParserLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        loop {
            if self.multibulk_remaining == 0 {
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                if first != b'*' {
                    match self.parse_inline(buf)? {
                        Some(arguments) if arguments.is_empty() => continue,
                        other => return Ok(other),
                    }
                }
                if !self.parse_multibulk_count(buf)? {
                    return Ok(None);
                }
                if self.multibulk_remaining == 0 {
                    continue;
                }
            }
            return self.parse_bulks(buf, limits);
        }
    }

    /// Reads the `*<count>` line. Returns false when it is incomplete. A count of zero or less is a
    /// request without a command: its bytes are removed and `multibulk_remaining` stays 0.
    fn parse_multibulk_count(&mut self, buf: &mut BytesMut) -> Result<bool, ProtocolError> {
        let end = match self.find_line_end(buf, b'\r') {
            LineEnd::At(end) => end,
            LineEnd::Incomplete => return Ok(false),
            LineEnd::TooLong => return Err(ProtocolError::new("too big mbulk count string")),
        };
        // Redis wants one byte after the `\r` and skips it without looking.
        if buf.len() < end + 2 {
            return Ok(false);
        }
        let count = buf
            .get(1..end)
            .and_then(parse_integer)
            .filter(|&count| count <= i64::from(i32::MAX))
            .ok_or_else(|| ProtocolError::new("invalid multibulk length"))?;
        self.line_searched = 0;
        match usize::try_from(count) {
            Ok(count) if count > 0 => {
                self.multibulk_remaining = count;
                self.position = end + 2;
                self.arguments.clear();
                self.arguments
                    .reserve(count.min(MAX_PREALLOCATED_ARGUMENTS));
            }
            _ => buf.advance(end + 2),
        }
        Ok(true)
    }

    /// Reads `$<len>` lines and bulk data until the multibulk in progress is complete, then removes
    /// it from `buf` and returns its arguments.
    fn parse_bulks(
        &mut self,
        buf: &mut BytesMut,
        limits: &ParserLimits,
    ) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        while self.multibulk_remaining > 0 {
            let len = match self.bulk_len {
                Some(len) => len,
                None => match self.parse_bulk_len(buf, limits)? {
                    Some(len) => len,
                    None => return Ok(None),
                },
            };
            // Redis skips the two bytes after the data without checking that they are `\r\n`.
            let data_end = self.position.saturating_add(len).saturating_add(2);
            if buf.len() < data_end {
                self.wanted = data_end - buf.len();
                return Ok(None);
            }
            self.arguments.push((self.position, len));
            self.position = data_end;
            self.bulk_len = None;
            self.multibulk_remaining -= 1;
        }
        // Every argument ends before `position`, and the last pass of the loop, which ran in this
        // call, checked `position <= buf.len()`: neither the split nor the slices can panic.
        let request = buf.split_to(self.position).freeze();
        let arguments = self
            .arguments
            .iter()
            .map(|&(offset, len)| request.slice(offset..offset + len))
            .collect();
        self.arguments.clear();
        // A huge request must not pin its argument table for the life of the connection.
        self.arguments.shrink_to(MAX_PREALLOCATED_ARGUMENTS);
        self.position = 0;
        Ok(Some(arguments))
    }

    /// Reads one `$<len>` line. Returns `None` when it is incomplete. The length is checked against
    /// `proto-max-bulk-len` here, before any of the data arrives.
    fn parse_bulk_len(
        &mut self,
        buf: &BytesMut,
        limits: &ParserLimits,
    ) -> Result<Option<usize>, ProtocolError> {
        let end = match self.find_line_end(buf, b'\r') {
            LineEnd::At(end) => end,
            LineEnd::Incomplete => return Ok(None),
            LineEnd::TooLong => return Err(ProtocolError::new("too big bulk count string")),
        };
        if buf.len() < end + 2 {
            return Ok(None);
        }
        let Some(&first) = buf.get(self.position) else {
            return Ok(None);
        };
        if first != b'$' {
            // Redis's addReplyErrorFormat turns CR and LF into spaces to keep the reply one line.
            // A byte above 0x7f goes out raw from Redis; a String can only hold it as the Latin-1
            // character, two bytes in UTF-8.
            let shown = if first == b'\r' || first == b'\n' {
                ' '
            } else {
                char::from(first)
            };
            return Err(ProtocolError(format!("expected '$', got '{shown}'")));
        }
        let len = buf
            .get(self.position + 1..end)
            .and_then(parse_integer)
            .and_then(|len| usize::try_from(len).ok())
            .filter(|&len| len <= limits.proto_max_bulk_len)
            .ok_or_else(|| ProtocolError::new("invalid bulk length"))?;
        self.position = end + 2;
        self.line_searched = 0;
        self.bulk_len = Some(len);
        Ok(Some(len))
    }

    /// Reads one inline request. Returns `None` when its line is incomplete, and an empty vector for
    /// a line with no words, which Redis skips.
    fn parse_inline(&mut self, buf: &mut BytesMut) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let newline = match self.find_line_end(buf, b'\n') {
            LineEnd::At(newline) => newline,
            LineEnd::Incomplete => return Ok(None),
            LineEnd::TooLong => return Err(ProtocolError::new("too big inline request")),
        };
        let line_end = match newline.checked_sub(1) {
            Some(before) if buf.get(before) == Some(&b'\r') => before,
            _ => newline,
        };
        let line = buf.get(..line_end).unwrap_or_default();
        let arguments = split_inline_arguments(line)
            .ok_or_else(|| ProtocolError::new("unbalanced quotes in request"))?;
        buf.advance(newline + 1);
        self.line_searched = 0;
        Ok(Some(arguments))
    }

    /// Looks for the end of the line starting at `position`, resuming where the last search
    /// stopped. Like C `strchr`, a NUL byte ends the search without a match.
    fn find_line_end(&mut self, buf: &[u8], terminator: u8) -> LineEnd {
        let start = self.position;
        let window_end = buf.len().min(start.saturating_add(INLINE_MAX_SIZE + 1));
        let from = self.line_searched.max(start);
        let window = buf.get(from..window_end).unwrap_or_default();
        match window
            .iter()
            .position(|&byte| byte == terminator || byte == 0)
        {
            Some(found) => {
                let at = from + found;
                // Stay on a NUL: the next search finds it again at once.
                self.line_searched = at;
                if buf.get(at) == Some(&terminator) {
                    return LineEnd::At(at);
                }
            }
            None => self.line_searched = window_end,
        }
        if buf.len().saturating_sub(start) > INLINE_MAX_SIZE {
            LineEnd::TooLong
        } else {
            LineEnd::Incomplete
        }
    }
}

/// Redis's `string2ll`: an optional `-`, then `0` alone or digits without a leading zero; no `+`,
/// no spaces, fewer than 21 bytes, and within `i64`.
fn parse_integer(text: &[u8]) -> Option<i64> {
    if text.is_empty() || text.len() >= MAX_INTEGER_LENGTH {
        return None;
    }
    if text == b"0" {
        return Some(0);
    }
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (&first, rest) = digits.split_first()?;
    if !(b'1'..=b'9').contains(&first) {
        return None;
    }
    let mut value = u64::from(first - b'0');
    for &digit in rest {
        if !digit.is_ascii_digit() {
            return None;
        }
        value = value
            .checked_mul(10)?
            .checked_add(u64::from(digit - b'0'))?;
    }
    if negative {
        0i64.checked_sub_unsigned(value)
    } else {
        i64::try_from(value).ok()
    }
}

/// C `isspace` in the C locale.
fn is_c_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

fn hex_value(byte: u8) -> Option<u8> {
    char::from(byte)
        .to_digit(16)
        .and_then(|value| u8::try_from(value).ok())
}

/// Redis's `sdssplitargs`, step for step: blanks separate words; `"..."` takes `\n \r \t \b \a`,
/// `\xHH` and `\<any>` escapes; `'...'` takes only `\'`; a closing quote must be followed by a
/// blank or the end. `None` for unbalanced quotes. Reading past the end yields 0, as the C string's
/// terminator does, so the C conditions carry over unchanged.
fn split_inline_arguments(line: &[u8]) -> Option<Vec<Bytes>> {
    let at = |index: usize| line.get(index).copied().unwrap_or(0);
    let mut arguments = Vec::new();
    let mut p = 0;
    loop {
        while at(p) != 0 && is_c_space(at(p)) {
            p += 1;
        }
        if at(p) == 0 {
            return Some(arguments);
        }
        let mut current = Vec::new();
        let (mut in_double_quotes, mut in_single_quotes, mut done) = (false, false, false);
        while !done {
            let byte = at(p);
            if in_double_quotes {
                if let (b'\\', b'x', Some(high), Some(low)) =
                    (byte, at(p + 1), hex_value(at(p + 2)), hex_value(at(p + 3)))
                {
                    current.push(high * 16 + low);
                    p += 3;
                } else if byte == b'\\' && at(p + 1) != 0 {
                    p += 1;
                    current.push(match at(p) {
                        b'n' => b'\n',
                        b'r' => b'\r',
                        b't' => b'\t',
                        b'b' => 0x08,
                        b'a' => 0x07,
                        other => other,
                    });
                } else if byte == b'"' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if byte == 0 {
                    return None;
                } else {
                    current.push(byte);
                }
            } else if in_single_quotes {
                if byte == b'\\' && at(p + 1) == b'\'' {
                    p += 1;
                    current.push(b'\'');
                } else if byte == b'\'' {
                    if at(p + 1) != 0 && !is_c_space(at(p + 1)) {
                        return None;
                    }
                    done = true;
                } else if byte == 0 {
                    return None;
                } else {
                    current.push(byte);
                }
            } else {
                match byte {
                    b' ' | b'\n' | b'\r' | b'\t' | 0 => done = true,
                    b'"' => in_double_quotes = true,
                    b'\'' => in_single_quotes = true,
                    _ => current.push(byte),
                }
            }
            if at(p) != 0 {
                p += 1;
            }
        }
        arguments.push(Bytes::from(current));
    }
}

/// The body of the `resp_parser` fuzz target, also run by a unit test over pseudo-random inputs.
/// The first byte picks a split point and the limits; the rest is fed to a parser in two parts and,
/// separately, in one. Panics if a command comes out empty, if the two runs disagree, or if a
/// parser with nothing new to read changes its answer.
#[doc(hidden)]
pub fn fuzz_one_input(input: &[u8]) {
    let Some((&seed, data)) = input.split_first() else {
        return;
    };
    let split = usize::from(seed) * data.len() / usize::from(u8::MAX);
    let limits = if seed % 2 == 0 {
        ParserLimits::default()
    } else {
        ParserLimits {
            proto_max_bulk_len: 16,
        }
    };
    let (head, tail) = data.split_at(split.min(data.len()));
    let in_two_parts = feed(&[head, tail], &limits);
    let in_one_part = feed(&[data], &limits);
    assert_eq!(in_two_parts, in_one_part);
}

/// What feeding `chunks` one after another to a fresh parser produced: the commands, the error if
/// one ended parsing, and the bytes left unconsumed.
type FeedOutcome = (Vec<Vec<Bytes>>, Option<ProtocolError>, Bytes);

fn feed(chunks: &[&[u8]], limits: &ParserLimits) -> FeedOutcome {
    let mut parser = RespParser::new();
    let mut buf = BytesMut::new();
    let mut commands = Vec::new();
    for (index, chunk) in chunks.iter().enumerate() {
        buf.extend_from_slice(chunk);
        loop {
            match parser.parse(&mut buf, limits) {
                Ok(Some(arguments)) => {
                    assert!(!arguments.is_empty(), "a command without arguments");
                    commands.push(arguments);
                }
                Ok(None) => {
                    let wanted = parser.wanted();
                    assert_eq!(
                        parser.parse(&mut buf, limits),
                        Ok(None),
                        "a second look changed the answer"
                    );
                    assert_eq!(parser.wanted(), wanted);
                    break;
                }
                Err(error) => {
                    // What is left is everything from the error on, however it was split.
                    for rest in chunks.get(index + 1..).unwrap_or_default() {
                        buf.extend_from_slice(rest);
                    }
                    return (commands, Some(error), buf.freeze());
                }
            }
        }
    }
    (commands, None, buf.freeze())
}

#[cfg(test)]
mod tests;
