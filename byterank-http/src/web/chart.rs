//! The usage chart: ByteChips spent per day, as an inline SVG drawn on the
//! server (no script, no inline style: the bars are styled by class).

use maud::{html, Markup};

use super::pages::count;
use crate::listing::{civil_day, Usage};

/// Bars of ByteChips spent on each of the `days` days up to `today` (days since
/// the epoch), all applications together.
pub fn daily(usage: &Usage, today: i64, days: i64) -> Markup {
    let spent: Vec<(String, u64)> = (today - days + 1..=today)
        .map(|d| {
            let day = civil_day(d);
            let total = usage.lines.iter().filter(|l| l.day == day).map(|l| l.spent).sum();
            (day, total)
        })
        .collect();
    let max = spent.iter().map(|(_, s)| *s).max().unwrap_or(0).max(1);
    let (w, h) = (10.0_f64, 100.0_f64);
    let width = w * spent.len() as f64;
    html! {
        figure.chart {
            svg viewBox={ "0 0 " (width) " " (h + 12.0) } role="img" aria-labelledby="chart-title" preserveAspectRatio="none" {
                title #chart-title { "ByteChips spent per day, the last " (days) " days; the highest day is " (count(max)) }
                @for (i, (day, s)) in spent.iter().enumerate() {
                    @let bh = if *s == 0 { 0.0 } else { (h * *s as f64 / max as f64).max(1.0) };
                    rect.bar x=(i as f64 * w + 1.0) y=(h - bh) width=(w - 2.0) height=(bh) {
                        title { (day) ": " (count(*s)) " ByteChips" }
                    }
                }
                line.axis x1="0" y1=(h) x2=(width) y2=(h) {}
                text.label x="0" y=(h + 10.0) { (spent.first().map_or("", |d| d.0.as_str())) }
                text.label x=(width) y=(h + 10.0) text-anchor="end" { (spent.last().map_or("", |d| d.0.as_str())) }
            }
            figcaption { "ByteChips spent per day (UTC); the highest bar is " (count(max)) "." }
        }
    }
}
