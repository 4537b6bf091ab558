//! ByteRank (Algorithm 1 of the paper; spec §7), in O(m log m).
//!
//! The steps, over the `m` unflagged devices:
//!
//! 1. sort by capacity score, descending; ties by id, ascending;
//! 2. **fault push**: for `i = 1..=m`, the device then at position `m - i` moves down
//!    `min(floor(i*R), i-1)` places (the devices it passes move up one);
//! 3. **lottery**: winners, in order of their position `p_w`, move to
//!    `max(p_w - 100, previous winner's final position + 1)`; the others keep their
//!    order in the remaining places;
//! 4. rank = position + 1; flagged devices get 0.
//!
//! The paper does step 2 on a linked list, which is O(m²). Step 2 is the offline
//! "insert at index" problem: each device is inserted at index `d` of the list of
//! devices below it. Replaying the insertions backwards, each device takes the
//! `d`-th still-free slot of the final order, so the whole step is `m` queries
//! "take the k-th free slot" on [`FreeSlots`], a shallow counting tree.
//!
//! Why this layout: a Fenwick tree does the same in 20 dependent loads per query,
//! most of them cache misses at a million devices, and ends up several times slower
//! than sorting the scores. Here the tree is 32-way (three levels of prefix counts
//! at a million devices, 36 KB) over a bit set of 128 KB, all of it in L2; each
//! node on the way down is searched by a branch-free count that the compiler
//! vectorises. The sort is a stable radix sort of packed keys (capacity
//! bits over index bits), and a gather pass lays out each device's push distance in
//! sorted order before the dependent loop starts, so that loop reads only
//! sequentially.

use alloc::vec;
use alloc::vec::Vec;

/// What ByteRank needs to know about one device.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RankEntry {
    /// Capacity score; higher ranks better. Compared with [`f64::total_cmp`].
    pub capacity: f64,
    /// Fault rate `R` (normally within 0..=1; larger values push to the bottom).
    pub fault_rate: f64,
    /// Whether a threshold or worker flag takes the device out (rank 0).
    pub flagged: bool,
    /// Whether the device holds a valid lottery win.
    pub lottery_winner: bool,
}

/// The outcome of ByteRank for a grid of devices.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ranking {
    ranks: Vec<u32>,
    order: Vec<u32>,
}

impl Ranking {
    /// The ByteRank of the device at `index` (1 is best; 0 means flagged).
    ///
    /// # Panics
    ///
    /// When `index` is not a device of the ranked grid.
    pub fn rank(&self, index: usize) -> u32 {
        self.ranks[index]
    }

    /// ByteRanks of all devices, in the order they were given.
    pub fn ranks(&self) -> &[u32] {
        &self.ranks
    }

    /// Indices of the active (unflagged) devices, best first.
    pub fn order(&self) -> &[u32] {
        &self.order
    }

    /// Number of active devices (`n`, the size of the active grid).
    pub fn active(&self) -> usize {
        self.order.len()
    }

    /// Number of devices ranked, flagged ones included.
    pub fn len(&self) -> usize {
        self.ranks.len()
    }

    /// Whether no device was ranked.
    pub fn is_empty(&self) -> bool {
        self.ranks.is_empty()
    }
}

/// How far a device moves down in the fault push: `min(floor(i*R), i-1)`, `i` being
/// its 1-based place counted from the bottom.
pub fn fault_push_distance(i: usize, fault_rate: f64) -> usize {
    // `as` saturates: negative or NaN products give 0, huge ones usize::MAX.
    // `as` truncates toward zero, which is floor for the non-negative products.
    let d = (i as f64 * fault_rate) as usize;
    d.min(i - 1)
}

/// Ranks `entries`, which must be in ascending id order (ties in capacity are broken
/// by that order), moving lottery winners up `boost` places (paper: 100).
///
/// # Panics
///
/// With 2^31 devices or more.
pub fn byte_rank(entries: &[RankEntry], boost: usize) -> Ranking {
    assert!(entries.len() < 1 << 31, "ByteRank takes fewer than 2^31 devices");
    let mut sorted = sort_by_capacity(entries);
    let pushed = fault_push(entries, &mut sorted);
    drop(sorted);
    let order = lottery(&pushed, boost);
    let mut ranks = vec![0u32; entries.len()];
    for (pos, &idx) in order.iter().enumerate() {
        ranks[idx as usize] = pos as u32 + 1;
    }
    Ranking { ranks, order }
}

const WINNER: u32 = 1 << 31;

/// Maps a capacity to a `u64` whose ascending order is the capacity's descending
/// [`f64::total_cmp`] order.
fn descending_key(c: f64) -> u64 {
    let bits = c.to_bits();
    let ascending = if bits >> 63 == 1 { !bits } else { bits | 1 << 63 };
    !ascending
}

/// Step 1: indices of the unflagged devices by capacity, descending, ties by index.
///
/// Each device becomes one `u64`: the top bits of its capacity key over its index,
/// so a plain integer sort does the work. Capacities that agree in the kept bits
/// but not in all of them (rare: a relative gap below about 2^-32 at 1M devices)
/// end up in index order; a linear pass finds such runs and sorts them by the
/// full key. Returns the packed words; `word & index_mask(n)` is the index.
fn sort_by_capacity(entries: &[RankEntry]) -> Vec<u64> {
    let shift = index_bits(entries.len());
    let mut keys: Vec<u64> = entries
        .iter()
        .enumerate()
        .filter(|(_, e)| !e.flagged)
        .map(|(i, e)| (descending_key(e.capacity) >> shift << shift) | i as u64)
        .collect();
    // The indices are already ascending, so a stable sort on the capacity bits alone
    // finishes the job.
    radix_sort_from_bit(&mut keys, shift);
    let mask = index_mask(entries.len());
    let full = |w: &u64| (descending_key(entries[(w & mask) as usize].capacity), w & mask);
    let mut start = 0;
    while start < keys.len() {
        let top = keys[start] >> shift;
        let len = keys[start..].iter().take_while(|w| *w >> shift == top).count();
        if len > 1 {
            let run = &mut keys[start..start + len];
            if run.windows(2).any(|p| full(&p[0]) > full(&p[1])) {
                run.sort_unstable_by_key(full);
            }
        }
        start += len;
    }
    keys
}

const RADIX_BITS: u32 = 11;

/// Stable LSD radix sort of `keys` on their bits `low..64`, 11 bits a pass (the
/// histogram stays in L1); passes whose digit is the same in every key are skipped.
fn radix_sort_from_bit(keys: &mut Vec<u64>, low: u32) {
    let passes = (64 - low).div_ceil(RADIX_BITS) as usize;
    let digit = |k: u64, p: usize| ((k >> (low as usize + p * RADIX_BITS as usize)) & ((1 << RADIX_BITS) - 1)) as usize;
    let mut counts = vec![[0u32; 1 << RADIX_BITS]; passes];
    for &k in keys.iter() {
        for (p, c) in counts.iter_mut().enumerate() {
            c[digit(k, p)] += 1;
        }
    }
    let n = keys.len() as u32;
    let mut buf = vec![0u64; keys.len()];
    for (p, c) in counts.iter().enumerate() {
        if c.contains(&n) {
            continue;
        }
        let mut offsets = [0u32; 1 << RADIX_BITS];
        let mut sum = 0;
        for (o, &k) in offsets.iter_mut().zip(c) {
            *o = sum;
            sum += k;
        }
        for &k in keys.iter() {
            let d = digit(k, p);
            buf[offsets[d] as usize] = k;
            offsets[d] += 1;
        }
        core::mem::swap(keys, &mut buf);
    }
}

fn index_bits(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

fn index_mask(n: usize) -> u64 {
    (1u64 << index_bits(n)) - 1
}

/// Step 2: the order (as indices, with the lottery bit) after the fault push.
///
/// A first pass gathers each device's push distance and lottery bit in sorted
/// order: its reads of `entries` are independent, so they overlap in memory. The
/// second pass, whose steps depend on each other, then reads only sequentially.
fn fault_push(entries: &[RankEntry], sorted: &mut [u64]) -> Vec<u32> {
    let m = sorted.len();
    let mask = index_mask(entries.len());
    // Dense copies (8 bytes a device, sign bit = lottery win; negative and NaN rates,
    // which push nothing, become 0) make the gather below touch a third as many
    // cache lines and pages as reading `entries` would.
    let rates: Vec<u64> =
        entries.iter().map(|e| f64::max(e.fault_rate, 0.0).to_bits() | u64::from(e.lottery_winner) << 63).collect();
    for (s, w) in sorted.iter_mut().enumerate() {
        let idx = (*w & mask) as usize;
        let packed = rates[idx];
        let rate = f64::from_bits(packed & !(1 << 63));
        let d = fault_push_distance(m - s, rate) as u64;
        *w = d << 32 | idx as u64 | (packed >> 63) << 31;
    }
    let mut slots = FreeSlots::new(m);
    let mut out = vec![0u32; m];
    for &w in sorted.iter() {
        out[slots.take((w >> 32) as usize)] = w as u32;
    }
    out
}

/// Step 3: winners move up `boost` places, without overtaking each other.
fn lottery(pushed: &[u32], boost: usize) -> Vec<u32> {
    let mut winners: Vec<(usize, u32)> = Vec::new();
    let mut next_free = 0;
    for (p, &t) in pushed.iter().enumerate() {
        if t & WINNER != 0 {
            let fin = p.saturating_sub(boost).max(next_free);
            winners.push((fin, t & !WINNER));
            next_free = fin + 1;
        }
    }
    if winners.is_empty() {
        return pushed.to_vec();
    }
    let mut out = Vec::with_capacity(pushed.len());
    let mut others = pushed.iter().filter(|&&t| t & WINNER == 0);
    let mut w = winners.into_iter().peekable();
    for pos in 0..pushed.len() {
        match w.peek() {
            Some(&(fin, idx)) if fin == pos => {
                out.push(idx);
                w.next();
            }
            _ => out.push(*others.next().expect("one device per position")),
        }
    }
    out
}

const WORD_BITS: usize = 64;
/// Entries per low and mid node: 32 prefix counts of 16 bits, one cache line.
const FANOUT: usize = 32;
/// Entries per node above: 16 prefix counts of 32 bits, one cache line.
const HIGH: usize = 16;

/// The slots `0..n` of an order, each free or taken, answering "take the k-th free
/// slot" with a fixed number of branch-free steps.
///
/// A bit per slot (1 = free) under a tree of 32-way nodes. A node holds, for each
/// child, the free slots in the children before it (a prefix count); entries past
/// the last child hold the node's total, so no query lands on them. The two lowest
/// levels count in `u16` (a node covers at most 65,536 slots), the levels above in
/// `u32`. Finding the k-th free slot counts, in each node on the way down, the
/// entries `<= k`; taking it decrements the entries after the chosen child. Both
/// are fixed-length loops over 32 lanes that the compiler turns into SIMD.
pub struct FreeSlots {
    words: Vec<u64>,
    /// One node per 32 words (2,048 slots).
    low: Vec<[u16; FANOUT]>,
    /// One node per 32 low nodes (65,536 slots).
    mid: Vec<[u16; FANOUT]>,
    /// Levels above, bottom first, 16-way; the last holds the single root node.
    high: Vec<Vec<[u32; HIGH]>>,
    free: usize,
}

impl FreeSlots {
    /// `n` free slots.
    ///
    /// # Panics
    ///
    /// When `n` does not fit in a `u32`.
    pub fn new(n: usize) -> FreeSlots {
        assert!(u32::try_from(n).is_ok(), "FreeSlots holds at most u32::MAX slots");
        let n_words = n.div_ceil(WORD_BITS).max(1);
        let mut words = vec![0u64; n_words.next_multiple_of(FANOUT)];
        let word_counts: Vec<u32> = (0..n_words)
            .map(|w| {
                let live = n.saturating_sub(w * WORD_BITS).min(WORD_BITS);
                words[w] = if live == WORD_BITS { u64::MAX } else { (1u64 << live) - 1 };
                live as u32
            })
            .collect();
        let (low, low_counts) = build_level::<u16, FANOUT>(&word_counts);
        let (mid, mut counts) = build_level::<u16, FANOUT>(&low_counts);
        let mut high = Vec::new();
        while counts.len() > 1 {
            let (level, up) = build_level::<u32, HIGH>(&counts);
            high.push(level);
            counts = up;
        }
        FreeSlots { words, low, mid, high, free: n }
    }

    /// Number of free slots.
    pub fn free(&self) -> usize {
        self.free
    }

    /// Marks the `k`-th (0-based) free slot taken and returns it.
    ///
    /// # Panics
    ///
    /// When `k >= self.free()`.
    #[inline]
    pub fn take(&mut self, k: usize) -> usize {
        assert!(k < self.free, "slot {k} asked of {} free", self.free);
        let mut k = k as u32;
        let mut node = 0;
        for level in self.high.iter_mut().rev() {
            node = node * HIGH + descend(&mut level[node], &mut k);
        }
        node = node * FANOUT + descend(&mut self.mid[node], &mut k);
        let w = node * FANOUT + descend(&mut self.low[node], &mut k);
        let bit = select(self.words[w], k);
        self.words[w] &= !(1u64 << bit);
        self.free -= 1;
        w * WORD_BITS + bit as usize
    }
}

/// A prefix count: `u16` or `u32`.
trait Count: Copy + Ord + core::ops::Sub<Output = Self> + core::iter::Sum {
    /// `[0, 1, .., 31]`, so lane-wise comparisons with a child index vectorise.
    const LANES: [Self; 32];
    const ONE: Self;
    const ZERO: Self;
    fn from_u32(x: u32) -> Self;
    fn to_u32(self) -> u32;
}

macro_rules! count_impl {
    ($t:ty) => {
        impl Count for $t {
            const LANES: [Self; 32] = {
                let mut l = [0; 32];
                let mut i = 0;
                while i < 32 {
                    l[i] = i as $t;
                    i += 1;
                }
                l
            };
            const ONE: Self = 1;
            const ZERO: Self = 0;
            #[inline(always)]
            fn from_u32(x: u32) -> Self {
                x as $t
            }
            #[inline(always)]
            fn to_u32(self) -> u32 {
                self as u32
            }
        }
    };
}
count_impl!(u16);
count_impl!(u32);

/// Groups `counts` into nodes of `N` prefix counts; returns the nodes and each
/// node's total, the counts of the level above.
fn build_level<T: Count, const N: usize>(counts: &[u32]) -> (Vec<[T; N]>, Vec<u32>) {
    counts
        .chunks(N)
        .map(|chunk| {
            let total: u32 = chunk.iter().sum();
            let mut node = [T::from_u32(total); N];
            let mut sum = 0;
            for (entry, c) in node.iter_mut().zip(chunk) {
                *entry = T::from_u32(sum);
                sum += c;
            }
            (node, total)
        })
        .unzip()
}

/// Picks the child holding the `k`-th free slot of `node`, makes `k` relative to
/// it, and counts the slot as taken in the entries after it.
#[inline(always)]
fn descend<T: Count, const N: usize>(node: &mut [T; N], k: &mut u32) -> usize {
    let kt = T::from_u32(*k);
    // Entries rise along the node: the child is the last entry <= k.
    let below: T = node.iter().map(|&p| if p <= kt { T::ONE } else { T::ZERO }).sum::<T>() - T::ONE;
    let child = below.to_u32() as usize & (N - 1);
    *k -= node[child].to_u32();
    for (p, &lane) in node.iter_mut().zip(&T::LANES) {
        *p = *p - if lane > below { T::ONE } else { T::ZERO };
    }
    child
}

/// Position of the `k`-th (0-based) set bit of `w`, which has more than `k`.
/// Broadword (no `popcnt` needed): byte counts, their prefix sums by one
/// multiplication, then a table for the bit within the byte.
#[inline]
fn select(w: u64, k: u32) -> u32 {
    const L8: u64 = 0x0101_0101_0101_0101;
    const H8: u64 = 0x8080_8080_8080_8080;
    let mut s = w - ((w >> 1) & 0x5555_5555_5555_5555);
    s = (s & 0x3333_3333_3333_3333) + ((s >> 2) & 0x3333_3333_3333_3333);
    s = (s + (s >> 4)) & 0x0f0f_0f0f_0f0f_0f0f;
    let prefix = s.wrapping_mul(L8); // byte i: set bits in bytes 0..=i
                                     // Bytes whose inclusive prefix is <= k lie wholly before the answer.
    let le = (((u64::from(k) * L8) | H8) - prefix) & H8;
    let byte = ((le >> 7).wrapping_mul(L8) >> 56) as u32;
    let before = if byte == 0 { 0 } else { (prefix >> (8 * (byte - 1))) as u32 & 0xff };
    8 * byte + u32::from(SELECT_IN_BYTE[((w >> (8 * byte)) & 0xff) as usize][(k - before) as usize])
}

/// `SELECT_IN_BYTE[b][r]`: position of the `r`-th set bit of byte `b`.
static SELECT_IN_BYTE: [[u8; 8]; 256] = {
    let mut t = [[0u8; 8]; 256];
    let mut b = 0;
    while b < 256 {
        let (mut bit, mut r) = (0, 0);
        while bit < 8 {
            if b >> bit & 1 == 1 {
                t[b][r] = bit as u8;
                r += 1;
            }
            bit += 1;
        }
        b += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_finds_each_set_bit() {
        let w: u64 = 0xA5A5_0000_F00F_0001;
        let bits: Vec<u32> = (0..64).filter(|b| w >> b & 1 == 1).collect();
        for (k, &b) in bits.iter().enumerate() {
            assert_eq!(select(w, k as u32), b);
        }
    }

    #[test]
    fn free_slots_match_a_list() {
        for n in [1usize, 2, 63, 64, 65, 2047, 2048, 2049, 65_535, 65_536, 70_001, 2_100_000] {
            let mut fs = FreeSlots::new(n);
            let mut list: Vec<usize> = (0..n).collect();
            let mut x = n as u64 * 2_654_435_761;
            while list.len() > n.saturating_sub(20_000) {
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let k = (x >> 33) as usize % list.len();
                let k = if list.len() % 3 == 0 {
                    0
                } else if list.len() % 5 == 0 {
                    list.len() - 1
                } else {
                    k
                };
                assert_eq!(fs.take(k), list.remove(k), "n = {n}");
            }
            assert_eq!(fs.free(), list.len());
        }
    }

    #[test]
    fn keys_order_descending() {
        let xs = [2700.0, 1.0, 0.0, -0.0, 750.5, 750.25, f64::INFINITY];
        let mut sorted = xs;
        sorted.sort_by(|a, b| b.total_cmp(a));
        let mut by_key = xs;
        by_key.sort_by_key(|c| descending_key(*c));
        assert_eq!(sorted.map(f64::to_bits), by_key.map(f64::to_bits));
    }

    #[test]
    fn paper_walkthrough() {
        // Capacities 4,3,2,1 (ids 0..4 in that order); only the top device faults.
        // i=4 for it, R=0.5: it moves floor(2) = 2 places down.
        let e = |c, r| RankEntry { capacity: c, fault_rate: r, ..RankEntry::default() };
        let r = byte_rank(&[e(4.0, 0.5), e(3.0, 0.0), e(2.0, 0.0), e(1.0, 0.0)], 100);
        assert_eq!(r.order(), &[1, 2, 0, 3]);
        assert_eq!(r.ranks(), &[3, 1, 2, 4]);
    }

    #[test]
    fn flagged_devices_rank_zero_and_winners_jump() {
        let mut es: Vec<RankEntry> =
            (0..300).map(|i| RankEntry { capacity: 1000.0 - i as f64, ..RankEntry::default() }).collect();
        es[5].flagged = true;
        es[250].lottery_winner = true;
        let r = byte_rank(&es, 100);
        assert_eq!(r.rank(5), 0);
        assert_eq!(r.active(), 299);
        // Device 250 sat at position 249 (device 5 is gone); 100 places up is 149.
        assert_eq!(r.rank(250), 150);
        assert_eq!((r.rank(149), r.rank(150)), (149, 151));
    }
}
