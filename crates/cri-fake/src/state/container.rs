//! A container: its config, state, log and main process, and how it reads as CRI messages
//! (summary, status, environment, user, statistics).

use std::collections::BTreeMap;

use cri_api_v1 as api;

use super::{Pod, now};
use crate::{Labels, ids};

pub(crate) struct Ctr {
    pub id: String,
    pub pod_id: String,
    pub config: api::ContainerConfig,
    pub image_id: String,
    pub state: api::ContainerState,
    pub created_at: i64,
    pub started_at: i64,
    pub finished_at: i64,
    pub exit_code: i32,
    pub reason: String,
    pub resources: Option<api::ContainerResources>,
    /// Where the container's CRI log goes: the pod's `log_directory` joined with the
    /// container's `log_path`, empty unless both are set (as containerd does). This is the
    /// `log_path` that `ContainerStatus` reports, so a client can read it as it stands.
    pub log_path: String,
    /// The CRI log of a started container with a `log_path`.
    pub log: Option<crate::process::Log>,
    /// The main process of a started container with a command, while it runs.
    pub process: Option<tokio::task::AbortHandle>,
    /// What the container's commands see: identity, files, processes, network.
    pub model: std::sync::Arc<crate::model::Container>,
    /// For a seeded container: its log is written (once) when first asked for.
    pub seeded: Option<std::sync::Once>,
}

impl Ctr {
    pub fn new(
        id: String,
        pod: &Pod,
        config: api::ContainerConfig,
        image_id: String,
        resources: Option<api::ContainerResources>,
    ) -> Self {
        let log_path = if pod.config.log_directory.is_empty() || config.log_path.is_empty() {
            String::new()
        } else {
            std::path::Path::new(&pod.config.log_directory)
                .join(&config.log_path)
                .to_string_lossy()
                .into_owned()
        };
        let model = std::sync::Arc::new(crate::model::Container::new(pod, &config, ""));
        Ctr {
            id,
            pod_id: pod.id.clone(),
            log_path,
            model,
            config,
            image_id,
            state: api::ContainerState::ContainerCreated,
            created_at: now(),
            started_at: 0,
            finished_at: 0,
            exit_code: 0,
            reason: String::new(),
            resources,
            log: None,
            process: None,
            seeded: None,
        }
    }

    /// A running container of a seeded pod.
    pub fn seeded(
        id: String,
        pod: &Pod,
        index: usize,
        image: &str,
        image_id: &str,
        created_at: i64,
    ) -> Self {
        let name = if index == 0 {
            "app".to_string()
        } else {
            format!("sidecar-{index}")
        };
        let mut labels = Labels::new();
        labels.insert("io.kubernetes.container.name".into(), name.clone());
        for key in [
            "io.kubernetes.pod.name",
            "io.kubernetes.pod.namespace",
            "io.kubernetes.pod.uid",
        ] {
            if let Some(value) = pod.config.labels.get(key) {
                labels.insert(key.into(), value.clone());
            }
        }
        let annotations: Labels = [
            (
                "io.kubernetes.container.hash".to_string(),
                id[..8].to_string(),
            ),
            (
                "io.kubernetes.container.restartCount".to_string(),
                "0".to_string(),
            ),
            (
                "io.kubernetes.container.terminationMessagePath".to_string(),
                "/dev/termination-log".to_string(),
            ),
            (
                "io.kubernetes.container.terminationMessagePolicy".to_string(),
                "File".to_string(),
            ),
            (
                "io.kubernetes.pod.terminationGracePeriod".to_string(),
                "30".to_string(),
            ),
        ]
        .into();
        let config = api::ContainerConfig {
            metadata: Some(api::ContainerMetadata {
                name: name.clone(),
                attempt: 0,
            }),
            image: Some(api::ImageSpec {
                image: image.to_string(),
                user_specified_image: image.to_string(),
                ..Default::default()
            }),
            command: vec!["/bin/sleep".into()],
            args: vec!["infinity".into()],
            envs: vec![api::KeyValue {
                key: "POD_NAME".into(),
                value: pod
                    .config
                    .metadata
                    .as_ref()
                    .map(|m| m.name.clone().into_bytes())
                    .unwrap_or_default(),
            }],
            log_path: format!("{name}/0.log"),
            labels,
            annotations,
            ..Default::default()
        };
        Ctr {
            state: api::ContainerState::ContainerRunning,
            created_at,
            started_at: created_at + 1_000_000,
            seeded: Some(std::sync::Once::new()),
            ..Ctr::new(id, pod, config, image_id.to_string(), None)
        }
    }

    /// A seeded container's log: a few lines of what it printed when it started, in the CRI
    /// log format, stamped from its start. Written the first time it is asked for (its
    /// status), unless the file is there already, so that seeding many containers stays
    /// fast and writes no file nobody reads. Ids are deterministic, so fakes of other
    /// processes may write the same file at the same time: each writes a file of its own
    /// and links it into place, and the first wins.
    pub fn write_seeded_log(&self) {
        let Some(once) = &self.seeded else {
            return;
        };
        if self.log_path.is_empty() {
            return;
        }
        once.call_once(|| {
            let path = std::path::Path::new(&self.log_path);
            if path.exists() {
                return;
            }
            let label = |key: &str| self.config.labels.get(key).map_or("", String::as_str);
            let name = label("io.kubernetes.container.name");
            let pod = format!(
                "{}/{}",
                label("io.kubernetes.pod.namespace"),
                label("io.kubernetes.pod.name")
            );
            let lines = [
                (
                    cri_log::Stream::Stdout,
                    format!("{name}: starting in pod {pod}\n"),
                ),
                (
                    cri_log::Stream::Stderr,
                    format!("{name}: no configuration file, using the defaults\n"),
                ),
                (cri_log::Stream::Stdout, format!("{name}: ready\n")),
            ];
            static TEMP: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
            let temp = std::path::PathBuf::from(format!(
                "{}.{}-{}.tmp",
                self.log_path,
                std::process::id(),
                TEMP.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            ));
            let Ok(file) = cri_log::open_log_file(&temp) else {
                return;
            };
            let mut at = i128::from(self.started_at);
            let mut writer = cri_log::LogWriter::new(file).clock(move || {
                at += 1_000_000;
                cri_log::Timestamp::from_unix_nanos(at)
            });
            for (stream, line) in lines {
                let _ = writer.write(stream, line.as_bytes());
            }
            let _ = writer.finish();
            drop(writer);
            // Fails when the file is there already: another writer was first.
            let _ = std::fs::hard_link(&temp, path);
            let _ = std::fs::remove_file(&temp);
        });
    }

    fn image_spec(
        &self,
        images: &BTreeMap<String, api::Image>,
    ) -> (Option<api::ImageSpec>, String) {
        let spec = self.config.image.clone().map(|mut spec| {
            spec.image_ref = self.image_id.clone();
            spec
        });
        let image_ref = images
            .get(&self.image_id)
            .and_then(|i| i.repo_digests.first().cloned())
            .unwrap_or_else(|| self.image_id.clone());
        (spec, image_ref)
    }

    /// What the container runs: its `command` + `args`, else the image's default command
    /// (which the fake's registry knows for the web servers of the validation suite).
    pub fn argv(&self) -> Vec<String> {
        let argv: Vec<String> = self
            .config
            .command
            .iter()
            .chain(&self.config.args)
            .cloned()
            .collect();
        if argv.is_empty() {
            self.model.image_command.clone()
        } else {
            argv
        }
    }

    pub fn metadata(&self) -> Option<api::ContainerMetadata> {
        self.config.metadata.clone()
    }

    pub fn summary(&self, images: &BTreeMap<String, api::Image>) -> api::Container {
        let (image, image_ref) = self.image_spec(images);
        api::Container {
            id: self.id.clone(),
            pod_sandbox_id: self.pod_id.clone(),
            metadata: self.metadata(),
            image,
            image_ref,
            state: self.state as i32,
            created_at: self.created_at,
            labels: self.config.labels.clone(),
            annotations: self.config.annotations.clone(),
            image_id: self.image_id.clone(),
        }
    }

    pub fn status(&self, images: &BTreeMap<String, api::Image>) -> api::ContainerStatus {
        let (image, image_ref) = self.image_spec(images);
        api::ContainerStatus {
            id: self.id.clone(),
            metadata: self.metadata(),
            state: self.state as i32,
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
            exit_code: self.exit_code,
            image,
            image_ref,
            reason: self.reason.clone(),
            message: String::new(),
            labels: self.config.labels.clone(),
            annotations: self.config.annotations.clone(),
            mounts: self.config.mounts.clone(),
            log_path: self.log_path.clone(),
            resources: self.resources.clone(),
            image_id: self.image_id.clone(),
            user: Some(self.user()),
            stop_signal: self.config.stop_signal,
        }
    }

    /// Stops the main process, if it runs, and ends the log; whether there was one.
    pub fn kill(&mut self) -> bool {
        let running = self.process.take().map(|p| p.abort()).is_some();
        if let Some(console) = self.model.console() {
            console.finish();
        }
        if let Some(log) = &self.log {
            log.finish();
        }
        running
    }

    /// The environment of the container's processes, as a runtime sets it up.
    pub fn env(&self, pod: Option<&Pod>) -> Vec<(String, String)> {
        let mut env = vec![
            (
                "PATH".to_string(),
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
            ),
            (
                "HOSTNAME".to_string(),
                pod.map(Pod::hostname).unwrap_or_default(),
            ),
        ];
        for kv in &self.config.envs {
            let value = String::from_utf8_lossy(&kv.value).into_owned();
            env.retain(|(k, _)| *k != kv.key);
            env.push((kv.key.clone(), value));
        }
        if !env.iter().any(|(k, _)| k == "HOME") {
            env.push(("HOME".to_string(), "/root".to_string()));
        }
        env
    }

    /// The user the container's processes run as: its model's identity (the security
    /// context, the image's user and groups; see `model::Identity`).
    fn user(&self) -> api::ContainerUser {
        let who = &self.model.identity;
        api::ContainerUser {
            linux: Some(api::LinuxContainerUser {
                uid: who.uid,
                gid: who.gid,
                supplemental_groups: who.groups.clone(),
            }),
        }
    }

    pub fn attributes(&self) -> api::ContainerAttributes {
        api::ContainerAttributes {
            id: self.id.clone(),
            metadata: self.metadata(),
            labels: self.config.labels.clone(),
            annotations: self.config.annotations.clone(),
        }
    }

    /// CPU nanoseconds used so far: 1% of a core while running.
    fn cpu_nanos(&self, at: i64) -> u64 {
        let end = if self.state == api::ContainerState::ContainerRunning {
            at
        } else {
            self.finished_at
        };
        if self.started_at == 0 {
            return 0;
        }
        u64::try_from((end - self.started_at).max(0) / 100).unwrap_or(0)
    }

    pub fn stats(&self, at: i64) -> api::ContainerStats {
        let running = self.state == api::ContainerState::ContainerRunning;
        let memory = if running {
            8 << 20 | (ids::hash(&self.id) % (8 << 20))
        } else {
            0
        };
        let value = |value| Some(api::UInt64Value { value });
        api::ContainerStats {
            attributes: Some(self.attributes()),
            cpu: Some(api::CpuUsage {
                timestamp: at,
                usage_core_nano_seconds: value(self.cpu_nanos(at)),
                usage_nano_cores: value(if running { 10_000_000 } else { 0 }),
                psi: None,
            }),
            memory: Some(api::MemoryUsage {
                timestamp: at,
                working_set_bytes: value(memory),
                available_bytes: value(256 << 20),
                usage_bytes: value(memory + (1 << 20)),
                rss_bytes: value(memory / 2),
                page_faults: value(1_000 + memory / 4096),
                major_page_faults: value(3),
                psi: None,
            }),
            writable_layer: Some(api::FilesystemUsage {
                timestamp: at,
                fs_id: Some(api::FilesystemIdentifier {
                    mountpoint: "/var/lib/cri-fake/containers".into(),
                }),
                used_bytes: value(4096 + ids::hash(&self.id) % 65_536),
                inodes_used: value(12),
            }),
            swap: None,
            io: None,
        }
    }
}
