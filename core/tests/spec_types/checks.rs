//! One check per `types/spectest` category, each mirroring its Go `Run()`.

use std::collections::BTreeSet;

use serde_json::Value;
use ssv_core::beacon::VersionedBlock;
use ssv_core::beacon::phase0::DepositMessage;
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_core::crypto::signing::{BeaconDomainType, compute_domain, signing_root_of};
use ssv_core::types::consensus_data::{BeaconVote, ValidatorConsensusData};
use ssv_core::types::ssz::{Decode, Encode};
use ssv_core::types::tree_hash::TreeHash;
use ssv_core::types::{
    MessageId, PartialSignatureMessages, Share, SignedSsvMessage, SsvMessage,
    map_duty_to_runner_role,
};
use ssv_fixtures::spec_json::{
    Base64Bytes, CommitteeMemberJson, HexBytes, PartialSignatureMessagesJson,
    SignedSsvMessageJson, ValidatorConsensusDataJson,
};

use super::common::{StateComparison, assert_code, expected_code, field, root_field};

/// `MaxEffectiveBalanceInGwei` (`types/beacon_types.go`): the deposit amount Go uses.
const MAX_EFFECTIVE_BALANCE_GWEI: u64 = 32_000_000_000;

fn bytes(test: &Value, name: &str) -> Result<Vec<u8>, String> {
    Ok(field::<Base64Bytes>(test, name)?.0)
}

fn hex_bytes(test: &Value, name: &str) -> Result<Vec<u8>, String> {
    Ok(field::<HexBytes>(test, name)?.0)
}

fn ssz_err(what: &str) -> impl Fn(ssv_core::types::ssz::DecodeError) -> String + '_ {
    move |e| format!("decode {what}: {e:?}")
}

/// Decode, re-encode (must equal the input), and compare `hash_tree_root` with
/// `ExpectedRoot`: the shape of every `EncodingTest` with a root.
fn round_trip<T: Decode + Encode + TreeHash>(test: &Value, what: &str) -> Result<T, String> {
    let data = bytes(test, "Data")?;
    let decoded = T::from_ssz_bytes(&data).map_err(ssz_err(what))?;
    if decoded.as_ssz_bytes() != data {
        return Err(format!("{what}: re-encoding differs from Data"));
    }
    let expected = root_field(test, "ExpectedRoot")?;
    let root = decoded.tree_hash_root().0;
    if root != expected {
        return Err(format!(
            "{what}: root {} != expected {}",
            hex::encode(root),
            hex::encode(expected)
        ));
    }
    Ok(decoded)
}

/// `beacon.DepositDataSpecTest`: the deposit message's signing root under `DomainDeposit`
/// and the test's fork version (zero genesis validators root).
pub(crate) fn deposit_data(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    let pubkey: [u8; 48] =
        hex_bytes(test, "ValidatorPK")?.try_into().map_err(|_| "ValidatorPK is not 48 bytes")?;
    let withdrawal_credentials: [u8; 32] = hex_bytes(test, "WithdrawalCredentials")?
        .try_into()
        .map_err(|_| "WithdrawalCredentials is not 32 bytes")?;
    let fork: [u8; 4] =
        hex_bytes(test, "ForkVersion")?.try_into().map_err(|_| "ForkVersion is not 4 bytes")?;
    let message =
        DepositMessage { pubkey, withdrawal_credentials, amount: MAX_EFFECTIVE_BALANCE_GWEI };
    let domain = compute_domain(BeaconDomainType::DEPOSIT, fork, &[0; 32]);
    let root = hex::encode(signing_root_of(&message, &domain));
    let expected: String = field(test, "ExpectedSigningRoot")?;
    if root != expected {
        return Err(format!("signing root {root} != expected {expected}"));
    }
    sc.compare(&sc.name()?)
}

/// `beaconvote.EncodingTest`.
pub(crate) fn beacon_vote_encoding(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    round_trip::<BeaconVote>(test, "BeaconVote")?;
    sc.compare(&sc.name()?)
}

/// `committeemember.CommitteeMemberTest`: the message's `Validate()` code, then quorum and
/// full-committee over its unique signers.
pub(crate) fn committee_member(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    let member = field::<CommitteeMemberJson>(test, "CommitteeMember")?
        .to_core()
        .map_err(|e| e.to_string())?;
    let message: SignedSsvMessageJson = field(test, "Message")?;
    assert_code(expected_code(test)?, &message.validate())?;
    let signers: BTreeSet<u64> = message.operator_ids.iter().map(|v| v.0).collect();
    let has_quorum: bool = field(test, "ExpectedHasQuorum")?;
    if member.has_quorum(signers.len()) != has_quorum {
        return Err(format!("has_quorum({}) != {has_quorum}", signers.len()));
    }
    let full: bool = field(test, "ExpectedFullCommittee")?;
    if (member.committee.len() == signers.len()) != full {
        return Err(format!("full committee != {full}"));
    }
    sc.compare(&format!("committee member {}", sc.name()?))
}

/// `consensusdataproposer.ProposerSpecTest`: `GetBlockData` code; on success the blinded
/// flag, block root, block SSZ, consensus-data root and re-encoding.
pub(crate) fn proposer(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    let data_cd = bytes(test, "DataCd")?;
    let cd = ValidatorConsensusData::from_ssz_bytes(&data_cd).map_err(ssz_err("DataCd"))?;
    let block = cd.block_data();
    assert_code(expected_code(test)?, &block.as_ref().map(|_| ()).map_err(Clone::clone))?;
    let Ok(block) = block else { return Ok(()) };
    let blinded: bool = field(test, "Blinded")?;
    if block.is_blinded() != blinded {
        return Err(format!("blinded {} != expected {blinded}", block.is_blinded()));
    }
    let expected_blk_root = root_field(test, "ExpectedBlkRoot")?;
    if block.block_root() != expected_blk_root {
        return Err(format!("block root {} != expected", hex::encode(block.block_root())));
    }
    if block.to_ssz() != bytes(test, "DataBlk")? {
        return Err("block SSZ differs from DataBlk".into());
    }
    if cd.tree_hash_root().0 != root_field(test, "ExpectedCdRoot")? {
        return Err("consensus data root differs from ExpectedCdRoot".into());
    }
    if cd.as_ssz_bytes() != data_cd {
        return Err("consensus data re-encoding differs from DataCd".into());
    }
    sc.compare(&sc.name()?)
}

/// `duty.DutySpecTest`: `MapDutyToRunnerRole`.
pub(crate) fn duty(test: &Value) -> Result<(), String> {
    let beacon_role: u64 = field(test, "BeaconRole")?;
    let expected: i32 = field(test, "RunnerRole")?;
    let got = map_duty_to_runner_role(beacon_role).map_or(-1, |r| r as i32);
    if got == expected { Ok(()) } else { Err(format!("runner role {got} != expected {expected}")) }
}

/// `encryption.EncryptionSpecTest`: the public PEM derived from the private PEM equals
/// `PKPem`; encrypting `PlainText` to it and decrypting gives `PlainText` back.
pub(crate) fn encryption(test: &Value) -> Result<(), String> {
    let sk = OperatorPrivateKey::from_pem(&bytes(test, "SKPem")?).map_err(|e| e.to_string())?;
    let pk_pem = bytes(test, "PKPem")?;
    if sk.public_key().to_pem().as_bytes() != pk_pem.as_slice() {
        return Err("public key PEM from SKPem differs from PKPem".into());
    }
    let pk = OperatorPublicKey::from_pem(&pk_pem).map_err(|e| e.to_string())?;
    let plain = bytes(test, "PlainText")?;
    let cipher = pk.encrypt(&plain).map_err(|e| e.to_string())?;
    let decrypted = sk.decrypt(&cipher).map_err(|e| e.to_string())?;
    if decrypted.as_slice() == plain.as_slice() {
        Ok(())
    } else {
        Err("decrypted text differs from PlainText".into())
    }
}

/// `partialsigmessage.EncodingTest`.
pub(crate) fn partial_sig_encoding(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    round_trip::<PartialSignatureMessages>(test, "PartialSignatureMessages")?;
    sc.compare(&sc.name()?)
}

/// `partialsigmessage.MsgSpecTest`: the last `Validate()` error over all messages; the
/// encodings and roots when given.
pub(crate) fn partial_sig_msg(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    let messages: Vec<PartialSignatureMessagesJson> = field(test, "Messages")?;
    let encoded: Option<Vec<Base64Bytes>> = field(test, "EncodedMessages")?;
    let roots: Option<Vec<[u8; 32]>> = field(test, "ExpectedRoots")?;
    let mut last = Ok(());
    for (i, json) in messages.iter().enumerate() {
        let msg = json.to_core().map_err(|e| e.to_string())?;
        if let Err(e) = msg.validate() {
            last = Err(e);
        }
        if let Some(encoded) = encoded.as_ref().filter(|e| !e.is_empty()) {
            let bytes = msg.as_ssz_bytes();
            let want = encoded.get(i).ok_or("fewer EncodedMessages than Messages")?;
            if bytes != want.0 {
                return Err(format!("message {i}: encoding differs"));
            }
            let decoded = PartialSignatureMessages::from_ssz_bytes(&bytes)
                .map_err(ssz_err("encoded message"))?;
            if decoded.tree_hash_root() != msg.tree_hash_root() {
                return Err(format!("message {i}: decoded root differs"));
            }
        }
        if let Some(roots) = roots.as_ref().filter(|r| !r.is_empty()) {
            let want = roots.get(i).ok_or("fewer ExpectedRoots than Messages")?;
            if &msg.tree_hash_root().0 != want {
                return Err(format!("message {i}: root differs"));
            }
        }
    }
    assert_code(expected_code(test)?, &last)?;
    sc.compare(&format!("msg {}", sc.name()?))
}

/// `share.EncodingTest`.
pub(crate) fn share_encoding(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    round_trip::<Share>(test, "Share")?;
    sc.compare(&sc.name()?)
}

/// `signedssvmsg.EncodingTest`: decode and re-encode only (Go checks no root).
pub(crate) fn signed_ssv_encoding(test: &Value) -> Result<(), String> {
    let data = bytes(test, "Data")?;
    let decoded = SignedSsvMessage::from_ssz_bytes(&data).map_err(ssz_err("SignedSSVMessage"))?;
    if decoded.as_ssz_bytes() == data {
        Ok(())
    } else {
        Err("re-encoding differs from Data".into())
    }
}

/// Why a `SignedSSVMessageTest` message failed: validation (with a code) or RSA (none).
#[derive(Debug, thiserror::Error)]
enum SignedError {
    #[error("{0}")]
    Invalid(ssv_core::types::ValidationError),
    #[error("RSA: {0}")]
    Rsa(String),
}

impl ssv_core::error::SpecError for SignedError {
    fn code(&self) -> Option<ssv_core::error::ErrorCode> {
        match self {
            Self::Invalid(e) => e.code(),
            Self::Rsa(_) => None,
        }
    }
}

/// `signedssvmsg.SignedSSVMessageTest`: per message, `Validate()`, then each
/// `RSAPublicKey[i]` verifies `Signatures[i]` over the SSZ of the `SSVMessage`; every
/// message must give the expected code.
pub(crate) fn signed_ssv_message(test: &Value) -> Result<(), String> {
    let messages: Vec<SignedSsvMessageJson> = field(test, "Messages")?;
    let keys: Option<Vec<Base64Bytes>> = field(test, "RSAPublicKey")?;
    let expected = expected_code(test)?;
    for (i, json) in messages.iter().enumerate() {
        let result = json.validate().map_err(SignedError::Invalid).and_then(|()| {
            let msg = json.to_core().map_err(|e| SignedError::Rsa(e.to_string()))?;
            let encoded = msg.ssv_message_bytes();
            // Go keeps only the last key's verification result.
            let mut last = Ok(());
            for (k, pem) in keys.iter().flatten().enumerate() {
                let pk = OperatorPublicKey::from_pem(&pem.0)
                    .map_err(|e| SignedError::Rsa(e.to_string()))?;
                let sig = msg.signatures.get(k).ok_or(SignedError::Rsa("no signature".into()))?;
                last = pk.verify(&encoded, sig).map_err(|e| SignedError::Rsa(e.to_string()));
            }
            last
        });
        assert_code(expected, &result).map_err(|e| format!("message {i}: {e}"))?;
    }
    Ok(())
}

/// `ssvmsg.EncodingTest`.
pub(crate) fn ssv_message_encoding(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    round_trip::<SsvMessage>(test, "SSVMessage")?;
    sc.compare(&sc.name()?)
}

/// The validator public key of `TestingShare(Testing4SharesSet(), …)`, from the extracted
/// v1.2.2 testing utilities.
fn testing_validator_pubkey() -> Result<[u8; 48], String> {
    let path = ssv_fixtures::vector_path(
        "ssv-spec-testingutils-v1.2.2/keys.json",
        "ssv-spec v1.2.2 types/testingutils/keys.go",
    )
    .map_err(|e| e.to_string())?;
    let keys: Value = ssv_fixtures::read_json(&path).map_err(|e| e.to_string())?;
    let text = keys
        .pointer("/Testing4SharesSet/value/ValidatorPK")
        .and_then(Value::as_str)
        .ok_or("keys.json: no Testing4SharesSet.ValidatorPK")?;
    hex::decode(text.trim_start_matches("0x"))
        .map_err(|e| e.to_string())?
        .try_into()
        .map_err(|_| "ValidatorPK is not 48 bytes".to_string())
}

/// `ssvmsg.SSVMessageTest`: `ValidatorPK.MessageIDBelongs` for each message id.
pub(crate) fn ssv_message(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    let ids: Vec<ssv_fixtures::spec_json::HexArray<56>> = field(test, "MessageIDs")?;
    let belongs: bool = field(test, "BelongsToValidator")?;
    let pk = testing_validator_pubkey()?;
    for id in ids {
        let id = MessageId(id.0);
        if id.belongs_to_validator(&pk) != belongs {
            return Err(format!("{id:?}: belongs != {belongs}"));
        }
    }
    sc.compare(&format!("ssvmessage {}", sc.name()?))
}

/// `ssz.SSZSpecTest`: the consensus data decodes, its block decodes, and the Capella
/// payload's withdrawals have `ExpectedRoot` (Go hashes an empty list for other versions).
pub(crate) fn ssz_withdrawals(test: &Value) -> Result<(), String> {
    let data = bytes(test, "Data")?;
    let cd = ValidatorConsensusData::from_ssz_bytes(&data).map_err(ssz_err("consensus data"))?;
    let block = cd.block_data().map_err(|e| e.to_string())?;
    let root = match &block {
        VersionedBlock::Capella(b) => b.body.execution_payload.withdrawals.tree_hash_root().0,
        _ => ssv_core::types::ssz_types::VariableList::<
            ssv_core::beacon::capella::Withdrawal,
            ssv_core::beacon::preset::MaxWithdrawalsPerPayload,
        >::empty()
        .tree_hash_root()
        .0,
    };
    let expected = root_field(test, "ExpectedRoot")?;
    if root == expected {
        Ok(())
    } else {
        Err(format!("withdrawals root {} != expected {}", hex::encode(root), hex::encode(expected)))
    }
}

/// `validatorconsensusdata.EncodingTest`.
pub(crate) fn vcd_encoding(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    round_trip::<ValidatorConsensusData>(test, "ValidatorConsensusData")?;
    sc.compare(&sc.name()?)
}

/// `validatorconsensusdata.ValidatorConsensusDataTest`: `Validate()` code.
pub(crate) fn vcd_validation(test: &Value, sc: &StateComparison<'_>) -> Result<(), String> {
    let cd = field::<ValidatorConsensusDataJson>(test, "ConsensusData")?
        .to_core()
        .map_err(|e| e.to_string())?;
    assert_code(expected_code(test)?, &cd.validate())?;
    sc.compare(&format!("validatorconsensusdata {}", sc.name()?))
}
