//! Serving the stack on a Unix socket (to every gRPC client, C-core's included), and stopping
//! without cutting calls in flight.

use std::convert::Infallible;
use std::future::Future;
use std::path::Path;
use std::task::{Context, Poll};
use std::time::Duration;

use cri_api_v1::unix_server::UnixIncoming;
use tower::Service;

use crate::grpc::{GrpcRequest, GrpcResponse, GrpcService};

macro_rules! named {
    ($($(#[$doc:meta])* $type:ident $name:literal;)*) => {$(
        $(#[$doc])*
        #[derive(Clone)]
        struct $type(GrpcService);

        impl tonic::server::NamedService for $type {
            const NAME: &'static str = $name;
        }

        impl Service<GrpcRequest> for $type {
            type Response = GrpcResponse;
            type Error = Infallible;
            type Future = <GrpcService as Service<GrpcRequest>>::Future;

            fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
                self.0.poll_ready(cx)
            }

            fn call(&mut self, request: GrpcRequest) -> Self::Future {
                self.0.call(request)
            }
        }
    )*};
}

named! {
    /// `runtime.v1.RuntimeService` into the stack.
    RuntimeV1 "runtime.v1.RuntimeService";
    /// `runtime.v1.ImageService` into the stack.
    ImageV1 "runtime.v1.ImageService";
    /// `runtime.v1alpha2.RuntimeService` into the stack (passed through as it is).
    RuntimeV1alpha2 "runtime.v1alpha2.RuntimeService";
    /// `runtime.v1alpha2.ImageService` into the stack.
    ImageV1alpha2 "runtime.v1alpha2.ImageService";
}

/// Serves `service` on the Unix socket `path` until `shutdown` completes, then lets the
/// calls in flight finish for up to `grace` before closing the connections, and removes the
/// socket. `listening` is called once the socket accepts connections. A stale socket file nobody listens on is replaced; a live one is an error.
pub async fn serve_unix(
    service: GrpcService,
    path: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
    grace: Duration,
    listening: impl FnOnce(),
) -> std::io::Result<()> {
    if path.exists() {
        if tokio::net::UnixStream::connect(path).await.is_ok() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::AddrInUse,
                format!("{} is served by another process", path.display()),
            ));
        }
        std::fs::remove_file(path)?;
    }
    let incoming = UnixIncoming::bind(path)?;
    listening();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let mut server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(RuntimeV1(service.clone()))
            .add_service(ImageV1(service.clone()))
            .add_service(RuntimeV1alpha2(service.clone()))
            .add_service(ImageV1alpha2(service))
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stopped.await;
            }),
    );
    let result = tokio::select! {
        result = &mut server => Some(result),
        () = shutdown => None,
    };
    let result = match result {
        Some(result) => result,
        None => {
            let _ = stop.send(());
            match tokio::time::timeout(grace, &mut server).await {
                Ok(result) => result,
                Err(_) => {
                    server.abort();
                    Ok(Ok(()))
                }
            }
        }
    };
    let _ = std::fs::remove_file(path);
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(std::io::Error::other(e)),
        Err(e) => Err(std::io::Error::other(e)),
    }
}
