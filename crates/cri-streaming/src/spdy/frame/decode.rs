//! Reading frames: the 8-byte header, the bounds, then each control frame's body.

use bytes::{Buf, BytesMut};

use super::header_block::HeaderBlockDecoder;
use super::{
    FLAG_CLEAR_SETTINGS, FLAG_FIN, FLAG_UNIDIRECTIONAL, Frame, FrameError, GoAwayStatus,
    HEADER_LEN, MAX_PAYLOAD, RstStatus, Setting, TYPE_GOAWAY, TYPE_HEADERS, TYPE_PING,
    TYPE_RST_STREAM, TYPE_SETTINGS, TYPE_SYN_REPLY, TYPE_SYN_STREAM, TYPE_WINDOW_UPDATE, VERSION,
    frame_name,
};

/// Reads frames from bytes, with the connection's inbound zlib context.
pub struct FrameDecoder {
    headers: HeaderBlockDecoder,
    max_frame_size: u32,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("max_frame_size", &self.max_frame_size)
            .field("max_header_block", &self.headers.max())
            .finish_non_exhaustive()
    }
}

impl FrameDecoder {
    /// A decoder that refuses payloads above `max_frame_size` bytes and header blocks that
    /// decompress to more than `max_header_block` bytes.
    pub fn new(max_frame_size: u32, max_header_block: usize) -> Self {
        FrameDecoder {
            headers: HeaderBlockDecoder::new(max_header_block),
            max_frame_size: max_frame_size.min(MAX_PAYLOAD),
        }
    }

    /// Decodes the next frame from the front of `src`, consuming its bytes.
    ///
    /// `Ok(None)` means `src` does not hold a whole frame yet. After an error the
    /// connection cannot continue (the compression context may be out of step).
    pub fn decode(&mut self, src: &mut BytesMut) -> Result<Option<Frame>, FrameError> {
        if src.len() < HEADER_LEN {
            return Ok(None);
        }
        let word = u32::from_be_bytes([src[0], src[1], src[2], src[3]]);
        let flags = src[4];
        let length = u32::from_be_bytes([0, src[5], src[6], src[7]]);
        let control = word & 0x8000_0000 != 0;
        if control {
            let version = ((word >> 16) & 0x7fff) as u16;
            if version != VERSION {
                return Err(FrameError::UnsupportedVersion(version));
            }
        }
        if length > self.max_frame_size {
            return Err(FrameError::FrameTooLarge {
                length,
                max: self.max_frame_size,
            });
        }
        let total = HEADER_LEN + length as usize;
        if src.len() < total {
            src.reserve(total - src.len());
            return Ok(None);
        }
        src.advance(HEADER_LEN);
        let payload = src.split_to(length as usize);
        if !control {
            let stream_id = word & 0x7fff_ffff;
            if stream_id == 0 {
                return Err(FrameError::ZeroStreamId { frame: "DATA" });
            }
            return Ok(Some(Frame::Data {
                stream_id,
                fin: flags & FLAG_FIN != 0,
                data: payload.freeze(),
            }));
        }
        let frame_type = (word & 0xffff) as u16;
        self.control(frame_type, flags, &payload).map(Some)
    }

    fn control(&mut self, frame_type: u16, flags: u8, p: &[u8]) -> Result<Frame, FrameError> {
        let name = frame_name(frame_type);
        let len = p.len() as u32;
        let bad_len = || FrameError::InvalidLength {
            frame: name,
            length: len,
        };
        let u31 =
            |at: usize| u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]) & 0x7fff_ffff;
        let u32_at = |at: usize| u32::from_be_bytes([p[at], p[at + 1], p[at + 2], p[at + 3]]);
        let stream = |at: usize| match u31(at) {
            0 => Err(FrameError::ZeroStreamId { frame: name }),
            id => Ok(id),
        };
        let fin = flags & FLAG_FIN != 0;
        Ok(match frame_type {
            TYPE_SYN_STREAM => {
                if p.len() < 10 {
                    return Err(bad_len());
                }
                // Decompress before judging the stream id: the zlib context must see every
                // block to stay in step with the peer's.
                let headers = self.headers.decode(&p[10..])?;
                Frame::SynStream {
                    stream_id: stream(0)?,
                    associated_to: u31(4),
                    priority: p[8] >> 5,
                    slot: p[9],
                    fin,
                    unidirectional: flags & FLAG_UNIDIRECTIONAL != 0,
                    headers,
                }
            }
            TYPE_SYN_REPLY | TYPE_HEADERS => {
                if p.len() < 4 {
                    return Err(bad_len());
                }
                let headers = self.headers.decode(&p[4..])?;
                let stream_id = stream(0)?;
                if frame_type == TYPE_SYN_REPLY {
                    Frame::SynReply {
                        stream_id,
                        fin,
                        headers,
                    }
                } else {
                    Frame::Headers {
                        stream_id,
                        fin,
                        headers,
                    }
                }
            }
            TYPE_RST_STREAM => {
                if p.len() != 8 {
                    return Err(bad_len());
                }
                let stream_id = stream(0)?;
                let status = u32_at(4);
                if status == 0 {
                    return Err(FrameError::ZeroRstStatus(stream_id));
                }
                Frame::RstStream {
                    stream_id,
                    status: RstStatus(status),
                }
            }
            TYPE_SETTINGS => {
                if p.len() < 4 {
                    return Err(bad_len());
                }
                let count = u32_at(0) as usize;
                if count > (p.len() - 4) / 8 || p.len() != 4 + count * 8 {
                    return Err(bad_len());
                }
                let entries = (0..count)
                    .map(|i| {
                        let at = 4 + i * 8;
                        let head = u32_at(at);
                        Setting {
                            flags: (head >> 24) as u8,
                            id: head & 0x00ff_ffff,
                            value: u32_at(at + 4),
                        }
                    })
                    .collect();
                Frame::Settings {
                    clear: flags & FLAG_CLEAR_SETTINGS != 0,
                    entries,
                }
            }
            TYPE_PING => {
                if p.len() != 4 {
                    return Err(bad_len());
                }
                Frame::Ping { id: u32_at(0) }
            }
            TYPE_GOAWAY => {
                if p.len() != 8 {
                    return Err(bad_len());
                }
                Frame::GoAway {
                    last_good_stream_id: u31(0),
                    status: GoAwayStatus(u32_at(4)),
                }
            }
            TYPE_WINDOW_UPDATE => {
                if p.len() != 8 {
                    return Err(bad_len());
                }
                let (stream_id, delta) = (u31(0), u31(4));
                if delta == 0 {
                    return Err(FrameError::ZeroWindowDelta(stream_id));
                }
                Frame::WindowUpdate { stream_id, delta }
            }
            _ => Frame::Unknown { frame_type, flags },
        })
    }
}
