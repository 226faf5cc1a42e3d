//! How a command fails, and where it writes: the types every module shares.

use std::io::{self, BufWriter};

/// A failure: one line on stderr and a non-zero exit, or a closed stdout (quiet success).
#[derive(Debug)]
pub enum Failure {
    /// An error to print.
    Message(String),
    /// Stdout was closed by its reader (`| head`).
    BrokenPipe,
    /// Exit quietly with this status (the exit code of a command run in a container).
    Exit(u8),
}

impl Failure {
    /// A failure with this message.
    pub fn msg(message: impl Into<String>) -> Self {
        Failure::Message(message.into())
    }
}

impl From<io::Error> for Failure {
    fn from(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::BrokenPipe {
            Failure::BrokenPipe
        } else {
            Failure::Message(format!("write output: {error}"))
        }
    }
}

/// A result whose error is a [`Failure`].
pub type Result<T> = std::result::Result<T, Failure>;

/// Standard output, buffered.
pub type Out = BufWriter<io::StdoutLock<'static>>;
