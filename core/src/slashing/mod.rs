//! Slashing protection rules: small pure functions over plain data (no IO).
//!
//! An operator signs with its *share* of a validator key, and a share signature is only
//! useful in a quorum, but the rules are the same as for a whole key: never produce two
//! signatures that a beacon chain could slash, whatever the committee decided. These
//! functions are used by the runners' value checks (`IsAttestationSlashable`,
//! `IsBeaconBlockSlashable` in ssv-spec v1.2.2 `ssv/value_check.go`) and by the signer,
//! whose persistent database (in `ssv-shell`) calls them inside one write transaction.
//!
//! The rules (consensus-specs `is_slashable_attestation_data`, EIP-3076 "complete"
//! strategy; model: Lighthouse `slashing_protection/src/attestation_rules.rs`):
//! - **attestations**: the source epoch may not exceed the target epoch; two different
//!   attestations with the same target epoch are a double vote; `s1 < s2 && t2 < t1` is a
//!   surround vote (either way round); signing the same data again (same source, target
//!   and signing root) is allowed. After an import, an attestation whose source epoch is
//!   below the lowest imported source, or whose target epoch is at or below the lowest
//!   imported target, is refused (the exporter may have pruned history below them).
//! - **blocks**: two different blocks at one slot are a double proposal; the same signing
//!   root again is a re-sign. After an import a block at or below the lowest imported slot
//!   is refused.
//!
//! A signing root that is unknown (`None`: imported without one) never matches: a record
//! whose data is unknown can never be re-signed. Known roots compare as plain bytes.
//!
//! The free functions take the existing records as an iterator so a database can pass
//! only the candidates it found with range queries (see each function for which records
//! it must include); [`SlashingHistory`] is the in-memory store for one key.

mod history;

#[cfg(test)]
mod tests;

pub use history::SlashingHistory;

use serde::{Deserialize, Serialize};

use crate::error::{ErrorCode, SpecError};
use crate::types::{Epoch, Root, Slot};

/// A block proposal signed (or imported as signed) by one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SignedBlock {
    /// The block's slot.
    pub slot: Slot,
    /// `compute_signing_root(block, domain)`; `None` when imported without one.
    pub signing_root: Option<Root>,
}

/// An attestation signed (or imported as signed) by one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SignedAttestation {
    /// `attestation.data.source.epoch`.
    pub source_epoch: Epoch,
    /// `attestation.data.target.epoch`.
    pub target_epoch: Epoch,
    /// `compute_signing_root(attestation_data, domain)`; `None` when imported without one.
    pub signing_root: Option<Root>,
}

/// A block that is about to be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct BlockToSign {
    /// The block's slot.
    pub slot: Slot,
    /// `compute_signing_root(block, domain)`.
    pub signing_root: Root,
}

/// An attestation that is about to be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AttestationToSign {
    /// `attestation.data.source.epoch`.
    pub source_epoch: Epoch,
    /// `attestation.data.target.epoch`.
    pub target_epoch: Epoch,
    /// `compute_signing_root(attestation_data, domain)`.
    pub signing_root: Root,
}

impl From<BlockToSign> for SignedBlock {
    fn from(b: BlockToSign) -> Self {
        Self { slot: b.slot, signing_root: Some(b.signing_root) }
    }
}

impl From<AttestationToSign> for SignedAttestation {
    fn from(a: AttestationToSign) -> Self {
        Self {
            source_epoch: a.source_epoch,
            target_epoch: a.target_epoch,
            signing_root: Some(a.signing_root),
        }
    }
}

/// The lowest slot and epochs that EIP-3076 imports have shown for one key.
///
/// Each field is the minimum over every imported record of its kind (the "complete"
/// strategy: a later import with lower records lowers it); `None` until an import brings
/// a record of that kind. Signing never changes them: what is signed locally is stored
/// whole and guarded by the double and surround rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LowWatermarks {
    /// Lowest imported block slot: blocks at or below it are refused (unless a re-sign).
    pub block_slot: Option<Slot>,
    /// Lowest imported attestation source epoch: lower sources are refused.
    pub attestation_source: Option<Epoch>,
    /// Lowest imported attestation target epoch: targets at or below it are refused
    /// (unless a re-sign).
    pub attestation_target: Option<Epoch>,
}

impl LowWatermarks {
    /// Lowers (or sets) the watermarks to cover `blocks` and `attestations`, as an import
    /// of those records does.
    pub fn merge_import<'a>(
        &mut self,
        blocks: impl IntoIterator<Item = &'a SignedBlock>,
        attestations: impl IntoIterator<Item = &'a SignedAttestation>,
    ) {
        fn lower(current: &mut Option<u64>, value: u64) {
            *current = Some(current.map_or(value, |c| c.min(value)));
        }
        for b in blocks {
            lower(&mut self.block_slot, b.slot);
        }
        for a in attestations {
            lower(&mut self.attestation_source, a.source_epoch);
            lower(&mut self.attestation_target, a.target_epoch);
        }
    }
}

/// A check that passed: what the signer should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Safe {
    /// Nothing conflicts: sign, and record it.
    Valid,
    /// The very same data (same signing root) was signed before: signing it again is
    /// harmless and there is nothing new to record.
    SameData,
}

/// Why a block must not be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
pub enum BlockViolation {
    /// A different block (or one whose signing root is unknown) was signed at this slot.
    #[error("double proposal at slot {}: already signed {existing:?}", existing.slot)]
    DoubleProposal {
        /// The record already stored at that slot.
        existing: SignedBlock,
    },
    /// The slot is at or below the lowest slot of an imported interchange.
    #[error("block slot {slot} is at or below the imported low watermark {low_watermark}")]
    SlotAtOrBelowLowWatermark {
        /// The new block's slot.
        slot: Slot,
        /// The lowest imported slot.
        low_watermark: Slot,
    },
}

/// Why an attestation must not be signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize, Deserialize)]
pub enum AttestationViolation {
    /// Source epoch greater than target epoch: never valid on chain.
    #[error("attestation source epoch {source_epoch} exceeds target epoch {target_epoch}")]
    SourceExceedsTarget {
        /// The new source epoch.
        source_epoch: Epoch,
        /// The new target epoch.
        target_epoch: Epoch,
    },
    /// A different attestation (or one whose signing root is unknown) has the same target.
    #[error("double vote at target epoch {}: already signed {existing:?}", existing.target_epoch)]
    DoubleVote {
        /// The record with the same target epoch.
        existing: SignedAttestation,
    },
    /// The new attestation surrounds an existing one (`new.source < source && target <
    /// new.target`).
    #[error("surround vote: the new attestation surrounds {existing:?}")]
    SurroundsExisting {
        /// The surrounded record.
        existing: SignedAttestation,
    },
    /// An existing attestation surrounds the new one (`source < new.source && new.target <
    /// target`).
    #[error("surround vote: the new attestation is surrounded by {existing:?}")]
    SurroundedByExisting {
        /// The surrounding record.
        existing: SignedAttestation,
    },
    /// The source epoch is below the lowest imported source epoch.
    #[error(
        "attestation source epoch {source_epoch} is below the imported low watermark {low_watermark}"
    )]
    SourceBelowLowWatermark {
        /// The new source epoch.
        source_epoch: Epoch,
        /// The lowest imported source epoch.
        low_watermark: Epoch,
    },
    /// The target epoch is at or below the lowest imported target epoch.
    #[error(
        "attestation target epoch {target_epoch} is at or below the imported low watermark {low_watermark}"
    )]
    TargetAtOrBelowLowWatermark {
        /// The new target epoch.
        target_epoch: Epoch,
        /// The lowest imported target epoch.
        low_watermark: Epoch,
    },
}

impl SpecError for AttestationViolation {
    /// `SlashableAttestation`: what the spec's value check returns when the signer's
    /// `IsAttestationSlashable` refuses.
    fn code(&self) -> Option<ErrorCode> {
        Some(ErrorCode::SlashableAttestation)
    }
}

impl SpecError for BlockViolation {
    /// The spec's `IsBeaconBlockSlashable` error carries no code.
    fn code(&self) -> Option<ErrorCode> {
        None
    }
}

/// Merges two signing roots of one record (same slot, or same source and target): equal
/// roots stay, anything else becomes unknown so that neither can be re-signed.
pub fn merge_signing_roots(a: Option<Root>, b: Option<Root>) -> Option<Root> {
    if a == b { a } else { None }
}

/// Whether a stored signing root proves that `new` is the same data. An unknown root
/// never matches.
fn same_root(existing: Option<Root>, new: Root) -> bool {
    existing == Some(new)
}

/// `s1 < s2 && t2 < t1`: attestation 1 surrounds attestation 2 (consensus-specs
/// `is_slashable_attestation_data`, second clause).
pub fn surrounds(
    outer_source: Epoch,
    outer_target: Epoch,
    inner_source: Epoch,
    inner_target: Epoch,
) -> bool {
    outer_source < inner_source && inner_target < outer_target
}

/// Checks a block against the records already signed for its key.
///
/// `existing` must include every record at `new.slot` (all records is always correct; a
/// superset is fine). The rules apply in this order: a record at the same slot with the
/// same known signing root gives [`Safe::SameData`]; any other record at that slot is a
/// [`BlockViolation::DoubleProposal`]; a slot at or below the imported low watermark is
/// [`BlockViolation::SlotAtOrBelowLowWatermark`]; otherwise [`Safe::Valid`].
///
/// # Errors
/// The first [`BlockViolation`] found.
pub fn check_block<'a>(
    existing: impl IntoIterator<Item = &'a SignedBlock>,
    low_watermarks: &LowWatermarks,
    new: &BlockToSign,
) -> Result<Safe, BlockViolation> {
    let mut same_slot = existing.into_iter().filter(|b| b.slot == new.slot).peekable();
    if same_slot.peek().is_some() {
        // Every record at the slot must be this very block (imports may hold several).
        for b in same_slot {
            if !same_root(b.signing_root, new.signing_root) {
                return Err(BlockViolation::DoubleProposal { existing: *b });
            }
        }
        return Ok(Safe::SameData);
    }
    if let Some(low_watermark) = low_watermarks.block_slot
        && new.slot <= low_watermark
    {
        return Err(BlockViolation::SlotAtOrBelowLowWatermark { slot: new.slot, low_watermark });
    }
    Ok(Safe::Valid)
}

/// Checks an attestation against the records already signed for its key.
///
/// `existing` must include every record whose target epoch is at or above
/// `new.target_epoch` and every record whose source epoch is above `new.source_epoch`
/// (all records is always correct; a superset is fine). The rules apply in this order:
/// 1. `source > target`: [`AttestationViolation::SourceExceedsTarget`];
/// 2. records with the same target: if all are this very attestation (same source and
///    known signing root), [`Safe::SameData`], else [`AttestationViolation::DoubleVote`];
/// 3. [`AttestationViolation::SurroundsExisting`], then
///    [`AttestationViolation::SurroundedByExisting`];
/// 4. the imported low watermarks: [`AttestationViolation::SourceBelowLowWatermark`],
///    then [`AttestationViolation::TargetAtOrBelowLowWatermark`];
/// 5. otherwise [`Safe::Valid`].
///
/// # Errors
/// The first [`AttestationViolation`] found, in the order above.
pub fn check_attestation<'a>(
    existing: impl IntoIterator<Item = &'a SignedAttestation> + Clone,
    low_watermarks: &LowWatermarks,
    new: &AttestationToSign,
) -> Result<Safe, AttestationViolation> {
    let (s, t) = (new.source_epoch, new.target_epoch);
    if s > t {
        return Err(AttestationViolation::SourceExceedsTarget { source_epoch: s, target_epoch: t });
    }
    let mut same_target = existing.clone().into_iter().filter(|a| a.target_epoch == t).peekable();
    if same_target.peek().is_some() {
        for a in same_target {
            if a.source_epoch != s || !same_root(a.signing_root, new.signing_root) {
                return Err(AttestationViolation::DoubleVote { existing: *a });
            }
        }
        return Ok(Safe::SameData);
    }
    if let Some(a) =
        existing.clone().into_iter().find(|a| surrounds(s, t, a.source_epoch, a.target_epoch))
    {
        return Err(AttestationViolation::SurroundsExisting { existing: *a });
    }
    if let Some(a) = existing.into_iter().find(|a| surrounds(a.source_epoch, a.target_epoch, s, t))
    {
        return Err(AttestationViolation::SurroundedByExisting { existing: *a });
    }
    if let Some(low_watermark) = low_watermarks.attestation_source
        && s < low_watermark
    {
        return Err(AttestationViolation::SourceBelowLowWatermark {
            source_epoch: s,
            low_watermark,
        });
    }
    if let Some(low_watermark) = low_watermarks.attestation_target
        && t <= low_watermark
    {
        return Err(AttestationViolation::TargetAtOrBelowLowWatermark {
            target_epoch: t,
            low_watermark,
        });
    }
    Ok(Safe::Valid)
}
