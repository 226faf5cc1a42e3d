//! The `cri-fake` binary, started as any language's test suite would start it, serves a
//! Python grpcio client (gRPC C-core): the same client as `python_grpc.rs`, against two
//! processes, one seeded and one an older runtime without the `Stream*` RPCs.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use cri_tests::python;
use serde_json::Value;

/// Builds the `cri-fake` binary (debug, in the workspace's target directory) and returns its
/// path, as cargo reports it.
fn cri_fake_binary() -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| env!("CARGO").to_string());
    let output = Command::new(cargo)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap())
        .args([
            "build",
            "-p",
            "cri-fake",
            "--bin",
            "cri-fake",
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build -p cri-fake failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == "cri-fake")
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo names the cri-fake executable")
}

/// A running `cri-fake`; stopped (stdin closed, a clean exit) when dropped.
struct FakeProcess(Child);

impl FakeProcess {
    fn start(binary: &Path, socket: &Path, flags: &[&str]) -> Self {
        let mut child = Command::new(binary)
            .arg("--socket")
            .arg(socket)
            .args(flags)
            .arg("--exit-on-stdin-close")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start cri-fake");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        assert_eq!(
            line.trim(),
            format!("cri-fake: serving unix://{}", socket.display())
        );
        FakeProcess(child)
    }

    fn stop(mut self) {
        drop(self.0.stdin.take());
        let status = self.0.wait().unwrap();
        assert!(status.success(), "cri-fake exited with {status}");
    }
}

impl Drop for FakeProcess {
    fn drop(&mut self) {
        if self.0.stdin.is_some() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

#[test]
fn python_client_calls_the_cri_fake_binary() {
    let binary = cri_fake_binary();
    let dir = tempfile::tempdir().unwrap();
    let (socket, old_socket) = (dir.path().join("fake.sock"), dir.path().join("old.sock"));
    let fake = FakeProcess::start(
        &binary,
        &socket,
        &[
            "--seed",
            "2",
            "--containers-per-pod",
            "2",
            "--page-size",
            "2",
        ],
    );
    let old = FakeProcess::start(
        &binary,
        &old_socket,
        &[
            "--without-stream-rpcs",
            "--seed",
            "1",
            "--containers-per-pod=3",
        ],
    );

    let output = python::command("client")
        .arg(&socket)
        .arg(&old_socket)
        .output()
        .expect("run the Python client");
    assert!(
        output.status.success(),
        "the Python client failed:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let out: Value = serde_json::from_slice(&output.stdout).expect("JSON from the Python client");
    assert_eq!(out["version"], serde_json::json!(["cri-fake", "v1"]));
    assert_eq!(out["state"], "CONTAINER_RUNNING");
    // ExecSync ran the command set.
    assert_eq!(out["exec"], serde_json::json!(["hé ✓\n", 0]));
    // 4 seeded containers and Python's own, listed and streamed in pages of 2.
    assert_eq!(out["listed_containers"].as_array().unwrap().len(), 5);
    assert_eq!(out["streamed_containers"], out["listed_containers"]);
    assert_eq!(out["container_pages"], 3);
    assert_eq!(out["listed_pods"].as_array().unwrap().len(), 3);
    assert_eq!(
        out["legacy"],
        serde_json::json!({
            "StreamContainers": "UNIMPLEMENTED",
            "StreamPodSandboxes": "UNIMPLEMENTED",
            "StreamImages": "UNIMPLEMENTED",
            "ListContainers": 3,
        })
    );
    fake.stop();
    old.stop();
    assert!(
        !socket.exists() && !old_socket.exists(),
        "the sockets are removed at exit"
    );
}
