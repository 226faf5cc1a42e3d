//! What the suite is pointed at and the knobs of its specs.

use std::time::Duration;

/// The image critest runs its containers from (a busybox with `sh`).
pub const DEFAULT_TEST_IMAGE: &str = "registry.k8s.io/e2e-test-images/busybox:1.36.1-1";

/// Where the runtime is and how the specs behave.
#[derive(Debug, Clone)]
pub struct Config {
    /// The runtime endpoint (`unix:///run/containerd/containerd.sock`, `tcp://…`).
    pub runtime_endpoint: String,
    /// A separate image endpoint, if any.
    pub image_endpoint: Option<String>,
    /// The image containers run from: it needs `sh`, `echo`, `printf`, `sleep`, `cat`.
    pub test_image: String,
    /// The images the image specs pull and remove, one per spec (no container uses them).
    pub pull_images: Vec<String>,
    /// Pods use the node's network namespace (for runtimes without a CNI plugin).
    pub host_network: bool,
    /// The pods' `linux.cgroup_parent`, if any (containerd needs one for pod stats).
    pub cgroup_parent: Option<String>,
    /// How many containers the large-list spec creates.
    pub large_list_containers: usize,
    /// The annotation bytes each of them carries.
    pub large_list_item_bytes: usize,
    /// The short deadline the deadline specs give each call.
    pub short_deadline: Duration,
    /// How long after a missed deadline a call may still take effect before it counts as
    /// half-made state.
    pub settle: Duration,
}

impl Config {
    /// Defaults for the runtime at `runtime_endpoint`.
    pub fn new(runtime_endpoint: impl Into<String>) -> Self {
        Config {
            runtime_endpoint: runtime_endpoint.into(),
            image_endpoint: None,
            test_image: DEFAULT_TEST_IMAGE.to_owned(),
            pull_images: vec![
                "registry.k8s.io/e2e-test-images/nginx:1.14-4".to_owned(),
                "registry.k8s.io/e2e-test-images/httpd:2.4.39-4".to_owned(),
                "registry.k8s.io/e2e-test-images/agnhost:2.53".to_owned(),
            ],
            host_network: false,
            cgroup_parent: None,
            // 120 × 144 KiB = 17.3 MB: past the 16 MiB message limit, and pages of up to 100
            // items stay under it.
            large_list_containers: 120,
            large_list_item_bytes: 144 * 1024,
            short_deadline: Duration::from_millis(1),
            settle: Duration::from_millis(1500),
        }
    }
}
