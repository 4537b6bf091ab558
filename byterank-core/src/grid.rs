//! The grid snapshot: every device's state at one instant (spec §2).
//!
//! [`GridSnapshot`] is what the core reads devices from; an embedding scheduler
//! implements it over its own store, handing out each device as a
//! [`DeviceView`] over its own records. [`Grid`] is the owned, validated
//! implementation (its views are `&Device`), and the serde form of the grid file.

use alloc::string::String;
#[cfg(feature = "json")]
use alloc::string::ToString;
use alloc::vec::Vec;

use core::cmp::Ordering;

use crate::device::{Device, DeviceError};
use crate::device_view::{self, DeviceView};
use crate::time::Timestamp;

/// The largest grid or job file the readers of this workspace accept, bytes:
/// 4 GiB (spec §15). The `byterank` command stops reading there.
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// Read access to a grid of devices at one instant.
///
/// Devices are addressed by index `0..len()`, in ascending id order (byte order
/// of the id strings): ByteRank breaks capacity ties by that order. Each device is
/// handed out as a [`DeviceView`] of the implementor's choosing: `&Device` for
/// [`Grid`], a host's own record (or a small struct over it) for a host's store.
/// The core's readers are generic over the view, so nothing is copied and no call
/// is dynamic.
pub trait GridSnapshot {
    /// What [`GridSnapshot::device`] returns: a view borrowed from the snapshot.
    type Device<'a>: DeviceView
    where
        Self: 'a;
    /// The instant the snapshot describes.
    fn now(&self) -> Timestamp;
    /// Number of devices.
    fn len(&self) -> usize;
    /// Whether the grid has no device.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// The device at `index`, in ascending id order.
    fn device(&self, index: usize) -> Self::Device<'_>;
}

/// Checks that a host's snapshot keeps the [`GridSnapshot`] contract: ids strictly
/// ascending (so unique) and every device valid ([`device_view::validate`]: finite
/// numbers, percentages in range, well-formed ids and worker limits). A snapshot
/// that breaks it would rank in an unspecified order, a NaN score anywhere; call
/// this where the store is built or changes, before ranking it.
pub fn check_snapshot<G: GridSnapshot + ?Sized>(grid: &G) -> Result<(), GridError> {
    let mut before: Option<G::Device<'_>> = None;
    for i in 0..grid.len() {
        let d = grid.device(i);
        device_view::validate(&d)?;
        if let Some(b) = &before {
            match b.id().cmp(d.id()) {
                Ordering::Less => {}
                Ordering::Equal => return Err(GridError::DuplicateId(d.id().into())),
                Ordering::Greater => {
                    return Err(GridError::Unsorted { index: i, id: d.id().into(), before: b.id().into() })
                }
            }
        }
        before = Some(d);
    }
    Ok(())
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
    /// A snapshot's devices are not in ascending id order.
    #[error("device `{id}` (index {index}) comes after `{before}`: a snapshot lists devices in ascending id order")]
    Unsorted {
        /// Its index.
        index: usize,
        /// Its id.
        id: String,
        /// The id before it.
        before: String,
    },
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
        // Grids are often written in id order already (`byterank synth` does).
        if !devices.is_sorted_by(|a, b| a.id <= b.id) {
            devices.sort_unstable_by(|a, b| a.id.cmp(&b.id));
        }
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
    type Device<'a> = &'a Device;
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
#[serde(deny_unknown_fields, expecting = "a grid object: {\"now\": \"<RFC 3339 time>\", \"devices\": [...]}")]
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
        Grid::from_json_reader(s.as_bytes())
    }

    /// Reads a grid file from a reader, one device at a time: memory holds the
    /// devices parsed so far and the text of one device, never the whole file.
    /// Errors are those of [`Grid::from_json_str`]; an I/O error is reported as a
    /// parse error of the grid file, with the reader's message.
    pub fn from_json_reader<R: std::io::Read>(reader: R) -> Result<Grid, GridError> {
        use serde::de::DeserializeSeed;
        let mut stash = None;
        let mut de = serde_json::Deserializer::from_reader(reader);
        let read = GridSeed { stash: &mut stash }.deserialize(&mut de).and_then(|g| de.end().map(|()| g));
        match (read, stash) {
            (_, Some(e)) => Err(e),
            (Ok((now, devices)), None) => Grid::new(now, devices),
            (Err(e), None) => Err(GridError::Parse { location: "grid file".to_string(), message: hint(e.to_string()) }),
        }
    }
}

/// Adds what a bare `expected value` from the JSON parser usually means.
#[cfg(feature = "json")]
fn hint(message: String) -> String {
    if message.starts_with("expected value") {
        alloc::format!(
            "{message} (a JSON value: a number, string, true, false, null, array or object; \
             JSON has no NaN or Infinity)"
        )
    } else {
        message
    }
}

/// The top level of a grid file, read by hand so that each device is parsed from
/// its own text (see [`DevicesSeed`]). The first error is left in `stash`, typed.
#[cfg(feature = "json")]
struct GridSeed<'a> {
    stash: &'a mut Option<GridError>,
}

#[cfg(feature = "json")]
impl<'de> serde::de::DeserializeSeed<'de> for GridSeed<'_> {
    type Value = (Timestamp, Vec<Device>);
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_map(self)
    }
}

#[cfg(feature = "json")]
impl<'de> serde::de::Visitor<'de> for GridSeed<'_> {
    type Value = (Timestamp, Vec<Device>);

    fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str("a grid object: {\"now\": \"<RFC 3339 time>\", \"devices\": [...]}")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let (mut now, mut devices) = (None, None);
        let top = |message: String| GridError::Parse { location: "grid file".to_string(), message };
        while let Some(key) = map.next_key::<String>()? {
            match key.as_str() {
                "now" if now.is_none() => {
                    now = Some(map.next_value::<Timestamp>().inspect_err(|e| {
                        *self.stash = Some(GridError::Parse {
                            location: "field `now`".to_string(),
                            message: hint(e.to_string()),
                        });
                    })?);
                }
                "devices" if devices.is_none() => {
                    devices = Some(map.next_value_seed(DevicesSeed { stash: &mut *self.stash })?);
                }
                "now" | "devices" => {
                    *self.stash = Some(top(alloc::format!("field `{key}` is given twice")));
                    return Err(A::Error::custom("duplicate field"));
                }
                _ => {
                    let shown = crate::device::display_id(&key);
                    *self.stash = Some(top(alloc::format!("unknown field `{shown}`: a grid has `now` and `devices`")));
                    return Err(A::Error::custom("unknown field"));
                }
            }
        }
        match (now, devices) {
            (Some(now), Some(devices)) => Ok((now, devices)),
            (None, _) => {
                *self.stash = Some(top("missing field `now` (the snapshot's instant, RFC 3339)".to_string()));
                Err(A::Error::custom("missing field"))
            }
            (_, None) => {
                *self.stash = Some(top("missing field `devices` (a list of devices)".to_string()));
                Err(A::Error::custom("missing field"))
            }
        }
    }
}

/// The `devices` list: each element is read as raw text first, then parsed and
/// checked on its own, so an error can name the device's id without keeping the
/// file.
#[cfg(feature = "json")]
struct DevicesSeed<'a> {
    stash: &'a mut Option<GridError>,
}

#[cfg(feature = "json")]
impl<'de> serde::de::DeserializeSeed<'de> for DevicesSeed<'_> {
    type Value = Vec<Device>;
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

#[cfg(feature = "json")]
impl<'de> serde::de::Visitor<'de> for DevicesSeed<'_> {
    type Value = Vec<Device>;

    fn expecting(&self, f: &mut core::fmt::Formatter) -> core::fmt::Result {
        f.write_str("a list of devices")
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        use serde::de::Error;
        let mut devices = Vec::new();
        loop {
            let index = devices.len();
            let raw = match seq.next_element::<alloc::boxed::Box<serde_json::value::RawValue>>() {
                Ok(Some(raw)) => raw,
                Ok(None) => return Ok(devices),
                Err(e) => {
                    *self.stash = Some(GridError::Parse {
                        location: alloc::format!("device devices[{index}]"),
                        message: hint(e.to_string()),
                    });
                    return Err(e);
                }
            };
            let parsed =
                parse_device(raw.get(), index).and_then(|d| d.validate_file().map(|()| d).map_err(GridError::from));
            match parsed {
                Ok(d) => devices.push(d),
                Err(e) => {
                    *self.stash = Some(e);
                    return Err(A::Error::custom("bad device"));
                }
            }
        }
    }
}

/// Parses one device from its own text, naming it by id and index on error.
#[cfg(feature = "json")]
fn parse_device(text: &str, index: usize) -> Result<Device, GridError> {
    // The fast parse first; only a device in error is parsed again to find the field.
    if let Ok(d) = serde_json::from_str(text) {
        return Ok(d);
    }
    let mut de = serde_json::Deserializer::from_str(text);
    serde_path_to_error::deserialize(&mut de).map_err(|e| {
        #[derive(serde::Deserialize)]
        struct IdOnly {
            id: Option<serde_json::Value>,
        }
        let id =
            serde_json::from_str::<IdOnly>(text).ok().and_then(|v| v.id).and_then(|v| v.as_str().map(str::to_string));
        let who = match id {
            Some(id) => alloc::format!("device `{}` (devices[{index}])", crate::device::display_id(&id)),
            None => alloc::format!("device devices[{index}]"),
        };
        let field: Vec<String> = e.path().iter().map(|s| s.to_string()).collect();
        let field = field.join(".").replace(".[", "[");
        let location = if field.is_empty() || field == "?" { who } else { alloc::format!("{who}: field `{field}`") };
        // The position is within the device's own text, which would mislead: the
        // location above says where the error is.
        let inner = e.into_inner();
        let mut message = inner.to_string();
        let suffix = alloc::format!(" at line {} column {}", inner.line(), inner.column());
        if inner.line() > 0 && message.ends_with(&suffix) {
            message.truncate(message.len() - suffix.len());
        }
        GridError::Parse { location, message: hint(message) }
    })
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
