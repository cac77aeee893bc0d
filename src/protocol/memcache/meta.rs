//! Memcached's meta commands (`mg ms md ma mn me`): their flags, read the way memcached 1.6's
//! `_meta_flag_preparse` reads them, with its error texts.
//!
//! Flags are single letters, some followed by a token (`T30`, `F5`, `Oopaque`). The parser checks
//! and decodes them into [`Options`] and keeps the flag tokens in request order, because the reply
//! echoes the return flags (`k c f t s h l O b`) in the order they were asked for.

use bytes::Bytes;

use super::text::{BAD_FORMAT, ERROR, TOO_LARGE};
use super::{base64, item_too_large, parse_i32, parse_u32, parse_u64, Limits, KEY_MAX_LENGTH};

/// Memcached's `MFLAG_MAX_OPT_LENGTH`, counted in tokens including the terminal one.
const MAX_TOKENS: usize = 20;
/// Memcached's `MFLAG_MAX_OPAQUE_LENGTH`, the `O` flag token included.
const MAX_OPAQUE: usize = 32;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Get,
    Set,
    /// An `ms` refused as too large: reply the error, and drop the stored item (memcached does,
    /// so that no stale value outlives a failed overwrite).
    SetTooLarge,
    Delete,
    Arith,
    Noop,
    Debug,
}

/// What the flags ask for.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Options {
    /// `v`: return the value.
    pub value: bool,
    /// `q`: hide the nominal reply (EN for mg, HD for ms/md/ma; NF for mg).
    pub quiet: bool,
    /// `u`: do not bump the item's access time or fetched bit.
    pub no_update: bool,
    /// `T`: new TTL (memcached exptime).
    pub ttl: Option<i32>,
    /// `N`: create the item on a miss, with this exptime.
    pub vivify: Option<i32>,
    /// `R`: win a recache token if the TTL left is below this.
    pub recache: Option<i32>,
    /// `F`: client flags for ms.
    pub client_flags: u32,
    /// `C`: compare this CAS.
    pub compare_cas: Option<u64>,
    /// `E`: use this as the new CAS.
    pub new_cas: Option<u64>,
    /// `M`: mode switch letter (ms: E A P R S; ma: I + D -).
    pub mode: Option<u8>,
    /// `D`: ma delta (default 1).
    pub delta: u64,
    /// `J`: ma initial value for N.
    pub initial: u64,
    /// `I`: invalidate (md marks stale instead of deleting).
    pub invalidate: bool,
}

/// One meta command.
#[derive(Debug, Clone, PartialEq)]
pub struct Command {
    pub kind: Kind,
    /// The key, base64-decoded under the `b` flag.
    pub key: Bytes,
    /// Whether the key came base64-encoded (replies then encode it again and add ` b`).
    pub key_binary: bool,
    /// The flag tokens in request order.
    pub flags: Vec<Bytes>,
    pub options: Options,
    /// The data block of `ms`.
    pub data: Bytes,
}

/// What [`parse`] made of a meta command line.
#[derive(Debug)]
pub enum Parse {
    Ready(Command),
    /// An `ms` whose data block (this many bytes, CRLF excluded) must be read first.
    NeedsData(Command, usize),
    Error(&'static str),
    /// An `ms` refused before its data block: swallow the block (this many bytes, CRLF excluded),
    /// then reply the error, or run the command when there is one.
    Refused(&'static str, usize, Option<Command>),
}

/// Reads a meta command's tokens (`tokens[0]` is the two-letter name).
pub fn parse(tokens: Vec<Bytes>, limits: &Limits) -> Parse {
    let kind = match tokens[0][1] {
        b'g' => Kind::Get,
        b's' => Kind::Set,
        b'd' => Kind::Delete,
        b'a' => Kind::Arith,
        b'n' => Kind::Noop,
        b'e' => Kind::Debug,
        _ => return Parse::Error(ERROR),
    };
    let count = tokens.len() + 1; // memcached's ntokens counts a terminal token
    let empty = || Command {
        kind,
        key: Bytes::new(),
        key_binary: false,
        flags: Vec::new(),
        options: Options::default(),
        data: Bytes::new(),
    };
    match kind {
        Kind::Noop => return Parse::Ready(empty()),
        Kind::Debug => {
            if count < 3 || tokens[1].len() > KEY_MAX_LENGTH {
                return Parse::Error(BAD_FORMAT);
            }
            let mut command = Command {
                key: tokens[1].clone(),
                ..empty()
            };
            if count >= 4 && &tokens[2][..] == b"b" {
                match base64::decode(&tokens[1]) {
                    Some(key) => {
                        command.key = Bytes::from(key);
                        command.key_binary = true;
                    }
                    None => return Parse::Error(BAD_FORMAT),
                }
            }
            return Parse::Ready(command);
        }
        _ => {}
    }
    if count < 3 {
        return Parse::Error(ERROR);
    }
    if tokens[1].len() > KEY_MAX_LENGTH {
        return Parse::Error(BAD_FORMAT);
    }
    if kind == Kind::Set && count == 3 {
        return Parse::Error(BAD_FORMAT);
    }
    if count > MAX_TOKENS {
        return Parse::Error(match kind {
            Kind::Get => "CLIENT_ERROR options flags are too long",
            _ => "CLIENT_ERROR options flags too long",
        });
    }
    let mut length = 0;
    let first_flag = if kind == Kind::Set {
        match parse_i32(&tokens[2]).and_then(|n| usize::try_from(n).ok()) {
            Some(n) if n <= i32::MAX as usize - 2 => length = n,
            _ => return Parse::Error(BAD_FORMAT),
        }
        3
    } else {
        2
    };
    let flags = tokens[first_flag..].to_vec();
    let mut command = Command {
        key: tokens[1].clone(),
        flags,
        options: Options {
            delta: 1,
            ..Options::default()
        },
        ..empty()
    };
    let refuse = |text: &'static str| match kind {
        Kind::Set => Parse::Refused(text, length, None),
        Kind::Delete | Kind::Arith => Parse::Error("CLIENT_ERROR invalid or duplicate flag"),
        _ => Parse::Error(text),
    };
    if let Err(text) = read_flags(&mut command) {
        return refuse(text);
    }
    let opaque_too_long = command
        .flags
        .iter()
        .any(|flag| flag[0] == b'O' && flag.len() > MAX_OPAQUE);
    if opaque_too_long {
        return match kind {
            Kind::Set => Parse::Refused("CLIENT_ERROR opaque token too long", length, None),
            _ => Parse::Error("CLIENT_ERROR opaque token too long"),
        };
    }
    match (kind, command.options.mode) {
        (Kind::Set, Some(mode)) if !b"EAPRS".contains(&mode) => {
            return Parse::Refused("CLIENT_ERROR invalid mode for ms M token", length, None)
        }
        (Kind::Arith, Some(mode)) if !b"I+D-".contains(&mode) => {
            return Parse::Error("CLIENT_ERROR invalid mode for ma M token")
        }
        _ => {}
    }
    if kind == Kind::Set {
        let flags = command.options.client_flags;
        if item_too_large(limits, command.key.len(), length, flags) {
            command.kind = Kind::SetTooLarge;
            return Parse::Refused(TOO_LARGE, length, Some(command));
        }
        return Parse::NeedsData(command, length);
    }
    Parse::Ready(command)
}

/// Memcached's `_meta_flag_preparse`: checks every flag, decodes the key under `b`. Errors that
/// stop the scan at once (a duplicate or unknown flag) and errors noted while it goes on (a bad
/// token: the last one noted wins) both come back as the text to reply.
fn read_flags(command: &mut Command) -> Result<(), &'static str> {
    let mut seen = [false; 128];
    let mut noted: Option<&'static str> = None;
    let options = &mut command.options;
    for flag in &command.flags {
        let letter = flag[0];
        if letter >= 127 || seen[letter as usize] {
            return Err("CLIENT_ERROR duplicate flag");
        }
        seen[letter as usize] = true;
        let rest = &flag[1..];
        let bad_token = "CLIENT_ERROR bad token in command line format";
        match letter {
            b'b' => match base64::decode(&command.key) {
                Some(key) => {
                    command.key = Bytes::from(key);
                    command.key_binary = true;
                }
                None => noted = Some("CLIENT_ERROR error decoding key"),
            },
            b'N' | b'T' | b'R' => match parse_i32(rest) {
                Some(exptime) => {
                    let slot = match letter {
                        b'N' => &mut options.vivify,
                        b'T' => &mut options.ttl,
                        _ => &mut options.recache,
                    };
                    *slot = Some(exptime);
                }
                None => noted = Some(bad_token),
            },
            b'O' | b'P' | b'L' | b'k' | b's' | b't' | b'c' | b'f' | b'l' | b'h' => {}
            b'v' => options.value = true,
            b'u' => options.no_update = true,
            b'q' => options.quiet = true,
            b'I' => options.invalidate = true,
            b'F' => match parse_u32(rest) {
                Some(flags) => options.client_flags = flags,
                None => noted = Some(BAD_FORMAT),
            },
            b'C' | b'E' => match parse_u64(rest) {
                Some(cas) if letter == b'C' => options.compare_cas = Some(cas),
                Some(cas) => options.new_cas = Some(cas),
                None => noted = Some(bad_token),
            },
            b'M' => {
                if flag.len() != 2 {
                    noted = Some("CLIENT_ERROR incorrect length for M token");
                } else {
                    options.mode = Some(rest[0]);
                }
            }
            b'J' => match parse_u64(rest) {
                Some(initial) => options.initial = initial,
                None => noted = Some("CLIENT_ERROR invalid numeric initial value"),
            },
            b'D' => match parse_u64(rest) {
                Some(delta) => options.delta = delta,
                None => noted = Some("CLIENT_ERROR invalid numeric delta value"),
            },
            _ => return Err("CLIENT_ERROR invalid flag"),
        }
    }
    match noted {
        Some(text) => Err(text),
        None => Ok(()),
    }
}
