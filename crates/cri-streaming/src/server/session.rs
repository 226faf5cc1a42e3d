//! What the sessions of both transports share: the terminal sizes the client sends and the
//! status of the runtime's work.

use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::sync::mpsc;

use super::BoxError;
use crate::protocol::{Status, TerminalSize};

/// Reads terminal sizes (a sequence of JSON objects) into a channel; ends at the end of the
/// stream or at the first malformed one.
pub(super) fn spawn_resize_reader<R: AsyncRead + Unpin + Send + 'static>(
    mut reader: R,
) -> mpsc::Receiver<TerminalSize> {
    let (tx, rx) = mpsc::channel(4);
    tokio::spawn(async move {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 512];
        loop {
            let n = match reader.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            let mut sizes = serde_json::Deserializer::from_slice(&buf).into_iter::<TerminalSize>();
            let mut parsed = Vec::new();
            loop {
                match sizes.next() {
                    Some(Ok(size)) => parsed.push(size),
                    Some(Err(e)) if e.is_eof() => break,
                    Some(Err(_)) => return,
                    None => break,
                }
            }
            let used = sizes.byte_offset();
            buf.drain(..used);
            if buf.len() > 4096 {
                return;
            }
            for size in parsed {
                if tx.send(size).await.is_err() {
                    return;
                }
            }
        }
    });
    rx
}

pub(super) fn status_of_exec(result: Result<i32, BoxError>) -> Status {
    match result {
        Ok(code) => Status::exit_code(code),
        Err(error) => {
            Status::internal_error(format!("error executing command in container: {error}"))
        }
    }
}

pub(super) fn status_of_attach(result: Result<(), BoxError>) -> Status {
    match result {
        Ok(()) => Status::success(),
        Err(error) => Status::internal_error(format!("error attaching to container: {error}")),
    }
}
