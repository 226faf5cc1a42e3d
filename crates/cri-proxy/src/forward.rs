//! The bottom of the stack: each call goes to the runtime's or the image service's endpoint,
//! unchanged (path, metadata, `grpc-timeout`, messages), and its response comes back
//! unchanged but for the kubelet's 16 MiB limit on a response message.

use std::convert::Infallible;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::task::{Context, Poll};

use tonic::Status;
use tonic::transport::{Channel, Endpoint};
use tower::Service;

use crate::grpc::{
    Body, GrpcRequest, GrpcResponse, GrpcService, MAX_RESPONSE_MESSAGE, status_response,
};
use crate::observe::{self, Rules, Watch};

/// The Unix socket path of an endpoint written `unix:///run/containerd/containerd.sock` (or
/// as a bare absolute path).
pub fn socket_path(endpoint: &str) -> Result<PathBuf, String> {
    let path = endpoint.strip_prefix("unix://").unwrap_or(endpoint);
    if !path.starts_with('/') {
        return Err(format!(
            "endpoint {endpoint:?} is not unix:///ABSOLUTE/PATH (only Unix sockets are served)"
        ));
    }
    Ok(PathBuf::from(path))
}

/// A channel to the Unix socket at `path`, connected at the first call (so the proxy may start
/// before its runtime) and again after the runtime restarts.
pub fn channel(path: PathBuf) -> Channel {
    let connector = tower::service_fn(move |_: http::Uri| {
        let path = path.clone();
        async move {
            let stream = tokio::net::UnixStream::connect(path).await?;
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(stream))
        }
    });
    Endpoint::from_static("http://localhost").connect_with_connector_lazy(connector)
}

/// A channel as a service of the stack: a transport failure becomes `UNAVAILABLE`, and a
/// response message over 16 MiB ends the call with `RESOURCE_EXHAUSTED`.
#[derive(Debug, Clone)]
pub struct ChannelService {
    channel: Channel,
}

impl ChannelService {
    /// Calls go through `channel`.
    pub fn new(channel: Channel) -> Self {
        ChannelService { channel }
    }
}

struct Nothing;
impl Watch for Nothing {
    fn end(self: Box<Self>, _: i32, _: &str) {}
}

impl Service<GrpcRequest> for ChannelService {
    type Response = GrpcResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<GrpcResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // The channel is polled for readiness in `call`, so that one stuck connection never
        // makes the whole stack unready.
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: GrpcRequest) -> Self::Future {
        let mut channel = self.channel.clone();
        Box::pin(async move {
            use tower::ServiceExt;
            let result = match channel.ready().await {
                Ok(channel) => channel.call(request).await,
                Err(e) => Err(e),
            };
            Ok(match result {
                Ok(response) => {
                    let rules = Rules {
                        limit: Some(MAX_RESPONSE_MESSAGE),
                        drop_after: None,
                    };
                    observe::watch(response.map(Body::new), Box::new(Nothing), rules)
                }
                Err(e) => status_response(Status::unavailable(format!(
                    "cri-proxy: the runtime is unreachable: {}",
                    error_chain(&e)
                ))),
            })
        })
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        text.push_str(": ");
        text.push_str(&e.to_string());
        source = e.source();
    }
    text
}

/// Sends `ImageService` calls to `image` and every other call to `runtime`.
#[derive(Clone)]
pub struct Route {
    runtime: GrpcService,
    image: GrpcService,
}

impl Route {
    /// Image calls (`/runtime.v1.ImageService/…`, `/runtime.v1alpha2.ImageService/…`) go to
    /// `image`, the rest to `runtime`.
    pub fn new(runtime: GrpcService, image: GrpcService) -> Self {
        Route { runtime, image }
    }
}

impl std::fmt::Debug for Route {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Route").finish_non_exhaustive()
    }
}

impl Service<GrpcRequest> for Route {
    type Response = GrpcResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<GrpcResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: GrpcRequest) -> Self::Future {
        use tower::ServiceExt;
        let path = request.uri().path();
        let image = path.starts_with("/runtime.v1.ImageService/")
            || path.starts_with("/runtime.v1alpha2.ImageService/");
        let service = if image {
            self.image.clone()
        } else {
            self.runtime.clone()
        };
        Box::pin(service.oneshot(request))
    }
}
