//! Credibility (after Sarmenta, "Sabotage-tolerance mechanisms for volunteer
//! computing systems", 2002): what the engine has seen of each device's results,
//! and the probability that a group of agreeing results is wrong.
//!
//! A device's error estimate is `f / (k + 1)`, where `f` is the share of bad
//! devices the operator assumes ([`CredibilityConfig::assumed_bad`]) and `k` the
//! checks it passed: results a trusted device confirmed, or results that agreed
//! with a device that had itself passed a check. A trusted device's estimate is
//! 0. A device whose result a trusted device contradicted is *caught*: its
//! estimate is 1 (its results count for nothing) until a trusted device confirms
//! one of its results again. A group of agreeing results is wrong only if every
//! one of its devices is, so its error is the product of their estimates; a
//! verdict by agreement is final only when that product is at most the job's
//! `max_error`. A group that agrees but is not credible enough gets a trusted
//! arbiter, or, with none, one more copy.
//!
//! Final verdicts are never reopened: a device caught later loses its weight in
//! the verdicts still pending (its provisional results stop counting at once),
//! while the verdicts already final were each accepted under the job's bound.

use alloc::vec::Vec;

use super::command::DeviceId;

/// Credibility settings. With `enabled` off, verdicts follow the plain quorum
/// rule (agreeing results of `quorum` devices, whoever they are).
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(default, deny_unknown_fields))]
pub struct CredibilityConfig {
    /// Whether verdicts by agreement weigh the credibility of the devices that
    /// agree (default on).
    pub enabled: bool,
    /// The share of devices assumed to return wrong results, `f` (default 0.1):
    /// the error estimate of a device that passed no check.
    pub assumed_bad: f64,
    /// The largest probability that an accepted group of agreeing results is
    /// wrong, for jobs that set no `max_error` of their own (default 0.005: two
    /// devices that passed no check are not enough at `assumed_bad` 0.1, one
    /// that passed a check and one that did not are).
    pub max_error: f64,
}

impl Default for CredibilityConfig {
    fn default() -> Self {
        CredibilityConfig { enabled: true, assumed_bad: 0.1, max_error: 0.005 }
    }
}

/// What the engine saw of one device's results.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Record {
    /// Checks passed since it was last caught.
    passed: u32,
    /// A trusted device contradicted its last checked result.
    caught: bool,
}

/// Every device's record, by handle (devices never seen have passed nothing).
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Credibility {
    records: Vec<Record>,
}

impl Credibility {
    fn get(&self, d: DeviceId) -> Record {
        self.records.get(d.0 as usize).copied().unwrap_or_default()
    }

    fn get_mut(&mut self, d: DeviceId) -> &mut Record {
        let i = d.0 as usize;
        if self.records.len() <= i {
            self.records.resize(i + 1, Record::default());
        }
        &mut self.records[i]
    }

    /// The probability that a result of the device is wrong (an untrusted one).
    pub fn error(&self, d: DeviceId, assumed_bad: f64) -> f64 {
        let r = self.get(d);
        if r.caught {
            1.0
        } else {
            assumed_bad / (f64::from(r.passed) + 1.0)
        }
    }

    /// Checks the device passed since it was last caught.
    #[cfg(test)]
    pub fn passed(&self, d: DeviceId) -> u32 {
        self.get(d).passed
    }

    /// Whether a trusted device contradicted its last checked result.
    #[cfg(test)]
    pub fn caught(&self, d: DeviceId) -> bool {
        self.get(d).caught
    }

    /// A trusted device confirmed one of its results.
    pub fn confirm(&mut self, d: DeviceId) {
        let r = self.get_mut(d);
        r.caught = false;
        r.passed = r.passed.saturating_add(1);
    }

    /// Its result agreed with a device that passed a check (no weight while it
    /// is caught: only a trusted device clears that).
    pub fn vouch(&mut self, d: DeviceId) {
        let r = self.get_mut(d);
        if !r.caught {
            r.passed = r.passed.saturating_add(1);
        }
    }

    /// A trusted device contradicted one of its results.
    pub fn catch(&mut self, d: DeviceId) {
        *self.get_mut(d) = Record { passed: 0, caught: true };
    }
}

/// The probability that a group of agreeing results is wrong: the product of
/// its devices' error estimates (`errors`), in the order given.
pub(super) fn group_error(errors: impl Iterator<Item = f64>) -> f64 {
    errors.fold(1.0, |p, e| p * e)
}

/// Whether a group's error is within the bound, allowing for rounding (0.05 x
/// 0.1 is 0.005 on paper, a hair above it in binary).
pub(super) fn within(error: f64, bound: f64) -> bool {
    error <= bound * (1.0 + 1e-9)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_raise_credibility_and_a_contradiction_removes_it() {
        let mut c = Credibility::default();
        let (a, b) = (DeviceId(3), DeviceId(0));
        assert_eq!(c.error(a, 0.1), 0.1, "never seen: the assumed share");
        c.confirm(a);
        assert_eq!(c.error(a, 0.1), 0.05);
        c.vouch(a);
        assert!((c.error(a, 0.1) - 0.1 / 3.0).abs() < 1e-15);
        c.catch(a);
        assert_eq!(c.error(a, 0.1), 1.0, "caught: counts for nothing");
        c.vouch(a);
        assert_eq!(c.error(a, 0.1), 1.0, "agreement does not clear a catch");
        c.confirm(a);
        assert_eq!((c.error(a, 0.1), c.caught(a), c.passed(a)), (0.05, false, 1));
        assert_eq!(c.error(b, 0.1), 0.1, "other devices untouched");
        let pair = group_error([0.1, 0.1].into_iter());
        let bound = CredibilityConfig::default().max_error;
        assert!(!within(pair, bound), "two unchecked devices are not enough");
        assert!(within(group_error([0.05, 0.1].into_iter()), bound), "one checked device is");
        assert!(!within(group_error([1.0, 0.05].into_iter()), bound), "a caught device adds nothing");
    }
}
