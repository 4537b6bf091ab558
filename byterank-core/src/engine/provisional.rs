//! Provisional results (spec §11): every result that passed integrity and waits
//! for its task's verdict, in one slab for the whole engine. Each task's results
//! are chained in arrival order from a head slot in its record. Freed slots are
//! reused, the last freed first, so the results waiting at any time stay in few
//! cache lines, and the slab, kept across jobs, stops growing once it holds the
//! most that ever waited at once.

use alloc::vec::Vec;

use super::task::Report;
use super::tasks::Few;

/// No slot: the end of a chain, or a task with no provisional result.
pub(super) const NONE: u32 = u32::MAX;

/// A provisional result and the slot of its task's next one.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Link {
    report: Option<Report>,
    next: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Provisional {
    links: Vec<Link>,
    /// Free slots of `links`, the last freed reused first.
    free: Vec<u32>,
}

impl Provisional {
    /// The results chained from `head`, in arrival order.
    pub fn iter(&self, head: u32) -> impl Iterator<Item = &Report> + Clone {
        let mut at = head;
        core::iter::from_fn(move || {
            let link = self.links.get(at as usize)?;
            at = link.next;
            link.report.as_ref()
        })
    }

    /// Appends a result to the chain at `head`.
    pub fn push(&mut self, head: &mut u32, report: Report) {
        let link = Link { report: Some(report), next: NONE };
        let slot = match self.free.pop() {
            Some(s) => {
                self.links[s as usize] = link;
                s
            }
            None => {
                self.links.push(link);
                (self.links.len() - 1) as u32
            }
        };
        if *head == NONE {
            *head = slot;
            return;
        }
        let mut at = *head as usize;
        while self.links[at].next != NONE {
            at = self.links[at].next as usize;
        }
        self.links[at].next = slot;
    }

    /// Takes the chain at `head`, in arrival order, freeing its slots.
    pub fn take(&mut self, head: &mut u32) -> Few<Report, 1> {
        let mut at = core::mem::replace(head, NONE);
        let mut few = Few::default();
        while at != NONE {
            let link = &mut self.links[at as usize];
            few.push(link.report.take().expect("a provisional result"));
            self.free.push(at);
            at = core::mem::replace(&mut link.next, NONE);
        }
        few
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::application::ResultMeta;
    use crate::engine::{AttemptId, DeviceId};

    fn report(attempt: u64) -> Report {
        Report {
            attempt: AttemptId(attempt),
            device: DeviceId(attempt as u32),
            meta: ResultMeta::default(),
            delayed: false,
        }
    }

    #[test]
    fn chains_keep_arrival_order_and_slots_are_reused() {
        let mut p = Provisional::default();
        let (mut a, mut b) = (NONE, NONE);
        p.push(&mut a, report(1));
        p.push(&mut b, report(2));
        p.push(&mut a, report(3));
        assert_eq!(p.iter(a).map(|r| r.attempt.0).collect::<Vec<_>>(), [1, 3]);
        assert_eq!(p.take(&mut a).into_iter().map(|r| r.attempt.0).collect::<Vec<_>>(), [1, 3]);
        assert!(a == NONE && p.iter(a).next().is_none());
        p.push(&mut b, report(4));
        assert_eq!(p.links.len(), 3, "a freed slot was reused");
        assert_eq!(p.iter(b).map(|r| r.attempt.0).collect::<Vec<_>>(), [2, 4]);
    }
}
