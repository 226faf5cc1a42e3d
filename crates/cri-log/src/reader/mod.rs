//! Reading the CRI log format, for tools. Bytes are split into bounded lines (`split`), each
//! line parsed (`Line::parse`) and joined per stream into messages (`join`), `since` applied
//! (`decode`, what both readers share), and with `tail` the last messages kept (`tail`).
//! [`LogReader`] reads a whole input (`read`), [`Follower`] a file as it grows (`follow`);
//! [`ReadOptions`] says what to read (`options`). The messages and errors are here.

use std::io;

use crate::{ParseError, Stream, Timestamp};

mod decode;
mod follow;
mod join;
mod options;
mod read;
mod reverse;
mod split;
mod tail;

pub use follow::Follower;
pub use options::{DEFAULT_MAX_MESSAGE, DEFAULT_MAX_RAW_LINE, ReadOptions, Streams};
pub use read::{LogReader, read_file};

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

#[cfg(test)]
mod tests;
