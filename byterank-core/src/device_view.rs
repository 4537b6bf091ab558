//! Read access to one device's state, whatever stores it.
//!
//! [`DeviceView`] is what the core's readers take (the capacity score, the flags,
//! eligibility, validation, and a whole [`GridSnapshot`](crate::grid::GridSnapshot)
//! through its devices), so a host can rank its own records where they are
//! instead of keeping a [`Device`] beside each one. [`Device`] is the owned
//! implementation; [`Device::from_view`] copies a view into one (to register it
//! with the engine, say).
//!
//! Every accessor but [`DeviceView::id`] has a default: the value a missing input
//! has in the grid file (the same as [`Device::new`] leaves it), so a host
//! implements only what its records hold.

use alloc::string::String;

use crate::device::{check_number, display_id, Connection, Device, DeviceClass, DeviceError, NetworkCategory, Region};
use crate::fault::FaultHistory;
use crate::worker::WorkerPrefs;

/// One device's state at the snapshot's instant, as the core reads it.
///
/// The accessors are those of [`Device`]'s fields, with the same names and
/// meanings (spec §2). Each is called at most a few times per device and ranking:
/// a derived value (a score computed from the host's own fields, say) may be
/// computed on each call.
pub trait DeviceView {
    /// Unique id within a grid; ties in capacity are broken by id in byte order.
    fn id(&self) -> &str;
    /// Whether the Worker App is online; `None` means online.
    fn online(&self) -> Option<bool> {
        None
    }
    /// External processor benchmark score (the processor term, 1..=500).
    fn processor_score(&self) -> Option<f64> {
        None
    }
    /// Kind of internet access.
    fn network_category(&self) -> Option<NetworkCategory> {
        None
    }
    /// Local link type.
    fn connection(&self) -> Option<Connection> {
        None
    }
    /// Download speed in Mbps.
    fn download_mbps(&self) -> Option<f64> {
        None
    }
    /// Upload speed in Mbps.
    fn upload_mbps(&self) -> Option<f64> {
        None
    }
    /// Speed measurements of the last ten minutes, for the stability term.
    fn speed_samples_mbps(&self) -> &[f64] {
        &[]
    }
    /// Unused RAM in MB.
    fn ram_available_mb(&self) -> Option<f64> {
        None
    }
    /// Unused CPU time, percent.
    fn cpu_available_pct(&self) -> Option<f64> {
        None
    }
    /// Battery level, percent; `None` means the device has no battery.
    fn battery_pct(&self) -> Option<f64> {
        None
    }
    /// Whether the device is plugged in.
    fn charging(&self) -> Option<bool> {
        None
    }
    /// Core temperature in degrees Fahrenheit.
    fn temperature_f(&self) -> Option<f64> {
        None
    }
    /// Where the device is.
    fn region(&self) -> Option<Region> {
        None
    }
    /// Whether the device is verified for trusted processing.
    fn trusted(&self) -> bool {
        false
    }
    /// Version of the Worker App (semver).
    fn app_version(&self) -> Option<&str> {
        None
    }
    /// Kind of machine.
    fn class(&self) -> Option<DeviceClass> {
        None
    }
    /// GPU model, if any.
    fn gpu(&self) -> Option<&str> {
        None
    }
    /// The last outcomes attributable to the device (Table 8).
    fn faults(&self) -> FaultHistory {
        FaultHistory::EMPTY
    }
    /// Hours since the device last processed a task (or since registration when
    /// it never has); `None` means the device cannot win the lottery.
    fn hours_since_last_task(&self) -> Option<f64> {
        None
    }
    /// Whether the device holds a valid (less than 24 h old) lottery win.
    fn lottery_winner(&self) -> bool {
        false
    }
    /// The worker's own limits (Table 3); `None` means none.
    fn worker(&self) -> Option<&WorkerPrefs> {
        None
    }
}

/// A reference to a view is a view: [`Grid`](crate::grid::Grid) hands out `&Device`.
impl<T: DeviceView + ?Sized> DeviceView for &T {
    #[inline]
    fn id(&self) -> &str {
        (**self).id()
    }
    #[inline]
    fn online(&self) -> Option<bool> {
        (**self).online()
    }
    #[inline]
    fn processor_score(&self) -> Option<f64> {
        (**self).processor_score()
    }
    #[inline]
    fn network_category(&self) -> Option<NetworkCategory> {
        (**self).network_category()
    }
    #[inline]
    fn connection(&self) -> Option<Connection> {
        (**self).connection()
    }
    #[inline]
    fn download_mbps(&self) -> Option<f64> {
        (**self).download_mbps()
    }
    #[inline]
    fn upload_mbps(&self) -> Option<f64> {
        (**self).upload_mbps()
    }
    #[inline]
    fn speed_samples_mbps(&self) -> &[f64] {
        (**self).speed_samples_mbps()
    }
    #[inline]
    fn ram_available_mb(&self) -> Option<f64> {
        (**self).ram_available_mb()
    }
    #[inline]
    fn cpu_available_pct(&self) -> Option<f64> {
        (**self).cpu_available_pct()
    }
    #[inline]
    fn battery_pct(&self) -> Option<f64> {
        (**self).battery_pct()
    }
    #[inline]
    fn charging(&self) -> Option<bool> {
        (**self).charging()
    }
    #[inline]
    fn temperature_f(&self) -> Option<f64> {
        (**self).temperature_f()
    }
    #[inline]
    fn region(&self) -> Option<Region> {
        (**self).region()
    }
    #[inline]
    fn trusted(&self) -> bool {
        (**self).trusted()
    }
    #[inline]
    fn app_version(&self) -> Option<&str> {
        (**self).app_version()
    }
    #[inline]
    fn class(&self) -> Option<DeviceClass> {
        (**self).class()
    }
    #[inline]
    fn gpu(&self) -> Option<&str> {
        (**self).gpu()
    }
    #[inline]
    fn faults(&self) -> FaultHistory {
        (**self).faults()
    }
    #[inline]
    fn hours_since_last_task(&self) -> Option<f64> {
        (**self).hours_since_last_task()
    }
    #[inline]
    fn lottery_winner(&self) -> bool {
        (**self).lottery_winner()
    }
    #[inline]
    fn worker(&self) -> Option<&WorkerPrefs> {
        (**self).worker()
    }
}

impl DeviceView for Device {
    #[inline]
    fn id(&self) -> &str {
        &self.id
    }
    #[inline]
    fn online(&self) -> Option<bool> {
        self.online
    }
    #[inline]
    fn processor_score(&self) -> Option<f64> {
        self.processor_score
    }
    #[inline]
    fn network_category(&self) -> Option<NetworkCategory> {
        self.network_category
    }
    #[inline]
    fn connection(&self) -> Option<Connection> {
        self.connection
    }
    #[inline]
    fn download_mbps(&self) -> Option<f64> {
        self.download_mbps
    }
    #[inline]
    fn upload_mbps(&self) -> Option<f64> {
        self.upload_mbps
    }
    #[inline]
    fn speed_samples_mbps(&self) -> &[f64] {
        &self.speed_samples_mbps
    }
    #[inline]
    fn ram_available_mb(&self) -> Option<f64> {
        self.ram_available_mb
    }
    #[inline]
    fn cpu_available_pct(&self) -> Option<f64> {
        self.cpu_available_pct
    }
    #[inline]
    fn battery_pct(&self) -> Option<f64> {
        self.battery_pct
    }
    #[inline]
    fn charging(&self) -> Option<bool> {
        self.charging
    }
    #[inline]
    fn temperature_f(&self) -> Option<f64> {
        self.temperature_f
    }
    #[inline]
    fn region(&self) -> Option<Region> {
        self.region
    }
    #[inline]
    fn trusted(&self) -> bool {
        self.trusted
    }
    #[inline]
    fn app_version(&self) -> Option<&str> {
        self.app_version.as_deref()
    }
    #[inline]
    fn class(&self) -> Option<DeviceClass> {
        self.class
    }
    #[inline]
    fn gpu(&self) -> Option<&str> {
        self.gpu.as_deref()
    }
    #[inline]
    fn faults(&self) -> FaultHistory {
        self.faults
    }
    #[inline]
    fn hours_since_last_task(&self) -> Option<f64> {
        self.hours_since_last_task
    }
    #[inline]
    fn lottery_winner(&self) -> bool {
        self.lottery_winner
    }
    #[inline]
    fn worker(&self) -> Option<&WorkerPrefs> {
        self.worker.as_ref()
    }
}

impl Device {
    /// The owned copy of a view: what [`Engine::register_device`](crate::Engine::register_device)
    /// and the `RegisterDevice` command take.
    pub fn from_view<V: DeviceView + ?Sized>(d: &V) -> Device {
        Device {
            id: String::from(d.id()),
            online: d.online(),
            processor_score: d.processor_score(),
            network_category: d.network_category(),
            connection: d.connection(),
            download_mbps: d.download_mbps(),
            upload_mbps: d.upload_mbps(),
            speed_samples_mbps: d.speed_samples_mbps().to_vec(),
            ram_available_mb: d.ram_available_mb(),
            cpu_available_pct: d.cpu_available_pct(),
            battery_pct: d.battery_pct(),
            charging: d.charging(),
            temperature_f: d.temperature_f(),
            region: d.region(),
            trusted: d.trusted(),
            app_version: d.app_version().map(String::from),
            class: d.class(),
            gpu: d.gpu().map(String::from),
            faults: d.faults(),
            hours_since_last_task: d.hours_since_last_task(),
            lottery_winner: d.lottery_winner(),
            worker: d.worker().cloned(),
        }
    }
}

/// Checks a device's state against the rules of spec §2 and §15: an id of
/// 1..=256 bytes, not blank and without control characters; numbers finite and
/// not negative; percentages within 0..=100; worker limits in range. Fault
/// histories and worker schedules are checked when they are built. An app
/// version that is not semver is allowed here (it meets no version requirement);
/// grid files must not hold one ([`Device::validate_file`]).
pub fn validate<V: DeviceView + ?Sized>(d: &V) -> Result<(), DeviceError> {
    let id = d.id();
    let err = |field, problem| DeviceError { id: display_id(id), field, problem };
    if let Some(problem) = crate::device::id_problem(id) {
        return Err(err("id", problem));
    }
    let numbers = [
        ("processor_score", d.processor_score()),
        ("download_mbps", d.download_mbps()),
        ("upload_mbps", d.upload_mbps()),
        ("ram_available_mb", d.ram_available_mb()),
        ("cpu_available_pct", d.cpu_available_pct()),
        ("battery_pct", d.battery_pct()),
        ("hours_since_last_task", d.hours_since_last_task()),
    ];
    for (field, value) in numbers {
        check_number(value).map_err(|p| err(field, p))?;
    }
    crate::device::check_temperature(d.temperature_f()).map_err(|p| err("temperature_f", p))?;
    for s in d.speed_samples_mbps() {
        check_number(Some(*s)).map_err(|p| err("speed_samples_mbps", p))?;
    }
    for (field, value) in [("cpu_available_pct", d.cpu_available_pct()), ("battery_pct", d.battery_pct())] {
        if value.is_some_and(|v| v > 100.0) {
            return Err(err(field, "is a percentage and must be within 0..=100"));
        }
    }
    if let Some(w) = d.worker() {
        w.validate().map_err(|(field, problem)| err(field, problem))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::Outcome;

    /// A host's record with fewer fields: the rest take their defaults.
    struct Row {
        name: &'static str,
        cores: u32,
        recent: FaultHistory,
    }

    impl DeviceView for Row {
        fn id(&self) -> &str {
            self.name
        }
        fn processor_score(&self) -> Option<f64> {
            Some(f64::from(self.cores) * 50.0)
        }
        fn faults(&self) -> FaultHistory {
            self.recent
        }
    }

    #[test]
    fn a_view_copies_into_the_device_it_describes() {
        let mut recent = FaultHistory::EMPTY;
        recent.push(Outcome { failed: true, ..Outcome::OK });
        let row = Row { name: "rack1-a", cores: 8, recent };
        let d = Device::from_view(&row);
        assert_eq!(d, Device { processor_score: Some(400.0), faults: recent, ..Device::new("rack1-a") });
        assert_eq!(Device::from_view(&d), d, "a device's view is the device");
        assert_eq!(validate(&row), Ok(()));
        let blank = Row { name: " ", cores: 1, recent };
        assert_eq!(validate(&blank).map_err(|e| e.field), Err("id"));
    }
}
