//! `ssv-sim`: the simulator binary: seeded cluster worlds (`run`, `swarm`, `replay`,
//! `shrink`) and a simulated beacon node (`beacon-node`).
//!
//! `ssv-sim beacon-node --port P --validators V [--slot-seconds T] [--genesis-time UNIX]
//! [--fork FORK]` serves a simulated beacon chain over the Beacon API.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Parser, Subcommand};
use ssv_core::beacon::DataVersion;
use ssv_core::crypto::bls::PublicKey;
use ssv_simulator::chain::keys::derive_secret_key;
use ssv_simulator::chain::{Chain, ChainConfig};
use ssv_simulator::server::{Faults, ServerOptions, spawn};
use ssv_simulator::sim::cli::{SimCommand, execute};

#[derive(Parser)]
#[command(name = "ssv-sim", about = "SSV simulator tools")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve a simulated beacon chain over the Beacon API.
    BeaconNode(BeaconNodeArgs),
    #[command(flatten)]
    Sim(SimCommand),
}

#[derive(clap::Args)]
struct BeaconNodeArgs {
    /// TCP port on 127.0.0.1 (0: chosen by the OS; the bound address is printed).
    #[arg(long, default_value_t = 5052)]
    port: u16,
    /// Number of validators with keys derived from --key-seed (ignored with --pubkeys).
    #[arg(long, default_value_t = 64)]
    validators: u64,
    /// Seed of derived validator keys, shuffles and hashes.
    #[arg(long, default_value_t = 0)]
    key_seed: u64,
    /// File of validator public keys, one 0x-hex key per line, in index order.
    #[arg(long)]
    pubkeys: Option<PathBuf>,
    /// Validators appended after those of --pubkeys (or --validators), keys derived from
    /// --key-seed: the rest of the chain, so a small SSV cluster holds a realistic share of
    /// proposals and sync-committee positions instead of all of them.
    #[arg(long, default_value_t = 0)]
    filler_validators: u64,
    /// Slot duration in seconds.
    #[arg(long, default_value_t = 12)]
    slot_seconds: u64,
    /// Slots per epoch (32 on mainnet).
    #[arg(long, default_value_t = 32)]
    slots_per_epoch: u64,
    /// Genesis time, unix seconds (default: now).
    #[arg(long)]
    genesis_time: Option<u64>,
    /// The fork in force from genesis (deneb, electra, fulu).
    #[arg(long, default_value = "electra")]
    fork: DataVersion,
    /// Folder to append accepted submissions (`submissions.jsonl`) and every request
    /// received (`requests.jsonl`) to.
    #[arg(long)]
    record_dir: Option<PathBuf>,
    /// Fault: answer a route slowly, `ROUTE=MILLIS` (route is a path prefix). Repeatable.
    #[arg(long, value_parser = Faults::parse_pair)]
    slow_route: Vec<(String, u64)>,
    /// Fault: answer a route with an error status, `ROUTE=STATUS`. Repeatable.
    #[arg(long, value_parser = Faults::parse_pair)]
    error_route: Vec<(String, u64)>,
    /// Fault: the head lags the wall clock by this many slots.
    #[arg(long, default_value_t = 0)]
    head_lag: u64,
}

/// First derivation index of --filler-validators' keys.
const FILLER_KEY_OFFSET: u64 = 1 << 40;

fn read_pubkeys(path: &PathBuf) -> Result<Vec<PublicKey>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .enumerate()
        .map(|(i, line)| {
            let bytes = hex::decode(line.trim_start_matches("0x"))
                .map_err(|e| format!("line {}: {e}", i + 1))?;
            PublicKey::from_bytes(&bytes).map_err(|e| format!("line {}: {e}", i + 1))
        })
        .collect()
}

async fn beacon_node(args: BeaconNodeArgs) -> Result<(), String> {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let config = ChainConfig {
        seed: args.key_seed,
        genesis_time: args.genesis_time.unwrap_or(now),
        slot_duration_ms: args.slot_seconds.max(1) * 1000,
        slots_per_epoch: args.slots_per_epoch.max(1),
        fork: args.fork,
        head_lag_slots: args.head_lag,
    };
    let chain = match &args.pubkeys {
        Some(path) => {
            let mut keys = read_pubkeys(path)?;
            // Filler keys come from their own index range, apart from --validators' keys.
            keys.extend(
                (0..args.filler_validators)
                    .map(|i| derive_secret_key(args.key_seed, FILLER_KEY_OFFSET + i).public_key()),
            );
            Chain::new(config, keys)
        }
        None => Chain::from_seed(config, args.validators.saturating_add(args.filler_validators)),
    }
    .map_err(|e| e.to_string())?;
    let faults = Faults {
        slow: args.slow_route.into_iter().map(|(r, ms)| (r, Duration::from_millis(ms))).collect(),
        error: args.error_route.into_iter().map(|(r, s)| (r, s.min(599) as u16)).collect(),
    };
    let options = ServerOptions { faults, record_dir: args.record_dir };
    let addr = SocketAddr::from(([127, 0, 0, 1], args.port));
    let server = spawn(addr, chain, options).await.map_err(|e| format!("bind {addr}: {e}"))?;
    println!("ssv-sim beacon-node listening on {}", server.url());
    tokio::signal::ctrl_c().await.map_err(|e| e.to_string())?;
    server.stop();
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let args = match cli.command {
        Command::Sim(command) => return execute(command),
        Command::BeaconNode(args) => args,
    };
    tracing_subscriber::fmt().with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("ssv-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(beacon_node(args));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ssv-sim: {e}");
            ExitCode::FAILURE
        }
    }
}
