//! What the benchmarks share: the baseline every ratio is quoted against.

use criterion::measurement::WallTime;
use criterion::{BatchSize, BenchmarkGroup};

/// `sort_baseline`: `sort_unstable_by` of the scores, descending, as the group's
/// baseline, measured in the same run as what it is compared with.
pub fn sort_baseline(g: &mut BenchmarkGroup<'_, WallTime>, scores: &[f64]) {
    g.bench_function("sort_baseline", |b| {
        b.iter_batched_ref(
            || scores.to_vec(),
            |s| s.sort_unstable_by(|a, b| b.partial_cmp(a).unwrap()),
            BatchSize::LargeInput,
        )
    });
}
