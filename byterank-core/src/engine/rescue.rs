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

    /// Removes and returns the first entry `take` accepts among those `dead` does
    /// not reject, dropping the dead ones met on the way (the tick drops the rest).
    pub fn take_first(&mut self, dead: impl Fn(&Entry) -> bool, take: impl Fn(&Entry) -> bool) -> Option<Entry> {
        let mut scanned = self.entries.len();
        let mut found = None;
        for (i, e) in self.entries.iter().enumerate() {
            if !dead(e) && take(e) {
                (scanned, found) = (i, Some(*e));
                break;
            }
        }
        let mut i = 0;
        self.entries.retain(|e| {
            i += 1;
            i > scanned + 1 || (i <= scanned && !dead(e))
        });
        found
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
