//! Fork versions and blocks tagged by fork, as the proposer runner carries them.
//!
//! [`DataVersion`] numbers forks as go-eth2-client's `spec.DataVersion` (v0.27, the version
//! ssv-spec v1.2.2 uses): unknown 0, phase0 1, … fulu 7. It is the `Version` field of
//! `ValidatorConsensusData` on the wire, and a lowercase name in JSON.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ssz::{Decode, Encode};
use tree_hash::TreeHash;

use super::{Root, Slot, ValidatorIndex, capella, deneb, electra, fulu};
use crate::error::{ErrorCode, SpecError};

/// A beacon-chain fork, numbered as go-eth2-client's `spec.DataVersion`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DataVersion {
    /// 0: unset.
    Unknown,
    /// 1: the initial release.
    Phase0,
    /// 2: sync committees.
    Altair,
    /// 3: the merge.
    Bellatrix,
    /// 4: withdrawals.
    Capella,
    /// 5: blobs (EIP-4844).
    Deneb,
    /// 6: EIP-7549 attestations, execution requests.
    Electra,
    /// 7: PeerDAS.
    Fulu,
}

impl DataVersion {
    /// Every version, in fork order.
    pub const ALL: [DataVersion; 8] = [
        Self::Unknown,
        Self::Phase0,
        Self::Altair,
        Self::Bellatrix,
        Self::Capella,
        Self::Deneb,
        Self::Electra,
        Self::Fulu,
    ];

    /// The go-eth2-client number (the SSZ `uint64` on the wire).
    pub fn as_u64(self) -> u64 {
        match self {
            Self::Unknown => 0,
            Self::Phase0 => 1,
            Self::Altair => 2,
            Self::Bellatrix => 3,
            Self::Capella => 4,
            Self::Deneb => 5,
            Self::Electra => 6,
            Self::Fulu => 7,
        }
    }

    /// The version numbered `n`, or `None` past Fulu.
    pub fn from_u64(n: u64) -> Option<Self> {
        Self::ALL.into_iter().find(|v| v.as_u64() == n)
    }

    /// The lowercase name (`"phase0"`, …, `"fulu"`; `"unknown"` for 0), as in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Self::Unknown => "unknown",
            Self::Phase0 => "phase0",
            Self::Altair => "altair",
            Self::Bellatrix => "bellatrix",
            Self::Capella => "capella",
            Self::Deneb => "deneb",
            Self::Electra => "electra",
            Self::Fulu => "fulu",
        }
    }
}

impl fmt::Display for DataVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A fork name that is not one of `phase0` … `fulu`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unrecognised data version {0:?}")]
pub struct UnknownVersionName(pub String);

impl FromStr for DataVersion {
    type Err = UnknownVersionName;

    /// Parses a fork name, ignoring case. `"unknown"` is rejected, as go-eth2-client does.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .filter(|v| *v != Self::Unknown)
            .find(|v| v.name() == lower)
            .ok_or_else(|| UnknownVersionName(s.to_string()))
    }
}

impl Serialize for DataVersion {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> Deserialize<'de> for DataVersion {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Why a proposal's SSZ did not decode as a block of its version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BlockDecodeError {
    /// The version has no block type here (only Capella to Fulu do, as in ssv-spec).
    #[error("unknown block version {0}")]
    UnknownVersion(u64),
    /// The bytes are not a valid SSZ encoding of the expected container(s).
    #[error("could not unmarshal {version} block ssz: {reason}")]
    Ssz {
        /// The version decoded for.
        version: DataVersion,
        /// The decoder's complaint(s).
        reason: String,
    },
}

impl SpecError for BlockDecodeError {
    fn code(&self) -> Option<ErrorCode> {
        Some(match self {
            Self::UnknownVersion(_) => ErrorCode::UnknownBlockVersion,
            Self::Ssz { .. } => ErrorCode::UnmarshalSsz,
        })
    }
}

/// A proposal as the proposer runner holds it: a block by fork, full or blinded.
///
/// From Deneb on a full proposal is the Beacon API's `BlockContents` (block, KZG proofs,
/// blobs), as in ssv-spec's `ValidatorConsensusData.GetBlockData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionedBlock {
    /// A full Capella block.
    Capella(capella::BeaconBlock),
    /// A blinded Capella block.
    CapellaBlinded(capella::BlindedBeaconBlock),
    /// Deneb block contents.
    Deneb(deneb::BlockContents),
    /// A blinded Deneb block.
    DenebBlinded(deneb::BlindedBeaconBlock),
    /// Electra block contents.
    Electra(electra::BlockContents),
    /// A blinded Electra block.
    ElectraBlinded(electra::BlindedBeaconBlock),
    /// Fulu block contents (cell proofs).
    Fulu(fulu::BlockContents),
    /// A blinded Fulu block (the Electra layout).
    FuluBlinded(fulu::BlindedBeaconBlock),
}

/// Calls `$f` with the inner block (not the contents) of any variant.
macro_rules! with_block {
    ($self:expr, $b:ident => $e:expr) => {
        match $self {
            VersionedBlock::Capella($b) => $e,
            VersionedBlock::CapellaBlinded($b) => $e,
            VersionedBlock::Deneb(c) => {
                let $b = &c.block;
                $e
            }
            VersionedBlock::DenebBlinded($b) => $e,
            VersionedBlock::Electra(c) => {
                let $b = &c.block;
                $e
            }
            VersionedBlock::ElectraBlinded($b) => $e,
            VersionedBlock::Fulu(c) => {
                let $b = &c.block;
                $e
            }
            VersionedBlock::FuluBlinded($b) => $e,
        }
    };
}

impl VersionedBlock {
    /// The fork.
    pub fn version(&self) -> DataVersion {
        match self {
            Self::Capella(_) | Self::CapellaBlinded(_) => DataVersion::Capella,
            Self::Deneb(_) | Self::DenebBlinded(_) => DataVersion::Deneb,
            Self::Electra(_) | Self::ElectraBlinded(_) => DataVersion::Electra,
            Self::Fulu(_) | Self::FuluBlinded(_) => DataVersion::Fulu,
        }
    }

    /// Whether the block carries a payload header instead of the payload.
    pub fn is_blinded(&self) -> bool {
        matches!(
            self,
            Self::CapellaBlinded(_)
                | Self::DenebBlinded(_)
                | Self::ElectraBlinded(_)
                | Self::FuluBlinded(_)
        )
    }

    /// The block's slot.
    pub fn slot(&self) -> Slot {
        with_block!(self, b => b.slot)
    }

    /// The block's proposer.
    pub fn proposer_index(&self) -> ValidatorIndex {
        with_block!(self, b => b.proposer_index)
    }

    /// `hash_tree_root` of the block (not of the contents): the object the proposer signs.
    /// A blinded block has the same root as the full block it blinds.
    pub fn block_root(&self) -> Root {
        with_block!(self, b => b.tree_hash_root().0)
    }

    /// The SSZ encoding of what this variant holds (contents for full Deneb+ proposals).
    pub fn to_ssz(&self) -> Vec<u8> {
        match self {
            Self::Capella(b) => b.as_ssz_bytes(),
            Self::CapellaBlinded(b) => b.as_ssz_bytes(),
            Self::Deneb(c) => c.as_ssz_bytes(),
            Self::DenebBlinded(b) => b.as_ssz_bytes(),
            Self::Electra(c) => c.as_ssz_bytes(),
            Self::ElectraBlinded(b) => b.as_ssz_bytes(),
            Self::Fulu(c) => c.as_ssz_bytes(),
            Self::FuluBlinded(b) => b.as_ssz_bytes(),
        }
    }
}

fn ssz<T: Decode>(version: DataVersion, bytes: &[u8]) -> Result<T, BlockDecodeError> {
    T::from_ssz_bytes(bytes)
        .map_err(|e| BlockDecodeError::Ssz { version, reason: format!("{e:?}") })
}

/// Decodes `bytes` as the `blinded` or full proposal of `version` (a full proposal is
/// `BlockContents` from Deneb on).
///
/// # Errors
/// [`BlockDecodeError::UnknownVersion`] for versions before Capella or unknown;
/// [`BlockDecodeError::Ssz`] when the bytes are not that container.
pub fn decode_block(
    version: DataVersion,
    bytes: &[u8],
    blinded: bool,
) -> Result<VersionedBlock, BlockDecodeError> {
    use DataVersion as V;
    use VersionedBlock as B;
    Ok(match (version, blinded) {
        (V::Capella, false) => B::Capella(ssz(version, bytes)?),
        (V::Capella, true) => B::CapellaBlinded(ssz(version, bytes)?),
        (V::Deneb, false) => B::Deneb(ssz(version, bytes)?),
        (V::Deneb, true) => B::DenebBlinded(ssz(version, bytes)?),
        (V::Electra, false) => B::Electra(ssz(version, bytes)?),
        (V::Electra, true) => B::ElectraBlinded(ssz(version, bytes)?),
        (V::Fulu, false) => B::Fulu(ssz(version, bytes)?),
        (V::Fulu, true) => B::FuluBlinded(ssz(version, bytes)?),
        (V::Unknown | V::Phase0 | V::Altair | V::Bellatrix, _) => {
            return Err(BlockDecodeError::UnknownVersion(version.as_u64()));
        }
    })
}

/// Decodes a proposal the way ssv-spec's `GetBlockData` does: as the blinded block of
/// `version` if that decodes, else as the full proposal. `version` is the raw wire number.
///
/// # Errors
/// [`BlockDecodeError::UnknownVersion`] unless `version` is Capella to Fulu;
/// [`BlockDecodeError::Ssz`] (both reasons) when neither decodes.
pub fn decode_proposal(version: u64, bytes: &[u8]) -> Result<VersionedBlock, BlockDecodeError> {
    let v = DataVersion::from_u64(version).ok_or(BlockDecodeError::UnknownVersion(version))?;
    match decode_block(v, bytes, true) {
        Ok(block) => Ok(block),
        Err(BlockDecodeError::Ssz { reason: blinded, .. }) => decode_block(v, bytes, false)
            .map_err(|err| match err {
                BlockDecodeError::Ssz { version, reason } => BlockDecodeError::Ssz {
                    version,
                    reason: format!("blinded: {blinded}; regular: {reason}"),
                },
                other => other,
            }),
        Err(other) => Err(other),
    }
}
