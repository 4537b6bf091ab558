//! The `byterank` command: one tool, one subcommand per task.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use byterank::core::fault::FaultPolicy;
use byterank::core::grid::Grid;
use byterank::core::indexes::{rank_grid, IndexConfig, Lottery};
use byterank::report::RankReport;
use byterank::sim::synth::{synth_grid, SynthConfig};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(name = "byterank", version, about = "An open scheduler for grids of consumer devices")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Rank every device of a grid file (ByteRank, spec §7).
    Rank {
        /// The grid file (JSON, spec §2).
        #[arg(long)]
        grid: PathBuf,
        /// Output: an aligned table, or JSON.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Draw the daily lottery with this seed instead of using the recorded wins.
        #[arg(long)]
        lottery_seed: Option<u64>,
        /// When a fault history flags a device.
        #[arg(long, value_enum, default_value_t = Policy::Paper)]
        fault_policy: Policy,
    },
    /// Write a synthetic grid file, reproducible from the seed, to stdout.
    Synth {
        /// Number of devices.
        #[arg(long)]
        devices: usize,
        /// Seed of the generator.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

#[derive(Clone, Copy, ValueEnum)]
enum Policy {
    /// Flag when R > 0.5 (the paper's rule).
    Paper,
    /// Also flag when any one of mean(F), mean(D), mean(I) exceeds 0.5.
    Strict,
}

impl From<Policy> for FaultPolicy {
    fn from(p: Policy) -> Self {
        match p {
            Policy::Paper => FaultPolicy::paper(),
            Policy::Strict => FaultPolicy::strict(),
        }
    }
}

/// Why a command failed: bad input (exit 2), or the output could not be written.
enum Failure {
    Input(String),
    Output(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Rank { grid, format, lottery_seed, fault_policy } => rank(&grid, format, lottery_seed, fault_policy),
        Command::Synth { devices, seed } => synth(devices, seed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        // A closed pipe (`byterank rank ... | head`) is not an error.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("error: cannot write output: {e}");
            ExitCode::FAILURE
        }
    }
}

fn read_grid(path: &PathBuf) -> Result<Grid, Failure> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::Input(format!("cannot read grid file `{}`: {e}", path.display())))?;
    Grid::from_json_str(&text).map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

fn rank(path: &PathBuf, format: Format, lottery_seed: Option<u64>, policy: Policy) -> Result<(), Failure> {
    let grid = read_grid(path)?;
    let mut cfg = IndexConfig::default();
    cfg.flags.fault_policy = policy.into();
    let lottery = lottery_seed.map_or(Lottery::Recorded, Lottery::Draw);
    let ranked = rank_grid(&grid, &cfg, lottery);
    let report = RankReport::new(&grid, &ranked);
    let mut out = BufWriter::new(io::stdout().lock());
    match format {
        Format::Json => {
            serde_json::to_writer(&mut out, &report).map_err(io::Error::from)?;
            writeln!(out)?;
        }
        Format::Table => {
            let width = report.devices.iter().map(|d| d.id.len()).max().unwrap_or(2).max(2);
            writeln!(out, "{:>8}  {:<width$}  {:>8}  {:>6}  flags", "rank", "id", "capacity", "fault")?;
            for d in &report.devices {
                let rank = if d.rank == 0 { "-".to_string() } else { d.rank.to_string() };
                let line = format!(
                    "{rank:>8}  {:<width$}  {:>8.1}  {:>6.3}  {}",
                    d.id,
                    d.capacity,
                    d.fault_rate,
                    d.flags.join(",")
                );
                writeln!(out, "{}", line.trim_end())?;
            }
        }
    }
    out.flush()?;
    Ok(())
}

fn synth(devices: usize, seed: u64) -> Result<(), Failure> {
    let grid = synth_grid(&SynthConfig { devices, seed, ..SynthConfig::default() });
    let mut out = BufWriter::new(io::stdout().lock());
    serde_json::to_writer(&mut out, &grid).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
