//! cri-fake's streaming server with an independent WebSocket client: Python's
//! `websocket-client` (pinned in tests/python/requirements.txt) speaking
//! `v4.channel.k8s.io` and `v4.base64.channel.k8s.io` (tests/python/ws_exec.py).

use std::process::Command;

use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_fake::FakeRuntime;
use cri_fake::command::{BoxFuture, Builtins, CommandHandler, CommandIo};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
use tonic::transport::Endpoint;

fn python_exec(url: &str, protocol: &str, stdin: &str) -> Value {
    // This crate's own directory (tests/), not the harness's: with a target directory
    // shared between checkouts the harness may have been built from another one.
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("python/ws_exec.py");
    let python = std::env::var("CRI_TESTS_PYTHON").unwrap_or_else(|_| "python3".into());
    let output = Command::new(&python)
        .arg(script)
        .args([url, protocol, stdin])
        .output()
        .unwrap_or_else(|e| {
            cri_tests::missing_peer(
                "Python",
                &format!("cannot run {python}: {e}"),
                cri_tests::python::INSTALL,
            )
        });
    if output.status.code() == Some(3) {
        cri_tests::missing_peer(
            "Python websocket-client",
            String::from_utf8_lossy(&output.stderr).trim(),
            cri_tests::python::INSTALL,
        );
    }
    assert!(
        output.status.success(),
        "ws_exec.py failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("ws_exec.py prints JSON")
}

/// The fake's commands plus `readline`, which echoes one line of stdin, prints `oops` on
/// stderr and exits 7 (the fake's `sh` has no `read`; WebSocket v4 cannot close stdin).
struct WithReadline;

impl CommandHandler for WithReadline {
    fn run(&self, argv: Vec<String>, mut io: CommandIo) -> BoxFuture<'static, i32> {
        if argv.first().map(String::as_str) != Some("readline") {
            return Builtins.run(argv, io);
        }
        Box::pin(async move {
            let mut line = String::new();
            if let Some(stdin) = io.stdin.take() {
                let _ = tokio::io::BufReader::new(stdin).read_line(&mut line).await;
            }
            let _ = io.stdout.write_all(format!("got {line}").as_bytes()).await;
            let _ = io.stderr.write_all(b"oops\n").await;
            7
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_websocket_client_execs_through_the_fake() {
    let runtime = FakeRuntime::builder().command_handler(WithReadline).build();
    let seeded = runtime.seed(1, 1);
    let dir = tempfile::tempdir().unwrap();
    let server = runtime.serve_unix(dir.path().join("f.sock")).await.unwrap();
    let channel = Endpoint::from_shared(server.endpoint())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let mut rt = RuntimeServiceClient::new(channel);
    for protocol in ["v4.channel.k8s.io", "v4.base64.channel.k8s.io"] {
        let request = ExecRequest {
            container_id: seeded.container_ids[0].clone(),
            cmd: vec!["readline".into()],
            stdin: true,
            stdout: true,
            stderr: true,
            tty: false,
        };
        let url = rt.exec(request).await.unwrap().into_inner().url;
        let url2 = url.clone();
        let protocol2 = protocol.to_string();
        let answer = tokio::task::spawn_blocking(move || python_exec(&url2, &protocol2, "hi\n"))
            .await
            .unwrap();
        assert_eq!(answer["protocol"], protocol, "{answer}");
        assert_eq!(answer["stdout"], "got hi\n", "{answer}");
        assert_eq!(answer["stderr"], "oops\n", "{answer}");
        let status = &answer["status"];
        assert_eq!(status["status"], "Failure", "{answer}");
        assert_eq!(status["reason"], "NonZeroExitCode", "{answer}");
        assert_eq!(status["details"]["causes"][0]["reason"], "ExitCode");
        assert_eq!(status["details"]["causes"][0]["message"], "7");

        // Success: the status says so.
        let request = ExecRequest {
            container_id: seeded.container_ids[0].clone(),
            cmd: ["echo", "fine"].map(String::from).to_vec(),
            stdout: true,
            ..Default::default()
        };
        let url = rt.exec(request).await.unwrap().into_inner().url;
        let protocol2 = protocol.to_string();
        let answer = tokio::task::spawn_blocking(move || python_exec(&url, &protocol2, ""))
            .await
            .unwrap();
        assert_eq!(answer["stdout"], "fine\n", "{answer}");
        assert_eq!(answer["status"]["status"], "Success", "{answer}");
    }
}
