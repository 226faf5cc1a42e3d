//! The `RuntimeService`: the trait's methods hand each RPC to the module of its concern
//! (`pods`, `containers`, `exec`, `stats`, `events`, `info`); this module keeps what they
//! share (the client's deadline, paging of the `Stream*` RPCs).

use cri_api_v1 as api;
use cri_api_v1::runtime_service_server::RuntimeService;
use tonic::codegen::BoxStream;
use tonic::{Request, Response, Status};

use crate::FakeRuntime;
use std::time::Duration;

mod containers;
mod events;
mod exec;
mod info;
mod pods;
mod stats;

/// The time left before the client's deadline (`grpc-timeout`), if it sent one.
pub(crate) fn grpc_deadline<T>(request: &Request<T>) -> Option<Duration> {
    let value = request.metadata().get("grpc-timeout")?.to_str().ok()?;
    let (digits, unit) = value.split_at(value.len().checked_sub(1)?);
    let n: u64 = digits.parse().ok()?;
    Some(match unit {
        "H" => Duration::from_secs(n.saturating_mul(3600)),
        "M" => Duration::from_secs(n.saturating_mul(60)),
        "S" => Duration::from_secs(n),
        "m" => Duration::from_millis(n),
        "u" => Duration::from_micros(n),
        "n" => Duration::from_nanos(n),
        _ => return None,
    })
}

type Reply<T> = Result<Response<T>, Status>;

/// Sends `items` in pages of at most `size` (no message for no items).
pub(crate) fn pages<T, R>(items: Vec<T>, size: usize, wrap: fn(Vec<T>) -> R) -> BoxStream<R>
where
    T: Send + 'static,
    R: Send + 'static,
{
    let mut pages = Vec::with_capacity(items.len().div_ceil(size));
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        pages.push(Ok(wrap(items.by_ref().take(size).collect())));
    }
    Box::pin(tokio_stream::iter(pages))
}

impl FakeRuntime {
    /// `UNIMPLEMENTED` as an older runtime answers an RPC it does not know, when the fake was
    /// built without the `Stream*` RPCs.
    pub(crate) fn check_streaming(&self, method: &str, service: &str) -> Result<(), Status> {
        if self.options().stream_rpcs {
            Ok(())
        } else {
            Err(Status::unimplemented(format!(
                "unknown method {method} for service runtime.v1.{service}"
            )))
        }
    }

    fn page_size(&self) -> usize {
        self.options().page_size
    }
}

#[tonic::async_trait]
impl RuntimeService for FakeRuntime {
    async fn version(&self, request: Request<api::VersionRequest>) -> Reply<api::VersionResponse> {
        info::version(self, request).await
    }

    async fn run_pod_sandbox(
        &self,
        request: Request<api::RunPodSandboxRequest>,
    ) -> Reply<api::RunPodSandboxResponse> {
        pods::run(self, request).await
    }

    async fn stop_pod_sandbox(
        &self,
        request: Request<api::StopPodSandboxRequest>,
    ) -> Reply<api::StopPodSandboxResponse> {
        pods::stop(self, request).await
    }

    async fn remove_pod_sandbox(
        &self,
        request: Request<api::RemovePodSandboxRequest>,
    ) -> Reply<api::RemovePodSandboxResponse> {
        pods::remove(self, request).await
    }

    async fn pod_sandbox_status(
        &self,
        request: Request<api::PodSandboxStatusRequest>,
    ) -> Reply<api::PodSandboxStatusResponse> {
        pods::status(self, request).await
    }

    async fn list_pod_sandbox(
        &self,
        request: Request<api::ListPodSandboxRequest>,
    ) -> Reply<api::ListPodSandboxResponse> {
        pods::list(self, request).await
    }

    async fn stream_pod_sandboxes(
        &self,
        request: Request<api::StreamPodSandboxesRequest>,
    ) -> Reply<BoxStream<api::StreamPodSandboxesResponse>> {
        pods::stream(self, request).await
    }

    async fn create_container(
        &self,
        request: Request<api::CreateContainerRequest>,
    ) -> Reply<api::CreateContainerResponse> {
        containers::create(self, request).await
    }

    async fn start_container(
        &self,
        request: Request<api::StartContainerRequest>,
    ) -> Reply<api::StartContainerResponse> {
        containers::start(self, request).await
    }

    async fn stop_container(
        &self,
        request: Request<api::StopContainerRequest>,
    ) -> Reply<api::StopContainerResponse> {
        containers::stop(self, request).await
    }

    async fn remove_container(
        &self,
        request: Request<api::RemoveContainerRequest>,
    ) -> Reply<api::RemoveContainerResponse> {
        containers::remove(self, request).await
    }

    async fn list_containers(
        &self,
        request: Request<api::ListContainersRequest>,
    ) -> Reply<api::ListContainersResponse> {
        containers::list(self, request).await
    }

    async fn stream_containers(
        &self,
        request: Request<api::StreamContainersRequest>,
    ) -> Reply<BoxStream<api::StreamContainersResponse>> {
        containers::stream(self, request).await
    }

    async fn container_status(
        &self,
        request: Request<api::ContainerStatusRequest>,
    ) -> Reply<api::ContainerStatusResponse> {
        containers::status(self, request).await
    }

    async fn update_container_resources(
        &self,
        request: Request<api::UpdateContainerResourcesRequest>,
    ) -> Reply<api::UpdateContainerResourcesResponse> {
        containers::update_resources(self, request).await
    }

    async fn reopen_container_log(
        &self,
        request: Request<api::ReopenContainerLogRequest>,
    ) -> Reply<api::ReopenContainerLogResponse> {
        containers::reopen_log(self, request).await
    }

    async fn exec_sync(
        &self,
        request: Request<api::ExecSyncRequest>,
    ) -> Reply<api::ExecSyncResponse> {
        exec::exec_sync(self, request).await
    }

    async fn exec(&self, request: Request<api::ExecRequest>) -> Reply<api::ExecResponse> {
        exec::exec(self, request).await
    }

    async fn attach(&self, request: Request<api::AttachRequest>) -> Reply<api::AttachResponse> {
        exec::attach(self, request).await
    }

    async fn port_forward(
        &self,
        request: Request<api::PortForwardRequest>,
    ) -> Reply<api::PortForwardResponse> {
        exec::port_forward(self, request).await
    }

    async fn container_stats(
        &self,
        request: Request<api::ContainerStatsRequest>,
    ) -> Reply<api::ContainerStatsResponse> {
        stats::container(self, request).await
    }

    async fn list_container_stats(
        &self,
        request: Request<api::ListContainerStatsRequest>,
    ) -> Reply<api::ListContainerStatsResponse> {
        stats::list_containers(self, request).await
    }

    async fn stream_container_stats(
        &self,
        request: Request<api::StreamContainerStatsRequest>,
    ) -> Reply<BoxStream<api::StreamContainerStatsResponse>> {
        stats::stream_containers(self, request).await
    }

    async fn pod_sandbox_stats(
        &self,
        request: Request<api::PodSandboxStatsRequest>,
    ) -> Reply<api::PodSandboxStatsResponse> {
        stats::pod(self, request).await
    }

    async fn list_pod_sandbox_stats(
        &self,
        request: Request<api::ListPodSandboxStatsRequest>,
    ) -> Reply<api::ListPodSandboxStatsResponse> {
        stats::list_pods(self, request).await
    }

    async fn stream_pod_sandbox_stats(
        &self,
        request: Request<api::StreamPodSandboxStatsRequest>,
    ) -> Reply<BoxStream<api::StreamPodSandboxStatsResponse>> {
        stats::stream_pods(self, request).await
    }

    async fn update_runtime_config(
        &self,
        request: Request<api::UpdateRuntimeConfigRequest>,
    ) -> Reply<api::UpdateRuntimeConfigResponse> {
        info::update_runtime_config(self, request).await
    }

    async fn status(&self, request: Request<api::StatusRequest>) -> Reply<api::StatusResponse> {
        info::status(self, request).await
    }

    async fn checkpoint_container(
        &self,
        request: Request<api::CheckpointContainerRequest>,
    ) -> Reply<api::CheckpointContainerResponse> {
        containers::checkpoint(self, request).await
    }

    async fn get_container_events(
        &self,
        request: Request<api::GetEventsRequest>,
    ) -> Reply<BoxStream<api::ContainerEventResponse>> {
        events::subscribe(self, request).await
    }

    async fn list_metric_descriptors(
        &self,
        request: Request<api::ListMetricDescriptorsRequest>,
    ) -> Reply<api::ListMetricDescriptorsResponse> {
        stats::metric_descriptors(request).await
    }

    async fn list_pod_sandbox_metrics(
        &self,
        request: Request<api::ListPodSandboxMetricsRequest>,
    ) -> Reply<api::ListPodSandboxMetricsResponse> {
        stats::list_pod_metrics(self, request).await
    }

    async fn stream_pod_sandbox_metrics(
        &self,
        request: Request<api::StreamPodSandboxMetricsRequest>,
    ) -> Reply<BoxStream<api::StreamPodSandboxMetricsResponse>> {
        stats::stream_pod_metrics(self, request).await
    }

    async fn runtime_config(
        &self,
        request: Request<api::RuntimeConfigRequest>,
    ) -> Reply<api::RuntimeConfigResponse> {
        info::runtime_config(request).await
    }

    async fn update_pod_sandbox_resources(
        &self,
        request: Request<api::UpdatePodSandboxResourcesRequest>,
    ) -> Reply<api::UpdatePodSandboxResourcesResponse> {
        pods::update_resources(self, request).await
    }
}
