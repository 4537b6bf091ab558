//! Engine time: a plain millisecond count, passed in by whoever drives the core.
//!
//! The core never reads a clock. [`Timestamp`] is milliseconds since the Unix epoch
//! (UTC); with the `serde` feature it is written and read as an RFC 3339 string
//! (`2026-11-26T03:00:00Z`), the form the grid file uses.

use core::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

/// Milliseconds in one minute.
pub const MINUTE_MS: i64 = 60_000;
/// Milliseconds in one hour.
pub const HOUR_MS: i64 = 60 * MINUTE_MS;
/// Milliseconds in one day.
pub const DAY_MS: i64 = 24 * HOUR_MS;

/// An RFC 3339 timestamp that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("expected an RFC 3339 timestamp like 2026-11-26T03:00:00Z")]
pub struct TimestampError;

impl Timestamp {
    /// The epoch.
    pub const EPOCH: Timestamp = Timestamp(0);
    /// The first instant RFC 3339 can write: 0000-01-01T00:00:00Z.
    pub const MIN: Timestamp = Timestamp(-62_167_219_200_000);
    /// The last instant RFC 3339 can write: 9999-12-31T23:59:59.999Z.
    pub const MAX: Timestamp = Timestamp(253_402_300_799_999);

    /// Parses `YYYY-MM-DDTHH:MM:SS[.fff][Z|±HH:MM]` (RFC 3339).
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimestampError> {
        let b = s.as_bytes();
        if b.len() < 20 || b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
            return Err(TimestampError);
        }
        if b[13] != b':' || b[16] != b':' {
            return Err(TimestampError);
        }
        let year = digits(&b[0..4])?;
        let month = digits(&b[5..7])?;
        let day = digits(&b[8..10])?;
        let (hour, minute, second) = (digits(&b[11..13])?, digits(&b[14..16])?, digits(&b[17..19])?);
        if !(1..=12).contains(&month)
            || day == 0
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return Err(TimestampError);
        }
        let mut rest = &b[19..];
        let mut millis = 0i64;
        if let [b'.', tail @ ..] = rest {
            let n = tail.iter().take_while(|c| c.is_ascii_digit()).count();
            if n == 0 {
                return Err(TimestampError);
            }
            for (i, c) in tail[..n].iter().enumerate().take(3) {
                millis += i64::from(c - b'0') * [100, 10, 1][i];
            }
            rest = &tail[n..];
        }
        let offset_minutes = match rest {
            [b'Z' | b'z'] => 0,
            [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
                let h = digits(&[*h1, *h2])?;
                let m = digits(&[*m1, *m2])?;
                if h > 23 || m > 59 {
                    return Err(TimestampError);
                }
                let v = h * 60 + m;
                if *sign == b'-' {
                    -v
                } else {
                    v
                }
            }
            _ => return Err(TimestampError),
        };
        let days = days_from_civil(year, month, day);
        let secs = days * 86_400 + hour * 3600 + minute * 60 + second.min(59) - offset_minutes * 60;
        Ok(Timestamp(secs * 1000 + millis))
    }

    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// This instant plus `ms` milliseconds (saturating).
    pub fn add_millis(self, ms: i64) -> Timestamp {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Day of the week, Monday = 0 .. Sunday = 6, and minute of the day, at this
    /// instant shifted by `offset_minutes` (a local time).
    pub fn local_weekday_minute(self, offset_minutes: i32) -> (u8, u16) {
        let local = self.0 + i64::from(offset_minutes) * MINUTE_MS;
        let days = local.div_euclid(DAY_MS);
        let minute = local.rem_euclid(DAY_MS) / MINUTE_MS;
        // 1970-01-01 was a Thursday (Monday-based index 3).
        ((days + 3).rem_euclid(7) as u8, minute as u16)
    }
}

fn digits(b: &[u8]) -> Result<i64, TimestampError> {
    b.iter().try_fold(
        0i64,
        |acc, &c| {
            if c.is_ascii_digit() {
                Ok(acc * 10 + i64::from(c - b'0'))
            } else {
                Err(TimestampError)
            }
        },
    )
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01 (inverse of `days_from_civil`).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (if m <= 2 { yoe + era * 400 + 1 } else { yoe + era * 400 }, m, d)
}

impl fmt::Display for Timestamp {
    /// RFC 3339 in UTC; milliseconds only when not zero.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0.div_euclid(DAY_MS);
        let ms = self.0.rem_euclid(DAY_MS);
        let (y, mo, d) = civil_from_days(days);
        let (h, mi, s, milli) = (ms / HOUR_MS, ms / MINUTE_MS % 60, ms / 1000 % 60, ms % 1000);
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}")?;
        if milli != 0 {
            write!(f, ".{milli:03}")?;
        }
        f.write_str("Z")
    }
}

#[cfg(feature = "serde")]
mod serde_impl {
    use super::Timestamp;
    use alloc::string::{String, ToString};
    use serde::{de, Deserialize, Deserializer, Serialize, Serializer};

    impl Serialize for Timestamp {
        fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            s.serialize_str(&self.to_string())
        }
    }

    impl<'de> Deserialize<'de> for Timestamp {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            let s = String::deserialize(d)?;
            Timestamp::parse_rfc3339(&s).map_err(|e| de::Error::custom(alloc::format!("`{s}`: {e}")))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn the_writable_range_round_trips() {
        assert_eq!(Timestamp::MIN.to_string(), "0000-01-01T00:00:00Z");
        assert_eq!(Timestamp::MAX.to_string(), "9999-12-31T23:59:59.999Z");
        for t in [Timestamp::MIN, Timestamp::MAX] {
            assert_eq!(Timestamp::parse_rfc3339(&t.to_string()), Ok(t));
        }
    }

    #[test]
    fn parses_and_prints_utc() {
        let t = Timestamp::parse_rfc3339("2026-11-26T03:00:00Z").unwrap();
        assert_eq!(t.0, 1_795_662_000_000);
        assert_eq!(t.to_string(), "2026-11-26T03:00:00Z");
    }

    #[test]
    fn offsets_and_fractions() {
        let a = Timestamp::parse_rfc3339("2026-11-26T04:00:00.250+01:00").unwrap();
        let b = Timestamp::parse_rfc3339("2026-11-26T03:00:00.25Z").unwrap();
        assert_eq!(a, b);
        assert_eq!(b.to_string(), "2026-11-26T03:00:00.250Z");
    }

    #[test]
    fn rejects_garbage() {
        for s in ["", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-11-26 03:00", "2026-11-26T03:00:00"] {
            assert!(Timestamp::parse_rfc3339(s).is_err(), "{s}");
        }
    }

    #[test]
    fn weekday_and_minute() {
        // 2026-11-26 is a Thursday.
        let t = Timestamp::parse_rfc3339("2026-11-26T23:30:00Z").unwrap();
        assert_eq!(t.local_weekday_minute(0), (3, 23 * 60 + 30));
        assert_eq!(t.local_weekday_minute(60), (4, 30));
        assert_eq!(t.local_weekday_minute(-24 * 60), (2, 23 * 60 + 30));
    }

    #[test]
    fn civil_round_trip() {
        for z in [-800_000i64, -1, 0, 1, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(z);
            assert_eq!(days_from_civil(y, m, d), z);
        }
    }
}
