//! The committee-level router (ssv-spec v1.2.2 `ssv/committee.go`): one committee runner
//! per slot; checks message ids and operator signatures and dispatches.

use std::collections::BTreeMap;

use super::committee_runner::CommitteeRunner;
use super::error::RunnerError;
use super::{Duty, Input, Output};
use crate::qbft::{CommitteeMember, SignatureVerifier, UnixMillis};
use crate::types::{
    CommitteeDuty, CommitteeId, MsgType, PartialSigMsgType, Share, SignedSsvMessage, Slot,
    ValidatorIndex,
};

/// Builds the committee runner of a slot from the shares of its duty's validators.
pub type CreateRunner =
    Box<dyn Fn(BTreeMap<ValidatorIndex, Share>) -> CommitteeRunner + Send + Sync>;

/// A committee of operators running committee duties (`ssv.Committee`).
///
/// # Driving contract
/// [`Committee::handle`] takes [`Input::StartDuty`] (a [`Duty::Committee`]),
/// [`Input::Message`] (any message of this committee's id), [`Input::Timeout`] and
/// [`Input::Response`]; request ids in [`Output::Request`] are unique per committee.
pub struct Committee {
    /// This operator and its committee.
    pub member: CommitteeMember,
    /// The shares of every validator of the committee.
    pub shares: BTreeMap<ValidatorIndex, Share>,
    /// One runner per slot.
    pub runners: BTreeMap<Slot, CommitteeRunner>,
    create_runner: CreateRunner,
    verifier: Box<dyn SignatureVerifier>,
    routes: BTreeMap<u64, (Slot, u64)>,
    next_id: u64,
}

impl std::fmt::Debug for Committee {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Committee")
            .field("member", &self.member)
            .field("runners", &self.runners)
            .finish_non_exhaustive()
    }
}

impl Committee {
    /// A committee with no runner.
    pub fn new(
        member: CommitteeMember,
        shares: BTreeMap<ValidatorIndex, Share>,
        create_runner: CreateRunner,
        verifier: Box<dyn SignatureVerifier>,
    ) -> Self {
        Self {
            member,
            shares,
            runners: BTreeMap::new(),
            create_runner,
            verifier,
            routes: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// The earliest deadline of any runner.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        self.runners.values().filter_map(CommitteeRunner::poll_timeout).min()
    }

    /// Handles one input; see the type's driving contract.
    ///
    /// # Errors
    /// The spec's rejection of the input, with its code.
    pub fn handle(
        &mut self,
        now: UnixMillis,
        input: Input,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        match input {
            Input::StartDuty(Duty::Committee(duty)) => self.start_duty(duty, out),
            Input::StartDuty(Duty::Validator(_)) => {
                Err(RunnerError::other("validator duty for a committee"))
            }
            Input::Message(msg) => self.process_message(now, msg, out),
            Input::Timeout => {
                let mut res = Ok(());
                let slots: Vec<Slot> = self.runners.keys().copied().collect();
                for slot in slots {
                    let r = self.with_runner(slot, out, |runner, o| runner.on_timeout(now, o));
                    if r.is_err() {
                        res = r;
                    }
                }
                res
            }
            Input::Response { id, response } => {
                let Some((slot, inner)) = self.routes.remove(&id) else {
                    return Err(RunnerError::other("unknown request id"));
                };
                self.with_runner(slot, out, |runner, o| runner.on_response(now, inner, response, o))
            }
        }
    }

    /// Inserts a runner for `slot` (the spec tests' "don't start duty" set-up).
    pub fn insert_runner(&mut self, slot: Slot, runner: CommitteeRunner) {
        self.runners.insert(slot, runner);
    }

    /// Runs `f` on the runner of `slot`, renaming its request ids to committee-unique ones.
    fn with_runner(
        &mut self,
        slot: Slot,
        out: &mut Vec<Output>,
        f: impl FnOnce(&mut CommitteeRunner, &mut Vec<Output>) -> Result<(), RunnerError>,
    ) -> Result<(), RunnerError> {
        let runner = self.runners.get_mut(&slot).ok_or(RunnerError::NoRunnerForSlot)?;
        let mut inner = Vec::new();
        let res = f(runner, &mut inner);
        for o in inner {
            match o {
                Output::Request { id, request } => {
                    let outer = self.next_id;
                    self.next_id = self.next_id.wrapping_add(1);
                    self.routes.insert(outer, (slot, id));
                    out.push(Output::Request { id: outer, request });
                }
                other => out.push(other),
            }
        }
        res
    }

    /// `StartDuty`: filters the duty to this committee's validators and starts a runner.
    fn start_duty(
        &mut self,
        duty: CommitteeDuty,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        if duty.validator_duties.is_empty() {
            return Err(RunnerError::NoBeaconDuties);
        }
        if self.runners.contains_key(&duty.slot) {
            return Err(RunnerError::other(format!(
                "CommitteeRunner for slot {} already exists",
                duty.slot
            )));
        }
        let mut shares = BTreeMap::new();
        let mut filtered = CommitteeDuty { slot: duty.slot, validator_duties: Vec::new() };
        for vd in duty.validator_duties {
            let Some(share) = self.shares.get(&vd.validator_index) else { continue };
            shares.insert(vd.validator_index, share.clone());
            filtered.validator_duties.push(vd);
        }
        if shares.is_empty() {
            return Err(RunnerError::NoValidatorShares);
        }
        let slot = filtered.slot;
        let runner = (self.create_runner)(shares);
        self.runners.insert(slot, runner);
        let quorum = self.member.quorum();
        self.with_runner(slot, out, |runner, o| runner.start_duty(filtered, quorum, o))
    }

    /// `ProcessMessage`.
    fn process_message(
        &mut self,
        now: UnixMillis,
        msg: SignedSsvMessage,
        out: &mut Vec<Output>,
    ) -> Result<(), RunnerError> {
        msg.validate()?;
        verify_signed(&*self.verifier, &self.member, &msg)?;
        let ids: Vec<u64> = self.member.committee.iter().map(|o| o.operator_id).collect();
        if !CommitteeId::from_operators(&ids).message_id_belongs(&msg.ssv_message.msg_id) {
            return Err(RunnerError::CommitteeIdMismatch);
        }
        if msg.ssv_message.data.is_empty() {
            return Err(RunnerError::other("msg data is invalid"));
        }
        match msg.ssv_message.known_msg_type() {
            Some(MsgType::Consensus) => {
                let qbft = msg.decode_qbft()?;
                qbft.validate()?;
                self.with_runner(qbft.height, out, |runner, o| {
                    runner.process_consensus(now, msg, o)
                })
            }
            Some(MsgType::PartialSignature) => {
                let psig = msg.ssv_message.decode_partial_signatures()?;
                let [signer] = msg.operator_ids.as_ref() else {
                    return Err(RunnerError::other(
                        "PartialSignatureMessage has more than 1 signer",
                    ));
                };
                psig.validate_for_signer(*signer)?;
                if psig.msg_type == PartialSigMsgType::PostConsensus as u64 {
                    return self.with_runner(psig.slot, out, |runner, o| {
                        runner.process_post_consensus(&psig, o)
                    });
                }
                Ok(())
            }
            Some(MsgType::Dkg) | None => Err(RunnerError::other("unknown msg")),
        }
    }
}

/// `types.Verify`: every signer is in `member`'s committee and its RSA signature over the
/// `SSVMessage` verifies.
///
/// # Errors
/// `SSVMessageHasInvalidSignature`.
pub fn verify_signed(
    verifier: &dyn SignatureVerifier,
    member: &CommitteeMember,
    msg: &SignedSsvMessage,
) -> Result<(), RunnerError> {
    let bytes = msg.ssv_message_bytes();
    for (id, sig) in msg.operator_ids.iter().zip(msg.signatures.iter()) {
        let op = member.operator(*id).ok_or(RunnerError::InvalidOperatorSignature)?;
        if !verifier.verify(&op.public_key, &bytes, sig) {
            return Err(RunnerError::InvalidOperatorSignature);
        }
    }
    Ok(())
}
