//! Short tails, after LATE (Zaharia et al., OSDI 2008): a job's last tasks get
//! speculative copies on devices expected to end them sooner, and its last
//! regular copies stay off devices far slower than its median device.
//!
//! What the engine knows of speed: a device's reported processor score times its
//! available CPU share (its *rate*). What it knows of work: the job's completed
//! attempts, each its length times its device's rate (the first
//! [`WORK_SAMPLES`] results that passed integrity). A copy of the job on a
//! device is then expected to take `work / rate`. Every path here runs only in
//! a job's tail, and reads a bounded number of tasks ([`WINDOW`]) per pull.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::attempts::CopyKind;
use super::command::{DeviceId, JobId};
use super::event::Event;
use super::{Engine, JobStatus};
use crate::device::Device;
use crate::time::Timestamp;

/// Results a job learns its work from.
pub(super) const WORK_SAMPLES: u32 = 64;

/// A job's tail for speculation begins when no copy of it is queued and at most
/// this many of its tasks are open; its open tasks are then listed once.
const TAIL_TASKS: u32 = 1024;

/// Listed tasks a pull looks at, from where the last one stopped.
const WINDOW: usize = 32;

/// Devices whose rate is sampled for a job's median.
const MEDIAN_SAMPLE: usize = 255;

/// What a job keeps for its tail.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Tail {
    /// Sum of (attempt length, ms × device rate) over `samples` results.
    work_sum: f64,
    samples: u32,
    /// The median rate of a sample of the job's pool devices.
    pub median_rate: f64,
    /// Its open tasks once its tail began (a superset of the open tasks after).
    listed: Option<Vec<u32>>,
    /// Where the next pull's window starts in `listed`.
    cursor: usize,
    /// Tasks that got a speculative copy.
    speculated: BTreeSet<u32>,
}

impl Tail {
    /// Expected work of one task (ms at rate 1), once a result taught it.
    fn work(&self) -> Option<f64> {
        (self.samples > 0).then(|| self.work_sum / f64::from(self.samples))
    }

    /// Speculative copies given so far.
    pub fn speculated(&self) -> u32 {
        self.speculated.len() as u32
    }
}

/// A device's rate: its processor score times its available CPU share (an
/// unreported score counts as 100, an unreported share as half).
pub(super) fn rate(d: &Device) -> f64 {
    let score = d.processor_score.filter(|s| s.is_finite() && *s > 0.0).unwrap_or(100.0);
    let cpu = d.cpu_available_pct.filter(|c| c.is_finite()).unwrap_or(50.0).clamp(5.0, 100.0) / 100.0;
    score * cpu
}

/// When a copy started at `started`, expected to run `expected` ms, is
/// expected to end: at `started + expected` while that is ahead; a copy past
/// it is expected to run as far past it again.
fn expected_end(started: Timestamp, expected: f64, now: Timestamp) -> f64 {
    let elapsed = (now.0 - started.0) as f64;
    let remaining = if elapsed < expected { expected - elapsed } else { elapsed - expected };
    now.0 as f64 + remaining
}

/// The `need`-th smallest of `ends` (1-based), if there are that many.
fn nth_smallest(ends: &mut [f64], need: usize) -> Option<f64> {
    if need == 0 || ends.len() < need {
        return None;
    }
    ends.sort_unstable_by(f64::total_cmp);
    Some(ends[need - 1])
}

impl Engine {
    /// A result of `job` passed integrity: its attempt, `ms` long on `device`,
    /// teaches the job its work (its first [`WORK_SAMPLES`] do).
    pub(super) fn learn_work(&mut self, job: JobId, device: DeviceId, ms: i64) {
        if !self.cfg.speculation.enabled || self.jobs[job].tail.samples >= WORK_SAMPLES {
            return;
        }
        let work = ms.max(1) as f64 * rate_of(&self.devices, device);
        let t = &mut self.jobs[job].tail;
        t.work_sum += work;
        t.samples += 1;
    }

    /// Sets `job`'s median rate from an even sample of its pool devices.
    pub(super) fn set_median_rate(&mut self, job: JobId) {
        let pools = &self.jobs[job].pools;
        let n: usize = pools.iter().map(Vec::len).sum();
        let step = n.div_ceil(MEDIAN_SAMPLE).max(1);
        let mut rates: Vec<f64> = pools.iter().flatten().step_by(step).map(|&d| rate_of(&self.devices, d)).collect();
        rates.sort_unstable_by(f64::total_cmp);
        let median = rates.get(rates.len() / 2).copied().unwrap_or(0.0);
        self.jobs[job].tail.median_rate = median;
    }

    /// Whether `device` is kept off `job`'s regular copies: the job is in its
    /// tail (fewer copies queued than its pool devices over `slow_factor`) and
    /// the device is more than `slow_factor` times slower than its median.
    pub(super) fn slow_for_tail(&self, job: JobId, device: DeviceId) -> bool {
        let s = &self.cfg.speculation;
        let j = &self.jobs[job];
        let waiting = j.queues.waiting() as f64;
        if !s.enabled || waiting == 0.0 || waiting * s.slow_factor >= f64::from(j.members()) {
            return false;
        }
        rate_of(&self.devices, device) * s.slow_factor < j.tail.median_rate
    }

    /// Gives `device`, which found no regular copy, a speculative copy if one of
    /// its jobs in its tail has a task it is expected to end sooner (see the
    /// module's doc and [`Speculation`](super::Speculation)). True if it did.
    pub(super) fn speculate(&mut self, device: DeviceId, out: &mut Vec<Event>) -> bool {
        // Every running job with a copy queued is in the fair share: when all
        // are, none is in its tail (one comparison on a pull that found nothing).
        if !self.cfg.speculation.enabled || self.share.len() >= self.running.len() {
            return false;
        }
        let share = self.cfg.speculation.max_share;
        let jobs: Vec<JobId> = self
            .targeting
            .jobs(device)
            .iter()
            .copied()
            .filter(|&job| {
                let j = &self.jobs[job];
                let cap = libm::ceil(share * f64::from(j.task_count)) as u32;
                j.status == JobStatus::Running
                    && j.queues.waiting() == 0
                    && j.open_tasks() <= TAIL_TASKS
                    && j.tail.work().is_some()
                    && j.tail.speculated() < cap
                    && self.devices.may_run(device, &j.spec, j.chunk_bytes)
            })
            .collect();
        if jobs.is_empty() {
            return false;
        }
        let rate = rate_of(&self.devices, device);
        // The task with the longest expected time to end, over the device's jobs.
        let mut best: Option<(f64, JobId, u32)> = None;
        for job in jobs {
            if let Some((end, task)) = self.candidate(job, device, rate) {
                if best.is_none_or(|(e, _, _)| end > e) {
                    best = Some((end, job, task));
                }
            }
        }
        let Some((_, job, task)) = best else { return false };
        let j = &mut self.jobs[job];
        j.tail.speculated.insert(task);
        let replica = j.tasks[task].take_rescue(false);
        self.assign(job, task, replica, device, CopyKind::Speculative, out);
        true
    }

    /// In `job`'s window of listed tasks, the open task with the latest
    /// expected end that a copy on `device` (of `rate`) would bring at least a
    /// quarter of the way closer, with that end. Drops decided tasks from the
    /// list on the way.
    fn candidate(&mut self, job: JobId, device: DeviceId, rate: f64) -> Option<(f64, u32)> {
        let now = self.now;
        let quorum = self.cfg.quorum;
        let j = &mut self.jobs[job];
        if j.tail.listed.is_none() {
            let tasks = &j.tasks;
            j.tail.listed = Some((0..j.task_count).filter(|&t| !tasks[t].decided()).collect());
        }
        let work = j.tail.work()?;
        let ours = now.0 as f64 + work / rate;
        let listed = j.tail.listed.as_mut()?;
        let mut best: Option<(f64, u32)> = None;
        let mut looked = 0;
        let mut i = j.tail.cursor.min(listed.len());
        while looked < WINDOW && !listed.is_empty() {
            if i >= listed.len() {
                i = 0;
            }
            let task = listed[i];
            let t = &j.tasks[task];
            if t.decided() {
                listed.swap_remove(i);
                looked += 1;
                continue;
            }
            looked += 1;
            i += 1;
            if j.tail.speculated.contains(&task) || j.tasks.has_tried(task, device) {
                continue;
            }
            let have = self.provisional.iter(j.tasks.results(task)).count();
            let need = t.quorum(quorum).saturating_sub(have);
            let mut ends: Vec<f64> = j
                .tasks
                .running(task)
                .filter_map(|a| self.attempts.get(a))
                .map(|a| expected_end(a.started, work / rate_of(&self.devices, a.device), now))
                .collect();
            let Some(end) = nth_smallest(&mut ends, need) else { continue };
            ends.push(ours);
            let Some(with_ours) = nth_smallest(&mut ends, need) else { continue };
            let gain = end - with_ours;
            if gain > 0.0 && gain * 4.0 >= end - now.0 as f64 && best.is_none_or(|(e, _)| end > e) {
                best = Some((end, task));
            }
        }
        j.tail.cursor = i;
        best
    }
}

fn rate_of(devices: &super::devices::Devices, device: DeviceId) -> f64 {
    rate(&devices.entry(device).state)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_copy_past_its_estimate_runs_as_far_past_it_again() {
        let now = Timestamp(10_000);
        assert_eq!(expected_end(Timestamp(4_000), 8_000.0, now), 12_000.0, "2 s left of 8");
        assert_eq!(expected_end(Timestamp(0), 6_000.0, now), 14_000.0, "4 s past its 6: 4 more");
        let mut ends = [5.0, 1.0, 3.0];
        assert_eq!(nth_smallest(&mut ends, 2), Some(3.0));
        assert_eq!(nth_smallest(&mut ends, 4), None);
        assert_eq!(nth_smallest(&mut ends, 0), None);
    }

    #[test]
    fn rate_is_score_times_available_cpu() {
        let d = Device { processor_score: Some(200.0), cpu_available_pct: Some(50.0), ..Device::default() };
        assert_eq!(rate(&d), 100.0);
        assert_eq!(rate(&Device::default()), 50.0);
    }
}
