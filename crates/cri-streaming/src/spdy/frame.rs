//! SPDY/3 frames and their wire codec.
//!
//! Layout (draft-mbelshe-httpbis-spdy-00 section 2.2): every frame starts with 8 bytes. A
//! control frame has the high bit set, a 15-bit version (3), a 16-bit type, 8 bits of flags
//! and a 24-bit payload length; a data frame has the high bit clear, a 31-bit stream id,
//! flags and the length. Header blocks (`SYN_STREAM`, `SYN_REPLY`, `HEADERS`) are
//! zlib-compressed with one compression context per direction for the whole connection,
//! seeded with the SPDY/3 dictionary, each block ending in a sync flush.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::Headers;
use super::dictionary::DICTIONARY;

/// The SPDY version in every control frame we write, and the only one we read.
pub const VERSION: u16 = 3;
/// Size of a frame header.
pub const HEADER_LEN: usize = 8;
/// The largest payload the 24-bit length field can describe.
pub const MAX_PAYLOAD: u32 = 0x00ff_ffff;
/// The flow-control window every stream starts with until SETTINGS says otherwise.
pub const DEFAULT_INITIAL_WINDOW: u32 = 64 * 1024;

const FLAG_FIN: u8 = 0x01;
const FLAG_UNIDIRECTIONAL: u8 = 0x02;
const FLAG_CLEAR_SETTINGS: u8 = 0x01;

const TYPE_SYN_STREAM: u16 = 1;
const TYPE_SYN_REPLY: u16 = 2;
const TYPE_RST_STREAM: u16 = 3;
const TYPE_SETTINGS: u16 = 4;
const TYPE_PING: u16 = 6;
const TYPE_GOAWAY: u16 = 7;
const TYPE_HEADERS: u16 = 8;
const TYPE_WINDOW_UPDATE: u16 = 9;

/// A RST_STREAM status code (section 2.6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RstStatus(pub u32);

impl RstStatus {
    /// Generic error.
    pub const PROTOCOL_ERROR: RstStatus = RstStatus(1);
    /// A frame for a stream that is not active.
    pub const INVALID_STREAM: RstStatus = RstStatus(2);
    /// The stream was refused before any processing.
    pub const REFUSED_STREAM: RstStatus = RstStatus(3);
    /// The SPDY version is not supported.
    pub const UNSUPPORTED_VERSION: RstStatus = RstStatus(4);
    /// The stream is no longer needed.
    pub const CANCEL: RstStatus = RstStatus(5);
    /// A generic error not related to the protocol.
    pub const INTERNAL_ERROR: RstStatus = RstStatus(6);
    /// The peer violated the flow-control protocol.
    pub const FLOW_CONTROL_ERROR: RstStatus = RstStatus(7);
    /// A SYN_REPLY for a stream already open.
    pub const STREAM_IN_USE: RstStatus = RstStatus(8);
    /// Data or a SYN_REPLY on a half-closed stream.
    pub const STREAM_ALREADY_CLOSED: RstStatus = RstStatus(9);
    /// The frame was too large to process.
    pub const FRAME_TOO_LARGE: RstStatus = RstStatus(11);

    /// The name the draft gives this status, or `"UNKNOWN"`.
    pub fn name(self) -> &'static str {
        match self.0 {
            1 => "PROTOCOL_ERROR",
            2 => "INVALID_STREAM",
            3 => "REFUSED_STREAM",
            4 => "UNSUPPORTED_VERSION",
            5 => "CANCEL",
            6 => "INTERNAL_ERROR",
            7 => "FLOW_CONTROL_ERROR",
            8 => "STREAM_IN_USE",
            9 => "STREAM_ALREADY_CLOSED",
            10 => "INVALID_CREDENTIALS",
            11 => "FRAME_TOO_LARGE",
            _ => "UNKNOWN",
        }
    }
}

impl std::fmt::Display for RstStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.name(), self.0)
    }
}

/// A GOAWAY status code (section 2.6.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GoAwayStatus(pub u32);

impl GoAwayStatus {
    /// A normal session teardown.
    pub const OK: GoAwayStatus = GoAwayStatus(0);
    /// A generic protocol error.
    pub const PROTOCOL_ERROR: GoAwayStatus = GoAwayStatus(1);
    /// A generic error not related to the protocol.
    pub const INTERNAL_ERROR: GoAwayStatus = GoAwayStatus(2);
}

impl std::fmt::Display for GoAwayStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let name = match self.0 {
            0 => "OK",
            1 => "PROTOCOL_ERROR",
            2 => "INTERNAL_ERROR",
            _ => "UNKNOWN",
        };
        write!(f, "{name} ({})", self.0)
    }
}

/// SETTINGS ids (section 2.6.4) this crate acts on.
pub mod setting {
    /// SETTINGS_MAX_CONCURRENT_STREAMS.
    pub const MAX_CONCURRENT_STREAMS: u32 = 4;
    /// SETTINGS_INITIAL_WINDOW_SIZE.
    pub const INITIAL_WINDOW_SIZE: u32 = 7;
}

/// One entry of a SETTINGS frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Setting {
    /// FLAG_SETTINGS_PERSIST_VALUE (1) / FLAG_SETTINGS_PERSISTED (2).
    pub flags: u8,
    /// The 24-bit id (see [`setting`]).
    pub id: u32,
    /// The value.
    pub value: u32,
}

/// A decoded SPDY/3 frame.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Frame {
    /// A DATA frame.
    Data {
        /// Stream id (31 bits, non-zero).
        stream_id: u32,
        /// FLAG_FIN: the sender's last frame on this stream.
        fin: bool,
        /// The payload.
        data: Bytes,
    },
    /// SYN_STREAM: opens a stream.
    SynStream {
        /// Stream id (31 bits, non-zero).
        stream_id: u32,
        /// Associated-To-Stream-ID (server push), usually 0.
        associated_to: u32,
        /// Priority 0 (highest) to 7.
        priority: u8,
        /// Credential slot (SPDY/3), usually 0.
        slot: u8,
        /// FLAG_FIN.
        fin: bool,
        /// FLAG_UNIDIRECTIONAL: the receiver must not send on this stream.
        unidirectional: bool,
        /// The header block.
        headers: Headers,
    },
    /// SYN_REPLY: accepts a stream.
    SynReply {
        /// Stream id.
        stream_id: u32,
        /// FLAG_FIN.
        fin: bool,
        /// The header block.
        headers: Headers,
    },
    /// RST_STREAM: aborts a stream.
    RstStream {
        /// Stream id.
        stream_id: u32,
        /// Why.
        status: RstStatus,
    },
    /// SETTINGS.
    Settings {
        /// FLAG_SETTINGS_CLEAR_SETTINGS.
        clear: bool,
        /// The entries.
        entries: Vec<Setting>,
    },
    /// PING.
    Ping {
        /// The id (odd from clients, even from servers).
        id: u32,
    },
    /// GOAWAY: no new streams.
    GoAway {
        /// The last stream id the sender accepted.
        last_good_stream_id: u32,
        /// Why.
        status: GoAwayStatus,
    },
    /// HEADERS: more headers for a stream.
    Headers {
        /// Stream id.
        stream_id: u32,
        /// FLAG_FIN.
        fin: bool,
        /// The header block.
        headers: Headers,
    },
    /// WINDOW_UPDATE (stream id 0: the SPDY/3.1 connection window).
    WindowUpdate {
        /// Stream id, or 0 for the connection.
        stream_id: u32,
        /// Bytes added to the window (31 bits).
        delta: u32,
    },
    /// A control frame of a type this codec does not know (CREDENTIAL, NOOP, ...): the
    /// draft says to ignore it.
    Unknown {
        /// Its type.
        frame_type: u16,
        /// Its flags.
        flags: u8,
    },
}

/// What was wrong with the bytes a peer sent (or with a frame we were asked to write).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FrameError {
    /// A control frame of another SPDY version.
    #[error("SPDY control frame of version {0}, only version 3 is supported")]
    UnsupportedVersion(u16),
    /// A frame longer than the configured maximum.
    #[error("SPDY frame of {length} bytes is larger than the limit of {max} bytes")]
    FrameTooLarge {
        /// Its payload length.
        length: u32,
        /// The limit.
        max: u32,
    },
    /// A control frame whose length does not fit its type.
    #[error("SPDY {frame} frame with invalid length {length}")]
    InvalidLength {
        /// The frame type.
        frame: &'static str,
        /// Its payload length.
        length: u32,
    },
    /// Stream id 0 where a stream is required.
    #[error("SPDY {frame} frame for stream 0")]
    ZeroStreamId {
        /// The frame type.
        frame: &'static str,
    },
    /// A WINDOW_UPDATE that adds nothing (the delta must be 1 to 2^31-1).
    #[error("SPDY WINDOW_UPDATE for stream {0} with delta 0")]
    ZeroWindowDelta(u32),
    /// A RST_STREAM with status 0.
    #[error("SPDY RST_STREAM for stream {0} with status 0")]
    ZeroRstStatus(u32),
    /// A header block that decompresses to more than the limit (e.g. a zlib bomb).
    #[error("SPDY header block decompresses to more than the limit of {max} bytes")]
    HeaderBlockTooLarge {
        /// The limit.
        max: usize,
    },
    /// zlib could not decompress (or compress) a header block.
    #[error("SPDY header block compression error: {0}")]
    Compression(String),
    /// The decompressed header block is malformed.
    #[error("malformed SPDY header block: {0}")]
    InvalidHeaderBlock(String),
    /// A frame we were asked to encode cannot be represented.
    #[error("cannot encode SPDY frame: {0}")]
    Unencodable(String),
}

fn frame_name(frame_type: u16) -> &'static str {
    match frame_type {
        TYPE_SYN_STREAM => "SYN_STREAM",
        TYPE_SYN_REPLY => "SYN_REPLY",
        TYPE_RST_STREAM => "RST_STREAM",
        TYPE_SETTINGS => "SETTINGS",
        TYPE_PING => "PING",
        TYPE_GOAWAY => "GOAWAY",
        TYPE_HEADERS => "HEADERS",
        TYPE_WINDOW_UPDATE => "WINDOW_UPDATE",
        _ => "unknown",
    }
}

/// Reads frames from bytes, with the connection's inbound zlib context.
pub struct FrameDecoder {
    inflate: Decompress,
    max_frame_size: u32,
    max_header_block: usize,
}

impl std::fmt::Debug for FrameDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FrameDecoder")
            .field("max_frame_size", &self.max_frame_size)
            .field("max_header_block", &self.max_header_block)
            .finish_non_exhaustive()
    }
}

impl FrameDecoder {
    /// A decoder that refuses payloads above `max_frame_size` bytes and header blocks that
    /// decompress to more than `max_header_block` bytes.
    pub fn new(max_frame_size: u32, max_header_block: usize) -> Self {
        FrameDecoder {
            inflate: Decompress::new(true),
            max_frame_size: max_frame_size.min(MAX_PAYLOAD),
            max_header_block,
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
                let headers = self.header_block(&p[10..])?;
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
                let headers = self.header_block(&p[4..])?;
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

    /// Inflates one header block with the connection's context, never producing more than
    /// `max_header_block` bytes, and parses it.
    fn header_block(&mut self, input: &[u8]) -> Result<Headers, FrameError> {
        let max = self.max_header_block;
        let too_large = FrameError::HeaderBlockTooLarge { max };
        let mut out: Vec<u8> = Vec::with_capacity((input.len() * 4).max(256).min(max + 1));
        let mut consumed = 0usize;
        loop {
            if out.len() == out.capacity() {
                if out.len() > max {
                    return Err(too_large);
                }
                let more = out.len().max(256).min(max + 1 - out.len());
                out.reserve_exact(more);
            }
            let before_in = self.inflate.total_in();
            let before_out = self.inflate.total_out();
            let result =
                self.inflate
                    .decompress_vec(&input[consumed..], &mut out, FlushDecompress::Sync);
            consumed += (self.inflate.total_in() - before_in) as usize;
            let progressed =
                self.inflate.total_in() != before_in || self.inflate.total_out() != before_out;
            match result {
                Ok(Status::StreamEnd) => {
                    return Err(FrameError::Compression(
                        "the peer ended its zlib stream, which SPDY never does".into(),
                    ));
                }
                Ok(_) => {}
                Err(e) if e.needs_dictionary().is_some() => {
                    self.inflate.set_dictionary(&DICTIONARY).map_err(|e| {
                        FrameError::Compression(format!("setting the SPDY/3 dictionary: {e}"))
                    })?;
                    continue;
                }
                Err(e) => return Err(FrameError::Compression(e.to_string())),
            }
            if out.len() > max {
                return Err(too_large);
            }
            if consumed == input.len() && out.len() < out.capacity() {
                break;
            }
            if !progressed && out.len() < out.capacity() {
                return Err(FrameError::Compression(
                    "zlib made no progress on the header block".into(),
                ));
            }
        }
        parse_header_block(&out)
    }
}

fn parse_header_block(block: &[u8]) -> Result<Headers, FrameError> {
    let bad = |why: String| FrameError::InvalidHeaderBlock(why);
    let mut rest = block;
    let take_u32 = |rest: &mut &[u8], what: &str| -> Result<usize, FrameError> {
        if rest.len() < 4 {
            return Err(bad(format!("truncated before the {what}")));
        }
        let v = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]);
        *rest = &rest[4..];
        Ok(v as usize)
    };
    let count = take_u32(&mut rest, "number of headers")?;
    if count > rest.len() / 8 {
        return Err(bad(format!(
            "{count} headers announced in {} bytes",
            block.len()
        )));
    }
    let mut headers = Headers::new();
    for _ in 0..count {
        let len = take_u32(&mut rest, "header name length")?;
        if len == 0 {
            return Err(bad("empty header name".into()));
        }
        if len > rest.len() {
            return Err(bad(format!("header name of {len} bytes is truncated")));
        }
        let name = std::str::from_utf8(&rest[..len])
            .map_err(|_| bad("header name is not UTF-8".into()))?;
        if name.bytes().any(|b| b.is_ascii_uppercase() || b == 0) {
            return Err(bad(format!("header name {name:?} is not lower case")));
        }
        let name = name.to_owned();
        rest = &rest[len..];
        let len = take_u32(&mut rest, "header value length")?;
        if len > rest.len() {
            return Err(bad(format!("value of {name:?} ({len} bytes) is truncated")));
        }
        let value = std::str::from_utf8(&rest[..len])
            .map_err(|_| bad(format!("value of {name:?} is not UTF-8")))?;
        rest = &rest[len..];
        if headers.get(&name).is_some() {
            return Err(bad(format!("header {name:?} appears twice")));
        }
        let values = value.split('\0').map(str::to_owned).collect();
        headers.push_decoded(name, values);
    }
    if !rest.is_empty() {
        return Err(bad(format!("{} bytes after the last header", rest.len())));
    }
    Ok(headers)
}

/// Writes frames as bytes, with the connection's outbound zlib context.
pub struct FrameEncoder {
    deflate: Compress,
    scratch: Vec<u8>,
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
        let mut deflate = Compress::new(Compression::default(), true);
        deflate
            .set_dictionary(&DICTIONARY)
            .expect("a fresh zlib stream accepts a dictionary");
        FrameEncoder {
            deflate,
            scratch: Vec::new(),
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
                let block = self.compress(headers)?;
                let flags = if *fin { FLAG_FIN } else { 0 }
                    | if *unidirectional {
                        FLAG_UNIDIRECTIONAL
                    } else {
                        0
                    };
                control_header_checked(dst, TYPE_SYN_STREAM, flags, 10 + block)?;
                dst.put_u32(*stream_id);
                dst.put_u32(associated_to & 0x7fff_ffff);
                dst.put_u8((priority & 0x7) << 5);
                dst.put_u8(*slot);
                dst.extend_from_slice(&self.scratch);
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
                let block = self.compress(headers)?;
                control_header_checked(dst, ty, if *fin { FLAG_FIN } else { 0 }, 4 + block)?;
                dst.put_u32(*stream_id);
                dst.extend_from_slice(&self.scratch);
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

    /// Serializes and compresses `headers` into `self.scratch`; returns its length.
    fn compress(&mut self, headers: &Headers) -> Result<usize, FrameError> {
        let mut raw = Vec::with_capacity(64);
        raw.put_u32(headers.len() as u32);
        for (name, values) in headers.iter() {
            if name.is_empty() {
                return Err(FrameError::Unencodable("empty header name".into()));
            }
            raw.put_u32(name.len() as u32);
            raw.extend_from_slice(name.as_bytes());
            let len = values.iter().map(String::len).sum::<usize>() + values.len().max(1) - 1;
            raw.put_u32(len as u32);
            for (i, v) in values.iter().enumerate() {
                if v.contains('\0') {
                    return Err(FrameError::Unencodable(format!(
                        "a value of header {name:?} contains NUL"
                    )));
                }
                if i > 0 {
                    raw.push(0);
                }
                raw.extend_from_slice(v.as_bytes());
            }
        }
        if raw.len() > MAX_PAYLOAD as usize {
            return Err(FrameError::Unencodable("header block is too large".into()));
        }
        self.scratch.clear();
        self.scratch.reserve(raw.len() / 2 + 64);
        let mut consumed = 0usize;
        loop {
            if self.scratch.len() == self.scratch.capacity() {
                self.scratch.reserve(self.scratch.len().max(64));
            }
            let before = self.deflate.total_in();
            self.deflate
                .compress_vec(&raw[consumed..], &mut self.scratch, FlushCompress::Sync)
                .map_err(|e| FrameError::Compression(e.to_string()))?;
            consumed += (self.deflate.total_in() - before) as usize;
            if consumed == raw.len() && self.scratch.len() < self.scratch.capacity() {
                break;
            }
        }
        Ok(self.scratch.len())
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
