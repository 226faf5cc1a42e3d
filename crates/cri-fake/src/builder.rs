//! [`FakeRuntimeBuilder`]: the options of a new [`FakeRuntime`] and how it is built.

use std::fmt;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, RwLock};

use crate::{FakeRuntime, ImageConfig, Inner, RUNTIME_NAME, catalog, command, state, streaming};

/// How long a pull takes unless [`FakeRuntimeBuilder::pull_delay`] says otherwise: a registry
/// is never instant, and a pull with a shorter deadline fails as it would against one.
pub const DEFAULT_PULL_DELAY: std::time::Duration = std::time::Duration::from_millis(5);

/// Configures a [`FakeRuntime`]; made by [`FakeRuntime::builder`].
#[derive(Clone)]
pub struct FakeRuntimeBuilder {
    pub(crate) commands: Arc<dyn command::CommandHandler>,
    /// Whether `commands` is the user's (not the built-ins): the container model then sends
    /// every command to it.
    pub(crate) custom_commands: bool,
    pub(crate) stream_rpcs: bool,
    pub(crate) page_size: usize,
    event_capacity: usize,
    pub(crate) runtime_name: String,
    pub(crate) runtime_version: String,
    default_images: bool,
    pub(crate) streaming_config: cri_streaming::server::Config,
    pub(crate) port_forward: Arc<dyn streaming::PortForwardHandler>,
    pub(crate) catalog: Vec<ImageConfig>,
    pub(crate) pull_delay: std::time::Duration,
}

impl fmt::Debug for FakeRuntimeBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FakeRuntimeBuilder")
            .field("stream_rpcs", &self.stream_rpcs)
            .field("page_size", &self.page_size)
            .field("event_capacity", &self.event_capacity)
            .field("runtime_name", &self.runtime_name)
            .field("runtime_version", &self.runtime_version)
            .field("default_images", &self.default_images)
            .field("catalog", &self.catalog)
            .field("pull_delay", &self.pull_delay)
            .finish_non_exhaustive()
    }
}

impl Default for FakeRuntimeBuilder {
    fn default() -> Self {
        Self {
            commands: Arc::new(command::Builtins),
            custom_commands: false,
            stream_rpcs: true,
            page_size: 100,
            event_capacity: 1024,
            runtime_name: RUNTIME_NAME.to_string(),
            runtime_version: env!("CARGO_PKG_VERSION").to_string(),
            default_images: true,
            streaming_config: cri_streaming::server::Config::default(),
            port_forward: Arc::new(streaming::EchoPorts),
            catalog: catalog::critest_images(),
            pull_delay: DEFAULT_PULL_DELAY,
        }
    }
}

impl FakeRuntimeBuilder {
    /// Behave like a runtime older than Kubernetes 1.36 (containerd 1.x, for one): every
    /// `Stream*` RPC answers `UNIMPLEMENTED`, so that clients fall back to the unary lists.
    pub fn without_stream_rpcs(mut self) -> Self {
        self.stream_rpcs = false;
        self
    }

    /// The largest number of items in one message of a `Stream*` RPC (default 100; at least 1).
    pub fn page_size(mut self, items: usize) -> Self {
        self.page_size = items.max(1);
        self
    }

    /// How many events a slow `GetContainerEvents` subscriber may fall behind before its
    /// stream ends with `DATA_LOSS` (default 1024; at least 1). It may fall at most
    /// [`EVENT_BUFFER_BYTES`](crate::EVENT_BUFFER_BYTES) behind too, whatever the count.
    pub fn event_capacity(mut self, events: usize) -> Self {
        self.event_capacity = events.max(1);
        self
    }

    /// The `runtime_name` and `runtime_version` that `Version` reports (default
    /// [`RUNTIME_NAME`] and this crate's version).
    pub fn runtime_name(mut self, name: impl Into<String>, version: impl Into<String>) -> Self {
        self.runtime_name = name.into();
        self.runtime_version = version.into();
        self
    }

    /// Whether the new runtime knows the pause and busybox images from the start (default
    /// true).
    pub fn default_images(mut self, yes: bool) -> Self {
        self.default_images = yes;
        self
    }

    /// Adds an image to the fake's registry (what a pull of its references gives); see
    /// [`ImageConfig`]. The catalog starts with the images of the CRI validation suite
    /// (critest) whose tags and users its tests check.
    pub fn image(mut self, image: ImageConfig) -> Self {
        self.catalog.push(image);
        self
    }

    /// How long `PullImage` takes (default [`DEFAULT_PULL_DELAY`]; zero for instant pulls), to test pull deadlines: a pull whose
    /// client deadline (`grpc-timeout`) is shorter fails at once with `DEADLINE_EXCEEDED`
    /// (before the client's own timer, so that the client sees the server's status) and
    /// pulls nothing.
    pub fn pull_delay(mut self, delay: std::time::Duration) -> Self {
        self.pull_delay = delay;
        self
    }

    /// A handler asked first for every command a container runs: `ExecSync`, a started
    /// container's main process, the streaming `Exec`/`Attach`, and each command of an `sh`
    /// script among them (default: none, the container model over [`command::Builtins`]).
    /// It composes with the container model: what it passes on to [`command::Builtins`]
    /// (`Builtins.run(argv, io)`, for the commands it does not know) is answered by the
    /// container's own commands (`id`, `cat FILE`, `kill`, `nc`, `sh`, …) and then the
    /// built-ins. See [`command`].
    pub fn command_handler(mut self, handler: impl command::CommandHandler) -> Self {
        self.commands = Arc::new(handler);
        self.custom_commands = true;
        self
    }

    /// The settings of the streaming server behind `Exec`, `Attach` and `PortForward`
    /// (default: an ephemeral port of 127.0.0.1). See [`streaming`].
    pub fn streaming_config(mut self, config: cri_streaming::server::Config) -> Self {
        self.streaming_config = config;
        self
    }

    /// What forwarded ports connect to (default [`streaming::EchoPorts`]).
    pub fn port_forward_handler(mut self, handler: impl streaming::PortForwardHandler) -> Self {
        self.port_forward = Arc::new(handler);
        self
    }

    /// Makes the runtime.
    pub fn build(self) -> FakeRuntime {
        let events = crate::event_hub::EventHub::new(self.event_capacity);
        let runtime = FakeRuntime {
            inner: Arc::new(Inner {
                state: RwLock::new(state::State::default()),
                events,
                next_id: AtomicU64::new(1),
                generation: AtomicU64::new(0),
                options: self.clone(),
                streaming: streaming::Streaming::new(),
            }),
            shutdown: None,
        };
        if self.default_images {
            runtime.add_image("registry.k8s.io/pause:3.10", 321_538, true);
            runtime.add_image("docker.io/library/busybox:1.36", 2_167_176, false);
        }
        runtime
    }
}
