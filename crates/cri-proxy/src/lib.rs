//! A proxy on the Kubernetes CRI socket, between a kubelet (or crictl) and its container
//! runtime, as a stack of [tower](https://docs.rs/tower) layers you can extend.
//!
//! The `cri-proxy` program serves `runtime.v1` (and passes `runtime.v1alpha2` through) on a
//! Unix socket and forwards every RPC of `RuntimeService` and `ImageService`, unary and
//! streaming, to the runtime: metadata and deadline (`grpc-timeout`) unchanged, the URLs of
//! `Exec`, `Attach` and `PortForward` unchanged (the streaming server stays the runtime's), and
//! a response message over 16 MiB refused with `RESOURCE_EXHAUSTED` as a kubelet refuses it.
//! Around the forwarding it can:
//!
//! - **record** every call as a JSON line (`--record FILE`, [`record`]);
//! - **inject faults**: delays, error codes, dropped streams, at a rate (`--inject RULE`,
//!   [`inject`]);
//! - **count** calls for Prometheus under the kubelet's metric names (`--metrics-address`,
//!   [`metrics`]);
//! - **bridge** the `Stream*` list RPCs over the unary lists of a runtime that lacks them
//!   (`--bridge-streaming`, [`bridge`]), and serve `runtime.v1` in front of a runtime that
//!   only speaks `runtime.v1alpha2` (`--v1-over-v1alpha2`, through `cri-convert`).
//!
//! # The stack
//!
//! Every layer is a [`tower::Layer`] over a [`GrpcService`]: an HTTP/2 request holding one
//! framed gRPC message in, a response out, failures as gRPC statuses (never a service error).
//! From the runtime up: forwarding (or the v1alpha2 adapter), the `Stream*` bridge, **your
//! layers** (the first added is the innermost), fault injection, recording, metrics. So the
//! recording and the metrics see what your layers answered, and injected faults never reach
//! them. The served socket routes `runtime.v1.RuntimeService`, `runtime.v1.ImageService` and
//! their `v1alpha2` names into the stack (tonic's `NamedService`).
//!
//! # Adding a layer: a policy that refuses privileged containers
//!
//! ```
//! use std::convert::Infallible;
//! use std::future::Future;
//! use std::pin::Pin;
//! use std::task::{Context, Poll};
//!
//! use cri_proxy::grpc::{self, GrpcRequest, GrpcResponse, GrpcService};
//! use cri_proxy::ProxyBuilder;
//! use prost::Message;
//! use tower::{Layer, Service, ServiceExt};
//!
//! /// Refuses `CreateContainer` for a privileged container with `PERMISSION_DENIED`.
//! #[derive(Clone)]
//! struct NoPrivileged(GrpcService);
//!
//! impl Service<GrpcRequest> for NoPrivileged {
//!     type Response = GrpcResponse;
//!     type Error = Infallible;
//!     type Future = Pin<Box<dyn Future<Output = Result<GrpcResponse, Infallible>> + Send>>;
//!
//!     fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
//!         Poll::Ready(Ok(()))
//!     }
//!
//!     fn call(&mut self, request: GrpcRequest) -> Self::Future {
//!         let inner = self.0.clone();
//!         Box::pin(async move {
//!             if request.uri().path() != "/runtime.v1.RuntimeService/CreateContainer" {
//!                 return inner.oneshot(request).await;
//!             }
//!             let (parts, body) = request.into_parts();
//!             let bytes = match grpc::read_message(body).await {
//!                 Ok(bytes) => bytes,
//!                 Err(status) => return Ok(grpc::status_response(status)),
//!             };
//!             let privileged = cri_api_v1::CreateContainerRequest::decode(bytes.clone())
//!                 .ok()
//!                 .and_then(|r| r.config?.linux?.security_context)
//!                 .is_some_and(|s| s.privileged);
//!             if privileged {
//!                 let status = tonic::Status::permission_denied("privileged containers are refused here");
//!                 return Ok(grpc::status_response(status));
//!             }
//!             inner.oneshot(grpc::with_message(parts, &bytes)).await
//!         })
//!     }
//! }
//!
//! struct NoPrivilegedLayer;
//! impl Layer<GrpcService> for NoPrivilegedLayer {
//!     type Service = NoPrivileged;
//!     fn layer(&self, inner: GrpcService) -> NoPrivileged {
//!         NoPrivileged(inner)
//!     }
//! }
//!
//! # fn main() -> Result<(), cri_proxy::Error> {
//! # let runtime = tokio::runtime::Runtime::new().unwrap();
//! # let _guard = runtime.enter();
//! let stack: GrpcService = ProxyBuilder::new("unix:///run/containerd/containerd.sock")
//!     .layer(NoPrivilegedLayer)
//!     .build()?;
//! // Serve it: cri_proxy::serve_unix(stack, path, shutdown_signal, grace).await
//! # drop(stack);
//! # Ok(()) }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use tower::{Layer, Service};

pub mod bridge;
pub mod forward;
pub mod grpc;
pub mod inject;
pub mod methods;
pub mod metrics;
mod observe;
pub mod record;
mod serve;

pub use grpc::{GrpcRequest, GrpcResponse, GrpcService};
pub use serve::serve_unix;

/// A configuration the proxy cannot run with: the message names what was wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

type BoxLayer = Box<dyn FnOnce(GrpcService) -> GrpcService + Send>;

/// Builds the stack (see the [crate docs](crate)).
pub struct ProxyBuilder {
    runtime_endpoint: String,
    image_endpoint: Option<String>,
    v1_over_v1alpha2: bool,
    bridge_streaming: bool,
    layers: Vec<BoxLayer>,
    inject: Vec<inject::Rule>,
    record: Option<Arc<record::Recorder>>,
    metrics: Option<Arc<metrics::Registry>>,
}

impl fmt::Debug for ProxyBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProxyBuilder")
            .field("runtime_endpoint", &self.runtime_endpoint)
            .field("image_endpoint", &self.image_endpoint)
            .field("v1_over_v1alpha2", &self.v1_over_v1alpha2)
            .field("bridge_streaming", &self.bridge_streaming)
            .field("layers", &self.layers.len())
            .field("inject", &self.inject)
            .field("record", &self.record.is_some())
            .field("metrics", &self.metrics.is_some())
            .finish_non_exhaustive()
    }
}

impl ProxyBuilder {
    /// A proxy in front of the runtime at `runtime_endpoint` (`unix:///…`), which also serves
    /// the images unless [`image_endpoint`](Self::image_endpoint) says otherwise.
    pub fn new(runtime_endpoint: impl Into<String>) -> Self {
        ProxyBuilder {
            runtime_endpoint: runtime_endpoint.into(),
            image_endpoint: None,
            v1_over_v1alpha2: false,
            bridge_streaming: false,
            layers: Vec::new(),
            inject: Vec::new(),
            record: None,
            metrics: None,
        }
    }

    /// Sends `ImageService` calls to `endpoint` instead of the runtime's.
    pub fn image_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.image_endpoint = Some(endpoint.into());
        self
    }

    /// Serves `runtime.v1` in front of a runtime that only speaks `runtime.v1alpha2`,
    /// converting every call with `cri-convert`'s adapter (`runtime.v1alpha2` calls are then
    /// still passed through as they are).
    pub fn v1_over_v1alpha2(mut self, yes: bool) -> Self {
        self.v1_over_v1alpha2 = yes;
        self
    }

    /// Serves the `Stream*` list RPCs over the runtime's unary lists ([`bridge`]).
    pub fn bridge_streaming(mut self, yes: bool) -> Self {
        self.bridge_streaming = yes;
        self
    }

    /// Injects the faults of `rule` ([`inject`]); rules apply in the order added.
    pub fn inject(mut self, rule: inject::Rule) -> Self {
        self.inject.push(rule);
        self
    }

    /// Records every call to `recorder` ([`record`]).
    pub fn record(mut self, recorder: Arc<record::Recorder>) -> Self {
        self.record = Some(recorder);
        self
    }

    /// Counts every call in `registry` ([`metrics`]).
    pub fn metrics(mut self, registry: Arc<metrics::Registry>) -> Self {
        self.metrics = Some(registry);
        self
    }

    /// Adds a layer of yours above the forwarding (and the `Stream*` bridge), below fault
    /// injection, recording and metrics; each layer added wraps the ones before it.
    pub fn layer<L>(mut self, layer: L) -> Self
    where
        L: Layer<GrpcService> + Send + 'static,
        L::Service: Service<GrpcRequest, Response = GrpcResponse, Error = Infallible>
            + Clone
            + Send
            + Sync
            + 'static,
        <L::Service as Service<GrpcRequest>>::Future: Send + 'static,
    {
        self.layers
            .push(Box::new(move |inner| GrpcService::new(layer.layer(inner))));
        self
    }

    /// The stack; it connects to the runtime at its first call (and again after a failure),
    /// so it may be built before the runtime is up. Call it inside a tokio runtime.
    pub fn build(self) -> Result<GrpcService, Error> {
        let runtime_path = forward::socket_path(&self.runtime_endpoint).map_err(Error)?;
        let image_path = match &self.image_endpoint {
            Some(endpoint) => forward::socket_path(endpoint).map_err(Error)?,
            None => runtime_path.clone(),
        };
        let runtime = forward::channel(runtime_path);
        let image = if self.image_endpoint.is_some() {
            forward::channel(image_path)
        } else {
            runtime.clone()
        };
        let mut service = if self.v1_over_v1alpha2 {
            over_v1alpha2(runtime, image)
        } else {
            GrpcService::new(forward::Route::new(
                GrpcService::new(forward::ChannelService::new(runtime)),
                GrpcService::new(forward::ChannelService::new(image)),
            ))
        };
        if self.bridge_streaming {
            service = GrpcService::new(bridge::BridgeLayer.layer(service));
        }
        for layer in self.layers {
            service = layer(service);
        }
        if !self.inject.is_empty() {
            service = GrpcService::new(inject::InjectLayer::new(self.inject).layer(service));
        }
        if let Some(recorder) = self.record {
            service = GrpcService::new(record::RecordLayer::new(recorder).layer(service));
        }
        if let Some(registry) = self.metrics {
            service = GrpcService::new(metrics::MetricsLayer::new(registry).layer(service));
        }
        Ok(service)
    }
}

/// `runtime.v1` served by `cri-convert`'s adapter over the v1alpha2 runtime; `runtime.v1alpha2`
/// calls passed through.
fn over_v1alpha2(
    runtime: tonic::transport::Channel,
    image: tonic::transport::Channel,
) -> GrpcService {
    use cri_api_v1::image_service_server::ImageServiceServer;
    use cri_api_v1::runtime_service_server::RuntimeServiceServer;
    use cri_convert::V1OverV1alpha2;
    const LIMIT: usize = grpc::MAX_RESPONSE_MESSAGE;
    let runtime_v1 = GrpcService::new(
        RuntimeServiceServer::new(V1OverV1alpha2::new(runtime.clone()))
            .max_decoding_message_size(LIMIT)
            .max_encoding_message_size(LIMIT),
    );
    let image_v1 = GrpcService::new(
        ImageServiceServer::new(V1OverV1alpha2::new(image.clone()))
            .max_decoding_message_size(LIMIT)
            .max_encoding_message_size(LIMIT),
    );
    let passthrough = forward::Route::new(
        GrpcService::new(forward::ChannelService::new(runtime)),
        GrpcService::new(forward::ChannelService::new(image)),
    );
    let v1 = forward::Route::new(runtime_v1, image_v1);
    let (v1, passthrough) = (GrpcService::new(v1), GrpcService::new(passthrough));
    GrpcService::new(tower::service_fn(move |request: GrpcRequest| {
        use tower::ServiceExt;
        let service = if methods::is_v1alpha2(request.uri().path()) {
            passthrough.clone()
        } else {
            v1.clone()
        };
        service.oneshot(request)
    }))
}
