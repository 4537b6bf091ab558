//! The repechage lottery (Equation 3; spec §6).
//!
//! Once a day every device draws a Bernoulli(`l(h)`) outcome, `h` being the hours
//! since it last processed a task. Winners move up 100 places in ByteRank for 24 h,
//! which gives idle, low-ranked devices a chance to prove themselves.

use rand::distr::{Bernoulli, Distribution};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

/// The constants of Equation 3. `Default` gives the paper's values.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LotteryConfig {
    /// `c` (paper: 0.00256564).
    pub c: f64,
    /// `beta` (paper: 0.16666667).
    pub beta: f64,
    /// Places a winner moves up in ByteRank (paper: 100).
    pub boost: usize,
}

impl Default for LotteryConfig {
    fn default() -> Self {
        LotteryConfig { c: 0.00256564, beta: 0.16666667, boost: 100 }
    }
}

/// The chance to win, `l(h) = c * h^2 * exp(-beta*h)`, clamped to `0..=1`; 0 when
/// `h` is unknown. At the paper's constants the peak is 5% at h = 12.
pub fn win_probability(hours_since_last_task: Option<f64>, cfg: &LotteryConfig) -> f64 {
    match hours_since_last_task {
        Some(h) if h.is_finite() && h > 0.0 => (cfg.c * (h * h) * libm::exp(-cfg.beta * h)).clamp(0.0, 1.0),
        _ => 0.0,
    }
}

/// The daily draw: one Bernoulli outcome per probability, in the order given (the
/// devices' id order), from a ChaCha8 generator seeded with `seed`. The same seed
/// and probabilities give the same winners on every platform.
///
/// # Panics
///
/// When a probability is outside `0..=1` or NaN.
pub fn draw(probabilities: impl IntoIterator<Item = f64>, seed: u64) -> impl Iterator<Item = bool> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    probabilities
        .into_iter()
        .map(move |p| Bernoulli::new(p).expect("a win probability lies within 0..=1").sample(&mut rng))
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    #[test]
    fn peaks_at_five_percent_at_twelve_hours() {
        let cfg = LotteryConfig::default();
        let peak = win_probability(Some(12.0), &cfg);
        assert!((peak - 0.05).abs() < 1e-6, "{peak}");
        for h in [1.0, 6.0, 11.0, 13.0, 24.0, 100.0] {
            assert!(win_probability(Some(h), &cfg) < peak);
        }
        assert_eq!(win_probability(None, &cfg), 0.0);
        assert_eq!(win_probability(Some(0.0), &cfg), 0.0);
    }

    #[test]
    fn a_seed_reproduces_a_draw() {
        let p: Vec<f64> = (0..10_000).map(|i| (i % 7) as f64 / 60.0).collect();
        let a: Vec<bool> = draw(p.iter().copied(), 42).collect();
        let b: Vec<bool> = draw(p.iter().copied(), 42).collect();
        let c: Vec<bool> = draw(p.iter().copied(), 43).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        // The draw is fair: 10,000 draws at mean p = 0.05 give 500 +- 4 sigma (87).
        let wins = a.iter().filter(|w| **w).count();
        assert!((413..=587).contains(&wins), "{wins}");
    }
}
