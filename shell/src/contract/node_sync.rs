//! The contract layer inside `ssv-node run`: sync the SSVNetwork events of the configured
//! contract into `contract.redb` before the driver starts, mirror our operators and shares
//! into the node store, then keep following in the background.

use std::sync::Arc;
use std::time::Duration;

use alloy::primitives::Address;
use ssv_core::crypto::rsa::OperatorPrivateKey;
use ssv_core::types::OperatorId;
use tokio::sync::watch;

use super::follower::{FollowError, Follower, FollowerConfig, RpcSource};
use super::handler::{Effect, EventHandler};
use super::store_redb::{ContractDbError, RedbContractStore};
use crate::config::Config;
use crate::store::NodeStore;

/// Why the contract sync failed.
#[derive(Debug, thiserror::Error)]
pub enum ContractSyncError {
    /// The configured address is not an address.
    #[error("contract address {0:?} is not a 0x-hex address")]
    Address(String),
    /// The execution node URL does not parse.
    #[error("execution node: {0}")]
    Source(String),
    /// The contract database.
    #[error(transparent)]
    Db(#[from] ContractDbError),
    /// Following failed.
    #[error(transparent)]
    Follow(#[from] FollowError),
}

/// A follower over the node's execution endpoint and `contract.redb`.
pub type NodeFollower = Follower<RpcSource, RedbContractStore>;

/// Builds the follower of `config`'s contract (`None` when no contract is configured).
///
/// # Errors
/// [`ContractSyncError`] for a bad address or URL, or a database that cannot be opened.
pub fn follower(
    config: &Config,
    key: OperatorPrivateKey,
) -> Result<Option<NodeFollower>, ContractSyncError> {
    let Some(address) = config.contract_address() else { return Ok(None) };
    let contract: Address =
        address.parse().map_err(|_| ContractSyncError::Address(address.clone()))?;
    let source = RpcSource::new(&config.execution_node, contract)
        .map_err(|e| ContractSyncError::Source(e.to_string()))?;
    let store = RedbContractStore::open(config.contract_db_path())?;
    let preset = config.preset();
    let follower_config = FollowerConfig {
        start_block: config.contract.start_block.unwrap_or(preset.ssv_contract_start_block),
        confirmation_depth: config.contract.confirmation_depth.unwrap_or(8),
        poll_interval: Duration::from_millis(config.contract.poll_interval_ms.unwrap_or(12_000)),
        ..FollowerConfig::default()
    };
    Ok(Some(Follower::new(source, EventHandler::new(store, Some(key)), follower_config)))
}

/// Syncs to the confirmed head and mirrors the result into `store`; returns our operator
/// id once the contract registered our key.
///
/// # Errors
/// [`ContractSyncError`].
pub async fn sync_once(
    follower: &mut NodeFollower,
    store: &NodeStore,
) -> Result<Option<OperatorId>, ContractSyncError> {
    sync_step(follower, store, &mut Vec::new()).await
}

/// As [`sync_once`], also pushing the effects of the events handled to `effects` (after
/// the mirror, so the node store already holds what they name).
///
/// # Errors
/// [`ContractSyncError`].
pub async fn sync_step(
    follower: &mut NodeFollower,
    store: &NodeStore,
    effects: &mut Vec<Effect>,
) -> Result<Option<OperatorId>, ContractSyncError> {
    follower.sync_to_confirmed(effects).await?;
    let contract = follower.handler().store();
    contract.mirror_into(store)?;
    Ok(contract.state().own_operator_id)
}

/// Follows the contract until `stop` turns true, every `poll`, mirroring after every
/// step and sending each step's effects (when any) to `effects`. Errors are logged and the
/// step retried at the next poll (the follower already backs off inside).
pub async fn follow(
    mut follower: NodeFollower,
    store: Arc<NodeStore>,
    poll: Duration,
    mut stop: watch::Receiver<bool>,
    effects: tokio::sync::mpsc::UnboundedSender<Vec<Effect>>,
) {
    loop {
        if *stop.borrow() {
            return;
        }
        let mut step = Vec::new();
        match sync_step(&mut follower, &store, &mut step).await {
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "contract sync failed; retrying"),
        }
        if !step.is_empty() {
            let _ = effects.send(step);
        }
        tokio::select! {
            _ = tokio::time::sleep(poll) => {}
            _ = stop.changed() => {}
        }
    }
}
