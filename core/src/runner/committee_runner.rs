//! The committee runner (ssv-spec v1.2.2 `ssv/committee_runner.go`, `runner.go`,
//! `runner_validations.go`, `runner_signatures.go`): attestations and sync-committee
//! messages of all of a committee's validators at one slot.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use ssz::{Decode, Encode};
use ssz_types::{BitList, VariableList};
use tree_hash::TreeHash;

use super::container::{
    BlstThresholdBls, PartialSigContainer, QuorumSet, ThresholdBls, batch_seed,
};
use super::error::RunnerError;
use super::network::BeaconNetwork;
use super::{Duty, Output, Request, Response, SignRefusal, SignRequest, SignResult, Submission};
use crate::beacon::{AttestationData, DataVersion, altair, electra, phase0};
use crate::crypto::signing::{BeaconDomainType, compute_signing_root};
use crate::crypto::threshold::ReconstructError;
use crate::crypto::threshold::{LAGRANGE_CACHE_CAPACITY_DEFAULT, LagrangeCache};
use crate::qbft::{Controller, ControllerInput, Instance, QbftConfig, UnixMillis};
use crate::types::{
    BeaconRole, BeaconVote, CommitteeDuty, CommitteeId, Height, MessageId, MsgType,
    PartialSigMsgType, PartialSignatureMessage, PartialSignatureMessages, Root, RunnerRole, Share,
    SignedSsvMessage, Slot, SsvMessage, ValidatorDuty, ValidatorIndex,
};

/// A runner's duty state (`ssv.State`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunnerState {
    /// Pre-consensus partial signatures.
    pub pre_consensus: PartialSigContainer,
    /// Post-consensus partial signatures.
    pub post_consensus: PartialSigContainer,
    /// The height of the consensus instance started for this duty.
    pub running_instance: Option<Height>,
    /// The decided value (SSZ), once decided and re-checked.
    pub decided_value: Option<Vec<u8>>,
    /// The duty.
    pub starting_duty: Duty,
    /// A full successful cycle completed.
    pub finished: bool,
}

impl RunnerState {
    /// `NewRunnerState(quorum, duty)`.
    pub fn new(quorum: u64, duty: Duty) -> Self {
        Self {
            pre_consensus: PartialSigContainer::new(quorum),
            post_consensus: PartialSigContainer::new(quorum),
            running_instance: None,
            decided_value: None,
            starting_duty: duty,
            finished: false,
        }
    }
}

#[derive(Debug, Clone)]
enum Pending {
    AttestationData { id: u64, slot: Slot },
    PostSign { id: u64, slot: Slot, items: Vec<(ValidatorIndex, Root)> },
}

/// The committee runner of one slot.
///
/// # Driving contract
/// [`CommitteeRunner::start_duty`] requests attestation data; its response starts QBFT
/// with the [`BeaconVote`]. On decision the runner requests one share signature per
/// validator duty and, when they come back, broadcasts one post-consensus
/// `PartialSignatureMessages`. Post-consensus messages of the others fill the container;
/// each first quorum per (validator, root) is reconstructed, verified and submitted.
#[derive(Debug)]
pub struct CommitteeRunner {
    /// The duty state (`None` before the first duty).
    pub state: Option<RunnerState>,
    /// The shares of the validators this runner signs for.
    pub shares: BTreeMap<ValidatorIndex, Share>,
    /// The runner's QBFT controller.
    pub controller: Controller,
    /// The highest slot decided by this runner.
    pub highest_decided_slot: Slot,
    /// Post-consensus items of the running duty the signer refused: (validator, signing
    /// root, why). Their partial signatures were not sent; the others' still reconstruct.
    pub refused: Vec<(ValidatorIndex, Root, SignRefusal)>,
    config: Arc<QbftConfig>,
    network: Arc<BeaconNetwork>,
    submitted: BTreeSet<(u64, ValidatorIndex)>,
    pending: Option<Pending>,
    next_id: u64,
    cache: LagrangeCache,
    bls: Arc<dyn ThresholdBls>,
    /// The last [`CommitteeRunner::expected`], keyed by its duty and decided vote: every
    /// post-consensus message of a duty needs it, and it hashes every validator's object.
    expected_memo: Option<(CommitteeDuty, BeaconVote, Arc<Vec<Expected>>)>,
}

/// A validator duty's (role, validator, signing root, unsigned submission).
type Expected = (BeaconRole, ValidatorIndex, Root, Submission);

impl CommitteeRunner {
    /// A runner over `shares` with a QBFT controller built from `config` (whose value check
    /// should be a [`super::RunnerValueCheck::BeaconVote`]).
    pub fn new(
        network: Arc<BeaconNetwork>,
        shares: BTreeMap<ValidatorIndex, Share>,
        controller: Controller,
        config: Arc<QbftConfig>,
    ) -> Self {
        Self {
            state: None,
            shares,
            controller,
            highest_decided_slot: 0,
            refused: Vec::new(),
            config,
            network,
            submitted: BTreeSet::new(),
            pending: None,
            next_id: 0,
            cache: LagrangeCache::new(LAGRANGE_CACHE_CAPACITY_DEFAULT),
            bls: Arc::new(BlstThresholdBls),
            expected_memo: None,
        }
    }

    /// This runner with `bls` verifying partial signatures and reconstructing quorums
    /// (instead of the default [`BlstThresholdBls`]); see [`ThresholdBls`] for the contract.
    #[must_use]
    pub fn with_bls(mut self, bls: Arc<dyn ThresholdBls>) -> Self {
        self.bls = bls;
        self
    }

    /// `NewCommitteeRunner`: [`CommitteeRunner::new`] over at least one share.
    ///
    /// # Errors
    /// "no shares" when `shares` is empty.
    pub fn try_new(
        network: Arc<BeaconNetwork>,
        shares: BTreeMap<ValidatorIndex, Share>,
        controller: Controller,
        config: Arc<QbftConfig>,
    ) -> Result<Self, RunnerError> {
        if shares.is_empty() {
            return Err(RunnerError::other("no shares"));
        }
        Ok(Self::new(network, shares, controller, config))
    }

    /// Whether a duty is running (started and not finished).
    pub fn has_running_duty(&self) -> bool {
        self.state.as_ref().is_some_and(|s| !s.finished)
    }

    /// The earliest QBFT deadline of an undecided instance. A decided instance's round
    /// timer is disarmed, as the Go node's `Controller.OnTimeout` returns early for a
    /// decided instance; the spec's instance would keep sending round changes for it
    /// every round until the cut-off.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        self.controller
            .instances()
            .iter()
            .filter(|i| !i.state().decided)
            .filter_map(Instance::poll_timeout)
            .min()
    }

    fn request(&mut self, request: Request, out: &mut Vec<Output>) -> u64 {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        out.push(Output::Request { id, request });
        id
    }

    /// `StartNewDuty`: checks the height, resets the state and requests attestation data.
    ///
    /// # Errors
    /// `DutyAlreadyPassed`.
    pub fn start_duty(
        &mut self,
        duty: CommitteeDuty,
        quorum: u64,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        let height = self.controller.height();
        if height >= duty.slot && height != 0 {
            return Err(RunnerError::DutyAlreadyPassed { slot: duty.slot, height });
        }
        let slot = duty.slot;
        self.state = Some(RunnerState::new(quorum, Duty::Committee(duty)));
        self.submitted.clear();
        self.refused.clear();
        let id = self.request(Request::AttestationData { slot }, out);
        self.pending = Some(Pending::AttestationData { id, slot });
        Ok(())
    }

    /// Feeds the answer to request `id`.
    ///
    /// # Errors
    /// A failed request, or what continuing the duty fails with (value check, QBFT start,
    /// signing).
    pub fn on_response(
        &mut self,
        now: UnixMillis,
        id: u64,
        response: Response,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        let matches = match &self.pending {
            Some(Pending::AttestationData { id: p, .. } | Pending::PostSign { id: p, .. }) => {
                *p == id
            }
            None => false,
        };
        if !matches {
            return Err(RunnerError::other("response to no pending request"));
        }
        let Some(pending) = self.pending.take() else { return Ok(()) };
        match (pending, response) {
            (_, Response::Failed(reason)) => Err(RunnerError::Other(reason)),
            (Pending::AttestationData { slot, .. }, Response::AttestationData(data)) => {
                let vote = BeaconVote {
                    block_root: data.beacon_block_root,
                    source: data.source,
                    target: data.target,
                };
                self.decide(now, slot, vote.as_ssz_bytes(), out)
            }
            (Pending::PostSign { slot, items, .. }, Response::Signatures(results)) => {
                self.broadcast_post_consensus(slot, &items, results, out)
            }
            _ => Err(RunnerError::other("response of the wrong kind")),
        }
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
        let mut qout = Vec::new();
        let res =
            self.controller.handle(now, ControllerInput::Start { height: slot, value }, &mut qout);
        out.extend(qout.into_iter().map(Output::Qbft));
        res?;
        if let Some(state) = self.state.as_mut() {
            state.running_instance = Some(self.controller.height());
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
        if self.poll_timeout().is_none_or(|t| t > now) {
            // Nothing undecided is due (a decided instance's timer is disarmed).
            return Ok(());
        }
        let mut qout = Vec::new();
        let res = self.controller.handle(now, ControllerInput::Timeout, &mut qout);
        out.extend(qout.into_iter().map(Output::Qbft));
        res.map_err(RunnerError::from)
    }

    /// `ProcessConsensus`.
    ///
    /// # Errors
    /// `SkipConsensusMessageAsConsensusHasFinished`, the controller's errors,
    /// `DecidedWrongInstance`, or the decided value's check.
    pub fn process_consensus(
        &mut self,
        now: UnixMillis,
        msg: SignedSsvMessage,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        if self.has_running_duty() && self.running_instance_decided() {
            return Err(RunnerError::ConsensusHasFinished);
        }
        let running = self.state.as_ref().filter(|s| !s.finished).map(|s| s.running_instance);
        let Some(decided) = super::consensus_step(&mut self.controller, running, now, msg, out)?
        else {
            return Ok(());
        };
        let Some(state) = self.state.as_ref() else { return Ok(()) };
        let vote = BeaconVote::from_ssz_bytes(&decided)
            .map_err(|_| RunnerError::other("failed to parse decided value to BeaconVote"))?;
        let value = vote.as_ssz_bytes();
        self.config.value_check.check(&value)?;
        let slot = state.starting_duty.slot();
        let Duty::Committee(duty) = state.starting_duty.clone() else {
            return Err(RunnerError::other("committee runner with a validator duty"));
        };
        if let Some(state) = self.state.as_mut() {
            state.decided_value = Some(value);
        }
        self.highest_decided_slot = slot;
        self.request_post_consensus_signatures(&duty, &vote, out)
    }

    fn running_instance_decided(&self) -> bool {
        let Some(h) = self.state.as_ref().and_then(|s| s.running_instance) else { return false };
        self.controller.instance(h).is_some_and(|i| i.state().decided)
    }

    fn version_at_slot(&self, slot: Slot) -> DataVersion {
        self.network.data_version(self.network.epoch_at_slot(slot))
    }

    /// The (role, signing root, beacon object) of each validator duty
    /// (`expectedPostConsensusRootsAndBeaconObjects`).
    fn expected(
        &self,
        duty: &CommitteeDuty,
        vote: &BeaconVote,
    ) -> Vec<(BeaconRole, ValidatorIndex, Root, Submission)> {
        let epoch = self.network.epoch_at_slot(duty.slot);
        let version = self.network.data_version(epoch);
        let mut ret = Vec::new();
        for vd in &duty.validator_duties {
            match vd.beacon_role() {
                Some(BeaconRole::Attester) => {
                    let data = attestation_data(vote, vd, version);
                    let domain = self.network.domain(epoch, BeaconDomainType::BEACON_ATTESTER);
                    let root = compute_signing_root(&data.tree_hash_root().0, &domain);
                    if let Some(sub) = unsigned_attestation(data, vd, version) {
                        ret.push((BeaconRole::Attester, vd.validator_index, root, sub));
                    }
                }
                Some(BeaconRole::SyncCommittee) => {
                    let domain = self.network.domain(epoch, BeaconDomainType::SYNC_COMMITTEE);
                    let root = compute_signing_root(&vote.block_root, &domain);
                    let msg = altair::SyncCommitteeMessage {
                        slot: duty.slot,
                        beacon_block_root: vote.block_root,
                        validator_index: vd.validator_index,
                        signature: [0; 96],
                    };
                    ret.push((
                        BeaconRole::SyncCommittee,
                        vd.validator_index,
                        root,
                        Submission::SyncCommitteeMessage(msg),
                    ));
                }
                _ => {}
            }
        }
        ret
    }

    fn request_post_consensus_signatures(
        &mut self,
        duty: &CommitteeDuty,
        vote: &BeaconVote,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        let mut requests = Vec::new();
        let mut items = Vec::new();
        // Validators of a committee mostly sign the same object (one attestation data per
        // committee index, one block root): hash each distinct one once.
        let mut data_roots: Vec<(AttestationData, Root)> = Vec::new();
        let mut signing_roots: BTreeMap<(u64, BeaconDomainType, Root), Root> = BTreeMap::new();
        for vd in &duty.validator_duties {
            let epoch = self.network.epoch_at_slot(vd.slot);
            let version = self.version_at_slot(duty.slot);
            let (domain_type, object_root) = match vd.beacon_role() {
                Some(BeaconRole::Attester) => {
                    let data = attestation_data(vote, vd, version);
                    let root = match data_roots.iter().find(|(d, _)| *d == data) {
                        Some((_, r)) => *r,
                        None => {
                            let r = data.tree_hash_root().0;
                            data_roots.push((data, r));
                            r
                        }
                    };
                    (BeaconDomainType::BEACON_ATTESTER, root)
                }
                Some(BeaconRole::SyncCommittee) => {
                    (BeaconDomainType::SYNC_COMMITTEE, vote.block_root)
                }
                _ => continue,
            };
            let share = self
                .shares
                .get(&vd.validator_index)
                .ok_or_else(|| RunnerError::other("no share for the duty's validator"))?;
            let signing_root =
                *signing_roots.entry((epoch, domain_type, object_root)).or_insert_with(|| {
                    compute_signing_root(&object_root, &self.network.domain(epoch, domain_type))
                });
            requests.push(SignRequest {
                share_pub_key: share.share_pub_key,
                validator_index: vd.validator_index,
                domain_type,
                signing_root,
            });
            items.push((vd.validator_index, signing_root));
        }
        let id = self.request(Request::Sign(requests), out);
        self.pending = Some(Pending::PostSign { id, slot: duty.slot, items });
        Ok(())
    }

    /// Broadcasts the partial signatures of the signed items and records the refused ones
    /// in [`CommitteeRunner::refused`].
    ///
    /// # Errors
    /// A result count unlike the item count (nothing recorded), or
    /// [`RunnerError::SignRefused`] when no item was signed (the refusals recorded).
    fn broadcast_post_consensus(
        &mut self,
        slot: Slot,
        items: &[(ValidatorIndex, Root)],
        results: Vec<SignResult>,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        if results.len() != items.len() {
            return Err(RunnerError::other("wrong number of signatures"));
        }
        let signer = self.controller.data().committee.operator_id;
        let mut messages = Vec::with_capacity(items.len());
        for (&(validator_index, signing_root), result) in items.iter().zip(results) {
            match result {
                Ok(partial_signature) => messages.push(PartialSignatureMessage {
                    partial_signature,
                    signing_root,
                    signer,
                    validator_index,
                }),
                Err(reason) => self.refused.push((validator_index, signing_root, reason)),
            }
        }
        if messages.is_empty() {
            let Some((validator, _, reason)) = self.refused.first() else {
                return Err(RunnerError::other("no item to sign"));
            };
            return Err(RunnerError::SignRefused { validator: *validator, reason: reason.clone() });
        }
        let psig = PartialSignatureMessages {
            msg_type: PartialSigMsgType::PostConsensus as u64,
            slot,
            messages: VariableList::new(messages)
                .map_err(|_| RunnerError::other("too many partial signatures"))?,
        };
        let committee = &self.controller.data().committee;
        let ids: Vec<u64> = committee.committee.iter().map(|o| o.operator_id).collect();
        let committee_id = CommitteeId::from_operators(&ids);
        let msg_id =
            MessageId::for_committee(committee.domain_type, RunnerRole::Committee, &committee_id.0);
        let signed = sign_partial_message(&self.config, signer, msg_id, &psig)?;
        out.push(Output::Broadcast(signed));
        Ok(())
    }

    /// `ProcessPostConsensus`.
    ///
    /// # Errors
    /// Validation errors (`NoRunningDuty`, `NoDecidedValue`, slots, signer), and
    /// `ReconstructSignature` when a quorum's signature did not verify.
    pub fn process_post_consensus(
        &mut self,
        psig: &PartialSignatureMessages,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        self.validate_post_consensus(psig)?;
        let Some(state) = self.state.as_mut() else { return Err(RunnerError::NoRunningDuty) };
        let (quorum, roots) =
            add_partial_signatures(&*self.bls, &mut state.post_consensus, psig, &self.shares);
        if !quorum {
            return Ok(());
        }
        let root_set: BTreeSet<Root> = roots.into_iter().collect();
        let Duty::Committee(duty) = state.starting_duty.clone() else { return Ok(()) };
        let vote = state
            .decided_value
            .as_ref()
            .and_then(|v| BeaconVote::from_ssz_bytes(v).ok())
            .ok_or(RunnerError::NoDecidedValue)?;
        let expected = match &self.expected_memo {
            Some((d, v, e)) if *d == duty && *v == vote => Arc::clone(e),
            _ => {
                let e = Arc::new(self.expected(&duty, &vote));
                self.expected_memo = Some((duty, vote, Arc::clone(&e)));
                e
            }
        };
        // The (root, role, validator) quorums to reconstruct, in the spec's order.
        let mut candidates: Vec<(Root, BeaconRole, ValidatorIndex)> = Vec::new();
        let Some(state) = self.state.as_ref() else { return Err(RunnerError::NoRunningDuty) };
        for root in &root_set {
            // `findValidators`: attesters with this root, else sync-committee members.
            let mut role = BeaconRole::Attester;
            let mut validators: Vec<ValidatorIndex> = expected
                .iter()
                .filter(|(r, _, rt, _)| *r == BeaconRole::Attester && rt == root)
                .map(|(_, v, _, _)| *v)
                .collect();
            if validators.is_empty() {
                role = BeaconRole::SyncCommittee;
                validators = expected
                    .iter()
                    .filter(|(r, _, rt, _)| *r == BeaconRole::SyncCommittee && rt == root)
                    .map(|(_, v, _, _)| *v)
                    .collect();
            }
            for validator in validators {
                if state.post_consensus.has_quorum(validator, root)
                    && !self.submitted.contains(&(role as u64, validator))
                    && self.shares.contains_key(&validator)
                {
                    candidates.push((*root, role, validator));
                }
            }
        }
        // Reconstruct all quorums and verify them as one batch (the implementation falls
        // back to per-quorum checks when the batch fails).
        let batched: Vec<Result<[u8; 96], ReconstructError>> = {
            let sets: Vec<QuorumSet<'_>> = candidates
                .iter()
                .filter_map(|(root, _, v)| {
                    let share = self.shares.get(v)?;
                    state.post_consensus.quorum_set(root, &share.validator_pub_key, *v).ok()
                })
                .collect();
            if sets.len() == candidates.len() {
                self.bls.reconstruct_batch(&sets, &batch_seed(&sets), &mut self.cache)
            } else {
                Vec::new()
            }
        };
        let mut any_err = None;
        let mut to_submit: BTreeMap<(u64, ValidatorIndex), Submission> = BTreeMap::new();
        // Validators whose signatures were pruned in this call: their later quorums are
        // re-checked and reconstructed afresh, as the spec's sequential loop would.
        let mut pruned: BTreeSet<ValidatorIndex> = BTreeSet::new();
        for (i, (root, role, validator)) in candidates.iter().enumerate() {
            let (root, role, validator) = (*root, *role, *validator);
            let Some(state) = self.state.as_mut() else { break };
            let Some(share) = self.shares.get(&validator) else { continue };
            let result = match batched.get(i) {
                Some(r) if !pruned.contains(&validator) => r.clone(),
                _ => {
                    if !state.post_consensus.has_quorum(validator, &root) {
                        continue;
                    }
                    state.post_consensus.reconstruct_with(
                        &*self.bls,
                        &root,
                        &share.validator_pub_key,
                        validator,
                        &mut self.cache,
                    )
                }
            };
            let sig = match result {
                Ok(sig) => sig,
                Err(e) => {
                    let keys = share_keys(share);
                    for r in &root_set {
                        state.post_consensus.drop_invalid(&*self.bls, validator, r, &keys);
                    }
                    pruned.insert(validator);
                    any_err = Some(RunnerError::Reconstruct(e));
                    continue;
                }
            };
            let Some((_, _, _, obj)) =
                expected.iter().find(|(r, v, rt, _)| *r == role && *v == validator && *rt == root)
            else {
                continue;
            };
            to_submit.insert((role as u64, validator), with_signature(obj.clone(), sig));
        }
        // Attestations first, then sync-committee messages, as the spec submits them.
        for ((role, validator), sub) in to_submit {
            out.push(Output::Submit(sub));
            self.submitted.insert((role, validator));
        }
        if let Some(e) = any_err {
            return Err(e);
        }
        let all = expected.iter().all(|(r, v, _, _)| self.submitted.contains(&(*r as u64, *v)));
        if all && let Some(state) = self.state.as_mut() {
            state.finished = true;
        }
        Ok(())
    }

    /// `ValidatePostConsensusMsg` for the committee runner.
    fn validate_post_consensus(&self, psig: &PartialSignatureMessages) -> Result<(), RunnerError> {
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
            .instance(h)
            .and_then(|i| i.state().decided_value.clone().filter(|_| i.state().decided));
        let Some(value) = decided else { return Err(RunnerError::ConsensusInstanceNotDecided) };
        BeaconVote::from_ssz_bytes(&value)
            .map_err(|_| RunnerError::other("failed to parse decided value"))?;
        validate_partial_sig_for_slot(psig, state.starting_duty.slot(), &self.shares)
    }
}

/// The share public keys of a share's committee, by operator.
pub(crate) fn share_keys(share: &Share) -> BTreeMap<u64, [u8; 48]> {
    share.committee.iter().map(|m| (m.signer, m.share_pub_key)).collect()
}

/// `validatePartialSigMsgForSlot`: `Validate`, the slot, and the signer in the committee.
pub(crate) fn validate_partial_sig_for_slot(
    psig: &PartialSignatureMessages,
    expected: Slot,
    shares: &BTreeMap<ValidatorIndex, Share>,
) -> Result<(), RunnerError> {
    psig.validate()?;
    if psig.slot < expected {
        return Err(RunnerError::PartialSigInvalidSlot { got: psig.slot, expected });
    }
    if psig.slot > expected {
        return Err(RunnerError::PartialSigFutureSlot { got: psig.slot, expected });
    }
    let signer = psig.signer().ok_or(RunnerError::UnknownSigner)?;
    let share = shares.values().next().ok_or_else(|| RunnerError::other("no share in runner"))?;
    if !share.committee.iter().any(|m| m.signer == signer) {
        return Err(RunnerError::UnknownSigner);
    }
    Ok(())
}

/// `basePartialSigMsgProcessing`: adds each signature (resolving duplicates by
/// verification) and returns whether any (validator, root) reached its first quorum, and
/// those roots in message order.
pub(crate) fn add_partial_signatures(
    bls: &dyn ThresholdBls,
    container: &mut PartialSigContainer,
    psig: &PartialSignatureMessages,
    shares: &BTreeMap<ValidatorIndex, Share>,
) -> (bool, Vec<Root>) {
    let mut roots = Vec::new();
    for msg in psig.messages.iter() {
        let prev = container.has_quorum(msg.validator_index, &msg.signing_root);
        if container.has(msg.validator_index, msg.signer, &msg.signing_root) {
            let keys = shares.get(&msg.validator_index).map(share_keys).unwrap_or_default();
            let key = keys.get(&msg.signer);
            let verify =
                |sig: &[u8; 96]| key.is_some_and(|k| bls.verify_partial(k, sig, &msg.signing_root));
            let prev_ok = container
                .get(msg.validator_index, msg.signer, &msg.signing_root)
                .is_some_and(verify);
            if !prev_ok {
                container.remove(msg.validator_index, msg.signer, &msg.signing_root);
                if verify(&msg.partial_signature) {
                    container.add(msg);
                }
            }
        } else {
            container.add(msg);
        }
        if container.has_quorum(msg.validator_index, &msg.signing_root) && !prev {
            roots.push(msg.signing_root);
        }
    }
    (!roots.is_empty(), roots)
}

/// Wraps `psig` in an operator-signed `SignedSSVMessage` with `msg_id`.
pub(crate) fn sign_partial_message(
    config: &QbftConfig,
    signer: u64,
    msg_id: MessageId,
    psig: &PartialSignatureMessages,
) -> Result<SignedSsvMessage, RunnerError> {
    let ssv_message = SsvMessage {
        msg_type: MsgType::PartialSignature as u64,
        msg_id,
        data: VariableList::new(psig.as_ssz_bytes())
            .map_err(|_| RunnerError::other("message too large"))?,
    };
    let sig =
        config.signer.sign(&ssv_message.as_ssz_bytes()).map_err(|e| RunnerError::Other(e.0))?;
    Ok(SignedSsvMessage {
        signatures: VariableList::new(vec![
            VariableList::new(sig).map_err(|_| RunnerError::other("signature too long"))?,
        ])
        .map_err(|_| RunnerError::other("signatures"))?,
        operator_ids: VariableList::new(vec![signer]).map_err(|_| RunnerError::other("signers"))?,
        ssv_message,
        full_data: VariableList::empty(),
    })
}

/// `constructAttestationData`: the vote for this validator's committee (index 0 from
/// Electra on).
pub fn attestation_data(
    vote: &BeaconVote,
    duty: &ValidatorDuty,
    version: DataVersion,
) -> AttestationData {
    AttestationData {
        slot: duty.slot,
        index: if version >= DataVersion::Electra { 0 } else { duty.committee_index },
        beacon_block_root: vote.block_root,
        source: vote.source,
        target: vote.target,
    }
}

fn unsigned_attestation(
    data: AttestationData,
    duty: &ValidatorDuty,
    version: DataVersion,
) -> Option<Submission> {
    if version >= DataVersion::Electra {
        Some(Submission::SingleAttestation(electra::SingleAttestation {
            committee_index: duty.committee_index,
            attester_index: duty.validator_index,
            data,
            signature: [0; 96],
        }))
    } else {
        let len = usize::try_from(duty.committee_length).ok()?;
        let mut bits = BitList::with_capacity(len).ok()?;
        if let Ok(i) = usize::try_from(duty.validator_committee_index) {
            let _ = bits.set(i, true);
        }
        Some(Submission::Attestation(phase0::Attestation {
            aggregation_bits: bits,
            data,
            signature: [0; 96],
        }))
    }
}

fn with_signature(sub: Submission, sig: [u8; 96]) -> Submission {
    match sub {
        Submission::Attestation(mut a) => {
            a.signature = sig;
            Submission::Attestation(a)
        }
        Submission::SingleAttestation(mut a) => {
            a.signature = sig;
            Submission::SingleAttestation(a)
        }
        Submission::SyncCommitteeMessage(mut m) => {
            m.signature = sig;
            Submission::SyncCommitteeMessage(m)
        }
        other => other,
    }
}
