//! Pod sandboxes: `inspectp`, `runp`, `stopp` and `rmp` (`pods` is in `pods`).

use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;
use serde_json::Value;

use super::lifecycle::Resource;
use super::{now, print_labels, rpc};
use crate::cli::{InspectPodsArgs, Output};
use crate::failure::{Failure, Out, Result};
use crate::human;
use crate::output::json;
use crate::output::{documents, status_document, write_document_or_template};
use crate::proto::{self, fill_nulls, to_value};

pub(super) async fn inspectp(client: &Client, args: &InspectPodsArgs, out: &mut Out) -> Result<()> {
    let ids = if args.inspect.ids.is_empty() {
        super::pods::select(client, args).await?
    } else {
        args.inspect.ids.clone()
    };
    if ids.is_empty() {
        return Err(Failure::msg(
            "no IDs provided or nothing found per filter: give pod IDs or filter flags",
        ));
    }
    let args = &args.inspect;
    let output = args.output.unwrap_or(Output::Json);
    let verbose = !args.quiet;
    let mut docs = Vec::new();
    for id in &ids {
        let response = rpc(
            "get the status of pod sandboxes: get pod sandbox status",
            client
                .pod_sandbox_status(v1::PodSandboxStatusRequest {
                    pod_sandbox_id: id.clone(),
                    verbose,
                })
                .await,
        )?;
        let status = response.status.clone().unwrap_or_default();
        if output == Output::Table {
            writeln!(out, "ID: {}", status.id)?;
            if let Some(meta) = &status.metadata {
                if !meta.name.is_empty() {
                    writeln!(out, "Name: {}", meta.name)?;
                }
                if !meta.uid.is_empty() {
                    writeln!(out, "UID: {}", meta.uid)?;
                }
                if !meta.namespace.is_empty() {
                    writeln!(out, "Namespace: {}", meta.namespace)?;
                }
                writeln!(out, "Attempt: {}", meta.attempt)?;
            }
            let state = v1::PodSandboxState::try_from(status.state).ok();
            writeln!(
                out,
                "Status: {}",
                state.map_or_else(|| status.state.to_string(), |s| s.as_str_name().to_string())
            )?;
            writeln!(out, "Created: {}", human::go_time_string(status.created_at))?;
            if let Some(network) = &status.network {
                writeln!(out, "IP Addresses: {}", network.ip)?;
                for ip in &network.additional_ips {
                    writeln!(out, "Additional IP: {}", ip.ip)?;
                }
            }
            print_labels(out, "Labels", &status.labels)?;
            print_labels(out, "Annotations", &status.annotations)?;
            if verbose {
                writeln!(out, "Info: {}", json::go_map_string(&response.info))?;
            }
            continue;
        }
        let mut value = to_value(&status)?;
        if let Value::Object(map) = &mut value {
            map.insert(
                "createdAt".into(),
                human::rfc3339_nano(status.created_at).into(),
            );
        }
        fill_nulls(&mut value, proto::POD_SANDBOX_STATUS_FIELDS);
        docs.push(status_document(value, &response.info, Vec::new())?);
    }
    if output == Output::Table {
        return Ok(());
    }
    write_document_or_template(out, &documents(docs), output, args.template.as_deref())
}

fn random_uid() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hex = String::new();
    for i in 0..2 {
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u128(now() as u128 + i);
        hex.push_str(&format!("{:016x}", hasher.finish()));
    }
    format!(
        "{}-{}-4{}-a{}-{}",
        &hex[0..8],
        &hex[8..12],
        &hex[13..16],
        &hex[17..20],
        &hex[20..32]
    )
}

pub(super) fn load_pod_config(path: &str) -> Result<v1::PodSandboxConfig> {
    let mut config: v1::PodSandboxConfig = proto::from_config_file(path)?;
    let Some(meta) = config.metadata.as_mut() else {
        return Err(Failure::msg(format!("{path}: metadata is not set")));
    };
    if meta.uid.is_empty() {
        meta.uid = random_uid();
    }
    if meta.name.is_empty() || meta.namespace.is_empty() {
        return Err(Failure::msg(format!(
            "{path}: name or namespace is not in metadata"
        )));
    }
    Ok(config)
}

pub(super) async fn runp(client: &Client, path: &str, runtime: Option<&str>) -> Result<String> {
    let config = load_pod_config(path)?;
    let response = rpc(
        "run pod sandbox",
        client
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(config),
                runtime_handler: runtime.unwrap_or_default().to_string(),
            })
            .await,
    )?;
    Ok(response.pod_sandbox_id)
}

/// Pod sandboxes, for `stopp` and `rmp`.
pub(super) struct PodSandboxes;

impl Resource for PodSandboxes {
    const NOUN: &'static str = "pod sandbox";
    const PLURAL: &'static str = "pod sandboxes";

    async fn ids(client: &Client) -> std::result::Result<Vec<String>, cri_client::Error> {
        let list = client
            .list_pod_sandbox(v1::ListPodSandboxRequest::default())
            .await?;
        Ok(list.items.into_iter().map(|p| p.id).collect())
    }

    async fn running(client: &Client, id: &str) -> std::result::Result<bool, cri_client::Error> {
        let status = client
            .pod_sandbox_status(v1::PodSandboxStatusRequest {
                pod_sandbox_id: id.to_string(),
                verbose: false,
            })
            .await?;
        Ok(status
            .status
            .is_some_and(|s| s.state == v1::PodSandboxState::SandboxReady as i32))
    }

    async fn stop(
        client: &Client,
        id: &str,
        _timeout: i64,
    ) -> std::result::Result<(), cri_client::Error> {
        client
            .stop_pod_sandbox(v1::StopPodSandboxRequest {
                pod_sandbox_id: id.to_string(),
            })
            .await
            .map(drop)
    }

    async fn remove(client: &Client, id: &str) -> std::result::Result<(), cri_client::Error> {
        client
            .remove_pod_sandbox(v1::RemovePodSandboxRequest {
                pod_sandbox_id: id.to_string(),
            })
            .await
            .map(drop)
    }

    fn stopped(id: &str) -> String {
        format!("Stopped sandbox {id}")
    }

    fn removed(id: &str) -> String {
        format!("Removed sandbox {id}")
    }
}
