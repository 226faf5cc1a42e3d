//! The client a tool uses with the URL from an `ExecResponse`, `AttachResponse` or
//! `PortForwardResponse`.
//!
//! [`exec`] (and [`attach`], the same protocol) returns an [`ExecSession`]: a writer for
//! stdin, readers for stdout and stderr, a [`Resizer`] for terminals and
//! [`ExecSession::wait`] for the exit code. [`port_forward`] returns a [`PortForward`] that
//! opens a stream per connection to a port, or serves a local TCP listener.
//!
//! [`Transport::Auto`] tries a WebSocket first and falls back to SPDY/3.1 when the server
//! turns the WebSocket upgrade down, as current kubectl does. A CRI URL's token is
//! single-use: a server that spends it on the refused attempt (upstream's does) answers
//! the second attempt 404, so against such a server name the transport.

mod spdyc;
mod wsc;

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

pub use crate::protocol::{Status, TerminalSize};

/// Which transport to use.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Transport {
    /// WebSocket, then SPDY/3.1 if the server refuses the WebSocket upgrade.
    #[default]
    Auto,
    /// WebSocket only (`v5.channel.k8s.io`, `v4.channel.k8s.io`).
    WebSocket,
    /// SPDY/3.1 only (`v5.channel.k8s.io` … `channel.k8s.io`, `portforward.k8s.io`).
    Spdy,
}

impl std::fmt::Display for Transport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Transport::Auto => "auto",
            Transport::WebSocket => "websocket",
            Transport::Spdy => "spdy",
        })
    }
}

impl std::str::FromStr for Transport {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "auto" | "" => Ok(Transport::Auto),
            "websocket" | "ws" => Ok(Transport::WebSocket),
            "spdy" => Ok(Transport::Spdy),
            other => Err(format!(
                "unknown transport {other:?} (expected websocket, spdy or auto)"
            )),
        }
    }
}

/// What an exec or attach session carries. They must match the request the URL was made
/// for (the server opens what the request asked for).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ExecOptions {
    /// Send stdin.
    pub stdin: bool,
    /// Receive stdout.
    pub stdout: bool,
    /// Receive stderr (never with `tty`).
    pub stderr: bool,
    /// A terminal: stdout and stderr are one stream, sizes can be sent.
    pub tty: bool,
    /// The transport.
    pub transport: Transport,
    /// How long connecting and the upgrade may take (default 30 s).
    pub connect_timeout: Duration,
    /// The largest WebSocket message accepted from the server (default 16 MiB).
    pub max_message_size: usize,
}

impl Default for ExecOptions {
    fn default() -> Self {
        ExecOptions {
            stdin: false,
            stdout: true,
            stderr: true,
            tty: false,
            transport: Transport::Auto,
            connect_timeout: Duration::from_secs(30),
            max_message_size: 16 << 20,
        }
    }
}

impl ExecOptions {
    /// stdout and stderr, no stdin, no TTY, [`Transport::Auto`].
    pub fn new() -> Self {
        Self::default()
    }
    /// The streams of an `ExecRequest`.
    pub fn from_exec_request(request: &cri_api_v1::ExecRequest) -> Self {
        Self::default()
            .stdin(request.stdin)
            .stdout(request.stdout)
            .stderr(request.stderr)
            .tty(request.tty)
    }
    /// The streams of an `AttachRequest`.
    pub fn from_attach_request(request: &cri_api_v1::AttachRequest) -> Self {
        Self::default()
            .stdin(request.stdin)
            .stdout(request.stdout)
            .stderr(request.stderr)
            .tty(request.tty)
    }
    /// Sets [`stdin`](Self::stdin).
    pub fn stdin(mut self, on: bool) -> Self {
        self.stdin = on;
        self
    }
    /// Sets [`stdout`](Self::stdout).
    pub fn stdout(mut self, on: bool) -> Self {
        self.stdout = on;
        self
    }
    /// Sets [`stderr`](Self::stderr).
    pub fn stderr(mut self, on: bool) -> Self {
        self.stderr = on;
        self
    }
    /// Sets [`tty`](Self::tty) (and turns stderr off with it).
    pub fn tty(mut self, on: bool) -> Self {
        self.tty = on;
        if on {
            self.stderr = false;
        }
        self
    }
    /// Sets [`transport`](Self::transport).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }
    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

/// Why a session could not start or ended badly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL is not one this client can use.
    #[error("streaming URL {url:?}: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Connecting to the server failed.
    #[error("cannot connect to the streaming server at {addr}: {source}")]
    Connect {
        /// Where.
        addr: String,
        /// Why.
        source: io::Error,
    },
    /// The server answered the upgrade with an HTTP error.
    #[error("the streaming server refused the {transport} upgrade: HTTP {status}{}", if body.is_empty() { String::new() } else { format!(": {body}") })]
    Refused {
        /// The transport tried.
        transport: Transport,
        /// The HTTP status.
        status: u16,
        /// The response body (trimmed, at most 1 KiB).
        body: String,
    },
    /// Connecting or the upgrade took longer than the connect timeout.
    #[error("connecting to the streaming server timed out after {0:?}")]
    Timeout(Duration),
    /// The connection broke or the server broke the protocol.
    #[error("{0}")]
    Protocol(String),
    /// The session ended with a failure status from the server (not an exit code).
    #[error("{}", .0.message)]
    Remote(Status),
    /// The transport is not available in this build.
    #[error("the {0} transport is not available in this build")]
    Unavailable(Transport),
}

/// The parts of a streaming URL the client needs.
pub(crate) struct Target {
    pub url: url::Url,
    pub addr: String,
}

fn parse_url(url: &str) -> Result<Target, Error> {
    let bad = |reason: &str| Error::Url {
        url: url.to_string(),
        reason: reason.to_string(),
    };
    let parsed = url::Url::parse(url).map_err(|e| bad(&e.to_string()))?;
    match parsed.scheme() {
        "http" | "ws" => {}
        "https" | "wss" => {
            return Err(bad(
                "TLS (https) streaming URLs are not supported by this client",
            ));
        }
        other => return Err(bad(&format!("unsupported scheme {other:?}"))),
    }
    let host = parsed.host_str().ok_or_else(|| bad("no host"))?;
    let port = parsed.port_or_known_default().unwrap_or(80);
    let addr = if host.contains(':') && !host.starts_with('[') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    };
    Ok(Target { url: parsed, addr })
}

async fn connect_tcp(target: &Target) -> Result<TcpStream, Error> {
    let tcp = TcpStream::connect(&target.addr)
        .await
        .map_err(|source| Error::Connect {
            addr: target.addr.clone(),
            source,
        })?;
    let _ = tcp.set_nodelay(true);
    Ok(tcp)
}

/// Whether a refused WebSocket upgrade may be retried over SPDY: the server did not know
/// the token (404) or the session could not be served for other reasons than the upgrade.
fn falls_back(error: &Error) -> bool {
    matches!(error, Error::Refused { status, .. } if matches!(status, 400 | 403 | 405 | 426 | 501))
}

/// The read side of a session's stream (stdout, stderr, a forwarded port).
pub struct SessionReader(Box<dyn AsyncRead + Send + Unpin>);

impl std::fmt::Debug for SessionReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionReader")
    }
}

impl AsyncRead for SessionReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

/// The write side of a session's stdin: `shutdown` closes stdin where the protocol can say
/// so (SPDY, WebSocket v5; over WebSocket v4 the command sees the end of stdin only when
/// the session ends).
pub struct SessionWriter(Box<dyn AsyncWrite + Send + Unpin>);

impl std::fmt::Debug for SessionWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionWriter")
    }
}

impl AsyncWrite for SessionWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

/// Sends terminal sizes to a TTY session. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Resizer(mpsc::Sender<TerminalSize>);

impl Resizer {
    /// Tells the server the terminal is now `width` columns by `height` rows.
    pub async fn resize(&self, width: u16, height: u16) -> Result<(), Error> {
        self.0
            .send(TerminalSize { width, height })
            .await
            .map_err(|_| Error::Protocol("the session has ended".into()))
    }
}

type StatusFuture = Pin<Box<dyn std::future::Future<Output = Result<i32, Error>> + Send>>;

/// A running exec or attach session.
///
/// Take the streams you need (`stdin`, `stdout`, `stderr` are public); a stream left in
/// the session is discarded (stdout, stderr) or closed (stdin) by [`wait`](Self::wait).
/// Read stdout and stderr while the command runs: the server waits while they are unread.
pub struct ExecSession {
    /// The command's stdin, if asked for.
    pub stdin: Option<SessionWriter>,
    /// The command's stdout (with a TTY: the terminal's output), if asked for.
    pub stdout: Option<SessionReader>,
    /// The command's stderr, if asked for (never with a TTY).
    pub stderr: Option<SessionReader>,
    resizer: Option<Resizer>,
    transport: Transport,
    protocol: String,
    status: StatusFuture,
}

impl std::fmt::Debug for ExecSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExecSession")
            .field("transport", &self.transport)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

/// What [`ExecSession::output`] collects.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Everything the command wrote to stdout.
    pub stdout: Vec<u8>,
    /// Everything the command wrote to stderr.
    pub stderr: Vec<u8>,
    /// Its exit code.
    pub exit_code: i32,
}

impl ExecSession {
    /// The transport in use ([`Transport::WebSocket`] or [`Transport::Spdy`]).
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// The negotiated subprotocol (`v5.channel.k8s.io`, `v4.channel.k8s.io`, …).
    pub fn protocol(&self) -> &str {
        &self.protocol
    }

    /// A handle to send terminal sizes (TTY sessions whose protocol can resize).
    pub fn resizer(&self) -> Option<Resizer> {
        self.resizer.clone()
    }

    /// Waits for the end of the session: the command's exit code (0 on success). A failure
    /// that is not an exit code (the runtime could not run the command, the connection
    /// broke) is an error.
    pub async fn wait(mut self) -> Result<i32, Error> {
        drop(self.stdin.take());
        drop(self.stdout.take());
        drop(self.stderr.take());
        drop(self.resizer.take());
        self.status.await
    }

    /// Writes `input` to stdin (then closes it), collects stdout and stderr, and waits.
    pub async fn output(mut self, input: &[u8]) -> Result<Output, Error> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let stdin = self.stdin.take();
        let input = input.to_vec();
        let feed = async move {
            if let Some(mut stdin) = stdin {
                let _ = stdin.write_all(&input).await;
                let _ = stdin.shutdown().await;
                // Over WebSocket v4 stdin cannot be closed: keep it open until the end.
                std::future::pending::<()>().await;
            }
            std::future::pending::<()>().await;
        };
        let read = |reader: Option<SessionReader>| async move {
            let mut buf = Vec::new();
            if let Some(mut reader) = reader {
                reader.read_to_end(&mut buf).await.map(|_| buf)
            } else {
                Ok(buf)
            }
        };
        let stdout = self.stdout.take();
        let stderr = self.stderr.take();
        let collect = async { tokio::try_join!(read(stdout), read(stderr)) };
        let (stdout, stderr) = tokio::select! {
            out = collect => out.map_err(|e| Error::Protocol(format!("reading output: {e}")))?,
            () = feed => unreachable!("feeding stdin never ends"),
        };
        let exit_code = self.wait().await?;
        Ok(Output {
            stdout,
            stderr,
            exit_code,
        })
    }
}

/// Starts an exec session at `url` (from an `ExecResponse`).
pub async fn exec(url: &str, options: &ExecOptions) -> Result<ExecSession, Error> {
    let target = parse_url(url)?;
    let timeout = options.connect_timeout;
    let attempt = |transport: Transport| {
        let target = &target;
        async move {
            let run = async {
                match transport {
                    Transport::Spdy => spdyc::exec(target, options).await,
                    _ => wsc::exec(target, options).await,
                }
            };
            tokio::time::timeout(timeout, run)
                .await
                .map_err(|_| Error::Timeout(timeout))?
        }
    };
    match options.transport {
        Transport::Auto => match attempt(Transport::WebSocket).await {
            Err(error) if falls_back(&error) => attempt(Transport::Spdy).await,
            other => other,
        },
        transport => attempt(transport).await,
    }
}

/// Starts an attach session at `url` (from an `AttachResponse`): the same protocol as
/// [`exec`].
pub async fn attach(url: &str, options: &ExecOptions) -> Result<ExecSession, Error> {
    exec(url, options).await
}

/// A forwarded connection to a port: read what the port sends, write what it receives.
/// `shutdown` ends the direction to the port where the protocol can say so (SPDY).
pub struct PortConnection {
    reader: SessionReader,
    writer: SessionWriter,
}

impl std::fmt::Debug for PortConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PortConnection")
    }
}

impl AsyncRead for PortConnection {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl AsyncWrite for PortConnection {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.writer).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.writer).poll_shutdown(cx)
    }
}

/// Options of [`port_forward`].
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct PortForwardOptions {
    /// The transport. [`Transport::Auto`] means SPDY, then WebSocket if the server refuses
    /// SPDY: over SPDY every connection gets its own stream, over a WebSocket each port
    /// carries one connection.
    pub transport: Transport,
    /// How long connecting and the upgrade may take (default 30 s).
    pub connect_timeout: Duration,
}

impl Default for PortForwardOptions {
    fn default() -> Self {
        PortForwardOptions {
            transport: Transport::Auto,
            connect_timeout: Duration::from_secs(30),
        }
    }
}

impl PortForwardOptions {
    /// Defaults.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets [`transport`](Self::transport).
    pub fn transport(mut self, transport: Transport) -> Self {
        self.transport = transport;
        self
    }
    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }
}

enum Forwarder {
    Ws(wsc::WsForward),
    Spdy(spdyc::SpdyForward),
}

/// A port-forward session: [`connect`](Self::connect) opens a connection to a port,
/// [`serve`](Self::serve) forwards a local listener's connections.
pub struct PortForward {
    inner: Forwarder,
    transport: Transport,
}

impl std::fmt::Debug for PortForward {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortForward")
            .field("transport", &self.transport)
            .finish_non_exhaustive()
    }
}

/// Starts a port-forward session at `url` (from a `PortForwardResponse`) for `ports` (the
/// ports of the request, in its order).
pub async fn port_forward(
    url: &str,
    ports: &[u16],
    options: &PortForwardOptions,
) -> Result<PortForward, Error> {
    let target = parse_url(url)?;
    if ports.is_empty() {
        return Err(Error::Url {
            url: url.to_string(),
            reason: "no port to forward".into(),
        });
    }
    let timeout = options.connect_timeout;
    let ws = || async {
        let forward = tokio::time::timeout(timeout, wsc::port_forward(&target, ports))
            .await
            .map_err(|_| Error::Timeout(timeout))??;
        Ok(PortForward {
            inner: Forwarder::Ws(forward),
            transport: Transport::WebSocket,
        })
    };
    let spdy = || async {
        let forward = tokio::time::timeout(timeout, spdyc::port_forward(&target))
            .await
            .map_err(|_| Error::Timeout(timeout))??;
        Ok(PortForward {
            inner: Forwarder::Spdy(forward),
            transport: Transport::Spdy,
        })
    };
    match options.transport {
        Transport::Spdy => spdy().await,
        Transport::WebSocket => ws().await,
        Transport::Auto => match spdy().await {
            Err(error) if falls_back(&error) => ws().await,
            other => other,
        },
    }
}

impl PortForward {
    /// The transport in use.
    pub fn transport(&self) -> Transport {
        self.transport
    }

    /// Opens a connection to `port` in the pod.
    pub async fn connect(&self, port: u16) -> Result<PortConnection, Error> {
        match &self.inner {
            Forwarder::Ws(ws) => ws.connect(port),
            Forwarder::Spdy(spdy) => spdy.connect(port).await,
        }
    }

    /// Accepts connections on `listener` and forwards each to `port` until the session
    /// ends or an error occurs.
    pub async fn serve(&self, listener: TcpListener, port: u16) -> Result<(), Error> {
        loop {
            let (mut tcp, _) = listener
                .accept()
                .await
                .map_err(|e| Error::Protocol(format!("accepting a local connection: {e}")))?;
            let mut remote = self.connect(port).await?;
            tokio::spawn(async move {
                let _ = tokio::io::copy_bidirectional(&mut tcp, &mut remote).await;
            });
        }
    }

    /// Binds `local` and serves it (see [`serve`](Self::serve)); returns the bound address
    /// once listening, the forwarding runs in a task until the session ends.
    pub async fn listen(
        self: std::sync::Arc<Self>,
        local: SocketAddr,
        port: u16,
    ) -> Result<(SocketAddr, tokio::task::JoinHandle<Result<(), Error>>), Error> {
        let listener = TcpListener::bind(local)
            .await
            .map_err(|source| Error::Connect {
                addr: local.to_string(),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Connect {
            addr: local.to_string(),
            source,
        })?;
        let task = tokio::spawn(async move { self.serve(listener, port).await });
        Ok((addr, task))
    }
}
