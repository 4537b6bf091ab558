//! The devices the engine knows (spec §11b): what they report, and what the engine
//! owns and no report can change: trust (set only by the operator), fault history,
//! lottery outcome, time since the last task. A device that leaves and registers
//! again under its id gets its handle and its history back.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use super::command::{AttemptId, DeviceId};
use super::error::EngineError;
use crate::device::Device;
use crate::eligibility::check_device;
use crate::flags::{flags, FlagConfig, Flags};
use crate::job::JobSpec;
use crate::time::Timestamp;

/// One device.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct DeviceEntry {
    /// The last reported state, with the engine-owned fields set by the engine
    /// (`trusted` mirrors the operator's decision, for ranking and eligibility).
    pub state: Device,
    pub owner: String,
    pub live: bool,
    pub held: Vec<AttemptId>,
    pub registered: Timestamp,
    pub last_task: Option<Timestamp>,
}

/// Every device ever registered, by dense handle.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Devices {
    entries: Vec<DeviceEntry>,
    names: BTreeMap<String, DeviceId>,
}

impl Devices {
    pub fn get(&self, id: DeviceId) -> Option<&DeviceEntry> {
        self.entries.get(id.0 as usize)
    }

    /// The entry of a handle the caller checked.
    pub fn entry(&self, id: DeviceId) -> &DeviceEntry {
        &self.entries[id.0 as usize]
    }

    pub fn entry_mut(&mut self, id: DeviceId) -> &mut DeviceEntry {
        &mut self.entries[id.0 as usize]
    }

    pub fn handle(&self, id: &str) -> Option<DeviceId> {
        self.names.get(id).copied()
    }

    /// Handles ever given (live or not).
    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// A live device, or why not.
    pub fn live(&self, id: DeviceId) -> Result<&DeviceEntry, EngineError> {
        match self.get(id) {
            None => Err(EngineError::UnknownDevice(id)),
            Some(e) if !e.live => Err(EngineError::DeviceRemoved(id)),
            Some(e) => Ok(e),
        }
    }

    /// Live devices in id order (the ranking's snapshot order).
    pub fn live_in_id_order(&self) -> Vec<DeviceId> {
        self.names.values().copied().filter(|d| self.entry(*d).live).collect()
    }

    pub fn check_register(&self, device: &Device) -> Result<(), EngineError> {
        device.validate()?;
        match self.handle(&device.id) {
            Some(d) if self.entry(d).live => Err(EngineError::DuplicateDevice(device.id.clone())),
            _ => Ok(()),
        }
    }

    /// Registers a device (checked). A device seen before gets its handle back with
    /// its trust and history; a new one starts untrusted with an empty history,
    /// whatever it claims.
    pub fn register(&mut self, device: &Device, owner: &str, now: Timestamp) -> DeviceId {
        let mut state = device.clone();
        state.lottery_winner = false;
        state.hours_since_last_task = None;
        if let Some(id) = self.handle(&device.id) {
            let e = self.entry_mut(id);
            keep_owned(&mut state, &e.state);
            (e.state, e.owner, e.live) = (state, owner.into(), true);
            return id;
        }
        state.trusted = false;
        state.faults = Default::default();
        let id = DeviceId(self.entries.len() as u32);
        self.names.insert(state.id.clone(), id);
        self.entries.push(DeviceEntry {
            state,
            owner: owner.into(),
            live: true,
            held: Vec::new(),
            registered: now,
            last_task: None,
        });
        id
    }

    pub fn check_update(&self, id: DeviceId, state: &Device) -> Result<(), EngineError> {
        let known = &self.live(id)?.state.id;
        if &state.id != known {
            return Err(EngineError::IdChanged(id, known.clone()));
        }
        state.validate().map_err(EngineError::from)
    }

    /// Takes a device's report, keeping what the engine owns.
    pub fn update(&mut self, id: DeviceId, state: &Device) {
        let e = self.entry_mut(id);
        let mut next = state.clone();
        keep_owned(&mut next, &e.state);
        e.state = next;
    }

    /// Marks a device gone, keeping only its id, trust, history and owner (results
    /// it returned before leaving may still validate and be paid); returns the
    /// attempts it held.
    pub fn remove(&mut self, id: DeviceId) -> Vec<AttemptId> {
        let e = self.entry_mut(id);
        e.live = false;
        let id = core::mem::take(&mut e.state.id);
        e.state = Device { trusted: e.state.trusted, faults: e.state.faults, ..Device::new(id) };
        core::mem::take(&mut e.held)
    }

    pub fn set_trust(&mut self, id: DeviceId, trusted: bool) {
        self.entry_mut(id).state.trusted = trusted;
    }

    /// The flags a device raises now, from its current state.
    pub fn flags_now(&self, id: DeviceId, now: Timestamp, cfg: &FlagConfig) -> Flags {
        flags(&self.entry(id).state, now, cfg)
    }

    /// Whether the device's current state meets a job's requirements.
    pub fn may_run(&self, id: DeviceId, job: &JobSpec, chunk_bytes: Option<u64>) -> bool {
        check_device(&self.entry(id).state, job, chunk_bytes).is_ok()
    }

    pub fn iter_mut(&mut self) -> impl Iterator<Item = &mut DeviceEntry> {
        self.entries.iter_mut()
    }
}

/// Copies the engine-owned fields of `known` into a reported state.
fn keep_owned(report: &mut Device, known: &Device) {
    report.trusted = known.trusted;
    report.faults = known.faults;
    report.lottery_winner = known.lottery_winner;
    report.hours_since_last_task = known.hours_since_last_task;
}
