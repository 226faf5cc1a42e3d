//! cri-fake's streaming server (`Exec`, `Attach`, `PortForward` URLs) with the project's
//! client, over each transport, through the fake's gRPC socket as a tool would use it.

use std::time::Duration;

use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_fake::FakeRuntime;
use cri_streaming::client::{self, Error, ExecOptions, PortForwardOptions, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tonic::transport::{Channel, Endpoint};

/// The transports every test runs over.
const TRANSPORTS: &[Transport] = &[Transport::WebSocket, Transport::Spdy];

struct Fake {
    _dir: tempfile::TempDir,
    _server: cri_fake::ServerHandle,
    client: RuntimeServiceClient<Channel>,
    pod: String,
    ctr: String,
}

async fn fake(runtime: FakeRuntime) -> Fake {
    let seeded = runtime.seed(1, 1);
    let dir = tempfile::tempdir().unwrap();
    let socket = dir.path().join("fake.sock");
    let server = runtime.serve_unix(&socket).await.unwrap();
    let channel = Endpoint::from_shared(server.endpoint())
        .unwrap()
        .connect()
        .await
        .expect("connect over the Unix socket");
    Fake {
        _dir: dir,
        _server: server,
        client: RuntimeServiceClient::new(channel),
        pod: seeded.pod_ids[0].clone(),
        ctr: seeded.container_ids[0].clone(),
    }
}

impl Fake {
    async fn exec_url(&mut self, cmd: &[&str], stdin: bool, tty: bool) -> (String, ExecRequest) {
        let request = ExecRequest {
            container_id: self.ctr.clone(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            stdin,
            stdout: true,
            stderr: !tty,
            tty,
        };
        let url = self
            .client
            .exec(request.clone())
            .await
            .unwrap()
            .into_inner()
            .url;
        (url, request)
    }

    async fn run(&mut self, transport: Transport, cmd: &[&str], input: &[u8]) -> client::Output {
        let (url, request) = self.exec_url(cmd, !input.is_empty(), false).await;
        let options = ExecOptions::from_exec_request(&request).transport(transport);
        let session = client::exec(&url, &options).await.unwrap();
        assert_eq!(session.transport(), transport);
        session.output(input).await.unwrap()
    }
}

#[tokio::test]
async fn exec_through_the_command_set() {
    let mut fake = fake(FakeRuntime::new()).await;
    for &transport in TRANSPORTS {
        let out = fake
            .run(
                transport,
                &["sh", "-c", "echo out; echo err >&2; exit 3"],
                b"",
            )
            .await;
        assert_eq!(
            (&out.stdout[..], &out.stderr[..], out.exit_code),
            (&b"out\n"[..], &b"err\n"[..], 3),
            "{transport}"
        );
        let out = fake.run(transport, &["true"], b"").await;
        assert_eq!(out.exit_code, 0, "{transport}");
        let out = fake.run(transport, &["cat"], b"piped through\n").await;
        assert_eq!(out.stdout, b"piped through\n", "{transport}");
        let out = fake.run(transport, &["no-such-tool"], b"").await;
        assert_eq!(out.exit_code, 127, "{transport}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("no-such-tool: not found"),
            "{transport}: {out:?}"
        );
        // The container's environment.
        let out = fake.run(transport, &["env"], b"").await;
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("PATH="),
            "{transport}"
        );
    }
}

#[tokio::test]
async fn exec_with_a_terminal() {
    let mut fake = fake(FakeRuntime::new()).await;
    for &transport in TRANSPORTS {
        let (url, request) = fake
            .exec_url(
                &["sh", "-c", "echo on the terminal; echo also >&2"],
                false,
                true,
            )
            .await;
        let options = ExecOptions::from_exec_request(&request).transport(transport);
        let session = client::exec(&url, &options).await.unwrap();
        assert!(session.stderr.is_none());
        assert!(session.resizer().is_some(), "{transport}");
        let out = session.output(b"").await.unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "on the terminal\nalso\n",
            "{transport}"
        );
    }
}

#[tokio::test]
async fn attach_reaches_the_containers_running_program() {
    let mut fake = fake(FakeRuntime::new()).await;
    // A container whose one program echoes its stdin: each attach writes to that stdin and
    // reads the program's output (a fresh run of `cat` would not have the earlier lines).
    let pod = fake
        .client
        .run_pod_sandbox(RunPodSandboxRequest {
            config: Some(PodSandboxConfig {
                metadata: Some(PodSandboxMetadata {
                    name: "attach".into(),
                    uid: "u1".into(),
                    namespace: "default".into(),
                    attempt: 0,
                }),
                ..Default::default()
            }),
            runtime_handler: String::new(),
        })
        .await
        .unwrap()
        .into_inner()
        .pod_sandbox_id;
    let ctr = fake
        .client
        .create_container(CreateContainerRequest {
            pod_sandbox_id: pod,
            config: Some(ContainerConfig {
                metadata: Some(ContainerMetadata {
                    name: "shell".into(),
                    attempt: 0,
                }),
                image: Some(ImageSpec {
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
        .into_inner()
        .container_id;
    fake.client
        .start_container(StartContainerRequest {
            container_id: ctr.clone(),
        })
        .await
        .unwrap();
    for &transport in TRANSPORTS {
        let request = AttachRequest {
            container_id: ctr.clone(),
            stdin: true,
            stdout: true,
            stderr: true,
            tty: false,
        };
        let url = fake
            .client
            .attach(request.clone())
            .await
            .unwrap()
            .into_inner()
            .url;
        let options = ExecOptions::from_attach_request(&request).transport(transport);
        let mut session = client::attach(&url, &options).await.unwrap();
        let mut stdout = session.stdout.take().unwrap();
        let mut stdin = session.stdin.take().unwrap();
        let sent = format!("over {transport:?}\n");
        stdin.write_all(sent.as_bytes()).await.unwrap();
        stdin.flush().await.unwrap();
        let mut line = vec![0u8; sent.len()];
        tokio::time::timeout(Duration::from_secs(5), stdout.read_exact(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line, sent.as_bytes(), "{transport}");
    }
}

#[tokio::test]
async fn port_forward_to_the_default_echo_and_to_a_chosen_target() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let target_port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                let _ = tcp.write_all(b"hello from the target\n").await;
            });
        }
    });
    let mut echo = fake(FakeRuntime::new()).await;
    let mut tcp = fake(
        FakeRuntime::builder()
            .port_forward_handler(cri_fake::streaming::TcpPorts([127, 0, 0, 1].into()))
            .build(),
    )
    .await;
    for &transport in TRANSPORTS {
        let request = PortForwardRequest {
            pod_sandbox_id: echo.pod.clone(),
            port: vec![8080],
        };
        let url = echo
            .client
            .port_forward(request)
            .await
            .unwrap()
            .into_inner()
            .url;
        let options = PortForwardOptions::new().transport(transport);
        let forward = client::port_forward(&url, &[8080], &options).await.unwrap();
        let mut conn = forward.connect(8080).await.unwrap();
        conn.write_all(b"echo me").await.unwrap();
        let mut buf = [0u8; 7];
        conn.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"echo me", "{transport}");

        let request = PortForwardRequest {
            pod_sandbox_id: tcp.pod.clone(),
            port: vec![i32::from(target_port)],
        };
        let url = tcp
            .client
            .port_forward(request)
            .await
            .unwrap()
            .into_inner()
            .url;
        let forward = client::port_forward(&url, &[target_port], &options)
            .await
            .unwrap();
        let mut conn = forward.connect(target_port).await.unwrap();
        let mut line = vec![0u8; 22];
        tokio::time::timeout(Duration::from_secs(5), conn.read_exact(&mut line))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(line, b"hello from the target\n", "{transport}");
    }
}

#[tokio::test]
async fn a_token_is_single_use() {
    let mut fake = fake(FakeRuntime::new()).await;
    for &transport in TRANSPORTS {
        let (url, request) = fake.exec_url(&["echo", "once"], false, false).await;
        let options = ExecOptions::from_exec_request(&request).transport(transport);
        let out = client::exec(&url, &options)
            .await
            .unwrap()
            .output(b"")
            .await
            .unwrap();
        assert_eq!(out.stdout, b"once\n");
        match client::exec(&url, &options).await {
            Err(Error::Refused { status: 404, .. }) => {}
            other => panic!("{transport}: a used token: {other:?}"),
        }
    }
}
