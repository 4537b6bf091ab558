//! Rewards in ByteChips (§2 of the white paper; spec §13).
//!
//! Money is integers only: a [`ByteChips`] amount is a `u64` count of the smallest
//! unit, 200 of which make one US dollar. A job's price is split 70/30 between the
//! workers and the platform; the workers' share becomes one bounty per task, in
//! proportion to the task's size, by the largest-remainder method so that the
//! bounties add up to the share exactly. A task's bounty is split equally among its
//! replicas whose results validated; whatever is not paid out (failed, stale and
//! incorrect attempts, tasks never validated, indivisible remainders) stays with the
//! platform. For every job, paid to workers + kept by the platform = price.

use alloc::vec::Vec;
use core::fmt;
use core::iter::Sum;
use core::ops::{Add, AddAssign};

/// ByteChips in one US dollar.
pub const CHIPS_PER_USD: u64 = 200;

/// An amount of ByteChips (the smallest unit; never fractional).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct ByteChips(pub u64);

impl ByteChips {
    /// Zero.
    pub const ZERO: ByteChips = ByteChips(0);

    /// `self - other`, or `None` when that would be negative.
    pub fn checked_sub(self, other: ByteChips) -> Option<ByteChips> {
        self.0.checked_sub(other.0).map(ByteChips)
    }
}

impl Add for ByteChips {
    type Output = ByteChips;
    /// # Panics
    ///
    /// On overflow (more than `u64::MAX` chips), which no ledger can hold.
    fn add(self, rhs: ByteChips) -> ByteChips {
        ByteChips(self.0.checked_add(rhs.0).expect("ByteChips overflow"))
    }
}

impl AddAssign for ByteChips {
    fn add_assign(&mut self, rhs: ByteChips) {
        *self = *self + rhs;
    }
}

impl Sum for ByteChips {
    fn sum<I: Iterator<Item = ByteChips>>(iter: I) -> ByteChips {
        iter.fold(ByteChips::ZERO, Add::add)
    }
}

impl fmt::Display for ByteChips {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ByteChips", self.0)
    }
}

/// The split of a job's price. `Default` is the paper's 70% to workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RewardConfig {
    /// Workers' share numerator (paper: 7).
    pub workers_numerator: u64,
    /// Workers' share denominator (paper: 10).
    pub workers_denominator: u64,
}

impl Default for RewardConfig {
    fn default() -> Self {
        RewardConfig { workers_numerator: 7, workers_denominator: 10 }
    }
}

/// Rewards that cannot be computed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RewardError {
    /// Bounties are proportional to task sizes, so some size must be positive.
    #[error("task sizes sum to zero: give every task a positive size (bytes or work units)")]
    NoWork,
    /// The share must be a fraction of at most one.
    #[error("workers' share {0}/{1} is not a fraction within 0..=1")]
    BadShare(u64, u64),
}

/// A job's price divided between the workers and the platform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct PriceSplit {
    /// `floor(price * 7 / 10)`: what the bounties share out.
    pub workers: ByteChips,
    /// The rest.
    pub platform: ByteChips,
}

/// Splits a price: workers get `floor(price * num / den)`, the platform the rest.
pub fn split_price(price: ByteChips, cfg: &RewardConfig) -> Result<PriceSplit, RewardError> {
    let (num, den) = (cfg.workers_numerator, cfg.workers_denominator);
    if den == 0 || num > den {
        return Err(RewardError::BadShare(num, den));
    }
    let workers = (u128::from(price.0) * u128::from(num) / u128::from(den)) as u64;
    Ok(PriceSplit { workers: ByteChips(workers), platform: ByteChips(price.0 - workers) })
}

/// The least price whose workers' share holds `tasks` ByteChips, so that tasks of
/// equal size each get a bounty of at least 1 ByteChip: `ceil(tasks * den / num)`
/// (`u64::MAX` ByteChips when no price is enough: a share of 0, or more than a
/// `u64` holds).
pub fn least_price(tasks: u64, cfg: &RewardConfig) -> ByteChips {
    let (num, den) = (u128::from(cfg.workers_numerator), u128::from(cfg.workers_denominator));
    if num == 0 {
        return ByteChips(u64::MAX);
    }
    ByteChips(u64::try_from((u128::from(tasks) * den).div_ceil(num)).unwrap_or(u64::MAX))
}

/// Divides `share` among tasks in proportion to `sizes`, by the largest-remainder
/// method: each task gets the floor of its exact share, and the chips left over go
/// one each to the tasks with the largest remainders (ties to the earlier task).
/// The bounties sum to `share` exactly.
pub fn bounties(share: ByteChips, sizes: &[u64]) -> Result<Vec<ByteChips>, RewardError> {
    let total: u128 = sizes.iter().map(|&s| u128::from(s)).sum();
    if total == 0 {
        return Err(RewardError::NoWork);
    }
    let w = u128::from(share.0);
    let mut out: Vec<ByteChips> = Vec::with_capacity(sizes.len());
    let mut remainders: Vec<(u128, usize)> = Vec::with_capacity(sizes.len());
    let mut given: u128 = 0;
    for (i, &s) in sizes.iter().enumerate() {
        let exact = w * u128::from(s);
        let floor = exact / total;
        given += floor;
        out.push(ByteChips(floor as u64));
        remainders.push((exact % total, i));
    }
    let left = (w - given) as usize; // < number of tasks
    if left > 0 {
        remainders.select_nth_unstable_by(left - 1, |a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        for &(_, i) in &remainders[..left] {
            out[i].0 += 1;
        }
    }
    Ok(out)
}

/// What each of a task's `validated` replicas earns of its `bounty`, and what the
/// platform keeps: `floor(bounty / validated)` each, the indivisible rest (or the
/// whole bounty, when no replica validated) to the platform.
pub fn replica_shares(bounty: ByteChips, validated: usize) -> (ByteChips, ByteChips) {
    match validated as u64 {
        0 => (ByteChips::ZERO, bounty),
        k => (ByteChips(bounty.0 / k), ByteChips(bounty.0 % k)),
    }
}

/// The money of one job: its price, the bounties, and what has been paid so far.
///
/// Invariant, for every job: [`paid`](Self::paid) + [`platform`](Self::platform)
/// = price, exactly, at every moment (the platform holds whatever is not yet paid).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct JobAccount {
    price: ByteChips,
    bounties: Bounties,
    /// One bit a task, set once it settled: 6 KB for 50,000 tasks, so that the
    /// check stays in cache where a byte a task would be one more memory access
    /// per settlement.
    settled: Vec<u64>,
    paid: ByteChips,
}

impl JobAccount {
    /// Opens the account of a job with this price and task sizes.
    pub fn new(price: ByteChips, sizes: &[u64], cfg: &RewardConfig) -> Result<JobAccount, RewardError> {
        let split = split_price(price, cfg)?;
        let bounties = Bounties::from(bounties(split.workers, sizes)?);
        let settled = alloc::vec![0; sizes.len().div_ceil(64)];
        Ok(JobAccount { price, settled, bounties, paid: ByteChips::ZERO })
    }

    /// Each task's bounty, in task order (none once the job closed).
    pub fn bounties(&self) -> impl Iterator<Item = ByteChips> + '_ {
        self.bounties.iter()
    }

    /// Settles a task whose `validated` replicas each earn an equal share; returns
    /// what each earns. A task settles once: later calls pay nothing.
    ///
    /// # Panics
    ///
    /// When `task` is not a task of the job.
    pub fn settle(&mut self, task: usize, validated: usize) -> ByteChips {
        let bounty = self.bounties.get(task);
        let (word, bit) = (&mut self.settled[task / 64], 1u64 << (task % 64));
        if *word & bit != 0 {
            return ByteChips::ZERO;
        }
        *word |= bit;
        let (each, _) = replica_shares(bounty, validated);
        self.paid += ByteChips(each.0 * validated as u64);
        each
    }

    /// Frees the per-task books of a job that ended: what was paid and the price
    /// stay, the bounties go (no task settles any more).
    pub fn close(&mut self) {
        (self.bounties, self.settled) = (Bounties::Runs(Vec::new()), Vec::new());
    }

    /// Paid to workers so far.
    #[cfg(test)]
    pub fn paid(&self) -> ByteChips {
        self.paid
    }

    /// Kept by the platform: the price less what was paid.
    pub fn platform(&self) -> ByteChips {
        ByteChips(self.price.0 - self.paid.0)
    }
}

/// Each task's bounty: runs of equal bounties when there are few (an evenly cut
/// job has at most three: a remainder of a ByteChip goes to the first tasks),
/// listed otherwise. A settlement reads its task's bounty, and a listed one of a
/// large job is a memory access of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
enum Bounties {
    /// `(end, bounty)`: tasks from the previous run's end (0 first) up to `end`,
    /// excluded, earn `bounty`.
    Runs(Vec<(usize, ByteChips)>),
    Listed(Vec<ByteChips>),
}

impl Bounties {
    const MAX_RUNS: usize = 4;

    fn get(&self, task: usize) -> ByteChips {
        match self {
            Bounties::Runs(runs) => runs.iter().find(|r| task < r.0).expect("a task of the job").1,
            Bounties::Listed(all) => all[task],
        }
    }

    fn iter(&self) -> impl Iterator<Item = ByteChips> + '_ {
        let runs: &[(usize, ByteChips)] = match self {
            Bounties::Runs(runs) => runs,
            Bounties::Listed(_) => &[],
        };
        let listed: &[ByteChips] = match self {
            Bounties::Listed(all) => all,
            Bounties::Runs(_) => &[],
        };
        let starts = core::iter::once(0).chain(runs.iter().map(|r| r.0));
        let from_runs = runs.iter().zip(starts).flat_map(|(&(end, b), start)| core::iter::repeat_n(b, end - start));
        from_runs.chain(listed.iter().copied())
    }
}

impl From<Vec<ByteChips>> for Bounties {
    fn from(all: Vec<ByteChips>) -> Bounties {
        let mut runs: Vec<(usize, ByteChips)> = Vec::new();
        for (i, &b) in all.iter().enumerate() {
            match runs.last_mut() {
                Some(run) if run.1 == b => run.0 = i + 1,
                _ => {
                    if runs.len() == Self::MAX_RUNS {
                        return Bounties::Listed(all);
                    }
                    runs.push((i + 1, b));
                }
            }
        }
        Bounties::Runs(runs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    #[test]
    fn seventy_thirty() {
        let s = split_price(ByteChips(60_000), &RewardConfig::default()).unwrap();
        assert_eq!((s.workers, s.platform), (ByteChips(42_000), ByteChips(18_000)));
        let odd = split_price(ByteChips(9), &RewardConfig::default()).unwrap();
        assert_eq!((odd.workers, odd.platform), (ByteChips(6), ByteChips(3)), "floor(6.3) = 6");
        assert_eq!(ByteChips(CHIPS_PER_USD).0, 200);
        assert!(split_price(ByteChips(1), &RewardConfig { workers_numerator: 3, workers_denominator: 2 }).is_err());
    }

    /// `least_price` is the smallest price whose equal bounties are all at least
    /// 1 ByteChip, found by trying every price from 0.
    #[test]
    fn least_price_is_the_smallest_that_pays_every_task() {
        for cfg in [RewardConfig::default(), RewardConfig { workers_numerator: 1, workers_denominator: 3 }] {
            for tasks in 1..60u64 {
                let sizes = vec![1; tasks as usize];
                let pays = |p: u64| {
                    let w = split_price(ByteChips(p), &cfg).unwrap().workers;
                    bounties(w, &sizes).unwrap().iter().all(|b| b.0 >= 1)
                };
                let smallest = (0..).find(|&p| pays(p)).unwrap();
                assert_eq!(least_price(tasks, &cfg), ByteChips(smallest), "{tasks} tasks, {cfg:?}");
            }
        }
        let none = RewardConfig { workers_numerator: 0, workers_denominator: 1 };
        assert_eq!(least_price(1, &none), ByteChips(u64::MAX));
        assert_eq!(least_price(u64::MAX, &RewardConfig::default()), ByteChips(u64::MAX));
        assert_eq!(least_price(0, &RewardConfig::default()), ByteChips(0));
    }

    #[test]
    fn largest_remainder() {
        // 10 chips over sizes 1,1,1: 3 each and one left, to the first (ties by index).
        assert_eq!(bounties(ByteChips(10), &[1, 1, 1]).unwrap(), vec![ByteChips(4), ByteChips(3), ByteChips(3)]);
        // 100 over 3, 3, 4: exact 30, 30, 40.
        assert_eq!(bounties(ByteChips(100), &[3, 3, 4]).unwrap(), vec![ByteChips(30), ByteChips(30), ByteChips(40)]);
        // 10 over 2, 5, 6: exact 1.538, 3.846, 4.615; floors 1, 3, 4; left 2 go to
        // remainders .846 and .615.
        assert_eq!(bounties(ByteChips(10), &[2, 5, 6]).unwrap(), vec![ByteChips(1), ByteChips(4), ByteChips(5)]);
        assert_eq!(bounties(ByteChips(10), &[0, 0]), Err(RewardError::NoWork));
        assert_eq!(
            bounties(ByteChips(u64::MAX), &[u64::MAX, 1]).unwrap().iter().copied().sum::<ByteChips>(),
            ByteChips(u64::MAX)
        );
    }

    #[test]
    fn replicas_share_and_the_rest_stays() {
        assert_eq!(replica_shares(ByteChips(10), 3), (ByteChips(3), ByteChips(1)));
        assert_eq!(replica_shares(ByteChips(10), 0), (ByteChips(0), ByteChips(10)));
        let mut acct = JobAccount::new(ByteChips(1000), &[1, 1], &RewardConfig::default()).unwrap();
        assert_eq!(acct.bounties().collect::<Vec<_>>(), [ByteChips(350), ByteChips(350)]);
        assert_eq!(acct.settle(0, 3), ByteChips(116));
        assert_eq!(acct.settle(0, 3), ByteChips::ZERO, "once only");
        assert_eq!(acct.paid(), ByteChips(348));
        assert_eq!(acct.platform(), ByteChips(652));
    }

    proptest! {
        /// An evenly cut job's bounties are kept as runs, and read back as the
        /// listed ones; any other list too.
        #[test]
        fn bounties_read_back_as_listed(share in 0u64..10_000_000, n in 1usize..300, last in 1u64..=7,
                                         other in prop::collection::vec(1u64..5, 1..50)) {
            let mut even = vec![7; n];
            even[n - 1] = last;
            for (sizes, must_run) in [(even, true), (other, false)] {
                let listed = bounties(ByteChips(share), &sizes).unwrap();
                let kept = Bounties::from(listed.clone());
                prop_assert!(!must_run || matches!(kept, Bounties::Runs(_)), "{kept:?}");
                prop_assert_eq!(kept.iter().collect::<Vec<_>>(), listed.clone());
                for (i, &b) in listed.iter().enumerate() {
                    prop_assert_eq!(kept.get(i), b);
                }
            }
        }

        #[test]
        fn bounties_sum_to_the_share_and_follow_sizes(share in 0u64..10_000_000, sizes in prop::collection::vec(0u64..1_000_000, 1..200)) {
            prop_assume!(sizes.iter().any(|&s| s > 0));
            let b = bounties(ByteChips(share), &sizes).unwrap();
            prop_assert_eq!(b.iter().copied().sum::<ByteChips>(), ByteChips(share));
            let total: u128 = sizes.iter().map(|&s| u128::from(s)).sum();
            for (bi, &s) in b.iter().zip(&sizes) {
                let floor = u128::from(share) * u128::from(s) / total;
                prop_assert!(u128::from(bi.0) == floor || u128::from(bi.0) == floor + 1);
            }
        }

        /// What a job pays is, task by task, its bounty split evenly over the
        /// results that validated (the remainder kept), counted once per task,
        /// whatever order and repetition settlements come in; the platform keeps
        /// the rest of the price, and never less than its 30%.
        #[test]
        fn the_ledger_conserves(price in 0u64..u64::MAX / 2, sizes in prop::collection::vec(1u64..10_000, 1..100),
                                settle in prop::collection::vec((0usize..100, 0usize..5), 0..200)) {
            let mut acct = JobAccount::new(ByteChips(price), &sizes, &RewardConfig::default()).unwrap();
            let bounty: Vec<ByteChips> = acct.bounties().collect();
            let workers = split_price(ByteChips(price), &RewardConfig::default()).unwrap().workers;
            prop_assert_eq!(&bounty, &bounties(workers, &sizes).unwrap());
            let mut settled = vec![false; sizes.len()];
            let mut expected: u128 = 0;
            for &(task, v) in &settle {
                let task = task % sizes.len();
                let each = acct.settle(task, v);
                if core::mem::replace(&mut settled[task], true) {
                    prop_assert_eq!(each, ByteChips::ZERO, "a task settles once");
                } else {
                    let want = if v == 0 { 0 } else { bounty[task].0 / v as u64 };
                    prop_assert_eq!(each.0, want);
                    expected += u128::from(want) * v as u128;
                }
                prop_assert_eq!(u128::from(acct.paid().0), expected);
                prop_assert_eq!(u128::from(acct.platform().0), u128::from(price) - expected);
            }
            let platform_floor = u128::from(price) - u128::from(price) * 7 / 10;
            prop_assert!(u128::from(acct.platform().0) >= platform_floor);
        }
    }
}
