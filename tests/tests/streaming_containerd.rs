//! The streaming client against containerd 1.6's streaming server (upstream's Go
//! implementation): exec (stdout, stderr, stdin, TTY with resize, exit codes), attach and
//! port forward, over WebSocket and over SPDY/3.1.

use std::time::Duration;

use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_api_v1::*;
use cri_streaming::client::{self, ExecOptions, PortForwardOptions, Transport};
use cri_tests::containerd::{Containerd, IMAGE, host_network_pod};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tonic::transport::Channel;

const TRANSPORTS: [Transport; 2] = [Transport::WebSocket, Transport::Spdy];

struct Pod {
    rt: RuntimeServiceClient<Channel>,
    pod: String,
    config: PodSandboxConfig,
}

impl Pod {
    async fn start(containerd: &Containerd) -> Pod {
        let mut rt = RuntimeServiceClient::new(containerd.channel().await);
        std::fs::create_dir_all(containerd.log_dir()).unwrap();
        let config = host_network_pod("cri-streaming", "uid-streaming", &containerd.log_dir());
        let pod = rt
            .run_pod_sandbox(RunPodSandboxRequest {
                config: Some(config.clone()),
                runtime_handler: String::new(),
            })
            .await
            .unwrap()
            .into_inner()
            .pod_sandbox_id;
        Pod { rt, pod, config }
    }

    async fn container(&mut self, name: &str, command: &[&str], stdin: bool) -> String {
        let id = self
            .rt
            .create_container(CreateContainerRequest {
                pod_sandbox_id: self.pod.clone(),
                config: Some(ContainerConfig {
                    metadata: Some(ContainerMetadata {
                        name: name.into(),
                        attempt: 0,
                    }),
                    image: Some(ImageSpec {
                        image: IMAGE.into(),
                        ..Default::default()
                    }),
                    command: command.iter().map(|s| s.to_string()).collect(),
                    stdin,
                    log_path: format!("{name}.log"),
                    ..Default::default()
                }),
                sandbox_config: Some(self.config.clone()),
            })
            .await
            .unwrap()
            .into_inner()
            .container_id;
        self.rt
            .start_container(StartContainerRequest {
                container_id: id.clone(),
            })
            .await
            .unwrap();
        id
    }

    async fn exec(
        &mut self,
        ctr: &str,
        cmd: &[&str],
        stdin: bool,
        tty: bool,
        transport: Transport,
    ) -> client::ExecSession {
        let request = ExecRequest {
            container_id: ctr.into(),
            cmd: cmd.iter().map(|s| s.to_string()).collect(),
            stdin,
            stdout: true,
            stderr: !tty,
            tty,
        };
        let url = self
            .rt
            .exec(request.clone())
            .await
            .unwrap()
            .into_inner()
            .url;
        let options = ExecOptions::from_exec_request(&request).transport(transport);
        let session = client::exec(&url, &options).await.unwrap();
        assert_eq!(session.transport(), transport);
        session
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_attach_and_port_forward_against_containerd() {
    let containerd = Containerd::start();
    let mut pod = Pod::start(&containerd).await;
    let app = pod.container("app", &["/bin/sleep", "3600"], false).await;
    // The main process of this one answers each line it reads on stdin.
    let echo = pod
        .container(
            "echo",
            &["sh", "-c", "while read line; do echo \"got $line\"; done"],
            true,
        )
        .await;
    let port = free_port();
    let port_arg = port.to_string();
    let _server = pod
        .container(
            "server",
            &["busybox", "nc", "-ll", "-p", &port_arg, "-e", "/bin/cat"],
            false,
        )
        .await;

    for transport in TRANSPORTS {
        // A broken transport must fail the test, not hang it (upstream's server keeps a
        // connection whose streams never all arrived open for its idle timeout).
        tokio::time::timeout(
            Duration::from_secs(120),
            scenario(&mut pod, transport, &app, &echo, port),
        )
        .await
        .unwrap_or_else(|_| panic!("{transport}: the scenario did not finish in 2 minutes"));
    }
}

async fn scenario(pod: &mut Pod, transport: Transport, app: &str, echo: &str, port: u16) {
    {
        // stdout, stderr and a non-zero exit code.
        let out = pod
            .exec(
                app,
                &["sh", "-c", "echo out; echo err >&2; exit 3"],
                false,
                false,
                transport,
            )
            .await
            .output(b"")
            .await
            .unwrap();
        assert_eq!(
            (&out.stdout[..], &out.stderr[..], out.exit_code),
            (&b"out\n"[..], &b"err\n"[..], 3),
            "{transport}"
        );
        let session = pod.exec(app, &["true"], false, false, transport).await;
        // Over WebSocket one handshake offers v5 and v4: containerd 1.6 stops at v4 (and
        // SPDY, which closes stdin in every version, at v4 too).
        assert_eq!(session.protocol(), "v4.channel.k8s.io", "{transport}");
        assert_eq!(session.closes_stdin(), transport == Transport::Spdy);
        assert_eq!(session.wait().await.unwrap(), 0, "{transport}");
        let session = pod
            .exec(app, &["sh", "-c", "exit 42"], false, false, transport)
            .await;
        assert_eq!(session.wait().await.unwrap(), 42, "{transport}");

        // stdin (the command reads one line: over WebSocket v4 stdin cannot be closed).
        let out = pod
            .exec(
                app,
                &["sh", "-c", "read line; echo \"read $line\""],
                true,
                false,
                transport,
            )
            .await
            .output(b"a line\n")
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "read a line\n",
            "{transport}"
        );

        // A terminal, resized before the command asks for its size.
        let mut session = pod
            .exec(
                app,
                &["sh", "-c", "sleep 1; busybox stty size; exit 5"],
                true,
                true,
                transport,
            )
            .await;
        assert!(session.stderr.is_none());
        session
            .resizer()
            .expect("resizable")
            .resize(100, 40)
            .await
            .unwrap();
        let mut stdout = session.stdout.take().unwrap();
        let mut text = String::new();
        stdout.read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "40 100\r\n", "{transport}");
        assert_eq!(session.wait().await.unwrap(), 5, "{transport}");

        // Attach to the running main process.
        let request = AttachRequest {
            container_id: echo.to_string(),
            stdin: true,
            stdout: true,
            stderr: true,
            tty: false,
        };
        let url = pod
            .rt
            .attach(request.clone())
            .await
            .unwrap()
            .into_inner()
            .url;
        let options = ExecOptions::from_attach_request(&request).transport(transport);
        let mut session = client::attach(&url, &options).await.unwrap();
        let mut stdin = session.stdin.take().unwrap();
        let mut stdout = BufReader::new(session.stdout.take().unwrap());
        stdin
            .write_all(format!("hello over {transport}\n").as_bytes())
            .await
            .unwrap();
        let mut line = String::new();
        tokio::time::timeout(Duration::from_secs(10), stdout.read_line(&mut line))
            .await
            .expect("the attached process answers")
            .unwrap();
        assert_eq!(line, format!("got hello over {transport}\n"));
        drop((stdin, stdout, session));

        // Port forward to the listener in the (host-network) pod, both ways.
        let url = pod
            .rt
            .port_forward(PortForwardRequest {
                pod_sandbox_id: pod.pod.clone(),
                port: vec![i32::from(port)],
            })
            .await
            .unwrap()
            .into_inner()
            .url;
        let options = PortForwardOptions::new().transport(transport);
        let forward = client::port_forward(&url, &[port], &options).await.unwrap();
        assert_eq!(forward.transport(), transport);
        let mut conn = forward.connect(port).await.unwrap();
        let payload: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
        let (mut r, mut w) = tokio::io::split(&mut conn);
        let write = async {
            w.write_all(&payload).await.unwrap();
        };
        let read = async {
            let mut got = vec![0u8; payload.len()];
            r.read_exact(&mut got).await.unwrap();
            got
        };
        let ((), got) =
            tokio::time::timeout(Duration::from_secs(20), async { tokio::join!(write, read) })
                .await
                .expect("the forwarded echo answers");
        assert!(got == payload, "{transport}: the echo differs");
    }
}
