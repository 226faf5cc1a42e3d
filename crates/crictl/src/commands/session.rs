//! An interactive exec or attach session: the transport, the terminal in raw mode, stdin,
//! stdout and stderr copied, terminal resizes sent.

use std::io::Write;
use std::os::fd::AsFd;

use cri_streaming::client::{SessionReader, SessionWriter, Transport};

use crate::failure::{Failure, Out, Result};

/// The streaming transport of `--transport` (cri-streaming's names: `spdy`, `websocket` or
/// `ws`, `auto`), SPDY by default as in crictl: a runtime's streaming URL is single-use, so a
/// refused WebSocket attempt would spend it. An empty name is refused rather than read as
/// `auto`.
pub(super) fn transport(name: Option<&str>) -> Result<Transport> {
    match name.unwrap_or("spdy") {
        "" => Err(Failure::msg(
            "--transport is empty: use spdy, websocket or auto",
        )),
        name => name
            .parse()
            .map_err(|error: String| Failure::msg(format!("--transport: {error}"))),
    }
}

/// Puts the terminal in raw mode for a TTY session and restores it when dropped.
struct RawTerminal(bool);

impl RawTerminal {
    fn enter(tty: bool) -> Result<Self> {
        use std::io::IsTerminal;
        if tty && std::io::stdin().is_terminal() {
            crossterm::terminal::enable_raw_mode()
                .map_err(|e| Failure::msg(format!("put the terminal in raw mode: {e}")))?;
            return Ok(RawTerminal(true));
        }
        Ok(RawTerminal(false))
    }
}

impl Drop for RawTerminal {
    fn drop(&mut self) {
        if self.0 {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

/// How much one read of stdin, stdout or stderr moves at most. Large: a bulk copy then costs
/// few system calls and wake-ups; an interactive session still moves each keystroke and line
/// as it comes.
const CHUNK: usize = 128 << 10;

/// Runs an exec or attach session: stdin in, stdout and stderr out, terminal size sent on
/// SIGWINCH for a TTY; the command's exit code becomes crictl's.
///
/// Each stream moves on its own, so a slow reader of stdout stops neither stdin nor stderr
/// (the transport's own back-pressure aside): stdin is read by a thread of its own (a read
/// of a terminal or pipe blocks) that hands each chunk to the session; stderr is written by
/// another; stdout by a task of the runtime ([`copy_stdout`]). Writes are unbuffered (a
/// chunk is written as it arrives).
pub(super) async fn run_session(
    mut session: cri_streaming::client::ExecSession,
    stdin: bool,
    tty: bool,
    out: &mut Out,
) -> Result<()> {
    out.flush()?;
    let raw = RawTerminal::enter(tty)?;
    if let Some(resizer) = session.resizer().filter(|_| raw.0) {
        if let Ok((width, height)) = crossterm::terminal::size() {
            let _ = resizer.resize(width, height).await;
        }
        tokio::spawn(async move {
            let Ok(mut changes) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::window_change())
            else {
                return;
            };
            while changes.recv().await.is_some() {
                let Ok((width, height)) = crossterm::terminal::size() else {
                    continue;
                };
                if resizer.resize(width, height).await.is_err() {
                    return;
                }
            }
        });
    }
    let runtime = tokio::runtime::Handle::current();
    if let (true, Some(writer)) = (stdin, session.stdin.take()) {
        // Not joined: a read of a terminal may stay blocked after the session ended, and
        // the process exits without waiting for it.
        let runtime = runtime.clone();
        std::thread::Builder::new()
            .name("stdin".into())
            .spawn(move || copy_stdin(&runtime, writer))
            .map_err(|e| Failure::msg(format!("start the stdin thread: {e}")))?;
    }
    let stderr_thread = match session.stderr.take() {
        Some(reader) => {
            let runtime = runtime.clone();
            Some(
                std::thread::Builder::new()
                    .name("stderr".into())
                    .spawn(move || copy_out(&runtime, reader, &mut std::io::stderr().lock()))
                    .map_err(|e| Failure::msg(format!("start the stderr thread: {e}")))?,
            )
        }
        None => None,
    };
    if let Some(reader) = session.stdout.take() {
        // `out` holds stdout's lock: the task writes to a descriptor of its own.
        let stdout = std::io::stdout()
            .as_fd()
            .try_clone_to_owned()
            .map(std::fs::File::from)
            .map_err(|e| Failure::msg(format!("stdout: {e}")))?;
        match tokio::spawn(copy_stdout(reader, stdout)).await {
            Ok(result) => result?,
            Err(error) => return Err(Failure::msg(format!("copying stdout: {error}"))),
        }
    }
    if let Some(thread) = stderr_thread {
        // It ends at the end of stderr, which comes with the end of the session.
        let _ = tokio::task::spawn_blocking(move || thread.join()).await;
    }
    let closes_stdin = session.closes_stdin();
    let code = session.wait().await.map_err(|error| match error {
        cri_streaming::client::Error::StdinEndsSession { .. } if !closes_stdin => Failure::msg(
            format!("session: {error}; with stdin, use --transport spdy (the default), or auto"),
        ),
        error => Failure::msg(format!("session: {error}")),
    })?;
    drop(raw);
    if code != 0 {
        return Err(Failure::Exit(u8::try_from(code).unwrap_or(1).max(1)));
    }
    Ok(())
}

/// Copies this process's stdin to the session's until either ends, then ends the session's
/// (over a protocol without the stdin close, WebSocket v4, that ends the session).
fn copy_stdin(runtime: &tokio::runtime::Handle, mut writer: SessionWriter) {
    use std::io::Read;
    use tokio::io::AsyncWriteExt;
    let mut input = std::io::stdin().lock();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = match input.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        if runtime.block_on(writer.write_all(&buf[..n])).is_err() {
            // The session has ended.
            return;
        }
    }
    let _ = runtime.block_on(writer.shutdown());
}

/// Copies the session's stdout to this process's until its end.
///
/// A task on the runtime's workers, like the connection's own task: handing each chunk to
/// another thread (as a copy on the main thread does) costs a wake-up of that thread per
/// chunk, which dominated a bulk transfer. The write blocks; before it, the task yields, so
/// that whatever its read woke runs first and is not held behind the write on this worker
/// (the other worker takes the connection's task meanwhile: a slow reader of stdout stops
/// neither stdin nor the connection).
async fn copy_stdout(mut reader: SessionReader, mut to: std::fs::File) -> Result<()> {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = reader
            .read(&mut buf)
            .await
            .map_err(|e| Failure::msg(format!("read the session's stdout: {e}")))?;
        if n == 0 {
            return Ok(());
        }
        tokio::task::yield_now().await;
        to.write_all(&buf[..n])?;
    }
}

/// Copies a session's stream (stderr) to `to` until its end, or until `to` fails.
fn copy_out(runtime: &tokio::runtime::Handle, mut reader: SessionReader, to: &mut impl Write) {
    use tokio::io::AsyncReadExt;
    let mut buf = vec![0u8; CHUNK];
    loop {
        match runtime.block_on(reader.read(&mut buf)) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if to.write_all(&buf[..n]).and_then(|()| to.flush()).is_err() {
                    return;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transports_default_to_spdy_and_refuse_unknown_names() {
        assert_eq!(transport(None).unwrap(), Transport::Spdy);
        assert_eq!(transport(Some("spdy")).unwrap(), Transport::Spdy);
        assert_eq!(transport(Some("websocket")).unwrap(), Transport::WebSocket);
        assert_eq!(transport(Some("auto")).unwrap(), Transport::Auto);
        for bad in ["", "http2"] {
            let Err(Failure::Message(message)) = transport(Some(bad)) else {
                panic!("{bad:?} was accepted");
            };
            assert!(message.starts_with("--transport"), "{message}");
        }
    }
}
