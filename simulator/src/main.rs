//! `ssv-sim`: the simulator binary (`run`, `swarm`, `replay`, `shrink`).

use std::process::ExitCode;

use clap::Parser;
use ssv_simulator::sim::cli::{SimCommand, execute};

#[derive(Parser)]
#[command(name = "ssv-sim", about = "SSV simulator tools")]
struct Cli {
    #[command(subcommand)]
    command: SimCommand,
}

fn main() -> ExitCode {
    execute(Cli::parse().command)
}
