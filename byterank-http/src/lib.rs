//! The ByteNite Core System (white paper §3.1) as a durable HTTP service over
//! `byterank-core`. Its clients, the worker and the load generator, are the
//! `byterank-worker` crate.
//!
//! A thin adapter: the routes (`routes/`) parse and authenticate requests and
//! hand them to one thread that owns the state ([`sequencer`]). The state
//! ([`service`]) is the core engine plus what the service keeps beside it:
//! accounts and keys ([`auth`]), job books, who holds which attempt. Every write
//! is an [`service::Op`], journalled durably before it is acknowledged
//! ([`journal`]: SQLite in WAL mode with `synchronous=FULL`, or PostgreSQL shared
//! by a leader and standbys ([`lead`]), committed in batches); a thread beside
//! the engine's stores snapshots, and a restart replays the journal's tail onto
//! the last one through the same deterministic engine. Scheduling decisions live
//! in `byterank-core` only, so what the simulator measures is what the service
//! does.
//!
//! - [`server`]: `byterank serve`, the router and the OpenAPI document.
//! - [`web`]: the web app served at `/` (customers' and the operator's pages).
//! - [`inspect`]: `byterank journal`, what happened to a job or device, replayed.
//!
//! The state machine runs without a server, which is how its rules are tested:
//!
//! ```
//! use byterank_core::{Device, EngineConfig, Timestamp};
//! use byterank_http::api::{CreateOwner, RegisterDevice};
//! use byterank_http::auth::Secret;
//! use byterank_http::service::{Principal, Service};
//!
//! let mut svc = Service::new(EngineConfig::default()).unwrap();
//! svc.set_live(true);
//! let ana = CreateOwner { owner: "ana".into() };
//! svc.create_owner(Timestamp(1_000), None, ana, Secret::generate()).unwrap();
//! let req = RegisterDevice { device: Device::new("phone-1"), owner: String::new() };
//! let by = Principal::Owner("ana".into());
//! let registered = svc.register_device(Timestamp(1_000), Some(&by), req, Secret::generate()).unwrap();
//! assert!(registered.token.is_some());
//! let (ops, _effects) = svc.take_pending();
//! assert_eq!(ops.len(), 2, "two ops to journal");
//! ```

#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod auth;
pub mod clock;
pub mod connections;
pub mod error;
pub mod inspect;
pub mod journal;
pub mod lead;
pub mod listing;
mod routes;
pub mod sequencer;
pub mod server;
pub mod service;
mod snapshotter;
pub mod telemetry;
pub mod throttle;
pub mod web;
