//! What a runtime implements: [`Runtime`], and the [`Streams`] of a session it is handed.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use cri_api_v1 as api;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::mpsc;

use crate::protocol::TerminalSize;

/// A boxed future, what [`Runtime`]'s methods return.
pub type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;
/// The error a [`Runtime`] reports (reaches the client in the status message).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;
/// A stream the runtime reads (the client's stdin).
pub type BoxReader = Box<dyn AsyncRead + Send + Unpin + 'static>;
/// A stream the runtime writes (the client's stdout or stderr).
pub type BoxWriter = Box<dyn AsyncWrite + Send + Unpin + 'static>;

/// A forwarded connection: bytes from the client to read, bytes to the client to write.
pub trait PortStream: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> PortStream for T {}

/// The streams of an exec or attach session, as the client asked for them.
///
/// Writes go to the client in order; a writer waits while the client is behind (the
/// connection's flow control), so a runtime that copies from a process applies
/// back-pressure to it. `stdin` ends when the client closes it (SPDY, WebSocket v5) or the
/// connection ends.
#[non_exhaustive]
pub struct Streams {
    /// The client's input, if it asked for stdin.
    pub stdin: Option<BoxReader>,
    /// The command's output, if asked for.
    pub stdout: Option<BoxWriter>,
    /// The command's error output (never with a TTY).
    pub stderr: Option<BoxWriter>,
    /// Whether the client asked for a terminal.
    pub tty: bool,
    /// Terminal sizes from the client (TTY sessions only).
    pub resize: Option<mpsc::Receiver<TerminalSize>>,
}

impl std::fmt::Debug for Streams {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Streams")
            .field("stdin", &self.stdin.is_some())
            .field("stdout", &self.stdout.is_some())
            .field("stderr", &self.stderr.is_some())
            .field("tty", &self.tty)
            .field("resize", &self.resize.is_some())
            .finish()
    }
}

/// What a runtime does for the streaming server.
///
/// Each method's future is dropped (cancelled) when the client goes away first.
pub trait Runtime: Send + Sync + 'static {
    /// Runs `request.cmd` in `request.container_id` over `streams`; the command's exit code.
    /// A non-zero code is a normal outcome (the client gets it in the status); an `Err` is
    /// a failure to run the command at all.
    fn exec(&self, request: api::ExecRequest, streams: Streams)
    -> BoxFuture<Result<i32, BoxError>>;

    /// Attaches `streams` to the running container's main process until it exits or the
    /// client leaves. By default: not supported.
    fn attach(
        &self,
        request: api::AttachRequest,
        streams: Streams,
    ) -> BoxFuture<Result<(), BoxError>> {
        let _ = (request, streams);
        Box::pin(async { Err("attach is not supported by this runtime".into()) })
    }

    /// Connects `stream` to `port` inside the pod sandbox `pod_sandbox_id`, until either
    /// side ends. By default: not supported.
    fn port_forward(
        &self,
        pod_sandbox_id: String,
        port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        let _ = (pod_sandbox_id, port, stream);
        Box::pin(async { Err("port forwarding is not supported by this runtime".into()) })
    }
}

impl<R: Runtime + ?Sized> Runtime for Arc<R> {
    fn exec(
        &self,
        request: api::ExecRequest,
        streams: Streams,
    ) -> BoxFuture<Result<i32, BoxError>> {
        (**self).exec(request, streams)
    }
    fn attach(
        &self,
        request: api::AttachRequest,
        streams: Streams,
    ) -> BoxFuture<Result<(), BoxError>> {
        (**self).attach(request, streams)
    }
    fn port_forward(
        &self,
        pod_sandbox_id: String,
        port: u16,
        stream: Box<dyn PortStream>,
    ) -> BoxFuture<Result<(), BoxError>> {
        (**self).port_forward(pod_sandbox_id, port, stream)
    }
}
