//! What a run leaves behind: `summary.json`, `jobs.csv`, `devices.csv`,
//! `timeseries.csv`, SVG plots (plotters) and `report.html`, and the policy table.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::path::Path;

use plotters::prelude::*;
use serde::Serialize;

use crate::sim::{JobStatus, RunOut};

/// Mean and quantiles of a set of values.
#[derive(Clone, Debug, PartialEq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize)]
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
#[derive(Clone, Debug, PartialEq, Serialize)]
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
        wrong_results_assembled: done.iter().map(|j| u64::from(j.wrong_assembled)).sum(),
        colluded_results_assembled: done.iter().map(|j| u64::from(j.colluded_assembled)).sum(),
        colluded_over_honest: done.iter().map(|j| u64::from(j.colluded_over_honest)).sum(),
        misassembled: done.iter().map(|j| u64::from(j.misassembled)).sum(),
        tasks_unverified: done.iter().map(|j| u64::from(j.unverified)).sum(),
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

/// The policy table printed at the end of a run.
pub fn table(summary: &Summary) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{:<18} {:>5} {:>5} {:>10} {:>10} {:>9} {:>7} {:>8} {:>21} {:>6} {:>5} {:>5}",
        "variant",
        "done",
        "fail",
        "mean s",
        "p95 s",
        "bound s",
        "copies",
        "pjf plan",
        "pjf observed [95%]",
        "wrong",
        "gini",
        "util"
    );
    let f = |x: Option<&Stats>, g: fn(&Stats) -> f64| x.map_or("-".to_string(), |x| format!("{:.0}", g(x)));
    for v in &summary.variants {
        let o = &v.pjf_observed;
        let _ = writeln!(
            s,
            "{:<18} {:>5} {:>5} {:>10} {:>10} {:>9} {:>7.2} {:>8.4} {:>21} {:>6} {:>5.2} {:>5.2}",
            v.name,
            v.jobs_completed,
            v.jobs_failed + v.jobs_rejected,
            f(v.makespan_s.as_ref(), |x| x.mean),
            f(v.makespan_s.as_ref(), |x| x.p95),
            f(v.makespan_lower_bound_s.as_ref(), |x| x.mean),
            v.copies_run_per_task,
            v.pjf_predicted,
            format!("{:.3} [{:.3}, {:.3}]", o.rate, o.lo, o.hi),
            v.wrong_results_assembled,
            v.rewards_gini,
            v.utilization
        );
    }
    s
}

fn csv_file(
    dir: &Path,
    name: &str,
    header: &str,
    rows: impl FnMut(&mut dyn Write) -> io::Result<()>,
) -> io::Result<()> {
    let mut rows = rows;
    let mut w = io::BufWriter::new(std::fs::File::create(dir.join(name))?);
    writeln!(w, "{header}")?;
    rows(&mut w)?;
    w.flush()
}

fn slug(name: &str) -> String {
    name.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '_' { c } else { '_' }).collect()
}

fn plot_err(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(format!("plot: {e}"))
}

const COLORS: [RGBColor; 8] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
];

/// Writes every output file into `dir` (which must exist).
pub fn write_all(dir: &Path, summary: &Summary, runs: &[RunOut]) -> io::Result<()> {
    std::fs::write(dir.join("summary.json"), serde_json::to_string_pretty(summary).map_err(io::Error::other)? + "\n")?;
    csv_file(
        dir,
        "jobs.csv",
        "variant,job,kind,status,tasks,copies,attempts,validated,submit_s,end_s,makespan_s,lower_bound_s,pjf_plan,achievable,pjf_model,joint_failure,wrong_assembled,colluded_assembled,unverified",
        |w| {
            for r in runs {
                for j in &r.jobs {
                    let opt = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.3}"));
                    writeln!(
                        w,
                        "{},{},{},{},{},{},{},{},{:.3},{},{},{:.3},{:.6},{},{:.6},{},{},{},{}",
                        r.variant,
                        j.id,
                        j.kind,
                        serde_json::to_value(j.status).map_err(io::Error::other)?.as_str().unwrap_or(""),
                        j.tasks,
                        j.copies,
                        j.attempts,
                        j.validated,
                        j.submit_s,
                        opt(j.end_s),
                        opt(j.makespan_s()),
                        j.lower_bound_s,
                        j.pjf_plan,
                        j.achievable,
                        j.pjf_model,
                        j.joint_failure,
                        j.wrong_assembled,
                        j.colluded_assembled,
                        j.unverified
                    )?;
                }
            }
            Ok(())
        },
    )?;
    csv_file(
        dir,
        "devices.csv",
        "variant,device,class,trusted,colluder,attempts,results,wrong,errors,crashes,lost,busy_s,online_s,earned",
        |w| {
            for r in runs {
                for d in &r.devices {
                    writeln!(
                        w,
                        "{},dev-{:07},{},{},{},{},{},{},{},{},{},{:.1},{:.1},{}",
                        r.variant,
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
    csv_file(
        dir,
        "timeseries.csv",
        "variant,t_s,online,busy,running_attempts,open_tasks,jobs_running,load_q1,load_q2,load_q3,load_q4",
        |w| {
            for r in runs {
                for s in &r.series {
                    let l = s.load_by_rank_quarter;
                    writeln!(
                        w,
                        "{},{:.0},{},{},{},{},{},{:.4},{:.4},{:.4},{:.4}",
                        r.variant,
                        s.t_s,
                        s.online,
                        s.busy,
                        s.running_attempts,
                        s.open_tasks,
                        s.jobs_running,
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
    let mut plots = vec![
        ("makespan.svg", "Makespan by variant: mean and p95 of completed jobs, and the clairvoyant lower bound"),
        ("pjf.svg", "Probability of joint failure: observed (95% Wilson interval) against the plan's and the model's"),
        ("lorenz.svg", "Rewards across devices: Lorenz curves (the diagonal is equal pay)"),
        ("queue.svg", "Queue depth: tasks of running jobs without a result, over time"),
    ];
    plot_makespan(&dir.join("makespan.svg"), summary).map_err(plot_err)?;
    plot_pjf(&dir.join("pjf.svg"), summary).map_err(plot_err)?;
    plot_lorenz(&dir.join("lorenz.svg"), runs).map_err(plot_err)?;
    plot_queue(&dir.join("queue.svg"), runs).map_err(plot_err)?;
    let mut load_files = Vec::new();
    for r in runs {
        let name = format!("load-{}.svg", slug(&r.variant));
        plot_load(&dir.join(&name), r).map_err(plot_err)?;
        load_files.push((name, r.variant.clone()));
    }
    let mut html = String::new();
    let _ = write!(
        html,
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>ByteRank simulation: {0}</title>\n<style>body{{font-family:sans-serif;max-width:1100px;margin:2em auto}}pre{{background:#f4f4f4;padding:1em;overflow-x:auto}}img{{max-width:100%}}</style></head><body>\n<h1>ByteRank simulation: {0}</h1>\n<p>Seed {1}, {2} devices, {3} events, {4:.1} s wall, {5:.0} MB peak memory.</p>\n<h2>Policy table</h2>\n<pre>{6}</pre>\n",
        html_escape(&summary.scenario),
        summary.seed,
        summary.devices,
        summary.events,
        summary.wall_s,
        summary.peak_rss_mb,
        html_escape(&table(summary))
    );
    for (file, caption) in plots.drain(..) {
        let _ = writeln!(html, "<h2>{caption}</h2>\n<img src=\"{file}\" alt=\"{caption}\">");
    }
    for (file, variant) in &load_files {
        let _ = writeln!(
            html,
            "<h2>Load by ByteRank quarter over time: {0}</h2>\n<img src=\"{1}\" alt=\"load of {0}\">",
            html_escape(variant),
            file
        );
    }
    html.push_str("</body></html>\n");
    std::fs::write(dir.join("report.html"), html)
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

type PlotResult = Result<(), Box<dyn std::error::Error>>;

fn plot_makespan(path: &Path, summary: &Summary) -> PlotResult {
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = summary.variants.len();
    let top = summary.variants.iter().filter_map(|v| v.makespan_s.as_ref().map(|m| m.p95)).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Makespan by variant (s)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..n as f64, 0.0..top)?;
    chart.configure_mesh().disable_x_mesh().x_labels(0).y_desc("seconds").draw()?;
    for (i, v) in summary.variants.iter().enumerate() {
        let x = i as f64;
        if let Some(m) = &v.makespan_s {
            chart.draw_series([Rectangle::new([(x + 0.15, 0.0), (x + 0.45, m.mean)], COLORS[0].filled())])?;
            chart.draw_series([Rectangle::new([(x + 0.5, 0.0), (x + 0.8, m.p95)], COLORS[1].filled())])?;
        }
        if let Some(b) = &v.makespan_lower_bound_s {
            chart.draw_series(LineSeries::new([(x + 0.1, b.mean), (x + 0.9, b.mean)], BLACK.stroke_width(3)))?;
        }
    }
    chart
        .draw_series([Rectangle::new([(0.0, 0.0), (0.0, 0.0)], COLORS[0].filled())])?
        .label("mean")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], COLORS[0].filled()));
    chart
        .draw_series([Rectangle::new([(0.0, 0.0), (0.0, 0.0)], COLORS[1].filled())])?
        .label("p95")
        .legend(|(x, y)| Rectangle::new([(x, y - 5), (x + 10, y + 5)], COLORS[1].filled()));
    chart
        .draw_series(LineSeries::new(std::iter::empty::<(f64, f64)>(), BLACK.stroke_width(3)))?
        .label("clairvoyant bound (mean)")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], BLACK.stroke_width(3)));
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    variant_labels(&root, &chart, summary)?;
    root.present()?;
    Ok(())
}

/// Each variant's name under its group of marks (the axis labels of plotters pick
/// their own positions).
fn variant_labels<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    chart: &ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    summary: &Summary,
) -> PlotResult
where
    DB::ErrorType: 'static,
{
    let style = ("sans-serif", 13).into_font().color(&BLACK).pos(plotters::style::text_anchor::Pos::new(
        plotters::style::text_anchor::HPos::Center,
        plotters::style::text_anchor::VPos::Top,
    ));
    for (i, v) in summary.variants.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64 + 0.5, 0.0));
        root.draw(&Text::new(v.name.clone(), (x, y + 8), style.clone()))?;
    }
    Ok(())
}

fn plot_pjf(path: &Path, summary: &Summary) -> PlotResult {
    let root = SVGBackend::new(path, (900, 480)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = summary.variants.len();
    let top =
        summary.variants.iter().map(|v| v.pjf_observed.hi.max(v.pjf_predicted).max(v.pjf_model)).fold(0.01, f64::max)
            * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Jobs with a joint failure: observed vs predicted", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..n as f64, 0.0..top.min(1.0))?;
    chart.configure_mesh().disable_x_mesh().x_labels(0).y_desc("share of jobs").draw()?;
    for (i, v) in summary.variants.iter().enumerate() {
        let x = i as f64 + 0.4;
        let o = &v.pjf_observed;
        chart.draw_series(LineSeries::new([(x, o.lo), (x, o.hi)], COLORS[0].stroke_width(2)))?;
        chart.draw_series([Circle::new((x, o.rate), 5, COLORS[0].filled())])?;
        chart.draw_series([TriangleMarker::new((x + 0.15, v.pjf_predicted), 6, COLORS[3].filled())])?;
        chart.draw_series([Cross::new((x + 0.3, v.pjf_model), 6, COLORS[2].stroke_width(2))])?;
    }
    chart
        .draw_series(std::iter::empty::<Circle<(f64, f64), i32>>())?
        .label("observed, 95% Wilson interval")
        .legend(|(x, y)| Circle::new((x + 5, y), 5, COLORS[0].filled()));
    chart
        .draw_series(std::iter::empty::<TriangleMarker<(f64, f64), i32>>())?
        .label("plan's PJF (mean)")
        .legend(|(x, y)| TriangleMarker::new((x + 5, y), 6, COLORS[3].filled()));
    chart
        .draw_series(std::iter::empty::<Cross<(f64, f64), i32>>())?
        .label("model's PJF (true rates, mean)")
        .legend(|(x, y)| Cross::new((x + 5, y), 6, COLORS[2].stroke_width(2)));
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    variant_labels(&root, &chart, summary)?;
    root.present()?;
    Ok(())
}

fn plot_lorenz(path: &Path, runs: &[RunOut]) -> PlotResult {
    let root = SVGBackend::new(path, (600, 600)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption("Rewards across devices (Lorenz curve)", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
    chart.configure_mesh().x_desc("share of devices, poorest first").y_desc("share of rewards").draw()?;
    chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.4)))?;
    for (i, r) in runs.iter().enumerate() {
        let earned: Vec<u64> = r.devices.iter().map(|d| d.earned).collect();
        let c = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(lorenz(&earned, 200), c.stroke_width(2)))?
            .label(format!("{} (gini {:.2})", r.variant, gini(&earned)))
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], c.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()?;
    root.present()?;
    Ok(())
}

fn plot_queue(path: &Path, runs: &[RunOut]) -> PlotResult {
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let t_max = runs.iter().flat_map(|r| r.series.last()).map(|s| s.t_s).fold(1.0, f64::max);
    let y_max = runs.iter().flat_map(|r| r.series.iter()).map(|s| s.open_tasks as f64).fold(1.0, f64::max) * 1.1;
    let mut chart = ChartBuilder::on(&root)
        .caption("Tasks waiting for a result", ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..t_max, 0.0..y_max)?;
    chart.configure_mesh().x_desc("simulated time, s").y_desc("open tasks").draw()?;
    for (i, r) in runs.iter().enumerate() {
        let c = COLORS[i % COLORS.len()];
        chart
            .draw_series(LineSeries::new(r.series.iter().map(|s| (s.t_s, s.open_tasks as f64)), c.stroke_width(2)))?
            .label(r.variant.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], c.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
}

fn plot_load(path: &Path, run: &RunOut) -> PlotResult {
    let root = SVGBackend::new(path, (900, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let t_max = run.series.last().map_or(1.0, |s| s.t_s.max(1.0));
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("Share of devices working, by ByteRank quarter: {}", run.variant), ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(50)
        .build_cartesian_2d(0.0..t_max, 0.0..1.0)?;
    chart.configure_mesh().x_desc("simulated time, s").y_desc("busy share").draw()?;
    for q in 0..4 {
        let c = COLORS[q];
        chart
            .draw_series(LineSeries::new(
                run.series.iter().map(|s| (s.t_s, s.load_by_rank_quarter[q])),
                c.stroke_width(2),
            ))?
            .label(["best quarter", "second quarter", "third quarter", "worst quarter"][q])
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 15, y)], c.stroke_width(2)));
    }
    chart.configure_series_labels().background_style(WHITE.mix(0.8)).border_style(BLACK).draw()?;
    root.present()?;
    Ok(())
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
