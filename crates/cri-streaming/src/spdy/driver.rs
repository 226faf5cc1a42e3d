//! The driver: the task that owns the transport, writes what the handles queued, reads and
//! decodes what the peer sends, and ends the connection.

use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::watch;
use tokio::time::{Instant, Sleep};

use super::frame::{Frame, FrameDecoder, GoAwayStatus};
use super::input::STALL_PROBE_INTERVAL;
use super::state::Shared;
use super::{Error, Limits};

/// How much we read from the transport at once.
const READ_CHUNK: usize = 64 * 1024;
/// The most frames the driver handles before it lets other tasks run.
const FRAMES_PER_POLL: usize = 64;

/// Owns the transport of one connection; runs as its own task until the connection ends.
pub(super) struct Driver<IO> {
    io: IO,
    shared: Arc<Shared>,
    decoder: FrameDecoder,
    read_buf: BytesMut,
    /// What is being written: the handles' buffer taken whole, swapped back (emptied) for
    /// the next batch, so that neither buffer is allocated again (a bulk transfer otherwise
    /// allocates and frees megabytes a second, which the allocator holds on to).
    writing: BytesMut,
    flush_needed: bool,
    /// Writing to the transport failed; only reading goes on.
    write_failed: bool,
    read_closed: bool,
    idle: Option<Pin<Box<Sleep>>>,
    idle_timeout: Option<Duration>,
    /// Armed while reading is paused for the application's input: when it fires, a
    /// WINDOW_UPDATE goes out (see [`STALL_PROBE_INTERVAL`]).
    probe: Option<Pin<Box<Sleep>>>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Driver<IO> {
    /// Writing to the transport failed: stop writing, keep reading.
    fn fail_writes(&mut self, error: io::Error) {
        self.write_failed = true;
        self.writing = BytesMut::new();
        self.flush_needed = false;
        self.shared.lock().fail_writes(error.into());
    }

    pub(super) fn new(io: IO, shared: Arc<Shared>, limits: &Limits) -> Self {
        Driver {
            io,
            shared,
            decoder: FrameDecoder::new(limits.max_frame_size, limits.max_header_block),
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            writing: BytesMut::new(),
            flush_needed: false,
            write_failed: false,
            read_closed: false,
            idle: limits.idle_timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            idle_timeout: limits.idle_timeout,
            probe: None,
        }
    }

    /// Drives the connection to its end, then records how it ended and signals `closed_tx`.
    pub(super) async fn run(mut self, closed_tx: watch::Sender<bool>) {
        let result = poll_fn(|cx| self.poll(cx)).await;
        // Best effort: tell the peer why, push out what is queued, close the transport.
        {
            let mut inner = self.shared.lock();
            let status = match &result {
                Ok(()) | Err(Error::IdleTimeout(_)) | Err(Error::Aborted) => Some(GoAwayStatus::OK),
                Err(Error::Frame(_) | Error::Protocol(_)) => Some(GoAwayStatus::PROTOCOL_ERROR),
                _ => None,
            };
            if let Some(status) = status
                && !inner.go_away_sent
            {
                inner.go_away_sent = true;
                let last = inner.last_remote_id;
                let _ = inner.send(&Frame::GoAway {
                    last_good_stream_id: last,
                    status,
                });
            }
            inner.closed = Some(result);
            for st in inner.streams.values_mut() {
                st.wake_all();
            }
            if let Some(w) = inner.accept_waker.take() {
                w.wake();
            }
            inner.pings.clear();
            inner.wake_writers();
        }
        let _ = tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if self.writing.is_empty() {
                    let mut inner = self.shared.lock();
                    if inner.out.is_empty() {
                        break;
                    }
                    inner.take_out(&mut self.writing);
                }
                match tokio::io::AsyncWriteExt::write(&mut self.io, &self.writing).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => self.writing.advance(n),
                }
            }
            let _ = tokio::io::AsyncWriteExt::shutdown(&mut self.io).await;
        })
        .await;
        let _ = closed_tx.send(true);
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // Frames this call may still handle before it lets the other tasks run.
        let mut budget = FRAMES_PER_POLL;
        loop {
            let mut progress = false;
            // Whoever changes what the driver waits for (a write queued, input read by the
            // application, an abort) wakes this waker: register it on every pass, not only
            // when nothing is being written. A driver whose write is blocked and whose
            // reading is paused for the application would otherwise sleep until the peer
            // reads, while the peer waits for it to read (containerd's deadlock).
            self.shared.lock().register_driver(cx);
            // Outbound: hand queued frames to the transport (unless writing failed: then the
            // peer's input is still read to its end, as Go's spdystream does, since it may
            // hold what the application waits for, such as the exit status).
            if self.write_failed {
                let mut inner = self.shared.lock();
                if inner.aborted {
                    return Poll::Ready(Err(Error::Aborted));
                }
                inner.clear_out();
                // Reading is paused for the application, which holds the peer's input
                // unread: nothing more will come in (a vanished client whose stdin the
                // command never reads, found out by the stall probe's failed write).
                if inner.input_full()
                    && let Some(error) = inner.write_failed.clone()
                {
                    return Poll::Ready(Err(error));
                }
            }
            while !self.write_failed {
                if self.writing.is_empty() {
                    let mut inner = self.shared.lock();
                    if inner.aborted {
                        return Poll::Ready(Err(Error::Aborted));
                    }
                    if inner.out.is_empty() {
                        break;
                    }
                    inner.take_out(&mut self.writing);
                    inner.wake_writers();
                }
                match Pin::new(&mut self.io).poll_write(cx, &self.writing) {
                    Poll::Ready(Ok(0)) => {
                        self.fail_writes(io::Error::from(io::ErrorKind::WriteZero));
                        progress = true;
                    }
                    Poll::Ready(Ok(n)) => {
                        self.writing.advance(n);
                        self.flush_needed = true;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => {
                        self.fail_writes(e);
                        progress = true;
                    }
                    Poll::Pending => break,
                }
            }
            if self.writing.is_empty() && self.flush_needed && !self.write_failed {
                match Pin::new(&mut self.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.flush_needed = false,
                    Poll::Ready(Err(e)) => {
                        self.fail_writes(e);
                        progress = true;
                    }
                    Poll::Pending => {}
                }
            }
            // Inbound: decode what is buffered, then read more unless a reader is full.
            if !self.read_closed {
                loop {
                    if self.shared.lock().read_paused() {
                        break;
                    }
                    match self.decoder.decode(&mut self.read_buf)? {
                        Some(frame) => {
                            self.shared.lock().recv_frame(frame)?;
                            progress = true;
                            budget -= 1;
                            if budget == 0 {
                                break;
                            }
                        }
                        None => {
                            if self.read_buf.capacity() - self.read_buf.len() < 4096 {
                                self.read_buf.reserve(READ_CHUNK);
                            }
                            match tokio_util::io::poll_read_buf(
                                Pin::new(&mut self.io),
                                cx,
                                &mut self.read_buf,
                            ) {
                                Poll::Ready(Ok(0)) => {
                                    self.read_closed = true;
                                    progress = true;
                                    break;
                                }
                                Poll::Ready(Ok(_)) => progress = true,
                                Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                                Poll::Pending => break,
                            }
                        }
                    }
                }
            }
            // The end?
            {
                let inner = self.shared.lock();
                let no_streams = inner.streams.is_empty() && inner.accept_queue.is_empty();
                let idle_out = inner.out.is_empty() && self.writing.is_empty();
                if self.read_closed {
                    if !self.read_buf.is_empty() {
                        return Poll::Ready(Err(Error::Protocol(format!(
                            "the connection ended inside a frame ({} bytes left over)",
                            self.read_buf.len()
                        ))));
                    }
                    let clean = inner.streams.values().all(|s| !s.active() || s.detached)
                        || inner.go_away_received.is_some();
                    return Poll::Ready(if clean { Ok(()) } else { Err(Error::Closed) });
                }
                let unused = inner.handles == 0 && !inner.incoming_alive;
                let going_away = inner.go_away_sent || inner.go_away_received.is_some();
                // Without handles, streams whose application side is gone (detached, only
                // waiting for the peer's FIN) keep nothing alive.
                let only_detached =
                    inner.accept_queue.is_empty() && inner.streams.values().all(|s| s.detached);
                if idle_out && ((no_streams && going_away) || (unused && only_detached)) {
                    return Poll::Ready(Ok(()));
                }
            }
            // Reading is paused for the application: probe the peer, which may have vanished
            // behind the input nobody reads.
            let stalled = {
                let inner = self.shared.lock();
                inner.input_full() && inner.probes_when_stalled()
            };
            if !self.read_closed && stalled {
                let probe = self
                    .probe
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(STALL_PROBE_INTERVAL)));
                if probe.as_mut().poll(cx).is_ready() {
                    probe.as_mut().reset(Instant::now() + STALL_PROBE_INTERVAL);
                    self.shared.lock().probe()?;
                    continue;
                }
            } else {
                self.probe = None;
            }
            if progress {
                if let (Some(idle), Some(t)) = (self.idle.as_mut(), self.idle_timeout) {
                    idle.as_mut().reset(Instant::now() + t);
                }
                if budget == 0 {
                    // A peer that sends without pause must not starve the other tasks (a
                    // runtime on one thread serves its gRPC API beside this): come back
                    // after them, once the runtime has polled its I/O.
                    let yielded = std::pin::pin!(tokio::task::yield_now()).poll(cx);
                    debug_assert!(yielded.is_pending());
                    return Poll::Pending;
                }
                continue;
            }
            if let (Some(idle), Some(t)) = (self.idle.as_mut(), self.idle_timeout) {
                ready!(idle.as_mut().poll(cx));
                return Poll::Ready(Err(Error::IdleTimeout(t)));
            }
            return Poll::Pending;
        }
    }
}
