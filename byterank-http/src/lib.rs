//! The ByteNite Core System's APIs (§3 of the white paper), as a vocabulary for a
//! durable HTTP service over `byterank-core`.
//!
//! What the crate holds is the API's paths, named once for clients and tests; no
//! server is built yet. The design they serve: a thin adapter. It parses requests
//! into the core engine's commands, journals every command before acknowledging it
//! (so nothing acknowledged is lost, and a restart recovers by replaying the
//! journal through the same deterministic engine), and serialises the events the
//! engine returns. Scheduling decisions live in `byterank-core` only, so what the
//! simulator (`byterank-sim`) measures is what the service does.

#![deny(unsafe_code)]
#![warn(missing_docs)]

/// The API surface of the Core System, as the paper names it: the paths the
/// service will serve, kept here so that clients and tests name them once.
pub mod api {
    /// Workers register and update their devices' state (Tables 2 and 3).
    pub const DEVICES: &str = "/v1/devices";
    /// Users submit, inspect and cancel jobs.
    pub const JOBS: &str = "/v1/jobs";
    /// Workers pull tasks, send heartbeats and upload results.
    pub const TASKS: &str = "/v1/tasks";
}
