//! `container`: the container lifecycle, its idempotence, exit codes and list filters.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use cri_api_v1 as v1;

use crate::ctx::SPEC_LABEL;
use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("container", "lifecycle", lifecycle).also_in_critest(),
        Spec::new("container", "stop_twice", stop_twice).also_in_critest(),
        Spec::new("container", "remove_twice", remove_twice).also_in_critest(),
        Spec::new("container", "exit_code", exit_code).also_in_critest(),
        Spec::new("container", "list_filters", list_filters).also_in_critest(),
        Spec::new("container", "stop_unknown_is_ok", stop_unknown).also_in_critest(),
        Spec::new("container", "remove_unknown_is_ok", remove_unknown).also_in_critest(),
    ]
}

pub(crate) async fn stop(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    ctx.client()
        .stop_container(v1::StopContainerRequest {
            container_id: id.to_owned(),
            timeout: 1,
        })
        .await
        .context("StopContainer")?;
    Ok(())
}

pub(crate) async fn remove(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    ctx.client()
        .remove_container(v1::RemoveContainerRequest {
            container_id: id.to_owned(),
        })
        .await
        .context("RemoveContainer")?;
    Ok(())
}

pub(crate) async fn list(
    ctx: &Ctx,
    filter: v1::ContainerFilter,
) -> anyhow::Result<Vec<v1::Container>> {
    Ok(ctx
        .client()
        .list_containers(v1::ListContainersRequest {
            filter: Some(filter),
        })
        .await
        .context("ListContainers")?
        .containers)
}

fn by_id(id: &str) -> v1::ContainerFilter {
    v1::ContainerFilter {
        id: id.to_owned(),
        ..Default::default()
    }
}

/// Create: CREATED; start: RUNNING; stop: EXITED; remove: no longer listed.
async fn lifecycle(ctx: Ctx) -> SpecResult {
    let pod_config = ctx.pod_config("ctr-lifecycle");
    let pod = ctx.run_pod(&pod_config).await?;
    let config = ctx.container_config("lifecycle", &["sleep", "3600"]);
    let metadata = config.metadata.clone();
    let id = ctx.create_container(&pod, &pod_config, config).await?;
    let status = ctx.container_status(&id).await?;
    ensure!(
        status.state() == v1::ContainerState::ContainerCreated,
        "a new container is {:?}",
        status.state()
    );
    ensure!(
        status.metadata == metadata,
        "status metadata {:?}",
        status.metadata
    );
    let listed = list(&ctx, by_id(&id)).await?;
    ensure!(listed.len() == 1, "listing by id found {}", listed.len());
    ensure!(
        listed[0].pod_sandbox_id == pod,
        "listed in pod {:?}",
        listed[0].pod_sandbox_id
    );
    ctx.client()
        .start_container(v1::StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .context("StartContainer")?;
    let status = ctx
        .wait_container_state(
            &id,
            v1::ContainerState::ContainerRunning,
            Duration::from_secs(10),
        )
        .await?;
    ensure!(status.started_at > 0, "started_at is {}", status.started_at);
    stop(&ctx, &id).await?;
    let status = ctx.container_status(&id).await?;
    ensure!(
        status.state() == v1::ContainerState::ContainerExited,
        "a stopped container is {:?}",
        status.state()
    );
    ensure!(
        status.finished_at > 0,
        "finished_at is {}",
        status.finished_at
    );
    remove(&ctx, &id).await?;
    ensure!(
        list(&ctx, by_id(&id)).await?.is_empty(),
        "a removed container is listed"
    );
    Ok(())
}

/// A second StopContainer of a stopped container succeeds.
async fn stop_twice(ctx: Ctx) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    stop(&ctx, &id).await.context("first stop")?;
    stop(&ctx, &id)
        .await
        .context("second stop of the same container")?;
    Ok(())
}

/// A second RemoveContainer of a removed container succeeds.
async fn remove_twice(ctx: Ctx) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    stop(&ctx, &id).await?;
    remove(&ctx, &id).await.context("first remove")?;
    remove(&ctx, &id)
        .await
        .context("second remove of the same container")?;
    Ok(())
}

/// A command that exits 3 leaves an EXITED container with exit code 3.
async fn exit_code(ctx: Ctx) -> SpecResult {
    let (_, _, id) = ctx.pod_with_container(&["sh", "-c", "exit 3"]).await?;
    let status = ctx
        .wait_container_state(
            &id,
            v1::ContainerState::ContainerExited,
            Duration::from_secs(20),
        )
        .await?;
    ensure!(
        status.exit_code == 3,
        "exit code {}, want 3",
        status.exit_code
    );
    Ok(())
}

/// Filters by pod, state and label find exactly the containers they should.
async fn list_filters(ctx: Ctx) -> SpecResult {
    let pod_config = ctx.pod_config("ctr-filters");
    let pod = ctx.run_pod(&pod_config).await?;
    let running = ctx.container_config("running", &["sleep", "3600"]);
    let running = ctx.create_container(&pod, &pod_config, running).await?;
    ctx.client()
        .start_container(v1::StartContainerRequest {
            container_id: running.clone(),
        })
        .await
        .context("StartContainer")?;
    let created = ctx.container_config("created", &["sleep", "3600"]);
    let created = ctx.create_container(&pod, &pod_config, created).await?;
    let ids = |cs: Vec<v1::Container>| {
        let mut ids: Vec<String> = cs.into_iter().map(|c| c.id).collect();
        ids.sort();
        ids
    };
    let mut both = vec![running.clone(), created.clone()];
    both.sort();
    let in_pod = ids(list(
        &ctx,
        v1::ContainerFilter {
            pod_sandbox_id: pod.clone(),
            ..Default::default()
        },
    )
    .await?);
    ensure!(
        in_pod == both,
        "the pod filter found {in_pod:?}, want {both:?}"
    );
    let by_label = ids(list(
        &ctx,
        v1::ContainerFilter {
            label_selector: [(SPEC_LABEL.to_owned(), ctx.label_value())].into(),
            ..Default::default()
        },
    )
    .await?);
    ensure!(
        by_label == both,
        "the label filter found {by_label:?}, want {both:?}"
    );
    let in_state = ids(list(
        &ctx,
        v1::ContainerFilter {
            pod_sandbox_id: pod.clone(),
            state: Some(v1::ContainerStateValue {
                state: v1::ContainerState::ContainerRunning as i32,
            }),
            ..Default::default()
        },
    )
    .await?);
    if in_state != [running.clone()] {
        bail!("the RUNNING filter found {in_state:?}, want [{running}]");
    }
    Ok(())
}

/// StopContainer of an id that was never a container succeeds.
async fn stop_unknown(ctx: Ctx) -> SpecResult {
    stop(&ctx, &super::pod::unknown_id(&ctx)).await
}

/// RemoveContainer of an id that was never a container succeeds.
async fn remove_unknown(ctx: Ctx) -> SpecResult {
    remove(&ctx, &super::pod::unknown_id(&ctx)).await
}
