//! The in-memory ledger's index: an open-addressing table from a lead id's 64-bit hash to where
//! its entry lies, laid out for the cache. A slot holds the hash and the place together (16
//! bytes: the place packed in a word, an empty slot marked by a value no place takes), four
//! slots a cache line, probed in a line from the hash's own bits (linear probing): a lead
//! looked up and then recorded touches one line of the table, where a general map reads a line
//! of tags and then writes a line of buckets. Deleting shifts the entries after the hole back,
//! so no tombstones pile up. The table is at most three quarters full: at 10,000,000 leads it
//! holds 2^24 slots (256 MiB; 512 MiB with 32-byte slots, 1 GiB at most half full).

/// A value a slot holds, with one value it never holds: that one marks an empty slot.
pub(super) trait SlotValue: Copy {
    const EMPTY: Self;
    fn is_empty(&self) -> bool;
}

impl SlotValue for u32 {
    const EMPTY: u32 = u32::MAX;
    fn is_empty(&self) -> bool {
        *self == u32::MAX
    }
}

impl SlotValue for u64 {
    const EMPTY: u64 = u64::MAX;
    fn is_empty(&self) -> bool {
        *self == u64::MAX
    }
}

/// One slot: a key (a hash) and its value ([`SlotValue::EMPTY`]: none). Four to a 64-byte line
/// with an eight-byte value.
#[derive(Debug, Clone, Copy)]
#[repr(C, align(16))]
struct Slot<V> {
    key: u64,
    value: V,
}

impl<V: SlotValue> Slot<V> {
    const EMPTY: Slot<V> = Slot {
        key: 0,
        value: V::EMPTY,
    };

    fn used(&self) -> bool {
        !self.value.is_empty()
    }
}

/// A map from 64-bit hashes (uniform already: the table uses their low bits as they are) to
/// small values.
#[derive(Debug)]
pub(super) struct HashSlots<V> {
    slots: Vec<Slot<V>>,
    len: usize,
}

impl<V> Default for HashSlots<V> {
    fn default() -> HashSlots<V> {
        HashSlots {
            slots: Vec::new(),
            len: 0,
        }
    }
}

impl<V: SlotValue> HashSlots<V> {
    pub(super) fn len(&self) -> usize {
        self.len
    }

    pub(super) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many keys it holds before it grows: three quarters of its slots.
    pub(super) fn capacity(&self) -> usize {
        self.slots.len() / 4 * 3
    }

    /// The fewest slots (a power of two) that hold `keys` keys.
    fn slots_for(keys: usize) -> Option<usize> {
        keys.checked_mul(4)
            .map(|quarters| quarters.div_ceil(3))
            .and_then(usize::checked_next_power_of_two)
    }

    /// Room for `more` keys beyond those it holds, without growing.
    pub(super) fn reserve(&mut self, more: usize) {
        if more == 0 {
            return;
        }
        let wanted = self.len.checked_add(more).and_then(Self::slots_for);
        if let Some(wanted) = wanted.filter(|wanted| *wanted > self.slots.len()) {
            self.grow_to(wanted);
        }
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    fn home(&self, key: u64) -> usize {
        // The table's length is a power of two: the key's low bits.
        (key as usize) & self.mask()
    }

    /// The slot holding `key`, or the empty slot where it would go.
    fn find(&self, key: u64) -> Result<usize, usize> {
        let mask = self.mask();
        let mut at = self.home(key);
        loop {
            match self.slots.get(at) {
                Some(slot) if slot.used() && slot.key == key => return Ok(at),
                Some(slot) if slot.used() => at = (at + 1) & mask,
                _ => return Err(at),
            }
        }
    }

    pub(super) fn get(&self, key: u64) -> Option<V> {
        if self.slots.is_empty() {
            return None;
        }
        let at = self.find(key).ok()?;
        self.slots.get(at).map(|slot| slot.value)
    }

    /// Reads the line where `key` would be looked for, so that a look-up and a record of it
    /// soon after find it in the cache: call it for a few keys ahead of their turn, whose
    /// misses then overlap. Answers the word read (give it to `std::hint::black_box`).
    pub(super) fn warm(&self, key: u64) -> u64 {
        if self.slots.is_empty() {
            return 0;
        }
        self.slots.get(self.home(key)).map_or(0, |slot| slot.key)
    }

    /// Sets `key`'s value; answers the value it replaced. A value that is
    /// [`SlotValue::EMPTY`] removes the key.
    pub(super) fn insert(&mut self, key: u64, value: V) -> Option<V> {
        if value.is_empty() {
            return self.remove(key);
        }
        if self.len + 1 > self.capacity() {
            let grown = (self.slots.len() * 2).max(16);
            self.grow_to(grown);
        }
        match self.find(key) {
            Ok(at) => self
                .slots
                .get_mut(at)
                .map(|slot| std::mem::replace(&mut slot.value, value)),
            Err(at) => {
                if let Some(slot) = self.slots.get_mut(at) {
                    *slot = Slot { key, value };
                    self.len += 1;
                }
                None
            }
        }
    }

    /// Takes `key` out; answers its value.
    pub(super) fn remove(&mut self, key: u64) -> Option<V> {
        if self.slots.is_empty() {
            return None;
        }
        let mut hole = self.find(key).ok()?;
        let removed = self.slots.get(hole).map(|slot| slot.value);
        let mask = self.mask();
        let mut next = (hole + 1) & mask;
        // Every entry after the hole, up to the next empty slot, moves back into it unless
        // its home lies after the hole (it would then be found before its home).
        while let Some(slot) = self.slots.get(next).copied().filter(Slot::used) {
            let home = self.home(slot.key);
            if next.wrapping_sub(home) & mask >= next.wrapping_sub(hole) & mask {
                if let Some(to) = self.slots.get_mut(hole) {
                    *to = slot;
                }
                hole = next;
            }
            next = (next + 1) & mask;
        }
        if let Some(slot) = self.slots.get_mut(hole) {
            *slot = Slot::EMPTY;
        }
        self.len -= 1;
        removed
    }

    /// Every key and its value, in no order.
    pub(super) fn iter(&self) -> impl Iterator<Item = (u64, V)> {
        self.slots
            .iter()
            .filter(|slot| slot.used())
            .map(|slot| (slot.key, slot.value))
    }

    fn grow_to(&mut self, length: usize) {
        let old = std::mem::replace(&mut self.slots, vec![Slot::EMPTY; length]);
        self.len = 0;
        for slot in old.into_iter().filter(Slot::used) {
            if let Err(at) = self.find(slot.key)
                && let Some(to) = self.slots.get_mut(at)
            {
                *to = slot;
                self.len += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_slot_is_a_quarter_of_a_cache_line() {
        assert_eq!(std::mem::size_of::<Slot<u64>>(), 16);
        assert_eq!(std::mem::align_of::<Slot<u64>>(), 16);
    }

    #[derive(Debug, Clone)]
    enum Step {
        Insert(u64, u32),
        Remove(u64),
        Get(u64),
    }

    /// Keys from a few homes (low bits) and a few high bits: long runs of probes, wrapping
    /// round the table's end, entries moved back on removal.
    fn key() -> impl Strategy<Value = u64> {
        (
            0u64..6,
            prop_oneof![Just(0u64), Just(5), Just(15), Just(31)],
        )
            .prop_map(|(high, low)| (high << 40) | low)
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            (key(), 0..u32::MAX).prop_map(|(key, value)| Step::Insert(key, value)),
            key().prop_map(Step::Remove),
            key().prop_map(Step::Get),
        ]
    }

    proptest! {
        /// The table answers what a standard map answers, step after step.
        #[test]
        fn the_table_answers_as_a_map_does(steps in prop::collection::vec(step(), 1..200)) {
            let mut table: HashSlots<u32> = HashSlots::default();
            let mut map = std::collections::HashMap::new();
            for step in steps {
                match step {
                    Step::Insert(key, value) => {
                        prop_assert_eq!(table.insert(key, value), map.insert(key, value));
                    }
                    Step::Remove(key) => prop_assert_eq!(table.remove(key), map.remove(&key)),
                    Step::Get(key) => prop_assert_eq!(table.get(key), map.get(&key).copied()),
                }
                prop_assert_eq!(table.len(), map.len());
                for (key, value) in &map {
                    prop_assert_eq!(table.get(*key), Some(*value));
                }
                let mut values: Vec<u32> = table.iter().map(|(_, value)| value).collect();
                let mut expected: Vec<u32> = map.values().copied().collect();
                values.sort_unstable();
                expected.sort_unstable();
                prop_assert_eq!(values, expected);
            }
        }
    }

    #[test]
    fn it_grows_and_keeps_every_key() {
        let mut table: HashSlots<u64> = HashSlots::default();
        assert_eq!(table.get(7), None);
        assert_eq!(table.remove(7), None);
        table.reserve(100);
        assert!(table.capacity() >= 100);
        for key in 0..10_000u64 {
            let hash = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(table.insert(hash, key), None);
        }
        assert_eq!(table.len(), 10_000);
        assert!(table.capacity() >= 10_000);
        for key in 0..10_000u64 {
            let hash = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(table.get(hash), Some(key));
            let _ = table.warm(hash);
        }
        for key in (0..10_000u64).step_by(2) {
            let hash = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(table.remove(hash), Some(key));
        }
        for key in 0..10_000u64 {
            let hash = key.wrapping_mul(0x9e37_79b9_7f4a_7c15);
            assert_eq!(table.get(hash), (key % 2 == 1).then_some(key));
        }
        assert_eq!(table.len(), 5_000);
        assert!(!table.is_empty());
    }
}
