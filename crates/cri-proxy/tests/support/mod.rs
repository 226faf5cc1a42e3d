//! What the tests share: a fake runtime, a proxy in front of it, clients.
#![allow(dead_code)]

pub mod crictl;

use std::path::{Path, PathBuf};
use std::time::Duration;

use cri_api_v1::image_service_client::ImageServiceClient;
use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use cri_proxy::{GrpcService, ProxyBuilder};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::Channel;

/// A proxy served on a socket in the test's directory.
pub struct Proxy {
    pub path: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    pub task: JoinHandle<std::io::Result<()>>,
}

impl Proxy {
    pub fn endpoint(&self) -> String {
        format!("unix://{}", self.path.display())
    }

    /// Sends the shutdown signal (as SIGTERM does) and waits for the server to finish.
    pub async fn stop(mut self) -> std::io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("the proxy stops within 20 s")
            .expect("the proxy's task")
    }
}

/// Serves `stack` on `dir/proxy.sock` with a grace period of `grace`.
pub async fn serve(dir: &Path, stack: GrpcService, grace: Duration) -> Proxy {
    let path = dir.join("proxy.sock");
    let (stop, stopped) = oneshot::channel::<()>();
    let (ready, listening) = oneshot::channel::<()>();
    let task = tokio::spawn({
        let path = path.clone();
        async move {
            cri_proxy::serve_unix(
                stack,
                &path,
                async {
                    let _ = stopped.await;
                },
                grace,
                move || {
                    let _ = ready.send(());
                },
            )
            .await
        }
    });
    tokio::time::timeout(Duration::from_secs(10), listening)
        .await
        .expect("the proxy listens within 10 s")
        .expect("the proxy started");
    Proxy {
        path,
        stop: Some(stop),
        task,
    }
}

/// A proxy in front of `runtime_endpoint`, configured by `configure`.
pub async fn proxy(
    dir: &Path,
    runtime_endpoint: &str,
    configure: impl FnOnce(ProxyBuilder) -> ProxyBuilder,
) -> Proxy {
    let stack = configure(ProxyBuilder::new(runtime_endpoint))
        .build()
        .expect("the stack builds");
    serve(dir, stack, Duration::from_secs(5)).await
}

/// A channel to the Unix socket at `path`.
pub async fn channel(path: &Path) -> Channel {
    cri_proxy::forward::channel(path.to_path_buf())
}

pub async fn runtime_client(path: &Path) -> RuntimeServiceClient<Channel> {
    RuntimeServiceClient::new(channel(path).await).max_decoding_message_size(64 << 20)
}

pub async fn image_client(path: &Path) -> ImageServiceClient<Channel> {
    ImageServiceClient::new(channel(path).await).max_decoding_message_size(64 << 20)
}
