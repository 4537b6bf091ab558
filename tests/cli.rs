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
