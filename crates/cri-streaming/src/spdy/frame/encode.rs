//! Writing frames.

use bytes::{BufMut, BytesMut};

use super::header_block::HeaderBlockEncoder;
use super::{
    FLAG_CLEAR_SETTINGS, FLAG_FIN, FLAG_UNIDIRECTIONAL, Frame, FrameError, HEADER_LEN, MAX_PAYLOAD,
    TYPE_GOAWAY, TYPE_HEADERS, TYPE_PING, TYPE_RST_STREAM, TYPE_SETTINGS, TYPE_SYN_REPLY,
    TYPE_SYN_STREAM, TYPE_WINDOW_UPDATE, VERSION, frame_name,
};

/// Writes frames as bytes, with the connection's outbound zlib context.
pub struct FrameEncoder {
    headers: HeaderBlockEncoder,
}

impl std::fmt::Debug for FrameEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameEncoder").finish_non_exhaustive()
    }
}

impl Default for FrameEncoder {
    fn default() -> Self {
        Self::new()
    }
}

fn control_header(dst: &mut BytesMut, frame_type: u16, flags: u8, length: usize) {
    dst.put_u16(0x8000 | VERSION);
    dst.put_u16(frame_type);
    dst.put_u32(((flags as u32) << 24) | length as u32);
}

fn check_id(id: u32, what: &str) -> Result<(), FrameError> {
    if id == 0 || id > 0x7fff_ffff {
        return Err(FrameError::Unencodable(format!(
            "{what} stream id {id} is not in 1..2^31"
        )));
    }
    Ok(())
}

impl FrameEncoder {
    /// A new encoder (its zlib context starts with the SPDY/3 dictionary).
    pub fn new() -> Self {
        FrameEncoder {
            headers: HeaderBlockEncoder::new(),
        }
    }

    /// Writes the 8-byte header of a data frame carrying `len` bytes; the caller appends
    /// the payload. `len` must be at most [`MAX_PAYLOAD`].
    pub fn data_header(dst: &mut BytesMut, stream_id: u32, fin: bool, len: usize) {
        debug_assert!(len <= MAX_PAYLOAD as usize && stream_id <= 0x7fff_ffff);
        dst.put_u32(stream_id & 0x7fff_ffff);
        dst.put_u32((u32::from(if fin { FLAG_FIN } else { 0 }) << 24) | len as u32);
    }

    /// Appends `frame` to `dst`.
    pub fn encode(&mut self, frame: &Frame, dst: &mut BytesMut) -> Result<(), FrameError> {
        match frame {
            Frame::Data {
                stream_id,
                fin,
                data,
            } => {
                check_id(*stream_id, "DATA")?;
                if data.len() > MAX_PAYLOAD as usize {
                    return Err(FrameError::Unencodable(format!(
                        "DATA payload of {} bytes exceeds 2^24-1",
                        data.len()
                    )));
                }
                dst.reserve(HEADER_LEN + data.len());
                Self::data_header(dst, *stream_id, *fin, data.len());
                dst.extend_from_slice(data);
            }
            Frame::SynStream {
                stream_id,
                associated_to,
                priority,
                slot,
                fin,
                unidirectional,
                headers,
            } => {
                check_id(*stream_id, "SYN_STREAM")?;
                let block = self.headers.encode(headers)?;
                let flags = if *fin { FLAG_FIN } else { 0 }
                    | if *unidirectional {
                        FLAG_UNIDIRECTIONAL
                    } else {
                        0
                    };
                control_header_checked(dst, TYPE_SYN_STREAM, flags, 10 + block.len())?;
                dst.put_u32(*stream_id);
                dst.put_u32(associated_to & 0x7fff_ffff);
                dst.put_u8((priority & 0x7) << 5);
                dst.put_u8(*slot);
                dst.extend_from_slice(block);
            }
            Frame::SynReply {
                stream_id,
                fin,
                headers,
            }
            | Frame::Headers {
                stream_id,
                fin,
                headers,
            } => {
                let ty = if matches!(frame, Frame::SynReply { .. }) {
                    TYPE_SYN_REPLY
                } else {
                    TYPE_HEADERS
                };
                check_id(*stream_id, frame_name(ty))?;
                let block = self.headers.encode(headers)?;
                control_header_checked(dst, ty, if *fin { FLAG_FIN } else { 0 }, 4 + block.len())?;
                dst.put_u32(*stream_id);
                dst.extend_from_slice(block);
            }
            Frame::RstStream { stream_id, status } => {
                check_id(*stream_id, "RST_STREAM")?;
                control_header_checked(dst, TYPE_RST_STREAM, 0, 8)?;
                dst.put_u32(*stream_id);
                dst.put_u32(status.0);
            }
            Frame::Settings { clear, entries } => {
                let len = 4 + 8 * entries.len();
                control_header_checked(
                    dst,
                    TYPE_SETTINGS,
                    if *clear { FLAG_CLEAR_SETTINGS } else { 0 },
                    len,
                )?;
                dst.put_u32(entries.len() as u32);
                for e in entries {
                    dst.put_u32((u32::from(e.flags) << 24) | (e.id & 0x00ff_ffff));
                    dst.put_u32(e.value);
                }
            }
            Frame::Ping { id } => {
                control_header_checked(dst, TYPE_PING, 0, 4)?;
                dst.put_u32(*id);
            }
            Frame::GoAway {
                last_good_stream_id,
                status,
            } => {
                control_header_checked(dst, TYPE_GOAWAY, 0, 8)?;
                dst.put_u32(last_good_stream_id & 0x7fff_ffff);
                dst.put_u32(status.0);
            }
            Frame::WindowUpdate { stream_id, delta } => {
                if *delta == 0 || *delta > 0x7fff_ffff {
                    return Err(FrameError::Unencodable(format!(
                        "WINDOW_UPDATE delta {delta} is not in 1..2^31"
                    )));
                }
                control_header_checked(dst, TYPE_WINDOW_UPDATE, 0, 8)?;
                dst.put_u32(stream_id & 0x7fff_ffff);
                dst.put_u32(*delta);
            }
            Frame::Unknown { frame_type, .. } => {
                return Err(FrameError::Unencodable(format!(
                    "control frame type {frame_type} is not one this codec writes"
                )));
            }
        }
        Ok(())
    }
}

fn control_header_checked(
    dst: &mut BytesMut,
    frame_type: u16,
    flags: u8,
    length: usize,
) -> Result<(), FrameError> {
    if length > MAX_PAYLOAD as usize {
        return Err(FrameError::Unencodable(format!(
            "{} payload of {length} bytes exceeds 2^24-1",
            frame_name(frame_type)
        )));
    }
    dst.reserve(HEADER_LEN + length);
    control_header(dst, frame_type, flags, length);
    Ok(())
}
