//! ssv-keys v1.2.0 keyshares files (`ssv-keys/src/lib/KeyShares/__test__/mock-key-shares`):
//! each is accepted or refused as its file name says (and as ssv-keys' own
//! `KeyShares.json.test.ts` expects), with the error naming the problem. For accepted files
//! the ownership signature verifies for the file's owner and nonce, and fails for the next
//! nonce.
//!
//! Also the validator keystores in ssv-keys (`test.keystore.json`, EIP-2335 with scrypt,
//! password `testtest` from ssv-keys' tests): they decrypt to the BLS key whose public key
//! is the file's `pubkey` and the mock keyshares' validator key, and refuse a wrong password.

use std::path::Path;

use serde_json::Value;
use ssv_core::crypto::bls::SecretKey;
use ssv_core::crypto::keyshares::{KeysharesError, KeysharesFile};
use ssv_core::crypto::keystore::{Keystore, KeystoreError};
use ssv_fixtures::FixtureError;
use ssv_fixtures::suite::{self, Trial};

/// Files in the mock-key-shares folder.
const MOCK_FILES: usize = 8;

/// ssv-keys validator keystores (`src/lib/EthereumKeyStore/__tests__` and
/// `examples/console`).
const VALIDATOR_KEYSTORES: usize = 2;
/// Their password in ssv-keys' tests.
const VALIDATOR_KEYSTORE_PASSWORD: &str = "testtest";
/// The validator public key of every mock keyshares file.
const MOCK_VALIDATOR_KEY: &str = "a063fa1434f4ae9bb63488cd79e2f76dea59e0e2d6cdec7236c2bb49ffb37da37cb7966be74eca5a171f659fee7bc501";

/// What a file's name says should happen.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// Parses, with this many items.
    Accept(usize),
    /// Refused with an error for which the check returns true.
    Reject(&'static str, fn(&KeysharesError) -> bool),
}

fn expectation(stem: &str) -> Option<Expect> {
    Some(match stem {
        // The legacy single-item form, without and with top-level version/createdAt.
        "item-with-operators" | "old-shares" => Expect::Accept(1),
        "multi-shares" => Expect::Accept(1),
        // An empty KeySharesItem (null publicKey, operators and shares; empty payload).
        "item-empty" => {
            Expect::Reject("a missing field", |e| matches!(e, KeysharesError::Field { .. }))
        }
        "item-with-duplicated-operator-key" => Expect::Reject("a duplicated operator key", |e| {
            matches!(e, KeysharesError::DuplicatedOperatorKey { .. })
        }),
        "item-with-missed-operator-key" => Expect::Reject("a missing operator key", |e| {
            matches!(e, KeysharesError::OperatorKey { .. })
        }),
        "item-with-wrong-operator-id" => Expect::Reject("an invalid operator id", |e| {
            matches!(e, KeysharesError::OperatorId { .. })
        }),
        "multi-shares-invalid-struct" => Expect::Reject("an invalid structure", |e| {
            matches!(e, KeysharesError::InvalidStructure)
        }),
        _ => return None,
    })
}

fn main() -> std::process::ExitCode {
    suite::run(build)
}

fn build() -> Result<Vec<Trial>, FixtureError> {
    let dir = ssv_fixtures::vector_path(
        "ssv-network/ssv-keys/src/lib/KeyShares/__test__/mock-key-shares",
        "ssvlabs/ssv-keys v1.2.0 src/lib/KeyShares/__test__/mock-key-shares",
    )?;
    let files = ssv_fixtures::files_with_extension(&dir, ".json")?;
    let count = files.len();
    let mut trials = suite::file_trials(&dir, &files, check_file);
    trials.push(suite::count_trial("ssv-keys mock keyshares", MOCK_FILES, count));

    let root = ssv_fixtures::vector_path("ssv-network/ssv-keys", "ssvlabs/ssv-keys v1.2.0")?;
    let keystores: Vec<_> = ssv_fixtures::files_with_extension(&root, "test.keystore.json")?;
    let count = keystores.len();
    trials.extend(suite::file_trials(&root, &keystores, check_validator_keystore));
    trials.push(suite::count_trial("ssv-keys validator keystores", VALIDATOR_KEYSTORES, count));
    Ok(trials)
}

fn check_file(path: &Path) -> Result<(), String> {
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or_default();
    let expect = expectation(stem).ok_or_else(|| format!("no expectation for {stem}: add it"))?;
    let doc: Value = ssv_fixtures::read_json(path).map_err(|e| e.to_string())?;
    let result = KeysharesFile::from_json(&doc.to_string());
    match (expect, result) {
        (Expect::Accept(items), Ok(file)) => {
            if file.items.len() != items {
                return Err(format!("{} items, expected {items}", file.items.len()));
            }
            for item in &file.items {
                if item.shares.to_bytes().len() != 96 + 304 * item.operators.len() {
                    return Err("sharesData does not re-encode to 96 + 304n bytes".into());
                }
                item.shares
                    .verify_ownership(
                        &item.validator_public_key,
                        &item.owner_address,
                        item.owner_nonce,
                    )
                    .map_err(|e| e.to_string())?;
                let next = item.owner_nonce + 1;
                if item
                    .shares
                    .verify_ownership(&item.validator_public_key, &item.owner_address, next)
                    .is_ok()
                {
                    return Err("ownership signature also verified for the next nonce".into());
                }
            }
            Ok(())
        }
        (Expect::Accept(_), Err(e)) => Err(format!("should be accepted, refused: {e}")),
        (Expect::Reject(what, _), Ok(_)) => Err(format!("should be refused for {what}, accepted")),
        (Expect::Reject(what, matches), Err(e)) => {
            if matches(&e) {
                Ok(())
            } else {
                Err(format!("should be refused for {what}, refused for: {e}"))
            }
        }
    }
}

fn check_validator_keystore(path: &Path) -> Result<(), String> {
    let doc: Value = ssv_fixtures::read_json(path).map_err(|e| e.to_string())?;
    let ks = Keystore::from_json(&doc.to_string()).map_err(|e| e.to_string())?;
    let secret = ks.decrypt(VALIDATOR_KEYSTORE_PASSWORD).map_err(|e| e.to_string())?;
    let sk = SecretKey::from_bytes(&secret).map_err(|e| e.to_string())?;
    let pk = hex::encode(sk.public_key().to_bytes());
    if ks.pubkey.as_deref() != Some(pk.as_str()) || pk != MOCK_VALIDATOR_KEY {
        return Err(format!(
            "decrypted key's public key {pk} differs from the file's or the keyshares'"
        ));
    }
    match ks.decrypt("testtesT") {
        Err(KeystoreError::WrongPassword) => Ok(()),
        other => Err(format!("wrong password gave {other:?}")),
    }
}
