//! Replications: every variant of a scenario on N seeds, each seed shared by all
//! variants (common random numbers), run in parallel with results identical to a
//! serial run, and summarized with 95% intervals and paired differences.
//!
//! Replication `i` (from 0) runs on seed `seed + i`, so one replication is the
//! single run of `seed`. Runs go to a rayon pool one replication at a time and come
//! back in replication order; nothing in a run depends on which thread ran it.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::opt::{optimal_makespan, Host};
use crate::report::{lorenz, peak_rss_mb, summarize, Proportion, VariantSummary};
use crate::scenario::{Scenario, ScenarioError, Variant};
use crate::sim::{JobStatus, RunOut};
use crate::stats::{Better, MeanCi, Paired, Percentiles};
use crate::World;

/// How to run a scenario.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Replications (at least 1).
    pub replications: u32,
    /// Seed of the first replication.
    pub seed: u64,
    /// The variant the others are compared with (default: the first).
    pub baseline: Option<String>,
    /// Worker threads (default: one per core).
    pub threads: Option<usize>,
}

/// One job of one run, as saved in `runs.json` and `jobs.csv`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    /// Job id.
    pub id: String,
    /// Its kind.
    pub kind: String,
    /// How it ended (`completed`, `failed`, `rejected`, `unfinished`, `pending`).
    pub status: String,
    /// Why the engine failed it, when it did.
    #[serde(default)]
    pub fail_reason: Option<String>,
    /// Unique tasks.
    pub tasks: u32,
    /// Copies planned.
    pub copies: u32,
    /// Attempts assigned.
    pub attempts: u32,
    /// Tasks with a result.
    pub validated: u32,
    /// Submission, s.
    pub submit_s: f64,
    /// End (completion or failure), s.
    pub end_s: Option<f64>,
    /// Makespan of a completed job, s.
    pub makespan_s: Option<f64>,
    /// The optimal makespan of the job alone on the grid, s (`None`: the grid
    /// could not complete it at all).
    pub opt_s: Option<f64>,
    /// The plan's probability of joint failure.
    pub pjf_plan: f64,
    /// The simulator's own probability of joint failure.
    pub pjf_model: f64,
    /// Whether some task failed on every planned first-line copy.
    pub joint_failure: bool,
    /// Wrong results assembled.
    pub wrong_assembled: u32,
    /// Of those, colluders'.
    pub colluded_assembled: u32,
    /// Tasks decided by one untrusted result.
    pub unverified: u32,
}

impl JobRecord {
    /// `makespan / OPT` of a completed job.
    pub fn ratio(&self) -> Option<f64> {
        let (m, o) = (self.makespan_s?, self.opt_s?);
        (o > 0.0).then(|| m / o)
    }
}

/// One variant on one replication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The variant.
    pub variant: String,
    /// Replication, from 0.
    pub replication: u32,
    /// Its seed.
    pub seed: u64,
    /// The run's figures.
    pub summary: VariantSummary,
    /// Its jobs, in arrival order.
    pub jobs: Vec<JobRecord>,
    /// Lorenz curve of the rewards across devices (101 points).
    pub lorenz: Vec<(f64, f64)>,
    /// The bound on a verdict's probability of being wrong the engine held
    /// jobs to (`None`: credibility off, the plain quorum rule).
    #[serde(default)]
    pub max_error: Option<f64>,
}

/// A metric measured once per run and compared over replications.
#[derive(Clone, Copy, Debug)]
pub struct Metric {
    /// Key in `summary.json`.
    pub key: &'static str,
    /// Column name.
    pub label: &'static str,
    /// What it means, for the legend of every column.
    pub meaning: &'static str,
    /// Which way is better.
    pub better: Better,
    /// Decimals shown.
    pub decimals: usize,
    /// Its value in a run (`None`: undefined there, e.g. no job completed).
    pub get: fn(&RunRecord) -> Option<f64>,
}

fn mean_of(v: impl Iterator<Item = f64>) -> Option<f64> {
    let (s, n) = v.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    (n > 0).then(|| s / n as f64)
}

/// Every per-run metric, in table order.
pub const METRICS: [Metric; 11] = [
    Metric {
        key: "jobs_completed",
        label: "done",
        meaning: "jobs completed within the horizon",
        better: Better::Higher,
        decimals: 1,
        get: |r| Some(r.summary.jobs_completed as f64),
    },
    Metric {
        key: "jobs_failed",
        label: "fail",
        meaning: "jobs failed or refused by the engine",
        better: Better::Lower,
        decimals: 1,
        get: |r| Some((r.summary.jobs_failed + r.summary.jobs_rejected) as f64),
    },
    Metric {
        key: "makespan_mean_s",
        label: "makespan s",
        meaning: "mean makespan of the run's completed jobs, seconds from submission to completion",
        better: Better::Lower,
        decimals: 0,
        get: |r| r.summary.makespan_s.as_ref().map(|m| m.mean),
    },
    Metric {
        key: "makespan_over_opt",
        label: "makespan/OPT",
        meaning: "mean over the run's completed jobs of makespan divided by the optimal makespan of the job alone on the grid (1 is optimal)",
        better: Better::Lower,
        decimals: 2,
        get: |r| mean_of(r.jobs.iter().filter_map(JobRecord::ratio)),
    },
    Metric {
        key: "copies_per_task",
        label: "copies",
        meaning: "attempts the engine assigned per unique task of accepted jobs",
        better: Better::Lower,
        decimals: 2,
        get: |r| Some(r.summary.copies_run_per_task),
    },
    Metric {
        key: "joint_failure_share",
        label: "joint fail",
        meaning: "share of ended jobs in which some task failed on every planned first-line copy",
        better: Better::Lower,
        decimals: 3,
        get: |r| (r.summary.pjf_observed.jobs > 0).then_some(r.summary.pjf_observed.rate),
    },
    Metric {
        key: "wrong_results",
        label: "wrong",
        meaning: "wrong results in completed jobs' assembled outputs",
        better: Better::Lower,
        decimals: 1,
        get: |r| Some(r.summary.wrong_results_assembled as f64),
    },
    Metric {
        key: "tasks_unverified",
        label: "unverified",
        meaning: "tasks of completed jobs decided by one untrusted result (nothing cross-checked them)",
        better: Better::Lower,
        decimals: 1,
        get: |r| Some(r.summary.tasks_unverified as f64),
    },
    Metric {
        key: "rewards_gini",
        label: "gini",
        meaning: "Gini coefficient of the ByteChips earned across every device (0: equal pay)",
        better: Better::Neither,
        decimals: 3,
        get: |r| Some(r.summary.rewards_gini),
    },
    Metric {
        key: "utilization",
        label: "util",
        meaning: "device time working over device time online",
        better: Better::Neither,
        decimals: 3,
        get: |r| Some(r.summary.utilization),
    },
    Metric {
        key: "speculative_per_job",
        label: "spec/job",
        meaning: "speculative copies per accepted job (copies of a job's last tasks on devices expected to end them sooner)",
        better: Better::Neither,
        decimals: 1,
        get: |r| Some(r.summary.speculative_per_job),
    },
];

/// One metric of one variant over the replications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MetricStudy {
    /// The metric's key.
    pub key: String,
    /// Mean over replications and its 95% interval.
    pub estimate: Option<MeanCi>,
    /// Difference from the baseline, paired by replication (`None` for the
    /// baseline itself).
    pub paired: Option<Paired>,
}

/// One variant over the replications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantStudy {
    /// The variant.
    pub name: String,
    /// What it changes from the scenario, as `path = value` lines.
    pub changes: Vec<String>,
    /// Every metric of [`METRICS`], in order.
    pub metrics: Vec<MetricStudy>,
    /// Makespan of every completed job of every replication, s.
    pub makespan_s: Option<Percentiles>,
    /// The optimal makespan of the same jobs, s.
    pub opt_s: Option<Percentiles>,
    /// `makespan / OPT` of the same jobs.
    pub makespan_over_opt: Option<Percentiles>,
    /// Jobs with a joint failure over every ended job of every replication, with
    /// the 95% Wilson interval.
    pub joint_failures: Proportion,
    /// The plan's probability of joint failure, mean over replications.
    pub pjf_plan: Option<MeanCi>,
    /// The simulator's own probability, mean over replications.
    pub pjf_model: Option<MeanCi>,
    /// Completed jobs faster than their optimal makespan (must be 0).
    pub jobs_below_opt: u64,
    /// Whether the ledger conserved in every replication.
    pub ledger_conserves: bool,
    /// Assembled results of another task, over every replication (must be 0).
    pub misassembled: u64,
    /// Wrong results over the tasks assembled in completed jobs of every
    /// replication, with the 95% Wilson interval: the error rate observed.
    #[serde(default)]
    pub wrong_share: Option<Proportion>,
    /// The bound on a verdict's probability of being wrong that the engine held
    /// jobs to (`None`: credibility off).
    #[serde(default)]
    pub max_error: Option<f64>,
}

/// The whole study, `summary.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Study {
    /// Scenario name.
    pub scenario: String,
    /// What the scenario is for.
    pub description: String,
    /// The overrides given on the command line (`--set`), as given.
    pub overrides: Vec<String>,
    /// Replications.
    pub replications: u32,
    /// Their seeds.
    pub seeds: Vec<u64>,
    /// Devices in the grid.
    pub devices: usize,
    /// The variant the others are compared with.
    pub baseline: String,
    /// Per variant, in run order.
    pub variants: Vec<VariantStudy>,
    /// Simulator events over every run.
    pub events: u64,
    /// Wall time, s.
    pub wall_s: f64,
    /// Worker threads used.
    pub threads: usize,
    /// Peak resident memory, MB.
    pub peak_rss_mb: f64,
}

impl Study {
    /// The variant named `name`.
    pub fn variant(&self, name: &str) -> Option<&VariantStudy> {
        self.variants.iter().find(|v| v.name == name)
    }
}

/// Everything a study produced.
pub struct Outcome {
    /// The summary.
    pub study: Study,
    /// Every run's record, by replication then variant.
    pub records: Vec<RunRecord>,
    /// The first replication's full runs (devices and time series), by variant.
    pub first: Vec<RunOut>,
}

/// A baseline or variant name that is not in the scenario.
fn unknown(what: &str, name: &str, variants: &[Variant]) -> ScenarioError {
    let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
    ScenarioError(format!("{what}: no variant `{name}`; the variants are {}", names.join(", ")))
}

/// The optimal makespan of each job of a run (see [`crate::opt`]): the job alone on
/// the devices that may ever run it (trusted ones for a trusted-only job), each
/// available during its online spells, at its best task time.
pub fn job_opts(world: &World, variant: &Variant, run: &RunOut) -> Vec<Option<f64>> {
    let n = world.len();
    let mut offsets = vec![0usize; n + 1];
    for &(d, _, _) in &run.availability {
        offsets[d as usize + 1] += 1;
    }
    for i in 0..n {
        offsets[i + 1] += offsets[i];
    }
    let spells: Vec<(u64, u64)> = run.availability.iter().map(|&(_, a, b)| (a, b)).collect();
    let mut cache: Vec<((usize, u64), Option<f64>)> = Vec::new();
    run.jobs
        .iter()
        .map(|j| {
            let k = variant.jobs.iter().position(|kind| kind.name == j.kind)?;
            let release = (j.submit_s * 1000.0).round() as u64;
            if let Some((_, v)) = cache.iter().find(|(key, _)| *key == (k, release)) {
                return *v;
            }
            let kind = &variant.jobs[k];
            let hosts: Vec<Host<'_>> = (0..n)
                .filter(|&d| !kind.trusted || world.trusted(d))
                .map(|d| Host { task_ms: world.task_ms(d, kind), intervals: &spells[offsets[d]..offsets[d + 1]] })
                .collect();
            let opt = optimal_makespan(release, kind.tasks, &hosts).map(|ms| ms as f64 / 1000.0);
            cache.push(((k, release), opt));
            opt
        })
        .collect()
}

fn status_name(s: JobStatus) -> String {
    serde_json::to_value(s).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default()
}

/// The record of one run.
pub fn record(world: &World, variant: &Variant, run: &RunOut, replication: u32, seed: u64) -> RunRecord {
    let opts = job_opts(world, variant, run);
    let earned: Vec<u64> = run.devices.iter().map(|d| d.earned).collect();
    RunRecord {
        variant: run.variant.clone(),
        replication,
        seed,
        summary: summarize(run),
        jobs: run
            .jobs
            .iter()
            .zip(opts)
            .map(|(j, opt_s)| JobRecord {
                id: j.id.clone(),
                kind: j.kind.clone(),
                status: status_name(j.status),
                fail_reason: j.fail_reason.clone(),
                tasks: j.tasks,
                copies: j.copies,
                attempts: j.attempts,
                validated: j.validated,
                submit_s: j.submit_s,
                end_s: j.end_s,
                makespan_s: j.makespan_s(),
                opt_s,
                pjf_plan: j.pjf_plan,
                pjf_model: j.pjf_model,
                joint_failure: j.joint_failure,
                wrong_assembled: j.wrong_assembled,
                colluded_assembled: j.colluded_assembled,
                unverified: j.unverified,
            })
            .collect(),
        lorenz: lorenz(&earned, 100),
        max_error: variant.engine.credibility.enabled.then_some(variant.engine.credibility.max_error),
    }
}

/// Runs every variant of `sc` on `plan.replications` seeds and summarizes them.
/// `progress` is told how many runs are done, of how many, as they finish.
pub fn run(sc: &Scenario, plan: &Plan, progress: &(dyn Fn(usize, usize) + Sync)) -> Result<Outcome, ScenarioError> {
    let started = std::time::Instant::now();
    let variants = sc.variants()?;
    let baseline = plan.baseline.clone().unwrap_or_else(|| variants[0].name.clone());
    if !variants.iter().any(|v| v.name == baseline) {
        return Err(unknown("--baseline", &baseline, &variants));
    }
    if plan.replications == 0 {
        return Err(ScenarioError("replications: must be at least 1".into()));
    }
    let total = plan.replications as usize * variants.len();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let one = |i: u32| {
        let seed = plan.seed.wrapping_add(u64::from(i));
        let world = World::new(sc, seed);
        let runs: Vec<(RunRecord, RunOut)> = variants
            .iter()
            .map(|v| {
                let out = crate::run_variant(sc, &world, v, seed, &mut |_| {});
                let rec = record(&world, v, &out, i, seed);
                progress(done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1, total);
                (rec, out)
            })
            .collect();
        (world.len(), runs)
    };
    let threads = plan.threads.unwrap_or_else(rayon::current_num_threads).max(1);
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| ScenarioError(format!("cannot start {threads} threads: {e}")))?;
    let per_rep: Vec<(usize, Vec<(RunRecord, RunOut)>)> =
        pool.install(|| (0..plan.replications).into_par_iter().map(one).collect());
    let devices = per_rep.first().map_or(0, |r| r.0);
    let mut records = Vec::with_capacity(total);
    let mut first = Vec::new();
    let mut events = 0;
    for (i, (_, runs)) in per_rep.into_iter().enumerate() {
        for (rec, out) in runs {
            events += out.events;
            records.push(rec);
            if i == 0 {
                first.push(out);
            }
        }
    }
    let meta = Meta {
        scenario: sc.name.clone(),
        description: sc.description.clone(),
        overrides: Vec::new(),
        seed: plan.seed,
        replications: plan.replications,
        devices,
        baseline,
        changes: sc.variant_changes(),
    };
    let mut study = aggregate(&meta, &records);
    study.events = events;
    study.threads = threads;
    study.wall_s = started.elapsed().as_secs_f64();
    study.peak_rss_mb = peak_rss_mb();
    Ok(Outcome { study, records, first })
}

/// What a study's summary says about where its records came from.
#[derive(Clone, Debug)]
pub struct Meta {
    /// Scenario name.
    pub scenario: String,
    /// Its description.
    pub description: String,
    /// Overrides given on the command line.
    pub overrides: Vec<String>,
    /// First seed.
    pub seed: u64,
    /// Replications.
    pub replications: u32,
    /// Devices.
    pub devices: usize,
    /// Baseline variant.
    pub baseline: String,
    /// Each variant's changes, by name.
    pub changes: Vec<(String, Vec<String>)>,
}

/// The summary of a study's records (run by replication then variant).
pub fn aggregate(meta: &Meta, records: &[RunRecord]) -> Study {
    let names: Vec<String> = meta.changes.iter().map(|(n, _)| n.clone()).collect();
    let of = |name: &str| -> Vec<&RunRecord> {
        let mut v: Vec<&RunRecord> = records.iter().filter(|r| r.variant == name).collect();
        v.sort_by_key(|r| r.replication);
        v
    };
    let base = of(&meta.baseline);
    let column = |runs: &[&RunRecord], m: &Metric| -> Vec<Option<f64>> {
        (0..meta.replications).map(|i| runs.iter().find(|r| r.replication == i).and_then(|r| (m.get)(r))).collect()
    };
    let variants = names
        .iter()
        .zip(&meta.changes)
        .map(|(name, (_, changes))| {
            let runs = of(name);
            let metrics = METRICS
                .iter()
                .map(|m| {
                    let mine = column(&runs, m);
                    let values: Vec<f64> = mine.iter().flatten().copied().collect();
                    MetricStudy {
                        key: m.key.to_string(),
                        estimate: MeanCi::of(&values),
                        paired: (*name != meta.baseline)
                            .then(|| Paired::of(&mine, &column(&base, m), m.better))
                            .flatten(),
                    }
                })
                .collect();
            let jobs: Vec<&JobRecord> = runs.iter().flat_map(|r| &r.jobs).collect();
            let done: Vec<&JobRecord> = jobs.iter().copied().filter(|j| j.makespan_s.is_some()).collect();
            let ended = runs.iter().map(|r| r.summary.pjf_observed.jobs).sum();
            let joint = runs.iter().map(|r| r.summary.pjf_observed.count).sum();
            let per_run = |f: fn(&RunRecord) -> f64| {
                MeanCi::of(&runs.iter().filter(|r| r.summary.pjf_observed.jobs > 0).map(|r| f(r)).collect::<Vec<_>>())
            };
            VariantStudy {
                name: name.clone(),
                changes: changes.clone(),
                metrics,
                makespan_s: Percentiles::of(&done.iter().filter_map(|j| j.makespan_s).collect::<Vec<_>>()),
                opt_s: Percentiles::of(&done.iter().filter_map(|j| j.opt_s).collect::<Vec<_>>()),
                makespan_over_opt: Percentiles::of(&done.iter().filter_map(|j| j.ratio()).collect::<Vec<_>>()),
                joint_failures: Proportion::wilson(joint, ended),
                pjf_plan: per_run(|r| r.summary.pjf_predicted),
                pjf_model: per_run(|r| r.summary.pjf_model),
                jobs_below_opt: done
                    .iter()
                    .filter(|j| j.opt_s.is_none_or(|o| j.makespan_s.is_some_and(|m| m < o - 1e-6)))
                    .count() as u64,
                ledger_conserves: runs.iter().all(|r| r.summary.ledger_conserves),
                misassembled: runs.iter().map(|r| r.summary.misassembled).sum(),
                wrong_share: {
                    let wrong = done.iter().map(|j| u64::from(j.wrong_assembled)).sum();
                    let tasks = done.iter().map(|j| u64::from(j.tasks)).sum();
                    Some(Proportion::wilson(wrong, tasks))
                },
                max_error: runs.first().and_then(|r| r.max_error),
            }
        })
        .collect();
    Study {
        scenario: meta.scenario.clone(),
        description: meta.description.clone(),
        overrides: meta.overrides.clone(),
        replications: meta.replications,
        seeds: (0..meta.replications).map(|i| meta.seed.wrapping_add(u64::from(i))).collect(),
        devices: meta.devices,
        baseline: meta.baseline.clone(),
        variants,
        events: 0,
        wall_s: 0.0,
        threads: 1,
        peak_rss_mb: 0.0,
    }
}
