//! Restoring a node from its peers' decided history before it signs anything, at start and
//! when it comes back after being cut off.
//!
//! [`restore`] asks the connected peers for the decided messages of the node's committees
//! since its highest stored height ([`sync_decided`]: every message checked against the
//! committee's operators, quorum and RSA signatures), stores them in the node store (where
//! the driver reads its highest decided height per committee: it starts no QBFT instance at
//! or below it), and records each restored vote in slashing-protection history for the
//! committee's shares, so no share can later sign a conflicting attestation.
//!
//! Slashing records: a decided committee vote at slot `h` becomes, for every share of the
//! committee, the attestation `(source, target)` with the signing root of
//! `AttestationData { slot: h, index: 0, vote }` (Electra on; before Electra the committee
//! index is not in the vote and nothing is recorded). Only votes whose target epoch is
//! before the current epoch are recorded: a vote of the current epoch would refuse the
//! share's own attestation later in the epoch (another slot, another root), and for the
//! current epoch the restored height already keeps the node out of those instances. The
//! first vote recorded per target epoch wins; later ones of the same epoch are double votes
//! the database refuses, which is expected and not an error.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::time::Duration;

use ssv_core::beacon::{AttestationData, DataVersion};
use ssv_core::crypto::signing::{BeaconDomainType, compute_signing_root};
use ssv_core::runner::BeaconNetwork;
use ssv_core::slashing::AttestationToSign;
use ssv_core::types::{
    BeaconVote, BlsPublicKeyBytes, CommitteeId, DomainType, Height, MessageId, OperatorId,
    RunnerRole, Slot,
};
use ssv_core::validation::NetworkView;
use tree_hash::TreeHash as _;

use super::NetworkError;
use super::history::DecidedHistory;
use super::swarm::{P2pHandle, sync_decided};
use crate::slashing_protection::SlashingDatabase;
use crate::store::{NodeStore, StoreError};

/// Heights looked back when nothing is stored for a committee: two epochs of mainnet slots
/// (the window a peer keeps runners for is shorter; older decisions cannot be signed again).
pub const DEFAULT_LOOKBACK: u64 = 64;
/// How long [`restore`] waits for a first peer before it gives up and proceeds.
pub const DEFAULT_PEER_WAIT: Duration = Duration::from_secs(5);
/// Bound on the whole history sync.
pub const DEFAULT_SYNC_TIMEOUT: Duration = Duration::from_secs(20);

/// One committee instance to restore: its QBFT identifier and this node's share public
/// keys in it (what slashing protection is keyed by).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitteeToSync {
    /// The committee's operators, ascending.
    pub operators: Vec<OperatorId>,
    /// `MessageId` of the committee role (the QBFT identifier, the store's executor id).
    pub msg_id: MessageId,
    /// This node's share public keys of the committee's validators.
    pub share_keys: Vec<BlsPublicKeyBytes>,
}

/// The committees of this node's (non-liquidated) shares in `store`, on `domain`.
///
/// # Errors
/// [`StoreError`] reading the shares.
pub fn committees_to_sync(
    store: &NodeStore,
    domain: DomainType,
) -> Result<Vec<CommitteeToSync>, StoreError> {
    let mut by_ops: BTreeMap<Vec<OperatorId>, Vec<BlsPublicKeyBytes>> = BTreeMap::new();
    for s in store.shares()? {
        if s.liquidated {
            continue;
        }
        let ids: Vec<OperatorId> = s.committee.iter().map(|(id, _)| *id).collect();
        let keys = by_ops.entry(ids).or_default();
        if let Ok(Ok(pk)) =
            hex::decode(s.share_pubkey.trim_start_matches("0x")).map(<[u8; 48]>::try_from)
        {
            keys.push(pk);
        }
    }
    Ok(by_ops
        .into_iter()
        .map(|(operators, share_keys)| {
            let cid = CommitteeId::from_operators(&operators);
            let msg_id = MessageId::for_committee(domain, RunnerRole::Committee, &cid.0);
            CommitteeToSync { operators, msg_id, share_keys }
        })
        .collect())
}

/// Bounds of a [`restore`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RestoreLimits {
    /// Wait this long for a first connected peer; with none, proceed without syncing.
    pub peer_wait: Duration,
    /// Bound on the history requests (what arrived before it is kept).
    pub timeout: Duration,
    /// Heights looked back when nothing is stored for a committee.
    pub lookback: u64,
}

impl Default for RestoreLimits {
    fn default() -> Self {
        Self {
            peer_wait: DEFAULT_PEER_WAIT,
            timeout: DEFAULT_SYNC_TIMEOUT,
            lookback: DEFAULT_LOOKBACK,
        }
    }
}

/// What a [`restore`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RestoreReport {
    /// Connected peers when the sync started (0: nothing was asked).
    pub peers: usize,
    /// Whether the sync hit [`RestoreLimits::timeout`].
    pub timed_out: bool,
    /// The highest decided height per committee instance after the sync.
    pub heights: BTreeMap<MessageId, Height>,
    /// Decided messages fetched from peers and stored.
    pub fetched: usize,
    /// Attestations recorded in slashing protection.
    pub slashing_records: usize,
}

/// Syncs the decided history of `committees` from the connected peers of `handle` up to
/// `current` (the current slot), stores it in `store` (through `history`), and records the
/// restored votes in `slashing` (see the module doc). Waits up to `limits.peer_wait` for a
/// peer; without one it logs and returns with nothing fetched. Call it before the driver
/// signs anything.
///
/// # Errors
/// [`NetworkError::Stopped`] when the network task is gone; [`NetworkError::History`] for
/// a store failure. A slashing-database failure is logged (the node then runs with the
/// restored heights only).
#[allow(clippy::too_many_arguments)]
pub async fn restore<V: NetworkView + Send + Sync>(
    handle: &P2pHandle,
    history: &dyn DecidedHistory,
    view: &RwLock<V>,
    slashing: &SlashingDatabase,
    network: &BeaconNetwork,
    committees: &[CommitteeToSync],
    current: Slot,
    limits: RestoreLimits,
) -> Result<RestoreReport, NetworkError> {
    let mut report = RestoreReport::default();
    let store_err = |e: super::history::HistoryError| NetworkError::History(e.to_string());
    let deadline = tokio::time::Instant::now() + limits.peer_wait;
    loop {
        report.peers = handle.connected_peers().await?.len();
        if report.peers > 0 || tokio::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut before = BTreeMap::new();
    for c in committees {
        before.insert(c.msg_id, history.highest_decided(&c.msg_id).map_err(store_err)?);
    }
    if report.peers == 0 {
        tracing::warn!(
            waited_ms = limits.peer_wait.as_millis() as u64,
            "no peers: starting without decided-history sync"
        );
    } else {
        let instances: Vec<MessageId> = committees.iter().map(|c| c.msg_id).collect();
        let sync = sync_decided(handle, history, view, &instances, current, limits.lookback);
        match tokio::time::timeout(limits.timeout, sync).await {
            Ok(result) => {
                result?;
            }
            Err(_) => {
                report.timed_out = true;
                tracing::warn!(
                    timeout_ms = limits.timeout.as_millis() as u64,
                    "decided-history sync timed out; keeping what arrived"
                );
            }
        }
    }
    let current_epoch = network.epoch_at_slot(current);
    for c in committees {
        let Some(high) = history.highest_decided(&c.msg_id).map_err(store_err)? else {
            continue;
        };
        report.heights.insert(c.msg_id, high);
        let from = match before.get(&c.msg_id).copied().flatten() {
            Some(h) if h >= high => continue,
            Some(h) => h.saturating_add(1),
            None => current.saturating_sub(limits.lookback),
        };
        let fetched =
            history.decided_range(&c.msg_id, from, high, usize::MAX).map_err(store_err)?;
        report.fetched = report.fetched.saturating_add(fetched.len());
        for (height, bytes) in fetched {
            report.slashing_records = report.slashing_records.saturating_add(record_vote(
                slashing,
                network,
                &c.share_keys,
                height,
                &bytes,
                current_epoch,
            ));
        }
    }
    tracing::info!(
        peers = report.peers,
        fetched = report.fetched,
        slashing_records = report.slashing_records,
        timed_out = report.timed_out,
        heights = ?report.heights.values().collect::<Vec<_>>(),
        "decided history restored"
    );
    Ok(report)
}

/// The attestation a share would have signed for the committee vote decided at `slot`,
/// when its fork puts no committee index in the data (Electra on).
pub fn restored_attestation(
    network: &BeaconNetwork,
    slot: Slot,
    vote: &BeaconVote,
) -> Option<AttestationToSign> {
    let epoch = network.epoch_at_slot(slot);
    if network.data_version(epoch) < DataVersion::Electra {
        return None;
    }
    let data = AttestationData {
        slot,
        index: 0,
        beacon_block_root: vote.block_root,
        source: vote.source,
        target: vote.target,
    };
    let domain = network.domain(epoch, BeaconDomainType::BEACON_ATTESTER);
    Some(AttestationToSign {
        source_epoch: vote.source.epoch,
        target_epoch: vote.target.epoch,
        signing_root: compute_signing_root(&data.tree_hash_root().0, &domain),
    })
}

/// Records the vote in the decided message `bytes` for every share; returns how many
/// records were written.
fn record_vote(
    slashing: &SlashingDatabase,
    network: &BeaconNetwork,
    share_keys: &[BlsPublicKeyBytes],
    slot: Slot,
    bytes: &[u8],
    current_epoch: u64,
) -> usize {
    use ssv_core::types::SignedSsvMessage;
    use ssv_core::types::ssz::Decode as _;
    let Ok(signed) = SignedSsvMessage::from_ssz_bytes(bytes) else { return 0 };
    let Ok(vote) = BeaconVote::from_ssz_bytes(&signed.full_data) else { return 0 };
    if vote.target.epoch >= current_epoch {
        return 0;
    }
    let Some(att) = restored_attestation(network, slot, &vote) else { return 0 };
    let mut written = 0usize;
    for pk in share_keys {
        match slashing.check_and_insert_attestation(pk, &att) {
            Ok(ssv_core::slashing::Safe::Valid) => written = written.saturating_add(1),
            Ok(_)
            | Err(crate::slashing_protection::SlashingProtectionError::Attestation { .. }) => {}
            Err(e) => tracing::error!(slot, error = %e, "cannot record restored vote"),
        }
    }
    written
}
