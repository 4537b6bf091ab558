//! Threshold flags (Table 9) and the worker-preference flags (Table 3; spec §5).
//!
//! A flagged device is out of scheduling: ByteRank gives it rank 0.

use core::fmt;

use crate::device_view::DeviceView;
use crate::fault::FaultPolicy;
use crate::time::Timestamp;

/// One reason a device is out of scheduling.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[repr(u8)]
pub enum Flag {
    /// The Worker App is offline.
    Disconnected = 0,
    /// The fault history trips the fault policy.
    RepeatedFailures = 1,
    /// Battery below the threshold (charging or not).
    LowBattery = 2,
    /// Core temperature above the threshold.
    HighTemperature = 3,
    /// Outside the worker's scheduled availability.
    OutsideSchedule = 4,
    /// On a connection type the worker disallowed.
    NetworkNotAllowed = 5,
    /// The worker's data-traffic cap is used up.
    DataCapReached = 6,
}

impl Flag {
    /// Every flag, in bit order.
    pub const ALL: [Flag; 7] = [
        Flag::Disconnected,
        Flag::RepeatedFailures,
        Flag::LowBattery,
        Flag::HighTemperature,
        Flag::OutsideSchedule,
        Flag::NetworkNotAllowed,
        Flag::DataCapReached,
    ];

    /// The flag's name as the grid tools print it.
    pub fn name(self) -> &'static str {
        match self {
            Flag::Disconnected => "disconnected",
            Flag::RepeatedFailures => "repeated_failures",
            Flag::LowBattery => "low_battery",
            Flag::HighTemperature => "high_temperature",
            Flag::OutsideSchedule => "outside_schedule",
            Flag::NetworkNotAllowed => "network_not_allowed",
            Flag::DataCapReached => "data_cap_reached",
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A set of [`Flag`]s, one bit each. Serialized as the list of their names.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(into = "alloc::vec::Vec<Flag>", from = "alloc::vec::Vec<Flag>"))]
pub struct Flags(u8);

impl From<Flags> for alloc::vec::Vec<Flag> {
    fn from(f: Flags) -> Self {
        f.iter().collect()
    }
}

impl From<alloc::vec::Vec<Flag>> for Flags {
    fn from(list: alloc::vec::Vec<Flag>) -> Self {
        list.into_iter().collect()
    }
}

impl Flags {
    /// No flag raised.
    pub const NONE: Flags = Flags(0);

    /// Adds a flag.
    pub fn insert(&mut self, f: Flag) {
        self.0 |= 1 << f as u8;
    }

    /// Removes a flag.
    pub fn remove(&mut self, f: Flag) {
        self.0 &= !(1 << f as u8);
    }

    /// Whether a flag is raised.
    pub fn contains(self, f: Flag) -> bool {
        self.0 >> f as u8 & 1 == 1
    }

    /// Whether any flag is raised (the device is out of scheduling).
    pub fn any(self) -> bool {
        self.0 != 0
    }

    /// The raised flags, in bit order.
    pub fn iter(self) -> impl Iterator<Item = Flag> {
        Flag::ALL.into_iter().filter(move |f| self.contains(*f))
    }
}

impl FromIterator<Flag> for Flags {
    fn from_iter<I: IntoIterator<Item = Flag>>(iter: I) -> Self {
        let mut flags = Flags::NONE;
        iter.into_iter().for_each(|f| flags.insert(f));
        flags
    }
}

/// Thresholds of Table 9. `Default` gives the paper's values.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct FlagConfig {
    /// `low_battery` below this percentage (paper: 10).
    pub min_battery_pct: f64,
    /// `high_temperature` above this, °F (paper: 120).
    pub max_temperature_f: f64,
    /// When the fault history raises `repeated_failures`.
    pub fault_policy: FaultPolicy,
}

impl Default for FlagConfig {
    fn default() -> Self {
        FlagConfig { min_battery_pct: 10.0, max_temperature_f: 120.0, fault_policy: FaultPolicy::paper() }
    }
}

/// The flags a device raises at `now`.
pub fn flags<V: DeviceView + ?Sized>(d: &V, now: Timestamp, cfg: &FlagConfig) -> Flags {
    let mut f = state_flags(d, cfg);
    if d.worker().is_some_and(|w| !w.available_at(now)) {
        f.insert(Flag::OutsideSchedule);
    }
    f
}

/// The flags a device raises whatever the time: all but `outside_schedule`, which
/// only a worker schedule can raise.
pub fn state_flags<V: DeviceView + ?Sized>(d: &V, cfg: &FlagConfig) -> Flags {
    let mut f = Flags::NONE;
    if d.online() == Some(false) {
        f.insert(Flag::Disconnected);
    }
    if cfg.fault_policy.flags(&d.faults()) {
        f.insert(Flag::RepeatedFailures);
    }
    if d.battery_pct().is_some_and(|b| b < cfg.min_battery_pct) {
        f.insert(Flag::LowBattery);
    }
    if d.temperature_f().is_some_and(|t| t > cfg.max_temperature_f) {
        f.insert(Flag::HighTemperature);
    }
    if let Some(w) = d.worker() {
        if !w.allows(d.connection()) {
            f.insert(Flag::NetworkNotAllowed);
        }
        if w.data_cap_reached() {
            f.insert(Flag::DataCapReached);
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::{Connection, Device};
    use crate::fault::Outcome;
    use crate::worker::WorkerPrefs;

    #[test]
    fn table_9_thresholds() {
        let cfg = FlagConfig::default();
        let now = Timestamp::EPOCH;
        let mut d = Device::new("d");
        assert_eq!(flags(&d, now, &cfg), Flags::NONE);
        d.battery_pct = Some(10.0);
        assert!(!flags(&d, now, &cfg).any(), "10% is not below 10%");
        d.battery_pct = Some(9.9);
        d.charging = Some(true);
        assert!(flags(&d, now, &cfg).contains(Flag::LowBattery), "charging or not");
        d.battery_pct = None;
        d.temperature_f = Some(120.0);
        assert!(!flags(&d, now, &cfg).any());
        d.temperature_f = Some(120.5);
        assert!(flags(&d, now, &cfg).contains(Flag::HighTemperature));
        d.online = Some(false);
        let f = flags(&d, now, &cfg);
        assert_eq!(f.iter().collect::<alloc::vec::Vec<_>>(), [Flag::Disconnected, Flag::HighTemperature]);
    }

    #[cfg(feature = "serde")]
    #[test]
    fn flags_serialize_as_names() {
        let f: Flags = [Flag::LowBattery, Flag::Disconnected].into_iter().collect();
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, r#"["disconnected","low_battery"]"#);
        assert_eq!(serde_json::from_str::<Flags>(&json).unwrap(), f);
    }

    #[test]
    fn fault_policy_drives_repeated_failures() {
        let mut d = Device::new("d");
        for _ in 0..20 {
            d.faults.push(Outcome { failed: true, ..Outcome::OK });
        }
        let paper = FlagConfig::default();
        let strict = FlagConfig { fault_policy: FaultPolicy::strict(), ..paper };
        assert!(!flags(&d, Timestamp::EPOCH, &paper).any());
        assert!(flags(&d, Timestamp::EPOCH, &strict).contains(Flag::RepeatedFailures));
    }

    #[test]
    fn worker_preferences_flag() {
        let mut d = Device::new("d");
        d.connection = Some(Connection::Cellular);
        d.worker = Some(WorkerPrefs {
            schedule: alloc::vec!["MON 00:00-01:00".parse().unwrap()],
            allowed_connections: Some(alloc::vec![Connection::Wifi]),
            data_cap_mb: Some(10.0),
            data_used_mb: 10.0,
            ..WorkerPrefs::default()
        });
        // The epoch was a Thursday.
        let f = flags(&d, Timestamp::EPOCH, &FlagConfig::default());
        assert!(
            f.contains(Flag::OutsideSchedule)
                && f.contains(Flag::NetworkNotAllowed)
                && f.contains(Flag::DataCapReached)
        );
    }
}
