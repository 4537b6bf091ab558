//! A run's settings in the simulator's units (ms, per-ms rates), read once from the
//! scenario and the variant.

use crate::scenario::{ChurnModel, Scenario, Variant};

/// A run's settings.
pub(super) struct Params {
    pub(super) seed: u64,
    pub(super) report_ms: u64,
    pub(super) heartbeat_ms: u64,
    pub(super) poll_ms: f64,
    pub(super) poll_max_ms: f64,
    pub(super) tick_ms: u64,
    pub(super) sample_ms: u64,
    pub(super) horizon_ms: u64,
    pub(super) reboot_ms: u64,
    pub(super) gap_ms: u64,
    pub(super) crash_per_ms: f64,
    pub(super) slow_p: f64,
    pub(super) slow_factor: f64,
    pub(super) collude_rate: f64,
    pub(super) churn: ChurnModel,
    pub(super) on_mean_ms: f64,
    pub(super) off_mean_ms: f64,
    pub(super) shape: f64,
    pub(super) drain_busy: f32,
    pub(super) drain_idle: f32,
    pub(super) charge: f32,
    pub(super) heat: f32,
    pub(super) tau_ms: f32,
    pub(super) max_temp: f32,
    pub(super) min_battery: f32,
}

impl Params {
    pub(super) fn new(sc: &Scenario, variant: &Variant, seed: u64) -> Params {
        let g = &sc.grid;
        let flag_cfg = &variant.engine.index.flags;
        Params {
            seed,
            report_ms: (g.report_s * 1000.0) as u64,
            heartbeat_ms: (g.heartbeat_s * 1000.0).max(1.0) as u64,
            poll_ms: g.poll_s * 1000.0,
            poll_max_ms: g.poll_max_s.max(g.poll_s) * 1000.0,
            tick_ms: (g.tick_s * 1000.0).max(1.0) as u64,
            sample_ms: (g.sample_s * 1000.0).max(1.0) as u64,
            horizon_ms: (sc.horizon_s * 1000.0) as u64,
            reboot_ms: (sc.faults.reboot_s * 1000.0) as u64,
            gap_ms: (sc.faults.delay_gap_s * 1000.0) as u64,
            crash_per_ms: sc.faults.crash_per_hour / 3.6e6,
            slow_p: sc.faults.slow_p,
            slow_factor: sc.faults.slow_factor,
            collude_rate: sc.colluders.rate,
            churn: sc.churn.model,
            on_mean_ms: sc.churn.on_mean_s * 1000.0,
            off_mean_ms: sc.churn.off_mean_s * 1000.0,
            shape: sc.churn.shape,
            drain_busy: sc.power.drain_busy_pct_h as f32,
            drain_idle: sc.power.drain_idle_pct_h as f32,
            charge: sc.power.charge_pct_h as f32,
            heat: sc.power.heat_f as f32,
            tau_ms: (sc.power.heat_tau_s * 1000.0) as f32,
            max_temp: flag_cfg.max_temperature_f as f32,
            min_battery: flag_cfg.min_battery_pct as f32,
        }
    }
}
