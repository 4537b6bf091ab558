//! The SVG plots of a study (plotters), each drawn from the saved files alone.
//!
//! Rules they follow: every aggregate carries its 95% interval and its `n`;
//! nothing is drawn where there is no data (the panel says so instead); legends sit
//! beside the data, never on it; probabilities that span decades are on a log
//! scale; time series are small multiples on one shared x axis with the job
//! arrivals marked.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::output::{Saved, SeriesRow, Sweep};
use crate::replications::{Study, METRICS};
use crate::stats::{MeanCi, Verdict};

type Area<'a> = DrawingArea<SVGBackend<'a>, Shift>;
type Res = Result<(), Box<dyn std::error::Error>>;
/// One value of a time-series sample.
type Value = fn(&SeriesRow) -> f64;

/// Colours, one per variant in run order.
pub const COLORS: [RGBColor; 10] = [
    RGBColor(31, 119, 180),
    RGBColor(255, 127, 14),
    RGBColor(44, 160, 44),
    RGBColor(214, 39, 40),
    RGBColor(148, 103, 189),
    RGBColor(140, 86, 75),
    RGBColor(227, 119, 194),
    RGBColor(127, 127, 127),
    RGBColor(188, 189, 34),
    RGBColor(23, 190, 207),
];

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&BLACK)
}

fn anchored(size: u32, h: HPos, v: VPos) -> TextStyle<'static> {
    font(size).pos(Pos::new(h, v))
}

/// A legend in its own area: one line per entry, a colour swatch and a name.
fn legend(area: &Area<'_>, entries: &[(String, RGBColor, bool)]) -> Res {
    for (i, (name, c, dashed)) in entries.iter().enumerate() {
        let y = 30 + 22 * i as i32;
        if *dashed {
            for k in 0..3 {
                area.draw(&PathElement::new(vec![(10 + 8 * k, y), (14 + 8 * k, y)], BLACK.stroke_width(2)))?;
            }
        } else {
            area.draw(&PathElement::new(vec![(10, y), (32, y)], c.stroke_width(3)))?;
        }
        area.draw(&Text::new(name.clone(), (40, y), anchored(13, HPos::Left, VPos::Center)))?;
    }
    Ok(())
}

/// A number for a log axis: `0.3`, `0.05`, `2e-4`.
fn short(x: f64) -> String {
    if x >= 0.01 {
        let s = format!("{x:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        format!("{x:.0e}")
    }
}

/// A backend point made relative to `area` (charts give backend points).
fn rel(area: &Area<'_>, (x, y): (i32, i32)) -> (i32, i32) {
    let (bx, by) = area.get_base_pixel();
    (x - bx, y - by)
}

/// Says "no data" in the middle of an area.
fn no_data(area: &Area<'_>, what: &str) -> Res {
    let (w, h) = area.dim_in_pixel();
    area.draw(&Text::new(what.to_string(), (w as i32 / 2, h as i32 / 2), anchored(14, HPos::Center, VPos::Center)))?;
    Ok(())
}

/// A panel of one value per variant (rows), as a dot with its interval whiskers
/// and `n`, with a zero line when `zero`; `None` rows say why they are empty.
fn dot_panel(
    area: &Area<'_>,
    title: &str,
    rows: &[(String, Option<MeanCi>, RGBColor)],
    zero: bool,
    empty: &str,
) -> Res {
    let drawn: Vec<&MeanCi> = rows.iter().filter_map(|r| r.1.as_ref()).collect();
    let mut lo = drawn.iter().map(|m| m.lo()).fold(f64::INFINITY, f64::min);
    let mut hi = drawn.iter().map(|m| m.hi()).fold(f64::NEG_INFINITY, f64::max);
    if zero || drawn.is_empty() {
        lo = lo.min(0.0);
        hi = hi.max(0.0);
    }
    if hi - lo < 1e-9 {
        (lo, hi) = (lo - 0.5_f64.max(lo.abs() * 0.1), hi + 0.5_f64.max(hi.abs() * 0.1));
    }
    let pad = (hi - lo) * 0.08;
    let n = rows.len().max(1);
    let mut chart = ChartBuilder::on(area)
        .caption(title, font(15))
        .margin(8)
        .x_label_area_size(28)
        .y_label_area_size(140)
        .build_cartesian_2d((lo - pad)..(hi + pad), -0.5..(n as f64 - 0.5))?;
    chart.configure_mesh().disable_y_mesh().y_labels(0).x_labels(5).x_label_style(font(11)).draw()?;
    if zero {
        chart.draw_series(LineSeries::new([(0.0, -0.5), (0.0, n as f64 - 0.5)], BLACK.stroke_width(1)))?;
    }
    for (i, (name, m, c)) in rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let (px, py) = rel(area, chart.backend_coord(&(lo - pad, y)));
        area.draw(&Text::new(name.clone(), (px - 6, py), anchored(12, HPos::Right, VPos::Center)))?;
        match m {
            Some(m) => {
                if m.half.is_some() {
                    chart.draw_series(LineSeries::new([(m.lo(), y), (m.hi(), y)], c.stroke_width(2)))?;
                    for x in [m.lo(), m.hi()] {
                        chart.draw_series(LineSeries::new([(x, y - 0.15), (x, y + 0.15)], c.stroke_width(2)))?;
                    }
                }
                chart.draw_series([Circle::new((m.mean, y), 4, c.filled())])?;
                let (qx, qy) = rel(area, chart.backend_coord(&(m.hi(), y)));
                area.draw(&Text::new(format!("n={}", m.n), (qx + 6, qy - 2), anchored(10, HPos::Left, VPos::Bottom)))?;
            }
            None => {
                let (qx, qy) = rel(area, chart.backend_coord(&((lo + hi) / 2.0, y)));
                area.draw(&Text::new(empty.to_string(), (qx, qy), anchored(11, HPos::Center, VPos::Center)))?;
            }
        }
    }
    Ok(())
}

/// The means of every metric with their intervals: one panel per metric.
pub fn means(study: &Study) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let cols = 3;
        let rows = METRICS.len().div_ceil(cols);
        let root =
            SVGBackend::with_string(&mut svg, (1200, 60 + rows as u32 * (60 + 26 * study.variants.len() as u32)))
                .into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(40);
        top.draw(&Text::new(
            "Means over replications with 95% intervals (n = replications with a value)".to_string(),
            (600, 20),
            anchored(17, HPos::Center, VPos::Center),
        ))?;
        for (k, area) in body.split_evenly((rows, cols)).iter().enumerate().take(METRICS.len()) {
            let m = &METRICS[k];
            let rows: Vec<_> = study
                .variants
                .iter()
                .enumerate()
                .map(|(i, v)| (v.name.clone(), v.metrics[k].estimate.clone(), color(i)))
                .collect();
            dot_panel(area, m.label, &rows, false, "no ended job")?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// The paired differences from the baseline: one panel per metric, coloured by
/// verdict.
pub fn paired(study: &Study) -> Result<String, Box<dyn std::error::Error>> {
    let others: Vec<_> = study.variants.iter().filter(|v| v.name != study.baseline).collect();
    let mut svg = String::new();
    {
        let cols = 3;
        let rows = METRICS.len().div_ceil(cols);
        let root = SVGBackend::with_string(&mut svg, (1200, 90 + rows as u32 * (60 + 26 * others.len().max(1) as u32)))
            .into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(70);
        top.draw(&Text::new(
            format!("Paired differences from {} (variant − baseline, by seed), 95% intervals", study.baseline),
            (600, 18),
            anchored(17, HPos::Center, VPos::Center),
        ))?;
        let key =
            [("better", COLORS[2]), ("worse", COLORS[3]), ("higher / lower", COLORS[4]), ("no difference", COLORS[7])];
        for (i, (name, c)) in key.iter().enumerate() {
            let x = 330 + 150 * i as i32;
            top.draw(&Circle::new((x, 48), 5, c.filled()))?;
            top.draw(&Text::new(name.to_string(), (x + 10, 48), anchored(13, HPos::Left, VPos::Center)))?;
        }
        if others.is_empty() {
            no_data(&body, "one variant only: nothing to compare")?;
        }
        for (k, area) in body.split_evenly((rows, cols)).iter().enumerate().take(METRICS.len()) {
            if others.is_empty() {
                break;
            }
            let rows: Vec<_> = others
                .iter()
                .map(|v| {
                    let p = v.metrics[k].paired.as_ref();
                    let c = match p.map(|p| p.verdict) {
                        Some(Verdict::Better) => COLORS[2],
                        Some(Verdict::Worse) => COLORS[3],
                        Some(Verdict::Higher | Verdict::Lower) => COLORS[4],
                        _ => COLORS[7],
                    };
                    (v.name.clone(), p.map(|p| p.diff.clone()), c)
                })
                .collect();
            dot_panel(area, METRICS[k].label, &rows, true, "no pair with a value")?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// An ECDF chart of one value per job, one line per variant, with a dashed line
/// for a reference (OPT) when given; the legend sits to the right.
fn ecdf(
    title: &str,
    x_desc: &str,
    lines: &[(String, Vec<f64>, RGBColor)],
    reference: Option<(String, Vec<f64>)>,
    log_x: bool,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 480)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, side) = root.split_horizontally(730);
        let all = lines.iter().flat_map(|l| &l.1).chain(reference.iter().flat_map(|r| &r.1));
        let (lo, hi) = all.fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        let mut entries: Vec<(String, RGBColor, bool)> = lines
            .iter()
            .map(|(n, v, c)| {
                (
                    if v.is_empty() { format!("{n}: no completed job") } else { format!("{n} (n={})", v.len()) },
                    *c,
                    false,
                )
            })
            .collect();
        if let Some((name, v)) = &reference {
            entries.push((format!("{name} (n={})", v.len()), BLACK, true));
        }
        if !lo.is_finite() {
            no_data(&plot, "no completed job in any variant")?;
        }
        let step = |v: &[f64]| {
            let mut s = v.to_vec();
            s.sort_by(f64::total_cmp);
            let n = s.len() as f64;
            let mut pts = Vec::with_capacity(2 * s.len() + 1);
            for (i, x) in s.iter().enumerate() {
                pts.push((*x, i as f64 / n));
                pts.push((*x, (i + 1) as f64 / n));
            }
            pts
        };
        if !lo.is_finite() {
        } else if log_x {
            let (lo, hi) = (lo.max(1e-3) / 1.1, hi.max(lo * 1.01) * 1.1);
            let mut chart = ChartBuilder::on(&plot)
                .caption(title, font(17))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d((lo..hi).log_scale(), 0.0..1.0)?;
            chart
                .configure_mesh()
                .x_label_formatter(&|x: &f64| short(*x))
                .x_desc(x_desc)
                .y_desc("share of jobs at or below")
                .draw()?;
            for (_, v, c) in lines {
                chart.draw_series(LineSeries::new(step(v), c.stroke_width(2)))?;
            }
            if let Some((_, v)) = &reference {
                chart.draw_series(DashedLineSeries::new(step(v), 6, 4, BLACK.stroke_width(2)))?;
            }
        } else {
            let pad = (hi - lo).max(1.0) * 0.05;
            let mut chart = ChartBuilder::on(&plot)
                .caption(title, font(17))
                .margin(12)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d((lo - pad).min(0.0)..hi + pad, 0.0..1.0)?;
            chart.configure_mesh().x_desc(x_desc).y_desc("share of jobs at or below").draw()?;
            for (_, v, c) in lines {
                chart.draw_series(LineSeries::new(step(v), c.stroke_width(2)))?;
            }
            if let Some((_, v)) = &reference {
                chart.draw_series(DashedLineSeries::new(step(v), 6, 4, BLACK.stroke_width(2)))?;
            }
        }
        legend(&side, &entries)?;
        root.present()?;
    }
    Ok(svg)
}

/// The makespan of every completed job of every replication as an ECDF per
/// variant, with the ECDF of the same jobs' OPT dashed.
pub fn makespan_ecdf(study: &Study, saved: &Saved) -> Result<String, Box<dyn std::error::Error>> {
    let lines: Vec<_> = study
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.clone(), saved.jobs_of(&v.name).filter_map(|j| j.makespan_s).collect(), color(i)))
        .collect();
    // OPT does not depend on the variant unless a variant changes the jobs: the
    // baseline's completed jobs stand for it.
    let opt: Vec<f64> =
        saved.jobs_of(&study.baseline).filter(|j| j.makespan_s.is_some()).filter_map(|j| j.opt_s).collect();
    ecdf(
        "Makespan of every completed job, every replication",
        "makespan, s",
        &lines,
        Some((format!("OPT of {}'s completed jobs", study.baseline), opt)),
        false,
    )
}

/// `makespan / OPT` of every completed job as an ECDF per variant (log x).
pub fn ratio_ecdf(study: &Study, saved: &Saved) -> Result<String, Box<dyn std::error::Error>> {
    let lines: Vec<_> = study
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| (v.name.clone(), saved.jobs_of(&v.name).filter_map(|j| j.ratio()).collect(), color(i)))
        .collect();
    ecdf("Makespan over OPT of every completed job (1 is optimal)", "makespan / OPT (log scale)", &lines, None, true)
}

/// Joint failures per variant on a log scale: observed share of ended jobs over
/// every replication (95% Wilson interval), the plan's and the model's mean.
pub fn pjf(study: &Study) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (1000, 140 + 34 * study.variants.len() as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, side) = root.split_horizontally(730);
        let mut values: Vec<f64> = Vec::new();
        for v in &study.variants {
            let o = &v.joint_failures;
            values.extend([o.hi, o.lo, o.rate].into_iter().filter(|x| *x > 0.0));
            values.extend(v.pjf_plan.iter().chain(&v.pjf_model).map(|m| m.mean).filter(|x| *x > 0.0));
        }
        let lo = values.iter().copied().fold(1.0, f64::min).max(1e-9) / 2.0;
        let n = study.variants.len();
        let mut chart = ChartBuilder::on(&plot)
            .caption("Jobs with a joint failure (log scale)", font(17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(140)
            .build_cartesian_2d((lo..1.0).log_scale(), -0.5..(n as f64 - 0.5))?;
        chart
            .configure_mesh()
            .disable_y_mesh()
            .y_labels(0)
            .x_label_formatter(&|x: &f64| short(*x))
            .x_desc("probability / share of jobs")
            .draw()?;
        for (i, v) in study.variants.iter().enumerate() {
            let y = (n - 1 - i) as f64;
            let (px, py) = rel(&plot, chart.backend_coord(&(lo, y)));
            plot.draw(&Text::new(v.name.clone(), (px - 6, py), anchored(12, HPos::Right, VPos::Center)))?;
            let o = &v.joint_failures;
            if o.jobs == 0 {
                let (qx, qy) = rel(&plot, chart.backend_coord(&(lo * 3.0, y)));
                plot.draw(&Text::new("no ended job".to_string(), (qx, qy), anchored(11, HPos::Left, VPos::Center)))?;
                continue;
            }
            let c = COLORS[0];
            chart.draw_series(LineSeries::new([(o.lo.max(lo), y + 0.15), (o.hi, y + 0.15)], c.stroke_width(2)))?;
            if o.rate > 0.0 {
                chart.draw_series([Circle::new((o.rate, y + 0.15), 5, c.filled())])?;
            }
            let (qx, qy) = rel(&plot, chart.backend_coord(&(o.hi, y + 0.15)));
            plot.draw(&Text::new(
                format!("{} of {} jobs", o.count, o.jobs),
                (qx + 6, qy),
                anchored(10, HPos::Left, VPos::Center),
            ))?;
            if let Some(p) = v.pjf_plan.as_ref().filter(|p| p.mean > 0.0) {
                chart.draw_series([TriangleMarker::new((p.mean, y - 0.15), 6, COLORS[3].filled())])?;
            }
            if let Some(p) = v.pjf_model.as_ref().filter(|p| p.mean > 0.0) {
                chart.draw_series([Cross::new((p.mean, y - 0.15), 6, COLORS[2].stroke_width(2))])?;
            }
        }
        legend(
            &side,
            &[
                ("observed share, 95% Wilson interval".into(), COLORS[0], false),
                ("(a share of 0 draws only its interval)".into(), WHITE, false),
                ("plan's PJF, mean (triangle)".into(), COLORS[3], false),
                ("model's PJF, mean (cross)".into(), COLORS[2], false),
            ],
        )?;
        root.present()?;
    }
    Ok(svg)
}

/// Edges of the calibration plot's bins of predicted PJF.
const CALIBRATION_EDGES: [f64; 7] = [0.0, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0];

/// One bin of the calibration plot: ended jobs whose plan's PJF fell in it.
#[derive(Clone, Debug, PartialEq)]
pub struct CalibrationBin {
    /// Mean of the plan's PJF over the bin's jobs.
    pub predicted: f64,
    /// Share of them with a joint failure, with its Wilson interval.
    pub observed: crate::report::Proportion,
}

/// Ended jobs binned by the plan's PJF (edges 0, 0.003, 0.01, 0.03, 0.1, 0.3, 1), empty bins
/// left out.
pub fn calibration_bins<'a>(jobs: impl IntoIterator<Item = &'a crate::replications::JobRecord>) -> Vec<CalibrationBin> {
    let n = CALIBRATION_EDGES.len() - 1;
    let mut acc = vec![(0.0f64, 0u64, 0u64); n];
    for j in jobs.into_iter().filter(|j| matches!(j.status.as_str(), "completed" | "failed")) {
        let b = CALIBRATION_EDGES[1..].iter().position(|&e| j.pjf_plan < e).unwrap_or(n - 1);
        acc[b].0 += j.pjf_plan;
        acc[b].1 += 1;
        acc[b].2 += u64::from(j.joint_failure);
    }
    acc.into_iter()
        .filter(|a| a.1 > 0)
        .map(|(sum, jobs, joint)| CalibrationBin {
            predicted: sum / jobs as f64,
            observed: crate::report::Proportion::wilson(joint, jobs),
        })
        .collect()
}

/// Calibration of the plan's PJF: ended jobs binned by it, the share of each bin
/// with a joint failure (95% Wilson interval, its `n`) against the bin's mean
/// prediction, one colour per variant, on log axes with the diagonal of a
/// perfect prediction.
pub fn calibration(study: &Study, saved: &Saved) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (1000, 560)).into_drawing_area();
        root.fill(&WHITE)?;
        let (plot, side) = root.split_horizontally(730);
        let bins: Vec<Vec<CalibrationBin>> =
            study.variants.iter().map(|v| calibration_bins(saved.jobs_of(&v.name))).collect();
        let lo = 1e-3;
        let mut chart = ChartBuilder::on(&plot)
            .caption("Calibration of the plan's PJF (log scales)", font(17))
            .margin(12)
            .x_label_area_size(40)
            .y_label_area_size(60)
            .build_cartesian_2d((lo / 2.0..1.0).log_scale(), (lo / 2.0..1.0).log_scale())?;
        chart
            .configure_mesh()
            .x_label_formatter(&|x: &f64| short(*x))
            .y_label_formatter(&|x: &f64| short(*x))
            .x_desc("plan's PJF, mean of the bin")
            .y_desc("share of the bin's jobs with a joint failure")
            .draw()?;
        chart.draw_series(LineSeries::new([(lo / 2.0, lo / 2.0), (1.0, 1.0)], BLACK.stroke_width(1)))?;
        if bins.iter().all(Vec::is_empty) {
            no_data(&plot, "no ended job in any variant")?;
        }
        for (i, vb) in bins.iter().enumerate() {
            let c = color(i);
            // Variants side by side within a bin, so their intervals do not overlap.
            let shift = 1.0 + 0.06 * (i as f64 - (bins.len() as f64 - 1.0) / 2.0);
            for b in vb {
                let x = (b.predicted * shift).max(lo / 2.0);
                let o = &b.observed;
                chart.draw_series(LineSeries::new([(x, o.lo.max(lo / 2.0)), (x, o.hi)], c.stroke_width(2)))?;
                if o.rate > 0.0 {
                    chart.draw_series([Circle::new((x, o.rate), 4, c.filled())])?;
                }
                let (qx, qy) = rel(&plot, chart.backend_coord(&(x, o.hi)));
                plot.draw(&Text::new(
                    format!("{}/{}", o.count, o.jobs),
                    (qx, qy - 4),
                    anchored(9, HPos::Center, VPos::Bottom),
                ))?;
            }
        }
        let mut entries: Vec<(String, RGBColor, bool)> =
            study.variants.iter().enumerate().map(|(i, v)| (v.name.clone(), color(i), false)).collect();
        entries.push(("diagonal: observed = predicted".into(), BLACK, false));
        entries.push(("bars: 95% Wilson interval; k/n jobs".into(), WHITE, false));
        entries.push(("(a share of 0 draws only its interval)".into(), WHITE, false));
        legend(&side, &entries)?;
        root.present()?;
    }
    Ok(svg)
}

/// The Lorenz curve of the rewards per variant (mean over replications), one
/// small panel each, with the diagonal of equal pay.
pub fn lorenz(study: &Study, saved: &Saved) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let cols = 4.min(study.variants.len()).max(1);
        let rows = study.variants.len().div_ceil(cols);
        let root = SVGBackend::with_string(&mut svg, (1200, 50 + 280 * rows as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(40);
        top.draw(&Text::new(
            "Rewards across devices: Lorenz curve per variant, mean over replications (diagonal: equal pay)"
                .to_string(),
            (600, 20),
            anchored(16, HPos::Center, VPos::Center),
        ))?;
        for ((i, v), area) in study.variants.iter().enumerate().zip(body.split_evenly((rows, cols)).iter()) {
            let curves: Vec<&Vec<(f64, f64)>> =
                saved.records.iter().filter(|r| r.variant == v.name).map(|r| &r.lorenz).collect();
            let gini = v.metrics.iter().find(|m| m.key == "rewards_gini").and_then(|m| m.estimate.clone());
            let title = match &gini {
                Some(g) => format!(
                    "{} (gini {:.2}{}, n={})",
                    v.name,
                    g.mean,
                    g.half.map_or(String::new(), |h| format!(" ±{h:.2}")),
                    g.n
                ),
                None => v.name.clone(),
            };
            let mut chart = ChartBuilder::on(area)
                .caption(title, font(13))
                .margin(8)
                .x_label_area_size(40)
                .y_label_area_size(50)
                .build_cartesian_2d(0.0..1.0, 0.0..1.0)?;
            chart
                .configure_mesh()
                .x_labels(3)
                .y_labels(3)
                .x_desc("share of devices, poorest first")
                .y_desc("share of rewards")
                .draw()?;
            chart.draw_series(LineSeries::new([(0.0, 0.0), (1.0, 1.0)], BLACK.mix(0.4)))?;
            if curves.is_empty() || curves[0].is_empty() {
                no_data(area, "no run")?;
                continue;
            }
            let k = curves[0].len();
            let mean: Vec<(f64, f64)> = (0..k)
                .map(|p| {
                    let x = curves[0][p].0;
                    (x, curves.iter().map(|c| c.get(p).map_or(0.0, |q| q.1)).sum::<f64>() / curves.len() as f64)
                })
                .collect();
            chart.draw_series(LineSeries::new(mean, color(i).stroke_width(2)))?;
        }
        root.present()?;
    }
    Ok(svg)
}

/// A time series of the first replication as small multiples, one panel per
/// variant on one shared x axis, job arrivals as grey lines.
fn small_multiples(
    title: &str,
    y_desc: &str,
    saved: &Saved,
    lines: &[(&str, Value)],
    log_y: bool,
) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let n = saved.series.len().max(1);
        let root = SVGBackend::with_string(&mut svg, (1000, 60 + 150 * n as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, rest) = root.split_vertically(40);
        let (body, side) = rest.split_horizontally(800);
        top.draw(&Text::new(title.to_string(), (500, 20), anchored(16, HPos::Center, VPos::Center)))?;
        let t_max = saved.series.iter().flat_map(|s| s.samples.last()).map(|s| s.t_s).fold(1.0, f64::max);
        let y_max = saved
            .series
            .iter()
            .flat_map(|s| &s.samples)
            .flat_map(|s| lines.iter().map(move |l| (l.1)(s)))
            .fold(if log_y { 10.0 } else { 1.0 }, f64::max)
            * 1.1;
        let panels = body.split_evenly((n, 1));
        for (k, (s, area)) in saved.series.iter().zip(panels.iter()).enumerate() {
            let last = k + 1 == saved.series.len();
            let arrivals: Vec<f64> = saved
                .records
                .iter()
                .filter(|r| r.replication == 0 && r.variant == s.variant)
                .flat_map(|r| r.jobs.iter().map(|j| j.submit_s))
                .filter(|t| *t <= t_max)
                .collect();
            let mut b = ChartBuilder::on(area);
            b.margin_left(8)
                .margin_right(8)
                .margin_top(4)
                .x_label_area_size(if last { 36 } else { 4 })
                .y_label_area_size(60);
            let draw_arrivals = |lo: f64, hi: f64| {
                arrivals.iter().map(move |&t| PathElement::new(vec![(t, lo), (t, hi)], BLACK.mix(0.35)))
            };
            if log_y {
                let mut chart = b.build_cartesian_2d(0.0..t_max, (1.0..y_max).log_scale())?;
                let mut mesh = chart.configure_mesh();
                mesh.y_desc(y_desc).y_labels(4).y_label_formatter(&|y: &f64| format!("{y:.0}"));
                if last {
                    mesh.x_desc("simulated time, s");
                } else {
                    mesh.x_labels(0);
                }
                mesh.draw()?;
                chart.draw_series(draw_arrivals(1.0, y_max))?;
                for (i, (_, f)) in lines.iter().enumerate() {
                    // Zero has no place on a log axis: it is drawn on the floor (1).
                    chart.draw_series(LineSeries::new(
                        s.samples.iter().map(|x| (x.t_s, f(x).max(1.0))),
                        color(i).stroke_width(2),
                    ))?;
                }
            } else {
                let mut chart = b.build_cartesian_2d(0.0..t_max, 0.0..y_max)?;
                let mut mesh = chart.configure_mesh();
                mesh.y_desc(y_desc).y_labels(4);
                if last {
                    mesh.x_desc("simulated time, s");
                } else {
                    mesh.x_labels(0);
                }
                mesh.draw()?;
                chart.draw_series(draw_arrivals(0.0, y_max))?;
                for (i, (_, f)) in lines.iter().enumerate() {
                    chart.draw_series(LineSeries::new(
                        s.samples.iter().map(|x| (x.t_s, f(x))),
                        color(i).stroke_width(2),
                    ))?;
                }
            }
            let (_, h) = area.dim_in_pixel();
            area.draw(&Text::new(s.variant.clone(), (72, 8), anchored(13, HPos::Left, VPos::Top)))?;
            let _ = h;
        }
        let mut entries: Vec<(String, RGBColor, bool)> =
            lines.iter().enumerate().map(|(i, (name, _))| (name.to_string(), color(i), false)).collect();
        entries.push(("job arrival".into(), RGBColor(160, 160, 160), false));
        legend(&side, &entries)?;
        root.present()?;
    }
    Ok(svg)
}

/// Open tasks over time (log y, so the tails that set makespans show).
pub fn queue(saved: &Saved) -> Result<String, Box<dyn std::error::Error>> {
    small_multiples(
        "Tasks of running jobs without a result, first replication (log scale; 0 drawn at 1)",
        "open tasks",
        saved,
        &[("open tasks", |s| s.open_tasks as f64)],
        true,
    )
}

/// The busy share of each quarter of the ByteRank order over time.
pub fn load(saved: &Saved) -> Result<String, Box<dyn std::error::Error>> {
    small_multiples(
        "Share of devices working by quarter of the ByteRank order, first replication",
        "busy share",
        saved,
        &[
            ("best quarter", |s| s.load_by_rank_quarter[0]),
            ("second quarter", |s| s.load_by_rank_quarter[1]),
            ("third quarter", |s| s.load_by_rank_quarter[2]),
            ("worst quarter", |s| s.load_by_rank_quarter[3]),
        ],
        false,
    )
}

/// A sweep: each metric against the swept value, one line per variant with its
/// 95% band.
pub fn sweep(sw: &Sweep) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let cols = 3;
        let rows = METRICS.len().div_ceil(cols);
        let root = SVGBackend::with_string(&mut svg, (1250, 60 + 260 * rows as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, rest) = root.split_vertically(40);
        let (body, side) = rest.split_horizontally(1030);
        top.draw(&Text::new(
            format!("Each metric against {} (means over replications, 95% bands)", sw.path),
            (620, 20),
            anchored(16, HPos::Center, VPos::Center),
        ))?;
        let numeric: Option<Vec<f64>> = sw.values.iter().map(|v| v.parse::<f64>().ok()).collect();
        let xs: Vec<f64> = numeric.clone().unwrap_or_else(|| (0..sw.values.len()).map(|i| i as f64).collect());
        let (x_lo, x_hi) = xs.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| (a.min(x), b.max(x)));
        let x_pad = ((x_hi - x_lo) * 0.05).max(0.5);
        let names: Vec<String> =
            sw.studies.first().map_or(Vec::new(), |s| s.variants.iter().map(|v| v.name.clone()).collect());
        for (k, area) in body.split_evenly((rows, cols)).iter().enumerate().take(METRICS.len()) {
            let points = |vi: usize| -> Vec<(f64, MeanCi)> {
                sw.studies
                    .iter()
                    .zip(&xs)
                    .filter_map(|(s, &x)| Some((x, s.variants.get(vi)?.metrics[k].estimate.clone()?)))
                    .collect()
            };
            let all: Vec<(f64, MeanCi)> = (0..names.len()).flat_map(points).collect();
            if all.is_empty() {
                no_data(area, &format!("{}: no value", METRICS[k].label))?;
                continue;
            }
            let lo = all.iter().map(|p| p.1.lo()).fold(f64::INFINITY, f64::min);
            let hi = all.iter().map(|p| p.1.hi()).fold(f64::NEG_INFINITY, f64::max);
            let pad = if hi - lo < 1e-9 { 0.5_f64.max(hi.abs() * 0.1) } else { (hi - lo) * 0.08 };
            let mut chart = ChartBuilder::on(area)
                .caption(METRICS[k].label, font(14))
                .margin(8)
                .x_label_area_size(30)
                .y_label_area_size(55)
                .build_cartesian_2d((x_lo - x_pad)..(x_hi + x_pad), (lo - pad)..(hi + pad))?;
            let labels = sw.values.clone();
            let is_numeric = numeric.is_some();
            chart
                .configure_mesh()
                .x_labels(if is_numeric { 6 } else { labels.len() })
                .x_label_formatter(&|x: &f64| {
                    if is_numeric {
                        format!("{x}")
                    } else {
                        labels
                            .get(x.round() as usize)
                            .filter(|_| (x - x.round()).abs() < 1e-6)
                            .cloned()
                            .unwrap_or_default()
                    }
                })
                .draw()?;
            for vi in 0..names.len() {
                let p = points(vi);
                let c = color(vi);
                let band: Vec<(f64, f64)> =
                    p.iter().map(|(x, m)| (*x, m.hi())).chain(p.iter().rev().map(|(x, m)| (*x, m.lo()))).collect();
                if p.len() > 1 {
                    chart.draw_series([Polygon::new(band, c.mix(0.15).filled())])?;
                }
                chart.draw_series(LineSeries::new(p.iter().map(|(x, m)| (*x, m.mean)), c.stroke_width(2)))?;
                chart.draw_series(p.iter().map(|(x, m)| Circle::new((*x, m.mean), 3, c.filled())))?;
            }
        }
        let mut entries: Vec<(String, RGBColor, bool)> =
            names.iter().enumerate().map(|(i, n)| (n.clone(), color(i), false)).collect();
        let reps = sw.studies.first().map_or(0, |s| s.replications);
        entries.push((format!("n = {reps} replications per point"), WHITE, false));
        legend(&side, &entries)?;
        root.present()?;
    }
    Ok(svg)
}

/// Wrong results assembled per variant: every wrong result, and the colluders'
/// among them, as means per replication with 95% intervals.
pub fn wrong(study: &Study, saved: &Saved) -> Result<String, Box<dyn std::error::Error>> {
    let mut svg = String::new();
    {
        let root =
            SVGBackend::with_string(&mut svg, (1200, 120 + 26 * study.variants.len() as u32)).into_drawing_area();
        root.fill(&WHITE)?;
        let (top, body) = root.split_vertically(40);
        top.draw(&Text::new(
            "Wrong results in assembled outputs, per replication: means with 95% intervals".to_string(),
            (600, 20),
            anchored(16, HPos::Center, VPos::Center),
        ))?;
        let panels = body.split_evenly((1, 2));
        type Pick = fn(&crate::report::VariantSummary) -> u64;
        let picks: [(&str, Pick); 2] = [
            ("every wrong result", |s| s.wrong_results_assembled),
            ("colluders' wrong results", |s| s.colluded_results_assembled),
        ];
        for ((title, pick), area) in picks.iter().zip(panels.iter()) {
            let rows: Vec<_> = study
                .variants
                .iter()
                .enumerate()
                .map(|(i, v)| {
                    let values: Vec<f64> =
                        saved.records.iter().filter(|r| r.variant == v.name).map(|r| pick(&r.summary) as f64).collect();
                    (v.name.clone(), MeanCi::of(&values), color(i))
                })
                .collect();
            dot_panel(area, title, &rows, false, "no run")?;
        }
        root.present()?;
    }
    Ok(svg)
}
