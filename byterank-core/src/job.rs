//! Jobs: what a user submits (Tables 4, 5 and 6 of the paper; spec §2b).
//!
//! A [`JobSpec`] names the application, says how much work there is (a number of
//! chunks, or an input size and a chunk size), what the job may cost, and the
//! user's preferences: ByteLevel, trusted processing, allowed regions, preferred
//! hardware. Requirements (§3.3.4.1) restrict the Worker App versions. Optional
//! blocks set the capacity-pool thresholds and the replication goal.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

use crate::device::{Connection, DeviceClass, Region};
use crate::reward::ByteChips;

/// A job as submitted.
#[derive(Clone, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(
    feature = "serde",
    serde(deny_unknown_fields, expecting = "a job object: {\"id\": \"...\", \"chunks\": N, ...}")
)]
pub struct JobSpec {
    /// Unique job id.
    pub id: String,
    /// The application that processes each chunk (e.g. `synthetic`, `gzip`).
    #[cfg_attr(feature = "serde", serde(default = "default_application"))]
    pub application: String,
    /// Number of equal chunks (alternative to `input_bytes` + `chunk_bytes`).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub chunks: Option<u64>,
    /// Size of the input, bytes.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub input_bytes: Option<u64>,
    /// Size of a chunk, bytes (the last chunk holds the rest).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub chunk_bytes: Option<u64>,
    /// What the user pays, in ByteChips.
    #[cfg_attr(feature = "serde", serde(default))]
    pub price_chips: ByteChips,
    /// Application parameters and metadata (Tables 4 and 5), passed through.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "BTreeMap::is_empty"))]
    pub metadata: BTreeMap<String, String>,
    /// The user's preferences (Table 6).
    #[cfg_attr(feature = "serde", serde(default))]
    pub preferences: Preferences,
    /// Compatibility requirements (§3.3.4.1).
    #[cfg_attr(feature = "serde", serde(default))]
    pub requirements: Requirements,
    /// Capacity-pool thresholds; missing ones take the documented defaults.
    #[cfg_attr(feature = "serde", serde(default))]
    pub pools: PoolSettings,
    /// The replication goal; missing means no replication (r = 1).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub replication: Option<ReplicationGoal>,
    /// Run even when the replication asked for cannot be met, its tasks that
    /// could not be cross-checked completing as unverified (default false: such
    /// a job is refused, or waits for devices when it sets `deadline_s`).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "core::ops::Not::not"))]
    pub accept_unverified: bool,
    /// Seconds from submission after which a job still running fails, naming
    /// its deadline; a job whose replication cannot be met yet waits for
    /// devices until then.
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub deadline_s: Option<u64>,
    /// The largest probability that a task's accepted result is wrong, from the
    /// credibility of the devices that agree on it (missing: the engine's
    /// `credibility.max_error`).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "Option::is_none"))]
    pub max_error: Option<f64>,
}

#[cfg(feature = "serde")]
fn default_application() -> String {
    String::from("synthetic")
}

/// How fast, and on how much of the grid, a job runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum ByteLevel {
    /// Slower: only the best pools, covering half of the target subset.
    Low,
    /// The default: the best pools covering three quarters of the target subset.
    #[default]
    Balanced,
    /// Fastest: every pool of the target subset.
    High,
}

/// The user's preferences (Table 6).
#[derive(Clone, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields, default))]
pub struct Preferences {
    /// Speed and priority.
    pub byte_level: ByteLevel,
    /// Only trusted (verified) devices may process the job.
    pub trusted: bool,
    /// Where the job may be processed.
    pub regions: Regions,
    /// Hardware the job must run on.
    pub hardware: Hardware,
}

/// Allowed regions: `["any"]` (the default) or a set of regions.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(try_from = "Vec<RegionName>", into = "Vec<RegionName>"))]
pub enum Regions {
    /// Anywhere.
    #[default]
    Any,
    /// Only these.
    Only(Vec<Region>),
}

/// One entry of the `regions` list: a region, or `any`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RegionName {
    /// Anywhere.
    Any,
    /// North and South America.
    Americas,
    /// Europe.
    Europe,
    /// Asia and the Pacific.
    AsiaPacific,
}

/// A `regions` list that means nothing.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`regions` must be [\"any\"] or a non-empty list of regions (americas, europe, asia_pacific), not both")]
pub struct RegionsError;

impl TryFrom<Vec<RegionName>> for Regions {
    type Error = RegionsError;
    fn try_from(names: Vec<RegionName>) -> Result<Self, Self::Error> {
        let any = names.contains(&RegionName::Any);
        match (any, names.len()) {
            (true, 1) => Ok(Regions::Any),
            (true, _) | (false, 0) => Err(RegionsError),
            (false, _) => Ok(Regions::Only(
                names
                    .into_iter()
                    .map(|n| match n {
                        RegionName::Americas => Region::Americas,
                        RegionName::Europe => Region::Europe,
                        RegionName::AsiaPacific => Region::AsiaPacific,
                        RegionName::Any => unreachable!("handled above"),
                    })
                    .collect(),
            )),
        }
    }
}

impl From<Regions> for Vec<RegionName> {
    fn from(r: Regions) -> Self {
        match r {
            Regions::Any => alloc::vec![RegionName::Any],
            Regions::Only(list) => list
                .into_iter()
                .map(|r| match r {
                    Region::Americas => RegionName::Americas,
                    Region::Europe => RegionName::Europe,
                    Region::AsiaPacific => RegionName::AsiaPacific,
                })
                .collect(),
        }
    }
}

impl Regions {
    /// Whether a device in `region` (unknown: `None`) may take the job. A device
    /// whose region is unknown qualifies only when any region is allowed.
    pub fn allows(&self, region: Option<Region>) -> bool {
        match (self, region) {
            (Regions::Any, _) => true,
            (Regions::Only(list), Some(r)) => list.contains(&r),
            (Regions::Only(_), None) => false,
        }
    }
}

/// Preferred hardware (Table 6): every part that is set must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields, default))]
pub struct Hardware {
    /// Allowed device classes; empty (the field left out) means any. In a job file
    /// an empty list is an error, as for `regions`: leave the field out for any.
    #[cfg_attr(feature = "serde", serde(deserialize_with = "non_empty", skip_serializing_if = "Vec::is_empty"))]
    pub classes: Vec<DeviceClass>,
    /// Whether a GPU is required (`false`: no requirement).
    pub gpu: bool,
    /// Allowed connection types; empty (the field left out) means any. In a job
    /// file an empty list is an error.
    #[cfg_attr(feature = "serde", serde(deserialize_with = "non_empty", skip_serializing_if = "Vec::is_empty"))]
    pub connections: Vec<Connection>,
}

/// A list that, when given, names at least one entry: `[]` would read as "none
/// allowed" to some and "any" to others.
#[cfg(feature = "serde")]
fn non_empty<'de, D: serde::Deserializer<'de>, T: serde::Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    let list = <Vec<T> as serde::Deserialize>::deserialize(d)?;
    if list.is_empty() {
        return Err(serde::de::Error::custom("an empty list allows nothing; leave the field out to allow any"));
    }
    Ok(list)
}

/// Compatibility requirements (§3.3.4.1).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields, default))]
pub struct Requirements {
    /// Accepted Worker App versions, a Cargo-style semver range (`>=1.2.0`,
    /// `^1.4`, `>=1.2, <2`); missing means any version.
    #[cfg_attr(feature = "serde", serde(with = "version_req"))]
    pub app_version: Option<semver::VersionReq>,
}

#[cfg(feature = "serde")]
mod version_req {
    use alloc::string::{String, ToString};
    use serde::{de, Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(v: &Option<semver::VersionReq>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(r) => s.serialize_str(&r.to_string()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<semver::VersionReq>, D::Error> {
        match Option::<String>::deserialize(d)? {
            None => Ok(None),
            Some(s) => semver::VersionReq::parse(&s)
                .map(Some)
                .map_err(|e| de::Error::custom(alloc::format!("`{s}` is not a semver range like \">=1.2.0\": {e}"))),
        }
    }
}

/// Capacity-pool thresholds (Algorithm 2); missing ones take the defaults of
/// [`pools`](crate::pools).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields, default))]
pub struct PoolSettings {
    /// Least cumulative capacity of a pool.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub c_min: Option<f64>,
    /// Least number of devices in a pool.
    #[cfg_attr(feature = "serde", serde(skip_serializing_if = "Option::is_none"))]
    pub s_min: Option<usize>,
}

/// How much replication a job wants: `{"max_pjf": 0.01}` or `{"r": 2}`, one of them.
#[derive(Clone, Copy, Debug, PartialEq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", try_from = "GoalFile"))]
pub enum ReplicationGoal {
    /// Solve for the least r whose probability of joint failure is at most this.
    MaxPjf(f64),
    /// A fixed replication factor (1 means none).
    R(f64),
}

/// The `replication` block as written, so that giving both goals or neither gets
/// its own message.
#[cfg(feature = "serde")]
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct GoalFile {
    max_pjf: Option<f64>,
    r: Option<f64>,
}

/// A `replication` block without exactly one goal.
#[cfg(feature = "serde")]
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("`replication` takes either `max_pjf` (a bound on joint failure) or `r` (a fixed factor), exactly one")]
pub struct GoalError;

#[cfg(feature = "serde")]
impl TryFrom<GoalFile> for ReplicationGoal {
    type Error = GoalError;
    fn try_from(g: GoalFile) -> Result<Self, Self::Error> {
        match (g.max_pjf, g.r) {
            (Some(d), None) => Ok(ReplicationGoal::MaxPjf(d)),
            (None, Some(r)) => Ok(ReplicationGoal::R(r)),
            _ => Err(GoalError),
        }
    }
}

/// The bounds of spec §15 on a job: checked by [`JobSpec::work_within`] before any
/// allocation sized by the job.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct JobLimits {
    /// Most chunks (unique tasks) per job; default 10,000,000.
    pub max_chunks: u64,
    /// Largest replication factor `r`; default 10 (so at most 100,000,000 copies).
    pub max_r: f64,
    /// Largest price, ByteChips; default 2^53 (every amount exact as a JSON number).
    pub max_price: u64,
}

impl JobLimits {
    /// The defaults of spec §15.
    pub const DEFAULT: JobLimits =
        JobLimits { max_chunks: 10_000_000, max_r: crate::replication::DEFAULT_MAX_R, max_price: 1 << 53 };
}

impl Default for JobLimits {
    fn default() -> Self {
        JobLimits::DEFAULT
    }
}

/// A job that cannot be scheduled as written.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum JobError {
    /// The id must name the job.
    #[error("job id must not be empty")]
    EmptyId,
    /// The id breaks the rules ids follow ([`crate::device::id_problem`]).
    #[error("job id `{id}` {problem}")]
    BadId {
        /// The id, as [`crate::device::display_id`] shows it.
        id: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// Neither or both ways of sizing the work were given.
    #[error("job `{0}`: give either `chunks` or both `input_bytes` and `chunk_bytes`")]
    NoWork(String),
    /// Zero chunks, or a zero chunk size.
    #[error("job `{0}`: `{1}` must be at least 1")]
    Zero(String, &'static str),
    /// More work than [`JobLimits::max_chunks`] allows.
    #[error("job `{id}`: {chunks} chunks are more than the {max} allowed per job; split the job or use larger chunks")]
    TooManyChunks {
        /// The job.
        id: String,
        /// Chunks the job asks for.
        chunks: u64,
        /// The limit.
        max: u64,
    },
    /// A price over [`JobLimits::max_price`].
    #[error("job `{id}`: `price_chips` = {price} is more than the {max} ByteChips allowed")]
    PriceTooHigh {
        /// The job.
        id: String,
        /// The price given.
        price: u64,
        /// The limit.
        max: u64,
    },
    /// A bound outside its domain.
    #[error("job `{id}`: `{field}` = {} must be {rule}", shown(*.value))]
    OutOfRange {
        /// The job.
        id: String,
        /// The field, as named in the job file.
        field: &'static str,
        /// The value given.
        value: f64,
        /// What it must be.
        rule: &'static str,
    },
}

/// The latest deadline a job may set: a year, in seconds.
pub const MAX_DEADLINE_S: u64 = 365 * 24 * 3600;

/// The largest `pools.s_min`: no grid has a million devices in one pool.
pub const MAX_S_MIN: usize = 1_000_000;

/// A number as a person reads it: as given when short, in scientific notation
/// when it would take more than a dozen digits (`1e308`, not 309 digits).
fn shown(v: f64) -> alloc::string::String {
    if v.is_finite() && v.abs() >= 1e12 {
        alloc::format!("{v:e}")
    } else {
        alloc::format!("{v}")
    }
}

/// The work of a job once sized: one entry per chunk (unique task).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Work {
    /// Each chunk's size: bytes, or 1 per chunk for jobs sized by `chunks`.
    pub sizes: Vec<u64>,
    /// The largest chunk in bytes, when the job gave byte sizes (for data caps).
    pub chunk_bytes: Option<u64>,
}

impl JobSpec {
    /// A job of `chunks` equal chunks with every other field at its default, at
    /// the least price that pays each task a bounty of 1 ByteChip under the
    /// default 70% workers' share ([`least_price`](crate::reward::least_price)).
    pub fn new(id: impl Into<String>, chunks: u64) -> JobSpec {
        JobSpec {
            id: id.into(),
            application: String::from("synthetic"),
            chunks: Some(chunks),
            input_bytes: None,
            chunk_bytes: None,
            price_chips: crate::reward::least_price(chunks, &crate::reward::RewardConfig::default()),
            metadata: BTreeMap::new(),
            preferences: Preferences::default(),
            requirements: Requirements::default(),
            pools: PoolSettings::default(),
            replication: None,
            accept_unverified: false,
            deadline_s: None,
            max_error: None,
        }
    }

    /// Checks the job against the default [`JobLimits`] and sizes its work.
    pub fn work(&self) -> Result<Work, JobError> {
        self.work_within(&JobLimits::DEFAULT)
    }

    /// Checks the job against `limits` and sizes its work.
    pub fn work_within(&self, limits: &JobLimits) -> Result<Work, JobError> {
        let n = self.tasks_within(limits)?;
        Ok(match (self.chunks, self.input_bytes, self.chunk_bytes) {
            (None, Some(total), Some(chunk)) => {
                let sizes = (0..n).map(|i| chunk.min(total - i * chunk)).collect();
                Work { sizes, chunk_bytes: Some(chunk.min(total)) }
            }
            _ => Work { sizes: alloc::vec![1; n as usize], chunk_bytes: None },
        })
    }

    /// Checks the job against the default [`JobLimits`] and counts its tasks,
    /// without sizing them (in O(1), where [`work`](Self::work) is O(tasks)).
    pub fn tasks(&self) -> Result<u64, JobError> {
        self.tasks_within(&JobLimits::DEFAULT)
    }

    /// Checks the job against `limits` and counts its tasks, without sizing them.
    pub fn tasks_within(&self, limits: &JobLimits) -> Result<u64, JobError> {
        let id = || crate::device::display_id(&self.id);
        if self.id.is_empty() {
            return Err(JobError::EmptyId);
        }
        if let Some(problem) = crate::device::id_problem(&self.id) {
            return Err(JobError::BadId { id: id(), problem });
        }
        let range = |field, value: f64, ok: bool, rule| {
            if ok {
                Ok(())
            } else {
                Err(JobError::OutOfRange { id: id(), field, value, rule })
            }
        };
        if let Some(c) = self.pools.c_min {
            range("pools.c_min", c, c.is_finite() && c >= 0.0, "a finite number >= 0")?;
        }
        if let Some(s) = self.pools.s_min {
            range("pools.s_min", s as f64, (1..=MAX_S_MIN).contains(&s), "within 1..=1000000 (devices per pool)")?;
        }
        match self.replication {
            Some(ReplicationGoal::MaxPjf(d)) => range("replication.max_pjf", d, d > 0.0 && d < 1.0, "within (0, 1)")?,
            Some(ReplicationGoal::R(r)) => {
                let rule = "a number within 1..=10 (1 means no replicas)";
                range("replication.r", r, r >= 1.0 && r <= limits.max_r, rule)?;
            }
            None => {}
        }
        if let Some(d) = self.deadline_s {
            let rule = "within 1..=31536000 (seconds from submission, at most a year)";
            range("deadline_s", d as f64, (1..=MAX_DEADLINE_S).contains(&d), rule)?;
        }
        if let Some(e) = self.max_error {
            range("max_error", e, (0.0..=1.0).contains(&e), "a probability within [0, 1]")?;
        }
        if self.price_chips.0 > limits.max_price {
            return Err(JobError::PriceTooHigh { id: id(), price: self.price_chips.0, max: limits.max_price });
        }
        let chunks = match (self.chunks, self.input_bytes, self.chunk_bytes) {
            (Some(n), None, None) => n,
            (None, Some(total), Some(chunk)) if chunk > 0 => total.div_ceil(chunk),
            _ => 0,
        };
        if chunks > limits.max_chunks {
            return Err(JobError::TooManyChunks { id: id(), chunks, max: limits.max_chunks });
        }
        match (self.chunks, self.input_bytes, self.chunk_bytes) {
            (Some(0), None, None) => Err(JobError::Zero(id(), "chunks")),
            (Some(n), None, None) => Ok(n),
            (None, Some(0), Some(_)) => Err(JobError::Zero(id(), "input_bytes")),
            (None, Some(_), Some(0)) => Err(JobError::Zero(id(), "chunk_bytes")),
            (None, Some(_), Some(_)) => Ok(chunks),
            _ => Err(JobError::NoWork(id())),
        }
    }
}

#[cfg(all(test, feature = "serde"))]
mod tests {
    use super::*;

    #[test]
    fn job_ids_follow_the_device_id_rules() {
        let work = |id: &str| JobSpec::new(id, 1).work().map(|_| ());
        assert!(work(&"j".repeat(256)).is_ok());
        assert!(work("téléphone-東京").is_ok());
        for bad in ["a\0b", "a\nb", "a\u{7f}b", "a\u{202e}b", "a\u{2066}b", "   "] {
            let e = work(bad).unwrap_err();
            assert!(matches!(e, JobError::BadId { .. }), "{bad:?}: {e}");
            assert!(!e.to_string().chars().any(|c| c.is_control() || c == '\u{202e}'), "{e}");
        }
        let long = work(&"x".repeat(1_000_000)).unwrap_err().to_string();
        assert!(long.len() < 300, "the error echoes at most a short form of the id: {} bytes", long.len());
        assert_eq!(work(""), Err(JobError::EmptyId));
    }

    const SPEC_EXAMPLE: &str = r#"{
      "id": "job-0001",
      "application": "synthetic",
      "chunks": 1000,
      "price_chips": 60000,
      "preferences": {
        "byte_level": "balanced",
        "trusted": false,
        "regions": ["any"],
        "hardware": { "classes": ["laptop", "desktop"], "gpu": false, "connections": ["wifi", "ethernet"] }
      },
      "requirements": { "app_version": ">=1.2.0" },
      "pools": { "c_min": 5000.0, "s_min": 3 },
      "replication": { "max_pjf": 0.01 }
    }"#;

    #[test]
    fn reads_the_spec_example() {
        let j: JobSpec = serde_json::from_str(SPEC_EXAMPLE).unwrap();
        assert_eq!(j.work().unwrap().sizes.len(), 1000);
        assert_eq!(j.price_chips, ByteChips(60_000));
        assert_eq!(j.preferences.regions, Regions::Any);
        assert_eq!(j.preferences.hardware.classes, [DeviceClass::Laptop, DeviceClass::Desktop]);
        assert!(j.requirements.app_version.as_ref().unwrap().matches(&semver::Version::new(1, 4, 0)));
        assert!(!j.requirements.app_version.as_ref().unwrap().matches(&semver::Version::new(1, 1, 9)));
        assert_eq!(j.replication, Some(ReplicationGoal::MaxPjf(0.01)));
        let back: JobSpec = serde_json::from_str(&serde_json::to_string(&j).unwrap()).unwrap();
        assert_eq!(back, j);
    }

    #[test]
    fn minimal_job_and_byte_sizes() {
        let j: JobSpec = serde_json::from_str(r#"{"id": "j", "input_bytes": 2500, "chunk_bytes": 1000}"#).unwrap();
        assert_eq!(j.work().unwrap(), Work { sizes: alloc::vec![1000, 1000, 500], chunk_bytes: Some(1000) });
        assert_eq!(j.preferences.byte_level, ByteLevel::Balanced);
        assert_eq!(j.application, "synthetic");
    }

    #[test]
    fn bad_jobs_are_rejected_with_the_field() {
        let err = |s: &str| serde_json::from_str::<JobSpec>(s).unwrap_err().to_string();
        assert!(
            err(r#"{"id": "j", "chunks": 1, "preferences": {"regions": ["mars"]}}"#).contains("unknown variant `mars`")
        );
        assert!(err(r#"{"id": "j", "chunks": 1, "preferences": {"regions": ["any", "europe"]}}"#).contains("regions"));
        assert!(err(r#"{"id": "j", "chunks": 1, "requirements": {"app_version": "new"}}"#).contains("semver"));
        assert!(err(r#"{"id": "j", "chunk": 1}"#).contains("unknown field `chunk`"));
        let work = |s: &str| serde_json::from_str::<JobSpec>(s).unwrap().work().unwrap_err().to_string();
        assert_eq!(work(r#"{"id": "j"}"#), "job `j`: give either `chunks` or both `input_bytes` and `chunk_bytes`");
        assert_eq!(work(r#"{"id": "j", "chunks": 0}"#), "job `j`: `chunks` must be at least 1");
        assert!(work(r#"{"id": "j", "chunks": 3, "replication": {"max_pjf": 1.5}}"#).contains("replication.max_pjf"));
        assert!(work(r#"{"id": "j", "chunks": 3, "replication": {"r": 0.5}}"#).contains("replication.r"));
        assert!(work(r#"{"id": "j", "chunks": 3, "max_error": 1.5}"#).contains("max_error"));
        assert!(work(r#"{"id": "j", "chunks": 3, "max_error": -0.1}"#).contains("max_error"));
        assert!(work(r#"{"id": "j", "chunks": 3, "pools": {"s_min": 0}}"#).contains("pools.s_min"));
        let huge = work(r#"{"id": "j", "chunks": 3, "pools": {"s_min": 1000000000}}"#);
        assert_eq!(huge, "job `j`: `pools.s_min` = 1000000000 must be within 1..=1000000 (devices per pool)");
        let ok = |s: &str| serde_json::from_str::<JobSpec>(s).unwrap().work().is_ok();
        assert!(ok(r#"{"id": "j", "chunks": 3, "pools": {"s_min": 1000000}}"#));
        // A huge value is shown as a person reads it, not as 309 digits.
        let r = work(r#"{"id": "j", "chunks": 3, "replication": {"r": 1e308}}"#);
        assert_eq!(r, "job `j`: `replication.r` = 1e308 must be a number within 1..=10 (1 means no replicas)");
        assert!(work(r#"{"id": "j", "chunks": 3, "replication": {"r": 12.5}}"#).contains("= 12.5 must"));
    }

    #[test]
    fn limits_are_checked_before_sizing_the_work() {
        let work = |s: &str| serde_json::from_str::<JobSpec>(s).unwrap().work().unwrap_err().to_string();
        assert!(work(r#"{"id": "j", "chunks": 1000000000000}"#).contains("more than the 10000000 allowed"));
        let e = work(r#"{"id": "j", "input_bytes": 1000000000000, "chunk_bytes": 1}"#);
        assert!(e.contains("1000000000000 chunks"), "{e}");
        assert!(work(r#"{"id": "j", "chunks": 3, "replication": {"r": 1e308}}"#).contains("within 1..=10"));
        assert!(work(r#"{"id": "j", "chunks": 3, "replication": {"r": 1e6}}"#).contains("replication.r"));
        assert!(work(r#"{"id": "j", "chunks": 3, "price_chips": 9007199254740993}"#).contains("price_chips"));
        let ok: JobSpec = serde_json::from_str(r#"{"id": "j", "chunks": 10000000, "replication": {"r": 10}}"#).unwrap();
        assert!(JobSpec { chunks: Some(3), ..ok.clone() }.work().is_ok());
        let tight = JobLimits { max_chunks: 2, ..JobLimits::DEFAULT };
        assert!(matches!(ok.work_within(&tight), Err(JobError::TooManyChunks { chunks: 10_000_000, max: 2, .. })));
    }

    #[test]
    fn a_replication_goal_is_one_of_two() {
        let err = |s: &str| serde_json::from_str::<JobSpec>(s).unwrap_err().to_string();
        let both = err(r#"{"id": "j", "chunks": 1, "replication": {"r": 2, "max_pjf": 0.01}}"#);
        assert!(both.contains("either `max_pjf`") && both.contains("exactly one"), "{both}");
        assert!(err(r#"{"id": "j", "chunks": 1, "replication": {}}"#).contains("exactly one"));
        assert!(err(r#"{"id": "j", "chunks": 1, "replication": {"x": 1}}"#).contains("unknown field `x`"));
        let j: JobSpec = serde_json::from_str(r#"{"id": "j", "chunks": 1, "replication": {"r": 2}}"#).unwrap();
        assert_eq!(j.replication, Some(ReplicationGoal::R(2.0)));
    }

    #[test]
    fn empty_hardware_lists_are_refused_like_empty_regions() {
        let err = |s: &str| serde_json::from_str::<JobSpec>(s).unwrap_err().to_string();
        let e = err(r#"{"id": "j", "chunks": 1, "preferences": {"hardware": {"classes": []}}}"#);
        assert!(e.contains("leave the field out"), "{e}");
        assert!(err(r#"{"id": "j", "chunks": 1, "preferences": {"hardware": {"connections": []}}}"#)
            .contains("leave the field out"));
        assert!(err(r#"{"id": "j", "chunks": 1, "preferences": {"regions": []}}"#).contains("regions"));
    }

    #[test]
    fn regions_filter() {
        let only = Regions::Only(alloc::vec![Region::Europe]);
        assert!(only.allows(Some(Region::Europe)));
        assert!(!only.allows(Some(Region::Americas)));
        assert!(!only.allows(None));
        assert!(Regions::Any.allows(None));
    }
}
