//! `byterank simulate`, run as a user runs it.

use std::path::PathBuf;
use std::process::{Command, Output};

fn byterank(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_byterank")).args(args).output().expect("the binary runs")
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("byterank-simulate-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const SMALL: &str = r#"
name = "cli"
horizon_s = 3600
[grid]
devices = 200
[[jobs]]
name = "a"
count = 2
tasks = 30
[[variants]]
name = "default"
[[variants]]
name = "high"
job.byte_level = "high"
"#;

#[test]
fn writes_every_output_and_prints_the_policy_table() {
    let dir = scratch("ok");
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, SMALL).unwrap();
    let out = dir.join("out");
    let o = byterank(&["simulate", scenario.to_str().unwrap(), "--out", out.to_str().unwrap(), "--seed", "9"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert!(stdout.starts_with("variant "), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("high ")), "{stdout}");
    for f in [
        "summary.json",
        "jobs.csv",
        "devices.csv",
        "timeseries.csv",
        "makespan.svg",
        "pjf.svg",
        "lorenz.svg",
        "queue.svg",
        "load-default.svg",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seed"], 9);
    for key in ["events", "wall_s", "peak_rss_mb"] {
        assert!(summary[key].is_number(), "{key}");
    }
    let v = &summary["variants"][0];
    for key in [
        "makespan_s",
        "tasks_completed",
        "tasks_lost",
        "jobs_failed",
        "copies_run_per_task",
        "wrong_results_assembled",
        "pjf_predicted",
        "pjf_observed",
        "rewards_gini",
        "utilization",
    ] {
        assert!(!v[key].is_null(), "{key}");
    }
    for k in ["mean", "p50", "p95"] {
        assert!(v["makespan_s"][k].is_number(), "{k}");
    }
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("<img src=\"makespan.svg\"") && html.contains("pjf observed"));
    let devices = std::fs::read_to_string(out.join("devices.csv")).unwrap();
    assert_eq!(devices.lines().count(), 1 + 2 * 200, "a row per device per variant");
}

#[test]
fn a_bad_scenario_names_the_field_exits_2_and_writes_nothing() {
    let dir = scratch("bad");
    for (text, field) in [
        (SMALL.replace("devices = 200", "devices = 200\ndevices_typo = 1"), "grid.devices_typo"),
        (SMALL.replace("devices = 200", "devices = -5"), "grid.devices"),
        (SMALL.replace("horizon_s = 3600", "horizon_s = 0"), "horizon_s"),
        (SMALL.replace("tasks = 30", "tasks = 30\nreplication = { max_pjf = 2 }"), "jobs[0].replication"),
        (SMALL.replace("job.byte_level = \"high\"", "engine.t1_mss = 5"), "variants[1].engine.t1_mss"),
        (SMALL.replace("[grid]", "[grid]\nmix = [1, 0, 0, 0]"), "grid.mix"),
    ] {
        let scenario = dir.join("s.toml");
        std::fs::write(&scenario, &text).unwrap();
        let out = dir.join("out");
        let o = byterank(&["simulate", scenario.to_str().unwrap(), "--out", out.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{field}: {stderr}");
        assert!(stderr.contains(field), "{field}: {stderr}");
        assert!(!out.exists(), "{field}: nothing written");
    }
    let o =
        byterank(&["simulate", dir.join("missing.toml").to_str().unwrap(), "--out", dir.join("o").to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
}
