//! `list_stream`: the Kubernetes 1.36 `Stream*` list RPCs send the very items of their unary
//! list, and a runtime without them answers `UNIMPLEMENTED`, so that the kubelet falls back.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use cri_api_v1 as v1;
use tonic::Code;

use crate::ctx::SPEC_LABEL;
use crate::{Ctx, Spec, SpecResult, raw};

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new("list_stream", "containers_equal_unary", containers),
        Spec::new("list_stream", "pod_sandboxes_equal_unary", pod_sandboxes),
        Spec::new("list_stream", "images_equal_unary", images),
        Spec::new(
            "list_stream",
            "container_stats_equal_unary",
            container_stats,
        ),
        Spec::new(
            "list_stream",
            "absent_is_unimplemented",
            absent_is_unimplemented,
        ),
        Spec::new("list_stream", "client_fallback_equal", client_fallback),
    ]
}

/// Collects a server stream of pages, bounded by 30 s; `Err(UNIMPLEMENTED)` is reported as
/// such.
macro_rules! collect_pages {
    ($call:expr, $field:ident) => {{
        let result: Result<Vec<_>, tonic::Status> = async {
            let mut stream = $call.await?.into_inner();
            let mut items = Vec::new();
            while let Some(page) = stream.message().await? {
                items.extend(page.$field);
            }
            Ok(items)
        }
        .await;
        match result {
            Ok(items) => items,
            Err(status) if status.code() == Code::Unimplemented => {
                bail!(
                    "the runtime has no {} (Kubernetes 1.36 Stream* RPCs)",
                    stringify!($field)
                )
            }
            Err(status) => bail!("{}: {status}", stringify!($call)),
        }
    }};
}

fn label_filter(ctx: &Ctx) -> std::collections::BTreeMap<String, String> {
    [(SPEC_LABEL.to_owned(), ctx.label_value())].into()
}

fn sorted<T, K: Ord>(mut items: Vec<T>, key: impl Fn(&T) -> K) -> Vec<T> {
    items.sort_by_key(|item| key(item));
    items
}

/// Three pods with two containers each, all with the spec's label.
async fn populate(ctx: &Ctx) -> anyhow::Result<()> {
    for _ in 0..3 {
        let pod_config = ctx.pod_config("stream");
        let pod = ctx.run_pod(&pod_config).await?;
        for _ in 0..2 {
            let config = ctx.container_config("stream", &["sleep", "3600"]);
            let id = ctx.create_container(&pod, &pod_config, config).await?;
            ctx.client()
                .start_container(v1::StartContainerRequest { container_id: id })
                .await
                .context("StartContainer")?;
        }
    }
    Ok(())
}

/// StreamContainers with a filter sends the items ListContainers answers (in any order).
async fn containers(ctx: Ctx) -> SpecResult {
    populate(&ctx).await?;
    let filter = v1::ContainerFilter {
        label_selector: label_filter(&ctx),
        ..Default::default()
    };
    let unary = super::container::list(&ctx, filter.clone()).await?;
    ensure!(
        unary.len() == 6,
        "the unary list has {} of 6 containers",
        unary.len()
    );
    let mut client = raw::runtime(raw::channel(&ctx.config().runtime_endpoint).await?);
    let streamed = collect_pages!(
        client.stream_containers(v1::StreamContainersRequest {
            filter: Some(filter)
        }),
        containers
    );
    let (streamed, unary) = (
        sorted(streamed, |c| c.id.clone()),
        sorted(unary, |c| c.id.clone()),
    );
    ensure!(
        streamed == unary,
        "streamed {} containers, the unary list {} (or they differ)",
        streamed.len(),
        unary.len()
    );
    Ok(())
}

/// StreamPodSandboxes with a filter sends the items ListPodSandbox answers.
async fn pod_sandboxes(ctx: Ctx) -> SpecResult {
    populate(&ctx).await?;
    let filter = v1::PodSandboxFilter {
        label_selector: label_filter(&ctx),
        ..Default::default()
    };
    let unary = super::pod::list_pods(&ctx, filter.clone()).await?;
    ensure!(
        unary.len() == 3,
        "the unary list has {} of 3 pods",
        unary.len()
    );
    let mut client = raw::runtime(raw::channel(&ctx.config().runtime_endpoint).await?);
    let streamed = collect_pages!(
        client.stream_pod_sandboxes(v1::StreamPodSandboxesRequest {
            filter: Some(filter)
        }),
        pod_sandboxes
    );
    let (streamed, unary) = (
        sorted(streamed, |p| p.id.clone()),
        sorted(unary, |p| p.id.clone()),
    );
    ensure!(
        streamed == unary,
        "streamed {} pods, the unary list {}",
        streamed.len(),
        unary.len()
    );
    Ok(())
}

/// StreamImages sends the items ListImages answers (retried: other specs pull and remove
/// images meanwhile).
async fn images(ctx: Ctx) -> SpecResult {
    let endpoint = ctx
        .config()
        .image_endpoint
        .clone()
        .unwrap_or_else(|| ctx.config().runtime_endpoint.clone());
    let mut client = raw::image(raw::channel(&endpoint).await?);
    let mut last = String::new();
    for _ in 0..5 {
        let unary = ctx
            .client()
            .list_images(v1::ListImagesRequest::default())
            .await
            .context("ListImages")?
            .images;
        let streamed = collect_pages!(
            client.stream_images(v1::StreamImagesRequest::default()),
            images
        );
        if sorted(streamed.clone(), |i| i.id.clone()) == sorted(unary.clone(), |i| i.id.clone()) {
            return Ok(());
        }
        last = format!(
            "streamed {} images, the unary list {}",
            streamed.len(),
            unary.len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    bail!("{last}")
}

/// StreamContainerStats names the containers ListContainerStats does (values move on).
async fn container_stats(ctx: Ctx) -> SpecResult {
    populate(&ctx).await?;
    let filter = v1::ContainerStatsFilter {
        label_selector: label_filter(&ctx),
        ..Default::default()
    };
    let ids = |stats: &[v1::ContainerStats]| {
        let mut ids: Vec<String> = stats
            .iter()
            .filter_map(|s| s.attributes.as_ref().map(|a| a.id.clone()))
            .collect();
        ids.sort();
        ids
    };
    let unary = ctx
        .client()
        .list_container_stats(v1::ListContainerStatsRequest {
            filter: Some(filter.clone()),
        })
        .await
        .context("ListContainerStats")?
        .stats;
    let mut client = raw::runtime(raw::channel(&ctx.config().runtime_endpoint).await?);
    let streamed = collect_pages!(
        client.stream_container_stats(v1::StreamContainerStatsRequest {
            filter: Some(filter)
        }),
        container_stats
    );
    let (u, s) = (ids(&unary), ids(&streamed));
    ensure!(u.len() == 6, "the unary list has {} of 6", u.len());
    ensure!(u == s, "streamed {s:?}, the unary list {u:?}");
    Ok(())
}

/// Each Stream* RPC either works or answers exactly UNIMPLEMENTED (not UNKNOWN, not a hang).
async fn absent_is_unimplemented(ctx: Ctx) -> SpecResult {
    let channel = raw::channel(&ctx.config().runtime_endpoint).await?;
    let mut runtime = raw::runtime(channel.clone());
    let mut image = raw::image(channel);
    let none = v1::ContainerFilter {
        id: "cri-conformance-no-such-container".into(),
        ..Default::default()
    };
    let codes = [
        (
            "StreamContainers",
            runtime
                .stream_containers(v1::StreamContainersRequest { filter: Some(none) })
                .await
                .err(),
        ),
        (
            "StreamPodSandboxes",
            runtime
                .stream_pod_sandboxes(v1::StreamPodSandboxesRequest::default())
                .await
                .err(),
        ),
        (
            "StreamImages",
            image
                .stream_images(v1::StreamImagesRequest::default())
                .await
                .err(),
        ),
    ];
    for (rpc, error) in codes {
        if let Some(status) = error {
            ensure!(
                status.code() == Code::Unimplemented,
                "{rpc} failed with {:?} (want success or UNIMPLEMENTED): {}",
                status.code(),
                status.message()
            );
        }
    }
    Ok(())
}

/// A client that lists through Stream* (falling back on UNIMPLEMENTED) gets the unary list.
async fn client_fallback(ctx: Ctx) -> SpecResult {
    populate(&ctx).await?;
    let streaming = cri_client::Client::builder(ctx.config().runtime_endpoint.clone())
        .list_streaming(true)
        .timeout(Duration::from_secs(30))
        .connect()
        .await
        .context("connecting a streaming client")?;
    let filter = v1::ContainerFilter {
        label_selector: label_filter(&ctx),
        ..Default::default()
    };
    let unary = super::container::list(&ctx, filter.clone()).await?;
    let through = streaming
        .list_containers(v1::ListContainersRequest {
            filter: Some(filter),
        })
        .await
        .context("ListContainers through Stream* or its fallback")?
        .containers;
    let (through, unary) = (
        sorted(through, |c| c.id.clone()),
        sorted(unary, |c| c.id.clone()),
    );
    ensure!(
        through.len() == unary.len(),
        "{} through the stream, {} unary",
        through.len(),
        unary.len()
    );
    if let Some((a, b)) = through.iter().zip(&unary).find(|(a, b)| a != b) {
        bail!("through the stream:\n{a:?}\nunary:\n{b:?}");
    }
    Ok(())
}
