//! `byterank simulate`: runs a scenario's variants over replications (or a sweep
//! of one parameter) and writes the report; `byterank report`: rebuilds the report
//! of an output folder from its saved files.

use std::io::{Read as _, Write as _};
use std::path::PathBuf;

use byterank::sim::output::{self, Sweep};
use byterank::sim::replications::{self, Plan};
use byterank::sim::scenario::MAX_REPLICATIONS;
use byterank::sim::{tables, Scenario};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};

use super::{show_progress, Failure, Input};

/// Simulate a grid (a scenario file) and compare its variants over replications.
#[derive(Args)]
pub struct SimulateArgs {
    /// The scenario, a TOML file (see docs/simulator.md).
    scenario: PathBuf,
    /// Directory for summary.json, runs.json, the CSV files, the plots and
    /// report.html. A folder holding another run is refused unless --force.
    #[arg(long)]
    out: PathBuf,
    /// Replace the simulator's files of a previous run in --out (other files stay).
    #[arg(long)]
    force: bool,
    /// Seed of the first replication (default: the scenario's); replication i runs
    /// on seed + i.
    #[arg(long)]
    seed: Option<u64>,
    /// Replications: seeds shared by every variant (default: the scenario's
    /// `replications`, else 1).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_REPLICATIONS)))]
    replications: Option<u32>,
    /// Override a scenario field, as in the TOML (`grid.devices=500`,
    /// `churn.model=weibull`, `jobs[0].tasks=100`); repeatable.
    #[arg(long = "set", value_name = "PATH=VALUE")]
    sets: Vec<String>,
    /// Run only these variants, in this order (comma-separated names).
    #[arg(long, value_name = "A,B", value_delimiter = ',')]
    variants: Vec<String>,
    /// The variant the others are compared with (default: the first).
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// Run the study once per value of a field (`grid.devices=1000,2000,4000`) and
    /// plot each metric against it.
    #[arg(long, value_name = "PATH=V1,V2,...")]
    sweep: Option<String>,
    /// Worker threads (default: one per core); results do not depend on it.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    threads: Option<u32>,
}

/// Rebuild report.html and the plots of an output folder from its saved files.
#[derive(Args)]
pub struct ReportArgs {
    /// A folder written by `byterank simulate`.
    dir: PathBuf,
}

/// Splits `v1,v2,...` at commas outside brackets and braces.
fn split_values(text: &str) -> Vec<String> {
    let (mut out, mut cur, mut depth) = (Vec::new(), String::new(), 0i32);
    for c in text.chars() {
        match c {
            '[' | '{' => depth += 1,
            ']' | '}' => depth -= 1,
            ',' if depth == 0 => {
                out.push(std::mem::take(&mut cur).trim().to_string());
                continue;
            }
            _ => {}
        }
        cur.push(c);
    }
    out.push(cur.trim().to_string());
    out
}

/// The scenario with the overrides and the variant selection applied.
fn scenario(text: &str, args: &SimulateArgs, extra: Option<String>) -> Result<Scenario, Failure> {
    let name = args.scenario.display();
    let mut sets = args.sets.clone();
    sets.extend(extra);
    let mut sc = Scenario::from_toml_with(text, &sets).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    if !args.variants.is_empty() {
        sc.keep_variants(&args.variants).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    }
    Ok(sc)
}

fn bar(total: u64) -> ProgressBar {
    if !show_progress() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    bar.set_style(
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} runs (eta {eta})")
            .expect("a valid template"),
    );
    bar
}

/// Runs the command. Bad input (scenario, overrides, names, an output folder that
/// holds another run) is an input error and nothing is written.
pub fn run(args: SimulateArgs) -> Result<(), Failure> {
    let mut input = Input::open(&args.scenario, "scenario", false)?;
    let mut text = String::new();
    input
        .read_to_string(&mut text)
        .map_err(|e| Failure::Input(format!("cannot read scenario `{}`: {e}", input.name)))?;
    let sweep = match &args.sweep {
        None => None,
        Some(s) => {
            let (path, values) = s.split_once('=').ok_or_else(|| {
                Failure::Input(format!("--sweep {s}: write it as path=v1,v2,..., e.g. grid.devices=500,1000"))
            })?;
            let values = split_values(values);
            if values.iter().any(String::is_empty) {
                return Err(Failure::Input(format!("--sweep {s}: a value is empty")));
            }
            Some((path.trim().to_string(), values))
        }
    };
    // Every scenario of the run is checked before anything runs or is written.
    let scenarios: Vec<Scenario> = match &sweep {
        None => vec![scenario(&text, &args, None)?],
        Some((path, values)) => {
            values.iter().map(|v| scenario(&text, &args, Some(format!("{path}={v}")))).collect::<Result<_, _>>()?
        }
    };
    let first = &scenarios[0];
    let names: Vec<String> =
        first.variants().map_err(|e| Failure::Input(e.to_string()))?.into_iter().map(|v| v.name).collect();
    if let Some(b) = &args.baseline {
        if !names.contains(b) {
            return Err(Failure::Input(format!("--baseline: no variant `{b}`; the variants are {}", names.join(", "))));
        }
    }
    output::check_out(&args.out, args.force).map_err(|e| Failure::Input(e.to_string()))?;
    let plan = |sc: &Scenario| Plan {
        replications: args.replications.unwrap_or(sc.replications),
        seed: args.seed.unwrap_or(sc.seed),
        baseline: args.baseline.clone(),
        threads: args.threads.map(|t| t as usize),
    };
    let runs: u64 = scenarios.iter().map(|sc| u64::from(plan(sc).replications) * names.len() as u64).sum();
    let bar = bar(runs);
    let mut studies = Vec::new();
    for sc in &scenarios {
        let offset = bar.position();
        let mut out = replications::run(sc, &plan(sc), &|done, _| bar.set_position(offset + done as u64))
            .map_err(|e| Failure::Input(e.to_string()))?;
        out.study.overrides.clone_from(&args.sets);
        studies.push(out);
    }
    bar.finish_and_clear();
    output::clear(&args.out)?;
    let mut stdout = std::io::stdout().lock();
    match sweep {
        None => {
            let out = studies.pop().expect("one study");
            output::write_study(&args.out, &out)?;
            write!(stdout, "{}", tables::tables(&out.study))?;
            write!(stdout, "{}", tables::failures(&out.records))?;
            let s = &out.study;
            writeln!(
                stdout,
                "{} events in {:.1} s on {} thread{} ({:.0} events/s), peak {:.0} MB; report: {}",
                s.events,
                s.wall_s,
                s.threads,
                if s.threads == 1 { "" } else { "s" },
                s.events as f64 / s.wall_s.max(1e-9),
                s.peak_rss_mb,
                args.out.join("report.html").display()
            )?;
        }
        Some((path, values)) => {
            let sweep = Sweep { path, values, studies: studies.into_iter().map(|o| o.study).collect() };
            output::write_sweep(&args.out, &sweep)?;
            write!(stdout, "{}", output::sweep_table(&sweep))?;
            writeln!(stdout, "report: {}", args.out.join("report.html").display())?;
        }
    }
    Ok(())
}

/// Rebuilds a folder's report; a folder without a run's files is an input error.
pub fn report(args: ReportArgs) -> Result<(), Failure> {
    let dir = &args.dir;
    let has = |f: &str| dir.join(f).is_file();
    if !(has("sweep.json") || (has("summary.json") && has("runs.json"))) {
        return Err(Failure::Input(format!(
            "{}: no summary.json and runs.json (or sweep.json): not a folder written by `byterank simulate`",
            dir.display()
        )));
    }
    output::render(dir).map_err(|e| match e.kind() {
        std::io::ErrorKind::InvalidData => Failure::Input(e.to_string()),
        _ => Failure::Output(e),
    })?;
    writeln!(std::io::stdout().lock(), "report: {}", dir.join("report.html").display())?;
    Ok(())
}
