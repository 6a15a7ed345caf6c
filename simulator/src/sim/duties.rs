//! The duties of the simulated cluster and the values its operators agree on.
//!
//! Each slot the cluster has a committee duty (one QBFT instance for all its attesting
//! validators, value: an SSZ `BeaconVote`) and a proposer duty of one of its validators
//! (value: a stand-in block naming the slot, the proposer and its parent). The chain is a
//! pure function of the seed: the block root of a slot is a hash of the seed and slot.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use ssv_core::beacon::Checkpoint;
use ssv_core::types::ssz::{Decode, Encode};
use ssv_core::types::{
    BeaconVote, BlsPublicKeyBytes, CommitteeId, DomainType, MessageId, OperatorId, Root, RunnerRole,
};

/// Slots per epoch (mainnet).
pub const SLOTS_PER_EPOCH: u64 = 32;
/// A simulated slot.
pub type Slot = u64;
/// The SSV domain of the simulated network.
pub const DOMAIN: DomainType = DomainType::JATO_TESTNET;
/// The stand-in block's tag.
const BLOCK_TAG: &[u8; 8] = b"SIMBLOCK";
/// A stand-in block: tag, slot, proposer index, parent root, body root.
const BLOCK_LEN: usize = 8 + 8 + 8 + 32 + 32;

/// The role of a simulated duty.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum DutyRole {
    /// The committee's attestations of the slot.
    Committee,
    /// The block proposal of the validator with this index.
    Proposer(u64),
    /// Duty path only: the slot's aggregator duties (every attester of the cluster).
    Aggregator,
    /// Duty path only: the slot's sync-committee contribution duties.
    Contribution,
    /// Duty path only: the slot's builder registrations.
    Registration,
    /// Duty path only: the run's voluntary exit.
    Exit,
}

/// The chain and the cluster's validators, fixed by the seed.
#[derive(Debug, Clone)]
pub struct Chain {
    seed: u64,
    validators: Vec<BlsPublicKeyBytes>,
    committee_id: CommitteeId,
}

impl Chain {
    /// The chain of `seed`, with `validators` validators run by operators `1..=operators`.
    pub fn new(seed: u64, validators: u64, operators: u64) -> Self {
        let validators = (0..validators)
            .map(|i| {
                let mut pk = [0u8; 48];
                let h = Sha256::new().chain_update(b"validator").chain_update(i.to_le_bytes());
                pk[..32].copy_from_slice(&h.finalize());
                pk[47] = 0xA0;
                pk
            })
            .collect();
        let ids: Vec<OperatorId> = (1..=operators).collect();
        Self { seed, validators, committee_id: CommitteeId::from_operators(&ids) }
    }

    /// The committee id of the cluster.
    pub fn committee_id(&self) -> [u8; 32] {
        self.committee_id.0
    }

    /// The block root of `slot` (0 for no slot).
    pub fn block_root(&self, slot: Slot) -> Root {
        Sha256::new()
            .chain_update(b"block")
            .chain_update(self.seed.to_le_bytes())
            .chain_update(slot.to_le_bytes())
            .finalize()
            .into()
    }

    /// The validator index that proposes at `slot`.
    pub fn proposer(&self, slot: Slot) -> u64 {
        let h: [u8; 32] = Sha256::new()
            .chain_update(b"proposer")
            .chain_update(self.seed.to_le_bytes())
            .chain_update(slot.to_le_bytes())
            .finalize()
            .into();
        let n = self.validators.len().max(1) as u64;
        u64::from_le_bytes(h[..8].try_into().unwrap_or_default()) % n
    }

    /// The duties of `slot`: the committee's and one proposer's.
    pub fn duties(&self, slot: Slot) -> [DutyRole; 2] {
        [DutyRole::Committee, DutyRole::Proposer(self.proposer(slot))]
    }

    /// The QBFT identifier of a duty.
    pub fn identifier(&self, role: DutyRole) -> [u8; 56] {
        match role {
            DutyRole::Committee => {
                MessageId::for_committee(DOMAIN, RunnerRole::Committee, &self.committee_id.0).0
            }
            DutyRole::Proposer(index) => {
                let pk = self.validators.get(index as usize).copied().unwrap_or([0; 48]);
                MessageId::for_validator(DOMAIN, RunnerRole::Proposer, &pk).0
            }
            // Never among `duties`: the bare QBFT path has no such instances.
            DutyRole::Aggregator => {
                MessageId::for_committee(DOMAIN, RunnerRole::Aggregator, &self.committee_id.0).0
            }
            DutyRole::Contribution => {
                let role = RunnerRole::SyncCommitteeContribution;
                MessageId::for_committee(DOMAIN, role, &self.committee_id.0).0
            }
            DutyRole::Registration => {
                let role = RunnerRole::ValidatorRegistration;
                MessageId::for_committee(DOMAIN, role, &self.committee_id.0).0
            }
            DutyRole::Exit => {
                MessageId::for_committee(DOMAIN, RunnerRole::VoluntaryExit, &self.committee_id.0).0
            }
        }
    }

    /// The duty an identifier belongs to at `slot`, if it is one of this cluster's.
    pub fn role_of(&self, identifier: &[u8; 56], slot: Slot) -> Option<DutyRole> {
        self.duties(slot).into_iter().find(|r| &self.identifier(*r) == identifier)
    }

    /// The honest value of a duty, as seen by a beacon node that is `lag` slots behind.
    /// `salt` other than 0 gives a different valid value (an equivocator's second value).
    pub fn value(&self, role: DutyRole, slot: Slot, lag: u64, salt: u64) -> Vec<u8> {
        let head = slot.saturating_sub(lag);
        let mut root = self.block_root(head);
        if salt != 0 {
            root =
                Sha256::new().chain_update(root).chain_update(salt.to_le_bytes()).finalize().into();
        }
        match role {
            DutyRole::Committee => {
                let epoch = slot / SLOTS_PER_EPOCH;
                BeaconVote {
                    block_root: root,
                    source: Checkpoint {
                        epoch: epoch.saturating_sub(1),
                        root: self.block_root(epoch.saturating_sub(1) * SLOTS_PER_EPOCH),
                    },
                    target: Checkpoint { epoch, root: self.block_root(epoch * SLOTS_PER_EPOCH) },
                }
                .as_ssz_bytes()
            }
            DutyRole::Proposer(index) => {
                let mut v = Vec::with_capacity(BLOCK_LEN);
                v.extend_from_slice(BLOCK_TAG);
                v.extend_from_slice(&slot.to_le_bytes());
                v.extend_from_slice(&index.to_le_bytes());
                v.extend_from_slice(&self.block_root(slot.saturating_sub(1)));
                v.extend_from_slice(&root);
                v
            }
            DutyRole::Aggregator
            | DutyRole::Contribution
            | DutyRole::Registration
            | DutyRole::Exit => Vec::new(),
        }
    }

    /// The value check of a duty: what an honest operator accepts to decide at `slot`.
    ///
    /// # Errors
    /// Why the value is invalid.
    pub fn check_value(&self, role: DutyRole, slot: Slot, value: &[u8]) -> Result<(), String> {
        match role {
            DutyRole::Committee => {
                let vote = BeaconVote::from_ssz_bytes(value)
                    .map_err(|e| format!("not a BeaconVote: {e:?}"))?;
                let epoch = slot / SLOTS_PER_EPOCH;
                if vote.target.epoch != epoch {
                    return Err("target epoch is not the slot's".into());
                }
                if epoch > 0 && vote.source.epoch.saturating_add(1) != epoch {
                    return Err("source is not the previous epoch".into());
                }
                if vote.block_root == [0; 32] {
                    return Err("empty head".into());
                }
                Ok(())
            }
            DutyRole::Proposer(index) => {
                if value.len() != BLOCK_LEN || &value[..8] != BLOCK_TAG {
                    return Err("not a block".into());
                }
                if value[8..16] != slot.to_le_bytes() {
                    return Err("block of another slot".into());
                }
                if value[16..24] != index.to_le_bytes() {
                    return Err("block of another proposer".into());
                }
                Ok(())
            }
            DutyRole::Aggregator
            | DutyRole::Contribution
            | DutyRole::Registration
            | DutyRole::Exit => Err("not a duty of the bare QBFT path".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn honest_values_pass_and_others_fail() {
        let c = Chain::new(3, 10, 4);
        for slot in [0, 5, 40] {
            for role in c.duties(slot) {
                for (lag, salt) in [(0, 0), (1, 0), (0, 9)] {
                    assert!(c.check_value(role, slot, &c.value(role, slot, lag, salt)).is_ok());
                }
                assert!(c.check_value(role, slot + 64, &c.value(role, slot, 0, 0)).is_err());
                assert!(c.check_value(role, slot, b"garbage").is_err());
            }
        }
        assert_ne!(c.identifier(DutyRole::Committee), c.identifier(DutyRole::Proposer(0)));
        assert_eq!(c.role_of(&c.identifier(DutyRole::Committee), 7), Some(DutyRole::Committee));
    }
}
