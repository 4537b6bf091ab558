//! The worker's own limits (Table 3; spec §2 and §5): when the device may work, over
//! which connections, and how much data it may move.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use core::str::FromStr;

use crate::device::{check_number, Connection};
use crate::time::Timestamp;

/// The worker preferences block of a device.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct WorkerPrefs {
    /// Availability windows in the worker's local time; empty means always.
    #[cfg_attr(feature = "serde", serde(default))]
    pub schedule: Vec<ScheduleWindow>,
    /// The worker's offset from UTC, in minutes (for the schedule).
    #[cfg_attr(feature = "serde", serde(default))]
    pub utc_offset_minutes: i32,
    /// Connection types the worker allows; missing means any.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub allowed_connections: Option<Vec<Connection>>,
    /// Data-traffic cap in MB; missing means uncapped.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub data_cap_mb: Option<f64>,
    /// Data used so far against the cap, MB.
    #[cfg_attr(feature = "serde", serde(default))]
    pub data_used_mb: f64,
}

/// Largest UTC offset accepted, in minutes (±18 h).
pub const MAX_UTC_OFFSET_MINUTES: i32 = 18 * 60;

impl WorkerPrefs {
    /// Whether `now` falls in one of the availability windows (always, with none).
    #[inline]
    pub fn available_at(&self, now: Timestamp) -> bool {
        if self.schedule.is_empty() {
            return true;
        }
        let (day, minute) = now.local_weekday_minute(self.utc_offset_minutes);
        self.schedule.iter().any(|w| w.contains(day, minute))
    }

    /// Whether the worker allows this link. A device whose link is unknown is not
    /// allowed when the worker restricts links: the worker's wish comes first.
    #[inline]
    pub fn allows(&self, connection: Option<Connection>) -> bool {
        match (&self.allowed_connections, connection) {
            (None, _) => true,
            (Some(list), Some(c)) => list.contains(&c),
            (Some(_), None) => false,
        }
    }

    /// Data the worker still allows, MB (`f64::INFINITY` when uncapped).
    #[inline]
    pub fn data_left_mb(&self) -> f64 {
        self.data_cap_mb.map_or(f64::INFINITY, |cap| f64::max(0.0, cap - self.data_used_mb))
    }

    /// Whether the data cap is used up.
    #[inline]
    pub fn data_cap_reached(&self) -> bool {
        self.data_cap_mb.is_some_and(|cap| self.data_used_mb >= cap)
    }

    pub(crate) fn validate(&self) -> Result<(), (&'static str, &'static str)> {
        if self.utc_offset_minutes.abs() > MAX_UTC_OFFSET_MINUTES {
            return Err(("worker.utc_offset_minutes", "must be within -1080..=1080 minutes"));
        }
        check_number(self.data_cap_mb).map_err(|p| ("worker.data_cap_mb", p))?;
        check_number(Some(self.data_used_mb)).map_err(|p| ("worker.data_used_mb", p))
    }
}

/// One availability window: a set of weekdays and a time range, e.g.
/// `SAT-SUN 01:00-12:00` or `MON,WED 22:00-06:00`.
///
/// A range whose end is not after its start runs past midnight: `FRI 22:00-06:00`
/// covers Friday 22:00 to Saturday 06:00. `24:00` is accepted as an end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "String", into = "String"))]
pub struct ScheduleWindow {
    /// Bit `d` set when the window starts on weekday `d` (Monday = 0).
    pub days: u8,
    /// Start, minutes after local midnight.
    pub start: u16,
    /// End, minutes after local midnight (`start < end`, or past midnight).
    pub end: u16,
}

const DAYS: [&str; 7] = ["MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN"];

/// A schedule window that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The text is not `DAYS HH:MM-HH:MM`.
    #[error(
        "schedule window `{0}`: expected days and hours like `SAT-SUN 01:00-12:00` (days MON..SUN, 24-hour times)"
    )]
    Syntax(String),
    /// The window starts when it ends, so it holds no time.
    #[error("schedule window `{0}` is empty: it ends when it starts; give an end time after the start (or past midnight, like `22:00-06:00`)")]
    Empty(String),
}

impl ScheduleWindow {
    /// Whether local weekday `day` (Monday = 0) and `minute` of the day fall inside.
    pub fn contains(&self, day: u8, minute: u16) -> bool {
        let starts_on = |d: u8| self.days >> (d % 7) & 1 == 1;
        if self.start < self.end {
            starts_on(day) && (self.start..self.end).contains(&minute)
        } else {
            (starts_on(day) && minute >= self.start) || (starts_on((day + 6) % 7) && minute < self.end)
        }
    }
}

impl FromStr for ScheduleWindow {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ScheduleError::Syntax(s.into());
        let (days_part, times) = s.trim().split_once(' ').ok_or_else(err)?;
        let mut days = 0u8;
        for item in days_part.split(',') {
            let day = |name: &str| DAYS.iter().position(|d| d.eq_ignore_ascii_case(name)).ok_or_else(err);
            match item.split_once('-') {
                None => days |= 1 << day(item)?,
                Some((a, b)) => {
                    let (a, b) = (day(a)?, day(b)?);
                    let mut d = a;
                    loop {
                        days |= 1 << d;
                        if d == b {
                            break;
                        }
                        d = (d + 1) % 7;
                    }
                }
            }
        }
        let (a, b) = times.trim().split_once('-').ok_or_else(err)?;
        let parse = |t: &str, allow_24: bool| -> Result<u16, ScheduleError> {
            let (h, m) = t.split_once(':').ok_or_else(err)?;
            if h.len() != 2 || m.len() != 2 {
                return Err(err());
            }
            let (h, m): (u16, u16) = (h.parse().map_err(|_| err())?, m.parse().map_err(|_| err())?);
            match (h, m) {
                (24, 0) if allow_24 => Ok(24 * 60),
                (0..=23, 0..=59) => Ok(h * 60 + m),
                _ => Err(err()),
            }
        };
        let (start, end) = (parse(a, false)?, parse(b, true)?);
        if start == end {
            return Err(ScheduleError::Empty(s.into()));
        }
        Ok(ScheduleWindow { days, start, end })
    }
}

impl TryFrom<String> for ScheduleWindow {
    type Error = ScheduleError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl fmt::Display for ScheduleWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut first = true;
        for (d, name) in DAYS.iter().enumerate() {
            if self.days >> d & 1 == 1 {
                if !first {
                    f.write_str(",")?;
                }
                f.write_str(name)?;
                first = false;
            }
        }
        let hm = |m: u16| (m / 60, m % 60);
        let ((h1, m1), (h2, m2)) = (hm(self.start), hm(self.end));
        write!(f, " {h1:02}:{m1:02}-{h2:02}:{m2:02}")
    }
}

impl From<ScheduleWindow> for String {
    fn from(w: ScheduleWindow) -> String {
        alloc::format!("{w}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(s).unwrap()
    }

    #[test]
    fn paper_schedule() {
        let prefs = WorkerPrefs {
            schedule: alloc::vec!["SAT-SUN 01:00-12:00".parse().unwrap(), "MON-FRI 00:00-07:00".parse().unwrap()],
            ..WorkerPrefs::default()
        };
        // 2026-11-26 is a Thursday.
        assert!(prefs.available_at(at("2026-11-26T03:00:00Z")));
        assert!(!prefs.available_at(at("2026-11-26T08:00:00Z")));
        assert!(prefs.available_at(at("2026-11-28T11:59:00Z")), "Saturday morning");
        assert!(!prefs.available_at(at("2026-11-28T00:30:00Z")), "Saturday before 01:00");
        // With a +60 offset, 23:30Z Thursday is 00:30 Friday local.
        let shifted = WorkerPrefs { utc_offset_minutes: 60, ..prefs };
        assert!(shifted.available_at(at("2026-11-26T23:30:00Z")));
    }

    #[test]
    fn overnight_windows_spill_into_the_next_day() {
        let w: ScheduleWindow = "FRI 22:00-06:00".parse().unwrap();
        assert!(w.contains(4, 23 * 60));
        assert!(w.contains(5, 5 * 60), "Saturday 05:00");
        assert!(!w.contains(4, 5 * 60), "Friday 05:00 belongs to Thursday's night");
        let wrap: ScheduleWindow = "SUN-MON 00:00-24:00".parse().unwrap();
        assert!(wrap.contains(6, 0) && wrap.contains(0, 1439) && !wrap.contains(1, 0));
    }

    #[test]
    fn round_trips_and_rejects() {
        let w: ScheduleWindow = "sat-sun 01:00-12:00".parse().unwrap();
        assert_eq!(String::from(w), "SAT,SUN 01:00-12:00");
        assert_eq!(String::from(w).parse::<ScheduleWindow>().unwrap(), w);
        for bad in [
            "",
            "SAT",
            "XYZ 01:00-02:00",
            "MON 1:00-02:00",
            "MON 01:00-01:00",
            "MON 25:00-26:00",
            "MON 01:00AM-12:00PM",
        ] {
            assert!(bad.parse::<ScheduleWindow>().is_err(), "{bad}");
        }
        let empty = "MON 10:00-10:00".parse::<ScheduleWindow>().unwrap_err();
        assert_eq!(empty, ScheduleError::Empty("MON 10:00-10:00".into()));
        assert!(empty.to_string().contains("is empty"), "{empty}");
    }

    #[test]
    fn connections_and_caps() {
        let p = WorkerPrefs {
            allowed_connections: Some(alloc::vec![Connection::Wifi]),
            data_cap_mb: Some(100.0),
            data_used_mb: 100.0,
            ..WorkerPrefs::default()
        };
        assert!(p.allows(Some(Connection::Wifi)));
        assert!(!p.allows(Some(Connection::Cellular)));
        assert!(!p.allows(None));
        assert!(p.data_cap_reached());
        assert_eq!(p.data_left_mb(), 0.0);
        assert!(WorkerPrefs::default().allows(None));
        assert_eq!(WorkerPrefs::default().data_left_mb(), f64::INFINITY);
    }
}
