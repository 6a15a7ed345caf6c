//! The start-up check of the beacon node: reachable, and on the configured network.
//!
//! Reads `GET /eth/v1/beacon/genesis` (Beacon API `getGenesis`). A named network's preset
//! must match the node's genesis validators root, genesis time and genesis fork version;
//! the devnet takes them from the beacon node. (The Beacon API client of `shell/src/beacon`
//! replaces this direct call once merged.)

use std::time::Duration;

use serde::Deserialize;
use ssv_core::types::Root;

use crate::config::NetworkPreset;

/// How long the start-up check waits for each beacon node.
pub const GENESIS_TIMEOUT: Duration = Duration::from_secs(5);

/// The beacon chain's genesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Genesis {
    /// Unix seconds.
    pub genesis_time: u64,
    /// The genesis validators root.
    pub genesis_validators_root: Root,
    /// `GENESIS_FORK_VERSION`.
    pub genesis_fork_version: [u8; 4],
}

/// Why no beacon node passed the check.
#[derive(Debug, thiserror::Error)]
pub enum BeaconCheckError {
    /// No URL configured.
    #[error("no beacon node configured")]
    NoBeaconNode,
    /// The node did not answer (down, wrong URL, timeout).
    #[error("beacon node {url} is unreachable: {reason}")]
    Unreachable {
        /// Its URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node answered something that is not a genesis.
    #[error("beacon node {url} answered an invalid genesis: {reason}")]
    InvalidAnswer {
        /// Its URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The node is on another chain.
    #[error(
        "beacon node {url} is on another network: its {what} is {found}, the {network} \
         preset's is {expected}"
    )]
    WrongNetwork {
        /// Its URL.
        url: String,
        /// The configured network.
        network: String,
        /// Which value differs.
        what: &'static str,
        /// The node's value.
        found: String,
        /// The preset's value.
        expected: String,
    },
}

#[derive(Deserialize)]
struct GenesisResponse {
    data: GenesisData,
}

#[derive(Deserialize)]
struct GenesisData {
    genesis_time: String,
    genesis_validators_root: String,
    genesis_fork_version: String,
}

fn hex_array<const N: usize>(text: &str) -> Option<[u8; N]> {
    hex::decode(text.trim_start_matches("0x")).ok()?.try_into().ok()
}

/// Fetches one beacon node's genesis.
pub async fn fetch_genesis(url: &str) -> Result<Genesis, BeaconCheckError> {
    let unreachable = |reason: String| BeaconCheckError::Unreachable { url: url.into(), reason };
    let invalid = |reason: String| BeaconCheckError::InvalidAnswer { url: url.into(), reason };
    let client = reqwest::Client::builder()
        .timeout(GENESIS_TIMEOUT)
        .build()
        .map_err(|e| unreachable(e.to_string()))?;
    let endpoint = format!("{}/eth/v1/beacon/genesis", url.trim_end_matches('/'));
    let response = client.get(&endpoint).send().await.map_err(|e| unreachable(e.to_string()))?;
    if !response.status().is_success() {
        return Err(unreachable(format!("GET /eth/v1/beacon/genesis: HTTP {}", response.status())));
    }
    let body: GenesisResponse = response.json().await.map_err(|e| invalid(e.to_string()))?;
    Ok(Genesis {
        genesis_time: body.data.genesis_time.parse().map_err(|_| invalid("genesis_time".into()))?,
        genesis_validators_root: hex_array(&body.data.genesis_validators_root)
            .ok_or_else(|| invalid("genesis_validators_root".into()))?,
        genesis_fork_version: hex_array(&body.data.genesis_fork_version)
            .ok_or_else(|| invalid("genesis_fork_version".into()))?,
    })
}

/// Checks a genesis against a preset.
pub fn check_network(
    url: &str,
    genesis: &Genesis,
    preset: &NetworkPreset,
) -> Result<(), BeaconCheckError> {
    let wrong = |what, found: String, expected: String| BeaconCheckError::WrongNetwork {
        url: url.into(),
        network: preset.name.to_string(),
        what,
        found,
        expected,
    };
    if let Some(root) = preset.genesis_validators_root
        && root != genesis.genesis_validators_root
    {
        return Err(wrong(
            "genesis validators root",
            format!("0x{}", hex::encode(genesis.genesis_validators_root)),
            format!("0x{}", hex::encode(root)),
        ));
    }
    if let Some(time) = preset.genesis_time
        && time != genesis.genesis_time
    {
        return Err(wrong("genesis time", genesis.genesis_time.to_string(), time.to_string()));
    }
    if let Some(version) = preset.genesis_fork_version()
        && version != genesis.genesis_fork_version
    {
        return Err(wrong(
            "genesis fork version",
            format!("0x{}", hex::encode(genesis.genesis_fork_version)),
            format!("0x{}", hex::encode(version)),
        ));
    }
    Ok(())
}

/// Tries the beacon nodes in order; the first that answers decides. A node on the wrong
/// network is an error at once (the configuration is wrong, not the node's health).
pub async fn check_beacon_nodes(
    urls: &[String],
    preset: &NetworkPreset,
) -> Result<Genesis, BeaconCheckError> {
    let mut last = BeaconCheckError::NoBeaconNode;
    for url in urls {
        match fetch_genesis(url).await {
            Ok(genesis) => {
                check_network(url, &genesis, preset)?;
                return Ok(genesis);
            }
            Err(e) => {
                tracing::warn!(%url, error = %e, "beacon node check failed");
                last = e;
            }
        }
    }
    Err(last)
}
