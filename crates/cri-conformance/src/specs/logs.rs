//! `logs`: what the runtime writes to a container's log file follows the CRI log format
//! (RFC 3339 nanosecond timestamps, the stream, `P`/`F` tags, partial lines).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context as _, ensure};
use cri_api_v1 as v1;
use cri_log::{Line, Stream, Tag};

use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("logs", "both_streams", both_streams).also_in_critest(),
        Spec::new("logs", "long_line_is_split", long_line_is_split),
        Spec::new("logs", "no_final_newline_is_partial", no_final_newline),
    ]
}

/// Runs `command` to its end and returns the lines of its log file.
async fn log_of(ctx: &Ctx, command: &[&str]) -> anyhow::Result<Vec<u8>> {
    let (_, pod_config, id) = ctx.pod_with_container(command).await?;
    let status = ctx
        .wait_container_state(
            &id,
            v1::ContainerState::ContainerExited,
            Duration::from_secs(20),
        )
        .await?;
    let mut path = PathBuf::from(&status.log_path);
    if path.is_relative() {
        path = PathBuf::from(&pod_config.log_directory).join(path);
    }
    // The runtime may flush its last line a moment after the exit.
    tokio::time::sleep(Duration::from_millis(200)).await;
    std::fs::read(&path).with_context(|| format!("reading the log {}", path.display()))
}

fn parse(log: &[u8]) -> anyhow::Result<Vec<Line<'_>>> {
    let mut lines = Vec::new();
    let mut last = None;
    for (n, raw) in log.split_inclusive(|b| *b == b'\n').enumerate() {
        ensure!(raw.ends_with(b"\n"), "line {} has no newline", n + 1);
        let line = Line::parse(raw)
            .with_context(|| format!("line {} {:?}", n + 1, String::from_utf8_lossy(raw)))?;
        if let Some(previous) = last {
            ensure!(
                line.timestamp >= previous,
                "line {} goes back in time",
                n + 1
            );
        }
        last = Some(line.timestamp);
        lines.push(line);
    }
    Ok(lines)
}

/// Stdout and stderr lines are tagged with their stream, whole (`F`), in order of time.
async fn both_streams(ctx: Ctx) -> SpecResult {
    let log = log_of(&ctx, &["sh", "-c", "echo out; echo err >&2"]).await?;
    let lines = parse(&log)?;
    let has = |stream: Stream, content: &[u8]| {
        lines
            .iter()
            .any(|l| l.stream == stream && l.tag == Tag::Full && l.content == content)
    };
    ensure!(
        has(Stream::Stdout, b"out"),
        "no full stdout line \"out\" in {:?}",
        String::from_utf8_lossy(&log)
    );
    ensure!(
        has(Stream::Stderr, b"err"),
        "no full stderr line \"err\" in {:?}",
        String::from_utf8_lossy(&log)
    );
    Ok(())
}

/// A line longer than the runtime's maximum (kubelet and containerd: 16 KiB) is split into
/// `P` lines and a final `F` line that join to the whole line.
async fn long_line_is_split(ctx: Ctx) -> SpecResult {
    let long = "x".repeat(40 * 1024);
    let script = format!("printf '%s\\n' {long}");
    let log = log_of(&ctx, &["sh", "-c", &script]).await?;
    let lines = parse(&log)?;
    let stdout: Vec<&Line<'_>> = lines
        .iter()
        .filter(|l| l.stream == Stream::Stdout)
        .collect();
    ensure!(
        stdout.len() >= 2,
        "a 40 KiB line was written as {} line(s)",
        stdout.len()
    );
    let (last, first) = stdout.split_last().context("no stdout")?;
    ensure!(
        first.iter().all(|l| l.tag == Tag::Partial),
        "the leading parts are not all P"
    );
    ensure!(last.tag == Tag::Full, "the last part is not F");
    let joined: Vec<u8> = stdout
        .iter()
        .flat_map(|l| l.content.iter().copied())
        .collect();
    ensure!(
        joined == long.as_bytes(),
        "the parts join to {} bytes, not {}",
        joined.len(),
        long.len()
    );
    Ok(())
}

/// Output that ends without a newline is kept, as a `P` line.
async fn no_final_newline(ctx: Ctx) -> SpecResult {
    let log = log_of(&ctx, &["sh", "-c", "printf tail-without-newline"]).await?;
    let lines = parse(&log)?;
    let last = lines.last().context("the log is empty")?;
    ensure!(
        last.content == b"tail-without-newline",
        "last line {:?}",
        String::from_utf8_lossy(last.content)
    );
    ensure!(
        last.tag == Tag::Partial,
        "a line without its newline is tagged F"
    );
    Ok(())
}
