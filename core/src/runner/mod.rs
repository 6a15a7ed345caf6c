//! Duty runners and partial-signature aggregation (ssv-spec v1.2.2 `ssv/`).
//!
//! # Driving contract
//! Every machine here follows the house shape:
//!
//! ```text
//! handle(&mut self, now: UnixMillis, input, out: &mut Vec<Output>) -> Result<(), RunnerError>
//! poll_timeout(&self) -> Option<UnixMillis>
//! ```
//!
//! Everything a runner needs from outside is a [`Request`] it pushes as
//! [`Output::Request`] and a [`Response`] the driver feeds back as [`Input::Response`]:
//! beacon-node data (attestation data) and BLS signing with the share key. Beacon
//! submissions are [`Output::Submit`] (fire and forget). Operator (RSA) signatures of
//! outgoing messages are made inside, through the QBFT configuration's signer, so emitted
//! messages are final. Slashing protection is a pure lookup ([`SlashingProtection`]).
//!
//! A driver that answers every request at once (the vector harness) observes exactly the
//! spec's synchronous behaviour: the error of an input is the error of the input or of the
//! responses it triggered.

mod committee;
mod committee_runner;
mod container;
mod error;
mod network;
mod validator;
mod validator_runner;
mod value_check;

pub use committee::{Committee, CreateRunner, verify_signed};
pub use committee_runner::{CommitteeRunner, RunnerState, attestation_data};
pub use container::{
    BlstThresholdBls, PartialSigContainer, QuorumSet, SignerSignatures, ThresholdBls, batch_seed,
    verify_partial,
};
pub use error::RunnerError;
pub use network::BeaconNetwork;
pub use validator::Validator;
pub use validator_runner::{DEFAULT_GAS_LIMIT, ValidatorRunner};
pub use value_check::{
    RunnerValueCheck, SlashingProtection, check_beacon_vote, check_duty,
    check_validator_consensus_data,
};

use crate::beacon::{
    AttestationData, SignedContributionAndProof, SignedValidatorRegistration, SignedVoluntaryExit,
    VersionedBlock, altair, electra, phase0,
};
use serde::{Deserialize, Serialize};

use crate::crypto::signing::BeaconDomainType;
use crate::types::{
    BlsPublicKeyBytes, BlsSignatureBytes, CommitteeDuty, Root, SignedSsvMessage, Slot,
    ValidatorDuty, ValidatorIndex,
};

/// A duty as a runner starts it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Duty {
    /// One validator's duty (proposer, aggregator, contribution, registration, exit).
    Validator(#[serde(with = "crate::trace::ssz_bytes")] ValidatorDuty),
    /// A committee's attester and sync-committee duties at one slot.
    Committee(CommitteeDuty),
}

impl Duty {
    /// The duty's slot.
    pub fn slot(&self) -> Slot {
        match self {
            Self::Validator(d) => d.slot,
            Self::Committee(d) => d.slot,
        }
    }
}

/// One BLS signature to make with a share key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignRequest {
    /// The share public key whose secret signs.
    #[serde(with = "crate::trace::byte_array")]
    pub share_pub_key: BlsPublicKeyBytes,
    /// The validator the share belongs to.
    pub validator_index: ValidatorIndex,
    /// The beacon domain type (for slashing-aware signers).
    pub domain_type: BeaconDomainType,
    /// The 32 bytes to sign (the beacon signing root).
    pub signing_root: Root,
}

/// What a runner asks its driver for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Request {
    /// `GetAttestationData(slot)`: answer with [`Response::AttestationData`].
    AttestationData {
        /// The slot.
        slot: Slot,
    },
    /// Sign each item with its share key: answer with [`Response::Signatures`], one
    /// result per item in order (a signer may refuse single items).
    Sign(Vec<SignRequest>),
    /// `GetBeaconBlock(slot, graffiti, randao)`: answer with [`Response::ConsensusData`]
    /// (the block or block contents SSZ and its fork).
    Proposal {
        /// The slot.
        slot: Slot,
        /// The share's graffiti.
        graffiti: Root,
        /// The reconstructed RANDAO reveal.
        #[serde(with = "crate::trace::byte_array")]
        randao_reveal: BlsSignatureBytes,
    },
    /// `SubmitAggregateSelectionProof`: answer with [`Response::ConsensusData`] (the
    /// aggregate-and-proof SSZ and its fork).
    AggregateAndProof {
        /// The slot.
        slot: Slot,
        /// The attestation committee.
        committee_index: u64,
        /// The committee's size.
        committee_length: u64,
        /// The aggregator.
        validator_index: ValidatorIndex,
        /// The reconstructed selection proof.
        #[serde(with = "crate::trace::byte_array")]
        selection_proof: BlsSignatureBytes,
    },
    /// `IsSyncCommitteeAggregator` for each proof: answer with [`Response::Flags`].
    IsSyncCommitteeAggregator(
        #[serde(with = "crate::trace::byte_array_list")] Vec<BlsSignatureBytes>,
    ),
    /// `GetSyncCommitteeContribution(slot, proofs, subnets)`: answer with
    /// [`Response::ConsensusData`] (`Contributions` SSZ and its fork).
    SyncCommitteeContributions {
        /// The slot.
        slot: Slot,
        /// The selection proofs of the selected subnets.
        #[serde(with = "crate::trace::byte_array_list")]
        selection_proofs: Vec<BlsSignatureBytes>,
        /// The subnets, parallel to `selection_proofs`.
        subnets: Vec<u64>,
    },
}

impl Request {
    /// The slot a beacon-node request is for; `None` for [`Request::Sign`] and
    /// [`Request::IsSyncCommitteeAggregator`], which carry no slot.
    pub fn slot(&self) -> Option<Slot> {
        match self {
            Self::AttestationData { slot }
            | Self::Proposal { slot, .. }
            | Self::AggregateAndProof { slot, .. }
            | Self::SyncCommitteeContributions { slot, .. } => Some(*slot),
            Self::Sign(_) | Self::IsSyncCommitteeAggregator(_) => None,
        }
    }
}

/// The answer to a [`Request`], carrying the request id.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Attestation data for the requested slot.
    AttestationData(#[serde(with = "crate::trace::ssz_bytes")] AttestationData),
    /// One result per [`SignRequest`], in order: the share signature, or why the signer
    /// refused that item. The committee runner goes on with the signed items.
    Signatures(#[serde(with = "sign_results")] Vec<SignResult>),
    /// Consensus data from the beacon node: raw fork number and SSZ payload.
    ConsensusData {
        /// go-eth2-client `DataVersion` number.
        version: u64,
        /// The SSZ of the block, aggregate-and-proof or contributions.
        data_ssz: Vec<u8>,
    },
    /// One answer per item of [`Request::IsSyncCommitteeAggregator`], in order.
    Flags(Vec<bool>),
    /// The request failed (the beacon node or the signer refused).
    Failed(String),
}

/// Why a signer refused one [`SignRequest`] (no spec code: the spec's signer cannot
/// refuse a single item).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize, Deserialize)]
pub enum SignRefusal {
    /// Slashing protection refused the signing root (a double or surrounding vote, a
    /// double proposal); the reason as the protection gave it.
    #[error("slashing protection: {0}")]
    Slashable(String),
    /// The signer holds no secret for the share public key.
    #[error("no secret for the share key")]
    MissingKey,
    /// Any other refusal (a request the signer does not serve, missing context).
    #[error("{0}")]
    Other(String),
}

/// The signer's answer to one [`SignRequest`].
pub type SignResult = Result<BlsSignatureBytes, SignRefusal>;

/// Serde for `Vec<SignResult>` (traces): each item a signature (96 bytes) or a refusal.
mod sign_results {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::{SignRefusal, SignResult};
    use crate::types::BlsSignatureBytes;

    #[derive(Serialize, Deserialize)]
    enum Item {
        Signed(#[serde(with = "crate::trace::byte_array")] BlsSignatureBytes),
        Refused(SignRefusal),
    }

    pub(super) fn serialize<S: Serializer>(v: &[SignResult], s: S) -> Result<S::Ok, S::Error> {
        let items: Vec<Item> = v
            .iter()
            .map(|r| match r {
                Ok(sig) => Item::Signed(*sig),
                Err(e) => Item::Refused(e.clone()),
            })
            .collect();
        items.serialize(s)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Vec<SignResult>, D::Error> {
        let items: Vec<Item> = Vec::deserialize(d)?;
        Ok(items
            .into_iter()
            .map(|i| match i {
                Item::Signed(sig) => Ok(sig),
                Item::Refused(e) => Err(e),
            })
            .collect())
    }
}

impl Response {
    /// [`Response::Signatures`] with every item signed.
    pub fn all_signed(sigs: Vec<BlsSignatureBytes>) -> Response {
        Response::Signatures(sigs.into_iter().map(Ok).collect())
    }
}

/// A signed object for the beacon node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Submission {
    /// A phase0-to-Deneb attestation (`SubmitAttestations`).
    Attestation(phase0::Attestation),
    /// An Electra-or-later attestation as gossiped (`SingleAttestation`).
    SingleAttestation(electra::SingleAttestation),
    /// A sync-committee message (`SubmitSyncMessages`).
    SyncCommitteeMessage(altair::SyncCommitteeMessage),
    /// A signed proposal (`SubmitBeaconBlock`): the block (or contents) and its signature.
    Block {
        /// The proposal as decided.
        block: Box<VersionedBlock>,
        /// The proposer's signature over the block root.
        signature: BlsSignatureBytes,
    },
    /// A phase0-to-Deneb signed aggregate (`SubmitSignedAggregateSelectionProof`).
    AggregateAndProof(Box<phase0::SignedAggregateAndProof>),
    /// An Electra-or-later signed aggregate.
    ElectraAggregateAndProof(Box<electra::SignedAggregateAndProof>),
    /// A signed sync-committee contribution (`SubmitSignedContributionAndProof`).
    ContributionAndProof(Box<SignedContributionAndProof>),
    /// A builder registration (`SubmitValidatorRegistration`).
    ValidatorRegistration(SignedValidatorRegistration),
    /// A voluntary exit (`SubmitVoluntaryExit`).
    VoluntaryExit(SignedVoluntaryExit),
}

impl Submission {
    /// The SSZ `hash_tree_root` of the submitted object (what the spec's mock records).
    pub fn root(&self) -> Root {
        use tree_hash::TreeHash;
        match self {
            Self::Attestation(a) => a.tree_hash_root().0,
            Self::SingleAttestation(a) => a.tree_hash_root().0,
            Self::SyncCommitteeMessage(m) => m.tree_hash_root().0,
            Self::Block { block, signature } => signed_block_root(block, *signature),
            Self::AggregateAndProof(a) => a.tree_hash_root().0,
            Self::ElectraAggregateAndProof(a) => a.tree_hash_root().0,
            Self::ContributionAndProof(c) => c.tree_hash_root().0,
            Self::ValidatorRegistration(r) => r.tree_hash_root().0,
            Self::VoluntaryExit(e) => e.tree_hash_root().0,
        }
    }
}

/// What a runner (or committee) is asked to do. Serde form: the trace format
/// ([`crate::trace`]); wire types as their SSZ bytes.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum Input {
    /// Start a duty.
    StartDuty(Duty),
    /// A received `SignedSSVMessage` (QBFT or partial signatures).
    Message(#[serde(with = "crate::trace::ssz_bytes")] SignedSsvMessage),
    /// The clock reached `poll_timeout`.
    Timeout,
    /// The answer to request `id`.
    Response {
        /// The request id from [`Output::Request`].
        id: u64,
        /// The answer.
        response: Response,
    },
}

/// What a runner asks its driver to do, in order.
#[derive(Debug, Clone)]
pub enum Output {
    /// A QBFT output (broadcast, timer, decided) of the runner's instance.
    Qbft(crate::qbft::Output),
    /// Broadcast a partial-signature message.
    Broadcast(SignedSsvMessage),
    /// Answer this request with [`Input::Response`].
    Request {
        /// Echo it back in the response.
        id: u64,
        /// What is asked.
        request: Request,
    },
    /// Submit to the beacon node.
    Submit(Submission),
}

/// `hash_tree_root` of the signed form of `block` (signed block, signed blinded block, or
/// signed block contents from Deneb on).
/// The part of `ProcessConsensus` the committee and validator runners share: hands `msg`
/// to the runner's `controller`, passes its outputs on as [`Output::Qbft`], and returns
/// the decided value when this message decided the running instance.
///
/// `running` is the runner's duty state: `None` without a running duty, else the height
/// of its running instance (if one started). `Ok(None)` when nothing was decided or no
/// duty runs.
///
/// # Errors
/// The controller's errors; `DecidedWrongInstance` for a decision of another height.
fn consensus_step(
    controller: &mut crate::qbft::Controller,
    running: Option<Option<crate::types::Height>>,
    now: crate::qbft::UnixMillis,
    msg: SignedSsvMessage,
    out: &mut Vec<Output>,
) -> Result<Option<Vec<u8>>, RunnerError> {
    let mut qout = Vec::new();
    let res = controller.handle(now, crate::qbft::ControllerInput::Message(msg), &mut qout);
    let decided = qout.iter().find_map(|o| match o {
        crate::qbft::Output::Decided(d) => Some((d.height, d.value.clone())),
        _ => None,
    });
    out.extend(qout.into_iter().map(Output::Qbft));
    res?;
    let (Some(running), Some((height, value))) = (running, decided) else { return Ok(None) };
    match running {
        Some(h) if h == height => Ok(Some(value)),
        _ => Err(RunnerError::DecidedWrongInstance),
    }
}

fn signed_block_root(block: &VersionedBlock, signature: BlsSignatureBytes) -> Root {
    use crate::beacon::{capella, deneb, fulu};
    use VersionedBlock as B;
    use tree_hash::TreeHash;
    match block {
        B::Capella(b) => {
            capella::SignedBeaconBlock { message: b.clone(), signature }.tree_hash_root().0
        }
        B::CapellaBlinded(b) => {
            capella::SignedBlindedBeaconBlock { message: b.clone(), signature }.tree_hash_root().0
        }
        B::Deneb(c) => {
            deneb::SignedBlockContents {
                signed_block: deneb::SignedBeaconBlock { message: c.block.clone(), signature },
                kzg_proofs: c.kzg_proofs.clone(),
                blobs: c.blobs.clone(),
            }
            .tree_hash_root()
            .0
        }
        B::DenebBlinded(b) => {
            deneb::SignedBlindedBeaconBlock { message: b.clone(), signature }.tree_hash_root().0
        }
        B::Electra(c) => {
            electra::SignedBlockContents {
                signed_block: electra::SignedBeaconBlock { message: c.block.clone(), signature },
                kzg_proofs: c.kzg_proofs.clone(),
                blobs: c.blobs.clone(),
            }
            .tree_hash_root()
            .0
        }
        B::ElectraBlinded(b) => {
            electra::SignedBlindedBeaconBlock { message: b.clone(), signature }.tree_hash_root().0
        }
        B::Fulu(c) => {
            fulu::SignedBlockContents {
                signed_block: fulu::SignedBeaconBlock { message: c.block.clone(), signature },
                kzg_proofs: c.kzg_proofs.clone(),
                blobs: c.blobs.clone(),
            }
            .tree_hash_root()
            .0
        }
        B::FuluBlinded(b) => {
            fulu::SignedBlindedBeaconBlock { message: b.clone(), signature }.tree_hash_root().0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_slot_is_the_slot_of_beacon_requests_only() {
        let proof = [0u8; 96];
        let with_slot = [
            Request::AttestationData { slot: 7 },
            Request::Proposal { slot: 7, graffiti: [0; 32], randao_reveal: proof },
            Request::AggregateAndProof {
                slot: 7,
                committee_index: 1,
                committee_length: 2,
                validator_index: 3,
                selection_proof: proof,
            },
            Request::SyncCommitteeContributions {
                slot: 7,
                selection_proofs: vec![proof],
                subnets: vec![0],
            },
        ];
        for r in &with_slot {
            assert_eq!(r.slot(), Some(7), "{r:?}");
        }
        assert_eq!(Request::Sign(Vec::new()).slot(), None);
        assert_eq!(Request::IsSyncCommitteeAggregator(vec![proof]).slot(), None);
    }
}
