//! Applications: how a job's input is cut into chunks, how a result is checked,
//! and in which order results are put back together (spec §10-§11).
//!
//! The paper's Core System has a *Partitioner* that splits a job's input into
//! chunks (each chunk plus the application makes a task), a *Validator* that checks
//! the integrity of each result (size, type) and compares replicas, and an
//! *Assembler* that rebuilds the output in chunk order. An [`Application`] is those
//! three rules for one kind of job. The engine never sees result bytes: it splits a
//! [`JobSpec`] into [`Chunk`]s (offsets and lengths) and validates the
//! [`ResultMeta`] a worker reports (size, digest, metadata). Adapters hold the
//! bytes: they compress, upload and assemble.
//!
//! Two applications are built in, found by name with [`application`]:
//!
//! - [`Synthetic`], for the simulator: the correct result of every chunk is a pure
//!   function, [`Synthetic::expected`], and [`Synthetic::incorrect`] makes
//!   well-formed wrong results that pass integrity but fail replica comparison.
//! - [`Gzip`], real work: chunked gzip compression of a byte stream. The engine
//!   side is `no_std`; with the `gzip` feature, `Gzip::compress_chunk` is the
//!   worker's side. [`Gzip::assemble`] concatenates the members in chunk order into
//!   one valid multi-member gzip file (RFC 1952 §2.2).

use alloc::collections::BTreeMap;
use alloc::format;
use alloc::string::String;
use alloc::vec::Vec;

use crate::job::{JobError, JobSpec};

/// One chunk of a job's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct Chunk {
    /// Position of the chunk in the input, 0-based; also its task's index.
    pub index: u32,
    /// Where the chunk starts in the input: bytes, or work units for jobs sized by
    /// `chunks`.
    pub offset: u64,
    /// Length of the chunk, in the same unit as `offset`.
    pub len: u64,
}

/// A job's chunks as the engine keeps them: evenly cut ones (every chunk of one
/// length, the last no longer, each starting where the one before ends) as three
/// numbers, others listed. A report checks its result against its chunk, and a
/// listed chunk of a large job is a memory access of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub enum Chunks {
    /// `count` chunks of `len`, the last of `last`.
    Even {
        /// How many.
        count: u32,
        /// Each one's length but the last's.
        len: u64,
        /// The last one's length.
        last: u64,
    },
    /// Any other cut, in index order.
    Listed(Vec<Chunk>),
}

impl Default for Chunks {
    fn default() -> Self {
        Chunks::Listed(Vec::new())
    }
}

impl From<Vec<Chunk>> for Chunks {
    fn from(chunks: Vec<Chunk>) -> Chunks {
        let (Some(first), Some(end)) = (chunks.first(), chunks.last()) else { return Chunks::Listed(chunks) };
        let len = first.len;
        let even = chunks.iter().enumerate().all(|(i, c)| {
            let i = i as u64;
            c.index as u64 == i
                && Some(c.offset) == i.checked_mul(len)
                && (c.len == len || (c.index == end.index && c.len <= len))
        });
        if even {
            Chunks::Even { count: chunks.len() as u32, len, last: end.len }
        } else {
            Chunks::Listed(chunks)
        }
    }
}

impl Chunks {
    /// How many chunks.
    pub fn len(&self) -> usize {
        match self {
            Chunks::Even { count, .. } => *count as usize,
            Chunks::Listed(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Chunk `index`, if the job has it.
    pub fn get(&self, index: u32) -> Option<Chunk> {
        match *self {
            Chunks::Even { count, len, last } if index < count => {
                Some(Chunk { index, offset: u64::from(index) * len, len: if index + 1 == count { last } else { len } })
            }
            Chunks::Even { .. } => None,
            Chunks::Listed(ref v) => v.get(index as usize).copied(),
        }
    }

    /// Every chunk, in index order.
    pub fn iter(&self) -> impl Iterator<Item = Chunk> + '_ {
        (0..self.len() as u32).map(|i| self.get(i).expect("in range"))
    }
}

/// A result's digest: a string held inline up to 24 bytes (a 64-bit hash in hex
/// fits), on the heap beyond. Every report carries one, so a heap string each
/// would cost an allocation, a free and a cache miss per task cycle.
pub type Digest = compact_str::CompactString;

/// What a worker reports about a finished task: enough to validate it without the
/// bytes.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(deny_unknown_fields))]
pub struct ResultMeta {
    /// Size of the result, bytes (work units for [`Synthetic`] jobs sized by
    /// `chunks`).
    pub size: u64,
    /// A digest of the result's bytes, as the application defines it (lowercase
    /// hex for the built-in ones).
    pub digest: Digest,
    /// Application-defined facts about the result (e.g. `format` = `gzip`).
    #[cfg_attr(feature = "serde", serde(default, skip_serializing_if = "BTreeMap::is_empty"))]
    pub metadata: BTreeMap<String, String>,
}

/// The rules of one kind of job: partitioning, integrity, replica comparison and
/// assembly order.
///
/// Object-safe and `Sync`, so that the engine can hold a `&'static dyn Application`
/// (see [`application`]).
pub trait Application: Sync {
    /// Name as job files give it (`application`).
    fn name(&self) -> &'static str;

    /// Splits the job's input description into chunks, index 0.. in input order.
    ///
    /// Does not compare `job.application` with [`name`](Application::name): the
    /// caller chose the application.
    fn split(&self, job: &JobSpec) -> Result<Vec<Chunk>, ApplicationError>;

    /// Integrity of one result for one chunk (size, type); `Err` says what is wrong.
    fn check(&self, chunk: &Chunk, result: &ResultMeta) -> Result<(), IntegrityError>;

    /// Whether two valid results of the same chunk agree (replica comparison).
    /// Default: equal size and digest.
    fn agree(&self, a: &ResultMeta, b: &ResultMeta) -> bool {
        a.size == b.size && a.digest == b.digest
    }

    /// Whether a task reads its chunk of the job's input, which the job's user
    /// uploads: an adapter then holds the job until its input has arrived and
    /// hands each worker its chunk. Default: no (the chunks describe the work).
    fn reads_input(&self) -> bool {
        false
    }

    /// The metadata of a result a worker uploads as a file, for an application
    /// whose results are files (an adapter keeps the bytes for assembly);
    /// `None`, the default, when workers report their results' metadata
    /// ([`ResultMeta`]) instead.
    fn describe_file(&self, _bytes: &[u8]) -> Option<ResultMeta> {
        None
    }

    /// The largest result `chunk` may have, bytes, so that an adapter refuses a
    /// larger upload before reading it. Default: no bound of the application's
    /// own (the adapter's limits apply).
    fn max_result_bytes(&self, _chunk: &Chunk) -> Option<u64> {
        None
    }

    /// The order in which chunk results are assembled: chunk indexes, first to
    /// last. Default: ascending chunk index.
    fn assembly_order(&self, chunks: &[Chunk]) -> Vec<u32> {
        let mut order: Vec<u32> = chunks.iter().map(|c| c.index).collect();
        order.sort_unstable();
        order
    }
}

/// The names [`application`] knows, in the order they are documented.
pub const APPLICATION_NAMES: [&str; 2] = ["synthetic", "gzip"];

/// The applications the engine knows, by name: `synthetic` and `gzip`
/// ([`APPLICATION_NAMES`]); `None` for any other name.
pub fn application(name: &str) -> Option<&'static dyn Application> {
    static SYNTHETIC: Synthetic = Synthetic;
    static GZIP: Gzip = Gzip;
    match name {
        "synthetic" => Some(&SYNTHETIC),
        "gzip" => Some(&GZIP),
        _ => None,
    }
}

/// A job that an application cannot split.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ApplicationError {
    /// The job's work cannot be sized at all.
    #[error(transparent)]
    Job(#[from] JobError),
    /// The application processes bytes, but the job gave only a number of chunks.
    #[error("job `{job}`: application `{application}` splits a byte stream: give `input_bytes` and `chunk_bytes` instead of `chunks`")]
    NeedsBytes {
        /// The job.
        job: String,
        /// The application.
        application: &'static str,
    },
    /// More chunks than a chunk index can number.
    #[error("job `{job}`: {chunks} chunks are more than the {max} a job may have: use fewer, larger chunks", max = u32::MAX)]
    TooManyChunks {
        /// The job.
        job: String,
        /// How many chunks the job's sizing asks for.
        chunks: u64,
    },
}

/// A result that fails its chunk's integrity check: the worker's result is
/// malformed, and the attempt is not valid.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IntegrityError {
    /// The result is not the size the chunk's result must have.
    #[error("chunk {chunk}: result is {size} bytes, but must be {expected}: the worker must return the result of exactly this chunk")]
    WrongSize {
        /// The chunk's index.
        chunk: u32,
        /// The size reported.
        size: u64,
        /// The size required.
        expected: u64,
    },
    /// The result's size is outside what the application can produce.
    #[error("chunk {chunk}: result is {size} bytes, outside {min}..={max} for a {len}-byte chunk: the result is truncated, padded or not from this chunk")]
    SizeOutOfBounds {
        /// The chunk's index.
        chunk: u32,
        /// The size reported.
        size: u64,
        /// The chunk's length.
        len: u64,
        /// The least valid size.
        min: u64,
        /// The greatest valid size.
        max: u64,
    },
    /// The digest is not in the application's format.
    #[error("chunk {chunk}: digest `{digest}` is malformed: it must be {rule}")]
    MalformedDigest {
        /// The chunk's index.
        chunk: u32,
        /// The digest reported.
        digest: String,
        /// What a digest must be.
        rule: &'static str,
    },
    /// The result is not of the application's type.
    #[error("chunk {chunk}: result metadata `format` is {found}, but must be `{expected}`: the worker ran another application")]
    WrongFormat {
        /// The chunk's index.
        chunk: u32,
        /// The format required.
        expected: &'static str,
        /// The format reported, quoted, or `missing`.
        found: String,
    },
}

/// 64-bit FNV-1a over `bytes`, continuing from `hash` (start from [`FNV_OFFSET`]).
const fn fnv1a(mut hash: u64, bytes: &[u8]) -> u64 {
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// The FNV-1a 64-bit offset basis.
const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// A digest as the built-in applications write it: 16 lowercase hex digits.
fn hex16(h: u64) -> Digest {
    compact_str::format_compact!("{h:016x}")
}

fn is_hex16(s: &str) -> bool {
    s.len() == 16 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// Cuts a sized job into chunks, offsets being the running sum of the sizes.
fn chunks_of(job: &JobSpec, sizes: &[u64]) -> Result<Vec<Chunk>, ApplicationError> {
    if sizes.len() as u64 > u64::from(u32::MAX) {
        return Err(ApplicationError::TooManyChunks { job: job.id.clone(), chunks: sizes.len() as u64 });
    }
    let mut offset = 0u64;
    Ok(sizes
        .iter()
        .enumerate()
        .map(|(i, &len)| {
            let chunk = Chunk { index: i as u32, offset, len };
            offset += len;
            chunk
        })
        .collect())
}

/// The simulator's application: results are a pure function of the job and chunk.
///
/// Jobs sized by `chunks: N` give N chunks of one work unit each (offset = index);
/// jobs sized in bytes give byte ranges. The correct result of a chunk has the
/// chunk's length as its size and a digest of (job id, chunk index)
/// ([`Synthetic::expected`]). Integrity accepts any result of the right size whose
/// digest is 16 lowercase hex digits, so a *wrong but well-formed* result
/// ([`Synthetic::incorrect`]) is caught only by replica comparison.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Synthetic;

impl Synthetic {
    /// The correct result of `chunk` of job `job_id`: size = `chunk.len`, digest =
    /// 64-bit FNV-1a of the job id's UTF-8 bytes, a `0xff` separator (never in
    /// UTF-8) and the index as 4 little-endian bytes, in 16 lowercase hex digits;
    /// no metadata. The same on every platform and run.
    pub fn expected(job_id: &str, chunk: &Chunk) -> ResultMeta {
        ResultMeta { size: chunk.len, digest: hex16(Self::hash(job_id, chunk.index)), metadata: BTreeMap::new() }
    }

    /// A wrong but well-formed result of `chunk`: it passes [`check`](Application::check)
    /// but never agrees with [`expected`](Synthetic::expected). Different `salt`s
    /// give (almost always) different wrong results, so wrong replicas that should
    /// not agree with each other take different salts (e.g. the device's index),
    /// and colluding ones the same.
    pub fn incorrect(job_id: &str, chunk: &Chunk, salt: u64) -> ResultMeta {
        let right = Self::hash(job_id, chunk.index);
        let mut h = fnv1a(right ^ 0x5a5a_5a5a_5a5a_5a5a, &salt.to_le_bytes());
        if h == right {
            h ^= 1;
        }
        ResultMeta { size: chunk.len, digest: hex16(h), metadata: BTreeMap::new() }
    }

    fn hash(job_id: &str, index: u32) -> u64 {
        let h = fnv1a(FNV_OFFSET, job_id.as_bytes());
        fnv1a(fnv1a(h, &[0xff]), &index.to_le_bytes())
    }
}

impl Application for Synthetic {
    fn name(&self) -> &'static str {
        "synthetic"
    }

    fn split(&self, job: &JobSpec) -> Result<Vec<Chunk>, ApplicationError> {
        let work = job.work()?;
        chunks_of(job, &work.sizes)
    }

    fn check(&self, chunk: &Chunk, result: &ResultMeta) -> Result<(), IntegrityError> {
        if result.size != chunk.len {
            return Err(IntegrityError::WrongSize { chunk: chunk.index, size: result.size, expected: chunk.len });
        }
        if !is_hex16(&result.digest) {
            return Err(IntegrityError::MalformedDigest {
                chunk: chunk.index,
                digest: result.digest.as_str().into(),
                rule: "16 lowercase hex digits (64-bit FNV-1a, as `Synthetic::expected` writes it)",
            });
        }
        Ok(())
    }
}

/// Chunked gzip compression of a byte stream.
///
/// Each chunk of `chunk_bytes` bytes (the last one holds the rest) is compressed
/// into one gzip member; the members concatenated in chunk order are one valid
/// multi-member gzip file whose decompression is the input (RFC 1952 §2.2).
///
/// The engine side (split, check, agree) needs no codec. A valid result has
/// metadata `format` = `gzip`, a non-empty digest, and a size within
/// [`MIN_MEMBER`](Gzip::MIN_MEMBER)`..=`[`max_member(len)`](Gzip::max_member).
/// Replicas agree when size and digest are equal: `Gzip::compress_chunk` is
/// deterministic, so workers running the same codec build produce the same bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gzip;

impl Gzip {
    /// The value of the result metadata key `format` for gzip results.
    pub const FORMAT: &'static str = "gzip";

    /// The smallest gzip member, bytes: a 10-byte header, the 2-byte empty deflate
    /// block and an 8-byte trailer (CRC-32 and size).
    pub const MIN_MEMBER: u64 = 20;

    /// The largest gzip member a chunk of `len` bytes may compress to, bytes.
    ///
    /// zlib's documented bound for deflate at its default window and memory
    /// (`deflateBound`, `compressBound`): `len + len/4096 + len/16384 + len/2^25 +
    /// 7`, plus 18 bytes of gzip header and trailer. It is looser than the ideal
    /// stored-block bound (5 bytes per 65,535), because real encoders end a block
    /// every 16 KiB (zlib) or 31 KiB (miniz_oxide) and store incompressible blocks
    /// one by one.
    pub const fn max_member(len: u64) -> u64 {
        len.saturating_add(len / 4096 + len / 16384 + (len >> 25) + 7 + 18)
    }

    /// Metadata of a compressed chunk as a worker reports it: its size, digest =
    /// 64-bit FNV-1a of the bytes in 16 lowercase hex digits, and `format` = `gzip`.
    ///
    /// FNV-1a catches transmission errors and honest mistakes, not forgery: an
    /// adapter facing adversarial workers may put a stronger hash (e.g. SHA-256
    /// hex) in `digest`, as long as every replica uses the same one.
    pub fn result_meta(compressed: &[u8]) -> ResultMeta {
        let mut metadata = BTreeMap::new();
        metadata.insert(String::from("format"), String::from(Self::FORMAT));
        ResultMeta { size: compressed.len() as u64, digest: hex16(fnv1a(FNV_OFFSET, compressed)), metadata }
    }

    /// The output file: the members concatenated in assembly (chunk) order, a valid
    /// multi-member gzip file.
    pub fn assemble(parts: impl IntoIterator<Item = impl AsRef<[u8]>>) -> Vec<u8> {
        let mut out = Vec::new();
        for part in parts {
            out.extend_from_slice(part.as_ref());
        }
        out
    }

    /// Compresses one chunk into one gzip member, deterministically: level 6,
    /// mtime 0, no file name or comment, OS byte 255 (unknown), so every worker
    /// with the same codec build (flate2's default backend, miniz_oxide) returns
    /// the same bytes and replicas agree byte for byte.
    #[cfg(feature = "gzip")]
    pub fn compress_chunk(data: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let out = Vec::with_capacity(Self::max_member(data.len() as u64).min(1 << 24) as usize);
        let mut encoder =
            flate2::GzBuilder::new().mtime(0).operating_system(255).write(out, flate2::Compression::new(6));
        encoder.write_all(data).expect("writing to a Vec cannot fail");
        encoder.finish().expect("writing to a Vec cannot fail")
    }
}

impl Application for Gzip {
    fn name(&self) -> &'static str {
        "gzip"
    }

    fn reads_input(&self) -> bool {
        true
    }

    fn describe_file(&self, bytes: &[u8]) -> Option<ResultMeta> {
        Some(Self::result_meta(bytes))
    }

    fn max_result_bytes(&self, chunk: &Chunk) -> Option<u64> {
        Some(Self::max_member(chunk.len))
    }

    fn split(&self, job: &JobSpec) -> Result<Vec<Chunk>, ApplicationError> {
        let work = job.work()?;
        if work.chunk_bytes.is_none() {
            return Err(ApplicationError::NeedsBytes { job: job.id.clone(), application: self.name() });
        }
        chunks_of(job, &work.sizes)
    }

    fn check(&self, chunk: &Chunk, result: &ResultMeta) -> Result<(), IntegrityError> {
        match result.metadata.get("format") {
            Some(f) if f == Self::FORMAT => {}
            other => {
                return Err(IntegrityError::WrongFormat {
                    chunk: chunk.index,
                    expected: Self::FORMAT,
                    found: other.map_or_else(|| String::from("missing"), |f| format!("`{f}`")),
                })
            }
        }
        let (min, max) = (Self::MIN_MEMBER, Self::max_member(chunk.len));
        if !(min..=max).contains(&result.size) {
            return Err(IntegrityError::SizeOutOfBounds {
                chunk: chunk.index,
                size: result.size,
                len: chunk.len,
                min,
                max,
            });
        }
        if result.digest.is_empty() {
            return Err(IntegrityError::MalformedDigest {
                chunk: chunk.index,
                digest: String::new(),
                rule: "non-empty (e.g. `Gzip::result_meta`'s 16 hex digits)",
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        assert_eq!(fnv1a(FNV_OFFSET, b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(FNV_OFFSET, b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(fnv1a(FNV_OFFSET, b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn synthetic_digest_is_pinned() {
        // Pinned so that a change of hash (which would break recorded runs) is seen.
        let c = Chunk { index: 7, offset: 7, len: 1 };
        let want = hex16(fnv1a(fnv1a(fnv1a(FNV_OFFSET, b"job-1"), &[0xff]), &7u32.to_le_bytes()));
        assert_eq!(Synthetic::expected("job-1", &c).digest, want);
        assert!(is_hex16(&want));
    }

    #[test]
    fn hex16_rule() {
        assert!(is_hex16("0123456789abcdef"));
        assert!(!is_hex16("0123456789ABCDEF"));
        assert!(!is_hex16("0123456789abcde"));
        assert!(!is_hex16("0123456789abcdeg"));
        assert!(!is_hex16(""));
    }

    #[test]
    fn gzip_bounds() {
        assert_eq!(Gzip::max_member(0), 25);
        assert_eq!(Gzip::max_member(65_535), 65_535 + 15 + 3 + 25);
        assert_eq!(Gzip::max_member(u64::MAX), u64::MAX);
        // Looser than the stored-block bound everywhere.
        for len in [0u64, 1, 1000, 65_535, 65_536, 1 << 20, 1 << 40] {
            assert!(Gzip::max_member(len) >= len + 5 * len.div_ceil(65_535).max(1) + 18, "len {len}");
        }
    }

    #[test]
    fn default_assembly_order_sorts_by_index() {
        let c = |index| Chunk { index, offset: 0, len: 1 };
        assert_eq!(Synthetic.assembly_order(&[c(2), c(0), c(1)]), [0, 1, 2]);
        assert!(Gzip.assembly_order(&[]).is_empty());
    }

    #[test]
    fn messages_say_what_to_do() {
        let e = IntegrityError::WrongFormat { chunk: 3, expected: "gzip", found: String::from("missing") };
        assert_eq!(
            alloc::string::ToString::to_string(&e),
            "chunk 3: result metadata `format` is missing, but must be `gzip`: the worker ran another application"
        );
    }
}
