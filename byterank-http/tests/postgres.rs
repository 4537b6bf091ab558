//! The PostgreSQL journal against a real server: set BYTERANK_TEST_POSTGRES to a
//! URL whose role may create schemas (each test uses a schema of its own). The
//! tests are ignored by default, so a run without a server reports them as
//! ignored, never as passed: `cargo test -p byterank-http --test postgres --
//! --include-ignored` runs them (CI does).

use byterank_core::{EngineConfig, Timestamp};
use byterank_http::api::{CreateUser, TopUp};
use byterank_http::auth::Secret;
use byterank_http::journal::postgres::{PgJournal, PgLease, PgStore};
use byterank_http::journal::{Journal, JournalError, Store};
use byterank_http::server::recover;
use byterank_http::service::{user_account, Effect, Principal, Service};

/// A fresh schema named after the test, as a URL selecting it.
fn schema(name: &str) -> String {
    let base = std::env::var("BYTERANK_TEST_POSTGRES")
        .expect("set BYTERANK_TEST_POSTGRES=postgres://USER:PASS@127.0.0.1/DB to run the PostgreSQL tests");
    let schema = format!("t_{name}");
    let mut c = postgres::Client::connect(&base, postgres::NoTls).expect("BYTERANK_TEST_POSTGRES connects");
    c.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
    let sep = if base.contains('?') { '&' } else { '?' };
    format!("{base}{sep}options=-csearch_path%3D{schema}")
}

/// A user created and topped up through the state machine: its ops and effects.
fn user_ops(svc: &mut Service, user: &str, at: i64) -> (Vec<(Timestamp, byterank_http::service::Op)>, Vec<Effect>) {
    svc.create_user(Timestamp(at), &Principal::Operator, CreateUser { user: user.into() }, Secret::generate()).unwrap();
    svc.top_up(Timestamp(at + 1), &Principal::Operator, TopUp { user: user.into(), amount: 500 }, None).unwrap();
    svc.take_pending()
}

#[test]
#[ignore = "needs BYTERANK_TEST_POSTGRES"]
fn commits_recover_with_their_blobs_and_history() {
    let url = schema("round_trip");
    let mut j = PgJournal::open(&url, None).unwrap();
    let cfg = j.engine_config(None).unwrap();
    assert_eq!(cfg, EngineConfig::default());
    let mut svc = Service::new(cfg).unwrap();
    svc.set_live(true);
    let (ops, mut effects) = user_ops(&mut svc, "ana", 1_000);
    assert_eq!(ops.len(), 2);
    // In order: a later put of a key wins, an assembly sees the puts before it,
    // and a put after a delete stores again.
    effects.push(Effect::Put { key: "a".into(), bytes: b"hello ".to_vec() });
    effects.push(Effect::Put { key: "b".into(), bytes: b"earth".to_vec() });
    effects.push(Effect::Put { key: "b".into(), bytes: b"world".to_vec() });
    effects.push(Effect::Concat { into: "ab".into(), parts: vec!["a".into(), "b".into()] });
    effects.push(Effect::Concat { into: "bab".into(), parts: vec!["b".into(), "a".into(), "b".into()] });
    effects.push(Effect::Delete(vec!["a".into(), "b".into()]));
    effects.push(Effect::Put { key: "b".into(), bytes: b"again".to_vec() });
    assert_eq!(j.commit(&ops, &effects).unwrap(), 2);
    let (ops2, effects2) = user_ops(&mut svc, "bo", 2_000);
    assert_eq!(j.commit(&ops2, &effects2).unwrap(), 4);

    // A restart: a new connection recovers the same state.
    let mut again = PgJournal::open(&url, None).unwrap();
    let (back, seq) = recover(&mut again, None).unwrap();
    assert_eq!(seq, 4);
    assert_eq!(back.balance(&Principal::User("ana".into())).unwrap().available, 500);
    assert_eq!(back.balance(&Principal::User("bo".into())).unwrap().topped_up, 500);
    assert_eq!(serde_json::to_value(&back).unwrap(), serde_json::to_value(&svc).unwrap());

    let store = PgStore::open(&url).unwrap();
    assert_eq!(store.last_seq().unwrap(), 4);
    assert_eq!(store.blob("ab", 0, None).unwrap().as_deref(), Some(&b"hello world"[..]));
    assert_eq!(store.blob("ab", 6, Some(3)).unwrap().as_deref(), Some(&b"wor"[..]));
    assert_eq!(store.blob("bab", 0, None).unwrap().as_deref(), Some(&b"worldhello world"[..]));
    assert_eq!(store.blob("a", 0, None).unwrap(), None, "deleted");
    assert_eq!(store.blob("b", 0, None).unwrap().as_deref(), Some(&b"again"[..]));
    let history = store.history(&user_account("ana"), 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].kind.as_str(), history[0].amount), ("top_up", 500));
    let ops = store.ops(1, 10).unwrap();
    assert_eq!(ops.iter().map(|o| o.0).collect::<Vec<_>>(), vec![2, 3, 4]);

    // A snapshot shortens recovery to the ops after it.
    again.snapshots().unwrap().store(4, &serde_json::to_vec(&back).unwrap()).unwrap();
    let (ops3, effects3) = user_ops(&mut svc, "cy", 3_000);
    assert_eq!(again.commit(&ops3, &effects3).unwrap(), 6);
    let r = PgJournal::open(&url, None).unwrap().recover().unwrap();
    assert_eq!(r.snapshot.map(|s| s.0), Some(4));
    assert_eq!(r.tail.iter().map(|t| t.0).collect::<Vec<_>>(), vec![5, 6]);
}

#[test]
#[ignore = "needs BYTERANK_TEST_POSTGRES"]
fn another_engine_configuration_is_refused() {
    let url = schema("config");
    let mut j = PgJournal::open(&url, None).unwrap();
    let cfg = EngineConfig { t1_ms: 1_000, ..EngineConfig::default() };
    assert_eq!(j.engine_config(Some(&cfg)).unwrap(), cfg);
    assert_eq!(j.engine_config(None).unwrap(), cfg);
    let err = j.engine_config(Some(&EngineConfig::default())).unwrap_err();
    assert!(matches!(err, JournalError::Config(_)), "{err}");
}

#[test]
#[ignore = "needs BYTERANK_TEST_POSTGRES"]
fn a_stale_writer_fails_on_the_seq_and_writes_nothing() {
    let url = schema("fencing");
    let mut first = PgJournal::open(&url, None).unwrap();
    let mut svc = Service::new(first.engine_config(None).unwrap()).unwrap();
    svc.set_live(true);
    let (ops, effects) = user_ops(&mut svc, "ana", 1_000);
    assert_eq!(first.commit(&ops, &effects).unwrap(), 2);

    // A second node opens at seq 2 and commits seq 3 first.
    let mut second = PgJournal::open(&url, None).unwrap();
    let (ops2, effects2) = user_ops(&mut svc, "bo", 2_000);
    assert_eq!(second.commit(&ops2[..1], &effects2).unwrap(), 3);

    // The first still believes the journal ends at 2.
    let blob = Effect::Put { key: "stale".into(), bytes: vec![1] };
    let err = first.commit(&ops2[1..], &[blob]).unwrap_err();
    assert!(matches!(err, JournalError::Fenced(_)), "{err}");
    assert!(err.to_string().contains("seq 3"), "{err}");
    let store = PgStore::open(&url).unwrap();
    assert_eq!(store.last_seq().unwrap(), 3);
    assert_eq!(store.blob("stale", 0, None).unwrap(), None, "the failed commit wrote nothing");
}

#[test]
#[ignore = "needs BYTERANK_TEST_POSTGRES"]
fn a_node_without_the_lease_cannot_commit() {
    let url = schema("lease");
    let lease = std::time::Duration::from_millis(300);
    let mut a = PgJournal::open(&url, Some("a".into())).unwrap();
    let mut la = PgLease::connect(&url, "a", "http://a", lease).unwrap();
    let mut lb = PgLease::connect(&url, "b", "http://b", lease).unwrap();
    assert!(la.acquire().unwrap());
    assert!(!lb.acquire().unwrap(), "held and live");
    assert_eq!(lb.holder().unwrap().map(|h| (h.address, h.live)), Some(("http://a".into(), true)));
    let mut svc = Service::new(a.engine_config(None).unwrap()).unwrap();
    svc.set_live(true);
    let (ops, effects) = user_ops(&mut svc, "ana", 1_000);
    assert_eq!(a.commit(&ops, &effects).unwrap(), 2);

    // a stops renewing; once the lease lapses b takes it, and a is fenced.
    std::thread::sleep(lease + std::time::Duration::from_millis(100));
    assert!(lb.acquire().unwrap(), "lapsed");
    assert!(!la.renew().unwrap(), "a lost it");
    let (ops2, effects2) = user_ops(&mut svc, "bo", 2_000);
    let err = a.commit(&ops2, &effects2).unwrap_err();
    assert!(matches!(err, JournalError::Fenced(_)), "{err}");
    let mut b = PgJournal::open(&url, Some("b".into())).unwrap();
    assert_eq!(b.commit(&ops2, &effects2).unwrap(), 4);
}

#[test]
#[ignore = "needs BYTERANK_TEST_POSTGRES"]
fn a_snapshot_larger_than_a_row_comes_back_whole_and_only_the_newest_are_kept() {
    let url = schema("big_snapshot");
    let mut j = PgJournal::open(&url, None).unwrap();
    j.engine_config(None).unwrap();
    let mut svc = Service::new(EngineConfig::default()).unwrap();
    svc.set_live(true);
    let (ops, effects) = user_ops(&mut svc, "ana", 1_000);
    assert_eq!(j.commit(&ops, &effects).unwrap(), 2);
    // Bytes the recovery hands back as they were stored, whatever they hold.
    let big: Vec<u8> = (0..70_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8).collect();
    let mut snapshots = j.snapshots().unwrap();
    snapshots.store(1, b"first").unwrap();
    snapshots.store(2, &big).unwrap();
    snapshots.store(2, b"the same seq again is not stored twice").unwrap();
    let r = PgJournal::open(&url, None).unwrap().recover().unwrap();
    let (seq, state) = r.snapshot.unwrap();
    assert_eq!(seq, 2);
    assert!(state == big, "the snapshot came back with {} bytes, not the {} stored", state.len(), big.len());
    assert!(r.tail.is_empty());
    snapshots.store(3, b"third").unwrap();
    let mut c = postgres::Client::connect(&url, postgres::NoTls).unwrap();
    let kept: Vec<i64> = c
        .query("SELECT DISTINCT seq FROM snapshot_parts ORDER BY seq", &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(kept, vec![2, 3]);
}
