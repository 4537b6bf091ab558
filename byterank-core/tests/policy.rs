//! Distribution policies an embedder adds: the engine cuts pools and serves pulls
//! as the policy says, and refuses a job whose pools break the policy contract.

use byterank_core::application::{Chunk, Synthetic};
use byterank_core::device::Device;
use byterank_core::engine::{DeviceId, Engine, EngineConfig, Pulled, SubmitError};
use byterank_core::indexes::RankedGrid;
use byterank_core::job::{JobSpec, ReplicationGoal};
use byterank_core::plan::PlanError;
use byterank_core::policy::{Distribution, DistributionPolicy, Policy, Pools};
use byterank_core::pools::{PoolConfig, PoolParams};
use byterank_core::time::Timestamp;

/// Every device a pool of its own, worst rank first; `open` lets a device take
/// from every pool, the first first.
struct Singletons {
    open: bool,
}

impl DistributionPolicy for Singletons {
    fn name(&self) -> &str {
        if self.open {
            "singletons-open"
        } else {
            "singletons"
        }
    }
    fn pools(&self, _: &RankedGrid, _: &JobSpec, subset: &[u32], _: &PoolConfig) -> Pools {
        let pools: Vec<Vec<u32>> = subset.iter().rev().map(|&i| vec![i]).collect();
        Pools { params: PoolParams { c_min: 0.0, s_min: 1 }, used: pools.len(), pools }
    }
    fn first_pool(&self, own: usize) -> usize {
        if self.open {
            0
        } else {
            own
        }
    }
}

/// Puts the first device in two pools.
struct Twice;

impl DistributionPolicy for Twice {
    fn name(&self) -> &str {
        "twice"
    }
    fn pools(&self, _: &RankedGrid, _: &JobSpec, subset: &[u32], _: &PoolConfig) -> Pools {
        Pools { params: PoolParams { c_min: 0.0, s_min: 1 }, pools: vec![vec![subset[0]], vec![subset[0]]], used: 2 }
    }
}

static CLOSED: Singletons = Singletons { open: false };
static OPEN: Singletons = Singletons { open: true };
static TWICE: Twice = Twice;

const AT: Timestamp = Timestamp(1_795_662_000_000);

/// An engine under `policy` with four devices, best first (processor scores fall).
fn engine(policy: &'static dyn DistributionPolicy) -> (Engine, Vec<DeviceId>) {
    let mut cfg = EngineConfig::default();
    cfg.plan.distribution = Distribution::Custom(Policy(policy));
    let mut engine = Engine::new(cfg).unwrap();
    let devices = (0..4)
        .map(|i| {
            let device = Device { processor_score: Some(500.0 - 50.0 * f64::from(i)), ..Device::new(format!("d{i}")) };
            engine.register_device(AT, device, "o").unwrap()
        })
        .collect();
    engine.tick(AT, &mut Vec::new()).unwrap();
    (engine, devices)
}

fn one_copy(id: &str) -> JobSpec {
    let mut job = JobSpec::new(id, 1);
    job.replication = Some(ReplicationGoal::R(1.0));
    job
}

#[test]
fn the_job_gets_the_pools_the_policy_cut() {
    let (mut engine, devices) = engine(&CLOSED);
    let job = engine.submit_job(AT, one_copy("j"), "u", &mut Vec::new()).unwrap();
    // The ranking orders the devices; the policy puts the worst in pool 1.
    let mut by_rank = devices.clone();
    by_rank.sort_by_key(|&d| engine.rank(d));
    assert!(by_rank.iter().all(|&d| engine.rank(d) > 0));
    let expected: Vec<Vec<DeviceId>> = by_rank.iter().rev().map(|&d| vec![d]).collect();
    assert_eq!(engine.job_pools(job).unwrap(), &expected[..]);
    engine.audit().unwrap();
}

#[test]
fn a_pulling_device_starts_at_the_pool_the_policy_names() {
    for (policy, open) in [(&CLOSED, false), (&OPEN, true)] {
        let (mut engine, devices) = engine(policy);
        let job = engine.submit_job(AT, one_copy("j"), "u", &mut Vec::new()).unwrap();
        let pools = engine.job_pools(job).unwrap().to_vec();
        let (first, last) = (pools[0][0], pools[pools.len() - 1][0]);
        assert!(devices.contains(&first) && devices.contains(&last));
        // The one copy waits in pool 1; the device of the last pool may take it
        // only when the policy lets it start at pool 1.
        let got = engine.pull(AT, last).unwrap();
        assert_eq!(matches!(got, Pulled::Task { .. }), open, "{}: {got:?}", policy.name());
        if let Pulled::Task { task, attempt, .. } = got {
            let result = Synthetic::expected("j", &Chunk { index: task, offset: 0, len: 1 });
            engine.report(AT, last, attempt, result, &mut Vec::new()).unwrap();
        } else {
            assert!(matches!(engine.pull(AT, first).unwrap(), Pulled::Task { .. }));
        }
        engine.audit().unwrap();
    }
}

#[test]
fn pools_that_break_the_contract_refuse_the_job_and_change_nothing() {
    let (mut engine, _) = engine(&TWICE);
    let before = engine.clone();
    let mut out = Vec::new();
    let err = engine.submit_job(AT, one_copy("j"), "u", &mut out).unwrap_err();
    let SubmitError::Plan(plan) = err else { panic!("{err}") };
    assert!(matches!(&plan, PlanError::Policy { policy, .. } if policy == "twice"), "{plan}");
    assert!(plan.to_string().contains("two pools"), "{plan}");
    assert!(out.is_empty());
    assert_eq!(engine, before);
}

#[test]
fn a_shipped_policy_named_in_the_configuration_is_the_policy_itself() {
    use byterank_core::policy::{ByteRankPools, Fcfs, RandomPools};
    let shipped: [(Distribution, &dyn DistributionPolicy); 3] = [
        (Distribution::ByteRank, &ByteRankPools),
        (Distribution::Fcfs, &Fcfs),
        (Distribution::Random { seed: 3 }, &RandomPools { seed: 3 }),
    ];
    let (engine, _) = engine(&CLOSED);
    let ranked = byterank_core::indexes::rank_grid(
        &byterank_core::grid::Grid::new(AT, engine.live_devices().map(|(_, d)| d.clone()).collect()).unwrap(),
        &byterank_core::indexes::IndexConfig::default(),
        byterank_core::indexes::Lottery::Recorded,
    );
    let subset: Vec<u32> = (0..4).collect();
    let job = JobSpec::new("j", 4);
    for (named, policy) in shipped {
        assert_eq!(named.name(), policy.name());
        let cfg = PoolConfig::default();
        assert_eq!(named.pools(&ranked, &job, &subset, &cfg), policy.pools(&ranked, &job, &subset, &cfg));
    }
}
