//! The figures of one run of every variant on one seed: each variant's
//! [`VariantSummary`], and the statistics behind them ([`gini`], [`lorenz`],
//! Wilson intervals). [`crate::replications`] repeats this over seeds.

use serde::{Deserialize, Serialize};

use crate::sim::{JobStatus, RunOut};

/// Mean and quantiles of a set of values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    /// Mean.
    pub mean: f64,
    /// Median (nearest rank).
    pub p50: f64,
    /// 95th percentile (nearest rank).
    pub p95: f64,
    /// How many values.
    pub n: usize,
}

impl Stats {
    /// Stats of `values` (`None` when empty).
    pub fn of(values: &[f64]) -> Option<Stats> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(Stats { mean: v.iter().sum::<f64>() / v.len() as f64, p50: q(0.5), p95: q(0.95), n: v.len() })
    }
}

/// An observed proportion with its 95% Wilson score interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Proportion {
    /// Successes over trials.
    pub rate: f64,
    /// Lower end of the interval.
    pub lo: f64,
    /// Upper end of the interval.
    pub hi: f64,
    /// Successes (jobs with a joint failure).
    pub count: u64,
    /// Trials (jobs that ended).
    pub jobs: u64,
}

impl Proportion {
    /// The 95% Wilson interval of `k` out of `n` (the whole [0, 1] when `n` is 0).
    pub fn wilson(k: u64, n: u64) -> Proportion {
        if n == 0 {
            return Proportion { rate: 0.0, lo: 0.0, hi: 1.0, count: 0, jobs: 0 };
        }
        let (z, nf) = (1.959_963_984_540_054, n as f64);
        let p = k as f64 / nf;
        let d = 1.0 + z * z / nf;
        let centre = (p + z * z / (2.0 * nf)) / d;
        let half = z * (p * (1.0 - p) / nf + z * z / (4.0 * nf * nf)).sqrt() / d;
        Proportion { rate: p, lo: (centre - half).max(0.0), hi: (centre + half).min(1.0), count: k, jobs: n }
    }
}

/// One variant's figures in `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantSummary {
    /// The variant.
    pub name: String,
    /// Makespan of completed jobs, s (submission to completion).
    pub makespan_s: Option<Stats>,
    /// The clairvoyant lower bound of the same jobs, s.
    pub makespan_lower_bound_s: Option<Stats>,
    /// Tasks with a validated result.
    pub tasks_completed: u64,
    /// Tasks of failed jobs that never got a result.
    pub tasks_lost: u64,
    /// Tasks of jobs still running at the horizon without a result.
    pub tasks_unfinished: u64,
    /// Jobs completed.
    pub jobs_completed: u64,
    /// Jobs that failed.
    pub jobs_failed: u64,
    /// Jobs the engine refused.
    pub jobs_rejected: u64,
    /// Jobs still running at the horizon (or never submitted).
    pub jobs_unfinished: u64,
    /// Attempts assigned per unique task of accepted jobs.
    pub copies_run_per_task: f64,
    /// Speculative copies per accepted job.
    #[serde(default)]
    pub speculative_per_job: f64,
    /// Wrong results in assembled outputs, counted by the simulator.
    pub wrong_results_assembled: u64,
    /// Of those, colluders' results.
    pub colluded_results_assembled: u64,
    /// Of those, ones that won although an honest result of the task had been
    /// taken (0 wherever a trusted arbiter may be had).
    pub colluded_over_honest: u64,
    /// Assembled results that belonged to another task (must be 0).
    pub misassembled: u64,
    /// Tasks of completed jobs decided by one untrusted result (the engine's count).
    pub tasks_unverified: u64,
    /// ByteChips paid for results nothing cross-checked (part of the rewards,
    /// never counted as verified work).
    #[serde(default)]
    pub paid_unverified: u64,
    /// Accepted jobs whose plan could not meet their bound on the PJF.
    pub jobs_unachievable: u64,
    /// Mean of the plans' probability of joint failure over ended jobs.
    pub pjf_predicted: f64,
    /// Mean of the simulator's own joint-failure probability over ended jobs.
    pub pjf_model: f64,
    /// Share of ended jobs in which some task failed on every planned first-line
    /// copy.
    pub pjf_observed: Proportion,
    /// Gini coefficient of the rewards across every device.
    pub rewards_gini: f64,
    /// Device time working over device time online.
    pub utilization: f64,
    /// Whether the engine's ledger accounts for every ByteChip, and the rewards
    /// seen in events equal the wallets.
    pub ledger_conserves: bool,
    /// Simulator events.
    pub events: u64,
    /// Engine commands.
    pub commands: u64,
    /// Simulated time, s.
    pub simulated_s: f64,
}

/// The whole `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Scenario name.
    pub scenario: String,
    /// The seed.
    pub seed: u64,
    /// Devices in the grid.
    pub devices: usize,
    /// Per variant.
    pub variants: Vec<VariantSummary>,
    /// Simulator events over every variant.
    pub events: u64,
    /// Wall time of the whole run, s.
    pub wall_s: f64,
    /// Peak resident memory, MB (`VmHWM`).
    pub peak_rss_mb: f64,
}

/// The Gini coefficient of non-negative amounts (0: equal; near 1: one has all).
pub fn gini(amounts: &[u64]) -> f64 {
    let mut v: Vec<u64> = amounts.to_vec();
    v.sort_unstable();
    let total: f64 = v.iter().map(|&x| x as f64).sum();
    if v.is_empty() || total == 0.0 {
        return 0.0;
    }
    let n = v.len() as f64;
    let weighted: f64 = v.iter().enumerate().map(|(i, &x)| (i as f64 + 1.0) * x as f64).sum();
    2.0 * weighted / (n * total) - (n + 1.0) / n
}

/// Points of the Lorenz curve (share of devices, share of rewards), at most `k + 1`.
pub fn lorenz(amounts: &[u64], k: usize) -> Vec<(f64, f64)> {
    let mut v: Vec<u64> = amounts.to_vec();
    v.sort_unstable();
    let total: f64 = v.iter().map(|&x| x as f64).sum::<f64>().max(1.0);
    let mut cum = Vec::with_capacity(v.len() + 1);
    let mut s = 0.0;
    cum.push(0.0);
    for &x in &v {
        s += x as f64;
        cum.push(s / total);
    }
    let n = v.len();
    (0..=k).map(|i| i * n / k.max(1)).map(|i| (i as f64 / n.max(1) as f64, cum[i])).collect()
}

/// The summary of one variant's run.
pub fn summarize(run: &RunOut) -> VariantSummary {
    let done: Vec<_> = run.jobs.iter().filter(|j| j.status == JobStatus::Completed).collect();
    let ended: Vec<_> =
        run.jobs.iter().filter(|j| matches!(j.status, JobStatus::Completed | JobStatus::Failed)).collect();
    let accepted: Vec<_> =
        run.jobs.iter().filter(|j| j.status != JobStatus::Rejected && j.status != JobStatus::Pending).collect();
    let count = |s: JobStatus| run.jobs.iter().filter(|j| j.status == s).count() as u64;
    let mean = |f: &dyn Fn(&crate::sim::JobOut) -> f64| {
        if ended.is_empty() {
            0.0
        } else {
            ended.iter().map(|j| f(j)).sum::<f64>() / ended.len() as f64
        }
    };
    let tasks: u64 = accepted.iter().map(|j| u64::from(j.tasks)).sum();
    let attempts: u64 = accepted.iter().map(|j| u64::from(j.attempts)).sum();
    let earned: Vec<u64> = run.devices.iter().map(|d| d.earned).collect();
    VariantSummary {
        name: run.variant.clone(),
        makespan_s: Stats::of(&done.iter().filter_map(|j| j.makespan_s()).collect::<Vec<_>>()),
        makespan_lower_bound_s: Stats::of(&done.iter().map(|j| j.lower_bound_s).collect::<Vec<_>>()),
        tasks_completed: run.jobs.iter().map(|j| u64::from(j.validated)).sum(),
        tasks_lost: run
            .jobs
            .iter()
            .filter(|j| j.status == JobStatus::Failed)
            .map(|j| u64::from(j.tasks - j.validated))
            .sum(),
        tasks_unfinished: run
            .jobs
            .iter()
            .filter(|j| j.status == JobStatus::Unfinished)
            .map(|j| u64::from(j.tasks - j.validated))
            .sum(),
        jobs_completed: count(JobStatus::Completed),
        jobs_failed: count(JobStatus::Failed),
        jobs_rejected: count(JobStatus::Rejected),
        jobs_unfinished: count(JobStatus::Unfinished) + count(JobStatus::Pending),
        copies_run_per_task: if tasks == 0 { 0.0 } else { attempts as f64 / tasks as f64 },
        speculative_per_job: if accepted.is_empty() {
            0.0
        } else {
            accepted.iter().map(|j| f64::from(j.speculative)).sum::<f64>() / accepted.len() as f64
        },
        wrong_results_assembled: done.iter().map(|j| u64::from(j.wrong_assembled)).sum(),
        colluded_results_assembled: done.iter().map(|j| u64::from(j.colluded_assembled)).sum(),
        colluded_over_honest: done.iter().map(|j| u64::from(j.colluded_over_honest)).sum(),
        misassembled: done.iter().map(|j| u64::from(j.misassembled)).sum(),
        tasks_unverified: done.iter().map(|j| u64::from(j.unverified)).sum(),
        paid_unverified: run.credited_unverified,
        jobs_unachievable: accepted.iter().filter(|j| !j.achievable).count() as u64,
        pjf_predicted: mean(&|j| j.pjf_plan),
        pjf_model: mean(&|j| j.pjf_model),
        pjf_observed: Proportion::wilson(ended.iter().filter(|j| j.joint_failure).count() as u64, ended.len() as u64),
        rewards_gini: gini(&earned),
        utilization: run.utilization,
        ledger_conserves: run.ledger_conserves && run.credited == run.wallets,
        events: run.events,
        commands: run.commands,
        simulated_s: run.end_s,
    }
}

/// Runs every variant of a scenario on one world (common random numbers) and
/// summarizes them. `progress` is told the variant's index and how far it is.
pub fn run_scenario(
    sc: &crate::Scenario,
    seed: u64,
    progress: &mut dyn FnMut(usize, crate::sim::Progress),
) -> Result<(Summary, Vec<RunOut>), crate::ScenarioError> {
    let started = std::time::Instant::now();
    let variants = sc.variants()?;
    let world = crate::World::new(sc, seed);
    let runs: Vec<RunOut> = variants
        .iter()
        .enumerate()
        .map(|(i, v)| crate::run_variant(sc, &world, v, seed, &mut |p| progress(i, p)))
        .collect();
    let summary = Summary {
        scenario: sc.name.clone(),
        seed,
        devices: world.len(),
        variants: runs.iter().map(summarize).collect(),
        events: runs.iter().map(|r| r.events).sum(),
        wall_s: started.elapsed().as_secs_f64(),
        peak_rss_mb: peak_rss_mb(),
    };
    Ok((summary, runs))
}

/// Peak resident memory of this process, MB (Linux `VmHWM`; 0 elsewhere).
pub fn peak_rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|kb| kb.parse::<f64>().ok()))
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wilson_matches_a_worked_example() {
        // 10 of 100 at 95%: [0.0552, 0.1744] (Newcombe 1998, method 3).
        let p = Proportion::wilson(10, 100);
        assert!((p.lo - 0.0552).abs() < 1e-4 && (p.hi - 0.1744).abs() < 1e-4, "{p:?}");
        let p = Proportion::wilson(0, 20);
        assert!(p.lo == 0.0 && (p.hi - 0.1611).abs() < 1e-4, "{p:?}");
    }

    #[test]
    fn gini_of_equal_and_of_one_winner() {
        assert_eq!(gini(&[5, 5, 5, 5]), 0.0);
        assert!((gini(&[0, 0, 0, 10]) - 0.75).abs() < 1e-12);
        assert_eq!(lorenz(&[0, 0, 0, 10], 4), [(0.0, 0.0), (0.25, 0.0), (0.5, 0.0), (0.75, 0.0), (1.0, 1.0)]);
    }

    #[test]
    fn stats_nearest_rank() {
        let s = Stats::of(&(1..=20).map(f64::from).collect::<Vec<_>>()).unwrap();
        assert_eq!((s.mean, s.p50, s.p95, s.n), (10.5, 10.0, 19.0, 20));
    }
}
