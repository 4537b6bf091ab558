//! No command sequence panics the engine (spec §15): arbitrary commands, with
//! handles that may not exist, absurd sizes, prices and goals, non-finite numbers,
//! times out of order and out of range. Each command is either applied or refused;
//! a refused one changes nothing, and the ledger conserves after every command.
//!
//! After every command the engine accepts, the rules of [`watch`] hold: no quorum
//! decides a disputed task while a trusted device of its pools could arbitrate,
//! and an undecided task always has something coming.
//!
//! `FUZZ_CASES` sets the number of sequences (default 200).

use byterank_core::application::{ResultMeta, Synthetic};
use byterank_core::device::{Device, Region};
use byterank_core::engine::{AttemptId, Command, CommandKind, DeviceId, Engine, EngineConfig, Event, JobId};
use byterank_core::job::{ByteLevel, JobSpec, Regions, ReplicationGoal};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;
use proptest::prelude::*;

mod watch;

fn absurd_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        12 => 1.0..400.0f64,
        1 => Just(f64::NAN),
        1 => Just(f64::INFINITY),
        1 => Just(-1.0),
        1 => Just(0.0),
        1 => Just(1e308),
        2 => Just(0.5),
        2 => Just(2.0),
        2 => Just(1.5),
        1 => -1e3..1e3f64,
    ]
}

fn absurd_u64() -> impl Strategy<Value = u64> {
    prop_oneof![
        1 => Just(0u64),
        1 => Just(u64::MAX),
        1 => Just(1 << 53),
        1 => Just(10_000_001),
        1 => Just(3_000),
        12 => 1u64..40,
    ]
}

fn device() -> impl Strategy<Value = Device> {
    (
        0u32..12,
        prop::option::of(absurd_f64()),
        prop::option::of(absurd_f64()),
        prop::option::of(any::<bool>()),
        prop::option::of(absurd_f64()),
        any::<bool>(),
        prop::option::of(prop::sample::select(vec!["1.0.0", "junk", ""])),
    )
        .prop_map(|(id, processor, battery, online, temp, trusted, version)| Device {
            processor_score: processor,
            battery_pct: battery,
            online,
            temperature_f: temp,
            trusted,
            region: Some(if id % 2 == 0 { Region::Europe } else { Region::Americas }),
            app_version: version.map(String::from),
            ..Device::new(if id == 11 { String::new() } else { format!("d{id}") })
        })
}

fn job() -> impl Strategy<Value = JobSpec> {
    (
        0u32..6,
        absurd_u64(),
        absurd_u64(),
        prop::option::of(prop_oneof![
            absurd_f64().prop_map(ReplicationGoal::R),
            absurd_f64().prop_map(ReplicationGoal::MaxPjf)
        ]),
        prop::option::of(absurd_f64()),
        prop::option::of(0usize..5),
        any::<bool>(),
        prop::option::of((absurd_u64(), absurd_u64())),
        0usize..3,
    )
        .prop_map(|(id, chunks, price, replication, c_min, s_min, trusted, bytes, level)| {
            let mut j = JobSpec::new(format!("j{id}"), chunks);
            j.price_chips = ByteChips(price);
            j.replication = replication;
            j.pools.c_min = c_min;
            j.pools.s_min = s_min;
            j.preferences.trusted = trusted;
            j.preferences.byte_level = [ByteLevel::Low, ByteLevel::Balanced, ByteLevel::High][level];
            if id == 5 {
                j.preferences.regions = Regions::Only(vec![Region::Europe]);
            }
            if id == 4 {
                j.application = "gzip".into();
            }
            if let Some((input, chunk)) = bytes {
                (j.chunks, j.input_bytes, j.chunk_bytes) = (None, Some(input), Some(chunk));
            }
            j
        })
}

#[derive(Clone, Debug)]
enum Step {
    Register(Device),
    Update(u32, Device),
    Trust(u32, bool),
    Reset(u32),
    Remove(u32),
    Submit(JobSpec),
    Cancel(u32),
    Release(u32),
    Pull(u32),
    /// Heartbeat, result (right, wrong or malformed), or error for a recent attempt.
    Work(u32, u8),
    Tick,
    Resume,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        3 => device().prop_map(Step::Register),
        1 => (0u32..14, device()).prop_map(|(d, s)| Step::Update(d, s)),
        1 => (0u32..14, any::<bool>()).prop_map(|(d, t)| Step::Trust(d, t)),
        1 => (0u32..14).prop_map(Step::Reset),
        1 => (0u32..14).prop_map(Step::Remove),
        3 => job().prop_map(Step::Submit),
        1 => (0u32..8).prop_map(Step::Cancel),
        1 => (0u32..8).prop_map(Step::Release),
        8 => (0u32..8).prop_map(Step::Pull),
        10 => (0u32..20, 0u8..6).prop_map(|(a, k)| Step::Work(a, k)),
        2 => Just(Step::Tick),
        1 => Just(Step::Resume),
    ]
}

fn run(steps: &[(Step, i64)]) -> Result<(), TestCaseError> {
    let cfg = EngineConfig { max_failures: 2, rescue_wait_ms: 0, ..EngineConfig::default() };
    let mut watch = watch::Watch::new(cfg.quorum, cfg.credibility);
    let mut engine: Engine = Engine::new(cfg).unwrap();
    let mut now = 1_795_662_000_000i64;
    let mut attempts: Vec<(DeviceId, AttemptId, JobId, u32)> = Vec::new();
    let mut out = Vec::new();
    // A few sound devices, so that jobs run and attempts exist to play with.
    for i in 0..6 {
        let device = Device { processor_score: Some(100.0 * f64::from(i + 1)), ..Device::new(format!("d{i}")) };
        let cmd = Command { at: Timestamp(now), kind: CommandKind::RegisterDevice { device, owner: "o".into() } };
        out.clear();
        engine.apply(&cmd, &mut out).unwrap();
        watch.observe(&engine, &cmd, &out).map_err(TestCaseError::fail)?;
    }
    engine.apply(&Command { at: Timestamp(now), kind: CommandKind::Tick }, &mut out).unwrap();
    for (step, dt) in steps {
        // Mostly forward in time, sometimes back, sometimes out of range.
        let at = match *dt {
            -1 => now - 1,
            i64::MAX => i64::MAX,
            dt => now + dt,
        };
        let kind = match step.clone() {
            Step::Register(device) => CommandKind::RegisterDevice { device, owner: "o".into() },
            Step::Update(d, state) => CommandKind::UpdateDevice { device: DeviceId(d), state },
            Step::Trust(d, trusted) => CommandKind::SetTrust { device: DeviceId(d), trusted },
            Step::Reset(d) => CommandKind::ResetHistory { device: DeviceId(d) },
            Step::Remove(d) => CommandKind::RemoveDevice { device: DeviceId(d) },
            Step::Submit(job) => CommandKind::SubmitJob { job, user: "u".into() },
            Step::Cancel(j) => CommandKind::CancelJob { job: JobId(j) },
            Step::Release(j) => CommandKind::ReleaseJob { job: JobId(j) },
            Step::Pull(d) => CommandKind::Pull { device: DeviceId(d) },
            Step::Work(i, k) => {
                let (device, attempt, job, task) = match attempts.get(i as usize % attempts.len().max(1)) {
                    Some(&a) => a,
                    None => (DeviceId(i), AttemptId(u64::from(i)), JobId(0), 0),
                };
                let chunk = byterank_core::application::Chunk { index: task, offset: u64::from(task), len: 1 };
                let name = format!("j{}", job.0);
                match k {
                    0 => CommandKind::Heartbeat { device, attempt },
                    1 => CommandKind::ReportResult { device, attempt, result: Synthetic::expected(&name, &chunk) },
                    2 => CommandKind::ReportResult { device, attempt, result: Synthetic::incorrect(&name, &chunk, 1) },
                    3 => CommandKind::ReportResult { device, attempt, result: ResultMeta::default() },
                    4 => CommandKind::ReportError { device, attempt },
                    _ => CommandKind::Heartbeat { device: DeviceId(device.0 + 1), attempt },
                }
            }
            Step::Tick => CommandKind::Tick,
            Step::Resume => CommandKind::Resume,
        };
        let before = engine.clone();
        out.clear();
        let cmd = Command { at: Timestamp(at), kind };
        match engine.apply(&cmd, &mut out) {
            Ok(()) => {
                now = at;
                watch.observe(&engine, &cmd, &out).map_err(|e| TestCaseError::fail(format!("{e} after {cmd:?}")))?;
                for e in &out {
                    if let Event::TaskAssigned { job, task, device, attempt, .. } = *e {
                        attempts.push((device, attempt, job, task));
                    }
                }
            }
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                prop_assert!(out.is_empty(), "a refused command says nothing");
                prop_assert!(engine == before, "a refused command changes nothing: {}", e);
            }
        }
        prop_assert!(engine.ledger().conserves());
        if let Err(e) = engine.audit() {
            prop_assert!(false, "{}", e);
        }
    }
    Ok(())
}

fn cases() -> u32 {
    std::env::var("FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(200)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn no_command_sequence_panics(
        steps in prop::collection::vec(
            (step(), prop_oneof![20 => 0i64..120_000, 1 => Just(-1i64), 1 => Just(i64::MAX), 1 => Just(3_600_000i64)]),
            1..120,
        )
    ) {
        run(&steps)?;
    }
}
