//! Gossip message validation: every rule of the Go SSV node (ssvlabs/ssv v2.3.7
//! `message/validation/`, Alan) as a deterministic state machine.
//!
//! # Driving contract
//! - [`MessageValidator::validate`] takes the receive time, the sending peer's id bytes, the
//!   gossipsub topic, the raw message data and a read-only [`NetworkView`], and returns a
//!   [`Verdict`]: accept (with the decoded message), ignore or reject, with the Go error's
//!   name as the reason. Gossipsub is told the same verdict, so rejecting peers lose score.
//! - Cheap checks come first; RSA verification comes last, once per signer.
//! - Two-phase use, for verifying on several threads: [`MessageValidator::pre_check`]
//!   (every rule but RSA, no state change), [`verify_message_signatures`] (stateless, any
//!   thread), [`MessageValidator::commit`] (the rules again against the current state,
//!   the RSA result given, state updated on accept). Committed in arrival order, the
//!   verdicts and state are those of [`MessageValidator::validate`].
//! - Only an accepted message changes state. State is kept per (peer, message id) and per
//!   signer, lives for [`ValidationConfig::state_ttl_ms`] after its last accepted message,
//!   and is bounded by [`ValidationConfig::max_state_entries`] (the entry closest to expiry
//!   is evicted first).
//! - [`MessageValidator::poll_timeout`] gives the next expiry;
//!   [`MessageValidator::handle_timeout`] drops expired state (harmless to repeat).
//!
//! Nothing here reads a clock or does IO: the same inputs give the same verdicts.

mod decided;
mod errors;
mod state;
mod view;

#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use ssz::Decode as _;

use crate::types::{
    CommitteeId, Epoch, MessageId, OperatorId, PartialSigMsgType, PartialSignatureMessages,
    QbftMessage, QbftMessageType, Round, RunnerRole, SignedSsvMessage, Slot, ValidatorIndex,
};

pub use decided::{DecidedError, check_decided};
pub use errors::{Action, ValidationFailure};
pub use view::{CommitteeView, NetworkView, StaticNetworkView, ValidatorStatus, ValidatorView};

use state::{EMPTY_OPERATOR, OperatorState, SeenMsgTypes, SignerState, ValidatorState};

/// Milliseconds since the Unix epoch.
pub type UnixMillis = u64;

/// Number of gossip subnets (`commons.SubnetsCount`); a power of two.
pub const SUBNET_COUNT: u64 = 128;
/// Prefix of every SSV topic name: the topic of subnet `n` is `ssv.v2.<n>`.
pub const TOPIC_PREFIX: &str = "ssv.v2";

/// Largest pubsub message data (`MaxEncodedMsgSize` = 9,589,483 bytes): 13 signatures and
/// operator ids, the largest payload and full data, plus 5% encoding overhead and 4 bytes.
pub const MAX_ENCODED_MSG_SIZE: usize = 9_589_483;
/// Largest `SSVMessage.Data` of any type (`maxPayloadDataSize`).
pub const MAX_PAYLOAD_DATA_SIZE: usize = 740_506;
/// Largest `SSVMessage.Data` of a consensus message (`maxEncodedConsensusMsgSize`): a QBFT
/// message with 13 prepare and 13 round-change justifications, plus 5% and 4 bytes.
pub const MAX_ENCODED_CONSENSUS_MSG_SIZE: usize = 740_506;
/// Largest `SSVMessage.Data` of a partial-signature message
/// (`maxEncodedPartialSignatureSize`): 1000 signatures of 144 bytes, plus 5% and 4 bytes.
pub const MAX_ENCODED_PARTIAL_SIGNATURE_SIZE: usize = 151_220;
/// RSA-2048 signature length.
pub const RSA_SIGNATURE_SIZE: usize = 256;
/// Most signatures in a sync-committee-contribution batch (`maxSignatures`).
pub const MAX_SIGNATURES: usize = 13;
/// Tolerated clock difference between nodes (`clockErrorTolerance`).
pub const CLOCK_ERROR_TOLERANCE_MS: u64 = 50;
/// How long after its time to live a message is still on time (`lateMessageMargin`).
pub const LATE_MESSAGE_MARGIN_MS: u64 = 3_000;
/// Slots past an epoch that committee and aggregator messages stay valid (`LateSlotAllowance`).
pub const LATE_SLOT_ALLOWANCE: u64 = 2;
/// How far above the time-estimated round a message may be (`allowedRoundsInFuture`).
pub const ALLOWED_ROUNDS_IN_FUTURE: u64 = 1;
/// Rounds up to this one last [`QUICK_TIMEOUT_MS`] (`roundtimer.QuickTimeoutThreshold`).
pub const QUICK_TIMEOUT_THRESHOLD: u64 = 8;
/// Round length up to [`QUICK_TIMEOUT_THRESHOLD`] (`roundtimer.QuickTimeout`).
pub const QUICK_TIMEOUT_MS: u64 = 2_000;
/// Round length after [`QUICK_TIMEOUT_THRESHOLD`] (`roundtimer.SlowTimeout`).
pub const SLOW_TIMEOUT_MS: u64 = 120_000;
/// The node-internal event message type, rejected on the wire (`SSVEventMsgType`).
pub const SSV_EVENT_MSG_TYPE: u64 = 200;

/// `CommitteeSubnet` (Alan): the committee id as a big-endian 256-bit integer mod 128,
/// which is its last byte mod 128.
pub fn committee_subnet(committee_id: &CommitteeId) -> u64 {
    let last = committee_id.0.last().copied().unwrap_or(0);
    u64::from(last) % SUBNET_COUNT
}

/// The full topic name of `subnet`: `ssv.v2.<subnet>`.
pub fn topic_name(subnet: u64) -> String {
    format!("{TOPIC_PREFIX}.{subnet}")
}

/// The round-robin proposer of (height, round) in `committee` (Alan,
/// `roundRobinProposer`): index `(height % n + round - 1) % n`. `None` for an empty
/// committee or round 0.
pub fn round_robin_proposer(
    height: u64,
    round: Round,
    committee: &[OperatorId],
) -> Option<OperatorId> {
    let n = committee.len() as u64;
    let first = height.checked_rem(n)?;
    let index = first.checked_add(round.checked_sub(1)?)?.checked_rem(n)?;
    committee.get(usize::try_from(index).ok()?).copied()
}

/// Beacon clock and limits of the network whose messages are validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationConfig {
    /// This network's SSV domain; messages of other domains are ignored.
    pub domain: crate::types::DomainType,
    /// Beacon genesis time.
    pub genesis_time_ms: UnixMillis,
    /// Slot length (12,000 on mainnet).
    pub slot_duration_ms: u64,
    /// Slots per epoch (32 on mainnet).
    pub slots_per_epoch: u64,
    /// Epochs per sync-committee period (256 on mainnet).
    pub epochs_per_sync_committee_period: u64,
    /// Sync committee size (512 on mainnet).
    pub sync_committee_size: u64,
    /// Most (peer, message id) states kept; each is a few hundred bytes per signer.
    pub max_state_entries: usize,
    /// Whether to verify operator RSA signatures. Always true in a node; the simulator may
    /// turn it off when its messages carry no real signatures.
    pub verify_signatures: bool,
}

impl ValidationConfig {
    /// Mainnet beacon parameters for `domain` and genesis time.
    pub fn mainnet(domain: crate::types::DomainType, genesis_time_ms: UnixMillis) -> Self {
        Self {
            domain,
            genesis_time_ms,
            slot_duration_ms: 12_000,
            slots_per_epoch: 32,
            epochs_per_sync_committee_period: 256,
            sync_committee_size: 512,
            max_state_entries: 1 << 20,
            verify_signatures: true,
        }
    }

    /// Slots whose state is kept: an epoch plus [`LATE_SLOT_ALLOWANCE`] (34 on mainnet).
    pub fn stored_slots(&self) -> u64 {
        self.slots_per_epoch.saturating_add(LATE_SLOT_ALLOWANCE).max(1)
    }

    /// State time to live: [`Self::stored_slots`] slots.
    pub fn state_ttl_ms(&self) -> u64 {
        self.stored_slots().saturating_mul(self.slot_duration_ms)
    }

    /// Start of `slot`.
    pub fn slot_start_ms(&self, slot: Slot) -> UnixMillis {
        self.genesis_time_ms.saturating_add(slot.saturating_mul(self.slot_duration_ms))
    }

    /// The slot at `now` (0 before genesis).
    pub fn slot_at(&self, now: UnixMillis) -> Slot {
        now.saturating_sub(self.genesis_time_ms).checked_div(self.slot_duration_ms).unwrap_or(0)
    }

    /// The epoch of `slot`.
    pub fn epoch_of(&self, slot: Slot) -> Epoch {
        slot.checked_div(self.slots_per_epoch).unwrap_or(0)
    }

    fn is_first_slot_of_epoch(&self, slot: Slot) -> bool {
        slot.checked_rem(self.slots_per_epoch) == Some(0)
    }

    fn sync_committee_period(&self, epoch: Epoch) -> u64 {
        epoch.checked_div(self.epochs_per_sync_committee_period).unwrap_or(0)
    }
}

/// What an accepted message carries, decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MessageBody {
    /// A QBFT message.
    Consensus(QbftMessage),
    /// A batch of partial signatures.
    PartialSignatures(PartialSignatureMessages),
}

/// An accepted message: decoded, checked against every rule, signatures verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatedMessage {
    /// The envelope as received.
    pub signed: SignedSsvMessage,
    /// The decoded payload.
    pub body: MessageBody,
    /// The committee the message belongs to (for validator roles, the validator's).
    pub committee_id: CommitteeId,
}

/// The outcome of validating one gossip message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Deliver to the node and forward to peers.
    Accept(Box<ValidatedMessage>),
    /// Drop without penalty.
    Ignore(ValidationFailure),
    /// Drop and penalise the sender.
    Reject(ValidationFailure),
}

impl Verdict {
    fn from_result(result: Result<ValidatedMessage, ValidationFailure>) -> Self {
        match result {
            Ok(m) => Self::Accept(Box::new(m)),
            Err(e) => match e.action() {
                Action::Ignore => Self::Ignore(e),
                Action::Reject => Self::Reject(e),
            },
        }
    }

    /// The failure, if the message was not accepted.
    pub fn failure(&self) -> Option<&ValidationFailure> {
        match self {
            Self::Accept(_) => None,
            Self::Ignore(e) | Self::Reject(e) => Some(e),
        }
    }
}

type StateKey = (Vec<u8>, MessageId);

/// The result of a message's RSA verification, computed apart from the validator state
/// ([`verify_message_signatures`]) and fed to [`MessageValidator::commit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureCheck {
    /// Every signer's signature verified.
    Valid,
    /// A signature did not verify (or the message did not decode, or a key is missing).
    Invalid,
}

/// Verifies every signer's RSA signature of the raw `SignedSSVMessage` `data` against the
/// operator keys in `view`. Stateless: run it on as many threads as there are cores.
pub fn verify_message_signatures<V: NetworkView + ?Sized>(data: &[u8], view: &V) -> SignatureCheck {
    let Ok(signed) = SignedSsvMessage::from_ssz_bytes(data) else {
        return SignatureCheck::Invalid;
    };
    match verify_signatures(&signed, data, view) {
        Ok(()) => SignatureCheck::Valid,
        Err(_) => SignatureCheck::Invalid,
    }
}

/// How [`MessageValidator::check`] treats the signatures.
#[derive(Debug, Clone, Copy)]
enum SigMode {
    /// Not checked (pre-check).
    Skip,
    /// Verified now.
    Inline,
    /// Verified elsewhere, with this result.
    Known(SignatureCheck),
}

/// The state change of an accepted message.
enum StateUpdate {
    Consensus(ConsensusUpdate),
    /// Applied from the message's partial signatures.
    Partial,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct StateEntry {
    state: ValidatorState,
    expires_at: UnixMillis,
}

/// The message validator: rules plus per-peer state. See the module docs for the contract.
#[derive(Debug, Clone)]
pub struct MessageValidator {
    config: ValidationConfig,
    states: BTreeMap<StateKey, StateEntry>,
    expiry: BTreeSet<(UnixMillis, StateKey)>,
}

/// The committee a message belongs to (`CommitteeInfo`).
struct CommitteeInfo<'a> {
    committee_id: CommitteeId,
    operators: &'a [OperatorId],
    validator_indices: std::borrow::Cow<'a, [ValidatorIndex]>,
}

impl MessageValidator {
    /// A validator with no state.
    pub fn new(config: ValidationConfig) -> Self {
        Self { config, states: BTreeMap::new(), expiry: BTreeSet::new() }
    }

    /// The configuration.
    pub fn config(&self) -> &ValidationConfig {
        &self.config
    }

    /// Number of (peer, message id) states held.
    pub fn state_entries(&self) -> usize {
        self.states.len()
    }

    /// When the next state entry expires, if any.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        self.expiry.first().map(|(t, _)| *t)
    }

    /// Drops every state entry expired at `now`. Idempotent.
    pub fn handle_timeout(&mut self, now: UnixMillis) {
        while let Some((t, _)) = self.expiry.first() {
            if *t > now {
                break;
            }
            if let Some((_, key)) = self.expiry.pop_first() {
                self.states.remove(&key);
            }
        }
    }

    /// Validates one gossip message received at `now` from `peer` on `topic` (full name
    /// `ssv.v2.<n>`, or just `<n>`). Only an accepted message changes state. The same as
    /// [`Self::commit`] with no signature result: the RSA verification runs inline.
    pub fn validate<V: NetworkView + ?Sized>(
        &mut self,
        now: UnixMillis,
        peer: &[u8],
        topic: &str,
        data: &[u8],
        view: &V,
    ) -> Verdict {
        self.commit(now, peer, topic, data, view, None)
    }

    /// Phase one of the two-phase API: every rule except the RSA verification, against the
    /// current state, changing nothing. `Ok(())` means the message only waits for its
    /// signatures: verify them ([`verify_message_signatures`], stateless, on any thread)
    /// and pass the result to [`Self::commit`]. `Err` is the verdict [`Self::validate`]
    /// would give now, without spending an RSA verification on it.
    ///
    /// # Errors
    /// The ignore or reject verdict of the first failing cheap rule.
    pub fn pre_check<V: NetworkView + ?Sized>(
        &self,
        now: UnixMillis,
        peer: &[u8],
        topic: &str,
        data: &[u8],
        view: &V,
    ) -> Result<(), Verdict> {
        match self.check(now, peer, topic, data, view, SigMode::Skip) {
            Ok(_) => Ok(()),
            Err(e) => Err(Verdict::from_result(Err(e))),
        }
    }

    /// Phase two: checks every rule again against the current state (cheap; earlier
    /// commits may have changed it), takes the RSA result from `signatures` (verifying
    /// inline when `None`), and updates the state only when the message is accepted.
    ///
    /// Fed the same messages in the same order with the same `now`s, and with
    /// `signatures` computed by [`verify_message_signatures`] against the same view, it
    /// gives exactly the verdicts and state of [`Self::validate`], wherever and in
    /// whatever order the verifications ran.
    pub fn commit<V: NetworkView + ?Sized>(
        &mut self,
        now: UnixMillis,
        peer: &[u8],
        topic: &str,
        data: &[u8],
        view: &V,
        signatures: Option<SignatureCheck>,
    ) -> Verdict {
        let mode = match signatures {
            Some(known) => SigMode::Known(known),
            None => SigMode::Inline,
        };
        let result =
            self.check(now, peer, topic, data, view, mode).map(|(message, key, update)| {
                match (&update, &message.body) {
                    (StateUpdate::Consensus(u), _) => {
                        self.commit_state(key, now, |state, cfg| u.apply(state, cfg));
                    }
                    (StateUpdate::Partial, MessageBody::PartialSignatures(psig)) => {
                        self.commit_state(key, now, |state, cfg| {
                            update_partial_state(state, cfg, psig);
                        });
                    }
                    (StateUpdate::Partial, MessageBody::Consensus(_)) => {}
                }
                message
            });
        Verdict::from_result(result)
    }

    /// Every rule, without changing state; the signatures as `sig` says.
    fn check<V: NetworkView + ?Sized>(
        &self,
        now: UnixMillis,
        peer: &[u8],
        topic: &str,
        data: &[u8],
        view: &V,
        sig: SigMode,
    ) -> Result<(ValidatedMessage, StateKey, StateUpdate), ValidationFailure> {
        use ValidationFailure as F;
        // Pubsub rules.
        if data.is_empty() {
            return Err(F::PubSubMessageHasNoData);
        }
        if data.len() > MAX_ENCODED_MSG_SIZE {
            return Err(F::PubSubDataTooBig(data.len()));
        }
        let signed =
            SignedSsvMessage::from_ssz_bytes(data).map_err(|_| F::MalformedPubSubMessage)?;

        validate_signed_ssv_message(&signed, view)?;
        let role = self.validate_ssv_message(&signed)?;
        let info = self.committee_info(&signed.ssv_message.msg_id, role, now, view)?;

        // Committee checks.
        if signed.operator_ids.iter().any(|s| !info.operators.contains(s)) {
            return Err(F::SignerNotInCommittee);
        }
        let want = committee_subnet(&info.committee_id).to_string();
        let base =
            topic.strip_prefix(TOPIC_PREFIX).and_then(|t| t.strip_prefix('.')).unwrap_or(topic);
        if base != want {
            return Err(F::IncorrectTopic);
        }

        let key: StateKey = (peer.to_vec(), signed.ssv_message.msg_id);
        let existing = self.states.get(&key).map(|e| &e.state);
        let (body, update) = match signed.ssv_message.msg_type {
            0 => {
                let (qbft, update) =
                    self.validate_consensus(&signed, role, &info, now, existing, view)?;
                (MessageBody::Consensus(qbft), StateUpdate::Consensus(update))
            }
            _ => {
                let psig = self.validate_partial(&signed, role, &info, now, existing, view)?;
                (MessageBody::PartialSignatures(psig), StateUpdate::Partial)
            }
        };
        // RSA last.
        if self.config.verify_signatures {
            match sig {
                SigMode::Skip | SigMode::Known(SignatureCheck::Valid) => {}
                SigMode::Known(SignatureCheck::Invalid) => {
                    return Err(F::SignatureVerification);
                }
                SigMode::Inline => verify_signatures(&signed, data, view)?,
            }
        }
        let message = ValidatedMessage { signed, body, committee_id: info.committee_id };
        Ok((message, key, update))
    }

    /// Applies `update` to the state of `key`, creating it if needed, and refreshes its
    /// expiry. Evicts expired entries, then the entry closest to expiry, when full.
    fn commit_state(
        &mut self,
        key: StateKey,
        now: UnixMillis,
        update: impl FnOnce(&mut ValidatorState, &ValidationConfig),
    ) {
        let expires_at = now.saturating_add(self.config.state_ttl_ms());
        if let Some(entry) = self.states.get_mut(&key) {
            self.expiry.remove(&(entry.expires_at, key.clone()));
            update(&mut entry.state, &self.config);
            entry.expires_at = expires_at;
            self.expiry.insert((expires_at, key));
            return;
        }
        if self.states.len() >= self.config.max_state_entries {
            self.handle_timeout(now);
        }
        while self.states.len() >= self.config.max_state_entries.max(1) {
            match self.expiry.pop_first() {
                Some((_, old)) => {
                    self.states.remove(&old);
                }
                None => break,
            }
        }
        let mut state = ValidatorState::default();
        update(&mut state, &self.config);
        self.expiry.insert((expires_at, key.clone()));
        self.states.insert(key, StateEntry { state, expires_at });
    }

    /// `validateSSVMessage`: data present and bounded, known type, own domain, valid role.
    fn validate_ssv_message(
        &self,
        signed: &SignedSsvMessage,
    ) -> Result<RunnerRole, ValidationFailure> {
        use ValidationFailure as F;
        let msg = &signed.ssv_message;
        if msg.data.is_empty() {
            return Err(F::EmptyData);
        }
        if msg.data.len() > MAX_PAYLOAD_DATA_SIZE {
            return Err(F::SsvDataTooBig);
        }
        match msg.msg_type {
            0 | 1 => {}
            SSV_EVENT_MSG_TYPE => return Err(F::EventMessage),
            _ => return Err(F::UnknownSsvMessageType),
        }
        if msg.msg_id.domain() != self.config.domain {
            return Err(F::WrongDomain);
        }
        msg.msg_id.role().ok_or(F::InvalidRole)
    }

    /// `getCommitteeAndValidatorIndices`.
    fn committee_info<'v, V: NetworkView + ?Sized>(
        &self,
        msg_id: &MessageId,
        role: RunnerRole,
        now: UnixMillis,
        view: &'v V,
    ) -> Result<CommitteeInfo<'v>, ValidationFailure> {
        use ValidationFailure as F;
        if role == RunnerRole::Committee {
            let committee_id = CommitteeId(*msg_id.committee_id());
            let committee = view.committee(&committee_id).ok_or(F::NonExistentCommitteeId)?;
            if committee.validator_indices.is_empty() {
                return Err(F::NoValidators);
            }
            return Ok(CommitteeInfo {
                committee_id,
                operators: committee.operators,
                validator_indices: std::borrow::Cow::Borrowed(committee.validator_indices),
            });
        }
        let share = view.validator(msg_id.duty_executor_id()).ok_or(F::UnknownValidator)?;
        if share.liquidated {
            return Err(F::ValidatorLiquidated);
        }
        if share.status == ValidatorStatus::Unknown {
            return Err(F::NoShareMetadata);
        }
        let epoch = self.config.epoch_of(self.config.slot_at(now));
        if !share.is_attesting(epoch) {
            return Err(F::ValidatorNotAttesting);
        }
        Ok(CommitteeInfo {
            committee_id: CommitteeId::from_operators(share.committee),
            operators: share.committee,
            validator_indices: std::borrow::Cow::Owned(vec![share.index]),
        })
    }

    /// `validateSlotTime`: not early, not past the role's time to live.
    fn validate_slot_time(
        &self,
        slot: Slot,
        role: RunnerRole,
        now: UnixMillis,
    ) -> Result<(), ValidationFailure> {
        let start = self.config.slot_start_ms(slot);
        if start.saturating_sub(now) > CLOCK_ERROR_TOLERANCE_MS {
            return Err(ValidationFailure::EarlySlotMessage);
        }
        let ttl = match role {
            RunnerRole::Proposer | RunnerRole::SyncCommitteeContribution => {
                1u64.saturating_add(LATE_SLOT_ALLOWANCE)
            }
            RunnerRole::Committee | RunnerRole::Aggregator => self.config.stored_slots(),
            RunnerRole::ValidatorRegistration | RunnerRole::VoluntaryExit => return Ok(()),
        };
        let deadline = self
            .config
            .slot_start_ms(slot.saturating_add(ttl))
            .saturating_add(LATE_MESSAGE_MARGIN_MS);
        if now.saturating_sub(deadline) > CLOCK_ERROR_TOLERANCE_MS {
            return Err(ValidationFailure::LateSlotMessage);
        }
        Ok(())
    }

    /// `validateBeaconDuty`: proposer and sync-committee-contribution messages need a duty.
    fn validate_beacon_duty<V: NetworkView + ?Sized>(
        &self,
        role: RunnerRole,
        slot: Slot,
        indices: &[ValidatorIndex],
        randao: bool,
        now: UnixMillis,
        view: &V,
    ) -> Result<(), ValidationFailure> {
        let epoch = self.config.epoch_of(slot);
        let index = indices.first().copied().unwrap_or(0);
        match role {
            RunnerRole::Proposer => {
                // RANDAO at an epoch's first slot is tolerated while duties are fetched.
                if randao
                    && self.config.is_first_slot_of_epoch(slot)
                    && self.config.slot_at(now) <= slot
                    && !view.proposer_duties_known(epoch)
                {
                    return Ok(());
                }
                if !view.has_proposer_duty(epoch, slot, index) {
                    return Err(ValidationFailure::NoDuty);
                }
            }
            RunnerRole::SyncCommitteeContribution => {
                let period = self.config.sync_committee_period(epoch);
                if !view.has_sync_committee_duty(period, index) {
                    return Err(ValidationFailure::NoDuty);
                }
            }
            _ => {}
        }
        Ok(())
    }

    /// `dutyLimit`: duties per epoch a signer may run for this message id, if limited.
    fn duty_limit<V: NetworkView + ?Sized>(
        &self,
        msg_id: &MessageId,
        role: RunnerRole,
        slot: Slot,
        indices: &[ValidatorIndex],
        view: &V,
    ) -> Option<u64> {
        match role {
            RunnerRole::VoluntaryExit => {
                Some(view.voluntary_exit_duty_count(slot, msg_id.duty_executor_id()))
            }
            RunnerRole::Aggregator | RunnerRole::ValidatorRegistration => Some(2),
            RunnerRole::Committee => {
                let v = indices.len() as u64;
                let spe = self.config.slots_per_epoch;
                if v < spe / 2 {
                    let period = self.config.sync_committee_period(self.config.epoch_of(slot));
                    if indices.iter().any(|i| view.has_sync_committee_duty(period, *i)) {
                        return Some(spe);
                    }
                }
                Some(spe.min(v.saturating_mul(2)))
            }
            RunnerRole::Proposer | RunnerRole::SyncCommitteeContribution => None,
        }
    }

    /// `validateDutyCount` for one signer.
    #[allow(clippy::too_many_arguments)]
    fn validate_duty_count<V: NetworkView + ?Sized>(
        &self,
        msg_id: &MessageId,
        role: RunnerRole,
        slot: Slot,
        indices: &[ValidatorIndex],
        op: &OperatorState,
        view: &V,
    ) -> Result<(), ValidationFailure> {
        let Some(limit) = self.duty_limit(msg_id, role, slot, indices, view) else {
            return Ok(());
        };
        let mut count = op.duty_count(self.config.epoch_of(slot));
        if op.signer_state(slot, self.config.stored_slots()).is_none() {
            count = count.saturating_add(1);
        }
        if count > limit {
            return Err(ValidationFailure::TooManyDutiesPerEpoch);
        }
        Ok(())
    }

    /// `currentEstimatedRound` at `since_slot_start_ms`, with rounds of `quick_ms` (Go's
    /// [`QUICK_TIMEOUT_MS`] on 12-second slots; [`crate::qbft::quick_timeout_ms`] of the
    /// slot, as the instances' own timers, on shorter ones).
    fn estimated_round(since_slot_start_ms: u64, quick_ms: u64) -> Round {
        let quick_ms = quick_ms.max(1);
        let quick = 1u64.saturating_add(since_slot_start_ms.checked_div(quick_ms).unwrap_or(0));
        if quick <= QUICK_TIMEOUT_THRESHOLD {
            return quick;
        }
        let since_slow =
            since_slot_start_ms.saturating_sub(QUICK_TIMEOUT_THRESHOLD.saturating_mul(quick_ms));
        QUICK_TIMEOUT_THRESHOLD.saturating_add(1).saturating_add(since_slow / SLOW_TIMEOUT_MS)
    }

    /// Consensus rules (`validateConsensusMessage`) without the state update, which is
    /// returned to apply once everything passed.
    #[allow(clippy::too_many_arguments)]
    fn validate_consensus<V: NetworkView + ?Sized>(
        &self,
        signed: &SignedSsvMessage,
        role: RunnerRole,
        info: &CommitteeInfo<'_>,
        now: UnixMillis,
        state: Option<&ValidatorState>,
        view: &V,
    ) -> Result<(QbftMessage, ConsensusUpdate), ValidationFailure> {
        use ValidationFailure as F;
        let data = &signed.ssv_message.data;
        if data.len() > MAX_ENCODED_CONSENSUS_MSG_SIZE {
            return Err(F::SsvDataTooBig);
        }
        let qbft = QbftMessage::from_ssz_bytes(data).map_err(|_| F::UndecodableMessageData)?;
        let signers: &[OperatorId] = &signed.operator_ids;
        let committee_len = info.operators.len() as u64;

        // Semantics (`validateConsensusMessageSemantics`).
        let f = committee_len.saturating_sub(1) / 3;
        let quorum = f.saturating_mul(2).saturating_add(1);
        if signers.len() > 1 {
            if qbft.msg_type != QbftMessageType::Commit as u64 {
                return Err(F::NonDecidedWithMultipleSigners);
            }
            if (signers.len() as u64) < quorum {
                return Err(F::DecidedNotEnoughSigners);
            }
        }
        let mut full_data_hash = None;
        if !signed.full_data.is_empty() {
            if qbft.msg_type == QbftMessageType::Prepare as u64
                || (qbft.msg_type == QbftMessageType::Commit as u64 && signers.len() == 1)
            {
                return Err(F::PrepareOrCommitWithFullData);
            }
            let hash: [u8; 32] = Sha256::digest(&signed.full_data[..]).into();
            if hash != qbft.root {
                return Err(F::InvalidHash);
            }
            full_data_hash = Some(hash);
        }
        let msg_type = qbft.known_msg_type().ok_or(F::UnknownQbftMessageType)?;
        if qbft.round == 0 {
            return Err(F::ZeroRound);
        }
        let max_round = match role {
            RunnerRole::ValidatorRegistration | RunnerRole::VoluntaryExit => {
                return Err(F::UnexpectedConsensusMessage);
            }
            RunnerRole::Committee | RunnerRole::Aggregator => 12,
            RunnerRole::Proposer | RunnerRole::SyncCommitteeContribution => 6,
        };
        if qbft.round > max_round {
            return Err(F::RoundTooHigh);
        }
        if qbft.identifier[..] != signed.ssv_message.msg_id.0[..] {
            return Err(F::MismatchedIdentifier);
        }
        let pj = qbft.prepare_justifications().map_err(|_| F::MalformedPrepareJustifications)?;
        if !pj.is_empty() && msg_type != QbftMessageType::Proposal {
            return Err(F::UnexpectedPrepareJustifications);
        }
        let rcj = qbft
            .round_change_justifications()
            .map_err(|_| F::MalformedRoundChangeJustifications)?;
        if !rcj.is_empty()
            && msg_type != QbftMessageType::Proposal
            && msg_type != QbftMessageType::RoundChange
        {
            return Err(F::UnexpectedRoundChangeJustifications);
        }

        // QBFT logic (`validateQBFTLogic`).
        let stored = self.config.stored_slots();
        let slot = qbft.height;
        let op_state = |signer: OperatorId| -> &OperatorState {
            state.and_then(|s| s.operators.get(&signer)).unwrap_or(&EMPTY_OPERATOR)
        };
        if msg_type == QbftMessageType::Proposal {
            let leader = round_robin_proposer(qbft.height, qbft.round, info.operators);
            if signers.first().copied() != leader {
                return Err(F::SignerNotLeader);
            }
        }
        let signer_mask = signers_bitmask(signers, info.operators);
        for signer in signers {
            let Some(ss) = op_state(*signer).signer_state(slot, stored) else { continue };
            if signers.len() == 1 {
                if qbft.round < ss.round {
                    return Err(F::RoundAlreadyAdvanced);
                }
                if qbft.round == ss.round {
                    if let (Some(new), Some(old)) = (full_data_hash, ss.hashed_proposal_data)
                        && new != old
                    {
                        return Err(F::DifferentProposalData);
                    }
                    let bit = consensus_bit(msg_type, signers.len());
                    if bit.is_some_and(|b| ss.seen.has(b)) {
                        return Err(F::DuplicatedMessage);
                    }
                }
            } else if ss.seen_signers.contains(&signer_mask) {
                return Err(F::DecidedWithSameSigners);
            }
        }
        if signers.len() == 1 {
            let start = self.config.slot_start_ms(slot);
            let quick_ms = crate::qbft::quick_timeout_ms(self.config.slot_duration_ms);
            let estimated = if now > start {
                Self::estimated_round(now.saturating_sub(start), quick_ms)
            } else {
                1
            };
            if qbft.round > estimated.saturating_add(ALLOWED_ROUNDS_IN_FUTURE) {
                return Err(F::EstimatedRoundNotInAllowedSpread);
            }
        }

        // Duty logic (`validateQBFTMessageByDutyLogic`).
        if role != RunnerRole::Committee {
            for signer in signers {
                if op_state(*signer).max_slot() > slot {
                    return Err(F::SlotAlreadyAdvanced);
                }
            }
        }
        self.validate_beacon_duty(role, slot, &info.validator_indices, false, now, view)?;
        self.validate_slot_time(slot, role, now)?;
        for signer in signers {
            self.validate_duty_count(
                &signed.ssv_message.msg_id,
                role,
                slot,
                &info.validator_indices,
                op_state(*signer),
                view,
            )?;
        }

        // RSA verification comes last, in `check` (see `SignatureCheck`).
        let update = ConsensusUpdate {
            signers: signers.to_vec(),
            slot,
            round: qbft.round,
            proposal_hash: if msg_type == QbftMessageType::Proposal {
                full_data_hash
            } else {
                None
            },
            signer_mask,
            seen_bit: consensus_bit(msg_type, signers.len()),
        };
        Ok((qbft, update))
    }

    /// Partial-signature rules (`validatePartialSignatureMessage`) without the state update.
    #[allow(clippy::too_many_arguments)]
    fn validate_partial<V: NetworkView + ?Sized>(
        &self,
        signed: &SignedSsvMessage,
        role: RunnerRole,
        info: &CommitteeInfo<'_>,
        now: UnixMillis,
        state: Option<&ValidatorState>,
        view: &V,
    ) -> Result<PartialSignatureMessages, ValidationFailure> {
        use ValidationFailure as F;
        let data = &signed.ssv_message.data;
        if data.len() > MAX_ENCODED_PARTIAL_SIGNATURE_SIZE {
            return Err(F::SsvDataTooBig);
        }
        let psig = PartialSignatureMessages::from_ssz_bytes(data)
            .map_err(|_| F::UndecodableMessageData)?;

        // Semantics (`validatePartialSignatureMessageSemantics`).
        let [signer] = signed.operator_ids[..] else {
            return Err(F::PartialSigOneSigner);
        };
        if !signed.full_data.is_empty() {
            return Err(F::FullDataNotInConsensusMessage);
        }
        let psig_type = psig.known_msg_type().ok_or(F::InvalidPartialSignatureType)?;
        if !partial_type_matches_role(psig_type, role) {
            return Err(F::PartialSignatureTypeRoleMismatch);
        }
        if psig.messages.is_empty() {
            return Err(F::NoPartialSignatureMessages);
        }
        for m in psig.messages.iter() {
            if m.signer != signer {
                return Err(F::InconsistentSigners);
            }
            if role != RunnerRole::Committee && !info.validator_indices.contains(&m.validator_index)
            {
                return Err(F::ValidatorIndexMismatch);
            }
        }

        // Duty logic (`validatePartialSigMessagesByDutyLogic`).
        let stored = self.config.stored_slots();
        let slot = psig.slot;
        let op = state.and_then(|s| s.operators.get(&signer)).unwrap_or(&EMPTY_OPERATOR);
        if role != RunnerRole::Committee && op.max_slot() != 0 && op.max_slot() > slot {
            return Err(F::SlotAlreadyAdvanced);
        }
        let randao = psig_type == PartialSigMsgType::Randao;
        self.validate_beacon_duty(role, slot, &info.validator_indices, randao, now, view)?;
        if let Some(ss) = op.signer_state(slot, stored)
            && ss.seen.has(partial_bit(psig_type))
        {
            return Err(F::InvalidPartialSignatureTypeCount);
        }
        self.validate_slot_time(slot, role, now)?;
        self.validate_duty_count(
            &signed.ssv_message.msg_id,
            role,
            slot,
            &info.validator_indices,
            op,
            view,
        )?;
        let count = psig.messages.len();
        match role {
            RunnerRole::Committee => {
                let v = info.validator_indices.len();
                let sync = usize::try_from(self.config.sync_committee_size).unwrap_or(usize::MAX);
                if count > v.saturating_mul(2).min(v.saturating_add(sync)) {
                    return Err(F::TooManyPartialSignatureMessages);
                }
                let mut seen: BTreeMap<ValidatorIndex, u8> = BTreeMap::new();
                for m in psig.messages.iter() {
                    let n = seen.entry(m.validator_index).or_insert(0);
                    *n = n.saturating_add(1);
                    if *n > 2 {
                        return Err(F::TripleValidatorIndexInPartialSignatures);
                    }
                }
            }
            RunnerRole::SyncCommitteeContribution => {
                if count > MAX_SIGNATURES {
                    return Err(F::TooManyPartialSignatureMessages);
                }
            }
            _ => {
                if count > 1 {
                    return Err(F::TooManyPartialSignatureMessages);
                }
            }
        }

        // RSA verification comes last, in `check` (see `SignatureCheck`).
        Ok(psig)
    }
}

/// `validateSignedSSVMessage`: signers and signatures present, well formed, sorted, unique,
/// non-zero, known.
fn validate_signed_ssv_message<V: NetworkView + ?Sized>(
    signed: &SignedSsvMessage,
    view: &V,
) -> Result<(), ValidationFailure> {
    use ValidationFailure as F;
    if signed.operator_ids.is_empty() {
        return Err(F::NoSigners);
    }
    if signed.signatures.is_empty() {
        return Err(F::NoSignatures);
    }
    if signed.signatures.iter().any(|s| s.len() != RSA_SIGNATURE_SIZE) {
        return Err(F::WrongRsaSignatureSize);
    }
    if !signed.operator_ids.is_sorted() {
        return Err(F::SignersNotSorted);
    }
    if signed.operator_ids.len() != signed.signatures.len() {
        return Err(F::SignersAndSignaturesWithDifferentLength);
    }
    let mut prev = 0;
    for signer in signed.operator_ids.iter().copied() {
        if signer == 0 {
            return Err(F::ZeroSigner);
        }
        if signer == prev {
            return Err(F::DuplicatedSigner);
        }
        if !view.operator_known(signer) {
            return Err(F::UnknownOperator);
        }
        prev = signer;
    }
    Ok(())
}

/// The SSZ bytes of the `SSVMessage` inside raw `SignedSSVMessage` bytes: between the third
/// and fourth offsets of the container's fixed part. These are exactly the bytes each
/// operator signed, so no re-encoding is needed.
fn ssv_message_bytes(raw: &[u8]) -> Option<&[u8]> {
    let offset = |at: usize| -> Option<usize> {
        let bytes: [u8; 4] = raw.get(at..at.checked_add(4)?)?.try_into().ok()?;
        usize::try_from(u32::from_le_bytes(bytes)).ok()
    };
    raw.get(offset(8)?..offset(12)?)
}

/// Verifies each signer's RSA signature over the `SSVMessage` bytes.
fn verify_signatures<V: NetworkView + ?Sized>(
    signed: &SignedSsvMessage,
    raw: &[u8],
    view: &V,
) -> Result<(), ValidationFailure> {
    let encoded;
    let message = match ssv_message_bytes(raw) {
        Some(bytes) => bytes,
        None => {
            encoded = signed.ssv_message_bytes();
            &encoded
        }
    };
    for (id, sig) in signed.operator_ids.iter().zip(signed.signatures.iter()) {
        let key = view.operator_key(*id).ok_or(ValidationFailure::SignatureVerification)?;
        key.verify(message, sig).map_err(|_| ValidationFailure::SignatureVerification)?;
    }
    Ok(())
}

/// `Quorum.ToBitMask`: bit `j` set when committee position `j` signed.
fn signers_bitmask(signers: &[OperatorId], committee: &[OperatorId]) -> u16 {
    committee
        .iter()
        .take(16)
        .enumerate()
        .filter(|(_, op)| signers.contains(op))
        .fold(0u16, |mask, (j, _)| mask | (1u16 << j))
}

/// The seen-type bit a consensus message sets; a decided (multi-signer) commit sets none.
fn consensus_bit(msg_type: QbftMessageType, signers: usize) -> Option<u8> {
    match msg_type {
        QbftMessageType::Proposal => Some(SeenMsgTypes::PROPOSAL),
        QbftMessageType::Prepare => Some(SeenMsgTypes::PREPARE),
        QbftMessageType::Commit => (signers == 1).then_some(SeenMsgTypes::COMMIT),
        QbftMessageType::RoundChange => Some(SeenMsgTypes::ROUND_CHANGE),
    }
}

fn partial_bit(t: PartialSigMsgType) -> u8 {
    match t {
        PartialSigMsgType::PostConsensus => SeenMsgTypes::POST_CONSENSUS,
        _ => SeenMsgTypes::PRE_CONSENSUS,
    }
}

/// `partialSignatureTypeMatchesRole`.
fn partial_type_matches_role(t: PartialSigMsgType, role: RunnerRole) -> bool {
    use PartialSigMsgType as T;
    match role {
        RunnerRole::Committee => t == T::PostConsensus,
        RunnerRole::Aggregator => matches!(t, T::PostConsensus | T::SelectionProof),
        RunnerRole::Proposer => matches!(t, T::PostConsensus | T::Randao),
        RunnerRole::SyncCommitteeContribution => {
            matches!(t, T::PostConsensus | T::ContributionProofs)
        }
        RunnerRole::ValidatorRegistration => t == T::ValidatorRegistration,
        RunnerRole::VoluntaryExit => t == T::VoluntaryExit,
    }
}

/// The state change of an accepted consensus message (`updateConsensusState`).
struct ConsensusUpdate {
    signers: Vec<OperatorId>,
    slot: Slot,
    round: Round,
    proposal_hash: Option<[u8; 32]>,
    signer_mask: u16,
    seen_bit: Option<u8>,
}

impl ConsensusUpdate {
    fn apply(&self, state: &mut ValidatorState, cfg: &ValidationConfig) {
        let stored = cfg.stored_slots();
        let epoch = cfg.epoch_of(self.slot);
        for signer in &self.signers {
            let op = state.operators.entry(*signer).or_default();
            match op.signer_state_mut(self.slot, stored) {
                Some(ss) => {
                    if self.round > ss.round {
                        ss.reset(self.slot, self.round);
                    }
                }
                None => {
                    op.set_signer_state(
                        self.slot,
                        epoch,
                        SignerState::new(self.slot, self.round),
                        stored,
                    );
                }
            }
            let Some(ss) = op.signer_state_mut(self.slot, stored) else { continue };
            if let Some(hash) = self.proposal_hash {
                ss.hashed_proposal_data = Some(hash);
            }
            if self.signers.len() > 1 {
                ss.seen_signers.insert(self.signer_mask);
            }
            if let Some(bit) = self.seen_bit {
                ss.seen.record(bit);
            }
        }
    }
}

/// `updatePartialSignatureState`.
fn update_partial_state(
    state: &mut ValidatorState,
    cfg: &ValidationConfig,
    psig: &PartialSignatureMessages,
) {
    let Some(signer) = psig.signer() else { return };
    let Some(t) = psig.known_msg_type() else { return };
    let stored = cfg.stored_slots();
    let op = state.operators.entry(signer).or_default();
    if op.signer_state(psig.slot, stored).is_none() {
        op.set_signer_state(
            psig.slot,
            cfg.epoch_of(psig.slot),
            SignerState::new(psig.slot, 1),
            stored,
        );
    }
    if let Some(ss) = op.signer_state_mut(psig.slot, stored) {
        ss.seen.record(partial_bit(t));
    }
}
