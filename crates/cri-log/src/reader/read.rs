//! [`LogReader`]: a whole log read from any [`Read`], and [`read_file`].

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::Path;

use super::decode::Decoder;
use super::reverse::tail_start;
use super::tail::Tail;
use super::{Error, Message, ReadOptions};

/// Reads a CRI log from any [`Read`]: an iterator of messages (or per-line errors, after
/// which it goes on).
///
/// ```
/// use cri_log::{LogReader, ReadOptions, Streams};
///
/// let log = b"2016-10-06T00:17:09.1Z stdout P hel\n\
///             2016-10-06T00:17:09.2Z stderr F oops\n\
///             2016-10-06T00:17:09.3Z stdout F lo\n\
///             2016-10-06T00:17:09.4Z stdout F world\n";
/// let messages: Vec<String> = LogReader::new(&log[..], ReadOptions::new().streams(Streams::Stdout))
///     .map(|m| String::from_utf8(m.unwrap().content).unwrap())
///     .collect();
/// assert_eq!(messages, ["hello", "world"]);
///
/// let last = LogReader::new(&log[..], ReadOptions::new().tail(Some(1))).collect::<Result<Vec<_>, _>>().unwrap();
/// assert_eq!(last[0].content, b"world");
/// ```
#[derive(Debug)]
pub struct LogReader<R> {
    input: R,
    decoder: Decoder,
    done: bool,
    /// With `tail`: the last messages, filled on the first call.
    tail: Option<VecDeque<Result<Message, Error>>>,
}

impl<R: Read> LogReader<R> {
    /// A reader of `input` with `options`.
    pub fn new(input: R, options: ReadOptions) -> Self {
        LogReader {
            input,
            decoder: Decoder::new(options),
            done: false,
            tail: None,
        }
    }

    fn next_untailed(&mut self) -> Option<Result<Message, Error>> {
        loop {
            if let Some(item) = self.decoder.pop() {
                return Some(item);
            }
            if self.done {
                return None;
            }
            let room = self.decoder.splitter.room();
            let buf = &mut self.decoder.splitter.buf;
            let start = buf.len();
            buf.resize(start + room, 0);
            let read = loop {
                match self.input.read(&mut buf[start..]) {
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    other => break other,
                }
            };
            match read {
                Ok(0) => {
                    buf.truncate(start);
                    self.done = true;
                    self.decoder.end(true);
                }
                Ok(n) => {
                    buf.truncate(start + n);
                    self.decoder.drain();
                }
                Err(e) => {
                    buf.truncate(start);
                    self.done = true;
                    return Some(Err(Error::Io(e)));
                }
            }
        }
    }
}

impl<R: Read> Iterator for LogReader<R> {
    type Item = Result<Message, Error>;

    fn next(&mut self) -> Option<Self::Item> {
        let Some(n) = self.decoder.options.tail else {
            return self.next_untailed();
        };
        if self.tail.is_none() {
            let mut tail = Tail::new(n);
            while let Some(item) = self.next_untailed() {
                tail.push(item);
            }
            self.tail = Some(tail.kept);
        }
        self.tail.as_mut().and_then(VecDeque::pop_front)
    }
}

/// Reads the log file at `path` with `options` (see [`LogReader`]). With
/// [`ReadOptions::tail`] it reads only the end of the file: where the last messages start is
/// found reading backwards, as `tail -n` does, so the time does not grow with the file (line
/// numbers in errors then count from there).
pub fn read_file(
    path: impl AsRef<Path>,
    options: ReadOptions,
) -> io::Result<LogReader<io::BufReader<File>>> {
    let mut file = File::open(path)?;
    if let Some(n) = options.tail {
        let len = file.metadata()?.len();
        let start = tail_start(&mut file, len, n, &options)?;
        file.seek(SeekFrom::Start(start))?;
    }
    Ok(LogReader::new(io::BufReader::new(file), options))
}
