//! `byterank simulate`: runs a scenario's variants and writes the report.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use byterank::sim::report::{run_scenario, table, write_all};
use byterank::sim::Scenario;
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::{show_progress, Failure, Input};

/// Simulate a grid (a scenario file) and compare its variants.
#[derive(Args)]
pub struct SimulateArgs {
    /// The scenario, a TOML file (see docs/simulator.md).
    scenario: PathBuf,
    /// Directory for summary.json, the CSV files, the plots and report.html.
    #[arg(long)]
    out: PathBuf,
    /// Seed of every random draw (default: the scenario's).
    #[arg(long)]
    seed: Option<u64>,
}

/// Runs the command. A bad scenario is an input error and nothing is written.
pub fn run(args: SimulateArgs) -> Result<(), Failure> {
    let mut input = Input::open(&args.scenario, "scenario", false)?;
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| Failure::Input(format!("cannot read scenario `{}`: {e}", input.name)))?;
    let sc = Scenario::from_toml_str(&text).map_err(|e| Failure::Input(format!("{}: {e}", args.scenario.display())))?;
    let seed = args.seed.unwrap_or(sc.seed);
    let variants = sc.variants().map_err(|e| Failure::Input(e.to_string()))?.len();
    let bar = if show_progress() {
        let bar = ProgressBar::new(1000 * variants as u64);
        bar.set_style(
            ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {msg}").expect("a valid template"),
        );
        bar
    } else {
        ProgressBar::hidden()
    };
    let names: Vec<String> =
        sc.variants().map_err(|e| Failure::Input(e.to_string()))?.into_iter().map(|v| v.name).collect();
    let (summary, runs) = run_scenario(&sc, seed, &mut |i, p| {
        let done = (1000 * p.now_ms / p.horizon_ms.max(1)).min(1000);
        bar.set_position(1000 * i as u64 + done);
        bar.set_message(format!("{} at {:.0} s", names[i], p.now_ms as f64 / 1000.0));
    })
    .map_err(|e| Failure::Input(e.to_string()))?;
    bar.finish_and_clear();
    std::fs::create_dir_all(&args.out)?;
    write_all(&args.out, &summary, &runs)?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}", table(&summary))?;
    writeln!(
        out,
        "{} events in {:.1} s ({:.0} events/s), peak {:.0} MB; report: {}",
        summary.events,
        summary.wall_s,
        summary.events as f64 / summary.wall_s.max(1e-9),
        summary.peak_rss_mb,
        args.out.join("report.html").display()
    )?;
    Ok(())
}
