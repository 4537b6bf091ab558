//! The capacity score (Equation 1 and Table 7 of the paper; spec §3).
//!
//! `C = processor + network_category + network_speed + network_stability + ram + cpu`,
//! summed in that order in `f64`. Each term is clamped to its range and a missing
//! input gives the term's default. The constants are the paper's, exactly as printed.
//! Transcendental functions come from `libm` in every build, so a score is the same
//! bit pattern with or without `std` and on every platform: replaying an engine's
//! commands elsewhere must rank devices identically.

use crate::device::NetworkCategory;
use crate::device_view::DeviceView;

/// The constants of Table 7. `Default` gives the paper's values.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct CapacityConfig {
    /// Processor term when the benchmark score is unknown.
    pub processor_default: f64,
    /// Network category term when the category is unknown.
    pub category_default: f64,
    /// Network speed term when either speed is unknown.
    pub speed_default: f64,
    /// Stability term when fewer than two samples are known (or their mean is 0).
    pub stability_default: f64,
    /// RAM term when available RAM is unknown.
    pub ram_default: f64,
    /// CPU term when available CPU is unknown.
    pub cpu_default: f64,
    /// Speed term: `L`.
    pub speed_l: f64,
    /// Speed term: `k`.
    pub speed_k: f64,
    /// Speed term: `u`, the weight of upload against download.
    pub speed_u: f64,
    /// Stability term: `c`.
    pub stability_c: f64,
    /// RAM term: `L`.
    pub ram_l: f64,
    /// RAM term: `k`.
    pub ram_k: f64,
    /// RAM term: `x0`, the MB below which RAM scores nothing.
    pub ram_x0: f64,
    /// CPU term: `a` (of `a*x^2 + b*x + c`).
    pub cpu_a: f64,
    /// CPU term: `b`.
    pub cpu_b: f64,
    /// CPU term: `c`.
    pub cpu_c: f64,
}

impl Default for CapacityConfig {
    fn default() -> Self {
        CapacityConfig {
            processor_default: 250.0,
            category_default: 100.0,
            speed_default: 100.0,
            stability_default: 100.0,
            ram_default: 100.0,
            cpu_default: 100.0,
            speed_l: 1000.0,
            speed_k: 0.00601986,
            speed_u: 1.66666667,
            stability_c: 300.0,
            ram_l: 300.0,
            ram_k: 0.00143048,
            ram_x0: 256.0,
            cpu_a: -0.03333333,
            cpu_b: 7.0,
            cpu_c: -66.66666667,
        }
    }
}

/// Lowest and highest processor term.
pub const PROCESSOR_RANGE: (f64, f64) = (1.0, 500.0);
/// Highest network category term.
pub const CATEGORY_MAX: f64 = 300.0;
/// Highest network speed term.
pub const SPEED_MAX: f64 = 1000.0;
/// Highest network stability term.
pub const STABILITY_MAX: f64 = 300.0;
/// Highest RAM term.
pub const RAM_MAX: f64 = 300.0;
/// Highest CPU term.
pub const CPU_MAX: f64 = 300.0;

/// The six terms of one device's score, in the order they are summed.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CapacityTerms {
    /// Processor score.
    pub processor: f64,
    /// Network category score.
    pub network_category: f64,
    /// Network speed score.
    pub network_speed: f64,
    /// Network stability score.
    pub network_stability: f64,
    /// RAM availability score.
    pub ram: f64,
    /// CPU availability score.
    pub cpu: f64,
}

impl CapacityTerms {
    /// The capacity score: the terms summed left to right.
    #[inline]
    pub fn total(&self) -> f64 {
        self.processor + self.network_category + self.network_speed + self.network_stability + self.ram + self.cpu
    }
}

#[inline]
fn clamp(x: f64, lo: f64, hi: f64) -> f64 {
    x.clamp(lo, hi)
}

/// Processor term: the benchmark score clamped to 1..=500.
#[inline]
pub fn processor_term(score: Option<f64>, cfg: &CapacityConfig) -> f64 {
    clamp(score.unwrap_or(cfg.processor_default), PROCESSOR_RANGE.0, PROCESSOR_RANGE.1)
}

/// Network category term: fiber, cable and DSL 300; Starlink 100; mobile and other 0.
#[inline]
pub fn category_term(category: Option<NetworkCategory>, cfg: &CapacityConfig) -> f64 {
    let v = match category {
        None => cfg.category_default,
        Some(NetworkCategory::Fiber | NetworkCategory::Cable | NetworkCategory::Dsl) => 300.0,
        Some(NetworkCategory::Starlink) => 100.0,
        Some(NetworkCategory::Mobile | NetworkCategory::Other) => 0.0,
    };
    clamp(v, 0.0, CATEGORY_MAX)
}

/// Network speed term: `0.5*L*((1-exp(-k*x)) + (1-exp(-k*u*y)))`, x download and
/// y upload in Mbps; needs both.
#[inline]
pub fn speed_term(download: Option<f64>, upload: Option<f64>, cfg: &CapacityConfig) -> f64 {
    let (Some(x), Some(y)) = (download, upload) else {
        return clamp(cfg.speed_default, 0.0, SPEED_MAX);
    };
    let k = cfg.speed_k;
    let v = 0.5 * cfg.speed_l * ((1.0 - libm::exp(-k * x)) + (1.0 - libm::exp(-k * (cfg.speed_u * y))));
    clamp(v, 0.0, SPEED_MAX)
}

/// Network stability term: `c*max(0, 1 - s/mean)` with `s` the sample standard
/// deviation (n-1). Fewer than two samples, or a zero mean, count as missing.
#[inline]
pub fn stability_term(samples: &[f64], cfg: &CapacityConfig) -> f64 {
    let n = samples.len();
    if n < 2 {
        return clamp(cfg.stability_default, 0.0, STABILITY_MAX);
    }
    let mean = samples.iter().sum::<f64>() / n as f64;
    if mean == 0.0 {
        return clamp(cfg.stability_default, 0.0, STABILITY_MAX);
    }
    let ss: f64 = samples.iter().map(|s| (s - mean) * (s - mean)).sum();
    let sd = libm::sqrt(ss / (n - 1) as f64);
    clamp(cfg.stability_c * f64::max(0.0, 1.0 - sd / mean), 0.0, STABILITY_MAX)
}

/// RAM term: `max(0, L*(1-exp(-k*(x-x0))))`, x the available MB.
#[inline]
pub fn ram_term(available_mb: Option<f64>, cfg: &CapacityConfig) -> f64 {
    let Some(x) = available_mb else {
        return clamp(cfg.ram_default, 0.0, RAM_MAX);
    };
    let v = f64::max(0.0, cfg.ram_l * (1.0 - libm::exp(-cfg.ram_k * (x - cfg.ram_x0))));
    clamp(v, 0.0, RAM_MAX)
}

/// CPU term: `max(0, a*x^2 + b*x + c)`, x the available percentage. The polynomial
/// reaches 300.00003 at x = 100, so the clamp to 300 matters.
#[inline]
pub fn cpu_term(available_pct: Option<f64>, cfg: &CapacityConfig) -> f64 {
    let Some(x) = available_pct else {
        return clamp(cfg.cpu_default, 0.0, CPU_MAX);
    };
    let v = f64::max(0.0, cfg.cpu_a * (x * x) + cfg.cpu_b * x + cfg.cpu_c);
    clamp(v, 0.0, CPU_MAX)
}

/// All six terms of a device's score.
pub fn capacity_terms<V: DeviceView + ?Sized>(d: &V, cfg: &CapacityConfig) -> CapacityTerms {
    CapacityTerms {
        processor: processor_term(d.processor_score(), cfg),
        network_category: category_term(d.network_category(), cfg),
        network_speed: speed_term(d.download_mbps(), d.upload_mbps(), cfg),
        network_stability: stability_term(d.speed_samples_mbps(), cfg),
        ram: ram_term(d.ram_available_mb(), cfg),
        cpu: cpu_term(d.cpu_available_pct(), cfg),
    }
}

/// A device's capacity score, 1..=2700.
pub fn capacity_score<V: DeviceView + ?Sized>(d: &V, cfg: &CapacityConfig) -> f64 {
    capacity_terms(d, cfg).total()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use proptest::prelude::*;

    fn close(a: f64, b: f64, tol: f64) -> bool {
        (a - b).abs() <= tol
    }

    #[test]
    fn all_defaults_sum_to_750() {
        let cfg = CapacityConfig::default();
        assert_eq!(capacity_score(&Device::new("d"), &cfg), 250.0 + 5.0 * 100.0);
    }

    #[test]
    fn paper_statements_about_the_curves() {
        let cfg = CapacityConfig::default();
        // "70% of the prize concentrated between 0Mbps and 200Mbps" (per direction).
        let down_only = speed_term(Some(200.0), Some(0.0), &cfg);
        assert!(close(down_only, 0.7 * 500.0, 0.01), "{down_only}");
        // Upload weighs u = 5/3 as much: 120 Mbps up is worth 200 down.
        assert!(close(speed_term(Some(0.0), Some(120.0), &cfg), down_only, 1e-3));
        // "two thirds of the prize between 256MB and 1024MB".
        assert!(close(ram_term(Some(1024.0), &cfg), 200.0, 0.01));
        assert_eq!(ram_term(Some(100.0), &cfg), 0.0);
        // CPU: zero at 10%, two thirds at 50%, capped at 300 at 100%.
        assert!(close(cpu_term(Some(10.0), &cfg), 0.0, 1e-6));
        assert!(close(cpu_term(Some(50.0), &cfg), 200.0, 1e-4));
        let raw = cfg.cpu_a * 10_000.0 + cfg.cpu_b * 100.0 + cfg.cpu_c;
        assert!(raw > 300.0, "the polynomial overshoots: {raw}");
        assert_eq!(cpu_term(Some(100.0), &cfg), 300.0);
        assert_eq!(cpu_term(Some(0.0), &cfg), 0.0);
    }

    #[test]
    fn categories_and_processor_clamp() {
        let cfg = CapacityConfig::default();
        assert_eq!(category_term(Some(NetworkCategory::Dsl), &cfg), 300.0);
        assert_eq!(category_term(Some(NetworkCategory::Starlink), &cfg), 100.0);
        assert_eq!(category_term(Some(NetworkCategory::Mobile), &cfg), 0.0);
        assert_eq!(processor_term(Some(900.0), &cfg), 500.0);
        assert_eq!(processor_term(Some(0.0), &cfg), 1.0);
        assert_eq!(speed_term(Some(50.0), None, &cfg), 100.0);
    }

    #[test]
    fn stability_uses_sample_deviation() {
        let cfg = CapacityConfig::default();
        assert_eq!(stability_term(&[10.0], &cfg), 100.0);
        assert_eq!(stability_term(&[0.0, 0.0], &cfg), 100.0);
        assert_eq!(stability_term(&[50.0, 50.0, 50.0], &cfg), 300.0);
        // samples 8, 12: mean 10, s = sqrt(8) (n-1), 300*(1 - 0.28284...) = 215.147...
        let v = stability_term(&[8.0, 12.0], &cfg);
        assert!(close(v, 300.0 * (1.0 - 8f64.sqrt() / 10.0), 1e-9), "{v}");
        assert_eq!(stability_term(&[1.0, 100.0], &cfg), 0.0);
    }

    #[test]
    fn spec_sample_device() {
        let cfg = CapacityConfig::default();
        let d = Device {
            processor_score: Some(412.0),
            network_category: Some(NetworkCategory::Fiber),
            download_mbps: Some(120.0),
            upload_mbps: Some(20.0),
            speed_samples_mbps: alloc::vec![118.0, 121.5, 119.0],
            ram_available_mb: Some(2230.0),
            cpu_available_pct: Some(60.0),
            ..Device::new("dev-0001")
        };
        let t = capacity_terms(&d, &cfg);
        // Each term recomputed here from Table 7 with std's functions.
        let speed =
            500.0 * ((1.0 - (-0.00601986f64 * 120.0).exp()) + (1.0 - (-0.00601986f64 * (1.66666667 * 20.0)).exp()));
        let ram = 300.0 * (1.0 - (-0.00143048f64 * (2230.0 - 256.0)).exp());
        let cpu = -0.03333333 * 3600.0 + 7.0 * 60.0 - 66.66666667;
        assert!(close(t.network_speed, speed, 1e-9));
        assert!(close(t.ram, ram, 1e-9));
        assert!(close(t.cpu, cpu, 1e-9));
        assert_eq!(t.processor, 412.0);
        assert_eq!(t.network_category, 300.0);
        assert_eq!(capacity_score(&d, &cfg), t.total());
    }

    proptest! {
        #[test]
        fn every_term_stays_in_range(
            p in proptest::option::of(0.0..2000.0f64),
            x in proptest::option::of(0.0..10_000.0f64),
            y in proptest::option::of(0.0..10_000.0f64),
            samples in proptest::collection::vec(0.0..1000.0f64, 0..8),
            ram in proptest::option::of(0.0..100_000.0f64),
            cpu in proptest::option::of(0.0..=100.0f64),
        ) {
            let cfg = CapacityConfig::default();
            let d = Device { processor_score: p, download_mbps: x, upload_mbps: y, speed_samples_mbps: samples,
                ram_available_mb: ram, cpu_available_pct: cpu, ..Device::new("d") };
            let t = capacity_terms(&d, &cfg);
            prop_assert!((1.0..=500.0).contains(&t.processor));
            prop_assert!((0.0..=1000.0).contains(&t.network_speed));
            prop_assert!((0.0..=300.0).contains(&t.network_stability));
            prop_assert!((0.0..=300.0).contains(&t.ram));
            prop_assert!((0.0..=300.0).contains(&t.cpu));
            let c = t.total();
            prop_assert!((1.0..=2700.0).contains(&c));
        }

        #[test]
        fn more_resources_never_score_less(x in 0.0..5000.0f64, dx in 0.0..5000.0f64) {
            let cfg = CapacityConfig::default();
            prop_assert!(speed_term(Some(x + dx), Some(x), &cfg) >= speed_term(Some(x), Some(x), &cfg));
            prop_assert!(ram_term(Some(x + dx), &cfg) >= ram_term(Some(x), &cfg));
        }
    }
}
