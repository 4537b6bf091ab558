//! The subcommands of `byterank`, one module each. Each reads its input, calls the
//! library, and writes its output; nothing here decides anything.
//!
//! Inputs are files or `-` for stdin, read as streams with a size limit
//! ([`MAX_FILE_BYTES`], 4 GiB): a grid is parsed one device at a time, so memory
//! holds the parsed grid, not the file. Progress bars go to stderr, and only when
//! stderr is a terminal.

pub mod parse;
pub mod plan;
pub mod rank;
pub mod replication;
pub mod service;
pub mod simulate;
pub mod synth;

use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Read, Write};
use std::path::Path;

use byterank::core::grid::{Grid, MAX_FILE_BYTES};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressFinish, ProgressStyle};
use serde::de::DeserializeOwned;
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

/// An input file, or stdin for `-`, opened for streaming.
pub struct Input {
    /// How error messages name it: the path, or `stdin`.
    pub name: String,
    /// The first byte that is not white space, if the first buffer holds one:
    /// enough to tell an empty file, an array and an object apart before parsing.
    first: Option<u8>,
    // Concrete, so that the JSON parser's byte-at-a-time reads inline; the boxed
    // source is only called to refill the buffer.
    reader: BufReader<Box<dyn Read>>,
}

impl Input {
    /// Opens `path` (`-` is stdin), checks the size limit where the size is known,
    /// and refuses a UTF-8 byte-order mark. `what` names the kind of file in errors.
    pub fn open(path: &Path, what: &str, progress: bool) -> Result<Input, Failure> {
        let stdin = path.as_os_str() == "-";
        let name = if stdin { "stdin".to_string() } else { path.display().to_string() };
        let cannot = |e: io::Error| Failure::Input(format!("cannot read {what} `{name}`: {e}"));
        let (raw, len): (Box<dyn Read>, Option<u64>) = if stdin {
            (Box::new(io::stdin()), None)
        } else {
            let file = File::open(path).map_err(cannot)?;
            let meta = file.metadata().map_err(cannot)?;
            if meta.is_dir() {
                return Err(Failure::Input(format!("cannot read {what} `{name}`: it is a directory")));
            }
            let len = meta.is_file().then_some(meta.len());
            (Box::new(file), len)
        };
        if let Some(len) = len.filter(|&l| l > MAX_FILE_BYTES) {
            return Err(Failure::Input(format!(
                "{name}: the {what} is {len} bytes; input files are limited to {MAX_FILE_BYTES} bytes (4 GiB)"
            )));
        }
        let limited = Limit { inner: raw, left: MAX_FILE_BYTES };
        let reader: Box<dyn Read> =
            if progress { Box::new(read_bar(len).wrap_read(limited)) } else { Box::new(limited) };
        let mut reader = BufReader::with_capacity(1 << 16, reader);
        let head = reader.fill_buf().map_err(cannot)?;
        if head.starts_with(b"\xEF\xBB\xBF") {
            return Err(Failure::Input(format!(
                "{name}: the {what} starts with a UTF-8 byte-order mark (EF BB BF); JSON files must not: save it as UTF-8 without BOM"
            )));
        }
        let first = head.iter().copied().find(|b| !b.is_ascii_whitespace());
        Ok(Input { name, first, reader })
    }
}

impl Read for Input {
    #[inline]
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.reader.read(buf)
    }
}

/// A reader that fails once more than [`MAX_FILE_BYTES`] bytes come through, so a
/// stream without end (`/dev/zero`, a runaway pipe) is cut off.
struct Limit<R> {
    inner: R,
    left: u64,
}

impl<R: Read> Read for Limit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a file of exactly the limit from a longer one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => {
                    Err(io::Error::other(format!("the input is longer than {MAX_FILE_BYTES} bytes (4 GiB), the limit")))
                }
            };
        }
        let want = buf.len().min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Whether progress bars are drawn: only when stderr is a terminal, so pipes, files
/// and tests get nothing extra.
pub fn show_progress() -> bool {
    io::stderr().is_terminal()
}

/// A bar of bytes read (a spinner when the size is unknown, as for stdin).
fn read_bar(len: Option<u64>) -> ProgressBar {
    let template = match len {
        Some(_) => "reading {bar:40} {bytes}/{total_bytes} {elapsed} (eta {eta})",
        None => "reading {spinner} {bytes} {elapsed}",
    };
    ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr_with_hz(4))
        .with_style(ProgressStyle::with_template(template).expect("the template is valid"))
        .with_finish(ProgressFinish::AndClear)
}

/// A bar of items done, for long work when stderr is a terminal; hidden otherwise.
pub fn count_bar(len: u64, what: &str) -> ProgressBar {
    if !show_progress() {
        return ProgressBar::hidden();
    }
    let template = format!("{what} {{bar:40}} {{human_pos}}/{{human_len}} {{elapsed}} (eta {{eta}})");
    ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr_with_hz(4))
        .with_style(ProgressStyle::with_template(&template).expect("the template is valid"))
}

/// A spinner with the time elapsed, for long work whose steps are not counted,
/// when stderr is a terminal; hidden otherwise. It clears itself when dropped.
pub fn spinner(what: &str) -> ProgressBar {
    if !show_progress() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr_with_hz(4))
        .with_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("the template is valid"))
        .with_message(what.to_string())
        .with_finish(ProgressFinish::AndClear);
    bar.enable_steady_tick(std::time::Duration::from_millis(250));
    bar
}

/// Reads and checks a grid file (`-` for stdin), one device at a time.
pub fn read_grid(path: &Path) -> Result<Grid, Failure> {
    let input = Input::open(path, "grid file", show_progress())?;
    let name = input.name.clone();
    let grid = Grid::from_json_reader(input).map_err(|e| Failure::Input(format!("{name}: {e}")))?;
    Ok(grid)
}

/// The JSON value a file must hold at its top.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// One object, `{...}`; `example` shows its start.
    Object {
        /// The start of such an object, for the message.
        example: &'static str,
    },
    /// An array; `example` says of what.
    Array {
        /// What the array holds, for the message.
        example: &'static str,
    },
}

/// Reads a JSON file (`-` for stdin) into `T`, naming the file and the field in
/// errors. An empty file, or one whose top value is not of `shape`, is refused
/// before parsing with a line that says so.
pub fn read_json<T: DeserializeOwned>(path: &Path, what: &str, shape: Shape) -> Result<(T, String), Failure> {
    read_json_with(path, what, shape, false)
}

/// [`read_json`], with a bar of bytes read when `progress` (and stderr is a terminal).
pub fn read_json_with<T: DeserializeOwned>(
    path: &Path,
    what: &str,
    shape: Shape,
    progress: bool,
) -> Result<(T, String), Failure> {
    let input = Input::open(path, what, progress && show_progress())?;
    let name = input.name.clone();
    match (input.first, shape) {
        (None, _) => return Err(Failure::Input(format!("{name}: the {what} is empty: it must hold one JSON value"))),
        (Some(b'['), Shape::Object { example }) => {
            return Err(Failure::Input(format!(
                "{name}: the {what} is a JSON array; it must be one JSON object: {example}"
            )))
        }
        (Some(b'{'), Shape::Array { example }) => {
            return Err(Failure::Input(format!("{name}: the {what} is a JSON object; expected {example}")))
        }
        _ => {}
    }
    let mut de = serde_json::Deserializer::from_reader(input);
    let value = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| {
            let path = e.path().to_string();
            let message = hint(e.into_inner().to_string());
            if path == "." || path == "?" {
                format!("{name}: {message}")
            } else {
                format!("{name}: field `{path}`: {message}")
            }
        })
        .and_then(|v| de.end().map(|()| v).map_err(|e| format!("{name}: {}", hint(e.to_string()))))
        .map_err(Failure::Input)?;
    Ok((value, name))
}

/// Adds what a bare `expected value` from the JSON parser usually means.
pub fn hint(message: String) -> String {
    if message.starts_with("expected value") {
        format!(
            "{message} (a JSON value: a number, string, true, false, null, array or object; JSON has no NaN or Infinity)"
        )
    } else {
        message
    }
}

/// Writes `value` as one line of JSON on stdout.
pub fn print_json<T: Serialize>(value: &T) -> Result<(), Failure> {
    let mut out = BufWriter::new(io::stdout().lock());
    serde_json::to_writer(&mut out, value).map_err(io::Error::from)?;
    writeln!(out)?;
    out.flush()?;
    Ok(())
}
