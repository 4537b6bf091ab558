//! The attempt-outcome sampler: how long an attempt takes and how it ends, as a pure
//! function of the device, the job kind, the settings and nine uniform draws from
//! the device's own attempt stream.

use super::device::{Answer, Ending, Trait, Traits};
use super::params::Params;
use crate::queue::SimTime;
use crate::scenario::{ChurnModel, JobKind};

/// Uniform draws in [0, 1) for one attempt, in this order: duration jitter, slow,
/// error, error point, delay, delay point, crash, crash point, wrong result.
pub(super) type Draws = [f64; 9];

/// What will happen to an attempt started at `now`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Outcome {
    /// When it ends by a result or an error report.
    pub(super) end: SimTime,
    /// The silent gap `[from, to)` of a delayed attempt (`0, 0`: none).
    pub(super) gap_from: SimTime,
    pub(super) gap_to: SimTime,
    /// How it ends, unless a crash comes first.
    pub(super) ending: Ending,
    /// A crash before `end`, if any.
    pub(super) crash_at: Option<SimTime>,
    /// The model's probability that the attempt fails (error, crash, or the session
    /// ending before it does), for the joint-failure model.
    pub(super) p_fail: f32,
}

/// Samples an attempt of `kind` on a device with these traits, started at `now`
/// when its session had lasted `age_ms`.
pub(super) fn sample(p: &Params, dev: &Traits, kind: &JobKind, now: SimTime, age_ms: f64, u: &Draws) -> Outcome {
    let jitter = 1.0 + 0.05 * -(1.0 - u[0]).ln();
    let slow = if u[1] < p.slow_p { p.slow_factor } else { 1.0 };
    let compute = kind.task_work_s / f64::from(dev.rate) * jitter * slow;
    let transfer = kind.input_mb * 8.0 / f64::from(dev.down_mbps) + kind.output_mb * 8.0 / f64::from(dev.up_mbps);
    // The attempt's full length (a delay gap included), then the points where
    // an error or a crash would cut it short: whichever comes first ends it.
    let mut total = ((compute + transfer) * 1000.0).ceil() as u64;
    let (mut gap_from, mut gap_to) = (0, 0);
    if u[4] < f64::from(dev.p_delay) {
        gap_from = now + (total as f64 * u[5]) as u64;
        gap_to = gap_from + p.gap_ms;
        total += p.gap_ms;
    }
    let full = total;
    let error = u[2] < f64::from(dev.p_err);
    if error {
        total = ((full as f64) * u[3]).max(1.0) as u64;
    }
    let p_crash = 1.0 - (-p.crash_per_ms * full as f64).exp();
    let crash_at = (u[6] < p_crash).then(|| now + ((full as f64) * u[7]) as u64).filter(|&t| t < now + total);
    let answer = if dev.flags.has(Trait::Colluder) && u[8] < p.collude_rate {
        Answer::Colluded
    } else if u[8] < f64::from(dev.p_wrong) {
        Answer::Own
    } else {
        Answer::Honest
    };
    // The session ending during the attempt, given how long it has lasted
    // (the Weibull's survival ratio; memoryless for the exponential).
    let p_off = match p.churn {
        ChurnModel::None => 0.0,
        ChurnModel::Exponential => 1.0 - (-(full as f64) / p.on_mean_ms).exp(),
        ChurnModel::Weibull => {
            let scale = p.on_mean_ms / statrs::function::gamma::gamma(1.0 + 1.0 / p.shape);
            let h = |t: f64| (t / scale).powf(p.shape);
            1.0 - (h(age_ms) - h(age_ms + full as f64)).exp()
        }
    };
    let p_fail = (1.0 - (1.0 - f64::from(dev.p_err)) * (1.0 - p_crash) * (1.0 - p_off)) as f32;
    Outcome {
        end: now + total,
        gap_from,
        gap_to,
        ending: if error { Ending::Error } else { Ending::Result(answer) },
        crash_at,
        p_fail,
    }
}
