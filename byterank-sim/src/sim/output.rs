//! What a run produces: per job, per device, a time series, and the run's totals.

use super::device::Trait;
use super::run::Sim;
use crate::queue::SimTime;
use crate::scenario::JobKind;
use crate::synth::DeviceProfile;

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
    /// Of those, speculative copies of tasks in the job's tail.
    pub speculative: u32,
    /// Submission time, s.
    pub submit_s: f64,
    /// End time, s (completion or failure).
    pub end_s: Option<f64>,
    /// How it ended.
    pub status: JobStatus,
    /// Why the engine failed it, when it did.
    pub fail_reason: Option<String>,
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
}

impl JobOut {
    /// A job of this kind due at `at` ms, not yet submitted.
    pub(super) fn pending(id: String, kind: &JobKind, at: SimTime, lower_bound_s: f64) -> JobOut {
        JobOut {
            id,
            kind: kind.name.clone(),
            tasks: kind.tasks as u32,
            copies: 0,
            attempts: 0,
            speculative: 0,
            submit_s: at as f64 / 1000.0,
            end_s: None,
            status: JobStatus::Pending,
            fail_reason: None,
            lower_bound_s,
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
        }
    }

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

/// One sample of the time series (as `runs.json` saves it, too).
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
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
    /// Of those, what results nothing cross-checked earned (tasks decided by
    /// one untrusted result).
    pub credited_unverified: u64,
    /// Sum of the owners' wallets in the engine's ledger.
    pub wallets: u64,
    /// Attempts whose results the device returned.
    pub results: u64,
    /// Device busy time over online time.
    pub utilization: f64,
    /// Every online spell as `(device, from ms, to ms)`, by device then time; `to`
    /// is `u64::MAX` for a spell still open when the run stopped. The same in every
    /// variant of a seed up to the earlier run's end: what the optimal makespan
    /// ([`crate::opt`]) needs.
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

impl Sim<'_> {
    /// Adds a point to the time series.
    pub(super) fn sample(&mut self, now: SimTime) {
        let engine = self.drv.engine();
        let (mut online, mut busy) = (0u32, 0u32);
        let mut ranked: Vec<(u32, bool)> = Vec::new();
        for dev in &self.devs {
            if dev.awake() {
                online += 1;
                busy += u32::from(dev.busy());
                let rank = engine.rank(dev.handle());
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

    /// Closes the books at `end` and hands over the run's output.
    pub(super) fn finish(&mut self, end: SimTime) -> RunOut {
        self.closing = true;
        for d in 0..self.devs.len() as u32 {
            let dev = &mut self.devs[d as usize];
            if let Some(run) = dev.running {
                dev.totals.busy_ms += end.saturating_sub(run.since);
            }
            self.account_online(d, end);
        }
        let (busy, online): (u64, u64) = self
            .devs
            .iter()
            .map(|d| (d.totals.busy_ms, d.totals.online_ms))
            .fold((0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
        let ledger = self.drv.engine().ledger();
        let devices = self
            .devs
            .iter()
            .enumerate()
            .map(|(i, d)| DeviceOut {
                index: i as u32,
                class: DeviceProfile::ALL[d.traits.profile as usize].name(),
                trusted: d.has(Trait::Trusted),
                colluder: d.has(Trait::Colluder),
                attempts: d.totals.attempts,
                results: d.totals.results,
                wrong: d.totals.wrong,
                errors: d.totals.errors,
                crashes: d.totals.crashes,
                lost: d.totals.lost,
                busy_s: d.totals.busy_ms as f64 / 1000.0,
                online_s: d.totals.online_ms as f64 / 1000.0,
                earned: d.totals.earned,
            })
            .collect();
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
            credited_unverified: self.credited_unverified,
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
