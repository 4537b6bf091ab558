//! Applications (spec §10-§11): splitting jobs into chunks, integrity checks,
//! replica comparison and, with `--features gzip`, a full gzip round trip
//! (split -> compress each chunk -> check -> assemble -> decompress).

use byterank_core::application::{
    application, Application, ApplicationError, Chunk, Chunks, Digest, Gzip, IntegrityError, ResultMeta, Synthetic,
    APPLICATION_NAMES,
};
use byterank_core::job::{JobError, JobSpec};
use proptest::prelude::*;

/// A job sized in bytes.
fn byte_job(id: &str, application: &str, input_bytes: u64, chunk_bytes: u64) -> JobSpec {
    JobSpec {
        application: application.into(),
        chunks: None,
        input_bytes: Some(input_bytes),
        chunk_bytes: Some(chunk_bytes),
        ..JobSpec::new(id, 1)
    }
}

/// The chunks tile `0..total` in index order.
fn assert_tiles(chunks: &[Chunk], total: u64) {
    let mut next = 0;
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(c.index as usize, i);
        assert_eq!(c.offset, next);
        assert!(c.len > 0);
        next += c.len;
    }
    assert_eq!(next, total);
}

#[test]
fn applications_by_name() {
    assert_eq!(application("synthetic").map(|a| a.name()), Some("synthetic"));
    assert_eq!(application("gzip").map(|a| a.name()), Some("gzip"));
    assert!(application("nope").is_none());
    assert!(application("Gzip").is_none(), "names are case-sensitive, as in job files");
    for name in APPLICATION_NAMES {
        assert_eq!(application(name).unwrap().name(), name);
    }
    // The engine may share them across threads.
    fn shareable<T: Send + Sync>(_: T) {}
    shareable(application("gzip").unwrap());
}

#[test]
fn synthetic_splits_chunks_jobs_into_work_units() {
    let chunks = Synthetic.split(&JobSpec::new("j", 5)).unwrap();
    assert_eq!(chunks.len(), 5);
    for (i, c) in chunks.iter().enumerate() {
        assert_eq!(*c, Chunk { index: i as u32, offset: i as u64, len: 1 });
    }
}

#[test]
fn synthetic_splits_byte_jobs_into_byte_ranges() {
    let chunks = Synthetic.split(&byte_job("j", "synthetic", 2500, 1000)).unwrap();
    assert_eq!(
        chunks,
        [
            Chunk { index: 0, offset: 0, len: 1000 },
            Chunk { index: 1, offset: 1000, len: 1000 },
            Chunk { index: 2, offset: 2000, len: 500 },
        ]
    );
    assert_tiles(&Synthetic.split(&byte_job("j", "synthetic", 10, 100)).unwrap(), 10);
}

#[test]
fn split_reports_unsizable_jobs() {
    let bad = JobSpec::new("j", 0);
    for app in [&Synthetic as &dyn Application, &Gzip] {
        assert_eq!(app.split(&bad), Err(ApplicationError::Job(JobError::Zero("j".into(), "chunks"))));
        let msg = app.split(&bad).unwrap_err().to_string();
        assert_eq!(msg, "job `j`: `chunks` must be at least 1");
    }
}

#[test]
fn synthetic_expected_results_pass_and_agree() {
    for job in [JobSpec::new("job-a", 20), byte_job("job-b", "synthetic", 12_345, 1000)] {
        for c in Synthetic.split(&job).unwrap() {
            let r = Synthetic::expected(&job.id, &c);
            assert_eq!(r.size, c.len);
            assert!(r.metadata.is_empty());
            assert_eq!(Synthetic.check(&c, &r), Ok(()));
            assert!(Synthetic.agree(&r, &Synthetic::expected(&job.id, &c)));
        }
    }
}

#[test]
fn synthetic_expected_is_deterministic_and_distinct() {
    let c = |index| Chunk { index, offset: u64::from(index), len: 1 };
    assert_eq!(Synthetic::expected("j", &c(3)), Synthetic::expected("j", &c(3)));
    let mut digests: Vec<Digest> = (0..1000).map(|i| Synthetic::expected("j", &c(i)).digest).collect();
    digests.extend((0..1000).map(|i| Synthetic::expected("k", &c(i)).digest));
    let n = digests.len();
    digests.sort();
    digests.dedup();
    assert_eq!(digests.len(), n, "every (job, chunk) has its own digest");
    // The job id and index are not confused: ("j1", 0) is not ("j", 1)-like.
    assert_ne!(Synthetic::expected("j1", &c(0)).digest, Synthetic::expected("j", &c(1)).digest);
}

#[test]
fn synthetic_wrong_digest_passes_integrity_but_does_not_agree() {
    let c = Chunk { index: 4, offset: 4, len: 1 };
    let right = Synthetic::expected("j", &c);
    let wrong = ResultMeta { digest: "0123456789abcdef".into(), ..right.clone() };
    assert_ne!(wrong.digest, right.digest);
    assert_eq!(Synthetic.check(&c, &wrong), Ok(()));
    assert!(!Synthetic.agree(&right, &wrong));
    for salt in 0..200 {
        let bad = Synthetic::incorrect("j", &c, salt);
        assert_eq!(Synthetic.check(&c, &bad), Ok(()));
        assert!(!Synthetic.agree(&right, &bad), "salt {salt}");
        assert_eq!(bad, Synthetic::incorrect("j", &c, salt), "deterministic");
    }
    assert!(!Synthetic.agree(&Synthetic::incorrect("j", &c, 1), &Synthetic::incorrect("j", &c, 2)));
}

#[test]
fn synthetic_wrong_size_or_malformed_digest_fails_integrity() {
    let c = Chunk { index: 2, offset: 2000, len: 1000 };
    let right = Synthetic::expected("j", &c);
    let short = ResultMeta { size: 999, ..right.clone() };
    assert_eq!(Synthetic.check(&c, &short), Err(IntegrityError::WrongSize { chunk: 2, size: 999, expected: 1000 }));
    assert!(Synthetic.check(&c, &short).unwrap_err().to_string().contains("must be 1000"));
    for digest in ["", "abc", "0123456789ABCDEF", "0123456789abcdeg", "0123456789abcdef0", " 123456789abcdef"] {
        let bad = ResultMeta { digest: digest.into(), ..right.clone() };
        match Synthetic.check(&c, &bad) {
            Err(IntegrityError::MalformedDigest { chunk: 2, digest: d, .. }) => assert_eq!(d, digest),
            other => panic!("digest {digest:?}: {other:?}"),
        }
    }
}

#[test]
fn gzip_needs_a_byte_sized_job() {
    let err = Gzip.split(&JobSpec { application: "gzip".into(), ..JobSpec::new("j", 10) }).unwrap_err();
    assert_eq!(err, ApplicationError::NeedsBytes { job: "j".into(), application: "gzip" });
    let msg = err.to_string();
    assert!(msg.contains("`input_bytes` and `chunk_bytes`"), "{msg}");
    let chunks = Gzip.split(&byte_job("j", "gzip", 100_000, 30_000)).unwrap();
    assert_eq!(chunks.iter().map(|c| c.len).collect::<Vec<_>>(), [30_000, 30_000, 30_000, 10_000]);
    assert_tiles(&chunks, 100_000);
}

#[test]
fn gzip_check_rules() {
    let c = Chunk { index: 1, offset: 1000, len: 1000 };
    let good = Gzip::result_meta(&[0u8; 40]);
    assert_eq!(good.metadata.get("format").map(String::as_str), Some("gzip"));
    assert_eq!(good.size, 40);
    assert_eq!(good.digest.len(), 16);
    assert_eq!(Gzip.check(&c, &good), Ok(()));

    let no_format = ResultMeta { metadata: Default::default(), ..good.clone() };
    assert!(matches!(Gzip.check(&c, &no_format), Err(IntegrityError::WrongFormat { found, .. }) if found == "missing"));
    let mut zip = good.clone();
    zip.metadata.insert("format".into(), "zip".into());
    assert!(matches!(Gzip.check(&c, &zip), Err(IntegrityError::WrongFormat { found, .. }) if found == "`zip`"));

    for size in [0, 19, Gzip::max_member(1000) + 1] {
        let bad = ResultMeta { size, ..good.clone() };
        assert!(matches!(Gzip.check(&c, &bad), Err(IntegrityError::SizeOutOfBounds { size: s, .. }) if s == size));
    }
    for size in [20, Gzip::max_member(1000)] {
        assert_eq!(Gzip.check(&c, &ResultMeta { size, ..good.clone() }), Ok(()));
    }
    let empty = ResultMeta { digest: Digest::default(), ..good.clone() };
    assert!(matches!(Gzip.check(&c, &empty), Err(IntegrityError::MalformedDigest { .. })));
    // Adapters may use another (stronger) hash: any non-empty digest passes integrity.
    let sha = ResultMeta {
        digest: "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855".into(),
        ..good.clone()
    };
    assert_eq!(Gzip.check(&c, &sha), Ok(()));
}

#[test]
fn gzip_agree_compares_size_and_digest() {
    let a = Gzip::result_meta(b"some member bytes....");
    assert!(Gzip.agree(&a, &Gzip::result_meta(b"some member bytes....")));
    assert!(!Gzip.agree(&a, &Gzip::result_meta(b"some member bytes...!")));
    assert!(!Gzip.agree(&a, &ResultMeta { size: a.size + 1, ..a.clone() }));
}

#[test]
fn gzip_assemble_concatenates_in_order() {
    assert_eq!(Gzip::assemble([b"ab".as_slice(), b"", b"cde"]), b"abcde");
    assert_eq!(Gzip::assemble(vec![vec![1u8], vec![2, 3]]), [1, 2, 3]);
    assert!(Gzip::assemble(Vec::<Vec<u8>>::new()).is_empty());
}

#[test]
fn ordered_assembly_is_by_index() {
    let chunks = Synthetic.split(&JobSpec::new("j", 4)).unwrap();
    let mut shuffled = chunks.clone();
    shuffled.reverse();
    assert_eq!(Synthetic.assembly_order(&shuffled), [0, 1, 2, 3]);
    assert_eq!(Gzip.assembly_order(&chunks), [0, 1, 2, 3]);
}

#[cfg(feature = "serde")]
#[test]
fn result_meta_serde_round_trip() {
    let r = Gzip::result_meta(&[0u8; 30]);
    let json = serde_json::to_string(&r).unwrap();
    assert_eq!(serde_json::from_str::<ResultMeta>(&json).unwrap(), r);
    let bare: ResultMeta = serde_json::from_str(r#"{"size": 1, "digest": "00"}"#).unwrap();
    assert!(bare.metadata.is_empty());
    let c = Chunk { index: 1, offset: 2, len: 3 };
    assert_eq!(serde_json::from_str::<Chunk>(&serde_json::to_string(&c).unwrap()).unwrap(), c);
}

proptest! {
    #[test]
    fn prop_split_tiles_the_input(total in 1u64..1_000_000, chunk in 1u64..200_000) {
        for app in [&Synthetic as &dyn Application, &Gzip] {
            let chunks = app.split(&byte_job("j", app.name(), total, chunk)).unwrap();
            prop_assert_eq!(chunks.len() as u64, total.div_ceil(chunk));
            prop_assert!(chunks.iter().all(|c| c.len <= chunk));
            assert_tiles(&chunks, total);
        }
    }
}

#[cfg(feature = "gzip")]
mod codec {
    use super::*;
    use flate2::read::MultiGzDecoder;
    use rand::{Rng, RngCore, SeedableRng};
    use rand_chacha::ChaCha8Rng;
    use std::io::Read;

    /// Input of `len` bytes: incompressible, text-like, or long runs.
    fn input(seed: u64, len: usize, kind: u8) -> Vec<u8> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let mut data = vec![0u8; len];
        match kind % 3 {
            0 => rng.fill_bytes(&mut data),
            1 => data.iter_mut().for_each(|b| *b = b"etaoin shrdlu\n"[rng.random_range(0..14)]),
            _ => {
                let mut i = 0;
                while i < len {
                    let run = rng.random_range(1..5000).min(len - i);
                    data[i..i + run].fill(rng.random());
                    i += run;
                }
            }
        }
        data
    }

    fn decompress(file: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        MultiGzDecoder::new(file).read_to_end(&mut out).expect("a valid multi-member gzip file");
        out
    }

    /// The whole pipeline: split -> compress each chunk -> check -> assemble ->
    /// decompress equals the input.
    fn round_trip(data: &[u8], chunk_bytes: u64) -> Result<(), TestCaseError> {
        let job = byte_job("j", "gzip", data.len() as u64, chunk_bytes);
        let app = application(&job.application).unwrap();
        let chunks = app.split(&job).unwrap();
        let mut parts = vec![Vec::new(); chunks.len()];
        for c in &chunks {
            let bytes = &data[c.offset as usize..(c.offset + c.len) as usize];
            let member = Gzip::compress_chunk(bytes);
            let meta = Gzip::result_meta(&member);
            prop_assert_eq!(app.check(c, &meta), Ok(()));
            parts[c.index as usize] = member;
        }
        let file = Gzip::assemble(app.assembly_order(&chunks).iter().map(|&i| &parts[i as usize]));
        prop_assert!(decompress(&file) == data, "decompressed file differs from the input");
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        #[test]
        fn prop_gzip_round_trip(seed in any::<u64>(), len in 1usize..200_000, kind in any::<u8>(), chunk in 1_000u64..150_000) {
            round_trip(&input(seed, len, kind), chunk)?;
        }

        #[test]
        fn prop_gzip_round_trip_small_chunks(seed in any::<u64>(), len in 1usize..3_000, kind in any::<u8>(), chunk in 1u64..400) {
            round_trip(&input(seed, len, kind), chunk)?;
        }

        #[test]
        fn prop_replicas_compress_alike(seed in any::<u64>(), len in 0usize..100_000, kind in any::<u8>()) {
            let data = input(seed, len, kind);
            let (a, b) = (Gzip::compress_chunk(&data), Gzip::compress_chunk(&data.clone()));
            prop_assert!(a == b, "the same chunk compressed to different bytes");
            prop_assert!(Gzip.agree(&Gzip::result_meta(&a), &Gzip::result_meta(&b)));
        }
    }

    #[test]
    fn empty_chunk_is_a_smallest_member() {
        let member = Gzip::compress_chunk(&[]);
        assert_eq!(member.len() as u64, Gzip::MIN_MEMBER);
        assert_eq!(Gzip.check(&Chunk { index: 0, offset: 0, len: 0 }, &Gzip::result_meta(&member)), Ok(()));
        assert!(decompress(&member).is_empty());
    }

    #[test]
    fn header_is_fixed() {
        let member = Gzip::compress_chunk(b"hello");
        // Magic, deflate, no flags, mtime 0, OS unknown.
        assert_eq!(member[..4], [0x1f, 0x8b, 8, 0]);
        assert_eq!(member[4..8], [0, 0, 0, 0]);
        assert_eq!(member[9], 255);
    }

    /// Incompressible input is the worst case for the size bound.
    #[test]
    fn incompressible_chunks_fit_the_bound() {
        for len in [1usize, 100, 16_384, 65_535, 65_536, 200_000, 1 << 20] {
            let data = input(len as u64, len, 0);
            let member = Gzip::compress_chunk(&data);
            let c = Chunk { index: 0, offset: 0, len: len as u64 };
            assert_eq!(Gzip.check(&c, &Gzip::result_meta(&member)), Ok(()), "len {len}: {} bytes", member.len());
        }
    }

    #[test]
    fn damaged_members_are_caught() {
        let data = input(7, 50_000, 1);
        let c = Chunk { index: 0, offset: 0, len: 50_000 };
        let member = Gzip::compress_chunk(&data);
        let good = Gzip::result_meta(&member);
        assert_eq!(Gzip.check(&c, &good), Ok(()));

        // Truncated below the smallest member: fails integrity.
        let stub = Gzip::result_meta(&member[..10]);
        assert!(matches!(Gzip.check(&c, &stub), Err(IntegrityError::SizeOutOfBounds { size: 10, .. })));
        // Truncated but still plausible in size: passes integrity, fails replica comparison.
        let cut = Gzip::result_meta(&member[..member.len() - 1]);
        assert_eq!(Gzip.check(&c, &cut), Ok(()));
        assert!(!Gzip.agree(&good, &cut));
        // Padded past the bound: fails integrity.
        let mut padded = member.clone();
        padded.resize(Gzip::max_member(50_000) as usize + 1, 0);
        assert!(matches!(Gzip.check(&c, &Gzip::result_meta(&padded)), Err(IntegrityError::SizeOutOfBounds { .. })));
        // Garbled (one byte flipped): same size, passes integrity, fails replica comparison.
        let mut garbled = member.clone();
        garbled[member.len() / 2] ^= 0x40;
        let bad = Gzip::result_meta(&garbled);
        assert_eq!(Gzip.check(&c, &bad), Ok(()));
        assert!(!Gzip.agree(&good, &bad));
    }
}

proptest! {
    /// The compact form gives back every chunk it was made of, evenly cut or not,
    /// and only evenly cut lists take the three-number form.
    #[test]
    fn chunks_keep_every_chunk(
        lens in proptest::collection::vec(prop_oneof![Just(7u64), 1u64..9], 0..40),
        even in any::<bool>(),
        last in 1u64..=7,
    ) {
        let mut lens = lens;
        if even {
            lens.iter_mut().for_each(|l| *l = 7);
            if let Some(l) = lens.last_mut() {
                *l = last;
            }
        }
        let mut offset = 0;
        let listed: Vec<Chunk> = lens
            .iter()
            .enumerate()
            .map(|(i, &len)| {
                let c = Chunk { index: i as u32, offset, len };
                offset += len;
                c
            })
            .collect();
        let compact = Chunks::from(listed.clone());
        prop_assert_eq!(compact.len(), listed.len());
        prop_assert_eq!(compact.iter().collect::<Vec<_>>(), listed.clone());
        prop_assert_eq!(compact.get(listed.len() as u32), None);
        // Naive: evenly cut when every length but the last equals the first's and
        // the last is no longer.
        let naive_even = !lens.is_empty()
            && lens[..lens.len() - 1].iter().all(|&l| l == lens[0])
            && lens[lens.len() - 1] <= lens[0];
        prop_assert_eq!(matches!(compact, Chunks::Even { .. }), naive_even);
    }
}
