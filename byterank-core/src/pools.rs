//! Capacity pools (Algorithm 2 of the paper; spec §9) and ByteLevel.
//!
//! The target subset, in rank order, is cut into contiguous pools, scanning from
//! the bottom: a pool grows until its cumulative capacity reaches `C_min` and its
//! size reaches `s_min`, then the next device starts a new pool. An under-full top
//! pool is merged into the one below it, so every pool meets both thresholds
//! (unless the whole subset cannot). Pools are numbered from the top: pool 1 holds
//! the best-ranked devices. Every pool queue gets the same number of tasks, so the
//! small, fast pools at the top get more work per device.
//!
//! **Defaults** when a job does not set them: `s_min = max(1, n / 32)` and
//! `C_min = 0.75 * C_me * s_min`, with `n` the size of the target subset and `C_me`
//! its median capacity. The paper advises `C_min < C_me * s_min`: with it, pools of
//! above-median devices close on size (exactly `s_min` devices) and pools of weaker
//! devices close on capacity (more devices), and there are at most about 32 pools.
//!
//! **ByteLevel** decides how deep into the pools a job reaches. Tasks are dealt to
//! pools `1..=K` only; since devices inherit work only from lower pools, devices
//! below pool K never see the job. `high` uses every pool, `balanced` the best
//! pools covering three quarters of the target subset, `low` half of it.

use alloc::vec::Vec;
use core::ops::Range;

use crate::job::ByteLevel;

/// The thresholds of Algorithm 2.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PoolParams {
    /// Least cumulative capacity of a pool.
    pub c_min: f64,
    /// Least number of devices in a pool.
    pub s_min: usize,
}

/// How defaults and ByteLevel are chosen. `Default` gives the documented rule.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PoolConfig {
    /// Default `s_min` is `n / target_pools` (at least 1).
    pub target_pools: usize,
    /// Default `C_min` is this times `C_me * s_min` (below 1, as the paper advises).
    pub c_min_factor: f64,
    /// Share of the target subset (devices, best first) each ByteLevel reaches:
    /// low, balanced, high.
    pub level_share: [f64; 3],
}

impl Default for PoolConfig {
    fn default() -> Self {
        PoolConfig { target_pools: 32, c_min_factor: 0.75, level_share: [0.5, 0.75, 1.0] }
    }
}

/// The default thresholds for a target subset with these capacities.
pub fn default_params(capacities: &[f64], cfg: &PoolConfig) -> PoolParams {
    let n = capacities.len();
    let s_min = (n / cfg.target_pools.max(1)).max(1);
    PoolParams { c_min: cfg.c_min_factor * median(capacities) * s_min as f64, s_min }
}

/// The median (mean of the middle two for an even count; 0 for none).
pub(crate) fn median(xs: &[f64]) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    let mut v = xs.to_vec();
    let mid = v.len() / 2;
    let (_, hi, _) = v.select_nth_unstable_by(mid, f64::total_cmp);
    let hi = *hi;
    if xs.len() % 2 == 1 {
        hi
    } else {
        let lo = v[..mid].iter().copied().max_by(f64::total_cmp).expect("mid > 0");
        (lo + hi) / 2.0
    }
}

/// Algorithm 2 over the capacities of a target subset in rank order (best first).
/// Returns each pool as a range of positions in the subset, pool 1 first.
pub fn capacity_pools(capacities: &[f64], p: PoolParams) -> Vec<Range<usize>> {
    let n = capacities.len();
    if n == 0 {
        return Vec::new();
    }
    let under = |sum: f64, len: usize| sum < p.c_min || len < p.s_min;
    let mut pools: Vec<Range<usize>> = Vec::new(); // bottom pool first, for now
    let (mut start, mut end, mut sum) = (n - 1, n, capacities[n - 1]);
    for i in (0..n - 1).rev() {
        if under(sum, end - start) {
            start = i;
            sum += capacities[i];
        } else {
            pools.push(start..end);
            (start, end, sum) = (i, i + 1, capacities[i]);
        }
    }
    match pools.pop() {
        Some(below) if under(sum, end - start) => pools.push(start..below.end),
        below => {
            pools.extend(below);
            pools.push(start..end);
        }
    }
    pools.reverse();
    pools
}

/// How many of the `pools` (pool 1 first) a job of this ByteLevel uses: the fewest
/// best pools holding at least the level's share of the devices (at least one).
pub fn pools_for_level(pools: &[Range<usize>], level: ByteLevel, cfg: &PoolConfig) -> usize {
    let n: usize = pools.iter().map(|r| r.len()).sum();
    let share = cfg.level_share[level as usize].clamp(0.0, 1.0);
    let want = libm::ceil(share * n as f64) as usize;
    let mut covered = 0;
    for (k, pool) in pools.iter().enumerate() {
        covered += pool.len();
        if covered >= want {
            return k + 1;
        }
    }
    pools.len()
}

#[cfg(test)]
// Pools are ranges; a list holding one pool is what the tests mean.
#[allow(clippy::single_range_in_vec_init)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    /// Algorithm 2 transcribed literally: lists of positions, built bottom-up.
    fn oracle(caps: &[f64], p: PoolParams) -> Vec<Vec<usize>> {
        let mut pools: Vec<Vec<usize>> = Vec::new();
        for i in (0..caps.len()).rev() {
            let grow = match pools.last() {
                None => true,
                Some(pool) => pool.iter().map(|&j| caps[j]).sum::<f64>() < p.c_min || pool.len() < p.s_min,
            };
            if grow && !pools.is_empty() {
                pools.last_mut().unwrap().push(i);
            } else {
                pools.push(vec![i]);
            }
        }
        if pools.len() > 1 {
            let top = pools.last().unwrap();
            if top.iter().map(|&j| caps[j]).sum::<f64>() < p.c_min || top.len() < p.s_min {
                let top = pools.pop().unwrap();
                pools.last_mut().unwrap().extend(top);
            }
        }
        pools.reverse();
        for pool in &mut pools {
            pool.sort_unstable();
        }
        pools
    }

    #[test]
    fn small_example() {
        // Capacities best first; C_min = 10, s_min = 2.
        let caps = [9.0, 8.0, 7.0, 3.0, 3.0, 3.0, 3.0, 1.0];
        let pools = capacity_pools(&caps, PoolParams { c_min: 10.0, s_min: 2 });
        // Bottom-up: [1,3,3,3]=10 closes at size 4; [3,7]=10; [8,9]=17.
        assert_eq!(pools, vec![0..2, 2..4, 4..8]);
    }

    #[test]
    fn an_under_full_top_pool_merges_down() {
        let caps = [5.0, 4.0, 4.0, 4.0];
        // Bottom-up: [4,4]=8 closes; [4,5]=9 is the top and stays under C_min = 8? no: 9 >= 8.
        assert_eq!(capacity_pools(&caps, PoolParams { c_min: 8.0, s_min: 2 }), vec![0..2, 2..4]);
        // With C_min = 10 the top pair [5,4] = 9 is under-full and merges.
        assert_eq!(capacity_pools(&caps, PoolParams { c_min: 10.0, s_min: 2 }), [0..4]);
        assert_eq!(capacity_pools(&[], PoolParams { c_min: 1.0, s_min: 1 }), vec![]);
        assert_eq!(capacity_pools(&[1.0], PoolParams { c_min: 10.0, s_min: 5 }), [0..1]);
    }

    #[test]
    fn defaults_follow_the_papers_advice() {
        let caps: Vec<f64> = (0..640).map(|i| 2000.0 - i as f64).collect();
        let p = default_params(&caps, &PoolConfig::default());
        assert_eq!(p.s_min, 20);
        assert!(p.c_min < median(&caps) * p.s_min as f64);
        let pools = capacity_pools(&caps, p);
        assert!(pools.len() <= 33 && pools.len() >= 16, "{}", pools.len());
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn byte_level_reaches_deeper_as_it_rises() {
        let pools = vec![0..10, 10..30, 30..60, 60..100];
        let cfg = PoolConfig::default();
        assert_eq!(pools_for_level(&pools, ByteLevel::Low, &cfg), 3, "50 of 100 devices need 3 pools");
        assert_eq!(pools_for_level(&pools, ByteLevel::Balanced, &cfg), 4);
        assert_eq!(pools_for_level(&pools, ByteLevel::High, &cfg), 4);
        assert_eq!(pools_for_level(&[0..1], ByteLevel::Low, &cfg), 1);
    }

    proptest! {
        #[test]
        fn agrees_with_the_literal_algorithm(
            caps in prop::collection::vec(prop::sample::select(vec![1.0, 50.0, 300.0, 750.0, 1200.0, 2700.0]), 0..200),
            c_min in 0.0..8000.0f64,
            s_min in 1usize..12,
        ) {
            let p = PoolParams { c_min, s_min };
            let got: Vec<Vec<usize>> = capacity_pools(&caps, p).into_iter().map(|r| r.collect()).collect();
            prop_assert_eq!(&got, &oracle(&caps, p));
            // Every pool meets both thresholds, unless there is only one.
            if got.len() > 1 {
                for pool in &got {
                    prop_assert!(pool.len() >= s_min);
                    prop_assert!(pool.iter().map(|&j| caps[j]).sum::<f64>() >= c_min);
                }
            }
        }
    }
}
