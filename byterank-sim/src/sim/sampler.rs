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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::device::Flags;
    use crate::Scenario;

    /// Settings with no slowness, a 90 s delay gap, one crash per hour of work.
    fn setup(churn: &str) -> (Params, JobKind) {
        let sc = Scenario::from_toml_str(&format!(
            r#"
            name = "t"
            horizon_s = 3600
            [grid]
            devices = 1
            [churn]
            model = "{churn}"
            on_mean_s = 3600
            [faults]
            crash_per_hour = 1.0
            delay_gap_s = 90
            [[jobs]]
            name = "a"
            tasks = 1
            task_work_s = 100
            input_mb = 1
            output_mb = 1
            "#
        ))
        .expect("a valid scenario");
        let v = sc.variants().expect("variants").remove(0);
        let kind = v.jobs[0].clone();
        (Params::new(&sc, &v, 1), kind)
    }

    /// Rate 1, 8 Mb/s both ways: 100 s of work and 1 s each way.
    fn device(p_err: f32, p_delay: f32) -> Traits {
        Traits {
            flags: Flags::default(),
            profile: 0,
            rate: 1.0,
            down_mbps: 8.0,
            up_mbps: 8.0,
            p_err,
            p_delay,
            p_wrong: 0.0,
            p_charging: 0.0,
            base_temp: 90.0,
        }
    }

    /// Draws that trigger nothing: no jitter, no slowness, no error, no delay, no
    /// crash, an honest result.
    const QUIET: Draws = [0.0, 0.99, 0.99, 0.5, 0.99, 0.5, 0.99, 0.5, 0.99];

    #[test]
    fn a_quiet_attempt_takes_its_work_and_transfers() {
        let (p, kind) = setup("none");
        let out = sample(&p, &device(0.1, 0.1), &kind, 1_000, 0.0, &QUIET);
        assert_eq!(out.end, 1_000 + 102_000);
        assert_eq!((out.gap_from, out.gap_to, out.crash_at), (0, 0, None));
        assert_eq!(out.ending, Ending::Result(Answer::Honest));
        // Without churn the attempt fails by an error or a crash only.
        let p_crash = 1.0 - (-102_000.0f64 / 3.6e6).exp();
        let want = 1.0 - 0.9 * (1.0 - p_crash);
        assert!((f64::from(out.p_fail) - want).abs() < 1e-6, "{} vs {want}", out.p_fail);
    }

    #[test]
    fn an_error_cuts_the_attempt_at_its_drawn_point() {
        let (p, kind) = setup("none");
        let mut u = QUIET;
        (u[2], u[3]) = (0.05, 0.25);
        let out = sample(&p, &device(0.1, 0.0), &kind, 0, 0.0, &u);
        assert_eq!(out.ending, Ending::Error);
        assert_eq!(out.end, 102_000 / 4);
    }

    #[test]
    fn a_delay_adds_a_silent_gap_inside_the_attempt() {
        let (p, kind) = setup("none");
        let mut u = QUIET;
        (u[4], u[5]) = (0.05, 0.5);
        let out = sample(&p, &device(0.0, 0.1), &kind, 0, 0.0, &u);
        assert_eq!((out.gap_from, out.gap_to), (51_000, 141_000));
        assert_eq!(out.end, 192_000);
    }

    #[test]
    fn a_crash_comes_only_before_the_end() {
        let (p, kind) = setup("none");
        let mut u = QUIET;
        (u[6], u[7]) = (0.0, 0.5);
        let out = sample(&p, &device(0.0, 0.0), &kind, 0, 0.0, &u);
        assert_eq!(out.crash_at, Some(51_000));
        // An error at 25% ends the attempt before a crash at 50% would.
        (u[2], u[3]) = (0.0, 0.25);
        let out = sample(&p, &device(0.5, 0.0), &kind, 0, 0.0, &u);
        assert_eq!((out.ending, out.crash_at), (Ending::Error, None));
    }

    #[test]
    fn a_weibull_session_that_lasted_longer_ends_sooner_when_shape_is_below_one() {
        let (p, kind) = setup("weibull");
        assert!(p.shape < 1.0, "the default shape is below one");
        let young = sample(&p, &device(0.0, 0.0), &kind, 0, 0.0, &QUIET).p_fail;
        let old = sample(&p, &device(0.0, 0.0), &kind, 0, 36_000_000.0, &QUIET).p_fail;
        assert!(old < young, "a decreasing hazard: {old} < {young}");
        let (p, _) = setup("exponential");
        let a = sample(&p, &device(0.0, 0.0), &kind, 0, 0.0, &QUIET).p_fail;
        let b = sample(&p, &device(0.0, 0.0), &kind, 0, 36_000_000.0, &QUIET).p_fail;
        assert_eq!(a, b, "memoryless");
    }
}
