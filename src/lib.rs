//! placeholder
pub use byterank_core as core;
