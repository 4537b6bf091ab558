//! The world: the static part of a grid, shared by every variant of a scenario.

use rand::Rng as _;

use super::device::{Dev, Flags, Physics, Trait, Traits};
use super::streams::{stream, Purpose};
use crate::queue::SimTime;
use crate::scenario::{JobKind, Scenario};
use crate::synth::{synth_devices, ClassMix, DeviceProfile, SynthConfig, SynthDevice, DEFAULT_NOW};

/// The static part of a grid, shared by every variant of a scenario: the
/// generated devices and the draws that do not depend on the policy.
pub struct World {
    pub(super) devices: Vec<SynthDevice>,
    /// Every device as it starts the run.
    pub(super) devs: Vec<Dev>,
    /// (join time, leave time) per device; `u64::MAX`: never.
    pub(super) life: Vec<(SimTime, SimTime)>,
    /// Arrival times (ms), kinds and numbers within the kind, in arrival order.
    pub(super) arrivals: Vec<(SimTime, usize, u32)>,
    /// Sum of every device's peak rate (work seconds per second).
    total_rate: f64,
}

impl World {
    /// Generates the grid and the policy-independent draws of a scenario.
    pub fn new(sc: &Scenario, seed: u64) -> World {
        let mix = sc.grid.mix.map(|m| ClassMix::new(m).expect("checked")).unwrap_or(ClassMix::PAPER);
        let devices = synth_devices(&SynthConfig { devices: sc.grid.devices, seed, now: DEFAULT_NOW, mix });
        let horizon = sc.horizon_s * 1000.0;
        let f = &sc.faults;
        let mut total_rate = 0.0;
        let mut life = Vec::with_capacity(devices.len());
        let devs: Vec<Dev> = devices
            .iter()
            .enumerate()
            .map(|(i, sd)| {
                let d = &sd.device;
                let mut r = stream(seed, i as u32, Purpose::Life, 0);
                let (u_col, u_trust, u_join, t_join, u_leave, t_leave) = (
                    r.random::<f64>(),
                    r.random::<f64>(),
                    r.random::<f64>(),
                    r.random::<f64>(),
                    r.random::<f64>(),
                    r.random::<f64>(),
                );
                let colluder = u_col < sc.colluders.share;
                let trusted = !colluder && sc.grid.trusted_share.map_or(d.trusted, |s| u_trust < s);
                let join = if u_join < sc.churn.join_share { (t_join * horizon) as u64 } else { 0 };
                let leave = if u_leave < sc.churn.leave_share { (t_leave * horizon) as u64 } else { u64::MAX };
                life.push((join, leave.max(join)));
                let score = d.processor_score.unwrap_or(150.0);
                let cpu = d.cpu_available_pct.unwrap_or(50.0).clamp(5.0, 100.0) / 100.0;
                let rate = score * cpu / sc.grid.reference_score;
                total_rate += rate;
                let profile = DeviceProfile::ALL.iter().position(|p| *p == sd.profile).unwrap_or(0) as u8;
                let charging_p = crate::synth::TABLE.charging[profile as usize];
                let mut flags = Flags::default();
                flags.set(Trait::Trusted, trusted);
                flags.set(Trait::Colluder, colluder);
                flags.set(Trait::Battery, d.battery_pct.is_some());
                let temp = d.temperature_f.unwrap_or(90.0) as f32;
                let battery = d.battery_pct.unwrap_or(100.0) as f32;
                let traits = Traits {
                    flags,
                    profile,
                    rate: rate as f32,
                    down_mbps: d.download_mbps.unwrap_or(10.0).max(0.1) as f32,
                    up_mbps: d.upload_mbps.unwrap_or(2.0).max(0.05) as f32,
                    p_err: (sd.fault.failed * f.error_scale).min(1.0) as f32,
                    p_delay: (sd.fault.delayed * f.delay_scale).min(1.0) as f32,
                    p_wrong: if trusted { 0.0 } else { (sd.fault.incorrect * f.wrong_scale).min(1.0) as f32 },
                    p_charging: charging_p as f32,
                    base_temp: temp,
                };
                Dev::new(traits, Physics::new(battery, temp), d.charging == Some(true))
            })
            .collect();
        let mut arrivals = Vec::new();
        for (k, kind) in sc.jobs.iter().enumerate() {
            let times: Vec<f64> = if !kind.at_s.is_empty() {
                kind.at_s.clone()
            } else if let Some(rate) = kind.rate_per_hour {
                let mut r = stream(seed, u32::MAX - k as u32, Purpose::Jobs, 0);
                let mut t = kind.start_s;
                (0..kind.count)
                    .map(|_| {
                        t += -(1.0 - r.random::<f64>()).ln() * 3600.0 / rate;
                        t
                    })
                    .collect()
            } else {
                vec![kind.start_s; kind.count as usize]
            };
            for (n, t) in times.into_iter().enumerate() {
                arrivals.push(((t * 1000.0) as u64, k, n as u32));
            }
        }
        arrivals.sort_by_key(|&(t, k, n)| (t, k, n));
        World { devices, devs, life, arrivals, total_rate }
    }

    /// Number of devices.
    pub fn len(&self) -> usize {
        self.devs.len()
    }

    /// Whether the grid is empty.
    pub fn is_empty(&self) -> bool {
        self.devs.is_empty()
    }

    /// How long one task of `kind` takes on device `d` at best, ms: its transfers
    /// and the work at its peak rate, computed as an attempt's length is (with no
    /// jitter, slowness or delay), so no attempt of it is shorter.
    pub fn task_ms(&self, d: usize, kind: &JobKind) -> u64 {
        let t = &self.devs[d].traits;
        let compute = kind.task_work_s / f64::from(t.rate);
        let transfer = kind.input_mb * 8.0 / f64::from(t.down_mbps) + kind.output_mb * 8.0 / f64::from(t.up_mbps);
        (((compute + transfer) * 1000.0).ceil() as u64).max(1)
    }

    /// Whether device `d` is trusted by the operator.
    pub fn trusted(&self, d: usize) -> bool {
        self.devs[d].has(Trait::Trusted)
    }

    /// The clairvoyant lower bound on a job's makespan, seconds (see
    /// `docs/simulator.md`): no run can beat its best device running its one task
    /// from download to upload at peak speed, nor the whole grid working on it
    /// alone at peak speed with no transfer.
    pub fn lower_bound_s(&self, kind: &JobKind) -> f64 {
        let best = self
            .devs
            .iter()
            .map(|d| {
                let t = &d.traits;
                kind.input_mb * 8.0 / f64::from(t.down_mbps)
                    + kind.task_work_s / f64::from(t.rate)
                    + kind.output_mb * 8.0 / f64::from(t.up_mbps)
            })
            .fold(f64::INFINITY, f64::min);
        best.max(kind.tasks as f64 * kind.task_work_s / self.total_rate)
    }
}
