//! A job through the engine, end to end: six devices compress a text in chunks as
//! a gzip job, the engine validates and assembles, and the assembled file is a
//! valid gzip of the text.
//!
//! `cargo run --example engine_gzip`

use std::collections::BTreeMap;
use std::io::Read;

use byterank::core::application::Gzip;
use byterank::core::device::Device;
use byterank::core::engine::{Command, CommandKind, Engine, Event};
use byterank::core::job::{JobSpec, ReplicationGoal};
use byterank::core::reward::ByteChips;
use byterank::core::time::Timestamp;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let text: Vec<u8> = (0..20_000).flat_map(|i| format!("line {i}: the quick brown fox\n").into_bytes()).collect();
    let mut engine = Engine::default();
    let mut now = Timestamp::parse_rfc3339("2026-11-26T03:00:00Z")?;
    let mut out = Vec::new();
    let mut apply = |engine: &mut Engine, now: Timestamp, kind| {
        out.clear();
        engine.apply(&Command { at: now, kind }, &mut out).map(|()| out.clone())
    };
    let mut devices = Vec::new();
    for i in 0..6 {
        let device = Device {
            processor_score: Some(100.0 * f64::from(i + 1)),
            trusted: i % 2 == 0,
            ..Device::new(format!("dev-{i}"))
        };
        if let [Event::DeviceRegistered { device, .. }] =
            apply(&mut engine, now, CommandKind::RegisterDevice { device, owner: format!("owner-{i}") })?[..]
        {
            devices.push(device);
        }
    }
    apply(&mut engine, now, CommandKind::Tick)?;
    let mut job = JobSpec::new("compress-text", 1);
    job.application = "gzip".into();
    (job.chunks, job.input_bytes, job.chunk_bytes) = (None, Some(text.len() as u64), Some(64 * 1024));
    job.price_chips = ByteChips(10_000);
    job.replication = Some(ReplicationGoal::R(2.0));
    let accepted = apply(&mut engine, now, CommandKind::SubmitJob { job, user: "alice".into() })?;
    println!("{accepted:?}");

    // Workers: pull, compress their chunk, report; the adapter keeps the bytes.
    let mut bytes: BTreeMap<_, Vec<u8>> = BTreeMap::new();
    let assembled = 'run: loop {
        now = now.add_millis(1_000);
        for &device in &devices {
            let events = apply(&mut engine, now, CommandKind::Pull { device })?;
            let Some(&Event::TaskAssigned { task, attempt, .. }) = events.first() else { continue };
            let start = task as usize * 64 * 1024;
            let member = Gzip::compress_chunk(&text[start..(start + 64 * 1024).min(text.len())]);
            let result = Gzip::result_meta(&member);
            bytes.insert(attempt, member);
            for e in apply(&mut engine, now, CommandKind::ReportResult { device, attempt, result })? {
                if let Event::JobCompleted { results, .. } = e {
                    break 'run Gzip::assemble(results.iter().map(|a| &bytes[a]));
                }
            }
        }
        apply(&mut engine, now, CommandKind::Tick)?;
    };
    let mut round_trip = Vec::new();
    flate2::read::MultiGzDecoder::new(&assembled[..]).read_to_end(&mut round_trip)?;
    assert_eq!(round_trip, text);
    println!(
        "{} bytes compressed to {} by {} attempts; the output is a valid gzip of the input",
        text.len(),
        assembled.len(),
        bytes.len()
    );
    println!("wallets: {:?}; platform: {}", engine.ledger().wallets, engine.ledger().platform);
    Ok(())
}
