//! The rescue queue (spec §11): copies a task needs beyond its pool queues, served
//! before the pools. Fast trusted devices take them first; after `rescue_wait`, any
//! eligible device takes a copy, while an arbitration only ever goes to a trusted
//! device.

use alloc::collections::VecDeque;

use super::command::JobId;
use crate::time::Timestamp;

/// What a rescue entry asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RescueNeed {
    /// Another copy: one failed or went stale, or the results disagree and no
    /// trusted device may arbitrate, so more copies seek a majority.
    Copy,
    /// A trusted device's copy, to settle results that disagree.
    Arbitration,
}

/// One waiting entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Entry {
    pub job: JobId,
    pub task: u32,
    pub since: Timestamp,
    pub need: RescueNeed,
}

/// The queue, first come first served among the entries a device may take.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Rescue {
    entries: VecDeque<Entry>,
}

impl Rescue {
    pub fn push(&mut self, e: Entry) {
        self.entries.push_back(e);
    }

    /// Drops the entries `dead` says no longer matter, then removes and returns the
    /// first that `take` accepts.
    pub fn take_first(&mut self, dead: impl Fn(&Entry) -> bool, take: impl Fn(&Entry) -> bool) -> Option<Entry> {
        self.entries.retain(|e| !dead(e));
        let pos = self.entries.iter().position(take)?;
        self.entries.remove(pos)
    }

    pub fn retain(&mut self, keep: impl FnMut(&Entry) -> bool) {
        self.entries.retain(keep);
    }

    pub fn iter(&self) -> impl Iterator<Item = &Entry> {
        self.entries.iter()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
