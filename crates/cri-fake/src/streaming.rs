//! The fake's streaming server: `Exec`, `Attach` and `PortForward` answer URLs of a
//! [`cri_streaming::server::Server`] that the fake starts on first use (on an ephemeral port
//! of 127.0.0.1 unless [`FakeRuntimeBuilder::streaming_config`] says otherwise).
//!
//! - **Exec** runs the command through the runtime's [`CommandHandler`] (with the
//!   container's environment), on the client's streams; with a TTY, stderr goes to the
//!   terminal too.
//! - **Attach** attaches to the container's one main process: the client's input goes to its
//!   stdin (shared by every attached client), and the client sees its output from then on
//!   (which also goes to the log), until the process ends; see the container model.
//! - **PortForward** hands each forwarded connection to the [`PortForwardHandler`]
//!   ([`EchoPorts`] unless [`FakeRuntimeBuilder::port_forward_handler`] says otherwise;
//!   [`TcpPorts`] connects to a real address).
//!
//! [`FakeRuntimeBuilder::streaming_config`]: crate::FakeRuntimeBuilder::streaming_config
//! [`FakeRuntimeBuilder::port_forward_handler`]: crate::FakeRuntimeBuilder::port_forward_handler
//! [`CommandHandler`]: crate::command::CommandHandler

use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};

use cri_api_v1 as api;
pub use cri_streaming::server::PortStream;
use cri_streaming::server::{BoxError, BoxFuture, BoxWriter, Runtime, Server, Streams};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};
use tonic::Status;

use crate::command::CommandIo;
use crate::{FakeRuntime, Inner};

/// What a forwarded port connects to.
pub trait PortForwardHandler: Send + Sync + 'static {
    /// Serves one forwarded connection to `port` of the pod `pod_sandbox_id` until either
    /// side ends; an error reaches the client on the port's error stream.
    fn forward(
        &self,
        pod_sandbox_id: String,
        port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>>;
}

/// The default [`PortForwardHandler`]: every port echoes what it receives.
#[derive(Clone, Copy, Debug, Default)]
pub struct EchoPorts;

impl PortForwardHandler for EchoPorts {
    fn forward(
        &self,
        _pod: String,
        _port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        Box::pin(async move {
            let (mut r, mut w) = tokio::io::split(stream);
            tokio::io::copy(&mut r, &mut w).await?;
            w.shutdown().await?;
            Ok(())
        })
    }
}

/// A [`PortForwardHandler`] that connects port `P` of every pod to `host:P`.
#[derive(Clone, Copy, Debug)]
pub struct TcpPorts(pub IpAddr);

impl PortForwardHandler for TcpPorts {
    fn forward(
        &self,
        _pod: String,
        port: u16,
        mut stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        let host = self.0;
        Box::pin(async move {
            let mut tcp = tokio::net::TcpStream::connect((host, port)).await?;
            tokio::io::copy_bidirectional(&mut stream, &mut tcp).await?;
            Ok(())
        })
    }
}

/// The streaming server of one fake, started on first use.
pub(crate) struct Streaming {
    server: tokio::sync::OnceCell<Server>,
}

impl Streaming {
    pub fn new() -> Self {
        Streaming {
            server: tokio::sync::OnceCell::new(),
        }
    }
}

/// The runtime side, holding the fake weakly (the fake owns the server).
struct FakeStreams(Weak<Inner>);

impl FakeStreams {
    fn runtime(&self) -> Result<FakeRuntime, BoxError> {
        let inner = self.0.upgrade().ok_or("the fake runtime is gone")?;
        Ok(FakeRuntime {
            inner,
            shutdown: None,
        })
    }
}

/// Two writers for one stream (stdout and stderr on a terminal).
#[derive(Clone)]
struct SharedWriter(Arc<Mutex<BoxWriter>>);

impl AsyncWrite for SharedWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Pin::new(&mut *w).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Pin::new(&mut *w).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut w = self.0.lock().unwrap_or_else(|e| e.into_inner());
        Pin::new(&mut *w).poll_shutdown(cx)
    }
}

fn command_io(streams: Streams) -> CommandIo {
    let stdout: BoxWriter = streams
        .stdout
        .unwrap_or_else(|| Box::new(tokio::io::sink()));
    let (stdout, stderr): (BoxWriter, BoxWriter) = match streams.stderr {
        Some(stderr) => (stdout, stderr),
        None if streams.tty => {
            let shared = SharedWriter(Arc::new(Mutex::new(stdout)));
            (Box::new(shared.clone()), Box::new(shared))
        }
        None => (stdout, Box::new(tokio::io::sink())),
    };
    CommandIo {
        stdin: streams
            .stdin
            .map(|s| Box::new(s) as Box<dyn AsyncRead + Send + Unpin>),
        stdout,
        stderr,
        tty: streams.tty,
        env: Vec::new(),
    }
}

fn status_error(status: Status) -> BoxError {
    status.message().to_string().into()
}

impl Runtime for FakeStreams {
    fn exec(
        &self,
        request: api::ExecRequest,
        streams: Streams,
    ) -> BoxFuture<Result<i32, BoxError>> {
        let run = self.runtime().and_then(|runtime| {
            runtime
                .exec_in(&request.container_id, request.cmd, command_io(streams))
                .map_err(status_error)
        });
        Box::pin(async move { Ok(run?.await) })
    }

    fn attach(
        &self,
        request: api::AttachRequest,
        streams: Streams,
    ) -> BoxFuture<Result<(), BoxError>> {
        let console = self.runtime().and_then(|runtime| {
            let state = runtime.read();
            let id = crate::state::resolve(&state.containers, &request.container_id, "container")
                .map_err(status_error)?;
            let ctr = &state.containers[id];
            if ctr.state != api::ContainerState::ContainerRunning {
                return Err(BoxError::from(format!("container {id} is not running")));
            }
            Ok(ctr.model.console_or_idle())
        });
        Box::pin(async move {
            console?.attach(command_io(streams)).await;
            Ok(())
        })
    }

    fn port_forward(
        &self,
        pod_sandbox_id: String,
        port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        let runtime = match self.runtime() {
            Ok(runtime) => runtime,
            Err(error) => return Box::pin(async move { Err(error) }),
        };
        let ip = runtime
            .read()
            .pods
            .get(&pod_sandbox_id)
            .and_then(|p| p.ip.parse::<IpAddr>().ok());
        let handler = runtime.options().port_forward.clone();
        Box::pin(async move {
            // A container of the pod listens on the port (a web server of the model): the
            // connection goes there; else to the handler (an echo by default).
            if let Some(ip) = ip
                && let Ok(mut tcp) = tokio::net::TcpStream::connect((ip, port)).await
            {
                let mut stream = stream;
                tokio::io::copy_bidirectional(&mut stream, &mut tcp).await?;
                return Ok(());
            }
            handler.forward(pod_sandbox_id, port, stream).await
        })
    }
}

impl FakeRuntime {
    /// The fake's streaming server, started on first use.
    pub(crate) async fn streaming_server(&self) -> Result<&Server, Status> {
        self.inner
            .streaming
            .server
            .get_or_try_init(|| async {
                let config = self.options().streaming_config.clone();
                Server::start(config, FakeStreams(Arc::downgrade(&self.inner)))
                    .await
                    .map_err(|e| {
                        Status::internal(format!("cannot start the streaming server: {e}"))
                    })
            })
            .await
    }

    /// The address of the fake's streaming server (started if it is not yet).
    pub async fn streaming_addr(&self) -> Result<std::net::SocketAddr, Status> {
        Ok(self.streaming_server().await?.local_addr())
    }
}

pub(crate) fn to_status(error: cri_streaming::server::Error) -> Status {
    match error {
        cri_streaming::server::Error::TooManyRequests(_) => {
            Status::resource_exhausted(error.to_string())
        }
        other => Status::invalid_argument(other.to_string()),
    }
}
