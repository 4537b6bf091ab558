//! `byterank simulate`, run as a user runs it.

use std::path::{Path, PathBuf};
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
fn writes_every_output_and_prints_the_tables() {
    let dir = scratch("ok");
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, SMALL).unwrap();
    let out = dir.join("out");
    let o = byterank(&[
        "simulate",
        scenario.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--seed",
        "9",
        "--replications",
        "3",
    ]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let stdout = String::from_utf8(o.stdout).unwrap();
    assert!(stdout.starts_with("3 replications (seeds 9..=11)"), "{stdout}");
    assert!(stdout.lines().any(|l| l.starts_with("high ")), "{stdout}");
    assert!(stdout.contains("paired differences from default"), "{stdout}");
    for f in [
        "summary.json",
        "runs.json",
        "jobs.csv",
        "devices.csv",
        "timeseries.csv",
        "means.svg",
        "paired.svg",
        "makespan-ecdf.svg",
        "ratio-ecdf.svg",
        "pjf.svg",
        "calibration.svg",
        "wrong.svg",
        "lorenz.svg",
        "queue.svg",
        "load.svg",
        "report.html",
    ] {
        assert!(out.join(f).is_file(), "{f}");
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seeds"], serde_json::json!([9, 10, 11]));
    assert_eq!(summary["baseline"], "default");
    let v = &summary["variants"][1];
    assert_eq!(v["name"], "high");
    assert_eq!(v["changes"], serde_json::json!(["job.byte_level = \"high\""]));
    let makespan = v["metrics"].as_array().unwrap().iter().find(|m| m["key"] == "makespan_mean_s").unwrap();
    assert_eq!(makespan["estimate"]["n"], 3);
    assert!(makespan["paired"]["verdict"].is_string());
    assert!(v["makespan_over_opt"]["p50"].as_f64().unwrap() >= 1.0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains("What each variant changes") && html.contains("Legend of the columns"));
    assert!(html.contains("<svg") && html.contains("paired differences from default"));
    let jobs = std::fs::read_to_string(out.join("jobs.csv")).unwrap();
    assert_eq!(jobs.lines().count(), 1 + 3 * 2 * 2, "a row per job per variant per replication");
    let devices = std::fs::read_to_string(out.join("devices.csv")).unwrap();
    assert_eq!(devices.lines().count(), 1 + 2 * 200, "a row per device per variant, first replication");
}

fn write_small(dir: &Path) -> PathBuf {
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, SMALL).unwrap();
    scenario
}

fn run_ok(args: &[&str]) -> String {
    let o = byterank(args);
    assert!(o.status.success(), "{args:?}: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout).unwrap()
}

fn fails_with(args: &[&str], words: &[&str]) {
    let o = byterank(args);
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
    for w in words {
        assert!(stderr.contains(w), "{args:?}: `{w}` not in {stderr}");
    }
}

#[test]
fn set_overrides_a_field_like_the_toml_and_a_typo_names_itself() {
    let dir = scratch("set");
    let s = write_small(&dir);
    let (s, out) = (s.to_str().unwrap(), dir.join("out"));
    let out = out.to_str().unwrap();
    run_ok(&["simulate", s, "--out", out, "--set", "grid.devices=50", "--set", "jobs[0].tasks=7"]);
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("out/summary.json")).unwrap()).unwrap();
    assert_eq!(summary["devices"], 50);
    assert_eq!(summary["overrides"], serde_json::json!(["grid.devices=50", "jobs[0].tasks=7"]));
    let jobs = std::fs::read_to_string(dir.join("out/jobs.csv")).unwrap();
    assert!(jobs.lines().skip(1).all(|l| l.split(',').nth(6) == Some("7")), "{jobs}");
    let o = dir.join("o2");
    let o = o.to_str().unwrap();
    fails_with(&["simulate", s, "--out", o, "--set", "grid.devicse=5"], &["grid.devicse", "unknown field"]);
    fails_with(&["simulate", s, "--out", o, "--set", "grid.devices=0"], &["grid.devices"]);
    fails_with(&["simulate", s, "--out", o, "--set", "grid.devices"], &["--set grid.devices", "path=value"]);
    fails_with(&["simulate", s, "--out", o, "--set", "jobs[4].tasks=1"], &["jobs", "[4]"]);
    fails_with(&["simulate", s, "--out", o, "--set", "churn.model=sometimes"], &["churn.model"]);
    fails_with(&["simulate", s, "--out", o, "--set", "variants[1].engine.plan.assignmnt=paper"], &["assignmnt"]);
    assert!(!dir.join("o2").exists(), "nothing written");
}

#[test]
fn variants_and_baseline_choose_what_runs_and_what_it_is_compared_with() {
    let dir = scratch("variants");
    let s = write_small(&dir);
    let s = s.to_str().unwrap();
    let out = dir.join("out");
    let stdout = run_ok(&["simulate", s, "--out", out.to_str().unwrap(), "--variants", "high"]);
    assert!(stdout.lines().any(|l| l.starts_with("high ")) && !stdout.lines().any(|l| l.starts_with("default ")));
    let out = dir.join("out2");
    let stdout =
        run_ok(&["simulate", s, "--out", out.to_str().unwrap(), "--variants", "high,default", "--baseline", "default"]);
    assert!(stdout.contains("paired differences from default"), "{stdout}");
    let paired = stdout.split("paired differences").nth(1).unwrap();
    assert!(paired.lines().skip(2).filter(|l| !l.contains(" events in ")).all(|l| l.starts_with("high ")), "{paired}");
    let o = dir.join("o3");
    let o = o.to_str().unwrap();
    fails_with(&["simulate", s, "--out", o, "--variants", "high,nope"], &["--variants", "nope", "default, high"]);
    fails_with(&["simulate", s, "--out", o, "--baseline", "nope"], &["--baseline", "nope"]);
    fails_with(&["simulate", s, "--out", o, "--variants", "high", "--baseline", "default"], &["--baseline", "default"]);
    fails_with(&["simulate", s, "--out", o, "--replications", "0"], &["--replications"]);
    fails_with(&["simulate", s, "--out", o, "--replications", "x"], &["--replications"]);
    assert!(!dir.join("o3").exists());
}

#[test]
fn replications_in_the_scenario_and_threads_do_not_change_results() {
    let dir = scratch("reps");
    let scenario = dir.join("s.toml");
    std::fs::write(&scenario, SMALL.replace("horizon_s = 3600", "horizon_s = 3600\nreplications = 3")).unwrap();
    let s = scenario.to_str().unwrap();
    let one = run_ok(&["simulate", s, "--out", dir.join("a").to_str().unwrap(), "--threads", "1"]);
    let two = run_ok(&["simulate", s, "--out", dir.join("b").to_str().unwrap(), "--threads", "2"]);
    assert!(one.starts_with("3 replications"), "{one}");
    let tables = |t: &str| t.lines().filter(|l| !l.contains(" events in ")).collect::<Vec<_>>().join("\n");
    assert_eq!(tables(&one), tables(&two));
    let runs = |d: &str| std::fs::read_to_string(dir.join(d).join("runs.json")).unwrap();
    assert_eq!(runs("a"), runs("b"));
}

#[test]
fn sweep_runs_one_study_per_value_and_plots_each_metric_against_it() {
    let dir = scratch("sweep");
    let s = write_small(&dir);
    let s = s.to_str().unwrap();
    let out = dir.join("out");
    let stdout = run_ok(&[
        "simulate",
        s,
        "--out",
        out.to_str().unwrap(),
        "--replications",
        "2",
        "--sweep",
        "grid.devices=60,120",
    ]);
    assert!(stdout.contains("grid.devices = 60\n") && stdout.contains("grid.devices = 120\n"), "{stdout}");
    let sweep: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("sweep.json")).unwrap()).unwrap();
    assert_eq!(sweep["values"], serde_json::json!(["60", "120"]));
    assert_eq!(sweep["studies"][0]["devices"], 60);
    assert_eq!(sweep["studies"][1]["devices"], 120);
    let csv = std::fs::read_to_string(out.join("sweep.csv")).unwrap();
    assert!(csv.lines().any(|l| l.starts_with("grid.devices,120,high,makespan_mean_s,")), "{csv}");
    assert!(out.join("sweep.svg").is_file() && out.join("report.html").is_file());
    let o = dir.join("o2");
    let o = o.to_str().unwrap();
    fails_with(&["simulate", s, "--out", o, "--sweep", "grid.devices=60,0"], &["grid.devices"]);
    fails_with(&["simulate", s, "--out", o, "--sweep", "grid.devicse=60,70"], &["grid.devicse"]);
    fails_with(&["simulate", s, "--out", o, "--sweep", "grid.devices=60,"], &["--sweep", "empty"]);
    assert!(!dir.join("o2").exists());
}

#[test]
fn report_rebuilds_the_page_and_plots_from_the_saved_files_alone() {
    let dir = scratch("report");
    let s = write_small(&dir);
    let out = dir.join("out");
    run_ok(&["simulate", s.to_str().unwrap(), "--out", out.to_str().unwrap(), "--replications", "2"]);
    let before: Vec<(String, String)> = ["report.html", "means.svg", "makespan-ecdf.svg", "queue.svg", "lorenz.svg"]
        .iter()
        .map(|f| (f.to_string(), std::fs::read_to_string(out.join(f)).unwrap()))
        .collect();
    // Only the saved data stays: the CSV files and every rendered file go.
    for f in std::fs::read_dir(&out).unwrap() {
        let p = f.unwrap().path();
        let name = p.file_name().unwrap().to_str().unwrap().to_string();
        if name != "summary.json" && name != "runs.json" {
            std::fs::remove_file(p).unwrap();
        }
    }
    run_ok(&["report", out.to_str().unwrap()]);
    for (f, text) in before {
        assert_eq!(std::fs::read_to_string(out.join(&f)).unwrap(), text, "{f} is rebuilt the same");
    }
    fails_with(&["report", dir.to_str().unwrap()], &["not a folder written by `byterank simulate`"]);
    std::fs::write(out.join("runs.json"), "{").unwrap();
    fails_with(&["report", out.to_str().unwrap()], &["runs.json"]);
}

#[test]
fn out_refuses_a_folder_holding_another_run_and_force_clears_only_our_files() {
    let dir = scratch("guard");
    let s = write_small(&dir);
    let s = s.to_str().unwrap();
    let out = dir.join("out");
    let o = out.to_str().unwrap();
    run_ok(&["simulate", s, "--out", o, "--replications", "2"]);
    let summary = std::fs::read_to_string(out.join("summary.json")).unwrap();
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    std::fs::write(out.join("load-old-variant.svg"), "<svg/>").unwrap();
    fails_with(&["simulate", s, "--out", o, "--seed", "4"], &["holds another run", "--force"]);
    assert_eq!(std::fs::read_to_string(out.join("summary.json")).unwrap(), summary, "nothing changed");
    run_ok(&["simulate", s, "--out", o, "--seed", "4", "--variants", "high", "--force"]);
    assert_eq!(std::fs::read_to_string(out.join("notes.txt")).unwrap(), "mine", "other files stay");
    assert!(!out.join("load-old-variant.svg").exists(), "the old run's plots go");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["seeds"][0], 4);
    // A folder with only other files is fine without --force.
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    std::fs::write(other.join("README"), "x").unwrap();
    run_ok(&["simulate", s, "--out", other.to_str().unwrap()]);
    // A file where the folder should be is refused.
    fails_with(&["simulate", s, "--out", dir.join("s.toml").to_str().unwrap()], &["not a folder"]);
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
