//! Memcached's three protocols, bytes to requests: text (`text.rs`), meta (`meta.rs`, the
//! two-letter commands sharing the text protocol's framing) and binary (`binary.rs`).
//!
//! Like memcached, a connection's first byte picks its protocol for good: `0x80` (the binary
//! request magic) means binary, anything else text. Parsing is incremental and zero-copy: the
//! caller appends what the socket gave to a `BytesMut` and calls [`MemcacheParser::parse`] until it
//! answers `Ok(None)` ("need more bytes", a normal state); keys and values come out as `Bytes`
//! slices of that buffer.
//!
//! Bad input gets memcached 1.6's answer: most errors are a reply line ([`Parsed::Error`]) after
//! which the connection carries on (memcached then reads whatever follows as the next command, so
//! a mis-sized data block produces further `ERROR` lines, exactly as memcached does); a few close
//! the connection without a word ([`Close`]): a text line over 2048 bytes that is not a `get`, and
//! a binary packet without the request magic.

pub mod base64;
pub mod binary;
pub mod meta;
pub mod text;

use bytes::BytesMut;

/// Limits the parser enforces.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// `item-size-max`: the largest item memcached would store, header included (see
    /// [`item_too_large`]).
    pub item_size_max: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            item_size_max: 1024 * 1024,
        }
    }
}

/// Keys longer than this are refused (memcached's `KEY_MAX_LENGTH`).
pub const KEY_MAX_LENGTH: usize = 250;

/// Whether memcached would refuse an item as "too large": its `item_size_ok` compares the whole
/// item (48-byte header, 8-byte CAS, the key and its NUL, the data and its CRLF, and 4 bytes of
/// client flags when they are not 0) with `item_size_max`.
pub fn item_too_large(limits: &Limits, key_len: usize, data_len: usize, flags: u32) -> bool {
    let flags_size = if flags == 0 { 0 } else { 4 };
    48 + 8 + key_len + 1 + data_len + 2 + flags_size > limits.item_size_max
}

/// One request, or an error reply the parser produced itself.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Text(text::Command),
    Meta(meta::Command),
    Binary(binary::Request),
    /// Send this line (without CRLF) and carry on.
    Error(&'static str),
}

/// The connection must be closed without a reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Close;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Text,
    Binary,
}

/// An incremental parser for one connection.
#[derive(Debug, Default)]
pub struct MemcacheParser {
    mode: Option<Mode>,
    text: text::TextParser,
    binary: binary::BinaryParser,
}

impl MemcacheParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// The next request in `buf`, consuming its bytes; `Ok(None)` when more bytes are needed.
    pub fn parse(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Parsed>, Close> {
        let mode = match self.mode {
            Some(mode) => mode,
            None => {
                let Some(&first) = buf.first() else {
                    return Ok(None);
                };
                let mode = if first == binary::REQUEST_MAGIC {
                    Mode::Binary
                } else {
                    Mode::Text
                };
                self.mode = Some(mode);
                mode
            }
        };
        match mode {
            Mode::Text => self.text.parse(buf, limits),
            Mode::Binary => self.binary.parse(buf, limits),
        }
    }

    /// Whether the connection speaks the binary protocol.
    pub fn is_binary(&self) -> bool {
        self.mode == Some(Mode::Binary)
    }

    /// How many bytes the request being read still needs, at least (0 if unknown), so the
    /// connection can size its next read.
    pub fn wanted(&self) -> usize {
        match self.mode {
            Some(Mode::Text) => self.text.wanted(),
            Some(Mode::Binary) => self.binary.wanted(),
            None => 0,
        }
    }
}

/// Parses memcached's unsigned 32-bit numbers (`safe_strtoul`): digits with an optional `+`,
/// anything that fits 64 bits, truncated to 32 as memcached's assignment truncates it (a flags
/// value of 4294967296 is stored as 0 by memcached, and here too).
pub fn parse_u32(token: &[u8]) -> Option<u32> {
    parse_u64(token).map(|n| n as u32)
}

/// Parses memcached's unsigned 64-bit numbers (`safe_strtoull`).
pub fn parse_u64(token: &[u8]) -> Option<u64> {
    let digits = token.strip_prefix(b"+").unwrap_or(token);
    parse_digits(digits)
}

/// Parses memcached's signed 32-bit numbers (`safe_strtol`: exptimes, data lengths): anything
/// `strtol` takes without overflow, truncated to 32 bits like memcached's assignment.
pub fn parse_i32(token: &[u8]) -> Option<i32> {
    let (negative, digits) = match token.first() {
        Some(b'-') => (true, &token[1..]),
        Some(b'+') => (false, &token[1..]),
        _ => (false, token),
    };
    // Past u64 is past i64 too: None either way.
    let magnitude = parse_digits(digits)? as i128;
    let value = if negative { -magnitude } else { magnitude };
    i64::try_from(value).ok().map(|n| n as i32)
}

/// A run of ASCII digits as a number; `None` when empty, not all digits, or past `u64`.
fn parse_digits(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in digits {
        let digit = byte.wrapping_sub(b'0');
        if digit > 9 {
            return None;
        }
        value = value.checked_mul(10)?.checked_add(digit as u64)?;
    }
    Some(value)
}

/// Which parser a fuzz target drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FuzzTarget {
    Text,
    /// The text parser with every input starting as a meta command.
    Meta,
    Binary,
}

/// The fuzz targets' body: feeds `input` to a parser in two pieces split at a point the input
/// picks; whatever comes out, nothing may panic and no request may grow the buffer.
pub fn fuzz_one_input(target: FuzzTarget, input: &[u8]) {
    let limits = Limits {
        item_size_max: 4096,
    };
    let mut parser = MemcacheParser::new();
    parser.mode = Some(match target {
        FuzzTarget::Binary => Mode::Binary,
        _ => Mode::Text,
    });
    let mut bytes = Vec::with_capacity(input.len() + 1);
    if target == FuzzTarget::Meta {
        bytes.push(b'm');
    }
    bytes.extend_from_slice(input);
    let split = input.first().map_or(0, |&b| b as usize % (bytes.len() + 1));
    let mut buf = BytesMut::new();
    for piece in [&bytes[..split], &bytes[split..]] {
        buf.extend_from_slice(piece);
        loop {
            let before = buf.len();
            match parser.parse(&mut buf, &limits) {
                Ok(Some(_)) => assert!(buf.len() <= before),
                Ok(None) => break,
                Err(Close) => return,
            }
        }
    }
}

#[cfg(test)]
mod tests;
