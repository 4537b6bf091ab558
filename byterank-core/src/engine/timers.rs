//! The attempts' deadlines, earliest first: a binary heap in one array. New
//! deadlines come in nearly in time order, so a push rarely moves up the heap,
//! and a sweep of finished attempts' deadlines filters the array in place: no
//! tree nodes to allocate per deadline, nor a tree to rebuild per sweep.

use alloc::collections::BinaryHeap;
use core::cmp::Reverse;

use super::command::AttemptId;
use crate::time::Timestamp;

/// A deadline and its attempt; unique, since an attempt has one deadline.
pub(super) type Key = (Timestamp, AttemptId);

/// Equal when their arrays are: the same commands build the same heap, and a
/// snapshot keeps the array as it is (a valid heap is rebuilt unchanged).
#[derive(Clone, Debug, Default)]
pub(super) struct Timers(BinaryHeap<Reverse<Key>>);

impl PartialEq for Timers {
    fn eq(&self, other: &Timers) -> bool {
        self.0.as_slice() == other.0.as_slice()
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Timers {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.as_slice().iter().map(|k| k.0))
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Timers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Timers, D::Error> {
        let keys: alloc::vec::Vec<Key> = serde::Deserialize::deserialize(d)?;
        Ok(Timers(keys.into_iter().map(Reverse).collect::<alloc::vec::Vec<_>>().into()))
    }
}

impl Timers {
    pub fn push(&mut self, key: Key) {
        self.0.push(Reverse(key));
    }

    /// The earliest deadline.
    pub fn first(&self) -> Option<Key> {
        self.0.peek().map(|k| k.0)
    }

    pub fn pop_first(&mut self) -> Option<Key> {
        self.0.pop().map(|k| k.0)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Keeps only the keys `keep` says to keep.
    pub fn retain(&mut self, mut keep: impl FnMut(&Key) -> bool) {
        self.0.retain(|k| keep(&k.0));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn key(t: i64, a: u64) -> Key {
        (Timestamp(t), AttemptId(a))
    }

    #[test]
    fn earliest_first_after_removal() {
        let mut t = Timers::default();
        for (at, a) in [(5, 1), (3, 2), (9, 3), (3, 1), (7, 4)] {
            t.push(key(at, a));
        }
        let gone = [key(3, 2), key(7, 4), key(8, 8)];
        t.retain(|k| !gone.contains(k));
        assert_eq!(t.len(), 3);
        let order: Vec<Key> = core::iter::from_fn(|| t.pop_first()).collect();
        assert_eq!(order, [key(3, 1), key(5, 1), key(9, 3)]);
        assert!(t.is_empty() && t.first().is_none());
    }
}
