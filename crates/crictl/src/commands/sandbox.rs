//! Pod sandboxes: `pods`, `inspectp`, `runp`, `stopp` and `rmp`.

use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;
use serde_json::Value;

use super::lifecycle::Resource;
use super::{
    clear_progress, count, matches, need_ids, now, parse_labels, print_labels, regex, rpc,
};
use crate::cli::{InspectArgs, Output, PodsArgs};
use crate::failure::{Failure, Out, Result};
use crate::human::{self, ago, truncate_id};
use crate::output::json;
use crate::output::table::Table;
use crate::output::{documents, status_document, write_document, write_list};
use crate::proto::{self, fill_nulls, to_value};

fn pod_state_name(state: i32) -> &'static str {
    match v1::PodSandboxState::try_from(state) {
        Ok(v1::PodSandboxState::SandboxReady) => "Ready",
        Ok(v1::PodSandboxState::SandboxNotready) => "NotReady",
        _ => "Unknown",
    }
}

pub(super) async fn pods(client: &Client, args: &PodsArgs, out: &mut Out) -> Result<()> {
    let mut filter = v1::PodSandboxFilter {
        id: args.id.clone(),
        ..Default::default()
    };
    if !args.state.is_empty() {
        let state = match args.state.to_lowercase().as_str() {
            "ready" => v1::PodSandboxState::SandboxReady,
            "notready" => v1::PodSandboxState::SandboxNotready,
            _ => {
                return Err(Failure::msg(format!(
                    "--state should be ready or notready, not {:?}",
                    args.state
                )));
            }
        };
        filter.state = Some(v1::PodSandboxStateValue {
            state: state as i32,
        });
    }
    filter.label_selector = parse_labels(&args.label)?;
    let name = regex(&args.name)?;
    let namespace = regex(&args.namespace)?;
    let response = rpc(
        "list pod sandboxes",
        client
            .list_pod_sandbox(v1::ListPodSandboxRequest {
                filter: Some(filter),
            })
            .await,
    )?;
    clear_progress();
    let mut items: Vec<v1::PodSandbox> = response
        .items
        .into_iter()
        .filter(|p| {
            let meta = p.metadata.as_ref();
            matches(&name, meta.map_or("", |m| &m.name))
                && matches(&namespace, meta.map_or("", |m| &m.namespace))
        })
        .collect();
    items.sort_by_key(|item| std::cmp::Reverse(item.created_at));
    items.truncate(count(items.len(), args.latest, args.last));
    match args.output {
        Output::Table => {}
        other => return write_list(out, "items", &items, other),
    }
    if args.quiet {
        for pod in &items {
            writeln!(out, "{}", pod.id)?;
        }
        return Ok(());
    }
    let now = now();
    if args.verbose {
        for pod in &items {
            writeln!(out, "ID: {}", pod.id)?;
            if let Some(meta) = &pod.metadata {
                if !meta.name.is_empty() {
                    writeln!(out, "Name: {}", meta.name)?;
                }
                if !meta.uid.is_empty() {
                    writeln!(out, "UID: {}", meta.uid)?;
                }
                if !meta.namespace.is_empty() {
                    writeln!(out, "Namespace: {}", meta.namespace)?;
                }
                if meta.attempt != 0 {
                    writeln!(out, "Attempt: {}", meta.attempt)?;
                }
            }
            writeln!(out, "Status: {}", pod_state_name(pod.state))?;
            writeln!(out, "Created: {}", human::go_time_string(pod.created_at))?;
            print_labels(out, "Labels", &pod.labels)?;
            print_labels(out, "Annotations", &pod.annotations)?;
            if !pod.runtime_handler.is_empty() {
                writeln!(out, "Runtime handler: {}", pod.runtime_handler)?;
            }
            writeln!(out)?;
        }
        return Ok(());
    }
    let row = |pod: &v1::PodSandbox| -> [String; 7] {
        let meta = pod.metadata.clone().unwrap_or_default();
        let id = if args.no_trunc {
            pod.id.clone()
        } else {
            truncate_id(&pod.id, "").to_string()
        };
        let handler = if pod.runtime_handler.is_empty() {
            "(default)".to_string()
        } else {
            pod.runtime_handler.clone()
        };
        [
            id,
            ago(now, pod.created_at),
            pod_state_name(pod.state).into(),
            meta.name,
            meta.namespace,
            meta.attempt.to_string(),
            handler,
        ]
    };
    let header = [
        "POD ID",
        "CREATED",
        "STATE",
        "NAME",
        "NAMESPACE",
        "ATTEMPT",
        "RUNTIME",
    ];
    let mut table = Table::new();
    table.measure(&header);
    for pod in &items {
        table.measure(&row(pod));
    }
    table.write(out, &header)?;
    for pod in &items {
        table.write(out, &row(pod))?;
    }
    Ok(())
}

pub(super) async fn inspectp(client: &Client, args: &InspectArgs, out: &mut Out) -> Result<()> {
    need_ids(&args.ids)?;
    let output = args.output.unwrap_or(Output::Json);
    let verbose = !args.quiet;
    let mut docs = Vec::new();
    for id in &args.ids {
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
    write_document(out, &documents(docs), output)
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
