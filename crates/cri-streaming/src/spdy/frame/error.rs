//! What can be wrong with the bytes of a frame.

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
