//! What a connection holds for its application: the bytes received and not yet read, the
//! connection window that returns them to the peer as they are read, and the probe sent
//! while reading is paused for them.
//!
//! A stream buffers at most [`Limits::initial_window`] and the connection at most
//! [`Limits::max_buffered`] (then the driver stops reading). The connection window granted
//! to the peer is that same `max_buffered` and is returned only as the application reads,
//! so a peer that honours SPDY/3.1's flow control never makes the driver pause; Go's
//! spdystream ignores windows and is slowed down by TCP instead.
//!
//! A peer that sends past the window granted to it ignores windows, and gets no more
//! WINDOW_UPDATEs: they are of no use to it, and they can cost it what it had left to send.
//! spdystream closes its socket as soon as its last frames are queued in the kernel; a
//! WINDOW_UPDATE that reaches the closed socket makes the kernel reset the connection and
//! drop what it had not sent yet (containerd 1.6: `crictl exec -i … cat` of 24 MiB with a
//! reader of stdout that stalls lost its last 3-4 MiB to `connection reset by peer` in 3
//! runs of 10). Go's client never sends one. For the same reason a client does not probe a
//! stalled peer (below): what the server sent before its close is still to be read.

use std::time::Duration;

use super::Error;
#[cfg(doc)]
use super::Limits;
use super::frame::{DEFAULT_INITIAL_WINDOW, Frame};
use super::state::Inner;

/// While reading is paused because the application does not read its input, a probe goes
/// out this often: a peer that vanished answers it with a TCP reset, which ends the
/// connection, where waiting for its close could last until the idle timeout (its FIN
/// queues behind the input nobody reads).
///
/// The probe is a WINDOW_UPDATE, not a PING: a live peer need not answer it. spdystream
/// answers a PING from the goroutine that reads the connection, under the lock its stdin
/// writer holds while blocked on the full socket (we are not reading); its reading then
/// stops, our stdout to it blocks, the command stops reading stdin, and nothing moves again
/// (Go crictl `exec -i cat` of 256 MiB into cri-fake: 1 run in about 12 hung for good).
pub(super) const STALL_PROBE_INTERVAL: Duration = Duration::from_secs(1);

impl Inner {
    /// Whether the application holds too much unread input: a stream's buffer is full, or
    /// the connection's.
    pub(super) fn input_full(&self) -> bool {
        let cap = self.limits.initial_window as usize;
        self.buffered > self.limits.max_buffered || self.streams.values().any(|s| s.recv_len > cap)
    }

    /// Buffers `data` for stream `id` (known to exist).
    pub(super) fn buffer_input(&mut self, id: u32, data: bytes::Bytes) {
        if data.is_empty() {
            return;
        }
        if let Some(st) = self.streams.get_mut(&id) {
            st.recv_len += data.len();
            self.buffered += data.len();
            st.recv.push_back(data);
        }
    }

    /// Discards what stream `id` holds unread.
    pub(super) fn discard_input(&mut self, id: u32) {
        if let Some(st) = self.streams.get_mut(&id) {
            let n = std::mem::take(&mut st.recv_len);
            st.recv.clear();
            self.consumed(n);
        }
    }

    /// Forgets stream `id` and what it holds.
    pub(super) fn remove_stream(&mut self, id: u32) {
        if let Some(st) = self.streams.remove(&id) {
            self.consumed(st.recv_len);
        }
    }

    /// `n` buffered bytes were read or discarded: they leave the connection's buffer and
    /// go back to the peer's connection window. Wakes the driver if that ends a pause.
    pub(super) fn consumed(&mut self, n: usize) {
        let max = self.limits.max_buffered;
        if self.buffered > max && self.buffered - n <= max {
            self.wake_driver();
        }
        self.buffered -= n;
        if self.closed.is_none() && !self.aborted {
            // Only an encoding error could fail, and a WINDOW_UPDATE always encodes.
            let _ = self.credit(n);
        }
    }

    /// Returns `n` received bytes to the peer's connection window (stream 0), in
    /// WINDOW_UPDATEs of at least half the window or 32 KiB.
    pub(super) fn credit(&mut self, n: usize) -> Result<(), Error> {
        self.conn_recv_unacked = self
            .conn_recv_unacked
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        let threshold = (self.limits.max_buffered / 2).clamp(1, 32 * 1024);
        if self.conn_recv_unacked as usize >= threshold {
            let delta = std::mem::take(&mut self.conn_recv_unacked).min(0x7fff_ffff);
            self.window_update(0, delta)?;
        }
        Ok(())
    }

    /// The WINDOW_UPDATE that opens the connection window from the protocol's initial
    /// 64 KiB to [`Limits::max_buffered`], if it is larger (counted as granted: it is the
    /// first frame sent after SETTINGS).
    pub(super) fn initial_credit(&mut self) -> Option<Frame> {
        let grant = self
            .limits
            .max_buffered
            .saturating_sub(DEFAULT_INITIAL_WINDOW as usize)
            .min(0x7fff_ffff) as u32;
        self.conn_recv_window += i64::from(grant);
        (grant > 0).then_some(Frame::WindowUpdate {
            stream_id: 0,
            delta: grant,
        })
    }

    /// Sends a WINDOW_UPDATE of `delta` for `stream_id` (0: the connection), unless the peer
    /// ignores windows. The driver is woken either way, as it was when every update went
    /// out: it comes back to its reading at the same points.
    pub(super) fn window_update(&mut self, stream_id: u32, delta: u32) -> Result<(), Error> {
        if self.peer_ignores_windows {
            self.wake_driver();
            return Ok(());
        }
        if stream_id == 0 {
            self.conn_recv_window += i64::from(delta);
        }
        self.send(&Frame::WindowUpdate { stream_id, delta })
    }

    /// Counts `len` bytes of DATA received against the connection window granted; past it,
    /// the peer ignores windows.
    pub(super) fn received(&mut self, len: u32) {
        self.conn_recv_window -= i64::from(len);
        if self.conn_recv_window < 0 {
            self.peer_ignores_windows = true;
        }
    }

    /// Whether a stalled peer is probed: only by a server (see the module docs).
    pub(super) fn probes_when_stalled(&self) -> bool {
        self.role == super::state::Role::Server
    }

    /// Queues the stall probe: a WINDOW_UPDATE of the connection's credit not yet returned,
    /// at least one byte (see [`STALL_PROBE_INTERVAL`]); sent even to a peer that ignores
    /// windows.
    pub(super) fn probe(&mut self) -> Result<(), Error> {
        let delta = std::mem::take(&mut self.conn_recv_unacked).clamp(1, 0x7fff_ffff);
        self.conn_recv_window += i64::from(delta);
        self.send(&Frame::WindowUpdate {
            stream_id: 0,
            delta,
        })
    }
}
