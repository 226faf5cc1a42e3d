//! What the client tells about each call, against the fake runtime over a Unix socket: a
//! `tracing` span per RPC with its fields, the kubelet's metrics through the `metrics` facade,
//! and identical errors logged once a minute. (Its own test binary: `tracing` caches per
//! callsite whether anyone listens, which tests running beside it without a subscriber would
//! disturb.)

mod support;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cri_api_v1 as v1;
use cri_client::observe::{
    OPERATION_TYPE, OPERATIONS_DURATION_SECONDS, OPERATIONS_ERRORS_TOTAL, OPERATIONS_TOTAL,
};
use cri_fake::FakeRuntime;
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use support::{Canned, builder, serve};
use tracing_subscriber::layer::SubscriberExt;

/// A span seen by the test subscriber: its fields as text, once it closed.
type Spans = Arc<Mutex<Vec<HashMap<String, String>>>>;

/// A `tracing` layer keeping the fields of every `cri` span and counting `ERROR` events.
#[derive(Clone, Default)]
struct Recorder {
    open: Arc<Mutex<HashMap<tracing::span::Id, HashMap<String, String>>>>,
    closed: Spans,
    errors: Arc<Mutex<Vec<String>>>,
}

struct Fields<'a>(&'a mut HashMap<String, String>);

impl tracing::field::Visit for Fields<'_> {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(
            field.name().to_string(),
            format!("{value:?}").replace('"', ""),
        );
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Recorder {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if attrs.metadata().name() == "cri" {
            let mut fields = HashMap::new();
            attrs.record(&mut Fields(&mut fields));
            self.open.lock().unwrap().insert(id.clone(), fields);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(fields) = self.open.lock().unwrap().get_mut(id) {
            values.record(&mut Fields(fields));
        }
    }

    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        if *event.metadata().level() == tracing::Level::ERROR {
            let mut fields = HashMap::new();
            event.record(&mut Fields(&mut fields));
            self.errors
                .lock()
                .unwrap()
                .push(fields.remove("error").unwrap_or_default());
        }
    }

    fn on_close(&self, id: tracing::span::Id, _: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(fields) = self.open.lock().unwrap().remove(&id) {
            self.closed.lock().unwrap().push(fields);
        }
    }
}

/// Runs `test` on a current-thread runtime with `recorder` as the thread's `tracing`
/// subscriber and a debugging `metrics` recorder; returns the metrics.
fn observed<F: std::future::Future<Output = ()>>(
    recorder: &Recorder,
    test: impl FnOnce() -> F,
) -> Vec<(String, String, DebugValue)> {
    let metrics = DebuggingRecorder::new();
    let snapshotter = metrics.snapshotter();
    let subscriber = tracing_subscriber::registry().with(recorder.clone());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        metrics::with_local_recorder(&metrics, || runtime.block_on(test()))
    });
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let operation = key
                .labels()
                .find(|label| label.key() == OPERATION_TYPE)
                .map(|label| label.value().to_string())
                .unwrap_or_default();
            (key.name().to_string(), operation, value)
        })
        .collect()
}

fn counter(metrics: &[(String, String, DebugValue)], name: &str, operation: &str) -> u64 {
    metrics
        .iter()
        .find_map(|(n, op, value)| match value {
            DebugValue::Counter(count) if n == name && op == operation => Some(*count),
            _ => None,
        })
        .unwrap_or(0)
}

#[test]
fn a_span_and_the_kubelets_metrics_per_rpc_and_identical_errors_logged_once() {
    let recorder = Recorder::default();
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("cri.sock");
    let endpoint = format!("unix://{}", socket.display());
    let metrics = observed(&recorder, || async {
        let runtime = FakeRuntime::new();
        runtime.seed(2, 2);
        let _seen = serve(&runtime, &socket, Canned::default());
        let client = builder(&socket)
            .list_streaming(true)
            .connect()
            .await
            .unwrap();
        client.version(v1::VersionRequest::default()).await.unwrap();
        let containers = client
            .list_containers(v1::ListContainersRequest::default())
            .await
            .unwrap()
            .containers;
        assert_eq!(containers.len(), 4);
        // A relist loop asking for a container that is gone, ten times.
        for _ in 0..10 {
            client
                .container_status(v1::ContainerStatusRequest {
                    container_id: "gone".into(),
                    verbose: false,
                })
                .await
                .unwrap_err();
        }
        // Another container: logged, once.
        for _ in 0..3 {
            client
                .container_status(v1::ContainerStatusRequest {
                    container_id: "also-gone".into(),
                    verbose: false,
                })
                .await
                .unwrap_err();
        }
        // Removing it forgets what was logged of it: the same failure is news again.
        let _ = client
            .remove_container(v1::RemoveContainerRequest {
                container_id: "also-gone".into(),
            })
            .await;
        client
            .container_status(v1::ContainerStatusRequest {
                container_id: "also-gone".into(),
                verbose: false,
            })
            .await
            .unwrap_err();
        // Without reduction, every one.
        let chatty = builder(&socket)
            .identical_error_log_period(Duration::ZERO)
            .connect()
            .await
            .unwrap();
        for _ in 0..2 {
            chatty
                .container_status(v1::ContainerStatusRequest {
                    container_id: "gone".into(),
                    verbose: false,
                })
                .await
                .unwrap_err();
        }
    });

    // Spans: one per RPC sent through a method (the version checks of `connect` are not
    // methods), each with its fields.
    let spans = recorder.closed.lock().unwrap().clone();
    let rpcs: Vec<&str> = spans.iter().map(|s| s["cri.rpc"].as_str()).collect();
    assert_eq!(rpcs.len(), 1 + 1 + 10 + 3 + 2 + 2, "{rpcs:?}");
    let version = &spans[0];
    assert_eq!(version["otel.name"], "RuntimeService/Version");
    assert_eq!(version["rpc.service"], "runtime.v1.RuntimeService");
    assert_eq!(version["rpc.method"], "Version");
    assert_eq!(version["cri.endpoint"], endpoint);
    assert_eq!(version["cri.api_version"], "runtime.v1");
    assert_eq!(version["cri.status"], "OK");
    assert_eq!(version["rpc.grpc.status_code"], "0");
    assert!(version["cri.duration_ms"].parse::<f64>().unwrap() > 0.0);
    // The list went through its stream: one span for the whole stream.
    assert_eq!(spans[1]["cri.rpc"], "RuntimeService/StreamContainers");
    assert_eq!(spans[1]["cri.status"], "OK");
    let failed = &spans[2];
    assert_eq!(failed["cri.rpc"], "RuntimeService/ContainerStatus");
    assert_eq!(failed["cri.status"], "NotFound");
    assert_eq!(failed["rpc.grpc.status_code"], "5");
    assert_eq!(failed["otel.status_code"], "ERROR");

    // Logs: the ten identical failures once, the three once and once more after the removal,
    // the two unreduced twice.
    let errors = recorder.errors.lock().unwrap().clone();
    assert_eq!(errors.len(), 1 + 1 + 1 + 2, "{errors:?}");
    assert!(
        errors[0].contains("RuntimeService/ContainerStatus"),
        "{errors:?}"
    );

    // Metrics, by the kubelet's names and operation types.
    assert_eq!(counter(&metrics, OPERATIONS_TOTAL, "version"), 1);
    assert_eq!(counter(&metrics, OPERATIONS_TOTAL, "list_containers"), 1);
    assert_eq!(counter(&metrics, OPERATIONS_TOTAL, "container_status"), 16);
    assert_eq!(
        counter(&metrics, OPERATIONS_ERRORS_TOTAL, "container_status"),
        16
    );
    assert_eq!(counter(&metrics, OPERATIONS_TOTAL, "remove_container"), 1);
    assert_eq!(
        counter(&metrics, OPERATIONS_ERRORS_TOTAL, "remove_container"),
        0
    );
    assert_eq!(counter(&metrics, OPERATIONS_ERRORS_TOTAL, "version"), 0);
    let durations = metrics
        .iter()
        .find_map(|(name, op, value)| match value {
            DebugValue::Histogram(values)
                if name == OPERATIONS_DURATION_SECONDS && op == "container_status" =>
            {
                Some(values.len())
            }
            _ => None,
        })
        .expect("the duration histogram of container_status");
    assert_eq!(durations, 16);
}
