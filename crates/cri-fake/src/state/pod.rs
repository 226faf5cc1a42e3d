//! A pod sandbox: its config and state, and how it reads as CRI messages.

use cri_api_v1 as api;

use super::now;
use crate::Labels;

pub(crate) struct Pod {
    pub id: String,
    pub config: api::PodSandboxConfig,
    pub runtime_handler: String,
    pub state: api::PodSandboxState,
    pub created_at: i64,
    pub ip: String,
}

/// The pod's address: its own in 127.0.0.0/8 (outside 127.0.0.0/16, so never 127.0.0.1), where
/// its containers' servers listen (see `model`); a host-network pod has the host's loopback.
fn ip_of(serial: u64, config: &api::PodSandboxConfig) -> String {
    let host_network = config
        .linux
        .as_ref()
        .and_then(|l| l.security_context.as_ref())
        .and_then(|s| s.namespace_options.as_ref())
        .is_some_and(|n| n.network == api::NamespaceMode::Node as i32);
    if host_network {
        return "127.0.0.1".into();
    }
    format!(
        "127.{}.{}.{}",
        1 + (serial >> 16) % 254,
        (serial >> 8) % 256,
        (serial % 255) + 1
    )
}

impl Pod {
    pub fn new(
        id: String,
        serial: u64,
        config: api::PodSandboxConfig,
        runtime_handler: String,
    ) -> Self {
        Pod {
            id,
            ip: ip_of(serial, &config),
            config,
            runtime_handler,
            state: api::PodSandboxState::SandboxReady,
            created_at: now(),
        }
    }

    /// A pod as the kubelet would have created it for a Deployment's replica.
    pub fn seeded(id: String, serial: u64, created_at: i64) -> Self {
        let name = format!("app-{:05}-{}", serial % 100_000, &id[..5]);
        let namespace = format!("team-{}", serial % 7);
        let uid = uuid_like(&id);
        let labels: Labels = [
            ("app".to_string(), format!("app-{:05}", serial % 100_000)),
            ("io.kubernetes.pod.name".to_string(), name.clone()),
            ("io.kubernetes.pod.namespace".to_string(), namespace.clone()),
            ("io.kubernetes.pod.uid".to_string(), uid.clone()),
            ("pod-template-hash".to_string(), id[8..18].to_string()),
        ]
        .into();
        let annotations: Labels = [
            (
                "kubernetes.io/config.seen".to_string(),
                "2026-01-01T00:00:00.000000000Z".to_string(),
            ),
            ("kubernetes.io/config.source".to_string(), "api".to_string()),
        ]
        .into();
        // Where the kubelet puts it, under the temporary directory (writable, unlike
        // /var/log/pods): the seeded containers' logs go there.
        let log_directory = std::env::temp_dir()
            .join("cri-fake-pods")
            .join(format!("{namespace}_{name}_{uid}"))
            .to_string_lossy()
            .into_owned();
        let config = api::PodSandboxConfig {
            metadata: Some(api::PodSandboxMetadata {
                name,
                uid,
                namespace,
                attempt: 0,
            }),
            log_directory,
            labels,
            annotations,
            linux: Some(api::LinuxPodSandboxConfig {
                cgroup_parent: format!("/kubepods/burstable/pod{}", &id[..32]),
                ..Default::default()
            }),
            ..Default::default()
        };
        Pod {
            created_at,
            ..Pod::new(id, serial, config, String::new())
        }
    }

    pub fn metadata(&self) -> Option<api::PodSandboxMetadata> {
        self.config.metadata.clone()
    }

    pub fn summary(&self) -> api::PodSandbox {
        api::PodSandbox {
            id: self.id.clone(),
            metadata: self.metadata(),
            state: self.state as i32,
            created_at: self.created_at,
            labels: self.config.labels.clone(),
            annotations: self.config.annotations.clone(),
            runtime_handler: self.runtime_handler.clone(),
        }
    }

    pub fn status(&self) -> api::PodSandboxStatus {
        let namespace_options = self
            .config
            .linux
            .as_ref()
            .and_then(|l| l.security_context.as_ref())
            .and_then(|s| s.namespace_options.clone());
        api::PodSandboxStatus {
            id: self.id.clone(),
            metadata: self.metadata(),
            state: self.state as i32,
            created_at: self.created_at,
            network: Some(api::PodSandboxNetworkStatus {
                ip: self.ip.clone(),
                additional_ips: Vec::new(),
            }),
            linux: Some(api::LinuxPodSandboxStatus {
                namespaces: Some(api::Namespace {
                    options: namespace_options,
                }),
            }),
            labels: self.config.labels.clone(),
            annotations: self.config.annotations.clone(),
            runtime_handler: self.runtime_handler.clone(),
        }
    }

    pub fn hostname(&self) -> String {
        if self.config.hostname.is_empty() {
            self.config
                .metadata
                .as_ref()
                .map(|m| m.name.clone())
                .unwrap_or_default()
        } else {
            self.config.hostname.clone()
        }
    }
}

/// A pod UID (8-4-4-4-12) derived from an object id.
fn uuid_like(id: &str) -> String {
    format!(
        "{}-{}-{}-{}-{}",
        &id[32..40],
        &id[40..44],
        &id[44..48],
        &id[48..52],
        &id[52..64]
    )
}
