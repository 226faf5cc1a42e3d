//! The table of every `runtime.v1` RPC: its names, whether it streams, and how its messages
//! turn into the JSON of `crictl -o json` and back.

use cri_api_v1 as v1;
use cri_api_v1::json::{self, JsonMessage, JsonOptions};
use serde_json::Value;

/// One RPC of `runtime.v1`.
#[derive(Debug)]
pub struct Method {
    /// `RuntimeService` or `ImageService`.
    pub service: &'static str,
    /// The RPC's name, `ListContainers`.
    pub name: &'static str,
    /// The kubelet's `operation_type` label for it (`list_containers`, `run_podsandbox`).
    pub operation: &'static str,
    /// Whether the response is a stream.
    pub server_streaming: bool,
    pub(crate) request_json: fn(&[u8]) -> Result<Value, String>,
    pub(crate) response_json: fn(&[u8]) -> Result<Value, String>,
}

impl Method {
    /// `RuntimeService/ListContainers`, as recordings and errors name it.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.service, self.name)
    }

    /// The request's protobuf bytes as `crictl -o json` JSON.
    pub fn request_to_json(&self, message: &[u8]) -> Result<Value, String> {
        (self.request_json)(message)
    }

    /// A response's protobuf bytes as `crictl -o json` JSON.
    pub fn response_to_json(&self, message: &[u8]) -> Result<Value, String> {
        (self.response_json)(message)
    }
}

fn to_json<M: prost::Message + Default + JsonMessage>(bytes: &[u8]) -> Result<Value, String> {
    let message = M::decode(bytes).map_err(|e| format!("undecodable {}: {e}", M::FULL_NAME))?;
    serde_json::to_value(json::with_options(&message, JsonOptions::crictl()))
        .map_err(|e| format!("{} as JSON: {e}", M::FULL_NAME))
}

macro_rules! methods {
    ($($service:literal $name:ident $operation:literal $streaming:literal $request:ident $response:ident;)*) => {
        /// Every RPC of both services of `runtime.v1`.
        pub static METHODS: &[Method] = &[$(Method {
            service: $service,
            name: stringify!($name),
            operation: $operation,
            server_streaming: $streaming,
            request_json: to_json::<v1::$request>,
            response_json: to_json::<v1::$response>,
        },)*];
    };
}

methods! {
    "RuntimeService" Version "version" false VersionRequest VersionResponse;
    "RuntimeService" RunPodSandbox "run_podsandbox" false RunPodSandboxRequest RunPodSandboxResponse;
    "RuntimeService" StopPodSandbox "stop_podsandbox" false StopPodSandboxRequest StopPodSandboxResponse;
    "RuntimeService" RemovePodSandbox "remove_podsandbox" false RemovePodSandboxRequest RemovePodSandboxResponse;
    "RuntimeService" PodSandboxStatus "podsandbox_status" false PodSandboxStatusRequest PodSandboxStatusResponse;
    "RuntimeService" ListPodSandbox "list_podsandbox" false ListPodSandboxRequest ListPodSandboxResponse;
    "RuntimeService" StreamPodSandboxes "stream_podsandboxes" true StreamPodSandboxesRequest StreamPodSandboxesResponse;
    "RuntimeService" CreateContainer "create_container" false CreateContainerRequest CreateContainerResponse;
    "RuntimeService" StartContainer "start_container" false StartContainerRequest StartContainerResponse;
    "RuntimeService" StopContainer "stop_container" false StopContainerRequest StopContainerResponse;
    "RuntimeService" RemoveContainer "remove_container" false RemoveContainerRequest RemoveContainerResponse;
    "RuntimeService" ListContainers "list_containers" false ListContainersRequest ListContainersResponse;
    "RuntimeService" StreamContainers "stream_containers" true StreamContainersRequest StreamContainersResponse;
    "RuntimeService" ContainerStatus "container_status" false ContainerStatusRequest ContainerStatusResponse;
    "RuntimeService" UpdateContainerResources "update_container" false UpdateContainerResourcesRequest UpdateContainerResourcesResponse;
    "RuntimeService" ReopenContainerLog "reopen_container_log" false ReopenContainerLogRequest ReopenContainerLogResponse;
    "RuntimeService" ExecSync "exec_sync" false ExecSyncRequest ExecSyncResponse;
    "RuntimeService" Exec "exec" false ExecRequest ExecResponse;
    "RuntimeService" Attach "attach" false AttachRequest AttachResponse;
    "RuntimeService" PortForward "port_forward" false PortForwardRequest PortForwardResponse;
    "RuntimeService" ContainerStats "container_stats" false ContainerStatsRequest ContainerStatsResponse;
    "RuntimeService" ListContainerStats "list_container_stats" false ListContainerStatsRequest ListContainerStatsResponse;
    "RuntimeService" StreamContainerStats "stream_container_stats" true StreamContainerStatsRequest StreamContainerStatsResponse;
    "RuntimeService" PodSandboxStats "podsandbox_stats" false PodSandboxStatsRequest PodSandboxStatsResponse;
    "RuntimeService" ListPodSandboxStats "list_podsandbox_stats" false ListPodSandboxStatsRequest ListPodSandboxStatsResponse;
    "RuntimeService" StreamPodSandboxStats "stream_podsandbox_stats" true StreamPodSandboxStatsRequest StreamPodSandboxStatsResponse;
    "RuntimeService" UpdateRuntimeConfig "update_runtime_config" false UpdateRuntimeConfigRequest UpdateRuntimeConfigResponse;
    "RuntimeService" Status "status" false StatusRequest StatusResponse;
    "RuntimeService" CheckpointContainer "checkpoint_container" false CheckpointContainerRequest CheckpointContainerResponse;
    "RuntimeService" GetContainerEvents "get_container_events" true GetEventsRequest ContainerEventResponse;
    "RuntimeService" ListMetricDescriptors "list_metric_descriptors" false ListMetricDescriptorsRequest ListMetricDescriptorsResponse;
    "RuntimeService" ListPodSandboxMetrics "list_podsandbox_metrics" false ListPodSandboxMetricsRequest ListPodSandboxMetricsResponse;
    "RuntimeService" StreamPodSandboxMetrics "stream_podsandbox_metrics" true StreamPodSandboxMetricsRequest StreamPodSandboxMetricsResponse;
    "RuntimeService" RuntimeConfig "runtime_config" false RuntimeConfigRequest RuntimeConfigResponse;
    "RuntimeService" UpdatePodSandboxResources "update_podsandbox_resources" false UpdatePodSandboxResourcesRequest UpdatePodSandboxResourcesResponse;
    "ImageService" ListImages "list_images" false ListImagesRequest ListImagesResponse;
    "ImageService" StreamImages "stream_images" true StreamImagesRequest StreamImagesResponse;
    "ImageService" ImageStatus "image_status" false ImageStatusRequest ImageStatusResponse;
    "ImageService" PullImage "pull_image" false PullImageRequest PullImageResponse;
    "ImageService" RemoveImage "remove_image" false RemoveImageRequest RemoveImageResponse;
    "ImageService" ImageFsInfo "image_fs_info" false ImageFsInfoRequest ImageFsInfoResponse;
}

/// The RPC a request path names: `/runtime.v1.RuntimeService/Version`. `runtime.v1alpha2`
/// paths give the same entry (the RPC's name and label), though their messages are v1alpha2's.
pub fn lookup(path: &str) -> Option<&'static Method> {
    let rest = path
        .strip_prefix("/runtime.v1.")
        .or_else(|| path.strip_prefix("/runtime.v1alpha2."))?;
    let (service, name) = rest.split_once('/')?;
    METHODS
        .iter()
        .find(|m| m.service == service && m.name == name)
}

/// Whether `path` is one of `runtime.v1alpha2`'s (whose messages this table cannot read).
pub fn is_v1alpha2(path: &str) -> bool {
    path.starts_with("/runtime.v1alpha2.")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_rpc_is_found_by_its_path() {
        assert_eq!(METHODS.len(), 41);
        for method in METHODS {
            let path = format!("/runtime.v1.{}/{}", method.service, method.name);
            assert_eq!(lookup(&path).map(|m| m.name), Some(method.name));
        }
        assert!(lookup("/runtime.v1.RuntimeService/Nope").is_none());
        assert!(lookup("/other.Service/Version").is_none());
    }
}
