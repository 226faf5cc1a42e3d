//! Bytes in, messages out: lines split, parsed and joined, with `since` applied; what
//! [`LogReader`](super::LogReader) and [`Follower`](super::Follower) share.

use std::collections::VecDeque;

use super::join::Joiner;
use super::split::{Split, Splitter};
use super::{Error, Message, ReadOptions};
use crate::Line;

/// The part shared by [`LogReader`] and [`Follower`]: bytes in, messages out.
#[derive(Debug)]
pub(super) struct Decoder {
    pub(super) splitter: Splitter,
    joiner: Joiner,
    pub(super) options: ReadOptions,
    /// Messages and errors in the order of the lines that made them.
    ready: VecDeque<Result<Message, Error>>,
    joined: VecDeque<Message>,
}

impl Decoder {
    pub(super) fn new(options: ReadOptions) -> Self {
        Decoder {
            splitter: Splitter::new(options.max_line),
            joiner: Joiner::new(options),
            options,
            ready: VecDeque::new(),
            joined: VecDeque::new(),
        }
    }

    fn line(&mut self, raw: &[u8]) {
        let line_no = self.splitter.line_no;
        match Line::parse(raw) {
            Ok(line) => {
                self.joiner.push(line, &mut self.joined);
                self.ready.extend(self.joined.drain(..).map(Ok));
            }
            Err(source) => self.ready.push_back(Err(Error::Parse {
                line: line_no,
                source,
            })),
        }
    }

    /// Decodes the complete lines in the buffer.
    pub(super) fn drain(&mut self) {
        while let Some(split) = self.splitter.next() {
            match split {
                Split::Line(raw) => self.line(&raw),
                Split::TooLong => self.ready.push_back(Err(Error::LineTooLong {
                    line: self.splitter.line_no,
                    limit: self.options.max_line,
                })),
            }
        }
    }

    /// The end of a file: its unterminated last line, and (with `flush`) the partial
    /// messages.
    pub(super) fn end(&mut self, flush: bool) {
        if let Some(raw) = self.splitter.rest() {
            self.line(&raw);
        }
        if flush {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.joiner.finish(&mut self.joined);
        self.ready.extend(self.joined.drain(..).map(Ok));
    }

    /// The next message or error, oldest first; `since` applied.
    pub(super) fn pop(&mut self) -> Option<Result<Message, Error>> {
        while let Some(item) = self.ready.pop_front() {
            if let Ok(message) = &item
                && self
                    .options
                    .since
                    .is_some_and(|since| message.timestamp < since)
            {
                continue;
            }
            return Some(item);
        }
        None
    }
}
