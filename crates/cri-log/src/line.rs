//! One line of a CRI log file: `TIMESTAMP STREAM TAGS CONTENT`.

use std::fmt;
use std::str::FromStr;

use crate::{Timestamp, TimestampError};

/// The output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Stream {
    /// `stdout`
    Stdout,
    /// `stderr`
    Stderr,
}

impl Stream {
    /// `stdout` or `stderr`, as written in the file.
    pub const fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }

    pub(crate) const fn index(self) -> usize {
        match self {
            Stream::Stdout => 0,
            Stream::Stderr => 1,
        }
    }
}

impl fmt::Display for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stream {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, ParseError> {
        match s {
            "stdout" => Ok(Stream::Stdout),
            "stderr" => Ok(Stream::Stderr),
            other => Err(ParseError::UnknownStream(snippet(other.as_bytes()))),
        }
    }
}

/// Whether a line ends a line of the container's output (`F`) or is a piece of a longer one
/// (`P`): the first of the line's `:`-separated tags.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Tag {
    /// `P`: the content continues in the next line of the same stream.
    Partial,
    /// `F`: the content ends a line of output.
    Full,
}

impl Tag {
    /// `P` or `F`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Tag::Partial => "P",
            Tag::Full => "F",
        }
    }
}

/// Why a line of a CRI log did not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    /// No space after the timestamp.
    #[error("no space after the timestamp (want `TIMESTAMP STREAM TAG CONTENT`)")]
    MissingStream,
    /// The timestamp is not RFC 3339.
    #[error(transparent)]
    Timestamp(#[from] TimestampError),
    /// The stream is neither `stdout` nor `stderr`.
    #[error("unknown stream {0:?} (want stdout or stderr)")]
    UnknownStream(String),
    /// No space after the stream.
    #[error("no space after the stream (want `TIMESTAMP STREAM TAG CONTENT`)")]
    MissingTag,
    /// The first tag is neither `P` nor `F`.
    #[error("unknown log tag {0:?} (want P or F)")]
    UnknownTag(String),
}

/// At most 64 bytes of `bytes`, for an error message.
fn snippet(bytes: &[u8]) -> String {
    let mut text = String::from_utf8_lossy(&bytes[..bytes.len().min(64)]).into_owned();
    if bytes.len() > 64 {
        text.push('…');
    }
    text
}

/// One parsed line of a CRI log file, borrowing its content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Line<'a> {
    /// When the runtime wrote it.
    pub timestamp: Timestamp,
    /// Which stream it came from.
    pub stream: Stream,
    /// `P` or `F`.
    pub tag: Tag,
    /// The content, without the line's newline.
    pub content: &'a [u8],
}

impl<'a> Line<'a> {
    /// Parses one line of a CRI log file (with or without its newline).
    ///
    /// The tag field may carry more tags after a `:` (`F:x`), which are ignored, as the
    /// format's definition asks of readers. A line must have the space after its tag; the
    /// content may be empty.
    ///
    /// ```
    /// use cri_log::{Line, Stream, Tag};
    ///
    /// let line = Line::parse(b"2016-10-06T00:17:09.669794202Z stdout P The content\n").unwrap();
    /// assert_eq!((line.stream, line.tag, line.content), (Stream::Stdout, Tag::Partial, &b"The content"[..]));
    /// let err = Line::parse(b"2016-10-06T00:17:09Z stdin F x").unwrap_err();
    /// assert_eq!(err.to_string(), r#"unknown stream "stdin" (want stdout or stderr)"#);
    /// ```
    pub fn parse(line: &'a [u8]) -> Result<Self, ParseError> {
        let line = line.strip_suffix(b"\n").unwrap_or(line);
        let (timestamp, rest) = split_space(line).ok_or(ParseError::MissingStream)?;
        let timestamp = Timestamp::parse_bytes(timestamp)?;
        let (stream, rest) = split_space(rest).ok_or(ParseError::MissingTag)?;
        let stream = match stream {
            b"stdout" => Stream::Stdout,
            b"stderr" => Stream::Stderr,
            other => return Err(ParseError::UnknownStream(snippet(other))),
        };
        let (tags, content) = match split_space(rest) {
            Some(split) => split,
            // `… stdout F` with nothing after: an empty line whose space was lost.
            None => (rest, &b""[..]),
        };
        let first = tags.split(|b| *b == b':').next().unwrap_or_default();
        let tag = match first {
            b"P" => Tag::Partial,
            b"F" => Tag::Full,
            other => return Err(ParseError::UnknownTag(snippet(other))),
        };
        Ok(Line {
            timestamp,
            stream,
            tag,
            content,
        })
    }

    /// Appends the line, with its newline, to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        self.timestamp.write_to(out);
        out.push(b' ');
        out.extend_from_slice(self.stream.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.tag.as_str().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.content);
        out.push(b'\n');
    }
}

fn split_space(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let at = bytes.iter().position(|b| *b == b' ')?;
    Some((&bytes[..at], &bytes[at + 1..]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_what_is_wrong() {
        for (line, want) in [
            (&b"garbage"[..], "no space after the timestamp"),
            (
                b"2016-10-06 stdout F x",
                "invalid RFC 3339 timestamp \"2016-10-06\"",
            ),
            (b"2016-10-06T00:17:09Z stdout", "no space after the stream"),
            (
                b"2016-10-06T00:17:09Z stdin F x",
                "unknown stream \"stdin\"",
            ),
            (b"2016-10-06T00:17:09Z stderr X x", "unknown log tag \"X\""),
            (b"2016-10-06T00:17:09Z stderr  x", "unknown log tag \"\""),
        ] {
            let err = Line::parse(line).unwrap_err().to_string();
            assert!(err.contains(want), "{err} lacks {want}");
        }
    }

    #[test]
    fn extra_tags_and_empty_content() {
        let line = Line::parse(b"2016-10-06T00:17:09Z stderr F:future:tags a b \n").unwrap();
        assert_eq!((line.tag, line.content), (Tag::Full, &b"a b "[..]));
        let empty = Line::parse(b"2016-10-06T00:17:09Z stdout F \n").unwrap();
        assert_eq!(empty.content, b"");
        let no_space = Line::parse(b"2016-10-06T00:17:09Z stdout F").unwrap();
        assert_eq!(no_space.content, b"");
    }

    #[test]
    fn stream_names() {
        assert_eq!("stderr".parse::<Stream>().unwrap(), Stream::Stderr);
        assert!("x".parse::<Stream>().is_err());
        assert_eq!(Stream::Stdout.to_string(), "stdout");
    }
}
