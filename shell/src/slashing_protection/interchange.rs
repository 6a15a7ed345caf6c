//! The EIP-3076 slashing protection interchange format, version 5.
//!
//! JSON shape (eth-clients/slashing-protection-interchange-tests `schema.json`): numbers
//! are decimal strings, roots and public keys are `0x`-prefixed hex, `signing_root` is
//! optional.
//!
//! ```json
//! {"metadata": {"interchange_format_version": "5", "genesis_validators_root": "0x…"},
//!  "data": [{"pubkey": "0x…",
//!            "signed_blocks": [{"slot": "81952", "signing_root": "0x…"}],
//!            "signed_attestations": [{"source_epoch": "2290", "target_epoch": "3007"}]}]}
//! ```

use serde::{Deserialize, Serialize};
use ssv_core::slashing::{SignedAttestation, SignedBlock};
use ssv_core::types::{BlsPublicKeyBytes, Epoch, Root, Slot};

/// The only interchange format version this implementation reads and writes.
pub const INTERCHANGE_FORMAT_VERSION: u64 = 5;

/// A whole interchange document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Interchange {
    /// Format version and chain.
    pub metadata: InterchangeMetadata,
    /// One entry per public key; a key may appear more than once (entries are merged).
    pub data: Vec<InterchangeData>,
}

/// `metadata`: which format and which chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeMetadata {
    /// `interchange_format_version`, a decimal string; must be
    /// [`INTERCHANGE_FORMAT_VERSION`] to be imported.
    #[serde(with = "quoted_u64")]
    pub interchange_format_version: u64,
    /// The chain's `genesis_validators_root`.
    #[serde(with = "hex_array")]
    pub genesis_validators_root: Root,
}

/// The signing history of one public key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeData {
    /// The BLS public key (in SSV: the operator's share public key).
    #[serde(with = "hex_array")]
    pub pubkey: BlsPublicKeyBytes,
    /// Signed blocks.
    pub signed_blocks: Vec<InterchangeBlock>,
    /// Signed attestations.
    pub signed_attestations: Vec<InterchangeAttestation>,
}

/// One signed block.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeBlock {
    /// The block's slot.
    #[serde(with = "quoted_u64")]
    pub slot: Slot,
    /// `compute_signing_root(block, domain)`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex_array_opt")]
    pub signing_root: Option<Root>,
}

/// One signed attestation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct InterchangeAttestation {
    /// `attestation.data.source.epoch`.
    #[serde(with = "quoted_u64")]
    pub source_epoch: Epoch,
    /// `attestation.data.target.epoch`.
    #[serde(with = "quoted_u64")]
    pub target_epoch: Epoch,
    /// `compute_signing_root(attestation_data, domain)`, when known.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "hex_array_opt")]
    pub signing_root: Option<Root>,
}

impl From<InterchangeBlock> for SignedBlock {
    fn from(b: InterchangeBlock) -> Self {
        Self { slot: b.slot, signing_root: b.signing_root }
    }
}

impl From<SignedBlock> for InterchangeBlock {
    fn from(b: SignedBlock) -> Self {
        Self { slot: b.slot, signing_root: b.signing_root }
    }
}

impl From<InterchangeAttestation> for SignedAttestation {
    fn from(a: InterchangeAttestation) -> Self {
        Self {
            source_epoch: a.source_epoch,
            target_epoch: a.target_epoch,
            signing_root: a.signing_root,
        }
    }
}

impl From<SignedAttestation> for InterchangeAttestation {
    fn from(a: SignedAttestation) -> Self {
        Self {
            source_epoch: a.source_epoch,
            target_epoch: a.target_epoch,
            signing_root: a.signing_root,
        }
    }
}

/// `u64` as a decimal string.
mod quoted_u64 {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer>(value: &u64, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(value)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        text.parse().map_err(|e| D::Error::custom(format!("invalid decimal u64 {text:?}: {e}")))
    }
}

/// `[u8; N]` as `0x`-prefixed hex (the prefix is optional on input).
mod hex_array {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub(super) fn serialize<S: Serializer, const N: usize>(
        bytes: &[u8; N],
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&format!("0x{}", hex::encode(bytes)))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<[u8; N], D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        let digits = text.strip_prefix("0x").unwrap_or(&text);
        let mut out = [0u8; N];
        hex::decode_to_slice(digits, &mut out)
            .map_err(|e| D::Error::custom(format!("invalid {N}-byte hex {text:?}: {e}")))?;
        Ok(out)
    }
}

/// `Option<[u8; N]>` as optional `0x`-prefixed hex.
mod hex_array_opt {
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer, const N: usize>(
        bytes: &Option<[u8; N]>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        match bytes {
            Some(b) => super::hex_array::serialize(b, s),
            None => s.serialize_none(),
        }
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>, const N: usize>(
        d: D,
    ) -> Result<Option<[u8; N]>, D::Error> {
        super::hex_array::deserialize(d).map(Some)
    }
}
