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
//!   [`Error::ResponseTooLarge`], which says whether streaming would help.
//! - **What the kubelet's client does around each call.** A `tracing` span per RPC (method,
//!   endpoint, negotiated version, status, duration), the kubelet's metrics
//!   (`kubelet_runtime_operations_total`, `…_duration_seconds`, `…_errors_total` by
//!   `operation_type`) through the `metrics` facade, an identical failure for the same
//!   container logged once a minute (all in [`observe`]); with feature `otel`, OTLP export and
//!   W3C trace context sent to the runtime ([`otel`](crate#features)). The kubelet's per-RPC
//!   deadlines and its checks of what the runtime answers ([`Error::InvalidResponse`]), each
//!   on by default and switchable on [`ClientBuilder`].
//! - **Exec, attach and port forward in one call** ([`Client::exec`], with feature
//!   `streaming`; see [below](#exec-attach-and-port-forward-in-one-call)).
//! - **Errors that say what happened.** A missed deadline is always [`Error::DeadlineExceeded`]
//!   (see [Deadlines](#deadlines)); a peer that is not a CRI runtime (a web server, an SSH
//!   server, a socket that closes at once) is [`Error::NotCri`], naming the endpoint and what
//!   the peer did; each cause is printed once; endpoints with credentials are refused and never
//!   echoed (see [`Endpoint`]).
//!
//! Every RPC of both services is a method of [`Client`] taking and returning `cri_api_v1` types
//! (`Exec`, `Attach` and `PortForward`, which only return a URL, are `exec_url`, `attach_url`
//! and `port_forward_url`: the names without `_url` open the session).
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

//!
//! # Exec, attach and port forward in one call
//!
//! With feature `streaming`, [`Client::exec`] asks the runtime for the session (`Exec`) and
//! opens it at the URL it answers, with [`cri-streaming`](https://docs.rs/cri-streaming)'s
//! client (SPDY/3.1 by default, as crictl; WebSocket on request): stdin, stdout, stderr,
//! terminal resizes and the exit code are on the returned `session::ExecSession`.
//! [`Client::attach`] and [`Client::port_forward`] work the same way. The whole of it, against
//! the fake runtime here; five lines after the connect (against containerd they are the same,
//! as `tests/tests/client_containerd.rs` shows):
//!
//! ```
//! # #[cfg(feature = "streaming")]
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let dir = tempfile::tempdir()?;
//! # let runtime = cri_fake::FakeRuntime::new();
//! # let id = runtime.seed(1, 1).container_ids[0].clone();
//! # let fake = runtime.serve_unix(dir.path().join("cri.sock")).await?;
//! # let endpoint = fake.endpoint();
//! use tokio::io::{AsyncReadExt, AsyncWriteExt};
//!
//! let client = cri_client::Client::builder(endpoint).connect().await?;
//! // Run a command to its end: stdin in; stdout ("hi\n"), stderr and the exit code (3) out.
//! let output = client.exec(&id, ["sh", "-c", "cat; exit 3"]).output(b"hi\n").await?;
//! # assert_eq!((output.stdout.as_slice(), output.exit_code), (&b"hi\n"[..], 3));
//! // Or interactively, on a terminal.
//! let mut session = client.exec(&id, ["sh"]).stdin(true).tty(true).start().await?;
//! session.resizer().unwrap().resize(120, 40).await?;
//! session.stdin.take().unwrap().write_all(b"echo hello; exit 7\n").await?;
//! # let mut out = String::new();
//! # session.stdout.take().unwrap().read_to_string(&mut out).await?;
//! # assert_eq!(out, "hello\n");
//! assert_eq!(session.wait().await?, 7); // the end of stdin, then the exit code
//! # Ok(()) }
//! # #[cfg(not(feature = "streaming"))]
//! # fn main() {}
//! ```
//!
//! Without the feature, [`session::ExecBuilder::url`] returns the URL for a streaming client
//! of your choice.
//!
//! # Deadlines
//!
//! All the rules live in one module (`src/deadline.rs`); in short:
//!
//! - [`ClientBuilder::connect`] as a whole (dialling, the HTTP/2 handshake and the version
//!   check) is bounded by [`ClientBuilder::connect_timeout`] (default 10 s): against a socket
//!   that accepts and never answers, `connect_timeout(Duration::from_secs(2))` fails after
//!   about 2 s with [`Error::DeadlineExceeded`] naming the endpoint.
//! - Each call is bounded by [`ClientBuilder::timeout`] (default 2 minutes), and a list
//!   through `Stream*` by one such deadline for the whole stream, except where the kubelet
//!   says otherwise ([`ClientBuilder::kubelet_deadlines`], on by default): `RunPodSandbox`
//!   twice that, `StopContainer` its grace period more, `ExecSync` its own timeout more (none
//!   when that is 0), `CheckpointContainer` its own timeout when longer, `PullImage` none. The `stream_*` methods and `get_container_events`
//!   have none.
//! - The runtime is told each deadline as `grpc-timeout`, also through the v1alpha2 adapter.
//! - Whoever notices the deadline first (this client, tonic's channel, the runtime), the
//!   error is [`Error::DeadlineExceeded`], and [`Error::code`] is `DEADLINE_EXCEEDED`.
//!
//! # Features
//!
//! - `serde`: turns on `cri-api-v1/serde`, proto3 JSON for every message, so a program that
//!   depends only on this crate can print what it receives (`serde_json::to_string(&response)`).
//! - `streaming`: `start` and `output` on [`Client::exec`], [`Client::attach`] and
//!   [`Client::port_forward`] (adds `cri-streaming`'s client).
//! - `otel`: the `otel` module: the RPC spans exported over OTLP/gRPC
//!   (`opentelemetry-otlp`, `tracing-opentelemetry`) and each RPC's W3C trace context sent to
//!   the runtime in the request's metadata; `OtelConfig` takes crictl's tracing flags.
//!
//! Without features the crate adds only `tracing` and `metrics` (two small facades) to what it
//! needs anyway; `otel` brings the OpenTelemetry SDK and its exporter.
//!
//! # Allocators: what a binary should do
//!
//! Decoding a large list is bound by the memory allocator, not by protobuf parsing: a
//! container is about 30 heap allocations (ids, image references, label and annotation keys and
//! values, map nodes), so a 10,000-container `ListContainersResponse` (9 MB) is about 300,000
//! allocations to decode and as many frees to drop. The workspace's own profile
//! (`benches/PROFILE.md`, glibc malloc, 2-core machine) puts half of the decode time in
//! `malloc`/`free`, a tenth in parsing proper, and measured:
//!
//! | 10,000 containers, decode + drop | time | MB/s |
//! |---|---:|---:|
//! | glibc malloc (the default on Linux) | 79 ms | 115 |
//! | `mimalloc` as the global allocator | 41 ms | 220 |
//!
//! Measured again for this note (release build, the same payload, median of 41 decodes, 5
//! runs, the 2 cores shared with other builds): glibc 52–57 ms, glibc with
//! `GLIBC_TUNABLES=glibc.malloc.trim_threshold=1073741824:glibc.malloc.top_pad=268435456`
//! (fewer page faults: freed memory is kept rather than returned to the kernel) 36–41 ms,
//! `mimalloc` 24–25 ms: **mimalloc is 2.2× faster than glibc's default**, 2–2.5× over the
//! runs of both measurements.
//!
//! A library cannot choose the allocator; **a binary that lists many containers (a node agent,
//! a crictl-like tool) should set a global allocator**, for example with the `mimalloc` crate:
//!
//! ```text
//! // main.rs of the binary, with `mimalloc` in its [dependencies]
//! #[global_allocator]
//! static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;
//! ```
//!
//! (`jemallocator` is the other common choice.) Nothing else changes: the types and the calls
//! are the same. Where the binary cannot be changed, the glibc tunables above recover part of
//! the difference. Streaming the list ([`ClientBuilder::list_streaming`]) does not make the
//! decode cheaper, but bounds each message to a page.

#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

mod builder;
mod call;
mod deadline;
mod dial;
mod endpoint;
mod error;
mod failure;
mod logreduce;
mod negotiate;
pub mod observe;
#[cfg(feature = "otel")]
#[cfg_attr(docsrs, doc(cfg(feature = "otel")))]
pub mod otel;
pub mod session;
mod validate;

pub use builder::ClientBuilder;
pub use endpoint::Endpoint;
pub use error::{Error, ListStreaming, Peer, RefusedBy};

use deadline::{Deadline, Due, request};
use logreduce::LogReduction;
use negotiate::{Backend, Connection};
use observe::Op;

#[allow(clippy::needless_question_mark)]
mod generated {
    include!("generated/methods.rs");
}

pub use cri_api_v1;
pub use tonic;

/// The README's examples, compiled as doctests.
#[cfg(all(doctest, feature = "streaming"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

/// A stream of responses of a server-streaming RPC.
pub type BoxStream<T> = tonic::codegen::BoxStream<T>;

/// The kubelet's limit for messages in both directions: 16 MiB.
pub const DEFAULT_MAX_MESSAGE_SIZE: usize = 16 * 1024 * 1024;
/// The kubelet's default deadline of a CRI call.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);
/// How long connecting (dialling and the version check) may take by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How often an identical error of the same RPC for the same container is logged by default:
/// once a minute, as the kubelet.
pub const DEFAULT_IDENTICAL_ERROR_LOG_PERIOD: Duration = Duration::from_secs(60);

/// Size limits applied to every call.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_response: usize,
    pub(crate) max_request: usize,
}

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

impl List {
    /// The service the list belongs to.
    fn service(self) -> Service {
        match self {
            List::Images => Service::Image,
            _ => Service::Runtime,
        }
    }

    /// The list whose unary RPC is `rpc` (`Service/Method`), if any.
    fn of_unary_rpc(rpc: &str) -> Option<List> {
        Some(match rpc.rsplit('/').next()? {
            "ListPodSandbox" => List::PodSandboxes,
            "ListContainers" => List::Containers,
            "ListContainerStats" => List::ContainerStats,
            "ListPodSandboxStats" => List::PodSandboxStats,
            "ListPodSandboxMetrics" => List::PodSandboxMetrics,
            "ListImages" => List::Images,
            _ => return None,
        })
    }
}

/// Called while a list stream is being collected: the RPC (`Service/Method`) and the number
/// of items received so far.
pub type ListProgress = Arc<dyn Fn(&'static str, usize) + Send + Sync>;

/// A client of one runtime: see the crate docs.
pub struct Client {
    runtime: Connection,
    image: Option<Connection>,
    list_streaming: bool,
    timeout: Duration,
    kubelet_deadlines: bool,
    validate_responses: bool,
    log_reduction: LogReduction,
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
            .field("kubelet_deadlines", &self.kubelet_deadlines)
            .field("validate_responses", &self.validate_responses)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Starts configuring a client of the runtime at `runtime_endpoint` (see [`Endpoint`] for
    /// the accepted forms).
    pub fn builder(runtime_endpoint: impl Into<String>) -> ClientBuilder {
        ClientBuilder::new(runtime_endpoint.into())
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
}
