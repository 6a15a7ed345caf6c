//! Block production and signed-block decoding for the simulated chain (Deneb, Electra,
//! Fulu layouts; earlier forks have no block production here).
//!
//! Produced blocks are empty apart from the proposer's RANDAO reveal and graffiti: no
//! operations, an empty execution payload with deterministic hashes, and no blobs. The
//! blinded form carries the payload's header, so its `hash_tree_root` equals the full
//! block's (the builder-specs rule).

use serde_json::{Value, json};
use ssv_core::beacon::{
    DataVersion, Root, Slot, ValidatorIndex, VersionedBlock, deneb, electra, fulu,
};
use ssz::Decode;
use tree_hash::TreeHash;

use super::ChainError;
use super::duties::hash;

/// `0x`-hex of `bytes`.
pub(crate) fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

/// What the proposer asked for and what the chain fills in.
#[derive(Debug, Clone)]
pub struct BlockTemplate {
    /// The fork whose layout to use.
    pub fork: DataVersion,
    /// The block's slot.
    pub slot: Slot,
    /// The proposer.
    pub proposer_index: ValidatorIndex,
    /// The parent block root (the head).
    pub parent_root: Root,
    /// The proposer's RANDAO reveal.
    pub randao_reveal: [u8; 96],
    /// The graffiti.
    pub graffiti: Root,
    /// The fee recipient (from `prepare_beacon_proposer`, else zero).
    pub fee_recipient: [u8; 20],
    /// The payload timestamp (unix seconds of the slot).
    pub timestamp: u64,
    /// The simulation seed, for deterministic hashes.
    pub seed: u64,
}

fn payload_json(t: &BlockTemplate) -> Value {
    let seed = t.seed.to_le_bytes();
    let el_hash = |slot: u64| hex0x(&hash(&[b"el-block", &seed, &slot.to_le_bytes()]));
    json!({
        "parent_hash": el_hash(t.slot.saturating_sub(1)),
        "fee_recipient": hex0x(&t.fee_recipient),
        "state_root": hex0x(&hash(&[b"el-state", &seed, &t.slot.to_le_bytes()])),
        "receipts_root": hex0x(&[0u8; 32]),
        "logs_bloom": hex0x(&[0u8; 256]),
        "prev_randao": hex0x(&hash(&[b"randao", &t.randao_reveal])),
        "block_number": t.slot.to_string(),
        "gas_limit": "30000000",
        "gas_used": "0",
        "timestamp": t.timestamp.to_string(),
        "extra_data": "0x",
        "base_fee_per_gas": "7",
        "block_hash": el_hash(t.slot),
        "transactions": [],
        "withdrawals": [],
        "blob_gas_used": "0",
        "excess_blob_gas": "0",
    })
}

fn block_json(t: &BlockTemplate, execution: (&str, Value)) -> Value {
    let mut body = json!({
        "randao_reveal": hex0x(&t.randao_reveal),
        "eth1_data": {
            "deposit_root": hex0x(&[0u8; 32]),
            "deposit_count": "0",
            "block_hash": hex0x(&[0u8; 32]),
        },
        "graffiti": hex0x(&t.graffiti),
        "proposer_slashings": [],
        "attester_slashings": [],
        "attestations": [],
        "deposits": [],
        "voluntary_exits": [],
        "sync_aggregate": {
            "sync_committee_bits": hex0x(&[0u8; 64]),
            // The point at infinity: the empty aggregate.
            "sync_committee_signature": format!("0xc0{}", "00".repeat(95)),
        },
        "bls_to_execution_changes": [],
        "blob_kzg_commitments": [],
    });
    if let Some(map) = body.as_object_mut() {
        map.insert(execution.0.to_string(), execution.1);
        if t.fork >= DataVersion::Electra {
            map.insert(
                "execution_requests".into(),
                json!({"deposits": [], "withdrawals": [], "consolidations": []}),
            );
        }
    }
    json!({
        "slot": t.slot.to_string(),
        "proposer_index": t.proposer_index.to_string(),
        "parent_root": hex0x(&t.parent_root),
        "state_root": hex0x(&hash(&[b"state", &t.seed.to_le_bytes(), &t.slot.to_le_bytes()])),
        "body": body,
    })
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ChainError> {
    serde_json::from_value(value).map_err(|e| ChainError::Malformed(e.to_string()))
}

/// Builds the full proposal (`BlockContents` with no blobs) and its blinded form.
///
/// # Errors
/// [`ChainError::UnsupportedFork`] before Deneb.
pub fn produce(t: &BlockTemplate) -> Result<(VersionedBlock, VersionedBlock), ChainError> {
    let payload = payload_json(t);
    let typed: deneb::ExecutionPayload = from_json(payload.clone())?;
    let mut header = payload;
    if let Some(map) = header.as_object_mut() {
        map.remove("transactions");
        map.remove("withdrawals");
        map.insert(
            "transactions_root".into(),
            hex0x(&typed.transactions.tree_hash_root().0).into(),
        );
        map.insert("withdrawals_root".into(), hex0x(&typed.withdrawals.tree_hash_root().0).into());
    }
    let full = json!({
        "block": block_json(t, ("execution_payload", payload_json(t))),
        "kzg_proofs": [],
        "blobs": [],
    });
    let blinded = block_json(t, ("execution_payload_header", header));
    Ok(match t.fork {
        DataVersion::Deneb => (
            VersionedBlock::Deneb(from_json(full)?),
            VersionedBlock::DenebBlinded(from_json(blinded)?),
        ),
        DataVersion::Electra => (
            VersionedBlock::Electra(from_json(full)?),
            VersionedBlock::ElectraBlinded(from_json(blinded)?),
        ),
        DataVersion::Fulu => (
            VersionedBlock::Fulu(from_json(full)?),
            VersionedBlock::FuluBlinded(from_json(blinded)?),
        ),
        other => return Err(ChainError::UnsupportedFork(other)),
    })
}

/// The Beacon-API JSON of a proposal (`BlockContents` or `BlindedBeaconBlock`).
pub fn proposal_json(block: &VersionedBlock) -> Value {
    let value = match block {
        VersionedBlock::Capella(b) => serde_json::to_value(b),
        VersionedBlock::CapellaBlinded(b) => serde_json::to_value(b),
        VersionedBlock::Deneb(b) => serde_json::to_value(b),
        VersionedBlock::DenebBlinded(b) => serde_json::to_value(b),
        VersionedBlock::Electra(b) => serde_json::to_value(b),
        VersionedBlock::ElectraBlinded(b) => serde_json::to_value(b),
        VersionedBlock::Fulu(b) => serde_json::to_value(b),
        VersionedBlock::FuluBlinded(b) => serde_json::to_value(b),
    };
    value.unwrap_or(Value::Null)
}

/// A submitted signed block, reduced to what the chain checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedBlockSummary {
    /// The block's slot.
    pub slot: Slot,
    /// The claimed proposer.
    pub proposer_index: ValidatorIndex,
    /// `hash_tree_root` of the (blinded or full) block: the signed object.
    pub block_root: Root,
    /// The proposer's signature.
    pub signature: [u8; 96],
    /// Whether it was blinded.
    pub blinded: bool,
}

/// A request body as it came in.
#[derive(Debug, Clone, Copy)]
pub enum Body<'a> {
    /// `application/json`.
    Json(&'a [u8]),
    /// `application/octet-stream` (SSZ).
    Ssz(&'a [u8]),
}

fn decode<T: serde::de::DeserializeOwned + Decode>(body: Body<'_>) -> Result<T, ChainError> {
    match body {
        Body::Json(bytes) => {
            serde_json::from_slice(bytes).map_err(|e| ChainError::Malformed(e.to_string()))
        }
        Body::Ssz(bytes) => {
            T::from_ssz_bytes(bytes).map_err(|e| ChainError::Malformed(format!("ssz: {e:?}")))
        }
    }
}

macro_rules! summary {
    ($signed:expr, $blinded:expr) => {{
        let s = $signed;
        SignedBlockSummary {
            slot: s.message.slot,
            proposer_index: s.message.proposer_index,
            block_root: s.message.tree_hash_root().0,
            signature: s.signature,
            blinded: $blinded,
        }
    }};
}

/// Decodes a `publishBlockV2` (`SignedBlockContents`) or `publishBlindedBlockV2`
/// (`SignedBlindedBeaconBlock`) body of `version`.
///
/// # Errors
/// [`ChainError::UnsupportedFork`] before Deneb; [`ChainError::Malformed`] when the body is
/// not that container.
pub fn decode_signed_block(
    version: DataVersion,
    blinded: bool,
    body: Body<'_>,
) -> Result<SignedBlockSummary, ChainError> {
    Ok(match (version, blinded) {
        (DataVersion::Deneb, false) => {
            summary!(decode::<deneb::SignedBlockContents>(body)?.signed_block, false)
        }
        (DataVersion::Deneb, true) => {
            summary!(decode::<deneb::SignedBlindedBeaconBlock>(body)?, true)
        }
        (DataVersion::Electra, false) => {
            summary!(decode::<electra::SignedBlockContents>(body)?.signed_block, false)
        }
        (DataVersion::Electra, true) => {
            summary!(decode::<electra::SignedBlindedBeaconBlock>(body)?, true)
        }
        (DataVersion::Fulu, false) => {
            summary!(decode::<fulu::SignedBlockContents>(body)?.signed_block, false)
        }
        (DataVersion::Fulu, true) => {
            summary!(decode::<fulu::SignedBlindedBeaconBlock>(body)?, true)
        }
        (other, _) => return Err(ChainError::UnsupportedFork(other)),
    })
}
