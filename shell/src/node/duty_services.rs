//! The node's duty side, started by `ssv-node run` when a contract is configured: sync the
//! SSVNetwork events (our operator id and shares), start P2P, build the duty driver and
//! run it until stopped, with the contract follower in the background.
//!
//! Validators added after start are stored by the follower but run only after a restart
//! (the driver loads its shares once).

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
    net.watch_cut_off(restore, p2p_transport::CutOffDetector::for_network(&network));

    // The driver finds our operator id among the operators the contract sync stored.
    let (driver, _unused_tx, _unused_inbox) =
        super::start_driver(&config, &services, Arc::new(net.transport.clone())).await?;
    tracing::debug!(operator_id, "driver started");
    // The view needs the validator indices Driver::new fetched.
    let fresh = p2p_transport::network_view(&store)?;
    if let Ok(mut v) = view.write() {
        *v = fresh;
    }

    let poll = Duration::from_millis(config.contract.poll_interval_ms.unwrap_or(12_000));
    let follow = tokio::spawn(node_sync::follow(follower, Arc::clone(&store), poll, stop.clone()));
    let inbox = std::mem::replace(&mut net.inbox, tokio::sync::mpsc::channel(1).1);
    let mut driver_stop = stop.clone();
    driver.run(inbox, async move { stopped(&mut driver_stop).await }).await;
    let _ = follow.await;
    net.shutdown().await;
    Ok(())
}
