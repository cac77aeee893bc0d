//! What an internal memcached command did ([`Outcome`]), packed into a [`Reply`] so that it can
//! travel between cores in the reply mesh like any command's reply, and unpacked again by the
//! memcached connection. The packing is private to this pair of functions: an outcome without
//! fields is its code as an integer (no allocation on the common miss/deleted/not-stored paths),
//! `Stored(cas)` a negative integer, -1 - cas (no allocation on a store either); one with more
//! fields is an array whose first element is the code.

use bytes::Bytes;

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

const VALUE: i64 = 0;
const MISS: i64 = 1;
const STORED: i64 = 2;
const NOT_STORED: i64 = 3;
const EXISTS: i64 = 4;
const NOT_FOUND: i64 = 5;
const DELETED: i64 = 6;
const TOUCHED: i64 = 7;
const NON_NUMERIC: i64 = 9;

impl Outcome {
    pub fn into_reply(self) -> Reply {
        let code = Reply::Integer;
        match self {
            Outcome::Value(view) => Reply::Array(vec![
                Reply::Integer(VALUE),
                Reply::Bulk(view.data),
                Reply::Integer(view.flags as i64),
                Reply::Integer(view.cas as i64),
                Reply::Integer(view.expire_at as i64),
                Reply::Integer(view.last_access as i64),
                Reply::Integer(
                    view.fetched as i64
                        | (view.won as i64) << 1
                        | (view.token_sent as i64) << 2
                        | (view.stale as i64) << 3,
                ),
            ]),
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
        let mut fields = match reply {
            Reply::Array(fields) => fields,
            Reply::Integer(packed) if packed < 0 => return Outcome::Stored((-1 - packed) as u64),
            Reply::Integer(code) => return Outcome::from_code(code),
            Reply::Error(text) => return Outcome::Failed(String::from_utf8_lossy(&text).into()),
            other => return Outcome::Failed(format!("unexpected reply {other:?}")),
        };
        // Moved out, not cloned: cloning a freshly built `Bytes` allocates.
        let data = match fields.get_mut(1) {
            Some(Reply::Bulk(data)) => std::mem::take(data),
            _ => Bytes::new(),
        };
        let int = |i: usize| match fields.get(i) {
            Some(Reply::Integer(n)) => *n,
            _ => 0,
        };
        match int(0) {
            VALUE => Outcome::Value(ItemView {
                data,
                flags: int(2) as u32,
                cas: int(3) as u64,
                expire_at: int(4) as u64,
                last_access: int(5) as u32,
                fetched: int(6) & 1 != 0,
                won: int(6) & 2 != 0,
                token_sent: int(6) & 4 != 0,
                stale: int(6) & 8 != 0,
            }),
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
