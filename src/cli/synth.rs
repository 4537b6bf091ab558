//! `byterank synth`: a synthetic grid file on stdout.

use byterank::sim::synth::{synth_grid, SynthConfig};
use clap::Args;

use super::{print_json, Failure};

/// Write a synthetic grid file, reproducible from the seed, to stdout.
#[derive(Args)]
pub struct SynthArgs {
    /// Number of devices.
    #[arg(long)]
    devices: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// Runs the command.
pub fn run(args: SynthArgs) -> Result<(), Failure> {
    print_json(&synth_grid(&SynthConfig { devices: args.devices, seed: args.seed, ..SynthConfig::default() }))
}
