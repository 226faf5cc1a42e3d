//! The transport under both ends' WebSockets: tungstenite's settings, and back-pressure from
//! writing to reading.
//!
//! tungstenite answers every PING with a PONG that it queues in its write buffer, even when
//! the transport does not accept writes; a peer that sends PINGs and never reads would grow
//! that buffer without bound. Two things stop it: [`config`] bounds the write buffer (a
//! PONG past the bound is not queued; tungstenite keeps only the latest one), and [`Gated`]
//! sits between tungstenite and the transport: once a write of more than data alone ever
//! queues is refused (tungstenite offers its whole buffer each time), reads wait until a
//! write goes through, so the peer's PINGs stay in TCP.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// What tungstenite buffers before it writes to the transport.
const WRITE_BUFFER: usize = 128 << 10;
/// What tungstenite reads from the transport at once (its default).
const READ_BUFFER: usize = 128 << 10;

/// How much may wait to be written before reads pause: more than data alone ever queues
/// (the write buffer and one message of at most `max_chunk`), so only control frames
/// answered to a peer that does not read close the gate, never a transfer in both
/// directions at once (both ends pausing their reads would wait for each other).
fn gate_threshold(max_chunk: usize) -> usize {
    WRITE_BUFFER + max_chunk + 1024
}

/// The tungstenite settings of both ends: messages and frames of at most
/// `max_message_size`, and a write buffer bounded whatever the peer does.
pub(crate) fn config(max_message_size: usize, max_chunk: usize) -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(max_message_size))
        .max_frame_size(Some(max_message_size))
        .read_buffer_size(READ_BUFFER)
        .write_buffer_size(WRITE_BUFFER)
        // What the gate lets pile up (its threshold and the PONGs of one read), then one
        // message.
        .max_write_buffer_size(gate_threshold(max_chunk) + READ_BUFFER + max_chunk + 1024)
}

/// `io` under a WebSocket whose messages carry at most `max_chunk` bytes of data.
pub(crate) fn gated<IO>(io: IO, max_chunk: usize) -> Gated<IO> {
    Gated::new(io, gate_threshold(max_chunk))
}

/// A transport whose reads wait while its writes are blocked with more than a threshold
/// queued.
#[derive(Debug)]
pub(crate) struct Gated<IO> {
    io: IO,
    threshold: usize,
    /// A write of more than `threshold` bytes was refused and none went through since.
    blocked: bool,
    /// The reader waiting for `blocked` to clear.
    reader: Option<Waker>,
}

impl<IO> Gated<IO> {
    /// Wraps `io`; reads pause while more than `threshold` bytes wait to be written.
    pub fn new(io: IO, threshold: usize) -> Self {
        Gated {
            io,
            threshold,
            blocked: false,
            reader: None,
        }
    }

    fn unblock(&mut self) {
        if self.blocked {
            self.blocked = false;
            if let Some(w) = self.reader.take() {
                w.wake();
            }
        }
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Gated<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if self.blocked {
            // Woken when a write goes through (tokio-tungstenite wakes the reading task as
            // well when the transport becomes writable).
            self.reader = Some(cx.waker().clone());
            return Poll::Pending;
        }
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Gated<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match Pin::new(&mut this.io).poll_write(cx, buf) {
            Poll::Pending => {
                if buf.len() > this.threshold {
                    this.blocked = true;
                }
                Poll::Pending
            }
            ready => {
                this.unblock();
                ready
            }
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        // Nothing more will be written: reads may go on to the end.
        this.unblock();
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn reads_wait_while_a_large_write_is_blocked() {
        let (ours, mut peer) = tokio::io::duplex(1024);
        let mut gated = Gated::new(ours, 512);
        peer.write_all(b"hello").await.unwrap();
        // The peer does not read: a write larger than the pipe blocks.
        let big = vec![7u8; 4096];
        let blocked =
            tokio::time::timeout(std::time::Duration::from_millis(50), gated.write_all(&big)).await;
        assert!(blocked.is_err(), "the write should block");
        let mut buf = [0u8; 5];
        let read = tokio::time::timeout(
            std::time::Duration::from_millis(50),
            gated.read_exact(&mut buf),
        )
        .await;
        assert!(read.is_err(), "reads wait while the write is blocked");
        // Once the peer reads, the write goes through and reading resumes.
        let mut sink = vec![0u8; 4096];
        peer.read_exact(&mut sink[..1024]).await.unwrap();
        let n = gated.write(&big).await.unwrap();
        assert!(n > 0);
        gated.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hello");
    }

    #[tokio::test]
    async fn small_blocked_writes_do_not_stop_reads() {
        let (ours, mut peer) = tokio::io::duplex(16);
        let mut gated = Gated::new(ours, 512);
        peer.write_all(b"hi").await.unwrap();
        let _ = tokio::time::timeout(
            std::time::Duration::from_millis(20),
            gated.write_all(&[1u8; 64]),
        )
        .await;
        let mut buf = [0u8; 2];
        gated.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
    }
}
