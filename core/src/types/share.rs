//! A validator share, committee members and operators (ssv-spec v1.2.2 `types/share.go`,
//! `types/operator.go`, `types/committee_id.go`).

use sha2::{Digest, Sha256};
use ssz_derive::{Decode, Encode};
use ssz_types::VariableList;
use tree_hash_derive::TreeHash;
use typenum::U13;

use super::{BlsPublicKeyBytes, DomainType, MessageId, OperatorId, ValidatorIndex};

/// Length of an operator's RSA public key as the spec stores it: the PEM text (459 bytes).
pub const OPERATOR_PUBKEY_PEM_LEN: usize = 459;

/// An operator's RSA-2048 public key PEM ("RSA PUBLIC KEY" label, PKIX body), 459 bytes.
pub type OperatorPubKeyPem = [u8; OPERATOR_PUBKEY_PEM_LEN];

/// The 32-byte id of an operator committee (`CommitteeID`): see [`CommitteeId::from_operators`].
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
#[ssz(struct_behaviour = "transparent")]
pub struct CommitteeId(pub [u8; 32]);

impl CommitteeId {
    /// `GetCommitteeID`: SHA-256 of the operator ids sorted ascending, each written as a
    /// little-endian **u32** (Go truncates the uint64 id with `uint32(v)`; ids are far below
    /// 2^32 in practice).
    pub fn from_operators(operator_ids: &[OperatorId]) -> Self {
        let mut ids = operator_ids.to_vec();
        ids.sort_unstable();
        let mut hasher = Sha256::new();
        for id in ids {
            // Truncation is the spec's behaviour (uint32(v)).
            let low = (id & 0xffff_ffff) as u32;
            hasher.update(low.to_le_bytes());
        }
        Self(hasher.finalize().into())
    }

    /// `MessageIDBelongs`: whether the message id's duty executor id ends with this id.
    pub fn message_id_belongs(&self, msg_id: &MessageId) -> bool {
        msg_id.committee_id() == &self.0
    }
}

impl std::fmt::Debug for CommitteeId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CommitteeId({})", hex::encode(self.0))
    }
}

impl tree_hash::TreeHash for CommitteeId {
    fn tree_hash_type() -> tree_hash::TreeHashType {
        <[u8; 32]>::tree_hash_type()
    }

    fn tree_hash_packed_encoding(&self) -> tree_hash::PackedEncoding {
        self.0.tree_hash_packed_encoding()
    }

    fn tree_hash_packing_factor() -> usize {
        <[u8; 32]>::tree_hash_packing_factor()
    }

    fn tree_hash_root(&self) -> tree_hash::Hash256 {
        self.0.tree_hash_root()
    }
}

impl ssz::Encode for DomainType {
    fn is_ssz_fixed_len() -> bool {
        true
    }

    fn ssz_fixed_len() -> usize {
        4
    }

    fn ssz_bytes_len(&self) -> usize {
        4
    }

    fn ssz_append(&self, buf: &mut Vec<u8>) {
        buf.extend_from_slice(&self.0);
    }
}

impl ssz::Decode for DomainType {
    fn is_ssz_fixed_len() -> bool {
        true
    }

    fn ssz_fixed_len() -> usize {
        4
    }

    fn from_ssz_bytes(bytes: &[u8]) -> Result<Self, ssz::DecodeError> {
        <[u8; 4]>::from_ssz_bytes(bytes).map(Self)
    }
}

impl tree_hash::TreeHash for DomainType {
    fn tree_hash_type() -> tree_hash::TreeHashType {
        <[u8; 4]>::tree_hash_type()
    }

    fn tree_hash_packed_encoding(&self) -> tree_hash::PackedEncoding {
        self.0.tree_hash_packed_encoding()
    }

    fn tree_hash_packing_factor() -> usize {
        <[u8; 4]>::tree_hash_packing_factor()
    }

    fn tree_hash_root(&self) -> tree_hash::Hash256 {
        self.0.tree_hash_root()
    }
}

/// One operator's part of a share's committee (`ShareMember`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct ShareMember {
    /// The operator's BLS share public key.
    pub share_pub_key: BlsPublicKeyBytes,
    /// The operator's id.
    pub signer: OperatorId,
}

/// One validator's share as an operator holds it (`Share`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct Share {
    /// The validator's index.
    pub validator_index: ValidatorIndex,
    /// The validator's BLS public key.
    pub validator_pub_key: BlsPublicKeyBytes,
    /// This operator's BLS share public key.
    pub share_pub_key: BlsPublicKeyBytes,
    /// Every operator of the validator's committee with its share public key (≤ 13).
    pub committee: VariableList<ShareMember, U13>,
    /// The SSV domain.
    pub domain_type: DomainType,
    /// Execution address for block rewards.
    pub fee_recipient_address: [u8; 20],
    /// Block graffiti (32 bytes).
    pub graffiti: [u8; 32],
}

/// An operator of a committee (`Operator`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct Operator {
    /// The operator's id.
    pub operator_id: OperatorId,
    /// The operator's RSA public key PEM.
    pub ssv_operator_pub_key: OperatorPubKeyPem,
}

/// This operator's view of its committee (`CommitteeMember`): quorum arithmetic for QBFT.
///
/// With `n = 3f + 1` operators, quorum is `2f + 1` and partial quorum `f + 1`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct CommitteeMember {
    /// This operator's id.
    pub operator_id: OperatorId,
    /// The committee's id.
    pub committee_id: CommitteeId,
    /// This operator's RSA public key PEM.
    pub ssv_operator_pub_key: OperatorPubKeyPem,
    /// `f`: how many faulty operators the committee tolerates.
    pub faulty_nodes: u64,
    /// The committee's operators (≤ 13), in the order the round-robin proposer indexes.
    pub committee: VariableList<Operator, U13>,
    /// The SSV domain.
    pub domain_type: DomainType,
}

impl CommitteeMember {
    /// `GetQuorum`: `2f + 1` (saturating).
    pub fn quorum(&self) -> u64 {
        self.faulty_nodes.saturating_mul(2).saturating_add(1)
    }

    /// `HasQuorum(cnt)`: `cnt ≥ 2f + 1`.
    pub fn has_quorum(&self, count: usize) -> bool {
        count as u64 >= self.quorum()
    }

    /// `HasPartialQuorum(cnt)`: `cnt ≥ f + 1`.
    pub fn has_partial_quorum(&self, count: usize) -> bool {
        count as u64 >= self.faulty_nodes.saturating_add(1)
    }

    /// The committee's operator with `id`, if any.
    pub fn operator(&self, id: OperatorId) -> Option<&Operator> {
        self.committee.iter().find(|o| o.operator_id == id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn committee_id_of_testing_4_committee() {
        // CommitteeID of operators 1..=4 as it appears in the v1.2.2 vectors.
        let id = CommitteeId::from_operators(&[4, 3, 2, 1]);
        assert_eq!(
            hex::encode(id.0),
            "cf97adeedb59e05bfd73a2b4c2a8885708c4f4f70c84c64b27120e72ab733b72"
        );
    }
}
