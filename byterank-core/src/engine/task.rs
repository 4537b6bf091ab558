//! One task's copies and results, and the rules that make its verdict final
//! (spec §11, validation).
//!
//! A task's verdict is final when `quorum` results agree (at most the copies it
//! was planned with), or when a trusted device's result arrives; a task planned
//! with one copy is final on its one result that passes integrity, reported as
//! unverified unless its device is trusted. Until then every result is only
//! provisional: nothing is paid, recorded or assembled.

use alloc::vec::Vec;

use super::command::{AttemptId, DeviceId};
use crate::application::{Application, ResultMeta};
use crate::fault::Outcome;

/// A list that holds its first `N` (1 or 2) elements inline: most tasks see one
/// or two copies, devices and results, and a heap allocation per task is a large
/// part of a task cycle's cost.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(bound(serialize = "T: serde::Serialize", deserialize = "T: serde::Deserialize<'de>"))
)]
pub(super) struct Few<T, const N: usize = 2> {
    #[cfg_attr(feature = "serde", serde(with = "inline"))]
    inline: [Option<T>; N],
    rest: Vec<T>,
}

#[cfg(feature = "serde")]
mod inline {
    pub fn serialize<S: serde::Serializer, T: serde::Serialize, const N: usize>(
        xs: &[Option<T>; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&xs[..], s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>, const N: usize>(
        d: D,
    ) -> Result<[Option<T>; N], D::Error> {
        let v: alloc::vec::Vec<Option<T>> = serde::Deserialize::deserialize(d)?;
        let len = v.len();
        v.try_into().map_err(|_| serde::de::Error::invalid_length(len, &"the inline slots of a list"))
    }
}

impl<T, const N: usize> Default for Few<T, N> {
    fn default() -> Self {
        Few { inline: core::array::from_fn(|_| None), rest: Vec::new() }
    }
}

impl<T: PartialEq, const N: usize> Few<T, N> {
    pub fn push(&mut self, x: T) {
        match self.inline.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(x),
            None => self.rest.push(x),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.inline.iter().flatten().chain(self.rest.iter())
    }

    pub fn len(&self) -> usize {
        self.inline.iter().flatten().count() + self.rest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inline[0].is_none()
    }

    pub fn contains(&self, x: &T) -> bool {
        self.iter().any(|y| y == x)
    }

    /// Removes the first element equal to `x`, keeping the order of the others;
    /// whether there was one.
    pub fn remove(&mut self, x: &T) -> bool {
        if let Some(i) = self.inline.iter().position(|y| y.as_ref() == Some(x)) {
            for k in i..N - 1 {
                self.inline[k] = self.inline[k + 1].take();
            }
            self.inline[N - 1] = if self.rest.is_empty() { None } else { Some(self.rest.remove(0)) };
            return true;
        }
        match self.rest.iter().position(|y| y == x) {
            Some(i) => {
                self.rest.remove(i);
                true
            }
            None => false,
        }
    }

    pub fn take(&mut self) -> Few<T, N> {
        core::mem::take(self)
    }
}

impl<T, const N: usize> IntoIterator for Few<T, N> {
    type Item = T;
    type IntoIter =
        core::iter::Chain<core::iter::Flatten<core::array::IntoIter<Option<T>, N>>, alloc::vec::IntoIter<T>>;

    fn into_iter(self) -> Self::IntoIter {
        self.inline.into_iter().flatten().chain(self.rest)
    }
}

/// A result that passed integrity and waits for the task's verdict.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Report {
    pub attempt: AttemptId,
    pub device: DeviceId,
    pub meta: ResultMeta,
    pub delayed: bool,
}

/// A task's final verdict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Verdict {
    /// The result assembled for the task.
    pub attempt: AttemptId,
    /// Decided by one untrusted result (a single-copy task).
    pub unverified: bool,
}

/// How a verdict was reached, for the result at an index of [`Task::results`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Decision {
    /// The result the others are judged against.
    pub truth: usize,
    /// Decided by one untrusted result.
    pub unverified: bool,
}

/// One task (chunk) of a running job.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Task {
    /// Copies in the plan.
    pub planned: u32,
    /// Copies waiting in pool queues (not counting withdrawn ones still there).
    pub queued: u32,
    /// Copies waiting in the rescue queue.
    pub rescue: u32,
    /// Whether a trusted arbitration is asked for or running.
    pub arbiter: bool,
    /// Attempts running now.
    pub running: Few<AttemptId>,
    /// Provisional results, in arrival order (one inline: a second result
    /// usually makes the verdict final, and they go).
    pub results: Few<Report, 1>,
    /// Devices that ran a copy (a device never gets two).
    pub tried: Few<DeviceId>,
    /// Outcomes to record on devices once the task's verdict is final elsewhere.
    pub blame: Vec<(DeviceId, Outcome)>,
    /// Failed, stale and malformed attempts (`max_failures` bounds them).
    pub failures: u32,
    /// Copies issued beyond the plan to reach a majority (`max_failures` bounds them).
    pub extra: u32,
    /// The next replica number to give a copy.
    pub next_replica: u32,
    pub verdict: Option<Verdict>,
}

impl Task {
    /// Agreeing results that make the verdict final: `quorum`, at most the copies
    /// planned, at least one.
    pub fn quorum(&self, quorum: u32) -> usize {
        quorum.min(self.planned).max(1) as usize
    }

    /// Copies that may still bring a result: queued, running or to be rescued.
    pub fn live_copies(&self) -> usize {
        self.queued as usize + self.running.len() + self.rescue as usize
    }

    fn agreeing(&self, app: &dyn Application, i: usize) -> usize {
        let r = &self.results.iter().nth(i).expect("a result of the task").meta;
        self.results.iter().filter(|o| app.agree(&o.meta, r)).count()
    }

    /// The largest number of agreeing results, and whether any two disagree.
    pub fn agreement(&self, app: &dyn Application) -> (usize, bool) {
        let n = self.results.len();
        let best = (0..n).map(|i| self.agreeing(app, i)).max().unwrap_or(0);
        (best, best < n)
    }

    /// Whether the newest result (`results.len() - 1`) makes the verdict final:
    /// its device is trusted, or it completes a quorum of agreeing results. Once
    /// results disagree and a trusted arbiter may be had (`arbiter`), only the
    /// arbiter decides: a quorum formed after a disagreement could be colluders
    /// outvoting an honest result.
    pub fn decide(&self, app: &dyn Application, trusted: bool, quorum: u32, arbiter: bool) -> Option<Decision> {
        let newest = self.results.len().checked_sub(1)?;
        if trusted {
            return Some(Decision { truth: newest, unverified: false });
        }
        self.by_quorum(app, quorum, arbiter)
    }

    /// The verdict a quorum of the results gives, if any (see [`Task::decide`]).
    pub fn by_quorum(&self, app: &dyn Application, quorum: u32, arbiter: bool) -> Option<Decision> {
        if arbiter && self.agreement(app).1 {
            return None;
        }
        let q = self.quorum(quorum);
        (0..self.results.len()).find_map(|i| {
            let agreeing = self.agreeing(app, i);
            (agreeing >= q).then_some(Decision { truth: i, unverified: agreeing == 1 })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::Synthetic;

    fn report(task: &mut Task, attempt: u64, digest: &str) {
        let meta = ResultMeta { size: 1, digest: digest.into(), ..Default::default() };
        task.results.push(Report {
            attempt: AttemptId(attempt),
            device: DeviceId(attempt as u32),
            meta,
            delayed: false,
        });
    }

    #[test]
    fn quorum_agreement_trust_and_single_copies() {
        let app = &Synthetic;
        let mut t = Task { planned: 3, ..Task::default() };
        report(&mut t, 0, "a");
        assert_eq!(t.decide(app, false, 2, false), None, "one of three copies is only provisional");
        report(&mut t, 1, "b");
        assert_eq!(t.decide(app, false, 2, false), None);
        assert_eq!(t.agreement(app), (1, true), "a disagreement");
        report(&mut t, 2, "b");
        assert_eq!(t.decide(app, false, 2, true), None, "after a disagreement, the arbiter decides");
        assert_eq!(
            t.decide(app, false, 2, false),
            Some(Decision { truth: 1, unverified: false }),
            "no arbiter: two agree"
        );

        let mut lone = Task { planned: 1, ..Task::default() };
        report(&mut lone, 0, "a");
        assert_eq!(lone.decide(app, false, 2, true), Some(Decision { truth: 0, unverified: true }), "single copy");
        assert_eq!(lone.decide(app, true, 2, true), Some(Decision { truth: 0, unverified: false }), "trusted");

        let mut pair = Task { planned: 2, ..Task::default() };
        report(&mut pair, 0, "a");
        report(&mut pair, 1, "b");
        assert_eq!(pair.decide(app, true, 2, true), Some(Decision { truth: 1, unverified: false }), "trusted decides");
    }

    #[test]
    fn few_keeps_order_through_removals() {
        let mut f: Few<i32> = Few::default();
        for x in [1, 2, 3, 4] {
            f.push(x);
        }
        assert!(f.remove(&1));
        assert!(!f.remove(&9));
        assert_eq!(f.iter().copied().collect::<Vec<_>>(), [2, 3, 4]);
        assert!(f.remove(&3));
        assert_eq!(f.iter().copied().collect::<Vec<_>>(), [2, 4]);
        assert_eq!(f.len(), 2);
        assert!(f.contains(&4));
        assert!(f.remove(&2) && f.remove(&4));
        assert!(f.is_empty());
        f.push(5);
        assert_eq!(f.into_iter().collect::<Vec<_>>(), [5]);
        let mut one: Few<i32, 1> = Few::default();
        for x in [1, 2, 3] {
            one.push(x);
        }
        assert!(one.remove(&1) && one.remove(&3));
        assert_eq!(one.iter().copied().collect::<Vec<_>>(), [2]);
    }
}
