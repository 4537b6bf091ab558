//! The subcommands of `byterank`, one module each. Each reads its input, calls the
//! library, and writes its output; nothing here decides anything.

pub mod plan;
pub mod rank;
pub mod replication;
pub mod simulate;
pub mod synth;

use std::io::{self, BufWriter, Write};
use std::path::Path;

use byterank::core::grid::Grid;
use serde::Serialize;

/// Why a command failed: bad input (exit status 2), or output that could not be
/// written.
pub enum Failure {
    /// The user's input is wrong; the message says what and where.
    Input(String),
    /// Writing to stdout failed.
    Output(io::Error),
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Self {
        Failure::Output(e)
    }
}

/// Reads a file, naming it in the error.
pub fn read(path: &Path, what: &str) -> Result<String, Failure> {
    std::fs::read_to_string(path).map_err(|e| Failure::Input(format!("cannot read {what} `{}`: {e}", path.display())))
}

/// Reads and checks a grid file.
pub fn read_grid(path: &Path) -> Result<Grid, Failure> {
    let text = read(path, "grid file")?;
    Grid::from_json_str(&text).map_err(|e| Failure::Input(format!("{}: {e}", path.display())))
}

/// Writes `value` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let mut out = BufWriter::new(io::stdout().lock());
    serde_json::to_writer(&mut out, value).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
