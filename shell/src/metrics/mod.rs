//! Prometheus metrics and the `/metrics`, `/health` and `/ready` HTTP endpoints.
//!
//! Metric names (all prefixed `ssv_`):
//! - `duties_total{role,outcome}`: duties finished, by runner role and outcome
//!   (`success`, `failed`, `timeout`, `slashing_refused`);
//! - `qbft_rounds{role}`: the round at which an instance decided;
//! - `qbft_decide_latency_seconds{role}`: slot start to decided;
//! - `partial_signature_latency_seconds{role}`: from the first partial signature of a
//!   runner's slot and message type to the quorum that reconstructed the full one;
//! - `beacon_errors_total{endpoint}`: failed Beacon API calls by route;
//! - `peers`: connected P2P peers;
//! - `queue_depth{queue}`: messages waiting in the node's queues;
//! - `core_seconds_total{input}`: event-loop time spent inside the core's `handle`, by
//!   input kind (`partial_signature`, `consensus`, `other`).
//!
//! `/health` answers 200 while the process serves; `/ready` answers 200 once the node is
//! ready for duties (database open, beacon node reachable on the right network) and 503
//! with the reason otherwise.

use std::net::SocketAddr;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets, linear_buckets};
use prometheus_client::registry::Registry;

/// `{role}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RoleLabels {
    /// Runner role (`committee`, `proposer`, `aggregator`, `sync_committee_contribution`,
    /// `validator_registration`, `voluntary_exit`).
    pub role: String,
}

/// `{role, outcome}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DutyLabels {
    /// Runner role.
    pub role: String,
    /// How the duty ended.
    pub outcome: String,
}

/// `{endpoint}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct EndpointLabels {
    /// Beacon API route.
    pub endpoint: String,
}

/// `{input}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct InputLabels {
    /// Input kind.
    pub input: String,
}

/// `{queue}` labels.
#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct QueueLabels {
    /// Queue name.
    pub queue: String,
}

/// Runner roles, as metric labels (ssv-spec v1.2.2 roles 0..=5).
pub const ROLES: [&str; 6] = [
    "committee",
    "aggregator",
    "proposer",
    "sync_committee_contribution",
    "validator_registration",
    "voluntary_exit",
];

/// Duty outcomes, as metric labels.
pub const OUTCOMES: [&str; 4] = ["success", "failed", "timeout", "slashing_refused"];

/// The node's queues, as metric labels.
/// `network_inbox`: messages from the transport not yet handled; `events`: finished
/// beacon calls, signatures and timers not yet fed back; `early_messages`: messages held
/// for retry until their proposal or duty arrives.
pub const QUEUES: [&str; 3] = ["network_inbox", "events", "early_messages"];

type HistogramFamily<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 5 ms .. ~20 s: partial signatures take milliseconds, a slow decide seconds.
    Histogram::new(exponential_buckets(0.005, 2.0, 13))
}

fn rounds_histogram() -> Histogram {
    // Rounds 1..12 (the committee role's cut-off is round 12).
    Histogram::new(linear_buckets(1.0, 1.0, 12))
}

/// The node's metrics. Cloning shares the same series.
#[derive(Debug, Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    /// `ssv_duties_total`.
    pub duties: Family<DutyLabels, Counter>,
    /// `ssv_qbft_rounds`.
    pub qbft_rounds: HistogramFamily<RoleLabels>,
    /// `ssv_qbft_decide_latency_seconds`.
    pub decide_latency: HistogramFamily<RoleLabels>,
    /// `ssv_partial_signature_latency_seconds`.
    pub partial_signature_latency: HistogramFamily<RoleLabels>,
    /// `ssv_beacon_errors_total`.
    pub beacon_errors: Family<EndpointLabels, Counter>,
    /// `ssv_peers`.
    pub peers: Gauge,
    /// `ssv_queue_depth`.
    pub queue_depth: Family<QueueLabels, Gauge>,
    /// `ssv_core_seconds_total`.
    pub core_seconds: Family<InputLabels, Counter<f64, AtomicU64>>,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Fresh metrics in their own registry.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("ssv");
        let duties = Family::<DutyLabels, Counter>::default();
        let qbft_rounds = HistogramFamily::new_with_constructor(rounds_histogram as fn() -> _);
        let decide_latency = HistogramFamily::new_with_constructor(latency_histogram as fn() -> _);
        let partial_signature_latency =
            HistogramFamily::new_with_constructor(latency_histogram as fn() -> _);
        let beacon_errors = Family::<EndpointLabels, Counter>::default();
        let peers = Gauge::default();
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        let core_seconds = Family::<InputLabels, Counter<f64, AtomicU64>>::default();
        registry.register("duties", "Duties finished, by role and outcome", duties.clone());
        registry.register("qbft_rounds", "Round at which QBFT decided", qbft_rounds.clone());
        registry.register(
            "qbft_decide_latency_seconds",
            "Slot start to QBFT decided",
            decide_latency.clone(),
        );
        registry.register(
            "partial_signature_latency_seconds",
            "First partial signature to reconstructed quorum",
            partial_signature_latency.clone(),
        );
        registry.register(
            "beacon_errors",
            "Failed Beacon API calls, by endpoint",
            beacon_errors.clone(),
        );
        registry.register("peers", "Connected P2P peers", peers.clone());
        registry.register("queue_depth", "Messages waiting, by queue", queue_depth.clone());
        registry.register(
            "core_seconds",
            "Event-loop time inside the core, by input kind",
            core_seconds.clone(),
        );
        // Series that exist from the start, so dashboards see zeros rather than gaps.
        for role in ROLES {
            for outcome in OUTCOMES {
                let _ = duties
                    .get_or_create(&DutyLabels { role: role.into(), outcome: outcome.into() });
            }
            let labels = RoleLabels { role: role.into() };
            let _ = qbft_rounds.get_or_create(&labels);
            let _ = decide_latency.get_or_create(&labels);
            let _ = partial_signature_latency.get_or_create(&labels);
        }
        for queue in QUEUES {
            let _ = queue_depth.get_or_create(&QueueLabels { queue: queue.into() });
        }
        Metrics {
            registry: Arc::new(registry),
            duties,
            qbft_rounds,
            decide_latency,
            partial_signature_latency,
            beacon_errors,
            peers,
            queue_depth,
            core_seconds,
        }
    }

    /// Counts one finished duty.
    pub fn duty(&self, role: &str, outcome: &str) {
        self.duties.get_or_create(&DutyLabels { role: role.into(), outcome: outcome.into() }).inc();
    }

    /// Counts one failed beacon call.
    pub fn beacon_error(&self, endpoint: &str) {
        self.beacon_errors.get_or_create(&EndpointLabels { endpoint: endpoint.into() }).inc();
    }

    /// Records a decide: its round and its latency.
    pub fn decided(&self, role: &str, round: u64, latency_seconds: f64) {
        let labels = RoleLabels { role: role.into() };
        self.qbft_rounds.get_or_create(&labels).observe(round as f64);
        self.decide_latency.get_or_create(&labels).observe(latency_seconds);
    }

    /// Sets a queue's depth.
    pub fn set_queue_depth(&self, queue: &str, depth: usize) {
        self.queue_depth
            .get_or_create(&QueueLabels { queue: queue.into() })
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// The OpenMetrics text exposition.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

/// Readiness: `None` when ready, else why not.
#[derive(Debug, Clone)]
pub struct Readiness(Arc<Mutex<Option<String>>>);

impl Default for Readiness {
    fn default() -> Self {
        Readiness(Arc::new(Mutex::new(Some("starting".into()))))
    }
}

impl Readiness {
    /// Marks the node ready.
    pub fn set_ready(&self) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Marks the node not ready, with the reason `/ready` shows.
    pub fn set_not_ready(&self, reason: impl Into<String>) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(reason.into());
    }

    /// `None` when ready, else the reason.
    pub fn reason(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn series_are_exposed_with_their_labels() {
        let m = Metrics::new();
        m.duty("proposer", "success");
        m.beacon_error("/eth/v1/validator/attestation_data");
        m.decided("committee", 2, 0.3);
        m.set_queue_depth("network_inbox", 5);
        m.peers.set(3);
        let text = m.encode();
        for line in [
            "ssv_duties_total{role=\"proposer\",outcome=\"success\"} 1",
            "ssv_duties_total{role=\"committee\",outcome=\"timeout\"} 0",
            "ssv_beacon_errors_total{endpoint=\"/eth/v1/validator/attestation_data\"} 1",
            "ssv_qbft_rounds_count{role=\"committee\"} 1",
            "ssv_queue_depth{queue=\"network_inbox\"} 5",
            "ssv_peers 3",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in\n{text}");
        }
    }
}

#[derive(Clone)]
struct AppState {
    metrics: Metrics,
    readiness: Readiness,
}

/// The router of `/metrics`, `/health` and `/ready`.
pub fn router(metrics: Metrics, readiness: Readiness) -> Router {
    Router::new()
        .route("/metrics", get(serve_metrics))
        .route("/health", get(|| async { "ok\n" }))
        .route("/ready", get(serve_ready))
        .with_state(AppState { metrics, readiness })
}

async fn serve_metrics(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")],
        state.metrics.encode(),
    )
}

async fn serve_ready(State(state): State<AppState>) -> impl IntoResponse {
    match state.readiness.reason() {
        None => (StatusCode::OK, "ready\n".to_owned()),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, format!("not ready: {reason}\n")),
    }
}

/// A running metrics server.
#[derive(Debug)]
pub struct MetricsServer {
    /// The bound address.
    pub addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<()>,
}

impl MetricsServer {
    /// Binds `addr` (port 0: any) and serves until [`MetricsServer::stop`].
    pub async fn start(
        addr: SocketAddr,
        metrics: Metrics,
        readiness: Readiness,
    ) -> std::io::Result<MetricsServer> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let app = router(metrics, readiness);
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
                let _ = stopped.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "metrics server stopped");
            }
        });
        Ok(MetricsServer { addr, stop, task })
    }

    /// Stops serving and waits for open requests to finish.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.task.await;
    }
}
