//! The built-in fake runtime keeps its state between two crictl processes (in a state file,
//! locked while a crictl uses it), says where, and starts afresh once the file is deleted;
//! its seeded containers have logs.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use support::crictl;

/// Whether one of crictl's default sockets is present (then crictl uses it, not the fake).
fn default_socket_present() -> bool {
    [
        "/run/containerd/containerd.sock",
        "/run/crio/crio.sock",
        "/var/run/cri-dockerd.sock",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

/// crictl on the built-in fake with its state in `state` (`None`: the tests' default, none).
fn run(state: Option<&Path>, args: &[&str]) -> Output {
    let mut command: Command = crictl();
    command.args(["--config", "/dev/null"]).args(args);
    if let Some(state) = state {
        command.env("CRICTL_FAKE_STATE", state);
    }
    command.output().unwrap()
}

fn ok(state: Option<&Path>, args: &[&str]) -> (String, String) {
    let output = run(state, args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "crictl {args:?}: {stderr}");
    (String::from_utf8(output.stdout).unwrap(), stderr)
}

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

#[test]
fn runp_then_pods_in_two_processes_and_a_reset() {
    if default_socket_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("pod.json");
    std::fs::write(
        &config,
        r#"{"metadata":{"name":"kept","namespace":"default","uid":"u1"}}"#,
    )
    .unwrap();
    let state = dir.path().join("state").join("fake-state.pb");
    let config = config.to_str().unwrap();

    let (pod, notice) = ok(Some(&state), &["runp", config]);
    let pod = pod.trim().to_string();
    assert!(state.exists(), "the state file is written");
    assert!(
        notice.contains(&format!("whose state is kept in {}", state.display()))
            && notice.contains("delete the file to reset it"),
        "{notice}"
    );
    // A second process sees the pod, beside the 3 seeded ones.
    let (pods, _) = ok(Some(&state), &["pods", "-q"]);
    assert_eq!(lines(&pods).len(), 4, "{pods}");
    assert!(lines(&pods).contains(&pod.as_str()), "{pods}");
    let (named, _) = ok(Some(&state), &["pods", "--name", "kept", "-q"]);
    assert_eq!(named.trim(), pod);

    // Two crictls at once take turns on the file: both pods are kept.
    let spawn = |name: &str| {
        let file = dir.path().join(format!("{name}.json"));
        std::fs::write(
            &file,
            format!(r#"{{"metadata":{{"name":"{name}","namespace":"default","uid":"{name}"}}}}"#),
        )
        .unwrap();
        let mut command = crictl();
        command
            .args(["--config", "/dev/null", "runp"])
            .arg(&file)
            .env("CRICTL_FAKE_STATE", &state);
        command.output()
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| spawn("first"));
        let b = s.spawn(|| spawn("second"));
        (a.join().unwrap().unwrap(), b.join().unwrap().unwrap())
    });
    assert!(a.status.success() && b.status.success(), "{a:?} {b:?}");
    let (pods, _) = ok(Some(&state), &["pods", "-q"]);
    assert_eq!(lines(&pods).len(), 6, "{pods}");

    // Without a state file (the tests' default), a run does not see it.
    let (pods, notice) = ok(None, &["pods", "-q"]);
    assert_eq!(lines(&pods).len(), 3, "{pods}");
    assert!(
        notice.contains("whose state lasts for this run only"),
        "{notice}"
    );

    // Reset: delete the file, and the fake starts afresh (seeded).
    std::fs::remove_file(&state).unwrap();
    let (pods, _) = ok(Some(&state), &["pods", "-q"]);
    assert_eq!(lines(&pods).len(), 3, "{pods}");
    assert!(!lines(&pods).contains(&pod.as_str()), "{pods}");
}

#[test]
fn the_state_lives_under_xdg_state_home_and_a_bad_file_is_one_line() {
    if default_socket_present() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let output = crictl()
        .args(["--config", "/dev/null", "pods", "-q"])
        .env_remove("CRICTL_FAKE_STATE")
        .env("XDG_STATE_HOME", dir.path())
        .output()
        .unwrap();
    assert!(output.status.success());
    let state = dir.path().join("crictl-rs").join("fake-state.pb");
    assert!(state.exists());

    std::fs::write(&state, b"\xff\xff\xff not a state").unwrap();
    let output = run(Some(&state), &["pods"]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("is not a cri-fake state") && stderr.contains("to start afresh"),
        "{stderr}"
    );
}

#[test]
fn seeded_containers_have_logs() {
    if default_socket_present() {
        return;
    }
    let (ids, _) = ok(None, &["ps", "-q"]);
    let id = lines(&ids)[0].to_string();
    let output = run(None, &["logs", &id]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stdout.contains(": starting in pod ") && stdout.ends_with(": ready\n"),
        "{stdout}"
    );
    assert!(stderr.contains("no configuration file"), "{stderr}");
}
