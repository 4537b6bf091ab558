//! Admission: every job meets the same rules before the engine changes anything,
//! whichever way it comes in (`apply`, `submit_job`, `quote`). A faulty
//! application (a split that disagrees with the job's work, an assembly order
//! that is no permutation) is refused instead of panicking the engine, and the
//! engine stays exactly as it was, its ranking included.

use byterank_core::application::{Application, ApplicationError, Chunk, IntegrityError, ResultMeta, Synthetic};
use byterank_core::device::Device;
use byterank_core::engine::{
    AdmissionError, Command, CommandKind, Engine, EngineConfig, EngineError, Event, Pulled, SubmitError,
};
use byterank_core::job::JobSpec;
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;

const T: Timestamp = Timestamp(1_795_662_000_000);
const LATER: Timestamp = Timestamp(1_795_662_001_000);

/// A synthetic-like application whose split and assembly order are what a test
/// makes them.
struct Faulty {
    name: &'static str,
    /// Chunks the split drops from the end.
    drop: usize,
    /// Size added to chunk 0.
    grow: u64,
    /// The assembly order, from the number of chunks.
    order: fn(u32) -> Vec<u32>,
}

impl Application for Faulty {
    fn name(&self) -> &'static str {
        self.name
    }
    fn split(&self, job: &JobSpec) -> Result<Vec<Chunk>, ApplicationError> {
        let mut chunks = Synthetic.split(job)?;
        chunks.truncate(chunks.len() - self.drop.min(chunks.len()));
        if let Some(c) = chunks.first_mut() {
            c.len += self.grow;
        }
        Ok(chunks)
    }
    fn check(&self, chunk: &Chunk, result: &ResultMeta) -> Result<(), IntegrityError> {
        Synthetic.check(chunk, result)
    }
    fn assembly_order(&self, chunks: &[Chunk]) -> Vec<u32> {
        (self.order)(chunks.len() as u32)
    }
}

fn ascending(n: u32) -> Vec<u32> {
    (0..n).collect()
}

static SHORT: Faulty = Faulty { name: "short", drop: 1, grow: 0, order: ascending };
static RESIZED: Faulty = Faulty { name: "resized", drop: 0, grow: 1, order: ascending };
static TWICE: Faulty = Faulty { name: "twice", drop: 0, grow: 0, order: |n| vec![0; n as usize] };
static MISSING: Faulty = Faulty { name: "missing", drop: 0, grow: 0, order: |n| (1..n).collect() };
static REVERSED: Faulty = Faulty { name: "reversed", drop: 0, grow: 0, order: |n| (0..n).rev().collect() };

/// An engine with two devices registered since its last ranking, so that a
/// submission would re-rank them first, and the faulty applications.
fn engine(cfg: EngineConfig) -> Engine {
    let mut e = Engine::new(cfg).unwrap();
    for app in [&SHORT, &RESIZED, &TWICE, &MISSING, &REVERSED] {
        e.register_application(app);
    }
    for id in ["d0", "d1"] {
        e.register_device(T, Device { processor_score: Some(300.0), ..Device::new(id) }, "ops").unwrap();
    }
    e
}

fn job(id: &str, app: &str, chunks: u64) -> JobSpec {
    JobSpec { application: app.into(), ..JobSpec::new(id, chunks) }
}

/// Submits `spec` every way there is and checks each refuses it with the same
/// admission error, leaving the engine unchanged; returns that error.
fn refused(e: &mut Engine, spec: &JobSpec, user: &str) -> AdmissionError {
    let before = e.clone();
    let mut out = Vec::new();
    let cmd = Command { at: LATER, kind: CommandKind::SubmitJob { job: spec.clone(), user: user.into() } };
    let applied = e.apply(&cmd, &mut out).unwrap_err();
    assert!(out.is_empty(), "nothing appended: {out:?}");
    assert!(*e == before, "apply changed the engine");
    let helper = e.submit_job(LATER, spec.clone(), user, &mut out).unwrap_err();
    assert!(out.is_empty(), "nothing appended: {out:?}");
    assert!(*e == before, "submit_job changed the engine");
    assert_eq!(e.admit(spec, Some(user)), Err(helper.clone()), "admit is submission's rules");
    let SubmitError::Admission(rule) = helper else { panic!("not an admission error: {helper:?}") };
    // The rules that need no split refuse the same, or leave the job to the split.
    match e.check_terms(spec, Some(user)) {
        Err(SubmitError::Admission(cheap)) => assert_eq!(cheap, rule),
        Err(other) => panic!("check_terms refused otherwise: {other:?}"),
        Ok(()) => assert!(
            matches!(rule, AdmissionError::SplitMismatch { .. } | AdmissionError::BadAssemblyOrder { .. })
                || matches!(rule, AdmissionError::Unpaid { ref job, .. } if job == "uneven"),
            "check_terms let {rule:?} through"
        ),
    }
    assert_eq!(applied, EngineError::from(SubmitError::Admission(rule.clone())));
    assert_eq!(applied.to_string(), rule.to_string(), "one message, whichever way");
    if user_ok(user) {
        let quoted = e.quote(spec, LATER).unwrap_err();
        assert_eq!(quoted, applied, "a quote is refused the same way");
        let basis = e.quote_basis(spec, LATER).unwrap().quote(spec).unwrap_err();
        assert_eq!(basis, applied, "a detached quote is refused the same way");
    }
    rule
}

/// A quote has no user: only a submission's user is checked.
fn user_ok(user: &str) -> bool {
    byterank_core::device::id_problem(user).is_none()
}

#[test]
fn a_split_with_too_few_chunks_is_refused_not_a_panic() {
    let mut e = engine(EngineConfig::default());
    let rule = refused(&mut e, &job("j", "short", 4), "alice");
    assert!(
        matches!(rule, AdmissionError::SplitMismatch { chunks: 3, tasks: 4, at: 3, application: "short", .. }),
        "{rule:?}"
    );
    assert!(rule.to_string().contains("split it into 3 chunks where its work has 4"), "{rule}");
}

#[test]
fn a_split_with_the_wrong_sizes_is_refused_for_a_job_of_bytes() {
    let mut e = engine(EngineConfig::default());
    let bytes = JobSpec { chunks: None, input_bytes: Some(4_000), chunk_bytes: Some(1_000), ..job("j", "resized", 4) };
    let rule = refused(&mut e, &bytes, "alice");
    assert!(matches!(rule, AdmissionError::SplitMismatch { chunks: 4, tasks: 4, at: 0, size: 1_000, .. }), "{rule:?}");
    // A job of `chunks` counts abstract units: its application sizes them.
    let mut out = Vec::new();
    e.submit_job(LATER, job("k", "resized", 4), "alice", &mut out).unwrap();
}

#[test]
fn an_assembly_order_that_is_no_permutation_is_refused_not_a_panic() {
    let mut e = engine(EngineConfig::default());
    for app in ["twice", "missing"] {
        let rule = refused(&mut e, &job("j", app, 3), "alice");
        assert!(matches!(rule, AdmissionError::BadAssemblyOrder { tasks: 3, .. }), "{app}: {rule:?}");
    }
}

#[test]
fn a_job_is_paid_at_least_one_bytechip_a_task() {
    let mut e = engine(EngineConfig::default());
    let free = JobSpec { price_chips: ByteChips::ZERO, ..job("free", "synthetic", 2) };
    let rule = refused(&mut e, &free, "alice");
    assert!(matches!(rule, AdmissionError::Unpaid { unpaid: 2, tasks: 2, .. }), "{rule:?}");
    assert!(rule.to_string().contains("bounty of 0 ByteChips"), "{rule}");
    // Ten million tasks for 1 ByteChip: refused before anything is split.
    let cheap = JobSpec { price_chips: ByteChips(1), ..job("cheap", "synthetic", 10_000_000) };
    let rule = refused(&mut e, &cheap, "alice");
    assert!(matches!(rule, AdmissionError::Unpaid { tasks: 10_000_000, .. }), "{rule:?}");
    // Uneven sizes: the workers' share holds a chip a task, but the largest
    // remainders leave the small task without one.
    let uneven = JobSpec {
        chunks: None,
        input_bytes: Some(1_000_001),
        chunk_bytes: Some(1_000_000),
        price_chips: ByteChips(3),
        ..job("uneven", "synthetic", 1)
    };
    let rule = refused(&mut e, &uneven, "alice");
    assert!(matches!(rule, AdmissionError::Unpaid { unpaid: 1, tasks: 2, .. }), "{rule:?}");
    // The least price pays: accepted.
    let paid = job("paid", "synthetic", 7);
    assert_eq!(paid.price_chips, ByteChips(10));
    e.submit_job(LATER, paid, "alice", &mut Vec::new()).unwrap();
    let short = JobSpec { price_chips: ByteChips(9), ..job("short", "synthetic", 7) };
    assert!(matches!(refused(&mut e, &short, "alice"), AdmissionError::Unpaid { unpaid: 1, tasks: 7, .. }));
}

#[test]
fn the_engine_may_ask_a_least_price_per_task() {
    let cfg = EngineConfig { min_task_price: ByteChips(5), ..EngineConfig::default() };
    let mut e = engine(cfg);
    let low = JobSpec { price_chips: ByteChips(19), ..job("low", "synthetic", 4) };
    let rule = refused(&mut e, &low, "alice");
    assert!(matches!(rule, AdmissionError::BelowMinimumPrice { least: 20, tasks: 4, .. }), "{rule:?}");
    let enough = JobSpec { price_chips: ByteChips(20), ..job("enough", "synthetic", 4) };
    e.submit_job(LATER, enough, "alice", &mut Vec::new()).unwrap();
}

#[test]
fn the_user_must_have_a_valid_id() {
    let mut e = engine(EngineConfig::default());
    for user in ["", "a\nb", "   "] {
        let rule = refused(&mut e, &job("j", "synthetic", 1), user);
        assert!(matches!(rule, AdmissionError::BadUser { .. }), "{user:?}: {rule:?}");
    }
}

/// A valid order other than ascending is the one results come back in.
#[test]
fn results_come_back_in_the_applications_assembly_order() {
    let mut e = engine(EngineConfig::default());
    let mut out = Vec::new();
    let spec = JobSpec { replication: Some(byterank_core::job::ReplicationGoal::R(1.0)), ..job("j", "reversed", 3) };
    e.submit_job(T, spec, "alice", &mut out).unwrap();
    let d0 = e.device_id("d0").unwrap();
    let mut by_task = std::collections::BTreeMap::new();
    let mut done = Vec::new();
    for _ in 0..3 {
        let Pulled::Task { task, attempt, .. } = e.pull(T, d0).unwrap() else { panic!("a task for d0") };
        by_task.insert(task, attempt);
        let chunk = Chunk { index: task, offset: u64::from(task), len: 1 };
        e.report(T, d0, attempt, Synthetic::expected("j", &chunk), &mut done).unwrap();
    }
    let results = done.iter().find_map(|ev| match ev {
        Event::JobCompleted { results, .. } => Some(results.clone()),
        _ => None,
    });
    assert_eq!(results, Some(vec![by_task[&2], by_task[&1], by_task[&0]]));
}
