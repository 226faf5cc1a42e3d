//! What to read: [`ReadOptions`] (the options of `crictl logs`) and [`Streams`], with the
//! default bounds on memory.

use crate::{Stream, Timestamp};

/// The longest raw line a reader accepts by default (1 MiB): far above the 16 KiB runtimes
/// write, and a bound on memory for a file with no newline.
pub const DEFAULT_MAX_RAW_LINE: usize = 1 << 20;

/// The largest message that joining partial lines builds by default (1 MiB); a longer chain
/// comes out in pieces of this size, marked [`Message::partial`](super::Message::partial).
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// Which streams to read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Streams {
    /// Both (the default).
    #[default]
    Both,
    /// Only stdout.
    Stdout,
    /// Only stderr.
    Stderr,
}

impl Streams {
    pub(super) fn wants(self, stream: Stream) -> bool {
        match self {
            Streams::Both => true,
            Streams::Stdout => stream == Stream::Stdout,
            Streams::Stderr => stream == Stream::Stderr,
        }
    }
}

/// How to read a log: the options of `crictl logs` and the kubelet's log API.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadOptions {
    pub(super) tail: Option<usize>,
    pub(super) since: Option<Timestamp>,
    pub(super) streams: Streams,
    pub(super) join_partial: bool,
    pub(super) max_line: usize,
    pub(super) max_message: usize,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            tail: None,
            since: None,
            streams: Streams::Both,
            join_partial: true,
            max_line: DEFAULT_MAX_RAW_LINE,
            max_message: DEFAULT_MAX_MESSAGE,
        }
    }
}

impl ReadOptions {
    /// Everything, both streams, partial lines joined.
    pub fn new() -> Self {
        Self::default()
    }

    /// Only the last `n` messages (of the selected streams and time); `None`: all.
    ///
    /// Messages, not raw lines: a line split into partial lines counts once (the kubelet
    /// counts the file's lines). Memory is bounded by `n` messages, not by the input. A
    /// [`LogReader`](super::LogReader) of any reader reads the whole input and keeps `n`;
    /// [`read_file`](super::read_file) and [`Follower`](super::Follower) find where the last
    /// `n` start by reading the file backwards, and read only from there.
    pub fn tail(mut self, n: Option<usize>) -> Self {
        self.tail = n;
        self
    }

    /// Only messages whose (first line's) timestamp is at or after `since`.
    pub fn since(mut self, since: Option<Timestamp>) -> Self {
        self.since = since;
        self
    }

    /// Which streams to read (default both).
    pub fn streams(mut self, streams: Streams) -> Self {
        self.streams = streams;
        self
    }

    /// Whether partial (`P`) lines are joined into whole messages (default true). Off, each
    /// log line is a message, as the kubelet streams them (useful when following, to show
    /// output that has no newline yet).
    pub fn join_partial(mut self, join: bool) -> Self {
        self.join_partial = join;
        self
    }

    /// The longest raw line accepted (default [`DEFAULT_MAX_RAW_LINE`]); a longer line is
    /// skipped with [`Error::LineTooLong`](super::Error::LineTooLong).
    pub fn max_line_size(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(64);
        self
    }

    /// The largest joined message (default [`DEFAULT_MAX_MESSAGE`]).
    pub fn max_message_size(mut self, bytes: usize) -> Self {
        self.max_message = bytes.max(1);
        self
    }
}
