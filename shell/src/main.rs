//! `ssv-node`: the SSV operator node binary.

use std::process::ExitCode;

fn main() -> ExitCode {
    eprintln!(
        "ssv-node: the node driver has not landed yet (see the tracker, 'The operator node')"
    );
    ExitCode::from(2)
}
