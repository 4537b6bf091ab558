//! One job's pool queues (spec §10): a queue of task copies per used pool, an
//! index of the pools that hold copies, and how many copies wait, so that a pull
//! goes straight to the nearest pool with work instead of walking empty ones.

use alloc::collections::BTreeSet;
use alloc::vec::Vec;

use super::command::JobId;
use super::queue::{QueueMaker, QueuedCopy, TaskQueue};

#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct PoolQueues<Q> {
    queues: Vec<Q>,
    /// Pools (0-based) whose queue holds copies.
    nonempty: BTreeSet<u32>,
    waiting: u64,
}

impl<Q> Default for PoolQueues<Q> {
    fn default() -> Self {
        PoolQueues { queues: Vec::new(), nonempty: BTreeSet::new(), waiting: 0 }
    }
}

impl<Q: TaskQueue> PoolQueues<Q> {
    /// Empty queues for `pools` pools of `job`, from `maker`.
    pub fn new(job: JobId, pools: usize, maker: &mut Q::Maker) -> Self {
        PoolQueues { queues: (0..pools as u32).map(|k| maker.make(job, k)).collect(), ..PoolQueues::default() }
    }

    /// Copies waiting, withdrawn ones not yet dropped included.
    pub fn waiting(&self) -> u64 {
        self.waiting
    }

    pub fn push(&mut self, pool: usize, copy: QueuedCopy) {
        self.queues[pool].push_back(copy);
        self.nonempty.insert(pool as u32);
        self.waiting += 1;
    }

    /// The first copy `take` accepts among the first `window` of a queue, from the
    /// nearest pool at or after `from` that has one; with its pool.
    pub fn take_from(
        &mut self,
        from: usize,
        window: usize,
        take: &mut dyn FnMut(QueuedCopy) -> bool,
    ) -> Option<(usize, QueuedCopy)> {
        let mut next = from as u32;
        while let Some(&k) = self.nonempty.range(next..).next() {
            let q = &mut self.queues[k as usize];
            if let Some(c) = q.take_first(window, take) {
                if q.is_empty() {
                    self.nonempty.remove(&k);
                }
                self.waiting -= 1;
                return Some((k as usize, c));
            }
            next = k + 1;
        }
        None
    }

    /// The first copy of pool `pool`'s queue, if the queue tells ([`TaskQueue::front`]).
    pub fn front(&self, pool: usize) -> Option<QueuedCopy> {
        self.queues.get(pool)?.front()
    }

    /// Removes and returns every copy, pool by pool.
    pub fn drain_all(&mut self) -> Vec<QueuedCopy> {
        self.nonempty.clear();
        self.waiting = 0;
        self.queues.iter_mut().flat_map(|q| q.drain_all()).collect()
    }

    /// Keeps `pools` queues of `job`: those past it are emptied and their copies
    /// returned, and new ones come from `maker`.
    pub fn resize(&mut self, job: JobId, pools: usize, maker: &mut Q::Maker) -> Vec<QueuedCopy> {
        let moved: Vec<QueuedCopy> = self.queues.iter_mut().skip(pools).flat_map(|q| q.drain_all()).collect();
        self.queues.truncate(pools);
        for k in self.queues.len()..pools {
            self.queues.push(maker.make(job, k as u32));
        }
        self.nonempty.retain(|&k| (k as usize) < pools);
        self.waiting -= moved.len() as u64;
        moved
    }

    /// Visits every waiting copy with its pool, in queue order.
    pub fn visit(&mut self, f: &mut dyn FnMut(usize, QueuedCopy)) {
        for (k, q) in self.queues.iter_mut().enumerate() {
            q.retain(&mut |c| {
                f(k, c);
                true
            });
        }
    }
}
