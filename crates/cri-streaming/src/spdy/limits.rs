//! The limits that keep a connection's memory bounded.

use std::time::Duration;

use super::frame::MAX_PAYLOAD;

/// Limits that keep a connection's memory bounded whatever the peer does.
///
/// The defaults suit Kubernetes streaming (exec, attach, port-forward). Memory per
/// connection stays below about `max_buffered + max_frame_size` (input held for the
/// application) `+ max_write_buffer + 64 KiB` (output) `+ max_header_block` (a header
/// block being inflated) `+ max_streams ×` a stream's bookkeeping (headers of at most
/// `max_header_block`).
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
    /// Streams the connection keeps at once, however far along (queued for
    /// [`Incoming`](super::Incoming), open, half closed, or waiting for the peer's FIN);
    /// the peer's streams past it are refused with `REFUSED_STREAM`, and a peer that goes
    /// on opening streams after four times that many refusals in a row (at least 16) is a
    /// protocol error. Default 128.
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
    /// The most bytes received and not yet read by the application, all streams together:
    /// past it we stop reading the connection until the application reads. It is also the
    /// connection window (SPDY/3.1's stream 0) we grant, returned as the application reads,
    /// so a peer that honours flow control never gets that far. Default 1 MiB.
    pub max_buffered: usize,
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
            max_buffered: 1024 * 1024,
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
    /// Sets [`Limits::max_buffered`] (at least 1 KiB).
    pub fn max_buffered(mut self, bytes: usize) -> Self {
        self.max_buffered = bytes.max(1024);
        self
    }
    /// Sets [`Limits::max_write_buffer`] (at least 1 KiB).
    pub fn max_write_buffer(mut self, bytes: usize) -> Self {
        self.max_write_buffer = bytes.max(1024);
        self
    }
}
