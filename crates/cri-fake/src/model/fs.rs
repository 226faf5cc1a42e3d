//! What files a container sees: the image's few files (`/etc/passwd`, `/etc/group`), the
//! files the runtime writes (`/etc/hosts`, `/etc/hostname`, `/etc/resolv.conf` from the
//! pod's DNS config), `/proc/sys/*` from the pod's sysctls, the mounts (read from their host
//! paths), `/proc/PID/cmdline` of the container's processes (from its process table), and
//! files the container created (kept in memory). A read-only root refuses writes
//! outside writable mounts.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use cri_api_v1 as api;

/// A mount: host path, container path, read-only.
#[derive(Debug, Clone)]
struct Mount {
    container: String,
    host: PathBuf,
    readonly: bool,
    /// Read-only all the way down (else a host mount below it stays writable).
    recursive: bool,
}

/// Why a file operation failed, with the text commands print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FsError {
    NotFound,
    ReadOnly,
    IsDir,
}

impl FsError {
    pub fn message(self) -> &'static str {
        match self {
            FsError::NotFound => "No such file or directory",
            FsError::ReadOnly => "Read-only file system",
            FsError::IsDir => "Is a directory",
        }
    }
}

/// A container's view of files.
#[derive(Debug)]
pub(crate) struct Filesystem {
    files: BTreeMap<String, Vec<u8>>,
    mounts: Vec<Mount>,
    readonly_root: bool,
    /// The security context's `readonly_paths` and `masked_paths`.
    readonly_paths: Vec<String>,
    masked_paths: Vec<String>,
    created: Mutex<BTreeMap<String, Vec<u8>>>,
    /// The container's processes, whose `/proc/PID` directories this shows.
    processes: Arc<super::Processes>,
}

/// The pid of `/proc/PID` (with `rest` after it: `""` or `/cmdline`…).
fn proc_pid(path: &str) -> Option<(u32, &str)> {
    let rest = path.strip_prefix("/proc/")?;
    let (pid, rest) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    Some((pid.parse().ok()?, rest))
}

/// The directories of the image (besides the parents of its files).
const DIRS: &[&str] = &[
    "/", "/bin", "/dev", "/etc", "/home", "/proc", "/root", "/sys", "/tmp", "/usr", "/var",
];

/// `path` made absolute (from `/`, the working directory) and normalized.
pub(crate) fn absolute(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

impl Filesystem {
    pub fn new(
        pod: &crate::state::Pod,
        config: &api::ContainerConfig,
        hostname: &str,
        processes: Arc<super::Processes>,
    ) -> Self {
        let mut files = BTreeMap::new();
        let text = |s: String| s.into_bytes();
        files.insert(
            "/etc/passwd".to_string(),
            text(
                super::USERS
                    .iter()
                    .map(|(n, u, g)| format!("{n}:x:{u}:{g}:{n}:/home/{n}:/bin/sh\n"))
                    .collect(),
            ),
        );
        files.insert(
            "/etc/group".to_string(),
            text(
                super::USERS
                    .iter()
                    .map(|(n, _, g)| format!("{n}:x:{g}:\n"))
                    .collect(),
            ),
        );
        files.insert("/etc/hostname".into(), text(format!("{hostname}\n")));
        files.insert(
            "/etc/hosts".into(),
            text(format!(
                "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{}\t{hostname}\n",
                pod.ip
            )),
        );
        let mut resolv = String::new();
        if let Some(dns) = &pod.config.dns_config {
            for server in &dns.servers {
                resolv.push_str(&format!("nameserver {server}\n"));
            }
            if !dns.searches.is_empty() {
                resolv.push_str(&format!("search {}\n", dns.searches.join(" ")));
            }
            if !dns.options.is_empty() {
                resolv.push_str(&format!("options {}\n", dns.options.join(" ")));
            }
        } else {
            resolv.push_str("nameserver 10.96.0.10\n");
        }
        files.insert("/etc/resolv.conf".into(), text(resolv));
        if let Some(linux) = &pod.config.linux {
            for (key, value) in &linux.sysctls {
                let path = format!("/proc/sys/{}", key.replace('.', "/"));
                files.insert(path, text(format!("{value}\n")));
            }
        }
        let mounts = config
            .mounts
            .iter()
            .map(|m| Mount {
                container: absolute(&m.container_path),
                host: PathBuf::from(&m.host_path),
                readonly: m.readonly,
                recursive: m.recursive_read_only,
            })
            .collect();
        let security = config
            .linux
            .as_ref()
            .and_then(|l| l.security_context.as_ref());
        let readonly_root = security.is_some_and(|s| s.readonly_rootfs);
        let paths = |list: Option<&Vec<String>>| -> Vec<String> {
            list.into_iter().flatten().map(|p| absolute(p)).collect()
        };
        Filesystem {
            files,
            mounts,
            readonly_root,
            readonly_paths: paths(security.map(|s| &s.readonly_paths)),
            masked_paths: paths(security.map(|s| &s.masked_paths)),
            created: Mutex::new(BTreeMap::new()),
            processes,
        }
    }

    /// Adds a file of the runtime's making.
    pub fn insert(&mut self, path: &str, text: String) {
        self.files.insert(absolute(path), text.into_bytes());
    }

    /// The mount a path is under (the longest match) and the host path it maps to.
    fn mounted(&self, path: &str) -> Option<(&Mount, PathBuf)> {
        self.mounts
            .iter()
            .filter(|m| {
                path == m.container
                    || m.container == "/"
                    || path.starts_with(&format!("{}/", m.container))
            })
            .max_by_key(|m| m.container.len())
            .map(|m| {
                let rest = path[m.container.len()..].trim_start_matches('/');
                let host = if rest.is_empty() {
                    m.host.clone()
                } else {
                    m.host.join(rest)
                };
                (m, host)
            })
    }

    fn created(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        self.created.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `path` is a directory.
    pub fn is_dir(&self, path: &str) -> bool {
        let path = absolute(path);
        if let Some((pid, "")) = proc_pid(&path) {
            return self.processes.exists(pid);
        }
        if let Some((_, host)) = self.mounted(&path) {
            return host.is_dir();
        }
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        DIRS.contains(&path.as_str())
            || self.files.keys().any(|f| f.starts_with(&prefix))
            || self.created().keys().any(|f| f.starts_with(&prefix))
    }

    /// Whether `path` exists.
    pub fn exists(&self, path: &str) -> bool {
        self.is_dir(path) || self.read(path).is_ok()
    }

    /// The contents of the file at `path`.
    pub fn read(&self, path: &str) -> Result<Vec<u8>, FsError> {
        let path = absolute(path);
        if let Some((pid, rest)) = proc_pid(&path) {
            return match rest {
                "" if self.processes.exists(pid) => Err(FsError::IsDir),
                "/cmdline" => self.processes.cmdline(pid).ok_or(FsError::NotFound),
                _ => Err(FsError::NotFound),
            };
        }
        if let Some((_, host)) = self.mounted(&path) {
            if host.is_dir() {
                return Err(FsError::IsDir);
            }
            return std::fs::read(&host).map_err(|_| FsError::NotFound);
        }
        if let Some(bytes) = self.created().get(&path) {
            return Ok(bytes.clone());
        }
        if let Some(bytes) = self.files.get(&path) {
            return Ok(bytes.clone());
        }
        if self.is_dir(&path) {
            return Err(FsError::IsDir);
        }
        Err(FsError::NotFound)
    }

    /// The names in the directory `path` (sorted).
    pub fn list(&self, path: &str) -> Result<Vec<String>, FsError> {
        let path = absolute(path);
        if let Some((_, host)) = self.mounted(&path) {
            let entries = std::fs::read_dir(&host).map_err(|_| FsError::NotFound)?;
            let mut names: Vec<String> = entries
                .filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect();
            names.sort();
            return Ok(names);
        }
        if !self.is_dir(&path) {
            return self.read(&path).map(|_| vec![path.clone()]);
        }
        let prefix = if path == "/" {
            "/".to_string()
        } else {
            format!("{path}/")
        };
        let mut names = BTreeSet::new();
        let created = self.created();
        let all = DIRS
            .iter()
            .map(|d| d.to_string())
            .chain(self.files.keys().cloned())
            .chain(created.keys().cloned());
        for entry in all {
            if let Some(rest) = entry.strip_prefix(&prefix)
                && let Some(name) = rest.split('/').next()
                && !name.is_empty()
            {
                names.insert(name.to_string());
            }
        }
        if path == "/proc" {
            names.extend(
                self.processes
                    .list()
                    .into_iter()
                    .map(|(pid, _)| pid.to_string()),
            );
        } else if let Some((_, "")) = proc_pid(&path) {
            names.insert("cmdline".to_string());
        }
        for m in &self.mounts {
            if let Some(rest) = m.container.strip_prefix(&prefix)
                && let Some(name) = rest.split('/').next()
            {
                names.insert(name.to_string());
            }
        }
        Ok(names.into_iter().collect())
    }

    /// Whether `path` is masked (the runtime hides it: nothing there can be run or read).
    pub fn masked(&self, path: &str) -> bool {
        under(&self.masked_paths, &absolute(path))
    }

    /// Writes (or, with `append`, appends to) the file at `path`.
    pub fn write(&self, path: &str, bytes: &[u8], append: bool) -> Result<(), FsError> {
        let path = absolute(path);
        if under(&self.readonly_paths, &path) {
            return Err(FsError::ReadOnly);
        }
        if let Some((mount, host)) = self.mounted(&path) {
            if mount.readonly && (mount.recursive || !below_submount(&mount.host, &host)) {
                return Err(FsError::ReadOnly);
            }
            use std::io::Write;
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .write(true)
                .append(append)
                .truncate(!append)
                .open(&host)
                .map_err(|_| FsError::NotFound)?;
            return file.write_all(bytes).map_err(|_| FsError::NotFound);
        }
        if self.readonly_root {
            return Err(FsError::ReadOnly);
        }
        if self.is_dir(&path) {
            return Err(FsError::IsDir);
        }
        let existing = self.read(&path).ok();
        let mut created = self.created();
        let entry = created
            .entry(path)
            .or_insert_with(|| existing.unwrap_or_default());
        if !append {
            entry.clear();
        }
        entry.extend_from_slice(bytes);
        Ok(())
    }

    /// `touch`: creates the file if it does not exist.
    pub fn touch(&self, path: &str) -> Result<(), FsError> {
        if self.exists(path) && !self.readonly_root {
            return Ok(());
        }
        self.write(path, b"", true)
    }
}

/// Whether `path` (under `root`) lies on another file system of the host than `root` (a
/// mount below the mount's source, which a non-recursive read-only mount leaves writable).
fn below_submount(root: &std::path::Path, path: &std::path::Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(root_dev) = std::fs::metadata(root).map(|m| m.dev()) else {
        return false;
    };
    path.ancestors()
        .take_while(|p| p.starts_with(root) && *p != root)
        .filter_map(|p| std::fs::metadata(p).ok())
        .any(|m| m.dev() != root_dev)
}

/// Whether `path` is one of `roots` or below one.
fn under(roots: &[String], path: &str) -> bool {
    roots
        .iter()
        .any(|r| path == r || r == "/" || path.starts_with(&format!("{r}/")))
}
