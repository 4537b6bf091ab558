//! Attempts on the device side: pulling work, starting an attempt with its sampled
//! outcome, heartbeats, and the ends (a result, an error, a crash, or the device
//! vanishing).

use byterank_core::application::{Chunk, Synthetic};
use byterank_core::engine::{AttemptId, JobId};
use rand::Rng as _;

use super::device::{Answer, Ending, Line, Running, State};
use super::notices::{AttemptRecord, Fate};
use super::run::{Ev, Sim};
use super::sampler::{sample, Draws};
use super::streams::{stream, Purpose};
use crate::driver::Notice;
use crate::queue::SimTime;

/// The salt every colluder uses: their wrong results agree with each other.
pub const COLLUDER_SALT: u64 = 0xC011_0DE5;

impl Sim<'_> {
    /// The device asks the engine for work.
    pub(super) fn pull(&mut self, d: u32, now: SimTime) {
        if !self.idle(d) {
            return;
        }
        self.advance(d, now);
        let handle = self.devs[d as usize].handle();
        self.drive(now, |drv, n| drv.pull(now, handle, n));
    }

    /// The engine gave device `d` a copy: sample how it goes and schedule its end.
    pub(super) fn start_attempt(
        &mut self,
        d: u32,
        now: SimTime,
        job: JobId,
        task: u32,
        attempt: AttemptId,
        line: Line,
    ) {
        let ji = self.job_of_engine[job.0 as usize];
        let kind = &self.variant.jobs[self.live[ji as usize].kind];
        self.advance(d, now);
        let dev = &self.devs[d as usize];
        let mut r = stream(self.p.seed, d, Purpose::Attempt, dev.totals.attempts);
        let u: Draws = std::array::from_fn(|_| r.random::<f64>());
        let age = now.saturating_sub(dev.t_online) as f64;
        let out = sample(&self.p, &dev.traits, kind, now, age, &u);
        self.attempts.insert(attempt.0, AttemptRecord { job: ji, task, line, fate: Fate::NoResult });
        self.jobs[ji as usize].attempts += 1;
        let live = &mut self.live[ji as usize];
        live.attempts.push(attempt);
        if line == Line::First {
            if let Some(t) = live.tasks.get_mut(task as usize) {
                t.ran(out.p_fail);
            }
        }
        let hb = self.p.heartbeat_ms;
        let dev = &mut self.devs[d as usize];
        dev.idle_polls = 0;
        dev.totals.attempts += 1;
        dev.gen += 1;
        dev.running = Some(Running {
            attempt,
            job: ji,
            task,
            line,
            ending: out.ending,
            end: out.end,
            gap_from: out.gap_from,
            gap_to: out.gap_to,
            since: now,
        });
        let g = dev.gen;
        match out.crash_at {
            Some(t) => self.q.push(t, Ev::Crash(d, g)),
            None => self.q.push(out.end, Ev::Finish(d, g)),
        };
        if now + hb < out.end {
            self.q.push_fifo(now + hb, Ev::Beat(d, g));
        }
    }

    /// The device stops working: its busy time is accounted and its events go stale.
    pub(super) fn end_busy(&mut self, d: u32, now: SimTime) {
        self.advance(d, now);
        let dev = &mut self.devs[d as usize];
        let since = dev.running.take().map_or(now, |r| r.since);
        dev.totals.busy_ms += now.saturating_sub(since);
        dev.gen += 1;
    }

    pub(super) fn beat(&mut self, d: u32, g: u32, now: SimTime) {
        let dev = &self.devs[d as usize];
        let Some(run) = dev.running.filter(|_| dev.gen == g) else { return };
        let next = now + self.p.heartbeat_ms;
        if next < run.end {
            self.q.push_fifo(next, Ev::Beat(d, g));
        }
        if now >= run.gap_from && now < run.gap_to {
            return;
        }
        let handle = dev.handle();
        self.advance(d, now);
        self.drive(now, |drv, n| drv.heartbeat(now, handle, run.attempt, n));
    }

    /// The attempt's end: an error report or a result.
    pub(super) fn finish_attempt(&mut self, d: u32, now: SimTime) {
        let dev = &self.devs[d as usize];
        let (handle, run) = (dev.handle(), dev.running.expect("a running attempt"));
        let attempt = run.attempt;
        self.end_busy(d, now);
        match run.ending {
            Ending::Error => {
                self.devs[d as usize].totals.errors += 1;
                self.drive(now, |drv, n| drv.error(now, handle, attempt, n));
            }
            Ending::Result(answer) => {
                let job_id = &self.jobs[run.job as usize].id;
                let chunk = Chunk { index: run.task, offset: u64::from(run.task), len: 1 };
                let meta = match answer {
                    Answer::Honest => Synthetic::expected(job_id, &chunk),
                    Answer::Own => Synthetic::incorrect(job_id, &chunk, u64::from(d) + 1),
                    Answer::Colluded => Synthetic::incorrect(job_id, &chunk, COLLUDER_SALT),
                };
                let totals = &mut self.devs[d as usize].totals;
                totals.results += 1;
                totals.wrong += u32::from(answer.is_wrong());
                self.results += 1;
                self.attempts.get_mut(&attempt.0).expect("an attempt of ours").fate = Fate::Result(answer);
                if run.line == Line::First {
                    if let Some(t) = self.live[run.job as usize].tasks.get_mut(run.task as usize) {
                        t.oks += 1;
                    }
                }
                self.drive_then(
                    now,
                    |drv, n| drv.result(now, handle, attempt, meta, n),
                    |sim, _, n| {
                        let late = n.iter().any(|x| matches!(x, Notice::Late { attempt: a } if *a == attempt));
                        if answer == Answer::Honest && !late {
                            if let Some(t) = sim.live[run.job as usize].tasks.get_mut(run.task as usize) {
                                t.honest = true;
                            }
                        }
                    },
                );
            }
        }
        if self.idle(d) {
            self.pull(d, now);
        }
    }

    pub(super) fn crash(&mut self, d: u32, now: SimTime) {
        self.end_busy(d, now);
        let dev = &mut self.devs[d as usize];
        dev.totals.crashes += 1;
        dev.state.set(State::Crashed, true);
        self.q.push(now + self.p.reboot_ms, Ev::Reboot(d));
    }

    /// The device stops working without a word (offline, leaving).
    pub(super) fn drop_attempt(&mut self, d: u32, now: SimTime) {
        if self.devs[d as usize].busy() {
            self.devs[d as usize].totals.lost += 1;
            self.end_busy(d, now);
        }
    }
}
