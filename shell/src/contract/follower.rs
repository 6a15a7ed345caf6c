//! Following SSVNetwork logs from an execution node: historical sync from the network's
//! start block in bounded batches (with a progress bar), then the head minus a confirmation
//! depth, with the last processed block persisted in the [`ContractStore`] so a restart
//! resumes where it stopped.
//!
//! Reorgs: only blocks at least `confirmation_depth` below the head are processed, so a
//! reorg within the depth never touches processed blocks (the logs of the orphaned blocks
//! were never read). Before each step the follower checks that the last processed block is
//! still canonical; a reorg deeper than the depth cannot be undone and is reported as
//! [`FollowError::ReorgBeyondDepth`] (the Go node, with the same design, does not handle it
//! either).
//!
//! Every call to the execution node is retried with exponential backoff
//! ([`FollowerConfig::backoff_initial`] doubling up to [`FollowerConfig::backoff_max`]).

use std::future::Future;
use std::time::Duration;

use alloy::eips::BlockNumberOrTag;
use alloy::primitives::{Address, B256};
use alloy::providers::{Provider, RootProvider};
use alloy::rpc::types::Filter;
use indicatif::{ProgressBar, ProgressStyle};

use super::handler::{ContractStore, Effect, EventHandler, RawLog};

/// An execution-node error (transport, RPC or a response missing a field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("execution node: {0}")]
pub struct SourceError(pub String);

/// What the follower needs from an execution node. [`RpcSource`] is the JSON-RPC one;
/// tests script their own.
pub trait ChainSource {
    /// The latest block number (`eth_blockNumber`).
    fn head(&self) -> impl Future<Output = Result<u64, SourceError>> + Send;
    /// The canonical hash of block `number`, or `None` when there is no such block yet.
    fn block_hash(
        &self,
        number: u64,
    ) -> impl Future<Output = Result<Option<B256>, SourceError>> + Send;
    /// The contract's logs in blocks `from..=to`, ordered by block and log index.
    fn logs(
        &self,
        from: u64,
        to: u64,
    ) -> impl Future<Output = Result<Vec<RawLog>, SourceError>> + Send;
}

/// A [`ChainSource`] over HTTP JSON-RPC with alloy, filtered to one contract address.
#[derive(Debug, Clone)]
pub struct RpcSource {
    provider: RootProvider,
    contract: Address,
}

impl RpcSource {
    /// A source reading `contract`'s logs from the execution node at `url`
    /// (`http://host:port`).
    ///
    /// # Errors
    /// [`SourceError`] when `url` does not parse.
    pub fn new(url: &str, contract: Address) -> Result<Self, SourceError> {
        let url = url.parse().map_err(|e| SourceError(format!("bad URL {url:?}: {e}")))?;
        Ok(Self { provider: RootProvider::new_http(url), contract })
    }

    /// The underlying alloy provider.
    pub fn provider(&self) -> &RootProvider {
        &self.provider
    }
}

impl ChainSource for RpcSource {
    async fn head(&self) -> Result<u64, SourceError> {
        self.provider.get_block_number().await.map_err(|e| SourceError(e.to_string()))
    }

    async fn block_hash(&self, number: u64) -> Result<Option<B256>, SourceError> {
        let block = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(number))
            .await
            .map_err(|e| SourceError(e.to_string()))?;
        Ok(block.map(|b| b.header.hash))
    }

    async fn logs(&self, from: u64, to: u64) -> Result<Vec<RawLog>, SourceError> {
        let filter = Filter::new().address(self.contract).from_block(from).to_block(to);
        let logs = self.provider.get_logs(&filter).await.map_err(|e| SourceError(e.to_string()))?;
        let mut out = Vec::with_capacity(logs.len());
        for log in logs {
            if log.removed {
                continue;
            }
            let block_number =
                log.block_number.ok_or_else(|| SourceError("log without block number".into()))?;
            out.push(RawLog {
                block_number,
                log_index: log.log_index.unwrap_or_default(),
                topics: log.inner.data.topics().to_vec(),
                data: log.inner.data.data.to_vec(),
            });
        }
        out.sort_by_key(|l| (l.block_number, l.log_index));
        Ok(out)
    }
}

/// Follower settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowerConfig {
    /// The block the contract was deployed in (mainnet: 17,507,487): sync starts here.
    pub start_block: u64,
    /// Blocks per `eth_getLogs` call. Public endpoints cap ranges (often 10,000 blocks or
    /// 10,000 logs); 5,000 keeps well below both.
    pub batch_blocks: u64,
    /// Blocks below the head that are final enough to process. 8 is the Go node's default
    /// ("follow distance"); a devnet that mines on demand uses 0.
    pub confirmation_depth: u64,
    /// How often to poll the head once synced.
    pub poll_interval: Duration,
    /// First retry delay after a failing call.
    pub backoff_initial: Duration,
    /// Largest retry delay.
    pub backoff_max: Duration,
    /// Retries of one call before the step fails (`None`: retry for ever, as a node does).
    pub max_retries: Option<u32>,
    /// Show an indicatif progress bar during historical sync (hidden when stderr is not a
    /// terminal).
    pub progress_bar: bool,
}

impl Default for FollowerConfig {
    fn default() -> Self {
        Self {
            start_block: 0,
            batch_blocks: 5_000,
            confirmation_depth: 8,
            poll_interval: Duration::from_secs(12),
            backoff_initial: Duration::from_millis(500),
            backoff_max: Duration::from_secs(30),
            max_retries: None,
            progress_bar: true,
        }
    }
}

/// Why a follower step stopped.
#[derive(Debug, thiserror::Error)]
pub enum FollowError {
    /// The execution node kept failing past [`FollowerConfig::max_retries`].
    #[error(transparent)]
    Source(#[from] SourceError),
    /// The store failed; nothing of the failing batch is recorded as processed.
    #[error("contract store: {0}")]
    Store(String),
    /// The last processed block is no longer canonical: a reorg deeper than the
    /// confirmation depth, which cannot be undone.
    #[error(
        "block {block} was processed but is no longer canonical (reorg beyond the confirmation depth)"
    )]
    ReorgBeyondDepth {
        /// The processed block that was reorganised away.
        block: u64,
    },
}

/// Drives an [`EventHandler`] from a [`ChainSource`].
#[derive(Debug)]
pub struct Follower<C, S> {
    source: C,
    handler: EventHandler<S>,
    config: FollowerConfig,
}

impl<C: ChainSource + Sync, S: ContractStore + Send> Follower<C, S> {
    /// A follower feeding `handler` from `source`.
    pub fn new(source: C, handler: EventHandler<S>, config: FollowerConfig) -> Self {
        Self { source, handler, config }
    }

    /// The handler (and through it the store).
    pub fn handler(&self) -> &EventHandler<S> {
        &self.handler
    }

    /// The handler, mutably.
    pub fn handler_mut(&mut self) -> &mut EventHandler<S> {
        &mut self.handler
    }

    /// Gives back the handler.
    pub fn into_handler(self) -> EventHandler<S> {
        self.handler
    }

    /// The first block not yet processed.
    fn next_block(&self) -> Result<u64, FollowError> {
        let last = self
            .handler
            .store()
            .last_processed_block()
            .map_err(|e| FollowError::Store(e.to_string()))?;
        Ok(match last {
            Some((n, _)) => n.saturating_add(1).max(self.config.start_block),
            None => self.config.start_block,
        })
    }

    async fn retry<T, F, Fut>(&self, what: &str, call: F) -> Result<T, SourceError>
    where
        F: Fn() -> Fut,
        Fut: Future<Output = Result<T, SourceError>>,
    {
        let mut delay = self.config.backoff_initial;
        let mut attempt: u32 = 0;
        loop {
            match call().await {
                Ok(v) => return Ok(v),
                Err(err) => {
                    if self.config.max_retries.is_some_and(|max| attempt >= max) {
                        return Err(err);
                    }
                    attempt = attempt.saturating_add(1);
                    tracing::warn!(%err, attempt, delay_ms = delay.as_millis() as u64, "{what} failed; retrying");
                    tokio::time::sleep(delay).await;
                    delay = delay.saturating_mul(2).min(self.config.backoff_max);
                }
            }
        }
    }

    /// Processes every block up to the confirmed head (head − confirmation depth) and
    /// returns the last processed block number (`None` if none yet). Effects of all
    /// handled events are pushed into `out` in chain order.
    ///
    /// # Errors
    /// [`FollowError`]; the blocks of the batches before the error stay processed.
    pub async fn sync_to_confirmed(
        &mut self,
        out: &mut Vec<Effect>,
    ) -> Result<Option<u64>, FollowError> {
        self.check_canonical().await?;
        let head = self.retry("eth_blockNumber", || self.source.head()).await?;
        let confirmed = head.checked_sub(self.config.confirmation_depth);
        let mut next = self.next_block()?;
        let Some(confirmed) = confirmed.filter(|c| *c >= next) else {
            return Ok(next.checked_sub(1));
        };
        let batch = self.config.batch_blocks.max(1);
        let total = confirmed.saturating_sub(next).saturating_add(1);
        let bar = (self.config.progress_bar && total > batch).then(|| {
            let bar = ProgressBar::new(total);
            bar.set_style(
                ProgressStyle::with_template(
                    "syncing SSVNetwork {bar:40} {pos}/{len} blocks ({eta})",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        });
        while next <= confirmed {
            let to = next.saturating_add(batch - 1).min(confirmed);
            let logs = self.retry("eth_getLogs", || self.source.logs(next, to)).await?;
            let hash = self
                .retry("eth_getBlockByNumber", || self.source.block_hash(to))
                .await?
                .ok_or_else(|| SourceError(format!("block {to} is missing below the head")))?;
            self.handler.handle_logs(&logs, out).map_err(|e| FollowError::Store(e.to_string()))?;
            self.handler
                .store_mut()
                .set_last_processed_block(to, hash.0)
                .map_err(|e| FollowError::Store(e.to_string()))?;
            if let Some(bar) = &bar {
                bar.inc(to.saturating_sub(next).saturating_add(1));
            }
            next = to.saturating_add(1);
        }
        if let Some(bar) = bar {
            bar.finish_and_clear();
        }
        Ok(Some(confirmed))
    }

    /// Fails when the last processed block was reorganised away.
    async fn check_canonical(&self) -> Result<(), FollowError> {
        let last = self
            .handler
            .store()
            .last_processed_block()
            .map_err(|e| FollowError::Store(e.to_string()))?;
        let Some((number, hash)) = last else { return Ok(()) };
        let canonical =
            self.retry("eth_getBlockByNumber", || self.source.block_hash(number)).await?;
        match canonical {
            Some(h) if h.0 == hash => Ok(()),
            _ => Err(FollowError::ReorgBeyondDepth { block: number }),
        }
    }

    /// Syncs, then follows the head every [`FollowerConfig::poll_interval`], handing each
    /// step's effects to `sink`, until `stop` turns true.
    ///
    /// # Errors
    /// As [`Follower::sync_to_confirmed`].
    pub async fn run(
        &mut self,
        mut sink: impl FnMut(Vec<Effect>) + Send,
        mut stop: tokio::sync::watch::Receiver<bool>,
    ) -> Result<(), FollowError> {
        loop {
            if *stop.borrow() {
                return Ok(());
            }
            let mut out = Vec::new();
            let result = self.sync_to_confirmed(&mut out).await;
            if !out.is_empty() {
                sink(out);
            }
            result?;
            tokio::select! {
                _ = tokio::time::sleep(self.config.poll_interval) => {}
                _ = stop.changed() => {}
            }
        }
    }
}
