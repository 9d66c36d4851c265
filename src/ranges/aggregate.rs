//! Address sets as sorted intervals of integers, and their exact aggregation into the fewest
//! CIDRs (adjacent and nested prefixes merged).
//!
//! Every function takes the family's width in bits (32 or 128), so the tests can prove them
//! exhaustively on tiny address spaces.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

/// An inclusive run of addresses `first..=last`, as integers of the family.
pub type Interval = (u128, u128);

/// A CIDR block as integers: its first address and its prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Block {
    /// The first (network) address.
    pub first: u128,
    /// The prefix length.
    pub len: u8,
}

impl Block {
    /// The block's last address in a space of `bits` bits.
    pub fn last(self, bits: u8) -> u128 {
        self.first | host_mask(bits - self.len)
    }

    /// How many addresses the block holds, saturating at `u128::MAX` for `::/0`.
    pub fn size(self, bits: u8) -> u128 {
        count((self.first, self.last(bits)))
    }

    /// The block of a CIDR; the width follows the family.
    pub fn of(net: &IpNet) -> Block {
        match net {
            IpNet::V4(v4) => Block {
                first: u128::from(u32::from(v4.network())),
                len: v4.prefix_len(),
            },
            IpNet::V6(v6) => Block {
                first: u128::from(v6.network()),
                len: v6.prefix_len(),
            },
        }
    }

    /// The CIDR of a block in a space of 32 (IPv4) or 128 (IPv6) bits.
    pub fn to_net(self, bits: u8) -> IpNet {
        if bits == 32 {
            let addr = Ipv4Addr::from(self.first as u32);
            IpNet::V4(Ipv4Net::new(addr, self.len).unwrap_or_default())
        } else {
            let addr = Ipv6Addr::from(self.first);
            IpNet::V6(Ipv6Net::new(addr, self.len).unwrap_or_default())
        }
    }
}

/// The width in bits of an address's family.
pub fn bits_of(addr: IpAddr) -> u8 {
    match addr {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

/// A mask of the low `host_bits` bits.
fn host_mask(host_bits: u8) -> u128 {
    if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    }
}

/// How many addresses an interval holds, saturating at `u128::MAX` for the whole IPv6 space.
pub fn count((first, last): Interval) -> u128 {
    (last - first).saturating_add(1)
}

/// The total size of disjoint intervals; exact while the total is below 2^128.
pub fn total(intervals: &[Interval]) -> u128 {
    intervals
        .iter()
        .fold(0u128, |sum, &interval| sum.saturating_add(count(interval)))
}

/// Sorts intervals and merges the overlapping and adjacent ones.
pub fn union(mut intervals: Vec<Interval>) -> Vec<Interval> {
    intervals.sort_unstable();
    let mut merged: Vec<Interval> = Vec::with_capacity(intervals.len());
    for (first, last) in intervals {
        match merged.last_mut() {
            Some(top) if top.1 == u128::MAX || first <= top.1 + 1 => top.1 = top.1.max(last),
            _ => merged.push((first, last)),
        }
    }
    merged
}

/// The addresses in `a` that are not in `b`; both sorted and disjoint.
pub fn subtract(a: &[Interval], b: &[Interval]) -> Vec<Interval> {
    let mut out = Vec::new();
    let mut j = 0;
    for &(first, last) in a {
        let mut cursor = Some(first);
        while j < b.len() && b[j].1 < first {
            j += 1;
        }
        let mut k = j;
        while let Some(start) = cursor {
            if k >= b.len() || b[k].0 > last {
                out.push((start, last));
                break;
            }
            if b[k].0 > start {
                out.push((start, b[k].0 - 1));
            }
            cursor = if b[k].1 >= last {
                None
            } else {
                Some(b[k].1 + 1)
            };
            k += 1;
        }
    }
    out
}

/// How many addresses `a` and `b` share; both sorted and disjoint.
pub fn overlap(a: &[Interval], b: &[Interval]) -> u128 {
    let (mut i, mut j, mut shared) = (0, 0, 0u128);
    while i < a.len() && j < b.len() {
        let first = a[i].0.max(b[j].0);
        let last = a[i].1.min(b[j].1);
        if first <= last {
            shared = shared.saturating_add(count((first, last)));
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    shared
}

/// The fewest CIDRs covering exactly the given sorted, disjoint intervals.
///
/// Each maximal interval splits into the largest aligned blocks from its start; no CIDR can
/// span two maximal intervals, and within one the greedy split is the unique minimum.
pub fn cidrs(bits: u8, intervals: &[Interval]) -> Vec<Block> {
    let mut blocks = Vec::new();
    for &(first, last) in intervals {
        let mut cursor = first;
        loop {
            let align = if cursor == 0 {
                bits
            } else {
                (cursor.trailing_zeros() as u8).min(bits)
            };
            let room = last - cursor;
            let fits = if room == u128::MAX {
                128
            } else {
                (127 - (room + 1).leading_zeros()) as u8
            };
            let host_bits = align.min(fits);
            blocks.push(Block {
                first: cursor,
                len: bits - host_bits,
            });
            let end = cursor | host_mask(host_bits);
            if end >= last {
                break;
            }
            cursor = end + 1;
        }
    }
    blocks
}

/// The intervals of a list of blocks, unioned.
pub fn intervals_of(bits: u8, blocks: impl IntoIterator<Item = Block>) -> Vec<Interval> {
    union(
        blocks
            .into_iter()
            .map(|block| (block.first, block.last(bits)))
            .collect(),
    )
}

/// Exact aggregation: the fewest CIDRs whose union is the union of `blocks`.
pub fn aggregate(bits: u8, blocks: impl IntoIterator<Item = Block>) -> Vec<Block> {
    cidrs(bits, &intervals_of(bits, blocks))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Every block of a space of `bits` bits, as (first, len).
    pub(crate) fn all_blocks(bits: u8) -> Vec<Block> {
        (0..=bits)
            .flat_map(|len| {
                let step = 1u128 << (bits - len);
                (0..(1u128 << len)).map(move |i| Block {
                    first: i * step,
                    len,
                })
            })
            .collect()
    }

    /// The addresses of a block as a bit mask (spaces of at most 6 bits).
    pub(crate) fn mask(bits: u8, block: Block) -> u64 {
        (block.first..=block.last(bits)).fold(0, |m, a| m | 1 << a)
    }

    /// The fewest CIDRs for a set, found top-down: a block wholly in the set costs one.
    fn minimum(bits: u8, set: u64, block: Block) -> usize {
        let inside = set & mask(bits, block);
        if inside == 0 {
            0
        } else if inside == mask(bits, block) {
            1
        } else {
            let half = 1u128 << (bits - block.len - 1);
            let left = Block {
                first: block.first,
                len: block.len + 1,
            };
            let right = Block {
                first: block.first + half,
                len: block.len + 1,
            };
            minimum(bits, set, left) + minimum(bits, set, right)
        }
    }

    fn intervals_of_mask(bits: u8, set: u64) -> Vec<Interval> {
        let singles = (0..1u128 << bits).filter(|&a| set & (1 << a) != 0);
        union(singles.map(|a| (a, a)).collect())
    }

    #[test]
    fn exact_aggregation_is_exact_and_minimal_for_every_set_of_a_4_bit_space() {
        for set in 0u64..(1 << 16) {
            let blocks = cidrs(4, &intervals_of_mask(4, set));
            let covered = blocks.iter().fold(0u64, |m, &b| {
                assert_eq!(m & mask(4, b), 0, "blocks overlap for {set:#x}");
                m | mask(4, b)
            });
            assert_eq!(covered, set, "cover differs for {set:#x}");
            let whole = Block { first: 0, len: 0 };
            assert_eq!(
                blocks.len(),
                minimum(4, set, whole),
                "not minimal for {set:#x}"
            );
        }
    }

    #[test]
    fn aggregation_merges_nested_adjacent_and_duplicated_prefixes() {
        let nets = [
            "10.0.0.0/24",
            "10.0.1.0/24",
            "10.0.0.128/25",
            "10.0.2.0/23",
            "10.0.2.0/23",
            "10.0.5.0/24",
        ];
        let blocks = aggregate(32, nets.iter().map(|n| Block::of(&n.parse().unwrap())));
        let text: Vec<String> = blocks.iter().map(|b| b.to_net(32).to_string()).collect();
        assert_eq!(text, ["10.0.0.0/22", "10.0.5.0/24"]);
    }

    #[test]
    fn whole_spaces_and_edges_do_not_overflow() {
        let all6 = aggregate(
            128,
            [
                Block { first: 0, len: 1 },
                Block {
                    first: 1 << 127,
                    len: 1,
                },
            ],
        );
        assert_eq!(all6, [Block { first: 0, len: 0 }]);
        assert_eq!(all6[0].size(128), u128::MAX);
        let top = cidrs(128, &[(u128::MAX - 2, u128::MAX)]);
        assert_eq!(top.len(), 2);
        let all4 = cidrs(32, &[(0, u128::from(u32::MAX))]);
        assert_eq!(all4[0].to_net(32).to_string(), "0.0.0.0/0");
    }

    #[test]
    fn subtract_and_overlap_agree_with_bit_masks() {
        let mut state = 7u64;
        for _ in 0..2_000 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            let a = (state >> 20) & 0xffff_ffff;
            let b = (state >> 5) & 0xffff_ffff;
            let (ia, ib) = (intervals_of_mask(5, a), intervals_of_mask(5, b));
            assert_eq!(subtract(&ia, &ib), intervals_of_mask(5, a & !b));
            assert_eq!(overlap(&ia, &ib), u128::from((a & b).count_ones()));
        }
    }
}
