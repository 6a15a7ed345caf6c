//! The Beacon API over HTTP (axum) around a [`Chain`].
//!
//! The server owns the clock: each request reads the wall clock once and hands it to the
//! chain as `now`. A ticker task publishes a `head` SSE event whenever the head slot moves.
//! Faults ([`Faults`]) delay or fail chosen routes; a lagging head is a chain setting
//! ([`crate::chain::ChainConfig::head_lag_slots`]). With a record folder, every accepted
//! submission is appended to `<folder>/submissions.jsonl` as one [`crate::chain::Record`],
//! and every request received (GETs and refused ones too) to `<folder>/requests.jsonl` as
//! one [`RequestRecord`], by a middleware that streams each line to the file as the
//! response goes out (nothing is kept in memory).

// Handlers return `Err(Response)` for early HTTP errors, the axum idiom; the size of
// `Response` does not matter on this path.
#![allow(clippy::result_large_err)]

use std::io::{LineWriter, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use ssv_core::beacon::{
    DataVersion, SignedContributionAndProof, SignedValidatorRegistration, SignedVoluntaryExit,
    SyncCommitteeMessage, VersionedBlock,
};
use tokio::net::TcpListener;
use tokio::sync::{broadcast, oneshot};

use crate::chain::blocks::{Body, decode_signed_block, hex0x, proposal_json};
use crate::chain::{Chain, ChainError, fork_version};

/// Route faults for tests. A route matches when the request path starts with it.
#[derive(Debug, Clone, Default)]
pub struct Faults {
    /// Routes answered only after a delay.
    pub slow: Vec<(String, Duration)>,
    /// Routes answered with an error status (and an `ErrorMessage` body).
    pub error: Vec<(String, u16)>,
}

impl Faults {
    /// Parses `ROUTE=MILLIS` (slow) or `ROUTE=STATUS` (error) flag values.
    ///
    /// # Errors
    /// A message naming the bad value.
    pub fn parse_pair(text: &str) -> Result<(String, u64), String> {
        let (route, n) =
            text.rsplit_once('=').ok_or_else(|| format!("expected ROUTE=N, got {text:?}"))?;
        let n = n.parse().map_err(|_| format!("not a number in {text:?}"))?;
        Ok((route.to_string(), n))
    }
}

/// Server options beyond the chain.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    /// Faults to inject.
    pub faults: Faults,
    /// Folder to append accepted submissions (`submissions.jsonl`) and every request
    /// received (`requests.jsonl`) to.
    pub record_dir: Option<PathBuf>,
}

/// File name, in the record folder, of the log of every request received.
pub const REQUESTS_FILE: &str = "requests.jsonl";

/// Largest request body read, bytes: a signed block with its blobs stays well below it; a
/// larger body is answered 413 (and logged without its body).
pub const MAX_REQUEST_BODY_BYTES: usize = 16 << 20;

/// One request as received, a line of `requests.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestRecord {
    /// When it arrived, unix milliseconds.
    pub unix_millis: u64,
    /// The HTTP method (`GET`, `POST`).
    pub method: String,
    /// Path and query, as sent (`/eth/v1/validator/attestation_data?slot=3&committee_index=0`).
    pub route: String,
    /// The status answered.
    pub status: u16,
    /// The request's `Content-Type`, when it had one.
    pub content_type: Option<String>,
    /// `text` (the body is the UTF-8 text as sent) or `hex` (SSZ or other binary: `0x`-hex
    /// of the bytes as sent).
    pub body_encoding: String,
    /// The body exactly as sent, in `body_encoding`; empty for no body.
    pub body: String,
}

impl RequestRecord {
    /// The body bytes as sent.
    ///
    /// # Errors
    /// A `hex` body that is not hex.
    pub fn body_bytes(&self) -> Result<Vec<u8>, hex::FromHexError> {
        match self.body_encoding.as_str() {
            "hex" => hex::decode(self.body.trim_start_matches("0x")),
            _ => Ok(self.body.as_bytes().to_vec()),
        }
    }
}

/// The `requests.jsonl` writer: each record is one line, written through at once.
struct RequestLog {
    path: PathBuf,
    file: Mutex<LineWriter<std::fs::File>>,
}

impl RequestLog {
    fn open(dir: &std::path::Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(REQUESTS_FILE);
        let file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
        Ok(Self { path, file: Mutex::new(LineWriter::new(file)) })
    }

    fn write(&self, record: &RequestRecord) {
        let line = serde_json::to_string(record).unwrap_or_default();
        let mut file = self.file.lock().unwrap_or_else(|e| e.into_inner());
        if let Err(e) = writeln!(file, "{line}") {
            tracing::warn!(path = %self.path.display(), error = %e, "could not log a request");
        }
    }
}

struct AppState {
    chain: Mutex<Chain>,
    options: ServerOptions,
    head_events: broadcast::Sender<String>,
    /// Records already written to the record folder.
    written: Mutex<usize>,
    /// Every request received, with a record folder.
    requests: Option<RequestLog>,
}

type Shared = Arc<AppState>;

fn now_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as u64).unwrap_or(0)
}

impl AppState {
    fn chain(&self) -> MutexGuard<'_, Chain> {
        self.chain.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs one batch submission: what the chain accepted is recorded even when some items
    /// are refused, and the refusals become the Beacon API's indexed error.
    fn submit_batch(
        &self,
        submit: impl FnOnce(&mut Chain) -> Result<(), Vec<(usize, ChainError)>>,
    ) -> Result<Response, Response> {
        let mut chain = self.chain();
        let result = submit(&mut chain);
        self.persist(&chain);
        result.map_err(|f| indexed_error(&f))?;
        Ok(StatusCode::OK.into_response())
    }

    /// Appends records not yet written to the record folder.
    fn persist(&self, chain: &Chain) {
        let Some(dir) = &self.options.record_dir else { return };
        let mut written = self.written.lock().unwrap_or_else(|e| e.into_inner());
        let new = chain.records().get(*written..).unwrap_or_default();
        if new.is_empty() {
            return;
        }
        let path = dir.join("submissions.jsonl");
        let result = std::fs::create_dir_all(dir).and_then(|()| {
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            for record in new {
                let line = serde_json::to_string(record).unwrap_or_default();
                writeln!(file, "{line}")?;
            }
            Ok(())
        });
        match result {
            Ok(()) => *written = chain.records().len(),
            Err(e) => tracing::warn!(path = %path.display(), error = %e, "could not write records"),
        }
    }
}

/// A running server: its address, and a handle to stop it.
#[derive(Debug)]
pub struct RunningServer {
    /// The bound address.
    pub addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl RunningServer {
    /// The base URL, `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops serving: the listener closes and open connections (SSE streams included) are
    /// dropped.
    pub fn stop(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        self.task.abort();
    }

    /// Stops serving and waits, at most `grace`, until the listener is closed and idle
    /// keep-alive connections are shut down; then aborts whatever is left.
    ///
    /// [`RunningServer::stop`] returns at once, and connections accepted before it may
    /// still be answered for a moment (each runs in its own task). Use this when a test
    /// needs the node gone, not merely going.
    pub async fn shutdown(mut self, grace: std::time::Duration) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if tokio::time::timeout(grace, &mut self.task).await.is_err() {
            self.task.abort();
        }
    }
}

/// Binds `addr` and serves `chain` until [`RunningServer::stop`].
///
/// # Errors
/// The bind error.
pub async fn spawn(
    addr: SocketAddr,
    chain: Chain,
    options: ServerOptions,
) -> std::io::Result<RunningServer> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let (head_events, _) = broadcast::channel(64);
    let requests = match &options.record_dir {
        Some(dir) => Some(RequestLog::open(dir)?),
        None => None,
    };
    let state = Arc::new(AppState {
        chain: Mutex::new(chain),
        options,
        head_events,
        written: Mutex::new(0),
        requests,
    });
    let ticker = tokio::spawn(head_ticker(state.clone()));
    let app = router(state);
    let (tx, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = rx.await;
        });
        if let Err(e) = serve.await {
            tracing::warn!(error = %e, "beacon-node server stopped");
        }
        ticker.abort();
    });
    Ok(RunningServer { addr, shutdown: Some(tx), task })
}

/// Publishes a `head` event each time the head slot moves.
async fn head_ticker(state: Shared) {
    let mut last = None;
    loop {
        let (event, sleep_ms) = {
            let chain = state.chain();
            let now = now_ms();
            let head = chain.head_slot(now);
            let slot_ms = chain.config().slot_duration_ms.max(1);
            let into_slot = now.saturating_sub(chain.config().genesis_time * 1000) % slot_ms;
            let event = (last != Some(head)).then(|| {
                let spe = chain.config().slots_per_epoch.max(1);
                let epoch = head / spe;
                let dependent = |e: u64| chain.block_root((e * spe).saturating_sub(1));
                json!({
                    "slot": head.to_string(),
                    "block": hex0x(&chain.block_root(head)),
                    "state": hex0x(&crate::chain::duties::hash(&[b"state", &head.to_le_bytes()])),
                    "epoch_transition": head.is_multiple_of(spe),
                    "previous_duty_dependent_root": hex0x(&dependent(epoch.saturating_sub(1))),
                    "current_duty_dependent_root": hex0x(&dependent(epoch)),
                    "execution_optimistic": false,
                })
                .to_string()
            });
            last = Some(head);
            (event, slot_ms - into_slot + 5)
        };
        if let Some(event) = event {
            let _ = state.head_events.send(event);
        }
        tokio::time::sleep(Duration::from_millis(sleep_ms)).await;
    }
}

fn router(state: Shared) -> Router {
    Router::new()
        .route("/eth/v1/beacon/genesis", get(genesis))
        .route("/eth/v1/config/spec", get(config_spec))
        .route("/eth/v1/config/fork_schedule", get(fork_schedule))
        .route("/eth/v1/node/syncing", get(syncing))
        .route("/eth/v1/node/version", get(node_version))
        .route("/eth/v1/beacon/states/{state_id}/validators", post(validators))
        .route("/eth/v1/validator/duties/attester/{epoch}", post(attester_duties))
        .route("/eth/v1/validator/duties/proposer/{epoch}", get(proposer_duties))
        .route("/eth/v1/validator/duties/sync/{epoch}", post(sync_duties))
        .route("/eth/v1/validator/attestation_data", get(attestation_data))
        .route("/eth/v3/validator/blocks/{slot}", get(produce_block))
        .route("/eth/v2/beacon/blocks", post(publish_block))
        .route("/eth/v2/beacon/blinded_blocks", post(publish_blinded_block))
        .route("/eth/v2/beacon/pool/attestations", post(submit_attestations))
        .route("/eth/v2/validator/aggregate_attestation", get(aggregate_attestation))
        .route("/eth/v2/validator/aggregate_and_proofs", post(submit_aggregate_and_proofs))
        .route("/eth/v1/beacon/pool/sync_committees", post(submit_sync_messages))
        .route("/eth/v1/validator/sync_committee_contribution", get(sync_contribution))
        .route("/eth/v1/validator/contribution_and_proofs", post(submit_contributions))
        .route("/eth/v1/validator/beacon_committee_subscriptions", post(subscriptions))
        .route("/eth/v1/validator/sync_committee_subscriptions", post(subscriptions))
        .route("/eth/v1/validator/prepare_beacon_proposer", post(prepare_beacon_proposer))
        .route("/eth/v1/validator/register_validator", post(register_validator))
        .route("/eth/v1/beacon/pool/voluntary_exits", post(voluntary_exit))
        .route("/eth/v1/events", get(events))
        .layer(middleware::from_fn_with_state(state.clone(), inject_faults))
        // Outermost: injected faults are logged with the status they answered.
        .layer(middleware::from_fn_with_state(state.clone(), log_request))
        .with_state(state)
}

/// Logs the request to `requests.jsonl` (with a record folder): the body is read whole
/// (at most [`MAX_REQUEST_BODY_BYTES`]), handed on unchanged, and logged with the status
/// answered.
async fn log_request(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let Some(log) = &state.requests else { return next.run(request).await };
    let unix_millis = now_ms();
    let method = request.method().to_string();
    let uri = request.uri();
    let route = uri.path_and_query().map_or_else(|| uri.path().to_string(), |pq| pq.to_string());
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let (parts, body) = request.into_parts();
    let (bytes, response) = match axum::body::to_bytes(body, MAX_REQUEST_BODY_BYTES).await {
        Ok(bytes) => {
            let request = Request::from_parts(parts, axum::body::Body::from(bytes.clone()));
            (bytes, next.run(request).await)
        }
        Err(e) => (Bytes::new(), error(413, format!("body not read: {e}"))),
    };
    let binary = content_type.as_deref().is_some_and(|t| t.starts_with("application/octet-stream"));
    let (body_encoding, body) = match std::str::from_utf8(&bytes) {
        Ok(text) if !binary => ("text", text.to_string()),
        _ => ("hex", hex0x(&bytes)),
    };
    log.write(&RequestRecord {
        unix_millis,
        method,
        route,
        status: response.status().as_u16(),
        content_type,
        body_encoding: body_encoding.into(),
        body,
    });
    response
}

async fn inject_faults(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_string();
    let faults = &state.options.faults;
    if let Some((_, delay)) = faults.slow.iter().find(|(r, _)| path.starts_with(r.as_str())) {
        tokio::time::sleep(*delay).await;
    }
    if let Some((_, status)) = faults.error.iter().find(|(r, _)| path.starts_with(r.as_str())) {
        return error(*status, format!("injected fault on {path}"));
    }
    next.run(request).await
}

/// An `ErrorMessage` response.
fn error(status: u16, message: impl Into<String>) -> Response {
    let code = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    (code, axum::Json(json!({"code": status, "message": message.into()}))).into_response()
}

fn chain_error(e: &ChainError) -> Response {
    error(e.http_status(), e.to_string())
}

/// An `IndexedErrorMessage` response.
fn indexed_error(failures: &[(usize, ChainError)]) -> Response {
    let list: Vec<Value> =
        failures.iter().map(|(i, e)| json!({"index": i, "message": e.to_string()})).collect();
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({"code": 400, "message": "some failures", "failures": list})),
    )
        .into_response()
}

fn bad_request(message: impl Into<String>) -> Response {
    error(400, message)
}

fn parse_u64(text: &str, what: &str) -> Result<u64, Response> {
    text.parse().map_err(|_| bad_request(format!("invalid {what}: {text}")))
}

fn parse_hex<const N: usize>(text: &str, what: &str) -> Result<[u8; N], Response> {
    let digits = text.strip_prefix("0x").unwrap_or(text);
    hex::decode(digits)
        .ok()
        .and_then(|b| <[u8; N]>::try_from(b).ok())
        .ok_or_else(|| bad_request(format!("invalid {what}: {text}")))
}

fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, Response> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("invalid body: {e}")))
}

fn parse_indices(body: &[u8]) -> Result<Vec<u64>, Response> {
    let items: Vec<String> = json_body(body)?;
    items.iter().map(|s| parse_u64(s, "validator index")).collect()
}

/// Checks the request's `Eth-Consensus-Version` against the chain's fork.
fn check_version(headers: &HeaderMap, fork: DataVersion) -> Result<(), Response> {
    let got = headers
        .get("eth-consensus-version")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| bad_request("missing Eth-Consensus-Version header"))?;
    match got.parse::<DataVersion>() {
        Ok(v) if v == fork => Ok(()),
        _ => Err(bad_request(format!(
            "Eth-Consensus-Version {got} does not match the chain's fork {fork}"
        ))),
    }
}

fn ok_json(value: Value) -> Response {
    axum::Json(value).into_response()
}

fn unwrap(result: Result<Response, Response>) -> Response {
    result.unwrap_or_else(|e| e)
}

async fn genesis(State(state): State<Shared>) -> Response {
    let chain = state.chain();
    ok_json(json!({"data": {
        "genesis_time": chain.config().genesis_time.to_string(),
        "genesis_validators_root": hex0x(&chain.genesis_validators_root()),
        "genesis_fork_version": hex0x(&fork_version(DataVersion::Phase0)),
    }}))
}

async fn config_spec(State(state): State<Shared>) -> Response {
    let chain = state.chain();
    let c = chain.config();
    let mut data = serde_json::Map::new();
    let mut put = |k: &str, v: String| {
        data.insert(k.to_string(), Value::String(v));
    };
    put("CONFIG_NAME", "ssv-sim".into());
    put("PRESET_BASE", "mainnet".into());
    put("SECONDS_PER_SLOT", c.slot_duration_ms.div_ceil(1000).to_string());
    put("SLOT_DURATION_MS", c.slot_duration_ms.to_string());
    put("SLOTS_PER_EPOCH", c.slots_per_epoch.to_string());
    put("MIN_GENESIS_TIME", c.genesis_time.to_string());
    put("GENESIS_DELAY", "0".into());
    put("TARGET_COMMITTEE_SIZE", crate::chain::duties::TARGET_COMMITTEE_SIZE.to_string());
    put("MAX_COMMITTEES_PER_SLOT", crate::chain::duties::MAX_COMMITTEES_PER_SLOT.to_string());
    put("TARGET_AGGREGATORS_PER_COMMITTEE", "16".into());
    put("SYNC_COMMITTEE_SIZE", crate::chain::duties::SYNC_COMMITTEE_SIZE.to_string());
    put("SYNC_COMMITTEE_SUBNET_COUNT", "4".into());
    put("TARGET_AGGREGATORS_PER_SYNC_SUBCOMMITTEE", "16".into());
    put(
        "EPOCHS_PER_SYNC_COMMITTEE_PERIOD",
        crate::chain::duties::EPOCHS_PER_SYNC_COMMITTEE_PERIOD.to_string(),
    );
    put("GENESIS_FORK_VERSION", hex0x(&fork_version(DataVersion::Phase0)));
    for fork in DataVersion::ALL.into_iter().filter(|f| *f > DataVersion::Phase0) {
        let name = fork.name().to_ascii_uppercase();
        put(&format!("{name}_FORK_VERSION"), hex0x(&fork_version(fork)));
        let epoch = if fork <= c.fork { 0 } else { u64::MAX };
        put(&format!("{name}_FORK_EPOCH"), epoch.to_string());
    }
    for (name, dt) in [
        ("DOMAIN_BEACON_PROPOSER", [0u8, 0, 0, 0]),
        ("DOMAIN_BEACON_ATTESTER", [1, 0, 0, 0]),
        ("DOMAIN_RANDAO", [2, 0, 0, 0]),
        ("DOMAIN_DEPOSIT", [3, 0, 0, 0]),
        ("DOMAIN_VOLUNTARY_EXIT", [4, 0, 0, 0]),
        ("DOMAIN_SELECTION_PROOF", [5, 0, 0, 0]),
        ("DOMAIN_AGGREGATE_AND_PROOF", [6, 0, 0, 0]),
        ("DOMAIN_SYNC_COMMITTEE", [7, 0, 0, 0]),
        ("DOMAIN_SYNC_COMMITTEE_SELECTION_PROOF", [8, 0, 0, 0]),
        ("DOMAIN_CONTRIBUTION_AND_PROOF", [9, 0, 0, 0]),
        ("DOMAIN_APPLICATION_BUILDER", [0, 0, 0, 1]),
    ] {
        put(name, hex0x(&dt));
    }
    ok_json(json!({"data": data}))
}

async fn fork_schedule(State(state): State<Shared>) -> Response {
    let chain = state.chain();
    let fork = chain.config().fork;
    let mut previous = fork_version(DataVersion::Phase0);
    let list: Vec<Value> = DataVersion::ALL
        .into_iter()
        .filter(|f| *f >= DataVersion::Phase0 && *f <= fork)
        .map(|f| {
            let current = fork_version(f);
            let entry = json!({"previous_version": hex0x(&previous), "current_version": hex0x(&current), "epoch": "0"});
            previous = current;
            entry
        })
        .collect();
    ok_json(json!({"data": list}))
}

async fn syncing(State(state): State<Shared>) -> Response {
    let chain = state.chain();
    let now = now_ms();
    let head = chain.head_slot(now);
    let distance = chain.slot_at(now) - head;
    ok_json(json!({"data": {
        "head_slot": head.to_string(),
        "sync_distance": distance.to_string(),
        "is_syncing": false,
        "is_optimistic": false,
        "el_offline": false,
    }}))
}

async fn node_version() -> Response {
    ok_json(json!({"data": {"version": concat!("ssv-sim/v", env!("CARGO_PKG_VERSION"))}}))
}

#[derive(Deserialize)]
struct ValidatorsBody {
    #[serde(default)]
    ids: Option<Vec<String>>,
}

async fn validators(
    State(state): State<Shared>,
    Path(_state_id): Path<String>,
    body: Bytes,
) -> Response {
    unwrap((|| {
        let body: ValidatorsBody =
            if body.is_empty() { ValidatorsBody { ids: None } } else { json_body(&body)? };
        let chain = state.chain();
        let keys = chain.validators();
        let mut selected: Vec<usize> = Vec::new();
        match body.ids.filter(|ids| !ids.is_empty()) {
            None => selected.extend(0..keys.len()),
            Some(ids) => {
                for id in ids {
                    let found = if id.starts_with("0x") {
                        let pk: [u8; 48] = parse_hex(&id, "public key")?;
                        keys.iter().position(|k| k.to_bytes() == pk)
                    } else {
                        let i = parse_u64(&id, "validator index")? as usize;
                        (i < keys.len()).then_some(i)
                    };
                    selected.extend(found);
                }
            }
        }
        let far = u64::MAX.to_string();
        let data: Vec<Value> = selected
            .into_iter()
            .map(|i| {
                let pubkey = keys.get(i).map(|k| k.to_bytes()).unwrap_or([0; 48]);
                let mut credentials = [0u8; 32];
                credentials[0] = 0x01;
                json!({
                    "index": i.to_string(),
                    "balance": "32000000000",
                    "status": "active_ongoing",
                    "validator": {
                        "pubkey": hex0x(&pubkey),
                        "withdrawal_credentials": hex0x(&credentials),
                        "effective_balance": "32000000000",
                        "slashed": false,
                        "activation_eligibility_epoch": "0",
                        "activation_epoch": "0",
                        "exit_epoch": far,
                        "withdrawable_epoch": far,
                    }
                })
            })
            .collect();
        Ok(ok_json(json!({"execution_optimistic": false, "finalized": false, "data": data})))
    })())
}

fn dependent_root(chain: &Chain, epoch: u64) -> String {
    let spe = chain.config().slots_per_epoch;
    hex0x(&chain.block_root((epoch.saturating_sub(1) * spe).saturating_sub(1)))
}

async fn attester_duties(
    State(state): State<Shared>,
    Path(epoch): Path<String>,
    body: Bytes,
) -> Response {
    unwrap((|| {
        let epoch = parse_u64(&epoch, "epoch")?;
        let indices = parse_indices(&body)?;
        let chain = state.chain();
        let duties = chain.attester_duties(epoch, &indices).map_err(|e| chain_error(&e))?;
        let data: Vec<Value> = duties
            .iter()
            .map(|d| {
                json!({
                    "pubkey": hex0x(&d.pubkey),
                    "validator_index": d.validator_index.to_string(),
                    "committee_index": d.committee_index.to_string(),
                    "committee_length": d.committee_length.to_string(),
                    "committees_at_slot": d.committees_at_slot.to_string(),
                    "validator_committee_index": d.validator_committee_index.to_string(),
                    "slot": d.slot.to_string(),
                })
            })
            .collect();
        Ok(ok_json(
            json!({"dependent_root": dependent_root(&chain, epoch), "execution_optimistic": false, "data": data}),
        ))
    })())
}

async fn proposer_duties(State(state): State<Shared>, Path(epoch): Path<String>) -> Response {
    unwrap((|| {
        let epoch = parse_u64(&epoch, "epoch")?;
        let chain = state.chain();
        let data: Vec<Value> = chain
            .proposer_duties(epoch)
            .into_iter()
            .map(|(slot, v)| {
                let pubkey = chain.validators().get(v as usize).map(|k| k.to_bytes()).unwrap_or([0; 48]);
                json!({"pubkey": hex0x(&pubkey), "validator_index": v.to_string(), "slot": slot.to_string()})
            })
            .collect();
        Ok(ok_json(
            json!({"dependent_root": dependent_root(&chain, epoch + 1), "execution_optimistic": false, "data": data}),
        ))
    })())
}

async fn sync_duties(
    State(state): State<Shared>,
    Path(epoch): Path<String>,
    body: Bytes,
) -> Response {
    unwrap((|| {
        let epoch = parse_u64(&epoch, "epoch")?;
        let indices = parse_indices(&body)?;
        let chain = state.chain();
        let duties = chain.sync_duties(epoch, &indices).map_err(|e| chain_error(&e))?;
        let data: Vec<Value> = duties
            .iter()
            .map(|d| {
                json!({
                    "pubkey": hex0x(&d.pubkey),
                    "validator_index": d.validator_index.to_string(),
                    "validator_sync_committee_indices":
                        d.validator_sync_committee_indices.iter().map(u64::to_string).collect::<Vec<_>>(),
                })
            })
            .collect();
        Ok(ok_json(json!({"execution_optimistic": false, "data": data})))
    })())
}

#[derive(Deserialize)]
struct AttestationDataQuery {
    slot: String,
    committee_index: String,
}

async fn attestation_data(
    State(state): State<Shared>,
    Query(q): Query<AttestationDataQuery>,
) -> Response {
    unwrap((|| {
        let slot = parse_u64(&q.slot, "slot")?;
        let index = parse_u64(&q.committee_index, "committee_index")?;
        let chain = state.chain();
        let data = chain.attestation_data(now_ms(), slot, index).map_err(|e| chain_error(&e))?;
        Ok(ok_json(json!({"data": data})))
    })())
}

#[derive(Deserialize)]
struct ProduceBlockQuery {
    randao_reveal: String,
    graffiti: Option<String>,
    builder_boost_factor: Option<String>,
}

fn wants_ssz(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"))
}

/// Serves the blinded block when the caller asks for builder blocks
/// (`builder_boost_factor` above 100, as a builder paying more would win), else the full one.
async fn produce_block(
    State(state): State<Shared>,
    Path(slot): Path<String>,
    Query(q): Query<ProduceBlockQuery>,
    headers: HeaderMap,
) -> Response {
    unwrap((|| {
        let slot = parse_u64(&slot, "slot")?;
        let randao: [u8; 96] = parse_hex(&q.randao_reveal, "randao_reveal")?;
        let graffiti: [u8; 32] = match &q.graffiti {
            Some(g) => parse_hex(g, "graffiti")?,
            None => [0; 32],
        };
        let boost = match &q.builder_boost_factor {
            Some(b) => Some(parse_u64(b, "builder_boost_factor")?),
            None => None,
        };
        let blinded = boost.is_some_and(|b| b > 100);
        let chain = state.chain();
        let (full, blinded_block) =
            chain.produce_block(now_ms(), slot, randao, graffiti).map_err(|e| chain_error(&e))?;
        let block: VersionedBlock = if blinded { blinded_block } else { full };
        let version = block.version().name();
        let mut response = if wants_ssz(&headers) {
            let mut r = block.to_ssz().into_response();
            r.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
            r
        } else {
            ok_json(json!({
                "version": version,
                "execution_payload_blinded": blinded,
                "execution_payload_value": "0",
                "consensus_block_value": "0",
                "data": proposal_json(&block),
            }))
        };
        let h = response.headers_mut();
        h.insert("eth-consensus-version", HeaderValue::from_static(version));
        h.insert(
            "eth-execution-payload-blinded",
            HeaderValue::from_static(if blinded { "true" } else { "false" }),
        );
        h.insert("eth-execution-payload-value", HeaderValue::from_static("0"));
        h.insert("eth-consensus-block-value", HeaderValue::from_static("0"));
        Ok(response)
    })())
}

fn is_ssz(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/octet-stream"))
}

fn publish(state: &Shared, headers: &HeaderMap, body: &[u8], blinded: bool) -> Response {
    unwrap((|| {
        let mut chain = state.chain();
        check_version(headers, chain.config().fork)?;
        let body = if is_ssz(headers) { Body::Ssz(body) } else { Body::Json(body) };
        let summary =
            decode_signed_block(chain.config().fork, blinded, body).map_err(|e| chain_error(&e))?;
        chain.publish_block(now_ms(), &summary).map_err(|e| chain_error(&e))?;
        state.persist(&chain);
        Ok(StatusCode::OK.into_response())
    })())
}

async fn publish_block(State(state): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    publish(&state, &headers, &body, false)
}

async fn publish_blinded_block(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    publish(&state, &headers, &body, true)
}

async fn submit_attestations(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    unwrap((|| {
        check_version(&headers, state.chain().config().fork)?;
        let items: Vec<Value> = json_body(&body)?;
        state.submit_batch(|chain| chain.submit_attestations(now_ms(), &items))
    })())
}

#[derive(Deserialize)]
struct AggregateQuery {
    attestation_data_root: String,
    slot: String,
    committee_index: String,
}

async fn aggregate_attestation(
    State(state): State<Shared>,
    Query(q): Query<AggregateQuery>,
) -> Response {
    unwrap((|| {
        let root: [u8; 32] = parse_hex(&q.attestation_data_root, "attestation_data_root")?;
        let slot = parse_u64(&q.slot, "slot")?;
        let index = parse_u64(&q.committee_index, "committee_index")?;
        let chain = state.chain();
        let data = chain.aggregate_attestation(slot, &root, index).map_err(|e| chain_error(&e))?;
        let version = chain.config().fork.name();
        let mut response = ok_json(json!({"version": version, "data": data}));
        response.headers_mut().insert("eth-consensus-version", HeaderValue::from_static(version));
        Ok(response)
    })())
}

async fn submit_aggregate_and_proofs(
    State(state): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    unwrap((|| {
        check_version(&headers, state.chain().config().fork)?;
        let items: Vec<Value> = json_body(&body)?;
        state.submit_batch(|chain| chain.submit_aggregate_and_proofs(now_ms(), &items))
    })())
}

async fn submit_sync_messages(State(state): State<Shared>, body: Bytes) -> Response {
    unwrap((|| {
        let items: Vec<SyncCommitteeMessage> = json_body(&body)?;
        state.submit_batch(|chain| chain.submit_sync_committee_messages(now_ms(), &items))
    })())
}

#[derive(Deserialize)]
struct ContributionQuery {
    slot: String,
    subcommittee_index: String,
    beacon_block_root: String,
}

async fn sync_contribution(
    State(state): State<Shared>,
    Query(q): Query<ContributionQuery>,
) -> Response {
    unwrap((|| {
        let slot = parse_u64(&q.slot, "slot")?;
        let sub = parse_u64(&q.subcommittee_index, "subcommittee_index")?;
        let root: [u8; 32] = parse_hex(&q.beacon_block_root, "beacon_block_root")?;
        let chain = state.chain();
        let contribution =
            chain.sync_committee_contribution(slot, sub, &root).map_err(|e| chain_error(&e))?;
        Ok(ok_json(json!({"data": contribution})))
    })())
}

async fn submit_contributions(State(state): State<Shared>, body: Bytes) -> Response {
    unwrap((|| {
        let items: Vec<SignedContributionAndProof> = json_body(&body)?;
        state.submit_batch(|chain| chain.submit_contribution_and_proofs(now_ms(), &items))
    })())
}

async fn subscriptions(State(state): State<Shared>, request: Request) -> Response {
    let route = request.uri().path().to_string();
    let body = match axum::body::to_bytes(request.into_body(), 1 << 20).await {
        Ok(b) => b,
        Err(e) => return bad_request(format!("invalid body: {e}")),
    };
    unwrap((|| {
        let items: Vec<Value> = json_body(&body)?;
        let mut chain = state.chain();
        chain.record_subscription(now_ms(), &route, Value::Array(items));
        state.persist(&chain);
        Ok(StatusCode::OK.into_response())
    })())
}

#[derive(Deserialize)]
struct Preparation {
    validator_index: String,
    fee_recipient: String,
}

async fn prepare_beacon_proposer(State(state): State<Shared>, body: Bytes) -> Response {
    unwrap((|| {
        let items: Vec<Preparation> = json_body(&body)?;
        let parsed = items
            .iter()
            .map(|p| {
                Ok((
                    parse_u64(&p.validator_index, "validator_index")?,
                    parse_hex(&p.fee_recipient, "fee_recipient")?,
                ))
            })
            .collect::<Result<Vec<_>, Response>>()?;
        let mut chain = state.chain();
        chain.prepare_beacon_proposer(now_ms(), &parsed).map_err(|e| chain_error(&e))?;
        state.persist(&chain);
        Ok(StatusCode::OK.into_response())
    })())
}

async fn register_validator(State(state): State<Shared>, body: Bytes) -> Response {
    unwrap((|| {
        let items: Vec<SignedValidatorRegistration> = json_body(&body)?;
        state.submit_batch(|chain| chain.register_validators(now_ms(), &items))
    })())
}

async fn voluntary_exit(State(state): State<Shared>, body: Bytes) -> Response {
    unwrap((|| {
        let exit: SignedVoluntaryExit = json_body(&body)?;
        let mut chain = state.chain();
        chain.submit_voluntary_exit(now_ms(), &exit).map_err(|e| chain_error(&e))?;
        state.persist(&chain);
        Ok(StatusCode::OK.into_response())
    })())
}

#[derive(Deserialize)]
struct EventsQuery {
    topics: String,
}

/// `GET /eth/v1/events?topics=head`: only the `head` topic is served.
async fn events(State(state): State<Shared>, Query(q): Query<EventsQuery>) -> Response {
    if q.topics.split(',').any(|t| t != "head") {
        return bad_request(format!("unsupported topics: {}", q.topics));
    }
    let rx = state.head_events.subscribe();
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(data) => {
                    return Some((
                        Ok::<_, std::convert::Infallible>(
                            Event::default().event("head").data(data),
                        ),
                        rx,
                    ));
                }
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}
