//! State that lasts: [`FakeRuntime::save_state`] writes the pods, containers and images to a
//! file (protobuf, the CRI's own messages inside), [`FakeRuntime::load_state`] reads them back,
//! and [`StateLock`] keeps a second process off the same file.
//!
//! What a restart shows (as a runtime whose containers' shims outlived it): pods come back as
//! they were; containers too, in their state, with their exit codes and logs; a container
//! that was running is running again, but its program is not run again: like a seeded
//! container it runs until stopped, printing nothing new (exec, attach and the model work
//! as for any running container).

use std::io::Write;
use std::path::{Path, PathBuf};

use cri_api_v1 as api;
use prost::Message;

use crate::FakeRuntime;
use crate::state::{Ctr, Pod};

#[derive(Clone, PartialEq, Message)]
struct Saved {
    #[prost(message, repeated, tag = "1")]
    pods: Vec<SavedPod>,
    #[prost(message, repeated, tag = "2")]
    containers: Vec<SavedCtr>,
    #[prost(message, repeated, tag = "3")]
    images: Vec<api::Image>,
    #[prost(uint64, tag = "4")]
    next_id: u64,
}

#[derive(Clone, PartialEq, Message)]
struct SavedPod {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(message, optional, tag = "2")]
    config: Option<api::PodSandboxConfig>,
    #[prost(string, tag = "3")]
    runtime_handler: String,
    #[prost(int32, tag = "4")]
    state: i32,
    #[prost(int64, tag = "5")]
    created_at: i64,
    #[prost(string, tag = "6")]
    ip: String,
}

#[derive(Clone, PartialEq, Message)]
struct SavedCtr {
    #[prost(string, tag = "1")]
    id: String,
    #[prost(string, tag = "2")]
    pod_id: String,
    #[prost(message, optional, tag = "3")]
    config: Option<api::ContainerConfig>,
    #[prost(string, tag = "4")]
    image_id: String,
    #[prost(int32, tag = "5")]
    state: i32,
    #[prost(int64, tag = "6")]
    created_at: i64,
    #[prost(int64, tag = "7")]
    started_at: i64,
    #[prost(int64, tag = "8")]
    finished_at: i64,
    #[prost(int32, tag = "9")]
    exit_code: i32,
    #[prost(string, tag = "10")]
    reason: String,
    #[prost(message, optional, tag = "11")]
    resources: Option<api::ContainerResources>,
    #[prost(string, tag = "12")]
    log_path: String,
    /// A seeded container (whose log is written when first asked for).
    #[prost(bool, tag = "13")]
    seeded: bool,
}

/// Why a state file could not be used.
#[derive(Debug)]
pub struct StateError(String);

impl std::fmt::Display for StateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StateError {}

impl FakeRuntime {
    /// Writes the runtime's pods, containers and images to `path` (atomically: a new file
    /// renamed over the old one).
    pub fn save_state(&self, path: &Path) -> Result<(), StateError> {
        let saved = {
            let state = self.read();
            Saved {
                pods: state
                    .pods
                    .values()
                    .map(|p| SavedPod {
                        id: p.id.clone(),
                        config: Some(p.config.clone()),
                        runtime_handler: p.runtime_handler.clone(),
                        state: p.state as i32,
                        created_at: p.created_at,
                        ip: p.ip.clone(),
                    })
                    .collect(),
                containers: state
                    .containers
                    .values()
                    .map(|c| SavedCtr {
                        id: c.id.clone(),
                        pod_id: c.pod_id.clone(),
                        config: Some(c.config.clone()),
                        image_id: c.image_id.clone(),
                        state: c.state as i32,
                        created_at: c.created_at,
                        started_at: c.started_at,
                        finished_at: c.finished_at,
                        exit_code: c.exit_code,
                        reason: c.reason.clone(),
                        resources: c.resources.clone(),
                        log_path: c.log_path.clone(),
                        seeded: c.seeded.is_some(),
                    })
                    .collect(),
                images: state.images.values().cloned().collect(),
                next_id: self
                    .inner
                    .next_id
                    .load(std::sync::atomic::Ordering::Relaxed),
            }
        };
        let fail = |what: &str, e: std::io::Error| {
            StateError(format!(
                "cannot {what} the state file {}: {e}",
                path.display()
            ))
        };
        let tmp = sibling(path, "tmp");
        let mut file = std::fs::File::create(&tmp).map_err(|e| fail("write", e))?;
        file.write_all(&saved.encode_to_vec())
            .and_then(|()| file.sync_all())
            .map_err(|e| fail("write", e))?;
        std::fs::rename(&tmp, path).map_err(|e| fail("replace", e))
    }

    /// Replaces the runtime's pods, containers and images with those saved at `path`. A
    /// missing file is an empty state. What a restart shows: pods and containers come back
    /// as they were; a container that was running is running again without its program
    /// being run again (until stopped it prints nothing new, as a seeded container).
    pub fn load_state(&self, path: &Path) -> Result<(), StateError> {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => {
                return Err(StateError(format!(
                    "cannot read the state file {}: {e}",
                    path.display()
                )));
            }
        };
        let saved = Saved::decode(bytes.as_slice()).map_err(|e| {
            StateError(format!(
                "the state file {} is not a cri-fake state: {e}",
                path.display()
            ))
        })?;
        let mut state = self.write();
        state.images = saved
            .images
            .into_iter()
            .map(|i| (i.id.clone(), i))
            .collect();
        state.pods.clear();
        for p in saved.pods {
            let mut pod = Pod::new(
                p.id.clone(),
                0,
                p.config.unwrap_or_default(),
                p.runtime_handler,
            );
            pod.state = api::PodSandboxState::try_from(p.state)
                .unwrap_or(api::PodSandboxState::SandboxNotready);
            pod.created_at = p.created_at;
            pod.ip = p.ip;
            state.pods.insert(p.id, pod);
        }
        state.containers.clear();
        for c in saved.containers {
            let Some(pod) = state.pods.get(&c.pod_id) else {
                continue;
            };
            let config = c.config.unwrap_or_default();
            let image_user = state.images.get(&c.image_id).map_or(String::new(), |i| {
                i.uid
                    .map_or_else(|| i.username.clone(), |u| u.value.to_string())
            });
            let model = crate::model::Container::new(pod, &config, &image_user);
            let mut ctr = Ctr::new(c.id.clone(), pod, config, c.image_id, c.resources);
            ctr.model = std::sync::Arc::new(model);
            ctr.state = api::ContainerState::try_from(c.state)
                .unwrap_or(api::ContainerState::ContainerUnknown);
            ctr.created_at = c.created_at;
            ctr.started_at = c.started_at;
            ctr.finished_at = c.finished_at;
            ctr.exit_code = c.exit_code;
            ctr.reason = c.reason;
            ctr.log_path = c.log_path;
            ctr.seeded = c.seeded.then(std::sync::Once::new);
            state.containers.insert(c.id, ctr);
        }
        self.inner
            .next_id
            .fetch_max(saved.next_id, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// A number that changes whenever the state may have changed (each write lock taken), so
    /// that a saver knows when to save.
    pub fn generation(&self) -> u64 {
        self.inner
            .generation
            .load(std::sync::atomic::Ordering::Relaxed)
    }
}

fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".{suffix}"));
    path.with_file_name(name)
}

/// The lock of a state file (`FILE.lock`, holding the owner's pid): one process at a time.
/// Dropping it releases the file.
#[derive(Debug)]
pub struct StateLock {
    path: PathBuf,
}

impl StateLock {
    /// Takes the lock of the state file `state`, waiting up to `wait` for another process to
    /// release it; a lock left by a process that is gone is taken over. Fails, naming the
    /// holder, when it stays held.
    pub fn acquire(state: &Path, wait: std::time::Duration) -> Result<StateLock, StateError> {
        let path = sibling(state, "lock");
        let start = std::time::Instant::now();
        loop {
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&path)
            {
                Ok(mut file) => {
                    let _ = writeln!(file, "{}", std::process::id());
                    return Ok(StateLock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    let holder = std::fs::read_to_string(&path).unwrap_or_default();
                    let holder = holder.trim();
                    let alive = holder
                        .parse::<u32>()
                        .is_ok_and(|pid| Path::new(&format!("/proc/{pid}")).exists());
                    if !alive && !holder.is_empty() {
                        // The holder is gone: its lock is stale.
                        let _ = std::fs::remove_file(&path);
                        continue;
                    }
                    if start.elapsed() >= wait {
                        return Err(StateError(format!(
                            "the state file {} is in use by process {holder} (lock {})",
                            state.display(),
                            path.display()
                        )));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(50));
                }
                Err(e) => {
                    return Err(StateError(format!(
                        "cannot lock the state file {}: {e}",
                        state.display()
                    )));
                }
            }
        }
    }
}

impl Drop for StateLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}
