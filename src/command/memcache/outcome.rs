//! What an internal memcached command did ([`Outcome`]), packed into a [`Reply`] so that it can
//! travel between cores in the reply mesh like any command's reply, and unpacked again by the
//! memcached connection. The packing is private to this pair of functions: an outcome without
//! fields is its code as an integer (no allocation on the common miss/deleted/not-stored paths),
//! `Stored(cas)` a negative integer, -1 - cas (no allocation on a store either); a `Value` is one
//! bulk string, its fixed fields (see [`VALUE_HEADER`]) then its data (one allocation a hit); any
//! other is an array whose first element is the code.

use bytes::{Buf, BufMut, Bytes};

use crate::protocol::reply::Reply;

/// An item as a read returns it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ItemView {
    pub data: Bytes,
    pub flags: u32,
    pub cas: u64,
    /// ms since the epoch, 0 = never.
    pub expire_at: u64,
    /// Seconds since the epoch of the access before this one.
    pub last_access: u32,
    /// Whether it had been read before this read.
    pub fetched: bool,
    /// Meta `W`: this request won the recache token.
    pub won: bool,
    /// Meta `Z`: a token was already handed out.
    pub token_sent: bool,
    /// Meta `X`: the item is stale.
    pub stale: bool,
}

/// What a memcached command did.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Value(ItemView),
    Miss,
    Stored(u64),
    NotStored,
    Exists,
    NotFound,
    Deleted,
    Touched,
    NonNumeric,
    /// An internal failure (bad internal arguments, or an unexpected reply); never from a client.
    Failed(String),
}

const MISS: i64 = 1;
const STORED: i64 = 2;
const NOT_STORED: i64 = 3;
const EXISTS: i64 = 4;
const NOT_FOUND: i64 = 5;
const DELETED: i64 = 6;
const TOUCHED: i64 = 7;
const NON_NUMERIC: i64 = 9;

/// A packed `Value`'s fields before its data: flags (4 bytes), CAS, deadline (8 each), last
/// access (4) and the bits of `fetched`, `won`, `token_sent`, `stale` (1), little-endian.
const VALUE_HEADER: usize = 25;

impl Outcome {
    /// `Outcome::Value(view)` with `data` for the view's data, packed: a handler reading an item
    /// passes the stored data, which is copied once, into the reply.
    pub fn value_reply(view: &ItemView, data: &[u8]) -> Reply {
        // Exactly the capacity used: a `Bytes` made from a full `Vec` needs no second block.
        let mut packed = Vec::with_capacity(VALUE_HEADER + data.len());
        packed.put_u32_le(view.flags);
        packed.put_u64_le(view.cas);
        packed.put_u64_le(view.expire_at);
        packed.put_u32_le(view.last_access);
        packed.put_u8(
            view.fetched as u8
                | (view.won as u8) << 1
                | (view.token_sent as u8) << 2
                | (view.stale as u8) << 3,
        );
        packed.put_slice(data);
        Reply::Bulk(Bytes::from(packed))
    }

    pub fn into_reply(self) -> Reply {
        let code = Reply::Integer;
        match self {
            Outcome::Value(view) => Outcome::value_reply(&view, &view.data),
            Outcome::Miss => code(MISS),
            Outcome::Stored(cas) => match i64::try_from(cas) {
                Ok(cas) => Reply::Integer(-1 - cas),
                Err(_) => Reply::Array(vec![Reply::Integer(STORED), Reply::Integer(cas as i64)]),
            },
            Outcome::NotStored => code(NOT_STORED),
            Outcome::Exists => code(EXISTS),
            Outcome::NotFound => code(NOT_FOUND),
            Outcome::Deleted => code(DELETED),
            Outcome::Touched => code(TOUCHED),
            Outcome::NonNumeric => code(NON_NUMERIC),
            Outcome::Failed(text) => Reply::error(text),
        }
    }

    pub fn from_reply(reply: Reply) -> Outcome {
        let fields = match reply {
            Reply::Bulk(mut packed) if packed.len() >= VALUE_HEADER => {
                let flags = packed.get_u32_le();
                let cas = packed.get_u64_le();
                let expire_at = packed.get_u64_le();
                let last_access = packed.get_u32_le();
                let bits = packed.get_u8();
                // What is left of the buffer is the data (advanced past the header, not copied).
                return Outcome::Value(ItemView {
                    data: packed,
                    flags,
                    cas,
                    expire_at,
                    last_access,
                    fetched: bits & 1 != 0,
                    won: bits & 2 != 0,
                    token_sent: bits & 4 != 0,
                    stale: bits & 8 != 0,
                });
            }
            Reply::Array(fields) => fields,
            Reply::Integer(packed) if packed < 0 => return Outcome::Stored((-1 - packed) as u64),
            Reply::Integer(code) => return Outcome::from_code(code),
            Reply::Error(text) => return Outcome::Failed(String::from_utf8_lossy(&text).into()),
            other => return Outcome::Failed(format!("unexpected reply {other:?}")),
        };
        let int = |i: usize| match fields.get(i) {
            Some(Reply::Integer(n)) => *n,
            _ => 0,
        };
        match int(0) {
            STORED => Outcome::Stored(int(1) as u64),
            code => Outcome::from_code(code),
        }
    }

    /// An outcome without fields, from its code.
    fn from_code(code: i64) -> Outcome {
        match code {
            MISS => Outcome::Miss,
            NOT_STORED => Outcome::NotStored,
            EXISTS => Outcome::Exists,
            NOT_FOUND => Outcome::NotFound,
            DELETED => Outcome::Deleted,
            TOUCHED => Outcome::Touched,
            NON_NUMERIC => Outcome::NonNumeric,
            other => Outcome::Failed(format!("unknown outcome {other}")),
        }
    }
}
