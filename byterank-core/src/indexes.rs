//! The grid indexes of one snapshot (§3.3.2 of the paper) and the ByteRank they
//! produce: capacity score, fault rate, flags and lottery outcome for every device.

use alloc::vec::Vec;

use crate::capacity::{capacity_score, CapacityConfig};
use crate::device_view::DeviceView;
use crate::eligibility::EligibilityIndex;
use crate::flags::{flags, FlagConfig, Flags};
use crate::grid::GridSnapshot;
use crate::lottery::{draw, win_probability, LotteryConfig};
use crate::rank::{byte_rank, RankEntry, Ranking};
use crate::reliability::Reliability;

/// Every tunable constant of the grid indexes. `Default` gives the paper's values.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct IndexConfig {
    /// Table 7.
    pub capacity: CapacityConfig,
    /// Table 9, worker flags and the fault policy.
    pub flags: FlagConfig,
    /// Equation 3 and the lottery boost.
    pub lottery: LotteryConfig,
}

/// Where lottery winners come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lottery {
    /// Each device's `lottery_winner` field (the last draw, still valid).
    Recorded,
    /// A fresh daily draw with this seed (spec §6), replacing the recorded wins.
    Draw(u64),
}

/// The indexes of one device.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct DeviceIndexes {
    /// Capacity score, 1..=2700.
    pub capacity: f64,
    /// Fault rate, 0..=1.
    pub fault_rate: f64,
    /// Flags raised; any flag means rank 0.
    pub flags: Flags,
    /// Whether the device holds a lottery win.
    pub lottery_winner: bool,
}

/// Everything job-independent about a snapshot, computed once per ranking refresh:
/// each device's indexes, ByteRank, and the traits eligibility reads.
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct RankedGrid {
    /// The indexes of each device, by device index (ascending id order).
    pub indexes: Vec<DeviceIndexes>,
    /// ByteRank over them.
    pub ranking: Ranking,
    /// What eligibility checks, packed, by device index.
    pub eligibility: EligibilityIndex,
    /// The failure model's estimate of each device, by device index, when the
    /// snapshot comes with a history of attempts and sessions (the engine's);
    /// empty otherwise ([`crate::reliability`]).
    #[cfg_attr(feature = "serde", serde(default))]
    pub reliability: Vec<Reliability>,
}

/// Computes every device's indexes at the snapshot's instant.
pub fn compute_indexes<G: GridSnapshot + ?Sized>(grid: &G, cfg: &IndexConfig, lottery: Lottery) -> Vec<DeviceIndexes> {
    let now = grid.now();
    let mut out: Vec<DeviceIndexes> = (0..grid.len())
        .map(|i| {
            let d = grid.device(i);
            DeviceIndexes {
                capacity: capacity_score(&d, &cfg.capacity),
                fault_rate: d.faults().fault_rate(),
                flags: flags(&d, now, &cfg.flags),
                lottery_winner: d.lottery_winner(),
            }
        })
        .collect();
    if let Lottery::Draw(seed) = lottery {
        let chances = (0..grid.len()).map(|i| win_probability(grid.device(i).hours_since_last_task(), &cfg.lottery));
        for (ix, won) in out.iter_mut().zip(draw(chances, seed)) {
            ix.lottery_winner = won;
        }
    }
    out
}

/// Computes the indexes of a snapshot, ranks it, and packs its eligibility traits.
pub fn rank_grid<G: GridSnapshot + ?Sized>(grid: &G, cfg: &IndexConfig, lottery: Lottery) -> RankedGrid {
    let indexes = compute_indexes(grid, cfg, lottery);
    let entries: Vec<RankEntry> = indexes
        .iter()
        .map(|ix| RankEntry {
            capacity: ix.capacity,
            fault_rate: ix.fault_rate,
            flagged: ix.flags.any(),
            lottery_winner: ix.lottery_winner,
        })
        .collect();
    let ranking = byte_rank(&entries, cfg.lottery.boost);
    RankedGrid { indexes, ranking, eligibility: EligibilityIndex::new(grid), reliability: Vec::new() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::grid::Grid;
    use crate::time::Timestamp;

    #[test]
    fn ranks_a_small_grid() {
        let mut fast = Device::new("fast");
        fast.processor_score = Some(500.0);
        let mut off = Device::new("off");
        off.online = Some(false);
        off.processor_score = Some(500.0);
        let slow = Device { processor_score: Some(10.0), ..Device::new("slow") };
        let g = Grid::new(Timestamp::EPOCH, alloc::vec![slow, off, fast]).unwrap();
        let r = rank_grid(&g, &IndexConfig::default(), Lottery::Recorded);
        // Id order: fast, off, slow.
        assert_eq!(r.ranking.ranks(), &[1, 0, 2]);
        assert_eq!(r.indexes[0].capacity, 1000.0);
        assert!(r.indexes[1].flags.any());
    }

    #[test]
    fn a_seeded_draw_replaces_recorded_wins() {
        let devices = (0..2000)
            .map(|i| Device {
                hours_since_last_task: Some(12.0),
                lottery_winner: true,
                ..Device::new(alloc::format!("d{i:04}"))
            })
            .collect();
        let g = Grid::new(Timestamp::EPOCH, devices).unwrap();
        let cfg = IndexConfig::default();
        let a = compute_indexes(&g, &cfg, Lottery::Draw(1));
        let wins = a.iter().filter(|x| x.lottery_winner).count();
        assert!((50..=150).contains(&wins), "about 5% of 2000: {wins}");
        assert_eq!(a, compute_indexes(&g, &cfg, Lottery::Draw(1)));
        assert!(compute_indexes(&g, &cfg, Lottery::Recorded).iter().all(|x| x.lottery_winner));
    }
}
