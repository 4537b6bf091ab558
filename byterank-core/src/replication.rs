//! Replication: how many copies of a job's `m` tasks to run, and on which devices,
//! so that the probability that some task fails on every copy (the PJF) stays below
//! a bound (Mathematical Appendix I of the paper; spec §12).
//!
//! `M = floor(r*m)` copies run `m` unique tasks: with `a = floor(M/m)`, tasks
//! `0..M-a*m` get `a+1` copies and the others `a`. Two ways to group the `M`
//! devices into tasks ([`Assignment`]):
//!
//! - [`Assignment::Paper`], the Appendix's rule: devices sorted by failure
//!   probability, least reliable first; the `i`-th runs task `i mod m`. At `r = 2` it
//!   pairs the least reliable devices with mid-reliability ones: 25.9% PJF on the
//!   paper's Example 2.
//! - [`Assignment::Balanced`], ours: greedy LPT on `-ln p`, so that the tasks' odds of
//!   losing every copy are as equal as possible: 1.81% on the same devices.
//!
//! `PJF = 1 - prod_tasks (1 - prod_copies p)` is computed in log space (`log1p`,
//! `expm1`, the inner product as `exp(sum ln p)`), accurate down to 1e-12 and for
//! `m` up to 10^7. [`solve`] finds the least `M` with `PJF(M) <= delta` by galloping
//! then bisecting over integers, in at most `2 ceil(log2(M - m)) + 2` evaluations of
//! O(M) each (O(M log m) for the balanced rule). The answer is exact because PJF is
//! non-increasing in `M`: proved for the paper's rule whatever device joins, and for
//! the balanced rule up to `r = 2`; beyond `r = 2` the balanced rule's monotonicity is
//! checked by property tests and an adversarial search, not proved. [`assign`] says
//! which task each copy runs. `docs/replication.md` has the worked examples, the
//! errata and the proofs.

use alloc::collections::binary_heap::{BinaryHeap, PeekMut};
use alloc::vec;
use alloc::vec::Vec;
use core::cmp::{Ordering, Reverse};

/// The default cap on the replication coefficient `r` in [`solve`] (ten copies per task).
pub const DEFAULT_MAX_R: f64 = 10.0;

/// How the `M` devices are grouped into the `m` tasks. The default is
/// [`Assignment::Balanced`], as in [`PlanConfig`](crate::plan::PlanConfig) and the
/// `byterank replication` command.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Assignment {
    /// The paper's rule: devices by failure probability, descending (ties in candidate
    /// order); the `i`-th runs task `i mod m`.
    Paper,
    /// Ours: each task's total `-ln p` (its copies' joint log-reliability) as equal as
    /// the greedy LPT rule makes it, with the same number of copies per task as
    /// [`Assignment::Paper`]. Never worse than the paper's rule in our tests, and far
    /// better when reliabilities are spread.
    #[default]
    Balanced,
}

/// The outcome of [`solve`] or [`solve_uniform`].
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Solution {
    /// `M`, the number of copies (replicas included): the first `M` candidate devices.
    /// When `delta` is not achievable, the least `M` reaching the lowest PJF within
    /// the cap.
    pub copies: usize,
    /// `m`, the number of unique tasks.
    pub unique: usize,
    /// The replication coefficient `M / m`.
    pub r: f64,
    /// The PJF with `copies` copies.
    pub pjf: f64,
    /// Whether `pjf <= delta`. When false, no number of copies within the cap
    /// (`max_r` and the candidate devices) meets the bound, and `pjf` is the lowest
    /// reached.
    pub achievable: bool,
    /// How many PJF evaluations the search made (each O(M); O(M log m) when balanced).
    pub evaluations: u32,
}

/// Inputs that do not describe a replication problem.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ReplicationError {
    /// `m = 0`.
    #[error("there are no tasks to replicate: the number of unique tasks m must be at least 1")]
    NoTasks,
    /// A device's failure probability is NaN or outside `0..=1`.
    #[error(
        "device {index} has failure probability {value}: give a number within 0..=1 (its fault rate, for example)"
    )]
    InvalidProbability {
        /// The device's index in the input.
        index: usize,
        /// The offending value.
        value: f64,
    },
    /// The single failure probability of the uniform case is NaN or outside `0..=1`.
    #[error("the failure probability p = {0} must be a number within 0..=1")]
    InvalidUniformProbability(f64),
    /// Fewer devices (or copies) than tasks: some task would never run.
    #[error("{devices} devices cannot run {tasks} tasks: every task needs a copy, so give at least as many devices (copies) as tasks")]
    TooFewDevices {
        /// Devices (or copies) given.
        devices: usize,
        /// Unique tasks `m`.
        tasks: usize,
    },
    /// More devices than task indices fit in a `u32`.
    #[error("{0} devices are more than the 4294967295 supported: split the job")]
    TooManyDevices(usize),
    /// The PJF bound is not strictly between 0 and 1.
    #[error("the PJF bound delta = {0} must be strictly between 0 and 1 (0.01 asks for at most 1%)")]
    InvalidDelta(f64),
    /// The cap on `r` is NaN or below 1 (or infinite in [`solve_uniform`]).
    #[error("max_r = {0} must be a number >= 1 (1 means no replicas; the default is 10), and finite for solve_uniform, where no device count bounds the copies")]
    InvalidMaxR(f64),
    /// A replication coefficient is NaN, infinite or below 1.
    #[error("r = {0} must be a finite number >= 1 (1 means no replicas, 2 one replica per task)")]
    InvalidR(f64),
    /// [`pjf_of`] was given a task index per copy for a different number of devices.
    #[error("{copies} task indices were given for {devices} devices: give one task index per device")]
    LengthMismatch {
        /// Task indices given.
        copies: usize,
        /// Devices given.
        devices: usize,
    },
    /// [`pjf_of`] was given a task index outside `0..m`.
    #[error("copy {copy} runs task {task}, but tasks are numbered 0..{tasks}")]
    TaskOutOfRange {
        /// The copy's index.
        copy: usize,
        /// Its task index.
        task: u32,
        /// Unique tasks `m`.
        tasks: usize,
    },
}

/// `M = floor(r*m)`, the number of copies for replication coefficient `r`.
///
/// A decimal `r` is rarely exact in binary (`1.9985 * 10000` may come out as
/// `19984.999999999996`), so a product within 8 ulps of an integer counts as that
/// integer.
pub fn copies_for(r: f64, m: usize) -> Result<usize, ReplicationError> {
    if m == 0 {
        return Err(ReplicationError::NoTasks);
    }
    if !(r.is_finite() && r >= 1.0) {
        return Err(ReplicationError::InvalidR(r));
    }
    Ok(floor_copies(r, m))
}

/// `floor(r*m)` with the 8-ulp allowance, for `r >= 1` (saturating).
fn floor_copies(r: f64, m: usize) -> usize {
    let x = r * m as f64;
    let n = libm::round(x);
    let near = libm::fabs(x - n) <= 8.0 * f64::EPSILON * x;
    // `as` saturates at usize::MAX; never below m since r >= 1.
    (if near { n } else { libm::floor(x) } as usize).max(m)
}

/// The PJF of the `M = probs.len()` devices running `m` tasks under `assignment`.
///
/// `probs[i]` is device `i`'s failure probability. O(M log M): one sort.
pub fn pjf(probs: &[f64], m: usize, assignment: Assignment) -> Result<f64, ReplicationError> {
    validate(probs, m)?;
    if probs.len() == m {
        // One copy per task, whatever the grouping.
        return Ok(pjf_from_ln_q(probs.iter().map(|&p| libm::log(p))));
    }
    let mut sorted = Sorted::new(probs);
    sorted.extend_to(probs.len());
    Ok(sorted.pjf(m, probs.len(), assignment, &mut Scratch::default(), None))
}

/// The PJF of `copies` copies of `m` tasks on devices that all fail with probability
/// `p`, in closed form: `1 - (1-p^(a+1))^(M-a*m) * (1-p^a)^((a+1)*m-M)`. O(1).
pub fn pjf_uniform(p: f64, m: usize, copies: usize) -> Result<f64, ReplicationError> {
    if m == 0 {
        return Err(ReplicationError::NoTasks);
    }
    if !(0.0..=1.0).contains(&p) {
        return Err(ReplicationError::InvalidUniformProbability(p));
    }
    if copies < m {
        return Err(ReplicationError::TooFewDevices { devices: copies, tasks: m });
    }
    Ok(uniform(p, m, copies))
}

/// The PJF when copy `j` runs on device `j` (failure probability `probs[j]`) and runs
/// task `task_of_copy[j]`, for any grouping (a task with no copy fails for sure).
pub fn pjf_of(probs: &[f64], task_of_copy: &[u32], m: usize) -> Result<f64, ReplicationError> {
    if m == 0 {
        return Err(ReplicationError::NoTasks);
    }
    validate_probs(probs)?;
    if task_of_copy.len() != probs.len() {
        return Err(ReplicationError::LengthMismatch { copies: task_of_copy.len(), devices: probs.len() });
    }
    let mut ln_q = vec![0.0; m];
    for (copy, (&task, &p)) in task_of_copy.iter().zip(probs).enumerate() {
        let slot = ln_q.get_mut(task as usize).ok_or(ReplicationError::TaskOutOfRange { copy, task, tasks: m })?;
        *slot += libm::log(p);
    }
    Ok(pjf_from_ln_q(ln_q))
}

/// The least number of copies `M >= m` whose PJF is at most `delta`, using the first
/// `M` of the candidate devices `probs` (in the order the scheduler would use them,
/// e.g. rank order) grouped by `assignment`.
///
/// `M` is capped at `floor(max_r * m)` ([`DEFAULT_MAX_R`] is a sensible cap;
/// `f64::INFINITY` means every candidate) and at the number of candidates. When the
/// cap cannot meet `delta`, the solution is marked not achievable and holds the least
/// `M` that reaches the lowest PJF within the cap.
///
/// The search gallops from `m` (`m+1, m+2, m+4, ...`) then bisects: at most
/// `2 ceil(log2(M - m)) + 2` evaluations (`M` the answer, or the cap when not
/// achievable), each O(M) (O(M log m) for [`Assignment::Balanced`]), after sorting the
/// candidates the search reaches (fewer than twice the answer). Exact when PJF is
/// non-increasing in `M`, which is proved for [`Assignment::Paper`] and for
/// [`Assignment::Balanced`] up to `r = 2`, and tested beyond (see the module docs).
pub fn solve(
    probs: &[f64],
    m: usize,
    delta: f64,
    max_r: f64,
    assignment: Assignment,
) -> Result<Solution, ReplicationError> {
    validate(probs, m)?;
    check_delta(delta)?;
    if max_r.is_nan() || max_r < 1.0 {
        return Err(ReplicationError::InvalidMaxR(max_r));
    }
    let cap = if max_r == f64::INFINITY { probs.len() } else { floor_copies(max_r, m).min(probs.len()) };
    let mut sorted = Sorted::new(probs);
    let mut scratch = Scratch::default();
    let found = search(m, cap, delta, |copies| {
        sorted.extend_to(copies);
        sorted.pjf(m, copies, assignment, &mut scratch, None)
    });
    Ok(found.solution(m))
}

/// [`solve`] for devices that all fail with probability `p`, with as many devices as
/// wanted, over the closed form ([`pjf_uniform`]). `max_r` must be finite. O(log(M)).
pub fn solve_uniform(p: f64, m: usize, delta: f64, max_r: f64) -> Result<Solution, ReplicationError> {
    if m == 0 {
        return Err(ReplicationError::NoTasks);
    }
    if !(0.0..=1.0).contains(&p) {
        return Err(ReplicationError::InvalidUniformProbability(p));
    }
    check_delta(delta)?;
    if !(max_r.is_finite() && max_r >= 1.0) {
        return Err(ReplicationError::InvalidMaxR(max_r));
    }
    let found = search(m, floor_copies(max_r, m), delta, |copies| uniform(p, m, copies));
    Ok(found.solution(m))
}

/// Which task each of the `M = probs.len()` devices runs under `assignment`: entry `j`
/// is the task (in `0..m`) of the copy on device `j`. Tasks `0..M - a*m` get `a + 1`
/// copies, the others `a` ([`copies_per_task`]). O(M log M).
pub fn assign(probs: &[f64], m: usize, assignment: Assignment) -> Result<Vec<u32>, ReplicationError> {
    validate(probs, m)?;
    let copies = probs.len();
    let mut sorted = Sorted::new(probs);
    sorted.extend_to(copies);
    let mut task_of_copy = vec![0u32; copies];
    sorted.pjf(m, copies, assignment, &mut Scratch::default(), Some(&mut task_of_copy));
    Ok(task_of_copy)
}

/// How many copies each of the `m` tasks gets when `copies` copies run them (under
/// either assignment): with `a = floor(copies/m)`, `a + 1` for tasks `0..copies - a*m`
/// and `a` for the others.
pub fn copies_per_task(m: usize, copies: usize) -> Result<Vec<u32>, ReplicationError> {
    if m == 0 {
        return Err(ReplicationError::NoTasks);
    }
    if copies < m {
        return Err(ReplicationError::TooFewDevices { devices: copies, tasks: m });
    }
    if copies > u32::MAX as usize {
        return Err(ReplicationError::TooManyDevices(copies));
    }
    let (a, extra) = (copies / m, copies % m);
    Ok((0..m).map(|t| (a + usize::from(t < extra)) as u32).collect())
}

fn validate_probs(probs: &[f64]) -> Result<(), ReplicationError> {
    if probs.len() > u32::MAX as usize {
        return Err(ReplicationError::TooManyDevices(probs.len()));
    }
    match probs.iter().position(|p| !(0.0..=1.0).contains(p)) {
        Some(index) => Err(ReplicationError::InvalidProbability { index, value: probs[index] }),
        None => Ok(()),
    }
}

fn validate(probs: &[f64], m: usize) -> Result<(), ReplicationError> {
    if m == 0 {
        return Err(ReplicationError::NoTasks);
    }
    validate_probs(probs)?;
    if probs.len() < m {
        return Err(ReplicationError::TooFewDevices { devices: probs.len(), tasks: m });
    }
    Ok(())
}

fn check_delta(delta: f64) -> Result<(), ReplicationError> {
    if delta > 0.0 && delta < 1.0 {
        Ok(())
    } else {
        Err(ReplicationError::InvalidDelta(delta))
    }
}

/// Kahan–Babuška–Neumaier summation: the sum of 10^7 terms keeps full precision.
#[derive(Default)]
struct Sum {
    sum: f64,
    carry: f64,
}

impl Sum {
    fn add(&mut self, x: f64) {
        let t = self.sum + x;
        if libm::fabs(self.sum) >= libm::fabs(x) {
            self.carry += (self.sum - t) + x;
        } else {
            self.carry += (x - t) + self.sum;
        }
        self.sum = t;
    }

    fn total(&self) -> f64 {
        self.sum + self.carry
    }
}

/// `1 - prod_k (1 - q_k)` from each task's `ln q_k` (`q_k` = the task's copies all fail),
/// as `-expm1(sum log1p(-q_k))`.
fn pjf_from_ln_q(ln_q: impl IntoIterator<Item = f64>) -> f64 {
    let mut sum = Sum::default();
    for l in ln_q {
        let q = libm::exp(l);
        if q >= 1.0 {
            // Every copy of this task fails for sure.
            return 1.0;
        }
        sum.add(libm::log1p(-q));
    }
    // `0.0 - x`, not `-x`: a PJF of zero is +0.0, never -0.0.
    0.0 - libm::expm1(sum.total())
}

/// The closed form for `copies >= m >= 1` devices failing with probability `p`.
fn uniform(p: f64, m: usize, copies: usize) -> f64 {
    let (a, extra) = (copies / m, copies % m);
    // `extra` tasks with a+1 copies; (a+1)*m - M = m - extra tasks with a copies.
    let mut ln_survive = 0.0;
    for (count, k) in [(extra, a + 1), (m - extra, a)] {
        if count == 0 {
            continue;
        }
        let q = libm::pow(p, k as f64);
        if q >= 1.0 {
            return 1.0;
        }
        ln_survive += count as f64 * libm::log1p(-q);
    }
    0.0 - libm::expm1(ln_survive)
}

/// What the search found.
struct Found {
    copies: usize,
    pjf: f64,
    achievable: bool,
    evaluations: u32,
}

impl Found {
    fn solution(&self, m: usize) -> Solution {
        Solution {
            copies: self.copies,
            unique: m,
            r: self.copies as f64 / m as f64,
            pjf: self.pjf,
            achievable: self.achievable,
            evaluations: self.evaluations,
        }
    }
}

/// The least `M` in `m..=cap` with `f(M) <= delta`, for a non-increasing `f`: gallop
/// from `m` (`m+1, m+2, m+4, ...`), then bisect the last gap. When even `f(cap)`
/// exceeds `delta`, the least `M` with `f(M) <= f(cap)` instead.
fn search(m: usize, cap: usize, delta: f64, mut f: impl FnMut(usize) -> f64) -> Found {
    let mut evaluations = 0;
    let mut eval = |copies: usize| {
        evaluations += 1;
        f(copies)
    };
    let at_m = eval(m);
    if at_m <= delta || cap <= m {
        return Found { copies: m, pjf: at_m, achievable: at_m <= delta, evaluations };
    }
    // Invariant: f(lo) > delta (and lo_value is f(lo)).
    let (mut lo, mut lo_value, mut step) = (m, at_m, 1usize);
    let (hi, hi_value, target) = loop {
        let hi = lo.saturating_add(step).min(cap);
        let v = eval(hi);
        if v <= delta {
            break (hi, v, delta);
        }
        if hi == cap {
            // Not achievable: find the least M reaching f(cap) = v instead. f(lo) <= v
            // means a plateau that starts at or before lo.
            let (copies, pjf) = if at_m <= v {
                (m, at_m)
            } else if lo_value <= v {
                least(m, lo, lo_value, v, &mut eval)
            } else {
                least(lo, cap, v, v, &mut eval)
            };
            return Found { copies, pjf, achievable: false, evaluations };
        }
        (lo, lo_value) = (hi, v);
        step = step.saturating_mul(2);
    };
    let (copies, pjf) = least(lo, hi, hi_value, target, &mut eval);
    Found { copies, pjf, achievable: true, evaluations }
}

/// Bisection: given `f(lo) > target >= f(hi) = hi_value`, the least `M` in
/// `lo+1..=hi` with `f(M) <= target`, and its value.
fn least(
    mut lo: usize,
    mut hi: usize,
    mut hi_value: f64,
    target: f64,
    f: &mut impl FnMut(usize) -> f64,
) -> (usize, f64) {
    while hi - lo > 1 {
        let mid = lo + (hi - lo) / 2;
        let v = f(mid);
        if v <= target {
            (hi, hi_value) = (mid, v);
        } else {
            lo = mid;
        }
    }
    (hi, hi_value)
}

/// The candidates' `ln p` and a growing prefix of them in the paper's order: failure
/// probability descending, ties by candidate index ascending.
struct Sorted<'a> {
    probs: &'a [f64],
    ln_p: Vec<f64>,
    order: Vec<u32>,
}

/// An order-preserving key for `p` in `0..=1` (`+ 0.0` turns -0 into +0).
fn key(p: f64) -> u64 {
    (p + 0.0).to_bits()
}

impl<'a> Sorted<'a> {
    fn new(probs: &'a [f64]) -> Self {
        Sorted { probs, ln_p: Vec::new(), order: Vec::new() }
    }

    /// Sorts candidates `len..n` and merges them into the prefix (a no-op if `n <= len`).
    fn extend_to(&mut self, n: usize) {
        let len = self.order.len();
        if n <= len {
            return;
        }
        let probs = self.probs;
        self.ln_p.extend(probs[len..n].iter().map(|&p| libm::log(p)));
        let mut block: Vec<u32> = (len as u32..n as u32).collect();
        block.sort_unstable_by_key(|&i| (Reverse(key(probs[i as usize])), i));
        if len == 0 {
            self.order = block;
            return;
        }
        // Stable merge: on equal p the earlier candidates (the old prefix) come first.
        let mut merged = Vec::with_capacity(n);
        let (mut i, mut j) = (0, 0);
        while i < len && j < block.len() {
            if key(probs[self.order[i] as usize]) >= key(probs[block[j] as usize]) {
                merged.push(self.order[i]);
                i += 1;
            } else {
                merged.push(block[j]);
                j += 1;
            }
        }
        merged.extend_from_slice(&self.order[i..]);
        merged.extend_from_slice(&block[j..]);
        self.order = merged;
    }

    /// The PJF of the first `copies` candidates (`m <= copies <= len`) running `m` tasks,
    /// writing each copy's task to `tasks` when given.
    fn pjf(
        &self,
        m: usize,
        copies: usize,
        assignment: Assignment,
        scratch: &mut Scratch,
        tasks: Option<&mut [u32]>,
    ) -> f64 {
        let used = self.order.iter().copied().filter(|&i| (i as usize) < copies);
        match assignment {
            Assignment::Paper => {
                let ln_q = &mut scratch.ln_q;
                ln_q.clear();
                ln_q.resize(m, 0.0);
                let mut tasks = tasks;
                let mut task = 0;
                for i in used {
                    ln_q[task] += self.ln_p[i as usize];
                    if let Some(t) = tasks.as_deref_mut() {
                        t[i as usize] = task as u32;
                    }
                    task += 1;
                    if task == m {
                        task = 0;
                    }
                }
                pjf_from_ln_q(ln_q.iter().copied())
            }
            Assignment::Balanced => {
                let order = &mut scratch.order;
                order.clear();
                order.extend(used);
                self.balanced(m, scratch, tasks)
            }
        }
    }

    /// Greedy LPT on `x = -ln p` over `scratch.order` (the copies in paper order):
    /// devices from the most reliable (ties in candidate order) each onto the task with
    /// the least total `x` (ties: fewer copies, then lower index) that may still take
    /// a copy. Returns the PJF; writes tasks relabelled so that `0..M - a*m` hold the
    /// `a+1`-copy tasks.
    fn balanced(&self, m: usize, scratch: &mut Scratch, tasks: Option<&mut [u32]>) -> f64 {
        self.balanced_with(m, scratch, tasks, false)
    }

    /// [`balanced`](Self::balanced); `heap_only` turns off the O(M) path for `M <= 2m`
    /// (the tests compare the two).
    fn balanced_with(&self, m: usize, scratch: &mut Scratch, tasks: Option<&mut [u32]>, heap_only: bool) -> f64 {
        let Scratch { order, loads, task_of, ln_q } = scratch;
        let copies = order.len();
        let (a, extra) = ((copies / m) as u32, copies % m);
        // Most reliable first: reverse the order, then restore candidate order in ties.
        order.reverse();
        let mut start = 0;
        while start < copies {
            let k = key(self.probs[order[start] as usize]);
            let end =
                order[start..].iter().position(|&i| key(self.probs[i as usize]) != k).map_or(copies, |n| start + n);
            order[start..end].reverse();
            start = end;
        }
        let x = |i: u32| -self.ln_p[i as usize] + 0.0;
        task_of.clear();
        task_of.resize(if tasks.is_some() { copies } else { 0 }, 0);
        // The first m devices go to the empty tasks in turn: an empty task ranks first.
        loads.clear();
        loads.extend(order[..m].iter().enumerate().map(|(t, &i)| Load { sum: x(i), count: 1, task: t as u32 }));
        if !task_of.is_empty() {
            for (t, &i) in order[..m].iter().enumerate() {
                task_of[i as usize] = t as u32;
            }
        }
        let mut sums: Vec<f64> = loads.iter().map(|l| l.sum).collect();
        let mut counts: Vec<u32> = vec![1; m];
        if copies <= 2 * m && !heap_only {
            // At most one more copy a task: the tasks' loads so far fall with their
            // index (most reliable first), so LPT's least-loaded task is always the
            // last single one, ties going to the lowest index of the tied run. This is
            // the antitone pairing, in O(M) instead of a heap.
            let mut rest = order[m..].iter();
            let mut end = m;
            'pairs: while end > 0 {
                let mut start = end - 1;
                while start > 0 && sums[start - 1] == sums[end - 1] {
                    start -= 1;
                }
                for t in start..end {
                    let Some(&i) = rest.next() else { break 'pairs };
                    sums[t] += x(i);
                    counts[t] += 1;
                    if !task_of.is_empty() {
                        task_of[i as usize] = t as u32;
                    }
                }
                end = start;
            }
            return self.finish_balanced(m, a, extra, order, task_of, &sums, &counts, ln_q, tasks);
        }
        let mut heap = BinaryHeap::from(core::mem::take(loads));
        let mut full = 0; // tasks with a+1 copies
        for &i in &order[m..] {
            loop {
                let mut top = heap.peek_mut().expect("the tasks have room for every copy");
                if top.count > a || (top.count == a && full == extra) {
                    // Full for good: counts only grow.
                    PeekMut::pop(top);
                    continue;
                }
                top.sum += x(i);
                top.count += 1;
                if top.count > a {
                    full += 1;
                }
                let t = top.task as usize;
                (sums[t], counts[t]) = (top.sum, top.count);
                if !task_of.is_empty() {
                    task_of[i as usize] = top.task;
                }
                break;
            }
        }
        *loads = heap.into_vec();
        self.finish_balanced(m, a, extra, order, task_of, &sums, &counts, ln_q, tasks)
    }

    /// Relabels the tasks so that the `a+1`-copy ones come first, writes each copy's
    /// task, and returns the PJF of the grouping.
    #[allow(clippy::too_many_arguments)]
    fn finish_balanced(
        &self,
        m: usize,
        a: u32,
        extra: usize,
        order: &[u32],
        task_of: &[u32],
        sums: &[f64],
        counts: &[u32],
        ln_q: &mut Vec<f64>,
        tasks: Option<&mut [u32]>,
    ) -> f64 {
        if let Some(tasks) = tasks {
            // Relabel: the a+1-copy tasks first, each group in LPT index order.
            let mut label = vec![0u32; m];
            let (mut big, mut small) = (0u32, extra as u32);
            for (t, &c) in counts.iter().enumerate() {
                let next = if c > a { &mut big } else { &mut small };
                label[t] = *next;
                *next += 1;
            }
            for &i in order.iter() {
                tasks[i as usize] = label[task_of[i as usize] as usize];
            }
        }
        ln_q.clear();
        ln_q.extend(sums.iter().map(|&s| -s));
        pjf_from_ln_q(ln_q.iter().copied())
    }
}

/// A task's load in the LPT heap, ordered so the max-heap's top is the least loaded
/// (total `x`, then copies, then task index).
#[derive(Clone, Copy, Debug)]
struct Load {
    sum: f64,
    count: u32,
    task: u32,
}

impl Ord for Load {
    fn cmp(&self, other: &Self) -> Ordering {
        other.sum.total_cmp(&self.sum).then(other.count.cmp(&self.count)).then(other.task.cmp(&self.task))
    }
}

impl PartialOrd for Load {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl PartialEq for Load {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Load {}

/// Buffers reused across the search's evaluations.
#[derive(Default)]
struct Scratch {
    order: Vec<u32>,
    loads: Vec<Load>,
    task_of: Vec<u32>,
    ln_q: Vec<f64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn neumaier_keeps_ten_million_small_terms() {
        let mut s = Sum::default();
        s.add(1.0);
        for _ in 0..10_000_000 {
            s.add(1e-16);
        }
        assert!((s.total() - (1.0 + 1e-9)).abs() < 1e-22);
    }

    #[test]
    fn a_pjf_of_zero_is_positive_zero() {
        assert!(pjf_uniform(0.0, 10, 20).unwrap().is_sign_positive());
        assert!(pjf(&[0.0, 0.0], 2, Assignment::Paper).unwrap().is_sign_positive());
        assert!(pjf(&[0.0, 0.0, 0.0], 2, Assignment::Balanced).unwrap().is_sign_positive());
        assert_eq!(Assignment::default(), Assignment::Balanced);
    }

    #[test]
    fn copies_for_forgives_decimal_rounding() {
        assert_eq!(copies_for(1.9985, 10_000), Ok(19_985));
        assert_eq!(copies_for(1.1, 10), Ok(11));
        assert_eq!(copies_for(1.99, 10), Ok(19));
        assert_eq!(copies_for(2.0, 5_000), Ok(10_000));
        assert_eq!(copies_for(0.5, 10), Err(ReplicationError::InvalidR(0.5)));
    }

    #[test]
    fn search_cost_is_logarithmic() {
        // With the O(1) closed form, count the evaluations for m = 10^6, max_r = 10.
        let m = 1_000_000;
        for (p, delta) in [(0.0005, 0.01), (0.01, 1e-9), (0.3, 1e-6), (0.9, 1e-3), (0.5, 1e-12), (1e-9, 0.5)] {
            let s = solve_uniform(p, m, delta, DEFAULT_MAX_R).unwrap();
            let range = if s.achievable { s.copies - m } else { 10 * m - m };
            let bound = 2 * (usize::BITS - range.saturating_sub(1).leading_zeros()) + 2;
            assert!(s.evaluations <= bound, "p {p} delta {delta}: {} evaluations, bound {bound}", s.evaluations);
            assert!(s.evaluations <= 50);
        }
    }

    #[test]
    fn search_handles_plateaus_when_not_achievable() {
        // f falls to 0.5 at M = 13 and stays there: the least M reaching the floor is 13.
        let f = |copies: usize| if copies >= 13 { 0.5 } else { 1.0 - copies as f64 / 100.0 };
        let found = search(10, 40, 0.1, f);
        assert_eq!((found.copies, found.pjf, found.achievable), (13, 0.5, false));
        let flat = search(10, 40, 0.1, |_| 0.7);
        assert_eq!((flat.copies, flat.pjf, flat.achievable), (10, 0.7, false));
    }

    #[test]
    fn lpt_pairs_worst_with_best_at_r_2() {
        // Sorted p: 0.5, 0.4, 0.1, 0.01 (m = 2): antitone pairs {0.5, 0.01}, {0.4, 0.1}.
        let probs = [0.1, 0.5, 0.01, 0.4];
        let a = assign(&probs, 2, Assignment::Balanced).unwrap();
        assert_eq!(a[1], a[2]);
        assert_eq!(a[0], a[3]);
        let expected = 1.0 - (1.0 - 0.5 * 0.01) * (1.0 - 0.4 * 0.1);
        assert!((pjf(&probs, 2, Assignment::Balanced).unwrap() - expected).abs() < 1e-15);
    }

    proptest::proptest! {
        /// Up to two copies a task, the O(M) antitone pairing makes exactly the heap's
        /// choices: the same tasks for every copy and the same PJF, bit for bit.
        #[test]
        fn pairing_matches_the_heap(
            probs in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::sample::select(alloc::vec![0.0, -0.0, 1.0, 0.3, 0.1, 0.001]),
                    0.0..=1.0f64,
                ],
                1..300,
            ),
            m_share in 0.5..=1.0f64,
        ) {
            let copies = probs.len();
            let m = ((copies as f64 * m_share).ceil() as usize).clamp(1, copies);
            let mut sorted = Sorted::new(&probs);
            sorted.extend_to(copies);
            let run = |heap_only: bool| {
                let mut scratch = Scratch::default();
                scratch.order.extend(sorted.order.iter().copied());
                let mut tasks = alloc::vec![0u32; copies];
                let pjf = sorted.balanced_with(m, &mut scratch, Some(&mut tasks), heap_only);
                (pjf.to_bits(), tasks)
            };
            proptest::prop_assert_eq!(run(false), run(true));
        }
    }

    #[test]
    fn merge_of_blocks_matches_one_sort() {
        let probs = [0.3, 0.1, 0.3, 0.0, 1.0, 0.1, 0.3, -0.0, 0.5, 0.1];
        let mut grown = Sorted::new(&probs);
        for n in [1, 2, 5, 6, 10] {
            grown.extend_to(n);
        }
        let mut once = Sorted::new(&probs);
        once.extend_to(10);
        assert_eq!(grown.order, once.order);
        assert_eq!(once.order, [4, 8, 0, 2, 6, 1, 5, 9, 3, 7]);
    }
}
