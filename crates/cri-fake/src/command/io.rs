//! The I/O plumbing of commands: what a command reads and writes ([`CommandIo`]), output
//! captured in memory ([`Captured`]), and the shared and null streams that the commands of a
//! script use.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

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

/// The default cap of [`CommandIo::capture`]: 16 MiB less 64 bytes, for stdout and stderr
/// together, so that an `ExecSync` answer with all of it (and its protobuf framing) fits the
/// 16 MiB message limit of the kubelet, containerd and crictl.
pub const CAPTURE_LIMIT: usize = (16 << 20) - 64;

impl CommandIo {
    /// I/O that collects stdout and stderr in memory (together capped at `limit` bytes,
    /// beyond which further output is discarded and [`Captured::truncated`] says so; `None`:
    /// [`CAPTURE_LIMIT`]), with no stdin, no TTY and no environment.
    pub fn capture(limit: Option<usize>) -> (CommandIo, Captured) {
        let captured = Captured(Arc::new(Mutex::new(Capture {
            stdout: Vec::new(),
            stderr: Vec::new(),
            limit: limit.unwrap_or(CAPTURE_LIMIT),
            truncated: false,
        })));
        let io = CommandIo {
            stdin: None,
            stdout: Box::new(CaptureWriter(captured.0.clone(), false)),
            stderr: Box::new(CaptureWriter(captured.0.clone(), true)),
            tty: false,
            env: Vec::new(),
        };
        (io, captured)
    }

    /// The same I/O with every stream cooperative: each read and write spends a unit of the
    /// tokio task's budget, so that a command whose output is always accepted at once (captured,
    /// logged to a file, discarded) or whose input is always ready still yields to the runtime
    /// now and then, and a timer (an `ExecSync` timeout) or another request gets its turn. The
    /// runtime applies it to the I/O of every command it runs ([`dispatch`]).
    pub(crate) fn cooperative(mut self) -> Self {
        self.stdin = self
            .stdin
            .map(|stdin| Box::new(Cooperative(stdin)) as BoxRead);
        self.stdout = Box::new(Cooperative(self.stdout));
        self.stderr = Box::new(Cooperative(self.stderr));
        self
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

struct Capture {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    limit: usize,
    truncated: bool,
}

/// The output collected by the I/O of [`CommandIo::capture`].
#[derive(Clone)]
pub struct Captured(Arc<Mutex<Capture>>);

impl fmt::Debug for Captured {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Captured").finish_non_exhaustive()
    }
}

impl Captured {
    fn lock(&self) -> std::sync::MutexGuard<'_, Capture> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes what was written so far to stdout and stderr.
    pub fn take(&self) -> (Vec<u8>, Vec<u8>) {
        let mut capture = self.lock();
        (
            std::mem::take(&mut capture.stdout),
            std::mem::take(&mut capture.stderr),
        )
    }

    /// Whether output went beyond the limit and was cut.
    pub fn truncated(&self) -> bool {
        self.lock().truncated
    }
}

/// Stdout (`false`) or stderr (`true`) of a capture.
struct CaptureWriter(Arc<Mutex<Capture>>, bool);

impl AsyncWrite for CaptureWriter {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut capture = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let used = capture.stdout.len() + capture.stderr.len();
        let n = buf.len().min(capture.limit.saturating_sub(used));
        if n < buf.len() {
            capture.truncated = true;
        }
        let out = if self.1 {
            &mut capture.stderr
        } else {
            &mut capture.stdout
        };
        out.extend_from_slice(&buf[..n]);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The most a cooperative writer passes on in one write (see [`CommandIo::cooperative`]).
const COOP_WRITE: usize = 1024;

/// A stream of a command that spends the task's budget (see [`CommandIo::cooperative`]).
struct Cooperative<T>(T);

impl AsyncWrite for Cooperative<BoxWrite> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        // One unit of budget per write of at most `COOP_WRITE` bytes: the work behind a
        // byte differs (a log line is formatted and written to a file for every few), and
        // this bounds a slice of the task at 128 such writes.
        let buf = &buf[..buf.len().min(COOP_WRITE)];
        let written = Pin::new(&mut self.0).poll_write(cx, buf);
        if written.is_ready() {
            coop.made_progress();
        }
        written
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl AsyncRead for Cooperative<BoxRead> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let coop = ready!(tokio::task::coop::poll_proceed(cx));
        let read = Pin::new(&mut self.0).poll_read(cx, buf);
        if read.is_ready() {
            coop.made_progress();
        }
        read
    }
}

/// Runs `argv` with `handler` on cooperative I/O ([`CommandIo::cooperative`]): how the
/// runtime starts every command (`ExecSync`, a container's process, streaming exec and
/// attach, each command of a script's pipeline).
pub(crate) fn dispatch(
    handler: &dyn super::CommandHandler,
    argv: Vec<String>,
    io: CommandIo,
) -> super::BoxFuture<'static, i32> {
    handler.run(argv, io.cooperative())
}

/// Writes `bytes` and flushes; whether both worked.
pub(crate) async fn write_all(w: &mut BoxWrite, bytes: &[u8]) -> bool {
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
