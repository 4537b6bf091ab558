//! Pool queues. The engine keeps one queue of task copies per capacity pool of each
//! job, behind [`TaskQueue`], so an adapter can keep queues elsewhere (the paper keeps
//! them in Redis). [`MemQueue`] is the in-memory one.
//!
//! The engine gets each queue from the queue type's [`QueueMaker`], which the host
//! gives it ([`Engine::with_queues`](super::Engine::with_queues)): a queue that holds
//! a client handle cannot be made from nothing. The maker is code, not state: it is
//! not in snapshots, and a host puts it back after restoring one
//! ([`Engine::set_queue_maker`](super::Engine::set_queue_maker)).
//!
//! The queue methods cannot fail. The engine is a deterministic state machine
//! replayed from its journal: a command either is refused before anything changes
//! or runs to its end. A queue kept in a remote store is therefore a write-through
//! mirror: it answers from the copies it holds and buffers or retries its writes to
//! the store itself, rather than fail a command midway.

use alloc::collections::VecDeque;

use super::command::JobId;

/// A copy of a task waiting in a pool queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct QueuedCopy {
    /// The task (chunk index).
    pub task: u32,
    /// The copy's replica number.
    pub replica: u32,
}

/// A FIFO of task copies.
pub trait TaskQueue: Sized {
    /// What makes this type's queues.
    type Maker: QueueMaker<Self> + Clone;

    /// The maker an engine restored from a snapshot starts with. `None` (the
    /// default) until the host puts its own back with
    /// [`Engine::set_queue_maker`](super::Engine::set_queue_maker); a queue type
    /// whose maker holds nothing (like [`MemQueue`]'s) returns it here, so restored
    /// engines need nothing more.
    fn restored_maker() -> Option<Self::Maker> {
        None
    }

    /// Appends a copy.
    fn push_back(&mut self, copy: QueuedCopy);
    /// Removes and returns the first of the first `window` copies that `take`
    /// accepts, leaving the others in order; `None` when none does.
    fn take_first(&mut self, window: usize, take: &mut dyn FnMut(QueuedCopy) -> bool) -> Option<QueuedCopy>;
    /// Keeps only the copies `keep` accepts, in order.
    fn retain(&mut self, keep: &mut dyn FnMut(QueuedCopy) -> bool);
    /// Removes and returns every copy, in order.
    fn drain_all(&mut self) -> alloc::vec::Vec<QueuedCopy>;
    /// Copies waiting.
    fn len(&self) -> usize;
    /// The first copy, where the queue holds it at hand (the default: `None`).
    /// Only a hint: the engine asks the cache for that task's record, which the
    /// next pull from this queue is likely to read.
    fn front(&self) -> Option<QueuedCopy> {
        None
    }
    /// Whether no copy waits.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Makes a job's pool queues: one for each pool the job uses (0-based), when the
/// job is accepted and when a re-plan gives it more pools. A queue the engine no
/// longer needs (its job released, or its pool dropped by a re-plan, its copies
/// moved to the others first) is dropped.
///
/// Any `FnMut(JobId, u32) -> Q` is one.
pub trait QueueMaker<Q> {
    /// An empty queue for pool `pool` of `job`.
    fn make(&mut self, job: JobId, pool: u32) -> Q;
}

impl<Q, F: FnMut(JobId, u32) -> Q> QueueMaker<Q> for F {
    fn make(&mut self, job: JobId, pool: u32) -> Q {
        self(job, pool)
    }
}

/// The in-memory pool queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct MemQueue(VecDeque<QueuedCopy>);

/// Makes empty [`MemQueue`]s.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MemQueueMaker;

impl QueueMaker<MemQueue> for MemQueueMaker {
    fn make(&mut self, _job: JobId, _pool: u32) -> MemQueue {
        MemQueue::default()
    }
}

impl TaskQueue for MemQueue {
    type Maker = MemQueueMaker;

    fn restored_maker() -> Option<MemQueueMaker> {
        Some(MemQueueMaker)
    }

    fn push_back(&mut self, copy: QueuedCopy) {
        self.0.push_back(copy);
    }

    fn take_first(&mut self, window: usize, take: &mut dyn FnMut(QueuedCopy) -> bool) -> Option<QueuedCopy> {
        let pos = self.0.iter().take(window).position(|c| take(*c))?;
        self.0.remove(pos)
    }

    fn retain(&mut self, keep: &mut dyn FnMut(QueuedCopy) -> bool) {
        self.0.retain(|c| keep(*c));
    }

    fn drain_all(&mut self) -> alloc::vec::Vec<QueuedCopy> {
        self.0.drain(..).collect()
    }

    fn len(&self) -> usize {
        self.0.len()
    }

    fn front(&self) -> Option<QueuedCopy> {
        self.0.front().copied()
    }
}

/// The engine's queue maker: code, not state, so it is equal to any other, shown
/// as a placeholder, and not in snapshots (a restored engine starts with
/// [`TaskQueue::restored_maker`]).
pub(super) struct MakerSlot<Q: TaskQueue>(Option<Q::Maker>);

impl<Q: TaskQueue> MakerSlot<Q> {
    pub fn new(maker: Q::Maker) -> Self {
        MakerSlot(Some(maker))
    }

    /// The slot of a restored engine.
    #[cfg(feature = "serde")]
    pub fn restored() -> Self {
        MakerSlot(Q::restored_maker())
    }

    pub fn set(&mut self, maker: Q::Maker) {
        self.0 = Some(maker);
    }

    pub fn is_set(&self) -> bool {
        self.0.is_some()
    }

    /// The maker; the engine checks it is set before any command.
    pub fn get(&mut self) -> &mut Q::Maker {
        self.0.as_mut().expect("checked at the start of the command")
    }
}

impl<Q: TaskQueue> Clone for MakerSlot<Q> {
    fn clone(&self) -> Self {
        MakerSlot(self.0.clone())
    }
}

impl<Q: TaskQueue> PartialEq for MakerSlot<Q> {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

impl<Q: TaskQueue> core::fmt::Debug for MakerSlot<Q> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(if self.is_set() { "QueueMaker" } else { "QueueMaker (not set)" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_the_first_acceptable_within_the_window() {
        let mut q = MemQueue::default();
        for task in 0..5 {
            q.push_back(QueuedCopy { task, replica: 0 });
        }
        assert_eq!(q.take_first(3, &mut |c| c.task == 2), Some(QueuedCopy { task: 2, replica: 0 }));
        assert_eq!(q.take_first(3, &mut |c| c.task == 4), None, "outside the window");
        assert_eq!(q.len(), 4);
        q.retain(&mut |c| c.task != 0);
        assert_eq!(q.drain_all().iter().map(|c| c.task).collect::<alloc::vec::Vec<_>>(), [1, 3, 4]);
        assert!(q.is_empty());
    }
}
