//! Service adapters between `runtime.v1alpha2` and `runtime.v1` (feature `services`).

use std::fmt;
use std::sync::Arc;

use tonic::codegen::{Body, Bytes, StdError};
use tonic::metadata::MetadataMap;
use tonic::{Request, Response, Status};

use crate::{Downgrade, Report, Upgrade};

mod generated {
    include!("generated/services.rs");
}

/// Serves `runtime.v1alpha2` from an implementation of the `runtime.v1` services.
///
/// It implements the v1alpha2 `RuntimeService` and `ImageService` traits for any `T` that
/// implements the v1 ones: wrap your runtime and hand it to the v1alpha2 servers. Requests
/// are upgraded (losslessly); responses are downgraded according to the [`DowngradePolicy`].
/// RPCs that only v1 has are not offered (a v1alpha2 client cannot ask for them).
///
/// ```no_run
/// # async fn run<R>(runtime: std::sync::Arc<R>) -> Result<(), Box<dyn std::error::Error>>
/// # where R: cri_api_v1::runtime_service_server::RuntimeService + cri_api_v1::image_service_server::ImageService {
/// use cri_api_v1::runtime_service_server::RuntimeServiceServer;
/// use cri_api_v1alpha2::runtime_service_server::RuntimeServiceServer as V1alpha2RuntimeServer;
/// use cri_convert::V1alpha2OverV1;
///
/// // One runtime, both versions on one socket, as containerd 1.6 does.
/// let listener = tokio::net::UnixListener::bind("/run/my-runtime.sock")?;
/// tonic::transport::Server::builder()
///     .add_service(RuntimeServiceServer::from_arc(runtime.clone()))
///     .add_service(V1alpha2RuntimeServer::new(V1alpha2OverV1::from_arc(runtime)))
///     .serve_with_incoming(tokio_stream::wrappers::UnixListenerStream::new(listener))
///     .await?;
/// # Ok(()) }
/// ```
pub struct V1alpha2OverV1<T> {
    inner: Arc<T>,
    policy: DowngradePolicy,
}

impl<T> V1alpha2OverV1<T> {
    /// Wraps a v1 implementation, with the default (lossy) [`DowngradePolicy`].
    pub fn new(inner: T) -> Self {
        Self::from_arc(Arc::new(inner))
    }

    /// Wraps a v1 implementation that is shared, for example with a v1 server.
    pub fn from_arc(inner: Arc<T>) -> Self {
        Self {
            inner,
            policy: DowngradePolicy::default(),
        }
    }

    /// Sets how responses that v1alpha2 cannot carry exactly are treated.
    pub fn with_policy(mut self, policy: DowngradePolicy) -> Self {
        self.policy = policy;
        self
    }
}

/// How [`V1alpha2OverV1`] treats a v1 response that v1alpha2 cannot carry exactly (a v1-only
/// field is set, or bytes are not UTF-8).
///
/// By default it sends what v1alpha2 can carry: the v1alpha2 client could not have read the
/// rest. [`on_dropped`](DowngradePolicy::on_dropped) observes what was dropped (for a log
/// line or a metric); [`strict`](DowngradePolicy::strict) answers `INTERNAL` instead.
#[derive(Clone, Default)]
pub struct DowngradePolicy {
    strict: bool,
    observer: Option<Observer>,
}

/// Called with the RPC (`Service/Method`) and what its response lost.
type Observer = Arc<dyn Fn(&'static str, &Report) + Send + Sync>;

impl DowngradePolicy {
    /// Sends the lossy downgrade (the default).
    pub fn lossy() -> Self {
        Self::default()
    }

    /// Fails the call with `INTERNAL` (naming the fields) instead of dropping anything.
    pub fn strict() -> Self {
        Self {
            strict: true,
            observer: None,
        }
    }

    /// Calls `observer(rpc, report)` whenever a response loses something, before it is sent
    /// (lossy) or refused (strict). `rpc` is `Service/Method`.
    pub fn on_dropped(
        mut self,
        observer: impl Fn(&'static str, &Report) + Send + Sync + 'static,
    ) -> Self {
        self.observer = Some(Arc::new(observer));
        self
    }
}

impl fmt::Debug for DowngradePolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DowngradePolicy")
            .field("strict", &self.strict)
            .field("observer", &self.observer.is_some())
            .finish()
    }
}

/// Presents a runtime that speaks only `runtime.v1alpha2` through the `runtime.v1` service
/// traits.
///
/// It implements the v1 `RuntimeService` and `ImageService` traits on top of a v1alpha2 gRPC
/// channel: call the trait methods with v1 types, or serve it as v1 (a translating proxy).
/// Requests are downgraded strictly: a request with a set field that v1alpha2 cannot carry
/// fails with `INVALID_ARGUMENT` naming every such field, and is not sent. Responses are
/// upgraded losslessly. RPCs that v1alpha2 lacks answer `UNIMPLEMENTED`.
///
/// The caller's metadata is forwarded, and so is its deadline (`grpc-timeout`, which
/// `tonic::Request::set_timeout` sets): the v1alpha2 runtime is told the deadline, and the
/// channel enforces it. gRPC's other headers belong to each call and are not forwarded.
#[derive(Debug, Clone)]
pub struct V1OverV1alpha2<T> {
    channel: T,
    max_decoding_message_size: usize,
    max_encoding_message_size: usize,
}

/// 16 MiB, the kubelet's limit for responses.
const DEFAULT_MAX_DECODING_MESSAGE_SIZE: usize = 16 * 1024 * 1024;

impl<T> V1OverV1alpha2<T> {
    /// Uses `channel` (for example a `tonic::transport::Channel`) to reach the v1alpha2
    /// runtime. Responses may be up to 16 MiB, as the kubelet accepts.
    pub fn new(channel: T) -> Self {
        Self {
            channel,
            max_decoding_message_size: DEFAULT_MAX_DECODING_MESSAGE_SIZE,
            max_encoding_message_size: usize::MAX,
        }
    }

    /// The channel to the v1alpha2 runtime.
    pub fn channel(&self) -> &T {
        &self.channel
    }

    /// Sets the largest response accepted from the runtime.
    pub fn max_decoding_message_size(mut self, limit: usize) -> Self {
        self.max_decoding_message_size = limit;
        self
    }

    /// Sets the largest request sent to the runtime.
    pub fn max_encoding_message_size(mut self, limit: usize) -> Self {
        self.max_encoding_message_size = limit;
        self
    }
}

/// What [`V1OverV1alpha2`] needs of its channel: a cloneable tonic gRPC service, such as
/// `tonic::transport::Channel`.
pub trait GrpcClient:
    tonic::client::GrpcService<
        tonic::body::Body,
        Error: Into<StdError>,
        ResponseBody: Body<Data = Bytes, Error: Into<StdError> + Send> + Send + 'static,
        Future: Send,
    > + Clone
    + Send
    + Sync
    + 'static
{
}

impl<T> GrpcClient for T where
    T: tonic::client::GrpcService<
            tonic::body::Body,
            Error: Into<StdError>,
            ResponseBody: Body<Data = Bytes, Error: Into<StdError> + Send> + Send + 'static,
            Future: Send,
        > + Clone
        + Send
        + Sync
        + 'static
{
}

fn upgrade_request<M: Upgrade>(request: Request<M>) -> Request<M::Output> {
    let (metadata, extensions, message) = request.into_parts();
    Request::from_parts(metadata, extensions, message.upgrade())
}

fn upgrade_response<M: Upgrade>(response: Response<M>) -> Response<M::Output> {
    let (metadata, message, extensions) = response.into_parts();
    Response::from_parts(metadata, message.upgrade(), extensions)
}

fn downgrade_response<M: Downgrade>(
    rpc: &'static str,
    response: Response<M>,
    policy: &DowngradePolicy,
) -> Result<Response<M::Output>, Status> {
    let (metadata, message, extensions) = response.into_parts();
    let (message, report) = message.downgrade_lossy();
    if !report.is_empty() {
        if let Some(observer) = &policy.observer {
            observer(rpc, &report);
        }
        if policy.strict {
            return Err(Status::internal(format!(
                "{rpc}: the response cannot be expressed in runtime.v1alpha2 without loss: {report}"
            )));
        }
    }
    Ok(Response::from_parts(metadata, message, extensions))
}

fn downgrade_request<M: Downgrade>(
    rpc: &'static str,
    request: Request<M>,
) -> Result<Request<M::Output>, Status> {
    let (metadata, _, message) = request.into_parts();
    let message = message.downgrade().map_err(|error| {
        Status::invalid_argument(format!(
            "{rpc}: the runtime speaks only runtime.v1alpha2; {error}"
        ))
    })?;
    let mut forwarded = Request::new(message);
    *forwarded.metadata_mut() = forwardable(metadata);
    Ok(forwarded)
}

/// The caller's metadata minus the headers that belong to its own call (gRPC's and HTTP's),
/// but with its deadline: `grpc-timeout` passes through, so the runtime behind the adapter
/// learns the caller's deadline and the channel enforces it.
fn forwardable(metadata: MetadataMap) -> MetadataMap {
    let mut headers = metadata.into_headers();
    let reserved: Vec<_> = headers
        .keys()
        .filter(|k| {
            let k = k.as_str();
            (k.starts_with("grpc-") && k != "grpc-timeout")
                || matches!(k, "content-type" | "te" | "user-agent" | "host")
        })
        .cloned()
        .collect();
    for key in reserved {
        headers.remove(key);
    }
    MetadataMap::from_headers(headers)
}
