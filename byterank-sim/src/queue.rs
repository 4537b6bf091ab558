//! The simulator's event queue: a four-ary heap beside a FIFO lane, after dslab's
//! `dslab-core/src/state.rs`.
//!
//! # Ordering guarantee
//!
//! Events pop in order of time; events at the same time pop in the order they were
//! pushed (every push takes the next sequence number, and the order is `(time, seq)`),
//! whichever of the two structures holds them. So a run is a pure function of its
//! inputs: no tie is ever broken by memory layout or hashing.
//!
//! # The FIFO lane
//!
//! Many events are scheduled a fixed delay after "now" (heartbeats, ticks): such a
//! stream is already in time order, and a `VecDeque` holds it with O(1) pushes and
//! pops instead of the heap's O(log n). [`EventQueue::push_fifo`] puts an event in
//! the lane when it is not earlier than the lane's last event, and in the heap
//! otherwise, so a caller that is wrong about the order loses speed, never
//! correctness.
//!
//! # Cancellation
//!
//! Lazy, as in dslab: [`EventQueue::cancel`] records the event's id, and the event is
//! dropped when it reaches the front. The simulator itself mostly cancels without
//! ids: device events carry the device's generation number and are ignored when the
//! generation moved on.

use std::collections::{HashSet, VecDeque};

/// Simulated time, milliseconds since the start of the run.
pub type SimTime = u64;

/// The handle of a pushed event, for [`EventQueue::cancel`]. Sequential from 0.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(pub u64);

struct Entry<E> {
    time: SimTime,
    seq: u64,
    payload: E,
}

impl<E> Entry<E> {
    /// Whether `self` pops before `other`: earlier, or as early and pushed first.
    #[inline]
    fn before(&self, other: &Self) -> bool {
        (self.time, self.seq) < (other.time, other.seq)
    }
}

/// A min-heap of entries with four children per node: half the depth of a binary
/// heap, and the four children sit side by side in memory, so a pop from a large
/// heap touches about half as many cache lines.
struct Heap<E> {
    v: Vec<Entry<E>>,
}

impl<E> Heap<E> {
    const D: usize = 4;

    fn len(&self) -> usize {
        self.v.len()
    }

    fn peek(&self) -> Option<&Entry<E>> {
        self.v.first()
    }

    fn push(&mut self, e: Entry<E>) {
        let mut i = self.v.len();
        self.v.push(e);
        // Move the hole up while the parent pops later.
        while i > 0 {
            let parent = (i - 1) / Self::D;
            if !self.v[i].before(&self.v[parent]) {
                break;
            }
            self.v.swap(i, parent);
            i = parent;
        }
    }

    fn pop(&mut self) -> Option<Entry<E>> {
        let last = self.v.pop()?;
        if self.v.is_empty() {
            return Some(last);
        }
        let top = std::mem::replace(&mut self.v[0], last);
        let n = self.v.len();
        let mut i = 0;
        loop {
            let first = i * Self::D + 1;
            if first >= n {
                break;
            }
            let mut best = first;
            for c in first + 1..(first + Self::D).min(n) {
                if self.v[c].before(&self.v[best]) {
                    best = c;
                }
            }
            if !self.v[best].before(&self.v[i]) {
                break;
            }
            self.v.swap(i, best);
            i = best;
        }
        Some(top)
    }
}

/// A priority queue of timed events with insertion-order ties (see the module docs).
pub struct EventQueue<E> {
    heap: Heap<E>,
    lane: VecDeque<Entry<E>>,
    next_seq: u64,
    cancelled: HashSet<u64>,
    now: SimTime,
    popped: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        EventQueue {
            heap: Heap { v: Vec::new() },
            lane: VecDeque::new(),
            next_seq: 0,
            cancelled: HashSet::new(),
            now: 0,
            popped: 0,
        }
    }
}

impl<E> EventQueue<E> {
    /// An empty queue at time 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// The time of the last popped event (0 before the first).
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Events popped so far (cancelled ones not counted).
    pub fn popped(&self) -> u64 {
        self.popped
    }

    /// Events waiting, cancelled ones included until they reach the front.
    pub fn len(&self) -> usize {
        self.heap.len() + self.lane.len()
    }

    /// Whether no event waits.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn entry(&mut self, time: SimTime, payload: E) -> Entry<E> {
        assert!(time >= self.now, "an event at {time} ms is before the queue's time {} ms", self.now);
        let seq = self.next_seq;
        self.next_seq += 1;
        Entry { time, seq, payload }
    }

    /// Schedules `payload` at `time`.
    ///
    /// # Panics
    ///
    /// If `time` is before [`now`](Self::now): the past cannot be scheduled.
    pub fn push(&mut self, time: SimTime, payload: E) -> EventId {
        let e = self.entry(time, payload);
        let id = EventId(e.seq);
        self.heap.push(e);
        id
    }

    /// Schedules `payload` at `time`, in the FIFO lane when `time` is not before the
    /// lane's last event (the usual case for a fixed delay after now), else in the
    /// heap. The order of pops is the same either way.
    ///
    /// # Panics
    ///
    /// If `time` is before [`now`](Self::now).
    pub fn push_fifo(&mut self, time: SimTime, payload: E) -> EventId {
        let e = self.entry(time, payload);
        let id = EventId(e.seq);
        match self.lane.back() {
            Some(last) if last.time > time => self.heap.push(e),
            _ => self.lane.push_back(e),
        }
        id
    }

    /// Cancels a pushed event: it will not be popped. Cancelling an event that was
    /// already popped or cancelled does nothing.
    pub fn cancel(&mut self, id: EventId) {
        if id.0 < self.next_seq {
            self.cancelled.insert(id.0);
        }
    }

    /// The earliest event, with its time; ties in push order.
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        loop {
            let from_lane = match (self.lane.front(), self.heap.peek()) {
                (None, None) => return None,
                (Some(_), None) => true,
                (None, Some(_)) => false,
                (Some(l), Some(h)) => l.before(h),
            };
            let e = if from_lane { self.lane.pop_front() } else { self.heap.pop() }.expect("peeked");
            if !self.cancelled.is_empty() && self.cancelled.remove(&e.seq) {
                continue;
            }
            self.now = e.time;
            self.popped += 1;
            return Some((e.time, e.payload));
        }
    }

    /// The time of the earliest waiting event (cancelled ones included).
    pub fn peek_time(&self) -> Option<SimTime> {
        match (self.lane.front(), self.heap.peek()) {
            (None, None) => None,
            (Some(l), None) => Some(l.time),
            (None, Some(h)) => Some(h.time),
            (Some(l), Some(h)) => Some(l.time.min(h.time)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn equal_times_pop_in_push_order_across_lane_and_heap() {
        let mut q = EventQueue::new();
        q.push_fifo(10, "lane-a");
        q.push(10, "heap-b");
        q.push_fifo(10, "lane-c");
        q.push(5, "heap-first");
        q.push_fifo(7, "heap-because-out-of-order");
        let order: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            order,
            [(5, "heap-first"), (7, "heap-because-out-of-order"), (10, "lane-a"), (10, "heap-b"), (10, "lane-c")]
        );
    }

    #[test]
    fn cancelled_events_are_skipped() {
        let mut q = EventQueue::new();
        let a = q.push(1, 'a');
        q.push_fifo(2, 'b');
        let c = q.push_fifo(3, 'c');
        q.cancel(a);
        q.cancel(c);
        assert_eq!(q.pop(), Some((2, 'b')));
        assert_eq!(q.pop(), None);
        assert_eq!(q.popped(), 1);
    }

    #[test]
    #[should_panic(expected = "before the queue's time")]
    fn the_past_cannot_be_scheduled() {
        let mut q = EventQueue::new();
        q.push(10, ());
        q.pop();
        q.push(9, ());
    }

    proptest! {
        /// Against an independent reference: a stable sort of (time, push index).
        #[test]
        fn pops_in_time_then_push_order(ops in proptest::collection::vec((0u64..50, any::<bool>(), any::<bool>()), 0..200)) {
            let mut q = EventQueue::new();
            let mut reference = Vec::new();
            let mut ids = Vec::new();
            for (i, &(t, fifo, cancel)) in ops.iter().enumerate() {
                let id = if fifo { q.push_fifo(t, i) } else { q.push(t, i) };
                ids.push((id, cancel));
                if !cancel { reference.push((t, i)); }
            }
            for (id, cancel) in ids { if cancel { q.cancel(id); } }
            reference.sort_by_key(|&(t, i)| (t, i));
            let got: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
            prop_assert_eq!(got, reference);
        }

        /// Pops interleaved with pushes, as a run does, against a reference kept
        /// as a sorted set of (time, push index).
        #[test]
        fn interleaved_pops_agree_with_a_sorted_set(ops in proptest::collection::vec((0u64..1000, 0u8..4), 0..3000)) {
            let mut q = EventQueue::new();
            let mut reference = std::collections::BTreeSet::new();
            for (i, &(delay, op)) in ops.iter().enumerate() {
                if op == 0 {
                    let want = reference.pop_first();
                    prop_assert_eq!(q.pop(), want);
                } else {
                    let t = q.now() + delay;
                    if op == 1 { q.push_fifo(t, i); } else { q.push(t, i); }
                    reference.insert((t, i));
                }
            }
            let got: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
            prop_assert_eq!(got, reference.into_iter().collect::<Vec<_>>());
        }
    }
}
