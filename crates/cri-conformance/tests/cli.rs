//! The binary's manners: one-line errors, exit codes, `--list`, `--focus`, the JUnit file and
//! the list of expected failures (which must stay true).

mod common;

use std::process::Command;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cri-conformance"))
}

#[test]
fn an_unreachable_runtime_is_one_line_and_exit_2() {
    let out = bin()
        .args([
            "--runtime-endpoint",
            "unix:///nonexistent/cri-conformance.sock",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.starts_with("cri-conformance: cannot use the runtime at unix:///nonexistent"),
        "{stderr}"
    );
}

#[test]
fn a_bad_regex_is_refused() {
    let out = bin()
        .args(["--runtime-endpoint", "unix:///x.sock", "--focus", "("])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--focus"));
}

#[test]
fn list_honours_focus() {
    let out = bin()
        .args([
            "--runtime-endpoint",
            "unix:///x.sock",
            "--list",
            "--focus",
            "^pod::",
        ])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.lines().count() >= 5, "{stdout}");
    assert!(stdout.lines().all(|l| l.starts_with("pod::")), "{stdout}");
}

#[test]
fn junit_and_expected_failures_against_the_fake() {
    let served = common::serve(
        cri_fake::FakeRuntime::builder()
            .without_stream_rpcs()
            .build(),
        common::Fault::None,
    );
    let dir = tempfile::tempdir().unwrap();
    let junit = dir.path().join("junit.xml");
    let expected = dir.path().join("expected.txt");
    std::fs::write(
        &expected,
        "# no Stream* RPCs\nlist_stream::containers_equal_unary  # no Stream*\n",
    )
    .unwrap();
    let run = |list: &std::path::Path| {
        bin()
            .args([
                "--runtime-endpoint",
                &served.endpoint,
                "--focus",
                "^list_stream::containers",
            ])
            .arg("--junit")
            .arg(&junit)
            .arg("--expected-failures")
            .arg(list)
            .output()
            .unwrap()
    };
    let out = run(&expected);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("name=\"list_stream::containers_equal_unary\""),
        "{xml}"
    );
    assert!(
        xml.contains("<failure message=\"the runtime has no containers"),
        "{xml}"
    );
    // A listed spec that passes makes the run fail: the list stays true.
    std::fs::write(
        &expected,
        "list_stream::client_fallback_equal  # wrong\nlist_stream::containers_equal_unary\n",
    )
    .unwrap();
    let out = bin()
        .args([
            "--runtime-endpoint",
            &served.endpoint,
            "--focus",
            "^list_stream::(containers|client)",
        ])
        .arg("--expected-failures")
        .arg(&expected)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(
            "listed as an expected failure but passed: list_stream::client_fallback_equal"
        )
    );
}
