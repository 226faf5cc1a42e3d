//! A CRI server that replays what containerd answered when the golden outputs of the Go crictl
//! were recorded (`../shared/crictl-golden/`): the responses are parsed back from crictl's own JSON.

#![allow(dead_code)]

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use cri_api_v1 as v1;
use serde_json::Value;
use tonic::Status;
use tonic::body::Body;
use tonic::server::NamedService;

/// The recorded outputs of the Go crictl: `crictl-golden/` in the shared directory beside the
/// project (`../shared`, or `$CRI_SHARED_DIR`), which CI provides. They stay there rather than
/// in this repository: they are another program's output, recorded once for these tests.
pub fn golden_dir() -> PathBuf {
    let shared = match std::env::var_os("CRI_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let dir = shared.join("crictl-golden");
    assert!(
        dir.join("out").is_dir(),
        "the recorded crictl outputs are missing: expected {} (the shared directory beside the \
         project, or set CRI_SHARED_DIR)",
        dir.display()
    );
    dir
}

pub fn read(name: &str) -> String {
    let path = golden_dir().join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

pub fn ids() -> HashMap<String, String> {
    read("ids.txt")
        .lines()
        .filter_map(|line| line.split_once(' '))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn json(name: &str) -> Value {
    serde_json::from_str(&read(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn parse<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> T {
    serde_json::from_value(value).unwrap_or_else(|e| panic!("{what}: {e}"))
}

/// Unix nanoseconds of an RFC 3339 time (`2026-11-23T20:12:52.662817807Z`), read with cri-log;
/// the zero Go time is 0.
fn nanos(text: &str) -> i64 {
    if text.starts_with("0001-") {
        return 0;
    }
    let at = cri_log::Timestamp::parse(text).unwrap_or_else(|e| panic!("{e}"));
    i64::try_from(at.unix_nanos()).unwrap_or_else(|_| panic!("{text}: beyond i64 nanoseconds"))
}

fn strip_nulls(value: &mut Value) {
    if let Value::Object(map) = value {
        map.retain(|_, v| !v.is_null());
        map.values_mut().for_each(strip_nulls);
    }
}

fn times_to_nanos(status: &mut Value, fields: &[&str]) {
    for field in fields {
        if let Some(Value::String(text)) = status.get(*field) {
            let n = nanos(text);
            status[*field] = Value::String(n.to_string());
        }
    }
}

/// The raw verbose info of an `inspect* -o table` output (`Info: map[info:RAW]`).
fn table_info(name: &str) -> HashMap<String, String> {
    let text = read(name);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("Info: map[info:"))
        .unwrap();
    HashMap::from([(
        "info".to_string(),
        line.strip_suffix(']').unwrap().to_string(),
    )])
}

/// The verbose info of a JSON document: every key but `status`, objects re-encoded.
fn document_info(document: &Value) -> HashMap<String, String> {
    document
        .as_object()
        .unwrap()
        .iter()
        .filter(|(k, _)| k.as_str() != "status")
        .map(|(k, v)| {
            let raw = match v {
                Value::String(s) => s.clone(),
                other => serde_json::to_string(other).unwrap(),
            };
            (k.clone(), raw)
        })
        .collect()
}

/// What the runtime answered.
pub struct Replay {
    version: v1::VersionResponse,
    status: v1::StatusResponse,
    pods: Vec<v1::PodSandbox>,
    containers: Vec<v1::Container>,
    images: Vec<v1::Image>,
    container_status: HashMap<String, v1::ContainerStatusResponse>,
    pod_status: HashMap<String, v1::PodSandboxStatusResponse>,
    image_status: HashMap<String, v1::ImageStatusResponse>,
    fs_info: v1::ImageFsInfoResponse,
    container_stats: Vec<v1::ContainerStats>,
    pod_stats: Vec<v1::PodSandboxStats>,
    stats_calls: AtomicUsize,
    pod_stats_calls: AtomicUsize,
}

fn container_status(
    document: &Value,
    info: HashMap<String, String>,
) -> v1::ContainerStatusResponse {
    let mut status = document["status"].clone();
    strip_nulls(&mut status);
    times_to_nanos(&mut status, &["createdAt", "startedAt", "finishedAt"]);
    v1::ContainerStatusResponse {
        status: Some(parse(status, "container status")),
        info: info.into_iter().collect(),
    }
}

fn pod_status(document: &Value, info: HashMap<String, String>) -> v1::PodSandboxStatusResponse {
    let mut status = document["status"].clone();
    strip_nulls(&mut status);
    times_to_nanos(&mut status, &["createdAt"]);
    v1::PodSandboxStatusResponse {
        status: Some(parse(status, "pod status")),
        info: info.into_iter().collect(),
        ..Default::default()
    }
}

impl Replay {
    /// The runtime state of the golden outputs.
    pub fn golden() -> Replay {
        let ids = ids();
        let version_text = read("out/version.out");
        let field = |name: &str| {
            version_text
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{name}:  ")))
                .unwrap()
                .to_string()
        };
        let version = v1::VersionResponse {
            version: field("Version"),
            runtime_name: field("RuntimeName"),
            runtime_version: field("RuntimeVersion"),
            runtime_api_version: field("RuntimeApiVersion"),
        };
        let info = json("out/info_json.out");
        let status = v1::StatusResponse {
            status: Some(parse(info["status"].clone(), "runtime status")),
            info: document_info(&info).into_iter().collect(),
            ..Default::default()
        };
        let mut pods: v1::ListPodSandboxResponse = parse(json("out/pods_json.out"), "pods");
        let mut containers: v1::ListContainersResponse =
            parse(json("out/ps_json.out"), "containers");
        let images: v1::ListImagesResponse = parse(json("out/images_json.out"), "images");
        // A runtime answers in its own order: crictl sorts.
        pods.items.reverse();
        containers.containers.reverse();
        let mut container_statuses = HashMap::new();
        container_statuses.insert(
            ids["ctr_app"].clone(),
            container_status(
                &json("out/inspect_json.out"),
                table_info("out/inspect_table.out"),
            ),
        );
        let exited = json("out/inspect_exited.out");
        container_statuses.insert(
            ids["ctr_job"].clone(),
            container_status(&exited, document_info(&exited)),
        );
        let mut pod_statuses = HashMap::new();
        pod_statuses.insert(
            ids["pod_web"].clone(),
            pod_status(
                &json("out/inspectp_json.out"),
                table_info("out/inspectp_table.out"),
            ),
        );
        let stopped = json("out/inspectp_stopped.out");
        pod_statuses.insert(
            ids["pod_batch"].clone(),
            pod_status(&stopped, document_info(&stopped)),
        );
        let inspecti = json("out/inspecti_json.out");
        let image: v1::Image = parse(inspecti["status"].clone(), "image");
        let image_response = v1::ImageStatusResponse {
            image: Some(image.clone()),
            info: table_info("out/inspecti_table.out").into_iter().collect(),
        };
        let mut image_status = HashMap::new();
        for name in image.repo_tags.iter().chain([&image.id]) {
            image_status.insert(name.clone(), image_response.clone());
        }
        let mut container_stats: v1::ListContainerStatsResponse =
            parse(json("out/stats_json.out"), "stats");
        container_stats.stats.reverse();
        let fs_info: v1::ImageFsInfoResponse = parse(
            json("out/imagefsinfo_json.out")["status"].clone(),
            "fs info",
        );
        let pod_stats: v1::ListPodSandboxStatsResponse =
            parse(json("out/statsp_json.out"), "pod stats");
        Replay {
            version,
            status,
            pods: pods.items,
            containers: containers.containers,
            images: images.images,
            container_status: container_statuses,
            pod_status: pod_statuses,
            image_status,
            fs_info,
            container_stats: container_stats.stats,
            pod_stats: pod_stats.stats,
            stats_calls: AtomicUsize::new(0),
            pod_stats_calls: AtomicUsize::new(0),
        }
    }

    /// The state as it was when the golden output `name` was recorded: stats and filesystem
    /// timestamps changed between runs, so they come from that output itself.
    pub fn for_case(name: &str) -> Replay {
        let mut replay = Replay::golden();
        let document = |name: &str| -> Value {
            let text = read(&format!("out/{name}.out"));
            if name.ends_with("_yaml") {
                serde_yaml::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
            } else {
                serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"))
            }
        };
        let structured = name.ends_with("_json") || name.ends_with("_yaml");
        if name.starts_with("stats_") && structured {
            replay.container_stats =
                parse::<v1::ListContainerStatsResponse>(document(name), name).stats;
            replay.container_stats.reverse();
        }
        if name.starts_with("statsp_") && structured {
            replay.pod_stats = parse::<v1::ListPodSandboxStatsResponse>(document(name), name).stats;
        }
        if name.starts_with("imagefsinfo_") {
            if structured {
                replay.fs_info = parse(document(name)["status"].clone(), name);
            } else {
                let text = read(&format!("out/{name}.out"));
                let stamp = text
                    .lines()
                    .find_map(|l| l.strip_prefix("TimeStamp[0]: "))
                    .unwrap();
                replay.fs_info.image_filesystems[0].timestamp = stamp.parse().unwrap();
            }
        }
        replay
    }

    /// Points the log of container `id` at `path`.
    pub fn with_log_path(mut self, id: &str, path: &Path) -> Replay {
        let status = self
            .container_status
            .get_mut(id)
            .unwrap()
            .status
            .as_mut()
            .unwrap();
        status.log_path = path.to_str().unwrap().to_string();
        self
    }

    async fn handle(self: Arc<Self>, request: http::Request<Body>) -> http::Response<Body> {
        let path = request.uri().path().to_string();
        let method = path.rsplit('/').next().unwrap_or("").to_string();
        let me = self.clone();
        match method.as_str() {
            "Version" => unary(request, move |_: v1::VersionRequest| Ok(me.version.clone())).await,
            "Status" => unary(request, move |_: v1::StatusRequest| Ok(me.status.clone())).await,
            "ListPodSandbox" => {
                unary(request, move |_: v1::ListPodSandboxRequest| {
                    Ok(v1::ListPodSandboxResponse {
                        items: me.pods.clone(),
                    })
                })
                .await
            }
            "ListContainers" => {
                unary(request, move |r: v1::ListContainersRequest| {
                    let state = r.filter.and_then(|f| f.state).map(|s| s.state);
                    let containers = me
                        .containers
                        .iter()
                        .filter(|c| state.is_none_or(|s| s == c.state))
                        .cloned()
                        .collect();
                    Ok(v1::ListContainersResponse { containers })
                })
                .await
            }
            "ListImages" => {
                unary(request, move |_: v1::ListImagesRequest| {
                    Ok(v1::ListImagesResponse {
                        images: me.images.clone(),
                    })
                })
                .await
            }
            "ContainerStatus" => {
                unary(request, move |r: v1::ContainerStatusRequest| {
                    me.container_status
                        .get(&r.container_id)
                        .cloned()
                        .ok_or_else(|| {
                            Status::not_found(format!(
                                "an error occurred when try to find container {:?}: not found",
                                r.container_id
                            ))
                        })
                })
                .await
            }
            "PodSandboxStatus" => {
                unary(request, move |r: v1::PodSandboxStatusRequest| {
                    me.pod_status
                        .get(&r.pod_sandbox_id)
                        .cloned()
                        .ok_or_else(|| Status::not_found("not found"))
                })
                .await
            }
            "ImageStatus" => {
                unary(request, move |r: v1::ImageStatusRequest| {
                    let name = r.image.map(|i| i.image).unwrap_or_default();
                    Ok(me.image_status.get(&name).cloned().unwrap_or_default())
                })
                .await
            }
            "ImageFsInfo" => {
                unary(request, move |_: v1::ImageFsInfoRequest| {
                    Ok(me.fs_info.clone())
                })
                .await
            }
            "ListContainerStats" => {
                unary(request, move |_: v1::ListContainerStatsRequest| {
                    // Later samples are taken a second later with the same usage.
                    let call = me.stats_calls.fetch_add(1, Ordering::SeqCst) as i64;
                    let mut stats = me.container_stats.clone();
                    for s in &mut stats {
                        if let Some(cpu) = &mut s.cpu {
                            cpu.timestamp += call * 1_000_000_000;
                        }
                    }
                    Ok(v1::ListContainerStatsResponse { stats })
                })
                .await
            }
            "ListPodSandboxStats" => {
                unary(request, move |_: v1::ListPodSandboxStatsRequest| {
                    let call = me.pod_stats_calls.fetch_add(1, Ordering::SeqCst) as i64;
                    let mut stats = me.pod_stats.clone();
                    for s in &mut stats {
                        if let Some(cpu) = s.linux.as_mut().and_then(|l| l.cpu.as_mut()) {
                            cpu.timestamp += call * 1_000_000_000;
                        }
                    }
                    Ok(v1::ListPodSandboxStatsResponse { stats })
                })
                .await
            }
            _ => Status::unimplemented(format!("unknown method {method} for service")).into_http(),
        }
    }
}

struct Once<F>(Option<F>);

impl<Q, R, F> tonic::server::UnaryService<Q> for Once<F>
where
    F: FnOnce(Q) -> Result<R, Status>,
{
    type Response = R;
    type Future = std::future::Ready<Result<tonic::Response<R>, Status>>;
    fn call(&mut self, request: tonic::Request<Q>) -> Self::Future {
        let f = self.0.take().expect("called once");
        std::future::ready(f(request.into_inner()).map(tonic::Response::new))
    }
}

async fn unary<Q, R, F>(request: http::Request<Body>, f: F) -> http::Response<Body>
where
    Q: prost::Message + Default + Send + 'static,
    R: prost::Message + Send + 'static,
    F: FnOnce(Q) -> Result<R, Status>,
{
    let mut grpc = tonic::server::Grpc::new(tonic_prost::ProstCodec::<R, Q>::default());
    grpc.unary(Once(Some(f)), request).await
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send>>;

macro_rules! service {
    ($name:ident, $service:literal) => {
        #[derive(Clone)]
        pub struct $name(pub Arc<Replay>);
        impl NamedService for $name {
            const NAME: &'static str = $service;
        }
        impl tower::Service<http::Request<Body>> for $name {
            type Response = http::Response<Body>;
            type Error = Infallible;
            type Future = BoxFuture<Result<Self::Response, Infallible>>;
            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }
            fn call(&mut self, request: http::Request<Body>) -> Self::Future {
                let replay = self.0.clone();
                Box::pin(async move { Ok(replay.handle(request).await) })
            }
        }
    };
}

service!(RuntimeService, "runtime.v1.RuntimeService");
service!(ImageService, "runtime.v1.ImageService");

/// Serves `replay` on a Unix socket at `path` on the current tokio runtime.
pub async fn serve(replay: Replay, path: &Path) {
    let replay = Arc::new(replay);
    let listener = tokio::net::UnixListener::bind(path).unwrap();
    let incoming = tokio_stream::wrappers::UnixListenerStream::new(listener);
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RuntimeService(replay.clone()))
            .add_service(ImageService(replay))
            .serve_with_incoming(incoming),
    );
}
