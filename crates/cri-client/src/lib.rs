//! A CRI client that connects, negotiates the API version and lists the way the kubelet does.
//!
//! [`Client`] reaches a container runtime over a Unix socket (or TCP), with the kubelet's
//! message-size limits and deadlines, and presents the `runtime.v1` API whatever the runtime
//! speaks:
//!
//! - **Version negotiation.** It validates the connection with v1 `Version` (and `ImageFsInfo`
//!   on a separate image endpoint). With [`VersionPolicy::PreferV1`] it falls back to
//!   `runtime.v1alpha2` when v1 is not served, translating through `cri-convert` (requests are
//!   downgraded strictly: a set field that v1alpha2 cannot carry is an error, never silently
//!   lost). [`VersionPolicy::V1Only`] refuses such runtimes, as kubelets since 1.26 do.
//! - **Re-dial rule.** When the connection is re-established (the runtime restarted or was
//!   upgraded), the negotiated version must still be served; otherwise every further call fails
//!   with [`Error::VersionChanged`], which says that the client must be restarted.
//! - **Limits and deadlines.** Responses up to 16 MiB; each call under a 2-minute deadline,
//!   `RunPodSandbox` twice that, `PullImage` none. All configurable on [`ClientBuilder`].
//! - **List streaming.** With [`ClientBuilder::list_streaming`], the six list calls
//!   (`list_containers`, `list_pod_sandbox`, `list_images`, `list_container_stats`,
//!   `list_pod_sandbox_stats`, `list_pod_sandbox_metrics`) go through the Kubernetes 1.36
//!   `Stream*` RPCs and collect the whole stream under one deadline; when the runtime answers
//!   `UNIMPLEMENTED` (containerd 1.6 does) the client falls back to the unary RPC and remembers
//!   that for the connection. A unary response over the size limit fails with
//!   [`Error::ResponseTooLarge`], which suggests streaming.
//!
//! Every RPC of both services is a method of [`Client`] taking and returning `cri_api_v1` types.
//!
//! ```no_run
//! use cri_client::{Client, VersionPolicy};
//! use cri_api_v1::{ListContainersRequest, VersionRequest};
//!
//! # async fn run() -> Result<(), cri_client::Error> {
//! let client = Client::builder("unix:///run/containerd/containerd.sock")
//!     .version_policy(VersionPolicy::PreferV1)
//!     .list_streaming(true)
//!     .connect()
//!     .await?;
//! println!("speaking {}", client.runtime_api_version());
//!
//! let version = client.version(VersionRequest::default()).await?;
//! println!("{} {}", version.runtime_name, version.runtime_version);
//! for container in client.list_containers(ListContainersRequest::default()).await?.containers {
//!     println!("{} {:?}", container.id, container.state());
//! }
//! # Ok(()) }
//! ```

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use cri_api_v1 as v1;
use cri_api_v1alpha2 as v1alpha2;
use cri_convert::V1OverV1alpha2;
use tokio_stream::StreamExt;
use tonic::transport::{Channel, Uri};
use tonic::{Code, Status};

mod endpoint;
pub use endpoint::Endpoint;

#[allow(clippy::needless_question_mark)]
mod generated {
    include!("generated/methods.rs");
}

pub use cri_api_v1;
pub use tonic;

/// A stream of responses of a server-streaming RPC.
pub type BoxStream<T> = tonic::codegen::BoxStream<T>;

type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// The kubelet's limit for messages in both directions: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;
/// The kubelet's default deadline of a CRI call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long connecting may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A CRI API version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ApiVersion {
    /// `runtime.v1`.
    V1,
    /// `runtime.v1alpha2`.
    V1alpha2,
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ApiVersion::V1 => "runtime.v1",
            ApiVersion::V1alpha2 => "runtime.v1alpha2",
        })
    }
}

/// Which CRI versions the client accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VersionPolicy {
    /// `runtime.v1` only, as kubelets since 1.26.
    #[default]
    V1Only,
    /// `runtime.v1`, else `runtime.v1alpha2` (as kubelets 1.23 to 1.25).
    PreferV1,
}

/// Which service an RPC belongs to (they may have different endpoints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// `RuntimeService`.
    Runtime,
    /// `ImageService`.
    Image,
}

/// The list RPCs that have a streaming counterpart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[allow(missing_docs)] // the variants name the lists
pub enum List {
    PodSandboxes,
    Containers,
    ContainerStats,
    PodSandboxStats,
    PodSandboxMetrics,
    Images,
}

/// Deadline classes of RPCs.
#[derive(Debug, Clone, Copy)]
enum Deadline {
    Default,
    Double,
    None,
}

/// Why a call failed.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The endpoint could not be parsed.
    InvalidEndpoint {
        /// As written.
        endpoint: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting failed.
    Connect {
        /// Where.
        endpoint: Endpoint,
        /// The cause.
        source: tonic::transport::Error,
    },
    /// The runtime serves none of the CRI versions the policy accepts.
    NoSupportedVersion {
        /// Where.
        endpoint: Endpoint,
        /// What each version tried answered.
        tried: Vec<(ApiVersion, Status)>,
    },
    /// After re-connecting, the runtime no longer serves the version negotiated at start.
    VersionChanged {
        /// Where.
        endpoint: Endpoint,
        /// The version negotiated at start.
        negotiated: ApiVersion,
        /// What the runtime answered to it.
        status: Status,
    },
    /// A response exceeded the size limit.
    ResponseTooLarge {
        /// `Service/Method`.
        rpc: &'static str,
        /// The limit in bytes.
        limit: usize,
        /// The error reported by the gRPC stack.
        status: Status,
    },
    /// The call did not finish within its deadline.
    DeadlineExceeded {
        /// `Service/Method`.
        rpc: &'static str,
        /// The deadline.
        after: Duration,
    },
    /// The runtime answered with an error status.
    Rpc {
        /// `Service/Method`.
        rpc: &'static str,
        /// The status.
        status: Status,
    },
}

impl Error {
    /// The gRPC status code of the failure, where there is one.
    pub fn code(&self) -> Option<Code> {
        match self {
            Error::Rpc { status, .. }
            | Error::ResponseTooLarge { status, .. }
            | Error::VersionChanged { status, .. } => Some(status.code()),
            Error::DeadlineExceeded { .. } => Some(Code::DeadlineExceeded),
            _ => None,
        }
    }
}

fn is_list_rpc(rpc: &str) -> bool {
    matches!(
        rpc.rsplit('/').next(),
        Some(
            "ListContainers"
                | "ListPodSandbox"
                | "ListImages"
                | "ListContainerStats"
                | "ListPodSandboxStats"
                | "ListPodSandboxMetrics"
        )
    )
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::InvalidEndpoint { endpoint, reason } => {
                write!(f, "invalid CRI endpoint `{endpoint}`: {reason}")
            }
            Error::Connect { endpoint, source } => {
                write!(f, "cannot connect to {endpoint}: {source}")?;
                let mut cause = std::error::Error::source(source);
                while let Some(inner) = cause {
                    write!(f, ": {inner}")?;
                    cause = inner.source();
                }
                Ok(())
            }
            Error::NoSupportedVersion { endpoint, tried } => {
                write!(f, "{endpoint} serves no CRI version this client accepts:")?;
                for (version, status) in tried {
                    write!(f, " {version}: {} ({:?});", status.message(), status.code())?;
                }
                if tried.len() == 1 {
                    write!(
                        f,
                        " the runtime may speak only runtime.v1alpha2: allow it with VersionPolicy::PreferV1, or upgrade the runtime"
                    )?;
                }
                Ok(())
            }
            Error::VersionChanged {
                endpoint,
                negotiated,
                status,
            } => write!(
                f,
                "{endpoint} no longer serves {negotiated} after reconnecting ({}); the runtime was replaced by one \
                 speaking another CRI version: restart this client to negotiate again",
                status.message()
            ),
            Error::ResponseTooLarge { rpc, limit, status } => {
                write!(
                    f,
                    "{rpc}: the response exceeds the {limit}-byte limit ({})",
                    status.message()
                )?;
                if is_list_rpc(rpc) {
                    write!(
                        f,
                        "; enable list streaming (ClientBuilder::list_streaming) to receive it in pages"
                    )?;
                }
                Ok(())
            }
            Error::DeadlineExceeded { rpc, after } => {
                write!(f, "{rpc}: no answer within {after:?}")
            }
            Error::Rpc { rpc, status } => {
                write!(f, "{rpc}: {} ({:?})", status.message(), status.code())
            }
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connect { source, .. } => Some(source),
            Error::Rpc { status, .. }
            | Error::ResponseTooLarge { status, .. }
            | Error::VersionChanged { status, .. } => Some(status),
            _ => None,
        }
    }
}

/// Size limits applied to every call.
#[derive(Debug, Clone, Copy)]
struct Limits {
    max_response: usize,
    max_request: usize,
}

/// Called while a list stream is being collected: the RPC (`Service/Method`) and the number
/// of items received so far.
pub type ListProgress = Arc<dyn Fn(&'static str, usize) + Send + Sync>;

/// Configures and connects a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    runtime_endpoint: String,
    image_endpoint: Option<String>,
    policy: VersionPolicy,
    list_streaming: bool,
    timeout: Duration,
    connect_timeout: Duration,
    limits: Limits,
    progress: Option<ListProgress>,
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("runtime_endpoint", &self.runtime_endpoint)
            .field("image_endpoint", &self.image_endpoint)
            .field("policy", &self.policy)
            .field("list_streaming", &self.list_streaming)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    /// Reports the progress of list streams, page by page (for a progress line in a tool).
    pub fn on_list_progress(
        mut self,
        progress: impl Fn(&'static str, usize) + Send + Sync + 'static,
    ) -> Self {
        self.progress = Some(Arc::new(progress));
        self
    }

    /// Uses a separate endpoint for the image service (by default, the runtime endpoint).
    pub fn image_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.image_endpoint = Some(endpoint.into());
        self
    }

    /// Which CRI versions to accept (default: [`VersionPolicy::V1Only`]).
    pub fn version_policy(mut self, policy: VersionPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Sends the list calls through the `Stream*` RPCs, with fallback (default: off, as the
    /// kubelet's feature gate).
    pub fn list_streaming(mut self, on: bool) -> Self {
        self.list_streaming = on;
        self
    }

    /// The deadline of a call (default 2 minutes; `RunPodSandbox` gets twice this, `PullImage`
    /// none).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How long connecting may take (default 10 s).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The largest response accepted (default 16 MiB).
    pub fn max_response_size(mut self, bytes: usize) -> Self {
        self.limits.max_response = bytes;
        self
    }

    /// The largest request sent (default 16 MiB).
    pub fn max_request_size(mut self, bytes: usize) -> Self {
        self.limits.max_request = bytes;
        self
    }

    /// Connects to the endpoint(s) and negotiates the CRI version of each.
    pub async fn connect(self) -> Result<Client, Error> {
        let runtime_endpoint: Endpoint = self.runtime_endpoint.parse()?;
        let image_endpoint: Option<Endpoint> =
            self.image_endpoint.as_deref().map(str::parse).transpose()?;
        let runtime = self
            .open(runtime_endpoint.clone(), Service::Runtime)
            .await?;
        let image = match image_endpoint {
            Some(endpoint) if endpoint != runtime_endpoint => {
                Some(self.open(endpoint, Service::Image).await?)
            }
            _ => None,
        };
        Ok(Client {
            runtime,
            image,
            list_streaming: self.list_streaming,
            timeout: self.timeout,
            limits: self.limits,
            progress: self.progress,
            streams_unsupported: Default::default(),
        })
    }

    async fn open(&self, endpoint: Endpoint, service: Service) -> Result<Connection, Error> {
        let (channel, dials) = dial(&endpoint, self.connect_timeout).await?;
        let mut tried = Vec::new();
        for version in [ApiVersion::V1, ApiVersion::V1alpha2] {
            if version == ApiVersion::V1alpha2 && self.policy == VersionPolicy::V1Only {
                break;
            }
            let backend = Backend::new(version, channel.clone(), self.limits);
            match probe(&backend, service, self.limits, Some(self.timeout)).await {
                Ok(()) => {
                    let verified = AtomicU64::new(dials.load(Ordering::SeqCst));
                    return Ok(Connection {
                        endpoint,
                        service,
                        backend,
                        version,
                        dials,
                        verified,
                        broken: OnceLock::new(),
                    });
                }
                Err(status) if status.code() == Code::Unimplemented => {
                    tried.push((version, status))
                }
                Err(status) => {
                    return Err(Error::Rpc {
                        rpc: probe_rpc(service),
                        status,
                    });
                }
            }
        }
        Err(Error::NoSupportedVersion { endpoint, tried })
    }
}

/// A client of one runtime: see the crate docs.
pub struct Client {
    runtime: Connection,
    image: Option<Connection>,
    list_streaming: bool,
    timeout: Duration,
    limits: Limits,
    progress: Option<ListProgress>,
    streams_unsupported: [AtomicBool; 6],
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("runtime", &self.runtime)
            .field("image", &self.image)
            .field("list_streaming", &self.list_streaming)
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

/// One endpoint, its negotiated version and its dial counter.
#[derive(Debug)]
struct Connection {
    endpoint: Endpoint,
    service: Service,
    backend: Backend,
    version: ApiVersion,
    /// Successful dials of the channel so far (a re-dial increments it).
    dials: Arc<AtomicU64>,
    /// The dial count at which the version was last verified.
    verified: AtomicU64,
    /// Set when a re-dial found the negotiated version gone; the connection is then unusable.
    broken: OnceLock<Status>,
}

/// How calls reach the runtime: v1 directly, or v1alpha2 through `cri-convert`.
#[derive(Debug)]
enum Backend {
    V1(Channel),
    V1alpha2(V1OverV1alpha2<Channel>),
}

impl Backend {
    fn new(version: ApiVersion, channel: Channel, limits: Limits) -> Self {
        match version {
            ApiVersion::V1 => Backend::V1(channel),
            ApiVersion::V1alpha2 => Backend::V1alpha2(
                V1OverV1alpha2::new(channel)
                    .max_decoding_message_size(limits.max_response)
                    .max_encoding_message_size(limits.max_request),
            ),
        }
    }
}

fn probe_rpc(service: Service) -> &'static str {
    match service {
        Service::Runtime => "RuntimeService/Version",
        Service::Image => "ImageService/ImageFsInfo",
    }
}

/// Asks the runtime whether it serves this backend's version: `Version` on the runtime
/// service, `ImageFsInfo` on the image service, as the kubelet validates its connections.
async fn probe(
    backend: &Backend,
    service: Service,
    limits: Limits,
    timeout: Option<Duration>,
) -> Result<(), Status> {
    let call = async {
        match (backend, service) {
            (Backend::V1(channel), Service::Runtime) => {
                v1::runtime_service_client::RuntimeServiceClient::new(channel.clone())
                    .max_decoding_message_size(limits.max_response)
                    .version(request(
                        v1::VersionRequest {
                            version: KUBELET_API_VERSION.into(),
                        },
                        timeout,
                    ))
                    .await
                    .map(drop)
            }
            (Backend::V1(channel), Service::Image) => {
                v1::image_service_client::ImageServiceClient::new(channel.clone())
                    .max_decoding_message_size(limits.max_response)
                    .image_fs_info(request(v1::ImageFsInfoRequest {}, timeout))
                    .await
                    .map(drop)
            }
            (Backend::V1alpha2(adapter), Service::Runtime) => {
                v1alpha2::runtime_service_client::RuntimeServiceClient::new(adapter_channel(
                    adapter,
                ))
                .max_decoding_message_size(limits.max_response)
                .version(request(
                    v1alpha2::VersionRequest {
                        version: KUBELET_API_VERSION.into(),
                    },
                    timeout,
                ))
                .await
                .map(drop)
            }
            (Backend::V1alpha2(adapter), Service::Image) => {
                v1alpha2::image_service_client::ImageServiceClient::new(adapter_channel(adapter))
                    .max_decoding_message_size(limits.max_response)
                    .image_fs_info(request(v1alpha2::ImageFsInfoRequest {}, timeout))
                    .await
                    .map(drop)
            }
        }
    };
    match timeout {
        Some(limit) => tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
            Err(Status::deadline_exceeded(format!(
                "no answer within {limit:?}"
            )))
        }),
        None => call.await,
    }
}

fn adapter_channel(adapter: &V1OverV1alpha2<Channel>) -> Channel {
    adapter.channel().clone()
}

/// The version string the kubelet sends in `VersionRequest`.
const KUBELET_API_VERSION: &str = "0.1.0";

/// Connects, counting successful dials (the channel re-dials by itself after a disconnect).
async fn dial(
    endpoint: &Endpoint,
    connect_timeout: Duration,
) -> Result<(Channel, Arc<AtomicU64>), Error> {
    let dials = Arc::new(AtomicU64::new(0));
    let counter = dials.clone();
    let target = endpoint.clone();
    let connector = tower::service_fn(move |_: Uri| {
        let counter = counter.clone();
        let target = target.clone();
        async move {
            let io = match &target {
                Endpoint::Unix(path) => Io::Unix(tokio::net::UnixStream::connect(path).await?),
                Endpoint::Tcp(host_port) => {
                    let stream = tokio::net::TcpStream::connect(host_port.as_str()).await?;
                    stream.set_nodelay(true)?;
                    Io::Tcp(stream)
                }
            };
            counter.fetch_add(1, Ordering::SeqCst);
            Ok::<_, std::io::Error>(hyper_util::rt::TokioIo::new(io))
        }
    });
    // The URI only names the HTTP/2 authority; the connector decides where to connect.
    let uri = match endpoint {
        Endpoint::Unix(_) => "http://localhost".to_string(),
        Endpoint::Tcp(host_port) => format!("http://{host_port}"),
    };
    let channel = tonic::transport::Endpoint::from_shared(uri)
        .map_err(|source| Error::Connect {
            endpoint: endpoint.clone(),
            source,
        })?
        .connect_timeout(connect_timeout)
        .connect_with_connector(connector)
        .await
        .map_err(|source| Error::Connect {
            endpoint: endpoint.clone(),
            source,
        })?;
    Ok((channel, dials))
}

/// A Unix or TCP stream, so one connector type serves both.
enum Io {
    Unix(tokio::net::UnixStream),
    Tcp(tokio::net::TcpStream),
}

impl tokio::io::AsyncRead for Io {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Unix(s) => Pin::new(s).poll_read(cx, buf),
            Io::Tcp(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl tokio::io::AsyncWrite for Io {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        match self.get_mut() {
            Io::Unix(s) => Pin::new(s).poll_write(cx, buf),
            Io::Tcp(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Unix(s) => Pin::new(s).poll_flush(cx),
            Io::Tcp(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        match self.get_mut() {
            Io::Unix(s) => Pin::new(s).poll_shutdown(cx),
            Io::Tcp(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

/// A request carrying the call's deadline to the server (`grpc-timeout`).
fn request<T>(message: T, timeout: Option<Duration>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Some(timeout) = timeout {
        request.set_timeout(timeout);
    }
    request
}

impl Client {
    /// Starts configuring a client of the runtime at `runtime_endpoint` (see [`Endpoint`] for
    /// the accepted forms).
    pub fn builder(runtime_endpoint: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            runtime_endpoint: runtime_endpoint.into(),
            image_endpoint: None,
            policy: VersionPolicy::default(),
            list_streaming: false,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            limits: Limits {
                max_response: DEFAULT_MAX_MESSAGE_SIZE,
                max_request: DEFAULT_MAX_MESSAGE_SIZE,
            },
            progress: None,
        }
    }

    /// The CRI version negotiated with the runtime service.
    pub fn runtime_api_version(&self) -> ApiVersion {
        self.runtime.version
    }

    /// The CRI version negotiated with the image service.
    pub fn image_api_version(&self) -> ApiVersion {
        self.image.as_ref().unwrap_or(&self.runtime).version
    }

    /// The runtime endpoint.
    pub fn runtime_endpoint(&self) -> &Endpoint {
        &self.runtime.endpoint
    }

    /// The image endpoint (the runtime endpoint unless a separate one was configured).
    pub fn image_endpoint(&self) -> &Endpoint {
        &self.image.as_ref().unwrap_or(&self.runtime).endpoint
    }

    /// Whether the given list goes through its streaming RPC: streaming is on and the runtime
    /// has not answered `UNIMPLEMENTED` to it on this connection.
    pub fn streams(&self, list: List) -> bool {
        self.list_streaming && !self.streams_unsupported[list as usize].load(Ordering::SeqCst)
    }

    fn connection(&self, service: Service) -> &Connection {
        match service {
            Service::Runtime => &self.runtime,
            Service::Image => self.image.as_ref().unwrap_or(&self.runtime),
        }
    }

    fn deadline(&self, deadline: Deadline) -> Option<Duration> {
        match deadline {
            Deadline::Default => Some(self.timeout),
            Deadline::Double => Some(self.timeout * 2),
            Deadline::None => None,
        }
    }

    /// Fails when the connection was found speaking another version; after a re-dial,
    /// verifies the negotiated version again.
    async fn ready(&self, connection: &Connection) -> Result<(), Error> {
        let changed = |status: &Status| Error::VersionChanged {
            endpoint: connection.endpoint.clone(),
            negotiated: connection.version,
            status: status.clone(),
        };
        if let Some(status) = connection.broken.get() {
            return Err(changed(status));
        }
        let dials = connection.dials.load(Ordering::SeqCst);
        if dials == connection.verified.load(Ordering::SeqCst) {
            return Ok(());
        }
        match probe(
            &connection.backend,
            connection.service,
            self.limits,
            Some(self.timeout),
        )
        .await
        {
            Ok(()) => {
                connection.verified.store(dials, Ordering::SeqCst);
                Ok(())
            }
            Err(status) if status.code() == Code::Unimplemented => {
                let status = connection.broken.get_or_init(|| status);
                Err(changed(status))
            }
            Err(status) => Err(Error::Rpc {
                rpc: probe_rpc(connection.service),
                status,
            }),
        }
    }

    fn rpc_error(&self, rpc: &'static str, status: Status) -> Error {
        if status.code() == Code::OutOfRange
            && status.message().contains("message length too large")
        {
            Error::ResponseTooLarge {
                rpc,
                limit: self.limits.max_response,
                status,
            }
        } else {
            Error::Rpc { rpc, status }
        }
    }

    async fn unary<'a, R>(
        &'a self,
        service: Service,
        rpc: &'static str,
        deadline: Deadline,
        call: impl FnOnce(
            &'a Backend,
            Option<Duration>,
            Limits,
        ) -> BoxFuture<'a, Result<tonic::Response<R>, Status>>,
    ) -> Result<R, Error> {
        let connection = self.connection(service);
        self.ready(connection).await?;
        let deadline = self.deadline(deadline);
        let future = call(&connection.backend, deadline, self.limits);
        let result = match deadline {
            Some(after) => tokio::time::timeout(after, future)
                .await
                .map_err(|_| Error::DeadlineExceeded { rpc, after })?,
            None => future.await,
        };
        match result {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => {
                // A runtime replaced during this call may answer UNIMPLEMENTED for the whole
                // version: the re-dial rule says so rather than the bare status.
                if status.code() == Code::Unimplemented {
                    self.ready(connection).await?;
                }
                Err(self.rpc_error(rpc, status))
            }
        }
    }

    async fn streaming<'a, T>(
        &'a self,
        service: Service,
        rpc: &'static str,
        call: impl FnOnce(
            &'a Backend,
            Limits,
        ) -> BoxFuture<'a, Result<tonic::Response<BoxStream<T>>, Status>>,
    ) -> Result<BoxStream<T>, Error> {
        let connection = self.connection(service);
        self.ready(connection).await?;
        match call(&connection.backend, self.limits).await {
            Ok(response) => Ok(response.into_inner()),
            Err(status) => {
                if status.code() == Code::Unimplemented {
                    self.ready(connection).await?;
                }
                Err(self.rpc_error(rpc, status))
            }
        }
    }

    /// Collects a list stream under one deadline. `Ok(None)` means the runtime lacks the RPC
    /// (`UNIMPLEMENTED` at the call or on the first receive), which is remembered.
    async fn collect<S, I>(
        &self,
        list: List,
        rpc: &'static str,
        start: impl Future<Output = Result<BoxStream<S>, Error>>,
        items: impl Fn(S) -> Vec<I>,
    ) -> Result<Option<Vec<I>>, Error> {
        let work = async {
            let mut stream = match start.await {
                Ok(stream) => stream,
                Err(error)
                    if error.code() == Some(Code::Unimplemented)
                        && !matches!(error, Error::VersionChanged { .. }) =>
                {
                    return Ok(None);
                }
                Err(error) => return Err(error),
            };
            let mut collected = Vec::new();
            let mut first = true;
            while let Some(page) = stream.next().await {
                match page {
                    Ok(page) => {
                        collected.extend(items(page));
                        if let Some(progress) = &self.progress {
                            progress(rpc, collected.len());
                        }
                    }
                    Err(status) if first && status.code() == Code::Unimplemented => {
                        return Ok(None);
                    }
                    Err(status) => return Err(self.rpc_error(rpc, status)),
                }
                first = false;
            }
            Ok(Some(collected))
        };
        let result = match self.deadline(Deadline::Default) {
            Some(after) => tokio::time::timeout(after, work)
                .await
                .map_err(|_| Error::DeadlineExceeded { rpc, after })??,
            None => work.await?,
        };
        if result.is_none() {
            self.streams_unsupported[list as usize].store(true, Ordering::SeqCst);
        }
        Ok(result)
    }
}
