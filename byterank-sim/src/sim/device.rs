//! The device model: what a device is (its static [`Traits`]), how its battery and
//! temperature move ([`Physics`]), what it is doing ([`State`] flags and the
//! [`Running`] attempt), and what it did ([`Totals`]). One [`Dev`] per device, kept
//! small: a grid holds a million of them.

use std::marker::PhantomData;

use byterank_core::engine::AttemptId;

use crate::driver::DeviceId;
use crate::queue::SimTime;

/// One bit of a [`Flags`] set.
pub(super) trait Bit: Copy {
    /// The bit's mask.
    fn mask(self) -> u16;
}

/// A set of yes/no properties of type `F`, one bit each.
#[derive(Clone, Copy, Debug)]
pub(super) struct Flags<F> {
    bits: u16,
    kind: PhantomData<F>,
}

impl<F> Default for Flags<F> {
    fn default() -> Self {
        Flags { bits: 0, kind: PhantomData }
    }
}

impl<F: Bit> Flags<F> {
    pub(super) fn has(&self, f: F) -> bool {
        self.bits & f.mask() != 0
    }
    pub(super) fn set(&mut self, f: F, on: bool) {
        if on {
            self.bits |= f.mask();
        } else {
            self.bits &= !f.mask();
        }
    }
}

/// What a device is, for the whole run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Trait {
    /// Trusted by the operator.
    Trusted,
    /// A colluder: its wrong results agree with other colluders'.
    Colluder,
    /// Runs on a battery.
    Battery,
}

impl Bit for Trait {
    fn mask(self) -> u16 {
        1 << self as u16
    }
}

/// What a device is doing now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum State {
    /// Registered with the engine.
    Joined,
    /// Left the grid for good.
    Gone,
    /// In an online session.
    Online,
    /// Crashed, rebooting: silent.
    Crashed,
    /// Its battery is charging.
    Charging,
    /// Its measured state changed since the last report; a report is scheduled.
    Dirty,
}

impl Bit for State {
    fn mask(self) -> u16 {
        1 << self as u16
    }
}

/// The static part of a device: drawn once per grid, the same in every variant.
#[derive(Clone, Debug)]
pub(super) struct Traits {
    pub(super) flags: Flags<Trait>,
    /// Its position in [`crate::synth::DeviceProfile::ALL`].
    pub(super) profile: u8,
    /// Work seconds per second at full speed.
    pub(super) rate: f32,
    pub(super) down_mbps: f32,
    pub(super) up_mbps: f32,
    /// Probability that an attempt ends in an error report.
    pub(super) p_err: f32,
    /// Probability that an attempt goes silent for a while.
    pub(super) p_delay: f32,
    /// Probability that a result is wrong.
    pub(super) p_wrong: f32,
    /// Probability that a session starts charging.
    pub(super) p_charging: f32,
    /// Temperature when idle, °F.
    pub(super) base_temp: f32,
}

/// Battery and temperature, and what the engine was last told of them.
#[derive(Clone, Debug)]
pub(super) struct Physics {
    pub(super) battery: f32,
    pub(super) temp: f32,
    pub(super) rep_battery: f32,
    pub(super) rep_temp: f32,
    /// When `battery` and `temp` were brought up to date.
    pub(super) t_upd: SimTime,
    /// When the device last reported.
    pub(super) t_report: SimTime,
}

impl Physics {
    /// A device measured at `battery` % and `temp` °F.
    pub(super) fn new(battery: f32, temp: f32) -> Physics {
        Physics { battery, temp, rep_battery: battery, rep_temp: temp, t_upd: 0, t_report: 0 }
    }
}

/// What a result says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Answer {
    /// The right result.
    Honest,
    /// A wrong result of the device's own.
    Own,
    /// A colluders' wrong result, equal to every other colluder's.
    Colluded,
}

impl Answer {
    pub(super) fn is_wrong(self) -> bool {
        self != Answer::Honest
    }
}

/// How an attempt ends, unless a crash or the session cuts it short.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Ending {
    /// The device reports an error.
    Error,
    /// The device returns a result.
    Result(Answer),
}

/// Which of the engine's queues a copy came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Line {
    /// A planned copy.
    First,
    /// A copy from the rescue queue.
    Rescue,
}

/// The attempt a device is working on.
#[derive(Clone, Copy, Debug)]
pub(super) struct Running {
    pub(super) attempt: AttemptId,
    /// The job's index in the run.
    pub(super) job: u32,
    pub(super) task: u32,
    pub(super) line: Line,
    pub(super) ending: Ending,
    /// When it ends (by result or error).
    pub(super) end: SimTime,
    /// The silent gap `[from, to)` of a delayed attempt (empty if none).
    pub(super) gap_from: SimTime,
    pub(super) gap_to: SimTime,
    /// When it started.
    pub(super) since: SimTime,
}

/// What a device did over the run.
#[derive(Clone, Debug, Default)]
pub(super) struct Totals {
    pub(super) busy_ms: u64,
    pub(super) online_ms: u64,
    /// Attempts started (also the counter of the device's attempt streams).
    pub(super) attempts: u32,
    pub(super) results: u32,
    pub(super) wrong: u32,
    pub(super) errors: u32,
    pub(super) crashes: u32,
    pub(super) lost: u32,
    pub(super) earned: u64,
}

/// A simulated device.
#[derive(Clone, Debug)]
pub(super) struct Dev {
    pub(super) traits: Traits,
    pub(super) state: Flags<State>,
    /// The engine's handle, once joined.
    pub(super) engine: Option<DeviceId>,
    /// Bumped whenever what the device does changes: events carrying an older
    /// generation are stale and ignored.
    pub(super) gen: u32,
    /// Sessions started (the counter of the device's session streams).
    pub(super) sessions: u32,
    /// Empty answers to pulls (the counter of the poll jitter).
    pub(super) polls: u32,
    /// Empty answers since the last task (the back-off's exponent).
    pub(super) idle_polls: u8,
    /// When the current online stretch was last accounted.
    pub(super) t_online: SimTime,
    pub(super) phys: Physics,
    pub(super) running: Option<Running>,
    pub(super) totals: Totals,
}

impl Dev {
    /// A device that has not joined yet.
    pub(super) fn new(traits: Traits, phys: Physics, charging: bool) -> Dev {
        let mut state = Flags::default();
        state.set(State::Charging, charging);
        Dev {
            traits,
            state,
            engine: None,
            gen: 0,
            sessions: 0,
            polls: 0,
            idle_polls: 0,
            t_online: 0,
            phys,
            running: None,
            totals: Totals::default(),
        }
    }

    pub(super) fn is(&self, s: State) -> bool {
        self.state.has(s)
    }

    pub(super) fn has(&self, t: Trait) -> bool {
        self.traits.flags.has(t)
    }

    /// The engine's handle of a joined device.
    pub(super) fn handle(&self) -> DeviceId {
        self.engine.expect("a joined device")
    }

    pub(super) fn busy(&self) -> bool {
        self.running.is_some()
    }

    /// Joined, online, not gone and not rebooting: able to talk to the engine.
    pub(super) fn awake(&self) -> bool {
        self.is(State::Joined) && self.is(State::Online) && !self.is(State::Gone) && !self.is(State::Crashed)
    }
}
