//! `ssv-devnet`: a local SSV devnet in one command: Hardhat with the SSVNetwork events
//! contract, the beacon-chain simulator, and one `ssv-node` per operator on 127.0.0.1.
//! See [`ssv_shell::devnet::orchestrator`]. Exits 0 only if every due duty was done with
//! a valid signature and nothing slashable was signed.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use ssv_shell::devnet::orchestrator::{DevnetOptions, locate_or_build, run};

#[derive(Parser)]
#[command(name = "ssv-devnet", about = "Run a local SSV devnet and check every duty")]
struct Args {
    /// Operators (4, 7, 10 or 13); every validator is split among all of them.
    #[arg(long, default_value_t = 4)]
    operators: usize,
    /// Validators to generate and register.
    #[arg(long, default_value_t = 8)]
    validators: u64,
    /// Slots to run; then a summary is printed and the devnet stops.
    #[arg(long, default_value_t = 16)]
    slots: u64,
    /// Validators of the simulated beacon chain in all: ours first, the rest unregistered
    /// (default 8 x ours, so ours hold about an eighth of the proposals and of the 512
    /// sync-committee positions, as a cluster would on a real chain, not all of them).
    #[arg(long)]
    chain_validators: Option<u64>,
    /// Slot duration in seconds (short for demos; 12 for realism). 4 s leaves room for a
    /// round change (first round ends 1/3 slot + 2 s in) when a leader is down.
    #[arg(long, default_value_t = 4)]
    slot_seconds: u64,
    /// Slots per epoch of the simulated chain.
    #[arg(long, default_value_t = 8)]
    slots_per_epoch: u64,
    /// Take this operator down (SIGKILL) during the run …
    #[arg(long, requires = "at_slot")]
    stop_operator: Option<u64>,
    /// … at the start of this slot of the run (1-based).
    #[arg(long, requires = "stop_operator")]
    at_slot: Option<u64>,
    /// Send the contract's `exitValidator` for this validator (beacon index) during the
    /// run: the nodes then run its voluntary exit, which becomes a due duty …
    #[arg(long, requires = "exit_at_slot")]
    exit_validator: Option<u64>,
    /// … at the start of this slot of the run (1-based).
    #[arg(long, requires = "exit_validator")]
    exit_at_slot: Option<u64>,
    /// Write the simulator's genesis, spec, fork schedule, validators, every request it
    /// received (`submissions.jsonl`) and the submissions it accepted here.
    #[arg(long)]
    record: Option<PathBuf>,
    /// Write the summary as JSON here.
    #[arg(long)]
    json_summary: Option<PathBuf>,
    /// The run folder (default: `.devnet/<unix time>` in the repository).
    #[arg(long)]
    folder: Option<PathBuf>,
    /// The ssv-node binary (default: beside this one, built with cargo if missing).
    #[arg(long)]
    node_bin: Option<PathBuf>,
    /// The ssv-sim binary (default: beside this one, built with cargo if missing).
    #[arg(long)]
    sim_bin: Option<PathBuf>,
    /// Seed of the validator keys.
    #[arg(long, default_value = "ssv-devnet")]
    seed: String,
}

/// The binary `name` of `package`: given, else beside this one or built with cargo.
fn binary(given: Option<PathBuf>, name: &str, package: &str) -> Result<PathBuf, String> {
    match given {
        Some(p) => Ok(p),
        None => locate_or_build(name, package),
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    let bins = binary(args.node_bin, "ssv-node", "ssv-shell")
        .and_then(|n| Ok((n, binary(args.sim_bin, "ssv-sim", "ssv-simulator")?)));
    let (node_bin, sim_bin) = match bins {
        Ok(b) => b,
        Err(e) => {
            eprintln!("ssv-devnet: {e}");
            return ExitCode::from(2);
        }
    };
    let opts = DevnetOptions {
        operators: args.operators,
        validators: args.validators,
        slots: args.slots,
        slot_seconds: args.slot_seconds,
        slots_per_epoch: args.slots_per_epoch,
        stop_operator: args.stop_operator.zip(args.at_slot),
        exit_validator: args.exit_validator.zip(args.exit_at_slot),
        late_validators: None,
        chain_validators: args.chain_validators,
        record: args.record,
        json_summary: args.json_summary,
        folder: args.folder,
        node_bin,
        sim_bin,
        seed: args.seed,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ssv-devnet: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Ctrl-C drops the run, which kills every child process.
    let result = runtime.block_on(async {
        tokio::select! {
            r = run(&opts) => Some(r),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    match result {
        Some(Ok(summary)) if summary.success() => ExitCode::SUCCESS,
        Some(Ok(_)) => ExitCode::FAILURE,
        Some(Err(e)) => {
            eprintln!("ssv-devnet: {e}");
            ExitCode::FAILURE
        }
        None => {
            eprintln!("ssv-devnet: interrupted; every process stopped");
            ExitCode::from(130)
        }
    }
}
