//! The `tail` selection: the last messages of a log, with memory bounded by their count.

use std::collections::VecDeque;

use super::{Error, Message};

/// The last `n` messages of a sequence, and its errors (bounded too, so that a garbage
/// file cannot fill memory: at most `max(n, 16)`, the latest kept).
#[derive(Debug)]
pub(super) struct Tail {
    n: usize,
    pub(super) kept: VecDeque<Result<Message, Error>>,
    messages: usize,
}

impl Tail {
    pub(super) fn new(n: usize) -> Self {
        Tail {
            n,
            kept: VecDeque::new(),
            messages: 0,
        }
    }

    pub(super) fn push(&mut self, item: Result<Message, Error>) {
        if item.is_ok() {
            self.messages += 1;
        }
        self.kept.push_back(item);
        while self.messages > self.n {
            if let Some(Ok(_)) = self.kept.pop_front() {
                self.messages -= 1;
            }
        }
        if self.kept.len() - self.messages > self.n.max(16)
            && let Some(at) = self.kept.iter().position(Result::is_err)
        {
            self.kept.remove(at);
        }
    }
}
