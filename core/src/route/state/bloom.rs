//! A Bloom filter over 64-bit hashes: says an entry is surely absent from a run on disk, so a
//! lookup reads only the runs that may hold it.

/// Bits of filter per entry.
const BITS_PER_ENTRY: usize = 16;
/// Bits set per entry.
const PROBES: u64 = 8;

/// A filter sized for a known number of entries (16 bits each, 8 probes: about one false
/// positive in 1,700).
pub(super) struct Bloom {
    words: Vec<u64>,
}

impl Bloom {
    pub(super) fn for_entries(entries: usize) -> Bloom {
        let words = (entries.max(1) * BITS_PER_ENTRY)
            .next_power_of_two()
            .div_ceil(64);
        Bloom {
            words: vec![0; words],
        }
    }

    /// The word and bit of each probe for `hash`.
    fn bits(&self, hash: u64) -> impl Iterator<Item = (usize, u64)> + use<> {
        let mask = (self.words.len() as u64 * 64).saturating_sub(1);
        let step = hash.rotate_left(32) | 1;
        (0..PROBES).map(move |i| {
            let bit = hash.wrapping_add(i.wrapping_mul(step)) & mask;
            ((bit / 64) as usize, 1u64 << (bit % 64))
        })
    }

    pub(super) fn add(&mut self, hash: u64) {
        for (word, bit) in self.bits(hash) {
            if let Some(word) = self.words.get_mut(word) {
                *word |= bit;
            }
        }
    }

    /// Whether `hash` may have been added (`false`: it surely was not).
    pub(super) fn may_hold(&self, hash: u64) -> bool {
        self.bits(hash)
            .all(|(word, bit)| self.words.get(word).is_some_and(|w| w & bit != 0))
    }
}

#[cfg(test)]
mod tests {
    use super::Bloom;

    #[test]
    fn holds_what_was_added_and_rarely_what_was_not() {
        let mut bloom = Bloom::for_entries(10_000);
        let hash = |i: u64| i.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(17);
        for i in 0..10_000 {
            bloom.add(hash(i));
        }
        assert!((0..10_000).all(|i| bloom.may_hold(hash(i))));
        let false_positives = (10_000..110_000)
            .filter(|i| bloom.may_hold(hash(*i)))
            .count();
        assert!(false_positives < 200, "{false_positives} in 100,000");
        assert!(!Bloom::for_entries(0).may_hold(hash(1)));
    }
}
