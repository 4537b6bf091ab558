//! Where the service reads the time.
//!
//! The engine thread asks its [`Clock`] for the time of every call. In
//! production that is the system clock; a test gives a manual clock and
//! advances it, so that a test of deadlines (T1, T2, a restart longer than T2)
//! moves time forward instead of sleeping, and a loaded machine cannot make a
//! deadline pass that the test did not mean to pass.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use byterank_core::Timestamp;

/// The system clock, or a manual clock shared by its clones.
#[derive(Clone, Debug, Default)]
pub struct Clock(Option<Arc<AtomicI64>>);

impl Clock {
    /// The system clock (milliseconds since the Unix epoch).
    pub fn system() -> Clock {
        Clock(None)
    }

    /// A clock that stands at `start` until [`advance`](Self::advance)d. Its
    /// clones share it: advance the one kept by the test, and the service's
    /// moves too.
    pub fn manual(start: Timestamp) -> Clock {
        Clock(Some(Arc::new(AtomicI64::new(start.millis()))))
    }

    /// Whether this is a manual clock.
    pub fn is_manual(&self) -> bool {
        self.0.is_some()
    }

    /// The time now, clamped to what a [`Timestamp`] holds.
    pub fn now(&self) -> Timestamp {
        let ms = match &self.0 {
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            Some(at) => at.load(Ordering::Acquire),
        };
        Timestamp(ms.clamp(Timestamp::MIN.millis(), Timestamp::MAX.millis()))
    }

    /// Moves a manual clock forward by `ms` and returns the new time; the
    /// system clock cannot be moved and returns `None`.
    pub fn advance(&self, ms: u32) -> Option<Timestamp> {
        let at = self.0.as_ref()?;
        at.fetch_add(i64::from(ms), Ordering::AcqRel);
        Some(self.now())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manual_clock_stands_still_until_advanced_and_its_clones_follow() {
        let clock = Clock::manual(Timestamp(5_000));
        let service_side = clock.clone();
        assert_eq!(service_side.now(), Timestamp(5_000));
        assert_eq!(clock.advance(3_500), Some(Timestamp(8_500)));
        assert_eq!(service_side.now(), Timestamp(8_500));
    }

    #[test]
    fn the_system_clock_reads_the_wall_and_cannot_be_moved() {
        let wall = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as i64;
        let clock = Clock::system();
        assert!((clock.now().millis() - wall).abs() < 60_000, "{:?} vs {wall}", clock.now());
        assert_eq!(clock.advance(1), None);
        assert!(!clock.is_manual());
    }
}
