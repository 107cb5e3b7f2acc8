//! What an operator watches (the Prometheus text exposition, version 0.0.4, on the operator
//! listener `[server] ops_listen` at `GET /metrics`): requests by route and status with their
//! latency, the one-time transaction's time, the HSM session pool (size, in use, callers that
//! had to wait), and the audit trail (its head and the records no checkpoint covers yet).
//!
//! Counters and histograms are updated where the work happens; gauges of state that lives
//! elsewhere (the pool, the trail) are set just before each scrape. Label values are bounded:
//! a route is its path pattern from the route table (`/v1/sign/response/{signatureId}`), never
//! the request's path.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

/// A request's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The route's path pattern, or `unmatched`.
    pub route: String,
    /// The HTTP method.
    pub method: String,
    /// The answer's status code.
    pub status: String,
}

/// A route's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route's path pattern, or `unmatched`.
    pub route: String,
}

/// A transaction step's labels.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    /// `keygen`, `certificate`, `signature`, `destroy`, `timestamp`, `checks`.
    pub step: String,
}

/// Step buckets, in seconds: 50 µs to 1 s.
fn step() -> Histogram {
    Histogram::new([0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 1.0])
}

/// Latency buckets, in seconds: 1 ms to 10 s.
fn latency() -> Histogram {
    Histogram::new([0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0])
}

/// The daemon's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    request_seconds: Family<RouteLabels, Histogram, fn() -> Histogram>,
    onetime_seconds: Histogram,
    onetime_steps: Family<StepLabels, Histogram, fn() -> Histogram>,
    timestamp_failures: Counter,
    store_seconds: Histogram,
    /// HSM sessions esignd may use at once.
    pub hsm_sessions: Gauge,
    /// HSM sessions in use now.
    pub hsm_in_use: Gauge,
    /// HSM calls that had to wait for a session.
    pub hsm_waits: Counter,
    /// One-time keys the key pool keeps ready (0: no pool).
    pub key_pool_size: Gauge,
    /// One-time keys ready in the pool now.
    pub key_pool_ready: Gauge,
    /// Signatures that found the key pool empty.
    pub key_pool_empty: Counter,
    /// The audit trail's newest record.
    pub audit_head: Gauge,
    /// Records no checkpoint covers yet.
    pub audit_unchecked: Gauge,
    /// Deliveries waiting in the outbox.
    pub outbox_backlog: Gauge,
    /// Age of the oldest waiting delivery, in seconds.
    pub outbox_oldest_seconds: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// Every metric, registered, at zero.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("esignd");
        let requests = Family::<RequestLabels, Counter>::default();
        registry.register("http_requests", "HTTP requests answered, by route, method and status", requests.clone());
        let request_seconds = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(latency);
        registry.register("http_request_seconds", "Time to answer a request, by route", request_seconds.clone());
        let onetime_seconds = latency();
        registry.register(
            "onetime_transaction_seconds",
            "POST /v1/sign/onetime transactions: key, certificate, signature, destruction, time-stamp, checks",
            onetime_seconds.clone(),
        );
        let onetime_steps = Family::<StepLabels, Histogram, fn() -> Histogram>::new_with_constructor(step);
        registry.register(
            "onetime_step_seconds",
            "Steps of POST /v1/sign/onetime transactions: keygen, certificate, signature, destroy, timestamp, checks",
            onetime_steps.clone(),
        );
        let timestamp_failures = Counter::default();
        registry.register(
            "onetime_timestamp_failures",
            "POST /v1/sign/onetime transactions that failed at the time-stamp (built-in or external TSA)",
            timestamp_failures.clone(),
        );
        let store_seconds = step();
        registry.register(
            "store_call_seconds",
            "Store calls (one transaction or read each), waiting for the connection included",
            store_seconds.clone(),
        );
        let (hsm_sessions, hsm_in_use, hsm_waits) = (Gauge::default(), Gauge::default(), Counter::default());
        registry.register("hsm_sessions", "HSM sessions esignd may use at once", hsm_sessions.clone());
        registry.register("hsm_sessions_in_use", "HSM sessions in use", hsm_in_use.clone());
        registry.register("hsm_waits", "HSM calls that waited for a free session", hsm_waits.clone());
        let (key_pool_size, key_pool_ready, key_pool_empty) = (Gauge::default(), Gauge::default(), Counter::default());
        registry.register(
            "key_pool_size",
            "One-time keys the key pool keeps ready (0: no pool)",
            key_pool_size.clone(),
        );
        registry.register("key_pool_ready", "One-time keys ready in the key pool", key_pool_ready.clone());
        registry.register(
            "key_pool_empty",
            "One-time signatures that found the key pool empty",
            key_pool_empty.clone(),
        );
        let (audit_head, audit_unchecked) = (Gauge::default(), Gauge::default());
        registry.register("audit_head_seq", "Sequence number of the audit trail's newest record", audit_head.clone());
        registry.register(
            "audit_unchecked_records",
            "Audit records no signed checkpoint covers yet",
            audit_unchecked.clone(),
        );
        let (outbox_backlog, outbox_oldest_seconds) = (Gauge::default(), Gauge::default());
        registry.register("outbox_backlog", "Deliveries (webhooks) waiting in the outbox", outbox_backlog.clone());
        registry.register(
            "outbox_oldest_age_seconds",
            "Age of the oldest delivery waiting in the outbox (0 when none waits)",
            outbox_oldest_seconds.clone(),
        );
        Self {
            registry,
            outbox_backlog,
            outbox_oldest_seconds,
            requests,
            request_seconds,
            onetime_seconds,
            onetime_steps,
            timestamp_failures,
            store_seconds,
            hsm_sessions,
            hsm_in_use,
            hsm_waits,
            key_pool_size,
            key_pool_ready,
            key_pool_empty,
            audit_head,
            audit_unchecked,
        }
    }

    /// Count an answered request.
    pub fn request(&self, route: &str, method: &str, status: u16, seconds: f64) {
        let labels = RequestLabels { route: route.to_owned(), method: method.to_owned(), status: status.to_string() };
        self.requests.get_or_create(&labels).inc();
        self.request_seconds.get_or_create(&RouteLabels { route: route.to_owned() }).observe(seconds);
    }

    /// Time a finished one-time transaction, and each of its steps.
    pub fn onetime(&self, seconds: f64, steps: &[(&'static str, std::time::Duration)]) {
        self.onetime_seconds.observe(seconds);
        for (name, took) in steps {
            self.onetime_steps.get_or_create(&StepLabels { step: (*name).to_owned() }).observe(took.as_secs_f64());
        }
    }

    /// The histogram the store times its calls into.
    pub fn store_latency(&self) -> Histogram {
        self.store_seconds.clone()
    }

    /// Count a one-time transaction that failed at its time-stamp.
    pub fn timestamp_failed(&self) {
        self.timestamp_failures.inc();
    }

    /// The Prometheus text exposition (version 0.0.4, what `promtool check metrics` reads).
    pub fn encode(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// The content type of [`Metrics::encode`].
pub const CONTENT_TYPE: &str = prometheus_client::encoding::prometheus_text::CONTENT_TYPE;
