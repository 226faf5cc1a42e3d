//! The pod sandbox RPCs: run, stop, remove, status, list and stream pods, update their
//! resources.

use cri_api_v1 as api;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use super::{Reply, pages};
use crate::state::{self, Pod, id_matches, resolve};
use crate::{FakeRuntime, labels_match};

impl FakeRuntime {
    fn list_pods(&self, filter: Option<api::PodSandboxFilter>) -> Vec<api::PodSandbox> {
        let filter = filter.unwrap_or_default();
        let state = self.read();
        state
            .pods
            .values()
            .filter(|pod| {
                id_matches(&pod.id, &filter.id)
                    && filter.state.is_none_or(|s| s.state == pod.state as i32)
                    && labels_match(&pod.config.labels, &filter.label_selector)
            })
            .map(Pod::summary)
            .collect()
    }
}

pub(super) async fn run(
    rt: &FakeRuntime,
    request: Request<api::RunPodSandboxRequest>,
) -> Reply<api::RunPodSandboxResponse> {
    let request = request.into_inner();
    let config = request.config.unwrap_or_default();
    if config.metadata.as_ref().is_none_or(|m| m.name.is_empty()) {
        return Err(Status::invalid_argument(
            "sandbox config must include metadata.name",
        ));
    }
    let serial = rt.next_serial();
    let pod = Pod::new(
        crate::ids::object_id(serial),
        serial,
        config,
        request.runtime_handler,
    );
    let id = pod.id.clone();
    let mut state = rt.write();
    state.pods.insert(id.clone(), pod);
    rt.emit(
        &state,
        &id,
        &id,
        api::ContainerEventType::ContainerCreatedEvent,
    );
    rt.emit(
        &state,
        &id,
        &id,
        api::ContainerEventType::ContainerStartedEvent,
    );
    Ok(Response::new(api::RunPodSandboxResponse {
        pod_sandbox_id: id,
    }))
}

pub(super) async fn stop(
    rt: &FakeRuntime,
    request: Request<api::StopPodSandboxRequest>,
) -> Reply<api::StopPodSandboxResponse> {
    let request = request.into_inner();
    let mut state = rt.write();
    let id = match resolve(&state.pods, &request.pod_sandbox_id, "pod sandbox") {
        Ok(id) => id.clone(),
        Err(status) if status.code() == tonic::Code::NotFound => {
            return Ok(Response::new(api::StopPodSandboxResponse {}));
        }
        Err(status) => return Err(status),
    };
    let now = state::now();
    let mut stopped = Vec::new();
    for ctr in state.containers.values_mut().filter(|c| c.pod_id == id) {
        if ctr.state == api::ContainerState::ContainerRunning {
            ctr.kill();
            ctr.state = api::ContainerState::ContainerExited;
            ctr.finished_at = now;
            ctr.exit_code = 137;
            ctr.reason = "Error".into();
            stopped.push(ctr.id.clone());
        }
    }
    let pod = state.pods.get_mut(&id).expect("resolved");
    let was_ready = pod.state == api::PodSandboxState::SandboxReady;
    pod.state = api::PodSandboxState::SandboxNotready;
    for ctr in stopped {
        rt.emit(
            &state,
            &ctr,
            &id,
            api::ContainerEventType::ContainerStoppedEvent,
        );
    }
    if was_ready {
        rt.emit(
            &state,
            &id,
            &id,
            api::ContainerEventType::ContainerStoppedEvent,
        );
    }
    Ok(Response::new(api::StopPodSandboxResponse {}))
}

pub(super) async fn remove(
    rt: &FakeRuntime,
    request: Request<api::RemovePodSandboxRequest>,
) -> Reply<api::RemovePodSandboxResponse> {
    let request = request.into_inner();
    let mut state = rt.write();
    let id = match resolve(&state.pods, &request.pod_sandbox_id, "pod sandbox") {
        Ok(id) => id.clone(),
        Err(status) if status.code() == tonic::Code::NotFound => {
            return Ok(Response::new(api::RemovePodSandboxResponse {}));
        }
        Err(status) => return Err(status),
    };
    let containers: Vec<String> = state.containers_of(&id).map(|c| c.id.clone()).collect();
    for ctr in containers {
        if let Some(mut removed) = state.containers.remove(&ctr) {
            removed.kill();
        }
        rt.emit(
            &state,
            &ctr,
            &id,
            api::ContainerEventType::ContainerDeletedEvent,
        );
    }
    // The event carries the pod's last status.
    rt.emit(
        &state,
        &id,
        &id,
        api::ContainerEventType::ContainerDeletedEvent,
    );
    state.pods.remove(&id);
    Ok(Response::new(api::RemovePodSandboxResponse {}))
}

pub(super) async fn status(
    rt: &FakeRuntime,
    request: Request<api::PodSandboxStatusRequest>,
) -> Reply<api::PodSandboxStatusResponse> {
    let request = request.into_inner();
    let state = rt.read();
    let id = resolve(&state.pods, &request.pod_sandbox_id, "pod sandbox")?;
    let pod = &state.pods[id];
    let mut info = std::collections::BTreeMap::new();
    if request.verbose {
        info.insert(
            "info".to_string(),
            format!(
                r#"{{"runtime":"cri-fake","pid":{},"ip":"{}"}}"#,
                1000 + pod.created_at % 30_000,
                pod.ip
            ),
        );
    }
    Ok(Response::new(api::PodSandboxStatusResponse {
        status: Some(pod.status()),
        info,
        containers_statuses: state
            .containers_of(id)
            .map(|c| c.status(&state.images))
            .collect(),
        timestamp: state::now(),
    }))
}

pub(super) async fn list(
    rt: &FakeRuntime,
    request: Request<api::ListPodSandboxRequest>,
) -> Reply<api::ListPodSandboxResponse> {
    Ok(Response::new(api::ListPodSandboxResponse {
        items: rt.list_pods(request.into_inner().filter),
    }))
}

pub(super) async fn stream(
    rt: &FakeRuntime,
    request: Request<api::StreamPodSandboxesRequest>,
) -> Reply<BoxStream<api::StreamPodSandboxesResponse>> {
    rt.check_streaming("StreamPodSandboxes", "RuntimeService")?;
    let items = rt.list_pods(request.into_inner().filter);
    Ok(Response::new(pages(
        items,
        rt.page_size(),
        |pod_sandboxes| api::StreamPodSandboxesResponse { pod_sandboxes },
    )))
}

pub(super) async fn update_resources(
    rt: &FakeRuntime,
    request: Request<api::UpdatePodSandboxResourcesRequest>,
) -> Reply<api::UpdatePodSandboxResourcesResponse> {
    let request = request.into_inner();
    let mut state = rt.write();
    let id = resolve(&state.pods, &request.pod_sandbox_id, "pod sandbox")?.clone();
    let pod = state.pods.get_mut(&id).expect("resolved");
    let linux = pod.config.linux.get_or_insert_default();
    if request.resources.is_some() {
        linux.resources = request.resources;
    }
    if request.overhead.is_some() {
        linux.overhead = request.overhead;
    }
    Ok(Response::new(api::UpdatePodSandboxResourcesResponse {}))
}
