//! The engine's settings, and the checks they pass when an engine is made.

use alloc::format;
use alloc::string::ToString;

use super::admission::ReplicationAdmission;
use super::attempts::Deadlines;
use super::credibility::CredibilityConfig;
use super::error::ConfigError;
use crate::indexes::IndexConfig;
use crate::plan::PlanConfig;
use crate::reward::ByteChips;

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
    /// device may take it (default 60 s); and how long a running job may go with
    /// no copy running and none taken before its queued copies leave their pools
    /// for the rescue queue, where any eligible device of its pools may take them
    /// at once (if none may, the job fails).
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
    /// Least price per task a job must pay (default 0: none but the rule that
    /// every task's bounty is at least 1 ByteChip). Adapters may ask more; this
    /// is the floor every one of them shares.
    #[cfg_attr(feature = "serde", serde(default))]
    pub min_task_price: ByteChips,
    /// Which failed attempts count toward a task's `max_failures` (default
    /// [`FailureAttribution::Task`], spec §11c).
    #[cfg_attr(feature = "serde", serde(default))]
    pub failure_attribution: FailureAttribution,
    /// Short tails: speculative copies of a job's last tasks and its last copies
    /// kept off slow devices (see [`Speculation`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub speculation: Speculation,
    /// What admission does with a job whose replication cannot be met (default
    /// strict: refused, or waiting until its deadline, unless it accepts
    /// unverified results; lenient places what it can and runs).
    #[cfg_attr(feature = "serde", serde(default))]
    pub replication_admission: ReplicationAdmission,
    /// Credibility-weighted verdicts (on by default).
    #[cfg_attr(feature = "serde", serde(default))]
    pub credibility: CredibilityConfig,
}

/// Which failed attempts count toward a task's failure limit (`max_failures`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum FailureAttribution {
    /// Only outcomes that point at the task count: error reports (FAILED) and
    /// results that fail integrity (INCORRECT), once per distinct device. Stale,
    /// offline, departed and abandoned attempts point at the device: they are
    /// recorded on its history and get the task a new copy. A copy no device may
    /// take fails its job only after waiting `starve_ms` (spec §11c).
    #[default]
    Task,
    /// Every failed attempt but one abandoned by a departing device counts, stale
    /// ones included, and a copy no device may take fails its job at once: kept
    /// so the simulator can compare.
    Any,
}

/// Short tails, after LATE (Zaharia et al., OSDI 2008): when a device finds no
/// copy of a job that has none queued, it may get a speculative copy of the
/// running task with the longest estimated time to end, if it is expected to end
/// it sooner; and in a job's tail a device far slower than the job's median gets
/// no regular copy of it. `docs/simulator.md` ("Tails") gives the rules and their measure.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default))]
pub struct Speculation {
    /// Both rules on (default true); off is the engine without them.
    pub enabled: bool,
    /// Speculative copies a job may get, as a share of its tasks (default 0.1;
    /// at least one copy when positive). A task gets at most one.
    pub max_share: f64,
    /// How much slower than the job's median device a device must be to get no
    /// regular copy in the job's tail, which begins when fewer copies are queued
    /// than the job's pool devices divided by this factor (default 4).
    pub slow_factor: f64,
}

impl Default for Speculation {
    fn default() -> Self {
        Speculation { enabled: true, max_share: 0.1, slow_factor: 4.0 }
    }
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
            min_task_price: ByteChips::ZERO,
            failure_attribution: FailureAttribution::Task,
            speculation: Speculation::default(),
            replication_admission: ReplicationAdmission::Strict,
            credibility: CredibilityConfig::default(),
        }
    }
}

/// The largest fair-share weight: with the stride scheduler's 2^20 a weight this
/// large still advances a job's pass by 1,024, so weights keep their ratios to
/// within 0.1%.
pub const MAX_SHARE_WEIGHT: u32 = 1 << 10;

/// The most tasks a device may hold at once.
pub const MAX_IN_HAND: usize = 1 << 10;

impl EngineConfig {
    /// Checks every setting, the nested ones included: the first that breaks
    /// its rule is the error, naming the field by its path.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let rule = |ok: bool, field: &'static str, value: &dyn core::fmt::Display, rule: &'static str| {
            if ok {
                Ok(())
            } else {
                Err(ConfigError { field, value: value.to_string(), rule })
            }
        };
        let unit = |x: f64| (0.0..=1.0).contains(&x);
        let finite_min = |x: f64, min: f64| x.is_finite() && x >= min;
        rule(self.t1_ms > 0, "t1_ms", &self.t1_ms, "positive")?;
        rule(self.t2_ms > self.t1_ms, "t2_ms", &self.t2_ms, "greater than t1_ms")?;
        rule(self.max_attempt_ms > self.t2_ms, "max_attempt_ms", &self.max_attempt_ms, "greater than t2_ms")?;
        rule(self.refresh_ms > 0, "refresh_ms", &self.refresh_ms, "positive")?;
        rule(self.quorum >= 1, "quorum", &self.quorum, "at least 1")?;
        rule(self.max_failures >= 1, "max_failures", &self.max_failures, "at least 1")?;
        let hand = self.in_hand;
        rule((1..=MAX_IN_HAND).contains(&hand), "in_hand", &hand, "between 1 and 1024")?;
        rule(unit(self.rescue_share), "rescue_share", &self.rescue_share, "a number in [0, 1]")?;
        rule(self.rescue_wait_ms >= 0, "rescue_wait_ms", &self.rescue_wait_ms, "0 or more")?;
        rule(self.starve_ms >= 0, "starve_ms", &self.starve_ms, "0 or more")?;
        rule(self.queue_window >= 1, "queue_window", &self.queue_window, "at least 1")?;
        let weights = self.share_weights;
        let ok = weights.iter().all(|w| (1..=MAX_SHARE_WEIGHT).contains(w));
        rule(ok, "share_weights", &format!("{weights:?}"), "between 1 and 1024 each")?;
        // `lottery_seed`, `replication_admission`: any value.
        let spec = &self.speculation;
        rule(unit(spec.max_share), "speculation.max_share", &spec.max_share, "a number in [0, 1]")?;
        let slow = spec.slow_factor;
        rule(finite_min(slow, 1.0), "speculation.slow_factor", &slow, "a finite number >= 1")?;
        let cr = &self.credibility;
        rule(unit(cr.assumed_bad), "credibility.assumed_bad", &cr.assumed_bad, "a number in [0, 1]")?;
        rule(unit(cr.max_error), "credibility.max_error", &cr.max_error, "a number in [0, 1]")?;

        let c = &self.index.capacity;
        let constants = [
            ("index.capacity.processor_default", c.processor_default),
            ("index.capacity.category_default", c.category_default),
            ("index.capacity.speed_default", c.speed_default),
            ("index.capacity.stability_default", c.stability_default),
            ("index.capacity.ram_default", c.ram_default),
            ("index.capacity.cpu_default", c.cpu_default),
            ("index.capacity.speed_l", c.speed_l),
            ("index.capacity.speed_k", c.speed_k),
            ("index.capacity.speed_u", c.speed_u),
            ("index.capacity.stability_c", c.stability_c),
            ("index.capacity.ram_l", c.ram_l),
            ("index.capacity.ram_k", c.ram_k),
            ("index.capacity.ram_x0", c.ram_x0),
            ("index.capacity.cpu_a", c.cpu_a),
            ("index.capacity.cpu_b", c.cpu_b),
            ("index.capacity.cpu_c", c.cpu_c),
        ];
        for (field, x) in constants {
            rule(x.is_finite(), field, &x, "a finite number")?;
        }
        let f = &self.index.flags;
        rule(f.min_battery_pct.is_finite(), "index.flags.min_battery_pct", &f.min_battery_pct, "a finite number")?;
        let t = f.max_temperature_f;
        rule(t.is_finite(), "index.flags.max_temperature_f", &t, "a finite number")?;
        let rate = f.fault_policy.max_fault_rate;
        rule(unit(rate), "index.flags.fault_policy.max_fault_rate", &rate, "a number in [0, 1]")?;
        let l = &self.index.lottery;
        rule(finite_min(l.c, 0.0), "index.lottery.c", &l.c, "a finite number >= 0")?;
        rule(finite_min(l.beta, 0.0), "index.lottery.beta", &l.beta, "a finite number >= 0")?;
        // `index.lottery.boost`: any number of places (a winner stops at the top).

        let p = &self.plan;
        rule(finite_min(p.max_r, 1.0), "plan.max_r", &p.max_r, "a finite number >= 1")?;
        let floor = p.min_failure_probability;
        rule(unit(floor), "plan.min_failure_probability", &floor, "a number in [0, 1]")?;
        let f = &p.failure_prior;
        rule(unit(f.fault), "plan.failure_prior.fault", &f.fault, "a number in [0, 1]")?;
        let positive = [
            ("plan.failure_prior.fault_weight", f.fault_weight),
            ("plan.failure_prior.session_ms", f.session_ms),
            ("plan.failure_prior.session_weight", f.session_weight),
            ("plan.failure_prior.attempt_ms", f.attempt_ms),
            ("plan.failure_prior.attempt_weight", f.attempt_weight),
        ];
        for (field, x) in positive {
            rule(x.is_finite() && x > 0.0, field, &x, "a finite number > 0")?;
        }
        let pools = &p.pools;
        rule(pools.target_pools >= 1, "plan.pools.target_pools", &pools.target_pools, "at least 1")?;
        let factor = pools.c_min_factor;
        rule(finite_min(factor, 0.0), "plan.pools.c_min_factor", &factor, "a finite number >= 0")?;
        let shares = pools.level_share;
        let ok = shares.iter().all(|&x| unit(x));
        rule(ok, "plan.pools.level_share", &format!("{shares:?}"), "numbers in [0, 1]")?;
        let r = &p.rewards;
        rule(r.workers_denominator >= 1, "plan.rewards.workers_denominator", &r.workers_denominator, "at least 1")?;
        let share = format!("{}/{}", r.workers_numerator, r.workers_denominator);
        rule(
            r.workers_numerator <= r.workers_denominator,
            "plan.rewards.workers_numerator",
            &share,
            "at most the denominator (a share of at most 1)",
        )?;
        // `plan.assignment` and `plan.distribution`: every variant is valid.
        Ok(())
    }

    pub(super) fn deadlines(&self) -> Deadlines {
        Deadlines { t1_ms: self.t1_ms, t2_ms: self.t2_ms, max_ms: self.max_attempt_ms }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One broken setting per rule, each named in its error, and nothing else
    /// wrong: the defaults pass.
    #[test]
    fn every_rule_names_its_field() {
        assert_eq!(EngineConfig::default().validate(), Ok(()));
        type Break = fn(&mut EngineConfig);
        let cases: &[(&str, Break)] = &[
            ("t1_ms", |c| c.t1_ms = 0),
            ("t2_ms", |c| c.t2_ms = c.t1_ms),
            ("max_attempt_ms", |c| c.max_attempt_ms = c.t2_ms),
            ("refresh_ms", |c| c.refresh_ms = 0),
            ("quorum", |c| c.quorum = 0),
            ("max_failures", |c| c.max_failures = 0),
            ("in_hand", |c| c.in_hand = 0),
            ("in_hand", |c| c.in_hand = MAX_IN_HAND + 1),
            ("rescue_share", |c| c.rescue_share = f64::NAN),
            ("rescue_share", |c| c.rescue_share = 1.5),
            ("rescue_wait_ms", |c| c.rescue_wait_ms = -1),
            ("starve_ms", |c| c.starve_ms = -1),
            ("queue_window", |c| c.queue_window = 0),
            ("share_weights", |c| c.share_weights = [1, 0, 4]),
            ("share_weights", |c| c.share_weights = [1, 2, (1 << 20) + 1]),
            ("speculation.max_share", |c| c.speculation.max_share = 1.5),
            ("speculation.slow_factor", |c| c.speculation.slow_factor = 0.5),
            ("speculation.slow_factor", |c| c.speculation.slow_factor = f64::NAN),
            ("credibility.assumed_bad", |c| c.credibility.assumed_bad = f64::NAN),
            ("credibility.max_error", |c| c.credibility.max_error = 1.5),
            ("index.capacity.processor_default", |c| c.index.capacity.processor_default = f64::NAN),
            ("index.capacity.category_default", |c| c.index.capacity.category_default = f64::INFINITY),
            ("index.capacity.speed_default", |c| c.index.capacity.speed_default = f64::NAN),
            ("index.capacity.stability_default", |c| c.index.capacity.stability_default = f64::NAN),
            ("index.capacity.ram_default", |c| c.index.capacity.ram_default = f64::NAN),
            ("index.capacity.cpu_default", |c| c.index.capacity.cpu_default = f64::NAN),
            ("index.capacity.speed_l", |c| c.index.capacity.speed_l = f64::NAN),
            ("index.capacity.speed_k", |c| c.index.capacity.speed_k = f64::NEG_INFINITY),
            ("index.capacity.speed_u", |c| c.index.capacity.speed_u = f64::NAN),
            ("index.capacity.stability_c", |c| c.index.capacity.stability_c = f64::NAN),
            ("index.capacity.ram_l", |c| c.index.capacity.ram_l = f64::NAN),
            ("index.capacity.ram_k", |c| c.index.capacity.ram_k = f64::NAN),
            ("index.capacity.ram_x0", |c| c.index.capacity.ram_x0 = f64::NAN),
            ("index.capacity.cpu_a", |c| c.index.capacity.cpu_a = f64::NAN),
            ("index.capacity.cpu_b", |c| c.index.capacity.cpu_b = f64::NAN),
            ("index.capacity.cpu_c", |c| c.index.capacity.cpu_c = f64::NAN),
            ("index.flags.min_battery_pct", |c| c.index.flags.min_battery_pct = f64::NAN),
            ("index.flags.max_temperature_f", |c| c.index.flags.max_temperature_f = f64::INFINITY),
            ("index.flags.fault_policy.max_fault_rate", |c| c.index.flags.fault_policy.max_fault_rate = -0.1),
            ("index.lottery.c", |c| c.index.lottery.c = f64::NAN),
            ("index.lottery.c", |c| c.index.lottery.c = -1.0),
            ("index.lottery.beta", |c| c.index.lottery.beta = f64::INFINITY),
            ("plan.max_r", |c| c.plan.max_r = 0.5),
            ("plan.min_failure_probability", |c| c.plan.min_failure_probability = 2.0),
            ("plan.failure_prior.fault", |c| c.plan.failure_prior.fault = -0.1),
            ("plan.failure_prior.session_ms", |c| c.plan.failure_prior.session_ms = 0.0),
            ("plan.failure_prior.attempt_weight", |c| c.plan.failure_prior.attempt_weight = f64::NAN),
            ("plan.pools.target_pools", |c| c.plan.pools.target_pools = 0),
            ("plan.pools.c_min_factor", |c| c.plan.pools.c_min_factor = f64::NAN),
            ("plan.pools.level_share", |c| c.plan.pools.level_share = [0.5, 1.5, 1.0]),
            ("plan.rewards.workers_denominator", |c| c.plan.rewards.workers_denominator = 0),
            ("plan.rewards.workers_numerator", |c| c.plan.rewards.workers_numerator = 11),
        ];
        for (field, break_it) in cases {
            let mut cfg = EngineConfig::default();
            break_it(&mut cfg);
            let err = cfg.validate().expect_err(field);
            assert_eq!(err.field, *field, "{err}");
            assert!(err.to_string().contains(field), "{err}");
        }
    }
}
