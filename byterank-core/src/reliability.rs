//! The failure model: the probability that an attempt on a device ends without a
//! result, from what the engine has seen of that device.
//!
//! An attempt of length `d` fails when the device faults (an error, a crash, a
//! result too late) or when its online session ends before the result is in.
//! Taking the two as independent:
//!
//! ```text
//! p(d) = 1 - (1 - p_fault) * S(d)
//! ```
//!
//! - `p_fault` is the share of the device's attempts that ended without a result
//!   while it stayed online, with a beta prior (Bayesian shrinkage): `(w f0 +
//!   faults) / (w + faults + results)`.
//! - `S(d)` is the chance that the session outlives the attempt. Session ends are
//!   a Poisson process of rate `λ` per online millisecond, with a gamma prior on
//!   `λ` of `a0` pseudo-sessions over `b0` ms; after `n` sessions ended in `T` ms
//!   online the posterior is gamma(`a0 + n`, `b0 + T`) and the predictive survival
//!   is `S(d) = (b / (b + d))^a` (a Lomax law): a device seen for long with few
//!   ends survives almost surely, one never seen takes the prior's uncertainty.
//! - `d` is the device's mean time from taking an attempt to returning its result,
//!   shrunk toward the grid's mean the same way.
//!
//! Each prior is itself the grid's pooled estimate (empirical Bayes): the
//! configured value weighted as `weight` observations, plus every live device's
//! counts. A device with little history takes the grid's rates; one with much
//! takes its own.
//!
//! The counts are kept by the engine ([`Track`]), updated in O(1) when an attempt
//! ends or a session starts or ends; the estimates ([`Reliability`]) are made at
//! each ranking refresh, never at a pull.

use crate::time::Timestamp;

/// Which failure probability a plan assumes for a copy.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum FailureModel {
    /// The paper's fault rate `R = (F + D + I) / 3` of the device's last outcomes.
    Paper,
    /// This module's model: faults and session ends over the attempt's expected
    /// length, from the device's own history shrunk toward the grid's. Over a
    /// snapshot with no engine history (a grid file) it falls back to `Paper`.
    #[default]
    Sessions,
}

/// The priors of [`FailureModel::Sessions`], each with the number of observations
/// it is worth.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FailurePrior {
    /// Share of attempts that fault while the device stays online (default 0.05).
    pub fault: f64,
    /// Attempts the fault share is worth (default 10).
    pub fault_weight: f64,
    /// Mean online session, ms (default 8 hours).
    pub session_ms: f64,
    /// Sessions the mean session is worth (default 2).
    pub session_weight: f64,
    /// Mean time from taking an attempt to its result, ms (default 2 minutes).
    pub attempt_ms: f64,
    /// Attempts the mean attempt is worth (default 3).
    pub attempt_weight: f64,
}

impl Default for FailurePrior {
    fn default() -> Self {
        FailurePrior {
            fault: 0.05,
            fault_weight: 10.0,
            session_ms: 8.0 * 3_600_000.0,
            session_weight: 2.0,
            attempt_ms: 120_000.0,
            attempt_weight: 3.0,
        }
    }
}

/// What the engine has seen of one device: attempt ends and online sessions.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Track {
    /// Attempts that returned a result.
    pub results: u32,
    /// Their total length, ms (taken to returned).
    pub result_ms: u64,
    /// Attempts that ended without a result while the device stayed online.
    pub faults: u32,
    /// Attempts lost because the device went offline or left.
    pub lost: u32,
    /// Online sessions that ended.
    pub sessions_ended: u32,
    /// Online time of the sessions that ended, ms.
    pub online_ms: u64,
    /// When the open session began (ms), if the device is online.
    pub online_since: Option<i64>,
}

impl Track {
    /// The device is online from `at` (nothing changes if it already was).
    pub fn online(&mut self, at: Timestamp) {
        self.online_since.get_or_insert(at.millis());
    }

    /// The device's session ended at `at` (offline or gone).
    pub fn offline(&mut self, at: Timestamp) {
        if let Some(since) = self.online_since.take() {
            self.online_ms = self.online_ms.saturating_add(at.millis().saturating_sub(since).max(0) as u64);
            self.sessions_ended = self.sessions_ended.saturating_add(1);
        }
    }

    /// An attempt taken at `started` returned a result at `at`.
    pub fn result(&mut self, started: Timestamp, at: Timestamp) {
        self.results = self.results.saturating_add(1);
        self.result_ms = self.result_ms.saturating_add(at.millis().saturating_sub(started.millis()).max(0) as u64);
    }

    /// An attempt ended without a result: `lost` when the session ended under it.
    pub fn failed(&mut self, lost: bool) {
        let n = if lost { &mut self.lost } else { &mut self.faults };
        *n = n.saturating_add(1);
    }

    /// Online time up to `now`, the open session included.
    fn exposure_ms(&self, now: Timestamp) -> f64 {
        let open = self.online_since.map_or(0, |s| now.millis().saturating_sub(s).max(0));
        self.online_ms as f64 + open as f64
    }
}

/// One device's estimate: the model's parameters after its history.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Reliability {
    /// Probability that an attempt faults while the device stays online.
    pub p_fault: f64,
    /// Posterior shape of the session-end rate: pseudo and observed sessions ended.
    pub sessions: f64,
    /// Posterior rate of the session-end rate: pseudo and observed online ms.
    pub exposure_ms: f64,
    /// Expected time from taking an attempt to its result, ms.
    pub attempt_ms: f64,
    /// The grid's calibration of the session model: the share of attempts lost
    /// with a session over the share the model predicts for the grid (1 without
    /// history).
    pub lost_scale: f64,
}

impl Reliability {
    /// The probability that an attempt of `d_ms` ends without a result.
    pub fn failure(&self, d_ms: f64) -> f64 {
        let end = 1.0 - libm::pow(self.exposure_ms / (self.exposure_ms + d_ms.max(0.0)), self.sessions);
        let lost = (end * self.lost_scale).clamp(0.0, 1.0);
        (1.0 - (1.0 - self.p_fault) * (1.0 - lost)).clamp(0.0, 1.0)
    }

    /// The probability that an attempt of the device's expected length fails.
    pub fn expected_failure(&self) -> f64 {
        self.failure(self.attempt_ms)
    }
}

/// The grid's pooled rates: the configured prior plus every device's counts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GridRates {
    fault: f64,
    session_ms: f64,
    attempt_ms: f64,
    lost_scale: f64,
}

impl GridRates {
    /// Pools the tracks of the devices in view at `now` with the prior.
    pub fn pool<'a>(tracks: impl IntoIterator<Item = &'a Track>, now: Timestamp, prior: &FailurePrior) -> GridRates {
        let (mut faults, mut tries, mut ended, mut online, mut results, mut result_ms) = (0.0, 0.0, 0.0, 0.0, 0.0, 0.0);
        let mut lost = 0.0;
        for t in tracks {
            lost += f64::from(t.lost);
            faults += f64::from(t.faults);
            tries += f64::from(t.faults) + f64::from(t.results);
            ended += f64::from(t.sessions_ended);
            online += t.exposure_ms(now);
            results += f64::from(t.results);
            result_ms += t.result_ms as f64;
        }
        let p = prior;
        let (a, b) = (p.session_weight + ended, p.session_weight * p.session_ms + online);
        let attempt_ms = (p.attempt_weight * p.attempt_ms + result_ms) / (p.attempt_weight + results);
        // The session model's share of attempts lost for the grid as a whole,
        // against the share lost: the model is its prior, worth `fault_weight`
        // attempts.
        let model = (1.0 - libm::pow(b / (b + attempt_ms), a)).max(1e-12);
        let seen = (p.fault_weight * model + lost) / (p.fault_weight + tries + lost);
        GridRates {
            fault: (p.fault_weight * p.fault + faults) / (p.fault_weight + tries),
            session_ms: b / a,
            attempt_ms,
            lost_scale: seen / model,
        }
    }

    /// A device's estimate: its counts with the grid's rates as the prior.
    pub fn estimate(&self, t: &Track, now: Timestamp, prior: &FailurePrior) -> Reliability {
        let (wf, ws, wa) = (prior.fault_weight, prior.session_weight, prior.attempt_weight);
        let tries = f64::from(t.faults) + f64::from(t.results);
        Reliability {
            p_fault: (wf * self.fault + f64::from(t.faults)) / (wf + tries),
            sessions: ws + f64::from(t.sessions_ended),
            exposure_ms: ws * self.session_ms + t.exposure_ms(now),
            attempt_ms: (wa * self.attempt_ms + t.result_ms as f64) / (wa + f64::from(t.results)),
            lost_scale: self.lost_scale,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000;

    /// A device never seen takes the prior: with the default prior's 2 pseudo-sessions
    /// of 8 h and a 2-minute attempt, `1 - 0.95 * (16h / (16h + 2min))^2`.
    #[test]
    fn a_device_never_seen_takes_the_prior() {
        let prior = FailurePrior::default();
        let grid = GridRates::pool([], Timestamp(0), &prior);
        let r = grid.estimate(&Track::default(), Timestamp(0), &prior);
        let b = 16.0 * H as f64;
        let want = 1.0 - 0.95 * (b / (b + 120_000.0)) * (b / (b + 120_000.0));
        assert!((r.expected_failure() - want).abs() < 1e-12, "{} vs {want}", r.expected_failure());
    }

    /// The estimate converges to the device's own rates with history, against a
    /// direct computation of the same posterior.
    #[test]
    fn a_long_history_dominates_the_prior() {
        let prior = FailurePrior::default();
        let mut t = Track::default();
        // 100 sessions of 30 minutes each, and 400 attempts of 60 s, 100 of them faulty.
        let mut now = 0;
        for _ in 0..100 {
            t.online(Timestamp(now));
            now += H / 2;
            t.offline(Timestamp(now));
            now += H;
        }
        for _ in 0..300 {
            t.result(Timestamp(0), Timestamp(60_000));
        }
        for _ in 0..100 {
            t.failed(false);
        }
        let grid = GridRates::pool([&t], Timestamp(now), &prior);
        let r = grid.estimate(&t, Timestamp(now), &prior);
        assert!((r.p_fault - 0.25).abs() < 0.01, "{}", r.p_fault);
        assert!((r.attempt_ms - 60_000.0).abs() < 2_000.0, "{}", r.attempt_ms);
        // A 60 s attempt under 30-minute exponential sessions: 1 - exp(-1/30).
        // No attempt was lost with a session: the grid's calibration scales the
        // session model's share down to what was seen.
        let ok = 1.0 - r.failure(60_000.0);
        let want = 0.75 * (1.0 - (1.0 - libm::exp(-1.0 / 30.0)) * r.lost_scale);
        assert!(r.lost_scale < 0.05, "{}", r.lost_scale);
        assert!((ok - want).abs() < 0.002, "{ok} vs {want}");
    }

    /// Longer attempts fail more often, and more churn means more failures.
    #[test]
    fn failure_grows_with_length_and_churn() {
        let r =
            Reliability { p_fault: 0.1, sessions: 3.0, exposure_ms: 3.0 * H as f64, attempt_ms: 1.0, lost_scale: 1.0 };
        let mut last = r.failure(0.0);
        assert!((last - 0.1).abs() < 1e-12);
        for d in [1_000.0, 60_000.0, 600_000.0, 3.6e6, 3.6e8] {
            let p = r.failure(d);
            assert!(p > last && p <= 1.0, "{p} after {last}");
            last = p;
        }
        let churnier = Reliability { sessions: 6.0, ..r };
        assert!(churnier.failure(60_000.0) > r.failure(60_000.0));
    }

    #[test]
    fn a_session_is_counted_once() {
        let mut t = Track::default();
        t.online(Timestamp(0));
        t.online(Timestamp(5));
        t.offline(Timestamp(10));
        t.offline(Timestamp(20));
        assert_eq!((t.sessions_ended, t.online_ms, t.online_since), (1, 10, None));
    }
}
