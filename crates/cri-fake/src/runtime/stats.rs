//! Statistics and metrics of containers and pods (computed from the ids and the running
//! time, so that repeated calls give plausible, increasing counters), and the metric
//! descriptors.

use cri_api_v1 as api;
use tonic::codegen::BoxStream;
use tonic::{Request, Response};

use super::{Reply, pages};
use crate::state::{self, Pod, id_matches, resolve};
use crate::{FakeRuntime, labels_match};

impl FakeRuntime {
    fn list_ctr_stats(
        &self,
        filter: Option<api::ContainerStatsFilter>,
    ) -> Vec<api::ContainerStats> {
        let filter = filter.unwrap_or_default();
        let at = state::now();
        let state = self.read();
        state
            .containers
            .values()
            .filter(|c| {
                id_matches(&c.id, &filter.id)
                    && id_matches(&c.pod_id, &filter.pod_sandbox_id)
                    && labels_match(&c.config.labels, &filter.label_selector)
            })
            .map(|c| c.stats(at))
            .collect()
    }

    fn pod_stats_of(&self, state: &state::State, pod: &Pod, at: i64) -> api::PodSandboxStats {
        let containers: Vec<api::ContainerStats> =
            state.containers_of(&pod.id).map(|c| c.stats(at)).collect();
        let sum = |get: fn(&api::ContainerStats) -> Option<u64>| -> Option<api::UInt64Value> {
            Some(api::UInt64Value {
                value: containers.iter().filter_map(get).sum(),
            })
        };
        let running = containers.len() as u64;
        api::PodSandboxStats {
            attributes: Some(api::PodSandboxAttributes {
                id: pod.id.clone(),
                metadata: pod.metadata(),
                labels: pod.config.labels.clone(),
                annotations: pod.config.annotations.clone(),
            }),
            linux: Some(api::LinuxPodSandboxStats {
                cpu: Some(api::CpuUsage {
                    timestamp: at,
                    usage_core_nano_seconds: sum(|s| {
                        s.cpu.as_ref()?.usage_core_nano_seconds.map(|v| v.value)
                    }),
                    usage_nano_cores: sum(|s| s.cpu.as_ref()?.usage_nano_cores.map(|v| v.value)),
                    psi: None,
                }),
                memory: Some(api::MemoryUsage {
                    timestamp: at,
                    working_set_bytes: sum(|s| {
                        s.memory.as_ref()?.working_set_bytes.map(|v| v.value)
                    }),
                    usage_bytes: sum(|s| s.memory.as_ref()?.usage_bytes.map(|v| v.value)),
                    ..Default::default()
                }),
                network: Some(api::NetworkUsage {
                    timestamp: at,
                    default_interface: Some(api::NetworkInterfaceUsage {
                        name: "eth0".into(),
                        rx_bytes: Some(api::UInt64Value {
                            value: 1_500 * running,
                        }),
                        rx_errors: Some(api::UInt64Value { value: 0 }),
                        tx_bytes: Some(api::UInt64Value {
                            value: 900 * running,
                        }),
                        tx_errors: Some(api::UInt64Value { value: 0 }),
                    }),
                    interfaces: Vec::new(),
                }),
                process: Some(api::ProcessUsage {
                    timestamp: at,
                    process_count: Some(api::UInt64Value { value: running + 1 }),
                }),
                containers,
                io: None,
            }),
            windows: None,
        }
    }

    fn list_pod_stats(
        &self,
        filter: Option<api::PodSandboxStatsFilter>,
    ) -> Vec<api::PodSandboxStats> {
        let filter = filter.unwrap_or_default();
        let at = state::now();
        let state = self.read();
        state
            .pods
            .values()
            .filter(|p| {
                id_matches(&p.id, &filter.id)
                    && labels_match(&p.config.labels, &filter.label_selector)
            })
            .map(|p| self.pod_stats_of(&state, p, at))
            .collect()
    }

    fn pod_metrics(&self) -> Vec<api::PodSandboxMetrics> {
        let at = state::now();
        let state = self.read();
        let metric = |name: &str, labels: Vec<String>, value: u64| api::Metric {
            name: name.into(),
            timestamp: at,
            metric_type: api::MetricType::Counter as i32,
            label_values: labels,
            value: Some(api::UInt64Value { value }),
        };
        state
            .pods
            .values()
            .map(|pod| api::PodSandboxMetrics {
                pod_sandbox_id: pod.id.clone(),
                metrics: vec![metric(
                    "container_network_receive_bytes_total",
                    vec!["eth0".into()],
                    1_500 * state.containers_of(&pod.id).count() as u64,
                )],
                container_metrics: state
                    .containers_of(&pod.id)
                    .map(|c| api::ContainerMetrics {
                        container_id: c.id.clone(),
                        metrics: vec![metric(
                            "container_cpu_usage_seconds_total",
                            vec![c.metadata().map(|m| m.name).unwrap_or_default()],
                            c.stats(at)
                                .cpu
                                .and_then(|cpu| cpu.usage_core_nano_seconds)
                                .map_or(0, |v| v.value / 1_000_000_000),
                        )],
                    })
                    .collect(),
            })
            .collect()
    }
}

pub(super) async fn container(
    rt: &FakeRuntime,
    request: Request<api::ContainerStatsRequest>,
) -> Reply<api::ContainerStatsResponse> {
    let request = request.into_inner();
    let state = rt.read();
    let id = resolve(&state.containers, &request.container_id, "container")?;
    Ok(Response::new(api::ContainerStatsResponse {
        stats: Some(state.containers[id].stats(state::now())),
    }))
}

pub(super) async fn list_containers(
    rt: &FakeRuntime,
    request: Request<api::ListContainerStatsRequest>,
) -> Reply<api::ListContainerStatsResponse> {
    Ok(Response::new(api::ListContainerStatsResponse {
        stats: rt.list_ctr_stats(request.into_inner().filter),
    }))
}

pub(super) async fn stream_containers(
    rt: &FakeRuntime,
    request: Request<api::StreamContainerStatsRequest>,
) -> Reply<BoxStream<api::StreamContainerStatsResponse>> {
    rt.check_streaming("StreamContainerStats", "RuntimeService")?;
    let items = rt.list_ctr_stats(request.into_inner().filter);
    Ok(Response::new(pages(
        items,
        rt.page_size(),
        |container_stats| api::StreamContainerStatsResponse { container_stats },
    )))
}

pub(super) async fn pod(
    rt: &FakeRuntime,
    request: Request<api::PodSandboxStatsRequest>,
) -> Reply<api::PodSandboxStatsResponse> {
    let request = request.into_inner();
    let state = rt.read();
    let id = resolve(&state.pods, &request.pod_sandbox_id, "pod sandbox")?;
    Ok(Response::new(api::PodSandboxStatsResponse {
        stats: Some(rt.pod_stats_of(&state, &state.pods[id], state::now())),
    }))
}

pub(super) async fn list_pods(
    rt: &FakeRuntime,
    request: Request<api::ListPodSandboxStatsRequest>,
) -> Reply<api::ListPodSandboxStatsResponse> {
    Ok(Response::new(api::ListPodSandboxStatsResponse {
        stats: rt.list_pod_stats(request.into_inner().filter),
    }))
}

pub(super) async fn stream_pods(
    rt: &FakeRuntime,
    request: Request<api::StreamPodSandboxStatsRequest>,
) -> Reply<BoxStream<api::StreamPodSandboxStatsResponse>> {
    rt.check_streaming("StreamPodSandboxStats", "RuntimeService")?;
    let items = rt.list_pod_stats(request.into_inner().filter);
    Ok(Response::new(pages(
        items,
        rt.page_size(),
        |pod_sandbox_stats| api::StreamPodSandboxStatsResponse { pod_sandbox_stats },
    )))
}

pub(super) async fn metric_descriptors(
    _: Request<api::ListMetricDescriptorsRequest>,
) -> Reply<api::ListMetricDescriptorsResponse> {
    let descriptor = |name: &str, help: &str, labels: &[&str]| api::MetricDescriptor {
        name: name.into(),
        help: help.into(),
        label_keys: labels.iter().map(|l| l.to_string()).collect(),
    };
    Ok(Response::new(api::ListMetricDescriptorsResponse {
        descriptors: vec![
            descriptor(
                "container_cpu_usage_seconds_total",
                "Cumulative cpu time consumed in seconds.",
                &["container"],
            ),
            descriptor(
                "container_network_receive_bytes_total",
                "Cumulative count of bytes received.",
                &["interface"],
            ),
        ],
    }))
}

pub(super) async fn list_pod_metrics(
    rt: &FakeRuntime,
    _: Request<api::ListPodSandboxMetricsRequest>,
) -> Reply<api::ListPodSandboxMetricsResponse> {
    Ok(Response::new(api::ListPodSandboxMetricsResponse {
        pod_metrics: rt.pod_metrics(),
    }))
}

pub(super) async fn stream_pod_metrics(
    rt: &FakeRuntime,
    _: Request<api::StreamPodSandboxMetricsRequest>,
) -> Reply<BoxStream<api::StreamPodSandboxMetricsResponse>> {
    rt.check_streaming("StreamPodSandboxMetrics", "RuntimeService")?;
    Ok(Response::new(pages(
        rt.pod_metrics(),
        rt.page_size(),
        |pod_sandbox_metrics| api::StreamPodSandboxMetricsResponse {
            pod_sandbox_metrics,
        },
    )))
}
