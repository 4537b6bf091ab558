//! The typed helpers: each is exactly its command (the same state and events as
//! `Engine::apply` of it), and each refuses a bad call with its own error, which
//! is `apply`'s for the same command, leaving the engine unchanged.

use std::fmt::Debug;

use byterank_core::application::Synthetic;
use byterank_core::device::Device;
use byterank_core::engine::{
    replay, AttemptError, AttemptId, CancelError, Command, CommandKind, DeviceGone, DeviceId, Engine, EngineError,
    Event, JobId, OperatorError, PullError, Pulled, RegisterError, ReleaseError, RemoveError, SubmitError, TimeError,
    UnknownDevice, UnknownJob, UpdateError,
};
use byterank_core::job::JobSpec;
use byterank_core::time::Timestamp;

const T: Timestamp = Timestamp(1_795_662_000_000);

fn gone_unknown(device: DeviceId) -> DeviceGone {
    UnknownDevice { device }.into()
}

fn removed(device: DeviceId, id: &str) -> DeviceGone {
    DeviceGone::Removed { device, id: id.into() }
}

/// An engine driven through the helpers, with every command they stand for.
struct Fixture {
    engine: Engine,
    log: Vec<Command>,
    events: Vec<Event>,
    /// Live; holds `held`.
    d0: DeviceId,
    /// Removed.
    d1: DeviceId,
    /// Live; its attempt `ended` failed.
    d2: DeviceId,
    /// Running, at r = 1 over two tasks.
    running: JobId,
    /// Cancelled.
    cancelled: JobId,
    held: AttemptId,
    ended: AttemptId,
}

impl Fixture {
    fn new() -> Fixture {
        let mut engine = Engine::default();
        let mut log = Vec::new();
        let mut events = Vec::new();
        let mut at = |kind| log.push(Command { at: T, kind });
        let mut d = Vec::new();
        for id in ["d0", "d1", "d2"] {
            let device = Device { processor_score: Some(300.0), ..Device::new(id) };
            d.push(engine.register_device(T, device.clone(), "ops").unwrap());
            at(CommandKind::RegisterDevice { device, owner: "ops".into() });
        }
        let (d0, d1, d2) = (d[0], d[1], d[2]);
        engine.set_trust(T, d0, true).unwrap();
        at(CommandKind::SetTrust { device: d0, trusted: true });
        let state = Device { processor_score: Some(320.0), ..Device::new("d2") };
        engine.update_device(T, d2, state.clone()).unwrap();
        at(CommandKind::UpdateDevice { device: d2, state });

        let job = JobSpec::new("running", 3);
        let running = engine.submit_job(T, job.clone(), "alice", &mut events).unwrap();
        at(CommandKind::SubmitJob { job, user: "alice".into() });
        let mut pull = |engine: &mut Engine, device| {
            let pulled = engine.pull(T, device).unwrap();
            at(CommandKind::Pull { device });
            match pulled {
                Pulled::Task { attempt, .. } => attempt,
                Pulled::Nothing(why) => panic!("{device:?} got nothing: {why:?}"),
            }
        };
        let held = pull(&mut engine, d0);
        let ended = pull(&mut engine, d2);
        let gone = pull(&mut engine, d1);
        let mut at = |kind| log.push(Command { at: T, kind });
        engine.heartbeat(T, d0, held, &mut events).unwrap();
        at(CommandKind::Heartbeat { device: d0, attempt: held });
        engine.report_failure(T, d2, ended, &mut events).unwrap();
        at(CommandKind::ReportError { device: d2, attempt: ended });
        engine.remove_device(T, d1, &mut events).unwrap();
        at(CommandKind::RemoveDevice { device: d1 });
        let _ = gone;
        engine.reset_history(T, d1).unwrap();
        at(CommandKind::ResetHistory { device: d1 });

        let job = JobSpec::new("cancelled", 1);
        let cancelled = engine.submit_job(T, job.clone(), "bob", &mut events).unwrap();
        at(CommandKind::SubmitJob { job, user: "bob".into() });
        engine.cancel_job(T, cancelled, &mut events).unwrap();
        at(CommandKind::CancelJob { job: cancelled });
        engine.resume(T.add_millis(500)).unwrap();
        log.push(Command { at: T.add_millis(500), kind: CommandKind::Resume });
        engine.tick(T.add_millis(1_000), &mut events).unwrap();
        log.push(Command { at: T.add_millis(1_000), kind: CommandKind::Tick });
        Fixture { engine, log, events, d0, d1, d2, running, cancelled, held, ended }
    }

    fn at(&self) -> Timestamp {
        self.engine.now()
    }

    /// `call` (a helper) is refused with `expected`, changing nothing and
    /// appending nothing; `apply` of `kind` is refused the same way.
    fn refused<T: Debug, E>(
        &mut self,
        kind: CommandKind,
        call: impl FnOnce(&mut Engine, &mut Vec<Event>) -> Result<T, E>,
        expected: E,
    ) where
        E: Clone + Debug + PartialEq + std::error::Error + Into<EngineError>,
    {
        self.refused_at(self.at(), kind, call, expected);
    }

    fn refused_at<T: Debug, E>(
        &mut self,
        at: Timestamp,
        kind: CommandKind,
        call: impl FnOnce(&mut Engine, &mut Vec<Event>) -> Result<T, E>,
        expected: E,
    ) where
        E: Clone + Debug + PartialEq + std::error::Error + Into<EngineError>,
    {
        let before = self.engine.clone();
        let mut out = Vec::new();
        let error = call(&mut self.engine, &mut out).expect_err("a bad call");
        assert_eq!(error, expected);
        assert!(self.engine == before, "{error:?} changed the engine");
        assert!(out.is_empty(), "{error:?} appended {out:?}");
        let message = error.to_string();
        assert!(message.contains(": "), "`{message}` says what to do");
        let mut twin = before.clone();
        let by_apply = twin.apply(&Command { at, kind }, &mut out);
        assert_eq!(by_apply, Err(expected.into()), "apply refuses the command the same way");
        assert!(twin == before);
    }
}

#[test]
fn the_helpers_are_their_commands() {
    let f = Fixture::new();
    let mut twin = Engine::default();
    let events = replay(&mut twin, &f.log).unwrap();
    assert!(twin == f.engine, "the same state");
    // A registration and a pull answer with a value instead of their one event.
    let answered =
        |e: &Event| matches!(e, Event::DeviceRegistered { .. } | Event::TaskAssigned { .. } | Event::NoTask { .. });
    let events: Vec<Event> = events.into_iter().filter(|e| !answered(e)).collect();
    assert_eq!(events, f.events, "the same events");
    assert!(events.iter().any(|e| matches!(e, Event::JobCancelled { .. })), "{events:?}");
}

#[test]
fn a_command_from_the_past_or_out_of_range_is_refused_by_every_helper() {
    let mut f = Fixture::new();
    let now = f.at();
    let past = Timestamp(now.millis() - 1);
    let went_back = TimeError::WentBack { now, at: past };
    f.refused_at(past, CommandKind::Tick, |e, out| e.tick(past, out), went_back.clone());
    f.refused_at(past, CommandKind::Resume, |e, _| e.resume(past), went_back.clone());
    let (d0, held) = (f.d0, f.held);
    f.refused_at(past, CommandKind::Pull { device: d0 }, |e, _| e.pull(past, d0), PullError::Time(went_back.clone()));
    f.refused_at(
        past,
        CommandKind::Heartbeat { device: d0, attempt: held },
        |e, out| e.heartbeat(past, d0, held, out),
        AttemptError::Time(went_back.clone()),
    );
    let job = JobSpec::new("late", 1);
    f.refused_at(
        past,
        CommandKind::SubmitJob { job: job.clone(), user: "u".into() },
        |e, out| e.submit_job(past, job, "u", out),
        SubmitError::Time(went_back),
    );
    let far = Timestamp(Timestamp::MAX.millis() + 1);
    let device = Device::new("d9");
    f.refused_at(
        far,
        CommandKind::RegisterDevice { device: device.clone(), owner: "o".into() },
        |e, _| e.register_device(far, device, "o"),
        RegisterError::Time(TimeError::OutOfRange { ms: far.millis() }),
    );
}

#[test]
fn device_helpers_refuse_with_their_own_errors() {
    let mut f = Fixture::new();
    let (at, d0, d1) = (f.at(), f.d0, f.d1);
    let nobody = DeviceId(99);

    let again = Device::new("d0");
    f.refused(
        CommandKind::RegisterDevice { device: again.clone(), owner: "o".into() },
        |e, _| e.register_device(at, again, "o"),
        RegisterError::DuplicateDevice { id: "d0".into() },
    );
    let bad = Device { battery_pct: Some(140.0), ..Device::new("d9") };
    let Err(EngineError::Register(RegisterError::BadDevice(why))) = f.engine.clone().apply(
        &Command { at, kind: CommandKind::RegisterDevice { device: bad.clone(), owner: "o".into() } },
        &mut Vec::new(),
    ) else {
        panic!("a battery at 140 % is refused")
    };
    f.refused(
        CommandKind::RegisterDevice { device: bad.clone(), owner: "o".into() },
        |e, _| e.register_device(at, bad, "o"),
        RegisterError::BadDevice(why.clone()),
    );

    for (device, expected) in
        [(nobody, UpdateError::Device(gone_unknown(nobody))), (d1, UpdateError::Device(removed(d1, "d1")))]
    {
        let state = Device::new("d1");
        f.refused(
            CommandKind::UpdateDevice { device, state: state.clone() },
            |e, _| e.update_device(at, device, state),
            expected,
        );
    }
    let renamed = Device::new("d7");
    f.refused(
        CommandKind::UpdateDevice { device: d0, state: renamed.clone() },
        |e, _| e.update_device(at, d0, renamed),
        UpdateError::IdChanged { device: d0, id: "d0".into(), given: "d7".into() },
    );
    let bad = Device { battery_pct: Some(140.0), ..Device::new("d0") };
    let why = byterank_core::device::DeviceError { id: "d0".into(), ..why };
    f.refused(
        CommandKind::UpdateDevice { device: d0, state: bad.clone() },
        |e, _| e.update_device(at, d0, bad),
        UpdateError::BadDevice(why),
    );

    f.refused(
        CommandKind::SetTrust { device: nobody, trusted: true },
        |e, _| e.set_trust(at, nobody, true),
        OperatorError::UnknownDevice(UnknownDevice { device: nobody }),
    );
    f.refused(
        CommandKind::ResetHistory { device: nobody },
        |e, _| e.reset_history(at, nobody),
        OperatorError::UnknownDevice(UnknownDevice { device: nobody }),
    );

    for (device, expected) in
        [(nobody, RemoveError::Device(gone_unknown(nobody))), (d1, RemoveError::Device(removed(d1, "d1")))]
    {
        f.refused(CommandKind::RemoveDevice { device }, |e, out| e.remove_device(at, device, out), expected);
    }
    for (device, expected) in
        [(nobody, PullError::Device(gone_unknown(nobody))), (d1, PullError::Device(removed(d1, "d1")))]
    {
        f.refused(CommandKind::Pull { device }, |e, _| e.pull(at, device), expected);
    }
}

#[test]
fn job_helpers_refuse_with_their_own_errors() {
    let mut f = Fixture::new();
    let (at, running, cancelled) = (f.at(), f.running, f.cancelled);
    let unknown = JobId(99);

    let submit = |f: &mut Fixture, job: JobSpec, expected: SubmitError| {
        f.refused(
            CommandKind::SubmitJob { job: job.clone(), user: "u".into() },
            |e, out| e.submit_job(at, job, "u", out),
            expected,
        );
    };
    submit(&mut f, JobSpec::new("running", 1), SubmitError::DuplicateJob { job: "running".into() });
    let mut odd = JobSpec::new("odd", 1);
    odd.application = "render".into();
    submit(
        &mut f,
        odd,
        SubmitError::UnknownApplication {
            job: "odd".into(),
            application: "render".into(),
            known: "synthetic, gzip".into(),
        },
    );
    let mut bytes = JobSpec::new("bytes", 2);
    bytes.application = "gzip".into();
    let Err(EngineError::Submit(SubmitError::Application { error: why, .. })) = f
        .engine
        .clone()
        .apply(&Command { at, kind: CommandKind::SubmitJob { job: bytes.clone(), user: "u".into() } }, &mut Vec::new())
    else {
        panic!("gzip needs bytes, not a number of chunks")
    };
    submit(&mut f, bytes, SubmitError::Application { job: "bytes".into(), error: why });
    let mut nobody = JobSpec::new("nobody", 1);
    nobody.preferences.hardware.gpu = true;
    let Err(EngineError::Submit(SubmitError::Plan(why))) = f.engine.clone().apply(
        &Command { at, kind: CommandKind::SubmitJob { job: nobody.clone(), user: "u".into() } },
        &mut Vec::new(),
    ) else {
        panic!("no device may run it")
    };
    submit(&mut f, nobody, SubmitError::Plan(why));

    f.refused(
        CommandKind::CancelJob { job: unknown },
        |e, out| e.cancel_job(at, unknown, out),
        CancelError::UnknownJob(UnknownJob { job: unknown }),
    );
    f.refused(
        CommandKind::CancelJob { job: cancelled },
        |e, out| e.cancel_job(at, cancelled, out),
        CancelError::JobEnded { job: cancelled, id: "cancelled".into() },
    );
    f.refused(
        CommandKind::ReleaseJob { job: unknown },
        |e, _| e.release_job(at, unknown),
        ReleaseError::UnknownJob(UnknownJob { job: unknown }),
    );
    f.refused(
        CommandKind::ReleaseJob { job: running },
        |e, _| e.release_job(at, running),
        ReleaseError::JobRunning { job: running, id: "running".into() },
    );
    f.engine.release_job(at, cancelled).unwrap();
    assert_eq!(f.engine.job_id("cancelled"), None, "released: the engine forgot it");
}

#[test]
fn attempt_helpers_refuse_with_their_own_errors() {
    let mut f = Fixture::new();
    let (at, d0, d1, d2, held, ended) = (f.at(), f.d0, f.d1, f.d2, f.held, f.ended);
    let nobody = DeviceId(99);
    let unknown = AttemptId(999);
    let cases = [
        (d0, unknown, AttemptError::UnknownAttempt { attempt: unknown }),
        (d2, ended, AttemptError::AttemptEnded { attempt: ended }),
        (d2, held, AttemptError::NotHolder { attempt: held, device: d2, id: "d2".into() }),
        (d1, held, AttemptError::Device(removed(d1, "d1"))),
        (nobody, held, AttemptError::Device(gone_unknown(nobody))),
    ];
    for (device, attempt, expected) in cases {
        f.refused(
            CommandKind::Heartbeat { device, attempt },
            |e, out| e.heartbeat(at, device, attempt, out),
            expected.clone(),
        );
        let chunk = f.engine.job_chunk(f.running, 0).unwrap();
        let result = Synthetic::expected("running", &chunk);
        f.refused(
            CommandKind::ReportResult { device, attempt, result: result.clone() },
            |e, out| e.report(at, device, attempt, result, out),
            expected.clone(),
        );
        f.refused(
            CommandKind::ReportError { device, attempt },
            |e, out| e.report_failure(at, device, attempt, out),
            expected,
        );
    }
}
