//! A job's pool number for every device, read by every pull: one byte a device
//! while the job uses fewer than 256 pools (the usual case), so that ten jobs'
//! maps at 100,000 devices take 1 MB of cache instead of 4.

use alloc::vec::Vec;

use super::command::DeviceId;

/// Pool number (1-based) of each device for a job; 0: not targeted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) enum PoolMap {
    Small(Vec<u8>),
    Large(Vec<u32>),
}

impl Default for PoolMap {
    fn default() -> Self {
        PoolMap::Small(Vec::new())
    }
}

impl PoolMap {
    /// The map of `pools` (pool 1 first) over `devices` handles.
    pub fn new(devices: usize, pools: &[Vec<DeviceId>]) -> PoolMap {
        fn fill<T: Copy + Default>(devices: usize, pools: &[Vec<DeviceId>], k: impl Fn(usize) -> T) -> Vec<T> {
            let mut map = alloc::vec![T::default(); devices];
            for (i, pool) in pools.iter().enumerate() {
                for d in pool {
                    map[d.0 as usize] = k(i + 1);
                }
            }
            map
        }
        if pools.len() <= usize::from(u8::MAX) {
            PoolMap::Small(fill(devices, pools, |k| k as u8))
        } else {
            PoolMap::Large(fill(devices, pools, |k| k as u32))
        }
    }

    /// The device's pool number; 0 when it is in none (or came after the plan).
    pub fn get(&self, device: DeviceId) -> u32 {
        let i = device.0 as usize;
        match self {
            PoolMap::Small(m) => m.get(i).map_or(0, |&k| u32::from(k)),
            PoolMap::Large(m) => m.get(i).copied().unwrap_or(0),
        }
    }

    /// Whether the device is in one of the job's pools.
    pub fn targets(&self, device: DeviceId) -> bool {
        self.get(device) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_large_maps_agree() {
        let pools: Vec<Vec<DeviceId>> = (0..300).map(|k| alloc::vec![DeviceId(k)]).collect();
        let large = PoolMap::new(400, &pools);
        let small = PoolMap::new(400, &pools[..3]);
        assert!(matches!(large, PoolMap::Large(_)) && matches!(small, PoolMap::Small(_)));
        assert_eq!((large.get(DeviceId(299)), large.get(DeviceId(300)), large.get(DeviceId(9_999))), (300, 0, 0));
        assert_eq!((small.get(DeviceId(2)), small.get(DeviceId(3))), (3, 0));
        assert!(small.targets(DeviceId(0)) && !small.targets(DeviceId(5)));
    }
}
