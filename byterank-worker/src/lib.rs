//! Clients of the ByteRank service (`byterank-http`) over HTTP, apart from the
//! server so that a device's worker does not ship the server:
//!
//! - [`worker`]: `byterank worker`, a real worker that registers, pulls, runs,
//!   heartbeats and uploads.
//! - [`loadgen`]: `byterank loadgen`, many simulated devices driving a running
//!   service, beside a trivial endpoint as the ceiling it is compared with.
//!
//! Both speak the service's API types (`byterank_http::api`).

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod loadgen;
pub mod worker;
