//! `streaming`: Exec, Attach and PortForward through the URL the runtime answers, over each
//! transport the client speaks (WebSocket and SPDY/3.1).

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use cri_api_v1 as v1;
use cri_streaming::client::{self as stream, ExecOptions, PortForwardOptions, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("streaming", "exec_websocket", exec_websocket).also_in_critest(),
        Spec::new("streaming", "exec_spdy", exec_spdy).also_in_critest(),
        Spec::new("streaming", "exec_stdin", exec_stdin).also_in_critest(),
        Spec::new("streaming", "exec_exit_code", exec_exit_code),
        Spec::new("streaming", "attach", attach).also_in_critest(),
        Spec::new("streaming", "port_forward", port_forward).also_in_critest(),
    ]
}

async fn exec_url(ctx: &Ctx, id: &str, cmd: &[&str], stdin: bool) -> anyhow::Result<String> {
    let url = ctx
        .client()
        .exec_url(v1::ExecRequest {
            container_id: id.to_owned(),
            cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
            stdin,
            stdout: true,
            stderr: true,
            tty: false,
        })
        .await
        .context("Exec")?
        .url;
    ensure!(!url.is_empty(), "Exec answered an empty URL");
    Ok(url)
}

async fn exec_over(ctx: Ctx, transport: Transport) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let url = exec_url(&ctx, &id, &["echo", "hello"], false).await?;
    let options = ExecOptions::new()
        .stdout(true)
        .stderr(true)
        .transport(transport);
    let session = stream::exec(&url, &options)
        .await
        .with_context(|| format!("exec over {transport}"))?;
    let out = session.output(&[]).await.context("exec session")?;
    ensure!(
        out.stdout == b"hello\n",
        "stdout {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    ensure!(out.exit_code == 0, "exit code {}", out.exit_code);
    Ok(())
}

/// Exec over a WebSocket (`v5.channel.k8s.io`/`v4`).
async fn exec_websocket(ctx: Ctx) -> SpecResult {
    exec_over(ctx, Transport::WebSocket).await
}

/// Exec over SPDY/3.1 (what kubectl's older path and critest use).
async fn exec_spdy(ctx: Ctx) -> SpecResult {
    exec_over(ctx, Transport::Spdy).await
}

/// What is written to an exec's stdin reaches the command (`cat` echoes it), and closing
/// stdin ends it. Over SPDY, where every protocol version can signal the close (over a
/// WebSocket only `v5.channel.k8s.io` can, which containerd 1.6 does not speak).
async fn exec_stdin(ctx: Ctx) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let url = exec_url(&ctx, &id, &["cat"], true).await?;
    let options = ExecOptions::new()
        .stdin(true)
        .stdout(true)
        .stderr(true)
        .transport(Transport::Spdy);
    let session = stream::exec(&url, &options).await.context("exec")?;
    let out = session.output(b"ping\n").await.context("exec session")?;
    ensure!(
        out.stdout == b"ping\n",
        "stdout {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(())
}

/// A command's exit code comes back through the session's status.
async fn exec_exit_code(ctx: Ctx) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let url = exec_url(&ctx, &id, &["sh", "-c", "echo e >&2; exit 5"], false).await?;
    let options = ExecOptions::new().stdout(true).stderr(true);
    let out = stream::exec(&url, &options)
        .await
        .context("exec")?
        .output(&[])
        .await
        .context("exec session")?;
    ensure!(out.exit_code == 5, "exit code {}, want 5", out.exit_code);
    ensure!(
        out.stderr == b"e\n",
        "stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Attach to a container running `cat` with stdin: what is written comes back on stdout.
async fn attach(ctx: Ctx) -> SpecResult {
    let pod_config = ctx.pod_config("attach");
    let pod = ctx.run_pod(&pod_config).await?;
    let mut config = ctx.container_config("attach", &["cat"]);
    config.stdin = true;
    let id = ctx.create_container(&pod, &pod_config, config).await?;
    ctx.client()
        .start_container(v1::StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .context("StartContainer")?;
    let url = ctx
        .client()
        .attach_url(v1::AttachRequest {
            container_id: id.clone(),
            stdin: true,
            tty: false,
            stdout: true,
            stderr: true,
        })
        .await
        .context("Attach")?
        .url;
    let options = ExecOptions::new().stdin(true).stdout(true).stderr(true);
    let mut session = stream::attach(&url, &options).await.context("attach")?;
    let mut stdin = session.stdin.take().context("no stdin")?;
    let mut stdout = session.stdout.take().context("no stdout")?;
    stdin
        .write_all(b"hello attach\n")
        .await
        .context("writing stdin")?;
    stdin.flush().await.context("flushing stdin")?;
    let mut got = Vec::new();
    let mut buf = [0u8; 256];
    let read = async {
        while !got.ends_with(b"hello attach\n") {
            let n = stdout.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        Ok::<_, std::io::Error>(())
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .context("no echo on stdout within 10 s")?
        .context("reading stdout")?;
    ensure!(
        got == b"hello attach\n",
        "stdout {:?}",
        String::from_utf8_lossy(&got)
    );
    Ok(())
}

/// Port forward to a port of the pod where a container echoes what it receives (busybox's
/// `nc -l -e cat`, one connection).
async fn port_forward(ctx: Ctx) -> SpecResult {
    const PORT: u16 = 12345;
    let (pod, _, _) = ctx
        .pod_with_container(&["busybox", "nc", "-l", "-p", "12345", "-e", "cat"])
        .await?;
    let url = ctx
        .client()
        .port_forward_url(v1::PortForwardRequest {
            pod_sandbox_id: pod.clone(),
            port: vec![i32::from(PORT)],
        })
        .await
        .context("PortForward")?
        .url;
    let forward = stream::port_forward(&url, &[PORT], &PortForwardOptions::new())
        .await
        .context("port forward")?;
    let mut last = String::new();
    for _ in 0..20 {
        let attempt = async {
            let mut conn = forward.connect(PORT).await?;
            conn.write_all(b"ping\n").await?;
            conn.flush().await?;
            let mut got = vec![0u8; 5];
            conn.read_exact(&mut got).await?;
            Ok::<_, anyhow::Error>(got)
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(got)) if got == b"ping\n" => return Ok(()),
            Ok(Ok(got)) => bail!("port {PORT} answered {:?}", String::from_utf8_lossy(&got)),
            Ok(Err(e)) => last = format!("{e:#}"),
            Err(_) => last = "no answer within 2 s".into(),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    bail!("port {PORT} never echoed: {last}")
}
