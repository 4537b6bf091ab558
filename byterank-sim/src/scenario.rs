//! Scenarios: the TOML files that describe a simulated grid, its jobs and the
//! variants to compare (documented field by field in `docs/simulator.md`).
//!
//! Every table refuses unknown fields, and every error names the field it is about
//! (`grid.devices: must be at least 1`), so a typo never silently runs the default.

use std::collections::BTreeMap;

use byterank_core::engine::EngineConfig;
use byterank_core::job::{ByteLevel, Hardware, JobSpec, Preferences, Regions, ReplicationGoal};
use byterank_core::policy::{Distribution, DistributionPolicy, Policy};
use byterank_core::reward::ByteChips;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json;

/// A scenario file.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Short name, used in the report.
    pub name: String,
    /// What the scenario is for.
    #[serde(default)]
    pub description: String,
    /// Seed of every random draw (`--seed` overrides it).
    #[serde(default)]
    pub seed: u64,
    /// Simulated time after which the run stops, seconds.
    pub horizon_s: f64,
    /// Replications: seeds `seed`, `seed + 1`, ... each run by every variant
    /// (`--replications` overrides it).
    #[serde(default = "one")]
    pub replications: u32,
    /// The grid.
    pub grid: GridSpec,
    /// Availability sessions.
    #[serde(default)]
    pub churn: Churn,
    /// Per-attempt faults beyond the classes' rates.
    #[serde(default)]
    pub faults: Faults,
    /// Devices that return the same wrong result.
    #[serde(default)]
    pub colluders: Colluders,
    /// Battery and temperature.
    #[serde(default)]
    pub power: Power,
    /// Overrides of the engine's settings, for every variant (same shape as
    /// `EngineConfig`'s serialization).
    #[serde(default)]
    pub engine: toml::Table,
    /// The kinds of jobs that arrive.
    pub jobs: Vec<JobKind>,
    /// Variants to compare on the same seed; none means one variant, `default`.
    #[serde(default)]
    pub variants: Vec<VariantSpec>,
    /// Distribution policies of the embedder's own that `engine.plan.distribution
    /// = { custom = "name" }` may name ([`Scenario::from_toml_with_policies`]):
    /// code, not part of the file.
    #[serde(skip)]
    pub policies: Vec<Policy>,
}

/// The devices.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct GridSpec {
    /// Number of devices (those that join later included).
    pub devices: usize,
    /// Shares of the classes old phone, new phone, laptop, desktop, poorly connected
    /// (default: the paper's Example 2).
    #[serde(default)]
    pub mix: Option<[f64; 5]>,
    /// Share of devices made trusted by the operator, replacing the generator's
    /// per-class draw (colluders are never trusted).
    #[serde(default)]
    pub trusted_share: Option<f64>,
    /// Devices report their state on change, at most once per this many seconds.
    #[serde(default = "d30")]
    pub report_s: f64,
    /// Heartbeat period of a running attempt, seconds.
    #[serde(default = "d20")]
    pub heartbeat_s: f64,
    /// An idle device that got no task asks again after about this long (uniform
    /// within ±50%), seconds.
    #[serde(default = "d30")]
    pub poll_s: f64,
    /// Each empty answer doubles the wait before the next pull, up to this many
    /// seconds (BOINC clients back off likewise); a task resets it.
    #[serde(default = "d120")]
    pub poll_max_s: f64,
    /// Period of the engine's `Tick`, seconds.
    #[serde(default = "d5")]
    pub tick_s: f64,
    /// Time-series sampling period, seconds.
    #[serde(default = "d60")]
    pub sample_s: f64,
    /// Processor score of the reference device that runs a task's `task_work_s` in
    /// that many seconds with all of its CPU free.
    #[serde(default = "d250")]
    pub reference_score: f64,
}

/// How devices come and go.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Churn {
    /// `none` (the generator's online state holds for the run), `weibull` or
    /// `exponential` on/off sessions.
    #[serde(default)]
    pub model: ChurnModel,
    /// Mean length of an online session, seconds.
    #[serde(default = "d7200")]
    pub on_mean_s: f64,
    /// Mean length of an offline spell, seconds.
    #[serde(default = "d3600")]
    pub off_mean_s: f64,
    /// Weibull shape of both (below 1: many short sessions and a few long ones).
    #[serde(default = "d0_6")]
    pub shape: f64,
    /// Share of the devices that leave for good at a uniform time within the horizon.
    #[serde(default)]
    pub leave_share: f64,
    /// Share of the devices that join at a uniform time within the horizon.
    #[serde(default)]
    pub join_share: f64,
}

impl Default for Churn {
    fn default() -> Self {
        Churn {
            model: ChurnModel::None,
            on_mean_s: 7200.0,
            off_mean_s: 3600.0,
            shape: 0.6,
            leave_share: 0.0,
            join_share: 0.0,
        }
    }
}

/// A churn model.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ChurnModel {
    /// No sessions.
    #[default]
    None,
    /// Weibull sessions (Javadi, Kondo et al. 2009, SETI@home hosts).
    Weibull,
    /// Exponential sessions (BOINC's client emulator).
    Exponential,
}

/// Faults of attempts.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Faults {
    /// Multiplies each device's error probability (clamped to 1).
    #[serde(default = "d1")]
    pub error_scale: f64,
    /// Multiplies each device's delay probability.
    #[serde(default = "d1")]
    pub delay_scale: f64,
    /// Multiplies each device's wrong-result probability.
    #[serde(default = "d1")]
    pub wrong_scale: f64,
    /// Crashes per hour of work (the device goes silent and reboots).
    #[serde(default)]
    pub crash_per_hour: f64,
    /// How long a crashed device stays silent, seconds.
    #[serde(default = "d120")]
    pub reboot_s: f64,
    /// How long a delayed attempt's heartbeats stop, seconds.
    #[serde(default = "d90")]
    pub delay_gap_s: f64,
    /// Probability an attempt runs slow.
    #[serde(default)]
    pub slow_p: f64,
    /// How many times longer a slow attempt computes.
    #[serde(default = "d3")]
    pub slow_factor: f64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            error_scale: 1.0,
            delay_scale: 1.0,
            wrong_scale: 1.0,
            crash_per_hour: 0.0,
            reboot_s: 120.0,
            delay_gap_s: 90.0,
            slow_p: 0.0,
            slow_factor: 3.0,
        }
    }
}

/// Colluding devices.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Colluders {
    /// Share of the devices that collude.
    #[serde(default)]
    pub share: f64,
    /// Probability a colluder returns the shared wrong result on an attempt.
    #[serde(default = "d1")]
    pub rate: f64,
}

impl Default for Colluders {
    fn default() -> Self {
        Colluders { share: 0.0, rate: 1.0 }
    }
}

/// Battery and temperature models.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Power {
    /// Battery drain while working, percentage points per hour.
    #[serde(default = "d20")]
    pub drain_busy_pct_h: f64,
    /// Battery drain while idle, percentage points per hour.
    #[serde(default = "d2")]
    pub drain_idle_pct_h: f64,
    /// Charging rate, percentage points per hour.
    #[serde(default = "d40")]
    pub charge_pct_h: f64,
    /// Temperature rise under load at equilibrium, °F.
    #[serde(default = "d20")]
    pub heat_f: f64,
    /// Time constant of heating and cooling, seconds.
    #[serde(default = "d300")]
    pub heat_tau_s: f64,
}

impl Default for Power {
    fn default() -> Self {
        Power { drain_busy_pct_h: 20.0, drain_idle_pct_h: 2.0, charge_pct_h: 40.0, heat_f: 20.0, heat_tau_s: 300.0 }
    }
}

/// A kind of job and when its jobs arrive.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobKind {
    /// Name (job ids are `<name>-<n>`).
    pub name: String,
    /// Number of jobs (ignored when `at_s` lists the arrivals).
    #[serde(default = "one")]
    pub count: u32,
    /// Listed arrival times, seconds.
    #[serde(default)]
    pub at_s: Vec<f64>,
    /// Poisson arrivals at this rate per hour from `start_s` (otherwise all at
    /// `start_s`).
    #[serde(default)]
    pub rate_per_hour: Option<f64>,
    /// First arrival, seconds.
    #[serde(default)]
    pub start_s: f64,
    /// Unique tasks of each job.
    pub tasks: u64,
    /// Seconds one task computes on the reference device.
    #[serde(default = "d60")]
    pub task_work_s: f64,
    /// Input downloaded per task, MB.
    #[serde(default = "d1")]
    pub input_mb: f64,
    /// Result uploaded per task, MB.
    #[serde(default = "d0_1")]
    pub output_mb: f64,
    /// Price per job, ByteChips (default: 100 per task).
    #[serde(default)]
    pub price_chips: Option<u64>,
    /// ByteLevel.
    #[serde(default)]
    pub byte_level: ByteLevel,
    /// Trusted devices only.
    #[serde(default)]
    pub trusted: bool,
    /// Allowed regions.
    #[serde(default)]
    pub regions: Regions,
    /// Hardware preferences.
    #[serde(default)]
    pub hardware: Hardware,
    /// Replication goal (none: r = 1).
    #[serde(default)]
    pub replication: Option<ReplicationGoal>,
    /// Run with unverified results when the grid cannot hold every copy.
    #[serde(default)]
    pub accept_unverified: bool,
    /// Seconds after its submission at which a job still running fails; a job
    /// whose copies do not all fit waits for devices until then.
    #[serde(default)]
    pub deadline_s: Option<u64>,
}

impl JobKind {
    /// The job the simulator submits for this kind, under `id`.
    pub fn spec(&self, id: String) -> JobSpec {
        let mut spec = JobSpec::new(id, self.tasks);
        spec.price_chips = ByteChips(self.price_chips.unwrap_or(100 * self.tasks));
        spec.preferences = Preferences {
            byte_level: self.byte_level,
            trusted: self.trusted,
            regions: self.regions.clone(),
            hardware: self.hardware.clone(),
        };
        spec.replication = self.replication;
        spec.accept_unverified = self.accept_unverified;
        spec.deadline_s = self.deadline_s;
        spec
    }
}

/// A variant: overrides of engine and job settings.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct VariantSpec {
    /// Its name in the table and plots.
    pub name: String,
    /// Engine overrides (same shape as `EngineConfig`'s serialization).
    #[serde(default)]
    pub engine: toml::Table,
    /// Overrides of every job kind's fields.
    #[serde(default)]
    pub job: toml::Table,
}

/// A variant ready to run.
#[derive(Clone, Debug)]
pub struct Variant {
    /// Its name.
    pub name: String,
    /// The engine's settings.
    pub engine: EngineConfig,
    /// The job kinds with the variant's overrides.
    pub jobs: Vec<JobKind>,
}

/// A scenario that cannot run: the message names the field.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct ScenarioError(pub String);

fn bad(field: impl Into<String>, problem: impl std::fmt::Display) -> ScenarioError {
    ScenarioError(format!("{}: {problem}", field.into()))
}

impl Scenario {
    /// Parses and checks a scenario.
    pub fn from_toml_str(text: &str) -> Result<Scenario, ScenarioError> {
        Scenario::from_toml_with_policies(text, &[])
    }

    /// Parses and checks a scenario whose variants may name `policies`, the
    /// embedder's own, as `engine.plan.distribution = { custom = "<name>" }`
    /// beside the shipped ones.
    pub fn from_toml_with_policies(
        text: &str,
        policies: &[&'static dyn DistributionPolicy],
    ) -> Result<Scenario, ScenarioError> {
        let table: toml::Table = text.parse().map_err(|e: toml::de::Error| ScenarioError(e.to_string()))?;
        let sc: Scenario = serde_path_to_error::deserialize(toml::Value::Table(table)).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner().to_string();
            // toml adds "in `table`" on a line of its own: the path says it already.
            let inner = inner.lines().next().unwrap_or("").trim();
            if path == "." {
                ScenarioError(inner.to_string())
            } else {
                bad(path, inner)
            }
        })?;
        let sc = Scenario { policies: policies.iter().map(|&p| Policy(p)).collect(), ..sc };
        sc.check()?;
        sc.variants()?;
        Ok(sc)
    }

    fn check(&self) -> Result<(), ScenarioError> {
        let share = |f: &str, v: f64| {
            if (0.0..=1.0).contains(&v) {
                Ok(())
            } else {
                Err(bad(f, format!("{v} must be within [0, 1]")))
            }
        };
        let pos = |f: &str, v: f64| {
            if v.is_finite() && v > 0.0 {
                Ok(())
            } else {
                Err(bad(f, format!("{v} must be a positive number")))
            }
        };
        let nonneg = |f: &str, v: f64| {
            if v.is_finite() && v >= 0.0 {
                Ok(())
            } else {
                Err(bad(f, format!("{v} must be a finite number >= 0")))
            }
        };
        pos("horizon_s", self.horizon_s)?;
        if !(1..=MAX_REPLICATIONS).contains(&self.replications) {
            return Err(bad("replications", format!("{} must be within 1..={MAX_REPLICATIONS}", self.replications)));
        }
        let g = &self.grid;
        if g.devices == 0 || g.devices > 9_999_999 {
            return Err(bad("grid.devices", format!("{} must be within 1..=9999999", g.devices)));
        }
        if let Some(mix) = g.mix {
            crate::synth::ClassMix::new(mix).map_err(|e| bad("grid.mix", e))?;
        }
        if let Some(t) = g.trusted_share {
            share("grid.trusted_share", t)?;
        }
        pos("grid.report_s", g.report_s)?;
        pos("grid.heartbeat_s", g.heartbeat_s)?;
        pos("grid.poll_s", g.poll_s)?;
        pos("grid.poll_max_s", g.poll_max_s)?;
        pos("grid.tick_s", g.tick_s)?;
        pos("grid.sample_s", g.sample_s)?;
        pos("grid.reference_score", g.reference_score)?;
        let c = &self.churn;
        pos("churn.on_mean_s", c.on_mean_s)?;
        pos("churn.off_mean_s", c.off_mean_s)?;
        pos("churn.shape", c.shape)?;
        share("churn.leave_share", c.leave_share)?;
        share("churn.join_share", c.join_share)?;
        let f = &self.faults;
        nonneg("faults.error_scale", f.error_scale)?;
        nonneg("faults.delay_scale", f.delay_scale)?;
        nonneg("faults.wrong_scale", f.wrong_scale)?;
        nonneg("faults.crash_per_hour", f.crash_per_hour)?;
        pos("faults.reboot_s", f.reboot_s)?;
        pos("faults.delay_gap_s", f.delay_gap_s)?;
        share("faults.slow_p", f.slow_p)?;
        if !(f.slow_factor.is_finite() && f.slow_factor >= 1.0) {
            return Err(bad("faults.slow_factor", format!("{} must be a number >= 1", f.slow_factor)));
        }
        share("colluders.share", self.colluders.share)?;
        share("colluders.rate", self.colluders.rate)?;
        let p = &self.power;
        nonneg("power.drain_busy_pct_h", p.drain_busy_pct_h)?;
        nonneg("power.drain_idle_pct_h", p.drain_idle_pct_h)?;
        nonneg("power.charge_pct_h", p.charge_pct_h)?;
        nonneg("power.heat_f", p.heat_f)?;
        pos("power.heat_tau_s", p.heat_tau_s)?;
        if self.jobs.is_empty() {
            return Err(bad("jobs", "list at least one kind of job ([[jobs]])"));
        }
        let mut names = BTreeMap::new();
        for (i, j) in self.jobs.iter().enumerate() {
            check_job(&format!("jobs[{i}]"), j)?;
            if names.insert(j.name.clone(), i).is_some() {
                return Err(bad(format!("jobs[{i}].name"), format!("`{}` names two kinds of jobs", j.name)));
            }
        }
        let mut names = BTreeMap::new();
        for (i, v) in self.variants.iter().enumerate() {
            if v.name.is_empty() || names.insert(v.name.clone(), i).is_some() {
                return Err(bad(format!("variants[{i}].name"), format!("`{}` must be a new, non-empty name", v.name)));
            }
        }
        Ok(())
    }

    /// The variants to run, with their overrides applied (one, `default`, when the
    /// scenario lists none).
    pub fn variants(&self) -> Result<Vec<Variant>, ScenarioError> {
        let base = merge_engine("engine", EngineConfig::default(), &self.engine, &self.policies)?;
        if self.variants.is_empty() {
            admissible("jobs", &self.jobs, &base)?;
            return Ok(vec![Variant { name: "default".into(), engine: base, jobs: self.jobs.clone() }]);
        }
        self.variants
            .iter()
            .enumerate()
            .map(|(i, v)| {
                let engine = merge_engine(&format!("variants[{i}].engine"), base.clone(), &v.engine, &self.policies)?;
                let jobs = self
                    .jobs
                    .iter()
                    .map(|j| {
                        let mut value = serde_json::to_value(j).expect("job kinds serialize");
                        merge(&format!("variants[{i}].job"), &mut value, &to_json(&v.job))?;
                        let kind: JobKind = serde_path_to_error::deserialize(value)
                            .map_err(|e| bad(format!("variants[{i}].job.{}", e.path()), e.into_inner()))?;
                        check_job(&format!("variants[{i}].job"), &kind)?;
                        Ok(kind)
                    })
                    .collect::<Result<Vec<_>, ScenarioError>>()?;
                admissible(&format!("variants[{i}].job"), &jobs, &engine)?;
                Ok(Variant { name: v.name.clone(), engine, jobs })
            })
            .collect()
    }
}

/// The most replications a run may ask for.
pub const MAX_REPLICATIONS: u32 = 10_000;

impl Scenario {
    /// Parses a scenario with `path=value` overrides applied to its TOML first, so
    /// they meet the same checks as the file (a typo is an error naming it). A value
    /// is read as a TOML value (`5`, `0.5`, `true`, `[1, 2]`, `{ r = 2 }`) and, if it
    /// is none, as a string (`weibull`).
    pub fn from_toml_with(text: &str, sets: &[String]) -> Result<Scenario, ScenarioError> {
        if sets.is_empty() {
            return Scenario::from_toml_str(text);
        }
        let mut table: toml::Table = text.parse().map_err(|e: toml::de::Error| ScenarioError(e.to_string()))?;
        for set in sets {
            apply_set(&mut table, set).map_err(|e| ScenarioError(format!("--set {set}: {e}")))?;
        }
        let text = toml::to_string(&table).map_err(|e| ScenarioError(e.to_string()))?;
        Scenario::from_toml_str(&text).map_err(|e| {
            let names: Vec<&str> = sets.iter().map(String::as_str).collect();
            ScenarioError(format!("{e} (with --set {})", names.join(", --set ")))
        })
    }

    /// Keeps the variants named in `names`, in that order (an unknown name is an
    /// error listing the known ones).
    pub fn keep_variants(&mut self, names: &[String]) -> Result<(), ScenarioError> {
        let all = self.variants()?;
        let mut kept = Vec::new();
        for name in names {
            let Some(i) = all.iter().position(|v| &v.name == name) else {
                let known: Vec<&str> = all.iter().map(|v| v.name.as_str()).collect();
                return Err(ScenarioError(format!(
                    "--variants: no variant `{name}`; the variants are {}",
                    known.join(", ")
                )));
            };
            if kept.iter().any(|v: &VariantSpec| &v.name == name) {
                return Err(ScenarioError(format!("--variants: `{name}` is named twice")));
            }
            kept.push(self.variants.get(i).cloned().unwrap_or_else(|| VariantSpec {
                name: name.clone(),
                engine: toml::Table::new(),
                job: toml::Table::new(),
            }));
        }
        self.variants = kept;
        Ok(())
    }

    /// What each variant changes from the scenario, as `path = value` lines (the
    /// paths `--set variants[i].` takes), by variant name (an empty list: nothing,
    /// the scenario as written).
    pub fn variant_changes(&self) -> Vec<(String, Vec<String>)> {
        if self.variants.is_empty() {
            return vec![("default".into(), Vec::new())];
        }
        self.variants
            .iter()
            .map(|v| {
                let mut lines = Vec::new();
                flatten("engine", &v.engine, &mut lines);
                flatten("job", &v.job, &mut lines);
                (v.name.clone(), lines)
            })
            .collect()
    }
}

fn flatten(at: &str, t: &toml::Table, out: &mut Vec<String>) {
    for (k, v) in t {
        let path = format!("{at}.{k}");
        match v {
            toml::Value::Table(inner) => flatten(&path, inner, out),
            other => out.push(format!("{path} = {other}")),
        }
    }
}

/// Splits `a.b[2].c` into keys and indexes.
enum Step {
    Key(String),
    Index(usize),
}

fn steps(path: &str) -> Result<Vec<Step>, String> {
    let mut out = Vec::new();
    for part in path.split('.') {
        let (key, mut rest) = part.split_once('[').map_or((part, ""), |(k, r)| (k, r));
        if key.is_empty() {
            return Err(format!("`{path}` has an empty name; write a path like grid.devices or jobs[0].tasks"));
        }
        out.push(Step::Key(key.to_string()));
        while !rest.is_empty() {
            let (ix, after) = rest.split_once(']').ok_or_else(|| format!("`{path}`: `[` without `]`"))?;
            let ix = ix.parse().map_err(|_| format!("`{path}`: `{ix}` is not an index"))?;
            out.push(Step::Index(ix));
            rest = after.strip_prefix('[').unwrap_or(after);
            if !after.is_empty() && !after.starts_with('[') {
                return Err(format!("`{path}`: unexpected `{after}` after `]`"));
            }
        }
    }
    Ok(out)
}

/// Parses a `--set` value: a TOML value, else a string.
pub fn parse_value(text: &str) -> toml::Value {
    format!("v = {text}")
        .parse::<toml::Table>()
        .ok()
        .and_then(|mut t| t.remove("v"))
        .unwrap_or_else(|| toml::Value::String(text.to_string()))
}

/// Applies one `path=value` to a scenario's TOML.
fn apply_set(table: &mut toml::Table, set: &str) -> Result<(), String> {
    let (path, value) = set.split_once('=').ok_or("write it as path=value, e.g. grid.devices=500")?;
    let (path, value) = (path.trim(), parse_value(value.trim()));
    let steps = steps(path)?;
    let mut root = toml::Value::Table(std::mem::take(table));
    let mut slot = &mut root;
    let mut walked = String::new();
    for (i, step) in steps.iter().enumerate() {
        let last = i + 1 == steps.len();
        match step {
            Step::Key(k) => {
                let toml::Value::Table(t) = slot else {
                    return Err(format!("`{walked}` is not a table, so it has no field `{k}`"));
                };
                if !walked.is_empty() {
                    walked.push('.');
                }
                walked.push_str(k);
                if last {
                    t.insert(k.clone(), value.clone());
                    break;
                }
                let next_is_index = matches!(steps.get(i + 1), Some(Step::Index(_)));
                slot = t.entry(k.clone()).or_insert_with(|| {
                    if next_is_index {
                        toml::Value::Array(Vec::new())
                    } else {
                        toml::Value::Table(toml::Table::new())
                    }
                });
            }
            Step::Index(ix) => {
                let toml::Value::Array(a) = slot else {
                    return Err(format!("`{walked}` is not a list, so it has no element [{ix}]"));
                };
                let len = a.len();
                let item = a.get_mut(*ix).ok_or_else(|| format!("`{walked}` has {len} element(s), no [{ix}]"))?;
                walked.push_str(&format!("[{ix}]"));
                if last {
                    *item = value.clone();
                    break;
                }
                slot = item;
            }
        }
    }
    let toml::Value::Table(t) = root else { unreachable!("the root is a table") };
    *table = t;
    Ok(())
}

fn check_job(at: &str, j: &JobKind) -> Result<(), ScenarioError> {
    if j.name.is_empty() {
        return Err(bad(format!("{at}.name"), "must not be empty"));
    }
    if j.tasks == 0 || j.tasks > u64::from(u32::MAX) {
        return Err(bad(format!("{at}.tasks"), format!("{} must be within 1..=4294967295", j.tasks)));
    }
    if j.count == 0 && j.at_s.is_empty() {
        return Err(bad(format!("{at}.count"), "must be at least 1"));
    }
    for (name, v, positive) in [
        ("task_work_s", j.task_work_s, true),
        ("input_mb", j.input_mb, false),
        ("output_mb", j.output_mb, false),
        ("start_s", j.start_s, false),
    ] {
        if !(v.is_finite() && (v > 0.0 || (!positive && v == 0.0))) {
            return Err(bad(
                format!("{at}.{name}"),
                format!("{v} must be a {} number", if positive { "positive" } else { "non-negative" }),
            ));
        }
    }
    if let Some(r) = j.rate_per_hour {
        if !(r.is_finite() && r > 0.0) {
            return Err(bad(format!("{at}.rate_per_hour"), format!("{r} must be a positive number")));
        }
    }
    if let Some(t) = j.at_s.iter().find(|t| !(t.is_finite() && **t >= 0.0)) {
        return Err(bad(format!("{at}.at_s"), format!("{t} must be a time >= 0")));
    }
    let mut spec = byterank_core::job::JobSpec::new(j.name.clone(), j.tasks);
    spec.replication = j.replication;
    spec.work().map_err(|e| bad(format!("{at}.replication"), e))?;
    Ok(())
}

/// The engine's own terms of admission (a bounty for every task, the minimum
/// price per task), checked at load: a scenario whose jobs the engine would
/// refuse measures nothing.
fn admissible(at: &str, jobs: &[JobKind], engine: &EngineConfig) -> Result<(), ScenarioError> {
    let judge = byterank_core::Engine::new(engine.clone()).map_err(|e| bad(at, e))?;
    for (i, j) in jobs.iter().enumerate() {
        judge.check_terms(&j.spec(j.name.clone()), None).map_err(|e| bad(format!("{at}[{i}].price_chips"), e))?;
    }
    Ok(())
}

fn to_json(t: &toml::Table) -> Json {
    serde_json::to_value(t).expect("TOML tables are JSON objects")
}

fn merge_engine(
    at: &str,
    base: EngineConfig,
    over: &toml::Table,
    policies: &[Policy],
) -> Result<EngineConfig, ScenarioError> {
    if over.is_empty() {
        return Ok(base);
    }
    let mut value = serde_json::to_value(&base).expect("the engine's settings serialize");
    merge(at, &mut value, &to_json(over))?;
    // An embedder's policy is code: named in the file, found among those added.
    let custom = value.pointer_mut("/plan/distribution").and_then(|d| {
        let name = d.get("custom")?.as_str()?.to_string();
        *d = Json::String("byte_rank".into());
        Some(name)
    });
    let mut cfg: EngineConfig =
        serde_path_to_error::deserialize(value).map_err(|e| bad(format!("{at}.{}", e.path()), e.into_inner()))?;
    if let Some(name) = custom {
        let Some(&p) = policies.iter().find(|p| p.0.name() == name) else {
            let known: Vec<&str> = policies.iter().map(|p| p.0.name()).collect();
            return Err(bad(
                format!("{at}.plan.distribution.custom"),
                format_args!(
                    "no policy `{name}` was added (added: {}); pass it to Scenario::from_toml_with_policies, or name a shipped one",
                    if known.is_empty() { "none".to_string() } else { known.join(", ") }
                ),
            ));
        };
        cfg.plan.distribution = Distribution::Custom(p);
    }
    crate::driver::Driver::check(&cfg).map_err(|e| bad(at, e))?;
    Ok(cfg)
}

/// Overwrites `base`'s fields with `over`'s, recursively; a field `base` does not
/// have is an error naming it (so a typo is never silently ignored).
fn merge(at: &str, base: &mut Json, over: &Json) -> Result<(), ScenarioError> {
    let (Json::Object(b), Json::Object(o)) = (&mut *base, over) else {
        *base = over.clone();
        return Ok(());
    };
    for (k, v) in o {
        let path = format!("{at}.{k}");
        if !b.contains_key(k) && OPTIONAL.contains(&k.as_str()) {
            // Optional fields that serialize as absent (e.g. a job's replication).
            b.insert(k.clone(), v.clone());
            continue;
        }
        match b.get_mut(k) {
            Some(slot) if slot.is_object() && v.is_object() => merge(&path, slot, v)?,
            Some(slot) => *slot = v.clone(),
            None => {
                let known: Vec<&str> = b.keys().map(String::as_str).collect();
                return Err(bad(path, format!("unknown field `{k}`, expected one of {}", known.join(", "))));
            }
        }
    }
    Ok(())
}

/// Fields of a job kind that may be absent from its serialization.
const OPTIONAL: [&str; 2] = ["replication", "price_chips"];

fn one() -> u32 {
    1
}
fn d0_1() -> f64 {
    0.1
}
fn d0_6() -> f64 {
    0.6
}
fn d1() -> f64 {
    1.0
}
fn d2() -> f64 {
    2.0
}
fn d3() -> f64 {
    3.0
}
fn d5() -> f64 {
    5.0
}
fn d20() -> f64 {
    20.0
}
fn d30() -> f64 {
    30.0
}
fn d40() -> f64 {
    40.0
}
fn d60() -> f64 {
    60.0
}
fn d90() -> f64 {
    90.0
}
fn d120() -> f64 {
    120.0
}
fn d250() -> f64 {
    250.0
}
fn d300() -> f64 {
    300.0
}
fn d3600() -> f64 {
    3600.0
}
fn d7200() -> f64 {
    7200.0
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: &str = "name = \"t\"\nhorizon_s = 100\n[grid]\ndevices = 10\n[[jobs]]\nname = \"a\"\ntasks = 5\n";

    #[test]
    fn a_variant_names_an_added_policy_and_an_unknown_one_is_refused() {
        use byterank_core::indexes::RankedGrid;
        use byterank_core::policy::{Fcfs, Pools};
        use byterank_core::pools::PoolConfig;
        struct Mine;
        impl DistributionPolicy for Mine {
            fn name(&self) -> &str {
                "mine"
            }
            fn pools(&self, r: &RankedGrid, j: &byterank_core::job::JobSpec, s: &[u32], c: &PoolConfig) -> Pools {
                Fcfs.pools(r, j, s, c)
            }
        }
        static MINE: Mine = Mine;
        let text = format!("{MIN}[[variants]]\nname = \"m\"\nengine.plan.distribution = {{ custom = \"mine\" }}\n");
        let err = Scenario::from_toml_str(&text).unwrap_err();
        assert!(err.0.starts_with("variants[0].engine.plan.distribution.custom: no policy `mine`"), "{err}");
        let sc = Scenario::from_toml_with_policies(&text, &[&MINE]).unwrap();
        let v = sc.variants().unwrap();
        assert_eq!(v[0].engine.plan.distribution, Distribution::Custom(Policy(&MINE)));
        assert_eq!(v[0].engine.plan.distribution.name(), "mine");
    }

    #[test]
    fn a_minimal_scenario_parses_with_one_default_variant() {
        let sc = Scenario::from_toml_str(MIN).unwrap();
        let v = sc.variants().unwrap();
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].engine, EngineConfig::default());
    }

    #[test]
    fn errors_name_the_field() {
        let e = Scenario::from_toml_str(&MIN.replace("devices = 10", "devices = 10\ndevicse = 3")).unwrap_err();
        assert!(e.0.starts_with("grid.devicse: unknown field `devicse`"), "{e}");
        let e = Scenario::from_toml_str(&MIN.replace("devices = 10", "devices = 0")).unwrap_err();
        assert!(e.0.starts_with("grid.devices:"), "{e}");
        let e = Scenario::from_toml_str(&MIN.replace("tasks = 5", "tasks = 5\nbyte_level = \"fast\"")).unwrap_err();
        assert!(e.0.starts_with("jobs[0].byte_level:"), "{e}");
        let v = "[[variants]]\nname = \"x\"\nengine.plan.assignmnt = \"paper\"\n";
        let e = Scenario::from_toml_str(&format!("{MIN}{v}")).unwrap_err();
        assert!(e.0.starts_with("variants[0].engine.plan.assignmnt: unknown field"), "{e}");
        let v = "[[variants]]\nname = \"x\"\nengine.plan.assignment = \"best\"\n";
        let e = Scenario::from_toml_str(&format!("{MIN}{v}")).unwrap_err();
        assert!(e.0.starts_with("variants[0].engine.plan.assignment:"), "{e}");
        let v = "[[variants]]\nname = \"x\"\njob.replication = { r = 0.5 }\n";
        let e = Scenario::from_toml_str(&format!("{MIN}{v}")).unwrap_err();
        assert!(e.0.starts_with("variants[0].job.replication:"), "{e}");
        // A price the engine would refuse (5 tasks, 3 ByteChips: 2 for workers).
        let e = Scenario::from_toml_str(&MIN.replace("tasks = 5", "tasks = 5\nprice_chips = 3")).unwrap_err();
        assert!(e.0.starts_with("jobs[0].price_chips:") && e.0.contains("bounty"), "{e}");
        let v = "[[variants]]\nname = \"x\"\njob.price_chips = 4\n";
        let e = Scenario::from_toml_str(&format!("{MIN}{v}")).unwrap_err();
        assert!(e.0.starts_with("variants[0].job[0].price_chips:"), "{e}");
        assert!(Scenario::from_toml_str(&MIN.replace("tasks = 5", "tasks = 5\nprice_chips = 8")).is_ok());
    }

    #[test]
    fn sets_meet_the_same_checks_as_the_file() {
        let sets = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let sc = Scenario::from_toml_with(MIN, &sets(&["grid.devices=7", "churn.model=weibull", "jobs[0].tasks=3"]))
            .unwrap();
        assert_eq!((sc.grid.devices, sc.churn.model, sc.jobs[0].tasks), (7, ChurnModel::Weibull, 3));
        let sc = Scenario::from_toml_with(MIN, &sets(&["faults.slow_p=0.5", "replications=4"])).unwrap();
        assert_eq!((sc.faults.slow_p, sc.replications), (0.5, 4));
        let sc = Scenario::from_toml_with(MIN, &sets(&["jobs[0].replication={ r = 2 }"])).unwrap();
        assert_eq!(sc.jobs[0].replication, Some(ReplicationGoal::R(2.0)));
        for (set, starts) in [
            ("grid.devicse=3", "grid.devicse: unknown field"),
            ("grid.devices=0", "grid.devices:"),
            ("faults.slow_p=2", "faults.slow_p:"),
            ("replications=0", "replications:"),
            ("jobs[1].tasks=3", "--set jobs[1].tasks=3: `jobs` has 1 element(s), no [1]"),
            ("horizon_s.x=3", "--set horizon_s.x=3: `horizon_s` is not a table"),
            ("grid.devices", "--set grid.devices: write it as path=value"),
        ] {
            let e = Scenario::from_toml_with(MIN, &sets(&[set])).unwrap_err();
            assert!(e.0.starts_with(starts), "{set}: {e}");
        }
    }

    #[test]
    fn keep_variants_selects_and_orders_and_names_the_unknown() {
        let v = "[[variants]]\nname = \"a\"\n[[variants]]\nname = \"b\"\nengine.plan.distribution = { random = { seed = 1 } }\n";
        let mut sc = Scenario::from_toml_str(&format!("{MIN}{v}")).unwrap();
        assert_eq!(
            sc.variant_changes(),
            [
                ("a".to_string(), vec![]),
                ("b".to_string(), vec!["engine.plan.distribution.random.seed = 1".to_string()])
            ]
        );
        sc.keep_variants(&["b".into(), "a".into()]).unwrap();
        let names: Vec<String> = sc.variants().unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(names, ["b", "a"]);
        let e = sc.keep_variants(&["c".into()]).unwrap_err();
        assert_eq!(e.0, "--variants: no variant `c`; the variants are b, a");
        let mut plain = Scenario::from_toml_str(MIN).unwrap();
        plain.keep_variants(&["default".into()]).unwrap();
        assert_eq!(plain.variants().unwrap()[0].name, "default");
    }

    #[test]
    fn variants_override_engine_and_jobs() {
        let v = "[[variants]]\nname = \"strict\"\nengine.index.flags.fault_policy.per_component = true\njob.byte_level = \"high\"\njob.replication = { r = 2 }\n";
        let sc = Scenario::from_toml_str(&format!("{MIN}{v}")).unwrap();
        let v = sc.variants().unwrap();
        assert!(v[0].engine.index.flags.fault_policy.per_component);
        assert_eq!(v[0].jobs[0].byte_level, ByteLevel::High);
        assert_eq!(v[0].jobs[0].replication, Some(ReplicationGoal::R(2.0)));
    }
}
