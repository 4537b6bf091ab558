//! Failure attribution on a churny grid: with the engine's default rule no job
//! fails while the grid has devices that may run it; with the rule "any"
//! (every stale attempt counts toward `max_failures`) jobs do fail, so this
//! test can tell the two apart.

use byterank_sim::replications::{self, Plan};
use byterank_sim::{tables, Scenario};

/// `churny-grid.toml` scaled down: 300 devices with Weibull churn, departures,
/// arrivals, crashes and slow attempts, shorter sessions so attempts go stale
/// often, and the two rules as variants.
const CHURNY: &str = r#"
name = "churny-small"
seed = 1
horizon_s = 7200
[grid]
devices = 300
[churn]
model = "weibull"
on_mean_s = 900
off_mean_s = 600
shape = 0.6
leave_share = 0.05
join_share = 0.05
[faults]
crash_per_hour = 1.0
reboot_s = 120
slow_p = 0.05
slow_factor = 4
[[jobs]]
name = "transcode"
count = 4
rate_per_hour = 12
tasks = 120
task_work_s = 120
input_mb = 8
output_mb = 4
replication = { max_pjf = 0.01 }
[[variants]]
name = "task"
[[variants]]
name = "any"
engine.failure_attribution = "any"
"#;

#[test]
fn churn_fails_no_job_under_the_default_rule_and_some_under_any() {
    let sc = Scenario::from_toml_str(CHURNY).expect("a valid scenario");
    let plan = Plan { replications: 4, seed: 1, baseline: None, threads: Some(2) };
    let out = replications::run(&sc, &plan, &|_, _| {}).expect("runs");
    let (mut completed, mut failed_any) = (0, 0);
    for r in &out.records {
        for j in &r.jobs {
            match (r.variant.as_str(), j.status.as_str()) {
                ("task", "failed") => panic!("seed {}: {} failed: {:?}", r.seed, j.id, j.fail_reason),
                ("task", "completed") => completed += 1,
                ("any", "failed") => {
                    let reason = j.fail_reason.as_deref().expect("a failed job has the engine's reason");
                    assert!(reason.contains("failed"), "{reason}");
                    failed_any += 1;
                }
                _ => assert!(j.fail_reason.is_none(), "{j:?}"),
            }
        }
    }
    assert!(completed >= 12, "the default rule completes the jobs ({completed} of 16)");
    assert!(failed_any > 0, "the rule \"any\" fails jobs on this grid");
    // The printed list names every failed job, with its reason.
    let printed = tables::failures(&out.records);
    assert_eq!(printed.lines().filter(|l| l.starts_with("any ")).count(), failed_any, "{printed}");
    assert!(!printed.lines().any(|l| l.starts_with("task ")), "{printed}");
}
