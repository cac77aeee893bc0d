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
mod tests {
    use super::*;

    /// How feeding a case's whole input ends.
    #[derive(Debug, Clone, Copy)]
    enum Outcome {
        /// Every byte consumed.
        Complete,
        /// Some bytes left, waiting for more.
        Pending,
        /// Parsing stopped with this protocol error.
        Error(&'static str),
    }
    use Outcome::{Complete, Error, Pending};

    struct Case {
        input: &'static [u8],
        commands: &'static [&'static [&'static [u8]]],
        outcome: Outcome,
    }

    const fn case(
        input: &'static [u8],
        commands: &'static [&'static [&'static [u8]]],
        outcome: Outcome,
    ) -> Case {
        Case {
            input,
            commands,
            outcome,
        }
    }

    const CASES: &[Case] = &[
        // Multibulk.
        case(b"*1\r\n$4\r\nPING\r\n", &[&[b"PING"]], Complete),
        case(
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n",
            &[&[b"SET", b"k", b"hello"]],
            Complete,
        ),
        case(
            b"*2\r\n$4\r\nECHO\r\n$0\r\n\r\n",
            &[&[b"ECHO", b""]],
            Complete,
        ),
        case(
            b"*2\r\n$4\r\nECHO\r\n$5\r\n\r\n\0\xff*\r\n",
            &[&[b"ECHO", b"\r\n\0\xff*"]],
            Complete,
        ),
        case(
            b"*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*1\r\n$4\r\nPING\r\n",
            &[&[b"PING"], &[b"ECHO", b"hi"], &[b"PING"]],
            Complete,
        ),
        case(b"*0\r\n", &[], Complete),
        case(b"*0\r\n*1\r\n$4\r\nPING\r\n", &[&[b"PING"]], Complete),
        case(
            b"*-1\r\n*-10\r\n*1\r\n$4\r\nPING\r\n*0\r\n",
            &[&[b"PING"]],
            Complete,
        ),
        case(b"*-9223372036854775808\r\n", &[], Complete),
        // Redis skips the byte after a header's `\r` and the two after bulk data unchecked.
        case(
            b"*1\rX$4\rYPING??*1\r\n$1\r\na\r\n",
            &[&[b"PING"], &[b"a"]],
            Complete,
        ),
        case(b"*2147483647\r\n$1\r\na\r\n", &[], Pending),
        case(b"*2\r\n$3\r\nGET\r\n", &[], Pending),
        case(b"*2\r\n$3\r\nGET\r\n$3\r\nke", &[], Pending),
        case(b"*1\r\n$536870912\r\n", &[], Pending),
        case(
            b"*1\r\n$4\r\nPING\r\n*1\r\n$3\r\nfoo\r",
            &[&[b"PING"]],
            Pending,
        ),
        // strchr stops at NUL, so the terminator behind it is never seen.
        case(b"*1\0\r\n", &[], Pending),
        case(b"*1\r\n$1\0\r\na\r\n", &[], Pending),
        // Mixed inline and multibulk.
        case(
            b"PING\r\n*1\r\n$4\r\nPING\r\nECHO hi\n*2\r\n$4\r\nECHO\r\n$2\r\nyo\r\n",
            &[&[b"PING"], &[b"PING"], &[b"ECHO", b"hi"], &[b"ECHO", b"yo"]],
            Complete,
        ),
        // Multibulk count errors.
        case(b"*01\r\n", &[], Error("invalid multibulk length")),
        case(b"*+1\r\n", &[], Error("invalid multibulk length")),
        case(b"* 1\r\n", &[], Error("invalid multibulk length")),
        case(b"*1 \r\n", &[], Error("invalid multibulk length")),
        case(b"*\r\n", &[], Error("invalid multibulk length")),
        case(b"*-\r\n", &[], Error("invalid multibulk length")),
        case(b"*-0\r\n", &[], Error("invalid multibulk length")),
        case(b"*1x\r\n", &[], Error("invalid multibulk length")),
        case(b"*2147483648\r\n", &[], Error("invalid multibulk length")),
        case(
            b"*99999999999999999999\r\n",
            &[],
            Error("invalid multibulk length"),
        ),
        case(
            b"*-9223372036854775809\r\n",
            &[],
            Error("invalid multibulk length"),
        ),
        case(
            b"*00000000000000000001\r\n",
            &[],
            Error("invalid multibulk length"),
        ),
        // Bulk header errors.
        case(b"*1\r\n:3\r\n", &[], Error("expected '$', got ':'")),
        case(
            b"*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n",
            &[],
            Error("expected '$', got 'f'"),
        ),
        case(b"*1\r\n\r\n", &[], Error("expected '$', got ' '")),
        case(b"*1\r\n\n\r\n", &[], Error("expected '$', got ' '")),
        case(b"*1\r\n$-1\r\n", &[], Error("invalid bulk length")),
        case(b"*1\r\n$01\r\n", &[], Error("invalid bulk length")),
        case(b"*1\r\n$\r\n", &[], Error("invalid bulk length")),
        case(b"*1\r\n$ 1\r\n", &[], Error("invalid bulk length")),
        case(b"*1\r\n$+1\r\n", &[], Error("invalid bulk length")),
        case(b"*1\r\n$536870913\r\n", &[], Error("invalid bulk length")),
        case(
            b"*1\r\n$4\r\nPING\r\n*1\r\nfoo\r\n",
            &[&[b"PING"]],
            Error("expected '$', got 'f'"),
        ),
        case(
            b"PING\n*1\r\n$-5\r\nPING\n",
            &[&[b"PING"]],
            Error("invalid bulk length"),
        ),
        // Inline.
        case(b"PING\r\n", &[&[b"PING"]], Complete),
        case(b"PING\n", &[&[b"PING"]], Complete),
        case(b" \tSET  k\t v \r\n", &[&[b"SET", b"k", b"v"]], Complete),
        case(b"\n", &[], Complete),
        case(b"\r\n", &[], Complete),
        case(b" \t\n\r\n  \r\nPING\n", &[&[b"PING"]], Complete),
        case(
            b"PING\nPING\r\nECHO a b\n",
            &[&[b"PING"], &[b"PING"], &[b"ECHO", b"a", b"b"]],
            Complete,
        ),
        case(
            b"SET \"a b\" 'c d'\n",
            &[&[b"SET", b"a b", b"c d"]],
            Complete,
        ),
        case(b"SET k \"\" ''\n", &[&[b"SET", b"k", b"", b""]], Complete),
        case(
            b"ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\x41\\x4a\\xzz\\q\\xff\"\n",
            &[&[b"ECHO", b"\n\r\t\x08\x07\\\"AJxzzq\xff"]],
            Complete,
        ),
        case(
            b"ECHO 'it\\'s \\n \\x41 \"'\n",
            &[&[b"ECHO", b"it's \\n \\x41 \""]],
            Complete,
        ),
        case(
            b"foo\"bar baz\" x'y'\n",
            &[&[b"foobar baz", b"xy"]],
            Complete,
        ),
        // Vertical tab and form feed are blanks between words but do not end one.
        case(b"\x0b\x0ca\x0bb c\n", &[&[b"a\x0bb", b"c"]], Complete),
        case(b"\"a\"\x0b'b'\x0c\n", &[&[b"a", b"b"]], Complete),
        // Only the `\r` right before `\n` is stripped; another one separates words.
        case(b"a\rb\n", &[&[b"a", b"b"]], Complete),
        case(b"PING\r\r\n", &[&[b"PING"]], Complete),
        case(b"\xff\xfe x\n", &[&[b"\xff\xfe", b"x"]], Complete),
        case(b"PING", &[], Pending),
        case(b"PING\r", &[], Pending),
        case(b"PING\0\n", &[], Pending),
        case(b"PING\nPING\0\n", &[&[b"PING"]], Pending),
        // Inline errors.
        case(b"ECHO \"a\n", &[], Error("unbalanced quotes in request")),
        case(b"ECHO 'a\r\n", &[], Error("unbalanced quotes in request")),
        case(b"ECHO \"a\"x\n", &[], Error("unbalanced quotes in request")),
        case(b"ECHO 'a'x\n", &[], Error("unbalanced quotes in request")),
        case(
            b"ECHO \"a\\\"\n",
            &[],
            Error("unbalanced quotes in request"),
        ),
        case(b"ECHO 'a\\'\n", &[], Error("unbalanced quotes in request")),
        case(b"ECHO \"a\\\n", &[], Error("unbalanced quotes in request")),
        case(
            b"PING\nECHO \"x\n",
            &[&[b"PING"]],
            Error("unbalanced quotes in request"),
        ),
    ];

    /// Commands as plain vectors, for comparing and printing.
    type Commands = Vec<Vec<Vec<u8>>>;

    fn to_vecs(commands: &[Vec<Bytes>]) -> Commands {
        commands
            .iter()
            .map(|command| command.iter().map(|argument| argument.to_vec()).collect())
            .collect()
    }

    fn check(
        what: &str,
        (commands, error, left): FeedOutcome,
        expected: &Commands,
        outcome: Outcome,
    ) {
        assert_eq!(&to_vecs(&commands), expected, "{what}: commands");
        let left_len = left.len();
        match outcome {
            Complete => assert!(
                error.is_none() && left.is_empty(),
                "{what}: {error:?}, {left_len} bytes left"
            ),
            Pending => assert!(
                error.is_none() && !left.is_empty(),
                "{what}: {error:?}, {left_len} bytes left"
            ),
            Error(text) => assert_eq!(error, Some(ProtocolError::new(text)), "{what}"),
        }
    }

    /// Feeds `input` whole, one byte at a time, and in two parts at each split point `splits`
    /// yields, checking every way gives the same result.
    fn check_all_ways(
        input: &[u8],
        expected: &Commands,
        outcome: Outcome,
        splits: impl Iterator<Item = usize>,
    ) {
        let limits = ParserLimits::default();
        let shown = String::from_utf8_lossy(&input[..input.len().min(40)]).into_owned();
        check(
            &format!("{shown:?} whole"),
            feed(&[input], &limits),
            expected,
            outcome,
        );
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        check(
            &format!("{shown:?} a byte at a time"),
            feed(&bytes, &limits),
            expected,
            outcome,
        );
        for split in splits {
            let (head, tail) = input.split_at(split);
            check(
                &format!("{shown:?} split at {split}"),
                feed(&[head, tail], &limits),
                expected,
                outcome,
            );
        }
    }

    #[test]
    fn table_fed_whole_bytewise_and_split_everywhere() {
        for case in CASES {
            let expected: Commands = case
                .commands
                .iter()
                .map(|command| command.iter().map(|argument| argument.to_vec()).collect())
                .collect();
            check_all_ways(case.input, &expected, case.outcome, 0..=case.input.len());
        }
    }

    fn repeat(prefix: &[u8], byte: u8, count: usize, suffix: &[u8]) -> Vec<u8> {
        let mut input = prefix.to_vec();
        input.resize(prefix.len() + count, byte);
        input.extend_from_slice(suffix);
        input
    }

    #[test]
    fn lines_without_terminator_stop_at_64_kib() {
        let some_splits = |len: usize| (0..=len).step_by(4099);
        // (input, expected, outcome); 65,536 bytes may wait for a terminator, 65,537 may not.
        let cases: Vec<(Vec<u8>, Commands, Outcome)> = vec![
            (repeat(b"*", b'0', 65535, b""), vec![], Pending),
            (
                repeat(b"*", b'0', 65536, b""),
                vec![],
                Error("too big mbulk count string"),
            ),
            (repeat(b"*", b'0', 65535, b"\r"), vec![], Pending),
            (
                repeat(b"*", b'0', 65535, b"\r\n"),
                vec![],
                Error("invalid multibulk length"),
            ),
            (repeat(b"*1\r\n$", b'0', 65535, b""), vec![], Pending),
            (
                repeat(b"*1\r\n$", b'0', 65536, b""),
                vec![],
                Error("too big bulk count string"),
            ),
            (
                repeat(b"*1\r\n$", b'0', 65535, b"\r\n"),
                vec![],
                Error("invalid bulk length"),
            ),
            (
                repeat(b"*1\r\n$1\0", b'0', 65534, b""),
                vec![],
                Error("too big bulk count string"),
            ),
            (repeat(b"", b'x', 65536, b""), vec![], Pending),
            (
                repeat(b"", b'x', 65537, b""),
                vec![],
                Error("too big inline request"),
            ),
            (
                repeat(b"", b'x', 65536, b"\n"),
                vec![vec![vec![b'x'; 65536]]],
                Complete,
            ),
            (
                repeat(b"", b'x', 65537, b"\n"),
                vec![],
                Error("too big inline request"),
            ),
            // Behind a NUL the newline stays hidden; what counts is how much is buffered.
            (repeat(b"PING\0", b'x', 65530, b"\n"), vec![], Pending),
            (
                repeat(b"PING\0", b'x', 65531, b"\n"),
                vec![],
                Error("too big inline request"),
            ),
            (
                repeat(b"PING\n", b'x', 65537, b""),
                vec![vec![b"PING".to_vec()]],
                Error("too big inline request"),
            ),
        ];
        for (input, expected, outcome) in cases {
            check_all_ways(&input, &expected, outcome, some_splits(input.len()));
        }
    }

    #[test]
    fn arguments_share_the_request_buffer() {
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nfoo\r\n$3\r\nbar\r\nPING"[..]);
        let base = buf.as_ptr() as usize;
        let arguments = RespParser::new()
            .parse(&mut buf, &ParserLimits::default())
            .unwrap()
            .unwrap();
        assert_eq!(arguments, [&b"foo"[..], b"bar"]);
        assert_eq!(arguments[0].as_ptr() as usize, base + 8);
        assert_eq!(arguments[1].as_ptr() as usize, base + 17);
        assert_eq!(&buf[..], b"PING");
    }

    #[test]
    fn bulk_over_the_limit_fails_before_its_data() {
        let limits = ParserLimits {
            proto_max_bulk_len: 10,
        };
        let mut parser = RespParser::new();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$11\r"[..]);
        assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
        buf.extend_from_slice(b"\n");
        assert_eq!(
            parser.parse(&mut buf, &limits),
            Err(ProtocolError::new("invalid bulk length"))
        );

        let mut buf = BytesMut::from(&b"*1\r\n$10\r\n"[..]);
        assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
    }

    #[test]
    fn wanted_counts_the_rest_of_a_bulk() {
        let limits = ParserLimits::default();
        let mut parser = RespParser::new();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nSET\r\n$1000\r\n"[..]);
        assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
        assert_eq!(parser.wanted(), 1002);
        buf.extend_from_slice(&[b'v'; 600]);
        assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
        assert_eq!(parser.wanted(), 402);
        buf.extend_from_slice(&[b'v'; 400]);
        buf.extend_from_slice(b"\r");
        assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
        assert_eq!(parser.wanted(), 1);
        buf.extend_from_slice(b"\n*1\r\n$4\r\nPI");
        let arguments = parser.parse(&mut buf, &limits).unwrap().unwrap();
        assert_eq!(arguments.len(), 2);
        assert_eq!(arguments[1].len(), 1000);
        assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
        assert_eq!(parser.wanted(), 4);
        // A line still arriving: unknown. A huge announced count alone reserves nothing.
        let mut buf = BytesMut::from(&b"*2147483647\r\n$12"[..]);
        let mut parser = RespParser::new();
        assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
        assert_eq!(parser.wanted(), 0);
    }

    #[test]
    fn reset_drops_progress_and_errors_reset_themselves() {
        let limits = ParserLimits::default();
        let mut parser = RespParser::new();
        let mut buf = BytesMut::from(&b"*2\r\n$3\r\nGET\r\n$3\r\nk"[..]);
        assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
        parser.reset();
        let mut buf = BytesMut::from(&b"*1\r\n$4\r\nPING\r\n"[..]);
        assert_eq!(
            parser.parse(&mut buf, &limits),
            Ok(Some(vec![Bytes::from_static(b"PING")]))
        );

        let mut buf = BytesMut::from(&b"*1\r\n$3\r\nfoo\r\n*1\r\nx\r\n"[..]);
        assert!(parser.parse(&mut buf, &limits).unwrap().is_some());
        assert!(parser.parse(&mut buf, &limits).is_err());
        let mut buf = BytesMut::from(&b"PING\n"[..]);
        assert_eq!(
            parser.parse(&mut buf, &limits),
            Ok(Some(vec![Bytes::from_static(b"PING")]))
        );
    }

    #[test]
    fn a_parser_that_lost_its_buffer_does_not_panic() {
        let limits = ParserLimits::default();
        let mut parser = RespParser::new();
        let mut buf = BytesMut::from(&b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nval"[..]);
        assert_eq!(parser.parse(&mut buf, &limits), Ok(None));
        let mut other = BytesMut::from(&b"PI"[..]);
        assert_eq!(parser.parse(&mut other, &limits), Ok(None));
        let mut other = BytesMut::new();
        assert_eq!(parser.parse(&mut other, &limits), Ok(None));
    }

    /// A million arguments in 64 KiB reads: each call resumes where the last stopped, so this
    /// stays linear (a re-scan per read would be some 100 times slower).
    #[test]
    fn million_argument_multibulk_in_64_kib_reads() {
        const COUNT: usize = 1_000_000;
        let mut input = b"*1000000\r\n".to_vec();
        for _ in 0..COUNT {
            input.extend_from_slice(b"$1\r\na\r\n");
        }
        let limits = ParserLimits::default();
        let mut parser = RespParser::new();
        let mut buf = BytesMut::new();
        let mut commands = Vec::new();
        for chunk in input.chunks(64 * 1024) {
            buf.extend_from_slice(chunk);
            while let Some(command) = parser.parse(&mut buf, &limits).unwrap() {
                commands.push(command);
            }
        }
        assert_eq!(commands.len(), 1);
        assert_eq!(commands[0].len(), COUNT);
        assert!(commands[0].iter().all(|argument| argument == &b"a"[..]));
        assert!(buf.is_empty());
    }

    /// Fed a byte at a time, a 20,000-argument request takes 140,000 calls; quadratic work would
    /// be billions of steps, linear work is instant.
    #[test]
    fn many_small_reads_stay_linear() {
        let mut input = b"*20000\r\n".to_vec();
        for _ in 0..20_000 {
            input.extend_from_slice(b"$1\r\nb\r\n");
        }
        input.extend_from_slice(&[b'y'; 60_000]);
        input.extend_from_slice(b"\n");
        let bytes: Vec<&[u8]> = input.chunks(1).collect();
        let (commands, error, left) = feed(&bytes, &ParserLimits::default());
        assert_eq!((commands.len(), error, left.len()), (2, None, 0));
        assert_eq!(commands[0].len(), 20_000);
        assert_eq!(commands[1], [Bytes::from(vec![b'y'; 60_000])]);
    }

    struct XorShift(u64);

    impl XorShift {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, bound: usize) -> usize {
            (self.next() % bound as u64) as usize
        }
    }

    /// The fuzz target's body over pseudo-random inputs: raw bytes; a soup of the pieces the
    /// grammar is made of; and well-formed requests with a byte or two changed, which reach the
    /// deepest states.
    #[test]
    fn fuzz_body_on_pseudo_random_inputs() {
        const PIECES: &[&[u8]] = &[
            b"*",
            b"$",
            b"\r\n",
            b"\r",
            b"\n",
            b"0",
            b"1",
            b"2",
            b"3",
            b"-1",
            b"10",
            b"2147483648",
            b"\0",
            b" ",
            b"\t",
            b"\x0b",
            b"\"",
            b"'",
            b"\\",
            b"\\x4",
            b"1",
            b"PING",
            b"a",
            b"\xff",
            b"*2\r\n",
            b"$3\r\n",
            b"foo",
            b"$20\r\n",
            b"*0\r\n",
        ];
        let mut random = XorShift(0x9e37_79b9_7f4a_7c15);
        for round in 0..6000 {
            let mut input = vec![random.next() as u8];
            match round % 3 {
                0 => input.extend((0..random.below(40)).map(|_| random.next() as u8)),
                1 => {
                    for _ in 0..random.below(40) {
                        input.extend_from_slice(PIECES[random.below(PIECES.len())]);
                    }
                }
                _ => {
                    for _ in 0..1 + random.below(3) {
                        let count = random.below(4);
                        input.extend_from_slice(format!("*{count}\r\n").as_bytes());
                        for _ in 0..count {
                            let len = random.below(20);
                            input.extend_from_slice(format!("${len}\r\n").as_bytes());
                            input.extend((0..len).map(|_| random.next() as u8));
                            input.extend_from_slice(b"\r\n");
                        }
                    }
                    for _ in 0..random.below(3) {
                        let at = 1 + random.below(input.len() - 1);
                        input[at] = PIECES[random.below(PIECES.len())][0];
                    }
                }
            }
            fuzz_one_input(&input);
        }
    }
}
