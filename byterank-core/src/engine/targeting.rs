//! The running jobs that target each device (have it in a pool), so that a pull
//! asks only those: its cost does not grow with running jobs that cannot serve
//! the device (spec §10).

use alloc::vec::Vec;

use super::command::{DeviceId, JobId};

/// The jobs of each device, by handle, in the order they started targeting it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Targeting {
    jobs: Vec<Vec<JobId>>,
}

impl Targeting {
    /// `job`'s pools change from `old` to `new` (either may be empty: a new job,
    /// an ended one).
    pub fn set(&mut self, job: JobId, old: &[Vec<DeviceId>], new: &[Vec<DeviceId>]) {
        for d in old.iter().flatten() {
            if let Some(list) = self.jobs.get_mut(d.0 as usize) {
                list.retain(|&j| j != job);
            }
        }
        for d in new.iter().flatten() {
            let i = d.0 as usize;
            if i >= self.jobs.len() {
                self.jobs.resize_with(i + 1, Vec::new);
            }
            self.jobs[i].push(job);
        }
    }

    /// The running jobs that have `device` in a pool.
    pub fn jobs(&self, device: DeviceId) -> &[JobId] {
        self.jobs.get(device.0 as usize).map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn follows_each_jobs_pools() {
        let mut t = Targeting::default();
        let (a, b) = (JobId(0), JobId(1));
        let pa = vec![vec![DeviceId(0), DeviceId(2)], vec![DeviceId(5)]];
        let pb = vec![vec![DeviceId(2)]];
        t.set(a, &[], &pa);
        t.set(b, &[], &pb);
        assert_eq!(t.jobs(DeviceId(2)), [a, b]);
        assert_eq!(t.jobs(DeviceId(5)), [a]);
        assert_eq!(t.jobs(DeviceId(9)), []);
        let pa2 = vec![vec![DeviceId(5)]];
        t.set(a, &pa, &pa2);
        assert_eq!(t.jobs(DeviceId(0)), []);
        assert_eq!(t.jobs(DeviceId(2)), [b]);
        assert_eq!(t.jobs(DeviceId(5)), [a]);
        t.set(b, &pb, &[]);
        assert_eq!(t.jobs(DeviceId(2)), []);
    }
}
