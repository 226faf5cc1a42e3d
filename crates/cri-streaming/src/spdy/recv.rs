//! What each frame the peer sends does to the shared state.

use super::Error;
use super::frame::{Frame, RstStatus, setting};
use super::state::{Inner, Role, StreamState};

impl Inner {
    /// Applies one decoded frame from the peer; an error ends the connection.
    pub(super) fn recv_frame(&mut self, frame: Frame) -> Result<(), Error> {
        match frame {
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                let len = data.len() as u32;
                let threshold = self.window_threshold();
                let known_id = if self.is_local_id(stream_id) {
                    stream_id < self.next_local_id
                } else {
                    stream_id <= self.last_remote_id
                };
                let Some(st) = self.streams.get_mut(&stream_id) else {
                    // Discarded: the bytes go back to the connection window at once (and
                    // below, for every other case but data buffered for the application).
                    self.credit(len as usize)?;
                    if !known_id {
                        self.send(&Frame::RstStream {
                            stream_id,
                            status: RstStatus::INVALID_STREAM,
                        })?;
                    }
                    return Ok(());
                };
                if st.reset.is_some() || st.recv_fin {
                    self.credit(len as usize)?;
                    return Ok(());
                }
                st.recv_fin = fin;
                if st.detached {
                    self.credit(len as usize)?;
                    let st = self.streams.get_mut(&stream_id).expect("present");
                    st.recv_unacked = st.recv_unacked.saturating_add(len);
                    if st.recv_unacked >= threshold && !fin {
                        let delta = std::mem::take(&mut st.recv_unacked).min(0x7fff_ffff);
                        self.send(&Frame::WindowUpdate { stream_id, delta })?;
                    }
                    self.finish_stream_if_done(stream_id);
                    return Ok(());
                }
                if let Some(w) = st.read_waker.take() {
                    w.wake();
                }
                self.buffer_input(stream_id, data);
            }
            Frame::SynStream {
                stream_id,
                fin,
                unidirectional,
                headers,
                ..
            } => {
                if self.is_local_id(stream_id) || stream_id <= self.last_remote_id {
                    return Err(Error::Protocol(format!(
                        "SYN_STREAM with stream id {stream_id} (the last was {}, and ids of \
                         this side's parity are ours)",
                        self.last_remote_id
                    )));
                }
                self.last_remote_id = stream_id;
                // Every stream the connection keeps counts: queued, open, half closed, or
                // only waiting for the peer's FIN.
                if self.go_away_sent
                    || !self.incoming_alive
                    || self.streams.len() >= self.limits.max_streams
                {
                    // A few refusals in a row are races (streams opened before our GOAWAY
                    // arrived, or as others close); a peer that keeps opening streams it is
                    // refused only costs us the work of refusing them.
                    self.refused += 1;
                    let tolerated = self.limits.max_streams.saturating_mul(4).max(16);
                    if self.refused > tolerated {
                        return Err(Error::Protocol(format!(
                            "the peer kept opening streams after {tolerated} in a row were \
                             refused"
                        )));
                    }
                    self.send(&Frame::RstStream {
                        stream_id,
                        status: RstStatus::REFUSED_STREAM,
                    })?;
                    return Ok(());
                }
                self.refused = 0;
                let mut st = StreamState::new(false, self.peer_initial_window);
                st.recv_fin = fin;
                st.local_fin = unidirectional;
                self.streams.insert(stream_id, st);
                self.accept_queue.push_back((stream_id, headers));
                if let Some(w) = self.accept_waker.take() {
                    w.wake();
                }
            }
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            } => {
                if let Some(st) = self.streams.get_mut(&stream_id)
                    && st.locally_opened
                    && !st.replied
                {
                    st.replied = true;
                    st.reply_headers = Some(headers);
                    st.recv_fin |= fin;
                    st.wake_all();
                    self.finish_stream_if_done(stream_id);
                }
            }
            Frame::RstStream { stream_id, status } => {
                if let Some(st) = self.streams.get_mut(&stream_id)
                    && st.reset.is_none()
                {
                    st.reset = Some(Error::RemoteReset {
                        id: stream_id,
                        status,
                    });
                    st.wake_all();
                    self.finish_stream_if_done(stream_id);
                }
            }
            Frame::Settings { entries, .. } => {
                for e in entries {
                    if e.id == setting::INITIAL_WINDOW_SIZE {
                        let new = i64::from(e.value.min(0x7fff_ffff));
                        let diff = new - self.peer_initial_window;
                        self.peer_initial_window = new;
                        self.peer_flow_control = true;
                        for st in self.streams.values_mut() {
                            st.send_window += diff;
                            if let Some(w) = st.write_waker.take() {
                                w.wake();
                            }
                        }
                    }
                }
            }
            Frame::Ping { id } => {
                let ours = (id % 2 == 1) == (self.role == Role::Client);
                if ours {
                    if let Some(tx) = self.pings.remove(&id) {
                        let _ = tx.send(());
                    }
                } else {
                    self.send(&Frame::Ping { id })?;
                }
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                self.go_away_received = Some(status);
                let refused: Vec<u32> = self
                    .streams
                    .keys()
                    .copied()
                    .filter(|&id| self.is_local_id(id) && id > last_good_stream_id)
                    .collect();
                for id in refused {
                    if let Some(st) = self.streams.get_mut(&id)
                        && st.reset.is_none()
                    {
                        st.reset = Some(Error::GoAway(status));
                        st.wake_all();
                        self.finish_stream_if_done(id);
                    }
                }
                if let Some(w) = self.accept_waker.take() {
                    w.wake();
                }
            }
            Frame::Headers { stream_id, fin, .. } => {
                if let Some(st) = self.streams.get_mut(&stream_id) {
                    st.recv_fin |= fin;
                    st.wake_all();
                    self.finish_stream_if_done(stream_id);
                }
            }
            Frame::WindowUpdate { stream_id, delta } => {
                if stream_id == 0 {
                    self.peer_conn_flow = true;
                    self.conn_send_window =
                        (self.conn_send_window + i64::from(delta)).min(0x7fff_ffff);
                    self.wake_writers();
                } else if let Some(st) = self.streams.get_mut(&stream_id) {
                    st.send_window = (st.send_window + i64::from(delta)).min(0x7fff_ffff);
                    self.peer_flow_control = true;
                    if let Some(w) = st.write_waker.take() {
                        w.wake();
                    }
                } else {
                    self.peer_flow_control = true;
                }
            }
            _ => {}
        }
        Ok(())
    }
}
