//! The engine's settings, and the checks they pass when an engine is made.

use alloc::format;
use alloc::string::ToString;

use super::attempts::Deadlines;
use super::error::ConfigError;
use crate::indexes::IndexConfig;
use crate::plan::PlanConfig;

/// Engine settings. `Default` gives the documented values; [`Engine::new`](super::Engine::new) checks them.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EngineConfig {
    /// Grid indexes and flags.
    pub index: IndexConfig,
    /// Job planning.
    pub plan: PlanConfig,
    /// No heartbeat for this long marks an attempt delayed (default 60 s).
    pub t1_ms: i64,
    /// No heartbeat or result for this long makes it stale (default 180 s).
    pub t2_ms: i64,
    /// However many heartbeats it sent, an attempt running this long is stale
    /// (default 30 minutes, like BOINC's report deadline).
    pub max_attempt_ms: i64,
    /// Ranking refresh period (default 30 s).
    pub refresh_ms: i64,
    /// Agreeing results that make a task's verdict final (default 2; a task
    /// planned with fewer copies needs as many as it has).
    pub quorum: u32,
    /// Failed attempts after which a task fails its job, and extra copies a task
    /// may get to reach a verdict (default 5).
    pub max_failures: u32,
    /// Tasks a device may hold at once (default 2: one running, one downloading).
    pub in_hand: usize,
    /// Share of the ranking, from the top, whose trusted devices serve the rescue
    /// queue at once (default 0.25).
    pub rescue_share: f64,
    /// How long a rescue copy waits for a fast trusted device before any eligible
    /// device may take it (default 60 s), and a job's queued copies wait, with
    /// nothing of the job running, before they move to the rescue queue.
    pub rescue_wait_ms: i64,
    /// A running job whose target subset stays empty this long fails (default 10
    /// minutes): its devices left, or none qualifies any more.
    pub starve_ms: i64,
    /// How far into a queue a pull looks past copies the device may not take.
    pub queue_window: usize,
    /// Fair-share weights of running jobs by ByteLevel: low, balanced, high
    /// (default 1, 2, 4): a job gets copies in proportion to its weight.
    pub share_weights: [u32; 3],
    /// Seed of the daily lottery draws.
    pub lottery_seed: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            index: IndexConfig::default(),
            plan: PlanConfig::default(),
            t1_ms: 60_000,
            t2_ms: 180_000,
            max_attempt_ms: 1_800_000,
            refresh_ms: 30_000,
            quorum: 2,
            max_failures: 5,
            in_hand: 2,
            rescue_share: 0.25,
            rescue_wait_ms: 60_000,
            starve_ms: 600_000,
            queue_window: 16,
            share_weights: [1, 2, 4],
            lottery_seed: 0,
        }
    }
}

impl EngineConfig {
    /// Checks every setting the engine relies on.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rule = |ok: bool, field: &'static str, value: &dyn core::fmt::Display, rule: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError { field, value: value.to_string(), rule })
            }
        };
        rule(self.t1_ms > 0, "t1_ms", &self.t1_ms, "positive")?;
        rule(self.t2_ms > self.t1_ms, "t2_ms", &self.t2_ms, "greater than t1_ms")?;
        rule(self.max_attempt_ms > self.t2_ms, "max_attempt_ms", &self.max_attempt_ms, "greater than t2_ms")?;
        rule(self.refresh_ms > 0, "refresh_ms", &self.refresh_ms, "positive")?;
        rule(self.quorum >= 1, "quorum", &self.quorum, "at least 1")?;
        rule(self.max_failures >= 1, "max_failures", &self.max_failures, "at least 1")?;
        rule(self.in_hand >= 1, "in_hand", &self.in_hand, "at least 1")?;
        let share = self.rescue_share;
        rule((0.0..=1.0).contains(&share), "rescue_share", &share, "a number in [0, 1]")?;
        rule(self.rescue_wait_ms >= 0, "rescue_wait_ms", &self.rescue_wait_ms, "0 or more")?;
        rule(self.starve_ms >= 0, "starve_ms", &self.starve_ms, "0 or more")?;
        rule(self.queue_window >= 1, "queue_window", &self.queue_window, "at least 1")?;
        let weights = self.share_weights;
        rule(weights.iter().all(|&w| w >= 1), "share_weights", &format!("{weights:?}"), "at least 1 each")?;
        let p = &self.plan;
        rule(p.max_r.is_finite() && p.max_r >= 1.0, "plan.max_r", &p.max_r, "a finite number >= 1")?;
        let floor = p.min_failure_probability;
        rule((0.0..=1.0).contains(&floor), "plan.min_failure_probability", &floor, "a number in [0, 1]")?;
        Ok(())
    }

    pub(super) fn deadlines(&self) -> Deadlines {
        Deadlines { t1_ms: self.t1_ms, t2_ms: self.t2_ms, max_ms: self.max_attempt_ms }
    }
}
