//! `ssv-node`: the SSV operator node. See `ssv-node --help` and [`ssv_shell::cli`].

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = ssv_shell::cli::Cli::parse();
    match ssv_shell::cli::execute(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ssv-node: {e}");
            ExitCode::FAILURE
        }
    }
}
