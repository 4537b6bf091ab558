//! A job through the engine, end to end: six devices compress a text in chunks as
//! a gzip job at r = 2, one of them returning well-formed but wrong members. Every
//! planned copy runs, agreeing copies make each task's verdict final, the liar's
//! disagreements get extra copies until two results agree, and the assembled file
//! is a valid gzip of the text.
//!
//! `cargo run --example engine_gzip`

use std::collections::BTreeMap;
use std::io::Read;

use byterank::core::application::Gzip;
use byterank::core::device::Device;
use byterank::core::engine::{AttemptState, Command, CommandKind, Engine, Event};
use byterank::core::job::{JobSpec, ReplicationGoal};
use byterank::core::reward::ByteChips;
use byterank::core::time::Timestamp;

const CHUNK: usize = 64 * 1024;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let text: Vec<u8> = (0..20_000).flat_map(|i| format!("line {i}: the quick brown fox\n").into_bytes()).collect();
    let mut engine = Engine::default();
    let mut now = Timestamp::parse_rfc3339("2026-11-26T03:00:00Z")?;
    let mut log = Vec::new();
    let mut apply = |engine: &mut Engine, now: Timestamp, kind| {
        let mut out = Vec::new();
        engine.apply(&Command { at: now, kind }, &mut out)?;
        log.extend(out.iter().cloned());
        Ok::<_, byterank::core::engine::EngineError>(out)
    };
    let mut devices = Vec::new();
    for i in 0..6 {
        let device = Device { processor_score: Some(100.0 * f64::from(i + 1)), ..Device::new(format!("dev-{i}")) };
        if let [Event::DeviceRegistered { device, .. }] =
            apply(&mut engine, now, CommandKind::RegisterDevice { device, owner: format!("owner-{i}") })?[..]
        {
            devices.push(device);
        }
    }
    let liar = devices[2];
    let mut job = JobSpec::new("compress-text", 1);
    job.application = "gzip".into();
    (job.chunks, job.input_bytes, job.chunk_bytes) = (None, Some(text.len() as u64), Some(CHUNK as u64));
    job.price_chips = ByteChips(10_000);
    job.replication = Some(ReplicationGoal::R(2.0));
    job.preferences.byte_level = byterank::core::job::ByteLevel::High;
    for e in apply(&mut engine, now, CommandKind::SubmitJob { job, user: "alice".into() })? {
        if let Event::JobAccepted { tasks, copies, pjf, .. } = e {
            println!("accepted: {tasks} tasks, {copies} copies planned, PJF {pjf:.2e}");
        }
    }

    // Workers: pull, compress their chunk, report; the adapter keeps the bytes.
    let mut bytes: BTreeMap<_, Vec<u8>> = BTreeMap::new();
    let assembled = 'run: loop {
        now = now.add_millis(1_000);
        for &device in &devices {
            let events = apply(&mut engine, now, CommandKind::Pull { device })?;
            let Some(&Event::TaskAssigned { task, attempt, .. }) = events.first() else { continue };
            let start = task as usize * CHUNK;
            let chunk = &text[start..(start + CHUNK).min(text.len())];
            let member = if device == liar {
                Gzip::compress_chunk(&chunk.to_ascii_uppercase())
            } else {
                Gzip::compress_chunk(chunk)
            };
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
    let count = |f: &dyn Fn(&Event) -> bool| log.iter().filter(|e| f(e)).count();
    let planned = count(&|e| matches!(e, Event::TaskAssigned { rescue: false, .. }));
    let extra = count(&|e| matches!(e, Event::TaskAssigned { rescue: true, .. }));
    let checked = count(&|e| matches!(e, Event::TaskValidated { valid: 2.., unverified: false, .. }));
    let tasks = count(&|e| matches!(e, Event::TaskValidated { .. }));
    let caught = count(&|e| matches!(e, Event::AttemptChanged { state: AttemptState::Incorrect, .. }));
    println!("{planned} planned copies and {extra} extra ones ran; {checked} of {tasks} tasks cross-checked by agreeing copies");
    println!("{caught} wrong results from dev-2 caught and not assembled, nor paid");
    println!("{} bytes compressed to {}; the output is a valid gzip of the input", text.len(), assembled.len());
    println!("wallets: {:?}; platform: {}", engine.ledger().wallets, engine.ledger().platform);
    Ok(())
}
