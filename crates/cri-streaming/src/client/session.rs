//! A running session's parts: the byte streams ([`SessionReader`], [`SessionWriter`],
//! [`PortConnection`]), the [`Resizer`], the [`ExecSession`] and the status read at its end.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use tokio::sync::mpsc;

use super::{Error, Transport};
use crate::protocol::{Status, TerminalSize};

/// The most of the error stream read for the status.
const MAX_STATUS: u64 = 64 << 10;

/// Reads the error stream to its end (at most [`MAX_STATUS`] bytes).
pub(super) async fn read_status_bytes(error: impl AsyncRead + Unpin) -> Result<Vec<u8>, io::Error> {
    let mut bytes = Vec::new();
    error.take(MAX_STATUS).read_to_end(&mut bytes).await?;
    Ok(bytes)
}

/// The exit code the error stream's content reports; a failure that is not an exit code
/// is [`Error::Remote`].
pub(super) fn exit_code_of(bytes: &[u8], json: bool) -> Result<i32, Error> {
    let status = Status::from_error_stream(bytes, json).map_err(Error::Protocol)?;
    status.to_exit_code().ok_or(Error::Remote(status))
}

/// The read side of a session's stream (stdout, stderr, a forwarded port).
pub struct SessionReader(pub(super) Box<dyn AsyncRead + Send + Unpin>);

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
pub struct SessionWriter(pub(super) Box<dyn AsyncWrite + Send + Unpin>);

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
pub struct Resizer(pub(super) mpsc::Sender<TerminalSize>);

impl Resizer {
    /// Tells the server the terminal is now `width` columns by `height` rows.
    pub async fn resize(&self, width: u16, height: u16) -> Result<(), Error> {
        self.0
            .send(TerminalSize { width, height })
            .await
            .map_err(|_| Error::Protocol("the session has ended".into()))
    }
}

pub(super) type StatusFuture =
    Pin<Box<dyn std::future::Future<Output = Result<i32, Error>> + Send>>;

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
    pub(super) resizer: Option<Resizer>,
    pub(super) transport: Transport,
    pub(super) protocol: String,
    pub(super) status: StatusFuture,
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

/// A forwarded connection to a port: read what the port sends, write what it receives.
/// `shutdown` ends the direction to the port where the protocol can say so (SPDY).
pub struct PortConnection {
    pub(super) reader: SessionReader,
    pub(super) writer: SessionWriter,
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
