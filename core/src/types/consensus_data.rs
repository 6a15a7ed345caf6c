//! Consensus values: what QBFT decides (ssv-spec v1.2.2 `types/consensus_data.go`).
//!
//! The committee runner decides a [`BeaconVote`]; the proposer, aggregator and
//! sync-committee-contribution runners decide a [`ValidatorConsensusData`] whose `data_ssz`
//! holds a block, an aggregate-and-proof or [`Contributions`] by duty role and fork version.

use ssz::{Decode, Encode};
use ssz_derive::{Decode, Encode};
use ssz_types::VariableList;
use tree_hash::TreeHash;
use tree_hash_derive::TreeHash;
use typenum::{U13, U8388608};

use super::validate::{ValidationError, ssz_reason};
use super::{BeaconRole, BlsSignatureBytes, Root, ValidatorDuty};
use crate::beacon::{
    Checkpoint, DataVersion, SyncCommitteeContribution, VersionedBlock, decode_proposal,
    electra, phase0,
};

/// Bound of `ValidatorConsensusData.data_ssz` (`ssz-max:"8388608"`, 2^23 bytes).
pub type MaxDataSszLen = U8388608;
/// Bound of [`Contributions`]: at most 13 sync subcommittee contributions per duty.
pub type MaxContributions = U13;

/// The committee runner's consensus value (`BeaconVote`): fixed 112 bytes of SSZ.
///
/// `source`/`target` are pointers in Go; on the wire they are always present. The spec's
/// value check (not this type) requires `source.epoch < target.epoch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct BeaconVote {
    /// The head block root to attest to.
    pub block_root: Root,
    /// The FFG source checkpoint.
    pub source: Checkpoint,
    /// The FFG target checkpoint.
    pub target: Checkpoint,
}

/// One sync-committee contribution with its selection proof (`Contribution`).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct Contribution {
    /// The aggregator's selection proof for the contribution's subcommittee.
    pub selection_proof_sig: BlsSignatureBytes,
    /// The contribution.
    pub contribution: SyncCommitteeContribution,
}

/// A sync-committee-contribution duty's consensus payload (`Contributions`, at most 13).
///
/// Go encodes this list with a hand-written codec that writes an **offset per item** even
/// though `Contribution` is fixed-size (fastssz `DecodeDynamicLength`/`UnmarshalDynamic`),
/// so it is not the standard SSZ of a list of fixed-size items; its `hash_tree_root` is the
/// standard one of `List[Contribution, 13]`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Contributions(pub VariableList<Contribution, MaxContributions>);

impl Encode for Contributions {
    fn is_ssz_fixed_len() -> bool {
        false
    }

    fn ssz_bytes_len(&self) -> usize {
        self.0.iter().map(|c| c.ssz_bytes_len().saturating_add(4)).sum()
    }

    fn ssz_append(&self, buf: &mut Vec<u8>) {
        let mut encoder = ssz::SszEncoder::container(buf, self.0.len().saturating_mul(4));
        for c in &self.0 {
            // Each item is appended as a variable part, which writes its offset first.
            encoder.append_parameterized(false, |buf| c.ssz_append(buf));
        }
        encoder.finalize();
    }
}

impl Decode for Contributions {
    fn is_ssz_fixed_len() -> bool {
        false
    }

    fn from_ssz_bytes(bytes: &[u8]) -> Result<Self, ssz::DecodeError> {
        ssz::decode_list_of_variable_length_items::<Contribution, VariableList<_, _>>(
            bytes,
            Some(<MaxContributions as typenum::Unsigned>::USIZE),
        )
        .map(Self)
    }
}

impl TreeHash for Contributions {
    fn tree_hash_type() -> tree_hash::TreeHashType {
        tree_hash::TreeHashType::List
    }

    fn tree_hash_packed_encoding(&self) -> tree_hash::PackedEncoding {
        // A list is never packed into a parent; delegate rather than panic.
        self.0.tree_hash_packed_encoding()
    }

    fn tree_hash_packing_factor() -> usize {
        1
    }

    fn tree_hash_root(&self) -> tree_hash::Hash256 {
        self.0.tree_hash_root()
    }
}

/// An aggregator duty's consensus payload: the aggregate-and-proof of its fork.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionedAggregateAndProof {
    /// Phase0 to Deneb layout (the version is kept by the caller).
    Phase0(phase0::AggregateAndProof),
    /// Electra and Fulu layout.
    Electra(electra::AggregateAndProof),
}

impl VersionedAggregateAndProof {
    /// `hash_tree_root` of the aggregate-and-proof: the object the aggregator signs.
    pub fn root(&self) -> Root {
        match self {
            Self::Phase0(a) => a.tree_hash_root().0,
            Self::Electra(a) => a.tree_hash_root().0,
        }
    }
}

/// The consensus value of the proposer, aggregator and sync-committee-contribution runners
/// (`ValidatorConsensusData`, Alan).
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash)]
pub struct ValidatorConsensusData {
    /// The duty the value is for.
    pub duty: ValidatorDuty,
    /// Raw [`DataVersion`] number (go-eth2-client `spec.DataVersion`); may be unknown.
    pub version: u64,
    /// SSZ of the block, aggregate-and-proof or [`Contributions`] (≤ 2^23 bytes).
    pub data_ssz: VariableList<u8, MaxDataSszLen>,
}

impl ValidatorConsensusData {
    /// The fork version, or `None` for an unknown number.
    pub fn data_version(&self) -> Option<DataVersion> {
        DataVersion::from_u64(self.version)
    }

    /// `ValidatorConsensusData.Validate()` of ssv-spec v1.2.2: by duty role, the payload
    /// must decode (aggregator: aggregate-and-proof; proposer: blinded or full block;
    /// sync-committee contribution: contributions); registration (10), exit (11) and every
    /// other role (12) carry no consensus data.
    ///
    /// # Errors
    /// The payload's decode error (code 1, or 13 for a block version without blocks), or the
    /// role's code.
    pub fn validate(&self) -> Result<(), ValidationError> {
        match BeaconRole::from_u64(self.duty.role) {
            Some(BeaconRole::Aggregator) => self.aggregate_and_proof().map(|_| ()),
            Some(BeaconRole::Proposer) => self.block_data().map(|_| ()),
            Some(BeaconRole::SyncCommitteeContribution) => {
                self.sync_committee_contributions().map(|_| ())
            }
            Some(BeaconRole::ValidatorRegistration) => {
                Err(ValidationError::ValidatorRegistrationNoConsensusData)
            }
            Some(BeaconRole::VoluntaryExit) => Err(ValidationError::ValidatorExitNoConsensusData),
            Some(BeaconRole::Attester | BeaconRole::SyncCommittee) | None => {
                Err(ValidationError::UnknownDutyRoleData)
            }
        }
    }

    /// `GetBlockData`: the proposal as the blinded block of `version` if it decodes, else
    /// the full block (block contents from Deneb on).
    ///
    /// # Errors
    /// [`ValidationError::Block`]: unknown block version (13) or neither decodes (1).
    pub fn block_data(&self) -> Result<VersionedBlock, ValidationError> {
        decode_proposal(self.version, &self.data_ssz).map_err(ValidationError::Block)
    }

    /// `GetAggregateAndProof`: phase0 layout for phase0 to Deneb, Electra layout for Electra
    /// and Fulu.
    ///
    /// # Errors
    /// [`ValidationError::UnmarshalSsz`] (1) when the bytes do not decode;
    /// [`ValidationError::UnknownAggregateVersion`] (no code) for another version.
    pub fn aggregate_and_proof(&self) -> Result<VersionedAggregateAndProof, ValidationError> {
        let err = |e: ssz::DecodeError| ValidationError::UnmarshalSsz {
            what: "aggregate and proof",
            reason: ssz_reason(&e),
        };
        match self.data_version() {
            Some(
                DataVersion::Phase0
                | DataVersion::Altair
                | DataVersion::Bellatrix
                | DataVersion::Capella
                | DataVersion::Deneb,
            ) => phase0::AggregateAndProof::from_ssz_bytes(&self.data_ssz)
                .map(VersionedAggregateAndProof::Phase0)
                .map_err(err),
            Some(DataVersion::Electra | DataVersion::Fulu) => {
                electra::AggregateAndProof::from_ssz_bytes(&self.data_ssz)
                    .map(VersionedAggregateAndProof::Electra)
                    .map_err(err)
            }
            Some(DataVersion::Unknown) | None => {
                Err(ValidationError::UnknownAggregateVersion(self.version))
            }
        }
    }

    /// `GetSyncCommitteeContributions`: the payload as [`Contributions`] (any version).
    ///
    /// # Errors
    /// [`ValidationError::UnmarshalSsz`] (1) when the bytes do not decode.
    pub fn sync_committee_contributions(&self) -> Result<Contributions, ValidationError> {
        Contributions::from_ssz_bytes(&self.data_ssz).map_err(|e| ValidationError::UnmarshalSsz {
            what: "sync committee contributions",
            reason: ssz_reason(&e),
        })
    }
}
