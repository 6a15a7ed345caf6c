//! Builder-API containers (ethereum/builder-specs `ValidatorRegistrationV1`).

use serde::{Deserialize, Serialize};
use ssz_derive::{Decode, Encode};
use tree_hash_derive::TreeHash;

use super::serde_utils::{hex_array, quoted_u64};
use super::{BlsPubkey, BlsSignature, ExecutionAddress};

/// `ValidatorRegistrationV1`: a validator's fee recipient and gas-limit preference for builders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct ValidatorRegistration {
    /// The address that receives the fees.
    #[serde(with = "hex_array")]
    pub fee_recipient: ExecutionAddress,
    /// The preferred gas limit.
    #[serde(with = "quoted_u64")]
    pub gas_limit: u64,
    /// Unix seconds of the registration.
    #[serde(with = "quoted_u64")]
    pub timestamp: u64,
    /// The validator's public key.
    #[serde(with = "hex_array")]
    pub pubkey: BlsPubkey,
}

/// `SignedValidatorRegistrationV1`, signed with `DOMAIN_APPLICATION_BUILDER`.
#[derive(Debug, Clone, PartialEq, Eq, Encode, Decode, TreeHash, Serialize, Deserialize)]
pub struct SignedValidatorRegistration {
    /// The registration.
    pub message: ValidatorRegistration,
    /// The validator's signature.
    #[serde(with = "hex_array")]
    pub signature: BlsSignature,
}
