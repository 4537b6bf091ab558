//! Weighted fair share between running jobs (spec §10), by stride scheduling.
//!
//! Each job with queued copies has a *pass*; a pull visits jobs in increasing
//! pass (then age) and takes from the first that has a copy for the device; the
//! job served advances its pass by `STRIDE / weight`. Over time each job gets
//! copies in proportion to its weight (ByteLevel high 4, balanced 2, low 1 by
//! default), and none starves: a job's pass falls behind every other's until it
//! is served. A job joins at the lowest pass in force, so a new job neither waits
//! for old ones to catch up nor overtakes them for long.

use alloc::collections::{BTreeMap, BTreeSet};

use super::command::JobId;

const STRIDE: u64 = 1 << 20;

#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Share {
    order: BTreeSet<(u64, JobId)>,
    pass: BTreeMap<JobId, (u64, u32)>,
}

impl Share {
    /// A job with queued copies joins, with its weight (at least 1).
    pub fn join(&mut self, job: JobId, weight: u32) {
        let start = self.order.first().map_or(0, |&(p, _)| p);
        self.pass.insert(job, (start, weight.max(1)));
        self.order.insert((start, job));
    }

    /// A job leaves: it ended, or has nothing queued any more.
    pub fn leave(&mut self, job: JobId) {
        if let Some((p, _)) = self.pass.remove(&job) {
            self.order.remove(&(p, job));
        }
    }

    /// A job was served one copy.
    pub fn served(&mut self, job: JobId) {
        if let Some((p, w)) = self.pass.get_mut(&job) {
            self.order.remove(&(*p, job));
            *p += STRIDE / u64::from(*w);
            self.order.insert((*p, job));
        }
    }

    /// The job a pull visits after `prev` (from the front when `None`), with the
    /// key to continue from.
    pub fn after(&self, prev: Option<(u64, JobId)>) -> Option<(u64, JobId)> {
        use core::ops::Bound::{Excluded, Unbounded};
        match prev {
            None => self.order.first().copied(),
            Some(k) => self.order.range((Excluded(k), Unbounded)).next().copied(),
        }
    }

    /// Jobs with queued copies.
    pub fn len(&self) -> usize {
        self.pass.len()
    }

    /// A job's place in the order pulls visit jobs, if it has queued copies.
    pub fn key(&self, job: JobId) -> Option<(u64, JobId)> {
        self.pass.get(&job).map(|&(p, _)| (p, job))
    }

    /// Jobs in the order a pull visits them.
    #[cfg(test)]
    pub fn iter(&self) -> impl Iterator<Item = JobId> + '_ {
        self.order.iter().map(|&(_, j)| j)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_served_in_proportion_to_their_weights() {
        let mut s = Share::default();
        let (low, high) = (JobId(0), JobId(1));
        s.join(high, 4);
        s.join(low, 1);
        let mut served = [0u32; 2];
        for _ in 0..500 {
            let j = s.iter().next().unwrap();
            served[j.0 as usize] += 1;
            s.served(j);
        }
        assert_eq!(served, [100, 400], "4 to 1, and the low job is never starved");
        s.leave(high);
        assert_eq!(s.iter().collect::<alloc::vec::Vec<_>>(), [low]);
    }
}
