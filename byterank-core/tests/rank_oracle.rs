//! ByteRank against the oracle: a naive O(m²) transcription of spec §7, step by step
//! on a `Vec`, exactly as Algorithm 1 describes it.

use byterank_core::rank::{byte_rank, RankEntry};
use proptest::prelude::*;

/// Spec §7 literally: sort, push each device from the bottom up, apply the lottery.
fn oracle(entries: &[RankEntry], boost: usize) -> Vec<u32> {
    let mut b: Vec<usize> = (0..entries.len()).filter(|&i| !entries[i].flagged).collect();
    b.sort_by(|&x, &y| entries[y].capacity.total_cmp(&entries[x].capacity).then(x.cmp(&y)));
    let m = b.len();
    for i in 1..=m {
        let pos = m - i;
        let dev = b.remove(pos);
        let push = (i as f64 * entries[dev].fault_rate).floor().max(0.0) as usize;
        b.insert(pos + push.min(i - 1), dev);
    }
    let mut placed: Vec<Option<usize>> = vec![None; m];
    let mut previous: Option<usize> = None;
    for (p, &dev) in b.iter().enumerate() {
        if entries[dev].lottery_winner {
            let fin = p.saturating_sub(boost).max(previous.map_or(0, |q| q + 1));
            placed[fin] = Some(dev);
            previous = Some(fin);
        }
    }
    let mut others = b.iter().filter(|&&d| !entries[d].lottery_winner);
    let order: Vec<usize> = placed.into_iter().map(|slot| slot.unwrap_or_else(|| *others.next().unwrap())).collect();
    let mut ranks = vec![0u32; entries.len()];
    for (pos, dev) in order.into_iter().enumerate() {
        ranks[dev] = pos as u32 + 1;
    }
    ranks
}

/// Capacities with many exact ties and near-ties (a few ulps apart), which the
/// packed sort key must still order exactly.
fn capacity() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => 1.0..2700.0f64,
        2 => prop::sample::select(vec![750.0, 1000.0, 1200.5, 2700.0]),
        2 => (prop::sample::select(vec![750.0f64, 1000.0]), 1u64..2000).prop_map(|(c, ulps)| f64::from_bits(c.to_bits() + ulps)),
    ]
}

/// Fault rates up to the flag limit: the values a 20-outcome window produces,
/// arbitrary reals, and zero of both signs.
fn fault_rate() -> impl Strategy<Value = f64> {
    prop_oneof![
        3 => Just(0.0),
        1 => Just(-0.0),
        3 => (0u32..=30).prop_map(|k| f64::from(k) / 60.0),
        2 => 0.0..=0.5f64,
        1 => 0.5..=1.0f64,
    ]
}

fn entry(winner_chance: f64) -> impl Strategy<Value = RankEntry> {
    (capacity(), fault_rate(), prop::bool::weighted(0.1), prop::bool::weighted(winner_chance)).prop_map(
        |(capacity, fault_rate, flagged, lottery_winner)| RankEntry { capacity, fault_rate, flagged, lottery_winner },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn agrees_with_the_oracle(entries in prop::collection::vec(entry(0.05), 0..400), boost in prop::sample::select(vec![0usize, 1, 3, 100])) {
        let expected = oracle(&entries, boost);
        let got = byte_rank(&entries, boost);
        prop_assert_eq!(got.ranks(), &expected[..]);
    }

    /// Many winners, so that they crowd the top and stop each other.
    #[test]
    fn agrees_with_many_winners_near_the_top(entries in prop::collection::vec(entry(0.5), 0..250)) {
        let expected = oracle(&entries, 100);
        let got = byte_rank(&entries, 100);
        prop_assert_eq!(got.ranks(), &expected[..]);
    }

    /// The ranks are a permutation of 1..=n over unflagged devices, 0 for flagged
    /// ones, and `order` lists devices by rank.
    #[test]
    fn ranks_are_a_permutation(entries in prop::collection::vec(entry(0.05), 0..300)) {
        let r = byte_rank(&entries, 100);
        let mut seen: Vec<u32> = r.ranks().iter().copied().filter(|&x| x > 0).collect();
        seen.sort_unstable();
        prop_assert_eq!(seen, (1..=r.active() as u32).collect::<Vec<_>>());
        for (i, e) in entries.iter().enumerate() {
            prop_assert_eq!(r.rank(i) == 0, e.flagged);
        }
        for (pos, &idx) in r.order().iter().enumerate() {
            prop_assert_eq!(r.rank(idx as usize), pos as u32 + 1);
        }
    }
}

/// A grid large enough for every level of the counting tree, against the oracle.
#[test]
fn agrees_on_seventy_thousand_devices() {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let entries: Vec<RankEntry> = (0..70_000)
        .map(|_| RankEntry {
            capacity: (next() % 2700) as f64 + if next() % 4 == 0 { 0.5 } else { 0.0 },
            fault_rate: (next() % 31) as f64 / 60.0,
            flagged: next() % 50 == 0,
            lottery_winner: next() % 20 == 0,
        })
        .collect();
    assert_eq!(byte_rank(&entries, 100).ranks(), &oracle(&entries, 100)[..]);
}
