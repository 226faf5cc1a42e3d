//! SPDY/3 frames and their wire codec.
//!
//! Layout (draft-mbelshe-httpbis-spdy-00 section 2.2): every frame starts with 8 bytes. A
//! control frame has the high bit set, a 15-bit version (3), a 16-bit type, 8 bits of flags
//! and a 24-bit payload length; a data frame has the high bit clear, a 31-bit stream id,
//! flags and the length. Header blocks (`SYN_STREAM`, `SYN_REPLY`, `HEADERS`) are
//! zlib-compressed with one compression context per direction for the whole connection,
//! seeded with the SPDY/3 dictionary, each block ending in a sync flush.

use bytes::Bytes;

use super::Headers;

mod decode;
mod encode;
mod error;
mod header_block;
mod status;

pub use decode::FrameDecoder;
pub use encode::FrameEncoder;
pub use error::FrameError;
pub use status::{GoAwayStatus, RstStatus};

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
