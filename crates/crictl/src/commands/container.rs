//! Containers: `ps`, `inspect`, `create`, `start`, `stop` and `rm` (`run` is `runp`, `create`
//! and `start`).

use std::collections::{BTreeMap, HashMap};
use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;
use serde_json::Value;

use super::image::{auth_config, image_id_of};
use super::lifecycle::Resource;
use super::sandbox::load_pod_config;
use super::{
    clear_progress, count, matches, need_ids, now, parse_labels, print_labels, regex, rpc,
};
use crate::cli::{AuthArgs, InspectArgs, Output, PsArgs};
use crate::failure::{Failure, Out, Result};
use crate::human::{self, ago, truncate_id};
use crate::output::json;
use crate::output::table::Table;
use crate::output::{documents, status_document, write_document, write_list};
use crate::proto::{self, fill_nulls, to_value};

fn container_state_name(state: i32) -> &'static str {
    match v1::ContainerState::try_from(state) {
        Ok(v1::ContainerState::ContainerCreated) => "Created",
        Ok(v1::ContainerState::ContainerRunning) => "Running",
        Ok(v1::ContainerState::ContainerExited) => "Exited",
        _ => "Unknown",
    }
}

fn label_or_unknown<'a>(labels: &'a BTreeMap<String, String>, key: &str) -> &'a str {
    labels.get(key).map_or("unknown", |s| s.as_str())
}

const POD_NAME_LABEL: &str = "io.kubernetes.pod.name";
const POD_NAMESPACE_LABEL: &str = "io.kubernetes.pod.namespace";

/// Whether `image` is a digest (`algorithm:hex`), as Go's `digest.Parse` accepts it.
fn digest_hex(image: &str) -> Option<&str> {
    let (algorithm, hex) = image.split_once(':')?;
    let valid_algorithm = !algorithm.is_empty()
        && algorithm
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+._-".contains(c));
    let expected = match algorithm {
        "sha256" => 64,
        "sha384" => 96,
        "sha512" => 128,
        _ => return None,
    };
    (valid_algorithm
        && hex.len() == expected
        && hex
            .chars()
            .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)))
    .then_some(hex)
}

pub(super) async fn ps(client: &Client, args: &PsArgs, out: &mut Out) -> Result<()> {
    let mut filter = v1::ContainerFilter {
        id: args.id.clone(),
        pod_sandbox_id: args.pod.clone(),
        ..Default::default()
    };
    if !args.all && args.state.is_empty() {
        filter.state = Some(v1::ContainerStateValue {
            state: v1::ContainerState::ContainerRunning as i32,
        });
    }
    if !args.state.is_empty() {
        let state = match args.state.to_lowercase().as_str() {
            "created" => v1::ContainerState::ContainerCreated,
            "running" => v1::ContainerState::ContainerRunning,
            "exited" => v1::ContainerState::ContainerExited,
            "unknown" => v1::ContainerState::ContainerUnknown,
            _ => {
                return Err(Failure::msg(
                    "--state should be one of created, running, exited or unknown",
                ));
            }
        };
        filter.state = Some(v1::ContainerStateValue {
            state: state as i32,
        });
    }
    if args.latest || args.last > 0 {
        filter.state = None;
    }
    filter.label_selector = parse_labels(&args.label)?;
    let name = regex(&args.name)?;
    let namespace = regex(&args.namespace)?;
    let response = rpc(
        "list containers",
        client
            .list_containers(v1::ListContainersRequest {
                filter: Some(filter),
            })
            .await,
    )?;
    clear_progress();
    let wanted_image = if args.image.is_empty() {
        None
    } else {
        Some(image_id_of(client, &args.image).await?)
    };
    let mut image_ids: HashMap<String, Option<String>> = HashMap::new();
    let mut items = Vec::with_capacity(response.containers.len());
    for container in response.containers {
        if let Some(wanted) = &wanted_image {
            let image = container
                .image
                .as_ref()
                .map_or("", |i| &i.image)
                .to_string();
            if !image_ids.contains_key(&image) {
                let id = image_id_of(client, &image).await?;
                image_ids.insert(image.clone(), id);
            }
            let matched = matches!((wanted, &image_ids[&image]), (Some(a), Some(b)) if a == b);
            if !matched {
                continue;
            }
        }
        let Some(meta) = &container.metadata else {
            continue;
        };
        if matches(&name, &meta.name)
            && matches(
                &namespace,
                label_or_unknown(&container.labels, POD_NAMESPACE_LABEL),
            )
        {
            items.push(container);
        }
    }
    items.sort_by_key(|item| std::cmp::Reverse(item.created_at));
    items.truncate(count(items.len(), args.latest, args.last));
    match args.output {
        Output::Table => {}
        other => return write_list(out, "containers", &items, other),
    }
    if args.quiet {
        for c in &items {
            writeln!(out, "{}", c.id)?;
        }
        return Ok(());
    }
    let now = now();
    if args.verbose {
        for c in &items {
            writeln!(out, "ID: {}", c.id)?;
            writeln!(out, "PodID: {}", c.pod_sandbox_id)?;
            writeln!(
                out,
                "Namespace: {}",
                label_or_unknown(&c.labels, POD_NAMESPACE_LABEL)
            )?;
            if let Some(meta) = &c.metadata {
                if !meta.name.is_empty() {
                    writeln!(out, "Name: {}", meta.name)?;
                }
                writeln!(out, "Attempt: {}", meta.attempt)?;
            }
            writeln!(out, "State: {}", container_state_name(c.state))?;
            if let Some(image) = &c.image {
                writeln!(out, "Image: {}", image.image)?;
            }
            writeln!(out, "Created: {}", ago(now, c.created_at))?;
            print_labels(out, "Labels", &c.labels)?;
            print_labels(out, "Annotations", &c.annotations)?;
            writeln!(out)?;
        }
        return Ok(());
    }
    let mut repo_images: HashMap<String, String> = HashMap::new();
    if args.resolve_image_path {
        for c in &items {
            let image = c.image.as_ref().map_or("", |i| &i.image).to_string();
            if let std::collections::hash_map::Entry::Vacant(slot) =
                repo_images.entry(image.clone())
            {
                let response = rpc(
                    "get image status",
                    client
                        .image_status(v1::ImageStatusRequest {
                            image: Some(v1::ImageSpec {
                                image: image.clone(),
                                ..Default::default()
                            }),
                            verbose: false,
                        })
                        .await,
                )?;
                let repo = response
                    .image
                    .and_then(|i| i.repo_tags.first().cloned())
                    .unwrap_or_else(|| image.clone());
                slot.insert(repo);
            }
        }
    }
    let row = |c: &v1::Container| -> [String; 9] {
        let mut image = c
            .image
            .as_ref()
            .map_or("", |i| i.image.as_str())
            .to_string();
        let (id, pod_id) = if args.no_trunc {
            (c.id.clone(), c.pod_sandbox_id.clone())
        } else {
            if let Some(hex) = digest_hex(&image) {
                image = truncate_id(hex, "").to_string();
            }
            (
                truncate_id(&c.id, "").to_string(),
                truncate_id(&c.pod_sandbox_id, "").to_string(),
            )
        };
        if args.resolve_image_path {
            let key = c.image.as_ref().map_or("", |i| i.image.as_str());
            if let Some(repo) = repo_images.get(key) {
                image = repo.clone();
            }
        }
        let meta = c.metadata.clone().unwrap_or_default();
        [
            id,
            image,
            ago(now, c.created_at),
            container_state_name(c.state).into(),
            meta.name,
            meta.attempt.to_string(),
            pod_id,
            label_or_unknown(&c.labels, POD_NAME_LABEL).into(),
            label_or_unknown(&c.labels, POD_NAMESPACE_LABEL).into(),
        ]
    };
    let header = [
        "CONTAINER",
        "IMAGE",
        "CREATED",
        "STATE",
        "NAME",
        "ATTEMPT",
        "POD ID",
        "POD",
        "NAMESPACE",
    ];
    let mut table = Table::new();
    table.measure(&header);
    for c in &items {
        table.measure(&row(c));
    }
    table.write(out, &header)?;
    for c in &items {
        table.write(out, &row(c))?;
    }
    Ok(())
}

pub(super) async fn inspect(client: &Client, args: &InspectArgs, out: &mut Out) -> Result<()> {
    need_ids(&args.ids)?;
    let output = args.output.unwrap_or(Output::Json);
    let verbose = !args.quiet;
    let now = now();
    let mut docs = Vec::new();
    for id in &args.ids {
        let response = rpc(
            "get the status of containers: get container status",
            client
                .container_status(v1::ContainerStatusRequest {
                    container_id: id.clone(),
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
                if meta.attempt != 0 {
                    writeln!(out, "Attempt: {}", meta.attempt)?;
                }
            }
            let state = v1::ContainerState::try_from(status.state).ok();
            writeln!(
                out,
                "State: {}",
                state.map_or_else(|| status.state.to_string(), |s| s.as_str_name().to_string())
            )?;
            writeln!(out, "Created: {}", ago(now, status.created_at))?;
            if state != Some(v1::ContainerState::ContainerCreated) {
                writeln!(out, "Started: {}", ago(now, status.started_at))?;
            }
            if state == Some(v1::ContainerState::ContainerExited) {
                if status.finished_at > 0 {
                    writeln!(out, "Finished: {}", ago(now, status.finished_at))?;
                }
                writeln!(out, "Exit Code: {}", status.exit_code)?;
            }
            print_labels(out, "Labels", &status.labels)?;
            print_labels(out, "Annotations", &status.annotations)?;
            if verbose {
                writeln!(out, "Info: {}", json::go_map_string(&response.info))?;
            }
            continue;
        }
        let mut value = to_value(&status)?;
        let state = v1::ContainerState::try_from(status.state).ok();
        if let Value::Object(map) = &mut value {
            map.insert(
                "createdAt".into(),
                human::rfc3339_nano(status.created_at).into(),
            );
            let started = if state != Some(v1::ContainerState::ContainerCreated) {
                human::rfc3339_nano(status.started_at)
            } else {
                human::GO_ZERO_TIME.into()
            };
            let finished = if state == Some(v1::ContainerState::ContainerExited)
                || (state == Some(v1::ContainerState::ContainerUnknown) && status.finished_at > 0)
            {
                human::rfc3339_nano(status.finished_at)
            } else {
                human::GO_ZERO_TIME.into()
            };
            map.insert("startedAt".into(), started.into());
            map.insert("finishedAt".into(), finished.into());
        }
        fill_nulls(&mut value, proto::CONTAINER_STATUS_FIELDS);
        docs.push(status_document(value, &response.info, Vec::new())?);
    }
    if output == Output::Table {
        return Ok(());
    }
    write_document(out, &documents(docs), output)
}

pub(super) async fn create(
    client: &Client,
    pod_id: &str,
    container_config: &str,
    pod_config: &str,
    pull: bool,
    auth: &AuthArgs,
) -> Result<String> {
    let mut config: v1::ContainerConfig = proto::from_config_file(container_config)?;
    match &config.metadata {
        None => {
            return Err(Failure::msg(format!(
                "{container_config}: metadata is not set"
            )));
        }
        Some(meta) if meta.name.is_empty() => {
            return Err(Failure::msg(format!(
                "{container_config}: name is not in metadata"
            )));
        }
        _ => {}
    }
    let image = match config.image.as_mut() {
        Some(image) if !image.image.is_empty() => {
            if image.user_specified_image.is_empty() {
                image.user_specified_image = image.image.clone();
            }
            image.image.clone()
        }
        _ => {
            return Err(Failure::msg(format!(
                "{container_config}: image is not set"
            )));
        }
    };
    let sandbox = load_pod_config(pod_config)?;
    if pull {
        let auth = auth_config(auth)?;
        rpc(
            "pulling image",
            client
                .pull_image(v1::PullImageRequest {
                    image: Some(v1::ImageSpec {
                        image: image.clone(),
                        ..Default::default()
                    }),
                    auth,
                    sandbox_config: Some(sandbox.clone()),
                })
                .await,
        )?;
    }
    let response = rpc(
        "creating container",
        client
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: pod_id.to_string(),
                config: Some(config),
                sandbox_config: Some(sandbox),
            })
            .await,
    )?;
    Ok(response.container_id)
}

pub(super) async fn start(client: &Client, ids: &[String], out: &mut Out) -> Result<()> {
    need_ids(ids)?;
    for id in ids {
        rpc(
            &format!("starting the container {id:?}"),
            client
                .start_container(v1::StartContainerRequest {
                    container_id: id.clone(),
                })
                .await,
        )?;
        writeln!(out, "{id}")?;
    }
    Ok(())
}

/// Containers, for `stop` and `rm`.
pub(super) struct Containers;

impl Resource for Containers {
    const NOUN: &'static str = "container";
    const PLURAL: &'static str = "containers";

    async fn ids(client: &Client) -> std::result::Result<Vec<String>, cri_client::Error> {
        let list = client
            .list_containers(v1::ListContainersRequest::default())
            .await?;
        Ok(list.containers.into_iter().map(|c| c.id).collect())
    }

    async fn running(client: &Client, id: &str) -> std::result::Result<bool, cri_client::Error> {
        let status = client
            .container_status(v1::ContainerStatusRequest {
                container_id: id.to_string(),
                verbose: false,
            })
            .await?;
        Ok(status
            .status
            .is_some_and(|s| s.state == v1::ContainerState::ContainerRunning as i32))
    }

    async fn stop(
        client: &Client,
        id: &str,
        timeout: i64,
    ) -> std::result::Result<(), cri_client::Error> {
        client
            .stop_container(v1::StopContainerRequest {
                container_id: id.to_string(),
                timeout,
            })
            .await
            .map(drop)
    }

    async fn remove(client: &Client, id: &str) -> std::result::Result<(), cri_client::Error> {
        client
            .remove_container(v1::RemoveContainerRequest {
                container_id: id.to_string(),
            })
            .await
            .map(drop)
    }

    fn stopped(id: &str) -> String {
        id.to_string()
    }

    fn removed(id: &str) -> String {
        id.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_are_recognised_like_go_digest() {
        let hex = "ff6a47eb455d41507a0905ad400a6219874b8fb14db89778a1cb35ef4ca2df47";
        assert_eq!(digest_hex(&format!("sha256:{hex}")), Some(hex));
        assert_eq!(digest_hex("sha256:short"), None);
        assert_eq!(digest_hex("localhost/busybox:1"), None);
    }
}
