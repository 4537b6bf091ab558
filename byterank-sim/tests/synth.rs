//! The synthetic grid generator: reproducibility, class mix, and the class
//! differences the simulator relies on.

use std::sync::OnceLock;

use byterank_core::capacity::{capacity_score, CapacityConfig};
use byterank_core::device::{Connection, DeviceClass, NetworkCategory, Region};
use byterank_core::fault::FaultPolicy;
use byterank_core::grid::{Grid, GridSnapshot};
use byterank_sim::{synth_devices, synth_grid, ClassMix, DeviceProfile, SynthConfig, SynthDevice};
use proptest::prelude::*;

fn cfg(devices: usize, seed: u64) -> SynthConfig {
    SynthConfig { devices, seed, ..SynthConfig::default() }
}

/// The paper's Example 2 grid: 10,000 devices, generated once for the tests below.
fn paper_grid() -> &'static [SynthDevice] {
    static GRID: OnceLock<Vec<SynthDevice>> = OnceLock::new();
    GRID.get_or_init(|| synth_devices(&cfg(10_000, 2026)))
}

fn of(profile: DeviceProfile) -> impl Iterator<Item = &'static SynthDevice> {
    paper_grid().iter().filter(move |s| s.profile == profile)
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (sum, n) = xs.fold((0.0, 0usize), |(s, n), x| (s + x, n + 1));
    assert!(n > 0, "mean of nothing");
    sum / n as f64
}

#[test]
fn same_seed_same_grid() {
    let a = synth_grid(&cfg(2_000, 42));
    let b = synth_grid(&cfg(2_000, 42));
    assert_eq!(a, b);
    assert_eq!(serde_json::to_string(&a).unwrap(), serde_json::to_string(&b).unwrap());
    assert_eq!(synth_devices(&cfg(500, 42)), synth_devices(&cfg(500, 42)), "hidden parameters too");
    // The grid holds exactly the devices `synth_devices` describes.
    let devices = synth_devices(&cfg(2_000, 42)).into_iter().map(|s| s.device).collect();
    assert_eq!(Grid::new(a.now(), devices).unwrap(), a);
}

#[test]
fn different_seeds_differ() {
    let a = synth_grid(&cfg(100, 1));
    let b = synth_grid(&cfg(100, 2));
    assert_ne!(a, b);
    // Not just one device: almost every device differs.
    let same = a.devices().iter().zip(b.devices()).filter(|(x, y)| x == y).count();
    assert!(same < 5, "{same} identical devices");
}

#[test]
fn a_smaller_grid_is_a_prefix_of_a_larger_one() {
    let small = synth_devices(&cfg(300, 9));
    let large = synth_devices(&cfg(1_000, 9));
    assert_eq!(small[..], large[..300]);
}

#[test]
fn grid_file_round_trips() {
    let grid = synth_grid(&cfg(2_000, 5));
    let json = serde_json::to_string(&grid).unwrap();
    let back: Grid = serde_json::from_str(&json).unwrap();
    assert_eq!(back, grid);
}

#[test]
fn class_mix_within_tolerance_for_10k_devices() {
    let n = paper_grid().len() as f64;
    for p in DeviceProfile::ALL {
        let share = of(p).count() as f64 / n;
        let want = ClassMix::PAPER.fraction(p);
        // 4 binomial standard deviations: sqrt(0.68 * 0.32 / 10,000) = 0.0047 at most.
        let tol = 4.0 * (want * (1.0 - want) / n).sqrt();
        assert!((share - want).abs() <= tol, "{p}: share {share}, want {want} ± {tol}");
    }
}

#[test]
fn a_custom_mix_is_honoured() {
    let mix = ClassMix::new([0.0, 0.0, 1.0, 0.0, 1.0]).unwrap();
    let devices = synth_devices(&SynthConfig { devices: 2_000, seed: 3, mix, ..SynthConfig::default() });
    let laptops = devices.iter().filter(|s| s.profile == DeviceProfile::Laptop).count();
    assert!(devices.iter().all(|s| matches!(s.profile, DeviceProfile::Laptop | DeviceProfile::PoorlyConnected)));
    assert!((900..=1_100).contains(&laptops), "{laptops} laptops of 2,000");
}

#[test]
fn poorly_connected_devices_have_less_capacity_than_desktops() {
    let cap = CapacityConfig::default();
    let mean_cap = |p| mean(of(p).map(|s| capacity_score(&s.device, &cap)));
    let (poor, desktop) = (mean_cap(DeviceProfile::PoorlyConnected), mean_cap(DeviceProfile::Desktop));
    assert!(poor + 300.0 < desktop, "poorly connected {poor}, desktop {desktop}");
    // And the classes rank as the paper's hardware would.
    let (old, new) = (mean_cap(DeviceProfile::OldPhone), mean_cap(DeviceProfile::NewPhone));
    assert!(old < new && new < desktop, "old phone {old}, new phone {new}, desktop {desktop}");
}

#[test]
fn poorly_connected_devices_fault_more_than_desktops() {
    let rate = |p| mean(of(p).map(|s| s.device.faults.fault_rate()));
    let (poor, desktop) = (rate(DeviceProfile::PoorlyConnected), rate(DeviceProfile::Desktop));
    assert!(poor > 0.15 && desktop < 0.02, "poorly connected {poor}, desktop {desktop}");
    let delays = |p| mean(of(p).map(|s| s.device.faults.means()[1]));
    assert!(delays(DeviceProfile::PoorlyConnected) > 10.0 * delays(DeviceProfile::Desktop));
}

#[test]
fn failure_probabilities_follow_example_2() {
    // The paper's R per class, and the badly connected class's spread of 13.4%.
    for (p, want) in [
        (DeviceProfile::OldPhone, 0.04),
        (DeviceProfile::NewPhone, 0.001),
        (DeviceProfile::Laptop, 0.00005),
        (DeviceProfile::Desktop, 0.00005),
        (DeviceProfile::PoorlyConnected, 0.30),
    ] {
        let got = mean(of(p).filter(|s| !s.broken).map(|s| s.fault.failed));
        assert!((got - want).abs() < 0.15 * want, "{p}: mean failure probability {got}, want {want}");
    }
    let poor: Vec<f64> = of(DeviceProfile::PoorlyConnected).filter(|s| !s.broken).map(|s| s.fault.failed).collect();
    let m = mean(poor.iter().copied());
    let sd = (poor.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (poor.len() - 1) as f64).sqrt();
    assert!((sd - 0.134).abs() < 0.015, "sd {sd}");
}

#[test]
fn broken_devices_show_the_paper_policys_blind_spot() {
    // A few devices fail almost every task, quickly: with a full window their fault
    // rate is near 1/3, which the paper's R > 0.5 rule misses and the strict one catches.
    let broken: Vec<&SynthDevice> = paper_grid().iter().filter(|s| s.broken && s.device.faults.len() >= 15).collect();
    assert!(!broken.is_empty());
    let missed = broken
        .iter()
        .filter(|s| !FaultPolicy::paper().flags(&s.device.faults) && FaultPolicy::strict().flags(&s.device.faults));
    assert!(missed.count() * 2 > broken.len(), "most broken devices slip past the paper's policy");
}

#[test]
fn class_traits() {
    let all = paper_grid();
    let share = |p: DeviceProfile, f: &dyn Fn(&SynthDevice) -> bool| {
        of(p).filter(|s| f(s)).count() as f64 / of(p).count() as f64
    };

    // Batteries: phones, tablets and laptops have one, desktops none.
    for s in all {
        let battery = matches!(s.device.class, Some(DeviceClass::Phone | DeviceClass::Tablet | DeviceClass::Laptop));
        assert_eq!(s.device.battery_pct.is_some(), battery, "{}", s.device.id);
    }
    assert!(of(DeviceProfile::Desktop).all(|s| s.device.class == Some(DeviceClass::Desktop)));
    // Cellular links are mobile networks, and only cellular links are.
    for s in all {
        let cellular = s.device.connection == Some(Connection::Cellular);
        assert_eq!(cellular, s.device.network_category == Some(NetworkCategory::Mobile), "{}", s.device.id);
    }
    // Some phones run hot, a few devices are offline, desktops are trusted more often.
    assert!(of(DeviceProfile::OldPhone)
        .chain(of(DeviceProfile::NewPhone))
        .any(|s| s.device.temperature_f > Some(120.0)));
    assert!(of(DeviceProfile::Desktop).all(|s| s.device.temperature_f <= Some(120.0)));
    let offline = all.iter().filter(|s| s.device.online == Some(false)).count();
    assert!((300..=1_200).contains(&offline), "{offline} offline of 10,000");
    let trusted = |s: &SynthDevice| s.device.trusted;
    assert!(share(DeviceProfile::Desktop, &trusted) > 3.0 * share(DeviceProfile::NewPhone, &trusted));
    let gpu = |s: &SynthDevice| s.device.gpu.is_some();
    assert!(share(DeviceProfile::Desktop, &gpu) > 0.25 && share(DeviceProfile::NewPhone, &gpu) == 0.0);
    // Most run the current app; some are behind.
    let current = all.iter().filter(|s| s.device.app_version.as_deref() == Some("1.4.0")).count();
    assert!((7_500..=8_500).contains(&current), "{current}");
    // History lengths span the whole window.
    assert!(all.iter().any(|s| s.device.faults.is_empty()) && all.iter().any(|s| s.device.faults.len() == 20));
    // Every region appears.
    for r in [Region::Americas, Region::Europe, Region::AsiaPacific] {
        assert!(all.iter().filter(|s| s.device.region == Some(r)).count() > 1_500, "{r:?}");
    }
}

#[test]
fn worker_blocks_match_their_region() {
    let workers: Vec<&SynthDevice> = paper_grid().iter().filter(|s| s.device.worker.is_some()).collect();
    assert!((2_500..=5_000).contains(&workers.len()), "{} workers", workers.len());
    let mut scheduled = 0;
    let mut capped = 0;
    for s in &workers {
        let w = s.device.worker.as_ref().unwrap();
        let ok = match s.device.region.unwrap() {
            Region::Americas => (-600..=-120).contains(&w.utc_offset_minutes),
            Region::Europe => (-60..=180).contains(&w.utc_offset_minutes),
            Region::AsiaPacific => (300..=720).contains(&w.utc_offset_minutes),
        };
        assert!(ok, "{}: offset {} in {:?}", s.device.id, w.utc_offset_minutes, s.device.region);
        scheduled += usize::from(!w.schedule.is_empty());
        if let Some(cap) = w.data_cap_mb {
            capped += 1;
            assert!(w.data_used_mb <= cap);
        }
    }
    assert!(scheduled > workers.len() / 2 && capped > workers.len() / 10);
    let grid = synth_grid(&cfg(10_000, 2026));
    let available = workers.iter().filter(|s| s.device.worker.as_ref().unwrap().available_at(grid.now())).count();
    assert!(available > 0 && available < workers.len(), "schedules include and exclude `now`");
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Every device is valid, whatever the seed and size (`Grid::new` checks it; the
    /// check is repeated here to name the device that fails).
    #[test]
    fn every_device_is_valid(seed in any::<u64>(), devices in 0usize..300) {
        let synth = synth_devices(&cfg(devices, seed));
        prop_assert_eq!(synth.len(), devices);
        for s in &synth {
            prop_assert!(s.device.validate().is_ok(), "{:?}", s.device.validate());
            prop_assert!(s.device.faults.len() <= 20);
            for p in [s.fault.failed, s.fault.delayed, s.fault.incorrect] {
                prop_assert!((0.0..=1.0).contains(&p));
            }
        }
        let grid = synth_grid(&cfg(devices, seed));
        prop_assert_eq!(grid.len(), devices);
    }
}
