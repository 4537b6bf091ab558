//! Statistics over replications: means with Student-t 95% intervals, paired
//! differences against a baseline with a verdict, and nearest-rank percentiles.
//!
//! Replications are independent (one seed each), so the mean of a metric over them
//! has a Student-t interval with `n - 1` degrees of freedom. Variants share each
//! replication's seed (common random numbers), so comparing two variants uses the
//! per-replication differences, whose variance is usually far smaller than that of
//! either variant alone.

use serde::{Deserialize, Serialize};
use statrs::distribution::{ContinuousCDF, StudentsT};

/// A mean over replications and its 95% interval.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeanCi {
    /// Mean.
    pub mean: f64,
    /// Half-width of the 95% Student-t interval (`None` with fewer than two values).
    pub half: Option<f64>,
    /// How many values (replications with a value).
    pub n: usize,
}

impl MeanCi {
    /// The mean and 95% interval of `values` (`None` when empty).
    pub fn of(values: &[f64]) -> Option<MeanCi> {
        let n = values.len();
        if n == 0 {
            return None;
        }
        let mean = values.iter().sum::<f64>() / n as f64;
        let half = (n >= 2).then(|| {
            let var = values.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            t_975(n - 1) * (var / n as f64).sqrt()
        });
        Some(MeanCi { mean, half, n })
    }

    /// Lower end of the interval (the mean itself without one).
    pub fn lo(&self) -> f64 {
        self.mean - self.half.unwrap_or(0.0)
    }

    /// Upper end of the interval (the mean itself without one).
    pub fn hi(&self) -> f64 {
        self.mean + self.half.unwrap_or(0.0)
    }

    /// Whether the interval exists and leaves zero out.
    pub fn excludes_zero(&self) -> bool {
        self.half.is_some() && (self.lo() > 0.0 || self.hi() < 0.0)
    }
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom.
pub fn t_975(df: usize) -> f64 {
    StudentsT::new(0.0, 1.0, df as f64).expect("df >= 1").inverse_cdf(0.975)
}

/// Which way a metric is better.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Better {
    /// Less is better (time, failures, copies).
    Lower,
    /// More is better (jobs completed).
    Higher,
    /// Neither: the verdict says only higher or lower.
    Neither,
}

/// What a paired interval says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// The interval excludes zero on the good side.
    Better,
    /// The interval excludes zero on the bad side.
    Worse,
    /// The interval excludes zero above, for a metric with no good side.
    Higher,
    /// The interval excludes zero below, for a metric with no good side.
    Lower,
    /// The interval includes zero (or there are too few pairs for one).
    NoDifference,
}

impl Verdict {
    /// How the table prints it.
    pub fn label(self) -> &'static str {
        match self {
            Verdict::Better => "better",
            Verdict::Worse => "worse",
            Verdict::Higher => "higher",
            Verdict::Lower => "lower",
            Verdict::NoDifference => "no difference",
        }
    }
}

/// A paired difference (variant minus baseline) over replications.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Paired {
    /// Mean difference and its 95% interval over the pairs.
    pub diff: MeanCi,
    /// What the interval says at 95%.
    pub verdict: Verdict,
}

impl Paired {
    /// Pairs `variant[i]` with `baseline[i]` where both have a value.
    pub fn of(variant: &[Option<f64>], baseline: &[Option<f64>], better: Better) -> Option<Paired> {
        let d: Vec<f64> = variant.iter().zip(baseline).filter_map(|(v, b)| Some((*v)? - (*b)?)).collect();
        let diff = MeanCi::of(&d)?;
        let verdict = if !diff.excludes_zero() {
            Verdict::NoDifference
        } else {
            let up = diff.mean > 0.0;
            match better {
                Better::Lower if up => Verdict::Worse,
                Better::Lower => Verdict::Better,
                Better::Higher if up => Verdict::Better,
                Better::Higher => Verdict::Worse,
                Better::Neither if up => Verdict::Higher,
                Better::Neither => Verdict::Lower,
            }
        };
        Some(Paired { diff, verdict })
    }
}

/// Percentiles of job-level values (nearest rank), over every job of every
/// replication.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    /// Jobs.
    pub n: usize,
    /// Mean.
    pub mean: f64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
}

impl Percentiles {
    /// Percentiles of `values` (`None` when empty).
    pub fn of(values: &[f64]) -> Option<Percentiles> {
        if values.is_empty() {
            return None;
        }
        let mut v = values.to_vec();
        v.sort_by(f64::total_cmp);
        let q = |p: f64| v[((p * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1];
        Some(Percentiles {
            n: v.len(),
            mean: v.iter().sum::<f64>() / v.len() as f64,
            p50: q(0.5),
            p90: q(0.9),
            p99: q(0.99),
            max: v[v.len() - 1],
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_the_tables() {
        // Student's t, two-sided 95%: df 1 = 12.706, 4 = 2.776, 19 = 2.093, 1000 ~ 1.962.
        for (df, t) in [(1, 12.706), (4, 2.776), (19, 2.093), (1000, 1.962)] {
            assert!((t_975(df) - t).abs() < 1e-3, "df {df}: {}", t_975(df));
        }
    }

    #[test]
    fn a_mean_interval_by_hand() {
        // 1..=5: mean 3, sd sqrt(2.5), half = 2.776 * sqrt(2.5 / 5).
        let m = MeanCi::of(&[1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
        assert_eq!((m.mean, m.n), (3.0, 5));
        assert!((m.half.unwrap() - 2.776_445 * 0.5f64.sqrt()).abs() < 1e-4, "{m:?}");
        assert_eq!(MeanCi::of(&[7.0]).unwrap().half, None);
        assert_eq!(MeanCi::of(&[]), None);
    }

    #[test]
    fn pairing_removes_the_shared_noise_and_gives_verdicts() {
        // Replications vary a lot; the variant is always 1 more than the baseline.
        let base = [Some(10.0), Some(50.0), Some(90.0), Some(30.0)];
        let var = [Some(11.0), Some(51.5), Some(90.5), Some(31.0)];
        let p = Paired::of(&var, &base, Better::Lower).unwrap();
        assert_eq!(p.verdict, Verdict::Worse);
        assert_eq!(Paired::of(&var, &base, Better::Higher).unwrap().verdict, Verdict::Better);
        assert_eq!(Paired::of(&var, &base, Better::Neither).unwrap().verdict, Verdict::Higher);
        // Unpaired, the intervals overlap entirely.
        let (a, b) = (MeanCi::of(&base.map(Option::unwrap)).unwrap(), MeanCi::of(&var.map(Option::unwrap)).unwrap());
        assert!(a.hi() > b.lo());
        // Differences of both signs: no difference.
        let var = [Some(12.0), Some(48.0), Some(91.0), Some(29.0)];
        assert_eq!(Paired::of(&var, &base, Better::Lower).unwrap().verdict, Verdict::NoDifference);
        // Missing values drop the pair; one pair has no interval.
        let var = [None, Some(51.0), None, None];
        let p = Paired::of(&var, &base, Better::Lower).unwrap();
        assert_eq!((p.diff.n, p.verdict), (1, Verdict::NoDifference));
    }

    #[test]
    fn percentiles_nearest_rank() {
        let p = Percentiles::of(&(1..=100).map(f64::from).collect::<Vec<_>>()).unwrap();
        assert_eq!((p.p50, p.p90, p.p99, p.max, p.n), (50.0, 90.0, 99.0, 100.0, 100));
    }
}
