//! A typed Beacon API client over several beacon nodes with failover.
//!
//! One method per route, the route in its doc (beacon-APIs v4.0.0). Each request goes to
//! the node that last answered and fails over, in configured order, to the next node on a
//! transport error, a timeout or a 5xx status; a 4xx answer is returned as is (another node
//! would refuse the same request). Timeouts are per endpoint kind ([`Timeouts`]).
//! Blocks travel as SSZ (`application/octet-stream`) when asked ([`Encoding`]), everything
//! else as JSON; `Eth-Consensus-Version` is sent with versioned submissions and read from
//! versioned responses. [`BeaconClient::connect`] refuses nodes on another network
//! (genesis validators root, genesis time or fork schedule that differ).

pub mod types;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap};
use reqwest::{Method, StatusCode};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use ssv_core::beacon::{
    AttestationData, CommitteeIndex, DataVersion, Epoch, Root, SignedContributionAndProof,
    SignedValidatorRegistration, SignedVoluntaryExit, Slot, SyncCommitteeContribution,
    SyncCommitteeMessage, ValidatorIndex, VersionedBlock, decode_block, electra, phase0,
};
use url::Url;

use self::types::{
    AttesterDuty, BeaconCommitteeSubscription, Duties, Fork, Genesis, HeadEvent, ProposerDuty,
    ProposerPreparation, SyncCommitteeSubscription, SyncDuty, SyncingStatus, ValidatorData,
};

/// The consensus-version header (requests and responses).
pub const CONSENSUS_VERSION_HEADER: &str = "Eth-Consensus-Version";

/// Largest response body read, in bytes: a Deneb+ block with all blobs is ~ 0.8 MiB of SSZ
/// per 6 blobs and twice that in JSON hex; 64 MiB leaves room for Fulu cell proofs.
pub const MAX_RESPONSE_BYTES: usize = 64 << 20;

/// A Beacon API failure, naming the node, the route and what came back.
#[derive(Debug, thiserror::Error)]
pub enum BeaconError {
    /// The request could not be sent or the answer not read (connection refused, timeout).
    #[error("beacon node {node}: {route}: transport error: {reason}")]
    Transport {
        /// The node's base URL.
        node: String,
        /// The route template.
        route: &'static str,
        /// What failed.
        reason: String,
    },
    /// The node answered with a non-success status.
    #[error("beacon node {node}: {route}: HTTP {status}: {body}")]
    Status {
        /// The node's base URL.
        node: String,
        /// The route template.
        route: &'static str,
        /// The HTTP status.
        status: u16,
        /// The response body (the API's `ErrorMessage`), truncated to 1 KiB.
        body: String,
    },
    /// The answer did not parse as the route's response.
    #[error("beacon node {node}: {route}: bad response: {reason}")]
    Decode {
        /// The node's base URL.
        node: String,
        /// The route template.
        route: &'static str,
        /// Why.
        reason: String,
    },
    /// Every node failed; the last error of each, in order.
    #[error("all beacon nodes failed: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
    AllFailed(Vec<BeaconError>),
    /// A node is on another network than the others (or than expected).
    #[error("beacon node {node} is on another network: {what} is {got}, expected {expected}")]
    NetworkMismatch {
        /// The node's base URL.
        node: String,
        /// Which property differs.
        what: &'static str,
        /// Its value at the node.
        got: String,
        /// The expected value.
        expected: String,
    },
    /// A caller input that cannot form a request (bad URL, nothing configured).
    #[error("beacon client: {0}")]
    Config(String),
}

impl BeaconError {
    /// Whether another node might answer better (transport errors and 5xx statuses).
    fn fails_over(&self) -> bool {
        match self {
            Self::Transport { .. } => true,
            Self::Status { status, .. } => *status >= 500,
            _ => false,
        }
    }
}

/// Per-endpoint timeouts. [`Timeouts::for_slot`] scales them to the slot duration, as
/// Lighthouse's validator client does (duties a third of a slot, attestation data a
/// quarter, block production half).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Node info, config, validators.
    pub default: Duration,
    /// Duties of any role.
    pub duties: Duration,
    /// Attestation data, aggregates, contributions.
    pub attestation: Duration,
    /// Block production and publication.
    pub proposal: Duration,
    /// Submissions (pool, aggregates, subscriptions, registrations).
    pub submission: Duration,
    /// Connecting the event stream.
    pub events_connect: Duration,
}

impl Timeouts {
    /// Timeouts for a chain with `slot` duration.
    pub fn for_slot(slot: Duration) -> Self {
        Self {
            default: slot,
            duties: slot / 3,
            attestation: slot / 4,
            proposal: slot / 2,
            submission: slot / 4,
            events_connect: slot,
        }
    }
}

impl Default for Timeouts {
    fn default() -> Self {
        Self::for_slot(Duration::from_secs(12))
    }
}

/// How a block travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Encoding {
    /// `application/json`.
    #[default]
    Json,
    /// `application/octet-stream` (SSZ).
    Ssz,
}

/// A block from `produceBlockV3`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProducedBlock {
    /// The block (full contents or blinded), tagged by fork.
    pub block: VersionedBlock,
    /// `execution_payload_value` in Wei, as the decimal string sent.
    pub execution_payload_value: String,
    /// `consensus_block_value` in Gwei, as the decimal string sent.
    pub consensus_block_value: String,
}

/// An aggregate attestation from `getAggregatedAttestationV2`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VersionedAttestation {
    /// Phase0 to Deneb layout.
    Phase0(phase0::Attestation),
    /// Electra layout (committee bits).
    Electra(electra::Attestation),
}

/// One request, replayable against each node.
struct Req<'a> {
    method: Method,
    route: &'static str,
    path: String,
    query: Vec<(&'static str, String)>,
    body: Option<(&'static str, Vec<u8>)>,
    version: Option<DataVersion>,
    accept_ssz: bool,
    timeout: Duration,
    _marker: std::marker::PhantomData<&'a ()>,
}

impl Req<'_> {
    fn new(method: Method, route: &'static str, path: String, timeout: Duration) -> Self {
        Self {
            method,
            route,
            path,
            query: Vec::new(),
            body: None,
            version: None,
            accept_ssz: false,
            timeout,
            _marker: std::marker::PhantomData,
        }
    }

    fn json<T: Serialize + ?Sized>(mut self, body: &T) -> Result<Self, BeaconError> {
        let bytes = serde_json::to_vec(body).map_err(|e| BeaconError::Config(e.to_string()))?;
        self.body = Some(("application/json", bytes));
        Ok(self)
    }
}

/// A successful answer.
struct Resp {
    node: String,
    route: &'static str,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Resp {
    fn decode<T: DeserializeOwned>(&self) -> Result<T, BeaconError> {
        serde_json::from_slice(&self.body).map_err(|e| self.bad(e.to_string()))
    }

    fn data<T: DeserializeOwned>(&self) -> Result<T, BeaconError> {
        #[derive(serde::Deserialize)]
        struct Data<T> {
            data: T,
        }
        self.decode::<Data<T>>().map(|d| d.data)
    }

    fn bad(&self, reason: String) -> BeaconError {
        BeaconError::Decode { node: self.node.clone(), route: self.route, reason }
    }

    fn version_header(&self) -> Option<Result<DataVersion, BeaconError>> {
        let raw = self.headers.get(CONSENSUS_VERSION_HEADER)?;
        Some(raw.to_str().map_err(|e| self.bad(e.to_string())).and_then(|s| {
            s.parse().map_err(|e: ssv_core::beacon::versioned::UnknownVersionName| {
                self.bad(e.to_string())
            })
        }))
    }
}

/// The identity of a network, as checked at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Network {
    /// Genesis data.
    pub genesis: Genesis,
    /// The fork schedule.
    pub forks: Vec<Fork>,
}

/// A Beacon API client over one or more beacon nodes. Cheap to share (`&self` methods).
#[derive(Debug)]
pub struct BeaconClient {
    nodes: Vec<Url>,
    http: reqwest::Client,
    timeouts: Timeouts,
    /// Index of the node that answered last; requests start there.
    preferred: AtomicUsize,
}

fn trim_body(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    text.chars().take(1024).collect()
}

fn hex0x(bytes: &[u8]) -> String {
    format!("0x{}", hex::encode(bytes))
}

impl BeaconClient {
    /// A client over `urls` (in failover order) without checking them.
    ///
    /// # Errors
    /// [`BeaconError::Config`] for no URL or an unparsable one.
    pub fn new(urls: &[&str], timeouts: Timeouts) -> Result<Self, BeaconError> {
        if urls.is_empty() {
            return Err(BeaconError::Config("no beacon node configured".into()));
        }
        let nodes = urls
            .iter()
            .map(|u| Url::parse(u).map_err(|e| BeaconError::Config(format!("{u}: {e}"))))
            .collect::<Result<Vec<_>, _>>()?;
        let http =
            reqwest::Client::builder().build().map_err(|e| BeaconError::Config(e.to_string()))?;
        Ok(Self { nodes, http, timeouts, preferred: AtomicUsize::new(0) })
    }

    /// A client over `urls` that keeps only nodes on one network: `expected` if given, else
    /// the first node that answers. Nodes that do not answer are kept (they may come up
    /// later; failover skips them while down).
    ///
    /// # Errors
    /// [`BeaconError::NetworkMismatch`] if any reachable node is on another network (the
    /// operator must fix the configuration); [`BeaconError::AllFailed`] when no node answers.
    pub async fn connect(
        urls: &[&str],
        timeouts: Timeouts,
        expected: Option<Network>,
    ) -> Result<(Self, Network), BeaconError> {
        let client = Self::new(urls, timeouts)?;
        let mut reference = expected;
        let mut failures = Vec::new();
        for i in 0..client.nodes.len() {
            let network = match client.network_at(i).await {
                Ok(n) => n,
                Err(e) => {
                    tracing::warn!(error = %e, "beacon node unreachable at start");
                    failures.push(e);
                    continue;
                }
            };
            let Some(want) = &reference else {
                reference = Some(network);
                continue;
            };
            let node = client.node_name(i);
            let mismatch = |what, got: String, expected: String| BeaconError::NetworkMismatch {
                node: node.clone(),
                what,
                got,
                expected,
            };
            if network.genesis.genesis_validators_root != want.genesis.genesis_validators_root {
                return Err(mismatch(
                    "genesis_validators_root",
                    hex0x(&network.genesis.genesis_validators_root),
                    hex0x(&want.genesis.genesis_validators_root),
                ));
            }
            if network.genesis.genesis_time != want.genesis.genesis_time {
                return Err(mismatch(
                    "genesis_time",
                    network.genesis.genesis_time.to_string(),
                    want.genesis.genesis_time.to_string(),
                ));
            }
            if network.forks != want.forks {
                return Err(mismatch(
                    "fork schedule",
                    format!("{:?}", network.forks),
                    format!("{:?}", want.forks),
                ));
            }
        }
        match reference {
            Some(network) => Ok((client, network)),
            None => Err(BeaconError::AllFailed(failures)),
        }
    }

    async fn network_at(&self, i: usize) -> Result<Network, BeaconError> {
        let genesis = self
            .send_to(
                i,
                &Req::new(
                    Method::GET,
                    "/eth/v1/beacon/genesis",
                    "/eth/v1/beacon/genesis".into(),
                    self.timeouts.default,
                ),
            )
            .await?
            .data()?;
        let forks = self
            .send_to(
                i,
                &Req::new(
                    Method::GET,
                    "/eth/v1/config/fork_schedule",
                    "/eth/v1/config/fork_schedule".into(),
                    self.timeouts.default,
                ),
            )
            .await?
            .data()?;
        Ok(Network { genesis, forks })
    }

    /// The configured nodes, in failover order.
    pub fn nodes(&self) -> &[Url] {
        &self.nodes
    }

    fn node_name(&self, i: usize) -> String {
        self.nodes.get(i).map(|u| u.as_str().trim_end_matches('/').to_string()).unwrap_or_default()
    }

    async fn send_to(&self, i: usize, req: &Req<'_>) -> Result<Resp, BeaconError> {
        let node = self.node_name(i);
        let transport = |reason: String| BeaconError::Transport {
            node: node.clone(),
            route: req.route,
            reason,
        };
        let base = self.nodes.get(i).ok_or_else(|| transport("no such node".into()))?;
        let url =
            base.join(req.path.trim_start_matches('/')).map_err(|e| transport(e.to_string()))?;
        let mut builder =
            self.http.request(req.method.clone(), url).timeout(req.timeout).query(&req.query);
        if let Some((content_type, body)) = &req.body {
            builder = builder.header(CONTENT_TYPE, *content_type).body(body.clone());
        }
        if let Some(version) = req.version {
            builder = builder.header(CONSENSUS_VERSION_HEADER, version.name());
        }
        builder = builder.header(
            ACCEPT,
            if req.accept_ssz {
                "application/octet-stream;q=1.0,application/json;q=0.9"
            } else {
                "application/json"
            },
        );
        let response = builder.send().await.map_err(|e| transport(error_chain(&e)))?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| transport(error_chain(&e)))?;
        if body.len() > MAX_RESPONSE_BYTES {
            return Err(transport(format!("response of {} bytes is over the limit", body.len())));
        }
        if !status.is_success() {
            return Err(BeaconError::Status {
                node,
                route: req.route,
                status: status.as_u16(),
                body: trim_body(&body),
            });
        }
        Ok(Resp { node, route: req.route, headers, body: body.to_vec() })
    }

    /// Sends `req` with failover (see the module doc).
    async fn send(&self, req: Req<'_>) -> Result<Resp, BeaconError> {
        let n = self.nodes.len();
        let start = self.preferred.load(Ordering::Relaxed) % n.max(1);
        let mut failures = Vec::new();
        for k in 0..n {
            let i = (start + k) % n;
            match self.send_to(i, &req).await {
                Ok(resp) => {
                    self.preferred.store(i, Ordering::Relaxed);
                    return Ok(resp);
                }
                Err(e) if e.fails_over() => {
                    tracing::debug!(error = %e, "beacon node failed; trying the next");
                    failures.push(e);
                }
                Err(e) => return Err(e),
            }
        }
        Err(if failures.len() == 1 { failures.remove(0) } else { BeaconError::AllFailed(failures) })
    }

    /// `GET /eth/v1/beacon/genesis`.
    ///
    /// # Errors
    /// [`BeaconError`] naming the node and route.
    pub async fn genesis(&self) -> Result<Genesis, BeaconError> {
        self.send(Req::new(
            Method::GET,
            "/eth/v1/beacon/genesis",
            "/eth/v1/beacon/genesis".into(),
            self.timeouts.default,
        ))
        .await?
        .data()
    }

    /// `GET /eth/v1/config/spec`: the node's configuration, values as sent (strings, and
    /// objects or arrays for newer entries).
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn config_spec(&self) -> Result<serde_json::Map<String, Value>, BeaconError> {
        self.send(Req::new(
            Method::GET,
            "/eth/v1/config/spec",
            "/eth/v1/config/spec".into(),
            self.timeouts.default,
        ))
        .await?
        .data()
    }

    /// `GET /eth/v1/config/fork_schedule`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn fork_schedule(&self) -> Result<Vec<Fork>, BeaconError> {
        self.send(Req::new(
            Method::GET,
            "/eth/v1/config/fork_schedule",
            "/eth/v1/config/fork_schedule".into(),
            self.timeouts.default,
        ))
        .await?
        .data()
    }

    /// `GET /eth/v1/node/syncing`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn node_syncing(&self) -> Result<SyncingStatus, BeaconError> {
        self.send(Req::new(
            Method::GET,
            "/eth/v1/node/syncing",
            "/eth/v1/node/syncing".into(),
            self.timeouts.default,
        ))
        .await?
        .data()
    }

    /// `POST /eth/v1/beacon/states/{state_id}/validators` with `ids` (indices or `0x`
    /// public keys); an empty list asks for all.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn validators(
        &self,
        state_id: &str,
        ids: &[String],
    ) -> Result<Vec<ValidatorData>, BeaconError> {
        let req = Req::new(
            Method::POST,
            "/eth/v1/beacon/states/{state_id}/validators",
            format!("/eth/v1/beacon/states/{state_id}/validators"),
            self.timeouts.default,
        )
        .json(&serde_json::json!({ "ids": ids }))?;
        self.send(req).await?.data()
    }

    async fn duties<T: DeserializeOwned>(&self, req: Req<'_>) -> Result<Duties<T>, BeaconError> {
        #[derive(serde::Deserialize)]
        struct Raw<T> {
            #[serde(default)]
            dependent_root: Option<String>,
            #[serde(default)]
            execution_optimistic: bool,
            data: Vec<T>,
        }
        let resp = self.send(req).await?;
        let raw: Raw<T> = resp.decode()?;
        let dependent_root = match raw.dependent_root {
            Some(text) => Some(parse_root(&text).map_err(|e| resp.bad(e))?),
            None => None,
        };
        Ok(Duties {
            dependent_root,
            execution_optimistic: raw.execution_optimistic,
            data: raw.data,
        })
    }

    /// `POST /eth/v1/validator/duties/attester/{epoch}` for `indices`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn attester_duties(
        &self,
        epoch: Epoch,
        indices: &[ValidatorIndex],
    ) -> Result<Duties<AttesterDuty>, BeaconError> {
        let body: Vec<String> = indices.iter().map(u64::to_string).collect();
        let req = Req::new(
            Method::POST,
            "/eth/v1/validator/duties/attester/{epoch}",
            format!("/eth/v1/validator/duties/attester/{epoch}"),
            self.timeouts.duties,
        )
        .json(&body)?;
        self.duties(req).await
    }

    /// `GET /eth/v1/validator/duties/proposer/{epoch}`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn proposer_duties(&self, epoch: Epoch) -> Result<Duties<ProposerDuty>, BeaconError> {
        let req = Req::new(
            Method::GET,
            "/eth/v1/validator/duties/proposer/{epoch}",
            format!("/eth/v1/validator/duties/proposer/{epoch}"),
            self.timeouts.duties,
        );
        self.duties(req).await
    }

    /// `POST /eth/v1/validator/duties/sync/{epoch}` for `indices`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn sync_duties(
        &self,
        epoch: Epoch,
        indices: &[ValidatorIndex],
    ) -> Result<Duties<SyncDuty>, BeaconError> {
        let body: Vec<String> = indices.iter().map(u64::to_string).collect();
        let req = Req::new(
            Method::POST,
            "/eth/v1/validator/duties/sync/{epoch}",
            format!("/eth/v1/validator/duties/sync/{epoch}"),
            self.timeouts.duties,
        )
        .json(&body)?;
        self.duties(req).await
    }

    /// `GET /eth/v1/validator/attestation_data?slot&committee_index`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn attestation_data(
        &self,
        slot: Slot,
        committee_index: CommitteeIndex,
    ) -> Result<AttestationData, BeaconError> {
        let mut req = Req::new(
            Method::GET,
            "/eth/v1/validator/attestation_data",
            "/eth/v1/validator/attestation_data".into(),
            self.timeouts.attestation,
        );
        req.query =
            vec![("slot", slot.to_string()), ("committee_index", committee_index.to_string())];
        self.send(req).await?.data()
    }

    /// `GET /eth/v3/validator/blocks/{slot}?randao_reveal&graffiti&builder_boost_factor`:
    /// a full or blinded block, as the node decides (`builder_boost_factor` steers it). With
    /// [`Encoding::Ssz`] the node may answer in SSZ; the fork and blinding then come from
    /// the `Eth-Consensus-Version` and `Eth-Execution-Payload-Blinded` headers.
    ///
    /// # Errors
    /// [`BeaconError`]; [`BeaconError::Decode`] when the version is unknown or the block
    /// does not parse as that version.
    pub async fn produce_block_v3(
        &self,
        slot: Slot,
        randao_reveal: &[u8; 96],
        graffiti: &Root,
        builder_boost_factor: Option<u64>,
        encoding: Encoding,
    ) -> Result<ProducedBlock, BeaconError> {
        let mut req = Req::new(
            Method::GET,
            "/eth/v3/validator/blocks/{slot}",
            format!("/eth/v3/validator/blocks/{slot}"),
            self.timeouts.proposal,
        );
        req.query = vec![("randao_reveal", hex0x(randao_reveal)), ("graffiti", hex0x(graffiti))];
        if let Some(b) = builder_boost_factor {
            req.query.push(("builder_boost_factor", b.to_string()));
        }
        req.accept_ssz = encoding == Encoding::Ssz;
        let resp = self.send(req).await?;
        let is_ssz = resp
            .headers
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/octet-stream"));
        let header =
            |name: &str| resp.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_string);
        if is_ssz {
            let version = resp
                .version_header()
                .ok_or_else(|| resp.bad("SSZ block without Eth-Consensus-Version".into()))??;
            let blinded = header("Eth-Execution-Payload-Blinded")
                .ok_or_else(|| resp.bad("SSZ block without Eth-Execution-Payload-Blinded".into()))?
                .eq_ignore_ascii_case("true");
            let block =
                decode_block(version, &resp.body, blinded).map_err(|e| resp.bad(e.to_string()))?;
            return Ok(ProducedBlock {
                block,
                execution_payload_value: header("Eth-Execution-Payload-Value").unwrap_or_default(),
                consensus_block_value: header("Eth-Consensus-Block-Value").unwrap_or_default(),
            });
        }
        #[derive(serde::Deserialize)]
        struct Raw {
            version: DataVersion,
            execution_payload_blinded: bool,
            execution_payload_value: String,
            consensus_block_value: String,
            data: Value,
        }
        let raw: Raw = resp.decode()?;
        if let Some(v) = resp.version_header() {
            let v = v?;
            if v != raw.version {
                return Err(resp
                    .bad(format!("header version {v} differs from body version {}", raw.version)));
            }
        }
        let block = versioned_block_from_json(raw.version, raw.execution_payload_blinded, raw.data)
            .map_err(|e| resp.bad(e))?;
        Ok(ProducedBlock {
            block,
            execution_payload_value: raw.execution_payload_value,
            consensus_block_value: raw.consensus_block_value,
        })
    }

    async fn publish<T: Serialize + ssz::Encode>(
        &self,
        route: &'static str,
        version: DataVersion,
        block: &T,
        encoding: Encoding,
    ) -> Result<(), BeaconError> {
        let mut req = Req::new(Method::POST, route, route.into(), self.timeouts.proposal);
        req = match encoding {
            Encoding::Json => req.json(block)?,
            Encoding::Ssz => {
                req.body = Some(("application/octet-stream", block.as_ssz_bytes()));
                req
            }
        };
        req.version = Some(version);
        self.send(req).await.map(drop)
    }

    /// `POST /eth/v2/beacon/blocks`: publishes a signed block (`SignedBlockContents` from
    /// Deneb on) of `version`, as JSON or SSZ.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn publish_block<T: Serialize + ssz::Encode>(
        &self,
        version: DataVersion,
        block: &T,
        encoding: Encoding,
    ) -> Result<(), BeaconError> {
        self.publish("/eth/v2/beacon/blocks", version, block, encoding).await
    }

    /// `POST /eth/v2/beacon/blinded_blocks`: publishes a `SignedBlindedBeaconBlock`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn publish_blinded_block<T: Serialize + ssz::Encode>(
        &self,
        version: DataVersion,
        block: &T,
        encoding: Encoding,
    ) -> Result<(), BeaconError> {
        self.publish("/eth/v2/beacon/blinded_blocks", version, block, encoding).await
    }

    async fn submit<T: Serialize + ?Sized>(
        &self,
        route: &'static str,
        version: Option<DataVersion>,
        body: &T,
    ) -> Result<(), BeaconError> {
        let mut req =
            Req::new(Method::POST, route, route.into(), self.timeouts.submission).json(body)?;
        req.version = version;
        self.send(req).await.map(drop)
    }

    /// `POST /eth/v2/beacon/pool/attestations`: `SingleAttestation`s from Electra, phase0
    /// `Attestation`s before; `version` goes in `Eth-Consensus-Version`.
    ///
    /// # Errors
    /// [`BeaconError`] (a 400 carries the node's per-item failures).
    pub async fn submit_attestations<T: Serialize>(
        &self,
        version: DataVersion,
        attestations: &[T],
    ) -> Result<(), BeaconError> {
        self.submit("/eth/v2/beacon/pool/attestations", Some(version), attestations).await
    }

    /// `GET /eth/v2/validator/aggregate_attestation?attestation_data_root&slot&committee_index`.
    ///
    /// # Errors
    /// [`BeaconError`] (404 when the node has nothing to aggregate).
    pub async fn aggregate_attestation(
        &self,
        slot: Slot,
        attestation_data_root: &Root,
        committee_index: CommitteeIndex,
    ) -> Result<VersionedAttestation, BeaconError> {
        let mut req = Req::new(
            Method::GET,
            "/eth/v2/validator/aggregate_attestation",
            "/eth/v2/validator/aggregate_attestation".into(),
            self.timeouts.attestation,
        );
        req.query = vec![
            ("attestation_data_root", hex0x(attestation_data_root)),
            ("slot", slot.to_string()),
            ("committee_index", committee_index.to_string()),
        ];
        let resp = self.send(req).await?;
        #[derive(serde::Deserialize)]
        struct Raw {
            version: DataVersion,
            data: Value,
        }
        let raw: Raw = resp.decode()?;
        let parsed = if raw.version >= DataVersion::Electra {
            serde_json::from_value(raw.data).map(VersionedAttestation::Electra)
        } else {
            serde_json::from_value(raw.data).map(VersionedAttestation::Phase0)
        };
        parsed.map_err(|e| resp.bad(e.to_string()))
    }

    /// `POST /eth/v2/validator/aggregate_and_proofs`: `SignedAggregateAndProof`s of
    /// `version`'s layout.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn submit_aggregate_and_proofs<T: Serialize>(
        &self,
        version: DataVersion,
        items: &[T],
    ) -> Result<(), BeaconError> {
        self.submit("/eth/v2/validator/aggregate_and_proofs", Some(version), items).await
    }

    /// `POST /eth/v1/beacon/pool/sync_committees`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn submit_sync_committee_messages(
        &self,
        messages: &[SyncCommitteeMessage],
    ) -> Result<(), BeaconError> {
        self.submit("/eth/v1/beacon/pool/sync_committees", None, messages).await
    }

    /// `GET /eth/v1/validator/sync_committee_contribution?slot&subcommittee_index&beacon_block_root`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn sync_committee_contribution(
        &self,
        slot: Slot,
        subcommittee_index: u64,
        beacon_block_root: &Root,
    ) -> Result<SyncCommitteeContribution, BeaconError> {
        let mut req = Req::new(
            Method::GET,
            "/eth/v1/validator/sync_committee_contribution",
            "/eth/v1/validator/sync_committee_contribution".into(),
            self.timeouts.attestation,
        );
        req.query = vec![
            ("slot", slot.to_string()),
            ("subcommittee_index", subcommittee_index.to_string()),
            ("beacon_block_root", hex0x(beacon_block_root)),
        ];
        self.send(req).await?.data()
    }

    /// `POST /eth/v1/validator/contribution_and_proofs`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn submit_contribution_and_proofs(
        &self,
        items: &[SignedContributionAndProof],
    ) -> Result<(), BeaconError> {
        self.submit("/eth/v1/validator/contribution_and_proofs", None, items).await
    }

    /// `POST /eth/v1/validator/beacon_committee_subscriptions`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn beacon_committee_subscriptions(
        &self,
        items: &[BeaconCommitteeSubscription],
    ) -> Result<(), BeaconError> {
        self.submit("/eth/v1/validator/beacon_committee_subscriptions", None, items).await
    }

    /// `POST /eth/v1/validator/sync_committee_subscriptions`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn sync_committee_subscriptions(
        &self,
        items: &[SyncCommitteeSubscription],
    ) -> Result<(), BeaconError> {
        self.submit("/eth/v1/validator/sync_committee_subscriptions", None, items).await
    }

    /// `POST /eth/v1/validator/prepare_beacon_proposer`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn prepare_beacon_proposer(
        &self,
        items: &[ProposerPreparation],
    ) -> Result<(), BeaconError> {
        self.submit("/eth/v1/validator/prepare_beacon_proposer", None, items).await
    }

    /// `POST /eth/v1/validator/register_validator`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn register_validators(
        &self,
        items: &[SignedValidatorRegistration],
    ) -> Result<(), BeaconError> {
        self.submit("/eth/v1/validator/register_validator", None, items).await
    }

    /// `POST /eth/v1/beacon/pool/voluntary_exits`.
    ///
    /// # Errors
    /// [`BeaconError`].
    pub async fn submit_voluntary_exit(
        &self,
        exit: &SignedVoluntaryExit,
    ) -> Result<(), BeaconError> {
        self.submit("/eth/v1/beacon/pool/voluntary_exits", None, exit).await
    }

    /// `GET /eth/v1/events?topics=head`: opens the head event stream on the first node that
    /// accepts it (failover order). When the stream ends, call again to reconnect.
    ///
    /// # Errors
    /// [`BeaconError`] when no node accepts.
    pub async fn head_events(&self) -> Result<HeadEvents, BeaconError> {
        const ROUTE: &str = "/eth/v1/events";
        let n = self.nodes.len();
        let start = self.preferred.load(Ordering::Relaxed) % n.max(1);
        let mut failures = Vec::new();
        for k in 0..n {
            let i = (start + k) % n;
            let node = self.node_name(i);
            let transport = |reason: String| BeaconError::Transport {
                node: node.clone(),
                route: ROUTE,
                reason,
            };
            let Some(base) = self.nodes.get(i) else { continue };
            let url = match base.join(ROUTE.trim_start_matches('/')) {
                Ok(u) => u,
                Err(e) => return Err(transport(e.to_string())),
            };
            let send = self
                .http
                .get(url)
                .query(&[("topics", "head")])
                .header(ACCEPT, "text/event-stream")
                .send();
            let response = match tokio::time::timeout(self.timeouts.events_connect, send).await {
                Ok(Ok(r)) => r,
                Ok(Err(e)) => {
                    failures.push(transport(error_chain(&e)));
                    continue;
                }
                Err(_) => {
                    failures.push(transport("timed out connecting".into()));
                    continue;
                }
            };
            if response.status() != StatusCode::OK {
                let status = response.status().as_u16();
                let body = response.bytes().await.map(|b| trim_body(&b)).unwrap_or_default();
                failures.push(BeaconError::Status { node, route: ROUTE, status, body });
                continue;
            }
            return Ok(HeadEvents {
                node,
                response,
                buffer: Vec::new(),
                event: String::new(),
                data: String::new(),
            });
        }
        Err(if failures.len() == 1 { failures.remove(0) } else { BeaconError::AllFailed(failures) })
    }
}

/// An open `head` event stream (Server-Sent Events, parsed line by line).
#[derive(Debug)]
pub struct HeadEvents {
    node: String,
    response: reqwest::Response,
    buffer: Vec<u8>,
    event: String,
    data: String,
}

impl HeadEvents {
    /// The node serving the stream.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The next `head` event; `None` when the node closed the stream.
    ///
    /// # Errors
    /// [`BeaconError::Transport`] when the connection breaks, [`BeaconError::Decode`] for an
    /// event that does not parse.
    pub async fn next(&mut self) -> Option<Result<HeadEvent, BeaconError>> {
        const ROUTE: &str = "/eth/v1/events";
        loop {
            while let Some(pos) = self.buffer.iter().position(|b| *b == b'\n') {
                let line: Vec<u8> = self.buffer.drain(..=pos).collect();
                let line = String::from_utf8_lossy(&line);
                let line = line.trim_end_matches(['\n', '\r']);
                if line.is_empty() {
                    // A blank line ends an event.
                    let event = std::mem::take(&mut self.event);
                    let data = std::mem::take(&mut self.data);
                    if event == "head" {
                        return Some(serde_json::from_str(&data).map_err(|e| {
                            BeaconError::Decode {
                                node: self.node.clone(),
                                route: ROUTE,
                                reason: format!("head event {data:?}: {e}"),
                            }
                        }));
                    }
                } else if let Some(rest) = line.strip_prefix("event:") {
                    self.event = rest.trim_start().to_string();
                } else if let Some(rest) = line.strip_prefix("data:") {
                    if !self.data.is_empty() {
                        self.data.push('\n');
                    }
                    self.data.push_str(rest.strip_prefix(' ').unwrap_or(rest));
                }
                // Comments (`:`), `id:` and `retry:` lines are ignored.
            }
            match self.response.chunk().await {
                Ok(Some(chunk)) => {
                    if self.buffer.len() + chunk.len() > MAX_RESPONSE_BYTES {
                        return Some(Err(BeaconError::Transport {
                            node: self.node.clone(),
                            route: ROUTE,
                            reason: "event over the size limit".into(),
                        }));
                    }
                    self.buffer.extend_from_slice(&chunk);
                }
                Ok(None) => return None,
                Err(e) => {
                    return Some(Err(BeaconError::Transport {
                        node: self.node.clone(),
                        route: ROUTE,
                        reason: error_chain(&e),
                    }));
                }
            }
        }
    }
}

/// The error and its sources, joined (reqwest's top-level message alone hides the cause).
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

fn parse_root(text: &str) -> Result<Root, String> {
    let bytes = hex::decode(text.strip_prefix("0x").unwrap_or(text)).map_err(|e| e.to_string())?;
    Root::try_from(bytes).map_err(|_| format!("{text} is not 32 bytes"))
}

/// Parses `produceBlockV3` JSON `data` as the block of `version` (contents when full).
fn versioned_block_from_json(
    version: DataVersion,
    blinded: bool,
    data: Value,
) -> Result<VersionedBlock, String> {
    use ssv_core::beacon::{capella, deneb, fulu};
    let e = |e: serde_json::Error| e.to_string();
    Ok(match (version, blinded) {
        (DataVersion::Capella, false) => VersionedBlock::Capella(
            serde_json::from_value::<capella::BeaconBlock>(data).map_err(e)?,
        ),
        (DataVersion::Capella, true) => {
            VersionedBlock::CapellaBlinded(serde_json::from_value(data).map_err(e)?)
        }
        (DataVersion::Deneb, false) => {
            VersionedBlock::Deneb(serde_json::from_value::<deneb::BlockContents>(data).map_err(e)?)
        }
        (DataVersion::Deneb, true) => {
            VersionedBlock::DenebBlinded(serde_json::from_value(data).map_err(e)?)
        }
        (DataVersion::Electra, false) => {
            VersionedBlock::Electra(serde_json::from_value(data).map_err(e)?)
        }
        (DataVersion::Electra, true) => {
            VersionedBlock::ElectraBlinded(serde_json::from_value(data).map_err(e)?)
        }
        (DataVersion::Fulu, false) => {
            VersionedBlock::Fulu(serde_json::from_value::<fulu::BlockContents>(data).map_err(e)?)
        }
        (DataVersion::Fulu, true) => {
            VersionedBlock::FuluBlinded(serde_json::from_value(data).map_err(e)?)
        }
        (other, _) => return Err(format!("no block support for fork {other}")),
    })
}
