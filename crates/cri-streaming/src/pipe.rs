//! Async byte streams over channels of [`Bytes`]: what a transport hands to the runtime (or to
//! the user of the client) as stdin, stdout, a forwarded port's stream, ...

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{Notify, mpsc};
use tokio_util::sync::PollSender;

/// The bytes a connection holds for its application (received, not yet read), shared by its
/// channels: the reading side waits for room, each [`ChannelReader`] gives back what it
/// takes.
#[derive(Debug)]
pub(crate) struct Budget {
    used: AtomicUsize,
    max: usize,
    freed: Notify,
    /// How many wait in [`room`](Self::room): giving back only notifies when some do (the
    /// notification takes a lock, which every chunk of a bulk transfer would otherwise take
    /// on two threads).
    waiting: AtomicUsize,
}

impl Budget {
    /// A budget of `max` bytes.
    pub fn new(max: usize) -> Arc<Budget> {
        Arc::new(Budget {
            used: AtomicUsize::new(0),
            max,
            freed: Notify::new(),
            waiting: AtomicUsize::new(0),
        })
    }

    /// Whether `n` more bytes fit now.
    pub fn fits(&self, n: usize) -> bool {
        let used = self.used.load(Ordering::SeqCst);
        used == 0 || used.saturating_add(n) <= self.max
    }

    /// Waits until `n` more bytes fit (always, when nothing is held: a message larger than
    /// the budget still goes through, alone).
    pub async fn room(&self, n: usize) {
        if self.fits(n) {
            return;
        }
        struct Waiting<'a>(&'a AtomicUsize);
        impl Drop for Waiting<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let _waiting = Waiting(&self.waiting);
        loop {
            let freed = self.freed.notified();
            tokio::pin!(freed);
            freed.as_mut().enable();
            // Checked after registering (and after counting as waiting): a release that
            // came before is seen here, one that comes after notifies.
            if self.fits(n) {
                return;
            }
            freed.await;
        }
    }

    /// Takes `n` bytes.
    pub fn charge(&self, n: usize) {
        self.used.fetch_add(n, Ordering::SeqCst);
    }

    /// Gives `n` bytes back.
    pub fn release(&self, n: usize) {
        self.used.fetch_sub(n, Ordering::SeqCst);
        if self.waiting.load(Ordering::SeqCst) > 0 {
            self.freed.notify_waiters();
        }
    }

    /// The bytes held now.
    #[cfg(test)]
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Acquire)
    }
}

/// What a chunk costs a [`Budget`]: its bytes and the bookkeeping around them.
pub(crate) fn cost(chunk: &Bytes) -> usize {
    chunk.len() + 64
}

/// Reads the chunks a transport received on one channel; end of file when the peer closed
/// the channel or the connection ended.
#[derive(Debug)]
pub struct ChannelReader {
    rx: mpsc::Receiver<Bytes>,
    current: Bytes,
    /// What the chunks were charged to (given back as they are taken).
    budget: Arc<Budget>,
}

impl ChannelReader {
    /// A reader of `rx`, whose chunks were charged to `budget`.
    pub(crate) fn new(rx: mpsc::Receiver<Bytes>, budget: Arc<Budget>) -> Self {
        ChannelReader {
            rx,
            current: Bytes::new(),
            budget,
        }
    }

    /// Polls the channel for its next chunk, giving its cost back to the budget.
    fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        let chunk = ready!(self.rx.poll_recv(cx));
        if let Some(chunk) = &chunk {
            self.budget.release(cost(chunk));
        }
        Poll::Ready(chunk)
    }

    #[cfg(feature = "client")]
    /// Puts `chunk` back to be read first (only right after [`poll_chunk`](Self::poll_chunk)).
    pub(crate) fn push_front(&mut self, chunk: Bytes) {
        debug_assert!(self.current.is_empty());
        self.current = chunk;
    }

    #[cfg(feature = "client")]
    /// Polls for the next chunk as it arrived (`None` at the end), without copying.
    pub(crate) fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if !self.current.is_empty() {
            return Poll::Ready(Some(std::mem::take(&mut self.current)));
        }
        self.poll_recv(cx)
    }

    /// The next chunk as it arrived (`None` at the end), without copying.
    pub async fn next_chunk(&mut self) -> Option<Bytes> {
        if !self.current.is_empty() {
            return Some(std::mem::take(&mut self.current));
        }
        std::future::poll_fn(|cx| self.poll_recv(cx)).await
    }
}

impl AsyncRead for ChannelReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.current.is_empty() {
            match ready!(self.poll_recv(cx)) {
                Some(chunk) => self.current = chunk,
                None => return Poll::Ready(Ok(())),
            }
        }
        // What arrived since fills the buffer too: one read (and one write by the reader's
        // user) for several messages when they come faster than they are read.
        loop {
            let n = self.current.len().min(buf.remaining());
            buf.put_slice(&self.current[..n]);
            self.current.advance(n);
            if buf.remaining() == 0 {
                break;
            }
            match self.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => self.current = chunk,
                // The end, or nothing more yet: what was read is returned now.
                Poll::Ready(None) | Poll::Pending => break,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for ChannelReader {
    fn drop(&mut self) {
        // What the channel still holds goes with it: give it back.
        self.rx.close();
        while let Ok(chunk) = self.rx.try_recv() {
            self.budget.release(cost(&chunk));
        }
    }
}

/// What a channel writer asks the transport to do.
#[derive(Debug)]
pub(crate) enum Outgoing {
    /// Bytes for channel `.0`.
    Data(u8, Bytes),
    /// The writer of channel `.0` is done (shutdown).
    Close(u8),
    /// A whole binary message, channel byte included (binary framing: one copy less).
    Frame(Bytes),
    /// The session is over: close the connection after what is queued (what comes later
    /// is discarded).
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // sent by the server's sessions
    End,
}

/// Writes to one channel of a transport; `shutdown` closes the channel where the protocol
/// can say so (SPDY, WebSocket v5).
#[derive(Debug)]
pub struct ChannelWriter {
    tx: PollSender<Outgoing>,
    channel: u8,
    max_chunk: usize,
    closed: bool,
    /// Build whole binary messages (channel byte first) instead of bare data.
    framed: bool,
}

impl ChannelWriter {
    pub(crate) fn new(tx: mpsc::Sender<Outgoing>, channel: u8, max_chunk: usize) -> Self {
        ChannelWriter {
            tx: PollSender::new(tx),
            channel,
            max_chunk: max_chunk.max(1),
            closed: false,
            framed: false,
        }
    }

    /// A writer that sends whole binary messages (the WebSocket binary framing).
    pub(crate) fn framed(mut self) -> Self {
        self.framed = true;
        self
    }
}

fn gone() -> io::Error {
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the streaming connection is closed",
    )
}

impl AsyncWrite for ChannelWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        ready!(self.tx.poll_reserve(cx)).map_err(|_| gone())?;
        let n = buf.len().min(self.max_chunk);
        let item = if self.framed {
            let mut message = bytes::BytesMut::with_capacity(n + 1);
            message.extend_from_slice(&[self.channel]);
            message.extend_from_slice(&buf[..n]);
            Outgoing::Frame(message.freeze())
        } else {
            Outgoing::Data(self.channel, Bytes::copy_from_slice(&buf[..n]))
        };
        self.tx.send_item(item).map_err(|_| gone())?;
        Poll::Ready(Ok(n))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.closed {
            return Poll::Ready(Ok(()));
        }
        ready!(self.tx.poll_reserve(cx)).map_err(|_| gone())?;
        let channel = self.channel;
        self.tx
            .send_item(Outgoing::Close(channel))
            .map_err(|_| gone())?;
        self.closed = true;
        self.tx.close();
        Poll::Ready(Ok(()))
    }
}

/// A read half and a write half as one duplex stream (a forwarded port over WebSocket).
#[derive(Debug)]
#[cfg_attr(not(feature = "server"), allow(dead_code))] // the server's port streams
pub struct Duplex<R, W> {
    pub(crate) reader: R,
    pub(crate) writer: W,
}

impl<R: AsyncRead + Unpin, W: Unpin> AsyncRead for Duplex<R, W> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.reader).poll_read(cx, buf)
    }
}

impl<R: Unpin, W: AsyncWrite + Unpin> AsyncWrite for Duplex<R, W> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn readers_give_back_what_they_take_and_what_they_drop() {
        let budget = Budget::new(1000);
        let (tx, rx) = mpsc::channel(4);
        let mut reader = ChannelReader::new(rx, budget.clone());
        for chunk in [&b"hello"[..], b"world"] {
            let chunk = Bytes::from_static(chunk);
            budget.charge(cost(&chunk));
            tx.send(chunk).await.unwrap();
        }
        assert_eq!(budget.used(), 2 * (5 + 64));
        let mut buf = [0u8; 5];
        reader.read_exact(&mut buf).await.unwrap();
        assert_eq!(budget.used(), 5 + 64);
        drop(reader);
        assert_eq!(budget.used(), 0, "what the channel held is given back");
    }

    #[tokio::test]
    async fn room_waits_until_enough_is_given_back() {
        let budget = Budget::new(100);
        // Nothing held: a chunk larger than the budget still goes through, alone.
        budget.room(1000).await;
        budget.charge(80);
        let short = Duration::from_millis(20);
        assert!(tokio::time::timeout(short, budget.room(50)).await.is_err());
        let waiter = tokio::spawn({
            let budget = budget.clone();
            async move { budget.room(50).await }
        });
        tokio::task::yield_now().await;
        budget.release(40);
        tokio::time::timeout(Duration::from_secs(5), waiter)
            .await
            .expect("woken when room was given back")
            .unwrap();
    }
}
