//! The handles the application holds: [`Connection`], [`Incoming`] and [`Stream`].

use std::future::{Future, poll_fn};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{oneshot, watch};
use tokio::time::Instant;

use super::driver::Driver;
use super::frame::{Frame, GoAwayStatus, RstStatus, Setting, setting};
use super::state::{Inner, Role, Shared, StreamState};
use super::{Error, Headers, Limits};

/// A SPDY/3.1 connection: a cheap, clonable handle. A driver task (spawned on the current
/// Tokio runtime) owns the transport; it ends when the peer closes, on error, after
/// [`Connection::go_away`] once every stream is done, or when every handle
/// ([`Connection`], [`Incoming`], [`Stream`]) is gone.
pub struct Connection {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let inner = self.shared.lock();
        f.debug_struct("Connection")
            .field("role", &inner.role)
            .field("streams", &inner.streams.len())
            .field("closed", &inner.closed)
            .finish()
    }
}

impl Clone for Connection {
    fn clone(&self) -> Self {
        self.shared.lock().handles += 1;
        Connection {
            shared: self.shared.clone(),
        }
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.handles -= 1;
        inner.wake_driver();
    }
}

impl Connection {
    /// Runs the server side of SPDY/3.1 over `io` (an upgraded HTTP connection): streams the
    /// client opens arrive on [`Incoming`]; the streams we open get even ids.
    ///
    /// Must be called within a Tokio runtime (the driver task is spawned).
    pub fn server<IO>(io: IO, limits: Limits) -> (Connection, Incoming)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Self::start(io, limits, Role::Server)
    }

    /// Runs the client side of SPDY/3.1 over `io`: the streams we open get odd ids.
    ///
    /// Must be called within a Tokio runtime (the driver task is spawned).
    pub fn client<IO>(io: IO, limits: Limits) -> (Connection, Incoming)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        Self::start(io, limits, Role::Client)
    }

    fn start<IO>(io: IO, limits: Limits, role: Role) -> (Connection, Incoming)
    where
        IO: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let (closed_tx, closed_rx) = watch::channel(false);
        let mut inner = Inner::new(role, limits.clone());
        // Tell the peer our window and stream limit first thing. Go's spdystream ignores
        // SETTINGS (and windows); peers that honour them then know our buffers.
        let settings = Frame::Settings {
            clear: false,
            entries: vec![
                Setting {
                    flags: 0,
                    id: setting::MAX_CONCURRENT_STREAMS,
                    value: u32::try_from(limits.max_streams).unwrap_or(u32::MAX),
                },
                Setting {
                    flags: 0,
                    id: setting::INITIAL_WINDOW_SIZE,
                    value: limits.initial_window,
                },
            ],
        };
        inner
            .send(&settings)
            .expect("a SETTINGS frame always encodes");
        if let Some(credit) = inner.initial_credit() {
            inner
                .send(&credit)
                .expect("a WINDOW_UPDATE frame always encodes");
        }
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            closed_rx,
        });
        let driver = Driver::new(io, shared.clone(), &limits);
        tokio::spawn(driver.run(closed_tx));
        (
            Connection {
                shared: shared.clone(),
            },
            Incoming { shared },
        )
    }

    /// Opens a stream (SYN_STREAM) with `headers`; `fin` means we will send nothing on it.
    ///
    /// Writes on the stream wait for the peer's SYN_REPLY (Go's spdystream drops data that
    /// arrives before it replied); [`Stream::wait_reply`] waits for it explicitly.
    pub async fn open_stream(&self, headers: Headers, fin: bool) -> Result<Stream, Error> {
        let mut inner = self.shared.lock();
        if let Some(e) = inner.closed_error() {
            return Err(e);
        }
        if let Some(status) = inner.go_away_received {
            return Err(Error::GoAway(status));
        }
        if inner.go_away_sent {
            return Err(Error::GoingAway);
        }
        let id = inner.next_local_id;
        if id > 0x7fff_ffff {
            return Err(Error::StreamIdsExhausted);
        }
        inner.send(&Frame::SynStream {
            stream_id: id,
            associated_to: 0,
            priority: 0,
            slot: 0,
            fin,
            unidirectional: false,
            headers: headers.clone(),
        })?;
        inner.next_local_id += 2;
        let window = inner.peer_initial_window;
        let mut st = StreamState::new(true, window);
        st.local_fin = fin;
        inner.streams.insert(id, st);
        drop(inner);
        Ok(Stream::new(self.shared.clone(), id, headers))
    }

    /// Sends GOAWAY: the peer may open no more streams, the ones open continue, and the
    /// connection closes once they are done.
    pub async fn go_away(&self) {
        let mut inner = self.shared.lock();
        if inner.go_away_sent || inner.closed.is_some() {
            return;
        }
        inner.go_away_sent = true;
        let last = inner.last_remote_id;
        let _ = inner.send(&Frame::GoAway {
            last_good_stream_id: last,
            status: GoAwayStatus::OK,
        });
        if let Some(w) = inner.accept_waker.take() {
            w.wake();
        }
    }

    /// Ends the connection now: every stream fails with [`Error::Aborted`].
    pub fn abort(&self) {
        let mut inner = self.shared.lock();
        inner.aborted = true;
        inner.wake_driver();
    }

    /// Sends a PING and waits for the answer; returns the round-trip time.
    pub async fn ping(&self) -> Result<Duration, Error> {
        let (tx, rx) = oneshot::channel();
        let start = Instant::now();
        {
            let mut inner = self.shared.lock();
            if let Some(e) = inner.closed_error() {
                return Err(e);
            }
            let id = inner.next_ping_id;
            inner.next_ping_id = if id >= 0x7fff_fffd {
                id % 2 + 1
            } else {
                id + 2
            };
            inner.pings.insert(id, tx);
            inner.send(&Frame::Ping { id })?;
        }
        match rx.await {
            Ok(()) => Ok(start.elapsed()),
            Err(_) => Err(self.shared.lock().closed_error().unwrap_or(Error::Closed)),
        }
    }

    /// Whether the driver has ended.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().closed.is_some()
    }

    /// Resolves when the driver has ended: `Ok` after an orderly end (GOAWAY or the peer
    /// closing between streams), the error otherwise.
    pub fn closed(&self) -> impl Future<Output = Result<(), Error>> + Send + 'static {
        let shared = self.shared.clone();
        let mut rx = shared.closed_rx.clone();
        async move {
            let _ = rx.wait_for(|closed| *closed).await;
            let inner = shared.lock();
            inner.closed.clone().unwrap_or(Err(Error::Closed))
        }
    }
}

/// The streams the peer opens, in order.
pub struct Incoming {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for Incoming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Incoming").finish_non_exhaustive()
    }
}

impl Incoming {
    /// The next stream the peer opened, or `None` once the connection is closed or going
    /// away and no more streams are queued.
    ///
    /// The stream has not been answered: call [`Stream::reply`] (the first read, write or
    /// shutdown answers with empty headers by itself). Answer right away: Kubernetes' Go
    /// clients open their streams one at a time and wait for each SYN_REPLY before opening
    /// the next.
    pub async fn accept(&mut self) -> Option<Stream> {
        poll_fn(|cx| self.poll_accept(cx)).await
    }

    /// Polls for the next stream, like [`Incoming::accept`].
    pub fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<Option<Stream>> {
        let mut inner = self.shared.lock();
        if let Some((id, headers)) = inner.accept_queue.pop_front() {
            drop(inner);
            return Poll::Ready(Some(Stream::new(self.shared.clone(), id, headers)));
        }
        if inner.closed.is_some()
            || inner.aborted
            || inner.go_away_sent
            || inner.go_away_received.is_some()
        {
            return Poll::Ready(None);
        }
        inner.accept_waker = Some(cx.waker().clone());
        Poll::Pending
    }
}

impl Drop for Incoming {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        inner.incoming_alive = false;
        while let Some((id, _)) = inner.accept_queue.pop_front() {
            inner.remove_stream(id);
            let _ = inner.send(&Frame::RstStream {
                stream_id: id,
                status: RstStatus::REFUSED_STREAM,
            });
        }
        inner.wake_driver();
    }
}

/// One SPDY stream: read what the peer sends, write to it; `shutdown` sends FIN.
///
/// Dropping the stream finishes our side with FIN if it was not finished (a stream we
/// opened that the peer has not answered yet is reset with `CANCEL` instead) and discards
/// what the peer still sends. Use [`Stream::reset`] to abort.
///
/// When the peer resets the stream, what it sent before stays readable; then a reset with
/// `CANCEL` reads as the end of the stream (Kubernetes' Go servers reset every stream with
/// `CANCEL` when they are done, and Go's spdystream reads that as EOF) and any other
/// status as an error ([`Error::RemoteReset`]). Writes fail after any reset.
pub struct Stream {
    pub(super) shared: Arc<Shared>,
    pub(super) id: u32,
    headers: Headers,
}

impl std::fmt::Debug for Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stream")
            .field("id", &self.id)
            .field("headers", &self.headers)
            .finish()
    }
}

impl Stream {
    fn new(shared: Arc<Shared>, id: u32, headers: Headers) -> Self {
        Stream {
            shared,
            id,
            headers,
        }
    }

    /// The stream id (odd if the client opened it, even if the server did).
    pub fn id(&self) -> u32 {
        self.id
    }

    /// The headers of the SYN_STREAM that opened the stream.
    pub fn headers(&self) -> &Headers {
        &self.headers
    }

    /// Answers a stream the peer opened (SYN_REPLY); `fin` also finishes our side.
    pub fn reply(&self, headers: Headers, fin: bool) -> Result<(), Error> {
        let mut inner = self.shared.lock();
        if let Some(e) = inner.closed_error() {
            return Err(e);
        }
        let Some(st) = inner.streams.get(&self.id) else {
            return Err(Error::Closed);
        };
        if let Some(e) = &st.reset {
            return Err(e.clone());
        }
        if st.locally_opened {
            return Err(Error::InvalidState("reply on a stream this side opened"));
        }
        if st.replied {
            return Err(Error::InvalidState("the stream was already replied to"));
        }
        inner.send(&Frame::SynReply {
            stream_id: self.id,
            fin,
            headers,
        })?;
        let st = inner.streams.get_mut(&self.id).expect("checked above");
        st.replied = true;
        st.local_fin |= fin;
        Ok(())
    }

    /// Sends more headers on the stream (a HEADERS frame).
    pub fn send_headers(&self, headers: Headers, fin: bool) -> Result<(), Error> {
        let mut inner = self.shared.lock();
        if let Some(e) = inner.closed_error() {
            return Err(e);
        }
        match inner.streams.get(&self.id) {
            None => return Err(Error::Closed),
            Some(st) if st.reset.is_some() => return Err(st.reset.clone().expect("is some")),
            Some(st) if st.local_fin => {
                return Err(Error::InvalidState("headers after our side finished"));
            }
            Some(_) => {}
        }
        inner.send(&Frame::Headers {
            stream_id: self.id,
            fin,
            headers,
        })?;
        if let Some(st) = inner.streams.get_mut(&self.id) {
            st.local_fin |= fin;
        }
        Ok(())
    }

    /// Waits for the peer's SYN_REPLY on a stream we opened and returns its headers.
    pub async fn wait_reply(&self) -> Result<Headers, Error> {
        poll_fn(|cx| {
            let mut inner = self.shared.lock();
            let closed = inner.closed_error();
            let Some(st) = inner.streams.get_mut(&self.id) else {
                return Poll::Ready(Err(closed.unwrap_or(Error::Closed)));
            };
            if !st.locally_opened {
                return Poll::Ready(Err(Error::InvalidState(
                    "waiting for a reply on a stream the peer opened",
                )));
            }
            if st.replied {
                return Poll::Ready(Ok(st.reply_headers.clone().unwrap_or_default()));
            }
            if let Some(e) = &st.reset {
                return Poll::Ready(Err(e.clone()));
            }
            if let Some(e) = closed {
                return Poll::Ready(Err(e));
            }
            st.reply_waker = Some(cx.waker().clone());
            Poll::Pending
        })
        .await
    }

    /// Aborts the stream (RST_STREAM with `status`); reads and writes fail afterwards.
    pub fn reset(&self, status: RstStatus) {
        let mut inner = self.shared.lock();
        let id = self.id;
        let Some(st) = inner.streams.get_mut(&id) else {
            return;
        };
        if st.reset.is_some() {
            return;
        }
        st.reset = Some(Error::LocalReset { id, status });
        st.wake_all();
        inner.discard_input(id);
        if inner.closed.is_none() {
            let _ = inner.send(&Frame::RstStream {
                stream_id: id,
                status,
            });
        }
        inner.wake_driver();
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let id = self.id;
        let alive = inner.closed.is_none();
        if !inner.streams.contains_key(&id) {
            return;
        }
        inner.discard_input(id);
        let st = inner.streams.get_mut(&id).expect("checked above");
        if !st.active() || !alive {
            inner.remove_stream(id);
            inner.wake_driver();
            return;
        }
        let frame = if st.local_fin {
            None
        } else if st.locally_opened && !st.replied {
            st.reset = Some(Error::LocalReset {
                id,
                status: RstStatus::CANCEL,
            });
            Some(Frame::RstStream {
                stream_id: id,
                status: RstStatus::CANCEL,
            })
        } else if !st.locally_opened && !st.replied {
            st.local_fin = true;
            Some(Frame::SynReply {
                stream_id: id,
                fin: true,
                headers: Headers::new(),
            })
        } else {
            st.local_fin = true;
            Some(Frame::Data {
                stream_id: id,
                fin: true,
                data: Bytes::new(),
            })
        };
        st.replied = true;
        st.detached = true;
        if let Some(frame) = frame {
            let _ = inner.send(&frame);
        }
        inner.finish_stream_if_done(id);
        inner.wake_driver();
    }
}
