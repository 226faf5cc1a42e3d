//! An interactive exec or attach session: the transport, the terminal in raw mode, stdin,
//! stdout and stderr copied, terminal resizes sent.

use std::io::Write;

use cri_streaming::client::Transport;

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

/// Runs an exec or attach session: stdin in, stdout and stderr out, terminal size sent on
/// SIGWINCH for a TTY; the command's exit code becomes crictl's.
pub(super) async fn run_session(
    mut session: cri_streaming::client::ExecSession,
    stdin: bool,
    tty: bool,
    out: &mut Out,
) -> Result<()> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
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
    if let (true, Some(mut writer)) = (stdin, session.stdin.take()) {
        tokio::spawn(async move {
            let mut input = tokio::io::stdin();
            let mut buf = vec![0u8; 8192];
            loop {
                match input.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if writer.write_all(&buf[..n]).await.is_err()
                            || writer.flush().await.is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let _ = writer.shutdown().await;
        });
    }
    // stderr in a task; stdout here, through `out` (which holds the stdout lock).
    let stderr_task = session.stderr.take().map(|mut reader| {
        tokio::spawn(async move {
            let mut buf = vec![0u8; 8192];
            let mut err = tokio::io::stderr();
            loop {
                match reader.read(&mut buf).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => {
                        if err.write_all(&buf[..n]).await.is_err() || err.flush().await.is_err() {
                            return;
                        }
                    }
                }
            }
        })
    });
    if let Some(mut reader) = session.stdout.take() {
        let mut buf = vec![0u8; 8192];
        loop {
            let n = reader
                .read(&mut buf)
                .await
                .map_err(|e| Failure::msg(format!("read the session's stdout: {e}")))?;
            if n == 0 {
                break;
            }
            out.write_all(&buf[..n])?;
            out.flush()?;
        }
    }
    if let Some(task) = stderr_task {
        let _ = task.await;
    }
    let code = session
        .wait()
        .await
        .map_err(|e| Failure::msg(format!("session: {e}")))?;
    drop(raw);
    if code != 0 {
        return Err(Failure::Exit(u8::try_from(code).unwrap_or(1).max(1)));
    }
    Ok(())
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
