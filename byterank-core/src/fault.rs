//! Fault history and fault rate (Table 8 and Equation 2; spec §4).
//!
//! A device's history is the last [`WINDOW`] outcomes attributable to it, each with
//! three bits: failed, delayed, incorrect. The fault rate is
//! `R = (mean(F) + mean(D) + mean(I)) / 3` over the outcomes present.
//!
//! The paper's rule flags a device when `R > 0.5`, which a device that fails every
//! task quickly (F = 1, D = 0, I = 0, so R = 1/3) never trips. [`FaultPolicy::paper`]
//! keeps that rule, as the default; [`FaultPolicy::strict`] also flags a device when
//! any single component's mean exceeds the threshold.

use alloc::vec::Vec;

/// How many outcomes the window keeps.
pub const WINDOW: usize = 20;
const MASK: u32 = (1 << WINDOW) - 1;

/// The outcome of one finished task attempt attributable to a device.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Outcome {
    /// The attempt failed (crash, error report, or stale).
    pub failed: bool,
    /// The attempt missed a heartbeat deadline, however it ended.
    pub delayed: bool,
    /// The result was wrong (lost a replica comparison).
    pub incorrect: bool,
}

impl Outcome {
    /// A clean, on-time, correct attempt.
    pub const OK: Outcome = Outcome { failed: false, delayed: false, incorrect: false };
}

/// The last [`WINDOW`] outcomes of a device, most recent first.
///
/// Stored as three bit masks (bit 0 is the most recent outcome), so pushing,
/// counting and comparing are a few instructions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "FaultVectors", into = "FaultVectors"))]
pub struct FaultHistory {
    failed: u32,
    delayed: u32,
    incorrect: u32,
    len: u8,
}

/// The grid file's form of a history: three 0/1 vectors, most recent first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct FaultVectors {
    /// Failure bits.
    pub failed: Vec<u8>,
    /// Delay bits.
    pub delayed: Vec<u8>,
    /// Incorrectness bits.
    pub incorrect: Vec<u8>,
}

/// Fault vectors that do not describe a history.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FaultVectorsError {
    /// The three vectors must have one entry per outcome.
    #[error("vectors `failed`, `delayed` and `incorrect` must have equal lengths (got {0}, {1} and {2})")]
    UnequalLengths(usize, usize, usize),
    /// Entries are bits.
    #[error("entries must be 0 or 1 (found {0})")]
    NotABit(u8),
}

impl TryFrom<FaultVectors> for FaultHistory {
    type Error = FaultVectorsError;

    /// Keeps the first [`WINDOW`] entries (the most recent ones).
    fn try_from(v: FaultVectors) -> Result<Self, Self::Error> {
        let (f, d, i) = (&v.failed, &v.delayed, &v.incorrect);
        if f.len() != d.len() || f.len() != i.len() {
            return Err(FaultVectorsError::UnequalLengths(f.len(), d.len(), i.len()));
        }
        if let Some(&bad) = f.iter().chain(d).chain(i).find(|&&b| b > 1) {
            return Err(FaultVectorsError::NotABit(bad));
        }
        let pack = |bits: &[u8]| bits.iter().take(WINDOW).enumerate().fold(0u32, |m, (k, &b)| m | (u32::from(b) << k));
        Ok(FaultHistory { failed: pack(f), delayed: pack(d), incorrect: pack(i), len: f.len().min(WINDOW) as u8 })
    }
}

impl From<FaultHistory> for FaultVectors {
    fn from(h: FaultHistory) -> Self {
        let unpack = |m: u32| (0..h.len as u32).map(|k| ((m >> k) & 1) as u8).collect();
        FaultVectors { failed: unpack(h.failed), delayed: unpack(h.delayed), incorrect: unpack(h.incorrect) }
    }
}

impl FaultHistory {
    /// An empty history (fault rate 0).
    pub const EMPTY: FaultHistory = FaultHistory { failed: 0, delayed: 0, incorrect: 0, len: 0 };

    /// Appends the most recent outcome, dropping the oldest past [`WINDOW`].
    pub fn push(&mut self, o: Outcome) {
        self.failed = ((self.failed << 1) | u32::from(o.failed)) & MASK;
        self.delayed = ((self.delayed << 1) | u32::from(o.delayed)) & MASK;
        self.incorrect = ((self.incorrect << 1) | u32::from(o.incorrect)) & MASK;
        self.len = (self.len + 1).min(WINDOW as u8);
    }

    /// Clears the window (after a device has been reviewed).
    pub fn reset(&mut self) {
        *self = FaultHistory::EMPTY;
    }

    /// How many outcomes the window holds.
    pub fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Whether no outcome is recorded.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The `k`-th most recent outcome (0 is the latest).
    pub fn get(&self, k: usize) -> Option<Outcome> {
        (k < self.len()).then(|| Outcome {
            failed: self.failed >> k & 1 == 1,
            delayed: self.delayed >> k & 1 == 1,
            incorrect: self.incorrect >> k & 1 == 1,
        })
    }

    /// The sample means of F, D and I (each 0 with an empty window).
    #[inline]
    pub fn means(&self) -> [f64; 3] {
        if self.len == 0 {
            return [0.0; 3];
        }
        let n = f64::from(self.len);
        [self.failed, self.delayed, self.incorrect].map(|m| f64::from(m.count_ones()) / n)
    }

    /// The fault rate `R = (mean(F) + mean(D) + mean(I)) / 3`, 0 with an empty window.
    #[inline]
    pub fn fault_rate(&self) -> f64 {
        let [f, d, i] = self.means();
        (f + d + i) / 3.0
    }
}

/// When a fault history takes a device out of scheduling (`repeated_failures`).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FaultPolicy {
    /// Flag when the fault rate exceeds this (paper: 0.5).
    pub max_fault_rate: f64,
    /// Also flag when any one of mean(F), mean(D), mean(I) exceeds `max_fault_rate`.
    pub per_component: bool,
}

impl FaultPolicy {
    /// The paper's rule: flag when `R > 0.5`.
    pub const fn paper() -> FaultPolicy {
        FaultPolicy { max_fault_rate: 0.5, per_component: false }
    }

    /// The paper's rule, plus a flag when any single component mean exceeds 0.5, so a
    /// device that fails every task is caught.
    pub const fn strict() -> FaultPolicy {
        FaultPolicy { max_fault_rate: 0.5, per_component: true }
    }

    /// Whether this history trips the `repeated_failures` flag.
    #[inline]
    pub fn flags(&self, h: &FaultHistory) -> bool {
        h.fault_rate() > self.max_fault_rate
            || (self.per_component && h.means().iter().any(|&m| m > self.max_fault_rate))
    }
}

impl Default for FaultPolicy {
    fn default() -> Self {
        FaultPolicy::paper()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use proptest::prelude::*;

    fn fail() -> Outcome {
        Outcome { failed: true, ..Outcome::OK }
    }

    #[test]
    fn empty_history_has_rate_zero() {
        assert_eq!(FaultHistory::EMPTY.fault_rate(), 0.0);
    }

    #[test]
    fn table_8_example_vectors() {
        let v = FaultVectors {
            failed: vec![0, 0, 1, 0, 1, 0, 0],
            delayed: vec![1, 1, 1, 0, 0, 0, 0],
            incorrect: vec![1, 0, 0, 0, 0, 0, 0],
        };
        let h = FaultHistory::try_from(v.clone()).unwrap();
        assert_eq!(h.len(), 7);
        assert_eq!(h.means(), [2.0 / 7.0, 3.0 / 7.0, 1.0 / 7.0]);
        assert_eq!(h.fault_rate(), (2.0 / 7.0 + 3.0 / 7.0 + 1.0 / 7.0) / 3.0);
        assert_eq!(FaultVectors::from(h), v);
        assert_eq!(h.get(0), Some(Outcome { failed: false, delayed: true, incorrect: true }));
    }

    #[test]
    fn only_twenty_most_recent_count() {
        let mut v = FaultVectors { failed: vec![0; 25], delayed: vec![0; 25], incorrect: vec![0; 25] };
        v.failed[22] = 1; // older than the window
        let h = FaultHistory::try_from(v).unwrap();
        assert_eq!((h.len(), h.fault_rate()), (20, 0.0));
    }

    #[test]
    fn bad_vectors_are_rejected() {
        let uneven = FaultVectors { failed: vec![0], delayed: vec![], incorrect: vec![0] };
        assert_eq!(FaultHistory::try_from(uneven), Err(FaultVectorsError::UnequalLengths(1, 0, 1)));
        let two = FaultVectors { failed: vec![2], delayed: vec![0], incorrect: vec![0] };
        assert_eq!(FaultHistory::try_from(two), Err(FaultVectorsError::NotABit(2)));
    }

    #[test]
    fn window_slides_and_reset_clears() {
        let mut h = FaultHistory::EMPTY;
        for _ in 0..20 {
            h.push(fail());
        }
        assert_eq!(h.means()[0], 1.0);
        h.push(Outcome::OK);
        assert_eq!((h.len(), h.means()[0]), (20, 19.0 / 20.0));
        h.reset();
        assert!(h.is_empty());
    }

    #[test]
    fn paper_policy_misses_a_device_that_always_fails_strict_catches_it() {
        let mut h = FaultHistory::EMPTY;
        for _ in 0..20 {
            h.push(fail());
        }
        assert!((h.fault_rate() - 1.0 / 3.0).abs() < 1e-15);
        assert!(!FaultPolicy::paper().flags(&h));
        assert!(FaultPolicy::strict().flags(&h));
        let mut all = FaultHistory::EMPTY;
        for _ in 0..20 {
            all.push(Outcome { failed: true, delayed: true, incorrect: false });
        }
        assert!(FaultPolicy::paper().flags(&all), "R = 2/3 > 0.5");
        assert_eq!(FaultPolicy::default(), FaultPolicy::paper());
    }

    proptest! {
        /// The packed window agrees with a plain list of outcomes.
        #[test]
        fn packed_window_matches_a_list(outcomes in proptest::collection::vec(any::<(bool, bool, bool)>(), 0..60)) {
            let mut h = FaultHistory::EMPTY;
            let mut list: Vec<Outcome> = Vec::new();
            for (f, d, i) in outcomes {
                let o = Outcome { failed: f, delayed: d, incorrect: i };
                h.push(o);
                list.insert(0, o);
                list.truncate(WINDOW);
            }
            prop_assert_eq!(h.len(), list.len());
            for (k, o) in list.iter().enumerate() {
                prop_assert_eq!(h.get(k), Some(*o));
            }
            if !list.is_empty() {
                let n = list.len() as f64;
                let mean = |p: fn(&Outcome) -> bool| list.iter().filter(|o| p(o)).count() as f64 / n;
                let r = (mean(|o| o.failed) + mean(|o| o.delayed) + mean(|o| o.incorrect)) / 3.0;
                prop_assert_eq!(h.fault_rate(), r);
            }
            let round = FaultHistory::try_from(FaultVectors::from(h)).unwrap();
            prop_assert_eq!(round, h);
        }
    }
}
