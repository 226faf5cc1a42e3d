//! `metrics`: ListMetricDescriptors and ListPodSandboxMetrics (the kubelet's CRI stats
//! provider).

use std::collections::HashSet;

use anyhow::{Context as _, ensure};
use cri_api_v1 as v1;

use crate::{Ctx, Spec, SpecResult};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("metrics", "descriptors", descriptors),
        Spec::new(
            "metrics",
            "pod_sandbox_metrics_described",
            pod_sandbox_metrics,
        ),
    ]
}

async fn described(ctx: &Ctx) -> anyhow::Result<HashSet<String>> {
    let descriptors = ctx
        .client()
        .list_metric_descriptors(v1::ListMetricDescriptorsRequest {})
        .await
        .context("ListMetricDescriptors")?
        .descriptors;
    let mut names = HashSet::new();
    for d in &descriptors {
        ensure!(!d.name.is_empty(), "a descriptor without a name");
        ensure!(!d.help.is_empty(), "descriptor {} has no help", d.name);
        ensure!(names.insert(d.name.clone()), "descriptor {} twice", d.name);
    }
    Ok(names)
}

/// Each descriptor has a unique name and help text.
async fn descriptors(ctx: Ctx) -> SpecResult {
    described(&ctx).await?;
    Ok(())
}

/// Every metric of ListPodSandboxMetrics is described.
async fn pod_sandbox_metrics(ctx: Ctx) -> SpecResult {
    let names = described(&ctx).await?;
    ctx.pod_with_container(&["sleep", "3600"]).await?;
    let metrics = ctx
        .client()
        .list_pod_sandbox_metrics(v1::ListPodSandboxMetricsRequest {})
        .await
        .context("ListPodSandboxMetrics")?
        .pod_metrics;
    for pod in &metrics {
        let container_metrics = pod.container_metrics.iter().flat_map(|c| &c.metrics);
        for m in pod.metrics.iter().chain(container_metrics) {
            ensure!(
                names.contains(&m.name),
                "metric {} is not described",
                m.name
            );
        }
    }
    Ok(())
}
