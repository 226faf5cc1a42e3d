//! OpenTelemetry (feature `otel`): the client's spans (see [`observe`](crate::observe))
//! exported over OTLP/gRPC, and the W3C trace context of each RPC sent to the runtime in the
//! request's metadata (`traceparent`, `tracestate`), as the kubelet's client does through
//! `otelgrpc`, so that a runtime that traces (containerd, CRI-O) continues the same trace.
//!
//! [`OtelConfig::install`] does it all for a program that has no `tracing` subscriber of its
//! own (crictl's `--enable-tracing`): the W3C propagator, the OTLP exporter, and a global
//! subscriber that turns the `tracing` spans into OpenTelemetry ones. A program that has its
//! own subscriber adds [`layer`] to it and calls [`set_propagator`].
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use cri_client::otel::OtelConfig;
//!
//! // As crictl's flags: the collector, and every trace sampled.
//! let tracing = OtelConfig::new("127.0.0.1:4317")
//!     .sampling_rate_per_million(-1)
//!     .service_name("my-agent")
//!     .install()?;
//! let client = cri_client::Client::builder("unix:///run/containerd/containerd.sock")
//!     .connect()
//!     .await?;
//! client.version(Default::default()).await?; // one span, exported; its context sent along
//! drop(tracing); // flushes what is left
//! # Ok(()) }
//! ```

use std::fmt;

use opentelemetry::propagation::TextMapCompositePropagator;
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use opentelemetry_sdk::trace::{Sampler, SdkTracerProvider};
use tonic::metadata::{MetadataKey, MetadataMap, MetadataValue};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

pub use opentelemetry_sdk::trace::SdkTracerProvider as TracerProvider;

/// crictl's default collector address.
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:4317";

/// Where the spans go and how many are kept.
#[derive(Debug, Clone)]
pub struct OtelConfig {
    endpoint: String,
    sampling_rate_per_million: i64,
    service_name: String,
}

/// Setting up OpenTelemetry failed.
#[derive(Debug)]
pub struct OtelError(String);

impl fmt::Display for OtelError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot set up OpenTelemetry tracing: {}", self.0)
    }
}

impl std::error::Error for OtelError {}

impl OtelConfig {
    /// Spans go to the OTLP/gRPC collector at `endpoint`: `host:port` as crictl's
    /// `--tracing-endpoint` (plain HTTP/2, no TLS), or an `http://` URL. Every trace is
    /// sampled and the service is named `cri-client` until said otherwise.
    pub fn new(endpoint: impl Into<String>) -> Self {
        OtelConfig {
            endpoint: endpoint.into(),
            sampling_rate_per_million: -1,
            service_name: "cri-client".into(),
        }
    }

    /// How many traces in a million are sampled, as crictl's
    /// `--tracing-sampling-rate-per-million`: negative (or a million and more) all, 0 only
    /// those whose parent was sampled, otherwise that fraction. A span whose parent (from the
    /// caller) was sampled is always sampled.
    pub fn sampling_rate_per_million(mut self, rate: i64) -> Self {
        self.sampling_rate_per_million = rate;
        self
    }

    /// The `service.name` of the exported spans (default `cri-client`).
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = name.into();
        self
    }

    fn url(&self) -> Result<String, OtelError> {
        let url = if self.endpoint.contains("://") {
            self.endpoint.clone()
        } else {
            format!("http://{}", self.endpoint)
        };
        match url.parse::<tonic::codegen::http::Uri>() {
            Ok(uri) if uri.scheme_str() == Some("http") && uri.authority().is_some() => Ok(url),
            Ok(_) => Err(OtelError(format!(
                "tracing endpoint `{}`: expected host:port or http://host:port (TLS is not supported)",
                self.endpoint
            ))),
            Err(error) => Err(OtelError(format!(
                "tracing endpoint `{}`: {error}",
                self.endpoint
            ))),
        }
    }

    /// The sampler crictl's rate means.
    fn sampler(&self) -> Sampler {
        let root = match self.sampling_rate_per_million {
            rate if !(0..1_000_000).contains(&rate) => Sampler::AlwaysOn,
            0 => Sampler::AlwaysOff,
            rate => Sampler::TraceIdRatioBased(rate as f64 / 1_000_000.0),
        };
        Sampler::ParentBased(Box::new(root))
    }

    /// A tracer provider exporting in batches to the collector. Call it within a tokio
    /// runtime, which must outlive the provider (the exporter's connection runs on it).
    pub fn tracer_provider(&self) -> Result<SdkTracerProvider, OtelError> {
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_tonic()
            .with_endpoint(self.url()?)
            .build()
            .map_err(|error| OtelError(error.to_string()))?;
        let resource = opentelemetry_sdk::Resource::builder()
            .with_service_name(self.service_name.clone())
            .build();
        Ok(SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_sampler(self.sampler())
            .with_resource(resource)
            .build())
    }

    /// Sets up everything: the W3C propagator, the tracer provider (also as OpenTelemetry's
    /// global one) and a global `tracing` subscriber exporting the spans (an error if the
    /// program already has one: add [`layer`] to it instead). Call it within a tokio runtime.
    /// Dropping the guard flushes and shuts the exporter down.
    pub fn install(&self) -> Result<OtelGuard, OtelError> {
        let provider = self.tracer_provider()?;
        let subscriber = tracing_subscriber::registry().with(layer(&provider));
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|error| OtelError(error.to_string()))?;
        set_propagator();
        opentelemetry::global::set_tracer_provider(provider.clone());
        Ok(OtelGuard { provider })
    }
}

/// Keeps the exporter of [`OtelConfig::install`]; dropping it flushes and shuts it down.
#[derive(Debug)]
pub struct OtelGuard {
    provider: SdkTracerProvider,
}

impl OtelGuard {
    /// The tracer provider.
    pub fn provider(&self) -> &SdkTracerProvider {
        &self.provider
    }

    /// Exports what has been collected so far. It blocks: from async code, call it in
    /// `spawn_blocking` (the export needs the runtime).
    pub fn flush(&self) -> Result<(), OtelError> {
        self.provider
            .force_flush()
            .map_err(|error| OtelError(error.to_string()))
    }
}

impl Drop for OtelGuard {
    fn drop(&mut self) {
        let _ = self.provider.shutdown();
    }
}

/// The `tracing` layer that makes OpenTelemetry spans of the client's (and any other) spans,
/// with `provider`'s tracer.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'span> tracing_subscriber::registry::LookupSpan<'span>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("cri-client"))
}

/// Makes the W3C trace context (and baggage) OpenTelemetry's global propagator: each request
/// then carries `traceparent` for the RPC's span.
pub fn set_propagator() {
    opentelemetry::global::set_text_map_propagator(TextMapCompositePropagator::new(vec![
        Box::new(TraceContextPropagator::new()),
        Box::new(BaggagePropagator::new()),
    ]));
}

/// Writes the context of the current span (the RPC's) into a request's metadata through the
/// global propagator (nothing unless one was set).
pub(crate) fn inject(metadata: &mut MetadataMap) {
    let context = tracing::Span::current().context();
    opentelemetry::global::get_text_map_propagator(|propagator| {
        propagator.inject_context(&context, &mut Injector(metadata))
    });
}

struct Injector<'a>(&'a mut MetadataMap);

impl opentelemetry::propagation::Injector for Injector<'_> {
    fn set(&mut self, key: &str, value: String) {
        if let (Ok(key), Ok(value)) = (
            MetadataKey::from_bytes(key.as_bytes()),
            MetadataValue::try_from(value),
        ) {
            self.0.insert(key, value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_rates_as_crictls_flags() {
        assert_eq!(
            OtelConfig::new("127.0.0.1:4317").url().unwrap(),
            "http://127.0.0.1:4317"
        );
        assert_eq!(
            OtelConfig::new("http://collector:4317").url().unwrap(),
            "http://collector:4317"
        );
        let error = OtelConfig::new("https://collector:4317").url().unwrap_err();
        assert!(
            error.to_string().contains("TLS is not supported"),
            "{error}"
        );
        let sampler = |rate| {
            format!(
                "{:?}",
                OtelConfig::new("x:1")
                    .sampling_rate_per_million(rate)
                    .sampler()
            )
        };
        assert!(sampler(-1).contains("AlwaysOn"));
        assert!(sampler(1_000_000).contains("AlwaysOn"));
        assert!(sampler(0).contains("AlwaysOff"));
        assert!(sampler(500_000).contains("TraceIdRatioBased(0.5)"));
    }
}
