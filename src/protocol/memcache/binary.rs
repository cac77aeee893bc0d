//! Memcached's binary protocol: 24-byte headers, requests in, responses out.
//!
//! A request is taken once its header and whole body are in the buffer; the body is split into
//! extras, key and value as zero-copy slices. A packet whose magic is not `0x80` closes the
//! connection, as memcached does. A body longer than any item could be is swallowed and answered
//! `Too large.`; per-opcode checks of the extras and key lengths happen where the opcode is run.

use bytes::{BufMut, Bytes, BytesMut};

use super::{Close, Limits, Parsed};

pub const REQUEST_MAGIC: u8 = 0x80;
pub const RESPONSE_MAGIC: u8 = 0x81;
pub const HEADER_LEN: usize = 24;

/// Opcodes (memcached's `protocol_binary.h`).
pub mod opcode {
    pub const GET: u8 = 0x00;
    pub const SET: u8 = 0x01;
    pub const ADD: u8 = 0x02;
    pub const REPLACE: u8 = 0x03;
    pub const DELETE: u8 = 0x04;
    pub const INCREMENT: u8 = 0x05;
    pub const DECREMENT: u8 = 0x06;
    pub const QUIT: u8 = 0x07;
    pub const FLUSH: u8 = 0x08;
    pub const GETQ: u8 = 0x09;
    pub const NOOP: u8 = 0x0a;
    pub const VERSION: u8 = 0x0b;
    pub const GETK: u8 = 0x0c;
    pub const GETKQ: u8 = 0x0d;
    pub const APPEND: u8 = 0x0e;
    pub const PREPEND: u8 = 0x0f;
    pub const STAT: u8 = 0x10;
    pub const SETQ: u8 = 0x11;
    pub const ADDQ: u8 = 0x12;
    pub const REPLACEQ: u8 = 0x13;
    pub const DELETEQ: u8 = 0x14;
    pub const INCREMENTQ: u8 = 0x15;
    pub const DECREMENTQ: u8 = 0x16;
    pub const QUITQ: u8 = 0x17;
    pub const FLUSHQ: u8 = 0x18;
    pub const APPENDQ: u8 = 0x19;
    pub const PREPENDQ: u8 = 0x1a;
    pub const TOUCH: u8 = 0x1c;
    pub const GAT: u8 = 0x1d;
    pub const GATQ: u8 = 0x1e;
    pub const GATK: u8 = 0x23;
    pub const GATKQ: u8 = 0x24;
}

/// Response statuses and memcached's texts for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u16)]
pub enum Status {
    Success = 0x00,
    KeyNotFound = 0x01,
    KeyExists = 0x02,
    TooLarge = 0x03,
    InvalidArguments = 0x04,
    NotStored = 0x05,
    NonNumeric = 0x06,
    UnknownCommand = 0x81,
    OutOfMemory = 0x82,
}

impl Status {
    /// The body memcached sends with an error status (`write_bin_error`).
    pub fn text(self) -> &'static str {
        match self {
            Status::Success => "",
            Status::KeyNotFound => "Not found",
            Status::KeyExists => "Data exists for key.",
            Status::TooLarge => "Too large.",
            Status::InvalidArguments => "Invalid arguments",
            Status::NotStored => "Not stored.",
            Status::NonNumeric => "Non-numeric server-side value for incr or decr",
            Status::UnknownCommand => "Unknown command",
            Status::OutOfMemory => "Out of memory",
        }
    }
}

/// One binary request.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Request {
    pub opcode: u8,
    pub opaque: u32,
    pub cas: u64,
    pub extras: Bytes,
    pub key: Bytes,
    pub value: Bytes,
    /// Set when the body was too large and swallowed; the reply is `Too large.`.
    pub too_large: bool,
}

impl Request {
    pub fn extra_u32(&self, offset: usize) -> Option<u32> {
        let bytes = self.extras.get(offset..offset + 4)?;
        Some(u32::from_be_bytes(bytes.try_into().ok()?))
    }

    pub fn extra_u64(&self, offset: usize) -> Option<u64> {
        let bytes = self.extras.get(offset..offset + 8)?;
        Some(u64::from_be_bytes(bytes.try_into().ok()?))
    }
}

/// The header fields of a request still being read.
#[derive(Debug, Clone, Copy)]
struct Header {
    opcode: u8,
    key_len: usize,
    extras_len: usize,
    body_len: usize,
    opaque: u32,
    cas: u64,
}

#[derive(Debug, Default)]
pub struct BinaryParser {
    /// A header whose body is being swallowed (too large), and the bytes left to drop.
    swallowing: Option<(Header, usize)>,
    wanted: usize,
}

impl BinaryParser {
    pub fn wanted(&self) -> usize {
        self.wanted
    }

    pub fn parse(&mut self, buf: &mut BytesMut, limits: &Limits) -> Result<Option<Parsed>, Close> {
        if let Some((header, left)) = self.swallowing.take() {
            let dropped = left.min(buf.len());
            let _ = buf.split_to(dropped);
            if dropped < left {
                self.swallowing = Some((header, left - dropped));
                self.wanted = left - dropped;
                return Ok(None);
            }
            return Ok(Some(Parsed::Binary(Request {
                opcode: header.opcode,
                opaque: header.opaque,
                cas: header.cas,
                too_large: true,
                ..Request::default()
            })));
        }
        if buf.len() < HEADER_LEN {
            self.wanted = HEADER_LEN;
            return Ok(None);
        }
        if buf[0] != REQUEST_MAGIC {
            return Err(Close);
        }
        let header = Header {
            opcode: buf[1],
            key_len: u16::from_be_bytes([buf[2], buf[3]]) as usize,
            extras_len: buf[4] as usize,
            body_len: u32::from_be_bytes([buf[8], buf[9], buf[10], buf[11]]) as usize,
            opaque: u32::from_be_bytes([buf[12], buf[13], buf[14], buf[15]]),
            cas: u64::from_be_bytes([
                buf[16], buf[17], buf[18], buf[19], buf[20], buf[21], buf[22], buf[23],
            ]),
        };
        if header.key_len + header.extras_len > header.body_len {
            // Memcached answers a malformed packet with an error and closes.
            return Err(Close);
        }
        // Room for the largest item plus its key and extras; anything longer cannot be stored.
        if header.body_len > limits.item_size_max + 512 {
            let _ = buf.split_to(HEADER_LEN);
            self.swallowing = Some((header, header.body_len));
            return self.parse(buf, limits);
        }
        let total = HEADER_LEN + header.body_len;
        if buf.len() < total {
            self.wanted = total;
            return Ok(None);
        }
        self.wanted = 0;
        let packet = buf.split_to(total).freeze();
        let body = packet.slice(HEADER_LEN..);
        let key_start = header.extras_len;
        let value_start = key_start + header.key_len;
        Ok(Some(Parsed::Binary(Request {
            opcode: header.opcode,
            opaque: header.opaque,
            cas: header.cas,
            extras: body.slice(..key_start),
            key: body.slice(key_start..value_start),
            value: body.slice(value_start..),
            too_large: false,
        })))
    }
}

/// Appends one response packet.
#[allow(clippy::too_many_arguments)]
pub fn encode_response(
    out: &mut BytesMut,
    opcode: u8,
    status: Status,
    opaque: u32,
    cas: u64,
    extras: &[u8],
    key: &[u8],
    value: &[u8],
) {
    out.reserve(HEADER_LEN + extras.len() + key.len() + value.len());
    out.put_u8(RESPONSE_MAGIC);
    out.put_u8(opcode);
    out.put_u16(key.len() as u16);
    out.put_u8(extras.len() as u8);
    out.put_u8(0);
    out.put_u16(status as u16);
    out.put_u32((extras.len() + key.len() + value.len()) as u32);
    out.put_u32(opaque);
    out.put_u64(cas);
    out.put_slice(extras);
    out.put_slice(key);
    out.put_slice(value);
}

/// Appends an error response with memcached's text for `status` as its body.
pub fn encode_error(out: &mut BytesMut, opcode: u8, status: Status, opaque: u32) {
    encode_response(
        out,
        opcode,
        status,
        opaque,
        0,
        &[],
        &[],
        status.text().as_bytes(),
    );
}
