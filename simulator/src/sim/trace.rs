//! Traces: every input to every simulated node, in a versioned binary file, and the
//! [`Driver`] that feeds inputs to nodes, checks invariants and records, shared by live
//! runs, replay and shrinking.
//!
//! # File format
//! The node trace container of [`ssv_core::trace`] (magic `SSVTRACE`, its format version,
//! checksummed length-prefixed postcard frames), read and written by the same code as a
//! node's trace, so `ssv-sim replay` tells them apart by the header alone:
//!
//! ```text
//! magic, version            as ssv_core::trace
//! frame  header             ssv_core::trace::TraceHeader, network "simulator", whose
//!                           `simulator` section is postcard(TraceHeader of this module):
//!                           seed, SimOptions, node layout
//! frame  record …           postcard(Record), until the end of the file
//! ```
//!
//! A [`Record::Input`] is one call `node.handle(at_ms + skew, input)` together with a
//! 64-bit FNV-1a digest of the outputs it produced; a [`Record::Deadline`] is a liveness
//! check of one slot. Replay rebuilds the nodes from the header alone, feeds the inputs in
//! order and requires every digest to match. The trace hash is SHA-256 of the file bytes.
//! The node's production recorder will write the same frames for the shell's inputs.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ssv_core::qbft::UnixMillis;

use super::crypto::Crypto;
use super::duties::{Chain, Slot};
use super::invariants::{Checker, Violation};
use super::node::{NodeInput, NodeOutput, NodeSetup, SimNode};
use super::options::SimOptions;
use super::runners::{self, DueItem, DutyNode};
use crate::chain::Chain as Beacon;

/// The file's first eight bytes (the node trace format's).
pub const MAGIC: [u8; 8] = ssv_core::trace::MAGIC;
/// The format version this code writes and reads (the node trace format's).
pub const VERSION: u16 = ssv_core::trace::TRACE_FORMAT_VERSION;
/// The network name in a simulator trace's node-format header.
pub const NETWORK: &str = "simulator";
/// Genesis of the simulated chain, Unix ms (any fixed instant works).
pub const GENESIS_MS: UnixMillis = 1_700_000_000_000;

/// One simulated node process: an operator, or one replica of an equivocating operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Its operator id.
    pub operator: u64,
    /// Replica number (0, or 1 for an equivocator's second self).
    pub replica: u8,
    /// Whether its decisions are held to the safety invariants.
    pub honest: bool,
    /// Whether it must complete duties after the heal (honest, beacon node not erroring).
    pub expected_live: bool,
    /// Its clock's offset from true time, ms.
    pub skew_ms: i64,
}

/// Everything needed to rebuild the world's nodes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceHeader {
    /// The run's seed.
    pub seed: u64,
    /// The run's options.
    pub options: SimOptions,
    /// The nodes, indexed by position.
    pub nodes: Vec<NodeInfo>,
}

/// One step of a run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Record {
    /// Node `node` handled `input` at true time `at_ms`; its outputs hash to `digest`.
    Input {
        /// True time, Unix ms.
        at_ms: UnixMillis,
        /// Node position.
        node: u16,
        /// The input.
        input: NodeInput,
        /// FNV-1a 64 of the outputs.
        digest: u64,
    },
    /// The deadline of `slot`'s duties passed: check liveness.
    Deadline {
        /// True time, Unix ms.
        at_ms: UnixMillis,
        /// The slot.
        slot: Slot,
    },
}

/// A borrowed [`Record`]: encodes to the same bytes without cloning the input.
#[derive(Serialize)]
enum RecordRef<'a> {
    Input { at_ms: UnixMillis, node: u16, input: &'a NodeInput, digest: u64 },
    Deadline { at_ms: UnixMillis, slot: Slot },
}

/// A whole trace in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    /// The header.
    pub header: TraceHeader,
    /// The records in order.
    pub records: Vec<Record>,
}

/// The node-format header wrapping a simulator header.
fn node_header(header: &TraceHeader) -> Result<ssv_core::trace::TraceHeader, String> {
    use ssv_core::trace::NetworkFacts;
    let section = postcard::to_allocvec(header).map_err(|e| e.to_string())?;
    Ok(ssv_core::trace::TraceHeader {
        operator_id: 0,
        network: NETWORK.into(),
        domain_type: [0; 4],
        node_version: format!("ssv-sim {}", env!("CARGO_PKG_VERSION")),
        beacon: NetworkFacts {
            slots_per_epoch: 0,
            slot_ms: header.options.slot_ms,
            genesis_ms: GENESIS_MS,
            genesis_validators_root: [0; 32],
            fork_versions: Vec::new(),
            data_versions: Vec::new(),
            sync_subcommittee_size: 0,
        },
        operators: Vec::new(),
        committees: Vec::new(),
        simulator: Some(section),
    })
}

impl Trace {
    /// The file bytes.
    ///
    /// # Errors
    /// A serialization failure.
    pub fn to_bytes(&self) -> Result<Vec<u8>, String> {
        let mut rec = Recorder::new(&self.header, true)?;
        for r in &self.records {
            match r {
                Record::Input { at_ms, node, input, digest } => {
                    rec.input(*at_ms, *node, input, *digest)?;
                }
                Record::Deadline { at_ms, slot } => rec.deadline(*at_ms, *slot)?,
            }
        }
        Ok(rec.bytes)
    }

    /// Parses file bytes.
    ///
    /// # Errors
    /// Wrong magic or version, a truncated frame, or a frame that does not decode.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, String> {
        let mut reader = ssv_core::trace::TraceReader::new(bytes).map_err(|e| e.to_string())?;
        let section =
            reader.header().simulator.as_deref().ok_or(
                "a node trace, not a simulator trace (no simulator section in its header)",
            )?;
        let header: TraceHeader = if reader.version() == 4 {
            postcard::from_bytes::<TraceHeaderV4>(section)
                .map_err(|e| format!("simulator header (format 4): {e}"))?
                .into()
        } else {
            postcard::from_bytes(section).map_err(|e| format!("simulator header: {e}"))?
        };
        let mut records = Vec::new();
        while let Some(r) = reader.next_as::<Record>().map_err(|e| e.to_string())? {
            records.push(r);
        }
        Ok(Self { header, records })
    }
}

/// A format-4 simulator header: the options before registrations and exits. Its records
/// decode as this build's (the inputs added since are at the end of [`NodeInput`]).
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct TraceHeaderV4 {
    seed: u64,
    options: SimOptionsV4,
    nodes: Vec<NodeInfo>,
}

/// [`SimOptions`] of format 4, field for field.
#[derive(Deserialize)]
#[cfg_attr(test, derive(Serialize))]
struct SimOptionsV4 {
    operators: u64,
    validators: u64,
    slots: u64,
    slot_ms: u64,
    crypto: super::options::CryptoMode,
    net: super::options::NetFaults,
    heal_slot: u64,
    byzantine: Vec<super::options::Behaviour>,
    crashes: u32,
    clock_skew_ms_max: u64,
    beacon: super::options::BeaconFaults,
    duty_runners: bool,
    broken_quorum: bool,
    density: super::options::Density,
    aggregation: bool,
}

impl From<TraceHeaderV4> for TraceHeader {
    fn from(h: TraceHeaderV4) -> Self {
        let o = h.options;
        let options = SimOptions {
            operators: o.operators,
            validators: o.validators,
            slots: o.slots,
            slot_ms: o.slot_ms,
            crypto: o.crypto,
            net: o.net,
            heal_slot: o.heal_slot,
            byzantine: o.byzantine,
            crashes: o.crashes,
            clock_skew_ms_max: o.clock_skew_ms_max,
            beacon: o.beacon,
            duty_runners: o.duty_runners,
            broken_quorum: o.broken_quorum,
            density: o.density,
            aggregation: o.aggregation,
            // Not simulated then: nothing of them is due on replay.
            registrations: false,
            exit: None,
        };
        Self { seed: h.seed, options, nodes: h.nodes }
    }
}

/// Writes (optionally) and hashes trace frames as they happen.
pub struct Recorder {
    keep: bool,
    bytes: Vec<u8>,
    scratch: Vec<u8>,
    hasher: Sha256,
    records: u64,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder").field("records", &self.records).finish_non_exhaustive()
    }
}

impl Recorder {
    /// Starts a trace with `header`; `keep` keeps the bytes (else only the hash).
    ///
    /// # Errors
    /// A serialization failure.
    pub fn new(header: &TraceHeader, keep: bool) -> Result<Self, String> {
        let mut r = Self {
            keep,
            bytes: Vec::new(),
            scratch: Vec::new(),
            hasher: Sha256::new(),
            records: 0,
        };
        let start =
            ssv_core::trace::encode_preamble(&node_header(header)?).map_err(|e| e.to_string())?;
        r.push(&start);
        Ok(r)
    }

    fn push(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        if self.keep {
            self.bytes.extend_from_slice(chunk);
        }
    }

    fn record(&mut self, r: &RecordRef<'_>) -> Result<(), String> {
        let mut scratch = std::mem::take(&mut self.scratch);
        scratch.clear();
        ssv_core::trace::encode_frame(r, &mut scratch).map_err(|e| e.to_string())?;
        self.push(&scratch);
        self.scratch = scratch;
        self.records += 1;
        Ok(())
    }

    /// Records a node input.
    ///
    /// # Errors
    /// A serialization failure.
    pub fn input(
        &mut self,
        at_ms: UnixMillis,
        node: u16,
        input: &NodeInput,
        digest: u64,
    ) -> Result<(), String> {
        self.record(&RecordRef::Input { at_ms, node, input, digest })
    }

    /// Records a liveness deadline.
    ///
    /// # Errors
    /// A serialization failure.
    pub fn deadline(&mut self, at_ms: UnixMillis, slot: Slot) -> Result<(), String> {
        self.record(&RecordRef::Deadline { at_ms, slot })
    }

    /// Records written so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    /// The SHA-256 of the file so far.
    pub fn hash(&self) -> [u8; 32] {
        self.hasher.clone().finalize().into()
    }

    /// The file bytes (empty unless kept).
    pub fn into_bytes(self) -> Vec<u8> {
        self.bytes
    }
}

/// FNV-1a 64 of a node's outputs: what replay compares.
pub fn digest(outputs: &[NodeOutput]) -> u64 {
    let mut h: u64 = 0xCBF2_9CE4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            h = (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3);
        }
    };
    for o in outputs {
        match o {
            NodeOutput::Broadcast(bytes) => {
                eat(b"B");
                eat(bytes);
            }
            NodeOutput::Decided { key, round, value, commit } => {
                eat(b"D");
                eat(&key.0);
                eat(&key.1.to_le_bytes());
                eat(&round.to_le_bytes());
                eat(value);
                eat(commit);
            }
            NodeOutput::Request { id, slot } => {
                eat(b"R");
                eat(&id.to_le_bytes());
                eat(&slot.to_le_bytes());
            }
            NodeOutput::Submit(s) => {
                eat(b"S");
                eat(&s.root());
            }
            NodeOutput::SignedBlock { validator, slot, signing_root } => {
                eat(b"P");
                eat(&validator.to_le_bytes());
                eat(&slot.to_le_bytes());
                eat(signing_root);
            }
            NodeOutput::SignedAttestation { validator, attestation } => {
                eat(b"A");
                eat(&validator.to_le_bytes());
                eat(&attestation.source_epoch.to_le_bytes());
                eat(&attestation.target_epoch.to_le_bytes());
                eat(&attestation.signing_root);
            }
        }
    }
    h
}

/// A simulated node: bare QBFT instances, or the duty runners.
#[derive(Debug)]
pub enum Node {
    /// Bare QBFT instances per duty ([`SimNode`]).
    Qbft(SimNode),
    /// The core's duty runners ([`DutyNode`]).
    Duty(Box<DutyNode>),
}

impl Node {
    /// Whether the process runs.
    pub fn is_up(&self) -> bool {
        match self {
            Self::Qbft(n) => n.is_up(),
            Self::Duty(n) => n.is_up(),
        }
    }

    /// The node's next deadline, in its own clock.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        match self {
            Self::Qbft(n) => n.poll_timeout(),
            Self::Duty(n) => n.poll_timeout(),
        }
    }

    /// Its counters.
    pub fn stats(&self) -> super::node::NodeStats {
        match self {
            Self::Qbft(n) => n.stats,
            Self::Duty(n) => n.stats,
        }
    }
}

/// Feeds inputs to the nodes of a world, checks the invariants on what they output and
/// records every step. Live runs, replay and shrinking all go through it.
pub struct Driver {
    /// The world's layout.
    pub header: TraceHeader,
    /// The chain.
    pub chain: Arc<Chain>,
    /// The keys.
    pub crypto: Arc<Crypto>,
    /// The nodes, by position.
    pub nodes: Vec<Node>,
    /// Duty path: the simulated beacon chain every submission goes to.
    pub beacon: Option<Beacon>,
    /// Duty path: (node, item) of every accepted submission, with the true time of its
    /// first acceptance.
    pub submitted: BTreeMap<(usize, DueItem), UnixMillis>,
    /// Duty path: the cluster's keys (who is selected as aggregator).
    pub keys: Option<Arc<runners::ClusterKeys>>,
    /// Duty path, fake crypto: the stand-in for the chain's attestation and sync pools.
    pools: super::aggregation::FakePools,
    /// Duty path: `hash_tree_root`s of the signed objects the chain accepted. Honest
    /// nodes reconstruct the same signature, so the same object is verified once.
    accepted: BTreeSet<[u8; 32]>,
    /// The invariants.
    pub checker: Checker,
    /// The trace being written.
    pub recorder: Recorder,
    /// The outputs of the last input.
    pub out: Vec<NodeOutput>,
    expected_live: Vec<usize>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver").field("header", &self.header).finish_non_exhaustive()
    }
}

impl Driver {
    /// Builds the nodes `header` describes.
    ///
    /// # Errors
    /// Invalid options or unusable keys.
    pub fn new(header: TraceHeader, keep_trace: bool) -> Result<Self, String> {
        let o = &header.options;
        o.validate()?;
        let chain = Arc::new(Chain::new(header.seed, o.validators, o.operators));
        let crypto = Arc::new(Crypto::new(o.crypto, o.operators)?);
        // The broken rule: quorum 2f' + 1 with f' = f / 2, about f + 1.
        let faulty_nodes = if o.broken_quorum { o.f() / 2 } else { o.f() };
        let mut nodes = Vec::new();
        let mut beacon = None;
        let mut cluster_keys = None;
        if o.duty_runners {
            let keys = runners::cluster_keys(o.operators, o.validators)?;
            cluster_keys = Some(Arc::clone(&keys));
            let b = runners::beacon(header.seed, GENESIS_MS, o.slot_ms, &keys, o.density)?;
            let network = Arc::new(runners::network(&b, GENESIS_MS));
            for n in &header.nodes {
                let node = DutyNode::new(
                    n.operator,
                    o.operators,
                    faulty_nodes,
                    Arc::clone(&crypto),
                    Arc::clone(&network),
                    &keys,
                )?;
                nodes.push(Node::Duty(Box::new(node)));
            }
            beacon = Some(b);
        } else {
            for n in &header.nodes {
                let setup = NodeSetup {
                    operator: n.operator,
                    operators: o.operators,
                    faulty_nodes,
                    genesis_ms: GENESIS_MS,
                    slot_ms: o.slot_ms,
                };
                nodes.push(Node::Qbft(SimNode::new(
                    setup,
                    Arc::clone(&chain),
                    Arc::clone(&crypto),
                )));
            }
        }
        let mut checker = Checker::new(Arc::clone(&chain), Arc::clone(&crypto), o.operators);
        checker.duty_path = o.duty_runners;
        checker.slots_per_epoch = o.density.slots_per_epoch();
        let recorder = Recorder::new(&header, keep_trace)?;
        let expected_live = header
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.expected_live)
            .map(|(i, _)| i)
            .collect();
        Ok(Self {
            header,
            chain,
            crypto,
            nodes,
            beacon,
            submitted: BTreeMap::new(),
            keys: cluster_keys,
            pools: super::aggregation::FakePools::default(),
            accepted: BTreeSet::new(),
            checker,
            recorder,
            out: Vec::new(),
            expected_live,
        })
    }

    /// The index of the next record.
    pub fn step(&self) -> u64 {
        self.recorder.records()
    }

    /// Node `node` handles `input` at true time `at_ms`; the outputs are left in `self.out`
    /// and their digest returned.
    ///
    /// # Errors
    /// An unknown node or a serialization failure.
    pub fn input(
        &mut self,
        at_ms: UnixMillis,
        node: usize,
        input: &NodeInput,
    ) -> Result<u64, String> {
        let step = self.step();
        let info = self.header.nodes.get(node).ok_or("unknown node")?;
        let honest = info.honest;
        let local = at_ms.saturating_add_signed(info.skew_ms);
        let sim = self.nodes.get_mut(node).ok_or("unknown node")?;
        self.out.clear();
        match sim {
            Node::Qbft(sim) => {
                if let NodeInput::Start { role, slot, value } = input
                    && sim.is_up()
                {
                    self.checker.on_start((self.chain.identifier(*role), *slot), value);
                }
                sim.handle(local, input.clone(), &mut self.out);
            }
            Node::Duty(d) => {
                let beacon = self.beacon.as_ref().ok_or("duty node without a beacon chain")?;
                // An equivocator's second replica sees another (valid) head, so the two
                // propose different votes.
                let salt = if info.replica == 1 { info.operator } else { 0 };
                let ctx = DutyCtx {
                    beacon,
                    pools: &self.pools,
                    crypto: &self.crypto,
                    at_ms,
                    local,
                    salt,
                };
                drive_duty_node(d, &ctx, &mut self.checker, input, &mut self.out);
            }
        }
        for o in &self.out {
            match o {
                NodeOutput::Decided { key, round, value, commit } => {
                    self.checker.on_decided(step, at_ms, node, honest, *key, *round, value, commit);
                }
                NodeOutput::Submit(s) => {
                    let Some(beacon) = self.beacon.as_mut() else { continue };
                    let root = s.root();
                    let res = if self.accepted.contains(&root) {
                        Ok(())
                    } else {
                        let pools = self.header.options.aggregation.then_some(&mut self.pools);
                        runners::submit(beacon, pools, &self.crypto, at_ms, s)
                    };
                    match res {
                        Ok(()) => {
                            self.accepted.insert(root);
                            let item = runners::submitted_item(s)
                                .or_else(|| super::registration::submitted_item(beacon, s));
                            if let Some(item) = item {
                                self.submitted.entry((node, item)).or_insert(at_ms);
                            }
                            // A reconstructed block is signed by the validator, whoever
                            // submits it.
                            if let ssv_core::runner::Submission::Block { block, .. } = &**s {
                                use ssv_core::crypto::signing::{
                                    BeaconDomainType, compute_signing_root,
                                };
                                let domain = beacon.domain(BeaconDomainType::BEACON_PROPOSER);
                                let signing_root =
                                    compute_signing_root(&block.block_root(), &domain);
                                let (v, slot) = (block.proposer_index(), block.slot());
                                self.checker.on_signed_block(
                                    step,
                                    at_ms,
                                    node,
                                    true,
                                    v,
                                    slot,
                                    signing_root,
                                );
                            }
                        }
                        Err(e) => self.checker.on_bad_submission(step, at_ms, node, &e),
                    }
                }
                NodeOutput::SignedAttestation { validator, attestation } => {
                    self.checker.on_signed(step, at_ms, node, honest, *validator, attestation);
                }
                NodeOutput::SignedBlock { validator, slot, signing_root } => {
                    self.checker.on_signed_block(
                        step,
                        at_ms,
                        node,
                        honest,
                        *validator,
                        *slot,
                        *signing_root,
                    );
                }
                NodeOutput::Broadcast(_) | NodeOutput::Request { .. } => {}
            }
        }
        let d = digest(&self.out);
        self.recorder.input(at_ms, node as u16, input, d)?;
        Ok(d)
    }

    /// The deadline of `slot` passed.
    ///
    /// # Errors
    /// A serialization failure.
    pub fn deadline(&mut self, at_ms: UnixMillis, slot: Slot) -> Result<(), String> {
        let step = self.step();
        if let Some(beacon) = &self.beacon {
            let o = &self.header.options;
            let mut due = runners::due_at(beacon, slot);
            if let Some(keys) = self.keys.as_ref().filter(|_| o.aggregation) {
                due.extend(
                    super::aggregation::due_aggregation(beacon, keys, o.crypto, slot).iter(),
                );
            }
            due.extend(super::registration::due_at(beacon, slot, o.registrations, o.exit));
            // A proposal, aggregate, contribution, registration or exit starts at its slot's
            // start, when a skewed clock may still be before the heal (its first messages
            // lost): they are due from the slot after.
            let heal = o.heal_slot;
            if heal > 0 && slot <= heal {
                due.retain(|(_, role, _)| *role == 0 || *role == 3);
            }
            // Contributions are due within their slot (the next block's sync aggregate),
            // registrations and exits too (one round of partial signatures started at the
            // slot's start, needing no beacon data: well within a slot once the network
            // healed), each allowing for the largest clock skew (a lagging clock starts
            // them that much later); everything else by this deadline. An aggregate or
            // contribution that the validator's next duty ends is owed only when its slot
            // gave it its window (`superseded_without_its_window`).
            let contributions_by = GENESIS_MS + (slot + 1) * o.slot_ms + o.clock_skew_ms_max;
            let live: BTreeSet<u64> =
                self.header.nodes.iter().filter(|n| n.expected_live).map(|n| n.operator).collect();
            for &node in &self.expected_live {
                // The node's first attestation or sync message of the slot.
                let committee_at = self
                    .submitted
                    .range((node, (slot, 0, 0))..(node, (slot, 4, 0)))
                    .filter(|((_, (_, role, _)), _)| *role == 0 || *role == 3)
                    .map(|(_, t)| *t)
                    .min();
                let owed: Vec<DueItem> = due
                    .iter()
                    .copied()
                    .filter(|item| {
                        !super::aggregation::superseded_without_its_window(
                            beacon,
                            item,
                            committee_at,
                            o.clock_skew_ms_max,
                            o.operators,
                            &live,
                        )
                    })
                    .collect();
                self.checker.check_duty_liveness(
                    step,
                    at_ms,
                    slot,
                    &owed,
                    &[node],
                    &self.submitted,
                    contributions_by,
                );
            }
        } else {
            self.checker.check_liveness(step, at_ms, slot, &self.expected_live);
        }
        self.recorder.deadline(at_ms, slot)
    }

    /// The first violation so far.
    pub fn violation(&self) -> Option<&Violation> {
        self.checker.violation.as_ref()
    }
}

/// What a duty node's input is handled against.
struct DutyCtx<'a> {
    beacon: &'a Beacon,
    pools: &'a super::aggregation::FakePools,
    crypto: &'a Crypto,
    /// True time, Unix ms (the beacon node's clock).
    at_ms: UnixMillis,
    /// The node's clock.
    local: UnixMillis,
    /// Non-zero: the head root is salted with it (an equivocator's second replica).
    salt: u64,
}

/// Feeds one recorded input to a duty node: beacon answers are computed from the chain at
/// true time; the node runs at its own clock.
fn drive_duty_node(
    d: &mut DutyNode,
    ctx: &DutyCtx<'_>,
    checker: &mut Checker,
    input: &NodeInput,
    out: &mut Vec<NodeOutput>,
) {
    let DutyCtx { beacon, at_ms, local, salt, .. } = *ctx;
    use ssv_core::runner::Response;
    use ssv_core::types::BeaconVote;
    use ssv_core::types::ssz::Encode;
    match input {
        NodeInput::CommitteeDuty { slot } => {
            if let Some(duty) = runners::committee_duty(beacon, *slot) {
                d.start(local, duty, out);
            }
        }
        NodeInput::ProposerDuty { slot } => {
            if let Some(duty) = runners::proposer_duty(beacon, *slot) {
                d.start_validator(local, duty, out);
            }
        }
        NodeInput::AggregatorDuty { slot } => {
            for duty in super::aggregation::aggregator_duties(beacon, *slot) {
                d.start_validator(local, duty, out);
            }
        }
        NodeInput::ContributionDuty { slot } => {
            for duty in super::aggregation::contribution_duties(beacon, *slot) {
                d.start_validator(local, duty, out);
            }
        }
        NodeInput::RegistrationDuty { slot } => {
            for duty in super::registration::registration_duties(beacon, *slot) {
                d.start_validator(local, duty, out);
            }
        }
        NodeInput::ExitDuty { slot, validator } => {
            if let Some(duty) = super::registration::exit_duty(beacon, *validator, *slot) {
                d.start_validator(local, duty, out);
            }
        }
        NodeInput::Beacon { id, failed, .. } if *id >= runners::VALIDATOR_REQUEST => {
            let Some((vi, request)) = d.validator_request(*id) else { return };
            let response = if *failed {
                Response::Failed("beacon node error (simulated)".into())
            } else {
                let request = request.clone();
                validator_answer(d, ctx, checker, vi, request)
            };
            d.respond(local, *id, response, out);
        }
        NodeInput::Beacon { id, slot, lag, failed } => {
            let response = if *failed {
                Response::Failed("beacon node error (simulated)".into())
            } else {
                match beacon.attestation_data(at_ms, *slot, 0) {
                    Ok(mut data) => {
                        if *lag > 0 {
                            data.beacon_block_root = beacon.block_root(slot.saturating_sub(*lag));
                        }
                        if salt != 0 {
                            let root = data.beacon_block_root;
                            data.beacon_block_root = Sha256::new()
                                .chain_update(root)
                                .chain_update(salt.to_le_bytes())
                                .finalize()
                                .into();
                        }
                        let vote = BeaconVote {
                            block_root: data.beacon_block_root,
                            source: data.source,
                            target: data.target,
                        };
                        if d.is_up() {
                            checker.on_start((d.identifier(), *slot), &vote.as_ssz_bytes());
                        }
                        Response::AttestationData(data)
                    }
                    Err(e) => Response::Failed(e.to_string()),
                }
            };
            d.respond(local, *id, response, out);
        }
        NodeInput::Message(bytes) => d.receive(local, bytes, out),
        NodeInput::Timeout => d.timeout(local, out),
        NodeInput::Crash => d.crash(),
        NodeInput::Restart => d.restart(),
        NodeInput::Start { .. } => {}
    }
}

/// The beacon node's answer to validator `vi`'s data request (a block, an aggregate,
/// contributions), computed from the chain at true time; the value the runner will
/// propose is registered with the validity checker.
fn validator_answer(
    d: &DutyNode,
    ctx: &DutyCtx<'_>,
    checker: &mut Checker,
    vi: u64,
    request: ssv_core::runner::Request,
) -> ssv_core::runner::Response {
    use ssv_core::runner::{Request, Response};
    use ssv_core::types::RunnerRole;
    let DutyCtx { beacon, pools, crypto, at_ms, salt, .. } = *ctx;
    let mode = crypto.mode();
    let (role, response) = match request {
        Request::Proposal { slot, randao_reveal, mut graffiti } => {
            // An equivocator's second replica gets another (valid) block.
            if salt != 0 {
                graffiti = Sha256::new()
                    .chain_update(graffiti)
                    .chain_update(salt.to_le_bytes())
                    .finalize()
                    .into();
            }
            let response = match runners::produce_block(
                beacon,
                crypto,
                at_ms,
                slot,
                randao_reveal,
                graffiti,
            ) {
                Ok(block) => Response::ConsensusData {
                    version: block.version().as_u64(),
                    data_ssz: block.to_ssz(),
                },
                Err(e) => Response::Failed(e),
            };
            (RunnerRole::Proposer, response)
        }
        Request::AggregateAndProof {
            slot,
            committee_index,
            validator_index,
            selection_proof,
            ..
        } => {
            // As the node: the committee's decided vote of the slot, else the beacon node's
            // attestation data.
            let data = match d.decided_vote(slot) {
                Some(v) => Ok(ssv_core::beacon::AttestationData {
                    slot,
                    index: 0,
                    beacon_block_root: v.block_root,
                    source: v.source,
                    target: v.target,
                }),
                None => beacon.attestation_data(at_ms, slot, 0).map_err(|e| e.to_string()),
            };
            let response = match data {
                Ok(data) => super::aggregation::aggregate_response(
                    beacon,
                    pools,
                    mode,
                    &data,
                    committee_index,
                    validator_index,
                    selection_proof,
                ),
                Err(e) => Response::Failed(e),
            };
            (RunnerRole::Aggregator, response)
        }
        Request::SyncCommitteeContributions { slot, selection_proofs, subnets } => {
            let root = match d.decided_vote(slot) {
                Some(v) => Ok(v.block_root),
                None => beacon
                    .attestation_data(at_ms, slot, 0)
                    .map(|a| a.beacon_block_root)
                    .map_err(|e| e.to_string()),
            };
            let response = match root {
                Ok(root) => super::aggregation::contributions_response(
                    beacon,
                    pools,
                    mode,
                    slot,
                    &root,
                    &selection_proofs,
                    &subnets,
                ),
                Err(e) => Response::Failed(e),
            };
            (RunnerRole::SyncCommitteeContribution, response)
        }
        _ => return Response::Failed("not a beacon request".into()),
    };
    if let Response::ConsensusData { version, data_ssz } = &response
        && let (Some(duty), Some(key)) =
            (d.validator_duty(vi, role), d.validator_identifier(vi, role))
        && d.is_up()
    {
        let slot = duty.slot;
        let value = ssv_core::types::ValidatorConsensusData {
            duty,
            version: *version,
            data_ssz: ssv_core::types::ssz_types::VariableList::new(data_ssz.clone())
                .unwrap_or_default(),
        };
        use ssv_core::types::ssz::Encode;
        checker.on_start((key, slot), &value.as_ssz_bytes());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `h` as format 4 wrote it (its options must have no registrations and no exit).
    fn v4_header(h: &TraceHeader) -> TraceHeaderV4 {
        let o = h.options.clone();
        assert!(!o.registrations && o.exit.is_none());
        let options = SimOptionsV4 {
            operators: o.operators,
            validators: o.validators,
            slots: o.slots,
            slot_ms: o.slot_ms,
            crypto: o.crypto,
            net: o.net,
            heal_slot: o.heal_slot,
            byzantine: o.byzantine,
            crashes: o.crashes,
            clock_skew_ms_max: o.clock_skew_ms_max,
            beacon: o.beacon,
            duty_runners: o.duty_runners,
            broken_quorum: o.broken_quorum,
            density: o.density,
            aggregation: o.aggregation,
        };
        TraceHeaderV4 { seed: h.seed, options, nodes: h.nodes.clone() }
    }

    #[test]
    fn a_format_4_trace_reads_and_replays_without_registrations() {
        let o = SimOptions {
            validators: 3,
            slots: 8,
            duty_runners: true,
            aggregation: true,
            registrations: false,
            ..SimOptions::default()
        };
        let r = crate::sim::run(4, &o, true, &mut |_| {}).unwrap();
        let bytes = r.trace.unwrap();
        let trace = Trace::from_bytes(&bytes).unwrap();
        // The same file as format 4 wrote it: version 4, the old simulator header, the
        // same record frames.
        let mut node = node_header(&trace.header).unwrap();
        node.simulator = Some(postcard::to_allocvec(&v4_header(&trace.header)).unwrap());
        let mut v4 = MAGIC.to_vec();
        v4.extend_from_slice(&4u16.to_le_bytes());
        ssv_core::trace::encode_frame(&node, &mut v4).unwrap();
        let header_len = u32::from_le_bytes(bytes[10..14].try_into().unwrap()) as usize;
        v4.extend_from_slice(&bytes[10 + 4 + header_len + 4..]);
        let old = Trace::from_bytes(&v4).unwrap();
        assert_eq!(old, trace);
        let again = crate::sim::replay(&old, false).unwrap();
        assert!(again.reproduced() && again.violation.is_none());
        // Written again, it is this build's format: the original file.
        assert_eq!(again.bytes, bytes);
    }
}
