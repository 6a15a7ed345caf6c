//! The duty driver: one tokio task per node that runs `ssv-core`'s committee runners and
//! validator routers against a beacon node and the P2P network.
//!
//! # Event loop
//! One task owns every [`Committee`] (one per distinct operator set among the node's
//! shares) and one [`ssv_core::runner::Validator`] per share (proposer, aggregator,
//! sync-committee contribution, registration and exit runners; see [`validators`]), and
//! feeds them, in order: messages from the [`Transport`] inbox (committee messages to
//! their committee, validator-role messages to their validator), answers of the requests
//! they made, QBFT timeouts at `poll_timeout`, and slot ticks. Work that blocks (Beacon
//! API calls, slashing-database writes, BLS signing, decided-message writes) runs in
//! spawned tasks that send their result back as an event, so the loop never waits on IO.
//!
//! # Timing (as the Go node)
//! Attester, sync-committee and proposer duties are fetched per epoch (the current and
//! the next) for the validators whose shares the node holds. At one third of a slot with
//! duties the driver fetches attestation data once, starts the committee duty with the
//! data's source and target as the expected checkpoints, and answers the runner's data
//! request with it. Round deadlines are slot-relative ([`SlotRelativeTimeouts`], first
//! round at 1/3 slot). Validator-level timing is in [`validators`].
//!
//! # Safety
//! Every attestation signature with a share key is made only after
//! [`SlashingDatabase::check_and_insert_attestation`] accepted it for that share public
//! key (source and target come from the value the runner just decided), every block
//! signature only after [`SlashingDatabase::check_and_insert_block`] did. The committee
//! signer answers per item: a refused item (slashing protection, missing key) is a
//! [`SignRefusal`] and the runner goes on with the other validators' signatures. The value checks
//! consult the database read-only before a value is decided ([`validators::DbProtection`]).
//! Decided messages and the highest decided height per executor are written to the node
//! store; a restarted node starts no committee duty at or below its highest decided slot.
//!
//! # Early messages
//! The core drops a prepare or commit that arrives before its proposal, and messages for a
//! slot whose duty has not started yet, exactly as the spec does. The Go node keeps them in
//! its message queue; here each committee and each validator keeps up to
//! [`RETRY_QUEUE_MAX`] of them and retries them after every accepted input, until their
//! slot is over.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use ssv_core::beacon::{AttestationData, DataVersion};
use ssv_core::crypto::bls::SecretKey;
use ssv_core::crypto::rsa::{OperatorPrivateKey, OperatorPublicKey};
use ssv_core::crypto::signing::BeaconDomainType;
use ssv_core::qbft::{
    CUT_OFF_ROUND, CommitteeMember, Controller, OperatorSigner, QbftConfig, QbftError,
    RoundRobinProposer, SignError, SignatureVerifier, SlotAnchor, SlotRelativeTimeouts, UnixMillis,
};
use ssv_core::runner::{
    BeaconNetwork, Committee, CommitteeRunner, Duty, Input, Output, Request, Response, RunnerError,
    RunnerValueCheck, SignRefusal, SignRequest, SignResult, Submission,
};
use ssv_core::slashing::AttestationToSign;
use ssv_core::types::{
    BeaconRole, BeaconVote, BlsPublicKeyBytes, CommitteeDuty, CommitteeId, DomainType, Epoch,
    MessageId, MsgType, OperatorId, RunnerRole, Share, ShareMember, SignedSsvMessage, Slot,
    ValidatorDuty, ValidatorIndex,
};
use ssz::{Decode, Encode};
use ssz_types::VariableList;
use tokio::sync::mpsc;

pub mod observe;
pub mod psig;
pub mod validators;

pub use validators::{
    DriverHandle, EXIT_POSTPONE_SLOTS, LoadedShare, REGISTRATION_EPOCHS, ValidatorChange,
    is_aggregator,
};

use super::network::{Incoming, Topic, Transport};
use crate::beacon::BeaconClient;
use crate::beacon::types::{AttesterDuty, ProposerDuty, ProposerPreparation, SyncDuty};
use crate::metrics::{DutyLabels, Metrics};
use crate::slashing_protection::SlashingDatabase;
use crate::store::{ExecutorId, NodeStore, StoreError, ValidatorMetadata};

/// Early messages a committee keeps for retry (the Go node's queue holds a few hundred
/// per validator; a committee sees at most `n` messages per round and phase).
pub const RETRY_QUEUE_MAX: usize = 1024;

/// Committee runners kept after their slot, in slots (late post-consensus messages still
/// complete a duty within this window).
pub const RUNNER_RETENTION_SLOTS: u64 = 32;

/// Why the driver could not start.
#[derive(Debug, thiserror::Error)]
pub enum DriverError {
    /// The node store.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The beacon node.
    #[error("beacon node: {0}")]
    Beacon(#[from] crate::beacon::BeaconError),
    /// The beacon node reported a configuration the driver cannot use.
    #[error("beacon node configuration: {0}")]
    BeaconConfig(String),
    /// The trace folder cannot be written.
    #[error("trace: {0}")]
    Trace(String),
    /// A share in the store cannot be used.
    #[error("share of validator {validator}: {reason}")]
    Share {
        /// The validator public key, `0x`-hex.
        validator: String,
        /// Why.
        reason: String,
    },
}

/// Everything a driver runs with.
#[derive(Clone)]
pub struct DriverContext {
    /// This operator.
    pub operator_id: OperatorId,
    /// This operator's RSA key (signs messages, decrypts shares).
    pub operator_key: Arc<OperatorPrivateKey>,
    /// The SSV domain of the network.
    pub domain_type: DomainType,
    /// The beacon network (from [`beacon_network`]).
    pub network: Arc<BeaconNetwork>,
    /// The node store (shares, operators, decided messages).
    pub store: Arc<NodeStore>,
    /// Slashing protection.
    pub slashing: Arc<SlashingDatabase>,
    /// The Beacon API client.
    pub beacon: Arc<BeaconClient>,
    /// The network.
    pub transport: Arc<dyn Transport>,
    /// Metrics.
    pub metrics: Metrics,
}

impl std::fmt::Debug for DriverContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DriverContext")
            .field("operator_id", &self.operator_id)
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

/// Unix milliseconds now.
pub fn now_ms() -> UnixMillis {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64)
}

fn parse_u64(spec: &serde_json::Map<String, Value>, name: &str) -> Option<u64> {
    spec.get(name)?.as_str()?.parse().ok()
}

/// The beacon network as the beacon node reports it: genesis, slot duration
/// (`SLOT_DURATION_MS`, else `SECONDS_PER_SLOT`), `SLOTS_PER_EPOCH`, the fork schedule
/// (signing domains) and the `*_FORK_EPOCH`s (data versions).
///
/// # Errors
/// [`DriverError::Beacon`], or [`DriverError::BeaconConfig`] for a missing spec value.
pub async fn beacon_network(client: &BeaconClient) -> Result<BeaconNetwork, DriverError> {
    let genesis = client.genesis().await?;
    let spec = client.config_spec().await?;
    let forks = client.fork_schedule().await?;
    let slot_ms = parse_u64(&spec, "SLOT_DURATION_MS")
        .or_else(|| parse_u64(&spec, "SECONDS_PER_SLOT").map(|s| s.saturating_mul(1000)))
        .ok_or_else(|| DriverError::BeaconConfig("no SECONDS_PER_SLOT".into()))?;
    let slots_per_epoch = parse_u64(&spec, "SLOTS_PER_EPOCH")
        .ok_or_else(|| DriverError::BeaconConfig("no SLOTS_PER_EPOCH".into()))?;
    let mut data_versions = vec![(0, DataVersion::Phase0)];
    for (name, version) in [
        ("ALTAIR", DataVersion::Altair),
        ("BELLATRIX", DataVersion::Bellatrix),
        ("CAPELLA", DataVersion::Capella),
        ("DENEB", DataVersion::Deneb),
        ("ELECTRA", DataVersion::Electra),
        ("FULU", DataVersion::Fulu),
    ] {
        if let Some(epoch) = parse_u64(&spec, &format!("{name}_FORK_EPOCH"))
            && epoch != u64::MAX
        {
            data_versions.push((epoch, version));
        }
    }
    data_versions.sort_by_key(|(e, v)| (*e, *v));
    let mut fork_versions: Vec<(Epoch, [u8; 4])> =
        forks.iter().map(|f| (f.epoch, f.current_version)).collect();
    fork_versions.sort_by_key(|(e, _)| *e);
    let sync_size = parse_u64(&spec, "SYNC_COMMITTEE_SIZE").unwrap_or(512);
    let sync_subnets = parse_u64(&spec, "SYNC_COMMITTEE_SUBNET_COUNT").unwrap_or(4);
    Ok(BeaconNetwork {
        sync_subcommittee_size: sync_size.checked_div(sync_subnets).unwrap_or(128),
        slots_per_epoch,
        slot_ms,
        genesis_ms: genesis.genesis_time.saturating_mul(1000),
        genesis_validators_root: genesis.genesis_validators_root,
        fork_versions,
        data_versions,
    })
}

/// RSA verification with parsed public keys cached (the core's `RsaVerifier` parses the
/// PEM on every call).
#[derive(Debug, Default, Clone)]
pub struct CachedRsaVerifier {
    keys: Arc<Mutex<HashMap<Vec<u8>, Option<OperatorPublicKey>>>>,
}

impl SignatureVerifier for CachedRsaVerifier {
    fn verify(&self, public_key: &[u8], message: &[u8], signature: &[u8]) -> bool {
        let mut keys = self.keys.lock().unwrap_or_else(|e| e.into_inner());
        let key = keys
            .entry(public_key.to_vec())
            .or_insert_with(|| OperatorPublicKey::from_pem(public_key).ok());
        key.as_ref().is_some_and(|k| k.verify(message, signature).is_ok())
    }
}

/// Signs with the shared operator key.
#[derive(Debug, Clone)]
struct SharedRsaSigner(Arc<OperatorPrivateKey>);

impl OperatorSigner for SharedRsaSigner {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let sig = self.0.sign(message).map(|s| s.to_vec()).map_err(|e| SignError(e.to_string()));
        crate::trace::tap_signature(&sig);
        sig
    }
}

/// The duty context the committee's runner factory reads when a duty starts.
#[derive(Debug, Clone, Copy, Default)]
struct DutyContext {
    slot: Slot,
    expected_source: Epoch,
    expected_target: Epoch,
}

/// One committee the node is a member of.
struct CommitteeState {
    committee: Committee,
    topic: Topic,
    executor: ExecutorId,
    duty_context: Arc<Mutex<DutyContext>>,
    /// Share public key -> share secret.
    secrets: Arc<BTreeMap<BlsPublicKeyBytes, SecretKey>>,
    /// Early messages: (slot, message).
    retry: VecDeque<(Slot, SignedSsvMessage)>,
    highest_decided: Option<Slot>,
    /// Decided beacon votes by slot (for slashing checks of the signatures that follow).
    decided_votes: BTreeMap<Slot, BeaconVote>,
    /// Slots whose attestations and sync messages were submitted (and answered).
    submitted: BTreeSet<Slot>,
}

/// What spawned work reports back to the loop.
enum Event {
    Duties {
        epoch: Epoch,
        attester: Vec<AttesterDuty>,
        sync: Vec<SyncDuty>,
    },
    ProposerDuties {
        duties: Vec<ProposerDuty>,
    },
    DutiesFailed {
        epoch: Epoch,
        reason: String,
    },
    AttestationData {
        slot: Slot,
        data: AttestationData,
    },
    Response {
        target: Target,
        id: u64,
        response: Response,
    },
    /// A validator request to serve now (at two thirds of its slot).
    Deferred {
        validator: ValidatorIndex,
        id: u64,
        request: Request,
    },
    StartExit {
        validator: ValidatorIndex,
    },
    /// A committee message whose partial signatures were checked off the loop.
    Verified {
        committee: CommitteeId,
        msg: SignedSsvMessage,
    },
    /// `prepare_beacon_proposer` of `epoch` failed.
    PrepareFailed {
        epoch: Epoch,
    },
    /// Validators added, removed or exited while running (see [`validators`]).
    Validators(validators::ValidatorChange),
    /// The committee's submissions of `slot` were answered.
    Submitted {
        committee: CommitteeId,
        slot: Slot,
    },
    /// A decided-history restore ran (see [`DriverHandle::restored_heights`]).
    RestoredHeights(BTreeMap<MessageId, Slot>),
}

/// Whose request an answer is for.
#[derive(Debug, Clone, Copy)]
enum Target {
    Committee(CommitteeId),
    Validator(ValidatorIndex),
}

/// A node's duty driver. Build with [`Driver::new`], then [`Driver::run`].
pub struct Driver {
    ctx: DriverContext,
    committees: BTreeMap<CommitteeId, CommitteeState>,
    /// Validator index -> committee.
    validators: BTreeMap<ValidatorIndex, CommitteeId>,
    /// Validator duties by slot.
    duties: BTreeMap<Slot, Vec<ValidatorDuty>>,
    requested_epochs: BTreeSet<Epoch>,
    scheduled_slots: BTreeSet<Slot>,
    attestation_data: BTreeMap<Slot, AttestationData>,
    /// Validator-level runners by validator index.
    vals: BTreeMap<ValidatorIndex, validators::ValidatorState>,
    /// Validator index by validator public key (finds a message's validator).
    val_by_key: BTreeMap<BlsPublicKeyBytes, ValidatorIndex>,
    /// Validator-level duties by slot, keyed by (validator, role).
    validator_duties: BTreeMap<Slot, BTreeMap<(ValidatorIndex, u64), ValidatorDuty>>,
    /// The slot of the start-up registrations (set at the first slot).
    startup_registration: Option<Slot>,
    /// The last slot whose validator duties started.
    started_slot: Option<Slot>,
    /// `builder_boost_factor` of block production (`None`: the beacon node's default).
    builder_boost_factor: Option<u64>,
    events_tx: mpsc::UnboundedSender<Event>,
    events_rx: mpsc::UnboundedReceiver<Event>,
    /// Metric hooks of the feed loops.
    observer: observe::Observer,
    /// The epoch whose `prepare_beacon_proposer` was sent (or is in flight).
    prepared_epoch: Option<Epoch>,
    /// Partial signatures verified (and quorums reconstructed) off the loop ([`psig`]).
    verified: Arc<psig::VerifiedCache>,
    /// Whether committee partial-signature messages are verified off the loop first.
    precheck: bool,
    /// The input recorder (`--trace-dir`), see [`Driver::enable_trace`].
    trace: Option<crate::trace::NodeTracer>,
}

impl std::fmt::Debug for Driver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Driver")
            .field("operator_id", &self.ctx.operator_id)
            .field("committees", &self.committees.len())
            .field("validators", &self.validators.len())
            .finish_non_exhaustive()
    }
}

fn hex_key(text: &str) -> Option<BlsPublicKeyBytes> {
    hex::decode(text.trim_start_matches("0x")).ok()?.try_into().ok()
}

/// The gossip subnet of a committee (`CommitteeSubnet`: the committee id as a big-endian
/// integer mod 128).
pub fn committee_topic(id: &CommitteeId) -> Topic {
    u64::from(id.0[31] & 0x7f)
}

impl Driver {
    /// Loads the node's shares (decrypting each secret with the operator key), their
    /// validator indices (from the store's metadata, else from the beacon node, then
    /// stored) and the operators of their committees, and builds one committee per
    /// operator set. Liquidated shares and shares whose committee lacks an operator record
    /// are skipped with a warning.
    ///
    /// # Errors
    /// [`DriverError`] for a store failure, an undecryptable share or an unreachable
    /// beacon node when indices are missing.
    pub async fn new(ctx: DriverContext) -> Result<Driver, DriverError> {
        let operators: BTreeMap<OperatorId, Vec<u8>> = ctx
            .store
            .operators()?
            .into_iter()
            .filter_map(|o| {
                let key = OperatorPublicKey::from_base64_pem(&o.public_key_base64).ok()?;
                Some((o.id, key.to_pem().into_bytes()))
            })
            .collect();
        let records = ctx.store.shares()?;
        // Validator indices: stored metadata, else the beacon node.
        let mut missing = Vec::new();
        for r in &records {
            let Some(pk) = hex_key(&r.validator_pubkey) else { continue };
            if ctx.store.validator_metadata(&pk)?.is_none() {
                missing.push(r.validator_pubkey.clone());
            }
        }
        if !missing.is_empty() {
            for v in ctx.beacon.validators("head", &missing).await? {
                let meta = ValidatorMetadata {
                    index: v.index,
                    status: v.status.clone(),
                    activation_epoch: v.validator.activation_epoch,
                    exit_epoch: v.validator.exit_epoch,
                };
                let pk = v.validator.pubkey;
                ctx.store.write(|w| w.put_validator_metadata(&pk, &meta))?;
            }
        }
        let highest = ctx.store.all_highest_decided()?;
        let mut groups: BTreeMap<Vec<OperatorId>, Vec<(Share, SecretKey)>> = BTreeMap::new();
        for r in records {
            let share_err = |reason: String| DriverError::Share {
                validator: r.validator_pubkey.clone(),
                reason,
            };
            if r.liquidated {
                continue;
            }
            let (Some(validator_pk), Some(share_pk)) =
                (hex_key(&r.validator_pubkey), hex_key(&r.share_pubkey))
            else {
                return Err(share_err("malformed public key".into()));
            };
            let Some(meta) = ctx.store.validator_metadata(&validator_pk)? else {
                tracing::warn!(validator = %r.validator_pubkey, "validator unknown to the beacon node; skipped");
                continue;
            };
            let ids: Vec<OperatorId> = r.committee.iter().map(|(id, _)| *id).collect();
            if ids.iter().any(|id| !operators.contains_key(id)) {
                tracing::warn!(validator = %r.validator_pubkey, "committee operator unknown; share skipped");
                continue;
            }
            let secret_bytes = r.decrypt_secret(&ctx.operator_key)?;
            let secret = SecretKey::from_bytes(secret_bytes.as_slice())
                .map_err(|e| share_err(format!("share secret: {e}")))?;
            if secret.public_key().to_bytes() != share_pk {
                return Err(share_err("share secret does not match the share public key".into()));
            }
            let mut members = Vec::new();
            for (id, pk) in &r.committee {
                let pk = hex_key(pk).ok_or_else(|| share_err("malformed committee key".into()))?;
                members.push(ShareMember { share_pub_key: pk, signer: *id });
            }
            let fee = hex::decode(r.fee_recipient.trim_start_matches("0x"))
                .ok()
                .and_then(|b| <[u8; 20]>::try_from(b).ok())
                .unwrap_or([0; 20]);
            let share = Share {
                validator_index: meta.index,
                validator_pub_key: validator_pk,
                share_pub_key: share_pk,
                committee: VariableList::new(members)
                    .map_err(|_| share_err("committee too large".into()))?,
                domain_type: ctx.domain_type,
                fee_recipient_address: fee,
                graffiti: [0; 32],
            };
            groups.entry(ids).or_default().push((share, secret));
        }

        let mut committees = BTreeMap::new();
        let mut validators = BTreeMap::new();
        let mut vals = BTreeMap::new();
        let verifier = CachedRsaVerifier::default();
        let verified = Arc::new(psig::VerifiedCache::default());
        for (ids, shares) in groups {
            let cid = CommitteeId::from_operators(&ids);
            let committee_ops: Vec<ssv_core::qbft::Operator> = ids
                .iter()
                .map(|id| ssv_core::qbft::Operator {
                    operator_id: *id,
                    public_key: operators.get(id).cloned().unwrap_or_default(),
                })
                .collect();
            let member = CommitteeMember {
                operator_id: ctx.operator_id,
                committee_id: cid.0,
                public_key: operators.get(&ctx.operator_id).cloned().unwrap_or_default(),
                faulty_nodes: (ids.len() as u64).saturating_sub(1) / 3,
                committee: committee_ops,
                domain_type: ctx.domain_type,
            };
            let executor =
                MessageId::for_committee(ctx.domain_type, RunnerRole::Committee, &cid.0).0;
            let duty_context = Arc::new(Mutex::new(DutyContext::default()));
            let create = runner_factory(&ctx, &member, executor, &duty_context, &verifier);
            let create = with_cached_bls(create, &verified);
            let mut by_index = BTreeMap::new();
            let mut secrets = BTreeMap::new();
            for (share, secret) in shares {
                vals.insert(
                    share.validator_index,
                    validators::build_validator(
                        &ctx,
                        &member,
                        share.clone(),
                        secret.clone(),
                        committee_topic(&cid),
                        &verifier,
                    ),
                );
                validators.insert(share.validator_index, cid);
                secrets.insert(share.share_pub_key, secret);
                by_index.insert(share.validator_index, share);
            }
            tracing::info!(
                committee = %hex::encode(cid.0),
                operators = ?ids,
                validators = by_index.len(),
                highest_decided = ?highest.get(&executor),
                "committee loaded"
            );
            committees.insert(
                cid,
                CommitteeState {
                    committee: Committee::new(member, by_index, create, Box::new(verifier.clone())),
                    topic: committee_topic(&cid),
                    executor,
                    duty_context,
                    secrets: Arc::new(secrets),
                    retry: VecDeque::new(),
                    highest_decided: highest.get(&executor).copied(),
                    decided_votes: BTreeMap::new(),
                    submitted: BTreeSet::new(),
                },
            );
        }
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let observer = observe::Observer::new(ctx.metrics.clone(), Arc::clone(&ctx.network));
        Ok(Driver {
            ctx,
            committees,
            validators,
            duties: BTreeMap::new(),
            requested_epochs: BTreeSet::new(),
            scheduled_slots: BTreeSet::new(),
            attestation_data: BTreeMap::new(),
            val_by_key: vals
                .iter()
                .map(|(i, v)| (v.validator.share.validator_pub_key, *i))
                .collect(),
            vals,
            validator_duties: BTreeMap::new(),
            startup_registration: None,
            started_slot: None,
            builder_boost_factor: None,
            events_tx,
            events_rx,
            observer,
            prepared_epoch: None,
            verified,
            precheck: true,
            trace: None,
        })
    }

    /// Whether committee partial-signature messages are verified, and their quorums
    /// reconstructed, on the blocking pool before the core sees them (default on; off, the
    /// core does that work on the loop thread, as for measuring the difference).
    #[must_use]
    pub fn with_partial_signature_precheck(mut self, on: bool) -> Self {
        self.precheck = on;
        self
    }

    /// Records every input given to the cores from now on into `dir` (see
    /// [`crate::trace`]); `network` names the network in the header.
    ///
    /// # Errors
    /// The folder cannot be created or the writer thread not started.
    pub fn enable_trace(
        &mut self,
        network: &str,
        dir: &std::path::Path,
        max_file_bytes: u64,
        max_files: u32,
    ) -> std::io::Result<()> {
        let header = crate::trace::node_header(
            self.ctx.operator_id,
            network,
            self.ctx.domain_type,
            &self.ctx.network,
            self.committees.values().map(|c| &c.committee),
        );
        let writer = crate::trace::TraceWriter::new(dir, &header, max_file_bytes, max_files)?;
        self.trace = Some(crate::trace::NodeTracer::start(writer)?);
        Ok(())
    }

    /// Validators the node holds shares of, by index.
    pub fn validator_indices(&self) -> Vec<ValidatorIndex> {
        self.validators.keys().copied().collect()
    }

    /// Runs until `shutdown` completes. Messages arrive on `inbox`; a closed inbox (the
    /// node left the network) only stops message intake.
    pub async fn run(
        mut self,
        mut inbox: mpsc::Receiver<Incoming>,
        shutdown: impl Future<Output = ()>,
    ) {
        tokio::pin!(shutdown);
        let mut inbox_open = true;
        let net = Arc::clone(&self.ctx.network);
        let mut slot = net.slot_at(now_ms());
        if now_ms() >= net.genesis_ms {
            self.on_slot(slot);
        }
        let metrics = self.ctx.metrics.clone();
        loop {
            metrics.set_queue_depth("network_inbox", inbox.len());
            metrics.set_queue_depth("events", self.events_rx.len());
            let next_slot_at = net.slot_start(slot.saturating_add(1));
            let timeout_at = self
                .committees
                .values()
                .filter_map(|c| c.committee.poll_timeout())
                .chain(self.vals.values().filter_map(|v| v.validator.poll_timeout()))
                .min();
            let until = |t: UnixMillis| {
                let wait = t.saturating_sub(now_ms());
                tokio::time::sleep(Duration::from_millis(wait))
            };
            tokio::select! {
                () = &mut shutdown => break,
                msg = inbox.recv(), if inbox_open => match msg {
                    Some(m) => self.on_incoming(&m),
                    None => inbox_open = false,
                },
                Some(event) = self.events_rx.recv() => self.on_event(event),
                () = until(next_slot_at) => {
                    slot = net.slot_at(now_ms()).max(slot.saturating_add(1));
                    self.on_slot(slot);
                }
                () = until(timeout_at.unwrap_or(u64::MAX)), if timeout_at.is_some() => self.on_timeout(),
            }
        }
        tracing::info!(operator = self.ctx.operator_id, "driver stopped");
    }

    fn spawn_event<F>(&self, f: F)
    where
        F: Future<Output = Option<Event>> + Send + 'static,
    {
        let tx = self.events_tx.clone();
        tokio::spawn(async move {
            if let Some(e) = f.await {
                let _ = tx.send(e);
            }
        });
    }

    fn on_slot(&mut self, slot: Slot) {
        let net = Arc::clone(&self.ctx.network);
        let epoch = net.epoch_at_slot(slot);
        for e in [epoch, epoch.saturating_add(1)] {
            if self.validators.is_empty() || !self.requested_epochs.insert(e) {
                continue;
            }
            let beacon = Arc::clone(&self.ctx.beacon);
            let indices = self.validator_indices();
            self.spawn_event(async move {
                let attester = beacon.attester_duties(e, &indices).await;
                let sync = beacon.sync_duties(e, &indices).await;
                Some(match (attester, sync) {
                    (Ok(a), Ok(s)) => Event::Duties { epoch: e, attester: a.data, sync: s.data },
                    (Err(err), _) | (_, Err(err)) => {
                        Event::DutiesFailed { epoch: e, reason: err.to_string() }
                    }
                })
            });
            let beacon = Arc::clone(&self.ctx.beacon);
            self.spawn_event(async move {
                match beacon.proposer_duties(e).await {
                    Ok(d) => Some(Event::ProposerDuties { duties: d.data }),
                    Err(err) => {
                        tracing::warn!(epoch = e, error = %err, "proposer duties fetch failed");
                        None
                    }
                }
            });
        }
        self.record_gauges();
        self.prepare_proposers(epoch);
        self.started_slot = Some(slot);
        self.start_validator_duties(slot);
        self.prune_validators(slot);
        self.schedule_slot(slot);
        // Forget what is past.
        let keep_from = slot.saturating_sub(RUNNER_RETENTION_SLOTS);
        self.duties.retain(|s, _| *s >= slot);
        self.scheduled_slots.retain(|s| *s >= slot);
        self.attestation_data.retain(|s, _| *s >= keep_from);
        self.observer.prune(keep_from);
        self.requested_epochs.retain(|e| *e >= epoch);
        for c in self.committees.values_mut() {
            c.committee.runners.retain(|s, _| *s >= keep_from);
            c.decided_votes.retain(|s, _| *s >= keep_from);
            c.submitted.retain(|s| *s >= keep_from);
            c.retry.retain(|(s, _)| s.saturating_add(1) >= slot);
        }
    }

    /// Sends the fee recipients of the node's validators (`prepare_beacon_proposer`) once
    /// per epoch, the first time at start-up, as the Go node's fee-recipient controller
    /// does. The addresses are the shares' (the contract's `FeeRecipientAddressUpdated` of
    /// the owner, else the owner address, as the store holds them). A failed call is
    /// retried at the next slot.
    fn prepare_proposers(&mut self, epoch: Epoch) {
        if self.vals.is_empty() || self.prepared_epoch.is_some_and(|e| e >= epoch) {
            return;
        }
        self.prepared_epoch = Some(epoch);
        let items: Vec<ProposerPreparation> = self
            .vals
            .iter()
            .map(|(index, v)| ProposerPreparation {
                validator_index: *index,
                fee_recipient: v.validator.share.fee_recipient_address,
            })
            .collect();
        let beacon = Arc::clone(&self.ctx.beacon);
        let metrics = self.ctx.metrics.clone();
        self.spawn_event(async move {
            match beacon.prepare_beacon_proposer(&items).await {
                Ok(()) => None,
                Err(e) => {
                    tracing::warn!(epoch, error = %e, "prepare_beacon_proposer failed; retried");
                    metrics.beacon_error("prepare_beacon_proposer");
                    Some(Event::PrepareFailed { epoch })
                }
            }
        });
    }

    /// Sets the per-slot gauges: peers and early messages held.
    fn record_gauges(&self) {
        let m = &self.ctx.metrics;
        m.peers.set(i64::try_from(self.ctx.transport.peer_count()).unwrap_or(i64::MAX));
        let held = self.committees.values().map(|c| c.retry.len()).sum::<usize>()
            + self.vals.values().map(|v| v.retry.len()).sum::<usize>();
        m.set_queue_depth("early_messages", held);
    }

    /// Fetches attestation data at 1/3 of `slot` when it has duties.
    fn schedule_slot(&mut self, slot: Slot) {
        if self.duties.get(&slot).is_none_or(Vec::is_empty) || !self.scheduled_slots.insert(slot) {
            return;
        }
        let net = Arc::clone(&self.ctx.network);
        let beacon = Arc::clone(&self.ctx.beacon);
        let metrics = self.ctx.metrics.clone();
        let at = net.slot_start(slot).saturating_add(net.slot_ms / 3);
        self.spawn_event(async move {
            tokio::time::sleep(Duration::from_millis(at.saturating_sub(now_ms()))).await;
            match beacon.attestation_data(slot, 0).await {
                Ok(data) => Some(Event::AttestationData { slot, data }),
                Err(e) => {
                    tracing::warn!(slot, error = %e, "no attestation data; committee duty skipped");
                    metrics
                        .beacon_errors
                        .get_or_create(&crate::metrics::EndpointLabels {
                            endpoint: "attestation_data".into(),
                        })
                        .inc();
                    None
                }
            }
        });
    }

    fn on_event(&mut self, event: Event) {
        match event {
            Event::Duties { epoch, attester, sync } => self.on_duties(epoch, attester, sync),
            Event::DutiesFailed { epoch, reason } => {
                tracing::warn!(epoch, %reason, "duties fetch failed; retried next slot");
                self.requested_epochs.remove(&epoch);
            }
            Event::AttestationData { slot, data } => self.start_committee_duties(slot, data),
            Event::RestoredHeights(heights) => self.on_restored_heights(&heights),
            Event::Response { target: Target::Committee(cid), id, response } => {
                self.feed(cid, Input::Response { id, response });
            }
            Event::Response { target: Target::Validator(vi), id, response } => {
                self.feed_validator(vi, Input::Response { id, response });
            }
            Event::ProposerDuties { duties } => {
                for d in duties {
                    let Some(v) = self.vals.get(&d.validator_index) else { continue };
                    let duty = validators::duty(BeaconRole::Proposer, &v.validator.share, d.slot);
                    self.add_validator_duty(duty);
                }
            }
            Event::Deferred { validator, id, request } => {
                self.serve_deferred(validator, id, request);
            }
            Event::StartExit { validator } => self.start_exit(validator),
            Event::Verified { committee, msg } => self.feed(committee, Input::Message(msg)),
            Event::PrepareFailed { epoch } => {
                if self.prepared_epoch == Some(epoch) {
                    self.prepared_epoch = None;
                }
            }
            Event::Validators(change) => self.on_validator_change(change),
            Event::Submitted { committee, slot } => {
                if let Some(c) = self.committees.get_mut(&committee) {
                    c.submitted.insert(slot);
                }
            }
        }
    }

    fn on_duties(&mut self, epoch: Epoch, attester: Vec<AttesterDuty>, sync: Vec<SyncDuty>) {
        let net = Arc::clone(&self.ctx.network);
        let now_slot = net.slot_at(now_ms());
        let base = |pubkey, validator_index, slot| ValidatorDuty {
            role: BeaconRole::Attester as u64,
            pub_key: pubkey,
            slot,
            validator_index,
            committee_index: 0,
            committee_length: 0,
            committees_at_slot: 0,
            validator_committee_index: 0,
            validator_sync_committee_indices: VariableList::empty(),
        };
        let mut added = 0usize;
        for d in attester {
            if d.slot < now_slot || !self.validators.contains_key(&d.validator_index) {
                continue;
            }
            let duty = ValidatorDuty {
                committee_index: d.committee_index,
                committee_length: d.committee_length,
                committees_at_slot: d.committees_at_slot,
                validator_committee_index: d.validator_committee_index,
                ..base(d.pubkey, d.validator_index, d.slot)
            };
            self.duties.entry(d.slot).or_default().push(duty.clone());
            // Every attester also runs the aggregator role; the selection proof decides.
            self.add_validator_duty(ValidatorDuty { role: BeaconRole::Aggregator as u64, ..duty });
            added = added.saturating_add(1);
        }
        for d in sync {
            if !self.validators.contains_key(&d.validator_index) {
                continue;
            }
            // The spec caps the indices at 13 (a validator rarely holds more positions).
            let mut indices = d.validator_sync_committee_indices.clone();
            indices.truncate(13);
            for slot in net.first_slot(epoch)..net.first_slot(epoch.saturating_add(1)) {
                if slot < now_slot {
                    continue;
                }
                let duty = ValidatorDuty {
                    role: BeaconRole::SyncCommittee as u64,
                    validator_sync_committee_indices: VariableList::new(indices.clone())
                        .unwrap_or_default(),
                    ..base(d.pubkey, d.validator_index, slot)
                };
                self.duties.entry(slot).or_default().push(duty.clone());
                self.add_validator_duty(ValidatorDuty {
                    role: BeaconRole::SyncCommitteeContribution as u64,
                    ..duty
                });
                added = added.saturating_add(1);
            }
        }
        tracing::debug!(operator = self.ctx.operator_id, epoch, duties = added, "duties fetched");
        self.schedule_slot(now_slot);
    }

    fn start_committee_duties(&mut self, slot: Slot, data: AttestationData) {
        self.attestation_data.insert(slot, data);
        let duties = self.duties.get(&slot).cloned().unwrap_or_default();
        let mut by_committee: BTreeMap<CommitteeId, Vec<ValidatorDuty>> = BTreeMap::new();
        for d in duties {
            if let Some(cid) = self.validators.get(&d.validator_index) {
                by_committee.entry(*cid).or_default().push(d);
            }
        }
        for (cid, validator_duties) in by_committee {
            let Some(c) = self.committees.get_mut(&cid) else { continue };
            if c.highest_decided.is_some_and(|h| h >= slot) {
                tracing::info!(slot, "committee duty already decided before; not started again");
                continue;
            }
            *c.duty_context.lock().unwrap_or_else(|e| e.into_inner()) = DutyContext {
                slot,
                expected_source: data.source.epoch,
                expected_target: data.target.epoch,
            };
            let duty = CommitteeDuty { slot, validator_duties };
            self.feed(cid, Input::StartDuty(Duty::Committee(duty)));
        }
    }

    fn on_incoming(&mut self, incoming: &Incoming) {
        let Ok(msg) = SignedSsvMessage::from_ssz_bytes(&incoming.data) else {
            tracing::debug!(from = incoming.from, "undecodable message dropped");
            return;
        };
        self.on_message(msg);
    }

    fn on_message(&mut self, msg: SignedSsvMessage) {
        let cid = self
            .committees
            .keys()
            .find(|cid| cid.message_id_belongs(&msg.ssv_message.msg_id))
            .copied();
        match cid {
            Some(cid) => {
                if let Some(msg) = self.precheck_partials(cid, msg, false) {
                    self.feed(cid, Input::Message(msg));
                }
            }
            None => self.on_validator_message(msg),
        }
    }

    /// Sends a committee's partial-signature message to the blocking pool for batch
    /// verification and quorum reconstruction ([`psig`]); it comes back as
    /// [`Event::Verified`]. Returns any other message (or all, when prechecks are off).
    /// `trusted`: our own signatures, remembered without verification.
    fn precheck_partials(
        &self,
        cid: CommitteeId,
        msg: SignedSsvMessage,
        trusted: bool,
    ) -> Option<SignedSsvMessage> {
        if !self.precheck || msg.ssv_message.msg_type != MsgType::PartialSignature as u64 {
            return Some(msg);
        }
        let Some(c) = self.committees.get(&cid) else { return Some(msg) };
        let Ok(psig) = msg.ssv_message.decode_partial_signatures() else { return Some(msg) };
        let items = psig_items(&c.committee.shares, &psig);
        if items.is_empty() {
            return Some(msg);
        }
        let verified = Arc::clone(&self.verified);
        let tx = self.events_tx.clone();
        tokio::task::spawn_blocking(move || {
            let stats = verified.verify_and_track(&items, trusted);
            if stats.invalid > 0 {
                tracing::debug!(?stats, "partial signatures that do not verify");
            }
            let _ = tx.send(Event::Verified { committee: cid, msg });
        });
        None
    }

    fn on_timeout(&mut self) {
        let now = now_ms();
        let due: Vec<CommitteeId> = self
            .committees
            .iter()
            .filter(|(_, c)| c.committee.poll_timeout().is_some_and(|t| t <= now))
            .map(|(id, _)| *id)
            .collect();
        for cid in due {
            self.feed(cid, Input::Timeout);
        }
        self.on_validator_timeouts();
    }

    /// Handles `input` and everything it leads to inline (own broadcasts, cached data),
    /// then retries early messages while any is accepted.
    fn feed(&mut self, cid: CommitteeId, input: Input) {
        let mut queue = VecDeque::from([input]);
        let mut accepted_any = false;
        while let Some(input) = queue.pop_front() {
            let retry_copy = match &input {
                Input::Message(m) => Some(m.clone()),
                _ => None,
            };
            let probe = observe::Probe::of(&input);
            let now = now_ms();
            let (res, out) = {
                let Some(c) = self.committees.get_mut(&cid) else { return };
                let mut out = Vec::new();
                let core = ssv_core::trace::CoreRef::Committee(cid.0);
                let traced = self.trace.as_ref().map(|t| t.begin(core, now, &input));
                let started = std::time::Instant::now();
                let res = c.committee.handle(now, input, &mut out);
                self.observer.core_time(probe.as_ref(), started.elapsed());
                if let (Some(t), Some(p)) = (self.trace.as_mut(), traced) {
                    t.finish(p, &res, &out);
                }
                (res, out)
            };
            self.observer.handled(probe, "committee", res.is_ok(), &out, now);
            match res {
                Ok(()) => accepted_any = true,
                Err(e) => self.on_rejected(cid, &e, retry_copy),
            }
            self.execute(cid, out, &mut queue);
            if queue.is_empty() && accepted_any {
                accepted_any = false;
                if let Some(c) = self.committees.get_mut(&cid) {
                    queue.extend(c.retry.drain(..).map(|(_, m)| Input::Message(m)));
                }
            }
        }
    }

    fn on_rejected(&mut self, cid: CommitteeId, e: &RunnerError, msg: Option<SignedSsvMessage>) {
        let Some(c) = self.committees.get_mut(&cid) else { return };
        let early = is_early(e);
        match msg {
            Some(m) if early => {
                let slot = message_slot(&m).unwrap_or(0);
                let now_slot = self.ctx.network.slot_at(now_ms());
                if slot.saturating_add(1) >= now_slot && c.retry.len() < RETRY_QUEUE_MAX {
                    c.retry.push_back((slot, m));
                }
            }
            Some(_) => tracing::trace!(error = %e, "message rejected"),
            None => {
                tracing::warn!(operator = self.ctx.operator_id, error = %e, "committee input failed");
            }
        }
    }

    fn execute(&mut self, cid: CommitteeId, out: Vec<Output>, queue: &mut VecDeque<Input>) {
        let Some(c) = self.committees.get_mut(&cid) else { return };
        let mut decided_in_batch: Option<(Slot, BeaconVote)> = None;
        let mut submissions = Vec::new();
        let mut own = Vec::new();
        for o in out {
            match o {
                Output::Qbft(ssv_core::qbft::Output::Broadcast(m)) | Output::Broadcast(m) => {
                    let data: Arc<[u8]> = Arc::from(m.as_ssz_bytes());
                    if let Err(e) = self.ctx.transport.broadcast(c.topic, data) {
                        tracing::warn!(error = %e, "broadcast failed");
                    }
                    // Gossipsub delivers a node's own publications to itself too. Our
                    // partial signatures take the precheck path (trusted), so the quorum
                    // they complete is reconstructed off the loop.
                    own.push(m);
                }
                Output::Qbft(ssv_core::qbft::Output::TimerSet { .. }) => {}
                Output::Qbft(ssv_core::qbft::Output::Decided(d)) => {
                    if let Ok(vote) = BeaconVote::from_ssz_bytes(&d.value) {
                        c.decided_votes.insert(d.height, vote);
                        decided_in_batch = Some((d.height, vote));
                    }
                    if c.highest_decided.is_none_or(|h| d.height > h) {
                        c.highest_decided = Some(d.height);
                    }
                    let store = Arc::clone(&self.ctx.store);
                    let executor = c.executor;
                    let bytes = d.aggregated_commit.as_ssz_bytes();
                    let height = d.height;
                    tokio::task::spawn_blocking(move || {
                        if let Err(e) = store.save_decided(&executor, height, &bytes) {
                            tracing::error!(height, error = %e, "could not store decided message");
                        }
                    });
                }
                Output::Request { id, request: Request::AttestationData { slot } } => {
                    if let Some(data) = self.attestation_data.get(&slot) {
                        queue.push_front(Input::Response {
                            id,
                            response: Response::AttestationData(*data),
                        });
                    } else {
                        let beacon = Arc::clone(&self.ctx.beacon);
                        let tx = self.events_tx.clone();
                        tokio::spawn(async move {
                            let response = match beacon.attestation_data(slot, 0).await {
                                Ok(d) => Response::AttestationData(d),
                                Err(e) => Response::Failed(e.to_string()),
                            };
                            let _ = tx.send(Event::Response {
                                target: Target::Committee(cid),
                                id,
                                response,
                            });
                        });
                    }
                }
                Output::Request { id, request: Request::Sign(items) } => {
                    let vote = decided_in_batch
                        .or_else(|| c.decided_votes.last_key_value().map(|(s, v)| (*s, *v)));
                    let slashing = Arc::clone(&self.ctx.slashing);
                    let secrets = Arc::clone(&c.secrets);
                    let metrics = self.ctx.metrics.clone();
                    let tx = self.events_tx.clone();
                    tokio::task::spawn_blocking(move || {
                        let results = sign(&slashing, &secrets, vote.map(|v| v.1), &items);
                        for (item, result) in items.iter().zip(&results) {
                            let Err(reason) = result else { continue };
                            tracing::error!(
                                validator = item.validator_index,
                                %reason,
                                "signing refused"
                            );
                            metrics.duty("committee", "slashing_refused");
                        }
                        let _ = tx.send(Event::Response {
                            target: Target::Committee(cid),
                            id,
                            response: Response::Signatures(results),
                        });
                    });
                }
                Output::Request { id, request } => {
                    // Validator-level requests come from the validator routers only.
                    tracing::warn!(?request, "request a committee runner does not make");
                    queue.push_front(Input::Response {
                        id,
                        response: Response::Failed("unexpected request".into()),
                    });
                }
                Output::Submit(s) => submissions.push(s),
            }
        }
        if !submissions.is_empty() {
            spawn_submit(&self.ctx, submissions, "committee", Some((self.events_tx.clone(), cid)));
        }
        for m in own {
            if let Some(m) = self.precheck_partials(cid, m, true) {
                queue.push_back(Input::Message(m));
            }
        }
    }
}

/// Submits `s` in a spawned task and counts the outcome under `role`.
/// Submits `batch` (one input's submissions) concurrently in a spawned task and counts
/// each outcome under `role`; then `notify` gets [`Event::Submitted`] for each slot of the
/// batch's attestations and sync messages (the pools hold all of them by then).
fn spawn_submit(
    ctx: &DriverContext,
    batch: Vec<Submission>,
    role: &'static str,
    notify: Option<(mpsc::UnboundedSender<Event>, CommitteeId)>,
) {
    let beacon = Arc::clone(&ctx.beacon);
    let net = Arc::clone(&ctx.network);
    let metrics = ctx.metrics.clone();
    tokio::spawn(async move {
        let results =
            futures::future::join_all(batch.iter().map(|s| submit(&beacon, &net, s))).await;
        for res in &results {
            let outcome = if res.is_ok() { "success" } else { "failed" };
            if let Err(e) = res {
                tracing::warn!(error = %e, "submission refused");
            }
            metrics
                .duties
                .get_or_create(&DutyLabels { role: role.into(), outcome: outcome.into() })
                .inc();
        }
        let Some((tx, committee)) = notify else { return };
        let slots: BTreeSet<Slot> = batch
            .iter()
            .filter_map(|s| match s {
                Submission::Attestation(a) => Some(a.data.slot),
                Submission::SingleAttestation(a) => Some(a.data.slot),
                Submission::SyncCommitteeMessage(m) => Some(m.slot),
                _ => None,
            })
            .collect();
        for slot in slots {
            let _ = tx.send(Event::Submitted { committee, slot });
        }
    });
}

/// Whether a message rejected with `e` may be accepted later (it came before its
/// proposal, duty or decision, or while the runner still held an earlier duty).
fn is_early(e: &RunnerError) -> bool {
    matches!(
        e,
        RunnerError::NoRunnerForSlot
            | RunnerError::NoDecidedValue
            | RunnerError::NoRunningDuty
            | RunnerError::PartialSigFutureSlot { .. }
            | RunnerError::Qbft(
                QbftError::NoProposalForCurrentRound
                    | QbftError::WrongMessageRound
                    | QbftError::FutureMessage
                    | QbftError::InstanceNotFound
            )
    )
}

/// The slot (height) a committee message is for.
fn message_slot(m: &SignedSsvMessage) -> Option<Slot> {
    if let Ok(q) = m.decode_qbft() {
        return Some(q.height);
    }
    m.ssv_message.decode_partial_signatures().ok().map(|p| p.slot)
}

/// Signs each of `items` with its share secret, each attestation only after the slashing
/// database accepted it (source and target from `vote`); one result per item, in order.
fn sign(
    slashing: &SlashingDatabase,
    secrets: &BTreeMap<BlsPublicKeyBytes, SecretKey>,
    vote: Option<BeaconVote>,
    items: &[SignRequest],
) -> Vec<SignResult> {
    items.iter().map(|item| sign_one(slashing, secrets, vote, item)).collect()
}

fn sign_one(
    slashing: &SlashingDatabase,
    secrets: &BTreeMap<BlsPublicKeyBytes, SecretKey>,
    vote: Option<BeaconVote>,
    item: &SignRequest,
) -> SignResult {
    let secret = secrets.get(&item.share_pub_key).ok_or(SignRefusal::MissingKey)?;
    if item.domain_type == BeaconDomainType::BEACON_ATTESTER {
        let vote = vote.ok_or_else(|| {
            SignRefusal::Other("attestation to sign without a decided vote".into())
        })?;
        let att = AttestationToSign {
            source_epoch: vote.source.epoch,
            target_epoch: vote.target.epoch,
            signing_root: item.signing_root,
        };
        slashing
            .check_and_insert_attestation(&item.share_pub_key, &att)
            .map_err(|e| SignRefusal::Slashable(e.to_string()))?;
    } else if item.domain_type == BeaconDomainType::BEACON_PROPOSER {
        return Err(SignRefusal::Other("block signing needs the proposer runner".into()));
    }
    Ok(secret.sign(&item.signing_root).to_bytes())
}

async fn submit(beacon: &BeaconClient, net: &BeaconNetwork, s: &Submission) -> Result<(), String> {
    let res = match s {
        Submission::Attestation(a) => {
            let version = net.data_version(net.epoch_at_slot(a.data.slot));
            beacon.submit_attestations(version, std::slice::from_ref(a)).await
        }
        Submission::SingleAttestation(a) => {
            let version = net.data_version(net.epoch_at_slot(a.data.slot));
            beacon.submit_attestations(version, std::slice::from_ref(a)).await
        }
        Submission::SyncCommitteeMessage(m) => {
            beacon.submit_sync_committee_messages(std::slice::from_ref(m)).await
        }
        other => return validators::submit_validator(beacon, net, other).await,
    };
    res.map_err(|e| e.to_string())
}

/// The partial-signature items of `psig` to verify, with the signers' share keys from
/// `shares` (by validator index); signatures of unknown validators or signers are left to
/// the core.
fn psig_items(
    shares: &BTreeMap<ValidatorIndex, Share>,
    psig: &ssv_core::types::PartialSignatureMessages,
) -> Vec<psig::Item> {
    psig.messages
        .iter()
        .filter_map(|m| {
            let share = shares.get(&m.validator_index)?;
            let member = share.committee.iter().find(|s| s.signer == m.signer)?;
            let n = share.committee.len();
            Some(psig::Item {
                validator_pub_key: share.validator_pub_key,
                share_key: member.share_pub_key,
                signer: m.signer,
                root: m.signing_root,
                signature: m.partial_signature,
                quorum: n.saturating_sub(n.saturating_sub(1) / 3),
            })
        })
        .collect()
}

/// `create` with the runners answering partial-signature checks and reconstructions from
/// `verified` when it holds them ([`psig::CachedBls`]).
fn with_cached_bls(
    create: ssv_core::runner::CreateRunner,
    verified: &Arc<psig::VerifiedCache>,
) -> ssv_core::runner::CreateRunner {
    let bls: Arc<dyn ssv_core::runner::ThresholdBls> =
        Arc::new(psig::CachedBls(Arc::clone(verified)));
    Box::new(move |shares| create(shares).with_bls(Arc::clone(&bls)))
}

fn runner_factory(
    ctx: &DriverContext,
    member: &CommitteeMember,
    executor: ExecutorId,
    duty_context: &Arc<Mutex<DutyContext>>,
    verifier: &CachedRsaVerifier,
) -> ssv_core::runner::CreateRunner {
    let network = Arc::clone(&ctx.network);
    let ctx = ctx.clone();
    let key = Arc::clone(&ctx.operator_key);
    let member = member.clone();
    let duty_context = Arc::clone(duty_context);
    let verifier = verifier.clone();
    Box::new(move |shares: BTreeMap<ValidatorIndex, Share>| {
        let dc = *duty_context.lock().unwrap_or_else(|e| e.into_inner());
        crate::trace::tap(|| ssv_core::trace::Answer::DutyContext {
            slot: dc.slot,
            expected_source: dc.expected_source,
            expected_target: dc.expected_target,
        });
        let config = Arc::new(QbftConfig {
            proposer: Box::new(RoundRobinProposer),
            value_check: Box::new(RunnerValueCheck::BeaconVote {
                protection: Arc::new(validators::DbProtection(Arc::clone(&ctx.slashing))),
                slot: dc.slot,
                share_pub_keys: shares.values().map(|s| s.share_pub_key).collect(),
                expected_source: dc.expected_source,
                expected_target: dc.expected_target,
            }),
            timeouts: Box::new(SlotRelativeTimeouts {
                genesis_ms: network.genesis_ms,
                slot_ms: network.slot_ms,
                anchor: SlotAnchor::OneThird,
            }),
            verifier: Box::new(verifier.clone()),
            signer: Box::new(SharedRsaSigner(Arc::clone(&key))),
            cut_off_round: CUT_OFF_ROUND,
        });
        let controller = Controller::new(Arc::clone(&config), executor.to_vec(), member.clone());
        CommitteeRunner::new(Arc::clone(&network), shares, controller, config)
    })
}
