//! Writing the CRI log format, for runtimes.

use std::fmt;
use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::Path;

use crate::{Line, Stream, Tag, Timestamp};

/// The longest content of one line the kubelet's runtimes write (containerd's
/// `max_container_log_line_size` default): 16 KiB. Longer output lines are split into
/// partial (`P`) lines of this size.
pub const DEFAULT_MAX_LINE_SIZE: usize = 16 * 1024;

/// Turns a container's stdout and stderr into CRI log lines on an [`io::Write`].
///
/// Output is buffered per stream until a newline: each line of output becomes one `F` line,
/// stamped with the time its newline was written; a line longer than
/// [`max_line_size`](LogWriter::max_line_size) becomes `P` lines of that size and a last
/// `F` line. [`LogWriter::finish_stream`] (the stream's end) writes what is left without a
/// newline as a `P` line, so a reader gets back exactly the bytes written. Each log line
/// reaches the output in a single `write_all`. Memory is bounded by twice the maximum line
/// size, whatever the container writes.
///
/// Reopen (log rotation, `ReopenContainerLog`) with [`LogWriter::set_output`]: buffered
/// output carries over to the new file.
///
/// ```
/// use cri_log::{LogWriter, Stream, Timestamp};
///
/// let mut log = LogWriter::new(Vec::new())
///     .max_line_size(4)
///     .clock(|| Timestamp::from_unix(1_475_713_029, 5));
/// log.write(Stream::Stdout, b"hello\nwor").unwrap();
/// log.write(Stream::Stderr, b"oops\n").unwrap();
/// log.finish_stream(Stream::Stdout).unwrap();
/// assert_eq!(
///     String::from_utf8(log.into_inner()).unwrap(),
///     "2016-10-06T00:17:09.000000005Z stdout P hell\n\
///      2016-10-06T00:17:09.000000005Z stdout F o\n\
///      2016-10-06T00:17:09.000000005Z stderr F oops\n\
///      2016-10-06T00:17:09.000000005Z stdout P wor\n"
/// );
/// ```
pub struct LogWriter<W> {
    out: W,
    max_line: usize,
    pending: [Vec<u8>; 2],
    clock: Box<dyn FnMut() -> Timestamp + Send>,
    scratch: Vec<u8>,
}

impl<W> fmt::Debug for LogWriter<W> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogWriter")
            .field("max_line", &self.max_line)
            .field("pending_stdout", &self.pending[0].len())
            .field("pending_stderr", &self.pending[1].len())
            .finish_non_exhaustive()
    }
}

impl<W: Write> LogWriter<W> {
    /// A writer onto `out`, with the 16 KiB line size and the system clock.
    pub fn new(out: W) -> Self {
        LogWriter {
            out,
            max_line: DEFAULT_MAX_LINE_SIZE,
            pending: [Vec::new(), Vec::new()],
            clock: Box::new(Timestamp::now),
            scratch: Vec::new(),
        }
    }

    /// The largest content of one log line (at least 1); longer output lines are split.
    pub fn max_line_size(mut self, bytes: usize) -> Self {
        self.max_line = bytes.max(1);
        self
    }

    /// Where timestamps come from (default: the system clock), for deterministic tests.
    pub fn clock(mut self, clock: impl FnMut() -> Timestamp + Send + 'static) -> Self {
        self.clock = Box::new(clock);
        self
    }

    /// Writes `bytes` of output of `stream`: every complete line (and every full
    /// `max_line_size` piece) goes out now, the rest waits for more.
    pub fn write(&mut self, stream: Stream, mut bytes: &[u8]) -> io::Result<()> {
        let i = stream.index();
        while !bytes.is_empty() {
            let room = self.max_line - self.pending[i].len();
            let window = &bytes[..bytes.len().min(room + 1)];
            match window.iter().position(|b| *b == b'\n') {
                Some(at) if at <= room => {
                    let (line, rest) = (&bytes[..at], &bytes[at + 1..]);
                    self.emit(stream, Tag::Full, line)?;
                    bytes = rest;
                }
                _ => {
                    let take = bytes.len().min(room);
                    self.pending[i].extend_from_slice(&bytes[..take]);
                    bytes = &bytes[take..];
                    if self.pending[i].len() == self.max_line && !bytes.is_empty() {
                        // Full: a partial line, unless the newline comes right after it.
                        if bytes[0] == b'\n' {
                            self.emit(stream, Tag::Full, &[])?;
                            bytes = &bytes[1..];
                        } else {
                            self.emit(stream, Tag::Partial, &[])?;
                        }
                    }
                }
            }
        }
        Ok(())
    }

    /// The end of `stream`'s output: what is buffered goes out as a partial (`P`) line.
    pub fn finish_stream(&mut self, stream: Stream) -> io::Result<()> {
        if !self.pending[stream.index()].is_empty() {
            self.emit(stream, Tag::Partial, &[])?;
        }
        self.out.flush()
    }

    /// [`finish_stream`](LogWriter::finish_stream) for both streams.
    pub fn finish(&mut self) -> io::Result<()> {
        self.finish_stream(Stream::Stdout)?;
        self.finish_stream(Stream::Stderr)
    }

    /// Writes one log line as it is (content must not contain a newline; one that does is
    /// an `InvalidInput` error), bypassing the buffering. For tools that copy logs.
    pub fn write_line(&mut self, stream: Stream, tag: Tag, content: &[u8]) -> io::Result<()> {
        if content.contains(&b'\n') {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "the content of a CRI log line cannot contain a newline",
            ));
        }
        let line = Line {
            timestamp: (self.clock)(),
            stream,
            tag,
            content,
        };
        self.scratch.clear();
        line.write_to(&mut self.scratch);
        self.out.write_all(&self.scratch)
    }

    /// Writes the buffered output of `stream` followed by `tail` as one line.
    fn emit(&mut self, stream: Stream, tag: Tag, tail: &[u8]) -> io::Result<()> {
        let i = stream.index();
        let mut content = std::mem::take(&mut self.pending[i]);
        content.extend_from_slice(tail);
        let result = self.write_line(stream, tag, &content);
        content.clear();
        self.pending[i] = content;
        result
    }

    /// Flushes the output (buffered partial lines stay buffered).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Replaces the output (reopening a rotated file), returning the old one; buffered
    /// output carries over.
    pub fn set_output(&mut self, out: W) -> W {
        std::mem::replace(&mut self.out, out)
    }

    /// The output.
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// The output, mutably.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.out
    }

    /// The output, dropping anything still buffered (call [`finish`](LogWriter::finish)
    /// first to keep it).
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// Opens a log file the way runtimes do: created if missing (with its parent directories),
/// appended to, readable by the owner and group (mode 0640 on Unix).
pub fn open_log_file(path: impl AsRef<Path>) -> io::Result<File> {
    let path = path.as_ref();
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o640);
    options.open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(max: usize, writes: &[(Stream, &[u8])], finish: bool) -> String {
        let mut log = LogWriter::new(Vec::new())
            .max_line_size(max)
            .clock(|| Timestamp::UNIX_EPOCH);
        for (stream, bytes) in writes {
            log.write(*stream, bytes).unwrap();
        }
        if finish {
            log.finish().unwrap();
        }
        String::from_utf8(log.into_inner())
            .unwrap()
            .replace("1970-01-01T00:00:00.000000000Z ", "")
    }

    #[test]
    fn lines_split_at_the_maximum() {
        let out = Stream::Stdout;
        assert_eq!(written(3, &[(out, b"abc\n")], true), "stdout F abc\n");
        assert_eq!(
            written(3, &[(out, b"abcd\n")], true),
            "stdout P abc\nstdout F d\n"
        );
        assert_eq!(
            written(3, &[(out, b"ab"), (out, b"c"), (out, b"\n")], true),
            "stdout F abc\n"
        );
        assert_eq!(
            written(3, &[(out, b"abc"), (out, b"def")], false),
            "stdout P abc\n"
        );
        assert_eq!(
            written(3, &[(out, b"abc"), (out, b"def")], true),
            "stdout P abc\nstdout P def\n"
        );
        assert_eq!(
            written(3, &[(out, b"\n\n")], true),
            "stdout F \nstdout F \n"
        );
        assert_eq!(written(3, &[(out, b"")], true), "");
    }

    #[test]
    fn newlines_in_write_line_are_refused() {
        let mut log = LogWriter::new(Vec::new());
        let err = log
            .write_line(Stream::Stdout, Tag::Full, b"a\nb")
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }

    #[test]
    fn reopen_keeps_pending_output() {
        let mut log = LogWriter::new(Vec::new()).clock(|| Timestamp::UNIX_EPOCH);
        log.write(Stream::Stderr, b"one\ntw").unwrap();
        let old = log.set_output(Vec::new());
        log.write(Stream::Stderr, b"o\n").unwrap();
        assert!(String::from_utf8(old).unwrap().ends_with("stderr F one\n"));
        assert!(
            String::from_utf8(log.into_inner())
                .unwrap()
                .ends_with("stderr F two\n")
        );
    }
}
