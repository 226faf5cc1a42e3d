//! The replay as a gRPC server on a Unix socket: both services of `runtime.v1`, every call
//! answered from the recording.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::{BufMut, Bytes, BytesMut};
use http_body::Frame;
use http_body_util::BodyExt;
use tonic::Status;
use tonic::body::Body;

use super::{Replay, Reply};
use crate::ServerHandle;

type BoxFuture = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

macro_rules! named {
    ($($type:ident $name:literal;)*) => {$(
        #[derive(Clone)]
        struct $type(Arc<Replay>);

        impl tonic::server::NamedService for $type {
            const NAME: &'static str = $name;
        }

        impl tower::Service<http::Request<Body>> for $type {
            type Response = http::Response<Body>;
            type Error = Infallible;
            type Future = BoxFuture;

            fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                Poll::Ready(Ok(()))
            }

            fn call(&mut self, request: http::Request<Body>) -> BoxFuture {
                Box::pin(answer(self.0.clone(), request))
            }
        }
    )*};
}

named! {
    RuntimeV1 "runtime.v1.RuntimeService";
    ImageV1 "runtime.v1.ImageService";
}

fn frame(message: &[u8]) -> Bytes {
    let mut out = BytesMut::with_capacity(5 + message.len());
    out.put_u8(0);
    out.put_u32(message.len() as u32);
    out.put_slice(message);
    out.freeze()
}

async fn answer(
    replay: Arc<Replay>,
    request: http::Request<Body>,
) -> Result<http::Response<Body>, Infallible> {
    let method = request
        .uri()
        .path()
        .trim_start_matches("/runtime.v1.")
        .to_string();
    let bytes = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(status) => return Ok(status.into_http()),
    };
    if bytes.len() < 5 || bytes[0] != 0 {
        return Ok(Status::invalid_argument(
            "cri-fake --replay: a request that is not one uncompressed message",
        )
        .into_http());
    }
    let reply = replay.answer(&method, &bytes[5..]);
    let messages = match reply {
        Reply::Failed(status) => return Ok(status.into_http()),
        Reply::Messages(messages) => messages,
    };
    let mut frames: VecDeque<Frame<Bytes>> =
        messages.iter().map(|m| Frame::data(frame(m))).collect();
    let mut trailers = http::HeaderMap::new();
    trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
    frames.push_back(Frame::trailers(trailers));
    let mut response = http::Response::new(Body::new(Frames(frames)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/grpc"),
    );
    Ok(response)
}

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

/// Serves `replay` on the Unix socket `path` (to every gRPC client, C-core's included) until
/// the handle is shut down.
pub async fn serve_unix(replay: Replay, path: impl AsRef<Path>) -> std::io::Result<ServerHandle> {
    let replay = Arc::new(replay);
    let router = tonic::transport::Server::builder()
        .add_service(RuntimeV1(replay.clone()))
        .add_service(ImageV1(replay));
    crate::serve::serve_router(router, path.as_ref()).await
}
