//! The SSVNetwork event handler: deterministic rules over a [`ContractStore`], with the Go
//! node's semantics (`ssvlabs/ssv` `eth/eventhandler/handlers.go`; notes 4.3).
//!
//! [`EventHandler::handle`] applies one decoded event and pushes what the node must do
//! (start or stop a validator, bump slashing protection, exit) as [`Effect`] values into the
//! caller's buffer. A [`HandleError::Malformed`] event changed nothing except, for
//! `ValidatorAdded`, the owner's nonce, which the contract bumps for every registration; the
//! caller logs it, counts it and goes on ([`EventHandler::handle_logs`] does so). A
//! [`HandleError::Store`] error is the storage failing: the caller stops and retries the
//! batch later.

use std::collections::BTreeMap;
use std::convert::Infallible;

use alloy::primitives::Address;
use ssv_core::crypto::bls::{self, PublicKey, SecretKey};
use ssv_core::crypto::keyshares::{KeysharesError, MAX_OPERATORS, SharesData};
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_core::types::OperatorId;

use super::events::{ContractEvent, DecodedLog, EventDecodeError, decode_log};

/// A validator public key in its 48-byte compressed form.
pub type ValidatorKey = [u8; bls::PUBLIC_KEY_LEN];

/// An operator as registered on chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorRecord {
    /// The operator id.
    pub id: OperatorId,
    /// The owner account.
    pub owner: Address,
    /// The operator key as the event carries it (base64 PEM text, once unpacked).
    pub public_key: Vec<u8>,
}

/// One committee member of a validator: an operator and its share public key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ShareMember {
    /// The operator.
    pub operator_id: OperatorId,
    /// The share public key its partial signatures verify against.
    pub share_public_key: ValidatorKey,
}

/// A validator the contract registered, as the node stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidatorRecord {
    /// The validator public key.
    pub public_key: ValidatorKey,
    /// The cluster owner.
    pub owner: Address,
    /// The committee, in the event's operator order (ascending on SSVNetwork).
    pub committee: Vec<ShareMember>,
    /// Whether the cluster is liquidated (the validator must not perform duties).
    pub liquidated: bool,
    /// Our share, RSA-encrypted, when this operator is in the committee: kept encrypted at
    /// rest and decrypted with the operator key on start.
    pub own_encrypted_share: Option<Vec<u8>>,
}

impl ValidatorRecord {
    /// Whether `operator_id` is in the committee.
    pub fn has_operator(&self, operator_id: OperatorId) -> bool {
        self.committee.iter().any(|m| m.operator_id == operator_id)
    }

    /// Whether the validator belongs to the cluster `(owner, operator_ids)` (the Go node's
    /// cluster id is a hash of the owner and the sorted operator ids).
    pub fn in_cluster(&self, owner: &Address, operator_ids: &[OperatorId]) -> bool {
        let mut mine: Vec<OperatorId> = self.committee.iter().map(|m| m.operator_id).collect();
        let mut theirs = operator_ids.to_vec();
        mine.sort_unstable();
        theirs.sort_unstable();
        &self.owner == owner && mine == theirs
    }
}

/// The storage the handler reads and writes: operators, validators, owner nonces, fee
/// recipients, our operator id and the follower's position.
///
/// The node implements it on redb; [`MemoryStore`] is the reference implementation for
/// tests. A write error aborts the batch being handled ([`HandleError::Store`]).
pub trait ContractStore {
    /// The storage's error.
    type Error: std::error::Error + Send + Sync + 'static;

    /// The operator with `id`, if registered.
    fn operator(&self, id: OperatorId) -> Result<Option<OperatorRecord>, Self::Error>;
    /// The operator registered with exactly this public key, if any.
    fn operator_by_public_key(&self, key: &[u8]) -> Result<Option<OperatorRecord>, Self::Error>;
    /// Stores an operator (the id is new).
    fn save_operator(&mut self, operator: OperatorRecord) -> Result<(), Self::Error>;
    /// The nonce the owner's next `ValidatorAdded` must be signed with (0 at first).
    fn next_nonce(&self, owner: &Address) -> Result<u64, Self::Error>;
    /// Sets the owner's next nonce.
    fn set_next_nonce(&mut self, owner: &Address, nonce: u64) -> Result<(), Self::Error>;
    /// The validator with this public key, if registered.
    fn validator(&self, public_key: &ValidatorKey) -> Result<Option<ValidatorRecord>, Self::Error>;
    /// Stores or replaces a validator.
    fn save_validator(&mut self, validator: ValidatorRecord) -> Result<(), Self::Error>;
    /// Deletes a validator.
    fn delete_validator(&mut self, public_key: &ValidatorKey) -> Result<(), Self::Error>;
    /// Every stored validator, ordered by public key.
    fn validators(&self) -> Result<Vec<ValidatorRecord>, Self::Error>;
    /// The owner's fee recipient, if the owner ever set one.
    fn fee_recipient(&self, owner: &Address) -> Result<Option<Address>, Self::Error>;
    /// Sets the owner's fee recipient.
    fn set_fee_recipient(&mut self, owner: &Address, recipient: Address)
    -> Result<(), Self::Error>;
    /// Our operator id, once an `OperatorAdded` with our key was seen.
    fn own_operator_id(&self) -> Result<Option<OperatorId>, Self::Error>;
    /// Records our operator id.
    fn set_own_operator_id(&mut self, id: OperatorId) -> Result<(), Self::Error>;
    /// The last block whose logs were all handled: `(number, hash)`.
    fn last_processed_block(&self) -> Result<Option<(u64, [u8; 32])>, Self::Error>;
    /// Records the last block whose logs were all handled.
    fn set_last_processed_block(&mut self, number: u64, hash: [u8; 32]) -> Result<(), Self::Error>;
}

/// An in-memory [`ContractStore`] (tests, the simulator, a node without persistence).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MemoryStore {
    /// Operators by id.
    pub operators: BTreeMap<OperatorId, OperatorRecord>,
    /// Next nonce per owner.
    pub nonces: BTreeMap<Address, u64>,
    /// Validators by public key.
    pub validators: BTreeMap<ValidatorKey, ValidatorRecord>,
    /// Fee recipient per owner.
    pub fee_recipients: BTreeMap<Address, Address>,
    /// Our operator id.
    pub own_operator_id: Option<OperatorId>,
    /// The follower's position.
    pub last_processed_block: Option<(u64, [u8; 32])>,
}

impl ContractStore for MemoryStore {
    type Error = Infallible;

    fn operator(&self, id: OperatorId) -> Result<Option<OperatorRecord>, Infallible> {
        Ok(self.operators.get(&id).cloned())
    }
    fn operator_by_public_key(&self, key: &[u8]) -> Result<Option<OperatorRecord>, Infallible> {
        Ok(self.operators.values().find(|o| o.public_key == key).cloned())
    }
    fn save_operator(&mut self, operator: OperatorRecord) -> Result<(), Infallible> {
        self.operators.insert(operator.id, operator);
        Ok(())
    }
    fn next_nonce(&self, owner: &Address) -> Result<u64, Infallible> {
        Ok(self.nonces.get(owner).copied().unwrap_or(0))
    }
    fn set_next_nonce(&mut self, owner: &Address, nonce: u64) -> Result<(), Infallible> {
        self.nonces.insert(*owner, nonce);
        Ok(())
    }
    fn validator(&self, public_key: &ValidatorKey) -> Result<Option<ValidatorRecord>, Infallible> {
        Ok(self.validators.get(public_key).cloned())
    }
    fn save_validator(&mut self, validator: ValidatorRecord) -> Result<(), Infallible> {
        self.validators.insert(validator.public_key, validator);
        Ok(())
    }
    fn delete_validator(&mut self, public_key: &ValidatorKey) -> Result<(), Infallible> {
        self.validators.remove(public_key);
        Ok(())
    }
    fn validators(&self) -> Result<Vec<ValidatorRecord>, Infallible> {
        Ok(self.validators.values().cloned().collect())
    }
    fn fee_recipient(&self, owner: &Address) -> Result<Option<Address>, Infallible> {
        Ok(self.fee_recipients.get(owner).copied())
    }
    fn set_fee_recipient(&mut self, owner: &Address, recipient: Address) -> Result<(), Infallible> {
        self.fee_recipients.insert(*owner, recipient);
        Ok(())
    }
    fn own_operator_id(&self) -> Result<Option<OperatorId>, Infallible> {
        Ok(self.own_operator_id)
    }
    fn set_own_operator_id(&mut self, id: OperatorId) -> Result<(), Infallible> {
        self.own_operator_id = Some(id);
        Ok(())
    }
    fn last_processed_block(&self) -> Result<Option<(u64, [u8; 32])>, Infallible> {
        Ok(self.last_processed_block)
    }
    fn set_last_processed_block(&mut self, number: u64, hash: [u8; 32]) -> Result<(), Infallible> {
        self.last_processed_block = Some((number, hash));
        Ok(())
    }
}

/// What the node must do after an event.
#[derive(Debug, Clone)]
pub enum Effect {
    /// An `OperatorAdded` carried our key: we now know our operator id.
    OwnOperatorRegistered {
        /// Our id.
        operator_id: OperatorId,
    },
    /// A validator with us in its committee was added: start it with this share.
    StartValidator {
        /// The validator.
        validator: ValidatorRecord,
        /// Our decrypted share secret (checked against our share public key).
        share_secret: SecretKey,
    },
    /// One of our validators was removed: stop it and forget its share.
    StopValidator {
        /// The validator public key.
        public_key: ValidatorKey,
    },
    /// Our validators of a liquidated cluster: stop them (kept, marked liquidated).
    Liquidated {
        /// The validator public keys.
        public_keys: Vec<ValidatorKey>,
    },
    /// Our validators of a reactivated cluster: start them again.
    Reactivated {
        /// The validator public keys.
        public_keys: Vec<ValidatorKey>,
    },
    /// Before signing again for a reactivated validator, raise its slashing-protection
    /// floor to the current slot and epoch (the Go node's `BumpSlashingProtection`): it may
    /// have been run elsewhere meanwhile.
    BumpSlashingProtection {
        /// The validator.
        public_key: ValidatorKey,
        /// Our share public key for it.
        share_public_key: ValidatorKey,
    },
    /// An owner's fee recipient changed (it applies to every validator of the owner).
    FeeRecipientUpdated {
        /// The owner.
        owner: Address,
        /// The new recipient.
        recipient: Address,
    },
    /// `ValidatorExited` for one of our validators: run a voluntary-exit duty.
    VoluntaryExit {
        /// The validator.
        public_key: ValidatorKey,
        /// The block of the event (the duty is keyed by it).
        block_number: u64,
    },
}

/// Why an event was refused. Each variant is one of the Go node's `MalformedEventError`s.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MalformedEvent {
    /// The log did not decode with the ABI.
    #[error(transparent)]
    Decode(#[from] EventDecodeError),
    /// `OperatorAdded` with an id already registered.
    #[error("operator ID {0} already exists")]
    OperatorIdExists(OperatorId),
    /// `OperatorAdded` with a public key already registered (to the given operator).
    #[error("operator public key already exists (operator {0})")]
    OperatorPublicKeyExists(OperatorId),
    /// `OperatorRemoved` for an unknown operator.
    #[error("operator {0} not found")]
    OperatorNotFound(OperatorId),
    /// The committee is not 4, 7, 10 or 13 distinct operators.
    #[error("invalid committee: {0}")]
    InvalidCommittee(String),
    /// `sharesData` has the wrong length for the committee.
    #[error("shares length is {actual}; {operators} operators need {expected}")]
    SharesLength {
        /// Committee size.
        operators: usize,
        /// Expected bytes.
        expected: usize,
        /// Bytes found.
        actual: usize,
    },
    /// The validator public key does not deserialize.
    #[error("invalid validator public key")]
    ValidatorPublicKey,
    /// `sharesData` does not parse (bad signature or share key encoding).
    #[error("invalid sharesData: {0}")]
    SharesData(KeysharesError),
    /// The ownership signature does not verify for the owner's expected nonce.
    #[error("ownership signature does not verify for nonce {nonce}")]
    Signature {
        /// The nonce checked against.
        nonce: u64,
    },
    /// The validator is registered to another owner.
    #[error("validator belongs to owner {existing}, not {got}")]
    DifferentOwner {
        /// The registered owner.
        existing: Address,
        /// The event's owner.
        got: Address,
    },
    /// Our share does not decrypt with our key or does not match its share public key.
    #[error("our share does not decrypt: {0}")]
    ShareDecryption(String),
    /// `ValidatorRemoved` or `ValidatorExited` for an unknown validator.
    #[error("validator share not found")]
    ValidatorNotFound,
}

/// Why [`EventHandler::handle`] did not apply an event.
#[derive(Debug, thiserror::Error)]
pub enum HandleError<E: std::error::Error + 'static> {
    /// The event is malformed: skipped, state unchanged (bar a `ValidatorAdded` nonce).
    #[error("malformed event: {0}")]
    Malformed(#[from] MalformedEvent),
    /// The storage failed: stop and retry the batch.
    #[error("contract store: {0}")]
    Store(#[source] E),
}

/// Counters of handled logs, for metrics and the devnet summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HandlerCounters {
    /// Followed events applied.
    pub applied: u64,
    /// Followed events refused as malformed (skipped).
    pub malformed: u64,
    /// Logs of other events (ignored).
    pub ignored: u64,
}

/// One raw log with its position, as the follower hands it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLog {
    /// The block number.
    pub block_number: u64,
    /// The log's index in its block.
    pub log_index: u64,
    /// The topics (topic0 first).
    pub topics: Vec<alloy::primitives::B256>,
    /// The ABI-encoded non-indexed fields.
    pub data: Vec<u8>,
}

/// Applies SSVNetwork events to a [`ContractStore`] for one operator.
///
/// Driving contract: feed the logs of each block in order (block, then log index), each
/// exactly once; then record the block as processed in the same store. Handling is
/// deterministic: the same logs on the same store give the same state and effects.
#[derive(Debug)]
pub struct EventHandler<S> {
    store: S,
    own_key: Option<OperatorPrivateKey>,
    counters: HandlerCounters,
}

type Result2<T, S> = Result<T, HandleError<<S as ContractStore>::Error>>;

impl<S: ContractStore> EventHandler<S> {
    /// A handler for the operator holding `own_key` (`None` for a node without a key, as an
    /// exporter: it tracks the registry but starts nothing).
    pub fn new(store: S, own_key: Option<OperatorPrivateKey>) -> Self {
        Self { store, own_key, counters: HandlerCounters::default() }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// The store, for the follower to record its position.
    pub fn store_mut(&mut self) -> &mut S {
        &mut self.store
    }

    /// The counters so far.
    pub fn counters(&self) -> HandlerCounters {
        self.counters
    }

    /// Decodes and applies raw logs in order, skipping (with a warning and a count) the
    /// malformed ones.
    ///
    /// # Errors
    /// The first storage error; the logs before it are applied.
    pub fn handle_logs(&mut self, logs: &[RawLog], out: &mut Vec<Effect>) -> Result<(), S::Error> {
        for log in logs {
            let event = match decode_log(&log.topics, &log.data) {
                Ok(DecodedLog::Event(event)) => event,
                Ok(DecodedLog::Ignored) => {
                    self.counters.ignored = self.counters.ignored.saturating_add(1);
                    continue;
                }
                Err(err) => {
                    tracing::warn!(block = log.block_number, log_index = log.log_index, %err, "skipping malformed SSVNetwork log");
                    self.counters.malformed = self.counters.malformed.saturating_add(1);
                    continue;
                }
            };
            match self.handle(&event, log.block_number, out) {
                Ok(()) => {}
                Err(HandleError::Malformed(err)) => {
                    tracing::warn!(block = log.block_number, log_index = log.log_index, event = event.name(), %err, "skipping malformed SSVNetwork event");
                }
                Err(HandleError::Store(err)) => return Err(err),
            }
        }
        Ok(())
    }

    /// Applies one event seen in `block_number`, pushing effects into `out`.
    ///
    /// # Errors
    /// [`HandleError::Malformed`] (counted; state unchanged except a `ValidatorAdded`
    /// nonce) or [`HandleError::Store`].
    pub fn handle(
        &mut self,
        event: &ContractEvent,
        block_number: u64,
        out: &mut Vec<Effect>,
    ) -> Result2<(), S> {
        let result = self.apply(event, block_number, out);
        match &result {
            Ok(()) => self.counters.applied = self.counters.applied.saturating_add(1),
            Err(HandleError::Malformed(_)) => {
                self.counters.malformed = self.counters.malformed.saturating_add(1);
            }
            Err(HandleError::Store(_)) => {}
        }
        result
    }

    fn apply(
        &mut self,
        event: &ContractEvent,
        block_number: u64,
        out: &mut Vec<Effect>,
    ) -> Result2<(), S> {
        match event {
            ContractEvent::OperatorAdded { operator_id, owner, public_key, .. } => {
                self.operator_added(*operator_id, *owner, public_key, out)
            }
            ContractEvent::OperatorRemoved { operator_id } => {
                // The Go node keeps removed operators (their validators are removed by
                // their own events); it only checks the operator exists.
                match self.store.operator(*operator_id).map_err(HandleError::Store)? {
                    Some(_) => Ok(()),
                    None => Err(MalformedEvent::OperatorNotFound(*operator_id).into()),
                }
            }
            ContractEvent::ValidatorAdded { owner, operator_ids, public_key, shares } => {
                self.validator_added(*owner, operator_ids, public_key, shares, out)
            }
            ContractEvent::ValidatorRemoved { owner, public_key, .. } => {
                let record = self.owned_validator(owner, public_key)?;
                self.store.delete_validator(&record.public_key).map_err(HandleError::Store)?;
                if self.is_ours(&record)? {
                    out.push(Effect::StopValidator { public_key: record.public_key });
                }
                Ok(())
            }
            ContractEvent::ClusterLiquidated { owner, operator_ids } => {
                let ours = self.set_liquidated(owner, operator_ids, true)?;
                if !ours.is_empty() {
                    out.push(Effect::Liquidated {
                        public_keys: ours.iter().map(|v| v.public_key).collect(),
                    });
                }
                Ok(())
            }
            ContractEvent::ClusterReactivated { owner, operator_ids } => {
                let ours = self.set_liquidated(owner, operator_ids, false)?;
                let own_id = self.store.own_operator_id().map_err(HandleError::Store)?;
                for v in &ours {
                    if let Some(m) = v.committee.iter().find(|m| Some(m.operator_id) == own_id) {
                        out.push(Effect::BumpSlashingProtection {
                            public_key: v.public_key,
                            share_public_key: m.share_public_key,
                        });
                    }
                }
                if !ours.is_empty() {
                    out.push(Effect::Reactivated {
                        public_keys: ours.iter().map(|v| v.public_key).collect(),
                    });
                }
                Ok(())
            }
            ContractEvent::FeeRecipientAddressUpdated { owner, recipient } => {
                self.store.set_fee_recipient(owner, *recipient).map_err(HandleError::Store)?;
                out.push(Effect::FeeRecipientUpdated { owner: *owner, recipient: *recipient });
                Ok(())
            }
            ContractEvent::ValidatorExited { owner, public_key, .. } => {
                let record = self.owned_validator(owner, public_key)?;
                if self.is_ours(&record)? {
                    out.push(Effect::VoluntaryExit { public_key: record.public_key, block_number });
                }
                Ok(())
            }
        }
    }

    fn operator_added(
        &mut self,
        id: OperatorId,
        owner: Address,
        public_key: &[u8],
        out: &mut Vec<Effect>,
    ) -> Result2<(), S> {
        if self.store.operator(id).map_err(HandleError::Store)?.is_some() {
            return Err(MalformedEvent::OperatorIdExists(id).into());
        }
        if let Some(existing) =
            self.store.operator_by_public_key(public_key).map_err(HandleError::Store)?
        {
            return Err(MalformedEvent::OperatorPublicKeyExists(existing.id).into());
        }
        self.store
            .save_operator(OperatorRecord { id, owner, public_key: public_key.to_vec() })
            .map_err(HandleError::Store)?;
        let ours =
            self.own_key.as_ref().is_some_and(|key| is_own_key(key.public_key(), public_key));
        if ours {
            self.store.set_own_operator_id(id).map_err(HandleError::Store)?;
            out.push(Effect::OwnOperatorRegistered { operator_id: id });
        }
        Ok(())
    }

    fn validator_added(
        &mut self,
        owner: Address,
        operator_ids: &[OperatorId],
        public_key: &[u8],
        shares: &[u8],
        out: &mut Vec<Effect>,
    ) -> Result2<(), S> {
        // The nonce is consumed by every registration the contract accepted, so it is
        // bumped before any check: a malformed event must not shift later nonces.
        let nonce = self.store.next_nonce(&owner).map_err(HandleError::Store)?;
        self.store.set_next_nonce(&owner, nonce.saturating_add(1)).map_err(HandleError::Store)?;

        check_committee(operator_ids)?;
        let n = operator_ids.len();
        let expected = 96usize.saturating_add(n.saturating_mul(48 + 256));
        if shares.len() != expected {
            return Err(MalformedEvent::SharesLength {
                operators: n,
                expected,
                actual: shares.len(),
            }
            .into());
        }
        let validator =
            PublicKey::from_bytes(public_key).map_err(|_| MalformedEvent::ValidatorPublicKey)?;
        let parsed = SharesData::parse(shares, n).map_err(MalformedEvent::SharesData)?;
        parsed
            .verify_ownership(&validator, &owner, nonce)
            .map_err(|_| MalformedEvent::Signature { nonce })?;
        let key = validator.to_bytes();

        if let Some(existing) = self.store.validator(&key).map_err(HandleError::Store)? {
            if existing.owner != owner {
                return Err(MalformedEvent::DifferentOwner {
                    existing: existing.owner,
                    got: owner,
                }
                .into());
            }
            // Re-registration by the same owner: the Go node keeps the stored share.
            return Ok(());
        }
        for id in operator_ids {
            if self.store.operator(*id).map_err(HandleError::Store)?.is_none() {
                return Err(MalformedEvent::OperatorNotFound(*id).into());
            }
        }
        let committee: Vec<ShareMember> = operator_ids
            .iter()
            .zip(&parsed.share_public_keys)
            .map(|(id, pk)| ShareMember { operator_id: *id, share_public_key: pk.to_bytes() })
            .collect();
        let own_id = self.store.own_operator_id().map_err(HandleError::Store)?;
        let own_index = own_id.and_then(|own| operator_ids.iter().position(|id| *id == own));
        let mut record = ValidatorRecord {
            public_key: key,
            owner,
            committee,
            liquidated: false,
            own_encrypted_share: None,
        };
        let mut start = None;
        if let (Some(index), Some(own_key)) = (own_index, self.own_key.as_ref()) {
            let ciphertext = parsed
                .encrypted_shares
                .get(index)
                .ok_or(MalformedEvent::ShareDecryption("no ciphertext for our operator".into()))?;
            let share_pk = parsed
                .share_public_keys
                .get(index)
                .ok_or(MalformedEvent::ShareDecryption("no share key for our operator".into()))?;
            let secret = decrypt_own_share(own_key, ciphertext, share_pk)?;
            record.own_encrypted_share = Some(ciphertext.to_vec());
            start = Some(secret);
        }
        self.store.save_validator(record.clone()).map_err(HandleError::Store)?;
        if let Some(share_secret) = start {
            out.push(Effect::StartValidator { validator: record, share_secret });
        }
        Ok(())
    }

    /// The stored validator `public_key`, checked to belong to `owner`.
    fn owned_validator(&self, owner: &Address, public_key: &[u8]) -> Result2<ValidatorRecord, S> {
        let key: ValidatorKey =
            public_key.try_into().map_err(|_| MalformedEvent::ValidatorNotFound)?;
        let record = self
            .store
            .validator(&key)
            .map_err(HandleError::Store)?
            .ok_or(MalformedEvent::ValidatorNotFound)?;
        if &record.owner != owner {
            return Err(
                MalformedEvent::DifferentOwner { existing: record.owner, got: *owner }.into()
            );
        }
        Ok(record)
    }

    fn is_ours(&self, record: &ValidatorRecord) -> Result2<bool, S> {
        let own = self.store.own_operator_id().map_err(HandleError::Store)?;
        Ok(own.is_some_and(|id| record.has_operator(id)))
    }

    /// Marks the cluster's validators; returns ours among them.
    fn set_liquidated(
        &mut self,
        owner: &Address,
        operator_ids: &[OperatorId],
        liquidated: bool,
    ) -> Result2<Vec<ValidatorRecord>, S> {
        let cluster: Vec<ValidatorRecord> = self
            .store
            .validators()
            .map_err(HandleError::Store)?
            .into_iter()
            .filter(|v| v.in_cluster(owner, operator_ids))
            .collect();
        let mut ours = Vec::new();
        for mut v in cluster {
            v.liquidated = liquidated;
            self.store.save_validator(v.clone()).map_err(HandleError::Store)?;
            if self.is_ours(&v)? {
                ours.push(v);
            }
        }
        Ok(ours)
    }
}

/// 4, 7, 10 or 13 distinct operators (the Go node's `validateOperators`).
fn check_committee(operator_ids: &[OperatorId]) -> Result<(), MalformedEvent> {
    let n = operator_ids.len();
    if n == 0 || n > MAX_OPERATORS || n % 3 != 1 || n < 4 {
        return Err(MalformedEvent::InvalidCommittee(format!(
            "{n} operators cannot form a 3f+1 committee"
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for id in operator_ids {
        if !seen.insert(*id) {
            return Err(MalformedEvent::InvalidCommittee(format!("operator {id} repeated")));
        }
    }
    Ok(())
}

/// Whether an `OperatorAdded` key is ours: the same RSA key, whatever PEM or base64 layout.
fn is_own_key(own: &OperatorPublicKey, event_key: &[u8]) -> bool {
    if own.to_base64_pem().as_bytes() == event_key {
        return true;
    }
    std::str::from_utf8(event_key)
        .ok()
        .and_then(|text| OperatorPublicKey::from_base64_pem(text).ok())
        .is_some_and(|key| &key == own)
}

fn decrypt_own_share(
    key: &OperatorPrivateKey,
    ciphertext: &[u8],
    share_public_key: &PublicKey,
) -> Result<SecretKey, MalformedEvent> {
    let secret = key
        .decrypt_share(ciphertext)
        .map_err(|e| MalformedEvent::ShareDecryption(e.to_string()))?;
    let secret = SecretKey::from_bytes(&secret[..])
        .map_err(|e| MalformedEvent::ShareDecryption(e.to_string()))?;
    if &secret.public_key() != share_public_key {
        return Err(MalformedEvent::ShareDecryption(
            "decrypted share does not match its share public key".into(),
        ));
    }
    Ok(secret)
}
