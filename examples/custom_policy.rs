//! A distribution policy of your own, compared with the shipped ones on a
//! simulated grid, without touching the core.
//!
//! `fastest-first` cuts the paper's capacity pools over the target subset ordered
//! by capacity alone, ignoring what ByteRank adds (reliability and availability).
//! Every variant runs on the same devices and luck (common random numbers); the
//! table gives each variant's mean with its 95% interval over replications, and
//! the differences from `byte_rank` paired by replication.
//!
//! `cargo run --release --example custom_policy [replications]` (default 5)

use byterank::core::indexes::RankedGrid;
use byterank::core::job::JobSpec;
use byterank::core::policy::{capacity_pools_in_order, DistributionPolicy, Pools};
use byterank::core::pools::PoolConfig;
use byterank::sim::replications::{self, Plan};
use byterank::sim::Scenario;

/// Capacity pools over the target subset, fastest device first.
struct FastestFirst;

impl DistributionPolicy for FastestFirst {
    fn name(&self) -> &str {
        "fastest-first"
    }

    fn pools(&self, ranked: &RankedGrid, job: &JobSpec, subset: &[u32], cfg: &PoolConfig) -> Pools {
        let capacity = |i: u32| ranked.indexes[i as usize].capacity;
        let mut order = subset.to_vec();
        // Ties keep rank order: the sort is stable.
        order.sort_by(|&a, &b| capacity(b).total_cmp(&capacity(a)));
        capacity_pools_in_order(ranked, job, &order, cfg)
    }
}

static FASTEST_FIRST: FastestFirst = FastestFirst;

const SCENARIO: &str = r#"
name = "custom-policy"
description = "The shipped distribution policies and one of the embedder's"
seed = 1
horizon_s = 7200

[grid]
devices = 2000

[[jobs]]
name = "batch"
count = 4
rate_per_hour = 4
tasks = 800
task_work_s = 60
input_mb = 2
output_mb = 0.2
replication = { max_pjf = 0.01 }

[[variants]]
name = "byte_rank"

[[variants]]
name = "fcfs"
engine.plan.distribution = "fcfs"

[[variants]]
name = "random"
engine.plan.distribution = { random = { seed = 1 } }

[[variants]]
name = "fastest-first"
engine.plan.distribution = { custom = "fastest-first" }
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let replications = match std::env::args().nth(1) {
        None => 5,
        Some(n) => n.parse().map_err(|e| format!("replications `{n}`: {e}"))?,
    };
    let sc = Scenario::from_toml_with_policies(SCENARIO, &[&FASTEST_FIRST])?;
    let plan = Plan { replications, seed: sc.seed, baseline: None, threads: None };
    let out = replications::run(&sc, &plan, &|_, _| {})?;
    print!("{}", byterank::sim::tables::tables(&out.study));
    Ok(())
}
