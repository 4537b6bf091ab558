//! This crate is an example: the ByteRank core embedded in another scheduler, as
//! one would on a target without `std` (a controller, a unikernel, a WASM host).
//! It uses only `core` and `alloc`, and `byterank-core` without its `std` feature.
//!
//! The host keeps three things of its own:
//!
//! - **Its device store**, [`Inventory`]: machines in the order they were
//!   installed, each a [`Machine`] record in the host's own layout (a name, a
//!   core count, whether it is up), which implements [`DeviceView`]: the core
//!   reads the processor score derived from the cores, and the rest of a device's
//!   state as constants or defaults. The store implements [`GridSnapshot`] through
//!   an index sorted by name (the trait's order), so the core ranks the host's
//!   records where they are; [`check_snapshot`] checks that contract before
//!   anything is ranked or registered. The engine keeps its own copy of each
//!   machine, [`Device::from_view`] of its record.
//! - **Its application**, [`Checksums`]: how a job splits into chunks, what a well
//!   formed result is, registered with [`Engine::register_application`].
//! - **The engine loop**, [`run`]: machines pull copies, work, report; time passes
//!   in ticks; the host acts on the events (assembles results, notices wrong ones).
//!
//! Time is the host's: the engine reads no clock, so [`run`] takes the start
//! instant and moves it one second per round.

#![no_std]
#![deny(missing_docs)]

extern crate alloc;

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use byterank_core::application::{ApplicationError, IntegrityError};
use byterank_core::device::Region;
use byterank_core::device_view::DeviceView;
use byterank_core::engine::{
    AttemptError, AttemptState, PullError, Pulled, RegisterError, ReleaseError, SubmitError, TimeError,
};
use byterank_core::grid::{check_snapshot, GridError};
use byterank_core::indexes::{rank_grid, IndexConfig, Lottery};
use byterank_core::job::ReplicationGoal;
use byterank_core::{
    Application, AttemptId, Chunk, Device, DeviceId, Engine, Event, GridSnapshot, JobSpec, ResultMeta, Timestamp,
};

/// The host's application: a job of N chunks sums `i * i mod 65521` over the
/// numbers of each chunk (`[1000 i, 1000 (i + 1))` for chunk `i`). A result's digest
/// is the sum in lowercase hexadecimal.
pub struct Checksums;

impl Checksums {
    /// What a machine computes for a chunk.
    pub fn work(chunk: &Chunk) -> u64 {
        (chunk.offset..chunk.offset + chunk.len).map(|n| n * n % 65_521).sum()
    }
}

impl Application for Checksums {
    fn name(&self) -> &'static str {
        "checksums"
    }

    fn split(&self, job: &JobSpec) -> Result<Vec<Chunk>, ApplicationError> {
        let n = job.work()?.sizes.len() as u64;
        Ok((0..n).map(|i| Chunk { index: i as u32, offset: i * 1_000, len: 1_000 }).collect())
    }

    fn check(&self, chunk: &Chunk, result: &ResultMeta) -> Result<(), IntegrityError> {
        match u64::from_str_radix(&result.digest, 16) {
            // No sum over a chunk exceeds its length times the modulus.
            Ok(sum) if sum < chunk.len * 65_521 => Ok(()),
            _ => Err(IntegrityError::MalformedDigest {
                chunk: chunk.index,
                digest: result.digest.as_str().into(),
                rule: "a sum in hexadecimal, below the chunk's length times 65521",
            }),
        }
    }
}

/// One machine in the host's store, in the host's own layout.
pub struct Machine {
    /// Its name, unique in the store: the device id.
    pub name: String,
    /// CPU cores; the processor score is 50 a core.
    pub cores: u32,
    /// Whether it is up.
    pub up: bool,
    /// Who is paid for its work.
    pub owner: String,
    /// A broken machine: its sums are off by one.
    pub faulty: bool,
    /// The engine's handle, once registered.
    pub handle: Option<DeviceId>,
}

/// What the core reads of a machine: its name, whether it is up, a processor
/// score derived from its cores, and the site every machine is at; every other
/// input is missing and takes its default.
impl DeviceView for Machine {
    fn id(&self) -> &str {
        &self.name
    }

    fn online(&self) -> Option<bool> {
        Some(self.up)
    }

    fn processor_score(&self) -> Option<f64> {
        Some(f64::from(self.cores) * 50.0)
    }

    fn region(&self) -> Option<Region> {
        Some(Region::Europe)
    }
}

/// The host's device store: machines in installation order, and an index of them
/// by name (ascending device id), which is the order [`GridSnapshot`] asks for.
pub struct Inventory {
    machines: Vec<Machine>,
    by_id: Vec<usize>,
    now: Timestamp,
}

impl Inventory {
    /// A store of these machines, as of `now`.
    pub fn new(machines: Vec<Machine>, now: Timestamp) -> Inventory {
        let mut by_id: Vec<usize> = (0..machines.len()).collect();
        by_id.sort_by(|&a, &b| machines[a].name.cmp(&machines[b].name));
        Inventory { machines, by_id, now }
    }

    /// The machines, in installation order.
    pub fn machines(&self) -> &[Machine] {
        &self.machines
    }
}

impl GridSnapshot for Inventory {
    type Device<'a> = &'a Machine;

    fn now(&self) -> Timestamp {
        self.now
    }

    fn len(&self) -> usize {
        self.by_id.len()
    }

    fn device(&self, index: usize) -> &Machine {
        &self.machines[self.by_id[index]]
    }
}

/// What went wrong in [`run`].
#[derive(Debug)]
pub enum EmbedError {
    /// The store breaks the snapshot contract.
    Grid(GridError),
    /// The engine refused a machine's registration.
    Register(RegisterError),
    /// The engine refused the job.
    Submit(SubmitError),
    /// The engine refused a machine's pull.
    Pull(PullError),
    /// The engine refused a machine's result.
    Report(AttemptError),
    /// The engine refused a tick.
    Tick(TimeError),
    /// The engine refused to release the job.
    Release(ReleaseError),
    /// The job did not complete within the rounds allowed.
    Stalled,
}

impl From<GridError> for EmbedError {
    fn from(e: GridError) -> Self {
        EmbedError::Grid(e)
    }
}

/// `From` for each of the engine's refusals `run` passes on.
macro_rules! from_refusal {
    ($($error:ident => $variant:ident),*) => {$(
        impl From<$error> for EmbedError {
            fn from(e: $error) -> Self {
                EmbedError::$variant(e)
            }
        }
    )*};
}

from_refusal!(RegisterError => Register, SubmitError => Submit, PullError => Pull, AttemptError => Report, TimeError => Tick, ReleaseError => Release);

impl core::fmt::Display for EmbedError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            EmbedError::Grid(e) => write!(f, "the device store: {e}"),
            EmbedError::Register(e) => write!(f, "registering a machine: {e}"),
            EmbedError::Submit(e) => write!(f, "submitting the job: {e}"),
            EmbedError::Pull(e) => write!(f, "a pull: {e}"),
            EmbedError::Report(e) => write!(f, "a result: {e}"),
            EmbedError::Tick(e) => write!(f, "a tick: {e}"),
            EmbedError::Release(e) => write!(f, "releasing the job: {e}"),
            EmbedError::Stalled => f.write_str("the job did not complete"),
        }
    }
}

/// What a run found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Summary {
    /// The machine ByteRank put first (rank 1), ranked over the host's store.
    pub best: String,
    /// Copies the engine planned.
    pub copies: u32,
    /// Results the engine judged incorrect (the faulty machine's, outvoted).
    pub caught: u32,
    /// The job's assembled result: the sum of the chunk sums.
    pub total: u64,
}

/// The machines of the example: five, one of them faulty, one offline.
pub fn machines() -> Vec<Machine> {
    let machine = |name: &str, cores: u32, up: bool, faulty: bool| Machine {
        name: String::from(name),
        cores,
        up,
        owner: String::from("ops"),
        faulty,
        handle: None,
    };
    alloc::vec![
        machine("rack2-b", 4, true, false),
        machine("rack1-a", 8, true, false),
        machine("spare", 2, false, false),
        machine("rack2-a", 4, true, true),
        machine("rack1-b", 8, true, false),
    ]
}

/// Runs a 30-chunk job at r = 2 on the example's machines from `start`: checks
/// the store, ranks it, registers the machines and the application, then loops
/// (each machine pulls and reports, then a tick) until the job completes.
pub fn run(start: Timestamp) -> Result<Summary, EmbedError> {
    static CHECKSUMS: Checksums = Checksums;
    let mut store = Inventory::new(machines(), start);
    check_snapshot(&store)?;
    let ranked = rank_grid(&store, &IndexConfig::default(), Lottery::Recorded);
    let first = ranked.ranking.ranks().iter().position(|&r| r == 1).unwrap_or(0);
    let best = String::from(store.device(first).id());

    let mut engine = Engine::default();
    engine.register_application(&CHECKSUMS);
    let mut now = start;
    for m in &mut store.machines {
        m.handle = Some(engine.register_device(now, Device::from_view(&*m), &m.owner)?);
    }

    let mut job = JobSpec::new("checksums-30", 30);
    job.application = String::from("checksums");
    job.replication = Some(ReplicationGoal::R(2.0));
    let mut events = Vec::new();
    engine.submit_job(now, job.clone(), "lab", &mut events)?;
    let copies = match events.last() {
        Some(Event::JobAccepted { copies, .. }) => *copies,
        _ => 0,
    };
    let chunks = CHECKSUMS.split(&job).map_err(|_| EmbedError::Stalled)?;

    let mut sums: BTreeMap<AttemptId, u64> = BTreeMap::new();
    let mut caught = 0;
    for _round in 0..1_000 {
        now = now.add_millis(1_000);
        for m in store.machines.iter().filter(|m| m.up) {
            let Some(device) = m.handle else { continue };
            let Pulled::Task { task, attempt, .. } = engine.pull(now, device)? else { continue };
            let sum = Checksums::work(&chunks[task as usize]) + u64::from(m.faulty);
            sums.insert(attempt, sum);
            let result = ResultMeta { size: 1, digest: format!("{sum:x}").into(), ..ResultMeta::default() };
            events.clear();
            engine.report(now, device, attempt, result, &mut events)?;
            for e in &events {
                match e {
                    Event::AttemptChanged { state: AttemptState::Incorrect, .. } => caught += 1,
                    Event::JobCompleted { job, results, .. } => {
                        let total = results.iter().map(|a| sums[a]).sum();
                        engine.release_job(now, *job)?;
                        return Ok(Summary { best, copies, caught, total });
                    }
                    _ => {}
                }
            }
        }
        events.clear();
        engine.tick(now, &mut events)?;
    }
    Err(EmbedError::Stalled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_job_completes_with_the_right_sum_and_the_faulty_machine_caught() {
        let summary = run(Timestamp(1_795_662_000_000)).unwrap_or_else(|e| panic!("{e}"));
        let expected: u64 = (0..30_000u64).map(|n| n * n % 65_521).sum();
        assert_eq!(summary.total, expected, "every chunk's verdict is an honest sum");
        assert_eq!(summary.copies, 60);
        assert!(summary.caught > 0, "rack2-a's sums disagree with their replicas");
        assert!(summary.best.starts_with("rack1-"), "an 8-core machine ranks first: {}", summary.best);
    }

    #[test]
    fn a_store_with_a_duplicate_id_is_refused() {
        let mut machines = machines();
        machines[0].name = String::from("rack1-a");
        let store = Inventory::new(machines, Timestamp(0));
        assert!(matches!(check_snapshot(&store), Err(GridError::DuplicateId(_))));
    }
}
