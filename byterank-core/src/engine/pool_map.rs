//! Each running job's pool number for every device, read by every pull.
//!
//! A pull asks the running jobs, in fair-share order, which of them has a copy
//! for the device, and most of those it asks do not target it. So the numbers are
//! kept in one [`PoolTable`], a row per device and a byte per job: a pull reads
//! one row, one cache line, however many jobs it asks. A job's [`PoolMap`] names
//! its column; a job with more than 255 pools keeps a map of its own instead.

use alloc::vec::Vec;

use super::command::DeviceId;

/// Where a job's pool numbers are.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) enum PoolMap {
    /// The job targets no device (it ended).
    #[default]
    None,
    /// A column of the [`PoolTable`].
    Column(u32),
    /// Its own map, by device handle: the job uses more than 255 pools.
    Large(Vec<u32>),
}

/// The pool numbers (1-based; 0: not targeted) of every job that has a column,
/// a row per device.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(super) struct PoolTable {
    /// Columns in a row: a power of two, so that a row never straddles more
    /// cache lines than it must.
    width: usize,
    /// Rows held (devices `0..rows`); later devices are in no pool.
    rows: usize,
    /// `cells[device * width + column]`.
    cells: Vec<u8>,
    /// Columns no job holds, the lowest last.
    free: Vec<u32>,
}

impl PoolTable {
    /// Points `map` at `pools` (pool 1 first) over `devices` handles, reusing its
    /// column when it has one.
    pub fn set(&mut self, map: &mut PoolMap, devices: usize, pools: &[Vec<DeviceId>]) {
        if pools.len() > usize::from(u8::MAX) {
            self.release(map);
            let mut own = alloc::vec![0; devices];
            for (k, pool) in pools.iter().enumerate() {
                for d in pool {
                    own[d.0 as usize] = k as u32 + 1;
                }
            }
            *map = PoolMap::Large(own);
            return;
        }
        let column = match *map {
            PoolMap::Column(c) => {
                self.clear(c);
                c
            }
            _ => self.take_column(),
        };
        self.grow_rows(devices);
        let c = column as usize;
        for (k, pool) in pools.iter().enumerate() {
            for d in pool {
                self.cells[d.0 as usize * self.width + c] = k as u8 + 1;
            }
        }
        *map = PoolMap::Column(column);
    }

    /// Gives back `map`'s column, if it has one; the job targets nothing after.
    pub fn release(&mut self, map: &mut PoolMap) {
        if let PoolMap::Column(c) = *map {
            self.clear(c);
            self.free.push(c);
        }
        *map = PoolMap::None;
    }

    /// The device's pool number in `map`; 0 when it is in none (or came after
    /// the plan).
    pub fn get(&self, map: &PoolMap, device: DeviceId) -> u32 {
        let i = device.0 as usize;
        match map {
            PoolMap::None => 0,
            PoolMap::Column(c) if i < self.rows => u32::from(self.cells[i * self.width + *c as usize]),
            PoolMap::Column(_) => 0,
            PoolMap::Large(own) => own.get(i).copied().unwrap_or(0),
        }
    }

    /// Asks the cache for the device's row ahead of its use.
    pub fn prefetch(&self, device: DeviceId) {
        super::prefetch::prefetch(self.cells.get(device.0 as usize * self.width));
    }

    /// Whether the device is in one of `map`'s pools.
    pub fn targets(&self, map: &PoolMap, device: DeviceId) -> bool {
        self.get(map, device) > 0
    }

    fn clear(&mut self, column: u32) {
        let c = column as usize;
        for row in self.cells.chunks_exact_mut(self.width) {
            row[c] = 0;
        }
    }

    fn take_column(&mut self) -> u32 {
        if let Some(c) = self.free.pop() {
            return c;
        }
        let width = (self.width * 2).max(8);
        let mut cells = alloc::vec![0; self.rows * width];
        if self.width > 0 {
            for (new, old) in cells.chunks_exact_mut(width).zip(self.cells.chunks_exact(self.width)) {
                new[..self.width].copy_from_slice(old);
            }
        }
        self.cells = cells;
        self.free.extend((self.width as u32..width as u32).rev());
        self.width = width;
        self.free.pop().expect("just grown")
    }

    fn grow_rows(&mut self, devices: usize) {
        if devices > self.rows {
            self.cells.resize(devices * self.width, 0);
            self.rows = devices;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The naive map: pool number by device, from the pools.
    fn naive(devices: usize, pools: &[Vec<DeviceId>]) -> Vec<u32> {
        let mut m = alloc::vec![0; devices];
        for (k, pool) in pools.iter().enumerate() {
            for d in pool {
                m[d.0 as usize] = k as u32 + 1;
            }
        }
        m
    }

    #[test]
    fn columns_and_own_maps_agree_with_the_pools() {
        let mut table = PoolTable::default();
        let many: Vec<Vec<DeviceId>> = (0..300).map(|k| alloc::vec![DeviceId(k)]).collect();
        let few = |n: u32, shift: u32| -> Vec<Vec<DeviceId>> {
            (0..n).map(|k| (0..4).map(|i| DeviceId((k * 4 + i + shift) % 400)).collect()).collect()
        };
        // Enough jobs to grow the row twice, one large, some ending on the way.
        let mut maps: Vec<(PoolMap, Vec<Vec<DeviceId>>, usize)> = Vec::new();
        for j in 0..20u32 {
            let (pools, devices) = if j == 3 { (many.clone(), 400) } else { (few(1 + j % 5, j * 7), 400 + j as usize) };
            let mut map = PoolMap::None;
            table.set(&mut map, devices, &pools);
            maps.push((map, pools, devices));
            if j % 6 == 5 {
                let (mut gone, _, _) = maps.remove(0);
                table.release(&mut gone);
                assert_eq!(gone, PoolMap::None);
            }
        }
        // A re-plan in place keeps the column and forgets the old pools.
        let (map, pools, devices) = &mut maps[2];
        let column = map.clone();
        *pools = few(2, 101);
        table.set(map, *devices, pools);
        assert_eq!(*map, column);
        assert!(maps.iter().any(|(m, _, _)| matches!(m, PoolMap::Large(_))));
        for (map, pools, devices) in &maps {
            let want = naive(*devices, pools);
            for d in 0..500u32 {
                assert_eq!(table.get(map, DeviceId(d)), want.get(d as usize).copied().unwrap_or(0), "device {d}");
            }
        }
        assert!(!table.targets(&PoolMap::None, DeviceId(0)));
    }
}
