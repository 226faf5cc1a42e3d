//! Golden tests: this crictl against a replay of the runtime state the Go crictl v1.36 saw
//! (`../shared/crictl-golden/`, recorded against containerd 1.6), compared byte for byte. Relative times
//! ("3 seconds ago") are compared without their number, since the recorded runs did not all
//! happen at the recorded instant, and JSON modulo the one or two spaces protojson writes after
//! a key; everything else, padding included, must be identical.

mod replay;

mod support;

use regex::Regex;

struct Run {
    stdout: String,
    stderr: String,
    ok: bool,
}

fn crictl(socket: &str, args: &[&str]) -> Run {
    let now = replay::read("out/now");
    let endpoint = format!("unix://{socket}");
    let output = support::crictl()
        .args([
            "--config",
            "/dev/null",
            "--runtime-endpoint",
            &endpoint,
            "--image-endpoint",
            &endpoint,
        ])
        .args(args)
        .env("CRICTL_NOW_UNIX_NANOS", now.trim())
        // The recordings were made where local time is UTC.
        .env("TZ", "UTC")
        .output()
        .expect("run crictl");
    Run {
        stdout: String::from_utf8(output.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(output.stderr).expect("UTF-8 stderr"),
        ok: output.status.success(),
    }
}

fn normalise(text: &str) -> String {
    let ago =
        Regex::new(r"\b\d+ (second|seconds|minutes|hours|days|weeks|months|years) ago").unwrap();
    // Go's protojson writes one or two spaces after a key, at random per build (`detrand`):
    // the recordings have two, this crictl writes one.
    let key = Regex::new(r#"(?m)^(\s*"[^"]*"):  "#).unwrap();
    let text = key.replace_all(text, "$1: ");
    ago.replace_all(&text, "# $1 ago").into_owned()
}

/// The first line that differs, both ways.
fn first_difference(expected: &str, got: &str) -> String {
    let (e, g) = (normalise(expected), normalise(got));
    let (el, gl): (Vec<&str>, Vec<&str>) = (e.split('\n').collect(), g.split('\n').collect());
    for i in 0..el.len().max(gl.len()) {
        let (a, b) = (el.get(i).copied(), gl.get(i).copied());
        if a != b {
            return format!("line {}:\n  expected {:?}\n  got      {:?}", i + 1, a, b);
        }
    }
    "same lines".into()
}

/// Every recorded case: golden name and arguments.
fn cases(ids: &std::collections::HashMap<String, String>) -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut cases = vec![
        ("version", s(&["version"])),
        ("info", s(&["info"])),
        ("info_json", s(&["info", "-o", "json"])),
        ("info_yaml", s(&["info", "-o", "yaml"])),
        ("ps", s(&["ps"])),
        ("images_plain", s(&["images"])),
        ("runtime_config", s(&["runtime-config"])),
        ("inspect_missing", s(&["inspect", "nosuchid"])),
        ("logs", vec!["logs".into(), ids["ctr_app"].clone()]),
        (
            "logs_ts",
            vec!["logs".into(), "--timestamps".into(), ids["ctr_app"].clone()],
        ),
        (
            "inspect_exited",
            vec!["inspect".into(), ids["ctr_job"].clone()],
        ),
        (
            "inspectp_stopped",
            vec!["inspectp".into(), ids["pod_batch"].clone()],
        ),
    ];
    for format in ["table", "json", "yaml"] {
        let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
        cases.push((leak(format!("pods_{format}")), s(&["pods", "-o", format])));
        cases.push((leak(format!("ps_{format}")), s(&["ps", "-a", "-o", format])));
        cases.push((
            leak(format!("images_{format}")),
            s(&["images", "-o", format]),
        ));
        cases.push((
            leak(format!("stats_{format}")),
            s(&["stats", "-a", "-o", format]),
        ));
        cases.push((
            leak(format!("statsp_{format}")),
            s(&["statsp", "-o", format]),
        ));
        cases.push((
            leak(format!("imagefsinfo_{format}")),
            s(&["imagefsinfo", "-o", format]),
        ));
        cases.push((
            leak(format!("inspect_{format}")),
            vec![
                "inspect".into(),
                "-o".into(),
                format.into(),
                ids["ctr_app"].clone(),
            ],
        ));
        cases.push((
            leak(format!("inspectp_{format}")),
            vec![
                "inspectp".into(),
                "-o".into(),
                format.into(),
                ids["pod_web"].clone(),
            ],
        ));
        cases.push((
            leak(format!("inspecti_{format}")),
            s(&["inspecti", "-o", format, "localhost/busybox:1"]),
        ));
    }
    cases
}

#[test]
fn read_commands_print_what_crictl_v1_36_prints() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let ids = replay::ids();
    // The container's CRI log, as the recorded `logs --timestamps` shows it was written.
    let log = dir.path().join("app.log");
    let mut lines: Vec<String> = Vec::new();
    for (file, stream) in [("out/logs_ts.out", "stdout"), ("out/logs_ts.err", "stderr")] {
        for line in replay::read(file).lines() {
            let (at, content) = line.split_once(' ').unwrap();
            lines.push(format!("{at} {stream} F {content}"));
        }
    }
    lines.sort();
    std::fs::write(&log, lines.join("\n") + "\n").unwrap();
    let mut failures = Vec::new();
    let cases = cases(&ids);
    assert!(cases.len() >= 39, "every recorded read command is covered");
    for (name, args) in &cases {
        let expected_out = replay::read(&format!("out/{name}.out"));
        let expected_ok = replay::read(&format!("out/{name}.rc")).trim() == "0";
        // A runtime per case, in the state of that recording.
        let socket = dir.path().join(format!("{name}.sock"));
        let mut state = replay::Replay::for_case(name);
        if name.starts_with("logs") {
            state = state.with_log_path(&ids["ctr_app"], &log);
        }
        runtime.block_on(replay::serve(state, &socket));
        let run = crictl(
            socket.to_str().unwrap(),
            &args.iter().map(String::as_str).collect::<Vec<_>>(),
        );
        if run.ok != expected_ok {
            failures.push(format!(
                "{name}: exit {} expected {}; stderr: {}",
                run.ok, expected_ok, run.stderr
            ));
            continue;
        }
        if !run.ok {
            if run.stderr.trim().lines().count() != 1 || !run.stdout.is_empty() {
                failures.push(format!(
                    "{name}: a failure is one line on stderr, got {:?}",
                    run.stderr
                ));
            }
            continue;
        }
        if normalise(&run.stdout) != normalise(&expected_out) {
            failures.push(format!(
                "{name} (crictl {}) differs: {}",
                args.join(" "),
                first_difference(&expected_out, &run.stdout)
            ));
        }
        let expected_err = replay::read(&format!("out/{name}.err"));
        if run.stderr != expected_err {
            failures.push(format!(
                "{name}: stderr {:?}, expected {:?}",
                run.stderr, expected_err
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases differ:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
