//! The rescue queue (spec §11): copies a task needs beyond its pool queues, served
//! before the pools. Fast trusted devices take them first; after `rescue_wait`, any
//! eligible device takes a copy, while an arbitration only ever goes to a trusted
//! device.
//!
//! Entries are kept by job, arbitrations apart from copies, each in the order
//! they became waiting (`since`, then arrival). A pull asks only the jobs that
//! target its device, and in each only the entries it may take by their age and
//! its trust: an untrusted device never looks at arbitrations, and a device that
//! is not a fast trusted one stops at the first entry younger than
//! `rescue_wait`. So what a pull costs does not grow with entries of other jobs,
//! nor with entries it may not take yet.

use alloc::collections::{BTreeMap, VecDeque};

use super::command::JobId;
use crate::time::Timestamp;

/// What a rescue entry asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RescueNeed {
    /// Another copy: one failed or went stale, the results disagree and no
    /// trusted device may arbitrate, so more copies seek a majority, or the job's
    /// queued copies found no taker in their pools.
    Copy,
    /// A trusted device's copy, to settle results that disagree.
    Arbitration,
}

/// One waiting entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Entry {
    pub job: JobId,
    pub task: u32,
    /// Since when it waits, for the patience rule (a copy moved from a stalled
    /// queue counts as having waited already).
    pub since: Timestamp,
    pub need: RescueNeed,
}

/// Where an entry sits, and the order entries are served in across jobs:
/// oldest first, then first pushed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(super) struct Key {
    since: Timestamp,
    seq: u64,
}

/// Who pulls: what of the queue it may look at.
#[derive(Clone, Copy, Debug)]
pub(super) struct Puller {
    /// Trusted by the operator: may take arbitrations.
    pub trusted: bool,
    /// Among the fastest trusted devices: may take entries at once.
    pub fast: bool,
    /// Entries waiting since this or earlier waited `rescue_wait`.
    pub ripe: Timestamp,
}

#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Waiting {
    copies: VecDeque<(u64, Entry)>,
    arbitrations: VecDeque<(u64, Entry)>,
}

impl Waiting {
    fn lane(&mut self, need: RescueNeed) -> &mut VecDeque<(u64, Entry)> {
        match need {
            RescueNeed::Copy => &mut self.copies,
            RescueNeed::Arbitration => &mut self.arbitrations,
        }
    }

    fn is_empty(&self) -> bool {
        self.copies.is_empty() && self.arbitrations.is_empty()
    }
}

/// The queue.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Rescue {
    jobs: BTreeMap<JobId, Waiting>,
    len: usize,
    seq: u64,
}

impl Rescue {
    pub fn push(&mut self, e: Entry) {
        let seq = self.seq;
        self.seq += 1;
        let lane = self.jobs.entry(e.job).or_default().lane(e.need);
        // Entries come in time order, but for copies that waited already.
        let at = lane.partition_point(|(_, x)| x.since <= e.since);
        lane.insert(at, (seq, e));
        self.len += 1;
    }

    /// The first entry of `job` that `who` may take and `take` accepts (by its
    /// task), dropping entries of decided tasks (`dead`) met on the way.
    pub fn first(
        &mut self,
        job: JobId,
        who: Puller,
        dead: impl Fn(u32) -> bool,
        take: impl Fn(u32) -> bool,
    ) -> Option<(Key, Entry)> {
        let w = self.jobs.get_mut(&job)?;
        let mut found: Option<(Key, Entry)> = None;
        let mut dropped = 0;
        let needs: &[RescueNeed] =
            if who.trusted { &[RescueNeed::Arbitration, RescueNeed::Copy] } else { &[RescueNeed::Copy] };
        for &need in needs {
            let lane = w.lane(need);
            let end = if who.fast { lane.len() } else { lane.partition_point(|(_, x)| x.since <= who.ripe) };
            let mut i = 0;
            let mut end = end;
            while i < end {
                let (seq, e) = lane[i];
                if dead(e.task) {
                    lane.remove(i);
                    end -= 1;
                    dropped += 1;
                    continue;
                }
                if take(e.task) {
                    let key = Key { since: e.since, seq };
                    if found.is_none_or(|(k, _)| key < k) {
                        found = Some((key, e));
                    }
                    break;
                }
                i += 1;
            }
        }
        let empty = w.is_empty();
        self.len -= dropped;
        if empty {
            self.jobs.remove(&job);
        }
        found
    }

    /// Removes an entry [`Rescue::first`] found.
    pub fn remove(&mut self, key: Key, e: &Entry) {
        let Some(w) = self.jobs.get_mut(&e.job) else { return };
        let lane = w.lane(e.need);
        if let Some(i) = lane.iter().position(|(seq, _)| *seq == key.seq) {
            lane.remove(i);
            self.len -= 1;
        }
        if w.is_empty() {
            self.jobs.remove(&e.job);
        }
    }

    /// Whether any entry of `job` waits.
    pub fn has(&self, job: JobId) -> bool {
        self.jobs.contains_key(&job)
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&Entry) -> bool) {
        let mut len = 0;
        self.jobs.retain(|_, w| {
            w.copies.retain(|(_, e)| keep(e));
            w.arbitrations.retain(|(_, e)| keep(e));
            len += w.copies.len() + w.arbitrations.len();
            !w.is_empty()
        });
        self.len = len;
    }

    /// Forgets every entry of a job that ended.
    pub fn leave(&mut self, job: JobId) {
        if let Some(w) = self.jobs.remove(&job) {
            self.len -= w.copies.len() + w.arbitrations.len();
        }
    }

    /// Every entry, job by job.
    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.jobs.values().flat_map(|w| w.arbitrations.iter().chain(&w.copies).map(|(_, e)| e))
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(job: u32, task: u32, since: i64, need: RescueNeed) -> Entry {
        Entry { job: JobId(job), task, since: Timestamp(since), need }
    }

    /// The naive queue: every entry in push order, the oldest that `who` may take
    /// first.
    #[test]
    fn serves_like_a_scan_of_every_entry() {
        let mut q = Rescue::default();
        let mut all = alloc::vec::Vec::new();
        for (i, (job, since, need)) in [
            (0, 5, RescueNeed::Copy),
            (1, 1, RescueNeed::Arbitration),
            (0, 9, RescueNeed::Arbitration),
            (1, 3, RescueNeed::Copy),
            (0, 2, RescueNeed::Copy),
        ]
        .into_iter()
        .enumerate()
        {
            let e = entry(job, i as u32, since, need);
            q.push(e);
            all.push(e);
        }
        assert_eq!(q.len(), 5);
        for trusted in [false, true] {
            for fast in [false, true] {
                for ripe in 0..10 {
                    let who = Puller { trusted, fast: fast && trusted, ripe: Timestamp(ripe) };
                    let may =
                        |e: &Entry| (e.need == RescueNeed::Copy || who.trusted) && (who.fast || e.since <= who.ripe);
                    let want = all.iter().filter(|e| may(e)).min_by_key(|e| (e.since, e.task)).copied();
                    let got = [0, 1]
                        .iter()
                        .filter_map(|&j| q.first(JobId(j), who, |_| false, |_| true))
                        .min_by_key(|(k, _)| *k)
                        .map(|(_, e)| e);
                    assert_eq!(got, want, "trusted {trusted}, fast {fast}, ripe {ripe}");
                }
            }
        }
        // Dead entries met are dropped; taking one removes it.
        let who = Puller { trusted: true, fast: true, ripe: Timestamp(0) };
        let (key, e) = q.first(JobId(0), who, |task| task == 4, |_| true).unwrap();
        assert_eq!((e.task, q.len()), (0, 4));
        q.remove(key, &e);
        assert_eq!(q.len(), 3);
        q.leave(JobId(1));
        assert_eq!(q.iter().map(|e| e.task).collect::<alloc::vec::Vec<_>>(), [2]);
        q.retain(|_| false);
        assert!(q.is_empty() && !q.has(JobId(0)));
    }
}
