//! The container RPCs: create, start (running the container's command with its output in
//! its CRI log), stop, remove, status, list and stream containers, update their resources,
//! reopen their log, checkpoint.

use cri_api_v1 as api;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::{Reply, pages};
use crate::command::CommandIo;
use crate::model::console::Console;
use crate::process::{Log, LogSink};
use crate::state::{self, Ctr, id_matches, resolve};
use crate::{FakeRuntime, labels_match};

impl FakeRuntime {
    fn list_ctrs(&self, filter: Option<api::ContainerFilter>) -> Vec<api::Container> {
        let filter = filter.unwrap_or_default();
        let state = self.read();
        state
            .containers
            .values()
            .filter(|c| {
                id_matches(&c.id, &filter.id)
                    && id_matches(&c.pod_id, &filter.pod_sandbox_id)
                    && filter.state.is_none_or(|s| s.state == c.state as i32)
                    && labels_match(&c.config.labels, &filter.label_selector)
            })
            .map(|c| c.summary(&state.images))
            .collect()
    }

    /// The container `id` (full or prefix), which must be running.
    pub(super) fn running(&self, id: &str) -> Result<String, Status> {
        let state = self.read();
        let id = resolve(&state.containers, id, "container")?;
        if state.containers[id].state != api::ContainerState::ContainerRunning {
            return Err(Status::failed_precondition(format!(
                "container {id} is not running"
            )));
        }
        Ok(id.clone())
    }

    /// The main process of container `id` ended with `code`: the container exits.
    fn process_exited(&self, id: &str, code: i32) {
        let mut state = self.write();
        let Some(ctr) = state.containers.get_mut(id) else {
            return;
        };
        if ctr.state != api::ContainerState::ContainerRunning || ctr.process.is_none() {
            return;
        }
        ctr.process = None;
        if let Some(log) = &ctr.log {
            log.finish();
        }
        ctr.state = api::ContainerState::ContainerExited;
        ctr.finished_at = state::now();
        ctr.exit_code = code;
        let oom = ctr
            .model
            .oom_killed
            .load(std::sync::atomic::Ordering::Relaxed);
        ctr.reason = match code {
            _ if oom => "OOMKilled",
            0 => "Completed",
            _ => "Error",
        }
        .into();
        let pod_id = ctr.pod_id.clone();
        self.emit(
            &state,
            id,
            &pod_id,
            api::ContainerEventType::ContainerStoppedEvent,
        );
    }
}

pub(super) async fn create(
    rt: &FakeRuntime,
    request: Request<api::CreateContainerRequest>,
) -> Reply<api::CreateContainerResponse> {
    let request = request.into_inner();
    let config = request.config.unwrap_or_default();
    if config.metadata.as_ref().is_none_or(|m| m.name.is_empty()) {
        return Err(Status::invalid_argument(
            "container config must include metadata.name",
        ));
    }
    crate::model::validate(&config)?;
    let image = config
        .image
        .as_ref()
        .map(|i| i.image.as_str())
        .unwrap_or_default();
    let id = rt.new_id();
    let mut state = rt.write();
    let pod_id = resolve(&state.pods, &request.pod_sandbox_id, "pod sandbox")?.clone();
    let pod = &state.pods[&pod_id];
    if pod.state != api::PodSandboxState::SandboxReady {
        return Err(Status::failed_precondition(format!(
            "pod sandbox {pod_id} is not ready"
        )));
    }
    let Some(image_id) = state.resolve_image(image) else {
        return Err(Status::not_found(format!(
            "image {image:?} not found: pull it first"
        )));
    };
    let resources = config
        .linux
        .as_ref()
        .and_then(|l| l.resources.clone())
        .map(|linux| api::ContainerResources {
            linux: Some(linux),
            windows: None,
        });
    let image_user = state.images.get(&image_id).map_or(String::new(), |i| {
        i.uid
            .map_or_else(|| i.username.clone(), |u| u.value.to_string())
    });
    let model = crate::model::Container::new(pod, &config, &image_user);
    let mut ctr = Ctr::new(id.clone(), pod, config, image_id, resources);
    ctr.model = std::sync::Arc::new(model);
    state.containers.insert(id.clone(), ctr);
    rt.emit(
        &state,
        &id,
        &pod_id,
        api::ContainerEventType::ContainerCreatedEvent,
    );
    Ok(Response::new(api::CreateContainerResponse {
        container_id: id,
    }))
}

pub(super) async fn start(
    rt: &FakeRuntime,
    request: Request<api::StartContainerRequest>,
) -> Reply<api::StartContainerResponse> {
    let request = request.into_inner();
    // What to run and where its log goes, read first: the file is made outside the lock.
    let (id, argv, env, tty, stdin, log_path, model) = {
        let state = rt.read();
        let id = resolve(&state.containers, &request.container_id, "container")?.clone();
        let ctr = &state.containers[&id];
        let pod = state.pods.get(&ctr.pod_id);
        let log_path = (!ctr.log_path.is_empty()).then(|| std::path::PathBuf::from(&ctr.log_path));
        let argv = ctr.argv();
        let stdin = (ctr.config.stdin, ctr.config.stdin_once);
        let model = ctr.model.clone();
        (
            id,
            argv,
            ctr.env(pod),
            ctr.config.tty,
            stdin,
            log_path,
            model,
        )
    };
    let (stdin, stdin_once) = stdin;
    let log = match &log_path {
        Some(path) => Some(Log::open(path).map_err(|e| {
            Status::internal(format!(
                "failed to create the container log {}: {e}",
                path.display()
            ))
        })?),
        None => None,
    };
    let mut state = rt.write();
    let ctr = state
        .containers
        .get_mut(&id)
        .ok_or_else(|| Status::not_found(format!("container {id:?} not found")))?;
    if ctr.state != api::ContainerState::ContainerCreated {
        return Err(Status::failed_precondition(format!(
            "container {id} is not in created state"
        )));
    }
    ctr.state = api::ContainerState::ContainerRunning;
    ctr.started_at = state::now();
    // The one main process: attached clients share its stdin and see its output.
    let (console, process_stdin) = Console::new(stdin, stdin_once, tty);
    model.set_console(console.clone());
    if !argv.is_empty() {
        let io = CommandIo {
            stdin: process_stdin,
            stdout: console.tee(
                Box::new(LogSink {
                    log: log.clone(),
                    stream: cri_log::Stream::Stdout,
                }),
                false,
            ),
            // On a terminal both streams are one, and runtimes log it as stdout.
            stderr: console.tee(
                Box::new(LogSink {
                    log: log.clone(),
                    stream: if tty {
                        cri_log::Stream::Stdout
                    } else {
                        cri_log::Stream::Stderr
                    },
                }),
                true,
            ),
            tty,
            env,
        };
        let run = crate::command::dispatch(&rt.container_commands(model.clone()), argv, io);
        let runtime = rt.clone();
        let exited = id.clone();
        let task = tokio::spawn(async move {
            let code = run.await;
            console.finish();
            runtime.process_exited(&exited, code);
        });
        ctr.process = Some(task.abort_handle());
    }
    ctr.log = log;
    let pod_id = ctr.pod_id.clone();
    rt.emit(
        &state,
        &id,
        &pod_id,
        api::ContainerEventType::ContainerStartedEvent,
    );
    Ok(Response::new(api::StartContainerResponse {}))
}

pub(super) async fn stop(
    rt: &FakeRuntime,
    request: Request<api::StopContainerRequest>,
) -> Reply<api::StopContainerResponse> {
    let request = request.into_inner();
    let mut state = rt.write();
    let id = match resolve(&state.containers, &request.container_id, "container") {
        Ok(id) => id.clone(),
        // Idempotent, as the CRI asks: stopping what does not exist is not an error.
        Err(status) if status.code() == tonic::Code::NotFound => {
            return Ok(Response::new(api::StopContainerResponse {}));
        }
        Err(status) => return Err(status),
    };
    let ctr = state.containers.get_mut(&id).expect("resolved");
    if ctr.state == api::ContainerState::ContainerExited {
        return Ok(Response::new(api::StopContainerResponse {}));
    }
    if ctr.state == api::ContainerState::ContainerCreated {
        ctr.started_at = 0;
    }
    let killed = ctr.kill();
    ctr.state = api::ContainerState::ContainerExited;
    ctr.finished_at = state::now();
    (ctr.exit_code, ctr.reason) = if killed {
        (137, "Error".into())
    } else {
        (0, "Completed".into())
    };
    let pod_id = ctr.pod_id.clone();
    rt.emit(
        &state,
        &id,
        &pod_id,
        api::ContainerEventType::ContainerStoppedEvent,
    );
    Ok(Response::new(api::StopContainerResponse {}))
}

pub(super) async fn remove(
    rt: &FakeRuntime,
    request: Request<api::RemoveContainerRequest>,
) -> Reply<api::RemoveContainerResponse> {
    let request = request.into_inner();
    let mut state = rt.write();
    let id = match resolve(&state.containers, &request.container_id, "container") {
        Ok(id) => id.clone(),
        Err(status) if status.code() == tonic::Code::NotFound => {
            return Ok(Response::new(api::RemoveContainerResponse {}));
        }
        Err(status) => return Err(status),
    };
    let mut ctr = state.containers.remove(&id).expect("resolved");
    ctr.kill();
    rt.emit(
        &state,
        &id,
        &ctr.pod_id,
        api::ContainerEventType::ContainerDeletedEvent,
    );
    Ok(Response::new(api::RemoveContainerResponse {}))
}

pub(super) async fn list(
    rt: &FakeRuntime,
    request: Request<api::ListContainersRequest>,
) -> Reply<api::ListContainersResponse> {
    Ok(Response::new(api::ListContainersResponse {
        containers: rt.list_ctrs(request.into_inner().filter),
    }))
}

pub(super) async fn stream(
    rt: &FakeRuntime,
    request: Request<api::StreamContainersRequest>,
) -> Reply<BoxStream<api::StreamContainersResponse>> {
    rt.check_streaming("StreamContainers", "RuntimeService")?;
    let items = rt.list_ctrs(request.into_inner().filter);
    Ok(Response::new(pages(items, rt.page_size(), |containers| {
        api::StreamContainersResponse { containers }
    })))
}

pub(super) async fn status(
    rt: &FakeRuntime,
    request: Request<api::ContainerStatusRequest>,
) -> Reply<api::ContainerStatusResponse> {
    let request = request.into_inner();
    let state = rt.read();
    let id = resolve(&state.containers, &request.container_id, "container")?;
    let ctr = &state.containers[id];
    ctr.write_seeded_log();
    let mut info = std::collections::BTreeMap::new();
    if request.verbose {
        info.insert(
            "info".to_string(),
            format!(r#"{{"sandboxID":"{}","runtime":"cri-fake"}}"#, ctr.pod_id),
        );
    }
    Ok(Response::new(api::ContainerStatusResponse {
        status: Some(ctr.status(&state.images)),
        info,
    }))
}

pub(super) async fn update_resources(
    rt: &FakeRuntime,
    request: Request<api::UpdateContainerResourcesRequest>,
) -> Reply<api::UpdateContainerResourcesResponse> {
    let request = request.into_inner();
    let mut state = rt.write();
    let id = resolve(&state.containers, &request.container_id, "container")?.clone();
    let ctr = state.containers.get_mut(&id).expect("resolved");
    ctr.resources = Some(api::ContainerResources {
        linux: request.linux,
        windows: request.windows,
    });
    ctr.config.annotations.extend(request.annotations);
    Ok(Response::new(api::UpdateContainerResourcesResponse {}))
}

pub(super) async fn reopen_log(
    rt: &FakeRuntime,
    request: Request<api::ReopenContainerLogRequest>,
) -> Reply<api::ReopenContainerLogResponse> {
    let id = rt.running(&request.into_inner().container_id)?;
    let log = rt.read().containers.get(&id).and_then(|c| c.log.clone());
    if let Some(log) = log {
        log.reopen().map_err(|e| {
            Status::internal(format!("failed to reopen the log of container {id}: {e}"))
        })?;
    }
    Ok(Response::new(api::ReopenContainerLogResponse {}))
}

pub(super) async fn checkpoint(
    rt: &FakeRuntime,
    request: Request<api::CheckpointContainerRequest>,
) -> Reply<api::CheckpointContainerResponse> {
    rt.running(&request.into_inner().container_id)?;
    Ok(Response::new(api::CheckpointContainerResponse {}))
}
