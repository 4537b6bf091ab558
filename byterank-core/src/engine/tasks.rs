//! A job's tasks as the engine stores them: one 64-byte record per task, holding
//! what a pull and a report read and write, and side tables for what few tasks
//! need. A job's tasks are far more than the cache holds, so every cache line a
//! task cycle touches per task is a memory access; the record keeps it to one.
//!
//! Inline in the record: the counters, the verdict, the first two running
//! attempts and the first two devices that ran a copy. Out of line: further
//! attempts and devices, and blame (rare: failures and copies beyond two), in a
//! map by task; provisional results in the engine's
//! [`Provisional`](super::provisional::Provisional) store.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::command::{AttemptId, DeviceId};
use super::task::Verdict;
use crate::fault::Outcome;

/// A list that holds its first `N` (1 or 2) elements inline: most tasks see one
/// or two copies and results, and a heap allocation per task is a large part of
/// a task cycle's cost.
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Few<T, const N: usize = 2> {
    inline: [Option<T>; N],
    rest: Vec<T>,
}

impl<T, const N: usize> Default for Few<T, N> {
    fn default() -> Self {
        Few { inline: core::array::from_fn(|_| None), rest: Vec::new() }
    }
}

impl<T, const N: usize> Few<T, N> {
    pub fn push(&mut self, x: T) {
        match self.inline.iter_mut().find(|s| s.is_none()) {
            Some(slot) => *slot = Some(x),
            None => self.rest.push(x),
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = &T> + Clone {
        self.inline.iter().flatten().chain(self.rest.iter())
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

use super::provisional::NONE;

const ARBITER: u8 = 1;
const DECIDED: u8 = 2;
const UNVERIFIED: u8 = 4;
/// The task has an entry in [`Tasks::spill`].
const SPILLED: u8 = 8;

/// One task (chunk) of a running job: one cache line.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(align(64))]
pub(super) struct Task {
    /// Copies in the plan.
    planned: u32,
    /// Copies waiting in pool queues (not counting withdrawn ones still there).
    queued: u32,
    /// Copies waiting in the rescue queue (not counting an arbitration).
    rescue: u32,
    /// Failed attempts that count toward `max_failures` (which count is the
    /// engine's `failure_attribution`).
    pub failures: u32,
    /// Copies issued beyond the plan to reach a majority (`max_failures` bounds them).
    pub extra: u32,
    /// The next replica number to give a copy.
    next_replica: u32,
    /// The attempt assembled, once decided.
    verdict: AttemptId,
    /// The first two attempts running now, in the order they started.
    running: [AttemptId; 2],
    /// The first two devices that ran a copy (a device never gets two).
    tried: [DeviceId; 2],
    /// The first provisional result's slot in the engine's store.
    results: u32,
    /// How many of `running` and `tried` are in use.
    n_running: u8,
    n_tried: u8,
    bits: u8,
}

const _: () = assert!(core::mem::size_of::<Task>() == 64);

impl Default for Task {
    fn default() -> Self {
        Task {
            planned: 0,
            queued: 0,
            rescue: 0,
            failures: 0,
            extra: 0,
            next_replica: 0,
            verdict: AttemptId(0),
            running: [AttemptId(0); 2],
            tried: [DeviceId(0); 2],
            results: NONE,
            n_running: 0,
            n_tried: 0,
            bits: 0,
        }
    }
}

impl Task {
    /// Agreeing results that make the verdict final: `quorum`, at most the copies
    /// planned, at least one.
    pub fn quorum(&self, quorum: u32) -> usize {
        quorum.min(self.planned).max(1) as usize
    }

    /// Copies in the plan.
    #[inline]
    pub fn planned(&self) -> u32 {
        self.planned
    }

    /// Copies waiting in pool queues (withdrawn ones not counted).
    #[inline]
    pub fn queued(&self) -> u32 {
        self.queued
    }

    /// Copies waiting in the rescue queue (an arbitration not counted).
    #[inline]
    pub fn rescue(&self) -> u32 {
        self.rescue
    }

    /// A copy of the plan, replica `replica`, is dealt to a pool queue.
    #[inline]
    pub fn plan_copy(&mut self, replica: u32) {
        self.planned += 1;
        self.queued += 1;
        self.next_replica = self.next_replica.max(replica + 1);
    }

    /// A copy of the plan no pool could hold waits in the rescue queue.
    #[inline]
    pub fn plan_rescue(&mut self) {
        self.planned += 1;
        self.rescue += 1;
    }

    /// A queued copy leaves its pool queue for a device.
    #[inline]
    pub fn take_queued(&mut self) {
        self.queued -= 1;
    }

    /// A queued copy moves to the rescue queue.
    #[inline]
    pub fn queued_to_rescue(&mut self) {
        self.queued -= 1;
        self.rescue += 1;
    }

    /// The task needs one more copy, from the rescue queue.
    #[inline]
    pub fn add_rescue(&mut self) {
        self.rescue += 1;
    }

    /// A rescue entry leaves the rescue queue for a device (a copy, or
    /// the arbitration when `copy` is false); the replica number it runs as.
    #[inline]
    pub fn take_rescue(&mut self, copy: bool) -> u32 {
        if copy {
            self.rescue -= 1;
        }
        let replica = self.next_replica;
        self.next_replica += 1;
        replica
    }

    pub fn verdict(&self) -> Option<Verdict> {
        (self.bits & DECIDED != 0).then_some(Verdict { attempt: self.verdict, unverified: self.bits & UNVERIFIED != 0 })
    }

    pub fn decided(&self) -> bool {
        self.bits & DECIDED != 0
    }

    /// Whether a trusted arbitration is asked for or running.
    pub fn arbiter(&self) -> bool {
        self.bits & ARBITER != 0
    }

    pub fn set_arbiter(&mut self, on: bool) {
        self.set(ARBITER, on);
    }

    /// Whether a provisional result waits.
    pub fn has_results(&self) -> bool {
        self.results != NONE
    }

    fn set(&mut self, bit: u8, on: bool) {
        if on {
            self.bits |= bit;
        } else {
            self.bits &= !bit;
        }
    }
}

/// What a task holds beyond its record.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Spill {
    /// Running attempts after the record's two, in the order they started.
    running: Vec<AttemptId>,
    /// Devices that ran a copy after the record's two.
    tried: Vec<DeviceId>,
    /// Outcomes to record on devices once the task's verdict is final elsewhere.
    blame: Vec<(DeviceId, Outcome)>,
    /// Devices whose attempt pointed at the task (an error report or a result
    /// that failed integrity), each once.
    #[cfg_attr(feature = "serde", serde(default))]
    erred: Vec<DeviceId>,
}

impl Spill {
    fn is_empty(&self) -> bool {
        self.running.is_empty() && self.tried.is_empty() && self.blame.is_empty() && self.erred.is_empty()
    }
}

/// A job's tasks, by index.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Tasks {
    records: Vec<Task>,
    spill: BTreeMap<u32, Spill>,
}

impl core::ops::Index<u32> for Tasks {
    type Output = Task;
    fn index(&self, task: u32) -> &Task {
        &self.records[task as usize]
    }
}

impl core::ops::IndexMut<u32> for Tasks {
    fn index_mut(&mut self, task: u32) -> &mut Task {
        &mut self.records[task as usize]
    }
}

impl Tasks {
    /// Asks the cache for the task's record ahead of its use.
    pub fn prefetch(&self, task: u32) {
        super::prefetch::prefetch(self.records.get(task as usize));
    }

    /// `n` tasks without copies.
    pub fn new(n: usize) -> Tasks {
        Tasks { records: alloc::vec![Task::default(); n], ..Tasks::default() }
    }

    pub fn len(&self) -> usize {
        self.records.len()
    }

    pub fn iter(&self) -> impl Iterator<Item = &Task> {
        self.records.iter()
    }

    fn spill_mut(&mut self, task: u32) -> &mut Spill {
        self.records[task as usize].bits |= SPILLED;
        self.spill.entry(task).or_default()
    }

    fn spilled(&self, task: u32) -> Option<&Spill> {
        if self.records[task as usize].bits & SPILLED == 0 {
            return None;
        }
        self.spill.get(&task)
    }

    /// Drops the task's spill entry once it holds nothing.
    fn tidy(&mut self, task: u32) {
        if self.records[task as usize].bits & SPILLED != 0 && self.spill.get(&task).is_some_and(Spill::is_empty) {
            self.spill.remove(&task);
            self.records[task as usize].bits &= !SPILLED;
        }
    }

    /// The attempts running now, in the order they started.
    pub fn running(&self, task: u32) -> impl Iterator<Item = AttemptId> + '_ {
        let t = &self.records[task as usize];
        let rest = self.spilled(task).map_or(&[][..], |s| &s.running[..]);
        t.running[..t.n_running as usize].iter().copied().chain(rest.iter().copied())
    }

    /// Copies that may still bring a result: queued, running or to be rescued.
    pub fn live_copies(&self, task: u32) -> usize {
        let t = &self.records[task as usize];
        let rest = self.spilled(task).map_or(0, |s| s.running.len());
        t.queued as usize + t.n_running as usize + rest + t.rescue as usize
    }

    pub fn push_running(&mut self, task: u32, attempt: AttemptId) {
        let t = &mut self.records[task as usize];
        match t.running.get_mut(t.n_running as usize) {
            Some(slot) => {
                *slot = attempt;
                t.n_running += 1;
            }
            None => self.spill_mut(task).running.push(attempt),
        }
    }

    /// An attempt of the task ended; the others keep their order.
    pub fn remove_running(&mut self, task: u32, attempt: AttemptId) {
        let t = &mut self.records[task as usize];
        let n = t.n_running as usize;
        if let Some(k) = t.running[..n].iter().position(|&a| a == attempt) {
            if k == 0 {
                t.running[0] = t.running[1];
            }
            let next = match self.spilled(task) {
                Some(s) if !s.running.is_empty() => Some(self.spill_mut(task).running.remove(0)),
                _ => None,
            };
            let t = &mut self.records[task as usize];
            match next {
                Some(a) => t.running[1] = a,
                None => {
                    t.n_running -= 1;
                    t.running[t.n_running as usize] = AttemptId(0);
                }
            }
            self.tidy(task);
        } else if self.spilled(task).is_some() {
            let s = self.spill_mut(task);
            if let Some(i) = s.running.iter().position(|&a| a == attempt) {
                s.running.remove(i);
            }
            self.tidy(task);
        }
    }

    /// Takes the running attempts off the task, in order.
    pub fn take_running(&mut self, task: u32) -> Few<AttemptId> {
        let t = &mut self.records[task as usize];
        let mut few = Few::default();
        for a in &t.running[..t.n_running as usize] {
            few.push(*a);
        }
        (t.running, t.n_running) = ([AttemptId(0); 2], 0);
        if self.spilled(task).is_some() {
            few.rest = core::mem::take(&mut self.spill_mut(task).running);
            self.tidy(task);
        }
        few
    }

    /// Devices that ran a copy of the task.
    pub fn tried(&self, task: u32) -> impl Iterator<Item = DeviceId> + '_ {
        let t = &self.records[task as usize];
        let rest = self.spilled(task).map_or(&[][..], |s| &s.tried[..]);
        t.tried[..t.n_tried as usize].iter().copied().chain(rest.iter().copied())
    }

    pub fn has_tried(&self, task: u32, device: DeviceId) -> bool {
        let t = &self.records[task as usize];
        t.tried[..t.n_tried as usize].contains(&device) || self.spilled(task).is_some_and(|s| s.tried.contains(&device))
    }

    pub fn push_tried(&mut self, task: u32, device: DeviceId) {
        let t = &mut self.records[task as usize];
        match t.tried.get_mut(t.n_tried as usize) {
            Some(slot) => {
                *slot = device;
                t.n_tried += 1;
            }
            None => self.spill_mut(task).tried.push(device),
        }
    }

    /// An outcome to record on a device once the task's verdict is final.
    pub fn push_blame(&mut self, task: u32, device: DeviceId, outcome: Outcome) {
        self.spill_mut(task).blame.push((device, outcome));
    }

    /// A device's attempt pointed at the task: the distinct devices that did so,
    /// this one included.
    pub fn push_erred(&mut self, task: u32, device: DeviceId) -> u32 {
        let erred = &mut self.spill_mut(task).erred;
        if !erred.contains(&device) {
            erred.push(device);
        }
        erred.len() as u32
    }

    /// The task's verdict is final: it forgets who ran it, and hands over its
    /// blame and running attempts.
    pub fn decide(&mut self, task: u32, verdict: Verdict) -> (Vec<(DeviceId, Outcome)>, Few<AttemptId>) {
        let t = &mut self.records[task as usize];
        // Its copies still queued are withdrawn (a pull drops them), those in
        // the rescue queue dropped at the next tick, its arbitration called off.
        (t.queued, t.rescue) = (0, 0);
        t.set(ARBITER, false);
        t.verdict = verdict.attempt;
        t.set(DECIDED, true);
        t.set(UNVERIFIED, verdict.unverified);
        (t.tried, t.n_tried) = ([DeviceId(0); 2], 0);
        let running = self.take_running(task);
        let blame = match self.spill.remove(&task) {
            Some(s) => s.blame,
            None => Vec::new(),
        };
        self.records[task as usize].bits &= !SPILLED;
        (blame, running)
    }

    /// The head of the task's provisional results in the engine's
    /// [`Provisional`](super::provisional::Provisional) store.
    pub fn results_mut(&mut self, task: u32) -> &mut u32 {
        &mut self.records[task as usize].results
    }

    pub fn results(&self, task: u32) -> u32 {
        self.records[task as usize].results
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn running_attempts_keep_their_order_through_removals() {
        let mut t = Tasks::new(1);
        for a in 1..=4 {
            t.push_running(0, AttemptId(a));
        }
        t.remove_running(0, AttemptId(1));
        t.remove_running(0, AttemptId(9));
        assert_eq!(t.running(0).map(|a| a.0).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(t.live_copies(0), 3);
        t.remove_running(0, AttemptId(3));
        assert_eq!(t.running(0).map(|a| a.0).collect::<Vec<_>>(), [2, 4]);
        assert!(t.spill.is_empty(), "nothing left out of line");
        t.push_running(0, AttemptId(5));
        t.push_running(0, AttemptId(6));
        assert_eq!(t.take_running(0).into_iter().map(|a| a.0).collect::<Vec<_>>(), [2, 4, 5, 6]);
        assert_eq!(t.running(0).count(), 0);
        assert_eq!(t, Tasks::new(1), "an emptied task is as new");
    }

    #[test]
    fn tried_blame_and_a_verdict() {
        let mut t = Tasks::new(2);
        for d in [3, 1, 4] {
            t.push_tried(1, DeviceId(d));
        }
        assert!(t.has_tried(1, DeviceId(4)) && t.has_tried(1, DeviceId(3)) && !t.has_tried(1, DeviceId(5)));
        assert!(!t.has_tried(0, DeviceId(3)));
        t.push_blame(1, DeviceId(3), Outcome { failed: true, ..Outcome::OK });
        t.push_running(1, AttemptId(7));
        let (blame, running) = t.decide(1, Verdict { attempt: AttemptId(8), unverified: true });
        assert_eq!(blame, [(DeviceId(3), Outcome { failed: true, ..Outcome::OK })]);
        assert_eq!(running.into_iter().collect::<Vec<_>>(), [AttemptId(7)]);
        assert_eq!(t[1].verdict(), Some(Verdict { attempt: AttemptId(8), unverified: true }));
        assert_eq!(t.tried(1).count(), 0);
        assert!(t.spill.is_empty());
    }
}
