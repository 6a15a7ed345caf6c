//! The invariants checked as a run goes (and again on replay): agreement, validity, every
//! decided message verifies, and liveness after the heal; on the duty path also: no
//! honest node signs a slashable attestation, every submission verifies on the chain, and
//! every due duty is submitted by every live node before its deadline.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use ssv_core::qbft::{UnixMillis, hash_data_root};
use ssv_core::types::SignedSsvMessage;
use ssv_core::types::ssz::{Decode, Encode};

use super::crypto::Crypto;
use super::duties::{Chain, Slot};
use super::node::InstanceKey;

/// Which invariant failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ViolationKind {
    /// Two honest operators decided different values for one instance.
    Agreement,
    /// An honest operator decided a value that fails the duty's value check or that no
    /// operator started with.
    Validity,
    /// A decided message lacks a quorum of distinct committee signers, carries a bad
    /// signature, or does not match its value.
    DecidedInvalid,
    /// With at most f faulty members, a duty that started after the heal missed its deadline.
    Liveness,
    /// Duty path: an honest node signed two attestations of one validator that a beacon
    /// chain would slash (double vote or surround vote).
    Slashable,
    /// Duty path: the chain refused a node's submission (its signature does not verify
    /// under the validator key and the right domain, or it is not the validator's duty).
    SubmissionInvalid,
    /// Duty path: two different blocks (signing roots) of one validator and slot were
    /// signed: share-signed by honest nodes or reconstructed (a double proposal).
    DoubleProposal,
}

impl ViolationKind {
    /// Safety violations are caused by the inputs before them; shrinking may drop any input.
    pub fn is_safety(self) -> bool {
        self != Self::Liveness
    }
}

/// A failed invariant, with where it happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// Which invariant.
    pub kind: ViolationKind,
    /// The trace record index at which it was detected.
    pub step: u64,
    /// True time, ms since genesis.
    pub at_ms: UnixMillis,
    /// What exactly.
    pub detail: String,
}

/// An attestation's (source epoch, target epoch, signing root).
type SignedVote = (u64, u64, [u8; 32]);

/// What one instance reached.
#[derive(Debug, Clone, Default)]
pub struct InstanceOutcome {
    /// The first value an honest operator decided.
    pub value: Option<Vec<u8>>,
    /// The honest nodes (positions) that decided.
    pub honest_decided: BTreeSet<usize>,
    /// Highest decided round seen.
    pub max_round: u64,
}

/// Checks invariants over the outputs of the nodes of one world.
pub struct Checker {
    chain: Arc<Chain>,
    crypto: Arc<Crypto>,
    quorum: usize,
    started: BTreeMap<InstanceKey, BTreeSet<Vec<u8>>>,
    /// Outcomes per instance.
    pub outcomes: BTreeMap<InstanceKey, InstanceOutcome>,
    /// The first violation.
    pub violation: Option<Violation>,
    /// The world runs the duty runners (validity is the duty path's value check).
    pub duty_path: bool,
    /// Duty path: what each honest node signed, per validator: (source, target, root).
    signed: BTreeMap<(usize, u64), Vec<SignedVote>>,
    /// Duty path: slots per epoch of the chain (for the vote check).
    pub slots_per_epoch: u64,
    /// Duty path: the first block signed per (validator, slot): its signing root and the
    /// node that signed it.
    proposals: BTreeMap<(u64, Slot), ([u8; 32], usize)>,
}

impl std::fmt::Debug for Checker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checker").field("violation", &self.violation).finish_non_exhaustive()
    }
}

impl Checker {
    /// A checker for a committee of `operators` (quorum `2f + 1` of the real `f`, whatever
    /// the nodes were told).
    pub fn new(chain: Arc<Chain>, crypto: Arc<Crypto>, operators: u64) -> Self {
        let f = (operators.saturating_sub(1)) / 3;
        Self {
            chain,
            crypto,
            quorum: (2 * f + 1) as usize,
            started: BTreeMap::new(),
            outcomes: BTreeMap::new(),
            violation: None,
            duty_path: false,
            signed: BTreeMap::new(),
            slots_per_epoch: super::runners::SLOTS_PER_EPOCH,
            proposals: BTreeMap::new(),
        }
    }

    fn fail(&mut self, kind: ViolationKind, step: u64, at_ms: UnixMillis, detail: String) {
        if self.violation.is_none() {
            self.violation = Some(Violation { kind, step, at_ms, detail });
        }
    }

    /// Some node started `key` with `value`.
    pub fn on_start(&mut self, key: InstanceKey, value: &[u8]) {
        self.started.entry(key).or_default().insert(value.to_vec());
    }

    /// Node `node` (honest or not) decided.
    #[allow(clippy::too_many_arguments)]
    pub fn on_decided(
        &mut self,
        step: u64,
        at_ms: UnixMillis,
        node: usize,
        honest: bool,
        key: InstanceKey,
        round: u64,
        value: &[u8],
        commit: &[u8],
    ) {
        if !honest {
            return;
        }
        let outcome = self.outcomes.entry(key).or_default();
        outcome.max_round = outcome.max_round.max(round);
        outcome.honest_decided.insert(node);
        let slot = key.1;
        match &outcome.value {
            Some(first) if first.as_slice() != value => {
                let detail =
                    format!("slot {slot}: node {node} decided a value other than the first");
                self.fail(ViolationKind::Agreement, step, at_ms, detail);
                return;
            }
            Some(_) => {}
            None => outcome.value = Some(value.to_vec()),
        }
        if self.duty_path {
            use ssv_core::types::RunnerRole;
            let (what, check) = match ssv_core::types::MessageId(key.0).role() {
                Some(RunnerRole::Proposer) => {
                    ("proposal", super::runners::check_proposal(slot, value))
                }
                Some(RunnerRole::Aggregator) => {
                    ("aggregate", super::aggregation::check_aggregate(slot, value))
                }
                Some(RunnerRole::SyncCommitteeContribution) => {
                    ("contribution", super::aggregation::check_contributions(slot, value))
                }
                _ => ("committee", super::runners::check_vote(self.slots_per_epoch, slot, value)),
            };
            let checked = check.err().or_else(|| {
                (!self.started.get(&key).is_some_and(|s| s.contains(value)))
                    .then(|| "decided a value no beacon node gave".to_string())
            });
            if let Some(e) = checked {
                let detail = format!("slot {slot} {what}: {e}");
                self.fail(ViolationKind::Validity, step, at_ms, detail);
            } else if let Err(e) = self.verify_decided(key, value, commit) {
                let detail = format!("slot {slot} {what}: node {node}: {e}");
                self.fail(ViolationKind::DecidedInvalid, step, at_ms, detail);
            }
            return;
        }
        let Some(role) = self.chain.role_of(&key.0, slot) else {
            self.fail(ViolationKind::Validity, step, at_ms, format!("slot {slot}: unknown duty"));
            return;
        };
        if let Err(e) = self.chain.check_value(role, slot, value) {
            let detail = format!("slot {slot} {role:?}: decided an invalid value: {e}");
            self.fail(ViolationKind::Validity, step, at_ms, detail);
            return;
        }
        if !self.started.get(&key).is_some_and(|s| s.contains(value)) {
            let detail = format!("slot {slot} {role:?}: decided a value no operator started with");
            self.fail(ViolationKind::Validity, step, at_ms, detail);
            return;
        }
        if let Err(e) = self.verify_decided(key, value, commit) {
            let detail = format!("slot {slot} {role:?}: node {node}: {e}");
            self.fail(ViolationKind::DecidedInvalid, step, at_ms, detail);
        }
    }

    fn verify_decided(&self, key: InstanceKey, value: &[u8], commit: &[u8]) -> Result<(), String> {
        let msg = SignedSsvMessage::from_ssz_bytes(commit)
            .map_err(|e| format!("undecodable commit: {e:?}"))?;
        let qbft = msg.decode_qbft().map_err(|e| format!("commit payload: {e}"))?;
        let signers: BTreeSet<_> = msg.operator_ids.iter().copied().collect();
        if signers.len() != msg.operator_ids.len() || signers.len() < self.quorum {
            return Err(format!(
                "decided with {} signers, quorum is {}",
                signers.len(),
                self.quorum
            ));
        }
        let encoded = msg.ssv_message.as_ssz_bytes();
        for (id, sig) in msg.operator_ids.iter().zip(msg.signatures.iter()) {
            if !self.crypto.verify(*id, &encoded, sig) {
                return Err(format!("signature of operator {id} does not verify"));
            }
        }
        if qbft.root != hash_data_root(value) || msg.full_data.as_ref() as &[u8] != value {
            return Err("root or full data differ from the value".into());
        }
        if msg.ssv_message.msg_id.0 != key.0 || qbft.height != key.1 {
            return Err("decided message of another instance".into());
        }
        Ok(())
    }

    /// Duty path: node `node` signed `att` for `validator`. Slashable against an earlier
    /// signature of the same node and validator (consensus-specs
    /// `is_slashable_attestation_data`): the same target with another root (double vote),
    /// or one surrounding the other.
    pub fn on_signed(
        &mut self,
        step: u64,
        at_ms: UnixMillis,
        node: usize,
        honest: bool,
        validator: u64,
        att: &ssv_core::slashing::AttestationToSign,
    ) {
        if !honest {
            return;
        }
        let (s, t, r) = (att.source_epoch, att.target_epoch, att.signing_root);
        let history = self.signed.entry((node, validator)).or_default();
        let conflict = history.iter().find(|(s2, t2, r2)| {
            (*t2 == t && *r2 != r) || (s < *s2 && *t2 < t) || (*s2 < s && t < *t2)
        });
        if let Some((s2, t2, _)) = conflict.copied() {
            let detail = format!(
                "node {node} validator {validator}: signed {s}->{t} after {s2}->{t2} (slashable)"
            );
            self.fail(ViolationKind::Slashable, step, at_ms, detail);
            return;
        }
        history.push((s, t, r));
    }

    /// Duty path: a block of `validator` at `slot` with `signing_root` was signed: by node
    /// `node` with its share (`honest` tells whether it counts), or reconstructed from a
    /// quorum and submitted by `node` (always counts). A second, different signing root for
    /// the same validator and slot is a double proposal.
    #[allow(clippy::too_many_arguments)]
    pub fn on_signed_block(
        &mut self,
        step: u64,
        at_ms: UnixMillis,
        node: usize,
        honest: bool,
        validator: u64,
        slot: Slot,
        signing_root: [u8; 32],
    ) {
        if !honest {
            return;
        }
        match self.proposals.get(&(validator, slot)) {
            Some((first, by)) if *first != signing_root => {
                let detail = format!(
                    "validator {validator} slot {slot}: node {node} signed block {} after node                      {by} signed block {} (double proposal)",
                    hex::encode(&signing_root[..8]),
                    hex::encode(&first[..8]),
                );
                self.fail(ViolationKind::DoubleProposal, step, at_ms, detail);
            }
            Some(_) => {}
            None => {
                self.proposals.insert((validator, slot), (signing_root, node));
            }
        }
    }

    /// Duty path: the chain refused a submission of node `node`.
    pub fn on_bad_submission(&mut self, step: u64, at_ms: UnixMillis, node: usize, e: &str) {
        let detail = format!("node {node}: the chain refused a submission: {e}");
        self.fail(ViolationKind::SubmissionInvalid, step, at_ms, detail);
    }

    /// Duty path: the deadline of `slot` passed: every node in `expected` must have
    /// submitted every item of `due` (attestations, sync messages, the block, selected
    /// aggregates), contributions, registrations and exits by `contributions_by` (true
    /// time).
    #[allow(clippy::too_many_arguments)]
    pub fn check_duty_liveness(
        &mut self,
        step: u64,
        at_ms: UnixMillis,
        slot: Slot,
        due: &[super::runners::DueItem],
        expected: &[usize],
        submitted: &BTreeMap<(usize, super::runners::DueItem), UnixMillis>,
        contributions_by: UnixMillis,
    ) {
        for &node in expected {
            let missing: Vec<_> = due
                .iter()
                .filter(|item| match submitted.get(&(node, **item)) {
                    None => true,
                    Some(t) => {
                        (super::aggregation::is_contribution(item.1)
                            || [
                                super::registration::ROLE_REGISTRATION,
                                super::registration::ROLE_EXIT,
                            ]
                            .contains(&item.1))
                            && *t > contributions_by
                    }
                })
                .collect();
            if let Some((_, role, validator)) = missing.first() {
                let detail = format!(
                    "slot {slot}: node {node} did not submit {} duties by the deadline \
                     (first: role {role} of validator {validator})",
                    missing.len()
                );
                self.fail(ViolationKind::Liveness, step, at_ms, detail);
                return;
            }
        }
    }

    /// The deadline of `slot`'s duties passed: every node in `expected` must have decided
    /// each of them.
    pub fn check_liveness(&mut self, step: u64, at_ms: UnixMillis, slot: Slot, expected: &[usize]) {
        for role in self.chain.duties(slot) {
            let key = (self.chain.identifier(role), slot);
            let decided = self.outcomes.get(&key).map(|o| &o.honest_decided);
            let missing: Vec<usize> = expected
                .iter()
                .copied()
                .filter(|n| !decided.is_some_and(|d| d.contains(n)))
                .collect();
            if !missing.is_empty() {
                let detail = format!(
                    "slot {slot} {role:?}: nodes {missing:?} did not decide by the deadline"
                );
                self.fail(ViolationKind::Liveness, step, at_ms, detail);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::options::CryptoMode;
    use ssv_core::slashing::AttestationToSign;

    fn att(source: u64, target: u64, root: u8) -> AttestationToSign {
        AttestationToSign { source_epoch: source, target_epoch: target, signing_root: [root; 32] }
    }

    fn checker() -> Checker {
        let chain = Arc::new(Chain::new(1, 4, 4));
        let crypto = Arc::new(Crypto::new(CryptoMode::Fake, 4).unwrap());
        Checker::new(chain, crypto, 4)
    }

    #[test]
    fn two_different_blocks_of_one_validator_and_slot_are_a_double_proposal() {
        // The same block signed by every node, and blocks of other slots or validators:
        // no violation. Byzantine signatures never count.
        let mut c = checker();
        for node in 0..4 {
            c.on_signed_block(node as u64, 0, node, true, 7, 40, [1; 32]);
        }
        c.on_signed_block(5, 0, 0, true, 7, 41, [2; 32]);
        c.on_signed_block(6, 0, 1, true, 8, 40, [3; 32]);
        c.on_signed_block(7, 0, 3, false, 7, 40, [9; 32]);
        assert!(c.violation.is_none(), "{:?}", c.violation);
        // Another block for validator 7 at slot 40, by another honest node (or
        // reconstructed): a double proposal, reported with its step.
        c.on_signed_block(8, 1_234, 2, true, 7, 40, [4; 32]);
        let v = c.violation.clone().expect("a double proposal");
        assert_eq!(v.kind, ViolationKind::DoubleProposal);
        assert_eq!((v.step, v.at_ms), (8, 1_234));
        assert!(v.detail.contains("validator 7 slot 40"), "{}", v.detail);
    }

    #[test]
    fn double_and_surround_votes_of_an_honest_node_are_slashable() {
        // Consensus-specs `is_slashable_attestation_data`, case by case.
        let cases = [
            (att(1, 2, 1), att(1, 2, 2), true), // double vote: same target, other root
            (att(1, 2, 1), att(1, 2, 1), false), // the same attestation again
            (att(2, 3, 1), att(1, 4, 2), true), // the new one surrounds the old
            (att(1, 4, 1), att(2, 3, 2), true), // the old one surrounds the new
            (att(1, 2, 1), att(2, 3, 2), false), // consecutive epochs
            (att(1, 3, 1), att(2, 4, 2), false), // overlapping, not surrounding
        ];
        for (i, (first, second, slashable)) in cases.into_iter().enumerate() {
            let mut c = checker();
            c.on_signed(0, 0, 0, true, 7, &first);
            c.on_signed(1, 0, 0, true, 7, &second);
            let kind = c.violation.as_ref().map(|v| v.kind);
            assert_eq!(kind == Some(ViolationKind::Slashable), slashable, "case {i}");
            // Another validator, another node, or a byzantine node: never a violation.
            let mut c = checker();
            c.on_signed(0, 0, 0, true, 7, &first);
            c.on_signed(1, 0, 0, true, 8, &second);
            c.on_signed(2, 0, 1, true, 7, &second);
            c.on_signed(3, 0, 2, false, 9, &first);
            c.on_signed(4, 0, 2, false, 9, &second);
            assert!(c.violation.is_none(), "case {i}");
        }
    }
}
