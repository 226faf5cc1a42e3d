//! The main process of a started container: its command, run through the command set, with
//! its output in the container's CRI log.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};

use cri_log::{LogWriter, Stream};
use tokio::io::AsyncWrite;

/// A container's CRI log: the writer and the path it reopens.
#[derive(Clone)]
pub(crate) struct Log {
    path: PathBuf,
    writer: Arc<Mutex<LogWriter<File>>>,
}

impl Log {
    /// Creates (or appends to) the log at `path`.
    pub fn open(path: &Path) -> io::Result<Log> {
        let file = cri_log::open_log_file(path)?;
        Ok(Log {
            path: path.to_path_buf(),
            writer: Arc::new(Mutex::new(LogWriter::new(file))),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, LogWriter<File>> {
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// `ReopenContainerLog`: a new file at the path (after the old one was renamed);
    /// buffered output carries over.
    pub fn reopen(&self) -> io::Result<()> {
        let file = cri_log::open_log_file(&self.path)?;
        self.lock().set_output(file);
        Ok(())
    }

    /// The end of the output: what is left without a newline goes out as a partial line.
    pub fn finish(&self) {
        let _ = self.lock().finish();
    }
}

/// A stream of a container into its log (or nowhere, for a container without a log path).
/// Writes go to the file at once (small, local writes; the fake accepts blocking there).
pub(crate) struct LogSink {
    pub log: Option<Log>,
    pub stream: Stream,
}

impl AsyncWrite for LogSink {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if let Some(log) = &self.log {
            log.lock().write(self.stream, buf)?;
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Some(log) = &self.log {
            log.lock().flush()?;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_flush(cx)
    }
}
