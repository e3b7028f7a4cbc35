//! Eight bytes at a time in a plain `u64` ("SIMD within a register"), for the short scans on the
//! chat hot path (IRC atoms, tag values, JSON strings), where starting a vectorized search costs
//! more than the search itself.
//!
//! The one trick: `zero_bytes(w)` sets the high bit of every zero byte of `w`. It is exact as a
//! yes/no, and its lowest set bit marks the first zero byte exactly (a borrow can only raise false
//! alarms in bytes above a real zero).

const ONES: u64 = u64::from_le_bytes([0x01; 8]);
const HIGHS: u64 = u64::from_le_bytes([0x80; 8]);

/// `byte` in every byte of a word.
pub(crate) const fn splat(byte: u8) -> u64 {
    ONES * byte as u64
}

/// A word from eight bytes, first byte lowest (so `trailing_zeros` finds the first match).
pub(crate) fn word(bytes: [u8; 8]) -> u64 {
    u64::from_le_bytes(bytes)
}

/// The high bit of every zero byte of `word` (see the module note for what is exact).
pub(crate) fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

/// The high bit of every byte of `word` below `limit` (exact as a yes/no for `limit <= 0x80`).
pub(crate) fn bytes_below(word: u64, limit: u8) -> u64 {
    word.wrapping_sub(splat(limit)) & !word & HIGHS
}

/// The index of the first byte marked in a mask from [`zero_bytes`].
pub(crate) fn first_marked(mask: u64) -> usize {
    (mask.trailing_zeros() / 8) as usize
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn marks_agree_with_plain_byte_checks(bytes in any::<[u8; 8]>(), needle in any::<u8>(), limit in 0u8..=0x80) {
            let w = word(bytes);
            let first = bytes.iter().position(|&b| b == needle);
            let mask = zero_bytes(w ^ splat(needle));
            prop_assert_eq!(mask != 0, first.is_some());
            if let Some(first) = first {
                prop_assert_eq!(first_marked(mask), first);
            }
            prop_assert_eq!(bytes_below(w, limit) != 0, bytes.iter().any(|&b| b < limit));
        }
    }
}
