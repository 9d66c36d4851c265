//! The budgeted merge: cover an exact CIDR list with at most N CIDRs admitting the fewest
//! addresses outside it.
//!
//! The result is optimal, not greedy. Two CIDRs either nest or are disjoint, so an optimal
//! cover is a set of disjoint blocks, each of which is either an exact CIDR or the smallest
//! block spanning two neighbouring groups of them, i.e. a branch node of the binary trie built
//! on the exact list. A knapsack over that trie (at each node: the node's own block, or the
//! best split of k blocks between its two children) gives the least extra space for every
//! budget up to N in O(leaves x N) time.

use crate::ranges::aggregate::Block;

/// A cover of an exact list within a budget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The covering CIDRs, ascending, disjoint.
    pub blocks: Vec<Block>,
    /// Addresses the cover admits beyond the exact list.
    pub extra: u128,
}

/// The optimal cover of `exact` (sorted, disjoint, exactly aggregated) with at most `max`
/// blocks; `None` when `max` is zero and the list is not empty.
pub fn merge(bits: u8, exact: &[Block], max: usize) -> Option<Merged> {
    if exact.len() <= max {
        return Some(Merged {
            blocks: exact.to_vec(),
            extra: 0,
        });
    }
    if max == 0 {
        return None;
    }

    let mut trie = Trie {
        bits,
        max,
        nodes: Vec::new(),
    };
    let root = trie.build(exact);
    let mut blocks = Vec::new();
    let cost = trie.nodes[root].cost[max.min(trie.nodes[root].cost.len()) - 1];
    trie.collect(root, max, &mut blocks);
    blocks.sort_unstable();
    Some(Merged {
        blocks,
        extra: cost,
    })
}

/// How one node spends a budget of k blocks.
#[derive(Debug, Clone, Copy)]
enum Choice {
    /// The node's own block.
    Whole,
    /// `k1` blocks to the lower child, the rest to the upper one.
    Split(usize),
}

struct Node {
    block: Block,
    children: Option<(usize, usize)>,
    /// `cost[k - 1]`: least extra space with at most k blocks; the last entry is the cost
    /// with as many blocks as the node has leaves (zero) or with the whole budget.
    cost: Vec<u128>,
    choice: Vec<Choice>,
}

struct Trie {
    bits: u8,
    max: usize,
    nodes: Vec<Node>,
}

impl Trie {
    /// Builds the node for a run of exact blocks and solves it; returns its index.
    fn build(&mut self, leaves: &[Block]) -> usize {
        if let [leaf] = leaves {
            self.nodes.push(Node {
                block: *leaf,
                children: None,
                cost: vec![0],
                choice: vec![Choice::Whole],
            });
            return self.nodes.len() - 1;
        }

        let block = spanning(self.bits, leaves[0], leaves[leaves.len() - 1]);
        let upper_half = block.first | (1u128 << (self.bits - block.len - 1));
        let split = leaves.partition_point(|leaf| leaf.first < upper_half);
        let low = self.build(&leaves[..split]);
        let high = self.build(&leaves[split..]);

        let covered = leaves
            .iter()
            .fold(0u128, |sum, leaf| sum.saturating_add(leaf.size(self.bits)));
        let whole = if block.len == 0 && self.bits == 128 {
            u128::MAX - covered + 1
        } else {
            block.size(self.bits) - covered
        };
        let (cost, choice) = self.combine(whole, low, high);
        self.nodes.push(Node {
            block,
            children: Some((low, high)),
            cost,
            choice,
        });
        self.nodes.len() - 1
    }

    /// The knapsack step: for each k, the node's own block or the best split between children.
    fn combine(&self, whole: u128, low: usize, high: usize) -> (Vec<u128>, Vec<Choice>) {
        let (a, b) = (&self.nodes[low].cost, &self.nodes[high].cost);
        let width = (a.len() + b.len()).min(self.max);
        let mut cost = vec![whole; width];
        let mut choice = vec![Choice::Whole; width];

        for k in 2..=width {
            if cost[k - 2] < cost[k - 1] {
                cost[k - 1] = cost[k - 2];
                choice[k - 1] = choice[k - 2];
            }
            let from = k.saturating_sub(b.len()).max(1);
            for k1 in from..=a.len().min(k - 1) {
                let split = a[k1 - 1].saturating_add(b[k - k1 - 1]);
                if split < cost[k - 1] {
                    cost[k - 1] = split;
                    choice[k - 1] = Choice::Split(k1);
                }
            }
        }
        (cost, choice)
    }

    /// Appends the blocks an optimal cover of `node` with at most `k` blocks uses.
    fn collect(&self, node: usize, k: usize, out: &mut Vec<Block>) {
        let node = &self.nodes[node];
        let k = k.min(node.cost.len());
        match (node.choice[k - 1], node.children) {
            (Choice::Split(k1), Some((low, high))) => {
                self.collect(low, k1, out);
                self.collect(high, k - k1, out);
            }
            _ => out.push(node.block),
        }
    }
}

/// The smallest block containing both `a` and `b` (`a` before `b`).
fn spanning(bits: u8, a: Block, b: Block) -> Block {
    let differing = a.first ^ b.last(bits);
    let common = (differing.leading_zeros() as u8).saturating_sub(128 - bits);
    let len = common.min(a.len).min(b.len);
    let host = bits - len;
    let first = if host >= 128 {
        0
    } else {
        a.first & !((1u128 << host) - 1)
    };
    Block { first, len }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ranges::aggregate::tests::{all_blocks, mask};
    use crate::ranges::aggregate::{aggregate, cidrs, union};

    /// The least extra space over every choice of at most `max` CIDRs (overlaps allowed) whose
    /// union covers `set`: the lowest uncovered address must be in the next CIDR chosen, so
    /// trying each CIDR containing it, at each step, enumerates every cover.
    fn brute_force(bits: u8, set: u64, max: usize) -> u32 {
        let blocks: Vec<u64> = all_blocks(bits)
            .into_iter()
            .map(|b| mask(bits, b))
            .collect();
        let mut best = u32::MAX;
        let mut stack: Vec<(usize, u64)> = vec![(0, 0)];
        while let Some((used, union)) = stack.pop() {
            let uncovered = set & !union;
            if uncovered == 0 {
                best = best.min((union & !set).count_ones());
                continue;
            }
            if used == max {
                continue;
            }
            let lowest = uncovered & uncovered.wrapping_neg();
            for &block in blocks.iter().filter(|&&block| block & lowest != 0) {
                stack.push((used + 1, union | block));
            }
        }
        best
    }

    fn exact_of(bits: u8, set: u64) -> Vec<Block> {
        let singles = (0..1u128 << bits).filter(|&a| set & (1 << a) != 0);
        cidrs(bits, &union(singles.map(|a| (a, a)).collect()))
    }

    fn check(bits: u8, set: u64, max: usize) {
        let exact = exact_of(bits, set);
        let merged = merge(bits, &exact, max).unwrap();
        let cover = merged.blocks.iter().fold(0u64, |m, &b| {
            assert_eq!(m & mask(bits, b), 0, "overlapping cover for {set:#x}");
            m | mask(bits, b)
        });
        assert!(merged.blocks.len() <= max);
        assert_eq!(cover & set, set, "{set:#x} not covered with {max}");
        let extra = (cover & !set).count_ones();
        assert_eq!(
            merged.extra,
            u128::from(extra),
            "extra miscounted for {set:#x}"
        );
        assert_eq!(
            extra,
            brute_force(bits, set, max),
            "not optimal: {set:#x} max {max}"
        );
    }

    #[test]
    fn optimal_for_every_set_of_a_4_bit_space_and_every_budget() {
        for set in 1u64..(1 << 16) {
            for max in 1..=4 {
                check(4, set, max);
            }
        }
    }

    #[test]
    fn optimal_on_random_sets_of_a_6_bit_space() {
        let mut state = 0x5eed_u64;
        for round in 0..300 {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            // Sparse and dense sets alike: AND or OR two draws.
            let draw = state ^ state.rotate_left(23);
            let set = if round % 2 == 0 {
                state & draw
            } else {
                state | draw
            };
            check(6, set.max(1), 1 + round % 3);
        }
    }

    #[test]
    fn budget_of_one_is_the_spanning_block() {
        let nets = ["52.216.0.0/15", "54.231.0.0/16", "3.5.0.0/19"];
        let exact = aggregate(32, nets.iter().map(|n| Block::of(&n.parse().unwrap())));
        let merged = merge(32, &exact, 1).unwrap();
        assert_eq!(merged.blocks[0].to_net(32).to_string(), "0.0.0.0/2");
        let two = merge(32, &exact, 2).unwrap();
        let text: Vec<String> = two
            .blocks
            .iter()
            .map(|b| b.to_net(32).to_string())
            .collect();
        assert_eq!(text, ["3.5.0.0/19", "52.0.0.0/6"]);
        assert_eq!(two.extra, (1u128 << 26) - (1 << 17) - (1 << 16));
    }

    #[test]
    fn ipv6_extra_space_beyond_64_bits_is_exact() {
        let exact = aggregate(
            128,
            [
                Block {
                    first: 0x2600_1f00 << 96,
                    len: 40,
                },
                Block {
                    first: 0x2a05_d000 << 96,
                    len: 32,
                },
            ],
        );
        let merged = merge(128, &exact, 1).unwrap();
        assert_eq!(merged.blocks[0].to_net(128).to_string(), "2000::/4");
        assert_eq!(merged.extra, (1u128 << 124) - (1u128 << 88) - (1u128 << 96));
        let ends = [
            Block { first: 0, len: 128 },
            Block {
                first: 0xffff << 112,
                len: 16,
            },
        ];
        let whole = merge(128, &ends, 1).unwrap();
        assert_eq!(whole.blocks, [Block { first: 0, len: 0 }]);
        assert_eq!(whole.extra, u128::MAX - (1u128 << 112));
        assert!(merge(128, &exact, 0).is_none());
    }
}
