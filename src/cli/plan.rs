//! `byterank plan`: the scheduling decisions for one job over a grid.

use std::path::PathBuf;

use byterank::core::indexes::{rank_grid, IndexConfig, Lottery};
use byterank::core::job::JobSpec;
use byterank::core::plan::{plan_job, PlanConfig};
use byterank::report::PlanReport;
use clap::Args;

use super::rank::Policy;
use super::{print_json, read, read_grid, Failure};

/// Plan a job over a grid: target subset, pools, queues, replication and bounties.
#[derive(Args)]
pub struct PlanArgs {
    /// The grid file (JSON, spec §2).
    #[arg(long)]
    grid: PathBuf,
    /// The job file (JSON, spec §2b).
    #[arg(long)]
    job: PathBuf,
    /// Draw the daily lottery with this seed instead of using the recorded wins.
    #[arg(long)]
    lottery_seed: Option<u64>,
    /// When a fault history flags a device.
    #[arg(long, value_enum, default_value_t = Policy::Paper)]
    fault_policy: Policy,
}

/// Runs the command.
pub fn run(args: PlanArgs) -> Result<(), Failure> {
    let grid = read_grid(&args.grid)?;
    let text = read(&args.job, "job file")?;
    let job: JobSpec =
        serde_json::from_str(&text).map_err(|e| Failure::Input(format!("{}: {e}", args.job.display())))?;
    let mut cfg = IndexConfig::default();
    cfg.flags.fault_policy = args.fault_policy.into();
    let ranked = rank_grid(&grid, &cfg, args.lottery_seed.map_or(Lottery::Recorded, Lottery::Draw));
    let plan = plan_job(&ranked, &job, &PlanConfig::default())
        .map_err(|e| Failure::Input(format!("{}: {e}", args.job.display())))?;
    print_json(&PlanReport::new(&grid, &plan))
}
