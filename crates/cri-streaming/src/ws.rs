//! The Kubernetes channel protocol over WebSocket (`channel.k8s.io` and its `base64`, `v4`
//! and `v5` variants): each message carries one channel's bytes, prefixed by the channel
//! number (a byte in binary framing, an ASCII digit followed by base64 in text framing).
//! v5 adds a close signal: channel 255 with the number of the closed channel.
//!
//! [`decode`] and [`encode`] are the codec; the demultiplexer that routes a connection's
//! messages to per-channel readers is internal (`Mux`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, watch};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

use crate::pipe::{ChannelReader, ChannelWriter, Outgoing};
use crate::protocol::{channel, ws_protocols};

/// How messages are framed, from the negotiated subprotocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Framing {
    /// Text messages: an ASCII channel digit, then base64.
    pub base64: bool,
    /// The v5 close signal (channel 255) is understood.
    pub v5: bool,
    /// The error channel carries a JSON status (v4 and later), not text.
    pub status_json: bool,
}

impl Framing {
    /// The framing of a remote-command subprotocol (`""` is the legacy binary framing).
    pub fn for_protocol(protocol: &str) -> Option<Framing> {
        let (base64, v5, status_json) = match protocol {
            "" | ws_protocols::V1 => (false, false, false),
            ws_protocols::V1_BASE64 => (true, false, false),
            ws_protocols::V4 => (false, false, true),
            ws_protocols::V4_BASE64 => (true, false, true),
            ws_protocols::V5 => (false, true, true),
            ws_protocols::V5_BASE64 => (true, true, true),
            _ => return None,
        };
        Some(Framing {
            base64,
            v5,
            status_json,
        })
    }
}

/// Why a WebSocket message is not a valid channel message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A text message where binary framing was negotiated, or the reverse.
    #[error("a {got} message where the negotiated framing sends {expected} messages")]
    WrongMessageType {
        /// What arrived.
        got: &'static str,
        /// What the framing sends.
        expected: &'static str,
    },
    /// A base64 message whose first character is not a channel digit.
    #[error("base64 message with channel {0:?}, which is not a digit 0-9")]
    BadChannelDigit(char),
    /// Payload that is not base64.
    #[error("base64 message on channel {0} does not decode: {1}")]
    BadBase64(u8, String),
    /// A v5 close signal that does not name exactly one channel.
    #[error("close signal (channel 255) with {0} bytes instead of 1")]
    BadClose(usize),
}

/// One decoded channel message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Frame {
    /// Bytes for a channel (possibly empty: servers send an empty message when ready).
    Data(u8, Bytes),
    /// v5: the peer closed this channel.
    Close(u8),
}

/// Decodes a data message (`Binary` or `Text`); `Ok(None)` for an empty message, which
/// carries nothing. Control messages are not for this function (`Ok(None)` too).
pub fn decode(message: Message, framing: Framing) -> Result<Option<Frame>, FrameError> {
    let (ch, payload) = match (message, framing.base64) {
        (Message::Binary(data), false) => {
            if data.is_empty() {
                return Ok(None);
            }
            (data[0], data.slice(1..))
        }
        (Message::Text(text), true) => {
            let text = text.as_str();
            let Some(first) = text.chars().next() else {
                return Ok(None);
            };
            let ch = first
                .to_digit(10)
                .ok_or(FrameError::BadChannelDigit(first))? as u8;
            let bytes = BASE64
                .decode(&text[first.len_utf8()..])
                .map_err(|e| FrameError::BadBase64(ch, e.to_string()))?;
            (ch, Bytes::from(bytes))
        }
        (Message::Binary(_), true) => {
            return Err(FrameError::WrongMessageType {
                got: "binary",
                expected: "text (base64)",
            });
        }
        (Message::Text(_), false) => {
            return Err(FrameError::WrongMessageType {
                got: "text",
                expected: "binary",
            });
        }
        _ => return Ok(None),
    };
    if framing.v5 && !framing.base64 && ch == channel::CLOSE {
        return match payload.len() {
            1 => Ok(Some(Frame::Close(payload[0]))),
            n => Err(FrameError::BadClose(n)),
        };
    }
    Ok(Some(Frame::Data(ch, payload)))
}

/// Encodes bytes for a channel. In base64 framing, channels above 9 cannot be written (the
/// caller never asks: remote command uses 0-4, port forward over base64 at most 5 ports).
pub fn encode(ch: u8, data: &[u8], framing: Framing) -> Message {
    if framing.base64 {
        let mut text = String::with_capacity(1 + data.len().div_ceil(3) * 4);
        text.push(char::from(b'0' + ch.min(9)));
        BASE64.encode_string(data, &mut text);
        Message::text(text)
    } else {
        let mut buf = BytesMut::with_capacity(1 + data.len());
        buf.extend_from_slice(&[ch]);
        buf.extend_from_slice(data);
        Message::Binary(buf.freeze())
    }
}

/// The v5 close signal for `ch` (binary framing only; `None` otherwise).
pub fn encode_close(ch: u8, framing: Framing) -> Option<Message> {
    (framing.v5 && !framing.base64)
        .then(|| Message::Binary(Bytes::copy_from_slice(&[channel::CLOSE, ch])))
}

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
    #[cfg_attr(not(feature = "server"), allow(dead_code))] // awaited by the server's `finish`
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

/// Strips the two-byte little-endian port number a port-forward server writes first on each
/// channel, across message boundaries.
#[derive(Debug, Clone)]
pub struct PortPrefix {
    seen: Vec<u8>,
}

impl Default for PortPrefix {
    fn default() -> Self {
        Self::new()
    }
}

impl PortPrefix {
    /// Nothing read yet.
    pub fn new() -> Self {
        PortPrefix {
            seen: Vec::with_capacity(2),
        }
    }

    /// Feeds one chunk; returns the bytes after the prefix, and the port once complete.
    pub fn feed(&mut self, mut chunk: Bytes) -> (Bytes, Option<u16>) {
        if self.seen.len() >= 2 {
            return (chunk, None);
        }
        let take = (2 - self.seen.len()).min(chunk.len());
        self.seen.extend_from_slice(&chunk.split_to(take));
        let port = (self.seen.len() == 2).then(|| u16::from_le_bytes([self.seen[0], self.seen[1]]));
        (chunk, port)
    }

    /// Whether the whole prefix was read.
    pub fn done(&self) -> bool {
        self.seen.len() >= 2
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn framings() -> impl Strategy<Value = Framing> {
        prop_oneof![
            Just(Framing::for_protocol(ws_protocols::V4).unwrap()),
            Just(Framing::for_protocol(ws_protocols::V4_BASE64).unwrap()),
            Just(Framing::for_protocol(ws_protocols::V5).unwrap()),
            Just(Framing::for_protocol(ws_protocols::V1).unwrap()),
        ]
    }

    proptest! {
        /// Any sequence of channel writes, encoded and decoded, gives each channel exactly
        /// its bytes in order.
        #[test]
        fn demultiplexes_what_was_multiplexed(
            framing in framings(),
            writes in prop::collection::vec((0u8..5, prop::collection::vec(any::<u8>(), 0..300)), 0..40),
        ) {
            let mut want: HashMap<u8, Vec<u8>> = HashMap::new();
            let mut got: HashMap<u8, Vec<u8>> = HashMap::new();
            for (ch, data) in &writes {
                want.entry(*ch).or_default().extend_from_slice(data);
                got.entry(*ch).or_default();
                match decode(encode(*ch, data, framing), framing).unwrap() {
                    Some(Frame::Data(c, bytes)) => {
                        prop_assert_eq!(c, *ch);
                        got.get_mut(&c).unwrap().extend_from_slice(&bytes);
                    }
                    Some(Frame::Close(_)) => prop_assert!(false, "data decoded as close"),
                    None => prop_assert!(false, "a written message decoded as nothing"),
                }
            }
            prop_assert_eq!(want, got);
        }

        /// Arbitrary messages never panic the decoder, and what it accepts is consistent.
        #[test]
        fn decoding_arbitrary_input_never_panics(
            framing in framings(),
            binary in any::<bool>(),
            bytes in prop::collection::vec(any::<u8>(), 0..64),
        ) {
            let message = if binary {
                Message::Binary(Bytes::from(bytes.clone()))
            } else {
                Message::text(String::from_utf8_lossy(&bytes).into_owned())
            };
            match decode(message, framing) {
                Ok(Some(Frame::Data(ch, data))) if !framing.base64 => {
                    prop_assert_eq!(ch, bytes[0]);
                    prop_assert_eq!(&data[..], &bytes[1..]);
                }
                Ok(Some(Frame::Close(ch))) => {
                    prop_assert!(framing.v5 && bytes.len() == 2 && bytes[0] == 255);
                    prop_assert_eq!(ch, bytes[1]);
                }
                Ok(_) => {}
                Err(FrameError::WrongMessageType { .. }) => prop_assert_eq!(binary, framing.base64),
                Err(_) => prop_assert!(framing.base64 || framing.v5),
            }
        }

        /// The port prefix is found however the stream is cut.
        #[test]
        fn port_prefix_across_chunks(
            port in any::<u16>(),
            rest in prop::collection::vec(any::<u8>(), 0..50),
            cuts in prop::collection::vec(0usize..60, 0..6),
        ) {
            let mut whole = port.to_le_bytes().to_vec();
            whole.extend_from_slice(&rest);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(whole.len())).collect();
            cuts.push(0);
            cuts.push(whole.len());
            cuts.sort();
            let mut prefix = PortPrefix::new();
            let mut data = Vec::new();
            let mut found = None;
            for pair in cuts.windows(2) {
                let (bytes, p) = prefix.feed(Bytes::copy_from_slice(&whole[pair[0]..pair[1]]));
                data.extend_from_slice(&bytes);
                if p.is_some() {
                    prop_assert!(found.is_none());
                    found = p;
                }
            }
            prop_assert_eq!(found, Some(port));
            prop_assert_eq!(data, rest);
        }
    }

    #[test]
    fn malformed_messages_are_named() {
        let b64 = Framing::for_protocol(ws_protocols::V4_BASE64).unwrap();
        let bin = Framing::for_protocol(ws_protocols::V5).unwrap();
        assert_eq!(
            decode(Message::text("x=="), b64),
            Err(FrameError::BadChannelDigit('x'))
        );
        assert!(matches!(
            decode(Message::text("1!!!"), b64),
            Err(FrameError::BadBase64(1, _))
        ));
        assert_eq!(
            decode(Message::Binary(Bytes::from_static(&[255, 1, 2])), bin),
            Err(FrameError::BadClose(2))
        );
        assert!(matches!(
            decode(Message::text("0"), bin),
            Err(FrameError::WrongMessageType { .. })
        ));
        assert_eq!(
            decode(Message::text("1aGk="), b64),
            Ok(Some(Frame::Data(1, Bytes::from_static(b"hi"))))
        );
    }
}
