//! A [`ContractStore`] on redb (`data_dir/contract.redb`), and the mirror of its state
//! into the node store that the duty driver reads.
//!
//! The contract layer's state (every registered validator, not only ours; owner nonces;
//! fee recipients; our operator id; the follower's position with its block hash) lives in
//! its own database. It is held in memory and written at the follower's commit points: the
//! handler's writes are kept as pending until [`ContractStore::set_last_processed_block`],
//! which writes them and the block in one durable transaction. A crash mid-batch therefore
//! loses the whole batch and its block, and the follower reads the batch again on restart
//! (the Go node commits the events of a block with the block number the same way).
//!
//! [`RedbContractStore::mirror_into`] then writes what the driver needs into the
//! [`NodeStore`] (operators, and our shares as [`ShareRecord`]s) in one transaction. It
//! rewrites the mirror from the contract state, so it is idempotent: run again after a
//! crash between the two databases, it converges.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use alloy::primitives::Address;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};
use ssv_core::types::OperatorId;

use super::handler::{
    ContractStore, MemoryStore, OperatorRecord, ShareMember, ValidatorKey, ValidatorRecord,
};
use crate::store::{self as node_store, NodeStore, ShareRecord};

/// `operator id -> JSON StoredOperator`.
const OPERATORS: TableDefinition<'_, u64, &[u8]> = TableDefinition::new("operators");
/// `validator public key -> JSON StoredValidator`.
const VALIDATORS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("validators");
/// `owner address -> next nonce`.
const NONCES: TableDefinition<'_, &[u8], u64> = TableDefinition::new("nonces");
/// `owner address -> fee recipient address`.
const FEE_RECIPIENTS: TableDefinition<'_, &[u8], &[u8]> = TableDefinition::new("fee_recipients");
/// `own_operator_id -> u64 LE`, `last_block -> number LE ‖ hash`.
const META: TableDefinition<'_, &str, &[u8]> = TableDefinition::new("meta");

const KEY_OWN_ID: &str = "own_operator_id";
const KEY_LAST_BLOCK: &str = "last_processed_block";

/// Why the contract database failed.
#[derive(Debug, thiserror::Error)]
pub enum ContractDbError {
    /// redb failed (open, transaction, table, commit).
    #[error("contract database: {0}")]
    Db(#[source] Box<redb::Error>),
    /// A stored value does not decode.
    #[error("corrupt record in contract database table {table}: {reason}")]
    Record {
        /// The table.
        table: &'static str,
        /// Why.
        reason: String,
    },
    /// The node store failed while mirroring.
    #[error(transparent)]
    NodeStore(#[from] node_store::StoreError),
}

fn dberr<E: Into<redb::Error>>(e: E) -> ContractDbError {
    ContractDbError::Db(Box::new(e.into()))
}

fn corrupt(table: &'static str, reason: &dyn std::fmt::Display) -> ContractDbError {
    ContractDbError::Record { table, reason: reason.to_string() }
}

#[derive(Serialize, Deserialize)]
struct StoredOperator {
    id: OperatorId,
    owner: String,
    public_key: String,
}

#[derive(Serialize, Deserialize)]
struct StoredValidator {
    public_key: String,
    owner: String,
    committee: Vec<(OperatorId, String)>,
    liquidated: bool,
    own_encrypted_share: Option<String>,
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

fn unhex(table: &'static str, text: &str) -> Result<Vec<u8>, ContractDbError> {
    hex::decode(text.trim_start_matches("0x")).map_err(|e| corrupt(table, &e))
}

fn key48(table: &'static str, text: &str) -> Result<ValidatorKey, ContractDbError> {
    unhex(table, text)?.try_into().map_err(|_| corrupt(table, &"expected a 48-byte key"))
}

fn address(table: &'static str, text: &str) -> Result<Address, ContractDbError> {
    text.parse().map_err(|e| corrupt(table, &e))
}

impl StoredValidator {
    fn from_record(v: &ValidatorRecord) -> Self {
        Self {
            public_key: hex0x(&v.public_key),
            owner: v.owner.to_string(),
            committee: v
                .committee
                .iter()
                .map(|m| (m.operator_id, hex0x(&m.share_public_key)))
                .collect(),
            liquidated: v.liquidated,
            own_encrypted_share: v.own_encrypted_share.as_deref().map(hex0x),
        }
    }

    fn into_record(self) -> Result<ValidatorRecord, ContractDbError> {
        let t = "validators";
        let committee = self
            .committee
            .iter()
            .map(|(id, pk)| Ok(ShareMember { operator_id: *id, share_public_key: key48(t, pk)? }))
            .collect::<Result<Vec<_>, ContractDbError>>()?;
        Ok(ValidatorRecord {
            public_key: key48(t, &self.public_key)?,
            owner: address(t, &self.owner)?,
            committee,
            liquidated: self.liquidated,
            own_encrypted_share: self
                .own_encrypted_share
                .as_deref()
                .map(|h| unhex(t, h))
                .transpose()?,
        })
    }
}

/// Keys changed since the last commit.
#[derive(Debug, Default)]
struct Dirty {
    operators: BTreeSet<OperatorId>,
    validators: BTreeSet<ValidatorKey>,
    nonces: BTreeSet<Address>,
    fee_recipients: BTreeSet<Address>,
    own_id: bool,
}

/// The contract layer's state on redb. See the module doc for when writes land.
#[derive(Debug)]
pub struct RedbContractStore {
    db: Database,
    state: MemoryStore,
    dirty: Dirty,
}

impl RedbContractStore {
    /// Opens (or creates) the database at `path` and loads its state.
    ///
    /// # Errors
    /// [`ContractDbError::Db`] when redb cannot open it, [`ContractDbError::Record`] for a
    /// value that does not decode.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ContractDbError> {
        let db = Database::create(path.as_ref()).map_err(dberr)?;
        let txn = db.begin_write().map_err(dberr)?;
        for t in [FEE_RECIPIENTS, VALIDATORS] {
            txn.open_table(t).map_err(dberr)?;
        }
        txn.open_table(OPERATORS).map_err(dberr)?;
        txn.open_table(NONCES).map_err(dberr)?;
        txn.open_table(META).map_err(dberr)?;
        txn.commit().map_err(dberr)?;
        let state = Self::load(&db)?;
        Ok(Self { db, state, dirty: Dirty::default() })
    }

    fn load(db: &Database) -> Result<MemoryStore, ContractDbError> {
        let mut state = MemoryStore::default();
        let txn = db.begin_read().map_err(dberr)?;
        for item in txn.open_table(OPERATORS).map_err(dberr)?.iter().map_err(dberr)? {
            let (_, v) = item.map_err(dberr)?;
            let o: StoredOperator =
                serde_json::from_slice(v.value()).map_err(|e| corrupt("operators", &e))?;
            let record = OperatorRecord {
                id: o.id,
                owner: address("operators", &o.owner)?,
                public_key: o.public_key.into_bytes(),
            };
            state.operators.insert(o.id, record);
        }
        for item in txn.open_table(VALIDATORS).map_err(dberr)?.iter().map_err(dberr)? {
            let (_, v) = item.map_err(dberr)?;
            let stored: StoredValidator =
                serde_json::from_slice(v.value()).map_err(|e| corrupt("validators", &e))?;
            let record = stored.into_record()?;
            state.validators.insert(record.public_key, record);
        }
        for item in txn.open_table(NONCES).map_err(dberr)?.iter().map_err(dberr)? {
            let (k, v) = item.map_err(dberr)?;
            let owner = Address::try_from(k.value()).map_err(|e| corrupt("nonces", &e))?;
            state.nonces.insert(owner, v.value());
        }
        for item in txn.open_table(FEE_RECIPIENTS).map_err(dberr)?.iter().map_err(dberr)? {
            let (k, v) = item.map_err(dberr)?;
            let owner = Address::try_from(k.value()).map_err(|e| corrupt("fee_recipients", &e))?;
            let to = Address::try_from(v.value()).map_err(|e| corrupt("fee_recipients", &e))?;
            state.fee_recipients.insert(owner, to);
        }
        let meta = txn.open_table(META).map_err(dberr)?;
        if let Some(v) = meta.get(KEY_OWN_ID).map_err(dberr)? {
            let bytes: [u8; 8] = v.value().try_into().map_err(|_| corrupt("meta", &"own id"))?;
            state.own_operator_id = Some(u64::from_le_bytes(bytes));
        }
        if let Some(v) = meta.get(KEY_LAST_BLOCK).map_err(dberr)? {
            let bytes: [u8; 40] =
                v.value().try_into().map_err(|_| corrupt("meta", &"last block"))?;
            let (n, h) = bytes.split_at(8);
            let number = u64::from_le_bytes(n.try_into().map_err(|_| corrupt("meta", &"block"))?);
            let hash: [u8; 32] = h.try_into().map_err(|_| corrupt("meta", &"block hash"))?;
            state.last_processed_block = Some((number, hash));
        }
        drop(meta);
        Ok(state)
    }

    /// The committed and pending state.
    pub fn state(&self) -> &MemoryStore {
        &self.state
    }

    /// Writes the pending changes and the follower's position in one transaction.
    fn commit(&mut self, number: u64, hash: [u8; 32]) -> Result<(), ContractDbError> {
        let result = self.write_pending(number, hash);
        if result.is_err() {
            // The batch is not durable: forget its changes so a retry starts from the
            // committed state (else nonces would be bumped twice).
            self.dirty = Dirty::default();
            if let Ok(state) = Self::load(&self.db) {
                self.state = state;
            }
        }
        result
    }

    fn write_pending(&mut self, number: u64, hash: [u8; 32]) -> Result<(), ContractDbError> {
        let txn = self.db.begin_write().map_err(dberr)?;
        {
            let mut t = txn.open_table(OPERATORS).map_err(dberr)?;
            for id in &self.dirty.operators {
                match self.state.operators.get(id) {
                    Some(o) => {
                        let stored = StoredOperator {
                            id: o.id,
                            owner: o.owner.to_string(),
                            public_key: String::from_utf8_lossy(&o.public_key).into_owned(),
                        };
                        let bytes = serde_json::to_vec(&stored).unwrap_or_default();
                        t.insert(*id, bytes.as_slice()).map_err(dberr)?;
                    }
                    None => {
                        t.remove(*id).map_err(dberr)?;
                    }
                }
            }
            let mut t = txn.open_table(VALIDATORS).map_err(dberr)?;
            for key in &self.dirty.validators {
                match self.state.validators.get(key) {
                    Some(v) => {
                        let bytes = serde_json::to_vec(&StoredValidator::from_record(v))
                            .unwrap_or_default();
                        t.insert(key.as_slice(), bytes.as_slice()).map_err(dberr)?;
                    }
                    None => {
                        t.remove(key.as_slice()).map_err(dberr)?;
                    }
                }
            }
            let mut t = txn.open_table(NONCES).map_err(dberr)?;
            for owner in &self.dirty.nonces {
                let nonce = self.state.nonces.get(owner).copied().unwrap_or(0);
                t.insert(owner.as_slice(), nonce).map_err(dberr)?;
            }
            let mut t = txn.open_table(FEE_RECIPIENTS).map_err(dberr)?;
            for owner in &self.dirty.fee_recipients {
                if let Some(to) = self.state.fee_recipients.get(owner) {
                    t.insert(owner.as_slice(), to.as_slice()).map_err(dberr)?;
                }
            }
            let mut t = txn.open_table(META).map_err(dberr)?;
            if self.dirty.own_id
                && let Some(id) = self.state.own_operator_id
            {
                t.insert(KEY_OWN_ID, id.to_le_bytes().as_slice()).map_err(dberr)?;
            }
            let mut block = [0u8; 40];
            block[..8].copy_from_slice(&number.to_le_bytes());
            block[8..].copy_from_slice(&hash);
            t.insert(KEY_LAST_BLOCK, block.as_slice()).map_err(dberr)?;
        }
        txn.commit().map_err(dberr)?;
        self.dirty = Dirty::default();
        self.state.last_processed_block = Some((number, hash));
        Ok(())
    }

    /// Our shares as the driver reads them: every validator with us in its committee and
    /// our encrypted share, with its owner's fee recipient (the owner itself until one is
    /// set, as in the Go node).
    pub fn own_shares(&self) -> Vec<ShareRecord> {
        let Some(me) = self.state.own_operator_id else { return Vec::new() };
        let mut out = Vec::new();
        for v in self.state.validators.values() {
            let (Some(secret), Some(mine)) =
                (&v.own_encrypted_share, v.committee.iter().find(|m| m.operator_id == me))
            else {
                continue;
            };
            let mut committee: Vec<(OperatorId, String)> =
                v.committee.iter().map(|m| (m.operator_id, hex0x(&m.share_public_key))).collect();
            committee.sort_by_key(|(id, _)| *id);
            let fee = self.state.fee_recipients.get(&v.owner).copied().unwrap_or(v.owner);
            out.push(ShareRecord {
                validator_pubkey: hex0x(&v.public_key),
                share_pubkey: hex0x(&mine.share_public_key),
                committee,
                owner: v.owner.to_string(),
                fee_recipient: hex0x(fee.as_slice()),
                liquidated: v.liquidated,
                encrypted_secret: hex0x(secret),
            });
        }
        out
    }

    /// Rewrites the node store's operators and shares from the committed contract state,
    /// with the last processed block, in one transaction (see the module doc).
    ///
    /// # Errors
    /// [`ContractDbError::NodeStore`].
    pub fn mirror_into(&self, store: &NodeStore) -> Result<(), ContractDbError> {
        let shares = self.own_shares();
        let wanted: BTreeMap<[u8; 48], ShareRecord> = shares
            .into_iter()
            .filter_map(|s| {
                let key: [u8; 48] = hex::decode(s.validator_pubkey.trim_start_matches("0x"))
                    .ok()?
                    .try_into()
                    .ok()?;
                Some((key, s))
            })
            .collect();
        let existing = store.shares()?;
        let operators = store.operators()?;
        store.write(|w| {
            for s in &existing {
                let Ok(Ok(key)) = hex::decode(s.validator_pubkey.trim_start_matches("0x"))
                    .map(<[u8; 48]>::try_from)
                else {
                    continue;
                };
                if !wanted.contains_key(&key) {
                    w.remove_share(&key)?;
                }
            }
            for (key, share) in &wanted {
                w.put_share(key, share)?;
            }
            for o in &operators {
                if !self.state.operators.contains_key(&o.id) {
                    w.remove_operator(o.id)?;
                }
            }
            for o in self.state.operators.values() {
                w.put_operator(&node_store::OperatorRecord {
                    id: o.id,
                    owner: o.owner.to_string(),
                    public_key_base64: String::from_utf8_lossy(&o.public_key).into_owned(),
                })?;
            }
            if let Some((n, _)) = self.state.last_processed_block {
                w.set_last_processed_block(n)?;
            }
            Ok(())
        })?;
        Ok(())
    }
}

impl ContractStore for RedbContractStore {
    type Error = ContractDbError;

    fn operator(&self, id: OperatorId) -> Result<Option<OperatorRecord>, ContractDbError> {
        Ok(self.state.operators.get(&id).cloned())
    }
    fn operator_by_public_key(
        &self,
        key: &[u8],
    ) -> Result<Option<OperatorRecord>, ContractDbError> {
        Ok(self.state.operators.values().find(|o| o.public_key == key).cloned())
    }
    fn save_operator(&mut self, operator: OperatorRecord) -> Result<(), ContractDbError> {
        self.dirty.operators.insert(operator.id);
        self.state.operators.insert(operator.id, operator);
        Ok(())
    }
    fn next_nonce(&self, owner: &Address) -> Result<u64, ContractDbError> {
        Ok(self.state.nonces.get(owner).copied().unwrap_or(0))
    }
    fn set_next_nonce(&mut self, owner: &Address, nonce: u64) -> Result<(), ContractDbError> {
        self.dirty.nonces.insert(*owner);
        self.state.nonces.insert(*owner, nonce);
        Ok(())
    }
    fn validator(
        &self,
        public_key: &ValidatorKey,
    ) -> Result<Option<ValidatorRecord>, ContractDbError> {
        Ok(self.state.validators.get(public_key).cloned())
    }
    fn save_validator(&mut self, validator: ValidatorRecord) -> Result<(), ContractDbError> {
        self.dirty.validators.insert(validator.public_key);
        self.state.validators.insert(validator.public_key, validator);
        Ok(())
    }
    fn delete_validator(&mut self, public_key: &ValidatorKey) -> Result<(), ContractDbError> {
        self.dirty.validators.insert(*public_key);
        self.state.validators.remove(public_key);
        Ok(())
    }
    fn validators(&self) -> Result<Vec<ValidatorRecord>, ContractDbError> {
        Ok(self.state.validators.values().cloned().collect())
    }
    fn fee_recipient(&self, owner: &Address) -> Result<Option<Address>, ContractDbError> {
        Ok(self.state.fee_recipients.get(owner).copied())
    }
    fn set_fee_recipient(
        &mut self,
        owner: &Address,
        recipient: Address,
    ) -> Result<(), ContractDbError> {
        self.dirty.fee_recipients.insert(*owner);
        self.state.fee_recipients.insert(*owner, recipient);
        Ok(())
    }
    fn own_operator_id(&self) -> Result<Option<OperatorId>, ContractDbError> {
        Ok(self.state.own_operator_id)
    }
    fn set_own_operator_id(&mut self, id: OperatorId) -> Result<(), ContractDbError> {
        self.dirty.own_id = true;
        self.state.own_operator_id = Some(id);
        Ok(())
    }
    fn last_processed_block(&self) -> Result<Option<(u64, [u8; 32])>, ContractDbError> {
        Ok(self.state.last_processed_block)
    }
    fn set_last_processed_block(
        &mut self,
        number: u64,
        hash: [u8; 32],
    ) -> Result<(), ContractDbError> {
        self.commit(number, hash)
    }
}
