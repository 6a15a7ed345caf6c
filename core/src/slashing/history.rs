//! [`SlashingHistory`]: everything one key has signed, in memory.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound::{Excluded, Included, Unbounded};

use serde::{Deserialize, Serialize};

use super::{
    AttestationToSign, AttestationViolation, BlockToSign, BlockViolation, LowWatermarks, Safe,
    SignedAttestation, SignedBlock, check_attestation, check_block, merge_signing_roots,
};
use crate::types::{Epoch, Root, Slot};

/// The signing history of one key (for SSV, one operator's share of one validator): the
/// blocks and attestations it signed or imported, and the imported low watermarks.
///
/// Records are indexed by slot, by target epoch and by source epoch, so a check reads only
/// the records that could conflict. Two records for the same slot (or the same source and
/// target) with different signing roots, as a slashable import can bring, are kept as one
/// record with an unknown root: nothing can re-sign either of them.
///
/// Serialises (serde) as `{blocks: [SignedBlock], attestations: [SignedAttestation],
/// low_watermarks}`, sorted by slot and by (target, source).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "HistoryRepr", into = "HistoryRepr")]
pub struct SlashingHistory {
    blocks: BTreeMap<Slot, Option<Root>>,
    /// `(target, source) -> signing root`.
    attestations_by_target: BTreeMap<(Epoch, Epoch), Option<Root>>,
    /// `(source, target)`: the same records, for surround queries.
    attestations_by_source: BTreeSet<(Epoch, Epoch)>,
    low_watermarks: LowWatermarks,
}

impl SlashingHistory {
    /// An empty history: no records, no watermarks.
    pub fn new() -> Self {
        Self::default()
    }

    /// The imported low watermarks.
    pub fn low_watermarks(&self) -> &LowWatermarks {
        &self.low_watermarks
    }

    /// All block records, by slot.
    pub fn blocks(&self) -> impl Iterator<Item = SignedBlock> + '_ {
        self.blocks.iter().map(|(&slot, &signing_root)| SignedBlock { slot, signing_root })
    }

    /// All attestation records, by (target, source).
    pub fn attestations(&self) -> impl Iterator<Item = SignedAttestation> + '_ {
        self.attestations_by_target.iter().map(|(&(target_epoch, source_epoch), &signing_root)| {
            SignedAttestation { source_epoch, target_epoch, signing_root }
        })
    }

    /// Whether there is no record and no watermark.
    pub fn is_empty(&self) -> bool {
        self.blocks.is_empty()
            && self.attestations_by_target.is_empty()
            && self.low_watermarks == LowWatermarks::default()
    }

    /// Checks `block` against this history ([`check_block`]). Changes nothing.
    ///
    /// # Errors
    /// The [`BlockViolation`] that forbids signing.
    pub fn check_block(&self, block: &BlockToSign) -> Result<Safe, BlockViolation> {
        let same_slot = self
            .blocks
            .get(&block.slot)
            .map(|&signing_root| SignedBlock { slot: block.slot, signing_root });
        check_block(same_slot.iter(), &self.low_watermarks, block)
    }

    /// Checks `attestation` against this history ([`check_attestation`]). Changes nothing.
    ///
    /// Reads only the records with a target at or above the new target, and those with a
    /// source above the new source: the only ones that can conflict.
    ///
    /// # Errors
    /// The [`AttestationViolation`] that forbids signing.
    pub fn check_attestation(
        &self,
        attestation: &AttestationToSign,
    ) -> Result<Safe, AttestationViolation> {
        let candidates =
            self.conflict_candidates(attestation.source_epoch, attestation.target_epoch);
        check_attestation(candidates.iter(), &self.low_watermarks, attestation)
    }

    fn conflict_candidates(&self, source: Epoch, target: Epoch) -> Vec<SignedAttestation> {
        let by_target = self.attestations_by_target.range((Included((target, 0)), Unbounded)).map(
            |(&(target_epoch, source_epoch), &signing_root)| SignedAttestation {
                source_epoch,
                target_epoch,
                signing_root,
            },
        );
        let by_source = self
            .attestations_by_source
            .range((Excluded((source, Epoch::MAX)), Unbounded))
            .map(|&(source_epoch, target_epoch)| SignedAttestation {
                source_epoch,
                target_epoch,
                signing_root: self
                    .attestations_by_target
                    .get(&(target_epoch, source_epoch))
                    .copied()
                    .flatten(),
            });
        by_target.chain(by_source).collect()
    }

    /// Checks `block` and, when it is [`Safe::Valid`], records it. A rejected block leaves
    /// the history unchanged.
    ///
    /// # Errors
    /// The [`BlockViolation`] that forbids signing.
    pub fn check_and_insert_block(&mut self, block: &BlockToSign) -> Result<Safe, BlockViolation> {
        let safe = self.check_block(block)?;
        if safe == Safe::Valid {
            self.insert_block(SignedBlock::from(*block));
        }
        Ok(safe)
    }

    /// Checks `attestation` and, when it is [`Safe::Valid`], records it. A rejected
    /// attestation leaves the history unchanged.
    ///
    /// # Errors
    /// The [`AttestationViolation`] that forbids signing.
    pub fn check_and_insert_attestation(
        &mut self,
        attestation: &AttestationToSign,
    ) -> Result<Safe, AttestationViolation> {
        let safe = self.check_attestation(attestation)?;
        if safe == Safe::Valid {
            self.insert_attestation(SignedAttestation::from(*attestation));
        }
        Ok(safe)
    }

    /// Records a block without checking it (an import, or after [`Self::check_block`]).
    /// A record already at that slot with a different root becomes a record with an
    /// unknown root.
    pub fn insert_block(&mut self, block: SignedBlock) {
        let root = block.signing_root;
        self.blocks
            .entry(block.slot)
            .and_modify(|r| *r = merge_signing_roots(*r, root))
            .or_insert(root);
    }

    /// Records an attestation without checking it (an import, or after
    /// [`Self::check_attestation`]). A record with the same source and target and a
    /// different root becomes a record with an unknown root.
    pub fn insert_attestation(&mut self, attestation: SignedAttestation) {
        let root = attestation.signing_root;
        let (s, t) = (attestation.source_epoch, attestation.target_epoch);
        self.attestations_by_target
            .entry((t, s))
            .and_modify(|r| *r = merge_signing_roots(*r, root))
            .or_insert(root);
        self.attestations_by_source.insert((s, t));
    }

    /// Merges imported records (EIP-3076, "complete" strategy): every record is stored and
    /// the low watermarks are lowered to cover them. Slashable data is imported as it is:
    /// it can only make later checks stricter.
    pub fn import(&mut self, blocks: &[SignedBlock], attestations: &[SignedAttestation]) {
        for b in blocks {
            self.insert_block(*b);
        }
        for a in attestations {
            self.insert_attestation(*a);
        }
        self.low_watermarks.merge_import(blocks, attestations);
    }
}

#[derive(Serialize, Deserialize)]
struct HistoryRepr {
    blocks: Vec<SignedBlock>,
    attestations: Vec<SignedAttestation>,
    low_watermarks: LowWatermarks,
}

impl From<HistoryRepr> for SlashingHistory {
    fn from(repr: HistoryRepr) -> Self {
        let mut history = Self { low_watermarks: repr.low_watermarks, ..Self::default() };
        for b in repr.blocks {
            history.insert_block(b);
        }
        for a in repr.attestations {
            history.insert_attestation(a);
        }
        history
    }
}

impl From<SlashingHistory> for HistoryRepr {
    fn from(history: SlashingHistory) -> Self {
        Self {
            blocks: history.blocks().collect(),
            attestations: history.attestations().collect(),
            low_watermarks: history.low_watermarks,
        }
    }
}
