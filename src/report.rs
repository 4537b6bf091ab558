//! The ranked-grid report that `byterank rank` prints, as data.

use byterank_core::grid::{Grid, GridSnapshot};
use byterank_core::indexes::RankedGrid;
use serde::Serialize;

/// One device's line of the report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankedDevice<'a> {
    /// Device id.
    pub id: &'a str,
    /// ByteRank, 1 is best; 0 when flagged.
    pub rank: u32,
    /// Capacity score.
    pub capacity: f64,
    /// Fault rate.
    pub fault_rate: f64,
    /// Flags raised, by name.
    pub flags: Vec<&'static str>,
}

/// Every device of a grid, best rank first, flagged devices last (in id order).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RankReport<'a> {
    /// The devices.
    pub devices: Vec<RankedDevice<'a>>,
}

impl<'a> RankReport<'a> {
    /// Lays out a ranked grid.
    pub fn new(grid: &'a Grid, ranked: &RankedGrid) -> RankReport<'a> {
        let line = |i: usize| {
            let ix = &ranked.indexes[i];
            RankedDevice {
                id: &grid.device(i).id,
                rank: ranked.ranking.rank(i),
                capacity: ix.capacity,
                fault_rate: ix.fault_rate,
                flags: ix.flags.iter().map(|f| f.name()).collect(),
            }
        };
        let active = ranked.ranking.order().iter().map(|&i| line(i as usize));
        let flagged = (0..grid.len()).filter(|&i| ranked.ranking.rank(i) == 0).map(line);
        RankReport { devices: active.chain(flagged).collect() }
    }
}
