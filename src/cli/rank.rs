//! `byterank rank`: the devices of a grid file with their ByteRank.

use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use byterank::core::fault::FaultPolicy;
use byterank::core::indexes::{rank_grid, IndexConfig, Lottery};
use byterank::report::{RankReport, RankedDevice};
use clap::{Args, ValueEnum};
use unicode_width::UnicodeWidthStr;

use super::{print_json, read_grid, Failure};

/// Rank every device of a grid file (ByteRank; docs/indexes.md explains it).
///
/// Prints a one-line summary (devices active, flagged by reason, lottery winners),
/// then the devices best rank first and flagged devices last. The grid file format
/// is described field by field in docs/formats.md.
#[derive(Args)]
pub struct RankArgs {
    /// The grid file (JSON, docs/formats.md); `-` reads stdin.
    #[arg(long)]
    grid: PathBuf,
    /// Output: an aligned table, or JSON (`{"summary": ..., "devices": [...]}`).
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// List only the N best-ranked devices (flagged devices have no rank and are
    /// left out); the summary still counts the whole grid.
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = super::parse::count)]
    top: Option<usize>,
    /// Draw the daily lottery with this seed instead of using the recorded wins.
    #[arg(long, value_name = "SEED", allow_negative_numbers = true, value_parser = super::parse::seed)]
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
    let report = RankReport::new(&grid, &ranked, args.top);
    match args.format {
        Format::Json => print_json(&report),
        Format::Table => {
            let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
            writeln!(out, "{}", report.summary)?;
            // Ids are at most 256 bytes (spec §15), so the widest fits a table.
            let width = report.devices().map(|d| d.id.width()).max().unwrap_or(2).max(2);
            let header = ["rank", "id", "capacity", "fault", "lottery", "flags"];
            write_line(&mut out, width, header.map(String::from))?;
            for d in report.devices() {
                write_line(&mut out, width, cells(&d))?;
            }
            out.flush()?;
            Ok(())
        }
    }
}

fn cells(d: &RankedDevice) -> [String; 6] {
    [
        if d.rank == 0 { "-".to_string() } else { d.rank.to_string() },
        d.id.to_string(),
        format!("{:.1}", d.capacity),
        format!("{:.3}", d.fault_rate),
        if d.lottery_winner { "won" } else { "-" }.to_string(),
        d.flags.join(","),
    ]
}

/// One table line: padded by display width (so `東京` takes four columns, as on
/// screen), numbers right-aligned, no trailing spaces.
fn write_line(
    out: &mut impl Write,
    id_width: usize,
    [rank, id, capacity, fault, lottery, flags]: [String; 6],
) -> io::Result<()> {
    let pad = id_width.saturating_sub(id.width());
    let line = format!("{rank:>8}  {id}{:pad$}  {capacity:>8}  {fault:>6}  {lottery:<7}  {flags}", "");
    writeln!(out, "{}", line.trim_end())
}
