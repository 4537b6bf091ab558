//! The `byterank` command, run as a user runs it.

use std::process::{Command, Output};

use serde_json::Value;

fn byterank(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_byterank")).args(args).output().expect("the binary runs")
}

const SAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample-grid.json");

fn rank_json(extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["rank", "--grid", SAMPLE, "--format", "json"];
    args.extend_from_slice(extra);
    let out = byterank(&args);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["devices"].as_array().unwrap().clone()
}

#[test]
fn ranks_the_sample_grid_best_first_flagged_last() {
    let devices = rank_json(&[]);
    assert_eq!(devices.len(), 10, "every device of the file");
    let ranks: Vec<u64> = devices.iter().map(|d| d["rank"].as_u64().unwrap()).collect();
    let active = ranks.iter().take_while(|&&r| r > 0).count();
    assert_eq!(ranks[..active], (1..=active as u64).collect::<Vec<_>>()[..]);
    assert!(ranks[active..].iter().all(|&r| r == 0));
    let flags_of = |id: &str| -> Vec<String> {
        let d = devices.iter().find(|d| d["id"] == id).unwrap();
        d["flags"].as_array().unwrap().iter().map(|f| f.as_str().unwrap().to_string()).collect()
    };
    assert_eq!(flags_of("phone-hot"), ["high_temperature"]);
    assert_eq!(flags_of("phone-seoul"), ["low_battery"]);
    assert_eq!(flags_of("offline-desktop"), ["disconnected"]);
    assert_eq!(flags_of("tablet-night"), ["outside_schedule"], "03:00Z is 12:00 in UTC+9");
    assert!(flags_of("laptop-flaky").is_empty(), "F = 0.8 only gives R = 0.27 under the paper's policy");
    // The lottery winner jumps 100 places, past every device of this small grid;
    // the best capacity comes next.
    assert_eq!(devices[0]["id"], "phone-lisbon");
    assert_eq!(devices[1]["id"], "desk-berlin");
    for d in &devices {
        let c = d["capacity"].as_f64().unwrap();
        assert!((1.0..=2700.0).contains(&c));
    }
}

#[test]
fn strict_policy_flags_a_device_that_keeps_failing() {
    let devices = rank_json(&["--fault-policy", "strict"]);
    let flaky = devices.iter().find(|d| d["id"] == "laptop-flaky").unwrap();
    assert_eq!(flaky["rank"], 0);
    assert_eq!(flaky["flags"][0], "repeated_failures");
}

#[test]
fn a_lottery_seed_reproduces_the_ranking() {
    assert_eq!(rank_json(&["--lottery-seed", "9"]), rank_json(&["--lottery-seed", "9"]));
}

#[test]
fn the_table_lists_every_device() {
    let out = byterank(&["rank", "--grid", SAMPLE]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 11, "a header and ten devices:\n{text}");
    assert!(text.lines().nth(2).unwrap().contains("desk-berlin"));
    assert!(text.lines().all(|l| !l.ends_with(' ')), "no trailing spaces");
}

fn bad_grid(json: &str) -> (i32, String, usize) {
    let dir = std::env::temp_dir().join(format!("byterank-cli-{}-{}", std::process::id(), json.len()));
    std::fs::write(&dir, json).unwrap();
    let out = byterank(&["rank", "--grid", dir.to_str().unwrap(), "--format", "json"]);
    std::fs::remove_file(&dir).unwrap();
    (out.status.code().unwrap(), String::from_utf8(out.stderr).unwrap(), out.stdout.len())
}

#[test]
fn bad_input_is_one_line_exit_two_and_no_output() {
    for (json, names) in [
        (r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d-1", "battery_pct": 140}]}"#, ["d-1", "battery_pct"]),
        (r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d-2", "cpu": 3}]}"#, ["d-2", "cpu"]),
        (r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d-3", "upload_mbps": -1}]}"#, ["d-3", "upload_mbps"]),
        (r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d-4"}, {"id": "d-4"}]}"#, ["d-4", "id"]),
        (
            r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d-5", "faults": {"failed": [0, 3], "delayed": [0, 0], "incorrect": [0, 0]}}]}"#,
            ["d-5", "faults"],
        ),
    ] {
        let (code, stderr, stdout_len) = bad_grid(json);
        assert_eq!(code, 2, "{stderr}");
        assert_eq!(stdout_len, 0);
        assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
        for n in names {
            assert!(stderr.contains(n), "`{n}` missing from: {stderr}");
        }
    }
    let out = byterank(&["rank", "--grid", "/nonexistent/grid.json"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
}

#[test]
fn synth_writes_a_grid_that_ranks() {
    let out = byterank(&["synth", "--devices", "500", "--seed", "3"]);
    assert!(out.status.success());
    let again = byterank(&["synth", "--devices", "500", "--seed", "3"]);
    assert_eq!(out.stdout, again.stdout, "the seed reproduces the grid");
    let path = std::env::temp_dir().join(format!("byterank-synth-{}.json", std::process::id()));
    std::fs::write(&path, &out.stdout).unwrap();
    let ranked = byterank(&["rank", "--grid", path.to_str().unwrap(), "--format", "json"]);
    std::fs::remove_file(&path).unwrap();
    assert!(ranked.status.success(), "{}", String::from_utf8_lossy(&ranked.stderr));
    let v: Value = serde_json::from_slice(&ranked.stdout).unwrap();
    assert_eq!(v["devices"].as_array().unwrap().len(), 500);
}

const JOB: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/sample-job.json");

#[test]
fn plans_the_sample_job() {
    let out = byterank(&["plan", "--grid", SAMPLE, "--job", JOB]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let subset: Vec<&str> = plan["target_subset"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    // Europe and the Americas, laptops, desktops and phones, app >= 1.2.0, active.
    assert_eq!(subset, ["phone-lisbon", "desk-berlin", "laptop-austin", "dev-0001"]);
    let pools: Vec<Vec<&str>> = plan["pools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect())
        .collect();
    assert_eq!(pools.concat(), subset, "pools partition the subset, pool 1 first");
    let rep = &plan["replication"];
    assert_eq!(rep["unique"], 40);
    assert!(rep["achievable"].as_bool().unwrap());
    assert!(rep["pjf"].as_f64().unwrap() <= 0.01);
    let copies: usize = plan["queues"].as_array().unwrap().iter().map(|q| q.as_array().unwrap().len()).sum();
    assert_eq!(copies as u64, rep["copies"].as_u64().unwrap());
    let bounties: u64 = plan["bounties"].as_array().unwrap().iter().map(|b| b.as_u64().unwrap()).sum();
    assert_eq!(bounties, 42_000, "70% of 60,000 ByteChips");
    assert_eq!(plan["price"]["platform"], 18_000);
}

fn write_temp(name: &str, text: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("byterank-{}-{name}", std::process::id()));
    std::fs::write(&path, text).unwrap();
    path
}

#[test]
fn plan_rejects_a_job_naming_an_unknown_region() {
    let job = write_temp("mars.json", r#"{"id": "j", "chunks": 4, "preferences": {"regions": ["mars"]}}"#);
    let out = byterank(&["plan", "--grid", SAMPLE, "--job", job.to_str().unwrap()]);
    std::fs::remove_file(&job).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("unknown variant `mars`"), "{err}");
    let zero = write_temp("zero.json", r#"{"id": "j", "chunks": 0}"#);
    let out = byterank(&["plan", "--grid", SAMPLE, "--job", zero.to_str().unwrap()]);
    std::fs::remove_file(&zero).unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr).unwrap().contains("`chunks` must be at least 1"));
}

fn replication(args: &[&str]) -> Value {
    let mut all = vec!["replication"];
    all.extend_from_slice(args);
    let out = byterank(&all);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn replication_example_1() {
    let v = replication(&["--tasks", "10000", "--fault-rate", "0.0005", "--max-pjf", "0.01"]);
    assert_eq!(v["copies"], 19985);
    assert_eq!(v["r"], 1.9985);
    assert_eq!(v["achievable"], true);
    let floor = replication(&["--tasks", "10000", "--fault-rate", "0.0005", "--copies", "20000"]);
    assert!((floor["pjf"].as_f64().unwrap() - 0.0025).abs() < 1e-5, "{floor}");
}

#[test]
fn replication_example_2_from_a_rates_file() {
    let mut rates = vec![0.04; 700];
    rates.extend(vec![0.001; 6800]);
    rates.extend(vec![0.00005; 1600]);
    rates.extend(vec![0.30; 900]);
    let path = write_temp("rates.json", &serde_json::to_string(&rates).unwrap());
    let p = path.to_str().unwrap();
    let paper = replication(&["--tasks", "5000", "--fault-rates", p, "--copies", "10000"]);
    let balanced =
        replication(&["--tasks", "5000", "--fault-rates", p, "--copies", "10000", "--assignment", "balanced"]);
    let bound = replication(&["--tasks", "5000", "--fault-rates", p, "--max-pjf", "0.01", "--max-r", "2"]);
    std::fs::remove_file(&path).unwrap();
    let pjf = paper["pjf"].as_f64().unwrap();
    assert!((pjf - 0.259).abs() < 0.001, "{pjf}");
    assert!(balanced["pjf"].as_f64().unwrap() < pjf / 10.0, "{balanced}");
    assert_eq!(bound["achievable"], false);
}

#[test]
fn replication_rejects_bad_input() {
    for args in [
        &["replication", "--tasks", "10", "--fault-rate", "1.5", "--max-pjf", "0.01"][..],
        &["replication", "--tasks", "10", "--fault-rate", "0.1", "--max-pjf", "1.0"],
        &["replication", "--tasks", "0", "--fault-rate", "0.1", "--max-pjf", "0.01"],
        &["replication", "--tasks", "10", "--max-pjf", "0.01"],
    ] {
        let out = byterank(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(out.stdout.is_empty());
        assert!(!out.stderr.is_empty());
    }
}
