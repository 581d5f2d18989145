//! One fast, non-keyed hasher for the hash maps on the per-point paths (metric names,
//! tag-set ids, series keys, values' bit patterns). Their keys are few or trusted, so the
//! default SipHash's protection against chosen keys only costs time here.

use std::hash::{BuildHasherDefault, Hasher};

/// FxHash (rustc's hasher) for bytes; integers get a multiply-and-rotate mix so keys
/// that differ only in their high bits (`metric << 32 | tags`) still spread over the low
/// bits hash tables index by.
#[derive(Debug, Default, Clone, Copy)]
pub struct FastHasher(u64);

const K: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FastHasher {
    #[inline]
    fn add(&mut self, w: u64) {
        self.0 = (self.0.rotate_left(5) ^ w).wrapping_mul(K);
    }
}

impl Hasher for FastHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes([c[0], c[1], c[2], c[3], c[4], c[5], c[6], c[7]]));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }

    #[inline]
    fn write_u64(&mut self, w: u64) {
        self.add((w ^ (w >> 29)).wrapping_mul(0x9e37_79b9_7f4a_7c15).rotate_left(31));
    }

    #[inline]
    fn write_i64(&mut self, w: i64) {
        self.write_u64(w as u64);
    }

    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
}

/// `BuildHasher` for [`FastHasher`]: `HashMap<K, V, FastBuildHasher>`.
pub type FastBuildHasher = BuildHasherDefault<FastHasher>;

#[cfg(test)]
mod tests {
    use super::*;
    use std::hash::BuildHasher;

    #[test]
    fn high_bit_keys_spread_over_low_bits() {
        let b = FastBuildHasher::default();
        // 64 keys differing only above bit 32: their low 6 bits must not all agree.
        let low: std::collections::HashSet<u64> = (0..64u64).map(|m| b.hash_one(m << 32 | 7) & 63).collect();
        assert!(low.len() > 32, "{} distinct low-bit patterns", low.len());
    }

    #[test]
    fn distinguishes_names() {
        let b = FastBuildHasher::default();
        assert_ne!(b.hash_one("http_req_duration"), b.hash_one("http_req_waiting"));
    }
}
