//! `linux`: what a container's Linux config asks for is what its processes see: the user it
//! runs as, a read-only root filesystem, its environment.

use anyhow::{Context as _, ensure};
use cri_api_v1 as v1;

use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("linux", "run_as_user", run_as_user).also_in_critest(),
        Spec::new("linux", "readonly_rootfs", readonly_rootfs).also_in_critest(),
        Spec::new("linux", "env", env).also_in_critest(),
    ]
}

/// Starts a `sleep` container made from `config` after `edit`, and runs `cmd` in it.
async fn exec_in(
    ctx: &Ctx,
    edit: impl FnOnce(&mut v1::ContainerConfig),
    cmd: &[&str],
) -> anyhow::Result<v1::ExecSyncResponse> {
    let pod_config = ctx.pod_config("linux");
    let pod = ctx.run_pod(&pod_config).await?;
    let mut config = ctx.container_config("linux", &["sleep", "3600"]);
    edit(&mut config);
    let id = ctx.create_container(&pod, &pod_config, config).await?;
    ctx.client()
        .start_container(v1::StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .context("StartContainer")?;
    ctx.client()
        .exec_sync(v1::ExecSyncRequest {
            container_id: id,
            cmd: cmd.iter().map(|s| (*s).to_owned()).collect(),
            timeout: 10,
        })
        .await
        .with_context(|| format!("ExecSync {cmd:?}"))
}

fn security(config: &mut v1::ContainerConfig) -> &mut v1::LinuxContainerSecurityContext {
    config
        .linux
        .get_or_insert_with(Default::default)
        .security_context
        .get_or_insert_with(Default::default)
}

/// `run_as_user: 1000`: `id -u` prints 1000.
async fn run_as_user(ctx: Ctx) -> SpecResult {
    let out = exec_in(
        &ctx,
        |c| security(c).run_as_user = Some(v1::Int64Value { value: 1000 }),
        &["id", "-u"],
    )
    .await?;
    ensure!(
        out.stdout == b"1000\n",
        "id -u printed {:?}",
        String::from_utf8_lossy(&out.stdout)
    );
    Ok(())
}

/// `readonly_rootfs`: writing a file under `/` fails.
async fn readonly_rootfs(ctx: Ctx) -> SpecResult {
    let out = exec_in(
        &ctx,
        |c| security(c).readonly_rootfs = true,
        &["sh", "-c", "echo x > /cri-conformance-probe"],
    )
    .await?;
    ensure!(out.exit_code != 0, "writing under a read-only / succeeded");
    Ok(())
}

/// The config's `envs` are in the processes' environment.
async fn env(ctx: Ctx) -> SpecResult {
    let out = exec_in(
        &ctx,
        |c| {
            c.envs.push(v1::KeyValue {
                key: "CRI_CONFORMANCE_ENV".into(),
                value: "value with spaces".into(),
            })
        },
        &["env"],
    )
    .await?;
    let text = String::from_utf8_lossy(&out.stdout);
    ensure!(
        text.lines()
            .any(|l| l == "CRI_CONFORMANCE_ENV=value with spaces"),
        "env printed {text:?}"
    );
    Ok(())
}
