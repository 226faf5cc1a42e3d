//! The status codes of RST_STREAM and GOAWAY.

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
