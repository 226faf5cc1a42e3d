//! The SPDY/3.1 stream multiplexer: one driver task owns the I/O, handles share its state.

use std::collections::{HashMap, VecDeque};
use std::future::{Future, poll_fn};
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{oneshot, watch};
use tokio::time::{Instant, Sleep};

use super::Headers;
use super::frame::{
    DEFAULT_INITIAL_WINDOW, Frame, FrameDecoder, FrameEncoder, FrameError, GoAwayStatus,
    MAX_PAYLOAD, RstStatus, Setting, setting,
};

/// The largest DATA payload we send in one frame.
const MAX_SEND_FRAME: usize = 64 * 1024;
/// How much we read from the transport at once.
const READ_CHUNK: usize = 64 * 1024;
/// Control frames (PING answers, WINDOW_UPDATE, RST) may push the outbound buffer this far
/// past [`Limits::max_write_buffer`] before we stop reading from a peer that does not read.
const CONTROL_SLACK: usize = 64 * 1024;

/// Limits that keep a connection's memory bounded whatever the peer does.
///
/// The defaults suit Kubernetes streaming (exec, attach, port-forward). Memory per
/// connection stays below about `max_streams × initial_window + max_write_buffer +
/// max_frame_size + max_header_block`.
///
/// ```
/// use std::time::Duration;
/// use cri_streaming::spdy::Limits;
///
/// let limits = Limits::default()
///     .max_streams(16)
///     .idle_timeout(Some(Duration::from_secs(60)));
/// assert_eq!(limits.max_streams, 16);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// Largest frame payload accepted from the peer (at most 2^24-1); a larger frame ends
    /// the connection. Default 1 MiB.
    pub max_frame_size: u32,
    /// Largest decompressed header block accepted; a larger one (a zlib bomb) ends the
    /// connection. Default 64 KiB.
    pub max_header_block: usize,
    /// Streams the peer may have open at once; more are refused with `REFUSED_STREAM`.
    /// Default 128.
    pub max_streams: usize,
    /// The connection ends when no frame was read or written for this long (upstream's
    /// streaming server uses 4 hours). `None` disables it. Default 4 hours.
    pub idle_timeout: Option<Duration>,
    /// The receive window we announce for each stream (SETTINGS_INITIAL_WINDOW_SIZE), and
    /// the most we buffer for a stream the application does not read: past it we stop
    /// reading the connection (peers such as Go's spdystream ignore windows). Default 1 MiB.
    pub initial_window: u32,
    /// Outbound bytes queued before stream writes wait for the transport. Default 1 MiB.
    pub max_write_buffer: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_frame_size: 1024 * 1024,
            max_header_block: 64 * 1024,
            max_streams: 128,
            idle_timeout: Some(Duration::from_secs(4 * 3600)),
            initial_window: 1024 * 1024,
            max_write_buffer: 1024 * 1024,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_frame_size`] (capped at 2^24-1).
    pub fn max_frame_size(mut self, bytes: u32) -> Self {
        self.max_frame_size = bytes.min(MAX_PAYLOAD);
        self
    }
    /// Sets [`Limits::max_header_block`].
    pub fn max_header_block(mut self, bytes: usize) -> Self {
        self.max_header_block = bytes;
        self
    }
    /// Sets [`Limits::max_streams`].
    pub fn max_streams(mut self, streams: usize) -> Self {
        self.max_streams = streams;
        self
    }
    /// Sets [`Limits::idle_timeout`].
    pub fn idle_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.idle_timeout = timeout;
        self
    }
    /// Sets [`Limits::initial_window`] (between 1 KiB and 2^31-1).
    pub fn initial_window(mut self, bytes: u32) -> Self {
        self.initial_window = bytes.clamp(1024, 0x7fff_ffff);
        self
    }
    /// Sets [`Limits::max_write_buffer`] (at least 1 KiB).
    pub fn max_write_buffer(mut self, bytes: usize) -> Self {
        self.max_write_buffer = bytes.max(1024);
        self
    }
}

/// Why a connection or a stream failed.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    #[error("SPDY connection I/O error: {0}")]
    Io(Arc<io::Error>),
    /// The peer sent bytes that are not valid SPDY/3 (or exceed a limit).
    #[error("malformed SPDY input from the peer: {0}")]
    Frame(#[from] FrameError),
    /// The peer broke a rule of the protocol.
    #[error("SPDY protocol error by the peer: {0}")]
    Protocol(String),
    /// Nothing was read or written for [`Limits::idle_timeout`].
    #[error("the SPDY connection was idle for {0:?}")]
    IdleTimeout(Duration),
    /// The peer sent GOAWAY before this stream was processed, or no new stream may open.
    #[error("the SPDY peer is going away (GOAWAY {0})")]
    GoAway(GoAwayStatus),
    /// We sent GOAWAY: no new stream may open.
    #[error("this SPDY connection is going away, no new stream may open")]
    GoingAway,
    /// The peer reset the stream.
    #[error("SPDY stream {id} was reset by the peer: {status}")]
    RemoteReset {
        /// The stream.
        id: u32,
        /// The peer's status code.
        status: RstStatus,
    },
    /// The stream was reset on this side.
    #[error("SPDY stream {id} was reset locally: {status}")]
    LocalReset {
        /// The stream.
        id: u32,
        /// The status code we sent.
        status: RstStatus,
    },
    /// The transport ended before the stream did.
    #[error("the SPDY connection closed")]
    Closed,
    /// [`Connection::abort`] was called.
    #[error("the SPDY connection was aborted")]
    Aborted,
    /// All 2^30 stream ids of this side are used.
    #[error("SPDY stream ids are exhausted")]
    StreamIdsExhausted,
    /// The call does not fit the stream's state (e.g. replying twice).
    #[error("invalid SPDY stream operation: {0}")]
    InvalidState(&'static str),
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Io(inner) => inner.kind(),
            Error::RemoteReset { .. } | Error::LocalReset { .. } => io::ErrorKind::ConnectionReset,
            Error::Closed | Error::GoAway(_) | Error::Aborted => io::ErrorKind::ConnectionAborted,
            Error::IdleTimeout(_) => io::ErrorKind::TimedOut,
            Error::Frame(_) | Error::Protocol(_) => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Client,
    Server,
}

#[derive(Debug)]
struct StreamState {
    recv: VecDeque<Bytes>,
    recv_len: usize,
    recv_fin: bool,
    recv_unacked: u32,
    read_waker: Option<Waker>,
    send_window: i64,
    local_fin: bool,
    write_waker: Option<Waker>,
    reset: Option<Error>,
    locally_opened: bool,
    replied: bool,
    reply_headers: Option<Headers>,
    reply_waker: Option<Waker>,
    /// The application dropped its handle after finishing its side: remaining input is
    /// discarded until the peer finishes too.
    detached: bool,
}

impl StreamState {
    fn new(locally_opened: bool, send_window: i64) -> Self {
        StreamState {
            recv: VecDeque::new(),
            recv_len: 0,
            recv_fin: false,
            recv_unacked: 0,
            read_waker: None,
            send_window,
            local_fin: false,
            write_waker: None,
            reset: None,
            locally_opened,
            replied: false,
            reply_headers: None,
            reply_waker: None,
            detached: false,
        }
    }

    fn active(&self) -> bool {
        self.reset.is_none() && !(self.local_fin && self.recv_fin)
    }

    fn wake_all(&mut self) {
        for w in [
            self.read_waker.take(),
            self.write_waker.take(),
            self.reply_waker.take(),
        ]
        .into_iter()
        .flatten()
        {
            w.wake();
        }
    }
}

struct Inner {
    role: Role,
    limits: Limits,
    encoder: FrameEncoder,
    out: BytesMut,
    driver_waker: Option<Waker>,
    streams: HashMap<u32, StreamState>,
    next_local_id: u32,
    last_remote_id: u32,
    accept_queue: VecDeque<(u32, Headers)>,
    accept_waker: Option<Waker>,
    incoming_alive: bool,
    handles: usize,
    write_waiters: Vec<Waker>,
    peer_flow_control: bool,
    peer_initial_window: i64,
    peer_conn_flow: bool,
    conn_send_window: i64,
    conn_recv_unacked: u32,
    go_away_sent: bool,
    go_away_received: Option<GoAwayStatus>,
    aborted: bool,
    closed: Option<Result<(), Error>>,
    next_ping_id: u32,
    pings: HashMap<u32, oneshot::Sender<()>>,
}

impl Inner {
    fn wake_driver(&mut self) {
        if let Some(w) = self.driver_waker.take() {
            w.wake();
        }
    }

    /// Queues a control frame. Encoding only fails for frames we built wrongly or for
    /// headers the application gave (returned to it).
    fn send(&mut self, frame: &Frame) -> Result<(), Error> {
        self.encoder.encode(frame, &mut self.out)?;
        self.wake_driver();
        Ok(())
    }

    fn closed_error(&self) -> Option<Error> {
        match &self.closed {
            Some(Err(e)) => Some(e.clone()),
            Some(Ok(())) => Some(Error::Closed),
            None if self.aborted => Some(Error::Aborted),
            None => None,
        }
    }

    fn is_local_id(&self, id: u32) -> bool {
        (id % 2 == 1) == (self.role == Role::Client)
    }

    fn window_threshold(&self) -> u32 {
        (self.limits.initial_window / 2).max(1)
    }

    /// Whether the driver must stop reading: a stream's buffer is full, or the peer does
    /// not read what we send.
    fn read_paused(&self) -> bool {
        let cap = self.limits.initial_window as usize;
        self.out.len() > self.limits.max_write_buffer + CONTROL_SLACK
            || self.streams.values().any(|s| s.recv_len > cap)
    }

    fn wait_for_room(&mut self, cx: &Context<'_>) {
        if !self.write_waiters.iter().any(|w| w.will_wake(cx.waker())) {
            self.write_waiters.push(cx.waker().clone());
        }
    }

    fn wake_writers(&mut self) {
        for w in self.write_waiters.drain(..) {
            w.wake();
        }
    }

    fn finish_stream_if_done(&mut self, id: u32) {
        if let Some(st) = self.streams.get(&id)
            && st.detached
            && !st.active()
        {
            self.streams.remove(&id);
        }
    }
}

struct Shared {
    inner: Mutex<Inner>,
    closed_rx: watch::Receiver<bool>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than losing the connection; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

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
        let mut inner = Inner {
            role,
            limits: limits.clone(),
            encoder: FrameEncoder::new(),
            out: BytesMut::with_capacity(16 * 1024),
            driver_waker: None,
            streams: HashMap::new(),
            next_local_id: if role == Role::Client { 1 } else { 2 },
            last_remote_id: 0,
            accept_queue: VecDeque::new(),
            accept_waker: None,
            incoming_alive: true,
            handles: 1,
            write_waiters: Vec::new(),
            peer_flow_control: false,
            peer_initial_window: i64::from(DEFAULT_INITIAL_WINDOW),
            peer_conn_flow: false,
            conn_send_window: i64::from(DEFAULT_INITIAL_WINDOW),
            conn_recv_unacked: 0,
            go_away_sent: false,
            go_away_received: None,
            aborted: false,
            closed: None,
            next_ping_id: if role == Role::Client { 1 } else { 2 },
            pings: HashMap::new(),
        };
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
        let shared = Arc::new(Shared {
            inner: Mutex::new(inner),
            closed_rx,
        });
        let driver = Driver {
            io,
            shared: shared.clone(),
            decoder: FrameDecoder::new(limits.max_frame_size, limits.max_header_block),
            read_buf: BytesMut::with_capacity(READ_CHUNK),
            writing: Bytes::new(),
            flush_needed: false,
            read_closed: false,
            idle: limits.idle_timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            idle_timeout: limits.idle_timeout,
        };
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
            inner.streams.remove(&id);
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
    shared: Arc<Shared>,
    id: u32,
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
        st.recv.clear();
        st.recv_len = 0;
        st.wake_all();
        if inner.closed.is_none() {
            let _ = inner.send(&Frame::RstStream {
                stream_id: id,
                status,
            });
        }
        inner.wake_driver();
    }
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut inner = this.shared.lock();
        let closed = inner.closed_error();
        let threshold = inner.window_threshold();
        let cap = inner.limits.initial_window as usize;
        let Some(st) = inner.streams.get_mut(&this.id) else {
            return Poll::Ready(Err(closed.unwrap_or(Error::Closed).into()));
        };
        if st.reset.is_none() && !st.locally_opened && !st.replied && closed.is_none() {
            // Reading a stream the peer opened accepts it: the peer (Go's spdystream) sends
            // nothing before our SYN_REPLY.
            st.replied = true;
            let fin = st.local_fin;
            inner.send(&Frame::SynReply {
                stream_id: this.id,
                fin,
                headers: Headers::new(),
            })?;
            drop(inner);
            return Pin::new(this).poll_read(cx, buf);
        }
        if st.recv_len == 0 {
            match &st.reset {
                // What the peer sent before resetting was delivered; CANCEL is how Go's
                // Kubernetes servers end every stream when they are done (spdystream
                // readers see it as EOF), so it reads as the end of the stream.
                Some(Error::RemoteReset {
                    status: RstStatus::CANCEL,
                    ..
                }) => return Poll::Ready(Ok(())),
                Some(e) => return Poll::Ready(Err(e.clone().into())),
                None => {}
            }
            if st.recv_fin {
                return Poll::Ready(Ok(()));
            }
            if let Some(e) = closed {
                return Poll::Ready(Err(e.into()));
            }
            st.read_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let was_full = st.recv_len > cap;
        let mut copied = 0;
        while buf.remaining() > 0 {
            let Some(front) = st.recv.front_mut() else {
                break;
            };
            let n = front.len().min(buf.remaining());
            buf.put_slice(&front[..n]);
            front.advance(n);
            if front.is_empty() {
                st.recv.pop_front();
            }
            copied += n;
        }
        st.recv_len -= copied;
        st.recv_unacked = st.recv_unacked.saturating_add(copied as u32);
        let mut wake = was_full && st.recv_len <= cap;
        if st.recv_unacked >= threshold && !st.recv_fin && closed.is_none() {
            let delta = st.recv_unacked.min(0x7fff_ffff);
            st.recv_unacked = 0;
            let _ = inner.send(&Frame::WindowUpdate {
                stream_id: this.id,
                delta,
            });
            wake = true;
        }
        if wake {
            inner.wake_driver();
        }
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let mut inner = this.shared.lock();
        if let Some(e) = inner.closed_error() {
            return Poll::Ready(Err(e.into()));
        }
        let id = this.id;
        let flow = inner.peer_flow_control;
        let conn_flow = inner.peer_conn_flow;
        let conn_window = inner.conn_send_window;
        let out_full = inner.out.len() >= inner.limits.max_write_buffer;
        let Some(st) = inner.streams.get_mut(&id) else {
            return Poll::Ready(Err(Error::Closed.into()));
        };
        if let Some(e) = &st.reset {
            return Poll::Ready(Err(e.clone().into()));
        }
        if st.local_fin {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                format!("write on SPDY stream {id} after its FIN"),
            )));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if st.locally_opened && !st.replied {
            st.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let mut avail = MAX_SEND_FRAME.min(buf.len());
        if flow {
            if st.send_window <= 0 {
                st.write_waker = Some(cx.waker().clone());
                return Poll::Pending;
            }
            avail = avail.min(st.send_window as usize);
        }
        if conn_flow {
            if conn_window <= 0 {
                inner.wait_for_room(cx);
                return Poll::Pending;
            }
            avail = avail.min(conn_window as usize);
        }
        if out_full {
            inner.wait_for_room(cx);
            return Poll::Pending;
        }
        let st = inner.streams.get_mut(&id).expect("checked above");
        let needs_reply = !st.locally_opened && !st.replied;
        st.replied = true;
        st.send_window -= avail as i64;
        inner.conn_send_window -= avail as i64;
        if needs_reply {
            inner.send(&Frame::SynReply {
                stream_id: id,
                fin: false,
                headers: Headers::new(),
            })?;
        }
        inner.out.reserve(avail + 8);
        FrameEncoder::data_header(&mut inner.out, id, false, avail);
        inner.out.extend_from_slice(&buf[..avail]);
        inner.wake_driver();
        Poll::Ready(Ok(avail))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.shared.lock().closed_error() {
            Some(e) => Poll::Ready(Err(e.into())),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut inner = this.shared.lock();
        let closed = inner.closed_error();
        let id = this.id;
        let Some(st) = inner.streams.get_mut(&id) else {
            return Poll::Ready(Err(closed.unwrap_or(Error::Closed).into()));
        };
        if st.local_fin {
            return Poll::Ready(Ok(()));
        }
        if let Some(e) = &st.reset {
            return Poll::Ready(Err(e.clone().into()));
        }
        if let Some(e) = closed {
            return Poll::Ready(Err(e.into()));
        }
        if st.locally_opened && !st.replied {
            st.write_waker = Some(cx.waker().clone());
            return Poll::Pending;
        }
        let needs_reply = !st.locally_opened && !st.replied;
        st.replied = true;
        st.local_fin = true;
        let frame = if needs_reply {
            Frame::SynReply {
                stream_id: id,
                fin: true,
                headers: Headers::new(),
            }
        } else {
            Frame::Data {
                stream_id: id,
                fin: true,
                data: Bytes::new(),
            }
        };
        inner.send(&frame)?;
        Poll::Ready(Ok(()))
    }
}

impl Drop for Stream {
    fn drop(&mut self) {
        let mut inner = self.shared.lock();
        let id = self.id;
        let alive = inner.closed.is_none();
        let Some(st) = inner.streams.get_mut(&id) else {
            return;
        };
        st.recv.clear();
        st.recv_len = 0;
        if !st.active() || !alive {
            inner.streams.remove(&id);
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

struct Driver<IO> {
    io: IO,
    shared: Arc<Shared>,
    decoder: FrameDecoder,
    read_buf: BytesMut,
    writing: Bytes,
    flush_needed: bool,
    read_closed: bool,
    idle: Option<Pin<Box<Sleep>>>,
    idle_timeout: Option<Duration>,
}

impl<IO: AsyncRead + AsyncWrite + Unpin> Driver<IO> {
    async fn run(mut self, closed_tx: watch::Sender<bool>) {
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
                    self.writing = inner.out.split().freeze();
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
        loop {
            let mut progress = false;
            // Outbound: hand queued frames to the transport.
            loop {
                if self.writing.is_empty() {
                    let mut inner = self.shared.lock();
                    inner.driver_waker = Some(cx.waker().clone());
                    if inner.aborted {
                        return Poll::Ready(Err(Error::Aborted));
                    }
                    if inner.out.is_empty() {
                        break;
                    }
                    self.writing = inner.out.split().freeze();
                    inner.wake_writers();
                }
                match Pin::new(&mut self.io).poll_write(cx, &self.writing) {
                    Poll::Ready(Ok(0)) => {
                        return Poll::Ready(Err(io::Error::from(io::ErrorKind::WriteZero).into()));
                    }
                    Poll::Ready(Ok(n)) => {
                        self.writing.advance(n);
                        self.flush_needed = true;
                        progress = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
                    Poll::Pending => break,
                }
            }
            if self.writing.is_empty() && self.flush_needed {
                match Pin::new(&mut self.io).poll_flush(cx) {
                    Poll::Ready(Ok(())) => self.flush_needed = false,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e.into())),
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
                            self.handle(frame)?;
                            progress = true;
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
                if no_streams && idle_out && (unused || going_away) {
                    return Poll::Ready(Ok(()));
                }
            }
            if progress {
                if let (Some(idle), Some(t)) = (self.idle.as_mut(), self.idle_timeout) {
                    idle.as_mut().reset(Instant::now() + t);
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

    fn handle(&mut self, frame: Frame) -> Result<(), Error> {
        let mut guard = self.shared.lock();
        let inner = &mut *guard;
        match frame {
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                let len = data.len() as u32;
                inner.conn_recv_unacked = inner.conn_recv_unacked.saturating_add(len);
                if inner.conn_recv_unacked >= 32 * 1024 {
                    let delta = std::mem::take(&mut inner.conn_recv_unacked).min(0x7fff_ffff);
                    inner.send(&Frame::WindowUpdate {
                        stream_id: 0,
                        delta,
                    })?;
                }
                let threshold = inner.window_threshold();
                let known_id = if inner.is_local_id(stream_id) {
                    stream_id < inner.next_local_id
                } else {
                    stream_id <= inner.last_remote_id
                };
                let Some(st) = inner.streams.get_mut(&stream_id) else {
                    if !known_id {
                        inner.send(&Frame::RstStream {
                            stream_id,
                            status: RstStatus::INVALID_STREAM,
                        })?;
                    }
                    return Ok(());
                };
                if st.reset.is_some() || st.recv_fin {
                    return Ok(());
                }
                st.recv_fin = fin;
                if st.detached {
                    st.recv_unacked = st.recv_unacked.saturating_add(len);
                    if st.recv_unacked >= threshold && !fin {
                        let delta = std::mem::take(&mut st.recv_unacked).min(0x7fff_ffff);
                        inner.send(&Frame::WindowUpdate { stream_id, delta })?;
                    }
                    inner.finish_stream_if_done(stream_id);
                    return Ok(());
                }
                if !data.is_empty() {
                    st.recv_len += data.len();
                    st.recv.push_back(data);
                }
                if let Some(w) = st.read_waker.take() {
                    w.wake();
                }
            }
            Frame::SynStream {
                stream_id,
                fin,
                unidirectional,
                headers,
                ..
            } => {
                if inner.is_local_id(stream_id) || stream_id <= inner.last_remote_id {
                    return Err(Error::Protocol(format!(
                        "SYN_STREAM with stream id {stream_id} (the last was {}, and ids of \
                         this side's parity are ours)",
                        inner.last_remote_id
                    )));
                }
                inner.last_remote_id = stream_id;
                let active = inner.streams.values().filter(|s| s.active()).count();
                if inner.go_away_sent || !inner.incoming_alive || active >= inner.limits.max_streams
                {
                    inner.send(&Frame::RstStream {
                        stream_id,
                        status: RstStatus::REFUSED_STREAM,
                    })?;
                    return Ok(());
                }
                let mut st = StreamState::new(false, inner.peer_initial_window);
                st.recv_fin = fin;
                st.local_fin = unidirectional;
                inner.streams.insert(stream_id, st);
                inner.accept_queue.push_back((stream_id, headers));
                if let Some(w) = inner.accept_waker.take() {
                    w.wake();
                }
            }
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            } => {
                if let Some(st) = inner.streams.get_mut(&stream_id)
                    && st.locally_opened
                    && !st.replied
                {
                    st.replied = true;
                    st.reply_headers = Some(headers);
                    st.recv_fin |= fin;
                    st.wake_all();
                    inner.finish_stream_if_done(stream_id);
                }
            }
            Frame::RstStream { stream_id, status } => {
                if let Some(st) = inner.streams.get_mut(&stream_id)
                    && st.reset.is_none()
                {
                    st.reset = Some(Error::RemoteReset {
                        id: stream_id,
                        status,
                    });
                    st.wake_all();
                    inner.finish_stream_if_done(stream_id);
                }
            }
            Frame::Settings { entries, .. } => {
                for e in entries {
                    if e.id == setting::INITIAL_WINDOW_SIZE {
                        let new = i64::from(e.value.min(0x7fff_ffff));
                        let diff = new - inner.peer_initial_window;
                        inner.peer_initial_window = new;
                        inner.peer_flow_control = true;
                        for st in inner.streams.values_mut() {
                            st.send_window += diff;
                            if let Some(w) = st.write_waker.take() {
                                w.wake();
                            }
                        }
                    }
                }
            }
            Frame::Ping { id } => {
                let ours = (id % 2 == 1) == (inner.role == Role::Client);
                if ours {
                    if let Some(tx) = inner.pings.remove(&id) {
                        let _ = tx.send(());
                    }
                } else {
                    inner.send(&Frame::Ping { id })?;
                }
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                inner.go_away_received = Some(status);
                let refused: Vec<u32> = inner
                    .streams
                    .keys()
                    .copied()
                    .filter(|&id| inner.is_local_id(id) && id > last_good_stream_id)
                    .collect();
                for id in refused {
                    if let Some(st) = inner.streams.get_mut(&id)
                        && st.reset.is_none()
                    {
                        st.reset = Some(Error::GoAway(status));
                        st.wake_all();
                        inner.finish_stream_if_done(id);
                    }
                }
                if let Some(w) = inner.accept_waker.take() {
                    w.wake();
                }
            }
            Frame::Headers { stream_id, fin, .. } => {
                if let Some(st) = inner.streams.get_mut(&stream_id) {
                    st.recv_fin |= fin;
                    st.wake_all();
                    inner.finish_stream_if_done(stream_id);
                }
            }
            Frame::WindowUpdate { stream_id, delta } => {
                if stream_id == 0 {
                    inner.peer_conn_flow = true;
                    inner.conn_send_window =
                        (inner.conn_send_window + i64::from(delta)).min(0x7fff_ffff);
                    inner.wake_writers();
                } else if let Some(st) = inner.streams.get_mut(&stream_id) {
                    st.send_window = (st.send_window + i64::from(delta)).min(0x7fff_ffff);
                    inner.peer_flow_control = true;
                    if let Some(w) = st.write_waker.take() {
                        w.wake();
                    }
                } else {
                    inner.peer_flow_control = true;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
