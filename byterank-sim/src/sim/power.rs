//! Power and heat: a device's battery and temperature between two moments (closed
//! forms), the reports that tell the engine when they matter, and reboots.

use super::device::{State, Trait};
use super::run::{Ev, Sim};
use crate::queue::SimTime;

impl Sim<'_> {
    /// Battery and temperature from the last update to `now` (closed forms), and a
    /// report when they crossed a flag threshold or moved enough.
    pub(super) fn advance(&mut self, d: u32, now: SimTime) {
        let p = &self.p;
        let dev = &mut self.devs[d as usize];
        let dt = now.saturating_sub(dev.phys.t_upd) as f32;
        if dt <= 0.0 {
            return;
        }
        let working = dev.busy() && dev.awake();
        let (battery, charging) = (dev.has(Trait::Battery), dev.is(State::Charging));
        let (base_temp, ph) = (dev.traits.base_temp, &mut dev.phys);
        if battery {
            let per_h = if charging {
                p.charge
            } else if working {
                -p.drain_busy
            } else {
                -p.drain_idle
            };
            ph.battery = (ph.battery + per_h * dt / 3.6e6).clamp(1.0, 100.0);
        }
        let target = base_temp + if working { p.heat } else { 0.0 };
        ph.temp = target + (ph.temp - target) * (-dt / p.tau_ms).exp();
        ph.t_upd = now;
        let crossed = |a: f32, b: f32, th: f32| (a < th) != (b < th);
        if crossed(ph.battery, ph.rep_battery, p.min_battery)
            || (ph.battery - ph.rep_battery).abs() >= 10.0
            || crossed(ph.temp, ph.rep_temp, p.max_temp + 0.01)
            || (ph.temp - ph.rep_temp).abs() >= 5.0
        {
            self.mark_dirty(d, now);
        }
    }

    /// Schedules a report of the device's state, at most one per `report_s`.
    pub(super) fn mark_dirty(&mut self, d: u32, now: SimTime) {
        if self.devs[d as usize].is(State::Dirty) || !self.present(d) {
            return;
        }
        let dev = &mut self.devs[d as usize];
        dev.state.set(State::Dirty, true);
        let at = now.max(dev.phys.t_report + self.p.report_ms);
        self.q.push(at, Ev::Report(d));
    }

    pub(super) fn report(&mut self, d: u32, now: SimTime) {
        self.advance(d, now);
        let dev = &mut self.devs[d as usize];
        // A crashed device is silent: its report waits for the reboot.
        if dev.is(State::Gone) || !dev.is(State::Dirty) || dev.is(State::Crashed) {
            return;
        }
        dev.state.set(State::Dirty, false);
        let ph = &mut dev.phys;
        ph.t_report = now;
        ph.rep_battery = ph.battery;
        ph.rep_temp = ph.temp;
        let (battery, temp) = (ph.battery, ph.temp);
        let (online, charging) = (dev.is(State::Online), dev.is(State::Charging));
        let has_battery = dev.has(Trait::Battery);
        self.drv.report(now, dev.handle(), |s| {
            s.online = Some(online);
            if has_battery {
                s.battery_pct = Some(f64::from(battery.round()));
                s.charging = Some(charging);
            }
            s.temperature_f = Some(f64::from((temp * 10.0).round() / 10.0));
        });
    }

    /// The device is back from a crash: it reports what changed while it was
    /// silent, and asks for work if it can.
    pub(super) fn reboot(&mut self, d: u32, now: SimTime) {
        let dev = &mut self.devs[d as usize];
        dev.state.set(State::Crashed, false);
        if dev.is(State::Dirty) && !dev.is(State::Gone) {
            self.q.push(now, Ev::Report(d));
        }
        if self.devs[d as usize].awake() {
            self.wake(d, now, 0);
        }
    }
}
