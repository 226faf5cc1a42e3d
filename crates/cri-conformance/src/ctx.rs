//! What a spec's body gets: the client, the configuration and helpers that remember what
//! they created, so that the runner removes it whatever the spec's outcome.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use cri_api_v1 as v1;
use cri_client::Client;

use crate::Config;

/// The label every object of the suite carries, with the spec's own value.
pub const SPEC_LABEL: &str = "cri-conformance.spec";

/// A spec's context (cheap to clone).
#[derive(Clone)]
pub struct Ctx {
    client: Arc<Client>,
    config: Arc<Config>,
    spec: String,
    created: Arc<Mutex<Created>>,
}

#[derive(Default)]
struct Created {
    pods: Vec<String>,
    images: Vec<String>,
    log_dirs: Vec<std::path::PathBuf>,
}

static SEQUENCE: AtomicU64 = AtomicU64::new(0);

impl Ctx {
    pub(crate) fn new(client: Arc<Client>, config: Arc<Config>, spec: &str) -> Self {
        Ctx {
            client,
            config,
            spec: spec.replace("::", "."),
            created: Arc::default(),
        }
    }

    /// The client (unary lists, no list streaming).
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// A name unique to this run: `prefix-<pid>-<n>-<time>`.
    pub fn unique(&self, prefix: &str) -> String {
        let n = SEQUENCE.fetch_add(1, Ordering::Relaxed);
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        format!("{prefix}-{}-{n}-{nanos:x}", std::process::id())
    }

    /// The value of [`SPEC_LABEL`] on this spec's objects.
    pub fn label_value(&self) -> String {
        self.spec.replace([':', '_'], "-")
    }

    /// A pod config carrying the spec's label, with a log directory under the system's temp
    /// directory.
    pub fn pod_config(&self, name: &str) -> v1::PodSandboxConfig {
        let name = self.unique(name);
        let mut linux = v1::LinuxPodSandboxConfig {
            cgroup_parent: self.config.cgroup_parent.clone().unwrap_or_default(),
            ..Default::default()
        };
        if self.config.host_network {
            linux.security_context = Some(v1::LinuxSandboxSecurityContext {
                namespace_options: Some(v1::NamespaceOption {
                    network: v1::NamespaceMode::Node as i32,
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        v1::PodSandboxConfig {
            metadata: Some(v1::PodSandboxMetadata {
                uid: self.unique("uid"),
                name,
                namespace: "cri-conformance".into(),
                attempt: 0,
            }),
            labels: [(SPEC_LABEL.to_owned(), self.label_value())].into(),
            log_directory: std::env::temp_dir()
                .join(self.unique("cri-conformance-logs"))
                .display()
                .to_string(),
            linux: Some(linux),
            ..Default::default()
        }
    }

    /// Runs a pod (removed after the spec) and returns its id.
    pub async fn run_pod(&self, config: &v1::PodSandboxConfig) -> anyhow::Result<String> {
        self.prepare_log_dir(config)?;
        let id = self
            .client
            .run_pod_sandbox(v1::RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .context("RunPodSandbox")?
            .pod_sandbox_id;
        if id.is_empty() {
            bail!("RunPodSandbox answered an empty pod id");
        }
        self.remember_pod(&id);
        Ok(id)
    }

    /// Creates the pod's log directory (removed after the spec) unless it exists.
    pub fn prepare_log_dir(&self, config: &v1::PodSandboxConfig) -> anyhow::Result<()> {
        if config.log_directory.is_empty() {
            return Ok(());
        }
        let dir = std::path::PathBuf::from(&config.log_directory);
        if !dir.exists() {
            std::fs::create_dir_all(&dir)
                .with_context(|| format!("creating log directory {}", dir.display()))?;
            if let Ok(mut created) = self.created.lock() {
                created.log_dirs.push(dir);
            }
        }
        Ok(())
    }

    /// Remembers a pod to remove after the spec.
    pub fn remember_pod(&self, id: &str) {
        if let Ok(mut created) = self.created.lock() {
            created.pods.push(id.to_owned());
        }
    }

    /// Remembers an image to remove after the spec.
    pub fn remember_image(&self, reference: &str) {
        if let Ok(mut created) = self.created.lock() {
            created.images.push(reference.to_owned());
        }
    }

    /// A container config running `command` from the test image, logging to `<name>.log`.
    pub fn container_config(&self, name: &str, command: &[&str]) -> v1::ContainerConfig {
        let name = self.unique(name);
        v1::ContainerConfig {
            log_path: format!("{name}.log"),
            metadata: Some(v1::ContainerMetadata { name, attempt: 0 }),
            image: Some(v1::ImageSpec {
                image: self.config.test_image.clone(),
                ..Default::default()
            }),
            command: command.iter().map(|s| (*s).to_owned()).collect(),
            labels: [(SPEC_LABEL.to_owned(), self.label_value())].into(),
            linux: Some(v1::LinuxContainerConfig::default()),
            ..Default::default()
        }
    }

    /// Makes sure the test image is present (pulls it when it is not).
    pub async fn ensure_test_image(&self) -> anyhow::Result<()> {
        let spec = v1::ImageSpec {
            image: self.config.test_image.clone(),
            ..Default::default()
        };
        let status = self
            .client
            .image_status(v1::ImageStatusRequest {
                image: Some(spec.clone()),
                verbose: false,
            })
            .await
            .context("ImageStatus of the test image")?;
        if status.image.is_none() {
            self.client
                .pull_image(v1::PullImageRequest {
                    image: Some(spec),
                    ..Default::default()
                })
                .await
                .with_context(|| format!("pulling the test image {}", self.config.test_image))?;
        }
        Ok(())
    }

    /// Creates a container in `pod` and returns its id.
    pub async fn create_container(
        &self,
        pod: &str,
        pod_config: &v1::PodSandboxConfig,
        config: v1::ContainerConfig,
    ) -> anyhow::Result<String> {
        self.ensure_test_image().await?;
        let id = self
            .client
            .create_container(v1::CreateContainerRequest {
                pod_sandbox_id: pod.to_owned(),
                config: Some(config),
                sandbox_config: Some(pod_config.clone()),
            })
            .await
            .context("CreateContainer")?
            .container_id;
        if id.is_empty() {
            bail!("CreateContainer answered an empty container id");
        }
        Ok(id)
    }

    /// A pod with one started container running `command`: (pod id, pod config, container id).
    pub async fn pod_with_container(
        &self,
        command: &[&str],
    ) -> anyhow::Result<(String, v1::PodSandboxConfig, String)> {
        let pod_config = self.pod_config("pod");
        let pod = self.run_pod(&pod_config).await?;
        let config = self.container_config("ctr", command);
        let id = self.create_container(&pod, &pod_config, config).await?;
        self.client
            .start_container(v1::StartContainerRequest {
                container_id: id.clone(),
            })
            .await
            .context("StartContainer")?;
        Ok((pod, pod_config, id))
    }

    /// The status of a container.
    pub async fn container_status(&self, id: &str) -> anyhow::Result<v1::ContainerStatus> {
        self.client
            .container_status(v1::ContainerStatusRequest {
                container_id: id.to_owned(),
                verbose: false,
            })
            .await
            .context("ContainerStatus")?
            .status
            .context("ContainerStatus answered no status")
    }

    /// Polls the container's state every 50 ms until it is `want`, for at most `within`.
    pub async fn wait_container_state(
        &self,
        id: &str,
        want: v1::ContainerState,
        within: Duration,
    ) -> anyhow::Result<v1::ContainerStatus> {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let status = self.container_status(id).await?;
            if status.state() == want {
                return Ok(status);
            }
            if tokio::time::Instant::now() >= deadline {
                bail!(
                    "container {id} is {:?}, not {want:?}, after {within:?}",
                    status.state()
                );
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Removes what the spec created: every remembered pod (stopped first) and image. Errors
    /// are collected, not raised early; NOT_FOUND is no error here (the spec may have removed
    /// it already, and the kubelet treats it the same way).
    pub(crate) async fn cleanup(&self) -> Vec<String> {
        let created = match self.created.lock() {
            Ok(mut created) => std::mem::take(&mut *created),
            Err(_) => return vec!["cleanup: the spec's record is poisoned".into()],
        };
        let mut errors = Vec::new();
        for pod in created.pods {
            let stop = v1::StopPodSandboxRequest {
                pod_sandbox_id: pod.clone(),
            };
            if let Err(e) = ignore_not_found(self.client.stop_pod_sandbox(stop).await) {
                errors.push(format!("cleanup: StopPodSandbox {pod}: {e}"));
            }
            let remove = v1::RemovePodSandboxRequest {
                pod_sandbox_id: pod.clone(),
            };
            if let Err(e) = ignore_not_found(self.client.remove_pod_sandbox(remove).await) {
                errors.push(format!("cleanup: RemovePodSandbox {pod}: {e}"));
            }
        }
        for dir in created.log_dirs {
            match std::fs::remove_dir_all(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    errors.push(format!("cleanup: removing {}: {e}", dir.display()))
                }
                _ => {}
            }
        }
        for image in created.images {
            let remove = v1::RemoveImageRequest {
                image: Some(v1::ImageSpec {
                    image: image.clone(),
                    ..Default::default()
                }),
            };
            if let Err(e) = ignore_not_found(self.client.remove_image(remove).await) {
                errors.push(format!("cleanup: RemoveImage {image}: {e}"));
            }
        }
        errors
    }
}

/// The gRPC code of an error made by [`cri_client`] or tonic, wherever it is in the chain.
pub fn code_of(e: &anyhow::Error) -> Option<tonic::Code> {
    e.chain().find_map(|cause| {
        if let Some(e) = cause.downcast_ref::<cri_client::Error>() {
            e.code()
        } else {
            cause.downcast_ref::<tonic::Status>().map(|s| s.code())
        }
    })
}

fn ignore_not_found<T>(result: Result<T, cri_client::Error>) -> Result<(), cri_client::Error> {
    match result {
        Err(e) if e.code() == Some(tonic::Code::NotFound) => Ok(()),
        Err(e) => Err(e),
        Ok(_) => Ok(()),
    }
}
