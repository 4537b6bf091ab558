//! Pool queues. The engine keeps one queue of task copies per capacity pool of each
//! job, behind [`TaskQueue`], so an adapter can keep queues elsewhere (the paper keeps
//! them in Redis). [`MemQueue`] is the in-memory one.

use alloc::collections::VecDeque;

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
pub trait TaskQueue: Default {
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
    /// Whether no copy waits.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The in-memory pool queue.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(transparent))]
pub struct MemQueue(VecDeque<QueuedCopy>);

impl TaskQueue for MemQueue {
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
