//! Counts by key on the per-record path: each key packed into one number and counted in a
//! small direct-mapped cache, whose counts go to a hash map of dense entries when another key
//! takes the slot. Memory grows with the distinct keys only; the cache has a fixed size.

use rustc_hash::FxHashMap;

use crate::flowlogs::summary::Counts;

/// A key that packs into one number without loss.
pub trait Packed: Copy {
    /// The key as a number; distinct keys give distinct numbers.
    fn pack(self) -> u128;
}

/// Counts by key.
#[derive(Debug)]
pub struct Tallies<K> {
    index: FxHashMap<u128, usize>,
    entries: Vec<(K, Counts)>,
    cache: Box<[Slot]>,
}

/// A cache slot: a packed key, its entry, and the counts not yet added to the entry. Empty when
/// `entry` is past the entries.
#[derive(Debug, Clone, Copy)]
struct Slot {
    key: u128,
    entry: usize,
    counts: Counts,
}

impl<K: Packed> Tallies<K> {
    /// No counts yet, with a cache of `slots` keys (a power of two).
    pub fn new(slots: usize) -> Tallies<K> {
        assert!(slots.is_power_of_two(), "{slots} cache slots");
        let empty = Slot {
            key: 0,
            entry: usize::MAX,
            counts: Counts::default(),
        };
        Tallies {
            index: FxHashMap::default(),
            entries: Vec::new(),
            cache: vec![empty; slots].into_boxed_slice(),
        }
    }

    /// Adds `counts` to those of `key`.
    #[inline]
    pub fn add(&mut self, key: K, counts: Counts) {
        let packed = key.pack();
        let slot = self.slot(packed);
        let cached = &mut self.cache[slot];
        if cached.key == packed && cached.entry < self.entries.len() {
            cached.counts += counts;
            return;
        }
        self.take_slot(slot, key, packed, counts);
    }

    /// Every key with its counts, in the order the keys were first added.
    pub fn into_entries(mut self) -> Vec<(K, Counts)> {
        for slot in 0..self.cache.len() {
            self.flush(slot);
        }
        self.entries
    }

    /// Gives `slot` to `key`, the counts of the key it held added to that key's entry.
    fn take_slot(&mut self, slot: usize, key: K, packed: u128, counts: Counts) {
        self.flush(slot);
        let next = self.entries.len();
        let entry = *self.index.entry(packed).or_insert(next);
        if entry == next {
            self.entries.push((key, Counts::default()));
        }
        self.cache[slot] = Slot {
            key: packed,
            entry,
            counts,
        };
    }

    /// Adds the counts cached in `slot` to its key's entry.
    fn flush(&mut self, slot: usize) {
        let cached = &mut self.cache[slot];
        if let Some((_, total)) = self.entries.get_mut(cached.entry) {
            *total += std::mem::take(&mut cached.counts);
        }
    }

    /// The cache slot of a packed key: its halves mixed by multiplication, the top bits taken.
    #[inline]
    fn slot(&self, packed: u128) -> usize {
        const MIX: u64 = 0x9E37_79B9_7F4A_7C15;
        let (low, high) = (packed as u64, (packed >> 64) as u64);
        let hash = (low.wrapping_mul(MIX) ^ high).wrapping_mul(MIX);
        let bits = self.cache.len().trailing_zeros();
        hash.rotate_left(bits) as usize & (self.cache.len() - 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key that is its own packing.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    struct Key(u128);

    impl Packed for Key {
        fn pack(self) -> u128 {
            self.0
        }
    }

    #[test]
    fn keys_sharing_a_cache_slot_are_counted_apart() {
        let mut tallies = Tallies::new(1);
        let keys = [Key(0), Key(7), Key(1 << 100), Key(0), Key(7), Key(0)];
        for (bytes, key) in keys.into_iter().enumerate() {
            tallies.add(key, Counts::one(1, bytes as u64));
        }
        let counts: Vec<(Key, u64, u64)> = tallies
            .into_entries()
            .into_iter()
            .map(|(key, counts)| (key, counts.flows, counts.bytes))
            .collect();
        assert_eq!(
            counts,
            [(Key(0), 3, 8), (Key(7), 2, 5), (Key(1 << 100), 1, 2)]
        );
    }

    #[test]
    fn a_zero_key_is_not_taken_for_an_empty_slot() {
        let mut tallies = Tallies::new(4);
        tallies.add(Key(0), Counts::one(2, 3));
        tallies.add(Key(0), Counts::one(1, 1));
        let total = Counts {
            flows: 2,
            packets: 3,
            bytes: 4,
        };
        assert_eq!(tallies.into_entries(), [(Key(0), total)]);
    }
}
