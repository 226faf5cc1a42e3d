//! The model of a container that the fake's commands see: who it runs as ([`Identity`]),
//! what files it sees ([`fs`]), which processes run in it ([`Processes`]) and its network
//! (the pod's address in 127.0.0.0/8, where its servers listen; see [`net`]).
//!
//! A [`Container`] is made when the container is created, from the pod's config (hostname,
//! DNS, sysctls, port mappings, host network), the container's config (mounts, security
//! context) and the image (its user, its default command). [`ContainerCommands`] runs the
//! commands of the container: a handler of the user's first, if any; then the commands that
//! need the model (`id`, `cat FILE`, `ls`, `test`, `touch`, `pgrep`, `ps`, `kill`,
//! `netstat`, `nc`, `wget`, the web servers); `sh`, with every command of its script going
//! through this same handler; everything else goes to the built-ins.

use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex, PoisonError};

use cri_api_v1 as api;

mod commands;
pub(crate) mod console;
pub(crate) mod fs;
mod nc;
mod procs;
mod security;
mod web;

pub(crate) use commands::ContainerCommands;
pub(crate) use procs::Processes;

/// The user a container's processes run as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Identity {
    pub uid: i64,
    pub gid: i64,
    /// Supplemental groups (the primary group first).
    pub groups: Vec<i64>,
    /// `no_new_privs`: a set-user-ID program keeps the caller's uid.
    pub no_new_privs: bool,
}

/// Well-known users of the images the fake models: name, uid, gid.
const USERS: &[(&str, i64, i64)] = &[
    ("root", 0, 0),
    ("daemon", 1, 1),
    ("www-data", 33, 33),
    ("nobody", 65534, 65534),
];

/// The name of a uid (what `id -un` prints), if the image's `/etc/passwd` has it.
pub(crate) fn user_name(uid: i64) -> Option<&'static str> {
    USERS.iter().find(|u| u.1 == uid).map(|u| u.0)
}

fn user_by_name(name: &str) -> Option<(i64, i64)> {
    USERS.iter().find(|u| u.0 == name).map(|u| (u.1, u.2))
}

/// The users of the validation suite's image with a predefined group: uid 1000 (primary
/// group 1000) is also a member of group 50000 in the image's `/etc/group`.
const PREDEFINED_GROUP_IMAGE: &str = "test-image-predefined-group";

/// The primary group of `uid` in the image's `/etc/passwd` (0 when the image has no such
/// user, as runtimes do).
fn primary_gid(image: &str, uid: i64) -> i64 {
    if image.contains(PREDEFINED_GROUP_IMAGE) && uid == 1000 {
        return 1000;
    }
    USERS.iter().find(|u| u.1 == uid).map_or(0, |u| u.2)
}

/// The groups of the image's `/etc/group` that list `uid` as a member.
fn image_groups(image: &str, uid: i64) -> Vec<i64> {
    if image.contains(PREDEFINED_GROUP_IMAGE) && uid == 1000 {
        return vec![50000];
    }
    Vec::new()
}

impl Identity {
    /// The user from the security context (`run_as_user`, `run_as_username`), else the
    /// image's config user (`1000`, `www-data`, `1000:50000`), else root; the group from
    /// `run_as_group`, else the image config's group (when the user came from it), else the
    /// user's primary group in the image; then the supplemental groups of the security
    /// context and, unless the policy is `Strict`, the image's groups of the user.
    pub fn new(
        security: Option<&api::LinuxContainerSecurityContext>,
        image_user: &str,
        image: &str,
    ) -> Self {
        let (image_uid, image_gid) = parse_user(image_user);
        let by_name = security
            .map(|s| s.run_as_username.as_str())
            .filter(|n| !n.is_empty())
            .and_then(user_by_name);
        let explicit = security
            .and_then(|s| s.run_as_user)
            .map(|u| u.value)
            .or(by_name.map(|u| u.0));
        let uid = explicit.unwrap_or(image_uid);
        let default_gid = match explicit {
            Some(uid) => primary_gid(image, uid),
            None => image_gid.unwrap_or_else(|| primary_gid(image, uid)),
        };
        let gid = security
            .and_then(|s| s.run_as_group)
            .map_or(default_gid, |g| g.value);
        let mut groups = vec![gid];
        let strict = security.is_some_and(|s| {
            s.supplemental_groups_policy == api::SupplementalGroupsPolicy::Strict as i32
        });
        let from_image = if strict {
            Vec::new()
        } else {
            image_groups(image, uid)
        };
        for g in security
            .map(|s| &s.supplemental_groups)
            .into_iter()
            .flatten()
            .chain(&from_image)
        {
            if !groups.contains(g) {
                groups.push(*g);
            }
        }
        Identity {
            uid,
            gid,
            groups,
            no_new_privs: security.is_some_and(|s| s.no_new_privs),
        }
    }
}

/// `uid[:gid]` or `name[:group]` of an image config.
fn parse_user(user: &str) -> (i64, Option<i64>) {
    let (user, group) = match user.split_once(':') {
        Some((u, g)) => (u, Some(g)),
        None => (user, None),
    };
    let named = user_by_name(user);
    let uid = user.parse().ok().or(named.map(|u| u.0)).unwrap_or(0);
    let gid = group
        .and_then(|g| g.parse().ok().or(user_by_name(g).map(|u| u.1)))
        .or(named.map(|u| u.1));
    (uid, gid)
}

/// The model of one container.
#[derive(Debug)]
pub(crate) struct Container {
    pub identity: Identity,
    pub security: security::Security,
    pub hostname: String,
    pub fs: fs::Filesystem,
    pub processes: Arc<Processes>,
    /// The pod's address (in 127.0.0.0/8; the host's for a host-network pod).
    pub ip: Ipv4Addr,
    pub host_network: bool,
    /// The pod's port mappings with a host port: container port, host port.
    pub host_ports: Vec<(u16, u16)>,
    /// The image's default command (entrypoint and arguments), when the fake's registry
    /// knows one.
    pub image_command: Vec<String>,
    /// The memory limit (bytes) of the container's resources, if any.
    pub memory_limit: Option<u64>,
    /// Set when a process went past the memory limit: the container exits `OOMKilled`.
    pub oom_killed: std::sync::atomic::AtomicBool,
    /// The main process's streams, once started.
    console: Mutex<Option<Arc<console::Console>>>,
}

impl Container {
    pub fn new(pod: &crate::state::Pod, config: &api::ContainerConfig, image_user: &str) -> Self {
        let linux = config.linux.as_ref();
        let security = linux.and_then(|l| l.security_context.as_ref());
        let pod_linux = pod.config.linux.as_ref();
        let host_network = pod_linux
            .and_then(|l| l.security_context.as_ref())
            .and_then(|s| s.namespace_options.as_ref())
            .is_some_and(|n| n.network == api::NamespaceMode::Node as i32);
        let hostname = pod.hostname();
        let image = config.image.as_ref().map_or("", |i| i.image.as_str());
        let identity = Identity::new(security, image_user, image);
        let rights = security::Security::new(security);
        let processes = Arc::new(Processes::default());
        let mut files = fs::Filesystem::new(pod, config, &hostname, processes.clone());
        files.insert(
            "/proc/self/status",
            security::proc_status(&identity, &rights, "cat"),
        );
        Container {
            identity,
            security: rights,
            fs: files,
            hostname,
            processes,
            ip: pod.ip.parse().unwrap_or(Ipv4Addr::LOCALHOST),
            host_network,
            host_ports: pod
                .config
                .port_mappings
                .iter()
                .filter(|m| m.host_port > 0)
                .filter_map(|m| {
                    Some((
                        u16::try_from(m.container_port).ok()?,
                        u16::try_from(m.host_port).ok()?,
                    ))
                })
                .collect(),
            image_command: web::default_command(image),
            memory_limit: linux
                .and_then(|l| l.resources.as_ref())
                .map(|r| r.memory_limit_in_bytes)
                .filter(|m| *m > 0)
                .and_then(|m| u64::try_from(m).ok()),
            oom_killed: std::sync::atomic::AtomicBool::new(false),
            console: Mutex::new(None),
        }
    }

    /// The main process's streams (once started).
    pub fn console(&self) -> Option<Arc<console::Console>> {
        self.console
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    /// The main process's streams; a running container started without the fake's process
    /// (a seeded one) gets a console that nothing writes to, until it is stopped.
    pub fn console_or_idle(&self) -> Arc<console::Console> {
        self.console
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_or_insert_with(|| console::Console::new(false, false, false).0)
            .clone()
    }

    pub fn set_console(&self, console: Arc<console::Console>) {
        *self.console.lock().unwrap_or_else(PoisonError::into_inner) = Some(console);
    }
}

/// The checks a runtime makes of a container config before it creates anything: a
/// `run_as_group` needs a user, and a recursive read-only mount must be read-only and
/// private (no propagation), as runc-based runtimes require.
pub(crate) fn validate(config: &api::ContainerConfig) -> Result<(), tonic::Status> {
    let security = config
        .linux
        .as_ref()
        .and_then(|l| l.security_context.as_ref());
    if let Some(s) = security
        && s.run_as_group.is_some()
        && s.run_as_user.is_none()
        && s.run_as_username.is_empty()
    {
        return Err(tonic::Status::invalid_argument(
            "run_as_group is set without run_as_user or run_as_username",
        ));
    }
    for m in config.mounts.iter().filter(|m| m.recursive_read_only) {
        if !m.readonly {
            return Err(tonic::Status::invalid_argument(format!(
                "mount {:?}: recursive_read_only needs readonly",
                m.container_path
            )));
        }
        if m.propagation != api::MountPropagation::PropagationPrivate as i32 {
            return Err(tonic::Status::invalid_argument(format!(
                "mount {:?}: recursive_read_only needs private propagation",
                m.container_path
            )));
        }
    }
    Ok(())
}
