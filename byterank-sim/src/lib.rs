//! ByteRank simulation: a discrete-event simulator that drives the real
//! `byterank-core` engine with synthetic grids of consumer devices, to compare
//! scheduling policies (fault policies, replication, pool sizes) on the same grid.
//!
//! Today the crate provides the synthetic grid generator ([`synth`]): reproducible
//! grids whose device classes follow the white paper's Appendix, Example 2, built
//! whole ([`synth_grid`]) or streamed one device at a time ([`synth_iter`]).
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

pub mod synth;

pub use synth::{
    synth_devices, synth_grid, synth_iter, ClassMix, DeviceProfile, FaultProbs, MixError, SynthConfig, SynthDevice,
    SynthDevices, DEFAULT_NOW,
};
