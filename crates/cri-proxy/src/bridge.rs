//! `--bridge-streaming`: the `Stream*` list RPCs (Kubernetes 1.36, feature gate
//! `CRIListStreaming`) served over the unary lists of a runtime that lacks them (containerd
//! 1.6 and 1.7, CRI-O before 1.36).
//!
//! A call of `StreamContainers` (`StreamPodSandboxes`, `StreamContainerStats`,
//! `StreamPodSandboxStats`, `StreamPodSandboxMetrics`, `StreamImages`) becomes one call of
//! `ListContainers` (…) with the same filter, metadata and deadline, sent down the stack; its
//! items come back as a stream of pages of at most [`PAGE_SIZE`] items, then `OK`. A failed
//! list ends the stream with the runtime's status. Every other call passes untouched.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use prost::Message;
use tonic::{Code, Status};
use tower::{Layer, Service, ServiceExt};

use cri_api_v1 as v1;

use crate::grpc::{self, Body, GrpcRequest, GrpcResponse, GrpcService};

/// The most items in one streamed page.
pub const PAGE_SIZE: usize = 100;

/// The layer serving `Stream*` over the unary lists.
#[derive(Debug, Clone, Copy, Default)]
pub struct BridgeLayer;

impl Layer<GrpcService> for BridgeLayer {
    type Service = Bridge;
    fn layer(&self, inner: GrpcService) -> Bridge {
        Bridge { inner }
    }
}

/// The service [`BridgeLayer`] makes.
#[derive(Clone)]
pub struct Bridge {
    inner: GrpcService,
}

impl std::fmt::Debug for Bridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bridge").finish_non_exhaustive()
    }
}

type BoxFuture = Pin<Box<dyn Future<Output = Result<GrpcResponse, Infallible>> + Send>>;

impl Service<GrpcRequest> for Bridge {
    type Response = GrpcResponse;
    type Error = Infallible;
    type Future = BoxFuture;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: GrpcRequest) -> BoxFuture {
        let inner = self.inner.clone();
        const R: &str = "/runtime.v1.RuntimeService/";
        const I: &str = "/runtime.v1.ImageService/";
        let path = request.uri().path().to_string();
        let Some((service, rpc)) = path
            .strip_prefix(R)
            .map(|r| (R, r))
            .or_else(|| path.strip_prefix(I).map(|r| (I, r)))
        else {
            return Box::pin(inner.oneshot(request));
        };
        match (service, rpc) {
            (R, "StreamPodSandboxes") => Box::pin(bridge(
                inner,
                request,
                "/runtime.v1.RuntimeService/ListPodSandbox",
                |r: v1::StreamPodSandboxesRequest| v1::ListPodSandboxRequest { filter: r.filter },
                |r: v1::ListPodSandboxResponse| r.items,
                |items| v1::StreamPodSandboxesResponse {
                    pod_sandboxes: items,
                },
            )),
            (R, "StreamContainers") => Box::pin(bridge(
                inner,
                request,
                "/runtime.v1.RuntimeService/ListContainers",
                |r: v1::StreamContainersRequest| v1::ListContainersRequest { filter: r.filter },
                |r: v1::ListContainersResponse| r.containers,
                |items| v1::StreamContainersResponse { containers: items },
            )),
            (R, "StreamContainerStats") => Box::pin(bridge(
                inner,
                request,
                "/runtime.v1.RuntimeService/ListContainerStats",
                |r: v1::StreamContainerStatsRequest| v1::ListContainerStatsRequest {
                    filter: r.filter,
                },
                |r: v1::ListContainerStatsResponse| r.stats,
                |items| v1::StreamContainerStatsResponse {
                    container_stats: items,
                },
            )),
            (R, "StreamPodSandboxStats") => Box::pin(bridge(
                inner,
                request,
                "/runtime.v1.RuntimeService/ListPodSandboxStats",
                |r: v1::StreamPodSandboxStatsRequest| v1::ListPodSandboxStatsRequest {
                    filter: r.filter,
                },
                |r: v1::ListPodSandboxStatsResponse| r.stats,
                |items| v1::StreamPodSandboxStatsResponse {
                    pod_sandbox_stats: items,
                },
            )),
            (R, "StreamPodSandboxMetrics") => Box::pin(bridge(
                inner,
                request,
                "/runtime.v1.RuntimeService/ListPodSandboxMetrics",
                |_: v1::StreamPodSandboxMetricsRequest| v1::ListPodSandboxMetricsRequest {},
                |r: v1::ListPodSandboxMetricsResponse| r.pod_metrics,
                |items| v1::StreamPodSandboxMetricsResponse {
                    pod_sandbox_metrics: items,
                },
            )),
            (I, "StreamImages") => Box::pin(bridge(
                inner,
                request,
                "/runtime.v1.ImageService/ListImages",
                |r: v1::StreamImagesRequest| v1::ListImagesRequest { filter: r.filter },
                |r: v1::ListImagesResponse| r.images,
                |items| v1::StreamImagesResponse { images: items },
            )),
            _ => Box::pin(inner.oneshot(request)),
        }
    }
}

async fn bridge<StreamRequest, ListRequest, ListResponse, Item, Page>(
    mut inner: GrpcService,
    request: GrpcRequest,
    list_path: &'static str,
    to_list: fn(StreamRequest) -> ListRequest,
    items: fn(ListResponse) -> Vec<Item>,
    page: fn(Vec<Item>) -> Page,
) -> Result<GrpcResponse, Infallible>
where
    StreamRequest: Message + Default,
    ListRequest: Message,
    ListResponse: Message + Default,
    Page: Message,
{
    let result = async {
        let (mut parts, body) = request.into_parts();
        let message = grpc::read_message(body).await?;
        let stream_request = StreamRequest::decode(message).map_err(|e| {
            Status::invalid_argument(format!("cri-proxy: an undecodable request: {e}"))
        })?;
        let mut uri = parts.uri.clone().into_parts();
        uri.path_and_query = Some(http::uri::PathAndQuery::from_static(list_path));
        parts.uri =
            http::Uri::from_parts(uri).map_err(|e| Status::internal(format!("cri-proxy: {e}")))?;
        let list_request = grpc::with_message(parts, &to_list(stream_request).encode_to_vec());
        let (head, bytes) = grpc::unary(&mut inner, list_request).await?;
        let list = ListResponse::decode(bytes).map_err(|e| {
            Status::internal(format!(
                "cri-proxy: an undecodable list from the runtime: {e}"
            ))
        })?;
        let mut frames = VecDeque::new();
        let mut all = items(list).into_iter().peekable();
        while all.peek().is_some() {
            let chunk: Vec<Item> = all.by_ref().take(PAGE_SIZE).collect();
            frames.push_back(Frame::data(grpc::frame(&page(chunk).encode_to_vec())));
        }
        frames.push_back(Frame::trailers(grpc::status_trailers(Code::Ok, "")));
        let mut response = http::Response::new(Body::new(Frames(frames)));
        *response.headers_mut() = head.headers;
        Ok::<_, Status>(response)
    }
    .await;
    Ok(result.unwrap_or_else(grpc::status_response))
}

/// A body of frames known in advance.
struct Frames(VecDeque<Frame<Bytes>>);

impl http_body::Body for Frames {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        Poll::Ready(self.0.pop_front().map(Ok))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_empty()
    }
}
