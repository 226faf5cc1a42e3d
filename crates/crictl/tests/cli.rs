//! The command line against the fake runtime and against a socket that never answers:
//! every read command in every format, the daily write commands, terminal manners.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

use support::crictl;

struct Fake {
    _runtime: tokio::runtime::Runtime,
    _dir: tempfile::TempDir,
    endpoint: String,
    fake: cri_fake::FakeRuntime,
}

fn fake(pods: usize, per_pod: usize) -> Fake {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    fake.seed(pods, per_pod);
    let socket = dir.path().join("fake.sock");
    let server = runtime.block_on(fake.serve_unix(&socket)).unwrap();
    let endpoint = server.endpoint();
    std::mem::forget(server);
    Fake {
        _runtime: runtime,
        _dir: dir,
        endpoint,
        fake,
    }
}

fn run(endpoint: &str, args: &[&str]) -> Output {
    crictl()
        .args(["--config", "/dev/null", "-r", endpoint])
        .args(args)
        .output()
        .unwrap()
}

fn ok(endpoint: &str, args: &[&str]) -> String {
    let output = run(endpoint, args);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "crictl {args:?} failed: {stderr}");
    assert!(
        stderr.is_empty(),
        "crictl {args:?} wrote to stderr: {stderr}"
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
fn every_read_command_in_every_format_against_the_fake() {
    let fake = fake(3, 2);
    let e = fake.endpoint.as_str();
    let ps: Value = serde_json::from_str(&ok(e, &["ps", "-a", "-o", "json"])).unwrap();
    let container = ps["containers"][0]["id"].as_str().unwrap().to_string();
    let pod = ps["containers"][0]["podSandboxId"]
        .as_str()
        .unwrap()
        .to_string();
    let image = ps["containers"][0]["image"]["image"]
        .as_str()
        .unwrap()
        .to_string();
    let commands: Vec<Vec<&str>> = vec![
        vec!["pods"],
        vec!["ps", "-a"],
        vec!["images"],
        vec!["inspect", &container],
        vec!["inspectp", &pod],
        vec!["inspecti", &image],
        vec!["imagefsinfo"],
        vec!["stats", "-a", "-s", "0"],
        vec!["statsp", "-s", "0"],
    ];
    for command in &commands {
        for format in ["table", "json", "yaml"] {
            let mut args = command.clone();
            args.extend(["-o", format]);
            let text = ok(e, &args);
            match format {
                "json" => {
                    serde_json::from_str::<Value>(&text)
                        .unwrap_or_else(|err| panic!("{args:?}: not JSON: {err}\n{text}"));
                }
                "yaml" => {
                    serde_yaml::from_str::<serde_yaml::Value>(&text)
                        .unwrap_or_else(|err| panic!("{args:?}: not YAML: {err}\n{text}"));
                }
                _ => assert!(!text.is_empty(), "{args:?} printed nothing"),
            }
        }
    }
    for args in [vec!["version"], vec!["info"], vec!["info", "-o", "yaml"]] {
        assert!(!ok(e, &args).is_empty());
    }
    let version = ok(e, &["version"]);
    assert!(
        version.starts_with("Version:  0.1.0\nRuntimeName:  cri-fake\n"),
        "{version}"
    );
}

#[test]
fn ps_json_selects_by_state_like_the_go_crictl() {
    let fake = fake(4, 3);
    let e = fake.endpoint.as_str();
    let ps: Value = serde_json::from_str(&ok(e, &["ps", "-a", "-o", "json"])).unwrap();
    let containers = ps["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 12);
    // jq '.containers[]|select(.state=="CONTAINER_RUNNING")'
    let running = containers
        .iter()
        .filter(|c| c["state"] == "CONTAINER_RUNNING")
        .count();
    let table = ok(e, &["ps", "-q"]);
    assert_eq!(running, table.lines().count());
    assert!(running > 0);
    // Newest first, as crictl sorts.
    let created: Vec<i64> = containers
        .iter()
        .map(|c| c["createdAt"].as_str().unwrap().parse().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "{created:?}");
    let pods: Value = serde_json::from_str(&ok(e, &["pods", "-o", "json"])).unwrap();
    assert!(
        pods["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["state"] == "SANDBOX_READY")
    );
}

#[test]
fn filters_quiet_and_truncation() {
    let fake = fake(3, 2);
    let e = fake.endpoint.as_str();
    let all: Vec<String> = ok(e, &["ps", "-a", "-q"])
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(all.len(), 6);
    assert!(all.iter().all(|id| id.len() == 64));
    assert_eq!(ok(e, &["ps", "-a", "-q", "--last", "2"]).lines().count(), 2);
    assert_eq!(ok(e, &["ps", "-q", "--latest"]).lines().count(), 1);
    assert_eq!(
        ok(e, &["ps", "-a", "-q", "--name", "^nomatch$"])
            .lines()
            .count(),
        0
    );
    let table = ok(e, &["ps", "-a"]);
    let first = table.lines().nth(1).unwrap();
    assert_eq!(
        first.split_whitespace().next().unwrap().len(),
        13,
        "{table}"
    );
    let wide = ok(e, &["ps", "-a", "--no-trunc"]);
    assert!(
        wide.lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .next()
            .unwrap()
            .len()
            == 64
    );
    let pods = ok(e, &["pods", "-q"]);
    let pod = pods.lines().next().unwrap();
    assert_eq!(ok(e, &["ps", "-a", "-q", "--pod", pod]).lines().count(), 2);
    let inspected: Value = serde_json::from_str(&ok(e, &["inspect", &all[0], &all[1]])).unwrap();
    assert_eq!(
        inspected.as_array().map(Vec::len),
        Some(2),
        "several IDs give an array"
    );
    let images = ok(e, &["images", "--digests", "--pinned"]);
    assert!(
        images.starts_with("IMAGE") && images.lines().next().unwrap().ends_with("PINNED"),
        "{images}"
    );
    assert_eq!(
        ok(e, &["images", "-q", "registry.k8s.io/pause:3.10"])
            .lines()
            .count(),
        1
    );
}

fn write_config(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn the_daily_write_commands() {
    let fake = fake(0, 0);
    let e = fake.endpoint.as_str();
    let dir = tempfile::tempdir().unwrap();
    // crictl's config format: proto field names, enums as numbers; YAML works too.
    let pod_config = write_config(
        dir.path(),
        "pod.json",
        r#"{"metadata":{"name":"web","namespace":"default","uid":"web-uid","attempt":1},
            "log_directory":"/tmp/logs","linux":{"security_context":{"namespace_options":{"network":2}}}}"#,
    );
    let container_config = write_config(
        dir.path(),
        "ctr.yaml",
        "metadata:\n  name: app\nimage:\n  image: docker.io/library/busybox:1.36\ncommand: [sleep, '3600']\nlog_path: app.log\n",
    );
    let pulled = ok(
        e,
        &[
            "pull",
            "--creds",
            "user:secret",
            "docker.io/library/busybox:1.36",
        ],
    );
    assert!(pulled.starts_with("Image is up to date for "), "{pulled}");
    assert!(!pulled.contains("secret"));
    let pod = ok(e, &["runp", &pod_config]).trim().to_string();
    assert_eq!(pod.len(), 64);
    let ctr = ok(e, &["create", &pod, &container_config, &pod_config])
        .trim()
        .to_string();
    assert_eq!(ok(e, &["start", &ctr]).trim(), ctr);
    assert_eq!(ok(e, &["ps", "-q"]).trim(), ctr);
    let refused = run(e, &["rm", &ctr]);
    assert!(
        !refused.status.success(),
        "a running container is not removed without --force"
    );
    assert_eq!(ok(e, &["stop", &ctr]).trim(), ctr);
    assert_eq!(ok(e, &["rm", &ctr]).trim(), ctr);
    assert_eq!(
        ok(e, &["stopp", &pod]).trim(),
        format!("Stopped sandbox {pod}")
    );
    assert_eq!(
        ok(e, &["rmp", &pod]).trim(),
        format!("Removed sandbox {pod}")
    );
    assert_eq!(fake.fake.pod_count(), 0);
    let ran = ok(e, &["run", "--no-pull", &container_config, &pod_config])
        .trim()
        .to_string();
    assert_eq!(ok(e, &["ps", "-q"]).trim(), ran);
    assert_eq!(ok(e, &["rm", "-f", "-a"]).trim(), ran);
    assert!(ok(e, &["rmp", "-f", "-a"]).starts_with("Removed sandbox "));
    let removed = ok(e, &["rmi", "registry.k8s.io/pause:3.10"]);
    assert_eq!(removed.trim(), "Deleted: registry.k8s.io/pause:3.10");
    assert!(ok(e, &["rmi", "--prune"]).contains("Deleted: docker.io/library/busybox:1.36"));
    assert_eq!(ok(e, &["images", "-q"]), "");
}

#[test]
fn env_values_in_configs_are_text_as_go_crictl_reads_them() {
    // `KeyValue.value` is `bytes` since cri-api v0.36.2; Go crictl v1.36.0 still reads and
    // prints it as a string, and so must a drop-in (not as base64).
    let fake = fake(0, 0);
    let e = fake.endpoint.as_str();
    let dir = tempfile::tempdir().unwrap();
    let pod_config = write_config(
        dir.path(),
        "pod.json",
        r#"{"metadata":{"name":"env","namespace":"default","uid":"env-uid"}}"#,
    );
    let container_config = write_config(
        dir.path(),
        "ctr.json",
        r#"{"metadata":{"name":"app"},"image":{"image":"docker.io/library/busybox:1.36"},
            "command":["sleep","3600"],"envs":[{"key":"FOO","value":"bar"},{"key":"GREETING","value":"grüß dich"}]}"#,
    );
    let ctr = ok(e, &["run", "--no-pull", &container_config, &pod_config])
        .trim()
        .to_string();
    let printed = ok(
        e,
        &["exec", "-s", &ctr, "sh", "-c", "echo \"$FOO|$GREETING\""],
    );
    assert!(printed.starts_with("bar|grüß dich\n"), "{printed:?}");
}

#[test]
fn a_socket_that_never_answers_fails_after_the_timeout_naming_the_endpoint() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("silent.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    // Accept and hold connections, never answering.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let endpoint = format!("unix://{}", path.display());
    let started = Instant::now();
    let output = crictl()
        .args(["--config", "/dev/null", "-t", "2s", "-r", &endpoint, "ps"])
        .output()
        .unwrap();
    let elapsed = started.elapsed();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        elapsed >= Duration::from_millis(1900) && elapsed < Duration::from_secs(6),
        "took {elapsed:?}"
    );
    assert!(stderr.contains(&endpoint), "names the endpoint: {stderr}");
    assert!(stderr.contains("2s"), "names the deadline: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "one line: {stderr}");
}

#[test]
fn a_closed_pipe_ends_quietly_with_success() {
    let fake = fake(1000, 5);
    let mut child = crictl()
        .args(["--config", "/dev/null", "-r", &fake.endpoint, "ps", "-a"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("CONTAINER"));
    // The reader is gone (like `| head -1`).
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "exit {:?}", output.status);
    assert_eq!(String::from_utf8_lossy(&output.stderr), "");
}

#[test]
fn errors_are_one_line_with_a_non_zero_exit() {
    let fake = fake(1, 1);
    let output = run(&fake.endpoint, &["inspect", "nosuchid"]);
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.starts_with("crictl: "), "{stderr}");
    let output = run(&fake.endpoint, &["ps", "--state", "sleeping"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("--state"));
}

#[test]
fn the_config_file_and_environment_choose_the_endpoint() {
    let fake = fake(2, 1);
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "crictl.yaml",
        &format!("runtime-endpoint: {}\ntimeout: 5\n", fake.endpoint),
    );
    let output = crictl()
        .args(["--config", &config, "pods", "-q"])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 2);
    let output = crictl()
        .args(["--config", "/dev/null", "pods", "-q"])
        .env("CONTAINER_RUNTIME_ENDPOINT", &fake.endpoint)
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 2);
    // `unix:/path` is an absolute path, as gRPC reads it.
    let path = fake.endpoint.strip_prefix("unix://").unwrap();
    let output = run(&format!("unix:{path}"), &["pods", "-q"]);
    assert_eq!(String::from_utf8_lossy(&output.stdout).lines().count(), 2);
}

#[test]
fn without_any_runtime_it_serves_the_built_in_fake_and_says_so() {
    let present = crate_default_socket_present();
    let output = crictl()
        .args(["--config", "/dev/null", "ps"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    if !present {
        assert!(stderr.contains("built-in fake runtime"), "{stderr}");
        assert!(String::from_utf8_lossy(&output.stdout).starts_with("CONTAINER "));
    }
}

fn crate_default_socket_present() -> bool {
    [
        "/run/containerd/containerd.sock",
        "/run/crio/crio.sock",
        "/var/run/cri-dockerd.sock",
    ]
    .iter()
    .any(|p| Path::new(p).exists())
}

#[test]
fn logs_read_the_cri_log_of_a_container() {
    let fake = fake(0, 0);
    let e = fake.endpoint.as_str();
    let dir = tempfile::tempdir().unwrap();
    let logs = dir.path().join("logs");
    let pod_config = write_config(
        dir.path(),
        "pod.json",
        &format!(
            r#"{{"metadata":{{"name":"p","namespace":"default","uid":"u"}},"log_directory":{:?}}}"#,
            logs.to_str().unwrap()
        ),
    );
    // An absolute log_path: cri-fake reports a relative one as it was configured, where
    // containerd reports the joined path.
    let container_config = write_config(
        dir.path(),
        "ctr.json",
        &format!(
            r#"{{"metadata":{{"name":"c"}},"image":{{"image":"docker.io/library/busybox:1.36"}},
                "command":["sh","-c","echo hello; echo oops >&2; printf part; sleep 1; echo done"],"log_path":{:?}}}"#,
            logs.join("c.log").to_str().unwrap()
        ),
    );
    let id = ok(e, &["run", &container_config, &pod_config])
        .trim()
        .to_string();
    // -f follows until the container exits.
    let started = Instant::now();
    let followed = run(e, &["logs", "-f", &id]);
    assert!(
        followed.status.success(),
        "{}",
        String::from_utf8_lossy(&followed.stderr)
    );
    assert!(
        started.elapsed() >= Duration::from_millis(500),
        "-f waited for the container"
    );
    assert_eq!(
        String::from_utf8_lossy(&followed.stdout),
        "hello\npartdone\n"
    );
    assert_eq!(String::from_utf8_lossy(&followed.stderr), "oops\n");
    let all = run(e, &["logs", &id]);
    assert_eq!(String::from_utf8_lossy(&all.stdout), "hello\npartdone\n");
    assert_eq!(String::from_utf8_lossy(&all.stderr), "oops\n");
    let tail = run(e, &["logs", "--tail", "1", &id]);
    assert_eq!(String::from_utf8_lossy(&tail.stdout), "partdone\n");
    assert_eq!(String::from_utf8_lossy(&tail.stderr), "");
    let stdout_only = run(e, &["logs", "--stream", "stdout", &id]);
    assert_eq!(String::from_utf8_lossy(&stdout_only.stderr), "");
    let stamped = ok(e, &["logs", "--stream", "stdout", "--timestamps", &id]);
    let first = stamped.lines().next().unwrap();
    assert!(first.ends_with("Z hello") && first.len() > 25, "{first}");
    let limited = ok(
        e,
        &["logs", "--stream", "stdout", "--limit-bytes", "3", &id],
    );
    assert_eq!(limited, "hel");
    let future = ok(e, &["logs", "--since", "2999-01-01T00:00:00Z", &id]);
    assert_eq!(future, "");
}

#[test]
fn exec_sync_prints_the_output_and_exits_with_the_code() {
    let fake = fake(1, 1);
    let e = fake.endpoint.as_str();
    let id = ok(e, &["ps", "-q"]).trim().to_string();
    let output = run(
        e,
        &[
            "exec",
            "--sync",
            &id,
            "sh",
            "-c",
            "echo out; echo err >&2; exit 3",
        ],
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "out\n");
    assert_eq!(String::from_utf8_lossy(&output.stderr), "err\n");
    assert_eq!(output.status.code(), Some(3));
    // Success: crictl's layout, stdout, a newline, stderr, a newline, all on stdout.
    assert_eq!(ok(e, &["exec", "-s", &id, "echo", "-n", "x"]), "x\n\n");
    assert_eq!(ok(e, &["exec", "-s", &id, "echo", "hi"]), "hi\n\n\n");
}

#[test]
fn config_gets_and_sets_the_config_file() {
    let fake = fake(1, 1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("crictl.yaml");
    let config = path.to_str().unwrap();
    let status = crictl()
        .args([
            "--config",
            config,
            "config",
            "--set",
            &format!("runtime-endpoint={},timeout=5", fake.endpoint),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let got = crictl()
        .args(["--config", config, "config", "--get", "runtime-endpoint"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&got.stdout).trim(), fake.endpoint);
    let listed = crictl()
        .args(["--config", config, "config", "--list"])
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("timeout"),
        "{listed:?}"
    );
    // The written file is what the next run connects with.
    let pods = crictl()
        .args(["--config", config, "pods", "-q"])
        .output()
        .unwrap();
    assert!(
        pods.status.success(),
        "{}",
        String::from_utf8_lossy(&pods.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&pods.stdout).lines().count(), 1);
    let bad = crictl()
        .args(["--config", config, "config", "--set", "colour=blue"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[test]
fn exec_and_attach_stream_through_the_runtime() {
    let fake = fake(1, 1);
    let e = fake.endpoint.as_str();
    let id = ok(e, &["ps", "-q"]).trim().to_string();
    for transport in ["spdy", "websocket", "auto"] {
        let output = run(
            e,
            &[
                "exec",
                "--transport",
                transport,
                &id,
                "sh",
                "-c",
                "echo out; echo err >&2; exit 4",
            ],
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stdout),
            "out\n",
            "{transport}: {output:?}"
        );
        assert_eq!(
            String::from_utf8_lossy(&output.stderr),
            "err\n",
            "{transport}"
        );
        assert_eq!(output.status.code(), Some(4), "{transport}");
    }
}

#[test]
fn port_forward_carries_data_both_ways_over_each_transport() {
    use std::io::{Read, Write};
    let fake = fake(1, 1);
    let e = fake.endpoint.as_str();
    let pod = ok(e, &["pods", "-q"]).trim().to_string();
    for transport in ["spdy", "websocket"] {
        let mut child = crictl()
            .args([
                "--config",
                "/dev/null",
                "-r",
                e,
                "port-forward",
                "--transport",
            ])
            .args([transport, &pod, ":8080"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        // "Forwarding from 127.0.0.1:PORT -> 8080", as crictl prints it.
        let local = line
            .strip_prefix("Forwarding from ")
            .and_then(|rest| rest.strip_suffix(" -> 8080\n"))
            .unwrap_or_else(|| panic!("{transport}: unexpected first line {line:?}"));
        // The fake's default port-forward target echoes what it gets.
        let payload: Vec<u8> = (0..200_000u32).map(|i| (i % 251) as u8).collect();
        let mut conn = std::net::TcpStream::connect(local).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut writer = conn.try_clone().unwrap();
        let sent = payload.clone();
        let send = std::thread::spawn(move || writer.write_all(&sent));
        let mut echoed = vec![0; payload.len()];
        conn.read_exact(&mut echoed).unwrap();
        send.join().unwrap().unwrap();
        assert!(echoed == payload, "{transport}: the echo differs");
        child.kill().unwrap();
        child.wait().unwrap();
    }
}
