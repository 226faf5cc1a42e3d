//! Exec, attach and port forward in one call: [`Client::exec`], [`Client::attach`] and
//! [`Client::port_forward`] build the request, and with the `streaming` feature `start` asks
//! the runtime for the URL and opens the session there with `cri-streaming`'s client.
//!
//! Without the feature, [`ExecBuilder::url`] (and the same on the other builders) returns the
//! URL for a streaming client of your choice; the bare RPCs are [`Client::exec_url`],
//! [`Client::attach_url`] and [`Client::port_forward_url`].
//!
//! The transport is SPDY/3.1 by default, as crictl's: a URL is single-use, and upstream's
//! streaming server (containerd, CRI-O) spends it on a refused WebSocket attempt.
//!
//! # Compared with kube-rs and Go's cri-client
//!
//! | | this crate | kube-rs `Api::<Pod>::exec` | Go `k8s.io/cri-client` |
//! |---|---|---|---|
//! | calls | one: `client.exec(id, cmd).stdin(true).tty(true).start()` | one: `pods.exec(name, cmd, &AttachParams)` | two: `Exec(ctx, req)` for the URL, then client-go's `remotecommand` executor `StreamWithContext` |
//! | target | a container id, through the runtime | a pod (and container name), through the API server | a container id, through the runtime |
//! | options | builder methods on the call | an `AttachParams` value | fields of `ExecRequest`, then `StreamOptions` |
//! | streams | handles the session hands out (`session.stdin.take()`, ...) | handles (`stdin()`, `stdout()`, ...) | readers and writers the caller passes in |
//! | terminal size | `Resizer::resize` | a channel from `terminal_size()` | a `TerminalSizeQueue` the caller implements |
//! | exit | `ExecSession::wait` gives the exit code; an error only when no command ran | `take_status()` gives a Kubernetes `Status` to decode | an error carrying the code (`CodeExitError`) |
//! | run to the end | `ExecBuilder::output` (stdout, stderr, exit code) | by hand | `ExecSync`, the unary RPC (here `Client::exec_sync`) |
//! | transport | SPDY/3.1, or WebSocket (v5, v4) | WebSocket | SPDY (WebSocket with fallback in newer client-go) |
//! | port forward | `client.port_forward(pod, ports).start()`, a stream per connection or a local listener | `Api::portforward`, a stream per port | `PortForward` for the URL, then client-go's `portforward` |
//! | a URL the runtime left empty | [`Error::InvalidResponse`] naming `url` | n/a | an error, `URL is not set` |

use cri_api_v1 as v1;

use crate::{Client, Error};

#[cfg(feature = "streaming")]
pub use cri_streaming::client::{
    ExecSession, Output, PortConnection, PortForward, Resizer, SessionReader, SessionWriter,
    Transport,
};
#[cfg(feature = "streaming")]
use std::time::Duration;

#[cfg(feature = "streaming")]
use cri_streaming::client::{ExecOptions, PortForwardOptions};

/// How long connecting to the streaming server and the upgrade may take by default.
#[cfg(feature = "streaming")]
const SESSION_CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// The session options that are not part of the request.
#[cfg(feature = "streaming")]
#[derive(Debug, Clone, Copy)]
struct Connect {
    transport: Transport,
    timeout: Duration,
}

#[cfg(feature = "streaming")]
impl Default for Connect {
    fn default() -> Self {
        Connect {
            transport: Transport::Spdy,
            timeout: SESSION_CONNECT_TIMEOUT,
        }
    }
}

impl Client {
    /// Runs `cmd` in the container `container_id`: stdout and stderr, no stdin, no terminal
    /// unless the builder says otherwise. With the `streaming` feature,
    /// `start` returns the running session and
    /// `output` runs it to the end.
    pub fn exec<S: Into<String>>(
        &self,
        container_id: impl Into<String>,
        cmd: impl IntoIterator<Item = S>,
    ) -> ExecBuilder<'_> {
        ExecBuilder {
            client: self,
            request: v1::ExecRequest {
                container_id: container_id.into(),
                cmd: cmd.into_iter().map(Into::into).collect(),
                tty: false,
                stdin: false,
                stdout: true,
                stderr: true,
            },
            #[cfg(feature = "streaming")]
            connect: Connect::default(),
        }
    }

    /// Attaches to the running process of the container `container_id`: stdout and stderr,
    /// no stdin, no terminal unless the builder says otherwise.
    pub fn attach(&self, container_id: impl Into<String>) -> AttachBuilder<'_> {
        AttachBuilder {
            client: self,
            request: v1::AttachRequest {
                container_id: container_id.into(),
                stdin: false,
                tty: false,
                stdout: true,
                stderr: true,
            },
            #[cfg(feature = "streaming")]
            connect: Connect::default(),
        }
    }

    /// Forwards `ports` of the pod `pod_sandbox_id`.
    pub fn port_forward(
        &self,
        pod_sandbox_id: impl Into<String>,
        ports: impl IntoIterator<Item = u16>,
    ) -> PortForwardBuilder<'_> {
        PortForwardBuilder {
            client: self,
            request: v1::PortForwardRequest {
                pod_sandbox_id: pod_sandbox_id.into(),
                port: ports.into_iter().map(i32::from).collect(),
            },
            #[cfg(feature = "streaming")]
            connect: Connect {
                transport: Transport::Auto,
                timeout: SESSION_CONNECT_TIMEOUT,
            },
        }
    }
}

/// Sets a flag of the request, by the name of its field.
macro_rules! flags {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        pub fn $name(mut self, on: bool) -> Self {
            self.request.$name = on;
            self
        }
    )*};
}

/// The options of the session that the request does not carry.
macro_rules! connect_options {
    () => {
        /// The transport (default: SPDY/3.1 for exec and attach, SPDY then WebSocket for
        /// port forward).
        #[cfg(feature = "streaming")]
        #[cfg_attr(docsrs, doc(cfg(feature = "streaming")))]
        pub fn transport(mut self, transport: Transport) -> Self {
            self.connect.transport = transport;
            self
        }

        /// How long connecting to the streaming server and the upgrade may take (default
        /// 30 s).
        #[cfg(feature = "streaming")]
        #[cfg_attr(docsrs, doc(cfg(feature = "streaming")))]
        pub fn connect_timeout(mut self, timeout: Duration) -> Self {
            self.connect.timeout = timeout;
            self
        }
    };
}

/// An exec being prepared: see [`Client::exec`].
#[derive(Debug)]
#[must_use = "an exec does nothing until started"]
pub struct ExecBuilder<'a> {
    client: &'a Client,
    request: v1::ExecRequest,
    #[cfg(feature = "streaming")]
    connect: Connect,
}

impl ExecBuilder<'_> {
    flags! {
        /// Sends stdin (default: no).
        stdin,
        /// Receives stdout (default: yes).
        stdout,
        /// Receives stderr (default: yes; never with a terminal).
        stderr,
    }

    /// Runs the command on a terminal (default: no); stdout and stderr are then one stream,
    /// so stderr is turned off, and the session can be resized.
    pub fn tty(mut self, on: bool) -> Self {
        self.request.tty = on;
        if on {
            self.request.stderr = false;
        }
        self
    }

    connect_options!();

    /// The request as it will be sent.
    pub fn request(&self) -> &v1::ExecRequest {
        &self.request
    }

    /// Asks the runtime for the URL of the session (`RuntimeService/Exec`), without opening it.
    pub async fn url(self) -> Result<String, Error> {
        Ok(self.client.exec_url(self.request).await?.url)
    }

    /// Asks the runtime for the session and opens it: stdin, stdout, stderr, resize and the
    /// exit code are on the [`ExecSession`].
    #[cfg(feature = "streaming")]
    #[cfg_attr(docsrs, doc(cfg(feature = "streaming")))]
    pub async fn start(self) -> Result<ExecSession, Error> {
        let options = ExecOptions::from_exec_request(&self.request)
            .transport(self.connect.transport)
            .connect_timeout(self.connect.timeout);
        let url = self.client.exec_url(self.request).await?.url;
        cri_streaming::client::exec(&url, &options)
            .await
            .map_err(streaming("RuntimeService/Exec"))
    }

    /// Runs the command to its end with `input` on stdin (stdin is turned on when `input` is
    /// not empty): what it wrote and its exit code.
    #[cfg(feature = "streaming")]
    #[cfg_attr(docsrs, doc(cfg(feature = "streaming")))]
    pub async fn output(mut self, input: &[u8]) -> Result<Output, Error> {
        self.request.stdin |= !input.is_empty();
        self.start()
            .await?
            .output(input)
            .await
            .map_err(streaming("RuntimeService/Exec"))
    }
}

/// An attach being prepared: see [`Client::attach`].
#[derive(Debug)]
#[must_use = "an attach does nothing until started"]
pub struct AttachBuilder<'a> {
    client: &'a Client,
    request: v1::AttachRequest,
    #[cfg(feature = "streaming")]
    connect: Connect,
}

impl AttachBuilder<'_> {
    flags! {
        /// Sends stdin (default: no).
        stdin,
        /// Receives stdout (default: yes).
        stdout,
        /// Receives stderr (default: yes; never with a terminal).
        stderr,
    }

    /// The container runs on a terminal (default: no); stderr is then turned off.
    pub fn tty(mut self, on: bool) -> Self {
        self.request.tty = on;
        if on {
            self.request.stderr = false;
        }
        self
    }

    connect_options!();

    /// The request as it will be sent.
    pub fn request(&self) -> &v1::AttachRequest {
        &self.request
    }

    /// Asks the runtime for the URL of the session (`RuntimeService/Attach`), without opening
    /// it.
    pub async fn url(self) -> Result<String, Error> {
        Ok(self.client.attach_url(self.request).await?.url)
    }

    /// Asks the runtime for the session and opens it.
    #[cfg(feature = "streaming")]
    #[cfg_attr(docsrs, doc(cfg(feature = "streaming")))]
    pub async fn start(self) -> Result<ExecSession, Error> {
        let options = ExecOptions::from_attach_request(&self.request)
            .transport(self.connect.transport)
            .connect_timeout(self.connect.timeout);
        let url = self.client.attach_url(self.request).await?.url;
        cri_streaming::client::attach(&url, &options)
            .await
            .map_err(streaming("RuntimeService/Attach"))
    }
}

/// A port forward being prepared: see [`Client::port_forward`].
#[derive(Debug)]
#[must_use = "a port forward does nothing until started"]
pub struct PortForwardBuilder<'a> {
    client: &'a Client,
    request: v1::PortForwardRequest,
    #[cfg(feature = "streaming")]
    connect: Connect,
}

impl PortForwardBuilder<'_> {
    connect_options!();

    /// The request as it will be sent.
    pub fn request(&self) -> &v1::PortForwardRequest {
        &self.request
    }

    /// Asks the runtime for the URL of the session (`RuntimeService/PortForward`), without
    /// opening it.
    pub async fn url(self) -> Result<String, Error> {
        Ok(self.client.port_forward_url(self.request).await?.url)
    }

    /// Asks the runtime for the session and opens it: [`PortForward::connect`] opens a
    /// connection to one of the ports, [`PortForward::listen`] serves a local listener.
    #[cfg(feature = "streaming")]
    #[cfg_attr(docsrs, doc(cfg(feature = "streaming")))]
    pub async fn start(self) -> Result<PortForward, Error> {
        // The ports were u16 when given to `Client::port_forward`.
        let ports: Vec<u16> = self.request.port.iter().map(|&p| p as u16).collect();
        let options = PortForwardOptions::new()
            .transport(self.connect.transport)
            .connect_timeout(self.connect.timeout);
        let url = self.client.port_forward_url(self.request).await?.url;
        cri_streaming::client::port_forward(&url, &ports, &options)
            .await
            .map_err(streaming("RuntimeService/PortForward"))
    }
}

#[cfg(feature = "streaming")]
fn streaming(rpc: &'static str) -> impl FnOnce(cri_streaming::client::Error) -> Error {
    move |source| Error::Streaming { rpc, source }
}
