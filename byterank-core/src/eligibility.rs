//! Eligibility: the target subset of a job (§3.3.4.1 of the paper; spec §8).
//!
//! A device is eligible for a job when it is active (ByteRank > 0) and meets every
//! requirement the job sets: allowed regions, trusted processing, preferred
//! hardware (classes, GPU, connection types), an app version in the job's semver
//! range, and the worker's own data cap (a task must fit in what is left of it).
//! The target subset keeps ByteRank order.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::device::{Connection, DeviceClass, Region};
use crate::device_view::DeviceView;
use crate::grid::GridSnapshot;
use crate::job::{JobSpec, Work};
use crate::rank::Ranking;
use crate::worker::WorkerPrefs;

/// Bytes in the megabyte of data caps (decimal, as networks count).
pub const BYTES_PER_MB: f64 = 1_000_000.0;

/// Why a device may not take a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Ineligible {
    /// Flagged (ByteRank 0).
    Inactive,
    /// Outside the job's allowed regions (or region unknown).
    Region,
    /// The job needs trusted processing and the device is not trusted.
    Untrusted,
    /// Not one of the job's device classes (or class unknown).
    Class,
    /// The job needs a GPU.
    NoGpu,
    /// Not on one of the job's connection types (or connection unknown).
    Connection,
    /// App version missing, unreadable, or outside the job's range.
    AppVersion,
    /// A task would exceed what is left of the worker's data cap.
    DataCap,
}

impl Ineligible {
    /// The reason's name, as errors print it.
    pub fn name(self) -> &'static str {
        match self {
            Ineligible::Inactive => "inactive",
            Ineligible::Region => "region",
            Ineligible::Untrusted => "untrusted",
            Ineligible::Class => "class",
            Ineligible::NoGpu => "no_gpu",
            Ineligible::Connection => "connection",
            Ineligible::AppVersion => "app_version",
            Ineligible::DataCap => "data_cap",
        }
    }
}

/// What eligibility reads of a device, packed (16 bytes), so that planning a job
/// scans a dense array instead of the whole device records. Built once per
/// snapshot, with the grid indexes.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Traits {
    /// Data the worker still allows, MB (infinite when uncapped; `null` in JSON).
    #[cfg_attr(feature = "serde", serde(with = "finite_or_null"))]
    pub data_left_mb: f64,
    /// Index into [`EligibilityIndex::versions`]; `u16::MAX` when missing.
    pub version: u16,
    /// Region, if known.
    pub region: Option<Region>,
    /// Device class, if known.
    pub class: Option<DeviceClass>,
    /// Local link, if known.
    pub connection: Option<Connection>,
    /// Verified for trusted processing.
    pub trusted: bool,
    /// Has a GPU.
    pub gpu: bool,
}

/// JSON has no infinity: an uncapped data allowance is written as `null`.
#[cfg(feature = "serde")]
mod finite_or_null {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
        x.is_finite().then_some(*x).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
        Ok(Option::<f64>::deserialize(d)?.unwrap_or(f64::INFINITY))
    }
}

/// The eligibility traits of every device of a snapshot, by device index, and the
/// distinct app versions they name (parsed once).
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct EligibilityIndex {
    traits: Vec<Traits>,
    versions: Vec<Option<semver::Version>>,
}

impl EligibilityIndex {
    /// Reads the traits of every device of `grid`.
    pub fn new<G: GridSnapshot + ?Sized>(grid: &G) -> EligibilityIndex {
        // Keyed by owned strings: a view's version lives no longer than the view.
        let mut ids: BTreeMap<String, u16> = BTreeMap::new();
        let mut versions = Vec::new();
        let traits = (0..grid.len())
            .map(|i| {
                let d = grid.device(i);
                let version = match d.app_version() {
                    None => u16::MAX,
                    Some(v) => match ids.get(v) {
                        Some(&known) => known,
                        None => {
                            versions.push(semver::Version::parse(v).ok());
                            // More than 65,535 distinct versions: the rest count as unreadable.
                            let k = u16::try_from(versions.len() - 1).unwrap_or(u16::MAX);
                            ids.insert(v.into(), k);
                            k
                        }
                    },
                };
                traits_of(&d, version)
            })
            .collect();
        EligibilityIndex { traits, versions }
    }

    /// The traits of the device at `index`.
    pub fn traits(&self, index: usize) -> &Traits {
        &self.traits[index]
    }

    /// The distinct app versions named in the snapshot (`None`: not semver).
    pub fn versions(&self) -> &[Option<semver::Version>] {
        &self.versions
    }

    /// For each distinct version, whether `job` accepts it.
    fn accepted_versions(&self, job: &JobSpec) -> Vec<bool> {
        self.versions
            .iter()
            .map(|v| match (&job.requirements.app_version, v) {
                (None, _) => true,
                (Some(req), Some(v)) => req.matches(v),
                (Some(_), None) => false,
            })
            .collect()
    }
}

/// Checks one device's traits against a job, rank aside. `accepted[v]` says
/// whether the job accepts version `v` of the index.
pub fn check(t: &Traits, job: &JobSpec, work: &Work, accepted: &[bool]) -> Result<(), Ineligible> {
    let version_ok = || accepted.get(usize::from(t.version)).copied().unwrap_or(false);
    check_traits(t, job, work.chunk_bytes, version_ok)
}

/// Checks one device's current state against a job, rank aside: what a pull asks
/// of the device that pulls, so that a device whose region, trust or hardware
/// changed since the last ranking gets no task it may no longer take.
pub fn check_device<V: DeviceView + ?Sized>(d: &V, job: &JobSpec, chunk_bytes: Option<u64>) -> Result<(), Ineligible> {
    check_traits(&traits_of(d, 0), job, chunk_bytes, || version_accepted(job, d.app_version()))
}

/// Whether `job` accepts a device reporting this app version.
pub(crate) fn version_accepted(job: &JobSpec, version: Option<&str>) -> bool {
    match (&job.requirements.app_version, version) {
        (None, _) => true,
        (Some(req), Some(v)) => semver::Version::parse(v).is_ok_and(|v| req.matches(&v)),
        (Some(_), None) => false,
    }
}

/// What eligibility reads of one device; `version` is its index among the app
/// versions of an [`EligibilityIndex`] (any value where none is kept).
pub(crate) fn traits_of<V: DeviceView + ?Sized>(d: &V, version: u16) -> Traits {
    Traits {
        data_left_mb: d.worker().map_or(f64::INFINITY, WorkerPrefs::data_left_mb),
        version,
        region: d.region(),
        class: d.class(),
        connection: d.connection(),
        trusted: d.trusted(),
        gpu: d.gpu().is_some_and(|g| !g.is_empty()),
    }
}

/// The checks of [`check`] on traits, with the app version judged by `version_ok`.
pub(crate) fn check_traits(
    t: &Traits,
    job: &JobSpec,
    chunk_bytes: Option<u64>,
    version_ok: impl FnOnce() -> bool,
) -> Result<(), Ineligible> {
    let prefs = &job.preferences;
    if !prefs.regions.allows(t.region) {
        return Err(Ineligible::Region);
    }
    if prefs.trusted && !t.trusted {
        return Err(Ineligible::Untrusted);
    }
    let hw = &prefs.hardware;
    if !hw.classes.is_empty() && !t.class.is_some_and(|c| hw.classes.contains(&c)) {
        return Err(Ineligible::Class);
    }
    if hw.gpu && !t.gpu {
        return Err(Ineligible::NoGpu);
    }
    if !hw.connections.is_empty() && !t.connection.is_some_and(|c| hw.connections.contains(&c)) {
        return Err(Ineligible::Connection);
    }
    if job.requirements.app_version.is_some() && !version_ok() {
        return Err(Ineligible::AppVersion);
    }
    if chunk_bytes.is_some_and(|bytes| bytes as f64 / BYTES_PER_MB > t.data_left_mb) {
        return Err(Ineligible::DataCap);
    }
    Ok(())
}

/// The target subset: indices of the active devices eligible for `job`, best rank
/// first. Devices are checked in index order over the dense traits, then the rank
/// order is filtered through the resulting bit set.
pub fn target_subset(index: &EligibilityIndex, ranking: &Ranking, job: &JobSpec, work: &Work) -> Vec<u32> {
    let accepted = index.accepted_versions(job);
    let mut ok = alloc::vec![0u64; index.traits.len().div_ceil(64)];
    for (i, t) in index.traits.iter().enumerate() {
        if ranking.rank(i) > 0 && check(t, job, work, &accepted).is_ok() {
            ok[i / 64] |= 1 << (i % 64);
        }
    }
    ranking.order().iter().copied().filter(|&i| ok[i as usize / 64] >> (i % 64) & 1 == 1).collect()
}

/// Why each device is or is not in the target subset, by device index.
pub fn explain(index: &EligibilityIndex, ranking: &Ranking, job: &JobSpec, work: &Work) -> Vec<Result<(), Ineligible>> {
    let accepted = index.accepted_versions(job);
    index
        .traits
        .iter()
        .enumerate()
        .map(|(i, t)| if ranking.rank(i) == 0 { Err(Ineligible::Inactive) } else { check(t, job, work, &accepted) })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::device::Device;
    use crate::grid::Grid;
    use crate::indexes::{rank_grid, IndexConfig, Lottery};
    use crate::job::Regions;
    use crate::time::Timestamp;
    use crate::worker::WorkerPrefs;
    use alloc::vec;

    fn ok(d: &Device, job: &JobSpec) -> Result<(), Ineligible> {
        let grid = Grid::new(Timestamp::EPOCH, vec![d.clone()]).unwrap();
        let index = EligibilityIndex::new(&grid);
        check(index.traits(0), job, &job.work().unwrap(), &index.accepted_versions(job))
    }

    #[test]
    fn each_requirement() {
        let mut job = JobSpec::new("j", 4);
        let mut d = Device::new("d");
        assert_eq!(ok(&d, &job), Ok(()), "no requirement: every active device");
        job.preferences.regions = Regions::Only(vec![Region::Europe]);
        assert_eq!(ok(&d, &job), Err(Ineligible::Region));
        d.region = Some(Region::Europe);
        job.preferences.trusted = true;
        assert_eq!(ok(&d, &job), Err(Ineligible::Untrusted));
        d.trusted = true;
        job.preferences.hardware.classes = vec![DeviceClass::Desktop];
        assert_eq!(ok(&d, &job), Err(Ineligible::Class));
        d.class = Some(DeviceClass::Desktop);
        job.preferences.hardware.gpu = true;
        assert_eq!(ok(&d, &job), Err(Ineligible::NoGpu));
        d.gpu = Some("RTX".into());
        job.preferences.hardware.connections = vec![Connection::Ethernet];
        assert_eq!(ok(&d, &job), Err(Ineligible::Connection));
        d.connection = Some(Connection::Ethernet);
        job.requirements.app_version = Some(semver::VersionReq::parse(">=1.2.0").unwrap());
        assert_eq!(ok(&d, &job), Err(Ineligible::AppVersion));
        d.app_version = Some("1.1.0".into());
        assert_eq!(ok(&d, &job), Err(Ineligible::AppVersion));
        d.app_version = Some("1.4.0".into());
        assert_eq!(ok(&d, &job), Ok(()));
    }

    #[test]
    fn data_cap_bounds_the_task_size() {
        let mut job = JobSpec::new("j", 1);
        job.chunks = None;
        job.input_bytes = Some(10_000_000);
        job.chunk_bytes = Some(3_000_000);
        let mut d = Device::new("d");
        d.worker = Some(WorkerPrefs { data_cap_mb: Some(5.0), data_used_mb: 2.5, ..WorkerPrefs::default() });
        assert_eq!(ok(&d, &job), Err(Ineligible::DataCap), "3 MB tasks, 2.5 MB left");
        d.worker.as_mut().unwrap().data_used_mb = 2.0;
        assert_eq!(ok(&d, &job), Ok(()));
    }

    #[test]
    fn subset_keeps_rank_order_and_drops_inactive() {
        let devices = (0..6)
            .map(|i| Device {
                processor_score: Some(100.0 * f64::from(i)),
                trusted: i % 2 == 0,
                online: Some(i != 4),
                ..Device::new(alloc::format!("d{i}"))
            })
            .collect();
        let grid = Grid::new(Timestamp::EPOCH, devices).unwrap();
        let ranked = rank_grid(&grid, &IndexConfig::default(), Lottery::Recorded);
        let mut job = JobSpec::new("j", 3);
        job.preferences.trusted = true;
        let work = job.work().unwrap();
        assert_eq!(target_subset(&ranked.eligibility, &ranked.ranking, &job, &work), vec![2, 0], "d4 is offline");
        let why = explain(&ranked.eligibility, &ranked.ranking, &job, &work);
        assert_eq!(why[4], Err(Ineligible::Inactive));
        assert_eq!(why[5], Err(Ineligible::Untrusted));
    }
}
