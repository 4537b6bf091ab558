//! Time passing: heartbeat timers, the daily lottery, the ranking refresh every
//! 30 s of engine time (and at a submission, when devices changed since the last
//! one), and the liveness checks (`liveness.rs`).

use alloc::format;
use alloc::vec::Vec;

use super::command::DeviceId;
use super::event::Event;
use super::{Engine, JobStatus, Snapshot, View};
use crate::flags::Flags;
use crate::indexes::{rank_grid, Lottery, RankedGrid};
use crate::lottery::{draw, win_probability};
use crate::reliability::{FailureModel, GridRates, Track};
use crate::time::{Timestamp, DAY_MS, HOUR_MS};

impl Engine {
    pub(super) fn pass_time(&mut self, out: &mut Vec<Event>) {
        self.fire_timers(out);
        self.fire_job_deadlines(out);
        let day = self.now.millis().div_euclid(DAY_MS);
        let mut refresh = self.now >= self.next_refresh;
        if self.lottery_day != Some(day) {
            self.draw_lottery(day, out);
            refresh = true;
        }
        if refresh {
            let (order, ranked) = self.rank_at(self.now);
            self.install(order, ranked, out);
        }
        self.check_liveness(out);
    }

    pub(super) fn draw_lottery(&mut self, day: i64, out: &mut Vec<Event>) {
        self.lottery_day = Some(day);
        let order = self.devices.live_in_id_order();
        let now = self.now;
        let chances: Vec<f64> = order
            .iter()
            .map(|&d| {
                let e = self.devices.entry(d);
                let since = self.devices.hot(d).last_task().unwrap_or(e.registered);
                win_probability(Some((now.millis() - since.millis()) as f64 / HOUR_MS as f64), &self.cfg.index.lottery)
            })
            .collect();
        let seed = self.cfg.lottery_seed ^ (day as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        let mut winners = 0;
        for (&d, won) in order.iter().zip(draw(chances, seed)) {
            self.devices.set_lottery(d, won);
            winners += u32::from(won);
        }
        out.push(Event::LotteryDrawn { day, winners });
    }

    /// The ranking of the live devices as they are at `at`, changing nothing.
    pub(super) fn rank_at(&self, at: Timestamp) -> (Vec<DeviceId>, RankedGrid) {
        let order = self.devices.live_in_id_order();
        let view = View { devices: &self.devices, order: &order, now: at };
        let mut ranked = rank_grid(&view, &self.cfg.index, Lottery::Recorded);
        if self.cfg.plan.failure_model == FailureModel::Sessions {
            let prior = &self.cfg.plan.failure_prior;
            let tracks: Vec<Track> = order.iter().map(|&d| self.devices.track(d)).collect();
            let grid = GridRates::pool(&tracks, at, prior);
            ranked.reliability = tracks.iter().map(|t| grid.estimate(t, at, prior)).collect();
        }
        (order, ranked)
    }

    /// Makes a ranking the one in force: flags and ranks by device, then each
    /// running job re-planned if its pools changed, and jobs no device has
    /// qualified for since `starve_ms` failed.
    pub(super) fn install(&mut self, order: Vec<DeviceId>, ranked: RankedGrid, out: &mut Vec<Event>) {
        self.next_refresh = self.now.add_millis(self.cfg.refresh_ms);
        self.stale_ranking = false;
        let now = self.now;
        self.devices.stamp_hours(now);
        let n = self.devices.count();
        let mut rank = alloc::vec![0u32; n];
        let mut flags = alloc::vec![Flags::NONE; n];
        for (i, d) in order.iter().enumerate() {
            rank[d.0 as usize] = ranked.ranking.rank(i);
            flags[d.0 as usize] = ranked.indexes[i].flags;
        }
        for (d, f) in flags.iter().enumerate() {
            let before = self.snapshot.flags.get(d).copied().unwrap_or(Flags::NONE);
            let device = DeviceId(d as u32);
            if *f != before && self.devices.entry(device).live {
                out.push(Event::DeviceFlagged { device, flags: *f });
            }
        }
        let active = ranked.ranking.active() as u32;
        let best = libm::ceil(self.cfg.rescue_share * f64::from(active)) as u32;
        self.snapshot = Snapshot { order, ranked, rank, flags, best };
        out.push(Event::RankingRefreshed { active });
        for job in self.running.clone() {
            if self.jobs[job].status != JobStatus::Running || self.replan(job, out) {
                continue;
            }
            let since = *self.jobs[job].starving_since.get_or_insert(now);
            if now.millis() - since.millis() >= self.cfg.starve_ms {
                let reason = format!("no device has qualified for the job since {since}");
                self.end_job(job, JobStatus::Failed, reason, out);
            }
        }
    }
}
