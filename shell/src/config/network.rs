//! Network presets: the chain and SSV parameters a node needs for each network it can join.
//!
//! Sources: fork versions, epochs, genesis time and genesis validators root from
//! `../shared/vectors/consensus-specs` (eth-clients configs and
//! `signing_domains_and_networks.json`); SSV domain types, contract addresses and sync start
//! blocks from the protocol notes §1.2 and §4.3 (ssvlabs/ssv `networkconfig/*.go`).
//! The `devnet` preset is this project's own: a local chain (the beacon-chain simulator
//! or a kurtosis devnet) whose genesis is read from the beacon node at start.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use ssv_core::crypto::signing::ForkVersion;
use ssv_core::types::{DomainType, Root};

/// One consensus fork: its name, version and activation epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fork {
    /// The consensus-specs name (`phase0`, `altair`, …, `fulu`).
    pub name: &'static str,
    /// Its 4-byte fork version.
    pub version: ForkVersion,
    /// The first epoch it is in force.
    pub epoch: u64,
}

/// The parameters of one network. Values a node cannot know before it talks to a beacon
/// node (the devnet's genesis) are `None` and are taken from the beacon node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkPreset {
    /// Which network.
    pub name: NetworkName,
    /// The SSV domain type of the Alan fork on this network (`MessageID` prefix and
    /// the RSA/partial-signature domain).
    pub ssv_domain_type: DomainType,
    /// The beacon chain's genesis validators root.
    pub genesis_validators_root: Option<Root>,
    /// Beacon genesis time, unix seconds.
    pub genesis_time: Option<u64>,
    /// Consensus forks in activation order.
    pub forks: &'static [Fork],
    /// Slot duration, seconds.
    pub seconds_per_slot: u64,
    /// Slots per epoch.
    pub slots_per_epoch: u64,
    /// The SSVNetwork contract (`0x`-hex, EIP-55 as published), if the network has one.
    pub ssv_contract_address: Option<&'static str>,
    /// The first execution block to sync SSVNetwork events from.
    pub ssv_contract_start_block: u64,
}

/// The networks a node can be configured for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NetworkName {
    /// Ethereum mainnet.
    Mainnet,
    /// The Holesky testnet.
    Holesky,
    /// The Hoodi testnet.
    Hoodi,
    /// A local devnet (genesis from the beacon node).
    Devnet,
}

impl NetworkName {
    /// Every network, in a fixed order.
    pub const ALL: [NetworkName; 4] =
        [NetworkName::Mainnet, NetworkName::Holesky, NetworkName::Hoodi, NetworkName::Devnet];

    /// The lowercase name used in config files.
    pub fn as_str(self) -> &'static str {
        match self {
            NetworkName::Mainnet => "mainnet",
            NetworkName::Holesky => "holesky",
            NetworkName::Hoodi => "hoodi",
            NetworkName::Devnet => "devnet",
        }
    }

    /// This network's preset.
    pub fn preset(self) -> NetworkPreset {
        match self {
            NetworkName::Mainnet => mainnet(),
            NetworkName::Holesky => holesky(),
            NetworkName::Hoodi => hoodi(),
            NetworkName::Devnet => devnet(),
        }
    }
}

impl fmt::Display for NetworkName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A network name that is none of [`NetworkName::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown network {0:?}: expected one of mainnet, holesky, hoodi, devnet")]
pub struct UnknownNetwork(pub String);

impl FromStr for NetworkName {
    type Err = UnknownNetwork;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        NetworkName::ALL
            .into_iter()
            .find(|n| n.as_str().eq_ignore_ascii_case(s))
            .ok_or_else(|| UnknownNetwork(s.to_owned()))
    }
}

impl NetworkPreset {
    /// The fork in force at `epoch` (the last one whose activation epoch is ≤ `epoch`).
    pub fn fork_at(&self, epoch: u64) -> Option<&Fork> {
        self.forks.iter().rev().find(|f| f.epoch <= epoch)
    }

    /// The genesis fork version (`GENESIS_FORK_VERSION`).
    pub fn genesis_fork_version(&self) -> Option<ForkVersion> {
        self.forks.first().map(|f| f.version)
    }
}

const fn fork(name: &'static str, version: u32, epoch: u64) -> Fork {
    Fork { name, version: version.to_be_bytes(), epoch }
}

const MAINNET_FORKS: [Fork; 7] = [
    fork("phase0", 0x0000_0000, 0),
    fork("altair", 0x0100_0000, 74_240),
    fork("bellatrix", 0x0200_0000, 144_896),
    fork("capella", 0x0300_0000, 194_048),
    fork("deneb", 0x0400_0000, 269_568),
    fork("electra", 0x0500_0000, 364_032),
    fork("fulu", 0x0600_0000, 411_392),
];

const HOLESKY_FORKS: [Fork; 7] = [
    fork("phase0", 0x0101_7000, 0),
    fork("altair", 0x0201_7000, 0),
    fork("bellatrix", 0x0301_7000, 0),
    fork("capella", 0x0401_7000, 256),
    fork("deneb", 0x0501_7000, 29_696),
    fork("electra", 0x0601_7000, 115_968),
    fork("fulu", 0x0701_7000, 165_120),
];

const HOODI_FORKS: [Fork; 7] = [
    fork("phase0", 0x1000_0910, 0),
    fork("altair", 0x2000_0910, 0),
    fork("bellatrix", 0x3000_0910, 0),
    fork("capella", 0x4000_0910, 0),
    fork("deneb", 0x5000_0910, 0),
    fork("electra", 0x6000_0910, 2_048),
    fork("fulu", 0x7000_0910, 50_688),
];

/// Devnet fork versions `[n - 1, 0, 0, 0x5a]` (phase0 = `0x0000005a`), all from genesis
/// up to Electra: the scheme of the beacon-chain simulator (`ssv_simulator::chain`).
const DEVNET_FORKS: [Fork; 6] = [
    fork("phase0", 0x0000_005a, 0),
    fork("altair", 0x0100_005a, 0),
    fork("bellatrix", 0x0200_005a, 0),
    fork("capella", 0x0300_005a, 0),
    fork("deneb", 0x0400_005a, 0),
    fork("electra", 0x0500_005a, 0),
];

fn mainnet() -> NetworkPreset {
    NetworkPreset {
        name: NetworkName::Mainnet,
        ssv_domain_type: DomainType([0, 0, 0, 1]),
        genesis_validators_root: Some(hex32(
            "4b363db94e286120d76eb905340fdd4e54bfe9f06bf33ff6cf5ad27f511bfe95",
        )),
        genesis_time: Some(1_606_824_023),
        forks: &MAINNET_FORKS,
        seconds_per_slot: 12,
        slots_per_epoch: 32,
        ssv_contract_address: Some("0xDD9BC35aE942eF0cFa76930954a156B3fF30a4E1"),
        ssv_contract_start_block: 17_507_487,
    }
}

fn holesky() -> NetworkPreset {
    NetworkPreset {
        name: NetworkName::Holesky,
        ssv_domain_type: DomainType([0, 0, 5, 2]),
        genesis_validators_root: Some(hex32(
            "9143aa7c615a7f7115e2b6aac319c03529df8242ae705fba9df39b79c59fa8b1",
        )),
        genesis_time: Some(1_695_902_400),
        forks: &HOLESKY_FORKS,
        seconds_per_slot: 12,
        slots_per_epoch: 32,
        ssv_contract_address: Some("0x38A4794cCEd47d3baf7370CcC43B560D3a1beEFA"),
        ssv_contract_start_block: 181_612,
    }
}

fn hoodi() -> NetworkPreset {
    NetworkPreset {
        name: NetworkName::Hoodi,
        ssv_domain_type: DomainType([0, 0, 5, 3]),
        genesis_validators_root: Some(hex32(
            "212f13fc4df078b6cb7db228f1c8307566dcecf900867401a92023d7ba99cb5f",
        )),
        genesis_time: Some(1_742_213_400),
        forks: &HOODI_FORKS,
        seconds_per_slot: 12,
        slots_per_epoch: 32,
        ssv_contract_address: Some("0x58410Bef803ECd7E63B23664C586A6DB72DAf59c"),
        ssv_contract_start_block: 1_065,
    }
}

fn devnet() -> NetworkPreset {
    NetworkPreset {
        name: NetworkName::Devnet,
        // Network byte 0xde ("devnet"), fork 1 (Alan); unused by any public network.
        ssv_domain_type: DomainType([0, 0, 0xde, 1]),
        genesis_validators_root: None,
        genesis_time: None,
        forks: &DEVNET_FORKS,
        seconds_per_slot: 12,
        slots_per_epoch: 32,
        ssv_contract_address: None,
        ssv_contract_start_block: 0,
    }
}

/// 64 hex digits to 32 bytes; only called on the constants above (checked by tests).
fn hex32(text: &str) -> [u8; 32] {
    let mut out = [0u8; 32];
    if hex::decode_to_slice(text, &mut out).is_err() {
        out = [0u8; 32];
    }
    out
}
