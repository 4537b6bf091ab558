//! One worker device as the grid state describes it (Tables 2 and 3 of the paper).
//!
//! Every measured input is optional: a missing one makes its capacity term take the
//! term's default (see [`capacity`](crate::capacity)). Only the id is required.

use alloc::string::String;
use alloc::vec::Vec;

use crate::device_view;
use crate::fault::FaultHistory;
use crate::worker::WorkerPrefs;

/// The kind of internet access a device has (the network category score's input).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum NetworkCategory {
    /// Fiber to the premises.
    Fiber,
    /// Cable broadband.
    Cable,
    /// DSL.
    Dsl,
    /// Satellite (Starlink).
    Starlink,
    /// A mobile (cellular) network.
    Mobile,
    /// Anything else.
    Other,
}

/// The local link a device uses, which worker preferences may restrict.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Connection {
    /// Wi-Fi.
    Wifi,
    /// Wired Ethernet.
    Ethernet,
    /// A cellular data link.
    Cellular,
    /// Anything else.
    Other,
}

/// A geographical area jobs may be limited to (Table 6, "allowed regions").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Region {
    /// North and South America.
    Americas,
    /// Europe.
    Europe,
    /// Asia and the Pacific.
    AsiaPacific,
}

/// What kind of machine a device is (Table 6, "preferred hardware").
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum DeviceClass {
    /// A smartphone.
    Phone,
    /// A tablet.
    Tablet,
    /// A laptop.
    Laptop,
    /// A desktop computer.
    Desktop,
    /// A server.
    Server,
    /// Anything else.
    Other,
}

/// The state of one device at the snapshot's instant.
///
/// Field names and meanings are those of the grid file (spec §2).
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Device {
    /// Unique id within a grid; ties in capacity are broken by id in byte order.
    pub id: String,
    /// Whether the Worker App is online; missing means online.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub online: Option<bool>,
    /// External processor benchmark score (the processor term, 1..=500).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub processor_score: Option<f64>,
    /// Kind of internet access.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub network_category: Option<NetworkCategory>,
    /// Local link type.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub connection: Option<Connection>,
    /// Download speed in Mbps.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub download_mbps: Option<f64>,
    /// Upload speed in Mbps.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub upload_mbps: Option<f64>,
    /// Speed measurements of the last ten minutes, for the stability term.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Vec::is_empty"))]
    pub speed_samples_mbps: Vec<f64>,
    /// Unused RAM in MB.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub ram_available_mb: Option<f64>,
    /// Unused CPU time, percent.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub cpu_available_pct: Option<f64>,
    /// Battery level, percent; missing means the device has no battery.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub battery_pct: Option<f64>,
    /// Whether the device is plugged in.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub charging: Option<bool>,
    /// Core temperature in degrees Fahrenheit.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub temperature_f: Option<f64>,
    /// Where the device is.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub region: Option<Region>,
    /// Whether the device is verified for trusted processing.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_false"))]
    pub trusted: bool,
    /// Version of the Worker App (semver).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub app_version: Option<String>,
    /// Kind of machine.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub class: Option<DeviceClass>,
    /// GPU model, if any.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub gpu: Option<String>,
    /// The last outcomes attributable to the device (Table 8).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "FaultHistory::is_empty"))]
    pub faults: FaultHistory,
    /// Hours since the device last processed a task (or since registration when it
    /// never has); the lottery's input. Missing means the device cannot win.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub hours_since_last_task: Option<f64>,
    /// Whether the device holds a valid (less than 24 h old) lottery win.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "is_false"))]
    pub lottery_winner: bool,
    /// The worker's own limits (Table 3); missing means none.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub worker: Option<WorkerPrefs>,
}

#[cfg(feature = "serde")]
fn is_false(b: &bool) -> bool {
    !*b
}

/// The longest device id, in bytes (spec §15).
pub const MAX_ID_BYTES: usize = 256;

/// What is wrong with an id (a device's or a job's), if anything: it must be
/// 1..=256 bytes, not blank, without control characters or the characters that
/// reorder text (bidirectional overrides and isolates, which make an id read
/// as another).
pub fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        return Some("must not be empty");
    }
    if id.len() > MAX_ID_BYTES {
        return Some("is longer than the 256 bytes allowed");
    }
    if id.chars().any(char::is_control) {
        return Some("holds a control character (newline, tab, escape...); ids are printable text");
    }
    if id.chars().any(reorders) {
        return Some("holds a character that reorders text (U+202A-U+202E, U+2066-U+2069); ids are printable text");
    }
    if id.chars().all(char::is_whitespace) {
        return Some("is blank; give a printable id");
    }
    None
}

/// Bidirectional overrides and isolates: they make text read in another order.
fn reorders(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// An id as error messages show it: control characters escaped (so an id cannot
/// move the cursor or colour the terminal) and cut after 64 characters.
pub fn display_id(id: &str) -> String {
    use core::fmt::Write;
    let mut out = String::new();
    for (n, c) in id.chars().enumerate() {
        if n == 64 {
            let _ = write!(out, "... ({} bytes)", id.len());
            break;
        }
        if c.is_control() || reorders(c) {
            let _ = write!(out, "{}", c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// A device field holds a value the scheduler cannot use.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("device `{id}`: field `{field}` {problem}")]
pub struct DeviceError {
    /// The device's id, as [`display_id`] shows it.
    pub id: String,
    /// The offending field, as named in the grid file.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: &'static str,
}

impl Device {
    /// A device with this id and every other input missing (all defaults).
    pub fn new(id: impl Into<String>) -> Device {
        Device { id: id.into(), ..Device::default() }
    }

    /// Checks the rules of spec §2 and §15 ([`device_view::validate`] on this
    /// device): an id of 1..=256 bytes, not blank and without control characters;
    /// numbers finite and not negative (a temperature not below absolute zero);
    /// percentages within 0..=100.
    pub fn validate(&self) -> Result<(), DeviceError> {
        device_view::validate(self)
    }
}

impl Device {
    /// [`Device::validate`], and what a grid file must also hold: an `app_version`
    /// that is a semver version, since a typo there would silently fail every
    /// version requirement.
    pub fn validate_file(&self) -> Result<(), DeviceError> {
        self.validate()?;
        if let Some(v) = &self.app_version {
            if semver::Version::parse(v).is_err() {
                return Err(DeviceError {
                    id: display_id(&self.id),
                    field: "app_version",
                    problem: "must be a semver version like \"1.4.0\" (major.minor.patch)",
                });
            }
        }
        Ok(())
    }
}

/// The coldest a temperature can be, degrees Fahrenheit (absolute zero).
pub const ABSOLUTE_ZERO_F: f64 = -459.67;

/// A temperature reading: finite and not below absolute zero (a winter
/// reading of -4 °F is a temperature, not a mistake).
pub(crate) fn check_temperature(value: Option<f64>) -> Result<(), &'static str> {
    match value {
        Some(v) if !v.is_finite() => Err("must be a finite number"),
        Some(v) if v < ABSOLUTE_ZERO_F => Err("is below absolute zero (-459.67 degrees Fahrenheit)"),
        _ => Ok(()),
    }
}

pub(crate) fn check_number(value: Option<f64>) -> Result<(), &'static str> {
    match value {
        Some(v) if !v.is_finite() => Err("must be a finite number"),
        Some(v) if v < 0.0 => Err("must not be negative"),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_field() {
        let mut d = Device::new("dev-1");
        assert!(d.validate().is_ok());
        d.battery_pct = Some(101.0);
        let e = d.validate().unwrap_err();
        assert_eq!((e.id.as_str(), e.field), ("dev-1", "battery_pct"));
        d.battery_pct = None;
        d.download_mbps = Some(f64::NAN);
        assert_eq!(d.validate().unwrap_err().field, "download_mbps");
        d.download_mbps = Some(-1.0);
        assert_eq!(d.validate().unwrap_err().problem, "must not be negative");
        assert_eq!(Device::new("").validate().unwrap_err().field, "id");
    }

    #[test]
    fn temperatures_below_zero_are_readings_below_absolute_zero_are_not() {
        let mut d = Device::new("dev-1");
        d.temperature_f = Some(-4.0);
        assert!(d.validate().is_ok(), "a winter reading");
        d.temperature_f = Some(ABSOLUTE_ZERO_F);
        assert!(d.validate().is_ok());
        d.temperature_f = Some(-460.0);
        let e = d.validate().unwrap_err();
        assert_eq!((e.field, e.problem), ("temperature_f", "is below absolute zero (-459.67 degrees Fahrenheit)"));
        d.temperature_f = Some(f64::NEG_INFINITY);
        assert_eq!(d.validate().unwrap_err().problem, "must be a finite number");
    }

    #[test]
    fn ids_are_bounded_and_printable() {
        let problem = |id: &str| Device::new(id).validate().map_err(|e| e.problem);
        assert!(problem(&"x".repeat(MAX_ID_BYTES)).is_ok());
        assert_eq!(problem(&"x".repeat(MAX_ID_BYTES + 1)), Err("is longer than the 256 bytes allowed"));
        assert!(problem("a\nb").unwrap_err().starts_with("holds a control character"));
        assert!(problem("\u{1b}[31mred").is_err());
        assert_eq!(problem("  "), Err("is blank; give a printable id"));
        assert!(problem("téléphone-東京").is_ok());
        assert_eq!(display_id("a\u{1b}[31m"), "a\\u{1b}[31m");
        assert!(display_id(&"y".repeat(10_000)).ends_with("... (10000 bytes)"));
        let e = Device::new("a\nb").validate().unwrap_err().to_string();
        assert!(!e.contains('\n'), "{e}");
    }

    #[test]
    fn app_version_is_semver() {
        let d = Device { app_version: Some("one.two".into()), ..Device::new("d") };
        assert_eq!(d.validate_file().unwrap_err().field, "app_version");
        assert!(d.validate().is_ok(), "the library lets it through: it meets no requirement");
        assert!(Device { app_version: Some("1.4.0".into()), ..Device::new("d") }.validate_file().is_ok());
    }
}
