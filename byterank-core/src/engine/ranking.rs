//! The ranking in force: what the engine planned and pulled with since its last
//! refresh, as adapters show it (an operator's grid, a device's own rank), so
//! that they read it instead of ranking again and never disagree with the engine.

use super::command::DeviceId;
use super::devices::Devices;
use crate::indexes::{DeviceIndexes, RankedGrid};

/// The ranking of the last refresh ([`Engine::ranking`](super::Engine::ranking)).
/// Devices registered since are not in it; devices removed since are left out.
/// A device's rank here is [`Engine::rank`](super::Engine::rank)'s.
#[derive(Clone, Copy, Debug)]
pub struct RankingInForce<'a> {
    pub(super) order: &'a [DeviceId],
    pub(super) ranked: &'a RankedGrid,
    pub(super) devices: &'a Devices,
}

/// One device of the ranking in force.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RankedDevice<'a> {
    /// The device.
    pub device: DeviceId,
    /// Its ByteRank (1 is the best; 0: flagged).
    pub rank: u32,
    /// Its indexes at the refresh.
    pub indexes: &'a DeviceIndexes,
}

impl<'a> RankingInForce<'a> {
    /// Devices ranked at the refresh (flagged ones included).
    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// Whether no device was ranked.
    pub fn is_empty(&self) -> bool {
        self.order.is_empty()
    }

    /// Devices with a rank (not flagged) at the refresh.
    pub fn active(&self) -> usize {
        self.ranked.ranking.active()
    }

    /// The devices still in the ranking (not removed since), best first, then
    /// the flagged ones in id order.
    pub fn iter(&self) -> impl Iterator<Item = RankedDevice<'a>> + 'a {
        let (order, ranked, devices) = (self.order, self.ranked, self.devices);
        let ranking = &ranked.ranking;
        let flagged = (0..order.len()).filter(move |&i| ranking.rank(i) == 0);
        ranking.order().iter().map(|&i| i as usize).chain(flagged).filter_map(move |i| {
            let device = order[i];
            devices.live(device).is_ok().then_some(RankedDevice {
                device,
                rank: ranking.rank(i),
                indexes: &ranked.indexes[i],
            })
        })
    }
}
