//! Payouts under a random mix of calls, against a model the driver keeps: owners
//! earn by running synthetic jobs, ask for payouts (some for 0, some for more
//! than the wallet holds, some retried under their keys), the operator pays and
//! rejects them (some twice, some unknown), and callers without the right key
//! try both. After every call:
//!
//! - each wallet holds what its owner earned less the payouts the model says are
//!   pending or paid, and the ledger's totals conserve:
//!   `charged = wallets + pending + paid out + refunded + platform + escrow`;
//! - a refused call changes nothing and journals nothing;
//! - the history lines the effects wrote add up to the model's payouts;
//!
//! and at the end the journal replayed into a fresh service gives the same state.

use byterank_core::application::Synthetic;
use byterank_core::{ByteChips, Device, EngineConfig, JobSpec, Timestamp};
use byterank_http::api::{CreateOwner, CreateUser, PayoutRequest, RegisterDevice, SettlePayout, TopUp};
use byterank_http::auth::Secret;
use byterank_http::error::ApiError;
use byterank_http::service::{Effect, Entry, Op, PayoutState, Principal, Service};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

fn state(svc: &Service) -> String {
    serde_json::to_string(svc).unwrap()
}

struct Driver {
    svc: Service,
    now: i64,
    journal: Vec<(Timestamp, Op)>,
    entries: Vec<Entry>,
    refused: Vec<u16>,
}

impl Driver {
    fn run<T>(&mut self, f: impl FnOnce(&mut Service, Timestamp) -> Result<T, ApiError>) -> Result<T, ApiError> {
        self.now += 41;
        let at = Timestamp(self.now);
        let before = state(&self.svc);
        let r = f(&mut self.svc, at);
        let (ops, effects) = self.svc.take_pending();
        match &r {
            Ok(_) => {
                self.journal.extend(ops);
                self.entries.extend(effects.into_iter().filter_map(|e| match e {
                    Effect::Entry(e) => Some(e),
                    _ => None,
                }));
            }
            Err(e) => {
                assert!(ops.is_empty() && effects.is_empty(), "a refused call journalled something: {e:?}");
                assert_eq!(state(&self.svc), before, "a refused call changed the state: {e:?}");
                self.refused.push(e.status);
            }
        }
        r
    }
}

/// One payout as the model has it.
#[derive(Clone, Debug)]
struct Modelled {
    owner: String,
    amount: u64,
    state: PayoutState,
}

fn check(d: &Driver, model: &[Modelled], owners: &[String]) {
    let mut wallets = 0u64;
    for o in owners {
        let w = d.svc.wallet(&Principal::Owner(o.clone())).unwrap();
        let sum = |s| model.iter().filter(|m| &m.owner == o && m.state == s).map(|m| m.amount).sum::<u64>();
        let (pending, paid) = (sum(PayoutState::Pending), sum(PayoutState::Paid));
        assert_eq!((w.pending, w.paid_out), (pending, paid), "{o}'s payouts");
        assert_eq!(w.balance, w.earned - pending - paid, "{o}'s wallet");
        wallets += w.balance;
        // The wallet's history lines, signed, add up to what it holds.
        let mut held = 0i128;
        for e in d.entries.iter().filter(|e| e.account == format!("worker:{o}")) {
            held += match e.kind.as_str() {
                "reward" | "payout_returned" => i128::from(e.amount),
                "payout" => -i128::from(e.amount),
                "payout_paid" => 0,
                k => panic!("unexpected line {k}"),
            };
        }
        assert_eq!(held, i128::from(w.balance), "{o}'s history adds up to the balance");
    }
    let l = d.svc.ledger(&Principal::Operator).unwrap();
    assert!(l.conserves, "{l:?}");
    assert_eq!(l.wallets, wallets);
    let sum = |s| model.iter().filter(|m| m.state == s).map(|m| m.amount).sum::<u64>();
    assert_eq!((l.pending_payouts, l.paid_out), (sum(PayoutState::Pending), sum(PayoutState::Paid)));
    assert_eq!(l.charged, l.wallets + l.pending_payouts + l.paid_out + l.refunded + l.platform + l.escrow);
}

fn one_run(seed: u64) -> (usize, usize, usize) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let cfg = EngineConfig { t1_ms: 1_000, t2_ms: 3_000, refresh_ms: 500, ..EngineConfig::default() };
    let mut svc = Service::new(cfg).unwrap();
    svc.set_live(true);
    let mut d = Driver { svc, now: 1_000_000, journal: Vec::new(), entries: Vec::new(), refused: Vec::new() };
    let op = Principal::Operator;
    d.run(|s, at| s.create_user(at, &op, CreateUser { user: "ana".into() }, Secret::generate())).unwrap();
    d.run(|s, at| s.top_up(at, &op, TopUp { user: "ana".into(), amount: 100_000_000 }, None)).unwrap();
    let ana = Principal::User("ana".into());
    let owners: Vec<String> = (0..3).map(|i| format!("o{i}")).collect();
    for o in &owners {
        d.run(|s, at| s.create_owner(at, None, CreateOwner { owner: o.clone() }, Secret::generate())).unwrap();
    }
    let devices: Vec<Principal> = (0..4)
        .map(|i| {
            let mut dev = Device::new(format!("d{i}"));
            dev.ram_available_mb = Some(4_000.0);
            let owner = Principal::Owner(owners[i % 2].clone()); // o2 has no devices
            let req = RegisterDevice { device: dev, owner: String::new() };
            d.run(|s, at| s.register_device(at, Some(&owner), req, Secret::generate())).unwrap();
            Principal::Device(format!("d{i}"))
        })
        .collect();
    d.now += 1_000;
    d.run(|s, at| s.apply(at, &Op::Tick)).unwrap();

    let mut model: Vec<Modelled> = Vec::new();
    let mut jobs = 0;
    let mut retried = 0;
    for _ in 0..400 {
        match rng.random_range(0..100) {
            // Earn: a job, run to its end by the devices.
            0..=14 => {
                jobs += 1;
                let id = format!("j{jobs}");
                let spec = JobSpec {
                    price_chips: ByteChips(rng.random_range(1_000..50_000)),
                    ..JobSpec::new(&id, rng.random_range(1..5))
                };
                d.run(|s, at| s.create_job(at, &ana, spec, None)).unwrap();
                for _ in 0..50 {
                    for dev in &devices {
                        if let Ok(p) = d.run(|s, at| s.pull(at, dev, None)) {
                            if let Some(t) = p.task {
                                let meta = Synthetic::expected(&t.job, &t.chunk);
                                let body = serde_json::to_vec(&meta).unwrap();
                                let a = byterank_core::AttemptId(t.attempt);
                                d.run(|s, at| s.report_result(at, dev, a, &body, None)).unwrap();
                            }
                        }
                    }
                    if d.svc.job(&id).unwrap().state != byterank_http::service::JobState::Running {
                        break;
                    }
                    d.now += 600;
                    d.run(|s, at| s.apply(at, &Op::Tick)).unwrap();
                }
            }
            // An owner asks for a payout: within the balance, all of it, 0, or too much.
            15..=54 => {
                let o = &owners[rng.random_range(0..owners.len())];
                let who = Principal::Owner(o.clone());
                let balance = d.svc.wallet(&who).unwrap().balance;
                let amount = match rng.random_range(0..10) {
                    0 => 0,
                    1 => balance + rng.random_range(1..100),
                    2 => balance,
                    _ => rng.random_range(0..=balance / 3 + 1),
                };
                let key = rng.random_bool(0.5).then(|| format!("p{}", rng.random::<u32>()));
                let r = d.run(|s, at| s.request_payout(at, &who, PayoutRequest { amount }, key.as_deref()));
                match r {
                    Ok(p) => {
                        assert!(amount >= 1 && amount <= balance, "asked {amount} of {balance}, was given {p:?}");
                        assert_eq!(p.id, model.len() as u64 + 1);
                        assert_eq!((p.amount, p.state, p.owner.as_str()), (amount, PayoutState::Pending, o.as_str()));
                        model.push(Modelled { owner: o.clone(), amount, state: PayoutState::Pending });
                        if let Some(k) = key.filter(|_| rng.random_bool(0.5)) {
                            // The answer was lost: the retry gets it again and moves nothing.
                            let before = state(&d.svc);
                            let again = d.run(|s, at| s.request_payout(at, &who, PayoutRequest { amount }, Some(&k)));
                            assert_eq!(again.unwrap(), p);
                            assert_eq!(state(&d.svc), before, "a retried payout changed the state");
                            retried += 1;
                        }
                    }
                    Err(e) => {
                        assert!(amount == 0 || amount > balance, "{amount} of {balance} refused: {e:?}");
                        assert!([400, 409].contains(&e.status), "{e:?}");
                    }
                }
            }
            // The operator pays or rejects one (or an unknown one, or asks for pending).
            55..=84 => {
                let id = rng.random_range(1..=model.len() as u64 + 2);
                let to = match rng.random_range(0..10) {
                    0 => PayoutState::Pending,
                    1..=5 => PayoutState::Paid,
                    _ => PayoutState::Rejected,
                };
                let r = d.run(|s, at| s.settle_payout(at, &op, id, SettlePayout { state: to }));
                let m = model.get_mut(id as usize - 1);
                match (r, m) {
                    (Ok(p), Some(m)) => {
                        assert!(m.state == PayoutState::Pending || m.state == to, "{m:?} became {to:?}");
                        assert_ne!(to, PayoutState::Pending);
                        m.state = to;
                        assert_eq!(p.state, to);
                    }
                    (Err(e), Some(m)) => {
                        let expected = if to == PayoutState::Pending { 400 } else { 409 };
                        assert_eq!(e.status, expected, "{m:?} to {to:?}: {e:?}");
                        assert!(to == PayoutState::Pending || (m.state != PayoutState::Pending && m.state != to));
                    }
                    (Err(e), None) => assert!([400, 404].contains(&e.status), "{e:?}"),
                    (Ok(p), None) => panic!("an unknown payout was settled: {p:?}"),
                }
            }
            // Callers without the right key.
            85..=94 => {
                let (o, dev) = (Principal::Owner(owners[0].clone()), devices[0].clone());
                let req = || PayoutRequest { amount: 1 };
                let e = d.run(|s, at| s.request_payout(at, &ana, req(), None)).unwrap_err();
                assert_eq!(e.status, 403);
                let e = d.run(|s, at| s.request_payout(at, &dev, req(), None)).unwrap_err();
                assert_eq!(e.status, 403);
                let e = d.run(|s, at| s.request_payout(at, &op, req(), None)).unwrap_err();
                assert_eq!(e.status, 403);
                let paid = SettlePayout { state: PayoutState::Paid };
                assert_eq!(d.run(|s, at| s.settle_payout(at, &o, 1, paid.clone())).unwrap_err().status, 403);
                assert_eq!(d.run(|s, at| s.settle_payout(at, &ana, 1, paid)).unwrap_err().status, 403);
                // An owner lists their own payouts only.
                let mine = d.svc.payouts(&o, &Default::default()).unwrap();
                assert!(mine.payouts.iter().all(|p| p.owner == owners[0]));
                let q = byterank_http::api::PayoutsQuery { owner: Some(owners[1].clone()), ..Default::default() };
                assert_eq!(d.svc.payouts(&o, &q).unwrap_err().status, 403);
            }
            _ => {
                d.now += rng.random_range(0..2_000);
                d.run(|s, at| s.apply(at, &Op::Tick)).unwrap();
            }
        }
        check(&d, &model, &owners);
    }
    // The operator's listing, page by page, is the model's, newest first.
    let mut listed = Vec::new();
    let mut before = None;
    loop {
        let q = byterank_http::api::PayoutsQuery { limit: Some(7), before, ..Default::default() };
        let page = d.svc.payouts(&op, &q).unwrap();
        listed.extend(page.payouts.iter().map(|p| (p.owner.clone(), p.amount, p.state)));
        match page.next {
            Some(n) => before = Some(n),
            None => break,
        }
    }
    let want: Vec<_> = model.iter().rev().map(|m| (m.owner.clone(), m.amount, m.state)).collect();
    assert_eq!(listed, want);

    let mut fresh = Service::new(d.svc.engine().config().clone()).unwrap();
    for (i, (at, op)) in d.journal.iter().enumerate() {
        fresh.apply(*at, op).unwrap_or_else(|e| panic!("op {i} ({}) refused in replay: {e}", op.name()));
    }
    assert_eq!(state(&fresh), state(&d.svc), "replay differs from the live state");
    let settled = model.iter().filter(|m| m.state != PayoutState::Pending).count();
    assert!(d.refused.contains(&409) && d.refused.contains(&403), "the mix includes refusals");
    (model.len(), settled, retried)
}

#[test]
fn payouts_move_chips_as_the_model_says_and_replay_the_same() {
    let (mut requested, mut settled, mut retried) = (0, 0, 0);
    for seed in 0..4 {
        let (r, s, k) = one_run(seed);
        (requested, settled, retried) = (requested + r, settled + s, retried + k);
    }
    assert!(requested > 20 && settled > 10 && retried > 0, "too little: {requested} requested, {settled} settled");
    eprintln!("{requested} payouts requested, {settled} settled, {retried} retried under their keys");
}
