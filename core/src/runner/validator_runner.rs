//! The validator-level duty runners (ssv-spec v1.2.2 `ssv/proposer.go`, `aggregator.go`,
//! `sync_committee_aggregator.go`, `validator_registration.go`, `voluntary_exit.go`, with
//! the shared `runner.go`, `runner_validations.go` and `runner_signatures.go`).
//!
//! One type runs all five roles: they differ only in their pre-consensus object, the
//! beacon data they fetch, their post-consensus object and what they submit.

use std::collections::BTreeMap;
use std::sync::Arc;

use ssz::{Decode, Encode};
use ssz_types::VariableList;
use tree_hash::TreeHash;

use super::committee_runner::{
    RunnerState, add_partial_signatures, share_keys, sign_partial_message,
    validate_partial_sig_for_slot,
};
use super::container::{BlstThresholdBls, ThresholdBls};
use super::error::RunnerError;
use super::network::BeaconNetwork;
use super::{Duty, Output, Request, Response, SignRequest, SignResult, Submission};
use crate::beacon::{
    ContributionAndProof, SignedContributionAndProof, SignedValidatorRegistration,
    SignedVoluntaryExit, SyncAggregatorSelectionData, ValidatorRegistration, VoluntaryExit,
    electra, phase0,
};
use crate::crypto::signing::{BeaconDomainType, compute_signing_root};
use crate::crypto::threshold::{LAGRANGE_CACHE_CAPACITY_DEFAULT, LagrangeCache};
use crate::qbft::{Controller, ControllerInput, QbftConfig, UnixMillis};
use crate::types::{
    BlsSignatureBytes, Height, MessageId, OperatorId, PartialSigMsgType, PartialSignatureMessage,
    PartialSignatureMessages, Root, RunnerRole, Share, SignedSsvMessage, Slot,
    ValidatorConsensusData, ValidatorDuty, ValidatorIndex, VersionedAggregateAndProof,
};

/// `DefaultGasLimit` of ssv-spec v1.2.2 (`types/beacon_types.go`).
pub const DEFAULT_GAS_LIMIT: u64 = 30_000_000;

#[derive(Debug, Clone)]
enum Pending {
    /// The share signatures of the pre-consensus message.
    PreSign { id: u64, msg_type: PartialSigMsgType, slot: Slot, roots: Vec<Root> },
    /// Beacon data to decide on.
    Data { id: u64 },
    /// `IsSyncCommitteeAggregator` for `(proof, subnet)` pairs.
    Aggregators { id: u64, proofs: Vec<(BlsSignatureBytes, u64)> },
    /// The share signatures of the post-consensus message.
    PostSign { id: u64, slot: Slot, roots: Vec<Root> },
}

impl Pending {
    fn id(&self) -> u64 {
        match self {
            Self::PreSign { id, .. }
            | Self::Data { id }
            | Self::Aggregators { id, .. }
            | Self::PostSign { id, .. } => *id,
        }
    }
}

/// A validator-level runner of one role (proposer, aggregator, sync-committee
/// contribution, validator registration or voluntary exit).
///
/// # Driving contract
/// [`ValidatorRunner::start_duty`] requests the pre-consensus share signature(s) and
/// broadcasts them. Pre-consensus messages fill the container; on the first quorum the
/// signature is reconstructed and, by role, submitted (registration, exit) or used to
/// fetch beacon data ([`Request::Proposal`], [`Request::AggregateAndProof`],
/// [`Request::IsSyncCommitteeAggregator`] then [`Request::SyncCommitteeContributions`]) on
/// which QBFT starts. On decision the post-consensus share signatures are requested and
/// broadcast; the post-consensus quorum is reconstructed and submitted.
#[derive(Debug)]
pub struct ValidatorRunner {
    /// The runner's role.
    pub role: RunnerRole,
    /// The duty state (`None` before the first duty).
    pub state: Option<RunnerState>,
    /// The validator's share (one entry).
    pub shares: BTreeMap<ValidatorIndex, Share>,
    /// The QBFT controller (`None` for registration and exit, which have no consensus).
    pub controller: Option<Controller>,
    /// The highest slot decided by this runner.
    pub highest_decided_slot: Slot,
    /// This operator.
    pub operator_id: OperatorId,
    /// The registration's gas limit.
    pub gas_limit: u64,
    /// The voluntary exit computed when the duty started.
    pub voluntary_exit: Option<VoluntaryExit>,
    config: Arc<QbftConfig>,
    network: Arc<BeaconNetwork>,
    pending: Option<Pending>,
    next_id: u64,
    cache: LagrangeCache,
    bls: Arc<dyn ThresholdBls>,
}

impl ValidatorRunner {
    /// A runner of `role` for `share`; `controller` is required for roles with consensus.
    /// `config` supplies the operator signer (and the value check of the controller).
    pub fn new(
        role: RunnerRole,
        network: Arc<BeaconNetwork>,
        share: Share,
        operator_id: OperatorId,
        controller: Option<Controller>,
        config: Arc<QbftConfig>,
    ) -> Self {
        Self {
            role,
            state: None,
            shares: BTreeMap::from([(share.validator_index, share)]),
            controller,
            highest_decided_slot: 0,
            operator_id,
            gas_limit: DEFAULT_GAS_LIMIT,
            voluntary_exit: None,
            config,
            network,
            pending: None,
            next_id: 0,
            cache: LagrangeCache::new(LAGRANGE_CACHE_CAPACITY_DEFAULT),
            bls: Arc::new(BlstThresholdBls),
        }
    }

    /// This runner with `bls` verifying partial signatures and reconstructing quorums
    /// (instead of the default [`BlstThresholdBls`]); see [`ThresholdBls`] for the contract.
    #[must_use]
    pub fn with_bls(mut self, bls: Arc<dyn ThresholdBls>) -> Self {
        self.bls = bls;
        self
    }

    /// A runner of `role` over `shares`, which must hold exactly one share (the spec's
    /// `New<Role>Runner` constructors).
    ///
    /// # Errors
    /// "must have one share" for zero or several shares.
    pub fn try_new(
        role: RunnerRole,
        network: Arc<BeaconNetwork>,
        shares: BTreeMap<ValidatorIndex, Share>,
        operator_id: OperatorId,
        controller: Option<Controller>,
        config: Arc<QbftConfig>,
    ) -> Result<Self, RunnerError> {
        let mut it = shares.into_values();
        match (it.next(), it.next()) {
            (Some(share), None) => {
                Ok(Self::new(role, network, share, operator_id, controller, config))
            }
            _ => Err(RunnerError::other("must have one share")),
        }
    }

    /// The validator's share.
    pub fn share(&self) -> Option<&Share> {
        self.shares.values().next()
    }

    /// Whether a duty is running (started and not finished).
    pub fn has_running_duty(&self) -> bool {
        self.state.as_ref().is_some_and(|s| !s.finished)
    }

    /// The earliest QBFT deadline.
    /// Round timeouts count only for the running duty's own instance (the Go node's
    /// `HasRunningDuty` check on a timer event, and the instance at the duty's height): an
    /// instance left undecided by a duty that was superseded or finished (a later slot's
    /// duty in pre-consensus, a sync contribution whose selection proof did not select)
    /// must not keep sending round changes for a slot nobody works on any more.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        if !self.timer_armed() {
            return None;
        }
        self.controller.as_ref().and_then(Controller::poll_timeout)
    }

    /// Whether the controller's current instance is the running duty's instance.
    fn timer_armed(&self) -> bool {
        let Some(height) = self.controller.as_ref().map(Controller::height) else { return false };
        self.state.as_ref().is_some_and(|s| !s.finished && s.running_instance == Some(height))
    }

    fn request(&mut self, request: Request, out: &mut Vec<Output>) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        out.push(Output::Request { id, request });
        id
    }

    fn duty(&self) -> Result<ValidatorDuty, RunnerError> {
        match self.state.as_ref().map(|s| &s.starting_duty) {
            Some(Duty::Validator(d)) => Ok(d.clone()),
            _ => Err(RunnerError::NoRunningDuty),
        }
    }

    fn msg_id(&self) -> Result<MessageId, RunnerError> {
        let share = self.share().ok_or(RunnerError::NoValidatorShares)?;
        Ok(MessageId::for_validator(share.domain_type, self.role, &share.validator_pub_key))
    }

    fn domain_root(&self, slot: Slot, object_root: &Root, domain_type: BeaconDomainType) -> Root {
        let epoch = self.network.epoch_at_slot(slot);
        compute_signing_root(object_root, &self.network.domain(epoch, domain_type))
    }

    /// `StartNewDuty`: the height (or, without consensus, the previous duty's slot) check,
    /// then a fresh state and the pre-consensus signature request.
    ///
    /// # Errors
    /// `DutyAlreadyPassed`.
    pub fn start_duty(
        &mut self,
        duty: ValidatorDuty,
        quorum: u64,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        match &self.controller {
            Some(c) if self.role.has_consensus() => {
                let height = c.height();
                if height >= duty.slot && height != 0 {
                    return Err(RunnerError::DutyAlreadyPassed { slot: duty.slot, height });
                }
            }
            _ => {
                if let Some(prev) = self.state.as_ref().map(|s| s.starting_duty.slot())
                    && prev >= duty.slot
                {
                    return Err(RunnerError::DutyAlreadyPassed { slot: duty.slot, height: prev });
                }
            }
        }
        self.pending = None;
        if self.role == RunnerRole::VoluntaryExit {
            self.voluntary_exit = Some(VoluntaryExit {
                epoch: self.network.epoch_at_slot(duty.slot),
                validator_index: duty.validator_index,
            });
        }
        let (msg_type, domain_type, objects) = self.pre_consensus_objects(&duty)?;
        let share = self.share().ok_or(RunnerError::NoValidatorShares)?;
        let share_pub_key = share.share_pub_key;
        let mut requests = Vec::new();
        let mut roots = Vec::new();
        for object_root in objects {
            let signing_root = self.domain_root(duty.slot, &object_root, domain_type);
            requests.push(SignRequest {
                share_pub_key,
                validator_index: duty.validator_index,
                domain_type,
                signing_root,
            });
            roots.push(signing_root);
        }
        let slot = duty.slot;
        self.state = Some(RunnerState::new(quorum, Duty::Validator(duty)));
        let id = self.request(Request::Sign(requests), out);
        self.pending = Some(Pending::PreSign { id, msg_type, slot, roots });
        Ok(())
    }

    /// The pre-consensus message type, domain and object roots of `duty`
    /// (`expectedPreConsensusRootsAndDomain`).
    fn pre_consensus_objects(
        &self,
        duty: &ValidatorDuty,
    ) -> Result<(PartialSigMsgType, BeaconDomainType, Vec<Root>), RunnerError> {
        let epoch = self.network.epoch_at_slot(duty.slot);
        Ok(match self.role {
            RunnerRole::Proposer => (
                PartialSigMsgType::Randao,
                BeaconDomainType::RANDAO,
                vec![epoch.tree_hash_root().0],
            ),
            RunnerRole::Aggregator => (
                PartialSigMsgType::SelectionProof,
                BeaconDomainType::SELECTION_PROOF,
                vec![duty.slot.tree_hash_root().0],
            ),
            RunnerRole::SyncCommitteeContribution => (
                PartialSigMsgType::ContributionProofs,
                BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF,
                duty.validator_sync_committee_indices
                    .iter()
                    .map(|i| {
                        SyncAggregatorSelectionData {
                            slot: duty.slot,
                            subcommittee_index: self.network.sync_subnet(*i),
                        }
                        .tree_hash_root()
                        .0
                    })
                    .collect(),
            ),
            RunnerRole::ValidatorRegistration => (
                PartialSigMsgType::ValidatorRegistration,
                BeaconDomainType::APPLICATION_BUILDER,
                vec![self.registration(duty.slot)?.tree_hash_root().0],
            ),
            RunnerRole::VoluntaryExit => {
                let exit = self
                    .voluntary_exit
                    .ok_or_else(|| RunnerError::other("no voluntary exit computed"))?;
                (
                    PartialSigMsgType::VoluntaryExit,
                    BeaconDomainType::VOLUNTARY_EXIT,
                    vec![exit.tree_hash_root().0],
                )
            }
            RunnerRole::Committee => {
                return Err(RunnerError::other("committee role in a validator runner"));
            }
        })
    }

    /// `calculateValidatorRegistration`.
    fn registration(&self, slot: Slot) -> Result<ValidatorRegistration, RunnerError> {
        let share = self.share().ok_or(RunnerError::NoValidatorShares)?;
        Ok(ValidatorRegistration {
            fee_recipient: share.fee_recipient_address,
            gas_limit: self.gas_limit,
            timestamp: self.network.epoch_start_secs(self.network.epoch_at_slot(slot)),
            pubkey: share.validator_pub_key,
        })
    }

    /// Feeds the answer to request `id`.
    ///
    /// # Errors
    /// A failed request, or what continuing the duty fails with.
    pub fn on_response(
        &mut self,
        now: UnixMillis,
        id: u64,
        response: Response,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        if self.pending.as_ref().map(Pending::id) != Some(id) {
            return Err(RunnerError::other("response to no pending request"));
        }
        let Some(pending) = self.pending.take() else { return Ok(()) };
        match (pending, response) {
            (_, Response::Failed(reason)) => Err(RunnerError::Other(reason)),
            (Pending::PreSign { msg_type, slot, roots, .. }, Response::Signatures(sigs)) => {
                self.broadcast(msg_type, slot, &roots, &sigs, out)
            }
            (Pending::PostSign { slot, roots, .. }, Response::Signatures(sigs)) => {
                self.broadcast(PartialSigMsgType::PostConsensus, slot, &roots, &sigs, out)
            }
            (Pending::Data { .. }, Response::ConsensusData { version, data_ssz }) => {
                let duty = self.duty()?;
                let slot = duty.slot;
                let value = ValidatorConsensusData {
                    duty,
                    version,
                    data_ssz: VariableList::new(data_ssz)
                        .map_err(|_| RunnerError::other("consensus data too large"))?,
                };
                self.decide(now, slot, value.as_ssz_bytes(), out)
            }
            (Pending::Aggregators { proofs, .. }, Response::Flags(flags)) => {
                let (selection_proofs, subnets): (Vec<_>, Vec<_>) =
                    proofs.into_iter().zip(flags).filter_map(|(p, is)| is.then_some(p)).unzip();
                if selection_proofs.is_empty() {
                    if let Some(state) = self.state.as_mut() {
                        state.finished = true;
                    }
                    return Ok(());
                }
                let slot = self.duty()?.slot;
                let req = Request::SyncCommitteeContributions { slot, selection_proofs, subnets };
                let id = self.request(req, out);
                self.pending = Some(Pending::Data { id });
                Ok(())
            }
            _ => Err(RunnerError::other("response of the wrong kind")),
        }
    }

    fn broadcast(
        &mut self,
        msg_type: PartialSigMsgType,
        slot: Slot,
        roots: &[Root],
        results: &[SignResult],
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        if results.len() != roots.len() {
            return Err(RunnerError::other("wrong number of signatures"));
        }
        let validator_index = self.duty()?.validator_index;
        // One validator's roots belong together (RANDAO, a proof set, a block): a refused
        // item fails the whole step.
        let mut sigs = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Ok(sig) => sigs.push(*sig),
                Err(reason) => {
                    return Err(RunnerError::SignRefused {
                        validator: validator_index,
                        reason: reason.clone(),
                    });
                }
            }
        }
        let messages: Vec<PartialSignatureMessage> = roots
            .iter()
            .zip(&sigs)
            .map(|(root, sig)| PartialSignatureMessage {
                partial_signature: *sig,
                signing_root: *root,
                signer: self.operator_id,
                validator_index,
            })
            .collect();
        let psig = PartialSignatureMessages {
            msg_type: msg_type as u64,
            slot,
            messages: VariableList::new(messages)
                .map_err(|_| RunnerError::other("too many partial signatures"))?,
        };
        let signed = sign_partial_message(&self.config, self.operator_id, self.msg_id()?, &psig)?;
        out.push(Output::Broadcast(signed));
        Ok(())
    }

    /// `BaseRunner.decide`: value check, then start the QBFT instance at `slot`.
    fn decide(
        &mut self,
        now: UnixMillis,
        slot: Slot,
        value: Vec<u8>,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        self.config.value_check.check(&value)?;
        let controller =
            self.controller.as_mut().ok_or_else(|| RunnerError::other("no QBFT controller"))?;
        let mut qout = Vec::new();
        let res = controller.handle(now, ControllerInput::Start { height: slot, value }, &mut qout);
        out.extend(qout.into_iter().map(Output::Qbft));
        res?;
        let height = controller.height();
        if let Some(state) = self.state.as_mut() {
            state.running_instance = Some(height);
        }
        Ok(())
    }

    /// A QBFT timeout.
    ///
    /// # Errors
    /// The controller's.
    pub fn on_timeout(
        &mut self,
        now: UnixMillis,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        if !self.timer_armed() {
            return Ok(());
        }
        let Some(controller) = self.controller.as_mut() else { return Ok(()) };
        let mut qout = Vec::new();
        let res = controller.handle(now, ControllerInput::Timeout, &mut qout);
        out.extend(qout.into_iter().map(Output::Qbft));
        res.map_err(RunnerError::from)
    }

    fn reconstruct_or_drop(
        &mut self,
        pre: bool,
        root: &Root,
        all_roots: &[Root],
    ) -> Result<BlsSignatureBytes, RunnerError> {
        let share = self.share().cloned().ok_or(RunnerError::NoValidatorShares)?;
        let Some(state) = self.state.as_mut() else { return Err(RunnerError::NoRunningDuty) };
        let container = if pre { &mut state.pre_consensus } else { &mut state.post_consensus };
        match container.reconstruct_with(
            &*self.bls,
            root,
            &share.validator_pub_key,
            share.validator_index,
            &mut self.cache,
        ) {
            Ok(sig) => Ok(sig),
            Err(e) => {
                let keys = share_keys(&share);
                for r in all_roots {
                    container.drop_invalid(&*self.bls, share.validator_index, r, &keys);
                }
                Err(RunnerError::Reconstruct(e))
            }
        }
    }

    /// `ProcessPreConsensus`.
    ///
    /// # Errors
    /// Validation errors (`NoRunningDuty`, slots, signer, validator index, roots count,
    /// signing root) and `ReconstructSignature` when the quorum's signature does not verify.
    pub fn process_pre_consensus(
        &mut self,
        psig: &PartialSignatureMessages,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        let duty = self.duty().map_err(|_| RunnerError::NoRunningDuty)?;
        if !self.has_running_duty() {
            return Err(RunnerError::NoRunningDuty);
        }
        validate_partial_sig_for_slot(psig, duty.slot, &self.shares)?;
        self.validate_validator_index(psig)?;
        let (_, domain_type, objects) = self.pre_consensus_objects(&duty)?;
        self.verify_expected_roots(psig, duty.slot, &objects, domain_type)?;
        let Some(state) = self.state.as_mut() else { return Err(RunnerError::NoRunningDuty) };
        let (quorum, roots) =
            add_partial_signatures(&*self.bls, &mut state.pre_consensus, psig, &self.shares);
        if !quorum {
            return Ok(());
        }
        if self.role == RunnerRole::SyncCommitteeContribution {
            let mut proofs = Vec::new();
            for (i, root) in roots.iter().enumerate() {
                let sig = self.reconstruct_or_drop(true, root, &roots)?;
                // The subnet whose selection data the root signs; the spec pairs the i-th
                // quorum root with the i-th sync-committee index, which only agrees when
                // the roots come in index order with one index per subnet.
                let by_root = duty.validator_sync_committee_indices.iter().find(|index| {
                    let data = SyncAggregatorSelectionData {
                        slot: duty.slot,
                        subcommittee_index: self.network.sync_subnet(**index),
                    };
                    let object = data.tree_hash_root().0;
                    self.domain_root(
                        duty.slot,
                        &object,
                        BeaconDomainType::SYNC_COMMITTEE_SELECTION_PROOF,
                    ) == *root
                });
                let index = by_root
                    .or_else(|| duty.validator_sync_committee_indices.get(i))
                    .copied()
                    .ok_or_else(|| RunnerError::other("no sync committee index"))?;
                proofs.push((sig, self.network.sync_subnet(index)));
            }
            let req = Request::IsSyncCommitteeAggregator(proofs.iter().map(|p| p.0).collect());
            let id = self.request(req, out);
            self.pending = Some(Pending::Aggregators { id, proofs });
            return Ok(());
        }
        let root = *roots.first().ok_or_else(|| RunnerError::other("no quorum root"))?;
        let sig = self.reconstruct_or_drop(true, &root, &[root])?;
        match self.role {
            RunnerRole::ValidatorRegistration => {
                let message = self.registration(duty.slot)?;
                out.push(Output::Submit(Submission::ValidatorRegistration(
                    SignedValidatorRegistration { message, signature: sig },
                )));
                self.finish();
            }
            RunnerRole::VoluntaryExit => {
                let message = self
                    .voluntary_exit
                    .ok_or_else(|| RunnerError::other("no voluntary exit computed"))?;
                out.push(Output::Submit(Submission::VoluntaryExit(SignedVoluntaryExit {
                    message,
                    signature: sig,
                })));
                self.finish();
            }
            RunnerRole::Proposer => {
                let graffiti = self.share().map(|s| s.graffiti).unwrap_or_default();
                let req = Request::Proposal { slot: duty.slot, graffiti, randao_reveal: sig };
                let id = self.request(req, out);
                self.pending = Some(Pending::Data { id });
            }
            RunnerRole::Aggregator => {
                let req = Request::AggregateAndProof {
                    slot: duty.slot,
                    committee_index: duty.committee_index,
                    committee_length: duty.committee_length,
                    validator_index: duty.validator_index,
                    selection_proof: sig,
                };
                let id = self.request(req, out);
                self.pending = Some(Pending::Data { id });
            }
            RunnerRole::SyncCommitteeContribution | RunnerRole::Committee => {}
        }
        Ok(())
    }

    fn finish(&mut self) {
        if let Some(state) = self.state.as_mut() {
            state.finished = true;
        }
    }

    /// `validateValidatorIndexInPartialSigMsg`.
    fn validate_validator_index(&self, psig: &PartialSignatureMessages) -> Result<(), RunnerError> {
        if psig.messages.iter().all(|m| self.shares.contains_key(&m.validator_index)) {
            Ok(())
        } else {
            Err(RunnerError::UnknownValidatorIndex)
        }
    }

    /// `verifyExpectedRoot`: the message's roots, sorted, equal the expected signing roots,
    /// sorted (domain of the starting duty's epoch).
    fn verify_expected_roots(
        &self,
        psig: &PartialSignatureMessages,
        slot: Slot,
        objects: &[Root],
        domain_type: BeaconDomainType,
    ) -> Result<(), RunnerError> {
        if objects.len() != psig.messages.len() {
            return Err(RunnerError::WrongRootsCount);
        }
        let mut expected: Vec<Root> =
            objects.iter().map(|o| self.domain_root(slot, o, domain_type)).collect();
        let mut got: Vec<Root> = psig.messages.iter().map(|m| m.signing_root).collect();
        expected.sort();
        got.sort();
        if expected != got {
            return Err(RunnerError::WrongSigningRoot);
        }
        Ok(())
    }

    /// The decided value's post-consensus (domain, object roots) and what each root
    /// submits once signed (`expectedPostConsensusRootsAndDomain`).
    fn post_consensus_objects(
        &self,
        cd: &ValidatorConsensusData,
    ) -> Result<(BeaconDomainType, Vec<(Root, Submission)>), RunnerError> {
        let zero = [0u8; 96];
        Ok(match self.role {
            RunnerRole::Proposer => {
                let block = cd.block_data()?;
                let root = block.block_root();
                (
                    BeaconDomainType::BEACON_PROPOSER,
                    vec![(root, Submission::Block { block: Box::new(block), signature: zero })],
                )
            }
            RunnerRole::Aggregator => {
                let agg = cd.aggregate_and_proof()?;
                let root = agg.root();
                let sub = match agg {
                    VersionedAggregateAndProof::Phase0(message) => {
                        Submission::AggregateAndProof(Box::new(phase0::SignedAggregateAndProof {
                            message,
                            signature: zero,
                        }))
                    }
                    VersionedAggregateAndProof::Electra(message) => {
                        Submission::ElectraAggregateAndProof(Box::new(
                            electra::SignedAggregateAndProof { message, signature: zero },
                        ))
                    }
                };
                (BeaconDomainType::AGGREGATE_AND_PROOF, vec![(root, sub)])
            }
            RunnerRole::SyncCommitteeContribution => {
                let aggregator_index = self.duty()?.validator_index;
                let contributions = cd.sync_committee_contributions()?;
                let items = contributions
                    .0
                    .iter()
                    .map(|c| {
                        let message = ContributionAndProof {
                            aggregator_index,
                            contribution: c.contribution.clone(),
                            selection_proof: c.selection_proof_sig,
                        };
                        let root = message.tree_hash_root().0;
                        (
                            root,
                            Submission::ContributionAndProof(Box::new(
                                SignedContributionAndProof { message, signature: zero },
                            )),
                        )
                    })
                    .collect();
                (BeaconDomainType::CONTRIBUTION_AND_PROOF, items)
            }
            RunnerRole::ValidatorRegistration => return Err(RunnerError::RegistrationNoConsensus),
            RunnerRole::VoluntaryExit => return Err(RunnerError::ExitNoConsensus),
            RunnerRole::Committee => {
                return Err(RunnerError::other("committee role in a validator runner"));
            }
        })
    }

    fn running_instance_decided(&self) -> bool {
        let Some(h) = self.state.as_ref().and_then(|s| s.running_instance) else { return false };
        self.controller.as_ref().and_then(|c| c.instance(h)).is_some_and(|i| i.state().decided)
    }

    /// `ProcessConsensus`.
    ///
    /// # Errors
    /// The no-consensus codes of registration and exit,
    /// `SkipConsensusMessageAsConsensusHasFinished`, the controller's errors,
    /// `DecidedWrongInstance`, or the decided value's check.
    pub fn process_consensus(
        &mut self,
        now: UnixMillis,
        msg: SignedSsvMessage,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        match self.role {
            RunnerRole::ValidatorRegistration => return Err(RunnerError::RegistrationNoConsensus),
            RunnerRole::VoluntaryExit => return Err(RunnerError::ExitNoConsensus),
            _ => {}
        }
        if self.has_running_duty() && self.running_instance_decided() {
            return Err(RunnerError::ConsensusHasFinished);
        }
        let controller =
            self.controller.as_mut().ok_or_else(|| RunnerError::other("no QBFT controller"))?;
        let running = self.state.as_ref().filter(|s| !s.finished).map(|s| s.running_instance);
        let Some(decided) = super::consensus_step(controller, running, now, msg, out)? else {
            return Ok(());
        };
        let Some(state) = self.state.as_ref() else { return Ok(()) };
        let cd = ValidatorConsensusData::from_ssz_bytes(&decided).map_err(|_| {
            RunnerError::other("failed to parse decided value to ValidatorConsensusData")
        })?;
        let value = cd.as_ssz_bytes();
        self.config.value_check.check(&value)?;
        let slot = state.starting_duty.slot();
        if let Some(state) = self.state.as_mut() {
            state.decided_value = Some(value);
        }
        self.highest_decided_slot = slot;
        let (domain_type, objects) = self.post_consensus_objects(&cd)?;
        let share = self.share().ok_or(RunnerError::NoValidatorShares)?;
        let share_pub_key = share.share_pub_key;
        let validator_index = self.duty()?.validator_index;
        let mut requests = Vec::new();
        let mut roots = Vec::new();
        for (object_root, _) in &objects {
            let signing_root = self.domain_root(cd.duty.slot, object_root, domain_type);
            requests.push(SignRequest {
                share_pub_key,
                validator_index,
                domain_type,
                signing_root,
            });
            roots.push(signing_root);
        }
        let id = self.request(Request::Sign(requests), out);
        self.pending = Some(Pending::PostSign { id, slot: cd.duty.slot, roots });
        Ok(())
    }

    /// `ProcessPostConsensus`.
    ///
    /// # Errors
    /// The no-post-consensus codes of registration and exit, validation errors
    /// (`NoRunningDuty`, `NoDecidedValue`, instance, slots, signer, index, roots), and
    /// `ReconstructSignature` when a quorum's signature does not verify.
    pub fn process_post_consensus(
        &mut self,
        psig: &PartialSignatureMessages,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        match self.role {
            RunnerRole::ValidatorRegistration => {
                return Err(RunnerError::RegistrationNoPostConsensus);
            }
            RunnerRole::VoluntaryExit => return Err(RunnerError::ExitNoPostConsensus),
            _ => {}
        }
        let cd = self.validate_post_consensus(psig)?;
        let Some(state) = self.state.as_mut() else { return Err(RunnerError::NoRunningDuty) };
        let (quorum, roots) =
            add_partial_signatures(&*self.bls, &mut state.post_consensus, psig, &self.shares);
        if !quorum {
            return Ok(());
        }
        let (domain_type, objects) = self.post_consensus_objects(&cd)?;
        let duty_slot = self.duty()?.slot;
        for root in &roots {
            let sig = self.reconstruct_or_drop(false, root, &roots)?;
            let found = objects
                .iter()
                .find(|(o, _)| self.domain_root(duty_slot, o, domain_type) == *root)
                .map(|(_, sub)| sub.clone());
            if let Some(sub) = found {
                out.push(Output::Submit(with_signature(sub, sig)));
            }
        }
        self.finish();
        Ok(())
    }

    /// `ValidatePostConsensusMsg` for validator runners; returns the decided value.
    fn validate_post_consensus(
        &self,
        psig: &PartialSignatureMessages,
    ) -> Result<ValidatorConsensusData, RunnerError> {
        let Some(state) = self.state.as_ref().filter(|s| !s.finished) else {
            return Err(RunnerError::NoRunningDuty);
        };
        if state.decided_value.as_ref().is_none_or(Vec::is_empty) {
            return Err(RunnerError::NoDecidedValue);
        }
        let Some(h) = state.running_instance else {
            return Err(RunnerError::NoRunningConsensusInstance);
        };
        let decided = self
            .controller
            .as_ref()
            .and_then(|c| c.instance(h))
            .and_then(|i| i.state().decided_value.clone().filter(|_| i.state().decided));
        let Some(value) = decided else { return Err(RunnerError::ConsensusInstanceNotDecided) };
        let cd = ValidatorConsensusData::from_ssz_bytes(&value).map_err(|_| {
            RunnerError::other("failed to parse decided value to ValidatorConsensusData")
        })?;
        validate_partial_sig_for_slot(psig, cd.duty.slot, &self.shares)?;
        self.validate_validator_index(psig)?;
        let (domain_type, objects) = self.post_consensus_objects(&cd)?;
        let object_roots: Vec<Root> = objects.iter().map(|(r, _)| *r).collect();
        self.verify_expected_roots(psig, state.starting_duty.slot(), &object_roots, domain_type)?;
        Ok(cd)
    }

    /// The height of the running instance, if any.
    pub fn running_instance(&self) -> Option<Height> {
        self.state.as_ref().and_then(|s| s.running_instance)
    }
}

fn with_signature(sub: Submission, signature: BlsSignatureBytes) -> Submission {
    match sub {
        Submission::Block { block, .. } => Submission::Block { block, signature },
        Submission::AggregateAndProof(mut a) => {
            a.signature = signature;
            Submission::AggregateAndProof(a)
        }
        Submission::ElectraAggregateAndProof(mut a) => {
            a.signature = signature;
            Submission::ElectraAggregateAndProof(a)
        }
        Submission::ContributionAndProof(mut c) => {
            c.signature = signature;
            Submission::ContributionAndProof(c)
        }
        other => other,
    }
}
