//! The validator-level router (ssv-spec v1.2.2 `ssv/validator.go`): one runner per role
//! for one validator; checks messages and dispatches them to the runner of their role.

use std::collections::BTreeMap;

use super::committee::verify_signed;
use super::error::RunnerError;
use super::validator_runner::ValidatorRunner;
use super::{Duty, Input, Output};
use crate::qbft::{CommitteeMember, SignatureVerifier, UnixMillis};
use crate::types::{MsgType, PartialSigMsgType, RunnerRole, Share, SignedSsvMessage};

/// A validator with its duty runners (`ssv.Validator`).
///
/// # Driving contract
/// [`Validator::handle`] takes [`Input::StartDuty`] (a [`Duty::Validator`]),
/// [`Input::Message`] (any message of this validator), [`Input::Timeout`] and
/// [`Input::Response`]; request ids in [`Output::Request`] are unique per validator.
pub struct Validator {
    /// This operator and its committee.
    pub member: CommitteeMember,
    /// The validator's share.
    pub share: Share,
    /// The runner of each role.
    pub runners: BTreeMap<RunnerRole, ValidatorRunner>,
    verifier: Box<dyn SignatureVerifier>,
    routes: BTreeMap<u64, (RunnerRole, u64)>,
    next_id: u64,
}

impl std::fmt::Debug for Validator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Validator")
            .field("member", &self.member)
            .field("runners", &self.runners)
            .finish_non_exhaustive()
    }
}

impl Validator {
    /// A validator with `runners` (keyed by their role).
    pub fn new(
        member: CommitteeMember,
        share: Share,
        runners: Vec<ValidatorRunner>,
        verifier: Box<dyn SignatureVerifier>,
    ) -> Self {
        Self {
            member,
            share,
            runners: runners.into_iter().map(|r| (r.role, r)).collect(),
            verifier,
            routes: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// The earliest deadline of any runner.
    pub fn poll_timeout(&self) -> Option<UnixMillis> {
        self.runners.values().filter_map(ValidatorRunner::poll_timeout).min()
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
            Input::StartDuty(Duty::Validator(duty)) => {
                let role = duty
                    .runner_role()
                    .ok_or_else(|| RunnerError::other("duty type not supported"))?;
                let quorum = self.member.quorum();
                self.with_runner(role, out, |r, o| r.start_duty(duty, quorum, o))
            }
            Input::StartDuty(Duty::Committee(_)) => {
                Err(RunnerError::other("committee duty for a validator"))
            }
            Input::Message(msg) => self.process_message(now, msg, out),
            Input::Timeout => {
                let mut res = Ok(());
                let roles: Vec<RunnerRole> = self.runners.keys().copied().collect();
                for role in roles {
                    let r = self.with_runner(role, out, |r, o| r.on_timeout(now, o));
                    if r.is_err() {
                        res = r;
                    }
                }
                res
            }
            Input::Response { id, response } => {
                let Some((role, inner)) = self.routes.remove(&id) else {
                    return Err(RunnerError::other("unknown request id"));
                };
                self.with_runner(role, out, |r, o| r.on_response(now, inner, response, o))
            }
        }
    }

    /// Runs `f` on the runner of `role`, renaming its request ids to validator-unique ones.
    fn with_runner(
        &mut self,
        role: RunnerRole,
        out: &mut Vec<Output>,
        f: impl FnOnce(&mut ValidatorRunner, &mut Vec<Output>) -> Result<(), RunnerError>,
    ) -> Result<(), RunnerError> {
        let runner = self
            .runners
            .get_mut(&role)
            .ok_or_else(|| RunnerError::other("could not get duty runner for msg ID"))?;
        let mut inner = Vec::new();
        let res = f(runner, &mut inner);
        for o in inner {
            match o {
                Output::Request { id, request } => {
                    let outer = self.next_id;
                    self.next_id = self.next_id.wrapping_add(1);
                    self.routes.insert(outer, (role, id));
                    out.push(Output::Request { id: outer, request });
                }
                other => out.push(other),
            }
        }
        res
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
        let id = msg.ssv_message.msg_id;
        let role = id
            .role()
            .filter(|r| self.runners.contains_key(r))
            .ok_or_else(|| RunnerError::other("could not get duty runner for msg ID"))?;
        if !id.belongs_to_validator(&self.share.validator_pub_key) {
            return Err(RunnerError::ValidatorIdMismatch);
        }
        if msg.ssv_message.data.is_empty() {
            return Err(RunnerError::other("msg data is invalid"));
        }
        match msg.ssv_message.known_msg_type() {
            Some(MsgType::Consensus) => {
                let qbft = msg.decode_qbft()?;
                qbft.validate()?;
                self.with_runner(role, out, |r, o| r.process_consensus(now, msg, o))
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
                    self.with_runner(role, out, |r, o| r.process_post_consensus(&psig, o))
                } else {
                    self.with_runner(role, out, |r, o| r.process_pre_consensus(&psig, o))
                }
            }
            Some(MsgType::Dkg) | None => Err(RunnerError::other("unknown msg")),
        }
    }
}
