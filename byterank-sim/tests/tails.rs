//! Short tails in the simulator: on a small grid of mixed devices, over several
//! seeds, speculation shortens makespans against the same engine with it off
//! (paired by seed: the same devices and luck), for few extra copies.

use byterank_sim::replications::{self, Plan};
use byterank_sim::stats::Verdict;
use byterank_sim::Scenario;

/// A small mixed grid (phones to desktops) with churn; jobs of replicated tasks.
/// Credibility is off: its extra copies for doubtful pairs wait for trusted
/// devices first, a tail of its own that speculation does not shorten, and this
/// test is of speculation alone.
const GRID: &str = r#"
name = "tails"
description = "small, mixed speeds"
seed = 11
horizon_s = 7200
[engine]
credibility.enabled = false
[grid]
devices = 200
[churn]
model = "weibull"
on_mean_s = 3600
off_mean_s = 1800
[faults]
slow_p = 0.05
slow_factor = 4
[[jobs]]
name = "a"
count = 3
rate_per_hour = 6
tasks = 150
task_work_s = 60
input_mb = 2
output_mb = 0.2
replication = { r = 2 }
[[variants]]
name = "default"
[[variants]]
name = "no-speculation"
engine.speculation.enabled = false
"#;

#[test]
fn speculation_shortens_the_tail_against_the_engine_without_it() {
    let sc = Scenario::from_toml_str(GRID).unwrap();
    let plan = Plan { replications: 6, seed: sc.seed, baseline: Some("no-speculation".into()), threads: None };
    let out = replications::run(&sc, &plan, &|_, _| {}).unwrap();
    let v = out.study.variant("default").unwrap();
    let metric = |key: &str| v.metrics.iter().find(|m| m.key == key).unwrap();
    let makespan = metric("makespan_mean_s").paired.as_ref().expect("paired makespans");
    assert_eq!(makespan.verdict, Verdict::Better, "makespan difference: {:?}", makespan.diff);
    let spec = metric("speculative_per_job").estimate.as_ref().unwrap();
    assert!(spec.mean > 0.0, "speculative copies run: {spec:?}");
    let base = out.study.variant("no-speculation").unwrap();
    let copies = |s: &replications::VariantStudy| {
        s.metrics.iter().find(|m| m.key == "copies_per_task").unwrap().estimate.as_ref().unwrap().mean
    };
    assert!(copies(v) <= 1.15 * copies(base), "copies {} against {}", copies(v), copies(base));
    let none = base.metrics.iter().find(|m| m.key == "speculative_per_job").unwrap().estimate.as_ref().unwrap();
    assert_eq!(none.mean, 0.0, "none with speculation off");
}
