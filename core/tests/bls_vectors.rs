//! The Ethereum BLS conformance vectors (ethereum/bls12-381-tests v0.1.2), one trial per
//! file, against `ssv_core::crypto::bls`: sign, verify, aggregate, fast_aggregate_verify,
//! aggregate_verify, batch_verify, hash_to_G2, deserialization_G1/G2. Each file is
//! `{input, output}`; `output: null` or `false` means the operation must fail.
//!
//! The master-006855c5 snapshot adds files that v0.1.2 lacks (the mask-bit deserialization
//! cases); those run as a second group with their own count. Its other files equal v0.1.2's
//! up to a `0x` prefix.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::Value;
use ssv_core::crypto::bls::{
    self, BlsError, PublicKey, SecretKey, Signature, SignatureSet, aggregate_signatures,
};
use ssv_fixtures::suite::{self, Trial};

const RELEASE: &str = "bls12-381-tests/v0.1.2";
const MASTER: &str = "bls12-381-tests/master-006855c5";
const UPSTREAM: &str = "ethereum/bls12-381-tests v0.1.2 (+ extra cases from master 006855c)";
const RELEASE_FILES: usize = 98;
const MASTER_EXTRA_FILES: usize = 6;

/// DST of the hash_to_G2 vectors: RFC 9380 appendix J.10.1 (BLS12381G2_XMD:SHA-256_SSWU_RO_),
/// which bls12-381-tests copies.
const HASH_TO_G2_DST: &[u8] = b"QUUX-V01-CS02-with-BLS12381G2_XMD:SHA-256_SSWU_RO_";

/// Fixed batch-verification seed: any seed must give the vectors' answers.
const BATCH_SEED: [u8; 32] = [0x5e; 32];

fn hex_of(value: &Value) -> Result<Vec<u8>, String> {
    let text = value.as_str().ok_or_else(|| format!("expected a hex string, got {value}"))?;
    hex::decode(text.trim_start_matches("0x")).map_err(|e| format!("bad hex {text}: {e}"))
}

fn field<'a>(value: &'a Value, key: &str) -> Result<&'a Value, String> {
    value.get(key).ok_or_else(|| format!("missing field {key}"))
}

fn list<'a>(value: &'a Value, key: &str) -> Result<&'a Vec<Value>, String> {
    field(value, key)?.as_array().ok_or_else(|| format!("{key}: not a list"))
}

fn expect_bool(output: &Value) -> Result<bool, String> {
    output.as_bool().ok_or_else(|| format!("output {output} is not a boolean"))
}

fn compare(ok: bool, expected: bool, detail: impl std::fmt::Debug) -> Result<(), String> {
    if ok == expected { Ok(()) } else { Err(format!("expected {expected}, got {ok}: {detail:?}")) }
}

fn public_keys(values: &[Value]) -> Result<Vec<PublicKey>, BlsError> {
    values.iter().map(|v| PublicKey::from_bytes(&hex_of(v).unwrap_or_default())).collect()
}

fn check_sign(input: &Value, output: &Value) -> Result<(), String> {
    let message = hex_of(field(input, "message")?)?;
    let result =
        SecretKey::from_bytes(&hex_of(field(input, "privkey")?)?).map(|sk| sk.sign(&message));
    match (result, output) {
        (Ok(sig), Value::String(_)) => {
            let expected = hex_of(output)?;
            if sig.to_bytes().as_slice() == expected.as_slice() {
                Ok(())
            } else {
                Err(format!(
                    "signature {} != {}",
                    hex::encode(sig.to_bytes()),
                    hex::encode(expected)
                ))
            }
        }
        (Err(_), Value::Null) => Ok(()),
        (result, output) => Err(format!("got {result:?}, expected {output}")),
    }
}

fn check_verify(input: &Value, output: &Value) -> Result<(), String> {
    let message = hex_of(field(input, "message")?)?;
    let result = (|| {
        let pk = PublicKey::from_bytes(&hex_of(field(input, "pubkey")?).unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let sig = Signature::from_bytes(&hex_of(field(input, "signature")?).unwrap_or_default())
            .map_err(|e| e.to_string())?;
        sig.verify(&pk, &message).map_err(|e| e.to_string())
    })();
    compare(result.is_ok(), expect_bool(output)?, result)
}

fn check_aggregate(input: &Value, output: &Value) -> Result<(), String> {
    let sigs = input.as_array().ok_or("input: not a list")?;
    let result = sigs
        .iter()
        .map(|v| Signature::from_bytes(&hex_of(v).unwrap_or_default()))
        .collect::<Result<Vec<_>, _>>()
        .and_then(|sigs| aggregate_signatures(&sigs));
    match (result, output) {
        (Ok(sig), Value::String(_)) => {
            let expected = hex_of(output)?;
            if sig.to_bytes().as_slice() == expected.as_slice() {
                Ok(())
            } else {
                Err(format!(
                    "aggregate {} != {}",
                    hex::encode(sig.to_bytes()),
                    hex::encode(expected)
                ))
            }
        }
        (Err(_), Value::Null) => Ok(()),
        (result, output) => Err(format!("got {result:?}, expected {output}")),
    }
}

fn check_fast_aggregate_verify(input: &Value, output: &Value) -> Result<(), String> {
    let message = hex_of(field(input, "message")?)?;
    let result = (|| {
        let pks = public_keys(list(input, "pubkeys")?).map_err(|e| e.to_string())?;
        let sig = Signature::from_bytes(&hex_of(field(input, "signature")?).unwrap_or_default())
            .map_err(|e| e.to_string())?;
        sig.fast_aggregate_verify(&pks, &message).map_err(|e| e.to_string())
    })();
    compare(result.is_ok(), expect_bool(output)?, result)
}

fn check_aggregate_verify(input: &Value, output: &Value) -> Result<(), String> {
    let messages = list(input, "messages")?.iter().map(hex_of).collect::<Result<Vec<_>, _>>()?;
    let result = (|| {
        let pks = public_keys(list(input, "pubkeys")?).map_err(|e| e.to_string())?;
        let sig = Signature::from_bytes(&hex_of(field(input, "signature")?).unwrap_or_default())
            .map_err(|e| e.to_string())?;
        let msgs: Vec<&[u8]> = messages.iter().map(Vec::as_slice).collect();
        sig.aggregate_verify(&pks, &msgs).map_err(|e| e.to_string())
    })();
    compare(result.is_ok(), expect_bool(output)?, result)
}

fn check_batch_verify(input: &Value, output: &Value) -> Result<(), String> {
    let messages = list(input, "messages")?.iter().map(hex_of).collect::<Result<Vec<_>, _>>()?;
    let result = (|| {
        let pks = public_keys(list(input, "pubkeys")?).map_err(|e| e.to_string())?;
        let sigs = list(input, "signatures")?
            .iter()
            .map(|v| Signature::from_bytes(&hex_of(v).unwrap_or_default()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| e.to_string())?;
        if pks.len() != messages.len() || pks.len() != sigs.len() {
            return Err("list lengths differ".to_string());
        }
        let sets: Vec<SignatureSet<'_>> = (0..pks.len())
            .map(|i| SignatureSet {
                public_key: &pks[i],
                message: &messages[i],
                signature: &sigs[i],
            })
            .collect();
        bls::verify_batch(&sets, &BATCH_SEED).map_err(|e| e.to_string())
    })();
    compare(result.is_ok(), expect_bool(output)?, result)
}

/// hash_to_G2 through blst: signing with the secret key 1 yields `H(msg)` itself. The
/// uncompressed encoding holds x then y, each Fp2 as c1 then c0; the vector writes `c0,c1`.
fn check_hash_to_g2(input: &Value, output: &Value) -> Result<(), String> {
    let msg = field(input, "msg")?.as_str().ok_or("msg: not a string")?;
    let mut one = [0u8; 32];
    one[31] = 1;
    let sk = blst::min_pk::SecretKey::from_bytes(&one).map_err(|e| format!("{e:?}"))?;
    let point = sk.sign(msg.as_bytes(), HASH_TO_G2_DST, &[]).serialize();
    let fp2 = |offset: usize| -> String {
        let c1 = &point[offset..offset + 48];
        let c0 = &point[offset + 48..offset + 96];
        format!("0x{},0x{}", hex::encode(c0), hex::encode(c1))
    };
    let (x, y) = (fp2(0), fp2(96));
    let (ex, ey) = (field(output, "x")?, field(output, "y")?);
    if ex.as_str() == Some(x.as_str()) && ey.as_str() == Some(y.as_str()) {
        Ok(())
    } else {
        Err(format!("got x={x} y={y}, expected x={ex} y={ey}"))
    }
}

/// Deserialisation of a point. For G1 the consensus `KeyValidate` extra (not infinity) is a
/// separate typed error, so a well-formed infinity still counts as decoded here.
fn check_deserialization_g1(input: &Value, output: &Value) -> Result<(), String> {
    let bytes = hex_of(field(input, "pubkey")?)?;
    let result = PublicKey::from_bytes(&bytes);
    let decoded = matches!(result, Ok(_) | Err(BlsError::InfinityPublicKey));
    compare(decoded, expect_bool(output)?, result)
}

fn check_deserialization_g2(input: &Value, output: &Value) -> Result<(), String> {
    let bytes = hex_of(field(input, "signature")?)?;
    let result = Signature::from_bytes(&bytes);
    compare(result.is_ok(), expect_bool(output)?, result)
}

fn check_file(path: &Path) -> Result<(), String> {
    let doc: Value = ssv_fixtures::read_json(path).map_err(|e| e.to_string())?;
    let input = field(&doc, "input")?;
    let output = field(&doc, "output")?;
    let kind = path
        .parent()
        .and_then(Path::file_name)
        .and_then(|n| n.to_str())
        .ok_or("no operation folder")?;
    match kind {
        "sign" => check_sign(input, output),
        "verify" => check_verify(input, output),
        "aggregate" => check_aggregate(input, output),
        "fast_aggregate_verify" => check_fast_aggregate_verify(input, output),
        "aggregate_verify" => check_aggregate_verify(input, output),
        "batch_verify" => check_batch_verify(input, output),
        "hash_to_G2" => check_hash_to_g2(input, output),
        "deserialization_G1" => check_deserialization_g1(input, output),
        "deserialization_G2" => check_deserialization_g2(input, output),
        other => Err(format!("unknown operation folder {other}: this harness does not handle it")),
    }
}

fn build() -> Result<Vec<Trial>, ssv_fixtures::FixtureError> {
    let release = ssv_fixtures::vector_path(RELEASE, UPSTREAM)?;
    let master = ssv_fixtures::vector_path(MASTER, UPSTREAM)?;
    let release_files = ssv_fixtures::files_with_extension(&release, ".json")?;
    let known: BTreeSet<PathBuf> = release_files
        .iter()
        .filter_map(|f| f.strip_prefix(&release).ok())
        .map(Path::to_path_buf)
        .collect();
    let extra_files: Vec<PathBuf> = ssv_fixtures::files_with_extension(&master, ".json")?
        .into_iter()
        .filter(|f| f.strip_prefix(&master).map(|rel| !known.contains(rel)).unwrap_or(true))
        .collect();
    let root = ssv_fixtures::vectors_dir()?;
    let mut trials = suite::file_trials(&root, &release_files, check_file);
    trials.push(suite::count_trial(RELEASE, RELEASE_FILES, release_files.len()));
    trials.extend(suite::file_trials(&root, &extra_files, check_file));
    trials.push(suite::count_trial(
        &format!("{MASTER} (not in v0.1.2)"),
        MASTER_EXTRA_FILES,
        extra_files.len(),
    ));
    Ok(trials)
}

fn main() -> ExitCode {
    suite::run(build)
}
