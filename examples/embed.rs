//! The core embedded in another scheduler, as a host would do it: its own device
//! inventory, its own application, and the engine loop. The scheduler counts the
//! primes below 200,000 on a small cluster, in chunks of 5,000 numbers at r = 2;
//! one node returns wrong counts and is caught by replica comparison.
//!
//! `cargo run --example embed`. See docs/embedding.md for the walk-through.

use std::collections::BTreeMap;

use byterank::core::application::{Application, ApplicationError, Chunk, IntegrityError, ResultMeta};
use byterank::core::device::{Device, Region};
use byterank::core::device_view::DeviceView;
use byterank::core::engine::Pulled;
use byterank::core::grid::{check_snapshot, GridSnapshot};
use byterank::core::indexes::{rank_grid, IndexConfig, Lottery};
use byterank::core::job::{ByteLevel, JobSpec, ReplicationGoal};
use byterank::core::{AttemptId, DeviceId, Engine, Event, JobStatus, Timestamp};

/// The host's application: a job `{"chunks": N, "metadata": {"upto": "M"}}` counts
/// the primes below M, chunk `i` those in `[i*M/N, (i+1)*M/N)`. A result's digest is
/// the count in decimal.
struct Primes;

impl Primes {
    fn count(chunk: &Chunk) -> u64 {
        (chunk.offset..chunk.offset + chunk.len).filter(|&n| is_prime(n)).count() as u64
    }
}

fn is_prime(n: u64) -> bool {
    n >= 2 && (2..).take_while(|d| d * d <= n).all(|d| !n.is_multiple_of(d))
}

impl Application for Primes {
    fn name(&self) -> &'static str {
        "primes"
    }

    fn split(&self, job: &JobSpec) -> Result<Vec<Chunk>, ApplicationError> {
        let n = job.work()?.sizes.len() as u64;
        let upto: u64 = job.metadata.get("upto").and_then(|s| s.parse().ok()).unwrap_or(n);
        Ok((0..n)
            .map(|i| Chunk { index: i as u32, offset: i * upto / n, len: (i + 1) * upto / n - i * upto / n })
            .collect())
    }

    fn check(&self, chunk: &Chunk, result: &ResultMeta) -> Result<(), IntegrityError> {
        match result.digest.parse::<u64>() {
            Ok(count) if count <= chunk.len => Ok(()),
            _ => Err(IntegrityError::MalformedDigest {
                chunk: chunk.index,
                digest: result.digest.to_string(),
                rule: "a prime count in decimal, at most the chunk's length",
            }),
        }
    }
}

/// The host's own record of a machine, kept in its own store.
struct Node {
    name: &'static str,
    cores: u32,
    up: bool,
    lies: bool,
}

/// What the core reads of a node: its name, whether it is up, a processor score
/// derived from its cores, and the one site of the cluster; every other input is
/// missing and takes its default.
impl DeviceView for Node {
    fn id(&self) -> &str {
        self.name
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

/// The inventory at one instant, as the core ranks it: the nodes are kept in
/// name order, which is the order `GridSnapshot` asks for.
struct Cluster<'a> {
    nodes: &'a [Node],
    now: Timestamp,
}

impl GridSnapshot for Cluster<'_> {
    type Device<'b>
        = &'b Node
    where
        Self: 'b;
    fn now(&self) -> Timestamp {
        self.now
    }
    fn len(&self) -> usize {
        self.nodes.len()
    }
    fn device(&self, index: usize) -> &Node {
        &self.nodes[index]
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    static PRIMES: Primes = Primes;
    let mut engine = Engine::default();
    engine.register_application(&PRIMES);
    let mut now = Timestamp::parse_rfc3339("2026-12-02T09:00:00Z")?;

    // The host's inventory, registered with the engine; the engine's handles kept.
    let nodes = [
        Node { name: "rack1-a", cores: 8, up: true, lies: false },
        Node { name: "rack1-b", cores: 8, up: true, lies: false },
        Node { name: "rack2-a", cores: 4, up: true, lies: true },
        Node { name: "rack2-b", cores: 4, up: true, lies: false },
        Node { name: "spare", cores: 2, up: false, lies: false },
    ];
    // The core ranks the host's records where they are, once they keep the contract.
    let cluster = Cluster { nodes: &nodes, now };
    check_snapshot(&cluster)?;
    let ranked = rank_grid(&cluster, &IndexConfig::default(), Lottery::Recorded);
    let best = ranked.ranking.order().first().map_or("none", |&i| nodes[i as usize].name);
    println!("ranked over the inventory: {best} first, {} of {} nodes active", ranked.ranking.active(), nodes.len());
    // The engine keeps its own copy of each node.
    let mut handle: BTreeMap<&str, DeviceId> = BTreeMap::new();
    for node in &nodes {
        handle.insert(node.name, engine.register_device(now, Device::from_view(node), "ops")?);
    }
    // The operator vouches for one node: it may arbitrate disagreements.
    engine.set_trust(now, handle["rack1-a"], true)?;

    let mut job = JobSpec::new("primes-200k", 40);
    job.application = "primes".into();
    job.metadata.insert("upto".into(), "200000".into());
    job.replication = Some(ReplicationGoal::R(2.0));
    job.preferences.byte_level = ByteLevel::High;
    let mut events = Vec::new();
    let id = engine.submit_job(now, job.clone(), "research", &mut events)?;
    let Some(&Event::JobAccepted { copies, .. }) = events.last() else { return Err("not accepted".into()) };
    let chunks = Primes.split(&job)?;

    // The engine loop: each node pulls, works, reports; the host acts on events.
    let mut counts: BTreeMap<AttemptId, u64> = BTreeMap::new();
    let mut caught = 0;
    let total = 'run: loop {
        now = now.add_millis(1_000);
        for node in nodes.iter().filter(|n| n.up) {
            let device = handle[node.name];
            let Pulled::Task { task, attempt, .. } = engine.pull(now, device)? else { continue };
            let right = Primes::count(&chunks[task as usize]);
            let count = if node.lies { right + 1 } else { right };
            counts.insert(attempt, count);
            let result = ResultMeta { size: 1, digest: count.to_string().into(), metadata: BTreeMap::new() };
            events.clear();
            engine.report(now, device, attempt, result, &mut events)?;
            for e in &events {
                match e {
                    Event::AttemptChanged { state: byterank::core::AttemptState::Incorrect, .. } => caught += 1,
                    Event::JobCompleted { results, .. } => break 'run results.iter().map(|a| counts[a]).sum::<u64>(),
                    _ => {}
                }
            }
        }
        events.clear();
        engine.tick(now, &mut events)?;
        if engine.job_status(id) != Some(JobStatus::Running) {
            return Err("the job did not complete".into());
        }
    };
    let expected = (0..200_000).filter(|&n| is_prime(n)).count() as u64;
    assert_eq!(total, expected);
    println!("{copies} copies planned; {caught} wrong counts from rack2-a caught by replica comparison");
    println!("primes below 200000: {total} (checked against a direct count)");
    engine.release_job(now, id)?;
    Ok(())
}
