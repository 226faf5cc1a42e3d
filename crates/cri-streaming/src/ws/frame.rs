//! The channel framing: each WebSocket message carries one channel's bytes, prefixed by the
//! channel number (a byte in binary framing, an ASCII digit followed by base64 in text
//! framing); v5 adds a close signal, channel 255 with the number of the closed channel.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::{Bytes, BytesMut};
use tokio_tungstenite::tungstenite::Message;

use crate::protocol::{channel, ws_protocols};

/// How messages are framed, from the negotiated subprotocol.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Framing {
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
pub(crate) enum FrameError {
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
pub(crate) enum Frame {
    /// Bytes for a channel (possibly empty: servers send an empty message when ready).
    Data(u8, Bytes),
    /// v5: the peer closed this channel.
    Close(u8),
}

/// Decodes a data message (`Binary` or `Text`); `Ok(None)` for an empty message, which
/// carries nothing. Control messages are not for this function (`Ok(None)` too).
pub(crate) fn decode(message: Message, framing: Framing) -> Result<Option<Frame>, FrameError> {
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
pub(crate) fn encode(ch: u8, data: &[u8], framing: Framing) -> Message {
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
pub(crate) fn encode_close(ch: u8, framing: Framing) -> Option<Message> {
    (framing.v5 && !framing.base64)
        .then(|| Message::Binary(Bytes::copy_from_slice(&[channel::CLOSE, ch])))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

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
