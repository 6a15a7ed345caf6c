//! Operator RSA keys against independent data:
//!
//! - `ssv-network/extracted/operator_rsa_test_keys.json`: key pairs from the ssv-keys and ssv
//!   test sources. Each private key must parse (PEM and base64-of-PEM), derive byte for byte
//!   the public PEM the source pairs it with, sign and verify, and round-trip a share.
//! - ssv-spec v1.2.2 `qbft/spectest/generate/tests/*.json`: every operator signature on a
//!   SignedSSVMessage in the JSON must verify under the file's `PrivateKeys.OperatorKeys`
//!   and be reproduced byte for byte by signing the SSVMessage SSZ (PKCS#1 v1.5 is
//!   deterministic). The few vectors built to carry a forged signature or an unknown signer
//!   are listed in `FORGED` with their counts, and those signatures must be refused.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde_json::Value;
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey, RsaError};
use ssv_fixtures::suite::{self, Trial};
use ssv_fixtures::{FixtureError, SSV_SPEC_V1_2_2};

/// qbft spec test files in v1.2.2 (`qbft/spectest/generate/tests`).
const QBFT_TEST_FILES: usize = 203;
/// Key entries in `operator_rsa_test_keys.json`.
const TEST_KEY_ENTRIES: usize = 6;

/// Vectors that deliberately carry signatures that must not verify: (file stem suffix,
/// signatures by an unknown signer (no key in the file), signatures that do not verify).
/// Each follows from the test's name and doc (wrong signature, unknown/zero signer, a
/// duplicated signer whose second signature is reused from another message).
const FORGED: &[(&str, usize, usize)] = &[
    ("ControllerSpecTest_qbft_controller_decide_duplicate_signer", 0, 1),
    ("ControllerSpecTest_qbft_controller_decide_unknown_signer", 1, 0),
    ("ControllerSpecTest_qbft_controller_decide_wrong_sig", 0, 1),
    ("ControllerSpecTest_qbft_controller_late_round_change_past_round", 0, 1),
    ("MsgProcessingSpecTest_qbft_message_processing_duplicate_signers", 0, 1),
    ("MsgProcessingSpecTest_qbft_message_processing_prepare_unknown_signer", 1, 0),
    ("MsgProcessingSpecTest_qbft_message_processing_round_change_non_unique_signer", 0, 1),
    ("MsgProcessingSpecTest_qbft_message_processing_round_change_unknown_signer", 1, 0),
    ("MsgProcessingSpecTest_qbft_message_processing_round_change_zero_signer", 1, 0),
    ("MsgProcessingSpecTest_qbft_message_processing_unknown_commit_signer", 1, 0),
    ("MsgProcessingSpecTest_qbft_message_processing_unknown_proposal_signer", 1, 0),
    ("MsgSpecTest_qbft_message_signer_0", 1, 0),
];

fn main() -> std::process::ExitCode {
    suite::run(|| {
        let mut trials = key_file_trials()?;
        trials.extend(spec_trials()?);
        Ok(trials)
    })
}

// ---------------------------------------------------------------- operator_rsa_test_keys.json

fn key_file_trials() -> Result<Vec<Trial>, FixtureError> {
    let path = ssv_fixtures::vector_path(
        "ssv-network/extracted/operator_rsa_test_keys.json",
        "ssvlabs/ssv-keys RsaKeys.ts and ssvlabs/ssv test sources (see shared/vectors/README.md)",
    )?;
    let doc: Value = ssv_fixtures::read_json(&path)?;
    let keys = doc["keys"].as_array().cloned().unwrap_or_default();
    let count = keys.len();
    let mut trials: Vec<Trial> = keys
        .into_iter()
        .enumerate()
        .map(|(i, entry)| {
            let name = format!(
                "operator_rsa_test_keys[{i}] {}",
                entry["source"].as_str().unwrap_or("?").rsplit(':').next().unwrap_or("?")
            );
            Trial::test(name, move || check_key_entry(&entry).map_err(Into::into))
        })
        .collect();
    trials.push(suite::count_trial("operator_rsa_test_keys entries", TEST_KEY_ENTRIES, count));
    Ok(trials)
}

fn check_key_entry(entry: &Value) -> Result<(), String> {
    let pem = entry["privateKeyPem"].as_str().ok_or("entry has no privateKeyPem")?;
    let sk = OperatorPrivateKey::from_pem(pem.as_bytes()).map_err(|e| format!("PEM: {e}"))?;
    // The private key re-encodes to the same PKCS#1 PEM (Go's PrivateKeyToPem).
    if sk.to_pem().as_str() != pem {
        return Err("private key PEM does not re-encode byte for byte".into());
    }
    if let Some(b64) = entry["privateKeyBase64Pem"].as_str() {
        let again = OperatorPrivateKey::from_base64_pem(b64).map_err(|e| format!("base64: {e}"))?;
        if again.pkcs1_der() != sk.pkcs1_der() {
            return Err("base64 and PEM private keys differ".into());
        }
        if sk.to_base64_pem().as_str() != b64 {
            return Err("private key base64 PEM does not re-encode byte for byte".into());
        }
    }
    let pk = sk.public_key();
    if let Some(pub_pem) = entry["publicKeyPem"].as_str() {
        if pk.to_pem() != pub_pem {
            return Err(format!("derived public PEM differs:\n{}\nvs\n{pub_pem}", pk.to_pem()));
        }
        let parsed = OperatorPublicKey::from_pem(pub_pem.as_bytes()).map_err(|e| e.to_string())?;
        if &parsed != pk {
            return Err("parsed public key differs from derived".into());
        }
    }
    if let Some(pub_b64) = entry["publicKeyBase64Pem"].as_str() {
        if pk.to_base64_pem() != pub_b64 {
            return Err("derived public base64 PEM differs".into());
        }
        let parsed = OperatorPublicKey::from_base64_pem(pub_b64).map_err(|e| e.to_string())?;
        if &parsed != pk {
            return Err("parsed base64 public key differs from derived".into());
        }
    }
    let sig = sk.sign(b"ssv").map_err(|e| e.to_string())?;
    pk.verify(b"ssv", &sig).map_err(|e| e.to_string())?;
    if pk.verify(b"ssw", &sig) != Err(RsaError::BadSignature) {
        return Err("signature verified for another message".into());
    }
    if let Some(ct) = entry["privKeyBase64_as_in_source"].as_str() {
        // ssv `rsatesting.PrivKeyBase64` is a share ciphertext for this key; the node's
        // `TestDecryptRSA` expects this plaintext (64 hex digits, no "0x").
        const PLAINTEXT: &str = "626d6a13ae5b1458c310700941764f3841f279f9c8de5f4ba94abd01dc082517";
        let ct = BASE64.decode(ct).map_err(|e| e.to_string())?;
        let plain = sk.decrypt(&ct).map_err(|e| format!("decrypt: {e}"))?;
        if &plain[..] != PLAINTEXT.as_bytes() {
            return Err("ssv rsatesting ciphertext decrypts to the wrong plaintext".into());
        }
        let share = sk.decrypt_share(&ct).map_err(|e| format!("decrypt_share: {e}"))?;
        if hex::encode(*share) != PLAINTEXT {
            return Err("decrypt_share parsed the wrong secret".into());
        }
    }
    let secret = [0x5au8; 32];
    let ct = pk.encrypt_share(&secret).map_err(|e| e.to_string())?;
    if *sk.decrypt_share(&ct).map_err(|e| e.to_string())? != secret {
        return Err("share round trip changed the secret".into());
    }
    Ok(())
}

// ---------------------------------------------------------------- ssv-spec qbft vectors

fn spec_trials() -> Result<Vec<Trial>, FixtureError> {
    let root = ssv_fixtures::unpacked(SSV_SPEC_V1_2_2)?;
    let dir = root.join("qbft/spectest/generate/tests");
    let files = ssv_fixtures::files_with_extension(&dir, ".json")?;
    let count = files.len();
    let mut trials = suite::file_trials(&root, &files, check_spec_file);
    trials.push(suite::count_trial("qbft spec test files", QBFT_TEST_FILES, count));
    let forged_files: Vec<PathBuf> = files
        .iter()
        .filter(|f| FORGED.iter().any(|(stem, _, _)| file_stem_ends_with(f, stem)))
        .cloned()
        .collect();
    trials.push(suite::count_trial(
        "qbft files with forged signatures",
        FORGED.len(),
        forged_files.len(),
    ));
    Ok(trials)
}

fn file_stem_ends_with(path: &Path, suffix: &str) -> bool {
    path.file_stem().and_then(|s| s.to_str()).is_some_and(|s| s.ends_with(suffix))
}

/// Collects every JSON object shaped like a SignedSSVMessage.
fn signed_messages<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(map) => {
            if map.contains_key("Signatures")
                && map.contains_key("OperatorIDs")
                && map.contains_key("SSVMessage")
            {
                out.push(value);
            }
            map.values().for_each(|v| signed_messages(v, out));
        }
        Value::Array(items) => items.iter().for_each(|v| signed_messages(v, out)),
        _ => {}
    }
}

/// SSZ of an SSVMessage, written out by hand from the spec layout (notes 1.3): `MsgType`
/// u64 LE, `MsgID` 56 bytes, the offset 68 of `Data`, then `Data`.
fn ssv_message_ssz(msg: &Value) -> Result<Vec<u8>, String> {
    let msg_type = msg["MsgType"].as_u64().ok_or("SSVMessage.MsgType")?;
    let msg_id = hex::decode(msg["MsgID"].as_str().ok_or("SSVMessage.MsgID")?)
        .map_err(|e| format!("MsgID: {e}"))?;
    if msg_id.len() != 56 {
        return Err(format!("MsgID is {} bytes", msg_id.len()));
    }
    let data = match &msg["Data"] {
        Value::Null => Vec::new(),
        Value::String(s) => BASE64.decode(s).map_err(|e| format!("Data: {e}"))?,
        other => return Err(format!("Data: {other}")),
    };
    let mut out = Vec::with_capacity(68 + data.len());
    out.extend_from_slice(&msg_type.to_le_bytes());
    out.extend_from_slice(&msg_id);
    out.extend_from_slice(&68u32.to_le_bytes());
    out.extend_from_slice(&data);
    Ok(out)
}

fn check_spec_file(path: &Path) -> Result<(), String> {
    let doc: Value = ssv_fixtures::read_json(path).map_err(|e| e.to_string())?;
    let mut messages = Vec::new();
    signed_messages(&doc, &mut messages);
    let keys = &doc["PrivateKeys"]["OperatorKeys"];
    if messages.is_empty() {
        // Instance-start, create-message and round-robin tests carry no signed message.
        return if keys.is_null() {
            Ok(())
        } else {
            Err("file has operator keys but no signed message".into())
        };
    }
    let keys =
        keys.as_object().ok_or("file has signed messages but no PrivateKeys.OperatorKeys")?;
    let mut parsed = std::collections::BTreeMap::new();
    for (id, pem_hex) in keys {
        let id: u64 = id.parse().map_err(|_| format!("operator id {id}"))?;
        let pem = hex::decode(pem_hex.as_str().ok_or("OperatorKeys value")?)
            .map_err(|e| format!("OperatorKeys[{id}]: {e}"))?;
        let sk =
            OperatorPrivateKey::from_pem(&pem).map_err(|e| format!("OperatorKeys[{id}]: {e}"))?;
        parsed.insert(id, sk);
    }

    let (mut verified, mut unknown, mut refused) = (0usize, 0usize, 0usize);
    for msg in messages {
        let ssz = ssv_message_ssz(&msg["SSVMessage"])?;
        let sigs = msg["Signatures"].as_array().cloned().unwrap_or_default();
        let ids = msg["OperatorIDs"].as_array().cloned().unwrap_or_default();
        for (sig, id) in sigs.iter().zip(ids.iter()) {
            let sig = BASE64.decode(sig.as_str().ok_or("signature")?).map_err(|e| e.to_string())?;
            let id = id.as_u64().ok_or("operator id")?;
            let Some(sk) = parsed.get(&id) else {
                unknown += 1;
                continue;
            };
            let ours = sk.sign(&ssz).map_err(|e| e.to_string())?;
            match sk.public_key().verify(&ssz, &sig) {
                Ok(()) => {
                    if ours[..] != sig[..] {
                        return Err(format!(
                            "operator {id}: vector signature verifies but re-signing gives different bytes"
                        ));
                    }
                    verified += 1;
                }
                Err(RsaError::BadSignature) => {
                    if ours[..] == sig[..] {
                        return Err(format!("operator {id}: our own signature was refused"));
                    }
                    refused += 1;
                }
                Err(e) => return Err(format!("operator {id}: {e}")),
            }
        }
    }
    let (want_unknown, want_refused) = FORGED
        .iter()
        .find(|(stem, _, _)| file_stem_ends_with(path, stem))
        .map_or((0, 0), |&(_, u, r)| (u, r));
    if (unknown, refused) != (want_unknown, want_refused) {
        return Err(format!(
            "{verified} signatures verified, {unknown} by unknown signers and {refused} refused; \
             expected {want_unknown} unknown and {want_refused} refused"
        ));
    }
    Ok(())
}
