//! Changing what runs: `update` (a container's resources), `update-runtime-config` and
//! `checkpoint`.

use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;

use super::{need_ids, rpc};
use crate::cli::{CheckpointArgs, UpdateArgs, UpdateRuntimeConfigArgs};
use crate::failure::{Failure, Out, Result};

pub(super) async fn update(client: &Client, args: &UpdateArgs, out: &mut Out) -> Result<()> {
    need_ids(&args.ids)?;
    // crictl sends the Linux resources on every system but Windows.
    let linux = v1::LinuxContainerResources {
        cpu_period: args.cpu_period,
        cpu_quota: args.cpu_quota,
        cpu_shares: args.cpu_share,
        cpuset_cpus: args.cpuset_cpus.clone(),
        cpuset_mems: args.cpuset_mems.clone(),
        memory_limit_in_bytes: args.memory,
        oom_score_adj: args.oom_score_adj,
        ..Default::default()
    };
    for id in &args.ids {
        rpc(
            &format!("updating container resources for {id:?}"),
            client
                .update_container_resources(v1::UpdateContainerResourcesRequest {
                    container_id: id.clone(),
                    linux: Some(linux.clone()),
                    ..Default::default()
                })
                .await,
        )?;
        writeln!(out, "{id}")?;
    }
    Ok(())
}

pub(super) async fn update_runtime_config(
    client: &Client,
    args: &UpdateRuntimeConfigArgs,
) -> Result<()> {
    let Some(cidr) = &args.pod_cidr else {
        return Err(Failure::msg(
            "nothing to update: give --pod-cidr (see crictl update-runtime-config --help)",
        ));
    };
    rpc(
        "update runtime config",
        client
            .update_runtime_config(v1::UpdateRuntimeConfigRequest {
                runtime_config: Some(v1::RuntimeConfig {
                    network_config: Some(v1::NetworkConfig {
                        pod_cidr: cidr.clone(),
                    }),
                }),
            })
            .await,
    )?;
    eprintln!("Runtime config successfully updated");
    Ok(())
}

pub(super) async fn checkpoint(
    client: &Client,
    args: &CheckpointArgs,
    out: &mut Out,
) -> Result<()> {
    need_ids(&args.ids)?;
    let Some(export) = args.export.as_deref().filter(|e| !e.is_empty()) else {
        return Err(Failure::msg(
            "cannot checkpoint a container without specifying the checkpoint destination. Use --export=/path/to/checkpoint.tar",
        ));
    };
    for id in &args.ids {
        rpc(
            &format!("checkpointing the container {id:?} failed"),
            client
                .checkpoint_container(v1::CheckpointContainerRequest {
                    container_id: id.clone(),
                    location: export.to_string(),
                    timeout: 0,
                })
                .await,
        )?;
        writeln!(out, "{id}")?;
    }
    Ok(())
}
