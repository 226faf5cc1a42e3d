//! `logs`: a container's log file, read with cri-log.

use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;
use cri_log::{Follower, ReadOptions, Stream, Streams, Timestamp};

use super::rpc;
use crate::cli::LogsArgs;
use crate::duration;
use crate::failure::{Failure, Out, Result};

pub(super) async fn logs(client: &Client, args: &LogsArgs, out: &mut Out) -> Result<()> {
    if args.reopen {
        rpc(
            "reopen container logs",
            client
                .reopen_container_log(v1::ReopenContainerLogRequest {
                    container_id: args.container.clone(),
                })
                .await,
        )?;
        eprintln!("Container logs reopened");
    }
    let status = rpc(
        "get container status",
        client
            .container_status(v1::ContainerStatusRequest {
                container_id: args.container.clone(),
                verbose: false,
            })
            .await,
    )?
    .status
    .unwrap_or_default();
    if status.log_path.is_empty() {
        return Err(Failure::msg(format!(
            "the container {} has not set a log path",
            args.container
        )));
    }
    let status = if args.previous {
        super::logs_previous::previous(status)?
    } else {
        status
    };
    let streams = match args.stream.as_deref() {
        None | Some("") => Streams::Both,
        Some("stdout") => Streams::Stdout,
        Some("stderr") => Streams::Stderr,
        Some(other) => {
            return Err(Failure::msg(format!(
                "--stream must be stdout or stderr, not {other:?}"
            )));
        }
    };
    let since = match &args.since {
        None => None,
        Some(text) => Some(match Timestamp::parse(text) {
            Ok(at) => at,
            Err(_) => Timestamp::now().saturating_sub(duration::parse_duration(text).map_err(|e| {
                Failure::msg(format!("--since {text:?}: give an RFC 3339 time (2013-01-02T13:23:37Z) or a duration (42m): {e}"))
            })?),
        }),
    };
    let options = ReadOptions::new()
        .tail(usize::try_from(args.tail).ok())
        .since(since)
        .streams(streams);
    let mut limit = usize::try_from(args.limit_bytes).ok();
    let mut stderr = std::io::stderr().lock();
    let mut buffer = Vec::new();
    // Writes a message to stdout or stderr (as the container wrote it); `false` at the limit.
    let mut emit = |message: cri_log::Message, out: &mut Out| -> Result<bool> {
        buffer.clear();
        message.write_to(&mut buffer, args.timestamps);
        let mut done = false;
        if let Some(left) = limit.as_mut() {
            if buffer.len() >= *left {
                buffer.truncate(*left);
                done = true;
            }
            *left -= buffer.len();
        }
        match message.stream {
            Stream::Stdout => out.write_all(&buffer)?,
            Stream::Stderr => {
                out.flush()?;
                stderr.write_all(&buffer)?;
            }
        }
        Ok(!done)
    };
    // Lines that do not read: the first few are shown, the rest counted (a garbage file
    // would otherwise print a line for each of its lines).
    let bad_lines = std::cell::Cell::new(0u64);
    let report = |error: cri_log::Error| -> Result<()> {
        if error.is_recoverable() {
            bad_lines.set(bad_lines.get() + 1);
            if bad_lines.get() <= SHOWN_ERRORS {
                eprintln!("crictl: {}: {error}", status.log_path);
            }
            Ok(())
        } else {
            Err(Failure::msg(format!("read {}: {error}", status.log_path)))
        }
    };
    let result = print(
        client,
        args,
        &status.log_path,
        options,
        out,
        &mut emit,
        &report,
    )
    .await;
    if bad_lines.get() > SHOWN_ERRORS {
        eprintln!(
            "crictl: {}: {} lines could not be read (the first {SHOWN_ERRORS} are shown)",
            status.log_path,
            bad_lines.get()
        );
    }
    result
}

/// How many unreadable lines `logs` shows before it only counts them.
const SHOWN_ERRORS: u64 = 10;

/// Prints the log at `path`, or follows it.
async fn print(
    client: &Client,
    args: &LogsArgs,
    path: &str,
    options: ReadOptions,
    out: &mut Out,
    emit: &mut impl FnMut(cri_log::Message, &mut Out) -> Result<bool>,
    report: &impl Fn(cri_log::Error) -> Result<()>,
) -> Result<()> {
    if !args.follow {
        // With --tail, read_file reads the file from near its end, not all of it.
        let reader = cri_log::read_file(path, options)
            .map_err(|e| Failure::msg(format!("open the log file {path}: {e}")))?;
        for message in reader {
            match message {
                Ok(message) => {
                    if !emit(message, out)? {
                        break;
                    }
                }
                Err(error) => report(error)?,
            }
        }
        return Ok(());
    }
    let mut follower = Follower::open(path, options)
        .map_err(|e| Failure::msg(format!("open the log file {path}: {e}")))?;
    let poll = std::time::Duration::from_millis(100);
    let mut check = tokio::time::interval(std::time::Duration::from_secs(1));
    loop {
        tokio::select! {
            message = follower.next_async(poll) => match message {
                Ok(message) => {
                    if !emit(message, out)? {
                        return Ok(());
                    }
                    out.flush()?;
                }
                Err(error) => report(error)?,
            },
            _ = check.tick() => {
                // Stop once the container is no longer running, after what it wrote last.
                let running = client
                    .container_status(v1::ContainerStatusRequest { container_id: args.container.clone(), verbose: false })
                    .await
                    .ok()
                    .and_then(|r| r.status)
                    .is_some_and(|s| s.state == v1::ContainerState::ContainerRunning as i32);
                if !running {
                    // Drain the rest a read at a time (try_next reads as it goes), and only
                    // then end the last partial line: flushing first would read all that is
                    // left into memory at once.
                    let mut flushed = false;
                    loop {
                        match follower.try_next() {
                            Some(Ok(message)) => {
                                if !emit(message, out)? {
                                    return Ok(());
                                }
                            }
                            Some(Err(error)) => report(error)?,
                            None if !flushed => {
                                follower.flush().map_err(|e| Failure::msg(format!("read {path}: {e}")))?;
                                flushed = true;
                            }
                            None => return Ok(()),
                        }
                    }
                }
            }
            _ = tokio::signal::ctrl_c() => return Ok(()),
        }
    }
}
