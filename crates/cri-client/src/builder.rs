//! [`ClientBuilder`]: the settings, and `connect`, which dials and negotiates each endpoint
//! under one `connect_timeout`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::deadline::Due;
use crate::endpoint::redact;
use crate::negotiate::open;
use crate::{
    Client, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDENTICAL_ERROR_LOG_PERIOD, DEFAULT_MAX_MESSAGE_SIZE,
    DEFAULT_TIMEOUT, Endpoint, Error, Limits, ListProgress, LogReduction, Service, VersionPolicy,
};

/// Configures and connects a [`Client`].
#[derive(Clone)]
pub struct ClientBuilder {
    runtime_endpoint: String,
    image_endpoint: Option<String>,
    policy: VersionPolicy,
    list_streaming: bool,
    timeout: Duration,
    connect_timeout: Duration,
    kubelet_deadlines: bool,
    validate_responses: bool,
    identical_error_log_period: Duration,
    limits: Limits,
    progress: Option<ListProgress>,
}

/// Endpoints are shown with any user info redacted (they are refused at `connect`, but the
/// builder holds them as written until then).
impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("runtime_endpoint", &redact(&self.runtime_endpoint))
            .field(
                "image_endpoint",
                &self.image_endpoint.as_deref().map(redact),
            )
            .field("policy", &self.policy)
            .field("list_streaming", &self.list_streaming)
            .field("timeout", &self.timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("kubelet_deadlines", &self.kubelet_deadlines)
            .field("validate_responses", &self.validate_responses)
            .field(
                "identical_error_log_period",
                &self.identical_error_log_period,
            )
            .finish_non_exhaustive()
    }
}

impl ClientBuilder {
    pub(crate) fn new(runtime_endpoint: String) -> Self {
        ClientBuilder {
            runtime_endpoint,
            image_endpoint: None,
            policy: VersionPolicy::default(),
            list_streaming: false,
            timeout: DEFAULT_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            kubelet_deadlines: true,
            validate_responses: true,
            identical_error_log_period: DEFAULT_IDENTICAL_ERROR_LOG_PERIOD,
            limits: Limits {
                max_response: DEFAULT_MAX_MESSAGE_SIZE,
                max_request: DEFAULT_MAX_MESSAGE_SIZE,
            },
            progress: None,
        }
    }

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
    /// none, ...: see [`kubelet_deadlines`](Self::kubelet_deadlines)). See
    /// [Deadlines](crate#deadlines).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Whether RPCs get the kubelet's own deadlines (default: on): `RunPodSandbox` twice the
    /// timeout; `StopContainer` its grace period plus the timeout; `ExecSync` its `timeout`
    /// plus the timeout, none when its `timeout` is 0; `CheckpointContainer` its `timeout` when
    /// longer than the timeout; `PullImage` none (cancel it by dropping the future). Off, every unary call gets [`timeout`](Self::timeout) alone.
    pub fn kubelet_deadlines(mut self, on: bool) -> Self {
        self.kubelet_deadlines = on;
        self
    }

    /// Whether responses are checked as the kubelet checks them (default: on). A response
    /// lacking a required field is then [`Error::InvalidResponse`], naming the fields:
    ///
    /// | RPC | required |
    /// |---|---|
    /// | `Version` | `version`, `runtime_name`, `runtime_version`, `runtime_api_version` |
    /// | `Status` | `status` with at least two `conditions` (the kubelet's `RuntimeReady` and `NetworkReady`) |
    /// | `RunPodSandbox` | `pod_sandbox_id` |
    /// | `CreateContainer` | `container_id` |
    /// | `PodSandboxStatus` | if a status is returned: `id`, `metadata` with `name`, `namespace` and `uid`, `created_at` |
    /// | `ContainerStatus` | if a status is returned: `id`, `metadata` with `name`, `created_at`, `image.image`, `image_ref` |
    /// | `ImageStatus` | if an image is returned: `id`, `size` |
    /// | `PullImage` | `image_ref` |
    /// | `Exec`, `Attach`, `PortForward` | `url` |
    ///
    /// The version check while connecting accepts any answer, as the kubelet's does.
    pub fn validate_responses(mut self, on: bool) -> Self {
        self.validate_responses = on;
        self
    }

    /// How often an identical failure of the same RPC for the same container or sandbox is
    /// logged (default: once a minute, as the kubelet; `Duration::ZERO` logs every one). See
    /// [`observe`](crate::observe#logs).
    pub fn identical_error_log_period(mut self, period: Duration) -> Self {
        self.identical_error_log_period = period;
        self
    }

    /// How long [`connect`](Self::connect) may take as a whole, dialling and the version check
    /// included (default 10 s); it also bounds each later re-dial. See
    /// [Deadlines](crate#deadlines).
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

    /// Connects to the endpoint(s) and negotiates the CRI version of each, all within
    /// `connect_timeout`.
    pub async fn connect(self) -> Result<Client, Error> {
        let runtime_endpoint: Endpoint = self.runtime_endpoint.parse()?;
        let image_endpoint: Option<Endpoint> =
            self.image_endpoint.as_deref().map(str::parse).transpose()?;
        let due = Due::start(self.connect_timeout);
        let open_at = |endpoint, service| {
            open(
                endpoint,
                service,
                self.policy,
                self.limits,
                self.connect_timeout,
                due,
            )
        };
        let runtime = open_at(runtime_endpoint.clone(), Service::Runtime).await?;
        let image = match image_endpoint {
            Some(endpoint) if endpoint != runtime_endpoint => {
                Some(open_at(endpoint, Service::Image).await?)
            }
            _ => None,
        };
        Ok(Client {
            runtime,
            image,
            list_streaming: self.list_streaming,
            timeout: self.timeout,
            kubelet_deadlines: self.kubelet_deadlines,
            validate_responses: self.validate_responses,
            log_reduction: LogReduction::new(self.identical_error_log_period),
            limits: self.limits,
            progress: self.progress,
            streams_unsupported: Default::default(),
        })
    }
}
