//! The programs a test runs as a user would: the workspace's binaries, built by cargo (the
//! Go crictl is [`go_crictl`](crate::go_crictl)'s).

use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;

use crate::project_root;

/// Builds `bin` of `package` (debug, default features, in the workspace's target directory)
/// and returns its path as cargo reports it.
pub fn build(package: &str, bin: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let output = Command::new(cargo)
        .current_dir(project_root())
        .args([
            "build",
            "-p",
            package,
            "--bin",
            bin,
            "--message-format=json",
        ])
        .stderr(Stdio::inherit())
        .output()
        .expect("run cargo build");
    assert!(output.status.success(), "cargo build -p {package} failed");
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|m| m["reason"] == "compiler-artifact" && m["target"]["name"] == bin)
        .find_map(|m| m["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo names the {bin} executable"))
}
