//! Skeleton: the RESP request parser (filled in by the protocol helper).

use bytes::{Bytes, BytesMut};

/// Limits the parser enforces, from the configuration.
#[derive(Debug, Clone)]
pub struct ParserLimits {
    /// `proto-max-bulk-len`: the largest bulk argument accepted.
    pub proto_max_bulk_len: usize,
}

impl Default for ParserLimits {
    fn default() -> Self {
        ParserLimits { proto_max_bulk_len: 512 * 1024 * 1024 }
    }
}

/// A malformed request. Displays as the text after `ERR Protocol error: `; the connection replies
/// `-ERR Protocol error: <text>` and closes, as Redis does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ProtocolError(pub String);

/// Incremental parser for RESP multibulk and inline requests; keeps its progress between calls so
/// a large request is not re-scanned on every read.
#[derive(Debug, Default)]
pub struct RespParser {}

impl RespParser {
    pub fn new() -> Self {
        RespParser::default()
    }

    /// Parses the next complete request from the front of `buf`, removing its bytes. `Ok(None)`
    /// means more bytes are needed.
    pub fn parse(&mut self, buf: &mut BytesMut, limits: &ParserLimits) -> Result<Option<Vec<Bytes>>, ProtocolError> {
        let _ = (buf, limits);
        todo!()
    }
}
