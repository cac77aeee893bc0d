//! Memcached's per-item fields, and the source of CAS values.
//!
//! A memcached item is a string key like any other (`TYPE` says string, RESP `GET` returns its
//! data) whose value is a [`Value::Item`](super::Value::Item): the data plus the client flags and
//! the CAS unique. Plain strings have no CAS until a memcached client asks for one; the owning
//! shard then stamps one (see `command::memcache`). A RESP write drops the item back to a plain
//! string, so the CAS a memcached client sees changes on any modification.
//!
//! # CAS values
//!
//! Memcached clients rely on a CAS being unique to one version of one item. Each shard draws from
//! its own [`CasSource`]: values are `n * CAS_STRIDE + shard`, so no two shards ever hand out the
//! same value, and each source only moves up. Writes carry their CAS as an argument (the
//! connection draws it before routing the write), and the shard that stores an item raises its own
//! source above it ([`CasSource::observe`]). Replaying those writes after a restart therefore
//! raises every source above every CAS the replayed data holds. What must be persisted besides the
//! items themselves: [`CasSource::high_water`] of every shard, so that a CAS given to an item that
//! was deleted before the snapshot is never handed out again; on start-up every shard must
//! `observe` the maximum over all shards (the shard count may have changed).

use std::ops::Deref;

use bytes::Bytes;

use super::value::reply_bytes;

/// More shards than shardis will ever run; the low part of a CAS names the shard that drew it.
pub const CAS_STRIDE: u64 = 1 << 12;

/// Longest data kept inside the item: the item is then one 80-byte block (one allocation a
/// store, one cache line fewer a read, as memcached keeps its data in the item); longer data is a
/// shared buffer beside it.
pub const ITEM_INLINE: usize = 54;

/// An item's data: inline up to [`ITEM_INLINE`] bytes, else a buffer of its own.
#[derive(Clone)]
pub enum ItemData {
    Inline { len: u8, bytes: [u8; ITEM_INLINE] },
    Heap(Bytes),
}

impl ItemData {
    /// A copy of `data`.
    pub fn new(data: &[u8]) -> ItemData {
        if data.len() <= ITEM_INLINE {
            let mut bytes = [0; ITEM_INLINE];
            bytes[..data.len()].copy_from_slice(data);
            ItemData::Inline {
                len: data.len() as u8,
                bytes,
            }
        } else {
            ItemData::Heap(Bytes::copy_from_slice(data))
        }
    }

    /// `data` as an item's: copied in when short, kept as it is otherwise.
    pub fn from_bytes(data: Bytes) -> ItemData {
        if data.len() <= ITEM_INLINE {
            ItemData::new(&data)
        } else {
            ItemData::Heap(data)
        }
    }

    /// The data as a `Bytes` to send or log (see [`reply_bytes`]).
    pub fn to_bytes(&self) -> Bytes {
        match self {
            ItemData::Inline { .. } => Bytes::copy_from_slice(self),
            ItemData::Heap(bytes) => reply_bytes(bytes),
        }
    }

    /// The data as a `Bytes`, without a copy when it has a buffer of its own.
    pub fn into_bytes(self) -> Bytes {
        match self {
            ItemData::Inline { .. } => Bytes::copy_from_slice(&self),
            ItemData::Heap(bytes) => bytes,
        }
    }

    /// Bytes held outside the item (for memory estimates).
    pub fn heap_size(&self) -> usize {
        match self {
            ItemData::Inline { .. } => 0,
            ItemData::Heap(bytes) => bytes.len(),
        }
    }
}

impl Deref for ItemData {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            ItemData::Inline { len, bytes } => &bytes[..*len as usize],
            ItemData::Heap(bytes) => bytes,
        }
    }
}

impl Default for ItemData {
    fn default() -> ItemData {
        ItemData::new(b"")
    }
}

impl PartialEq for ItemData {
    fn eq(&self, other: &ItemData) -> bool {
        self[..] == other[..]
    }
}

impl std::fmt::Debug for ItemData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", Bytes::copy_from_slice(self))
    }
}

/// The data and memcached fields of an item.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Item {
    pub data: ItemData,
    /// Memcached's opaque client flags.
    pub flags: u32,
    /// Memcached's CAS unique.
    pub cas: u64,
    /// Seconds since the epoch of the last read or write (meta `l` flag).
    pub last_access: u32,
    /// Whether the item was read since it was stored (meta `h` flag).
    pub fetched: bool,
    /// Whether a meta client was handed the recache token (`W`) for it (later ones see `Z`).
    pub token_sent: bool,
    /// Marked stale by `md .. I` (meta `X`): still readable, but the next reader wins a token.
    pub stale: bool,
}

/// One shard's source of CAS values.
#[derive(Debug, Clone)]
pub struct CasSource {
    shard: u64,
    high: u64,
}

impl CasSource {
    pub fn new(shard: usize) -> Self {
        CasSource {
            shard: shard as u64 % CAS_STRIDE,
            high: 0,
        }
    }

    /// A CAS value never handed out before by any shard.
    pub fn draw(&mut self) -> u64 {
        let round = self.high / CAS_STRIDE + 1;
        self.high = round.saturating_mul(CAS_STRIDE) + self.shard;
        self.high
    }

    /// Makes every later value larger than `cas` (a stored item's, or a recovered high-water mark).
    pub fn observe(&mut self, cas: u64) {
        self.high = self.high.max(cas);
    }

    /// The largest CAS drawn or observed: what a snapshot must persist.
    pub fn high_water(&self) -> u64 {
        self.high
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_one_small_block_and_keep_their_data() {
        assert!(size_of::<Item>() <= 80, "{}", size_of::<Item>());
        for len in [0, 1, ITEM_INLINE, ITEM_INLINE + 1, 300] {
            let data = vec![b'd'; len];
            let item = ItemData::new(&data);
            assert_eq!(&item[..], &data[..]);
            assert_eq!(matches!(item, ItemData::Inline { .. }), len <= ITEM_INLINE);
            assert_eq!(item.heap_size(), if len <= ITEM_INLINE { 0 } else { len });
            assert_eq!(ItemData::from_bytes(Bytes::from(data.clone())), item);
            assert_eq!(&item.to_bytes()[..], &data[..]);
            assert_eq!(&item.clone().into_bytes()[..], &data[..]);
        }
    }

    #[test]
    fn cas_values_are_unique_across_shards_and_only_grow() {
        let mut a = CasSource::new(0);
        let mut b = CasSource::new(3);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..1000 {
            assert!(seen.insert(a.draw()));
            assert!(seen.insert(b.draw()));
        }
        let top = b.high_water();
        a.observe(top);
        let next = a.draw();
        assert!(next > top);
        assert_eq!(next % CAS_STRIDE, 0);
    }
}
