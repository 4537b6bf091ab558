//! Attempts and their timers (spec §11, timing): every running copy of a task,
//! its heartbeats, and the three deadlines that end it: T1 (delayed), T2 (stale)
//! and the hard `max_attempt` deadline.
//!
//! The deadlines hold at every command that concerns an attempt ([`Attempts::touch`])
//! as well as at ticks ([`Attempts::pop_due`]), so a result that arrives after T2
//! is late whether or not a tick came between.

use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use super::command::{AttemptId, DeviceId, JobId};
use super::timers::Timers;
use crate::time::Timestamp;

/// How a copy came to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub(super) enum CopyKind {
    /// A copy of the plan, from a pool queue.
    Planned,
    /// A copy issued through the rescue queue: a replacement, or an extra copy
    /// towards a majority.
    Rescue,
    /// A trusted device's copy that settles a disagreement.
    Arbiter,
    /// A copy beyond the plan of a task in its job's tail, on a device expected
    /// to end it sooner than its running copies.
    Speculative,
}

/// One running attempt.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct Attempt {
    pub job: JobId,
    pub task: u32,
    pub replica: u32,
    pub device: DeviceId,
    pub kind: CopyKind,
    pub started: Timestamp,
    pub last_beat: Timestamp,
    pub delayed: bool,
    /// The deadline under which the attempt sits in the timers.
    timer: Timestamp,
}

/// The timing rules, from the engine configuration.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) struct Deadlines {
    pub t1_ms: i64,
    pub t2_ms: i64,
    pub max_ms: i64,
}

impl Deadlines {
    fn late(&self, a: &Attempt, now: Timestamp) -> bool {
        now >= a.last_beat.add_millis(self.t2_ms) || now >= a.started.add_millis(self.max_ms)
    }

    fn next(&self, a: &Attempt) -> Timestamp {
        let beat = a.last_beat.add_millis(if a.delayed { self.t2_ms } else { self.t1_ms });
        beat.min(a.started.add_millis(self.max_ms))
    }
}

/// What a heartbeat or a report finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Touch {
    /// The attempt is alive.
    Alive,
    /// Alive, but T1 passed without a heartbeat: it is delayed from now on.
    Delayed,
    /// T2 or the hard deadline passed: the attempt is stale.
    Late,
}

/// A deadline that fired at a tick.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Due {
    /// T1 passed: the attempt is delayed.
    Delayed,
    /// T2 or the hard deadline passed: the attempt is stale (still in the books).
    Stale,
}

/// Every running attempt, and one timer each.
///
/// Attempts live in a slab: a handle is a slot and the slot's generation
/// (`generation << 32 | slot`), so lookups take no tree walk and a handle is never
/// given twice (a slot whose generation is used up is retired, not reused). Freed
/// slots are reused last-freed first, which keeps the order of handles a function
/// of the commands alone.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(from = "Slab", into = "Slab"))]
pub(super) struct Attempts {
    slots: Vec<Slot>,
    free: Vec<u32>,
    running: usize,
    /// One deadline per running attempt. Heartbeats do not move it (that would
    /// cost a heap update per heartbeat); when it fires it is checked against the
    /// attempt's last heartbeat and set again if that moved. A finished attempt's
    /// deadline is not removed (no heap finds a key cheaply) but left
    /// to be skipped when it comes up, or swept once the finished outnumber the
    /// live.
    timers: Timers,
    /// Per slot, the generation of the attempt running in it, or [`FREE`]: the
    /// sweep checks each deadline against it, four bytes a slot, where reading
    /// the slots themselves would be a cache miss per deadline.
    live: Vec<u32>,
    /// Deadlines in `timers` whose attempt finished.
    dead: usize,
}

/// What [`Attempts`] keeps in a snapshot: the slab and the timers; the rest
/// follows from them.
#[cfg(feature = "serde")]
#[derive(serde::Serialize, serde::Deserialize)]
struct Slab {
    slots: Vec<Slot>,
    free: Vec<u32>,
    timers: Timers,
}

#[cfg(feature = "serde")]
impl From<Attempts> for Slab {
    fn from(a: Attempts) -> Slab {
        Slab { slots: a.slots, free: a.free, timers: a.timers }
    }
}

#[cfg(feature = "serde")]
impl From<Slab> for Attempts {
    fn from(s: Slab) -> Attempts {
        let live: Vec<u32> =
            s.slots.iter().map(|slot| if slot.attempt.is_some() { slot.generation } else { FREE }).collect();
        let running = live.iter().filter(|&&g| g != FREE).count();
        let dead = s.timers.len().saturating_sub(running);
        Attempts { slots: s.slots, free: s.free, running, timers: s.timers, live, dead }
    }
}

/// In [`Attempts::live`], a slot with no running attempt. No attempt is given
/// this generation: a slot is retired before it would be.
const FREE: u32 = u32::MAX;

/// Finished attempts tolerated beyond the number of running ones before a sweep:
/// the timers stay within twice the live attempts plus this. A sweep costs about the
/// timers' size, so it stays a few steps per finished attempt however small the
/// slack: it only keeps tiny engines from sweeping at every finish.
const DEAD_SLACK: usize = 64;

/// Aligned to a cache line, so that a report's first touch of its attempt is
/// one line, not two.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[repr(align(64))]
struct Slot {
    /// The generation of the slot's current (or last) attempt.
    generation: u32,
    attempt: Option<Attempt>,
}

fn split(id: AttemptId) -> (usize, u32) {
    ((id.0 & 0xFFFF_FFFF) as usize, (id.0 >> 32) as u32)
}

impl Attempts {
    /// Starts an attempt at `now`.
    pub fn start(
        &mut self,
        (job, task, replica): (JobId, u32, u32),
        device: DeviceId,
        kind: CopyKind,
        now: Timestamp,
        d: &Deadlines,
    ) -> AttemptId {
        let slot = match self.free.pop() {
            Some(s) => {
                let slot = &mut self.slots[s as usize];
                slot.generation += 1;
                s
            }
            None => {
                self.slots.push(Slot::default());
                self.live.push(FREE);
                (self.slots.len() - 1) as u32
            }
        };
        self.live[slot as usize] = self.slots[slot as usize].generation;
        let id = AttemptId(u64::from(self.slots[slot as usize].generation) << 32 | u64::from(slot));
        let mut a =
            Attempt { job, task, replica, device, kind, started: now, last_beat: now, delayed: false, timer: now };
        a.timer = d.next(&a);
        self.timers.push((a.timer, id));
        self.slots[slot as usize].attempt = Some(a);
        self.running += 1;
        id
    }

    /// Asks the cache for the attempt's slot ahead of its use.
    pub fn prefetch(&self, id: AttemptId) {
        super::prefetch::prefetch(self.slots.get(split(id).0));
    }

    pub fn get(&self, id: AttemptId) -> Option<&Attempt> {
        let (slot, generation) = split(id);
        let s = self.slots.get(slot)?;
        s.attempt.as_ref().filter(|_| s.generation == generation)
    }

    fn get_mut(&mut self, id: AttemptId) -> Option<&mut Attempt> {
        let (slot, generation) = split(id);
        let s = self.slots.get_mut(slot)?;
        s.attempt.as_mut().filter(|_| s.generation == generation)
    }

    /// Every running attempt with its handle, in slot order.
    pub fn iter(&self) -> impl Iterator<Item = (AttemptId, &Attempt)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| {
            let id = AttemptId(u64::from(s.generation) << 32 | i as u64);
            s.attempt.as_ref().map(|a| (id, a))
        })
    }

    /// Whether this handle was ever given (running or ended).
    pub fn issued(&self, id: AttemptId) -> bool {
        let (slot, generation) = split(id);
        self.slots.get(slot).is_some_and(|s| generation <= s.generation)
    }

    pub fn len(&self) -> usize {
        self.running
    }

    /// Takes an attempt off the books.
    pub fn finish(&mut self, id: AttemptId) -> Option<Attempt> {
        self.get(id)?;
        let (slot, _) = split(id);
        let a = self.slots[slot].attempt.take().expect("just found");
        self.live[slot] = FREE;
        if self.slots[slot].generation < FREE - 1 {
            self.free.push(slot as u32);
        }
        self.running -= 1;
        self.dead += 1;
        if self.dead > self.running + DEAD_SLACK {
            self.sweep();
        }
        Some(a)
    }

    /// Drops finished attempts' deadlines from the timers, in place: each is
    /// checked against its slot's running generation, so the sweep reads no
    /// attempt's slot and allocates nothing.
    fn sweep(&mut self) {
        let live = &self.live;
        self.timers.retain(|(_, id)| {
            let (slot, generation) = split(*id);
            live.get(slot) == Some(&generation)
        });
        debug_assert_eq!(self.timers.len(), self.running, "one deadline per running attempt");
        self.dead = 0;
    }

    /// Checks the running generations and the count of dead deadlines against
    /// the slots and the timers.
    pub fn audit(&self) -> Result<(), String> {
        if self.slots.len() != self.live.len() {
            return Err(format!("{} attempt slots, but {} running generations", self.slots.len(), self.live.len()));
        }
        for (i, (slot, &live)) in self.slots.iter().zip(&self.live).enumerate() {
            let expected = if slot.attempt.is_some() { slot.generation } else { FREE };
            if live != expected {
                return Err(format!("attempt slot {i} is listed as running generation {live}, not {expected}"));
            }
        }
        let running = self.slots.iter().filter(|s| s.attempt.is_some()).count();
        if running != self.running {
            return Err(format!("{running} attempts run, but {} are counted", self.running));
        }
        if self.timers.len() != self.running + self.dead {
            let (timers, dead) = (self.timers.len(), self.dead);
            return Err(format!("{timers} deadlines, but {running} running attempts and {dead} finished ones"));
        }
        Ok(())
    }

    /// Applies the deadlines at a command concerning the attempt; a heartbeat
    /// (`beat`) then moves its last sign of life to `now`.
    pub fn touch(&mut self, id: AttemptId, now: Timestamp, beat: bool, d: &Deadlines) -> Touch {
        let Some(a) = self.get_mut(id) else { return Touch::Late };
        if d.late(a, now) {
            return Touch::Late;
        }
        let newly = !a.delayed && now >= a.last_beat.add_millis(d.t1_ms);
        a.delayed |= newly;
        if beat {
            a.last_beat = now;
        }
        if newly {
            Touch::Delayed
        } else {
            Touch::Alive
        }
    }

    /// Every running attempt sent a heartbeat at `now` (the host resumed). Their
    /// timers stay: each is set again from the new heartbeat when it comes up.
    pub fn beat_all(&mut self, now: Timestamp) {
        for a in self.slots.iter_mut().filter_map(|s| s.attempt.as_mut()) {
            a.last_beat = a.last_beat.max(now);
        }
    }

    /// The next attempt whose deadline passed by `now`, if any. Timers that a
    /// heartbeat moved are set again on the way.
    pub fn pop_due(&mut self, now: Timestamp, d: &Deadlines) -> Option<(AttemptId, Due)> {
        while let Some((deadline, id)) = self.timers.first() {
            if deadline > now {
                return None;
            }
            self.timers.pop_first();
            let Some(a) = self.get_mut(id) else {
                // The deadline of a finished attempt.
                self.dead -= 1;
                continue;
            };
            let due = if d.late(a, now) {
                Some(Due::Stale)
            } else if !a.delayed && now >= a.last_beat.add_millis(d.t1_ms) {
                a.delayed = true;
                Some(Due::Delayed)
            } else {
                None
            };
            if due != Some(Due::Stale) {
                a.timer = d.next(a);
            }
            // A stale attempt keeps its timer until the caller finishes it.
            let timer = a.timer;
            self.timers.push((timer, id));
            if let Some(due) = due {
                return Some((id, due));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const D: Deadlines = Deadlines { t1_ms: 60, t2_ms: 180, max_ms: 1_000 };

    #[test]
    fn t1_delays_t2_stales_and_heartbeats_move_both() {
        let mut at = Attempts::default();
        let id = at.start((JobId(0), 0, 0), DeviceId(0), CopyKind::Planned, Timestamp(0), &D);
        assert_eq!(at.pop_due(Timestamp(59), &D), None);
        assert_eq!(at.pop_due(Timestamp(60), &D), Some((id, Due::Delayed)));
        assert_eq!(at.touch(id, Timestamp(100), true, &D), Touch::Alive, "already delayed");
        assert_eq!(at.pop_due(Timestamp(279), &D), None, "the heartbeat at 100 moved T2 to 280");
        assert_eq!(at.pop_due(Timestamp(280), &D), Some((id, Due::Stale)));
        assert!(at.finish(id).is_some());
        assert_eq!(at.pop_due(Timestamp(10_000), &D), None, "a finished attempt's deadline is skipped");
        assert!(at.timers.is_empty());
        assert_eq!(at.dead, 0, "and no longer counted as waiting for a sweep");
        assert_eq!(at.audit(), Ok(()));
        // The slot is reused under a new generation: the old handle stays ended.
        let next = at.start((JobId(0), 1, 0), DeviceId(0), CopyKind::Planned, Timestamp(300), &D);
        assert_ne!(next, id);
        assert!(at.issued(id) && at.get(id).is_none() && at.get(next).is_some());
        assert!(!at.issued(AttemptId(7)), "never given");
    }

    #[test]
    fn dead_deadlines_are_swept_once_they_outnumber_the_live() {
        let mut at = Attempts::default();
        let keep = at.start((JobId(0), 0, 0), DeviceId(0), CopyKind::Planned, Timestamp(0), &D);
        for t in 0..3 * DEAD_SLACK as u32 {
            let id = at.start((JobId(0), t, 0), DeviceId(1), CopyKind::Planned, Timestamp(0), &D);
            at.finish(id);
            assert!(at.timers.len() <= 2 * at.len() + DEAD_SLACK + 1);
            assert!(at.dead <= at.len() + DEAD_SLACK);
            assert_eq!(at.audit(), Ok(()));
        }
        assert_eq!(at.pop_due(Timestamp(60), &D), Some((keep, Due::Delayed)), "the live one still fires");
        assert_eq!(at.pop_due(Timestamp(60), &D), None);
    }

    #[test]
    fn a_slot_whose_generations_are_used_up_is_retired() {
        let mut at = Attempts::default();
        let first = at.start((JobId(0), 0, 0), DeviceId(0), CopyKind::Planned, Timestamp(0), &D);
        at.finish(first);
        at.slots[0].generation = FREE - 2;
        let last = at.start((JobId(0), 0, 0), DeviceId(0), CopyKind::Planned, Timestamp(0), &D);
        assert_eq!(split(last), (0, FREE - 1), "the slot's last generation");
        at.finish(last);
        let next = at.start((JobId(0), 0, 0), DeviceId(0), CopyKind::Planned, Timestamp(0), &D);
        assert_eq!(split(next), (1, 0), "a new slot, not a reused handle");
        assert!(at.get(last).is_none() && at.get(next).is_some());
        assert_eq!(at.audit(), Ok(()));
    }

    #[test]
    fn the_hard_deadline_holds_however_many_heartbeats() {
        let mut at = Attempts::default();
        let id = at.start((JobId(0), 0, 0), DeviceId(0), CopyKind::Planned, Timestamp(0), &D);
        for t in (0..1_000).step_by(50) {
            assert_ne!(at.touch(id, Timestamp(t), true, &D), Touch::Late);
        }
        assert_eq!(at.touch(id, Timestamp(1_000), true, &D), Touch::Late);
        assert_eq!(at.pop_due(Timestamp(1_000), &D), Some((id, Due::Stale)));
    }

    #[test]
    fn a_report_after_t1_is_delayed_and_after_t2_late_without_a_tick() {
        let mut at = Attempts::default();
        let a = at.start((JobId(0), 0, 0), DeviceId(0), CopyKind::Planned, Timestamp(0), &D);
        let b = at.start((JobId(0), 1, 0), DeviceId(0), CopyKind::Planned, Timestamp(0), &D);
        assert_eq!(at.touch(a, Timestamp(61), false, &D), Touch::Delayed);
        assert_eq!(at.touch(b, Timestamp(200), false, &D), Touch::Late);
    }
}
