//! Raw tonic clients of the runtime, for the specs that need what [`cri_client::Client`]
//! decides for its users: a deadline of their own on every call (`PullImage` included), the
//! `Stream*` RPCs without fallback.

use anyhow::{Context as _, bail};
use cri_api_v1::image_service_client::ImageServiceClient;
use cri_api_v1::runtime_service_client::RuntimeServiceClient;
use hyper_util::rt::TokioIo;
use tonic::transport::{Channel, Endpoint};

const LIMIT: usize = 16 * 1024 * 1024;

/// Dials `endpoint` (`unix:///path`, `unix:path`, `tcp://host:port`, `host:port`).
pub async fn channel(endpoint: &str) -> anyhow::Result<Channel> {
    if let Some(path) = endpoint
        .strip_prefix("unix://")
        .or_else(|| endpoint.strip_prefix("unix:"))
    {
        let path = path.to_owned();
        if path.is_empty() {
            bail!("endpoint {endpoint:?} names no socket");
        }
        return Endpoint::try_from("http://localhost")?
            .connect_with_connector(tower::service_fn(move |_| {
                let path = path.clone();
                async move {
                    let stream = tokio::net::UnixStream::connect(path).await?;
                    Ok::<_, std::io::Error>(TokioIo::new(stream))
                }
            }))
            .await
            .with_context(|| format!("dialling {endpoint}"));
    }
    let address = endpoint.strip_prefix("tcp://").unwrap_or(endpoint);
    Endpoint::from_shared(format!("http://{address}"))
        .with_context(|| format!("endpoint {endpoint:?}"))?
        .connect()
        .await
        .with_context(|| format!("dialling {endpoint}"))
}

/// A raw `RuntimeService` client with the kubelet's 16 MiB limits.
pub fn runtime(channel: Channel) -> RuntimeServiceClient<Channel> {
    RuntimeServiceClient::new(channel)
        .max_decoding_message_size(LIMIT)
        .max_encoding_message_size(LIMIT)
}

/// A raw `ImageService` client with the kubelet's 16 MiB limits.
pub fn image(channel: Channel) -> ImageServiceClient<Channel> {
    ImageServiceClient::new(channel)
        .max_decoding_message_size(LIMIT)
        .max_encoding_message_size(LIMIT)
}
