//! The random streams: every draw of a run comes from one of these, named by
//! (seed, device or job kind, purpose, counter), so that what a device draws does
//! not depend on what any other device or the policy did (common random numbers).

use rand::SeedableRng as _;
use rand_chacha::ChaCha8Rng;

/// What a stream is drawn for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u64)]
pub(super) enum Purpose {
    /// Joining, leaving, colluding, trust: once per device.
    Life = 1,
    /// The n-th session's length and charging.
    Session = 2,
    /// The n-th attempt's outcome.
    Attempt = 3,
    /// A job kind's arrival times.
    Jobs = 4,
}

/// A ChaCha8 stream for one purpose of one device (or job kind), `n`-th of its kind.
pub(super) fn stream(seed: u64, who: u32, purpose: Purpose, n: u32) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ u64::from(who).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.set_stream(((purpose as u64) << 32) | u64::from(n));
    r
}

/// A uniform draw in [0, 1) from a counter (for poll jitter, the hottest draw):
/// SplitMix64 of (seed, device, counter).
pub(super) fn unit(seed: u64, who: u32, n: u32) -> f64 {
    let mut z = seed ^ (u64::from(who) << 32 | u64::from(n)).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}
