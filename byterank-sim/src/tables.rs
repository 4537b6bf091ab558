//! The text tables of a study: the policy table (means over replications with
//! their 95% intervals), the job table (percentiles over every job of every
//! replication) and the paired table (differences from the baseline, with a
//! verdict), the failed jobs with the engine's reasons, and the legend of every
//! column.

use std::fmt::Write as _;

use crate::replications::{RunRecord, Study, METRICS};
use crate::stats::MeanCi;

fn cell(m: Option<&MeanCi>, decimals: usize, replications: u32) -> String {
    let Some(m) = m else { return "-".into() };
    let mut s = format!("{:.*}", decimals, m.mean);
    if let Some(h) = m.half {
        let _ = write!(s, " ±{:.*}", decimals, h);
    }
    if m.n < replications as usize {
        let _ = write!(s, " (n={})", m.n);
    }
    s
}

/// The policy table: one row per variant, each metric's mean over replications
/// and the half-width of its 95% Student-t interval.
pub fn policy_table(study: &Study) -> String {
    let mut rows: Vec<Vec<String>> = Vec::new();
    let mut head = vec!["variant".to_string(), "n".to_string()];
    head.extend(METRICS.iter().map(|m| m.label.to_string()));
    rows.push(head);
    for v in &study.variants {
        let mut row = vec![v.name.clone(), study.replications.to_string()];
        for (m, ms) in METRICS.iter().zip(&v.metrics) {
            row.push(cell(ms.estimate.as_ref(), m.decimals, study.replications));
        }
        rows.push(row);
    }
    layout(&rows)
}

/// The job table: percentiles over every job of every replication.
pub fn job_table(study: &Study) -> String {
    let mut rows = vec![[
        "variant",
        "jobs",
        "makespan p50 s",
        "p90 s",
        "p99 s",
        "OPT p50 s",
        "makespan/OPT p50",
        "p90",
        "max",
        "below OPT",
    ]
    .map(String::from)
    .to_vec()];
    for v in &study.variants {
        let f = |x: Option<f64>, d: usize| x.map_or("-".to_string(), |x| format!("{x:.d$}"));
        let (m, o, r) = (v.makespan_s.as_ref(), v.opt_s.as_ref(), v.makespan_over_opt.as_ref());
        rows.push(vec![
            v.name.clone(),
            m.map_or(0, |m| m.n).to_string(),
            f(m.map(|m| m.p50), 0),
            f(m.map(|m| m.p90), 0),
            f(m.map(|m| m.p99), 0),
            f(o.map(|o| o.p50), 0),
            f(r.map(|r| r.p50), 2),
            f(r.map(|r| r.p90), 2),
            f(r.map(|r| r.max), 2),
            v.jobs_below_opt.to_string(),
        ]);
    }
    layout(&rows)
}

/// The paired table: each variant minus the baseline, per metric, paired by
/// replication, with the 95% interval and what it says.
pub fn paired_table(study: &Study) -> String {
    let mut rows =
        vec![["variant", "metric", "difference", "95% interval", "pairs", "verdict"].map(String::from).to_vec()];
    for v in study.variants.iter().filter(|v| v.name != study.baseline) {
        for (m, ms) in METRICS.iter().zip(&v.metrics) {
            let d = m.decimals;
            let (diff, ci, n, verdict) = match &ms.paired {
                None => ("-".into(), "-".into(), "0".into(), "no difference".into()),
                Some(p) => (
                    format!("{:+.d$}", p.diff.mean),
                    p.diff.half.map_or("-".into(), |_| format!("[{:+.d$}, {:+.d$}]", p.diff.lo(), p.diff.hi())),
                    p.diff.n.to_string(),
                    p.verdict.label().to_string(),
                ),
            };
            rows.push(vec![v.name.clone(), m.label.to_string(), diff, ci, n, verdict]);
        }
    }
    layout(&rows)
}

/// The error table: each variant's bound on a verdict's probability of being
/// wrong against the share of assembled results that were wrong, with its 95%
/// Wilson interval (over every completed job of every replication).
pub fn error_table(study: &Study) -> String {
    let mut rows =
        vec![["variant", "max_error", "tasks", "wrong", "error rate", "95% interval"].map(String::from).to_vec()];
    for v in &study.variants {
        let Some(w) = &v.wrong_share else { continue };
        rows.push(vec![
            v.name.clone(),
            v.max_error.map_or("off".into(), |b| format!("{b}")),
            w.jobs.to_string(),
            w.count.to_string(),
            format!("{:.5}", w.rate),
            format!("[{:.5}, {:.5}]", w.lo, w.hi),
        ]);
    }
    layout(&rows)
}

/// Everything a run prints: the three tables with their titles.
pub fn tables(study: &Study) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} replication{} (seeds {}..={}); mean ±half-width of the 95% interval over replications",
        study.replications,
        if study.replications == 1 { "" } else { "s" },
        study.seeds.first().copied().unwrap_or(0),
        study.seeds.last().copied().unwrap_or(0),
    );
    s.push_str(&policy_table(study));
    let _ = writeln!(s, "\njobs of every replication: percentiles");
    s.push_str(&job_table(study));
    if study.variants.iter().any(|v| v.wrong_share.as_ref().is_some_and(|w| w.count > 0)) {
        let _ = writeln!(s, "\nwrong results assembled against the bound on a verdict's error");
        s.push_str(&error_table(study));
    }
    if study.variants.len() > 1 {
        let _ = writeln!(s, "\npaired differences from {} (variant minus {0}, by replication)", study.baseline);
        s.push_str(&paired_table(study));
    }
    s
}

/// Every failed job of every run, with when and why the engine failed it: empty
/// when none failed.
pub fn failures(records: &[RunRecord]) -> String {
    let mut rows = vec![["variant", "seed", "job", "at s", "reason"].map(String::from).to_vec()];
    for r in records {
        for j in r.jobs.iter().filter(|j| j.status == "failed") {
            let at = j.end_s.map_or("-".to_string(), |s| format!("{s:.0}"));
            let reason = j.fail_reason.clone().unwrap_or_default();
            rows.push(vec![r.variant.clone(), r.seed.to_string(), j.id.clone(), at, reason]);
        }
    }
    if rows.len() == 1 {
        return String::new();
    }
    format!("\nfailed jobs\n{}", layout(&rows))
}

/// The meaning of every column of the tables, as (column, meaning).
pub fn legend() -> Vec<(&'static str, String)> {
    let mut l = vec![
        ("variant", "the variant: the scenario with the changes listed for it".to_string()),
        ("n", "replications: seeds shared by every variant (common random numbers)".to_string()),
    ];
    for m in METRICS {
        l.push((m.label, format!("{}; mean over replications ± half-width of its 95% Student-t interval", m.meaning)));
    }
    l.extend([
        ("jobs", "completed jobs over every replication".to_string()),
        ("makespan p50/p90/p99 s", "nearest-rank percentiles of their makespans".to_string()),
        ("OPT p50 s", "median of their optimal makespans (each job alone on the grid, Kondo and Casanova's greedy algorithm on the availability and speeds the run drew)".to_string()),
        ("makespan/OPT p50, p90, max", "percentiles of each job's makespan over its OPT".to_string()),
        ("below OPT", "completed jobs faster than their OPT; 0 unless the bound is wrong".to_string()),
        ("difference", "mean over replications of (variant − baseline), paired by seed".to_string()),
        ("95% interval", "the Student-t interval of that mean".to_string()),
        ("pairs", "replications where both have a value".to_string()),
        ("max_error", "the bound on the probability that a verdict by agreement is wrong (off: the plain quorum rule)".to_string()),
        ("tasks, wrong, error rate", "tasks assembled in completed jobs, the wrong ones among them, and their share with its 95% Wilson interval".to_string()),
        ("verdict", "better or worse (higher or lower for gini and util) where the interval excludes zero; otherwise no difference".to_string()),
    ]);
    l
}

/// Left-aligns the first column and right-aligns the others.
fn layout(rows: &[Vec<String>]) -> String {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let width: Vec<usize> =
        (0..cols).map(|c| rows.iter().filter_map(|r| r.get(c)).map(|x| x.chars().count()).max().unwrap_or(0)).collect();
    let mut s = String::new();
    for r in rows {
        let mut line = String::new();
        for (c, x) in r.iter().enumerate() {
            let pad = width[c] - x.chars().count();
            if c == 0 {
                line.push_str(x);
                line.push_str(&" ".repeat(pad));
            } else {
                line.push_str("  ");
                line.push_str(&" ".repeat(pad));
                line.push_str(x);
            }
        }
        s.push_str(line.trim_end());
        s.push('\n');
    }
    s
}
