//! The persistent slashing protection database (redb) and EIP-3076 import/export.
//!
//! The signer asks [`SlashingDatabase::check_and_insert_block`] or
//! [`SlashingDatabase::check_and_insert_attestation`] before every beacon signature with a
//! share key. Each call is one redb write transaction: the check (the pure rules of
//! [`ssv_core::slashing`]) and the insert commit together, and redb runs one write
//! transaction at a time, so two concurrent requests can never both pass for conflicting
//! data. A refused request changes nothing. Commits are durable (fsync) before the call
//! returns, so a signature is only ever produced for data already on disk.
//!
//! Keys are the 48-byte BLS public keys that sign: in SSV, the operator's *share* public
//! key of each validator. A database belongs to one chain (its genesis validators root,
//! given at [`SlashingDatabase::open`]).
//!
//! EIP-3076 interchange files are imported with the "complete" strategy: every record is
//! kept, and the low watermarks (lowest imported slot, source and target epoch per key)
//! refuse what the exporter may have signed and pruned. Slashable data in a file is
//! imported as it is (it only makes later checks stricter). A file with another chain's
//! genesis validators root, another format version or any malformed entry is refused
//! whole: nothing is written.
//!
//! Limitation of the format: low watermarks are not part of an interchange, so an export
//! carries only records; importing it elsewhere sets the watermarks from those records.

mod interchange;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use ssv_core::slashing::{
    AttestationToSign, AttestationViolation, BlockToSign, BlockViolation, LowWatermarks, Safe,
    SignedAttestation, SignedBlock, check_attestation, check_block, merge_signing_roots,
};
use ssv_core::types::{BlsPublicKeyBytes, Root};

pub use interchange::{
    INTERCHANGE_FORMAT_VERSION, Interchange, InterchangeAttestation, InterchangeBlock,
    InterchangeData, InterchangeMetadata,
};

/// `name -> bytes`: the genesis validators root the database belongs to.
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
/// `(pubkey, slot) -> signing root` (`None`: unknown).
const BLOCKS: TableDefinition<'_, (BlsPublicKeyBytes, u64), Option<Root>> =
    TableDefinition::new("blocks");
/// `(pubkey, target epoch, source epoch) -> signing root` (`None`: unknown).
const ATTESTATIONS_BY_TARGET: TableDefinition<'_, (BlsPublicKeyBytes, u64, u64), Option<Root>> =
    TableDefinition::new("attestations_by_target");
/// `(pubkey, source epoch, target epoch)`: the same records, for surround queries.
const ATTESTATIONS_BY_SOURCE: TableDefinition<'_, (BlsPublicKeyBytes, u64, u64), ()> =
    TableDefinition::new("attestations_by_source");
/// Stored low watermarks: (block slot, attestation source epoch, attestation target epoch).
type StoredWatermarks = (Option<u64>, Option<u64>, Option<u64>);
/// `pubkey -> low watermarks` set by imports.
const LOW_WATERMARKS: TableDefinition<'_, BlsPublicKeyBytes, StoredWatermarks> =
    TableDefinition::new("low_watermarks");

const GENESIS_VALIDATORS_ROOT_KEY: &str = "genesis_validators_root";

/// A public key shown as `0x`-hex in errors.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct PublicKeyHex(pub BlsPublicKeyBytes);

impl fmt::Display for PublicKeyHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "0x{}", hex::encode(self.0))
    }
}

impl fmt::Debug for PublicKeyHex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why the database refused a request or failed.
#[derive(Debug, thiserror::Error)]
pub enum SlashingProtectionError {
    /// Signing this block could be slashable, or is below an imported low watermark.
    #[error("refusing to sign a block for {pubkey}: {violation}")]
    Block {
        /// The signing key.
        pubkey: PublicKeyHex,
        /// The rule and the existing record.
        violation: BlockViolation,
    },
    /// Signing this attestation could be slashable, or is below an imported low watermark.
    #[error("refusing to sign an attestation for {pubkey}: {violation}")]
    Attestation {
        /// The signing key.
        pubkey: PublicKeyHex,
        /// The rule and the existing record.
        violation: AttestationViolation,
    },
    /// The database or an interchange belongs to another chain.
    #[error(
        "genesis validators root mismatch: the database is for 0x{}, {what} is for 0x{}",
        hex::encode(database),
        hex::encode(other)
    )]
    GenesisValidatorsRootMismatch {
        /// The database's root.
        database: Root,
        /// The other root.
        other: Root,
        /// What carried the other root (the interchange, or the node's configuration).
        what: &'static str,
    },
    /// The interchange is not format version 5.
    #[error("unsupported interchange format version {0}: only version 5 can be imported")]
    UnsupportedInterchangeVersion(u64),
    /// The interchange JSON is malformed (bad hex, number, or shape); nothing was imported.
    #[error("invalid interchange file, nothing imported: {0}")]
    InvalidInterchange(#[source] serde_json::Error),
    /// The stored genesis validators root is not 32 bytes: the file is not ours or is
    /// corrupt.
    #[error("slashing protection database has a corrupt genesis validators root")]
    CorruptMetadata,
    /// redb failed (IO, corruption, another process holds the file).
    #[error("slashing protection database: {0}")]
    Database(#[source] Box<redb::Error>),
}

fn db_err<E: Into<redb::Error>>(e: E) -> SlashingProtectionError {
    SlashingProtectionError::Database(Box::new(e.into()))
}

/// What an import added.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ImportSummary {
    /// Entries in the file's `data` (a key may appear more than once).
    pub entries: usize,
    /// Block records merged.
    pub blocks: usize,
    /// Attestation records merged.
    pub attestations: usize,
}

/// The slashing protection database of one operator node, on one chain. Cheap to share
/// between threads (`&self` methods; redb serialises writers).
pub struct SlashingDatabase {
    db: Database,
    genesis_validators_root: Root,
}

impl fmt::Debug for SlashingDatabase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SlashingDatabase")
            .field("genesis_validators_root", &hex::encode(self.genesis_validators_root))
            .finish_non_exhaustive()
    }
}

impl SlashingDatabase {
    /// Opens the database file at `path`, creating it for `genesis_validators_root` when
    /// it does not exist.
    ///
    /// # Errors
    /// [`SlashingProtectionError::GenesisValidatorsRootMismatch`] when the file belongs to
    /// another chain; [`SlashingProtectionError::Database`] when redb cannot open it (for
    /// example another process holds it).
    pub fn open(
        path: impl AsRef<Path>,
        genesis_validators_root: Root,
    ) -> Result<Self, SlashingProtectionError> {
        let db = Database::create(path).map_err(db_err)?;
        let txn = db.begin_write().map_err(db_err)?;
        {
            // Creating every table up front lets read transactions open them all.
            txn.open_table(BLOCKS).map_err(db_err)?;
            txn.open_table(ATTESTATIONS_BY_TARGET).map_err(db_err)?;
            txn.open_table(ATTESTATIONS_BY_SOURCE).map_err(db_err)?;
            txn.open_table(LOW_WATERMARKS).map_err(db_err)?;
            let mut meta = txn.open_table(META).map_err(db_err)?;
            let stored = meta
                .get(GENESIS_VALIDATORS_ROOT_KEY)
                .map_err(db_err)?
                .map(|g| Root::try_from(g.value()));
            match stored {
                None => {
                    meta.insert(GENESIS_VALIDATORS_ROOT_KEY, genesis_validators_root.as_slice())
                        .map_err(db_err)?;
                }
                Some(Ok(root)) if root == genesis_validators_root => {}
                Some(Ok(root)) => {
                    return Err(SlashingProtectionError::GenesisValidatorsRootMismatch {
                        database: root,
                        other: genesis_validators_root,
                        what: "the node's configuration",
                    });
                }
                Some(Err(_)) => return Err(SlashingProtectionError::CorruptMetadata),
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(Self { db, genesis_validators_root })
    }

    /// The chain this database belongs to.
    pub fn genesis_validators_root(&self) -> Root {
        self.genesis_validators_root
    }

    /// Checks that `pubkey` may sign `block` and, when it is new, records it, in one
    /// write transaction. [`Safe::SameData`] means the same signing root was signed at
    /// this slot before: signing again is harmless and nothing is written.
    ///
    /// # Errors
    /// [`SlashingProtectionError::Block`] naming the rule and the existing record (nothing
    /// is written), or [`SlashingProtectionError::Database`].
    pub fn check_and_insert_block(
        &self,
        pubkey: &BlsPublicKeyBytes,
        block: &BlockToSign,
    ) -> Result<Safe, SlashingProtectionError> {
        let txn = self.db.begin_write().map_err(db_err)?;
        let verdict = {
            let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            let existing = blocks
                .get((*pubkey, block.slot))
                .map_err(db_err)?
                .map(|g| SignedBlock { slot: block.slot, signing_root: g.value() });
            let watermarks = read_watermarks(&txn, pubkey)?;
            let verdict = check_block(existing.iter(), &watermarks, block);
            if verdict == Ok(Safe::Valid) {
                blocks.insert((*pubkey, block.slot), Some(block.signing_root)).map_err(db_err)?;
            }
            verdict
        };
        finish(txn, verdict).map_err(|e| match e {
            Finish::Violation(violation) => {
                SlashingProtectionError::Block { pubkey: PublicKeyHex(*pubkey), violation }
            }
            Finish::Db(e) => e,
        })
    }

    /// Checks that `pubkey` may sign `attestation` and, when it is new, records it, in one
    /// write transaction. [`Safe::SameData`] means the same source, target and signing
    /// root were signed before: signing again is harmless and nothing is written.
    ///
    /// # Errors
    /// [`SlashingProtectionError::Attestation`] naming the rule and the existing record
    /// (nothing is written), or [`SlashingProtectionError::Database`].
    pub fn check_and_insert_attestation(
        &self,
        pubkey: &BlsPublicKeyBytes,
        attestation: &AttestationToSign,
    ) -> Result<Safe, SlashingProtectionError> {
        let (source, target) = (attestation.source_epoch, attestation.target_epoch);
        let txn = self.db.begin_write().map_err(db_err)?;
        let verdict = {
            let mut by_target = txn.open_table(ATTESTATIONS_BY_TARGET).map_err(db_err)?;
            let mut by_source = txn.open_table(ATTESTATIONS_BY_SOURCE).map_err(db_err)?;
            let candidates =
                attestation_candidates(&by_target, &by_source, pubkey, source, target)?;
            let watermarks = read_watermarks(&txn, pubkey)?;
            let verdict = check_attestation(candidates.iter(), &watermarks, attestation);
            if verdict == Ok(Safe::Valid) {
                by_target
                    .insert((*pubkey, target, source), Some(attestation.signing_root))
                    .map_err(db_err)?;
                by_source.insert((*pubkey, source, target), ()).map_err(db_err)?;
            }
            verdict
        };
        finish(txn, verdict).map_err(|e| match e {
            Finish::Violation(violation) => {
                SlashingProtectionError::Attestation { pubkey: PublicKeyHex(*pubkey), violation }
            }
            Finish::Db(e) => e,
        })
    }

    /// Whether `pubkey` signing `block` would be refused, by the rules of
    /// [`Self::check_and_insert_block`], in one read transaction (nothing is written).
    /// `None` for the signing root means the block is not known yet: any record at the
    /// slot then conflicts. `Ok(None)` when signing is safe.
    ///
    /// # Errors
    /// [`SlashingProtectionError::Database`].
    pub fn is_block_slashable(
        &self,
        pubkey: &BlsPublicKeyBytes,
        slot: u64,
        signing_root: Option<Root>,
    ) -> Result<Option<BlockViolation>, SlashingProtectionError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let blocks = txn.open_table(BLOCKS).map_err(db_err)?;
        let existing = blocks.get((*pubkey, slot)).map_err(db_err)?.map(|g| SignedBlock {
            slot,
            // An unknown new root never matches a stored one.
            signing_root: g.value().filter(|_| signing_root.is_some()),
        });
        let watermarks = watermarks_in(&txn.open_table(LOW_WATERMARKS).map_err(db_err)?, pubkey)?;
        let new = BlockToSign { slot, signing_root: signing_root.unwrap_or_default() };
        Ok(check_block(existing.iter(), &watermarks, &new).err())
    }

    /// Whether `pubkey` signing an attestation from `source` to `target` epoch would be
    /// refused, by the rules of [`Self::check_and_insert_attestation`], in one read
    /// transaction (nothing is written). `None` for the signing root means the data is
    /// not known yet: any record at the same target then is a double vote. `Ok(None)`
    /// when signing is safe.
    ///
    /// # Errors
    /// [`SlashingProtectionError::Database`].
    pub fn is_attestation_slashable(
        &self,
        pubkey: &BlsPublicKeyBytes,
        source: u64,
        target: u64,
        signing_root: Option<Root>,
    ) -> Result<Option<AttestationViolation>, SlashingProtectionError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let by_target = txn.open_table(ATTESTATIONS_BY_TARGET).map_err(db_err)?;
        let by_source = txn.open_table(ATTESTATIONS_BY_SOURCE).map_err(db_err)?;
        let mut candidates =
            attestation_candidates(&by_target, &by_source, pubkey, source, target)?;
        if signing_root.is_none() {
            // An unknown new root never matches a stored one.
            for c in &mut candidates {
                c.signing_root = None;
            }
        }
        let watermarks = watermarks_in(&txn.open_table(LOW_WATERMARKS).map_err(db_err)?, pubkey)?;
        let new = AttestationToSign {
            source_epoch: source,
            target_epoch: target,
            signing_root: signing_root.unwrap_or_default(),
        };
        Ok(check_attestation(candidates.iter(), &watermarks, &new).err())
    }

    /// Imports an EIP-3076 interchange from JSON bytes ([`Self::import_interchange`]).
    ///
    /// # Errors
    /// [`SlashingProtectionError::InvalidInterchange`] when the JSON does not parse as an
    /// interchange (nothing is written), or the errors of [`Self::import_interchange`].
    pub fn import_interchange_json(
        &self,
        json: &[u8],
    ) -> Result<ImportSummary, SlashingProtectionError> {
        let interchange: Interchange =
            serde_json::from_slice(json).map_err(SlashingProtectionError::InvalidInterchange)?;
        self.import_interchange(&interchange)
    }

    /// Merges an interchange into the database in one write transaction: every record is
    /// added (a record already present with another signing root keeps an unknown root),
    /// and each key's low watermarks are lowered (or set) to its lowest imported slot,
    /// source and target epoch.
    ///
    /// # Errors
    /// [`SlashingProtectionError::UnsupportedInterchangeVersion`],
    /// [`SlashingProtectionError::GenesisValidatorsRootMismatch`] (nothing is written), or
    /// [`SlashingProtectionError::Database`] (the transaction is rolled back).
    pub fn import_interchange(
        &self,
        interchange: &Interchange,
    ) -> Result<ImportSummary, SlashingProtectionError> {
        let metadata = &interchange.metadata;
        if metadata.interchange_format_version != INTERCHANGE_FORMAT_VERSION {
            return Err(SlashingProtectionError::UnsupportedInterchangeVersion(
                metadata.interchange_format_version,
            ));
        }
        if metadata.genesis_validators_root != self.genesis_validators_root {
            return Err(SlashingProtectionError::GenesisValidatorsRootMismatch {
                database: self.genesis_validators_root,
                other: metadata.genesis_validators_root,
                what: "the interchange",
            });
        }
        let mut summary = ImportSummary::default();
        let txn = self.db.begin_write().map_err(db_err)?;
        {
            let mut blocks = txn.open_table(BLOCKS).map_err(db_err)?;
            let mut by_target = txn.open_table(ATTESTATIONS_BY_TARGET).map_err(db_err)?;
            let mut by_source = txn.open_table(ATTESTATIONS_BY_SOURCE).map_err(db_err)?;
            for entry in &interchange.data {
                let pk = entry.pubkey;
                let signed_blocks: Vec<SignedBlock> =
                    entry.signed_blocks.iter().map(|&b| b.into()).collect();
                let signed_attestations: Vec<SignedAttestation> =
                    entry.signed_attestations.iter().map(|&a| a.into()).collect();
                for b in &signed_blocks {
                    let key = (pk, b.slot);
                    let old = blocks.get(key).map_err(db_err)?.map(|g| g.value());
                    let root = merge_existing(old, b.signing_root);
                    blocks.insert(key, root).map_err(db_err)?;
                }
                for a in &signed_attestations {
                    let (s, t) = (a.source_epoch, a.target_epoch);
                    let old = by_target.get((pk, t, s)).map_err(db_err)?.map(|g| g.value());
                    let root = merge_existing(old, a.signing_root);
                    by_target.insert((pk, t, s), root).map_err(db_err)?;
                    by_source.insert((pk, s, t), ()).map_err(db_err)?;
                }
                if !signed_blocks.is_empty() || !signed_attestations.is_empty() {
                    let mut watermarks = read_watermarks(&txn, &pk)?;
                    watermarks.merge_import(&signed_blocks, &signed_attestations);
                    txn.open_table(LOW_WATERMARKS)
                        .map_err(db_err)?
                        .insert(
                            pk,
                            (
                                watermarks.block_slot,
                                watermarks.attestation_source,
                                watermarks.attestation_target,
                            ),
                        )
                        .map_err(db_err)?;
                }
                summary.entries += 1;
                summary.blocks += signed_blocks.len();
                summary.attestations += signed_attestations.len();
            }
        }
        txn.commit().map_err(db_err)?;
        Ok(summary)
    }

    /// Exports every record as an interchange (format version 5): keys in byte order,
    /// blocks by slot, attestations by target then source epoch. Records whose signing
    /// root is unknown have no `signing_root`.
    ///
    /// # Errors
    /// [`SlashingProtectionError::Database`].
    pub fn export_interchange(&self) -> Result<Interchange, SlashingProtectionError> {
        let txn = self.db.begin_read().map_err(db_err)?;
        let mut keys: BTreeMap<BlsPublicKeyBytes, InterchangeData> = BTreeMap::new();
        let entry = |keys: &mut BTreeMap<BlsPublicKeyBytes, InterchangeData>, pk| {
            keys.entry(pk).or_insert_with(|| InterchangeData {
                pubkey: pk,
                signed_blocks: Vec::new(),
                signed_attestations: Vec::new(),
            });
        };
        for item in txn.open_table(LOW_WATERMARKS).map_err(db_err)?.iter().map_err(db_err)? {
            let (k, _) = item.map_err(db_err)?;
            entry(&mut keys, k.value());
        }
        for item in txn.open_table(BLOCKS).map_err(db_err)?.iter().map_err(db_err)? {
            let (k, v) = item.map_err(db_err)?;
            let (pk, slot) = k.value();
            entry(&mut keys, pk);
            if let Some(data) = keys.get_mut(&pk) {
                data.signed_blocks.push(InterchangeBlock { slot, signing_root: v.value() });
            }
        }
        for item in
            txn.open_table(ATTESTATIONS_BY_TARGET).map_err(db_err)?.iter().map_err(db_err)?
        {
            let (k, v) = item.map_err(db_err)?;
            let (pk, target_epoch, source_epoch) = k.value();
            entry(&mut keys, pk);
            if let Some(data) = keys.get_mut(&pk) {
                data.signed_attestations.push(InterchangeAttestation {
                    source_epoch,
                    target_epoch,
                    signing_root: v.value(),
                });
            }
        }
        Ok(Interchange {
            metadata: InterchangeMetadata {
                interchange_format_version: INTERCHANGE_FORMAT_VERSION,
                genesis_validators_root: self.genesis_validators_root,
            },
            data: keys.into_values().collect(),
        })
    }
}

/// The root to store when a record is merged into one already present (or not).
fn merge_existing(old: Option<Option<Root>>, new: Option<Root>) -> Option<Root> {
    match old {
        None => new,
        Some(old) => merge_signing_roots(old, new),
    }
}

fn read_watermarks(
    txn: &WriteTransaction,
    pubkey: &BlsPublicKeyBytes,
) -> Result<LowWatermarks, SlashingProtectionError> {
    let table = txn.open_table(LOW_WATERMARKS).map_err(db_err)?;
    watermarks_in(&table, pubkey)
}

fn watermarks_in(
    table: &impl ReadableTable<BlsPublicKeyBytes, StoredWatermarks>,
    pubkey: &BlsPublicKeyBytes,
) -> Result<LowWatermarks, SlashingProtectionError> {
    let stored = table.get(*pubkey).map_err(db_err)?.map(|g| g.value());
    Ok(stored.map_or_else(LowWatermarks::default, |(block_slot, source, target)| LowWatermarks {
        block_slot,
        attestation_source: source,
        attestation_target: target,
    }))
}

/// The only records that can conflict with `(source, target)`: target >= new target
/// (double vote, or surrounding the new one), or source > new source (surrounded by it).
fn attestation_candidates(
    by_target: &impl ReadableTable<(BlsPublicKeyBytes, u64, u64), Option<Root>>,
    by_source: &impl ReadableTable<(BlsPublicKeyBytes, u64, u64), ()>,
    pubkey: &BlsPublicKeyBytes,
    source: u64,
    target: u64,
) -> Result<Vec<SignedAttestation>, SlashingProtectionError> {
    let mut candidates = Vec::new();
    for item in
        by_target.range((*pubkey, target, 0)..=(*pubkey, u64::MAX, u64::MAX)).map_err(db_err)?
    {
        let (k, v) = item.map_err(db_err)?;
        let (_, t, s) = k.value();
        candidates.push(SignedAttestation {
            source_epoch: s,
            target_epoch: t,
            signing_root: v.value(),
        });
    }
    if let Some(above) = source.checked_add(1) {
        for item in
            by_source.range((*pubkey, above, 0)..=(*pubkey, u64::MAX, u64::MAX)).map_err(db_err)?
        {
            let (k, _) = item.map_err(db_err)?;
            let (_, s, t) = k.value();
            let root = by_target.get((*pubkey, t, s)).map_err(db_err)?.and_then(|g| g.value());
            candidates.push(SignedAttestation {
                source_epoch: s,
                target_epoch: t,
                signing_root: root,
            });
        }
    }
    Ok(candidates)
}

enum Finish<V> {
    Violation(V),
    Db(SlashingProtectionError),
}

/// Commits a write transaction when the check allowed a new record; otherwise rolls it
/// back (nothing was written).
fn finish<V>(txn: WriteTransaction, verdict: Result<Safe, V>) -> Result<Safe, Finish<V>> {
    match verdict {
        Ok(Safe::Valid) => {
            txn.commit().map_err(|e| Finish::Db(db_err(e)))?;
            Ok(Safe::Valid)
        }
        other => {
            txn.abort().map_err(|e| Finish::Db(db_err(e)))?;
            other.map_err(Finish::Violation)
        }
    }
}
