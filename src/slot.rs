//! Key -> slot -> shard, as in Redis Cluster: slot = CRC16(key, or its `{hashtag}`) mod 16384.

/// Number of hash slots.
pub const SLOTS: usize = 16384;

/// CRC16-CCITT (XModem), the variant Redis Cluster uses, as a compile-time table.
const CRC16_TABLE: [u16; 256] = {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &byte| {
        (crc << 8) ^ CRC16_TABLE[((crc >> 8) as u8 ^ byte) as usize]
    })
}

/// The part of the key that is hashed: the text between the first `{` and the next `}` if that
/// is non-empty, else the whole key (Redis Cluster's hash tag rule).
pub fn hash_tag(key: &[u8]) -> &[u8] {
    if let Some(open) = key.iter().position(|&b| b == b'{') {
        if let Some(len) = key[open + 1..].iter().position(|&b| b == b'}') {
            if len > 0 {
                return &key[open + 1..open + 1 + len];
            }
        }
    }
    key
}

pub fn key_slot(key: &[u8]) -> u16 {
    crc16(hash_tag(key)) % SLOTS as u16
}

/// Which shard owns each slot. Slots are split into contiguous ranges, one per shard, so that
/// moving a range between shards (online resharding) stays a range operation.
#[derive(Debug, Clone)]
pub struct SlotTable {
    owner: Vec<u16>,
}

impl SlotTable {
    pub fn new(shards: usize) -> Self {
        let shards = shards.max(1);
        SlotTable {
            owner: (0..SLOTS)
                .map(|slot| (slot * shards / SLOTS) as u16)
                .collect(),
        }
    }

    pub fn shard_of_slot(&self, slot: u16) -> usize {
        self.owner[slot as usize] as usize
    }

    pub fn shard_of_key(&self, key: &[u8]) -> usize {
        self.shard_of_slot(key_slot(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_match_redis_cluster() {
        // Values from the Redis Cluster specification and `CLUSTER KEYSLOT`.
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(key_slot(b"foo"), 12182);
        assert_eq!(key_slot(b"bar"), 5061);
        assert_eq!(key_slot(b"{user1000}.following"), key_slot(b"user1000"));
        assert_eq!(key_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") % 16384);
        assert_eq!(key_slot(b"foo{{bar}}zap"), crc16(b"{bar") % 16384);
    }

    #[test]
    fn table_covers_every_shard() {
        let table = SlotTable::new(3);
        assert_eq!(table.shard_of_slot(0), 0);
        assert_eq!(table.shard_of_slot(16383), 2);
        assert!((0..16384u16).any(|s| table.shard_of_slot(s) == 1));
    }
}
