//! Distribution (spec §10): pulls served from the rescue queue, the device's own pool
//! and lower pools; assignment; and re-dealing queued copies when the ranking changes.

use super::*;

impl<Q: TaskQueue> Engine<Q> {
    pub(super) fn pull(&mut self, device: DeviceId, out: &mut Vec<Event>) {
        let d = device.0 as usize;
        let rank = self.rank(device);
        if rank == 0 || self.devices[d].held.len() >= self.cfg.in_hand {
            out.push(Event::NoTask { device });
            return;
        }
        let fast_trusted = self.devices[d].state.trusted && rank <= self.snapshot.best;
        let patience = self.now.add_millis(-self.cfg.rescue_wait_ms);
        let pos = self
            .rescue
            .iter()
            .position(|&(j, t, since)| (fast_trusted || since <= patience) && self.rescuable(j, t, device));
        if let Some(pos) = pos {
            let (job, task, _) = self.rescue.remove(pos).expect("position is in range");
            let t = &mut self.jobs[job.0 as usize].tasks[task as usize];
            let replica = t.next_replica;
            t.next_replica += 1;
            self.assign(job, task, replica, device, true, out);
            return;
        }
        for r in 0..self.running.len() {
            let job = self.running[r];
            if let Some(copy) = self.take_from_pools(job, device) {
                self.assign(job, copy.task, copy.replica, device, false, out);
                return;
            }
        }
        out.push(Event::NoTask { device });
    }

    /// Whether `device` may run the rescue copy of a task: the job still runs, the
    /// task still needs it, the device may take the job and never tried the task.
    pub(super) fn rescuable(&self, job: JobId, task: u32, device: DeviceId) -> bool {
        let j = &self.jobs[job.0 as usize];
        if j.status != JobStatus::Running {
            return false;
        }
        let t = &j.tasks[task as usize];
        let dev = &self.devices[device.0 as usize];
        (t.accepted.is_none() || t.disputed)
            && j.pool_of.get(device.0 as usize).is_some_and(|&k| k > 0)
            && (!j.spec.preferences.trusted || dev.state.trusted)
            && !t.tried.iter().any(|&d| d == device)
    }

    /// The first copy `device` may take from its pool of `job` or a lower one.
    pub(super) fn take_from_pools(&mut self, job: JobId, device: DeviceId) -> Option<QueuedCopy> {
        let window = self.cfg.queue_window;
        let trusted = self.devices[device.0 as usize].state.trusted;
        let j = &mut self.jobs[job.0 as usize];
        let own = usize::from(*j.pool_of.get(device.0 as usize)?);
        if own == 0 || (j.spec.preferences.trusted && !trusted) {
            return None;
        }
        for k in own - 1..j.queues.len() {
            loop {
                let tasks = &j.tasks;
                let Some(taken) = j.queues[k].take_first(window, &mut |c| {
                    let t = &tasks[c.task as usize];
                    t.accepted.is_some() || !t.tried.iter().any(|&d| d == device)
                }) else {
                    break; // Nothing here for this device: inherit from the next pool.
                };
                if j.tasks[taken.task as usize].accepted.is_none() {
                    return Some(taken);
                }
                // A copy of a task that already has its result: drop it.
            }
        }
        None
    }

    pub(super) fn assign(
        &mut self,
        job: JobId,
        task: u32,
        replica: u32,
        device: DeviceId,
        rescue: bool,
        out: &mut Vec<Event>,
    ) {
        let attempt = AttemptId(self.next_attempt);
        self.next_attempt += 1;
        let j = &mut self.jobs[job.0 as usize];
        let t = &mut j.tasks[task as usize];
        t.tried.push(device);
        t.running += 1;
        j.running += 1;
        let dev = &mut self.devices[device.0 as usize];
        dev.held.push(attempt);
        dev.last_task = Some(self.now);
        let timer = self.now.add_millis(self.cfg.t1_ms);
        let a = Attempt { job, task, replica, device, last_beat: self.now, delayed: false, rescue, timer };
        self.attempts.insert(attempt, a);
        self.timers.insert((timer, attempt));
        out.push(Event::TaskAssigned { job, task, replica, device, attempt, rescue });
    }

    /// Removes a running attempt from the books and returns it.
    pub(super) fn finish_attempt(&mut self, attempt: AttemptId) -> Attempt {
        let a = self.attempts.remove(&attempt).expect("checked before");
        self.timers.remove(&(a.timer, attempt));
        self.devices[a.device.0 as usize].held.retain(|&h| h != attempt);
        let j = &mut self.jobs[a.job.0 as usize];
        j.running -= 1;
        j.tasks[a.task as usize].running -= 1;
        a
    }

    /// Rebuilds a running job's pools on the new ranking and deals its queued
    /// copies over them again, round-robin from pool 1. Returns false, keeping the
    /// old pools, when no device qualifies.
    /// Each device's pool number (1-based; 0: none) for pools of snapshot indices.
    pub(super) fn pool_of(&self, pools: &[Vec<u32>]) -> Vec<u16> {
        let mut pool_of = alloc::vec![0u16; self.devices.len()];
        for (k, pool) in pools.iter().enumerate() {
            for &i in pool {
                pool_of[self.snapshot.order[i as usize].0 as usize] = k as u16 + 1;
            }
        }
        pool_of
    }

    pub(super) fn replan(&mut self, job: JobId) -> bool {
        let j = &self.jobs[job.0 as usize];
        let Ok(work) = j.spec.work() else { return true };
        let Some(p) = job_pools(&self.snapshot.ranked, &j.spec, &work, &self.cfg.plan.pools) else {
            return false;
        };
        let (used, pool_of) = (p.used, self.pool_of(&p.pools[..p.used]));
        let j = &mut self.jobs[job.0 as usize];
        j.starving_since = None;
        let mut waiting: Vec<QueuedCopy> = Vec::new();
        for q in &mut j.queues {
            waiting.extend(q.drain_all());
        }
        waiting.sort_unstable_by_key(|c| (c.replica, c.task));
        let mut queues: Vec<Q> = (0..used).map(|_| Q::default()).collect();
        for (n, c) in waiting.into_iter().enumerate() {
            queues[n % used].push_back(c);
        }
        j.queues = queues;
        j.pool_of = pool_of;
        true
    }
}
