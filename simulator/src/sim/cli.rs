//! The `ssv-sim` subcommands: `run`, `swarm`, `replay` and `shrink`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use ssv_core::trace::{TraceHeader, TraceRecord};

use super::options::{BeaconFaults, Behaviour, CryptoMode, Density, NetFaults, SimOptions};
use super::replay::{replay, replay_node_with, shrink};
use super::trace::Trace;
use super::world::{RunReport, run};

/// The simulator's subcommands.
#[derive(Debug, Subcommand)]
pub enum SimCommand {
    /// Run one seeded world and print a per-slot summary and the invariant verdicts.
    Run(RunArgs),
    /// Run many seeds, each with its own random fault mix; print a summary and the failures.
    Swarm(SwarmArgs),
    /// Re-run a trace and check every node produces the recorded outputs.
    Replay(ReplayArgs),
    /// Reduce a failing trace to a short one that still fails.
    Shrink(ShrinkArgs),
}

/// The signature scheme, on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CryptoArg {
    /// Hash-based stand-ins.
    Fake,
    /// RSA-2048.
    Real,
}

impl From<CryptoArg> for CryptoMode {
    fn from(c: CryptoArg) -> Self {
        match c {
            CryptoArg::Fake => Self::Fake,
            CryptoArg::Real => Self::Real,
        }
    }
}

/// `ssv-sim run`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// The seed everything derives from.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Draw the fault mix from the seed, as `swarm` does (other flags then override).
    #[arg(long)]
    pub swarm: bool,
    /// Operators: 4, 7, 10 or 13.
    #[arg(long)]
    pub operators: Option<u64>,
    /// Validators.
    #[arg(long)]
    pub validators: Option<u64>,
    /// Slots to simulate.
    #[arg(long)]
    pub slots: Option<u64>,
    /// Signature scheme.
    #[arg(long, value_enum)]
    pub crypto: Option<CryptoArg>,
    /// Smallest link latency, ms.
    #[arg(long)]
    pub latency_min_ms: Option<u64>,
    /// Largest ordinary link latency, ms.
    #[arg(long)]
    pub latency_max_ms: Option<u64>,
    /// Latency spikes (reordering), per mille of messages, before the heal.
    #[arg(long)]
    pub spike_permille: Option<u32>,
    /// Largest spike, ms.
    #[arg(long)]
    pub spike_max_ms: Option<u64>,
    /// Message loss, per mille, before the heal.
    #[arg(long)]
    pub loss_permille: Option<u32>,
    /// Message duplication, per mille, before the heal.
    #[arg(long)]
    pub duplicate_permille: Option<u32>,
    /// Partitions before the heal.
    #[arg(long)]
    pub partitions: Option<u32>,
    /// The slot at which every fault heals.
    #[arg(long)]
    pub heal_slot: Option<u64>,
    /// Byzantine operators, comma separated: silent, equivocate, bad-signature, garbage,
    /// replay, round-change-spam, conflicting-partials.
    #[arg(long, value_delimiter = ',', value_parser = Behaviour::parse)]
    pub byzantine: Option<Vec<Behaviour>>,
    /// Crash-and-restart events before the heal.
    #[arg(long)]
    pub crashes: Option<u32>,
    /// Largest clock skew, ms.
    #[arg(long)]
    pub clock_skew_ms: Option<u64>,
    /// Largest beacon-node delay, ms.
    #[arg(long)]
    pub beacon_slow_ms: Option<u64>,
    /// Operators whose beacon node errors.
    #[arg(long)]
    pub beacon_erroring: Option<u64>,
    /// Operators whose beacon node lags a slot.
    #[arg(long)]
    pub beacon_lagging: Option<u64>,
    /// Run the core's duty runners (committee duties, real BLS) against the in-memory
    /// beacon chain instead of bare QBFT instances.
    #[arg(long)]
    pub duty_runners: bool,
    /// Duty path: also run the validator duties beyond attestation, sync and proposal:
    /// every attester's aggregator and every sync member's contribution duty, and every
    /// validator's builder registrations (at start-up and every ten epochs).
    #[arg(long)]
    pub aggregation: bool,
    /// Duty path: every operator starts a voluntary exit of this validator (at
    /// `--exit-at-slot`, default: the first slot of epoch 1).
    #[arg(long)]
    pub exit_validator: Option<u64>,
    /// Duty path: the slot of the `--exit-validator` exit.
    #[arg(long, requires = "exit_validator")]
    pub exit_at_slot: Option<u64>,
    /// Duty path: duty density of the chain: `dense` (2 slots per epoch, every validator
    /// syncs and proposes in turn) or `mainnet` (32 slots per epoch, proposers and sync
    /// committee from a mainnet-size registry).
    #[arg(long, value_parser = Density::parse)]
    pub density: Option<Density>,
    /// Test-only: lower every operator's quorum to about f + 1 (a broken rule).
    #[arg(long)]
    pub broken_quorum: bool,
    /// Write the trace to this file.
    #[arg(long)]
    pub trace: Option<PathBuf>,
    /// Print only the verdict.
    #[arg(long, short)]
    pub quiet: bool,
}

impl RunArgs {
    /// The options these flags describe.
    pub fn options(&self) -> SimOptions {
        let mut o = if self.swarm {
            SimOptions::swarm(self.seed, self.crypto.map_or(CryptoMode::Fake, Into::into))
        } else {
            SimOptions::default()
        };
        let set = |v: &mut u64, x: Option<u64>| {
            if let Some(x) = x {
                *v = x;
            }
        };
        set(&mut o.operators, self.operators);
        set(&mut o.validators, self.validators);
        set(&mut o.slots, self.slots);
        set(&mut o.heal_slot, self.heal_slot);
        set(&mut o.clock_skew_ms_max, self.clock_skew_ms);
        let NetFaults { latency_ms_min, latency_ms_max, spike_ms_max, .. } = &mut o.net;
        set(latency_ms_min, self.latency_min_ms);
        set(latency_ms_max, self.latency_max_ms);
        set(spike_ms_max, self.spike_max_ms);
        let n = &mut o.net;
        n.spike_permille = self.spike_permille.unwrap_or(n.spike_permille);
        n.loss_permille = self.loss_permille.unwrap_or(n.loss_permille);
        n.duplicate_permille = self.duplicate_permille.unwrap_or(n.duplicate_permille);
        n.partitions = self.partitions.unwrap_or(n.partitions);
        let BeaconFaults { slow_ms_max, erroring, lagging } = &mut o.beacon;
        set(slow_ms_max, self.beacon_slow_ms);
        set(erroring, self.beacon_erroring);
        set(lagging, self.beacon_lagging);
        if let Some(c) = self.crypto {
            o.crypto = c.into();
        }
        if let Some(b) = &self.byzantine {
            o.byzantine.clone_from(b);
        }
        o.crashes = self.crashes.unwrap_or(o.crashes);
        o.broken_quorum |= self.broken_quorum;
        o.duty_runners |= self.duty_runners;
        o.aggregation |= self.aggregation;
        o.registrations |= self.aggregation;
        o.density = self.density.unwrap_or(o.density);
        if let Some(validator) = self.exit_validator {
            let slot = self.exit_at_slot.unwrap_or_else(|| o.density.slots_per_epoch());
            o.exit = Some(super::options::ExitAt { validator, slot });
        }
        o
    }
}

/// `ssv-sim swarm`.
#[derive(Debug, Args)]
pub struct SwarmArgs {
    /// Number of seeds.
    #[arg(long, default_value_t = 100)]
    pub seeds: u64,
    /// First seed.
    #[arg(long, default_value_t = 0)]
    pub first_seed: u64,
    /// Worker threads (runs are independent; each is single-threaded and deterministic).
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Signature scheme.
    #[arg(long, value_enum, default_value = "fake")]
    pub crypto: CryptoArg,
    /// Test-only: run every seed with the broken quorum rule.
    #[arg(long)]
    pub broken_quorum: bool,
    /// Write the trace of each failing seed to this folder (`seed-S.trace`).
    #[arg(long)]
    pub failures_dir: Option<PathBuf>,
}

/// `ssv-sim replay`.
#[derive(Debug, Args)]
pub struct ReplayArgs {
    /// The trace: a simulator trace file, a node trace file, or a node's trace folder
    /// (`--trace-dir`; its files replay as one life, oldest first).
    pub trace: PathBuf,
    /// Print every record as it replays: of a node trace, time, core, the input (a QBFT
    /// message's type, height, round and signers; a duty by role) and what the core did
    /// with it; of a simulator trace, time, node and input (duties by name).
    #[arg(long)]
    pub print: bool,
}

/// `ssv-sim shrink`.
#[derive(Debug, Args)]
pub struct ShrinkArgs {
    /// The failing trace file.
    pub trace: PathBuf,
    /// Where to write the shrunk trace (default: TRACE.shrunk).
    #[arg(long, short)]
    pub output: Option<PathBuf>,
}

/// Runs a subcommand; exit code 0 when every invariant held (and replays reproduced).
pub fn execute(command: SimCommand) -> ExitCode {
    let result = match command {
        SimCommand::Run(a) => cmd_run(&a),
        SimCommand::Swarm(a) => cmd_swarm(&a),
        SimCommand::Replay(a) => cmd_replay(&a),
        SimCommand::Shrink(a) => cmd_shrink(&a),
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("ssv-sim: {e}");
            ExitCode::from(2)
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn bar(len: u64, what: &str) -> ProgressBar {
    let pb = ProgressBar::new(len);
    let template = format!("{{elapsed_precise}} [{{bar:40}}] {{pos}}/{{len}} {what} {{msg}}");
    if let Ok(style) = ProgressStyle::with_template(&template) {
        pb.set_style(style.progress_chars("=> "));
    }
    pb
}

fn print_run(r: &RunReport, quiet: bool) {
    if !quiet {
        println!("seed {} options {:?}", r.seed, r.options);
        println!(
            "slot  committee(decided/round)  proposer(decided/round)  aggregates(due/done)  \
             contributions(due/done)  registrations(due/done)  exits(due/done)   \
             (honest live nodes: {})",
            r.live_nodes
        );
        for s in &r.slots {
            println!(
                "{:>4}  {:>10}/{:<14}  {:>9}/{:<13}  {:>10}/{:<9}  {:>13}/{:<9}  {:>13}/{:<9}  \
                 {:>5}/{}",
                s.slot,
                s.committee.0,
                s.committee.1,
                s.proposer.0,
                s.proposer.1,
                s.aggregates.0,
                s.aggregates.1,
                s.contributions.0,
                s.contributions.1,
                s.registrations.0,
                s.registrations.1,
                s.exits.0,
                s.exits.1
            );
        }
        println!("network {:?}", r.net);
        println!("nodes   {:?}", r.nodes);
        if r.options.duty_runners {
            println!(
                "duties  {} due items, {} (node, item) submissions accepted, {} blocks proposed, \
                 {} registrations, {} exits",
                r.due, r.submissions, r.proposals, r.registrations, r.exits
            );
        }
    }
    let liveness =
        if r.options.expects_liveness() { "checked" } else { "not required (more than f faulty)" };
    println!("records {}  trace hash {}", r.records, hex(&r.trace_hash));
    let safety = if r.options.duty_runners {
        "agreement, validity, decided messages verify, nothing slashable signed (no double \
         vote, surround vote or double proposal), submissions verify"
    } else {
        "agreement, validity, decided messages verify"
    };
    println!("{safety}: {}", verdict(r, true));
    println!("liveness after the heal ({liveness}): {}", verdict(r, false));
    if let Some(v) = &r.violation {
        println!("VIOLATION {:?} at step {} (t = {} ms): {}", v.kind, v.step, v.at_ms, v.detail);
        println!("reproduce: {}", reproduce(r));
    }
}

fn verdict(r: &RunReport, safety: bool) -> &'static str {
    match &r.violation {
        Some(v) if v.kind.is_safety() == safety => "VIOLATED",
        Some(_) if !safety => "not reached (stopped at a safety violation)",
        _ => "ok",
    }
}

fn reproduce(r: &RunReport) -> String {
    let crypto = match r.options.crypto {
        CryptoMode::Fake => "",
        CryptoMode::Real => " --crypto real",
    };
    let broken = if r.options.broken_quorum { " --broken-quorum" } else { "" };
    format!("ssv-sim run --seed {} --swarm{crypto}{broken} --trace seed-{}.trace", r.seed, r.seed)
}

fn cmd_run(a: &RunArgs) -> Result<bool, String> {
    let options = a.options();
    let pb = bar(options.slots, "slots");
    let report = run(a.seed, &options, a.trace.is_some(), &mut |s| pb.set_position(s + 1))?;
    pb.finish_and_clear();
    print_run(&report, a.quiet);
    if let (Some(path), Some(bytes)) = (&a.trace, &report.trace) {
        std::fs::write(path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
        println!("trace written to {}", path.display());
    }
    Ok(report.violation.is_none())
}

/// One swarm outcome.
#[derive(Debug, Clone)]
pub struct SwarmOutcome {
    /// The seed's report.
    pub report: RunReport,
}

/// Runs seeds `first..first + count` with swarm options on `jobs` threads; reports come
/// back sorted by seed. `each` is called after every finished seed.
///
/// # Errors
/// The first run that could not start.
pub fn swarm(
    first: u64,
    count: u64,
    jobs: usize,
    crypto: CryptoMode,
    broken_quorum: bool,
    keep_failing_traces: bool,
    each: &(dyn Fn(&RunReport) + Sync),
) -> Result<Vec<RunReport>, String> {
    let next = AtomicU64::new(first);
    let results = Mutex::new(Vec::new());
    let error = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1) {
            scope.spawn(|| {
                loop {
                    let seed = next.fetch_add(1, Ordering::Relaxed);
                    if seed >= first + count {
                        break;
                    }
                    let mut o = SimOptions::swarm(seed, crypto);
                    o.broken_quorum = broken_quorum;
                    let mut r = match run(seed, &o, false, &mut |_| {}) {
                        Ok(r) => r,
                        Err(e) => {
                            *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                            break;
                        }
                    };
                    if r.violation.is_some() && keep_failing_traces {
                        // Runs are deterministic: run again, keeping the trace.
                        if let Ok(again) = run(seed, &o, true, &mut |_| {}) {
                            r = again;
                        }
                    }
                    each(&r);
                    results.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                }
            });
        }
    });
    if let Some(e) = error.into_inner().unwrap_or_else(|p| p.into_inner()) {
        return Err(e);
    }
    let mut results = results.into_inner().unwrap_or_else(|p| p.into_inner());
    results.sort_by_key(|r| r.seed);
    Ok(results)
}

fn cmd_swarm(a: &SwarmArgs) -> Result<bool, String> {
    let pb = bar(a.seeds, "seeds");
    let keep = a.failures_dir.is_some();
    let results =
        swarm(a.first_seed, a.seeds, a.jobs, a.crypto.into(), a.broken_quorum, keep, &|r| {
            pb.inc(1);
            if r.violation.is_some() {
                pb.println(format!("seed {} FAILED", r.seed));
            }
        })?;
    pb.finish_and_clear();
    println!("operators  runs  duty-path  failed  byzantine  slots  records");
    for n in super::options::COMMITTEE_SIZES {
        let of: Vec<&RunReport> = results.iter().filter(|r| r.options.operators == n).collect();
        println!(
            "{n:>9}  {:>4}  {:>9}  {:>6}  {:>9}  {:>5}  {:>7}",
            of.len(),
            of.iter().filter(|r| r.options.duty_runners).count(),
            of.iter().filter(|r| r.violation.is_some()).count(),
            of.iter().map(|r| r.options.byzantine.len()).sum::<usize>(),
            of.iter().map(|r| r.options.slots).sum::<u64>(),
            of.iter().map(|r| r.records).sum::<u64>(),
        );
    }
    let failed: Vec<&RunReport> = results.iter().filter(|r| r.violation.is_some()).collect();
    println!("{} of {} seeds failed", failed.len(), results.len());
    for r in &failed {
        if let Some(v) = &r.violation {
            println!("seed {}: {:?} at step {}: {}", r.seed, v.kind, v.step, v.detail);
            println!("  reproduce: {}", reproduce(r));
        }
        if let (Some(dir), Some(bytes)) = (&a.failures_dir, &r.trace) {
            std::fs::create_dir_all(dir).map_err(|e| e.to_string())?;
            let path = dir.join(format!("seed-{}.trace", r.seed));
            std::fs::write(&path, bytes).map_err(|e| format!("{}: {e}", path.display()))?;
            println!("  trace: {}", path.display());
        }
    }
    Ok(failed.is_empty())
}

fn read_trace(path: &PathBuf) -> Result<(Trace, Vec<u8>), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((Trace::from_bytes(&bytes)?, bytes))
}

/// Reads a node trace: one file, or every `trace-*.ssvtrace` file of a folder in name
/// order (one header; the records must continue each other's `seq`).
///
/// # Errors
/// IO errors, a file that is not a valid trace (the [`ssv_core::trace::TraceError`] says
/// why), or folder files from different nodes or with a gap.
pub fn read_node_trace(path: &Path) -> Result<(TraceHeader, Vec<TraceRecord>), String> {
    let files = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("{}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("trace-") && n.ends_with(".ssvtrace"))
            })
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_owned()]
    };
    let mut all: Option<(TraceHeader, Vec<TraceRecord>)> = None;
    for f in &files {
        let bytes = std::fs::read(f).map_err(|e| format!("{}: {e}", f.display()))?;
        let (h, records) = ssv_core::trace::read_node_trace(&bytes)
            .map_err(|e| format!("{}: {e}", f.display()))?;
        match &mut all {
            None => all = Some((h, records)),
            Some((first, so_far)) => {
                if *first != h {
                    return Err(format!("{}: another node's header", f.display()));
                }
                let expected = so_far.last().map_or(0, |r| r.seq + 1);
                if let Some(r) = records.first()
                    && r.seq != expected
                {
                    return Err(format!(
                        "{}: starts at seq {}, {expected} expected (a file is missing or \
                         records were dropped)",
                        f.display(),
                        r.seq
                    ));
                }
                so_far.extend(records);
            }
        }
    }
    all.ok_or_else(|| format!("{}: no trace files", path.display()))
}

fn cmd_replay_node(path: &Path, print: bool) -> Result<bool, String> {
    let (header, records) = read_node_trace(path)?;
    if header.simulator.is_some() {
        return Err("a simulator trace: replay it as a file".into());
    }
    if let Some(first) = records.first()
        && first.seq != 0
    {
        return Err(format!(
            "the trace starts at record {} (its earlier files were rotated away): the cores' \
             state before it is unknown",
            first.seq
        ));
    }
    let r = replay_node_with(&header, &records, |rec, res, out| {
        if print {
            println!("{}", super::describe::record(rec, res, out));
        }
    })?;
    println!(
        "replayed {} of {} records of operator {} ({}, {}; {} committees, {} validators)",
        r.records,
        records.len(),
        header.operator_id,
        header.network,
        header.node_version,
        r.cores.0,
        r.cores.1
    );
    match &r.divergence {
        None => {
            println!("outputs reproduced: every record's output digest matches");
            Ok(true)
        }
        Some(d) => {
            println!("DIVERGED at {d}");
            Ok(false)
        }
    }
}

/// Whether `path` is a node's trace (a folder, or a file whose header has no simulator
/// section); both kinds share one reader ([`ssv_core::trace::TraceReader`]).
fn is_node_trace(path: &Path) -> bool {
    if path.is_dir() {
        return true;
    }
    std::fs::read(path).is_ok_and(|bytes| {
        ssv_core::trace::TraceReader::new(&bytes).is_ok_and(|r| r.header().simulator.is_none())
    })
}

fn cmd_replay(a: &ReplayArgs) -> Result<bool, String> {
    if is_node_trace(&a.trace) {
        return cmd_replay_node(&a.trace, a.print);
    }
    let (trace, bytes) = read_trace(&a.trace)?;
    if a.print {
        for (i, record) in trace.records.iter().enumerate() {
            println!("{}", super::describe::sim_record(i, record));
        }
    }
    let r = replay(&trace, false)?;
    let same_file = r.bytes == bytes;
    println!("replayed {} records of seed {}", r.records, trace.header.seed);
    println!("outputs reproduced: {} ({} mismatching records)", r.reproduced(), r.mismatches.len());
    if let Some(first) = r.mismatches.first() {
        println!("first mismatch at record {first}");
    }
    println!(
        "trace hash {} ({})",
        hex(&r.trace_hash),
        if same_file { "identical" } else { "differs" }
    );
    if let Some(v) = &r.violation {
        println!("VIOLATION {:?} at step {}: {}", v.kind, v.step, v.detail);
    }
    Ok(r.reproduced() && same_file)
}

fn cmd_shrink(a: &ShrinkArgs) -> Result<bool, String> {
    let (trace, _) = read_trace(&a.trace)?;
    let r = shrink(&trace)?;
    let out = a.output.clone().unwrap_or_else(|| a.trace.with_extension("shrunk"));
    std::fs::write(&out, r.trace.to_bytes()?).map_err(|e| format!("{}: {e}", out.display()))?;
    println!(
        "{:?} ({}): {} records -> {} in {} replays; written to {}",
        r.violation.kind,
        r.violation.detail,
        r.records_before,
        r.records_after,
        r.attempts,
        out.display()
    );
    Ok(true)
}
