#![cfg_attr(not(any(test, feature = "std")), no_std)]
#![deny(unsafe_code)]
#![warn(missing_docs)]
//! ByteRank core.

extern crate alloc;

pub mod capacity;
pub mod device;
pub mod fault;
pub mod flags;
pub mod grid;
pub mod indexes;
pub mod lottery;
pub mod rank;
pub mod time;
pub mod worker;
