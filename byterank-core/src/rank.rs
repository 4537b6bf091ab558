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
//! devices below it. Replaying the insertions backwards, device `s` (0 is the top)
//! takes the `d_s`-th still-free slot of the final order, for `s = 0, 1, .., m-1`
//! in turn; `fault_push` answers these `m` queries together, level by level.
//!
//! Why this layout: answering the queries one at a time on a counting tree is a
//! chain of dependent loads and updates per query. The previous version, a 32-way
//! tree of prefix counts over a bit set, took about 28 ms at a million devices,
//! nearly twice the time of sorting the scores. Here one sequential pass over the
//! queries, in time order, splits the slots into up to 32 parts: a query goes to
//! the part that holds its slot, which only a few counters (free slots before each
//! part) decide. Every query takes exactly one slot, so a part receives as many
//! queries as it has slots, and it receives them in its own range of the array,
//! still in time order, with `d` made relative to the part. The counters are lanes
//! packed in a few machine words (SWAR), kept in registers, and a query compares
//! `d` with all of them at once: a few dozen register operations, no branch.
//! Splitting every part again, four levels bring a million slots down to parts of
//! 16, and a part of 16 is finished in one `u64` (about 13 ms in all at a million
//! devices). The sort deals each device, its fault rate with it, into one of 4,096
//! buckets by the top of its capacity key in one pass and sorts each bucket in
//! cache, so push distances are computed bucket by bucket, with no random-access
//! pass over the devices (under 10 ms, where sorting keys and then gathering the
//! rates took 14).

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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
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
/// its 1-based place counted from the bottom (0, which is no place, moves nowhere).
#[cfg(test)]
pub(crate) fn fault_push_distance(i: usize, fault_rate: f64) -> usize {
    // `as` saturates: negative or NaN products give 0, huge ones usize::MAX.
    // `as` truncates toward zero, which is floor for the non-negative products.
    let d = (i as f64 * fault_rate) as usize;
    d.min(i.saturating_sub(1))
}

/// Ranks `entries`, which must be in ascending id order (ties in capacity are broken
/// by that order), moving lottery winners up `boost` places (paper: 100).
///
/// # Panics
///
/// With 2^31 devices or more.
pub fn byte_rank(entries: &[RankEntry], boost: usize) -> Ranking {
    assert!(entries.len() < 1 << 31, "ByteRank takes fewer than 2^31 devices");
    let mut queries = sorted_queries(entries);
    let pushed = fault_push(&mut queries);
    drop(queries);
    let order = lottery(pushed, boost);
    let mut ranks = vec![0u32; entries.len()];
    for (pos, &idx) in order.iter().enumerate() {
        ranks[idx as usize] = pos as u32 + 1;
    }
    Ranking { ranks, order }
}

/// The lottery bit of a tag (a device index with this bit set for a winner).
const WINNER: u32 = 1 << 31;

/// Maps a capacity to a `u64` whose ascending order is the capacity's descending
/// [`f64::total_cmp`] order.
fn descending_key(c: f64) -> u64 {
    let bits = c.to_bits();
    let ascending = if bits >> 63 == 1 { !bits } else { bits | 1 << 63 };
    !ascending
}

fn index_bits(n: usize) -> u32 {
    usize::BITS - n.leading_zeros()
}

fn index_mask(n: usize) -> u64 {
    (1u64 << index_bits(n)) - 1
}

/// Bits of the capacity key that choose a device's bucket in the first pass of the
/// sort: 4,096 buckets, whose counters stay in L1.
const BUCKET_BITS: u32 = 12;

/// Step 1, with each device's push distance: the unflagged devices by capacity,
/// descending, ties by index, each as a query `d << 32 | tag` for [`fault_push`]
/// (`d` is the push distance, `tag` the index with [`WINNER`] for a lottery winner).
///
/// Each device becomes a packed word: the top bits of its capacity key over its
/// index. One pass deals the words, each with its fault rate and lottery bit, into
/// buckets by the top [`BUCKET_BITS`] of the key bits that vary; it reads the
/// devices in order. Each bucket (a few thousand devices at most when capacities are
/// spread) is then sorted in cache on the remaining bits by a stable radix sort, so
/// equal keys keep index order. Capacities that agree in the kept bits but not in
/// all of them (rare: a relative gap below about 2^-32 at 1M devices) are then in
/// index order; a scan of the bucket finds such runs and sorts them by the full
/// key. A push distance needs the device's place in the sorted order, which is
/// known once its bucket is sorted, and its fault rate, which travelled with it: no
/// pass reads the devices in random order.
fn sorted_queries(entries: &[RankEntry]) -> Vec<u64> {
    let shift = index_bits(entries.len());
    let mask = index_mask(entries.len());
    let mut queries = Vec::with_capacity(entries.len());
    let (mut lo, mut hi) = (u64::MAX, 0);
    for (i, e) in entries.iter().enumerate() {
        if !e.flagged {
            let top = descending_key(e.capacity) >> shift;
            (lo, hi) = (lo.min(top), hi.max(top));
            queries.push(top << shift | i as u64);
        }
    }
    let m = queries.len();
    if m == 0 {
        return queries;
    }
    let varying = u64::BITS - (hi - lo).leading_zeros();
    let bucket_bits = varying.min(BUCKET_BITS);
    let low_bits = varying - bucket_bits;
    // The kept capacity bits, counted from the least key: bucket over the rest.
    let key = |w: u64| (w >> shift) - lo;
    let bucket = |w: u64| (key(w) >> low_bits) as usize;
    let mut starts = vec![0usize; (1 << bucket_bits) + 1];
    for &w in &queries {
        starts[bucket(w) + 1] += 1;
    }
    for b in 1..starts.len() {
        starts[b] += starts[b - 1];
    }
    // [the rest of the key over the index, the fault rate's bits with the lottery
    // bit on top]; negative and NaN rates, which push nothing, become 0 (and -0.0
    // becomes 0.0, whose sign bit cannot pass for a lottery win).
    let low_mask = (1u64 << low_bits) - 1;
    let mut records = vec![[0u64; 2]; m];
    let mut next = starts.clone();
    for &w in &queries {
        let e = &entries[(w & mask) as usize];
        let b = bucket(w);
        let rate = f64::max(e.fault_rate, 0.0).to_bits() & !(1 << 63) | u64::from(e.lottery_winner) << 63;
        records[next[b]] = [(key(w) & low_mask) << shift | (w & mask), rate];
        next[b] += 1;
    }
    let full = |r: &[u64; 2]| (descending_key(entries[(r[0] & mask) as usize].capacity), r[0] & mask);
    let mut scratch = Vec::new();
    for b in starts.windows(2) {
        let (bucket, out) = (&mut records[b[0]..b[1]], &mut queries[b[0]..b[1]]);
        sort_records(bucket, &mut scratch, shift, low_bits);
        if emit(bucket, out, m - b[0], shift, mask) {
            // Neighbours that agree in the kept bits: order each such run by the
            // full key, then emit the bucket again.
            for run in bucket.chunk_by_mut(|a, b| a[0] >> shift == b[0] >> shift) {
                if run.windows(2).any(|p| full(&p[0]) > full(&p[1])) {
                    run.sort_unstable_by_key(full);
                }
            }
            emit(bucket, out, m - b[0], shift, mask);
        }
    }
    queries
}

/// Writes the queries of the sorted `records` to `out`, the first of them having
/// `below` devices from it to the bottom (itself included); tells whether two
/// neighbours agree in all their kept key bits.
fn emit(records: &[[u64; 2]], out: &mut [u64], below: usize, shift: u32, mask: u64) -> bool {
    let mut tie = false;
    let mut previous = u64::MAX;
    for (p, (r, q)) in records.iter().zip(out).enumerate() {
        tie |= r[0] >> shift == previous;
        previous = r[0] >> shift;
        // fault_push_distance(i, rate), for a rate that is neither negative nor NaN:
        // the product, if below i - 1, truncated.
        let i = f64::from((below - p) as u32);
        let x = i * f64::from_bits(r[1] & !(1 << 63));
        let d = if x < i - 1.0 { x } else { i - 1.0 } as u32;
        *q = u64::from(d) << 32 | (r[0] & mask) | (r[1] >> 63) << 31;
    }
    tie
}

/// Digit width of the in-bucket radix sort: 256 counters a pass.
const DIGIT_BITS: u32 = 8;

/// Buckets smaller than this are sorted by insertion.
const SMALL: usize = 32;

/// Stable sort of `records` by `record[0] >> shift`, a value of `bits` bits: an LSD
/// radix sort, one counting pass for all digits, skipping digits that are the same
/// in every record; insertion sort for a handful.
fn sort_records(records: &mut [[u64; 2]], scratch: &mut Vec<[u64; 2]>, shift: u32, bits: u32) {
    if records.len() < SMALL {
        for i in 1..records.len() {
            let r = records[i];
            let mut j = i;
            while j > 0 && records[j - 1][0] >> shift > r[0] >> shift {
                records[j] = records[j - 1];
                j -= 1;
            }
            records[j] = r;
        }
        return;
    }
    const RADIX: usize = 1 << DIGIT_BITS;
    let passes = bits.div_ceil(DIGIT_BITS) as usize;
    let digit = |r: &[u64; 2], p: usize| (r[0] >> (shift as usize + p * DIGIT_BITS as usize)) as usize & (RADIX - 1);
    let mut counts = [[0u32; RADIX]; (u64::BITS / DIGIT_BITS) as usize + 1];
    let counts = &mut counts[..passes];
    for r in records.iter() {
        for (p, c) in counts.iter_mut().enumerate() {
            c[digit(r, p)] += 1;
        }
    }
    scratch.resize(records.len(), [0; 2]);
    let n = records.len() as u32;
    let mut in_scratch = false;
    for (p, c) in counts.iter_mut().enumerate() {
        if c.contains(&n) {
            continue;
        }
        let mut sum = 0;
        for o in c.iter_mut() {
            (*o, sum) = (sum, sum + *o);
        }
        let (from, to): (&[[u64; 2]], &mut [[u64; 2]]) =
            if in_scratch { (&scratch[..], &mut *records) } else { (&*records, &mut scratch[..]) };
        for r in from {
            let d = digit(r, p);
            to[c[d] as usize] = *r;
            c[d] += 1;
        }
        in_scratch = !in_scratch;
    }
    if in_scratch {
        records.copy_from_slice(scratch);
    }
}

/// Slots of a leaf: their order fits in a `u64`, four bits a slot.
const LEAF: usize = 16;

/// Step 2: the order (as tags) after the fault push.
///
/// `queries` holds, in sorted order, `d << 32 | tag`: device `s` (0-based; 0 is the
/// top) takes the `d`-th (0-based) slot still free of the final order, for `s = 0,
/// 1, .., m-1` in turn. A [`split`] sends each query to the part of the slots that
/// holds its slot; a part gets as many queries as it has slots, so the queries of
/// part `j` fill exactly the part's own range of the array, still in time order,
/// with `d` now counted within the part. Splitting all parts again, level by level
/// (each level one sequential pass over the array), brings the parts down to
/// [`LEAF`] slots, finished by [`leaf`].
fn fault_push(queries: &mut [u64]) -> Vec<u32> {
    let m = queries.len();
    let mut spare = vec![0u64; m];
    let (mut from, mut to) = (queries, &mut spare[..]);
    let mut range = m;
    while range > LEAF {
        let part_bits = part_bits(range);
        for (f, t) in from.chunks(range).zip(to.chunks_mut(range)) {
            split(f, t, part_bits);
        }
        core::mem::swap(&mut from, &mut to);
        range = 1 << part_bits;
    }
    let mut out = vec![0u32; m];
    for (q, o) in from.chunks(LEAF).zip(out.chunks_mut(LEAF)) {
        leaf(q, o);
    }
    out
}

/// Parts of `2^part_bits` slots for ranges of `range` slots: 32 parts while the
/// counters need more than 15 bits, then 16, then 8 parts of a leaf each.
fn part_bits(range: usize) -> u32 {
    let bits = usize::BITS - (range - 1).leading_zeros();
    if range > 1 << 15 {
        (bits - 5).max(15)
    } else if range > 1 << 7 {
        (bits - 4).max(7)
    } else {
        LEAF.trailing_zeros()
    }
}

/// One split of a range (`from`, its queries in time order) into parts of
/// `2^part_bits` slots, written to `to`, with counters just wide enough for the
/// ranges [`part_bits`] gives such parts.
fn split(from: &[u64], to: &mut [u64], part_bits: u32) {
    match part_bits {
        0..=4 => split_with::<8, 1>(from, to, part_bits),
        5..=11 => split_with::<16, 4>(from, to, part_bits),
        _ => split_with::<32, 16>(from, to, part_bits),
    }
}

/// Splits a range of slots into parts of `2^part_bits` slots: each query (`k << 32 |
/// tag`, in time order) goes to the part holding the `k`-th free slot, with `k` made
/// relative to that part, and the parts' queries are written to `to`, each part at
/// its own offset, in time order.
///
/// The state is, for each part, the free slots before it, kept as `LANE`-bit lanes
/// packed in `WORDS` words, each lane biased by its top bit. A query compares all
/// lanes at once with `k + 1` by one subtraction a word (the bias stops borrows
/// between lanes; a lane's top bit survives exactly when it exceeds `k`), takes the
/// last part whose lane does not exceed `k`, and takes one slot off the lanes that
/// do. What carries from one query to the next is those few words, in registers:
/// about 50 instructions a query for 16 parts, with no branch, where descending a
/// counting tree costs a chain of loads. Every lane must stay below `2^(LANE-1)`.
fn split_with<const LANE: u32, const WORDS: usize>(from: &[u64], to: &mut [u64], part_bits: u32) {
    let per_word = (u64::BITS / LANE) as usize;
    let parts = WORDS * per_word;
    let lane = |l: usize| LANE as usize * (l % per_word);
    let ones = (0..per_word).fold(0u64, |o, l| o | 1 << lane(l));
    let bias = ones << (LANE - 1);
    let lane_mask = (1u64 << LANE) - 1;
    let n = from.len();
    debug_assert!(n <= parts << part_bits && n <= 1 << (LANE - 1));
    debug_assert!(n.min((parts - 1) << part_bits) < 1 << (LANE - 1));
    let mut before = [bias; WORDS];
    let mut next = [0usize; 64];
    for (l, x) in next.iter_mut().enumerate().take(parts) {
        *x = (l << part_bits).min(n);
        before[l / per_word] += (*x as u64) << lane(l);
    }
    for &q in from {
        let k1 = ((q >> 32) + 1) * ones;
        let old = before;
        let mut above = 0;
        for b in &mut before {
            let over = ((*b - k1) >> (LANE - 1)) & ones;
            *b -= over;
            above += over;
        }
        // Sum the lanes of `above` into the top lane.
        let above = ((above.wrapping_mul(ones) >> lane(per_word - 1)) & lane_mask) as usize;
        let j = (parts - 1 - above) % parts;
        let base = ((old[j / per_word] >> lane(j)) & lane_mask) - (1 << (LANE - 1));
        to[next[j]] = q - (base << 32);
        next[j] += 1;
    }
}

/// Places the queries of one range of at most [`LEAF`] slots into `out`, by the same
/// problem read backwards: the last query in time order takes the one slot left, and
/// each earlier query `i` goes in front of the `k_i`-th of the later ones, in slot
/// order. The order of the range is a list of query numbers, four bits each, in one
/// `u64`, where inserting at `k` is a few shifts and masks.
fn leaf(queries: &[u64], out: &mut [u32]) {
    let mut list = 0u64;
    for (i, &q) in queries.iter().enumerate().rev() {
        let at = 4 * (q >> 32);
        let front = list & ((1 << at) - 1);
        list = front | (list - front) << 4 | (i as u64) << at;
    }
    for (p, o) in out.iter_mut().enumerate() {
        *o = queries[(list >> (4 * p)) as usize & (LEAF - 1)] as u32;
    }
}

/// Step 3: winners move up `boost` places, without overtaking each other.
fn lottery(mut pushed: Vec<u32>, boost: usize) -> Vec<u32> {
    let mut winners: Vec<(usize, u32)> = Vec::new();
    let mut next_free = 0;
    // Collect the winners, and move the others to the front, in order.
    let mut others = 0;
    for p in 0..pushed.len() {
        let t = pushed[p];
        pushed[others] = t;
        if t & WINNER != 0 {
            let fin = p.saturating_sub(boost).max(next_free);
            winners.push((fin, t & !WINNER));
            next_free = fin + 1;
        } else {
            others += 1;
        }
    }
    if winners.is_empty() {
        return pushed;
    }
    let mut out = Vec::with_capacity(pushed.len());
    let mut taken = 0;
    for (fin, idx) in winners {
        let before = fin - out.len();
        out.extend_from_slice(&pushed[taken..taken + before]);
        taken += before;
        out.push(idx);
    }
    out.extend_from_slice(&pushed[taken..others]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`fault_push`] against the problem done literally: device `s`, in order, takes
    /// the `k`-th still free slot of a list of slots.
    #[test]
    fn fault_push_matches_a_list() {
        let sizes = [0usize, 1, 2, 15, 16, 17, 127, 128, 129, 2047, 2048, 2049, 32_767, 32_768, 32_769, 70_001];
        for n in sizes.into_iter().chain([2_100_000]) {
            let mut free: Vec<usize> = (0..n).collect();
            let mut expected = vec![0u32; n];
            let mut queries = Vec::with_capacity(n);
            let mut x = n as u64 * 2_654_435_761 + 1;
            for s in 0..n {
                let left = n - s;
                x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
                let r = (x >> 33) as usize;
                let k = if s >= 20_000 {
                    // Near the end of the list, where `Vec::remove` is cheap.
                    left - 1 - r % left.min(5)
                } else if left % 3 == 0 {
                    0
                } else if left % 5 == 0 {
                    left - 1
                } else {
                    r % left
                };
                expected[free.remove(k)] = s as u32;
                queries.push((k as u64) << 32 | s as u64);
            }
            assert_eq!(fault_push(&mut queries), expected, "n = {n}");
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

    /// The push distance computed as each bucket is emitted is
    /// [`fault_push_distance`].
    #[test]
    fn emitted_push_distances_match_fault_push_distance() {
        let rates = [0.0, 1e-300, 0.25, 1.0 / 60.0, 29.0 / 60.0, 0.5, 0.999_999, 1.0, 1.5, 1e300, f64::INFINITY];
        for &rate in &rates {
            let below = 100_000;
            let records: Vec<[u64; 2]> = (0..below as u64).map(|i| [i, rate.to_bits()]).collect();
            let mut out = vec![0u64; below];
            emit(&records, &mut out, below, 20, (1 << 20) - 1);
            for (p, q) in out.iter().enumerate() {
                assert_eq!((q >> 32) as usize, fault_push_distance(below - p, rate), "rate {rate}, i {}", below - p);
            }
        }
    }

    /// Place 0 (no device is there) moves nowhere, whatever the rate, instead of
    /// underflowing `i - 1`.
    #[test]
    fn push_distance_of_place_zero_is_zero() {
        for rate in [0.0, 0.5, 1.0, 1e300, f64::INFINITY, f64::NAN, -1.0] {
            assert_eq!(fault_push_distance(0, rate), 0, "rate {rate}");
        }
        assert_eq!(fault_push_distance(1, f64::INFINITY), 0);
        assert_eq!(fault_push_distance(10, 0.55), 5);
        assert_eq!(fault_push_distance(10, 2.0), 9);
    }

    /// A fault rate of -0.0 pushes nothing and wins no lottery.
    #[test]
    fn negative_zero_fault_rate_is_no_lottery_win() {
        let mut es: Vec<RankEntry> =
            (0..300).map(|i| RankEntry { capacity: 1000.0 - i as f64, ..RankEntry::default() }).collect();
        es[250].fault_rate = -0.0;
        assert_eq!(byte_rank(&es, 100).rank(250), 251);
    }

    /// Capacities crowded into one bucket, with ties and near-ties, come out in
    /// capacity order, ties by index.
    #[test]
    fn sorted_queries_order_a_crowded_bucket() {
        let capacities: Vec<f64> = (0..5000u64)
            .map(|i| match i % 4 {
                0 => 1000.0,
                1 => f64::from_bits(1000f64.to_bits() + (i * 7919) % 3000),
                2 => 2700.0 - (i % 97) as f64,
                _ => 1.0 + (i * 7) as f64 / 5000.0,
            })
            .collect();
        let entries: Vec<RankEntry> =
            capacities.iter().map(|&capacity| RankEntry { capacity, ..RankEntry::default() }).collect();
        let mut expected: Vec<u32> = (0..entries.len() as u32).collect();
        expected.sort_by(|&a, &b| capacities[b as usize].total_cmp(&capacities[a as usize]).then(a.cmp(&b)));
        let got: Vec<u32> = sorted_queries(&entries).iter().map(|&q| q as u32).collect();
        assert_eq!(got, expected);
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
