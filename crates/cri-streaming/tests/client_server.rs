//! The server against the project's client, over each transport.

mod common;

use std::time::Duration;

use common::{TestRuntime, exec_request};
use cri_streaming::client::{self, ExecOptions, PortForwardOptions, Transport};
use cri_streaming::server::{Config, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TRANSPORTS: [Transport; 2] = [Transport::WebSocket, Transport::Spdy];

async fn server() -> Server {
    Server::start(Config::default(), TestRuntime).await.unwrap()
}

fn opts(request: &cri_api_v1::ExecRequest, transport: Transport) -> ExecOptions {
    ExecOptions::from_exec_request(request).transport(transport)
}

#[tokio::test]
async fn exec_stdout_stderr_and_exit_codes() {
    let server = server().await;
    for t in TRANSPORTS {
        let request = exec_request(&["echo", "hello", "world"]);
        let url = server.get_exec(&request).unwrap().url;
        assert!(
            url.starts_with(&format!("http://{}/exec/", server.local_addr())),
            "{url}"
        );
        let session = client::exec(&url, &opts(&request, t)).await.unwrap();
        assert_eq!(
            session.protocol(),
            match t {
                Transport::Spdy => "v4.channel.k8s.io",
                _ => "v5.channel.k8s.io",
            }
        );
        assert_eq!(session.transport(), t);
        let out = session.output(b"").await.unwrap();
        assert_eq!(out.stdout, b"hello world\n");
        assert_eq!(out.exit_code, 0);

        let request = exec_request(&["err", "to stderr"]);
        let url = server.get_exec(&request).unwrap().url;
        let out = client::exec(&url, &opts(&request, t))
            .await
            .unwrap()
            .output(b"")
            .await
            .unwrap();
        assert_eq!(
            (out.stdout.as_slice(), out.stderr.as_slice()),
            (&b""[..], &b"to stderr"[..])
        );

        for code in [1, 3, 127, 255] {
            let request = exec_request(&["exit", &code.to_string()]);
            let url = server.get_exec(&request).unwrap().url;
            let session = client::exec(&url, &opts(&request, t)).await.unwrap();
            assert_eq!(session.wait().await.unwrap(), code);
        }

        let request = exec_request(&["nonexistent"]);
        let url = server.get_exec(&request).unwrap().url;
        let out = client::exec(&url, &opts(&request, t))
            .await
            .unwrap()
            .output(b"")
            .await
            .unwrap();
        assert_eq!(out.exit_code, 127);
        assert_eq!(out.stderr, b"nonexistent: not found\n");

        // A runtime failure is not an exit code.
        let request = exec_request(&["fail"]);
        let url = server.get_exec(&request).unwrap().url;
        let error = client::exec(&url, &opts(&request, t))
            .await
            .unwrap()
            .wait()
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("the runtime could not start it"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn exec_stdin_is_closed_over_v5() {
    let server = server().await;
    for t in TRANSPORTS {
        let mut request = exec_request(&["cat"]);
        request.stdin = true;
        let url = server.get_exec(&request).unwrap().url;
        let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        let out = client::exec(&url, &opts(&request, t))
            .await
            .unwrap()
            .output(&data)
            .await
            .unwrap();
        assert_eq!(out.stdout.len(), data.len());
        assert!(out.stdout == data);
        assert_eq!(out.exit_code, 0);
    }
}

#[tokio::test]
async fn tty_resize_reaches_the_runtime() {
    let server = server().await;
    for t in TRANSPORTS {
        let mut request = exec_request(&["size", "2"]);
        request.tty = true;
        request.stderr = false;
        let url = server.get_exec(&request).unwrap().url;
        let mut session = client::exec(&url, &opts(&request, t)).await.unwrap();
        assert!(session.stderr.is_none());
        let resizer = session.resizer().expect("a TTY session can resize");
        resizer.resize(80, 24).await.unwrap();
        resizer.resize(132, 43).await.unwrap();
        let mut stdout = session.stdout.take().unwrap();
        let mut text = String::new();
        stdout.read_to_string(&mut text).await.unwrap();
        assert_eq!(text, "80x24\n132x43\n");
        assert_eq!(session.wait().await.unwrap(), 0);
    }
}

#[tokio::test]
async fn attach() {
    let server = server().await;
    for t in TRANSPORTS {
        let request = cri_api_v1::AttachRequest {
            container_id: "c9".into(),
            stdin: true,
            stdout: true,
            ..Default::default()
        };
        let url = server.get_attach(&request).unwrap().url;
        assert!(url.contains("/attach/"));
        let options = ExecOptions::from_attach_request(&request).transport(t);
        let out = client::attach(&url, &options)
            .await
            .unwrap()
            .output(b"typed\n")
            .await
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "attached to c9\ntyped\n"
        );
    }
}

#[tokio::test]
async fn port_forward_carries_data_both_ways() {
    let server = server().await;
    for t in TRANSPORTS {
        let request = cri_api_v1::PortForwardRequest {
            pod_sandbox_id: "p1".into(),
            port: vec![8080, 1],
        };
        let url = server.get_port_forward(&request).unwrap().url;
        let forward =
            client::port_forward(&url, &[8080, 1], &PortForwardOptions::new().transport(t))
                .await
                .unwrap();
        let mut conn = forward.connect(8080).await.unwrap();
        let data: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
        let (mut r, mut w) = tokio::io::split(&mut conn);
        let write = async {
            w.write_all(&data).await.unwrap();
        };
        let read = async {
            let mut got = vec![0u8; data.len()];
            r.read_exact(&mut got).await.unwrap();
            got
        };
        let ((), got) = tokio::join!(write, read);
        assert!(got == data);
        // Over SPDY, and over SPDY tunneled in the WebSocket (which this server offers, and
        // the client prefers to the channel protocol's one connection per port), a port
        // carries many connections.
        assert!(forward.multiplexed(), "{t}");
        let mut again = forward.connect(8080).await.unwrap();
        again.write_all(b"again").await.unwrap();
        let mut buf = [0u8; 5];
        again.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"again");
        // Port 1 fails in the runtime: its error reaches the client.
        let mut failing = forward.connect(1).await.unwrap();
        let mut buf = Vec::new();
        let error = tokio::time::timeout(Duration::from_secs(5), failing.read_to_end(&mut buf))
            .await
            .expect("the failed port ends")
            .unwrap_err();
        assert!(
            error.to_string().contains("nothing listens on port 1"),
            "{error}"
        );
    }
}

#[tokio::test]
async fn port_forward_through_a_local_listener() {
    let server = server().await;
    for t in TRANSPORTS {
        let request = cri_api_v1::PortForwardRequest {
            pod_sandbox_id: "p1".into(),
            port: vec![80],
        };
        let url = server.get_port_forward(&request).unwrap().url;
        let forward = std::sync::Arc::new(
            client::port_forward(&url, &[80], &PortForwardOptions::new().transport(t))
                .await
                .unwrap(),
        );
        let (addr, _task) = forward
            .listen("127.0.0.1:0".parse().unwrap(), 80)
            .await
            .unwrap();
        let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"ping").await.unwrap();
        let mut buf = [0u8; 4];
        tcp.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ping");
    }
}
