//! The discrete-event simulator: simulated devices and jobs around the real engine.
//!
//! # Determinism
//!
//! A run is a pure function of the scenario, the variant and the seed: the event
//! queue breaks ties in insertion order ([`crate::queue`]), the engine is
//! deterministic, every random draw comes from a ChaCha8 stream named by (seed,
//! device, purpose, counter), and nothing is iterated in hash order. Only the wall
//! time and the memory figures differ between two runs of the same seed.
//!
//! # Common random numbers
//!
//! A device's sessions (on/off times, charging), its join and leave times, whether
//! it colludes, and the outcome of its n-th attempt (error, crash, delay, slowness,
//! wrong result, duration jitter) are drawn from streams of that device alone, keyed
//! by the session or attempt number. Job arrivals come from a stream of the job
//! kind. So two variants of one scenario see the same devices, the same
//! availability and the same luck, and differ only by what the engine decides.
//!
//! # The parts
//!
//! After dslab's `dslab-core` (state, event queue, components, handlers):
//!
//! - `world`: the static grid shared by every variant; `params`: a run's settings.
//! - `run`: the event loop, the run's state, and the one helper that drives the
//!   engine and handles what it decided.
//! - `device`: the device model (static traits, physics, the running attempt,
//!   totals, typed flags).
//! - `churn` and `power`: sessions, joins and departures; battery, heat, reports.
//! - `sampler`: an attempt's outcome, a pure function of nine uniform draws.
//! - `attempts`: the device side of an attempt, from the pull to its end.
//! - `notices`: the bookkeeping of the engine's decisions, attempt by attempt.
//! - `jobs` and `joint`: submission and end of jobs; the joint-failure model.
//! - `output`: what a run produces.

mod attempts;
mod churn;
mod device;
mod jobs;
mod joint;
mod notices;
mod output;
mod params;
mod power;
mod run;
mod sampler;
mod streams;
mod world;

pub use attempts::COLLUDER_SALT;
pub use output::{DeviceOut, JobOut, JobStatus, Progress, RunOut, Sample};
pub use run::run_variant;
pub use world::World;
