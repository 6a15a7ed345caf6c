//! The node's duty side, started by `ssv-node run` when a contract is configured: sync the
//! SSVNetwork events (our operator id and shares), start P2P, build the duty driver and
//! run it until stopped, with the contract follower in the background.
//!
//! The follower's effects reach the running driver: validators added, removed or
//! liquidated start or stop without a restart (a new committee's subnet is subscribed and
//! the message-validation view refreshed), and `ValidatorExited` runs a voluntary exit.
//!
//! Message validation needs the duties of proposer, sync-contribution and exit messages
//! (`ErrNoDuty`): a task fetches the proposer and sync duties of the current and next
//! epoch at each slot and keeps them (and the exits scheduled) in the view.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use ssv_core::crypto::rsa::OperatorPrivateKey;
use ssv_core::types::{CommitteeId, OperatorId};
use ssv_core::validation::{StaticNetworkView, ValidationConfig, committee_subnet};
use tokio::sync::watch;

use super::NodeServices;
use super::driver::beacon_network;
use crate::beacon::{BeaconClient, Timeouts};
use crate::config::Config;
use crate::contract::handler::Effect;
use crate::contract::node_sync;
use crate::p2p_transport;

/// Why the duty side could not start.
#[derive(Debug, thiserror::Error)]
pub enum DutyServicesError {
    /// The operator key cannot be copied for the contract layer.
    #[error("operator key: {0}")]
    Key(String),
    /// The contract layer.
    #[error(transparent)]
    Contract(#[from] node_sync::ContractSyncError),
    /// The beacon node.
    #[error(transparent)]
    Beacon(#[from] crate::beacon::BeaconError),
    /// The driver.
    #[error(transparent)]
    Driver(#[from] super::driver::DriverError),
    /// P2P.
    #[error(transparent)]
    Network(#[from] crate::p2p::NetworkError),
    /// The node store.
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Completes once `stop` turns true (or its sender is gone).
pub async fn stopped(stop: &mut watch::Receiver<bool>) {
    while !*stop.borrow() {
        if stop.changed().await.is_err() {
            return;
        }
    }
}

/// Runs the duty side until `stop` turns true (see the module doc). Returns at once, with
/// nothing started, when no contract is configured.
///
/// # Errors
/// [`DutyServicesError`] for a failure before the driver runs.
pub async fn run(
    config: Config,
    services: NodeServices,
    mut stop: watch::Receiver<bool>,
) -> Result<(), DutyServicesError> {
    let key = OperatorPrivateKey::from_der(services.operator_key.pkcs1_der())
        .map_err(|e| DutyServicesError::Key(e.to_string()))?;
    let Some(mut follower) = node_sync::follower(&config, key)? else {
        tracing::info!("no SSVNetwork contract configured: no duties");
        return Ok(());
    };
    let store = Arc::clone(&services.store);
    // Our operator id comes from the contract; wait for its registration.
    let operator_id: OperatorId = loop {
        match node_sync::sync_once(&mut follower, &store).await {
            Ok(Some(id)) => break id,
            Ok(None) => tracing::info!("operator key not registered on the contract yet"),
            Err(e) => tracing::warn!(error = %e, "contract sync failed; retrying"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = stopped(&mut stop) => return Ok(()),
        }
    };
    tracing::info!(operator_id, shares = store.shares()?.len(), "contract synced");

    // Message validation needs the beacon clock before the driver exists.
    let urls: Vec<&str> = config.beacon_nodes.iter().map(String::as_str).collect();
    let slot = Duration::from_secs(config.preset().seconds_per_slot.max(1));
    let beacon = BeaconClient::new(&urls, Timeouts::for_slot(slot))?;
    let network = beacon_network(&beacon).await?;
    let domain = config.preset().ssv_domain_type;
    let view = Arc::new(RwLock::new(StaticNetworkView::new()));
    let validation = ValidationConfig {
        genesis_time_ms: network.genesis_ms,
        slot_duration_ms: network.slot_ms,
        slots_per_epoch: network.slots_per_epoch,
        ..ValidationConfig::mainnet(domain, network.genesis_ms)
    };
    let epochs_per_period = validation.epochs_per_sync_committee_period;
    let mut net = p2p_transport::start(
        &config,
        validation,
        Arc::clone(&view),
        Vec::new(),
        Arc::clone(&store),
    )
    .await?;
    tracing::info!(listen = ?net.listen_addrs, "p2p started");

    // Before the driver signs anything: restore decided history (heights, slashing
    // records) from the peers, against a view of the operators and committees stored.
    if let Ok(mut v) = view.write() {
        *v = p2p_transport::network_view(&store)?;
    }
    for share in store.shares()? {
        let ids: Vec<OperatorId> = share.committee.iter().map(|(id, _)| *id).collect();
        net.handle().subscribe_subnet(committee_subnet(&CommitteeId::from_operators(&ids)))?;
    }
    let network = Arc::new(network);
    let restore = p2p_transport::RestoreContext {
        store: Arc::clone(&store),
        slashing: Arc::clone(&services.slashing),
        network: Arc::clone(&network),
        domain,
        view: Arc::clone(&view),
        limits: crate::p2p::restore::RestoreLimits::default(),
    };
    net.restore(&restore).await?;

    // The driver finds our operator id among the operators the contract sync stored.
    let (driver, _unused_tx, _unused_inbox) =
        super::start_driver(&config, &services, Arc::new(net.transport.clone())).await?;
    tracing::debug!(operator_id, "driver started");
    // A restore after a cut-off raises the running driver's heights.
    let heights_to = driver.handle();
    net.watch_cut_off(restore, p2p_transport::CutOffDetector::for_network(&network), move |r| {
        heights_to.restored_heights(r.heights.clone());
    });
    // The view needs the validator indices Driver::new fetched.
    let fresh = p2p_transport::network_view(&store)?;
    if let Ok(mut v) = view.write() {
        *v = fresh;
    }

    let poll = Duration::from_millis(config.contract.poll_interval_ms.unwrap_or(12_000));
    let (effects_tx, effects_rx) = tokio::sync::mpsc::unbounded_channel();
    let follow = tokio::spawn(node_sync::follow(
        follower,
        Arc::clone(&store),
        poll,
        stop.clone(),
        effects_tx,
    ));
    let duties = Arc::new(std::sync::Mutex::new(ViewDuties::default()));
    tokio::spawn(feed_view_duties(
        Arc::new(beacon),
        (*network).clone(),
        epochs_per_period,
        Arc::clone(&store),
        Arc::clone(&view),
        Arc::clone(&duties),
        stop.clone(),
    ));
    let applier = EffectApplier {
        duties,
        driver: driver.handle(),
        store: Arc::clone(&store),
        view: Arc::clone(&view),
        p2p: net.handle().clone(),
        network: (*network).clone(),
        execution: alloy::providers::RootProvider::new_http(
            config.execution_node.parse().map_err(|e| {
                DutyServicesError::Key(format!("execution node URL {}: {e}", config.execution_node))
            })?,
        ),
    };
    tokio::spawn(applier.run(effects_rx));
    let inbox = std::mem::replace(&mut net.inbox, tokio::sync::mpsc::channel(1).1);
    let mut driver_stop = stop.clone();
    driver.run(inbox, async move { stopped(&mut driver_stop).await }).await;
    let _ = follow.await;
    net.shutdown().await;
    Ok(())
}

/// Applies the contract follower's effects to the running driver.
struct EffectApplier {
    duties: Arc<std::sync::Mutex<ViewDuties>>,
    driver: super::driver::DriverHandle,
    store: Arc<crate::store::NodeStore>,
    view: Arc<RwLock<StaticNetworkView>>,
    p2p: crate::p2p::swarm::P2pHandle,
    network: ssv_core::runner::BeaconNetwork,
    execution: alloy::providers::RootProvider,
}

impl EffectApplier {
    async fn run(self, mut rx: tokio::sync::mpsc::UnboundedReceiver<Vec<Effect>>) {
        while let Some(effects) = rx.recv().await {
            for effect in effects {
                self.apply(effect).await;
            }
        }
    }

    async fn apply(&self, effect: Effect) {
        match effect {
            Effect::StartValidator { validator, .. } => self.add(validator.public_key).await,
            Effect::Reactivated { public_keys } => {
                for pk in public_keys {
                    self.add(pk).await;
                }
            }
            Effect::StopValidator { public_key } => {
                self.driver.remove_validator(public_key);
            }
            Effect::Liquidated { public_keys } => {
                for pk in public_keys {
                    self.driver.remove_validator(pk);
                }
            }
            Effect::VoluntaryExit { public_key, block_number } => {
                use alloy::providers::Provider;
                let block = self
                    .execution
                    .get_block_by_number(alloy::eips::BlockNumberOrTag::Number(block_number))
                    .await;
                let now_slot = self.network.slot_at(super::driver::now_ms());
                // A block time ahead of the clock (a dev chain mining faster than a block
                // per second) counts as now.
                let block_slot = match block {
                    Ok(Some(b)) => {
                        self.network.slot_at(b.header.timestamp.saturating_mul(1000)).min(now_slot)
                    }
                    _ => {
                        tracing::warn!(block_number, "exit block time unknown; exit slot from now");
                        now_slot
                    }
                };
                let slot = block_slot.saturating_add(super::driver::EXIT_POSTPONE_SLOTS);
                let mut d = self.duties.lock().unwrap_or_else(|e| e.into_inner());
                d.exits.insert((slot, public_key));
                if let Ok(mut v) = self.view.write() {
                    d.apply(&mut v);
                }
                drop(d);
                self.driver.exit_validator(public_key, Some(block_slot));
            }
            _ => {}
        }
    }

    /// Starts a validator whose share the contract sync stored, then lets its messages in
    /// (validation view, committee subnet).
    async fn add(&self, public_key: [u8; 48]) {
        match self.driver.add_validator(public_key).await {
            Ok(cid) => {
                match p2p_transport::network_view(&self.store) {
                    Ok(fresh) => {
                        if let Ok(mut v) = self.view.write() {
                            *v = fresh;
                            self.duties.lock().unwrap_or_else(|e| e.into_inner()).apply(&mut v);
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "validation view not refreshed"),
                }
                if let Err(e) = self.p2p.subscribe_subnet(committee_subnet(&cid)) {
                    tracing::warn!(error = %e, "committee subnet not subscribed");
                }
            }
            Err(e) => {
                tracing::warn!(validator = %hex::encode(public_key), error = %e, "validator not started");
            }
        }
    }
}

/// Duties message validation checks, kept to re-apply after the view is rebuilt.
#[derive(Debug, Default)]
struct ViewDuties {
    /// `(epoch, slot, validator index)` of every proposer duty fetched.
    proposer: BTreeSet<(u64, u64, u64)>,
    /// Epochs whose proposer duties were fetched.
    proposer_epochs: BTreeSet<u64>,
    /// `(sync-committee period, validator index)` of our sync-committee members.
    sync: BTreeSet<(u64, u64)>,
    /// `(slot, validator public key)` of the exits scheduled.
    exits: BTreeSet<(u64, [u8; 48])>,
}

impl ViewDuties {
    fn apply(&self, view: &mut StaticNetworkView) {
        for (epoch, slot, index) in &self.proposer {
            view.add_proposer_duty(*epoch, *slot, *index);
        }
        for epoch in &self.proposer_epochs {
            view.set_proposer_epoch_known(*epoch);
        }
        for (period, index) in &self.sync {
            view.add_sync_committee_duty(*period, *index);
        }
        for (slot, pk) in &self.exits {
            view.set_voluntary_exit_duties(*slot, *pk, 1);
        }
    }

    /// Forgets proposer duties before `epoch`.
    fn prune(&mut self, epoch: u64) {
        self.proposer.retain(|(e, _, _)| *e >= epoch);
        self.proposer_epochs.retain(|e| *e >= epoch);
    }
}

/// Our validators' indices (those the store has metadata for).
fn our_indices(store: &crate::store::NodeStore) -> Vec<u64> {
    store
        .shares()
        .unwrap_or_default()
        .iter()
        .filter_map(|s| {
            let pk: [u8; 48] =
                hex::decode(s.validator_pubkey.trim_start_matches("0x")).ok()?.try_into().ok()?;
            store.validator_metadata(&pk).ok().flatten().map(|m| m.index)
        })
        .collect()
}

/// At each slot, fetches the proposer duties and our validators' sync duties of the
/// current and next epoch (once each, the sync duties again when validators were added)
/// into the validation view.
async fn feed_view_duties(
    beacon: Arc<BeaconClient>,
    network: ssv_core::runner::BeaconNetwork,
    epochs_per_period: u64,
    store: Arc<crate::store::NodeStore>,
    view: Arc<RwLock<StaticNetworkView>>,
    duties: Arc<std::sync::Mutex<ViewDuties>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut fetched: BTreeSet<u64> = BTreeSet::new();
    let mut sync_fetched: BTreeSet<(u64, usize)> = BTreeSet::new();
    loop {
        let now = super::driver::now_ms();
        let epoch = network.epoch_at(now);
        let indices = our_indices(&store);
        for e in [epoch, epoch.saturating_add(1)] {
            let mut got = ViewDuties::default();
            if !fetched.contains(&e)
                && let Ok(p) = beacon.proposer_duties(e).await
            {
                fetched.insert(e);
                got.proposer_epochs.insert(e);
                got.proposer.extend(p.data.iter().map(|d| (e, d.slot, d.validator_index)));
            }
            if !indices.is_empty()
                && !sync_fetched.contains(&(e, indices.len()))
                && let Ok(s) = beacon.sync_duties(e, &indices).await
            {
                sync_fetched.insert((e, indices.len()));
                let period = e.checked_div(epochs_per_period).unwrap_or(0);
                got.sync.extend(s.data.iter().map(|d| (period, d.validator_index)));
            }
            let mut d = duties.lock().unwrap_or_else(|e| e.into_inner());
            d.proposer.extend(got.proposer);
            d.proposer_epochs.extend(got.proposer_epochs);
            d.sync.extend(got.sync);
            d.prune(epoch.saturating_sub(1));
            if let Ok(mut v) = view.write() {
                d.apply(&mut v);
            }
        }
        fetched.retain(|e| e.saturating_add(1) >= epoch);
        sync_fetched.retain(|(e, _)| e.saturating_add(1) >= epoch);
        let next = network.slot_start(network.slot_at(now).saturating_add(1));
        let wait = Duration::from_millis(next.saturating_sub(now).saturating_add(5));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = stopped(&mut stop) => return,
        }
    }
}
