//! The grid snapshot: every device's state at one instant (spec §2).
//!
//! [`GridSnapshot`] is what the core reads devices from; an embedding scheduler
//! implements it over its own store. [`Grid`] is the owned, validated
//! implementation, and the serde form of the grid file.

use alloc::string::String;
#[cfg(feature = "json")]
use alloc::string::ToString;
use alloc::vec::Vec;

use crate::device::{Device, DeviceError};
use crate::time::Timestamp;

/// Read access to a grid of devices at one instant.
///
/// Devices are addressed by index `0..len()`, in ascending id order (byte order
/// of the id strings): ByteRank breaks capacity ties by that order.
pub trait GridSnapshot {
    /// The instant the snapshot describes.
    fn now(&self) -> Timestamp;
    /// Number of devices.
    fn len(&self) -> usize;
    /// Whether the grid has no device.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The device at `index`, in ascending id order.
    fn device(&self, index: usize) -> &Device;
}

/// An owned grid: devices sorted by id, ids unique, every device valid.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Grid {
    now: Timestamp,
    devices: Vec<Device>,
}

/// A grid that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum GridError {
    /// A device holds a value out of its domain.
    #[error(transparent)]
    Device(#[from] DeviceError),
    /// Two devices share an id.
    #[error("device `{0}`: field `id` is used by more than one device; ids must be unique")]
    DuplicateId(String),
    /// The file is not a grid: bad JSON, a wrong type, an unknown field.
    #[error("{location}: {message}")]
    Parse {
        /// Where: the device (id and index) and field, or the top-level field.
        location: String,
        /// What the parser found wrong.
        message: String,
    },
}

impl Grid {
    /// Builds a grid, checking every device and sorting them by id.
    pub fn new(now: Timestamp, mut devices: Vec<Device>) -> Result<Grid, GridError> {
        for d in &devices {
            d.validate()?;
        }
        devices.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        if let Some(pair) = devices.windows(2).find(|p| p[0].id == p[1].id) {
            return Err(GridError::DuplicateId(pair[0].id.clone()));
        }
        Ok(Grid { now, devices })
    }

    /// The devices, in ascending id order.
    pub fn devices(&self) -> &[Device] {
        &self.devices
    }

    /// The index of the device with this id.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.devices.binary_search_by(|d| d.id.as_str().cmp(id)).ok()
    }

    /// Takes the devices back out.
    pub fn into_devices(self) -> Vec<Device> {
        self.devices
    }
}

impl GridSnapshot for Grid {
    fn now(&self) -> Timestamp {
        self.now
    }
    fn len(&self) -> usize {
        self.devices.len()
    }
    fn device(&self, index: usize) -> &Device {
        &self.devices[index]
    }
}

/// The grid file as written: what [`Grid`] deserializes through.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GridFile {
    now: Timestamp,
    devices: Vec<Device>,
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Grid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let f = GridFile::deserialize(d)?;
        Grid::new(f.now, f.devices).map_err(serde::de::Error::custom)
    }
}

#[cfg(feature = "json")]
impl Grid {
    /// Reads a grid file (spec §2). Errors name the device (id and index) and the
    /// field: `device `dev-7` (devices[6]): field `battery_pct` ...`.
    pub fn from_json_str(s: &str) -> Result<Grid, GridError> {
        let mut de = serde_json::Deserializer::from_str(s);
        let file: GridFile = serde_path_to_error::deserialize(&mut de).map_err(|e| parse_error(s, e))?;
        de.end().map_err(|e| GridError::Parse { location: "grid file".to_string(), message: e.to_string() })?;
        Grid::new(file.now, file.devices)
    }
}

#[cfg(feature = "json")]
fn parse_error(s: &str, e: serde_path_to_error::Error<serde_json::Error>) -> GridError {
    use serde_path_to_error::Segment;
    let segments: Vec<&Segment> = e.path().iter().collect();
    let message = e.inner().to_string();
    let location = match segments.as_slice() {
        [Segment::Map { key }, Segment::Seq { index }, rest @ ..] if key == "devices" => {
            let id = serde_json::from_str::<serde_json::Value>(s)
                .ok()
                .and_then(|v| v["devices"][*index]["id"].as_str().map(str::to_string));
            let who = match id {
                Some(id) => alloc::format!("device `{id}` (devices[{index}])"),
                None => alloc::format!("device devices[{index}]"),
            };
            let field: Vec<String> = rest.iter().map(|s| s.to_string()).collect();
            if field.is_empty() {
                who
            } else {
                alloc::format!("{who}: field `{}`", field.join(".").replace(".[", "["))
            }
        }
        [] | [Segment::Unknown] => "grid file".to_string(),
        path => alloc::format!("field `{}`", path.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(".")),
    };
    GridError::Parse { location, message }
}

#[cfg(all(test, feature = "json"))]
mod tests {
    use super::*;

    const OK: &str = r#"{"now": "2026-11-26T03:00:00Z", "devices": [
        {"id": "b", "battery_pct": 50, "faults": {"failed": [1], "delayed": [0], "incorrect": [0]}},
        {"id": "a"}
    ]}"#;

    #[test]
    fn reads_and_sorts_by_id() {
        let g = Grid::from_json_str(OK).unwrap();
        assert_eq!(g.devices().iter().map(|d| d.id.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(g.position("b"), Some(1));
        assert_eq!(g.device(1).faults.fault_rate(), 1.0 / 3.0);
        let back = serde_json::to_string(&g).unwrap();
        assert_eq!(Grid::from_json_str(&back).unwrap(), g);
    }

    fn err(json: &str) -> String {
        Grid::from_json_str(json).unwrap_err().to_string()
    }

    #[test]
    fn errors_name_the_device_and_field() {
        let e =
            err(r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "x"}, {"id": "dev-9", "procesor_score": 3}]}"#);
        assert!(e.starts_with("device `dev-9` (devices[1]): field `procesor_score`: unknown field"), "{e}");
        let e = err(r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "dev-1", "battery_pct": "full"}]}"#);
        assert!(e.starts_with("device `dev-1` (devices[0]): field `battery_pct`: invalid type"), "{e}");
        let e = err(r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d", "battery_pct": 120}]}"#);
        assert_eq!(e, "device `d`: field `battery_pct` is a percentage and must be within 0..=100");
        let e = err(
            r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d", "faults": {"failed": [1], "delayed": [], "incorrect": [0]}}]}"#,
        );
        assert!(e.starts_with("device `d` (devices[0]): field `faults`: vectors"), "{e}");
        let e =
            err(r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d", "worker": {"schedule": ["MON 9-5"]}}]}"#);
        assert!(e.starts_with("device `d` (devices[0]): field `worker.schedule[0]`"), "{e}");
        let e = err(r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d"}, {"id": "d"}]}"#);
        assert!(e.contains("`d`") && e.contains("unique"), "{e}");
        let e = err(r#"{"now": "yesterday", "devices": []}"#);
        assert!(e.starts_with("field `now`"), "{e}");
        let e = err(r#"{"now": "2026-11-26T03:00:00Z", "devices": [{"id": "d", "download_mbps": -3}]}"#);
        assert_eq!(e, "device `d`: field `download_mbps` must not be negative");
        assert!(err("{").starts_with("grid file"), "{}", err("{"));
        assert!(err(r#"{"now": "2026-11-26T03:00:00Z", "devices": []} x"#).starts_with("grid file"));
    }
}
