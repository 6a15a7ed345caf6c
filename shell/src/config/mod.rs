//! The node's configuration: a YAML file, every field overridable by an environment
//! variable and by a command-line flag (flag > environment > file > default).
//!
//! The defaults run a node against a local devnet: network `devnet`, data in `./data`,
//! the beacon node at `http://127.0.0.1:5052`, metrics on `127.0.0.1:15000`.

pub mod network;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

pub use network::{Fork, NetworkName, NetworkPreset};

/// Everything `ssv-node run` reads. Unknown fields in a file are an error, so a typo is
/// never silently ignored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Which network preset to use.
    pub network: NetworkName,
    /// Folder of the node's databases (`node.redb`, `slashing_protection.redb`).
    pub data_dir: PathBuf,
    /// Beacon node URLs, tried in order.
    pub beacon_nodes: Vec<String>,
    /// Execution node URL (SSVNetwork events; used by the contract layer).
    pub execution_node: String,
    /// The SSVNetwork contract to follow (overrides the preset's).
    pub contract: ContractConfig,
    /// The operator's RSA key.
    pub operator_key: OperatorKeyConfig,
    /// P2P ports.
    pub p2p: P2pConfig,
    /// Prometheus, `/health` and `/ready`.
    pub metrics: MetricsConfig,
    /// Logs.
    pub log: LogConfig,
    /// Core-input traces.
    pub trace: TraceConfig,
    /// How long shutdown waits for writes in flight, milliseconds.
    pub shutdown_timeout_ms: u64,
}

/// Where the operator key lives.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OperatorKeyConfig {
    /// A PKCS#1 PEM file, or an EIP-2335-style keystore JSON (then `password_file` is
    /// required). Written by `ssv-node keygen`.
    pub path: PathBuf,
    /// The keystore's password file (its content, control characters removed).
    pub password_file: Option<PathBuf>,
}

/// P2P listening ports (the P2P layer uses them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct P2pConfig {
    /// libp2p TCP port.
    pub tcp_port: u16,
    /// discv5 UDP port.
    pub udp_port: u16,
    /// libp2p QUIC port (UDP); 0 turns QUIC off.
    pub quic_port: u16,
    /// The IP address to listen on (`0.0.0.0`; a local devnet uses `127.0.0.1`).
    pub listen_ip: std::net::IpAddr,
    /// Peers to dial at start, as multiaddrs (`/ip4/127.0.0.1/udp/13002/quic-v1`); with
    /// no discovery yet, the only way to find peers.
    pub static_peers: Vec<String>,
    /// Most connected peers (the Go node's `MaxPeers`, 60); above it the node drops the
    /// lowest-scored peers sharing none of its subnets first.
    pub max_peers: usize,
}

/// Which SSVNetwork contract to follow. Unset fields take the network preset's values;
/// a network without a contract (and none configured here) follows no contract.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ContractConfig {
    /// The contract address, `0x`-hex.
    pub address: Option<String>,
    /// The first block to read events from.
    pub start_block: Option<u64>,
    /// Blocks below the head considered final (8 unless set; a devnet that mines on
    /// demand uses 0).
    pub confirmation_depth: Option<u64>,
    /// How often to poll for new blocks once synced, milliseconds (12,000 unless set).
    pub poll_interval_ms: Option<u64>,
}

/// The HTTP endpoint of `/metrics`, `/health` and `/ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsConfig {
    /// Serve it at all.
    pub enabled: bool,
    /// Listening address.
    pub listen: SocketAddr,
}

/// Log output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogConfig {
    /// `pretty` (human) or `json` (one object a line).
    pub format: LogFormat,
    /// A `tracing` filter directive (`info`, `ssv_shell=debug,info`).
    pub level: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Pretty,
    /// One JSON object a line.
    Json,
}

/// Recording of every input the node gives the core.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TraceConfig {
    /// Folder of trace files; `None`: no trace.
    pub dir: Option<PathBuf>,
    /// A file is rotated once it reaches this many bytes.
    pub max_file_bytes: u64,
    /// Rotated files kept (oldest deleted first).
    pub max_files: u32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            network: NetworkName::Devnet,
            data_dir: PathBuf::from("./data"),
            beacon_nodes: vec!["http://127.0.0.1:5052".to_owned()],
            execution_node: "http://127.0.0.1:8545".to_owned(),
            contract: ContractConfig::default(),
            operator_key: OperatorKeyConfig::default(),
            p2p: P2pConfig::default(),
            metrics: MetricsConfig::default(),
            log: LogConfig::default(),
            trace: TraceConfig::default(),
            shutdown_timeout_ms: 10_000,
        }
    }
}

impl Default for OperatorKeyConfig {
    fn default() -> Self {
        OperatorKeyConfig { path: PathBuf::from("./operator_key.pem"), password_file: None }
    }
}

impl Default for P2pConfig {
    fn default() -> Self {
        // The Go node's defaults (`network/p2p/config.go`).
        P2pConfig {
            tcp_port: 13_001,
            udp_port: 12_001,
            quic_port: 13_002,
            listen_ip: std::net::IpAddr::from([0, 0, 0, 0]),
            static_peers: Vec::new(),
            max_peers: 60,
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { enabled: true, listen: SocketAddr::from(([127, 0, 0, 1], 15_000)) }
    }
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig { format: LogFormat::Pretty, level: "info".to_owned() }
    }
}

impl Default for TraceConfig {
    fn default() -> Self {
        TraceConfig { dir: None, max_file_bytes: 64 * 1024 * 1024, max_files: 16 }
    }
}

/// Overrides of [`Config`] fields, from flags or (with the same names, upper case,
/// `SSV_` prefix) environment variables. `None` keeps the file's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, clap::Args)]
pub struct Overrides {
    /// Network preset: mainnet, holesky, hoodi or devnet.
    #[arg(long, env = "SSV_NETWORK")]
    pub network: Option<NetworkName>,
    /// Data folder.
    #[arg(long, env = "SSV_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Beacon node URLs (comma-separated or repeated).
    #[arg(long = "beacon-node", env = "SSV_BEACON_NODES", value_delimiter = ',')]
    pub beacon_nodes: Option<Vec<String>>,
    /// Execution node URL.
    #[arg(long, env = "SSV_EXECUTION_NODE")]
    pub execution_node: Option<String>,
    /// Operator key file (PEM or keystore JSON).
    #[arg(long, env = "SSV_OPERATOR_KEY")]
    pub operator_key: Option<PathBuf>,
    /// Password file of an encrypted operator keystore.
    #[arg(long, env = "SSV_OPERATOR_KEY_PASSWORD_FILE")]
    pub operator_key_password_file: Option<PathBuf>,
    /// P2P TCP port.
    #[arg(long, env = "SSV_P2P_TCP_PORT")]
    pub p2p_tcp_port: Option<u16>,
    /// P2P UDP port.
    #[arg(long, env = "SSV_P2P_UDP_PORT")]
    pub p2p_udp_port: Option<u16>,
    /// Serve metrics, /health and /ready (true or false).
    #[arg(long, env = "SSV_METRICS_ENABLED")]
    pub metrics_enabled: Option<bool>,
    /// Metrics listening address.
    #[arg(long, env = "SSV_METRICS_LISTEN")]
    pub metrics_listen: Option<SocketAddr>,
    /// Log format: pretty or json.
    #[arg(long, env = "SSV_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter (`info`, `ssv_shell=debug`).
    #[arg(long, env = "SSV_LOG_LEVEL")]
    pub log_level: Option<String>,
    /// Record every core input into this folder.
    #[arg(long, env = "SSV_TRACE_DIR")]
    pub trace_dir: Option<PathBuf>,
    /// Rotate trace files at this size, bytes.
    #[arg(long, env = "SSV_TRACE_MAX_FILE_BYTES")]
    pub trace_max_file_bytes: Option<u64>,
    /// Rotated trace files to keep.
    #[arg(long, env = "SSV_TRACE_MAX_FILES")]
    pub trace_max_files: Option<u32>,
    /// Shutdown grace period, milliseconds.
    #[arg(long, env = "SSV_SHUTDOWN_TIMEOUT_MS")]
    pub shutdown_timeout_ms: Option<u64>,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The IO error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid YAML for [`Config`] (the message has the line and column).
    #[error("invalid config file {}: {source}", path.display())]
    Parse {
        /// The file.
        path: PathBuf,
        /// The YAML error.
        #[source]
        source: serde_yaml::Error,
    },
    /// A value is out of range or inconsistent.
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

impl Config {
    /// The file at `path` (or the defaults without one), then `overrides`, then
    /// [`Config::validate`].
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut config = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|source| ConfigError::Read { path: path.to_owned(), source })?;
                Config::from_yaml(&text)
                    .map_err(|source| ConfigError::Parse { path: path.to_owned(), source })?
            }
            None => Config::default(),
        };
        config.apply(overrides);
        config.validate()?;
        Ok(config)
    }

    /// Parses YAML; missing fields take their defaults; an empty document is the default.
    pub fn from_yaml(text: &str) -> Result<Config, serde_yaml::Error> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        serde_yaml::from_str(text)
    }

    /// The configuration as YAML (what `ssv-node config --print-default` prints).
    pub fn to_yaml(&self) -> String {
        // Serialising plain structs of strings, numbers and paths cannot fail.
        serde_yaml::to_string(self).unwrap_or_default()
    }

    /// Replaces every field that `overrides` sets.
    pub fn apply(&mut self, o: &Overrides) {
        fn set<T: Clone>(field: &mut T, value: &Option<T>) {
            if let Some(v) = value {
                *field = v.clone();
            }
        }
        set(&mut self.network, &o.network);
        set(&mut self.data_dir, &o.data_dir);
        set(&mut self.beacon_nodes, &o.beacon_nodes);
        set(&mut self.execution_node, &o.execution_node);
        set(&mut self.operator_key.path, &o.operator_key);
        if o.operator_key_password_file.is_some() {
            self.operator_key.password_file.clone_from(&o.operator_key_password_file);
        }
        set(&mut self.p2p.tcp_port, &o.p2p_tcp_port);
        set(&mut self.p2p.udp_port, &o.p2p_udp_port);
        set(&mut self.metrics.enabled, &o.metrics_enabled);
        set(&mut self.metrics.listen, &o.metrics_listen);
        set(&mut self.log.format, &o.log_format);
        set(&mut self.log.level, &o.log_level);
        if o.trace_dir.is_some() {
            self.trace.dir.clone_from(&o.trace_dir);
        }
        set(&mut self.trace.max_file_bytes, &o.trace_max_file_bytes);
        set(&mut self.trace.max_files, &o.trace_max_files);
        set(&mut self.shutdown_timeout_ms, &o.shutdown_timeout_ms);
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.beacon_nodes.is_empty() {
            return Err(ConfigError::Invalid(
                "beacon_nodes is empty: give at least one URL".into(),
            ));
        }
        for url in &self.beacon_nodes {
            let parsed = url::Url::parse(url)
                .map_err(|e| ConfigError::Invalid(format!("beacon node URL {url:?}: {e}")))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(ConfigError::Invalid(format!(
                    "beacon node URL {url:?}: scheme must be http or https"
                )));
            }
        }
        if self.trace.max_file_bytes < 4096 {
            return Err(ConfigError::Invalid(format!(
                "trace.max_file_bytes is {}: at least 4096",
                self.trace.max_file_bytes
            )));
        }
        if self.trace.max_files == 0 {
            return Err(ConfigError::Invalid("trace.max_files must be at least 1".into()));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log.level)
            .map_err(|e| ConfigError::Invalid(format!("log.level {:?}: {e}", self.log.level)))?;
        Ok(())
    }

    /// The preset of [`Config::network`].
    pub fn preset(&self) -> NetworkPreset {
        self.network.preset()
    }

    /// `data_dir/node.redb`.
    pub fn node_db_path(&self) -> PathBuf {
        self.data_dir.join("node.redb")
    }

    /// The contract to follow: the configured address, else the preset's; `None` when
    /// neither has one.
    pub fn contract_address(&self) -> Option<String> {
        self.contract
            .address
            .clone()
            .or_else(|| self.preset().ssv_contract_address.map(str::to_owned))
    }

    /// `data_dir/contract.redb`: the contract layer's state (see
    /// [`crate::contract::store_redb`]).
    pub fn contract_db_path(&self) -> PathBuf {
        self.data_dir.join("contract.redb")
    }

    /// `data_dir/slashing_protection.redb`.
    pub fn slashing_db_path(&self) -> PathBuf {
        self.data_dir.join("slashing_protection.redb")
    }
}

#[cfg(test)]
mod tests;
