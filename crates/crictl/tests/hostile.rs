//! Hostile input to crictl (issue 17): numbers that overflow, huge and garbage logs, config
//! files of the wrong shape, endpoints with credentials, deeply nested YAML, the soft
//! open-file limit. Each case asserts no panic (exit code 1 with one line, never 101),
//! bounded memory or time, and the figures it measured (`hostile: …`). Measured on the
//! 2-core development machine, debug builds, before and after the fixes of issue 17:
//!
//! | input | before | after |
//! |---|---|---|
//! | `--timeout 1e20`, `18446744073709551615`; `timeout: 1e30`; `logs --since 1e30` | panic, exit 101 | one line, exit 1 |
//! | `exec -s --timeout -5` | ran without a timeout | refused |
//! | `logs -f`, 65 MiB log | peak RSS 98.7 MB | 40.1 MB (the history is streamed) |
//! | `logs --tail 3`, 65 MiB log | 3.73 s | 16 ms (read from the end) |
//! | a log of 200,000 garbage lines | 200,000 lines on stderr | 11 (10 shown, then the count) |
//! | soft `NOFILE` 64 | kept | raised to the hard limit |
//! | `runtime-endpoint: [1,2]`, an unknown key | ignored: the built-in fake, exit 0 | an error naming the key, exit 1 |
//! | `unix://user:password@/path` | the password echoed | refused, shown as `unix://***@/path` |
//! | 100,000 nested `[` in the config, in a pod config | 77.8 s | 111 ms, 33 ms (refused past 128 levels) |

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use support::crictl;

/// The fake runtime, served in this process on its own tokio runtime.
struct Fake {
    _runtime: tokio::runtime::Runtime,
    dir: tempfile::TempDir,
    endpoint: String,
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
        dir,
        endpoint,
    }
}

fn run(endpoint: &str, args: &[&str]) -> Output {
    crictl()
        .args(["--config", "/dev/null", "-r", endpoint])
        .args(args)
        .output()
        .unwrap()
}

fn write_file(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_str().unwrap().to_string()
}

/// A failure as crictl must fail on bad input: exit code 1 (a panic is 101), one line on
/// stderr that starts with `crictl: `, containing `want`.
fn assert_clean_failure(output: &Output, what: &str, want: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{what}: expected a clean failure, got {:?}: {stderr}",
        output.status
    );
    assert_eq!(stderr.lines().count(), 1, "{what}: one line: {stderr}");
    assert!(stderr.starts_with("crictl: "), "{what}: {stderr}");
    assert!(
        stderr.contains(want),
        "{what}: the message names {want:?}: {stderr}"
    );
}

/// Starts a container in a new pod of `fake` whose log file (at the returned path) already
/// holds `log` when the container starts (the fake appends to it), running `command`.
fn container_with_log(fake: &Fake, log: &[u8], command: &str) -> (String, std::path::PathBuf) {
    let logs = fake.dir.path().join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    let path = logs.join("c.log");
    std::fs::write(&path, log).unwrap();
    let pod = write_file(
        fake.dir.path(),
        "pod.json",
        &format!(
            r#"{{"metadata":{{"name":"p","namespace":"default","uid":"u"}},"log_directory":{:?}}}"#,
            logs.to_str().unwrap()
        ),
    );
    let ctr = write_file(
        fake.dir.path(),
        "ctr.json",
        &format!(
            r#"{{"metadata":{{"name":"c"}},"image":{{"image":"docker.io/library/busybox:1.36"}},
                "command":{command},"log_path":"c.log"}}"#
        ),
    );
    let output = run(&fake.endpoint, &["run", &ctr, &pod]);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let id = String::from_utf8(output.stdout).unwrap().trim().to_string();
    (id, path)
}

/// A CRI log of `lines` stdout lines of about `width` bytes each, numbered.
fn big_log(lines: usize, width: usize) -> Vec<u8> {
    let filler = "x".repeat(width);
    let mut log = Vec::with_capacity(lines * (width + 48));
    for n in 0..lines {
        writeln!(
            log,
            "2024-01-01T00:00:00.000000000Z stdout F {n:08} {filler}"
        )
        .unwrap();
    }
    log
}

/// Runs a command to its end (bounded by `limit`), sampling its peak RSS (`VmHWM`, KiB).
fn run_measured(mut command: Command, limit: Duration) -> (Output, u64, Duration) {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = child.id();
    // Drain the pipes on threads, so that the child never blocks on a full pipe.
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut out, &mut buf).unwrap();
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        std::io::Read::read_to_end(&mut err, &mut buf).unwrap();
        buf
    });
    let mut peak = 0;
    let status = loop {
        if let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status"))
            && let Some(hwm) = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        {
            peak = peak.max(hwm);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("{command:?} did not end within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let took = start.elapsed();
    let output = Output {
        status,
        stdout: out.join().unwrap(),
        stderr: err.join().unwrap(),
    };
    (output, peak, took)
}

// ---------------------------------------------------------------------------------------------
// 6. Numbers that overflow.

#[test]
fn overflowing_and_negative_durations_are_errors_not_panics() {
    let fake = fake(1, 1);
    let e = fake.endpoint.as_str();
    let id = String::from_utf8(run(e, &["ps", "-q"]).stdout).unwrap();
    let id = id.lines().next().expect("a seeded container").to_string();
    for timeout in ["1e20", "18446744073709551615", "-1", "NaN", "inf"] {
        let flag = format!("--timeout={timeout}");
        let output = run(e, &[&flag, "version"]);
        assert_clean_failure(&output, &format!("--timeout {timeout}"), "timeout");
    }
    let config = write_file(fake.dir.path(), "crictl.yaml", "timeout: 1e30\n");
    let output = crictl()
        .args(["--config", &config, "-r", e, "version"])
        .output()
        .unwrap();
    assert_clean_failure(&output, "timeout: 1e30 in the config", "timeout");
    for since in ["1e30", "18446744073709551615s", "9999999999h"] {
        let output = run(e, &["logs", "--since", since, &id]);
        assert_clean_failure(&output, &format!("logs --since {since}"), "--since");
    }
    let output = run(e, &["exec", "-s", "--timeout", "-5", &id, "echo", "x"]);
    assert_clean_failure(&output, "exec -s --timeout -5", "--timeout");
}

// ---------------------------------------------------------------------------------------------
// 8. Big and garbage logs.

/// `logs -f` streams the history instead of reading it all into memory first.
#[test]
fn logs_follow_streams_a_big_history_in_bounded_memory() {
    // 128 Ki lines, 130 MiB: reading the history whole would pass the budget at once, while
    // the streamed history's peak (32-76 MiB measured on a loaded 2-core machine: allocator
    // arenas and the pipe's pace) stays under it.
    let lines = 128 << 10;
    let fake = fake(0, 0);
    let log = big_log(lines, 1000);
    let size = log.len();
    let (id, _) = container_with_log(&fake, &log, r#"["sleep","2"]"#);
    let mut command = crictl();
    command.args([
        "--config",
        "/dev/null",
        "-r",
        &fake.endpoint,
        "logs",
        "-f",
        &id,
    ]);
    let (output, peak, took) = run_measured(command, Duration::from_secs(120));
    println!(
        "hostile: logs -f of a {} MiB log: peak RSS {peak} KiB, {took:?}",
        size >> 20
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        output.stdout.len(),
        size - lines * 40,
        "every message printed"
    );
    assert!(
        peak < 96 << 10,
        "logs -f of a {} MiB log peaked at {peak} KiB",
        size >> 20
    );
}

/// `logs --tail N` reads from the end of the file, not the whole file.
#[test]
fn logs_tail_reads_from_the_end() {
    let fake = fake(0, 0);
    let log = big_log(64 << 10, 1000);
    let (id, _) = container_with_log(&fake, &log, r#"["pause"]"#);
    let mut command = crictl();
    command.args([
        "--config",
        "/dev/null",
        "-r",
        &fake.endpoint,
        "logs",
        "--tail",
        "3",
        &id,
    ]);
    let (output, peak, took) = run_measured(command, Duration::from_secs(120));
    println!(
        "hostile: logs --tail 3 of a {} MiB log: {took:?}, peak RSS {peak} KiB",
        log.len() >> 20
    );
    assert!(output.status.success());
    let text = String::from_utf8(output.stdout).unwrap();
    let numbers: Vec<&str> = text.lines().map(|l| &l[..8]).collect();
    assert_eq!(numbers, ["00065533", "00065534", "00065535"]);
    assert!(
        took < Duration::from_millis(500),
        "logs --tail 3 took {took:?}"
    );
}

/// A garbage log: the errors are capped (a few lines and a count), not one line per line.
#[test]
fn a_garbage_log_reports_a_bounded_number_of_errors() {
    let fake = fake(0, 0);
    let mut log = Vec::new();
    for n in 0..200_000 {
        writeln!(log, "garbage line {n}").unwrap();
    }
    writeln!(log, "2024-01-01T00:00:00Z stdout F the one good line").unwrap();
    let (id, _) = container_with_log(&fake, &log, r#"["pause"]"#);
    let output = run(&fake.endpoint, &["logs", &id]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    println!(
        "hostile: a log of 200,000 garbage lines: {} lines on stderr",
        stderr.lines().count()
    );
    assert_eq!(
        String::from_utf8_lossy(&output.stdout),
        "the one good line\n"
    );
    assert!(
        stderr.lines().count() <= 20,
        "{} error lines for a garbage log",
        stderr.lines().count()
    );
    assert!(
        stderr.contains("200000") || stderr.contains("200,000"),
        "the count of bad lines is reported: {stderr}"
    );
}

// ---------------------------------------------------------------------------------------------
// 9. File descriptors.

/// crictl raises its soft open-file limit to the hard one (the common soft limit is 1024).
#[test]
fn crictl_raises_its_soft_open_file_limit() {
    let fake = fake(1, 1);
    let mut child = support::isolate(&mut Command::new("sh"))
        .arg("-c")
        .arg("ulimit -Sn 64 && exec \"$@\"")
        .arg("sh")
        .arg(env!("CARGO_BIN_EXE_crictl"))
        .args(["--config", "/dev/null", "-r", &fake.endpoint, "events"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // `events` runs until stopped; read its limits once it is connected.
    let mut line = String::new();
    for _ in 0..100 {
        std::thread::sleep(Duration::from_millis(50));
        let limits =
            std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap_or_default();
        let Some(found) = limits.lines().find(|l| l.starts_with("Max open files")) else {
            continue;
        };
        line = found.to_string();
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields[3] == fields[4] {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    println!("hostile: crictl's limits: {line}");
    let fields: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(fields[3], fields[4], "crictl kept its soft limit: {line}");
}

// ---------------------------------------------------------------------------------------------
// 11. The config file.

/// A value of the wrong type, or an unknown key, is an error naming the key: never the
/// built-in fake used instead.
#[test]
fn a_mistyped_config_is_an_error_naming_the_key() {
    let dir = tempfile::tempdir().unwrap();
    for (text, key) in [
        ("runtime-endpoint: [1,2]\n", "runtime-endpoint"),
        ("image-endpoint: {a: b}\n", "image-endpoint"),
        ("debug: maybe\n", "debug"),
        ("timeout: soon\n", "timeout"),
        ("runtime-endpiont: unix:///run/x.sock\n", "runtime-endpiont"),
        ("- runtime-endpoint\n", "mapping"),
    ] {
        let config = write_file(dir.path(), "crictl.yaml", text);
        let output = crictl()
            .args(["--config", &config, "version"])
            .output()
            .unwrap();
        assert_clean_failure(&output, text.trim(), key);
        assert!(
            !String::from_utf8_lossy(&output.stderr).contains("built-in fake"),
            "{text}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// 13. Credentials in endpoints, deeply nested YAML.

#[test]
fn credentials_in_a_unix_endpoint_are_never_echoed() {
    for endpoint in [
        "unix://user:SECRETPW1@/run/x.sock",
        "unix://SECRETPW1@/run/x.sock",
        "tcp://user:SECRETPW1@127.0.0.1:1",
    ] {
        let output = crictl()
            .args(["--config", "/dev/null", "-r", endpoint, "version"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{endpoint}: {stderr}");
        assert!(!stderr.contains("SECRETPW1"), "{endpoint}: {stderr}");
    }
}

/// 100,000 nested `[`: refused at once (a depth limit, as Go's YAML parser has), not parsed
/// in quadratic time.
#[test]
fn deeply_nested_yaml_is_refused_quickly() {
    let fake = fake(0, 0);
    let deep = "[".repeat(100_000);
    let config = write_file(
        fake.dir.path(),
        "crictl.yaml",
        &format!("timeout: {deep}\n"),
    );
    let start = Instant::now();
    let output = crictl()
        .args(["--config", &config, "-r", &fake.endpoint, "version"])
        .output()
        .unwrap();
    let took = start.elapsed();
    println!("hostile: a config of 100,000 nested [: {took:?}");
    assert_clean_failure(&output, "nested config", "nest");
    assert!(took < Duration::from_secs(1), "took {took:?}");
    let pod = write_file(fake.dir.path(), "pod.yaml", &format!("metadata: {deep}\n"));
    let start = Instant::now();
    let output = run(&fake.endpoint, &["runp", &pod]);
    let took = start.elapsed();
    println!("hostile: a pod config of 100,000 nested [: {took:?}");
    assert_clean_failure(&output, "nested pod config", "nest");
    assert!(took < Duration::from_secs(1), "took {took:?}");
}
