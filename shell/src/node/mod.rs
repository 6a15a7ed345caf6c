//! `ssv-node run`: start-up checks, the services around the core, and graceful shutdown.
//!
//! Start-up, in order, each failing with an error that names the cause: the data folder,
//! the operator key (a wrong keystore password is reported as such), the node database
//! (a corrupt file or another network's is refused), the beacon node (down, or on another
//! network than the configured preset), the slashing protection database (its chain must
//! be the beacon node's), the metrics server. Then the node is ready and the driver runs
//! until SIGINT or SIGTERM; shutdown stops taking inputs, waits (up to
//! `shutdown_timeout_ms`) for the writes in flight, syncs the trace and stops the servers.

pub mod beacon_check;
pub mod driver;
pub mod duty_services;
pub mod network;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinSet;

use crate::config::Config;
use crate::keys::{self, KeyError};
use crate::metrics::{Metrics, MetricsServer, Readiness};
use crate::slashing_protection::{SlashingDatabase, SlashingProtectionError};
use crate::store::{NodeStore, StoreError};

pub use beacon_check::{BeaconCheckError, Genesis};

/// Why the node could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    /// The data folder cannot be created.
    #[error("cannot create data folder {}: {source}", path.display())]
    DataDir {
        /// The folder.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The operator key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The node database.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The slashing protection database.
    #[error(transparent)]
    SlashingProtection(#[from] SlashingProtectionError),
    /// The beacon node.
    #[error(transparent)]
    Beacon(#[from] BeaconCheckError),
    /// The metrics endpoint cannot bind.
    #[error("cannot serve metrics on {addr}: {source}")]
    Metrics {
        /// The address.
        addr: std::net::SocketAddr,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The async runtime cannot start.
    #[error("cannot start the async runtime: {0}")]
    Runtime(#[source] std::io::Error),
}

/// What a started node holds (shared with the driver).
#[derive(Debug, Clone)]
pub struct NodeServices {
    /// The node database.
    pub store: Arc<NodeStore>,
    /// Slashing protection.
    pub slashing: Arc<SlashingDatabase>,
    /// Metrics.
    pub metrics: Metrics,
    /// Readiness shown by `/ready`.
    pub readiness: Readiness,
    /// The beacon chain's genesis, as the beacon node reported it.
    pub genesis: Genesis,
    /// The operator key.
    pub operator_key: Arc<ssv_core::crypto::rsa::OperatorPrivateKey>,
}

/// Runs the node on a new multi-threaded runtime until SIGINT or SIGTERM.
pub fn run_blocking(config: Config) -> Result<(), NodeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(NodeError::Runtime)?;
    runtime.block_on(run(config, shutdown_signal()))
}

/// Completes on the first SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Starts every service of `config`, runs until `shutdown` completes, then stops
/// gracefully.
pub async fn run(config: Config, shutdown: impl Future<Output = ()>) -> Result<(), NodeError> {
    crate::logging::init(&config.log);
    let readiness = Readiness::default();
    let metrics = Metrics::new();
    let server = if config.metrics.enabled {
        let addr = config.metrics.listen;
        let server = MetricsServer::start(addr, metrics.clone(), readiness.clone())
            .await
            .map_err(|source| NodeError::Metrics { addr, source })?;
        tracing::info!(addr = %server.addr, "serving /metrics, /health and /ready");
        Some(server)
    } else {
        None
    };
    let started = start(&config, metrics, readiness.clone()).await;
    let services = match started {
        Ok(s) => s,
        Err(e) => {
            if let Some(server) = server {
                server.stop().await;
            }
            return Err(e);
        }
    };
    readiness.set_ready();
    tracing::info!(
        network = %config.network,
        genesis_time = services.genesis.genesis_time,
        "node ready"
    );

    // The duty side runs until shutdown. With a contract: contract sync, P2P and the
    // driver ([`duty_services`]). Without one, the driver runs on a transport that sends
    // nothing and receives nothing (a lone operator never reaches a quorum).
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let mut in_flight: JoinSet<()> = JoinSet::new();
    if config.contract_address().is_some() {
        let duty_config = config.clone();
        let duty_services = services.clone();
        in_flight.spawn(async move {
            if let Err(e) = duty_services::run(duty_config, duty_services, stop_rx).await {
                tracing::error!(error = %e, "duty services stopped");
            }
        });
    } else {
        match start_driver(&config, &services, Arc::new(network::NoopTransport)).await {
            Ok((driver, inbox_tx, inbox)) => {
                let mut stop = stop_rx;
                in_flight.spawn(async move {
                    let _keep_inbox_open = inbox_tx;
                    driver.run(inbox, async move { duty_services::stopped(&mut stop).await }).await;
                });
            }
            Err(e) => tracing::error!(error = %e, "duty driver not started"),
        }
    }
    shutdown.await;
    tracing::info!("shutting down: finishing writes in flight");
    readiness.set_not_ready("shutting down");
    let _ = stop_tx.send(true);
    let grace = Duration::from_millis(config.shutdown_timeout_ms);
    if tokio::time::timeout(grace, async { while in_flight.join_next().await.is_some() {} })
        .await
        .is_err()
    {
        tracing::warn!("writes still in flight after the shutdown timeout");
    }
    if let Some(server) = server {
        server.stop().await;
    }
    drop(services);
    tracing::info!("stopped");
    Ok(())
}

/// The start-up checks (see the module doc), returning the services.
pub async fn start(
    config: &Config,
    metrics: Metrics,
    readiness: Readiness,
) -> Result<NodeServices, NodeError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|source| NodeError::DataDir { path: config.data_dir.clone(), source })?;
    let key = keys::load_operator_key(
        &config.operator_key.path,
        config.operator_key.password_file.as_deref(),
    )?;
    tracing::info!(public_key = %key.public_key().to_base64_pem(), "operator key loaded");
    let store = NodeStore::open(config.node_db_path(), config.network.as_str())?;
    readiness.set_not_ready("waiting for the beacon node");
    let preset = config.preset();
    let genesis = beacon_check::check_beacon_nodes(&config.beacon_nodes, &preset).await?;
    let slashing =
        SlashingDatabase::open(config.slashing_db_path(), genesis.genesis_validators_root)?;
    Ok(NodeServices {
        store: Arc::new(store),
        slashing: Arc::new(slashing),
        metrics,
        readiness,
        genesis,
        operator_key: Arc::new(key),
    })
}

/// The sending side of a driver's inbox (kept by the caller so the inbox stays open).
pub type InboxSender = tokio::sync::mpsc::Sender<network::Incoming>;
/// A driver's inbox.
pub type InboxReceiver = tokio::sync::mpsc::Receiver<network::Incoming>;

/// Builds the duty driver of a started node over `transport`: its beacon client over the
/// configured nodes, the beacon network they report, and the shares in the store. Returns
/// the driver and its inbox (the transport's receiving side feeds the sender).
///
/// # Errors
/// [`driver::DriverError`] when the beacon node or the store cannot provide what the driver
/// needs.
pub async fn start_driver(
    config: &Config,
    services: &NodeServices,
    transport: Arc<dyn network::Transport>,
) -> Result<(driver::Driver, InboxSender, InboxReceiver), driver::DriverError> {
    let urls: Vec<&str> = config.beacon_nodes.iter().map(String::as_str).collect();
    let preset = config.preset();
    let slot = Duration::from_secs(preset.seconds_per_slot.max(1));
    let beacon =
        Arc::new(crate::beacon::BeaconClient::new(&urls, crate::beacon::Timeouts::for_slot(slot))?);
    let network = Arc::new(driver::beacon_network(&beacon).await?);
    // This node's operator id: the registered operator with this key (0 before
    // registration, when the node holds no share either).
    let own_key = services.operator_key.public_key().to_base64_pem();
    let operator_id = services
        .store
        .operators()?
        .into_iter()
        .find(|o| o.public_key_base64 == own_key)
        .map_or(0, |o| o.id);
    let ctx = driver::DriverContext {
        operator_id,
        operator_key: Arc::clone(&services.operator_key),
        domain_type: preset.ssv_domain_type,
        network,
        store: Arc::clone(&services.store),
        slashing: Arc::clone(&services.slashing),
        beacon,
        transport,
        metrics: services.metrics.clone(),
    };
    let mut driver = driver::Driver::new(ctx).await?;
    if let Some(dir) = &config.trace.dir {
        let t = &config.trace;
        driver
            .enable_trace(config.network.as_str(), dir, t.max_file_bytes, t.max_files)
            .map_err(|e| driver::DriverError::Trace(format!("{}: {e}", dir.display())))?;
    }
    let (tx, rx) = tokio::sync::mpsc::channel(network::INBOX_CAPACITY);
    Ok((driver, tx, rx))
}
