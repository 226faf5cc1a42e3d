//! `large_list`: a list past the 16 MiB message limit (reached with a few containers
//! carrying large annotations) arrives whole through StreamContainers, each page under the
//! limit.

use std::time::Duration;

use anyhow::{Context as _, bail, ensure};
use cri_api_v1 as v1;
use prost::Message as _;

use crate::ctx::SPEC_LABEL;
use crate::{Ctx, Spec, SpecResult, raw};

const LIMIT: usize = 16 * 1024 * 1024;

/// The group's specs.
pub fn specs() -> Vec<Spec> {
    vec![
        Spec::new(
            "large_list",
            "containers_past_16mib_stream_whole",
            past_16mib,
        )
        .timeout(Duration::from_secs(180)),
    ]
}

async fn past_16mib(ctx: Ctx) -> SpecResult {
    let n = ctx.config().large_list_containers;
    let bytes = ctx.config().large_list_item_bytes;
    // A runtime without StreamContainers fails before the suite creates anything.
    let mut client = raw::runtime(raw::channel(&ctx.config().runtime_endpoint).await?);
    let nothing = v1::ContainerFilter {
        id: "cri-conformance-no-such-container".into(),
        ..Default::default()
    };
    if let Err(status) = client
        .stream_containers(v1::StreamContainersRequest {
            filter: Some(nothing),
        })
        .await
        && status.code() == tonic::Code::Unimplemented
    {
        bail!("the runtime has no StreamContainers: a list this large cannot reach a kubelet");
    }
    let pod_config = ctx.pod_config("large");
    let pod = ctx.run_pod(&pod_config).await?;
    let padding = "x".repeat(bytes);
    for i in 0..n {
        let mut config = ctx.container_config("large", &["sleep", "3600"]);
        config
            .annotations
            .insert("cri-conformance.padding".into(), padding.clone());
        ctx.create_container(&pod, &pod_config, config)
            .await
            .with_context(|| format!("creating container {} of {n}", i + 1))?;
    }
    let filter = v1::ContainerFilter {
        label_selector: [(SPEC_LABEL.to_owned(), ctx.label_value())].into(),
        ..Default::default()
    };
    let mut stream = match client
        .stream_containers(v1::StreamContainersRequest {
            filter: Some(filter),
        })
        .await
    {
        Ok(stream) => stream.into_inner(),
        Err(status) if status.code() == tonic::Code::Unimplemented => {
            bail!("the runtime has no StreamContainers: a list this large cannot reach a kubelet")
        }
        Err(status) => bail!("StreamContainers: {status}"),
    };
    let (mut total, mut pages, mut bytes_seen) = (0usize, 0usize, 0usize);
    while let Some(page) = stream.message().await.context("StreamContainers page")? {
        let size = page.encoded_len();
        ensure!(size < LIMIT, "page {} is {size} bytes", pages + 1);
        for c in &page.containers {
            ensure!(
                c.annotations
                    .get("cri-conformance.padding")
                    .map(String::len)
                    == Some(bytes),
                "container {} lost its annotation",
                c.id
            );
        }
        total += page.containers.len();
        bytes_seen += size;
        pages += 1;
    }
    ensure!(
        total == n,
        "streamed {total} of {n} containers in {pages} pages"
    );
    ensure!(
        bytes_seen > LIMIT,
        "the list was only {bytes_seen} bytes: raise the item size"
    );
    Ok(())
}
