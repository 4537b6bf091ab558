//! The event loop: one variant's run, its state, its events, and the one helper
//! that drives the engine.

use byterank_core::engine::JobId;

use super::device::{Dev, State};
use super::jobs::JobLive;
use super::notices::AttemptRecords;
use super::output::{JobOut, Progress, RunOut, Sample};
use super::params::Params;
use super::world::World;
use crate::driver::{Driver, Notice};
use crate::queue::{EventQueue, SimTime};
use crate::scenario::{Scenario, Variant};
use crate::synth::DEFAULT_NOW;

/// Simulator events: enum payloads with dense ids. Device events that carry a
/// generation are ignored once the device's generation moved on.
#[derive(Clone, Copy, Debug)]
pub(super) enum Ev {
    /// The n-th job (in arrival order) is submitted.
    Arrive(u32),
    Join(u32),
    Leave(u32),
    SessionOn(u32),
    SessionOff(u32),
    Poll(u32, u32),
    Beat(u32, u32),
    Finish(u32, u32),
    Crash(u32, u32),
    Reboot(u32),
    Report(u32),
    /// The engine's clock.
    Tick,
    /// A point of the time series.
    Sample,
}

/// One variant's simulation.
pub(super) struct Sim<'a> {
    pub(super) p: Params,
    pub(super) world: &'a World,
    pub(super) variant: &'a Variant,
    pub(super) q: EventQueue<Ev>,
    pub(super) drv: Driver,
    pub(super) devs: Vec<Dev>,
    /// The device of each engine handle.
    pub(super) by_engine: Vec<u32>,
    pub(super) jobs: Vec<JobOut>,
    /// The simulator's side of each job, beside `jobs`.
    pub(super) live: Vec<JobLive>,
    /// The job of each engine job id.
    pub(super) job_of_engine: Vec<u32>,
    /// Per attempt (engine handles are sparse: a slab slot and its generation).
    /// Only looked up, never iterated; a job's entries go when it ends.
    pub(super) attempts: AttemptRecords,
    /// Ended jobs to release from the engine once their events are handled.
    pub(super) to_release: Vec<JobId>,
    pub(super) running_jobs: u32,
    pub(super) next_arrival: usize,
    pub(super) series: Vec<Sample>,
    /// The engine's decisions not yet handled (a buffer reused across calls).
    pub(super) notices: Vec<Notice>,
    pub(super) credited: u64,
    /// Of `credited`, what unverified results earned.
    pub(super) credited_unverified: u64,
    pub(super) results: u64,
    /// Closed online spells (see [`RunOut::availability`]).
    pub(super) online_log: Vec<(u32, SimTime, SimTime)>,
    /// Set while the run is being closed: spells still open are logged as open.
    pub(super) closing: bool,
}

/// Runs one variant of a scenario on a world, reporting progress now and then.
pub fn run_variant(
    sc: &Scenario,
    world: &World,
    variant: &Variant,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> RunOut {
    let mut sim = Sim {
        p: Params::new(sc, variant, seed),
        world,
        variant,
        q: EventQueue::new(),
        drv: Driver::new(variant.engine.clone(), DEFAULT_NOW).expect("the scenario checked the engine's settings"),
        devs: world.devs.clone(),
        by_engine: Vec::with_capacity(world.len()),
        jobs: Vec::new(),
        live: Vec::new(),
        job_of_engine: Vec::new(),
        attempts: AttemptRecords::default(),
        to_release: Vec::new(),
        running_jobs: 0,
        next_arrival: 0,
        series: Vec::new(),
        notices: Vec::new(),
        credited: 0,
        credited_unverified: 0,
        results: 0,
        online_log: Vec::new(),
        closing: false,
    };
    sim.run(progress)
}

impl Sim<'_> {
    fn run(&mut self, progress: &mut dyn FnMut(Progress)) -> RunOut {
        for i in 0..self.devs.len() as u32 {
            let (join, leave) = self.world.life[i as usize];
            if join == 0 {
                self.join(i, 0);
            } else if join < self.p.horizon_ms {
                self.q.push(join, Ev::Join(i));
            }
            if leave < self.p.horizon_ms {
                self.q.push(leave, Ev::Leave(i));
            }
        }
        self.drive(0, |drv, n| drv.tick(0, n));
        let lower_bounds: Vec<f64> = self.variant.jobs.iter().map(|k| self.world.lower_bound_s(k)).collect();
        for (i, &(t, k, num)) in self.world.arrivals.iter().enumerate() {
            let kind = &self.variant.jobs[k];
            self.jobs.push(JobOut::pending(format!("{}-{:04}", kind.name, num), kind, t, lower_bounds[k]));
            self.live.push(JobLive::new(k));
            if t < self.p.horizon_ms {
                self.q.push(t, Ev::Arrive(i as u32));
            }
        }
        self.q.push_fifo(self.p.tick_ms, Ev::Tick);
        self.q.push(0, Ev::Sample);
        let mut last_progress = 0u64;
        let mut end = 0;
        while let Some((now, ev)) = self.q.pop() {
            if now > self.p.horizon_ms {
                end = self.p.horizon_ms;
                break;
            }
            end = now;
            self.event(now, ev);
            if self.next_arrival >= self.world.arrivals.len() && self.running_jobs == 0 {
                break;
            }
            if now >= last_progress + 60_000 {
                last_progress = now;
                progress(Progress { now_ms: now, horizon_ms: self.p.horizon_ms });
            }
        }
        self.sample(end);
        self.finish(end)
    }

    fn event(&mut self, now: SimTime, ev: Ev) {
        let current = |s: &Self, d: u32, g: u32| s.devs[d as usize].gen == g;
        match ev {
            Ev::Arrive(i) => self.arrive(i, now),
            Ev::Join(d) => self.join(d, now),
            Ev::Leave(d) => self.leave(d, now),
            Ev::SessionOn(d) => self.session_on(d, now),
            Ev::SessionOff(d) => self.session_off(d, now),
            Ev::Poll(d, g) => {
                if current(self, d, g) {
                    self.pull(d, now);
                }
            }
            Ev::Beat(d, g) => self.beat(d, g, now),
            Ev::Finish(d, g) => {
                if current(self, d, g) {
                    self.finish_attempt(d, now);
                }
            }
            Ev::Crash(d, g) => {
                if current(self, d, g) {
                    self.crash(d, now);
                }
            }
            Ev::Reboot(d) => self.reboot(d, now),
            Ev::Report(d) => self.report(d, now),
            Ev::Tick => {
                self.drive(now, |drv, n| drv.tick(now, n));
                self.q.push_fifo(now + self.p.tick_ms, Ev::Tick);
            }
            Ev::Sample => {
                self.sample(now);
                self.q.push(now + self.p.sample_ms, Ev::Sample);
            }
        }
    }

    /// Applies one action to the engine (`call` gets the driver and the buffer its
    /// notices go to) and handles what the engine decided.
    pub(super) fn drive<R>(&mut self, now: SimTime, call: impl FnOnce(&mut Driver, &mut Vec<Notice>) -> R) -> R {
        self.drive_then(now, call, |_, _, _| {})
    }

    /// [`Sim::drive`], with `before` seeing the call's answer and the notices
    /// before they are handled.
    pub(super) fn drive_then<R>(
        &mut self,
        now: SimTime,
        call: impl FnOnce(&mut Driver, &mut Vec<Notice>) -> R,
        before: impl FnOnce(&mut Self, &R, &[Notice]),
    ) -> R {
        let mut n = std::mem::take(&mut self.notices);
        let answer = call(&mut self.drv, &mut n);
        before(self, &answer, &n);
        self.notices = n;
        self.handle_notices(now);
        answer
    }

    /// Whether a device can talk to the engine and has nothing to do.
    pub(super) fn idle(&self, d: u32) -> bool {
        let dev = &self.devs[d as usize];
        dev.awake() && !dev.busy()
    }

    /// Whether the device is in the grid (joined and not gone).
    pub(super) fn present(&self, d: u32) -> bool {
        let dev = &self.devs[d as usize];
        dev.is(State::Joined) && !dev.is(State::Gone)
    }
}
