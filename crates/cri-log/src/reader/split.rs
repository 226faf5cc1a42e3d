//! Splitting bytes into lines, with a bound on the length of one line (a longer line is
//! skipped and reported).

/// Splits bytes into lines, with a bound on the length of one line.
#[derive(Debug)]
pub(super) struct Splitter {
    pub(super) buf: Vec<u8>,
    /// Bytes of `buf` already searched for a newline.
    searched: usize,
    max_line: usize,
    /// Skipping the rest of an over-long line.
    skipping: bool,
    pub(super) line_no: u64,
}

pub(super) enum Split {
    Line(Vec<u8>),
    TooLong,
}

impl Splitter {
    pub(super) fn new(max_line: usize) -> Self {
        Splitter {
            buf: Vec::new(),
            searched: 0,
            max_line,
            skipping: false,
            line_no: 0,
        }
    }

    /// The next line from the buffer, if one is complete (or too long).
    pub(super) fn next(&mut self) -> Option<Split> {
        loop {
            match self.buf[self.searched..].iter().position(|b| *b == b'\n') {
                Some(at) => {
                    let end = self.searched + at + 1;
                    let line: Vec<u8> = self.buf.drain(..end).collect();
                    self.searched = 0;
                    if std::mem::take(&mut self.skipping) {
                        continue;
                    }
                    self.line_no += 1;
                    if line.len() > self.max_line + 1 {
                        return Some(Split::TooLong);
                    }
                    return Some(Split::Line(line));
                }
                None => {
                    self.searched = self.buf.len();
                    if self.buf.len() > self.max_line {
                        self.buf.clear();
                        self.searched = 0;
                        if !self.skipping {
                            self.skipping = true;
                            self.line_no += 1;
                            return Some(Split::TooLong);
                        }
                    }
                    return None;
                }
            }
        }
    }

    /// At the end of the input: the unterminated last line, if any.
    pub(super) fn rest(&mut self) -> Option<Vec<u8>> {
        self.searched = 0;
        if std::mem::take(&mut self.skipping) || self.buf.is_empty() {
            self.buf.clear();
            return None;
        }
        self.line_no += 1;
        Some(std::mem::take(&mut self.buf))
    }

    /// How many bytes to read next (never beyond the line limit plus a little).
    pub(super) fn room(&self) -> usize {
        64 * 1024
    }
}
