//! `events`: GetContainerEvents reports each step of a container's lifecycle.

use std::time::Duration;

use anyhow::{Context as _, bail};
use cri_api_v1 as v1;
use tokio_stream::StreamExt;

use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![Spec::new(
        "events",
        "container_lifecycle",
        container_lifecycle,
    )]
}

/// Created, started, stopped, deleted: one event each, in that order, for the container.
async fn container_lifecycle(ctx: Ctx) -> SpecResult {
    let mut events = ctx
        .client()
        .get_container_events(v1::GetEventsRequest {})
        .await
        .context("GetContainerEvents")?;
    let pod_config = ctx.pod_config("events");
    let pod = ctx.run_pod(&pod_config).await?;
    let config = ctx.container_config("events", &["sleep", "3600"]);
    let id = ctx.create_container(&pod, &pod_config, config).await?;
    ctx.client()
        .start_container(v1::StartContainerRequest {
            container_id: id.clone(),
        })
        .await
        .context("StartContainer")?;
    super::container::stop(&ctx, &id).await?;
    super::container::remove(&ctx, &id).await?;
    use v1::ContainerEventType as T;
    let want = [
        T::ContainerCreatedEvent,
        T::ContainerStartedEvent,
        T::ContainerStoppedEvent,
        T::ContainerDeletedEvent,
    ];
    let mut seen = Vec::new();
    let collect = async {
        while seen.len() < want.len() {
            match events.next().await {
                Some(Ok(event)) if event.container_id == id => {
                    seen.push(event.container_event_type())
                }
                Some(Ok(_)) => {}
                Some(Err(status)) => bail!("the event stream failed: {status}"),
                None => bail!("the event stream ended"),
            }
        }
        Ok(())
    };
    match tokio::time::timeout(Duration::from_secs(10), collect).await {
        Ok(result) => result?,
        Err(_) => bail!("after 10 s saw only {seen:?} for the container"),
    }
    if seen != want {
        bail!("events {seen:?}, want {want:?}");
    }
    Ok(())
}
