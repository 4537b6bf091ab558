//! `byterank rank`: every device of a grid file with its ByteRank.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use byterank::core::fault::FaultPolicy;
use byterank::core::indexes::{rank_grid, IndexConfig, Lottery};
use byterank::report::RankReport;
use clap::{Args, ValueEnum};

use super::{print_json, read_grid, Failure};

/// Rank every device of a grid file (ByteRank, spec §7).
#[derive(Args)]
pub struct RankArgs {
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
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Table,
    Json,
}

/// The fault policy, as the command line names it.
#[derive(Clone, Copy, ValueEnum)]
pub enum Policy {
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

/// Runs the command.
pub fn run(args: RankArgs) -> Result<(), Failure> {
    let grid = read_grid(&args.grid)?;
    let mut cfg = IndexConfig::default();
    cfg.flags.fault_policy = args.fault_policy.into();
    let lottery = args.lottery_seed.map_or(Lottery::Recorded, Lottery::Draw);
    let ranked = rank_grid(&grid, &cfg, lottery);
    let report = RankReport::new(&grid, &ranked);
    match args.format {
        Format::Json => print_json(&report),
        Format::Table => {
            let mut out = BufWriter::new(io::stdout().lock());
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
            out.flush()?;
            Ok(())
        }
    }
}
