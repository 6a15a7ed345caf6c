//! EIP-3076 slashing protection interchange tests (eth-clients/slashing-protection-
//! interchange-tests v5.3.0, `tests/generated/*.json`), run against [`SlashingDatabase`]
//! with the **complete** strategy: a check's expectation is `should_succeed_complete`
//! where present, else `should_succeed`.
//!
//! Each file gets a fresh database in a temporary folder. Each step imports its
//! interchange (it must succeed iff `should_succeed`; a refused import must leave the
//! database unchanged), then runs its block and attestation checks in order (a check that
//! passes records what it allowed, as a signer would). At the end of each file the
//! database is exported, imported into a fresh database and exported again: both exports
//! must be equal.

use std::path::Path;
use std::process::ExitCode;

use serde::Deserialize;
use ssv_core::slashing::{AttestationToSign, BlockToSign};
use ssv_fixtures::suite::{self, Trial};
use ssv_shell::slashing_protection::SlashingDatabase;

const SUITE_DIR: &str = "slashing-protection-interchange-tests/tests/generated";
const UPSTREAM: &str = "eth-clients/slashing-protection-interchange-tests v5.3.0 (tests/generated)";
/// v5.3.0 ships 38 generated tests.
const EXPECTED_FILES: usize = 38;

#[derive(Deserialize)]
struct TestFile {
    name: String,
    genesis_validators_root: String,
    steps: Vec<Step>,
}

#[derive(Deserialize)]
struct Step {
    should_succeed: bool,
    #[allow(dead_code)] // The complete strategy imports slashable data like any other.
    contains_slashable_data: bool,
    interchange: serde_json::Value,
    blocks: Vec<BlockCheck>,
    attestations: Vec<AttestationCheck>,
}

#[derive(Deserialize)]
struct BlockCheck {
    pubkey: String,
    slot: String,
    signing_root: Option<String>,
    should_succeed: bool,
    should_succeed_complete: Option<bool>,
}

#[derive(Deserialize)]
struct AttestationCheck {
    pubkey: String,
    source_epoch: String,
    target_epoch: String,
    signing_root: Option<String>,
    should_succeed: bool,
    should_succeed_complete: Option<bool>,
}

fn hex_bytes<const N: usize>(text: &str) -> Result<[u8; N], String> {
    let mut out = [0u8; N];
    hex::decode_to_slice(text.trim_start_matches("0x"), &mut out)
        .map_err(|e| format!("bad {N}-byte hex {text:?}: {e}"))?;
    Ok(out)
}

fn number(text: &str) -> Result<u64, String> {
    text.parse().map_err(|e| format!("bad number {text:?}: {e}"))
}

/// A missing signing root in a check is the all-zero (unknown) root.
fn root(text: Option<&String>) -> Result<[u8; 32], String> {
    text.map_or(Ok([0; 32]), |t| hex_bytes(t))
}

fn run_file(path: &Path) -> Result<(), String> {
    let test: TestFile = ssv_fixtures::read_json(path).map_err(|e| e.to_string())?;
    let gvr = hex_bytes::<32>(&test.genesis_validators_root)?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db =
        SlashingDatabase::open(dir.path().join("slashing.redb"), gvr).map_err(|e| e.to_string())?;
    for (i, step) in test.steps.iter().enumerate() {
        let json = serde_json::to_vec(&step.interchange).map_err(|e| e.to_string())?;
        let before = db.export_interchange().map_err(|e| e.to_string())?;
        let imported = db.import_interchange_json(&json);
        match (step.should_succeed, &imported) {
            (true, Err(e)) => return Err(format!("{}: step {i}: import failed: {e}", test.name)),
            (false, Ok(_)) => {
                return Err(format!("{}: step {i}: import should have failed", test.name));
            }
            (false, Err(_)) => {
                let after = db.export_interchange().map_err(|e| e.to_string())?;
                if after != before {
                    return Err(format!(
                        "{}: step {i}: a refused import changed the db",
                        test.name
                    ));
                }
            }
            (true, Ok(_)) => {}
        }
        for (j, check) in step.blocks.iter().enumerate() {
            let pubkey = hex_bytes::<48>(&check.pubkey)?;
            let block = BlockToSign {
                slot: number(&check.slot)?,
                signing_root: root(check.signing_root.as_ref())?,
            };
            let expected = check.should_succeed_complete.unwrap_or(check.should_succeed);
            let got = db.check_and_insert_block(&pubkey, &block);
            if got.is_ok() != expected {
                return Err(format!(
                    "{}: step {i}: block {j} (slot {}): expected {}, got {got:?}",
                    test.name,
                    block.slot,
                    if expected { "success" } else { "refusal" }
                ));
            }
        }
        for (j, check) in step.attestations.iter().enumerate() {
            let pubkey = hex_bytes::<48>(&check.pubkey)?;
            let attestation = AttestationToSign {
                source_epoch: number(&check.source_epoch)?,
                target_epoch: number(&check.target_epoch)?,
                signing_root: root(check.signing_root.as_ref())?,
            };
            let expected = check.should_succeed_complete.unwrap_or(check.should_succeed);
            let got = db.check_and_insert_attestation(&pubkey, &attestation);
            if got.is_ok() != expected {
                return Err(format!(
                    "{}: step {i}: attestation {j} ({} -> {}): expected {}, got {got:?}",
                    test.name,
                    attestation.source_epoch,
                    attestation.target_epoch,
                    if expected { "success" } else { "refusal" }
                ));
            }
        }
    }
    // export -> import into a fresh database -> export is a fixed point.
    let first = db.export_interchange().map_err(|e| e.to_string())?;
    let dir2 = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db2 = SlashingDatabase::open(dir2.path().join("slashing.redb"), gvr)
        .map_err(|e| e.to_string())?;
    let json = serde_json::to_vec(&first).map_err(|e| e.to_string())?;
    db2.import_interchange_json(&json).map_err(|e| format!("{}: re-import: {e}", test.name))?;
    let second = db2.export_interchange().map_err(|e| e.to_string())?;
    if first != second {
        return Err(format!("{}: export -> import -> export differs", test.name));
    }
    Ok(())
}

/// An interchange imported into a fresh database exports as the same records, in the
/// documented order (keys by bytes, blocks by slot, attestations by target then source),
/// with the same JSON shape: the expectation is written here, not produced by the code.
fn export_matches_the_imported_file() -> Result<(), String> {
    let key_a = format!("0x{}", "aa".repeat(48));
    let key_b = format!("0x{}", "bb".repeat(48));
    let gvr = format!("0x{}", "04".repeat(32));
    let root1 = format!("0x{}", "01".repeat(32));
    let root2 = format!("0x{}", "02".repeat(32));
    let input = format!(
        r#"{{"metadata":{{"interchange_format_version":"5","genesis_validators_root":"{gvr}"}},
        "data":[
          {{"pubkey":"{key_b}","signed_blocks":[{{"slot":"3"}}],"signed_attestations":[]}},
          {{"pubkey":"{key_a}","signed_blocks":[{{"slot":"9","signing_root":"{root1}"}},{{"slot":"2"}}],
            "signed_attestations":[{{"source_epoch":"4","target_epoch":"6","signing_root":"{root2}"}},
                                   {{"source_epoch":"0","target_epoch":"1"}}]}}]}}"#
    );
    let expected: serde_json::Value = serde_json::from_str(&format!(
        r#"{{"metadata":{{"interchange_format_version":"5","genesis_validators_root":"{gvr}"}},
        "data":[
          {{"pubkey":"{key_a}","signed_blocks":[{{"slot":"2"}},{{"slot":"9","signing_root":"{root1}"}}],
            "signed_attestations":[{{"source_epoch":"0","target_epoch":"1"}},
                                   {{"source_epoch":"4","target_epoch":"6","signing_root":"{root2}"}}]}},
          {{"pubkey":"{key_b}","signed_blocks":[{{"slot":"3"}}],"signed_attestations":[]}}]}}"#
    ))
    .map_err(|e| e.to_string())?;
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db = SlashingDatabase::open(dir.path().join("slashing.redb"), [4; 32])
        .map_err(|e| e.to_string())?;
    db.import_interchange_json(input.as_bytes()).map_err(|e| e.to_string())?;
    let exported = serde_json::to_value(db.export_interchange().map_err(|e| e.to_string())?)
        .map_err(|e| e.to_string())?;
    if exported != expected {
        return Err(format!("exported {exported}\nexpected {expected}"));
    }
    // Signing adds records that the next export carries, and a fresh import of that
    // export exports the same again.
    let pubkey = hex_bytes::<48>(&key_a)?;
    let attestation = AttestationToSign { source_epoch: 6, target_epoch: 7, signing_root: [5; 32] };
    db.check_and_insert_attestation(&pubkey, &attestation).map_err(|e| e.to_string())?;
    let first = db.export_interchange().map_err(|e| e.to_string())?;
    let dir2 = tempfile::tempdir().map_err(|e| e.to_string())?;
    let db2 = SlashingDatabase::open(dir2.path().join("slashing.redb"), [4; 32])
        .map_err(|e| e.to_string())?;
    db2.import_interchange(&first).map_err(|e| e.to_string())?;
    let second = db2.export_interchange().map_err(|e| e.to_string())?;
    if first != second || first.data[0].signed_attestations.len() != 3 {
        return Err(format!("round trip differs:\n{first:?}\n{second:?}"));
    }
    Ok(())
}

fn main() -> ExitCode {
    suite::run(|| {
        let root = ssv_fixtures::vector_path(SUITE_DIR, UPSTREAM)?;
        let files = ssv_fixtures::files_with_extension(&root, ".json")?;
        let mut trials = suite::file_trials(&root, &files, run_file);
        trials.push(suite::count_trial("eip3076 generated", EXPECTED_FILES, files.len()));
        trials.push(Trial::test("export matches the imported file", || {
            export_matches_the_imported_file().map_err(Into::into)
        }));
        Ok(trials)
    })
}
