//! Job plans over random grids and jobs: the invariants spec §8–§13 promise.

use byterank_core::device::{Connection, Device, DeviceClass, Region};
use byterank_core::grid::{Grid, GridSnapshot};
use byterank_core::indexes::{rank_grid, IndexConfig, Lottery};
use byterank_core::job::{ByteLevel, JobSpec, Regions, ReplicationGoal};
use byterank_core::plan::{plan_job, PlanConfig, PlanError};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;
use proptest::prelude::*;

const REGIONS: [Region; 3] = [Region::Americas, Region::Europe, Region::AsiaPacific];
const CLASSES: [DeviceClass; 4] = [DeviceClass::Phone, DeviceClass::Laptop, DeviceClass::Desktop, DeviceClass::Tablet];

fn device() -> impl Strategy<Value = Device> {
    (
        1.0..500.0f64,
        any::<bool>(),
        prop::option::of(0usize..3),
        0usize..4,
        prop::bool::weighted(0.05),
        0u32..4,
        prop::option::of(prop::sample::select(vec!["1.0.0", "1.2.0", "1.4.0", "junk"])),
    )
        .prop_map(|(proc, trusted, region, class, offline, failures, version)| {
            let mut d = Device {
                processor_score: Some(proc),
                trusted,
                region: region.map(|r| REGIONS[r]),
                class: Some(CLASSES[class]),
                online: Some(!offline),
                connection: Some(Connection::Wifi),
                app_version: version.map(String::from),
                ..Device::default()
            };
            for k in 0..4 {
                d.faults.push(byterank_core::fault::Outcome { failed: k < failures, ..Default::default() });
            }
            d
        })
}

fn grid() -> impl Strategy<Value = Grid> {
    prop::collection::vec(device(), 0..120).prop_map(|devices| {
        let devices = devices.into_iter().enumerate().map(|(i, d)| Device { id: format!("d{i:03}"), ..d }).collect();
        Grid::new(Timestamp::EPOCH, devices).unwrap()
    })
}

fn job() -> impl Strategy<Value = JobSpec> {
    (
        1u64..300,
        any::<bool>(),
        prop::option::of(prop::collection::btree_set(0usize..3, 1..3)),
        prop::sample::select(vec![ByteLevel::Low, ByteLevel::Balanced, ByteLevel::High]),
        prop_oneof![
            Just(None),
            (1.0..3.0f64).prop_map(|r| Some(ReplicationGoal::R(r))),
            (0.001..0.5f64).prop_map(|d| Some(ReplicationGoal::MaxPjf(d)))
        ],
        0u64..1_000_000,
        any::<bool>(),
    )
        .prop_map(|(chunks, trusted, regions, level, replication, price, versioned)| {
            let mut j = JobSpec::new("job", chunks);
            j.preferences.trusted = trusted;
            j.preferences.regions = match regions {
                None => Regions::Any,
                Some(set) => Regions::Only(set.into_iter().map(|r| REGIONS[r]).collect()),
            };
            j.preferences.byte_level = level;
            j.replication = replication;
            j.price_chips = ByteChips(price);
            if versioned {
                j.requirements.app_version = Some(semver::VersionReq::parse(">=1.2.0").unwrap());
            }
            j
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn plans_keep_every_promise(grid in grid(), job in job()) {
        let ranked = rank_grid(&grid, &IndexConfig::default(), Lottery::Recorded);
        // Eligibility, written out independently: active, trusted when asked, in an
        // allowed region, with an app version in the range; in rank order.
        let min_version = semver::Version::new(1, 2, 0);
        let eligible = |i: u32| {
            let d = grid.device(i as usize);
            (!job.preferences.trusted || d.trusted)
                && job.preferences.regions.allows(d.region)
                && (job.requirements.app_version.is_none()
                    || d.app_version.as_deref().and_then(|v| semver::Version::parse(v).ok()).is_some_and(|v| v >= min_version))
        };
        let expected: Vec<u32> = ranked.ranking.order().iter().copied().filter(|&i| eligible(i)).collect();
        let plan = match plan_job(&ranked, &job, &PlanConfig::default()) {
            Ok(p) => p,
            Err(PlanError::NoEligibleDevice { .. }) => {
                prop_assert!(expected.is_empty());
                return Ok(());
            }
            Err(e) => return Err(TestCaseError::fail(e.to_string())),
        };
        prop_assert_eq!(&plan.target_subset, &expected);
        // Trusted jobs never target untrusted devices; regions hold; ranks ascend.
        let mut last_rank = 0;
        for &i in &plan.target_subset {
            let d = grid.device(i as usize);
            prop_assert!(!job.preferences.trusted || d.trusted);
            prop_assert!(job.preferences.regions.allows(d.region));
            let rank = ranked.ranking.rank(i as usize);
            prop_assert!(rank > last_rank);
            last_rank = rank;
        }
        // Pools partition the subset, in order, pool 1 first.
        let flat: Vec<u32> = plan.pools.iter().flatten().copied().collect();
        prop_assert_eq!(&flat, &plan.target_subset);
        prop_assert!(plan.pools_used >= 1 && plan.pools_used <= plan.pools.len());
        if job.preferences.byte_level == ByteLevel::High {
            prop_assert_eq!(plan.pools_used, plan.pools.len());
        }
        // Queues: one per used pool, M copies in all, every task at least once, no
        // pool with more copies of a task than it has devices, lengths within one
        // where no pool is that small, replicas numbered 0.. per task.
        prop_assert_eq!(plan.queues.len(), plan.pools_used);
        let lens: Vec<usize> = plan.queues.iter().map(Vec::len).collect();
        prop_assert_eq!(lens.iter().sum::<usize>(), plan.replication.copies);
        let m = job.chunks.unwrap() as usize;
        let mut per_task = vec![0u32; m];
        for (k, q) in plan.queues.iter().enumerate() {
            let mut here = std::collections::BTreeMap::<u32, usize>::new();
            for c in q {
                per_task[c.task as usize] += 1;
                *here.entry(c.task).or_default() += 1;
            }
            prop_assert!(here.values().all(|&n| n <= plan.pools[k].len()), "pool {} holds too many copies", k + 1);
        }
        prop_assert!(per_task.iter().all(|&n| n >= 1));
        let most = *per_task.iter().max().unwrap() as usize;
        if plan.pools[..plan.pools_used].iter().all(|p| p.len() >= most) {
            prop_assert!(lens.iter().max().unwrap() - lens.iter().min().unwrap() <= 1);
        }
        // A copy goes unplaced only when its task already has one on every device.
        let devices: usize = plan.pools[..plan.pools_used].iter().map(Vec::len).sum();
        prop_assert!(plan.replication.unplaced == 0 || most == devices);
        let mut replicas: Vec<Vec<u32>> = vec![Vec::new(); m];
        for c in plan.queues.iter().flatten() {
            replicas[c.task as usize].push(c.replica);
        }
        for mut r in replicas {
            r.sort_unstable();
            prop_assert_eq!(r.clone(), (0..r.len() as u32).collect::<Vec<_>>());
        }
        // Replication: r = M / m, a fixed r is honoured, a met bound holds.
        prop_assert!(plan.replication.copies >= m);
        match job.replication {
            Some(ReplicationGoal::R(r)) => prop_assert_eq!(
                plan.replication.copies + plan.replication.unplaced,
                (r * m as f64).floor() as usize
            ),
            Some(ReplicationGoal::MaxPjf(d)) if plan.replication.achievable => prop_assert!(plan.replication.pjf <= d),
            _ => {}
        }
        // Money: bounties sum to the workers' 70%, which with the platform's 30% is the price.
        prop_assert_eq!(plan.bounties.iter().copied().sum::<ByteChips>(), plan.split.workers);
        prop_assert_eq!(plan.split.workers + plan.split.platform, job.price_chips);
        // The same inputs give the same plan.
        prop_assert_eq!(plan_job(&ranked, &job, &PlanConfig::default()).unwrap(), plan);
    }
}

#[test]
fn a_job_nobody_can_take_says_why() {
    let grid = Grid::new(
        Timestamp::EPOCH,
        vec![Device::new("a"), Device { trusted: true, online: Some(false), ..Device::new("b") }],
    )
    .unwrap();
    let ranked = rank_grid(&grid, &IndexConfig::default(), Lottery::Recorded);
    let mut job = JobSpec::new("secret", 3);
    job.preferences.trusted = true;
    let e = plan_job(&ranked, &job, &PlanConfig::default()).unwrap_err().to_string();
    assert_eq!(e, "job `secret`: no active device meets its requirements (1 untrusted, 1 inactive); relax the preferences or wait for devices");
}

#[test]
fn the_baseline_distributions_keep_the_subset_and_drop_the_ranking() {
    use byterank_core::plan::Distribution;
    let devices: Vec<Device> = (0..200)
        .map(|i| Device { processor_score: Some(1.0 + f64::from(i) * 2.0), ..Device::new(format!("d{i:03}")) })
        .collect();
    let grid = Grid::new(Timestamp::EPOCH, devices).unwrap();
    let ranked = rank_grid(&grid, &IndexConfig::default(), Lottery::Recorded);
    let mut job = JobSpec::new("j", 100);
    job.preferences.byte_level = ByteLevel::High;
    job.replication = Some(ReplicationGoal::R(2.0));
    let with = |distribution| plan_job(&ranked, &job, &PlanConfig { distribution, ..PlanConfig::default() }).unwrap();
    let paper = with(Distribution::ByteRank);
    let sorted = |p: &byterank_core::plan::JobPlan| {
        let mut all: Vec<u32> = p.pools.iter().flatten().copied().collect();
        all.sort_unstable();
        all
    };
    // FCFS: one queue for the whole subset, every copy in it, in task order.
    let fcfs = with(Distribution::Fcfs);
    assert_eq!((fcfs.pools.len(), fcfs.pools_used, fcfs.queues.len()), (1, 1, 1));
    assert_eq!(fcfs.pools[0], paper.target_subset);
    assert_eq!(fcfs.queues[0].len(), 200);
    // Random: pools of the same subset, not in rank order, the same for a seed.
    let random = with(Distribution::Random { seed: 5 });
    assert_eq!(sorted(&random), sorted(&paper));
    assert_ne!(random.pools, paper.pools);
    assert_eq!(random, with(Distribution::Random { seed: 5 }));
    assert_ne!(random.pools, with(Distribution::Random { seed: 6 }).pools);
}

#[test]
fn a_hosts_snapshot_is_checked_against_the_contract() {
    use byterank_core::grid::{check_snapshot, GridError};
    struct Store(Vec<Device>);
    impl GridSnapshot for Store {
        fn now(&self) -> Timestamp {
            Timestamp::EPOCH
        }
        fn len(&self) -> usize {
            self.0.len()
        }
        fn device(&self, i: usize) -> &Device {
            &self.0[i]
        }
    }
    assert_eq!(check_snapshot(&Store(vec![Device::new("a"), Device::new("b")])), Ok(()));
    assert!(matches!(
        check_snapshot(&Store(vec![Device::new("b"), Device::new("a")])),
        Err(GridError::Unsorted { index: 1, .. })
    ));
    assert_eq!(
        check_snapshot(&Store(vec![Device::new("a"), Device::new("a")])),
        Err(GridError::DuplicateId("a".into()))
    );
    let nan = Device { processor_score: Some(f64::NAN), ..Device::new("n") };
    assert!(matches!(check_snapshot(&Store(vec![nan])), Err(GridError::Device(_))));
}
