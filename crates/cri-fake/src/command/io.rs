//! The I/O plumbing of commands: what a command reads and writes ([`CommandIo`]), output
//! captured in memory ([`Captured`]), and the shared and null streams that the commands of a
//! script use.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

/// A boxed async reader (a command's stdin).
pub type BoxRead = Box<dyn AsyncRead + Send + Unpin>;

/// A boxed async writer (a command's stdout or stderr).
pub type BoxWrite = Box<dyn AsyncWrite + Send + Unpin>;

/// The I/O and environment of one command.
pub struct CommandIo {
    /// Standard input; `None` reads as empty (end of file at once).
    pub stdin: Option<BoxRead>,
    /// Standard output.
    pub stdout: BoxWrite,
    /// Standard error (with a TTY, usually the same terminal as stdout).
    pub stderr: BoxWrite,
    /// Whether the command runs on a terminal (`Exec`/`Attach` with `tty`).
    pub tty: bool,
    /// The environment, in order (`KEY`, `VALUE`).
    pub env: Vec<(String, String)>,
}

impl fmt::Debug for CommandIo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CommandIo")
            .field("stdin", &self.stdin.is_some())
            .field("tty", &self.tty)
            .field("env", &self.env.len())
            .finish_non_exhaustive()
    }
}

impl CommandIo {
    /// I/O that collects stdout and stderr in memory (each capped at `limit` bytes, beyond
    /// which further output is discarded and [`Captured::truncated`] says so; `None`: 16 MiB,
    /// as containerd caps `ExecSync` output), with no stdin, no TTY and no environment.
    pub fn capture(limit: Option<usize>) -> (CommandIo, Captured) {
        let limit = limit.unwrap_or(16 << 20);
        let captured = Captured {
            stdout: Arc::new(Mutex::new(Buffer::default())),
            stderr: Arc::new(Mutex::new(Buffer::default())),
        };
        let io = CommandIo {
            stdin: None,
            stdout: Box::new(CaptureWriter(captured.stdout.clone(), limit)),
            stderr: Box::new(CaptureWriter(captured.stderr.clone(), limit)),
            tty: false,
            env: Vec::new(),
        };
        (io, captured)
    }

    /// The same I/O with `stdin`.
    pub fn with_stdin(mut self, stdin: impl AsyncRead + Send + Unpin + 'static) -> Self {
        self.stdin = Some(Box::new(stdin));
        self
    }

    /// The same I/O with this environment.
    pub fn with_env(mut self, env: Vec<(String, String)>) -> Self {
        self.env = env;
        self
    }
}

#[derive(Default)]
struct Buffer {
    bytes: Vec<u8>,
    truncated: bool,
}

/// The output collected by the I/O of [`CommandIo::capture`].
#[derive(Clone)]
pub struct Captured {
    stdout: Arc<Mutex<Buffer>>,
    stderr: Arc<Mutex<Buffer>>,
}

impl fmt::Debug for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Captured").finish_non_exhaustive()
    }
}

impl Captured {
    /// Takes what was written so far to stdout and stderr.
    pub fn take(&self) -> (Vec<u8>, Vec<u8>) {
        let take = |b: &Mutex<Buffer>| {
            std::mem::take(&mut b.lock().unwrap_or_else(PoisonError::into_inner).bytes)
        };
        (take(&self.stdout), take(&self.stderr))
    }

    /// Whether output went beyond the limit and was cut.
    pub fn truncated(&self) -> bool {
        let t = |b: &Mutex<Buffer>| b.lock().unwrap_or_else(PoisonError::into_inner).truncated;
        t(&self.stdout) || t(&self.stderr)
    }
}

struct CaptureWriter(Arc<Mutex<Buffer>>, usize);

impl AsyncWrite for CaptureWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut b = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let room = self.1.saturating_sub(b.bytes.len());
        let n = buf.len().min(room);
        b.bytes.extend_from_slice(&buf[..n]);
        if n < buf.len() {
            b.truncated = true;
        }
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// Writes `bytes` and flushes; whether both worked.
pub(super) async fn write_all(w: &mut BoxWrite, bytes: &[u8]) -> bool {
    w.write_all(bytes).await.is_ok() && w.flush().await.is_ok()
}

/// A writer shared by the commands of a script.
#[derive(Clone)]
pub(super) struct SharedWrite(pub(super) Arc<Mutex<BoxWrite>>);

impl AsyncWrite for SharedWrite {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut w = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Pin::new(&mut *w).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut w = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        Pin::new(&mut *w).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The script's commands end; the script's own output stays open.
        self.poll_flush(cx)
    }
}

/// A reader shared by the commands of a script.
#[derive(Clone)]
pub(super) struct SharedRead(pub(super) Arc<Mutex<Option<BoxRead>>>);

impl AsyncRead for SharedRead {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let mut r = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        match r.as_mut() {
            Some(r) => Pin::new(r).poll_read(cx, buf),
            None => Poll::Ready(Ok(())),
        }
    }
}

/// A writer that discards what it is given (`/dev/null`).
pub(super) struct Null;

impl AsyncWrite for Null {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}
