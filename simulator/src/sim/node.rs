//! One simulated operator node: the shell's job around the QBFT cores (decoding, checking
//! signatures, routing messages to instances, keeping early messages for retry, persisting
//! decided instances) as a deterministic state machine of its own.
//!
//! The node follows the core's driving contract one level up:
//! `handle(now, NodeInput, &mut Vec<NodeOutput>)` and `poll_timeout()`. Each call is one
//! trace record, so a node's life replays from its inputs alone.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ssv_core::qbft::{
    CommitteeMember, Controller, ControllerData, ControllerInput, Operator, Output, QbftConfig,
    QbftError, RoundRobinProposer, SlotAnchor, SlotRelativeTimeouts, UnixMillis, ValueCheckError,
};
use ssv_core::types::ssz::{Decode, Encode};
use ssv_core::types::{Height, OperatorId, SignedSsvMessage};

use super::crypto::Crypto;
use super::duties::{Chain, DOMAIN, DutyRole, Slot};

/// Slots a node keeps an instance after its slot: a duty's deadline is two slots, and one
/// more lets late messages land on a decided instance rather than be buffered.
pub const RETAIN_SLOTS: u64 = 3;
/// Most early messages kept per instance for retry (the node's queue is bounded too);
/// beyond it the newest is dropped.
pub const PENDING_MAX: usize = 1_024;
/// Most messages buffered for an instance that has not started yet.
pub const EARLY_MAX: usize = 1_024;
/// The cut-off round: the node's (`CutoffRound`).
pub const CUT_OFF_ROUND: u64 = ssv_core::qbft::CUT_OFF_ROUND;

/// A QBFT instance's key: its identifier and height (slot).
pub type InstanceKey = ([u8; 56], Height);

/// An input to a simulated node: one trace record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum NodeInput {
    /// The beacon node returned a duty's data: start its QBFT instance with `value`.
    Start {
        /// The duty.
        role: DutyRole,
        /// Its slot (the instance height).
        slot: Slot,
        /// The value to propose.
        value: Vec<u8>,
    },
    /// A message arrived from the network: the SSZ of a `SignedSSVMessage` (or garbage).
    Message(Vec<u8>),
    /// The clock reached [`SimNode::poll_timeout`].
    Timeout,
    /// The process died: everything not persisted is lost.
    Crash,
    /// The process started again from what it persisted.
    Restart,
    /// Duty path: the beacon node returned the cluster's committee duty of `slot`.
    CommitteeDuty {
        /// The slot.
        slot: Slot,
    },
    /// Duty path: the beacon node answered attestation-data request `id` for `slot`
    /// (`failed`: with an error; `lag`: from a head this many slots behind).
    Beacon {
        /// The request id.
        id: u64,
        /// The slot asked for.
        slot: Slot,
        /// Slots the node's beacon head lags.
        lag: u64,
        /// The request failed.
        failed: bool,
    },
    /// Duty path: the beacon node returned the proposer duty of `slot` (one of the
    /// cluster's validators proposes). Beacon answers to the proposer runner's block
    /// request arrive as [`NodeInput::Beacon`] with a request id of
    /// [`super::runners::VALIDATOR_REQUEST`] and above.
    ProposerDuty {
        /// The slot.
        slot: Slot,
    },
    /// Duty path: the beacon node returned the aggregator duties of `slot` (every attester
    /// of the slot; the selection proof decides). Answers to the aggregate requests arrive
    /// as [`NodeInput::Beacon`] with a validator request id.
    AggregatorDuty {
        /// The slot.
        slot: Slot,
    },
    /// Duty path: the beacon node returned the sync-committee contribution duties of
    /// `slot` (every sync-committee member). Answers to the contribution requests arrive as
    /// [`NodeInput::Beacon`] with a validator request id.
    ContributionDuty {
        /// The slot.
        slot: Slot,
    },
    /// Duty path: the builder registrations due at `slot` start (every validator whose
    /// schedule falls on it, [`super::registration::registering`]). No beacon requests.
    RegistrationDuty {
        /// The slot.
        slot: Slot,
    },
    /// Duty path: a voluntary exit of `validator` starts at `slot` (in production asked
    /// for by a `ValidatorExited` contract event). No beacon requests.
    ExitDuty {
        /// The slot.
        slot: Slot,
        /// The exiting validator.
        validator: u64,
    },
}

/// What a node does in response to an input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeOutput {
    /// Publish these bytes (a `SignedSSVMessage`) to the committee topic.
    Broadcast(Arc<Vec<u8>>),
    /// An instance decided.
    Decided {
        /// The instance.
        key: InstanceKey,
        /// The round of the decision.
        round: u64,
        /// The decided value.
        value: Vec<u8>,
        /// The aggregated commit (SSZ `SignedSSVMessage`).
        commit: Vec<u8>,
    },
    /// Duty path: a runner asks the beacon node for data of `slot`: attestation data, a
    /// block, an aggregate or contributions (what the request id stands for).
    Request {
        /// The request id to answer with [`NodeInput::Beacon`].
        id: u64,
        /// The slot.
        slot: Slot,
    },
    /// Duty path: a runner submits this to the beacon node.
    Submit(Box<ssv_core::runner::Submission>),
    /// Duty path: the node signed an attestation of `validator` with its share.
    SignedAttestation {
        /// The validator.
        validator: u64,
        /// Source, target and signing root.
        attestation: ssv_core::slashing::AttestationToSign,
    },
    /// Duty path: the node signed a block of `validator` at `slot` with its share (after its
    /// slashing history accepted it).
    SignedBlock {
        /// The validator.
        validator: u64,
        /// The block's slot.
        slot: Slot,
        /// `compute_signing_root(block, DOMAIN_BEACON_PROPOSER)`.
        signing_root: [u8; 32],
    },
}

/// Why a node dropped or the core refused an input; counted, never fatal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeStats {
    /// Inputs that were not an SSZ `SignedSSVMessage` or failed its validation.
    pub malformed: u64,
    /// Messages with a signature that does not verify, or a signer outside the committee.
    pub bad_signature: u64,
    /// Messages for instances this node does not run (and will not soon).
    pub unroutable: u64,
    /// Messages the core refused (other than "too early" and [`NodeStats::late`]).
    pub refused: u64,
    /// Duty path: messages that came after their runner had decided (consensus messages)
    /// or finished (partial signatures) the message's slot: the quorum's stragglers and
    /// the signatures of a sync aggregator's operators after none was selected. Benign.
    pub late: u64,
    /// Messages kept for retry at least once.
    pub retried: u64,
    /// Messages accepted by a core.
    pub accepted: u64,
}

struct Running {
    controller: Controller,
    /// Messages that came before their round's proposal, retried after every accepted one.
    pending: Vec<SignedSsvMessage>,
}

/// What a node is, fixed at its creation.
#[derive(Debug, Clone)]
pub struct NodeSetup {
    /// The operator.
    pub operator: OperatorId,
    /// Operators in the committee.
    pub operators: u64,
    /// The `f` the node believes (below the real one only for the broken-quorum test).
    pub faulty_nodes: u64,
    /// Genesis, Unix ms.
    pub genesis_ms: UnixMillis,
    /// Slot duration, ms.
    pub slot_ms: u64,
}

/// A simulated operator node. See the module docs for its contract.
pub struct SimNode {
    setup: NodeSetup,
    chain: Arc<Chain>,
    crypto: Arc<Crypto>,
    committee: CommitteeMember,
    instances: BTreeMap<InstanceKey, Running>,
    early: BTreeMap<InstanceKey, Vec<SignedSsvMessage>>,
    persisted: BTreeMap<InstanceKey, ControllerData>,
    up: bool,
    /// Counters of dropped and refused inputs.
    pub stats: NodeStats,
}

impl std::fmt::Debug for SimNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNode")
            .field("operator", &self.setup.operator)
            .field("instances", &self.instances.len())
            .field("up", &self.up)
            .finish_non_exhaustive()
    }
}

impl SimNode {
    /// A running node with no instance.
    pub fn new(setup: NodeSetup, chain: Arc<Chain>, crypto: Arc<Crypto>) -> Self {
        let committee = CommitteeMember {
            operator_id: setup.operator,
            committee_id: chain.committee_id(),
            public_key: crypto.public_key(setup.operator).to_vec(),
            faulty_nodes: setup.faulty_nodes,
            committee: (1..=setup.operators)
                .map(|id| Operator { operator_id: id, public_key: crypto.public_key(id).to_vec() })
                .collect(),
            domain_type: DOMAIN,
        };
        Self {
            setup,
            chain,
            crypto,
            committee,
            instances: BTreeMap::new(),
            early: BTreeMap::new(),
            persisted: BTreeMap::new(),
            up: true,
            stats: NodeStats::default(),
        }
    }

    /// The operator this node runs.
    pub fn operator(&self) -> OperatorId {
        self.setup.operator
    }

    /// Whether the process runs.
    pub fn is_up(&self) -> bool {
        self.up
    }

    /// The earliest round deadline of a running instance, in the node's clock.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        if !self.up {
            return None;
        }
        self.instances.iter().filter_map(|(k, r)| running_deadline(k, r)).min()
    }

    fn slot_at(&self, now: UnixMillis) -> Slot {
        now.saturating_sub(self.setup.genesis_ms) / self.setup.slot_ms.max(1)
    }

    fn config(&self, role: DutyRole, slot: Slot) -> Arc<QbftConfig> {
        let chain = Arc::clone(&self.chain);
        let anchor = match role {
            DutyRole::Committee => SlotAnchor::OneThird,
            DutyRole::Proposer(_) => SlotAnchor::Relative,
            DutyRole::Aggregator | DutyRole::Contribution => SlotAnchor::TwoThirds,
            DutyRole::Registration | DutyRole::Exit => SlotAnchor::Relative,
        };
        Arc::new(QbftConfig {
            proposer: Box::new(RoundRobinProposer),
            value_check: Box::new(move |value: &[u8]| {
                chain.check_value(role, slot, value).map_err(|reason| ValueCheckError {
                    code: Some(ssv_core::error::ErrorCode::QbftValueInvalid),
                    reason,
                })
            }),
            timeouts: Box::new(SlotRelativeTimeouts {
                genesis_ms: self.setup.genesis_ms,
                slot_ms: self.setup.slot_ms,
                anchor,
            }),
            verifier: self.crypto.verifier(),
            signer: self.crypto.signer(self.setup.operator),
            cut_off_round: CUT_OFF_ROUND,
        })
    }

    /// Handles one input at `now` (the node's clock, Unix ms) and pushes what it does.
    /// Inputs to a crashed node other than [`NodeInput::Restart`] are ignored.
    pub fn handle(&mut self, now: UnixMillis, input: NodeInput, out: &mut Vec<NodeOutput>) {
        match input {
            NodeInput::Crash => {
                self.up = false;
                self.instances.clear();
                self.early.clear();
            }
            NodeInput::Restart => {
                if self.up {
                    return;
                }
                self.up = true;
                for (key, data) in &self.persisted {
                    let Some(role) = self.chain.role_of(&key.0, key.1) else { continue };
                    let controller = Controller::from_data(self.config(role, key.1), data.clone());
                    self.instances.insert(*key, Running { controller, pending: Vec::new() });
                }
            }
            _ if !self.up => {}
            NodeInput::CommitteeDuty { .. }
            | NodeInput::Beacon { .. }
            | NodeInput::ProposerDuty { .. }
            | NodeInput::AggregatorDuty { .. }
            | NodeInput::ContributionDuty { .. }
            | NodeInput::RegistrationDuty { .. }
            | NodeInput::ExitDuty { .. } => {}
            NodeInput::Start { role, slot, value } => self.start(now, role, slot, value, out),
            NodeInput::Message(bytes) => self.receive(now, &bytes, out),
            NodeInput::Timeout => {
                let keys: Vec<InstanceKey> = self
                    .instances
                    .iter()
                    .filter(|(k, r)| running_deadline(k, r).is_some_and(|d| d <= now))
                    .map(|(k, _)| *k)
                    .collect();
                for key in keys {
                    let mut core_out = Vec::new();
                    if let Some(r) = self.instances.get_mut(&key)
                        && r.controller
                            .handle(now, ControllerInput::Timeout, &mut core_out)
                            .is_err()
                    {
                        self.stats.refused += 1;
                    }
                    self.emit(key, core_out, out);
                }
            }
        }
    }

    fn start(
        &mut self,
        now: UnixMillis,
        role: DutyRole,
        slot: Slot,
        value: Vec<u8>,
        out: &mut Vec<NodeOutput>,
    ) {
        let key = (self.chain.identifier(role), slot);
        if self.instances.contains_key(&key) {
            return;
        }
        let keep_from = slot.saturating_sub(RETAIN_SLOTS);
        self.instances.retain(|k, _| k.1 >= keep_from);
        self.early.retain(|k, _| k.1 >= keep_from);
        self.persisted.retain(|k, _| k.1 >= keep_from);
        let mut controller =
            Controller::new(self.config(role, slot), key.0.to_vec(), self.committee.clone());
        let mut core_out = Vec::new();
        if controller
            .handle(now, ControllerInput::Start { height: slot, value }, &mut core_out)
            .is_err()
        {
            self.stats.refused += 1;
        }
        self.instances.insert(key, Running { controller, pending: Vec::new() });
        self.emit(key, core_out, out);
        for msg in self.early.remove(&key).unwrap_or_default() {
            self.offer(now, key, msg, out);
        }
    }

    fn receive(&mut self, now: UnixMillis, bytes: &[u8], out: &mut Vec<NodeOutput>) {
        let Ok(signed) = SignedSsvMessage::from_ssz_bytes(bytes) else {
            self.stats.malformed += 1;
            return;
        };
        if signed.validate().is_err() {
            self.stats.malformed += 1;
            return;
        }
        let encoded = signed.ssv_message.as_ssz_bytes();
        let signatures_ok =
            signed.operator_ids.iter().zip(signed.signatures.iter()).all(|(id, sig)| {
                self.committee.operator(*id).is_some() && self.crypto.verify(*id, &encoded, sig)
            });
        if !signatures_ok || signed.operator_ids.len() != signed.signatures.len() {
            self.stats.bad_signature += 1;
            return;
        }
        let Ok(qbft) = signed.decode_qbft() else {
            self.stats.malformed += 1;
            return;
        };
        let key = (signed.ssv_message.msg_id.0, qbft.height);
        if self.instances.contains_key(&key) {
            self.offer(now, key, signed, out);
            return;
        }
        // Not started yet (the duty comes later here, or never): keep it for a while if
        // the instance could still start.
        let slot = self.slot_at(now);
        let plausible =
            key.1.saturating_add(RETAIN_SLOTS) >= slot && key.1 <= slot.saturating_add(1);
        if plausible && self.chain.role_of(&key.0, key.1).is_some() {
            let buffer = self.early.entry(key).or_default();
            if buffer.len() < EARLY_MAX {
                buffer.push(signed);
            }
        } else {
            self.stats.unroutable += 1;
        }
    }

    /// Offers `msg` to the instance; keeps it when it came too early and retries the kept
    /// ones while the instance makes progress.
    fn offer(
        &mut self,
        now: UnixMillis,
        key: InstanceKey,
        msg: SignedSsvMessage,
        out: &mut Vec<NodeOutput>,
    ) {
        let mut core_out = Vec::new();
        let Some(r) = self.instances.get_mut(&key) else { return };
        let mut progressed =
            offer_one(&mut r.controller, now, msg, &mut r.pending, &mut core_out, &mut self.stats);
        while progressed {
            progressed = false;
            for early in std::mem::take(&mut r.pending) {
                progressed |= offer_one(
                    &mut r.controller,
                    now,
                    early,
                    &mut r.pending,
                    &mut core_out,
                    &mut self.stats,
                );
            }
        }
        self.emit(key, core_out, out);
    }

    fn emit(&mut self, key: InstanceKey, core_out: Vec<Output>, out: &mut Vec<NodeOutput>) {
        for o in core_out {
            match o {
                Output::Broadcast(msg) => {
                    out.push(NodeOutput::Broadcast(Arc::new(msg.as_ssz_bytes())));
                }
                Output::TimerSet { .. } => {}
                Output::Decided(d) => {
                    if let Some(r) = self.instances.get(&key) {
                        self.persisted.insert(key, r.controller.data());
                    }
                    out.push(NodeOutput::Decided {
                        key,
                        round: d.round,
                        value: d.value,
                        commit: d.aggregated_commit.as_ssz_bytes(),
                    });
                }
            }
        }
    }
}

/// The round deadline of an undecided instance. The node stops a decided instance's round
/// timer (as the Go node does): round changes after a decision only add traffic.
fn running_deadline(key: &InstanceKey, r: &Running) -> Option<UnixMillis> {
    let decided = r.controller.instance(key.1).is_some_and(|i| i.state().decided);
    if decided { None } else { r.controller.poll_timeout() }
}

fn offer_one(
    c: &mut Controller,
    now: UnixMillis,
    msg: SignedSsvMessage,
    pending: &mut Vec<SignedSsvMessage>,
    out: &mut Vec<Output>,
    stats: &mut NodeStats,
) -> bool {
    match c.handle(now, ControllerInput::Message(msg.clone()), out) {
        Ok(()) => {
            stats.accepted += 1;
            true
        }
        Err(QbftError::NoProposalForCurrentRound | QbftError::WrongMessageRound) => {
            if pending.len() < PENDING_MAX {
                stats.retried += 1;
                pending.push(msg);
            }
            false
        }
        Err(_) => {
            stats.refused += 1;
            false
        }
    }
}
