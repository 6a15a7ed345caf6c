//! `maxmsgsize.StructureSizeTest` (ssv-spec v1.2.2 `types/spectest/tests/maxmsgsize`):
//! the object respects (or, with `IsMaxSize`, fills) each top-level field's `ssz-max` and
//! `ssz-size` tag, and encodes to `ExpectedEncodedLength` bytes.

use serde_json::Value;
use ssv_core::types::ssz::Encode;
use ssv_fixtures::spec_json::{
    BeaconVoteJson, PartialSignatureMessageJson, PartialSignatureMessagesJson, QbftMessageJson,
    SignedSsvMessageJson, SsvMessageJson, ValidatorConsensusDataJson,
};

use super::common::field;

/// One `ssz-max`/`ssz-size` check, as Go's `checkSize`.
struct Tags {
    max_equal: bool,
    errors: Vec<String>,
}

impl Tags {
    /// A list under an `ssz-max` tag: at most `max`, or exactly `max` for a max-size test.
    fn max(&mut self, name: &str, len: usize, max: usize) {
        if self.max_equal && len != max {
            self.errors.push(format!("{name}: {len} != ssz-max {max}"));
        } else if len > max {
            self.errors.push(format!("{name}: {len} > ssz-max {max}"));
        }
    }

    /// A field under an `ssz-size` tag: exactly `size`.
    fn size(&mut self, name: &str, len: usize, size: usize) {
        if len != size {
            self.errors.push(format!("{name}: {len} != ssz-size {size}"));
        }
    }
}

fn has(object: &Value, key: &str) -> bool {
    // Go tests `objMap[key] != nil`: a JSON null counts as absent.
    object.get(key).is_some_and(|v| !v.is_null())
}

fn parse<T: serde::de::DeserializeOwned>(object: &Value) -> Result<T, String> {
    serde_json::from_value(object.clone()).map_err(|e| format!("object: {e}"))
}

/// Checks the object's tags and returns its SSZ encoding.
fn tags_and_encoding(object: &Value, tags: &mut Tags) -> Result<Vec<u8>, String> {
    // The same type detection, in the same order, as Go's `UnmarshalJSON`.
    if has(object, "MsgType") && has(object, "MsgID") {
        let json: SsvMessageJson = parse(object)?;
        tags.size("MsgID", json.msg_id.0.len(), 56);
        tags.max("Data", json.data.0.len(), 722_412);
        Ok(json.to_core().map_err(|e| e.to_string())?.as_ssz_bytes())
    } else if has(object, "Signatures") && has(object, "OperatorIDs") {
        let json: SignedSsvMessageJson = parse(object)?;
        tags.max("Signatures", json.signatures.len(), 13);
        for sig in &json.signatures {
            tags.max("Signatures[i]", sig.0.len(), 256);
        }
        tags.max("OperatorIDs", json.operator_ids.len(), 13);
        tags.max("FullData", json.full_data.0.len(), 8_388_836);
        Ok(json.to_core().map_err(|e| e.to_string())?.as_ssz_bytes())
    } else if has(object, "SigningRoot") && has(object, "Signer") && has(object, "ValidatorIndex") {
        let json: PartialSignatureMessageJson = parse(object)?;
        tags.size("PartialSignature", json.partial_signature.0.len(), 96);
        tags.size("SigningRoot", json.signing_root.0.len(), 32);
        Ok(json.to_core().map_err(|e| e.to_string())?.as_ssz_bytes())
    } else if has(object, "Type") && has(object, "Slot") && has(object, "Messages") {
        let json: PartialSignatureMessagesJson = parse(object)?;
        tags.max("Messages", json.messages.len(), 1512);
        Ok(json.to_core().map_err(|e| e.to_string())?.as_ssz_bytes())
    } else if has(object, "Round") && has(object, "Height") {
        let json: QbftMessageJson = parse(object)?;
        tags.max("Identifier", json.identifier.0.len(), 56);
        tags.size("Root", json.root.0.len(), 32);
        tags.max("RoundChangeJustification", json.round_change_justification.len(), 13);
        for j in &json.round_change_justification {
            tags.max("RoundChangeJustification[i]", j.0.len(), 51_852);
        }
        tags.max("PrepareJustification", json.prepare_justification.len(), 13);
        for j in &json.prepare_justification {
            tags.max("PrepareJustification[i]", j.0.len(), 3_700);
        }
        Ok(json.to_core().map_err(|e| e.to_string())?.as_ssz_bytes())
    } else if has(object, "Duty") && has(object, "DataSSZ") {
        let json: ValidatorConsensusDataJson = parse(object)?;
        tags.max("DataSSZ", json.data_ssz.0.len(), 8_388_608);
        Ok(json.to_core().map_err(|e| e.to_string())?.as_ssz_bytes())
    } else if has(object, "BlockRoot") && has(object, "Source") && has(object, "Target") {
        let json: BeaconVoteJson = parse(object)?;
        tags.size("BlockRoot", json.block_root.0.len(), 32);
        Ok(json.to_core().map_err(|e| e.to_string())?.as_ssz_bytes())
    } else {
        Err("could not determine object type from JSON".into())
    }
}

/// Runs one `StructureSizeTest`.
pub(crate) fn structure_size(test: &Value) -> Result<(), String> {
    let object = test.get("Object").filter(|o| !o.is_null()).ok_or("no input object")?;
    let max_equal: bool = field(test, "IsMaxSize")?;
    let mut tags = Tags { max_equal, errors: Vec::new() };
    let encoded = tags_and_encoding(object, &mut tags)?;
    let expected: usize = field(test, "ExpectedEncodedLength")?;
    if encoded.len() != expected {
        tags.errors.push(format!("encoded length {} != expected {expected}", encoded.len()));
    }
    if tags.errors.is_empty() { Ok(()) } else { Err(tags.errors.join("; ")) }
}
