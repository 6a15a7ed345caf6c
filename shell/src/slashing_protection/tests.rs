//! Database behaviour beyond the EIP-3076 suite: persistence, chain binding, atomicity of
//! imports and of check-and-insert under concurrency.

use std::sync::Arc;

use super::*;

const GVR: Root = [7; 32];
const PK: BlsPublicKeyBytes = [0xa1; 48];

fn fresh() -> (tempfile::TempDir, SlashingDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let db = SlashingDatabase::open(dir.path().join("slashing.redb"), GVR).unwrap();
    (dir, db)
}

fn att(s: u64, t: u64, r: u8) -> AttestationToSign {
    AttestationToSign { source_epoch: s, target_epoch: t, signing_root: [r; 32] }
}

fn interchange_json(gvr: &str, version: &str, data: &str) -> String {
    format!(
        r#"{{"metadata":{{"interchange_format_version":"{version}","genesis_validators_root":"{gvr}"}},"data":[{data}]}}"#
    )
}

fn gvr_hex() -> String {
    format!("0x{}", hex::encode(GVR))
}

fn pk_hex(byte: u8) -> String {
    format!("0x{}", hex::encode([byte; 48]))
}

#[test]
fn records_survive_reopening_and_the_chain_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("slashing.redb");
    {
        let db = SlashingDatabase::open(&path, GVR).unwrap();
        assert_eq!(db.check_and_insert_attestation(&PK, &att(1, 2, 1)).unwrap(), Safe::Valid);
        let block = BlockToSign { slot: 9, signing_root: [3; 32] };
        assert_eq!(db.check_and_insert_block(&PK, &block).unwrap(), Safe::Valid);
    }
    let db = SlashingDatabase::open(&path, GVR).unwrap();
    assert_eq!(db.check_and_insert_attestation(&PK, &att(1, 2, 1)).unwrap(), Safe::SameData);
    let err = db.check_and_insert_attestation(&PK, &att(0, 3, 1)).unwrap_err();
    assert!(matches!(
        err,
        SlashingProtectionError::Attestation {
            violation: AttestationViolation::SurroundsExisting { .. },
            ..
        }
    ));
    // The message names the key, the rule and the existing record.
    let text = err.to_string();
    assert!(text.contains(&hex::encode(PK)) && text.contains("surround"), "{text}");
    assert!(text.contains("source_epoch: 1") && text.contains("target_epoch: 2"), "{text}");
    drop(db);
    let other = SlashingDatabase::open(&path, [8; 32]).unwrap_err();
    assert!(matches!(other, SlashingProtectionError::GenesisValidatorsRootMismatch { .. }));
}

#[test]
fn concurrent_conflicting_requests_sign_once() {
    let (_dir, db) = fresh();
    let db = Arc::new(db);
    let threads: Vec<_> = (0..8u8)
        .map(|i| {
            let db = Arc::clone(&db);
            std::thread::spawn(move || {
                let a = db.check_and_insert_attestation(&PK, &att(4, 5, i + 1)).is_ok();
                let block = BlockToSign { slot: 100, signing_root: [i + 1; 32] };
                let b = db.check_and_insert_block(&PK, &block).is_ok();
                (a, b)
            })
        })
        .collect();
    let results: Vec<(bool, bool)> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.0).count(), 1, "{results:?}");
    assert_eq!(results.iter().filter(|r| r.1).count(), 1, "{results:?}");
    let export = db.export_interchange().unwrap();
    assert_eq!(export.data.len(), 1);
    assert_eq!(export.data[0].signed_attestations.len(), 1);
    assert_eq!(export.data[0].signed_blocks.len(), 1);
}

#[test]
fn a_malformed_entry_refuses_the_whole_file() {
    let (_dir, db) = fresh();
    let good = format!(
        r#"{{"pubkey":"{}","signed_blocks":[{{"slot":"5"}}],"signed_attestations":[]}}"#,
        pk_hex(1)
    );
    let bad = format!(
        r#"{{"pubkey":"{}","signed_blocks":[{{"slot":"x6"}}],"signed_attestations":[]}}"#,
        pk_hex(2)
    );
    let json = interchange_json(&gvr_hex(), "5", &format!("{good},{bad}"));
    let err = db.import_interchange_json(json.as_bytes()).unwrap_err();
    assert!(matches!(err, SlashingProtectionError::InvalidInterchange(_)), "{err}");
    assert!(db.export_interchange().unwrap().data.is_empty());

    let short_key = r#"{"pubkey":"0xa1a1","signed_blocks":[],"signed_attestations":[]}"#;
    let json = interchange_json(&gvr_hex(), "5", &format!("{good},{short_key}"));
    assert!(db.import_interchange_json(json.as_bytes()).is_err());
    assert!(db.export_interchange().unwrap().data.is_empty());

    let json = interchange_json(&gvr_hex(), "4", &good);
    let err = db.import_interchange_json(json.as_bytes()).unwrap_err();
    assert!(matches!(err, SlashingProtectionError::UnsupportedInterchangeVersion(4)), "{err}");

    let json = interchange_json(&format!("0x{}", hex::encode([9u8; 32])), "5", &good);
    let err = db.import_interchange_json(json.as_bytes()).unwrap_err();
    assert!(matches!(err, SlashingProtectionError::GenesisValidatorsRootMismatch { .. }));
    assert!(db.export_interchange().unwrap().data.is_empty());

    let summary = db.import_interchange_json(interchange_json(&gvr_hex(), "5", &good).as_bytes());
    assert_eq!(summary.unwrap(), ImportSummary { entries: 1, blocks: 1, attestations: 0 });
}

#[test]
fn import_lowers_watermarks_and_keeps_every_record() {
    let (_dir, db) = fresh();
    let entry = |blocks: &str, atts: &str| {
        format!(
            r#"{{"pubkey":"{}","signed_blocks":[{blocks}],"signed_attestations":[{atts}]}}"#,
            pk_hex(0xa1)
        )
    };
    let first = entry(r#"{"slot":"40"}"#, r#"{"source_epoch":"2","target_epoch":"30"}"#);
    let second = entry(r#"{"slot":"50"}"#, r#"{"source_epoch":"10","target_epoch":"50"}"#);
    for e in [first, second] {
        db.import_interchange_json(interchange_json(&gvr_hex(), "5", &e).as_bytes()).unwrap();
    }
    let block = |slot| BlockToSign { slot, signing_root: [1; 32] };
    assert!(db.check_and_insert_block(&PK, &block(40)).is_err());
    assert_eq!(db.check_and_insert_block(&PK, &block(41)).unwrap(), Safe::Valid);
    assert!(db.check_and_insert_block(&PK, &block(50)).is_err());
    assert_eq!(db.check_and_insert_attestation(&PK, &att(3, 31, 1)).unwrap(), Safe::Valid);
    assert!(db.check_and_insert_attestation(&PK, &att(1, 32, 1)).is_err());
    assert!(db.check_and_insert_attestation(&PK, &att(11, 49, 1)).is_err());
}
