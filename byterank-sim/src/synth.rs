//! The synthetic grid generator: reproducible grids of consumer devices for tests,
//! benchmarks and the simulator.
//!
//! Devices are drawn from the classes of the white paper's Mathematical Appendix,
//! Example 2 ([`DeviceProfile`]): old-generation smartphones, new-generation
//! smartphones, laptops, desktops, and devices with a bad internet connection, mixed
//! 7% / 68% / 16% / 9% by default ([`ClassMix::PAPER`]). Every input of the grid file
//! (spec §2) is drawn from a per-class distribution; the parameters are in one table,
//! [`TABLE`], with the reasons for the numbers.
//!
//! Everything comes from one `ChaCha8Rng` seeded with [`SynthConfig::seed`], devices in
//! id order, so a seed reproduces a grid, and a smaller grid of the same seed is a
//! prefix of a larger one. The continuous distributions are `statrs`'s samplers; the
//! categorical and Bernoulli draws are `rand`'s.
//!
//! Besides what the grid shows, [`synth_devices`] also returns what only the
//! generator knows: each device's class and its true per-task fault probabilities,
//! from which its fault history was drawn. The simulator draws task outcomes from them.

use core::fmt;

use byterank_core::device::{Connection, Device, DeviceClass, NetworkCategory, Region};
use byterank_core::fault::{FaultHistory, Outcome, WINDOW};
use byterank_core::grid::Grid;
use byterank_core::time::Timestamp;
use byterank_core::worker::{ScheduleWindow, WorkerPrefs};
use rand::distr::weighted::WeightedIndex;
use rand::distr::Distribution as _;
use rand::seq::IndexedRandom as _;
use rand::{Rng as _, RngCore, SeedableRng as _};
use rand_chacha::ChaCha8Rng;
use statrs::distribution::{Beta, LogNormal, Normal};

/// The default snapshot instant, 2026-11-26T03:00:00Z (a Thursday), the spec's example.
pub const DEFAULT_NOW: Timestamp = Timestamp(1_795_662_000_000);

/// A class of devices, as in the paper's Appendix, Example 2.
///
/// The paper lumps laptops and desktops together; they are separate here because they
/// differ in what the scheduler sees (batteries, links, GPUs, trusted share).
/// [`PoorlyConnected`](DeviceProfile::PoorlyConnected) is a class of networks, not of
/// hardware: its devices are phones, tablets, laptops and desktops behind bad links.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DeviceProfile {
    /// Old-generation smartphones (and tablets): slow, often busy, paper R = 4%.
    OldPhone,
    /// New-generation smartphones (and tablets): the bulk of the grid, paper R = 0.1%.
    NewPhone,
    /// Laptops: paper R = 0.005%.
    Laptop,
    /// Desktops: fast, wired, no battery, paper R = 0.005%.
    Desktop,
    /// Devices on networks that often drop: paper R = 30% ± 13.4%.
    PoorlyConnected,
}

impl DeviceProfile {
    /// Every profile, in declaration order (the order of [`ClassMix::new`]'s weights).
    pub const ALL: [DeviceProfile; 5] = [
        DeviceProfile::OldPhone,
        DeviceProfile::NewPhone,
        DeviceProfile::Laptop,
        DeviceProfile::Desktop,
        DeviceProfile::PoorlyConnected,
    ];

    /// The profile's position in [`DeviceProfile::ALL`] (and column in [`TABLE`]).
    pub const fn index(self) -> usize {
        self as usize
    }

    /// A snake_case name for reports: `old_phone`, `new_phone`, `laptop`, `desktop`,
    /// `poorly_connected`.
    pub const fn name(self) -> &'static str {
        match self {
            DeviceProfile::OldPhone => "old_phone",
            DeviceProfile::NewPhone => "new_phone",
            DeviceProfile::Laptop => "laptop",
            DeviceProfile::Desktop => "desktop",
            DeviceProfile::PoorlyConnected => "poorly_connected",
        }
    }
}

impl fmt::Display for DeviceProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How often each [`DeviceProfile`] is drawn: relative weights, finite, not negative,
/// with a positive sum (checked when built, so a mix in hand is always usable).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassMix {
    weights: [f64; 5],
}

/// Weights that cannot make a [`ClassMix`].
#[derive(Clone, Copy, Debug, PartialEq, thiserror::Error)]
pub enum MixError {
    /// A weight is negative, infinite or NaN.
    #[error("class mix: the weight of `{profile}` is {weight}; weights must be finite and not negative")]
    BadWeight {
        /// The class whose weight is wrong.
        profile: DeviceProfile,
        /// The weight given.
        weight: f64,
    },
    /// The weights sum to zero (no class to draw) or overflow.
    #[error("class mix: the weights sum to {0}; give at least one class a positive weight")]
    BadSum(f64),
}

impl ClassMix {
    /// The paper's Example 2: 700 old phones, 6,800 new phones, 1,600 laptops and
    /// desktops, 900 badly connected devices out of 10,000. The paper does not split
    /// laptops from desktops; this mix gives them 8% each.
    pub const PAPER: ClassMix = ClassMix { weights: [0.07, 0.68, 0.08, 0.08, 0.09] };

    /// A mix from one weight per profile, in [`DeviceProfile::ALL`] order. Weights are
    /// relative: `[1.0, 1.0, 0.0, 0.0, 2.0]` is 25% / 25% / 0 / 0 / 50%.
    pub fn new(weights: [f64; 5]) -> Result<ClassMix, MixError> {
        for (profile, &weight) in DeviceProfile::ALL.iter().zip(&weights) {
            if !weight.is_finite() || weight < 0.0 {
                return Err(MixError::BadWeight { profile: *profile, weight });
            }
        }
        let sum: f64 = weights.iter().sum();
        if !(sum.is_finite() && sum > 0.0) {
            return Err(MixError::BadSum(sum));
        }
        Ok(ClassMix { weights })
    }

    /// A grid of one class only.
    pub fn only(profile: DeviceProfile) -> ClassMix {
        let mut weights = [0.0; 5];
        weights[profile.index()] = 1.0;
        ClassMix { weights }
    }

    /// The relative weight given for `profile`.
    pub fn weight(&self, profile: DeviceProfile) -> f64 {
        self.weights[profile.index()]
    }

    /// The expected share of `profile` among the devices, 0..=1.
    pub fn fraction(&self, profile: DeviceProfile) -> f64 {
        self.weights[profile.index()] / self.weights.iter().sum::<f64>()
    }
}

impl Default for ClassMix {
    /// [`ClassMix::PAPER`].
    fn default() -> Self {
        ClassMix::PAPER
    }
}

/// What grid to generate.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthConfig {
    /// How many devices.
    pub devices: usize,
    /// Seed of the `ChaCha8Rng` every draw comes from: the same configuration gives the
    /// same grid, bit for bit.
    pub seed: u64,
    /// The snapshot's instant.
    pub now: Timestamp,
    /// The share of each class.
    pub mix: ClassMix,
}

impl Default for SynthConfig {
    /// The paper's Example 2: 10,000 devices in [`ClassMix::PAPER`], seed 0, at
    /// [`DEFAULT_NOW`].
    fn default() -> Self {
        SynthConfig { devices: 10_000, seed: 0, now: DEFAULT_NOW, mix: ClassMix::PAPER }
    }
}

/// A device's true probabilities, per task attempt, of each fault bit of Table 8.
///
/// The grid shows only the history drawn from them; a simulator draws the outcomes of
/// the tasks it runs from them.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct FaultProbs {
    /// The attempt fails (the paper's per-task failure probability `p_i`).
    pub failed: f64,
    /// The attempt misses a heartbeat deadline, however it ends.
    pub delayed: f64,
    /// The attempt, when it does not fail, returns a wrong result.
    pub incorrect: f64,
}

/// One generated device with what only the generator knows about it.
#[derive(Clone, Debug, PartialEq)]
pub struct SynthDevice {
    /// The device as the grid shows it.
    pub device: Device,
    /// The class it was drawn from.
    pub profile: DeviceProfile,
    /// Its true per-task fault probabilities.
    pub fault: FaultProbs,
    /// Whether it is one of the few "broken" devices that fail almost every task
    /// (quickly, so the paper's fault policy misses them: spec §4).
    pub broken: bool,
}

/// Generates `cfg.devices` devices with their hidden parameters, in id order
/// (`dev-0000001`, `dev-0000002`, ...; zero-padded to at least 7 digits, so the id
/// order is the creation order).
///
/// Every device passes [`Device::validate`]. Each device's draws depend only on the
/// seed and the devices before it, so a smaller grid of the same seed and mix is a
/// prefix of a larger one (while the ids keep their width, up to 9,999,999 devices).
/// This holds all the devices in memory; [`synth_iter`] gives them one at a time.
pub fn synth_devices(cfg: &SynthConfig) -> Vec<SynthDevice> {
    synth_iter(cfg).collect()
}

/// Generates a grid snapshot at `cfg.now` of `cfg.devices` devices (see
/// [`synth_devices`] for the ids and reproducibility).
pub fn synth_grid(cfg: &SynthConfig) -> Grid {
    let devices = synth_iter(cfg).map(|s| s.device).collect();
    Grid::new(cfg.now, devices).expect("synthetic devices are valid and their ids unique")
}

/// The devices of [`synth_devices`], generated one at a time: memory stays the
/// generator's (a few kilobytes) however many devices are drawn, so a grid file of
/// millions of devices can be written as it is generated. The devices come in
/// ascending id order, the order of a [`Grid`].
///
/// ```
/// use byterank_sim::{synth_devices, synth_iter, SynthConfig};
///
/// let cfg = SynthConfig { devices: 100, ..SynthConfig::default() };
/// let first: Vec<_> = synth_iter(&cfg).take(3).collect();
/// assert_eq!(first[..], synth_devices(&cfg)[..3]);
/// assert_eq!(synth_iter(&cfg).len(), 100);
/// ```
pub fn synth_iter(cfg: &SynthConfig) -> SynthDevices {
    SynthDevices { generator: Generator::new(cfg), next: 0, devices: cfg.devices }
}

/// The iterator of [`synth_iter`].
pub struct SynthDevices {
    generator: Generator,
    next: usize,
    devices: usize,
}

impl Iterator for SynthDevices {
    type Item = SynthDevice;

    fn next(&mut self) -> Option<SynthDevice> {
        if self.next == self.devices {
            return None;
        }
        let d = self.generator.device(self.next);
        self.next += 1;
        Some(d)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let left = self.devices - self.next;
        (left, Some(left))
    }
}

impl ExactSizeIterator for SynthDevices {}

impl fmt::Debug for SynthDevices {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SynthDevices").field("next", &self.next).field("devices", &self.devices).finish()
    }
}

/// The per-class parameters of the generator: every field is a row with one entry per
/// [`DeviceProfile`], in [`DeviceProfile::ALL`] order (old phone, new phone, laptop,
/// desktop, poorly connected). See [`TABLE`] for the values and their sources.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClassTable {
    /// Weights of the hardware classes phone, tablet, laptop, desktop.
    pub hardware: [[f64; 4]; 5],
    /// Processor benchmark score: normal (mean, sd), rounded, clamped to 1..=500.
    pub processor: [(f64, f64); 5],
    /// Weights of the local links Wi-Fi, Ethernet, cellular. A cellular link means a
    /// `mobile` network category.
    pub link: [[f64; 3]; 5],
    /// Weights of the network categories fiber, cable, DSL, Starlink, other, for
    /// devices on Wi-Fi or Ethernet.
    pub broadband: [[f64; 5]; 5],
    /// Download Mbps: log-normal (median, sigma).
    pub download: [(f64, f64); 5],
    /// Median of the upload / download ratio (log-normal, sigma [`UPLOAD_RATIO_SIGMA`]).
    pub upload_ratio: [f64; 5],
    /// Median coefficient of variation of the speed samples around the download speed
    /// (log-normal across devices, sigma [`SPEED_CV_SIGMA`]): the stability term.
    pub speed_cv: [f64; 5],
    /// Available RAM, MB: log-normal (median, sigma).
    pub ram_mb: [(f64, f64); 5],
    /// Mean share of the CPU left free (beta, concentration [`CPU_KAPPA`]).
    pub cpu_free: [f64; 5],
    /// Probability a battery-powered device is charging.
    pub charging: [f64; 5],
    /// Temperature, °F: normal (mean, sd).
    pub temperature_f: [(f64, f64); 5],
    /// Probability of running hot, uniform in 121..135 °F (`high_temperature` flag).
    pub hot: [f64; 5],
    /// Probability of being offline (`disconnected` flag).
    pub offline: [f64; 5],
    /// Probability of being verified for trusted processing.
    pub trusted: [f64; 5],
    /// Probability that a laptop or desktop has a discrete GPU.
    pub gpu: [f64; 5],
    /// Per-task failure probability across devices: beta (mean, sd). The means are the
    /// paper's R of Example 2.
    pub fail: [(f64, f64); 5],
    /// Mean per-task delay probability (scaled per device like the failure one).
    pub delayed: [f64; 5],
    /// Mean per-task probability of a wrong result (scaled per device likewise).
    pub incorrect: [f64; 5],
    /// Share of broken devices, which fail almost every task.
    pub broken: [f64; 5],
    /// Probability the worker set preferences (a `worker` block).
    pub worker: [f64; 5],
}

/// The generator's class parameters.
///
/// Sources and reasons:
/// - Shares and fault rates are the paper's Appendix, Example 2: old phones R = 4%,
///   new phones 0.1%, laptops and desktops 0.005%, badly connected devices 30% with a
///   standard deviation of 13.4% (the beta's sd). The paper gives one sd only; the other
///   classes get a coefficient of variation of about 1, so devices differ within a class.
/// - Delays and wrong results are not in the paper; they are set so that the badly
///   connected class is dominated by delays (missed heartbeats on dropping links), and
///   the others delay about as often as they fail.
/// - Processor scores are on Table 7's 1..=500 scale of known processors: a desktop
///   (mean 390) is about 3.5 times an old phone (110); a new phone is close to a laptop.
/// - Speeds are log-normal, as measured consumer speeds are: medians of 25 Mbps (old
///   phones: old radios, 2.4 GHz Wi-Fi) to 200 Mbps (wired desktops), 6 Mbps for bad
///   links, uploads a fifth to a third of downloads (asymmetric home lines).
/// - Speed samples vary by 3% (wired) to 45% (bad links), so the stability term ranges
///   from about 290 down to about 165.
/// - RAM and CPU left over: phones keep little RAM free and are often busy; desktops
///   have GBs free and are mostly idle.
/// - Temperatures are device temperatures as the app reads them, around 90 °F; a few
///   phones run above the 120 °F flag (in a pocket, charging, in the sun).
/// - Desktops are the most often verified for trusted processing and carry GPUs.
#[rustfmt::skip]
pub const TABLE: ClassTable = ClassTable {
    //                old phone           new phone           laptop              desktop             poorly connected
    hardware:       [OLD_PHONE_HW,       NEW_PHONE_HW,       LAPTOP_HW,          DESKTOP_HW,         MIXED_HW],
    processor:      [(110.0, 30.0),      (260.0, 50.0),      (300.0, 70.0),      (390.0, 60.0),      (220.0, 90.0)],
    link:           [[0.65, 0.0, 0.35],  [0.70, 0.0, 0.30],  [0.85, 0.10, 0.05], [0.40, 0.60, 0.0],  [0.60, 0.0, 0.40]],
    broadband:      [HOME_BROADBAND,     HOME_BROADBAND,     HOME_BROADBAND,     HOME_BROADBAND,     POOR_BROADBAND],
    download:       [(25.0, 0.7),        (90.0, 0.7),        (120.0, 0.8),       (200.0, 0.8),       (6.0, 0.9)],
    upload_ratio:   [0.30,               0.30,               0.25,               0.25,               0.15],
    speed_cv:       [0.15,               0.08,               0.06,               0.03,               0.45],
    ram_mb:         [(700.0, 0.4),       (2500.0, 0.4),      (4000.0, 0.5),      (8000.0, 0.5),      (1500.0, 0.6)],
    cpu_free:       [0.40,               0.55,               0.60,               0.75,               0.50],
    charging:       [0.50,               0.55,               0.60,               0.0,                0.50],
    temperature_f:  [(92.0, 7.0),        (90.0, 6.0),        (95.0, 7.0),        (88.0, 6.0),        (92.0, 8.0)],
    hot:            [0.03,               0.015,              0.005,              0.0,                0.02],
    offline:        [0.10,               0.06,               0.08,               0.04,               0.15],
    trusted:        [0.002,              0.005,              0.02,               0.08,               0.001],
    gpu:            [0.0,                0.0,                0.15,               0.40,               0.03],
    fail:           [(0.04, 0.03),       (0.001, 0.001),     (0.00005, 0.00005), (0.00005, 0.00005), (0.30, 0.134)],
    delayed:        [0.05,               0.01,               0.002,              0.001,              0.35],
    incorrect:      [0.005,              0.0005,             0.0001,             0.0001,             0.01],
    broken:         [0.01,               0.002,              0.002,              0.002,              0.01],
    worker:         [0.35,               0.40,               0.30,               0.25,               0.40],
};

/// Hardware (phone, tablet, laptop, desktop) of each class: old and new phones include
/// some tablets; the badly connected class is any hardware, mostly phones.
const OLD_PHONE_HW: [f64; 4] = [0.85, 0.15, 0.0, 0.0];
const NEW_PHONE_HW: [f64; 4] = [0.90, 0.10, 0.0, 0.0];
const LAPTOP_HW: [f64; 4] = [0.0, 0.0, 1.0, 0.0];
const DESKTOP_HW: [f64; 4] = [0.0, 0.0, 0.0, 1.0];
const MIXED_HW: [f64; 4] = [0.55, 0.05, 0.25, 0.15];
/// Network categories (fiber, cable, DSL, Starlink, other) of home lines, and of the
/// lines of badly connected devices: no fiber, much DSL and satellite.
const HOME_BROADBAND: [f64; 5] = [0.40, 0.35, 0.20, 0.03, 0.02];
const POOR_BROADBAND: [f64; 5] = [0.0, 0.10, 0.45, 0.30, 0.15];

/// Spread (log-normal sigma) of the upload / download ratio around the class median.
pub const UPLOAD_RATIO_SIGMA: f64 = 0.5;
/// Spread (log-normal sigma) of the speed samples' coefficient of variation.
pub const SPEED_CV_SIGMA: f64 = 0.5;
/// Concentration of the beta distribution of free CPU (higher is tighter).
pub const CPU_KAPPA: f64 = 6.0;

// Parameters shared by every class.
/// Share of devices whose processor is not in the benchmark (the term's default applies).
const UNKNOWN_PROCESSOR: f64 = 0.02;
/// Share of devices with no recent speed samples (the app just started).
const NO_SPEED_SAMPLES: f64 = 0.03;
/// Battery level: beta (mean, concentration); about 1% of devices are below the 10% flag.
const BATTERY: (f64, f64) = (0.62, 4.0);
/// Hours since the last task: log-normal (median, sigma).
const HOURS_SINCE_TASK: (f64, f64) = (8.0, 1.2);
/// Weights of the regions Americas, Europe, Asia-Pacific.
const REGION_WEIGHTS: [f64; 3] = [0.40, 0.35, 0.25];
/// Worker App versions and their shares: most devices are up to date.
const APP_VERSIONS: [(&str, f64); 4] = [("1.4.0", 0.80), ("1.3.2", 0.12), ("1.2.0", 0.06), ("1.1.0", 0.02)];
const GPUS: [&str; 5] = [
    "NVIDIA GeForce RTX 4090",
    "NVIDIA GeForce RTX 4070",
    "NVIDIA GeForce RTX 3060",
    "AMD Radeon RX 7800 XT",
    "Intel Arc A770",
];
/// Broken devices: failure probability beta (mean, sd); they fail fast, so rarely delay.
const BROKEN_FAIL: (f64, f64) = (0.95, 0.03);
const BROKEN_DELAYED: f64 = 0.05;

// Worker preferences (Table 3), for devices that have them.
/// Share of workers with availability windows.
const WORKER_SCHEDULED: f64 = 0.7;
/// Availability windows in the worker's local time; the first is the paper's example.
const SCHEDULES: [&[&str]; 6] = [
    &["SAT-SUN 01:00-12:00", "MON-FRI 00:00-07:00"],
    &["MON-FRI 22:00-07:00"],
    &["MON-SUN 00:00-08:00"],
    &["SAT-SUN 00:00-24:00"],
    &["MON-FRI 09:00-17:00"],
    &["MON-FRI 18:00-24:00", "SAT-SUN 08:00-24:00"],
];
/// Share of phone and tablet workers who allow Wi-Fi only (no cellular data).
const WIFI_ONLY: f64 = 0.5;
/// Share of other workers who allow Wi-Fi and Ethernet only.
const NO_CELLULAR: f64 = 0.15;
/// Share of workers with a data cap, and the caps offered, MB.
const DATA_CAPPED: f64 = 0.3;
const DATA_CAPS_MB: [f64; 4] = [2_000.0, 5_000.0, 10_000.0, 50_000.0];
/// UTC offsets (minutes) of the regions' main time zones.
const AMERICAS_OFFSETS: [i32; 5] = [-480, -420, -360, -300, -180];
const EUROPE_OFFSETS: [i32; 3] = [0, 60, 120];
const ASIA_PACIFIC_OFFSETS: [i32; 4] = [330, 480, 540, 600];

const HARDWARE: [DeviceClass; 4] = [DeviceClass::Phone, DeviceClass::Tablet, DeviceClass::Laptop, DeviceClass::Desktop];
const LINKS: [Connection; 3] = [Connection::Wifi, Connection::Ethernet, Connection::Cellular];
const CATEGORIES: [NetworkCategory; 5] = [
    NetworkCategory::Fiber,
    NetworkCategory::Cable,
    NetworkCategory::Dsl,
    NetworkCategory::Starlink,
    NetworkCategory::Other,
];
const REGIONS: [Region; 3] = [Region::Americas, Region::Europe, Region::AsiaPacific];

/// Lends a rand 0.9 generator to statrs 0.18, whose samplers take rand 0.8's `Rng`.
/// It only forwards the calls, so the draws are the generator's own stream.
struct Compat<'a, R: ?Sized>(&'a mut R);

impl<R: RngCore + ?Sized> rand08::RngCore for Compat<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.0.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.0.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand08::Error> {
        self.0.fill_bytes(dest);
        Ok(())
    }
}

/// One draw from a statrs distribution.
fn draw<D: rand08::distributions::Distribution<f64>>(rng: &mut ChaCha8Rng, d: &D) -> f64 {
    d.sample(&mut Compat(rng))
}

/// One draw from a distribution on 0..=1 (a beta), `fallback` in the (practically
/// impossible) case of a 0/0 from two underflowing gamma draws.
fn draw_unit(rng: &mut ChaCha8Rng, d: &Beta, fallback: f64) -> f64 {
    let x = draw(rng, d);
    if x.is_finite() {
        x.clamp(0.0, 1.0)
    } else {
        fallback
    }
}

fn beta_mean_sd(mean: f64, sd: f64) -> Beta {
    let k = mean * (1.0 - mean) / (sd * sd) - 1.0;
    Beta::new(mean * k, (1.0 - mean) * k).expect("class table: beta sd must be below sqrt(mean * (1 - mean))")
}

fn beta_mean_kappa(mean: f64, kappa: f64) -> Beta {
    Beta::new(mean * kappa, (1.0 - mean) * kappa).expect("class table: beta mean must be within 0..1")
}

fn log_normal(median: f64, sigma: f64) -> LogNormal {
    LogNormal::new(median.ln(), sigma).expect("class table: log-normal median and sigma must be positive")
}

fn weighted(weights: &[f64]) -> WeightedIndex<f64> {
    WeightedIndex::new(weights).expect("class table: weights must be non-negative with a positive sum")
}

fn round_to(x: f64, step: f64) -> f64 {
    (x / step).round() * step
}

/// Rounded to one decimal: values a device would report, and that survive a JSON
/// round trip unchanged.
fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// The distributions of one class, built once per grid.
struct ClassSampler {
    column: usize,
    hardware: WeightedIndex<f64>,
    processor: Normal,
    link: WeightedIndex<f64>,
    broadband: WeightedIndex<f64>,
    download: LogNormal,
    upload_ratio: LogNormal,
    speed_cv: LogNormal,
    ram_mb: LogNormal,
    cpu_free: Beta,
    temperature_f: Normal,
    fail: Beta,
}

impl ClassSampler {
    fn new(profile: DeviceProfile) -> ClassSampler {
        let i = profile.index();
        let t = &TABLE;
        ClassSampler {
            column: i,
            hardware: weighted(&t.hardware[i]),
            processor: Normal::new(t.processor[i].0, t.processor[i].1).expect("class table: processor"),
            link: weighted(&t.link[i]),
            broadband: weighted(&t.broadband[i]),
            download: log_normal(t.download[i].0, t.download[i].1),
            upload_ratio: log_normal(t.upload_ratio[i], UPLOAD_RATIO_SIGMA),
            speed_cv: log_normal(t.speed_cv[i], SPEED_CV_SIGMA),
            ram_mb: log_normal(t.ram_mb[i].0, t.ram_mb[i].1),
            cpu_free: beta_mean_kappa(t.cpu_free[i], CPU_KAPPA),
            temperature_f: Normal::new(t.temperature_f[i].0, t.temperature_f[i].1).expect("class table: temperature"),
            fail: beta_mean_sd(t.fail[i].0, t.fail[i].1),
        }
    }
}

/// The generator's state: the random stream and every distribution, built once.
struct Generator {
    rng: ChaCha8Rng,
    mix: WeightedIndex<f64>,
    classes: [ClassSampler; 5],
    std_normal: Normal,
    battery: Beta,
    hours: LogNormal,
    broken_fail: Beta,
    region: WeightedIndex<f64>,
    app_version: WeightedIndex<f64>,
    schedules: Vec<Vec<ScheduleWindow>>,
    id_width: usize,
}

impl Generator {
    fn new(cfg: &SynthConfig) -> Generator {
        let schedules = SCHEDULES
            .iter()
            .map(|windows| windows.iter().map(|w| w.parse().expect("schedule templates parse")).collect())
            .collect();
        let digits = cfg.devices.max(1).ilog10() as usize + 1;
        Generator {
            rng: ChaCha8Rng::seed_from_u64(cfg.seed),
            mix: weighted(&cfg.mix.weights),
            classes: DeviceProfile::ALL.map(ClassSampler::new),
            std_normal: Normal::standard(),
            battery: beta_mean_kappa(BATTERY.0, BATTERY.1),
            hours: log_normal(HOURS_SINCE_TASK.0, HOURS_SINCE_TASK.1),
            broken_fail: beta_mean_sd(BROKEN_FAIL.0, BROKEN_FAIL.1),
            region: weighted(&REGION_WEIGHTS),
            app_version: weighted(&APP_VERSIONS.map(|(_, w)| w)),
            schedules,
            id_width: digits.max(7),
        }
    }

    /// The device of 0-based position `n`.
    fn device(&mut self, n: usize) -> SynthDevice {
        let rng = &mut self.rng;
        let profile = DeviceProfile::ALL[self.mix.sample(rng)];
        let s = &self.classes[profile.index()];
        let c = s.column;
        let t = &TABLE;

        let class = HARDWARE[s.hardware.sample(rng)];
        let has_battery = matches!(class, DeviceClass::Phone | DeviceClass::Tablet | DeviceClass::Laptop);

        let processor_score = if rng.random_bool(UNKNOWN_PROCESSOR) {
            None
        } else {
            Some(draw(rng, &s.processor).round().clamp(1.0, 500.0))
        };

        let connection = LINKS[s.link.sample(rng)];
        let network_category = match connection {
            Connection::Cellular => NetworkCategory::Mobile,
            _ => CATEGORIES[s.broadband.sample(rng)],
        };
        let download = draw(rng, &s.download).max(0.1);
        let upload = (download * draw(rng, &s.upload_ratio)).max(0.1);
        let cv = draw(rng, &s.speed_cv);
        let samples = if rng.random_bool(NO_SPEED_SAMPLES) { 0 } else { rng.random_range(3..=5) };
        let mut speed_samples_mbps = Vec::with_capacity(samples);
        for _ in 0..samples {
            let z = draw(rng, &self.std_normal);
            speed_samples_mbps.push(round1((download * (cv * z).exp()).max(0.1)));
        }

        let ram_available_mb = round_to(draw(rng, &s.ram_mb), 1.0);
        let cpu_available_pct = round1(100.0 * draw_unit(rng, &s.cpu_free, t.cpu_free[c]));
        let (battery_pct, charging) = if has_battery {
            let level = (100.0 * draw_unit(rng, &self.battery, BATTERY.0)).round();
            (Some(level), rng.random_bool(t.charging[c]))
        } else {
            (None, true) // mains powered: always plugged in
        };
        let temperature_f = if rng.random_bool(t.hot[c]) {
            rng.random_range(121.0..135.0)
        } else {
            draw(rng, &s.temperature_f).max(32.0)
        };
        let online = !rng.random_bool(t.offline[c]);
        let region = REGIONS[self.region.sample(rng)];
        let trusted = rng.random_bool(t.trusted[c]);
        let app_version = APP_VERSIONS[self.app_version.sample(rng)].0;
        let has_gpu = matches!(class, DeviceClass::Laptop | DeviceClass::Desktop) && rng.random_bool(t.gpu[c]);
        let gpu = if has_gpu { GPUS.choose(rng).map(|g| g.to_string()) } else { None };

        let broken = rng.random_bool(t.broken[c]);
        let fault = if broken {
            let failed = draw_unit(rng, &self.broken_fail, BROKEN_FAIL.0);
            FaultProbs { failed, delayed: BROKEN_DELAYED, incorrect: 0.0 }
        } else {
            // One draw per device scales all three probabilities: a device that fails
            // more than its class also delays and errs more.
            let mean = t.fail[c].0;
            let failed = draw_unit(rng, &s.fail, mean);
            let scale = failed / mean;
            FaultProbs {
                failed,
                delayed: (t.delayed[c] * scale).min(1.0),
                incorrect: (t.incorrect[c] * scale).min(1.0),
            }
        };
        let mut faults = FaultHistory::EMPTY;
        for _ in 0..rng.random_range(0..=WINDOW) {
            let failed = rng.random_bool(fault.failed);
            let delayed = rng.random_bool(fault.delayed);
            let incorrect = !failed && rng.random_bool(fault.incorrect);
            faults.push(Outcome { failed, delayed, incorrect });
        }
        let hours_since_last_task = round1(draw(rng, &self.hours));

        let worker =
            if rng.random_bool(t.worker[c]) { Some(worker_prefs(rng, &self.schedules, class, region)) } else { None };

        let device = Device {
            id: format!("dev-{:0width$}", n + 1, width = self.id_width),
            online: Some(online),
            processor_score,
            network_category: Some(network_category),
            connection: Some(connection),
            download_mbps: Some(round1(download)),
            upload_mbps: Some(round1(upload)),
            speed_samples_mbps,
            ram_available_mb: Some(ram_available_mb),
            cpu_available_pct: Some(cpu_available_pct),
            battery_pct,
            charging: Some(charging),
            temperature_f: Some(round1(temperature_f)),
            region: Some(region),
            trusted,
            app_version: Some(app_version.to_string()),
            class: Some(class),
            gpu,
            faults,
            hours_since_last_task: Some(hours_since_last_task),
            lottery_winner: false,
            worker,
        };
        SynthDevice { device, profile, fault, broken }
    }
}

/// A worker block: availability windows, a UTC offset of the device's region, maybe
/// a link restriction and a data cap.
fn worker_prefs(
    rng: &mut ChaCha8Rng,
    schedules: &[Vec<ScheduleWindow>],
    class: DeviceClass,
    region: Region,
) -> WorkerPrefs {
    let schedule =
        if rng.random_bool(WORKER_SCHEDULED) { schedules.choose(rng).cloned().unwrap_or_default() } else { Vec::new() };
    let offsets: &[i32] = match region {
        Region::Americas => &AMERICAS_OFFSETS,
        Region::Europe => &EUROPE_OFFSETS,
        Region::AsiaPacific => &ASIA_PACIFIC_OFFSETS,
    };
    let utc_offset_minutes = offsets.choose(rng).copied().unwrap_or(0);
    let allowed_connections = match class {
        DeviceClass::Phone | DeviceClass::Tablet => rng.random_bool(WIFI_ONLY).then(|| vec![Connection::Wifi]),
        _ => rng.random_bool(NO_CELLULAR).then(|| vec![Connection::Wifi, Connection::Ethernet]),
    };
    let data_cap_mb = if rng.random_bool(DATA_CAPPED) { DATA_CAPS_MB.choose(rng).copied() } else { None };
    // A few workers have used their whole cap (`data_cap_reached`).
    let data_used_mb = data_cap_mb.map_or(0.0, |cap| (cap * rng.random_range(0.0..1.05)).min(cap).round());
    WorkerPrefs { schedule, utc_offset_minutes, allowed_connections, data_cap_mb, data_used_mb }
}

#[cfg(test)]
mod tests {
    use super::*;
    use byterank_core::grid::GridSnapshot;

    #[test]
    fn default_now_is_the_spec_example() {
        assert_eq!(DEFAULT_NOW, Timestamp::parse_rfc3339("2026-11-26T03:00:00Z").unwrap());
        assert_eq!(SynthConfig::default().now, DEFAULT_NOW);
    }

    #[test]
    fn class_mix_checks_its_weights() {
        assert_eq!(ClassMix::default(), ClassMix::PAPER);
        assert!((DeviceProfile::ALL.iter().map(|&p| ClassMix::PAPER.fraction(p)).sum::<f64>() - 1.0).abs() < 1e-12);
        assert!((ClassMix::PAPER.fraction(DeviceProfile::NewPhone) - 0.68).abs() < 1e-12);
        let mix = ClassMix::new([1.0, 1.0, 0.0, 0.0, 2.0]).unwrap();
        assert_eq!(mix.fraction(DeviceProfile::PoorlyConnected), 0.5);
        assert_eq!(mix.weight(DeviceProfile::OldPhone), 1.0);
        let e = ClassMix::new([0.1, -1.0, 0.0, 0.0, 0.0]).unwrap_err();
        assert_eq!(e, MixError::BadWeight { profile: DeviceProfile::NewPhone, weight: -1.0 });
        assert!(e.to_string().contains("`new_phone`"), "{e}");
        assert!(matches!(ClassMix::new([f64::NAN, 0.0, 0.0, 0.0, 1.0]), Err(MixError::BadWeight { .. })));
        assert_eq!(ClassMix::new([0.0; 5]), Err(MixError::BadSum(0.0)));
        assert!(matches!(ClassMix::new([f64::MAX; 5]), Err(MixError::BadSum(_))));
    }

    #[test]
    fn ids_are_zero_padded_in_creation_order() {
        let grid = synth_grid(&SynthConfig { devices: 12, ..SynthConfig::default() });
        let ids: Vec<&str> = grid.devices().iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids[0], "dev-0000001");
        assert_eq!(ids[11], "dev-0000012");
        let synth = synth_devices(&SynthConfig { devices: 12, ..SynthConfig::default() });
        assert!(synth.iter().zip(&ids).all(|(s, id)| s.device.id == *id), "grid order is creation order");
        assert_eq!(synth_grid(&SynthConfig { devices: 0, ..SynthConfig::default() }).len(), 0);
    }

    #[test]
    fn one_class_only() {
        let cfg = SynthConfig { devices: 300, mix: ClassMix::only(DeviceProfile::Desktop), ..SynthConfig::default() };
        let devices = synth_devices(&cfg);
        assert!(devices.iter().all(|s| s.profile == DeviceProfile::Desktop));
        assert!(devices.iter().all(|s| s.device.class == Some(DeviceClass::Desktop) && s.device.battery_pct.is_none()));
    }

    #[test]
    fn class_table_builds() {
        // Every distribution's parameters are valid (the constructors would panic).
        for p in DeviceProfile::ALL {
            let s = ClassSampler::new(p);
            assert_eq!(s.column, p.index());
        }
        for row in [TABLE.charging, TABLE.hot, TABLE.offline, TABLE.trusted, TABLE.gpu, TABLE.broken, TABLE.worker] {
            assert!(row.iter().all(|p| (0.0..=1.0).contains(p)));
        }
    }
}
