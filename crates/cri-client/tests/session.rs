//! Exec, attach and port forward in one call (feature `streaming`), against the fake runtime
//! and its streaming server over each transport. (containerd 1.6: `tests/tests/client_containerd.rs`.)

use cri_api_v1 as v1;
use cri_client::Client;
use cri_client::session::Transport;
use cri_fake::FakeRuntime;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

struct Fake {
    _dir: tempfile::TempDir,
    _server: cri_fake::ServerHandle,
    client: Client,
    pod: String,
    ctr: String,
}

async fn fake() -> Fake {
    let runtime = FakeRuntime::new();
    let seeded = runtime.seed(1, 1);
    let dir = tempfile::tempdir().unwrap();
    let server = runtime
        .serve_unix(dir.path().join("cri.sock"))
        .await
        .unwrap();
    let client = Client::builder(server.endpoint()).connect().await.unwrap();
    Fake {
        _dir: dir,
        _server: server,
        client,
        pod: seeded.pod_ids[0].clone(),
        ctr: seeded.container_ids[0].clone(),
    }
}

const TRANSPORTS: [Transport; 2] = [Transport::Spdy, Transport::WebSocket];

/// Every step of a session within 10 s: a hang fails the test.
async fn bounded<T>(step: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(std::time::Duration::from_secs(10), step)
        .await
        .expect("the session step did not finish within 10 s")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_output_in_one_call() {
    let fake = fake().await;
    for transport in TRANSPORTS {
        let run = fake
            .client
            .exec(&fake.ctr, ["sh", "-c", "cat; echo err >&2; exit 3"])
            .transport(transport)
            .output(b"piped\n");
        let output = bounded(run).await.unwrap();
        assert_eq!(
            (
                output.stdout.as_slice(),
                output.stderr.as_slice(),
                output.exit_code
            ),
            (&b"piped\n"[..], &b"err\n"[..], 3),
            "{transport}"
        );
    }
    // The default transport (SPDY) and no input.
    let output = bounded(fake.client.exec(&fake.ctr, ["true"]).output(b""))
        .await
        .unwrap();
    assert_eq!(output.exit_code, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_session_with_stdin_terminal_resize_and_exit_code() {
    let fake = fake().await;
    for transport in TRANSPORTS {
        let start = fake
            .client
            .exec(&fake.ctr, ["sh"])
            .stdin(true)
            .tty(true)
            .transport(transport)
            .start();
        let mut session = bounded(start).await.unwrap();
        assert_eq!(session.transport(), transport);
        assert!(session.stderr.is_none(), "a terminal has no stderr");
        let resizer = session.resizer().expect("a terminal can be resized");
        bounded(resizer.resize(120, 40)).await.unwrap();
        let mut stdin = session.stdin.take().unwrap();
        let mut stdout = session.stdout.take().unwrap();
        bounded(stdin.write_all(b"echo on the terminal\nexit 7\n"))
            .await
            .unwrap();
        bounded(stdin.shutdown()).await.unwrap();
        let mut output = String::new();
        bounded(stdout.read_to_string(&mut output)).await.unwrap();
        assert_eq!(output, "on the terminal\n", "{transport}");
        assert_eq!(bounded(session.wait()).await.unwrap(), 7, "{transport}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_and_port_forward_in_one_call() {
    let fake = fake().await;
    // A container whose one program echoes its stdin: attached, a line in comes back out.
    let ctr = fake
        .client
        .create_container(v1::CreateContainerRequest {
            pod_sandbox_id: fake.pod.clone(),
            config: Some(v1::ContainerConfig {
                metadata: Some(v1::ContainerMetadata {
                    name: "shell".into(),
                    attempt: 0,
                }),
                image: Some(v1::ImageSpec {
                    image: "busybox:1.36".into(),
                    ..Default::default()
                }),
                command: vec!["cat".into()],
                stdin: true,
                ..Default::default()
            }),
            sandbox_config: None,
        })
        .await
        .unwrap()
        .container_id;
    fake.client
        .start_container(v1::StartContainerRequest {
            container_id: ctr.clone(),
        })
        .await
        .unwrap();
    for transport in TRANSPORTS {
        let start = fake
            .client
            .attach(&ctr)
            .stdin(true)
            .transport(transport)
            .start();
        let mut session = bounded(start).await.unwrap();
        let mut stdin = session.stdin.take().unwrap();
        let mut stdout = session.stdout.take().unwrap();
        let sent = format!("attached over {transport}\n");
        bounded(stdin.write_all(sent.as_bytes())).await.unwrap();
        bounded(stdin.flush()).await.unwrap();
        let mut line = vec![0u8; sent.len()];
        bounded(stdout.read_exact(&mut line)).await.unwrap();
        assert_eq!(line, sent.as_bytes(), "{transport}");
    }

    // The fake's ports echo.
    let forward = bounded(fake.client.port_forward(&fake.pod, [8080]).start())
        .await
        .unwrap();
    let mut connection = bounded(forward.connect(8080)).await.unwrap();
    bounded(connection.write_all(b"ping")).await.unwrap();
    let mut echoed = [0u8; 4];
    bounded(connection.read_exact(&mut echoed)).await.unwrap();
    assert_eq!(&echoed, b"ping");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_cannot_start_names_the_rpc() {
    let fake = fake().await;
    let error = fake
        .client
        .exec("no-such-container", ["true"])
        .start()
        .await
        .unwrap_err();
    // The runtime refused the RPC: its error, not a streaming one.
    assert!(
        error.to_string().starts_with("RuntimeService/Exec: "),
        "{error}"
    );
    assert_eq!(error.code(), Some(tonic::Code::NotFound), "{error}");
}
