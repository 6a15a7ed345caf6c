//! The node's redb database (`data_dir/node.redb`): operators, shares, validator metadata,
//! decided messages with the highest decided height per duty executor, and the last
//! processed execution block.
//!
//! Every write is one redb write transaction committed with immediate durability (fsync)
//! before the call returns: a crash at any point keeps every acknowledged write, and loses
//! a write in flight whole (never half of it). Several writes that must land together
//! (the events of one execution block and the block number) go through
//! [`NodeStore::write`].
//!
//! Share secrets are never stored in plaintext: a share keeps the RSA (PKCS#1 v1.5)
//! ciphertext of its secret under the operator's public key, exactly as the SSVNetwork
//! `ValidatorAdded` event carries it, and is decrypted with the operator key when loaded.
//!
//! The schema is versioned ([`SCHEMA_VERSION`] in the `meta` table); a database written by
//! a newer schema, for another network, or that redb cannot read is refused with an error
//! that says which. Slashing protection lives in its own database
//! ([`crate::slashing_protection`]).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition, WriteTransaction};
use serde::{Deserialize, Serialize};
use ssv_core::crypto::rsa::{OperatorPrivateKey, RsaError};
use ssv_core::types::{BlsPublicKeyBytes, OperatorId};
use zeroize::Zeroizing;

/// The schema this node writes. Version 1: the tables below.
pub const SCHEMA_VERSION: u64 = 1;

/// A duty executor id: the 56-byte `MessageID` (domain, role, validator public key or
/// committee id) that names one QBFT controller.
pub type ExecutorId = [u8; 56];

const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");
/// `operator id -> JSON OperatorRecord`.
const OPERATORS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("operators");
/// `validator public key -> JSON ShareRecord`.
const SHARES: TableDefinition<'_, BlsPublicKeyBytes, &[u8]> = TableDefinition::new("shares");
/// `validator public key -> JSON ValidatorMetadata`.
const VALIDATOR_METADATA: TableDefinition<'_, BlsPublicKeyBytes, &[u8]> =
    TableDefinition::new("validator_metadata");
/// `(executor, height) -> SSZ SignedSSVMessage` of the decided (aggregated commit) message.
const DECIDED: TableDefinition<'_, (ExecutorId, u64), &[u8]> = TableDefinition::new("decided");
/// `executor -> highest decided height`.
const HIGHEST_DECIDED: TableDefinition<'_, ExecutorId, u64> =
    TableDefinition::new("highest_decided");

const KEY_SCHEMA_VERSION: &str = "schema_version";
const KEY_NETWORK: &str = "network";
const KEY_LAST_BLOCK: &str = "last_processed_block";

/// A registered operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorRecord {
    /// Its id.
    pub id: OperatorId,
    /// Its owner's execution address, `0x`-hex.
    pub owner: String,
    /// Its RSA public key: base64 of the PEM, as on chain.
    pub public_key_base64: String,
}

/// One validator this operator holds a share of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareRecord {
    /// The validator's public key, `0x`-hex (48 bytes).
    pub validator_pubkey: String,
    /// This operator's share public key, `0x`-hex (48 bytes).
    pub share_pubkey: String,
    /// The committee: `(operator id, share public key 0x-hex)`, sorted by operator id.
    pub committee: Vec<(OperatorId, String)>,
    /// The cluster owner, `0x`-hex.
    pub owner: String,
    /// Fee recipient, `0x`-hex (20 bytes).
    pub fee_recipient: String,
    /// The cluster is liquidated (no duties until reactivated).
    pub liquidated: bool,
    /// The share secret encrypted to this operator's RSA key (256 bytes, `0x`-hex).
    pub encrypted_secret: String,
}

impl ShareRecord {
    /// Decrypts the share secret with the operator key.
    pub fn decrypt_secret(
        &self,
        key: &OperatorPrivateKey,
    ) -> Result<Zeroizing<[u8; 32]>, StoreError> {
        let ciphertext = hex::decode(self.encrypted_secret.trim_start_matches("0x"))
            .map_err(|e| StoreError::Record { table: "shares", reason: e.to_string() })?;
        key.decrypt_share(&ciphertext).map_err(StoreError::Decrypt)
    }
}

/// Beacon-chain facts about a validator, refreshed from the beacon node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ValidatorMetadata {
    /// Validator index.
    pub index: u64,
    /// Beacon API status (`active_ongoing`, …).
    pub status: String,
    /// Activation epoch (`u64::MAX`: far future).
    pub activation_epoch: u64,
    /// Exit epoch (`u64::MAX`: far future).
    pub exit_epoch: u64,
}

/// Why the node database failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The file cannot be opened as a redb database.
    #[error(
        "cannot open node database {}: {source} (corrupt, not a redb file, or in use by \
         another node; restore it from a backup or move it away to resync)",
        path.display()
    )]
    Open {
        /// The file.
        path: PathBuf,
        /// redb's error.
        #[source]
        source: Box<redb::Error>,
    },
    /// Written by a newer node.
    #[error(
        "node database {} has schema version {found}; this node reads version {SCHEMA_VERSION}: \
         upgrade the node",
        path.display()
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: u64,
    },
    /// Belongs to another network.
    #[error("node database {} is for network {found:?}, not {expected:?}", path.display())]
    WrongNetwork {
        /// The file.
        path: PathBuf,
        /// Its network.
        found: String,
        /// The configured one.
        expected: String,
    },
    /// A stored value does not decode.
    #[error("corrupt record in table {table}: {reason}")]
    Record {
        /// The table.
        table: &'static str,
        /// Why.
        reason: String,
    },
    /// A share secret does not decrypt with the operator key.
    #[error("share secret does not decrypt with the operator key: {0}")]
    Decrypt(#[source] RsaError),
    /// Any other redb failure.
    #[error("node database: {0}")]
    Db(#[source] Box<redb::Error>),
}

fn dberr<E: Into<redb::Error>>(e: E) -> StoreError {
    StoreError::Db(Box::new(e.into()))
}

fn record<T: serde::de::DeserializeOwned>(
    table: &'static str,
    bytes: &[u8],
) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Record { table, reason: e.to_string() })
}

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Plain records of strings and numbers always serialise.
    serde_json::to_vec(value).unwrap_or_default()
}

fn u64_meta(bytes: &[u8]) -> Result<u64, StoreError> {
    <[u8; 8]>::try_from(bytes)
        .map(u64::from_le_bytes)
        .map_err(|_| StoreError::Record { table: "meta", reason: "expected 8 bytes".into() })
}

/// The open node database. Cheap to share behind an `Arc`; redb serialises writers.
#[derive(Debug)]
pub struct NodeStore {
    db: Database,
    path: PathBuf,
}

impl NodeStore {
    /// Opens (or creates) the database at `path` for `network` (its name, stored on
    /// creation and checked after).
    pub fn open(path: impl AsRef<Path>, network: &str) -> Result<NodeStore, StoreError> {
        let path = path.as_ref().to_owned();
        let open_err =
            |e: redb::Error| StoreError::Open { path: path.clone(), source: Box::new(e) };
        let db = Database::create(&path).map_err(|e| open_err(e.into()))?;
        let txn = db.begin_write().map_err(|e| open_err(e.into()))?;
        {
            let mut meta = txn.open_table(META).map_err(|e| open_err(e.into()))?;
            let version = meta.get(KEY_SCHEMA_VERSION).map_err(dberr)?.map(|v| v.value().to_vec());
            match version {
                None => {
                    meta.insert(KEY_SCHEMA_VERSION, SCHEMA_VERSION.to_le_bytes().as_slice())
                        .map_err(dberr)?;
                    meta.insert(KEY_NETWORK, network.as_bytes()).map_err(dberr)?;
                }
                Some(bytes) => {
                    let found = u64_meta(&bytes)?;
                    if found > SCHEMA_VERSION {
                        return Err(StoreError::NewerSchema { path, found });
                    }
                    let stored = meta.get(KEY_NETWORK).map_err(dberr)?.map(|v| v.value().to_vec());
                    let stored = String::from_utf8_lossy(&stored.unwrap_or_default()).into_owned();
                    if stored != network {
                        return Err(StoreError::WrongNetwork {
                            path,
                            found: stored,
                            expected: network.to_owned(),
                        });
                    }
                }
            }
            txn.open_table(OPERATORS).map_err(dberr)?;
            txn.open_table(SHARES).map_err(dberr)?;
            txn.open_table(VALIDATOR_METADATA).map_err(dberr)?;
            txn.open_table(DECIDED).map_err(dberr)?;
            txn.open_table(HIGHEST_DECIDED).map_err(dberr)?;
        }
        txn.commit().map_err(dberr)?;
        Ok(NodeStore { db, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` in one write transaction and commits it durably; an error from `f` aborts
    /// it and nothing is written.
    pub fn write<T>(
        &self,
        f: impl FnOnce(&mut StoreWrite<'_>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let txn = self.db.begin_write().map_err(dberr)?;
        let value = {
            let mut w = StoreWrite { txn: &txn };
            f(&mut w)?
        };
        txn.commit().map_err(dberr)?;
        Ok(value)
    }

    /// Stores one decided message: `decided[(executor, height)]`, and raises
    /// `highest_decided[executor]` to `height` if it is higher. One transaction.
    pub fn save_decided(
        &self,
        executor: &ExecutorId,
        height: u64,
        message_ssz: &[u8],
    ) -> Result<(), StoreError> {
        self.write(|w| w.save_decided(executor, height, message_ssz))
    }

    /// The highest decided height of `executor`.
    pub fn highest_decided(&self, executor: &ExecutorId) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let table = txn.open_table(HIGHEST_DECIDED).map_err(dberr)?;
        Ok(table.get(executor).map_err(dberr)?.map(|v| v.value()))
    }

    /// Every executor's highest decided height.
    pub fn all_highest_decided(&self) -> Result<BTreeMap<ExecutorId, u64>, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let table = txn.open_table(HIGHEST_DECIDED).map_err(dberr)?;
        let mut out = BTreeMap::new();
        for item in table.iter().map_err(dberr)? {
            let (k, v) = item.map_err(dberr)?;
            out.insert(k.value(), v.value());
        }
        Ok(out)
    }

    /// The decided message of `executor` at `height` (SSZ `SignedSSVMessage`).
    pub fn decided(
        &self,
        executor: &ExecutorId,
        height: u64,
    ) -> Result<Option<Vec<u8>>, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let table = txn.open_table(DECIDED).map_err(dberr)?;
        Ok(table.get((*executor, height)).map_err(dberr)?.map(|v| v.value().to_vec()))
    }

    /// Decided messages of `executor` with height in `from..=to`, ascending.
    pub fn decided_range(
        &self,
        executor: &ExecutorId,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let table = txn.open_table(DECIDED).map_err(dberr)?;
        let mut out = Vec::new();
        for item in table.range((*executor, from)..=(*executor, to)).map_err(dberr)? {
            let (k, v) = item.map_err(dberr)?;
            out.push((k.value().1, v.value().to_vec()));
        }
        Ok(out)
    }

    /// An operator.
    pub fn operator(&self, id: OperatorId) -> Result<Option<OperatorRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let table = txn.open_table(OPERATORS).map_err(dberr)?;
        table.get(id).map_err(dberr)?.map(|v| record("operators", v.value())).transpose()
    }

    /// Every operator, by id.
    pub fn operators(&self) -> Result<Vec<OperatorRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let table = txn.open_table(OPERATORS).map_err(dberr)?;
        let mut out = Vec::new();
        for item in table.iter().map_err(dberr)? {
            out.push(record("operators", item.map_err(dberr)?.1.value())?);
        }
        Ok(out)
    }

    /// The share of a validator.
    pub fn share(&self, validator: &BlsPublicKeyBytes) -> Result<Option<ShareRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let table = txn.open_table(SHARES).map_err(dberr)?;
        table.get(validator).map_err(dberr)?.map(|v| record("shares", v.value())).transpose()
    }

    /// Every share, by validator public key.
    pub fn shares(&self) -> Result<Vec<ShareRecord>, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let table = txn.open_table(SHARES).map_err(dberr)?;
        let mut out = Vec::new();
        for item in table.iter().map_err(dberr)? {
            out.push(record("shares", item.map_err(dberr)?.1.value())?);
        }
        Ok(out)
    }

    /// A validator's beacon metadata.
    pub fn validator_metadata(
        &self,
        validator: &BlsPublicKeyBytes,
    ) -> Result<Option<ValidatorMetadata>, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let table = txn.open_table(VALIDATOR_METADATA).map_err(dberr)?;
        table
            .get(validator)
            .map_err(dberr)?
            .map(|v| record("validator_metadata", v.value()))
            .transpose()
    }

    /// The last execution block whose SSVNetwork events are all applied.
    pub fn last_processed_block(&self) -> Result<Option<u64>, StoreError> {
        let txn = self.db.begin_read().map_err(dberr)?;
        let table = txn.open_table(META).map_err(dberr)?;
        table.get(KEY_LAST_BLOCK).map_err(dberr)?.map(|v| u64_meta(v.value())).transpose()
    }
}

/// Writes inside one [`NodeStore::write`] transaction.
pub struct StoreWrite<'a> {
    txn: &'a WriteTransaction,
}

impl StoreWrite<'_> {
    /// Adds or replaces an operator.
    pub fn put_operator(&mut self, op: &OperatorRecord) -> Result<(), StoreError> {
        let mut t = self.txn.open_table(OPERATORS).map_err(dberr)?;
        t.insert(op.id, encode(op).as_slice()).map_err(dberr)?;
        Ok(())
    }

    /// Removes an operator; `true` if it existed.
    pub fn remove_operator(&mut self, id: OperatorId) -> Result<bool, StoreError> {
        let mut t = self.txn.open_table(OPERATORS).map_err(dberr)?;
        Ok(t.remove(id).map_err(dberr)?.is_some())
    }

    /// Adds or replaces a share, keyed by its validator public key.
    pub fn put_share(
        &mut self,
        validator: &BlsPublicKeyBytes,
        share: &ShareRecord,
    ) -> Result<(), StoreError> {
        let mut t = self.txn.open_table(SHARES).map_err(dberr)?;
        t.insert(validator, encode(share).as_slice()).map_err(dberr)?;
        Ok(())
    }

    /// Removes a share and its metadata; `true` if it existed.
    pub fn remove_share(&mut self, validator: &BlsPublicKeyBytes) -> Result<bool, StoreError> {
        let mut t = self.txn.open_table(SHARES).map_err(dberr)?;
        let existed = t.remove(validator).map_err(dberr)?.is_some();
        let mut m = self.txn.open_table(VALIDATOR_METADATA).map_err(dberr)?;
        m.remove(validator).map_err(dberr)?;
        Ok(existed)
    }

    /// Sets a validator's beacon metadata.
    pub fn put_validator_metadata(
        &mut self,
        validator: &BlsPublicKeyBytes,
        metadata: &ValidatorMetadata,
    ) -> Result<(), StoreError> {
        let mut t = self.txn.open_table(VALIDATOR_METADATA).map_err(dberr)?;
        t.insert(validator, encode(metadata).as_slice()).map_err(dberr)?;
        Ok(())
    }

    /// Records the last execution block whose events are applied (with them, in the same
    /// transaction).
    pub fn set_last_processed_block(&mut self, block: u64) -> Result<(), StoreError> {
        let mut t = self.txn.open_table(META).map_err(dberr)?;
        t.insert(KEY_LAST_BLOCK, block.to_le_bytes().as_slice()).map_err(dberr)?;
        Ok(())
    }

    /// See [`NodeStore::save_decided`].
    pub fn save_decided(
        &mut self,
        executor: &ExecutorId,
        height: u64,
        message_ssz: &[u8],
    ) -> Result<(), StoreError> {
        let mut decided = self.txn.open_table(DECIDED).map_err(dberr)?;
        decided.insert((*executor, height), message_ssz).map_err(dberr)?;
        let mut highest = self.txn.open_table(HIGHEST_DECIDED).map_err(dberr)?;
        let current = highest.get(executor).map_err(dberr)?.map(|v| v.value());
        if current.is_none_or(|h| height > h) {
            highest.insert(executor, height).map_err(dberr)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
