//! The `byterank` command, run as a user runs it.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn byterank(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_byterank")).args(args).output().expect("the binary runs")
}

/// Runs the command with `input` on stdin.
fn byterank_stdin(args: &[&str], input: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_byterank"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    let mut stdin = child.stdin.take().unwrap();
    // The command may stop reading early (a refused input): a closed pipe is fine.
    let _ = stdin.write_all(input);
    drop(stdin);
    child.wait_with_output().unwrap()
}

/// Asserts the project's rule for bad input: exit status 2, nothing on stdout, one
/// line on stderr that contains every fragment and no control character. Returns
/// the line.
#[track_caller]
fn refused(out: &Output, fragments: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(out.status.code(), Some(2), "exit status; stderr: {stderr}");
    assert!(out.stdout.is_empty(), "stdout must be empty, got {} bytes", out.stdout.len());
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    assert!(stderr.starts_with("error: ") && stderr.ends_with('\n'), "{stderr}");
    let line = stderr.trim_end_matches('\n');
    assert!(!line.chars().any(char::is_control), "control characters on the terminal: {line:?}");
    assert!(line.len() < 1000, "a line a person can read, not {} bytes", line.len());
    for f in fragments {
        assert!(line.contains(f), "`{f}` missing from: {line}");
    }
    line.to_string()
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
    assert!(out.stderr.is_empty(), "no progress bar when stderr is not a terminal");
    let text = String::from_utf8(out.stdout).unwrap();
    assert_eq!(text.lines().count(), 12, "a summary, a header and ten devices:\n{text}");
    assert_eq!(
        text.lines().next().unwrap(),
        "10 devices: 6 active, 4 flagged (1 disconnected, 1 high_temperature, 1 low_battery, \
         1 outside_schedule), 1 lottery winner"
    );
    assert_eq!(text.lines().nth(1).unwrap(), "    rank  id               capacity   fault  lottery  flags");
    assert_eq!(text.lines().nth(2).unwrap(), "       1  phone-lisbon        614.6   0.000  won");
    assert!(text.lines().nth(3).unwrap().contains("desk-berlin"));
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
    let paper = replication(&["--tasks", "5000", "--fault-rates", p, "--copies", "10000", "--assignment", "paper"]);
    let balanced = replication(&["--tasks", "5000", "--fault-rates", p, "--copies", "10000"]);
    assert_eq!(balanced["assignment"], "balanced", "the default, as in `plan` and the library");
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

// ---- Bad inputs, one directory per command: add a file and its `.expect` ----

const BAD: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/bad-inputs");

/// Every `NAME.json` under `tests/bad-inputs/{grid,job,rates}` is given to the
/// command that reads it; `NAME.expect` lists, one per line, fragments the error
/// line must contain. The error must also name the file.
#[test]
fn every_bad_input_of_the_directory_is_refused_clearly() {
    let (mut cases, mut failed) = (0, Vec::new());
    for kind in ["grid", "job", "rates"] {
        let mut files: Vec<PathBuf> = std::fs::read_dir(Path::new(BAD).join(kind))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        for file in files {
            let expect = std::fs::read_to_string(file.with_extension("expect"))
                .unwrap_or_else(|_| panic!("{} needs a .expect file", file.display()));
            let fragments: Vec<&str> = expect.lines().filter(|l| !l.is_empty()).collect();
            assert!(!fragments.is_empty(), "{}: no expected fragment", file.display());
            let f = file.to_str().unwrap();
            let out = match kind {
                "grid" => byterank(&["rank", "--grid", f]),
                "job" => byterank(&["plan", "--grid", SAMPLE, "--job", f]),
                _ => byterank(&["replication", "--tasks", "2", "--fault-rates", f, "--max-pjf", "0.01"]),
            };
            // Every case runs; the failures are listed together at the end.
            match std::panic::catch_unwind(|| refused(&out, &fragments)) {
                Ok(line) if line.contains(f) => {}
                Ok(line) => failed.push(format!("{f}: the error does not name the file: {line}")),
                Err(_) => failed.push(f.to_string()),
            }
            cases += 1;
        }
    }
    assert!(failed.is_empty(), "cases that failed (messages above):\n{}", failed.join("\n"));
    assert!(cases >= 45, "the directory holds the cases: {cases}");
}

#[test]
fn the_readme_bad_input_example_ships() {
    let bad = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/bad.json");
    let out = byterank(&["rank", "--grid", bad]);
    refused(&out, &["bad.json: device `d-1` (devices[0]): field `procesor_score`: unknown field `procesor_score`"]);
}

// ---- Crashes that are now errors ----

fn grid_with_id(id: &str) -> String {
    format!(r#"{{"now": "2026-11-26T03:00:00Z", "devices": [{{"id": "{id}"}}]}}"#)
}

#[test]
fn an_id_of_64_kib_or_10_mb_is_refused_not_a_panic() {
    for len in [65_536, 10_000_000] {
        let out = byterank_stdin(&["rank", "--grid", "-"], grid_with_id(&"x".repeat(len)).as_bytes());
        refused(&out, &["stdin: device `xxxx", &format!("({len} bytes)`: field `id` is longer than the 256 bytes")]);
    }
    // At the limit, the table prints it.
    let out = byterank_stdin(&["rank", "--grid", "-"], grid_with_id(&"x".repeat(256)).as_bytes());
    assert!(out.status.success());
}

#[test]
fn synth_refuses_more_devices_than_it_allows() {
    for n in ["100000000", "18446744073709551615", "-1"] {
        refused(&byterank(&["synth", "--devices", n]), &[&format!("'{n}' for '--devices <N>'"), "0..=7000000"]);
    }
}

#[test]
fn plan_refuses_work_beyond_the_limits_before_allocating() {
    // Each would allocate terabytes, or panic, if it were sized first.
    for (job, fragment) in [
        (r#"{"id": "j", "chunks": 1000000000000}"#, "1000000000000 chunks are more than the 10000000 allowed"),
        (r#"{"id": "j", "input_bytes": 1000000000000, "chunk_bytes": 1}"#, "more than the 10000000 allowed"),
        (r#"{"id": "j", "chunks": 4, "replication": {"r": 1e308}}"#, "within 1..=10"),
    ] {
        let out = byterank_stdin(&["plan", "--grid", SAMPLE, "--job", "-"], job.as_bytes());
        refused(&out, &["stdin: job `j`", fragment]);
    }
}

/// A job that leaves some task unpaid is refused by the engine's admission
/// rule, with the engine's message (the API shows the same: tests/service.rs),
/// before ten million chunks are split.
#[test]
fn plan_refuses_an_unpaid_job_with_the_engines_admission_error() {
    for job in
        [r#"{"id": "free", "chunks": 3, "price_chips": 0}"#, r#"{"id": "cheap", "chunks": 10000000, "price_chips": 1}"#]
    {
        let spec: byterank::core::JobSpec = serde_json::from_str(job).unwrap();
        let core = byterank::core::Engine::default().admit(&spec, None).unwrap_err().to_string();
        assert!(core.contains("with a bounty of 0 ByteChips"), "{core}");
        let out = byterank_stdin(&["plan", "--grid", SAMPLE, "--job", "-"], job.as_bytes());
        refused(&out, &[&format!("stdin: {core}")]);
    }
}

/// A job asking more copies of a task than its pools have devices is refused
/// with the engine's own error, runs unverified only when it says so, and
/// waits when it sets a deadline: `replicas` says which, and the figures.
#[test]
fn plan_reports_replicas_and_refuses_a_shortfall_with_the_engines_error() {
    let job = r#"{"id": "j", "chunks": 4, "price_chips": 4000, "replication": {"r": 10}}"#;
    let out = byterank_stdin(&["plan", "--grid", SAMPLE, "--job", "-"], job.as_bytes());
    let line = refused(&out, &["stdin: job `j`: replication r = 10 needs 10 distinct devices per task"]);
    assert!(line.contains("accept_unverified") && line.contains("deadline_s"), "{line}");
    for (extra, status) in [(r#""accept_unverified": true"#, "unverified"), (r#""deadline_s": 600"#, "waiting")] {
        let job = job.replace("\"price_chips\"", &format!("{extra}, \"price_chips\""));
        let out = byterank_stdin(&["plan", "--grid", SAMPLE, "--job", "-"], job.as_bytes());
        assert!(out.status.success(), "{job}: {}", String::from_utf8_lossy(&out.stderr));
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
        let r = &plan["replicas"];
        let devices: u64 = plan["pools"].as_array().unwrap()[..plan["pools_used"].as_u64().unwrap() as usize]
            .iter()
            .map(|p| p.as_array().unwrap().len() as u64)
            .sum();
        let placed: u64 = plan["queues"].as_array().unwrap().iter().map(|q| q.as_array().unwrap().len() as u64).sum();
        assert_eq!(r["status"], status, "{r}");
        assert_eq!(r["asked"], 40, "{r}");
        assert_eq!(r["per_task"], 10, "{r}");
        assert_eq!(r["devices"].as_u64(), Some(devices), "{r}");
        assert_eq!(r["placed"].as_u64(), Some(placed), "{r}");
        assert_eq!(placed, 4 * devices, "each task on every device of its pools");
        assert_eq!(r["unplaced"].as_u64(), Some(40 - placed), "{r}");
        assert_eq!(r["short_tasks"], 4, "{r}");
    }
}

// ---- Accepted silently before ----

#[test]
fn ids_with_newlines_escapes_or_blanks_are_refused_and_escaped() {
    for (id, fragment) in [
        ("a\\nb", "a\\nb"),
        ("\\u001b[2J\\u001b[31mred", "\\u{1b}[2J\\u{1b}[31mred"),
        ("\\t", "\\t"),
        ("   ", "is blank"),
    ] {
        let out = byterank_stdin(&["rank", "--grid", "-"], grid_with_id(id).as_bytes());
        refused(&out, &["field `id`", fragment]);
    }
}

#[test]
fn unicode_ids_align_by_display_width() {
    let grid = r#"{"now": "2026-11-26T03:00:00Z", "devices": [
        {"id": "東京-phone", "processor_score": 500},
        {"id": "café", "processor_score": 400},
        {"id": "plain", "processor_score": 300}]}"#;
    let out = byterank_stdin(&["rank", "--grid", "-"], grid.as_bytes());
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    // The capacity column ends at the same screen column on every line (the ids
    // hold no spaces, so the third word is the capacity).
    let lines: Vec<&str> = text.lines().skip(1).collect();
    assert_eq!(lines.len(), 4, "{text}");
    let ends: Vec<usize> = lines
        .iter()
        .map(|l| {
            let capacity = l.split_whitespace().nth(2).unwrap();
            unicode_width::UnicodeWidthStr::width(&l[..l.find(capacity).unwrap() + capacity.len()])
        })
        .collect();
    assert!(ends.windows(2).all(|w| w[0] == w[1]), "{ends:?}:\n{text}");
    assert!(text.contains("東京-phone"));
}

#[test]
fn replication_answers_are_never_negative_zero_and_achievable_needs_a_bound() {
    let out = byterank(&["replication", "--tasks", "10", "--fault-rate", "0", "--copies", "20"]);
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains(r#""pjf":0.0"#) && !text.contains("-0.0"), "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert!(v.get("achievable").is_none(), "no bound was given, so nothing to achieve: {v}");
    refused(
        &byterank(&["replication", "--tasks", "10", "--fault-rate", "0.1", "--copies", "18446744073709551615"]),
        &["'--copies <M>'", "1..=100000000"],
    );
    let v = replication(&["--tasks", "10", "--fault-rate", "0", "--max-pjf", "0.01"]);
    assert_eq!(v["achievable"], true);
    assert_eq!(v["pjf"].as_f64().unwrap().to_bits(), 0.0f64.to_bits());
}

// ---- Unclear messages before ----

#[test]
fn negative_numbers_are_values_with_their_rule_not_unknown_options() {
    for (args, fragments) in [
        (
            &["replication", "--tasks", "10", "--fault-rate", "0.1", "--max-pjf", "-0.1"][..],
            &["'-0.1' for '--max-pjf", "strictly between 0 and 1"][..],
        ),
        (
            &["replication", "--tasks", "10", "--fault-rate", "-0.1", "--max-pjf", "0.01"],
            &["'-0.1' for '--fault-rate", "within 0..=1"],
        ),
        (
            &["replication", "--tasks", "-3", "--fault-rate", "0.1", "--max-pjf", "0.01"],
            &["'--tasks <M>'", "1..=10000000"],
        ),
        (&["replication", "--tasks", "10", "--fault-rate", "NaN", "--max-pjf", "0.01"], &["'NaN' for '--fault-rate"]),
        (
            &["replication", "--tasks", "10", "--fault-rate", "0.1", "--max-pjf", "0.01", "--max-r", "1e6"],
            &["'--max-r <R>'", "1..=10"],
        ),
        (
            &["rank", "--grid", SAMPLE, "--lottery-seed", "-1"],
            &["'-1' for '--lottery-seed", "0..=18446744073709551615"],
        ),
        (&["rank", "--grid", SAMPLE, "--top", "-5"], &["'-5' for '--top"]),
        (&["synth", "--devices", "-1"], &["'-1' for '--devices"]),
        (&["synth", "--devices", "10", "--seed", "-1"], &["'-1' for '--seed"]),
        (&["rank"], &["--grid"]),
        (&["rank", "--grid", SAMPLE, "--format", "xml"], &["'xml' for '--format"]),
    ] {
        let line = refused(&byterank(args), fragments);
        assert!(!line.contains("unexpected argument"), "{line}");
    }
}

#[test]
fn a_utf8_bom_and_nan_get_their_own_words() {
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(grid_with_id("d").as_bytes());
    refused(&byterank_stdin(&["rank", "--grid", "-"], &bom), &["stdin", "byte-order mark"]);
    let nan = r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d", "battery_pct": NaN}]}"#;
    refused(&byterank_stdin(&["rank", "--grid", "-"], nan.as_bytes()), &["devices[0]", "JSON has no NaN"]);
    let both = r#"{"id": "j", "chunks": 4, "replication": {"r": 2, "max_pjf": 0.01}}"#;
    refused(&byterank_stdin(&["plan", "--grid", SAMPLE, "--job", "-"], both.as_bytes()), &["either `max_pjf`"]);
}

// ---- Size ----

#[test]
fn an_endless_input_fails_at_once() {
    let start = std::time::Instant::now();
    refused(&byterank(&["rank", "--grid", "/dev/zero"]), &["/dev/zero: grid file: expected value at line 1 column 1"]);
    assert!(start.elapsed().as_secs() < 10, "it read {:?} before failing", start.elapsed());
    refused(&byterank(&["rank", "--grid", "/"]), &["cannot read grid file `/`: it is a directory"]);
}

#[test]
fn synth_streams_the_same_bytes_as_the_whole_grid() {
    let out = byterank(&["synth", "--devices", "300", "--seed", "5"]);
    assert!(out.status.success());
    assert!(out.stderr.is_empty(), "no progress bar when stderr is not a terminal");
    let cfg = byterank::sim::SynthConfig { devices: 300, seed: 5, ..byterank::sim::SynthConfig::default() };
    let whole = serde_json::to_string(&byterank::sim::synth_grid(&cfg)).unwrap() + "\n";
    assert_eq!(String::from_utf8(out.stdout).unwrap(), whole);
    let empty = byterank(&["synth", "--devices", "0"]);
    assert_eq!(
        String::from_utf8(empty.stdout).unwrap(),
        r#"{"now":"2026-11-26T03:00:00Z","devices":[]}"#.to_string() + "\n"
    );
}

// ---- --top, the summary, the lottery, stdin ----

#[test]
fn synth_piped_into_rank_top() {
    let grid = byterank(&["synth", "--devices", "2000", "--seed", "7"]).stdout;
    let out = byterank_stdin(&["rank", "--grid", "-", "--top", "10"], &grid);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stderr.is_empty());
    let text = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 12, "summary, header, ten devices:\n{text}");
    assert!(lines[0].starts_with("2000 devices: ") && lines[0].ends_with("; the top 10 shown"), "{}", lines[0]);
    let ranks: Vec<&str> = lines[2..].iter().map(|l| l.split_whitespace().next().unwrap()).collect();
    assert_eq!(ranks, ["1", "2", "3", "4", "5", "6", "7", "8", "9", "10"]);

    let json = byterank_stdin(&["rank", "--grid", "-", "--top", "3", "--format", "json"], &grid);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    let s = &v["summary"];
    assert_eq!(s["devices"], 2000);
    assert_eq!(s["shown"], 3);
    assert_eq!(v["devices"].as_array().unwrap().len(), 3);
    let active = s["active"].as_u64().unwrap();
    assert_eq!(active + s["flagged"].as_u64().unwrap(), 2000);
    let by_reason: u64 = s["flags"].as_object().unwrap().values().map(|n| n.as_u64().unwrap()).sum();
    assert!(by_reason >= s["flagged"].as_u64().unwrap() && s["flags"]["disconnected"].as_u64().unwrap() > 0);
    // The same counts as the full listing.
    let all = rank_json_of(&grid, &[]);
    assert_eq!(all.iter().filter(|d| d["rank"] != 0).count() as u64, active);
    assert_eq!(all[..3], v["devices"].as_array().unwrap()[..]);
}

fn rank_json_of(grid: &[u8], extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["rank", "--grid", "-", "--format", "json"];
    args.extend_from_slice(extra);
    let out = byterank_stdin(&args, grid);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice::<Value>(&out.stdout).unwrap()["devices"].as_array().unwrap().clone()
}

#[test]
fn the_lottery_is_in_the_table_and_the_json() {
    let devices = rank_json(&[]);
    let won: Vec<&str> =
        devices.iter().filter(|d| d["lottery_winner"] == true).map(|d| d["id"].as_str().unwrap()).collect();
    assert_eq!(won, ["phone-lisbon"], "the recorded win explains rank 1");
    assert!(devices.iter().all(|d| d["lottery_winner"].is_boolean()));
    // A seeded draw replaces the recorded wins, and the summary counts them.
    let grid = byterank(&["synth", "--devices", "3000", "--seed", "2"]).stdout;
    let drawn = rank_json_of(&grid, &["--lottery-seed", "4"]);
    let winners = drawn.iter().filter(|d| d["lottery_winner"] == true).count();
    assert!(winners > 0, "about 5% of devices idle for 12 h win; some win here");
    let table =
        String::from_utf8(byterank_stdin(&["rank", "--grid", "-", "--lottery-seed", "4"], &grid).stdout).unwrap();
    assert!(table.lines().next().unwrap().contains(&format!(", {winners} lottery winners")), "{table}");
    assert_eq!(table.lines().filter(|l| l.contains("  won")).count(), winners);
}

#[test]
fn a_dash_reads_stdin_everywhere() {
    let grid = std::fs::read(SAMPLE).unwrap();
    assert_eq!(rank_json_of(&grid, &[]), rank_json(&[]));
    let job = std::fs::read(JOB).unwrap();
    let from_stdin = byterank_stdin(&["plan", "--grid", SAMPLE, "--job", "-"], &job);
    assert_eq!(from_stdin.stdout, byterank(&["plan", "--grid", SAMPLE, "--job", JOB]).stdout);
    assert!(from_stdin.status.success());
    refused(&byterank_stdin(&["plan", "--grid", "-", "--job", "-"], b""), &["cannot both read stdin"]);
    let rates = byterank_stdin(
        &["replication", "--tasks", "2", "--fault-rates", "-", "--copies", "4"],
        b"[0.1, 0.1, 0.1, 0.1]",
    );
    let v: Value = serde_json::from_slice(&rates.stdout).unwrap();
    assert!((v["pjf"].as_f64().unwrap() - (1.0 - 0.99f64 * 0.99)).abs() < 1e-12, "{v}");
}

#[test]
fn help_points_to_the_formats_in_the_repository() {
    for args in
        [&["--help"][..], &["rank", "--help"], &["plan", "--help"], &["synth", "--help"], &["replication", "--help"]]
    {
        let out = byterank(args);
        assert!(out.status.success());
        let help = String::from_utf8(out.stdout).unwrap();
        assert!(help.contains("docs/formats.md"), "{args:?}:\n{help}");
        assert!(!help.contains("shared/spec") && !help.contains("spec §"), "{args:?} points outside the repository");
    }
    assert!(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/formats.md")).exists());
}

#[test]
fn journal_names_a_missing_source_and_never_prints_a_password() {
    let dir = std::env::temp_dir().join(format!("byterank-no-journal-{}", std::process::id()));
    let out = byterank(&["journal", dir.to_str().unwrap()]);
    refused(&out, &["no journal here"]);
    // Nothing listens on port 1: the connection fails, and the message keeps the
    // user and host but not the password.
    let out = byterank(&["journal", "postgres://ana:hunter2-secret@127.0.0.1:1/byterank"]);
    let line = refused(&out, &["postgres://ana:***@127.0.0.1:1/byterank", "cannot connect to PostgreSQL"]);
    assert!(!line.contains("hunter2"), "{line}");
}

/// A temperature below zero Fahrenheit is a winter reading, not a mistake: a
/// device at -4 °F is ranked as its twin at 70 °F is (the flag starts above
/// 120 °F); only a reading below absolute zero is refused.
#[test]
fn a_device_at_minus_4_fahrenheit_is_ranked() {
    let grid = |t: f64| {
        serde_json::json!({ "now": "2026-01-01T00:00:00Z", "devices": [
            { "id": "cold", "processor_score": 500.0, "ram_available_mb": 4096.0, "download_mbps": 50.0,
              "upload_mbps": 10.0, "temperature_f": t },
            { "id": "other", "processor_score": 300.0, "ram_available_mb": 2048.0, "download_mbps": 20.0,
              "upload_mbps": 5.0, "temperature_f": 70.0 } ] })
        .to_string()
    };
    let ranks = |t: f64| {
        let out = byterank_stdin(&["rank", "--grid", "-", "--format", "json"], grid(t).as_bytes());
        assert!(out.status.success(), "{t} °F: {}", String::from_utf8_lossy(&out.stderr));
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        v["devices"].as_array().unwrap().iter().map(|d| (d["id"].clone(), d["rank"].clone())).collect::<Vec<_>>()
    };
    assert_eq!(ranks(-4.0), ranks(70.0));
    let out = byterank_stdin(&["rank", "--grid", "-"], grid(-460.0).as_bytes());
    refused(&out, &["temperature_f", "below absolute zero"]);
}
