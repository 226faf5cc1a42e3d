//! Live parity with the Go crictl v1.36: both tools run every read command in every format
//! against the same runtime, and print the same bytes (JSON compared modulo the one or two
//! spaces Go's protojson writes after a key, at random per build; relative times compared at
//! the same instant: this crictl is given the Go run's clock, and a case is run again when the
//! two straddle a second).
//!
//! The runtimes: the fake (`cri-fake`, with states carrying every optional field it can send:
//! runtime handlers and features, pinned images, exited and created containers, a stopped
//! pod, metrics, events) and containerd 1.6 (`cri_tests::containerd`). The Go crictl is
//! `$CRI_GO_CRICTL` (built by `../shared/peers/build-critools.sh DIR`, which prints `DIR`; the
//! binary is `DIR/crictl`); these tests fail, naming it, when it is not set. No output of the
//! Go tool is recorded anywhere.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use regex::Regex;

fn go_crictl() -> PathBuf {
    let Some(path) = std::env::var_os("CRI_GO_CRICTL") else {
        panic!(
            "CRI_GO_CRICTL is not set: build the Go crictl v1.36 with \
             `sh ../shared/peers/build-critools.sh DIR` and set CRI_GO_CRICTL=DIR/crictl"
        );
    };
    let path = PathBuf::from(path);
    assert!(
        path.is_file(),
        "CRI_GO_CRICTL={} is not a file: build it with `sh ../shared/peers/build-critools.sh DIR`",
        path.display()
    );
    path
}

fn now_nanos() -> i128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as i128
}

/// The time zone both tools print local times in (an offset and an abbreviation that are not
/// UTC's, so that local time is checked).
const TZ: &str = "America/Sao_Paulo";

fn tool(program: &Path, endpoint: &str, args: &[String], now: Option<i128>) -> Output {
    let mut command = Command::new(program);
    command
        .args([
            "--config",
            "/dev/null",
            "-r",
            endpoint,
            "-i",
            endpoint,
            "-t",
            "30s",
        ])
        .args(args)
        .env("TZ", TZ)
        .stdin(Stdio::null());
    support::isolate(&mut command);
    if let Some(now) = now {
        command.env("CRICTL_NOW_UNIX_NANOS", now.to_string());
    }
    command.output().expect("run a crictl")
}

fn ours() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_crictl"))
}

/// JSON keys with one space after the colon (protojson writes one or two), and the times
/// the runtime stamps on each answer (`imagefsinfo`, `metricsp`) masked.
fn key_spaces(text: &str) -> String {
    let key = Regex::new(r#"(?m)^(\s*"[^"]*"):  "#).unwrap();
    let stamp = Regex::new(r#"(?mi)^(\s*"?timestamp(\[\d+\])?"?: "?)\d+"#).unwrap();
    let text = key.replace_all(text, "$1: ");
    stamp.replace_all(&text, "${1}#").into_owned()
}

/// Relative times without their number, and the padding that follows from it.
fn loose(text: &str) -> String {
    let ago = Regex::new(
        r"(\d+ (second|seconds|minute|minutes|hour|hours|day|days|week|weeks|month|months|year|years)|Less than a second|About a minute|About an hour) ago",
    )
    .unwrap();
    let spaces = Regex::new(r" {2,}").unwrap();
    spaces
        .replace_all(&ago.replace_all(&key_spaces(text), "# ago"), "  ")
        .into_owned()
}

fn first_difference(expected: &str, got: &str) -> String {
    let (e, g): (Vec<&str>, Vec<&str>) =
        (expected.split('\n').collect(), got.split('\n').collect());
    for i in 0..e.len().max(g.len()) {
        if e.get(i) != g.get(i) {
            return format!(
                "line {}:\n    go   {:?}\n    ours {:?}",
                i + 1,
                e.get(i),
                g.get(i)
            );
        }
    }
    "same lines".into()
}

/// Runs every case with both tools; the failures, one paragraph each.
fn compare(endpoint: &str, cases: &[Vec<String>]) -> Vec<String> {
    let go = go_crictl();
    let mut failures = Vec::new();
    for args in cases {
        let mut verdict = None;
        for _attempt in 0..4 {
            let at = now_nanos();
            let expected = tool(&go, endpoint, args, None);
            let got = tool(ours(), endpoint, args, Some(at));
            let (e, g) = (
                String::from_utf8_lossy(&expected.stdout).into_owned(),
                String::from_utf8_lossy(&got.stdout).into_owned(),
            );
            if expected.status.success() != got.status.success() {
                verdict = Some(format!(
                    "crictl {}: go {} ours {}\n    go stderr: {}\n    ours stderr: {}",
                    args.join(" "),
                    expected.status,
                    got.status,
                    String::from_utf8_lossy(&expected.stderr).trim(),
                    String::from_utf8_lossy(&got.stderr).trim()
                ));
                break;
            }
            if !expected.status.success() {
                let stderr = String::from_utf8_lossy(&got.stderr);
                verdict = (stderr.trim().lines().count() != 1 || !g.is_empty()).then(|| {
                    format!(
                        "crictl {}: a failure is one line on stderr: {stderr:?}",
                        args.join(" ")
                    )
                });
                break;
            }
            if key_spaces(&e) == key_spaces(&g) {
                verdict = None;
                break;
            }
            verdict = Some(format!(
                "crictl {}: {}",
                args.join(" "),
                first_difference(&key_spaces(&e), &key_spaces(&g))
            ));
            if loose(&e) != loose(&g) {
                break;
            }
            // The same but for a relative time that crossed a second between the runs.
            std::thread::sleep(Duration::from_millis(200));
        }
        failures.extend(verdict);
    }
    failures
}

fn s(args: &[&str]) -> Vec<String> {
    args.iter().map(|a| a.to_string()).collect()
}

fn lines(output: &Output) -> Vec<String> {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

/// Every read command in every format, for the IDs present.
fn read_cases(containers: &[String], pods: &[String], images: &[String]) -> Vec<Vec<String>> {
    let mut cases = vec![
        s(&["version"]),
        s(&["info"]),
        s(&["info", "-q"]),
        s(&["info", "-o", "yaml"]),
        s(&[
            "info",
            "-o",
            "go-template",
            "--template",
            "{{range .status.conditions}}{{.type}}={{.status}} {{end}}",
        ]),
        s(&[
            "info",
            "-o",
            "go-template",
            "--template",
            "{{json .status}}",
        ]),
        s(&["runtime-config"]),
        s(&["imagefsinfo"]),
        s(&["imagefsinfo", "-o", "yaml"]),
        s(&["imagefsinfo", "-o", "table"]),
        s(&[
            "imagefsinfo",
            "-o",
            "go-template",
            "--template",
            "{{range .status.imageFilesystems}}{{.fsId.mountpoint}}{{end}}",
        ]),
        s(&["pods"]),
        s(&["pods", "-v"]),
        s(&["pods", "-q"]),
        s(&["pods", "--no-trunc"]),
        s(&["pods", "-o", "json"]),
        s(&["pods", "-o", "yaml"]),
        s(&["pods", "--state", "ready"]),
        s(&["pods", "--state", "notready", "-q"]),
        s(&["pods", "--latest"]),
        s(&["pods", "--last", "2", "-q"]),
        s(&["ps"]),
        s(&["ps", "-a"]),
        s(&["ps", "-a", "-v"]),
        s(&["ps", "-a", "-q"]),
        s(&["ps", "-a", "--no-trunc"]),
        s(&["ps", "-a", "-o", "json"]),
        s(&["ps", "-a", "-o", "yaml"]),
        s(&["ps", "--state", "exited"]),
        s(&["ps", "-a", "--latest"]),
        s(&["ps", "-a", "--last", "2"]),
        s(&["ps", "-a", "--resolve-image-path"]),
        s(&["images"]),
        s(&["images", "-v"]),
        s(&["images", "-q"]),
        s(&["images", "--digests"]),
        s(&["images", "--no-trunc"]),
        s(&["images", "--pinned"]),
        s(&["images", "-o", "json"]),
        s(&["images", "-o", "yaml"]),
        s(&["images", "--filter", "dangling=false"]),
        s(&["images", "--filter", "reference=busybox"]),
        s(&["metricdescs"]),
        s(&["metricdescs", "-o", "yaml"]),
        s(&["inspect", "nosuchid"]),
        s(&["ps", "-a", "--name", "a", "-q"]),
        s(&["ps", "-a", "--label", "app=app"]),
        s(&["ps", "-a", "--state", "running", "--namespace", "."]),
        s(&["pods", "--name", "."]),
        s(&["pods", "--namespace", "nosuch"]),
        s(&["pods", "--label", "app=nosuch"]),
        s(&[
            "inspect",
            "-a",
            "-o",
            "go-template",
            "--template",
            "{{range .}}{{.status.id}} {{end}}",
        ]),
        s(&["inspect", "--latest", "-o", "yaml"]),
        s(&["inspect", "--state", "exited", "--last", "1"]),
        s(&[
            "inspectp",
            "--latest",
            "-o",
            "go-template",
            "--template",
            "{{.status.metadata.name}} {{.status.state}}",
        ]),
        s(&[
            "inspectp",
            "--state",
            "ready",
            "-o",
            "go-template",
            "--template",
            "{{range .}}{{.status.id}}{{\"\\n\"}}{{end}}",
        ]),
        s(&[
            "inspecti",
            "--filter",
            "dangling=false",
            "-q",
            "-o",
            "go-template",
            "--template",
            "{{range .}}{{.status.id}} {{end}}",
        ]),
        s(&["images", "--filter", "dangling=true"]),
    ];
    if let Some(pod) = pods.first() {
        cases.push(s(&["ps", "-a", "--pod", pod]));
    }
    if let Some(image) = images.first() {
        cases.push(s(&["ps", "-a", "--image", image]));
        cases.push(s(&["images", image]));
        cases.push(s(&["images", "--filter", &format!("before={image}")]));
        cases.push(s(&["images", "--filter", &format!("since={image}")]));
    }
    for (command, ids) in [
        ("inspect", containers),
        ("inspectp", pods),
        ("inspecti", images),
    ] {
        let first = ids.iter().take(2).cloned().collect::<Vec<_>>();
        for format in [
            &["-o", "json"][..],
            &["-o", "yaml"],
            &["-o", "table"],
            &["-q"],
        ] {
            for id in &first {
                let mut case = s(&[command]);
                case.extend(s(format));
                case.push(id.clone());
                cases.push(case);
            }
        }
        let mut several = s(&[command]);
        several.extend(first.iter().cloned());
        cases.push(several);
        if let Some(id) = first.first() {
            for template in [
                "{{.status.id}} {{len .status}}",
                "{{range $k, $v := .status.labels}}{{$k}}={{$v}};{{end}}",
                "{{printf \"%s|%-8v|%q\" .status.id .status.metadata .status.id}}",
                "{{with .status.labels}}{{json .}}{{else}}none{{end}}",
                "{{if eq .status.id \"x\"}}x{{else if .status}}{{upper \"set\"}}{{end}}",
                "{{.status}}",
                "{{.nosuchkey}}",
            ] {
                cases.push(s(&[
                    command,
                    "-o",
                    "go-template",
                    "--template",
                    template,
                    id,
                ]));
            }
        }
    }
    cases
}

fn ids(endpoint: &str, args: &[&str]) -> Vec<String> {
    lines(&tool(ours(), endpoint, &s(args), None))
}

#[test]
fn read_commands_print_what_go_crictl_prints_on_the_fake() {
    go_crictl();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::builder().page_size(3).build();
    fake.seed(3, 2);
    fake.add_image("docker.io/library/nginx:1.27", 67_000_000, true);
    let socket = dir.path().join("fake.sock");
    let server = runtime.block_on(fake.serve_unix(&socket)).unwrap();
    let endpoint = server.endpoint();
    // States with the fields a runtime sends only sometimes: an exited container, a stopped
    // pod (its containers exited), a pinned image beside the fake's own.
    let running = ids(&endpoint, &["ps", "-q"]);
    let pods = ids(&endpoint, &["pods", "-q"]);
    assert!(running.len() >= 4 && pods.len() >= 3);
    lines(&tool(ours(), &endpoint, &s(&["stop", &running[0]]), None));
    lines(&tool(ours(), &endpoint, &s(&["stopp", &pods[2]]), None));
    let containers = ids(&endpoint, &["ps", "-a", "-q"]);
    let images = ids(&endpoint, &["images", "-q"]);
    let mut cases = read_cases(&containers, &pods, &images);
    cases.push(s(&["metricsp"]));
    cases.push(s(&["metricsp", "-o", "yaml"]));
    let failures = compare(&endpoint, &cases);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from the Go crictl on the fake:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
    // Events: both tools subscribe, a container stops, both print its events.
    let go = go_crictl();
    let spawn = |program: &Path, format: &str| {
        support::isolate(&mut Command::new(program))
            .args([
                "--config",
                "/dev/null",
                "-r",
                &endpoint,
                "events",
                "-o",
                format,
            ])
            .env("TZ", TZ)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    for format in ["json", "yaml"] {
        let mut watchers = [spawn(&go, format), spawn(ours(), format)];
        std::thread::sleep(Duration::from_millis(1500));
        let running = ids(&endpoint, &["ps", "-q"]);
        lines(&tool(ours(), &endpoint, &s(&["stop", &running[0]]), None));
        std::thread::sleep(Duration::from_millis(1500));
        let outputs: Vec<String> = watchers
            .iter_mut()
            .map(|child| {
                child.kill().unwrap();
                let output = std::mem::replace(child, Command::new("true").spawn().unwrap())
                    .wait_with_output()
                    .unwrap();
                key_spaces(&String::from_utf8_lossy(&output.stdout))
            })
            .collect();
        assert!(!outputs[0].is_empty(), "the Go crictl printed no event");
        assert_eq!(
            outputs[0],
            outputs[1],
            "events -o {format}: {}",
            first_difference(&outputs[0], &outputs[1])
        );
    }
    drop(server);
}

#[test]
fn read_commands_print_what_go_crictl_prints_on_containerd() {
    go_crictl();
    let containerd = cri_tests::containerd::Containerd::start();
    let endpoint = containerd.endpoint();
    let dir = tempfile::tempdir().unwrap();
    let logs = containerd.log_dir();
    std::fs::create_dir_all(&logs).unwrap();
    let pod = cri_tests::containerd::host_network_pod("parity", "parity-uid", &logs);
    let pod_config = dir.path().join("pod.json");
    std::fs::write(
        &pod_config,
        cri_api_v1::json::to_string(
            &pod,
            cri_api_v1::json::JsonOptions::new().proto_field_names(true),
        )
        .unwrap(),
    )
    .unwrap();
    let container = |name: &str, command: &str| {
        let path = dir.path().join(format!("{name}.json"));
        std::fs::write(
            &path,
            format!(
                r#"{{"metadata":{{"name":"{name}"}},"image":{{"image":"{}"}},"command":["sh","-c","{command}"],"log_path":"{name}.log","labels":{{"app":"{name}"}}}}"#,
                cri_tests::containerd::IMAGE
            ),
        )
        .unwrap();
        path
    };
    let pod_config = pod_config.to_str().unwrap();
    let pod_id = lines(&tool(ours(), &endpoint, &s(&["runp", pod_config]), None)).remove(0);
    for (name, command) in [("app", "sleep 3600"), ("job", "echo done")] {
        let config = container(name, command);
        let id = lines(&tool(
            ours(),
            &endpoint,
            &s(&[
                "create",
                "--no-pull",
                &pod_id,
                config.to_str().unwrap(),
                pod_config,
            ]),
            None,
        ))
        .remove(0);
        lines(&tool(ours(), &endpoint, &s(&["start", &id]), None));
    }
    std::thread::sleep(Duration::from_secs(1));
    let containers = ids(&endpoint, &["ps", "-a", "-q"]);
    let pods = ids(&endpoint, &["pods", "-q"]);
    let images = ids(&endpoint, &["images", "-q"]);
    let cases = read_cases(&containers, &pods, &images);
    let failures = compare(&endpoint, &cases);
    assert!(
        failures.is_empty(),
        "{} of {} cases differ from the Go crictl on containerd:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
