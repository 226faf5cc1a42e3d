//! Serving tonic on a Unix socket to every gRPC client, gRPC C-core's included (feature
//! `unix-server`).
//!
//! gRPC C-core (Python's `grpcio`, Ruby, PHP, C++) and grpc-java send the socket's path (or
//! its percent-encoding) as the HTTP/2 `:authority` of a `unix:` target. That is no valid
//! authority, and the HTTP/2 stack under tonic (`h2`) resets every such stream with
//! `PROTOCOL_ERROR` before any service sees it (hyperium/h2#487, open for years). On a Unix
//! socket the authority means nothing, so [`RepairAuthority`] repairs it on the way in: it
//! reads the client's HTTP/2 frames, decodes each header block (HPACK, with the client's
//! dynamic table), replaces an `:authority` that is not a valid URI authority by `localhost`
//! (what Go's gRPC and the kubelet send), and hands h2 the same headers re-encoded without
//! compression state. Every other frame passes through untouched; what the server writes is
//! not looked at.
//!
//! [`UnixIncoming`] accepts connections for `Server::serve_with_incoming` and wraps each one;
//! when the process runs out of file descriptors it waits 100 ms before accepting again
//! instead of spinning.
//!
//! ```no_run
//! use cri_api_v1::unix_server::UnixIncoming;
//! # use cri_api_v1::runtime_service_server::{RuntimeService, RuntimeServiceServer};
//! # async fn run<S: RuntimeService>(service: S) -> Result<(), Box<dyn std::error::Error>> {
//! let incoming = UnixIncoming::bind("/run/my-runtime.sock")?;
//! tonic::transport::Server::builder()
//!     .add_service(RuntimeServiceServer::new(service))
//!     .serve_with_incoming(incoming)
//!     .await?;
//! # Ok(()) }
//! ```
//!
//! Limits: a header block (HEADERS and its CONTINUATION frames) may hold at most
//! [`MAX_HEADER_BLOCK`] bytes compressed and [`MAX_HEADER_LIST`] bytes decoded; a client
//! that sends more, or a block that does not decode, has its connection closed (h2 would
//! close it with `COMPRESSION_ERROR` too). The client may use a dynamic table of up to 4,096
//! bytes, the HTTP/2 default, which h2's server does not change.

use std::future::Future;
use std::io;
use std::path::Path;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{UnixListener, UnixStream};

use rewrite::{MAX_FRAME, Rewriter};

mod rewrite;
#[cfg(test)]
mod tests;

/// The largest compressed header block accepted (256 KiB).
pub const MAX_HEADER_BLOCK: usize = 256 << 10;
/// The largest decoded header list accepted (1 MiB, counted as HTTP/2 counts it: name,
/// value and 32 bytes per field).
pub const MAX_HEADER_LIST: usize = 1 << 20;

/// A server-side connection whose client's `:authority` is repaired (see the
/// [module docs](self)). Writes pass straight through.
pub struct RepairAuthority<IO> {
    io: IO,
    rewriter: Rewriter,
    /// Rewritten bytes not yet read, from `pos`.
    ready: Vec<u8>,
    pos: usize,
    chunk: Box<[u8]>,
}

impl<IO> std::fmt::Debug for RepairAuthority<IO> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RepairAuthority")
            .field("buffered", &(self.ready.len() - self.pos))
            .finish_non_exhaustive()
    }
}

impl<IO> RepairAuthority<IO> {
    /// Wraps the server's side of a new connection (before anything was read from it).
    pub fn new(io: IO) -> Self {
        RepairAuthority {
            io,
            rewriter: Rewriter::new(),
            ready: Vec::new(),
            pos: 0,
            chunk: vec![0; MAX_FRAME].into_boxed_slice(),
        }
    }

    /// The connection itself.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for RepairAuthority<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = &mut *self;
        loop {
            if this.pos < this.ready.len() {
                let n = buf.remaining().min(this.ready.len() - this.pos);
                buf.put_slice(&this.ready[this.pos..this.pos + n]);
                this.pos += n;
                if this.pos == this.ready.len() {
                    this.ready.clear();
                    this.pos = 0;
                }
                return Poll::Ready(Ok(()));
            }
            let mut chunk = ReadBuf::new(&mut this.chunk);
            ready!(Pin::new(&mut this.io).poll_read(cx, &mut chunk))?;
            if chunk.filled().is_empty() {
                return Poll::Ready(Ok(()));
            }
            this.rewriter.feed(chunk.filled(), &mut this.ready)?;
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for RepairAuthority<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

impl<IO: tonic::transport::server::Connected> tonic::transport::server::Connected
    for RepairAuthority<IO>
{
    type ConnectInfo = IO::ConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.io.connect_info()
    }
}

/// The connections of a Unix listener, each wrapped in [`RepairAuthority`], for tonic's
/// `Server::serve_with_incoming`. Accept errors are not passed on: when file descriptors (or
/// memory) run out it waits 100 ms before accepting again, other errors (a client that went
/// away while queued) are skipped.
#[derive(Debug)]
pub struct UnixIncoming {
    listener: UnixListener,
    backoff: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl UnixIncoming {
    /// Accepts on `listener`.
    pub fn new(listener: UnixListener) -> Self {
        UnixIncoming {
            listener,
            backoff: None,
        }
    }

    /// Binds a new listener at `path` (which must not exist). Must be called within a tokio
    /// runtime.
    pub fn bind(path: impl AsRef<Path>) -> io::Result<Self> {
        UnixListener::bind(path).map(Self::new)
    }

    /// The listener.
    pub fn listener(&self) -> &UnixListener {
        &self.listener
    }
}

/// Whether an accept error means the process or system ran out of something (file
/// descriptors, memory) that only time gives back.
fn is_exhaustion(error: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM on Linux and the BSDs alike.
    matches!(error.raw_os_error(), Some(24 | 23 | 105 | 55 | 12))
        || error.kind() == io::ErrorKind::OutOfMemory
}

impl tokio_stream::Stream for UnixIncoming {
    type Item = io::Result<RepairAuthority<UnixStream>>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(sleep) = self.backoff.as_mut() {
                ready!(sleep.as_mut().poll(cx));
                self.backoff = None;
            }
            match ready!(self.listener.poll_accept(cx)) {
                Ok((stream, _)) => return Poll::Ready(Some(Ok(RepairAuthority::new(stream)))),
                Err(error) if is_exhaustion(&error) => {
                    self.backoff = Some(Box::pin(tokio::time::sleep(Duration::from_millis(100))));
                }
                Err(_) => {}
            }
        }
    }
}
