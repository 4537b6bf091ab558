//! Replication (spec §12) against the paper's examples, closed forms and a naive
//! oracle: PJF from direct products over explicit task groups, no logarithms.

use byterank_core::replication::{
    assign, copies_for, copies_per_task, pjf, pjf_of, pjf_uniform, solve, solve_uniform, Assignment, ReplicationError,
    DEFAULT_MAX_R,
};
use proptest::prelude::*;
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

const BOTH: [Assignment; 2] = [Assignment::Paper, Assignment::Balanced];

/// `|a - b| <= rel * max(|a|, |b|)`.
fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * a.abs().max(b.abs())
}

/// PJF over explicit groups of failure probabilities, by direct products. The
/// recurrence `F += q (1 - F)` (F = some task among the first k failed) has no
/// cancellation, so it stays accurate when the PJF is tiny.
fn naive_pjf(groups: &[Vec<f64>]) -> f64 {
    groups.iter().fold(0.0, |f, g| {
        let q: f64 = g.iter().product();
        f + q * (1.0 - f)
    })
}

/// The paper's grouping, transcribed: sort descending (stable), device i -> task i mod m.
fn paper_groups(probs: &[f64], m: usize) -> Vec<Vec<f64>> {
    let mut idx: Vec<usize> = (0..probs.len()).collect();
    idx.sort_by(|&a, &b| probs[b].total_cmp(&probs[a]));
    let mut groups = vec![Vec::new(); m];
    for (i, &d) in idx.iter().enumerate() {
        groups[i % m].push(probs[d]);
    }
    groups
}

/// Greedy LPT with the copy-count limits, by linear scans: most reliable first, onto
/// the task with the least total -ln p (then fewer copies, then lower index) that may
/// still take a copy.
fn lpt_groups(probs: &[f64], m: usize) -> Vec<Vec<f64>> {
    let (a, extra) = (probs.len() / m, probs.len() % m);
    let mut sorted = probs.to_vec();
    sorted.sort_by(f64::total_cmp);
    let (mut sums, mut groups, mut full) = (vec![0.0f64; m], vec![Vec::new(); m], 0);
    for p in sorted {
        let open = |t: usize, g: &Vec<Vec<f64>>| g[t].len() < a || (g[t].len() == a && full < extra);
        let t = (0..m)
            .filter(|&t| open(t, &groups))
            .min_by(|&s, &t| sums[s].total_cmp(&sums[t]).then(groups[s].len().cmp(&groups[t].len())).then(s.cmp(&t)))
            .unwrap();
        sums[t] += -p.ln();
        groups[t].push(p);
        if groups[t].len() > a {
            full += 1;
        }
    }
    groups
}

fn groups_of(probs: &[f64], tasks: &[u32], m: usize) -> Vec<Vec<f64>> {
    let mut groups = vec![Vec::new(); m];
    for (&p, &t) in probs.iter().zip(tasks) {
        groups[t as usize].push(p);
    }
    groups
}

/// Example 2's grid: 700 at 4%, 6800 at 0.1%, 1600 at 0.005%, 900 at 30%.
fn example_2() -> Vec<f64> {
    [(700, 0.04), (6800, 0.001), (1600, 0.00005), (900, 0.3)]
        .into_iter()
        .flat_map(|(n, p)| std::iter::repeat_n(p, n))
        .collect()
}

/// Example 2 with the 900 bad devices drawn from a normal of mean 30%, sd 13.4%,
/// clamped to [0, 1] (Box–Muller on ChaCha8).
fn example_2_drawn(seed: u64) -> Vec<f64> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut probs = example_2();
    for p in &mut probs[9100..] {
        let (u, v): (f64, f64) = (1.0 - rng.random::<f64>(), rng.random());
        let z = (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos();
        *p = (0.3 + 0.134 * z).clamp(0.0, 1.0);
    }
    probs
}

#[test]
fn example_1_uniform_needs_19985_copies() {
    let s = solve_uniform(0.0005, 10_000, 0.01, DEFAULT_MAX_R).unwrap();
    assert_eq!((s.copies, s.unique, s.achievable), (19_985, 10_000, true));
    assert_eq!(s.r, 1.9985);
    assert!(s.pjf <= 0.01 && pjf_uniform(0.0005, 10_000, 19_984).unwrap() > 0.01);
    // The paper's formula, with log(1+p) where it prints (1+p)^m (spec §14).
    let (p, m, delta) = (0.0005f64, 10_000.0f64, 0.01f64);
    let extra = (((1.0 - delta) / (1.0 - p).powf(m)).ln() / p.ln_1p()).ceil();
    assert_eq!(extra, 9_985.0);
    // The same devices listed one by one, under either assignment.
    for assignment in BOTH {
        let h = solve(&vec![0.0005; 20_000], 10_000, 0.01, DEFAULT_MAX_R, assignment).unwrap();
        assert_eq!((h.copies, h.achievable), (19_985, true), "{assignment:?}");
        assert!(close(h.pjf, s.pjf, 1e-9));
    }
}

#[test]
fn example_1_one_extra_copy_floor_is_0_250_percent() {
    let floor = pjf_uniform(0.0005, 10_000, 20_000).unwrap();
    assert!(close(floor, -(10_000.0 * (-0.0005f64 * 0.0005).ln_1p()).exp_m1(), 1e-12));
    assert_eq!(format!("{:.3}", floor * 100.0), "0.250");
    // r < 2 never goes below it.
    assert!(pjf_uniform(0.0005, 10_000, 19_999).unwrap() > floor);
}

#[test]
fn example_2_paper_rule_gives_25_9_percent_at_r_2() {
    let paper = pjf(&example_2(), 5000, Assignment::Paper).unwrap();
    assert_eq!(format!("{:.1}", paper * 100.0), "25.9");
    // The paper's grouping: 900 × (30%, 0.1%), 700 × (4%, 0.1%), 1800 × (0.1%, 0.1%),
    // 1600 × (0.1%, 0.005%). Reference value from 40-digit arithmetic (mpmath).
    assert!(close(paper, 0.259_123_303_501_454_83, 1e-13), "{paper}");
}

#[test]
fn example_2_balanced_is_far_lower_than_paper() {
    let probs = example_2();
    let paper = pjf(&probs, 5000, Assignment::Paper).unwrap();
    let balanced = pjf(&probs, 5000, Assignment::Balanced).unwrap();
    assert_eq!(format!("{:.2}", balanced * 100.0), "1.81");
    assert!(balanced < paper / 14.0);
    // At r = 2 LPT pairs worst with best, which is optimal for pairs: 900 × (30%, 0.005%),
    // 700 × (4%, 0.005%), 3400 × (0.1%, 0.1%). Reference from 40-digit arithmetic.
    assert!(close(balanced, 0.018_133_674_217_333_247, 1e-13), "{balanced}");
    let by_hand: Vec<Vec<f64>> = [(900, 0.3, 0.00005), (700, 0.04, 0.00005), (3400, 0.001, 0.001)]
        .into_iter()
        .flat_map(|(n, p, q)| std::iter::repeat_n(vec![p, q], n))
        .collect();
    assert!(close(balanced, naive_pjf(&by_hand), 1e-12));
}

#[test]
fn example_2_one_percent_not_achievable_at_r_2() {
    let probs = example_2();
    for assignment in BOTH {
        let s = solve(&probs, 5000, 0.01, 2.0, assignment).unwrap();
        assert!(!s.achievable, "{assignment:?}");
        assert_eq!((s.copies, s.r), (10_000, 2.0));
        assert_eq!(s.pjf, pjf(&probs, 5000, assignment).unwrap());
        // With only these 10,000 devices, a larger cap changes nothing.
        let uncapped = solve(&probs, 5000, 0.01, DEFAULT_MAX_R, assignment).unwrap();
        assert_eq!(uncapped, s);
    }
    // The balanced rule meets 2% where the paper's cannot.
    let two = solve(&probs, 5000, 0.02, 2.0, Assignment::Balanced).unwrap();
    assert!(two.achievable);
    assert_eq!(two.copies, 9_946);
    assert!(!solve(&probs, 5000, 0.02, 2.0, Assignment::Paper).unwrap().achievable);
}

#[test]
fn example_2_with_drawn_bad_devices_is_near_26_4_percent() {
    // The paper drew the 900 bad devices (mean 30%, sd 13.4%) and reports 26.40%. Under
    // its rule they are paired with 0.1% devices, so the PJF moves with their sum: its
    // draw-to-draw sd is about 0.3 points around 25.9%. Check 26.4% is within 3 sd of
    // the mean over 200 seeds, and one fixed draw within 1.5 points of it.
    let values: Vec<f64> = (0..200).map(|seed| pjf(&example_2_drawn(seed), 5000, Assignment::Paper).unwrap()).collect();
    let mean = values.iter().sum::<f64>() / values.len() as f64;
    let sd = (values.iter().map(|v| (v - mean).powi(2)).sum::<f64>() / (values.len() - 1) as f64).sqrt();
    assert!((0.257..0.262).contains(&mean), "mean {mean}");
    assert!((0.002..0.004).contains(&sd), "sd {sd}");
    assert!((0.264 - mean).abs() < 3.0 * sd, "26.4% vs {mean} ± {sd}");
    let seeded = pjf(&example_2_drawn(2022), 5000, Assignment::Paper).unwrap();
    assert!((seeded - 0.264).abs() < 0.015, "{seeded}");
    // Balanced pairs them with the 0.005% devices instead.
    let balanced = pjf(&example_2_drawn(2022), 5000, Assignment::Balanced).unwrap();
    assert!(balanced < 0.02, "{balanced}");
}

#[test]
fn ten_million_single_copies() {
    // m = 10^7 tasks at p = 1e-7, r = 1: PJF = 1 - (1 - 1e-7)^(10^7) ≈ 1 - 1/e.
    let m = 10_000_000;
    let ln_survive: f64 = -1.0 - 0.5e-7 - 1.0 / 3.0 * 1e-14; // 10^7 · ln(1 - 1e-7), to 1e-21
    let expected = 1.0 - ln_survive.exp();
    assert!(close(pjf_uniform(1e-7, m, m).unwrap(), expected, 1e-12));
    let probs = vec![1e-7; m];
    for assignment in BOTH {
        assert!(close(pjf(&probs, m, assignment).unwrap(), expected, 1e-12), "{assignment:?}");
    }
    assert!((expected - 0.632_120_5).abs() < 1e-7);
}

#[test]
fn pjf_near_1e_12_matches_series() {
    // Uniform: p = 1e-5, three copies of 1000 tasks: q = 1e-15, PJF = mq - C(m,2) q^2 + ...
    let (m, q) = (1000usize, 1e-15f64);
    let expected = m as f64 * q - (m * (m - 1) / 2) as f64 * q * q;
    assert!(close(pjf_uniform(1e-5, m, 3 * m).unwrap(), expected, 1e-12));
    for assignment in BOTH {
        assert!(close(pjf(&vec![1e-5; 3 * m], m, assignment).unwrap(), expected, 1e-12), "{assignment:?}");
    }
    // Heterogeneous: task k has two copies, 1e-4·s and 1e-11·s with s = 1 + k/m, so
    // q_k = 1e-15·s² and PJF = Σq − Σ_{j<k} q_j q_k + O((Σq)³) ≈ 2.3e-12.
    let mut probs = Vec::new();
    let mut tasks = Vec::new();
    let mut qs = Vec::new();
    for k in 0..m {
        let s = 1.0 + k as f64 / m as f64;
        probs.extend([1e-4 * s, 1e-11 * s]);
        tasks.extend([k as u32, k as u32]);
        qs.push((1e-4 * s) * (1e-11 * s));
    }
    let (sum, sum_sq) = (qs.iter().sum::<f64>(), qs.iter().map(|q| q * q).sum::<f64>());
    let expected = sum - (sum * sum - sum_sq) / 2.0;
    assert!((1e-12..3e-12).contains(&expected));
    assert!(close(pjf_of(&probs, &tasks, m).unwrap(), expected, 1e-12));
    assert!(close(naive_pjf(&groups_of(&probs, &tasks, m)), expected, 1e-12));
}

#[test]
fn large_heterogeneous_inputs_match_the_closed_form() {
    // 10^5 tasks, 2.5 × 10^5 equal devices: the sorting and LPT paths, checked at scale.
    let (m, copies) = (100_000, 250_000);
    let expected = pjf_uniform(0.01, m, copies).unwrap();
    for assignment in BOTH {
        assert!(close(pjf(&vec![0.01; copies], m, assignment).unwrap(), expected, 1e-9), "{assignment:?}");
    }
}

#[test]
fn certain_and_impossible_failures() {
    for assignment in BOTH {
        assert_eq!(pjf(&[1.0, 1.0], 1, assignment), Ok(1.0));
        assert_eq!(pjf(&[0.0, 1.0], 1, assignment), Ok(0.0));
        assert_eq!(pjf(&[1.0, 0.5], 2, assignment), Ok(1.0));
        assert_eq!(pjf(&[0.0, 0.0, 0.0], 3, assignment), Ok(0.0));
        assert!(close(pjf(&[-0.0, 0.5, 0.5, 0.5], 2, assignment).unwrap(), 0.25, 1e-15));
        // Only certain failures: not achievable, and no copy beyond m helps.
        let s = solve(&[1.0; 6], 2, 0.5, DEFAULT_MAX_R, assignment).unwrap();
        assert_eq!((s.copies, s.pjf, s.achievable), (2, 1.0, false));
        // A p = 0 device makes its task safe: two such devices make every task safe.
        let s = solve(&[0.9, 0.9, 0.0, 0.0], 2, 1e-6, DEFAULT_MAX_R, assignment).unwrap();
        assert_eq!((s.copies, s.pjf, s.achievable), (4, 0.0, true));
    }
    // Balanced: the p = 0 device secures one task, so the 0.5 device goes with a 0.9
    // rather than leaving both 0.9s together: {0.5, 0.9}, {0, 0.9}, PJF 0.45 (not 0.81).
    let tasks = assign(&[0.0, 0.5, 0.9, 0.9], 2, Assignment::Balanced).unwrap();
    assert_ne!(tasks[2], tasks[3]);
    assert!(close(pjf(&[0.0, 0.5, 0.9, 0.9], 2, Assignment::Balanced).unwrap(), 0.45, 1e-15));
    assert!(close(pjf(&[0.0, 0.5, 0.9, 0.9], 2, Assignment::Paper).unwrap(), 0.45, 1e-15));
    assert_eq!(pjf_uniform(1.0, 3, 7), Ok(1.0));
    assert_eq!(pjf_uniform(0.0, 3, 3), Ok(0.0));
    assert_eq!(pjf_uniform(1.0, 3, 6), Ok(1.0));
}

#[test]
fn assignment_output_is_aligned_and_counted() {
    let probs = [0.2, 0.01, 0.3, 0.05, 0.2, 0.4, 0.001];
    for assignment in BOTH {
        let tasks = assign(&probs, 3, assignment).unwrap();
        assert_eq!(tasks.len(), 7);
        let mut counts = [0u32; 3];
        tasks.iter().for_each(|&t| counts[t as usize] += 1);
        assert_eq!(counts.to_vec(), copies_per_task(3, 7).unwrap());
        assert_eq!(pjf_of(&probs, &tasks, 3), pjf(&probs, 3, assignment));
    }
    assert_eq!(copies_per_task(3, 7).unwrap(), [3, 2, 2]);
    // The paper's rule, by hand: descending 0.4, 0.3, 0.2, 0.2, 0.05, 0.01, 0.001
    // (the first 0.2 is device 0) run tasks 0, 1, 2, 0, 1, 2, 0.
    assert_eq!(assign(&probs, 3, Assignment::Paper).unwrap(), [2, 2, 1, 1, 0, 0, 0]);
}

#[test]
fn each_bad_input_has_its_error() {
    use ReplicationError::*;
    let ok = [0.1, 0.2];
    assert_eq!(pjf(&ok, 0, Assignment::Paper), Err(NoTasks));
    assert!(matches!(pjf(&[0.1, f64::NAN], 1, Assignment::Paper), Err(InvalidProbability { index: 1, .. })));
    assert_eq!(pjf(&[0.1, 0.2, 1.5], 1, Assignment::Balanced), Err(InvalidProbability { index: 2, value: 1.5 }));
    assert_eq!(pjf(&[-0.1], 1, Assignment::Paper), Err(InvalidProbability { index: 0, value: -0.1 }));
    assert_eq!(pjf(&ok, 3, Assignment::Paper), Err(TooFewDevices { devices: 2, tasks: 3 }));
    assert_eq!(pjf_uniform(1.2, 3, 3), Err(InvalidUniformProbability(1.2)));
    assert_eq!(pjf_uniform(0.1, 0, 3), Err(NoTasks));
    assert_eq!(pjf_uniform(0.1, 3, 2), Err(TooFewDevices { devices: 2, tasks: 3 }));
    for delta in [0.0, 1.0, -0.5, 2.0] {
        assert_eq!(solve(&ok, 1, delta, 10.0, Assignment::Paper), Err(InvalidDelta(delta)));
        assert_eq!(solve_uniform(0.1, 1, delta, 10.0), Err(InvalidDelta(delta)));
    }
    assert!(matches!(solve(&ok, 1, f64::NAN, 10.0, Assignment::Paper), Err(InvalidDelta(_))));
    assert_eq!(solve(&ok, 1, 0.01, 0.5, Assignment::Paper), Err(InvalidMaxR(0.5)));
    assert!(matches!(solve(&ok, 1, 0.01, f64::NAN, Assignment::Paper), Err(InvalidMaxR(_))));
    assert!(solve(&ok, 1, 0.01, f64::INFINITY, Assignment::Paper).is_ok());
    assert_eq!(solve_uniform(0.1, 1, 0.01, f64::INFINITY), Err(InvalidMaxR(f64::INFINITY)));
    assert_eq!(solve(&ok, 3, 0.01, 10.0, Assignment::Paper), Err(TooFewDevices { devices: 2, tasks: 3 }));
    assert_eq!(solve(&ok, 0, 0.01, 10.0, Assignment::Paper), Err(NoTasks));
    assert_eq!(assign(&ok, 3, Assignment::Balanced), Err(TooFewDevices { devices: 2, tasks: 3 }));
    assert_eq!(copies_for(0.9, 10), Err(InvalidR(0.9)));
    assert_eq!(copies_for(2.0, 0), Err(NoTasks));
    assert_eq!(pjf_of(&ok, &[0], 1), Err(LengthMismatch { copies: 1, devices: 2 }));
    assert_eq!(pjf_of(&ok, &[0, 4], 2), Err(TaskOutOfRange { copy: 1, task: 4, tasks: 2 }));
    assert_eq!(copies_per_task(3, 2), Err(TooFewDevices { devices: 2, tasks: 3 }));
    // Messages say what to do.
    let msg = InvalidProbability { index: 7, value: 1.5 }.to_string();
    assert!(msg.contains("device 7") && msg.contains("0..=1"), "{msg}");
    assert!(TooFewDevices { devices: 2, tasks: 3 }.to_string().contains("at least as many devices"));
}

#[cfg(feature = "serde")]
#[test]
fn serde_names() {
    assert_eq!(serde_json::to_string(&Assignment::Balanced).unwrap(), "\"balanced\"");
    let s = solve_uniform(0.0005, 10_000, 0.01, DEFAULT_MAX_R).unwrap();
    let json = serde_json::to_string(&s).unwrap();
    assert!(json.contains("\"copies\":19985") && json.contains("\"achievable\":true"), "{json}");
    // serde_json parses floats to within an ulp unless its `float_roundtrip` feature is on.
    let back: byterank_core::replication::Solution = serde_json::from_str(&json).unwrap();
    assert_eq!(back, byterank_core::replication::Solution { pjf: back.pjf, ..s });
    assert!(close(back.pjf, s.pjf, 1e-15));
    assert_eq!(serde_json::from_str::<Assignment>("\"paper\"").unwrap(), Assignment::Paper);
}

/// Failure probabilities: arbitrary, small, certain, impossible, Example 2's values,
/// and powers of e (many exact ties in -ln p sums).
fn prob() -> impl Strategy<Value = f64> {
    prop_oneof![
        4 => 0.0..=1.0f64,
        3 => (0.0..1.0f64).prop_map(|u| u.powi(4)),
        1 => Just(0.0),
        1 => Just(1.0),
        2 => prop::sample::select(vec![0.3, 0.04, 0.001, 0.00005]),
        2 => (1u32..8).prop_map(|k| (-f64::from(k)).exp()),
    ]
}

/// `m` tasks and between `m` and `4m + 3` candidate devices.
fn instance() -> impl Strategy<Value = (Vec<f64>, usize)> {
    (1usize..=6).prop_flat_map(|m| (prop::collection::vec(prob(), m..=4 * m + 3), Just(m)))
}

fn pjf_at(probs: &[f64], m: usize, copies: usize, assignment: Assignment) -> f64 {
    pjf(&probs[..copies], m, assignment).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Log space agrees with direct products, for both groupings and for `assign`'s output.
    #[test]
    fn log_space_pjf_matches_naive_products((probs, m) in instance()) {
        for (assignment, groups) in [(Assignment::Paper, paper_groups(&probs, m)), (Assignment::Balanced, lpt_groups(&probs, m))] {
            let fast = pjf(&probs, m, assignment).unwrap();
            prop_assert!(close(fast, naive_pjf(&groups), 1e-9), "{:?}: {} vs {}", assignment, fast, naive_pjf(&groups));
            let tasks = assign(&probs, m, assignment).unwrap();
            let counts = copies_per_task(m, probs.len()).unwrap();
            let assigned = groups_of(&probs, &tasks, m);
            prop_assert!(assigned.iter().zip(&counts).all(|(g, &c)| g.len() == c as usize));
            prop_assert!(close(fast, naive_pjf(&assigned), 1e-9));
        }
    }

    /// PJF never rises when the next candidate joins (spec §12), for either grouping.
    #[test]
    fn pjf_is_non_increasing_in_copies((probs, m) in instance()) {
        for assignment in BOTH {
            for copies in m..probs.len() {
                let (before, after) = (pjf_at(&probs, m, copies, assignment), pjf_at(&probs, m, copies + 1, assignment));
                prop_assert!(after <= before * (1.0 + 1e-12), "{:?} at {}: {} -> {}", assignment, copies, before, after);
            }
        }
    }

    /// The balanced grouping is never worse than the paper's.
    #[test]
    fn balanced_never_worse_than_paper((probs, m) in instance()) {
        let (paper, balanced) = (pjf(&probs, m, Assignment::Paper).unwrap(), pjf(&probs, m, Assignment::Balanced).unwrap());
        prop_assert!(balanced <= paper * (1.0 + 1e-12), "{} > {}", balanced, paper);
    }

    /// `solve` returns the least M (checked against every smaller M), or, when not
    /// achievable, the least M reaching the lowest PJF within the cap.
    #[test]
    fn solve_returns_least_m((probs, m) in instance(), ln_delta in -25.0..-0.01f64, max_r in 1.0..5.0f64) {
        let delta = ln_delta.exp();
        for assignment in BOTH {
            let s = solve(&probs, m, delta, max_r, assignment).unwrap();
            let cap = copies_for(max_r, m).unwrap().min(probs.len());
            prop_assert!((m..=cap).contains(&s.copies));
            prop_assert!(close(s.pjf, pjf_at(&probs, m, s.copies, assignment), 1e-12));
            let values: Vec<f64> = (m..=cap).map(|c| pjf_at(&probs, m, c, assignment)).collect();
            if s.achievable {
                prop_assert!(s.pjf <= delta);
                prop_assert!(values[..s.copies - m].iter().all(|&v| v > delta));
            } else {
                prop_assert!(values.iter().all(|&v| v > delta));
                let best = values.iter().copied().fold(f64::INFINITY, f64::min);
                prop_assert!(close(s.pjf, best, 1e-12));
                prop_assert!(values[..s.copies - m].iter().all(|&v| v > s.pjf));
            }
            prop_assert_eq!(s.r, s.copies as f64 / m as f64);
        }
    }

    /// The closed form agrees with the general PJF on equal devices, and `solve_uniform`
    /// with `solve` on as many equal devices as the cap allows.
    #[test]
    fn closed_form_matches_pjf_on_uniform_devices(p in prob(), m in 1usize..40, extra in 0usize..150, ln_delta in -25.0..-0.01f64) {
        let copies = m + extra;
        let closed = pjf_uniform(p, m, copies).unwrap();
        for assignment in BOTH {
            prop_assert!(close(pjf(&vec![p; copies], m, assignment).unwrap(), closed, 1e-9));
        }
        let delta = ln_delta.exp();
        let u = solve_uniform(p, m, delta, 4.0).unwrap();
        let h = solve(&vec![p; 4 * m], m, delta, 4.0, Assignment::Paper).unwrap();
        prop_assert_eq!((u.copies, u.achievable), (h.copies, h.achievable));
    }
}

/// m = 10^6 tasks over 3 × 10^6 candidates drawn from Example 2's mix. Run with
/// `cargo test --release -p byterank-core --test replication -- --ignored --nocapture`.
#[test]
#[ignore = "a million tasks: run in release"]
fn million_tasks_take_a_few_dozen_evaluations() {
    let m = 1_000_000;
    let mut rng = ChaCha8Rng::seed_from_u64(7);
    let probs: Vec<f64> = (0..3 * m)
        .map(|_| match rng.random_range(0..100) {
            0..7 => 0.04,
            7..75 => 0.001,
            75..91 => 0.00005,
            _ => 0.3,
        })
        .collect();
    for assignment in BOTH {
        for delta in [0.5, 0.01, 1e-6] {
            let start = std::time::Instant::now();
            let s = solve(&probs, m, delta, DEFAULT_MAX_R, assignment).unwrap();
            let range = if s.achievable { s.copies - m } else { probs.len() - m };
            let bound = 2 * (range.max(1) as f64).log2().ceil() as u32 + 2;
            eprintln!(
                "{assignment:?} delta {delta}: M = {} (r = {:.4}), PJF {:.3e}, achievable {}, {} evaluations (bound {bound}), {:.2?}",
                s.copies, s.r, s.pjf, s.achievable, s.evaluations, start.elapsed()
            );
            assert!(s.evaluations <= bound);
        }
    }
}
