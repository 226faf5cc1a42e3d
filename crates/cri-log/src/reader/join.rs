//! Joining partial (`P`) lines, per stream, into messages of bounded size; stream selection.

use std::collections::VecDeque;

use super::{Message, ReadOptions};
use crate::{Line, Tag};

/// Joins partial lines per stream into messages, with a bound on a message's size.
#[derive(Debug)]
pub(super) struct Joiner {
    pending: [Option<Message>; 2],
    options: ReadOptions,
}

impl Joiner {
    pub(super) fn new(options: ReadOptions) -> Self {
        Joiner {
            pending: [None, None],
            options,
        }
    }

    pub(super) fn push(&mut self, line: Line<'_>, out: &mut VecDeque<Message>) {
        if !self.options.streams.wants(line.stream) {
            return;
        }
        let partial = line.tag == Tag::Partial;
        if !self.options.join_partial {
            out.push_back(Message {
                timestamp: line.timestamp,
                stream: line.stream,
                content: line.content.to_vec(),
                partial,
            });
            return;
        }
        let max = self.options.max_message;
        let slot = &mut self.pending[line.stream.index()];
        let message = slot.get_or_insert_with(|| Message {
            timestamp: line.timestamp,
            stream: line.stream,
            content: Vec::new(),
            partial: true,
        });
        let mut content = line.content;
        while message.content.len() + content.len() > max {
            let take = max - message.content.len();
            message.content.extend_from_slice(&content[..take]);
            content = &content[take..];
            let full = std::mem::replace(
                message,
                Message {
                    timestamp: line.timestamp,
                    stream: line.stream,
                    content: Vec::new(),
                    partial: true,
                },
            );
            out.push_back(full);
        }
        message.content.extend_from_slice(content);
        if !partial {
            let mut done = slot.take().expect("pending");
            done.partial = false;
            out.push_back(done);
        }
    }

    /// The end of the input: what is pending comes out as partial messages, in time order.
    pub(super) fn finish(&mut self, out: &mut VecDeque<Message>) {
        let mut rest: Vec<Message> = self.pending.iter_mut().filter_map(Option::take).collect();
        rest.sort_by_key(|m| m.timestamp);
        out.extend(rest);
    }
}
