//! The files of a run's output folder: what is written, how the report is rebuilt
//! from them alone, and the guard that keeps one run from mixing with another.
//!
//! A study writes `summary.json` (the [`Study`]), `runs.json` (every run's record
//! and the first replication's time series: all the plots need), `jobs.csv`,
//! `devices.csv` and `timeseries.csv`, then the plots and `report.html` from those
//! two JSON files. A sweep writes `sweep.json`, `sweep.csv`, its plot and its
//! report. [`render`] rebuilds the plots and the report from the JSON files only.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::replications::{JobRecord, Outcome, RunRecord, Study, METRICS};
use crate::sim::RunOut;

/// One time-series sample, as saved: the simulator's own.
pub use crate::sim::Sample as SeriesRow;

/// One variant's time series (first replication).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct VariantSeries {
    /// The variant.
    pub variant: String,
    /// Its samples.
    pub samples: Vec<SeriesRow>,
}

/// `runs.json`: every run's record and the first replication's time series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    /// By replication, then variant.
    pub records: Vec<RunRecord>,
    /// By variant.
    pub series: Vec<VariantSeries>,
}

impl Saved {
    /// Every job of every replication of a variant.
    pub fn jobs_of<'a>(&'a self, variant: &'a str) -> impl Iterator<Item = &'a JobRecord> + 'a {
        self.records.iter().filter(move |r| r.variant == variant).flat_map(|r| &r.jobs)
    }
}

/// `sweep.json`: one study per value of a parameter.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sweep {
    /// The swept path (`grid.devices`).
    pub path: String,
    /// Its values, as given.
    pub values: Vec<String>,
    /// One study per value, in order.
    pub studies: Vec<Study>,
}

/// Every file the simulator writes into an output folder.
pub const FILES: [&str; 20] = [
    "summary.json",
    "runs.json",
    "jobs.csv",
    "devices.csv",
    "timeseries.csv",
    "sweep.json",
    "sweep.csv",
    "report.html",
    "means.svg",
    "paired.svg",
    "makespan-ecdf.svg",
    "ratio-ecdf.svg",
    "pjf.svg",
    "calibration.svg",
    "lorenz.svg",
    "queue.svg",
    "load.svg",
    "sweep.svg",
    "wrong.svg",
    // Written by earlier versions: cleared with the rest.
    "makespan.svg",
];

/// Whether `name` is a file the simulator writes (earlier versions' per-variant
/// `load-<variant>.svg` included).
pub fn is_ours(name: &str) -> bool {
    FILES.contains(&name) || (name.starts_with("load-") && name.ends_with(".svg"))
}

/// An output folder that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum OutError {
    /// It holds another run's files.
    #[error("{0} holds another run ({1}); pass --force to replace that run's files, or choose another folder")]
    Taken(String, String),
    /// It is not a folder.
    #[error("{0} exists and is not a folder")]
    NotDir(String),
    /// It cannot be read.
    #[error("cannot read {0}: {1}")]
    Io(String, io::Error),
}

/// The simulator's files in `dir`, sorted.
pub fn ours(dir: &Path) -> Result<Vec<PathBuf>, OutError> {
    let shown = dir.display().to_string();
    if !dir.exists() {
        return Ok(Vec::new());
    }
    if !dir.is_dir() {
        return Err(OutError::NotDir(shown));
    }
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(|e| OutError::Io(shown.clone(), e))? {
        let entry = entry.map_err(|e| OutError::Io(shown.clone(), e))?;
        if entry.file_type().map(|t| t.is_file()).unwrap_or(false) && entry.file_name().to_str().is_some_and(is_ours) {
            found.push(entry.path());
        }
    }
    found.sort();
    Ok(found)
}

/// Checks that `dir` may receive a run: it holds none of the simulator's files, or
/// `force` is set. Changes nothing.
pub fn check_out(dir: &Path, force: bool) -> Result<(), OutError> {
    let found = ours(dir)?;
    match found.first() {
        Some(f) if !force => Err(OutError::Taken(
            dir.display().to_string(),
            f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        )),
        _ => Ok(()),
    }
}

/// Creates `dir` and removes the simulator's files from it (and nothing else).
pub fn clear(dir: &Path) -> io::Result<()> {
    std::fs::create_dir_all(dir)?;
    for f in ours(dir).map_err(io::Error::other)? {
        std::fs::remove_file(f)?;
    }
    Ok(())
}

fn json<T: Serialize>(dir: &Path, name: &str, value: &T) -> io::Result<()> {
    let mut w = io::BufWriter::new(std::fs::File::create(dir.join(name))?);
    serde_json::to_writer_pretty(&mut w, value).map_err(io::Error::other)?;
    writeln!(w)?;
    w.flush()
}

fn read_json<T: for<'de> Deserialize<'de>>(dir: &Path, name: &str) -> io::Result<T> {
    let path = dir.join(name);
    let text =
        std::fs::read_to_string(&path).map_err(|e| io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    serde_json::from_str(&text)
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display())))
}

fn csv(dir: &Path, name: &str, header: &str, rows: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> io::Result<()> {
    let mut w = io::BufWriter::new(std::fs::File::create(dir.join(name))?);
    writeln!(w, "{header}")?;
    rows(&mut w)?;
    w.flush()
}

/// A CSV field: quoted when it holds a comma, a quote or a line break.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

fn series_of(run: &RunOut) -> VariantSeries {
    VariantSeries { variant: run.variant.clone(), samples: run.series.clone() }
}

/// Writes a study's files into `dir` (which must exist), then the plots and
/// `report.html` from them.
pub fn write_study(dir: &Path, out: &Outcome) -> io::Result<()> {
    let saved = Saved { records: out.records.clone(), series: out.first.iter().map(series_of).collect() };
    json(dir, "summary.json", &out.study)?;
    json(dir, "runs.json", &saved)?;
    csv(
        dir,
        "jobs.csv",
        "variant,replication,seed,job,kind,status,tasks,copies,attempts,validated,submit_s,end_s,makespan_s,opt_s,makespan_over_opt,pjf_plan,pjf_model,joint_failure,wrong_assembled,colluded_assembled,unverified,fail_reason",
        |w| {
            let opt = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.3}"));
            for r in &saved.records {
                for j in &r.jobs {
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{},{},{},{},{:.3},{},{},{},{},{:.6},{:.6},{},{},{},{},{}",
                        field(&r.variant),
                        r.replication,
                        r.seed,
                        field(&j.id),
                        field(&j.kind),
                        j.status,
                        j.tasks,
                        j.copies,
                        j.attempts,
                        j.validated,
                        j.submit_s,
                        opt(j.end_s),
                        opt(j.makespan_s),
                        opt(j.opt_s),
                        j.ratio().map_or(String::new(), |x| format!("{x:.4}")),
                        j.pjf_plan,
                        j.pjf_model,
                        j.joint_failure,
                        j.wrong_assembled,
                        j.colluded_assembled,
                        j.unverified,
                        field(j.fail_reason.as_deref().unwrap_or(""))
                    )?;
                }
            }
            Ok(())
        },
    )?;
    csv(
        dir,
        "devices.csv",
        "variant,device,class,trusted,colluder,attempts,results,wrong,errors,crashes,lost,busy_s,online_s,earned",
        |w| {
            for r in &out.first {
                for d in &r.devices {
                    writeln!(
                        w,
                        "{},dev-{:07},{},{},{},{},{},{},{},{},{},{:.1},{:.1},{}",
                        field(&r.variant),
                        d.index + 1,
                        d.class,
                        d.trusted,
                        d.colluder,
                        d.attempts,
                        d.results,
                        d.wrong,
                        d.errors,
                        d.crashes,
                        d.lost,
                        d.busy_s,
                        d.online_s,
                        d.earned
                    )?;
                }
            }
            Ok(())
        },
    )?;
    csv(
        dir,
        "timeseries.csv",
        "variant,t_s,online,busy,running_attempts,open_tasks,jobs_running,load_q1,load_q2,load_q3,load_q4",
        |w| {
            for s in &saved.series {
                for x in &s.samples {
                    let l = x.load_by_rank_quarter;
                    writeln!(
                        w,
                        "{},{:.0},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4}",
                        field(&s.variant),
                        x.t_s,
                        x.online,
                        x.busy,
                        x.running_attempts,
                        x.open_tasks,
                        x.jobs_running,
                        l[0],
                        l[1],
                        l[2],
                        l[3]
                    )?;
                }
            }
            Ok(())
        },
    )?;
    render(dir)
}

/// Writes a sweep's files into `dir` (which must exist), then its plot and report.
pub fn write_sweep(dir: &Path, sweep: &Sweep) -> io::Result<()> {
    json(dir, "sweep.json", sweep)?;
    csv(dir, "sweep.csv", "parameter,value,variant,metric,mean,half_width_95,n", |w| {
        for (value, s) in sweep.values.iter().zip(&sweep.studies) {
            for v in &s.variants {
                for (m, ms) in METRICS.iter().zip(&v.metrics) {
                    if let Some(e) = &ms.estimate {
                        let half = e.half.map_or(String::new(), |h| format!("{h}"));
                        writeln!(
                            w,
                            "{},{},{},{},{},{half},{}",
                            field(&sweep.path),
                            field(value),
                            field(&v.name),
                            m.key,
                            e.mean,
                            e.n
                        )?;
                    }
                }
            }
        }
        Ok(())
    })?;
    render(dir)
}

fn plot_err(name: &str, e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("plot {name}: {e}"))
}

/// Rebuilds the plots and `report.html` in `dir` from its `summary.json` and
/// `runs.json` (a study) or its `sweep.json` (a sweep), and nothing else.
pub fn render(dir: &Path) -> io::Result<()> {
    let mut plots: Vec<(&str, String, String)> = Vec::new();
    let body = if dir.join("sweep.json").is_file() {
        let sweep: Sweep = read_json(dir, "sweep.json")?;
        let svg = crate::plots::sweep(&sweep).map_err(|e| plot_err("sweep.svg", e))?;
        plots.push(("sweep.svg", svg, format!("Each metric against {}", sweep.path)));
        crate::html::sweep_page(&sweep, &plots)
    } else {
        let study: Study = read_json(dir, "summary.json")?;
        let saved: Saved = read_json(dir, "runs.json")?;
        type Plot = fn(&Study, &Saved) -> Result<String, Box<dyn std::error::Error>>;
        let list: [(&str, Plot, &str); 10] = [
            ("means.svg", |s, _| crate::plots::means(s), "Means over replications with their 95% intervals"),
            ("paired.svg", |s, _| crate::plots::paired(s), "Paired differences from the baseline, with verdicts"),
            ("makespan-ecdf.svg", crate::plots::makespan_ecdf, "Makespan distribution per variant, OPT dashed"),
            ("ratio-ecdf.svg", crate::plots::ratio_ecdf, "Makespan over OPT per variant"),
            ("pjf.svg", |s, _| crate::plots::pjf(s), "Joint failures: observed, planned and modelled (log scale)"),
            (
                "calibration.svg",
                crate::plots::calibration,
                "Calibration: the plan's PJF against joint failures, binned",
            ),
            ("wrong.svg", crate::plots::wrong, "Wrong results assembled per variant"),
            ("lorenz.svg", crate::plots::lorenz, "Rewards across devices per variant"),
            ("queue.svg", |_, s| crate::plots::queue(s), "Open tasks over time, per variant"),
            ("load.svg", |_, s| crate::plots::load(s), "Load by ByteRank quarter over time, per variant"),
        ];
        for (name, f, caption) in list {
            plots.push((name, f(&study, &saved).map_err(|e| plot_err(name, e))?, caption.to_string()));
        }
        crate::html::study_page(&study, &plots)
    };
    for (name, svg, _) in &plots {
        std::fs::write(dir.join(name), svg)?;
    }
    std::fs::write(dir.join("report.html"), body)
}

/// The sweep table: each metric's mean ±half-width per value and variant.
pub fn sweep_table(sweep: &Sweep) -> String {
    let mut s = String::new();
    for (value, study) in sweep.values.iter().zip(&sweep.studies) {
        let _ = writeln!(s, "{} = {value}", sweep.path);
        s.push_str(&crate::tables::policy_table(study));
        s.push('\n');
    }
    s
}
