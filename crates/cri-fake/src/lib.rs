//! An in-memory fake of a Kubernetes CRI runtime, for tests.
//!
//! [`FakeRuntime`] implements the `runtime.v1` [`RuntimeService`] and [`ImageService`] of
//! [`cri_api_v1`] over state kept in memory behind a lock: pod sandboxes, containers and images
//! that go through the lifecycle a real runtime gives them, events for
//! `GetContainerEvents` subscribers, deterministic statistics and `ExecSync` output.
//! [`FakeRuntime::serve_unix`] serves it on a real Unix socket, as a kubelet would find a
//! runtime, and hands back a [`ServerHandle`] that shuts it down. It plays the part of the fake
//! services that upstream's Go module ships for tests, for Rust clients, CRI proxies and node
//! tools. The `cri-fake` binary of this crate serves it for test suites in any language
//! (`cri-fake --socket PATH`; see the README).
//!
//! [`RuntimeService`]: cri_api_v1::runtime_service_server::RuntimeService
//! [`ImageService`]: cri_api_v1::image_service_server::ImageService
//!
//! # Example
//!
//! ```
//! use cri_api_v1::runtime_service_client::RuntimeServiceClient;
//! use cri_api_v1::{ListContainersRequest, StreamContainersRequest};
//! use cri_fake::FakeRuntime;
//! use tonic::transport::Endpoint;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = FakeRuntime::builder().page_size(4).build();
//! let seeded = runtime.seed(3, 2); // 3 ready pods with 2 running containers each
//! assert_eq!(seeded.container_ids.len(), 6);
//!
//! let socket = std::env::temp_dir().join(format!("cri-fake-doc-{}.sock", std::process::id()));
//! let server = runtime.serve_unix(&socket).await?;
//!
//! let channel = Endpoint::from_shared(format!("unix://{}", socket.display()))?
//!     .connect()
//!     .await?;
//! let mut client = RuntimeServiceClient::new(channel);
//! let listed = client
//!     .list_containers(ListContainersRequest::default())
//!     .await?
//!     .into_inner()
//!     .containers;
//! assert_eq!(listed.len(), 6);
//!
//! // The Stream* RPCs page the same data: here 2 pages of at most 4 containers.
//! let mut stream = client
//!     .stream_containers(StreamContainersRequest::default())
//!     .await?
//!     .into_inner();
//! let mut streamed = Vec::new();
//! while let Some(page) = stream.message().await? {
//!     streamed.extend(page.containers);
//! }
//! assert_eq!(streamed, listed);
//!
//! server.shutdown().await?;
//! # Ok(()) }
//! ```
//!
//! # Behaviour
//!
//! - **Pods.** `RunPodSandbox` needs `config.metadata` and creates a `SANDBOX_READY` pod with
//!   a new 64-hex id and the config's labels and annotations. `StopPodSandbox` exits every
//!   container of the pod and makes it `SANDBOX_NOTREADY`; `RemovePodSandbox` removes the pod
//!   and its containers. Both are idempotent, as the CRI asks: an unknown id is not an error.
//! - **Containers.** `CreateContainer` needs a ready pod and an image the fake knows (see
//!   below) and gives a `CONTAINER_CREATED` container. `StartContainer` makes it
//!   `CONTAINER_RUNNING`, creates its log at the pod's `log_directory` joined with its
//!   `log_path` (when both are set; `ContainerStatus.log_path` reports that joined path, as
//!   containerd does, so a client such as `crictl logs` can open it), and runs its `command` + `args` through the runtime's
//!   [`command::CommandHandler`]: what the command prints goes to the log in the CRI log
//!   format ([`cri_log`]: RFC 3339 nanosecond timestamps, `stdout`/`stderr`, lines longer
//!   than 16 KiB split into partial `P` lines, output without a final newline as a `P` line;
//!   with `tty` everything is `stdout`, as on a terminal),
//!   and when it ends the container is `CONTAINER_EXITED` with its exit code and reason
//!   `Completed` (0) or `Error`. A container created with `stdin` has an open stdin that
//!   nothing writes to, so that `sh` or `cat` wait as in a real runtime. Its status reports the user its processes run as
//!   (`run_as_user`/`run_as_group`, else the image's numeric user, else root). A container without a command runs until stopped, printing
//!   nothing (like `pause`). `StopContainer` makes it `CONTAINER_EXITED`: exit code 137 and
//!   reason `Error` if its command was still running (it is killed), else 0 and `Completed`.
//!   `ReopenContainerLog` reopens the log file at its path (after a rotation renamed it;
//!   buffered output carries over); it needs a running container, as containerd does.
//!   `RemoveContainer` removes it (killing its command). Stop and remove are idempotent: an
//!   unknown id is not an error, as the CRI asks. Starting a container that is not created,
//!   or exec'ing into one that is not running, is `FAILED_PRECONDITION`; an unknown id in a
//!   status, stats or exec RPC is `NOT_FOUND`. Ids may be given in full or as a unique
//!   prefix.
//! - **Lists and streams.** The list RPCs apply their filters (id or id prefix, state, pod,
//!   label selector) and return items in id order. Each `Stream*` RPC sends the very items its
//!   unary list returns, in pages of at most [`FakeRuntimeBuilder::page_size`] items, and no
//!   message at all for an empty result (upstream wants pages of at least one item). Built with
//!   [`FakeRuntimeBuilder::without_stream_rpcs`], the fake behaves like a runtime older than
//!   Kubernetes 1.36 and answers every `Stream*` RPC with `UNIMPLEMENTED`.
//! - **Events.** Creating, starting, stopping and removing a container (or running, stopping
//!   and removing a pod, with the pod id as `container_id`) broadcasts a
//!   `ContainerEventResponse`, with the pod's status and its containers' statuses, to every
//!   `GetContainerEvents` stream open at that time. A subscriber that falls more than
//!   [`FakeRuntimeBuilder::event_capacity`] events or [`EVENT_BUFFER_BYTES`] (8 MiB) behind
//!   gets `DATA_LOSS` and its stream ends, so that it relists, as the kubelet does: an idle
//!   subscriber costs at most that much, however large the events (in a pod of thousands of
//!   containers one event is megabytes). [`FakeRuntime::seed`] broadcasts nothing.
//! - **`ExecSync`** runs its command through the container's commands (its model over
//!   [`command::Builtins`], behind the user's [`FakeRuntimeBuilder::command_handler`] if any:
//!   `echo`, `printf`, `cat`, `sh -c '…'`, `sleep`, `env`, `exit N`, …; an unknown command
//!   prints `NAME: not found` on stderr and exits 127), with the container's environment
//!   (`PATH`, `HOSTNAME`, its `envs`, `HOME`). Its `timeout` (and the client's deadline) is
//!   honoured: a command that outlives it is stopped and the call fails with
//!   `DEADLINE_EXCEEDED`. Output is capped at [`command::CAPTURE_LIMIT`] (16 MiB less 64
//!   bytes) for both streams together, so that the answer fits the 16 MiB message limit.
//! - **`Exec`, `Attach`, `PortForward`** check their target and answer a URL of the fake's
//!   streaming server (WebSocket and SPDY/3.1, see [`streaming`]): exec runs the command
//!   through the [`command::CommandHandler`], attach runs the container's own command on the
//!   client's streams, port forward goes to the pod's port when a container of the pod listens
//!   there, else to a [`streaming::PortForwardHandler`] (an in-process echo by default).
//! - **The container model.** Each container's commands see a model of it: its user and
//!   groups (security context, image), its files (`/etc/resolv.conf` from the pod's DNS
//!   config, `/etc/hosts`, `/etc/hostname`, `/proc/sys/*` from sysctls, mounts through their
//!   host paths, a read-only root, masked and read-only paths), its capabilities and seccomp
//!   profile, a process table, and its pod's own address in 127.0.0.0/8 (the pod IP), where
//!   the web servers of the validation suite's images (nginx, httpd) listen, and the host
//!   ports of the pod's port mappings on 127.0.0.1. `sh` runs every command of a script
//!   through the container's handler. See the README for the commands and the critest table.
//! - **Statistics** are computed from the ids and the running time, so that repeated calls
//!   give plausible, increasing CPU counters.
//! - **Images.** A new fake knows `registry.k8s.io/pause:3.10` (pinned) and
//!   `docker.io/library/busybox:1.36` (unless built with
//!   [`FakeRuntimeBuilder::default_images`]`(false)`). `PullImage` (which takes
//!   [`DEFAULT_PULL_DELAY`] unless told otherwise) adds any image (names are
//!   normalized: `busybox` is `docker.io/library/busybox:latest`). An image is one image under
//!   all the references it was pulled by: the references of one [`ImageConfig`] of the
//!   fake's registry ([`FakeRuntimeBuilder::image`]; it starts with the images of the CRI
//!   validation suite, such as `test-image-tags:1`/`:2`/`:3`), and the same path in two
//!   registries, share one id and collect their tags in `repo_tags`. Images resolve by id,
//!   short id, tag or digest; `RemoveImage` by any of them removes the image, every tag, and
//!   is idempotent. `ImageStatus` of an unknown image answers an empty response, as the CRI
//!   asks; it reports `uid` or `username` from the image config's user. With
//!   [`FakeRuntimeBuilder::pull_delay`] a pull takes that long, and one whose deadline is
//!   shorter fails with `DEADLINE_EXCEEDED`.
//! - **Every gRPC client is served**, gRPC C-core ones (Python's grpcio, for one) on a
//!   default channel too: they send the socket's path as the HTTP/2 `:authority` of a
//!   `unix:` target, which h2 (tonic's HTTP/2) refuses, and [`FakeRuntime::serve_unix`]
//!   repairs it as it reads ([`cri_api_v1::unix_server`]). A server of your own built from
//!   [`FakeRuntime::services`] does the same if it accepts with
//!   [`cri_api_v1::unix_server::UnixIncoming`].
//! - **Limits, as containerd's.** Messages of up to [`MAX_MESSAGE_SIZE`] (16 MiB) both ways;
//!   a command of `ExecSync`, a container's process, a streaming exec yield to the server
//!   now and then even when their output is always accepted ([`command`]), so that one
//!   endless command neither freezes the other requests nor outlives its timeout.
//! - **`Status`** reports `RuntimeReady` and `NetworkReady`; `Version` answers
//!   `runtime_api_version: "v1"`; `RuntimeConfig` reports the systemd cgroup driver.

#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use cri_api_v1::image_service_server::ImageServiceServer;
use cri_api_v1::runtime_service_server::RuntimeServiceServer;
use tokio::sync::watch;

pub use cri_api_v1;

mod builder;
mod catalog;
pub mod command;
mod event_hub;
mod ids;
mod image;
mod model;
mod persist;
mod process;
pub mod replay;
mod runtime;
mod serve;
mod state;
pub mod streaming;

pub use builder::{DEFAULT_PULL_DELAY, FakeRuntimeBuilder};
pub use catalog::ImageConfig;
pub use event_hub::EVENT_BUFFER_BYTES;
pub use persist::{StateError, StateLock};
pub use serve::ServerHandle;

/// The largest message the fake's services receive or send: 16 MiB, as containerd and CRI-O
/// (and the kubelet's client) take, where tonic's default is 4 MiB.
pub const MAX_MESSAGE_SIZE: usize = 16 << 20;

/// The name [`FakeRuntime`] reports in `Version` unless told otherwise.
pub const RUNTIME_NAME: &str = "cri-fake";

/// The fake runtime: a cheap handle (clones share the same state) that implements the
/// `runtime.v1` `RuntimeService` and `ImageService`.
///
/// Serve it with [`FakeRuntime::serve_unix`], or add the services of
/// [`FakeRuntime::services`] to a tonic server of your own.
#[derive(Clone)]
pub struct FakeRuntime {
    inner: Arc<Inner>,
    /// Set by [`FakeRuntime::serve_unix`]: ends the event streams when the server shuts down.
    shutdown: Option<watch::Receiver<bool>>,
}

struct Inner {
    state: RwLock<state::State>,
    events: event_hub::EventHub,
    next_id: AtomicU64,
    /// Bumped by each write lock: see [`FakeRuntime::generation`].
    generation: AtomicU64,
    options: FakeRuntimeBuilder,
    streaming: streaming::Streaming,
}

impl fmt::Debug for FakeRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.read();
        f.debug_struct("FakeRuntime")
            .field("pods", &state.pods.len())
            .field("containers", &state.containers.len())
            .field("images", &state.images.len())
            .field("options", &self.inner.options)
            .finish()
    }
}

impl Default for FakeRuntime {
    fn default() -> Self {
        Self::new()
    }
}

/// What [`FakeRuntime::seed`] created.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Seeded {
    /// The ids of the new pod sandboxes, in creation order.
    pub pod_ids: Vec<String>,
    /// The ids of the new containers, in creation order (those of the first pod first).
    pub container_ids: Vec<String>,
}

impl FakeRuntime {
    /// A runtime with the default options and no pods.
    pub fn new() -> Self {
        FakeRuntimeBuilder::default().build()
    }

    /// Options for a new runtime.
    pub fn builder() -> FakeRuntimeBuilder {
        FakeRuntimeBuilder::default()
    }

    /// Adds `pods` ready pod sandboxes with `containers_per_pod` running containers each, built
    /// outside the lock and inserted under one write lock (about 27 µs per container in a debug
    /// build, much less optimized), with the labels and annotations the kubelet sets (`io.kubernetes.pod.name`, `io.kubernetes.pod.namespace`,
    /// `io.kubernetes.pod.uid`, `io.kubernetes.container.name`, …). Broadcasts no event.
    /// Each container has a CRI log of a few lines under the temporary directory (the pods'
    /// `log_directory` is `$TMPDIR/cri-fake-pods/NAMESPACE_NAME_UID`), written the first
    /// time its status is asked for, so that `crictl logs` works on it.
    pub fn seed(&self, pods: usize, containers_per_pod: usize) -> Seeded {
        let now = state::now();
        let image = state::normalize_image("docker.io/library/busybox:1.36");
        let image_id = state::image_id_of(&image, self.catalog_entry(&image));
        let mut seeded = Seeded {
            pod_ids: Vec::with_capacity(pods),
            container_ids: Vec::with_capacity(pods * containers_per_pod),
        };
        let mut new_pods = Vec::with_capacity(pods);
        let mut new_containers = Vec::with_capacity(pods * containers_per_pod);
        for _ in 0..pods {
            let n = self.next_serial();
            let pod = state::Pod::seeded(self.new_id(), n, now);
            for c in 0..containers_per_pod {
                let ctr = state::Ctr::seeded(self.new_id(), &pod, c, &image, &image_id, now);
                seeded.container_ids.push(ctr.id.clone());
                new_containers.push(ctr);
            }
            seeded.pod_ids.push(pod.id.clone());
            new_pods.push(pod);
        }
        let mut state = self.write();
        state.add_image(&image, 2_167_176, false, self.catalog_entry(&image));
        state
            .pods
            .extend(new_pods.into_iter().map(|p| (p.id.clone(), p)));
        state
            .containers
            .extend(new_containers.into_iter().map(|c| (c.id.clone(), c)));
        seeded
    }

    /// Makes the runtime know an image (as if pulled), by its name (normalized as Docker does:
    /// `busybox` is `docker.io/library/busybox:latest`), with the given size in bytes (unless
    /// its [`ImageConfig`] says). Returns the image id (`sha256:…`, derived from the image's
    /// identity: see [`ImageConfig`]).
    pub fn add_image(&self, name: &str, size: u64, pinned: bool) -> String {
        let name = state::normalize_image(name);
        let config = self.catalog_entry(&name);
        self.write().add_image(&name, size, pinned, config)
    }

    /// The number of pod sandboxes, in any state.
    pub fn pod_count(&self) -> usize {
        self.read().pods.len()
    }

    /// The number of containers, in any state.
    pub fn container_count(&self) -> usize {
        self.read().containers.len()
    }

    /// The number of images.
    pub fn image_count(&self) -> usize {
        self.read().images.len()
    }

    /// The runtime's two tonic services, for a server of your own.
    pub fn services(
        &self,
    ) -> (
        RuntimeServiceServer<FakeRuntime>,
        ImageServiceServer<FakeRuntime>,
    ) {
        (
            RuntimeServiceServer::new(self.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
            ImageServiceServer::new(self.clone())
                .max_decoding_message_size(MAX_MESSAGE_SIZE)
                .max_encoding_message_size(MAX_MESSAGE_SIZE),
        )
    }

    /// Serves both services on a new Unix socket at `path` (which must not exist), on the
    /// current tokio runtime, until the returned handle is shut down or dropped. Must be
    /// called from within a tokio runtime.
    pub async fn serve_unix(&self, path: impl AsRef<Path>) -> std::io::Result<ServerHandle> {
        serve::serve_unix(self, path.as_ref()).await
    }

    fn read(&self) -> RwLockReadGuard<'_, state::State> {
        self.inner
            .state
            .read()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, state::State> {
        self.inner.generation.fetch_add(1, Ordering::Relaxed);
        self.inner
            .state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
    }

    fn next_serial(&self) -> u64 {
        self.inner.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn new_id(&self) -> String {
        ids::object_id(self.next_serial())
    }

    fn options(&self) -> &FakeRuntimeBuilder {
        &self.inner.options
    }
}

/// Labels of a seeded or created object, for the label selectors of the list RPCs.
type Labels = BTreeMap<String, String>;

fn labels_match(labels: &Labels, selector: &Labels) -> bool {
    selector.iter().all(|(k, v)| labels.get(k) == Some(v))
}
