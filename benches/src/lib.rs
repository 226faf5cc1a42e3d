//! Realistic, deterministic CRI payloads for the benchmarks of this workspace.
//!
//! The kubelet calls the list and stats RPCs of the runtime every second on every node; these
//! generators build the responses a runtime sends back, the way containerd and CRI-O fill them
//! for pods that the kubelet created: 64-hex ids, the `io.kubernetes.*` labels and annotations
//! the kubelet sets, image references pinned by sha256 digest, nanosecond timestamps, and
//! cumulative CPU, memory and filesystem counters. A `ListContainersResponse` weighs about
//! 900 bytes per container in protobuf (10,000 containers: 9.1 MB), a `ListPodSandboxResponse`
//! about 750 per pod (one pod in eight carries kubectl's last-applied configuration), a
//! `ListContainerStatsResponse` about 800 per container, a `ListImagesResponse` about 300 per
//! image.
//!
//! Everything is derived from a fixed seed: the same `n` always gives the same value (and so
//! the same bytes), on every machine, without any random-number crate.
//!
//! ```
//! use prost::Message;
//!
//! let list = cri_benches::list_containers(1_000);
//! assert_eq!(list.containers.len(), 1_000);
//! assert_eq!(list, cri_benches::list_containers(1_000));
//! let per_container = list.encoded_len() / 1_000;
//! assert!((700..=950).contains(&per_container), "{per_container} bytes per container");
//! ```

use std::collections::BTreeMap;

use cri_api_v1 as v1;
use prost::Message;

/// The list sizes the benchmarks use: a busy node, and ten times more.
pub const SIZES: [usize; 2] = [1_000, 10_000];

/// 2025-11-01T00:00:00Z in nanoseconds: the time the generated node "booted".
const BOOT_NS: i64 = 1_761_955_200_000_000_000;

const NAMESPACES: [&str; 10] = [
    "default",
    "kube-system",
    "monitoring",
    "payments",
    "checkout",
    "ingress-nginx",
    "cert-manager",
    "logging",
    "search",
    "identity",
];

/// (application, image repository, tag, container port)
const APPS: [(&str, &str, &str, u16); 14] = [
    ("api-gateway", "ghcr.io/acme/api-gateway", "v2.14.3", 8080),
    (
        "web-frontend",
        "registry.example.com/shop/web",
        "2025.10.28-4f1c2e9",
        3000,
    ),
    (
        "orders-worker",
        "registry.example.com/shop/orders-worker",
        "1.9.0",
        9090,
    ),
    ("redis", "docker.io/library/redis", "7.4.1-alpine", 6379),
    ("postgres", "docker.io/library/postgres", "16.4", 5432),
    ("nginx", "docker.io/library/nginx", "1.27.3", 80),
    (
        "fluent-bit",
        "cr.fluentbit.io/fluent/fluent-bit",
        "3.1.9",
        2020,
    ),
    (
        "node-exporter",
        "quay.io/prometheus/node-exporter",
        "v1.8.2",
        9100,
    ),
    ("coredns", "registry.k8s.io/coredns/coredns", "v1.11.3", 53),
    ("kube-proxy", "registry.k8s.io/kube-proxy", "v1.34.1", 10256),
    ("envoy", "docker.io/envoyproxy/envoy", "v1.32.1", 10000),
    (
        "prometheus",
        "quay.io/prometheus/prometheus",
        "v2.55.0",
        9090,
    ),
    (
        "cert-manager-controller",
        "quay.io/jetstack/cert-manager-controller",
        "v1.16.1",
        9402,
    ),
    (
        "search-indexer",
        "ghcr.io/acme/search-indexer",
        "0.31.2",
        8081,
    ),
];

/// Sidecars that some pods carry beside their main container.
const SIDECARS: [(&str, &str, &str); 3] = [
    ("istio-proxy", "docker.io/istio/proxyv2", "1.23.2"),
    ("log-shipper", "cr.fluentbit.io/fluent/fluent-bit", "3.1.9"),
    (
        "config-reloader",
        "ghcr.io/jimmidyson/configmap-reload",
        "v0.13.1",
    ),
];

/// A small xorshift64* generator: deterministic, good enough to vary payloads, no dependency.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// A generator for stream `stream` (each kind of item has its own, so that one list does not
    /// shift when another changes).
    pub fn new(stream: u64) -> Self {
        Rng(0x9E37_79B9_7F4A_7C15 ^ stream.wrapping_mul(0xD1B5_4A32_D192_ED03) | 1)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// A number in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// `len` lowercase hex digits.
    pub fn hex(&mut self, len: usize) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(len);
        while out.len() < len {
            let mut bits = self.next_u64();
            for _ in 0..16.min(len - out.len()) {
                out.push(DIGITS[(bits & 15) as usize] as char);
                bits >>= 4;
            }
        }
        out
    }

    /// `len` characters of `[a-z0-9]` minus vowels, as Kubernetes uses in generated names.
    pub fn name_suffix(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        (0..len)
            .map(|_| ALPHABET[self.below(ALPHABET.len() as u64) as usize] as char)
            .collect()
    }

    /// A version 4 UUID, as the API server gives pods.
    pub fn uuid(&mut self) -> String {
        let h = self.hex(32);
        format!(
            "{}-{}-4{}-a{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[17..20],
            &h[20..32]
        )
    }
}

/// A pod of the generated node, as the kubelet knows it.
#[derive(Debug, Clone)]
struct Pod {
    sandbox_id: String,
    name: String,
    namespace: &'static str,
    uid: String,
    app: usize,
    template_hash: String,
    created_at: i64,
    /// Pods created with `kubectl apply` directly carry the whole applied object.
    last_applied: bool,
    attempt: u32,
}

impl Pod {
    fn new(rng: &mut Rng, index: usize) -> Pod {
        let app = rng.below(APPS.len() as u64) as usize;
        let template_hash = rng.name_suffix(10);
        let name = format!("{}-{}-{}", APPS[app].0, template_hash, rng.name_suffix(5));
        Pod {
            sandbox_id: rng.hex(64),
            name,
            namespace: NAMESPACES[rng.below(NAMESPACES.len() as u64) as usize],
            uid: rng.uuid(),
            app,
            template_hash,
            created_at: BOOT_NS + index as i64 * 1_700_000_000 + rng.below(1_000_000_000) as i64,
            last_applied: index % 8 == 3,
            attempt: (rng.below(10) == 0) as u32,
        }
    }

    /// The labels of the sandbox: the pod's own labels, and the kubelet's.
    fn sandbox_labels(&self) -> BTreeMap<String, String> {
        let app = APPS[self.app].0;
        map([
            ("app.kubernetes.io/name", app.to_string()),
            (
                "app.kubernetes.io/instance",
                format!("{app}-{}", self.namespace),
            ),
            ("app.kubernetes.io/part-of", self.namespace.to_string()),
            ("pod-template-hash", self.template_hash.clone()),
            ("io.kubernetes.pod.name", self.name.clone()),
            ("io.kubernetes.pod.namespace", self.namespace.to_string()),
            ("io.kubernetes.pod.uid", self.uid.clone()),
        ])
    }

    fn sandbox_annotations(&self) -> BTreeMap<String, String> {
        let mut annotations = map([
            ("kubernetes.io/config.seen", rfc3339(self.created_at)),
            ("kubernetes.io/config.source", "api".to_string()),
        ]);
        if self.last_applied {
            annotations.insert(
                "kubectl.kubernetes.io/last-applied-configuration".to_string(),
                self.last_applied_configuration(),
            );
        }
        annotations
    }

    /// What `kubectl apply` records: the whole object as the user wrote it (about 1.2 KB).
    fn last_applied_configuration(&self) -> String {
        let (app, repository, tag, port) = APPS[self.app];
        format!(
            concat!(
                r#"{{"apiVersion":"v1","kind":"Pod","metadata":{{"annotations":{{}},"#,
                r#""labels":{{"app.kubernetes.io/name":"{app}","app.kubernetes.io/part-of":"{ns}"}},"#,
                r#""name":"{name}","namespace":"{ns}"}},"spec":{{"containers":[{{"name":"{app}","#,
                r#""image":"{repository}:{tag}","imagePullPolicy":"IfNotPresent","#,
                r#""ports":[{{"containerPort":{port},"name":"http","protocol":"TCP"}}],"#,
                r#""env":[{{"name":"LOG_LEVEL","value":"info"}},{{"name":"GOMAXPROCS","value":"2"}},"#,
                r#"{{"name":"POD_NAME","valueFrom":{{"fieldRef":{{"fieldPath":"metadata.name"}}}}}}],"#,
                r#""resources":{{"limits":{{"cpu":"1","memory":"512Mi"}},"requests":{{"cpu":"250m","memory":"256Mi"}}}},"#,
                r#""livenessProbe":{{"httpGet":{{"path":"/healthz","port":{port}}},"initialDelaySeconds":10,"periodSeconds":10}},"#,
                r#""readinessProbe":{{"httpGet":{{"path":"/ready","port":{port}}},"periodSeconds":5}},"#,
                r#""securityContext":{{"allowPrivilegeEscalation":false,"readOnlyRootFilesystem":true,"#,
                r#""runAsNonRoot":true,"capabilities":{{"drop":["ALL"]}}}},"#,
                r#""volumeMounts":[{{"mountPath":"/etc/{app}","name":"config","readOnly":true}},"#,
                r#"{{"mountPath":"/tmp","name":"tmp"}}]}}],"serviceAccountName":"{app}","#,
                r#""terminationGracePeriodSeconds":30,"volumes":[{{"configMap":{{"name":"{app}-config"}},"name":"config"}},"#,
                r#"{{"emptyDir":{{}},"name":"tmp"}}]}}}}"#,
                "\n"
            ),
            app = app,
            ns = self.namespace,
            name = self.name,
            repository = repository,
            tag = tag,
            port = port,
        )
    }
}

/// A container of the generated node.
#[derive(Debug, Clone)]
struct Ctr {
    id: String,
    pod: usize,
    name: &'static str,
    repository: &'static str,
    tag: &'static str,
    /// sha256 of the image config (the image id) and of the manifest (the repo digest).
    image_id: String,
    manifest_digest: String,
    port: Option<u16>,
    hash: String,
    restart_count: u32,
    state: v1::ContainerState,
    created_at: i64,
}

/// A node with `containers` containers (one to three per pod, a pause sandbox each).
struct Node {
    pods: Vec<Pod>,
    containers: Vec<Ctr>,
}

impl Node {
    fn with_containers(containers: usize) -> Node {
        let mut rng = Rng::new(1);
        let mut node = Node {
            pods: Vec::new(),
            containers: Vec::with_capacity(containers),
        };
        while node.containers.len() < containers {
            let pod = Pod::new(&mut rng, node.pods.len());
            let pod_index = node.pods.len();
            let (app, repository, tag, port) = APPS[pod.app];
            let extra = match rng.below(10) {
                0..=5 => 0,
                6..=8 => 1,
                _ => 2,
            };
            for k in 0..=extra {
                if node.containers.len() == containers {
                    break;
                }
                let (name, repository, tag, port) = if k == 0 {
                    (app, repository, tag, Some(port))
                } else {
                    let (name, repository, tag) = SIDECARS[(pod.app + k) % SIDECARS.len()];
                    (name, repository, tag, None)
                };
                let restart_count = match rng.below(20) {
                    0 => 1 + rng.below(7) as u32,
                    _ => 0,
                };
                let state = match rng.below(25) {
                    0 => v1::ContainerState::ContainerExited,
                    1 if restart_count > 0 => v1::ContainerState::ContainerCreated,
                    _ => v1::ContainerState::ContainerRunning,
                };
                node.containers.push(Ctr {
                    id: rng.hex(64),
                    pod: pod_index,
                    name,
                    repository,
                    tag,
                    image_id: image_digest(repository, tag, 0),
                    manifest_digest: image_digest(repository, tag, 1),
                    port,
                    hash: rng.hex(8),
                    restart_count,
                    state,
                    created_at: pod.created_at + 900_000_000 + rng.below(400_000_000) as i64,
                });
            }
            node.pods.push(pod);
        }
        node
    }

    fn with_pods(pods: usize) -> Node {
        let mut rng = Rng::new(1);
        Node {
            pods: (0..pods).map(|i| Pod::new(&mut rng, i)).collect(),
            containers: Vec::new(),
        }
    }

    fn container_labels(&self, c: &Ctr) -> BTreeMap<String, String> {
        let pod = &self.pods[c.pod];
        map([
            ("io.kubernetes.container.name", c.name.to_string()),
            ("io.kubernetes.pod.name", pod.name.clone()),
            ("io.kubernetes.pod.namespace", pod.namespace.to_string()),
            ("io.kubernetes.pod.uid", pod.uid.clone()),
        ])
    }

    fn container_annotations(&self, c: &Ctr) -> BTreeMap<String, String> {
        let mut annotations = map([
            ("io.kubernetes.container.hash", c.hash.clone()),
            (
                "io.kubernetes.container.restartCount",
                c.restart_count.to_string(),
            ),
            (
                "io.kubernetes.container.terminationMessagePath",
                "/dev/termination-log".to_string(),
            ),
            (
                "io.kubernetes.container.terminationMessagePolicy",
                "File".to_string(),
            ),
            ("io.kubernetes.pod.terminationGracePeriod", "30".to_string()),
        ]);
        if let Some(port) = c.port {
            annotations.insert(
                "io.kubernetes.container.ports".to_string(),
                format!(r#"[{{"name":"http","containerPort":{port},"protocol":"TCP"}}]"#),
            );
        }
        annotations
    }

    fn metadata(c: &Ctr) -> v1::ContainerMetadata {
        v1::ContainerMetadata {
            name: c.name.to_string(),
            attempt: c.restart_count,
        }
    }
}

/// The sha256 digest of an image, stable per repository and tag (`salt` 0: the config, the
/// image id; 1: the manifest, the repo digest).
fn image_digest(repository: &str, tag: &str, salt: u64) -> String {
    let mut seed = salt.wrapping_add(0xcbf2_9ce4_8422_2325);
    for byte in repository.bytes().chain(tag.bytes()) {
        seed = (seed ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("sha256:{}", Rng::new(seed).hex(64))
}

fn map<const N: usize>(entries: [(&str, String); N]) -> BTreeMap<String, String> {
    entries
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// RFC 3339 with nanoseconds, as the kubelet writes `kubernetes.io/config.seen` (cri-log's
/// fixed-width UTC form).
fn rfc3339(ns: i64) -> String {
    cri_log::Timestamp::from_unix_nanos(i128::from(ns)).to_string()
}

/// `ListContainersResponse` of a node with `n` containers.
pub fn list_containers(n: usize) -> v1::ListContainersResponse {
    let node = Node::with_containers(n);
    let containers = node
        .containers
        .iter()
        .map(|c| {
            let reference = format!("{}:{}", c.repository, c.tag);
            v1::Container {
                id: c.id.clone(),
                pod_sandbox_id: node.pods[c.pod].sandbox_id.clone(),
                metadata: Some(Node::metadata(c)),
                image: Some(v1::ImageSpec {
                    image: reference,
                    ..Default::default()
                }),
                image_ref: format!("{}@{}", c.repository, c.manifest_digest),
                state: c.state as i32,
                created_at: c.created_at,
                labels: node.container_labels(c),
                annotations: node.container_annotations(c),
                image_id: c.image_id.clone(),
            }
        })
        .collect();
    v1::ListContainersResponse { containers }
}

/// `ListPodSandboxResponse` of a node with `n` pods.
pub fn list_pod_sandboxes(n: usize) -> v1::ListPodSandboxResponse {
    let node = Node::with_pods(n);
    let items = node
        .pods
        .iter()
        .map(|pod| v1::PodSandbox {
            id: pod.sandbox_id.clone(),
            metadata: Some(v1::PodSandboxMetadata {
                name: pod.name.clone(),
                uid: pod.uid.clone(),
                namespace: pod.namespace.to_string(),
                attempt: pod.attempt,
            }),
            state: v1::PodSandboxState::SandboxReady as i32,
            created_at: pod.created_at,
            labels: pod.sandbox_labels(),
            annotations: pod.sandbox_annotations(),
            runtime_handler: String::new(),
        })
        .collect();
    v1::ListPodSandboxResponse { items }
}

/// `ListContainerStatsResponse` of a node with `n` containers.
pub fn list_container_stats(n: usize) -> v1::ListContainerStatsResponse {
    let node = Node::with_containers(n);
    let mut rng = Rng::new(2);
    let now = BOOT_NS + 86_400 * 1_000_000_000;
    let value = |value: u64| Some(v1::UInt64Value { value });
    let stats = node
        .containers
        .iter()
        .map(|c| {
            let limit = 512 << 20;
            let working_set = (32 << 20) + rng.below(400 << 20);
            let cpu_ns = rng.below(80_000) * 1_000_000_000 + rng.below(1_000_000_000);
            v1::ContainerStats {
                attributes: Some(v1::ContainerAttributes {
                    id: c.id.clone(),
                    metadata: Some(Node::metadata(c)),
                    labels: node.container_labels(c),
                    annotations: node.container_annotations(c),
                }),
                cpu: Some(v1::CpuUsage {
                    timestamp: now + rng.below(1_000_000_000) as i64,
                    usage_core_nano_seconds: value(cpu_ns),
                    usage_nano_cores: value(rng.below(1_500_000_000)),
                    psi: None,
                }),
                memory: Some(v1::MemoryUsage {
                    timestamp: now + rng.below(1_000_000_000) as i64,
                    working_set_bytes: value(working_set),
                    available_bytes: value(limit - working_set),
                    usage_bytes: value(working_set + rng.below(64 << 20)),
                    rss_bytes: value(working_set * 3 / 4),
                    page_faults: value(rng.below(50_000_000)),
                    major_page_faults: value(rng.below(2_000)),
                    psi: None,
                }),
                writable_layer: Some(v1::FilesystemUsage {
                    timestamp: now + rng.below(1_000_000_000) as i64,
                    fs_id: Some(v1::FilesystemIdentifier {
                        mountpoint: "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs"
                            .to_string(),
                    }),
                    used_bytes: value(rng.below(200 << 20)),
                    inodes_used: value(rng.below(5_000)),
                }),
                swap: Some(v1::SwapUsage {
                    timestamp: now + rng.below(1_000_000_000) as i64,
                    swap_available_bytes: value(0),
                    swap_usage_bytes: value(0),
                }),
                io: None,
            }
        })
        .collect();
    v1::ListContainerStatsResponse { stats }
}

/// `ListImagesResponse` with `n` images (the applications' images in many versions).
pub fn list_images(n: usize) -> v1::ListImagesResponse {
    let mut rng = Rng::new(3);
    let images = (0..n)
        .map(|i| {
            let (app, repository, _, _) = APPS[i % APPS.len()];
            let tag = format!(
                "v{}.{}.{}",
                1 + i / 1_000,
                i / APPS.len() % 100,
                rng.below(10)
            );
            let id = image_digest(repository, &tag, 0);
            let pause = i == 0;
            let (repository, tag) = if pause {
                ("registry.k8s.io/pause", "3.10".to_string())
            } else {
                (repository, tag)
            };
            v1::Image {
                id: id.clone(),
                repo_tags: vec![format!("{repository}:{tag}")],
                repo_digests: vec![format!(
                    "{repository}@{}",
                    image_digest(repository, &tag, 1)
                )],
                size: (5 << 20) + rng.below(900 << 20),
                uid: (rng.below(3) == 0).then_some(v1::Int64Value { value: 65_532 }),
                username: if app == "postgres" {
                    "postgres".to_string()
                } else {
                    String::new()
                },
                spec: Some(v1::ImageSpec {
                    image: id,
                    ..Default::default()
                }),
                pinned: pause,
            }
        })
        .collect();
    v1::ListImagesResponse { images }
}

/// The same value in another message type with the same wire format (for example the
/// `v1alpha2` twin of a `v1` message): what an older runtime would have sent. Fields the other
/// type does not know are dropped, as its decoder drops them.
pub fn reencode<A: Message, B: Message + Default>(value: &A) -> B {
    B::decode(value.encode_to_vec().as_slice()).expect("the two messages share a wire format")
}

/// Every benchmarked message at size `n`, with its name: for the tables and the tests.
pub fn all(n: usize) -> [(&'static str, Vec<u8>); 4] {
    [
        ("ListContainersResponse", list_containers(n).encode_to_vec()),
        (
            "ListPodSandboxResponse",
            list_pod_sandboxes(n).encode_to_vec(),
        ),
        (
            "ListContainerStatsResponse",
            list_container_stats(n).encode_to_vec(),
        ),
        ("ListImagesResponse", list_images(n).encode_to_vec()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_are_realistic() {
        let n = 1_000;
        for (name, bytes) in all(n) {
            let per_item = bytes.len() / n;
            println!("{name}: {per_item} bytes per item");
            let expected = match name {
                "ListContainersResponse" => 700..=950,
                "ListPodSandboxResponse" => 400..=900,
                "ListContainerStatsResponse" => 600..=1_000,
                _ => 150..=400,
            };
            assert!(
                expected.contains(&per_item),
                "{name}: {per_item} bytes per item"
            );
        }
    }

    #[test]
    fn deterministic_and_distinct() {
        let a = list_containers(500);
        assert_eq!(a, list_containers(500));
        let ids: std::collections::BTreeSet<_> = a.containers.iter().map(|c| &c.id).collect();
        assert_eq!(ids.len(), 500);
        assert!(
            a.containers
                .iter()
                .all(|c| c.id.len() == 64 && c.pod_sandbox_id.len() == 64)
        );
    }

    #[test]
    fn v1alpha2_twins_decode() {
        let alpha: cri_api_v1alpha2::ListContainersResponse = reencode(&list_containers(10));
        assert_eq!(alpha.containers.len(), 10);
        assert_eq!(alpha.containers[3].labels.len(), 4);
    }

    #[test]
    fn timestamps_format() {
        assert_eq!(rfc3339(BOOT_NS), "2025-11-01T00:00:00.000000000Z");
        assert_eq!(
            rfc3339(951_782_400_000_000_007),
            "2000-02-29T00:00:00.000000007Z"
        );
    }
}
