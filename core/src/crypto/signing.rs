//! Ethereum signing: domains, fork data and signing roots.
//!
//! A beacon object is signed over `hash_tree_root(SigningData(object_root, domain))`, where
//! `domain = domain_type ‖ hash_tree_root(ForkData(fork_version, genesis_validators_root))[..28]`.
//!
//! Source: consensus-specs `phase0/beacon-chain.md` (`compute_fork_data_root`,
//! `compute_domain`, `compute_signing_root`), `altair/beacon-chain.md` (sync committee
//! domains), builder-specs `bellatrix/builder.md` (`DOMAIN_APPLICATION_BUILDER`);
//! ssv-spec v1.2.2 `types/signer.go` (`ComputeETHSigningRoot`).

use tree_hash::TreeHash;
use tree_hash_derive::TreeHash;

use crate::types::Root;

/// A 4-byte fork version (`Version` in the consensus specs).
pub type ForkVersion = [u8; 4];

/// A 32-byte signature domain: the domain type then 28 bytes of the fork data root.
pub type Domain = [u8; 32];

/// A 4-byte beacon-chain signature domain type (`DomainType` in the consensus specs).
///
/// Not to be confused with SSV's [`crate::types::DomainType`], which scopes SSV messages.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct BeaconDomainType(pub [u8; 4]);

impl BeaconDomainType {
    /// Block proposals (phase0).
    pub const BEACON_PROPOSER: Self = Self([0x00, 0x00, 0x00, 0x00]);
    /// Attestations (phase0).
    pub const BEACON_ATTESTER: Self = Self([0x01, 0x00, 0x00, 0x00]);
    /// RANDAO reveals (phase0).
    pub const RANDAO: Self = Self([0x02, 0x00, 0x00, 0x00]);
    /// Deposits (phase0): signed with the genesis fork version and a zero genesis root.
    pub const DEPOSIT: Self = Self([0x03, 0x00, 0x00, 0x00]);
    /// Voluntary exits (phase0; from Deneb always with the Capella fork version, EIP-7044).
    pub const VOLUNTARY_EXIT: Self = Self([0x04, 0x00, 0x00, 0x00]);
    /// Aggregator selection proofs (phase0).
    pub const SELECTION_PROOF: Self = Self([0x05, 0x00, 0x00, 0x00]);
    /// Aggregate-and-proof messages (phase0).
    pub const AGGREGATE_AND_PROOF: Self = Self([0x06, 0x00, 0x00, 0x00]);
    /// Sync committee messages (altair).
    pub const SYNC_COMMITTEE: Self = Self([0x07, 0x00, 0x00, 0x00]);
    /// Sync committee aggregator selection proofs (altair).
    pub const SYNC_COMMITTEE_SELECTION_PROOF: Self = Self([0x08, 0x00, 0x00, 0x00]);
    /// Sync committee contribution-and-proof messages (altair).
    pub const CONTRIBUTION_AND_PROOF: Self = Self([0x09, 0x00, 0x00, 0x00]);
    /// BLS-to-execution credential changes (capella): signed with the genesis fork version.
    pub const BLS_TO_EXECUTION_CHANGE: Self = Self([0x0a, 0x00, 0x00, 0x00]);
    /// Builder API validator registrations (builder-specs): genesis fork version, zero
    /// genesis validators root.
    pub const APPLICATION_BUILDER: Self = Self([0x00, 0x00, 0x00, 0x01]);
}

/// `ForkData` (phase0): the container whose root binds a domain to a fork and a chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq, TreeHash)]
pub struct ForkData {
    /// The fork version in force for the signed object.
    pub current_version: ForkVersion,
    /// The chain's genesis validators root (zero for deposits and builder registrations).
    pub genesis_validators_root: Root,
}

/// `SigningData` (phase0): the container whose root is what a validator signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, TreeHash)]
pub struct SigningData {
    /// `hash_tree_root` of the signed object.
    pub object_root: Root,
    /// The signature domain.
    pub domain: Domain,
}

/// `compute_fork_data_root(current_version, genesis_validators_root)`: the SSZ root of
/// [`ForkData`]. Its first 4 bytes are the pre-Fulu fork digest.
pub fn compute_fork_data_root(
    current_version: ForkVersion,
    genesis_validators_root: &Root,
) -> Root {
    ForkData { current_version, genesis_validators_root: *genesis_validators_root }
        .tree_hash_root()
        .0
}

/// `compute_domain(domain_type, fork_version, genesis_validators_root)`: the domain type
/// followed by the first 28 bytes of the fork data root.
pub fn compute_domain(
    domain_type: BeaconDomainType,
    fork_version: ForkVersion,
    genesis_validators_root: &Root,
) -> Domain {
    let fork_data_root = compute_fork_data_root(fork_version, genesis_validators_root);
    let mut domain = [0u8; 32];
    let (head, tail) = domain.split_at_mut(4);
    head.copy_from_slice(&domain_type.0);
    for (dst, src) in tail.iter_mut().zip(fork_data_root.iter()) {
        *dst = *src;
    }
    domain
}

/// `compute_signing_root(object, domain)` given the object's `hash_tree_root`: the SSZ root
/// of [`SigningData`], the 32 bytes a validator (or an SSV share) signs.
pub fn compute_signing_root(object_root: &Root, domain: &Domain) -> Root {
    SigningData { object_root: *object_root, domain: *domain }.tree_hash_root().0
}

/// `compute_signing_root` for any SSZ object: hashes it, then applies the domain.
pub fn signing_root_of<T: TreeHash>(object: &T, domain: &Domain) -> Root {
    compute_signing_root(&object.tree_hash_root().0, domain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mainnet_genesis_fork_digest() {
        // eth-clients/mainnet README: genesis fork digest 0xb5303f2a.
        let gvr: Root =
            hex::decode("4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95")
                .unwrap()
                .try_into()
                .unwrap();
        let root = compute_fork_data_root([0, 0, 0, 0], &gvr);
        assert_eq!(root[..4], [0xb5, 0x30, 0x3f, 0x2a]);
    }
}
