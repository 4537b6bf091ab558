//! One job's pool queues (spec §10): a queue of task copies per used pool, an
//! index of the pools that hold copies, and how many copies wait, so that a pull
//! goes straight to the nearest pool with work instead of walking empty ones.

use alloc::collections::{BTreeSet, VecDeque};
use alloc::vec::Vec;

/// A copy of a task waiting in a pool queue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct QueuedCopy {
    /// The task (chunk index).
    pub task: u32,
    /// The copy's replica number.
    pub replica: u32,
}

#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct PoolQueues {
    /// One FIFO of copies per used pool, pool 1 first.
    queues: Vec<VecDeque<QueuedCopy>>,
    /// Pools (0-based) whose queue holds copies.
    nonempty: BTreeSet<u32>,
    waiting: u64,
}

impl PoolQueues {
    /// Empty queues for `pools` pools.
    pub fn new(pools: usize) -> Self {
        PoolQueues { queues: (0..pools).map(|_| VecDeque::new()).collect(), ..PoolQueues::default() }
    }

    /// Copies waiting, withdrawn ones not yet dropped included.
    #[inline]
    pub fn waiting(&self) -> u64 {
        self.waiting
    }

    #[inline]
    pub fn push(&mut self, pool: usize, copy: QueuedCopy) {
        self.queues[pool].push_back(copy);
        self.nonempty.insert(pool as u32);
        self.waiting += 1;
    }

    /// The first copy `take` accepts among the first `window` of a queue, from the
    /// nearest pool at or after `from` that has one; with its pool. Copies met on
    /// the way that `take` refuses and `dead` (asked with their pool) says no
    /// device of their pool may take are removed into `dropped`.
    #[inline]
    pub fn take_from(
        &mut self,
        from: usize,
        window: usize,
        take: &mut dyn FnMut(QueuedCopy) -> bool,
        dead: &mut dyn FnMut(usize, QueuedCopy) -> bool,
        dropped: &mut Vec<QueuedCopy>,
    ) -> Option<(usize, QueuedCopy)> {
        let mut next = from as u32;
        while let Some(&k) = self.nonempty.range(next..).next() {
            let q = &mut self.queues[k as usize];
            let (mut i, mut seen, mut found) = (0, 0, None);
            while seen < window && i < q.len() {
                let c = q[i];
                seen += 1;
                if take(c) {
                    found = q.remove(i);
                    break;
                }
                if dead(k as usize, c) {
                    q.remove(i);
                    self.waiting -= 1;
                    dropped.push(c);
                } else {
                    i += 1;
                }
            }
            if q.is_empty() {
                self.nonempty.remove(&k);
            }
            if let Some(c) = found {
                self.waiting -= 1;
                return Some((k as usize, c));
            }
            next = k + 1;
        }
        None
    }

    /// The first copy of pool `pool`'s queue.
    #[inline]
    pub fn front(&self, pool: usize) -> Option<QueuedCopy> {
        self.queues.get(pool)?.front().copied()
    }

    /// Removes and returns every copy, pool by pool.
    pub fn drain_all(&mut self) -> Vec<QueuedCopy> {
        self.nonempty.clear();
        self.waiting = 0;
        self.queues.iter_mut().flat_map(|q| q.drain(..)).collect()
    }

    /// Keeps `pools` queues: those past it are emptied and their copies
    /// returned, and new ones are empty.
    pub fn resize(&mut self, pools: usize) -> Vec<QueuedCopy> {
        let moved: Vec<QueuedCopy> = self.queues.iter_mut().skip(pools).flat_map(|q| q.drain(..)).collect();
        self.queues.resize_with(pools, VecDeque::new);
        self.nonempty.retain(|&k| (k as usize) < pools);
        self.waiting -= moved.len() as u64;
        moved
    }

    /// Checks the count of waiting copies and the index of pools holding copies
    /// against the queues.
    pub fn audit(&self) -> Result<(), alloc::string::String> {
        let waiting: usize = self.queues.iter().map(VecDeque::len).sum();
        if waiting as u64 != self.waiting {
            return Err(alloc::format!("{waiting} copies wait in its queues, but {} are counted", self.waiting));
        }
        for (k, q) in self.queues.iter().enumerate() {
            if q.is_empty() == self.nonempty.contains(&(k as u32)) {
                return Err(alloc::format!("pool {k}'s queue is listed as holding copies wrongly"));
            }
        }
        if self.nonempty.iter().any(|&k| k as usize >= self.queues.len()) {
            return Err("a pool it does not use is listed as holding copies".into());
        }
        Ok(())
    }

    /// Every waiting copy with its pool, in queue order.
    pub fn iter(&self) -> impl Iterator<Item = (usize, QueuedCopy)> + '_ {
        self.queues.iter().enumerate().flat_map(|(k, q)| q.iter().map(move |&c| (k, c)))
    }
}
