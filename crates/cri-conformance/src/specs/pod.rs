//! `pod`: the pod sandbox lifecycle, its idempotence and list filters.

use anyhow::{Context as _, bail, ensure};
use cri_api_v1 as v1;

use crate::ctx::SPEC_LABEL;
use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("pod", "lifecycle", lifecycle).also_in_critest(),
        Spec::new("pod", "stop_twice", stop_twice).also_in_critest(),
        Spec::new("pod", "remove_twice", remove_twice).also_in_critest(),
        Spec::new("pod", "list_filters", list_filters).also_in_critest(),
        Spec::new("pod", "status_of_removed_is_not_found", status_of_removed),
        Spec::new("pod", "stop_unknown_is_ok", stop_unknown).also_in_critest(),
        Spec::new("pod", "remove_unknown_is_ok", remove_unknown).also_in_critest(),
    ]
}

pub(crate) async fn pod_status(ctx: &Ctx, id: &str) -> anyhow::Result<v1::PodSandboxStatus> {
    ctx.client()
        .pod_sandbox_status(v1::PodSandboxStatusRequest {
            pod_sandbox_id: id.to_owned(),
            verbose: false,
        })
        .await
        .context("PodSandboxStatus")?
        .status
        .context("PodSandboxStatus answered no status")
}

pub(crate) async fn list_pods(
    ctx: &Ctx,
    filter: v1::PodSandboxFilter,
) -> anyhow::Result<Vec<v1::PodSandbox>> {
    Ok(ctx
        .client()
        .list_pod_sandbox(v1::ListPodSandboxRequest {
            filter: Some(filter),
        })
        .await
        .context("ListPodSandbox")?
        .items)
}

async fn stop(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    ctx.client()
        .stop_pod_sandbox(v1::StopPodSandboxRequest {
            pod_sandbox_id: id.to_owned(),
        })
        .await
        .context("StopPodSandbox")?;
    Ok(())
}

async fn remove(ctx: &Ctx, id: &str) -> anyhow::Result<()> {
    ctx.client()
        .remove_pod_sandbox(v1::RemovePodSandboxRequest {
            pod_sandbox_id: id.to_owned(),
        })
        .await
        .context("RemovePodSandbox")?;
    Ok(())
}

fn by_id(id: &str) -> v1::PodSandboxFilter {
    v1::PodSandboxFilter {
        id: id.to_owned(),
        ..Default::default()
    }
}

/// Run: READY with its metadata and labels, listed; stop: NOTREADY; remove: not listed.
async fn lifecycle(ctx: Ctx) -> SpecResult {
    let config = ctx.pod_config("lifecycle");
    let id = ctx.run_pod(&config).await?;
    let status = pod_status(&ctx, &id).await?;
    ensure!(status.id == id, "status id {:?} is not {id:?}", status.id);
    ensure!(
        status.state() == v1::PodSandboxState::SandboxReady,
        "a new pod is {:?}",
        status.state()
    );
    ensure!(
        status.metadata == config.metadata,
        "status metadata {:?} differs from the config's {:?}",
        status.metadata,
        config.metadata
    );
    ensure!(status.created_at > 0, "created_at is {}", status.created_at);
    ensure!(
        status.labels.get(SPEC_LABEL) == config.labels.get(SPEC_LABEL),
        "labels {:?} lack the config's",
        status.labels
    );
    let listed = list_pods(&ctx, by_id(&id)).await?;
    ensure!(
        listed.len() == 1,
        "listing by id found {} pods",
        listed.len()
    );
    stop(&ctx, &id).await?;
    let status = pod_status(&ctx, &id).await?;
    ensure!(
        status.state() == v1::PodSandboxState::SandboxNotready,
        "a stopped pod is {:?}",
        status.state()
    );
    remove(&ctx, &id).await?;
    let listed = list_pods(&ctx, by_id(&id)).await?;
    ensure!(listed.is_empty(), "a removed pod is still listed");
    Ok(())
}

/// A second StopPodSandbox of a stopped pod succeeds (the CRI asks stop to be idempotent).
async fn stop_twice(ctx: Ctx) -> SpecResult {
    let id = ctx.run_pod(&ctx.pod_config("stop-twice")).await?;
    stop(&ctx, &id).await.context("first stop")?;
    stop(&ctx, &id)
        .await
        .context("second stop of the same pod")?;
    Ok(())
}

/// A second RemovePodSandbox of a removed pod succeeds.
async fn remove_twice(ctx: Ctx) -> SpecResult {
    let id = ctx.run_pod(&ctx.pod_config("remove-twice")).await?;
    stop(&ctx, &id).await?;
    remove(&ctx, &id).await.context("first remove")?;
    remove(&ctx, &id)
        .await
        .context("second remove of the same pod")?;
    Ok(())
}

/// Filters by label selector and by state find exactly the pods they should.
async fn list_filters(ctx: Ctx) -> SpecResult {
    let mut a = ctx.pod_config("filter-a");
    a.labels.insert("cri-conformance.which".into(), "a".into());
    let mut b = ctx.pod_config("filter-b");
    b.labels.insert("cri-conformance.which".into(), "b".into());
    let a_id = ctx.run_pod(&a).await?;
    let b_id = ctx.run_pod(&b).await?;
    stop(&ctx, &b_id).await?;
    let selector = |which: &str| {
        let mut labels = std::collections::BTreeMap::new();
        labels.insert(SPEC_LABEL.into(), ctx.label_value());
        labels.insert("cri-conformance.which".into(), which.into());
        labels
    };
    let found = list_pods(
        &ctx,
        v1::PodSandboxFilter {
            label_selector: selector("a"),
            ..Default::default()
        },
    )
    .await?;
    let ids: Vec<&str> = found.iter().map(|p| p.id.as_str()).collect();
    ensure!(ids == [a_id.as_str()], "label a selected {ids:?}");
    let ready = list_pods(
        &ctx,
        v1::PodSandboxFilter {
            label_selector: [(SPEC_LABEL.to_owned(), ctx.label_value())].into(),
            state: Some(v1::PodSandboxStateValue {
                state: v1::PodSandboxState::SandboxReady as i32,
            }),
            ..Default::default()
        },
    )
    .await?;
    let ids: Vec<&str> = ready.iter().map(|p| p.id.as_str()).collect();
    if ids != [a_id.as_str()] {
        bail!("state READY selected {ids:?}, want only {a_id}");
    }
    Ok(())
}

/// PodSandboxStatus of a removed pod fails with NOT_FOUND.
async fn status_of_removed(ctx: Ctx) -> SpecResult {
    let id = ctx.run_pod(&ctx.pod_config("status-removed")).await?;
    stop(&ctx, &id).await?;
    remove(&ctx, &id).await?;
    match pod_status(&ctx, &id).await {
        Ok(status) => bail!("a removed pod still has a status: {:?}", status.state()),
        Err(e) => {
            let code = crate::ctx::code_of(&e);
            ensure!(
                code == Some(tonic::Code::NotFound),
                "want NOT_FOUND, got {e:#}"
            );
        }
    }
    Ok(())
}

/// An id no runtime has made: 64 hex digits of the run's own.
pub(crate) fn unknown_id(ctx: &Ctx) -> String {
    let seed = ctx.unique("unknown");
    let mut id: String = seed
        .bytes()
        .map(|b| format!("{:02x}", b))
        .collect::<String>();
    id.truncate(64);
    format!("{id:0<64}")
}

/// StopPodSandbox of an id that was never a pod succeeds (stop is idempotent).
async fn stop_unknown(ctx: Ctx) -> SpecResult {
    stop(&ctx, &unknown_id(&ctx)).await
}

/// RemovePodSandbox of an id that was never a pod succeeds (remove is idempotent).
async fn remove_unknown(ctx: Ctx) -> SpecResult {
    remove(&ctx, &unknown_id(&ctx)).await
}
