//! Validator-level duties: one [`Validator`] router per share, with the proposer,
//! aggregator, sync-committee contribution, registration and voluntary-exit runners.
//!
//! # Timing (as the Go node)
//! Proposer, aggregator and contribution duties start at the start of their slot (the
//! pre-consensus signatures are exchanged at once); the aggregate and the contributions
//! are fetched at two thirds of the slot, or later once the node's committee submitted
//! the slot's attestations and sync messages (so the beacon node's pools hold them). Registrations run for every validator at the
//! first slot of the epoch after the driver started, and every [`REGISTRATION_EPOCHS`] epochs at the slot
//! `index mod (REGISTRATION_EPOCHS · slots per epoch)`. Exits run when asked through
//! [`DriverHandle::start_exit`], or [`EXIT_POSTPONE_SLOTS`] after the slot of a
//! `ValidatorExited` block ([`DriverHandle::exit_validator`]).
//!
//! # Validators added and removed while running
//! [`DriverHandle::add_validator`] loads a share the contract sync stored (its index from
//! the store or the beacon node), joins it to its committee (creating the committee when
//! new) and fetches its duties of the current and next epoch;
//! [`DriverHandle::remove_validator`] stops it and forgets its share (an emptied committee
//! is dropped). Messages find their validator through an index by validator public key.
//!
//! # Safety
//! A block is signed only after [`SlashingDatabase::check_and_insert_block`] accepted the
//! decided block's slot and signing root for the share key. Pre-consensus objects (RANDAO,
//! selection proofs, registrations, exits) are not slashable and are signed as asked.

use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use ssv_core::beacon::{AttestationData, Checkpoint, DataVersion, VersionedSignedBlock};
use ssv_core::crypto::bls::SecretKey;
use ssv_core::crypto::signing::BeaconDomainType;
use ssv_core::error::ErrorCode;
use ssv_core::qbft::{
    CUT_OFF_ROUND, CommitteeMember, Controller, QbftConfig, RoundRobinProposer, SlotAnchor,
    SlotRelativeTimeouts, ValueCheck, ValueCheckError,
};
use ssv_core::runner::{
    BeaconNetwork, Input, Output, Request, Response, SignRequest, SlashingProtection, Submission,
    Validator, ValidatorRunner, check_validator_consensus_data,
};
use ssv_core::slashing::{AttestationViolation, BlockToSign};
use ssv_core::types::{
    BeaconRole, BlsPublicKeyBytes, BlsSignatureBytes, Contribution, Contributions, MessageId,
    RunnerRole, Share, SignedSsvMessage, Slot, ValidatorConsensusData, ValidatorDuty,
    ValidatorIndex,
};
use ssz::{Decode, Encode};
use ssz_types::VariableList;
use std::collections::{BTreeMap, BTreeSet};

use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_core::types::{CommitteeId, OperatorId, ShareMember};
use tokio::sync::{mpsc, oneshot};
use tree_hash::TreeHash;

use super::{
    CachedRsaVerifier, CommitteeState, Driver, DriverContext, DutyContext, Event, RETRY_QUEUE_MAX,
    SharedRsaSigner, Target, committee_topic, hex_key, message_slot, now_ms, runner_factory,
};
use crate::beacon::{BeaconClient, Encoding, VersionedAttestation};
use crate::metrics::DutyLabels;
use crate::node::network::Topic;
use crate::slashing_protection::SlashingDatabase;
use crate::store::{NodeStore, ValidatorMetadata};

/// Slots after the slot of a `ValidatorExited` block at which the exit duty runs, so every
/// operator has seen the block (the Go node's `voluntaryExitSlotsToPostpone`).
pub const EXIT_POSTPONE_SLOTS: u64 = 4;

/// Registration period of each validator, in epochs (the Go node's
/// `validatorRegistrationEpochInterval`).
pub const REGISTRATION_EPOCHS: u64 = 10;

/// `TARGET_AGGREGATORS_PER_COMMITTEE` and `TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE`
/// (phase0 and altair validator guides).
const TARGET_AGGREGATORS: u64 = 16;

/// The answer to an aggregate request of an attester its selection proof did not select.
const NOT_AGGREGATOR: &str = "not an aggregator at this slot";

/// Failures that are part of normal operation: an attester not selected as aggregator,
/// and the answer to this operator's own pre-consensus signatures arriving after the
/// others' already made the quorum (the runner moved on to its next request).
fn is_routine(e: &ssv_core::runner::RunnerError) -> bool {
    use ssv_core::runner::RunnerError;
    matches!(e, RunnerError::Other(r) if r == NOT_AGGREGATOR || r == "response to no pending request")
}

/// Starts duties in a running driver from outside its task.
#[derive(Debug, Clone)]
pub struct DriverHandle {
    pub(super) tx: mpsc::UnboundedSender<Event>,
}

/// A change to the driver's validators, sent from outside its task.
pub enum ValidatorChange {
    /// Run the voluntary exit of the validator with this public key.
    Exit {
        /// The validator public key.
        public_key: BlsPublicKeyBytes,
        /// The beacon slot of the `ValidatorExited` block (`None`: now).
        block_slot: Option<Slot>,
    },
    /// Load the share of this validator from the store and run it.
    Add {
        /// The validator public key.
        public_key: BlsPublicKeyBytes,
        /// Answered with the validator's committee once it runs, or why not.
        done: Option<oneshot::Sender<Result<CommitteeId, String>>>,
    },
    /// A share loaded for [`ValidatorChange::Add`], to join its committee.
    Loaded(Box<LoadedShare>, Option<oneshot::Sender<Result<CommitteeId, String>>>),
    /// Stop the validator with this public key and forget its share.
    Remove {
        /// The validator public key.
        public_key: BlsPublicKeyBytes,
    },
}

impl std::fmt::Debug for ValidatorChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Shares hold secrets: name the validator only.
        match self {
            Self::Exit { public_key, .. } => write!(f, "Exit(0x{})", hex::encode(public_key)),
            Self::Add { public_key, .. } => write!(f, "Add(0x{})", hex::encode(public_key)),
            Self::Loaded(s, _) => write!(f, "Loaded({})", s.share.validator_index),
            Self::Remove { public_key } => write!(f, "Remove(0x{})", hex::encode(public_key)),
        }
    }
}

/// A share read from the store and decrypted, with its committee's operator keys (PEM).
pub struct LoadedShare {
    share: Share,
    secret: SecretKey,
    operators: Vec<(OperatorId, Vec<u8>)>,
}

impl DriverHandle {
    /// Runs the voluntary exit of the validator `public_key` at [`EXIT_POSTPONE_SLOTS`]
    /// after `block_slot` (the slot of the `ValidatorExited` block; `None`: now). Returns
    /// `false` when the driver has stopped.
    pub fn exit_validator(&self, public_key: BlsPublicKeyBytes, block_slot: Option<Slot>) -> bool {
        self.tx.send(Event::Validators(ValidatorChange::Exit { public_key, block_slot })).is_ok()
    }

    /// Loads the share of `public_key` (already in the store) and runs it; resolves to its
    /// committee once it runs.
    ///
    /// # Errors
    /// Why the share could not be loaded, or that the driver stopped.
    pub async fn add_validator(
        &self,
        public_key: BlsPublicKeyBytes,
    ) -> Result<CommitteeId, String> {
        let (tx, rx) = oneshot::channel();
        let change = ValidatorChange::Add { public_key, done: Some(tx) };
        self.tx.send(Event::Validators(change)).map_err(|_| "driver stopped".to_string())?;
        rx.await.map_err(|_| "driver stopped".to_string())?
    }

    /// Stops the validator `public_key` and forgets its share. Returns `false` when the
    /// driver has stopped.
    pub fn remove_validator(&self, public_key: BlsPublicKeyBytes) -> bool {
        self.tx.send(Event::Validators(ValidatorChange::Remove { public_key })).is_ok()
    }

    /// Hands the driver the highest decided height per committee instance (QBFT
    /// identifier) after a decided-history restore that ran while it runs (the restore
    /// after a cut-off, [`crate::p2p_transport::NodeNetwork::watch_cut_off`]): a committee
    /// whose height is above the driver's starts no instance at or below it, as with the
    /// heights [`Driver::new`] reads from the store. Lower heights and instances of no
    /// committee of ours are ignored. Returns `false` when the driver has stopped.
    pub fn restored_heights(&self, heights: BTreeMap<MessageId, Slot>) -> bool {
        self.tx.send(Event::RestoredHeights(heights)).is_ok()
    }

    /// Starts a voluntary exit of `validator` at the current slot (in production the
    /// contract's `ValidatorExited` event asks for it). Returns `false` when the driver
    /// has stopped.
    pub fn start_exit(&self, validator: ValidatorIndex) -> bool {
        self.tx.send(Event::StartExit { validator }).is_ok()
    }
}

/// The slashing lookup of the value checks, over the node's slashing database (read
/// transactions only; the atomic check-and-insert happens before each signature).
#[derive(Debug, Clone)]
pub struct DbProtection(pub Arc<SlashingDatabase>);

impl SlashingProtection for DbProtection {
    fn check_attestation(
        &self,
        share_pub_key: &BlsPublicKeyBytes,
        data: &AttestationData,
    ) -> Result<(), ValueCheckError> {
        let (source, target) = (data.source.epoch, data.target.epoch);
        let r = match self.0.is_attestation_slashable(share_pub_key, source, target, None) {
            Ok(None) => Ok(()),
            // The value has no signing root yet: a record with the same source and target
            // may be this very vote (or belong to a validator with only a sync duty in the
            // slot); the check-and-insert at signing compares the roots.
            Ok(Some(AttestationViolation::DoubleVote { existing }))
                if existing.source_epoch == source =>
            {
                Ok(())
            }
            Ok(Some(v)) => Err(ValueCheckError {
                code: Some(ErrorCode::SlashableAttestation),
                reason: format!("slashable attestation: {v}"),
            }),
            Err(e) => Err(ValueCheckError { code: None, reason: e.to_string() }),
        };
        crate::trace::tap_protection(&r);
        r
    }

    fn check_block(
        &self,
        share_pub_key: &BlsPublicKeyBytes,
        slot: Slot,
    ) -> Result<(), ValueCheckError> {
        let r = match self.0.is_block_slashable(share_pub_key, slot, None) {
            Ok(None) => Ok(()),
            Ok(Some(v)) => {
                Err(ValueCheckError { code: None, reason: format!("slashable proposal: {v}") })
            }
            Err(e) => Err(ValueCheckError { code: None, reason: e.to_string() }),
        };
        crate::trace::tap_protection(&r);
        r
    }
}

/// `check_validator_consensus_data` with the current epoch read from the clock when the
/// value is checked (the runner's configuration lives across duties).
struct LiveValueCheck {
    role: BeaconRole,
    network: Arc<BeaconNetwork>,
    validator_pub_key: BlsPublicKeyBytes,
    validator_index: ValidatorIndex,
    share_pub_key: BlsPublicKeyBytes,
    protection: DbProtection,
}

impl ValueCheck for LiveValueCheck {
    fn check(&self, value: &[u8]) -> Result<(), ValueCheckError> {
        let epoch = self.network.epoch_at(now_ms());
        check_validator_consensus_data(
            value,
            self.role,
            &self.network,
            epoch,
            &self.validator_pub_key,
            self.validator_index,
            &self.share_pub_key,
            &self.protection,
        )
    }
}

/// One validator whose share the node holds.
pub(super) struct ValidatorState {
    pub(super) validator: Validator,
    topic: Topic,
    secret: Arc<SecretKey>,
    pub(super) retry: VecDeque<(Slot, SignedSsvMessage)>,
    /// The slot and signing root source of the last decided proposal.
    decided_block_slot: Option<Slot>,
}

/// The validator router of `share` with its five runners.
pub(super) fn build_validator(
    ctx: &DriverContext,
    member: &CommitteeMember,
    share: Share,
    secret: SecretKey,
    topic: Topic,
    verifier: &CachedRsaVerifier,
) -> ValidatorState {
    let runners = [
        RunnerRole::Proposer,
        RunnerRole::Aggregator,
        RunnerRole::SyncCommitteeContribution,
        RunnerRole::ValidatorRegistration,
        RunnerRole::VoluntaryExit,
    ]
    .into_iter()
    .map(|role| {
        let (beacon_role, anchor) = match role {
            RunnerRole::Proposer => (BeaconRole::Proposer, SlotAnchor::Relative),
            RunnerRole::Aggregator => (BeaconRole::Aggregator, SlotAnchor::TwoThirds),
            RunnerRole::SyncCommitteeContribution => {
                (BeaconRole::SyncCommitteeContribution, SlotAnchor::TwoThirds)
            }
            RunnerRole::ValidatorRegistration => {
                (BeaconRole::ValidatorRegistration, SlotAnchor::Relative)
            }
            _ => (BeaconRole::VoluntaryExit, SlotAnchor::Relative),
        };
        let config = Arc::new(QbftConfig {
            proposer: Box::new(RoundRobinProposer),
            value_check: Box::new(LiveValueCheck {
                role: beacon_role,
                network: Arc::clone(&ctx.network),
                validator_pub_key: share.validator_pub_key,
                validator_index: share.validator_index,
                share_pub_key: share.share_pub_key,
                protection: DbProtection(Arc::clone(&ctx.slashing)),
            }),
            timeouts: Box::new(SlotRelativeTimeouts {
                genesis_ms: ctx.network.genesis_ms,
                slot_ms: ctx.network.slot_ms,
                anchor,
            }),
            verifier: Box::new(verifier.clone()),
            signer: Box::new(SharedRsaSigner(Arc::clone(&ctx.operator_key))),
            cut_off_round: CUT_OFF_ROUND,
        });
        let controller = role.has_consensus().then(|| {
            let id = MessageId::for_validator(ctx.domain_type, role, &share.validator_pub_key);
            Controller::new(Arc::clone(&config), id.0.to_vec(), member.clone())
        });
        ValidatorRunner::new(
            role,
            Arc::clone(&ctx.network),
            share.clone(),
            ctx.operator_id,
            controller,
            config,
        )
    })
    .collect();
    ValidatorState {
        validator: Validator::new(member.clone(), share, runners, Box::new(verifier.clone())),
        topic,
        secret: Arc::new(secret),
        retry: VecDeque::new(),
        decided_block_slot: None,
    }
}

/// `is_aggregator` (phase0 validator guide): the first 8 bytes of `SHA-256(proof)`,
/// little-endian, are a multiple of `max(1, len / 16)`.
pub fn is_aggregator(committee_len: u64, selection_proof: &BlsSignatureBytes) -> bool {
    let modulo = (committee_len / TARGET_AGGREGATORS).max(1);
    let digest: [u8; 32] = Sha256::digest(selection_proof).into();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    u64::from_le_bytes(first).is_multiple_of(modulo)
}

/// A base duty of `role` for `share`'s validator at `slot`.
pub(super) fn duty(role: BeaconRole, share: &Share, slot: Slot) -> ValidatorDuty {
    ValidatorDuty {
        role: role as u64,
        pub_key: share.validator_pub_key,
        slot,
        validator_index: share.validator_index,
        committee_index: 0,
        committee_length: 0,
        committees_at_slot: 0,
        validator_committee_index: 0,
        validator_sync_committee_indices: VariableList::empty(),
    }
}

impl Driver {
    /// Sets the `builder_boost_factor` of block production (Beacon API
    /// `produceBlockV3`: 0 asks for a local block, 100 compares builder and local payloads
    /// evenly, above 100 favours the builder; `None` leaves it to the beacon node). The
    /// beacon node then returns a full or a blinded block, and the driver publishes it on
    /// the matching route.
    #[must_use]
    pub fn with_builder_boost_factor(mut self, factor: Option<u64>) -> Self {
        self.builder_boost_factor = factor;
        self
    }

    /// A handle that starts duties (exits) in this driver once it runs.
    pub fn handle(&self) -> DriverHandle {
        DriverHandle { tx: self.events_tx.clone() }
    }

    /// Queues `duty` to start at its slot (now if its slot has begun).
    pub(super) fn add_validator_duty(&mut self, duty: ValidatorDuty) {
        let now_slot = self.ctx.network.slot_at(now_ms());
        if duty.slot < now_slot || !self.vals.contains_key(&duty.validator_index) {
            return;
        }
        if duty.slot == now_slot && self.started_slot >= Some(now_slot) {
            // The slot's duties already started: start this one now.
            let validator = duty.validator_index;
            self.feed_validator(
                validator,
                Input::StartDuty(ssv_core::runner::Duty::Validator(duty)),
            );
            return;
        }
        self.validator_duties
            .entry(duty.slot)
            .or_default()
            .insert((duty.validator_index, duty.role), duty);
    }

    /// Starts the queued validator duties of `slot`, plus the registrations due then.
    pub(super) fn start_validator_duties(&mut self, slot: Slot) {
        let net = Arc::clone(&self.ctx.network);
        let period = REGISTRATION_EPOCHS.saturating_mul(net.slots_per_epoch).max(1);
        // Start-up registrations at the next epoch's first slot: operators started within
        // the same epoch then register at the same slot (the signed object carries it).
        let startup = *self
            .startup_registration
            .get_or_insert_with(|| net.first_slot(net.epoch_at_slot(slot).saturating_add(1)));
        let mut due: Vec<ValidatorDuty> = Vec::new();
        for v in self.vals.values() {
            let share = &v.validator.share;
            if slot == startup || share.validator_index % period == slot % period {
                due.push(duty(BeaconRole::ValidatorRegistration, share, slot));
            }
        }
        if let Some(queued) = self.validator_duties.remove(&slot) {
            due.extend(queued.into_values());
        }
        for d in due {
            let validator = d.validator_index;
            tracing::debug!(
                operator = self.ctx.operator_id,
                validator,
                slot,
                role = d.role,
                "validator duty started"
            );
            self.feed_validator(validator, Input::StartDuty(ssv_core::runner::Duty::Validator(d)));
        }
    }

    /// Starts a voluntary exit of `validator` at the current slot.
    pub(super) fn start_exit(&mut self, validator: ValidatorIndex) {
        let Some(v) = self.vals.get(&validator) else {
            tracing::warn!(validator, "exit asked for a validator without a share here");
            return;
        };
        let slot = self.ctx.network.slot_at(now_ms());
        let d = duty(BeaconRole::VoluntaryExit, &v.validator.share, slot);
        tracing::info!(validator, slot, "voluntary exit started");
        self.feed_validator(validator, Input::StartDuty(ssv_core::runner::Duty::Validator(d)));
    }

    /// Handles `input` for a validator and what it leads to inline, then retries early
    /// messages while any is accepted.
    pub(super) fn feed_validator(&mut self, vi: ValidatorIndex, input: Input) {
        let mut queue = VecDeque::from([input]);
        let mut accepted_any = false;
        while let Some(input) = queue.pop_front() {
            let retry_copy = match &input {
                Input::Message(m) => Some(m.clone()),
                _ => None,
            };
            let probe = super::observe::Probe::of(&input);
            let now = now_ms();
            let (res, out) = {
                let Some(v) = self.vals.get_mut(&vi) else { return };
                let mut out = Vec::new();
                let core = ssv_core::trace::CoreRef::Validator(vi);
                let traced = self.trace.as_ref().map(|t| t.begin(core, now, &input));
                let res = v.validator.handle(now, input, &mut out);
                if let (Some(t), Some(p)) = (self.trace.as_mut(), traced) {
                    t.finish(p, &res, &out);
                }
                (res, out)
            };
            self.observer.handled(probe, "unknown", res.is_ok(), &out, now);
            match res {
                Ok(()) => accepted_any = true,
                Err(e) => {
                    let now_slot = self.ctx.network.slot_at(now_ms());
                    let Some(v) = self.vals.get_mut(&vi) else { return };
                    match retry_copy {
                        Some(m) if super::is_early(&e) => {
                            let slot = message_slot(&m).unwrap_or(0);
                            if slot.saturating_add(1) >= now_slot && v.retry.len() < RETRY_QUEUE_MAX
                            {
                                v.retry.push_back((slot, m));
                            }
                        }
                        Some(_) => tracing::trace!(error = %e, "validator message rejected"),
                        None if is_routine(&e) => tracing::debug!(
                            operator = self.ctx.operator_id,
                            validator = vi,
                            error = %e,
                            "validator duty stopped"
                        ),
                        None => tracing::warn!(
                            operator = self.ctx.operator_id,
                            validator = vi,
                            error = %e,
                            "validator input failed"
                        ),
                    }
                }
            }
            self.execute_validator(vi, out, &mut queue);
            if queue.is_empty() && accepted_any {
                accepted_any = false;
                if let Some(v) = self.vals.get_mut(&vi) {
                    queue.extend(v.retry.drain(..).map(|(_, m)| Input::Message(m)));
                }
            }
        }
    }

    fn execute_validator(
        &mut self,
        vi: ValidatorIndex,
        out: Vec<Output>,
        queue: &mut VecDeque<Input>,
    ) {
        for o in out {
            let Some(v) = self.vals.get_mut(&vi) else { return };
            match o {
                Output::Qbft(ssv_core::qbft::Output::Broadcast(m)) | Output::Broadcast(m) => {
                    let data: Arc<[u8]> = Arc::from(m.as_ssz_bytes());
                    if let Err(e) = self.ctx.transport.broadcast(v.topic, data) {
                        tracing::warn!(error = %e, "broadcast failed");
                    }
                    queue.push_back(Input::Message(m));
                }
                Output::Qbft(ssv_core::qbft::Output::TimerSet { .. }) => {}
                Output::Qbft(ssv_core::qbft::Output::Decided(d)) => {
                    if let Ok(cd) = ValidatorConsensusData::from_ssz_bytes(&d.value)
                        && cd.duty.role == BeaconRole::Proposer as u64
                        && let Ok(block) = cd.block_data()
                    {
                        v.decided_block_slot = Some(block.slot());
                    }
                }
                Output::Request { id, request: Request::Sign(items) } => {
                    let slashing = Arc::clone(&self.ctx.slashing);
                    let secret = Arc::clone(&v.secret);
                    let share_pk = v.validator.share.share_pub_key;
                    let block_slot = v.decided_block_slot;
                    let metrics = self.ctx.metrics.clone();
                    let tx = self.events_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let response =
                            sign_validator(&slashing, &secret, &share_pk, block_slot, &items);
                        if let Response::Failed(reason) = &response {
                            tracing::error!(%reason, "signing refused");
                            metrics
                                .duties
                                .get_or_create(&DutyLabels {
                                    role: "validator".into(),
                                    outcome: "slashing_refused".into(),
                                })
                                .inc();
                        }
                        let _ = tx.send(Event::Response {
                            target: Target::Validator(vi),
                            id,
                            response,
                        });
                    });
                }
                Output::Request { id, request: Request::IsSyncCommitteeAggregator(proofs) } => {
                    let modulo = self.ctx.network.sync_subcommittee_size / TARGET_AGGREGATORS;
                    let flags = proofs
                        .iter()
                        .map(|p| is_aggregator(modulo.saturating_mul(TARGET_AGGREGATORS), p))
                        .collect();
                    queue.push_front(Input::Response { id, response: Response::Flags(flags) });
                }
                Output::Request {
                    id,
                    request: Request::AggregateAndProof { committee_length, selection_proof, .. },
                } if !is_aggregator(committee_length, &selection_proof) => {
                    queue.push_front(Input::Response {
                        id,
                        response: Response::Failed(NOT_AGGREGATOR.into()),
                    });
                }
                Output::Request {
                    id,
                    request:
                        request @ (Request::AggregateAndProof { .. }
                        | Request::SyncCommitteeContributions { .. }),
                } => {
                    // Fetched at two thirds of the slot, when the pools hold the slot's
                    // attestations and sync messages.
                    let slot = request.slot().unwrap_or_default();
                    let at = self.ctx.network.slot_start(slot) + self.ctx.network.slot_ms * 2 / 3;
                    let tx = self.events_tx.clone();
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_millis(at.saturating_sub(now_ms())))
                            .await;
                        let _ = tx.send(Event::Deferred { validator: vi, id, request });
                    });
                }
                Output::Request {
                    id,
                    request: Request::Proposal { slot, graffiti, randao_reveal },
                } => {
                    let beacon = Arc::clone(&self.ctx.beacon);
                    let tx = self.events_tx.clone();
                    let boost = self.builder_boost_factor;
                    tokio::spawn(async move {
                        let response = match beacon
                            .produce_block_v3(
                                slot,
                                &randao_reveal,
                                &graffiti,
                                boost,
                                Encoding::Json,
                            )
                            .await
                        {
                            Ok(p) => Response::ConsensusData {
                                version: p.block.version().as_u64(),
                                data_ssz: p.block.to_ssz(),
                            },
                            Err(e) => Response::Failed(e.to_string()),
                        };
                        let _ = tx.send(Event::Response {
                            target: Target::Validator(vi),
                            id,
                            response,
                        });
                    });
                }
                Output::Request { id, request } => {
                    tracing::warn!(?request, "request a validator runner does not make");
                    queue.push_front(Input::Response {
                        id,
                        response: Response::Failed("unexpected request".into()),
                    });
                }
                Output::Submit(s) => super::spawn_submit(&self.ctx, vec![s], "validator", None),
            }
        }
    }

    /// Serves an aggregate or contributions request at two thirds of its slot, from the
    /// committee's decided vote of the slot when there is one (what was attested and
    /// synced), else from the beacon node's attestation data.
    pub(super) fn serve_deferred(&mut self, vi: ValidatorIndex, id: u64, request: Request) {
        let net = Arc::clone(&self.ctx.network);
        // The pools hold the slot's attestations and sync messages once the committee
        // submitted them; wait for that (a slow committee) until a third into the next slot.
        let slot = match &request {
            Request::AggregateAndProof { slot, .. }
            | Request::SyncCommitteeContributions { slot, .. } => *slot,
            _ => 0,
        };
        let submitted = self
            .validators
            .get(&vi)
            .and_then(|cid| self.committees.get(cid))
            .is_some_and(|c| c.submitted.contains(&slot));
        let give_up = net.slot_start(slot.saturating_add(1)).saturating_add(net.slot_ms / 3);
        if !submitted && now_ms() < give_up {
            let tx = self.events_tx.clone();
            let step = (net.slot_ms / 20).max(1);
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(step)).await;
                let _ = tx.send(Event::Deferred { validator: vi, id, request });
            });
            return;
        }
        let beacon = Arc::clone(&self.ctx.beacon);
        let tx = self.events_tx.clone();
        let vote = |slot: Slot| {
            self.validators
                .get(&vi)
                .and_then(|cid| self.committees.get(cid))
                .and_then(|c| c.decided_votes.get(&slot).copied())
        };
        match request {
            Request::AggregateAndProof {
                slot,
                committee_index,
                validator_index,
                selection_proof,
                ..
            } => {
                let version = net.data_version(net.epoch_at_slot(slot));
                let decided = vote(slot).map(|v| AttestationData {
                    slot,
                    index: if version >= DataVersion::Electra { 0 } else { committee_index },
                    beacon_block_root: v.block_root,
                    source: Checkpoint { ..v.source },
                    target: v.target,
                });
                tokio::spawn(async move {
                    let response = aggregate(
                        &beacon,
                        version,
                        decided,
                        slot,
                        committee_index,
                        validator_index,
                        selection_proof,
                    )
                    .await
                    .unwrap_or_else(Response::Failed);
                    let _ =
                        tx.send(Event::Response { target: Target::Validator(vi), id, response });
                });
            }
            Request::SyncCommitteeContributions { slot, selection_proofs, subnets } => {
                let version = net.data_version(net.epoch_at_slot(slot));
                let root = vote(slot).map(|v| v.block_root);
                tokio::spawn(async move {
                    let response =
                        contributions(&beacon, version, root, slot, &selection_proofs, &subnets)
                            .await
                            .unwrap_or_else(Response::Failed);
                    let _ =
                        tx.send(Event::Response { target: Target::Validator(vi), id, response });
                });
            }
            _ => {}
        }
    }

    /// Routes a validator-role message to its validator.
    pub(super) fn on_validator_message(&mut self, msg: SignedSsvMessage) {
        let id = msg.ssv_message.msg_id;
        // A validator message id ends with the validator public key (`MessageID`: domain,
        // role, then the 48-byte key).
        let vi =
            id.0.get(id.0.len().saturating_sub(48)..)
                .and_then(|k| <BlsPublicKeyBytes>::try_from(k).ok())
                .and_then(|k| self.val_by_key.get(&k).copied())
                .filter(|vi| {
                    self.vals.get(vi).is_some_and(|v| {
                        id.belongs_to_validator(&v.validator.share.validator_pub_key)
                    })
                });
        if let Some(vi) = vi {
            self.feed_validator(vi, Input::Message(msg));
        }
    }

    /// Feeds timeouts to the validators whose deadline passed.
    pub(super) fn on_validator_timeouts(&mut self) {
        let now = now_ms();
        let due: Vec<ValidatorIndex> = self
            .vals
            .iter()
            .filter(|(_, v)| v.validator.poll_timeout().is_some_and(|t| t <= now))
            .map(|(i, _)| *i)
            .collect();
        for vi in due {
            self.feed_validator(vi, Input::Timeout);
        }
    }

    /// Forgets early messages of past slots.
    pub(super) fn prune_validators(&mut self, slot: Slot) {
        for v in self.vals.values_mut() {
            v.retry.retain(|(s, _)| s.saturating_add(1) >= slot);
        }
        self.validator_duties.retain(|s, _| *s >= slot);
    }
}

/// The aggregate-and-proof of `validator_index` for the slot's attestation data.
async fn aggregate(
    beacon: &BeaconClient,
    version: DataVersion,
    decided: Option<AttestationData>,
    slot: Slot,
    committee_index: u64,
    validator_index: ValidatorIndex,
    selection_proof: BlsSignatureBytes,
) -> Result<Response, String> {
    let data = match decided {
        Some(d) => d,
        None => beacon.attestation_data(slot, committee_index).await.map_err(|e| e.to_string())?,
    };
    let root = data.tree_hash_root().0;
    let att = beacon
        .aggregate_attestation(slot, &root, committee_index)
        .await
        .map_err(|e| e.to_string())?;
    let data_ssz = match att {
        VersionedAttestation::Phase0(aggregate) => ssv_core::beacon::phase0::AggregateAndProof {
            aggregator_index: validator_index,
            aggregate,
            selection_proof,
        }
        .as_ssz_bytes(),
        VersionedAttestation::Electra(aggregate) => ssv_core::beacon::electra::AggregateAndProof {
            aggregator_index: validator_index,
            aggregate,
            selection_proof,
        }
        .as_ssz_bytes(),
    };
    Ok(Response::ConsensusData { version: version.as_u64(), data_ssz })
}

/// The contributions of the selected subnets for the slot's head.
async fn contributions(
    beacon: &BeaconClient,
    version: DataVersion,
    root: Option<[u8; 32]>,
    slot: Slot,
    proofs: &[BlsSignatureBytes],
    subnets: &[u64],
) -> Result<Response, String> {
    let root = match root {
        Some(r) => r,
        None => {
            beacon.attestation_data(slot, 0).await.map_err(|e| e.to_string())?.beacon_block_root
        }
    };
    let mut list = Vec::new();
    for (proof, subnet) in proofs.iter().zip(subnets) {
        match beacon.sync_committee_contribution(slot, *subnet, &root).await {
            Ok(contribution) => {
                list.push(Contribution { selection_proof_sig: *proof, contribution });
            }
            Err(e) => tracing::warn!(slot, subnet, error = %e, "no contribution"),
        }
    }
    if list.is_empty() {
        return Err("no contribution for any selected subnet".into());
    }
    let list = VariableList::new(list).map_err(|_| "too many contributions".to_string())?;
    Ok(Response::ConsensusData {
        version: version.as_u64(),
        data_ssz: Contributions(list).as_ssz_bytes(),
    })
}

/// Signs `items` with the validator's share secret; a block only after the slashing
/// database accepted its slot (from the decided block) and signing root.
fn sign_validator(
    slashing: &SlashingDatabase,
    secret: &SecretKey,
    share_pk: &BlsPublicKeyBytes,
    block_slot: Option<Slot>,
    items: &[SignRequest],
) -> Response {
    let mut sigs = Vec::with_capacity(items.len());
    for item in items {
        if item.share_pub_key != *share_pk {
            return Response::Failed("no secret for the share key".into());
        }
        if item.domain_type == BeaconDomainType::BEACON_PROPOSER {
            let Some(slot) = block_slot else {
                return Response::Failed("block to sign without a decided block".into());
            };
            let block = BlockToSign { slot, signing_root: item.signing_root };
            if let Err(e) = slashing.check_and_insert_block(share_pk, &block) {
                return Response::Failed(format!(
                    "slashing protection refused validator {}: {e}",
                    item.validator_index
                ));
            }
        } else if item.domain_type == BeaconDomainType::BEACON_ATTESTER {
            return Response::Failed("attestations are signed by the committee runner".into());
        }
        sigs.push(secret.sign(&item.signing_root).to_bytes());
    }
    Response::all_signed(sigs)
}

/// Publishes a signed block on its route (full or blinded).
pub(super) async fn publish(
    beacon: &BeaconClient,
    block: VersionedSignedBlock,
) -> Result<(), String> {
    use VersionedSignedBlock as S;
    let version = block.version();
    let enc = Encoding::Json;
    let res = match &block {
        S::Capella(b) => beacon.publish_block(version, b, enc).await,
        S::CapellaBlinded(b) => beacon.publish_blinded_block(version, b, enc).await,
        S::Deneb(b) => beacon.publish_block(version, b, enc).await,
        S::DenebBlinded(b) => beacon.publish_blinded_block(version, b, enc).await,
        S::Electra(b) => beacon.publish_block(version, b, enc).await,
        S::ElectraBlinded(b) => beacon.publish_blinded_block(version, b, enc).await,
        S::Fulu(b) => beacon.publish_block(version, b, enc).await,
        S::FuluBlinded(b) => beacon.publish_blinded_block(version, b, enc).await,
    };
    res.map_err(|e| e.to_string())
}

/// Submits a validator-level object.
pub(super) async fn submit_validator(
    beacon: &BeaconClient,
    net: &BeaconNetwork,
    s: &Submission,
) -> Result<(), String> {
    let res = match s {
        Submission::Block { block, signature } => {
            return publish(beacon, (**block).clone().into_signed(*signature)).await;
        }
        Submission::AggregateAndProof(a) => {
            let version = net.data_version(net.epoch_at_slot(a.message.aggregate.data.slot));
            beacon.submit_aggregate_and_proofs(version, std::slice::from_ref(&**a)).await
        }
        Submission::ElectraAggregateAndProof(a) => {
            let version = net.data_version(net.epoch_at_slot(a.message.aggregate.data.slot));
            beacon.submit_aggregate_and_proofs(version, std::slice::from_ref(&**a)).await
        }
        Submission::ContributionAndProof(c) => {
            beacon.submit_contribution_and_proofs(std::slice::from_ref(&**c)).await
        }
        Submission::ValidatorRegistration(r) => {
            beacon.register_validators(std::slice::from_ref(r)).await
        }
        Submission::VoluntaryExit(e) => beacon.submit_voluntary_exit(e).await,
        other => {
            return Err(format!("not a validator submission: {:?}", std::mem::discriminant(other)));
        }
    };
    res.map_err(|e| e.to_string())
}

impl Driver {
    /// Raises the committees' highest decided heights to the restored ones
    /// ([`DriverHandle::restored_heights`]). An instance already running at or below its
    /// restored height is left to finish (the core has no way to drop it).
    pub(super) fn on_restored_heights(&mut self, heights: &BTreeMap<MessageId, Slot>) {
        for c in self.committees.values_mut() {
            let Some(&restored) = heights.get(&MessageId(c.executor)) else { continue };
            if c.highest_decided.is_none_or(|h| restored > h) {
                tracing::info!(
                    before = ?c.highest_decided,
                    restored,
                    "committee height raised by a decided-history restore"
                );
                c.highest_decided = Some(restored);
            }
        }
    }

    /// Applies a change sent through the [`DriverHandle`].
    pub(super) fn on_validator_change(&mut self, change: ValidatorChange) {
        match change {
            ValidatorChange::Exit { public_key, block_slot } => {
                let Some(vi) = self.val_by_key.get(&public_key).copied() else {
                    tracing::warn!(validator = %hex::encode(public_key), "exit of a validator without a share here");
                    return;
                };
                let now_slot = self.ctx.network.slot_at(now_ms());
                let slot = block_slot.unwrap_or(now_slot).saturating_add(EXIT_POSTPONE_SLOTS);
                let Some(v) = self.vals.get(&vi) else { return };
                let d = duty(BeaconRole::VoluntaryExit, &v.validator.share, slot.max(now_slot));
                tracing::info!(validator = vi, slot = d.slot, "voluntary exit scheduled");
                self.add_validator_duty(d);
            }
            ValidatorChange::Add { public_key, done } => {
                let store = Arc::clone(&self.ctx.store);
                let beacon = Arc::clone(&self.ctx.beacon);
                let key = Arc::clone(&self.ctx.operator_key);
                let domain_type = self.ctx.domain_type;
                let tx = self.events_tx.clone();
                tokio::spawn(async move {
                    match load_share(&store, &beacon, &key, domain_type, &public_key).await {
                        Ok(loaded) => {
                            let change = ValidatorChange::Loaded(Box::new(loaded), done);
                            let _ = tx.send(Event::Validators(change));
                        }
                        Err(e) => {
                            tracing::warn!(validator = %hex::encode(public_key), error = %e, "share not loaded");
                            if let Some(done) = done {
                                let _ = done.send(Err(e));
                            }
                        }
                    }
                });
            }
            ValidatorChange::Loaded(loaded, done) => {
                let result = self.add_share(*loaded);
                if let Some(done) = done {
                    let _ = done.send(result);
                }
            }
            ValidatorChange::Remove { public_key } => self.remove_share(&public_key),
        }
    }

    /// Joins a loaded share to its committee (created when new) and fetches its duties.
    fn add_share(&mut self, loaded: LoadedShare) -> Result<CommitteeId, String> {
        let LoadedShare { share, secret, operators } = loaded;
        let vi = share.validator_index;
        let ids: Vec<OperatorId> = operators.iter().map(|(id, _)| *id).collect();
        let cid = CommitteeId::from_operators(&ids);
        if self.vals.contains_key(&vi) {
            return Ok(cid);
        }
        let verifier = CachedRsaVerifier::default();
        let member = match self.committees.get(&cid) {
            Some(c) => c.committee.member.clone(),
            None => {
                let key_of = |id: &OperatorId| {
                    operators.iter().find(|(o, _)| o == id).map(|(_, k)| k.clone())
                };
                let member = CommitteeMember {
                    operator_id: self.ctx.operator_id,
                    committee_id: cid.0,
                    public_key: key_of(&self.ctx.operator_id).unwrap_or_default(),
                    faulty_nodes: (ids.len() as u64).saturating_sub(1) / 3,
                    committee: ids
                        .iter()
                        .map(|id| ssv_core::qbft::Operator {
                            operator_id: *id,
                            public_key: key_of(id).unwrap_or_default(),
                        })
                        .collect(),
                    domain_type: self.ctx.domain_type,
                };
                let executor =
                    MessageId::for_committee(self.ctx.domain_type, RunnerRole::Committee, &cid.0).0;
                let duty_context = Arc::new(std::sync::Mutex::new(DutyContext::default()));
                let create = runner_factory(&self.ctx, &member, executor, &duty_context, &verifier);
                let committee = ssv_core::runner::Committee::new(
                    member.clone(),
                    BTreeMap::new(),
                    create,
                    Box::new(verifier.clone()),
                );
                let highest = self.ctx.store.all_highest_decided().ok();
                self.committees.insert(
                    cid,
                    CommitteeState {
                        committee,
                        topic: committee_topic(&cid),
                        executor,
                        duty_context,
                        secrets: Arc::new(BTreeMap::new()),
                        retry: VecDeque::new(),
                        highest_decided: highest.and_then(|h| h.get(&executor).copied()),
                        decided_votes: BTreeMap::new(),
                        submitted: BTreeSet::new(),
                    },
                );
                member
            }
        };
        let state = build_validator(
            &self.ctx,
            &member,
            share.clone(),
            secret.clone(),
            committee_topic(&cid),
            &verifier,
        );
        if let Some(c) = self.committees.get_mut(&cid) {
            c.committee.shares.insert(vi, share.clone());
            let mut secrets = (*c.secrets).clone();
            secrets.insert(share.share_pub_key, secret);
            c.secrets = Arc::new(secrets);
        }
        self.vals.insert(vi, state);
        self.val_by_key.insert(share.validator_pub_key, vi);
        self.validators.insert(vi, cid);
        tracing::info!(validator = vi, committee = %hex::encode(cid.0), "validator added");
        self.fetch_duties_of(vi);
        Ok(cid)
    }

    /// Fetches the duties of one (new) validator for the current and next epoch.
    fn fetch_duties_of(&mut self, vi: ValidatorIndex) {
        let net = Arc::clone(&self.ctx.network);
        let epoch = net.epoch_at(now_ms());
        for e in [epoch, epoch.saturating_add(1)] {
            let beacon = Arc::clone(&self.ctx.beacon);
            let tx = self.events_tx.clone();
            tokio::spawn(async move {
                let attester = beacon.attester_duties(e, &[vi]).await;
                let sync = beacon.sync_duties(e, &[vi]).await;
                if let (Ok(a), Ok(s)) = (attester, sync) {
                    let _ = tx.send(Event::Duties { epoch: e, attester: a.data, sync: s.data });
                } else {
                    tracing::warn!(
                        validator = vi,
                        epoch = e,
                        "duties of a new validator not fetched"
                    );
                }
                if let Ok(p) = beacon.proposer_duties(e).await {
                    let duties = p.data.into_iter().filter(|d| d.validator_index == vi).collect();
                    let _ = tx.send(Event::ProposerDuties { duties });
                }
            });
        }
    }

    /// Stops validator `public_key` and forgets its share; drops an emptied committee.
    fn remove_share(&mut self, public_key: &BlsPublicKeyBytes) {
        let Some(vi) = self.val_by_key.remove(public_key) else { return };
        self.vals.remove(&vi);
        for duties in self.validator_duties.values_mut() {
            duties.retain(|(v, _), _| *v != vi);
        }
        for duties in self.duties.values_mut() {
            duties.retain(|d| d.validator_index != vi);
        }
        if let Some(cid) = self.validators.remove(&vi)
            && let Some(c) = self.committees.get_mut(&cid)
        {
            if let Some(share) = c.committee.shares.remove(&vi) {
                let mut secrets = (*c.secrets).clone();
                secrets.remove(&share.share_pub_key);
                c.secrets = Arc::new(secrets);
            }
            if c.committee.shares.is_empty() {
                self.committees.remove(&cid);
            }
        }
        tracing::info!(validator = vi, "validator removed");
    }
}

/// Reads the share of `public_key` from the store, decrypts it, finds its validator index
/// (stored metadata, else the beacon node, then stored) and its committee's operator keys.
async fn load_share(
    store: &NodeStore,
    beacon: &BeaconClient,
    key: &OperatorPrivateKey,
    domain_type: ssv_core::types::DomainType,
    public_key: &BlsPublicKeyBytes,
) -> Result<LoadedShare, String> {
    let hex_pk = format!("0x{}", hex::encode(public_key));
    let record = store
        .shares()
        .map_err(|e| e.to_string())?
        .into_iter()
        .find(|r| hex_key(&r.validator_pubkey).as_ref() == Some(public_key))
        .ok_or_else(|| "no share in the store".to_string())?;
    if record.liquidated {
        return Err("the cluster is liquidated".into());
    }
    let share_pk = hex_key(&record.share_pubkey).ok_or("malformed share public key")?;
    let meta = match store.validator_metadata(public_key).map_err(|e| e.to_string())? {
        Some(m) => m,
        None => {
            let found = beacon.validators("head", &[hex_pk]).await.map_err(|e| e.to_string())?;
            let v = found.first().ok_or("validator unknown to the beacon node")?;
            let meta = ValidatorMetadata {
                index: v.index,
                status: v.status.clone(),
                activation_epoch: v.validator.activation_epoch,
                exit_epoch: v.validator.exit_epoch,
            };
            store
                .write(|w| w.put_validator_metadata(public_key, &meta))
                .map_err(|e| e.to_string())?;
            meta
        }
    };
    let secret_bytes = record.decrypt_secret(key).map_err(|e| e.to_string())?;
    let secret = SecretKey::from_bytes(secret_bytes.as_slice()).map_err(|e| e.to_string())?;
    if secret.public_key().to_bytes() != share_pk {
        return Err("share secret does not match the share public key".into());
    }
    let known: BTreeMap<OperatorId, Vec<u8>> = store
        .operators()
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter_map(|o| {
            let k = OperatorPublicKey::from_base64_pem(&o.public_key_base64).ok()?;
            Some((o.id, k.to_pem().into_bytes()))
        })
        .collect();
    let mut members = Vec::new();
    let mut operators = Vec::new();
    for (id, pk) in &record.committee {
        let pk = hex_key(pk).ok_or("malformed committee key")?;
        members.push(ShareMember { share_pub_key: pk, signer: *id });
        let pem = known.get(id).cloned().ok_or_else(|| format!("operator {id} unknown"))?;
        operators.push((*id, pem));
    }
    let fee = hex::decode(record.fee_recipient.trim_start_matches("0x"))
        .ok()
        .and_then(|b| <[u8; 20]>::try_from(b).ok())
        .unwrap_or([0; 20]);
    let share = Share {
        validator_index: meta.index,
        validator_pub_key: *public_key,
        share_pub_key: share_pk,
        committee: VariableList::new(members).map_err(|_| "committee too large")?,
        domain_type,
        fee_recipient_address: fee,
        graffiti: [0; 32],
    };
    Ok(LoadedShare { share, secret, operators })
}
