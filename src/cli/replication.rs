//! `byterank replication`: copies needed for a bound on joint failure, or the
//! probability of joint failure of a given number of copies (the Appendix).

use std::path::PathBuf;

use byterank::core::replication::{pjf, pjf_uniform, solve, solve_uniform, Assignment, Solution};
use clap::{ArgGroup, Args, ValueEnum};
use serde::Serialize;

use super::{print_json, read, Failure};

/// Replication factor for a bound on the probability of joint failure (PJF), or
/// the PJF of a given number of copies.
#[derive(Args)]
#[command(group(ArgGroup::new("rates").required(true).args(["fault_rate", "fault_rates"])))]
#[command(group(ArgGroup::new("goal").required(true).args(["max_pjf", "copies"])))]
pub struct ReplicationArgs {
    /// Unique tasks, m.
    #[arg(long)]
    tasks: usize,
    /// One failure probability for every device (and as many devices as needed).
    #[arg(long)]
    fault_rate: Option<f64>,
    /// A JSON array of per-device failure probabilities, in the order devices are used.
    #[arg(long)]
    fault_rates: Option<PathBuf>,
    /// Solve for the least number of copies whose PJF is at most this.
    #[arg(long)]
    max_pjf: Option<f64>,
    /// Evaluate this number of copies, M.
    #[arg(long)]
    copies: Option<usize>,
    /// How copies are grouped into tasks.
    #[arg(long, value_enum, default_value_t = AssignmentArg::Paper)]
    assignment: AssignmentArg,
    /// Largest replication factor the solver may use.
    #[arg(long, default_value_t = 10.0)]
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

#[derive(Serialize)]
struct Output {
    tasks: usize,
    copies: usize,
    r: f64,
    pjf: f64,
    achievable: bool,
    assignment: Assignment,
}

impl Output {
    fn solved(s: Solution, assignment: Assignment) -> Output {
        Output { tasks: s.unique, copies: s.copies, r: s.r, pjf: s.pjf, achievable: s.achievable, assignment }
    }

    fn evaluated(tasks: usize, copies: usize, pjf: f64, assignment: Assignment) -> Output {
        Output { tasks, copies, r: copies as f64 / tasks as f64, pjf, achievable: true, assignment }
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
            let text = read(path, "fault-rates file")?;
            let rates: Vec<f64> = serde_json::from_str(&text).map_err(|e| {
                Failure::Input(format!("{}: expected a JSON array of probabilities: {e}", path.display()))
            })?;
            match (goal, copies) {
                (Some(delta), None) => {
                    Output::solved(solve(&rates, m, delta, args.max_r, assignment).map_err(|e| bad(&e))?, assignment)
                }
                (None, Some(copies)) => {
                    let used = rates.get(..copies).ok_or_else(|| {
                        Failure::Input(format!(
                            "--copies {copies} needs {copies} devices; the file lists {}",
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
