//! The engine's record for the failure model against a model kept by the test
//! driver: random sessions, pulls, results, errors, silences and departures, and
//! after every command each device's counts as the documented rules give them
//! (docs/failure-model.md, "What the engine sees").

use std::collections::HashMap;

use byterank_core::application::{Chunk, Synthetic};
use byterank_core::device::Device;
use byterank_core::engine::{
    AttemptId, AttemptState, Command, CommandKind, DeviceId, Engine, EngineConfig, Event, JobId,
};
use byterank_core::job::JobSpec;
use byterank_core::reliability::Track;
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;
use proptest::prelude::*;

const DEVICES: usize = 4;

#[derive(Clone, Copy, Debug)]
enum Op {
    Pull(usize),
    Result(usize),
    Error(usize),
    Online(usize, bool),
    Leave(usize),
    Return(usize),
    Wait(i64),
}

fn op() -> impl Strategy<Value = Op> {
    let d = 0..DEVICES;
    prop_oneof![
        4 => d.clone().prop_map(Op::Pull),
        4 => d.clone().prop_map(Op::Result),
        1 => d.clone().prop_map(Op::Error),
        2 => (d.clone(), any::<bool>()).prop_map(|(d, b)| Op::Online(d, b)),
        1 => d.clone().prop_map(Op::Leave),
        1 => d.prop_map(Op::Return),
        3 => (1_000i64..400_000).prop_map(Op::Wait),
    ]
}

/// The driver's own account of one device.
#[derive(Default)]
struct Seen {
    live: bool,
    online: bool,
    since: Option<i64>,
    want: Track,
    /// Attempts it holds, with their start.
    held: Vec<(AttemptId, String, u32, i64)>,
}

impl Seen {
    fn open(&mut self, at: i64) {
        self.since.get_or_insert(at);
    }
    fn close(&mut self, at: i64) {
        if let Some(s) = self.since.take() {
            self.want.online_ms += (at - s) as u64;
            self.want.sessions_ended += 1;
        }
    }
}

struct Driver {
    engine: Engine,
    now: i64,
    seen: Vec<Seen>,
    ids: Vec<DeviceId>,
    jobs: u32,
    by_attempt: HashMap<AttemptId, usize>,
    names: HashMap<JobId, String>,
}

impl Driver {
    fn device(i: usize, online: bool) -> Device {
        Device { processor_score: Some(400.0), online: Some(online), ..Device::new(format!("d{i}")) }
    }

    fn apply(&mut self, kind: CommandKind) -> Vec<Event> {
        let mut out = Vec::new();
        let ok = self.engine.apply(&Command { at: Timestamp(self.now), kind }, &mut out).is_ok();
        assert!(ok || out.is_empty());
        // Attempts that ended without a result, by the device's state as the driver knows it.
        for e in &out {
            if let Event::AttemptChanged { attempt, state, .. } = e {
                let i = self.by_attempt[attempt];
                // A job that ends abandons its running attempts: no one's failure.
                let left = *state == AttemptState::Abandoned && !self.seen[i].live;
                if matches!(state, AttemptState::Failed | AttemptState::Stale) || left {
                    let s = &mut self.seen[i];
                    let lost = left || (*state == AttemptState::Stale && !s.online);
                    match lost {
                        true => s.want.lost += 1,
                        false => s.want.faults += 1,
                    }
                    s.held.retain(|h| h.0 != *attempt);
                }
                if matches!(state, AttemptState::Cancelled | AttemptState::Abandoned) {
                    self.seen[i].held.retain(|h| h.0 != *attempt);
                }
            }
        }
        if out.iter().any(|e| matches!(e, Event::JobCompleted { .. } | Event::JobFailed { .. })) {
            self.submit();
        }
        out
    }

    fn submit(&mut self) {
        self.jobs += 1;
        let mut job = JobSpec::new(format!("j{}", self.jobs), 40);
        job.price_chips = ByteChips(1000);
        job.pools.c_min = Some(0.0);
        job.pools.s_min = Some(1);
        let name = job.id.clone();
        for e in self.apply(CommandKind::SubmitJob { job, user: "u".into() }) {
            if let Event::JobAccepted { job, .. } = e {
                self.names.insert(job, name.clone());
            }
        }
    }

    fn step(&mut self, op: Op) {
        match op {
            Op::Wait(ms) => {
                self.now += ms;
                self.apply(CommandKind::Tick);
            }
            Op::Online(i, online) => {
                if !self.seen[i].live {
                    return;
                }
                self.apply(CommandKind::UpdateDevice { device: self.ids[i], state: Driver::device(i, online) });
                let (s, now) = (&mut self.seen[i], self.now);
                s.online = online;
                if online {
                    s.open(now)
                } else {
                    s.close(now)
                }
            }
            Op::Leave(i) => {
                if !self.seen[i].live {
                    return;
                }
                let (s, now) = (&mut self.seen[i], self.now);
                s.live = false;
                s.online = false;
                s.close(now);
                self.apply(CommandKind::RemoveDevice { device: self.ids[i] });
            }
            Op::Return(i) => {
                if self.seen[i].live {
                    return;
                }
                let device = Driver::device(i, true);
                self.apply(CommandKind::RegisterDevice { device, owner: "o".into() });
                let (s, now) = (&mut self.seen[i], self.now);
                (s.live, s.online) = (true, true);
                s.open(now);
            }
            Op::Pull(i) => {
                if !self.seen[i].live {
                    return;
                }
                for e in self.apply(CommandKind::Pull { device: self.ids[i] }) {
                    if let Event::TaskAssigned { attempt, task, job, .. } = e {
                        self.by_attempt.insert(attempt, i);
                        self.seen[i].held.push((attempt, self.names[&job].clone(), task, self.now));
                    }
                }
            }
            Op::Result(i) | Op::Error(i) => {
                let Some(&(attempt, ref job, task, started)) = self.seen[i].held.first() else { return };
                if !self.seen[i].live {
                    return;
                }
                let device = self.ids[i];
                let kind = match op {
                    Op::Error(_) => CommandKind::ReportError { device, attempt },
                    _ => {
                        let chunk = Chunk { index: task, offset: u64::from(task), len: 1 };
                        CommandKind::ReportResult { device, attempt, result: Synthetic::expected(job, &chunk) }
                    }
                };
                let out = self.apply(kind);
                let late = out.iter().any(|e| matches!(e, Event::AttemptChanged { attempt: a, state: AttemptState::Stale, .. } if *a == attempt));
                if matches!(op, Op::Result(_)) && !late && self.seen[i].held.iter().any(|h| h.0 == attempt) {
                    let s = &mut self.seen[i];
                    s.want.results += 1;
                    s.want.result_ms += (self.now - started) as u64;
                    s.held.retain(|h| h.0 != attempt);
                }
            }
        }
    }

    fn check(&self) {
        for (i, s) in self.seen.iter().enumerate() {
            let mut want = s.want;
            want.online_since = s.since;
            assert_eq!(self.engine.failure_track(self.ids[i]), Some(want), "device d{i}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn the_engine_counts_what_the_rules_say(ops in proptest::collection::vec(op(), 1..120)) {
        let mut d = Driver {
            engine: Engine::new(EngineConfig::default()).unwrap(),
            now: 1_795_662_000_000,
            seen: Vec::new(),
            ids: Vec::new(),
            jobs: 0,
            by_attempt: HashMap::new(),
            names: HashMap::new(),
        };
        for i in 0..DEVICES {
            let out = d.apply(CommandKind::RegisterDevice { device: Driver::device(i, true), owner: "o".into() });
            let Some(Event::DeviceRegistered { device, .. }) = out.first() else { panic!("{out:?}") };
            d.ids.push(*device);
            d.seen.push(Seen { live: true, online: true, since: Some(d.now), ..Seen::default() });
        }
        d.apply(CommandKind::Tick);
        d.submit();
        for op in ops {
            d.step(op);
            d.check();
        }
    }
}
