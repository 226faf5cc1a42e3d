//! A container's one main process as clients attach to it: its stdin is one stream that every
//! attached client writes to, and its output goes to the log and fans out to every attached
//! client, as in a real runtime.
//!
//! When an attached client's stdin ends: with `stdin_once` (and no TTY) the container's stdin
//! closes (its program reads the end); otherwise that client's session ends, after the output
//! its last input caused (the session waits until the program has been quiet for 200 ms),
//! as containerd ends it.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::sync::{Mutex, broadcast, watch};

use crate::command::{BoxRead, BoxWrite, CommandIo};

/// A piece of the process's output: which stream, what bytes.
#[derive(Clone)]
struct Chunk {
    stderr: bool,
    bytes: Arc<[u8]>,
}

/// The main process's streams.
pub(crate) struct Console {
    stdin: Mutex<Option<DuplexStream>>,
    stdin_once: bool,
    tty: bool,
    output: broadcast::Sender<Chunk>,
    done: watch::Sender<bool>,
}

impl std::fmt::Debug for Console {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Console").finish_non_exhaustive()
    }
}

/// How long an attach whose stdin ended still forwards output after the last of it.
const QUIET: Duration = Duration::from_millis(200);

impl Console {
    /// A console, and the process's stdin (when the container has one).
    pub fn new(stdin: bool, stdin_once: bool, tty: bool) -> (Arc<Console>, Option<BoxRead>) {
        let (writer, reader) = if stdin {
            let (w, r) = tokio::io::duplex(64 << 10);
            (Some(w), Some(Box::new(r) as BoxRead))
        } else {
            (None, None)
        };
        let console = Arc::new(Console {
            stdin: Mutex::new(writer),
            stdin_once,
            tty,
            output: broadcast::channel(1024).0,
            done: watch::channel(false).0,
        });
        (console, reader)
    }

    /// A writer for the process's stdout (or stderr) that also writes to `log`.
    pub fn tee(self: &Arc<Self>, log: BoxWrite, stderr: bool) -> BoxWrite {
        Box::new(Tee {
            log,
            console: self.clone(),
            stderr,
        })
    }

    /// The process ended (or was killed): attached sessions end.
    pub fn finish(&self) {
        self.done.send_replace(true);
    }

    /// Serves one attached client until the process ends (or the client's session ends; see
    /// the module docs).
    pub async fn attach(self: Arc<Self>, client: CommandIo) {
        let CommandIo {
            stdin,
            mut stdout,
            mut stderr,
            ..
        } = client;
        let mut output = self.output.subscribe();
        let mut done = self.done.subscribe();
        let (ended_tx, mut ended) = watch::channel(false);
        let input = stdin.map(|client_in| {
            let console = self.clone();
            tokio::spawn(async move {
                console.feed(client_in).await;
                let _ = ended_tx.send(true);
            })
        });
        let mut quiet_since: Option<tokio::time::Instant> = None;
        let mut input_ended = false;
        loop {
            let deadline = quiet_since.map(|t| t + QUIET);
            tokio::select! {
                chunk = output.recv() => match chunk {
                    Ok(chunk) => {
                        let to = if chunk.stderr && !self.tty { &mut stderr } else { &mut stdout };
                        if to.write_all(&chunk.bytes).await.is_err() || to.flush().await.is_err() {
                            break;
                        }
                        if quiet_since.is_some() {
                            quiet_since = Some(tokio::time::Instant::now());
                        }
                    }
                    Err(broadcast::error::RecvError::Lagged(_)) => {}
                    Err(broadcast::error::RecvError::Closed) => break,
                },
                _ = until_true(&mut done) => break,
                _ = until_true(&mut ended), if !input_ended => {
                    input_ended = true;
                    // With stdin_once the container's stdin has closed, and its output goes
                    // on until it ends; else this session ends once the program is quiet.
                    if !self.stdin_once || self.tty {
                        quiet_since = Some(tokio::time::Instant::now());
                    }
                }
                _ = sleep_until(deadline), if deadline.is_some() => break,
            }
        }
        // What the process wrote before it ended.
        while let Ok(chunk) = output.try_recv() {
            let to = if chunk.stderr && !self.tty {
                &mut stderr
            } else {
                &mut stdout
            };
            if to.write_all(&chunk.bytes).await.is_err() {
                break;
            }
        }
        let _ = stdout.flush().await;
        let _ = stderr.flush().await;
        if let Some(task) = input {
            task.abort();
        }
    }

    /// Copies a client's input to the process's stdin; at its end, closes the process's stdin
    /// if `stdin_once` (and no TTY).
    async fn feed(&self, mut from: BoxRead) {
        let mut buf = vec![0u8; 8192];
        loop {
            let n = match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            let mut stdin = self.stdin.lock().await;
            let Some(writer) = stdin.as_mut() else {
                break;
            };
            if writer.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
        if self.stdin_once && !self.tty {
            self.stdin.lock().await.take();
        }
    }
}

/// Waits until the flag is set (forever if its sender is gone without setting it).
async fn until_true(flag: &mut watch::Receiver<bool>) {
    if flag.wait_for(|set| *set).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

/// The process's stdout or stderr: to its log, and to every attached client.
struct Tee {
    log: BoxWrite,
    console: Arc<Console>,
    stderr: bool,
}

impl AsyncWrite for Tee {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let n = match Pin::new(&mut self.log).poll_write(cx, buf) {
            Poll::Ready(Ok(n)) => n,
            other => return other,
        };
        let _ = self.console.output.send(Chunk {
            stderr: self.stderr,
            bytes: Arc::from(&buf[..n]),
        });
        Poll::Ready(Ok(n))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.log).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.log).poll_shutdown(cx)
    }
}
