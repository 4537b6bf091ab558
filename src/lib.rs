//! ByteRank: an open scheduler for grids of consumer devices, after the ByteNite
//! white paper (§3.3 and its Mathematical Appendix).
//!
//! This package is the umbrella: it re-exports the member crates and holds the
//! `byterank` command-line tool.
//!
//! - [`core`] (`byterank-core`, `no_std` + `alloc`): grid indexes, ByteRank,
//!   eligibility, capacity pools, replication, rewards, job plans and the engine.
//!   Embed it directly when you write your own scheduler.
//! - [`sim`] (`byterank-sim`): synthetic grids and a discrete-event simulator that
//!   drives the real engine with them, to compare scheduling policies over
//!   replications (`byterank simulate`).
//! - [`http`] (`byterank-http`): the Core System's APIs as a durable HTTP service
//!   and a journal inspector.
//! - [`worker`] (`byterank-worker`): the service's clients, a real worker and a
//!   load generator.
//!
//! The files the command reads are described field by field in `docs/formats.md`.
//!
//! Rank a grid file from Rust:
//!
//! ```
//! use byterank::core::grid::Grid;
//! use byterank::core::indexes::{rank_grid, IndexConfig, Lottery};
//!
//! let json = r#"{"now": "2026-11-26T03:00:00Z", "devices": [
//!     {"id": "phone", "processor_score": 120, "battery_pct": 80},
//!     {"id": "desktop", "processor_score": 480, "network_category": "fiber"},
//!     {"id": "hot", "temperature_f": 131}
//! ]}"#;
//! let grid = Grid::from_json_str(json)?;
//! let ranked = rank_grid(&grid, &IndexConfig::default(), Lottery::Recorded);
//! let rank_of = |id| ranked.ranking.rank(grid.position(id).unwrap());
//! assert_eq!((rank_of("desktop"), rank_of("phone"), rank_of("hot")), (1, 2, 0));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod report;

pub use byterank_core as core;
pub use byterank_http as http;
pub use byterank_sim as sim;
pub use byterank_worker as worker;
