//! Job plans over random grids and jobs: the invariants spec §8–§13 promise.

use byterank_core::device::{Connection, Device, DeviceClass, NetworkCategory, Region};
use byterank_core::device_view::DeviceView;
use byterank_core::grid::{check_snapshot, Grid, GridError, GridSnapshot};
use byterank_core::indexes::{rank_grid, IndexConfig, Lottery, RankedGrid};
use byterank_core::job::{ByteLevel, JobSpec, Regions, ReplicationGoal};
use byterank_core::plan::{plan_job, PlanConfig, PlanError};
use byterank_core::reward::ByteChips;
use byterank_core::time::Timestamp;
use byterank_core::worker::WorkerPrefs;
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

/// A host's own record of a machine, in its own layout and units: fewer fields
/// than a `Device`, some of them converted or derived when the core reads them.
#[derive(Clone, Debug)]
struct Row {
    serial: String,
    cores: u32,
    wired: bool,
    /// Download and upload, Mbps.
    link: Option<(f64, f64)>,
    free_ram_gb: Option<f64>,
    battery: Option<f64>,
    /// Core temperature, degrees Celsius.
    temp_c: Option<f64>,
    site: Option<Region>,
    vouched: bool,
    agent: Option<&'static str>,
    down: bool,
    history: byterank_core::fault::FaultHistory,
    /// When it last started a task.
    last_task: Option<Timestamp>,
    won: bool,
    cap_mb: Option<f64>,
}

/// The host's store: rows in arrival order, an index of them by serial, and the
/// instant, from which each view derives the hours since the last task.
struct Store {
    rows: Vec<Row>,
    by_serial: Vec<usize>,
    now: Timestamp,
}

impl Store {
    fn new(rows: Vec<Row>, now: Timestamp) -> Store {
        let mut by_serial: Vec<usize> = (0..rows.len()).collect();
        by_serial.sort_by(|&a, &b| rows[a].serial.cmp(&rows[b].serial));
        Store { rows, by_serial, now }
    }

    /// The store with its rows taken in arrival order, sorted or not (to test
    /// `check_snapshot`).
    fn unindexed(rows: Vec<Row>) -> Store {
        Store { by_serial: (0..rows.len()).collect(), rows, now: Timestamp::EPOCH }
    }
}

/// A row as the core reads it: a view by value, holding the snapshot's instant.
struct RowView<'a> {
    row: &'a Row,
    now: Timestamp,
    worker: Option<WorkerPrefs>,
}

impl DeviceView for RowView<'_> {
    fn id(&self) -> &str {
        &self.row.serial
    }
    fn online(&self) -> Option<bool> {
        Some(!self.row.down)
    }
    fn processor_score(&self) -> Option<f64> {
        Some(f64::from(self.row.cores) * 25.0)
    }
    fn network_category(&self) -> Option<NetworkCategory> {
        Some(if self.row.wired { NetworkCategory::Fiber } else { NetworkCategory::Mobile })
    }
    fn connection(&self) -> Option<Connection> {
        Some(if self.row.wired { Connection::Ethernet } else { Connection::Cellular })
    }
    fn download_mbps(&self) -> Option<f64> {
        self.row.link.map(|(down, _)| down)
    }
    fn upload_mbps(&self) -> Option<f64> {
        self.row.link.map(|(_, up)| up)
    }
    fn ram_available_mb(&self) -> Option<f64> {
        self.row.free_ram_gb.map(|gb| gb * 1024.0)
    }
    fn battery_pct(&self) -> Option<f64> {
        self.row.battery
    }
    fn temperature_f(&self) -> Option<f64> {
        self.row.temp_c.map(|c| c * 9.0 / 5.0 + 32.0)
    }
    fn region(&self) -> Option<Region> {
        self.row.site
    }
    fn trusted(&self) -> bool {
        self.row.vouched
    }
    fn app_version(&self) -> Option<&str> {
        self.row.agent
    }
    fn class(&self) -> Option<DeviceClass> {
        Some(DeviceClass::Desktop)
    }
    fn faults(&self) -> byterank_core::fault::FaultHistory {
        self.row.history
    }
    fn hours_since_last_task(&self) -> Option<f64> {
        self.row.last_task.map(|t| (self.now.millis() - t.millis()) as f64 / 3_600_000.0)
    }
    fn lottery_winner(&self) -> bool {
        self.row.won
    }
    fn worker(&self) -> Option<&WorkerPrefs> {
        self.worker.as_ref()
    }
}

impl GridSnapshot for Store {
    type Device<'a> = RowView<'a>;
    fn now(&self) -> Timestamp {
        self.now
    }
    fn len(&self) -> usize {
        self.rows.len()
    }
    fn device(&self, index: usize) -> RowView<'_> {
        let row = &self.rows[self.by_serial[index]];
        let worker = row.cap_mb.map(|cap| WorkerPrefs { data_cap_mb: Some(cap), ..WorkerPrefs::default() });
        RowView { row, now: self.now, worker }
    }
}

/// The `Device` a row describes, written out field by field, independently of the
/// view.
fn device_of(r: &Row, now: Timestamp) -> Device {
    Device {
        online: Some(!r.down),
        processor_score: Some(f64::from(r.cores) * 25.0),
        network_category: Some(if r.wired { NetworkCategory::Fiber } else { NetworkCategory::Mobile }),
        connection: Some(if r.wired { Connection::Ethernet } else { Connection::Cellular }),
        download_mbps: r.link.map(|l| l.0),
        upload_mbps: r.link.map(|l| l.1),
        ram_available_mb: r.free_ram_gb.map(|gb| gb * 1024.0),
        battery_pct: r.battery,
        temperature_f: r.temp_c.map(|c| c * 9.0 / 5.0 + 32.0),
        region: r.site,
        trusted: r.vouched,
        app_version: r.agent.map(String::from),
        class: Some(DeviceClass::Desktop),
        faults: r.history,
        hours_since_last_task: r.last_task.map(|t| (now.millis() - t.millis()) as f64 / 3_600_000.0),
        lottery_winner: r.won,
        worker: r.cap_mb.map(|cap| WorkerPrefs { data_cap_mb: Some(cap), ..WorkerPrefs::default() }),
        ..Device::new(r.serial.clone())
    }
}

fn row() -> impl Strategy<Value = Row> {
    (
        (1u32..20, any::<bool>(), prop::option::of((0.0..1000.0f64, 0.0..500.0f64)), prop::option::of(0.0..16.0f64)),
        (prop::option::of(0.0..=100.0f64), prop::option::of(20.0..60.0f64), prop::option::of(0usize..3)),
        (
            any::<bool>(),
            prop::option::of(prop::sample::select(vec!["1.0.0", "1.2.0", "1.4.0", "junk"])),
            prop::bool::weighted(0.05),
        ),
        (0u32..4, prop::option::of(0i64..100), prop::bool::weighted(0.05), prop::option::of(0.0..2.0f64)),
    )
        .prop_map(|((cores, wired, link, ram), (battery, temp_c, site), (vouched, agent, down), rest)| {
            let (failures, idle_hours, won, cap_mb) = rest;
            let mut history = byterank_core::fault::FaultHistory::EMPTY;
            for k in 0..4 {
                history.push(byterank_core::fault::Outcome { failed: k < failures, ..Default::default() });
            }
            Row {
                serial: String::new(),
                cores,
                wired,
                link,
                free_ram_gb: ram,
                battery,
                temp_c,
                site: site.map(|r| REGIONS[r]),
                vouched,
                agent,
                down,
                history,
                last_task: idle_hours.map(|h| NOW.add_millis(-h * 3_600_000)),
                won,
                cap_mb,
            }
        })
}

const NOW: Timestamp = Timestamp(1_795_662_000_000);

/// Rows with unique serials, in an arrival order that is not their id order.
fn rows() -> impl Strategy<Value = Vec<Row>> {
    prop::collection::vec(row(), 0..120)
        .prop_map(|rows| rows.into_iter().enumerate().map(|(i, r)| Row { serial: format!("m{i:03}"), ..r }).collect())
        .prop_shuffle()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(100))]

    /// A host's store ranks and plans exactly as the `Grid` of the same devices.
    #[test]
    fn a_hosts_view_ranks_and_plans_as_the_grid_of_its_devices(rows in rows(), job in job(), seed in any::<u64>()) {
        let grid = Grid::new(NOW, rows.iter().map(|r| device_of(r, NOW)).collect()).unwrap();
        let store = Store::new(rows, NOW);
        prop_assert_eq!(check_snapshot(&store), Ok(()));
        let cfg = IndexConfig::default();
        for lottery in [Lottery::Recorded, Lottery::Draw(seed)] {
            let (ours, theirs) = (rank_grid(&store, &cfg, lottery), rank_grid(&grid, &cfg, lottery));
            prop_assert_eq!(&ours, &theirs);
            let plan = |ranked: &RankedGrid| plan_job(ranked, &job, &PlanConfig::default());
            prop_assert_eq!(plan(&ours), plan(&theirs));
        }
        for i in 0..grid.len() {
            prop_assert_eq!(Device::from_view(&store.device(i)), grid.device(i).clone());
        }
    }
}

#[test]
fn a_hosts_snapshot_is_checked_against_the_contract() {
    let row = plain_row;
    assert_eq!(check_snapshot(&Store::unindexed(vec![row("a"), row("b")])), Ok(()));
    assert_eq!(
        check_snapshot(&Store::unindexed(vec![row("a"), row("c"), row("b")])),
        Err(GridError::Unsorted { index: 2, id: "b".into(), before: "c".into() })
    );
    assert_eq!(check_snapshot(&Store::unindexed(vec![row("a"), row("a")])), Err(GridError::DuplicateId("a".into())));
    assert_eq!(check_snapshot(&Store::new(vec![row("b"), row("a")], Timestamp::EPOCH)), Ok(()), "the index sorts");
    // A NaN score, derived by the view from the host's field.
    let nan = Row { link: Some((f64::NAN, 1.0)), ..row("n") };
    let e = check_snapshot(&Store::unindexed(vec![row("a"), nan])).unwrap_err();
    assert!(matches!(&e, GridError::Device(d) if d.id == "n" && d.field == "download_mbps"), "{e}");
    let hot = Row { temp_c: Some(f64::INFINITY), ..row("t") };
    let e = check_snapshot(&Store::unindexed(vec![hot])).unwrap_err();
    assert!(matches!(&e, GridError::Device(d) if d.field == "temperature_f"), "{e}");
}

/// A row with only its serial and a few cores.
fn plain_row(serial: &str) -> Row {
    Row {
        serial: serial.into(),
        cores: 4,
        wired: true,
        link: None,
        free_ram_gb: None,
        battery: None,
        temp_c: None,
        site: None,
        vouched: false,
        agent: None,
        down: false,
        history: byterank_core::fault::FaultHistory::EMPTY,
        last_task: None,
        won: false,
        cap_mb: None,
    }
}
