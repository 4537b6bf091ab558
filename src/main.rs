//! The `byterank` command: one tool, one subcommand per task.

mod cli;

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli::Failure;

#[derive(Parser)]
#[command(
    name = "byterank",
    version,
    about = "An open scheduler for grids of consumer devices",
    after_help = "File formats (grid, job, fault rates), field by field: docs/formats.md in the repository.\n\
                  Bad input: one line on stderr naming the input, exit status 2, nothing on stdout."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Rank(cli::rank::RankArgs),
    Plan(cli::plan::PlanArgs),
    Replication(cli::replication::ReplicationArgs),
    Synth(cli::synth::SynthArgs),
    Simulate(cli::simulate::SimulateArgs),
    Report(cli::simulate::ReportArgs),
    Serve(cli::service::ServeArgs),
    Worker(cli::service::WorkerArgs),
    Journal(cli::service::JournalArgs),
    Loadgen(cli::service::LoadgenArgs),
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            eprintln!("{}", one_line(&e.to_string()));
            return ExitCode::from(2);
        }
    };
    let result = match cli.command {
        Command::Rank(args) => cli::rank::run(args),
        Command::Plan(args) => cli::plan::run(args),
        Command::Replication(args) => cli::replication::run(args),
        Command::Synth(args) => cli::synth::run(args),
        Command::Simulate(args) => cli::simulate::run(args),
        Command::Report(args) => cli::simulate::report(args),
        Command::Serve(args) => cli::service::run_serve(args),
        Command::Worker(args) => cli::service::run_worker(args),
        Command::Journal(args) => cli::service::run_journal(args),
        Command::Loadgen(args) => cli::service::run_loadgen(args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure::Input(msg)) => {
            eprintln!("error: {msg}");
            ExitCode::from(2)
        }
        // A closed pipe (`byterank rank ... | head`) is not an error.
        Err(Failure::Output(e)) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(Failure::Output(e)) => {
            eprintln!("error: cannot write output: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Clap's error without its usage block, on one line: `error: invalid value '-1'
/// for '--devices <N>': ... (see --help)`.
fn one_line(rendered: &str) -> String {
    let body = rendered.split("\nUsage:").next().unwrap_or(rendered);
    let parts: Vec<&str> =
        body.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with("For more information")).collect();
    format!("{} (see --help)", parts.join(" "))
}
