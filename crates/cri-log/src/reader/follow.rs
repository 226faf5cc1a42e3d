//! [`Follower`]: a log file followed as it grows, across rotations and truncations.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::decode::Decoder;
use super::reverse::tail_start;
use super::tail::Tail;
use super::{Error, Message, ReadOptions};

/// Follows a log file as it grows, like `tail -F`: first what the file holds (with
/// [`ReadOptions::tail`] and [`ReadOptions::since`] applied; streamed, not loaded), then
/// what is appended, across
/// rotations (the path renamed and a new file created, as `ReopenContainerLog` does) and
/// truncations.
///
/// It polls: [`Follower::try_next`] never waits, [`Follower::next_blocking`] sleeps
/// between polls, and [`Follower::next_async`] (feature `tokio`) sleeps on tokio's timer.
/// When to stop (the container exited, the user pressed Ctrl-C) is the caller's decision.
/// A partial message waits for the rest of its line; with joining it comes out when the line
/// ends, when the file is rotated, or when [`Follower::flush`] says so.
///
/// ```
/// use std::io::Write;
/// use cri_log::{Follower, ReadOptions};
///
/// let dir = tempfile::tempdir().unwrap();
/// let path = dir.path().join("0.log");
/// std::fs::write(&path, "2016-10-06T00:17:09Z stdout F first\n").unwrap();
/// let mut follow = Follower::open(&path, ReadOptions::new()).unwrap();
/// assert_eq!(follow.try_next().unwrap().unwrap().content, b"first");
/// assert!(follow.try_next().is_none());
///
/// // Rotation: the runtime renames the file and reopens the path.
/// std::fs::rename(&path, dir.path().join("0.log.1")).unwrap();
/// std::fs::write(&path, "2016-10-06T00:17:10Z stderr F second\n").unwrap();
/// assert_eq!(follow.try_next().unwrap().unwrap().content, b"second");
/// ```
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    file: Option<File>,
    identity: Option<Identity>,
    position: u64,
    decoder: Decoder,
    /// With tail: the last messages of what the file held on open.
    history: VecDeque<Result<Message, Error>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
}

fn identity(meta: &std::fs::Metadata) -> Option<Identity> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Some(Identity {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        None
    }
}

impl Follower {
    /// Opens the file at `path`. What it holds now comes first, read as it is asked for (it
    /// is not held in memory), then what is appended later. With [`ReadOptions::tail`], only
    /// the last messages of what it holds now: their start is found reading backwards (see
    /// [`read_file`](super::read_file)) and they are read at once, so memory is bounded by
    /// their count.
    pub fn open(path: impl AsRef<Path>, options: ReadOptions) -> io::Result<Self> {
        let path = path.as_ref().to_path_buf();
        let mut file = File::open(&path)?;
        let meta = file.metadata()?;
        let start = match options.tail {
            Some(n) => {
                let start = tail_start(&mut file, meta.len(), n, &options)?;
                file.seek(SeekFrom::Start(start))?
            }
            None => 0,
        };
        let mut follower = Follower {
            path,
            identity: identity(&meta),
            file: Some(file),
            position: start,
            decoder: Decoder::new(ReadOptions {
                tail: None,
                ..options
            }),
            history: VecDeque::new(),
        };
        // With tail: read to the end now, keeping the last messages; a partial message or
        // line at the end stays pending.
        if let Some(n) = options.tail {
            let mut tail = Tail::new(n);
            loop {
                while let Some(item) = follower.decoder.pop() {
                    tail.push(item);
                }
                if follower.read_appended()? == 0 {
                    break;
                }
            }
            follower.history = tail.kept;
        }
        Ok(follower)
    }

    /// Reads once from the open file; the number of bytes read.
    fn read_appended(&mut self) -> io::Result<usize> {
        let Some(file) = self.file.as_mut() else {
            return Ok(0);
        };
        let buf = &mut self.decoder.splitter.buf;
        let start = buf.len();
        buf.resize(start + 64 * 1024, 0);
        let n = loop {
            match file.read(&mut buf[start..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        let n = match n {
            Ok(n) => n,
            Err(e) => {
                buf.truncate(start);
                return Err(e);
            }
        };
        buf.truncate(start + n);
        if n > 0 {
            self.position += n as u64;
            self.decoder.drain();
        }
        Ok(n)
    }

    /// The next message, error, or `None` when nothing new has been written yet.
    pub fn try_next(&mut self) -> Option<Result<Message, Error>> {
        if let Some(item) = self.history.pop_front() {
            return Some(item);
        }
        loop {
            if let Some(item) = self.decoder.pop() {
                return Some(item);
            }
            match self.read_more() {
                Ok(true) => continue,
                Ok(false) => return None,
                Err(e) => return Some(Err(Error::Io(e))),
            }
        }
    }

    /// Reads what was appended; `true` if anything was (or the file changed).
    fn read_more(&mut self) -> io::Result<bool> {
        if self.read_appended()? > 0 {
            return Ok(true);
        }
        // At the end of the open file: has the path moved on to another file, or been
        // truncated?
        let meta = match std::fs::metadata(&self.path) {
            Ok(meta) => meta,
            // Between a rename and the new file's creation: wait.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(e),
        };
        let rotated = match (identity(&meta), self.identity) {
            (Some(now), Some(was)) => now != was,
            _ => false,
        };
        let truncated = !rotated && meta.len() < self.position;
        if !(rotated || truncated || self.file.is_none()) {
            return Ok(false);
        }
        // The old file is drained: what was partial there ends with it.
        self.decoder.end(true);
        let file = File::open(&self.path)?;
        self.identity = identity(&file.metadata()?);
        self.file = Some(file);
        self.position = 0;
        self.decoder.splitter.line_no = 0;
        Ok(true)
    }

    /// For when the writer is known to be done (the container exited): reads what the file
    /// holds now and emits every partial message (and an unterminated last line), without
    /// waiting for the rest of their lines.
    pub fn flush(&mut self) -> io::Result<()> {
        while self.read_appended()? > 0 {}
        self.decoder.end(true);
        Ok(())
    }

    /// The next message or error, sleeping `interval` between polls of the file until
    /// something comes.
    pub fn next_blocking(&mut self, interval: Duration) -> Result<Message, Error> {
        loop {
            if let Some(item) = self.try_next() {
                return item;
            }
            std::thread::sleep(interval);
        }
    }

    /// The next message or error, polling the file every `interval` on tokio's timer.
    /// Cancel-safe: drop the future to stop (nothing read is lost).
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub async fn next_async(&mut self, interval: Duration) -> Result<Message, Error> {
        loop {
            if let Some(item) = self.try_next() {
                return item;
            }
            tokio::time::sleep(interval).await;
        }
    }

    /// The path followed.
    pub fn path(&self) -> &Path {
        &self.path
    }
}
