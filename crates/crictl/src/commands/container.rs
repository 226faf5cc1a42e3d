//! Containers: `inspect`, `create`, `start`, `stop` and `rm` (`run` is `runp`, `create` and
//! `start`; `ps` is in `ps`).

use std::io::Write;

use cri_api_v1 as v1;
use cri_client::Client;
use serde_json::Value;

use super::image::auth_config;
use super::lifecycle::Resource;
use super::sandbox::load_pod_config;
use super::{need_ids, now, print_labels, rpc};
use crate::cli::{AuthArgs, InspectContainersArgs, Output};
use crate::failure::{Failure, Out, Result};
use crate::human::{self, ago};
use crate::output::json;
use crate::output::{documents, status_document, write_document_or_template};
use crate::proto::{self, fill_nulls, to_value};

pub(super) async fn inspect(
    client: &Client,
    args: &InspectContainersArgs,
    out: &mut Out,
) -> Result<()> {
    let ids = if args.inspect.ids.is_empty() {
        super::ps::select(client, &args.select).await?
    } else {
        args.inspect.ids.clone()
    };
    if ids.is_empty() {
        return Err(Failure::msg(
            "no IDs provided or nothing found per filter: give container IDs or filter flags",
        ));
    }
    let args = &args.inspect;
    let output = args.output.unwrap_or(Output::Json);
    let verbose = !args.quiet;
    let now = now();
    let mut docs = Vec::new();
    for id in &ids {
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
    write_document_or_template(out, &documents(docs), output, args.template.as_deref())
}

pub(super) async fn create(
    client: &Client,
    pod_id: &str,
    container_config: &str,
    pod_config: &str,
    pull: bool,
    auth: &AuthArgs,
    pull_timeout: Option<&str>,
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
        let request = v1::PullImageRequest {
            image: Some(v1::ImageSpec {
                image: image.clone(),
                ..Default::default()
            }),
            auth,
            sandbox_config: Some(sandbox.clone()),
        };
        super::within(pull_timeout, "--pull-timeout", "pulling image", async {
            rpc("pulling image", client.pull_image(request).await)
        })
        .await?;
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

    async fn log_path(client: &Client, id: &str) -> Option<String> {
        let status = client
            .container_status(v1::ContainerStatusRequest {
                container_id: id.to_string(),
                verbose: false,
            })
            .await
            .ok()?;
        status.status.map(|s| s.log_path)
    }

    fn stopped(id: &str) -> String {
        id.to_string()
    }

    fn removed(id: &str) -> String {
        id.to_string()
    }
}
