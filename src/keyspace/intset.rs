//! Intset: a sorted array of distinct integers packed at the narrowest width that holds them all
//! (2, 4 or 8 bytes), the compact encoding of small all-integer sets (Redis's `intset.c`).
//!
//! `buf` holds the values in ascending order, little-endian, `width` bytes each; the width is a
//! field beside it rather than a header byte, so that 20 32-bit values take an 80-byte block, not
//! the next size class up (16 bytes a key for small integer sets). Adding a
//! value that needs a wider type rewrites the whole array at the new width (Redis's "upgrade");
//! the width never shrinks. Lookups are binary searches. An empty intset holds no allocation.

/// Parses a signed 64-bit integer with Redis's strictness (`string2ll`): optional `-`, digits, no
/// leading `+`, no spaces, no leading zeros except "0" itself.
pub fn parse_integer(arg: &[u8]) -> Option<i64> {
    if arg.is_empty() || arg.len() > 20 {
        return None;
    }
    let (negative, digits) = match arg[0] {
        b'-' => (true, &arg[1..]),
        _ => (false, arg),
    };
    if digits.is_empty() || (digits[0] == b'0' && digits.len() > 1) || (negative && digits == b"0")
    {
        return None;
    }
    let mut value: u64 = 0;
    for &byte in digits {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value.checked_mul(10)?.checked_add((byte - b'0') as u64)?;
    }
    if negative {
        if value > i64::MAX as u64 + 1 {
            None
        } else {
            Some((value as i64).wrapping_neg())
        }
    } else if value > i64::MAX as u64 {
        None
    } else {
        Some(value as i64)
    }
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Intset {
    buf: Vec<u8>,
    /// Bytes per value: 2, 4 or 8 (2 while empty).
    width: u8,
}

impl Default for Intset {
    fn default() -> Self {
        Intset::new()
    }
}

fn width_for(value: i64) -> usize {
    if i16::try_from(value).is_ok() {
        2
    } else if i32::try_from(value).is_ok() {
        4
    } else {
        8
    }
}

impl Intset {
    pub fn new() -> Self {
        Intset {
            buf: Vec::new(),
            width: 2,
        }
    }

    fn width(&self) -> usize {
        self.width as usize
    }

    pub fn len(&self) -> usize {
        self.buf.len() / self.width()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Allocated bytes (for memory estimates).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Makes room for `count` more values at the current width, before a batch of inserts.
    pub fn reserve(&mut self, count: usize) {
        self.buf.reserve_exact(count * self.width());
    }

    /// Drops spare capacity.
    pub fn shrink_to_fit(&mut self) {
        self.buf.shrink_to_fit();
    }

    /// Value number `index` in ascending order.
    pub fn get(&self, index: usize) -> i64 {
        let width = self.width();
        let at = index * width;
        let bytes = &self.buf[at..at + width];
        match width {
            2 => i16::from_le_bytes([bytes[0], bytes[1]]) as i64,
            4 => i32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]) as i64,
            _ => i64::from_le_bytes(bytes.try_into().expect("8 bytes")),
        }
    }

    /// `Ok(index)` of `value`, or `Err(index)` where it would go.
    fn search(&self, value: i64) -> Result<usize, usize> {
        let (mut low, mut high) = (0, self.len());
        while low < high {
            let middle = (low + high) / 2;
            match self.get(middle).cmp(&value) {
                std::cmp::Ordering::Less => low = middle + 1,
                std::cmp::Ordering::Greater => high = middle,
                std::cmp::Ordering::Equal => return Ok(middle),
            }
        }
        Err(low)
    }

    pub fn contains(&self, value: i64) -> bool {
        width_for(value) <= self.width() && self.search(value).is_ok()
    }

    fn put(buf: &mut [u8], width: usize, index: usize, value: i64) {
        let at = index * width;
        buf[at..at + width].copy_from_slice(&value.to_le_bytes()[..width]);
    }

    /// Adds `value`; false if it was already there.
    pub fn insert(&mut self, value: i64) -> bool {
        let needed = width_for(value);
        if needed > self.width() || self.buf.is_empty() {
            // Upgrade (or first value): rewrite everything at the new width, exact size.
            let width = needed.max(self.width());
            let len = self.len();
            // Keep room reserved ahead (by `reserve`) for as many values at the new width.
            let spare = (self.buf.capacity() - self.buf.len()) / self.width();
            let mut buf = Vec::with_capacity((len + spare.max(1)) * width);
            buf.resize((len + 1) * width, 0);
            let mut placed = false;
            let mut out = 0;
            for index in 0..len {
                let old = self.get(index);
                if !placed && value < old {
                    Self::put(&mut buf, width, out, value);
                    out += 1;
                    placed = true;
                }
                Self::put(&mut buf, width, out, old);
                out += 1;
            }
            if !placed {
                Self::put(&mut buf, width, out, value);
            }
            self.buf = buf;
            self.width = width as u8;
            return true;
        }
        let Err(index) = self.search(value) else {
            return false;
        };
        let width = self.width();
        let at = index * width;
        let old_end = self.buf.len();
        self.buf.reserve_exact(width);
        self.buf.resize(old_end + width, 0);
        self.buf.copy_within(at..old_end, at + width);
        Self::put(&mut self.buf, width, index, value);
        true
    }

    /// Removes `value`; false if it was not there.
    pub fn remove(&mut self, value: i64) -> bool {
        if width_for(value) > self.width() {
            return false;
        }
        let Ok(index) = self.search(value) else {
            return false;
        };
        let width = self.width();
        let at = index * width;
        self.buf.drain(at..at + width);
        if self.buf.is_empty() {
            *self = Intset::new();
        } else if self.buf.capacity() > self.buf.len() * 2 {
            self.buf.shrink_to_fit();
        }
        true
    }

    /// Values in ascending order.
    pub fn iter(&self) -> impl DoubleEndedIterator<Item = i64> + '_ {
        (0..self.len()).map(move |index| self.get(index))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_distinct_and_upgrades_width() {
        let mut set = Intset::new();
        assert!(set.insert(5));
        assert!(set.insert(-3));
        assert!(!set.insert(5));
        assert_eq!(set.capacity(), 2 * 2, "two 16-bit values, exact size");
        assert!(set.insert(100_000));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![-3, 5, 100_000]);
        let mut reserved = Intset::new();
        reserved.reserve(3);
        for value in [70_000, 1, 2] {
            reserved.insert(value);
        }
        reserved.shrink_to_fit();
        assert_eq!(reserved.capacity(), 3 * 4);
        assert_eq!(reserved.iter().collect::<Vec<_>>(), vec![1, 2, 70_000]);
        assert!(set.insert(i64::MIN));
        assert_eq!(
            set.iter().collect::<Vec<_>>(),
            vec![i64::MIN, -3, 5, 100_000]
        );
        assert!(set.contains(100_000) && set.contains(i64::MIN) && !set.contains(4));
        assert!(set.remove(-3));
        assert!(!set.remove(-3));
        assert!(!set.remove(i64::MAX));
        assert_eq!(set.len(), 3);
        for value in [i64::MIN, 5, 100_000] {
            assert!(set.remove(value));
        }
        assert!(set.is_empty());
        assert_eq!(set.capacity(), 0);
    }
}
