//! The `byterank` command: one tool, one subcommand per task.

mod cli;

use std::io;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cli::Failure;

#[derive(Parser)]
#[command(name = "byterank", version, about = "An open scheduler for grids of consumer devices")]
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
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Rank(args) => cli::rank::run(args),
        Command::Plan(args) => cli::plan::run(args),
        Command::Replication(args) => cli::replication::run(args),
        Command::Synth(args) => cli::synth::run(args),
        Command::Simulate(args) => cli::simulate::run(args),
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
