//! A stream's I/O: reads from what the driver queued for it, writes as DATA frames within
//! the peer's windows and our write buffer, `shutdown` as FIN.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, Bytes};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::frame::{Frame, RstStatus};
use super::{Error, Headers, Stream};

/// The largest DATA payload we send in one frame.
const MAX_SEND_FRAME: usize = 64 * 1024;

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
            let _ = inner.window_update(this.id, delta);
            wake = true;
        }
        if wake {
            inner.wake_driver();
        }
        // Wakes the driver too if the connection's buffer was what paused it.
        inner.consumed(copied);
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
        if let Some(e) = inner.send_error() {
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
        inner.queue_data(id, &buf[..avail], MAX_SEND_FRAME);
        Poll::Ready(Ok(avail))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.shared.lock().send_error() {
            Some(e) => Poll::Ready(Err(e.into())),
            None => Poll::Ready(Ok(())),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let mut inner = this.shared.lock();
        let closed = inner.send_error();
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
