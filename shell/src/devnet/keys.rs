//! Deterministic devnet keys: validator BLS keys derived from a seed, split into shares for a
//! committee, and the `sharesData` / keyshares file (ssv-keys v1.2.0 format, notes 4.2) that
//! registers them.
//!
//! Keys come from `sha512(domain ‖ seed ‖ index)`, so the same seed gives the same devnet;
//! they are for local testing only. The RSA encryption of each share is randomised by
//! aws-lc, so `sharesData` differs between runs while the shares do not.

use alloy::primitives::Address;
use serde_json::json;
use sha2::{Digest, Sha512};
use ssv_core::crypto::bls::{PublicKey, SecretKey};
use ssv_core::crypto::keyshares::{KEYSHARES_VERSION, SharesData, ownership_message};
use ssv_core::crypto::rsa::{OperatorPublicKey, RsaError};
use ssv_core::crypto::threshold::{SecretShare, SplitError, split_secret};
use ssv_core::types::OperatorId;

/// Why a devnet validator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    /// The committee is not 3f + 1 operators, or the split failed.
    #[error("splitting the validator key: {0}")]
    Split(#[from] SplitError),
    /// A share could not be encrypted to its operator.
    #[error("encrypting a share: {0}")]
    Rsa(#[from] RsaError),
    /// The committee size is not 4, 7, 10 or 13.
    #[error("{0} operators cannot form a 3f+1 committee")]
    CommitteeSize(usize),
}

fn seeded_bytes(domain: &str, seed: &[u8], index: u64, counter: u64) -> [u8; 64] {
    let mut h = Sha512::new();
    h.update(domain.as_bytes());
    h.update((seed.len() as u64).to_be_bytes());
    h.update(seed);
    h.update(index.to_be_bytes());
    h.update(counter.to_be_bytes());
    h.finalize().into()
}

/// The validator secret key number `index` of the devnet `seed`.
pub fn validator_secret(seed: &[u8], index: u64) -> SecretKey {
    let mut counter = 0u64;
    loop {
        let wide = seeded_bytes("ssv-devnet validator", seed, index, counter);
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(&wide[..32]);
        // Below 2^254 < r, so the bytes are a valid scalar unless all zero.
        bytes[0] &= 0x3f;
        if let Ok(key) = SecretKey::from_bytes(&bytes) {
            return key;
        }
        counter += 1;
    }
}

/// A devnet validator split for one committee.
#[derive(Debug, Clone)]
pub struct DevnetValidator {
    /// The validator secret key.
    pub secret: SecretKey,
    /// The validator public key.
    pub public_key: PublicKey,
    /// One share per committee member, in the committee's (ascending) order.
    pub shares: Vec<SecretShare>,
}

impl DevnetValidator {
    /// Validator `index` of `seed`, split among `operator_ids` (ascending, 3f + 1 of them)
    /// with threshold 2f + 1.
    ///
    /// # Errors
    /// [`KeysError::CommitteeSize`], [`KeysError::Split`].
    pub fn new(seed: &[u8], index: u64, operator_ids: &[OperatorId]) -> Result<Self, KeysError> {
        let n = operator_ids.len();
        if !(4..=13).contains(&n) || n % 3 != 1 {
            return Err(KeysError::CommitteeSize(n));
        }
        let f = (n - 1) / 3;
        let secret = validator_secret(seed, index);
        let coefficients: Vec<[u8; 64]> = (0..2 * f as u64)
            .map(|k| seeded_bytes("ssv-devnet coefficient", seed, index, k))
            .collect();
        let shares = split_secret(&secret, operator_ids, &coefficients)?;
        Ok(Self { public_key: secret.public_key(), secret, shares })
    }

    /// The `sharesData` registering this validator for `owner` at `nonce`: the ownership
    /// signature, the share public keys and each share encrypted to its operator's key
    /// (`operator_keys` in committee order).
    ///
    /// # Errors
    /// [`KeysError::Rsa`]; [`KeysError::CommitteeSize`] when the key list does not match.
    pub fn shares_data(
        &self,
        operator_keys: &[OperatorPublicKey],
        owner: &Address,
        nonce: u64,
    ) -> Result<SharesData, KeysError> {
        if operator_keys.len() != self.shares.len() {
            return Err(KeysError::CommitteeSize(operator_keys.len()));
        }
        let signature = self.secret.sign(&ownership_message(owner, nonce));
        let encrypted_shares = self
            .shares
            .iter()
            .zip(operator_keys)
            .map(|(share, key)| key.encrypt_share(&share.secret_key.to_bytes()))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SharesData {
            signature,
            share_public_keys: self.shares.iter().map(SecretShare::public_key).collect(),
            encrypted_shares,
        })
    }

    /// The operator ids of the committee.
    pub fn operator_ids(&self) -> Vec<OperatorId> {
        self.shares.iter().map(|s| s.operator_id).collect()
    }
}

/// One validator's item of a keyshares file (ssv-keys v1.2.0 `shares[]` entry).
pub fn keyshares_item(
    validator: &PublicKey,
    operators: &[(OperatorId, OperatorPublicKey)],
    owner: &Address,
    nonce: u64,
    shares: &SharesData,
) -> serde_json::Value {
    let public_key = format!("0x{}", hex::encode(validator.to_bytes()));
    json!({
        "data": {
            "ownerNonce": nonce,
            "ownerAddress": owner.to_checksum(None),
            "publicKey": public_key,
            "operators": operators.iter().map(|(id, key)| json!({
                "id": id,
                "operatorKey": key.to_base64_pem(),
            })).collect::<Vec<_>>(),
        },
        "payload": {
            "publicKey": public_key,
            "operatorIds": operators.iter().map(|(id, _)| id).collect::<Vec<_>>(),
            "sharesData": format!("0x{}", hex::encode(shares.to_bytes())),
        },
    })
}

/// A keyshares file (ssv-keys v1.2.0 list form) of `items` from [`keyshares_item`];
/// `created_at` is an ISO-8601 time.
pub fn keyshares_file(items: &[serde_json::Value], created_at: &str) -> String {
    let doc = json!({ "version": KEYSHARES_VERSION, "createdAt": created_at, "shares": items });
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}
