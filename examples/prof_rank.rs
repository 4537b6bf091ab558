use byterank::core::rank::{byte_rank, RankEntry};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
fn main() {
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let entries: Vec<RankEntry> = (0..1_000_000)
        .map(|_| RankEntry {
            capacity: rng.random_range(1.0..2700.0),
            fault_rate: f64::from(rng.random_range(0..=30u32)) / 60.0,
            flagged: false,
            lottery_winner: rng.random_bool(0.05),
        })
        .collect();
    let mut s = 0;
    for _ in 0..30 {
        s += byte_rank(&entries, 100).rank(5);
    }
    println!("{s}");
}
