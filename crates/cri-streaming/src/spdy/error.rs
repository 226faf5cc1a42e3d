//! Why a connection or a stream failed.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::frame::{FrameError, GoAwayStatus, RstStatus};

/// Why a connection or a stream failed.
#[derive(Clone, Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The transport failed.
    #[error("SPDY connection I/O error: {0}")]
    Io(Arc<io::Error>),
    /// The peer sent bytes that are not valid SPDY/3 (or exceed a limit).
    #[error("malformed SPDY input from the peer: {0}")]
    Frame(#[from] FrameError),
    /// The peer broke a rule of the protocol.
    #[error("SPDY protocol error by the peer: {0}")]
    Protocol(String),
    /// Nothing was read or written for [`Limits::idle_timeout`](super::Limits::idle_timeout).
    #[error("the SPDY connection was idle for {0:?}")]
    IdleTimeout(Duration),
    /// The peer sent GOAWAY before this stream was processed, or no new stream may open.
    #[error("the SPDY peer is going away (GOAWAY {0})")]
    GoAway(GoAwayStatus),
    /// We sent GOAWAY: no new stream may open.
    #[error("this SPDY connection is going away, no new stream may open")]
    GoingAway,
    /// The peer reset the stream.
    #[error("SPDY stream {id} was reset by the peer: {status}")]
    RemoteReset {
        /// The stream.
        id: u32,
        /// The peer's status code.
        status: RstStatus,
    },
    /// The stream was reset on this side.
    #[error("SPDY stream {id} was reset locally: {status}")]
    LocalReset {
        /// The stream.
        id: u32,
        /// The status code we sent.
        status: RstStatus,
    },
    /// The transport ended before the stream did.
    #[error("the SPDY connection closed")]
    Closed,
    /// [`Connection::abort`](super::Connection::abort) was called.
    #[error("the SPDY connection was aborted")]
    Aborted,
    /// All 2^30 stream ids of this side are used.
    #[error("SPDY stream ids are exhausted")]
    StreamIdsExhausted,
    /// The call does not fit the stream's state (e.g. replying twice).
    #[error("invalid SPDY stream operation: {0}")]
    InvalidState(&'static str),
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Self {
        Error::Io(Arc::new(e))
    }
}

impl From<Error> for io::Error {
    fn from(e: Error) -> Self {
        let kind = match &e {
            Error::Io(inner) => inner.kind(),
            Error::RemoteReset { .. } | Error::LocalReset { .. } => io::ErrorKind::ConnectionReset,
            Error::Closed | Error::GoAway(_) | Error::Aborted => io::ErrorKind::ConnectionAborted,
            Error::IdleTimeout(_) => io::ErrorKind::TimedOut,
            Error::Frame(_) | Error::Protocol(_) => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, e)
    }
}
