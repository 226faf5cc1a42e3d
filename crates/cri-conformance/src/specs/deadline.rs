//! `deadline`: an RPC called with a short deadline completes or fails with
//! `DEADLINE_EXCEEDED`, and a call that missed its deadline leaves no half-made state: what
//! exists [`GRACE`] after the miss is whole (a READY pod, a CREATED container) and nothing
//! changes after that (a runtime that goes on working past the deadline is caught).

use std::time::Duration;

use anyhow::{bail, ensure};
use cri_api_v1 as v1;
use tonic::{Code, Request, Status};

use crate::ctx::SPEC_LABEL;
use crate::{Ctx, Spec, SpecResult, raw};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("deadline", "read_rpcs", read_rpcs),
        Spec::new("deadline", "run_pod_sandbox", run_pod_sandbox),
        Spec::new("deadline", "create_container", create_container),
        Spec::new("deadline", "pull_image", pull_image),
        Spec::new(
            "deadline",
            "status_and_stats_rpcs",
            super::deadline_steps::status_and_stats,
        ),
        Spec::new(
            "deadline",
            "lifecycle_steps",
            super::deadline_steps::lifecycle_steps,
        ),
    ]
}

/// How long after a missed deadline the runtime may still finish what was in flight.
pub const GRACE: Duration = Duration::from_millis(500);

pub(crate) fn with_deadline<T>(message: T, deadline: Duration) -> Request<T> {
    let mut request = Request::new(message);
    request.set_timeout(deadline);
    request
}

/// `Ok(true)` when the call completed, `Ok(false)` when it missed its deadline the allowed
/// way, an error otherwise or when it took far past the deadline.
pub(crate) fn judge<T>(
    rpc: &str,
    result: Result<T, Status>,
    deadline: Duration,
    took: Duration,
) -> anyhow::Result<bool> {
    ensure!(
        took < deadline + Duration::from_secs(2),
        "{rpc} under a {deadline:?} deadline took {took:?}"
    );
    match result {
        Ok(_) => Ok(true),
        Err(s) if s.code() == Code::DeadlineExceeded => Ok(false),
        // tonic's client enforces the deadline it sends and reports it this way.
        Err(s) if s.code() == Code::Cancelled && s.message().contains("Timeout expired") => {
            Ok(false)
        }
        Err(s) => bail!(
            "{rpc} under a {deadline:?} deadline failed with {:?}: {}",
            s.code(),
            s.message()
        ),
    }
}

/// Version, Status, the lists and ImageFsInfo under the short deadline.
async fn read_rpcs(ctx: Ctx) -> SpecResult {
    let d = ctx.config().short_deadline;
    let channel = raw::channel(&ctx.config().runtime_endpoint).await?;
    let mut rt = raw::runtime(channel.clone());
    let mut img = raw::image(channel);
    let label = [(SPEC_LABEL.to_owned(), ctx.label_value())].into();
    let (r, t) = timed!(rt.version(with_deadline(v1::VersionRequest::default(), d)));
    judge("Version", r, d, t)?;
    let (r, t) = timed!(rt.status(with_deadline(v1::StatusRequest::default(), d)));
    judge("Status", r, d, t)?;
    let filter = v1::PodSandboxFilter {
        label_selector: label,
        ..Default::default()
    };
    let (r, t) = timed!(rt.list_pod_sandbox(with_deadline(
        v1::ListPodSandboxRequest {
            filter: Some(filter)
        },
        d
    )));
    judge("ListPodSandbox", r, d, t)?;
    let filter = v1::ContainerFilter {
        id: "cri-conformance-none".into(),
        ..Default::default()
    };
    let (r, t) = timed!(rt.list_containers(with_deadline(
        v1::ListContainersRequest {
            filter: Some(filter)
        },
        d
    )));
    judge("ListContainers", r, d, t)?;
    let (r, t) = timed!(img.list_images(with_deadline(v1::ListImagesRequest::default(), d)));
    judge("ListImages", r, d, t)?;
    let (r, t) = timed!(img.image_fs_info(with_deadline(v1::ImageFsInfoRequest {}, d)));
    judge("ImageFsInfo", r, d, t)?;
    Ok(())
}

/// RunPodSandbox under the short deadline: a pod exists afterwards exactly when it completed.
async fn run_pod_sandbox(ctx: Ctx) -> SpecResult {
    let d = ctx.config().short_deadline;
    let config = ctx.pod_config("deadline");
    ctx.prepare_log_dir(&config)?;
    let mut rt = raw::runtime(raw::channel(&ctx.config().runtime_endpoint).await?);
    let (r, t) = timed!(rt.run_pod_sandbox(with_deadline(
        v1::RunPodSandboxRequest {
            config: Some(config.clone()),
            runtime_handler: String::new()
        },
        d
    )));
    if let Ok(response) = &r {
        ctx.remember_pod(&response.get_ref().pod_sandbox_id);
    }
    let completed = judge("RunPodSandbox", r, d, t)?;
    let filter = v1::PodSandboxFilter {
        label_selector: [(SPEC_LABEL.to_owned(), ctx.label_value())].into(),
        ..Default::default()
    };
    let snapshot = || async {
        let pods = super::pod::list_pods(&ctx, filter.clone()).await?;
        for pod in &pods {
            ctx.remember_pod(&pod.id);
        }
        let mut seen: Vec<(String, i32)> = pods.into_iter().map(|p| (p.id, p.state)).collect();
        seen.sort();
        Ok::<_, anyhow::Error>(seen)
    };
    if completed {
        tokio::time::sleep(ctx.config().settle).await;
        let pods = snapshot().await?;
        ensure!(
            pods.len() == 1,
            "RunPodSandbox completed but {} pod(s) exist",
            pods.len()
        );
        return Ok(());
    }
    tokio::time::sleep(GRACE).await;
    let first = snapshot().await?;
    let ready = v1::PodSandboxState::SandboxReady as i32;
    ensure!(
        first.iter().all(|(_, state)| *state == ready),
        "after a missed deadline a pod is half-made: {first:?}"
    );
    tokio::time::sleep(ctx.config().settle).await;
    let later = snapshot().await?;
    ensure!(
        later == first,
        "RunPodSandbox took effect after it missed its deadline: {first:?} then {later:?}"
    );
    Ok(())
}

/// CreateContainer under the short deadline: a container exists afterwards exactly when it
/// completed.
async fn create_container(ctx: Ctx) -> SpecResult {
    let d = ctx.config().short_deadline;
    ctx.ensure_test_image().await?;
    let pod_config = ctx.pod_config("deadline");
    let pod = ctx.run_pod(&pod_config).await?;
    let config = ctx.container_config("deadline", &["sleep", "3600"]);
    let mut rt = raw::runtime(raw::channel(&ctx.config().runtime_endpoint).await?);
    let (r, t) = timed!(rt.create_container(with_deadline(
        v1::CreateContainerRequest {
            pod_sandbox_id: pod.clone(),
            config: Some(config),
            sandbox_config: Some(pod_config),
        },
        d
    )));
    let completed = judge("CreateContainer", r, d, t)?;
    let snapshot = || async {
        let found = super::container::list(
            &ctx,
            v1::ContainerFilter {
                pod_sandbox_id: pod.clone(),
                ..Default::default()
            },
        )
        .await?;
        let mut seen: Vec<(String, i32)> = found.into_iter().map(|c| (c.id, c.state)).collect();
        seen.sort();
        Ok::<_, anyhow::Error>(seen)
    };
    if completed {
        tokio::time::sleep(ctx.config().settle).await;
        let found = snapshot().await?;
        ensure!(
            found.len() == 1,
            "CreateContainer completed but {} container(s) exist",
            found.len()
        );
        return Ok(());
    }
    tokio::time::sleep(GRACE).await;
    let first = snapshot().await?;
    let created = v1::ContainerState::ContainerCreated as i32;
    ensure!(
        first.iter().all(|(_, state)| *state == created),
        "after a missed deadline a container is half-made: {first:?}"
    );
    tokio::time::sleep(ctx.config().settle).await;
    let later = snapshot().await?;
    ensure!(
        later == first,
        "CreateContainer took effect after it missed its deadline: {first:?} then {later:?}"
    );
    Ok(())
}

/// PullImage under a deadline (the short one, at least 200 ms so that the request reaches
/// the runtime): the image is present afterwards exactly when the pull completed.
async fn pull_image(ctx: Ctx) -> SpecResult {
    let d = ctx.config().short_deadline.max(Duration::from_millis(200));
    let image = format!(
        "{}:{}",
        ctx.config().pull_images[0]
            .split(':')
            .next()
            .unwrap_or("busybox"),
        ctx.unique("deadline")
    );
    let endpoint = ctx
        .config()
        .image_endpoint
        .clone()
        .unwrap_or_else(|| ctx.config().runtime_endpoint.clone());
    let mut img = raw::image(raw::channel(&endpoint).await?);
    let spec = v1::ImageSpec {
        image: image.clone(),
        ..Default::default()
    };
    let (r, t) = timed!(img.pull_image(with_deadline(
        v1::PullImageRequest {
            image: Some(spec),
            ..Default::default()
        },
        d
    )));
    ctx.remember_image(&image);
    let completed = judge("PullImage", r, d, t)?;
    if completed {
        tokio::time::sleep(ctx.config().settle).await;
        ensure!(
            super::image::status(&ctx, &image).await?.is_some(),
            "PullImage completed but the image is absent"
        );
        return Ok(());
    }
    tokio::time::sleep(GRACE).await;
    let first = super::image::status(&ctx, &image).await?.map(|i| i.id);
    tokio::time::sleep(ctx.config().settle).await;
    let later = super::image::status(&ctx, &image).await?.map(|i| i.id);
    ensure!(
        later == first,
        "PullImage took effect after it missed its deadline: the image was {first:?}, then {later:?}"
    );
    Ok(())
}
