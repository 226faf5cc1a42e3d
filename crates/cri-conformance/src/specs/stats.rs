//! `stats`: container and pod statistics.

use anyhow::{Context as _, ensure};
use cri_api_v1 as v1;

use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("stats", "container", container).also_in_critest(),
        Spec::new("stats", "list_container_by_id", list_container_by_id).also_in_critest(),
        Spec::new("stats", "pod_sandbox", pod_sandbox),
    ]
}

fn check(stats: &v1::ContainerStats, id: &str) -> anyhow::Result<()> {
    let attributes = stats.attributes.as_ref().context("no attributes")?;
    ensure!(
        attributes.id == id,
        "stats of {:?}, want {id}",
        attributes.id
    );
    let cpu = stats.cpu.as_ref().context("no cpu stats")?;
    ensure!(cpu.timestamp > 0, "cpu timestamp is 0");
    let memory = stats.memory.as_ref().context("no memory stats")?;
    ensure!(memory.timestamp > 0, "memory timestamp is 0");
    Ok(())
}

/// ContainerStats of a running container: its id, CPU and memory with timestamps.
async fn container(ctx: Ctx) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let stats = ctx
        .client()
        .container_stats(v1::ContainerStatsRequest {
            container_id: id.clone(),
        })
        .await
        .context("ContainerStats")?
        .stats
        .context("no stats")?;
    check(&stats, &id)
}

/// ListContainerStats filtered by id answers that container only.
async fn list_container_by_id(ctx: Ctx) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let stats = ctx
        .client()
        .list_container_stats(v1::ListContainerStatsRequest {
            filter: Some(v1::ContainerStatsFilter {
                id: id.clone(),
                ..Default::default()
            }),
        })
        .await
        .context("ListContainerStats")?
        .stats;
    ensure!(stats.len() == 1, "{} entries for one id", stats.len());
    check(&stats[0], &id)
}

/// PodSandboxStats of a running pod names it.
async fn pod_sandbox(ctx: Ctx) -> SpecResult {
    let (pod, _, _) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let stats = ctx
        .client()
        .pod_sandbox_stats(v1::PodSandboxStatsRequest {
            pod_sandbox_id: pod.clone(),
        })
        .await
        .context("PodSandboxStats")?
        .stats
        .context("no stats")?;
    let attributes = stats.attributes.context("no attributes")?;
    ensure!(
        attributes.id == pod,
        "stats of {:?}, want {pod}",
        attributes.id
    );
    Ok(())
}
