//! The Kubernetes CRI container log format, for runtimes that write it and tools that read
//! it.
//!
//! A runtime writes what a container prints to the file the kubelet names in
//! `ContainerConfig.log_path` (under the pod's `log_directory`), one line per line of output:
//!
//! ```text
//! 2016-10-06T00:17:09.669794202Z stdout F The content of the log entry 1
//! 2016-10-06T00:17:09.669794202Z stdout P First line of log entry 2
//! 2016-10-06T00:17:09.669794202Z stdout P Second line of the log entry 2
//! 2016-10-06T00:17:10.113242941Z stderr F Last line of the log entry 2
//! ```
//!
//! An RFC 3339 timestamp with nanoseconds, the stream (`stdout` or `stderr`), a tag (`F` for
//! a full line; `P` for a partial one, whose content continues in the next line of the same
//! stream: runtimes split lines longer than 16 KiB, and output that ends without a newline)
//! and the content. The kubelet (`kubectl logs`) and `crictl logs` read it.
//!
//! - For runtimes: [`LogWriter`] buffers each stream to whole lines, splits long ones into
//!   partial lines of [`DEFAULT_MAX_LINE_SIZE`], stamps them, and reopens a rotated file
//!   ([`LogWriter::set_output`], [`open_log_file`]).
//! - For tools: [`Line::parse`] parses one line with errors that say what is wrong;
//!   [`LogReader`] reads messages (partial lines joined, per stream) with the options of
//!   `crictl logs` ([`ReadOptions`]: `tail`, `since`, stream selection), and [`Follower`]
//!   follows a growing file across rotations (`crictl logs -f`).
//!
//! Memory stays bounded on hostile input: a reader skips a line longer than
//! [`ReadOptions::max_line_size`] (reporting it) and cuts a chain of partial lines at
//! [`ReadOptions::max_message_size`]; a writer holds at most one line per stream.
//!
//! # Example
//!
//! ```
//! use cri_log::{LogReader, LogWriter, ReadOptions, Stream};
//!
//! let mut writer = LogWriter::new(Vec::new());
//! writer.write(Stream::Stdout, b"hello\n").unwrap();
//! writer.write(Stream::Stderr, b"no newline").unwrap();
//! writer.finish().unwrap();
//! let file = writer.into_inner();
//!
//! let mut output = Vec::new();
//! for message in LogReader::new(&file[..], ReadOptions::new()) {
//!     message.unwrap().write_to(&mut output, false);
//! }
//! assert_eq!(output, b"hello\nno newline");
//! ```
//!
//! # Features
//!
//! - `tokio`: [`Follower::next_async`], which waits on tokio's timer between polls.

#![cfg_attr(docsrs, feature(doc_cfg))]

/// The README's examples, compiled and run as doctests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

mod line;
mod reader;
mod timestamp;
mod writer;

pub use line::{Line, ParseError, Stream, Tag};
pub use reader::{
    DEFAULT_MAX_MESSAGE, DEFAULT_MAX_RAW_LINE, Error, Follower, LogReader, Message, ReadOptions,
    Streams, read_file,
};
pub use timestamp::{Timestamp, TimestampError, UtcDateTime};
pub use writer::{DEFAULT_MAX_LINE_SIZE, LogWriter, open_log_file};
