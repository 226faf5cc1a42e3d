//! The demultiplexer: a reading task routes a connection's messages to per-channel readers,
//! a writing task sends what the channel writers queue, and both end the connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, oneshot, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::frame::{Frame, Framing, decode, encode, encode_close};
use crate::pipe::{Budget, ChannelReader, ChannelWriter, Outgoing, cost};

/// Limits of one WebSocket connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MuxLimits {
    /// The connection ends when nothing was read or written for this long.
    pub idle_timeout: Duration,
    /// After the end of the session, how long to wait for the peer's close.
    pub finish_timeout: Duration,
    /// The largest chunk one message carries.
    pub max_chunk: usize,
    /// The most bytes received and not yet read by the application, all channels together:
    /// past it the reading task waits (and TCP slows the peer down).
    pub max_buffered: usize,
}

/// While the reading task waits for the application to read (the peer's input is
/// back-pressured), the writing task sends a PING this often: a peer that vanished answers
/// it with a TCP reset, which ends the connection, where waiting for its close could last
/// forever (its FIN queues behind the input nobody reads).
pub(crate) const STALL_PROBE_INTERVAL: Duration = Duration::from_secs(1);

/// How a connection ended.
#[derive(Debug, Clone)]
pub(crate) enum End {
    /// The peer closed it (a close frame or end of stream), or this side finished.
    Closed,
    /// It failed: a protocol error, an I/O error or the idle timeout.
    Failed(String),
}

/// A WebSocket connection split into channels: readers for the channels the peer writes,
/// a sender for the channels this side writes, and a watch of how the connection ended.
pub(crate) struct Mux {
    pub readers: HashMap<u8, ChannelReader>,
    pub out: mpsc::Sender<Outgoing>,
    /// `None` while the connection is up.
    pub ended: watch::Receiver<Option<End>>,
    pub max_chunk: usize,
    framing: Framing,
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // ended by the server's sessions
    writer: tokio::task::JoinHandle<()>,
}

impl Mux {
    /// Starts the reading and writing tasks. `inbound` are the channels the peer may write;
    /// a message on another channel ends the connection with an error.
    pub fn start<S>(
        ws: WebSocketStream<S>,
        framing: Framing,
        inbound: &[u8],
        limits: MuxLimits,
    ) -> Mux
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let (sink, stream) = ws.split();
        let budget = Budget::new(limits.max_buffered);
        let mut senders = HashMap::new();
        let mut readers = HashMap::new();
        for &ch in inbound {
            let (tx, rx) = mpsc::channel(16);
            senders.insert(ch, tx);
            readers.insert(ch, ChannelReader::new(rx, budget.clone()));
        }
        let clock = Clock {
            started: Instant::now(),
            activity: Arc::new(AtomicU64::new(0)),
        };
        let stalled = Arc::new(AtomicBool::new(false));
        let (ended_tx, ended) = watch::channel(None);
        let (writer_done, writer_result) = oneshot::channel();
        let (out, out_rx) = mpsc::channel(32);
        tokio::spawn(
            ReadSide {
                stream,
                framing,
                senders,
                inbound: inbound.to_vec(),
                idle_timeout: limits.idle_timeout,
                clock: clock.clone(),
                stalled: stalled.clone(),
                budget,
            }
            .run(writer_result, ended_tx),
        );
        let write_side = WriteSide {
            framing,
            ended: ended.clone(),
            finish_timeout: limits.finish_timeout,
            clock,
            stalled,
        };
        let writer = tokio::spawn(async move {
            let result = write_side.run(sink, out_rx).await;
            let _ = writer_done.send(result.err());
        });
        Mux {
            readers,
            out,
            ended,
            max_chunk: limits.max_chunk,
            framing,
            writer,
        }
    }

    /// A writer for channel `ch`.
    pub fn writer(&self, ch: u8) -> ChannelWriter {
        let writer = ChannelWriter::new(self.out.clone(), ch, self.max_chunk);
        if self.framing.base64 {
            writer
        } else {
            writer.framed()
        }
    }

    /// Waits until the connection ended; how.
    pub async fn wait_end(ended: &mut watch::Receiver<Option<End>>) -> End {
        loop {
            if let Some(end) = ended.borrow_and_update().clone() {
                return end;
            }
            if ended.changed().await.is_err() {
                return End::Closed;
            }
        }
    }

    /// Closes the writing side (after what is queued, a close frame) and waits until the
    /// writing task is done (the peer answered the close, or the finish timeout passed).
    #[cfg(feature = "server")]
    pub async fn finish(self) {
        let Mux {
            readers,
            out,
            writer,
            ..
        } = self;
        drop(readers);
        let _ = out.send(Outgoing::End).await;
        drop(out);
        let _ = writer.await;
    }

    /// Stops the writing task at once (the connection is dropped).
    #[cfg(feature = "server")]
    pub fn abort(&self) {
        self.writer.abort();
    }
}

/// When a byte last moved, shared by both tasks, for the idle timeout.
#[derive(Clone)]
struct Clock {
    started: Instant,
    activity: Arc<AtomicU64>,
}

impl Clock {
    fn touch(&self) {
        self.activity
            .store(self.started.elapsed().as_millis() as u64, Ordering::Relaxed);
    }

    fn idle_deadline(&self, idle_timeout: Duration) -> Instant {
        self.started + Duration::from_millis(self.activity.load(Ordering::Relaxed)) + idle_timeout
    }
}

struct ReadSide<S> {
    stream: futures_util::stream::SplitStream<WebSocketStream<S>>,
    framing: Framing,
    senders: HashMap<u8, mpsc::Sender<Bytes>>,
    inbound: Vec<u8>,
    idle_timeout: Duration,
    clock: Clock,
    /// Raised while a message waits for the application to read.
    stalled: Arc<AtomicBool>,
    budget: Arc<Budget>,
}

impl<S> ReadSide<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    /// Reads until the peer closes, the protocol breaks, the connection idles out or the
    /// writing task ends (`writer`: its failure, if any), then says how on `ended`.
    async fn run(
        mut self,
        mut writer: oneshot::Receiver<Option<String>>,
        ended: watch::Sender<Option<End>>,
    ) {
        // A message read but not yet taken by its channel's reader (full, or over budget):
        // nothing more is read meanwhile, but the writer's end and the idle timeout are
        // still watched.
        let mut pending: Option<(u8, Bytes)> = None;
        let end = loop {
            let deadline = self.clock.idle_deadline(self.idle_timeout);
            self.stalled.store(pending.is_some(), Ordering::Relaxed);
            let waiting = pending
                .as_ref()
                .and_then(|(ch, data)| Some((self.senders.get(ch)?.clone(), cost(data))));
            if waiting.is_none() {
                pending = None;
            }
            let budget = self.budget.clone();
            let next = tokio::select! {
                result = &mut writer => break match result {
                    Ok(Some(error)) => End::Failed(error),
                    // The writer finished (the session is over) or was stopped.
                    _ => End::Closed,
                },
                Some(permit) = async {
                    let (tx, cost) = waiting?;
                    budget.room(cost).await;
                    Some(tx.reserve_owned().await)
                }, if pending.is_some() => {
                    let (ch, data) = pending.take().expect("pending");
                    match permit {
                        Ok(permit) => {
                            self.budget.charge(cost(&data));
                            permit.send(data);
                            self.clock.touch();
                        }
                        // Nobody reads this channel any more: what follows on it is
                        // discarded, like upstream does for a closed read channel.
                        Err(_) => {
                            self.senders.remove(&ch);
                        }
                    }
                    continue;
                }
                next = self.stream.next(), if pending.is_none() => next,
                () = tokio::time::sleep_until(deadline.into()) => {
                    if self.clock.idle_deadline(self.idle_timeout) <= Instant::now() {
                        break End::Failed(format!(
                            "idle timeout: nothing read or written for {:?}",
                            self.idle_timeout
                        ));
                    }
                    continue;
                }
            };
            self.clock.touch();
            let message = match next {
                None => break End::Closed,
                Some(Err(error)) => break End::Failed(format!("WebSocket error: {error}")),
                Some(Ok(Message::Close(_))) => break End::Closed,
                Some(Ok(message)) => message,
            };
            match decode(message, self.framing) {
                Ok(None) => {}
                Ok(Some(Frame::Close(ch))) => {
                    if !self.inbound.contains(&ch) {
                        break End::Failed(format!(
                            "close signal for channel {ch}, which the peer does not write"
                        ));
                    }
                    self.senders.remove(&ch);
                }
                Ok(Some(Frame::Data(ch, data))) => {
                    if !self.inbound.contains(&ch) {
                        break End::Failed(format!(
                            "message for channel {ch}, which the peer may not write \
                             (it may write {:?})",
                            self.inbound
                        ));
                    }
                    if !data.is_empty() && self.senders.contains_key(&ch) {
                        pending = Some((ch, data));
                    }
                }
                Err(error) => break End::Failed(format!("malformed message: {error}")),
            }
        };
        self.stalled.store(false, Ordering::Relaxed);
        drop(self.senders);
        let _ = ended.send(Some(end));
    }
}

struct WriteSide {
    framing: Framing,
    ended: watch::Receiver<Option<End>>,
    finish_timeout: Duration,
    clock: Clock,
    stalled: Arc<AtomicBool>,
}

impl WriteSide {
    /// Writes what the channel writers queue until the session's end (then a close frame),
    /// the reading side's end, or a write error (returned).
    async fn run<S>(
        mut self,
        mut sink: futures_util::stream::SplitSink<WebSocketStream<S>, Message>,
        mut rx: mpsc::Receiver<Outgoing>,
    ) -> Result<(), String>
    where
        S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        let failed =
            |e: tokio_tungstenite::tungstenite::Error| format!("WebSocket write error: {e}");
        let mut probe = tokio::time::interval(STALL_PROBE_INTERVAL);
        probe.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let item = tokio::select! {
                item = rx.recv() => item,
                end = Mux::wait_end(&mut self.ended) => {
                    // The peer is gone or broke the protocol: say why, best effort, and stop.
                    if let End::Failed(reason) = end {
                        let frame = CloseFrame { code: CloseCode::Protocol, reason: truncate(&reason).into() };
                        let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(Some(frame)))).await;
                    }
                    return Ok(());
                }
                _ = probe.tick() => {
                    if self.stalled.load(Ordering::Relaxed) {
                        // Not activity: a peer that only answers probes is idle.
                        sink.send(Message::Ping(Bytes::new())).await.map_err(failed)?;
                    }
                    continue;
                }
            };
            let message = match item {
                Some(Outgoing::Data(ch, data)) => Some(encode(ch, &data, self.framing)),
                Some(Outgoing::Frame(message)) => Some(Message::Binary(message)),
                Some(Outgoing::Close(ch)) => encode_close(ch, self.framing),
                Some(Outgoing::End) | None => break,
            };
            if let Some(message) = message {
                sink.feed(message).await.map_err(failed)?;
            }
            // Batch what is queued; flush once the queue is empty.
            if rx.is_empty() {
                sink.flush().await.map_err(failed)?;
            }
            self.clock.touch();
        }
        // Everything is written: close, and give the peer time to read it all and answer.
        let _ = sink.send(Message::Close(None)).await;
        let _ = tokio::time::timeout(self.finish_timeout, Mux::wait_end(&mut self.ended)).await;
        Ok(())
    }
}

fn truncate(reason: &str) -> String {
    // A close frame's reason has at most 123 bytes.
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}
