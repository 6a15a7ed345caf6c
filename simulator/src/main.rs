//! `ssv-sim`: the simulator binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!("ssv-sim: the simulator has not landed yet (see the tracker, 'Simulator')");
    ExitCode::from(2)
}
