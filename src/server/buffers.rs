//! The per-core pool of read buffers.
//!
//! A connection holds a read buffer only while it has bytes to parse: before it waits for a quiet
//! socket with nothing pending, it hands its buffer back here, and takes one again when the socket
//! becomes readable. So 20,000 idle connections hold no read buffers at all (Redis frees an idle
//! client's query buffer in `clientsCronResizeQueryBuffer` for the same reason), while a busy
//! connection pays two `Vec` operations per request instead of an allocation.
//!
//! Only the owning core touches its pool. A buffer comes back only if no argument sliced from it is
//! still alive (`BytesMut::try_reclaim`); otherwise it is simply dropped and the slices keep their
//! bytes.

use std::cell::RefCell;

use bytes::BytesMut;

/// The size a read buffer starts with, and the most a single read asks for unless a large bulk
/// argument is arriving.
pub const READ_CHUNK: usize = 16 * 1024;
/// Buffers grown beyond this (a large argument passed through) are not kept.
const KEEP_BUFFER: usize = 64 * 1024;
/// How many spare buffers a core keeps.
const MAX_POOLED: usize = 64;

#[derive(Default)]
pub struct ReadBuffers {
    free: RefCell<Vec<BytesMut>>,
}

impl ReadBuffers {
    /// An empty buffer with room for at least [`READ_CHUNK`] bytes.
    pub fn take(&self) -> BytesMut {
        self.free
            .borrow_mut()
            .pop()
            .unwrap_or_else(|| BytesMut::with_capacity(READ_CHUNK))
    }

    /// Takes back an emptied buffer (anything else is dropped).
    pub fn give_back(&self, mut buffer: BytesMut) {
        if !buffer.is_empty() || buffer.capacity() == 0 || !buffer.try_reclaim(READ_CHUNK) {
            return;
        }
        let mut free = self.free.borrow_mut();
        if buffer.capacity() <= KEEP_BUFFER && free.len() < MAX_POOLED {
            free.push(buffer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reclaimed_buffer_is_reused() {
        let pool = ReadBuffers::default();
        let mut buffer = pool.take();
        let address = buffer.as_ptr();
        buffer.extend_from_slice(b"*1\r\n$4\r\nPING\r\n");
        let request = buffer.split().freeze();
        drop(request);
        pool.give_back(buffer);
        let again = pool.take();
        assert_eq!(again.as_ptr(), address, "the same allocation comes back");
        assert!(again.capacity() >= READ_CHUNK);
    }

    #[test]
    fn a_buffer_still_referenced_is_not_pooled() {
        let pool = ReadBuffers::default();
        let mut buffer = pool.take();
        buffer.extend_from_slice(b"value");
        let alive = buffer.split().freeze();
        pool.give_back(buffer);
        assert!(pool.free.borrow().is_empty());
        assert_eq!(&alive[..], b"value");
    }

    #[test]
    fn non_empty_buffers_are_refused() {
        let pool = ReadBuffers::default();
        let mut buffer = pool.take();
        buffer.extend_from_slice(b"partial");
        pool.give_back(buffer);
        assert!(pool.free.borrow().is_empty());
    }
}
