//! `deadline`, continued: the status, stats and exec RPCs of a running container, and each
//! later lifecycle step (start, stop, remove), under the short deadline. A step that missed
//! its deadline may have happened or not, but what is there [`GRACE`] later stays so.

use std::fmt::Debug;
use std::future::Future;

use anyhow::ensure;
use cri_api_v1 as v1;

use super::deadline::{GRACE, judge, with_deadline};
use crate::{Ctx, SpecResult, raw};

/// What `probe` sees [`GRACE`] after a missed deadline and again after the settle time:
/// they must be equal.
async fn stays<T, F, Fut>(ctx: &Ctx, rpc: &str, probe: F) -> anyhow::Result<T>
where
    T: PartialEq + Debug,
    F: Fn() -> Fut,
    Fut: Future<Output = anyhow::Result<T>>,
{
    tokio::time::sleep(GRACE).await;
    let first = probe().await?;
    tokio::time::sleep(ctx.config().settle).await;
    let later = probe().await?;
    ensure!(
        later == first,
        "{rpc} took effect after it missed its deadline: {first:?} then {later:?}"
    );
    Ok(first)
}

async fn container_state(ctx: &Ctx, id: &str) -> anyhow::Result<Option<i32>> {
    let filter = v1::ContainerFilter {
        id: id.to_owned(),
        ..Default::default()
    };
    Ok(super::container::list(ctx, filter)
        .await?
        .first()
        .map(|c| c.state))
}

async fn pod_state(ctx: &Ctx, id: &str) -> anyhow::Result<Option<i32>> {
    let filter = v1::PodSandboxFilter {
        id: id.to_owned(),
        ..Default::default()
    };
    Ok(super::pod::list_pods(ctx, filter)
        .await?
        .first()
        .map(|p| p.state))
}

/// ContainerStatus, PodSandboxStatus, ContainerStats, ListContainerStats, PodSandboxStats,
/// ListPodSandboxStats, ImageStatus and ExecSync under the short deadline.
pub(super) async fn status_and_stats(ctx: Ctx) -> SpecResult {
    let d = ctx.config().short_deadline;
    let (pod, _, id) = ctx.pod_with_container(&["sleep", "3600"]).await?;
    let channel = raw::channel(&ctx.config().runtime_endpoint).await?;
    let mut rt = raw::runtime(channel.clone());
    let mut img = raw::image(channel);
    let container_id = id.clone();
    let (r, t) = timed!(rt.container_status(with_deadline(
        v1::ContainerStatusRequest {
            container_id,
            verbose: false
        },
        d
    )));
    judge("ContainerStatus", r, d, t)?;
    let pod_sandbox_id = pod.clone();
    let (r, t) = timed!(rt.pod_sandbox_status(with_deadline(
        v1::PodSandboxStatusRequest {
            pod_sandbox_id,
            verbose: false
        },
        d
    )));
    judge("PodSandboxStatus", r, d, t)?;
    let container_id = id.clone();
    let (r, t) =
        timed!(rt.container_stats(with_deadline(v1::ContainerStatsRequest { container_id }, d)));
    judge("ContainerStats", r, d, t)?;
    let filter = v1::ContainerStatsFilter {
        id: id.clone(),
        ..Default::default()
    };
    let (r, t) = timed!(rt.list_container_stats(with_deadline(
        v1::ListContainerStatsRequest {
            filter: Some(filter)
        },
        d
    )));
    judge("ListContainerStats", r, d, t)?;
    let pod_sandbox_id = pod.clone();
    let (r, t) = timed!(rt.pod_sandbox_stats(with_deadline(
        v1::PodSandboxStatsRequest { pod_sandbox_id },
        d
    )));
    judge("PodSandboxStats", r, d, t)?;
    let filter = v1::PodSandboxStatsFilter {
        id: pod.clone(),
        ..Default::default()
    };
    let (r, t) = timed!(rt.list_pod_sandbox_stats(with_deadline(
        v1::ListPodSandboxStatsRequest {
            filter: Some(filter)
        },
        d
    )));
    judge("ListPodSandboxStats", r, d, t)?;
    let image = Some(v1::ImageSpec {
        image: ctx.config().test_image.clone(),
        ..Default::default()
    });
    let (r, t) = timed!(img.image_status(with_deadline(
        v1::ImageStatusRequest {
            image,
            verbose: false
        },
        d
    )));
    judge("ImageStatus", r, d, t)?;
    let exec = v1::ExecSyncRequest {
        container_id: id,
        cmd: vec!["echo".into(), "x".into()],
        timeout: 0,
    };
    let (r, t) = timed!(rt.exec_sync(with_deadline(exec, d)));
    judge("ExecSync", r, d, t)?;
    Ok(())
}

/// StartContainer, StopContainer, RemoveContainer, StopPodSandbox and RemovePodSandbox, each
/// under the short deadline: a missed step leaves a state that does not move afterwards.
pub(super) async fn lifecycle_steps(ctx: Ctx) -> SpecResult {
    let d = ctx.config().short_deadline;
    let pod_config = ctx.pod_config("deadline-steps");
    let pod = ctx.run_pod(&pod_config).await?;
    let config = ctx.container_config("deadline-steps", &["sleep", "3600"]);
    let id = ctx.create_container(&pod, &pod_config, config).await?;
    let mut rt = raw::runtime(raw::channel(&ctx.config().runtime_endpoint).await?);

    let container_id = id.clone();
    let (r, t) =
        timed!(rt.start_container(with_deadline(v1::StartContainerRequest { container_id }, d)));
    if !judge("StartContainer", r, d, t)? {
        let state = stays(&ctx, "StartContainer", || container_state(&ctx, &id)).await?;
        let (created, running) = (
            v1::ContainerState::ContainerCreated as i32,
            v1::ContainerState::ContainerRunning as i32,
        );
        ensure!(
            state == Some(created) || state == Some(running),
            "after StartContainer missed its deadline the container is {state:?}"
        );
    }
    let container_id = id.clone();
    let (r, t) = timed!(rt.stop_container(with_deadline(
        v1::StopContainerRequest {
            container_id,
            timeout: 0
        },
        d
    )));
    if !judge("StopContainer", r, d, t)? {
        stays(&ctx, "StopContainer", || container_state(&ctx, &id)).await?;
    }
    let container_id = id.clone();
    let (r, t) = timed!(rt.remove_container(with_deadline(
        v1::RemoveContainerRequest { container_id },
        d
    )));
    if !judge("RemoveContainer", r, d, t)? {
        stays(&ctx, "RemoveContainer", || container_state(&ctx, &id)).await?;
    }
    let pod_sandbox_id = pod.clone();
    let (r, t) = timed!(rt.stop_pod_sandbox(with_deadline(
        v1::StopPodSandboxRequest { pod_sandbox_id },
        d
    )));
    if !judge("StopPodSandbox", r, d, t)? {
        stays(&ctx, "StopPodSandbox", || pod_state(&ctx, &pod)).await?;
    }
    let pod_sandbox_id = pod.clone();
    let (r, t) = timed!(rt.remove_pod_sandbox(with_deadline(
        v1::RemovePodSandboxRequest { pod_sandbox_id },
        d
    )));
    if !judge("RemovePodSandbox", r, d, t)? {
        stays(&ctx, "RemovePodSandbox", || pod_state(&ctx, &pod)).await?;
    }
    Ok(())
}
