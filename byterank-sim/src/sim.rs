//! The discrete-event loop: simulated devices and jobs around the real engine.
//!
//! # Determinism
//!
//! A run is a pure function of the scenario, the variant and the seed: the event
//! queue breaks ties in insertion order ([`crate::queue`]), the engine is
//! deterministic, every random draw comes from a ChaCha8 stream named by (seed,
//! device, purpose, counter), and nothing is iterated in hash order. Only the wall
//! time and the memory figures differ between two runs of the same seed.
//!
//! # Common random numbers
//!
//! A device's sessions (on/off times, charging), its join and leave times, whether
//! it colludes, and the outcome of its n-th attempt (error, crash, delay, slowness,
//! wrong result, duration jitter) are drawn from streams of that device alone, keyed
//! by the session or attempt number. Job arrivals come from a stream of the job
//! kind. So two variants of one scenario see the same devices, the same
//! availability and the same luck, and differ only by what the engine decides.

use byterank_core::application::{Chunk, Synthetic};
use byterank_core::engine::{AttemptId, JobId};
use byterank_core::job::{JobSpec, Preferences};
use byterank_core::reward::ByteChips;
use rand::{Rng as _, SeedableRng as _};
use rand_chacha::ChaCha8Rng;

use crate::driver::{DeviceId, Driver, Notice};
use crate::queue::{EventQueue, SimTime};
use crate::scenario::{ChurnModel, JobKind, Scenario, Variant};
use crate::synth::{synth_devices, ClassMix, DeviceProfile, SynthConfig, DEFAULT_NOW};

const NONE: u32 = u32::MAX;
const NO_ATTEMPT: u64 = u64::MAX;
/// The salt every colluder uses: their wrong results agree with each other.
pub const COLLUDER_SALT: u64 = 0xC011_0DE5;

// Purposes of the per-device random streams.
const S_LIFE: u64 = 1;
const S_SESSION: u64 = 2;
const S_ATTEMPT: u64 = 3;
const S_JOBS: u64 = 4;

/// A ChaCha8 stream for one purpose of one device (or job kind), `n`-th of its kind.
fn stream(seed: u64, who: u32, purpose: u64, n: u32) -> ChaCha8Rng {
    let mut r = ChaCha8Rng::seed_from_u64(seed ^ u64::from(who).wrapping_mul(0x9E37_79B9_7F4A_7C15));
    r.set_stream((purpose << 32) | u64::from(n));
    r
}

/// A uniform draw in [0, 1) from a counter (for poll jitter, the hottest draw):
/// SplitMix64 of (seed, device, counter).
fn unit(seed: u64, who: u32, n: u32) -> f64 {
    let mut z = seed ^ (u64::from(who) << 32 | u64::from(n)).wrapping_mul(0xD1B5_4A32_D192_ED03);
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

// Device flag bits.
const TRUSTED: u16 = 1;
const COLLUDER: u16 = 2;
const BATTERY: u16 = 4;
const JOINED: u16 = 8;
const GONE: u16 = 16;
const ONLINE: u16 = 32;
const CRASHED: u16 = 64;
const CHARGING: u16 = 128;
const DIRTY: u16 = 256;

/// A simulated device: what the model needs, kept small (one per device).
#[derive(Clone, Debug)]
struct Dev {
    flags: u16,
    profile: u8,
    wrong_kind: u8,
    engine: u32,
    gen: u32,
    attempts: u32,
    sessions: u32,
    polls: u32,
    idle_polls: u8,
    rate: f32,
    down_mbps: f32,
    up_mbps: f32,
    p_err: f32,
    p_delay: f32,
    p_wrong: f32,
    p_charging: f32,
    base_temp: f32,
    battery: f32,
    temp: f32,
    rep_battery: f32,
    rep_temp: f32,
    t_upd: SimTime,
    t_report: SimTime,
    t_online: SimTime,
    t_busy: SimTime,
    // The running attempt.
    attempt: u64,
    job: u32,
    task: u32,
    end: SimTime,
    gap_from: SimTime,
    gap_to: SimTime,
    error: bool,
    rescue: bool,
    p_fail: f32,
    // Totals.
    busy_ms: u64,
    online_ms: u64,
    n_attempts: u32,
    n_results: u32,
    n_wrong: u32,
    n_errors: u32,
    n_crashes: u32,
    n_lost: u32,
    earned: u64,
}

impl Dev {
    fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }
    fn set(&mut self, f: u16, on: bool) {
        if on {
            self.flags |= f;
        } else {
            self.flags &= !f;
        }
    }
    fn busy(&self) -> bool {
        self.attempt != NO_ATTEMPT
    }
    fn awake(&self) -> bool {
        self.flags & (JOINED | ONLINE | GONE | CRASHED) == JOINED | ONLINE
    }
}

/// Simulator events: enum payloads with dense ids.
#[derive(Clone, Copy, Debug)]
enum Ev {
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
    Tick,
    Sample,
}

#[derive(Clone, Copy, Debug, Default)]
struct TaskRec {
    /// Product of the model's failure probabilities of the task's first-line
    /// (non-rescue) copies that ran.
    p_prod: f32,
    /// Sum of those probabilities.
    p_sum: f32,
    ran: u16,
    /// First-line copies that returned a result the engine took (or that the
    /// engine cancelled because the task was decided elsewhere).
    oks: u16,
    validated: bool,
    /// The engine took an honest result of the task.
    honest: bool,
}

/// How a job ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    /// Not submitted before the horizon.
    Pending,
    /// The engine refused it (no eligible device).
    Rejected,
    /// Still running at the horizon.
    Unfinished,
    /// Completed and assembled.
    Completed,
    /// Failed.
    Failed,
}

/// One job's record.
#[derive(Clone, Debug, serde::Serialize)]
pub struct JobOut {
    /// Job id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// Unique tasks.
    pub tasks: u32,
    /// Copies planned.
    pub copies: u32,
    /// Attempts the engine assigned.
    pub attempts: u32,
    /// Submission time, s.
    pub submit_s: f64,
    /// End time, s (completion or failure).
    pub end_s: Option<f64>,
    /// How it ended.
    pub status: JobStatus,
    /// The clairvoyant lower bound on its makespan, s.
    pub lower_bound_s: f64,
    /// The plan's probability of joint failure.
    pub pjf_plan: f64,
    /// Whether the plan met the job's bound on it.
    pub achievable: bool,
    /// Tasks decided by one untrusted result (not cross-checked).
    pub unverified: u32,
    /// The simulator's own probability that some task fails on every planned
    /// first-line copy, from the true per-attempt failure probabilities.
    pub pjf_model: f64,
    /// Whether some task failed on every planned first-line copy (at least
    /// `copies / tasks` of them ran, and all failed).
    pub joint_failure: bool,
    /// Tasks with a result.
    pub validated: u32,
    /// Wrong results in the assembled output.
    pub wrong_assembled: u32,
    /// Of those, colluders' results.
    pub colluded_assembled: u32,
    /// Of those, ones assembled although the engine had taken an honest result
    /// of the same task: what validation is there to prevent.
    pub colluded_over_honest: u32,
    /// Assembled results that were not a result of the right task (must be 0).
    pub misassembled: u32,
    #[serde(skip)]
    rec: Vec<TaskRec>,
    /// The engine's handles of the job's attempts.
    #[serde(skip)]
    ids: Vec<u64>,
    #[serde(skip)]
    engine: Option<JobId>,
    #[serde(skip)]
    kind_index: usize,
}

impl JobOut {
    /// Makespan, s, of a completed job.
    pub fn makespan_s(&self) -> Option<f64> {
        match (self.status, self.end_s) {
            (JobStatus::Completed, Some(e)) => Some(e - self.submit_s),
            _ => None,
        }
    }
}

/// One device's totals.
#[derive(Clone, Debug, serde::Serialize)]
pub struct DeviceOut {
    /// Device index (0-based; its id is `dev-` and the index + 1).
    pub index: u32,
    /// Its class.
    pub class: &'static str,
    /// Trusted by the operator.
    pub trusted: bool,
    /// A colluder.
    pub colluder: bool,
    /// Attempts started.
    pub attempts: u32,
    /// Results returned.
    pub results: u32,
    /// Of those, wrong.
    pub wrong: u32,
    /// Error reports.
    pub errors: u32,
    /// Crashes while working.
    pub crashes: u32,
    /// Attempts lost to going offline, leaving, or the engine's withdrawal.
    pub lost: u32,
    /// Seconds working.
    pub busy_s: f64,
    /// Seconds online.
    pub online_s: f64,
    /// ByteChips earned.
    pub earned: u64,
}

/// One sample of the time series.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Sample {
    /// Time, s.
    pub t_s: f64,
    /// Devices online.
    pub online: u32,
    /// Devices working.
    pub busy: u32,
    /// Attempts the engine has running.
    pub running_attempts: u32,
    /// Tasks of running jobs without a result (the work queued or in progress).
    pub open_tasks: u64,
    /// Jobs running.
    pub jobs_running: u32,
    /// Share of the devices of each quarter of the ByteRank order (best first)
    /// that are working.
    pub load_by_rank_quarter: [f64; 4],
}

/// Everything one variant's run produced.
#[derive(Clone, Debug)]
pub struct RunOut {
    /// The variant's name.
    pub variant: String,
    /// Jobs, in arrival order.
    pub jobs: Vec<JobOut>,
    /// Devices, in index order.
    pub devices: Vec<DeviceOut>,
    /// The time series.
    pub series: Vec<Sample>,
    /// Simulator events processed.
    pub events: u64,
    /// Engine commands applied.
    pub commands: u64,
    /// Simulated time at the end, s.
    pub end_s: f64,
    /// Whether the engine's ledger accounts for every ByteChip.
    pub ledger_conserves: bool,
    /// Sum of the rewards credited, as seen in the engine's events.
    pub credited: u64,
    /// Sum of the owners' wallets in the engine's ledger.
    pub wallets: u64,
    /// Attempts whose results the device returned.
    pub results: u64,
    /// Device busy time over online time.
    pub utilization: f64,
    /// Every online spell as `(device, from ms, to ms)`, by device then time; `to`
    /// is `u64::MAX` for a spell still open when the run stopped. The same in every
    /// variant of a seed: what the optimal makespan ([`crate::opt`]) needs.
    pub availability: Vec<(u32, SimTime, SimTime)>,
}

/// What a progress callback is told.
#[derive(Clone, Copy, Debug)]
pub struct Progress {
    /// Simulated time, ms.
    pub now_ms: u64,
    /// The horizon, ms.
    pub horizon_ms: u64,
}

struct Params {
    seed: u64,
    report_ms: u64,
    heartbeat_ms: u64,
    poll_ms: f64,
    poll_max_ms: f64,
    tick_ms: u64,
    sample_ms: u64,
    horizon_ms: u64,
    reboot_ms: u64,
    gap_ms: u64,
    crash_per_ms: f64,
    slow_p: f64,
    slow_factor: f64,
    collude_rate: f64,
    churn: ChurnModel,
    on_mean_ms: f64,
    off_mean_ms: f64,
    shape: f64,
    drain_busy: f32,
    drain_idle: f32,
    charge: f32,
    heat: f32,
    tau_ms: f32,
    max_temp: f32,
    min_battery: f32,
}

/// The static part of a grid, shared by every variant of a scenario: the
/// generated devices and the draws that do not depend on the policy.
pub struct World {
    devices: Vec<crate::synth::SynthDevice>,
    devs: Vec<Dev>,
    /// (join time, leave time) per device; `u64::MAX`: never.
    life: Vec<(SimTime, SimTime)>,
    /// Arrival times (ms) and kinds, in arrival order.
    arrivals: Vec<(SimTime, usize, u32)>,
    /// Sum of every device's peak rate (work seconds per second).
    total_rate: f64,
}

fn weibull_or_exp(model: ChurnModel, mean: f64, shape: f64, u: f64) -> f64 {
    let e = -(1.0 - u).ln();
    match model {
        ChurnModel::Weibull => {
            let scale = mean / statrs::function::gamma::gamma(1.0 + 1.0 / shape);
            scale * e.powf(1.0 / shape)
        }
        _ => mean * e,
    }
}

impl World {
    /// Generates the grid and the policy-independent draws of a scenario.
    pub fn new(sc: &Scenario, seed: u64) -> World {
        let mix = sc.grid.mix.map(|m| ClassMix::new(m).expect("checked")).unwrap_or(ClassMix::PAPER);
        let devices = synth_devices(&SynthConfig { devices: sc.grid.devices, seed, now: DEFAULT_NOW, mix });
        let horizon = sc.horizon_s * 1000.0;
        let f = &sc.faults;
        let mut total_rate = 0.0;
        let mut life = Vec::with_capacity(devices.len());
        let devs: Vec<Dev> = devices
            .iter()
            .enumerate()
            .map(|(i, sd)| {
                let d = &sd.device;
                let mut r = stream(seed, i as u32, S_LIFE, 0);
                let (u_col, u_trust, u_join, t_join, u_leave, t_leave) = (
                    r.random::<f64>(),
                    r.random::<f64>(),
                    r.random::<f64>(),
                    r.random::<f64>(),
                    r.random::<f64>(),
                    r.random::<f64>(),
                );
                let colluder = u_col < sc.colluders.share;
                let trusted = !colluder && sc.grid.trusted_share.map_or(d.trusted, |s| u_trust < s);
                let join = if u_join < sc.churn.join_share { (t_join * horizon) as u64 } else { 0 };
                let leave = if u_leave < sc.churn.leave_share { (t_leave * horizon) as u64 } else { u64::MAX };
                life.push((join, leave.max(join)));
                let score = d.processor_score.unwrap_or(150.0);
                let cpu = d.cpu_available_pct.unwrap_or(50.0).clamp(5.0, 100.0) / 100.0;
                let rate = score * cpu / sc.grid.reference_score;
                total_rate += rate;
                let profile = DeviceProfile::ALL.iter().position(|p| *p == sd.profile).unwrap_or(0) as u8;
                let charging_p = crate::synth::TABLE.charging[profile as usize];
                let mut flags = 0;
                if trusted {
                    flags |= TRUSTED;
                }
                if colluder {
                    flags |= COLLUDER;
                }
                if d.battery_pct.is_some() {
                    flags |= BATTERY;
                }
                if d.charging == Some(true) {
                    flags |= CHARGING;
                }
                let temp = d.temperature_f.unwrap_or(90.0) as f32;
                let battery = d.battery_pct.unwrap_or(100.0) as f32;
                Dev {
                    flags,
                    profile,
                    wrong_kind: 0,
                    engine: NONE,
                    gen: 0,
                    attempts: 0,
                    sessions: 0,
                    polls: 0,
                    idle_polls: 0,
                    rate: rate as f32,
                    down_mbps: d.download_mbps.unwrap_or(10.0).max(0.1) as f32,
                    up_mbps: d.upload_mbps.unwrap_or(2.0).max(0.05) as f32,
                    p_err: (sd.fault.failed * f.error_scale).min(1.0) as f32,
                    p_delay: (sd.fault.delayed * f.delay_scale).min(1.0) as f32,
                    p_wrong: if trusted { 0.0 } else { (sd.fault.incorrect * f.wrong_scale).min(1.0) as f32 },
                    p_charging: charging_p as f32,
                    base_temp: temp,
                    battery,
                    temp,
                    rep_battery: battery,
                    rep_temp: temp,
                    t_upd: 0,
                    t_report: 0,
                    t_online: 0,
                    t_busy: 0,
                    attempt: NO_ATTEMPT,
                    job: 0,
                    task: 0,
                    end: 0,
                    gap_from: 0,
                    gap_to: 0,
                    error: false,
                    rescue: false,
                    p_fail: 0.0,
                    busy_ms: 0,
                    online_ms: 0,
                    n_attempts: 0,
                    n_results: 0,
                    n_wrong: 0,
                    n_errors: 0,
                    n_crashes: 0,
                    n_lost: 0,
                    earned: 0,
                }
            })
            .collect();
        let mut arrivals = Vec::new();
        for (k, kind) in sc.jobs.iter().enumerate() {
            let times: Vec<f64> = if !kind.at_s.is_empty() {
                kind.at_s.clone()
            } else if let Some(rate) = kind.rate_per_hour {
                let mut r = stream(seed, NONE - k as u32, S_JOBS, 0);
                let mut t = kind.start_s;
                (0..kind.count)
                    .map(|_| {
                        t += -(1.0 - r.random::<f64>()).ln() * 3600.0 / rate;
                        t
                    })
                    .collect()
            } else {
                vec![kind.start_s; kind.count as usize]
            };
            for (n, t) in times.into_iter().enumerate() {
                arrivals.push(((t * 1000.0) as u64, k, n as u32));
            }
        }
        arrivals.sort_by_key(|&(t, k, n)| (t, k, n));
        World { devices, devs, life, arrivals, total_rate }
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devs.len()
    }

    /// Whether the grid is empty.
    pub fn is_empty(&self) -> bool {
        self.devs.is_empty()
    }

    /// How long one task of `kind` takes on device `d` at best, ms: its transfers
    /// and the work at its peak rate, computed as an attempt's length is (with no
    /// jitter, slowness or delay), so no attempt of it is shorter.
    pub fn task_ms(&self, d: usize, kind: &JobKind) -> u64 {
        let dev = &self.devs[d];
        let compute = kind.task_work_s / f64::from(dev.rate);
        let transfer = kind.input_mb * 8.0 / f64::from(dev.down_mbps) + kind.output_mb * 8.0 / f64::from(dev.up_mbps);
        (((compute + transfer) * 1000.0).ceil() as u64).max(1)
    }

    /// Whether device `d` is trusted by the operator.
    pub fn trusted(&self, d: usize) -> bool {
        self.devs[d].has(TRUSTED)
    }

    /// The clairvoyant lower bound on a job's makespan, seconds (see
    /// `docs/simulator.md`): no run can beat its best device running its one task
    /// from download to upload at peak speed, nor the whole grid working on it
    /// alone at peak speed with no transfer.
    pub fn lower_bound_s(&self, kind: &JobKind) -> f64 {
        let best = self
            .devs
            .iter()
            .map(|d| {
                kind.input_mb * 8.0 / f64::from(d.down_mbps)
                    + kind.task_work_s / f64::from(d.rate)
                    + kind.output_mb * 8.0 / f64::from(d.up_mbps)
            })
            .fold(f64::INFINITY, f64::min);
        best.max(kind.tasks as f64 * kind.task_work_s / self.total_rate)
    }
}

/// One variant's simulation.
struct Sim<'a> {
    p: Params,
    world: &'a World,
    variant: &'a Variant,
    q: EventQueue<Ev>,
    drv: Driver,
    devs: Vec<Dev>,
    by_engine: Vec<u32>,
    jobs: Vec<JobOut>,
    job_of_engine: Vec<u32>,
    /// Per attempt (engine handles are sparse: a slab slot and its generation):
    /// (job index, task, wrong kind: 0 honest, 1 own, 2 colluded, 3 not returned,
    /// first-line copy). Only looked up, never iterated; a job's entries go when
    /// it ends.
    attempt_info: std::collections::HashMap<u64, (u32, u32, u8, bool)>,
    /// Ended jobs to release from the engine once their events are handled.
    to_release: Vec<JobId>,
    running_jobs: u32,
    next_arrival: usize,
    series: Vec<Sample>,
    notices: Vec<Notice>,
    credited: u64,
    results: u64,
    lower_bounds: Vec<f64>,
    /// Closed online spells (see [`RunOut::availability`]).
    online_log: Vec<(u32, SimTime, SimTime)>,
    /// Set while the run is being closed: spells still open are logged as open.
    closing: bool,
}

/// Runs one variant of a scenario on a world, reporting progress now and then.
pub fn run_variant(
    sc: &Scenario,
    world: &World,
    variant: &Variant,
    seed: u64,
    progress: &mut dyn FnMut(Progress),
) -> RunOut {
    let g = &sc.grid;
    let flag_cfg = &variant.engine.index.flags;
    let p = Params {
        seed,
        report_ms: (g.report_s * 1000.0) as u64,
        heartbeat_ms: (g.heartbeat_s * 1000.0).max(1.0) as u64,
        poll_ms: g.poll_s * 1000.0,
        poll_max_ms: g.poll_max_s.max(g.poll_s) * 1000.0,
        tick_ms: (g.tick_s * 1000.0).max(1.0) as u64,
        sample_ms: (g.sample_s * 1000.0).max(1.0) as u64,
        horizon_ms: (sc.horizon_s * 1000.0) as u64,
        reboot_ms: (sc.faults.reboot_s * 1000.0) as u64,
        gap_ms: (sc.faults.delay_gap_s * 1000.0) as u64,
        crash_per_ms: sc.faults.crash_per_hour / 3.6e6,
        slow_p: sc.faults.slow_p,
        slow_factor: sc.faults.slow_factor,
        collude_rate: sc.colluders.rate,
        churn: sc.churn.model,
        on_mean_ms: sc.churn.on_mean_s * 1000.0,
        off_mean_ms: sc.churn.off_mean_s * 1000.0,
        shape: sc.churn.shape,
        drain_busy: sc.power.drain_busy_pct_h as f32,
        drain_idle: sc.power.drain_idle_pct_h as f32,
        charge: sc.power.charge_pct_h as f32,
        heat: sc.power.heat_f as f32,
        tau_ms: (sc.power.heat_tau_s * 1000.0) as f32,
        max_temp: flag_cfg.max_temperature_f as f32,
        min_battery: flag_cfg.min_battery_pct as f32,
    };
    let lower_bounds = variant.jobs.iter().map(|k| world.lower_bound_s(k)).collect();
    let mut sim = Sim {
        p,
        world,
        variant,
        q: EventQueue::new(),
        drv: Driver::new(variant.engine.clone(), DEFAULT_NOW).expect("the scenario checked the engine's settings"),
        devs: world.devs.clone(),
        by_engine: Vec::with_capacity(world.len()),
        jobs: Vec::new(),
        job_of_engine: Vec::new(),
        attempt_info: std::collections::HashMap::new(),
        to_release: Vec::new(),
        running_jobs: 0,
        next_arrival: 0,
        series: Vec::new(),
        notices: Vec::new(),
        credited: 0,
        results: 0,
        lower_bounds,
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
        let mut n = std::mem::take(&mut self.notices);
        self.drv.tick(0, &mut n);
        self.notices = n;
        self.handle_notices(0);
        for (i, &(t, _, _)) in self.world.arrivals.iter().enumerate() {
            let (k, num) = (self.world.arrivals[i].1, self.world.arrivals[i].2);
            let kind = &self.variant.jobs[k];
            self.jobs.push(JobOut {
                id: format!("{}-{:04}", kind.name, num),
                kind: kind.name.clone(),
                tasks: kind.tasks as u32,
                copies: 0,
                attempts: 0,
                submit_s: t as f64 / 1000.0,
                end_s: None,
                status: JobStatus::Pending,
                lower_bound_s: self.lower_bounds[k],
                pjf_plan: 0.0,
                achievable: false,
                unverified: 0,
                pjf_model: 0.0,
                joint_failure: false,
                validated: 0,
                wrong_assembled: 0,
                colluded_assembled: 0,
                colluded_over_honest: 0,
                misassembled: 0,
                rec: Vec::new(),
                ids: Vec::new(),
                engine: None,
                kind_index: k,
            });
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
        match ev {
            Ev::Arrive(i) => self.arrive(i, now),
            Ev::Join(d) => self.join(d, now),
            Ev::Leave(d) => self.leave(d, now),
            Ev::SessionOn(d) => self.session_on(d, now),
            Ev::SessionOff(d) => self.session_off(d, now),
            Ev::Poll(d, g) => {
                if self.devs[d as usize].gen == g {
                    self.pull(d, now);
                }
            }
            Ev::Beat(d, g) => self.beat(d, g, now),
            Ev::Finish(d, g) => {
                if self.devs[d as usize].gen == g {
                    self.finish_attempt(d, now);
                }
            }
            Ev::Crash(d, g) => {
                if self.devs[d as usize].gen == g {
                    self.crash(d, now);
                }
            }
            Ev::Reboot(d) => {
                let dev = &mut self.devs[d as usize];
                dev.set(CRASHED, false);
                if dev.has(DIRTY) && !dev.has(GONE) {
                    // What changed during the silence is reported now.
                    self.q.push(now, Ev::Report(d));
                }
                let dev = &mut self.devs[d as usize];
                if dev.awake() {
                    self.wake(d, now, 0);
                }
            }
            Ev::Report(d) => self.report(d, now),
            Ev::Tick => {
                let mut n = std::mem::take(&mut self.notices);
                self.drv.tick(now, &mut n);
                self.notices = n;
                self.handle_notices(now);
                self.q.push_fifo(now + self.p.tick_ms, Ev::Tick);
            }
            Ev::Sample => {
                self.sample(now);
                self.q.push(now + self.p.sample_ms, Ev::Sample);
            }
        }
    }

    // ---- devices ----------------------------------------------------------

    fn session_len(&self, d: u32, n: u32, on: bool) -> (u64, bool) {
        let mut r = stream(self.p.seed, d, S_SESSION, n);
        let (u, c) = (r.random::<f64>(), r.random::<f64>());
        let mean = if on { self.p.on_mean_ms } else { self.p.off_mean_ms };
        let len = weibull_or_exp(self.p.churn, mean, self.p.shape, u).max(1000.0) as u64;
        (len, c < f64::from(self.devs[d as usize].p_charging))
    }

    fn join(&mut self, d: u32, now: SimTime) {
        let online = match self.p.churn {
            ChurnModel::None => self.world.devices[d as usize].device.online != Some(false),
            _ => {
                let mut r = stream(self.p.seed, d, S_SESSION, u32::MAX);
                r.random::<f64>() < self.p.on_mean_ms / (self.p.on_mean_ms + self.p.off_mean_ms)
            }
        };
        let mut device = self.world.devices[d as usize].device.clone();
        device.online = Some(online);
        let trusted = self.devs[d as usize].has(TRUSTED);
        let handle = self.drv.register(now, device, format!("owner-{}", d + 1), trusted);
        let idx = handle.0 as usize;
        if self.by_engine.len() <= idx {
            self.by_engine.resize(idx + 1, NONE);
        }
        self.by_engine[idx] = d;
        let dev = &mut self.devs[d as usize];
        dev.engine = handle.0;
        dev.flags |= JOINED;
        dev.set(ONLINE, online);
        dev.t_upd = now;
        dev.t_report = now;
        dev.t_online = now;
        if self.p.churn != ChurnModel::None {
            let (len, _) = self.session_len(d, 0, online);
            self.devs[d as usize].sessions = 1;
            self.q.push(now + len, if online { Ev::SessionOff(d) } else { Ev::SessionOn(d) });
        }
        if online {
            let jitter = (unit(self.p.seed, d, u32::MAX) * self.p.poll_ms) as u64;
            self.wake(d, now, jitter);
        }
    }

    fn leave(&mut self, d: u32, now: SimTime) {
        if !self.devs[d as usize].has(JOINED) || self.devs[d as usize].has(GONE) {
            return;
        }
        self.drop_attempt(d, now);
        self.account_online(d, now);
        let dev = &mut self.devs[d as usize];
        dev.flags |= GONE;
        dev.gen += 1;
        let handle = DeviceId(dev.engine);
        let mut n = std::mem::take(&mut self.notices);
        self.drv.remove(now, handle, &mut n);
        self.notices = n;
        self.handle_notices(now);
    }

    fn session_on(&mut self, d: u32, now: SimTime) {
        let n = self.devs[d as usize].sessions;
        let (len, charging) = self.session_len(d, n, true);
        let dev = &mut self.devs[d as usize];
        if dev.has(GONE) {
            return;
        }
        self.advance(d, now);
        let dev = &mut self.devs[d as usize];
        dev.sessions += 1;
        dev.set(ONLINE, true);
        dev.set(CHARGING, charging);
        dev.t_online = now;
        self.q.push(now + len, Ev::SessionOff(d));
        self.mark_dirty(d, now);
        if self.devs[d as usize].awake() {
            self.wake(d, now, 0);
        }
    }

    fn session_off(&mut self, d: u32, now: SimTime) {
        if self.devs[d as usize].has(GONE) {
            return;
        }
        let n = self.devs[d as usize].sessions;
        let (len, _) = self.session_len(d, n, false);
        self.drop_attempt(d, now);
        self.account_online(d, now);
        let dev = &mut self.devs[d as usize];
        dev.sessions += 1;
        dev.set(ONLINE, false);
        dev.gen += 1;
        self.q.push(now + len, Ev::SessionOn(d));
        self.mark_dirty(d, now);
    }

    fn account_online(&mut self, d: u32, now: SimTime) {
        let dev = &mut self.devs[d as usize];
        if dev.has(ONLINE) && dev.has(JOINED) && !dev.has(GONE) {
            dev.online_ms += now.saturating_sub(dev.t_online);
            let to = if self.closing { SimTime::MAX } else { now };
            if to > dev.t_online {
                self.online_log.push((d, dev.t_online, to));
            }
            dev.t_online = now;
        }
    }

    /// Schedules a pull `delay` ms from now.
    fn wake(&mut self, d: u32, now: SimTime, delay: u64) {
        let dev = &mut self.devs[d as usize];
        dev.gen += 1;
        self.q.push(now + delay, Ev::Poll(d, dev.gen));
    }

    fn pull(&mut self, d: u32, now: SimTime) {
        let dev = &self.devs[d as usize];
        if !dev.awake() || dev.busy() {
            return;
        }
        self.advance(d, now);
        let handle = DeviceId(self.devs[d as usize].engine);
        let mut n = std::mem::take(&mut self.notices);
        self.drv.pull(now, handle, &mut n);
        self.notices = n;
        self.handle_notices(now);
    }

    /// Battery and temperature from the last update to `now` (closed forms), and a
    /// report when they crossed a flag threshold or moved enough.
    fn advance(&mut self, d: u32, now: SimTime) {
        let p = &self.p;
        let dev = &mut self.devs[d as usize];
        let dt = now.saturating_sub(dev.t_upd) as f32;
        if dt <= 0.0 {
            return;
        }
        let working = dev.busy() && dev.awake();
        if dev.has(BATTERY) {
            let per_h = if dev.has(CHARGING) {
                p.charge
            } else if working {
                -p.drain_busy
            } else {
                -p.drain_idle
            };
            dev.battery = (dev.battery + per_h * dt / 3.6e6).clamp(1.0, 100.0);
        }
        let target = dev.base_temp + if working { p.heat } else { 0.0 };
        dev.temp = target + (dev.temp - target) * (-dt / p.tau_ms).exp();
        dev.t_upd = now;
        let crossed = |a: f32, b: f32, th: f32| (a < th) != (b < th);
        if crossed(dev.battery, dev.rep_battery, p.min_battery)
            || (dev.battery - dev.rep_battery).abs() >= 10.0
            || crossed(dev.temp, dev.rep_temp, p.max_temp + 0.01)
            || (dev.temp - dev.rep_temp).abs() >= 5.0
        {
            self.mark_dirty(d, now);
        }
    }

    fn mark_dirty(&mut self, d: u32, now: SimTime) {
        let dev = &mut self.devs[d as usize];
        if dev.has(DIRTY) || !dev.has(JOINED) || dev.has(GONE) {
            return;
        }
        dev.set(DIRTY, true);
        let at = now.max(dev.t_report + self.p.report_ms);
        self.q.push(at, Ev::Report(d));
    }

    fn report(&mut self, d: u32, now: SimTime) {
        self.advance(d, now);
        let dev = &mut self.devs[d as usize];
        // A crashed device is silent: its report waits for the reboot.
        if dev.has(GONE) || !dev.has(DIRTY) || dev.has(CRASHED) {
            return;
        }
        dev.set(DIRTY, false);
        dev.t_report = now;
        dev.rep_battery = dev.battery;
        dev.rep_temp = dev.temp;
        let (online, battery, charging, temp) = (dev.has(ONLINE), dev.battery, dev.has(CHARGING), dev.temp);
        let has_battery = dev.has(BATTERY);
        self.drv.report(now, DeviceId(dev.engine), |s| {
            s.online = Some(online);
            if has_battery {
                s.battery_pct = Some(f64::from(battery.round()));
                s.charging = Some(charging);
            }
            s.temperature_f = Some(f64::from((temp * 10.0).round() / 10.0));
        });
    }

    // ---- attempts ---------------------------------------------------------

    fn start_attempt(&mut self, d: u32, now: SimTime, job: JobId, task: u32, attempt: AttemptId, rescue: bool) {
        let ji = self.job_of_engine[job.0 as usize];
        let kind = &self.variant.jobs[self.jobs[ji as usize].kind_index];
        self.advance(d, now);
        let p = &self.p;
        let dev = &self.devs[d as usize];
        let mut r = stream(p.seed, d, S_ATTEMPT, dev.attempts);
        let u: [f64; 9] = std::array::from_fn(|_| r.random::<f64>());
        let jitter = 1.0 + 0.05 * -(1.0 - u[0]).ln();
        let slow = if u[1] < p.slow_p { p.slow_factor } else { 1.0 };
        let compute = kind.task_work_s / f64::from(dev.rate) * jitter * slow;
        let transfer = kind.input_mb * 8.0 / f64::from(dev.down_mbps) + kind.output_mb * 8.0 / f64::from(dev.up_mbps);
        // The attempt's full length (a delay gap included), then the points where
        // an error or a crash would cut it short: whichever comes first ends it.
        let mut total = ((compute + transfer) * 1000.0).ceil() as u64;
        let (mut gap_from, mut gap_to) = (0, 0);
        if u[4] < f64::from(dev.p_delay) {
            gap_from = now + (total as f64 * u[5]) as u64;
            gap_to = gap_from + p.gap_ms;
            total += p.gap_ms;
        }
        let full = total;
        let error = u[2] < f64::from(dev.p_err);
        if error {
            total = ((full as f64) * u[3]).max(1.0) as u64;
        }
        let p_crash = 1.0 - (-p.crash_per_ms * full as f64).exp();
        let crash_at = (u[6] < p_crash).then(|| now + ((full as f64) * u[7]) as u64).filter(|&t| t < now + total);
        let wrong = if dev.has(COLLUDER) && u[8] < p.collude_rate {
            2
        } else if u[8] < f64::from(dev.p_wrong) {
            1
        } else {
            0
        };
        // The session ending during the attempt, given how long it has lasted
        // (the Weibull's survival ratio; memoryless for the exponential).
        let age = now.saturating_sub(dev.t_online) as f64;
        let p_off = match p.churn {
            ChurnModel::None => 0.0,
            ChurnModel::Exponential => 1.0 - (-(full as f64) / p.on_mean_ms).exp(),
            ChurnModel::Weibull => {
                let scale = p.on_mean_ms / statrs::function::gamma::gamma(1.0 + 1.0 / p.shape);
                let h = |t: f64| (t / scale).powf(p.shape);
                1.0 - (h(age) - h(age + full as f64)).exp()
            }
        };
        let p_fail = (1.0 - (1.0 - f64::from(dev.p_err)) * (1.0 - p_crash) * (1.0 - p_off)) as f32;
        self.attempt_info.insert(attempt.0, (ji, task, 3, !rescue));
        let j = &mut self.jobs[ji as usize];
        j.attempts += 1;
        j.ids.push(attempt.0);
        if !rescue {
            if let Some(t) = j.rec.get_mut(task as usize) {
                t.p_prod *= p_fail;
                t.p_sum += p_fail;
                t.ran = t.ran.saturating_add(1);
            }
        }
        let hb = p.heartbeat_ms;
        let dev = &mut self.devs[d as usize];
        dev.idle_polls = 0;
        dev.attempts += 1;
        dev.n_attempts += 1;
        dev.gen += 1;
        dev.attempt = attempt.0;
        dev.job = ji;
        dev.task = task;
        dev.end = now + total;
        dev.gap_from = gap_from;
        dev.gap_to = gap_to;
        dev.error = error;
        dev.rescue = rescue;
        dev.wrong_kind = wrong;
        dev.p_fail = p_fail;
        dev.t_busy = now;
        let g = dev.gen;
        match crash_at {
            Some(t) => self.q.push(t, Ev::Crash(d, g)),
            None => self.q.push(now + total, Ev::Finish(d, g)),
        };
        if hb < total {
            self.q.push_fifo(now + hb, Ev::Beat(d, g));
        }
    }

    fn end_busy(&mut self, d: u32, now: SimTime) {
        self.advance(d, now);
        let dev = &mut self.devs[d as usize];
        dev.busy_ms += now.saturating_sub(dev.t_busy);
        dev.attempt = NO_ATTEMPT;
        dev.gen += 1;
    }

    fn beat(&mut self, d: u32, g: u32, now: SimTime) {
        let dev = &self.devs[d as usize];
        if dev.gen != g || !dev.busy() {
            return;
        }
        let next = now + self.p.heartbeat_ms;
        if next < dev.end {
            self.q.push_fifo(next, Ev::Beat(d, g));
        }
        if now >= dev.gap_from && now < dev.gap_to {
            return;
        }
        let (handle, attempt) = (DeviceId(dev.engine), AttemptId(dev.attempt));
        self.advance(d, now);
        let mut n = std::mem::take(&mut self.notices);
        self.drv.heartbeat(now, handle, attempt, &mut n);
        self.notices = n;
        self.handle_notices(now);
    }

    fn finish_attempt(&mut self, d: u32, now: SimTime) {
        let dev = &self.devs[d as usize];
        let (handle, attempt, ji, task, error, wrong, rescue) =
            (DeviceId(dev.engine), AttemptId(dev.attempt), dev.job, dev.task, dev.error, dev.wrong_kind, dev.rescue);
        self.end_busy(d, now);
        let mut n = std::mem::take(&mut self.notices);
        if error {
            self.devs[d as usize].n_errors += 1;
            self.drv.error(now, handle, attempt, &mut n);
        } else {
            let job_id = &self.jobs[ji as usize].id;
            let chunk = Chunk { index: task, offset: u64::from(task), len: 1 };
            let meta = match wrong {
                0 => Synthetic::expected(job_id, &chunk),
                1 => Synthetic::incorrect(job_id, &chunk, u64::from(d) + 1),
                _ => Synthetic::incorrect(job_id, &chunk, COLLUDER_SALT),
            };
            let dev = &mut self.devs[d as usize];
            dev.n_results += 1;
            dev.n_wrong += u32::from(wrong != 0);
            self.results += 1;
            self.attempt_info.get_mut(&attempt.0).expect("an attempt of ours").2 = wrong;
            if !rescue {
                if let Some(t) = self.jobs[ji as usize].rec.get_mut(task as usize) {
                    t.oks += 1;
                }
            }
            self.drv.result(now, handle, attempt, meta, &mut n);
            let late = n.iter().any(|x| matches!(x, Notice::Late { attempt: a } if *a == attempt));
            if wrong == 0 && !late {
                if let Some(t) = self.jobs[ji as usize].rec.get_mut(task as usize) {
                    t.honest = true;
                }
            }
        }
        self.notices = n;
        self.handle_notices(now);
        if self.devs[d as usize].awake() && !self.devs[d as usize].busy() {
            self.pull(d, now);
        }
    }

    fn crash(&mut self, d: u32, now: SimTime) {
        self.end_busy(d, now);
        let dev = &mut self.devs[d as usize];
        dev.n_crashes += 1;
        dev.set(CRASHED, true);
        self.q.push(now + self.p.reboot_ms, Ev::Reboot(d));
    }

    /// The device stops working without a word (offline, leaving).
    fn drop_attempt(&mut self, d: u32, now: SimTime) {
        if self.devs[d as usize].busy() {
            self.devs[d as usize].n_lost += 1;
            self.end_busy(d, now);
        }
    }

    // ---- jobs -------------------------------------------------------------

    fn arrive(&mut self, i: u32, now: SimTime) {
        self.next_arrival += 1;
        let j = &self.jobs[i as usize];
        let kind = &self.variant.jobs[j.kind_index];
        let mut spec = JobSpec::new(j.id.clone(), kind.tasks);
        spec.price_chips = ByteChips(kind.price_chips.unwrap_or(100 * kind.tasks));
        spec.preferences = Preferences {
            byte_level: kind.byte_level,
            trusted: kind.trusted,
            regions: kind.regions.clone(),
            hardware: kind.hardware.clone(),
        };
        spec.replication = kind.replication;
        let mut n = std::mem::take(&mut self.notices);
        let accepted = self.drv.submit(now, spec, &mut n);
        self.notices = n;
        match accepted {
            Err(_) => self.jobs[i as usize].status = JobStatus::Rejected,
            Ok(()) => {
                let j = &mut self.jobs[i as usize];
                j.status = JobStatus::Unfinished;
                j.rec = vec![TaskRec { p_prod: 1.0, ..TaskRec::default() }; j.tasks as usize];
                self.job_of_engine.push(i);
                self.running_jobs += 1;
            }
        }
        self.handle_notices(now);
    }

    fn handle_notices(&mut self, now: SimTime) {
        if self.notices.is_empty() {
            return;
        }
        let notices = std::mem::take(&mut self.notices);
        // Attempts withdrawn because their job ended are nobody's failure.
        let ended: Vec<JobId> = notices
            .iter()
            .filter_map(|n| match n {
                Notice::JobCompleted { job, .. } | Notice::JobFailed { job } => Some(*job),
                _ => None,
            })
            .collect();
        for notice in &notices {
            match notice {
                Notice::JobAccepted { job, copies, pjf, achievable } => {
                    let ji = self.job_of_engine[job.0 as usize];
                    let j = &mut self.jobs[ji as usize];
                    (j.engine, j.copies, j.pjf_plan, j.achievable) = (Some(*job), *copies, *pjf, *achievable);
                }
                Notice::Assigned { job, task, device, attempt, rescue } => {
                    let d = self.by_engine[device.0 as usize];
                    self.start_attempt(d, now, *job, *task, *attempt, *rescue);
                }
                Notice::NoTask { device } => {
                    let d = self.by_engine[device.0 as usize];
                    let dev = &mut self.devs[d as usize];
                    dev.polls += 1;
                    // Back off while there is no work: poll_s, doubling per empty
                    // answer up to poll_max_s, each within ±50%.
                    let base = (self.p.poll_ms * f64::from(1u32 << dev.idle_polls.min(16))).min(self.p.poll_max_ms);
                    dev.idle_polls = dev.idle_polls.saturating_add(1);
                    let delay = base * (0.5 + unit(self.p.seed, d, dev.polls));
                    self.wake(d, now, delay as u64);
                }
                Notice::Withdrawn { device, attempt } => {
                    let d = self.by_engine[device.0 as usize];
                    let Some(&(ji, task, _, _)) = self.attempt_info.get(&attempt.0) else { continue };
                    let job_ended = self.jobs[ji as usize].engine.is_some_and(|j| ended.contains(&j));
                    if self.devs[d as usize].attempt == attempt.0 {
                        self.devs[d as usize].n_lost += 1;
                        self.end_busy(d, now);
                        if self.devs[d as usize].awake() {
                            self.wake(d, now, 0);
                        }
                        if job_ended {
                            // Not a failure of the copy.
                            if let Some(t) = self.jobs[ji as usize].rec.get_mut(task as usize) {
                                t.oks += 1;
                            }
                        }
                    }
                }
                Notice::Cancelled { device, attempt } => {
                    let d = self.by_engine[device.0 as usize];
                    let Some(&(ji, task, _, first_line)) = self.attempt_info.get(&attempt.0) else { continue };
                    if self.devs[d as usize].attempt == attempt.0 {
                        self.end_busy(d, now);
                        if self.devs[d as usize].awake() {
                            self.wake(d, now, 0);
                        }
                        // The task was decided elsewhere: this copy did not fail.
                        if first_line {
                            if let Some(t) = self.jobs[ji as usize].rec.get_mut(task as usize) {
                                t.oks += 1;
                            }
                        }
                    }
                }
                Notice::Late { attempt } => {
                    let Some(info) = self.attempt_info.get_mut(&attempt.0) else { continue };
                    let (ji, task, first_line) = (info.0, info.1, info.3);
                    if info.2 != 3 {
                        // Returned, but not taken: a failure of the copy.
                        self.results -= 1;
                        info.2 = 3;
                        if first_line {
                            if let Some(t) = self.jobs[ji as usize].rec.get_mut(task as usize) {
                                t.oks = t.oks.saturating_sub(1);
                            }
                        }
                    }
                }
                Notice::Incorrect { .. } => {}
                Notice::Validated { job, task, .. } => {
                    let ji = self.job_of_engine[job.0 as usize] as usize;
                    if let Some(t) = self.jobs[ji].rec.get_mut(*task as usize) {
                        if !t.validated {
                            t.validated = true;
                            self.jobs[ji].validated += 1;
                        }
                    }
                }
                Notice::Rescued { .. } => {}
                Notice::JobCompleted { job, results, unverified } => {
                    let ji = self.job_of_engine[job.0 as usize] as usize;
                    let (mut wrong, mut colluded, mut over_honest, mut mis) = (0, 0, 0, 0);
                    for (i, a) in results.iter().enumerate() {
                        let (aj, at, w, _) = self.attempt_info.get(&a.0).copied().unwrap_or((NONE, 0, 3, false));
                        if aj as usize != ji || at as usize != i {
                            mis += 1;
                        }
                        wrong += u32::from(w == 1 || w == 2);
                        colluded += u32::from(w == 2);
                        let honest = self.jobs[ji].rec.get(i).is_some_and(|t| t.honest);
                        over_honest += u32::from(w == 2 && honest);
                    }
                    let j = &mut self.jobs[ji];
                    mis += j.tasks.abs_diff(results.len() as u32);
                    (j.wrong_assembled, j.colluded_assembled, j.misassembled) = (wrong, colluded, mis);
                    j.colluded_over_honest = over_honest;
                    j.unverified = *unverified;
                    self.end_job(ji, now, JobStatus::Completed);
                }
                Notice::JobFailed { job } => {
                    let ji = self.job_of_engine[job.0 as usize] as usize;
                    self.end_job(ji, now, JobStatus::Failed);
                }
                Notice::Credited { device, amount } => {
                    let d = self.by_engine[device.0 as usize];
                    self.devs[d as usize].earned += amount;
                    self.credited += amount;
                }
            }
        }
        let mut notices = notices;
        notices.clear();
        if self.notices.is_empty() {
            self.notices = notices;
        }
        for job in std::mem::take(&mut self.to_release) {
            self.drv.release(now, job);
            let ji = self.job_of_engine[job.0 as usize] as usize;
            for id in std::mem::take(&mut self.jobs[ji].ids) {
                self.attempt_info.remove(&id);
            }
        }
    }

    fn end_job(&mut self, ji: usize, now: SimTime, status: JobStatus) {
        let j = &mut self.jobs[ji];
        j.status = status;
        j.end_s = Some(now as f64 / 1000.0);
        // A task fails jointly when every planned first-line copy failed. The plan
        // gives each task at least `copies / tasks` copies; a copy that never ran
        // (the engine dropped it once the task validated) takes the mean failure
        // probability of the job's first-line attempts in the model.
        let least = (j.copies / j.tasks.max(1)).max(1);
        let (sum, n) = j.rec.iter().fold((0.0f64, 0u64), |(s, n), t| (s + f64::from(t.p_sum), n + u64::from(t.ran)));
        let mean = if n == 0 { 0.0 } else { sum / n as f64 };
        let mut log_ok = 0.0f64;
        let mut joint = false;
        for t in &j.rec {
            if t.ran == 0 {
                continue;
            }
            let missing = least.saturating_sub(u32::from(t.ran));
            let p = f64::from(t.p_prod) * mean.powi(missing as i32);
            log_ok += (1.0 - p).max(1e-300).ln();
            joint |= t.oks == 0 && u32::from(t.ran) >= least;
        }
        j.pjf_model = 1.0 - log_ok.exp();
        j.joint_failure = joint;
        j.rec = Vec::new();
        if let Some(e) = j.engine {
            self.to_release.push(e);
        }
        self.running_jobs -= 1;
    }

    // ---- output -----------------------------------------------------------

    fn sample(&mut self, now: SimTime) {
        let engine = self.drv.engine();
        let (mut online, mut busy) = (0u32, 0u32);
        let mut ranked: Vec<(u32, bool)> = Vec::new();
        for dev in &self.devs {
            if dev.awake() {
                online += 1;
                busy += u32::from(dev.busy());
                let rank = engine.rank(DeviceId(dev.engine));
                if rank > 0 {
                    ranked.push((rank, dev.busy()));
                }
            }
        }
        let mut load = [0.0; 4];
        if !ranked.is_empty() {
            ranked.sort_unstable_by_key(|r| r.0);
            let n = ranked.len();
            for (q, slot) in load.iter_mut().enumerate() {
                let part = &ranked[q * n / 4..(q + 1) * n / 4];
                if !part.is_empty() {
                    *slot = part.iter().filter(|r| r.1).count() as f64 / part.len() as f64;
                }
            }
        }
        let open_tasks = self
            .jobs
            .iter()
            .filter(|j| j.status == JobStatus::Unfinished)
            .map(|j| u64::from(j.tasks - j.validated))
            .sum();
        self.series.push(Sample {
            t_s: now as f64 / 1000.0,
            online,
            busy,
            running_attempts: engine.running_attempts() as u32,
            open_tasks,
            jobs_running: self.running_jobs,
            load_by_rank_quarter: load,
        });
    }

    fn finish(&mut self, end: SimTime) -> RunOut {
        self.closing = true;
        for d in 0..self.devs.len() as u32 {
            if self.devs[d as usize].busy() {
                let dev = &mut self.devs[d as usize];
                dev.busy_ms += end.saturating_sub(dev.t_busy);
            }
            self.account_online(d, end);
        }
        let (busy, online): (u64, u64) =
            self.devs.iter().map(|d| (d.busy_ms, d.online_ms)).fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let ledger = self.drv.engine().ledger();
        let devices = self
            .devs
            .iter()
            .enumerate()
            .map(|(i, d)| DeviceOut {
                index: i as u32,
                class: DeviceProfile::ALL[d.profile as usize].name(),
                trusted: d.has(TRUSTED),
                colluder: d.has(COLLUDER),
                attempts: d.n_attempts,
                results: d.n_results,
                wrong: d.n_wrong,
                errors: d.n_errors,
                crashes: d.n_crashes,
                lost: d.n_lost,
                busy_s: d.busy_ms as f64 / 1000.0,
                online_s: d.online_ms as f64 / 1000.0,
                earned: d.earned,
            })
            .collect();
        for j in &mut self.jobs {
            if j.status == JobStatus::Unfinished {
                j.rec = Vec::new();
            }
        }
        RunOut {
            variant: self.variant.name.clone(),
            jobs: std::mem::take(&mut self.jobs),
            devices,
            series: std::mem::take(&mut self.series),
            events: self.q.popped(),
            commands: self.drv.commands,
            end_s: end as f64 / 1000.0,
            ledger_conserves: ledger.conserves(),
            credited: self.credited,
            wallets: ledger.wallets.values().map(|c| c.0).sum(),
            results: self.results,
            utilization: if online == 0 { 0.0 } else { busy as f64 / online as f64 },
            availability: {
                let mut log = std::mem::take(&mut self.online_log);
                log.sort_unstable();
                log
            },
        }
    }
}
