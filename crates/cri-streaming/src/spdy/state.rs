//! The state a connection's handles share with its driver: the streams, the outbound
//! buffer, the windows and the wakers, behind one lock.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Waker};

use bytes::{Bytes, BytesMut};
use tokio::sync::{oneshot, watch};

use super::frame::{DEFAULT_INITIAL_WINDOW, Frame, FrameEncoder, GoAwayStatus};
use super::{Error, Headers, Limits};

/// Control frames (PING answers, WINDOW_UPDATE, RST) may push the outbound buffer this far
/// past [`Limits::max_write_buffer`] before we stop reading from a peer that does not read.
const CONTROL_SLACK: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Role {
    Client,
    Server,
}

#[derive(Debug)]
pub(super) struct StreamState {
    pub(super) recv: VecDeque<Bytes>,
    pub(super) recv_len: usize,
    pub(super) recv_fin: bool,
    pub(super) recv_unacked: u32,
    pub(super) read_waker: Option<Waker>,
    pub(super) send_window: i64,
    pub(super) local_fin: bool,
    pub(super) write_waker: Option<Waker>,
    pub(super) reset: Option<Error>,
    pub(super) locally_opened: bool,
    pub(super) replied: bool,
    pub(super) reply_headers: Option<Headers>,
    pub(super) reply_waker: Option<Waker>,
    /// The application dropped its handle after finishing its side: remaining input is
    /// discarded until the peer finishes too.
    pub(super) detached: bool,
}

impl StreamState {
    pub(super) fn new(locally_opened: bool, send_window: i64) -> Self {
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

    pub(super) fn active(&self) -> bool {
        self.reset.is_none() && !(self.local_fin && self.recv_fin)
    }

    pub(super) fn wake_all(&mut self) {
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

pub(super) struct Inner {
    pub(super) role: Role,
    pub(super) limits: Limits,
    pub(super) encoder: FrameEncoder,
    pub(super) out: BytesMut,
    /// The DATA frame at the end of `out`, if the last thing queued is one: its stream and
    /// where its header starts. A write to that stream while the driver has not taken `out`
    /// grows this frame instead of adding one (see `queue_data`).
    open_data: Option<(u32, usize)>,
    pub(super) driver_waker: Option<Waker>,
    pub(super) streams: HashMap<u32, StreamState>,
    pub(super) next_local_id: u32,
    pub(super) last_remote_id: u32,
    pub(super) accept_queue: VecDeque<(u32, Headers)>,
    pub(super) accept_waker: Option<Waker>,
    pub(super) incoming_alive: bool,
    pub(super) handles: usize,
    pub(super) write_waiters: Vec<Waker>,
    pub(super) peer_flow_control: bool,
    pub(super) peer_initial_window: i64,
    pub(super) peer_conn_flow: bool,
    pub(super) conn_send_window: i64,
    pub(super) conn_recv_unacked: u32,
    /// What the peer may still send on the connection under the window we granted
    /// (SPDY/3.1's stream 0); see `input.rs`.
    pub(super) conn_recv_window: i64,
    /// The peer sent past the window we granted (Go's spdystream ignores windows): no
    /// WINDOW_UPDATE goes to it any more (see `input.rs`).
    pub(super) peer_ignores_windows: bool,
    pub(super) go_away_sent: bool,
    pub(super) go_away_received: Option<GoAwayStatus>,
    pub(super) aborted: bool,
    pub(super) closed: Option<Result<(), Error>>,
    pub(super) next_ping_id: u32,
    pub(super) pings: HashMap<u32, oneshot::Sender<()>>,
    /// The sum of the streams' `recv_len` (see `input.rs`).
    pub(super) buffered: usize,
    /// The peer's streams refused since the last one admitted.
    pub(super) refused: usize,
    /// Writing to the transport failed (the peer reset the connection): nothing more is
    /// sent, while what the peer sent before is still read.
    pub(super) write_failed: Option<Error>,
}

impl Inner {
    /// The state of a new connection: no streams, the peer's windows at the protocol's
    /// default until its SETTINGS say otherwise.
    pub(super) fn new(role: Role, limits: Limits) -> Self {
        Inner {
            role,
            limits,
            encoder: FrameEncoder::new(),
            out: BytesMut::with_capacity(16 * 1024),
            open_data: None,
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
            conn_recv_window: i64::from(DEFAULT_INITIAL_WINDOW),
            peer_ignores_windows: false,
            go_away_sent: false,
            go_away_received: None,
            aborted: false,
            closed: None,
            next_ping_id: if role == Role::Client { 1 } else { 2 },
            pings: HashMap::new(),
            buffered: 0,
            refused: 0,
            write_failed: None,
        }
    }

    /// Registers the driver's task to be woken by [`wake_driver`](Self::wake_driver).
    pub(super) fn register_driver(&mut self, cx: &Context<'_>) {
        match &self.driver_waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            _ => self.driver_waker = Some(cx.waker().clone()),
        }
    }

    pub(super) fn wake_driver(&mut self) {
        if let Some(w) = self.driver_waker.take() {
            w.wake();
        }
    }

    /// Queues a control frame. Encoding only fails for frames we built wrongly or for
    /// headers the application gave (returned to it).
    pub(super) fn send(&mut self, frame: &Frame) -> Result<(), Error> {
        self.open_data = None;
        self.encoder.encode(frame, &mut self.out)?;
        self.wake_driver();
        Ok(())
    }

    /// Queues `data` (at most `max_frame` bytes) on stream `id` as DATA without FIN.
    ///
    /// Writes that come faster than the driver sends them (a pipe read a few lines at a
    /// time) join the DATA frame still waiting at the end of the queue, up to `max_frame`:
    /// the peer then handles one frame where it would have handled many (containerd passes
    /// each frame on to the command as a write of its own), and nothing waits for it.
    pub(super) fn queue_data(&mut self, id: u32, data: &[u8], max_frame: usize) {
        if let Some((open_id, start)) = self.open_data {
            let len = self.out.len() - start - 8;
            if open_id == id && len + data.len() <= max_frame {
                let header = &mut self.out[start + 4..start + 8];
                header.copy_from_slice(&((len + data.len()) as u32).to_be_bytes());
                self.out.extend_from_slice(data);
                self.wake_driver();
                return;
            }
        }
        let start = self.out.len();
        self.out.reserve(data.len() + 8);
        FrameEncoder::data_header(&mut self.out, id, false, data.len());
        self.out.extend_from_slice(data);
        self.open_data = Some((id, start));
        self.wake_driver();
    }

    /// Hands what is queued to the driver (swapped with its empty `into`).
    pub(super) fn take_out(&mut self, into: &mut BytesMut) {
        self.open_data = None;
        std::mem::swap(into, &mut self.out);
        self.out.clear();
    }

    /// Drops what is queued.
    pub(super) fn clear_out(&mut self) {
        self.open_data = None;
        self.out.clear();
    }

    pub(super) fn closed_error(&self) -> Option<Error> {
        match &self.closed {
            Some(Err(e)) => Some(e.clone()),
            Some(Ok(())) => Some(Error::Closed),
            None if self.aborted => Some(Error::Aborted),
            None => None,
        }
    }

    /// Why nothing can be sent any more, if so: the connection ended, or writing to it failed.
    pub(super) fn send_error(&self) -> Option<Error> {
        self.closed_error().or_else(|| self.write_failed.clone())
    }

    /// Writing to the transport failed with `error`: what is queued is dropped, and every
    /// writer waiting for room or a window learns it.
    pub(super) fn fail_writes(&mut self, error: Error) {
        self.write_failed = Some(error);
        self.clear_out();
        self.wake_writers();
        for st in self.streams.values_mut() {
            if let Some(w) = st.write_waker.take() {
                w.wake();
            }
        }
    }

    pub(super) fn is_local_id(&self, id: u32) -> bool {
        (id % 2 == 1) == (self.role == Role::Client)
    }

    pub(super) fn window_threshold(&self) -> u32 {
        (self.limits.initial_window / 2).max(1)
    }

    /// Whether the driver must stop reading: the peer does not read what we send, or the
    /// application does not read what the peer sent ([`Inner::input_full`]).
    pub(super) fn read_paused(&self) -> bool {
        self.out.len() > self.limits.max_write_buffer + CONTROL_SLACK || self.input_full()
    }

    pub(super) fn wait_for_room(&mut self, cx: &Context<'_>) {
        if !self.write_waiters.iter().any(|w| w.will_wake(cx.waker())) {
            self.write_waiters.push(cx.waker().clone());
        }
    }

    pub(super) fn wake_writers(&mut self) {
        for w in self.write_waiters.drain(..) {
            w.wake();
        }
    }

    pub(super) fn finish_stream_if_done(&mut self, id: u32) {
        if let Some(st) = self.streams.get(&id)
            && st.detached
            && !st.active()
        {
            self.remove_stream(id);
        }
    }
}

pub(super) struct Shared {
    pub(super) inner: Mutex<Inner>,
    pub(super) closed_rx: watch::Receiver<bool>,
}

impl Shared {
    pub(super) fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters more than losing the connection; keep serving.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}
