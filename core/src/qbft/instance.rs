//! One QBFT instance (one height): `qbft/instance.go`, `proposal.go`, `prepare.go`,
//! `commit.go`, `round_change.go`, `timeout.go` of ssv-spec v1.2.2.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::config::{CommitteeMember, QbftConfig};
use super::container::{unique_signers, MsgContainer};
use super::error::QbftError;
use super::message::{hash_data_root, sign_message, ProcessingMessage, Unsigned};
use super::{Decided, Output, Round, UnixMillis, FIRST_ROUND, NO_ROUND};
use crate::types::{Height, OperatorId, QbftMessageType, Root, SignedSsvMessage};

/// The spec's instance state (`qbft.State`): what the vectors' post-states describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    /// This operator and its committee.
    pub committee: CommitteeMember,
    /// The instance identifier (the 56-byte message id of the duty executor and role).
    pub id: Vec<u8>,
    /// Current round, from 1.
    pub round: Round,
    /// The height (the duty's slot).
    pub height: Height,
    /// The last round in which this operator saw a prepare quorum, 0 if none.
    pub last_prepared_round: Round,
    /// The value prepared in that round.
    pub last_prepared_value: Option<Vec<u8>>,
    /// The proposal accepted in the current round.
    pub proposal_accepted_for_current_round: Option<ProcessingMessage>,
    /// Whether a commit quorum (or a decided message) was seen.
    pub decided: bool,
    /// The decided value.
    pub decided_value: Option<Vec<u8>>,
    /// Accepted proposals.
    pub propose_container: MsgContainer,
    /// Accepted prepares.
    pub prepare_container: MsgContainer,
    /// Accepted commits (and decided messages).
    pub commit_container: MsgContainer,
    /// Accepted round changes.
    pub round_change_container: MsgContainer,
}

impl State {
    /// A fresh state at round 1 (`NewInstance`).
    pub fn new(committee: CommitteeMember, id: Vec<u8>, height: Height) -> Self {
        Self {
            committee,
            id,
            round: FIRST_ROUND,
            height,
            last_prepared_round: NO_ROUND,
            last_prepared_value: None,
            proposal_accepted_for_current_round: None,
            decided: false,
            decided_value: None,
            propose_container: MsgContainer::default(),
            prepare_container: MsgContainer::default(),
            commit_container: MsgContainer::default(),
            round_change_container: MsgContainer::default(),
        }
    }
}

/// The pending round timer: the round it was started for and when it fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoundTimer {
    /// The round the timer was started for.
    pub round: Round,
    /// When it fires, Unix milliseconds.
    pub deadline: UnixMillis,
}

/// Everything an [`Instance`] holds besides its configuration; serializable for snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstanceData {
    /// The spec state.
    pub state: State,
    /// The value this operator started with (`None` for an instance created by a decided
    /// message).
    pub start_value: Option<Vec<u8>>,
    /// Set by the controller when a newer instance starts (`ForceStop`).
    pub force_stopped: bool,
    /// `Start` runs once.
    pub started: bool,
    /// The running round timer.
    pub timer: Option<RoundTimer>,
}

/// What an [`Instance`] is asked to do.
#[derive(Debug, Clone)]
pub enum InstanceInput {
    /// A received message, decoded or not. Its own signature is *not* checked here (the
    /// shell checks it statelessly first); justification signatures are.
    Message(SignedSsvMessage),
    /// The clock reached (or passed) [`Instance::poll_timeout`]. Early or repeated
    /// timeouts do nothing.
    Timeout,
}

/// A sans-IO QBFT instance for one height.
///
/// # Driving contract
/// 1. Create it with [`Instance::new`] (or restore with [`Instance::from_data`]).
/// 2. Call [`Instance::start`] once with the value to propose. It pushes a
///    [`Output::TimerSet`] for round 1 and, if this operator leads round 1, a
///    [`Output::Broadcast`] proposal.
/// 3. For every received message call [`Instance::handle`] with
///    [`InstanceInput::Message`]; when the clock reaches [`Instance::poll_timeout`] call
///    it with [`InstanceInput::Timeout`]. Each call pushes, in order, the messages to
///    broadcast (already signed by the configured [`OperatorSigner`](super::OperatorSigner)),
///    timer changes, and at most one [`Output::Decided`] with the aggregated commit.
/// 4. A returned error names the spec code ([`SpecError`](crate::error::SpecError)); the
///    state is unchanged, except where the spec mutates before failing (a broadcast
///    refused because the round just reached the cut-off).
///
/// No clock, RNG, thread or IO: `now` is only used to compute deadlines.
#[derive(Debug, Clone)]
pub struct Instance {
    config: Arc<QbftConfig>,
    data: InstanceData,
}

impl Instance {
    /// A new, not yet started instance at `height` (round 1).
    pub fn new(config: Arc<QbftConfig>, committee: CommitteeMember, id: Vec<u8>, height: Height) -> Self {
        Self::from_data(
            config,
            InstanceData {
                state: State::new(committee, id, height),
                start_value: None,
                force_stopped: false,
                started: false,
                timer: None,
            },
        )
    }

    /// Restores an instance from a snapshot (or a vector's pre-state).
    pub fn from_data(config: Arc<QbftConfig>, data: InstanceData) -> Self {
        Self { config, data }
    }

    /// The snapshot: state, start value, stop flag and timer.
    pub fn data(&self) -> &InstanceData {
        &self.data
    }

    /// The spec state.
    pub fn state(&self) -> &State {
        &self.data.state
    }

    /// Mutable snapshot access, for harnesses that set up pre-states.
    pub fn data_mut(&mut self) -> &mut InstanceData {
        &mut self.data
    }

    /// The height.
    pub fn height(&self) -> Height {
        self.data.state.height
    }

    /// Stops processing messages and timeouts for good (`ForceStop`).
    pub fn force_stop(&mut self) {
        self.data.force_stopped = true;
    }

    /// Whether messages and timeouts are still processed: not force-stopped and the round
    /// is below the cut-off (`CanProcessMessages`).
    pub fn can_process_messages(&self) -> bool {
        !self.data.force_stopped && self.data.state.round < self.config.cut_off_round
    }

    /// When [`InstanceInput::Timeout`] is next due, `None` when no timer runs (not started,
    /// stopped, or past the cut-off).
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        if !self.can_process_messages() {
            return None;
        }
        self.data.timer.map(|t| t.deadline)
    }

    /// Starts the instance with `value` (`Start`): round 1, its timer, and a proposal if
    /// this operator leads round 1. A second call does nothing.
    pub fn start(&mut self, now: UnixMillis, value: Vec<u8>, out: &mut Vec<Output>) -> Result<(), QbftError> {
        if self.data.started {
            return Ok(());
        }
        self.data.started = true;
        self.data.start_value = Some(value);
        self.data.state.round = FIRST_ROUND;
        self.set_timer(now, FIRST_ROUND, out);
        let state = &self.data.state;
        if self.config.proposer.proposer(state, FIRST_ROUND) == state.committee.operator_id {
            let value = self.data.start_value.clone().unwrap_or_default();
            // The spec only logs a failure here.
            if let Ok(proposal) = self.create_proposal(&value, &[], &[]) {
                let _ = self.broadcast(proposal, out);
            }
        }
        Ok(())
    }

    /// Handles one input at `now`; see the type's driving contract.
    ///
    /// # Errors
    /// The spec's rejection of the input, with its code.
    pub fn handle(&mut self, now: UnixMillis, input: InstanceInput, out: &mut Vec<Output>) -> Result<(), QbftError> {
        match input {
            InstanceInput::Message(signed) => {
                let msg = ProcessingMessage::new(signed)?;
                self.process_msg(now, msg, out)
            }
            InstanceInput::Timeout => match self.poll_timeout() {
                Some(deadline) if now >= deadline => self.on_round_timeout(now, out),
                _ => Ok(()),
            },
        }
    }

    /// The spec's `UponRoundTimeout`, unconditionally: move to round + 1, broadcast a
    /// round change, restart the timer. [`Instance::handle`] calls this when the deadline
    /// passed; harnesses may call it directly.
    ///
    /// # Errors
    /// [`QbftError::TimeoutInstance`] when the instance is stopped.
    pub fn on_round_timeout(&mut self, now: UnixMillis, out: &mut Vec<Output>) -> Result<(), QbftError> {
        if !self.can_process_messages() {
            return Err(QbftError::TimeoutInstance);
        }
        let new_round = self.data.state.round.saturating_add(1);
        let result = self
            .create_round_change(new_round)
            .and_then(|rc| self.broadcast(rc, out));
        // The spec applies these in a `defer`, so they happen even when broadcasting failed.
        self.data.state.round = new_round;
        self.data.state.proposal_accepted_for_current_round = None;
        self.set_timer(now, new_round, out);
        result
    }

    /// The spec's `ProcessMsg` on a decoded message. Used by the controller.
    pub(crate) fn process_msg(
        &mut self,
        now: UnixMillis,
        msg: ProcessingMessage,
        out: &mut Vec<Output>,
    ) -> Result<(), QbftError> {
        if !self.can_process_messages() {
            return Err(QbftError::InstanceStoppedProcessingMessages);
        }
        self.base_msg_validation(&msg)?;
        match msg.msg_type() {
            Some(QbftMessageType::Proposal) => self.upon_proposal(now, msg, out),
            Some(QbftMessageType::Prepare) => self.upon_prepare(msg, out),
            Some(QbftMessageType::Commit) => self.upon_commit(msg, out),
            Some(QbftMessageType::RoundChange) => self.upon_round_change(now, msg, out),
            None => Err(QbftError::MessageTypeInvalid),
        }
    }

    fn set_timer(&mut self, now: UnixMillis, round: Round, out: &mut Vec<Output>) {
        let height = self.data.state.height;
        let deadline = self.config.timeouts.deadline(height, round, now);
        self.data.timer = Some(RoundTimer { round, deadline });
        out.push(Output::TimerSet { height, round, deadline });
    }

    fn broadcast(&self, msg: SignedSsvMessage, out: &mut Vec<Output>) -> Result<(), QbftError> {
        if !self.can_process_messages() {
            return Err(QbftError::InstanceStoppedProcessingMessages);
        }
        out.push(Output::Broadcast(msg));
        Ok(())
    }

    fn proposer(&self, round: Round) -> OperatorId {
        self.config.proposer.proposer(&self.data.state, round)
    }

    // ---- validation -------------------------------------------------------------------

    fn base_msg_validation(&self, msg: &ProcessingMessage) -> Result<(), QbftError> {
        msg.validate()?;
        let state = &self.data.state;
        if msg.round() < state.round {
            return Err(QbftError::PastRound);
        }
        match msg.msg_type() {
            Some(QbftMessageType::Proposal) => self.is_valid_proposal(msg),
            Some(QbftMessageType::Prepare) => {
                let proposal = state
                    .proposal_accepted_for_current_round
                    .as_ref()
                    .ok_or(QbftError::NoProposalForCurrentRound)?;
                valid_prepare_ignore_signature(msg, state.height, state.round, &proposal.qbft.root, &state.committee)
            }
            Some(QbftMessageType::Commit) => {
                let proposal = state
                    .proposal_accepted_for_current_round
                    .as_ref()
                    .ok_or(QbftError::NoProposalForCurrentRound)?;
                validate_commit(msg, state.height, state.round, proposal, &state.committee)
            }
            Some(QbftMessageType::RoundChange) => {
                self.valid_round_change_ignore_signature(msg, state.height, msg.round(), msg.full_data())
            }
            None => Err(QbftError::MessageTypeInvalid),
        }
    }

    fn is_valid_proposal(&self, msg: &ProcessingMessage) -> Result<(), QbftError> {
        let state = &self.data.state;
        if msg.msg_type() != Some(QbftMessageType::Proposal) {
            return Err(QbftError::UnexpectedMessageType);
        }
        if msg.qbft.height != state.height {
            return Err(QbftError::WrongMessageHeight);
        }
        if msg.signers().len() != 1 {
            return Err(QbftError::MessageAllowsOneSignerOnly);
        }
        if !msg.signers_in_committee(&state.committee) {
            return Err(QbftError::SignerIsNotInCommittee);
        }
        if !msg.matched_signers(&[self.proposer(msg.round())]) {
            return Err(QbftError::ProposalLeaderInvalid);
        }
        if msg.validate().is_err() {
            return Err(QbftError::ProposalInvalid);
        }
        if hash_data_root(msg.full_data()) != msg.qbft.root {
            return Err(QbftError::RootHashInvalid);
        }
        let round_changes = msg.round_change_justifications()?;
        let prepares = msg.prepare_justifications()?;
        self.is_proposal_justification(&round_changes, &prepares, state.height, msg.round(), msg.full_data())?;
        if (state.proposal_accepted_for_current_round.is_none() && msg.round() == state.round)
            || msg.round() > state.round
        {
            return Ok(());
        }
        Err(QbftError::ProposalInvalid)
    }

    /// `isProposalJustification`: the value passes the check and, after round 1, a quorum
    /// of valid round changes (and, if any was prepared, a quorum of valid prepares for the
    /// highest prepared round and value) justify proposing `full_data` at `round`.
    fn is_proposal_justification(
        &self,
        round_changes: &[ProcessingMessage],
        prepares: &[ProcessingMessage],
        height: Height,
        round: Round,
        full_data: &[u8],
    ) -> Result<(), QbftError> {
        self.config.value_check.check(full_data)?;
        if round == FIRST_ROUND {
            return Ok(());
        }
        let state = &self.data.state;
        for rc in round_changes {
            self.valid_round_change_verify_signature(rc, height, round, full_data)?;
        }
        if !state.committee.has_quorum(unique_signers(round_changes)) {
            return Err(QbftError::RoundChangeNoQuorum);
        }
        if !round_changes.iter().any(ProcessingMessage::round_change_prepared) {
            return Ok(());
        }
        if !state.committee.has_quorum(unique_signers(prepares)) {
            return Err(QbftError::PreparesNoQuorum);
        }
        let highest = highest_prepared(round_changes).ok_or(QbftError::NotHighestPrepared)?;
        if hash_data_root(full_data) != highest.qbft.root {
            return Err(QbftError::NotHighestPrepared);
        }
        for pm in prepares {
            self.valid_prepare_verify_signature(pm, height, highest.qbft.data_round, &highest.qbft.root)
                .map_err(|_| QbftError::PrepareMessageInvalid)?;
        }
        Ok(())
    }

    fn valid_prepare_verify_signature(
        &self,
        msg: &ProcessingMessage,
        height: Height,
        round: Round,
        root: &Root,
    ) -> Result<(), QbftError> {
        let committee = &self.data.state.committee;
        valid_prepare_ignore_signature(msg, height, round, root, committee)?;
        msg.verify(&self.config, committee)
    }

    /// `validRoundChangeForDataIgnoreSignature`; `full_data` is the value the round change
    /// is checked against (its own for a received round change, the proposal's inside a
    /// proposal justification).
    fn valid_round_change_ignore_signature(
        &self,
        msg: &ProcessingMessage,
        height: Height,
        round: Round,
        full_data: &[u8],
    ) -> Result<(), QbftError> {
        let state = &self.data.state;
        if msg.msg_type() != Some(QbftMessageType::RoundChange) {
            return Err(QbftError::UnexpectedMessageType);
        }
        if msg.qbft.height != height {
            return Err(QbftError::WrongMessageHeight);
        }
        if msg.round() != round {
            return Err(QbftError::WrongMessageRound);
        }
        if msg.signers().len() != 1 {
            return Err(QbftError::MessageAllowsOneSignerOnly);
        }
        msg.validate()?;
        if !msg.signers_in_committee(&state.committee) {
            return Err(QbftError::SignerIsNotInCommittee);
        }
        if msg.round_change_prepared() {
            let root = hash_data_root(full_data);
            let prepares = msg.round_change_justifications()?;
            for pm in &prepares {
                self.valid_prepare_verify_signature(pm, state.height, msg.qbft.data_round, &msg.qbft.root)?;
            }
            if root != msg.qbft.root {
                return Err(QbftError::RootHashInvalid);
            }
            if !state.committee.has_quorum(unique_signers(&prepares)) {
                return Err(QbftError::JustificationsNoQuorumInvalid);
            }
            if msg.qbft.data_round > round {
                return Err(QbftError::PreparedRoundAfterRound);
            }
        }
        Ok(())
    }

    fn valid_round_change_verify_signature(
        &self,
        msg: &ProcessingMessage,
        height: Height,
        round: Round,
        full_data: &[u8],
    ) -> Result<(), QbftError> {
        self.valid_round_change_ignore_signature(msg, height, round, full_data)?;
        msg.verify(&self.config, &self.data.state.committee)
    }

    // ---- transitions ------------------------------------------------------------------

    fn upon_proposal(&mut self, now: UnixMillis, msg: ProcessingMessage, out: &mut Vec<Output>) -> Result<(), QbftError> {
        if !self.data.state.propose_container.add_first_for_signer_and_round(msg.clone()) {
            return Ok(());
        }
        let new_round = msg.round();
        let root = hash_data_root(msg.full_data());
        let state = &mut self.data.state;
        let bumped = new_round > state.round;
        state.proposal_accepted_for_current_round = Some(msg);
        if bumped {
            self.set_timer(now, new_round, out);
        }
        self.data.state.round = new_round;
        let prepare = self.create_prepare(new_round, root)?;
        self.broadcast(prepare, out)
    }

    fn upon_prepare(&mut self, msg: ProcessingMessage, out: &mut Vec<Output>) -> Result<(), QbftError> {
        let state = &mut self.data.state;
        let round = state.round;
        let had_quorum = state.committee.has_quorum(unique_signers(state.prepare_container.for_round(round)));
        if !state.prepare_container.add_first_for_signer_and_round(msg) {
            return Ok(());
        }
        if had_quorum || !state.committee.has_quorum(unique_signers(state.prepare_container.for_round(round))) {
            return Ok(());
        }
        let Some(proposal) = state.proposal_accepted_for_current_round.as_ref() else {
            return Err(QbftError::NoProposalForCurrentRound);
        };
        let root = proposal.qbft.root;
        state.last_prepared_value = Some(proposal.full_data().to_vec());
        state.last_prepared_round = round;
        let commit = self.create_commit(root)?;
        self.broadcast(commit, out)
    }

    fn upon_commit(&mut self, msg: ProcessingMessage, out: &mut Vec<Output>) -> Result<(), QbftError> {
        let (round, root) = (msg.round(), msg.qbft.root);
        let state = &mut self.data.state;
        if !state.commit_container.add_first_for_signer_and_round(msg) {
            return Ok(());
        }
        let (signers, msgs) = state.commit_container.longest_unique_signers(round, &root);
        if !state.committee.has_quorum(signers.len()) {
            return Ok(());
        }
        let Some(proposal) = state.proposal_accepted_for_current_round.as_ref() else {
            return Err(QbftError::NoProposalForCurrentRound);
        };
        let value = proposal.full_data().to_vec();
        let aggregated = aggregate_commits(&msgs, &value)?;
        state.decided = true;
        state.decided_value = Some(value.clone());
        out.push(Output::Decided(Decided {
            height: state.height,
            round,
            value,
            aggregated_commit: aggregated,
        }));
        Ok(())
    }

    fn upon_round_change(&mut self, now: UnixMillis, msg: ProcessingMessage, out: &mut Vec<Output>) -> Result<(), QbftError> {
        let msg_round = msg.round();
        let state = &mut self.data.state;
        let had_quorum =
            state.committee.has_quorum(unique_signers(state.round_change_container.for_round(msg_round)));
        if !state.round_change_container.add_first_for_signer_and_round(msg) {
            return Ok(());
        }
        if had_quorum {
            return Ok(());
        }
        if let Some((justified, value)) = self.proposal_justification_for_leading_round(msg_round)? {
            let prepares = justified.round_change_justifications()?;
            let state = &self.data.state;
            let round_changes: Vec<&SignedSsvMessage> =
                state.round_change_container.for_round(state.round).iter().map(|m| &m.signed).collect();
            let prepare_refs: Vec<&SignedSsvMessage> = prepares.iter().map(|m| &m.signed).collect();
            let proposal = self.create_proposal_from(&value, round_changes, prepare_refs)?;
            return self.broadcast(proposal, out);
        }
        // f+1 round changes for higher rounds: jump to the lowest of those rounds.
        let state = &self.data.state;
        let higher: Vec<&ProcessingMessage> =
            state.round_change_container.all().filter(|m| m.round() > state.round).collect();
        if !state.committee.has_partial_quorum(unique_signers(higher.iter().copied())) {
            return Ok(());
        }
        let Some(new_round) = higher.iter().map(|m| m.round()).min() else { return Ok(()) };
        if new_round <= state.round {
            return Ok(());
        }
        self.data.state.round = new_round;
        self.data.state.proposal_accepted_for_current_round = None;
        self.set_timer(now, new_round, out);
        let rc = self.create_round_change(new_round)?;
        self.broadcast(rc, out)
    }

    /// `hasReceivedProposalJustificationForLeadingRound`: the first round change of
    /// `round` (in arrival order) whose quorum justifies a proposal this operator may make,
    /// and the value to propose (its prepared value, or the start value).
    fn proposal_justification_for_leading_round(
        &self,
        round: Round,
    ) -> Result<Option<(ProcessingMessage, Vec<u8>)>, QbftError> {
        let state = &self.data.state;
        let round_changes = state.round_change_container.for_round(round);
        if !state.committee.has_quorum(unique_signers(round_changes)) {
            return Ok(None);
        }
        for rc in round_changes {
            let value = if rc.round_change_prepared() {
                rc.full_data().to_vec()
            } else {
                self.data.start_value.clone().unwrap_or_default()
            };
            let prepares = rc.round_change_justifications()?;
            if self.is_proposal_justification(round_changes, &prepares, state.height, rc.round(), &value).is_err() {
                continue;
            }
            if self.proposer(rc.round()) != state.committee.operator_id {
                continue;
            }
            let current = state.proposal_accepted_for_current_round.is_none() && state.round == round;
            if current || round > state.round {
                return Ok(Some((rc.clone(), value)));
            }
        }
        Ok(None)
    }

    // ---- message creation -------------------------------------------------------------

    fn unsigned_base(&self) -> Unsigned<'_> {
        Unsigned {
            height: self.data.state.height,
            identifier: &self.data.state.id,
            ..Unsigned::default()
        }
    }

    fn sign(&self, u: &Unsigned<'_>) -> Result<SignedSsvMessage, QbftError> {
        sign_message(&self.config, self.data.state.committee.operator_id, u)
    }

    /// `CreateProposal` at the state's round: a signed proposal of `value` with the given
    /// justifications (sent without their full data).
    ///
    /// # Errors
    /// An SSZ bound exceeded, or the signer failed.
    pub fn create_proposal(
        &self,
        value: &[u8],
        round_changes: &[&SignedSsvMessage],
        prepares: &[&SignedSsvMessage],
    ) -> Result<SignedSsvMessage, QbftError> {
        self.create_proposal_from(value, round_changes.to_vec(), prepares.to_vec())
    }

    /// `CreateProposal`: at the *state's* round, as the spec does.
    fn create_proposal_from(
        &self,
        value: &[u8],
        round_changes: Vec<&SignedSsvMessage>,
        prepares: Vec<&SignedSsvMessage>,
    ) -> Result<SignedSsvMessage, QbftError> {
        self.sign(&Unsigned {
            msg_type: QbftMessageType::Proposal as u64,
            round: self.data.state.round,
            root: hash_data_root(value),
            round_change_justification: round_changes,
            prepare_justification: prepares,
            full_data: value,
            ..self.unsigned_base()
        })
    }

    /// `CreatePrepare`: a signed prepare of `root` at `round`.
    ///
    /// # Errors
    /// An SSZ bound exceeded, or the signer failed.
    pub fn create_prepare(&self, round: Round, root: Root) -> Result<SignedSsvMessage, QbftError> {
        self.sign(&Unsigned { msg_type: QbftMessageType::Prepare as u64, round, root, ..self.unsigned_base() })
    }

    /// `CreateCommit`: a signed commit of `root` at the state's round.
    ///
    /// # Errors
    /// An SSZ bound exceeded, or the signer failed.
    pub fn create_commit(&self, root: Root) -> Result<SignedSsvMessage, QbftError> {
        self.sign(&Unsigned {
            msg_type: QbftMessageType::Commit as u64,
            round: self.data.state.round,
            root,
            ..self.unsigned_base()
        })
    }

    /// `CreateRoundChange` for `new_round`, carrying the last prepared value and its
    /// prepare quorum when there is one.
    ///
    /// # Errors
    /// An SSZ bound exceeded, or the signer failed.
    pub fn create_round_change(&self, new_round: Round) -> Result<SignedSsvMessage, QbftError> {
        let state = &self.data.state;
        let prepared = match (&state.last_prepared_value, state.last_prepared_round) {
            (Some(value), lpr) if lpr != NO_ROUND => Some((lpr, value)),
            _ => None,
        };
        let Some((lpr, value)) = prepared else {
            return self.sign(&Unsigned {
                msg_type: QbftMessageType::RoundChange as u64,
                round: new_round,
                ..self.unsigned_base()
            });
        };
        let root = hash_data_root(value);
        let justification: Vec<&ProcessingMessage> = state
            .prepare_container
            .for_round(lpr)
            .iter()
            .filter(|m| valid_prepare_ignore_signature(m, state.height, lpr, &root, &state.committee).is_ok())
            .collect();
        let justification: Vec<&SignedSsvMessage> =
            if state.committee.has_quorum(unique_signers(justification.iter().copied())) {
                justification.iter().map(|m| &m.signed).collect()
            } else {
                Vec::new()
            };
        self.sign(&Unsigned {
            msg_type: QbftMessageType::RoundChange as u64,
            round: new_round,
            root,
            data_round: lpr,
            round_change_justification: justification,
            full_data: value,
            ..self.unsigned_base()
        })
    }
}

/// `validSignedPrepareForHeightRoundAndRootIgnoreSignature`.
pub(crate) fn valid_prepare_ignore_signature(
    msg: &ProcessingMessage,
    height: Height,
    round: Round,
    root: &Root,
    committee: &CommitteeMember,
) -> Result<(), QbftError> {
    if msg.msg_type() != Some(QbftMessageType::Prepare) {
        return Err(QbftError::UnexpectedMessageType);
    }
    if msg.qbft.height != height {
        return Err(QbftError::WrongMessageHeight);
    }
    if msg.round() != round {
        return Err(QbftError::WrongMessageRound);
    }
    msg.validate()?;
    if &msg.qbft.root != root {
        return Err(QbftError::ProposedDataMismatch);
    }
    if msg.signers().len() != 1 {
        return Err(QbftError::MessageAllowsOneSignerOnly);
    }
    if !msg.signers_in_committee(committee) {
        return Err(QbftError::SignerIsNotInCommittee);
    }
    Ok(())
}

/// `baseCommitValidationIgnoreSignature`.
pub(crate) fn base_commit_validation(
    msg: &ProcessingMessage,
    height: Height,
    committee: &CommitteeMember,
) -> Result<(), QbftError> {
    msg.validate().map_err(|e| QbftError::CommitMessageInvalid(Box::new(e)))?;
    if msg.msg_type() != Some(QbftMessageType::Commit) {
        return Err(QbftError::CommitMessageTypeWrong);
    }
    if msg.qbft.height != height {
        return Err(QbftError::WrongMessageHeight);
    }
    if !msg.signers_in_committee(committee) {
        return Err(QbftError::SignerIsNotInCommittee);
    }
    Ok(())
}

fn validate_commit(
    msg: &ProcessingMessage,
    height: Height,
    round: Round,
    proposal: &ProcessingMessage,
    committee: &CommitteeMember,
) -> Result<(), QbftError> {
    base_commit_validation(msg, height, committee)?;
    if msg.signers().len() != 1 {
        return Err(QbftError::MessageAllowsOneSignerOnly);
    }
    if msg.round() != round {
        return Err(QbftError::WrongMessageRound);
    }
    if proposal.qbft.root != msg.qbft.root {
        return Err(QbftError::ProposedDataMismatch);
    }
    Ok(())
}

/// The round change with the highest prepared round; the first one wins ties.
fn highest_prepared(round_changes: &[ProcessingMessage]) -> Option<&ProcessingMessage> {
    let mut best: Option<&ProcessingMessage> = None;
    for rc in round_changes.iter().filter(|rc| rc.round_change_prepared()) {
        if best.is_none_or(|b| b.qbft.data_round < rc.qbft.data_round) {
            best = Some(rc);
        }
    }
    best
}

/// One commit carrying every signer of `msgs`, sorted by operator id, with `value` as its
/// full data (`aggregateCommitMsgs`). The SSV message is the first commit's.
fn aggregate_commits(msgs: &[&ProcessingMessage], value: &[u8]) -> Result<SignedSsvMessage, QbftError> {
    let first = msgs.first().ok_or(QbftError::ZeroCommitMessages)?;
    let mut pairs: Vec<(OperatorId, Vec<u8>)> = Vec::new();
    for m in msgs {
        for (id, sig) in m.signed.operator_ids.iter().zip(m.signed.signatures.iter()) {
            pairs.push((*id, sig.to_vec()));
        }
    }
    pairs.sort_by_key(|(id, _)| *id);
    let mut agg = first.signed.clone();
    agg.operator_ids = ssz_types::VariableList::new(pairs.iter().map(|(id, _)| *id).collect())
        .map_err(|_| QbftError::Encode("aggregated signers"))?;
    agg.signatures = ssz_types::VariableList::new(
        pairs
            .into_iter()
            .map(|(_, sig)| ssz_types::VariableList::new(sig))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| QbftError::Encode("aggregated signature"))?,
    )
    .map_err(|_| QbftError::Encode("aggregated signatures"))?;
    agg.full_data = ssz_types::VariableList::new(value.to_vec()).map_err(|_| QbftError::Encode("full data"))?;
    Ok(agg)
}
