//! Pool queues an embedder makes: a queue type that cannot be made from nothing
//! (it holds a handle, here a shared counter standing for a store's client) runs a
//! job through the engine, which gets every queue from the host's maker.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use byterank_core::application::Synthetic;
use byterank_core::device::Device;
use byterank_core::engine::{Engine, EngineConfig, Event, JobId, Pulled, QueueMaker, QueuedCopy, TaskQueue};
use byterank_core::job::{JobSpec, ReplicationGoal};
use byterank_core::time::Timestamp;

/// What the queues did, as the host's "store" sees it.
#[derive(Default)]
struct Store {
    pushes: Cell<usize>,
    takes: Cell<usize>,
    /// Every queue made: its job and pool.
    made: RefCell<Vec<(JobId, u32)>>,
}

/// A queue that counts its writes into the shared store: no `Default`.
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
struct Counted {
    copies: VecDeque<QueuedCopy>,
    /// The handle (a restored queue gets a detached one).
    #[cfg_attr(feature = "serde", serde(skip))]
    store: Rc<Store>,
}

impl Clone for Counted {
    fn clone(&self) -> Self {
        Counted { copies: self.copies.clone(), store: Rc::clone(&self.store) }
    }
}

impl std::fmt::Debug for Counted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.copies.fmt(f)
    }
}

/// The state is the copies; the handle is not state.
impl PartialEq for Counted {
    fn eq(&self, other: &Self) -> bool {
        self.copies == other.copies
    }
}

#[derive(Clone)]
struct Maker(Rc<Store>);

impl QueueMaker<Counted> for Maker {
    fn make(&mut self, job: JobId, pool: u32) -> Counted {
        self.0.made.borrow_mut().push((job, pool));
        Counted { copies: VecDeque::new(), store: Rc::clone(&self.0) }
    }
}

impl TaskQueue for Counted {
    type Maker = Maker;

    fn push_back(&mut self, copy: QueuedCopy) {
        self.store.pushes.set(self.store.pushes.get() + 1);
        self.copies.push_back(copy);
    }

    fn take_first(&mut self, window: usize, take: &mut dyn FnMut(QueuedCopy) -> bool) -> Option<QueuedCopy> {
        let pos = self.copies.iter().take(window).position(|c| take(*c))?;
        self.store.takes.set(self.store.takes.get() + 1);
        self.copies.remove(pos)
    }

    fn retain(&mut self, keep: &mut dyn FnMut(QueuedCopy) -> bool) {
        self.copies.retain(|c| keep(*c));
    }

    fn drain_all(&mut self) -> Vec<QueuedCopy> {
        self.copies.drain(..).collect()
    }

    fn len(&self) -> usize {
        self.copies.len()
    }
}

fn at() -> Timestamp {
    Timestamp::parse_rfc3339("2026-12-02T09:00:00Z").unwrap()
}

/// An engine over `Counted` queues with six devices of three speeds (so jobs
/// use several pools).
fn engine(store: &Rc<Store>) -> Engine<Counted> {
    let mut engine = Engine::with_queues(EngineConfig::default(), Maker(Rc::clone(store))).unwrap();
    for (i, score) in [400.0, 400.0, 250.0, 250.0, 100.0, 100.0].into_iter().enumerate() {
        let device = Device { processor_score: Some(score), ..Device::new(format!("d{i}")) };
        engine.register_device(at(), device, "ops").unwrap();
    }
    engine
}

/// Submits a job of `tasks` tasks at r = 2; its handle and copies planned.
fn submit(engine: &mut Engine<Counted>, id: &str, tasks: u64) -> (JobId, u32) {
    let mut job = JobSpec::new(id, tasks);
    job.replication = Some(ReplicationGoal::R(2.0));
    let mut events = Vec::new();
    let handle = engine.submit_job(at(), job, "alice", &mut events).unwrap();
    let copies = events.iter().find_map(|e| match e {
        Event::JobAccepted { copies, .. } => Some(*copies),
        _ => None,
    });
    (handle, copies.unwrap())
}

/// Every device pulls and reports the right result until the jobs complete.
fn run_to_completion(engine: &mut Engine<Counted>, jobs: &[(JobId, &str)]) {
    let devices: Vec<_> = engine.live_devices().map(|(d, _)| d).collect();
    let mut open = jobs.len();
    for _ in 0..100 {
        for &device in &devices {
            let Pulled::Task { job, task, attempt, .. } = engine.pull(at(), device).unwrap() else { continue };
            let id = jobs.iter().find(|(j, _)| *j == job).unwrap().1;
            let result = Synthetic::expected(id, &engine.job_chunk(job, task).unwrap());
            let mut events = Vec::new();
            engine.report(at(), device, attempt, result, &mut events).unwrap();
            open -= events.iter().filter(|e| matches!(e, Event::JobCompleted { .. })).count();
            if open == 0 {
                return;
            }
        }
    }
    panic!("{open} jobs did not complete");
}

#[test]
fn a_queue_without_default_runs_a_job_to_completion() {
    let store = Rc::new(Store::default());
    let mut engine = engine(&store);
    let (job, copies) = submit(&mut engine, "primes", 6);
    let pools = engine.job_progress(job).unwrap().pools;
    assert!(pools > 1, "the job uses several pools: {pools}");
    assert_eq!(*store.made.borrow(), (0..pools).map(|k| (job, k)).collect::<Vec<_>>(), "one queue per pool");
    assert_eq!(copies, 12, "6 tasks at r = 2");
    assert_eq!(store.pushes.get(), copies as usize, "every planned copy was queued once");

    run_to_completion(&mut engine, &[(job, "primes")]);
    assert_eq!(store.takes.get(), copies as usize, "every queued copy was taken once, by a pull");
    assert_eq!(store.pushes.get(), copies as usize, "no copy was queued again");
    assert_eq!(engine.job_progress(job).unwrap().queued, 0);
}

#[cfg(feature = "serde")]
#[test]
fn a_restored_engine_gets_its_maker_back() {
    let store = Rc::new(Store::default());
    let mut engine = engine(&store);
    let (first, _) = submit(&mut engine, "first", 4);
    let json = serde_json::to_string(&engine).unwrap();
    let mut restored: Engine<Counted> = serde_json::from_str(&json).unwrap();
    assert_eq!(restored, engine, "the maker is not state");

    // Without its maker, a restored engine refuses to run, before anything changes.
    let tick = byterank_core::engine::Command { at: at(), kind: byterank_core::engine::CommandKind::Tick };
    let mut probe = restored.clone();
    let refused = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| probe.apply(&tick, &mut Vec::new())));
    assert!(refused.is_err(), "a command without a maker panics");

    let fresh = Rc::new(Store::default());
    restored.set_queue_maker(Maker(Rc::clone(&fresh)));
    let (second, copies) = submit(&mut restored, "second", 3);
    let pools = restored.job_progress(second).unwrap().pools;
    assert_eq!(*fresh.made.borrow(), (0..pools).map(|k| (second, k)).collect::<Vec<_>>(), "the new maker made them");
    assert_eq!(fresh.pushes.get(), copies as usize);
    run_to_completion(&mut restored, &[(first, "first"), (second, "second")]);
}
