//! The thresholds at which a small collection leaves its compact encoding, from the configuration
//! (Redis's `hash-max-listpack-*`, `set-max-intset-entries`, `set-max-listpack-*`,
//! `list-max-listpack-size`). Passed to every write of a collection; Redis never converts a hash
//! or set back to its compact encoding, and a list only when it shrinks to half a node's limit.

/// Encoding thresholds; the defaults are Redis 7.2's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodingLimits {
    pub hash_max_listpack_entries: usize,
    pub hash_max_listpack_value: usize,
    pub set_max_intset_entries: usize,
    pub set_max_listpack_entries: usize,
    pub set_max_listpack_value: usize,
    /// Positive: entries per quicklist node; -1..-5: node size 4, 8, 16, 32 or 64 KiB.
    pub list_max_listpack_size: i64,
}

impl Default for EncodingLimits {
    fn default() -> Self {
        EncodingLimits {
            hash_max_listpack_entries: 128,
            hash_max_listpack_value: 64,
            set_max_intset_entries: 512,
            set_max_listpack_entries: 128,
            set_max_listpack_value: 64,
            list_max_listpack_size: -2,
        }
    }
}

/// Redis's `SIZE_SAFETY_LIMIT`: a count-limited quicklist node still stays under 8 KiB.
const SIZE_SAFETY_LIMIT: usize = 8192;

impl EncodingLimits {
    /// Redis's `quicklistNodeLimit`: (largest node in bytes, most entries in a node).
    pub fn list_node_limit(&self) -> (usize, usize) {
        let fill = self.list_max_listpack_size;
        if fill >= 0 {
            (usize::MAX, (fill as usize).max(1))
        } else {
            const LEVELS: [usize; 5] = [4096, 8192, 16384, 32768, 65536];
            let level = ((-fill - 1) as usize).min(LEVELS.len() - 1);
            (LEVELS[level], usize::MAX)
        }
    }

    /// Redis's `quicklistNodeExceedsLimit`.
    pub fn list_node_exceeds(&self, bytes: usize, count: usize) -> bool {
        let (size_limit, count_limit) = self.list_node_limit();
        if size_limit != usize::MAX {
            bytes > size_limit
        } else {
            bytes > SIZE_SAFETY_LIMIT || count > count_limit
        }
    }
}
