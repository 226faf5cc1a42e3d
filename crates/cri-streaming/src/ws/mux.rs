//! The demultiplexer: a reading task routes a connection's messages to per-channel readers,
//! a writing task sends what the channel writers queue, and both end the connection.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{FutureExt, SinkExt, StreamExt};
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

/// The most bytes the reading side takes from what already arrived before it hands them over
/// (beyond one message).
const BURST: usize = 128 << 10;

/// About how many bytes of messages the writers may queue ahead of the connection.
const OUT_QUEUE_BYTES: usize = 1 << 20;

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
    /// When a message last moved.
    #[cfg_attr(not(feature = "client"), allow(dead_code))] // read by the client's quiet timer
    pub activity: Activity,
    framing: Framing,
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // ended by the server's sessions
    writer: tokio::task::JoinHandle<()>,
}

/// When a connection last moved a message either way, and whether its reading side waits
/// for the application.
#[derive(Clone)]
#[cfg_attr(not(feature = "client"), allow(dead_code))]
pub(crate) struct Activity {
    clock: Clock,
    stalled: Arc<AtomicBool>,
}

impl Activity {
    /// How long no message moved; zero while the reading side waits for the application to
    /// read (the peer is held back then, not quiet).
    #[cfg(feature = "client")]
    pub fn quiet_for(&self) -> Duration {
        if self.stalled.load(Ordering::Relaxed) {
            return Duration::ZERO;
        }
        let last = Duration::from_millis(self.clock.activity.load(Ordering::Relaxed));
        self.clock.started.elapsed().saturating_sub(last)
    }
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
        // What the writers may queue ahead of the connection: about 1 MiB of messages (more
        // only makes a writer faster than the peer hold more memory).
        let (out, out_rx) = mpsc::channel((OUT_QUEUE_BYTES / limits.max_chunk.max(1)).clamp(4, 32));
        let read_side = ReadSide {
            stream,
            framing,
            senders,
            inbound: inbound.to_vec(),
            idle_timeout: limits.idle_timeout,
            clock: clock.clone(),
            stalled: stalled.clone(),
            budget,
        };
        let activity = Activity {
            clock: clock.clone(),
            stalled: stalled.clone(),
        };
        let write_side = WriteSide {
            framing,
            ended: ended.clone(),
            finish_timeout: limits.finish_timeout,
            clock,
            stalled,
        };
        // Both sides in one task: they share the connection (a lock taken on each read and
        // write), and on two threads a transfer both ways kept waking each other across
        // them.
        let writer = tokio::spawn(async move {
            let writing = async move {
                let result = write_side.run(sink, out_rx).await;
                let _ = writer_done.send(result.err());
            };
            tokio::join!(writing, read_side.run(writer_result, ended_tx));
        });
        Mux {
            readers,
            out,
            ended,
            max_chunk: limits.max_chunk,
            activity,
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

    /// Ends a connection whose reading side has ended: the writing side says why when it
    /// failed (a close frame with the reason, which takes it at most a second), then the
    /// connection is dropped.
    #[cfg(feature = "server")]
    pub async fn abort(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(2), &mut self.writer).await;
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
        // Messages read but not yet taken by their channels' readers (full, or over budget):
        // nothing more is read meanwhile, but the writer's end and the idle timeout are
        // still watched. What is already read arrives in it together, handed over in one
        // burst: the reader (often on another thread) then wakes once for several messages.
        // (A channel's close signal waits in it too, behind that channel's bytes.)
        let mut pending: VecDeque<(u8, Option<Bytes>)> = VecDeque::new();
        // What ended a burst that is not data (the peer's close, the end, an error): it
        // is taken once everything before it went to its reader.
        let mut held = None;
        // A protocol error in a burst: the connection ends once what came before it went to
        // its readers.
        let mut failure = None;
        // One timer for the idle timeout, moved on only when it fires (setting one for each
        // message costs the timer wheel's lock each time).
        let idle = tokio::time::sleep_until(self.clock.idle_deadline(self.idle_timeout).into());
        tokio::pin!(idle);
        let end = loop {
            // What was read goes to its readers at once where there is room (the common
            // case), without a turn of the loop below.
            while let Some((ch, data)) = pending.pop_front() {
                if let Some(back) = self.deliver_now(ch, data) {
                    pending.push_front(back);
                    break;
                }
            }
            if pending.is_empty()
                && let Some(end) = failure.take()
            {
                break end;
            }
            self.stalled.store(!pending.is_empty(), Ordering::Relaxed);
            // (At the front after the deliveries above: bytes, a close is always taken.)
            let waiting = pending.front().map(|(ch, data)| {
                let cost = data.as_ref().map_or(0, cost);
                (self.senders.get(ch).cloned(), cost)
            });
            let budget = self.budget.clone();
            let next = tokio::select! {
                result = &mut writer => break match result {
                    Ok(Some(error)) => End::Failed(error),
                    // The writer finished (the session is over) or was stopped.
                    _ => End::Closed,
                },
                permit = async {
                    let (tx, cost) = waiting.expect("a pending message");
                    // Nobody reads this channel any more: discarded below.
                    let tx = tx?;
                    budget.room(cost).await;
                    Some(tx.reserve_owned().await)
                }, if !pending.is_empty() => {
                    let (ch, data) = pending.pop_front().expect("pending");
                    match (permit, data) {
                        (Some(Ok(permit)), Some(data)) => {
                            self.budget.charge(cost(&data));
                            permit.send(data);
                            self.clock.touch();
                        }
                        (Some(Ok(_)), None) => {
                            self.senders.remove(&ch);
                        }
                        // Nobody reads this channel any more: what follows on it is
                        // discarded, like upstream does for a closed read channel.
                        (Some(Err(_)) | None, _) => {
                            self.senders.remove(&ch);
                            pending.retain(|(c, _)| *c != ch);
                        }
                    }
                    continue;
                }
                next = async {
                    match held.take() {
                        Some(item) => item,
                        None => self.stream.next().await,
                    }
                }, if pending.is_empty() => next,
                () = &mut idle => {
                    let deadline = self.clock.idle_deadline(self.idle_timeout);
                    if deadline <= Instant::now() {
                        break End::Failed(format!(
                            "idle timeout: nothing read or written for {:?}",
                            self.idle_timeout
                        ));
                    }
                    idle.as_mut().reset(deadline.into());
                    continue;
                }
            };
            self.clock.touch();
            // This message, then those already arrived (up to a bound), without waiting.
            let mut next = Some(next);
            let mut queued = 0usize;
            let end = loop {
                let Some(item) = next.take() else {
                    break None;
                };
                let message = match item {
                    None => break Some(End::Closed),
                    Some(Err(error)) => {
                        break Some(End::Failed(format!("WebSocket error: {error}")));
                    }
                    Some(Ok(Message::Close(_))) => break Some(End::Closed),
                    Some(Ok(message)) => message,
                };
                match self.accept(message) {
                    Ok(Some((ch, data))) => {
                        queued += data.as_ref().map_or(0, Bytes::len);
                        pending.push_back((ch, data));
                    }
                    Ok(None) => {}
                    Err(end) if pending.is_empty() => break Some(end),
                    Err(end) => {
                        failure = Some(end);
                        break None;
                    }
                }
                if queued < BURST {
                    // Polled without a waker: when nothing is there, the next turn of the
                    // loop above polls it again with one (before it sleeps).
                    match self.stream.next().now_or_never() {
                        Some(Some(Ok(message @ (Message::Binary(_) | Message::Text(_))))) => {
                            next = Some(Some(Ok(message)));
                        }
                        // Not data: after what came before it.
                        Some(other) => held = Some(other),
                        None => {}
                    }
                }
            };
            if let Some(end) = end {
                break end;
            }
        };
        self.stalled.store(false, Ordering::Relaxed);
        drop(self.senders);
        let _ = ended.send(Some(end));
    }

    /// Checks and decodes a data message: the bytes for a channel that is read, or its
    /// close signal (`None`), if any; or how the connection ends (a protocol error).
    #[allow(clippy::type_complexity)]
    fn accept(&mut self, message: Message) -> Result<Option<(u8, Option<Bytes>)>, End> {
        match decode(message, self.framing) {
            Ok(None) => Ok(None),
            Ok(Some(Frame::Close(ch))) => {
                if !self.inbound.contains(&ch) {
                    return Err(End::Failed(format!(
                        "close signal for channel {ch}, which the peer does not write"
                    )));
                }
                Ok(Some((ch, None)))
            }
            Ok(Some(Frame::Data(ch, data))) => {
                if !self.inbound.contains(&ch) {
                    return Err(End::Failed(format!(
                        "message for channel {ch}, which the peer may not write \
                         (it may write {:?})",
                        self.inbound
                    )));
                }
                Ok(
                    (!data.is_empty() && self.senders.contains_key(&ch))
                        .then_some((ch, Some(data))),
                )
            }
            Err(error) => Err(End::Failed(format!("malformed message: {error}"))),
        }
    }

    /// Hands `data` to channel `ch`'s reader if its queue and the budget have room now,
    /// or closes the channel (`None`); gives the bytes back otherwise (`None` also when
    /// nobody reads the channel any more: then they are discarded, like upstream does for a
    /// closed read channel).
    #[allow(clippy::type_complexity)]
    fn deliver_now(&mut self, ch: u8, data: Option<Bytes>) -> Option<(u8, Option<Bytes>)> {
        let Some(data) = data else {
            self.senders.remove(&ch);
            return None;
        };
        let tx = self.senders.get(&ch)?;
        let cost = cost(&data);
        if !self.budget.fits(cost) {
            return Some((ch, Some(data)));
        }
        match tx.try_send(data) {
            Ok(()) => {
                self.budget.charge(cost);
                self.clock.touch();
                None
            }
            Err(mpsc::error::TrySendError::Full(data)) => Some((ch, Some(data))),
            Err(mpsc::error::TrySendError::Closed(_)) => {
                self.senders.remove(&ch);
                None
            }
        }
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
        // Everything is written: close with 1000 (normal closure), and give the peer time to
        // read it all and answer. Go's clients (client-go's WebSocket executor, so crictl
        // and kubectl) read only 1000 as the end of the streams; a close without a code
        // (1005) fails their session after the output.
        let normal = CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        };
        let _ = sink.send(Message::Close(Some(normal))).await;
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
