//! `ssv-devnet`: the whole local devnet in one process tree.
//!
//! In order: a run folder (`.devnet/<unix time>/` under the repository, or the given
//! one); operator RSA keys; validator keys split among all operators, written as an
//! ssv-keys v1.2.0 keyshares file; a Hardhat node with `SSVNetworkDevnet` deployed; the
//! operators and validators registered by real transactions; the beacon-chain simulator
//! (`ssv-sim beacon-node`, the validators' public keys in index order, so validator `i` of
//! the keyshares file has beacon index `i`); then one `ssv-node run` per operator, each
//! with a generated config (simulator URL, execution RPC URL, contract address and deploy
//! block, QUIC on 127.0.0.1 with every other node as a static peer). Each process writes
//! its output to `logs/<name>.log` in the run folder.
//!
//! Once every node is ready and has loaded its committee, the devnet runs `slots` slots:
//! it asks the simulator for the duties of the registered validators (and signs the
//! aggregator and sync-contributor selection proofs itself, see [`super::duties`]), reads
//! the simulator's record of accepted (signature-checked) submissions, prints a line per
//! slot with a column per role (two slots after it, when late submissions are in) and a
//! summary. During the run it can stop an operator, send `exitValidator` for a validator
//! (its voluntary exit is then due) and register more validators (known to the simulator
//! from genesis), which the running nodes must pick up. Every child is killed
//! when the [`Devnet`] is dropped, so an error, a panic or Ctrl-C (dropping the future)
//! leaves nothing running.

use std::fs::File;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use alloy::primitives::Address;
use serde::Serialize;
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_core::types::OperatorId;

use super::chain::{ChainError, DevnetChain, devnet_dir, free_port};
use super::duties::{DutyBook, Role, RoleCounts, Slashable};
use super::keys::{DevnetValidator, KeysError, keyshares_file, keyshares_item, validator_secret};
use crate::beacon::{BeaconClient, Timeouts};
use crate::config::{Config, ContractConfig, LogFormat, NetworkName};
use crate::contract::events::abi;
use crate::node::driver::{REGISTRATION_EPOCHS, beacon_network, is_aggregator};
use ssv_core::beacon::altair::SyncAggregatorSelectionData;
use ssv_core::crypto::bls::SecretKey;
use ssv_core::crypto::signing::{BeaconDomainType, compute_signing_root};
use ssv_core::runner::BeaconNetwork;
use tree_hash::TreeHash;

/// Slots between the nodes being ready and the first counted slot (the P2P mesh forms and
/// the drivers fetch their duties).
pub const WARMUP_SLOTS: u64 = 2;
/// Slots after a slot before its line is printed (late submissions still count).
pub const REPORT_LAG_SLOTS: u64 = 2;
/// How long the nodes get to become ready and load their committees.
pub const NODE_START_TIMEOUT: Duration = Duration::from_secs(120);
/// Sync-committee positions an SSV validator duty carries (ssz-max of
/// `ValidatorDuty.ValidatorSyncCommitteeIndices`).
pub const MAX_SYNC_INDICES: usize = 13;
/// Slots after a mid-run registration before the new validators' duties count (the nodes
/// see the event at their next poll, load the share and fetch its duties).
pub const LATE_GRACE_SLOTS: u64 = 2;
/// The simulator's log of every request, in its record folder (`ssv-sim --record-dir`).
pub const REQUESTS_FILE: &str = "requests.jsonl";
/// The simulator's record of accepted submissions, in its record folder.
pub const ACCEPTED_FILE: &str = "submissions.jsonl";

/// What to run.
#[derive(Debug, Clone)]
pub struct DevnetOptions {
    /// Operators (4, 7, 10 or 13); every validator is split among all of them.
    pub operators: usize,
    /// Validators.
    pub validators: u64,
    /// Slots to run and count.
    pub slots: u64,
    /// Slot duration, seconds.
    pub slot_seconds: u64,
    /// Slots per epoch of the simulated chain.
    pub slots_per_epoch: u64,
    /// Stop operator `.0` at the start of run slot `.1` (1-based).
    pub stop_operator: Option<(OperatorId, u64)>,
    /// Send `exitValidator` for validator `.0` (beacon index) at the start of run slot
    /// `.1` (1-based); its voluntary exit is then due.
    pub exit_validator: Option<(u64, u64)>,
    /// Register `.0` more validators (known to the beacon chain from genesis) at the start
    /// of run slot `.1` (1-based), while the nodes run; their duties count from
    /// [`LATE_GRACE_SLOTS`] after.
    pub late_validators: Option<(u64, u64)>,
    /// Validators of the simulated beacon chain in all, ours (and the late ones) first,
    /// the rest unregistered fillers; `None`: 8 x ours. At least ours.
    pub chain_validators: Option<u64>,
    /// Where to write the Beacon API record (see [`Devnet::write_record`]).
    pub record: Option<PathBuf>,
    /// Where to write the JSON summary.
    pub json_summary: Option<PathBuf>,
    /// The run folder; `None`: `.devnet/<unix time>` under the repository.
    pub folder: Option<PathBuf>,
    /// The `ssv-node` binary.
    pub node_bin: PathBuf,
    /// The `ssv-sim` binary.
    pub sim_bin: PathBuf,
    /// Seed of the validator keys.
    pub seed: String,
}

/// Why the devnet could not run.
#[derive(Debug, thiserror::Error)]
pub enum DevnetError {
    /// Bad options.
    #[error("{0}")]
    Options(String),
    /// A file or folder.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The execution chain.
    #[error(transparent)]
    Chain(#[from] ChainError),
    /// Keys or keyshares.
    #[error(transparent)]
    Keys(#[from] KeysError),
    /// RSA.
    #[error("operator key: {0}")]
    Rsa(String),
    /// A child process.
    #[error("{name}: {reason} (log: {})", log.display())]
    Process {
        /// The process.
        name: String,
        /// What went wrong.
        reason: String,
        /// Its log file.
        log: PathBuf,
    },
    /// The simulator's Beacon API.
    #[error("beacon simulator: {0}")]
    Beacon(String),
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> DevnetError + '_ {
    move |source| DevnetError::Io { path: path.to_owned(), source }
}

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

/// One role's totals in the summary.
#[derive(Debug, Clone, Serialize)]
pub struct RoleSummary {
    /// The role.
    pub role: Role,
    /// Its counts over the run.
    #[serde(flatten)]
    pub counts: RoleCounts,
}

/// The outcome of a run (`--json-summary`).
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// Operators.
    pub operators: usize,
    /// Validators.
    pub validators: u64,
    /// Beacon slots counted, first and last.
    pub slots: (u64, u64),
    /// The operator stopped and the beacon slot it was stopped at.
    pub stopped_operator: Option<(OperatorId, u64)>,
    /// Totals by role.
    pub roles: Vec<RoleSummary>,
    /// Duties not done: `(slot, role, validator index)`.
    pub missed: Vec<(u64, Role, u64)>,
    /// Slashable attestation pairs found in the record (must be empty).
    pub slashable: Vec<Slashable>,
    /// The run folder.
    pub folder: PathBuf,
}

impl Summary {
    /// Whether every due duty was done and nothing slashable was signed.
    pub fn success(&self) -> bool {
        self.missed.is_empty()
            && self.slashable.is_empty()
            && self.roles.iter().any(|r| r.counts.due > 0)
    }
}

/// A child process with its log, killed on drop.
#[derive(Debug)]
struct Proc {
    name: String,
    child: Option<Child>,
    log: PathBuf,
}

impl Proc {
    fn spawn(name: &str, mut command: Command, log: PathBuf) -> Result<Self, DevnetError> {
        let out = File::create(&log).map_err(io_err(&log))?;
        let err = out.try_clone().map_err(io_err(&log))?;
        command.stdin(Stdio::null()).stdout(out).stderr(err).env("NO_COLOR", "1");
        let child = command.spawn().map_err(|e| DevnetError::Process {
            name: name.into(),
            reason: format!("cannot start: {e}"),
            log: log.clone(),
        })?;
        Ok(Self { name: name.into(), child: Some(child), log })
    }

    fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Fails when the process already exited.
    fn check_running(&mut self) -> Result<(), DevnetError> {
        let Some(child) = self.child.as_mut() else { return Ok(()) };
        match child.try_wait() {
            Ok(Some(status)) => Err(DevnetError::Process {
                name: self.name.clone(),
                reason: format!("exited ({status})"),
                log: self.log.clone(),
            }),
            _ => Ok(()),
        }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.kill();
    }
}

/// One operator node of the devnet.
#[derive(Debug)]
struct NodeProc {
    id: OperatorId,
    metrics: SocketAddr,
    proc: Proc,
}

/// A started devnet (chain, simulator, nodes). Dropping it stops every process.
#[derive(Debug)]
pub struct Devnet {
    /// The run folder.
    pub folder: PathBuf,
    /// The simulator's URL.
    pub beacon_url: String,
    /// The execution node's URL.
    pub execution_url: String,
    /// The contract address.
    pub contract: Address,
    /// The block the contract was deployed in.
    pub deploy_block: u64,
    /// Beacon genesis, unix milliseconds.
    pub genesis_ms: u64,
    /// Slot duration, milliseconds.
    pub slot_ms: u64,
    /// Slots per epoch.
    pub slots_per_epoch: u64,
    /// Validator public keys (`0x`-hex) by beacon index.
    pub validator_pubkeys: Vec<String>,
    /// The simulator's record folder (`submissions.jsonl`).
    pub sim_record_dir: PathBuf,
    /// The account that owns every validator.
    pub owner: Address,
    /// The operator ids (every validator's committee).
    pub operator_ids: Vec<OperatorId>,
    operator_keys: Vec<OperatorPublicKey>,
    /// Validators known to the beacon chain but registered only mid-run.
    pending: Vec<DevnetValidator>,
    seed: String,
    nodes: Vec<NodeProc>,
    sim: Proc,
    // Declared last: dropped after the nodes, which follow it.
    chain: DevnetChain,
}

fn repo_root() -> PathBuf {
    let dir = devnet_dir();
    dir.parent().map(Path::to_owned).unwrap_or(dir)
}

fn write(path: &Path, text: &str) -> Result<(), DevnetError> {
    std::fs::write(path, text).map_err(io_err(path))
}

async fn wait_http_ok(url: &str, timeout: Duration) -> bool {
    let client = reqwest::Client::new();
    let until = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < until {
        if let Ok(r) = client.get(url).timeout(Duration::from_secs(2)).send().await
            && r.status().is_success()
        {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    false
}

impl Devnet {
    /// Sets everything up and starts every process (see the module doc); returns once
    /// every node is ready and has loaded its committee.
    ///
    /// # Errors
    /// [`DevnetError`] naming the step and, for a process, its log.
    pub async fn start(opts: &DevnetOptions) -> Result<Devnet, DevnetError> {
        if !matches!(opts.operators, 4 | 7 | 10 | 13) {
            return Err(DevnetError::Options(format!(
                "--operators {}: must be 4, 7, 10 or 13",
                opts.operators
            )));
        }
        if opts.validators == 0 || opts.slot_seconds == 0 || opts.slots_per_epoch == 0 {
            return Err(DevnetError::Options(
                "--validators, --slot-seconds and slots per epoch must be positive".into(),
            ));
        }
        if let Some((v, at)) = opts.exit_validator
            && (v >= opts.validators || at == 0 || at > opts.slots)
        {
            return Err(DevnetError::Options(format!(
                "--exit-validator {v} --exit-at-slot {at}: the validator must exist and the slot be in 1..={}",
                opts.slots
            )));
        }
        if let Some((id, at)) = opts.stop_operator
            && (id == 0 || id as usize > opts.operators || at == 0 || at > opts.slots)
        {
            return Err(DevnetError::Options(format!(
                "--stop-operator {id} --at-slot {at}: the operator must exist and the slot be in 1..={}",
                opts.slots
            )));
        }
        let folder = match &opts.folder {
            Some(f) => f.clone(),
            None => repo_root().join(".devnet").join((now_ms() / 1000).to_string()),
        };
        let logs = folder.join("logs");
        std::fs::create_dir_all(&logs).map_err(io_err(&logs))?;
        println!("devnet folder: {}", folder.display());

        // Operators and validators.
        let ids: Vec<OperatorId> = (1..=opts.operators as u64).collect();
        let mut keys = Vec::new();
        for id in &ids {
            let dir = folder.join(format!("operator-{id}"));
            std::fs::create_dir_all(&dir).map_err(io_err(&dir))?;
            let key =
                OperatorPrivateKey::generate().map_err(|e| DevnetError::Rsa(e.to_string()))?;
            let path = dir.join("operator_key.pem");
            crate::keys::write_private_file(&path, key.to_pem().as_bytes())
                .map_err(|e| DevnetError::Rsa(e.to_string()))?;
            keys.push(key);
        }
        let public: Vec<OperatorPublicKey> = keys.iter().map(|k| k.public_key().clone()).collect();
        let late = opts.late_validators.map_or(0, |(n, _)| n);
        let mut validators: Vec<DevnetValidator> = (0..opts.validators + late)
            .map(|i| DevnetValidator::new(opts.seed.as_bytes(), i, &ids))
            .collect::<Result<_, _>>()?;
        let pending = validators.split_off(opts.validators as usize);
        let validator_pubkeys: Vec<String> = validators
            .iter()
            .chain(&pending)
            .map(|v| format!("0x{}", hex::encode(v.public_key.to_bytes())))
            .collect();

        // The execution chain and the registrations.
        println!("starting hardhat and deploying SSVNetworkDevnet…");
        let mut chain = DevnetChain::start(&devnet_dir(), &logs.join("hardhat.log")).await?;
        let (contract, deploy_block) = chain.deploy().await?;
        let accounts = chain.accounts().to_vec();
        let owner = *accounts.last().ok_or_else(|| DevnetError::Options("no accounts".into()))?;
        for (i, key) in public.iter().enumerate() {
            let from = accounts.get(i).copied().filter(|a| *a != owner).unwrap_or(owner);
            let id = chain.register_operator(from, key).await?;
            if Some(&id) != ids.get(i) {
                return Err(DevnetError::Options(format!("operator {} got id {id}", i + 1)));
            }
        }
        let operators: Vec<(OperatorId, OperatorPublicKey)> =
            ids.iter().copied().zip(public.iter().cloned()).collect();
        let mut items = Vec::new();
        for (nonce, v) in validators.iter().enumerate() {
            let shares = chain.register_validator(owner, v, &public, nonce as u64).await?;
            items.push(keyshares_item(&v.public_key, &operators, &owner, nonce as u64, &shares));
        }
        write(&folder.join("keyshares.json"), &keyshares_file(&items, "1970-01-01T00:00:00Z"))?;
        println!(
            "registered {} operators and {} validators on {contract} (deployed in block {deploy_block})",
            ids.len(),
            validators.len()
        );

        // The beacon simulator: genesis one epoch ago (epoch 0 cannot be attested: its
        // source and target are both 0).
        let slot_ms = opts.slot_seconds.saturating_mul(1000);
        let genesis_s = (now_ms() / 1000).saturating_sub(opts.slots_per_epoch * opts.slot_seconds);
        let ours = validator_pubkeys.len() as u64;
        let fillers = opts.chain_validators.unwrap_or(ours.saturating_mul(8)).saturating_sub(ours);
        let pubkeys_file = folder.join("validator_pubkeys.txt");
        write(&pubkeys_file, &(validator_pubkeys.join("\n") + "\n"))?;
        let sim_record_dir = folder.join("simulator-record");
        std::fs::create_dir_all(&sim_record_dir).map_err(io_err(&sim_record_dir))?;
        let sim_port = free_port()?;
        let mut command = Command::new(&opts.sim_bin);
        command
            .arg("beacon-node")
            .args(["--port", &sim_port.to_string()])
            .arg("--pubkeys")
            .arg(&pubkeys_file)
            .args(["--filler-validators", &fillers.to_string()])
            .args(["--slot-seconds", &opts.slot_seconds.to_string()])
            .args(["--slots-per-epoch", &opts.slots_per_epoch.to_string()])
            .args(["--genesis-time", &genesis_s.to_string()])
            .arg("--record-dir")
            .arg(&sim_record_dir);
        let mut sim = Proc::spawn("ssv-sim", command, logs.join("simulator.log"))?;
        let beacon_url = format!("http://127.0.0.1:{sim_port}");
        if !wait_http_ok(&format!("{beacon_url}/eth/v1/beacon/genesis"), Duration::from_secs(30))
            .await
        {
            sim.check_running()?;
            return Err(DevnetError::Process {
                name: "ssv-sim".into(),
                reason: "did not answer within 30 s".into(),
                log: sim.log.clone(),
            });
        }
        println!(
            "beacon simulator at {beacon_url} (slot {} s, {} slots per epoch)",
            opts.slot_seconds, opts.slots_per_epoch
        );

        // The nodes.
        struct Ports {
            tcp: u16,
            udp: u16,
            quic: u16,
            metrics: u16,
        }
        let mut ports = Vec::new();
        for _ in &ids {
            ports.push(Ports {
                tcp: free_port()?,
                udp: free_port()?,
                quic: free_port()?,
                metrics: free_port()?,
            });
        }
        let mut nodes = Vec::new();
        for (i, id) in ids.iter().enumerate() {
            let dir = folder.join(format!("operator-{id}"));
            let mut config = Config {
                network: NetworkName::Devnet,
                data_dir: dir.join("data"),
                beacon_nodes: vec![beacon_url.clone()],
                execution_node: chain.url().to_owned(),
                contract: ContractConfig {
                    address: Some(contract.to_string()),
                    start_block: Some(deploy_block),
                    confirmation_depth: Some(0),
                    poll_interval_ms: Some(1000),
                },
                ..Config::default()
            };
            config.operator_key.path = dir.join("operator_key.pem");
            let p = &ports[i];
            config.p2p.tcp_port = p.tcp;
            config.p2p.udp_port = p.udp;
            config.p2p.quic_port = p.quic;
            config.p2p.listen_ip = std::net::IpAddr::from([127, 0, 0, 1]);
            config.p2p.static_peers = ports
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .map(|(_, q)| format!("/ip4/127.0.0.1/udp/{}/quic-v1", q.quic))
                .collect();
            config.metrics.listen = SocketAddr::from(([127, 0, 0, 1], p.metrics));
            config.log.format = LogFormat::Pretty;
            config.log.level = "info,ssv_shell=debug".into();
            config.shutdown_timeout_ms = 2_000;
            let path = dir.join("config.yaml");
            write(&path, &config.to_yaml())?;
            let mut command = Command::new(&opts.node_bin);
            command.arg("run").arg("--config").arg(&path);
            let name = format!("operator-{id}");
            let proc = Proc::spawn(&name, command, logs.join(format!("{name}.log")))?;
            nodes.push(NodeProc { id: *id, metrics: config.metrics.listen, proc });
        }
        let mut devnet = Devnet {
            folder,
            beacon_url,
            execution_url: chain.url().to_owned(),
            contract,
            deploy_block,
            genesis_ms: genesis_s.saturating_mul(1000),
            slot_ms,
            slots_per_epoch: opts.slots_per_epoch,
            validator_pubkeys,
            sim_record_dir,
            owner,
            operator_ids: ids.clone(),
            operator_keys: public.clone(),
            pending,
            seed: opts.seed.clone(),
            nodes,
            sim,
            chain,
        };
        devnet.wait_nodes_loaded().await?;
        Ok(devnet)
    }

    /// Waits until every node answers `/ready` and its log shows its committee loaded.
    async fn wait_nodes_loaded(&mut self) -> Result<(), DevnetError> {
        let until = tokio::time::Instant::now() + NODE_START_TIMEOUT;
        for node in &mut self.nodes {
            let ready = format!("http://{}/ready", node.metrics);
            loop {
                node.proc.check_running()?;
                if wait_http_ok(&ready, Duration::from_millis(500)).await
                    && node.proc.log_text().contains("committee loaded")
                {
                    break;
                }
                if tokio::time::Instant::now() > until {
                    return Err(DevnetError::Process {
                        name: node.proc.name.clone(),
                        reason: format!(
                            "not ready with its committee loaded within {} s",
                            NODE_START_TIMEOUT.as_secs()
                        ),
                        log: node.proc.log.clone(),
                    });
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            println!("operator {} ready (metrics on {})", node.id, node.metrics);
        }
        Ok(())
    }

    /// The log file of operator `id`.
    pub fn node_log(&self, id: OperatorId) -> Option<&Path> {
        self.nodes.iter().find(|n| n.id == id).map(|n| n.proc.log.as_path())
    }

    /// Stops operator `id` (SIGKILL: a crash).
    pub fn stop_operator(&mut self, id: OperatorId) {
        if let Some(n) = self.nodes.iter_mut().find(|n| n.id == id) {
            n.proc.kill();
        }
    }

    /// The unix millisecond `slot` starts at.
    pub fn slot_start(&self, slot: u64) -> u64 {
        self.genesis_ms.saturating_add(slot.saturating_mul(self.slot_ms))
    }

    /// The current beacon slot.
    pub fn current_slot(&self) -> u64 {
        now_ms().saturating_sub(self.genesis_ms) / self.slot_ms.max(1)
    }

    fn check_alive(&mut self) -> Result<(), DevnetError> {
        self.sim.check_running()?;
        for n in &mut self.nodes {
            n.proc.check_running()?;
        }
        Ok(())
    }

    /// Runs `opts.slots` slots from two slots after now, printing a line per slot, and
    /// returns the summary (also written to `--json-summary` and, with `--record`, the
    /// record).
    ///
    /// # Errors
    /// [`DevnetError`] when a process dies unexpectedly or the simulator fails.
    pub async fn run_slots(&mut self, opts: &DevnetOptions) -> Result<Summary, DevnetError> {
        let timeouts = Timeouts::for_slot(Duration::from_millis(self.slot_ms.max(3000)));
        let beacon = Arc::new(
            BeaconClient::new(&[self.beacon_url.as_str()], timeouts)
                .map_err(|e| DevnetError::Beacon(e.to_string()))?,
        );
        let net = beacon_network(&beacon).await.map_err(|e| DevnetError::Beacon(e.to_string()))?;
        let secrets: Vec<SecretKey> = (0..self.validator_pubkeys.len() as u64)
            .map(|i| validator_secret(self.seed.as_bytes(), i))
            .collect();
        let indices: Vec<u64> = (0..self.validator_pubkeys.len() as u64).collect();
        let first = self.current_slot().saturating_add(WARMUP_SLOTS);
        let last = first.saturating_add(opts.slots.saturating_sub(1));
        let stop_at = opts.stop_operator.map(|(id, k)| (id, first.saturating_add(k - 1)));
        let exit_at = opts.exit_validator.map(|(v, k)| (v, first.saturating_add(k - 1)));
        let late_at = opts.late_validators.map(|(_, k)| first.saturating_add(k - 1));
        // The first counted slot of each validator.
        let registered = indices.len() - self.pending.len();
        let from_slot: Vec<u64> = indices
            .iter()
            .map(|v| match late_at {
                Some(at) if *v as usize >= registered => at.saturating_add(LATE_GRACE_SLOTS),
                _ => first,
            })
            .collect();
        let mut book = DutyBook::new();
        book.set_validators(&self.validator_pubkeys);
        // Registrations: the node's schedule (see `node::driver::validators`).
        let period = REGISTRATION_EPOCHS.saturating_mul(self.slots_per_epoch).max(1);
        for slot in first..=last {
            for v in &indices {
                if v % period == slot % period && from_slot.get(*v as usize) <= Some(&slot) {
                    book.add_due(slot, Role::ValidatorRegistration, *v);
                }
            }
        }
        let mut fetched = std::collections::BTreeSet::new();
        let records = self.sim_record_dir.join(ACCEPTED_FILE);
        println!(
            "running slots {first}..={last}{}{}",
            stop_at.map(|(id, s)| format!("; operator {id} stops at slot {s}")).unwrap_or_default(),
            exit_at.map(|(v, s)| format!("; validator {v} exits at slot {s}")).unwrap_or_default()
        );
        let header: Vec<String> =
            Role::ALL.iter().map(|r| format!("{:<16}", r.short_name())).collect();
        println!("{:>6} {:>4} | {}| missed", "slot", "run", header.join("| "));
        println!("{:>11} | {}|", "", ["done/due med ms"; 7].map(|h| format!("{h:<16}")).join("| "));
        let spe = self.slots_per_epoch.max(1);
        for s in first..=last.saturating_add(REPORT_LAG_SLOTS) {
            let wait = self.slot_start(s).saturating_sub(now_ms());
            tokio::time::sleep(Duration::from_millis(wait)).await;
            if let Some((id, at)) = stop_at
                && s == at
            {
                self.stop_operator(id);
                println!("-- operator {id} stopped at slot {s}");
            }
            if let Some((v, at)) = exit_at
                && s == at
            {
                self.exit_validator(v).await?;
                book.add_due(s, Role::VoluntaryExit, v);
                println!("-- exitValidator sent for validator {v} at slot {s}");
            }
            if late_at == Some(s) {
                let n = self.register_pending().await?;
                println!("-- registered {n} more validators at slot {s}");
            }
            self.check_alive()?;
            let counted = |v: u64, slot: u64| {
                slot >= first
                    && slot <= last
                    && from_slot.get(v as usize).is_some_and(|f| *f <= slot)
            };
            for epoch in [s / spe, s / spe + 1] {
                if epoch > last / spe || !fetched.insert(epoch) {
                    continue;
                }
                self.add_epoch_duties(
                    &beacon, &net, &secrets, &indices, epoch, &counted, &mut book,
                )
                .await?;
            }
            book.read_records(&std::fs::read_to_string(&records).unwrap_or_default());
            let Some(row) = s.checked_sub(REPORT_LAG_SLOTS).filter(|r| (first..=last).contains(r))
            else {
                continue;
            };
            let start = |x: u64| self.slot_start(x);
            let mut missed = 0;
            let cells: Vec<String> = Role::ALL
                .iter()
                .map(|r| {
                    let c = book.counts(row..=row, *r, start);
                    missed += c.missed;
                    let cell = if c.due == 0 {
                        "-".to_string()
                    } else {
                        format!(
                            "{}/{} {}",
                            c.done,
                            c.due,
                            c.median_latency_ms.map_or("-".into(), |v| v.to_string())
                        )
                    };
                    format!("{cell:<16}")
                })
                .collect();
            println!("{row:>6} {:>4} | {}| {missed}", row - first + 1, cells.join("| "));
        }
        book.read_records(&std::fs::read_to_string(&records).unwrap_or_default());
        let start = |x: u64| self.slot_start(x);
        let summary = Summary {
            operators: self.nodes.len(),
            validators: self.validator_pubkeys.len() as u64,
            slots: (first, last),
            stopped_operator: stop_at,
            roles: Role::ALL
                .iter()
                .map(|r| RoleSummary { role: *r, counts: book.counts(first..=last, *r, start) })
                .collect(),
            missed: book.missed(first..=last),
            slashable: book.slashable(),
            folder: self.folder.clone(),
        };
        for r in &summary.roles {
            println!(
                "{:<22} due {:>5} done {:>5} missed {:>5} latency median {} ms, max {} ms",
                r.role.name(),
                r.counts.due,
                r.counts.done,
                r.counts.missed,
                r.counts.median_latency_ms.map_or("-".into(), |v| v.to_string()),
                r.counts.max_latency_ms.map_or("-".into(), |v| v.to_string()),
            );
        }
        println!(
            "slashable pairs: {}; result: {}",
            summary.slashable.len(),
            if summary.success() { "every due duty done" } else { "FAILED" }
        );
        if let Some(path) = &opts.json_summary {
            let text = serde_json::to_string_pretty(&summary).unwrap_or_default();
            write(path, &text)?;
        }
        if let Some(dir) = &opts.record {
            self.write_record(dir).await?;
        }
        Ok(summary)
    }

    /// Adds the duties of `epoch` in `slots` to `book`: attester, sync committee and
    /// proposer duties from the simulator; aggregators and sync contributors where the
    /// selection proof (signed here with the validator keys) selects them.
    #[allow(clippy::too_many_arguments)]
    async fn add_epoch_duties(
        &self,
        beacon: &BeaconClient,
        net: &BeaconNetwork,
        secrets: &[SecretKey],
        indices: &[u64],
        epoch: u64,
        counted: &(dyn Fn(u64, u64) -> bool + Sync),
        book: &mut DutyBook,
    ) -> Result<(), DevnetError> {
        let spe = self.slots_per_epoch.max(1);
        let att = beacon
            .attester_duties(epoch, indices)
            .await
            .map_err(|e| DevnetError::Beacon(format!("attester duties of epoch {epoch}: {e}")))?;
        for d in att.data.iter().filter(|d| counted(d.validator_index, d.slot)) {
            book.add_due(d.slot, Role::Attester, d.validator_index);
            let Some(secret) = secrets.get(d.validator_index as usize) else { continue };
            let proof =
                sign_object(net, secret, d.slot, &d.slot, BeaconDomainType::SELECTION_PROOF);
            if is_aggregator(d.committee_length, &proof) {
                book.add_due(d.slot, Role::Aggregator, d.validator_index);
            }
        }
        let proposers = beacon
            .proposer_duties(epoch)
            .await
            .map_err(|e| DevnetError::Beacon(format!("proposer duties of epoch {epoch}: {e}")))?;
        for d in proposers.data.iter().filter(|d| counted(d.validator_index, d.slot)) {
            if indices.contains(&d.validator_index) {
                book.add_due(d.slot, Role::Proposer, d.validator_index);
            }
        }
        let sync = beacon
            .sync_duties(epoch, indices)
            .await
            .map_err(|e| DevnetError::Beacon(format!("sync duties of epoch {epoch}: {e}")))?;
        for slot in epoch * spe..(epoch + 1) * spe {
            for d in sync.data.iter().filter(|d| counted(d.validator_index, slot)) {
                book.add_due(slot, Role::SyncCommittee, d.validator_index);
                let Some(secret) = secrets.get(d.validator_index as usize) else { continue };
                // An SSV duty carries at most 13 sync-committee positions (the spec's
                // `ValidatorDuty.ValidatorSyncCommitteeIndices`, ssz-max 13): only their
                // subcommittees can be contribution duties. (A real validator holds a few
                // positions; a devnet of a handful of validators holds ~512 / V each.)
                let subs: std::collections::BTreeSet<u64> = d
                    .validator_sync_committee_indices
                    .iter()
                    .take(MAX_SYNC_INDICES)
                    .map(|i| net.sync_subnet(*i))
                    .collect();
                for sub in subs {
                    let data = SyncAggregatorSelectionData { slot, subcommittee_index: sub };
                    let proof = sign_object(
                        net,
                        secret,
                        slot,
                        &data,
                        BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF,
                    );
                    if is_aggregator(net.sync_subcommittee_size, &proof) {
                        book.add_contribution_due(slot, d.validator_index, sub);
                    }
                }
            }
        }
        Ok(())
    }

    /// Registers the validators held back for a mid-run registration; returns how many.
    ///
    /// # Errors
    /// [`DevnetError::Chain`].
    pub async fn register_pending(&mut self) -> Result<usize, DevnetError> {
        let pending = std::mem::take(&mut self.pending);
        let first_nonce = (self.validator_pubkeys.len() - pending.len()) as u64;
        for (i, v) in pending.iter().enumerate() {
            self.chain
                .register_validator(self.owner, v, &self.operator_keys, first_nonce + i as u64)
                .await?;
        }
        Ok(pending.len())
    }

    /// Sends `exitValidator` for validator `index` (beacon index) from its owner; the
    /// nodes see the `ValidatorExited` event and run its voluntary exit.
    ///
    /// # Errors
    /// [`DevnetError::Options`] for an unknown validator, [`DevnetError::Chain`].
    pub async fn exit_validator(&self, index: u64) -> Result<(), DevnetError> {
        let pubkey = self
            .validator_pubkeys
            .get(index as usize)
            .and_then(|pk| hex::decode(pk.trim_start_matches("0x")).ok())
            .ok_or_else(|| DevnetError::Options(format!("no validator {index}")))?;
        let call = abi::SSVNetworkDevnet::exitValidatorCall {
            publicKey: pubkey.into(),
            operatorIds: self.operator_ids.clone(),
        };
        self.chain.send_call(self.owner, call).await?;
        Ok(())
    }

    /// Writes the simulator's own answers to `genesis`, `config/spec` and
    /// `config/fork_schedule` (`genesis.json`, `spec.json`, `fork_schedule.json`),
    /// `validators.json` (`[{"index", "pubkey"}]`), `submissions.jsonl`: every Beacon API
    /// request the simulator received, GETs and refused submissions included (one
    /// `ssv_simulator::server::RequestRecord` a line: `unix_millis`, `method`, `route` with
    /// its query, `status`, `content_type`, `body_encoding` and `body` as sent), and
    /// `accepted.jsonl`: the simulator's record (`unix_millis`, `slot`, `route`, `body`) of
    /// every submission it accepted (signature checked) and every subscription.
    ///
    /// # Errors
    /// [`DevnetError`].
    pub async fn write_record(&self, dir: &Path) -> Result<(), DevnetError> {
        std::fs::create_dir_all(dir).map_err(io_err(dir))?;
        let client = reqwest::Client::new();
        for (route, file) in [
            ("/eth/v1/beacon/genesis", "genesis.json"),
            ("/eth/v1/config/spec", "spec.json"),
            ("/eth/v1/config/fork_schedule", "fork_schedule.json"),
        ] {
            let text = async {
                client.get(format!("{}{route}", self.beacon_url)).send().await?.text().await
            }
            .await
            .map_err(|e| DevnetError::Beacon(format!("{route}: {e}")))?;
            write(&dir.join(file), &text)?;
        }
        let validators: Vec<serde_json::Value> = self
            .validator_pubkeys
            .iter()
            .enumerate()
            .map(|(i, pk)| serde_json::json!({"index": i.to_string(), "pubkey": pk}))
            .collect();
        write(
            &dir.join("validators.json"),
            &serde_json::to_string_pretty(&validators).unwrap_or_default(),
        )?;
        // Copied (streamed, not read whole): a long run's log can be large.
        for (from, to) in [(REQUESTS_FILE, "submissions.jsonl"), (ACCEPTED_FILE, "accepted.jsonl")]
        {
            let from = self.sim_record_dir.join(from);
            let to = dir.join(to);
            match File::open(&from) {
                Ok(mut input) => {
                    let mut out = File::create(&to).map_err(io_err(&to))?;
                    std::io::copy(&mut input, &mut out).map_err(io_err(&to))?;
                }
                Err(_) => write(&to, "")?,
            }
        }
        Ok(())
    }
}

/// The signature of `object` with `domain_type` at `slot`'s epoch (a selection proof).
fn sign_object<T: TreeHash>(
    net: &BeaconNetwork,
    secret: &SecretKey,
    slot: u64,
    object: &T,
    domain_type: BeaconDomainType,
) -> [u8; 96] {
    let domain = net.domain(net.epoch_at_slot(slot), domain_type);
    secret.sign(&compute_signing_root(&object.tree_hash_root().0, &domain)).to_bytes()
}

/// Starts the devnet, runs it, and stops every process.
///
/// # Errors
/// [`DevnetError`].
pub async fn run(opts: &DevnetOptions) -> Result<Summary, DevnetError> {
    let mut devnet = Devnet::start(opts).await?;
    devnet.run_slots(opts).await
}

/// Finds a sibling binary of the running executable (`target/<profile>/<name>`), also
/// from a test executable in `target/<profile>/deps`.
pub fn sibling_binary(name: &str) -> Option<PathBuf> {
    let exe = std::env::current_exe().ok()?;
    let mut dir = exe.parent()?;
    for _ in 0..2 {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Some(candidate);
        }
        dir = dir.parent()?;
    }
    None
}

/// The binary `name` of workspace package `package`: beside the running executable, else
/// built with cargo (`cargo build -p package --bin name`) and then found there.
///
/// # Errors
/// A message saying why the binary is missing.
pub fn locate_or_build(name: &str, package: &str) -> Result<PathBuf, String> {
    if let Some(p) = sibling_binary(name) {
        return Ok(p);
    }
    eprintln!(
        "{name} not found beside {}; building it with cargo…",
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default()
    );
    let manifest = repo_root().join("Cargo.toml");
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .arg("build")
        .arg("--manifest-path")
        .arg(&manifest)
        .args(["-p", package, "--bin", name])
        .status()
        .map_err(|e| format!("cannot run cargo to build {name}: {e}"))?;
    if !status.success() {
        return Err(format!("building {name} failed"));
    }
    sibling_binary(name).ok_or_else(|| format!("{name} still not found after building it"))
}
