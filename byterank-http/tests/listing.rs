//! A user's job list and usage, against what the test itself did: the order it
//! created jobs in, the days it created them on, what it cancelled, and the
//! engine's ledger of charges and refunds.

use std::collections::BTreeMap;

use byterank_core::{ByteChips, Device, EngineConfig, JobSpec, Timestamp};
use byterank_http::api::{CreateOwner, CreateUser, RegisterDevice, StatusQuery, TopUp};
use byterank_http::auth::Secret;
use byterank_http::listing::{self, civil_day, JobsQuery, UsageQuery};
use byterank_http::service::{JobState, Principal, Service};
use rand::{Rng, SeedableRng};

const DAY: i64 = 86_400_000;

#[test]
fn jobs_list_newest_first_in_pages_and_usage_adds_up_to_the_ledger() {
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let mut svc = Service::new(EngineConfig::default()).unwrap();
    let op = Principal::Operator;
    let mut now = 20_000 * DAY;
    for user in ["ana", "bob"] {
        svc.create_user(Timestamp(now), &op, CreateUser { user: user.into() }, Secret::generate()).unwrap();
        svc.top_up(Timestamp(now), &op, TopUp { user: user.into(), amount: 10_000_000 }, None).unwrap();
    }
    svc.create_owner(Timestamp(now), None, CreateOwner { owner: "o".into() }, Secret::generate()).unwrap();
    for i in 0..4 {
        let req = RegisterDevice { device: Device::new(format!("d{i}")), owner: "o".into() };
        svc.register_device(Timestamp(now), Some(&Principal::Owner("o".into())), req, Secret::generate()).unwrap();
    }
    let (ana, bob) = (Principal::User("ana".into()), Principal::User("bob".into()));
    // What the test did: ana's jobs in creation order, with their day and app.
    let mut created: Vec<(String, i64, &str)> = Vec::new();
    for i in 0..57 {
        now += rng.random_range(0..DAY / 3);
        let gzip = rng.random_bool(0.3);
        let mut spec = JobSpec::new(format!("job-{i:03}-{}", rng.random_range(0..1000)), 3);
        spec.price_chips = ByteChips(rng.random_range(300..5_000));
        if gzip {
            spec.application = "gzip".into();
            spec.chunks = None;
            spec.input_bytes = Some(100);
            spec.chunk_bytes = Some(40);
        }
        let who = if i % 5 == 4 { &bob } else { &ana };
        let id = spec.id.clone();
        svc.create_job(Timestamp(now), who, spec, None).unwrap();
        if gzip && rng.random_bool(0.5) {
            svc.store_input(Timestamp(now), who, &id, vec![b'a'; 100]).unwrap();
        }
        if who == &ana {
            created.push((id.clone(), now.div_euclid(DAY), if gzip { "gzip" } else { "synthetic" }));
            if rng.random_bool(0.2) {
                svc.cancel_job(Timestamp(now), &ana, &id).unwrap();
            }
        }
    }

    // Pages of 7, followed by `next`, give ana's jobs newest first, each once.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = listing::jobs(&svc, &ana, &JobsQuery { limit: Some(7), after: after.clone() }).unwrap();
        assert!(page.jobs.len() <= 7);
        seen.extend(page.jobs.iter().map(|j| j.id.clone()));
        match page.next {
            Some(n) => after = Some(n),
            None => break,
        }
    }
    let expected: Vec<String> = created.iter().rev().map(|(id, _, _)| id.clone()).collect();
    assert_eq!(seen, expected);
    let first = listing::jobs(&svc, &ana, &JobsQuery::default()).unwrap();
    let view = svc.job_view(&ana, &first.jobs[0].id, &StatusQuery::default()).unwrap();
    assert_eq!((first.jobs[0].state.clone(), first.jobs[0].tasks), (view.state, view.tasks));

    // Usage: every day ana was charged on, per application, from the test's own
    // record; the total is what the ledger charged her less its refunds.
    let usage = listing::usage(&svc, &ana, now, &UsageQuery { days: Some(3_000) }).unwrap();
    let mut oracle: BTreeMap<(String, String), (u32, u64)> = BTreeMap::new();
    for (id, day, app) in &created {
        let v = svc.job_view(&ana, id, &StatusQuery::default()).unwrap();
        if v.tasks == 0 {
            assert!(
                matches!(v.state, JobState::AwaitingInput | JobState::Cancelled) && *app == "gzip",
                "only a gzip job still waiting for its input is not charged"
            );
            continue;
        }
        let e = oracle.entry((civil_day(*day), app.to_string())).or_default();
        e.0 += 1;
        e.1 += v.price - v.refunded;
    }
    let got: BTreeMap<(String, String), (u32, u64)> =
        usage.lines.iter().map(|l| ((l.day.clone(), l.application.clone()), (l.jobs, l.spent))).collect();
    assert_eq!(got, oracle);
    let balance = svc.balance(&ana).unwrap();
    assert_eq!(usage.spent, balance.charged - balance.refunded);
    let days: Vec<&String> = usage.lines.iter().map(|l| &l.day).collect();
    assert!(days.windows(2).all(|w| w[0] <= w[1]), "oldest day first");

    // A window of one day holds only today's charges.
    let today = listing::usage(&svc, &ana, now, &UsageQuery { days: Some(1) }).unwrap();
    assert!(today.lines.iter().all(|l| l.day == civil_day(now.div_euclid(DAY))));
    assert_eq!(today.since, civil_day(now.div_euclid(DAY)));

    // Bad pages and other callers are refused.
    for q in [JobsQuery { limit: Some(0), after: None }, JobsQuery { limit: Some(1_001), after: None }] {
        assert_eq!(listing::jobs(&svc, &ana, &q).unwrap_err().field.as_deref(), Some("limit"));
    }
    let bobs = listing::jobs(&svc, &bob, &JobsQuery::default()).unwrap();
    let foreign = JobsQuery { limit: None, after: Some(bobs.jobs[0].id.clone()) };
    assert_eq!(listing::jobs(&svc, &ana, &foreign).unwrap_err().field.as_deref(), Some("after"));
    assert!(listing::jobs(&svc, &op, &JobsQuery::default()).is_err());
    assert!(listing::usage(&svc, &ana, now, &UsageQuery { days: Some(0) }).is_err());
}
