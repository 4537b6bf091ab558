//! `report.html`: the scenario's description, what each variant changes, the
//! tables with a legend of every column, and every plot inline.

use std::fmt::Write as _;

use crate::output::Sweep;
use crate::replications::Study;
use crate::tables;

/// Escapes text for HTML.
pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

const STYLE: &str = "body{font-family:sans-serif;max-width:1250px;margin:2em auto;padding:0 1em}\
pre{background:#f4f4f4;padding:1em;overflow-x:auto}table{border-collapse:collapse}\
td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}\
figure{margin:2em 0}svg{max-width:100%;height:auto}";

fn head(title: &str) -> String {
    format!(
        "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>{0}</title>\n<style>{STYLE}</style></head><body>\n<h1>{0}</h1>\n",
        escape(title)
    )
}

fn svg_inline(svg: &str) -> &str {
    svg.find("<svg").map_or(svg, |i| &svg[i..])
}

fn figures(html: &mut String, plots: &[(&str, String, String)]) {
    for (name, svg, caption) in plots {
        let _ = writeln!(
            html,
            "<figure id=\"{name}\">\n<figcaption><h3>{}</h3> (<a href=\"{name}\">{name}</a>)</figcaption>\n{}\n</figure>",
            escape(caption),
            svg_inline(svg)
        );
    }
}

fn changes(html: &mut String, study: &Study) {
    html.push_str(
        "<h2>What each variant changes</h2>\n<table><tr><th>variant</th><th>changes from the scenario</th></tr>\n",
    );
    for v in &study.variants {
        let what = if v.changes.is_empty() {
            "nothing: the scenario as written".to_string()
        } else {
            v.changes.iter().map(|c| format!("<code>{}</code>", escape(c))).collect::<Vec<_>>().join("<br>")
        };
        let base = if v.name == study.baseline { " (baseline)" } else { "" };
        let _ = writeln!(html, "<tr><td>{}{base}</td><td>{what}</td></tr>", escape(&v.name));
    }
    html.push_str("</table>\n");
}

fn legend(html: &mut String) {
    html.push_str("<h2>Legend of the columns</h2>\n<table><tr><th>column</th><th>meaning</th></tr>\n");
    for (col, meaning) in tables::legend() {
        let _ = writeln!(html, "<tr><td><code>{}</code></td><td>{}</td></tr>", escape(col), escape(&meaning));
    }
    html.push_str("</table>\n");
}

fn about(html: &mut String, study: &Study) {
    let description = if study.description.is_empty() { "(no description)" } else { &study.description };
    let _ = writeln!(html, "<p>{}</p>", escape(description));
    let _ = writeln!(
        html,
        "<p>{} replication{} on seeds {}..={}, {} devices; every variant runs on every seed (common random numbers). Baseline: <b>{}</b>.{}</p>",
        study.replications,
        if study.replications == 1 { "" } else { "s" },
        study.seeds.first().copied().unwrap_or(0),
        study.seeds.last().copied().unwrap_or(0),
        study.devices,
        escape(&study.baseline),
        if study.overrides.is_empty() {
            String::new()
        } else {
            format!(" Overrides: <code>{}</code>.", escape(&study.overrides.join(" ")))
        }
    );
}

/// The report of a study.
pub fn study_page(study: &Study, plots: &[(&str, String, String)]) -> String {
    let mut html = head(&format!("ByteRank simulation: {}", study.scenario));
    about(&mut html, study);
    changes(&mut html, study);
    let _ = writeln!(html, "<h2>Tables</h2>\n<pre>{}</pre>", escape(&tables::tables(study)));
    let _ = writeln!(
        html,
        "<p>{} events in {:.1} s on {} thread{}, {:.0} MB peak memory.</p>",
        study.events,
        study.wall_s,
        study.threads,
        if study.threads == 1 { "" } else { "s" },
        study.peak_rss_mb
    );
    legend(&mut html);
    html.push_str("<h2>Figures</h2>\n");
    figures(&mut html, plots);
    html.push_str("</body></html>\n");
    html
}

/// The report of a sweep.
pub fn sweep_page(sweep: &Sweep, plots: &[(&str, String, String)]) -> String {
    let name = sweep.studies.first().map_or("", |s| s.scenario.as_str());
    let mut html = head(&format!("ByteRank sweep of {}: {name}", sweep.path));
    if let Some(first) = sweep.studies.first() {
        about(&mut html, first);
        let _ = writeln!(
            html,
            "<p>Swept: <code>{}</code> over {}.</p>",
            escape(&sweep.path),
            escape(&sweep.values.join(", "))
        );
        changes(&mut html, first);
    }
    html.push_str("<h2>Figures</h2>\n");
    figures(&mut html, plots);
    let _ = writeln!(html, "<h2>Tables</h2>\n<pre>{}</pre>", escape(&crate::output::sweep_table(sweep)));
    legend(&mut html);
    html.push_str("</body></html>\n");
    html
}
