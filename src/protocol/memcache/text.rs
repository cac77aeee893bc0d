//! Memcached's text protocol: line framing, the classic commands, and the data blocks of storage
//! commands (shared with the meta `ms` command, whose flags `meta.rs` reads).
//!
//! Framing follows memcached 1.6's `try_read_command_ascii`: a command is a line ending in `\n`
//! (a `\r` before it is dropped); tokens are separated by spaces only. A storage command's line is
//! followed by a data block of exactly the announced length plus `\r\n`; the block is taken whole,
//! and if its last two bytes are not `\r\n` the reply is `CLIENT_ERROR bad data chunk` (whatever
//! follows is read as the next command, as memcached does). A refused item (too large, bad ms
//! flags) has its block swallowed unread. Without a newline in the first 2048 bytes, the connection
//! is closed unless the line is a `get`/`gets` (large multigets are legal).

use bytes::{Bytes, BytesMut};
use smallvec::SmallVec;

use super::meta;
use super::{
    item_too_large, parse_i32, parse_u32, parse_u64, Close, Limits, Parsed, KEY_MAX_LENGTH,
};

/// Longest line memcached waits for before deciding it is junk.
const LINE_MAX: usize = 2048;
/// Longest multiget line accepted (memcached has no bound; this one keeps memory in check).
const MULTIGET_LINE_MAX: usize = 16 * 1024 * 1024;

pub const ERROR: &str = "ERROR";
pub const BAD_FORMAT: &str = "CLIENT_ERROR bad command line format";
pub const BAD_CHUNK: &str = "CLIENT_ERROR bad data chunk";
pub const TOO_LARGE: &str = "SERVER_ERROR object too large for cache";
const BAD_DELETE: &str = "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
const BAD_EXPTIME: &str = "CLIENT_ERROR invalid exptime argument";
const BAD_DELTA: &str = "CLIENT_ERROR invalid numeric delta argument";

/// The classic storage commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreKind {
    Set,
    Add,
    Replace,
    Append,
    Prepend,
    Cas,
}

/// A classic text command.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// get, gets (`cas`), gat and gats (`touch` holds the exptime).
    Get {
        keys: Vec<Bytes>,
        cas: bool,
        touch: Option<i32>,
    },
    Store {
        kind: StoreKind,
        key: Bytes,
        flags: u32,
        exptime: i32,
        data: Bytes,
        cas_unique: u64,
        noreply: bool,
    },
    /// A storage command refused as too large: its data block was swallowed. Memcached also drops
    /// the item stored under the key for `set`, so no stale value outlives a failed overwrite.
    TooLarge {
        key: Bytes,
        drop_existing: bool,
        noreply: bool,
    },
    Delete {
        key: Bytes,
        noreply: bool,
    },
    Arith {
        key: Bytes,
        incr: bool,
        delta: u64,
        noreply: bool,
    },
    Touch {
        key: Bytes,
        exptime: i32,
        noreply: bool,
    },
    FlushAll {
        delay: i32,
        noreply: bool,
    },
    Version,
    Verbosity {
        noreply: bool,
    },
    /// `stats` and its argument tokens.
    Stats(Vec<Bytes>),
    Quit,
}

/// A storage command whose data block is still arriving.
#[derive(Debug)]
enum Pending {
    Store(Command),
    Meta(meta::Command),
}

#[derive(Debug, Default)]
pub struct TextParser {
    /// The command waiting for its data block, and the block's length with its CRLF.
    pending: Option<(Pending, usize)>,
    /// Bytes of a refused data block still to drop.
    swallow: usize,
    /// Bytes of the buffer already searched for a newline.
    scanned: usize,
}

impl TextParser {
    pub fn wanted(&self) -> usize {
        match &self.pending {
            Some((_, length)) => *length,
            None => self.swallow,
        }
    }

    pub fn parse(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Parsed>, Close> {
        loop {
            if self.swallow > 0 {
                let dropped = self.swallow.min(buf.len());
                let _ = buf.split_to(dropped);
                self.swallow -= dropped;
                if self.swallow > 0 {
                    return Ok(None);
                }
            }
            if let Some((_, length)) = &self.pending {
                if buf.len() < *length {
                    return Ok(None);
                }
                let Some((pending, length)) = self.pending.take() else {
                    return Ok(None);
                };
                match complete(pending, buf.split_to(length).freeze()) {
                    Some(parsed) => return Ok(Some(parsed)),
                    None => continue,
                }
            }
            let Some(line) = self.next_line(buf)? else {
                return Ok(None);
            };
            let mut announced = None;
            if let Some(parsed) = self.command(line, limits, &mut announced) {
                return Ok(Some(parsed));
            }
            if let Some((pending, length)) = announced {
                // A data block that has arrived with its command line is attached at once; one
                // still arriving waits in `pending`.
                if buf.len() < length {
                    self.pending = Some((pending, length));
                    return Ok(None);
                }
                match complete(pending, buf.split_to(length).freeze()) {
                    Some(parsed) => return Ok(Some(parsed)),
                    None => continue,
                }
            }
            // A command that produced nothing (an error silenced by noreply): go on.
        }
    }

    /// The next complete line without its line ending, or `None` when it has not all arrived.
    fn next_line(&mut self, buf: &mut BytesMut) -> Result<Option<Bytes>, Close> {
        let start = self.scanned.min(buf.len());
        let Some(offset) = memchr::memchr(b'\n', &buf[start..]) else {
            self.scanned = buf.len();
            if buf.len() > LINE_MAX {
                let trimmed = buf.iter().position(|&b| b != b' ').unwrap_or(buf.len());
                let multiget =
                    buf[trimmed..].starts_with(b"get ") || buf[trimmed..].starts_with(b"gets ");
                if trimmed > 100 || !multiget || buf.len() > MULTIGET_LINE_MAX {
                    return Err(Close);
                }
            }
            return Ok(None);
        };
        self.scanned = 0;
        let end = start + offset;
        let mut line = buf.split_to(end + 1).freeze();
        line.truncate(end);
        if line.len() > 1 && line.ends_with(b"\r") {
            line.truncate(line.len() - 1);
        }
        Ok(Some(line))
    }

    /// Reads one command line. `None` when it wants no reply (an error under noreply) or data: a
    /// storage command then leaves itself and its data block's length (with CRLF) in `announced`.
    fn command(
        &mut self,
        line: Bytes,
        limits: &Limits,
        announced: &mut Option<(Pending, usize)>,
    ) -> Option<Parsed> {
        let tokens = Tokens::split(line);
        // Memcached counts a terminal token too; `count` is the number of real ones.
        let count = tokens.len();
        if count == 0 || tokens[0].len() < 2 {
            return Some(Parsed::Error(ERROR));
        }
        let name = &tokens[0][..];
        if name.len() == 2 && name[0] == b'm' {
            return self.meta(tokens.to_vec(0), limits, announced);
        }
        let noreply = count > 1 && &tokens[count - 1][..] == b"noreply";
        let error = |text: &'static str| (!noreply).then_some(Parsed::Error(text));
        let text = |command: Command| Some(Parsed::Text(command));
        match name {
            b"get" | b"gets" | b"gat" | b"gats" | b"bget" => {
                if count < 2 {
                    return Some(Parsed::Error(ERROR));
                }
                let touching = name.starts_with(b"gat");
                let cas = name == b"gets" || name == b"gats";
                let (touch, first_key) = if touching {
                    match parse_i32(&tokens[1]) {
                        Some(exptime) => (Some(exptime), 2),
                        None => return Some(Parsed::Error(BAD_EXPTIME)),
                    }
                } else {
                    (None, 1)
                };
                let keys: Vec<Bytes> = tokens.to_vec(first_key);
                if keys.iter().any(|key| key.len() > KEY_MAX_LENGTH) {
                    return Some(Parsed::Error(BAD_FORMAT));
                }
                text(Command::Get { keys, cas, touch })
            }
            b"set" | b"add" | b"replace" | b"append" | b"prepend" | b"cas" => {
                let kind = match name {
                    b"set" => StoreKind::Set,
                    b"add" => StoreKind::Add,
                    b"replace" => StoreKind::Replace,
                    b"append" => StoreKind::Append,
                    b"prepend" => StoreKind::Prepend,
                    _ => StoreKind::Cas,
                };
                let base = if kind == StoreKind::Cas { 6 } else { 5 };
                if count != base && count != base + 1 {
                    return Some(Parsed::Error(ERROR));
                }
                self.store_header(kind, &tokens, noreply, limits, announced)
            }
            b"delete" => {
                if !(2..=4).contains(&count) {
                    return Some(Parsed::Error(ERROR));
                }
                if count > 2 {
                    let hold_is_zero = &tokens[2][..] == b"0";
                    let valid = (count == 3 && (hold_is_zero || noreply))
                        || (count == 4 && hold_is_zero && noreply);
                    if !valid {
                        return error(BAD_DELETE);
                    }
                }
                if tokens[1].len() > KEY_MAX_LENGTH {
                    return error(BAD_FORMAT);
                }
                text(Command::Delete {
                    key: tokens.bytes(1),
                    noreply,
                })
            }
            b"incr" | b"decr" => {
                if count != 3 && count != 4 {
                    return Some(Parsed::Error(ERROR));
                }
                if tokens[1].len() > KEY_MAX_LENGTH {
                    return error(BAD_FORMAT);
                }
                let Some(delta) = parse_u64(&tokens[2]) else {
                    return error(BAD_DELTA);
                };
                text(Command::Arith {
                    key: tokens.bytes(1),
                    incr: name == b"incr",
                    delta,
                    noreply,
                })
            }
            b"touch" => {
                if count != 3 && count != 4 {
                    return Some(Parsed::Error(ERROR));
                }
                if tokens[1].len() > KEY_MAX_LENGTH {
                    return error(BAD_FORMAT);
                }
                let Some(exptime) = parse_i32(&tokens[2]) else {
                    return error(BAD_EXPTIME);
                };
                text(Command::Touch {
                    key: tokens.bytes(1),
                    exptime,
                    noreply,
                })
            }
            b"flush_all" => {
                if count > 3 {
                    return Some(Parsed::Error(ERROR));
                }
                let delay = if count == if noreply { 2 } else { 1 } {
                    0
                } else {
                    match parse_i32(&tokens[1]) {
                        Some(delay) => delay,
                        None => return error(BAD_EXPTIME),
                    }
                };
                text(Command::FlushAll { delay, noreply })
            }
            b"version" => text(Command::Version),
            b"quit" => text(Command::Quit),
            b"verbosity" => {
                if count != 2 && count != 3 {
                    return Some(Parsed::Error(ERROR));
                }
                if parse_u32(&tokens[1]).is_none() {
                    return error(BAD_FORMAT);
                }
                text(Command::Verbosity { noreply })
            }
            b"stats" => text(Command::Stats(tokens.to_vec(1))),
            _ => Some(Parsed::Error(ERROR)),
        }
    }

    fn store_header(
        &mut self,
        kind: StoreKind,
        tokens: &Tokens,
        noreply: bool,
        limits: &Limits,
        announced: &mut Option<(Pending, usize)>,
    ) -> Option<Parsed> {
        let error = |text: &'static str| (!noreply).then_some(Parsed::Error(text));
        if tokens[1].len() > KEY_MAX_LENGTH {
            return error(BAD_FORMAT);
        }
        let (Some(flags), Some(exptime), Some(length)) = (
            parse_u32(&tokens[2]),
            parse_i32(&tokens[3]),
            parse_i32(&tokens[4]),
        ) else {
            return error(BAD_FORMAT);
        };
        let cas_unique = if kind == StoreKind::Cas {
            match parse_u64(&tokens[5]) {
                Some(cas) => cas,
                None => return error(BAD_FORMAT),
            }
        } else {
            0
        };
        let Ok(length) = usize::try_from(length) else {
            return error(BAD_FORMAT);
        };
        if length > i32::MAX as usize - 2 {
            return error(BAD_FORMAT);
        }
        if item_too_large(limits, tokens[1].len(), length, flags) {
            self.swallow = length + 2;
            return Some(Parsed::Text(Command::TooLarge {
                key: tokens.bytes(1),
                drop_existing: kind == StoreKind::Set,
                noreply,
            }));
        }
        let command = Command::Store {
            kind,
            key: tokens.bytes(1),
            flags,
            exptime,
            data: Bytes::new(),
            cas_unique,
            noreply,
        };
        *announced = Some((Pending::Store(command), length + 2));
        None
    }

    fn meta(
        &mut self,
        tokens: Vec<Bytes>,
        limits: &Limits,
        announced: &mut Option<(Pending, usize)>,
    ) -> Option<Parsed> {
        match meta::parse(tokens, limits) {
            meta::Parse::Ready(command) => Some(Parsed::Meta(command)),
            meta::Parse::Error(text) => Some(Parsed::Error(text)),
            meta::Parse::NeedsData(command, length) => {
                *announced = Some((Pending::Meta(command), length + 2));
                None
            }
            meta::Parse::Refused(text, length, parsed) => {
                self.swallow = length + 2;
                match parsed {
                    Some(command) => Some(Parsed::Meta(command)),
                    None => Some(Parsed::Error(text)),
                }
            }
        }
    }
}

/// Attaches a data block to the command that announced it; `None` for a bad block under noreply.
fn complete(pending: Pending, mut block: Bytes) -> Option<Parsed> {
    let valid = block.ends_with(b"\r\n");
    // Cut in place: a slice would count one more reference to the read buffer, atomically.
    block.truncate(block.len().saturating_sub(2));
    let data = block;
    match pending {
        Pending::Store(Command::Store {
            kind,
            key,
            flags,
            exptime,
            cas_unique,
            noreply,
            ..
        }) => {
            if !valid {
                return (!noreply).then_some(Parsed::Error(BAD_CHUNK));
            }
            Some(Parsed::Text(Command::Store {
                kind,
                key,
                flags,
                exptime,
                data,
                cas_unique,
                noreply,
            }))
        }
        Pending::Store(other) => Some(Parsed::Text(other)),
        // Meta set reports a bad chunk even under q.
        Pending::Meta(_) if !valid => Some(Parsed::Error(BAD_CHUNK)),
        Pending::Meta(command) => Some(Parsed::Meta(meta::Command { data, ..command })),
    }
}

/// A command line split on spaces, empty tokens dropped, as memcached's `tokenize_command` does.
/// The tokens are spans of the line, so only those kept (keys) become `Bytes` handles.
pub struct Tokens {
    line: Bytes,
    spans: SmallVec<[(u32, u32); 8]>,
}

impl Tokens {
    /// Splits at spaces (runs of them count as one), eight bytes at a time: each word's spaces
    /// are found as a bit mask, and a token ends at every space that follows a non-space.
    pub fn split(line: Bytes) -> Tokens {
        const SPACES: u64 = u64::from_ne_bytes([b' '; 8]);
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        const HIGH: u64 = 0x8080_8080_8080_8080;
        let mut spans = SmallVec::new();
        let bytes = &line[..];
        // Start of the token being read (a token is non-empty: `start < end`).
        let mut start = 0usize;
        let mut at_space = |position: usize, spans: &mut SmallVec<[(u32, u32); 8]>| {
            if position > start {
                spans.push((start as u32, position as u32));
            }
            start = position + 1;
        };
        let mut offset = 0;
        let (words, tail) = bytes.as_chunks::<8>();
        for &word in words {
            let word = u64::from_le_bytes(word);
            let x = word ^ SPACES;
            // The high bit of each byte of `x` that is zero, i.e. of each space (exact per byte:
            // no borrow crosses bytes).
            let mut mask = !(((x & LOW7) + LOW7) | x) & HIGH;
            while mask != 0 {
                at_space(offset + (mask.trailing_zeros() / 8) as usize, &mut spans);
                mask &= mask - 1;
            }
            offset += 8;
        }
        for (i, &byte) in tail.iter().enumerate() {
            if byte == b' ' {
                at_space(offset + i, &mut spans);
            }
        }
        at_space(bytes.len(), &mut spans);
        Tokens { line, spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Token `i` as a handle sharing the line's buffer.
    pub fn bytes(&self, i: usize) -> Bytes {
        let (start, end) = self.spans[i];
        self.line.slice(start as usize..end as usize)
    }

    /// Tokens `from..` as handles.
    pub fn to_vec(&self, from: usize) -> Vec<Bytes> {
        (from..self.len()).map(|i| self.bytes(i)).collect()
    }
}

impl std::ops::Index<usize> for Tokens {
    type Output = [u8];

    fn index(&self, i: usize) -> &[u8] {
        let (start, end) = self.spans[i];
        &self.line[start as usize..end as usize]
    }
}
