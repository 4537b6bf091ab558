//! A quote planned off the engine ([`Engine::quote_basis`] then
//! [`QuoteBasis::quote`]) is the quote the engine gives, whether its ranking is
//! fresh or stale, and refuses what the engine refuses.

use byterank_core::device::Device;
use byterank_core::engine::{CommandKind, Engine};
use byterank_core::job::{JobSpec, ReplicationGoal};
use byterank_core::time::Timestamp;
use byterank_core::{ByteChips, Command};

const T: Timestamp = Timestamp(1_795_662_000_000);

fn both(engine: &Engine, spec: &JobSpec, at: Timestamp) {
    let direct = engine.quote(spec, at);
    let detached = engine.quote_basis(spec, at).and_then(|b| b.quote(spec));
    assert_eq!(format!("{direct:?}"), format!("{detached:?}"), "job {}", spec.id);
}

#[test]
fn the_detached_quote_is_the_engines() {
    let mut engine = Engine::default();
    let mut specs = Vec::new();
    for (i, r) in [1.0, 2.0, 10.0].into_iter().enumerate() {
        let mut s = JobSpec::new(format!("j{i}"), 40 + i as u64 * 7);
        s.replication = Some(ReplicationGoal::R(r));
        s.price_chips = ByteChips(500);
        specs.push(s);
    }
    let mut bad = JobSpec::new("bad", 0);
    bad.application = "nope".into();
    specs.push(bad);
    specs.push(JobSpec::new("zero", 0));
    // No devices, then devices registered since the last refresh (stale), then
    // after a refresh (fresh).
    for spec in &specs {
        both(&engine, spec, T);
    }
    for i in 0..30 {
        let d = Device { processor_score: Some(100.0 + i as f64 * 10.0), ..Device::new(format!("d{i}")) };
        engine.register_device(T, d, "ops").unwrap();
    }
    for spec in &specs {
        both(&engine, spec, T);
    }
    let later = T.add_millis(engine.config().refresh_ms + 1);
    engine.apply(&Command { at: later, kind: CommandKind::Tick }, &mut Vec::new()).unwrap();
    for spec in &specs {
        both(&engine, spec, later);
    }
    // A name the engine already runs is refused by the basis itself.
    let mut events = Vec::new();
    engine.submit_job(later, specs[0].clone(), "ana", &mut events).unwrap();
    assert!(engine.quote_basis(&specs[0], later).is_err());
    both(&engine, &specs[0], later);
}
