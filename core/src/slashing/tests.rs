//! Exhaustive tests of the slashing rules against a brute-force reference written from the
//! definitions (consensus-specs `is_slashable_attestation_data`, EIP-3076), not from the
//! implementation.

use super::*;

const EPOCHS: u64 = 7; // 0..=6

/// Roots used in the tests: `None` is an unknown root, 1 and 2 are two different data.
fn root(tag: Option<u8>) -> Option<Root> {
    tag.map(|t| [t; 32])
}

const ROOT_TAGS: [Option<u8>; 3] = [None, Some(1), Some(2)];
const NEW_ROOT_TAGS: [u8; 2] = [1, 2];

/// Reference: may an attestation `(s, t, r)` be signed after `existing` (each `(s, t,
/// root)`), with the low watermarks `(min source, min target)`?
fn reference_attestation_ok(
    existing: &[(u64, u64, Option<u8>)],
    watermarks: (Option<u64>, Option<u64>),
    (s, t, r): (u64, u64, u8),
) -> bool {
    if s > t {
        return false;
    }
    // Nothing new is signed when every record with this target is this very message.
    let at_target: Vec<_> = existing.iter().filter(|e| e.1 == t).collect();
    if !at_target.is_empty() && at_target.iter().all(|e| e.0 == s && e.2 == Some(r)) {
        return true;
    }
    // consensus-specs is_slashable_attestation_data(e, new), both ways; an unknown root
    // counts as different data.
    let slashable = |e: &(u64, u64, Option<u8>)| {
        let same_data = e.0 == s && e.1 == t && e.2 == Some(r);
        let double = !same_data && e.1 == t;
        let surround = (e.0 < s && t < e.1) || (s < e.0 && e.1 < t);
        double || surround
    };
    if existing.iter().any(slashable) {
        return false;
    }
    watermarks.0.is_none_or(|min_s| s >= min_s) && watermarks.1.is_none_or(|min_t| t > min_t)
}

/// Reference for blocks: `(slot, root)` records and a minimum slot.
fn reference_block_ok(
    existing: &[(u64, Option<u8>)],
    watermark: Option<u64>,
    (slot, r): (u64, u8),
) -> bool {
    let at_slot: Vec<_> = existing.iter().filter(|e| e.0 == slot).collect();
    if !at_slot.is_empty() {
        return at_slot.iter().all(|e| e.1 == Some(r));
    }
    watermark.is_none_or(|min| slot > min)
}

fn att(s: u64, t: u64, tag: Option<u8>) -> SignedAttestation {
    SignedAttestation { source_epoch: s, target_epoch: t, signing_root: root(tag) }
}

fn new_att(s: u64, t: u64, tag: u8) -> AttestationToSign {
    AttestationToSign { source_epoch: s, target_epoch: t, signing_root: [tag; 32] }
}

fn all_records() -> Vec<(u64, u64, Option<u8>)> {
    let mut out = Vec::new();
    for s in 0..EPOCHS {
        for t in 0..EPOCHS {
            for tag in ROOT_TAGS {
                out.push((s, t, tag));
            }
        }
    }
    out
}

/// The error names a record that really stands in the relation it claims, and the verdict
/// matches the reference.
fn assert_attestation_verdict(
    existing: &[(u64, u64, Option<u8>)],
    watermarks: (Option<u64>, Option<u64>),
    new: (u64, u64, u8),
    got: Result<Safe, AttestationViolation>,
) {
    let expected = reference_attestation_ok(existing, watermarks, new);
    assert_eq!(
        got.is_ok(),
        expected,
        "existing {existing:?} wm {watermarks:?} new {new:?}: {got:?}"
    );
    let (s, t, r) = new;
    let stored = |e: &SignedAttestation| {
        existing.iter().any(|x| x.0 == e.source_epoch && x.1 == e.target_epoch)
    };
    match got {
        Ok(Safe::SameData) => assert!(existing.contains(&(s, t, Some(r)))),
        Ok(Safe::Valid) => assert!(existing.iter().all(|e| e.1 != t)),
        Err(AttestationViolation::SourceExceedsTarget { source_epoch, target_epoch }) => {
            assert!(source_epoch == s && target_epoch == t && s > t);
        }
        Err(AttestationViolation::DoubleVote { existing: e }) => {
            assert!(stored(&e) && e.target_epoch == t);
        }
        Err(AttestationViolation::SurroundsExisting { existing: e }) => {
            assert!(stored(&e) && surrounds(s, t, e.source_epoch, e.target_epoch));
        }
        Err(AttestationViolation::SurroundedByExisting { existing: e }) => {
            assert!(stored(&e) && surrounds(e.source_epoch, e.target_epoch, s, t));
        }
        Err(AttestationViolation::SourceBelowLowWatermark { source_epoch, low_watermark }) => {
            assert!(source_epoch == s && Some(low_watermark) == watermarks.0 && s < low_watermark);
        }
        Err(AttestationViolation::TargetAtOrBelowLowWatermark { target_epoch, low_watermark }) => {
            assert!(target_epoch == t && Some(low_watermark) == watermarks.1 && t <= low_watermark);
        }
    }
}

#[test]
fn attestation_one_record_every_watermark() {
    let watermark_values: Vec<Option<u64>> =
        std::iter::once(None).chain((0..EPOCHS).map(Some)).collect();
    for existing in all_records() {
        let records = [att(existing.0, existing.1, existing.2)];
        for &wm_s in &watermark_values {
            for &wm_t in &watermark_values {
                let wm = LowWatermarks {
                    block_slot: None,
                    attestation_source: wm_s,
                    attestation_target: wm_t,
                };
                for s in 0..EPOCHS {
                    for t in 0..EPOCHS {
                        for r in NEW_ROOT_TAGS {
                            let got = check_attestation(records.iter(), &wm, &new_att(s, t, r));
                            assert_attestation_verdict(&[existing], (wm_s, wm_t), (s, t, r), got);
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn attestation_two_records_in_a_history() {
    // Epochs 0..=4 keep this at ~600k checks; each history is built both by local
    // inserts (no watermark) and by an import (watermarks = the records' minima).
    let records: Vec<_> = all_records().into_iter().filter(|e| e.0 < 5 && e.1 < 5).collect();
    for (i, &a) in records.iter().enumerate() {
        for &b in &records[i..] {
            let existing = [a, b];
            let signed = [att(a.0, a.1, a.2), att(b.0, b.1, b.2)];
            let mut local = SlashingHistory::new();
            for x in signed {
                local.insert_attestation(x);
            }
            let mut imported = SlashingHistory::new();
            imported.import(&[], &signed);
            let import_wm = (Some(a.0.min(b.0)), Some(a.1.min(b.1)));
            for s in 0..5 {
                for t in 0..5 {
                    for r in NEW_ROOT_TAGS {
                        let new = new_att(s, t, r);
                        assert_attestation_verdict(
                            &existing,
                            (None, None),
                            (s, t, r),
                            local.check_attestation(&new),
                        );
                        assert_attestation_verdict(
                            &existing,
                            import_wm,
                            (s, t, r),
                            imported.check_attestation(&new),
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn block_rules_exhaustive() {
    let mut records = Vec::new();
    for slot in 0..EPOCHS {
        for tag in ROOT_TAGS {
            records.push((slot, tag));
        }
    }
    let watermark_values: Vec<Option<u64>> =
        std::iter::once(None).chain((0..EPOCHS).map(Some)).collect();
    // Zero, one or two existing records.
    let mut histories: Vec<Vec<(u64, Option<u8>)>> = vec![vec![]];
    for (i, &a) in records.iter().enumerate() {
        histories.push(vec![a]);
        for &b in &records[i..] {
            histories.push(vec![a, b]);
        }
    }
    for existing in &histories {
        let signed: Vec<_> = existing
            .iter()
            .map(|&(slot, tag)| SignedBlock { slot, signing_root: root(tag) })
            .collect();
        for &wm in &watermark_values {
            let low = LowWatermarks { block_slot: wm, ..LowWatermarks::default() };
            for slot in 0..EPOCHS {
                for r in NEW_ROOT_TAGS {
                    let new = BlockToSign { slot, signing_root: [r; 32] };
                    let got = check_block(signed.iter(), &low, &new);
                    let expected = reference_block_ok(existing, wm, (slot, r));
                    assert_eq!(
                        got.is_ok(),
                        expected,
                        "{existing:?} wm {wm:?} new {new:?}: {got:?}"
                    );
                    match got {
                        Ok(Safe::SameData) => assert!(existing.contains(&(slot, Some(r)))),
                        Ok(Safe::Valid) => assert!(existing.iter().all(|e| e.0 != slot)),
                        Err(BlockViolation::DoubleProposal { existing: e }) => {
                            assert!(e.slot == slot && signed.contains(&e));
                        }
                        Err(BlockViolation::SlotAtOrBelowLowWatermark {
                            slot: s,
                            low_watermark,
                        }) => {
                            assert!(
                                s == slot && Some(low_watermark) == wm && slot <= low_watermark
                            );
                        }
                    }
                }
            }
        }
        // The same history built as an import: the watermark is the lowest slot.
        let mut imported = SlashingHistory::new();
        imported.import(&signed, &[]);
        let wm = existing.iter().map(|e| e.0).min();
        for slot in 0..EPOCHS {
            for r in NEW_ROOT_TAGS {
                let new = BlockToSign { slot, signing_root: [r; 32] };
                assert_eq!(
                    imported.check_block(&new).is_ok(),
                    reference_block_ok(existing, wm, (slot, r)),
                    "imported {existing:?} new {new:?}"
                );
            }
        }
    }
}

#[test]
fn signing_sequences_never_produce_slashable_pairs() {
    // Sign every 3-long sequence of attestations over epochs 0..=4 in one history: what
    // the history accepted never contains a slashable pair, and a rejection changes nothing.
    let candidates: Vec<_> = (0..5u64)
        .flat_map(|s| (s..5).flat_map(move |t| NEW_ROOT_TAGS.map(|r| new_att(s, t, r))))
        .collect();
    for a in &candidates {
        for b in &candidates {
            for c in &candidates {
                let mut history = SlashingHistory::new();
                let mut signed: Vec<AttestationToSign> = Vec::new();
                for x in [a, b, c] {
                    let before = history.clone();
                    match history.check_and_insert_attestation(x) {
                        Ok(_) => signed.push(*x),
                        Err(_) => assert_eq!(history, before),
                    }
                }
                for p in &signed {
                    for q in &signed {
                        let slashable = (p != q && p.target_epoch == q.target_epoch)
                            || surrounds(
                                p.source_epoch,
                                p.target_epoch,
                                q.source_epoch,
                                q.target_epoch,
                            );
                        assert!(!slashable, "signed {p:?} and {q:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn resign_and_unknown_roots() {
    let mut h = SlashingHistory::new();
    let a = new_att(1, 2, 7);
    assert_eq!(h.check_and_insert_attestation(&a), Ok(Safe::Valid));
    assert_eq!(h.check_and_insert_attestation(&a), Ok(Safe::SameData));
    assert!(matches!(
        h.check_attestation(&new_att(1, 2, 8)),
        Err(AttestationViolation::DoubleVote { .. })
    ));
    // An imported record without a root never counts as the same data.
    h.import(&[], &[att(3, 4, None)]);
    assert!(matches!(
        h.check_attestation(&new_att(3, 4, 1)),
        Err(AttestationViolation::DoubleVote { .. })
    ));
    let b = BlockToSign { slot: 5, signing_root: [9; 32] };
    assert_eq!(h.check_and_insert_block(&b), Ok(Safe::Valid));
    assert_eq!(h.check_and_insert_block(&b), Ok(Safe::SameData));
    // Two imported roots at one slot merge into an unknown root.
    h.import(&[SignedBlock { slot: 5, signing_root: Some([8; 32]) }], &[]);
    assert!(matches!(h.check_block(&b), Err(BlockViolation::DoubleProposal { .. })));
}

#[test]
fn watermarks_are_the_minimum_over_imports() {
    let mut h = SlashingHistory::new();
    h.import(&[SignedBlock { slot: 40, signing_root: None }], &[att(2, 30, None)]);
    h.import(&[SignedBlock { slot: 50, signing_root: None }], &[att(10, 50, None)]);
    assert_eq!(
        *h.low_watermarks(),
        LowWatermarks {
            block_slot: Some(40),
            attestation_source: Some(2),
            attestation_target: Some(30)
        }
    );
    assert_eq!(h.check_block(&BlockToSign { slot: 41, signing_root: [1; 32] }), Ok(Safe::Valid));
    assert!(h.check_block(&BlockToSign { slot: 40, signing_root: [1; 32] }).is_err());
}

#[test]
fn history_serde_round_trip() {
    let mut h = SlashingHistory::new();
    h.import(
        &[SignedBlock { slot: 3, signing_root: Some([1; 32]) }],
        &[att(5, 2, None), att(1, 2, Some(4))],
    );
    h.insert_attestation(att(2, 3, Some(6)));
    let json = serde_json::to_string(&h).unwrap();
    let back: SlashingHistory = serde_json::from_str(&json).unwrap();
    assert_eq!(back, h);
    assert_eq!(back.check_attestation(&new_att(1, 4, 1)), h.check_attestation(&new_att(1, 4, 1)));
}

#[test]
fn attestation_violations_carry_the_spec_code() {
    let v = AttestationViolation::SourceExceedsTarget { source_epoch: 2, target_epoch: 1 };
    assert_eq!(v.code(), Some(ErrorCode::SlashableAttestation));
}
