//! Distribution (spec §10): pulls served from the rescue queue, the device's own pool
//! and lower pools; assignment; and re-planning a running job whose pools changed,
//! queued copies keeping their pools.

use alloc::collections::BTreeMap;
use alloc::vec::Vec;

use super::attempts::{Attempt, CopyKind};
use super::command::{AttemptId, DeviceId, JobId};
use super::event::{Event, Idle};
use super::pool_queues::QueuedCopy;
use super::rescue::{self, Entry, RescueNeed};
use super::{Engine, JobStatus};
use crate::job::Work;
use crate::plan::job_pools;
use crate::policy::DistributionPolicy as _;

/// Up to this many jobs with queued copies, a pull walks them all in fair-share
/// order rather than reading the list of its device's jobs.
const FEW_JOBS: usize = 16;

impl Engine {
    pub(super) fn serve_pull(&mut self, device: DeviceId, out: &mut Vec<Event>) {
        let rank = self.rank(device);
        let flags = self.devices.flags_now(device, self.now, &self.cfg.index.flags);
        let idle = if rank == 0 {
            Some(Idle::Unranked)
        } else if flags.any() {
            Some(Idle::Flagged { flags })
        } else if self.devices.hot(device).held as usize >= self.cfg.in_hand {
            Some(Idle::HandsFull)
        } else {
            None
        };
        if let Some(reason) = idle {
            out.push(Event::NoTask { device, reason });
            return;
        }
        if let Some((job, task, replica, kind)) = self.take_rescue(device, rank) {
            self.assign(job, task, replica, device, kind, out);
            return;
        }
        // Jobs in fair-share order, only those that target the device; a pull
        // visits only those ahead of the first that has a copy for it. When few
        // jobs have copies, or most of them target the device, their common order
        // is walked (the device's list is not even read: one memory access less
        // on the common path); otherwise the device's own jobs are put in that
        // order. Either way a pull visits at most `FEW_JOBS` or twice its own.
        let few = self.share.len() <= FEW_JOBS;
        let mine = if few { &[][..] } else { self.targeting.jobs(device) };
        if few || self.share.len() <= 2 * mine.len() {
            let mut at = None;
            while let Some(key) = self.share.after(at) {
                at = Some(key);
                if self.serve_from(key.1, device, out) {
                    return;
                }
            }
        } else {
            let mut order: Vec<(u64, JobId)> = mine.iter().filter_map(|&j| self.share.key(j)).collect();
            order.sort_unstable();
            for (_, job) in order {
                if self.serve_from(job, device, out) {
                    return;
                }
            }
        }
        if self.speculate(device, out) {
            return;
        }
        out.push(Event::NoTask { device, reason: Idle::NothingForIt });
    }

    /// Takes the rescue entry `device` gets, if any, off the queue: the oldest it
    /// may take among the jobs that target it. Its job, task, replica and kind.
    fn take_rescue(&mut self, device: DeviceId, rank: u32) -> Option<(JobId, u32, u32, CopyKind)> {
        if self.rescue.is_empty() {
            return None;
        }
        let trusted = self.devices.trusted(device);
        let who = rescue::Puller {
            trusted,
            fast: trusted && rank <= self.snapshot.best,
            ripe: self.now.add_millis(-self.cfg.rescue_wait_ms),
        };
        let mut best: Option<(rescue::Key, Entry)> = None;
        for &job in self.targeting.jobs(device) {
            if !self.rescue.has(job) {
                continue;
            }
            let j = &self.jobs[job];
            if j.status != JobStatus::Running || !self.devices.may_run(device, &j.spec, j.chunk_bytes) {
                continue;
            }
            let tasks = &j.tasks;
            let found = self.rescue.first(job, who, |t| tasks[t].decided(), |t| !tasks.has_tried(t, device));
            if let Some((key, e)) = found {
                if best.is_none_or(|(k, _)| key < k) {
                    best = Some((key, e));
                }
            }
        }
        let (key, e) = best?;
        self.rescue.remove(key, &e);
        let kind = match e.need {
            RescueNeed::Copy => CopyKind::Rescue,
            RescueNeed::Arbitration => CopyKind::Arbiter,
        };
        let replica = self.jobs[e.job].tasks[e.task].take_rescue(kind == CopyKind::Rescue);
        Some((e.job, e.task, replica, kind))
    }

    /// Serves `device` a copy of `job` from its pool or a lower one, if the job
    /// targets it, it may run the job and a copy is there; false otherwise.
    fn serve_from(&mut self, job: JobId, device: DeviceId, out: &mut Vec<Event>) -> bool {
        let j = &self.jobs[job];
        if !self.pool_table.targets(&j.pool_of, device) || !self.devices.may_run(device, &j.spec, j.chunk_bytes) {
            return false;
        }
        if self.slow_for_tail(job, device) {
            return false;
        }
        let mut dead = Vec::new();
        let copy = self.take_from_pools(job, device, &mut dead);
        if self.jobs[job].queues.waiting() == 0 {
            self.share.leave(job);
        }
        // Copies no device of their pool may take (each ran the task) would wait
        // for the stalled-job rescue: they go to the rescue queue now, where any
        // device of the job's pools that has not run the task may take them.
        let since = self.now.add_millis(-self.cfg.rescue_wait_ms);
        for c in dead {
            self.jobs[job].tasks[c.task].queued_to_rescue();
            self.rescue.push(Entry { job, task: c.task, since, need: RescueNeed::Copy });
            out.push(Event::TaskRescued { job, task: c.task, need: RescueNeed::Copy });
        }
        let Some(copy) = copy else { return false };
        self.share.served(job);
        self.assign(job, copy.task, copy.replica, device, CopyKind::Planned, out);
        true
    }

    /// The first copy `device` may take from its pool of `job` or a lower one.
    /// Copies of tasks whose verdict is final were withdrawn: they are dropped here.
    /// Copies met on the way that every device of their pool has run go to `dead`:
    /// counted over the task's devices that ran it (a few), not the pool's.
    fn take_from_pools(&mut self, job: JobId, device: DeviceId, dead: &mut Vec<QueuedCopy>) -> Option<QueuedCopy> {
        let window = self.cfg.queue_window;
        let table = &self.pool_table;
        let j = &mut self.jobs[job];
        let own = self.pool_table.get(&j.pool_of, device) as usize;
        if own == 0 {
            return None;
        }
        // The policy's first pool (the paper's: the own pool), then lower ones.
        let from = self.cfg.plan.distribution.first_pool(own - 1);
        loop {
            let (tasks, pools, pool_of) = (&j.tasks, &j.pools, &j.pool_of);
            let mut take = |c: QueuedCopy| tasks[c.task].decided() || !tasks.has_tried(c.task, device);
            let mut unreachable = |k: usize, c: QueuedCopy| {
                let in_pool = tasks.tried(c.task).filter(|&d| table.get(pool_of, d) as usize == k + 1).count();
                pools.get(k).is_some_and(|p| in_pool >= p.len())
            };
            let (pool, taken) = j.queues.take_from(from, window, &mut take, &mut unreachable, dead)?;
            if let Some(next) = j.queues.front(pool) {
                j.tasks.prefetch(next.task);
            }
            let t = &mut j.tasks[taken.task];
            if !t.decided() {
                t.take_queued();
                return Some(taken);
            }
            // A withdrawn copy of a decided task: dropped.
        }
    }

    pub(super) fn assign(
        &mut self,
        job: JobId,
        task: u32,
        replica: u32,
        device: DeviceId,
        kind: CopyKind,
        out: &mut Vec<Event>,
    ) {
        let deadlines = self.cfg.deadlines();
        let attempt = self.attempts.start((job, task, replica), device, kind, self.now, &deadlines);
        self.jobs[job].start_attempt(task, attempt, device, kind == CopyKind::Arbiter, self.now);
        self.devices.hold(device, attempt, self.now);
        let rescue = kind != CopyKind::Planned;
        let speculative = kind == CopyKind::Speculative;
        out.push(Event::TaskAssigned { job, task, replica, device, attempt, rescue, speculative });
    }

    /// Takes a running attempt off the books: its device's hands and its task.
    pub(super) fn finish_attempt(&mut self, attempt: AttemptId) -> Option<Attempt> {
        let a = self.attempts.finish(attempt)?;
        self.devices.release(a.device, attempt);
        self.jobs[a.job].end_attempt(a.task, attempt);
        Some(a)
    }

    /// Re-plans a running job on the current ranking when its pools changed.
    /// Copies queued in a pool that still exists stay there; those of pools the
    /// job no longer uses are dealt round-robin over the pools it uses, never more
    /// copies of a task in a pool than it has devices. Returns false, keeping the
    /// old pools, when no device qualifies.
    pub(super) fn replan(&mut self, job: JobId, out: &mut Vec<Event>) -> bool {
        let j = &self.jobs[job];
        let work = Work { sizes: Vec::new(), chunk_bytes: j.chunk_bytes };
        // Pools a policy got wrong are refused as at submission: the job keeps its own.
        let Ok(Some(p)) = job_pools(&self.snapshot.ranked, &j.spec, &work, &self.cfg.plan) else {
            return false;
        };
        let order = &self.snapshot.order;
        let pools: Vec<Vec<DeviceId>> =
            p.pools[..p.used].iter().map(|pool| pool.iter().map(|&i| order[i as usize]).collect()).collect();
        let j = &mut self.jobs[job];
        j.starving_since = None;
        j.count_members(&pools);
        if pools == j.pools {
            return true;
        }
        let floor = self.cfg.plan.min_failure_probability;
        let pool_failure: Vec<f64> = p.pools[..p.used]
            .iter()
            .map(|pool| {
                let sum: f64 = pool.iter().map(|&i| self.snapshot.ranked.indexes[i as usize].fault_rate).sum();
                (sum / pool.len() as f64).clamp(floor, 1.0)
            })
            .collect();
        let j = &mut self.jobs[job];
        self.targeting.set(job, &j.pools, &pools);
        self.pool_table.set(&mut j.pool_of, self.devices.count(), &pools);
        let used = pools.len();
        let moved = j.queues.resize(used);
        // Copies of each task in each kept pool: one that shrank may now hold more
        // copies of a task than it has devices, and then every kept copy is dealt
        // again (in order, each staying in its pool while it fits).
        let mut held: BTreeMap<(u32, usize), usize> = BTreeMap::new();
        let mut over = false;
        let tasks = &j.tasks;
        for (k, c) in j.queues.iter() {
            if !tasks[c.task].decided() {
                let n = held.entry((c.task, k)).or_default();
                *n += 1;
                over |= *n > pools[k].len();
            }
        }
        let mut deal: Vec<(Option<usize>, QueuedCopy)> = Vec::new();
        if over {
            deal.extend(j.queues.iter().map(|(k, c)| (Some(k), c)));
            j.queues.drain_all();
            held.clear();
        }
        deal.extend(moved.into_iter().map(|c| (None, c)));
        // A copy goes to its pool, or the next one down (wrapping) that can hold
        // it; one no pool can hold goes to the rescue queue, where any device of
        // the pools that has not run the task may take it: a task planned with
        // two copies or more is still cross-checked (spec §11c).
        let mut rescued = Vec::new();
        let mut n = 0;
        for (was, c) in deal {
            if j.tasks[c.task].decided() {
                continue;
            }
            let start = was.unwrap_or_else(|| {
                n += 1;
                (n - 1) % used
            });
            let fits = |k: usize| held.get(&(c.task, k)).copied().unwrap_or(0) < pools[k].len();
            match (0..used).map(|i| (start + i) % used).find(|&k| fits(k)) {
                Some(k) => {
                    *held.entry((c.task, k)).or_default() += 1;
                    j.queues.push(k, c);
                }
                None => {
                    j.tasks[c.task].queued_to_rescue();
                    rescued.push(c.task);
                }
            }
        }
        if j.queues.waiting() == 0 {
            self.share.leave(job);
        }
        j.pools = pools;
        j.pool_failure = pool_failure;
        self.set_median_rate(job);
        let pjf = self.pjf_in_force(job);
        out.push(Event::PlanChanged { job, pools: used as u32, pjf });
        for task in rescued {
            self.rescue.push(Entry { job, task, since: self.now, need: RescueNeed::Copy });
            out.push(Event::TaskRescued { job, task, need: RescueNeed::Copy });
        }
        true
    }

    /// The probability that some task without a result fails on every copy it has
    /// left: queued copies fail with their pool's probability, running ones with
    /// that of their device's pool (the worst pool's when it has none), rescue
    /// copies with the pools' mean.
    fn pjf_in_force(&self, job: JobId) -> f64 {
        let j = &self.jobs[job];
        let worst = j.pool_failure.iter().copied().fold(0.0, f64::max);
        let mean = j.pool_failure.iter().sum::<f64>() / j.pool_failure.len().max(1) as f64;
        let device_failure = |a: AttemptId| {
            let device = self.attempts.get(a).expect("a running attempt").device;
            match self.pool_table.get(&j.pool_of, device) {
                0 => worst,
                k => j.pool_failure[k as usize - 1],
            }
        };
        let tasks = &j.tasks;
        let mut fail: Vec<f64> = (0..tasks.len() as u32)
            .map(|i| {
                let t = &tasks[i];
                if t.decided() || t.has_results() {
                    return 0.0;
                }
                tasks.running(i).map(device_failure).fold(libm::pow(mean, f64::from(t.rescue())), |acc, p| acc * p)
            })
            .collect();
        for (k, c) in j.queues.iter() {
            fail[c.task as usize] *= j.pool_failure[k];
        }
        let ln_ok: f64 = fail.iter().map(|&f| libm::log1p(-f.min(1.0))).sum();
        -libm::expm1(ln_ok)
    }
}
