//! Churn: devices joining and leaving the grid, and their online and offline
//! sessions (exponential or Weibull lengths from each device's own streams).

use rand::Rng as _;

use super::device::State;
use super::run::{Ev, Sim};
use super::streams::{stream, unit, Purpose};
use crate::queue::SimTime;
use crate::scenario::ChurnModel;

/// A session length with this mean from a uniform draw `u`: Weibull with this
/// shape, or exponential.
pub(super) fn weibull_or_exp(model: ChurnModel, mean: f64, shape: f64, u: f64) -> f64 {
    let e = -(1.0 - u).ln();
    match model {
        ChurnModel::Weibull => {
            let scale = mean / statrs::function::gamma::gamma(1.0 + 1.0 / shape);
            scale * e.powf(1.0 / shape)
        }
        _ => mean * e,
    }
}

impl Sim<'_> {
    /// The length (ms) of device `d`'s `n`-th session, online or offline, and
    /// whether it charges during it.
    fn session_len(&self, d: u32, n: u32, on: bool) -> (u64, bool) {
        let mut r = stream(self.p.seed, d, Purpose::Session, n);
        let (u, c) = (r.random::<f64>(), r.random::<f64>());
        let mean = if on { self.p.on_mean_ms } else { self.p.off_mean_ms };
        let len = weibull_or_exp(self.p.churn, mean, self.p.shape, u).max(1000.0) as u64;
        (len, c < f64::from(self.devs[d as usize].traits.p_charging))
    }

    pub(super) fn join(&mut self, d: u32, now: SimTime) {
        let online = match self.p.churn {
            ChurnModel::None => self.world.devices[d as usize].device.online != Some(false),
            _ => {
                let mut r = stream(self.p.seed, d, Purpose::Session, u32::MAX);
                r.random::<f64>() < self.p.on_mean_ms / (self.p.on_mean_ms + self.p.off_mean_ms)
            }
        };
        let mut device = self.world.devices[d as usize].device.clone();
        device.online = Some(online);
        let trusted = self.devs[d as usize].has(super::device::Trait::Trusted);
        let handle = self.drv.register(now, device, format!("owner-{}", d + 1), trusted);
        let idx = handle.0 as usize;
        if self.by_engine.len() <= idx {
            self.by_engine.resize(idx + 1, u32::MAX);
        }
        self.by_engine[idx] = d;
        let dev = &mut self.devs[d as usize];
        dev.engine = Some(handle);
        dev.state.set(State::Joined, true);
        dev.state.set(State::Online, online);
        dev.phys.t_upd = now;
        dev.phys.t_report = now;
        dev.t_online = now;
        if self.p.churn != ChurnModel::None {
            let (len, _) = self.session_len(d, 0, online);
            self.devs[d as usize].sessions = 1;
            self.q.push(now + len, if online { Ev::SessionOff(d) } else { Ev::SessionOn(d) });
        }
        if online {
            let jitter = (unit(self.p.seed, d, u32::MAX) * self.p.poll_ms) as u64;
            self.wake(d, now, jitter);
        }
    }

    pub(super) fn leave(&mut self, d: u32, now: SimTime) {
        if !self.present(d) {
            return;
        }
        self.drop_attempt(d, now);
        self.account_online(d, now);
        let dev = &mut self.devs[d as usize];
        dev.state.set(State::Gone, true);
        dev.gen += 1;
        let handle = dev.handle();
        self.drive(now, |drv, n| drv.remove(now, handle, n));
    }

    pub(super) fn session_on(&mut self, d: u32, now: SimTime) {
        let n = self.devs[d as usize].sessions;
        let (len, charging) = self.session_len(d, n, true);
        if self.devs[d as usize].is(State::Gone) {
            return;
        }
        self.advance(d, now);
        let dev = &mut self.devs[d as usize];
        dev.sessions += 1;
        dev.state.set(State::Online, true);
        dev.state.set(State::Charging, charging);
        dev.t_online = now;
        self.q.push(now + len, Ev::SessionOff(d));
        self.mark_dirty(d, now);
        if self.devs[d as usize].awake() {
            self.wake(d, now, 0);
        }
    }

    pub(super) fn session_off(&mut self, d: u32, now: SimTime) {
        if self.devs[d as usize].is(State::Gone) {
            return;
        }
        let n = self.devs[d as usize].sessions;
        let (len, _) = self.session_len(d, n, false);
        self.drop_attempt(d, now);
        self.account_online(d, now);
        let dev = &mut self.devs[d as usize];
        dev.sessions += 1;
        dev.state.set(State::Online, false);
        dev.gen += 1;
        self.q.push(now + len, Ev::SessionOn(d));
        self.mark_dirty(d, now);
    }

    /// Adds the online time up to `now` to the device's totals.
    pub(super) fn account_online(&mut self, d: u32, now: SimTime) {
        let dev = &mut self.devs[d as usize];
        if dev.is(State::Online) && dev.is(State::Joined) && !dev.is(State::Gone) {
            dev.totals.online_ms += now.saturating_sub(dev.t_online);
            let to = if self.closing { SimTime::MAX } else { now };
            if to > dev.t_online {
                self.online_log.push((d, dev.t_online, to));
            }
            dev.t_online = now;
        }
    }

    /// Schedules a pull `delay` ms from now.
    pub(super) fn wake(&mut self, d: u32, now: SimTime, delay: u64) {
        let dev = &mut self.devs[d as usize];
        dev.gen += 1;
        self.q.push(now + delay, Ev::Poll(d, dev.gen));
    }
}
