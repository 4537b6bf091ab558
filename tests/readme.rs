//! The README, run as a newcomer would paste it, and compared with what it shows.
//!
//! Every ```` ```console ```` block of README.md is run, in order, in one bash
//! session (so a variable set in one block is there in the next), in a fresh
//! directory that holds a link to `examples/`. A line starting with `$ ` is a
//! command (a line ending in `\` continues it); the lines under it, up to the next
//! command, are what it prints, stdout and stderr as a terminal shows them. What a
//! command prints must match them byte for byte, but for snapbox's wildcards:
//!
//! - `[..]` in a line stands for any text within that line (times, keys, ids the
//!   service generates);
//! - `...` alone on a line stands for any number of lines.
//!
//! A command under which the README shows nothing must print nothing.
//!
//! What the test changes, and only this: `cargo run [-q] [--release] [--example
//! NAME] -- ARGS` runs the `byterank` binary `cargo test` built (or the example,
//! built in the dev profile), so that the test needs no release build; and port
//! 8080 becomes a free port, written back as 8080 in what the commands print.
//!
//! A block right under `<!-- readme-test: not run: WHY -->` is not run (the
//! multi-minute runs, and what needs PostgreSQL).
//!
//! `README_BLESS=1 cargo test --test readme` rewrites the README's outputs from a
//! real run instead of comparing, keeping every `[..]` and `...` that still
//! matches: review the diff, and put `[..]` where a figure differs between runs.

use std::fmt::Write as _;
use std::io::Read;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use snapbox::{assert::Action, Assert, Data};

const README: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/README.md");
const SKIP: &str = "<!-- readme-test: not run:";
/// What the whole README may take, the service walk-through included.
const LIMIT: Duration = Duration::from_secs(600);

/// One command of a console block, with what the README shows under it.
struct Step {
    /// The command as a reader types it, continuation lines joined.
    command: String,
    /// The README's lines under it (0-based, half-open) and their text.
    lines: (usize, usize),
    expected: String,
}

/// The commands of the README's console blocks that are run, in order.
fn steps(readme: &str) -> Vec<Step> {
    let lines: Vec<&str> = readme.lines().collect();
    let mut steps = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let fence = lines[i].trim_end() == "```console";
        let skipped = lines[..i].iter().rev().find(|l| !l.trim().is_empty()).is_some_and(|l| l.starts_with(SKIP));
        i += 1;
        if !fence {
            continue;
        }
        let mut block: Vec<Step> = Vec::new();
        while i < lines.len() && !lines[i].starts_with("```") {
            if let Some(cmd) = lines[i].strip_prefix("$ ") {
                let mut command = cmd.to_string();
                while command.ends_with('\\') && i + 1 < lines.len() {
                    i += 1;
                    command.push('\n');
                    command.push_str(lines[i]);
                }
                block.push(Step { command, lines: (i + 1, i + 1), expected: String::new() });
            } else {
                let s = block.last_mut().unwrap_or_else(|| panic!("README.md:{}: output before any command", i + 1));
                s.lines.1 = i + 1;
                s.expected.push_str(lines[i]);
                s.expected.push('\n');
            }
            i += 1;
        }
        if !skipped {
            steps.extend(block);
        }
        i += 1;
    }
    steps
}

/// A fresh directory with `examples/` linked in, and `bin/cargo`, the stand-in.
fn workdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("byterank-readme-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("bin")).unwrap();
    std::os::unix::fs::symlink(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples"), dir.join("examples")).unwrap();
    let bin = Path::new(env!("CARGO_BIN_EXE_byterank"));
    let examples = bin.parent().unwrap().join("examples");
    let real_cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let shim = format!(
        r#"#!/usr/bin/env bash
# `cargo run [-q] [--release] [--example NAME] -- ARGS`, run with what `cargo test` built.
[ "$1" = run ] || {{ echo "readme test: only \`cargo run\` is run, not \`cargo $*\`" >&2; exit 99; }}
shift
exe='{bin}'
while [ $# -gt 0 ]; do
    case "$1" in
        -q|--quiet|--release) shift ;;
        --example)
            '{real_cargo}' build -q --manifest-path '{manifest}' --example "$2" || exit 99
            exe='{examples}'/"$2"; shift 2 ;;
        --) shift; break ;;
        *) echo "readme test: unexpected \`$1\` in cargo run" >&2; exit 99 ;;
    esac
done
exec "$exe" "$@"
"#,
        bin = bin.display(),
        examples = examples.display(),
        manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml"),
    );
    let path = dir.join("bin/cargo");
    std::fs::write(&path, shim).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    dir
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Separates the commands' outputs: ASCII record separators around the index.
fn marker(i: usize) -> String {
    format!("\n\x1e{i}\x1e\n")
}

/// Runs the steps in one bash session; returns what each printed.
fn run(steps: &[Step], dir: &Path, port: u16) -> Vec<String> {
    let mut script =
        format!("exec 2>&1\ncd '{}'\nexport PATH='{}':\"$PATH\"\n", dir.display(), dir.join("bin").display());
    for (i, s) in steps.iter().enumerate() {
        let _ = writeln!(script, "{}", s.command.replace("8080", &port.to_string()));
        let _ = writeln!(script, "printf '{}'", marker(i).replace('\n', "\\n").replace('\x1e', "\\036"));
    }
    let mut child = Command::new("bash")
        .args(["--noprofile", "--norc", "-c", &script])
        .env_remove("BYTERANK_OPERATOR_KEY")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .process_group(0)
        .spawn()
        .expect("bash runs");
    let group = child.id() as i32;
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut out = Vec::new();
        let _ = stdout.read_to_end(&mut out);
        out
    });
    let start = Instant::now();
    let finished = loop {
        if child.try_wait().unwrap().is_some() {
            break true;
        }
        if start.elapsed() > LIMIT {
            break false;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    // Whatever the README left running (it should stop its server and workers).
    let _ = Command::new("kill").args(["-KILL", "--", &format!("-{group}")]).stderr(Stdio::null()).status();
    let _ = child.wait();
    let out = String::from_utf8_lossy(&reader.join().unwrap()).replace(&format!(":{port}"), ":8080");
    assert!(finished, "the README's commands did not finish within {LIMIT:?}; they printed:\n{out}");
    let mut outputs = Vec::new();
    let mut rest = out.as_str();
    for (i, step) in steps.iter().enumerate() {
        let Some((printed, after)) = rest.split_once(&marker(i)) else {
            panic!("the session stopped at `{}`; it printed:\n{rest}", step.command)
        };
        outputs.push(printed.to_string());
        rest = after;
    }
    outputs
}

/// `actual` with a final newline, as the README shows it.
fn as_shown(actual: &str) -> String {
    let body = actual.trim_end_matches('\n');
    if body.is_empty() {
        String::new()
    } else {
        format!("{body}\n")
    }
}

/// `readme` with each step's shown output replaced by what it printed, the
/// wildcards that still match kept.
fn blessed(readme: &str, steps: &[Step], outputs: &[String]) -> String {
    let mut lines: Vec<String> = readme.lines().map(str::to_string).collect();
    // From the end, so that earlier line numbers stay right.
    for (s, actual) in steps.iter().zip(outputs).rev() {
        let (normalized, _) = Assert::new().normalize(Data::text(as_shown(actual)), Data::text(s.expected.clone()));
        let new = normalized.render().unwrap_or_default();
        lines.splice(s.lines.0..s.lines.1, new.lines().map(str::to_string));
    }
    lines.join("\n") + "\n"
}

#[test]
fn the_readme_runs_and_prints_what_it_shows() {
    for tool in ["bash", "curl", "jq"] {
        let found = Command::new(tool).arg("--version").stdout(Stdio::null()).status().is_ok_and(|s| s.success());
        assert!(found, "the README's commands need `{tool}` on the PATH (apt-get install {tool})");
    }
    let readme = std::fs::read_to_string(README).unwrap();
    let steps = steps(&readme);
    assert!(steps.len() > 20, "the README's commands were found: {}", steps.len());
    let dir = workdir();
    let outputs = run(&steps, &dir, free_port());
    let assert = Assert::new().action(Action::Verify);
    if std::env::var_os("README_BLESS").is_some() {
        std::fs::write(README, blessed(&readme, &steps, &outputs)).unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        return;
    }
    let mut failures = String::new();
    for (s, actual) in steps.iter().zip(&outputs) {
        let label = format!("README.md:{}: $ {}", s.lines.0, s.command);
        if let Err(e) = assert.try_eq(Some(&label), Data::text(as_shown(actual)), Data::text(s.expected.clone())) {
            let _ = writeln!(failures, "{e}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "the README does not show what its commands print \
         (README_BLESS=1 cargo test --test readme rewrites it):\n{failures}"
    );
}

#[test]
fn the_parser_finds_commands_outputs_and_skipped_blocks() {
    let md = "text\n```console\n$ echo a \\\n  b\na b\n$ true\n```\n\n<!-- readme-test: not run: slow -->\n\
              ```console\n$ sleep 999\n$ sleep 998\n```\n```text\n$ not a command\n```\n```console\n$ echo c\n...\n```\n";
    let steps = steps(md);
    let got: Vec<(&str, &str, (usize, usize))> =
        steps.iter().map(|s| (s.command.as_str(), s.expected.as_str(), s.lines)).collect();
    assert_eq!(got, [("echo a \\\n  b", "a b\n", (4, 5)), ("true", "", (6, 6)), ("echo c", "...\n", (18, 19))]);
}

#[test]
fn bless_rewrites_outputs_and_keeps_the_wildcards_that_match() {
    let md = "# t\n```console\n$ a\nkey [..] at [..]\n...\nend\n$ b\nold\nlines\n$ c\n```\ntail\n";
    let steps = steps(md);
    let printed = ["key k1 at 10:00\nx\ny\nend\n", "new\n", "now something\n"].map(String::from);
    assert_eq!(
        blessed(md, &steps, &printed),
        "# t\n```console\n$ a\nkey [..] at [..]\n...\nend\n$ b\nnew\n$ c\nnow something\n```\ntail\n"
    );
}
