//! `byterank replication`: copies needed for a bound on joint failure, or the
//! probability of joint failure of a given number of copies (the Appendix).

use std::path::PathBuf;

use byterank::core::replication::{pjf, pjf_uniform, solve, solve_uniform, Assignment, Solution};
use clap::{ArgGroup, Args, ValueEnum};
use serde::de::{Error as _, SeqAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize};

use super::parse::MAX_COPIES;
use super::{print_json, read_json_with, Failure, Shape};

/// Replication factor for a bound on the probability of joint failure (PJF), or
/// the PJF of a given number of copies.
///
/// Copies are grouped into tasks with the balanced assignment by default, as
/// `byterank plan` and the library do; `--assignment paper` gives the Appendix's
/// rule. The rates file format is in docs/formats.md.
#[derive(Args)]
#[command(group(ArgGroup::new("rates").required(true).args(["fault_rate", "fault_rates"])))]
#[command(group(ArgGroup::new("goal").required(true).args(["max_pjf", "copies"])))]
pub struct ReplicationArgs {
    /// Unique tasks, m: 1..=10000000.
    #[arg(long, value_name = "M", allow_negative_numbers = true, value_parser = super::parse::tasks)]
    tasks: usize,
    /// One failure probability for every device (and as many devices as needed), 0..=1.
    #[arg(long, value_name = "P", allow_negative_numbers = true, value_parser = super::parse::probability)]
    fault_rate: Option<f64>,
    /// A JSON array of per-device failure probabilities, in the order devices are
    /// used (at most 100000000); `-` reads stdin.
    #[arg(long, value_name = "FILE")]
    fault_rates: Option<PathBuf>,
    /// Solve for the least number of copies whose PJF is at most this, within (0, 1).
    #[arg(long, value_name = "DELTA", allow_negative_numbers = true, value_parser = super::parse::bound)]
    max_pjf: Option<f64>,
    /// Evaluate this number of copies, M: 1..=100000000.
    #[arg(long, value_name = "M", allow_negative_numbers = true, value_parser = super::parse::copies)]
    copies: Option<usize>,
    /// How copies are grouped into tasks.
    #[arg(long, value_enum, default_value_t = AssignmentArg::Balanced)]
    assignment: AssignmentArg,
    /// Largest replication factor the solver may use, 1..=10.
    #[arg(long, value_name = "R", default_value_t = 10.0, allow_negative_numbers = true, value_parser = super::parse::max_r)]
    max_r: f64,
}

#[derive(Clone, Copy, ValueEnum)]
enum AssignmentArg {
    /// The paper's: least reliable first, device i runs task i mod m.
    Paper,
    /// Ours: groups devices so tasks' joint failure probabilities are as equal as possible.
    Balanced,
}

impl From<AssignmentArg> for Assignment {
    fn from(a: AssignmentArg) -> Self {
        match a {
            AssignmentArg::Paper => Assignment::Paper,
            AssignmentArg::Balanced => Assignment::Balanced,
        }
    }
}

/// The answer; `achievable` only when a bound was given (`--max-pjf`).
#[derive(Serialize)]
struct Output {
    tasks: usize,
    copies: usize,
    r: f64,
    pjf: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    achievable: Option<bool>,
    assignment: Assignment,
}

impl Output {
    fn solved(s: Solution, assignment: Assignment) -> Output {
        Output { tasks: s.unique, copies: s.copies, r: s.r, pjf: s.pjf, achievable: Some(s.achievable), assignment }
    }

    fn evaluated(tasks: usize, copies: usize, pjf: f64, assignment: Assignment) -> Output {
        Output { tasks, copies, r: copies as f64 / tasks as f64, pjf, achievable: None, assignment }
    }
}

/// A JSON array of probabilities, refused past [`MAX_COPIES`] entries before
/// they are all held.
struct Rates(Vec<f64>);

impl<'de> Deserialize<'de> for Rates {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> Visitor<'de> for Visit {
            type Value = Rates;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON array of failure probabilities like [0.01, 0.2]")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Rates, A::Error> {
                let mut rates = Vec::new();
                while let Some(p) = seq.next_element::<f64>()? {
                    if rates.len() as u64 == MAX_COPIES {
                        return Err(A::Error::custom(format!("more than {MAX_COPIES} rates, the limit")));
                    }
                    rates.push(p);
                }
                Ok(Rates(rates))
            }
        }
        d.deserialize_seq(Visit)
    }
}

/// Runs the command.
pub fn run(args: ReplicationArgs) -> Result<(), Failure> {
    let bad = |e: &dyn std::fmt::Display| Failure::Input(e.to_string());
    let assignment: Assignment = args.assignment.into();
    let m = args.tasks;
    let output = match (args.fault_rate, &args.fault_rates, args.max_pjf, args.copies) {
        (Some(p), None, Some(delta), None) => {
            Output::solved(solve_uniform(p, m, delta, args.max_r).map_err(|e| bad(&e))?, assignment)
        }
        (Some(p), None, None, Some(copies)) => {
            let pjf = pjf_uniform(p, m, copies).map_err(|e| bad(&e))?;
            Output::evaluated(m, copies, pjf, assignment)
        }
        (None, Some(path), goal, copies) => {
            let shape = Shape::Array { example: "a JSON array of failure probabilities, like [0.05, 0.1]" };
            let (Rates(rates), name) = read_json_with(path, "fault-rates file", shape, true)?;
            let _working = super::spinner(&format!("solving for {} devices", rates.len()));
            let bad = |e: &dyn std::fmt::Display| Failure::Input(format!("{name}: {e}"));
            match (goal, copies) {
                (Some(delta), None) => {
                    Output::solved(solve(&rates, m, delta, args.max_r, assignment).map_err(|e| bad(&e))?, assignment)
                }
                (None, Some(copies)) => {
                    let used = rates.get(..copies).ok_or_else(|| {
                        Failure::Input(format!(
                            "{name}: --copies {copies} needs the rates of {copies} devices; the file lists {}",
                            rates.len()
                        ))
                    })?;
                    let pjf = pjf(used, m, assignment).map_err(|e| bad(&e))?;
                    Output::evaluated(m, copies, pjf, assignment)
                }
                _ => unreachable!("clap requires exactly one goal"),
            }
        }
        _ => unreachable!("clap requires exactly one source of rates and one goal"),
    };
    print_json(&output)
}
