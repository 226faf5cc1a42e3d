//! Reading a log from its end: where `tail` has to start, found without reading the whole
//! file (as `tail -n` and the kubelet do). The forward read from there keeps the last
//! messages (`tail`), so this only has to start early enough.

use std::io::{self, Read, Seek, SeekFrom};

use super::ReadOptions;
use crate::{Line, Tag};

/// How much is read at a time, backwards.
const CHUNK: usize = 64 * 1024;

/// The offset in `input` (of `len` bytes) from which a forward read holds at least the last
/// `n` messages of the selected streams (at or after `since`), each whole: the start of the
/// line after the `F` line that ends, in each stream, the message before them. Lines that do
/// not parse, or are longer than the line limit, are skipped here (a forward read reports
/// them). Reads only as far back as it must.
pub(super) fn tail_start<R: Read + Seek>(
    input: &mut R,
    len: u64,
    n: usize,
    options: &ReadOptions,
) -> io::Result<u64> {
    if n == 0 {
        return Ok(len);
    }
    let mut lines = ReverseLines::new(input, len, options.max_line);
    let mut counted = 0;
    // Per stream: whether the earliest message found so far may start further back.
    let mut open = [false; 2];
    while let Some((after, raw)) = lines.next_line()? {
        let Ok(line) = Line::parse(raw) else {
            continue;
        };
        if !options.streams.wants(line.stream) {
            continue;
        }
        let stream = line.stream.index();
        if counted < n {
            open[stream] = true;
            if line.tag == Tag::Full && options.since.is_none_or(|since| line.timestamp >= since) {
                counted += 1;
            }
        } else if line.tag == Tag::Full && open[stream] {
            // This line ends the message before the window: the window starts after it.
            open[stream] = false;
            if !open.contains(&true) {
                return Ok(after);
            }
        }
    }
    Ok(0)
}

/// The lines of a seekable input, last first, without their newlines.
struct ReverseLines<'a, R> {
    input: &'a mut R,
    /// Bytes `[start, start + buf.len())` of the input: the part not yet returned that was
    /// read.
    buf: Vec<u8>,
    start: u64,
    max_line: usize,
    /// The end of the part not yet returned (the newline ending the next line, or the end).
    end: u64,
    done: bool,
}

impl<'a, R: Read + Seek> ReverseLines<'a, R> {
    fn new(input: &'a mut R, len: u64, max_line: usize) -> Self {
        ReverseLines {
            input,
            buf: Vec::new(),
            start: len,
            max_line,
            end: len,
            done: len == 0,
        }
    }

    /// Reads the chunk before `start`; false at the beginning of the input.
    fn read_before(&mut self) -> io::Result<bool> {
        if self.start == 0 {
            return Ok(false);
        }
        let size = CHUNK.min(usize::try_from(self.start).unwrap_or(CHUNK));
        let from = self.start - size as u64;
        let mut chunk = vec![0; size];
        self.input.seek(SeekFrom::Start(from))?;
        self.input.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&self.buf);
        self.buf = chunk;
        self.start = from;
        Ok(true)
    }

    /// The next line back: the offset just after it (after its newline, or the end of the
    /// input for an unterminated last line) and its bytes.
    fn next_line(&mut self) -> io::Result<Option<(u64, &[u8])>> {
        // Forget the line returned last: keep up to the newline at `end`.
        let keep = ((self.end - self.start) as usize + 1).min(self.buf.len());
        self.buf.truncate(keep);
        loop {
            if self.done {
                return Ok(None);
            }
            let stop = (self.end - self.start) as usize;
            let after = if stop < self.buf.len() {
                self.end + 1
            } else {
                self.end
            };
            match self.buf[..stop].iter().rposition(|b| *b == b'\n') {
                Some(newline) => {
                    self.end = self.start + newline as u64;
                    if stop - newline - 1 > self.max_line {
                        self.buf.truncate(newline + 1);
                        continue;
                    }
                    return Ok(Some((after, &self.buf[newline + 1..stop])));
                }
                None if stop > self.max_line + 1 => {
                    // Too long: forget it and look for the newline before it.
                    self.buf.clear();
                    loop {
                        if !self.read_before()? {
                            self.done = true;
                            break;
                        }
                        if let Some(newline) = self.buf.iter().rposition(|b| *b == b'\n') {
                            self.end = self.start + newline as u64;
                            self.buf.truncate(newline + 1);
                            break;
                        }
                        self.buf.clear();
                    }
                }
                None => {
                    if !self.read_before()? {
                        // The first line of the input.
                        self.done = true;
                        return Ok(Some((after, &self.buf[..stop])));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reader::{LogReader, Streams};

    /// The messages (not the errors) a tailed read gives, whole and from `tail_start`.
    fn both(log: &[u8], options: ReadOptions, n: usize) -> (Vec<String>, Vec<String>) {
        let messages = |reader: LogReader<&[u8]>| -> Vec<String> {
            reader
                .filter_map(Result::ok)
                .map(|m| format!("{:?} {}", m.stream, String::from_utf8_lossy(&m.content)))
                .collect()
        };
        let options = options.tail(Some(n));
        let whole = messages(LogReader::new(log, options));
        let mut cursor = io::Cursor::new(log);
        let start = tail_start(&mut cursor, log.len() as u64, n, &options).unwrap() as usize;
        let from = messages(LogReader::new(&log[start..], options));
        (whole, from)
    }

    #[test]
    fn the_start_keeps_every_message_of_the_tail_whole() {
        let log: &[u8] = b"1970-01-01T00:00:01Z stdout P a\n\
            1970-01-01T00:00:02Z stderr F e1\n\
            not a line\n\
            1970-01-01T00:00:03Z stdout P b\n\
            1970-01-01T00:00:03Z stderr P e2\n\
            1970-01-01T00:00:03Z stdout F c\n\
            1970-01-01T00:00:04Z stderr F e3\n\
            1970-01-01T00:00:05Z stdout F d\n\
            1970-01-01T00:00:06Z stdout P e";
        for streams in [Streams::Both, Streams::Stdout, Streams::Stderr] {
            for n in 0..8 {
                let options = ReadOptions::new().streams(streams);
                let (whole, from) = both(log, options, n);
                assert_eq!(whole, from, "{streams:?} tail {n}");
            }
        }
    }

    #[test]
    fn a_big_log_is_read_from_near_its_end() {
        let mut log = Vec::new();
        for i in 0..100_000 {
            log.extend_from_slice(format!("1970-01-01T00:00:01Z stdout F line {i}\n").as_bytes());
        }
        let mut cursor = io::Cursor::new(&log[..]);
        let start = tail_start(&mut cursor, log.len() as u64, 3, &ReadOptions::new()).unwrap();
        let rest = &log[start as usize..];
        assert!(
            rest.starts_with(b"1970-01-01T00:00:01Z stdout F line 99997\n"),
            "{}",
            String::from_utf8_lossy(rest)
        );
        let (whole, from) = both(&log, ReadOptions::new(), 3);
        assert_eq!(whole, from);
    }

    #[test]
    fn long_and_bad_lines_are_skipped() {
        let mut log = b"1970-01-01T00:00:01Z stdout F first\n".to_vec();
        log.extend(vec![b'x'; 300_000]);
        log.extend_from_slice(b"\n1970-01-01T00:00:02Z stdout F last\n");
        let options = ReadOptions::new().max_line_size(1000);
        for n in 1..4 {
            let (whole, from) = both(&log, options, n);
            assert_eq!(whole, from, "tail {n}");
        }
        // A file that is one long line, and an empty one.
        let long = vec![b'y'; 300_000];
        let mut cursor = io::Cursor::new(&long[..]);
        assert_eq!(
            tail_start(&mut cursor, long.len() as u64, 2, &options).unwrap(),
            0
        );
        let mut cursor = io::Cursor::new(&b""[..]);
        assert_eq!(tail_start(&mut cursor, 0, 2, &options).unwrap(), 0);
    }
}
