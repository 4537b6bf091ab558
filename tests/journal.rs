//! `byterank journal` on a journal this test writes op by op (through the
//! service's own SQLite journal writer), so that it knows every id, instant and
//! assignment the report must name.

use std::path::PathBuf;
use std::process::{Command, Output};

use byterank::core::{Device, JobSpec, Timestamp};
use byterank::http::auth::KeyRecord;
use byterank::http::journal::sqlite::SqliteJournal;
use byterank::http::journal::Journal;
use byterank::http::service::Op;
use serde_json::{json, Value};

fn byterank(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_byterank")).args(args).output().expect("the binary runs")
}

/// The first op's instant: 2026-12-01T10:00:00Z.
const T0: i64 = 1_796_119_200_000;

/// A data directory, removed when the test ends.
struct Data(PathBuf);

impl Drop for Data {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A data directory with: a user, two devices, a job `j1` of 2 tasks at r = 2
/// created after the first ranking refresh, and one pull by `phone-1`.
fn journal(name: &str) -> Data {
    let dir = std::env::temp_dir().join(format!("byterank-journal-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut j = SqliteJournal::open(&dir).unwrap();
    j.engine_config(None).unwrap();
    let key = |kid: &str| KeyRecord { kid: kid.into(), hash: "0".repeat(64) };
    let device = |id: &str| -> Device { serde_json::from_value(json!({"id": id, "ram_available_mb": 4096})).unwrap() };
    let spec: JobSpec =
        serde_json::from_value(json!({"id": "j1", "chunks": 2, "price_chips": 6000, "replication": {"r": 2}})).unwrap();
    let t = |s: i64| Timestamp(T0 + s * 1000);
    let ops = vec![
        (t(0), Op::Tick),
        (t(1), Op::CreateUser { user: "ana".into(), key: key("00000000000000a1") }),
        (t(1), Op::TopUp { user: "ana".into(), amount: byterank::core::ByteChips(100_000), key: None }),
        (
            t(2),
            Op::RegisterDevice { device: device("phone-1"), owner: "bob".into(), key: Some(key("00000000000000d1")) },
        ),
        (
            t(2),
            Op::RegisterDevice { device: device("phone-2"), owner: "bob".into(), key: Some(key("00000000000000d2")) },
        ),
        // Past the 30 s refresh period: both devices are ranked when the job comes.
        (t(40), Op::CreateJob { job: spec, user: "ana".into(), key: None }),
        (t(41), Op::Pull { device: "phone-1".into(), key: None }),
    ];
    j.commit(&ops, &[]).unwrap();
    Data(dir)
}

fn lines(out: &Output) -> Vec<String> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout.clone()).unwrap().lines().map(str::to_string).collect()
}

/// Exit status 2, nothing on stdout, one line on stderr with every fragment.
#[track_caller]
fn refused(out: &Output, fragments: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing on stdout: {}", String::from_utf8_lossy(&out.stdout));
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    for f in fragments {
        assert!(stderr.contains(f), "`{f}` missing from {stderr}");
    }
}

fn arg(d: &Data) -> &str {
    d.0.to_str().unwrap()
}

#[test]
fn json_names_jobs_and_devices_by_id_and_attempts_by_their_api_number() {
    let dir = journal("json");
    let ops: Vec<Value> = lines(&byterank(&["journal", arg(&dir), "--format", "json"]))
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // Every op the test wrote but the quiet first tick, in order, at its instant.
    let seqs: Vec<u64> = ops.iter().map(|o| o["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6, 7], "the first tick refreshes the ranking and draws the lottery: shown");
    assert_eq!(ops[5]["at"], "2026-12-01T10:00:40Z");
    assert_eq!(ops[5]["op"]["job"]["id"], "j1", "the whole job file is kept in JSON");
    let events: Vec<&Value> = ops.iter().flat_map(|o| o["events"].as_array().unwrap()).collect();
    for e in &events {
        for (key, allowed) in [("job", &["j1"][..]), ("device", &["phone-1", "phone-2"][..])] {
            if let Some(v) = e.get(key) {
                assert!(v.as_str().is_some_and(|s| allowed.contains(&s)), "{key} named by a handle: {e}");
            }
        }
        assert!(e.get("id").is_none(), "the id is the name, not a second field: {e}");
    }
    let accepted = events.iter().find(|e| e["type"] == "job_accepted").expect("j1 accepted");
    assert_eq!(
        (accepted["job"].as_str(), accepted["tasks"].as_u64(), accepted["copies"].as_u64()),
        (Some("j1"), Some(2), Some(4))
    );
    let assigned: Vec<&&Value> = events.iter().filter(|e| e["type"] == "task_assigned").collect();
    assert_eq!(assigned.len(), 1, "one pull, one copy");
    assert_eq!((assigned[0]["job"].as_str(), assigned[0]["device"].as_str()), (Some("j1"), Some("phone-1")));
    assert!(assigned[0]["attempt"].is_u64(), "the attempt as the API gives it: {}", assigned[0]);
}

#[test]
fn a_filter_keeps_what_concerns_the_job_or_device_and_the_table_names_them() {
    let dir = journal("table");
    let table = lines(&byterank(&["journal", arg(&dir), "--job", "j1"]));
    assert_eq!(table[0].split_whitespace().collect::<Vec<_>>(), ["seq", "at", "what"]);
    let body = table[1..].join("\n");
    assert!(table[1].contains("create_job job=j1 user=ana"), "{body}");
    assert!(body.contains("-> job_accepted job=j1 "), "{body}");
    assert!(body.contains("-> task_assigned job=j1 device=phone-1 task="), "{body}");
    assert!(!body.contains("job=0") && !body.contains("device=0"), "no handles: {body}");
    assert!(!body.contains("register_device") && !body.contains("top_up"), "only what concerns j1: {body}");

    let phone2 = lines(&byterank(&["journal", arg(&dir), "--device", "phone-2"]));
    assert_eq!(phone2.len(), 3, "header, its registration and its event: {phone2:?}");
    assert!(phone2[1].contains("register_device device=phone-2 owner=bob"), "{phone2:?}");
    assert!(!phone2[1].contains("hash"), "key records are left out of the table");
}

#[test]
fn nothing_matching_and_an_instant_before_the_first_op_are_refused() {
    let dir = journal("refused");
    refused(&byterank(&["journal", arg(&dir), "--job", "nosuch"]), &["job `nosuch` is not in the journal", "7 ops"]);
    refused(&byterank(&["journal", arg(&dir), "--device", "nosuch", "--format", "json"]), &["device `nosuch`"]);
    // j1 is created at +40 s: at +10 s it is not there yet.
    refused(
        &byterank(&["journal", arg(&dir), "--job", "j1", "--at", "2026-12-01T10:00:10Z"]),
        &["job `j1` is not in the journal", "up to 2026-12-01T10:00:10Z"],
    );
    refused(
        &byterank(&["journal", arg(&dir), "--at", "2020-01-01T00:00:00Z"]),
        &["--at 2020-01-01T00:00:00Z is before the journal's first op (2026-12-01T10:00:00Z)"],
    );
    refused(&byterank(&["journal", arg(&dir), "--format", "yaml"]), &["yaml"]);
    // An id with a line break is named on one line.
    refused(&byterank(&["journal", arg(&dir), "--job", "a\nb"]), &["job `a"]);
}

#[test]
fn at_rebuilds_the_state_then() {
    let dir = journal("at");
    let out = lines(&byterank(&["journal", arg(&dir), "--at", "2026-12-01T10:00:20Z"]));
    let state = out.iter().position(|l| l.starts_with("state at ")).expect("a state section");
    assert_eq!(out[state], "state at 2026-12-01T10:00:20Z (the last op before it: 5 at 2026-12-01T10:00:02Z):");
    assert!(out.contains(&"  devices: 2 live".to_string()) && out.contains(&"  jobs: 0".to_string()), "{out:?}");
    assert!(out.contains(&"    user ana: topped up 100000, charged 0".to_string()), "{out:?}");

    let out = lines(&byterank(&["journal", arg(&dir), "--at", "2030-01-01T00:00:00Z", "--format", "json"]));
    let state: Value = serde_json::from_str(out.last().unwrap()).unwrap();
    let state = &state["state"];
    assert_eq!(state["last_op"], json!({"seq": 7, "at": "2026-12-01T10:00:41Z"}));
    assert_eq!(state["jobs"][0]["job"], "j1");
    assert_eq!(state["users"][0], json!({"user": "ana", "topped_up": 100000, "charged": 6000}));
    let held = state["devices"].as_array().unwrap();
    assert_eq!(held.iter().map(|d| d["device"].as_str().unwrap()).collect::<Vec<_>>(), ["phone-1", "phone-2"]);
}
