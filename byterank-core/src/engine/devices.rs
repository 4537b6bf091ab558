//! The devices the engine knows (spec §11b): what they report, and what the engine
//! owns and no report can change: trust (set only by the operator), fault history,
//! lottery outcome, time since the last task. A device that leaves and registers
//! again under its id gets its handle and its history back.

use alloc::collections::{BTreeMap, BTreeSet};
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::command::{AttemptId, DeviceId};
use super::error::{DeviceGone, RegisterError, UnknownDevice, UpdateError};
use crate::device::{display_id, Device};
use crate::eligibility::{check_traits, traits_of, version_accepted, Traits};
use crate::fault::{FaultHistory, Outcome};
use crate::flags::{flags, state_flags, Flag, FlagConfig, Flags};
use crate::job::JobSpec;
use crate::reliability::Track;
use crate::time::Timestamp;

/// One device.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct DeviceEntry {
    /// The last reported state, with the engine-owned fields set by the engine
    /// (`trusted` mirrors the operator's decision, for ranking and eligibility).
    pub state: Device,
    pub live: bool,
    /// The attempts it holds beyond the first two (those are in its [`Hot`] record).
    pub held: Vec<AttemptId>,
    pub registered: Timestamp,
}

/// What every pull and report reads of a device, packed apart from the full
/// record so that those commands touch one small line per device, not the
/// scattered fields of a `Device`: a pull, the start of an attempt and its end
/// read and write only this line (it is aligned to one), and recording an
/// outcome reads only its copy of the fault history (the entry's copy is written,
/// never read, on the way). Its state-derived fields are recomputed whenever the
/// record changes.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(align(64))]
pub(super) struct Hot {
    pub live: bool,
    /// Attempts it holds.
    pub held: u32,
    /// The first two attempts it holds, in the order it took them (the valid
    /// ones are the first `held`; the rest are in the entry's `held`).
    hand: [AttemptId; 2],
    /// When it last started an attempt ([`NEVER`] if it never did).
    last_task: i64,
    /// The entry's fault history, mirrored.
    faults: FaultHistory,
    /// Flags of the state alone (no schedule).
    flags: Flags,
    /// A worker block: the schedule flag must be read at the time of asking.
    scheduled: bool,
    traits: Traits,
}

const _: () = assert!(core::mem::size_of::<Hot>() == 64);

/// `Hot::last_task` of a device that never started an attempt (before any
/// valid timestamp).
const NEVER: i64 = i64::MIN;

impl Hot {
    /// When it last started an attempt.
    pub fn last_task(&self) -> Option<Timestamp> {
        (self.last_task != NEVER).then_some(Timestamp(self.last_task))
    }
}

/// Every device ever registered, by dense handle.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Devices {
    entries: Vec<DeviceEntry>,
    hot: Vec<Hot>,
    names: BTreeMap<String, DeviceId>,
    /// Each device's owner, an index into `owners`: a payment reads four bytes
    /// here, not the device's entry and its heap string.
    owner_of: Vec<u32>,
    /// Every owner named at a registration, in order of first mention.
    owners: Vec<String>,
    owner_ids: BTreeMap<String, u32>,
    /// The live devices the operator trusts: the arbiters a disputed task may
    /// have (few, so asking each is cheap).
    trusted_live: BTreeSet<DeviceId>,
    /// What the failure model reads of each device, by handle: its attempts'
    /// ends and its online sessions ([`crate::reliability`]).
    #[cfg_attr(feature = "serde", serde(default))]
    tracks: Vec<Track>,
}

/// The hot record of an entry, its attempts and last task taken from `was`.
fn hot_of(e: &DeviceEntry, was: Option<&Hot>, cfg: &FlagConfig) -> Hot {
    Hot {
        live: e.live,
        held: was.map_or(0, |h| h.held),
        hand: was.map_or([AttemptId(0); 2], |h| h.hand),
        last_task: was.map_or(NEVER, |h| h.last_task),
        faults: e.state.faults,
        flags: state_flags(&e.state, cfg),
        scheduled: e.state.worker.is_some(),
        traits: traits_of(&e.state, 0),
    }
}

impl Devices {
    pub fn get(&self, id: DeviceId) -> Option<&DeviceEntry> {
        self.entries.get(id.0 as usize)
    }

    /// The entry of a handle the caller checked.
    pub fn entry(&self, id: DeviceId) -> &DeviceEntry {
        &self.entries[id.0 as usize]
    }

    fn entry_mut(&mut self, id: DeviceId) -> &mut DeviceEntry {
        &mut self.entries[id.0 as usize]
    }

    /// Whether the operator trusts the device.
    pub fn trusted(&self, id: DeviceId) -> bool {
        self.hot[id.0 as usize].traits.trusted
    }

    /// Asks the cache for the device's hot record (and, for `entry`, its entry)
    /// ahead of their use.
    pub fn prefetch(&self, id: DeviceId, entry: bool) {
        super::prefetch::prefetch(self.hot.get(id.0 as usize));
        if entry {
            super::prefetch::prefetch(self.entries.get(id.0 as usize));
        }
    }

    pub fn hot(&self, id: DeviceId) -> &Hot {
        &self.hot[id.0 as usize]
    }

    fn rehot(&mut self, id: DeviceId, cfg: &FlagConfig) {
        let i = id.0 as usize;
        self.hot[i] = hot_of(&self.entries[i], Some(&self.hot[i]), cfg);
    }

    /// The device starts an attempt.
    pub fn hold(&mut self, id: DeviceId, attempt: AttemptId, now: Timestamp) {
        let h = &mut self.hot[id.0 as usize];
        match h.hand.get_mut(h.held as usize) {
            Some(slot) => *slot = attempt,
            None => self.entries[id.0 as usize].held.push(attempt),
        }
        h.held += 1;
        h.last_task = now.millis();
    }

    /// The attempts the device holds, in the order it took them.
    pub fn held(&self, id: DeviceId) -> impl Iterator<Item = AttemptId> + '_ {
        let h = &self.hot[id.0 as usize];
        h.hand[..(h.held as usize).min(2)].iter().chain(&self.entries[id.0 as usize].held).copied()
    }

    /// Whether every hot record agrees with the entry it mirrors (liveness, fault
    /// history, how many attempts it holds); the first device that does not, and
    /// how, when one does not.
    pub fn audit(&self) -> Result<(), String> {
        for (i, (e, h)) in self.entries.iter().zip(&self.hot).enumerate() {
            let overflow = (h.held as usize).saturating_sub(2);
            let what = if h.live != e.live {
                "liveness"
            } else if h.faults != e.state.faults {
                "fault history"
            } else if e.held.len() != overflow {
                "attempts held"
            } else if self.trusted_live.contains(&DeviceId(i as u32)) != (e.live && e.state.trusted) {
                "membership of the live trusted devices"
            } else {
                continue;
            };
            return Err(format!("device {i} ({}): its hot record's {what} differs from its entry's", e.state.id));
        }
        Ok(())
    }

    /// An attempt the device held ended.
    pub fn release(&mut self, id: DeviceId, attempt: AttemptId) {
        let h = &mut self.hot[id.0 as usize];
        let inline = (h.held as usize).min(2);
        if let Some(k) = h.hand[..inline].iter().position(|&a| a == attempt) {
            // Keep the order: the second moves up, the first overflowing one in.
            if k == 0 {
                h.hand[0] = h.hand[1];
            }
            if h.held > 2 {
                h.hand[1] = self.entries[id.0 as usize].held.remove(0);
            }
            h.held -= 1;
        } else if h.held > 2 {
            let e = &mut self.entries[id.0 as usize];
            if let Some(i) = e.held.iter().position(|&a| a == attempt) {
                e.held.remove(i);
                h.held -= 1;
            }
        }
    }

    /// Appends an outcome to the device's history (only the fault flag can
    /// change).
    pub fn record(&mut self, id: DeviceId, outcome: Outcome, cfg: &FlagConfig) {
        let h = &mut self.hot[id.0 as usize];
        h.faults.push(outcome);
        match cfg.fault_policy.flags(&h.faults) {
            true => h.flags.insert(Flag::RepeatedFailures),
            false => h.flags.remove(Flag::RepeatedFailures),
        }
        self.entries[id.0 as usize].state.faults = h.faults;
    }

    /// Who is paid for the device's work.
    pub fn owner(&self, id: DeviceId) -> &str {
        &self.owners[self.owner_of[id.0 as usize] as usize]
    }

    /// The index of an owner's name, interned at its first mention.
    fn owner_id(&mut self, owner: &str) -> u32 {
        if let Some(&k) = self.owner_ids.get(owner) {
            return k;
        }
        let k = self.owners.len() as u32;
        self.owners.push(owner.into());
        self.owner_ids.insert(owner.into(), k);
        k
    }

    /// Clears the device's history (the operator reviewed it).
    pub fn reset_history(&mut self, id: DeviceId, cfg: &FlagConfig) {
        self.entry_mut(id).state.faults.reset();
        self.rehot(id, cfg);
    }

    /// Sets the device's lottery outcome.
    pub fn set_lottery(&mut self, id: DeviceId, won: bool) {
        self.entry_mut(id).state.lottery_winner = won;
    }

    pub fn handle(&self, id: &str) -> Option<DeviceId> {
        self.names.get(id).copied()
    }

    /// Handles ever given (live or not).
    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// Whether a device is live, or why not.
    pub fn live(&self, id: DeviceId) -> Result<(), DeviceGone> {
        match self.hot.get(id.0 as usize) {
            None => Err(UnknownDevice { device: id }.into()),
            Some(h) if !h.live => Err(self.removed(id)),
            Some(_) => Ok(()),
        }
    }

    /// Live devices in handle order: a pass over the compact liveness records,
    /// without the walk of the ids that [`live_in_id_order`](Self::live_in_id_order) makes.
    pub fn live_by_handle(&self) -> impl Iterator<Item = DeviceId> + '_ {
        self.hot.iter().enumerate().filter(|(_, h)| h.live).map(|(i, _)| DeviceId(i as u32))
    }

    #[cold]
    fn removed(&self, id: DeviceId) -> DeviceGone {
        DeviceGone::Removed { device: id, id: self.entry(id).state.id.clone() }
    }

    /// Live devices in id order (the ranking's snapshot order).
    pub fn live_in_id_order(&self) -> Vec<DeviceId> {
        self.names.values().copied().filter(|d| self.entry(*d).live).collect()
    }

    pub fn check_register(&self, device: &Device) -> Result<(), RegisterError> {
        device.validate()?;
        match self.handle(&device.id) {
            Some(d) if self.entry(d).live => Err(RegisterError::DuplicateDevice { id: device.id.clone() }),
            _ => Ok(()),
        }
    }

    /// Registers a device (checked). A device seen before gets its handle back with
    /// its trust and history; a new one starts untrusted with an empty history,
    /// whatever it claims.
    pub fn register(&mut self, device: &Device, owner: &str, now: Timestamp, cfg: &FlagConfig) -> DeviceId {
        let mut state = device.clone();
        state.lottery_winner = false;
        state.hours_since_last_task = None;
        let owner = self.owner_id(owner);
        if let Some(id) = self.handle(&device.id) {
            let e = self.entry_mut(id);
            keep_owned(&mut state, &e.state);
            (e.state, e.live) = (state, true);
            if e.state.trusted {
                self.trusted_live.insert(id);
            }
            self.owner_of[id.0 as usize] = owner;
            self.rehot(id, cfg);
            self.session(id, now);
            return id;
        }
        state.trusted = false;
        state.faults = Default::default();
        let id = DeviceId(self.entries.len() as u32);
        self.names.insert(state.id.clone(), id);
        let entry = DeviceEntry { state, live: true, held: Vec::new(), registered: now };
        self.hot.push(hot_of(&entry, None, cfg));
        self.owner_of.push(owner);
        self.entries.push(entry);
        self.session(id, now);
        id
    }

    /// Opens or closes the device's session to match its state at `now`: live and
    /// not reported offline is online.
    fn session(&mut self, id: DeviceId, now: Timestamp) {
        let e = &self.entries[id.0 as usize];
        let online = e.live && e.state.online != Some(false);
        let t = self.track_mut(id);
        match online {
            true => t.online(now),
            false => t.offline(now),
        }
    }

    /// Whether the device is gone or reported offline: an attempt it held that
    /// ends now was lost with its session.
    pub fn session_lost(&self, id: DeviceId) -> bool {
        let e = self.entry(id);
        !e.live || e.state.online == Some(false)
    }

    /// What the failure model has seen of the device (nothing, for a device
    /// of a state saved before the model kept records).
    pub fn track(&self, id: DeviceId) -> Track {
        self.tracks.get(id.0 as usize).copied().unwrap_or_default()
    }

    /// The failure model's record of the device, to note an attempt's end.
    pub fn track_mut(&mut self, id: DeviceId) -> &mut Track {
        let i = id.0 as usize;
        if self.tracks.len() <= i {
            self.tracks.resize(i + 1, Track::default());
        }
        &mut self.tracks[i]
    }

    pub fn check_update(&self, id: DeviceId, state: &Device) -> Result<(), UpdateError> {
        self.live(id)?;
        let known = &self.entry(id).state.id;
        if &state.id != known {
            return Err(UpdateError::IdChanged { device: id, id: known.clone(), given: display_id(&state.id) });
        }
        state.validate().map_err(UpdateError::from)
    }

    /// Takes a device's report, keeping what the engine owns.
    pub fn update(&mut self, id: DeviceId, state: &Device, now: Timestamp, cfg: &FlagConfig) {
        let e = self.entry_mut(id);
        let mut next = state.clone();
        keep_owned(&mut next, &e.state);
        e.state = next;
        self.rehot(id, cfg);
        self.session(id, now);
    }

    /// Marks a device gone, keeping only its id, trust, history and owner (results
    /// it returned before leaving may still validate and be paid); returns the
    /// attempts it held.
    pub fn remove(&mut self, id: DeviceId, now: Timestamp) -> Vec<AttemptId> {
        self.trusted_live.remove(&id);
        self.entry_mut(id).live = false;
        self.session(id, now);
        let e = self.entry_mut(id);
        let name = core::mem::take(&mut e.state.id);
        e.state = Device { trusted: e.state.trusted, faults: e.state.faults, ..Device::new(name) };
        let overflow = core::mem::take(&mut e.held);
        let hot = &mut self.hot[id.0 as usize];
        let held = hot.hand[..(hot.held as usize).min(2)].iter().copied().chain(overflow).collect();
        (hot.live, hot.held) = (false, 0);
        held
    }

    pub fn set_trust(&mut self, id: DeviceId, trusted: bool, cfg: &FlagConfig) {
        let e = self.entry_mut(id);
        e.state.trusted = trusted;
        if e.live && trusted {
            self.trusted_live.insert(id);
        } else {
            self.trusted_live.remove(&id);
        }
        self.rehot(id, cfg);
    }

    /// The live devices the operator trusts, in handle order.
    pub fn trusted_live(&self) -> impl Iterator<Item = DeviceId> + '_ {
        self.trusted_live.iter().copied()
    }

    /// The flags a device raises now, from its current state.
    pub fn flags_now(&self, id: DeviceId, now: Timestamp, cfg: &FlagConfig) -> Flags {
        let hot = self.hot(id);
        if hot.scheduled {
            flags(&self.entry(id).state, now, cfg)
        } else {
            hot.flags
        }
    }

    /// Whether the device's current state meets a job's requirements.
    pub fn may_run(&self, id: DeviceId, job: &JobSpec, chunk_bytes: Option<u64>) -> bool {
        let version_ok = || version_accepted(job, self.entry(id).state.app_version.as_deref());
        check_traits(&self.hot(id).traits, job, chunk_bytes, version_ok).is_ok()
    }

    /// Sets every device's hours since its last task (or registration) to `now`.
    pub fn stamp_hours(&mut self, now: Timestamp) {
        for (e, h) in self.entries.iter_mut().zip(&self.hot) {
            let since = h.last_task().unwrap_or(e.registered);
            e.state.hours_since_last_task = Some((now.millis() - since.millis()) as f64 / crate::time::HOUR_MS as f64);
        }
    }
}

/// Copies the engine-owned fields of `known` into a reported state.
fn keep_owned(report: &mut Device, known: &Device) {
    report.trusted = known.trusted;
    report.faults = known.faults;
    report.lottery_winner = known.lottery_winner;
    report.hours_since_last_task = known.hours_since_last_task;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The audit sees each kind of disagreement between a hot record and its entry.
    #[test]
    fn the_audit_sees_a_mirror_that_disagrees() {
        let cfg = FlagConfig::default();
        let mut devices = Devices::default();
        let id = devices.register(&Device::new("a"), "o", Timestamp::EPOCH, &cfg);
        devices.hold(id, AttemptId(1), Timestamp::EPOCH);
        devices.record(id, Outcome { failed: true, ..Outcome::OK }, &cfg);
        assert_eq!(devices.audit(), Ok(()));
        assert_eq!(devices.held(id).collect::<Vec<_>>(), [AttemptId(1)]);
        let corrupt: [fn(&mut Devices); 3] = [
            |d| d.entries[0].live = false,
            |d| d.entries[0].state.faults.reset(),
            |d| d.entries[0].held.push(AttemptId(9)),
        ];
        for (k, corrupt) in corrupt.into_iter().enumerate() {
            let mut broken = devices.clone();
            corrupt(&mut broken);
            assert!(broken.audit().is_err(), "corruption {k} unseen");
        }
    }
}
