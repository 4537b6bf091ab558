//! This crate provides ByteRank's simulation: synthetic grids of consumer devices
//! ([`synth`], built whole with [`synth_grid`] or streamed one device at a time with
//! [`synth_iter`]) and a discrete-event simulator ([`sim`]) that drives the real
//! `byterank-core` engine with them, to compare scheduling policies on the same grid.
//!
//! # The layers
//!
//! - [`queue`]: the event queue, a four-ary heap beside a FIFO lane, with ties broken
//!   in insertion order and lazy cancellation.
//! - [`driver`]: the only code that talks to the engine, through `Engine::apply`
//!   (the path the HTTP service uses): device actions in, [`driver::Notice`]s out.
//! - [`sim`]: devices (speed, transfers, sessions and churn, battery, temperature,
//!   heartbeats, crashes, errors, slow, wrong and colluding results) and jobs around
//!   the engine, one variant at a time.
//! - [`scenario`]: the TOML scenarios, their variants and `--set` overrides.
//! - [`opt`]: the optimal makespan of a job alone on the grid (Kondo and
//!   Casanova's greedy algorithm), the yardstick of every makespan.
//! - [`report`]: one seed's figures per variant; [`replications`] runs every
//!   variant on N seeds in parallel and [`stats`] gives their 95% intervals and
//!   paired differences.
//! - [`output`], [`tables`], [`plots`], [`html`]: the output folder, the text
//!   tables, the SVG plots and `report.html`.
//!
//! # Determinism
//!
//! A seed reproduces a run exactly: equal times pop in insertion order, every
//! random draw comes from a ChaCha8 stream named by (seed, device or job kind,
//! purpose, counter), and nothing depends on hash order. Variants of one scenario
//! share every device's streams (common random numbers), so they differ only by
//! what the engine decides.
//!
//! A scenario, run from Rust as `byterank simulate` runs it:
//!
//! ```
//! use byterank_sim::report::run_scenario;
//! use byterank_sim::Scenario;
//!
//! let sc = Scenario::from_toml_str(
//!     r#"
//!     name = "tiny"
//!     horizon_s = 3600
//!     [grid]
//!     devices = 100
//!     [[jobs]]
//!     name = "a"
//!     tasks = 20
//!     [[variants]]
//!     name = "balanced"
//!     [[variants]]
//!     name = "high"
//!     job.byte_level = "high"
//!     "#,
//! )?;
//! let (summary, _runs) = run_scenario(&sc, 7, &mut |_, _| {})?;
//! assert_eq!(summary.variants.len(), 2);
//! assert_eq!(summary.variants[0].jobs_completed, 1);
//! assert_eq!(summary.variants[0].misassembled, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! The synthetic grids on their own:
//!
//! ```
//! use byterank_core::grid::GridSnapshot;
//! use byterank_sim::{synth_grid, ClassMix, SynthConfig};
//!
//! let cfg = SynthConfig { devices: 1_000, seed: 7, mix: ClassMix::PAPER, ..SynthConfig::default() };
//! let grid = synth_grid(&cfg);
//! assert_eq!(grid.len(), 1_000);
//! assert_eq!(grid.device(0).id, "dev-0000001");
//! // The same seed gives the same grid.
//! assert_eq!(synth_grid(&cfg), grid);
//! ```
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod driver;
pub mod html;
pub mod opt;
pub mod output;
pub mod plots;
pub mod queue;
pub mod replications;
pub mod report;
pub mod scenario;
pub mod sim;
pub mod stats;
pub mod synth;
pub mod tables;

pub use scenario::{Scenario, ScenarioError, Variant};
pub use sim::{run_variant, RunOut, World};
pub use synth::{
    synth_devices, synth_grid, synth_iter, ClassMix, DeviceProfile, FaultProbs, MixError, SynthConfig, SynthDevice,
    SynthDevices, DEFAULT_NOW,
};
