//! Prometheus metrics, rendered by the admin API's `GET /metrics`.
//!
//! Each server has a recorder of its own, never installed as the process's global recorder:
//! several servers in one process (the test kit starts many) keep separate figures, and a
//! program that embeds the server keeps its global recorder for itself. So nothing here uses
//! the `metrics` macros; the server holds the handles it records into. docs/operations.md
//! ("Monitoring") lists every metric.
//!
//! No label carries a value from a request: the message type is a name from
//! [`pfs_wire::REQUEST_TYPES`] or `unknown`, the result code one of the error-code table's, the
//! backend and kind fixed names.

use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use metrics::{Counter, Gauge, Histogram, Key, Label, Recorder, SharedString, Unit};
use metrics_exporter_prometheus::{
    Matcher, PrometheusBuilder, PrometheusHandle, PrometheusRecorder,
};
use pfs_core::Pfs;

use crate::transport::Counters;

/// Bucket bounds, in seconds, of the latency histograms: 100 µs to 10 s.
const BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

const REQUESTS: &str = "pfs_requests_total";
const REQUEST_SECONDS: &str = "pfs_request_duration_seconds";
const CONNECTIONS: &str = "pfs_connections";
const PANICS: &str = "pfs_panics_caught_total";
const STORE_SECONDS: &str = "pfs_store_call_duration_seconds";
const KDF_QUEUE: &str = "pfs_kdf_queue_depth";
const KDF_HASHES: &str = "pfs_kdf_hashes_total";
const SESSIONS: &str = "pfs_sessions_live";

static METADATA: metrics::Metadata<'static> =
    metrics::Metadata::new(module_path!(), metrics::Level::INFO, Some(module_path!()));

/// The metrics of one server.
pub struct Metrics {
    recorder: PrometheusRecorder,
    handle: PrometheusHandle,
    /// Request duration by message type: one per known type, in [`pfs_wire::REQUEST_TYPES`]
    /// order, then `unknown`.
    durations: Vec<Histogram>,
    /// Successful requests by message type, in the same order as `durations`: registered up
    /// front so that the common case takes no lock.
    successes: Vec<Counter>,
    /// Failed requests by (type index, result code), registered as they are first seen.
    requests: Mutex<Vec<(usize, &'static str, Counter)>>,
    connections: Gauge,
    panics: Counter,
    kdf_queue: Gauge,
    kdf_hashes: Counter,
    sessions: Gauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// A recorder of its own (see the module docs) with every metric described.
    pub fn new() -> Metrics {
        let recorder = PrometheusBuilder::new()
            .set_buckets(BUCKETS)
            .expect("the bucket list is not empty")
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), BUCKETS)
            .expect("the bucket list is not empty")
            .build_recorder();
        let describe = |kind: char, name: &'static str, unit: Option<Unit>, text: &'static str| {
            let (name, text) = (name.into(), SharedString::const_str(text));
            match kind {
                'c' => recorder.describe_counter(name, unit, text),
                'g' => recorder.describe_gauge(name, unit, text),
                _ => recorder.describe_histogram(name, unit, text),
            }
        };
        describe(
            'c',
            REQUESTS,
            None,
            "PFS requests answered, by message type (`unknown` for a type header naming no known message) and result code (0 for success)",
        );
        describe(
            'h',
            REQUEST_SECONDS,
            Some(Unit::Seconds),
            "Time to answer a PFS request, from its headers to its reply, by message type",
        );
        describe(
            'g',
            CONNECTIONS,
            None,
            "PFS connections open (TLS handshakes included)",
        );
        describe(
            'c',
            PANICS,
            None,
            "Panics caught since the start, on both listeners (the same figure as /health's panicsCaught)",
        );
        describe(
            'h',
            STORE_SECONDS,
            Some(Unit::Seconds),
            "Time of a store call at the backend, connection wait included, by backend and kind (read or write)",
        );
        describe(
            'g',
            KDF_QUEUE,
            None,
            "Linkage-key hashes waiting or running (places of the hashing queue taken)",
        );
        describe(
            'c',
            KDF_HASHES,
            None,
            "Linkage-key hashes and checks computed since the start",
        );
        describe(
            'g',
            SESSIONS,
            None,
            "Sessions not ended and within the idle timeout and lifetime, in the whole store (all instances), as of the last housekeeping (once a minute)",
        );
        let handle = recorder.handle();
        let durations = pfs_wire::REQUEST_TYPES
            .iter()
            .copied()
            .chain(["unknown"])
            .map(|t| {
                recorder.register_histogram(
                    &Key::from_parts(REQUEST_SECONDS, vec![Label::from_static_parts("type", t)]),
                    &METADATA,
                )
            })
            .collect();
        let successes = (0..=pfs_wire::REQUEST_TYPES.len())
            .map(|index| request_counter(&recorder, index, "0"))
            .collect();
        let connections = recorder.register_gauge(&Key::from_static_name(CONNECTIONS), &METADATA);
        let panics = recorder.register_counter(&Key::from_static_name(PANICS), &METADATA);
        let kdf_queue = recorder.register_gauge(&Key::from_static_name(KDF_QUEUE), &METADATA);
        let kdf_hashes = recorder.register_counter(&Key::from_static_name(KDF_HASHES), &METADATA);
        let sessions = recorder.register_gauge(&Key::from_static_name(SESSIONS), &METADATA);
        Metrics {
            recorder,
            handle,
            durations,
            successes,
            requests: Mutex::new(Vec::new()),
            connections,
            panics,
            kdf_queue,
            kdf_hashes,
            sessions,
        }
    }

    /// Counts a PFS request answered with `code` and records how long it took. `message_type`
    /// is what the client sent; anything but a known message type is counted as `unknown`.
    pub(crate) fn request(&self, message_type: Option<&str>, code: &'static str, took: Duration) {
        let index = type_index(message_type);
        self.durations[index].record(took.as_secs_f64());
        if code == "0"
            && let Some(counter) = self.successes.get(index)
        {
            counter.increment(1);
            return;
        }
        let mut requests = self.requests.lock().unwrap_or_else(|e| e.into_inner());
        if let Some((_, _, counter)) = requests.iter().find(|(i, c, _)| *i == index && *c == code) {
            counter.increment(1);
            return;
        }
        let counter = request_counter(&self.recorder, index, code);
        counter.increment(1);
        requests.push((index, code, counter));
    }

    /// Sets the live-sessions gauge (from housekeeping's count).
    pub(crate) fn live_sessions(&self, n: u64) {
        self.sessions.set(n as f64);
    }

    /// The gauge of open PFS connections.
    pub(crate) fn connections(&self) -> &Gauge {
        &self.connections
    }

    /// The latency histograms for a store backend (`sqlite` or `postgres`).
    pub fn store_timers(&self, backend: &'static str) -> pfs_store::StoreTimers {
        let timer = |kind: &'static str| {
            self.recorder.register_histogram(
                &Key::from_parts(
                    STORE_SECONDS,
                    vec![
                        Label::from_static_parts("backend", backend),
                        Label::from_static_parts("kind", kind),
                    ],
                ),
                &METADATA,
            )
        };
        pfs_store::StoreTimers {
            read: timer("read"),
            write: timer("write"),
        }
    }

    /// Drains the histograms' recent samples into their buckets; run every few seconds so
    /// that samples do not pile up between scrapes.
    pub(crate) fn upkeep(&self) {
        self.handle.run_upkeep();
    }

    /// The Prometheus text exposition of every metric, with the figures that are read rather
    /// than recorded (panics, the hashing queue) brought up to date first.
    pub fn render(&self, pfs: &Pfs, counters: &Counters) -> String {
        self.panics.absolute(counters.panics_caught());
        self.kdf_queue.set(pfs.kdf().admitted() as f64);
        self.kdf_hashes.absolute(pfs.kdf().computed());
        self.handle.render()
    }
}

/// The request counter of (message type `index`, result `code`).
fn request_counter(recorder: &PrometheusRecorder, index: usize, code: &'static str) -> Counter {
    recorder.register_counter(
        &Key::from_parts(
            REQUESTS,
            vec![
                Label::from_static_parts("type", type_name(index)),
                Label::from_static_parts("code", code),
            ],
        ),
        &METADATA,
    )
}

/// The position of a message type in [`pfs_wire::REQUEST_TYPES`], or one past the end for
/// `unknown`.
fn type_index(message_type: Option<&str>) -> usize {
    message_type
        .and_then(|t| pfs_wire::REQUEST_TYPES.iter().position(|known| *known == t))
        .unwrap_or(pfs_wire::REQUEST_TYPES.len())
}

fn type_name(index: usize) -> &'static str {
    pfs_wire::REQUEST_TYPES
        .get(index)
        .copied()
        .unwrap_or("unknown")
}

/// Holds one open connection in the connection gauge while it lives.
pub(crate) struct OpenConnection(Gauge);

impl OpenConnection {
    pub(crate) fn new(metrics: &Arc<Metrics>) -> Self {
        let gauge = metrics.connections().clone();
        gauge.increment(1.0);
        OpenConnection(gauge)
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
