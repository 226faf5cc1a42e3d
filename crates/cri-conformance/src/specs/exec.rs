//! `exec`: ExecSync's output, exit code and timeout.

use anyhow::{Context as _, bail, ensure};
use cri_api_v1 as v1;

use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("exec", "sync_stdout", sync_stdout).also_in_critest(),
        Spec::new("exec", "sync_stderr_exit_code", sync_stderr_exit_code).also_in_critest(),
        Spec::new("exec", "sync_timeout", sync_timeout).also_in_critest(),
    ]
}

async fn exec_sync(
    ctx: &Ctx,
    id: &str,
    cmd: &[&str],
    timeout: i64,
) -> anyhow::Result<v1::ExecSyncResponse> {
    ctx.client()
        .exec_sync(v1::ExecSyncRequest {
            container_id: id.to_owned(),
            cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
            timeout,
        })
        .await
        .with_context(|| format!("ExecSync {cmd:?}"))
}

/// `echo hello` prints `hello\n` on stdout and exits 0.
async fn sync_stdout(ctx: Ctx) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let out = exec_sync(&ctx, &id, &["echo", "hello"], 0).await?;
    ensure!(out.exit_code == 0, "exit code {}", out.exit_code);
    ensure!(
        out.stdout == b"hello\n",
        "stdout {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    ensure!(
        out.stderr.is_empty(),
        "stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    Ok(())
}

/// Stderr and a non-zero exit code come back as they are (not as an RPC error).
async fn sync_stderr_exit_code(ctx: Ctx) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let out = exec_sync(&ctx, &id, &["sh", "-c", "echo oops >&2; exit 7"], 0).await?;
    ensure!(out.exit_code == 7, "exit code {}, want 7", out.exit_code);
    ensure!(
        out.stderr == b"oops\n",
        "stderr {:?}",
        String::from_utf8_lossy(&out.stderr)
    );
    ensure!(
        out.stdout.is_empty(),
        "stdout {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(())
}

/// A command that outlives ExecSync's `timeout` fails the call, in about that time.
async fn sync_timeout(ctx: Ctx) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let started = std::time::Instant::now();
    match exec_sync(&ctx, &id, &["sleep", "30"], 1).await {
        Ok(out) => bail!(
            "a 30 s command under a 1 s timeout returned exit code {}",
            out.exit_code
        ),
        Err(_) => {
            let took = started.elapsed();
            ensure!(
                took.as_secs() < 10,
                "the timeout of 1 s took {took:?} to apply"
            );
        }
    }
    Ok(())
}
