//! `--metrics-address`: per-RPC counts, errors and latency histograms in Prometheus' text
//! format, named after the kubelet's (`pkg/kubelet/kuberuntime/instrumented_services.go`) with
//! the prefix `cri_proxy_` instead of `kubelet_`:
//!
//! | name | kind |
//! |---|---|
//! | `cri_proxy_runtime_operations_total` | counter, every call |
//! | `cri_proxy_runtime_operations_duration_seconds` | histogram, seconds, the kubelet's buckets |
//! | `cri_proxy_runtime_operations_errors_total` | counter, calls that ended with a status other than OK |
//!
//! each labelled `operation_type` with the kubelet's name of the operation (`list_containers`,
//! `run_podsandbox`, `stream_containers`, …; `unknown` for a path that is no CRI RPC). A call
//! is counted when it ends: a stream when its last message went out, or when its client left.
//!
//! The registry is this module's own (a mutex over a small map, no exporter crate): the names,
//! label and buckets follow `cri-client`'s `observe` module, which records the kubelet's own
//! names through the `metrics` facade, but the proxy needs no facade and no recorder to be
//! installed, and tests read the counters back through [`Registry::snapshot`].

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tower::{Layer, Service, ServiceExt};

use crate::grpc::{GrpcRequest, GrpcResponse, GrpcService};
use crate::methods;
use crate::observe::{self, Rules, Watch};

/// Counter of every call.
pub const OPERATIONS_TOTAL: &str = "cri_proxy_runtime_operations_total";
/// Histogram of call durations in seconds.
pub const OPERATIONS_DURATION_SECONDS: &str = "cri_proxy_runtime_operations_duration_seconds";
/// Counter of failed calls.
pub const OPERATIONS_ERRORS_TOTAL: &str = "cri_proxy_runtime_operations_errors_total";
/// The label naming the operation.
pub const OPERATION_TYPE: &str = "operation_type";

/// The kubelet's buckets: from 5 ms, each 2.5 times the last, 14 of them.
pub fn buckets() -> [f64; 14] {
    let mut buckets = [0.005; 14];
    for i in 1..buckets.len() {
        buckets[i] = buckets[i - 1] * 2.5;
    }
    buckets
}

/// The figures of one operation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Series {
    /// Calls.
    pub total: u64,
    /// Failed calls.
    pub errors: u64,
    /// Sum of the durations, in seconds.
    pub seconds: f64,
    /// Calls per bucket (not cumulative), the last one past every bound.
    pub buckets: [u64; 15],
}

/// The counters, by operation.
#[derive(Debug, Default)]
pub struct Registry {
    series: Mutex<BTreeMap<&'static str, Series>>,
}

impl Registry {
    /// Counts one call of `operation` that took `duration` and failed or not.
    pub fn observe(&self, operation: &'static str, duration: Duration, failed: bool) {
        let seconds = duration.as_secs_f64();
        let bucket = buckets().iter().position(|&b| seconds <= b).unwrap_or(14);
        let mut series = self.series.lock().unwrap_or_else(|e| e.into_inner());
        let entry = series.entry(operation).or_default();
        entry.total += 1;
        entry.errors += u64::from(failed);
        entry.seconds += seconds;
        entry.buckets[bucket] += 1;
    }

    /// The figures so far, by operation.
    pub fn snapshot(&self) -> BTreeMap<&'static str, Series> {
        self.series
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The figures in Prometheus' text format (version 0.0.4).
    pub fn render(&self) -> String {
        let series = self.snapshot();
        let mut out = String::new();
        let _ = writeln!(
            out,
            "# HELP {OPERATIONS_TOTAL} Cumulative number of runtime operations by operation type."
        );
        let _ = writeln!(out, "# TYPE {OPERATIONS_TOTAL} counter");
        for (op, s) in &series {
            let _ = writeln!(
                out,
                "{OPERATIONS_TOTAL}{{{OPERATION_TYPE}=\"{op}\"}} {}",
                s.total
            );
        }
        let _ = writeln!(
            out,
            "# HELP {OPERATIONS_DURATION_SECONDS} Duration in seconds of runtime operations. Broken down by operation type."
        );
        let _ = writeln!(out, "# TYPE {OPERATIONS_DURATION_SECONDS} histogram");
        let bounds = buckets();
        for (op, s) in &series {
            let mut cumulative = 0;
            for (i, bound) in bounds.iter().enumerate() {
                cumulative += s.buckets[i];
                let _ = writeln!(
                    out,
                    "{OPERATIONS_DURATION_SECONDS}_bucket{{{OPERATION_TYPE}=\"{op}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "{OPERATIONS_DURATION_SECONDS}_bucket{{{OPERATION_TYPE}=\"{op}\",le=\"+Inf\"}} {}",
                s.total
            );
            let _ = writeln!(
                out,
                "{OPERATIONS_DURATION_SECONDS}_sum{{{OPERATION_TYPE}=\"{op}\"}} {}",
                s.seconds
            );
            let _ = writeln!(
                out,
                "{OPERATIONS_DURATION_SECONDS}_count{{{OPERATION_TYPE}=\"{op}\"}} {}",
                s.total
            );
        }
        let _ = writeln!(
            out,
            "# HELP {OPERATIONS_ERRORS_TOTAL} Cumulative number of runtime operation errors by operation type."
        );
        let _ = writeln!(out, "# TYPE {OPERATIONS_ERRORS_TOTAL} counter");
        for (op, s) in &series {
            let _ = writeln!(
                out,
                "{OPERATIONS_ERRORS_TOTAL}{{{OPERATION_TYPE}=\"{op}\"}} {}",
                s.errors
            );
        }
        out
    }
}

/// Serves `GET /metrics` (any other path is 404) on `listener` with `registry`'s figures,
/// until the task is dropped. Each connection gets one answer and is closed.
pub async fn serve_metrics(listener: TcpListener, registry: Arc<Registry>) {
    loop {
        let Ok((mut stream, _)) = listener.accept().await else {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        };
        let registry = registry.clone();
        tokio::spawn(async move {
            let mut request = Vec::new();
            let mut chunk = [0u8; 1024];
            let read = tokio::time::timeout(Duration::from_secs(5), async {
                while request.len() < 8192 && !request.windows(4).any(|w| w == b"\r\n\r\n") {
                    match stream.read(&mut chunk).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => request.extend_from_slice(&chunk[..n]),
                    }
                }
            });
            if read.await.is_err() {
                return;
            }
            let line = request.split(|&b| b == b'\n').next().unwrap_or_default();
            let is_metrics =
                line.starts_with(b"GET /metrics ") || line.starts_with(b"GET /metrics?");
            let (status, body) = if is_metrics {
                ("200 OK", registry.render())
            } else {
                (
                    "404 Not Found",
                    "not found: the metrics are at /metrics\n".to_string(),
                )
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = tokio::time::timeout(
                Duration::from_secs(5),
                stream.write_all(response.as_bytes()),
            )
            .await;
        });
    }
}

/// The layer that counts every call in a [`Registry`].
#[derive(Debug, Clone)]
pub struct MetricsLayer {
    registry: Arc<Registry>,
}

impl MetricsLayer {
    /// Counts into `registry`.
    pub fn new(registry: Arc<Registry>) -> Self {
        MetricsLayer { registry }
    }
}

impl Layer<GrpcService> for MetricsLayer {
    type Service = Metrics;
    fn layer(&self, inner: GrpcService) -> Metrics {
        Metrics {
            inner,
            registry: self.registry.clone(),
        }
    }
}

/// The service [`MetricsLayer`] makes.
#[derive(Clone)]
pub struct Metrics {
    inner: GrpcService,
    registry: Arc<Registry>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

struct Timing {
    registry: Arc<Registry>,
    operation: &'static str,
    start: Instant,
}

impl Watch for Timing {
    fn end(self: Box<Self>, code: i32, _: &str) {
        self.registry
            .observe(self.operation, self.start.elapsed(), code != 0);
    }
}

impl Service<GrpcRequest> for Metrics {
    type Response = GrpcResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<GrpcResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: GrpcRequest) -> Self::Future {
        let inner = self.inner.clone();
        let timing = Timing {
            registry: self.registry.clone(),
            operation: methods::lookup(request.uri().path()).map_or("unknown", |m| m.operation),
            start: Instant::now(),
        };
        Box::pin(async move {
            let response = inner.oneshot(request).await?;
            Ok(observe::watch(response, Box::new(timing), Rules::default()))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_has_every_series() {
        let registry = Registry::default();
        registry.observe("version", Duration::from_millis(1), false);
        registry.observe("version", Duration::from_millis(20), true);
        let text = registry.render();
        assert!(
            text.contains("cri_proxy_runtime_operations_total{operation_type=\"version\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains(
                "cri_proxy_runtime_operations_errors_total{operation_type=\"version\"} 1\n"
            )
        );
        assert!(text.contains("cri_proxy_runtime_operations_duration_seconds_bucket{operation_type=\"version\",le=\"0.005\"} 1\n"));
        assert!(text.contains("cri_proxy_runtime_operations_duration_seconds_bucket{operation_type=\"version\",le=\"0.03125\"} 2\n"));
        assert!(text.contains(
            "cri_proxy_runtime_operations_duration_seconds_count{operation_type=\"version\"} 2\n"
        ));
        assert_eq!(buckets()[13], 745.0580596923828);
    }
}
