//! The devnet's execution node: Hardhat 2.29.1 (from npm, installed into the git-ignored
//! `devnet/node_modules` on first use) on 127.0.0.1 with the `SSVNetworkDevnet` contract
//! (compiled with solc-js by `devnet/scripts/compile.js`), and real transactions to it with
//! alloy.
//!
//! Hardhat's accounts are unlocked, so transactions go out as `eth_sendTransaction` from
//! them and Hardhat signs; each is mined at once (automine) and its receipt checked.

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use alloy::network::TransactionBuilder;
use alloy::primitives::{Address, Bytes, U256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::{TransactionReceipt, TransactionRequest};
use alloy::sol_types::{SolCall, SolEvent};
use ssv_core::crypto::keyshares::SharesData;
use ssv_core::crypto::rsa::OperatorPublicKey;
use ssv_core::types::OperatorId;

use super::keys::{DevnetValidator, KeysError};
use crate::contract::events::{abi, pack_operator_public_key};

/// Environment variable naming the devnet folder (default: `devnet/` in the workspace).
pub const DEVNET_DIR_ENV: &str = "SSV_DEVNET_DIR";

/// How long Hardhat may take to answer its first JSON-RPC call. A cold start (Node.js
/// loading Hardhat and its EVM) takes 3–10 s on two cores.
pub const HARDHAT_START_TIMEOUT: Duration = Duration::from_secs(90);

/// Why the devnet chain failed.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// A command (npm, node) could not run or failed.
    #[error("{command}: {reason}")]
    Command {
        /// The command line.
        command: String,
        /// Why.
        reason: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// The compiled artifact is not `{abi, bytecode}`.
    #[error("bad contract artifact {0}")]
    Artifact(PathBuf),
    /// Hardhat did not answer in time.
    #[error("hardhat did not start within {0:?}; see {1}")]
    StartTimeout(Duration, PathBuf),
    /// A JSON-RPC call failed.
    #[error("json-rpc: {0}")]
    Rpc(String),
    /// A transaction reverted.
    #[error("transaction {0} reverted")]
    Reverted(String),
    /// Keys or keyshares could not be built.
    #[error(transparent)]
    Keys(#[from] KeysError),
}

fn rpc_err(e: impl std::fmt::Display) -> ChainError {
    ChainError::Rpc(e.to_string())
}

/// The devnet folder: `$SSV_DEVNET_DIR`, else `devnet/` beside `shell/`.
pub fn devnet_dir() -> PathBuf {
    match std::env::var_os(DEVNET_DIR_ENV) {
        Some(dir) => PathBuf::from(dir),
        None => {
            let shell = Path::new(env!("CARGO_MANIFEST_DIR"));
            shell.parent().unwrap_or(shell).join("devnet")
        }
    }
}

fn run(mut command: Command, what: &str) -> Result<(), ChainError> {
    let output = command.output().map_err(|e| ChainError::Command {
        command: what.into(),
        reason: format!("cannot run it ({e}); the devnet needs Node.js and npm on the PATH"),
    })?;
    if output.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&output.stderr);
        let tail: String = stderr
            .lines()
            .rev()
            .take(15)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect::<Vec<_>>()
            .join("\n");
        Err(ChainError::Command {
            command: what.into(),
            reason: format!("{}: {tail}", output.status),
        })
    }
}

/// Installs the pinned npm packages (`npm ci`, from `package-lock.json`) into
/// `dir/node_modules` unless Hardhat is already there.
///
/// # Errors
/// [`ChainError::Command`] when npm is missing or the install fails.
pub fn ensure_npm_packages(dir: &Path) -> Result<(), ChainError> {
    let hardhat = dir.join("node_modules").join("hardhat").join("package.json");
    let solc = dir.join("node_modules").join("solc").join("package.json");
    if hardhat.is_file() && solc.is_file() {
        return Ok(());
    }
    tracing::info!(dir = %dir.display(), "installing Hardhat and solc-js with npm ci (first use)");
    let mut npm = Command::new("npm");
    npm.arg("ci").arg("--no-audit").arg("--no-fund").arg("--prefix").arg(dir);
    run(npm, "npm ci --prefix devnet")
}

/// The compiled contract: its creation bytecode.
///
/// Compiles with solc-js (`node scripts/compile.js`) when `build/SSVNetworkDevnet.json` is
/// missing or older than the source.
///
/// # Errors
/// [`ChainError::Command`], [`ChainError::Io`], [`ChainError::Artifact`].
pub fn compile_contract(dir: &Path) -> Result<Bytes, ChainError> {
    let source = dir.join("contracts").join("SSVNetworkDevnet.sol");
    let artifact = dir.join("build").join("SSVNetworkDevnet.json");
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    let stale = match (modified(&artifact), modified(&source)) {
        (Some(a), Some(s)) => a < s,
        _ => true,
    };
    if stale {
        let mut node = Command::new("node");
        node.arg(dir.join("scripts").join("compile.js")).current_dir(dir);
        run(node, "node scripts/compile.js")?;
    }
    let text = std::fs::read_to_string(&artifact)
        .map_err(|source| ChainError::Io { path: artifact.clone(), source })?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|_| ChainError::Artifact(artifact.clone()))?;
    let code = json
        .get("bytecode")
        .and_then(serde_json::Value::as_str)
        .and_then(|s| hex::decode(s.trim_start_matches("0x")).ok())
        .filter(|b| !b.is_empty())
        .ok_or(ChainError::Artifact(artifact))?;
    Ok(code.into())
}

/// A free TCP port on 127.0.0.1 (the OS picks it; a race with another process taking it
/// before Hardhat does is possible but harmless: Hardhat then fails to start and says so).
///
/// # Errors
/// [`ChainError::Io`] when no socket can be bound.
pub fn free_port() -> Result<u16, ChainError> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|source| ChainError::Io { path: "127.0.0.1:0".into(), source })?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|source| ChainError::Io { path: "127.0.0.1:0".into(), source })
}

/// A running Hardhat node, stopped on drop.
#[derive(Debug)]
pub struct DevnetChain {
    child: Child,
    url: String,
    provider: RootProvider,
    accounts: Vec<Address>,
    contract: Option<Address>,
    dir: PathBuf,
    log: PathBuf,
}

impl DevnetChain {
    /// Installs the npm packages if needed, then starts `hardhat node` on 127.0.0.1 at a
    /// free port, writing its output to `log`, and waits until it answers.
    ///
    /// # Errors
    /// [`ChainError`] from npm, the spawn or the start timeout.
    pub async fn start(dir: &Path, log: &Path) -> Result<Self, ChainError> {
        ensure_npm_packages(dir)?;
        let port = free_port()?;
        let out =
            File::create(log).map_err(|source| ChainError::Io { path: log.into(), source })?;
        let err = out.try_clone().map_err(|source| ChainError::Io { path: log.into(), source })?;
        let cli =
            dir.join("node_modules").join("hardhat").join("internal").join("cli").join("cli.js");
        let child = Command::new("node")
            .arg(&cli)
            .args(["node", "--hostname", "127.0.0.1", "--port", &port.to_string()])
            .current_dir(dir)
            .env("HARDHAT_DISABLE_TELEMETRY_PROMPT", "true")
            .env("CI", "true")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| ChainError::Command {
                command: "node hardhat node".into(),
                reason: format!("cannot start it ({e}); the devnet needs Node.js on the PATH"),
            })?;
        let url = format!("http://127.0.0.1:{port}");
        let parsed = url.parse().map_err(rpc_err)?;
        let mut chain = Self {
            child,
            url,
            provider: RootProvider::new_http(parsed),
            accounts: Vec::new(),
            contract: None,
            dir: dir.to_path_buf(),
            log: log.to_path_buf(),
        };
        let started = Instant::now();
        loop {
            if let Ok(accounts) = chain.provider.get_accounts().await {
                chain.accounts = accounts;
                break;
            }
            if let Ok(Some(status)) = chain.child.try_wait() {
                return Err(ChainError::Command {
                    command: "hardhat node".into(),
                    reason: format!("exited with {status}; see {}", chain.log.display()),
                });
            }
            if started.elapsed() > HARDHAT_START_TIMEOUT {
                return Err(ChainError::StartTimeout(HARDHAT_START_TIMEOUT, chain.log.clone()));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        Ok(chain)
    }

    /// The JSON-RPC URL (`http://127.0.0.1:<port>`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Hardhat's unlocked accounts (20 funded ones by default).
    pub fn accounts(&self) -> &[Address] {
        &self.accounts
    }

    /// The deployed contract, once [`Self::deploy`] ran.
    pub fn contract(&self) -> Option<Address> {
        self.contract
    }

    /// The alloy provider.
    pub fn provider(&self) -> &RootProvider {
        &self.provider
    }

    /// The latest block number.
    ///
    /// # Errors
    /// [`ChainError::Rpc`].
    pub async fn block_number(&self) -> Result<u64, ChainError> {
        self.provider.get_block_number().await.map_err(rpc_err)
    }

    /// Compiles (if needed) and deploys `SSVNetworkDevnet` from the first account; returns
    /// its address and the deployment block.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn deploy(&mut self) -> Result<(Address, u64), ChainError> {
        let code = compile_contract(&self.dir)?;
        let from = self.account(0)?;
        let tx = TransactionRequest::default().with_from(from).with_deploy_code(code);
        let receipt = self.send(tx, "deploy SSVNetworkDevnet").await?;
        let address = receipt.contract_address.ok_or_else(|| rpc_err("no contract address"))?;
        self.contract = Some(address);
        Ok((address, receipt.block_number.unwrap_or_default()))
    }

    fn account(&self, index: usize) -> Result<Address, ChainError> {
        self.accounts.get(index).copied().ok_or_else(|| rpc_err(format!("no account {index}")))
    }

    async fn send(
        &self,
        tx: TransactionRequest,
        what: &str,
    ) -> Result<TransactionReceipt, ChainError> {
        let pending = self.provider.send_transaction(tx).await.map_err(rpc_err)?;
        let receipt = pending.get_receipt().await.map_err(rpc_err)?;
        if receipt.status() { Ok(receipt) } else { Err(ChainError::Reverted(what.into())) }
    }

    async fn call(
        &self,
        from: Address,
        input: Vec<u8>,
        what: &str,
    ) -> Result<TransactionReceipt, ChainError> {
        let to = self.contract.ok_or_else(|| rpc_err("contract not deployed"))?;
        let tx = TransactionRequest::default().with_from(from).with_to(to).with_input(input);
        self.send(tx, what).await
    }

    /// Registers an operator from `owner` with its key as SSV tooling passes it:
    /// `abi.encode(bytes base64PEM)`. Returns the id the contract assigned.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn register_operator(
        &self,
        owner: Address,
        key: &OperatorPublicKey,
    ) -> Result<OperatorId, ChainError> {
        let call = abi::SSVNetworkDevnet::registerOperatorCall {
            publicKey: pack_operator_public_key(key.to_base64_pem().as_bytes()).into(),
            fee: U256::ZERO,
        };
        let receipt = self.call(owner, call.abi_encode(), "registerOperator").await?;
        receipt
            .logs()
            .iter()
            .find_map(|log| {
                abi::OperatorAdded::decode_raw_log(log.topics().iter().copied(), &log.data().data)
                    .ok()
            })
            .map(|e| e.operatorId)
            .ok_or_else(|| rpc_err("registerOperator emitted no OperatorAdded"))
    }

    /// Registers `validator` from `owner` at the owner's `nonce` (0 for its first
    /// validator, then 1, 2, …) with real `sharesData` encrypted to `operator_keys`
    /// (committee order). Returns the `sharesData` sent.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn register_validator(
        &self,
        owner: Address,
        validator: &DevnetValidator,
        operator_keys: &[OperatorPublicKey],
        nonce: u64,
    ) -> Result<SharesData, ChainError> {
        let shares = validator.shares_data(operator_keys, &owner, nonce)?;
        let call = abi::SSVNetworkDevnet::registerValidatorCall {
            publicKey: validator.public_key.to_bytes().to_vec().into(),
            operatorIds: validator.operator_ids(),
            sharesData: shares.to_bytes().into(),
            amount: U256::ZERO,
            cluster: empty_cluster(),
        };
        self.call(owner, call.abi_encode(), "registerValidator").await?;
        Ok(shares)
    }

    /// Sends one of the other contract calls (`removeValidator`, `liquidate`,
    /// `reactivate`, `setFeeRecipientAddress`, `exitValidator`, `removeOperator`) from
    /// `from`.
    ///
    /// # Errors
    /// [`ChainError`].
    pub async fn send_call<C: SolCall>(&self, from: Address, call: C) -> Result<u64, ChainError> {
        let receipt = self.call(from, call.abi_encode(), C::SIGNATURE).await?;
        Ok(receipt.block_number.unwrap_or_default())
    }
}

/// A fresh cluster snapshot (what a first registration passes).
pub fn empty_cluster() -> abi::Cluster {
    abi::Cluster {
        validatorCount: 0,
        networkFeeIndex: 0,
        index: 0,
        active: true,
        balance: U256::ZERO,
    }
}

impl Drop for DevnetChain {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
