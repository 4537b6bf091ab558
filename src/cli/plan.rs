//! `byterank plan`: the scheduling decisions for one job over a grid.

use std::path::PathBuf;

use byterank::core::engine::{Engine, EngineConfig, Replicas};
use byterank::core::indexes::{rank_grid, IndexConfig, Lottery};
use byterank::core::job::JobSpec;
use byterank::core::plan::{plan_job, PlanConfig};
use byterank::report::PlanReport;
use clap::Args;

use super::rank::Policy;
use super::{print_json, read_grid, read_json, Failure, Shape};

/// Plan a job over a grid: target subset, pools, queues, replication and bounties.
///
/// The grid and job formats are described field by field in docs/formats.md.
/// Replication groups copies with the balanced assignment, as `byterank
/// replication` does by default. Copy j goes to pool j mod K, except that a pool
/// never holds more copies of one task than it has devices: such a copy goes to
/// the next pool down (so queue lengths can differ by more than one), and one no
/// pool can hold is counted in `unplaced`. The PJF is that of the copies as placed
/// (docs/pools.md). A job whose copies do not all fit is refused, as the engine
/// refuses it, unless it sets `accept_unverified` or `deadline_s`; `replicas`
/// says how many copies were asked, placed, on how many distinct devices, and
/// what becomes of the rest.
#[derive(Args)]
pub struct PlanArgs {
    /// The grid file (JSON, docs/formats.md); `-` reads stdin.
    #[arg(long)]
    grid: PathBuf,
    /// The job file (JSON, docs/formats.md); `-` reads stdin.
    #[arg(long)]
    job: PathBuf,
    /// Draw the daily lottery with this seed instead of using the recorded wins.
    #[arg(long, value_name = "SEED", allow_negative_numbers = true, value_parser = super::parse::seed)]
    lottery_seed: Option<u64>,
    /// When a fault history flags a device.
    #[arg(long, value_enum, default_value_t = Policy::Paper)]
    fault_policy: Policy,
}

/// A job file holds one job object.
const JOB: Shape = Shape::Object { example: r#"{"id": "...", "chunks": N, ...}"# };

/// Runs the command.
pub fn run(args: PlanArgs) -> Result<(), Failure> {
    if args.grid.as_os_str() == "-" && args.job.as_os_str() == "-" {
        return Err(Failure::Input("--grid and --job cannot both read stdin (`-`); give one as a file".to_string()));
    }
    // The job first: it is small, and its mistakes are found without reading the grid.
    let (job, name): (JobSpec, String) = read_json(&args.job, "job file", JOB)?;
    let bad = |e: &dyn std::fmt::Display| Failure::Input(format!("{name}: {e}"));
    // The engine's admission rules, the same for every adapter: the job's
    // checks, a known application, a bounty of at least 1 ByteChip a task.
    Engine::default().admit(&job, None).map_err(|e| bad(&e))?;
    let grid = read_grid(&args.grid)?;
    let mut cfg = IndexConfig::default();
    cfg.flags.fault_policy = args.fault_policy.into();
    let ranked = rank_grid(&grid, &cfg, args.lottery_seed.map_or(Lottery::Recorded, Lottery::Draw));
    let plan = plan_job(&ranked, &job, &PlanConfig::default()).map_err(|e| bad(&e))?;
    // The engine's replication rule: refused when its pools cannot hold the
    // copies it asks, unless it accepts unverified results or waits.
    let replicas = Replicas::admit(&job, &plan, &EngineConfig::default()).map_err(|e| bad(&e))?;
    print_json(&PlanReport::new(&grid, &plan, replicas))
}
