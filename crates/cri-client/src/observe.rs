//! What the client tells about its calls: a `tracing` span per RPC, the kubelet's metrics
//! through the [`metrics`](https://docs.rs/metrics) facade, and failures logged with log
//! reduction.
//!
//! # Spans
//!
//! Every RPC sent is one span named `cri` at `INFO` level (a list collected from its `Stream*`
//! RPC is one span for the whole stream), the parent being whatever span is current when the
//! method is called. Its fields:
//!
//! | field | value |
//! |---|---|
//! | `otel.name`, `cri.rpc` | `RuntimeService/Version`, ... |
//! | `otel.kind` | `client` |
//! | `rpc.system`, `rpc.service`, `rpc.method` | `grpc`, `runtime.v1.RuntimeService`, `Version` (OpenTelemetry's conventions) |
//! | `cri.endpoint` | the endpoint called, `unix:///run/containerd/containerd.sock` |
//! | `cri.api_version` | the negotiated version, `runtime.v1` or `runtime.v1alpha2` |
//! | `cri.status` | `OK`, a gRPC code (`NotFound`, `DeadlineExceeded`, ...), or `InvalidResponse` |
//! | `rpc.grpc.status_code` | the numeric gRPC code, where there is one |
//! | `cri.duration_ms` | how long the call took |
//! | `otel.status_code` | `ERROR` when it failed |
//!
//! With the `otel` feature these spans are exported over OTLP and the W3C trace context of
//! each one travels in the request's metadata (`traceparent`); see the `otel` module.
//!
//! # Metrics
//!
//! Recorded through the `metrics` facade: they go to whatever recorder (exporter) the program
//! installed, and cost next to nothing when there is none. The names and the label are the
//! kubelet's (`pkg/kubelet/kuberuntime/instrumented_services.go`), so dashboards written for
//! the kubelet work unchanged:
//!
//! | name | kind | labels |
//! |---|---|---|
//! | [`OPERATIONS_TOTAL`] `kubelet_runtime_operations_total` | counter, every call | [`OPERATION_TYPE`] |
//! | [`OPERATIONS_DURATION_SECONDS`] `kubelet_runtime_operations_duration_seconds` | histogram, seconds | [`OPERATION_TYPE`] |
//! | [`OPERATIONS_ERRORS_TOTAL`] `kubelet_runtime_operations_errors_total` | counter, failed calls | [`OPERATION_TYPE`] |
//!
//! `operation_type` is the kubelet's name of the operation: the RPC in snake case, with
//! `podsandbox` in one word as the kubelet writes it (`version`, `run_podsandbox`,
//! `list_containers`, `container_status`, `exec_sync`, `pull_image`, ...; `update_container`
//! for `UpdateContainerResources`). [`describe_metrics`] registers their descriptions with the
//! recorder; [`DURATION_BUCKETS`] are the kubelet's histogram buckets, for exporters that
//! take them (`metrics-exporter-prometheus`'s `set_buckets_for_metric`).
//!
//! # Logs
//!
//! A failed call is logged as a `tracing` event at `ERROR` level inside its span (the error is
//! also returned), except that an identical error of the same RPC for the same container or
//! sandbox (the request's `container_id`, else its `pod_sandbox_id`) is logged once a minute,
//! as the kubelet does, so that a relist loop does not flood the log; a success forgets it,
//! and stopping or removing a container (`StopContainer`, `RemoveContainer`) forgets every
//! error remembered for it, as the kubelet's client does.
//! The period is [`ClientBuilder::identical_error_log_period`](crate::ClientBuilder::identical_error_log_period).

use std::future::Future;
use std::time::Instant;

use tracing::Instrument;
use tracing::field::Empty;

use crate::{Client, Error, Service};

/// Counter of every call, by [`OPERATION_TYPE`].
pub const OPERATIONS_TOTAL: &str = "kubelet_runtime_operations_total";
/// Histogram of the duration of every call in seconds, by [`OPERATION_TYPE`].
pub const OPERATIONS_DURATION_SECONDS: &str = "kubelet_runtime_operations_duration_seconds";
/// Counter of failed calls, by [`OPERATION_TYPE`].
pub const OPERATIONS_ERRORS_TOTAL: &str = "kubelet_runtime_operations_errors_total";
/// The label naming the operation (`list_containers`, ...).
pub const OPERATION_TYPE: &str = "operation_type";
/// The kubelet's buckets for [`OPERATIONS_DURATION_SECONDS`]: from 5 ms, each 2.5 times the
/// last, 14 buckets (up to about 6 minutes).
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005,
    0.0125,
    0.03125,
    0.078125,
    0.1953125,
    0.48828125,
    1.220703125,
    3.0517578125,
    7.62939453125,
    19.073486328125,
    47.6837158203125,
    119.20928955078125,
    298.0232238769531,
    745.0580596923828,
];

/// Registers the descriptions (help text and unit) of the three metrics with the installed
/// recorder; call it once after installing one.
pub fn describe_metrics() {
    metrics::describe_counter!(
        OPERATIONS_TOTAL,
        "Cumulative number of runtime operations by operation type."
    );
    metrics::describe_histogram!(
        OPERATIONS_DURATION_SECONDS,
        metrics::Unit::Seconds,
        "Duration in seconds of runtime operations. Broken down by operation type."
    );
    metrics::describe_counter!(
        OPERATIONS_ERRORS_TOTAL,
        "Cumulative number of runtime operation errors by operation type."
    );
}

/// One RPC as the generated methods name it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Op {
    /// Which service (endpoint) it goes to.
    pub(crate) service: Service,
    /// `Service/Method`.
    pub(crate) rpc: &'static str,
    /// The kubelet's `operation_type`.
    pub(crate) operation: &'static str,
}

/// What a call ended with, as far as observing it goes.
pub(crate) trait Outcome {
    /// `None` when it succeeded; else its status for the span, and the error to count and
    /// log (none for an expected failure: a runtime without a `Stream*` RPC, which the client
    /// then stops asking for).
    fn failure(&self) -> Option<(String, Option<&Error>)>;
}

impl<T> Outcome for Result<T, Error> {
    fn failure(&self) -> Option<(String, Option<&Error>)> {
        self.as_ref()
            .err()
            .map(|error| (status(error), Some(error)))
    }
}

/// A list collected from its stream: `Ok(None)` is a runtime without the streaming RPC.
pub(crate) struct Collected<T>(pub(crate) Result<Option<T>, Error>);

impl<T> Outcome for Collected<T> {
    fn failure(&self) -> Option<(String, Option<&Error>)> {
        match &self.0 {
            Ok(Some(_)) => None,
            Ok(None) => Some((format!("{:?}", tonic::Code::Unimplemented), None)),
            Err(error) => Some((status(error), Some(error))),
        }
    }
}

fn status(error: &Error) -> String {
    match (error, error.code()) {
        (Error::InvalidResponse { .. }, _) => "InvalidResponse".into(),
        (_, Some(code)) => format!("{code:?}"),
        (_, None) => "Unknown".into(),
    }
}

impl Client {
    /// Runs `work`, the call of `op` (for `subject`, a container or sandbox id or empty), in its
    /// span, and records its metrics and logs its failure.
    pub(crate) async fn observe<O: Outcome>(
        &self,
        op: Op,
        subject: &str,
        work: impl Future<Output = O>,
    ) -> O {
        let connection = self.connection(op.service);
        let (service, method) = op.rpc.split_once('/').unwrap_or(("", op.rpc));
        let package = match connection.version {
            crate::ApiVersion::V1 => "runtime.v1",
            crate::ApiVersion::V1alpha2 => "runtime.v1alpha2",
        };
        let span = tracing::info_span!(
            "cri",
            otel.name = op.rpc,
            otel.kind = "client",
            otel.status_code = Empty,
            rpc.system = "grpc",
            rpc.service = format_args!("{package}.{service}"),
            rpc.method = method,
            rpc.grpc.status_code = Empty,
            cri.rpc = op.rpc,
            cri.endpoint = %connection.endpoint,
            cri.api_version = %connection.version,
            cri.status = Empty,
            cri.duration_ms = Empty,
        );
        if !subject.is_empty() && crate::logreduce::forgets_subject(op.rpc) {
            self.log_reduction.forget(subject);
        }
        let start = Instant::now();
        let outcome = work.instrument(span.clone()).await;
        let elapsed = start.elapsed();
        span.record("cri.duration_ms", elapsed.as_secs_f64() * 1000.0);
        let label = [(OPERATION_TYPE, op.operation)];
        metrics::counter!(OPERATIONS_TOTAL, &label).increment(1);
        metrics::histogram!(OPERATIONS_DURATION_SECONDS, &label).record(elapsed.as_secs_f64());
        match outcome.failure() {
            None => {
                span.record("cri.status", "OK");
                span.record("rpc.grpc.status_code", 0);
                self.log_reduction.clear(op.rpc, subject);
            }
            Some((status, error)) => {
                span.record("cri.status", status.as_str());
                if let Some(code) = error.map_or(Some(tonic::Code::Unimplemented), Error::code) {
                    span.record("rpc.grpc.status_code", code as i64);
                }
                // Without an error, an expected failure: not counted, not logged.
                if let Some(error) = error {
                    metrics::counter!(OPERATIONS_ERRORS_TOTAL, &label).increment(1);
                    span.record("otel.status_code", "ERROR");
                    let message = error.to_string();
                    if self.log_reduction.should_log(op.rpc, subject, &message) {
                        tracing::error!(
                            parent: &span,
                            rpc = op.rpc,
                            subject,
                            error = %message,
                            "CRI call failed"
                        );
                    }
                }
            }
        }
        outcome
    }
}
