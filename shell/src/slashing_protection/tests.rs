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

/// A tiny deterministic generator (SplitMix64) so the test needs no RNG crate.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % bound
    }
}

/// The database's range queries read only candidate records; the in-memory
/// `SlashingHistory` (itself checked exhaustively in ssv-core) must give the same verdicts
/// over random mixes of imports and signing requests on many keys.
#[test]
fn database_agrees_with_the_in_memory_history() {
    use ssv_core::slashing::SlashingHistory;
    let (_dir, db) = fresh();
    let mut rng = SplitMix(0x5eed);
    for key in 0..48u8 {
        let pubkey = [key; 48];
        let mut history = SlashingHistory::new();
        for op in 0..14 {
            let root = |rng: &mut SplitMix| [rng.next(3) as u8; 32];
            match rng.next(5) {
                0 => {
                    let mut blocks = Vec::new();
                    let mut atts = Vec::new();
                    for _ in 0..rng.next(3) {
                        let signing_root = (rng.next(2) == 0).then(|| root(&mut rng));
                        blocks.push(SignedBlock { slot: rng.next(10), signing_root });
                    }
                    for _ in 0..rng.next(3) {
                        let signing_root = (rng.next(2) == 0).then(|| root(&mut rng));
                        atts.push(SignedAttestation {
                            source_epoch: rng.next(9),
                            target_epoch: rng.next(9),
                            signing_root,
                        });
                    }
                    let interchange = Interchange {
                        metadata: InterchangeMetadata {
                            interchange_format_version: 5,
                            genesis_validators_root: GVR,
                        },
                        data: vec![InterchangeData {
                            pubkey,
                            signed_blocks: blocks.iter().map(|&b| b.into()).collect(),
                            signed_attestations: atts.iter().map(|&a| a.into()).collect(),
                        }],
                    };
                    db.import_interchange(&interchange).unwrap();
                    history.import(&blocks, &atts);
                }
                1 => {
                    let block = BlockToSign { slot: rng.next(10), signing_root: root(&mut rng) };
                    let got = db.check_and_insert_block(&pubkey, &block);
                    let want = history.check_and_insert_block(&block);
                    match (&got, &want) {
                        (Ok(a), Ok(b)) => assert_eq!(a, b),
                        (Err(SlashingProtectionError::Block { violation, .. }), Err(v)) => {
                            assert_eq!(violation, v);
                        }
                        _ => panic!("key {key} op {op}: db {got:?}, history {want:?}"),
                    }
                }
                _ => {
                    let a = AttestationToSign {
                        source_epoch: rng.next(9),
                        target_epoch: rng.next(9),
                        signing_root: root(&mut rng),
                    };
                    let got = db.check_and_insert_attestation(&pubkey, &a);
                    let want = history.check_and_insert_attestation(&a);
                    // Which conflicting record is named may differ with scan order.
                    match (&got, &want) {
                        (Ok(x), Ok(y)) => assert_eq!(x, y),
                        (Err(SlashingProtectionError::Attestation { violation, .. }), Err(v)) => {
                            assert_eq!(
                                std::mem::discriminant(violation),
                                std::mem::discriminant(v),
                                "key {key} op {op}: db {violation:?}, history {v:?}"
                            );
                        }
                        _ => panic!("key {key} op {op}: db {got:?}, history {want:?}"),
                    }
                }
            }
        }
        // The database's records are the history's records.
        let export = db.export_interchange().unwrap();
        let data = export.data.iter().find(|d| d.pubkey == pubkey);
        let blocks: Vec<SignedBlock> =
            data.map(|d| d.signed_blocks.iter().map(|&b| b.into()).collect()).unwrap_or_default();
        let atts: Vec<SignedAttestation> = data
            .map(|d| d.signed_attestations.iter().map(|&a| a.into()).collect())
            .unwrap_or_default();
        assert_eq!(blocks, history.blocks().collect::<Vec<_>>(), "key {key}");
        assert_eq!(atts, history.attestations().collect::<Vec<_>>(), "key {key}");
    }
}

#[test]
fn read_only_queries_follow_the_insert_rules_and_write_nothing() {
    let (_dir, db) = fresh();
    // Nothing signed yet: nothing is slashable, and asking records nothing.
    assert_eq!(db.is_attestation_slashable(&PK, 2, 3, Some([1; 32])).unwrap(), None);
    assert_eq!(db.is_block_slashable(&PK, 10, Some([1; 32])).unwrap(), None);
    assert!(db.export_interchange().unwrap().data.is_empty());

    assert_eq!(db.check_and_insert_attestation(&PK, &att(2, 3, 1)).unwrap(), Safe::Valid);
    let block = BlockToSign { slot: 10, signing_root: [5; 32] };
    assert_eq!(db.check_and_insert_block(&PK, &block).unwrap(), Safe::Valid);

    // The same data again is safe; other data at the same target or slot is not.
    assert_eq!(db.is_attestation_slashable(&PK, 2, 3, Some([1; 32])).unwrap(), None);
    assert!(matches!(
        db.is_attestation_slashable(&PK, 2, 3, Some([9; 32])).unwrap(),
        Some(AttestationViolation::DoubleVote { .. })
    ));
    // Unknown data at a signed target: a double vote.
    assert!(matches!(
        db.is_attestation_slashable(&PK, 2, 3, None).unwrap(),
        Some(AttestationViolation::DoubleVote { .. })
    ));
    assert!(matches!(
        db.is_attestation_slashable(&PK, 1, 4, None).unwrap(),
        Some(AttestationViolation::SurroundsExisting { .. })
    ));
    assert_eq!(db.is_attestation_slashable(&PK, 3, 4, None).unwrap(), None);
    assert_eq!(db.is_block_slashable(&PK, 10, Some([5; 32])).unwrap(), None);
    assert!(matches!(
        db.is_block_slashable(&PK, 10, None).unwrap(),
        Some(BlockViolation::DoubleProposal { .. })
    ));
    assert_eq!(db.is_block_slashable(&PK, 11, None).unwrap(), None);
    // Another key is unaffected, and the queries wrote nothing.
    assert_eq!(db.is_attestation_slashable(&[0xb2; 48], 2, 3, None).unwrap(), None);
    let exported = db.export_interchange().unwrap();
    assert_eq!(exported.data.len(), 1);
    assert_eq!(exported.data[0].signed_attestations.len(), 1);
    assert_eq!(exported.data[0].signed_blocks.len(), 1);
}
