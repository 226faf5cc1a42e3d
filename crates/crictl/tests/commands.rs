//! The commands and flags added for parity with the Go crictl v1.36, against the fake:
//! `completion`, `update`, `update-runtime-config`, `checkpoint`, `metricsp`, `metricdescs`,
//! `stop --all`, `rm` (which deletes the log unless `--keep-logs`), `logs --previous`, `exec`
//! selecting containers, `inspect*` selecting by flags, `images --filter`.

mod support;

use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;

struct Fake {
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    endpoint: String,
}

fn fake(pods: usize, per_pod: usize) -> Fake {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    fake.seed(pods, per_pod);
    let server = runtime
        .block_on(fake.serve_unix(dir.path().join("fake.sock")))
        .unwrap();
    let endpoint = server.endpoint();
    std::mem::forget(server);
    Fake {
        _runtime: runtime,
        _dir: dir,
        endpoint,
    }
}

fn run(endpoint: &str, args: &[&str]) -> Output {
    support::crictl()
        .args(["--config", "/dev/null", "-r", endpoint])
        .args(args)
        .output()
        .unwrap()
}

fn ok(endpoint: &str, args: &[&str]) -> String {
    let output = run(endpoint, args);
    assert!(
        output.status.success(),
        "crictl {args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn fails(endpoint: &str, args: &[&str]) -> String {
    let output = run(endpoint, args);
    assert!(!output.status.success(), "crictl {args:?} succeeded");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    stderr
}

#[test]
fn completion_scripts_load_in_bash() {
    for shell in ["bash", "zsh", "fish"] {
        let script = ok("unix:///nonexistent", &["completion", shell]);
        assert!(script.contains("crictl"), "{shell}: {script}");
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crictl.bash");
    std::fs::write(&path, ok("unix:///nonexistent", &["completion"])).unwrap();
    let words = Command::new("bash")
        .arg("-c")
        .arg(format!(
            "source {}; COMP_WORDS=(crictl insp); COMP_CWORD=1; _crictl crictl insp crictl; echo ${{COMPREPLY[@]}}",
            path.display()
        ))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&words.stdout).trim(),
        "inspect inspectp inspecti"
    );
}

#[test]
fn update_checkpoint_and_runtime_config() {
    let fake = fake(1, 2);
    let e = fake.endpoint.as_str();
    let ids: Vec<String> = ok(e, &["ps", "-q"]).lines().map(String::from).collect();
    let updated = ok(
        e,
        &[
            "update",
            "--memory",
            "100000000",
            "--cpu-share",
            "512",
            &ids[0],
            &ids[1],
        ],
    );
    assert_eq!(updated, format!("{}\n{}\n", ids[0], ids[1]));
    fails(e, &["update"]);
    assert!(fails(e, &["checkpoint", &ids[0]]).contains("--export"));
    assert_eq!(
        ok(e, &["checkpoint", "--export", "/tmp/cp.tar", &ids[0]]),
        format!("{}\n", ids[0])
    );
    let output = run(e, &["update-runtime-config", "--pod-cidr", "10.88.0.0/16"]);
    assert!(output.status.success());
    let info: Value = serde_json::from_str(&ok(e, &["info"])).unwrap();
    assert_eq!(info["config"]["podCIDR"], "10.88.0.0/16", "{info}");
    // Go's encoding/json of the features: proto names, defaults left out.
    assert_eq!(
        info["features"]["supplemental_groups_policy"], true,
        "{info}"
    );
    assert!(
        info["features"]
            .get("user_namespaces_host_network")
            .is_none()
    );
    let metrics: Value = serde_json::from_str(&ok(e, &["metricsp"])).unwrap();
    assert!(metrics["podMetrics"].is_array(), "{metrics}");
    let descriptors: Value = serde_json::from_str(&ok(e, &["metricdescs"])).unwrap();
    assert!(!descriptors["descriptors"].as_array().unwrap().is_empty());
    assert!(ok(e, &["metricdescs", "-o", "yaml"]).starts_with("descriptors:\n"));
}

#[test]
fn stop_all_exec_by_selection_and_inspect_by_flags() {
    let fake = fake(2, 2);
    let e = fake.endpoint.as_str();
    let running: Vec<String> = ok(e, &["ps", "-q"]).lines().map(String::from).collect();
    assert_eq!(running.len(), 4);
    // exec in every container the flags select, each headed by its ID.
    let out = ok(e, &["exec", "-s", "--last", "2", "echo", "hi"]);
    let expected: String = running[..2]
        .iter()
        .map(|id| format!("{id}:\nhi\n\n\n"))
        .collect();
    assert_eq!(out, expected);
    let quiet = ok(e, &["exec", "-s", "-q", "--latest", "echo", "hi"]);
    assert_eq!(quiet, "hi\n\n\n");
    assert!(fails(e, &["exec", "-s", "--name", "^nosuch$", "echo"]).contains("no containers"));
    // inspect without IDs: the containers the flags select, an array for several.
    let all: Value = serde_json::from_str(&ok(e, &["inspect", "-a", "-q"])).unwrap();
    assert_eq!(all.as_array().unwrap().len(), 4);
    let latest: Value = serde_json::from_str(&ok(e, &["inspect", "--latest"])).unwrap();
    assert_eq!(latest["status"]["id"], running[0].as_str());
    let pod = ok(
        e,
        &[
            "inspectp",
            "--latest",
            "-o",
            "go-template",
            "--template",
            "{{.status.state}}",
        ],
    );
    assert_eq!(pod, "SANDBOX_READY\n");
    // stop --all stops the running ones, and says so when there are none.
    assert!(fails(e, &["stop", "--all", &running[0]]).contains("--all"));
    let stopped = ok(e, &["stop", "--all"]);
    assert_eq!(stopped.lines().count(), 4);
    assert_eq!(ok(e, &["ps", "-q"]), "");
    assert_eq!(ok(e, &["stop", "-a"]), "No running containers found.\n");
}

#[test]
fn images_filter_like_crictl() {
    let fake = fake(1, 1);
    let e = fake.endpoint.as_str();
    let all = ok(e, &["images", "-q"]).lines().count();
    assert!(all >= 2);
    assert_eq!(ok(e, &["images", "-q", "--filter", "dangling=true"]), "");
    assert_eq!(
        ok(e, &["images", "-q", "--filter", "dangling=false"])
            .lines()
            .count(),
        all
    );
    let pause = ok(e, &["images", "-q", "--filter", "reference=pause"]);
    assert_eq!(pause.lines().count(), 1, "{pause}");
    assert!(fails(e, &["images", "--filter", "color=red"]).contains("unknown filter"));
    // since=/before= name an image by NAME:TAG (crictl reads any value with a colon so, an ID
    // with its `sha256:` prefix included).
    let images: Value = serde_json::from_str(&ok(e, &["images", "-o", "json"])).unwrap();
    let first = images["images"][0]["repoTags"][0]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        ok(e, &["images", "-q", "--filter", &format!("since={first}")]),
        ""
    );
    let before = ok(e, &["images", "-q", "--filter", &format!("before={first}")]);
    assert_eq!(before.lines().count(), all - 1, "{before}");
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn logs_previous_and_rm_deleting_logs() {
    let fake = fake(0, 0);
    let e = fake.endpoint.as_str();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("app");
    std::fs::create_dir_all(&logs).unwrap();
    let pod = write(
        dir.path(),
        "pod.json",
        &format!(
            r#"{{"metadata":{{"name":"p","namespace":"default","uid":"u"}},"log_directory":{:?}}}"#,
            logs.to_str().unwrap()
        ),
    );
    let container = |attempt: u32| {
        write(
            dir.path(),
            &format!("ctr{attempt}.json"),
            &format!(
                r#"{{"metadata":{{"name":"app","attempt":{attempt}}},"image":{{"image":"docker.io/library/busybox:1.36"}},"command":["sleep","60"],"log_path":{:?}}}"#,
                format!("{attempt}.log")
            ),
        )
    };
    let first = ok(e, &["run", &container(0), &pod]).trim().to_string();
    let refused = fails(e, &["logs", "--previous", &first]);
    assert!(
        refused.contains("previous terminated container app"),
        "{refused}"
    );
    let pod_id = ok(e, &["pods", "-q"]).trim().to_string();
    let second = ok(e, &["create", &pod_id, &container(1), &pod])
        .trim()
        .to_string();
    std::fs::write(
        logs.join("0.log"),
        "2026-01-02T03:04:05.000000000Z stdout F from attempt 0\n",
    )
    .unwrap();
    assert_eq!(ok(e, &["logs", "-p", &second]), "from attempt 0\n");
    // rm deletes the log and its rotations; --keep-logs keeps them.
    std::fs::write(logs.join("1.log"), "").unwrap();
    std::fs::write(logs.join("1.log.20260102"), "").unwrap();
    ok(e, &["rm", "--keep-logs", &second]);
    assert!(logs.join("1.log").exists());
    let third = ok(e, &["create", &pod_id, &container(1), &pod])
        .trim()
        .to_string();
    ok(e, &["rm", &third]);
    assert!(!logs.join("1.log").exists());
    assert!(!logs.join("1.log.20260102").exists());
    assert!(logs.join("0.log").exists());
}

#[test]
fn a_list_past_16_mib_without_streaming_names_the_flags_that_narrow_it() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::builder()
        .without_stream_rpcs()
        .build();
    fake.seed(12_000, 5);
    let server = runtime
        .block_on(fake.serve_unix(dir.path().join("fake.sock")))
        .unwrap();
    let e = server.endpoint();
    let error = fails(&e, &["ps", "-a", "-q"]);
    assert!(
        error.contains("--state") && error.contains("--label") && !error.contains("ClientBuilder"),
        "{error}"
    );
    // Narrowed by the runtime, the same list fits.
    let pod = fake_pod(&e);
    assert_eq!(
        ok(&e, &["ps", "-a", "-q", "--pod", &pod]).lines().count(),
        5
    );
}

fn fake_pod(endpoint: &str) -> String {
    let pods = ok(endpoint, &["pods", "-q", "--latest"]);
    pods.trim().to_string()
}
