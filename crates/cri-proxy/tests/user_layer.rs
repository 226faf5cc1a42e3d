//! A layer of the user's in the stack: a policy refusing privileged containers, as in the
//! crate docs; what it refuses never reaches the runtime, and the metrics still count it.

mod support;

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use cri_api_v1 as v1;
use cri_proxy::GrpcService;
use cri_proxy::grpc::{self, GrpcRequest, GrpcResponse};
use prost::Message;
use tonic::Code;
use tower::{Layer, Service, ServiceExt};

#[derive(Clone)]
struct NoPrivileged(GrpcService);

impl Service<GrpcRequest> for NoPrivileged {
    type Response = GrpcResponse;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<GrpcResponse, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: GrpcRequest) -> Self::Future {
        let inner = self.0.clone();
        Box::pin(async move {
            if request.uri().path() != "/runtime.v1.RuntimeService/CreateContainer" {
                return inner.oneshot(request).await;
            }
            let (parts, body) = request.into_parts();
            let bytes = match grpc::read_message(body).await {
                Ok(bytes) => bytes,
                Err(status) => return Ok(grpc::status_response(status)),
            };
            let privileged = v1::CreateContainerRequest::decode(bytes.clone())
                .ok()
                .and_then(|r| r.config?.linux?.security_context)
                .is_some_and(|s| s.privileged);
            if privileged {
                return Ok(grpc::status_response(tonic::Status::permission_denied(
                    "privileged containers are refused here",
                )));
            }
            inner.oneshot(grpc::with_message(parts, &bytes)).await
        })
    }
}

struct NoPrivilegedLayer;
impl Layer<GrpcService> for NoPrivilegedLayer {
    type Service = NoPrivileged;
    fn layer(&self, inner: GrpcService) -> NoPrivileged {
        NoPrivileged(inner)
    }
}

fn create(pod: &str, privileged: bool) -> v1::CreateContainerRequest {
    v1::CreateContainerRequest {
        pod_sandbox_id: pod.into(),
        config: Some(v1::ContainerConfig {
            metadata: Some(v1::ContainerMetadata {
                name: format!("c-{privileged}"),
                attempt: 0,
            }),
            image: Some(v1::ImageSpec {
                image: "busybox".into(),
                ..Default::default()
            }),
            linux: Some(v1::LinuxContainerConfig {
                security_context: Some(v1::LinuxContainerSecurityContext {
                    privileged,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        sandbox_config: None,
    }
}

#[tokio::test]
async fn a_policy_layer_refuses_privileged_containers() {
    let dir = tempfile::tempdir().unwrap();
    let fake = cri_fake::FakeRuntime::new();
    fake.seed(1, 0);
    fake.add_image("busybox", 4 << 20, false);
    let server = fake.serve_unix(dir.path().join("fake.sock")).await.unwrap();
    let registry = Arc::new(cri_proxy::metrics::Registry::default());
    let proxy = support::proxy(dir.path(), &server.endpoint(), |b| {
        b.layer(NoPrivilegedLayer).metrics(registry.clone())
    })
    .await;
    let mut runtime = support::runtime_client(&proxy.path).await;
    let pod = runtime
        .list_pod_sandbox(v1::ListPodSandboxRequest::default())
        .await
        .unwrap()
        .into_inner()
        .items[0]
        .id
        .clone();

    let refused = runtime
        .create_container(create(&pod, true))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::PermissionDenied);
    assert_eq!(fake.container_count(), 0, "the runtime never saw it");

    runtime.create_container(create(&pod, false)).await.unwrap();
    assert_eq!(fake.container_count(), 1);

    let snapshot = registry.snapshot();
    assert_eq!(
        (
            snapshot["create_container"].total,
            snapshot["create_container"].errors
        ),
        (2, 1)
    );
    proxy.stop().await.unwrap();
    server.shutdown().await.unwrap();
}
