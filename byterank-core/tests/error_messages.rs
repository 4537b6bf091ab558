//! Every refusal of the engine, rendered: messages name devices, jobs and
//! attempts as people know them (`device `phone-1``, `device #7`), never by a
//! handle's Debug (`DeviceId(7)`), and say what to do.

use byterank_core::application::ApplicationError;
use byterank_core::device::DeviceError;
use byterank_core::engine::{
    AdmissionError, AttemptError, AttemptId, CancelError, DeviceGone, DeviceId, EngineError, JobId, OperatorError,
    PullError, RegisterError, ReleaseError, RemoveError, SubmitError, TimeError, UnknownDevice, UnknownJob,
    UpdateError,
};
use byterank_core::job::JobError;
use byterank_core::plan::PlanError;
use byterank_core::reward::{ByteChips, RewardError};
use byterank_core::time::Timestamp;

/// Which refusal `e` is: one number per leaf of the error tree. The match is
/// exhaustive, so a refusal added to the engine needs an arm here, and
/// [`every_refusal`] a value for it.
fn leaf(e: &EngineError) -> usize {
    use EngineError as E;
    let time = |t: &TimeError| match t {
        TimeError::WentBack { .. } => 0,
        TimeError::OutOfRange { .. } => 1,
    };
    let gone = |g: &DeviceGone| match g {
        DeviceGone::Unknown(_) => 2,
        DeviceGone::Removed { .. } => 3,
    };
    match e {
        E::Time(t) => time(t),
        E::Register(RegisterError::Time(t))
        | E::Update(UpdateError::Time(t))
        | E::Pull(PullError::Time(t))
        | E::Remove(RemoveError::Time(t))
        | E::Operator(OperatorError::Time(t))
        | E::Submit(SubmitError::Time(t))
        | E::Cancel(CancelError::Time(t))
        | E::Release(ReleaseError::Time(t))
        | E::Attempt(AttemptError::Time(t)) => time(t),
        E::Update(UpdateError::Device(g))
        | E::Pull(PullError::Device(g))
        | E::Remove(RemoveError::Device(g))
        | E::Attempt(AttemptError::Device(g)) => gone(g),
        E::Operator(OperatorError::UnknownDevice(_)) => 2,
        E::Register(RegisterError::BadDevice(_)) | E::Update(UpdateError::BadDevice(_)) => 4,
        E::Register(RegisterError::DuplicateDevice { .. }) => 5,
        E::Update(UpdateError::IdChanged { .. }) => 6,
        E::Submit(SubmitError::DuplicateJob { .. }) => 7,
        E::Submit(SubmitError::LedgerFull { .. }) => 8,
        E::Submit(SubmitError::UnknownApplication { .. }) => 9,
        E::Submit(SubmitError::Application { .. }) => 10,
        E::Submit(SubmitError::Plan(_)) => 11,
        E::Submit(SubmitError::Reward { .. }) => 12,
        E::Submit(SubmitError::Admission(a)) => match a {
            AdmissionError::BadUser { .. } => 13,
            AdmissionError::BelowMinimumPrice { .. } => 14,
            AdmissionError::Unpaid { .. } => 15,
            AdmissionError::SplitMismatch { .. } => 16,
            AdmissionError::BadAssemblyOrder { .. } => 17,
            AdmissionError::ReplicationShortfall { .. } => 24,
        },
        E::Cancel(CancelError::UnknownJob(_)) | E::Release(ReleaseError::UnknownJob(_)) => 18,
        E::Cancel(CancelError::JobEnded { .. }) => 19,
        E::Release(ReleaseError::JobRunning { .. }) => 20,
        E::Attempt(AttemptError::UnknownAttempt { .. }) => 21,
        E::Attempt(AttemptError::AttemptEnded { .. }) => 22,
        E::Attempt(AttemptError::NotHolder { .. }) => 23,
    }
}

const LEAVES: usize = 25;

/// One value of every refusal, in every operation that can give it.
fn every_refusal() -> Vec<EngineError> {
    let (now, at) = (Timestamp(1_795_662_000_000), Timestamp(1_795_661_000_000));
    let back = TimeError::WentBack { now, at };
    let far = TimeError::OutOfRange { ms: i64::MAX };
    let device = DeviceId(7);
    let unknown: DeviceGone = UnknownDevice { device }.into();
    let removed = DeviceGone::Removed { device, id: "phone-1".into() };
    let bad = DeviceError { id: "phone-1".into(), field: "battery_pct", problem: "must be within 0..=100" };
    let (job, attempt) = (JobId(3), AttemptId((5 << 32) | 9));
    let mut all: Vec<EngineError> = vec![back.clone().into(), far.clone().into()];
    for t in [back, far] {
        all.extend([
            RegisterError::Time(t.clone()).into(),
            UpdateError::Time(t.clone()).into(),
            PullError::Time(t.clone()).into(),
            RemoveError::Time(t.clone()).into(),
            OperatorError::Time(t.clone()).into(),
            SubmitError::Time(t.clone()).into(),
            CancelError::Time(t.clone()).into(),
            ReleaseError::Time(t.clone()).into(),
            AttemptError::Time(t).into(),
        ]);
    }
    for g in [unknown, removed] {
        all.extend([
            UpdateError::Device(g.clone()).into(),
            PullError::Device(g.clone()).into(),
            RemoveError::Device(g.clone()).into(),
            AttemptError::Device(g).into(),
        ]);
    }
    all.extend([
        OperatorError::UnknownDevice(UnknownDevice { device }).into(),
        RegisterError::BadDevice(bad.clone()).into(),
        UpdateError::BadDevice(bad).into(),
        RegisterError::DuplicateDevice { id: "phone-1".into() }.into(),
        UpdateError::IdChanged { device, id: "phone-1".into(), given: "phone-2".into() }.into(),
        SubmitError::DuplicateJob { job: "j1".into() }.into(),
        SubmitError::LedgerFull { job: "j1".into() }.into(),
        SubmitError::UnknownApplication { job: "j1".into(), application: "render".into(), known: "synthetic".into() }
            .into(),
        SubmitError::Application {
            job: "j1".into(),
            error: ApplicationError::NeedsBytes { job: "j1".into(), application: "gzip" },
        }
        .into(),
        SubmitError::Plan(PlanError::Job(JobError::Zero("j1".into(), "chunks"))).into(),
        SubmitError::Reward { job: "j1".into(), error: RewardError::NoWork }.into(),
        SubmitError::Admission(AdmissionError::BadUser {
            job: "j1".into(),
            user: String::new(),
            problem: "must not be empty",
        })
        .into(),
        SubmitError::Admission(AdmissionError::BelowMinimumPrice {
            job: "j1".into(),
            tasks: 4,
            price: ByteChips(3),
            per_task: ByteChips(1),
            least: 4,
        })
        .into(),
        SubmitError::Admission(AdmissionError::Unpaid {
            job: "j1".into(),
            price: ByteChips(0),
            unpaid: 4,
            tasks: 4,
            workers: "7/10".into(),
        })
        .into(),
        SubmitError::Admission(AdmissionError::SplitMismatch {
            job: "j1".into(),
            application: "short",
            chunks: 3,
            tasks: 4,
            at: 3,
            size: 1,
        })
        .into(),
        SubmitError::Admission(AdmissionError::BadAssemblyOrder { job: "j1".into(), application: "twice", tasks: 3 })
            .into(),
        SubmitError::Admission(AdmissionError::ReplicationShortfall {
            job: "j1".into(),
            goal: "replication r = 2".into(),
            per_task: 2,
            devices: 1,
            asked: 80,
            unplaced: 40,
        })
        .into(),
        CancelError::UnknownJob(UnknownJob { job }).into(),
        ReleaseError::UnknownJob(UnknownJob { job }).into(),
        CancelError::JobEnded { job, id: "j1".into() }.into(),
        ReleaseError::JobRunning { job, id: "j1".into() }.into(),
        AttemptError::UnknownAttempt { attempt }.into(),
        AttemptError::AttemptEnded { attempt }.into(),
        AttemptError::NotHolder { attempt, device, id: "phone-1".into() }.into(),
    ]);
    all
}

#[test]
fn every_refusal_is_rendered_without_a_handles_debug() {
    let all = every_refusal();
    let mut seen = [false; LEAVES];
    for e in &all {
        seen[leaf(e)] = true;
        let message = e.to_string();
        for debug in ["DeviceId(", "AttemptId(", "JobId(", "Some(", "\"", "{", "}"] {
            assert!(!message.contains(debug), "`{message}` holds `{debug}`");
        }
        assert!(message.contains(": "), "`{message}` says what is wrong and what to do");
    }
    let missing: Vec<usize> = (0..LEAVES).filter(|&i| !seen[i]).collect();
    assert!(missing.is_empty(), "no example of refusals {missing:?}");
}

#[test]
fn handles_display_as_people_name_them() {
    assert_eq!(DeviceId(7).to_string(), "device #7");
    assert_eq!(JobId(3).to_string(), "job #3");
    let removed =
        EngineError::from(PullError::Device(DeviceGone::Removed { device: DeviceId(7), id: "phone-1".into() }));
    assert!(removed.to_string().starts_with("device `phone-1` was removed"), "{removed}");
    let unknown = EngineError::from(PullError::Device(UnknownDevice { device: DeviceId(7) }.into()));
    assert!(unknown.to_string().starts_with("unknown device #7:"), "{unknown}");
    let holder = EngineError::from(AttemptError::NotHolder {
        attempt: AttemptId(4_294_967_297),
        device: DeviceId(2),
        id: "d2".into(),
    });
    assert!(holder.to_string().contains("is not held by device `d2`"), "{holder}");
}
