//! The process harness the service tests share: start `byterank serve` and wait
//! until it listens, start workers, and kill every child when the test ends
//! (passed or not). Each test file uses what it needs of it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use byterank::core::EngineConfig;

/// The `byterank` binary cargo built for these tests.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_byterank")
}

/// A fresh, empty directory for one test: `byterank-{prefix}-{name}-{pid}`.
pub fn temp_dir(prefix: &str, name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("byterank-{prefix}-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// `cfg` written as `dir/engine.json`, for `--engine-config`.
pub fn write_engine_config(dir: &Path, cfg: &EngineConfig) -> PathBuf {
    let path = dir.join("engine.json");
    std::fs::write(&path, serde_json::to_string(cfg).unwrap()).unwrap();
    path
}

/// A child process, killed (SIGKILL) and reaped when dropped.
pub struct Proc(pub Child);

impl Proc {
    /// `kill -9`, and wait for it to end.
    pub fn kill9(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// `byterank serve` with `args` after `serve`, the operator's `key` in
/// BYTERANK_OPERATOR_KEY and `envs`: returns once it printed `listening on
/// URL`, with the process and that URL. Its stderr goes to the test's.
pub fn serve<I, S>(args: I, key: &str, envs: &[(&str, String)]) -> (Proc, String)
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut child = Command::new(bin())
        .arg("serve")
        .args(args)
        .env("BYTERANK_OPERATOR_KEY", key)
        .envs(envs.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("no address in {line:?}")).to_string();
    (Proc(child), url)
}

/// `n` `byterank worker` processes of one owner (BYTERANK_OWNER_KEY), with ids
/// `{prefix}-{i}`, their tokens in `dir`, and `servers` as their `--server`s.
pub fn workers(servers: &[&str], dir: &Path, owner_key: &str, prefix: &str, n: usize) -> Vec<Proc> {
    (0..n)
        .map(|i| {
            let id = format!("{prefix}-{i}");
            let mut cmd = Command::new(bin());
            cmd.arg("worker");
            for s in servers {
                cmd.args(["--server", s]);
            }
            let child = cmd
                .args(["--id", &id])
                .env("BYTERANK_OWNER_KEY", owner_key)
                .arg("--token-file")
                .arg(dir.join(format!("{id}.token")))
                .stdout(Stdio::null())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            Proc(child)
        })
        .collect()
}
