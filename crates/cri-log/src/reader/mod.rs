//! Reading the CRI log format, for tools.

use std::io;

use crate::{ParseError, Stream, Timestamp};

mod decode;
mod follow;
mod join;
mod read;
mod split;
mod tail;

pub use follow::Follower;
pub use read::{LogReader, read_file};

/// The longest raw line a reader accepts by default (1 MiB): far above the 16 KiB runtimes
/// write, and a bound on memory for a file with no newline.
pub const DEFAULT_MAX_RAW_LINE: usize = 1 << 20;

/// The largest message that joining partial lines builds by default (1 MiB); a longer chain
/// comes out in pieces of this size, marked [`Message::partial`].
pub const DEFAULT_MAX_MESSAGE: usize = 1 << 20;

/// A reading error. Parse errors and over-long lines concern one line: the reader reports
/// them and goes on with the next line.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading the file failed.
    #[error("reading the log failed: {0}")]
    Io(#[from] io::Error),
    /// A line did not parse.
    #[error("line {line} of the log: {source}")]
    Parse {
        /// The line's number in the file (from 1; after a reopen, in the new file).
        line: u64,
        /// What was wrong.
        source: ParseError,
    },
    /// A line was longer than the reader's limit; it was skipped.
    #[error("line {line} of the log is longer than {limit} bytes; skipped")]
    LineTooLong {
        /// The line's number in the file (from 1).
        line: u64,
        /// The limit ([`ReadOptions::max_line_size`]).
        limit: usize,
    },
}

impl Error {
    /// Whether reading can go on after this error (everything but I/O errors).
    pub fn is_recoverable(&self) -> bool {
        !matches!(self, Error::Io(_))
    }
}

/// A message of a container: a line of its output, joined from its partial log lines.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The timestamp of the message's first log line.
    pub timestamp: Timestamp,
    /// The stream.
    pub stream: Stream,
    /// The content, without the newline.
    pub content: Vec<u8>,
    /// `false`: the output line ended (with a newline, which is not in `content`). `true`: it
    /// did not, because the output stopped without a newline (the end of the file, or of
    /// the stream), the message reached [`ReadOptions::max_message_size`], or joining is
    /// off ([`ReadOptions::join_partial`]) and this is one `P` line.
    pub partial: bool,
}

impl Message {
    /// Appends the message as the container wrote it (`content`, and a newline unless
    /// partial) to `out`, optionally prefixed by its timestamp and a space, as
    /// `crictl logs --timestamps` shows it.
    pub fn write_to(&self, out: &mut Vec<u8>, timestamps: bool) {
        if timestamps {
            self.timestamp.write_to(out);
            out.push(b' ');
        }
        out.extend_from_slice(&self.content);
        if !self.partial {
            out.push(b'\n');
        }
    }
}

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
    fn wants(self, stream: Stream) -> bool {
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
    tail: Option<usize>,
    since: Option<Timestamp>,
    streams: Streams,
    join_partial: bool,
    max_line: usize,
    max_message: usize,
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
    /// counts the file's lines). The reader reads the whole input and keeps `n` messages,
    /// so memory is bounded by `n` messages, not by the file.
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
    /// skipped with [`Error::LineTooLong`].
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

#[cfg(test)]
mod tests;
