//! The demultiplexer: a reading task routes a connection's messages to per-channel readers,
//! a writing task sends what the channel writers queue, and both end the connection.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use super::frame::{Frame, Framing, decode, encode, encode_close};
use crate::pipe::{ChannelReader, ChannelWriter, Outgoing};

/// Limits of one WebSocket connection.
#[derive(Clone, Copy, Debug)]
pub(crate) struct MuxLimits {
    /// The connection ends when nothing was read or written for this long.
    pub idle_timeout: Duration,
    /// After the end of the session, how long to wait for the peer's close.
    pub finish_timeout: Duration,
    /// The largest chunk one message carries.
    pub max_chunk: usize,
}

/// How a connection ended.
#[derive(Debug, Clone)]
pub(crate) enum End {
    /// The peer closed it (a close frame or end of stream).
    Closed,
    /// It failed: a protocol error, an I/O error or the idle timeout.
    Failed(String),
}

/// A WebSocket connection split into channels: readers for the channels the peer writes,
/// a sender for the channels this side writes, and a watch of how the reading side ended.
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
        let mut senders = HashMap::new();
        let mut readers = HashMap::new();
        for &ch in inbound {
            let (tx, rx) = mpsc::channel(16);
            senders.insert(ch, tx);
            readers.insert(ch, ChannelReader::new(rx));
        }
        let started = Instant::now();
        let activity = Arc::new(AtomicU64::new(0));
        let (ended_tx, ended) = watch::channel(None);
        let (out, out_rx) = mpsc::channel(32);
        tokio::spawn(read_loop(
            stream,
            framing,
            senders,
            inbound.to_vec(),
            limits.idle_timeout,
            started,
            activity.clone(),
            ended_tx,
        ));
        let writer = tokio::spawn(write_loop(
            sink,
            out_rx,
            framing,
            ended.clone(),
            limits.finish_timeout,
            started,
            activity,
        ));
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

    /// Waits until the reading side ended; how.
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

fn touch(activity: &AtomicU64, started: Instant) {
    activity.store(started.elapsed().as_millis() as u64, Ordering::Relaxed);
}

#[allow(clippy::too_many_arguments)]
async fn read_loop<S>(
    mut stream: futures_util::stream::SplitStream<WebSocketStream<S>>,
    framing: Framing,
    mut senders: HashMap<u8, mpsc::Sender<Bytes>>,
    inbound: Vec<u8>,
    idle_timeout: Duration,
    started: Instant,
    activity: Arc<AtomicU64>,
    ended: watch::Sender<Option<End>>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let end = loop {
        let last = Duration::from_millis(activity.load(Ordering::Relaxed));
        let deadline = started + last + idle_timeout;
        let next = tokio::select! {
            next = stream.next() => next,
            () = tokio::time::sleep_until(deadline.into()) => {
                let last = Duration::from_millis(activity.load(Ordering::Relaxed));
                if started + last + idle_timeout <= Instant::now() {
                    break End::Failed(format!(
                        "idle timeout: nothing read or written for {idle_timeout:?}"
                    ));
                }
                continue;
            }
        };
        touch(&activity, started);
        let message = match next {
            None => break End::Closed,
            Some(Err(error)) => break End::Failed(format!("WebSocket error: {error}")),
            Some(Ok(Message::Close(_))) => break End::Closed,
            Some(Ok(message)) => message,
        };
        match decode(message, framing) {
            Ok(None) => {}
            Ok(Some(Frame::Close(ch))) => {
                if !inbound.contains(&ch) {
                    break End::Failed(format!(
                        "close signal for channel {ch}, which the peer does not write"
                    ));
                }
                senders.remove(&ch);
            }
            Ok(Some(Frame::Data(ch, data))) => {
                if !inbound.contains(&ch) {
                    break End::Failed(format!(
                        "message for channel {ch}, which the peer may not write \
                         (it may write {inbound:?})"
                    ));
                }
                if data.is_empty() {
                    continue;
                }
                if let Some(tx) = senders.get(&ch) {
                    // Waits while the consumer is behind: a slow reader slows the peer
                    // down through TCP instead of queueing without bound.
                    if tx.send(data).await.is_err() {
                        // Nobody reads this channel any more: what follows on it is
                        // discarded, like upstream does for a closed read channel.
                        senders.remove(&ch);
                    }
                }
            }
            Err(error) => break End::Failed(format!("malformed message: {error}")),
        }
    };
    drop(senders);
    let _ = ended.send(Some(end));
}

async fn write_loop<S>(
    mut sink: futures_util::stream::SplitSink<WebSocketStream<S>, Message>,
    mut rx: mpsc::Receiver<Outgoing>,
    framing: Framing,
    mut ended: watch::Receiver<Option<End>>,
    finish_timeout: Duration,
    started: Instant,
    activity: Arc<AtomicU64>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    loop {
        let item = tokio::select! {
            item = rx.recv() => item,
            end = Mux::wait_end(&mut ended) => {
                // The peer is gone or broke the protocol: say why, best effort, and stop.
                if let End::Failed(reason) = end {
                    let frame = CloseFrame { code: CloseCode::Protocol, reason: truncate(&reason).into() };
                    let _ = tokio::time::timeout(Duration::from_secs(1), sink.send(Message::Close(Some(frame)))).await;
                }
                return;
            }
        };
        let message = match item {
            Some(Outgoing::Data(ch, data)) => Some(encode(ch, &data, framing)),
            Some(Outgoing::Frame(message)) => Some(Message::Binary(message)),
            Some(Outgoing::Close(ch)) => encode_close(ch, framing),
            Some(Outgoing::End) | None => break,
        };
        if let Some(message) = message
            && sink.feed(message).await.is_err()
        {
            return;
        }
        // Batch what is queued; flush once the queue is empty.
        if rx.is_empty() && sink.flush().await.is_err() {
            return;
        }
        touch(&activity, started);
    }
    // Everything is written: close, and give the peer time to read it all and answer.
    let _ = sink.send(Message::Close(None)).await;
    let _ = tokio::time::timeout(finish_timeout, Mux::wait_end(&mut ended)).await;
}

fn truncate(reason: &str) -> String {
    // A close frame's reason has at most 123 bytes.
    let mut end = reason.len().min(120);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    reason[..end].to_string()
}
