//! Keyshares files in the ssv-keys v1.2.0 format, and the `sharesData` blob that
//! `ValidatorAdded` carries on chain (notes 4.2).
//!
//! Sources: ssv-keys v1.2.0 `src/lib/KeyShares/*.ts`; the SSV node's
//! `eth/eventhandler/validation.go` (`verifySignature`); SSVNetwork's operator-count rule.
//!
//! ```json
//! { "version": "v1.2.0", "createdAt": "…",
//!   "shares": [ { "data":    { "ownerNonce": 1, "ownerAddress": "0x…", "publicKey": "0x<48 B>",
//!                              "operators": [ { "id": 5, "operatorKey": "<base64 PEM>" }, … ] },
//!                 "payload": { "publicKey": "0x<48 B>", "operatorIds": [5, …], "sharesData": "0x…" } } ] }
//! ```
//! The legacy single-item form has `data` and `payload` at the top level.
//!
//! `sharesData` = ownership signature (96) ‖ share public keys (48 · n) ‖ encrypted shares
//! (256 · n), in operator-id order. The ownership signature is the validator key's BLS
//! signature over `keccak256(utf8("<EIP-55 owner address>:<owner nonce>"))`.
//!
//! Parsing checks everything a file can be checked for without operator private keys,
//! including the ownership signature; [`KeysharesItem::decrypt_share`] then gives one
//! operator its share secret, checked against the listed share public key.

use alloy_primitives::{Address, keccak256};
use serde_json::{Map, Value};

use crate::crypto::bls::{self, BlsError, PublicKey, SecretKey, Signature};
use crate::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey, RSA_MODULUS_BYTES, RsaError};

/// The keyshares format version this module reads (other `v1.x` versions share its layout).
pub const KEYSHARES_VERSION: &str = "v1.2.0";

/// Bytes of the ownership signature at the start of `sharesData`.
pub const SHARES_SIGNATURE_BYTES: usize = bls::SIGNATURE_LEN;

/// Bytes of `sharesData` per operator: a 48-byte share public key and a 256-byte RSA
/// ciphertext.
pub const SHARES_BYTES_PER_OPERATOR: usize = bls::PUBLIC_KEY_LEN + RSA_MODULUS_BYTES;

/// Smallest committee SSVNetwork accepts.
pub const MIN_OPERATORS: usize = 4;

/// Largest committee SSVNetwork accepts.
pub const MAX_OPERATORS: usize = 13;

/// Why a keyshares file or `sharesData` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeysharesError {
    /// The text is not JSON.
    #[error("keyshares file is not valid JSON: {0}")]
    Json(String),
    /// Neither a `shares` list nor a top-level `data`/`payload` item.
    #[error("keyshares file has neither a shares list nor data and payload")]
    InvalidStructure,
    /// The file's `version` is not a v1 keyshares version.
    #[error("unsupported keyshares version {0:?} (expected {KEYSHARES_VERSION})")]
    UnsupportedVersion(String),
    /// The `shares` list is empty.
    #[error("keyshares file has no items")]
    NoItems,
    /// A field is missing or has the wrong JSON type.
    #[error("keyshares item {item}: field {field} is missing or malformed")]
    Field {
        /// Index of the item in the file.
        item: usize,
        /// The field's JSON path.
        field: &'static str,
    },
    /// An operator entry has an id that is not a positive integer.
    #[error("keyshares item {item}: operator {index} has an invalid id")]
    OperatorId {
        /// Index of the item.
        item: usize,
        /// Position of the operator in the list.
        index: usize,
    },
    /// An operator entry's key is missing or not an RSA-2048 public key.
    #[error("keyshares item {item}: operator {operator_id} has an invalid operatorKey: {reason}")]
    OperatorKey {
        /// Index of the item.
        item: usize,
        /// The operator.
        operator_id: u64,
        /// Why (empty, or the RSA error).
        reason: String,
    },
    /// Two operators share one public key.
    #[error("keyshares item {item}: operators {first} and {second} have the same public key")]
    DuplicatedOperatorKey {
        /// Index of the item.
        item: usize,
        /// First operator with the key.
        first: u64,
        /// Second operator with the key.
        second: u64,
    },
    /// Operator ids are not strictly increasing (unsorted or repeated).
    #[error("keyshares item {item}: operator ids are not sorted and unique")]
    OperatorsNotSorted {
        /// Index of the item.
        item: usize,
    },
    /// `payload.operatorIds` differs from the ids in `data.operators`.
    #[error("keyshares item {item}: payload operatorIds differ from data operators")]
    OperatorIdsMismatch {
        /// Index of the item.
        item: usize,
    },
    /// The operator count is not one SSVNetwork accepts (4, 7, 10 or 13).
    #[error("{count} operators: SSVNetwork accepts 4, 7, 10 or 13")]
    OperatorCount {
        /// The count found.
        count: usize,
    },
    /// `payload.publicKey` differs from `data.publicKey`.
    #[error("keyshares item {item}: payload publicKey differs from data publicKey")]
    ValidatorKeyMismatch {
        /// Index of the item.
        item: usize,
    },
    /// The validator public key is not a valid BLS public key.
    #[error("keyshares item {item}: invalid validator public key: {reason}")]
    ValidatorKey {
        /// Index of the item.
        item: usize,
        /// The BLS error.
        reason: BlsError,
    },
    /// The owner address is not 20 bytes of hex.
    #[error("keyshares item {item}: invalid owner address")]
    OwnerAddress {
        /// Index of the item.
        item: usize,
    },
    /// `sharesData` is not hex.
    #[error("sharesData is not valid hex")]
    SharesHex,
    /// `sharesData` has the wrong length for the operator count.
    #[error("sharesData is {actual} bytes; {operators} operators need {expected}")]
    SharesLength {
        /// Operators in the committee.
        operators: usize,
        /// 96 + 304 · operators.
        expected: usize,
        /// Length found.
        actual: usize,
    },
    /// The ownership signature is not a valid BLS signature encoding.
    #[error("ownership signature is malformed: {0}")]
    SignatureEncoding(BlsError),
    /// A share public key is not a valid BLS public key.
    #[error("share public key {index} is invalid: {reason}")]
    SharePublicKey {
        /// Position in operator order.
        index: usize,
        /// The BLS error.
        reason: BlsError,
    },
    /// The ownership signature does not verify for this owner, nonce and validator key.
    #[error("ownership signature does not verify for owner {owner} and nonce {nonce}")]
    OwnershipSignature {
        /// The owner address (EIP-55).
        owner: String,
        /// The owner nonce.
        nonce: u64,
    },
    /// The operator is not in this item's committee.
    #[error("operator {0} is not in this committee")]
    NotAnOperator(u64),
    /// The given RSA key is not the one listed for the operator.
    #[error("the RSA key given is not operator {0}'s listed key")]
    WrongOperatorKey(u64),
    /// The share did not decrypt or is not `"0x" + 64 hex digits`.
    #[error("operator {operator_id}: share does not decrypt: {reason}")]
    ShareDecrypt {
        /// The operator.
        operator_id: u64,
        /// The RSA error.
        reason: RsaError,
    },
    /// The decrypted share is not a valid BLS secret key.
    #[error("operator {0}: decrypted share is not a valid BLS secret key")]
    ShareSecret(u64),
    /// The decrypted share's public key differs from the listed share public key.
    #[error("operator {0}: decrypted share does not match its listed share public key")]
    SharePublicKeyMismatch(u64),
}

/// The split `sharesData` blob (as in a keyshares file or a `ValidatorAdded` event).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SharesData {
    /// The validator key's ownership signature.
    pub signature: Signature,
    /// Share public keys, in operator-id order.
    pub share_public_keys: Vec<PublicKey>,
    /// Share ciphertexts (RSAES-PKCS1-v1_5 to each operator), in operator-id order.
    pub encrypted_shares: Vec<[u8; RSA_MODULUS_BYTES]>,
}

impl SharesData {
    /// Splits `bytes` for a committee of `operators`, checking the length is exactly
    /// 96 + 304 · `operators` and that the signature and share keys are valid encodings.
    ///
    /// # Errors
    /// [`KeysharesError::SharesLength`], [`KeysharesError::SignatureEncoding`],
    /// [`KeysharesError::SharePublicKey`].
    pub fn parse(bytes: &[u8], operators: usize) -> Result<Self, KeysharesError> {
        let expected = SHARES_BYTES_PER_OPERATOR
            .checked_mul(operators)
            .and_then(|v| v.checked_add(SHARES_SIGNATURE_BYTES));
        if expected != Some(bytes.len()) {
            return Err(KeysharesError::SharesLength {
                operators,
                expected: expected.unwrap_or(usize::MAX),
                actual: bytes.len(),
            });
        }
        let (sig, rest) =
            bytes.split_at_checked(SHARES_SIGNATURE_BYTES).ok_or(KeysharesError::SharesLength {
                operators,
                expected: bytes.len(),
                actual: bytes.len(),
            })?;
        let keys_len = bls::PUBLIC_KEY_LEN.saturating_mul(operators);
        let (keys, ciphertexts) =
            rest.split_at_checked(keys_len).ok_or(KeysharesError::SharesLength {
                operators,
                expected: bytes.len(),
                actual: bytes.len(),
            })?;
        let signature = Signature::from_bytes(sig).map_err(KeysharesError::SignatureEncoding)?;
        let share_public_keys = keys
            .chunks_exact(bls::PUBLIC_KEY_LEN)
            .enumerate()
            .map(|(index, k)| {
                PublicKey::from_bytes(k)
                    .map_err(|reason| KeysharesError::SharePublicKey { index, reason })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let encrypted_shares = ciphertexts
            .chunks_exact(RSA_MODULUS_BYTES)
            .filter_map(|c| <[u8; RSA_MODULUS_BYTES]>::try_from(c).ok())
            .collect();
        Ok(Self { signature, share_public_keys, encrypted_shares })
    }

    /// The blob again: signature ‖ share public keys ‖ encrypted shares.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(
            SHARES_BYTES_PER_OPERATOR
                .saturating_mul(self.share_public_keys.len())
                .saturating_add(SHARES_SIGNATURE_BYTES),
        );
        out.extend_from_slice(&self.signature.to_bytes());
        for key in &self.share_public_keys {
            out.extend_from_slice(&key.to_bytes());
        }
        for ct in &self.encrypted_shares {
            out.extend_from_slice(ct);
        }
        out
    }

    /// Checks the ownership signature for `owner` and `nonce` (the owner's expected nonce,
    /// when checking a `ValidatorAdded` event) against the validator key.
    ///
    /// # Errors
    /// [`KeysharesError::OwnershipSignature`].
    pub fn verify_ownership(
        &self,
        validator: &PublicKey,
        owner: &Address,
        nonce: u64,
    ) -> Result<(), KeysharesError> {
        self.signature.verify(validator, &ownership_message(owner, nonce)).map_err(|_| {
            KeysharesError::OwnershipSignature { owner: owner.to_checksum(None), nonce }
        })
    }
}

/// The 32 bytes the validator key signs to prove ownership:
/// `keccak256(utf8("<EIP-55 checksummed owner>:<nonce>"))`.
pub fn ownership_message(owner: &Address, nonce: u64) -> [u8; 32] {
    keccak256(format!("{}:{nonce}", owner.to_checksum(None))).0
}

/// One operator of a keyshares item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysharesOperator {
    /// Operator id (positive).
    pub id: u64,
    /// The operator's RSA public key.
    pub public_key: OperatorPublicKey,
}

/// One validator's entry in a keyshares file, fully checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysharesItem {
    /// The cluster owner.
    pub owner_address: Address,
    /// The owner's nonce the ownership signature commits to.
    pub owner_nonce: u64,
    /// The validator's BLS public key.
    pub validator_public_key: PublicKey,
    /// The committee, sorted by id.
    pub operators: Vec<KeysharesOperator>,
    /// The split `sharesData`, in the same order.
    pub shares: SharesData,
}

impl KeysharesItem {
    /// The operator ids, ascending.
    pub fn operator_ids(&self) -> Vec<u64> {
        self.operators.iter().map(|o| o.id).collect()
    }

    /// Decrypts `operator_id`'s share with its RSA key and checks it against the listed
    /// share public key.
    ///
    /// # Errors
    /// [`KeysharesError::NotAnOperator`], [`KeysharesError::WrongOperatorKey`] (the key is
    /// not the listed one), [`KeysharesError::ShareDecrypt`], [`KeysharesError::ShareSecret`],
    /// [`KeysharesError::SharePublicKeyMismatch`].
    pub fn decrypt_share(
        &self,
        operator_id: u64,
        key: &OperatorPrivateKey,
    ) -> Result<SecretKey, KeysharesError> {
        let index = self
            .operators
            .iter()
            .position(|o| o.id == operator_id)
            .ok_or(KeysharesError::NotAnOperator(operator_id))?;
        let listed = self.operators.get(index).ok_or(KeysharesError::NotAnOperator(operator_id))?;
        if &listed.public_key != key.public_key() {
            return Err(KeysharesError::WrongOperatorKey(operator_id));
        }
        let ciphertext = self
            .shares
            .encrypted_shares
            .get(index)
            .ok_or(KeysharesError::NotAnOperator(operator_id))?;
        let share_public_key = self
            .shares
            .share_public_keys
            .get(index)
            .ok_or(KeysharesError::NotAnOperator(operator_id))?;
        let secret = key
            .decrypt_share(ciphertext)
            .map_err(|reason| KeysharesError::ShareDecrypt { operator_id, reason })?;
        let secret = SecretKey::from_bytes(&secret[..])
            .map_err(|_| KeysharesError::ShareSecret(operator_id))?;
        if &secret.public_key() != share_public_key {
            return Err(KeysharesError::SharePublicKeyMismatch(operator_id));
        }
        Ok(secret)
    }

    fn from_json(item: usize, value: &Value) -> Result<Self, KeysharesError> {
        let field = |field: &'static str| KeysharesError::Field { item, field };
        let obj = value.as_object().ok_or(field("item"))?;
        let data = obj.get("data").and_then(Value::as_object).ok_or(field("data"))?;
        let payload = obj.get("payload").and_then(Value::as_object).ok_or(field("payload"))?;

        let owner_nonce =
            data.get("ownerNonce").and_then(Value::as_u64).ok_or(field("data.ownerNonce"))?;
        let owner_text =
            data.get("ownerAddress").and_then(Value::as_str).ok_or(field("data.ownerAddress"))?;
        let owner_address =
            parse_address(owner_text).ok_or(KeysharesError::OwnerAddress { item })?;

        let validator_text =
            data.get("publicKey").and_then(Value::as_str).ok_or(field("data.publicKey"))?;
        let payload_key =
            payload.get("publicKey").and_then(Value::as_str).ok_or(field("payload.publicKey"))?;
        if !strip_0x(validator_text).eq_ignore_ascii_case(strip_0x(payload_key)) {
            return Err(KeysharesError::ValidatorKeyMismatch { item });
        }
        let validator_bytes =
            hex::decode(strip_0x(validator_text)).map_err(|_| field("data.publicKey"))?;
        let validator_public_key = PublicKey::from_bytes(&validator_bytes)
            .map_err(|reason| KeysharesError::ValidatorKey { item, reason })?;

        let operators = parse_operators(item, data)?;
        let payload_ids = payload
            .get("operatorIds")
            .and_then(Value::as_array)
            .ok_or(field("payload.operatorIds"))?
            .iter()
            .map(Value::as_u64)
            .collect::<Option<Vec<u64>>>()
            .ok_or(field("payload.operatorIds"))?;
        if payload_ids != operators.iter().map(|o| o.id).collect::<Vec<_>>() {
            return Err(KeysharesError::OperatorIdsMismatch { item });
        }

        let shares_text =
            payload.get("sharesData").and_then(Value::as_str).ok_or(field("payload.sharesData"))?;
        let shares_bytes =
            hex::decode(strip_0x(shares_text)).map_err(|_| KeysharesError::SharesHex)?;
        let shares = SharesData::parse(&shares_bytes, operators.len())?;
        shares.verify_ownership(&validator_public_key, &owner_address, owner_nonce)?;

        Ok(Self { owner_address, owner_nonce, validator_public_key, operators, shares })
    }
}

/// A parsed keyshares file: one or more items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysharesFile {
    /// The file's `version`, if it has one.
    pub version: Option<String>,
    /// The file's `createdAt`, if it has one (kept as text).
    pub created_at: Option<String>,
    /// The items, in file order.
    pub items: Vec<KeysharesItem>,
}

impl KeysharesFile {
    /// Parses and checks a keyshares file (list form or legacy single-item form). Every item
    /// is checked: owner address, validator key, operators (positive ids, strictly
    /// ascending, distinct valid RSA keys, a committee size SSVNetwork accepts, equal to
    /// `payload.operatorIds`), `sharesData` length and encodings, and the ownership
    /// signature.
    ///
    /// # Errors
    /// The first [`KeysharesError`] found.
    pub fn from_json(text: &str) -> Result<Self, KeysharesError> {
        let doc: Value =
            serde_json::from_str(text).map_err(|e| KeysharesError::Json(e.to_string()))?;
        let top = doc.as_object().ok_or(KeysharesError::InvalidStructure)?;
        let text_field = |name: &str| top.get(name).and_then(Value::as_str).map(str::to_string);
        let version = text_field("version");
        if let Some(v) = version.as_ref().filter(|v| !v.starts_with("v1.")) {
            return Err(KeysharesError::UnsupportedVersion(v.clone()));
        }
        let created_at = text_field("createdAt");
        let raw_items: Vec<&Value> = match top.get("shares") {
            Some(Value::Array(list)) => list.iter().collect(),
            Some(_) => return Err(KeysharesError::InvalidStructure),
            None if top.contains_key("data") && top.contains_key("payload") => vec![&doc],
            None => return Err(KeysharesError::InvalidStructure),
        };
        if raw_items.is_empty() {
            return Err(KeysharesError::NoItems);
        }
        let items = raw_items
            .into_iter()
            .enumerate()
            .map(|(i, v)| KeysharesItem::from_json(i, v))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { version, created_at, items })
    }
}

fn strip_0x(text: &str) -> &str {
    text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")).unwrap_or(text)
}

/// 20 bytes of hex, any case (ssv-keys checksums it itself before signing).
fn parse_address(text: &str) -> Option<Address> {
    let bytes = hex::decode(strip_0x(text)).ok()?;
    (bytes.len() == 20).then(|| Address::from_slice(&bytes))
}

fn parse_operators(
    item: usize,
    data: &Map<String, Value>,
) -> Result<Vec<KeysharesOperator>, KeysharesError> {
    let list = data
        .get("operators")
        .and_then(Value::as_array)
        .ok_or(KeysharesError::Field { item, field: "data.operators" })?;
    if !(MIN_OPERATORS..=MAX_OPERATORS).contains(&list.len()) || list.len() % 3 != 1 {
        return Err(KeysharesError::OperatorCount { count: list.len() });
    }
    let mut operators: Vec<KeysharesOperator> = Vec::with_capacity(list.len());
    for (index, entry) in list.iter().enumerate() {
        let id = entry
            .get("id")
            .and_then(Value::as_u64)
            .filter(|id| *id > 0)
            .ok_or(KeysharesError::OperatorId { item, index })?;
        let key_text = entry.get("operatorKey").and_then(Value::as_str).unwrap_or_default();
        if key_text.is_empty() {
            return Err(KeysharesError::OperatorKey {
                item,
                operator_id: id,
                reason: "missing".into(),
            });
        }
        let public_key = OperatorPublicKey::from_base64_pem(key_text).map_err(|e| {
            KeysharesError::OperatorKey { item, operator_id: id, reason: e.to_string() }
        })?;
        if operators.last().is_some_and(|prev| prev.id >= id) {
            return Err(KeysharesError::OperatorsNotSorted { item });
        }
        if let Some(dup) = operators.iter().find(|o| o.public_key == public_key) {
            return Err(KeysharesError::DuplicatedOperatorKey { item, first: dup.id, second: id });
        }
        operators.push(KeysharesOperator { id, public_key });
    }
    Ok(operators)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A keyshares item built from scratch: 4 generated operators, a validator key and
    /// independent share secrets (their Shamir relation does not matter here).
    fn build() -> (String, Vec<OperatorPrivateKey>, Vec<SecretKey>) {
        let owner: Address = "0x81592c3de184a3e2c0dcb5a261bc107bfa91f494".parse().unwrap();
        let validator = SecretKey::from_bytes(&[7u8; 32]).unwrap();
        let operators: Vec<OperatorPrivateKey> =
            (0..4).map(|_| OperatorPrivateKey::generate().unwrap()).collect();
        let shares: Vec<SecretKey> =
            (1..=4u8).map(|i| SecretKey::from_bytes(&[i; 32]).unwrap()).collect();
        let shares_data = SharesData {
            signature: validator.sign(&ownership_message(&owner, 3)),
            share_public_keys: shares.iter().map(SecretKey::public_key).collect(),
            encrypted_shares: operators
                .iter()
                .zip(&shares)
                .map(|(op, s)| op.public_key().encrypt_share(&s.to_bytes()).unwrap())
                .collect(),
        };
        let pk = format!("0x{}", hex::encode(validator.public_key().to_bytes()));
        let json = serde_json::json!({
            "version": "v1.2.0",
            "shares": [{
                "data": {
                    "ownerNonce": 3,
                    "ownerAddress": "0x81592c3de184a3e2c0dcb5a261bc107bfa91f494",
                    "publicKey": pk,
                    "operators": operators.iter().enumerate().map(|(i, op)| serde_json::json!({
                        "id": 10 + i, "operatorKey": op.public_key().to_base64_pem()
                    })).collect::<Vec<_>>(),
                },
                "payload": {
                    "publicKey": pk,
                    "operatorIds": [10, 11, 12, 13],
                    "sharesData": format!("0x{}", hex::encode(shares_data.to_bytes())),
                },
            }],
        });
        (json.to_string(), operators, shares)
    }

    #[test]
    fn built_file_parses_and_each_operator_gets_its_share() {
        let (json, operators, shares) = build();
        let file = KeysharesFile::from_json(&json).unwrap();
        let item = file.items.first().unwrap();
        assert_eq!(item.operator_ids(), vec![10, 11, 12, 13]);
        for (i, (op, share)) in operators.iter().zip(&shares).enumerate() {
            let got = item.decrypt_share(10 + i as u64, op).unwrap();
            assert_eq!(got.to_bytes(), share.to_bytes());
        }
        assert_eq!(
            item.decrypt_share(11, &operators[0]).unwrap_err(),
            KeysharesError::WrongOperatorKey(11)
        );
        assert_eq!(
            item.decrypt_share(99, &operators[0]).unwrap_err(),
            KeysharesError::NotAnOperator(99)
        );
    }

    #[test]
    fn share_public_key_mismatch_is_caught() {
        let (json, operators, _) = build();
        let mut item = KeysharesFile::from_json(&json).unwrap().items.remove(0);
        item.shares.share_public_keys.swap(0, 1);
        assert_eq!(
            item.decrypt_share(10, &operators[0]).unwrap_err(),
            KeysharesError::SharePublicKeyMismatch(10)
        );
    }

    #[test]
    fn wrong_nonce_or_owner_fails_the_ownership_signature() {
        let (json, _, _) = build();
        let bad_nonce = json.replace("\"ownerNonce\":3", "\"ownerNonce\":4");
        assert!(matches!(
            KeysharesFile::from_json(&bad_nonce),
            Err(KeysharesError::OwnershipSignature { nonce: 4, .. })
        ));
        let bad_owner = json.replace(
            "0x81592c3de184a3e2c0dcb5a261bc107bfa91f494",
            "0x81592c3de184a3e2c0dcb5a261bc107bfa91f495",
        );
        assert!(matches!(
            KeysharesFile::from_json(&bad_owner),
            Err(KeysharesError::OwnershipSignature { .. })
        ));
    }

    #[test]
    fn shares_data_length_is_exact() {
        let (json, _, _) = build();
        let file = KeysharesFile::from_json(&json).unwrap();
        let bytes = file.items[0].shares.to_bytes();
        assert_eq!(bytes.len(), 96 + 304 * 4);
        assert!(matches!(
            SharesData::parse(&bytes[..bytes.len() - 1], 4),
            Err(KeysharesError::SharesLength { expected: 1312, actual: 1311, .. })
        ));
        assert!(matches!(SharesData::parse(&bytes, 7), Err(KeysharesError::SharesLength { .. })));
    }

    #[test]
    fn ownership_message_uses_the_checksummed_address() {
        // An EIP-55 example address, given lower-case; the message must use its checksum form.
        let owner: Address = "0x5aaeb6053f3e94c9b9a09f33669435e7ef1beaed".parse().unwrap();
        let expected = keccak256(b"0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed:7").0;
        assert_eq!(ownership_message(&owner, 7), expected);
    }
}
