//! `byterank synth`: a synthetic grid file on stdout, written as it is generated.

use std::io::{self, BufWriter, Write};

use byterank::sim::synth::{synth_iter, SynthConfig};
use clap::Args;

use super::{count_bar, Failure};

/// Write a synthetic grid file (docs/formats.md), reproducible from the seed, to
/// stdout. Devices are written as they are generated: memory stays a few megabytes
/// whatever the number of devices.
#[derive(Args)]
pub struct SynthArgs {
    /// Number of devices, 0..=7000000 (a grid file of at most about 3.7 GB).
    #[arg(long, value_name = "N", allow_negative_numbers = true, value_parser = super::parse::devices)]
    devices: usize,
    /// Seed of the generator.
    #[arg(long, default_value_t = 1, allow_negative_numbers = true, value_parser = super::parse::seed)]
    seed: u64,
}

/// Runs the command.
pub fn run(args: SynthArgs) -> Result<(), Failure> {
    let cfg = SynthConfig { devices: args.devices, seed: args.seed, ..SynthConfig::default() };
    let bar = count_bar(args.devices as u64, "devices");
    let mut out = BufWriter::with_capacity(1 << 16, io::stdout().lock());
    // The same bytes as serializing the whole `Grid`: `{"now":...,"devices":[...]}`.
    out.write_all(b"{\"now\":")?;
    serde_json::to_writer(&mut out, &cfg.now).map_err(io::Error::from)?;
    out.write_all(b",\"devices\":[")?;
    for (n, s) in synth_iter(&cfg).enumerate() {
        if n > 0 {
            out.write_all(b",")?;
        }
        serde_json::to_writer(&mut out, &s.device).map_err(io::Error::from)?;
        if n % 4096 == 4095 {
            bar.inc(4096);
        }
    }
    out.write_all(b"]}\n")?;
    out.flush()?;
    bar.finish_and_clear();
    Ok(())
}
