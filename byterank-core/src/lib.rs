//! This crate provides the scheduling core of ByteRank: the grid indexes and
//! ByteRank of the ByteNite white paper (§3.3), as pure functions over plain data.
//!
//! It is `no_std` + `alloc`, reads no clock and does no I/O: time is passed in as a
//! [`Timestamp`], randomness comes from seeds, and every decision is returned as
//! data. The `byterank` package re-exports it beside `byterank-sim` (synthetic grids
//! and the simulator) and `byterank-http` (the Core System as a service).
//!
//! # A tour
//!
//! The grid, and what is known of each device:
//!
//! - [`device`] and [`worker`]: one device's state (Tables 2 and 3), as in the grid
//!   file of the spec.
//! - [`device_view`]: [`DeviceView`], read access to one device's state, which the
//!   readers below take; [`Device`] implements it, and so can a host's own record.
//! - [`grid`]: a snapshot of all devices at one instant. [`GridSnapshot`] is the
//!   trait an embedding scheduler implements over its own store, handing out each
//!   device as a [`DeviceView`]; [`Grid`] is the owned, validated one (and, with
//!   the `json` feature, the grid-file reader).
//! - The grid indexes: [`capacity`] (Table 7), [`fault`] (fault history, fault rate
//!   and fault policies), [`flags`] (Table 9 and the worker's limits) and
//!   [`lottery`] (the repechage lottery).
//! - [`rank`]: ByteRank (Algorithm 1) in O(m log m), on plain [`RankEntry`] data.
//! - [`indexes`]: all of the above for a whole snapshot, in one call.
//!
//! A job, from submission to payment:
//!
//! - [`job`]: the job file (work size, price, preferences, requirements).
//! - [`eligibility`], [`pools`], [`replication`], [`reward`]: the target subset,
//!   capacity pools and ByteLevel, copies for a bound on joint failure, bounties.
//! - [`reliability`]: the failure model, the probability that an attempt on a
//!   device ends without a result, from its attempts and sessions as the engine
//!   saw them; the replication plan's failure probabilities.
//! - [`plan`]: all of those decisions for one job, in one call.
//! - [`policy`]: how the target subset becomes pools and which pools a device
//!   takes from, a trait with the paper's policy and two baselines; an embedder
//!   adds their own.
//! - [`application`]: how a job's input splits into chunks, and how results are
//!   checked, compared and assembled (a synthetic application and gzip).
//! - [`engine`]: the Core System as one deterministic state machine, commands in
//!   and events out, for devices, jobs, pool queues, faults and rewards; a typed
//!   helper per command ([`Engine::pull`], [`Engine::report`], ...) refuses with an
//!   error listing only that command's refusals ([`engine::PullError`], ...).
//!
//! # Example
//!
//! ```
//! use byterank_core::device::{Device, NetworkCategory};
//! use byterank_core::fault::Outcome;
//! use byterank_core::grid::Grid;
//! use byterank_core::indexes::{rank_grid, IndexConfig, Lottery};
//! use byterank_core::time::Timestamp;
//!
//! let desktop = Device { processor_score: Some(480.0), network_category: Some(NetworkCategory::Fiber), ..Device::new("desktop") };
//! let phone = Device { processor_score: Some(150.0), battery_pct: Some(64.0), ..Device::new("phone") };
//! // A laptop as able as the desktop, but failing and late: the fault push moves it down.
//! let mut laptop = Device { processor_score: Some(480.0), network_category: Some(NetworkCategory::Fiber), ..Device::new("laptop") };
//! for _ in 0..20 {
//!     laptop.faults.push(Outcome { failed: true, delayed: true, incorrect: false });
//! }
//! let now = Timestamp::parse_rfc3339("2026-11-26T03:00:00Z")?;
//! let grid = Grid::new(now, vec![desktop, phone, laptop])?;
//! let ranked = rank_grid(&grid, &IndexConfig::default(), Lottery::Recorded);
//! // Devices are indexed in id order: desktop, laptop, phone.
//! assert_eq!(ranked.ranking.ranks(), &[1, 0, 2], "R = 2/3 > 0.5 flags the laptop");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Features
//!
//! - `std` (default): `std::error::Error` for the error types.
//! - `serde`: `Serialize`/`Deserialize` for the data types.
//! - `json`: `Grid::from_json_str`, with errors that name the device and field.
//! - `gzip`: the gzip application's codec (`Gzip::compress_chunk`), with `flate2`.
//!
//! # Determinism
//!
//! The same inputs give the same bits on every platform: transcendental functions
//! come from `libm` in every build (not the platform's), the lottery draws from
//! ChaCha8 with a `u64` seed, and ties are broken by device id.

#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

extern crate alloc;

pub mod application;
pub mod capacity;
pub mod device;
pub mod device_view;
pub mod eligibility;
pub mod engine;
pub mod fault;
pub mod flags;
pub mod grid;
pub mod indexes;
pub mod job;
pub mod lottery;
pub mod plan;
pub mod policy;
pub mod pools;
pub mod rank;
pub mod reliability;
pub mod replication;
pub mod reward;
pub mod time;
pub mod worker;

pub use application::{Application, Chunk, ResultMeta};
pub use device::Device;
pub use device_view::DeviceView;
pub use engine::{
    AttemptId, AttemptState, Command, CommandKind, DeviceId, Engine, EngineConfig, EngineError, Event, JobId, JobStatus,
};
pub use grid::{Grid, GridSnapshot};
pub use job::JobSpec;
pub use rank::{RankEntry, Ranking};
pub use reward::ByteChips;
pub use time::Timestamp;

/// What a typical embedding uses, in one import: `use byterank_core::prelude::*;`.
pub mod prelude {
    pub use crate::application::{Application, Chunk, ResultMeta};
    pub use crate::device::Device;
    pub use crate::device_view::DeviceView;
    pub use crate::engine::{
        AdmissionError, AttemptError, AttemptId, AttemptState, CancelError, Command, CommandKind, DeviceGone, DeviceId,
        Engine, EngineConfig, EngineError, Event, Idle, JobId, JobStatus, OperatorError, PullError, Pulled, Refusal,
        RegisterError, ReleaseError, RemoveError, SubmitError, TimeError, UnknownDevice, UnknownJob, UpdateError,
    };
    pub use crate::grid::{check_snapshot, GridSnapshot};
    pub use crate::job::{ByteLevel, JobSpec, ReplicationGoal};
    pub use crate::reward::ByteChips;
    pub use crate::time::Timestamp;
}
